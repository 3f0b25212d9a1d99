/*
 * hmac256.c: HMAC-SHA256 (RFC 2104, FIPS 180-4) with prepared keys.  See
 * hmac256.h.
 */
#include <string.h>

#include <mbedtls/sha256.h>

#include "hmac256.h"
#include "util.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t sha256_iv[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/* ------------------------------------------------------------ compression */

/* mbedTLS's C compression on our state. */
static void
compress_portable(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
	mbedtls_sha256_context c;

	/* mbedTLS 3 keeps the chaining state private; this is the one place
	 * we need it, for the pad blocks hashed once per key. */
	mbedtls_sha256_init(&c);
	memcpy(c.MBEDTLS_PRIVATE(state), h, sizeof(c.MBEDTLS_PRIVATE(state)));
	for (; nblocks > 0; nblocks--, p += 64)
		mbedtls_internal_sha256_process(&c, p);
	memcpy(h, c.MBEDTLS_PRIVATE(state), sizeof(c.MBEDTLS_PRIVATE(state)));
	mbedtls_sha256_free(&c);
}

#if defined(__x86_64__)
static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/*
 * The SHA extensions keep the state as two registers, (A,B,E,F) and
 * (C,D,G,H), highest lane first; SHA256RNDS2 does two rounds from the low
 * two lanes of message-plus-constant words, and SHA256MSG1/MSG2 extend the
 * message schedule four words at a time: for words t..t+3,
 * w[t] = s1(w[t-2]) + w[t-7] + s0(w[t-15]) + w[t-16].
 */
__attribute__((target("sha,sse4.1,ssse3")))
static void
compress_sha_ni(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
	const __m128i bswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7,
	    0, 1, 2, 3);
	__m128i abcd = _mm_loadu_si128((const __m128i *)&h[0]);
	__m128i efgh = _mm_loadu_si128((const __m128i *)&h[4]);
	__m128i badc = _mm_shuffle_epi32(abcd, 0xB1);	/* lanes b,a,d,c */
	__m128i hgfe = _mm_shuffle_epi32(efgh, 0x1B);	/* lanes h,g,f,e */
	__m128i abef = _mm_alignr_epi8(badc, hgfe, 8);
	__m128i cdgh = _mm_blend_epi16(hgfe, badc, 0xF0);

	for (; nblocks > 0; nblocks--, p += 64) {
		__m128i w[4], save_abef = abef, save_cdgh = cdgh, wk;
		int g;

		for (g = 0; g < 16; g++) {
			if (g < 4)
				w[g] = _mm_shuffle_epi8(_mm_loadu_si128(
				    (const __m128i *)(p + 16 * g)), bswap);
			else
				w[g % 4] = _mm_sha256msg2_epu32(_mm_add_epi32(
				    _mm_sha256msg1_epu32(w[g % 4], w[(g + 1) % 4]),
				    _mm_alignr_epi8(w[(g + 3) % 4], w[(g + 2) % 4], 4)),
				    w[(g + 3) % 4]);
			wk = _mm_add_epi32(w[g % 4],
			    _mm_loadu_si128((const __m128i *)&sha256_k[4 * g]));
			cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
			/* cdgh now holds the new (A,B,E,F); the old one is
			 * the new (C,D,G,H). */
			abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
			/* Two more rounds: back in their places. */
		}
		abef = _mm_add_epi32(abef, save_abef);
		cdgh = _mm_add_epi32(cdgh, save_cdgh);
	}
	{
		__m128i abef_lo = _mm_shuffle_epi32(abef, 0x1B);	/* lanes a,b,e,f */
		__m128i ghcd = _mm_shuffle_epi32(cdgh, 0xB1);		/* lanes g,h,c,d */

		_mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(abef_lo, ghcd, 0xF0));
		_mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(ghcd, abef_lo, 8));
	}
}

static bool
cpu_has_sha_ni(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) || !(c & bit_SSE4_1))
		return false;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return false;
	return (b & bit_SHA) != 0;
}
#endif

static int use_ni = -1;		/* -1: not yet asked */

bool
hmac256_use_sha_ni(bool allow)
{
#if defined(__x86_64__)
	use_ni = allow && cpu_has_sha_ni();
#else
	(void)allow;
	use_ni = 0;
#endif
	return use_ni == 1;
}

static void
compress(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
	if (use_ni < 0)
		hmac256_use_sha_ni(true);
#if defined(__x86_64__)
	if (use_ni == 1) {
		compress_sha_ni(h, p, nblocks);
		return;
	}
#endif
	compress_portable(h, p, nblocks);
}

/* ------------------------------------------------------------ hashing */

struct run {
	uint32_t h[8];
	uint8_t buf[64];
	size_t buflen;
	uint64_t total;
};

static void
run_start(struct run *r, const uint32_t h[8])
{
	memcpy(r->h, h, sizeof(r->h));
	r->buflen = 0;
	r->total = 64;		/* the pad block already in h */
}

static void
run_update(struct run *r, const uint8_t *p, size_t n)
{
	r->total += n;
	if (r->buflen > 0) {
		size_t take = 64 - r->buflen < n ? 64 - r->buflen : n;

		memcpy(r->buf + r->buflen, p, take);
		r->buflen += take;
		p += take;
		n -= take;
		if (r->buflen < 64)
			return;
		compress(r->h, r->buf, 1);
		r->buflen = 0;
	}
	if (n >= 64) {
		compress(r->h, p, n / 64);
		p += n / 64 * 64;
		n %= 64;
	}
	memcpy(r->buf, p, n);
	r->buflen = n;
}

static void
run_finish(struct run *r, uint8_t out[HMAC256_LEN])
{
	uint64_t bits = r->total * 8;
	int i;

	r->buf[r->buflen++] = 0x80;
	if (r->buflen > 56) {
		memset(r->buf + r->buflen, 0, 64 - r->buflen);
		compress(r->h, r->buf, 1);
		r->buflen = 0;
	}
	memset(r->buf + r->buflen, 0, 56 - r->buflen);
	for (i = 0; i < 8; i++)
		r->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	compress(r->h, r->buf, 1);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(r->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(r->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(r->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)r->h[i];
	}
}

/* ------------------------------------------------------------ HMAC */

int
hmac256_key_init(struct hmac256_key *k, const uint8_t *key, size_t keylen)
{
	uint8_t pad[64];
	size_t i;

	if (key == NULL || keylen == 0 || keylen > HMAC256_MAX_KEY)
		return -1;
	memcpy(k->inner, sha256_iv, sizeof(k->inner));
	memcpy(k->outer, sha256_iv, sizeof(k->outer));
	for (i = 0; i < 64; i++)
		pad[i] = (uint8_t)((i < keylen ? key[i] : 0) ^ 0x36);
	compress(k->inner, pad, 1);
	for (i = 0; i < 64; i++)
		pad[i] = (uint8_t)((i < keylen ? key[i] : 0) ^ 0x5c);
	compress(k->outer, pad, 1);
	kg_zero(pad, sizeof(pad));
	return 0;
}

void
hmac256_key_wipe(struct hmac256_key *k)
{
	kg_zero(k, sizeof(*k));
}

void
hmac256(const struct hmac256_key *k, const struct hmac256_part *parts, size_t n,
    uint8_t mac[HMAC256_LEN])
{
	struct run r;
	uint8_t ihash[HMAC256_LEN];
	size_t i;

	run_start(&r, k->inner);
	for (i = 0; i < n; i++)
		if (parts[i].n > 0)
			run_update(&r, parts[i].p, parts[i].n);
	run_finish(&r, ihash);
	run_start(&r, k->outer);
	run_update(&r, ihash, sizeof(ihash));
	run_finish(&r, mac);
	kg_zero(&r, sizeof(r));
	kg_zero(ihash, sizeof(ihash));
}
