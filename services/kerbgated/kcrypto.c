/*
 * kcrypto.c: RFC 3962 AES-CTS-HMAC-SHA1-96 with mbedTLS.  See kcrypto.h.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include <mbedtls/constant_time.h>

#include "kcrypto.h"
#include "util.h"

int
kc_enctype_supported(int32_t enctype)
{
	return enctype == KC_ETYPE_AES128 || enctype == KC_ETYPE_AES256;
}

static size_t
gcd(size_t a, size_t b)
{
	while (b != 0) {
		size_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* Byte k of s (len bytes) rotated right by rot bits (rot < 8 * len). */
static uint8_t
rotated_byte(const uint8_t *s, size_t len, size_t rot, size_t k)
{
	size_t nbits = 8 * len, start = (8 * k + nbits - rot) % nbits;
	size_t b = start / 8, shift = start % 8;

	if (shift == 0)
		return s[b];
	return (uint8_t)((s[b] << shift) | (s[(b + 1) % len] >> (8 - shift)));
}

/*
 * RFC 3961 §5.1: replicate the input to lcm(inlen, outlen) bytes, each copy
 * rotated right by 13 bits more than the one before, and add the outlen-byte
 * chunks with end-around carry.
 */
int
kc_nfold(const uint8_t *in, size_t inlen, uint8_t *out, size_t outlen)
{
	uint8_t rep[64 * 64];
	size_t lcm, i, k;

	if (inlen == 0 || outlen == 0 || inlen > 64 || outlen > 64)
		return KC_ERR_LENGTH;
	lcm = inlen / gcd(inlen, outlen) * outlen;
	for (i = 0; i < lcm / inlen; i++) {
		size_t rot = (13 * i) % (8 * inlen);

		for (k = 0; k < inlen; k++)
			rep[i * inlen + k] = rotated_byte(in, inlen, rot, k);
	}
	memset(out, 0, outlen);
	for (i = 0; i < lcm; i += outlen) {
		unsigned carry = 0;
		size_t j;

		for (j = outlen; j-- > 0;) {
			carry += (unsigned)out[j] + rep[i + j];
			out[j] = (uint8_t)carry;
			carry >>= 8;
		}
		/* End-around carry: one's-complement addition. */
		for (j = outlen; carry != 0 && j-- > 0;) {
			carry += out[j];
			out[j] = (uint8_t)carry;
			carry >>= 8;
		}
	}
	return KC_OK;
}

/*
 * n-fold(usage | kind) to one block.  The few usages in use repeat for every
 * key, so the last ones are kept (per thread: nothing shared).
 */
static void
constant_block(uint32_t usage, uint8_t kind, uint8_t block[KC_BLOCK])
{
	static __thread struct {
		uint32_t usage;
		uint8_t kind;		/* 0: empty slot */
		uint8_t block[KC_BLOCK];
	} seen[16];
	static __thread unsigned next;
	uint8_t constant[5];
	size_t i;

	for (i = 0; i < 16; i++)
		if (seen[i].kind == kind && seen[i].usage == usage) {
			memcpy(block, seen[i].block, KC_BLOCK);
			return;
		}
	constant[0] = (uint8_t)(usage >> 24);
	constant[1] = (uint8_t)(usage >> 16);
	constant[2] = (uint8_t)(usage >> 8);
	constant[3] = (uint8_t)usage;
	constant[4] = kind;
	kc_nfold(constant, sizeof(constant), block, KC_BLOCK);
	i = next++ % 16;
	seen[i].usage = usage;
	seen[i].kind = kind;
	memcpy(seen[i].block, block, KC_BLOCK);
}

/* DK(base, constant) = E(base, n-fold(constant)), chained to the key length;
 * base is the base key's encryption schedule. */
static int
derive_key(mbedtls_aes_context *base, size_t keylen, uint32_t usage, uint8_t kind,
    uint8_t *dk)
{
	uint8_t block[KC_BLOCK];
	size_t off;
	int rc = KC_OK;

	constant_block(usage, kind, block);
	for (off = 0; rc == KC_OK && off < keylen; off += KC_BLOCK) {
		if (mbedtls_aes_crypt_ecb(base, MBEDTLS_AES_ENCRYPT, block, block) != 0)
			rc = KC_ERR_CRYPTO;
		memcpy(dk + off, block, KC_BLOCK);
	}
	kg_zero(block, sizeof(block));
	return rc;
}

static int
hmac_setup(mbedtls_md_context_t *md, const uint8_t *key, size_t keylen)
{
	if (mbedtls_md_setup(md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA1), 1) != 0 ||
	    mbedtls_md_hmac_starts(md, key, keylen) != 0)
		return KC_ERR_CRYPTO;
	return KC_OK;
}

int
kc_derive(int32_t enctype, const uint8_t *key, size_t keylen, uint32_t usage,
    unsigned want, struct kc_usage *out)
{
	mbedtls_aes_context base;
	uint8_t dk[KC_MAX_KEY];
	int rc = KC_OK;

	memset(out, 0, sizeof(*out));
	mbedtls_aes_init(&out->ke_enc);
	mbedtls_aes_init(&out->ke_dec);
	mbedtls_md_init(&out->ki);
	mbedtls_md_init(&out->kc);
	if (!kc_enctype_supported(enctype))
		return KC_ERR_ENCTYPE;
	if (key == NULL || keylen != (enctype == KC_ETYPE_AES128 ? 16u : 32u))
		return KC_ERR_KEY;
	out->want = want;

	/* One schedule of the base key serves every derivation. */
	mbedtls_aes_init(&base);
	if (mbedtls_aes_setkey_enc(&base, key, (unsigned)keylen * 8) != 0)
		rc = KC_ERR_CRYPTO;
	if (rc == KC_OK && (want & (KC_WANT_ENCRYPT | KC_WANT_DECRYPT))) {
		rc = derive_key(&base, keylen, usage, 0xAA, dk);
		if (rc == KC_OK && (want & KC_WANT_ENCRYPT) &&
		    mbedtls_aes_setkey_enc(&out->ke_enc, dk, (unsigned)keylen * 8) != 0)
			rc = KC_ERR_CRYPTO;
		if (rc == KC_OK && (want & KC_WANT_DECRYPT) &&
		    mbedtls_aes_setkey_dec(&out->ke_dec, dk, (unsigned)keylen * 8) != 0)
			rc = KC_ERR_CRYPTO;
		if (rc == KC_OK)
			rc = derive_key(&base, keylen, usage, 0x55, dk);
		if (rc == KC_OK)
			rc = hmac_setup(&out->ki, dk, keylen);
	}
	if (rc == KC_OK && (want & KC_WANT_CHECKSUM)) {
		rc = derive_key(&base, keylen, usage, 0x99, dk);
		if (rc == KC_OK)
			rc = hmac_setup(&out->kc, dk, keylen);
	}
	mbedtls_aes_free(&base);	/* zeroizes */
	kg_zero(dk, sizeof(dk));
	return rc;
}

void
kc_usage_free(struct kc_usage *u)
{
	if (u == NULL)
		return;
	/* All four zeroize what they held. */
	mbedtls_aes_free(&u->ke_enc);
	mbedtls_aes_free(&u->ke_dec);
	mbedtls_md_free(&u->ki);
	mbedtls_md_free(&u->kc);
	u->want = 0;
}

static int
hmac96(mbedtls_md_context_t *md, const uint8_t *data, size_t len,
    uint8_t out[KC_MAC_LEN])
{
	uint8_t full[20];

	if (mbedtls_md_hmac_reset(md) != 0 ||
	    mbedtls_md_hmac_update(md, data, len) != 0 ||
	    mbedtls_md_hmac_finish(md, full) != 0)
		return KC_ERR_CRYPTO;
	memcpy(out, full, KC_MAC_LEN);
	kg_zero(full, sizeof(full));
	return KC_OK;
}

static void
xor_block(uint8_t *dst, const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = a[i] ^ b[i];
}

/*
 * CBC with ciphertext stealing as RFC 3962 §5 has it: CBC over the input
 * padded with zeros, then the last two ciphertext blocks swapped and the
 * result cut to the input's length.  len >= one block; in may be out (the
 * last partial block is read before anything is written over it).
 */
static int
cts_encrypt(mbedtls_aes_context *aes, const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t iv[KC_BLOCK] = { 0 }, last[KC_BLOCK], prev[KC_BLOCK];
	size_t m = (len + KC_BLOCK - 1) / KC_BLOCK, r = len - (m - 1) * KC_BLOCK;

	if (m == 1)
		return mbedtls_aes_crypt_cbc(aes, MBEDTLS_AES_ENCRYPT, KC_BLOCK, iv, in,
		    out) == 0 ? KC_OK : KC_ERR_CRYPTO;
	/* C1 .. C(m-1); iv ends as C(m-1). */
	if (mbedtls_aes_crypt_cbc(aes, MBEDTLS_AES_ENCRYPT, (m - 1) * KC_BLOCK, iv, in,
	    out) != 0)
		return KC_ERR_CRYPTO;
	memcpy(prev, iv, KC_BLOCK);
	memset(last, 0, sizeof(last));
	memcpy(last, in + (m - 1) * KC_BLOCK, r);
	xor_block(last, last, prev, KC_BLOCK);
	if (mbedtls_aes_crypt_ecb(aes, MBEDTLS_AES_ENCRYPT, last, last) != 0)
		return KC_ERR_CRYPTO;
	memcpy(out + (m - 2) * KC_BLOCK, last, KC_BLOCK);
	memcpy(out + (m - 1) * KC_BLOCK, prev, r);
	return KC_OK;
}

static int
cts_decrypt(mbedtls_aes_context *aes, const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t iv[KC_BLOCK] = { 0 }, dm[KC_BLOCK], cprev[KC_BLOCK], p[KC_BLOCK];
	size_t m = (len + KC_BLOCK - 1) / KC_BLOCK, r = len - (m - 1) * KC_BLOCK;
	int rc = KC_ERR_CRYPTO;

	if (m == 1)
		return mbedtls_aes_crypt_cbc(aes, MBEDTLS_AES_DECRYPT, KC_BLOCK, iv, in,
		    out) == 0 ? KC_OK : KC_ERR_CRYPTO;
	/* P1 .. P(m-2); iv ends as C(m-2) (zero when m == 2). */
	if (m > 2 && mbedtls_aes_crypt_cbc(aes, MBEDTLS_AES_DECRYPT, (m - 2) * KC_BLOCK,
	    iv, in, out) != 0)
		goto out;
	/* The full block sent second to last is Cm: D(Cm) = Pm|0 ^ C(m-1). */
	if (mbedtls_aes_crypt_ecb(aes, MBEDTLS_AES_DECRYPT, in + (m - 2) * KC_BLOCK, dm) != 0)
		goto out;
	/* C(m-1): the r bytes sent last, completed from D(Cm) (Pm's padding was 0). */
	memcpy(cprev, in + (m - 1) * KC_BLOCK, r);
	memcpy(cprev + r, dm + r, KC_BLOCK - r);
	xor_block(out + (m - 1) * KC_BLOCK, dm, cprev, r);
	if (mbedtls_aes_crypt_ecb(aes, MBEDTLS_AES_DECRYPT, cprev, p) != 0)
		goto out;
	xor_block(out + (m - 2) * KC_BLOCK, p, iv, KC_BLOCK);
	rc = KC_OK;
out:
	kg_zero(dm, sizeof(dm));
	kg_zero(p, sizeof(p));
	return rc;
}

int
kc_decrypt(struct kc_usage *u, const uint8_t *in, size_t len, uint8_t *out,
    size_t *outlen)
{
	uint8_t mac[KC_MAC_LEN];
	size_t clen;
	int rc;

	if (!(u->want & KC_WANT_DECRYPT))
		return KC_ERR_KEY;
	if (len < KC_OVERHEAD)
		return KC_ERR_LENGTH;
	/* Confounder and plaintext land in out; the confounder goes after
	 * the check. */
	clen = len - KC_MAC_LEN;
	rc = cts_decrypt(&u->ke_dec, in, clen, out);
	if (rc == KC_OK)
		rc = hmac96(&u->ki, out, clen, mac);
	if (rc == KC_OK && mbedtls_ct_memcmp(mac, in + clen, KC_MAC_LEN) != 0)
		rc = KC_ERR_INTEGRITY;
	if (rc != KC_OK) {
		kg_zero(out, clen);
		return rc;
	}
	memmove(out, out + KC_CONF_LEN, clen - KC_CONF_LEN);
	kg_zero(out + clen - KC_CONF_LEN, KC_CONF_LEN);
	*outlen = clen - KC_CONF_LEN;
	return KC_OK;
}

int
kc_encrypt_conf(struct kc_usage *u, const uint8_t conf[KC_CONF_LEN],
    const uint8_t *in, size_t len, uint8_t *out)
{
	size_t plen = KC_CONF_LEN + len;
	int rc;

	if (!(u->want & KC_WANT_ENCRYPT))
		return KC_ERR_KEY;
	if (len > SIZE_MAX - KC_OVERHEAD)
		return KC_ERR_LENGTH;
	/* The MAC over confounder | plaintext, then CTS in place. */
	memcpy(out, conf, KC_CONF_LEN);
	if (len > 0)
		memcpy(out + KC_CONF_LEN, in, len);
	rc = hmac96(&u->ki, out, plen, out + plen);
	if (rc == KC_OK)
		rc = cts_encrypt(&u->ke_enc, out, plen, out);
	if (rc != KC_OK)
		kg_zero(out, plen + KC_MAC_LEN);
	return rc;
}

int
kc_encrypt(struct kc_usage *u, const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t conf[KC_CONF_LEN];
	int rc;

	if ((rc = kc_random(conf, sizeof(conf))) != KC_OK)
		return rc;
	rc = kc_encrypt_conf(u, conf, in, len, out);
	kg_zero(conf, sizeof(conf));
	return rc;
}

int
kc_checksum(struct kc_usage *u, const uint8_t *data, size_t len, uint8_t out[KC_MAC_LEN])
{
	if (!(u->want & KC_WANT_CHECKSUM))
		return KC_ERR_KEY;
	return hmac96(&u->kc, data, len, out);
}

int
kc_random(uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = getrandom(buf + off, len - off, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return KC_ERR_CRYPTO;
		off += (size_t)n;
	}
	return KC_OK;
}
