/*
 * web.c: the web listener's routes (web.h): pages, login, session, and the
 * JSON the pages read.  Dashboard facts are gathered in status.c, keytabs
 * read in keytab.c, firmware uploads streamed in upload.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "audit.h"
#include "devcert.h"
#include "keytab.h"
#include "log.h"
#include "status.h"
#include "upload.h"
#include "util.h"
#include "web.h"
#include "webparse.h"

/* ---- answers ------------------------------------------------------------------ */

int
web_json(struct web_response *rs, int status, void *obj)
{
	rs->status = status;
	rs->ctype = "application/json";
	rs->body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	rs->body_len = rs->body ? strlen(rs->body) : 0;
	json_decref(obj);
	if (rs->body == NULL) {
		rs->status = 500;
		rs->body = strdup("{\"ok\":false,\"error\":\"internal\",\"message\":\"out of memory\"}");
		rs->body_len = rs->body ? strlen(rs->body) : 0;
	}
	return rs->status;
}

int
web_refuse(struct web_response *rs, int status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return web_json(rs, status, json_pack("{s:b, s:s, s:s}", "ok", 0, "error", code,
	    "message", msg));
}

void
web_response_free(struct web_response *rs)
{
	if (rs->body != NULL)
		kg_freezero(rs->body, rs->body_len);
	rs->body = NULL;
	rs->body_len = 0;
}

static time_t
now_of(const struct web *w)
{
	return w->now ? w->now() : time(NULL);
}

void
web_audit(struct web *w, const char *peer, const char *action, const char *result)
{
	struct api_client who;

	memset(&who, 0, sizeof(who));
	snprintf(who.subject, sizeof(who.subject), "admin (web, from %s)", peer);
	kg_strlcpy(who.fingerprint, "-", sizeof(who.fingerprint));
	audit_write(w->audit_fd, &who, action, 0, result);
}

/* ---- start ---------------------------------------------------------------------- */

/* A line on the console (/dev/console, the serial line): what the admin
 * needs at first boot before any page is open.  Best effort. */
static void console_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
console_say(const char *fmt, ...)
{
	char line[300];
	va_list ap;
	int fd, n;

	va_start(ap, fmt);
	n = vsnprintf(line + 2, sizeof(line) - 4, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	line[0] = '\r', line[1] = '\n';
	n = (int)strlen(line);
	line[n++] = '\r', line[n++] = '\n';
	if ((fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK)) >= 0) {
		if (write(fd, line, (size_t)n) < 0)
			log_debug("cannot write to the console");
		close(fd);
	}
}

/* The setup code on the console too: the admin reads it on the serial line. */
static void
show_code(const char *code)
{
	log_warnx("no admin password is set: open the web page and give the setup "
	    "code %s to set it (it is shown once; restart kerbgate-mgmtd for a new one)",
	    code);
	console_say("kerbgate-mgmtd: web setup code: %s", code);
}

static int
new_setup_code(struct web *w, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	char code[WEBPASS_CODE_LEN + 4], norm[WEBPASS_CODE_LEN + 1];

	if (webpass_make_code(code, sizeof(code)) < 0 ||
	    webpass_normalise_code(code, strlen(code), norm, sizeof(norm)) < 0 ||
	    webpass_hash(norm, strlen(norm), w->setup_hash, sizeof(w->setup_hash)) < 0)
		return kg_seterr(err, errlen, "cannot make a setup code (randomness, memory)");
	if (webpass_write(w->conf.state_dir, "setup.hash", w->setup_hash, uid, gid, err,
	    errlen) < 0)
		return -1;
	show_code(code);
	kg_zero(code, sizeof(code));
	kg_zero(norm, sizeof(norm));
	return 0;
}

int
web_first_start(struct web *w, const struct web_conf *conf, uid_t uid, gid_t gid,
    char *err, size_t errlen)
{
	struct devcert_info info;
	int made;

	memset(w, 0, sizeof(*w));
	w->conf = *conf;
	snprintf(w->cert, sizeof(w->cert), "%s", conf->cert ? conf->cert : "");
	snprintf(w->key, sizeof(w->key), "%s", conf->key ? conf->key : "");
	if (conf->cert == NULL)
		snprintf(w->cert, sizeof(w->cert), "%s/device.pem", conf->state_dir);
	if (conf->key == NULL)
		snprintf(w->key, sizeof(w->key), "%s/device.key", conf->state_dir);
	if (mkdir(conf->state_dir, 0700) < 0 && errno != EEXIST)
		return kg_seterr(err, errlen, "cannot make %s: %s", conf->state_dir,
		    strerror(errno));
	if (chmod(conf->state_dir, 0700) < 0 ||
	    (uid != (uid_t)-1 && chown(conf->state_dir, uid, gid) < 0))
		return kg_seterr(err, errlen, "cannot make %s 0700 and the service "
		    "user's: %s", conf->state_dir, strerror(errno));
	if ((made = devcert_ensure(w->cert, w->key, uid, gid, err, errlen)) < 0)
		return -1;
	if (devcert_info(w->cert, &info, err, errlen) < 0)
		return -1;
	log_info("web certificate %s%s: SHA-256 fingerprint %s", w->cert,
	    made ? " (made now, self-signed)" : "", info.fingerprint);
	/* Compared with what the browser shows before the password is typed. */
	console_say("kerbgate-mgmtd: web certificate SHA-256 fingerprint %s",
	    info.fingerprint);
	if (webpass_read(conf->state_dir, "admin.hash", w->admin_hash,
	    sizeof(w->admin_hash)) == 0)
		return 0;
	w->admin_hash[0] = '\0';
	return new_setup_code(w, uid, gid, err, errlen);
}

void
web_init(struct web *w, const struct api_backend *api, int audit_fd, int audit_rfd)
{
	session_init(&w->sessions, (int)w->conf.idle_s, (int)w->conf.max_s);
	ratelimit_init(&w->rl);
	w->api = api;
	w->audit_fd = audit_fd;
	w->audit_rfd = audit_rfd;
	w->started = now_of(w);
}

/* ---- request helpers ------------------------------------------------------------ */

static int
method_is(const struct web_request *rq, const char *m)
{
	return rq->head->method_len == strlen(m) &&
	    memcmp(rq->head->method, m, rq->head->method_len) == 0;
}

/* The target's path, without the query. */
static size_t
path_len(const struct web_request *rq)
{
	const char *q = memchr(rq->head->target, '?', rq->head->target_len);

	return q ? (size_t)(q - rq->head->target) : rq->head->target_len;
}

static int
path_is(const struct web_request *rq, const char *p)
{
	return path_len(rq) == strlen(p) && memcmp(rq->head->target, p, strlen(p)) == 0;
}

static const struct session *
current_session(struct web *w, const struct web_request *rq)
{
	const char *ck, *id;
	size_t cklen, idlen;

	if (web_header(rq->head, "Cookie", &ck, &cklen) != 1 ||
	    !web_cookie(ck, cklen, WEB_COOKIE, &id, &idlen))
		return NULL;
	return session_find(&w->sessions, id, idlen, now_of(w));
}

/* A change must come from this site's own page. */
static int
origin_check(const struct web_request *rq, struct web_response *rs)
{
	const char *o, *h, *sfs;
	size_t olen, hlen, sfslen;

	if (web_header(rq->head, "Origin", &o, &olen) != 1 ||
	    web_header(rq->head, "Host", &h, &hlen) != 1 ||
	    !web_same_origin(o, olen, h, hlen))
		return web_refuse(rs, 403, "origin", "this request did not come from this "
		    "appliance's own page (Origin is not https://Host): refused");
	if (web_header(rq->head, "Sec-Fetch-Site", &sfs, &sfslen) == 1 &&
	    !(sfslen == 11 && memcmp(sfs, "same-origin", 11) == 0))
		return web_refuse(rs, 403, "origin", "this request came from another site "
		    "(Sec-Fetch-Site): refused");
	return 0;
}

int
web_authorize(struct web *w, const struct web_request *rq, struct web_response *rs)
{
	const struct session *s;
	const char *tok;
	size_t toklen;

	if (!method_is(rq, "GET") && !method_is(rq, "HEAD") && origin_check(rq, rs) != 0)
		return rs->status;
	if ((s = current_session(w, rq)) == NULL)
		return web_refuse(rs, 401, "session", "not logged in, or the session has "
		    "ended (idle or too old): log in again");
	if (method_is(rq, "GET") || method_is(rq, "HEAD"))
		return 0;
	if (web_header(rq->head, "X-CSRF-Token", &tok, &toklen) != 1 ||
	    !session_csrf_ok(s, tok, toklen))
		return web_refuse(rs, 403, "csrf", "the request lacks this session's CSRF "
		    "token (X-CSRF-Token): reload the page");
	return 0;
}

/* The body as a JSON object with string members only, each in \p allowed. */
static json_t *
body_strings(const struct web_request *rq, const char *const *allowed,
    struct web_response *rs)
{
	const char *key;
	json_t *obj, *v;
	size_t i;

	obj = rq->body_len ? json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES,
	    NULL) : NULL;
	if (obj == NULL || !json_is_object(obj)) {
		json_decref(obj);
		web_refuse(rs, 400, "json", "the body must be a JSON object");
		return NULL;
	}
	json_object_foreach(obj, key, v) {
		for (i = 0; allowed[i] != NULL && strcmp(key, allowed[i]) != 0; i++)
			;
		if (allowed[i] == NULL || !json_is_string(v)) {
			web_refuse(rs, 400, "field", "\"%.32s\" is not a string this "
			    "request takes", key);
			json_decref(obj);
			return NULL;
		}
	}
	return obj;
}

static const char *
member(json_t *obj, const char *name, size_t *len)
{
	json_t *v = json_object_get(obj, name);

	*len = v ? json_string_length(v) : 0;
	return v ? json_string_value(v) : NULL;
}

/* Wipes the strings inside jansson's copy before it is freed. */
static void
wipe_free(json_t *obj)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
		kg_zero((char *)json_string_value(v), json_string_length(v));
	json_decref(obj);
}

/* ---- login, setup, logout ------------------------------------------------------- */

static int
limited(struct web *w, const struct web_request *rq, struct web_response *rs)
{
	int wait_s = 0;

	switch (ratelimit_check(&w->rl, rq->peer, now_of(w), &wait_s)) {
	case RL_ALLOW:
		return 0;
	case RL_BLOCKED_SOURCE:
		web_audit(w, rq->peer, "login", "refused: rate-limited");
		return web_refuse(rs, 429, "rate", "too many failed attempts from %s: "
		    "wait %d seconds before trying again", rq->peer, wait_s);
	case RL_BLOCKED_GLOBAL:
		web_audit(w, rq->peer, "login", "refused: rate-limited (appliance)");
		return web_refuse(rs, 429, "rate", "too many failed logins on this "
		    "appliance: logins are paused for %d seconds", wait_s);
	}
	return 0;
}

static void
start_session(struct web *w, const struct web_request *rq, struct web_response *rs,
    const char *msg)
{
	const struct session *s = session_create(&w->sessions, now_of(w));

	if (s == NULL) {
		web_refuse(rs, 500, "internal", "no randomness for a session id");
		return;
	}
	ratelimit_success(&w->rl, rq->peer);
	snprintf(rs->headers, sizeof(rs->headers), "Set-Cookie: " WEB_COOKIE "=%s; Secure; "
	    "HttpOnly; SameSite=Strict; Path=/; Max-Age=%d\r\n", s->id, w->sessions.max_s);
	web_json(rs, 200, json_pack("{s:b, s:s, s:s}", "ok", 1, "message", msg, "csrf",
	    s->csrf));
}

static int
route_setup(struct web *w, const struct web_request *rq, struct web_response *rs)
{
	static const char *const allowed[] = { "code", "password", NULL };
	char norm[WEBPASS_CODE_LEN + 1], hash[WEBPASS_HASH_MAX], err[256];
	const char *code, *pw;
	size_t clen, pwlen;
	json_t *obj;

	if (w->admin_hash[0] != '\0')
		return web_refuse(rs, 409, "setup", "the admin password is set already: "
		    "log in");
	if (limited(w, rq, rs))
		return rs->status;
	if ((obj = body_strings(rq, allowed, rs)) == NULL)
		return rs->status;
	code = member(obj, "code", &clen);
	pw = member(obj, "password", &pwlen);
	if (code == NULL || pw == NULL)
		web_refuse(rs, 400, "field", "give \"code\" (the setup code from the "
		    "console) and \"password\"");
	else if (webpass_normalise_code(code, clen, norm, sizeof(norm)) < 0 ||
	    !webpass_verify(w->setup_hash, norm, strlen(norm))) {
		ratelimit_fail(&w->rl, rq->peer, now_of(w));
		web_audit(w, rq->peer, "setup", "refused: wrong setup code");
		web_refuse(rs, 403, "code", "the setup code is not the one on the console "
		    "(it is 12 letters and digits, XXXX-XXXX-XXXX)");
	} else if (webpass_policy(pw, pwlen, err, sizeof(err)) < 0)
		web_refuse(rs, 400, "password", "%s", err);
	else if (webpass_hash(pw, pwlen, hash, sizeof(hash)) < 0)
		web_refuse(rs, 500, "internal", "cannot hash the password");
	else if (webpass_write(w->conf.state_dir, "admin.hash", hash, (uid_t)-1, (gid_t)-1,
	    err, sizeof(err)) < 0)
		web_refuse(rs, 500, "state", "%s", err);
	else {
		kg_strlcpy(w->admin_hash, hash, sizeof(w->admin_hash));
		kg_zero(w->setup_hash, sizeof(w->setup_hash));
		if (webpass_unlink(w->conf.state_dir, "setup.hash") < 0)
			log_warn("cannot remove the used setup code's hash");
		web_audit(w, rq->peer, "setup", "ok: admin password set");
		start_session(w, rq, rs, "the admin password is set; you are logged in");
	}
	kg_zero(norm, sizeof(norm));
	wipe_free(obj);
	return rs->status;
}

static int
route_login(struct web *w, const struct web_request *rq, struct web_response *rs)
{
	static const char *const allowed[] = { "password", NULL };
	const char *pw;
	size_t pwlen;
	json_t *obj;

	if (w->admin_hash[0] == '\0')
		return web_refuse(rs, 409, "setup", "no admin password is set yet: set it "
		    "with the setup code from the console");
	if (limited(w, rq, rs))
		return rs->status;
	if ((obj = body_strings(rq, allowed, rs)) == NULL)
		return rs->status;
	if ((pw = member(obj, "password", &pwlen)) == NULL)
		web_refuse(rs, 400, "field", "give \"password\"");
	else if (!webpass_verify(w->admin_hash, pw, pwlen)) {
		ratelimit_fail(&w->rl, rq->peer, now_of(w));
		web_audit(w, rq->peer, "login", "refused: wrong password");
		web_refuse(rs, 403, "password", "wrong password");
	} else {
		web_audit(w, rq->peer, "login", "ok");
		start_session(w, rq, rs, "logged in");
	}
	wipe_free(obj);
	return rs->status;
}

static int
route_logout(struct web *w, const struct web_request *rq, struct web_response *rs)
{
	const char *ck, *id;
	size_t cklen, idlen;

	if (web_header(rq->head, "Cookie", &ck, &cklen) == 1 &&
	    web_cookie(ck, cklen, WEB_COOKIE, &id, &idlen))
		session_end(&w->sessions, id, idlen);
	web_audit(w, rq->peer, "logout", "ok");
	snprintf(rs->headers, sizeof(rs->headers), "Set-Cookie: " WEB_COOKIE "=; Secure; "
	    "HttpOnly; SameSite=Strict; Path=/; Max-Age=0\r\n");
	return web_json(rs, 200, json_pack("{s:b, s:s}", "ok", 1, "message", "logged out"));
}

static int
route_session(struct web *w, const struct web_request *rq, struct web_response *rs)
{
	const struct session *s = current_session(w, rq);
	json_t *o = json_pack("{s:b, s:b, s:b, s:i, s:i}", "ok", 1, "setup_required",
	    w->admin_hash[0] == '\0', "logged_in", s != NULL, "idle_timeout",
	    w->sessions.idle_s, "max_age", w->sessions.max_s);

	if (s != NULL)
		json_object_set_new(o, "csrf", json_string(s->csrf));
	return web_json(rs, 200, o);
}

/* ---- the device certificate --------------------------------------------------------- */

static int
route_cert_get(struct web *w, struct web_response *rs)
{
	struct devcert_info info;
	char err[256];

	if (devcert_info(w->cert, &info, err, sizeof(err)) < 0)
		return web_refuse(rs, 500, "certificate", "%s", err);
	return web_json(rs, 200, json_pack("{s:b, s:{s:s, s:s, s:s, s:s, s:b}}", "ok", 1,
	    "certificate", "subject", info.subject, "issuer", info.issuer, "not_after",
	    info.not_after, "sha256", info.fingerprint, "self_signed", info.self_signed));
}

static int
route_cert_put(struct web *w, const struct web_request *rq, struct web_response *rs)
{
	static const char *const allowed[] = { "certificate", "key", NULL };
	struct devcert_info info;
	const char *cert, *key;
	size_t clen, klen;
	char err[300], line[200];
	json_t *obj;

	if ((obj = body_strings(rq, allowed, rs)) == NULL)
		return rs->status;
	cert = member(obj, "certificate", &clen);
	key = member(obj, "key", &klen);
	if (cert == NULL || key == NULL)
		web_refuse(rs, 400, "field", "give \"certificate\" and \"key\" (PEM)");
	else if (devcert_install(cert, clen, key, klen, w->cert, w->key, err,
	    sizeof(err)) < 0) {
		web_audit(w, rq->peer, "certificate", "refused");
		web_refuse(rs, 400, "certificate", "%s", err);
	} else if (w->reload_cert != NULL && w->reload_cert(w->reload_ctx, err,
	    sizeof(err)) < 0)
		web_refuse(rs, 500, "certificate", "installed, but not in use: %s", err);
	else if (devcert_info(w->cert, &info, err, sizeof(err)) < 0)
		web_refuse(rs, 500, "certificate", "%s", err);
	else {
		snprintf(line, sizeof(line), "ok: SHA-256 %.95s", info.fingerprint);
		web_audit(w, rq->peer, "certificate", line);
		web_json(rs, 200, json_pack("{s:b, s:s, s:s}", "ok", 1, "message",
		    "installed: new connections use it", "sha256", info.fingerprint));
	}
	wipe_free(obj);
	return rs->status;
}

/* ---- credentials: the API's routes, with the web admin as who ------------------ */

static int
route_api(struct web *w, const struct web_request *rq, struct web_response *rs)
{
	struct api_request arq;
	struct api_response ars;
	struct api_client who;

	memset(&who, 0, sizeof(who));
	snprintf(who.subject, sizeof(who.subject), "admin (web, from %s)", rq->peer);
	kg_strlcpy(who.fingerprint, "-", sizeof(who.fingerprint));
	memset(&arq, 0, sizeof(arq));
	arq.method = rq->head->method;
	arq.method_len = rq->head->method_len;
	arq.path = rq->head->target;
	arq.path_len = path_len(rq);
	arq.body = rq->body;
	arq.body_len = rq->body_len;
	arq.client = &who;
	api_handle(w->api, &arq, &ars);
	rs->status = ars.status;
	rs->ctype = "application/json";
	rs->body = ars.body;
	rs->body_len = ars.body_len;
	return rs->status;
}

static int
route_keytab(struct web *w, const struct web_request *rq, struct web_response *rs)
{
	struct api_request arq;
	char err[300], *json = NULL;
	size_t jlen = 0;

	if (keytab_to_stage_json((const uint8_t *)rq->body, rq->body_len, &json, &jlen,
	    err, sizeof(err)) < 0) {
		web_audit(w, rq->peer, "keytab", "refused: not a usable keytab");
		return web_refuse(rs, 400, "keytab", "%s", err);
	}
	memset(&arq, 0, sizeof(arq));
	{
		struct web_request inner = *rq;
		struct http_head h = *rq->head;

		h.method = "PUT";
		h.method_len = 3;
		h.target = "/api/v1/credentials/staged";
		h.target_len = strlen(h.target);
		inner.head = &h;
		inner.body = json;
		inner.body_len = jlen;
		route_api(w, &inner, rs);
	}
	kg_freezero(json, jlen);
	return rs->status;
}

/* ---- the audit log ------------------------------------------------------------------ */

/* One line: WHEN who="..." sha256=... action=... kvno=N result="..." */
static json_t *
audit_entry(const char *line, size_t len)
{
	char buf[800], *who, *act, *kv, *res, *e;

	if (len >= sizeof(buf) || len < 21)
		return NULL;
	memcpy(buf, line, len);
	buf[len] = '\0';
	/* the other fields after who's closing quote: a certificate subject
	 * may hold " action=..." itself (audit.c turns only quotes into '?') */
	if (buf[20] != ' ' || (who = strstr(buf, " who=\"")) == NULL ||
	    (e = strchr(who + 6, '"')) == NULL || (act = strstr(e, " action=")) == NULL ||
	    (kv = strstr(act, " kvno=")) == NULL || (res = strstr(kv, " result=\"")) == NULL)
		return NULL;
	buf[20] = '\0';
	who += 6;
	*e = '\0';
	act += 8;
	act[strcspn(act, " ")] = '\0';
	kv += 6;
	kv[strcspn(kv, " ")] = '\0';
	res += 9;
	if ((e = strrchr(res, '"')) != NULL)
		*e = '\0';
	return json_pack("{s:s, s:s, s:s, s:I, s:s}", "when", buf, "who", who, "action", act,
	    "kvno", (json_int_t)strtoll(kv, NULL, 10), "result", res);
}

static int
route_audit(struct web *w, struct web_response *rs)
{
	enum { TAIL = 96 * 1024, MAXN = 300 };
	struct stat st;
	char *buf;
	off_t from;
	ssize_t n;
	json_t *arr, *e;
	const char *p, *end, *nl;

	if (w->audit_rfd < 0 || fstat(w->audit_rfd, &st) < 0)
		return web_refuse(rs, 503, "audit", "the audit log cannot be read");
	from = st.st_size > TAIL ? st.st_size - TAIL : 0;
	if ((buf = malloc(TAIL)) == NULL || (arr = json_array()) == NULL) {
		free(buf);
		return web_refuse(rs, 500, "internal", "out of memory");
	}
	n = pread(w->audit_rfd, buf, TAIL, from);
	if (n < 0)
		n = 0;
	end = buf + n;
	/* newest first: walk the lines backwards */
	while (end > buf && json_array_size(arr) < MAXN) {
		for (nl = end - 1; nl > buf && nl[-1] != '\n'; nl--)
			;
		p = nl;
		if ((size_t)(end - p) > 1 && (p != buf || from == 0) &&
		    (e = audit_entry(p, (size_t)(end - p) - (end[-1] == '\n'))) != NULL)
			json_array_append_new(arr, e);
		end = p;
	}
	free(buf);
	return web_json(rs, 200, json_pack("{s:b, s:o}", "ok", 1, "entries", arr));
}

/* ---- pages --------------------------------------------------------------------------- */

static const char *
page_type(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (dot == NULL)
		return NULL;
	if (strcmp(dot, ".html") == 0)
		return "text/html; charset=utf-8";
	if (strcmp(dot, ".css") == 0)
		return "text/css; charset=utf-8";
	if (strcmp(dot, ".js") == 0)
		return "text/javascript; charset=utf-8";
	if (strcmp(dot, ".svg") == 0)
		return "image/svg+xml";
	return NULL;
}

/* /NAME with NAME of [a-z0-9_-.], no "..", one of the types above. */
static int
route_page(struct web *w, const struct web_request *rq, struct web_response *rs)
{
	char name[64], path[PATH_MAX];
	size_t len = path_len(rq), i;
	const char *t = rq->head->target;
	struct stat st;
	ssize_t n;
	int fd;

	if (len == 1)
		kg_strlcpy(name, "index.html", sizeof(name));
	else if (len - 1 < sizeof(name)) {
		memcpy(name, t + 1, len - 1);
		name[len - 1] = '\0';
	} else
		name[0] = '\0';
	for (i = 0; name[i] != '\0'; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		    name[i] == '-' || name[i] == '_' || name[i] == '.'))
			break;
	if (name[0] == '\0' || name[0] == '.' || name[i] != '\0' || strstr(name, "..") ||
	    (rs->ctype = page_type(name)) == NULL)
		return web_refuse(rs, 404, "path", "no such page");
	snprintf(path, sizeof(path), "%s/%s", w->conf.www, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return web_refuse(rs, 404, "path", "no such page");
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > WEB_MAX_STATIC ||
	    (rs->body = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return web_refuse(rs, 404, "path", "no such page");
	}
	n = read(fd, rs->body, (size_t)st.st_size);
	close(fd);
	rs->body_len = n > 0 ? (size_t)n : 0;
	rs->status = 200;
	rs->is_page = 1;
	return 200;
}

/* ---- routing ------------------------------------------------------------------------- */

void
web_handle(struct web *w, const struct web_request *rq, struct web_response *rs)
{
	int get = method_is(rq, "GET");

	memset(rs, 0, sizeof(*rs));
	if (!get && !method_is(rq, "HEAD") && origin_check(rq, rs) != 0)
		return;
	if (get && path_len(rq) >= 1 && strncmp(rq->head->target, "/api/", 5) != 0) {
		route_page(w, rq, rs);
		return;
	}
	if (get && path_is(rq, "/api/v1/web/session")) {
		route_session(w, rq, rs);
		return;
	}
	if (method_is(rq, "POST") && path_is(rq, "/api/v1/web/setup")) {
		route_setup(w, rq, rs);
		return;
	}
	if (method_is(rq, "POST") && path_is(rq, "/api/v1/web/login")) {
		route_login(w, rq, rs);
		return;
	}
	if (web_authorize(w, rq, rs) != 0)
		return;
	if (method_is(rq, "POST") && path_is(rq, "/api/v1/web/logout"))
		route_logout(w, rq, rs);
	else if (get && path_is(rq, "/api/v1/status"))
		web_json(rs, 200, status_dashboard(w));
	else if (get && path_is(rq, "/api/v1/audit"))
		route_audit(w, rs);
	else if (get && path_is(rq, "/api/v1/web/certificate"))
		route_cert_get(w, rs);
	else if (method_is(rq, "PUT") && path_is(rq, "/api/v1/web/certificate"))
		route_cert_put(w, rq, rs);
	else if (method_is(rq, "POST") && path_is(rq, "/api/v1/credentials/keytab"))
		route_keytab(w, rq, rs);
	else if (path_len(rq) >= 16 && strncmp(rq->head->target, "/api/v1/firmware", 16) == 0)
		upload_route(w, rq, rs);
	else if (path_len(rq) >= 19 && strncmp(rq->head->target, "/api/v1/credentials", 19) == 0)
		route_api(w, rq, rs);
	else
		web_refuse(rs, 404, "path", "no such path (docs/api.md lists them)");
}
