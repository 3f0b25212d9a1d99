/*
 * test_credpkg.c: the sealed credential package (credpkg.h): a good package
 * opens to its plaintext; every kind of bad one is refused with its reason
 * and yields nothing: altered ciphertext, header or signature, another
 * signer, another recipient, every truncation, an old kvno, expired, made
 * in the future, too long-lived, another version.
 */
#include <sys/stat.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/pem.h>

#include "credpkg.h"

#define NOW	1796200000
#define BODY	"{\"account\":\"EXCHASA$@CORP.CONTOSO.COM\",\"kvno\":8,\"password\":\"pw\"}"

static EVP_PKEY *signer, *other_signer, *appliance, *other_appliance;

static EVP_PKEY *
keygen(int type)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(type, NULL);
	EVP_PKEY *k = NULL;

	if (c == NULL || EVP_PKEY_keygen_init(c) != 1 || EVP_PKEY_keygen(c, &k) != 1)
		k = NULL;
	EVP_PKEY_CTX_free(c);
	return k;
}

static int
setup(void **state)
{
	(void)state;
	signer = keygen(EVP_PKEY_ED25519);
	other_signer = keygen(EVP_PKEY_ED25519);
	appliance = keygen(EVP_PKEY_X25519);
	other_appliance = keygen(EVP_PKEY_X25519);
	return signer && other_signer && appliance && other_appliance ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(signer);
	EVP_PKEY_free(other_signer);
	EVP_PKEY_free(appliance);
	EVP_PKEY_free(other_appliance);
	return 0;
}

/* A package for kvno 8, made at NOW, valid a day, from signer to appliance. */
static uint8_t *
make(EVP_PKEY *by, EVP_PKEY *to, uint32_t kvno, int64_t created, int64_t expires,
    size_t *len)
{
	struct pkg_info in = { kvno, created, expires };
	char err[256];
	uint8_t *p;

	assert_int_equal(pkg_seal(by, to, &in, (const uint8_t *)BODY, strlen(BODY),
	    &p, len, err, sizeof(err)), 0);
	return p;
}

/* Opening fails, gives no plaintext, and says \p words. */
static void
refused(const uint8_t *p, size_t len, uint32_t active, const char *words)
{
	struct pkg_info info;
	uint8_t *pt = (uint8_t *)"sentinel";
	size_t ptlen = 99;
	char err[512] = "";

	assert_int_equal(pkg_open(p, len, signer, appliance, NOW, active, &info,
	    &pt, &ptlen, err, sizeof(err)), -1);
	assert_null(pt);
	assert_int_equal(ptlen, 0);
	if (strstr(err, words) == NULL)
		fail_msg("expected \"%s\" in \"%s\"", words, err);
}

static void
test_good_package_opens(void **state)
{
	struct pkg_info info;
	uint8_t *p, *pt;
	size_t len, ptlen;
	char err[256];

	(void)state;
	p = make(signer, appliance, 8, NOW, NOW + 86400, &len);
	assert_int_equal(len, PKG_HEADER_LEN + strlen(BODY) + PKG_TAG_LEN + PKG_SIG_LEN);
	assert_int_equal(pkg_open(p, len, signer, appliance, NOW, 7, &info, &pt, &ptlen,
	    err, sizeof(err)), 0);
	assert_int_equal(ptlen, strlen(BODY));
	assert_memory_equal(pt, BODY, ptlen);
	assert_int_equal(pt[ptlen], '\0');
	assert_int_equal(info.kvno, 8);
	assert_int_equal(info.created, NOW);
	assert_int_equal(info.expires, NOW + 86400);
	/* The password is not in the package in the clear. */
	assert_null(memmem(p, len, "EXCHASA", 7));
	pkg_free_plaintext(pt, ptlen);
	/* No active kvno yet: 0. */
	assert_int_equal(pkg_open(p, len, signer, appliance, NOW, 0, &info, &pt, &ptlen,
	    err, sizeof(err)), 0);
	pkg_free_plaintext(pt, ptlen);
	free(p);
}

static void
test_tampered_ciphertext_is_refused(void **state)
{
	uint8_t *p;
	size_t len;

	(void)state;
	p = make(signer, appliance, 8, NOW, NOW + 86400, &len);
	p[PKG_HEADER_LEN + 3] ^= 0x01;
	refused(p, len, 7, "signature does not verify");
	p[PKG_HEADER_LEN + 3] ^= 0x01;
	p[len - PKG_SIG_LEN - 1] ^= 0x80;	/* the GCM tag */
	refused(p, len, 7, "signature does not verify");
	free(p);
}

static void
test_every_flipped_byte_is_refused(void **state)
{
	uint8_t *p;
	size_t len, i;

	(void)state;
	p = make(signer, appliance, 8, NOW, NOW + 86400, &len);
	for (i = 0; i < len; i++) {
		struct pkg_info info;
		uint8_t *pt;
		size_t ptlen;
		char err[512];

		p[i] ^= 0x20;
		if (pkg_open(p, len, signer, appliance, NOW, 7, &info, &pt, &ptlen,
		    err, sizeof(err)) == 0)
			fail_msg("byte %zu flipped: the package still opened", i);
		assert_null(pt);
		p[i] ^= 0x20;
	}
	free(p);
}

static void
test_tampered_signature_is_refused(void **state)
{
	uint8_t *p;
	size_t len;

	(void)state;
	p = make(signer, appliance, 8, NOW, NOW + 86400, &len);
	p[len - 1] ^= 0x01;
	refused(p, len, 7, "does not verify against the pinned management key");
	free(p);
}

static void
test_another_signer_is_refused(void **state)
{
	uint8_t *p;
	size_t len;

	(void)state;
	p = make(other_signer, appliance, 8, NOW, NOW + 86400, &len);
	refused(p, len, 7, "signed by another management plane");
	free(p);
}

static void
test_another_recipient_is_refused(void **state)
{
	uint8_t *p;
	size_t len;

	(void)state;
	p = make(signer, other_appliance, 8, NOW, NOW + 86400, &len);
	refused(p, len, 7, "sealed to another appliance's key");
	free(p);
}

static void
test_every_truncation_is_refused(void **state)
{
	uint8_t *p, *copy;
	size_t len, n;

	(void)state;
	p = make(signer, appliance, 8, NOW, NOW + 86400, &len);
	for (n = 0; n < len; n++) {
		/* A copy of exactly n bytes, so that ASan sees any over-read. */
		copy = malloc(n ? n : 1);
		memcpy(copy, p, n);
		refused(copy, n, 7, n >= PKG_MIN_LEN ? "length field" : "truncated");
		free(copy);
	}
	/* One byte too many. */
	copy = malloc(len + 1);
	memcpy(copy, p, len);
	copy[len] = 0;
	refused(copy, len + 1, 7, "length field");
	free(copy);
	free(p);
}

static void
test_old_kvno_is_refused(void **state)
{
	uint8_t *p;
	size_t len;

	(void)state;
	p = make(signer, appliance, 8, NOW, NOW + 86400, &len);
	refused(p, len, 8, "not above the active kvno 8");
	refused(p, len, 9, "an old or replayed package");
	free(p);
}

static void
test_expired_is_refused(void **state)
{
	uint8_t *p;
	size_t len;

	(void)state;
	p = make(signer, appliance, 8, NOW - 2 * 86400, NOW - 86400, &len);
	refused(p, len, 7, "expired 86400 s ago");
	free(p);
	p = make(signer, appliance, 8, NOW - 86400, NOW, &len);
	refused(p, len, 7, "expired");
	free(p);
}

static void
test_future_and_long_lived_are_refused(void **state)
{
	uint8_t *p;
	size_t len;

	(void)state;
	p = make(signer, appliance, 8, NOW + 3600, NOW + 7200, &len);
	refused(p, len, 7, "in the future");
	free(p);
	p = make(signer, appliance, 8, NOW, NOW + PKG_MAX_LIFETIME + 1, &len);
	refused(p, len, 7, "more than 30 days");
	free(p);
	/* A "created" near INT64_MIN: expires - created overflowed (undefined;
	 * wrapped, negative), and a package valid for a year passed as short. */
	p = make(signer, appliance, 8, INT64_MIN, NOW + 365 * 86400, &len);
	refused(p, len, 7, "more than 30 days");
	free(p);
	p = make(signer, appliance, 8, INT64_MIN + 1000, NOW + 365 * 86400, &len);
	refused(p, len, 7, "more than 30 days");
	free(p);
	/* Inside the clock skew: accepted. */
	p = make(signer, appliance, 8, NOW + PKG_SKEW, NOW + 7200, &len);
	{
		struct pkg_info info;
		uint8_t *pt;
		size_t ptlen;
		char err[256];

		assert_int_equal(pkg_open(p, len, signer, appliance, NOW, 7, &info, &pt,
		    &ptlen, err, sizeof(err)), 0);
		pkg_free_plaintext(pt, ptlen);
	}
	free(p);
}

static void
test_wrong_magic_and_version_are_named(void **state)
{
	uint8_t *p;
	size_t len;

	(void)state;
	p = make(signer, appliance, 8, NOW, NOW + 86400, &len);
	p[8] = 2;
	refused(p, len, 7, "format version 2");
	p[8] = 1;
	p[0] = 'X';
	refused(p, len, 7, "not a kerbgate credential package");
	free(p);
}

static void
test_seal_refuses_bad_input(void **state)
{
	struct pkg_info in = { 8, NOW, NOW + 60 };
	uint8_t big[PKG_MAX_PLAINTEXT + 1], *p;
	size_t len;
	char err[256];

	(void)state;
	memset(big, 'a', sizeof(big));
	assert_int_equal(pkg_seal(signer, appliance, &in, big, sizeof(big), &p, &len,
	    err, sizeof(err)), -1);
	assert_null(p);
	/* Keys swapped: signer must be Ed25519, recipient X25519. */
	assert_int_equal(pkg_seal(appliance, signer, &in, big, 10, &p, &len,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "Ed25519"));
}

static void
test_keys_load_from_pem(void **state)
{
	char dir[] = "/tmp/kg-credpkg-XXXXXX", path[64], err[256];
	EVP_PKEY *k;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a.key", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, appliance, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	chmod(path, 0644);
	assert_null(pkg_load_key(path, EVP_PKEY_X25519, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "must be 0600"));
	chmod(path, 0600);
	k = pkg_load_key(path, EVP_PKEY_X25519, 1, err, sizeof(err));
	assert_non_null(k);
	EVP_PKEY_free(k);
	assert_null(pkg_load_key(path, EVP_PKEY_ED25519, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "not an Ed25519 key"));
	/* Public from a public PEM. */
	f = fopen(path, "w");
	assert_int_equal(PEM_write_PUBKEY(f, signer), 1);
	fclose(f);
	k = pkg_load_key(path, EVP_PKEY_ED25519, 0, err, sizeof(err));
	assert_non_null(k);
	EVP_PKEY_free(k);
	unlink(path);
	assert_null(pkg_load_key(path, EVP_PKEY_ED25519, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot open"));
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_package_opens),
		cmocka_unit_test(test_tampered_ciphertext_is_refused),
		cmocka_unit_test(test_every_flipped_byte_is_refused),
		cmocka_unit_test(test_tampered_signature_is_refused),
		cmocka_unit_test(test_another_signer_is_refused),
		cmocka_unit_test(test_another_recipient_is_refused),
		cmocka_unit_test(test_every_truncation_is_refused),
		cmocka_unit_test(test_old_kvno_is_refused),
		cmocka_unit_test(test_expired_is_refused),
		cmocka_unit_test(test_future_and_long_lived_are_refused),
		cmocka_unit_test(test_wrong_magic_and_version_are_named),
		cmocka_unit_test(test_seal_refuses_bad_input),
		cmocka_unit_test(test_keys_load_from_pem),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
