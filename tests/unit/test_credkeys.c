/*
 * test_credkeys.c: AD's salt rules and string-to-key against RFC 3962's
 * vectors (appendix B) and the NT hash.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <krb5.h>

#include "credkeys.h"
#include "testhex.h"

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
salt_is(const char *principal, const char *want)
{
	char salt[CRED_SALT_MAX], err[256];

	assert_int_equal(cred_ad_salt(principal, salt, sizeof(salt), err,
	    sizeof(err)), 0);
	assert_string_equal(salt, want);
}

static void
test_computer_account_salt(void **state)
{
	(void)state;
	salt_is("EXCHASA$@CORP.CONTOSO.COM",
	    "CORP.CONTOSO.COMhostexchasa.corp.contoso.com");
	/* Case of the name and realm as typed does not matter for computers. */
	salt_is("ExchAsa$@corp.contoso.com",
	    "CORP.CONTOSO.COMhostexchasa.corp.contoso.com");
}

static void
test_user_account_salt_keeps_the_name_case(void **state)
{
	(void)state;
	salt_is("svc-Kerbgate@CORP.CONTOSO.COM", "CORP.CONTOSO.COMsvc-Kerbgate");
	salt_is("svc-Kerbgate@corp.contoso.com", "CORP.CONTOSO.COMsvc-Kerbgate");
}

static void
salt_refused(const char *principal, const char *needle)
{
	char salt[CRED_SALT_MAX], err[256];

	assert_int_equal(cred_ad_salt(principal, salt, sizeof(salt), err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, needle));
}

static void
test_salt_refusals(void **state)
{
	char small[20], err[256];

	(void)state;
	salt_refused("EXCHASA$", "has no realm");
	salt_refused("EXCHASA$@", "has no realm");
	salt_refused("@CORP.CONTOSO.COM", "has no account name");
	salt_refused("$@CORP.CONTOSO.COM", "has no account name");
	salt_refused("http/mail.corp.contoso.com@CORP.CONTOSO.COM",
	    "is a service name");
	assert_int_equal(cred_ad_salt("EXCHASA$@CORP.CONTOSO.COM", small,
	    sizeof(small), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too long"));
}

static void
key_is(int32_t etype, const char *pw, const char *salt, unsigned iter,
    const char *want_hex)
{
	struct cred_key k;
	uint8_t want[32];
	char err[256];
	size_t n = strlen(want_hex) / 2;

	assert_int_equal(test_hex(want_hex, want, n), 0);
	assert_int_equal(cred_string_to_key(kctx, etype, pw, strlen(pw), salt,
	    iter, &k, err, sizeof(err)), 0);
	assert_int_equal(k.enctype, etype);
	assert_int_equal(k.len, n);
	assert_memory_equal(k.bytes, want, n);
}

/* RFC 3962 appendix B. */
static void
test_rfc3962_vectors(void **state)
{
	const char *salt = "ATHENA.MIT.EDUraeburn";

	(void)state;
	key_is(CRED_ETYPE_AES128, "password", salt, 1,
	    "42263c6e89f4fc28b8df68ee09799f15");
	key_is(CRED_ETYPE_AES256, "password", salt, 1,
	    "fe697b52bc0d3ce14432ba036a92e65bbb52280990a2fa27883998d72af30161");
	key_is(CRED_ETYPE_AES128, "password", salt, 2,
	    "c651bf29e2300ac27fa469d693bdda13");
	key_is(CRED_ETYPE_AES256, "password", salt, 2,
	    "a2e16d16b36069c135d5e9d2e25f896102685618b95914b467c67622225824ff");
	key_is(CRED_ETYPE_AES128, "password", salt, 1200,
	    "4c01cd46d632d01e6dbe230a01ed642a");
	key_is(CRED_ETYPE_AES256, "password", salt, 1200,
	    "55a6ac740ad17b4846941051e1e8b0a7548d93b0ab30a8bc3ff16280382b8c2a");
}

static void
test_rc4_is_the_nt_hash(void **state)
{
	(void)state;
	key_is(CRED_ETYPE_RC4, "password", "ignored", 0,
	    "8846f7eaee8fb117ad06bdd830b7586c");
}

/* The password is pwlen bytes, not up to a NUL (a frame's payload has none). */
static void
test_password_length_is_respected_for_every_enctype(void **state)
{
	static const int32_t et[3] = { CRED_ETYPE_RC4, CRED_ETYPE_AES128,
	    CRED_ETYPE_AES256 };
	struct cred_key a, b;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		assert_int_equal(cred_string_to_key(kctx, et[i], "passwordXYZ", 8, "s", 1,
		    &a, err, sizeof(err)), 0);
		assert_int_equal(cred_string_to_key(kctx, et[i], "password", 8, "s", 1,
		    &b, err, sizeof(err)), 0);
		assert_memory_equal(a.bytes, b.bytes, a.len);
	}
}

static void
test_account_keys_use_the_ad_salt_and_4096_iterations(void **state)
{
	struct cred_key keys[3], k;
	char err[256];

	(void)state;
	assert_int_equal(cred_keys_from_password(kctx, "EXCHASA$@CORP.CONTOSO.COM",
	    "Asa-Passw0rd-kvno5", 18, keys, err, sizeof(err)), 3);
	assert_int_equal(keys[0].enctype, CRED_ETYPE_AES256);
	assert_int_equal(keys[1].enctype, CRED_ETYPE_AES128);
	assert_int_equal(keys[2].enctype, CRED_ETYPE_RC4);
	assert_int_equal(cred_string_to_key(kctx, CRED_ETYPE_AES256,
	    "Asa-Passw0rd-kvno5", 18, "CORP.CONTOSO.COMhostexchasa.corp.contoso.com",
	    4096, &k, err, sizeof(err)), 0);
	assert_memory_equal(keys[0].bytes, k.bytes, 32);
	/* Another salt (as a user account) gives another key. */
	assert_int_equal(cred_string_to_key(kctx, CRED_ETYPE_AES256,
	    "Asa-Passw0rd-kvno5", 18, "CORP.CONTOSO.COMEXCHASA$", 4096, &k, err,
	    sizeof(err)), 0);
	assert_memory_not_equal(keys[0].bytes, k.bytes, 32);
}

static void
test_refusals(void **state)
{
	struct cred_key keys[3], k;
	char err[256];

	(void)state;
	assert_int_equal(cred_string_to_key(kctx, 16, "pw", 2, "s", 0, &k, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "not one AD uses"));
	assert_int_equal(cred_keys_from_password(kctx, "EXCHASA$@CORP.CONTOSO.COM",
	    "", 0, keys, err, sizeof(err)), -1);
	assert_string_equal(err, "empty password");
	assert_int_equal(cred_keys_from_password(kctx, "EXCHASA$", "pw", 2, keys,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "has no realm"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_computer_account_salt),
		cmocka_unit_test(test_user_account_salt_keeps_the_name_case),
		cmocka_unit_test(test_salt_refusals),
		cmocka_unit_test(test_rfc3962_vectors),
		cmocka_unit_test(test_rc4_is_the_nt_hash),
		cmocka_unit_test(test_password_length_is_respected_for_every_enctype),
		cmocka_unit_test(test_account_keys_use_the_ad_salt_and_4096_iterations),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
