/*
 * confine.h: what kerbgate-smbpull may do once its configuration, password
 * and TLS key are read.  It drops to its own user, sets NoNewPrivs, limits
 * the file system with Landlock (read: the libraries and /etc; write: its
 * state folder and its credential cache's folder; nothing else, so not
 * /data/mgmt nor the sealed store even if a file there were readable), and
 * installs a seccomp deny-list.
 *
 * Why a deny-list: libsmbclient, GnuTLS and Kerberos use a wide set of
 * system calls that changes with their versions; an allow-list would break
 * on a library update.  The deny-list takes away what an attacker who
 * owns the process would use to get out of it (exec, ptrace, mount and
 * namespaces, module loading, BPF, the kernel keyring, setuid): each fails
 * with EPERM.  No chroot: libsmbclient reads /etc and loads modules late.
 */
#ifndef KG_SMBPULL_CONFINE_H
#define KG_SMBPULL_CONFINE_H

#include <stddef.h>

#define CONFINE_MAX_WRITE_DIRS	4

struct confine_opts {
	const char	*user;		/**< drop to this user (when root), or NULL */
	const char	*write_dirs[CONFINE_MAX_WRITE_DIRS];	/**< NULL-ended */
};

struct confine_result {
	int		 landlock_abi;	/**< the Landlock ABI used, 0: kernel without it */
	char		 landlock_why[128];	/**< when 0: why not */
};

/**
 * \brief Drops to opts->user, NoNewPrivs, Landlock (when the kernel has
 *        it), the seccomp deny-list.
 * \return 0, or -1 with \p err saying which step failed (the caller must
 *         not go on unconfined).
 */
int confine(const struct confine_opts *opts, struct confine_result *res,
    char *err, size_t errlen);

#endif
