/*
 * sandbox.h: what a child may do once it is set up.  After its set-up a
 * relay or the keyholder chroots to an empty directory, drops to its user,
 * sets NoNewPrivs and installs a seccomp filter that allows only the
 * system calls its kind needs.  Any other call raises SIGSYS: the child
 * records the call in a page it shares with the parent and dies of it, and
 * the parent logs which child and which call, and replaces it.
 */
#ifndef KG_SANDBOX_H
#define KG_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

enum sandbox_kind {
	SANDBOX_RELAY,
	SANDBOX_KEYHOLDER,
	SANDBOX_TLSKEY,		/**< the TLS key process: no network at all */
};

struct sandbox_opts {
	enum sandbox_kind kind;
	const char	*root;		/**< empty directory to chroot to */
	const char	*user;		/**< unprivileged user, or NULL */
	int		 test_trigger;	/**< TEST ONLY: SIGUSR1 calls openat() */
};

/**
 * Parent, once at start: maps the page where sandboxed children record
 * the call they were killed for.  Returns -1 if it cannot.
 */
int sandbox_init(void);

/**
 * Parent: makes sure @dir exists, is a directory owned by root, mode 0755
 * and empty (creating it, and missing parents, if need be).  Returns 0, or
 * -1 with a reason an admin can act on in @err.
 */
int sandbox_prepare_root(const char *dir, char *err, size_t errlen);

/**
 * Child, at the end of its set-up: chroot (when root), drop to
 * opts->user, NoNewPrivs, the seccomp filter for opts->kind.  Fatal if any
 * step fails: a child must not run unconfined when asked to be confined.
 */
void sandbox_enter(const struct sandbox_opts *opts);

/**
 * The seccomp part alone (with the SIGSYS reporting), for the unit tests.
 * Returns 0 or a negative errno.
 */
int sandbox_load_filter(enum sandbox_kind kind);

/**
 * Parent, for a child that died of SIGSYS: the name of the call it was
 * killed for (the record is consumed).  Returns 0, or -1 if the child left
 * no record (then @name says "unknown").
 */
int sandbox_violation(pid_t pid, char *name, size_t len);

#endif /* KG_SANDBOX_H */
