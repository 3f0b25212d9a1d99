/*
 * fuzz_cookie: a client's Cookie header through sign_cookie_find() and
 * sign_cookie_check(), and arbitrary principals through issue and check.
 *
 * The input is used three ways:
 *  1. as a Cookie header: the kerbgate_session value found must lie inside
 *     the input, and is then checked;
 *  2. as a cookie value, checked directly;
 *  3. up to its first NUL, as a principal to issue a cookie for.
 *
 * Invariants checked (abort() on violation):
 *  - check returns 0 or 1; on 0 the principal is empty and the expiry
 *    untouched; on 1 the principal is a NUL-terminated string without a
 *    line break, now < expiry, and issuing a cookie for that principal,
 *    vhost and expiry gives back exactly the value checked (only canonical,
 *    issued values are accepted);
 *  - an issued cookie is at most SIGN_COOKIE_MAX bytes, checks before its
 *    expiry, not at it, and not for another vhost or under another key;
 *  - issue refuses exactly the principals containing '\n' (and "").
 *
 * Seeds in tests/fuzz/corpus/cookie/ are cookies issued under the key
 * below (bytes 0..31) for "mail.corp.contoso.com", expiring 1700003600.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define VHOST	"mail.corp.contoso.com"
#define NOW	1700000000ULL

static const uint8_t key[32] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
	16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
};
static const uint8_t other_key[32] = { 1 };

static void
check_value(const char *v, size_t n, uint64_t now)
{
	char principal[SIGN_COOKIE_MAX], again[SIGN_COOKIE_MAX + 1];
	uint64_t expiry = 7;
	size_t plen;
	int ok;

	ok = sign_cookie_check(key, v, n, VHOST, now, principal,
	    sizeof(principal), &expiry);
	if (ok == 0) {
		if (principal[0] != '\0' || expiry != 7)
			abort();
		return;
	}
	if (ok != 1)
		abort();
	plen = strnlen(principal, sizeof(principal));
	if (plen == 0 || plen == sizeof(principal) ||
	    memchr(principal, '\n', plen) != NULL || now >= expiry)
		abort();
	if (sign_cookie_issue(key, principal, VHOST, expiry, again,
	    sizeof(again)) != 0)
		abort();
	if (strlen(again) != n || memcmp(again, v, n) != 0)
		abort();
}

static void
roundtrip(const uint8_t *data, size_t size)
{
	char principal[600], v[SIGN_COOKIE_MAX + 1], got[600];
	size_t n = strnlen((const char *)data, size < 599 ? size : 599);
	uint64_t expiry = NOW + 1 + (size % 86400);
	int rc;

	memcpy(principal, data, n);
	principal[n] = '\0';
	rc = sign_cookie_issue(key, principal, VHOST, expiry, v, sizeof(v));
	if (n == 0 || memchr(principal, '\n', n) != NULL) {
		if (rc == 0)
			abort();
		return;
	}
	if (rc != 0)
		return;		/* too long: fine, as long as it says so */
	if (strlen(v) > SIGN_COOKIE_MAX)
		abort();
	if (sign_cookie_check(key, v, strlen(v), VHOST, expiry - 1, got,
	    sizeof(got), NULL) != 1 || strcmp(got, principal) != 0)
		abort();
	if (sign_cookie_check(key, v, strlen(v), VHOST, expiry, got,
	    sizeof(got), NULL) != 0 ||
	    sign_cookie_check(key, v, strlen(v), "autod.corp.contoso.com", NOW,
	    got, sizeof(got), NULL) != 0 ||
	    sign_cookie_check(other_key, v, strlen(v), VHOST, NOW, got,
	    sizeof(got), NULL) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *hdr = (const char *)data, *val;
	size_t vlen;

	if (sign_cookie_find(hdr, size, SIGN_COOKIE_NAME, &val, &vlen)) {
		if (val < hdr || val > hdr + size ||
		    vlen > (size_t)(hdr + size - val))
			abort();
		check_value(val, vlen, NOW);
	}
	check_value(hdr, size, NOW);
	roundtrip(data, size);
	return 0;
}
