/*
 * test_mbedtls_build: the mbedTLS that toolchain/mbedtls builds is the one
 * its configuration and patches say: TLS 1.3 beside 1.2, no renegotiation,
 * and X25519 (patched to compute public keys with Everest) agreeing with
 * RFC 7748's own vectors.
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

#include "testhex.h"

/* RFC 7748 §6.1. */
#define ALICE_PRIV "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
#define ALICE_PUB  "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
#define BOB_PRIV   "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
#define BOB_PUB    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
#define SHARED     "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"

static int
setup(void **state)
{
	return psa_crypto_init() == PSA_SUCCESS ? 0 : -1;
}

static psa_key_id_t
import_x25519(const char *hex)
{
	psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
	uint8_t priv[32];
	psa_key_id_t id;

	assert_int_equal(test_hex(hex, priv, sizeof(priv)), 0);
	psa_set_key_type(&a, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_MONTGOMERY));
	psa_set_key_bits(&a, 255);
	psa_set_key_usage_flags(&a, PSA_KEY_USAGE_DERIVE);
	psa_set_key_algorithm(&a, PSA_ALG_ECDH);
	assert_int_equal(psa_import_key(&a, priv, sizeof(priv), &id), PSA_SUCCESS);
	return id;
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
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
