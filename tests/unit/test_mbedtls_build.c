/*
 * test_mbedtls_build: the mbedTLS that toolchain/mbedtls builds is the one
 * its configuration and patches say: TLS 1.3 beside 1.2, no renegotiation,
 * and ECDH through PSA agreeing with RFC 7748's X25519 vectors and NIST's
 * P-256 ones, whichever code computes it: our OpenSSL driver
 * (toolchain/mbedtls/driver/, the default) or mbedTLS's own (Everest for
 * X25519 public keys, our 0001 patch).  The driver's refusals of bad peer
 * keys, and its handing back of what it does not do, are tested here too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <psa/crypto.h>

#include "generated/autoconf.h"
#include "testhex.h"
#if defined(KG_PSA_OSSL_DRIVER_ENABLED)
#include "../../toolchain/mbedtls/driver/kg_psa_ossl.h"
#endif

/* RFC 7748 §6.1. */
#define ALICE_PRIV "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
#define ALICE_PUB  "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
#define BOB_PRIV   "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
#define BOB_PUB    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
#define SHARED     "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"

/* RFC 7748 §5.2: X25519 of a scalar and an arbitrary u-coordinate. */
#define SCALAR1    "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"
#define U1         "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"
#define OUT1       "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"
#define SCALAR2    "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"
#define U2         "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"
#define OUT2       "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"

/* NIST CAVS ECC CDH primitive, P-256, COUNT = 0. */
#define P256_D     "7d7dc5f71eb29ddaf80d6214632eeae03d9058af1fb6d22ed80badb62bc1a534"
#define P256_Q     "04" \
                   "ead218590119e8876b29146ff89ca61770c4edbbf97d38ce385ed281d8a6b230" \
                   "28af61281fd35e2fa7002523acc85a429cb06ee6648325389f59edfce1405141"
#define P256_PEER  "04" \
                   "700c48f77f56584c5cc632ca65640db91b6bacce3a4df6b42ce7cc838833d287" \
                   "db71e509e3fd9b060ddb20ba5c51dcc5948d46fbf640dfe0441782cab85fa4ac"
#define P256_Z     "46fc62106420ff012e54a434fbdd2d25ccc5852060561e68040dd7778997bd7b"

static int
setup(void **state)
{
	return psa_crypto_init() == PSA_SUCCESS ? 0 : -1;
}

static psa_key_id_t
import_ecdh_key(psa_ecc_family_t family, size_t bits, const char *hex)
{
	psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
	uint8_t priv[48];
	size_t len = strlen(hex) / 2;
	psa_key_id_t id;

	assert_true(len <= sizeof(priv));
	assert_int_equal(test_hex(hex, priv, len), 0);
	psa_set_key_type(&a, PSA_KEY_TYPE_ECC_KEY_PAIR(family));
	psa_set_key_bits(&a, bits);
	psa_set_key_usage_flags(&a, PSA_KEY_USAGE_DERIVE);
	psa_set_key_algorithm(&a, PSA_ALG_ECDH);
	assert_int_equal(psa_import_key(&a, priv, len, &id), PSA_SUCCESS);
	return id;
}

static psa_key_id_t
import_x25519(const char *hex)
{
	return import_ecdh_key(PSA_ECC_FAMILY_MONTGOMERY, 255, hex);
}

/* psa_raw_key_agreement with a peer key given in hex; its status. */
static psa_status_t
agree_hex(psa_key_id_t id, const char *peer_hex, uint8_t *out, size_t out_size,
    size_t *out_len)
{
	uint8_t peer[97];
	size_t len = strlen(peer_hex) / 2;

	assert_true(len <= sizeof(peer));
	assert_int_equal(test_hex(peer_hex, peer, len), 0);
	return psa_raw_key_agreement(PSA_ALG_ECDH, id, peer, len, out, out_size,
	    out_len);
}

static void
assert_agreement(psa_key_id_t id, const char *peer_hex, const char *want_hex)
{
	uint8_t want[32], got[48];
	size_t len = 0;

	assert_int_equal(test_hex(want_hex, want, sizeof(want)), 0);
	assert_int_equal(agree_hex(id, peer_hex, got, sizeof(got), &len), PSA_SUCCESS);
	assert_int_equal(len, 32);
	assert_memory_equal(got, want, 32);
}

static void
assert_public_key(const char *priv_hex, const char *pub_hex)
{
	psa_key_id_t id = import_x25519(priv_hex);
	uint8_t want[32], got[64];
	size_t len = 0;

	assert_int_equal(test_hex(pub_hex, want, sizeof(want)), 0);
	assert_int_equal(psa_export_public_key(id, got, sizeof(got), &len), PSA_SUCCESS);
	assert_int_equal(len, 32);
	assert_memory_equal(got, want, 32);
	psa_destroy_key(id);
}

static void
test_x25519_public_keys_match_rfc7748(void **state)
{
	assert_public_key(ALICE_PRIV, ALICE_PUB);
	assert_public_key(BOB_PRIV, BOB_PUB);
}

static void
test_x25519_public_key_needs_room_for_32_bytes(void **state)
{
	psa_key_id_t id = import_x25519(ALICE_PRIV);
	uint8_t got[31];
	size_t len = 0;

	assert_int_equal(psa_export_public_key(id, got, sizeof(got), &len),
	    PSA_ERROR_BUFFER_TOO_SMALL);
	psa_destroy_key(id);
}

static void
test_x25519_shared_secret_matches_rfc7748_both_ways(void **state)
{
	psa_key_id_t alice = import_x25519(ALICE_PRIV), bob = import_x25519(BOB_PRIV);
	uint8_t apub[32], bpub[32], want[32], s1[32], s2[32];
	size_t l1 = 0, l2 = 0;

	assert_int_equal(test_hex(ALICE_PUB, apub, 32), 0);
	assert_int_equal(test_hex(BOB_PUB, bpub, 32), 0);
	assert_int_equal(test_hex(SHARED, want, 32), 0);
	assert_int_equal(psa_raw_key_agreement(PSA_ALG_ECDH, alice, bpub, 32, s1,
	    sizeof(s1), &l1), PSA_SUCCESS);
	assert_int_equal(psa_raw_key_agreement(PSA_ALG_ECDH, bob, apub, 32, s2,
	    sizeof(s2), &l2), PSA_SUCCESS);
	assert_memory_equal(s1, want, 32);
	assert_memory_equal(s2, want, 32);
	psa_destroy_key(alice);
	psa_destroy_key(bob);
}

static void
test_generated_key_shares_agree(void **state)
{
	psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
	psa_key_id_t k1, k2;
	uint8_t p1[32], p2[32], s1[32], s2[32];
	size_t l;
	int i;

	psa_set_key_type(&a, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_MONTGOMERY));
	psa_set_key_bits(&a, 255);
	psa_set_key_usage_flags(&a, PSA_KEY_USAGE_DERIVE);
	psa_set_key_algorithm(&a, PSA_ALG_ECDH);
	for (i = 0; i < 50; i++) {
		assert_int_equal(psa_generate_key(&a, &k1), PSA_SUCCESS);
		assert_int_equal(psa_generate_key(&a, &k2), PSA_SUCCESS);
		assert_int_equal(psa_export_public_key(k1, p1, sizeof(p1), &l), PSA_SUCCESS);
		assert_int_equal(psa_export_public_key(k2, p2, sizeof(p2), &l), PSA_SUCCESS);
		assert_int_equal(psa_raw_key_agreement(PSA_ALG_ECDH, k1, p2, 32, s1,
		    sizeof(s1), &l), PSA_SUCCESS);
		assert_int_equal(psa_raw_key_agreement(PSA_ALG_ECDH, k2, p1, 32, s2,
		    sizeof(s2), &l), PSA_SUCCESS);
		assert_memory_equal(s1, s2, 32);
		assert_memory_not_equal(p1, p2, 32);
		psa_destroy_key(k1);
		psa_destroy_key(k2);
	}
}

static void
test_x25519_of_arbitrary_u_coordinates_matches_rfc7748(void **state)
{
	psa_key_id_t k1 = import_x25519(SCALAR1), k2 = import_x25519(SCALAR2);

	assert_agreement(k1, U1, OUT1);
	assert_agreement(k2, U2, OUT2);
	psa_destroy_key(k1);
	psa_destroy_key(k2);
}

/* u = 0 (and the other small-order points) gives an all-zero secret, which
 * TLS 1.3 must refuse (RFC 8446 §7.4.2); so must a key of the wrong size. */
static void
test_x25519_refuses_a_small_order_or_short_peer_key(void **state)
{
	psa_key_id_t id = import_x25519(ALICE_PRIV);
	uint8_t out[32];
	size_t len = 0;

	assert_int_not_equal(agree_hex(id, "00000000000000000000000000000000"
	    "00000000000000000000000000000000", out, sizeof(out), &len), PSA_SUCCESS);
	assert_int_not_equal(agree_hex(id, "01000000000000000000000000000000"
	    "00000000000000000000000000000000", out, sizeof(out), &len), PSA_SUCCESS);
	assert_int_not_equal(agree_hex(id, &BOB_PUB[2], out, sizeof(out), &len),
	    PSA_SUCCESS);
	psa_destroy_key(id);
}

static void
test_p256_public_key_and_shared_secret_match_nist(void **state)
{
	psa_key_id_t id = import_ecdh_key(PSA_ECC_FAMILY_SECP_R1, 256, P256_D);
	uint8_t want[65], got[80];
	size_t len = 0;

	assert_int_equal(test_hex(P256_Q, want, sizeof(want)), 0);
	assert_int_equal(psa_export_public_key(id, got, sizeof(got), &len), PSA_SUCCESS);
	assert_int_equal(len, 65);
	assert_memory_equal(got, want, 65);
	assert_int_equal(psa_export_public_key(id, got, 64, &len),
	    PSA_ERROR_BUFFER_TOO_SMALL);
	assert_agreement(id, P256_PEER, P256_Z);
	psa_destroy_key(id);
}

/* A peer point off the curve (the last byte of y changed), compressed, or
 * the point at infinity is refused, not multiplied. */
static void
test_p256_refuses_a_peer_point_off_the_curve_or_not_uncompressed(void **state)
{
	psa_key_id_t id = import_ecdh_key(PSA_ECC_FAMILY_SECP_R1, 256, P256_D);
	char off_curve[] = P256_PEER;
	uint8_t out[32];
	size_t len = 0;

	off_curve[sizeof(off_curve) - 2] = off_curve[sizeof(off_curve) - 2] == '0' ?
	    '1' : '0';
	assert_int_equal(agree_hex(id, off_curve, out, sizeof(out), &len),
	    PSA_ERROR_INVALID_ARGUMENT);
	assert_int_equal(agree_hex(id, "02700c48f77f56584c5cc632ca65640db91b6bacce3a4"
	    "df6b42ce7cc838833d287", out, sizeof(out), &len), PSA_ERROR_INVALID_ARGUMENT);
	assert_int_equal(agree_hex(id, "00", out, sizeof(out), &len),
	    PSA_ERROR_INVALID_ARGUMENT);
	psa_destroy_key(id);
}

static void
test_generated_p256_key_shares_agree(void **state)
{
	psa_key_id_t k1, k2;
	uint8_t p1[65], p2[65], s1[32], s2[32];
	size_t l;
	int i;

	for (i = 0; i < 20; i++) {
		psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;

		psa_set_key_type(&a, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
		psa_set_key_bits(&a, 256);
		psa_set_key_usage_flags(&a, PSA_KEY_USAGE_DERIVE);
		psa_set_key_algorithm(&a, PSA_ALG_ECDH);
		assert_int_equal(psa_generate_key(&a, &k1), PSA_SUCCESS);
		assert_int_equal(psa_generate_key(&a, &k2), PSA_SUCCESS);
		assert_int_equal(psa_export_public_key(k1, p1, sizeof(p1), &l), PSA_SUCCESS);
		assert_int_equal(psa_export_public_key(k2, p2, sizeof(p2), &l), PSA_SUCCESS);
		assert_int_equal(psa_raw_key_agreement(PSA_ALG_ECDH, k1, p2, 65, s1,
		    sizeof(s1), &l), PSA_SUCCESS);
		assert_int_equal(psa_raw_key_agreement(PSA_ALG_ECDH, k2, p1, 65, s2,
		    sizeof(s2), &l), PSA_SUCCESS);
		assert_memory_equal(s1, s2, 32);
		assert_memory_not_equal(p1, p2, 65);
		psa_destroy_key(k1);
		psa_destroy_key(k2);
	}
}

/* P-384 (also one of the VIP's groups) is not the driver's: mbedTLS's own
 * code must still answer through PSA. */
static void
test_p384_still_agrees_through_mbedtls_own_code(void **state)
{
	psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
	psa_key_id_t k1, k2;
	uint8_t p1[97], p2[97], s1[48], s2[48];
	size_t l1, l2;

	psa_set_key_type(&a, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
	psa_set_key_bits(&a, 384);
	psa_set_key_usage_flags(&a, PSA_KEY_USAGE_DERIVE);
	psa_set_key_algorithm(&a, PSA_ALG_ECDH);
	assert_int_equal(psa_generate_key(&a, &k1), PSA_SUCCESS);
	assert_int_equal(psa_generate_key(&a, &k2), PSA_SUCCESS);
	assert_int_equal(psa_export_public_key(k1, p1, sizeof(p1), &l1), PSA_SUCCESS);
	assert_int_equal(psa_export_public_key(k2, p2, sizeof(p2), &l2), PSA_SUCCESS);
	assert_int_equal(l1, 97);
	assert_int_equal(psa_raw_key_agreement(PSA_ALG_ECDH, k1, p2, l2, s1,
	    sizeof(s1), &l1), PSA_SUCCESS);
	assert_int_equal(psa_raw_key_agreement(PSA_ALG_ECDH, k2, p1, 97, s2,
	    sizeof(s2), &l2), PSA_SUCCESS);
	assert_int_equal(l1, 48);
	assert_memory_equal(s1, s2, 48);
	psa_destroy_key(k1);
	psa_destroy_key(k2);
}

#if defined(KG_PSA_OSSL_DRIVER_ENABLED)
/* The driver's own entry points, as mbedTLS's dispatch calls them: it
 * computes X25519 and P-256 and hands anything else back. */
static void
test_driver_computes_x25519_and_p256_and_hands_back_the_rest(void **state)
{
	psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
	uint8_t priv[32], peer[65], want[32], out[65];
	size_t len = 0;

	assert_int_equal(kg_ossl_init(), PSA_SUCCESS);
	psa_set_key_type(&a, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_MONTGOMERY));
	psa_set_key_bits(&a, 255);
	assert_int_equal(test_hex(ALICE_PRIV, priv, 32), 0);
	assert_int_equal(test_hex(BOB_PUB, peer, 32), 0);
	assert_int_equal(test_hex(SHARED, want, 32), 0);
	assert_int_equal(kg_ossl_transparent_key_agreement(&a, priv, 32, PSA_ALG_ECDH,
	    peer, 32, out, sizeof(out), &len), PSA_SUCCESS);
	assert_int_equal(len, 32);
	assert_memory_equal(out, want, 32);
	assert_int_equal(kg_ossl_transparent_export_public_key(&a, priv, 32, out, 31,
	    &len), PSA_ERROR_BUFFER_TOO_SMALL);

	psa_set_key_type(&a, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
	psa_set_key_bits(&a, 256);
	assert_int_equal(test_hex(P256_D, priv, 32), 0);
	assert_int_equal(test_hex(P256_PEER, peer, 65), 0);
	assert_int_equal(test_hex(P256_Z, want, 32), 0);
	assert_int_equal(kg_ossl_transparent_key_agreement(&a, priv, 32, PSA_ALG_ECDH,
	    peer, 65, out, sizeof(out), &len), PSA_SUCCESS);
	assert_memory_equal(out, want, 32);
	assert_int_equal(kg_ossl_transparent_key_agreement(&a, priv, 32, PSA_ALG_ECDH,
	    peer, 65, out, 31, &len), PSA_ERROR_BUFFER_TOO_SMALL);

	/* Not ours: P-384, a public key, another algorithm. */
	psa_set_key_bits(&a, 384);
	assert_int_equal(kg_ossl_transparent_export_public_key(&a, priv, 32, out,
	    sizeof(out), &len), PSA_ERROR_NOT_SUPPORTED);
	psa_set_key_bits(&a, 256);
	assert_int_equal(kg_ossl_transparent_key_agreement(&a, priv, 32,
	    PSA_ALG_FFDH, peer, 65, out, sizeof(out), &len), PSA_ERROR_NOT_SUPPORTED);
	psa_set_key_type(&a, PSA_KEY_TYPE_ECC_PUBLIC_KEY(PSA_ECC_FAMILY_SECP_R1));
	assert_int_equal(kg_ossl_transparent_export_public_key(&a, peer, 65, out,
	    sizeof(out), &len), PSA_ERROR_NOT_SUPPORTED);
}
#endif

static void
test_the_build_is_mbedtls_3_6_with_tls_1_3_and_no_renegotiation(void **state)
{
	assert_int_equal(MBEDTLS_VERSION_MAJOR, 3);
	assert_int_equal(MBEDTLS_VERSION_MINOR, 6);
#if !defined(MBEDTLS_SSL_PROTO_TLS1_3) || !defined(MBEDTLS_SSL_PROTO_TLS1_2)
	fail_msg("TLS 1.2 and 1.3 must both be built");
#endif
#if defined(MBEDTLS_SSL_RENEGOTIATION) || defined(MBEDTLS_SSL_PROTO_DTLS)
	fail_msg("renegotiation and DTLS must be compiled out");
#endif
#if !defined(MBEDTLS_SSL_ASYNC_PRIVATE)
	fail_msg("asynchronous private-key operations must be built");
#endif
#if defined(CONFIG_MBEDTLS_PSA_OSSL_DRIVER) && !defined(KG_PSA_OSSL_DRIVER_ENABLED)
	fail_msg("Kconfig chose the OpenSSL driver but mbedTLS was built without it");
#endif
#if defined(CONFIG_MBEDTLS_USE_PSA_CRYPTO) && !defined(MBEDTLS_USE_PSA_CRYPTO)
	fail_msg("Kconfig chose MBEDTLS_USE_PSA_CRYPTO but mbedTLS was built without it");
#endif
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_build_is_mbedtls_3_6_with_tls_1_3_and_no_renegotiation),
		cmocka_unit_test(test_x25519_public_keys_match_rfc7748),
		cmocka_unit_test(test_x25519_public_key_needs_room_for_32_bytes),
		cmocka_unit_test(test_x25519_shared_secret_matches_rfc7748_both_ways),
		cmocka_unit_test(test_generated_key_shares_agree),
		cmocka_unit_test(test_x25519_of_arbitrary_u_coordinates_matches_rfc7748),
		cmocka_unit_test(test_x25519_refuses_a_small_order_or_short_peer_key),
		cmocka_unit_test(test_p256_public_key_and_shared_secret_match_nist),
		cmocka_unit_test(test_p256_refuses_a_peer_point_off_the_curve_or_not_uncompressed),
		cmocka_unit_test(test_generated_p256_key_shares_agree),
		cmocka_unit_test(test_p384_still_agrees_through_mbedtls_own_code),
#if defined(KG_PSA_OSSL_DRIVER_ENABLED)
		cmocka_unit_test(test_driver_computes_x25519_and_p256_and_hands_back_the_rest),
#endif
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
