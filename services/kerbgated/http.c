/*
 * http.c: strict, incremental HTTP/1.1 head parser and body framing.
 * See http.h for the interface and the strictness decisions.
 *
 * Two stages per head: a resumable byte scan that finds the end of the head
 * (and refuses bare CR/LF, control characters, oversized heads and request
 * lines early), then, once, a full parse of the complete head that checks
 * every byte again, so the scan's saved position is only ever an
 * optimisation.
 *
 * Both stages are written for speed without giving up a byte: character
 * classes are one lookup in a 256-entry table, and the long stretches (the
 * scan between line ends, header values, a 2 KB Authorization) are checked
 * eight bytes at a time by skip_field_chars(), which falls back to the
 * table for any word that holds a byte of interest.  See there, and at
 * scan_head(), for why the verdicts are exactly the byte-by-byte ones.
 */
#include <stdint.h>
#include <string.h>

#include "http.h"
#include "util.h"

#define CONTENT_LENGTH_MAX ((uint64_t)INT64_MAX)	/* 2^63 - 1 */

/* ------------------------------------------------------------ characters */

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Character classes, one table lookup each.  The classes, by definition:
 *
 *   CC_TCHAR  RFC 9110 5.6.2 tchar: ALPHA, DIGIT, "!#$%&'*+-.^_`|~"
 *   CC_VCHAR  visible US-ASCII, 0x21-0x7e
 *   CC_CTL    a control character other than HTAB: 0x00-0x08, 0x0a-0x1f,
 *             0x7f.  Exactly the bytes a field value may not hold (a
 *             field value is field-vchar, SP, HTAB, obs-text >= 0x80), and
 *             exactly the bytes scan_head() must look at (CR and LF are
 *             among them).
 *   CC_HOST   uri-host [ ":" port ]: ALPHA, DIGIT, "-._~%!$&'()*+,;=:[]"
 *
 * Bytes >= 0x80 are in no class.  tests/unit/test_http.c checks every
 * byte against these definitions through the parser.
 */
#define CC_TCHAR 0x01
#define CC_VCHAR 0x02
#define CC_CTL   0x04
#define CC_HOST  0x08

#define TVH (CC_TCHAR | CC_VCHAR | CC_HOST)
#define TV  (CC_TCHAR | CC_VCHAR)
#define VH  (CC_VCHAR | CC_HOST)

static const uint8_t char_class[256] = {
	[0x00 ... 0x08] = CC_CTL,
	/* 0x09 HTAB and 0x20 SP: no class. */
	[0x0a ... 0x1f] = CC_CTL,
	['!'] = TVH,       ['"'] = CC_VCHAR,  ['#'] = TV,        ['$'] = TVH,
	['%'] = TVH,       ['&'] = TVH,       ['\''] = TVH,      ['('] = VH,
	[')'] = VH,        ['*'] = TVH,       ['+'] = TVH,       [','] = VH,
	['-'] = TVH,       ['.'] = TVH,       ['/'] = CC_VCHAR,
	['0' ... '9'] = TVH,
	[':'] = VH,        [';'] = VH,        ['<'] = CC_VCHAR,  ['='] = VH,
	['>'] = CC_VCHAR,  ['?'] = CC_VCHAR,  ['@'] = CC_VCHAR,
	['A' ... 'Z'] = TVH,
	['['] = VH,        ['\\'] = CC_VCHAR, [']'] = VH,        ['^'] = TV,
	['_'] = TVH,       ['`'] = TV,
	['a' ... 'z'] = TVH,
	['{'] = CC_VCHAR,  ['|'] = TV,        ['}'] = CC_VCHAR,  ['~'] = TVH,
	[0x7f] = CC_CTL,
};

#undef TVH
#undef TV
#undef VH

static int
is_tchar(unsigned char c)
{
	return char_class[c] & CC_TCHAR;
}

static int
is_vchar(unsigned char c)
{
	return char_class[c] & CC_VCHAR;
}

/* field-vchar, SP, HTAB: what a field value (or reason phrase) may hold. */
static int
is_field_char(unsigned char c)
{
	return !(char_class[c] & CC_CTL);
}

static int
is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static int
is_host_char(unsigned char c)
{
	return char_class[c] & CC_HOST;
}

/*
 * Length of the longest prefix of p[0 .. n) made of field characters (no
 * CC_CTL byte: so no CR or LF either); n if all are.
 *
 * Eight bytes at a time.  In (w - 0x20 per byte) & ~w & 0x80 per byte, a
 * word's lowest byte below 0x20 is always flagged (no borrow reaches it,
 * and it wraps to >= 0xe0 while its own high bit is clear); with no byte
 * below 0x20 nothing borrows and nothing is flagged (a byte >= 0xa0 has
 * its high bit set, which ~w clears).  So the term is non-zero if and only
 * if some byte is below 0x20; the same with x = w ^ 0x7f per byte and
 * 0x01 finds a byte equal to 0x7f.  A word with neither is free of CC_CTL
 * bytes and skipped whole; any other (a control character, or only a
 * harmless HTAB) is judged byte by byte with the table, as is the tail:
 * the answer is always the table's.
 */
static size_t
skip_field_chars(const unsigned char *p, size_t n)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t high = 0x8080808080808080ULL;
	size_t i = 0, stop;
	uint64_t w, x;

	while (n - i >= 8) {
		memcpy(&w, p + i, 8);
		x = w ^ (ones * 0x7f);
		if (((((w - ones * 0x20) & ~w) | ((x - ones) & ~x)) & high) ==
		    0) {
			i += 8;
			continue;
		}
		for (stop = i + 8; i < stop; i++)
			if (char_class[p[i]] & CC_CTL)
				return i;
	}
	for (; i < n; i++)
		if (char_class[p[i]] & CC_CTL)
			return i;
	return n;
}

static int
lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* Case-insensitive compare of (s, len) with the NUL-terminated lit. */
static int
equals_ci(const char *s, size_t len, const char *lit)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (lit[i] == '\0' || lower((unsigned char)s[i]) !=
		    lower((unsigned char)lit[i]))
			return 0;
	}
	return lit[len] == '\0';
}

static int
spans_equal_ci(const char *a, const char *b, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return 0;
	return 1;
}

static int
equals(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

/* ------------------------------------------------------------ limits */

struct limits {
	size_t   max_head;
	size_t   max_line;
	unsigned max_headers;
};

static void
effective_limits(const struct http_limits *in, unsigned max_hdrs,
    struct limits *l)
{
	l->max_head = HTTP_DEFAULT_MAX_HEAD_BYTES;
	l->max_line = HTTP_DEFAULT_MAX_REQUEST_LINE;
	l->max_headers = HTTP_DEFAULT_MAX_HEADERS;
	if (in != NULL) {
		if (in->max_head_bytes)
			l->max_head = in->max_head_bytes;
		if (in->max_request_line)
			l->max_line = in->max_request_line;
		if (in->max_headers)
			l->max_headers = in->max_headers;
	}
	if (max_hdrs < l->max_headers)
		l->max_headers = max_hdrs;
}

/* ------------------------------------------------------------ scan */

/*
 * Scan the bytes not yet scanned for the end of the head.  Returns 1 and
 * *end (offset past CRLFCRLF) when found, 0 when more bytes are needed, or
 * an error.  Every LF must follow a CR and every CR precede an LF; the
 * check on a CR happens when the byte after it is scanned, so a CR that
 * ends the buffer is judged on the next call.
 *
 * The checks are made byte by byte below, in this order: line too long,
 * bare CR, then LF or another control character.  Runs of bytes on which
 * none of them can fire are skipped with skip_field_chars() first: a byte
 * is skipped only if (a) it is not CC_CTL, so neither CR nor LF nor a
 * refused control character; (b) the byte before it is not a CR (checked
 * for the first byte of a run; the others follow a skipped byte); (c) the
 * first line, if still open, is within max_line (the run stops at offset
 * max_line + 1).  So the skip changes nothing but the time taken: the same
 * bytes are refused with the same codes, the first offending byte first.
 */
static int
scan_head(const char *buf, size_t len, const struct limits *l,
    struct http_head *h, size_t *end)
{
	const unsigned char *b = (const unsigned char *)buf;
	size_t pos = h->scan_pos, line_end = h->scan_line_end, stop, run, i;

	if (pos > len || line_end > pos) {
		pos = 0;
		line_end = 0;
	}
	stop = len < l->max_head ? len : l->max_head;

	for (i = pos; i < stop; i++) {
		unsigned char c;

		if (i == 0 || b[i - 1] != '\r') {
			run = stop;
			if (line_end == 0 && l->max_line < run)
				run = l->max_line + 1;
			if (i < run) {
				i += skip_field_chars(b + i, run - i);
				if (i == stop)
					break;
			}
		}
		c = b[i];
		/* Judged at the first byte past the longest allowed line, so
		 * that a prefix and the whole fail alike. */
		if (line_end == 0 && i > l->max_line && c != '\n')
			return HTTP_E_LINE_TOO_LONG;
		if (i > 0 && b[i - 1] == '\r' && c != '\n')
			return HTTP_E_BARE_CR;
		if (c == '\n') {
			if (i == 0 || b[i - 1] != '\r')
				return HTTP_E_BARE_LF;
			if (line_end == 0) {
				if (i - 1 > l->max_line)
					return HTTP_E_LINE_TOO_LONG;
				line_end = i + 1;
			}
			if (i >= 3 && b[i - 2] == '\n') {
				*end = i + 1;
				h->scan_pos = 0;
				h->scan_line_end = 0;
				return 1;
			}
		} else if (c != '\r' && (char_class[c] & CC_CTL)) {
			return HTTP_E_CONTROL_CHAR;
		}
	}
	if (len >= l->max_head)
		return HTTP_E_HEAD_TOO_LARGE;
	h->scan_pos = stop;
	h->scan_line_end = line_end;
	return 0;
}

/* ------------------------------------------------------------ full parse */

struct cursor {
	const char *buf;
	size_t      pos;
	size_t      end;
};

/* Next line (without CRLF) from the cursor; the head is known to end in
 * CRLFCRLF within end, so an LF is always found. */
static int
next_line(struct cursor *cur, const char **line, size_t *line_len)
{
	const char *start = cur->buf + cur->pos;
	const char *lf = memchr(start, '\n', cur->end - cur->pos);

	if (lf == NULL)
		return HTTP_E_BARE_CR;	/* unreachable after the scan */
	if (lf == start || lf[-1] != '\r')
		return HTTP_E_BARE_LF;
	*line = start;
	*line_len = (size_t)(lf - start) - 1;
	cur->pos += (size_t)(lf - start) + 1;
	return 0;
}

static int
parse_version(const char *s, size_t len, int *minor)
{
	if (len != 8 || memcmp(s, "HTTP/", 5) != 0 || !is_digit(s[5]) ||
	    s[6] != '.' || !is_digit(s[7]))
		return HTTP_E_BAD_VERSION;
	if (s[5] != '1' || (s[7] != '0' && s[7] != '1'))
		return HTTP_E_UNSUPPORTED_VERSION;
	*minor = s[7] - '0';
	return 0;
}

/*
 * absolute-form, narrowed to what a reverse proxy can route:
 * ("http" / "https") "://" authority [ path-abempty [ "?" query ] ], the
 * authority non-empty and made of uri-host [":" port] characters only (no
 * userinfo "@").
 */
static int
is_absolute_form(const char *t, size_t len)
{
	size_t i, auth;

	if (len > 7 && equals_ci(t, 7, "http://"))
		i = 7;
	else if (len > 8 && equals_ci(t, 8, "https://"))
		i = 8;
	else
		return 0;
	for (auth = i; auth < len && t[auth] != '/' && t[auth] != '?'; auth++)
		if (!is_host_char((unsigned char)t[auth]))
			return 0;
	return auth > i;
}

static int
check_target(const char *method, size_t method_len, const char *t,
    size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!is_vchar((unsigned char)t[i]))
			return HTTP_E_BAD_TARGET;
	if (equals(method, method_len, "CONNECT"))
		return 0;	/* authority-form, checked by the relay */
	if (t[0] == '/')
		return 0;
	if (len == 1 && t[0] == '*')
		return equals(method, method_len, "OPTIONS") ? 0 :
		    HTTP_E_BAD_TARGET;
	return is_absolute_form(t, len) ? 0 : HTTP_E_BAD_TARGET;
}

static int
parse_request_line(const char *line, size_t len, const struct limits *l,
    struct http_head *h)
{
	const char *sp1, *sp2;
	size_t i;
	int rc;

	if (len > l->max_line)
		return HTTP_E_LINE_TOO_LONG;
	for (i = 0; i < len && is_tchar((unsigned char)line[i]); i++)
		;
	if (i == len || (i == 0 && line[0] == ' '))
		return HTTP_E_BAD_REQUEST_LINE;
	if (line[i] != ' ')
		return HTTP_E_BAD_METHOD;
	sp1 = line + i;
	sp2 = memrchr(line, ' ', len);
	if (sp2 == sp1 || sp1[1] == ' ')
		return HTTP_E_BAD_REQUEST_LINE;	/* only one SP */
	h->method = line;
	h->method_len = i;
	h->target = sp1 + 1;
	h->target_len = (size_t)(sp2 - sp1) - 1;
	if (h->target_len == 0)
		return HTTP_E_BAD_REQUEST_LINE;
	if ((rc = parse_version(sp2 + 1, len - (size_t)(sp2 + 1 - line),
	    &h->version_minor)) != 0)
		return rc;
	return check_target(h->method, h->method_len, h->target,
	    h->target_len);
}

static int
parse_status_line(const char *line, size_t len, const struct limits *l,
    struct http_head *h)
{
	int rc;

	if (len > l->max_line)
		return HTTP_E_LINE_TOO_LONG;
	if (len < 12 || line[8] != ' ') {
		if (len >= 8 && (rc = parse_version(line, 8,
		    &h->version_minor)) != 0)
			return rc;
		return HTTP_E_BAD_STATUS_LINE;
	}
	if ((rc = parse_version(line, 8, &h->version_minor)) != 0)
		return rc;
	if (!is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11]))
		return HTTP_E_BAD_STATUS_LINE;
	h->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 +
	    (line[11] - '0');
	if (h->status < 100 || h->status > 599)
		return HTTP_E_BAD_STATUS_LINE;
	h->reason = line + len;
	h->reason_len = 0;
	if (len == 12)
		return 0;	/* no SP and reason: tolerated */
	if (line[12] != ' ')
		return HTTP_E_BAD_STATUS_LINE;
	if (skip_field_chars((const unsigned char *)line + 13, len - 13) !=
	    len - 13)
		return HTTP_E_BAD_STATUS_LINE;
	h->reason = line + 13;
	h->reason_len = len - 13;
	return 0;
}

static int
parse_header_line(const char *line, size_t len, struct http_header *hdr)
{
	size_t i, vstart, vend;

	if (is_ows((unsigned char)line[0]))
		return HTTP_E_OBS_FOLD;
	for (i = 0; i < len && is_tchar((unsigned char)line[i]); i++)
		;
	if (i == len)
		return i == 0 ? HTTP_E_BAD_HEADER_NAME : HTTP_E_MISSING_COLON;
	if (line[i] != ':') {
		if (i > 0 && is_ows((unsigned char)line[i]))
			return HTTP_E_SPACE_BEFORE_COLON;
		return HTTP_E_BAD_HEADER_NAME;
	}
	if (i == 0)
		return HTTP_E_BAD_HEADER_NAME;
	hdr->name = line;
	hdr->name_len = i;
	for (vstart = i + 1; vstart < len &&
	    is_ows((unsigned char)line[vstart]); vstart++)
		;
	for (vend = len; vend > vstart &&
	    is_ows((unsigned char)line[vend - 1]); vend--)
		;
	if (skip_field_chars((const unsigned char *)line + vstart,
	    vend - vstart) != vend - vstart)
		return HTTP_E_BAD_HEADER_VALUE;
	hdr->value = line + vstart;
	hdr->value_len = vend - vstart;
	return 0;
}

static int
parse_content_length(const struct http_header *hdr, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (hdr->value_len == 0)
		return HTTP_E_BAD_CONTENT_LENGTH;
	for (i = 0; i < hdr->value_len; i++) {
		unsigned char c = (unsigned char)hdr->value[i];

		if (!is_digit(c))
			return HTTP_E_BAD_CONTENT_LENGTH;
		if (v > (CONTENT_LENGTH_MAX - (c - '0')) / 10)
			return HTTP_E_BAD_CONTENT_LENGTH;
		v = v * 10 + (c - '0');
	}
	*out = v;
	return 0;
}

/*
 * Iterate the elements of a comma-separated list: returns 1 with the next
 * non-empty element (OWS trimmed) in (*elem, *elem_len), 0 at the end.
 */
static int
next_element(const char *v, size_t len, size_t *pos, const char **elem,
    size_t *elem_len)
{
	while (*pos < len) {
		size_t start = *pos, stop;
		const char *comma = memchr(v + start, ',', len - start);

		stop = comma ? (size_t)(comma - v) : len;
		*pos = comma ? stop + 1 : len;
		while (start < stop && is_ows((unsigned char)v[start]))
			start++;
		while (stop > start && is_ows((unsigned char)v[stop - 1]))
			stop--;
		if (stop > start) {
			*elem = v + start;
			*elem_len = stop - start;
			return 1;
		}
	}
	return 0;
}

/* Whether a list has an empty element (",chunked", "chunked, ,"). */
static int
has_empty_element(const char *v, size_t len)
{
	size_t i;
	int seen = 0;

	for (i = 0; i < len; i++) {
		if (v[i] == ',') {
			if (!seen)
				return 1;
			seen = 0;
		} else if (!is_ows((unsigned char)v[i])) {
			seen = 1;
		}
	}
	return !seen;
}

static int
all_tchars(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!is_tchar((unsigned char)s[i]))
			return 0;
	return 1;
}

/*
 * Transfer-Encoding: sets *chunked when the final coding is chunked.  A
 * request may only say "chunked"; a response may have other codings
 * before it (passed through) or end with another one (read until close).
 */
static int
check_transfer_encoding(const struct http_header *te, int is_request,
    int *chunked)
{
	const char *e;
	size_t pos = 0, elen;
	int n = 0, nchunked = 0, last_chunked = 0, others = 0;

	/* Empty elements are legal list syntax, but parsers disagree on
	 * them, and a framing header is no place for disagreement. */
	if (has_empty_element(te->value, te->value_len))
		return HTTP_E_BAD_TRANSFER_ENCODING;

	while (next_element(te->value, te->value_len, &pos, &e, &elen)) {
		size_t tok;

		for (tok = 0; tok < elen && is_tchar((unsigned char)e[tok]);
		    tok++)
			;
		if (tok == 0)
			return HTTP_E_BAD_TRANSFER_ENCODING;
		if (tok < elen && e[tok] != ';' && !is_ows((unsigned char)e[tok]))
			return HTTP_E_BAD_TRANSFER_ENCODING;
		n++;
		last_chunked = tok == elen && equals_ci(e, elen, "chunked");
		if (equals_ci(e, tok, "chunked")) {
			if (!last_chunked)
				return HTTP_E_BAD_TRANSFER_ENCODING;
			nchunked++;
		} else {
			others++;
		}
	}
	if (n == 0 || nchunked > 1 || (nchunked == 1 && !last_chunked))
		return HTTP_E_BAD_TRANSFER_ENCODING;
	if (is_request) {
		if (!last_chunked)
			return HTTP_E_BAD_TRANSFER_ENCODING;
		if (others)
			return HTTP_E_UNSUPPORTED_CODING;
	}
	*chunked = last_chunked;
	return 0;
}

static int
check_host(const struct http_header *host)
{
	size_t i;

	for (i = 0; i < host->value_len; i++)
		if (!is_host_char((unsigned char)host->value[i]))
			return HTTP_E_BAD_HOST;
	return 0;
}

struct summary {
	const struct http_header *content_length;
	const struct http_header *transfer_encoding;
	const struct http_header *host;
	int conn_close, conn_keep_alive, conn_upgrade, has_upgrade;
};

static int
check_connection(const struct http_header *hdr, int is_request,
    struct summary *s)
{
	const char *e;
	size_t pos = 0, elen;

	while (next_element(hdr->value, hdr->value_len, &pos, &e, &elen)) {
		size_t k;

		/* Connection options are tokens (RFC 9110 7.6.1); anything
		 * else is refused rather than guessed at. */
		for (k = 0; is_request && k < elen; k++)
			if (!is_tchar((unsigned char)e[k]))
				return HTTP_E_BAD_CONNECTION;
		if (equals_ci(e, elen, "close"))
			s->conn_close = 1;
		else if (equals_ci(e, elen, "keep-alive"))
			s->conn_keep_alive = 1;
		else if (equals_ci(e, elen, "upgrade"))
			s->conn_upgrade = 1;
		else if (is_request && (equals_ci(e, elen, "content-length") ||
		    equals_ci(e, elen, "host")))
			return HTTP_E_BAD_CONNECTION;
	}
	return 0;
}

static int
summarize_headers(struct http_head *h, struct summary *s)
{
	unsigned i;
	int rc;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < h->nheaders; i++) {
		const struct http_header *hdr = &h->headers[i];
		const char *n = hdr->name;
		size_t nl = hdr->name_len;

		if (equals_ci(n, nl, "content-length")) {
			if (s->content_length != NULL)
				return HTTP_E_DUP_CONTENT_LENGTH;
			s->content_length = hdr;
			if ((rc = parse_content_length(hdr,
			    &h->content_length)) != 0)
				return rc;
			h->has_content_length = 1;
		} else if (equals_ci(n, nl, "transfer-encoding")) {
			if (s->transfer_encoding != NULL)
				return HTTP_E_BAD_TRANSFER_ENCODING;
			s->transfer_encoding = hdr;
		} else if (equals_ci(n, nl, "connection")) {
			if ((rc = check_connection(hdr, h->is_request, s)) != 0)
				return rc;
		} else if (equals_ci(n, nl, "upgrade")) {
			s->has_upgrade = 1;
		} else if (h->is_request && equals_ci(n, nl, "host")) {
			if (s->host != NULL)
				return HTTP_E_DUP_HOST;
			s->host = hdr;
			if ((rc = check_host(hdr)) != 0)
				return rc;
		} else if (h->is_request && h->version_minor == 1 &&
		    equals_ci(n, nl, "expect")) {
			if (!equals_ci(hdr->value, hdr->value_len,
			    "100-continue"))
				return HTTP_E_EXPECTATION;
			h->expect_continue = 1;
		}
	}
	return 0;
}

/* Framing shared by requests and responses: Content-Length vs. TE. */
static int
decide_framing(struct http_head *h, const struct summary *s)
{
	int chunked = 0, rc;

	if (s->transfer_encoding != NULL) {
		if (h->version_minor == 0)
			return HTTP_E_BAD_TRANSFER_ENCODING;
		if (s->content_length != NULL)
			return HTTP_E_LENGTH_AND_CHUNKED;
		if ((rc = check_transfer_encoding(s->transfer_encoding,
		    h->is_request, &chunked)) != 0)
			return rc;
		h->body = chunked ? HTTP_BODY_CHUNKED : HTTP_BODY_UNTIL_CLOSE;
	} else if (s->content_length != NULL) {
		h->body = h->content_length ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
	} else {
		h->body = h->is_request ? HTTP_BODY_NONE : HTTP_BODY_UNTIL_CLOSE;
	}
	if (h->version_minor == 1)
		h->keep_alive = !s->conn_close;
	else
		h->keep_alive = s->conn_keep_alive && !s->conn_close;
	return 0;
}

static int
parse_headers(struct cursor *cur, const struct limits *l,
    struct http_header *hdrs, struct http_head *h)
{
	const char *line;
	size_t line_len;
	int rc;

	for (;;) {
		if ((rc = next_line(cur, &line, &line_len)) != 0)
			return rc;
		if (line_len == 0)
			return 0;
		if (h->nheaders >= l->max_headers)
			return HTTP_E_TOO_MANY_HEADERS;
		if ((rc = parse_header_line(line, line_len,
		    &hdrs[h->nheaders])) != 0)
			return rc;
		h->nheaders++;
	}
}

/*
 * Common driver: scan, then parse the start line and the header lines.
 * Returns the head length, HTTP_NEED_MORE or an error; on success the
 * caller still applies its message-specific rules.
 */
static int
parse_head(const char *buf, size_t len, const struct http_limits *limits,
    struct http_header *hdrs, unsigned max_hdrs, struct http_head *out,
    int is_request, struct summary *s)
{
	struct limits l;
	struct cursor cur;
	const char *line;
	size_t line_len, end, scan_pos, scan_line_end;
	int rc;

	if (out == NULL || (buf == NULL && len > 0) ||
	    (hdrs == NULL && max_hdrs > 0))
		return HTTP_E_INVALID_ARGUMENT;
	effective_limits(limits, max_hdrs, &l);
	if ((rc = scan_head(buf, len, &l, out, &end)) <= 0)
		return rc;
	if (end > INT32_MAX)
		return HTTP_E_HEAD_TOO_LARGE;

	scan_pos = out->scan_pos;
	scan_line_end = out->scan_line_end;
	memset(out, 0, sizeof(*out));
	out->scan_pos = scan_pos;
	out->scan_line_end = scan_line_end;
	out->is_request = is_request;
	out->headers = hdrs;

	cur.buf = buf;
	cur.pos = 0;
	cur.end = end;
	if ((rc = next_line(&cur, &line, &line_len)) != 0)
		return rc;
	if (is_request)
		rc = parse_request_line(line, line_len, &l, out);
	else
		rc = parse_status_line(line, line_len, &l, out);
	if (rc != 0)
		return rc;
	if ((rc = parse_headers(&cur, &l, hdrs, out)) != 0)
		return rc;
	if ((rc = summarize_headers(out, s)) != 0)
		return rc;
	if ((rc = decide_framing(out, s)) != 0)
		return rc;
	out->head_len = cur.pos;
	return (int)cur.pos;
}

int
http_parse_request(const char *buf, size_t len,
    const struct http_limits *limits, struct http_header *hdrs,
    unsigned max_hdrs, struct http_head *out)
{
	struct summary s;
	int rc;

	rc = parse_head(buf, len, limits, hdrs, max_hdrs, out, 1, &s);
	if (rc <= 0)
		return rc;
	if (s.host == NULL && out->version_minor == 1)
		return HTTP_E_MISSING_HOST;
	out->upgrade = s.has_upgrade && s.conn_upgrade &&
	    out->version_minor == 1;
	return rc;
}

int
http_parse_response(const char *buf, size_t len,
    const struct http_limits *limits, const char *request_method,
    size_t method_len, struct http_header *hdrs, unsigned max_hdrs,
    struct http_head *out)
{
	struct summary s;
	int rc, st;

	rc = parse_head(buf, len, limits, hdrs, max_hdrs, out, 0, &s);
	if (rc <= 0)
		return rc;
	st = out->status;
	if (request_method == NULL)
		method_len = 0;
	if (st == 101) {
		out->upgrade = 1;
		out->body = HTTP_BODY_NONE;
	} else if (st >= 200 && st < 300 && request_method != NULL &&
	    equals(request_method, method_len, "CONNECT")) {
		out->upgrade = 1;
		out->body = HTTP_BODY_NONE;
	} else if (st < 200 || st == 204 || st == 304 ||
	    (request_method != NULL && equals(request_method, method_len,
	    "HEAD"))) {
		out->body = HTTP_BODY_NONE;
	}
	if (out->body == HTTP_BODY_UNTIL_CLOSE)
		out->keep_alive = 0;
	return rc;
}

/* ------------------------------------------------------------ errors */

struct error_info {
	int         code;
	int         status;
	const char *reason;
};

static const struct error_info errors[] = {
	{ HTTP_E_INVALID_ARGUMENT, 500, "invalid argument to the HTTP parser" },
	{ HTTP_E_BARE_LF, 400, "line ends in LF without CR" },
	{ HTTP_E_BARE_CR, 400, "CR not followed by LF" },
	{ HTTP_E_CONTROL_CHAR, 400, "control character in message head" },
	{ HTTP_E_HEAD_TOO_LARGE, 431, "message head too large" },
	{ HTTP_E_LINE_TOO_LONG, 414, "request line too long" },
	{ HTTP_E_TOO_MANY_HEADERS, 431, "too many header fields" },
	{ HTTP_E_BAD_REQUEST_LINE, 400, "malformed request line" },
	{ HTTP_E_BAD_METHOD, 400, "invalid character in method" },
	{ HTTP_E_BAD_TARGET, 400, "invalid request target" },
	{ HTTP_E_BAD_VERSION, 400, "malformed HTTP version" },
	{ HTTP_E_UNSUPPORTED_VERSION, 505, "HTTP version not supported" },
	{ HTTP_E_BAD_STATUS_LINE, 502, "malformed status line" },
	{ HTTP_E_BAD_HEADER_NAME, 400, "empty or invalid header name" },
	{ HTTP_E_SPACE_BEFORE_COLON, 400, "whitespace between header name and colon" },
	{ HTTP_E_MISSING_COLON, 400, "header line without colon" },
	{ HTTP_E_OBS_FOLD, 400, "folded header line (obs-fold)" },
	{ HTTP_E_BAD_HEADER_VALUE, 400, "invalid character in header value" },
	{ HTTP_E_BAD_CONTENT_LENGTH, 400, "invalid Content-Length" },
	{ HTTP_E_DUP_CONTENT_LENGTH, 400, "more than one Content-Length" },
	{ HTTP_E_LENGTH_AND_CHUNKED, 400, "both Content-Length and Transfer-Encoding" },
	{ HTTP_E_BAD_TRANSFER_ENCODING, 400, "invalid Transfer-Encoding" },
	{ HTTP_E_UNSUPPORTED_CODING, 501, "unsupported transfer coding" },
	{ HTTP_E_MISSING_HOST, 400, "HTTP/1.1 request without Host" },
	{ HTTP_E_DUP_HOST, 400, "more than one Host header" },
	{ HTTP_E_BAD_HOST, 400, "invalid Host header" },
	{ HTTP_E_BAD_CONNECTION, 400, "Connection header is not a list of tokens, or names Content-Length or Host" },
	{ HTTP_E_EXPECTATION, 417, "unsupported Expect" },
	{ HTTP_E_BAD_CHUNK_SIZE, 400, "invalid chunk size" },
	{ HTTP_E_BAD_CHUNK_EXT, 400, "invalid or too long chunk extension" },
	{ HTTP_E_BAD_CHUNK_END, 400, "chunk data not followed by CRLF" },
	{ HTTP_E_BAD_TRAILER, 400, "invalid or too large trailer section" },
	{ HTTP_E_TRUNCATED_BODY, 400, "connection closed inside the body" },
	{ HTTP_E_FORBIDDEN_TRAILER, 400, "trailer field that only the proxy may set (identity or forwarding header) or that may not be a trailer (authentication, cookie, Host, framing)" },
};

static const struct error_info *
find_error(int err)
{
	size_t i;

	for (i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (errors[i].code == err)
			return &errors[i];
	return NULL;
}

const char *
http_strerror(int err)
{
	const struct error_info *e;

	if (err >= 0)
		return "ok";
	e = find_error(err);
	return e ? e->reason : "unknown error";
}

int
http_error_status(int err)
{
	const struct error_info *e = find_error(err);

	return e ? e->status : 502;
}

/* ------------------------------------------------------------ helpers */

const struct http_header *
http_find(const struct http_head *head, const char *name)
{
	unsigned i;

	if (head == NULL || name == NULL || head->headers == NULL)
		return NULL;
	for (i = 0; i < head->nheaders; i++)
		if (equals_ci(head->headers[i].name, head->headers[i].name_len,
		    name))
			return &head->headers[i];
	return NULL;
}

int
http_header_has_token(const struct http_header *hdr, const char *token)
{
	const char *e;
	size_t pos = 0, elen;

	if (hdr == NULL || token == NULL)
		return 0;
	while (next_element(hdr->value, hdr->value_len, &pos, &e, &elen))
		if (equals_ci(e, elen, token))
			return 1;
	return 0;
}

static const char *const hop_by_hop[] = {
	"connection", "keep-alive", "proxy-connection", "te", "trailer",
	"transfer-encoding", "upgrade", "proxy-authenticate",
	"proxy-authorization",
};

int
http_is_hop_by_hop(const char *name, size_t len, const struct http_head *head)
{
	const char *e;
	size_t i, pos, elen;
	unsigned k;

	if (name == NULL)
		return 0;
	for (i = 0; i < sizeof(hop_by_hop) / sizeof(hop_by_hop[0]); i++)
		if (equals_ci(name, len, hop_by_hop[i]))
			return 1;
	if (head == NULL || head->headers == NULL ||
	    equals_ci(name, len, "content-length") ||
	    equals_ci(name, len, "host"))
		return 0;
	for (k = 0; k < head->nheaders; k++) {
		const struct http_header *hdr = &head->headers[k];

		if (!equals_ci(hdr->name, hdr->name_len, "connection"))
			continue;
		pos = 0;
		while (next_element(hdr->value, hdr->value_len, &pos, &e,
		    &elen))
			if (elen == len && all_tchars(e, elen) &&
			    spans_equal_ci(e, name, len))
				return 1;
	}
	return 0;
}

/* ------------------------------------------------------------ body */

enum body_state {
	B_DONE = 0,
	B_ERROR,
	B_LENGTH,
	B_UNTIL_CLOSE,
	B_SIZE,		/* chunk-size digits */
	B_SIZE_BWS,	/* whitespace after the size: ';' must follow */
	B_EXT,		/* chunk extensions, up to CR */
	B_SIZE_LF,
	B_DATA,
	B_DATA_CR,
	B_DATA_LF,
	B_TRAILER_START,	/* start of a trailer line, or the final CRLF */
	B_TRAILER_NAME,
	B_TRAILER_VALUE,
	B_TRAILER_LF,
	B_FINAL_LF,
};

#define CHUNK_SIZE_MAX ((uint64_t)INT64_MAX)

void
http_body_init(struct http_body *body, const struct http_head *head)
{
	memset(body, 0, sizeof(*body));
	body->state = B_DONE;
	if (head == NULL)
		return;
	body->kind = head->body;
	switch (head->body) {
	case HTTP_BODY_LENGTH:
		body->remaining = head->content_length;
		body->state = body->remaining ? B_LENGTH : B_DONE;
		break;
	case HTTP_BODY_CHUNKED:
		body->state = B_SIZE;
		break;
	case HTTP_BODY_UNTIL_CLOSE:
		body->state = B_UNTIL_CLOSE;
		break;
	case HTTP_BODY_NONE:
		break;
	}
}

static int
body_fail(struct http_body *body, int err)
{
	body->state = B_ERROR;
	body->error = err;
	return err;
}

/* One byte of chunk framing (everything but chunk data). */
static int
chunk_framing_byte(struct http_body *b, unsigned char c)
{
	int d;

	switch (b->state) {
	case B_SIZE:
		if (c != '\r' && ++b->line_len > HTTP_MAX_CHUNK_LINE)
			return HTTP_E_BAD_CHUNK_SIZE;
		if ((d = kg_hexval(c)) >= 0) {
			if (b->remaining > (CHUNK_SIZE_MAX - (unsigned)d) / 16)
				return HTTP_E_BAD_CHUNK_SIZE;
			b->remaining = b->remaining * 16 + (unsigned)d;
			b->size_digits++;
			return 0;
		}
		if (b->size_digits == 0)
			return HTTP_E_BAD_CHUNK_SIZE;
		if (c == '\r')
			b->state = B_SIZE_LF;
		else if (c == ';')
			b->state = B_EXT;
		else if (is_ows(c))
			b->state = B_SIZE_BWS;
		else
			return HTTP_E_BAD_CHUNK_SIZE;
		return 0;
	case B_SIZE_BWS:
	case B_EXT:
		if (c != '\r' && ++b->line_len > HTTP_MAX_CHUNK_LINE)
			return HTTP_E_BAD_CHUNK_EXT;
		if (b->state == B_SIZE_BWS) {
			if (c == ';')
				b->state = B_EXT;
			else if (!is_ows(c))
				return HTTP_E_BAD_CHUNK_EXT;
		} else if (c == '\r') {
			b->state = B_SIZE_LF;
		} else if (!is_field_char(c)) {
			return HTTP_E_BAD_CHUNK_EXT;
		}
		return 0;
	case B_SIZE_LF:
		if (c != '\n')
			return HTTP_E_BARE_CR;
		b->line_len = 0;
		b->size_digits = 0;
		b->state = b->remaining ? B_DATA : B_TRAILER_START;
		return 0;
	case B_DATA_CR:
		if (c != '\r')
			return HTTP_E_BAD_CHUNK_END;
		b->state = B_DATA_LF;
		return 0;
	case B_DATA_LF:
		if (c != '\n')
			return HTTP_E_BAD_CHUNK_END;
		b->state = B_SIZE;
		return 0;
	default:
		break;
	}

	/* Trailer section. */
	if (++b->trailer_len > HTTP_MAX_TRAILER_BYTES)
		return HTTP_E_BAD_TRAILER;
	switch (b->state) {
	case B_TRAILER_START:
		if (c == '\r') {
			b->state = B_FINAL_LF;
		} else if (is_tchar(c)) {
			b->state = B_TRAILER_NAME;
			b->trailer_name[0] = (char)c;
			b->trailer_name_len = 1;
		} else {
			return HTTP_E_BAD_TRAILER;	/* incl. obs-fold */
		}
		return 0;
	case B_TRAILER_NAME:
		if (c == ':') {
			if (b->refuse_trailer != NULL &&
			    b->refuse_trailer(b->trailer_name, b->trailer_name_len))
				return HTTP_E_FORBIDDEN_TRAILER;
			b->state = B_TRAILER_VALUE;
		} else if (!is_tchar(c)) {
			return HTTP_E_BAD_TRAILER;
		} else if (b->trailer_name_len < HTTP_TRAILER_NAME_MAX) {
			b->trailer_name[b->trailer_name_len++] = (char)c;
		}
		return 0;
	case B_TRAILER_VALUE:
		if (c == '\r')
			b->state = B_TRAILER_LF;
		else if (!is_field_char(c))
			return HTTP_E_BAD_TRAILER;
		return 0;
	case B_TRAILER_LF:
		if (c != '\n')
			return HTTP_E_BARE_CR;
		b->state = B_TRAILER_START;
		return 0;
	case B_FINAL_LF:
		if (c != '\n')
			return HTTP_E_BARE_CR;
		b->state = B_DONE;
		return 0;
	default:
		return HTTP_E_INVALID_ARGUMENT;
	}
}

int
http_body_feed(struct http_body *body, const char *in, size_t in_len,
    size_t *consumed, const char **data, size_t *data_len)
{
	size_t i = 0, n;
	int rc;

	if (body == NULL || consumed == NULL || data == NULL ||
	    data_len == NULL || (in == NULL && in_len > 0))
		return HTTP_E_INVALID_ARGUMENT;
	*consumed = 0;
	*data = NULL;
	*data_len = 0;

	switch (body->state) {
	case B_DONE:
		return HTTP_BODY_DONE;
	case B_ERROR:
		return body->error;
	case B_UNTIL_CLOSE:
		if (in_len > 0) {
			*data = in;
			*data_len = in_len;
		}
		*consumed = in_len;
		body->payload += in_len;
		return HTTP_BODY_MORE;
	case B_LENGTH:
		n = body->remaining < in_len ? (size_t)body->remaining : in_len;
		if (n > 0) {
			*data = in;
			*data_len = n;
		}
		*consumed = n;
		body->remaining -= n;
		body->payload += n;
		if (body->remaining == 0) {
			body->state = B_DONE;
			return HTTP_BODY_DONE;
		}
		return HTTP_BODY_MORE;
	default:
		break;
	}

	while (i < in_len) {
		if (body->state == B_DATA) {
			n = in_len - i;
			if (body->remaining < n)
				n = (size_t)body->remaining;
			*data = in + i;
			*data_len = n;
			i += n;
			body->remaining -= n;
			body->payload += n;
			if (body->remaining == 0)
				body->state = B_DATA_CR;
			*consumed = i;
			return HTTP_BODY_MORE;
		}
		if ((rc = chunk_framing_byte(body, (unsigned char)in[i])) != 0)
			return body_fail(body, rc);
		i++;
		if (body->state == B_DONE) {
			*consumed = i;
			return HTTP_BODY_DONE;
		}
	}
	*consumed = i;
	return HTTP_BODY_MORE;
}

int
http_body_eof(struct http_body *body)
{
	if (body == NULL)
		return HTTP_E_INVALID_ARGUMENT;
	if (body->state == B_UNTIL_CLOSE)
		body->state = B_DONE;
	if (body->state == B_DONE)
		return HTTP_BODY_DONE;
	if (body->state == B_ERROR)
		return body->error;
	return body_fail(body, HTTP_E_TRUNCATED_BODY);
}
