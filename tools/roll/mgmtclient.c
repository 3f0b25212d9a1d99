/*
 * mgmtclient.c: HTTPS requests to the management API (mgmtclient.h), on
 * kerbgated's TLS wrapper and response parser.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "mgmtclient.h"
#include "tls.h"
#include "util.h"

#define MC_MAX_ANSWER	(1024 * 1024)

int
mc_parse_url(const char *url, struct mc_target *t)
{
	const char *h, *colon, *end;

	if (strncmp(url, "https://", 8) != 0)
		return -1;
	h = url + 8;
	end = h + strcspn(h, "/");
	if (*end == '/' && end[1] != '\0')
		return -1;
	colon = memchr(h, ':', (size_t)(end - h));
	if (colon == NULL || colon == h || (size_t)(colon - h) >= sizeof(t->host) ||
	    (size_t)(end - colon - 1) == 0 || (size_t)(end - colon - 1) >= sizeof(t->port))
		return -1;
	memcpy(t->host, h, (size_t)(colon - h));
	t->host[colon - h] = '\0';
	memcpy(t->port, colon + 1, (size_t)(end - colon - 1));
	t->port[end - colon - 1] = '\0';
	return strspn(t->port, "0123456789") == strlen(t->port) ? 0 : -1;
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Waits until fd is ready for what TLS asked; 0, or -1 at the deadline. */
static int
wait_for(int fd, int what, long deadline)
{
	struct pollfd p = { .fd = fd, .events = (short)(what == TLS_WANT_WRITE ? POLLOUT : POLLIN) };
	long left;

	for (;;) {
		if ((left = deadline - now_ms()) <= 0)
			return -1;
		if (poll(&p, 1, (int)left) > 0)
			return 0;
		if (errno != EINTR && errno != 0)
			return -1;
	}
}

static int
connect_to(const struct mc_target *t, long deadline, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -1, rc, soerr;
	socklen_t sl = sizeof(soerr);

	if ((rc = getaddrinfo(t->host, t->port, &hints, &res)) != 0)
		return kg_seterr(err, errlen, "cannot resolve %s: %s", t->host, gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS && wait_for(fd, TLS_WANT_WRITE, deadline) == 0 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0))
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return kg_seterr(err, errlen, "cannot connect to %s:%s (unreachable, or "
		    "kerbgate-mgmtd not running)", t->host, t->port);
	return fd;
}

/* Runs a TLS call until it is done or the deadline passes. */
static ssize_t
tls_until(struct tls_conn *c, int fd, long deadline, int op, void *buf, size_t n)
{
	ssize_t r;

	for (;;) {
		r = op == 0 ? tls_handshake(c) : op == 1 ? tls_write(c, buf, n) :
		    tls_read(c, buf, n);
		if (r != TLS_WANT_READ && r != TLS_WANT_WRITE)
			return r;
		if (wait_for(fd, (int)r, deadline) < 0)
			return TLS_ERR - 100;	/* timed out */
	}
}

static int
write_all(struct tls_conn *c, int fd, long deadline, const char *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		if ((r = tls_until(c, fd, deadline, 1, (void *)p, n)) <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
read_answer(struct tls_conn *c, int fd, long deadline, const char *method, int *status,
    json_t **answer, char *err, size_t errlen)
{
	struct http_header hdrs[32];
	struct http_head head;
	size_t len = 0, cap = 16384, want;
	char *buf = malloc(cap);
	ssize_t r;
	int rc = -1, hl = 0;

	memset(&head, 0, sizeof(head));
	while (buf != NULL) {
		if (len == cap) {
			char *nb;

			if (cap >= MC_MAX_ANSWER || (nb = realloc(buf, cap * 2)) == NULL)
				break;
			buf = nb;
			cap *= 2;
		}
		r = tls_until(c, fd, deadline, 2, buf + len, cap - len);
		if (r == TLS_ERR - 100) {
			kg_seterr(err, errlen, "no answer in time");
			break;
		}
		if (r > 0)
			len += (size_t)r;
		if (hl == 0) {
			hl = http_parse_response(buf, len, NULL, method, strlen(method), hdrs,
			    KG_NELEM(hdrs), &head);
			if (hl < 0) {
				kg_seterr(err, errlen, "the answer is not HTTP: %s", http_strerror(hl));
				break;
			}
		}
		want = hl > 0 && head.has_content_length ? (size_t)hl + head.content_length : 0;
		if (hl > 0 && ((want > 0 && len >= want) || r <= 0)) {
			if (want > 0 && len < want) {
				kg_seterr(err, errlen, "the answer was cut short");
				break;
			}
			*status = head.status;
			*answer = json_loadb(buf + hl, len - (size_t)hl, 0, NULL);
			rc = 0;
			break;
		}
		if (r <= 0) {
			kg_seterr(err, errlen, "the connection closed before an answer: %s",
			    tls_conn_error(c));
			break;
		}
	}
	free(buf);
	return rc;
}

int
mc_request(struct tls_client *cli, const struct mc_target *t, const char *method,
    const char *path, const char *body, int *status, json_t **answer, char *err,
    size_t errlen)
{
	return mc_request_bytes(cli, t, method, path, body ? "application/json" : NULL,
	    body, body ? strlen(body) : 0, status, answer, err, errlen);
}

int
mc_request_bytes(struct tls_client *cli, const struct mc_target *t, const char *method,
    const char *path, const char *ctype, const void *body, size_t blen, int *status,
    json_t **answer, char *err, size_t errlen)
{
	long deadline = now_ms() + MC_TIMEOUT_MS;
	struct tls_conn *c;
	char *req = NULL;
	ssize_t r;
	int fd, n, rc = -1;

	*answer = NULL;
	if ((fd = connect_to(t, now_ms() + 10000, err, errlen)) < 0)
		return -1;
	if ((c = tls_conn_new_client(cli, fd, t->host)) == NULL) {
		close(fd);
		return kg_seterr(err, errlen, "out of memory");
	}
	if ((r = tls_until(c, fd, deadline, 0, NULL, 0)) != TLS_OK) {
		kg_seterr(err, errlen, "TLS with %s failed: %s", t->host,
		    r == TLS_ERR - 100 ? "timed out" : tls_conn_error(c));
		goto out;
	}
	n = asprintf(&req, "%s %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: kerbgate-roll\r\n"
	    "Accept: application/json\r\nConnection: close\r\n%s%s%s%s%zu\r\n\r\n",
	    method, path, t->host, t->port, ctype ? "Content-Type: " : "", ctype ? ctype : "",
	    ctype ? "\r\n" : "", "Content-Length: ", blen);
	if (n < 0) {
		req = NULL;
		kg_seterr(err, errlen, "out of memory");
		goto out;
	}
	if (write_all(c, fd, deadline, req, (size_t)n) < 0 ||
	    write_all(c, fd, deadline, body, blen) < 0) {
		kg_seterr(err, errlen, "cannot send the request: %s", tls_conn_error(c));
		goto out;
	}
	rc = read_answer(c, fd, deadline, method, status, answer, err, errlen);
out:
	free(req);
	tls_conn_free(c);
	close(fd);
	return rc;
}
