/*
 * test_http.c: the HTTP/1.1 head parser and body framing, as a
 * specification.  Requests come from clients (Outlook Anywhere, OWA, EWS,
 * MAPI/HTTP); responses from Exchange behind the relay.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "http.h"

#define MAX_HDRS 128

static struct http_header hdrs[MAX_HDRS];

static int
parse_req_n(const char *s, size_t len, struct http_head *h)
{
	memset(h, 0, sizeof(*h));
	return http_parse_request(s, len, NULL, hdrs, MAX_HDRS, h);
}

static int
parse_req(const char *s, struct http_head *h)
{
	return parse_req_n(s, strlen(s), h);
}

static int
req(const char *s)
{
	struct http_head h;

	return parse_req(s, &h);
}

static int
parse_resp(const char *s, const char *method, struct http_head *h)
{
	memset(h, 0, sizeof(*h));
	return http_parse_response(s, strlen(s), NULL, method,
	    method ? strlen(method) : 0, hdrs, MAX_HDRS, h);
}

static int
resp(const char *s)
{
	struct http_head h;

	return parse_resp(s, "GET", &h);
}

static int
span_is(const char *p, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(p, lit, len) == 0;
}

/* A request with the given extra header lines (each ending in CRLF). */
static char *
request_with(const char *method, const char *extra)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf), "%s /rpc/rpcproxy.dll?mail.example.com:6001"
	    " HTTP/1.1\r\nHost: mail.example.com\r\n%s\r\n", method, extra);
	return buf;
}

/* A head whose Authorization header makes it total exactly `total` bytes. */
static char *
head_of_size(size_t total)
{
	static const char pre[] = "GET /owa/ HTTP/1.1\r\nHost: mail\r\n"
	    "Authorization: Negotiate ";
	static const char post[] = "\r\n\r\n";
	char *b = malloc(total + 1);
	size_t fill = total - (sizeof(pre) - 1) - (sizeof(post) - 1);

	assert_non_null(b);
	memcpy(b, pre, sizeof(pre) - 1);
	memset(b + sizeof(pre) - 1, 'A', fill);
	memcpy(b + sizeof(pre) - 1 + fill, post, sizeof(post));
	assert_int_equal(strlen(b), total);
	return b;
}

/* ------------------------------------------------------------- requests */

static void
test_simple_get_is_parsed(void **state)
{
	const char *s = "GET /owa/?a=b HTTP/1.1\r\nHost: mail.example.com\r\n"
	    "User-Agent: test\r\n\r\n";
	struct http_head h;
	int n = parse_req(s, &h);

	assert_int_equal(n, (int)strlen(s));
	assert_int_equal(h.head_len, strlen(s));
	assert_true(h.is_request);
	assert_true(span_is(h.method, h.method_len, "GET"));
	assert_true(span_is(h.target, h.target_len, "/owa/?a=b"));
	assert_int_equal(h.version_minor, 1);
	assert_int_equal(h.nheaders, 2);
	assert_true(span_is(h.headers[0].name, h.headers[0].name_len, "Host"));
	assert_true(span_is(h.headers[0].value, h.headers[0].value_len,
	    "mail.example.com"));
	assert_int_equal(h.body, HTTP_BODY_NONE);
	assert_true(h.keep_alive);
	assert_false(h.expect_continue);
	assert_false(h.upgrade);
}

static void
test_rpc_in_data_method_is_accepted(void **state)
{
	struct http_head h;
	const char *s = request_with("RPC_IN_DATA",
	    "Content-Length: 1073741824\r\nAuthorization: Negotiate YIIabc=\r\n");

	assert_int_equal(parse_req(s, &h), (int)strlen(s));
	assert_true(span_is(h.method, h.method_len, "RPC_IN_DATA"));
	assert_int_equal(h.body, HTTP_BODY_LENGTH);
	assert_true(h.has_content_length);
	assert_true(h.content_length == 1073741824ULL);
}

static void
test_rpc_out_data_method_is_accepted(void **state)
{
	struct http_head h;
	const char *s = request_with("RPC_OUT_DATA",
	    "Content-Length: 76\r\n");

	assert_int_equal(parse_req(s, &h), (int)strlen(s));
	assert_true(span_is(h.method, h.method_len, "RPC_OUT_DATA"));
	assert_true(h.content_length == 76);
}

static void
test_any_token_method_is_accepted(void **state)
{
	struct http_head h;
	const char *s = request_with("X-MS-!#$%&'*+.^_`|~9", "");

	assert_true(parse_req(s, &h) > 0);
	assert_int_equal(h.method_len, strlen("X-MS-!#$%&'*+.^_`|~9"));
}

static void
test_content_length_over_4_gib_is_accepted(void **state)
{
	struct http_head h;

	assert_true(parse_req(request_with("RPC_IN_DATA",
	    "Content-Length: 9223372036854775807\r\n"), &h) > 0);
	assert_true(h.content_length == 9223372036854775807ULL);
	assert_true(parse_req(request_with("POST",
	    "Content-Length: 00017\r\n"), &h) > 0);
	assert_true(h.content_length == 17);
}

static void
test_zero_content_length_means_no_body(void **state)
{
	struct http_head h;

	assert_true(parse_req(request_with("POST", "Content-Length: 0\r\n"),
	    &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_NONE);
	assert_true(h.has_content_length);
}

static void
test_incomplete_head_needs_more(void **state)
{
	assert_int_equal(req(""), HTTP_NEED_MORE);
	assert_int_equal(req("GET / HTTP/1.1\r\nHost: a\r\n"), HTTP_NEED_MORE);
	assert_int_equal(req("GET / HTTP/1.1\r\nHost: a\r\n\r"), HTTP_NEED_MORE);
	assert_int_equal(req("GET / HTTP/1.1\r"), HTTP_NEED_MORE);
}

static void
test_head_split_at_every_byte_parses_the_same(void **state)
{
	const char *s = "RPC_IN_DATA /rpc/rpcproxy.dll?ex:6004 HTTP/1.1\r\n"
	    "Host: mail.example.com\r\nContent-Length: 1073741824\r\n"
	    "Connection: Keep-Alive\r\nAuthorization: Negotiate YII=\r\n\r\n";
	size_t len = strlen(s), cut;
	struct http_head whole, inc, fresh;

	assert_int_equal(parse_req(s, &whole), (int)len);
	memset(&inc, 0, sizeof(inc));
	/* One head struct kept across calls, as the relay does. */
	for (cut = 0; cut < len; cut++) {
		assert_int_equal(http_parse_request(s, cut, NULL, hdrs,
		    MAX_HDRS, &inc), HTTP_NEED_MORE);
		/* And a fresh one each time: same answer. */
		assert_int_equal(parse_req_n(s, cut, &fresh), HTTP_NEED_MORE);
	}
	assert_int_equal(http_parse_request(s, len, NULL, hdrs, MAX_HDRS,
	    &inc), (int)len);
	assert_true(span_is(inc.method, inc.method_len, "RPC_IN_DATA"));
	assert_int_equal(inc.nheaders, whole.nheaders);
	assert_true(inc.content_length == whole.content_length);
	assert_int_equal(inc.keep_alive, whole.keep_alive);
	assert_int_equal(inc.head_len, whole.head_len);
}

static void
test_invalid_head_split_at_every_byte_fails_the_same(void **state)
{
	const char *s = "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n";
	size_t len = strlen(s), cut;
	struct http_head h;
	int rc;

	memset(&h, 0, sizeof(h));
	for (cut = 0; cut <= len; cut++) {
		rc = http_parse_request(s, cut, NULL, hdrs, MAX_HDRS, &h);
		if (rc != HTTP_NEED_MORE)
			break;
	}
	assert_int_equal(rc, HTTP_E_BARE_LF);
	assert_true(cut < len);	/* refused before the head was complete */
}

static void
test_pipelined_requests_return_first_head_length(void **state)
{
	const char *first = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
	const char *both = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
	    "GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
	struct http_head h;
	int n = parse_req(both, &h);

	assert_int_equal(n, (int)strlen(first));
	assert_true(span_is(h.target, h.target_len, "/a"));
	assert_int_equal(parse_req(both + n, &h), (int)strlen(first));
	assert_true(span_is(h.target, h.target_len, "/b"));
}

static void
test_reused_head_struct_without_reset_still_parses_correctly(void **state)
{
	const char *a = "GET /a HTTP/1.1\r\nHost: x\r\nX-Long-Header: 0123456789\r\n";
	const char *b = "GET /b HTTP/1.1\r\nHost: y\r\n\r\nGET /c HTTP/1.1\r\n";
	struct http_head h;

	memset(&h, 0, sizeof(h));
	assert_int_equal(http_parse_request(a, strlen(a), NULL, hdrs, MAX_HDRS,
	    &h), HTTP_NEED_MORE);
	/* A different buffer with a stale scan position: still the first
	 * head in b, never a later one. */
	assert_int_equal(http_parse_request(b, strlen(b), NULL, hdrs, MAX_HDRS,
	    &h), 28);
	assert_true(span_is(h.target, h.target_len, "/b"));
}

static void
test_header_values_are_trimmed_of_ows(void **state)
{
	struct http_head h;
	const struct http_header *x;

	assert_true(parse_req(request_with("GET",
	    "X-A: \t inner  space \t \r\n"), &h) > 0);
	x = http_find(&h, "x-a");
	assert_non_null(x);
	assert_true(span_is(x->value, x->value_len, "inner  space"));
}

static void
test_empty_header_value_is_accepted(void **state)
{
	struct http_head h;
	const struct http_header *x;

	assert_true(parse_req(request_with("GET", "X-Empty:\r\nX-Blank:   \r\n"),
	    &h) > 0);
	x = http_find(&h, "X-Empty");
	assert_non_null(x);
	assert_int_equal(x->value_len, 0);
	x = http_find(&h, "X-Blank");
	assert_non_null(x);
	assert_int_equal(x->value_len, 0);
}

static void
test_obs_text_in_header_value_is_accepted(void **state)
{
	assert_true(req(request_with("GET", "X-Name: J\xc3\xbcrgen\r\n")) > 0);
}

static void
test_authorization_of_18_kib_is_accepted(void **state)
{
	char *b = head_of_size(18 * 1024);
	struct http_head h;
	const struct http_header *a;

	assert_int_equal(parse_req(b, &h), 18 * 1024);
	a = http_find(&h, "authorization");
	assert_non_null(a);
	assert_true(a->value_len > 18 * 1024 - 100);
	free(b);
}

static void
test_authorization_of_64_kib_is_accepted_by_default(void **state)
{
	char *b = head_of_size(65536 + 100);

	assert_int_equal(req(b), 65536 + 100);
	free(b);
}

static void
test_head_of_65537_bytes_is_refused_with_431_under_a_64_kib_limit(void **state)
{
	struct http_limits lim = { .max_head_bytes = 65536 };
	struct http_head h;
	char *ok = head_of_size(65536), *big = head_of_size(65537);

	memset(&h, 0, sizeof(h));
	assert_int_equal(http_parse_request(ok, 65536, &lim, hdrs, MAX_HDRS,
	    &h), 65536);
	memset(&h, 0, sizeof(h));
	assert_int_equal(http_parse_request(big, 65537, &lim, hdrs, MAX_HDRS,
	    &h), HTTP_E_HEAD_TOO_LARGE);
	assert_int_equal(http_error_status(HTTP_E_HEAD_TOO_LARGE), 431);
	/* Also while the head is still arriving. */
	memset(&h, 0, sizeof(h));
	assert_int_equal(http_parse_request(big, 65536, &lim, hdrs, MAX_HDRS,
	    &h), HTTP_E_HEAD_TOO_LARGE);
	free(ok);
	free(big);
}

static void
test_head_over_default_limit_is_refused_with_431(void **state)
{
	char *b = head_of_size(HTTP_DEFAULT_MAX_HEAD_BYTES + 1);

	assert_int_equal(req(b), HTTP_E_HEAD_TOO_LARGE);
	b[HTTP_DEFAULT_MAX_HEAD_BYTES - 10] = '\0';	/* incomplete */
	assert_int_equal(req(b), HTTP_NEED_MORE);
	free(b);
	b = head_of_size(HTTP_DEFAULT_MAX_HEAD_BYTES);
	assert_int_equal(req(b), HTTP_DEFAULT_MAX_HEAD_BYTES);
	free(b);
}

static void
test_slow_sender_of_a_huge_head_is_refused_incrementally(void **state)
{
	char *b = head_of_size(HTTP_DEFAULT_MAX_HEAD_BYTES + 50);
	struct http_head h;
	size_t len;
	int rc = HTTP_NEED_MORE;

	memset(&h, 0, sizeof(h));
	for (len = 1; len <= HTTP_DEFAULT_MAX_HEAD_BYTES + 50; len++) {
		rc = http_parse_request(b, len, NULL, hdrs, MAX_HDRS, &h);
		if (rc != HTTP_NEED_MORE)
			break;
	}
	assert_int_equal(rc, HTTP_E_HEAD_TOO_LARGE);
	assert_int_equal(len, HTTP_DEFAULT_MAX_HEAD_BYTES);
	free(b);
}

static void
test_too_many_headers_is_refused_with_431(void **state)
{
	char extra[4096] = "";
	struct http_limits lim = { .max_headers = 10 };
	struct http_head h;
	const char *s;
	int i;

	for (i = 0; i < 9; i++)
		strcat(extra, "X-A: b\r\n");
	s = request_with("GET", extra);	/* Host + 9 = 10 headers */
	memset(&h, 0, sizeof(h));
	assert_true(http_parse_request(s, strlen(s), &lim, hdrs, MAX_HDRS,
	    &h) > 0);
	strcat(extra, "X-A: b\r\n");
	s = request_with("GET", extra);
	memset(&h, 0, sizeof(h));
	assert_int_equal(http_parse_request(s, strlen(s), &lim, hdrs,
	    MAX_HDRS, &h), HTTP_E_TOO_MANY_HEADERS);
	assert_int_equal(http_error_status(HTTP_E_TOO_MANY_HEADERS), 431);
}

static void
test_more_headers_than_the_callers_array_is_refused_with_431(void **state)
{
	struct http_header small[2];
	struct http_head h;
	const char *s = request_with("GET", "A: 1\r\nB: 2\r\n");

	memset(&h, 0, sizeof(h));
	assert_int_equal(http_parse_request(s, strlen(s), NULL, small, 2, &h),
	    HTTP_E_TOO_MANY_HEADERS);
}

static void
test_long_request_line_is_refused_with_414(void **state)
{
	struct http_limits lim = { .max_request_line = 64 };
	struct http_head h;
	char line[256];
	int rc;

	/* "GET /" + n + " HTTP/1.1" = 64 bytes: accepted. */
	snprintf(line, sizeof(line), "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	memset(&h, 0, sizeof(h));
	assert_int_equal(strchr(line, '\r') - line, 64);
	assert_true(http_parse_request(line, strlen(line), &lim, hdrs,
	    MAX_HDRS, &h) > 0);
	/* 65 bytes: 414. */
	snprintf(line, sizeof(line), "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	memset(&h, 0, sizeof(h));
	rc = http_parse_request(line, strlen(line), &lim, hdrs, MAX_HDRS, &h);
	assert_int_equal(rc, HTTP_E_LINE_TOO_LONG);
	assert_int_equal(http_error_status(rc), 414);
	/* Refused before the line ends, too. */
	memset(&h, 0, sizeof(h));
	assert_int_equal(http_parse_request(line, 66, &lim, hdrs, MAX_HDRS, &h),
	    HTTP_E_LINE_TOO_LONG);
	memset(&h, 0, sizeof(h));
	assert_int_equal(http_parse_request(line, 65, &lim, hdrs, MAX_HDRS, &h),
	    HTTP_NEED_MORE);
}

/* Found by fuzz_http_head: the whole input failed on a NUL far past the
 * line limit while its prefix failed on the line length. */
static void
test_long_request_line_is_refused_before_later_garbage(void **state)
{
	struct http_limits lim = { .max_request_line = 64 };
	struct http_head h;
	char s[200];
	size_t cut;

	memset(s, 'R', sizeof(s));
	s[150] = '\0';
	for (cut = 60; cut <= sizeof(s); cut++) {
		int rc;

		memset(&h, 0, sizeof(h));
		rc = http_parse_request(s, cut, &lim, hdrs, MAX_HDRS, &h);
		assert_int_equal(rc, cut <= 65 ? HTTP_NEED_MORE :
		    HTTP_E_LINE_TOO_LONG);
	}
}

static void
test_http10_request_without_host_is_accepted(void **state)
{
	struct http_head h;

	assert_true(parse_req("GET / HTTP/1.0\r\n\r\n", &h) > 0);
	assert_int_equal(h.version_minor, 0);
	assert_false(h.keep_alive);
}

static void
test_http11_keeps_alive_unless_connection_close(void **state)
{
	struct http_head h;

	assert_true(parse_req(request_with("GET", ""), &h) > 0);
	assert_true(h.keep_alive);
	assert_true(parse_req(request_with("GET", "Connection: close\r\n"),
	    &h) > 0);
	assert_false(h.keep_alive);
	assert_true(parse_req(request_with("GET",
	    "Connection: foo, CLOSE\r\n"), &h) > 0);
	assert_false(h.keep_alive);
	assert_true(parse_req(request_with("GET",
	    "Connection: keep-alive\r\nConnection: close\r\n"), &h) > 0);
	assert_false(h.keep_alive);
	/* HTAB is OWS too (libhttp-parser trims SP only; fuzz_http_diff). */
	assert_true(parse_req(request_with("GET", "Connection: close\t\r\n"),
	    &h) > 0);
	assert_false(h.keep_alive);
}

/* Found by fuzz_http_diff (libhttp-parser misses these; RFC 9110 5.6.1
 * says empty list elements are ignored). */
static void
test_empty_elements_in_connection_are_ignored(void **state)
{
	struct http_head h;

	assert_true(parse_req("GET / HTTP/1.0\r\nConnection: ,Keep-Alive\r\n"
	    "\r\n", &h) > 0);
	assert_true(h.keep_alive);
	assert_true(parse_req(request_with("GET", "Connection: , ,close,\r\n"),
	    &h) > 0);
	assert_false(h.keep_alive);
}

/* Found by fuzz_http_diff: libhttp-parser takes this for Transfer-Encoding. */
static void
test_header_named_like_transfer_encoding_is_not_framing(void **state)
{
	struct http_head h;

	assert_true(parse_req(request_with("POST", "Transfer-Encodingx: chunked"
	    "\r\nContent-Length: 6\r\n"), &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_LENGTH);
	assert_true(parse_req(request_with("POST", "Content-Length: 3\t\t\r\n"),
	    &h) > 0);
	assert_true(h.content_length == 3);
	/* The real one frames the body; the look-alike after it does not undo it. */
	assert_true(parse_req(request_with("POST", "Transfer-Encoding: chunked\r\n"
	    "Transfer-Encodingn: e\r\n"), &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_CHUNKED);
}

static void
test_http10_keeps_alive_only_with_connection_keep_alive(void **state)
{
	struct http_head h;

	assert_true(parse_req("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
	    &h) > 0);
	assert_true(h.keep_alive);
	assert_true(parse_req("GET / HTTP/1.0\r\nConnection: x\r\n\r\n", &h) > 0);
	assert_false(h.keep_alive);
}

static void
test_expect_100_continue_is_detected(void **state)
{
	struct http_head h;

	assert_true(parse_req(request_with("RPC_IN_DATA",
	    "Content-Length: 10\r\nExpect: 100-Continue\r\n"), &h) > 0);
	assert_true(h.expect_continue);
}

static void
test_other_expectation_is_refused_with_417(void **state)
{
	int rc = req(request_with("POST", "Expect: teapot\r\n"));

	assert_int_equal(rc, HTTP_E_EXPECTATION);
	assert_int_equal(http_error_status(rc), 417);
}

static void
test_expect_in_http10_is_ignored(void **state)
{
	struct http_head h;

	assert_true(parse_req("POST / HTTP/1.0\r\nExpect: 100-continue\r\n"
	    "Content-Length: 1\r\n\r\n", &h) > 0);
	assert_false(h.expect_continue);
	assert_true(parse_req("POST / HTTP/1.0\r\nExpect: x\r\n\r\n", &h) > 0);
}

static void
test_chunked_request_is_framed_as_chunked(void **state)
{
	struct http_head h;

	assert_true(parse_req(request_with("POST",
	    "Transfer-Encoding: Chunked\r\n"), &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_CHUNKED);
	assert_false(h.has_content_length);
}

static void
test_upgrade_request_is_flagged(void **state)
{
	struct http_head h;

	assert_true(parse_req(request_with("GET",
	    "Connection: Upgrade\r\nUpgrade: websocket\r\n"), &h) > 0);
	assert_true(h.upgrade);
	assert_true(parse_req(request_with("GET", "Upgrade: websocket\r\n"),
	    &h) > 0);
	assert_false(h.upgrade);
}

static void
test_target_forms_are_checked(void **state)
{
	assert_true(req("GET http://mail.example.com/owa HTTP/1.1\r\n"
	    "Host: mail.example.com\r\n\r\n") > 0);
	assert_true(req("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n") > 0);
	assert_true(req("CONNECT mail.example.com:443 HTTP/1.1\r\n"
	    "Host: mail.example.com:443\r\n\r\n") > 0);
	assert_int_equal(req("GET * HTTP/1.1\r\nHost: a\r\n\r\n"),
	    HTTP_E_BAD_TARGET);
	assert_int_equal(req("GET owa HTTP/1.1\r\nHost: a\r\n\r\n"),
	    HTTP_E_BAD_TARGET);
	assert_int_equal(req("GET @evil/ HTTP/1.1\r\nHost: a\r\n\r\n"),
	    HTTP_E_BAD_TARGET);
	assert_int_equal(req("GET :80/ HTTP/1.1\r\nHost: a\r\n\r\n"),
	    HTTP_E_BAD_TARGET);
	/* Found by fuzz_http_diff: absolute-form needs "scheme://authority". */
	assert_int_equal(req("GET http:l.e//mail/owa/ HTTP/1.1\r\n"
	    "Host: mail\r\n\r\n"), HTTP_E_BAD_TARGET);
	assert_int_equal(req("GET http:///owa HTTP/1.1\r\nHost: a\r\n\r\n"),
	    HTTP_E_BAD_TARGET);
	assert_int_equal(req("GET http://user@evil/ HTTP/1.1\r\nHost: a\r\n"
	    "\r\n"), HTTP_E_BAD_TARGET);
	assert_true(req("GET https://mail:443?x HTTP/1.1\r\nHost: a\r\n\r\n")
	    > 0);
	assert_int_equal(req("GET htt-p://mail/ HTTP/1.1\r\nHost: a\r\n\r\n"),
	    HTTP_E_BAD_TARGET);
	assert_int_equal(req("GET ftp://mail/ HTTP/1.1\r\nHost: a\r\n\r\n"),
	    HTTP_E_BAD_TARGET);
}

/* ------------------------------------------------- requests: refusals */

static void
test_content_length_with_transfer_encoding_is_refused(void **state)
{
	int rc = req(request_with("POST",
	    "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"));

	assert_int_equal(rc, HTTP_E_LENGTH_AND_CHUNKED);
	assert_int_equal(http_error_status(rc), 400);
	assert_int_equal(req(request_with("POST",
	    "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n")),
	    HTTP_E_LENGTH_AND_CHUNKED);
}

static void
test_duplicate_content_length_is_refused_even_if_identical(void **state)
{
	assert_int_equal(req(request_with("POST",
	    "Content-Length: 5\r\nContent-Length: 6\r\n")),
	    HTTP_E_DUP_CONTENT_LENGTH);
	assert_int_equal(req(request_with("POST",
	    "Content-Length: 5\r\ncontent-length: 5\r\n")),
	    HTTP_E_DUP_CONTENT_LENGTH);
}

static void
test_content_length_list_is_refused(void **state)
{
	assert_int_equal(req(request_with("POST", "Content-Length: 5, 5\r\n")),
	    HTTP_E_BAD_CONTENT_LENGTH);
	assert_int_equal(req(request_with("POST", "Content-Length: 5,6\r\n")),
	    HTTP_E_BAD_CONTENT_LENGTH);
}

static void
test_non_digit_content_length_is_refused(void **state)
{
	static const char *const bad[] = {
		"+5", "-5", "5a", "0x10", "", "5 5", "1e3", "\xd9\xa5", "5.0",
	};
	char extra[64];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(extra, sizeof(extra), "Content-Length: %s\r\n", bad[i]);
		assert_int_equal(req(request_with("POST", extra)),
		    HTTP_E_BAD_CONTENT_LENGTH);
	}
}

static void
test_overflowing_content_length_is_refused(void **state)
{
	assert_int_equal(req(request_with("POST",
	    "Content-Length: 9223372036854775808\r\n")),
	    HTTP_E_BAD_CONTENT_LENGTH);
	assert_int_equal(req(request_with("POST",
	    "Content-Length: 18446744073709551616\r\n")),
	    HTTP_E_BAD_CONTENT_LENGTH);
	assert_int_equal(req(request_with("POST",
	    "Content-Length: 99999999999999999999999999\r\n")),
	    HTTP_E_BAD_CONTENT_LENGTH);
}

static void
test_transfer_encoding_other_than_chunked_is_refused(void **state)
{
	int rc;

	/* chunked not final: 400 (RFC 9112 6.3). */
	assert_int_equal(req(request_with("POST",
	    "Transfer-Encoding: gzip\r\n")), HTTP_E_BAD_TRANSFER_ENCODING);
	assert_int_equal(req(request_with("POST",
	    "Transfer-Encoding: chunked, gzip\r\n")),
	    HTTP_E_BAD_TRANSFER_ENCODING);
	assert_int_equal(req(request_with("POST",
	    "Transfer-Encoding: chunked, chunked\r\n")),
	    HTTP_E_BAD_TRANSFER_ENCODING);
	assert_int_equal(req(request_with("POST",
	    "Transfer-Encoding: xchunked\r\n")), HTTP_E_BAD_TRANSFER_ENCODING);
	assert_int_equal(req(request_with("POST",
	    "Transfer-Encoding: chunked;a=b\r\n")),
	    HTTP_E_BAD_TRANSFER_ENCODING);
	assert_int_equal(req(request_with("POST",
	    "Transfer-Encoding: \"chunked\"\r\n")),
	    HTTP_E_BAD_TRANSFER_ENCODING);
	assert_int_equal(req(request_with("POST",
	    "Transfer-Encoding:\r\n")), HTTP_E_BAD_TRANSFER_ENCODING);
	assert_int_equal(req(request_with("POST",
	    "Transfer-Encoding: ,\r\n")), HTTP_E_BAD_TRANSFER_ENCODING);
	/* Found by fuzz_http_diff: libhttp-parser sees no chunked here. */
	assert_int_equal(req(request_with("POST",
	    "Transfer-Encoding: chunked   , ,\r\n")),
	    HTTP_E_BAD_TRANSFER_ENCODING);
	assert_int_equal(req(request_with("POST",
	    "Transfer-Encoding: , chunked\r\n")),
	    HTTP_E_BAD_TRANSFER_ENCODING);
	/* A coding we do not decode before chunked: 501. */
	rc = req(request_with("POST", "Transfer-Encoding: gzip, chunked\r\n"));
	assert_int_equal(rc, HTTP_E_UNSUPPORTED_CODING);
	assert_int_equal(http_error_status(rc), 501);
}

static void
test_duplicate_transfer_encoding_header_is_refused(void **state)
{
	assert_int_equal(req(request_with("POST",
	    "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n")),
	    HTTP_E_BAD_TRANSFER_ENCODING);
}

static void
test_transfer_encoding_in_http10_is_refused(void **state)
{
	assert_int_equal(req("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n"), HTTP_E_BAD_TRANSFER_ENCODING);
}

static void
test_obs_fold_is_refused(void **state)
{
	assert_int_equal(req(request_with("GET", "X-A: b\r\n c\r\n")),
	    HTTP_E_OBS_FOLD);
	assert_int_equal(req(request_with("GET", "X-A: b\r\n\tc\r\n")),
	    HTTP_E_OBS_FOLD);
	assert_int_equal(req("GET / HTTP/1.1\r\n Host: a\r\n\r\n"),
	    HTTP_E_OBS_FOLD);
}

static void
test_whitespace_between_header_name_and_colon_is_refused(void **state)
{
	assert_int_equal(req(request_with("POST", "Content-Length : 5\r\n")),
	    HTTP_E_SPACE_BEFORE_COLON);
	assert_int_equal(req(request_with("POST",
	    "Transfer-Encoding\t: chunked\r\n")), HTTP_E_SPACE_BEFORE_COLON);
}

static void
test_bare_lf_is_refused(void **state)
{
	assert_int_equal(req("GET / HTTP/1.1\nHost: a\r\n\r\n"), HTTP_E_BARE_LF);
	assert_int_equal(req("GET / HTTP/1.1\r\nHost: a\n\r\n"), HTTP_E_BARE_LF);
	assert_int_equal(req("GET / HTTP/1.1\r\nHost: a\r\n\n"), HTTP_E_BARE_LF);
	assert_int_equal(req("\n"), HTTP_E_BARE_LF);
	assert_int_equal(http_error_status(HTTP_E_BARE_LF), 400);
}

static void
test_bare_cr_is_refused(void **state)
{
	assert_int_equal(req("GET / HTTP/1.1\rHost: a\r\n\r\n"), HTTP_E_BARE_CR);
	assert_int_equal(req(request_with("GET", "X-A: b\rc\r\n")),
	    HTTP_E_BARE_CR);
	assert_int_equal(req("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n"),
	    HTTP_E_BARE_CR);
}

static void
test_nul_in_header_value_is_refused(void **state)
{
	const char s[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";

	assert_int_equal(parse_req_n(s, sizeof(s) - 1, &(struct http_head){0}),
	    HTTP_E_CONTROL_CHAR);
}

static void
test_control_chars_in_header_value_are_refused(void **state)
{
	assert_int_equal(req(request_with("GET", "X: a\x01" "b\r\n")),
	    HTTP_E_CONTROL_CHAR);
	assert_int_equal(req(request_with("GET", "X: a\x1b[0m\r\n")),
	    HTTP_E_CONTROL_CHAR);
	assert_int_equal(req(request_with("GET", "X: a\x7f\r\n")),
	    HTTP_E_CONTROL_CHAR);
	/* HTAB is allowed inside a value. */
	assert_true(req(request_with("GET", "X: a\tb\r\n")) > 0);
}

static void
test_empty_header_name_is_refused(void **state)
{
	assert_int_equal(req(request_with("GET", ": value\r\n")),
	    HTTP_E_BAD_HEADER_NAME);
}

static void
test_invalid_header_name_is_refused(void **state)
{
	assert_int_equal(req(request_with("GET", "X(A): b\r\n")),
	    HTTP_E_BAD_HEADER_NAME);
	assert_int_equal(req(request_with("GET", "X\xc3\xa4: b\r\n")),
	    HTTP_E_BAD_HEADER_NAME);
	assert_int_equal(req(request_with("GET", "X/Y: b\r\n")),
	    HTTP_E_BAD_HEADER_NAME);
}

static void
test_header_line_without_colon_is_refused(void **state)
{
	assert_int_equal(req(request_with("GET", "NoColon\r\n")),
	    HTTP_E_MISSING_COLON);
	assert_int_equal(req(request_with("GET", "No Colon\r\n")),
	    HTTP_E_SPACE_BEFORE_COLON);
}

static void
test_invalid_method_chars_are_refused(void **state)
{
	assert_int_equal(req("GE(T / HTTP/1.1\r\nHost: a\r\n\r\n"),
	    HTTP_E_BAD_METHOD);
	assert_int_equal(req("G\xc3\x89T / HTTP/1.1\r\nHost: a\r\n\r\n"),
	    HTTP_E_BAD_METHOD);
	assert_int_equal(req("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"),
	    HTTP_E_BAD_METHOD);
	assert_int_equal(req(" GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
	    HTTP_E_BAD_REQUEST_LINE);
}

static void
test_request_target_with_space_or_control_chars_is_refused(void **state)
{
	assert_int_equal(req("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"),
	    HTTP_E_BAD_TARGET);
	assert_int_equal(req("GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n"),
	    HTTP_E_BAD_TARGET);
	assert_int_equal(req("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n"),
	    HTTP_E_CONTROL_CHAR);
	assert_int_equal(req("GET /\xc3\xa4 HTTP/1.1\r\nHost: a\r\n\r\n"),
	    HTTP_E_BAD_TARGET);
}

static void
test_malformed_request_lines_are_refused(void **state)
{
	assert_int_equal(req("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"),
	    HTTP_E_BAD_REQUEST_LINE);
	assert_int_equal(req("GET /\r\nHost: a\r\n\r\n"),
	    HTTP_E_BAD_REQUEST_LINE);
	assert_int_equal(req("GET\r\nHost: a\r\n\r\n"),
	    HTTP_E_BAD_REQUEST_LINE);
	assert_int_equal(req("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"),
	    HTTP_E_BAD_VERSION);
	assert_int_equal(req("GET / HTTP/1.1\r\n\r\n\r\n"), HTTP_E_MISSING_HOST);
}

static void
test_leading_empty_line_is_refused(void **state)
{
	assert_int_equal(req("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
	    HTTP_E_BAD_REQUEST_LINE);
}

static void
test_versions_other_than_1_0_and_1_1_are_refused_with_505(void **state)
{
	static const char *const v[] = { "HTTP/2.0", "HTTP/1.2", "HTTP/0.9",
	    "HTTP/3.0" };
	char s[128];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(s, sizeof(s), "GET / %s\r\nHost: a\r\n\r\n", v[i]);
		assert_int_equal(req(s), HTTP_E_UNSUPPORTED_VERSION);
	}
	assert_int_equal(http_error_status(HTTP_E_UNSUPPORTED_VERSION), 505);
}

static void
test_malformed_versions_are_refused_with_400(void **state)
{
	static const char *const v[] = { "HTTP/1.10", "http/1.1", "HTTP/1",
	    "HTTP/11", "HTTPS/1.1", "HTTP/1.x", "HTTP/1.1x" };
	char s[128];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(s, sizeof(s), "GET / %s\r\nHost: a\r\n\r\n", v[i]);
		assert_int_equal(req(s), HTTP_E_BAD_VERSION);
	}
}

static void
test_missing_host_in_http11_is_refused(void **state)
{
	int rc = req("GET / HTTP/1.1\r\nX: y\r\n\r\n");

	assert_int_equal(rc, HTTP_E_MISSING_HOST);
	assert_int_equal(http_error_status(rc), 400);
}

static void
test_multiple_host_headers_are_refused(void **state)
{
	assert_int_equal(req(request_with("GET", "Host: other\r\n")),
	    HTTP_E_DUP_HOST);
	assert_int_equal(req("GET / HTTP/1.0\r\nHost: a\r\nHOST: a\r\n\r\n"),
	    HTTP_E_DUP_HOST);
}

static void
test_invalid_host_value_is_refused(void **state)
{
	assert_int_equal(req("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
	    HTTP_E_BAD_HOST);
	assert_int_equal(req("GET / HTTP/1.1\r\nHost: user@evil\r\n\r\n"),
	    HTTP_E_BAD_HOST);
	assert_int_equal(req("GET / HTTP/1.1\r\nHost: evil/x\r\n\r\n"),
	    HTTP_E_BAD_HOST);
	assert_true(req("GET / HTTP/1.1\r\nHost: [::1]:443\r\n\r\n") > 0);
	assert_true(req("GET / HTTP/1.1\r\nHost:\r\n\r\n") > 0);
}

static void
test_connection_naming_content_length_or_host_is_refused(void **state)
{
	assert_int_equal(req(request_with("POST",
	    "Content-Length: 5\r\nConnection: Content-Length\r\n")),
	    HTTP_E_BAD_CONNECTION);
	assert_int_equal(req(request_with("GET", "Connection: close, host\r\n")),
	    HTTP_E_BAD_CONNECTION);
}

static void
test_connection_option_that_is_not_a_token_is_refused(void **state)
{
	/* Found by fuzz_http_diff: obs-text in an option beside keep-alive. */
	assert_int_equal(req("GET / HTTP/1.0\r\nConnection: \x9b/`, "
	    "keep-alive\r\nHost: a\r\n\r\n"), HTTP_E_BAD_CONNECTION);
	assert_int_equal(req(request_with("GET", "Connection: a b\r\n")),
	    HTTP_E_BAD_CONNECTION);
	assert_true(req(request_with("GET",
	    "Connection: keep-alive, Upgrade\r\n")) > 0);
}

/* ------------------------------------------------- every byte, every class */

/*
 * The character classes as the RFCs define them, written out here
 * independently of http.c's tables: the tests below put every byte value
 * in every place a class governs and check the verdict against these.
 */
static int
spec_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static int
spec_tchar(int c)	/* RFC 9110 5.6.2 */
{
	return spec_alnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c));
}

static int
spec_vchar(int c)
{
	return c >= 0x21 && c <= 0x7e;
}

static int
spec_field_char(int c)	/* field-vchar, SP, HTAB; obs-text included */
{
	return c == ' ' || c == '\t' || spec_vchar(c) || c >= 0x80;
}

static int
spec_host_char(int c)	/* uri-host [":" port] */
{
	return spec_alnum(c) || (c != 0 && strchr("-._~%!$&'()*+,;=:[]", c));
}

/* What the end-of-head scan says about byte c inside a line, 0 if fine. */
static int
scan_verdict(int c)
{
	if (c == '\r')
		return HTTP_E_BARE_CR;
	if (c == '\n')
		return HTTP_E_BARE_LF;
	return spec_field_char(c) ? 0 : HTTP_E_CONTROL_CHAR;
}

#define ANY_ERROR 1	/* a parsed() verdict: refused, code not checked */

/*
 * Puts each byte value c between pre and post and parses the result.  The
 * verdict must be the scan's (scan_verdict()) where the scan refuses c,
 * else parsed(c): 0 for accepted, an HTTP_E_* code, or ANY_ERROR.
 *
 * With recheck, the head is parsed once more as if an earlier call had
 * scanned all but its final CRLF (a stale scan state, which struct
 * http_head says is never unsafe): only the full parse sees c then, and
 * must give parsed(c) alone (LF aside: it ends the line there).
 */
static void
every_byte(int is_request, const char *pre, const char *post,
    int (*parsed)(int), int recheck)
{
	struct http_head h;
	char buf[256];
	size_t a = strlen(pre), b = strlen(post), len = a + 1 + b, pass;
	int c, rc, want;

	assert_true(len <= sizeof(buf));
	memcpy(buf, pre, a);
	memcpy(buf + a + 1, post, b);
	for (c = 0; c < 256; c++) {
		buf[a] = (char)c;
		for (pass = 0; pass < (recheck && c != '\n' ? 2u : 1u); pass++) {
			memset(&h, 0, sizeof(h));
			if (pass == 1)
				h.scan_pos = len - 2;
			if (is_request)
				rc = http_parse_request(buf, len, NULL, hdrs,
				    MAX_HDRS, &h);
			else
				rc = http_parse_response(buf, len, NULL, "GET",
				    3, hdrs, MAX_HDRS, &h);
			want = pass == 0 ? scan_verdict(c) : 0;
			if (want == 0)
				want = parsed(c);
			if (want == ANY_ERROR)
				assert_true(rc < 0);
			else
				assert_int_equal(rc, want ? want : (int)len);
		}
	}
}

static int
method_verdict(int c)
{
	if (c == ' ')
		return ANY_ERROR;	/* a second SP: which error varies */
	return spec_tchar(c) ? 0 : HTTP_E_BAD_METHOD;
}

static int
target_verdict(int c)
{
	return spec_vchar(c) ? 0 : HTTP_E_BAD_TARGET;
}

static int
name_verdict(int c)
{
	if (spec_tchar(c) || c == ':')
		return 0;
	return c == ' ' || c == '\t' ? HTTP_E_SPACE_BEFORE_COLON :
	    HTTP_E_BAD_HEADER_NAME;
}

static int
value_verdict(int c)
{
	return spec_field_char(c) ? 0 : HTTP_E_BAD_HEADER_VALUE;
}

static int
host_verdict(int c)
{
	return spec_host_char(c) ? 0 : HTTP_E_BAD_HOST;
}

static int
reason_verdict(int c)
{
	return spec_field_char(c) ? 0 : HTTP_E_BAD_STATUS_LINE;
}

static void
test_every_byte_in_a_method_is_judged_as_tchar(void **state)
{
	every_byte(1, "G", "T / HTTP/1.1\r\nHost: a\r\n\r\n", method_verdict,
	    1);
}

static void
test_every_byte_in_a_target_is_judged_as_vchar(void **state)
{
	every_byte(1, "GET /a", "b HTTP/1.1\r\nHost: a\r\n\r\n",
	    target_verdict, 1);
}

static void
test_every_byte_in_a_header_name_is_judged_as_tchar(void **state)
{
	every_byte(1, "GET / HTTP/1.1\r\nHost: a\r\nX", "Y: v\r\n\r\n",
	    name_verdict, 1);
}

/* Every byte at every offset of values of 1 to 40 bytes: the value check
 * works on words of 8, so this covers each place in a word and the tail. */
static void
test_every_byte_at_every_offset_of_a_header_value_is_judged(void **state)
{
	char pre[128], post[64];
	int k, m;

	for (k = 0; k < 20; k++) {
		for (m = 0; m < 20; m++) {
			snprintf(pre, sizeof(pre), "GET / HTTP/1.1\r\nHost: a\r\n"
			    "X-V: %.*s", k, "aaaaaaaaaaaaaaaaaaaa");
			snprintf(post, sizeof(post), "%.*s\r\n\r\n", m,
			    "bbbbbbbbbbbbbbbbbbbb");
			every_byte(1, pre, post, value_verdict, 1);
		}
	}
}

/* No recheck: a control character there is a bad value before a bad Host. */
static void
test_every_byte_in_a_host_value_is_judged(void **state)
{
	every_byte(1, "GET / HTTP/1.1\r\nHost: a", "b\r\n\r\n", host_verdict,
	    0);
}

static void
test_every_byte_at_every_offset_of_a_reason_phrase_is_judged(void **state)
{
	char pre[64];
	int k;

	for (k = 0; k < 20; k++) {
		snprintf(pre, sizeof(pre), "HTTP/1.1 200 %.*s", k,
		    "OOOOOOOOOOOOOOOOOOOO");
		every_byte(0, pre, "K\r\nContent-Length: 0\r\n\r\n",
		    reason_verdict, 1);
	}
}

/* The scan skips runs of ordinary bytes: the line limit still bites at
 * exactly the same byte, whatever the limit and wherever the run starts. */
static void
test_request_line_limit_is_exact_for_every_limit_and_length(void **state)
{
	struct http_limits lim = { 0 };
	struct http_head h;
	char buf[256];
	size_t max, l, cut;
	int n, rc;

	for (max = 14; max <= 60; max++) {
		lim.max_request_line = max;
		for (l = 14; l <= 70; l++) {
			n = snprintf(buf, sizeof(buf), "GET /%.*s HTTP/1.1\r\n"
			    "Host: a\r\n\r\n", (int)(l - 14),
			    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
			memset(&h, 0, sizeof(h));
			rc = http_parse_request(buf, (size_t)n, &lim, hdrs,
			    MAX_HDRS, &h);
			assert_int_equal(rc, l <= max ? n :
			    HTTP_E_LINE_TOO_LONG);
			/* Fed in two parts, one struct: the same, and the
			 * refusal comes as soon as byte max + 1 is seen. */
			for (cut = 0; cut < (size_t)n; cut += 5) {
				memset(&h, 0, sizeof(h));
				rc = http_parse_request(buf, cut, &lim, hdrs,
				    MAX_HDRS, &h);
				assert_int_equal(rc, l > max && cut > max + 1 ?
				    HTTP_E_LINE_TOO_LONG : HTTP_NEED_MORE);
				rc = http_parse_request(buf, (size_t)n, &lim,
				    hdrs, MAX_HDRS, &h);
				assert_int_equal(rc, l <= max ? n :
				    HTTP_E_LINE_TOO_LONG);
			}
		}
	}
	lim.max_request_line = SIZE_MAX;
	assert_true(parse_req_n("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27, &h) > 0);
	memset(&h, 0, sizeof(h));
	assert_int_equal(http_parse_request("GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	    27, &lim, hdrs, MAX_HDRS, &h), 27);
}

/* ------------------------------------------------------------ responses */

static void
test_response_status_and_reason_are_parsed(void **state)
{
	const char *s = "HTTP/1.1 401 Unauthorized\r\n"
	    "WWW-Authenticate: Negotiate\r\nContent-Length: 0\r\n\r\n";
	struct http_head h;

	assert_int_equal(parse_resp(s, "RPC_IN_DATA", &h), (int)strlen(s));
	assert_false(h.is_request);
	assert_int_equal(h.status, 401);
	assert_true(span_is(h.reason, h.reason_len, "Unauthorized"));
	assert_int_equal(h.body, HTTP_BODY_NONE);
	assert_true(h.keep_alive);
}

static void
test_response_without_reason_is_accepted(void **state)
{
	struct http_head h;

	assert_true(parse_resp("HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n",
	    "GET", &h) > 0);
	assert_int_equal(h.reason_len, 0);
	assert_true(parse_resp("HTTP/1.1 200 \r\nContent-Length: 1\r\n\r\n",
	    "GET", &h) > 0);
	assert_int_equal(h.reason_len, 0);
}

static void
test_1xx_response_has_no_body(void **state)
{
	struct http_head h;

	assert_true(parse_resp("HTTP/1.1 100 Continue\r\n\r\n", "POST", &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_NONE);
	assert_true(h.keep_alive);
	assert_false(h.upgrade);
}

static void
test_101_response_is_an_upgrade(void **state)
{
	struct http_head h;

	assert_true(parse_resp("HTTP/1.1 101 Switching Protocols\r\n"
	    "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n", "GET", &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_NONE);
	assert_true(h.upgrade);
}

static void
test_204_response_has_no_body(void **state)
{
	struct http_head h;

	assert_true(parse_resp("HTTP/1.1 204 No Content\r\n\r\n", "GET", &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_NONE);
	assert_true(h.keep_alive);
}

static void
test_304_response_has_no_body_despite_content_length(void **state)
{
	struct http_head h;

	assert_true(parse_resp("HTTP/1.1 304 Not Modified\r\n"
	    "Content-Length: 1234\r\n\r\n", "GET", &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_NONE);
	assert_true(h.content_length == 1234);
}

static void
test_response_to_head_has_no_body(void **state)
{
	struct http_head h;

	assert_true(parse_resp("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n",
	    "HEAD", &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_NONE);
	assert_true(parse_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n", "HEAD", &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_NONE);
	assert_true(parse_resp("HTTP/1.1 200 OK\r\n\r\n", "HEAD", &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_NONE);
	assert_true(h.keep_alive);
	/* Method names are case-sensitive: "head" is not HEAD. */
	assert_true(parse_resp("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n",
	    "head", &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_LENGTH);
}

static void
test_2xx_response_to_connect_is_a_tunnel(void **state)
{
	struct http_head h;

	assert_true(parse_resp("HTTP/1.1 200 Connection established\r\n\r\n",
	    "CONNECT", &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_NONE);
	assert_true(h.upgrade);
	assert_true(parse_resp("HTTP/1.1 407 Auth\r\nContent-Length: 0\r\n\r\n",
	    "CONNECT", &h) > 0);
	assert_false(h.upgrade);
}

static void
test_response_without_length_is_read_until_close(void **state)
{
	struct http_head h;

	assert_true(parse_resp("HTTP/1.1 200 OK\r\n\r\n", "GET", &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_UNTIL_CLOSE);
	assert_false(h.keep_alive);
	assert_true(parse_resp("HTTP/1.1 200 OK\r\n\r\n", NULL, &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_UNTIL_CLOSE);
}

static void
test_response_with_chunked_final_coding_is_chunked(void **state)
{
	struct http_head h;

	assert_true(parse_resp("HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: gzip, chunked\r\n\r\n", "GET", &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_CHUNKED);
	assert_true(h.keep_alive);
}

static void
test_response_with_other_final_coding_is_read_until_close(void **state)
{
	struct http_head h;

	assert_true(parse_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
	    "\r\n", "GET", &h) > 0);
	assert_int_equal(h.body, HTTP_BODY_UNTIL_CLOSE);
	assert_false(h.keep_alive);
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip"
	    "\r\n\r\n"), HTTP_E_BAD_TRANSFER_ENCODING);
}

static void
test_response_with_length_and_chunked_is_refused(void **state)
{
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"), HTTP_E_LENGTH_AND_CHUNKED);
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
	    "Content-Length: 3\r\n\r\n"), HTTP_E_DUP_CONTENT_LENGTH);
}

static void
test_http10_response_keeps_alive_only_when_asked(void **state)
{
	struct http_head h;

	assert_true(parse_resp("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n",
	    "GET", &h) > 0);
	assert_false(h.keep_alive);
	assert_true(parse_resp("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n"
	    "Connection: keep-alive\r\n\r\n", "GET", &h) > 0);
	assert_true(h.keep_alive);
}

static void
test_bad_status_lines_are_refused(void **state)
{
	assert_int_equal(resp("HTTP/1.1 099 Low\r\n\r\n"), HTTP_E_BAD_STATUS_LINE);
	assert_int_equal(resp("HTTP/1.1 600 High\r\n\r\n"),
	    HTTP_E_BAD_STATUS_LINE);
	assert_int_equal(resp("HTTP/1.1 20 OK\r\n\r\n"), HTTP_E_BAD_STATUS_LINE);
	assert_int_equal(resp("HTTP/1.1 2000 OK\r\n\r\n"),
	    HTTP_E_BAD_STATUS_LINE);
	assert_int_equal(resp("HTTP/1.1 2x0 OK\r\n\r\n"), HTTP_E_BAD_STATUS_LINE);
	assert_int_equal(resp("HTTP/1.1  200 OK\r\n\r\n"),
	    HTTP_E_BAD_STATUS_LINE);
	assert_int_equal(resp("HTTP/2.0 200 OK\r\n\r\n"),
	    HTTP_E_UNSUPPORTED_VERSION);
	assert_int_equal(resp("HTTX/1.1 200 OK\r\n\r\n"), HTTP_E_BAD_VERSION);
	assert_int_equal(resp("HTTP/1.1\r\n\r\n"), HTTP_E_BAD_STATUS_LINE);
	assert_int_equal(http_error_status(HTTP_E_BAD_STATUS_LINE), 502);
}

static void
test_response_heads_are_as_strict_as_requests(void **state)
{
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"),
	    HTTP_E_OBS_FOLD);
	assert_int_equal(resp("HTTP/1.1 200 OK\nX: a\r\n\r\n"), HTTP_E_BARE_LF);
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\n"),
	    HTTP_E_SPACE_BEFORE_COLON);
	assert_int_equal(resp("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n"), HTTP_E_BAD_TRANSFER_ENCODING);
}

/* ------------------------------------------------------------- errors */

static void
test_every_error_code_has_a_reason_and_a_status(void **state)
{
	int e;

	for (e = -1; e >= HTTP_E_LAST; e--) {
		int st = http_error_status(e);

		assert_string_not_equal(http_strerror(e), "unknown error");
		assert_true(st >= 400 && st <= 505);
	}
	assert_string_equal(http_strerror(-1000), "unknown error");
	assert_string_equal(http_strerror(5), "ok");
	assert_int_equal(http_error_status(HTTP_E_INVALID_ARGUMENT), 500);
}

static void
test_null_arguments_are_refused(void **state)
{
	struct http_head h = {0};

	assert_int_equal(http_parse_request(NULL, 5, NULL, hdrs, MAX_HDRS, &h),
	    HTTP_E_INVALID_ARGUMENT);
	assert_int_equal(http_parse_request("GET", 3, NULL, hdrs, MAX_HDRS,
	    NULL), HTTP_E_INVALID_ARGUMENT);
	assert_int_equal(http_parse_request("GET", 3, NULL, NULL, 5, &h),
	    HTTP_E_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------- helpers */

static void
test_http_find_is_case_insensitive(void **state)
{
	struct http_head h;
	const struct http_header *x;

	assert_true(parse_req(request_with("GET", "X-Foo: 1\r\nx-foo: 2\r\n"),
	    &h) > 0);
	x = http_find(&h, "X-FOO");
	assert_non_null(x);
	assert_true(span_is(x->value, x->value_len, "1"));
	assert_null(http_find(&h, "X-Fo"));
	assert_null(http_find(&h, "X-Foo2"));
	assert_null(http_find(NULL, "Host"));
}

static void
test_header_has_token_handles_comma_lists(void **state)
{
	struct http_header hd = { "Connection", 10, NULL, 0 };
	const char *v = " ,Keep-Alive , ,Upgrade,te,";

	hd.value = v;
	hd.value_len = strlen(v);
	assert_true(http_header_has_token(&hd, "keep-alive"));
	assert_true(http_header_has_token(&hd, "UPGRADE"));
	assert_true(http_header_has_token(&hd, "TE"));
	assert_false(http_header_has_token(&hd, "close"));
	assert_false(http_header_has_token(&hd, "keep"));
	assert_false(http_header_has_token(&hd, ""));
	assert_false(http_header_has_token(NULL, "te"));
}

static void
test_hop_by_hop_headers_are_recognised(void **state)
{
	static const char *const hop[] = { "Connection", "keep-alive",
	    "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade",
	    "Proxy-Authenticate", "Proxy-Authorization" };
	static const char *const e2e[] = { "Host", "Content-Length",
	    "Authorization", "Cookie", "Content-Type", "T" };
	size_t i;

	for (i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		assert_true(http_is_hop_by_hop(hop[i], strlen(hop[i]), NULL));
	for (i = 0; i < sizeof(e2e) / sizeof(e2e[0]); i++)
		assert_false(http_is_hop_by_hop(e2e[i], strlen(e2e[i]), NULL));
}

static void
test_headers_named_in_connection_are_hop_by_hop(void **state)
{
	struct http_head h;

	assert_true(parse_req(request_with("GET",
	    "Connection: X-Secret, keep-alive\r\nX-Secret: 1\r\n"
	    "Connection: x-other\r\n"), &h) > 0);
	assert_true(http_is_hop_by_hop("x-secret", 8, &h));
	assert_true(http_is_hop_by_hop("X-Other", 7, &h));
	assert_false(http_is_hop_by_hop("X-Secre", 7, &h));
	assert_false(http_is_hop_by_hop("Cookie", 6, &h));
}

static void
test_content_length_and_host_are_never_hop_by_hop(void **state)
{
	struct http_head h;

	/* A response may name them (requests are refused, see above). */
	assert_true(parse_resp("HTTP/1.1 200 OK\r\nConnection: content-length, "
	    "host\r\nContent-Length: 1\r\n\r\n", "GET", &h) > 0);
	assert_false(http_is_hop_by_hop("Content-Length", 14, &h));
	assert_false(http_is_hop_by_hop("Host", 4, &h));
}

/* ---------------------------------------------------------------- body */

struct fed {
	int    rc;
	size_t consumed;	/* raw bytes */
	char   payload[4096];
	size_t payload_len;
};

/* Feed s to the body decoder in pieces of `step` bytes (0: all at once),
 * calling repeatedly as the interface asks. */
static struct fed
feed(struct http_body *b, const char *s, size_t len, size_t step)
{
	struct fed f;
	size_t off = 0;

	memset(&f, 0, sizeof(f));
	f.rc = HTTP_BODY_MORE;
	while (off < len && f.rc == HTTP_BODY_MORE) {
		size_t piece = step && len - off > step ? step : len - off;
		size_t used = 0;

		while (used < piece) {
			size_t c = 0, dl = 0;
			const char *d = NULL;

			f.rc = http_body_feed(b, s + off + used, piece - used,
			    &c, &d, &dl);
			assert_true(c <= piece - used);
			if (dl) {
				assert_true(d >= s + off + used &&
				    d + dl <= s + off + used + c);
				assert_true(f.payload_len + dl <=
				    sizeof(f.payload));
				memcpy(f.payload + f.payload_len, d, dl);
				f.payload_len += dl;
			}
			used += c;
			if (f.rc != HTTP_BODY_MORE)
				break;
			if (c == 0)
				break;
		}
		off += used;
		f.consumed = off;
		if (f.rc != HTTP_BODY_MORE || used < piece)
			break;
	}
	return f;
}

static void
init_kind(struct http_body *b, enum http_body_kind kind, uint64_t len)
{
	struct http_head h;

	memset(&h, 0, sizeof(h));
	h.body = kind;
	h.content_length = len;
	http_body_init(b, &h);
}

static struct fed
feed_chunked(const char *s, size_t step)
{
	struct http_body b;

	init_kind(&b, HTTP_BODY_CHUNKED, 0);
	return feed(&b, s, strlen(s), step);
}

static void
test_content_length_body_is_counted_down(void **state)
{
	struct http_body b;
	struct fed f;

	init_kind(&b, HTTP_BODY_LENGTH, 10);
	f = feed(&b, "0123456789GET / HTTP/1.1", 24, 3);
	assert_int_equal(f.rc, HTTP_BODY_DONE);
	assert_int_equal(f.consumed, 10);
	assert_int_equal(f.payload_len, 10);
	assert_memory_equal(f.payload, "0123456789", 10);
	/* Done stays done, consuming nothing. */
	f = feed(&b, "x", 1, 0);
	assert_int_equal(f.rc, HTTP_BODY_DONE);
	assert_int_equal(f.consumed, 0);
}

static void
test_gigabyte_content_length_body_is_counted_down(void **state)
{
	static char block[1 << 20];
	struct http_head h;
	struct http_body b;
	uint64_t total = 0;
	int rc = HTTP_BODY_MORE, calls = 0;

	assert_true(parse_req(request_with("RPC_IN_DATA",
	    "Content-Length: 1073741824\r\n"), &h) > 0);
	http_body_init(&b, &h);
	while (rc == HTTP_BODY_MORE) {
		size_t c, dl;
		const char *d;

		rc = http_body_feed(&b, block, sizeof(block), &c, &d, &dl);
		assert_int_equal(c, sizeof(block));
		assert_int_equal(dl, sizeof(block));
		total += c;
		calls++;
	}
	assert_int_equal(rc, HTTP_BODY_DONE);
	assert_true(total == 1073741824ULL);
	assert_int_equal(calls, 1024);
	assert_true(b.payload == 1073741824ULL);
}

static void
test_eof_inside_a_length_body_is_truncation(void **state)
{
	struct http_body b;

	init_kind(&b, HTTP_BODY_LENGTH, 10);
	assert_int_equal(feed(&b, "01234", 5, 0).rc, HTTP_BODY_MORE);
	assert_int_equal(http_body_eof(&b), HTTP_E_TRUNCATED_BODY);
}

static void
test_until_close_body_takes_everything_and_ends_at_eof(void **state)
{
	struct http_body b;
	struct fed f;

	init_kind(&b, HTTP_BODY_UNTIL_CLOSE, 0);
	f = feed(&b, "abc\r\n0\r\n\r\n", 10, 4);
	assert_int_equal(f.rc, HTTP_BODY_MORE);
	assert_int_equal(f.consumed, 10);
	assert_int_equal(f.payload_len, 10);
	assert_int_equal(http_body_eof(&b), HTTP_BODY_DONE);
}

static void
test_no_body_is_done_at_once(void **state)
{
	struct http_body b;
	struct fed f;

	init_kind(&b, HTTP_BODY_NONE, 0);
	f = feed(&b, "GET", 3, 0);
	assert_int_equal(f.rc, HTTP_BODY_DONE);
	assert_int_equal(f.consumed, 0);
	http_body_init(&b, NULL);
	assert_int_equal(http_body_eof(&b), HTTP_BODY_DONE);
}

static const char chunked_body[] =
    "5\r\nhello\r\n"
    "1;name=value;q=\"quoted str\"\r\n \r\n"
    "00000A \t;ext\r\n0123456789\r\n"
    "0\r\n"
    "X-Trailer: yes\r\n"
    "\r\n";

static void
test_chunked_body_fed_whole_yields_payload_and_raw_length(void **state)
{
	char buf[512];
	struct fed f;

	snprintf(buf, sizeof(buf), "%sGET /next HTTP/1.1\r\n", chunked_body);
	f = feed_chunked(buf, 0);
	assert_int_equal(f.rc, HTTP_BODY_DONE);
	assert_int_equal(f.consumed, strlen(chunked_body));
	assert_int_equal(f.payload_len, 16);
	assert_memory_equal(f.payload, "hello 0123456789", 16);
}

static void
test_chunked_body_fed_one_byte_at_a_time_yields_the_same(void **state)
{
	struct fed f = feed_chunked(chunked_body, 1);

	assert_int_equal(f.rc, HTTP_BODY_DONE);
	assert_int_equal(f.consumed, strlen(chunked_body));
	assert_int_equal(f.payload_len, 16);
	assert_memory_equal(f.payload, "hello 0123456789", 16);
}

static void
test_chunked_body_split_at_every_point_yields_the_same(void **state)
{
	size_t step;

	for (step = 1; step < sizeof(chunked_body); step++) {
		struct fed f = feed_chunked(chunked_body, step);

		assert_int_equal(f.rc, HTTP_BODY_DONE);
		assert_int_equal(f.consumed, strlen(chunked_body));
		assert_memory_equal(f.payload, "hello 0123456789", 16);
	}
}

static void
test_empty_chunked_body_is_done(void **state)
{
	struct fed f = feed_chunked("0\r\n\r\nNEXT", 0);

	assert_int_equal(f.rc, HTTP_BODY_DONE);
	assert_int_equal(f.consumed, 5);
	assert_int_equal(f.payload_len, 0);
}

static void
test_bad_chunk_sizes_are_refused(void **state)
{
	static const char *const bad[] = {
		"\r\nabc\r\n0\r\n\r\n",	/* empty */
		"+5\r\nhello\r\n",
		"-5\r\nhello\r\n",
		" 5\r\nhello\r\n",
		"0x5\r\nhello\r\n",
		"g\r\n",
		"5 \r\nhello\r\n",		/* BWS without an extension */
		"8000000000000000\r\n",	/* 2^63 */
		"ffffffffffffffff\r\n",
		"10000000000000000\r\n",	/* 2^64 */
		"5\x01\r\n",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fed f = feed_chunked(bad[i], 0);

		assert_true(f.rc == HTTP_E_BAD_CHUNK_SIZE ||
		    f.rc == HTTP_E_BAD_CHUNK_EXT);
		assert_int_equal(http_error_status(f.rc), 400);
	}
}

static void
test_largest_chunk_size_is_accepted(void **state)
{
	struct http_body b;
	struct fed f;

	init_kind(&b, HTTP_BODY_CHUNKED, 0);
	f = feed(&b, "7fffffffffffffff\r\nabc", 21, 0);
	assert_int_equal(f.rc, HTTP_BODY_MORE);
	assert_int_equal(f.consumed, 21);
	assert_true(b.remaining == 0x7fffffffffffffffULL - 3);
}

static void
test_chunk_size_line_with_bare_lf_or_cr_is_refused(void **state)
{
	assert_int_equal(feed_chunked("5\nhello\r\n", 0).rc, HTTP_E_BAD_CHUNK_SIZE);
	assert_int_equal(feed_chunked("5\rhello\r\n", 0).rc, HTTP_E_BARE_CR);
	assert_int_equal(feed_chunked("5;a\nhello\r\n", 0).rc,
	    HTTP_E_BAD_CHUNK_EXT);
}

static void
test_chunk_data_without_crlf_is_refused(void **state)
{
	assert_int_equal(feed_chunked("5\r\nhelloX\r\n0\r\n\r\n", 0).rc,
	    HTTP_E_BAD_CHUNK_END);
	assert_int_equal(feed_chunked("5\r\nhello\n0\r\n\r\n", 0).rc,
	    HTTP_E_BAD_CHUNK_END);
	assert_int_equal(feed_chunked("5\r\nhello\rX", 1).rc,
	    HTTP_E_BAD_CHUNK_END);
}

static void
test_too_long_chunk_extension_is_refused(void **state)
{
	static char s[HTTP_MAX_CHUNK_LINE + 64];
	struct fed f;

	memset(s, 'a', sizeof(s) - 1);
	memcpy(s, "1;", 2);
	f = feed_chunked(s, 0);
	assert_int_equal(f.rc, HTTP_E_BAD_CHUNK_EXT);
	assert_true(f.consumed <= HTTP_MAX_CHUNK_LINE);
	/* Just inside the bound is fine. */
	s[HTTP_MAX_CHUNK_LINE] = '\r';
	s[HTTP_MAX_CHUNK_LINE + 1] = '\n';
	s[HTTP_MAX_CHUNK_LINE + 2] = '\0';
	assert_int_equal(feed_chunked(s, 0).rc, HTTP_BODY_MORE);
}

static void
test_control_chars_in_chunk_extension_are_refused(void **state)
{
	assert_int_equal(feed_chunked("1;a\x01\r\nx\r\n", 0).rc,
	    HTTP_E_BAD_CHUNK_EXT);
	assert_int_equal(feed_chunked("1 x\r\nx\r\n", 0).rc,
	    HTTP_E_BAD_CHUNK_EXT);
}

static void
test_long_run_of_leading_zeros_in_chunk_size_is_bounded(void **state)
{
	static char s[HTTP_MAX_CHUNK_LINE + 16];

	memset(s, '0', sizeof(s) - 1);
	assert_int_equal(feed_chunked(s, 0).rc, HTTP_E_BAD_CHUNK_SIZE);
}

static void
test_trailers_are_validated_and_passed_through(void **state)
{
	const char *ok = "0\r\nA: 1\r\nB:\r\n\r\n";
	struct fed f = feed_chunked(ok, 1);

	assert_int_equal(f.rc, HTTP_BODY_DONE);
	assert_int_equal(f.consumed, strlen(ok));
	assert_int_equal(feed_chunked("0\r\nA: 1\r\n continued\r\n\r\n", 0).rc,
	    HTTP_E_BAD_TRAILER);
	assert_int_equal(feed_chunked("0\r\nNoColon\r\n\r\n", 0).rc,
	    HTTP_E_BAD_TRAILER);
	assert_int_equal(feed_chunked("0\r\nA : 1\r\n\r\n", 0).rc,
	    HTTP_E_BAD_TRAILER);
	assert_int_equal(feed_chunked("0\r\nA: \x01\r\n\r\n", 0).rc,
	    HTTP_E_BAD_TRAILER);
	assert_int_equal(feed_chunked("0\r\nA: 1\n\r\n", 0).rc,
	    HTTP_E_BAD_TRAILER);
	assert_int_equal(feed_chunked("0\r\n\rX", 0).rc, HTTP_E_BARE_CR);
}

/* A caller's trailer policy, as the relay's: names it keeps for itself. */
static int
refuse_x_own(const char *name, size_t len)
{
	return len >= 6 && strncasecmp(name, "X-Own-", 6) == 0;
}

static struct fed
feed_chunked_refusing(const char *s, size_t step)
{
	struct http_body b;

	init_kind(&b, HTTP_BODY_CHUNKED, 0);
	b.refuse_trailer = refuse_x_own;
	return feed(&b, s, strlen(s), step);
}

static void
test_trailer_refused_by_the_caller_before_its_value(void **state)
{
	const char *bad = "5\r\nhello\r\n0\r\nA: 1\r\nX-Own-User: mallory\r\n\r\n";
	const char *ok = "0\r\nA: 1\r\nX-Owner: b\r\n\r\n";
	size_t step;
	struct fed f;
	char longname[200];

	for (step = 0; step <= 7; step++) {
		f = feed_chunked_refusing(bad, step);
		assert_int_equal(f.rc, HTTP_E_FORBIDDEN_TRAILER);
		/* Nothing of the refused field past its name was taken. */
		assert_true(f.consumed <= (size_t)(strstr(bad, "X-Own-User:") -
		    bad) + strlen("X-Own-User"));
		assert_int_equal(feed_chunked_refusing(ok, step).rc,
		    HTTP_BODY_DONE);
	}
	/* No policy: passed through as before. */
	assert_int_equal(feed_chunked(bad, 0).rc, HTTP_BODY_DONE);
	/* A long name is judged on its first HTTP_TRAILER_NAME_MAX bytes. */
	memset(longname, 'a', sizeof(longname));
	memcpy(longname, "0\r\nx-own-", 9);
	memcpy(longname + 180, ": 1\r\n\r\n", 8);	/* with its NUL */
	assert_int_equal(feed_chunked_refusing(longname, 3).rc,
	    HTTP_E_FORBIDDEN_TRAILER);
	assert_int_equal(http_error_status(HTTP_E_FORBIDDEN_TRAILER), 400);
}

static void
test_too_large_trailer_section_is_refused(void **state)
{
	static char s[HTTP_MAX_TRAILER_BYTES + 64];

	memset(s, 'a', sizeof(s) - 1);
	memcpy(s, "0\r\nX:", 5);
	assert_int_equal(feed_chunked(s, 0).rc, HTTP_E_BAD_TRAILER);
}

static void
test_body_error_is_sticky(void **state)
{
	struct http_body b;
	struct fed f;

	init_kind(&b, HTTP_BODY_CHUNKED, 0);
	f = feed(&b, "z", 1, 0);
	assert_int_equal(f.rc, HTTP_E_BAD_CHUNK_SIZE);
	f = feed(&b, "5\r\nhello\r\n", 10, 0);
	assert_int_equal(f.rc, HTTP_E_BAD_CHUNK_SIZE);
	assert_int_equal(f.consumed, 0);
	assert_int_equal(http_body_eof(&b), HTTP_E_BAD_CHUNK_SIZE);
}

static void
test_eof_inside_a_chunked_body_is_truncation(void **state)
{
	struct http_body b;

	init_kind(&b, HTTP_BODY_CHUNKED, 0);
	assert_int_equal(feed(&b, "5\r\nhel", 6, 0).rc, HTTP_BODY_MORE);
	assert_int_equal(http_body_eof(&b), HTTP_E_TRUNCATED_BODY);
}

static void
test_chunked_request_head_and_body_parse_end_to_end(void **state)
{
	const char *s = "POST /ews/exchange.asmx HTTP/1.1\r\nHost: mail\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"
	    "4\r\nsoap\r\n0\r\n\r\n"
	    "GET /owa/ HTTP/1.1\r\nHost: mail\r\n\r\n";
	struct http_head h;
	struct http_body b;
	struct fed f;
	int n = parse_req(s, &h);

	assert_true(n > 0);
	http_body_init(&b, &h);
	f = feed(&b, s + n, strlen(s) - (size_t)n, 0);
	assert_int_equal(f.rc, HTTP_BODY_DONE);
	assert_int_equal(f.payload_len, 4);
	assert_true(parse_req(s + n + f.consumed, &h) > 0);
	assert_true(span_is(h.target, h.target_len, "/owa/"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_get_is_parsed),
		cmocka_unit_test(test_rpc_in_data_method_is_accepted),
		cmocka_unit_test(test_rpc_out_data_method_is_accepted),
		cmocka_unit_test(test_any_token_method_is_accepted),
		cmocka_unit_test(test_content_length_over_4_gib_is_accepted),
		cmocka_unit_test(test_zero_content_length_means_no_body),
		cmocka_unit_test(test_incomplete_head_needs_more),
		cmocka_unit_test(test_head_split_at_every_byte_parses_the_same),
		cmocka_unit_test(test_invalid_head_split_at_every_byte_fails_the_same),
		cmocka_unit_test(test_pipelined_requests_return_first_head_length),
		cmocka_unit_test(test_reused_head_struct_without_reset_still_parses_correctly),
		cmocka_unit_test(test_header_values_are_trimmed_of_ows),
		cmocka_unit_test(test_empty_header_value_is_accepted),
		cmocka_unit_test(test_obs_text_in_header_value_is_accepted),
		cmocka_unit_test(test_authorization_of_18_kib_is_accepted),
		cmocka_unit_test(test_authorization_of_64_kib_is_accepted_by_default),
		cmocka_unit_test(test_head_of_65537_bytes_is_refused_with_431_under_a_64_kib_limit),
		cmocka_unit_test(test_head_over_default_limit_is_refused_with_431),
		cmocka_unit_test(test_slow_sender_of_a_huge_head_is_refused_incrementally),
		cmocka_unit_test(test_too_many_headers_is_refused_with_431),
		cmocka_unit_test(test_more_headers_than_the_callers_array_is_refused_with_431),
		cmocka_unit_test(test_long_request_line_is_refused_with_414),
		cmocka_unit_test(test_long_request_line_is_refused_before_later_garbage),
		cmocka_unit_test(test_http10_request_without_host_is_accepted),
		cmocka_unit_test(test_http11_keeps_alive_unless_connection_close),
		cmocka_unit_test(test_empty_elements_in_connection_are_ignored),
		cmocka_unit_test(test_header_named_like_transfer_encoding_is_not_framing),
		cmocka_unit_test(test_http10_keeps_alive_only_with_connection_keep_alive),
		cmocka_unit_test(test_expect_100_continue_is_detected),
		cmocka_unit_test(test_other_expectation_is_refused_with_417),
		cmocka_unit_test(test_expect_in_http10_is_ignored),
		cmocka_unit_test(test_chunked_request_is_framed_as_chunked),
		cmocka_unit_test(test_upgrade_request_is_flagged),
		cmocka_unit_test(test_target_forms_are_checked),
		cmocka_unit_test(test_content_length_with_transfer_encoding_is_refused),
		cmocka_unit_test(test_duplicate_content_length_is_refused_even_if_identical),
		cmocka_unit_test(test_content_length_list_is_refused),
		cmocka_unit_test(test_non_digit_content_length_is_refused),
		cmocka_unit_test(test_overflowing_content_length_is_refused),
		cmocka_unit_test(test_transfer_encoding_other_than_chunked_is_refused),
		cmocka_unit_test(test_duplicate_transfer_encoding_header_is_refused),
		cmocka_unit_test(test_transfer_encoding_in_http10_is_refused),
		cmocka_unit_test(test_obs_fold_is_refused),
		cmocka_unit_test(test_whitespace_between_header_name_and_colon_is_refused),
		cmocka_unit_test(test_bare_lf_is_refused),
		cmocka_unit_test(test_bare_cr_is_refused),
		cmocka_unit_test(test_nul_in_header_value_is_refused),
		cmocka_unit_test(test_control_chars_in_header_value_are_refused),
		cmocka_unit_test(test_empty_header_name_is_refused),
		cmocka_unit_test(test_invalid_header_name_is_refused),
		cmocka_unit_test(test_header_line_without_colon_is_refused),
		cmocka_unit_test(test_invalid_method_chars_are_refused),
		cmocka_unit_test(test_request_target_with_space_or_control_chars_is_refused),
		cmocka_unit_test(test_malformed_request_lines_are_refused),
		cmocka_unit_test(test_leading_empty_line_is_refused),
		cmocka_unit_test(test_versions_other_than_1_0_and_1_1_are_refused_with_505),
		cmocka_unit_test(test_malformed_versions_are_refused_with_400),
		cmocka_unit_test(test_missing_host_in_http11_is_refused),
		cmocka_unit_test(test_multiple_host_headers_are_refused),
		cmocka_unit_test(test_invalid_host_value_is_refused),
		cmocka_unit_test(test_every_byte_in_a_method_is_judged_as_tchar),
		cmocka_unit_test(test_every_byte_in_a_target_is_judged_as_vchar),
		cmocka_unit_test(test_every_byte_in_a_header_name_is_judged_as_tchar),
		cmocka_unit_test(test_every_byte_at_every_offset_of_a_header_value_is_judged),
		cmocka_unit_test(test_every_byte_in_a_host_value_is_judged),
		cmocka_unit_test(test_every_byte_at_every_offset_of_a_reason_phrase_is_judged),
		cmocka_unit_test(test_request_line_limit_is_exact_for_every_limit_and_length),
		cmocka_unit_test(test_connection_naming_content_length_or_host_is_refused),
		cmocka_unit_test(test_connection_option_that_is_not_a_token_is_refused),
		cmocka_unit_test(test_response_status_and_reason_are_parsed),
		cmocka_unit_test(test_response_without_reason_is_accepted),
		cmocka_unit_test(test_1xx_response_has_no_body),
		cmocka_unit_test(test_101_response_is_an_upgrade),
		cmocka_unit_test(test_204_response_has_no_body),
		cmocka_unit_test(test_304_response_has_no_body_despite_content_length),
		cmocka_unit_test(test_response_to_head_has_no_body),
		cmocka_unit_test(test_2xx_response_to_connect_is_a_tunnel),
		cmocka_unit_test(test_response_without_length_is_read_until_close),
		cmocka_unit_test(test_response_with_chunked_final_coding_is_chunked),
		cmocka_unit_test(test_response_with_other_final_coding_is_read_until_close),
		cmocka_unit_test(test_response_with_length_and_chunked_is_refused),
		cmocka_unit_test(test_http10_response_keeps_alive_only_when_asked),
		cmocka_unit_test(test_bad_status_lines_are_refused),
		cmocka_unit_test(test_response_heads_are_as_strict_as_requests),
		cmocka_unit_test(test_every_error_code_has_a_reason_and_a_status),
		cmocka_unit_test(test_null_arguments_are_refused),
		cmocka_unit_test(test_http_find_is_case_insensitive),
		cmocka_unit_test(test_header_has_token_handles_comma_lists),
		cmocka_unit_test(test_hop_by_hop_headers_are_recognised),
		cmocka_unit_test(test_headers_named_in_connection_are_hop_by_hop),
		cmocka_unit_test(test_content_length_and_host_are_never_hop_by_hop),
		cmocka_unit_test(test_content_length_body_is_counted_down),
		cmocka_unit_test(test_gigabyte_content_length_body_is_counted_down),
		cmocka_unit_test(test_eof_inside_a_length_body_is_truncation),
		cmocka_unit_test(test_until_close_body_takes_everything_and_ends_at_eof),
		cmocka_unit_test(test_no_body_is_done_at_once),
		cmocka_unit_test(test_chunked_body_fed_whole_yields_payload_and_raw_length),
		cmocka_unit_test(test_chunked_body_fed_one_byte_at_a_time_yields_the_same),
		cmocka_unit_test(test_chunked_body_split_at_every_point_yields_the_same),
		cmocka_unit_test(test_empty_chunked_body_is_done),
		cmocka_unit_test(test_bad_chunk_sizes_are_refused),
		cmocka_unit_test(test_largest_chunk_size_is_accepted),
		cmocka_unit_test(test_chunk_size_line_with_bare_lf_or_cr_is_refused),
		cmocka_unit_test(test_chunk_data_without_crlf_is_refused),
		cmocka_unit_test(test_too_long_chunk_extension_is_refused),
		cmocka_unit_test(test_control_chars_in_chunk_extension_are_refused),
		cmocka_unit_test(test_long_run_of_leading_zeros_in_chunk_size_is_bounded),
		cmocka_unit_test(test_trailers_are_validated_and_passed_through),
		cmocka_unit_test(test_trailer_refused_by_the_caller_before_its_value),
		cmocka_unit_test(test_too_large_trailer_section_is_refused),
		cmocka_unit_test(test_body_error_is_sticky),
		cmocka_unit_test(test_eof_inside_a_chunked_body_is_truncation),
		cmocka_unit_test(test_chunked_request_head_and_body_parse_end_to_end),
	};

	return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
