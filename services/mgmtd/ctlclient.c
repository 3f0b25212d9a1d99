/*
 * ctlclient.c: one control request and its answer (ctlclient.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctlclient.h"
#include "ipc.h"
#include "util.h"

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int
connect_ctl(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (kg_strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >= sizeof(sun.sun_path))
		return kg_seterr(err, errlen, "control socket path too long: %s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return kg_seterr(err, errlen, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;

		close(fd);
		if (e == ENOENT || e == ECONNREFUSED)
			return kg_seterr(err, errlen, "kerbgated is not running (no control "
			    "socket at %s): start it, then retry", path);
		if (e == EACCES)
			return kg_seterr(err, errlen, "not allowed to use %s: kerbgate-mgmtd "
			    "must run in the control socket's group", path);
		return kg_seterr(err, errlen, "cannot reach kerbgated at %s: %s", path,
		    strerror(e));
	}
	return fd;
}

int
ctlclient_call(const char *path, const struct ctl_req *req,
    struct ctl_result *res, int timeout_ms, char *err, size_t errlen)
{
	struct kg_ipc_reader rd;
	struct kg_ipc_frame fr;
	struct pollfd pfd;
	uint8_t *payload = NULL;
	size_t plen = 0;
	long deadline = now_ms() + timeout_ms;
	int fd, rc, got = -1;

	if ((fd = connect_ctl(path, err, errlen)) < 0)
		return -1;
	if ((rc = ctl_req_encode(req, &payload, &plen)) != 0) {
		close(fd);
		return kg_seterr(err, errlen, "cannot encode the request: %s", kg_strerror(rc));
	}
	rc = kg_ipc_send(fd, req->type, 1, payload, plen);
	kg_freezero(payload, plen);
	if (rc != KG_OK) {
		close(fd);
		return kg_seterr(err, errlen, "kerbgated closed the control socket: %s",
		    kg_strerror(rc));
	}
	kg_ipc_reader_init(&rd);
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (got < 0) {
		long left = deadline - now_ms();

		if (left <= 0) {
			kg_seterr(err, errlen, "kerbgated did not answer within %d s "
			    "(the KDC may be unreachable)", timeout_ms / 1000);
			break;
		}
		/* The socket blocks: read only what poll says is there, or a
		 * kerbgated that never answers holds mgmtd past the deadline. */
		rc = poll(&pfd, 1, (int)left);
		if (rc < 0 && errno != EINTR) {
			kg_seterr(err, errlen, "poll: %s", strerror(errno));
			break;
		}
		if (rc <= 0)
			continue;
		rc = kg_ipc_read(&rd, fd);
		if (rc == KG_ERR_AGAIN)
			continue;
		if (rc < 0) {
			kg_seterr(err, errlen, "kerbgated closed the control socket before "
			    "answering: %s", kg_strerror(rc));
			break;
		}
		rc = kg_ipc_next(&rd, &fr);
		if (rc == 0)
			continue;
		if (rc < 0 || fr.type != CTL_MSG_RESULT || fr.id != 1 ||
		    ctl_result_decode(fr.payload, fr.len, res) != 0 || res->sealed != NULL) {
			kg_seterr(err, errlen, "kerbgated's answer is not a control answer");
			break;
		}
		got = 0;
	}
	kg_ipc_reader_free(&rd);
	close(fd);
	return got;
}
