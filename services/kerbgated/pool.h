/*
 * Back-end pools at run time: which servers are healthy, how busy each is,
 * which one the next request goes to, and the active health checks that
 * decide it.  Each relay worker keeps its own view (and its own checks):
 * simple, and a worker never waits on another.
 */
#ifndef KG_POOL_H
#define KG_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <ev.h>

#include "conf.h"
#include "metrics.h"

struct upstream;
struct tls_client;
struct health_check;

TAILQ_HEAD(upstream_q, upstream);

struct pool_server {
	const struct conf_server *cs;
	struct pool		*pool;
	int			 healthy;
	unsigned		 ok_streak;	/**< consecutive good checks */
	unsigned		 fail_streak;	/**< consecutive bad checks */
	unsigned		 active;	/**< requests in flight here */
	struct upstream_q	 idle;		/**< reusable connections */
	unsigned		 nidle;
	unsigned		 idx;		/**< across all pools: metrics index */
	struct metrics_server	*ms;		/**< health to publish, or NULL */
	struct health_check	*hc;
};

struct pool {
	const struct conf_pool	*cp;
	struct pool_server	*servers;
	size_t			 n;
	unsigned		 rr;		/**< round-robin cursor */
	struct tls_client	*tls;		/**< back-end TLS, or NULL */
};

/**
 * Builds the run-time pools for a configuration and starts their health
 * checks on loop.  Servers start healthy so that traffic flows at once; a
 * failing server is ejected by its first failed connect or `fall` checks.
 *
 * \param report_health  non-zero in the worker that publishes health in
 *			 the shared metrics
 * \return 0, or KG_ERR_CONFIG with err set (a TLS CA file that won't load).
 */
int pools_init(struct ev_loop *loop, const struct conf *c,
    struct metrics_shm *m, int report_health, struct pool **out,
    char *err, size_t errlen);

/** Stops the health checks and frees the pools (not their idle conns). */
void pools_free(struct pool *pools, size_t n);

/**
 * Picks a healthy server.  With an affinity key (persistence by source
 * address or by user) the same key maps to the same server while it is
 * healthy; otherwise round-robin or least-connections.
 *
 * \param affinity   hash of the persistence key
 * \param has_affinity  0: no persistence for this request
 * \param exclude    bit i set: do not pick server i (it just failed)
 * \return the server's index, or -1 when none is healthy.
 */
int pool_select(struct pool *p, uint64_t affinity, int has_affinity,
    uint64_t exclude);

/**
 * Passive ejection: a real connection to this server failed.  It is taken
 * out of rotation until the health check has seen it good `rise` times.
 */
void pool_server_failed(struct pool_server *s, const char *why);

/** FNV-1a, for affinity keys. */
uint64_t pool_hash(const void *p, size_t n);

#endif /* KG_POOL_H */
