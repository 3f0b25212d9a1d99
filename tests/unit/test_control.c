/*
 * test_control.c: the parent's control socket, driven with a socketpair as
 * the keyholder: a second client while a request is waiting is refused
 * without losing the first client's answer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "control.h"
#include "ctlproto.h"
#include "ipc.h"
#include "util.h"

struct fixture {
	char		 dir[64];
	char		 path[108];
	struct control	*ctl;
	int		 kh[2];		/* [0] the parent's end, [1] the keyholder's */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	strcpy(f->dir, "/tmp/kg-test-control-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/run/control.sock", f->dir);
	f->ctl = control_new(f->path, "", "", err, sizeof(err));
	if (f->ctl == NULL)
		fail_msg("control_new: %s", err);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, f->kh), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char run[128];

	control_free(f->ctl);
	close(f->kh[0]);
	close(f->kh[1]);
	snprintf(run, sizeof(run), "%s/run", f->dir);
	rmdir(run);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* One round of the parent's poll loop. */
static void
tick(struct fixture *f)
{
	struct pollfd pfd[CONTROL_MAX_FDS];
	size_t n = control_fill(f->ctl, f->kh[0], pfd);

	assert_true(poll(pfd, n, 200) >= 0);
	(void)control_handle(f->ctl, f->kh[0], pfd, n);
}

/* A client connected, with a receive timeout so a lost answer fails the
 * test instead of hanging it. */
static int
client(struct fixture *f)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 3 };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	strcpy(sun.sun_path, f->path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	return fd;
}

static void
send_list(int fd)
{
	struct ctl_req req = { .type = CTL_MSG_LIST };
	uint8_t *p;
	size_t n;

	assert_int_equal(ctl_req_encode(&req, &p, &n), 0);
	assert_int_equal(kg_ipc_send(fd, req.type, 1, p, n), KG_OK);
	free(p);
}

/* The next frame on fd, ticking the parent while waiting; 0 when none. */
static int
next_frame(struct fixture *f, int fd, struct kg_ipc_reader *rd,
    struct kg_ipc_frame *fr)
{
	for (int round = 0; round < 20; round++) {
		int rc = kg_ipc_next(rd, fr);

		if (rc == 1)
			return 1;
		assert_int_equal(rc, 0);
		tick(f);
		rc = kg_ipc_read(rd, fd);
		if (rc == KG_ERR_CLOSED)
			return 0;
		assert_true(rc > 0 || rc == KG_ERR_AGAIN);
	}
	return 0;
}

/* The answer a client receives (one recv at a time: a blocking socket). */
static int
client_answer(int fd, struct ctl_result *res)
{
	struct kg_ipc_reader rd;
	struct kg_ipc_frame fr;
	int rc, got = 0;

	kg_ipc_reader_init(&rd);
	while (!got && (rc = kg_ipc_read(&rd, fd)) > 0)
		if (kg_ipc_next(&rd, &fr) == 1) {
			assert_int_equal(fr.type, CTL_MSG_RESULT);
			assert_int_equal(ctl_result_decode(fr.payload, fr.len, res), 0);
			got = 1;
		}
	kg_ipc_reader_free(&rd);
	return got;
}

static void
test_second_client_is_refused_and_first_answer_is_kept(void **state)
{
	struct fixture *f = *state;
	struct kg_ipc_reader kh;
	struct kg_ipc_frame fr;
	struct ctl_result res = { .status = CTL_OK }, got;
	uint8_t *p;
	size_t n;
	uint32_t id;
	int a, b;

	kg_ipc_reader_init(&kh);
	a = client(f);
	send_list(a);
	tick(f);			/* accepts a */
	assert_int_equal(next_frame(f, f->kh[1], &kh, &fr), 1);
	assert_int_equal(fr.type, CTL_MSG_LIST);
	id = fr.id;

	b = client(f);			/* while a waits for the keyholder */
	tick(f);
	assert_int_equal(client_answer(b, &got), 1);
	assert_int_equal(got.status, CTL_REFUSED);
	assert_non_null(strstr(got.text, "another control request is running"));
	close(b);

	strcpy(res.text, "the answer for a");
	assert_int_equal(ctl_result_encode(&res, &p, &n), 0);
	assert_int_equal(kg_ipc_send(f->kh[1], CTL_MSG_RESULT, id, p, n), KG_OK);
	free(p);
	tick(f);
	assert_int_equal(client_answer(a, &got), 1);
	assert_int_equal(got.status, CTL_OK);
	assert_string_equal(got.text, "the answer for a");
	close(a);
	kg_ipc_reader_free(&kh);
}

/* A client that gave up (mgmtd's timeout) leaves; the next client's request
 * is forwarded, and the late answer to the first one is not given to it. */
static void
test_late_answer_is_not_given_to_the_next_client(void **state)
{
	struct fixture *f = *state;
	struct kg_ipc_reader kh;
	struct kg_ipc_frame fr;
	struct ctl_result res = { .status = CTL_OK }, got;
	uint32_t first, second;
	uint8_t *p;
	size_t n;
	int a, b;

	kg_ipc_reader_init(&kh);
	a = client(f);
	send_list(a);
	tick(f);
	assert_int_equal(next_frame(f, f->kh[1], &kh, &fr), 1);
	first = fr.id;
	close(a);			/* gave up waiting */
	tick(f);

	b = client(f);
	send_list(b);
	tick(f);
	assert_int_equal(next_frame(f, f->kh[1], &kh, &fr), 1);
	second = fr.id;
	assert_int_not_equal(second, first);

	strcpy(res.text, "the answer for a");
	assert_int_equal(ctl_result_encode(&res, &p, &n), 0);
	assert_int_equal(kg_ipc_send(f->kh[1], CTL_MSG_RESULT, first, p, n), KG_OK);
	free(p);
	tick(f);
	strcpy(res.text, "the answer for b");
	assert_int_equal(ctl_result_encode(&res, &p, &n), 0);
	assert_int_equal(kg_ipc_send(f->kh[1], CTL_MSG_RESULT, second, p, n), KG_OK);
	free(p);
	tick(f);
	assert_int_equal(client_answer(b, &got), 1);
	assert_string_equal(got.text, "the answer for b");
	close(b);
	kg_ipc_reader_free(&kh);
}

/* Nothing has reached the keyholder's end of the socketpair. */
static void
keyholder_got_nothing(struct fixture *f)
{
	uint8_t b;

	assert_int_equal(recv(f->kh[1], &b, 1, MSG_DONTWAIT), -1);
}

/* What a client gets for raw bytes it sends (then closes its writing half). */
static void
hostile(struct fixture *f, const void *bytes, size_t n, const char *needle)
{
	struct ctl_result got;
	int fd = client(f);

	assert_int_equal(send(fd, bytes, n, 0), (ssize_t)n);
	if (needle == NULL)	/* a cut frame: the client leaves */
		assert_int_equal(shutdown(fd, SHUT_WR), 0);
	for (int i = 0; i < 4; i++)
		tick(f);
	if (needle != NULL) {
		assert_int_equal(client_answer(fd, &got), 1);
		assert_int_equal(got.status, CTL_REFUSED);
		if (strstr(got.text, needle) == NULL)
			fail_msg("answer \"%s\" lacks \"%s\"", got.text, needle);
	}
	close(fd);
	keyholder_got_nothing(f);
}

/*
 * Frames from a peer in the control group that lie: a length over the
 * limit, a type that is an answer, a stage whose TLV says more than it has,
 * a kvno above 2^31-1, flags set, a frame cut short.  Each is refused (or
 * dropped) without reaching the keyholder, and the socket serves the next
 * client.
 */
static void
test_lying_frames_never_reach_the_keyholder(void **state)
{
	struct fixture *f = *state;
	struct ctl_req stage = { .type = CTL_MSG_STAGE, .kvno = 8 };
	struct kg_ipc_hdr h = { 0 };
	struct kg_ipc_reader kh;
	struct kg_ipc_frame fr;
	uint8_t buf[512], *p;
	size_t n;
	int fd;

	kg_ipc_reader_init(&kh);
	h.len = KG_IPC_MAX_PAYLOAD + 1;
	h.type = CTL_MSG_LIST;
	hostile(f, &h, sizeof(h), "malformed frame");
	h.len = 0;
	h.type = CTL_MSG_RESULT;
	hostile(f, &h, sizeof(h), "malformed frame");
	h.type = CTL_MSG_LIST;
	h.flags = 1;
	hostile(f, &h, sizeof(h), "malformed frame");
	h.flags = 0;

	strcpy(stage.principal, "EXCHASA$@CORP.CONTOSO.COM");
	stage.password = (const uint8_t *)"pw";
	stage.pwlen = 2;
	assert_int_equal(ctl_req_encode(&stage, &p, &n), 0);
	assert_true(KG_IPC_HDR_LEN + n <= sizeof(buf));
	h.type = CTL_MSG_STAGE;
	h.len = (uint32_t)n - 1;	/* the TLV's last byte cut off */
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + KG_IPC_HDR_LEN, p, n - 1);
	hostile(f, buf, KG_IPC_HDR_LEN + n - 1, "malformed request");
	h.len = (uint32_t)n;		/* announced, one byte never sent */
	memcpy(buf, &h, sizeof(h));
	hostile(f, buf, KG_IPC_HDR_LEN + n - 1, NULL);
	kg_freezero(p, n);
	stage.kvno = 0x80000000u;
	assert_int_equal(ctl_req_encode(&stage, &p, &n), 0);
	h.len = (uint32_t)n;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + KG_IPC_HDR_LEN, p, n);
	hostile(f, buf, KG_IPC_HDR_LEN + n, "malformed request");
	kg_freezero(p, n);

	/* The next client is served. */
	fd = client(f);
	send_list(fd);
	tick(f);
	assert_int_equal(next_frame(f, f->kh[1], &kh, &fr), 1);
	assert_int_equal(fr.type, CTL_MSG_LIST);
	close(fd);
	kg_ipc_reader_free(&kh);
}

static void
test_socket_is_not_reachable_by_others(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	char run[128];

	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 077, 0);
	snprintf(run, sizeof(run), "%s/run", f->dir);
	assert_int_equal(lstat(run, &st), 0);
	assert_int_equal(st.st_mode & 077, 0);
}

/* A folder others can write to (e.g. /tmp) would let them swap the socket
 * for a symlink before it is given to the group: refused, and left alone. */
static void
test_folder_writable_by_others_is_refused(void **state)
{
	char dir[] = "/tmp/kg-test-control-XXXXXX", path[128], err[256];
	struct control *c;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 01777), 0);
	snprintf(path, sizeof(path), "%s/control.sock", dir);
	c = control_new(path, "", "", err, sizeof(err));
	assert_null(c);
	assert_non_null(strstr(err, "writable"));
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 01777);
	assert_int_equal(access(path, F_OK), -1);
	control_free(c);
	rmdir(dir);
}

/* With a control group: the socket is root:group 0660, the folder 0750. */
static void
test_group_gets_socket_and_folder(void **state)
{
	char dir[] = "/tmp/kg-test-control-XXXXXX", path[128], run[96], err[256];
	struct control *c;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(run, sizeof(run), "%s/run", dir);
	snprintf(path, sizeof(path), "%s/control.sock", run);
	c = control_new(path, "", "daemon", err, sizeof(err));
	if (c == NULL)
		fail_msg("control_new: %s", err);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_int_equal(st.st_uid, 0);
	assert_int_not_equal(st.st_gid, 0);
	assert_int_equal(lstat(run, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0750);
	control_free(c);
	rmdir(run);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_second_client_is_refused_and_first_answer_is_kept,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_answer_is_not_given_to_the_next_client,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_lying_frames_never_reach_the_keyholder,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_is_not_reachable_by_others,
		    setup, teardown),
		cmocka_unit_test(test_folder_writable_by_others_is_refused),
		cmocka_unit_test(test_group_gets_socket_and_folder),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
