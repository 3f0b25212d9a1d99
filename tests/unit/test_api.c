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

struct fake {
	int		 calls;
	struct ctl_req	 last;
	char		 last_password[300];
	int		 fail;		/* ctl cannot be reached */
	uint32_t	 status;
	const char	*text;
	int		 audits;
	char		 audit[512];
};

static int
fake_ctl(void *ctx, const struct ctl_req *req, struct ctl_result *res, char *err,
    size_t errlen)
{
	struct fake *f = ctx;

	f->calls++;
	f->last = *req;
	if (req->password != NULL)
		snprintf(f->last_password, sizeof(f->last_password), "%.*s",
		    (int)req->pwlen, (const char *)req->password);
	if (f->fail) {
		snprintf(err, errlen, "kerbgated is not running (no control socket at /x)");
		return -1;
	}
	memset(res, 0, sizeof(*res));
	res->status = f->status;
	snprintf(res->text, sizeof(res->text), "%s", f->text ? f->text : "done");
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

static int
req(struct fake *f, const char *method, const char *path, const char *body,
    const struct api_client *who, struct api_response *rs)
{
	struct api_backend be = { fake_ctl, fake_audit, f };
	struct api_request rq = {
		.method = method, .method_len = strlen(method),
		.path = path, .path_len = strlen(path),
		.body = body, .body_len = body ? strlen(body) : 0,
		.client = who,
	};

	return api_handle(&be, &rq, rs);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_client_certificate_is_refused),
		cmocka_unit_test(test_unknown_paths_and_methods),
		cmocka_unit_test(test_bodies_are_checked_strictly),
		cmocka_unit_test(test_stage_with_password_reaches_keyholder_and_audit),
		cmocka_unit_test(test_stage_with_keys),
		cmocka_unit_test(test_keyholder_answers_map_to_statuses),
		cmocka_unit_test(test_list_embeds_the_keyholders_json_and_is_not_audited),
		cmocka_unit_test(test_jansson_copies_of_a_password_are_wiped),
		cmocka_unit_test(test_json_error_does_not_quote_the_password),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
