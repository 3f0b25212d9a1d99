/*
 * backend.c: the benchmark's back-end, a minimal HTTP/1.1 responder.
 *
 * One thread, epoll, level-triggered.  Every request head (bodies are not
 * expected: the benchmark sends GETs) is answered with the same small 200
 * response; connections stay open unless the request said
 * "Connection: close".  Pipelined requests are answered in order.  It only
 * has to be fast enough not to be what the benchmark measures.
 *
 *   kgbackend ADDRESS PORT [SECONDS]
 *
 * It exits by itself after SECONDS (default 3600) or on SIGTERM/SIGINT.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RBUF	8192
#define RBUF_MAX (256 * 1024)	/* Apache forwards the Negotiate header */
#define MAXEV	256

static const char resp_keep[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n";
static const char resp_close[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
    "Connection: close\r\n\r\nok\n";

struct bconn {
	int	 fd;
	size_t	 len;		/* bytes in buf */
	size_t	 cap;
	char	*buf;
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
bconn_close(int ep, struct bconn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->buf);
	free(c);
}

/* Does this request head ask to close?  A plain, case-insensitive scan. */
static int
wants_close(const char *head, size_t len)
{
	static const char key[] = "\nconnection:";
	size_t i, k = sizeof(key) - 1;

	for (i = 0; i + k <= len; i++) {
		if (strncasecmp(head + i, key, k) != 0)
			continue;
		for (i += k; i < len && (head[i] == ' ' || head[i] == '\t'); i++)
			;
		return len - i >= 5 && strncasecmp(head + i, "close", 5) == 0;
	}
	return 0;
}

/* Answers every complete head in the buffer; -1: close the connection. */
static int
serve(struct bconn *c)
{
	char *end;
	size_t used = 0;
	int close_after = 0;

	while (!close_after && (end = memmem(c->buf + used, c->len - used,
	    "\r\n\r\n", 4)) != NULL) {
		size_t hlen = (size_t)(end - (c->buf + used)) + 4;
		const char *r;
		size_t rlen;

		close_after = wants_close(c->buf + used, hlen);
		r = close_after ? resp_close : resp_keep;
		rlen = close_after ? sizeof(resp_close) - 1 : sizeof(resp_keep) - 1;
		/* The response is tiny: a short write on loopback means the
		 * peer is not reading, which the benchmark never does. */
		if (send(c->fd, r, rlen, MSG_NOSIGNAL) != (ssize_t)rlen)
			return -1;
		used += hlen;
	}
	if (close_after)
		return -1;
	memmove(c->buf, c->buf + used, c->len - used);
	c->len -= used;
	if (c->len == c->cap) {
		char *nb;

		if (c->cap >= RBUF_MAX || (nb = realloc(c->buf, c->cap * 2)) == NULL)
			return -1;	/* a head larger than we care for */
		c->buf = nb;
		c->cap *= 2;
	}
	return 0;
}

static void
accept_all(int ep, int lfd)
{
	struct epoll_event ev;
	struct bconn *c;
	int fd, one = 1;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if ((c = calloc(1, sizeof(*c))) == NULL ||
		    (c->buf = malloc(RBUF)) == NULL) {
			free(c);
			close(fd);
			continue;
		}
		c->cap = RBUF;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
		}
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	struct epoll_event ev, evs[MAXEV];
	struct timespec t0, now;
	double limit = 3600;
	int lfd, ep, n, i, one = 1;
	static int listen_tag;

	if (argc < 3) {
		fprintf(stderr, "usage: kgbackend ADDRESS PORT [SECONDS]\n");
		return 2;
	}
	if (argc > 3)
		limit = atof(argv[3]);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1) {
		fprintf(stderr, "kgbackend: bad address %s\n", argv[1]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(lfd, 4096) < 0) {
		perror("kgbackend: listen");
		return 1;
	}
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		perror("kgbackend: epoll_create1");
		return 1;
	}
	ev.events = EPOLLIN;
	ev.data.ptr = &listen_tag;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!stop) {
		n = epoll_wait(ep, evs, MAXEV, 500);
		if (n < 0 && errno != EINTR) {
			perror("kgbackend: epoll_wait");
			return 1;
		}
		for (i = 0; i < n; i++) {
			struct bconn *c = evs[i].data.ptr;
			ssize_t r;

			if (evs[i].data.ptr == &listen_tag) {
				accept_all(ep, lfd);
				continue;
			}
			r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0) {
				bconn_close(ep, c);
				continue;
			}
			c->len += (size_t)r;
			if (serve(c) < 0)
				bconn_close(ep, c);
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((double)(now.tv_sec - t0.tv_sec) > limit)
			break;
	}
	return 0;
}
