/*
 * server.c: mgmtd's HTTPS connections (server.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <ev.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>

#include "http.h"
#include "log.h"
#include "server.h"
#include "tls.h"
#include "upload.h"
#include "util.h"
#include "web.h"

enum conn_state { C_HANDSHAKE, C_READ, C_WRITE };

struct listener;

struct conn {
	TAILQ_ENTRY(conn)	 entry;		/* in accept order */
	struct ev_loop		*loop;
	struct listener		*l;		/* the one that accepted it */
	const struct server_config *cfg;
	int			 fd;
	struct tls_conn		*tls;
	enum conn_state		 state;
	ev_io			 io;
	ev_timer		 timer;
	char			*in;
	size_t			 in_len, in_cap;
	struct http_head	 head;
	struct http_header	 hdrs[64];
	char			*out;
	size_t			 out_len, out_off;
	struct api_client	 client;
	int			 have_client;
	int			 not_client_auth; /* a certificate without clientAuth */
	char			 peer[48];	/* the client's address */
	uint8_t			 peer_addr[16];	/* its bytes (v4 or v6), for make_room() */
	size_t			 peer_addr_len;
	int			 streaming;	/* the body goes to upload.h */
	int			 checking;	/* ... and RAUC checks it */
	uint64_t		 body_left;	/* streamed bytes still to come */
	ev_tstamp		 stream_start;
};

/*
 * One listening socket: the mutual-TLS API or the web listener.  Each has
 * its own SERVER_MAX_CONNS slots, so that the web listener, where anyone
 * who reaches the port completes the handshake, can never take the API's.
 */
struct listener {
	ev_io			 io;
	const struct server_config *cfg;
	unsigned		 nconns;
};

static TAILQ_HEAD(, conn) conns = TAILQ_HEAD_INITIALIZER(conns);

/*
 * A line anyone who reaches a port can cause again and again (a failed
 * handshake, an eviction): at most one in QUIET_S, saying how many were
 * left out, so that a flood cannot fill /data with the log.
 */
#define QUIET_S	10.0

struct quiet {
	ev_tstamp	 last;
	unsigned	 left_out;
};

static struct quiet quiet_handshake, quiet_evict;

/* 1 when a line may be logged now; *left_out: how many were not since. */
static int
quiet_ok(struct quiet *q, ev_tstamp now, unsigned *left_out)
{
	if (q->last != 0 && now - q->last < QUIET_S) {
		q->left_out++;
		return 0;
	}
	*left_out = q->left_out;
	q->left_out = 0;
	q->last = now;
	return 1;
}

const char *
server_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 507: return "Insufficient Storage";
	case 503: return "Service Unavailable";
	}
	return status < 500 ? "Bad Request" : "Internal Server Error";
}

static void
conn_free(struct conn *c)
{
	ev_io_stop(c->loop, &c->io);
	ev_timer_stop(c->loop, &c->timer);
	if (c->tls != NULL) {
		if (c->state == C_WRITE)
			(void)tls_close_notify(c->tls);
		tls_conn_free(c->tls);
	}
	close(c->fd);
	if (c->streaming)	/* cut short: the upload is incomplete */
		upload_abort(c->cfg->web, c->body_left);
	if (c->checking)
		upload_detach(c->cfg->web, c);
	kg_freezero(c->in, c->in_cap);	/* a body may hold a password */
	free(c->out);
	TAILQ_REMOVE(&conns, c, entry);
	c->l->nconns--;
	free(c);
}

static void
want(struct conn *c, int events)
{
	ev_io_stop(c->loop, &c->io);
	ev_io_set(&c->io, c->fd, events);
	ev_io_start(c->loop, &c->io);
}

/* The web listener's page headers: they load only from this appliance. */
#define PAGE_HEADERS "Content-Security-Policy: default-src 'self'; img-src 'self' data:; " \
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'\r\n" \
	"X-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n" \
	"Strict-Transport-Security: max-age=31536000\r\n"

/* Queues a whole answer and switches to writing it. */
static void
respond_full(struct conn *c, int status, const char *ctype, const char *extra,
    int is_page, const char *body, size_t body_len)
{
	int n;

	free(c->out);
	c->out = NULL;
	n = asprintf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nCache-Control: %s\r\n%s%s"
	    "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
	    status, server_reason(status), ctype, body_len, is_page ? "no-cache" : "no-store",
	    c->cfg->web != NULL ? PAGE_HEADERS : "", extra ? extra : "");
	if (n < 0 || (c->out = realloc(c->out, (size_t)n + body_len + 1)) == NULL) {
		c->out = NULL;
		conn_free(c);
		return;
	}
	memcpy(c->out + n, body, body_len);
	c->out_len = (size_t)n + body_len;
	c->out_off = 0;
	c->state = C_WRITE;
	want(c, EV_WRITE);
}

static void
respond(struct conn *c, int status, const char *json, size_t json_len)
{
	respond_full(c, status, "application/json", NULL, 0, json, json_len);
}

static void
respond_error(struct conn *c, int status, const char *code, const char *msg)
{
	char body[384];
	int n = snprintf(body, sizeof(body),
	    "{\"ok\":false,\"error\":\"%s\",\"message\":\"%s\"}", code, msg);

	respond(c, status, body, n > 0 ? (size_t)n : 0);
}

/*
 * A management client's certificate says so: extended key usage clientAuth,
 * named.  mbedTLS accepts a certificate without the extension for either
 * end, and one with anyExtendedKeyUsage for any usage, so an appliance's
 * server certificate from the same CA would otherwise be an admin.
 */
static int
is_client_auth(const mbedtls_x509_crt *crt)
{
	const mbedtls_x509_sequence *u;

	for (u = &crt->ext_key_usage; u != NULL && u->buf.p != NULL; u = u->next)
		if (MBEDTLS_OID_CMP(MBEDTLS_OID_CLIENT_AUTH, &u->buf) == 0)
			return 1;
	return 0;
}

/* The client certificate's subject and fingerprint, for the audit log. */
static void
note_client(struct conn *c)
{
	mbedtls_x509_crt crt;
	const uint8_t *der;
	uint8_t sum[32];
	size_t len, i;

	if ((der = tls_conn_peer_cert_der(c->tls, &len)) == NULL)
		return;
	mbedtls_x509_crt_init(&crt);
	if (mbedtls_x509_crt_parse_der(&crt, der, len) != 0) {
		mbedtls_x509_crt_free(&crt);
		return;
	}
	if (!is_client_auth(&crt)) {
		c->not_client_auth = 1;
		log_info("management connection refused: its certificate has no "
		    "extended key usage clientAuth");
	} else if (mbedtls_x509_dn_gets(c->client.subject, sizeof(c->client.subject),
	    &crt.subject) > 0 && tls_cert_sha256(der, len, sum) == 0) {
		for (i = 0; i < sizeof(sum); i++)
			snprintf(c->client.fingerprint + 2 * i, 3, "%02x", sum[i]);
		c->have_client = 1;
	}
	mbedtls_x509_crt_free(&crt);
}

static void
web_request_of(struct conn *c, struct web_request *rq)
{
	memset(rq, 0, sizeof(*rq));
	rq->head = &c->head;
	rq->body = c->in + c->head.head_len;
	rq->body_len = c->head.has_content_length ? (size_t)c->head.content_length : 0;
	rq->peer = c->peer;
}

static void
web_respond(struct conn *c, struct web_response *rs)
{
	respond_full(c, rs->status, rs->ctype ? rs->ctype : "application/json", rs->headers,
	    rs->is_page, rs->body ? rs->body : "{}", rs->body ? rs->body_len : 2);
	web_response_free(rs);
}

static void
handle_web(struct conn *c)
{
	struct web_request rq;
	struct web_response rs;

	web_request_of(c, &rq);
	web_handle(c->cfg->web, &rq, &rs);
	kg_zero(c->in, c->in_len);
	web_respond(c, &rs);
}

static void
handle(struct conn *c)
{
	struct api_request rq;
	struct api_response rs;

	if (c->cfg->web != NULL) {
		handle_web(c);
		return;
	}
	memset(&rq, 0, sizeof(rq));
	rq.method = c->head.method;
	rq.method_len = c->head.method_len;
	rq.path = c->head.target;
	rq.path_len = c->head.target_len;
	rq.body = c->in + c->head.head_len;
	rq.body_len = c->head.has_content_length ? (size_t)c->head.content_length : 0;
	rq.client = c->have_client ? &c->client : NULL;
	api_handle(c->cfg->api, &rq, &rs);
	kg_zero(c->in, c->in_len);
	respond(c, rs.status, rs.body ? rs.body : "{}", rs.body ? rs.body_len : 2);
	api_response_free(&rs);
}

static int stream_data(struct conn *c, const char *buf, size_t n);

/* Tells a client that waits for it (Expect: 100-continue) to send the body. */
static void
send_continue(struct conn *c)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	size_t off = 0;
	ssize_t n;
	int tries = 0;

	while (off < sizeof(cont) - 1 && tries++ < 100) {
		n = tls_write(c->tls, cont + off, sizeof(cont) - 1 - off);
		if (n > 0)
			off += (size_t)n;
		else if (n != TLS_WANT_WRITE && n != TLS_WANT_READ)
			return;
	}
}

/* A firmware bundle: its body goes to upload.h as it comes, never whole in
 * memory.  0: go on reading; -1: answered (refused or done). */
static int
stream_begin(struct conn *c)
{
	struct web_request rq;
	struct web_response rs;
	size_t have = c->in_len - c->head.head_len;

	memset(&rs, 0, sizeof(rs));
	web_request_of(c, &rq);
	rq.body = NULL;
	rq.body_len = 0;
	if (web_authorize(c->cfg->web, &rq, &rs) != 0 ||
	    upload_begin(c->cfg->web, &rq, c->head.has_content_length ?
	    c->head.content_length : 0, &rs) != 0) {
		web_respond(c, &rs);
		return -1;
	}
	c->streaming = 1;
	c->body_left = c->head.content_length;
	c->stream_start = ev_now(c->loop);
	if (c->head.expect_continue && have == 0)
		send_continue(c);
	c->in_len = c->head.head_len;
	return have > 0 ? stream_data(c, c->in + c->head.head_len, have) : 0;
}

/*
 * A bundle that trickles in holds the one upload there is (and a slot)
 * for hours while each byte resets the idle limit: after its first
 * SERVER_CONN_TIMEOUT_S * 2 it must average SERVER_MIN_UPLOAD_RATE.
 */
static int
too_slow(const struct conn *c)
{
	ev_tstamp t = ev_now(c->loop) - c->stream_start;

	return t > 2 * SERVER_CONN_TIMEOUT_S &&
	    (double)(c->head.content_length - c->body_left) < SERVER_MIN_UPLOAD_RATE * t;
}

/* RAUC's verdict on the bundle this connection uploaded. */
static void
stream_checked(void *arg, struct web_response *rs)
{
	struct conn *c = arg;

	c->checking = 0;
	c->timer.repeat = SERVER_CONN_TIMEOUT_S;
	ev_timer_again(c->loop, &c->timer);
	web_respond(c, rs);
}

/* Bytes of a streamed body; answers when the last one is in. */
static int
stream_data(struct conn *c, const char *buf, size_t n)
{
	struct web_response rs;

	memset(&rs, 0, sizeof(rs));
	if (n > c->body_left)
		n = (size_t)c->body_left;
	if (upload_write(c->cfg->web, buf, n, &rs) != 0) {
		c->streaming = 0;
		web_respond(c, &rs);
		return -1;
	}
	c->body_left -= n;
	if (too_slow(c)) {
		upload_stop(c->cfg->web, c->body_left, "too slow", "the upload was "
		    "too slow (below 4 KiB/s)");
		c->streaming = 0;
		respond_error(c, 408, "slow", "the upload is too slow (below "
		    "4 KiB/s): nothing was changed; upload it again over a faster link");
		return -1;
	}
	ev_timer_again(c->loop, &c->timer);	/* an idle limit while it streams */
	if (c->body_left > 0)
		return 0;
	c->streaming = 0;
	if (upload_end(c->cfg->web, &rs, stream_checked, c) == 0) {
		web_respond(c, &rs);
		return -1;
	}
	/* The answer comes when RAUC is done: read nothing more meanwhile. */
	c->checking = 1;
	ev_io_stop(c->loop, &c->io);
	c->timer.repeat = UPLOAD_CHECK_MS / 1000 + SERVER_CONN_TIMEOUT_S;
	ev_timer_again(c->loop, &c->timer);
	return -1;
}

static int
streams(const struct conn *c)
{
	static const char path[] = UPLOAD_PATH;

	return c->cfg->web != NULL && c->head.method_len == 4 &&
	    memcmp(c->head.method, "POST", 4) == 0 &&
	    c->head.target_len == sizeof(path) - 1 &&
	    memcmp(c->head.target, path, sizeof(path) - 1) == 0;
}

/* Reads what TLS has; answers once the head and the whole body are in. */
static void
on_read(struct conn *c)
{
	struct http_limits lim = { 0 };
	size_t streamed = 0;
	ssize_t n;
	int rc;

	for (;;) {
		/* A fast upload must not hold the loop (and the other
		 * listener) until it ends: a turn, then the others'. */
		if (streamed >= SERVER_READ_TURN) {
			ev_feed_event(c->loop, &c->io, EV_READ);
			return;
		}
		if (c->in_len == c->in_cap) {
			respond_error(c, 413, "size", "the request is too large");
			return;
		}
		n = tls_read(c->tls, c->in + c->in_len, c->in_cap - c->in_len);
		if (n == TLS_WANT_READ) {
			want(c, EV_READ);
			return;
		}
		if (n == TLS_WANT_WRITE) {
			want(c, EV_WRITE);
			return;
		}
		if (n <= 0) {
			conn_free(c);
			return;
		}
		if (c->streaming) {
			if (stream_data(c, c->in + c->in_len, (size_t)n) < 0)
				return;
			streamed += (size_t)n;
			continue;
		}
		c->in_len += (size_t)n;
		if (c->head.head_len == 0) {
			lim.max_head_bytes = SERVER_MAX_HEAD;
			rc = http_parse_request(c->in, c->in_len, &lim, c->hdrs,
			    KG_NELEM(c->hdrs), &c->head);
			if (rc == HTTP_NEED_MORE)
				continue;
			if (rc < 0) {
				respond_error(c, http_error_status(rc), "http",
				    http_strerror(rc));
				return;
			}
			if (c->head.body == HTTP_BODY_CHUNKED) {
				respond_error(c, 411, "length", "send the body "
				    "with a Content-Length");
				return;
			}
			if (streams(c)) {
				if (stream_begin(c) < 0)
					return;
				continue;
			}
			if (c->head.has_content_length &&
			    c->head.content_length > c->cfg->max_body) {
				respond_error(c, 413, "size", "the body is larger "
				    "than the API accepts");
				return;
			}
		}
		if (c->in_len >= c->head.head_len + (c->head.has_content_length ?
		    (size_t)c->head.content_length : 0)) {
			handle(c);
			return;
		}
	}
}

static void
on_write(struct conn *c)
{
	ssize_t n;

	while (c->out_off < c->out_len) {
		n = tls_write(c->tls, c->out + c->out_off, c->out_len - c->out_off);
		if (n == TLS_WANT_WRITE) {
			want(c, EV_WRITE);
			return;
		}
		if (n == TLS_WANT_READ) {
			want(c, EV_READ);
			return;
		}
		if (n <= 0) {
			conn_free(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	conn_free(c);
}

static void
on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;
	unsigned left_out;
	int rc;

	(void)revents;
	if (c->state == C_HANDSHAKE) {
		rc = tls_handshake(c->tls);
		if (rc == TLS_WANT_READ) {
			want(c, EV_READ);
			return;
		}
		if (rc == TLS_WANT_WRITE) {
			want(c, EV_WRITE);
			return;
		}
		if (rc != TLS_OK) {
			if (quiet_ok(&quiet_handshake, ev_now(loop), &left_out))
				log_info("%s connection refused in the TLS handshake: "
				    "%s (%u more in the last %.0f s not logged)",
				    c->cfg->web != NULL ? "web" : "management",
				    tls_conn_error(c->tls), left_out, QUIET_S);
			conn_free(c);
			return;
		}
		note_client(c);
		c->state = C_READ;
		/* Answered before anything is read: a connection past the
		 * handshake holds a slot make_room() does not take back. */
		if (c->not_client_auth) {
			respond_error(c, 403, "client", "the client certificate is not "
			    "one for TLS client authentication: issue it with extended "
			    "key usage clientAuth (docs/api.md)");
			return;
		}
	}
	if (c->state == C_READ) {
		on_read(c);
		return;
	}
	on_write(c);
}

static void
on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	conn_free(w->data);
}

/* The address bytes of a peer (no port), for make_room(). */
static size_t
peer_address(const struct sockaddr_storage *ss, uint8_t out[16])
{
	if (ss->ss_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)ss)->sin_addr, 4);
		return 4;
	}
	if (ss->ss_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
		return 16;
	}
	return 0;
}

static int
same_peer(const struct conn *c, const uint8_t *peer, size_t peer_len)
{
	return peer_len > 0 && c->peer_addr_len == peer_len &&
	    memcmp(c->peer_addr, peer, peer_len) == 0;
}

/*
 * A connection that may be taken back for a newcomer: one still in its
 * TLS handshake (anyone who can reach the port can hold those, and on the
 * API only a management client gets past it), or, on the web listener,
 * one past it whose request is not whole yet: a browser's spare
 * connection, or someone holding slots a byte at a time (a browser sends
 * its request at once).  Never one that is answering, nor an admin's
 * upload streaming in or being checked.
 */
static int
evictable(const struct conn *c)
{
	if (c->state == C_HANDSHAKE)
		return 1;
	return c->cfg->web != NULL && c->state == C_READ && !c->streaming && !c->checking;
}

/*
 * Makes room for a newcomer on listener \p l: an address that already
 * holds SERVER_MAX_PER_PEER connections there gives up its own oldest
 * evictable one; a full listener gives up the oldest evictable one of the
 * newcomer's own address, else the oldest.  A flood from one address thus
 * pushes out only its own connections.  0 when a slot is free.
 */
static int
make_room(struct listener *l, const uint8_t *peer, size_t peer_len)
{
	struct conn *c, *victim = NULL, *own = NULL;
	unsigned from_peer = 0, left_out;

	TAILQ_FOREACH(c, &conns, entry) {
		if (c->l != l)
			continue;
		if (same_peer(c, peer, peer_len)) {
			from_peer++;
			if (own == NULL && evictable(c))
				own = c;
		} else if (victim == NULL && evictable(c))
			victim = c;
	}
	if (from_peer >= SERVER_MAX_PER_PEER) {
		if (own == NULL)
			return -1;
		victim = own;
	} else if (l->nconns < SERVER_MAX_CONNS)
		return 0;
	else if (own != NULL)
		victim = own;
	if (victim == NULL)
		return -1;
	if (quiet_ok(&quiet_evict, ev_now(victim->loop), &left_out))
		log_info("%u %s connections: dropped an idle one (%u more in the last "
		    "%.0f s not logged)", l->nconns, l->cfg->web != NULL ? "web" :
		    "management", left_out, QUIET_S);
	conn_free(victim);
	return 0;
}

/* The client's address, for the login rate limit and the audit log. */
static void
note_peer(struct conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	kg_strlcpy(c->peer, "unknown", sizeof(c->peer));
	if (getpeername(c->fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, c->peer,
		    sizeof(c->peer));
	else if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, c->peer,
		    sizeof(c->peer));
}

static void
on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct listener *l = (struct listener *)w;
	const struct server_config *cfg = l->cfg;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	uint8_t peer[16];
	size_t peer_len;
	struct conn *c;
	int fd;

	(void)revents;
	while ((fd = accept4(w->fd, (struct sockaddr *)&ss, &sl,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		peer_len = peer_address(&ss, peer);
		sl = sizeof(ss);
		if (make_room(l, peer, peer_len) < 0 || (c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		memcpy(c->peer_addr, peer, peer_len);
		c->peer_addr_len = peer_len;
		c->in_cap = SERVER_MAX_HEAD + cfg->max_body;
		if ((c->in = malloc(c->in_cap)) == NULL ||
		    (c->tls = tls_conn_new_server(cfg->tls, fd)) == NULL) {
			free(c->in);
			free(c);
			close(fd);
			continue;
		}
		l->nconns++;
		TAILQ_INSERT_TAIL(&conns, c, entry);
		c->l = l;
		c->loop = loop;
		c->cfg = cfg;
		c->fd = fd;
		c->state = C_HANDSHAKE;
		note_peer(c);
		ev_io_init(&c->io, on_io, fd, EV_READ);
		c->io.data = c;
		ev_io_start(loop, &c->io);
		ev_timer_init(&c->timer, on_timeout, SERVER_CONN_TIMEOUT_S,
		    SERVER_CONN_TIMEOUT_S);
		c->timer.data = c;
		ev_timer_start(loop, &c->timer);
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		log_warn("accept");
}

int
server_start(struct ev_loop *loop, const struct server_config *cfg)
{
	struct listener *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return -1;
	l->cfg = cfg;
	ev_io_init(&l->io, on_accept, cfg->listen_fd, EV_READ);
	ev_io_start(loop, &l->io);
	return 0;
}
