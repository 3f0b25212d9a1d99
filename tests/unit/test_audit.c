/*
 * test_audit.c: the management audit log (services/mgmtd/audit.c): one
 * line a change, 0600, never through a symbolic link, and no field can
 * start a line of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit.h"

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/kg-audit.XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static size_t
read_all(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
	return n;
}

static void
test_the_log_is_made_0600_and_each_change_is_one_line(void **state)
{
	struct api_client who = { "CN=roll\r\n2026-01-01T00:00:00Z who=\"CN=forged\"",
	    "ab" };
	char path[96], err[256], buf[2048];
	struct stat st;
	int fd, lines = 0;
	char *p;

	(void)state;
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	fd = audit_open(path, err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	audit_write(fd, &who, "activate", 7, "ok: \"done\"\nresult=\"forged\"");
	audit_write(fd, NULL, "stage", 8, "refused");
	close(fd);
	read_all(path, buf, sizeof(buf));
	for (p = buf; *p != '\0'; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 2);
	assert_non_null(strstr(buf, "action=activate kvno=7"));
	assert_non_null(strstr(buf, "action=stage kvno=8 result=\"refused\""));
	/* The injected quote and line breaks are inert. */
	assert_null(strstr(buf, "who=\"CN=forged\""));
	assert_null(strstr(buf, "result=\"forged\""));
}

static void
test_a_symbolic_link_in_place_of_the_log_is_refused(void **state)
{
	char path[96], target[96], err[256];

	(void)state;
	snprintf(target, sizeof(target), "%s/elsewhere", dir);
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(audit_open(path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot open the audit log"));
	/* Nothing was made at the link's target. */
	assert_int_equal(access(target, F_OK), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_the_log_is_made_0600_and_each_change_is_one_line,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_symbolic_link_in_place_of_the_log_is_refused,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
