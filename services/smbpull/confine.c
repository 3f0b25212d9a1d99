/*
 * confine.c: kerbgate-smbpull's own sandbox (confine.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/landlock.h>
#include <seccomp.h>

#include "confine.h"
#include "util.h"

#define RD_FILE	LANDLOCK_ACCESS_FS_READ_FILE
#define RD_DIR	(LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)

/* Read only: the libraries, /etc and what its links point to on the
 * appliance (/etc/hosts to /data/etc, /etc/resolv.conf to /run); a rule
 * for a file may hold only file rights. */
static const struct {
	const char	*path;
	uint64_t	 access;
} read_paths[] = {
	{ "/usr", RD_DIR }, { "/lib", RD_DIR }, { "/lib64", RD_DIR },
	{ "/etc", RD_DIR }, { "/data/etc", RD_DIR }, { "/run/resolv.conf", RD_FILE },
	{ "/dev/urandom", RD_FILE }, { "/proc/self", RD_DIR },
	{ "/dev/null", RD_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE },
};

/* Refused with EPERM once confined. */
static const char *const denied[] = {
	"execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev",
	"mount", "umount2", "pivot_root", "chroot", "unshare", "setns",
	"move_mount", "open_tree", "fsopen", "fsmount", "fsconfig",
	"bpf", "perf_event_open", "userfaultfd", "kexec_load", "kexec_file_load",
	"init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff",
	"acct", "iopl", "ioperm", "open_by_handle_at", "name_to_handle_at",
	"add_key", "request_key", "keyctl", "setuid", "setgid", "setreuid",
	"setregid", "setresuid", "setresgid", "setgroups", "setfsuid", "setfsgid",
	"personality", "landlock_create_ruleset", NULL
};

static int
become(const char *user, char *err, size_t errlen)
{
	struct passwd *pw;

	if (user == NULL || geteuid() != 0)
		return 0;
	if ((pw = getpwnam(user)) == NULL)
		return kg_seterr(err, errlen, "user %s does not exist: create it "
		    "(useradd --system --no-create-home %s) or name another as \"user\"",
		    user, user);
	if (pw->pw_uid == 0)
		return kg_seterr(err, errlen, "user %s is root: kerbgate-smbpull must "
		    "run unprivileged", user);
	if (initgroups(user, pw->pw_gid) < 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		return kg_seterr(err, errlen, "cannot drop privileges to %s: %s", user,
		    strerror(errno));
	if (setuid(0) == 0)
		return kg_seterr(err, errlen, "privileges were not dropped");
	return 0;
}

/* The access rights this ABI knows (1: 13 rights, 2: REFER, 3: TRUNCATE). */
static uint64_t
fs_rights(int abi)
{
	uint64_t all = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;

	if (abi >= 2)
		all |= LANDLOCK_ACCESS_FS_REFER;
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE
	if (abi >= 3)
		all |= LANDLOCK_ACCESS_FS_TRUNCATE;
#endif
	return all;
}

static int
allow_path(int ruleset, const char *path, uint64_t access, char *err, size_t errlen)
{
	struct landlock_path_beneath_attr pb = { .allowed_access = access };
	int rc;

	if ((pb.parent_fd = open(path, O_PATH | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : kg_seterr(err, errlen, "landlock: %s: %s",
		    path, strerror(errno));
	rc = (int)syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
	close(pb.parent_fd);
	return rc < 0 ? kg_seterr(err, errlen, "landlock: %s: %s", path, strerror(errno)) : 0;
}

static int
landlock(const struct confine_opts *o, struct confine_result *res, char *err,
    size_t errlen)
{
	struct landlock_ruleset_attr ra = { 0 };
	uint64_t wr;
	int abi, fd, rc = 0;

	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1) {
		snprintf(res->landlock_why, sizeof(res->landlock_why), "%s",
		    errno == EOPNOTSUPP ? "Landlock is off in this kernel (lsm=)" :
		    "the kernel has no Landlock");
		return 0;
	}
	ra.handled_access_fs = fs_rights(abi);
	wr = RD_DIR | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_MAKE_REG |
	    LANDLOCK_ACCESS_FS_REMOVE_FILE;
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE
	if (abi >= 3)
		wr |= LANDLOCK_ACCESS_FS_TRUNCATE;
#endif
	if ((fd = (int)syscall(SYS_landlock_create_ruleset, &ra, sizeof(ra), 0)) < 0)
		return kg_seterr(err, errlen, "landlock: cannot make a ruleset: %s",
		    strerror(errno));
	for (size_t i = 0; rc == 0 && i < sizeof(read_paths) / sizeof(read_paths[0]); i++)
		rc = allow_path(fd, read_paths[i].path, read_paths[i].access, err, errlen);
	for (size_t i = 0; rc == 0 && i < CONFINE_MAX_WRITE_DIRS && o->write_dirs[i]; i++)
		rc = allow_path(fd, o->write_dirs[i], wr, err, errlen);
	if (rc == 0 && syscall(SYS_landlock_restrict_self, fd, 0) < 0)
		rc = kg_seterr(err, errlen, "landlock: cannot restrict: %s", strerror(errno));
	close(fd);
	if (rc == 0)
		res->landlock_abi = abi;
	return rc;
}

static int
seccomp_deny(char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	int nr, rc = 0;

	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL)
		return kg_seterr(err, errlen, "seccomp: cannot start a filter");
	for (size_t i = 0; rc == 0 && denied[i] != NULL; i++) {
		if ((nr = seccomp_syscall_resolve_name(denied[i])) == __NR_SCMP_ERROR)
			continue;	/* not on this architecture */
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
	}
	/* New user namespaces through clone(); clone3's flags are in memory a
	 * filter cannot read, so clone3 says ENOSYS and glibc uses clone. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
		    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc < 0 ? kg_seterr(err, errlen, "seccomp: %s", strerror(-rc)) : 0;
}

int
confine(const struct confine_opts *o, struct confine_result *res, char *err,
    size_t errlen)
{
	memset(res, 0, sizeof(*res));
	if (become(o->user, err, errlen) < 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return kg_seterr(err, errlen, "cannot set NoNewPrivs: %s", strerror(errno));
	if (landlock(o, res, err, errlen) < 0)
		return -1;
	return seccomp_deny(err, errlen);
}
