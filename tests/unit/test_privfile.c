/*
 * test_privfile.c: kg_write_private(), the one way secrets and hashes reach
 * a file in mgmtd (privfile.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "privfile.h"

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/kg-privfile.XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
slurp(const char *path, char *out, size_t outlen)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(out, 1, outlen - 1, f);
	out[n] = '\0';
	fclose(f);
}

static void
test_a_file_is_written_0600_and_replaced_whole(void **state)
{
	char path[128], tmp[128], got[64], err[256];
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s/key.pem", dir);
	assert_int_equal(kg_write_private(path, "first", 5, (uid_t)-1, (gid_t)-1, err,
	    sizeof(err)), 0);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(kg_write_private(path, "second", 6, (uid_t)-1, (gid_t)-1, err,
	    sizeof(err)), 0);
	slurp(path, got, sizeof(got));
	assert_string_equal(got, "second");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(tmp, sizeof(tmp), "%s/.key.pem.tmp", dir);
	assert_int_equal(access(tmp, F_OK), -1);
}

/* A link planted where the temporary file goes is replaced, not followed:
 * the key would otherwise land wherever it points. */
static void
test_a_link_at_the_temporary_name_is_not_followed(void **state)
{
	char path[128], tmp[128], victim[128], err[256];
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s/key.pem", dir);
	snprintf(tmp, sizeof(tmp), "%s/.key.pem.tmp", dir);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	assert_int_equal(symlink(victim, tmp), 0);
	assert_int_equal(kg_write_private(path, "secret", 6, (uid_t)-1, (gid_t)-1, err,
	    sizeof(err)), 0);
	assert_int_equal(stat(victim, &st), -1);
	assert_int_equal(stat(path, &st), 0);
}

static void
test_an_unwritable_folder_is_an_error_that_names_the_file(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(kg_write_private("/nonexistent/kg/key.pem", "x", 1, (uid_t)-1,
	    (gid_t)-1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/kg/.key.pem.tmp"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_a_file_is_written_0600_and_replaced_whole,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_link_at_the_temporary_name_is_not_followed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_an_unwritable_folder_is_an_error_that_names_the_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
