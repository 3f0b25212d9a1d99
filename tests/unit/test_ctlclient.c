/*
 * test_ctlclient.c: mgmtd's control client against a kerbgated that
 * misbehaves: one that never answers must not hold mgmtd (a single event
 * loop) past the timeout; one that answers something else is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctlclient.h"
#include "ctlproto.h"
#include "ipc.h"
#include "util.h"

struct fixture {
	char	dir[64];
	char	path[108];
	int	lfd;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	assert_non_null(f);
	strcpy(f->dir, "/tmp/kg-test-ctlclient-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/control.sock", f->dir);
	strcpy(sun.sun_path, f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(f->lfd, 4), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	close(f->lfd);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
on_alarm(int sig)
{
	(void)sig;
	_exit(3);
}

/* Runs ctlclient_call in a child (the alarm ends it if it hangs); the
 * child exits 0 when the call failed with a message containing \p needle. */
static int
call_in_child(struct fixture *f, const char *needle)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct ctl_req req = { .type = CTL_MSG_LIST };
		struct ctl_result res;
		char err[256] = "";

		signal(SIGALRM, on_alarm);
		alarm(5);
		if (ctlclient_call(f->path, &req, &res, 300, err, sizeof(err)) == 0)
			_exit(1);
		_exit(strstr(err, needle) != NULL ? 0 : 2);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
test_a_kerbgated_that_never_answers_times_out(void **state)
{
	struct fixture *f = *state;

	/* The listener's backlog accepts the connection; nobody answers. */
	assert_int_equal(call_in_child(f, "did not answer"), 0);
}

static void
test_an_answer_with_another_id_is_refused(void **state)
{
	struct fixture *f = *state;
	struct ctl_result res = { .status = CTL_OK };
	struct kg_ipc_reader rd;
	struct kg_ipc_frame fr;
	uint8_t *p;
	size_t n;
	pid_t pid;
	int fd, st;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {		/* kerbgated: reads the request, answers id 2 */
		fd = accept(f->lfd, NULL, NULL);
		kg_ipc_reader_init(&rd);
		while (kg_ipc_read(&rd, fd) > 0 && kg_ipc_next(&rd, &fr) != 1)
			;
		strcpy(res.text, "not yours");
		if (ctl_result_encode(&res, &p, &n) != 0 ||
		    kg_ipc_send(fd, CTL_MSG_RESULT, 2, p, n) != KG_OK)
			_exit(1);
		sleep(1);
		_exit(0);
	}
	assert_int_equal(call_in_child(f, "not a control answer"), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_a_kerbgated_that_never_answers_times_out,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_an_answer_with_another_id_is_refused,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
