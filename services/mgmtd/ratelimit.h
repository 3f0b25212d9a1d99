/*
 * ratelimit.h: login attempts on the web listener, limited per source
 * address and for the whole appliance, so that the admin password cannot
 * be guessed at network speed (each guess also costs an argon2id hash).
 *
 * Per source: RL_FREE failures are free; each further failure blocks that
 * address for RL_BASE_S seconds, doubled every time up to RL_MAX_S.  A source
 * without a failure for RL_FORGET_S is forgotten; a successful login
 * forgets it at once.  Whole appliance: RL_GLOBAL failures within
 * RL_GLOBAL_WINDOW_S (from many addresses) block every login until the
 * window ends.  The table holds RL_SOURCES addresses; when it is full the
 * one with the oldest failure goes.
 */
#ifndef KG_MGMTD_RATELIMIT_H
#define KG_MGMTD_RATELIMIT_H

#include <time.h>

#define RL_SOURCES		256
#define RL_FREE			5
#define RL_BASE_S		30
#define RL_MAX_S		900
#define RL_FORGET_S		3600
#define RL_GLOBAL		100
#define RL_GLOBAL_WINDOW_S	600

struct rl_source {
	char	addr[48];	/**< "" when the slot is free */
	int	failures;
	time_t	last_failure, blocked_until;
};

struct ratelimit {
	struct rl_source src[RL_SOURCES];
	int		 global_failures;
	time_t		 global_start;
};

enum rl_verdict {
	RL_ALLOW = 0,
	RL_BLOCKED_SOURCE,	/**< this address failed too often */
	RL_BLOCKED_GLOBAL,	/**< the appliance had too many failures */
};

/** \brief Empties the table. */
void ratelimit_init(struct ratelimit *rl);

/**
 * \brief May \p addr try a password at \p now?
 * \param wait_s  when blocked: seconds until it may (at least 1)
 */
enum rl_verdict ratelimit_check(struct ratelimit *rl, const char *addr, time_t now,
    int *wait_s);

/** \brief Counts a failed attempt from \p addr. */
void ratelimit_fail(struct ratelimit *rl, const char *addr, time_t now);

/** \brief A successful login from \p addr: its failures are forgotten. */
void ratelimit_success(struct ratelimit *rl, const char *addr);

#endif
