/*
 * test_pullstate.c: kerbgate-smbpull's memory of the last package applied:
 * the hash round-trips through its file (0600, no temporary left), a
 * missing file means nothing applied yet, a damaged one is refused in words.
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

#include "pullstate.h"

static void
test_hash_is_sha256_hex(void **s)
{
	char h[PULL_HASH_HEX];

	(void)s;
	pull_hash((const uint8_t *)"abc", 3, h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void
test_state_round_trips_and_damage_is_refused(void **s)
{
	char dir[] = "/tmp/kg-pullstate-XXXXXX", path[64], tmp[72], h[PULL_HASH_HEX],
	    got[PULL_HASH_HEX], err[256];
	struct stat st;
	FILE *f;

	(void)s;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/last", dir);
	assert_int_equal(pull_state_load(path, got, err, sizeof(err)), 0);
	assert_string_equal(got, "");
	pull_hash((const uint8_t *)"package", 7, h);
	assert_int_equal(pull_state_save(path, h, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(pull_state_load(path, got, err, sizeof(err)), 0);
	assert_string_equal(got, h);
	f = fopen(path, "w");
	fputs("not a hash\n", f);
	fclose(f);
	assert_int_equal(pull_state_load(path, got, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "does not hold a package hash"));
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_is_sha256_hex),
		cmocka_unit_test(test_state_round_trips_and_damage_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
