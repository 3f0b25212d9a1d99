/*
 * test_kcrypto.c: the mbedTLS RFC 3962 implementation against RFC 3961's
 * n-fold vectors and against Heimdal itself: whatever one side encrypts or
 * checksums, the other must accept, for every length around the block
 * boundaries, both enctypes and several usages.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "testhex.h"

#include <krb5.h>

#include "kcrypto.h"

static krb5_context kctx;

static int
setup(void **state)
{
	(void)state;
	return krb5_init_context(&kctx) == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	krb5_free_context(kctx);
	return 0;
}

static void
hex(const char *h, uint8_t *out, size_t n)
{
	assert_int_equal(test_hex(h, out, n), 0);
}

static void
check_nfold(const char *in, size_t bits, const char *want_hex)
{
	uint8_t want[64], got[64];

	hex(want_hex, want, bits / 8);
	assert_int_equal(kc_nfold((const uint8_t *)in, strlen(in), got, bits / 8), KC_OK);
	assert_memory_equal(got, want, bits / 8);
}

/* RFC 3961 appendix A.1. */
static void
test_nfold_rfc3961_vectors(void **state)
{
	(void)state;
	check_nfold("012345", 64, "be072631276b1955");
	check_nfold("password", 56, "78a07b6caf85fa");
	check_nfold("Rough Consensus, and Running Code", 64, "bb6ed30870b7f0e0");
	check_nfold("password", 168, "59e4a8ca7c0385c3c37b3f6d2000247cb6e6bd5b3e");
	check_nfold("MASSACHVSETTS INSTITVTE OF TECHNOLOGY", 192,
	    "db3b0d8f0b061e603282b308a50841229ad798fab9540c1b");
	check_nfold("Q", 168, "518a54a215a8452a518a54a215a8452a518a54a215");
	check_nfold("ba", 168, "fb25d531ae8974499f52fd92ea9857c4ba24cf297e");
	check_nfold("kerberos", 64, "6b65726265726f73");
	check_nfold("kerberos", 128, "6b65726265726f737b9b5b2b93132b93");
	check_nfold("kerberos", 168, "8372c236344e5f1550cd0747e15d62ca7a5a3bcea4");
	check_nfold("kerberos", 256,
	    "6b65726265726f737b9b5b2b93132b935c9bdcdad95c9899c4cae4dee6d6cae4");
}

static void
test_nfold_refuses_bad_lengths(void **state)
{
	uint8_t out[16];

	(void)state;
	assert_int_equal(kc_nfold((const uint8_t *)"", 0, out, 16), KC_ERR_LENGTH);
	assert_int_equal(kc_nfold((const uint8_t *)"x", 1, out, 0), KC_ERR_LENGTH);
}

static void
random_key(int32_t etype, krb5_keyblock *kb)
{
	assert_int_equal(krb5_generate_random_keyblock(kctx, etype, kb), 0);
}

/* Heimdal encrypts, we decrypt; we encrypt, Heimdal decrypts. */
static void
cross_encrypt(int32_t etype, uint32_t usage)
{
	krb5_keyblock kb;
	krb5_crypto crypto;
	struct kc_usage u;
	uint8_t msg[200], out[200 + KC_OVERHEAD], back[200 + KC_OVERHEAD];
	size_t len, outlen;

	random_key(etype, &kb);
	assert_int_equal(krb5_crypto_init(kctx, &kb, 0, &crypto), 0);
	assert_int_equal(kc_derive(etype, kb.keyvalue.data, kb.keyvalue.length, usage,
	    KC_WANT_ENCRYPT | KC_WANT_DECRYPT, &u), KC_OK);
	for (len = 0; len < sizeof(msg); len++) {
		krb5_data enc, dec;

		for (size_t i = 0; i < len; i++)
			msg[i] = (uint8_t)(i * 7 + len);
		assert_int_equal(krb5_encrypt(kctx, crypto, usage, msg, len, &enc), 0);
		assert_int_equal(enc.length, len + KC_OVERHEAD);
		assert_int_equal(kc_decrypt(&u, enc.data, enc.length, back, &outlen), KC_OK);
		assert_int_equal(outlen, len);
		assert_memory_equal(back, msg, len);
		krb5_data_free(&enc);

		assert_int_equal(kc_encrypt(&u, msg, len, out), KC_OK);
		assert_int_equal(krb5_decrypt(kctx, crypto, usage, out, len + KC_OVERHEAD,
		    &dec), 0);
		assert_int_equal(dec.length, len);
		assert_memory_equal(dec.data, msg, len);
		krb5_data_free(&dec);
	}
	kc_usage_free(&u);
	krb5_crypto_destroy(kctx, crypto);
	krb5_free_keyblock_contents(kctx, &kb);
}

static void
test_aes256_interoperates_with_heimdal(void **state)
{
	(void)state;
	cross_encrypt(KC_ETYPE_AES256, KC_KU_TICKET);
	cross_encrypt(KC_ETYPE_AES256, KC_KU_AP_REQ_AUTH);
	cross_encrypt(KC_ETYPE_AES256, KC_KU_AP_REP);
	cross_encrypt(KC_ETYPE_AES256, 1024);
}

static void
test_aes128_interoperates_with_heimdal(void **state)
{
	(void)state;
	cross_encrypt(KC_ETYPE_AES128, KC_KU_TICKET);
	cross_encrypt(KC_ETYPE_AES128, KC_KU_AP_REP);
}

static void
cross_checksum(int32_t etype, uint32_t usage)
{
	krb5_keyblock kb;
	krb5_crypto crypto;
	struct kc_usage u;
	uint8_t msg[300], mine[KC_MAC_LEN];
	size_t len;

	random_key(etype, &kb);
	assert_int_equal(krb5_crypto_init(kctx, &kb, 0, &crypto), 0);
	assert_int_equal(kc_derive(etype, kb.keyvalue.data, kb.keyvalue.length, usage,
	    KC_WANT_CHECKSUM, &u), KC_OK);
	for (len = 0; len < sizeof(msg); len += 13) {
		Checksum ck;

		memset(msg, (int)len, sizeof(msg));
		assert_int_equal(krb5_create_checksum(kctx, crypto, usage, 0, msg, len, &ck), 0);
		assert_int_equal(ck.checksum.length, KC_MAC_LEN);
		assert_int_equal(kc_checksum(&u, msg, len, mine), KC_OK);
		assert_memory_equal(mine, ck.checksum.data, KC_MAC_LEN);
		free_Checksum(&ck);
	}
	kc_usage_free(&u);
	krb5_crypto_destroy(kctx, crypto);
	krb5_free_keyblock_contents(kctx, &kb);
}

static void
test_checksum_matches_heimdal(void **state)
{
	(void)state;
	cross_checksum(KC_ETYPE_AES256, KC_KU_PAC_CKSUM);
	cross_checksum(KC_ETYPE_AES256, KC_KU_ACCEPTOR_SIGN);
	cross_checksum(KC_ETYPE_AES128, KC_KU_PAC_CKSUM);
}

static void
test_decrypt_refuses_tampering_and_wrong_keys(void **state)
{
	krb5_keyblock kb, other;
	struct kc_usage u, w, wrong_usage;
	uint8_t msg[64], enc[64 + KC_OVERHEAD], back[64 + KC_OVERHEAD];
	size_t outlen, i;

	(void)state;
	random_key(KC_ETYPE_AES256, &kb);
	random_key(KC_ETYPE_AES256, &other);
	memset(msg, 'a', sizeof(msg));
	assert_int_equal(kc_derive(KC_ETYPE_AES256, kb.keyvalue.data, 32, KC_KU_TICKET,
	    KC_WANT_ENCRYPT | KC_WANT_DECRYPT, &u), KC_OK);
	assert_int_equal(kc_derive(KC_ETYPE_AES256, other.keyvalue.data, 32, KC_KU_TICKET,
	    KC_WANT_DECRYPT, &w), KC_OK);
	assert_int_equal(kc_derive(KC_ETYPE_AES256, kb.keyvalue.data, 32, KC_KU_AP_REP,
	    KC_WANT_DECRYPT, &wrong_usage), KC_OK);
	assert_int_equal(kc_encrypt(&u, msg, sizeof(msg), enc), KC_OK);

	assert_int_equal(kc_decrypt(&w, enc, sizeof(enc), back, &outlen), KC_ERR_INTEGRITY);
	assert_int_equal(kc_decrypt(&wrong_usage, enc, sizeof(enc), back, &outlen),
	    KC_ERR_INTEGRITY);
	for (i = 0; i < sizeof(enc); i += 9) {
		enc[i] ^= 0x01;
		assert_int_equal(kc_decrypt(&u, enc, sizeof(enc), back, &outlen),
		    KC_ERR_INTEGRITY);
		enc[i] ^= 0x01;
	}
	assert_int_equal(kc_decrypt(&u, enc, sizeof(enc) - 1, back, &outlen), KC_ERR_INTEGRITY);
	assert_int_equal(kc_decrypt(&u, enc, KC_OVERHEAD - 1, back, &outlen), KC_ERR_LENGTH);
	assert_int_equal(kc_decrypt(&u, enc, sizeof(enc), back, &outlen), KC_OK);
	assert_int_equal(outlen, sizeof(msg));

	/* Keys not derived for the operation are refused, not used blindly. */
	assert_int_equal(kc_encrypt(&w, msg, sizeof(msg), enc), KC_ERR_KEY);
	assert_int_equal(kc_checksum(&u, msg, sizeof(msg), back), KC_ERR_KEY);
	kc_usage_free(&u);
	kc_usage_free(&w);
	kc_usage_free(&wrong_usage);
	krb5_free_keyblock_contents(kctx, &kb);
	krb5_free_keyblock_contents(kctx, &other);
}

static void
test_derive_refuses_other_enctypes_and_key_sizes(void **state)
{
	uint8_t key[32] = { 1 };
	struct kc_usage u;

	(void)state;
	assert_int_equal(kc_derive(23, key, 16, 2, KC_WANT_DECRYPT, &u), KC_ERR_ENCTYPE);
	kc_usage_free(&u);
	assert_int_equal(kc_derive(KC_ETYPE_AES256, key, 16, 2, KC_WANT_DECRYPT, &u),
	    KC_ERR_KEY);
	kc_usage_free(&u);
	assert_int_equal(kc_derive(KC_ETYPE_AES128, key, 32, 2, KC_WANT_DECRYPT, &u),
	    KC_ERR_KEY);
	kc_usage_free(&u);
	assert_false(kc_enctype_supported(23));
	assert_true(kc_enctype_supported(17) && kc_enctype_supported(18));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nfold_rfc3961_vectors),
		cmocka_unit_test(test_nfold_refuses_bad_lengths),
		cmocka_unit_test(test_aes256_interoperates_with_heimdal),
		cmocka_unit_test(test_aes128_interoperates_with_heimdal),
		cmocka_unit_test(test_checksum_matches_heimdal),
		cmocka_unit_test(test_decrypt_refuses_tampering_and_wrong_keys),
		cmocka_unit_test(test_derive_refuses_other_enctypes_and_key_sizes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
