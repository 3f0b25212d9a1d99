/*
 * test_log.c - log line format, levels, errno handling, fatal exits, and
 * sanitising untrusted text.
 */
#include <sys/wait.h>

#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "util.h"

struct capture {
	FILE	*file;
	int	 saved_stderr;
	char	 text[4096];
};

/* Every test logs into a temporary file standing in for stderr. */
static int
setup_capture(void **state)
{
	struct capture *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->file = tmpfile()) == NULL)
		return -1;
	fflush(stderr);
	c->saved_stderr = dup(STDERR_FILENO);
	dup2(fileno(c->file), STDERR_FILENO);
	log_init("kgtest", 1, 0);
	log_procname(NULL);
	*state = c;
	return 0;
}

static const char *captured(struct capture *c);

/* cmocka reports a failed assertion on stderr, i.e. into the capture:
 * pass on whatever is not a log line so failures stay visible. */
static int
teardown_capture(void **state)
{
	struct capture *c = *state;
	const char *line, *end;

	dup2(c->saved_stderr, STDERR_FILENO);
	for (line = captured(c); *line != '\0'; line = end) {
		end = strchr(line, '\n');
		end = end != NULL ? end + 1 : line + strlen(line);
		if (line[0] < '0' || line[0] > '9')	/* not a timestamp */
			fprintf(stderr, "%.*s", (int)(end - line), line);
	}
	close(c->saved_stderr);
	fclose(c->file);
	free(c);
	return 0;
}

static const char *
captured(struct capture *c)
{
	ssize_t n = pread(fileno(c->file), c->text, sizeof(c->text) - 1, 0);

	c->text[n > 0 ? n : 0] = '\0';
	return c->text;
}

static void
assert_matches(const char *text, const char *pattern)
{
	regex_t re;

	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	if (regexec(&re, text, 0, NULL, 0) != 0)
		fail_msg("\"%s\" does not match /%s/", text, pattern);
	regfree(&re);
}

static size_t
count_lines(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

#define TS "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"

static void
test_line_has_timestamp_program_pid_procname_and_level(void **state)
{
	log_procname("relay 2");
	log_warnx("disk %d full", 3);
	assert_matches(captured(*state),
	    "^" TS " kgtest\\[[0-9]+\\] relay 2: warning: disk 3 full\n$");
}

static void
test_line_without_procname_has_no_stray_space(void **state)
{
	log_info("hello");
	assert_matches(captured(*state), "^" TS " kgtest\\[[0-9]+\\]: info: hello\n$");
}

static void
test_warn_appends_strerror_of_errno(void **state)
{
	errno = ENOENT;
	log_warn("open %s", "/etc/kerbgate.json");
	assert_matches(captured(*state), "warning: open /etc/kerbgate.json: "
	    "No such file or directory\n$");
}

static void
test_warnx_does_not_append_errno(void **state)
{
	errno = ENOENT;
	log_warnx("plain");
	assert_matches(captured(*state), "warning: plain\n$");
}

static void
test_logging_leaves_errno_unchanged(void **state)
{
	errno = EACCES;
	log_warn("a");
	log_info("b");
	log_debug("c");
	assert_int_equal(errno, EACCES);
}

static void
test_debug_is_silent_at_verbosity_zero(void **state)
{
	log_debug("not shown");
	assert_string_equal(captured(*state), "");
}

static void
test_debug_is_printed_when_verbose(void **state)
{
	log_setverbose(1);
	assert_int_equal(log_getverbose(), 1);
	log_debug("shown %s", "now");
	assert_matches(captured(*state), "debug: shown now\n$");
}

static void
test_newline_in_message_cannot_forge_a_second_line(void **state)
{
	log_warnx("user %s", "bob\n2026-01-01T00:00:00.000Z kgtest[1]: info: "
	    "admin logged in\r");
	assert_int_equal(count_lines(captured(*state)), 1);
	assert_matches(captured(*state), "user bob\\?2026.*admin logged in\\?\n$");
}

static void
test_overlong_message_is_cut_to_one_line(void **state)
{
	char big[3 * KG_LOG_MSG_MAX];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_info("%s", big);
	assert_int_equal(count_lines(captured(*state)), 1);
	assert_true(strlen(captured(*state)) < KG_LOG_MSG_MAX + 128);
}

static void
test_fatalx_logs_and_exits_with_status_one(void **state)
{
	pid_t pid;
	int status;

	if ((pid = fork()) == 0)
		fatalx("cannot continue: %s", "bad config");
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_matches(captured(*state), "fatal: cannot continue: bad config\n$");
}

static void
test_fatal_appends_strerror_and_exits_with_status_one(void **state)
{
	pid_t pid;
	int status;

	if ((pid = fork()) == 0) {
		errno = EPERM;
		fatal("setuid");
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_matches(captured(*state),
	    "fatal: setuid: Operation not permitted\n$");
}

static void
test_syslog_mode_writes_nothing_to_stderr(void **state)
{
	log_init("kgtest", 0, 1);
	log_warnx("to syslog");
	log_debug("to syslog");
	assert_string_equal(captured(*state), "");
	log_init("kgtest", 1, 0);
}

static void
test_sanitize_copies_printable_ascii_unchanged(void **state)
{
	char out[64];

	assert_string_equal(log_sanitize("www.example.com/a?b=c d", out,
	    sizeof(out)), "www.example.com/a?b=c d");
}

static void
test_sanitize_escapes_newline_return_and_tab(void **state)
{
	char out[64];

	assert_string_equal(log_sanitize("a\nb\rc\td", out, sizeof(out)),
	    "a\\nb\\rc\\td");
}

static void
test_sanitize_escapes_backslash_so_escapes_are_unambiguous(void **state)
{
	char out[64];

	assert_string_equal(log_sanitize("DOM\\user\\n", out, sizeof(out)),
	    "DOM\\\\user\\\\n");
}

static void
test_sanitize_escapes_control_and_non_ascii_bytes_as_hex(void **state)
{
	char out[64];

	assert_string_equal(log_sanitize("\x1b[31mred\x7f caf\xc3\xa9", out,
	    sizeof(out)), "\\x1b[31mred\\x7f caf\\xc3\\xa9");
}

static void
test_sanitize_truncates_long_input_with_dots(void **state)
{
	char out[16];

	assert_string_equal(log_sanitize("abcdefghijklmnopqrstuvwxyz", out,
	    sizeof(out)), "abcdefghijkl...");
}

static void
test_sanitize_never_splits_an_escape(void **state)
{
	char out[16];

	/* 10 plain bytes, then an escape that would end past the budget. */
	assert_string_equal(log_sanitize("0123456789\x01zzzzzz", out,
	    sizeof(out)), "0123456789...");
}

static void
test_sanitize_of_exactly_fitting_input_is_not_cut(void **state)
{
	char out[8];

	assert_string_equal(log_sanitize("1234567", out, sizeof(out)),
	    "1234567");
	assert_string_equal(log_sanitize("12345678", out, sizeof(out)),
	    "1234...");
}

static void
test_sanitize_of_null_says_null(void **state)
{
	char out[16];

	assert_string_equal(log_sanitize(NULL, out, sizeof(out)), "(null)");
}

static void
test_sanitize_with_no_output_space_returns_empty_string(void **state)
{
	char out[1] = { 'z' };

	assert_string_equal(log_sanitize("abc", out, 0), "");
	assert_int_equal(out[0], 'z');
	assert_string_equal(log_sanitize("abc", out, 1), "");
}

static void
test_sanitize_with_tiny_output_is_still_terminated(void **state)
{
	char out[3];

	log_sanitize("abcdef", out, sizeof(out));
	assert_true(strlen(out) < sizeof(out));
}

static void
test_sanitize_returns_out_for_use_inside_a_log_call(void **state)
{
	char out[16];

	assert_ptr_equal(log_sanitize("x", out, sizeof(out)), out);
}

#define CAP_TEST(t) \
	cmocka_unit_test_setup_teardown(t, setup_capture, teardown_capture)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		CAP_TEST(test_line_has_timestamp_program_pid_procname_and_level),
		CAP_TEST(test_line_without_procname_has_no_stray_space),
		CAP_TEST(test_warn_appends_strerror_of_errno),
		CAP_TEST(test_warnx_does_not_append_errno),
		CAP_TEST(test_logging_leaves_errno_unchanged),
		CAP_TEST(test_debug_is_silent_at_verbosity_zero),
		CAP_TEST(test_debug_is_printed_when_verbose),
		CAP_TEST(test_newline_in_message_cannot_forge_a_second_line),
		CAP_TEST(test_overlong_message_is_cut_to_one_line),
		CAP_TEST(test_fatalx_logs_and_exits_with_status_one),
		CAP_TEST(test_fatal_appends_strerror_and_exits_with_status_one),
		CAP_TEST(test_syslog_mode_writes_nothing_to_stderr),
		cmocka_unit_test(test_sanitize_copies_printable_ascii_unchanged),
		cmocka_unit_test(test_sanitize_escapes_newline_return_and_tab),
		cmocka_unit_test(test_sanitize_escapes_backslash_so_escapes_are_unambiguous),
		cmocka_unit_test(test_sanitize_escapes_control_and_non_ascii_bytes_as_hex),
		cmocka_unit_test(test_sanitize_truncates_long_input_with_dots),
		cmocka_unit_test(test_sanitize_never_splits_an_escape),
		cmocka_unit_test(test_sanitize_of_exactly_fitting_input_is_not_cut),
		cmocka_unit_test(test_sanitize_of_null_says_null),
		cmocka_unit_test(test_sanitize_with_no_output_space_returns_empty_string),
		cmocka_unit_test(test_sanitize_with_tiny_output_is_still_terminated),
		cmocka_unit_test(test_sanitize_returns_out_for_use_inside_a_log_call),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
