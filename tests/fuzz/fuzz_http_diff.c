/*
 * fuzz_http_diff: differential test of http_parse_request() against
 * libhttp-parser (a test oracle only; the relay never links it).
 *
 * Only inputs whose method is one both parsers know are compared (ours
 * takes any token; libhttp-parser refuses RPC_IN_DATA and friends).
 *
 *  - Both accept a complete head: method, target, version, Content-Length
 *    (or chunked), keep-alive and the number of header lines must agree.
 *  - Ours accepts, libhttp-parser refuses or wants more: abort, except for
 *    the documented differences in ours_lenient() below.
 *  - ours refuses, libhttp-parser accepts: allowed only for the refusals
 *    listed in we_are_stricter(), each a documented strictness decision in
 *    http.h; any other refusal aborts.
 *
 * FUZZ_HTTP_DIFF_STATS=1 in the environment prints the outcome counts at
 * exit, to check that the comparison is not vacuous.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HDRS 128

struct oracle {
	const char *url;
	size_t      url_len;
	unsigned    nfields;
	int         complete;
	int         url_pieces;
	uint64_t    content_length;
	unsigned    flags;
	int         keep_alive;
};

static unsigned long n_both_accept, n_both_refuse, n_ours_stricter,
    n_skipped, n_oracle_incomplete, n_oracle_wrong;
static unsigned long n_stricter_by_code[1 - HTTP_E_LAST];

static int
on_url(http_parser *p, const char *at, size_t len)
{
	struct oracle *o = p->data;

	if (o->url_pieces++ == 0)
		o->url = at;
	o->url_len += len;
	return 0;
}

static int
on_header_field(http_parser *p, const char *at, size_t len)
{
	struct oracle *o = p->data;

	o->nfields++;
	return 0;
}

static int
on_headers_complete(http_parser *p)
{
	struct oracle *o = p->data;

	o->complete = 1;
	o->content_length = p->content_length;
	o->flags = p->flags;
	o->keep_alive = http_should_keep_alive(p);
	http_parser_pause(p, 1);
	return 0;
}

static const char *const common_methods[] = { "GET", "POST", "PUT",
    "DELETE", "HEAD", "OPTIONS", "PATCH", NULL };

static int
common_method(const char *buf, size_t len)
{
	const char *sp = memchr(buf, ' ', len);
	int i;

	if (sp == NULL)
		return 0;
	for (i = 0; common_methods[i] != NULL; i++)
		if (strlen(common_methods[i]) == (size_t)(sp - buf) &&
		    memcmp(common_methods[i], buf, (size_t)(sp - buf)) == 0)
			return 1;
	return 0;
}

/*
 * Our refusals where libhttp-parser (2.9, built non-strict) is knowingly
 * more lenient.  Each is a decision documented in http.h.
 */
static int
we_are_stricter(int rc)
{
	switch (rc) {
	case HTTP_E_BARE_LF:            /* it accepts LF line endings */
	case HTTP_E_BARE_CR:            /* it treats some CR as whitespace */
	case HTTP_E_CONTROL_CHAR:       /* it allows some CTLs (non-strict) */
	case HTTP_E_OBS_FOLD:           /* it unfolds */
	case HTTP_E_SPACE_BEFORE_COLON: /* ... */
	case HTTP_E_BAD_HEADER_NAME:    /* it allows some non-tchars */
	case HTTP_E_MISSING_COLON:
	case HTTP_E_BAD_HEADER_VALUE:
	case HTTP_E_BAD_TARGET:         /* high bytes, forms we refuse */
	case HTTP_E_BAD_METHOD:
	case HTTP_E_BAD_REQUEST_LINE:   /* leading CRLF, multiple spaces */
	case HTTP_E_BAD_VERSION:        /* multi-digit versions */
	case HTTP_E_UNSUPPORTED_VERSION:/* HTTP/0.9, 1.2, 2.0 */
	case HTTP_E_MISSING_HOST:       /* it does not require Host */
	case HTTP_E_DUP_HOST:
	case HTTP_E_BAD_HOST:
	case HTTP_E_BAD_CONNECTION:     /* Connection: content-length, non-token */
	case HTTP_E_EXPECTATION:        /* it ignores Expect */
	case HTTP_E_DUP_CONTENT_LENGTH: /* identical repeats */
	case HTTP_E_BAD_CONTENT_LENGTH: /* > 2^63-1; "1 " ... */
	case HTTP_E_BAD_TRANSFER_ENCODING: /* non-chunked codings, HTTP/1.0 */
	case HTTP_E_UNSUPPORTED_CODING:
	case HTTP_E_LENGTH_AND_CHUNKED: /* it allows CL with TE: identity */
	case HTTP_E_LINE_TOO_LONG:      /* it has no request-line limit */
	case HTTP_E_TOO_MANY_HEADERS:   /* nor a header count limit */
	case HTTP_E_HEAD_TOO_LARGE:     /* ours is 72 KiB, its 80 KiB */
		return 1;
	default:
		return 0;
	}
}

static int
has_name_prefix(const struct http_head *h, const char *prefix)
{
	size_t n = strlen(prefix);
	unsigned i;

	for (i = 0; i < h->nheaders; i++)
		if (h->headers[i].name_len > n &&
		    strncasecmp(h->headers[i].name, prefix, n) == 0)
			return 1;
	return 0;
}

/* Whether HTAB stands in the OWS after the named field's value (which
 * RFC 9110 5.5 trims); libhttp-parser trims SP only. */
static int
tab_after_value(const struct http_head *h, const char *name)
{
	const struct http_header *f = http_find(h, name);
	const char *p;

	if (f == NULL)
		return 0;
	for (p = f->value + f->value_len; *p != '\r'; p++)
		if (*p == '\t')
			return 1;
	return 0;
}

/*
 * Inputs we accept and libhttp-parser refuses where the oracle is wrong
 * (checked against RFC 9110/9112), each narrowed to its exact trigger.
 */
static int
ours_lenient(const struct http_head *h, enum http_errno err)
{
	/* It takes a field whose name merely starts with
	 * "Transfer-Encoding" (e.g. "Transfer-Encodingx") for
	 * Transfer-Encoding when it meets Content-Length. */
	if (err == HPE_UNEXPECTED_CONTENT_LENGTH && h->has_content_length &&
	    has_name_prefix(h, "transfer-encoding"))
		return 1;
	/* It allows only SP, not HTAB, as OWS after a Content-Length value. */
	if (err == HPE_INVALID_CONTENT_LENGTH && h->has_content_length &&
	    tab_after_value(h, "content-length"))
		return 1;
	return 0;
}

static void
print_stats(void)
{
	int i;

	fprintf(stderr, "fuzz_http_diff: both accept %lu, both refuse %lu, "
	    "ours stricter %lu, oracle incomplete %lu, oracle wrong %lu, "
	    "skipped %lu\n", n_both_accept, n_both_refuse, n_ours_stricter,
	    n_oracle_incomplete, n_oracle_wrong, n_skipped);
	for (i = 1; i <= -HTTP_E_LAST; i++)
		if (n_stricter_by_code[i])
			fprintf(stderr, "  ours stricter: %-50s %lu\n",
			    http_strerror(-i), n_stricter_by_code[i]);
}

/* Whether a Connection header is one libhttp-parser misreads.  Its token
 * matcher misreads lists: ",close" and "C,close" (no space) are not
 * "close" to it, though RFC 9110 5.6.1 says they are.  And it trims SP
 * only, so "close<HTAB>" is no "close" to it (found by this fuzzer).  Our
 * reading of both is covered by test_http.c; keep-alive is compared for
 * single options with SP-only trailing OWS. */
static int
connection_misread(const struct http_head *h)
{
	const char *p;
	unsigned i;

	for (i = 0; i < h->nheaders; i++) {
		const struct http_header *x = &h->headers[i];

		if (x->name_len != 10 || strncasecmp(x->name, "connection", 10) != 0)
			continue;
		if (memchr(x->value, ',', x->value_len) != NULL)
			return 1;
		for (p = x->value + x->value_len; *p != '\r'; p++)
			if (*p == '\t')
				return 1;
	}
	return 0;
}

static void
compare_accepted(const struct http_head *h, const struct oracle *o,
    const http_parser *p)
{
	const char *m = http_method_str((enum http_method)p->method);

	if (strlen(m) != h->method_len || memcmp(m, h->method, h->method_len))
		abort();
	if (o->url_len != h->target_len || o->url != h->target)
		abort();
	if (p->http_major != 1 || p->http_minor != h->version_minor)
		abort();
	if (o->nfields != h->nheaders)
		abort();
	if (has_name_prefix(h, "transfer-encoding")) {
		/* It reads a field named e.g. "Transfer-Encodingn" as
		 * Transfer-Encoding (checked: "Transfer-Encoding: chunked"
		 * then "Transfer-Encodingn: e" is not chunked to it).  Our
		 * reading of such names is covered by test_http.c. */
	} else if (h->body == HTTP_BODY_CHUNKED) {
		/* "chunked<HTAB>" is chunked; to it, an unknown coding. */
		if (!(o->flags & F_CHUNKED) &&
		    !tab_after_value(h, "transfer-encoding"))
			abort();
	} else if (o->flags & F_CHUNKED) {
		abort();
	}
	if (h->has_content_length) {
		if (!(o->flags & F_CONTENTLENGTH) ||
		    o->content_length != h->content_length)
			abort();
	} else if (o->flags & F_CONTENTLENGTH) {
		abort();
	}
	if (o->keep_alive != h->keep_alive && !connection_misread(h))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_header hdrs[MAX_HDRS];
	static int registered;
	static http_parser_settings settings;
	const char *buf = (const char *)data;
	struct http_head h;
	struct oracle o;
	http_parser p;
	size_t parsed;
	enum http_errno err;
	int rc, theirs_ok;

	if (!registered) {
		registered = 1;
		settings.on_url = on_url;
		settings.on_header_field = on_header_field;
		settings.on_headers_complete = on_headers_complete;
		if (getenv("FUZZ_HTTP_DIFF_STATS") != NULL)
			atexit(print_stats);
	}
	if (!common_method(buf, size)) {
		n_skipped++;
		return 0;
	}

	memset(&h, 0, sizeof(h));
	rc = http_parse_request(buf, size, NULL, hdrs, MAX_HDRS, &h);

	memset(&o, 0, sizeof(o));
	http_parser_init(&p, HTTP_REQUEST);
	p.data = &o;
	parsed = http_parser_execute(&p, &settings, buf, size);
	err = HTTP_PARSER_ERRNO(&p);
	theirs_ok = o.complete && (err == HPE_OK || err == HPE_PAUSED);
	(void)parsed;

	if (rc > 0 && theirs_ok) {
		compare_accepted(&h, &o, &p);
		n_both_accept++;
	} else if (rc > 0) {
		if (err == HPE_OK)
			abort();	/* it wants more where we saw the end */
		if (!ours_lenient(&h, err))
			abort();	/* we accept what it refuses */
		n_oracle_wrong++;
	} else if (rc < 0 && theirs_ok) {
		if (!we_are_stricter(rc))
			abort();
		n_ours_stricter++;
		n_stricter_by_code[-rc]++;
	} else if (rc < 0) {
		n_both_refuse++;
	} else if (theirs_ok) {
		abort();	/* it saw a complete head, we want more */
	} else {
		n_oracle_incomplete++;
	}
	return 0;
}
