/*
 * kerbgate-mgmtd: the appliance's management API over mutual TLS.
 *
 * The management plane (kerbgate-roll, an admin's script) reaches it with a
 * client certificate from the pinned management CA; it hands credential
 * changes to kerbgated's keyholder through the control socket, and writes
 * every change to the audit log.  It holds no key of the ASA account: a
 * password or key passes through its memory on the way to the keyholder and
 * is wiped (request buffer, parsed JSON, encoded frame).
 *
 * Configuration (JSON, docs/config.md "kerbgate-mgmtd"):
 *   { "listen": "0.0.0.0:8443",
 *     "tls": { "cert": "...", "key": "...", "client_ca": "..." },
 *     "control_socket": "/run/kerbgate/control.sock",
 *     "audit_log": "/data/log/audit.log",
 *     "max_body_bytes": 65536,
 *     "package": { "signer_key": "...", "key": "..." },
 *     "user": "_kgmgmt",
 *     "web": { "listen": "0.0.0.0:443", "state_dir": "/data/mgmt/web", ... } }
 *
 * With "web", a second HTTPS listener serves the browser (web.h): no client
 * certificate, a password login set with a one-time setup code at the
 * first start, the pages and the routes they use (docs/api.md).
 * With "package", POST /api/v1/credentials/package takes sealed credential
 * packages (docs/package.md): signer_key is the management plane's pinned
 * Ed25519 public key, key this appliance's X25519 private key (0600), read
 * before privileges are dropped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>

#include "api.h"
#include "audit.h"
#include "config.h"
#include "credpkg.h"
#include "ctlclient.h"
#include "log.h"
#include "server.h"
#include "tls.h"
#include "upload.h"
#include "util.h"
#include "web.h"

struct mgmtd_conf {
	const char	*listen;
	const char	*cert, *key, *client_ca;
	const char	*control_socket;
	const char	*audit_log;
	const char	*user;
	const char	*pkg_signer, *pkg_key;
	long		 max_body;
	int		 have_web;
	struct web_conf	 web;
	const char	*rauc_keyring;
};

struct backend_ctx {
	const char	*control_socket;
	int		 audit_fd;
};

static int
load_conf(const json_t *root, const char *file, struct mgmtd_conf *c)
{
	static const char *const top[] = { "listen", "tls", "control_socket",
	    "audit_log", "max_body_bytes", "user", "package", "web", NULL };
	static const char *const tlskeys[] = { "cert", "key", "client_ca", NULL };
	static const char *const pkgkeys[] = { "signer_key", "key", NULL };
	static const char *const webkeys[] = { "listen", "state_dir", "www", "cert", "key",
	    "metrics", "kerbgated_config", "release_file", "upload_dir", "max_upload_bytes",
	    "session_idle", "session_max", "rauc_keyring", "power_socket", NULL };
	struct kg_cfgerr err = { { 0 } };
	struct kg_cfgctx ctx;
	const json_t *tls = NULL, *pkg = NULL, *web = NULL;

	memset(c, 0, sizeof(*c));
	c->control_socket = "/run/kerbgate/control.sock";
	c->max_body = API_MAX_BODY_DEFAULT;
	kg_cfgctx_init(&ctx, file, &err);
	kg_cfg_check_keys(root, top, &ctx);
	kg_cfg_string(root, "listen", 1, &c->listen, &ctx);
	kg_cfg_string(root, "control_socket", 0, &c->control_socket, &ctx);
	kg_cfg_string(root, "audit_log", 1, &c->audit_log, &ctx);
	kg_cfg_string(root, "user", 0, &c->user, &ctx);
	kg_cfg_int(root, "max_body_bytes", 0, 1024, 1024 * 1024, &c->max_body, &ctx);
	if (kg_cfg_object(root, "tls", 1, &tls, &ctx) == 1) {
		kg_cfg_push_key(&ctx, "tls");
		kg_cfg_check_keys(tls, tlskeys, &ctx);
		kg_cfg_string(tls, "cert", 1, &c->cert, &ctx);
		kg_cfg_string(tls, "key", 1, &c->key, &ctx);
		kg_cfg_string(tls, "client_ca", 1, &c->client_ca, &ctx);
		kg_cfg_pop(&ctx);
	}
	if (kg_cfg_object(root, "package", 0, &pkg, &ctx) == 1) {
		kg_cfg_push_key(&ctx, "package");
		kg_cfg_check_keys(pkg, pkgkeys, &ctx);
		kg_cfg_string(pkg, "signer_key", 1, &c->pkg_signer, &ctx);
		kg_cfg_string(pkg, "key", 1, &c->pkg_key, &ctx);
		kg_cfg_pop(&ctx);
	}
	if (kg_cfg_object(root, "web", 0, &web, &ctx) == 1) {
		struct web_conf *w = &c->web;

		c->have_web = 1;
		w->state_dir = "/data/mgmt/web";
		w->www = "/usr/share/kerbgate/www";
		w->release_file = "/etc/kerbgate-release";
		w->upload_dir = "/data/firmware";
		w->max_upload = UPLOAD_MAX_DEFAULT;
		w->power_socket = "/run/kerbgate-power/power.sock";
		kg_cfg_push_key(&ctx, "web");
		kg_cfg_check_keys(web, webkeys, &ctx);
		kg_cfg_string(web, "listen", 1, &w->listen, &ctx);
		kg_cfg_string(web, "state_dir", 0, &w->state_dir, &ctx);
		kg_cfg_string(web, "www", 0, &w->www, &ctx);
		kg_cfg_string(web, "cert", 0, &w->cert, &ctx);
		kg_cfg_string(web, "key", 0, &w->key, &ctx);
		kg_cfg_string(web, "metrics", 0, &w->metrics, &ctx);
		kg_cfg_string(web, "kerbgated_config", 0, &w->kerbgated_conf, &ctx);
		kg_cfg_string(web, "release_file", 0, &w->release_file, &ctx);
		kg_cfg_string(web, "upload_dir", 0, &w->upload_dir, &ctx);
		kg_cfg_string(web, "rauc_keyring", 0, &c->rauc_keyring, &ctx);
		kg_cfg_string(web, "power_socket", 0, &w->power_socket, &ctx);
		kg_cfg_int(web, "max_upload_bytes", 0, 1024 * 1024, 4L * 1024 * 1024 * 1024,
		    &w->max_upload, &ctx);
		kg_cfg_int(web, "session_idle", 0, 60, 86400, &w->idle_s, &ctx);
		kg_cfg_int(web, "session_max", 0, 300, 7 * 86400, &w->max_s, &ctx);
		kg_cfg_pop(&ctx);
		if ((w->cert == NULL) != (w->key == NULL))
			log_warnx("%s: web: give both cert and key, or neither (then "
			    "mgmtd makes its own in state_dir)", file), ctx.nerrors++;
	}
	c->web.audit_log = c->audit_log;
	if (ctx.nerrors > 0) {
		log_warnx("%s", err.msg);
		return -1;
	}
	return 0;
}

static int
listen_on(const char *spec)
{
	struct sockaddr_in sin;
	char host[64];
	const char *colon = strrchr(spec, ':');
	long port;
	int fd, one = 1;

	if (colon == NULL || (size_t)(colon - spec) >= sizeof(host) ||
	    (port = strtol(colon + 1, NULL, 10)) < 1 || port > 65535)
		fatalx("listen \"%s\": give ADDRESS:PORT, e.g. 0.0.0.0:8443", spec);
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		fatalx("listen \"%s\": %s is not an IPv4 address", spec, host);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		fatal("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		fatal("cannot listen on %s", spec);
	if (listen(fd, 64) < 0)
		fatal("listen");
	return fd;
}

static struct passwd *
service_user(const char *user)
{
	struct passwd *pw;

	if (user == NULL || geteuid() != 0)
		return NULL;
	if ((pw = getpwnam(user)) == NULL)
		fatalx("user %s does not exist: create it (useradd --system "
		    "--no-create-home %s) or name another in the configuration", user, user);
	if (pw->pw_uid == 0)
		fatalx("user %s is root: kerbgate-mgmtd must run unprivileged", user);
	return pw;
}

/* Runs as the configured user (in the control socket's group) from here on:
 * it parses what the network sends. */
static void
become(const char *user)
{
	struct passwd *pw = service_user(user);

	if (pw == NULL)
		return;
	if (initgroups(user, pw->pw_gid) < 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		fatal("cannot drop privileges to %s", user);
	if (setuid(0) == 0)
		fatalx("privileges were not dropped");
}

static int
be_ctl(void *ctx, const struct ctl_req *req, struct ctl_result *res, char *err,
    size_t errlen)
{
	struct backend_ctx *b = ctx;

	return ctlclient_call(b->control_socket, req, res, CTLCLIENT_TIMEOUT_MS, err,
	    errlen);
}

static void
be_audit(void *ctx, const struct api_client *who, const char *action, uint32_t kvno,
    const char *result)
{
	struct backend_ctx *b = ctx;

	audit_write(b->audit_fd, who, action, kvno, result);
}

/* The web listener's TLS context from its certificate files. */
static struct tls_server *
web_tls(const struct web *w, char *err, size_t errlen)
{
	struct tls_vhost_config vh = { 0 };
	struct tls_server_config tc = { 0 };

	vh.cert_file = w->cert;
	vh.key_file = w->key;
	tc.vhosts = &vh;
	tc.nvhosts = 1;
	return tls_server_new(&tc, err, errlen);
}

/* An uploaded certificate: new connections get it, old ones keep theirs. */
static int
reload_web_cert(void *ctx, char *err, size_t errlen)
{
	struct server_config *sc = ctx;
	struct tls_server *t = web_tls(sc->web, err, errlen);

	if (t == NULL)
		return -1;
	tls_server_unref(sc->tls);
	sc->tls = t;
	return 0;
}

/* The web listener: state, certificate, setup code (as root), socket. */
static void
web_setup(const struct mgmtd_conf *conf, struct web *w, struct server_config *wsc,
    int *audit_rfd)
{
	struct passwd *pw = service_user(conf->user);
	char err[300];

	if (web_first_start(w, &conf->web, pw ? pw->pw_uid : (uid_t)-1,
	    pw ? pw->pw_gid : (gid_t)-1, err, sizeof(err)) < 0)
		fatalx("web: %s", err);
	if ((wsc->tls = web_tls(w, err, sizeof(err))) == NULL)
		fatalx("web: %s", err);
	if (mkdir(conf->web.upload_dir, 0700) < 0 && errno != EEXIST)
		fatal("web: cannot make %s", conf->web.upload_dir);
	if (pw != NULL && chown(conf->web.upload_dir, pw->pw_uid, pw->pw_gid) < 0)
		fatal("web: cannot give %s to %s", conf->web.upload_dir, conf->user);
	/* The audit log is root's 0600 file: read it through a descriptor
	 * opened before privileges go. */
	*audit_rfd = open(conf->audit_log, O_RDONLY | O_CLOEXEC);
	wsc->listen_fd = listen_on(conf->web.listen);
	wsc->web = w;
	wsc->max_body = API_MAX_BODY_DEFAULT;
	w->reload_cert = reload_web_cert;
	w->reload_ctx = wsc;
}

/*
 * A fresh appliance has no mutual-TLS provisioning yet (docs/firmware.md):
 * mgmtd then runs the web listener alone, so the admin can set the password
 * at first boot.  The provisioning files live in a root-only folder that
 * mgmtd cannot look into once it runs as its user, so the watch on that
 * folder is set up now, as root: when every missing file has been written
 * (closed after writing, or moved in), mgmtd exits and init starts it again,
 * with both listeners.
 */
struct provision_watch {
	ev_io		 io;
	int		 fd;
	const char	*files[3];	/* cert, key, client_ca */
	int		 missing;	/* bit i: files[i] not written yet */
};

static int
provisioned(const struct mgmtd_conf *c)
{
	return access(c->cert, R_OK) == 0 && access(c->key, R_OK) == 0 &&
	    access(c->client_ca, R_OK) == 0;
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static void
on_provision(struct ev_loop *loop, ev_io *io, int revents)
{
	struct provision_watch *pw = (struct provision_watch *)io;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t n;
	int i;

	(void)revents;
	if ((n = read(pw->fd, buf, sizeof(buf))) <= 0)
		return;
	for (char *p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
		ev = (const struct inotify_event *)p;
		for (i = 0; ev->len > 0 && i < 3; i++)
			if (strcmp(ev->name, base_name(pw->files[i])) == 0)
				pw->missing &= ~(1 << i);
	}
	if (pw->missing != 0)
		return;
	log_info("provisioning written (%s, %s, %s): restarting to open the "
	    "management API listener", pw->files[0], pw->files[1], pw->files[2]);
	ev_break(loop, EVBREAK_ALL);
}

/* As root: watch the folders of the missing provisioning files. */
static void
provision_watch_start(const struct mgmtd_conf *c, struct provision_watch *pw)
{
	char dir[256];
	int i;

	pw->files[0] = c->cert;
	pw->files[1] = c->key;
	pw->files[2] = c->client_ca;
	if ((pw->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
		fatal("inotify");
	for (i = 0; i < 3; i++) {
		const char *slash = strrchr(pw->files[i], '/');

		if (access(pw->files[i], R_OK) == 0)
			continue;
		pw->missing |= 1 << i;
		snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - pw->files[i]) : 1,
		    slash ? pw->files[i] : ".");
		if (inotify_add_watch(pw->fd, dir[0] ? dir : "/", IN_CLOSE_WRITE |
		    IN_MOVED_TO) < 0)
			log_warn("cannot watch %s: restart kerbgate-mgmtd after "
			    "provisioning to open the management API", dir);
	}
	log_warnx("the management API is not provisioned yet (no %s%s%s%s%s): "
	    "only the web listener runs; the API listener opens when provisioning "
	    "writes them", pw->missing & 1 ? c->cert : "",
	    (pw->missing & 1) && (pw->missing & 6) ? ", " : "",
	    pw->missing & 2 ? c->key : "", (pw->missing & 2) && (pw->missing & 4) ?
	    ", " : "", pw->missing & 4 ? c->client_ca : "");
}

/* The mutual-TLS API listener: its certificate, key and client CA as root. */
static void
api_setup(const struct mgmtd_conf *conf, struct server_config *sc)
{
	struct tls_vhost_config vh = { 0 };
	struct tls_server_config tc = { 0 };
	char err[256];

	vh.cert_file = conf->cert;
	vh.key_file = conf->key;
	tc.vhosts = &vh;
	tc.nvhosts = 1;
	tc.no_session_tickets = true;	/* every connection shows its certificate */
	if ((sc->tls = tls_server_new(&tc, err, sizeof(err))) == NULL ||
	    tls_server_require_client_cert(sc->tls, conf->client_ca, err, sizeof(err)) < 0)
		fatalx("%s", err);
	sc->listen_fd = listen_on(conf->listen);
}

static void
on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)revents;
	log_info("signal %d: exiting", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

int
main(int argc, char **argv)
{
	const char *file = "/etc/kerbgate/mgmtd.json";
	static struct provision_watch pwatch;
	struct server_config sc = { 0 }, wsc = { 0 };
	static struct web web;
	int audit_rfd = -1;
	struct api_backend be = { 0 };
	struct backend_ctx bctx = { 0 };
	struct kg_cfgerr cerr = { { 0 } };
	struct mgmtd_conf conf;
	struct ev_loop *loop;
	ev_signal sterm, sint;
	char err[256];
	json_t *root;
	int ch, debug = 0, api_on;

	while ((ch = getopt(argc, argv, "df:")) != -1) {
		switch (ch) {
		case 'd': debug = 1; break;
		case 'f': file = optarg; break;
		default:
			fprintf(stderr, "usage: kerbgate-mgmtd [-d] [-f config.json]\n");
			return 2;
		}
	}
	log_init("kerbgate-mgmtd", debug, 0);
	kg_json_wipe_on_free(malloc, free);	/* request bodies carry passwords */
	signal(SIGPIPE, SIG_IGN);
	if ((root = kg_config_load(file, &cerr)) == NULL)
		fatalx("%s", cerr.msg);
	if (load_conf(root, file, &conf) < 0)
		fatalx("%s: the configuration is not valid (above)", file);

	/* Without provisioning and without a web listener there is nothing to
	 * serve: say what is missing (the mutual-TLS setup below names it). */
	api_on = !conf.have_web || provisioned(&conf);
	if (api_on)
		api_setup(&conf, &sc);
	else
		provision_watch_start(&conf, &pwatch);
	if ((bctx.audit_fd = audit_open(conf.audit_log, err, sizeof(err))) < 0)
		fatalx("%s", err);
	if (conf.pkg_signer != NULL &&
	    ((be.pkg_signer = pkg_load_key(conf.pkg_signer, EVP_PKEY_ED25519, 0, err,
	    sizeof(err))) == NULL ||
	    (be.pkg_key = pkg_load_key(conf.pkg_key, EVP_PKEY_X25519, 1, err,
	    sizeof(err))) == NULL))
		fatalx("package: %s", err);
	if (conf.have_web)
		web_setup(&conf, &web, &wsc, &audit_rfd);
	become(conf.user);

	bctx.control_socket = conf.control_socket;
	be.ctl = be_ctl;
	be.audit = be_audit;
	be.ctx = &bctx;
	sc.max_body = (size_t)conf.max_body;
	sc.api = &be;
	loop = EV_DEFAULT;
	if (api_on && server_start(loop, &sc) < 0)
		fatalx("cannot start the server");
	if (!api_on) {
		ev_io_init(&pwatch.io, on_provision, pwatch.fd, EV_READ);
		ev_io_start(loop, &pwatch.io);
	}
	if (conf.have_web) {
		web_init(&web, &be, bctx.audit_fd, audit_rfd);
		if (upload_init(&web, loop, conf.rauc_keyring) < 0 ||
		    server_start(loop, &wsc) < 0)
			fatalx("cannot start the web listener");
		log_info("web listener on %s (password login, pages from %s)",
		    conf.web.listen, conf.web.www);
	}
	ev_signal_init(&sterm, on_signal, SIGTERM);
	ev_signal_init(&sint, on_signal, SIGINT);
	ev_signal_start(loop, &sterm);
	ev_signal_start(loop, &sint);
	if (api_on)
		log_info("listening on %s (client certificates from %s), control socket %s%s",
		    conf.listen, conf.client_ca, conf.control_socket, be.pkg_key != NULL ?
		    ", credential packages taken" : "");
	ev_run(loop, 0);
	if (api_on)
		tls_server_unref(sc.tls);
	EVP_PKEY_free(be.pkg_signer);
	EVP_PKEY_free(be.pkg_key);
	json_decref(root);
	return 0;
}
