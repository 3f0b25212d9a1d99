/*
 * A client's key share is the first thing of a TLS handshake that reaches
 * elliptic-curve code: arbitrary bytes into PSA's ECDH, which our OpenSSL
 * driver (toolchain/mbedtls/driver/) computes for X25519 and P-256.  The
 * first input byte picks the curve, the rest is the peer's public key.
 *
 * Oracle: mbedTLS's own ECDH (the legacy ECP module, which the driver
 * replaces in PSA) must accept the same keys and compute the same secret.
 * For X25519 mbedTLS refuses the low-order points before multiplying;
 * libcrypto refuses the all-zero secret they give: the same keys.  For
 * P-256 PSA takes only the uncompressed form (TLS sends nothing else);
 * mbedTLS's point reader also reads compressed points, so the oracle
 * refuses those first.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/entropy.h>
#include <psa/crypto.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RFC 7748 section 6.1's Alice, and NIST CAVS P-256 COUNT 0's dIUT. */
static const uint8_t x25519_priv[32] = {
	0x77, 0x07, 0x6d, 0x0a, 0x73, 0x18, 0xa5, 0x7d, 0x3c, 0x16, 0xc1, 0x72,
	0x51, 0xb2, 0x66, 0x45, 0xdf, 0x4c, 0x2f, 0x87, 0xeb, 0xc0, 0x99, 0x2a,
	0xb1, 0x77, 0xfb, 0xa5, 0x1d, 0xb9, 0x2c, 0x2a,
};
static const uint8_t p256_priv[32] = {
	0x7d, 0x7d, 0xc5, 0xf7, 0x1e, 0xb2, 0x9d, 0xda, 0xf8, 0x0d, 0x62, 0x14,
	0x63, 0x2e, 0xea, 0xe0, 0x3d, 0x90, 0x58, 0xaf, 0x1f, 0xb6, 0xd2, 0x2e,
	0xd8, 0x0b, 0xad, 0xb6, 0x2b, 0xc1, 0xa5, 0x34,
};

static psa_key_id_t x25519_key, p256_key;
static mbedtls_ctr_drbg_context drbg;

static psa_key_id_t
import(psa_ecc_family_t family, size_t bits, const uint8_t *priv)
{
	psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
	psa_key_id_t id;

	psa_set_key_type(&a, PSA_KEY_TYPE_ECC_KEY_PAIR(family));
	psa_set_key_bits(&a, bits);
	psa_set_key_usage_flags(&a, PSA_KEY_USAGE_DERIVE);
	psa_set_key_algorithm(&a, PSA_ALG_ECDH);
	if (psa_import_key(&a, priv, 32, &id) != PSA_SUCCESS)
		abort();
	return id;
}

static void
setup(void)
{
	static mbedtls_entropy_context entropy;

	if (x25519_key != 0)
		return;
	if (psa_crypto_init() != PSA_SUCCESS)
		abort();
	x25519_key = import(PSA_ECC_FAMILY_MONTGOMERY, 255, x25519_priv);
	p256_key = import(PSA_ECC_FAMILY_SECP_R1, 256, p256_priv);
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0) != 0)
		abort();
}

/* mbedTLS's legacy ECDH of priv and the peer's key; 0 and the secret, or -1. */
static int
reference(mbedtls_ecp_group_id gid, const uint8_t *priv, const uint8_t *peer,
    size_t peer_len, uint8_t out[32])
{
	mbedtls_ecp_group grp;
	mbedtls_ecp_point q;
	mbedtls_mpi d, z;
	int ret = -1;

	mbedtls_ecp_group_init(&grp);
	mbedtls_ecp_point_init(&q);
	mbedtls_mpi_init(&d);
	mbedtls_mpi_init(&z);
	if (mbedtls_ecp_group_load(&grp, gid) != 0)
		abort();
	if ((gid == MBEDTLS_ECP_DP_SECP256R1 ?
	    mbedtls_mpi_read_binary(&d, priv, 32) :
	    mbedtls_mpi_read_binary_le(&d, priv, 32)) != 0)
		abort();
	if (gid == MBEDTLS_ECP_DP_CURVE25519) {
		/* RFC 7748's clamping, as mbedtls_ecp_read_key() applies it. */
		mbedtls_mpi_set_bit(&d, 0, 0);
		mbedtls_mpi_set_bit(&d, 1, 0);
		mbedtls_mpi_set_bit(&d, 2, 0);
		mbedtls_mpi_set_bit(&d, 254, 1);
		mbedtls_mpi_set_bit(&d, 255, 0);
	}
	if ((gid == MBEDTLS_ECP_DP_SECP256R1 && (peer_len != 65 || peer[0] != 0x04)) ||
	    mbedtls_ecp_point_read_binary(&grp, &q, peer, peer_len) != 0 ||
	    mbedtls_ecp_check_pubkey(&grp, &q) != 0 ||
	    mbedtls_ecdh_compute_shared(&grp, &z, &q, &d, mbedtls_ctr_drbg_random,
	    &drbg) != 0 || mbedtls_mpi_cmp_int(&z, 0) == 0)
		goto done;
	if ((gid == MBEDTLS_ECP_DP_SECP256R1 ? mbedtls_mpi_write_binary(&z, out, 32) :
	    mbedtls_mpi_write_binary_le(&z, out, 32)) != 0)
		abort();
	ret = 0;
done:
	mbedtls_mpi_free(&z);
	mbedtls_mpi_free(&d);
	mbedtls_ecp_point_free(&q);
	mbedtls_ecp_group_free(&grp);
	return ret;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t got[66], want[32];
	size_t len = 0;
	psa_status_t st;
	int p256, ref;

	setup();
	if (size < 1)
		return 0;
	p256 = data[0] & 1;
	st = psa_raw_key_agreement(PSA_ALG_ECDH, p256 ? p256_key : x25519_key,
	    data + 1, size - 1, got, sizeof(got), &len);
	ref = reference(p256 ? MBEDTLS_ECP_DP_SECP256R1 : MBEDTLS_ECP_DP_CURVE25519,
	    p256 ? p256_priv : x25519_priv, data + 1, size - 1, want);
	/* PSA takes X25519 keys of exactly 32 bytes; mbedTLS's reader too. */
	if ((st == PSA_SUCCESS) != (ref == 0))
		abort();
	if (st == PSA_SUCCESS && (len != 32 || memcmp(got, want, 32) != 0))
		abort();
	return 0;
}
