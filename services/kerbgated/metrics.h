/*
 * Counters every relay worker keeps, in one shared anonymous mapping the
 * parent creates before forking, so that whichever worker serves /metrics
 * can sum them all.  Each worker writes only its own slot (no locks: 64-bit
 * aligned stores; a scrape may see a counter a moment old).
 */
#ifndef KG_METRICS_H
#define KG_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "khproto.h"

#define METRICS_MAX_WORKERS	64
#define METRICS_MAX_SERVERS	64	/**< back-end servers, all pools */
#define METRICS_NBUCKETS	12

/** Why a request was not authenticated, besides the keyholder's reasons. */
enum metrics_relay_reason {
	MR_NO_TOKEN = 0,	/**< no Authorization: 401 challenge */
	MR_BAD_HEADER,		/**< malformed Authorization / base64 */
	MR_NTLM,		/**< client offered NTLM only */
	MR_KEYHOLDER,		/**< keyholder unreachable / timed out */
	MR_MAX
};

struct metrics_worker {
	uint64_t requests;		/**< request heads parsed */
	uint64_t responses[6];		/**< by class: [1]=1xx ... [5]=5xx */
	uint64_t auth_ok;
	uint64_t auth_fail_kh[KH_R_MAX];	/**< by keyholder reason */
	uint64_t auth_fail_relay[MR_MAX];	/**< by relay reason */
	uint64_t conns_open;		/**< client connections now */
	uint64_t conns_total;
	uint64_t bytes_in, bytes_out;
	uint64_t latency_le[METRICS_NBUCKETS];	/**< cumulative at render */
	uint64_t latency_count;
	uint64_t latency_sum_us;
	/* per back-end server, indexed like metrics_shm.s */
	uint64_t backend_requests[METRICS_MAX_SERVERS];
	uint64_t backend_connect_failures[METRICS_MAX_SERVERS];
	uint64_t backend_delegation_failures[METRICS_MAX_SERVERS];
	uint64_t tls_key_failures;	/**< handshakes failed for want of the
					     TLS key process's signature */
	uint64_t auth_rc4;		/**< logins whose ticket was RC4-HMAC */
};

struct metrics_server {
	char	 pool[64];
	char	 name[128];
	uint64_t up;			/**< 1 healthy, 0 not (one worker's view) */
	uint64_t delegation_ok;		/**< kcd: 1 unless the last delegation
					     to it failed (any worker) */
};

struct metrics_shm {
	uint32_t		nworkers;
	uint32_t		nservers;
	struct metrics_worker	w[METRICS_MAX_WORKERS];
	struct metrics_server	s[METRICS_MAX_SERVERS];
};

/** Latency bucket upper bounds in microseconds (the last is +Inf). */
extern const uint64_t metrics_bucket_us[METRICS_NBUCKETS];

/**
 * Maps the shared region (MAP_SHARED | MAP_ANONYMOUS), zeroed.
 * \return the region, or NULL (errno set).
 */
struct metrics_shm *metrics_map(void);

/** Records one request's latency (head received -> response head sent). */
void metrics_observe_latency(struct metrics_worker *w, uint64_t us);

/**
 * Renders every counter in the Prometheus text exposition format
 * (version 0.0.4) into a malloc'ed buffer.
 * \return the length, or KG_ERR_NOMEM.  Free *out with free().
 */
int metrics_render(const struct metrics_shm *m, char **out, size_t *outlen);

#endif /* KG_METRICS_H */
