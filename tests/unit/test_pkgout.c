/*
 * test_pkgout.c: kerbgate-roll --package's writer: the file it leaves opens
 * with the appliance's key to exactly the credential mgmtd stages, nothing
 * of the password is in the file, a missing or wrong recipient key writes
 * nothing.
 */
#include <sys/stat.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/pem.h>

#include "credpkg.h"
#include "pkgout.h"

static EVP_PKEY *
keygen(int type)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(type, NULL);
	EVP_PKEY *k = NULL;

	assert_non_null(c);
	assert_int_equal(EVP_PKEY_keygen_init(c), 1);
	assert_int_equal(EVP_PKEY_keygen(c, &k), 1);
	EVP_PKEY_CTX_free(c);
	return k;
}

static void
test_package_written_opens_to_the_credential(void **s)
{
	char dir[] = "/tmp/kg-pkgout-XXXXXX", pub[64], path[4200], err[256];
	EVP_PKEY *signer = keygen(EVP_PKEY_ED25519), *app = keygen(EVP_PKEY_X25519);
	struct pkg_info info;
	uint8_t buf[PKG_MAX_LEN], *pt;
	size_t len, ptlen;
	json_t *o;
	FILE *f;

	(void)s;
	assert_non_null(mkdtemp(dir));
	snprintf(pub, sizeof(pub), "%s/lb1.pub", dir);
	f = fopen(pub, "w");
	assert_int_equal(PEM_write_PUBKEY(f, app), 1);
	fclose(f);
	assert_int_equal(pkgout_write(signer, pub, dir, "lb1", "EXCHASA$@R", 9,
	    "Zq9-Pw!secret", 86400, path, sizeof(path), err, sizeof(err)), 0);
	assert_non_null(strstr(path, "/lb1.kgpkg"));
	f = fopen(path, "r");
	assert_non_null(f);
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_null(memmem(buf, len, "secret", 6));
	assert_int_equal(pkg_open(buf, len, signer, app, (int64_t)time(NULL), 8, &info,
	    &pt, &ptlen, err, sizeof(err)), 0);
	assert_int_equal(info.kvno, 9);
	assert_true(info.expires - info.created == 86400);
	o = json_loadb((const char *)pt, ptlen, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "account")), "EXCHASA$@R");
	assert_int_equal(json_integer_value(json_object_get(o, "kvno")), 9);
	assert_string_equal(json_string_value(json_object_get(o, "password")), "Zq9-Pw!secret");
	json_decref(o);
	pkg_free_plaintext(pt, ptlen);

	/* A recipient key that is not X25519 (the signer's): nothing written. */
	f = fopen(pub, "w");
	assert_int_equal(PEM_write_PUBKEY(f, signer), 1);
	fclose(f);
	assert_int_equal(pkgout_write(signer, pub, dir, "lb2", "EXCHASA$@R", 9,
	    "pw", 86400, path, sizeof(path), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not an X25519 key"));
	snprintf(path, sizeof(path), "%s/lb2.kgpkg", dir);
	assert_int_equal(access(path, F_OK), -1);
	unlink(pub);
	snprintf(path, sizeof(path), "%s/lb1.kgpkg", dir);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);	/* no temporary file left */
	EVP_PKEY_free(signer);
	EVP_PKEY_free(app);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_package_written_opens_to_the_credential),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
