/*
 * kerbgated parent: loads the configuration, binds the listeners, and runs
 * "generations" of children: one keyholder and N relay workers, joined by
 * socketpairs.  A reload (SIGHUP) or a crashed keyholder starts a new
 * generation and tells the old relays to drain: they stop accepting, finish
 * their connections and exit, and their keyholder follows when the last is
 * gone.  Established connections are never cut by a reload.  A relay that
 * exits on its own (a crash, or the keyholder dropped it for a malformed
 * frame) is replaced alone: a new relay in its slot, whose keyholder socket
 * the parent hands to the running keyholder; the others serve on.
 *
 * With TLS listeners a generation has a third kind of child, the TLS key
 * process (tlskey.c): it alone reads the VIP's private keys, after the
 * parent forked it and before any relay exists, so neither the parent nor a
 * relay ever holds one.  If it dies the generation is restarted, as when
 * the keyholder dies.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "control.h"
#include "ipc.h"
#include "keyholder.h"
#include "log.h"
#include "metrics.h"
#include "relay.h"
#include "replay.h"
#include "sandbox.h"
#include "secretstore.h"
#include "tls.h"
#include "tlskey.h"
#include "util.h"

#define MAX_GENERATIONS	8
#define RESTART_BACKOFF_MS 1000

struct generation {
	unsigned	 id;
	struct conf	*conf;
	struct tls_server *tls;
	pid_t		 keyholder;
	pid_t		*relays;
	int		*ctl;		/* parent end of each relay's control */
	int		 khctl;		/* parent end of the keyholder's: new
					   relays' sockets go there */
	int		 credfd;	/* parent end of the keyholder's
					   credential control (control.h) */
	pid_t		 tlskey;	/* the TLS key process, or 0 */
	int		 tkctl;		/* parent end of its control, or -1 */
	uint64_t	*spawned_ms;	/* when each relay slot was last started */
	unsigned	 nrelays;
	unsigned	 alive;
	int		 draining;
	int		 after_crash;	/* its keyholder follows one that died */
};

static volatile sig_atomic_t got_hup, got_term, got_chld;
static struct generation gens[MAX_GENERATIONS];
static unsigned next_gen = 1;
/*
 * Each listener is bound once per relay worker with SO_REUSEPORT: the kernel
 * spreads new connections over the workers' own accept queues, so a
 * connection wakes one worker, not all of them.  listen_fds[i * nsock + k]
 * is listener i's socket for worker k.
 */
static int *listen_fds;
static size_t nlisten, nsock;
static struct conf_listener *bound;	/* what listen_fds are bound to */
static int admin_fd = -1;
static struct metrics_shm *metrics;
/*
 * The replay cache, shared by every generation's keyholder (replay.h).  The
 * parent only hands the mapping down and never touches its contents: a
 * keyholder could leave them in any state.  Relays unmap it.
 */
static struct kg_replay *replay;
static int keyholder_died;		/* unexpectedly: the next keyholder
					   sets the restart floor */
static struct conf *crashed_conf;	/* the configuration to restart with,
					   should the crashed generation be
					   gone before the restart */
static struct control *control;		/* credentials.control_socket */
static const char *conf_path = "/etc/kerbgate/kerbgated.json";
static sigset_t parent_mask;		/* the mask children start with */
static struct sandbox_opts sandbox;	/* the forked child's, set before
					   it enters its main */

static void
set_nonblock(int fd)
{
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* The keyholder behind fd is gone: stop polling its socket. */
static void
close_credfd(int fd)
{
	size_t i;

	for (i = 0; i < MAX_GENERATIONS; i++)
		if (gens[i].id != 0 && gens[i].credfd == fd) {
			close(fd);
			gens[i].credfd = -1;
		}
}

/* The current generation's credential socket, or -1. */
static int
current_credfd(void)
{
	size_t i;
	int fd = -1;
	unsigned best = 0;

	for (i = 0; i < MAX_GENERATIONS; i++)
		if (gens[i].id > best && !gens[i].draining) {
			best = gens[i].id;
			fd = gens[i].credfd;
		}
	return fd;
}

/* A child must not inherit the parent's blocked signals or handlers. */
static void
child_signals(void)
{
	signal(SIGHUP, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_IGN);	/* the parent decides about ^C */
	sigprocmask(SIG_SETMASK, &parent_mask, NULL);
}

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGCHLD)
		got_chld = 1;
	else
		got_term = 1;
}

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr, "usage: kerbgated [-dnv] [-f config]\n"
	    "  -f file  configuration (default %s)\n"
	    "  -d       stay in the foreground, log to stderr\n"
	    "  -n       check the configuration and exit\n"
	    "  -v       more verbose (twice: debug)\n", conf_path);
	exit(2);
}

/* A TCP socket bound to the listener's address; fatal if it cannot be. */
static int
bound_socket(const struct conf_listener *l, int reuseport)
{
	int fd, one = 1;

	fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd < 0)
		fatal("socket for %s", l->text);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		fatal("SO_REUSEPORT for %s", l->text);
	if (bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) < 0)
		fatal("cannot listen on %s", l->text);
	return fd;
}

static int
bind_listener(const struct conf_listener *l, int reuseport)
{
	int fd = bound_socket(l, reuseport), one = 1;

	/* Accepted sockets inherit it: no setsockopt per connection. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (listen(fd, 1024) < 0)
		fatal("listen on %s", l->text);
	return fd;
}

/*
 * SO_REUSEPORT would let a second kerbgated (same user) join our group and
 * take half the connections without a word.  Before binding a listener
 * afresh, a plain socket must be able to bind it: if another process
 * listens there, that fails as bind always did.
 */
static void
check_address_free(const struct conf_listener *l)
{
	close(bound_socket(l, 0));
}

/*
 * Binds what a configuration asks for, n sockets per listener, keeping
 * sockets already bound to the same address (so a reload does not refuse
 * connections for a moment).  Sockets no longer wanted are closed here;
 * draining relays close their copies, so the kernel stops sending them
 * connections.
 */
static void
bind_listeners(const struct conf *c, size_t n)
{
	int *fds = calloc(c->nlisteners * n, sizeof(int));
	struct conf_listener *nb = calloc(c->nlisteners, sizeof(*nb));
	size_t i, j, k;

	if (fds == NULL || nb == NULL)
		fatal("calloc");
	for (i = 0; i < c->nlisteners; i++) {
		for (k = 0; k < n; k++)
			fds[i * n + k] = -1;
		for (j = 0; j < nlisten; j++) {
			if (strcmp(bound[j].text, c->listeners[i].text) != 0)
				continue;
			for (k = 0; k < n && k < nsock; k++) {
				fds[i * n + k] = listen_fds[j * nsock + k];
				listen_fds[j * nsock + k] = -1;
			}
			break;
		}
		if (fds[i * n] < 0)
			check_address_free(&c->listeners[i]);
		for (k = 0; k < n; k++)
			if (fds[i * n + k] < 0)
				fds[i * n + k] = bind_listener(&c->listeners[i], 1);
		nb[i] = c->listeners[i];
	}
	for (j = 0; j < nlisten * nsock; j++)
		if (listen_fds[j] >= 0)
			close(listen_fds[j]);
	free(listen_fds);
	free(bound);
	listen_fds = fds;
	bound = nb;
	nlisten = c->nlisteners;
	nsock = n;
	if (c->admin_enabled && admin_fd < 0)
		admin_fd = bind_listener(&c->admin, 0);
}

static void
close_listeners(size_t except_worker)
{
	size_t j;

	for (j = 0; j < nlisten * nsock; j++)
		if (j % nsock != except_worker)
			close(listen_fds[j]);
}

/* Certificate chains the key process took from the sealed store, by key
 * index (tlskey.h); NULL entries: the configured file. */
struct chains {
	unsigned char	**pem;
	size_t		 *len;
	size_t		  n;
};

static void
chains_free(struct chains *ch)
{
	size_t i;

	for (i = 0; i < ch->n; i++)
		free(ch->pem[i]);
	free(ch->pem);
	free(ch->len);
	memset(ch, 0, sizeof(*ch));
}

static struct tls_server *
make_tls(const struct conf *c, const struct chains *ch)
{
	struct tls_vhost_config *vc;
	struct tls_server_config sc;
	struct tls_server *s;
	char err[512];
	size_t i, n = 0;

	for (i = 0; i < c->nlisteners; i++)
		if (c->listeners[i].tls)
			break;
	if (i == c->nlisteners)
		return NULL;
	if ((vc = calloc(c->nvhosts, sizeof(*vc))) == NULL)
		return NULL;
	/* The key process loads the keys of the same vhosts in the same
	 * order (tlskey_load_conf()): a key's index is its place here. */
	for (i = 0; i < c->nvhosts; i++) {
		if (c->vhosts[i].cert_file[0] == '\0')
			continue;
		vc[n].name = c->vhosts[i].name;
		vc[n].cert_file = c->vhosts[i].cert_file;
		vc[n].key_file = c->vhosts[i].key_file;
		if (ch != NULL && n < ch->n && ch->pem[n] != NULL) {
			vc[n].cert_pem = ch->pem[n];
			vc[n].cert_pem_len = ch->len[n];
		}
		n++;
	}
	memset(&sc, 0, sizeof(sc));
	sc.vhosts = vc;
	sc.nvhosts = n;
	sc.remote_keys = true;
	s = tls_server_new(&sc, err, sizeof(err));
	free(vc);
	if (s == NULL)
		log_warnx("%s", err);
	return s;
}

static unsigned
worker_count(const struct conf *c)
{
	long n;

	if (c->workers > 0)
		n = c->workers;
	else
		n = sysconf(_SC_NPROCESSORS_ONLN);
	n = n < 1 ? 1 : n > 16 ? 16 : n;
	/* Two generations' workers share the metrics segment. */
	return (unsigned)n > METRICS_MAX_WORKERS / 2 ? METRICS_MAX_WORKERS / 2 : (unsigned)n;
}

static void
close_other_generations(struct generation *keep)
{
	size_t i, j;

	for (i = 0; i < MAX_GENERATIONS; i++) {
		if (&gens[i] == keep || gens[i].id == 0)
			continue;
		for (j = 0; j < gens[i].nrelays; j++)
			if (gens[i].ctl[j] >= 0)
				close(gens[i].ctl[j]);
		/* A keyholder exits only once the parent's end is closed. */
		if (gens[i].khctl >= 0)
			close(gens[i].khctl);
		if (gens[i].credfd >= 0)
			close(gens[i].credfd);
		if (gens[i].tkctl >= 0)
			close(gens[i].tkctl);
	}
}

/* Forks; the child starts with default signals and no other generation's
 * control sockets.  Returns the child's pid in the parent, 0 in the child. */
static pid_t
fork_child(void)
{
	pid_t pid;

	if ((pid = fork()) < 0)
		fatal("fork");
	if (pid == 0) {
		child_signals();
		close_other_generations(NULL);
		control_close_in_child(control);
	}
	return pid;
}

/* The sandbox a child enters after its set-up, or NULL if it is off. */
static const struct sandbox_opts *
child_sandbox(const struct generation *g, enum sandbox_kind kind)
{
	if (!g->conf->sandbox_enabled)
		return NULL;
	memset(&sandbox, 0, sizeof(sandbox));
	sandbox.kind = kind;
	sandbox.root = g->conf->sandbox_root;
	sandbox.user = kind == SANDBOX_RELAY ? g->conf->relay_user :
	    g->conf->keyholder_user;	/* the keyholder's and the key process's */
	sandbox.test_trigger = g->conf->sandbox_test_trigger;
	return &sandbox;
}

static pid_t
fork_keyholder(struct generation *g, int (*kh)[2], int (*ctl)[2], int (*tk)[2],
    int *kh_ends, int ctl_fd, int cred_fd)
{
	struct keyholder_env env;
	unsigned i;
	pid_t pid;

	if ((pid = fork_child()) > 0)
		return pid;
	/* Not the relays' ends: holding them, the keyholder would never see
	 * EOF when its relays have drained, never exit, and its generation
	 * would hold one of MAX_GENERATIONS slots for good. */
	for (i = 0; i < g->nrelays; i++) {
		close(kh[i][0]);
		close(ctl[i][1]);
		if (tk[i][0] >= 0)
			close(tk[i][0]);
	}
	close_listeners(SIZE_MAX);
	if (admin_fd >= 0)
		close(admin_fd);
	memset(&env, 0, sizeof(env));
	env.conf = g->conf;
	env.ctl_fd = ctl_fd;
	env.cred_fd = cred_fd;
	env.relay_fds = kh_ends;
	env.nrelays = g->nrelays;
	env.user = g->conf->keyholder_user;
	env.replay = replay;
	env.after_crash = g->after_crash;
	env.sandbox = child_sandbox(g, SANDBOX_KEYHOLDER);
	keyholder_main(&env);
}

/*
 * The key process: only the ends it serves, no listener, no other
 * process's socket.  It tells the parent on ctl_fd whether its keys loaded.
 */
static pid_t
fork_tlskey(struct generation *g, int (*kh)[2], int (*ctl)[2], int (*tk)[2],
    int *tk_ends, int ctl_fd, int khctl_fd)
{
	struct tlskey_env env;
	unsigned i;
	pid_t pid;

	if ((pid = fork_child()) > 0)
		return pid;
	for (i = 0; i < g->nrelays; i++) {
		close(kh[i][0]);
		close(kh[i][1]);
		close(ctl[i][1]);
		close(tk[i][0]);
	}
	close(khctl_fd);
	close_listeners(SIZE_MAX);
	if (admin_fd >= 0)
		close(admin_fd);
	replay_free(replay);
	replay = NULL;
	memset(&env, 0, sizeof(env));
	env.conf = g->conf;
	env.ctl_fd = ctl_fd;
	env.relay_fds = tk_ends;
	env.nrelays = g->nrelays;
	env.user = g->conf->keyholder_user;
	env.drop_privileges = drop_privileges;
	env.sandbox = child_sandbox(g, SANDBOX_TLSKEY);
	tlskey_main(&env);
}

/* One message from the key process within 10 s: its length, or -1. */
static ssize_t
tlskey_recv(struct generation *g, void *buf, size_t len)
{
	struct pollfd p = { .fd = g->tkctl, .events = POLLIN };
	int rc;

	do
		rc = poll(&p, 1, 10000);
	while (rc < 0 && errno == EINTR);
	return rc > 0 ? recv(g->tkctl, buf, len, 0) : -1;
}

/*
 * After "ok N": the N chains of keys from the sealed store; the relays'
 * TLS server is made again with them.  0, or -1 (logged).
 */
static int
tlskey_chains(struct generation *g, unsigned long want)
{
	struct chains ch = { 0 };
	struct tls_server *s;
	size_t max = 7 + SECRET_TLS_MAX, idx;
	unsigned char *m;
	ssize_t n;
	unsigned long i;
	int rv = -1;

	for (idx = 0; idx < g->conf->nvhosts; idx++)
		ch.n += g->conf->vhosts[idx].cert_file[0] != '\0';
	if ((m = malloc(max)) == NULL || (ch.pem = calloc(ch.n + 1, sizeof(*ch.pem))) == NULL ||
	    (ch.len = calloc(ch.n + 1, sizeof(*ch.len))) == NULL)
		fatal("calloc");
	for (i = 0; i < want; i++) {
		n = tlskey_recv(g, m, max);
		if (n < 7 || memcmp(m, "chain", 5) != 0 ||
		    (idx = (size_t)m[5] << 8 | m[6]) >= ch.n || ch.pem[idx] != NULL ||
		    (ch.pem[idx] = malloc((size_t)n - 7)) == NULL) {
			log_warnx("the TLS key process sent no valid certificate chain");
			goto out;
		}
		memcpy(ch.pem[idx], m + 7, (size_t)n - 7);
		ch.len[idx] = (size_t)n - 7;
	}
	if ((s = make_tls(g->conf, &ch)) == NULL)
		goto out;
	tls_server_unref(g->tls);
	g->tls = s;
	log_info("generation %u: %lu VIP key(s) and chain(s) from the sealed store",
	    g->id, want);
	rv = 0;
out:
	free(m);
	chains_free(&ch);
	return rv;
}

/* Waits for the key process's word: 0 when its keys loaded. */
static int
tlskey_ready(struct generation *g)
{
	char msg[512], *end;
	unsigned long want;
	ssize_t n;

	n = tlskey_recv(g, msg, sizeof(msg) - 1);
	if (n == 2 && memcmp(msg, "ok", 2) == 0)
		return 0;
	if (n > 3 && memcmp(msg, "ok ", 3) == 0) {
		msg[n] = '\0';
		want = strtoul(msg + 3, &end, 10);
		if (*end == '\0' && want > 0 && tlskey_chains(g, want) == 0)
			return 0;
		n = 0;
	}
	if (n > 0) {
		msg[n] = '\0';
		log_warnx("%s", msg);
	} else
		log_warnx("the TLS key process (pid %d) did not report its "
		    "keys loaded within 10 s", (int)g->tlskey);
	kill(g->tlskey, SIGKILL);
	return -1;
}

static pid_t
fork_relay(struct generation *g, unsigned w, int (*kh)[2], int (*ctl)[2],
    int (*tk)[2])
{
	struct relay_env env;
	int kh_fd = kh[w][0], ctl_fd = ctl[w][1], *own;
	unsigned j;
	pid_t pid;

	if ((pid = fork_child()) > 0)
		return pid;
	/* Relays parse what the network sends: no write access to the
	 * keyholders' replay cache. */
	replay_free(replay);
	replay = NULL;
	/* Only this relay's own ends: a keyholder must see EOF when any
	 * relay exits, which a copy held by a sibling would prevent. */
	for (j = w + 1; j < g->nrelays; j++) {
		close(kh[j][0]);
		close(ctl[j][1]);
		if (tk[j][0] >= 0)
			close(tk[j][0]);
	}
	memset(&env, 0, sizeof(env));
	env.conf = g->conf;
	env.tlskey_fd = tk[w][0];
	env.worker = w + (g->id & 1) * g->nrelays;
	env.nworkers = g->nrelays;
	env.kh_fd = kh_fd;
	env.ctl_fd = ctl_fd;
	/* This worker's own sockets only: a copy of another worker's
	 * would keep it open after a reload closed it. */
	close_listeners(w);
	if ((own = calloc(nlisten ? nlisten : 1, sizeof(int))) == NULL)
		fatal("calloc");
	for (j = 0; j < nlisten; j++)
		own[j] = listen_fds[j * nsock + w];
	env.listen_fds = own;
	env.admin_fd = admin_fd;
	env.tls = g->tls;
	env.metrics = metrics;
	/* Sandboxed, it stays root until set-up is done: chroot needs it. */
	if ((env.sandbox = child_sandbox(g, SANDBOX_RELAY)) == NULL)
		drop_privileges(g->conf->relay_user);
	relay_main(&env);
}

static struct generation *
free_slot(void)
{
	size_t i;

	for (i = 0; i < MAX_GENERATIONS; i++)
		if (gens[i].id == 0)
			return &gens[i];
	return NULL;
}

static void
drain_generation(struct generation *g)
{
	unsigned i;
	char b = RELAY_CTL_DRAIN;

	if (g->draining)
		return;
	g->draining = 1;
	for (i = 0; i < g->nrelays; i++) {
		if (g->ctl[i] >= 0) {
			if (write(g->ctl[i], &b, 1) < 0)
				log_debug("relay %u already gone", i);
			close(g->ctl[i]);
			g->ctl[i] = -1;
		}
	}
	/* No relay will be added: the keyholder may go with the last one. */
	if (g->khctl >= 0) {
		close(g->khctl);
		g->khctl = -1;
	}
	/* Credential requests go to the next generation's keyholder. */
	if (g->credfd >= 0) {
		close(g->credfd);
		g->credfd = -1;
		if (control != NULL)
			control_keyholder_gone(control);
	}
	/* The same for the key process. */
	if (g->tkctl >= 0) {
		close(g->tkctl);
		g->tkctl = -1;
	}
	log_info("generation %u draining", g->id);
}

static int
start_generation(struct conf *c)
{
	struct generation *g = free_slot();
	int (*kh)[2], (*ctl)[2], (*tk)[2], khctl[2], tkctl[2] = { -1, -1 };
	int cred[2] = { -1, -1 };
	int *kh_ends, *tk_ends;
	char err[512];
	unsigned i, n = worker_count(c);

	if (g == NULL) {
		log_warnx("too many generations still draining; try again later");
		return -1;
	}
	if (c->sandbox_enabled &&
	    sandbox_prepare_root(c->sandbox_root, err, sizeof(err)) < 0) {
		log_warnx("%s", err);
		return -1;
	}
	memset(g, 0, sizeof(*g));
	g->id = next_gen++;
	g->conf = c;
	g->after_crash = keyholder_died;
	keyholder_died = 0;
	g->nrelays = n;
	g->tls = make_tls(c, NULL);
	if (g->tls == NULL && c->nlisteners > 0) {
		for (i = 0; i < c->nlisteners; i++)
			if (c->listeners[i].tls) {
				g->id = 0;
				return -1;
			}
	}
	metrics->nworkers = 2 * n;
	g->relays = calloc(n, sizeof(pid_t));
	g->ctl = calloc(n, sizeof(int));
	g->spawned_ms = calloc(n, sizeof(uint64_t));
	kh = calloc(n, sizeof(*kh));
	ctl = calloc(n, sizeof(*ctl));
	tk = calloc(n, sizeof(*tk));
	kh_ends = calloc(n, sizeof(int));
	tk_ends = calloc(n, sizeof(int));
	if (!g->relays || !g->ctl || !g->spawned_ms || !kh || !ctl || !tk ||
	    !kh_ends || !tk_ends)
		fatal("calloc");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, khctl) < 0)
		fatal("socketpair");
	g->khctl = khctl[0];
	g->credfd = -1;
	g->tkctl = -1;
	if (g->tls != NULL && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC,
	    0, tkctl) < 0)
		fatal("socketpair");
	g->tkctl = tkctl[0];
	for (i = 0; i < n; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, kh[i]) < 0 ||
		    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl[i]) < 0)
			fatal("socketpair");
		tk[i][0] = tk[i][1] = -1;
		if (g->tls != NULL &&
		    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, tk[i]) < 0)
			fatal("socketpair");
		kh_ends[i] = kh[i][1];
		tk_ends[i] = tk[i][1];
		g->ctl[i] = ctl[i][0];
	}
	/* The key process first: it reads the private keys, which no other
	 * process of ours ever holds; no relay starts if they do not load. */
	if (g->tls != NULL) {
		g->tlskey = fork_tlskey(g, kh, ctl, tk, tk_ends, tkctl[1],
		    khctl[1]);
		close(tkctl[1]);
		for (i = 0; i < n; i++)
			close(tk[i][1]);
		if (tlskey_ready(g) < 0) {
			for (i = 0; i < n; i++) {
				close(kh[i][0]);
				close(kh[i][1]);
				close(ctl[i][0]);
				close(ctl[i][1]);
				close(tk[i][0]);
			}
			close(khctl[0]);
			close(khctl[1]);
			close(g->tkctl);
			tls_server_unref(g->tls);
			free(g->relays);
			free(g->ctl);
			free(g->spawned_ms);
			free(kh);
			free(ctl);
			free(tk);
			free(kh_ends);
			free(tk_ends);
			memset(g, 0, sizeof(*g));
			return -1;
		}
	}
	/* The credential socketpair only now: the key process must not hold
	 * it (it would see the passwords of credential changes). */
	if (control != NULL &&
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cred) < 0)
		fatal("socketpair");
	g->credfd = cred[0];
	/* The keyholder gets its ends only; relays never see the keytab. */
	g->keyholder = fork_keyholder(g, kh, ctl, tk, kh_ends, khctl[1], cred[1]);
	close(khctl[1]);
	if (cred[1] >= 0) {
		close(cred[1]);
		set_nonblock(g->credfd);
	}
	for (i = 0; i < n; i++)
		close(kh[i][1]);
	for (i = 0; i < n; i++) {
		g->relays[i] = fork_relay(g, i, kh, ctl, tk);
		g->spawned_ms[i] = kg_now_ms();
		close(kh[i][0]);
		close(ctl[i][1]);
		if (tk[i][0] >= 0)
			close(tk[i][0]);
	}
	g->alive = n + 1 + (g->tlskey != 0);
	free(kh);
	free(ctl);
	free(tk);
	free(kh_ends);
	free(tk_ends);
	if (g->tlskey != 0)
		log_info("generation %u: keyholder %d, TLS key process %d, %u "
		    "relay worker(s)", g->id, (int)g->keyholder, (int)g->tlskey, n);
	else
		log_info("generation %u: keyholder %d, %u relay worker(s)", g->id,
		    (int)g->keyholder, n);
	return 0;
}

static struct generation *
current(void)
{
	struct generation *best = NULL;
	size_t i;

	for (i = 0; i < MAX_GENERATIONS; i++)
		if (gens[i].id != 0 && !gens[i].draining &&
		    (best == NULL || gens[i].id > best->id))
			best = &gens[i];
	return best;
}

/*
 * A new relay in slot w of a running generation: a fresh pair of sockets,
 * the keyholder's end handed to the keyholder for that slot.  A slot that
 * was started less than RESTART_BACKOFF_MS ago waits that long first, so a
 * relay that dies at once does not spin.  -1 when the keyholder cannot take
 * it (gone): then the generation is restarted as a whole.
 */
static int
respawn_relay(struct generation *g, unsigned w)
{
	int (*kh)[2], (*ctl)[2], (*tk)[2];
	uint64_t now = kg_now_ms();
	unsigned j;
	int rc;

	if (g->khctl < 0 || (g->tlskey != 0 && g->tkctl < 0))
		return -1;
	if (now < g->spawned_ms[w] + RESTART_BACKOFF_MS)
		usleep((useconds_t)(g->spawned_ms[w] + RESTART_BACKOFF_MS - now) * 1000);
	kh = calloc(g->nrelays, sizeof(*kh));
	ctl = calloc(g->nrelays, sizeof(*ctl));
	tk = calloc(g->nrelays, sizeof(*tk));
	if (kh == NULL || ctl == NULL || tk == NULL)
		fatal("calloc");
	for (j = 0; j < g->nrelays; j++)
		kh[j][0] = kh[j][1] = ctl[j][0] = ctl[j][1] = tk[j][0] =
		    tk[j][1] = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, kh[w]) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl[w]) < 0 ||
	    (g->tlskey != 0 &&
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, tk[w]) < 0))
		fatal("socketpair");
	rc = kg_ipc_send_fd(g->khctl, w, kh[w][1]);
	close(kh[w][1]);
	/* The key process serves the new relay on a socket of its own. */
	if (rc == KG_OK && g->tlskey != 0)
		rc = kg_ipc_send_fd(g->tkctl, w, tk[w][1]);
	if (tk[w][1] >= 0)
		close(tk[w][1]);
	if (rc != KG_OK) {
		close(kh[w][0]);
		close(ctl[w][0]);
		close(ctl[w][1]);
		if (tk[w][0] >= 0)
			close(tk[w][0]);
		free(kh);
		free(ctl);
		free(tk);
		return -1;
	}
	if (g->ctl[w] >= 0)
		close(g->ctl[w]);
	g->ctl[w] = ctl[w][0];
	g->relays[w] = fork_relay(g, w, kh, ctl, tk);
	g->spawned_ms[w] = kg_now_ms();
	close(kh[w][0]);
	close(ctl[w][1]);
	if (tk[w][0] >= 0)
		close(tk[w][0]);
	free(kh);
	free(ctl);
	free(tk);
	log_info("generation %u: relay %u restarted as %d", g->id, w,
	    (int)g->relays[w]);
	return 0;
}

/* One relay of a running generation exited: replace it alone, the
 * others serve on.  0 when a new one runs in its slot. */
static int
relay_died(struct generation *g, pid_t pid, int status)
{
	unsigned w;

	for (w = 0; w < g->nrelays && g->relays[w] != pid; w++)
		;
	if (w == g->nrelays)
		return -1;
	if (WIFSIGNALED(status))
		log_warnx("generation %u: relay %u (%d) killed by signal %d: "
		    "starting a new one in its place", g->id, w, (int)pid,
		    WTERMSIG(status));
	else
		log_warnx("generation %u: relay %u (%d) exited with %d: starting "
		    "a new one in its place", g->id, w, (int)pid,
		    WEXITSTATUS(status));
	return respawn_relay(g, w);
}

/* "relay 1 (pid 4242) killed by the sandbox: forbidden system call openat",
 * the relay named by its slot, as relay_died() names it. */
static void
log_violation(const struct generation *g, pid_t pid)
{
	char call[64], who[32];
	unsigned j;

	sandbox_violation(pid, call, sizeof(call));
	snprintf(who, sizeof(who), pid == g->tlskey ? "TLS key process" :
	    "keyholder");
	for (j = 0; j < g->nrelays; j++)
		if (pid == g->relays[j])
			snprintf(who, sizeof(who), "relay %u", j);
	log_warnx("generation %u: %s (pid %d) killed by the sandbox: "
	    "forbidden system call %s", g->id, who, (int)pid, call);
}

static void
reap(int *restart)
{
	struct generation *g;
	pid_t pid;
	int status;
	size_t i;
	unsigned j;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < MAX_GENERATIONS; i++) {
			g = &gens[i];
			if (g->id == 0)
				continue;
			int mine = pid == g->keyholder ||
			    (g->tlskey != 0 && pid == g->tlskey);
			for (j = 0; j < g->nrelays && !mine; j++)
				mine = pid == g->relays[j];
			if (!mine)
				continue;
			if (pid == g->tlskey && !g->draining && !got_term)
				log_warnx("generation %u: the TLS key process "
				    "(pid %d) is gone: TLS handshakes fail until "
				    "the generation is restarted, now", g->id,
				    (int)pid);
			if (pid == g->keyholder && !got_term &&
			    !(WIFEXITED(status) && WEXITSTATUS(status) == 0) &&
			    !(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM))
				keyholder_died = 1;
			if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
				log_violation(g, pid);
			if (!g->draining && !got_term) {
				if (pid != g->keyholder && relay_died(g, pid, status) == 0)
					continue;
				if (WIFSIGNALED(status))
					log_warnx("generation %u: child %d killed "
					    "by signal %d: restarting", g->id,
					    (int)pid, WTERMSIG(status));
				else
					log_warnx("generation %u: child %d "
					    "exited with %d: restarting", g->id,
					    (int)pid, WEXITSTATUS(status));
				*restart = 1;
				crashed_conf = g->conf;
				drain_generation(g);
				kill(g->keyholder, SIGTERM);
			}
			if (--g->alive == 0) {
				log_info("generation %u finished", g->id);
				if (g->tls)
					tls_server_unref(g->tls);
				if (current() != NULL && g->conf != current()->conf) {
					conf_free(g->conf);
					free(g->conf);
				}
				free(g->relays);
				free(g->ctl);
				free(g->spawned_ms);
				if (g->khctl >= 0)
					close(g->khctl);
				if (g->credfd >= 0)
					close(g->credfd);
				if (g->tkctl >= 0)
					close(g->tkctl);
				memset(g, 0, sizeof(*g));
			}
		}
	}
}

static void
reload(void)
{
	struct generation *old = current();
	struct conf *c = calloc(1, sizeof(*c));
	char err[512];

	if (c == NULL)
		return;
	if (conf_load(conf_path, c, err, sizeof(err)) < 0) {
		log_warnx("reload refused, keeping the running configuration: %s",
		    err);
		free(c);
		return;
	}
	if (c->replay_entries != replay_capacity(replay))
		log_warnx("replay_cache_entries %u takes effect when kerbgated "
		    "restarts; the replay cache keeps %zu entries", c->replay_entries,
		    replay_capacity(replay));
	bind_listeners(c, worker_count(c));
	if (start_generation(c) < 0) {
		log_warnx("reload failed; keeping the running configuration");
		conf_free(c);
		free(c);
		return;
	}
	if (old != NULL)
		drain_generation(old);
	log_info("reloaded %s", conf_path);
}

static void
restart_current(void)
{
	struct generation *g;
	struct conf *c = NULL;
	size_t i;
	unsigned newest = 0;

	/* The newest generation's configuration, draining or not. */
	for (i = 0; i < MAX_GENERATIONS; i++)
		if (gens[i].id > newest) {
			newest = gens[i].id;
			c = gens[i].conf;
		}
	/* Every process of the crashed generation may have exited (a relay
	 * exits when its keyholder goes) before this runs; its
	 * configuration was not freed, no generation being current. */
	if (c == NULL)
		c = crashed_conf;
	crashed_conf = NULL;
	if (c == NULL || (g = current()) != NULL)
		return;
	start_generation(c);
}

static void
shutdown_all(void)
{
	size_t i;
	unsigned j;
	time_t until = time(NULL) + 10;

	/* Relays first: they finish their connections (and may still need
	 * the keyholder for them); a keyholder exits once its relays are gone. */
	for (i = 0; i < MAX_GENERATIONS; i++) {
		if (gens[i].id == 0)
			continue;
		for (j = 0; j < gens[i].nrelays; j++)
			kill(gens[i].relays[j], SIGTERM);
	}
	while (time(NULL) < until && waitpid(-1, NULL, WNOHANG) >= 0)
		usleep(50000);
	for (i = 0; i < MAX_GENERATIONS; i++) {
		if (gens[i].id == 0)
			continue;
		for (j = 0; j < gens[i].nrelays; j++)
			kill(gens[i].relays[j], SIGKILL);
		kill(gens[i].keyholder, SIGKILL);
		if (gens[i].tlskey != 0)
			kill(gens[i].tlskey, SIGKILL);
	}
	while (waitpid(-1, NULL, 0) > 0)
		;
}

int
main(int argc, char **argv)
{
	struct conf *c;
	struct sigaction sa;
	sigset_t block;
	char err[512];
	int ch, foreground = 0, check = 0, verbose = 0, restart = 0;

	while ((ch = getopt(argc, argv, "df:nv")) != -1) {
		switch (ch) {
		case 'd': foreground = 1; break;
		case 'f': conf_path = optarg; break;
		case 'n': check = 1; break;
		case 'v': verbose++; break;
		default: usage();
		}
	}
	log_init("kerbgated", foreground || check, verbose);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("calloc");
	if (conf_load(conf_path, c, err, sizeof(err)) < 0) {
		fprintf(stderr, "kerbgated: %s\n", err);
		return 1;
	}
	if (check) {
		fprintf(stderr, "kerbgated: configuration OK\n");
		return 0;
	}
	if (!foreground && daemon(0, 0) < 0)
		fatal("daemon");
	if ((metrics = metrics_map()) == NULL)
		fatal("mmap for metrics");
	if (sandbox_init() < 0)
		fatal("mmap for the sandbox's reports");
	if ((replay = replay_new_shared(c->replay_entries)) == NULL)
		fatal("cannot map a replay cache of %u entries (%zu bytes)",
		    c->replay_entries, replay_region_size(c->replay_entries));
	bind_listeners(c, worker_count(c));
	if (c->cred_control_socket[0] != '\0' &&
	    (control = control_new(c->cred_control_socket, c->cred_store,
	    c->cred_control_group, err,
	    sizeof(err))) == NULL)
		fatalx("%s", err);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Signals are taken only inside sigsuspend(): none is lost. */
	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &parent_mask);
	if (start_generation(c) < 0)
		fatalx("cannot start: see the messages above");
	log_info("started with %s", conf_path);

	while (!got_term) {
		struct pollfd pfd[CONTROL_MAX_FDS];
		struct timespec tick = { 1, 0 };
		size_t npfd = 0;
		int kh_fd = current_credfd();

		/* Signals are taken only while waiting here, as before. */
		if (control != NULL)
			npfd = control_fill(control, kh_fd, pfd);
		/* A second at most: a client that stalls is timed out. */
		if (ppoll(pfd, npfd, control != NULL ? &tick : NULL, &parent_mask) > 0 &&
		    control != NULL && control_handle(control, kh_fd, pfd, npfd) < 0)
			close_credfd(kh_fd);
		if (got_chld) {
			got_chld = 0;
			reap(&restart);
		}
		if (got_hup) {
			got_hup = 0;
			reload();
		}
		if (restart && !got_term) {
			restart = 0;
			usleep(RESTART_BACKOFF_MS * 1000);
			restart_current();
		}
	}
	log_info("terminating");
	control_free(control);
	signal(SIGCHLD, SIG_DFL);
	shutdown_all();
	return 0;
}
