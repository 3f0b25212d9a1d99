/*
 * Relay workers: the processes that face the network.  Each runs one libev
 * loop over the shared listening sockets, terminates TLS, parses HTTP/1.1,
 * asks the keyholder to check Negotiate tokens, picks a back-end, and
 * streams requests and responses both ways.  A relay holds no long-term
 * key: it sees tokens and verdicts, never the ASA's keys, a pool's header
 * secret or the cookie key; to sign a user's identity it holds that login's
 * grants (khproto.h), which end with the login; it asks the TLS key process
 * (tlskey.h) for the signatures of its handshakes.
 */
#ifndef KG_RELAY_H
#define KG_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "metrics.h"

struct tls_server;

/** What the parent hands a relay worker when it forks it. */
struct relay_env {
	struct conf		*conf;
	unsigned		 worker;	/**< metrics slot */
	unsigned		 nworkers;	/**< relays in this generation */
	int			 kh_fd;		/**< socketpair to the keyholder */
	int			 ctl_fd;	/**< socketpair to the parent */
	int			 tlskey_fd;	/**< socketpair to the TLS key
						     process, or -1 (no TLS) */
	const int		*listen_fds;	/**< parallel to conf->listeners */
	int			 admin_fd;	/**< /metrics listener, or -1 */
	struct tls_server	*tls;		/**< VIP certificates, or NULL */
	struct metrics_shm	*metrics;
	const struct sandbox_opts *sandbox;	/**< entered after set-up, or
						     NULL (sandbox.h) */
};

/** Parent -> relay control messages (ipc frames on ctl_fd). */
#define RELAY_CTL_DRAIN	1	/**< stop accepting, exit when idle */

/**
 * Runs a relay worker until it is told to drain and its last connection
 * ends.  Never returns.
 */
void relay_main(struct relay_env *env) __attribute__((noreturn));

#endif /* KG_RELAY_H */
