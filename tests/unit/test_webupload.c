/*
 * test_webupload.c: the firmware upload of the web listener attacked from
 * the browser's side (upload.h): what an admin's session, or a page that
 * rides it, can send while a bundle streams in.  The upload is driven as
 * server.c drives it (upload_begin, upload_write as the TLS records come,
 * upload_end or upload_abort), the other routes through web_handle() with
 * the admin's session, as a browser reaches them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <ev.h>
#include <openssl/pem.h>

#include "devcert.h"
#include "http.h"
#include "upload.h"
#include "util.h"
#include "web.h"

static struct web w;
static struct api_backend be;
static char dir[64];
static const struct session *sess;	/* the admin's, made by session_create() */

static time_t
fixed_now(void)
{
	return 1000000;
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/kg-webupload.XXXXXX");
	assert_non_null(mkdtemp(dir));
	memset(&w, 0, sizeof(w));
	w.conf.state_dir = dir;
	w.conf.www = dir;
	w.conf.upload_dir = dir;
	w.conf.release_file = "/nonexistent";
	w.conf.max_upload = 64L * 1024 * 1024;
	w.now = fixed_now;
	web_init(&w, &be, -1, -1);
	assert_non_null(sess = session_create(&w.sessions, fixed_now()));
	assert_int_equal(upload_init(&w, EV_DEFAULT, NULL), 0);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	free(w.upload);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* A request through web_handle() with the session's cookie, Origin and
 * token; the answer in *rs (the caller frees it). */
static int
call_answer(const char *method, const char *target, struct web_response *rs)
{
	static char raw[1024];
	struct http_header hdrs[16];
	struct http_head head;
	struct web_request rq;
	int n = snprintf(raw, sizeof(raw), "%s %s HTTP/1.1\r\nHost: kg.example\r\n"
	    "Origin: https://kg.example\r\nCookie: " WEB_COOKIE "=%s\r\n"
	    "X-CSRF-Token: %s\r\nContent-Length: 0\r\n\r\n", method, target,
	    sess->id, sess->csrf);

	memset(&head, 0, sizeof(head));
	assert_true(http_parse_request(raw, (size_t)n, NULL, hdrs, 16, &head) > 0);
	memset(&rq, 0, sizeof(rq));
	rq.head = &head;
	rq.peer = "192.0.2.1";
	web_handle(&w, &rq, rs);
	return rs->status;
}

static int
call(const char *method, const char *target)
{
	struct web_response rs;
	int status = call_answer(method, target, &rs);

	web_response_free(&rs);
	return status;
}

static int
begin(uint64_t declared)
{
	struct http_head head;
	struct web_request rq;
	struct web_response rs;
	int rc;

	memset(&head, 0, sizeof(head));
	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	rq.head = &head;
	rq.peer = "192.0.2.1";
	rc = upload_begin(&w, &rq, declared, &rs);
	web_response_free(&rs);
	return rc == 0 ? 0 : rs.status;
}

static int
write_bytes(const void *buf, size_t n)
{
	struct web_response rs;
	int rc;

	memset(&rs, 0, sizeof(rs));
	rc = upload_write(&w, buf, n, &rs);
	web_response_free(&rs);
	return rc == 0 ? 0 : rs.status;
}

static int
part_exists(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/.upload.raucb.part", dir);
	return access(p, F_OK) == 0;
}

/*
 * DELETE of the bundle while one streams in: if it reset the state, a second
 * upload would begin beside the first, both writing the one file through
 * the one descriptor (the first's leaked), and the first's end would check
 * and rename a file the second is still writing.
 */
static void
test_deleting_the_bundle_while_one_streams_in_is_refused(void **state)
{
	(void)state;
	assert_int_equal(begin(8192), 0);
	assert_int_equal(write_bytes("hsqs", 4), 0);
	assert_int_equal(call("DELETE", UPLOAD_PATH), 409);
	assert_true(part_exists());
	/* and so a second upload is still refused as busy */
	assert_int_equal(begin(8192), 409);
	upload_abort(&w, 8188);
	assert_false(part_exists());
}

static void
test_a_second_upload_while_one_streams_in_is_refused(void **state)
{
	(void)state;
	assert_int_equal(begin(8192), 0);
	assert_int_equal(begin(8192), 409);
	upload_abort(&w, 8192);
	/* once the first is cut short, a new one may begin */
	assert_int_equal(begin(8192), 0);
	upload_abort(&w, 8192);
}

/*
 * The squashfs magic is checked over the first four bytes however the TLS
 * records cut them: a first record of one byte must not skip the check.
 */
static void
test_a_file_that_is_no_bundle_is_refused_even_when_its_first_bytes_come_one_by_one(
    void **state)
{
	(void)state;
	assert_int_equal(begin(8192), 0);
	assert_int_equal(write_bytes("h", 1), 0);
	assert_int_equal(write_bytes("s", 1), 0);
	assert_int_equal(write_bytes("XX and the rest", 15), 400);
	assert_false(part_exists());
	assert_int_equal(begin(8192), 0);
	assert_int_equal(write_bytes("hs", 2), 0);
	assert_int_equal(write_bytes("qs", 2), 0);
	assert_int_equal(write_bytes("more", 4), 0);
	upload_abort(&w, 8192 - 8);
}

/* A link planted where the partial bundle goes is not followed. */
static void
test_a_link_planted_as_the_partial_bundle_is_not_followed(void **state)
{
	char part[128], target[128];
	struct stat st;

	(void)state;
	snprintf(part, sizeof(part), "%s/.upload.raucb.part", dir);
	snprintf(target, sizeof(target), "%s/victim", dir);
	assert_int_equal(symlink(target, part), 0);
	assert_int_equal(begin(8192), 500);
	assert_int_equal(stat(target, &st), -1);
	unlink(part);
}

static void
test_a_declared_size_below_a_bundle_or_above_the_limit_is_refused(void **state)
{
	(void)state;
	assert_int_equal(begin(0), 400);
	assert_int_equal(begin(UPLOAD_MIN - 1), 400);
	assert_int_equal(begin((uint64_t)w.conf.max_upload + 1), 413);
	assert_int_equal(begin(UINT64_MAX), 413);
	assert_false(part_exists());
}

/* ---- the check: `rauc info`, beside the event loop ---------------------------- */

/*
 * A stand-in rauc first in PATH: `info` prints what $dir/info.out holds
 * and exits with $dir/info.rc; anything else fails.  The check runs it as
 * it runs the real one.
 */
static void
fake_rauc(const char *out, int rc)
{
	char path[160], oldpath[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/bin", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/bin/rauc", dir);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "#!/bin/sh\n[ \"$1\" = info ] || exit 1\ncat '%s/info.out'\n"
	    "exit $(cat '%s/info.rc')\n", dir, dir);
	fclose(f);
	chmod(path, 0700);
	snprintf(path, sizeof(path), "%s/info.out", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs(out, f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/info.rc", dir);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "%d\n", rc);
	fclose(f);
	snprintf(oldpath, sizeof(oldpath), "%s/bin:%s", dir, getenv("PATH"));
	setenv("PATH", oldpath, 1);
}

static int answered;		/* the check's answer reached the uploader */
static char answer[4096];

static void
on_checked(void *arg, struct web_response *rs)
{
	assert_ptr_equal(arg, &answered);
	answered = rs->status;
	snprintf(answer, sizeof(answer), "%.*s", (int)rs->body_len, rs->body);
	web_response_free(rs);
}

/* Uploads 8 KiB that start as a squashfs; upload_end's return. */
static int
upload_whole(void)
{
	static char body[8192];
	struct web_response rs;
	int rc;

	memcpy(body, "hsqs", 4);
	assert_int_equal(begin(sizeof(body)), 0);
	assert_int_equal(write_bytes(body, sizeof(body)), 0);
	memset(&rs, 0, sizeof(rs));
	answered = 0;
	rc = upload_end(&w, &rs, on_checked, &answered);
	if (rc == 0)
		web_response_free(&rs);
	return rc;
}

/* The "state" GET /api/v1/firmware shows. */
static const char *
state(void)
{
	static char st[32];
	struct web_response rs;
	const char *p;

	assert_int_equal(call_answer("GET", "/api/v1/firmware", &rs), 200);
	assert_non_null(p = strstr(rs.body, "\"state\":\""));
	p += 9;
	snprintf(st, sizeof(st), "%.*s", (int)strcspn(p, "\""), p);
	web_response_free(&rs);
	return st;
}

static void
run_until_answered(void)
{
	int i;

	for (i = 0; i < 500 && answered == 0; i++)
		ev_run(EV_DEFAULT, EVRUN_ONCE);
}

/*
 * The check does not hold the event loop (the mutual-TLS API and the page
 * go on while RAUC reads tens of MiB): upload_end returns at once, the
 * state says "checking", and the answer comes through the callback.
 */
static void
test_the_check_runs_beside_the_loop_and_answers_the_uploader(void **state_)
{
	(void)state_;
	fake_rauc("Compatible: 'kerbgate-test'\nVersion: '9.9.9'\n\033[1m[rootfs]\033[0m\n", 0);
	assert_int_equal(upload_whole(), 1);
	assert_int_equal(answered, 0);
	assert_string_equal(state(), "checking");
	assert_int_equal(begin(8192), 409);	/* busy while it checks */
	assert_int_equal(call("DELETE", UPLOAD_PATH), 409);
	run_until_answered();
	assert_int_equal(answered, 200);
	assert_non_null(strstr(answer, "Version: '9.9.9'"));
	assert_non_null(strstr(answer, "\\n[rootfs]\\n"));	/* its colours dropped */
	assert_null(strstr(answer, "\\u001b"));
	assert_string_equal(state(), "ready");
}

static void
test_a_bundle_rauc_refuses_is_answered_422_with_its_reason_and_removed(void **state_)
{
	char p[160];

	(void)state_;
	fake_rauc("signature verification failed: invalid certificate\n", 1);
	assert_int_equal(upload_whole(), 1);
	run_until_answered();
	assert_int_equal(answered, 422);
	assert_non_null(strstr(answer, "\"reason\":\"bad signature\""));
	assert_string_equal(state(), "failed");
	snprintf(p, sizeof(p), "%s/update.raucb", dir);
	assert_int_equal(access(p, F_OK), -1);
}

/* The uploader went away (closed the tab): the check still ends, in the state. */
static void
test_a_check_whose_uploader_left_still_ends_in_the_state(void **state_)
{
	int i;

	(void)state_;
	fake_rauc("Compatible: 'kerbgate-test'\n", 0);
	assert_int_equal(upload_whole(), 1);
	upload_detach(&w, &answered);
	for (i = 0; i < 500 && strcmp(state(), "checking") == 0; i++)
		ev_run(EV_DEFAULT, EVRUN_ONCE);
	assert_int_equal(answered, 0);
	assert_string_equal(state(), "ready");
}

/*
 * A new upload replaces a checked bundle at its start.  Refused after that
 * (no room), it must not leave "ready" behind for a file that is gone: an
 * Install would hand RAUC nothing.
 */
static void
test_a_new_upload_refused_for_space_leaves_no_stale_ready_bundle(void **state_)
{
	(void)state_;
	fake_rauc("Compatible: 'kerbgate-test'\n", 0);
	assert_int_equal(upload_whole(), 1);
	run_until_answered();
	assert_string_equal(state(), "ready");
	w.conf.max_upload = INT64_MAX;
	assert_int_equal(begin((uint64_t)1 << 60), 507);
	assert_string_equal(state(), "none");
	assert_int_equal(call("POST", "/api/v1/firmware/install"), 409);
}

/* ---- the audit page ------------------------------------------------------------ */

/*
 * A management client's certificate subject is written as who="..." with
 * only its quotes made '?': one naming " action=setup kvno=7" must not be
 * shown as that action.
 */
static void
test_the_audit_page_takes_the_action_after_who_not_from_inside_it(void **state)
{
	static const char line[] = "2026-12-02T10:00:00Z who=\"CN=x action=setup kvno=7 "
	    "result=?ok\" sha256=ab action=credentials-activate kvno=3 result=\"ok\"\n";
	char path[128];
	struct web_response rs;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	assert_true((fd = open(path, O_RDWR | O_CREAT, 0600)) >= 0);
	assert_int_equal(write(fd, line, sizeof(line) - 1), (ssize_t)sizeof(line) - 1);
	w.audit_rfd = fd;
	call_answer("GET", "/api/v1/audit", &rs);
	assert_int_equal(rs.status, 200);
	assert_non_null(strstr(rs.body, "\"action\":\"credentials-activate\""));
	assert_non_null(strstr(rs.body, "\"kvno\":3"));
	assert_non_null(strstr(rs.body, "\"who\":\"CN=x action=setup kvno=7 result=?ok\""));
	web_response_free(&rs);
	w.audit_rfd = -1;
	close(fd);
}

/* ---- the device certificate --------------------------------------------------- */

/* A PEM file's text, NUL-ended, in a 64 KiB buffer. */
static char *
slurp(const char *path, size_t *len)
{
	BIO *b = BIO_new_file(path, "r");
	char *buf = calloc(1, 65536);
	int n;

	assert_non_null(b);
	assert_non_null(buf);
	assert_true((n = BIO_read(b, buf, 65535)) > 0);
	BIO_free(b);
	*len = (size_t)n;
	return buf;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (; (hay = strstr(hay, needle)) != NULL; hay++)
		n++;
	return n;
}

/* A key in the "EC PRIVATE KEY" form mbedTLS looks for first. */
static char *
traditional_pem(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *pk;
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *out;
	long n;

	assert_non_null(f);
	assert_non_null(pk = PEM_read_PrivateKey(f, NULL, NULL, NULL));
	fclose(f);
	assert_int_equal(PEM_write_bio_PrivateKey_traditional(b, pk, NULL, NULL, 0, NULL, NULL), 1);
	n = BIO_get_mem_data(b, &p);
	assert_non_null(out = calloc(1, (size_t)n + 1));
	memcpy(out, p, (size_t)n);
	BIO_free(b);
	EVP_PKEY_free(pk);
	return out;
}

/*
 * The matching key, then another one: OpenSSL checks the first, mbedTLS
 * (which serves the page) would load the "EC PRIVATE KEY" one, so the page
 * would go down at the next start with a key the certificate is not for.
 */
static void
test_an_uploaded_key_is_stored_as_the_one_key_that_was_checked(void **state)
{
	char a_pem[128], a_key[128], b_pem[128], b_key[128], dev_pem[128], dev_key[128];
	char err[300], *cert, *key, *other, *both, *stored;
	size_t clen, klen, slen;
	struct stat st;

	(void)state;
	snprintf(a_pem, sizeof(a_pem), "%s/a.pem", dir);
	snprintf(a_key, sizeof(a_key), "%s/a.key", dir);
	snprintf(b_pem, sizeof(b_pem), "%s/b.pem", dir);
	snprintf(b_key, sizeof(b_key), "%s/b.key", dir);
	snprintf(dev_pem, sizeof(dev_pem), "%s/dev.pem", dir);
	snprintf(dev_key, sizeof(dev_key), "%s/dev.key", dir);
	assert_int_equal(devcert_ensure(a_pem, a_key, (uid_t)-1, (gid_t)-1, err, sizeof(err)), 1);
	assert_int_equal(devcert_ensure(b_pem, b_key, (uid_t)-1, (gid_t)-1, err, sizeof(err)), 1);
	cert = slurp(a_pem, &clen);
	key = slurp(a_key, &klen);
	other = traditional_pem(b_key);
	assert_non_null(both = calloc(1, klen + strlen(other) + 1));
	memcpy(both, key, klen);
	memcpy(both + klen, other, strlen(other));

	/* b's key for a's certificate: refused, nothing written */
	assert_int_equal(devcert_install(cert, clen, other, strlen(other), dev_pem, dev_key,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "does not belong"));
	assert_int_equal(access(dev_key, F_OK), -1);

	assert_int_equal(devcert_install(cert, clen, both, strlen(both), dev_pem, dev_key,
	    err, sizeof(err)), 0);
	stored = slurp(dev_key, &slen);
	assert_int_equal(count(stored, "-----BEGIN"), 1);
	assert_int_equal(count(stored, "EC PRIVATE KEY"), 0);
	assert_int_equal(stat(dev_key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	kg_freezero(stored, 65536);
	stored = slurp(dev_pem, &slen);
	assert_int_equal(count(stored, "-----BEGIN CERTIFICATE-----"), 1);
	free(stored);

	/* a chain after the certificate is kept, in order */
	free(other);
	other = slurp(b_pem, &slen);
	assert_non_null(both = realloc(both, clen + slen + 1));
	memcpy(both, cert, clen);
	memcpy(both + clen, other, slen + 1);
	assert_int_equal(devcert_install(both, clen + slen, key, klen, dev_pem, dev_key,
	    err, sizeof(err)), 0);
	stored = slurp(dev_pem, &slen);
	assert_int_equal(count(stored, "-----BEGIN CERTIFICATE-----"), 2);
	free(stored);
	free(both);
	free(other);
	free(cert);
	kg_freezero(key, 65536);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_deleting_the_bundle_while_one_streams_in_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_second_upload_while_one_streams_in_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_file_that_is_no_bundle_is_refused_even_when_its_first_bytes_come_one_by_one,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_link_planted_as_the_partial_bundle_is_not_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_declared_size_below_a_bundle_or_above_the_limit_is_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_the_check_runs_beside_the_loop_and_answers_the_uploader, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_bundle_rauc_refuses_is_answered_422_with_its_reason_and_removed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_check_whose_uploader_left_still_ends_in_the_state, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_new_upload_refused_for_space_leaves_no_stale_ready_bundle, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_the_audit_page_takes_the_action_after_who_not_from_inside_it, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_an_uploaded_key_is_stored_as_the_one_key_that_was_checked, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
