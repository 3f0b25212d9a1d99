/*
 * kerbgate-smbpull: pull mode for credential rotation (docs/package.md).
 *
 * On a schedule it reads this appliance's sealed credential package from an
 * SMB share (libsmbclient; Kerberos from a credential cache, or a user and a
 * password file) into memory, and hands it to kerbgate-mgmtd over mutual
 * TLS (POST /api/v1/credentials/package), which checks its signature and
 * stages, verifies and activates it.  The package is ciphertext; smbpull
 * never holds it decrypted and never writes it anywhere.  It remembers the
 * SHA-256 of the last package the appliance took, so the same package is
 * not sent again; a package that was staged but did not verify yet (AD does
 * not have the password yet) is sent again at the next run.
 *
 * Once configured it runs confined (confine.h): its own user, NoNewPrivs,
 * Landlock, a seccomp deny-list.
 *
 *   kerbgate-smbpull [-d] [-1] [-f /etc/kerbgate/smbpull.json]
 *     -1  one run, then exit: 0 applied or nothing new, 1 refused or failed
 *     -d  log to stderr with debug lines; twice: libsmbclient's too
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "confine.h"
#include "credpkg.h"
#include "log.h"
#include "mgmtclient.h"
#include "pullstate.h"
#include "smbfetch.h"
#include "tls.h"
#include "util.h"

struct smbpull {
	const char	*url;
	const char	*mgmtd;
	const char	*state_file;
	const char	*user;
	long		 interval;
	struct smbfetch_auth auth;
	struct mc_target t;
	struct tls_client *tls;
	char		 refused[PULL_HASH_HEX];	/* logged once, not resent */
};

static volatile sig_atomic_t quit;

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

/* The password file's first line; the file must be 0600. */
static int
read_password(const char *path, char *pw, size_t len, char *err, size_t errlen)
{
	struct stat st;
	FILE *f;
	size_t n;

	if ((f = fopen(path, "r")) == NULL)
		return kg_seterr(err, errlen, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fileno(f), &st) < 0 || (st.st_mode & 077) != 0) {
		fclose(f);
		return kg_seterr(err, errlen, "%s holds a password and must be 0600 "
		    "(chmod 600 %s)", path, path);
	}
	if (fgets(pw, (int)len, f) == NULL) {
		fclose(f);
		return kg_seterr(err, errlen, "%s is empty", path);
	}
	fclose(f);
	n = strcspn(pw, "\r\n");
	pw[n] = '\0';
	return n == 0 ? kg_seterr(err, errlen, "%s: the first line is empty", path) : 0;
}

static void
load(struct smbpull *p, const json_t *root, const char *file)
{
	static const char *const top[] = { "url", "auth", "interval", "mgmtd", "tls",
	    "state_file", "user", NULL };
	static const char *const authkeys[] = { "kerberos", "user", "password_file", NULL };
	static const char *const tlskeys[] = { "ca", "cert", "key", NULL };
	struct tls_client_config cc = { 0 };
	struct kg_cfgerr cerr = { { 0 } };
	const char *ca = NULL, *cert = NULL, *key = NULL, *user = NULL, *pwfile = NULL;
	const json_t *auth = NULL, *tls = NULL;
	struct kg_cfgctx ctx;
	char err[256];
	const char *bs;

	kg_cfgctx_init(&ctx, file, &cerr);
	kg_cfg_check_keys(root, top, &ctx);
	p->interval = 300;
	p->state_file = "/data/smbpull/last-applied";
	kg_cfg_string(root, "url", 1, &p->url, &ctx);
	kg_cfg_string(root, "mgmtd", 1, &p->mgmtd, &ctx);
	kg_cfg_string(root, "state_file", 0, &p->state_file, &ctx);
	kg_cfg_string(root, "user", 0, &p->user, &ctx);
	kg_cfg_int(root, "interval", 0, 1, 86400, &p->interval, &ctx);
	if (p->url != NULL && strncmp(p->url, "smb://", 6) != 0)
		kg_cfg_error(&ctx, "url", "give smb://SERVER/SHARE/PATH");
	if (p->mgmtd != NULL && mc_parse_url(p->mgmtd, &p->t) < 0)
		kg_cfg_error(&ctx, "mgmtd", "give https://HOST:PORT");
	if (kg_cfg_object(root, "auth", 1, &auth, &ctx) == 1) {
		kg_cfg_push_key(&ctx, "auth");
		kg_cfg_check_keys(auth, authkeys, &ctx);
		kg_cfg_bool(auth, "kerberos", 0, &p->auth.kerberos, &ctx);
		kg_cfg_string(auth, "user", 0, &user, &ctx);
		kg_cfg_string(auth, "password_file", 0, &pwfile, &ctx);
		if (p->auth.kerberos == (user != NULL) || (user == NULL) != (pwfile == NULL))
			kg_cfg_error(&ctx, NULL, "give either \"kerberos\": true (the credential "
			    "cache in KRB5CCNAME) or \"user\" and \"password_file\"");
		kg_cfg_pop(&ctx);
	}
	if (kg_cfg_object(root, "tls", 1, &tls, &ctx) == 1) {
		kg_cfg_push_key(&ctx, "tls");
		kg_cfg_check_keys(tls, tlskeys, &ctx);
		kg_cfg_string(tls, "ca", 1, &ca, &ctx);
		kg_cfg_string(tls, "cert", 1, &cert, &ctx);
		kg_cfg_string(tls, "key", 1, &key, &ctx);
		kg_cfg_pop(&ctx);
	}
	if (ctx.nerrors > 0)
		fatalx("%s", cerr.msg);
	if (user != NULL) {
		if ((bs = strchr(user, '\\')) != NULL) {
			snprintf(p->auth.domain, sizeof(p->auth.domain), "%.*s",
			    (int)(bs - user), user);
			user = bs + 1;
		}
		kg_strlcpy(p->auth.user, user, sizeof(p->auth.user));
		if (read_password(pwfile, p->auth.password, sizeof(p->auth.password), err,
		    sizeof(err)) < 0)
			fatalx("auth.password_file: %s", err);
	}
	cc.ca_file = ca;
	cc.no_session_resumption = true;
	if ((p->tls = tls_client_new(&cc, err, sizeof(err))) == NULL ||
	    tls_client_use_cert(p->tls, cert, key, err, sizeof(err)) < 0)
		fatalx("tls: %s", err);
}

/* The folder of \p path into \p dir (a path without a slash: "."). */
static const char *
folder_of(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return ".";
	snprintf(dir, len, "%.*s", slash == path ? 1 : (int)(slash - path), path);
	return dir;
}

/* From here on smbpull parses what the SMB server and mgmtd send: its own
 * user, NoNewPrivs, Landlock, seccomp (confine.h). */
static void
enter_confinement(const struct smbpull *p)
{
	static char state_dir[512], cc_dir[512];
	struct confine_opts o = { .user = p->user };
	struct confine_result res;
	const char *cc = getenv("KRB5CCNAME");
	char err[256];
	int n = 0;

	o.write_dirs[n++] = folder_of(p->state_file, state_dir, sizeof(state_dir));
	/* Kerberos stores the service tickets it gets in the cache. */
	if (p->auth.kerberos && cc != NULL && strncmp(cc, "FILE:", 5) == 0)
		o.write_dirs[n++] = folder_of(cc + 5, cc_dir, sizeof(cc_dir));
	else if (p->auth.kerberos && cc != NULL && strchr(cc, ':') == NULL)
		o.write_dirs[n++] = folder_of(cc, cc_dir, sizeof(cc_dir));
	if (n > 1 && strcmp(o.write_dirs[0], o.write_dirs[1]) == 0)
		o.write_dirs[--n] = NULL;
	if (geteuid() == 0 && p->user == NULL)
		log_warnx("running as root: name an unprivileged \"user\" in the "
		    "configuration");
	if (confine(&o, &res, err, sizeof(err)) < 0)
		fatalx("cannot confine kerbgate-smbpull: %s", err);
	if (res.landlock_abi > 0)
		log_info("confined: uid %u, NoNewPrivs, Landlock ABI %d (write: %s%s%s), "
		    "seccomp deny-list", (unsigned)getuid(), res.landlock_abi, o.write_dirs[0],
		    n > 1 ? ", " : "", n > 1 ? o.write_dirs[1] : "");
	else
		log_warnx("confined without Landlock (%s): uid %u, NoNewPrivs, seccomp "
		    "deny-list", res.landlock_why, (unsigned)getuid());
}

/* Hands the package to mgmtd; 0 taken (active), 1 to be sent again,
 * -1 refused (not sent again). */
static int
deliver(struct smbpull *p, const uint8_t *pkg, size_t len)
{
	const char *msg;
	json_t *ans = NULL;
	char err[256];
	int status, rc;

	if (mc_request_bytes(p->tls, &p->t, "POST", "/api/v1/credentials/package",
	    "application/octet-stream", pkg, len, &status, &ans, err, sizeof(err)) < 0) {
		log_warnx("cannot hand the package to kerbgate-mgmtd: %s; tried again in "
		    "%ld s", err, p->interval);
		return 1;
	}
	msg = json_string_value(json_object_get(ans, "message"));
	msg = msg ? msg : "(no message)";
	if (status == 200) {
		log_info("package applied: %s", msg);
		rc = 0;
	} else if (status == 422 || status == 503) {
		log_warnx("package staged, not active yet (%d): %s; sent again in %ld s "
		    "(expected until AD has the new password)", status, msg, p->interval);
		rc = 1;
	} else {
		log_warnx("package refused (%d): %s; nothing changed, not sent again until "
		    "the file changes", status, msg);
		rc = -1;
	}
	json_decref(ans);
	return rc;
}

/* One run: 0 applied or nothing new, 1 not (yet) applied. */
static int
run_once(struct smbpull *p)
{
	char hash[PULL_HASH_HEX], last[PULL_HASH_HEX], err[256];
	uint8_t *pkg;
	size_t len;
	int rc;

	if ((rc = smbfetch(p->url, &p->auth, PKG_MAX_LEN, &pkg, &len, err,
	    sizeof(err))) == SMBFETCH_ABSENT) {
		log_debug("no package at %s", p->url);
		return 0;
	}
	if (rc < 0) {
		log_warnx("%s; tried again in %ld s", err, p->interval);
		return 1;
	}
	pull_hash(pkg, len, hash);
	if (pull_state_load(p->state_file, last, err, sizeof(err)) < 0)
		log_warnx("%s", err);
	if (strcmp(hash, last) == 0 || strcmp(hash, p->refused) == 0) {
		log_debug("package %.16s already %s", hash, strcmp(hash, last) == 0 ?
		    "applied" : "refused");
		free(pkg);
		return strcmp(hash, last) == 0 ? 0 : 1;
	}
	log_info("new package at %s (%zu bytes, sha256 %.16s...): handing it to "
	    "kerbgate-mgmtd", p->url, len, hash);
	rc = deliver(p, pkg, len);
	free(pkg);
	if (rc == 0 && pull_state_save(p->state_file, hash, err, sizeof(err)) < 0)
		log_warnx("%s: the package may be sent once more (harmless)", err);
	if (rc < 0)
		memcpy(p->refused, hash, sizeof(hash));
	return rc == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	const char *file = "/etc/kerbgate/smbpull.json";
	struct kg_cfgerr cerr = { { 0 } };
	struct smbpull p;
	json_t *root;
	int ch, debug = 0, once = 0, rc = 0;

	while ((ch = getopt(argc, argv, "1df:")) != -1) {
		switch (ch) {
		case '1': once = 1; break;
		case 'd': debug++; break;
		case 'f': file = optarg; break;
		default:
			fprintf(stderr, "usage: kerbgate-smbpull [-d] [-1] [-f config.json]\n");
			return 2;
		}
	}
	log_init("kerbgate-smbpull", debug || once, debug);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	memset(&p, 0, sizeof(p));
	if ((root = kg_config_load(file, &cerr)) == NULL)
		fatalx("%s", cerr.msg);
	load(&p, root, file);
	p.auth.debug = debug > 1 ? 3 : 0;	/* -d -d: libsmbclient's own lines */
	enter_confinement(&p);
	log_info("pulling %s every %ld s for %s (%s)", p.url, p.interval, p.mgmtd,
	    p.auth.kerberos ? "Kerberos" : "password");
	while (!quit) {
		rc = run_once(&p);
		if (once)
			break;
		for (long s = 0; s < p.interval && !quit; s++)
			sleep(1);
	}
	smbfetch_auth_wipe(&p.auth);
	tls_client_unref(p.tls);
	json_decref(root);
	return rc;
}
