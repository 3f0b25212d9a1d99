/*
 * test_api: the management API's routes, as a specification.  The backend
 * here records what would have gone to the keyholder and what went to the
 * audit log, and answers as the test says; the real socket is exercised by
 * tests/integration/test_mgmtd.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <cmocka.h>

#include <jansson.h>

#include "api.h"
#include "config.h"
#include "credpkg.h"
#include "secretstore.h"

struct fake {
	int		 calls;
	struct ctl_req	 last;
	char		 last_password[300];
	uint8_t		 last_secret[64];	/* a pool secret staged */
	int		 fail;		/* ctl cannot be reached */
	uint32_t	 status;
	const char	*text;
	int		 audits;
	char		 audit[512];
	const char	*list;		/* the LIST_JSON answer, when set */
	uint32_t	 verify_status;	/* the VERIFY answer, when set */
	int		 stage_fixes;	/* a STAGE clears verify_status */
	uint16_t	 types[16];	/* every request's type, in order */
	int		 ntypes;
	EVP_PKEY	*signer, *key;	/* the package keys mgmtd holds */
};

static int
fake_ctl(void *ctx, const struct ctl_req *req, struct ctl_result *res, char *err,
    size_t errlen)
{
	struct fake *f = ctx;

	f->calls++;
	if (f->ntypes < 16)
		f->types[f->ntypes++] = req->type;
	f->last = *req;
	if (req->type == CTL_MSG_STAGE && f->stage_fixes)
		f->verify_status = 0;
	if (req->password != NULL)
		snprintf(f->last_password, sizeof(f->last_password), "%.*s",
		    (int)req->pwlen, (const char *)req->password);
	if (req->secret != NULL && req->secretlen <= sizeof(f->last_secret))
		memcpy(f->last_secret, req->secret, req->secretlen);
	if (f->fail) {
		snprintf(err, errlen, "kerbgated is not running (no control socket at /x)");
		return -1;
	}
	memset(res, 0, sizeof(*res));
	res->status = f->status;
	snprintf(res->text, sizeof(res->text), "%s", f->text ? f->text : "done");
	if (req->type == CTL_MSG_LIST_JSON && f->list != NULL) {
		res->status = CTL_OK;
		snprintf(res->text, sizeof(res->text), "%s", f->list);
	}
	if (req->type == CTL_MSG_VERIFY && f->verify_status != 0) {
		res->status = f->verify_status;
		snprintf(res->text, sizeof(res->text), "HTTP/mail.corp.contoso.com: "
		    "the KDC's ticket is not made with the staged key");
	}
	return 0;
}

static void
fake_audit(void *ctx, const struct api_client *who, const char *action, uint32_t kvno,
    const char *result)
{
	struct fake *f = ctx;

	f->audits++;
	snprintf(f->audit, sizeof(f->audit), "%s %s %u %s", who->subject, action, kvno, result);
}

static const struct api_client admin = { "CN=roll,O=Contoso", "ab" };

static int64_t
fake_now(void *ctx)
{
	(void)ctx;
	return 1796200000;
}

static int
req_len(struct fake *f, const char *method, const char *path, const char *body,
    size_t len, const struct api_client *who, struct api_response *rs)
{
	struct api_backend be = { fake_ctl, fake_audit, f, f->signer, f->key, fake_now };
	struct api_request rq = {
		.method = method, .method_len = strlen(method),
		.path = path, .path_len = strlen(path),
		.body = body, .body_len = len,
		.client = who,
	};

	return api_handle(&be, &rq, rs);
}

static int
req(struct fake *f, const char *method, const char *path, const char *body,
    const struct api_client *who, struct api_response *rs)
{
	return req_len(f, method, path, body, body ? strlen(body) : 0, who, rs);
}

static void
expect(const char *method, const char *path, const char *body, int status,
    const char *needle)
{
	struct fake f = { 0 };
	struct api_response rs;

	assert_int_equal(req(&f, method, path, body, &admin, &rs), status);
	assert_non_null(rs.body);
	if (needle != NULL && strstr(rs.body, needle) == NULL)
		fail_msg("answer %s lacks \"%s\"", rs.body, needle);
	if (status >= 400)
		assert_int_equal(f.calls, 0);	/* refused before the keyholder */
	api_response_free(&rs);
}

static void
test_no_client_certificate_is_refused(void **s)
{
	struct fake f = { 0 };
	struct api_response rs;

	(void)s;
	assert_int_equal(req(&f, "GET", "/api/v1/credentials", NULL, NULL, &rs), 403);
	assert_int_equal(f.calls, 0);
	api_response_free(&rs);
}

static void
test_unknown_paths_and_methods(void **s)
{
	(void)s;
	expect("GET", "/api/v1/nothing", NULL, 404, "\"error\":\"path\"");
	expect("GET", "/api/v1/credentials/../credentials", NULL, 404, NULL);
	expect("DELETE", "/api/v1/credentials", NULL, 405, "DELETE");
	expect("GET", "/api/v1/credentials/staged", NULL, 405, NULL);
	expect("PUT", "/api/v1/credentials/staged/verify", "{}", 405, NULL);
}

static void
test_bodies_are_checked_strictly(void **s)
{
	const char *p = "/api/v1/credentials/staged";

	(void)s;
	expect("PUT", p, NULL, 400, "needs a JSON object");
	expect("PUT", p, "{\"account\":", 400, "not valid JSON");
	expect("PUT", p, "[1,2]", 400, "must be a JSON object");
	expect("PUT", p, "{\"account\":\"A$@R\",\"kvno\":3,\"password\":\"x\",\"extra\":1}", 400,
	    "unknown member \\\"extra\\\"");
	expect("PUT", p, "{\"account\":\"A$@R\",\"account\":\"B$@R\",\"kvno\":3,\"password\":\"x\"}",
	    400, "not valid JSON");				/* duplicate member */
	expect("PUT", p, "{\"kvno\":3,\"password\":\"x\"}", 400, "\"error\":\"account\"");
	expect("PUT", p, "{\"account\":\"A$@R\",\"kvno\":0,\"password\":\"x\"}", 400, "between 1");
	expect("PUT", p, "{\"account\":\"A$@R\",\"kvno\":2147483648,\"password\":\"x\"}", 400, "between 1");
	expect("PUT", p, "{\"account\":\"A$@R\",\"kvno\":\"3\",\"password\":\"x\"}", 400, "whole number");
	expect("PUT", p, "{\"account\":\"A$@R\",\"kvno\":3.5,\"password\":\"x\"}", 400, "whole number");
	expect("PUT", p, "{\"account\":\"A$@R\",\"kvno\":3}", 400, "either");
	expect("PUT", p, "{\"account\":\"A$@R\",\"kvno\":3,\"password\":\"x\",\"keys\":[]}", 400, "either");
	expect("PUT", p, "{\"account\":\"A$@R\",\"kvno\":3,\"password\":\"\"}", 400, "1 to 256");
	expect("PUT", p, "{\"account\":\"A$@R\",\"kvno\":3,\"keys\":[]}", 400, "1 to 4 keys");
	expect("PUT", p, "{\"account\":\"A$@R\",\"kvno\":3,\"keys\":[{\"enctype\":16,\"key\":\"00\"}]}",
	    400, "not one AD uses");
	expect("PUT", p, "{\"account\":\"A$@R\",\"kvno\":3,\"keys\":[{\"enctype\":17,\"key\":\"00\"}]}",
	    400, "32 hex digits");
	expect("PUT", p, "{\"account\":\"A$@R\",\"kvno\":3,\"keys\":[{\"enctype\":17,"
	    "\"key\":\"zz000000000000000000000000000000\"}]}", 400, "not hex");
	expect("POST", "/api/v1/credentials/staged/verify", "{\"kvno\":3,\"force\":true}", 400,
	    "unknown member");
}

static void
test_stage_with_password_reaches_keyholder_and_audit(void **s)
{
	struct fake f = { .status = CTL_OK, .text = "staged kvno 7 (aes256, aes128, rc4)" };
	struct api_response rs;

	(void)s;
	assert_int_equal(req(&f, "PUT", "/api/v1/credentials/staged",
	    "{\"account\":\"EXCHASA$@CORP.CONTOSO.COM\",\"kvno\":7,\"password\":\"S3cret-pw!\"}",
	    &admin, &rs), 200);
	assert_int_equal(f.calls, 1);
	assert_int_equal(f.last.type, CTL_MSG_STAGE);
	assert_string_equal(f.last.principal, "EXCHASA$@CORP.CONTOSO.COM");
	assert_int_equal(f.last.kvno, 7);
	assert_string_equal(f.last_password, "S3cret-pw!");
	assert_non_null(strstr(rs.body, "\"ok\":true"));
	assert_null(strstr(rs.body, "S3cret"));		/* never echoed */
	assert_int_equal(f.audits, 1);
	assert_string_equal(f.audit, "CN=roll,O=Contoso stage 7 ok: staged kvno 7 (aes256, aes128, rc4)");
	assert_null(strstr(f.audit, "S3cret"));
	api_response_free(&rs);
}

static void
test_secrets_stage_verify_and_refusals(void **s)
{
	struct fake f = { .status = CTL_OK, .text = "staged pool cas version 2 (32 bytes)" };
	struct api_response rs;
	char body[256];

	(void)s;
	snprintf(body, sizeof(body), "{\"kind\":\"pool\",\"name\":\"cas\",\"secret\":"
	    "\"%s\"}", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
	assert_int_equal(req(&f, "PUT", "/api/v1/secrets/staged", body, &admin, &rs), 200);
	assert_int_equal(f.last.type, CTL_MSG_SECRET_STAGE);
	assert_int_equal(f.last.kind, SECRET_POOL);
	assert_string_equal(f.last.name, "cas");
	assert_int_equal(f.last.secretlen, 32);
	assert_int_equal(f.last_secret[1], 0x11);
	assert_null(strstr(rs.body, "00112233"));	/* never echoed */
	assert_string_equal(f.audit, "CN=roll,O=Contoso secret-stage 0 ok: staged pool "
	    "cas version 2 (32 bytes)");
	api_response_free(&rs);
	assert_int_equal(req(&f, "POST", "/api/v1/secrets/staged/activate",
	    "{\"kind\":\"cookie\",\"version\":2}", &admin, &rs), 200);
	assert_int_equal(f.last.type, CTL_MSG_SECRET_ACTIVATE);
	assert_int_equal(f.last.kind, SECRET_COOKIE);
	assert_int_equal(f.last.kvno, 2);
	api_response_free(&rs);
	expect("PUT", "/api/v1/secrets/staged", "{\"kind\":\"pool\",\"name\":\"cas\","
	    "\"secret\":\"0011\"}", 400, "32 to 64 bytes in hex");
	expect("PUT", "/api/v1/secrets/staged", "{\"kind\":\"ssh\"}", 400, "or \\\"tls\\\"");
	expect("PUT", "/api/v1/secrets/staged", "{\"kind\":\"cookie\",\"name\":\"x\"}",
	    400, "has no");
	expect("PUT", "/api/v1/secrets/staged", "{\"kind\":\"cookie\",\"secret\":\"00\"}",
	    400, "nothing for the cookie key");
	expect("PUT", "/api/v1/secrets/staged", "{\"kind\":\"tls\",\"name\":\"mail\","
	    "\"key\":\"k\"}", 400, "for tls");
	expect("POST", "/api/v1/secrets/staged/verify", "{\"kind\":\"pool\",\"name\":"
	    "\"cas\"}", 400, "must be a whole number from 1");
	expect("GET", "/api/v1/secrets/retire", NULL, 405, "not allowed");
}

static void
test_stage_with_keys(void **s)
{
	struct fake f = { .status = CTL_OK };
	struct api_response rs;

	(void)s;
	assert_int_equal(req(&f, "PUT", "/api/v1/credentials/staged",
	    "{\"account\":\"svc@R\",\"kvno\":2,\"keys\":[{\"enctype\":18,\"key\":"
	    "\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"},"
	    "{\"enctype\":23,\"key\":\"FFEEDDCCBBAA99887766554433221100\"}]}", &admin, &rs), 200);
	assert_int_equal(f.last.nkeys, 2);
	assert_int_equal(f.last.keys[0].enctype, 18);
	assert_int_equal(f.last.keys[0].len, 32);
	assert_int_equal(f.last.keys[0].bytes[31], 0x1f);
	assert_int_equal(f.last.keys[1].enctype, 23);
	assert_int_equal(f.last.keys[1].bytes[0], 0xff);
	assert_null(strstr(rs.body, "0102030405"));
	api_response_free(&rs);
}

static void
test_keyholder_answers_map_to_statuses(void **s)
{
	struct fake f = { .status = CTL_REFUSED, .text = "kvno 3 is lower than the active kvno 5" };
	struct api_response rs;

	(void)s;
	assert_int_equal(req(&f, "POST", "/api/v1/credentials/staged/activate", "{\"kvno\":3}",
	    &admin, &rs), 409);
	assert_int_equal(f.last.type, CTL_MSG_ACTIVATE);
	assert_non_null(strstr(rs.body, "lower than the active"));
	assert_non_null(strstr(f.audit, "activate 3 refused: kvno 3 is lower"));
	api_response_free(&rs);

	f.status = CTL_FAILED;
	f.text = "HTTP/mail.corp.contoso.com: the KDC's ticket is not made with the staged key";
	assert_int_equal(req(&f, "POST", "/api/v1/credentials/staged/verify", "{\"kvno\":6}",
	    &admin, &rs), 422);
	assert_int_equal(f.last.type, CTL_MSG_VERIFY);
	assert_non_null(strstr(rs.body, "HTTP/mail.corp.contoso.com"));
	api_response_free(&rs);

	f.fail = 1;
	assert_int_equal(req(&f, "POST", "/api/v1/credentials/retire", "{\"kvno\":4}",
	    &admin, &rs), 503);
	assert_int_equal(f.last.type, CTL_MSG_RETIRE);
	assert_non_null(strstr(rs.body, "kerbgated is not running"));
	assert_non_null(strstr(f.audit, "retire 4 not delivered"));
	api_response_free(&rs);
}

static void
test_list_embeds_the_keyholders_json_and_is_not_audited(void **s)
{
	struct fake f = { .status = CTL_OK,
	    .text = "[{\"account\":\"EXCHASA$@R\",\"kvno\":5,\"state\":\"active\"}]" };
	struct api_response rs;

	(void)s;
	assert_int_equal(req(&f, "GET", "/api/v1/credentials", NULL, &admin, &rs), 200);
	assert_int_equal(f.last.type, CTL_MSG_LIST_JSON);
	assert_non_null(strstr(rs.body, "\"credentials\":[{"));
	assert_int_equal(f.audits, 0);
	api_response_free(&rs);
}

/* A JSON error inside the password does not quote it back (an admin's
 * script would print the answer into its log). */
static void
test_json_error_does_not_quote_the_password(void **s)
{
	struct fake f = { 0 };
	struct api_response rs;

	(void)s;
	assert_int_equal(req(&f, "PUT", "/api/v1/credentials/staged",
	    "{\"account\":\"A$@R\",\"kvno\":3,\"password\":\"Quoted-S3cret\\q\"}",
	    &admin, &rs), 400);
	assert_non_null(strstr(rs.body, "not valid JSON"));
	assert_non_null(strstr(rs.body, "column"));
	assert_null(strstr(rs.body, "S3cret"));
	assert_int_equal(f.calls, 0);
	api_response_free(&rs);
}

/* Freed blocks that still held the password when released. */
static int freed_with_secret, freed_blocks;

static void
scanning_free(void *p)
{
	if (p == NULL)
		return;
	freed_blocks++;
	if (memmem(p, malloc_usable_size(p), "-Pw-4711", 8) != NULL)
		freed_with_secret++;
	free(p);
}

static void
test_jansson_copies_of_a_password_are_wiped(void **s)
{
	struct fake f = { .status = CTL_OK };
	struct api_response rs;

	(void)s;
	/* The escape makes jansson's lexer keep the raw text aside. */
	kg_json_wipe_on_free(malloc, scanning_free);
	assert_int_equal(req(&f, "PUT", "/api/v1/credentials/staged",
	    "{\"account\":\"EXCHASA$@CORP.CONTOSO.COM\",\"kvno\":7,"
	    "\"password\":\"Unique-Pw-4711\\u0021\"}", &admin, &rs), 200);
	assert_string_equal(f.last_password, "Unique-Pw-4711!");
	api_response_free(&rs);
	json_set_alloc_funcs(malloc, free);
	assert_true(freed_blocks > 0);
	assert_int_equal(freed_with_secret, 0);
}

/* ---- packages ------------------------------------------------------------------ */

#define PKG_LIST_ACTIVE_7 "{\"account\":\"EXCHASA$@R\",\"sealed\":true,\"kvnos\":" \
	"[{\"kvno\":7,\"state\":\"active\"}]}"
#define PKG_LIST_STAGED_8 "{\"account\":\"EXCHASA$@R\",\"sealed\":true,\"kvnos\":" \
	"[{\"kvno\":7,\"state\":\"active\"},{\"kvno\":8,\"state\":\"staged\"}]}"

static EVP_PKEY *
keygen(int type)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(type, NULL);
	EVP_PKEY *k = NULL;

	assert_non_null(c);
	assert_int_equal(EVP_PKEY_keygen_init(c), 1);
	assert_int_equal(EVP_PKEY_keygen(c, &k), 1);
	EVP_PKEY_CTX_free(c);
	return k;
}

/* A package from signer to key for header kvno \p kvno carrying \p body. */
static uint8_t *
package(EVP_PKEY *signer, EVP_PKEY *key, uint32_t kvno, const char *body, size_t *len)
{
	struct pkg_info in = { kvno, 1796200000 - 60, 1796200000 + 3600 };
	char err[256];
	uint8_t *p;

	assert_int_equal(pkg_seal(signer, key, &in, (const uint8_t *)body, strlen(body),
	    &p, len, err, sizeof(err)), 0);
	return p;
}

#define PKG_BODY_8 "{\"account\":\"EXCHASA$@R\",\"kvno\":8,\"password\":\"Pkg-S3cret\"}"

static void
test_package_is_staged_verified_and_activated(void **s)
{
	struct fake f = { .status = CTL_OK, .list = PKG_LIST_ACTIVE_7 };
	struct api_response rs;
	uint8_t *p;
	size_t len;

	(void)s;
	f.signer = keygen(EVP_PKEY_ED25519);
	f.key = keygen(EVP_PKEY_X25519);
	p = package(f.signer, f.key, 8, PKG_BODY_8, &len);
	assert_int_equal(req_len(&f, "POST", "/api/v1/credentials/package", (char *)p, len,
	    &admin, &rs), 200);
	assert_int_equal(f.ntypes, 5);
	assert_int_equal(f.types[0], CTL_MSG_LIST_JSON);
	assert_int_equal(f.types[1], CTL_MSG_LIST_JSON);
	assert_int_equal(f.types[2], CTL_MSG_STAGE);
	assert_int_equal(f.types[3], CTL_MSG_VERIFY);
	assert_int_equal(f.types[4], CTL_MSG_ACTIVATE);
	assert_int_equal(f.last.kvno, 8);
	assert_string_equal(f.last_password, "Pkg-S3cret");
	assert_int_equal(f.audits, 3);
	assert_non_null(strstr(f.audit, "package-activate 8 ok"));
	assert_null(strstr(rs.body, "S3cret"));
	api_response_free(&rs);
	free(p);
	EVP_PKEY_free(f.signer);
	EVP_PKEY_free(f.key);
}

static void
test_package_refusals_reach_nothing_but_the_list(void **s)
{
	struct fake f = { .status = CTL_OK, .list = PKG_LIST_ACTIVE_7 };
	EVP_PKEY *other = keygen(EVP_PKEY_ED25519);
	struct api_response rs;
	uint8_t *p;
	size_t len;
	int i;

	(void)s;
	f.signer = keygen(EVP_PKEY_ED25519);
	f.key = keygen(EVP_PKEY_X25519);
	for (i = 0; i < 4; i++) {
		const char *why;

		f.ntypes = 0;
		if (i == 0) {		/* tampered */
			p = package(f.signer, f.key, 8, PKG_BODY_8, &len);
			p[PKG_HEADER_LEN + 2] ^= 1;
			why = "signature does not verify";
		} else if (i == 1) {	/* another signer */
			p = package(other, f.key, 8, PKG_BODY_8, &len);
			why = "another management plane";
		} else if (i == 2) {	/* an old kvno: 7 is active */
			p = package(f.signer, f.key, 7, PKG_BODY_8, &len);
			why = "not above the active kvno 7";
		} else {		/* header and body disagree */
			p = package(f.signer, f.key, 9, PKG_BODY_8, &len);
			why = "header says kvno 9 but its credential says kvno 8";
		}
		assert_int_equal(req_len(&f, "POST", "/api/v1/credentials/package", (char *)p,
		    len, &admin, &rs), 400);
		if (strstr(rs.body, why) == NULL)
			fail_msg("case %d: answer %s lacks \"%s\"", i, rs.body, why);
		for (int t = 0; t < f.ntypes; t++)
			assert_int_equal(f.types[t], CTL_MSG_LIST_JSON);
		assert_null(strstr(rs.body, "S3cret"));
		api_response_free(&rs);
		free(p);
	}
	assert_non_null(strstr(f.audit, "package"));
	EVP_PKEY_free(other);
	EVP_PKEY_free(f.signer);
	EVP_PKEY_free(f.key);
}

static void
test_package_that_fails_verification_is_not_activated(void **s)
{
	struct fake f = { .status = CTL_OK, .list = PKG_LIST_ACTIVE_7,
	    .verify_status = CTL_FAILED };
	struct api_response rs;
	uint8_t *p;
	size_t len;

	(void)s;
	f.signer = keygen(EVP_PKEY_ED25519);
	f.key = keygen(EVP_PKEY_X25519);
	p = package(f.signer, f.key, 8, PKG_BODY_8, &len);
	assert_int_equal(req_len(&f, "POST", "/api/v1/credentials/package", (char *)p, len,
	    &admin, &rs), 422);
	assert_int_equal(f.ntypes, 4);
	assert_int_equal(f.types[3], CTL_MSG_VERIFY);
	assert_non_null(strstr(rs.body, "not made with the staged key"));
	api_response_free(&rs);

	/* Sent again once AD has the password: held staged, so not staged
	 * twice; verified and activated. */
	f.verify_status = 0;
	f.list = PKG_LIST_STAGED_8;
	f.ntypes = 0;
	assert_int_equal(req_len(&f, "POST", "/api/v1/credentials/package", (char *)p, len,
	    &admin, &rs), 200);
	assert_int_equal(f.ntypes, 4);
	assert_int_equal(f.types[2], CTL_MSG_VERIFY);
	assert_int_equal(f.types[3], CTL_MSG_ACTIVATE);
	api_response_free(&rs);
	free(p);
	EVP_PKEY_free(f.signer);
	EVP_PKEY_free(f.key);
}

/*
 * Attack: a roll is given up after lb1 staged kvno 8 from package A (AD was
 * never changed), and the next roll makes package B for kvno 8 with another
 * password.  A, replayed from the share (or fetched late), is held staged
 * when B comes: B was verified against A's keys, failed, and was never
 * staged, so lb1 answered 422 to B at every pull, for good.  Now the
 * package's credential takes the place of staged keys that do not verify.
 */
static void
test_package_replaces_staged_keys_that_do_not_verify(void **s)
{
	struct fake f = { .status = CTL_OK, .list = PKG_LIST_STAGED_8,
	    .verify_status = CTL_FAILED, .stage_fixes = 1 };
	struct api_response rs;
	uint8_t *p;
	size_t len;

	(void)s;
	f.signer = keygen(EVP_PKEY_ED25519);
	f.key = keygen(EVP_PKEY_X25519);
	p = package(f.signer, f.key, 8, PKG_BODY_8, &len);
	assert_int_equal(req_len(&f, "POST", "/api/v1/credentials/package", (char *)p, len,
	    &admin, &rs), 200);
	assert_int_equal(f.ntypes, 6);
	assert_int_equal(f.types[2], CTL_MSG_VERIFY);
	assert_int_equal(f.types[3], CTL_MSG_STAGE);
	assert_int_equal(f.types[4], CTL_MSG_VERIFY);
	assert_int_equal(f.types[5], CTL_MSG_ACTIVATE);
	assert_string_equal(f.last_password, "Pkg-S3cret");
	assert_null(strstr(rs.body, "S3cret"));
	api_response_free(&rs);

	/* AD does not have it yet either: staged, 422, nothing activated. */
	f.verify_status = CTL_FAILED;
	f.stage_fixes = 0;
	f.ntypes = 0;
	assert_int_equal(req_len(&f, "POST", "/api/v1/credentials/package", (char *)p, len,
	    &admin, &rs), 422);
	assert_int_equal(f.ntypes, 5);
	assert_int_equal(f.types[3], CTL_MSG_STAGE);
	assert_int_equal(f.types[4], CTL_MSG_VERIFY);
	api_response_free(&rs);
	free(p);
	EVP_PKEY_free(f.signer);
	EVP_PKEY_free(f.key);
}

static void
test_package_without_keys_configured_is_refused(void **s)
{
	(void)s;
	expect("POST", "/api/v1/credentials/package", "KGCREDPK", 409,
	    "set package.signer_key and package.key");
	expect("GET", "/api/v1/credentials/package", NULL, 405, "not allowed");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_client_certificate_is_refused),
		cmocka_unit_test(test_unknown_paths_and_methods),
		cmocka_unit_test(test_bodies_are_checked_strictly),
		cmocka_unit_test(test_stage_with_password_reaches_keyholder_and_audit),
		cmocka_unit_test(test_stage_with_keys),
		cmocka_unit_test(test_secrets_stage_verify_and_refusals),
		cmocka_unit_test(test_keyholder_answers_map_to_statuses),
		cmocka_unit_test(test_list_embeds_the_keyholders_json_and_is_not_audited),
		cmocka_unit_test(test_jansson_copies_of_a_password_are_wiped),
		cmocka_unit_test(test_json_error_does_not_quote_the_password),
		cmocka_unit_test(test_package_is_staged_verified_and_activated),
		cmocka_unit_test(test_package_refusals_reach_nothing_but_the_list),
		cmocka_unit_test(test_package_that_fails_verification_is_not_activated),
		cmocka_unit_test(test_package_replaces_staged_keys_that_do_not_verify),
		cmocka_unit_test(test_package_without_keys_configured_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
