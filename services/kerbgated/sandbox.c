/*
 * sandbox.c: chroot, unprivileged user, NoNewPrivs and a seccomp filter
 * for each child once it is set up (the model is OpenBSD's relayd, whose
 * processes are chrooted and pledged).
 *
 * Each child reads what it needs (certificates, CA files, the keytab, the
 * KDC configuration) and opens its sockets and event loop first; then
 * sandbox_enter() takes away everything else.  The lists below were taken
 * from strace/seccomp logs of the integration tests (plain and TLS
 * back-ends, health checks, metrics, reloads, delegation against the lab's
 * KDC), not guessed; a call that is not listed kills the child.
 *
 * A forbidden call raises SIGSYS (SCMP_ACT_TRAP).  The handler stores the
 * call's number in a page shared with the parent (only plain stores:
 * async-signal-safe), restores the default action and re-raises, so the
 * child dies of SIGSYS.  The parent names the call (sandbox_violation())
 * when it reaps the child: resolving a name allocates, which a signal
 * handler must not do.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <krb5.h>
#include <gssapi/gssapi.h>
#include <netdb.h>
#include <seccomp.h>

#include "log.h"
#include "sandbox.h"
#include "util.h"

#define SANDBOX_SLOTS	256

struct sandbox_slot {
	volatile pid_t	pid;
	volatile int	nr;
};

static struct sandbox_slot *slots;	/* shared with the parent */
static pid_t self;			/* getpid() before the filter */

/* ------------------------------------------------------------ the lists */

/* Every child: memory, time, randomness, signals, exit. */
static const char *const common_calls[] = {
	/* malloc and free (brk; mmap, mremap and munmap for large blocks;
	 * madvise when glibc and tls_conn_shrink give memory back) */
	"brk", "mmap", "munmap", "mremap", "madvise",
	/* timestamps and timers, when the vDSO cannot answer */
	"clock_gettime",
	/* mbedTLS's DRBG reseeds, Heimdal's confounders, cookies */
	"getrandom",
	/* libev's and our handlers (SIGTERM, SIGPIPE ignored) */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
	/* a wait resumed after a signal handler ran */
	"restart_syscall",
	/* the log's pid; the SIGSYS handler's raise() (tgkill: below, to
	 * this process only) */
	"getpid", "gettid",
	/* the descriptors it already holds */
	"read", "write", "close",
	"exit_group",
};

/* Relays: the event loop and the sockets of clients and back-ends. */
static const char *const relay_calls[] = {
	/* libev's epoll backend; it makes a new epoll set when an event
	 * comes for an fd closed and reused meanwhile (seen under load) */
	"epoll_wait", "epoll_ctl", "epoll_create1",
	/* clients (the VIP listeners, the admin port for /metrics) */
	"accept4", "getpeername",
	/* mbedTLS and the relay's send()/recv(); ipc frames to the keyholder */
	"recvfrom", "sendto",
	/* back-end connections and health checks: socket() is limited to
	 * AF_INET and AF_INET6 below; SO_ERROR of a non-blocking connect;
	 * TCP_NODELAY and keep-alive on back-end sockets */
	"connect", "getsockopt", "setsockopt",
	/* OpenSSL's libcrypto (the PSA driver's ECDHE) takes its locks; a
	 * relay killed for futex was seen once the driver and the key
	 * process's answers met in one relay (test_sandbox.sh in CI) */
	"futex",
};

/* The keyholder and its kcd threads (constrained delegation). */
static const char *const keyholder_calls[] = {
	/* the main loop over its relays' sockets and the kcd eventfd */
	"poll",
	/* ipc frames to the relays (sendmsg with an iovec); a respawned
	 * relay's socket from the parent (recvmsg, SCM_RIGHTS) */
	"sendmsg", "recvmsg",
	/* the kcd queue's condition variables; the replay cache's robust
	 * process-shared mutex */
	"futex",
	/* malloc arenas of the kcd threads grow with mprotect */
	"mprotect",
	/* secrets in locked pages (sealedstore.c: sealed_alloc) */
	"mlock", "munlock",
	/* a kcd thread's exit when the keyholder ends */
	"exit",
	/* Heimdal's KDC exchanges (UDP, TCP on KRB_ERR_RESPONSE_TOO_BIG):
	 * socket() limited below, non-blocking connect, its SO_ERROR,
	 * select, FIONREAD before a UDP read */
	"connect", "fcntl", "getsockopt", "pselect6", "sendto", "recvfrom",
	/* Heimdal asks whether it runs set-uid before it reads KRB5_CONFIG */
	"getuid", "geteuid", "getgid", "getegid",
	/* glibc's NSS stats /etc/nsswitch.conf; in the empty root there is
	 * nothing to find */
	"newfstatat",
};

/* The TLS key process: its relays' sockets and its parent's, nothing
 * else.  No socket(), no connect(), and sendto() only without an address
 * (below): a key process taken over cannot send a key anywhere but to its
 * relays. */
static const char *const tlskey_calls[] = {
	/* the loop over the relays' sockets and the parent's */
	"poll",
	/* ipc frames (recv() is recvfrom; send() is sendto, allowed below
	 * with a NULL address only); a respawned relay's socket from the
	 * parent (recvmsg, SCM_RIGHTS) */
	"recvfrom", "recvmsg",
	/* O_NONBLOCK on a respawned relay's socket */
	"fcntl",
	/* libcrypto's locks (uncontended: one thread) */
	"futex",
};

static int
allow_list(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	size_t i;
	int nr, rc;

	for (i = 0; i < n; i++) {
		/* A name this architecture lacks is no error. */
		if ((nr = seccomp_syscall_resolve_name(names[i])) < 0)
			continue;
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0)
			return rc;
	}
	return 0;
}

/* One rule on one argument's value (SCMP_A0() and the like leave a
 * field to the compiler, which clang's -Wextra refuses). */
static int
rule_arg(scmp_filter_ctx ctx, uint32_t action, int nr, unsigned arg,
    scmp_datum_t value)
{
	struct scmp_arg_cmp cmp = { .arg = arg, .op = SCMP_CMP_EQ,
	    .datum_a = value, .datum_b = 0 };

	return seccomp_rule_add_array(ctx, action, nr, 1, &cmp);
}

/*
 * socket() for IPv4 and IPv6 only; any other family kills, except AF_UNIX,
 * which fails with EACCES: glibc's syslog() reconnects to /dev/log with a
 * new socket when syslogd has restarted (the daemon's messages from that
 * child are then lost until the next reload; in the empty root there is no
 * /dev/log anyway), and its NSS asks nscd (the keyholder's
 * getservbyname()).  A child must not die of either.
 */
static int
allow_inet_sockets(scmp_filter_ctx ctx)
{
	int rc;

	if ((rc = rule_arg(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 0,
	    AF_INET)) < 0)
		return rc;
	if ((rc = rule_arg(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 0,
	    AF_INET6)) < 0)
		return rc;
	return rule_arg(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 0,
	    AF_UNIX);
}

/*
 * The keyholder's libraries look for files on their own, after set-up,
 * and carry on without them: Heimdal's GSS-API layer makes a krb5 context
 * per thread (reading krb5.conf or KRB5_CONFIG, and /etc/gss/mech) when the
 * kcd initiator first builds an AP-REQ; Heimdal's random source reseeds
 * from /dev/urandom; glibc's getservbyname("kerberos") before each KDC
 * exchange reads /etc/services.  In the empty root each would fail with
 * ENOENT; the filter answers so without asking the kernel, and nothing is
 * opened.  Relays get no such answer: open kills them.
 */
static int
refuse_lazy_files(scmp_filter_ctx ctx)
{
	int rc;

	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOENT),
	    SCMP_SYS(openat), 0)) < 0)
		return rc;
	/* Heimdal sizes a UDP answer from the KDC before reading it. */
	return rule_arg(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, FIONREAD);
}

/* ------------------------------------------------------------ violations */

static void
on_sigsys(int sig, siginfo_t *si, void *uc)
{
	struct sigaction sa;
	size_t i;

	(void)uc;
	if (slots != NULL) {
		for (i = 0; i < SANDBOX_SLOTS; i++) {
			if (__sync_bool_compare_and_swap(&slots[i].pid, 0, -1)) {
				slots[i].nr = si->si_syscall;
				__sync_synchronize();
				slots[i].pid = self;
				break;
			}
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(sig, &sa, NULL);
	raise(sig);	/* delivered when the handler returns */
}

int
sandbox_init(void)
{
	void *p;

	if (slots != NULL)
		return 0;
	p = mmap(NULL, SANDBOX_SLOTS * sizeof(*slots), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	slots = p;
	return 0;
}

int
sandbox_violation(pid_t pid, char *name, size_t len)
{
	char *s;
	size_t i;
	int nr;

	kg_strlcpy(name, "unknown", len);
	if (slots == NULL)
		return -1;
	for (i = 0; i < SANDBOX_SLOTS; i++) {
		if (slots[i].pid != pid)
			continue;
		nr = slots[i].nr;
		slots[i].nr = 0;
		__sync_synchronize();
		slots[i].pid = 0;
		s = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
		if (s != NULL)
			kg_strlcpy(name, s, len);
		else
			snprintf(name, len, "number %d", nr);
		free(s);
		return 0;
	}
	return -1;
}

/* ------------------------------------------------------------ the filter */

int
sandbox_load_filter(enum sandbox_kind kind)
{
	struct sigaction sa;
	scmp_filter_ctx ctx;
	int rc;

	self = getpid();
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return -errno;
	if ((ctx = seccomp_init(SCMP_ACT_TRAP)) == NULL)
		return -ENOMEM;
	/* Every thread (the keyholder's kcd workers), not only this one. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (rc == 0)
		rc = allow_list(ctx, common_calls,
		    sizeof(common_calls) / sizeof(common_calls[0]));
	if (rc == 0 && kind == SANDBOX_RELAY)
		rc = allow_list(ctx, relay_calls,
		    sizeof(relay_calls) / sizeof(relay_calls[0]));
	if (rc == 0 && kind == SANDBOX_KEYHOLDER)
		rc = allow_list(ctx, keyholder_calls,
		    sizeof(keyholder_calls) / sizeof(keyholder_calls[0]));
	if (rc == 0 && kind == SANDBOX_TLSKEY)
		rc = allow_list(ctx, tlskey_calls,
		    sizeof(tlskey_calls) / sizeof(tlskey_calls[0]));
	/* raise() and abort() signal this process; any other pid is a
	 * sibling of the same user (every relay is _kgrelay), which one taken
	 * over could stop (SIGSTOP: the parent sees no exit, its share of the
	 * connections waits) or kill. */
	if (rc == 0)
		rc = rule_arg(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 0,
		    (scmp_datum_t)self);
	if (rc == 0 && kind == SANDBOX_KEYHOLDER)
		rc = refuse_lazy_files(ctx);
	if (rc == 0 && kind != SANDBOX_TLSKEY)
		rc = allow_inet_sockets(ctx);
	/* send() on its connected pairs; glibc's syslog() reconnecting to
	 * /dev/log is refused, not fatal. */
	if (rc == 0 && kind == SANDBOX_TLSKEY)
		rc = rule_arg(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendto), 4, 0);
	if (rc == 0 && kind == SANDBOX_TLSKEY)
		rc = rule_arg(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 0,
		    AF_UNIX);
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc;
}

/* ------------------------------------------------------------ the root */

static int
mkdirs(char *path)
{
	char *p;

	for (p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int
sandbox_prepare_root(const char *dir, char *err, size_t errlen)
{
	char path[4096];
	struct stat st;
	struct dirent *de;
	DIR *d;

	if (dir == NULL || dir[0] != '/')
		return kg_seterr(err, errlen, "sandbox root \"%s\" must be an "
		    "absolute path", dir ? dir : "");
	if (geteuid() != 0)
		return 0;	/* no chroot without root: sandbox_enter says so */
	kg_strlcpy(path, dir, sizeof(path));
	if (mkdirs(path) < 0)
		return kg_seterr(err, errlen, "cannot create the sandbox root "
		    "%s: %s", dir, strerror(errno));
	if (lstat(dir, &st) < 0)
		return kg_seterr(err, errlen, "sandbox root %s: %s", dir,
		    strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return kg_seterr(err, errlen, "sandbox root %s is not a "
		    "directory", dir);
	if (st.st_uid != 0 || (st.st_mode & 0022) != 0)
		return kg_seterr(err, errlen, "sandbox root %s must be owned by "
		    "root and writable by root only (chown root %s; chmod 0755 %s)",
		    dir, dir, dir);
	if ((d = opendir(dir)) == NULL)
		return kg_seterr(err, errlen, "sandbox root %s: %s", dir,
		    strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		kg_strlcpy(path, de->d_name, sizeof(path));	/* de dies with d */
		closedir(d);
		return kg_seterr(err, errlen, "sandbox root %s is not empty "
		    "(%s): the children would see it; use an empty directory",
		    dir, path);
	}
	closedir(d);
	return 0;
}

/* ------------------------------------------------------------ entering */

/*
 * What the keyholder's libraries would otherwise do on first use, inside
 * the sandbox, where it could only fail: Heimdal's random source seeds
 * from /dev/urandom once per process (without it, it would fall back to
 * weak sources); the GSS-API mechanism list is read from /etc/gss/mech;
 * glibc loads the NSS modules getservbyname("kerberos") needs.
 */
static void
warm_up_keyholder(void)
{
	OM_uint32 minor;
	gss_OID_set mechs = GSS_C_NO_OID_SET;
	unsigned char b[16];

	krb5_generate_random_block(b, sizeof(b));	/* aborts if it cannot */
	kg_zero(b, sizeof(b));
	if (gss_indicate_mechs(&minor, &mechs) == GSS_S_COMPLETE)
		gss_release_oid_set(&minor, &mechs);
	(void)getservbyname("kerberos", "udp");
}

/* TEST ONLY: a relay told to misbehave calls openat() on SIGUSR1. */
static void
on_test_trigger(int sig)
{
	(void)sig;
	(void)openat(AT_FDCWD, "/", O_RDONLY | O_CLOEXEC);
}

void
sandbox_enter(const struct sandbox_opts *o)
{
	struct passwd *pw = NULL;
	int rc;

	if (o->kind == SANDBOX_KEYHOLDER)
		warm_up_keyholder();
	if (geteuid() == 0) {
		/* The user's entry before the root goes: no /etc/passwd there. */
		if (o->user != NULL && (pw = getpwnam(o->user)) == NULL)
			fatalx("user %s does not exist: create it (useradd "
			    "--system --no-create-home %s) or name another in "
			    "the configuration", o->user, o->user);
		if (pw != NULL && pw->pw_uid == 0)
			fatalx("user %s is root: kerbgated's processes must run "
			    "unprivileged", o->user);
		if (chroot(o->root) < 0 || chdir("/") < 0)
			fatal("cannot chroot to the sandbox root %s", o->root);
		if (pw != NULL && (setgroups(1, &pw->pw_gid) < 0 ||
		    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0))
			fatal("cannot drop privileges to %s", o->user);
		if (pw != NULL && setuid(0) == 0)
			fatalx("privileges were not dropped");
	} else
		log_debug("not root: no chroot, no change of user");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("cannot set NoNewPrivs");
	if (o->test_trigger && o->kind == SANDBOX_RELAY) {
		log_warnx("sandbox.test_trigger is on: SIGUSR1 makes this relay "
		    "call openat() and die (for tests only)");
		signal(SIGUSR1, on_test_trigger);
	}
	if ((rc = sandbox_load_filter(o->kind)) < 0)
		fatalx("cannot install the seccomp filter: %s", strerror(-rc));
	log_debug("sandboxed in %s", o->root);
}
