/*
 * fuzz_http_head: request and response head parsing, with invariants.
 *
 * Input: one control byte, then the message bytes.  The control byte picks
 * request or response (and the method the response answers), small or
 * default limits, and where to split the input for the prefix check.
 *
 * Invariants checked (abort() on violation):
 *  - on success: head_len == return value <= len; every pointer (method,
 *    target, reason, header names and values) lies inside the head; no
 *    header name is empty; framing fields are in range;
 *  - parsing a prefix never succeeds where the whole fails, never gives a
 *    different successful result, and fails only with the whole's error;
 *  - resuming with the same struct (prefix, then whole) gives exactly the
 *    result of parsing the whole at once.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HDRS 128

static const char *const methods[] = { "GET", "HEAD", "CONNECT", "POST",
    "RPC_IN_DATA", NULL };

static void
check_inside(const char *p, size_t n, const char *base, size_t len)
{
	if (n == 0)
		return;
	if (p < base || p > base + len || n > (size_t)(base + len - p))
		abort();
}

static int
parse(int is_request, const char *buf, size_t len,
    const struct http_limits *lim, const char *method,
    struct http_header *hdrs, struct http_head *h)
{
	if (is_request)
		return http_parse_request(buf, len, lim, hdrs, MAX_HDRS, h);
	return http_parse_response(buf, len, lim, method,
	    method ? strlen(method) : 0, hdrs, MAX_HDRS, h);
}

static void
check_success(const char *buf, size_t len, int rc, const struct http_head *h)
{
	unsigned i;

	if ((size_t)rc != h->head_len || h->head_len > len || h->head_len < 4)
		abort();
	if (memcmp(buf + h->head_len - 4, "\r\n\r\n", 4) != 0)
		abort();
	if (h->is_request) {
		if (h->method_len == 0 || h->target_len == 0)
			abort();
		check_inside(h->method, h->method_len, buf, h->head_len);
		check_inside(h->target, h->target_len, buf, h->head_len);
	} else {
		if (h->status < 100 || h->status > 599)
			abort();
		check_inside(h->reason, h->reason_len, buf, h->head_len);
	}
	if (h->version_minor != 0 && h->version_minor != 1)
		abort();
	if (h->body > HTTP_BODY_UNTIL_CLOSE)
		abort();
	if (h->body == HTTP_BODY_LENGTH && (!h->has_content_length ||
	    h->content_length == 0 || h->content_length > INT64_MAX))
		abort();
	if (h->is_request && h->body == HTTP_BODY_UNTIL_CLOSE)
		abort();
	if (h->body == HTTP_BODY_UNTIL_CLOSE && h->keep_alive)
		abort();
	for (i = 0; i < h->nheaders; i++) {
		const struct http_header *x = &h->headers[i];

		if (x->name_len == 0)
			abort();
		check_inside(x->name, x->name_len, buf, h->head_len);
		check_inside(x->value, x->value_len, buf, h->head_len);
		if (x->value_len && (x->value[0] == ' ' || x->value[0] == '\t' ||
		    x->value[x->value_len - 1] == ' ' ||
		    x->value[x->value_len - 1] == '\t'))
			abort();
		if (http_find(h, "host") == NULL && h->is_request &&
		    h->version_minor == 1)
			abort();
		(void)http_is_hop_by_hop(x->name, x->name_len, h);
		(void)http_header_has_token(x, "close");
	}
}

static int
same_result(const struct http_head *a, const struct http_head *b)
{
	unsigned i;

	if (a->head_len != b->head_len || a->nheaders != b->nheaders ||
	    a->method != b->method || a->method_len != b->method_len ||
	    a->target != b->target || a->target_len != b->target_len ||
	    a->status != b->status || a->version_minor != b->version_minor ||
	    a->body != b->body || a->content_length != b->content_length ||
	    a->keep_alive != b->keep_alive || a->upgrade != b->upgrade ||
	    a->expect_continue != b->expect_continue)
		return 0;
	for (i = 0; i < a->nheaders; i++)
		if (a->headers[i].name != b->headers[i].name ||
		    a->headers[i].value_len != b->headers[i].value_len)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_header h_whole[MAX_HDRS], h_pre[MAX_HDRS],
	    h_inc[MAX_HDRS];
	struct http_head whole, pre, inc;
	struct http_limits small = { 256, 64, 8 }, *lim;
	const char *buf, *method;
	size_t len, split;
	int is_request, rc, rc_pre, rc_inc;
	uint8_t ctl;

	if (size < 1)
		return 0;
	ctl = data[0];
	buf = (const char *)data + 1;
	len = size - 1;
	is_request = !(ctl & 1);
	lim = (ctl & 2) ? &small : NULL;
	method = methods[(ctl >> 2) % 6];
	split = len ? (size_t)((ctl >> 5) * len / 7) : 0;
	if (split > len)
		split = len;

	memset(&whole, 0, sizeof(whole));
	rc = parse(is_request, buf, len, lim, method, h_whole, &whole);
	if (rc > 0)
		check_success(buf, len, rc, &whole);
	else if (rc < HTTP_E_LAST)
		abort();
	(void)http_strerror(rc);
	(void)http_error_status(rc);

	/* A prefix, parsed afresh. */
	memset(&pre, 0, sizeof(pre));
	rc_pre = parse(is_request, buf, split, lim, method, h_pre, &pre);
	if (rc_pre > 0) {
		check_success(buf, split, rc_pre, &pre);
		if (rc != rc_pre || !same_result(&whole, &pre))
			abort();
	} else if (rc_pre < 0 && rc_pre != rc) {
		abort();
	}

	/* The same prefix, then the whole, with one struct kept. */
	memset(&inc, 0, sizeof(inc));
	rc_inc = parse(is_request, buf, split, lim, method, h_inc, &inc);
	if (rc_inc == HTTP_NEED_MORE) {
		rc_inc = parse(is_request, buf, len, lim, method, h_inc, &inc);
		if (rc_inc != rc)
			abort();
		if (rc_inc > 0 && !same_result(&whole, &inc))
			abort();
	}
	return 0;
}
