/*
 * kg_psa_ossl.c: X25519 and P-256 ECDH for mbedTLS's PSA Crypto on OpenSSL's
 * libcrypto (a transparent driver; see kg_psa_ossl.h and README.md).
 *
 * Why: a TLS handshake at the VIP makes a key share and a shared secret;
 * mbedTLS's portable arithmetic spends hundreds of microseconds on each,
 * OpenSSL's assembly tens (docs/performance.md).  mbedTLS stays the TLS
 * library; only these two point multiplications move.
 *
 * X25519 goes through EVP (raw keys).  P-256 uses the EC_POINT calls that
 * EVP's own ECDH makes (EC_POINT_mul with the private scalar, constant time
 * in OpenSSL's P-256 code) on one EC_GROUP made at init: building the key
 * through EVP_PKEY_fromdata would make the group again on every call.
 *
 * Every copy of private key material the driver makes (BIGNUMs, EVP keys,
 * stack buffers) is cleared before it is freed: BN_clear_free,
 * EVP_PKEY_free (which clears an X25519 key), OPENSSL_cleanse.  The key
 * buffers themselves belong to PSA's key store, which zeroizes them.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>

#include "kg_psa_ossl.h"

#define X25519_LEN	32
#define P256_LEN	32
#define P256_POINT_LEN	(1 + 2 * P256_LEN)	/* 0x04 || x || y */

enum kg_curve { CURVE_NONE, CURVE_X25519, CURVE_P256 };

static EC_GROUP *p256;			/* read-only once made */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static psa_status_t init_status = PSA_ERROR_BAD_STATE;

/* Which of our curves a key pair is on, from its attributes. */
static enum kg_curve
key_pair_curve(const psa_key_attributes_t *attributes)
{
	psa_key_type_t type = psa_get_key_type(attributes);
	size_t bits = psa_get_key_bits(attributes);

	if (type == PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_MONTGOMERY) &&
	    bits == 255)
		return CURVE_X25519;
	if (type == PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1) &&
	    bits == 256)
		return CURVE_P256;
	return CURVE_NONE;
}

/* A failed libcrypto call leaves errors in the thread's queue; drop them
 * so that a long-lived relay does not carry them into unrelated calls. */
static psa_status_t
ossl_failed(psa_status_t status)
{
	ERR_clear_error();
	return status;
}

/* ------------------------------------------------------------ X25519 */

static psa_status_t
x25519_public(const uint8_t *priv, size_t priv_len, uint8_t *out,
    size_t out_size, size_t *out_len)
{
	EVP_PKEY *k;
	size_t len = out_size;

	if (priv_len != X25519_LEN)
		return PSA_ERROR_INVALID_ARGUMENT;
	if (out_size < X25519_LEN)
		return PSA_ERROR_BUFFER_TOO_SMALL;
	k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, priv_len);
	if (k == NULL)
		return ossl_failed(PSA_ERROR_INSUFFICIENT_MEMORY);
	if (EVP_PKEY_get_raw_public_key(k, out, &len) != 1 || len != X25519_LEN) {
		EVP_PKEY_free(k);
		return ossl_failed(PSA_ERROR_CORRUPTION_DETECTED);
	}
	EVP_PKEY_free(k);
	*out_len = len;
	return PSA_SUCCESS;
}

static psa_status_t
x25519_agree(const uint8_t *priv, size_t priv_len, const uint8_t *peer,
    size_t peer_len, uint8_t *out, size_t out_size, size_t *out_len)
{
	EVP_PKEY *ours = NULL, *theirs = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	psa_status_t status = PSA_ERROR_INVALID_ARGUMENT;
	size_t len = X25519_LEN;

	if (priv_len != X25519_LEN || peer_len != X25519_LEN)
		return PSA_ERROR_INVALID_ARGUMENT;
	if (out_size < X25519_LEN)
		return PSA_ERROR_BUFFER_TOO_SMALL;
	ours = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, priv_len);
	theirs = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, peer_len);
	if (ours == NULL || theirs == NULL ||
	    (ctx = EVP_PKEY_CTX_new(ours, NULL)) == NULL) {
		status = PSA_ERROR_INSUFFICIENT_MEMORY;
		goto done;
	}
	/* libcrypto refuses an all-zero secret (a small-order peer key), as
	 * RFC 8446 section 7.4.2 asks of TLS 1.3: an invalid peer key. */
	if (EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer(ctx, theirs) != 1 ||
	    EVP_PKEY_derive(ctx, out, &len) != 1 || len != X25519_LEN)
		goto done;
	*out_len = len;
	status = PSA_SUCCESS;
done:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(theirs);
	EVP_PKEY_free(ours);
	if (status != PSA_SUCCESS) {
		OPENSSL_cleanse(out, out_size);
		return ossl_failed(status);
	}
	return status;
}

/* ------------------------------------------------------------- P-256 */

/* The private scalar as a BIGNUM that libcrypto handles in constant time. */
static BIGNUM *
p256_scalar(const uint8_t *priv, size_t priv_len)
{
	BIGNUM *d;

	if (priv_len != P256_LEN || (d = BN_secure_new()) == NULL)
		return NULL;
	BN_set_flags(d, BN_FLG_CONSTTIME);
	if (BN_bin2bn(priv, (int)priv_len, d) == NULL || BN_is_zero(d)) {
		BN_clear_free(d);
		return NULL;
	}
	return d;
}

static psa_status_t
p256_public(const uint8_t *priv, size_t priv_len, uint8_t *out,
    size_t out_size, size_t *out_len)
{
	BIGNUM *d;
	EC_POINT *q = NULL;
	psa_status_t status = PSA_ERROR_INSUFFICIENT_MEMORY;

	if (out_size < P256_POINT_LEN)
		return PSA_ERROR_BUFFER_TOO_SMALL;
	if ((d = p256_scalar(priv, priv_len)) == NULL)
		return ossl_failed(PSA_ERROR_INVALID_ARGUMENT);
	if ((q = EC_POINT_new(p256)) == NULL ||
	    EC_POINT_mul(p256, q, d, NULL, NULL, NULL) != 1)
		goto done;
	if (EC_POINT_point2oct(p256, q, POINT_CONVERSION_UNCOMPRESSED, out,
	    out_size, NULL) != P256_POINT_LEN) {
		status = PSA_ERROR_CORRUPTION_DETECTED;
		goto done;
	}
	*out_len = P256_POINT_LEN;
	status = PSA_SUCCESS;
done:
	EC_POINT_free(q);
	BN_clear_free(d);
	return status == PSA_SUCCESS ? status : ossl_failed(status);
}

static psa_status_t
p256_agree(const uint8_t *priv, size_t priv_len, const uint8_t *peer,
    size_t peer_len, uint8_t *out, size_t out_size, size_t *out_len)
{
	BIGNUM *d = NULL, *x = NULL;
	EC_POINT *theirs = NULL, *r = NULL;
	psa_status_t status = PSA_ERROR_INSUFFICIENT_MEMORY;

	/* PSA passes the peer's key as an uncompressed point. */
	if (peer_len != P256_POINT_LEN || peer[0] != 0x04)
		return PSA_ERROR_INVALID_ARGUMENT;
	if (out_size < P256_LEN)
		return PSA_ERROR_BUFFER_TOO_SMALL;
	if ((d = p256_scalar(priv, priv_len)) == NULL)
		return ossl_failed(PSA_ERROR_INVALID_ARGUMENT);
	if ((theirs = EC_POINT_new(p256)) == NULL || (r = EC_POINT_new(p256)) == NULL ||
	    (x = BN_secure_new()) == NULL)
		goto done;
	/* oct2point refuses a point that is not on the curve. */
	if (EC_POINT_oct2point(p256, theirs, peer, peer_len, NULL) != 1 ||
	    EC_POINT_is_on_curve(p256, theirs, NULL) != 1 ||
	    EC_POINT_is_at_infinity(p256, theirs)) {
		status = PSA_ERROR_INVALID_ARGUMENT;
		goto done;
	}
	if (EC_POINT_mul(p256, r, NULL, theirs, d, NULL) != 1)
		goto done;
	if (EC_POINT_is_at_infinity(p256, r) ||
	    EC_POINT_get_affine_coordinates(p256, r, x, NULL, NULL) != 1 ||
	    BN_bn2binpad(x, out, P256_LEN) != P256_LEN) {
		status = PSA_ERROR_INVALID_ARGUMENT;
		goto done;
	}
	*out_len = P256_LEN;
	status = PSA_SUCCESS;
done:
	BN_clear_free(x);
	EC_POINT_clear_free(r);
	EC_POINT_free(theirs);
	BN_clear_free(d);
	if (status != PSA_SUCCESS) {
		OPENSSL_cleanse(out, out_size);
		return ossl_failed(status);
	}
	return status;
}

/* --------------------------------------------------------- entry points */

/* One of each operation with a throw-away key, so that libcrypto fetches
 * its implementations and seeds its generator now, before the process
 * enters its sandbox (chroot, seccomp). */
static int
warm_up(void)
{
	uint8_t priv[P256_LEN], pub[P256_POINT_LEN], secret[P256_LEN];
	size_t len;
	int ok;

	if (RAND_priv_bytes(priv, sizeof(priv)) != 1)
		return 0;
	priv[0] &= 0x7f;	/* below P-256's order, and not zero: */
	priv[31] |= 1;		/* a valid scalar for both curves */
	ok = x25519_public(priv, X25519_LEN, pub, sizeof(pub), &len) == PSA_SUCCESS &&
	    x25519_agree(priv, X25519_LEN, pub, len, secret, sizeof(secret), &len) ==
	    PSA_SUCCESS &&
	    p256_public(priv, P256_LEN, pub, sizeof(pub), &len) == PSA_SUCCESS &&
	    p256_agree(priv, P256_LEN, pub, len, secret, sizeof(secret), &len) ==
	    PSA_SUCCESS;
	OPENSSL_cleanse(priv, sizeof(priv));
	OPENSSL_cleanse(secret, sizeof(secret));
	return ok;
}

static void
init_once_fn(void)
{
	p256 = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	if (p256 == NULL || !warm_up()) {
		ERR_clear_error();
		return;
	}
	init_status = PSA_SUCCESS;
}

psa_status_t
kg_ossl_init(void)
{
	if (pthread_once(&init_once, init_once_fn) != 0)
		return PSA_ERROR_BAD_STATE;
	return init_status == PSA_SUCCESS ? PSA_SUCCESS :
	    PSA_ERROR_INSUFFICIENT_MEMORY;
}

psa_status_t
kg_ossl_transparent_export_public_key(const psa_key_attributes_t *attributes,
    const uint8_t *key_buffer, size_t key_buffer_size, uint8_t *data,
    size_t data_size, size_t *data_length)
{
	if (init_status != PSA_SUCCESS)
		return PSA_ERROR_NOT_SUPPORTED;
	switch (key_pair_curve(attributes)) {
	case CURVE_X25519:
		return x25519_public(key_buffer, key_buffer_size, data, data_size,
		    data_length);
	case CURVE_P256:
		return p256_public(key_buffer, key_buffer_size, data, data_size,
		    data_length);
	default:
		return PSA_ERROR_NOT_SUPPORTED;
	}
}

psa_status_t
kg_ossl_transparent_key_agreement(const psa_key_attributes_t *attributes,
    const uint8_t *key_buffer, size_t key_buffer_size, psa_algorithm_t alg,
    const uint8_t *peer_key, size_t peer_key_length, uint8_t *shared_secret,
    size_t shared_secret_size, size_t *shared_secret_length)
{
	if (alg != PSA_ALG_ECDH || init_status != PSA_SUCCESS)
		return PSA_ERROR_NOT_SUPPORTED;
	switch (key_pair_curve(attributes)) {
	case CURVE_X25519:
		return x25519_agree(key_buffer, key_buffer_size, peer_key,
		    peer_key_length, shared_secret, shared_secret_size,
		    shared_secret_length);
	case CURVE_P256:
		return p256_agree(key_buffer, key_buffer_size, peer_key,
		    peer_key_length, shared_secret, shared_secret_size,
		    shared_secret_length);
	default:
		return PSA_ERROR_NOT_SUPPORTED;
	}
}
