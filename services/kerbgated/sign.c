/*
 * HMAC-SHA256 signatures on forwarded identities and on session cookies.
 *
 * Cookie value:  P '.' M  where
 *   P = base64url(principal '\n' vhost '\n' expiry), no padding
 *   M = base64url(HMAC-SHA256(key, "kerbgate-cookie-v1\n" P)), no padding
 * The MAC covers the encoded text exactly as sent, so a value is
 * authenticated before a byte of it is decoded, and comparing M as text
 * also refuses the non-canonical spellings of the same MAC.
 */
#include <string.h>
#include <strings.h>
#include <stdio.h>

#include <mbedtls/base64.h>
#include <mbedtls/constant_time.h>

#include "hmac256.h"
#include "sign.h"
#include "util.h"

#define MAC_LEN		32
#define MAC_B64_LEN	43	/* base64url of 32 bytes, unpadded */
#define SIGN_PREFIX	"kerbgate-v3"
#define GRANT_PREFIX	"kerbgate-grant-v1\n"
#define COOKIE_PREFIX	"kerbgate-cookie-v1\n"
#define SECRET_MIN	32
#define U64_DIGITS	20
/* The longest decoded payload a SIGN_COOKIE_MAX value can carry. */
#define PAYLOAD_MAX	((SIGN_COOKIE_MAX - 1 - MAC_B64_LEN) * 3 / 4)

/* The parts HMAC'd in order; a NULL part ends the list. */
struct part {
	const void	*p;
	size_t		 n;
};

/*
 * The relay signs every request with the same few keys: their prepared
 * pads (hmac256.h) are kept per thread for the last KEY_SLOTS keys, wiped
 * when replaced.
 */
#define KEY_SLOTS	4

struct keyed {
	uint8_t			 key[HMAC256_MAX_KEY];
	size_t			 keylen;	/* 0: empty slot */
	struct hmac256_key	 prepared;
};

static __thread struct keyed slots[KEY_SLOTS];
static __thread unsigned next_slot;

static const struct hmac256_key *
keyed_get(const uint8_t *key, size_t keylen)
{
	struct keyed *k;
	size_t i;

	for (i = 0; i < KEY_SLOTS; i++)
		if (slots[i].keylen == keylen && memcmp(slots[i].key, key, keylen) == 0)
			return &slots[i].prepared;
	k = &slots[next_slot++ % KEY_SLOTS];
	kg_zero(k, sizeof(*k));
	if (hmac256_key_init(&k->prepared, key, keylen) != 0)
		return NULL;
	memcpy(k->key, key, keylen);
	k->keylen = keylen;
	return &k->prepared;
}

static int
hmac_parts(const uint8_t *key, size_t keylen, const struct part *parts,
    uint8_t mac[MAC_LEN])
{
	struct hmac256_part hp[16];
	const struct hmac256_key *k;
	size_t n;

	/* Our keys are 32 to 64 bytes; longer ones would be hashed first. */
	if (key == NULL || keylen == 0 || keylen > HMAC256_MAX_KEY ||
	    (k = keyed_get(key, keylen)) == NULL)
		return KG_ERR_INVAL;
	for (n = 0; parts[n].p != NULL; n++) {
		if (n == sizeof(hp) / sizeof(hp[0]))
			return KG_ERR_INVAL;
		hp[n].p = parts[n].p;
		hp[n].n = parts[n].n;
	}
	hmac256(k, hp, n, mac);
	return 0;
}

void
sign_hex(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/*
 * base64url without padding.  \return the length written (NUL added), or
 * KG_ERR_TOOBIG.
 */
static int
b64url_encode(const uint8_t *src, size_t n, char *out, size_t outsz)
{
	size_t olen, i;

	if (mbedtls_base64_encode((unsigned char *)out, outsz, &olen, src,
	    n) != 0)
		return KG_ERR_TOOBIG;
	while (olen > 0 && out[olen - 1] == '=')
		olen--;
	out[olen] = '\0';
	for (i = 0; i < olen; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
	return (int)olen;
}

/*
 * Decodes unpadded base64url (at most a cookie's worth) into out.
 * \return the decoded length, or -1 for anything else.
 */
static int
b64url_decode(const char *src, size_t n, uint8_t *out, size_t outsz)
{
	char std[SIGN_COOKIE_MAX + 4];
	size_t i, olen;

	if (n == 0 || n % 4 == 1 || n + 3 > sizeof(std) - 1)
		return -1;
	for (i = 0; i < n; i++) {
		char c = src[i];
		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9')))
			return -1;
		std[i] = c;
	}
	while (i % 4 != 0)
		std[i++] = '=';
	if (mbedtls_base64_decode(out, outsz, &olen, (const unsigned char *)std,
	    i) != 0)
		return -1;
	return (int)olen;
}

/* CR or LF: either would split a signed field or a header line. */
static int
has_newline(const char *s, size_t n)
{
	return memchr(s, '\n', n) != NULL || memchr(s, '\r', n) != NULL;
}

/* A field of the signed string: non-empty and on one line. */
static int
field_ok(const char *s)
{
	return s != NULL && s[0] != '\0' && !has_newline(s, strlen(s));
}

int
sign_identity(const uint8_t *secret, size_t secret_len, const char *user,
    uint64_t timestamp, const char *request_id, const char *scheme,
    const char *host, const char *method, size_t method_len,
    const char *target, size_t target_len, char out[SIGN_HEX_LEN + 1])
{
	char ts[U64_DIGITS + 1];
	uint8_t mac[MAC_LEN];
	int tslen, rc;

	if (out != NULL)
		out[0] = '\0';
	if (secret == NULL || secret_len < SECRET_MIN || request_id == NULL ||
	    out == NULL || (method == NULL && method_len > 0) ||
	    (target == NULL && target_len > 0))
		return KG_ERR_INVAL;
	/* A '\n' inside a field would let one string sign as another. */
	if (!field_ok(user) || !field_ok(scheme) || !field_ok(host) ||
	    has_newline(request_id, strlen(request_id)) ||
	    (method_len > 0 && has_newline(method, method_len)) ||
	    (target_len > 0 && has_newline(target, target_len)))
		return KG_ERR_INVAL;
	tslen = snprintf(ts, sizeof(ts), "%llu", (unsigned long long)timestamp);
	{
		const struct part parts[] = {
			{ SIGN_PREFIX "\n", sizeof(SIGN_PREFIX "\n") - 1 },
			{ user, strlen(user) }, { "\n", 1 },
			{ ts, (size_t)tslen }, { "\n", 1 },
			{ request_id, strlen(request_id) }, { "\n", 1 },
			{ scheme, strlen(scheme) }, { "\n", 1 },
			{ host, strlen(host) }, { "\n", 1 },
			{ method_len ? method : "", method_len }, { "\n", 1 },
			{ target_len ? target : "", target_len },
			{ NULL, 0 },
		};
		rc = hmac_parts(secret, secret_len, parts, mac);
	}
	if (rc == 0)
		sign_hex(mac, sizeof(mac), out);
	kg_zero(mac, sizeof(mac));
	return rc;
}

int
sign_identity_verify(const uint8_t *secret, size_t secret_len,
    const char *user, uint64_t timestamp, const char *request_id,
    const char *scheme, const char *host, const char *method,
    size_t method_len, const char *target, size_t target_len,
    const char *hex)
{
	char want[SIGN_HEX_LEN + 1];
	int ok;

	if (hex == NULL || strnlen(hex, SIGN_HEX_LEN + 1) != SIGN_HEX_LEN)
		return 0;
	if (sign_identity(secret, secret_len, user, timestamp, request_id,
	    scheme, host, method, method_len, target, target_len, want) != 0)
		return 0;
	ok = mbedtls_ct_memcmp(want, hex, SIGN_HEX_LEN) == 0;
	kg_zero(want, sizeof(want));
	return ok;
}

int
sign_grant_key(const uint8_t *secret, size_t secret_len, const char *user,
    const char *vhost, const char *id_hex, uint64_t expiry,
    uint8_t key[SIGN_GRANT_KEY_LEN])
{
	char exp[U64_DIGITS + 1];
	int n;

	if (secret == NULL || secret_len < SECRET_MIN || key == NULL ||
	    !field_ok(user) || !field_ok(vhost) || !field_ok(id_hex))
		return KG_ERR_INVAL;
	n = snprintf(exp, sizeof(exp), "%llu", (unsigned long long)expiry);
	{
		const struct part parts[] = {
			{ GRANT_PREFIX, sizeof(GRANT_PREFIX) - 1 },
			{ user, strlen(user) }, { "\n", 1 },
			{ vhost, strlen(vhost) }, { "\n", 1 },
			{ id_hex, strlen(id_hex) }, { "\n", 1 },
			{ exp, (size_t)n },
			{ NULL, 0 },
		};
		return hmac_parts(secret, secret_len, parts, key);
	}
}

static int
cookie_mac(const uint8_t key[32], const char *payload, size_t n,
    char out[MAC_B64_LEN + 1])
{
	uint8_t mac[MAC_LEN];
	const struct part parts[] = {
		{ COOKIE_PREFIX, sizeof(COOKIE_PREFIX) - 1 },
		{ payload, n },
		{ NULL, 0 },
	};
	int rc;

	rc = hmac_parts(key, 32, parts, mac);
	if (rc == 0 && b64url_encode(mac, sizeof(mac), out,
	    MAC_B64_LEN + 2) != MAC_B64_LEN)
		rc = KG_ERR_INVAL;
	kg_zero(mac, sizeof(mac));
	return rc;
}

int
sign_cookie_issue(const uint8_t key[32], const char *principal,
    const char *vhost, uint64_t expiry, char *out, size_t outsz)
{
	uint8_t payload[PAYLOAD_MAX + 1];
	char value[SIGN_COOKIE_MAX + 4];
	char mac[MAC_B64_LEN + 2];
	int plen, elen;

	if (out != NULL && outsz > 0)
		out[0] = '\0';
	if (key == NULL || principal == NULL || vhost == NULL || out == NULL ||
	    principal[0] == '\0' || vhost[0] == '\0' ||
	    strchr(principal, '\n') != NULL || strchr(vhost, '\n') != NULL)
		return KG_ERR_INVAL;
	plen = snprintf((char *)payload, sizeof(payload), "%s\n%s\n%llu",
	    principal, vhost, (unsigned long long)expiry);
	if (plen < 0 || (size_t)plen > PAYLOAD_MAX)
		return KG_ERR_TOOBIG;
	/* Leave room for '.', the MAC and the NUL. */
	elen = b64url_encode(payload, (size_t)plen, value,
	    sizeof(value) - MAC_B64_LEN - 1);
	if (elen < 0 || (size_t)elen + 1 + MAC_B64_LEN > SIGN_COOKIE_MAX)
		return KG_ERR_TOOBIG;
	if (cookie_mac(key, value, (size_t)elen, mac) != 0)
		return KG_ERR_INVAL;
	value[elen] = '.';
	memcpy(value + elen + 1, mac, MAC_B64_LEN + 1);
	if ((size_t)elen + 1 + MAC_B64_LEN + 1 > outsz)
		return KG_ERR_TOOBIG;
	memcpy(out, value, (size_t)elen + 1 + MAC_B64_LEN + 1);
	return 0;
}

/* Strict decimal: digits only, no sign, no leading zero, no overflow. */
static int
parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > U64_DIGITS || (n > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		unsigned d = (unsigned)(unsigned char)s[i] - '0';
		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* Splits a verified payload; \return 0 when it has the issued shape. */
static int
cookie_fields(const char *p, size_t n, const char *vhost, uint64_t *expiry,
    size_t *principal_len)
{
	const char *nl1, *nl2, *v;
	size_t vlen;

	if ((nl1 = memchr(p, '\n', n)) == NULL || nl1 == p)
		return -1;
	v = nl1 + 1;
	if ((nl2 = memchr(v, '\n', (size_t)(p + n - v))) == NULL)
		return -1;
	vlen = (size_t)(nl2 - v);
	if (vlen == 0 || vlen != strlen(vhost) ||
	    strncasecmp(v, vhost, vlen) != 0 || memchr(p, '\0', n) != NULL)
		return -1;
	if (parse_u64(nl2 + 1, (size_t)(p + n - nl2 - 1), expiry) < 0)
		return -1;
	*principal_len = (size_t)(nl1 - p);
	return 0;
}

int
sign_cookie_check(const uint8_t key[32], const char *value, size_t len,
    const char *vhost, uint64_t now, char *principal, size_t principal_sz,
    uint64_t *expiry)
{
	char mac[MAC_B64_LEN + 2];
	uint8_t payload[PAYLOAD_MAX + 1];
	const char *dot;
	size_t plen_b64, plen;
	uint64_t exp;
	int n, ok = 0;

	if (principal != NULL && principal_sz > 0)
		principal[0] = '\0';
	if (key == NULL || value == NULL || vhost == NULL ||
	    principal == NULL || principal_sz == 0 ||
	    len > SIGN_COOKIE_MAX || len < 1 + 1 + MAC_B64_LEN)
		return 0;
	plen_b64 = len - 1 - MAC_B64_LEN;
	dot = value + plen_b64;
	if (*dot != '.' || memchr(value, '.', plen_b64) != NULL)
		return 0;
	if (cookie_mac(key, value, plen_b64, mac) != 0)
		return 0;
	if (mbedtls_ct_memcmp(mac, dot + 1, MAC_B64_LEN) != 0)
		return 0;
	if ((n = b64url_decode(value, plen_b64, payload, sizeof(payload))) < 0)
		return 0;
	if (cookie_fields((const char *)payload, (size_t)n, vhost, &exp,
	    &plen) == 0 && now < exp && plen < principal_sz) {
		memcpy(principal, payload, plen);
		principal[plen] = '\0';
		if (expiry != NULL)
			*expiry = exp;
		ok = 1;
	}
	kg_zero(payload, sizeof(payload));
	return ok;
}

static int
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

int
sign_cookie_find(const char *header, size_t len, const char *name,
    const char **val, size_t *vlen)
{
	const char *p, *end, *pair_end, *eq, *ns, *ne, *vs, *ve;
	size_t namelen;

	if (header == NULL || name == NULL || val == NULL || vlen == NULL)
		return 0;
	namelen = strlen(name);
	if (namelen == 0)
		return 0;
	end = header + len;
	for (p = header; p < end; p = pair_end + 1) {
		if ((pair_end = memchr(p, ';', (size_t)(end - p))) == NULL)
			pair_end = end;
		ns = p;
		while (ns < pair_end && is_ows(*ns))
			ns++;
		if ((eq = memchr(ns, '=', (size_t)(pair_end - ns))) == NULL)
			continue;
		ne = eq;
		while (ne > ns && is_ows(ne[-1]))
			ne--;
		if ((size_t)(ne - ns) != namelen ||
		    memcmp(ns, name, namelen) != 0)
			continue;
		vs = eq + 1;
		ve = pair_end;
		while (vs < ve && is_ows(*vs))
			vs++;
		while (ve > vs && is_ows(ve[-1]))
			ve--;
		if (ve - vs >= 2 && vs[0] == '"' && ve[-1] == '"') {
			vs++;
			ve--;
		}
		*val = vs;
		*vlen = (size_t)(ve - vs);
		return 1;
	}
	return 0;
}
