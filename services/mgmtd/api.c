/*
 * api.c: the management API's routes (api.h).  Bodies are checked strictly
 * (JSON objects, no unknown or duplicate member, types and ranges) before
 * anything reaches the keyholder, which checks them again.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "api.h"
#include "credpkg.h"
#include "secretstore.h"
#include "util.h"

/* ---- answers -------------------------------------------------------------- */

static int
answer_json(struct api_response *rs, int status, json_t *obj)
{
	rs->status = status;
	rs->body = json_dumps(obj, JSON_COMPACT);
	rs->body_len = rs->body ? strlen(rs->body) : 0;
	json_decref(obj);
	if (rs->body == NULL) {
		rs->status = 500;
		rs->body = strdup("{\"ok\":false,\"error\":\"internal\",\"message\":\"out of memory\"}");
		rs->body_len = rs->body ? strlen(rs->body) : 0;
	}
	return rs->status;
}

static int refuse(struct api_response *rs, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
refuse(struct api_response *rs, int status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return answer_json(rs, status, json_pack("{s:b, s:s, s:s}", "ok", 0,
	    "error", code, "message", msg));
}

void
api_response_free(struct api_response *rs)
{
	free(rs->body);
	rs->body = NULL;
	rs->body_len = 0;
}

/* ---- bodies ----------------------------------------------------------------- */

/* The body as a JSON object whose members are all in \p allowed. */
static json_t *
body_object(const struct api_request *rq, const char *const *allowed,
    struct api_response *rs)
{
	json_error_t jerr;
	const char *key;
	char *near;
	json_t *obj, *v;
	size_t i;

	if (rq->body_len == 0) {
		refuse(rs, 400, "body", "this request needs a JSON object as its body");
		return NULL;
	}
	obj = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (obj == NULL) {
		/* jansson quotes the text near the error: it may be the password. */
		if ((near = strstr(jerr.text, " near '")) != NULL)
			*near = '\0';
		refuse(rs, 400, "json", "the body is not valid JSON: %s (line %d, column %d)",
		    jerr.text, jerr.line, jerr.column);
		kg_zero(&jerr, sizeof(jerr));
		return NULL;
	}
	if (!json_is_object(obj)) {
		json_decref(obj);
		refuse(rs, 400, "json", "the body must be a JSON object");
		return NULL;
	}
	json_object_foreach(obj, key, v) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL) {
			refuse(rs, 400, "field", "unknown member \"%.64s\" in the body", key);
			json_decref(obj);
			return NULL;
		}
	}
	return obj;
}

/* kvno: a JSON integer 1 .. 2^31-1. */
static int
get_kvno(json_t *obj, uint32_t *kvno, struct api_response *rs)
{
	json_t *v = json_object_get(obj, "kvno");
	json_int_t n;

	if (v == NULL || !json_is_integer(v)) {
		refuse(rs, 400, "kvno", "\"kvno\" must be given as a whole number");
		return -1;
	}
	n = json_integer_value(v);
	if (n < 1 || n > 0x7fffffff) {
		refuse(rs, 400, "kvno", "\"kvno\" must be between 1 and 2147483647");
		return -1;
	}
	*kvno = (uint32_t)n;
	return 0;
}

static size_t
enctype_key_len(json_int_t e)
{
	switch (e) {
	case CRED_ETYPE_AES256:	return 32;
	case CRED_ETYPE_AES128:	return 16;
	case CRED_ETYPE_RC4:	return 16;
	}
	return 0;
}

static int
get_keys(json_t *arr, struct ctl_req *req, struct api_response *rs)
{
	json_t *k, *e, *hex;
	size_t i, j, want;
	const char *h;

	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > CTL_MAX_KEYS)
		return refuse(rs, 400, "keys", "\"keys\" must be a list of 1 to %d keys",
		    CTL_MAX_KEYS), -1;
	json_array_foreach(arr, i, k) {
		if (!json_is_object(k) || json_object_size(k) != 2 ||
		    (e = json_object_get(k, "enctype")) == NULL || !json_is_integer(e) ||
		    (hex = json_object_get(k, "key")) == NULL || !json_is_string(hex))
			return refuse(rs, 400, "keys", "key %zu: give exactly "
			    "{\"enctype\": 18|17|23, \"key\": \"<hex>\"}", i + 1), -1;
		if ((want = enctype_key_len(json_integer_value(e))) == 0)
			return refuse(rs, 400, "keys", "key %zu: enctype %lld is not one "
			    "AD uses (18 aes256, 17 aes128, 23 rc4)", i + 1,
			    (long long)json_integer_value(e)), -1;
		h = json_string_value(hex);
		if (json_string_length(hex) != want * 2)
			return refuse(rs, 400, "keys", "key %zu: an enctype %lld key is %zu "
			    "hex digits", i + 1, (long long)json_integer_value(e), want * 2), -1;
		req->keys[i].enctype = (int32_t)json_integer_value(e);
		req->keys[i].len = want;
		for (j = 0; j < want; j++) {
			int hi = kg_hexval(h[2 * j]), lo = kg_hexval(h[2 * j + 1]);

			if (hi < 0 || lo < 0)
				return refuse(rs, 400, "keys", "key %zu is not hex", i + 1), -1;
			req->keys[i].bytes[j] = (uint8_t)(hi << 4 | lo);
		}
	}
	req->nkeys = json_array_size(arr);
	return 0;
}

/* Wipes the password member's bytes inside jansson's copy. */
static void
wipe_secrets(json_t *obj)
{
	json_t *pw = json_object_get(obj, "password"), *keys, *k;
	size_t i;

	if (pw != NULL && json_is_string(pw))
		kg_zero((char *)json_string_value(pw), json_string_length(pw));
	if ((keys = json_object_get(obj, "keys")) != NULL && json_is_array(keys))
		json_array_foreach(keys, i, k) {
			json_t *h = json_is_object(k) ? json_object_get(k, "key") : NULL;

			if (h != NULL && json_is_string(h))
				kg_zero((char *)json_string_value(h), json_string_length(h));
		}
}

/* ---- asking the keyholder -------------------------------------------------- */

static const char *
status_word(uint32_t st)
{
	return st == CTL_OK ? "ok" : st == CTL_REFUSED ? "refused" : "failed";
}

/* Sends req, audits it (changes only), answers. */
static int
call(const struct api_backend *be, const struct api_request *rq,
    struct ctl_req *req, const char *action, struct api_response *rs)
{
	struct ctl_result res;
	char err[256], line[160];
	uint32_t kvno = req->kvno;
	int rc;

	memset(&res, 0, sizeof(res));
	rc = be->ctl(be->ctx, req, &res, err, sizeof(err));
	kg_zero(req, sizeof(*req));
	if (rc < 0) {
		if (action != NULL)
			be->audit(be->ctx, rq->client, action, kvno, "not delivered");
		return refuse(rs, 503, "control", "%s", err);
	}
	if (action != NULL) {
		snprintf(line, sizeof(line), "%s: %.120s", status_word(res.status), res.text);
		be->audit(be->ctx, rq->client, action, kvno, line);
	}
	if (res.status == CTL_OK) {
		json_t *listed = NULL;

		if (action == NULL)	/* the list: the keyholder answers JSON */
			listed = json_loads(res.text, JSON_REJECT_DUPLICATES, NULL);
		if (listed != NULL)
			return answer_json(rs, 200, json_pack("{s:b, s:o}", "ok", 1,
			    "credentials", listed));
		return answer_json(rs, 200, json_pack("{s:b, s:s}", "ok", 1,
		    "message", res.text));
	}
	return refuse(rs, res.status == CTL_REFUSED ? 409 : 422,
	    res.status == CTL_REFUSED ? "refused" : "failed", "%s", res.text);
}

/* ---- routes ----------------------------------------------------------------- */

/* Stages the credential in \p rq's body; \p want_kvno (not 0) is the kvno
 * a package's signed header names, which its body must repeat. */
static int
stage_body(const struct api_backend *be, const struct api_request *rq,
    uint32_t want_kvno, const char *action, struct api_response *rs)
{
	static const char *const allowed[] = { "account", "kvno", "password", "keys", NULL };
	struct ctl_req req;
	json_t *obj, *acct, *pw, *keys;
	int rc = -1;

	if ((obj = body_object(rq, allowed, rs)) == NULL)
		return rs->status;
	memset(&req, 0, sizeof(req));
	req.type = CTL_MSG_STAGE;
	acct = json_object_get(obj, "account");
	pw = json_object_get(obj, "password");
	keys = json_object_get(obj, "keys");
	if (acct == NULL || !json_is_string(acct) || json_string_length(acct) == 0 ||
	    json_string_length(acct) >= sizeof(req.principal))
		refuse(rs, 400, "account", "\"account\" must name the ASA account, "
		    "NAME@REALM (e.g. EXCHASA$@CORP.CONTOSO.COM)");
	else if (get_kvno(obj, &req.kvno, rs) < 0)
		;
	else if (want_kvno != 0 && req.kvno != want_kvno)
		refuse(rs, 400, "package", "the package's header says kvno %u but its "
		    "credential says kvno %u: it was made wrongly, make a new one",
		    want_kvno, req.kvno);
	else if ((pw == NULL) == (keys == NULL))
		refuse(rs, 400, "secret", "give either \"password\" or \"keys\", not both "
		    "and not neither");
	else if (pw != NULL && (!json_is_string(pw) || json_string_length(pw) == 0 ||
	    json_string_length(pw) > CTL_MAX_PASSWORD))
		refuse(rs, 400, "password", "\"password\" must be a string of 1 to %d bytes",
		    CTL_MAX_PASSWORD);
	else if (keys != NULL && get_keys(keys, &req, rs) < 0)
		;
	else
		rc = 0;
	if (rc == 0) {
		kg_strlcpy(req.principal, json_string_value(acct), sizeof(req.principal));
		if (pw != NULL) {
			req.password = (const uint8_t *)json_string_value(pw);
			req.pwlen = json_string_length(pw);
		}
		call(be, rq, &req, action, rs);
	}
	kg_zero(&req, sizeof(req));
	wipe_secrets(obj);
	json_decref(obj);
	return rs->status;
}

static int
route_stage(const struct api_backend *be, const struct api_request *rq,
    struct api_response *rs)
{
	return stage_body(be, rq, 0, "stage", rs);
}

/* ---- packages (credpkg.h, docs/package.md) ------------------------------------ */

/* The active kvno (0: none) and \p kvno's state ("" when not held), from
 * the keyholder's list; -1 with rs filled when it cannot be asked. */
static int
held_state(const struct api_backend *be, uint32_t kvno, uint32_t *active,
    char *state, size_t statelen, struct api_response *rs)
{
	struct ctl_req req;
	struct ctl_result res;
	char err[256];
	json_t *list, *arr, *e;
	size_t i;

	memset(&req, 0, sizeof(req));
	memset(&res, 0, sizeof(res));
	req.type = CTL_MSG_LIST_JSON;
	if (be->ctl(be->ctx, &req, &res, err, sizeof(err)) < 0)
		return refuse(rs, 503, "control", "%s", err), -1;
	if (res.status != CTL_OK ||
	    (list = json_loads(res.text, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return refuse(rs, 503, "control", "the keyholder's list is not readable: "
		    "%.200s", res.text), -1;
	*active = 0;
	state[0] = '\0';
	arr = json_object_get(list, "kvnos");
	json_array_foreach(arr, i, e) {
		json_int_t k = json_integer_value(json_object_get(e, "kvno"));
		const char *st = json_string_value(json_object_get(e, "state"));

		if (st == NULL)
			continue;
		if (strcmp(st, "active") == 0)
			*active = (uint32_t)k;
		if (k == (json_int_t)kvno)
			kg_strlcpy(state, st, statelen);
	}
	json_decref(list);
	return 0;
}

/* kvno's verify then activate, as a PUT/POST pair would; rs holds the first
 * refusal, or the activation's answer. */
static int
verify_activate(const struct api_backend *be, const struct api_request *rq,
    uint32_t kvno, const char *state, struct api_response *rs)
{
	struct ctl_req req;

	if (strcmp(state, "verified") != 0) {
		memset(&req, 0, sizeof(req));
		req.type = CTL_MSG_VERIFY;
		req.kvno = kvno;
		if (call(be, rq, &req, "package-verify", rs) != 200)
			return rs->status;
		api_response_free(rs);
	}
	memset(&req, 0, sizeof(req));
	req.type = CTL_MSG_ACTIVATE;
	req.kvno = kvno;
	return call(be, rq, &req, "package-activate", rs);
}

/*
 * A package: signature, recipient, times and kvno checked (credpkg.c), the
 * credential staged as a PUT would stage it, then verified and activated.
 * A package whose kvno is already held staged (sent again: the AD change
 * came after its first delivery) is not staged twice: it is verified and
 * activated.  Nothing is activated that did not verify.
 */
static int
route_package(const struct api_backend *be, const struct api_request *rq,
    struct api_response *rs)
{
	struct api_request inner;
	struct pkg_info info;
	uint8_t *pt;
	size_t ptlen;
	uint32_t active;
	char err[512], state[16], line[600];

	if (be->pkg_signer == NULL || be->pkg_key == NULL)
		return refuse(rs, 409, "package", "this appliance takes no credential "
		    "packages: set package.signer_key and package.key in mgmtd.json");
	if (rq->body_len == 0)
		return refuse(rs, 400, "body", "this request needs a credential package "
		    "as its body");
	if (held_state(be, 0, &active, state, sizeof(state), rs) < 0)
		return rs->status;
	if (pkg_open((const uint8_t *)rq->body, rq->body_len, be->pkg_signer, be->pkg_key,
	    be->now ? be->now(be->ctx) : (int64_t)time(NULL), active, &info, &pt, &ptlen,
	    err, sizeof(err)) < 0) {
		snprintf(line, sizeof(line), "refused: %s", err);
		be->audit(be->ctx, rq->client, "package", 0, line);
		return refuse(rs, 400, "package", "%s", err);
	}
	if (held_state(be, info.kvno, &active, state, sizeof(state), rs) < 0) {
		pkg_free_plaintext(pt, ptlen);
		return rs->status;
	}
	inner = *rq;
	inner.body = (const char *)pt;
	inner.body_len = ptlen;
	if (state[0] != '\0' && strcmp(state, "staged") != 0 &&
	    strcmp(state, "verified") != 0)
		refuse(rs, 409, "refused", "kvno %u is already %s here: nothing "
		    "done", info.kvno, state);
	else if (state[0] != '\0' ||
	    stage_body(be, &inner, info.kvno, "package-stage", rs) == 200) {
		api_response_free(rs);
		/* Held staged and not verifying: the staged keys may be another
		 * package's for this kvno (a roll given up, its package replayed
		 * or fetched late); this one's take their place and are tried. */
		if (verify_activate(be, rq, info.kvno, state[0] ? state : "staged",
		    rs) == 422 && strcmp(state, "staged") == 0) {
			api_response_free(rs);
			if (stage_body(be, &inner, info.kvno, "package-stage", rs) == 200) {
				api_response_free(rs);
				verify_activate(be, rq, info.kvno, "staged", rs);
			}
		}
	}
	pkg_free_plaintext(pt, ptlen);
	return rs->status;
}

static int
route_kvno_op(const struct api_backend *be, const struct api_request *rq,
    uint16_t type, const char *action, struct api_response *rs)
{
	static const char *const allowed[] = { "kvno", NULL };
	struct ctl_req req;
	json_t *obj;

	if ((obj = body_object(rq, allowed, rs)) == NULL)
		return rs->status;
	memset(&req, 0, sizeof(req));
	req.type = type;
	if (get_kvno(obj, &req.kvno, rs) == 0)
		call(be, rq, &req, action, rs);
	json_decref(obj);
	return rs->status;
}

/* ---- the other secrets (docs/api.md, "Other secrets") -------------------- */

/* kind and name, as the kind needs them (no name for the cookie key). */
static int
get_kind_name(json_t *obj, struct ctl_req *req, struct api_response *rs)
{
	const char *k = json_string_value(json_object_get(obj, "kind"));
	json_t *name = json_object_get(obj, "name");

	req->kind = k == NULL ? 0 : strcmp(k, "pool") == 0 ? SECRET_POOL :
	    strcmp(k, "cookie") == 0 ? SECRET_COOKIE : strcmp(k, "tls") == 0 ?
	    SECRET_TLS : 0;
	if (req->kind == 0)
		return refuse(rs, 400, "kind", "\"kind\" must be \"pool\", \"cookie\" "
		    "or \"tls\""), -1;
	if (req->kind == SECRET_COOKIE && name != NULL)
		return refuse(rs, 400, "name", "the cookie key has no \"name\""), -1;
	if (req->kind != SECRET_COOKIE && (name == NULL || !json_is_string(name) ||
	    json_string_length(name) == 0 ||
	    json_string_length(name) >= sizeof(req->name)))
		return refuse(rs, 400, "name", "\"name\" must name the %s",
		    req->kind == SECRET_POOL ? "pool" : "virtual host"), -1;
	if (name != NULL)
		kg_strlcpy(req->name, json_string_value(name), sizeof(req->name));
	return 0;
}

/* A pool secret in hex into locked-by-caller buf; its length, or -1. */
static int
get_hex_secret(json_t *v, uint8_t *buf, size_t max, struct api_response *rs)
{
	const char *h = json_string_value(v);
	size_t n = json_string_length(v), i;

	if (h == NULL || n % 2 != 0 || n / 2 < SECRET_POOL_MIN || n / 2 > max)
		return refuse(rs, 400, "secret", "\"secret\" must be %d to %zu bytes "
		    "in hex (the bytes the pool's back-ends hold)", SECRET_POOL_MIN,
		    max), -1;
	for (i = 0; i < n / 2; i++) {
		int hi = kg_hexval(h[2 * i]), lo = kg_hexval(h[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return refuse(rs, 400, "secret", "\"secret\" is not hex"), -1;
		buf[i] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(n / 2);
}

static void
wipe_string(json_t *v)
{
	if (v != NULL && json_is_string(v))
		kg_zero((char *)json_string_value(v), json_string_length(v));
}

static int
route_secret_stage(const struct api_backend *be, const struct api_request *rq,
    struct api_response *rs)
{
	static const char *const allowed[] = { "kind", "name", "secret", "key",
	    "certificate", NULL };
	struct ctl_req req;
	uint8_t buf[SECRET_POOL_MAX];
	json_t *obj, *sec, *key, *crt;
	int n = 0;

	if ((obj = body_object(rq, allowed, rs)) == NULL)
		return rs->status;
	memset(&req, 0, sizeof(req));
	req.type = CTL_MSG_SECRET_STAGE;
	sec = json_object_get(obj, "secret");
	key = json_object_get(obj, "key");
	crt = json_object_get(obj, "certificate");
	if (get_kind_name(obj, &req, rs) < 0)
		;
	else if ((req.kind == SECRET_POOL) != (sec != NULL) ||
	    (req.kind == SECRET_TLS) != (key != NULL && crt != NULL) ||
	    (req.kind != SECRET_TLS && (key != NULL || crt != NULL)))
		refuse(rs, 400, "secret", "give \"secret\" (hex) for a pool, \"key\" "
		    "and \"certificate\" (PEM) for tls, nothing for the cookie key "
		    "(the appliance makes it)");
	else if (sec != NULL && (n = get_hex_secret(sec, buf, sizeof(buf), rs)) < 0)
		;
	else if (key != NULL && (!json_is_string(key) || !json_is_string(crt) ||
	    json_string_length(key) == 0 || json_string_length(key) > SECRET_TLS_KEY_MAX ||
	    json_string_length(crt) == 0 ||
	    json_string_length(crt) > SECRET_TLS_MAX - json_string_length(key)))
		refuse(rs, 400, "tls", "\"key\" and \"certificate\" must be PEM "
		    "strings, at most %d bytes together", SECRET_TLS_MAX);
	else {
		if (sec != NULL) {
			req.secret = buf;
			req.secretlen = (size_t)n;
		}
		if (key != NULL) {
			req.secret = (const uint8_t *)json_string_value(key);
			req.secretlen = json_string_length(key);
			req.cert = (const uint8_t *)json_string_value(crt);
			req.certlen = json_string_length(crt);
		}
		call(be, rq, &req, "secret-stage", rs);
	}
	kg_zero(buf, sizeof(buf));
	kg_zero(&req, sizeof(req));
	wipe_string(sec);
	wipe_string(key);
	json_decref(obj);
	return rs->status;
}

static int
route_secret_op(const struct api_backend *be, const struct api_request *rq,
    uint16_t type, const char *action, struct api_response *rs)
{
	static const char *const allowed[] = { "kind", "name", "version", NULL };
	struct ctl_req req;
	json_t *obj, *v;

	if ((obj = body_object(rq, allowed, rs)) == NULL)
		return rs->status;
	memset(&req, 0, sizeof(req));
	req.type = type;
	v = json_object_get(obj, "version");
	if (get_kind_name(obj, &req, rs) < 0)
		;
	else if (v == NULL || !json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > 0x7fffffff)
		refuse(rs, 400, "version", "\"version\" must be a whole number from 1");
	else {
		req.kvno = (uint32_t)json_integer_value(v);
		call(be, rq, &req, action, rs);
	}
	json_decref(obj);
	return rs->status;
}

static int
is(const struct api_request *rq, const char *method, const char *path)
{
	return rq->method_len == strlen(method) &&
	    memcmp(rq->method, method, rq->method_len) == 0 &&
	    rq->path_len == strlen(path) && memcmp(rq->path, path, rq->path_len) == 0;
}

static int
path_is(const struct api_request *rq, const char *path)
{
	return rq->path_len == strlen(path) && memcmp(rq->path, path, rq->path_len) == 0;
}

int
api_handle(const struct api_backend *be, const struct api_request *rq,
    struct api_response *rs)
{
	struct ctl_req req;

	memset(rs, 0, sizeof(*rs));
	if (rq->client == NULL)		/* the TLS layer should never let one in */
		return refuse(rs, 403, "client", "a client certificate from the "
		    "management CA is required");
	if (is(rq, "GET", "/api/v1/credentials")) {
		memset(&req, 0, sizeof(req));
		req.type = CTL_MSG_LIST_JSON;
		return call(be, rq, &req, NULL, rs);
	}
	if (is(rq, "PUT", "/api/v1/credentials/staged"))
		return route_stage(be, rq, rs);
	if (is(rq, "POST", "/api/v1/credentials/staged/verify"))
		return route_kvno_op(be, rq, CTL_MSG_VERIFY, "verify", rs);
	if (is(rq, "POST", "/api/v1/credentials/staged/activate"))
		return route_kvno_op(be, rq, CTL_MSG_ACTIVATE, "activate", rs);
	if (is(rq, "POST", "/api/v1/credentials/retire"))
		return route_kvno_op(be, rq, CTL_MSG_RETIRE, "retire", rs);
	if (is(rq, "POST", "/api/v1/credentials/package"))
		return route_package(be, rq, rs);
	if (is(rq, "PUT", "/api/v1/secrets/staged"))
		return route_secret_stage(be, rq, rs);
	if (is(rq, "POST", "/api/v1/secrets/staged/verify"))
		return route_secret_op(be, rq, CTL_MSG_SECRET_VERIFY, "secret-verify", rs);
	if (is(rq, "POST", "/api/v1/secrets/staged/activate"))
		return route_secret_op(be, rq, CTL_MSG_SECRET_ACTIVATE, "secret-activate",
		    rs);
	if (is(rq, "POST", "/api/v1/secrets/retire"))
		return route_secret_op(be, rq, CTL_MSG_SECRET_RETIRE, "secret-retire", rs);
	if (path_is(rq, "/api/v1/credentials") || path_is(rq, "/api/v1/credentials/staged") ||
	    path_is(rq, "/api/v1/credentials/staged/verify") ||
	    path_is(rq, "/api/v1/credentials/staged/activate") ||
	    path_is(rq, "/api/v1/credentials/retire") ||
	    path_is(rq, "/api/v1/credentials/package") ||
	    path_is(rq, "/api/v1/secrets/staged") ||
	    path_is(rq, "/api/v1/secrets/staged/verify") ||
	    path_is(rq, "/api/v1/secrets/staged/activate") ||
	    path_is(rq, "/api/v1/secrets/retire"))
		return refuse(rs, 405, "method", "method %.*s is not allowed here "
		    "(docs/api.md)", (int)(rq->method_len > 16 ? 16 : rq->method_len),
		    rq->method);
	return refuse(rs, 404, "path", "no such API path (docs/api.md lists them)");
}
