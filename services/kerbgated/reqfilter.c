/*
 * reqfilter.c: header names kerbgated owns, session cookie removal, and
 * the request path as route matching sees it.  See reqfilter.h.
 */
#include <string.h>

#include "reqfilter.h"
#include "util.h"

/* ------------------------------------------------------------ names */

/*
 * Letters without case, digits as they are, and every other byte as '-':
 * back-ends map more than '_' onto '-' (lighttpd's CGI/FastCGI/SCGI
 * environment turns every non-alphanumeric byte into '_', so
 * "X.Kerbgate.User" and "X+Kerbgate~User" are HTTP_X_KERBGATE_USER there).
 */
static int
fold(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c + ('a' - 'A');
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return c;
	return '-';
}

int
rf_name_equal(const char *name, size_t len, const char *canon)
{
	size_t i;

	if (name == NULL || canon == NULL)
		return 0;
	for (i = 0; i < len; i++)
		if (canon[i] == '\0' || fold((unsigned char)name[i]) !=
		    fold((unsigned char)canon[i]))
			return 0;
	return canon[len] == '\0';
}

/* The headers kerbgated sets itself; a client's copy never goes on. */
static const char *const reserved[] = {
	"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
	"x-original-url", "x-rewrite-url", "forwarded",
};

#define KERBGATE_PREFIX "x-kerbgate-"

int
rf_name_reserved(const char *name, size_t len)
{
	size_t i, pl = sizeof(KERBGATE_PREFIX) - 1;

	if (name == NULL)
		return 0;
	if (len >= pl && rf_name_equal(name, pl, KERBGATE_PREFIX))
		return 1;
	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (rf_name_equal(name, len, reserved[i]))
			return 1;
	return 0;
}

/*
 * Fields RFC 9110 6.5.1 keeps out of trailers because they frame, route or
 * authenticate a request: a back-end that merges trailers into the header
 * section (Apache's MergeTrailers) would otherwise take a client's
 * Authorization or Host from a trailer that the relay never looked at.
 */
static const char *const not_in_trailers[] = {
	"authorization", "proxy-authorization", "cookie", "host",
	"content-length", "transfer-encoding",
};

int
rf_trailer_refused(const char *name, size_t len)
{
	size_t i;

	if (rf_name_reserved(name, len))
		return 1;
	for (i = 0; i < sizeof(not_in_trailers) / sizeof(not_in_trailers[0]);
	    i++)
		if (rf_name_equal(name, len, not_in_trailers[i]))
			return 1;
	return 0;
}

/* ------------------------------------------------------------ cookies */

static int
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static int
lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static int
name_is(const char *s, size_t len, const char *name, size_t nl)
{
	size_t i;

	if (len != nl)
		return 0;
	for (i = 0; i < len; i++)
		if (lower((unsigned char)s[i]) != lower((unsigned char)name[i]))
			return 0;
	return 1;
}

size_t
rf_cookie_strip(const char *in, size_t len, const char *name, char *out)
{
	size_t p = 0, n = 0, nl, s, e, ne;
	const char *semi, *eq;

	if (in == NULL || name == NULL || out == NULL)
		return 0;
	nl = strlen(name);
	while (p < len) {
		semi = memchr(in + p, ';', len - p);
		e = semi != NULL ? (size_t)(semi - in) : len;
		for (s = p; s < e && is_ows(in[s]); s++)
			;
		p = e + 1;
		while (e > s && is_ows(in[e - 1]))
			e--;
		if (e == s)
			continue;	/* an empty pair: nothing to keep */
		if ((eq = memchr(in + s, '=', e - s)) != NULL) {
			for (ne = (size_t)(eq - in); ne > s &&
			    is_ows(in[ne - 1]); ne--)
				;
			if (name_is(in + s, ne - s, name, nl))
				continue;
		}
		if (n > 0) {
			out[n++] = ';';
			out[n++] = ' ';
		}
		memcpy(out + n, in + s, e - s);
		n += e - s;
	}
	return n;
}

/* ------------------------------------------------------------ paths */

/* RFC 3986 2.3 unreserved: ALPHA DIGIT "-" "." "_" "~" */
static int
is_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

/*
 * Shortest-form UTF-8 (RFC 3629): the continuation bytes a lead byte needs
 * and the range of the first one; later ones are 0x80-0xbf.  Overlong
 * forms (%C0%AE for '.') and surrogates have no lead byte here.
 */
static int
utf8_lead(unsigned char c, unsigned *need, unsigned char *lo,
    unsigned char *hi)
{
	*lo = 0x80;
	*hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		*need = 1;
	else if (c >= 0xe0 && c <= 0xef)
		*need = 2;
	else if (c >= 0xf0 && c <= 0xf4)
		*need = 3;
	else
		return -1;
	if (c == 0xe0)
		*lo = 0xa0;
	else if (c == 0xed)
		*hi = 0x9f;
	else if (c == 0xf0)
		*lo = 0x90;
	else if (c == 0xf4)
		*hi = 0x8f;
	return 0;
}

static const char hexdig[] = "0123456789ABCDEF";

/*
 * First pass: the path (up to '?') with unreserved escapes decoded and the
 * others in upper-case hex, so that a '.' and a '/' in it are real ones.
 */
static int
canonical(const char *t, size_t plen, char *out, size_t *m)
{
	unsigned need = 0;
	unsigned char lo = 0x80, hi = 0xbf, c;
	size_t i, n = 0;
	int h1, h2;

	for (i = 0; i < plen; i++) {
		c = (unsigned char)t[i];
		if (c != '%') {
			if (need > 0)
				return RF_E_BAD_UTF8;
			if (c == '\\')
				return RF_E_BACKSLASH;
			if (c <= 0x20 || c >= 0x7f)
				return RF_E_BAD_CHAR;
			out[n++] = (char)c;
			continue;
		}
		if (i + 2 >= plen || (h1 = kg_hexval((unsigned char)t[i + 1]))
		    < 0 || (h2 = kg_hexval((unsigned char)t[i + 2])) < 0)
			return RF_E_BAD_ESCAPE;
		c = (unsigned char)(h1 * 16 + h2);
		i += 2;
		if (need > 0) {
			if (c < lo || c > hi)
				return RF_E_BAD_UTF8;
			need--;
			lo = 0x80;
			hi = 0xbf;
		} else if (c >= 0x80) {
			if (utf8_lead(c, &need, &lo, &hi) < 0)
				return RF_E_BAD_UTF8;
		} else if (c == 0) {
			return RF_E_NUL;
		} else if (c == '/' || c == '\\') {
			return RF_E_ENCODED_SLASH;
		} else if (is_unreserved(c)) {
			out[n++] = (char)c;
			continue;
		}
		out[n++] = '%';
		out[n++] = hexdig[c >> 4];
		out[n++] = hexdig[c & 15];
	}
	if (need > 0)
		return RF_E_BAD_UTF8;
	/* A double escape, judged after decoding: "%25%33%30" is "%2530"
	 * once decoded and "%30" to a back-end that decodes twice. */
	for (i = 0; i + 4 < n; i++)
		if (out[i] == '%' && out[i + 1] == '2' && out[i + 2] == '5' &&
		    kg_hexval((unsigned char)out[i + 3]) >= 0 &&
		    kg_hexval((unsigned char)out[i + 4]) >= 0)
			return RF_E_DOUBLE_ESCAPE;
	*m = n;
	return 0;
}

/* A name of only dots and (escaped) spaces, with at least one dot. */
static int
dots_and_spaces(const char *s, size_t len)
{
	size_t i;
	int dot = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '.')
			dot = 1;
		else if (i + 2 < len && s[i] == '%' && s[i + 1] == '2' &&
		    s[i + 2] == '0')
			i += 2;
		else
			return 0;
	}
	return dot;
}

int
rf_path_normalize(const char *target, size_t len, char *out, size_t cap,
    size_t *outlen)
{
	const char *q, *slash;
	size_t plen, m = 0, s, e, nl, w = 0;
	int rc, seen_empty = 0, dir = 0;

	if (target == NULL || out == NULL || outlen == NULL || len == 0 ||
	    target[0] != '/')
		return RF_E_NOT_ORIGIN;
	if (cap < len + 2)
		return RF_E_TOO_LONG;
	if (memchr(target, '#', len) != NULL)
		return RF_E_FRAGMENT;
	q = memchr(target, '?', len);
	plen = q != NULL ? (size_t)(q - target) : len;
	if ((rc = canonical(target, plen, out, &m)) != 0)
		return rc;

	/* Second pass, in place: each segment is written at or before where
	 * it was read, so the copy never overtakes the reading.
	 *
	 * No ".." anywhere after an empty segment: merged (Apache, Tomcat)
	 * or kept (RFC 3986, nginx with merge_slashes off, Jetty), "//" moves
	 * every later ".." by one level: "/x//y/../../open" is "/open" merged
	 * and "/x/open" kept, "/x//./../open" likewise.  A segment of only
	 * ";params" counts as empty: Tomcat drops the params, then merges
	 * ("/open/;/../x" is "/x" there, "/open/x" read literally). */
	for (s = 1; s <= m; s = e + 1) {
		slash = memchr(out + s, '/', m - s);
		e = slash != NULL ? (size_t)(slash - out) : m;
		if (e == s) {
			seen_empty = 1;		/* merged, as Apache does */
			dir = 1;
			continue;
		}
		for (nl = 0; s + nl < e && out[s + nl] != ';'; nl++)
			;
		if (nl == 1 && out[s] == '.') {
			if (nl < e - s)
				return RF_E_DOT_SEGMENT;
			dir = 1;
		} else if (nl == 2 && out[s] == '.' && out[s + 1] == '.') {
			if (nl < e - s || seen_empty)
				return RF_E_DOT_SEGMENT;
			if (w == 0)
				return RF_E_ABOVE_ROOT;
			while (w > 0 && out[w - 1] != '/')
				w--;
			w--;		/* the '/' before the segment */
			dir = 1;
		} else if (dots_and_spaces(out + s, nl)) {
			return RF_E_DOT_SEGMENT;
		} else {
			out[w++] = '/';
			memmove(out + w, out + s, e - s);
			w += e - s;
			dir = 0;
		}
		/* A segment of only ";params" is empty to Tomcat, which drops
		 * the params and then merges the slashes. */
		if (nl == 0)
			seen_empty = 1;
	}
	if (w == 0 || dir)
		out[w++] = '/';
	out[w] = '\0';
	*outlen = w;
	return 0;
}

const char *
rf_path_strerror(int err)
{
	switch (err) {
	case RF_E_NOT_ORIGIN:
		return "request target is not a path";
	case RF_E_TOO_LONG:
		return "request path too long to check";
	case RF_E_BAD_ESCAPE:
		return "'%' in the path not followed by two hex digits";
	case RF_E_DOUBLE_ESCAPE:
		return "double percent-encoding (%25XX) in the path";
	case RF_E_ENCODED_SLASH:
		return "encoded slash or backslash (%2F, %5C) in the path";
	case RF_E_BACKSLASH:
		return "backslash in the path";
	case RF_E_NUL:
		return "encoded NUL (%00) in the path";
	case RF_E_BAD_UTF8:
		return "percent-encoded bytes in the path are not valid UTF-8";
	case RF_E_DOT_SEGMENT:
		return "ambiguous dot segment in the path";
	case RF_E_ABOVE_ROOT:
		return "'..' in the path goes above the root";
	case RF_E_FRAGMENT:
		return "'#' in the request target";
	case RF_E_BAD_CHAR:
		return "character not allowed in a request target";
	}
	return "unknown path error";
}
