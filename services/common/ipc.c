/*
 * ipc.c - framed IPC: blocking send, incremental reader, non-blocking
 * writer queue.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "util.h"

_Static_assert(sizeof(struct kg_ipc_hdr) == KG_IPC_HDR_LEN,
    "the IPC header has no padding");

/* How much one kg_ipc_read() asks the kernel for. */
#define KG_IPC_READ_CHUNK 16384

static void
ipc_hdr(struct kg_ipc_hdr *h, uint16_t type, uint32_t id, size_t n)
{
	h->len = (uint32_t)n;
	h->type = type;
	h->flags = 0;
	h->id = id;
}

static int
ipc_errno_to_kg(int err)
{
	if (err == EPIPE || err == ECONNRESET)
		return KG_ERR_CLOSED;
	return KG_ERR_IO;
}

/* Waits until fd is writable; only reached when a caller hands
 * kg_ipc_send() a non-blocking socket. */
static int
ipc_wait_writable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };

	if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
		return KG_ERR_IO;
	return KG_OK;
}

static int
ipc_sendmsg_all(int fd, struct iovec *iov, size_t iovcnt)
{
	struct msghdr msg;
	ssize_t n;
	int rc;

	while (iovcnt > 0) {
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = iov;
		msg.msg_iovlen = iovcnt;
		if ((n = sendmsg(fd, &msg, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if ((rc = ipc_wait_writable(fd)) != KG_OK)
					return rc;
				continue;
			}
			return ipc_errno_to_kg(errno);
		}
		while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return KG_OK;
}

int
kg_ipc_sendv(int fd, uint16_t type, uint32_t id, const void *p1, size_t n1,
    const void *p2, size_t n2)
{
	struct kg_ipc_hdr h;
	struct iovec iov[3];

	if (n1 > KG_IPC_MAX_PAYLOAD || n2 > KG_IPC_MAX_PAYLOAD - n1)
		return KG_ERR_TOOBIG;
	ipc_hdr(&h, type, id, n1 + n2);
	iov[0].iov_base = &h;
	iov[0].iov_len = sizeof(h);
	iov[1].iov_base = (void *)(uintptr_t)p1;
	iov[1].iov_len = n1;
	iov[2].iov_base = (void *)(uintptr_t)p2;
	iov[2].iov_len = n2;
	return ipc_sendmsg_all(fd, iov, 3);
}

int
kg_ipc_send(int fd, uint16_t type, uint32_t id, const void *p, size_t n)
{
	return kg_ipc_sendv(fd, type, id, p, n, NULL, 0);
}

void
kg_ipc_reader_init(struct kg_ipc_reader *r)
{
	memset(r, 0, sizeof(*r));
	kg_buf_init(&r->buf, KG_IPC_MAX_FRAME);
}

int
kg_ipc_read(struct kg_ipc_reader *r, int fd)
{
	uint8_t *p;
	size_t avail;
	ssize_t n;
	int rc;

	if (r->error != 0)
		return r->error;
	if ((rc = kg_buf_space(&r->buf, KG_IPC_READ_CHUNK, &p, &avail)) != KG_OK)
		return rc;
	do {
		n = read(fd, p, avail);
	} while (n < 0 && errno == EINTR);
	if (n <= 0) {
		kg_buf_release(&r->buf);
		if (n == 0)
			return KG_ERR_CLOSED;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return KG_ERR_AGAIN;
		return ipc_errno_to_kg(errno);
	}
	kg_buf_commit(&r->buf, (size_t)n);
	return (int)n;
}

int
kg_ipc_feed(struct kg_ipc_reader *r, const void *p, size_t n)
{
	if (r->error != 0)
		return r->error;
	return kg_buf_append(&r->buf, p, n);
}

int
kg_ipc_next(struct kg_ipc_reader *r, struct kg_ipc_frame *out)
{
	struct kg_ipc_hdr h;

	if (r->error != 0)
		return r->error;
	if (r->pending > 0) {
		kg_buf_consume(&r->buf, r->pending);
		r->pending = 0;
	}
	if (kg_buf_len(&r->buf) < KG_IPC_HDR_LEN) {
		kg_buf_release(&r->buf);
		return 0;
	}
	memcpy(&h, kg_buf_data(&r->buf), sizeof(h));
	if (h.len > KG_IPC_MAX_PAYLOAD || h.flags != 0) {
		r->error = KG_ERR_PROTO;
		kg_buf_free(&r->buf);
		return r->error;
	}
	if (kg_buf_len(&r->buf) - KG_IPC_HDR_LEN < h.len)
		return 0;
	out->type = h.type;
	out->flags = h.flags;
	out->id = h.id;
	out->len = h.len;
	out->payload = h.len > 0 ? kg_buf_data(&r->buf) + KG_IPC_HDR_LEN : NULL;
	r->pending = KG_IPC_HDR_LEN + (size_t)h.len;
	return 1;
}

void
kg_ipc_reader_free(struct kg_ipc_reader *r)
{
	kg_buf_free(&r->buf);
	r->pending = 0;
}

void
kg_ipc_writer_init(struct kg_ipc_writer *w, size_t max_queued)
{
	kg_buf_init(&w->buf, max_queued);
}

int
kg_ipc_queue(struct kg_ipc_writer *w, uint16_t type, uint32_t id,
    const void *p, size_t n)
{
	struct kg_ipc_hdr h;
	uint8_t *dst;
	size_t avail;
	int rc;

	if (n > KG_IPC_MAX_PAYLOAD ||
	    KG_IPC_HDR_LEN + n > w->buf.max - w->buf.len)
		return KG_ERR_TOOBIG;
	if ((rc = kg_buf_space(&w->buf, KG_IPC_HDR_LEN + n, &dst, &avail)) != KG_OK)
		return rc;
	ipc_hdr(&h, type, id, n);
	memcpy(dst, &h, sizeof(h));
	if (n > 0)
		memcpy(dst + sizeof(h), p, n);
	kg_buf_commit(&w->buf, KG_IPC_HDR_LEN + n);
	return KG_OK;
}

int
kg_ipc_flush(struct kg_ipc_writer *w, int fd)
{
	ssize_t n;

	while (kg_buf_len(&w->buf) > 0) {
		n = send(fd, kg_buf_data(&w->buf), kg_buf_len(&w->buf),
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			return ipc_errno_to_kg(errno);
		}
		kg_buf_consume(&w->buf, (size_t)n);
	}
	kg_buf_release(&w->buf);
	return 0;
}

void
kg_ipc_writer_free(struct kg_ipc_writer *w)
{
	kg_buf_free(&w->buf);
}

int
kg_ipc_send_fd(int sock, uint32_t tag, int fd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { &tag, sizeof(tag) };
	struct msghdr msg;
	struct cmsghdr *c;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return ipc_errno_to_kg(errno);
	/* Four bytes on a stream socket: all or (above) an error. */
	return n == (ssize_t)sizeof(tag) ? KG_OK : KG_ERR_IO;
}

int
kg_ipc_recv_fd(int sock, uint32_t *tag, int *fd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} cm;
	struct iovec iov = { tag, sizeof(*tag) };
	struct msghdr msg;
	struct cmsghdr *c;
	int fds[2] = { -1, -1 }, nfds = 0;
	ssize_t n;

	*fd = -1;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	do {
		n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? KG_ERR_AGAIN :
		    ipc_errno_to_kg(errno);
	if (n == 0)
		return KG_ERR_CLOSED;
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		size_t len;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		len = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		while (len-- > 0 && nfds < 2)
			memcpy(&fds[nfds++], CMSG_DATA(c) + len * sizeof(int),
			    sizeof(int));
	}
	/* Exactly one descriptor with a whole tag; anything else is closed. */
	if (nfds != 1 || n != (ssize_t)sizeof(*tag) ||
	    (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) != 0) {
		while (nfds > 0)
			close(fds[--nfds]);
		return KG_ERR_PROTO;
	}
	*fd = fds[0];
	return KG_OK;
}
