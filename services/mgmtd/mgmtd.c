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
 *     "user": "_kgmgmt" }
 *
 * With "package", POST /api/v1/credentials/package takes sealed credential
 * packages (docs/package.md): signer_key is the management plane's pinned
 * Ed25519 public key, key this appliance's X25519 private key (0600), read
 * before privileges are dropped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
#include "util.h"

struct mgmtd_conf {
	const char	*listen;
	const char	*cert, *key, *client_ca;
	const char	*control_socket;
	const char	*audit_log;
	const char	*user;
	const char	*pkg_signer, *pkg_key;
	long		 max_body;
};

struct backend_ctx {
	const char	*control_socket;
	int		 audit_fd;
};

static int
load_conf(const json_t *root, const char *file, struct mgmtd_conf *c)
{
	static const char *const top[] = { "listen", "tls", "control_socket",
	    "audit_log", "max_body_bytes", "user", "package", NULL };
	static const char *const tlskeys[] = { "cert", "key", "client_ca", NULL };
	static const char *const pkgkeys[] = { "signer_key", "key", NULL };
	struct kg_cfgerr err = { { 0 } };
	struct kg_cfgctx ctx;
	const json_t *tls = NULL, *pkg = NULL;

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

/* Runs as the configured user (in the control socket's group) from here on:
 * it parses what the network sends. */
static void
become(const char *user)
{
	struct passwd *pw;

	if (user == NULL || geteuid() != 0)
		return;
	if ((pw = getpwnam(user)) == NULL)
		fatalx("user %s does not exist: create it (useradd --system "
		    "--no-create-home %s) or name another in the configuration", user, user);
	if (pw->pw_uid == 0)
		fatalx("user %s is root: kerbgate-mgmtd must run unprivileged", user);
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
	struct tls_vhost_config vh = { 0 };
	struct tls_server_config tc = { 0 };
	struct server_config sc = { 0 };
	struct api_backend be = { 0 };
	struct backend_ctx bctx = { 0 };
	struct kg_cfgerr cerr = { { 0 } };
	struct mgmtd_conf conf;
	struct ev_loop *loop;
	ev_signal sterm, sint;
	char err[256];
	json_t *root;
	int ch, debug = 0;

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

	vh.cert_file = conf.cert;
	vh.key_file = conf.key;
	tc.vhosts = &vh;
	tc.nvhosts = 1;
	tc.no_session_tickets = true;	/* every connection shows its certificate */
	if ((sc.tls = tls_server_new(&tc, err, sizeof(err))) == NULL ||
	    tls_server_require_client_cert(sc.tls, conf.client_ca, err, sizeof(err)) < 0)
		fatalx("%s", err);
	if ((bctx.audit_fd = audit_open(conf.audit_log, err, sizeof(err))) < 0)
		fatalx("%s", err);
	if (conf.pkg_signer != NULL &&
	    ((be.pkg_signer = pkg_load_key(conf.pkg_signer, EVP_PKEY_ED25519, 0, err,
	    sizeof(err))) == NULL ||
	    (be.pkg_key = pkg_load_key(conf.pkg_key, EVP_PKEY_X25519, 1, err,
	    sizeof(err))) == NULL))
		fatalx("package: %s", err);
	sc.listen_fd = listen_on(conf.listen);
	become(conf.user);

	bctx.control_socket = conf.control_socket;
	be.ctl = be_ctl;
	be.audit = be_audit;
	be.ctx = &bctx;
	sc.max_body = (size_t)conf.max_body;
	sc.api = &be;
	loop = EV_DEFAULT;
	if (server_start(loop, &sc) < 0)
		fatalx("cannot start the server");
	ev_signal_init(&sterm, on_signal, SIGTERM);
	ev_signal_init(&sint, on_signal, SIGINT);
	ev_signal_start(loop, &sterm);
	ev_signal_start(loop, &sint);
	log_info("listening on %s (client certificates from %s), control socket %s%s",
	    conf.listen, conf.client_ca, conf.control_socket, be.pkg_key != NULL ?
	    ", credential packages taken" : "");
	ev_run(loop, 0);
	tls_server_unref(sc.tls);
	EVP_PKEY_free(be.pkg_signer);
	EVP_PKEY_free(be.pkg_key);
	json_decref(root);
	return 0;
}
