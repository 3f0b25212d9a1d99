/*
 * fuzz_reqfilter: the request path as route matching sees it, the session
 * cookie removal, and reserved header names, on arbitrary bytes.
 *
 * Input: the first byte picks what the rest is: even, a request target
 * (a '/' is put in front when it lacks one, as the parser only passes
 * origin-form targets on); odd, a Cookie value (and a header name).
 *
 * Invariants checked (abort() on violation):
 *  - a normalised path starts with '/', fits in len + 1 bytes, holds no
 *    '\', '?', '#', "//", no "." or ".." segment, no escape of an
 *    unreserved character, and is a fixed point: normalising it again
 *    gives it back (so no second decoding can move a route decision);
 *  - a refusal is one of the documented RF_E_* codes, with words;
 *  - the cookie result is at most 2 * len bytes and names no
 *    kerbgate_session cookie, and stripping again changes nothing.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reqfilter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
hexdig(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') ||
	    (c >= 'a' && c <= 'f');
}

static void
check_path(const char *p, size_t n)
{
	size_t i, seg;

	if (n == 0 || p[0] != '/' || p[n] != '\0' || strlen(p) != n)
		abort();
	for (i = 0; i < n; i++) {
		if (p[i] == '\\' || p[i] == '?' || p[i] == '#')
			abort();
		if (p[i] == '/' && i + 1 < n && p[i + 1] == '/')
			abort();
		if (p[i] == '%') {
			if (i + 2 >= n || !hexdig(p[i + 1]) || !hexdig(p[i + 2]))
				abort();
			/* unreserved characters are never left escaped */
			if ((p[i + 1] == '2' && (p[i + 2] == 'E' ||
			    p[i + 2] == 'D')) || (p[i + 1] == '5' &&
			    p[i + 2] == 'F') || (p[i + 1] == '7' &&
			    p[i + 2] == 'E'))
				abort();
		}
	}
	for (i = 0; i < n; i = seg) {
		size_t len;

		for (seg = i + 1; seg < n && p[seg] != '/'; seg++)
			;
		len = seg - i - 1;
		if ((len == 1 && p[i + 1] == '.') ||
		    (len == 2 && p[i + 1] == '.' && p[i + 2] == '.'))
			abort();
	}
}

static void
fuzz_path(const uint8_t *data, size_t size)
{
	char *t, *out, *again;
	size_t len, n, n2;
	int rc;

	if ((t = malloc(size + 2)) == NULL)
		return;
	len = 0;
	if (size == 0 || data[0] != '/')
		t[len++] = '/';
	memcpy(t + len, data, size);
	len += size;
	out = malloc(len + 2);
	again = malloc(len + 2);
	if (out == NULL || again == NULL)
		goto done;
	rc = rf_path_normalize(t, len, out, len + 2, &n);
	if (rc < 0) {
		if (rc < RF_E_LAST || rc == RF_E_NOT_ORIGIN ||
		    rc == RF_E_TOO_LONG ||
		    strcmp(rf_path_strerror(rc), "unknown path error") == 0)
			abort();
		goto done;
	}
	if (rc != 0 || n > len + 1)
		abort();
	check_path(out, n);
	if (rf_path_normalize(out, n, again, len + 2, &n2) != 0 || n2 != n ||
	    memcmp(out, again, n) != 0)
		abort();
done:
	free(t);
	free(out);
	free(again);
}

static void
fuzz_cookie(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	char *out, *again;
	size_t n, n2, p, e;

	(void)rf_name_reserved(in, size < 64 ? size : 64);
	out = malloc(2 * size + 1);
	again = malloc(4 * size + 1);
	if (out == NULL || again == NULL)
		goto done;
	n = rf_cookie_strip(in, size, "kerbgate_session", out);
	if (n > 2 * size)
		abort();
	for (p = 0; p < n; p = e + 2) {
		const char *semi = memchr(out + p, ';', n - p);

		e = semi ? (size_t)(semi - out) : n;
		if (e - p >= 17 && strncasecmp(out + p, "kerbgate_session", 16)
		    == 0) {
			size_t k = 16;

			while (p + k < e && (out[p + k] == ' ' ||
			    out[p + k] == '\t'))
				k++;
			if (p + k < e && out[p + k] == '=')
				abort();
		}
	}
	n2 = rf_cookie_strip(out, n, "kerbgate_session", again);
	if (n2 != n || memcmp(out, again, n) != 0)
		abort();
done:
	free(out);
	free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		fuzz_cookie(data + 1, size - 1);
	else
		fuzz_path(data + 1, size - 1);
	return 0;
}
