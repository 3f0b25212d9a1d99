/*
 * Relay worker: client connections, Negotiate via the keyholder, proxying.
 *
 * One connection is two endpoints (client side, back-end side), each with an
 * input and an output buffer.  Every I/O event runs client_pump(), which
 * moves bytes between buffers and advances the connection's state until no
 * more progress can be made, then decides what to wait for.  Bodies are
 * streamed: only what fits the bounded buffers is held, so an RPC_IN_DATA of
 * 1 GiB costs the same memory as a GET.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <malloc.h>
#include <mbedtls/md5.h>

#include "http.h"
#include "ipc.h"
#include "khproto.h"
#include "log.h"
#include "negotiate.h"
#include "pool.h"
#include "relay.h"
#include "reqfilter.h"
#include "sandbox.h"
#include "sign.h"
#include "tls.h"
#include "tlskey.h"
#include "util.h"

#define IO_CHUNK		16384
#define OUT_HIGH_WATER		(64 * 1024)	/* stop reading the other side */
#define MAX_DRAIN_BODY		(1024 * 1024)	/* drain a refused body up to */
#define KH_TIMEOUT_MS		10000
#define UPSTREAM_IDLE_MS	30000
#define MAX_IDLE_PER_SERVER	64
#define SCRATCH_HEADERS		1000
#define MAX_REQUEST_LINE	16384
#define SRC_BUCKETS		1024	/* per-source connection counts */
#define TRIM_QUIET_S		0.25	/* give memory back once this quiet */
#define TRIM_GAP_S		1.	/* ...but at most this often */
#define TRIM_INTERVAL_S		5.	/* and this often when never quiet */

enum cstate {
	CS_HANDSHAKE,		/* TLS handshake with the client */
	CS_READ_HEAD,		/* waiting for a request head */
	CS_AUTH,		/* waiting for the keyholder */
	CS_CONNECT,		/* waiting for a back-end connection */
	CS_BACKEND_AUTH,	/* kcd: waiting for the keyholder's token */
	CS_PROXY,		/* request forwarded; streaming */
	CS_LOCAL,		/* sending our own response */
	CS_CLOSING,		/* flushing, then close */
};

struct ep {
	int		 fd;
	struct tls_conn	*tls;
	ev_io		 io;
	struct kg_buf	 in;
	struct kg_buf	 out;
	int		 eof;
	int		 error;
	int		 tls_wait;	/* EV_READ/EV_WRITE a TLS call needs */
	int		 handshaken;
};

struct upstream {
	struct ep		 e;
	struct pool_server	*srv;
	struct client		*owner;		/* NULL while idle */
	ev_timer		 timer;
	int			 connected;	/* TCP connect finished */
	int			 sent_any;	/* a request byte went out */
	int			 reused;
	int			 is_private;	/* bound to one client connection:
						   it carried the client's own
						   Authorization, or the back-end
						   challenged on it (NTLM,
						   Negotiate); never pooled */
	struct client		*holder;	/* private, idle: whose it is */
	char			 user[256];	/* kcd: whom the back-end knows
						   this connection as; "" none */
	TAILQ_ENTRY(upstream)	 entry;
};

/* Open client connections from one source address (this worker's). */
struct src_count {
	LIST_ENTRY(src_count)	 entry;
	uint64_t		 hash;
	unsigned		 n;
	char			 peer[64];
};

struct client {
	struct relay		*r;
	struct src_count	*src;		/* NULL: no per-source cap */
	struct ep		 c;
	const struct conf_listener *lst;
	int			 admin;
	enum cstate		 state;
	ev_timer		 timer;
	uint64_t		 deadline_ms;
	uint64_t		 head_start_ms;	/* first byte of the current head */
	uint64_t		 accept_ms;	/* the connection was accepted */
	uint64_t		 last_io_ms;
	char			 peer[64];
	uint64_t		 peer_hash;
	uint8_t			 cb_hash[16];	/* VIP cert binding, TLS only */
	int			 has_cb;
	/* authentication, bound to the connection */
	int			 authed;
	int			 auth_vhost;
	char			 principal[256];
	uint64_t		 auth_expiry;	/* the login ends (Unix s) */
	struct kh_grant		*grants;	/* header mode: keys to sign
						   as principal (ngrants) */
	size_t			 ngrants;
	uint32_t		 kh_id;
	uint32_t		 tk_id;		/* handshake waits for the TLS key
						   process's signature */
	uint64_t		 session;	/* keyholder's evidence handle */
	char			*backend_auth;	/* kcd: Authorization value */
	uint64_t		 verify;	/* kcd: AP-REP check handle */
	int			 verify_wait;	/* response held for the check */
	int			 verified;	/* the check passed */
	enum neg_kind		 neg_kind;
	enum neg_mech		 neg_mech;	/* SPNEGO supportedMech to echo */
	enum neg_mech		 neg_framing;	/* OID the AP-REQ was framed with */
	uint8_t			*mech_list;	/* first leg's MechTypeList, kept
						   for the mechListMIC */
	size_t			 mech_list_len;
	int			 mic_needed;	/* krb5 was not its first choice */
	char			*mutual;	/* WWW-Authenticate value to send */
	char			*set_cookie;
	int			 sticky;	/* server named by the client's
						   persistence cookie, or -1 */
	int			 sticky_set;	/* send a persistence cookie */
	/* the request in flight */
	struct http_head	 head;		/* keeps the incremental scan */
	struct http_head	 resp_head;	/* the same for the response */
	size_t			 head_unread;	/* parsed head still in c.in */
	int			 vhost;
	const struct conf_route	*route;
	struct pool		*pool;
	struct upstream		*up;
	struct upstream		*priv;		/* private back-end connection
						   kept between requests */
	uint64_t		 tried;		/* servers that failed to connect */
	char			 method[24];
	int			 req_keepalive;
	int			 req_http10;	/* client spoke HTTP/1.0 */
	int			 dechunk;	/* send the response payload
						   only (HTTP/1.0 client) */
	int			 expect_continue;	/* body waits for a 100 */
	struct http_body	 req_body;
	int			 req_done;
	int			 resp_head_done;
	struct http_body	 resp_body;
	int			 resp_done;
	int			 resp_close;
	int			 backend_close;	/* the back-end will close after */
	uint64_t		 req_start_ms;
	uint64_t		 req_done_ms;
	uint64_t		 reqno;
	/* our own response */
	int			 local_close;
	int			 drain_body;
	TAILQ_ENTRY(client)	 entry;
	TAILQ_ENTRY(client)	 used_entry;	/* on relay.used */
	int			 used_listed;
};

/* Replay quota refusals logged lately, a slot per hash of the reason
 * (which names the user): see quota_log_due(). */
#define QUOTA_LOG_SLOTS 16
struct quota_log {
	uint64_t		 hash;
	ev_tstamp		 logged;
	unsigned		 unlogged;
};

struct relay {
	struct ev_loop		*loop;
	struct relay_env	*env;
	struct conf		*conf;
	struct pool		*pools;
	ev_io			*lst_io;
	ev_io			 admin_io;
	ev_io			 kh_io;
	ev_io			 ctl_io;
	ev_signal		 sigterm;
	ev_signal		 test_hook;	/* KERBGATE_TEST_HOOKS only */
	ev_timer		 trim;		/* every TRIM_INTERVAL_S */
	ev_timer		 quiet;		/* TRIM_QUIET_S after the last
						   activity */
	ev_tstamp		 last_busy;
	ev_tstamp		 last_trim;
	TAILQ_HEAD(, client)	 used;		/* TLS clients used since
						   the last trim */
	struct kg_ipc_reader	 kh_rd;
	struct kg_ipc_writer	 kh_wr;
	ev_io			 tk_io;		/* the TLS key process */
	struct kg_ipc_reader	 tk_rd;
	struct kg_ipc_writer	 tk_wr;
	int			 tk_gone;	/* its socket closed: no more
						   signatures in this relay */
	ev_timer		 tk_orphan;	/* then: exit unless told to drain */
	int			 test_tlskey;	/* TEST ONLY: the hook writes to
						   the key process instead */
	uint32_t		 next_id;
	TAILQ_HEAD(, client)	 clients;
	unsigned		 nclients;
	unsigned		 max_clients;
	int			 accepting;
	int			 draining;
	struct metrics_worker	*mw;
	char			 rid_prefix[48];	/* request ids: worker and a
							   random per-process tag */
	size_t			 rid_prefix_len;
	uint64_t		 rid_seq;
	LIST_HEAD(, src_count)	*src;		/* SRC_BUCKETS; NULL: no cap */
	unsigned		 src_cap;	/* this worker's share */
	unsigned		 src_unlogged;	/* refusals not logged yet */
	ev_tstamp		 src_logged;
	struct quota_log	 quota_log[QUOTA_LOG_SLOTS];
	struct http_limits	 limits;
	struct http_header	 hdrs[SCRATCH_HEADERS];
	char			 path[MAX_REQUEST_LINE + 2];	/* as routes
						   see the target */
};

static void client_pump(struct client *);
static void mem_note_busy(struct relay *, struct client *);
static void client_free(struct client *);
static void upstream_free(struct upstream *);
static void start_backend(struct client *);
static void release_upstream(struct client *, int);
static void src_release(struct client *);

/* ------------------------------------------------------------ endpoints */

static void
ep_init(struct ep *e, int fd, size_t inmax, size_t outmax)
{
	memset(e, 0, sizeof(*e));
	e->fd = fd;
	kg_buf_init(&e->in, inmax);
	kg_buf_init(&e->out, outmax);
}

static void
ep_close(struct relay *r, struct ep *e)
{
	ev_io_stop(r->loop, &e->io);
	if (e->tls != NULL)
		tls_conn_free(e->tls);
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
	e->tls = NULL;
	kg_buf_free(&e->in);
	kg_buf_free(&e->out);
}

/* Maps a TLS status to what to wait for; returns -1 on a final error. */
static int
ep_tls_status(struct ep *e, int st)
{
	switch (st) {
	case TLS_WANT_READ:
		e->tls_wait = EV_READ;
		return 0;
	case TLS_WANT_WRITE:
		e->tls_wait = EV_WRITE;
		return 0;
	case TLS_CLOSED:
		e->eof = 1;
		return 0;
	default:
		e->error = 1;
		return -1;
	}
}

/* Reads what is available into e->in.  Returns bytes read (0: none). */
static ssize_t
ep_fill(struct ep *e)
{
	ssize_t n, total = 0;
	uint8_t *p;
	size_t avail;

	while (!e->eof && !e->error) {
		if (kg_buf_space(&e->in, IO_CHUNK, &p, &avail) < 0 ||
		    avail == 0)
			break;
		if (e->tls != NULL) {
			e->tls_wait = 0;
			n = tls_read(e->tls, p, avail);
			if (n < 0) {
				ep_tls_status(e, (int)n);
				break;
			}
			if (n == 0) {
				e->eof = 1;
				break;
			}
		} else {
			n = read(e->fd, p, avail);
			if (n < 0) {
				if (errno != EAGAIN && errno != EINTR)
					e->error = 1;
				break;
			}
			if (n == 0) {
				e->eof = 1;
				break;
			}
		}
		kg_buf_commit(&e->in, (size_t)n);
		total += n;
		if ((size_t)n < avail && (e->tls == NULL || tls_pending(e->tls) == 0))
			break;
	}
	return total;
}

/* Writes what e->out holds.  Returns bytes written (0: none). */
static ssize_t
ep_flush(struct ep *e)
{
	ssize_t n, total = 0;

	while (kg_buf_len(&e->out) > 0 && !e->error) {
		if (e->tls != NULL) {
			e->tls_wait = 0;
			n = tls_write(e->tls, kg_buf_data(&e->out),
			    kg_buf_len(&e->out));
			if (n < 0) {
				ep_tls_status(e, (int)n);
				break;
			}
		} else {
			n = send(e->fd, kg_buf_data(&e->out), kg_buf_len(&e->out),
			    MSG_NOSIGNAL);
			if (n < 0) {
				if (errno != EAGAIN && errno != EINTR)
					e->error = 1;
				break;
			}
		}
		kg_buf_consume(&e->out, (size_t)n);
		total += n;
	}
	if (kg_buf_len(&e->out) == 0)
		kg_buf_release(&e->out);
	return total;
}

static void
ep_watch(struct relay *r, struct ep *e, int want_read)
{
	int ev = 0;

	if (e->fd < 0)
		return;
	if (want_read && !e->eof)
		ev |= EV_READ;
	if (kg_buf_len(&e->out) > 0)
		ev |= EV_WRITE;
	ev |= e->tls_wait;
	if (ev == 0) {
		ev_io_stop(r->loop, &e->io);
		return;
	}
	if (ev_is_active(&e->io) && e->io.events == ev)
		return;
	ev_io_stop(r->loop, &e->io);
	ev_io_set(&e->io, e->fd, ev);
	ev_io_start(r->loop, &e->io);
}

static int
out_append(struct ep *e, const void *p, size_t n)
{
	if (kg_buf_append(&e->out, p, n) < 0) {
		e->error = 1;
		return -1;
	}
	return 0;
}

/* A string literal, without a trip through printf. */
#define OUT_LIT(e, lit)	out_append((e), (lit), sizeof(lit) - 1)

/* Decimal digits of v at p (room for 20); returns how many. */
static size_t
put_u64(char *p, uint64_t v)
{
	char tmp[20];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

static int
out_printf(struct ep *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
out_printf(struct ep *e, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		e->error = 1;
		return -1;
	}
	return out_append(e, line, (size_t)n);
}

/* ------------------------------------------------------------ helpers */

static const char *
status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

static int
hdr_is(const struct http_header *h, const char *name)
{
	return h->name_len == strlen(name) &&
	    strncasecmp(h->name, name, h->name_len) == 0;
}

/* How many header lines are named name (any case). */
static unsigned
count_named(const struct http_head *h, const char *name)
{
	unsigned i, n = 0;

	for (i = 0; i < h->nheaders; i++)
		if (hdr_is(&h->headers[i], name))
			n++;
	return n;
}

static void
count_response(struct client *cl, int status)
{
	if (status >= 100 && status < 600)
		cl->r->mw->responses[status / 100]++;
}

/*
 * Queues a response of our own.  The body is short text for a person; the
 * reason for the admin goes to the log, not here.
 */
static void
client_respond(struct client *cl, int status, const char *www_auth,
    const char *body, int close_after)
{
	struct ep *e = &cl->c;
	size_t blen = strlen(body);

	/* The request is answered here: its head must not be read again,
	 * and a keyholder answer still on its way no longer matters. */
	kg_buf_consume(&e->in, cl->head_unread);
	cl->head_unread = 0;
	cl->kh_id = 0;
	cl->verify_wait = 0;
	/* A body we will not forward is drained if small; one the client
	 * holds back for a 100 Continue never comes, so close instead. */
	if (!cl->req_done && (cl->expect_continue ||
	    (cl->req_body.kind != HTTP_BODY_NONE &&
	    !(cl->req_body.kind == HTTP_BODY_LENGTH &&
	    cl->req_body.remaining <= MAX_DRAIN_BODY))))
		close_after = 1;
	out_printf(e, "HTTP/1.1 %d %s\r\n", status, status_text(status));
	if (www_auth != NULL)
		out_printf(e, "WWW-Authenticate: %s\r\n", www_auth);
	out_printf(e, "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %zu\r\nConnection: %s\r\n\r\n", blen + 1,
	    close_after ? "close" : "keep-alive");
	out_append(e, body, blen);
	out_append(e, "\n", 1);
	count_response(cl, status);
	cl->local_close = close_after || !cl->req_keepalive;
	cl->drain_body = !cl->local_close && !cl->req_done;
	cl->state = CS_LOCAL;
}

static void
respond_head_error(struct client *cl, int err)
{
	log_info("%s: refused request: %s", cl->peer, http_strerror(err));
	cl->req_done = 1;
	client_respond(cl, http_error_status(err), NULL, http_strerror(err), 1);
}

static void
challenge(struct client *cl, const char *token_b64, const char *body)
{
	char v[NEG_MAX_B64_LEN + 16];

	if (token_b64 != NULL)
		snprintf(v, sizeof(v), "Negotiate %s", token_b64);
	else
		snprintf(v, sizeof(v), "Negotiate");
	client_respond(cl, 401, v, body, 0);
}

/*
 * A refusal with the keyholder's KRB-ERROR in the Negotiate answer
 * (KRB_AP_ERR_MODIFIED, or KRB_AP_ERR_SKEW with the server's time), as a
 * Windows server sends it: inside a NegTokenResp reject for SPNEGO
 * clients, bare for raw krb5 ones.  Without one, a bare challenge.
 */
static void
challenge_krb_error(struct client *cl, const struct kh_auth_result *res)
{
	uint8_t spnego[8192];
	char b64[NEG_MAX_B64_LEN + 1];
	const uint8_t *tok = res->krb_error;
	size_t tlen = res->krb_error_len, blen;

	if (tok != NULL && cl->neg_kind != NEG_KRB5_RAW) {
		if (neg_spnego_resp(NEG_STATE_REJECT, cl->neg_mech, tok, tlen, spnego,
		    sizeof(spnego), &tlen) != NEG_OK)
			tok = NULL;
		else
			tok = spnego;
	}
	if (tok == NULL || neg_base64_encode(tok, tlen, b64, sizeof(b64), &blen) !=
	    NEG_OK) {
		challenge(cl, NULL, "Kerberos authentication failed");
		return;
	}
	challenge(cl, b64, "Kerberos authentication failed");
}

/* RFC 5929 tls-server-end-point, as the Bnd field of RFC 4121 §4.1.1.2. */
static void
compute_channel_binding(struct client *cl)
{
	static const char prefix[] = "tls-server-end-point:";
	uint8_t hash[TLS_END_POINT_HASH_MAX], hdr[20];
	const uint8_t *der;
	size_t derlen, hlen;
	uint32_t applen;
	mbedtls_md5_context md5;

	der = tls_conn_own_cert_der(cl->c.tls, &derlen);
	if (der == NULL || tls_end_point_hash(der, derlen, hash, &hlen) != 0)
		return;
	applen = (uint32_t)(sizeof(prefix) - 1 + hlen);
	memset(hdr, 0, sizeof(hdr));	/* addrtypes and addresses: empty */
	hdr[16] = (uint8_t)applen;
	hdr[17] = (uint8_t)(applen >> 8);
	hdr[18] = (uint8_t)(applen >> 16);
	hdr[19] = (uint8_t)(applen >> 24);
	mbedtls_md5_init(&md5);
	mbedtls_md5_starts(&md5);
	mbedtls_md5_update(&md5, hdr, sizeof(hdr));
	mbedtls_md5_update(&md5, (const uint8_t *)prefix, sizeof(prefix) - 1);
	mbedtls_md5_update(&md5, hash, hlen);
	mbedtls_md5_finish(&md5, cl->cb_hash);
	mbedtls_md5_free(&md5);
	cl->has_cb = 1;
}

/* ------------------------------------------------------------ keyholder */

/*
 * Queues one request frame to the keyholder for this client (payload is
 * consumed).  Returns 0, or -1 with the client already answered 503.
 */
static int
kh_queue(struct client *cl, uint16_t type, uint8_t *payload, size_t plen)
{
	struct relay *r = cl->r;

	cl->kh_id = ++r->next_id;
	if (cl->kh_id == 0)
		cl->kh_id = ++r->next_id;
	if (kg_ipc_queue(&r->kh_wr, type, cl->kh_id, payload, plen) < 0) {
		kg_freezero(payload, plen);
		cl->kh_id = 0;
		r->mw->auth_fail_relay[MR_KEYHOLDER]++;
		log_warnx("keyholder queue full: refusing %s", cl->peer);
		release_upstream(cl, 0);
		client_respond(cl, 503, NULL, "authentication busy", 1);
		return -1;
	}
	kg_freezero(payload, plen);
	kg_ipc_flush(&r->kh_wr, r->env->kh_fd);
	if (kg_ipc_queued(&r->kh_wr) > 0) {
		ev_io_stop(r->loop, &r->kh_io);
		ev_io_set(&r->kh_io, r->env->kh_fd, EV_READ | EV_WRITE);
		ev_io_start(r->loop, &r->kh_io);
	}
	cl->deadline_ms = kg_now_ms() + KH_TIMEOUT_MS;
	return 0;
}

static void
kh_send(struct client *cl, const struct neg_token *nt)
{
	struct relay *r = cl->r;
	struct kh_auth_req req;
	uint8_t *payload;
	size_t plen;

	memset(&req, 0, sizeof(req));
	req.vhost = (uint32_t)cl->vhost;
	req.ap_req = nt->krb5_token;
	req.ap_req_len = nt->krb5_token_len;
	req.has_cb = cl->has_cb;
	memcpy(req.cb_hash, cl->cb_hash, sizeof(req.cb_hash));
	/* The mechanism list goes along when a MIC is to be made (RFC 4178
	 * §5: krb5 was not the client's first choice) or checked (the client
	 * sent one): the first leg's list, or this token's own. */
	if (cl->neg_kind == NEG_KRB5_SPNEGO_LEG2 && cl->mech_list != NULL &&
	    (cl->mic_needed || nt->mic != NULL)) {
		req.mech_list = cl->mech_list;
		req.mech_list_len = cl->mech_list_len;
	} else if (cl->neg_kind == NEG_KRB5_SPNEGO && nt->mic != NULL) {
		req.mech_list = nt->mech_types;
		req.mech_list_len = nt->mech_types_len;
	}
	req.client_mic = nt->mic;
	req.client_mic_len = nt->mic_len;
	if (kh_auth_req_encode(&req, &payload, &plen) < 0) {
		r->mw->auth_fail_relay[MR_KEYHOLDER]++;
		client_respond(cl, 503, NULL, "authentication unavailable", 1);
		return;
	}
	if (kh_queue(cl, KH_MSG_AUTH, payload, plen) == 0)
		cl->state = CS_AUTH;
}

/*
 * A user over its replay quota retries as fast as it likes, and each
 * refusal would be a line: log one a second per user (per slot, users
 * sharing one share the second), saying how many went unlogged.
 */
static int
quota_log_due(struct relay *r, const char *reason, unsigned *unlogged)
{
	uint64_t h = pool_hash(reason, strlen(reason));
	struct quota_log *q = &r->quota_log[h % QUOTA_LOG_SLOTS];
	ev_tstamp now = ev_now(r->loop);

	if (q->hash == h && now - q->logged < 1.) {
		q->unlogged++;
		return 0;
	}
	*unlogged = q->hash == h ? q->unlogged : 0;
	q->hash = h;
	q->logged = now;
	q->unlogged = 0;
	return 1;
}

static void logged_in(struct client *, const struct kh_auth_result *);

/* Wipes and frees the login's grants. */
static void
drop_grants(struct client *cl)
{
	if (cl->grants != NULL)
		kg_freezero(cl->grants, cl->ngrants * sizeof(*cl->grants));
	cl->grants = NULL;
	cl->ngrants = 0;
}

static void
auth_result(struct client *cl, const struct kh_auth_result *res)
{
	struct relay *r = cl->r;
	const struct conf_vhost *v = &r->conf->vhosts[cl->vhost];
	uint8_t rep[8192], ans[8192];
	char b64[NEG_MAX_B64_LEN + 1];
	size_t rlen, alen, blen;
	int rc;

	cl->kh_id = 0;
	if (res->status != KH_OK) {
		unsigned unlogged = 0;

		r->mw->auth_fail_kh[res->reason_code]++;
		if (res->reason_code != KH_R_REPLAY_QUOTA)
			log_warnx("%s: Negotiate refused for %s: %s", cl->peer,
			    v->name, res->reason);
		else if (quota_log_due(r, res->reason, &unlogged))
			log_warnx("%s: Negotiate refused for %s: %s (%u more "
			    "such refusals since the last such line)", cl->peer,
			    v->name, res->reason, unlogged);
		/* Not the client's fault, and a new token would fare no
		 * better until the keyholder can take one: no challenge. */
		if (res->status == KH_UNAVAILABLE) {
			client_respond(cl, 503, NULL, res->reason, 1);
			return;
		}
		challenge_krb_error(cl, res);
		return;
	}
	r->mw->auth_ok++;
	logged_in(cl, res);
	cl->session = res->session;
	log_info("%s: %s authenticated for %s", cl->peer, cl->principal, v->name);
	if (res->enctype == 23) {
		r->mw->auth_rc4++;
		log_info("%s: ticket for %s uses rc4-hmac: set "
		    "msDS-SupportedEncryptionTypes on the ASA account to AES",
		    cl->peer, v->name);
	}
	free(cl->mutual);
	cl->mutual = NULL;
	/* The AP-REP goes back framed as the AP-REQ came: raw GSS, or inside
	 * an accept-completed SPNEGO answer naming the client's mechanism. */
	rc = NEG_OK;
	rlen = 0;
	if (res->ap_rep != NULL)
		rc = neg_gss_krb5_wrap(cl->neg_framing, NEG_TOK_AP_REP,
		    res->ap_rep, res->ap_rep_len, rep, sizeof(rep), &rlen);
	if (rc == NEG_OK && cl->neg_kind == NEG_KRB5_RAW) {
		memcpy(ans, rep, rlen);
		alen = rlen;
	} else if (rc == NEG_OK) {
		rc = neg_spnego_resp_mic(NEG_STATE_ACCEPT_COMPLETED, cl->neg_mech,
		    rlen ? rep : NULL, rlen, res->mic, res->mic_len, ans,
		    sizeof(ans), &alen);
	}
	free(cl->mech_list);
	cl->mech_list = NULL;
	if (rc == NEG_OK && alen > 0 &&
	    neg_base64_encode(ans, alen, b64, sizeof(b64), &blen) == NEG_OK &&
	    asprintf(&cl->mutual, "Negotiate %.*s", (int)blen, b64) < 0)
		cl->mutual = NULL;
	free(cl->set_cookie);
	cl->set_cookie = NULL;
	if (res->cookie[0] != '\0') {
		/* Issued by the keyholder, ending with the login. */
		uint64_t now = (uint64_t)time(NULL);
		unsigned age = res->expiry > now ? (unsigned)(res->expiry - now) : 0;
		if (asprintf(&cl->set_cookie, "%s=%s; Path=/; Max-Age=%u; "
		    "HttpOnly%s; SameSite=Lax", SIGN_COOKIE_NAME, res->cookie,
		    age, cl->c.tls ? "; Secure" : "") < 0)
			cl->set_cookie = NULL;
	}
	start_backend(cl);
}

/*
 * The keyholder said yes, to a ticket or a cookie: the connection is
 * logged in as its principal until the login's expiry, with a grant per
 * header-mode pool of the vhost to sign the identity with.
 */
static void
logged_in(struct client *cl, const struct kh_auth_result *res)
{
	cl->authed = 1;
	cl->auth_vhost = cl->vhost;
	kg_strlcpy(cl->principal, res->principal, sizeof(cl->principal));
	cl->auth_expiry = res->expiry;
	drop_grants(cl);
	/* Only logged-in connections pay for them; none on failure: no
	 * identity is then sent (a 502 in header mode, see find_grant()). */
	if (res->ngrants > 0 &&
	    (cl->grants = calloc(res->ngrants, sizeof(*cl->grants))) != NULL) {
		memcpy(cl->grants, res->grants, res->ngrants * sizeof(*cl->grants));
		cl->ngrants = res->ngrants;
	}
}

/* The keyholder's verdict on the session cookie a request presented. */
static void
cookie_result(struct client *cl, const struct kh_auth_result *res)
{
	cl->kh_id = 0;
	if (res->status != KH_OK) {
		/* Expired, forged, for another vhost or issued before a reload
		 * or keyholder restart (a new cookie key): Kerberos again. */
		cl->r->mw->auth_fail_relay[MR_NO_TOKEN]++;	/* as before */
		log_debug("%s: session cookie refused: challenging", cl->peer);
		challenge(cl, NULL, "Kerberos authentication required");
		return;
	}
	logged_in(cl, res);
	cl->session = 0;	/* no ticket to delegate from */
	start_backend(cl);
}

/* ---- constrained delegation (kcd pools) */

static int
kcd_pool(const struct client *cl)
{
	return cl->pool != NULL && cl->pool->cp->mode == CONF_MODE_KCD;
}

/*
 * The request goes out as the connection's user: it is for a negotiate
 * route of the virtual host the connection authenticated for.  Nothing
 * else carries an identity, signed or delegated.
 */
static int
sends_identity(const struct client *cl)
{
	return cl->authed && cl->route != NULL &&
	    cl->route->auth == CONF_AUTH_NEGOTIATE &&
	    cl->auth_vhost == cl->vhost;
}

/* The login's grant for the request's pool (header mode), or NULL. */
static const struct kh_grant *
find_grant(const struct client *cl)
{
	uint32_t pool = (uint32_t)(cl->pool - cl->r->pools);
	size_t i;

	for (i = 0; i < cl->ngrants; i++)
		if (cl->grants[i].pool == pool)
			return &cl->grants[i];
	return NULL;
}

/* A request to a kcd pool on behalf of an authenticated user needs a
 * delegated token before its head can go to the back-end. */
static int
needs_backend_token(const struct client *cl)
{
	return kcd_pool(cl) && sends_identity(cl) && cl->backend_auth == NULL;
}

static void
request_backend_token(struct client *cl)
{
	static const char prefix[] = "tls-server-end-point:";
	struct upstream *u = cl->up;
	struct kh_backend_req req;
	uint8_t cb[sizeof(prefix) - 1 + TLS_END_POINT_HASH_MAX], *payload;
	const uint8_t *der;
	size_t derlen, hlen, plen;

	if (cl->session == 0) {
		/* Authenticated by cookie: no ticket to delegate from. */
		release_upstream(cl, 0);
		cl->authed = 0;
		challenge(cl, NULL, "Kerberos authentication required");
		return;
	}
	memset(&req, 0, sizeof(req));
	req.session = cl->session;
	req.pool = (uint32_t)(cl->pool - cl->r->pools);
	kg_strlcpy(req.spn, u->srv->cs->spn, sizeof(req.spn));
	/* Extended Protection at the back-end: bind to its certificate. */
	if (u->e.tls != NULL &&
	    (der = tls_conn_peer_cert_der(u->e.tls, &derlen)) != NULL &&
	    tls_end_point_hash(der, derlen, cb + sizeof(prefix) - 1, &hlen) == 0) {
		memcpy(cb, prefix, sizeof(prefix) - 1);
		req.cb = cb;
		req.cb_len = sizeof(prefix) - 1 + hlen;
	}
	if (kh_backend_req_encode(&req, &payload, &plen) < 0) {
		release_upstream(cl, 0);
		client_respond(cl, 503, NULL, "delegation unavailable", 1);
		return;
	}
	if (kh_queue(cl, KH_MSG_BACKEND, payload, plen) == 0)
		cl->state = CS_BACKEND_AUTH;
}

static void
count_delegation(struct client *cl, int ok)
{
	const struct pool_server *s = cl->up != NULL ? cl->up->srv : NULL;

	if (s == NULL || s->idx >= METRICS_MAX_SERVERS)
		return;
	if (!ok)
		cl->r->mw->backend_delegation_failures[s->idx]++;
	cl->r->env->metrics->s[s->idx].delegation_ok = (uint64_t)ok;
}

static void
backend_result(struct client *cl, const struct kh_backend_result *res)
{
	uint8_t *b64;
	size_t blen, cap;

	if (res->status == KH_B_OK) {
		cap = ((res->token_len + 2) / 3) * 4 + 1;
		if ((b64 = malloc(cap)) == NULL ||
		    neg_base64_encode(res->token, res->token_len, (char *)b64,
		    cap, &blen) != NEG_OK ||
		    asprintf(&cl->backend_auth, "Negotiate %.*s", (int)blen,
		    (char *)b64) < 0) {
			free(b64);
			cl->backend_auth = NULL;
			release_upstream(cl, 0);
			client_respond(cl, 503, NULL, "out of memory", 1);
			return;
		}
		free(b64);
		cl->verify = res->verify;
		cl->verified = 0;
		count_delegation(cl, 1);
		cl->state = CS_CONNECT;	/* step_connect sends the head */
		return;
	}
	log_warnx("%s: delegation for %s to %s failed: %s", cl->peer,
	    cl->principal, cl->up ? cl->up->srv->cs->spn : "?", res->reason);
	if (res->status == KH_B_UNAVAILABLE &&
	    strncmp(res->reason, "session", 7) == 0) {
		/* The keyholder no longer holds this login's ticket. */
		release_upstream(cl, 0);
		cl->authed = 0;
		cl->session = 0;
		challenge(cl, NULL, "Kerberos authentication required");
		return;
	}
	count_delegation(cl, 0);
	release_upstream(cl, 0);
	if (res->status == KH_B_REFUSED)
		client_respond(cl, 502, NULL, "the appliance may not act for "
		    "this user at this back-end (see the appliance log)", 0);
	else
		client_respond(cl, 503, NULL, "the domain controller cannot be "
		    "reached (see the appliance log)", 0);
}

static void
verify_result(struct client *cl, const struct kh_verify_result *res)
{
	cl->verify_wait = 0;
	if (res->ok) {
		cl->verified = 1;
		return;
	}
	log_warnx("%s: back-end %s failed mutual authentication: %s", cl->peer,
	    cl->up ? cl->up->srv->cs->text : "?", res->reason);
	count_delegation(cl, 0);
	release_upstream(cl, 0);
	cl->req_done = 1;
	client_respond(cl, 502, NULL, "back-end failed mutual authentication", 1);
}

/* Sends the back-end's Negotiate answer to the keyholder for checking. */
static int
request_verify(struct client *cl, const struct http_head *h)
{
	const struct http_header *wa = http_find(h, "WWW-Authenticate");
	struct kh_verify_req req;
	uint8_t tok[NEG_MAX_TOKEN_LEN], *payload;
	size_t len, plen;

	if (wa == NULL || neg_parse_authorization(wa->value, wa->value_len,
	    tok, sizeof(tok), &len) != NEG_OK)
		return -1;
	memset(&req, 0, sizeof(req));
	req.verify = cl->verify;
	req.token = tok;
	req.token_len = len;
	if (kh_verify_req_encode(&req, &payload, &plen) < 0)
		return -1;
	if (kh_queue(cl, KH_MSG_VERIFY, payload, plen) < 0)
		return 0;	/* answered 503 */
	cl->verify_wait = 1;
	return 0;
}

static int
kh_dispatch(struct client *cl, const struct kg_ipc_frame *f)
{
	union {
		struct kh_auth_result a;
		struct kh_backend_result b;
		struct kh_verify_result v;
	} u;
	int rc = 0;

	switch (f->type) {
	case KH_MSG_AUTH_RESULT:
	case KH_MSG_COOKIE_RESULT:
		/* Grant keys: wiped from the frame and the stack after. */
		if (kh_auth_result_decode(f->payload, f->len, &u.a) < 0)
			rc = -1;
		else if (cl->state == CS_AUTH && f->type == KH_MSG_AUTH_RESULT)
			auth_result(cl, &u.a);
		else if (cl->state == CS_AUTH)
			cookie_result(cl, &u.a);
		kg_zero(&u.a, sizeof(u.a));
		kg_zero((void *)(uintptr_t)f->payload, f->len);	/* ours */
		return rc;
	case KH_MSG_BACKEND_RESULT:
		if (kh_backend_result_decode(f->payload, f->len, &u.b) < 0)
			return -1;
		if (cl->state == CS_BACKEND_AUTH)
			backend_result(cl, &u.b);
		return 0;
	case KH_MSG_VERIFY_RESULT:
		if (kh_verify_result_decode(f->payload, f->len, &u.v) < 0)
			return -1;
		if (cl->verify_wait)
			verify_result(cl, &u.v);
		return 0;
	}
	return -1;
}

static struct client *
kh_find(struct relay *r, uint32_t id)
{
	struct client *cl;

	TAILQ_FOREACH(cl, &r->clients, entry)
		if (cl->kh_id != 0 && cl->kh_id == id)
			return cl;
	return NULL;
}

static void
kh_cb(struct ev_loop *loop, ev_io *w, int events)
{
	struct relay *r = w->data;
	struct kg_ipc_frame f;
	struct client *cl;
	int rc;

	if (events & EV_WRITE) {
		kg_ipc_flush(&r->kh_wr, r->env->kh_fd);
		if (kg_ipc_queued(&r->kh_wr) == 0) {
			ev_io_stop(loop, w);
			ev_io_set(w, r->env->kh_fd, EV_READ);
			ev_io_start(loop, w);
		}
	}
	if (!(events & EV_READ))
		return;
	rc = kg_ipc_read(&r->kh_rd, r->env->kh_fd);
	if (rc == KG_ERR_CLOSED || (rc < 0 && rc != KG_ERR_AGAIN))
		fatalx("keyholder went away: %s", kg_strerror(rc));
	while ((rc = kg_ipc_next(&r->kh_rd, &f)) == 1) {
		if ((cl = kh_find(r, f.id)) == NULL)
			continue;	/* the client left meanwhile */
		cl->kh_id = 0;
		if (kh_dispatch(cl, &f) < 0)
			fatalx("keyholder sent a malformed frame");
		client_pump(cl);
	}
	if (rc < 0)
		fatalx("keyholder protocol error: %s", kg_strerror(rc));
}

/* ------------------------------------------------------------ TLS key */

/*
 * A handshake needs a signature (tls.h's tls_sign_fn): ask the key process
 * and park the connection (step() leaves it unwatched) until tk_cb() hands
 * the answer to tls_conn_signed().
 */
static int
tk_sign(void *arg, struct tls_conn *c, const struct tls_sign_request *req)
{
	struct relay *r = arg;
	struct client *cl = tls_conn_data(c);
	uint8_t frame[TK_SIGN_MAX_LEN];
	size_t n;

	if (cl == NULL || r->tk_gone || r->env->tlskey_fd < 0) {
		r->mw->tls_key_failures++;
		return -1;
	}
	if ((n = tlskey_encode_request(req, frame, sizeof(frame))) == 0)
		return -1;
	cl->tk_id = ++r->next_id;
	if (cl->tk_id == 0)
		cl->tk_id = ++r->next_id;
	if (kg_ipc_queue(&r->tk_wr, TK_MSG_SIGN, cl->tk_id, frame, n) < 0) {
		log_warnx("%s: the TLS key process does not keep up (queue "
		    "full): handshake refused", cl->peer);
		cl->tk_id = 0;
		r->mw->tls_key_failures++;
		return -1;
	}
	kg_ipc_flush(&r->tk_wr, r->env->tlskey_fd);
	if (kg_ipc_queued(&r->tk_wr) > 0) {
		ev_io_stop(r->loop, &r->tk_io);
		ev_io_set(&r->tk_io, r->env->tlskey_fd, EV_READ | EV_WRITE);
		ev_io_start(r->loop, &r->tk_io);
	}
	return 0;
}

/* The key process's answer (sig NULL: none) to the handshake waiting. */
static void
tk_deliver(struct client *cl, const uint8_t *sig, size_t len, const char *why)
{
	cl->tk_id = 0;
	if (sig == NULL)
		cl->r->mw->tls_key_failures++;
	(void)tls_conn_signed(cl->c.tls, sig, len, why);
	client_pump(cl);
}

/*
 * The socket closed, and no drain came: the key process is alive but
 * dropped this relay (a frame it refused).  Exit, so that the parent starts
 * a relay in this slot with a new socket to it; the connections of this one
 * are cut, as when the keyholder drops a relay.
 */
static void
tk_orphan_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct relay *r = w->data;

	(void)loop;
	(void)revents;
	if (r->draining)
		return;
	log_warnx("the TLS key process dropped this relay and no new generation "
	    "came: exiting, so that the parent replaces it");
	exit(1);
}

/*
 * The key process is gone (its generation is being restarted) or broke the
 * protocol: every handshake waiting fails now, with an alert, and so does
 * every later one in this relay; none hangs.  When the key process itself
 * went, the parent drains this generation at once; otherwise tk_orphan_cb().
 */
static void
tk_lost(struct relay *r, const char *why)
{
	struct client *cl, *next;

	if (r->tk_gone)
		return;
	r->tk_gone = 1;
	ev_io_stop(r->loop, &r->tk_io);
	log_warnx("the TLS key process %s: TLS handshakes on this relay fail "
	    "until the parent restarts the generation (see its log)", why);
	if (!r->draining) {
		ev_timer_init(&r->tk_orphan, tk_orphan_cb, 2., 0.);
		r->tk_orphan.data = r;
		ev_timer_start(r->loop, &r->tk_orphan);
	}
	for (cl = TAILQ_FIRST(&r->clients); cl != NULL; cl = next) {
		next = TAILQ_NEXT(cl, entry);
		if (cl->tk_id != 0)
			tk_deliver(cl, NULL, 0, "the TLS key process has gone");
	}
}

static void
tk_cb(struct ev_loop *loop, ev_io *w, int events)
{
	struct relay *r = w->data;
	struct kg_ipc_frame f;
	struct client *cl;
	const uint8_t *sig;
	size_t siglen;
	int rc;

	if (events & EV_WRITE) {
		kg_ipc_flush(&r->tk_wr, r->env->tlskey_fd);
		if (kg_ipc_queued(&r->tk_wr) == 0) {
			ev_io_stop(loop, w);
			ev_io_set(w, r->env->tlskey_fd, EV_READ);
			ev_io_start(loop, w);
		}
	}
	if (!(events & EV_READ))
		return;
	rc = kg_ipc_read(&r->tk_rd, r->env->tlskey_fd);
	if (rc == KG_ERR_CLOSED || (rc < 0 && rc != KG_ERR_AGAIN)) {
		tk_lost(r, "has gone");
		return;
	}
	while ((rc = kg_ipc_next(&r->tk_rd, &f)) == 1) {
		rc = f.type == TK_MSG_SIG ?
		    tlskey_parse_answer(f.payload, f.len, &sig, &siglen) : -1;
		if (rc < 0) {
			tk_lost(r, "sent a malformed answer");
			return;
		}
		TAILQ_FOREACH(cl, &r->clients, entry)
			if (cl->tk_id != 0 && cl->tk_id == f.id)
				break;
		if (cl == NULL)
			continue;	/* the client left meanwhile */
		tk_deliver(cl, rc == 1 ? sig : NULL, siglen,
		    "the TLS key process could not sign (see its log)");
	}
	if (rc < 0)
		tk_lost(r, "sent a frame longer than the protocol allows");
}

/* ------------------------------------------------------------ requests */

static int
parse_request(struct client *cl, struct http_head *h)
{
	struct relay *r = cl->r;

	return http_parse_request((const char *)kg_buf_data(&cl->c.in),
	    kg_buf_len(&cl->c.in), &r->limits, r->hdrs, SCRATCH_HEADERS, h);
}

static void
serve_admin(struct client *cl, const struct http_head *h)
{
	char *text;
	size_t len;

	cl->req_done = h->body == HTTP_BODY_NONE;
	if (h->target_len != 8 || memcmp(h->target, "/metrics", 8) != 0) {
		client_respond(cl, 404, NULL, "only /metrics is served here", 0);
		return;
	}
	/* Consumed bytes are wiped: h's strings are not used after this. */
	kg_buf_consume(&cl->c.in, cl->head_unread);
	cl->head_unread = 0;
	if (metrics_render(cl->r->env->metrics, &text, &len) < 0) {
		client_respond(cl, 500, NULL, "out of memory", 1);
		return;
	}
	out_printf(&cl->c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; "
	    "version=0.0.4\r\nContent-Length: %zu\r\nConnection: %s\r\n\r\n",
	    len, h->keep_alive ? "keep-alive" : "close");
	out_append(&cl->c, text, len);
	free(text);
	count_response(cl, 200);
	cl->local_close = !h->keep_alive;
	cl->drain_body = !cl->req_done;
	cl->state = CS_LOCAL;
}

/*
 * A session cookie on a connection not (or no longer) logged in goes to
 * the keyholder, which alone holds the cookie key (cookie_result() takes
 * the answer).  \return 1 when asked (or answered 503), 0 when the request
 * carries no cookie to ask about.
 */
static int
try_cookie(struct client *cl, const struct http_head *h)
{
	const struct conf_vhost *v = &cl->r->conf->vhosts[cl->vhost];
	const struct http_header *ck;
	struct kh_cookie_req req;
	uint8_t *payload;
	size_t plen;
	unsigned i;

	if (!v->cookie)
		return 0;
	memset(&req, 0, sizeof(req));
	for (i = 0; i < h->nheaders && req.value == NULL; i++) {
		ck = &h->headers[i];
		if (!hdr_is(ck, "Cookie") ||
		    !sign_cookie_find(ck->value, ck->value_len,
		    SIGN_COOKIE_NAME, &req.value, &req.value_len))
			req.value = NULL;
	}
	/* Longer than we issue, or empty: not ours, no question to ask. */
	if (req.value == NULL || req.value_len == 0 ||
	    req.value_len > KH_MAX_COOKIE)
		return 0;
	req.vhost = (uint32_t)cl->vhost;
	if (kh_cookie_req_encode(&req, &payload, &plen) < 0)
		return 0;
	if (kh_queue(cl, KH_MSG_COOKIE, payload, plen) == 0)
		cl->state = CS_AUTH;
	return 1;
}

/* The login's end has come: its grants may no longer sign. */
static int
login_expired(const struct client *cl)
{
	return cl->authed && (uint64_t)time(NULL) >= cl->auth_expiry;
}

static int
is_negotiate(const char *v, size_t n)
{
	return n >= 9 && strncasecmp(v, "Negotiate", 9) == 0 &&
	    (n == 9 || v[9] == ' ' || v[9] == '\t');
}

static int
has_negotiate_token(const struct http_head *h)
{
	const struct http_header *auth = http_find(h, "Authorization");

	return auth != NULL && is_negotiate(auth->value, auth->value_len);
}

/* The connection's user, if any, is gone: a new login must replace it. */
static void
forget_login(struct client *cl)
{
	if (cl->authed)
		log_info("%s: new Negotiate token on a connection authenticated "
		    "as %s: authenticating it again", cl->peer, cl->principal);
	cl->authed = 0;
	cl->session = 0;
	kg_zero(cl->principal, sizeof(cl->principal));
	drop_grants(cl);
	free(cl->backend_auth);
	cl->backend_auth = NULL;
	free(cl->set_cookie);
	cl->set_cookie = NULL;
}

static void
authenticate(struct client *cl, const struct http_head *h)
{
	struct relay *r = cl->r;
	const struct conf_vhost *v = &r->conf->vhosts[cl->vhost];
	const struct http_header *auth = http_find(h, "Authorization");
	uint8_t tok[NEG_MAX_TOKEN_LEN], resp[256];
	char b64[512];
	struct neg_token nt;
	size_t len, rlen, blen;
	int rc;

	if (auth == NULL || auth->value_len < 9 ||
	    strncasecmp(auth->value, "Negotiate", 9) != 0) {
		r->mw->auth_fail_relay[MR_NO_TOKEN]++;
		log_debug("%s: no Negotiate token for %s: challenging",
		    cl->peer, v->name);
		challenge(cl, NULL, "Kerberos authentication required");
		return;
	}
	rc = neg_parse_authorization(auth->value, auth->value_len, tok,
	    sizeof(tok), &len);
	if (rc == NEG_ERR_SCHEME || rc == NEG_ERR_BASE64 ||
	    rc == NEG_ERR_TOO_LARGE) {
		r->mw->auth_fail_relay[MR_BAD_HEADER]++;
		log_warnx("%s: malformed Authorization header for %s: %s",
		    cl->peer, v->name, neg_strerror(rc));
		client_respond(cl, 400, NULL, "malformed Authorization header", 1);
		return;
	}
	if (rc != NEG_OK || neg_classify(tok, len, &nt) != NEG_OK) {
		r->mw->auth_fail_kh[KH_R_MALFORMED]++;
		log_warnx("%s: Negotiate token for %s is not a valid SPNEGO or "
		    "Kerberos token", cl->peer, v->name);
		challenge(cl, NULL, "Kerberos authentication failed");
		return;
	}
	switch (nt.kind) {
	case NEG_NTLM:
	case NEG_UNSUPPORTED:
		r->mw->auth_fail_relay[MR_NTLM]++;
		log_warnx("%s: " NEG_NTLM_HINT, cl->peer, v->spns[0]);
		challenge(cl, NULL, "Kerberos authentication required");
		return;
	case NEG_NEED_KRB5_LEG:
		/* RFC 4178: ask for the Kerberos token in a second leg. */
		if (neg_spnego_resp(NEG_STATE_ACCEPT_INCOMPLETE, nt.mech,
		    NULL, 0, resp, sizeof(resp), &rlen) != NEG_OK ||
		    neg_base64_encode(resp, rlen, b64, sizeof(b64), &blen) !=
		    NEG_OK) {
			challenge(cl, NULL, "Kerberos authentication failed");
			return;
		}
		log_debug("%s: client prefers another mechanism; asking for "
		    "Kerberos in a second leg", cl->peer);
		free(cl->mech_list);
		cl->mech_list = NULL;
		/* Kept whether or not we must MIC it: the client may send
		 * its own mechListMIC with the second leg. */
		cl->mic_needed = nt.mic_needed;
		if ((cl->mech_list = malloc(nt.mech_types_len)) != NULL) {
			memcpy(cl->mech_list, nt.mech_types, nt.mech_types_len);
			cl->mech_list_len = nt.mech_types_len;
		}
		challenge(cl, b64, "continue with Kerberos");
		return;
	default:
		break;
	}
	cl->neg_kind = nt.kind;
	cl->neg_mech = nt.mech;
	{
		const uint8_t *body;
		size_t bl;
		if (neg_gss_krb5_unwrap(nt.krb5_token, nt.krb5_token_len,
		    NEG_TOK_AP_REQ, &cl->neg_framing, &body, &bl) != NEG_OK)
			cl->neg_framing = NEG_MECH_KRB5;
	}
	kh_send(cl, &nt);
	kg_zero(tok, len);
}

/* Persistence by cookie: the value names a server by a hash of its name,
 * so that it survives a reload that reorders the pool. */
#define STICKY_COOKIE	"kerbgate_server"

static uint64_t
server_tag(const struct pool_server *s)
{
	return pool_hash(s->cs->text, strlen(s->cs->text));
}

static int
sticky_from_cookie(const struct pool *p, const struct http_head *h)
{
	const char *val;
	size_t vlen, i;
	unsigned k;
	char want[17];

	if (p->cp->persist != CONF_PERSIST_COOKIE)
		return -1;
	for (k = 0; k < h->nheaders; k++) {
		if (!hdr_is(&h->headers[k], "Cookie") ||
		    !sign_cookie_find(h->headers[k].value,
		    h->headers[k].value_len, STICKY_COOKIE, &val, &vlen) ||
		    vlen != 16)
			continue;
		for (i = 0; i < p->n; i++) {
			snprintf(want, sizeof(want), "%016" PRIx64,
			    server_tag(&p->servers[i]));
			if (memcmp(want, val, 16) == 0)
				return (int)i;
		}
	}
	return -1;
}

/*
 * The route for the request's path as back-ends will read it (dot
 * segments, escaped dots, merged slashes resolved); the target itself is
 * forwarded as it came.  Returns -1 (logged) for a path back-ends could
 * read in different ways.
 */
static int
route_path(struct client *cl, const struct http_head *h,
    const struct conf_route **rt)
{
	struct relay *r = cl->r;
	const struct conf_vhost *v = &r->conf->vhosts[cl->vhost];
	char name[KG_LOG_SANITIZE_BUFSZ], tmp[256];
	size_t plen;
	int rc;

	*rt = NULL;
	if (h->target_len == 0 || h->target[0] != '/') {
		/* "*", absolute- and authority-form: as before, no route. */
		*rt = conf_route_find(v, h->target, h->target_len);
		return 0;
	}
	rc = rf_path_normalize(h->target, h->target_len, r->path,
	    sizeof(r->path), &plen);
	if (rc == 0) {
		*rt = conf_route_find(v, r->path, plen);
		return 0;
	}
	snprintf(tmp, sizeof(tmp), "%.*s", (int)(h->target_len < 255 ?
	    h->target_len : 255), h->target);
	log_info("%s: refused request for \"%s\": %s", cl->peer,
	    log_sanitize(tmp, name, sizeof(name)), rf_path_strerror(rc));
	return -1;
}

static void
handle_request_head(struct client *cl)
{
	struct relay *r = cl->r;
	struct http_head h;
	const struct http_header *host;
	const struct conf_route *rt;
	int rc;

	/* cl->head carries the end-of-head scan between calls, so a client
	 * sending one byte at a time costs linear, not quadratic, time. */
	rc = parse_request(cl, &cl->head);
	h = cl->head;
	if (rc > 0)
		memset(&cl->head, 0, sizeof(cl->head));
	if (rc == HTTP_NEED_MORE) {
		/* The bytes held, not the buffer's allocation: it reaches its
		 * largest size before the head does when the head comes in
		 * pieces. */
		if (kg_buf_len(&cl->c.in) >= r->conf->max_header_bytes)
			respond_head_error(cl, HTTP_E_HEAD_TOO_LARGE);
		return;
	}
	if (rc < 0) {
		respond_head_error(cl, rc);
		return;
	}
	r->mw->requests++;
	cl->head_unread = h.head_len;
	cl->reqno++;
	cl->req_start_ms = kg_now_ms();
	cl->req_keepalive = h.keep_alive;
	cl->expect_continue = h.expect_continue;
	cl->req_done = h.body == HTTP_BODY_NONE;
	cl->resp_head_done = cl->resp_done = cl->resp_close = 0;
	memset(&cl->resp_head, 0, sizeof(cl->resp_head));
	cl->backend_close = 0;
	http_body_init(&cl->req_body, &h);
	/* A trailer named like a header we set, or one that frames, routes
	 * or authenticates, is refused before its value is passed on (a
	 * streamed trailer cannot be rewritten). */
	cl->req_body.refuse_trailer = rf_trailer_refused;
	cl->req_http10 = h.version_minor == 0;
	cl->dechunk = 0;
	snprintf(cl->method, sizeof(cl->method), "%.*s",
	    (int)(h.method_len < sizeof(cl->method) ? h.method_len :
	    sizeof(cl->method) - 1), h.method);
	if (cl->admin) {
		serve_admin(cl, &h);
		return;
	}
	/* Authorization is a singleton: with two, we would judge the first
	 * (a Basic one, say) and ignore a Negotiate token in the second,
	 * and a back-end on an auth: none route might read either. */
	if (count_named(&h, "Authorization") > 1) {
		log_info("%s: refused request with more than one Authorization "
		    "header", cl->peer);
		client_respond(cl, 400, NULL, "more than one Authorization "
		    "header", 1);
		return;
	}
	host = http_find(&h, "Host");
	cl->vhost = host != NULL ? conf_vhost_find(r->conf, host->value,
	    host->value_len) : -1;
	if (cl->vhost < 0) {
		char name[KG_LOG_SANITIZE_BUFSZ], tmp[256];
		snprintf(tmp, sizeof(tmp), "%.*s", host ? (int)(host->value_len
		    < 255 ? host->value_len : 255) : 0, host ? host->value : "");
		log_info("%s: no virtual host named \"%s\"", cl->peer,
		    log_sanitize(tmp, name, sizeof(name)));
		client_respond(cl, 421, NULL, "no such virtual host here", 0);
		return;
	}
	if ((rc = route_path(cl, &h, &rt)) < 0) {
		client_respond(cl, 400, NULL, "ambiguous request path", 1);
		return;
	}
	if (rt == NULL) {
		client_respond(cl, 404, NULL, "no route for this path", 0);
		return;
	}
	cl->route = rt;
	cl->pool = &r->pools[rt->pool];
	cl->sticky = sticky_from_cookie(cl->pool, &h);
	if (rt->auth == CONF_AUTH_NONE) {
		start_backend(cl);
		return;
	}
	/* A new Negotiate token is authenticated, even on a connection that
	 * already is, and its user replaces the old one (as IIS does); if it
	 * is refused, the connection is no longer authenticated. */
	if (has_negotiate_token(&h)) {
		forget_login(cl);
		authenticate(cl, &h);
		return;
	}
	if (cl->authed && cl->auth_vhost == cl->vhost && !login_expired(cl)) {
		start_backend(cl);
		return;
	}
	if (login_expired(cl)) {
		log_info("%s: the login of %s has expired: authenticating the "
		    "connection again", cl->peer, cl->principal);
		cl->authed = 0;		/* forget_login() without its message */
		forget_login(cl);
	}
	if (try_cookie(cl, &h))
		return;
	authenticate(cl, &h);
}

/* ------------------------------------------------------------ back-ends */

static void
upstream_free(struct upstream *u)
{
	if (u->owner == NULL && u->srv != NULL && u->entry.tqe_prev != NULL) {
		TAILQ_REMOVE(&u->srv->idle, u, entry);
		u->srv->nidle--;
	}
	if (u->holder != NULL)
		u->holder->priv = NULL;
	free(u);
}

/* Closes an upstream's socket; needs the loop, so the relay is passed. */
static void
upstream_close(struct relay *r, struct upstream *u)
{
	ev_timer_stop(r->loop, &u->timer);
	ep_close(r, &u->e);
	upstream_free(u);
}

static struct relay *the_relay;		/* for idle upstream callbacks */

static void
idle_upstream_cb(struct ev_loop *loop, ev_io *w, int events)
{
	struct upstream *u = w->data;

	if (u->owner != NULL) {
		client_pump(u->owner);
		return;
	}
	upstream_close(the_relay, u);
}

static void
idle_upstream_timer_cb(struct ev_loop *loop, ev_timer *w, int events)
{
	struct upstream *u = w->data;

	if (u->owner == NULL)
		upstream_close(the_relay, u);
}

/*
 * A back-end connection between requests must have nothing to say: bytes
 * (or an end) that come when no request is in flight answer nothing, and
 * would be taken for the next request's answer.  What we have read...
 */
static int
upstream_dirty(struct upstream *u)
{
	return kg_buf_len(&u->e.in) > 0 || u->e.eof || u->e.error ||
	    (u->e.tls != NULL && tls_pending(u->e.tls) > 0);
}

/* ...and, before one is used again, what the socket holds: the idle
 * watcher may not have run yet when bytes came in the same loop turn. */
static int
upstream_stale(struct upstream *u)
{
	char b;
	ssize_t n;

	if (upstream_dirty(u))
		return 1;
	n = recv(u->e.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR);
}

/* Waits idle: any event on the socket closes it (idle_upstream_cb). */
static void
upstream_idle_watch(struct relay *r, struct upstream *u)
{
	kg_buf_release(&u->e.in);
	kg_buf_release(&u->e.out);
	ev_io_stop(r->loop, &u->e.io);
	ev_io_set(&u->e.io, u->e.fd, EV_READ);
	ev_io_start(r->loop, &u->e.io);
	ev_timer_stop(r->loop, &u->timer);
	ev_timer_set(&u->timer, UPSTREAM_IDLE_MS / 1000.0, 0.);
	ev_timer_start(r->loop, &u->timer);
}

/*
 * The client's private back-end connection for this request, if it still
 * fits: same pool, a server we may use, the identity this request needs.
 * One that does not is closed: it is no one else's.
 */
static struct upstream *
take_private(struct client *cl, const char *user)
{
	struct upstream *u = cl->priv;

	if (u == NULL)
		return NULL;
	cl->priv = NULL;
	u->holder = NULL;
	if (u->srv->pool != cl->pool || !u->srv->healthy ||
	    (cl->tried & (1ULL << ((u->srv - cl->pool->servers) & 63))) ||
	    strcmp(u->user, user) != 0 || upstream_stale(u)) {
		upstream_close(cl->r, u);
		return NULL;
	}
	ev_timer_stop(cl->r->loop, &u->timer);
	u->reused = 1;
	return u;
}

static void
release_upstream(struct client *cl, int reusable)
{
	struct relay *r = cl->r;
	struct upstream *u = cl->up;

	if (u == NULL)
		return;
	cl->up = NULL;
	u->srv->active--;
	u->owner = NULL;
	if (!reusable || upstream_dirty(u) || r->draining ||
	    (!u->is_private && u->srv->nidle >= MAX_IDLE_PER_SERVER)) {
		upstream_close(r, u);
		return;
	}
	if (u->is_private) {
		/* Kept for this client's next request only; closed with it. */
		if (cl->priv != NULL)
			upstream_close(r, cl->priv);
		cl->priv = u;
		u->holder = cl;
		upstream_idle_watch(r, u);
		return;
	}
	TAILQ_INSERT_HEAD(&u->srv->idle, u, entry);
	u->srv->nidle++;
	upstream_idle_watch(r, u);
}

static struct upstream *
upstream_new(struct relay *r, struct pool_server *s)
{
	struct upstream *u;
	int fd, one = 1;

	fd = socket(s->cs->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((u = calloc(1, sizeof(*u))) == NULL) {
		close(fd);
		return NULL;
	}
	ep_init(&u->e, fd, r->conf->max_header_bytes + IO_CHUNK,
	    r->conf->max_header_bytes + OUT_HIGH_WATER);
	u->srv = s;
	ev_io_init(&u->e.io, idle_upstream_cb, fd, EV_WRITE);
	u->e.io.data = u;
	ev_timer_init(&u->timer, idle_upstream_timer_cb, 0., 0.);
	u->timer.data = u;
	if (connect(fd, (const struct sockaddr *)&s->cs->addr,
	    s->cs->addrlen) < 0 && errno != EINPROGRESS) {
		ep_close(r, &u->e);
		free(u);
		return NULL;
	}
	if (s->pool->tls != NULL)
		u->e.tls = tls_conn_new_client(s->pool->tls, fd,
		    s->cs->name[0] ? s->cs->name : NULL);
	return u;
}

static void
count_backend(struct relay *r, const struct pool_server *s, int failed)
{
	if (s->idx >= METRICS_MAX_SERVERS)
		return;
	if (failed)
		r->mw->backend_connect_failures[s->idx]++;
	else
		r->mw->backend_requests[s->idx]++;
}

static uint64_t
affinity_for(struct client *cl, int *has)
{
	*has = 1;
	switch (cl->pool->cp->persist) {
	case CONF_PERSIST_SOURCE:
		return cl->peer_hash;
	case CONF_PERSIST_USER:
		if (cl->authed)
			return pool_hash(cl->principal, strlen(cl->principal));
		return cl->peer_hash;
	default:
		*has = 0;
		return 0;
	}
}

static void
start_backend(struct client *cl)
{
	struct relay *r = cl->r;
	struct pool *p = cl->pool;
	struct pool_server *s = NULL;
	struct upstream *u, *next;
	const char *user = kcd_pool(cl) && sends_identity(cl) ?
	    cl->principal : "";
	uint64_t aff;
	int idx = -1, has;

	if ((u = take_private(cl, user)) != NULL) {
		s = u->srv;
		idx = (int)(s - p->servers);
	}
	while (u == NULL) {
		aff = affinity_for(cl, &has);
		idx = pool_select(p, aff, has, cl->tried);
		if (cl->sticky >= 0 && (size_t)cl->sticky < p->n &&
		    p->servers[cl->sticky].healthy &&
		    !(cl->tried & (1ULL << (cl->sticky & 63))))
			idx = cl->sticky;
		if (idx < 0) {
			log_warnx("%s: pool %s has no healthy server for %s",
			    cl->peer, p->cp->name, cl->method);
			client_respond(cl, 503, NULL, "no back-end available", 1);
			return;
		}
		s = &p->servers[idx];
		/* Negotiate binds a back-end connection to one user: in kcd
		 * mode only that user's idle connections are reused.  One
		 * that has something to say is closed, never reused. */
		for (u = TAILQ_FIRST(&s->idle); u != NULL; u = next) {
			next = TAILQ_NEXT(u, entry);
			if (strcmp(u->user, user) != 0)
				continue;
			TAILQ_REMOVE(&s->idle, u, entry);
			u->entry.tqe_prev = NULL;
			s->nidle--;
			if (!upstream_stale(u))
				break;
			upstream_close(r, u);
		}
		if (u != NULL) {
			ev_timer_stop(r->loop, &u->timer);
			u->reused = 1;
			break;
		}
		if ((u = upstream_new(r, s)) != NULL)
			break;
		count_backend(r, s, 1);
		pool_server_failed(s, strerror(errno));
		cl->tried |= 1ULL << (idx & 63);
	}
	u->owner = cl;
	u->sent_any = 0;
	cl->sticky_set = p->cp->persist == CONF_PERSIST_COOKIE &&
	    idx != cl->sticky;
	s->active++;
	count_backend(r, s, 0);
	cl->up = u;
	cl->state = CS_CONNECT;
	cl->deadline_ms = kg_now_ms() + p->cp->connect_timeout_ms;
}

/* A Cookie header without kerbgate's session cookie (a credential for the
 * appliance, not for back-ends); dropped if nothing else is left. */
static void
forward_cookie(struct ep *o, const struct http_header *hd)
{
	char *v;
	size_t n;

	if ((v = malloc(2 * hd->value_len + 1)) == NULL) {
		o->error = 1;
		return;
	}
	n = rf_cookie_strip(hd->value, hd->value_len, SIGN_COOKIE_NAME, v);
	if (n > 0) {
		OUT_LIT(o, "Cookie: ");
		out_append(o, v, n);
		OUT_LIT(o, "\r\n");
	}
	kg_freezero(v, 2 * hd->value_len + 1);
}

/* Writes the request head, rewritten for the back-end, into its buffer. */
static int
forward_request_head(struct client *cl)
{
	struct relay *r = cl->r;
	struct ep *o = &cl->up->e;
	struct http_head h;
	const struct conf_pool *cp = cl->pool->cp;
	const char *xff = NULL;
	size_t xfflen = 0;
	const struct http_header *host;
	unsigned i;
	int rc;

	/* Parsed again: r->hdrs is shared scratch.  A fresh scan state. */
	memset(&h, 0, sizeof(h));
	if ((rc = parse_request(cl, &h)) <= 0)
		return -1;	/* it parsed before; cannot happen */
	host = http_find(&h, "Host");
	out_append(o, h.method, h.method_len);
	out_append(o, " ", 1);
	out_append(o, h.target, h.target_len);
	OUT_LIT(o, " HTTP/1.1\r\n");
	for (i = 0; i < h.nheaders; i++) {
		const struct http_header *hd = &h.headers[i];
		/* Never a client's copy of a header we set (identity,
		 * forwarding), in any spelling a back-end reads as the same
		 * name (X_Kerbgate_User is HTTP_X_KERBGATE_USER to CGI and
		 * IIS).  X-Forwarded-For spelled so is appended to below. */
		if (rf_name_reserved(hd->name, hd->name_len) &&
		    !hdr_is(hd, "X-Forwarded-For"))
			continue;
		if (hdr_is(hd, "Transfer-Encoding")) {
			/* Chunked bodies are passed through as they came. */
		} else if (http_is_hop_by_hop(hd->name, hd->name_len, &h)) {
			continue;
		}
		if (hdr_is(hd, "Authorization")) {
			/* Negotiate routes: the token was ours, any other
			 * scheme is not the back-end's to see; it gets our
			 * identity.  auth: none: the back-end authenticates
			 * the client itself, on this connection, which
			 * therefore serves no other client; but never with a
			 * Negotiate token: the ticket in it is for this VIP's
			 * own SPN, useless to a back-end, and a login to our
			 * negotiate routes for whoever sees it there. */
			if (cl->route->auth == CONF_AUTH_NEGOTIATE ||
			    is_negotiate(hd->value, hd->value_len))
				continue;
			cl->up->is_private = 1;
		}
		/* Our hop is appended to the client's (last one kept). */
		if (hdr_is(hd, "X-Forwarded-For")) {
			xff = hd->value;
			xfflen = hd->value_len;
			continue;
		}
		if (hdr_is(hd, "Cookie")) {
			forward_cookie(o, hd);
			continue;
		}
		out_append(o, hd->name, hd->name_len);
		out_append(o, ": ", 2);
		out_append(o, hd->value, hd->value_len);
		out_append(o, "\r\n", 2);
	}
	/* Client-sent values can be long: appended, not formatted. */
	out_append(o, "X-Forwarded-For: ", 17);
	if (xff != NULL) {
		out_append(o, xff, xfflen);
		out_append(o, ", ", 2);
	}
	out_printf(o, "%s\r\n", cl->peer);
	out_printf(o, "X-Forwarded-Proto: %s\r\n", cl->c.tls ? "https" : "http");
	/* RFC 7239: an IPv6 node is quoted and bracketed.  Only our own
	 * element: a client's Forwarded (which could claim a proto or host)
	 * was dropped above. */
	out_append(o, "Forwarded: ", 11);
	out_printf(o, "for=%s%s%s;proto=%s", strchr(cl->peer, ':') ? "\"[" : "",
	    cl->peer, strchr(cl->peer, ':') ? "]\"" : "",
	    cl->c.tls ? "https" : "http");
	if (host != NULL) {
		out_append(o, ";host=\"", 7);
		out_append(o, host->value, host->value_len);
		out_append(o, "\"", 1);
	}
	out_append(o, "\r\n", 2);
	if (cl->backend_auth != NULL) {
		/* kcd: the back-end's own ticket for this user, fresh. */
		out_append(o, "Authorization: ", 15);
		out_append(o, cl->backend_auth, strlen(cl->backend_auth));
		out_append(o, "\r\n", 2);
		kg_strlcpy(cl->up->user, cl->principal, sizeof(cl->up->user));
		free(cl->backend_auth);
		cl->backend_auth = NULL;
	}
	if (sends_identity(cl) && cp->mode == CONF_MODE_HEADER) {
		/* Once per forwarded request: built by hand, not by printf. */
		char sig[SIGN_HEX_LEN + 1], rid[sizeof(r->rid_prefix) + 21];
		char ts[21], vhost[256], gid[2 * SIGN_GRANT_ID_LEN + 1];
		char gexp[21];
		const struct kh_grant *g;
		const char *vn = r->conf->vhosts[cl->vhost].name;
		uint64_t now = (uint64_t)time(NULL);
		size_t n, tslen = put_u64(ts, now);

		ts[tslen] = '\0';
		/* Unique per relay process and request (a retry included), so
		 * a back-end may refuse any id it has seen. */
		memcpy(rid, r->rid_prefix, r->rid_prefix_len);
		n = r->rid_prefix_len + put_u64(rid + r->rid_prefix_len,
		    ++r->rid_seq);
		rid[n] = '\0';
		for (n = 0; vn[n] != '\0' && n < sizeof(vhost) - 1; n++)
			vhost[n] = (char)tolower((unsigned char)vn[n]);
		vhost[n] = '\0';
		if ((g = find_grant(cl)) == NULL) {
			log_warnx("%s: no identity grant for pool %s: refusing "
			    "to forward as %s", cl->peer, cp->name, cl->principal);
			return -1;
		}
		sign_hex(g->id, sizeof(g->id), gid);
		gexp[put_u64(gexp, cl->auth_expiry)] = '\0';
		if (sign_identity(g->key, sizeof(g->key),
		    cl->principal, now, rid, cl->c.tls ? "https" : "http",
		    vhost, h.method, h.method_len, h.target, h.target_len,
		    sig) < 0)
			return -1;
		n = strlen(rid);
		OUT_LIT(o, "X-Kerbgate-User: ");
		out_append(o, cl->principal, strlen(cl->principal));
		OUT_LIT(o, "\r\nX-Kerbgate-Time: ");
		out_append(o, ts, tslen);
		OUT_LIT(o, "\r\nX-Kerbgate-Request-Id: ");
		out_append(o, rid, n);
		OUT_LIT(o, "\r\nX-Kerbgate-Grant: " SIGN_GRANT_VERSION "; id=");
		out_append(o, gid, 2 * SIGN_GRANT_ID_LEN);
		OUT_LIT(o, "; exp=");
		out_append(o, gexp, strlen(gexp));
		OUT_LIT(o, "\r\nX-Kerbgate-Signature: " SIGN_VERSION_TAG);
		out_append(o, sig, SIGN_HEX_LEN);
		OUT_LIT(o, "\r\n");
	}
	OUT_LIT(o, "Connection: keep-alive\r\n\r\n");
	/* A body-less request keeps its head until the answer starts, so it
	 * can be sent again if a reused back-end connection was stale. */
	if (h.body != HTTP_BODY_NONE) {
		kg_buf_consume(&cl->c.in, h.head_len);
		cl->head_unread = 0;
	}
	return o->error ? -1 : 0;
}

/* RFC 9110 9.2.1 safe methods: sending one twice changes nothing. */
static int
safe_method(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 ||
	    strcmp(m, "OPTIONS") == 0;
}

static void
backend_failed(struct client *cl, const char *why)
{
	struct upstream *u = cl->up;
	struct pool_server *s = u->srv;
	int idx = (int)(s - cl->pool->servers);

	log_warnx("%s: back-end %s: %s", cl->peer, s->cs->text, why);
	count_backend(cl->r, s, 1);
	if (!u->reused)
		pool_server_failed(s, why);
	release_upstream(cl, 0);
	/* Nothing was sent: another server may take the request. */
	cl->tried |= 1ULL << (idx & 63);
	start_backend(cl);
}

/* CS_CONNECT: TCP connect, then TLS, then the request head. */
static int
step_connect(struct client *cl)
{
	struct upstream *u = cl->up;
	int err = 0, rc;
	socklen_t elen = sizeof(err);

	if (!u->connected) {
		if (getsockopt(u->e.fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			err = errno;
		if (err == EINPROGRESS || err == EALREADY)
			return 0;
		if (err != 0) {
			backend_failed(cl, strerror(err));
			return 1;
		}
		/* A non-blocking connect is done once the socket is writable;
		 * before the first event we cannot tell, so peek. */
		{
			struct sockaddr_storage ss;
			socklen_t sl = sizeof(ss);
			if (getpeername(u->e.fd, (struct sockaddr *)&ss, &sl) < 0)
				return 0;
		}
		u->connected = 1;
	}
	if (u->e.tls != NULL && !u->e.handshaken) {
		u->e.tls_wait = 0;
		rc = tls_handshake(u->e.tls);
		if (rc == TLS_OK) {
			u->e.handshaken = 1;
		} else if (rc == TLS_WANT_READ || rc == TLS_WANT_WRITE) {
			ep_tls_status(&u->e, rc);
			return 0;
		} else {
			backend_failed(cl, tls_conn_error(u->e.tls));
			return 1;
		}
	}
	if (needs_backend_token(cl)) {
		request_backend_token(cl);
		return 1;
	}
	if (forward_request_head(cl) < 0) {
		release_upstream(cl, 0);
		client_respond(cl, 502, NULL, "could not forward the request", 1);
		return 1;
	}
	u->sent_any = 1;
	cl->state = CS_PROXY;
	cl->req_done_ms = cl->req_done ? kg_now_ms() : 0;
	return 1;
}

/* Moves request body bytes from the client to the back-end, validated. */
static int
pump_request_body(struct client *cl)
{
	struct ep *in = &cl->c, *out = &cl->up->e;
	size_t avail, consumed = 0, take;
	const char *data;
	size_t dlen;
	int rc, progress = 0;

	while (!cl->req_done && (avail = kg_buf_len(&in->in)) > 0 &&
	    kg_buf_len(&out->out) < OUT_HIGH_WATER) {
		take = avail;
		rc = http_body_feed(&cl->req_body,
		    (const char *)kg_buf_data(&in->in), take, &consumed, &data,
		    &dlen);
		if (rc < 0) {
			log_warnx("%s: bad request body: %s", cl->peer,
			    http_strerror(rc));
			cl->req_done = 1;
			cl->resp_close = 1;
			release_upstream(cl, 0);
			client_respond(cl, 400, NULL, http_strerror(rc), 1);
			return 1;
		}
		if (consumed == 0 && rc != HTTP_BODY_DONE)
			break;
		out_append(out, kg_buf_data(&in->in), consumed);
		kg_buf_consume(&in->in, consumed);
		cl->r->mw->bytes_in += consumed;
		progress = 1;
		if (rc == HTTP_BODY_DONE) {
			cl->req_done = 1;
			cl->req_done_ms = kg_now_ms();
		}
	}
	return progress;
}

static void
forward_response_head(struct client *cl, const struct http_head *h)
{
	struct ep *o = &cl->c;
	unsigned i;
	int keep;

	/* RFC 9112 6.1: no chunked coding to an HTTP/1.0 client; it gets
	 * the payload, delimited by closing the connection. */
	cl->dechunk = cl->req_http10 && h->body == HTTP_BODY_CHUNKED;
	keep = cl->req_keepalive && h->body != HTTP_BODY_UNTIL_CLOSE &&
	    !cl->dechunk && !cl->r->draining;
	cl->resp_close = !keep;
	out_printf(o, "HTTP/1.1 %d ", h->status);
	out_append(o, h->reason, h->reason_len);
	out_append(o, "\r\n", 2);
	for (i = 0; i < h->nheaders; i++) {
		const struct http_header *hd = &h->headers[i];
		if (hdr_is(hd, "Transfer-Encoding") ? cl->dechunk :
		    http_is_hop_by_hop(hd->name, hd->name_len, h))
			continue;
		/* The back-end's AP-REP is for the appliance, not the client. */
		if (kcd_pool(cl) && hdr_is(hd, "WWW-Authenticate"))
			continue;
		out_append(o, hd->name, hd->name_len);
		out_append(o, ": ", 2);
		out_append(o, hd->value, hd->value_len);
		out_append(o, "\r\n", 2);
	}
	if (cl->mutual != NULL) {
		out_printf(o, "WWW-Authenticate: %s\r\n", cl->mutual);
		free(cl->mutual);
		cl->mutual = NULL;
	}
	if (cl->sticky_set && cl->up != NULL) {
		out_printf(o, "Set-Cookie: " STICKY_COOKIE "=%016" PRIx64
		    "; Path=/; HttpOnly\r\n", server_tag(cl->up->srv));
		cl->sticky_set = 0;
	}
	if (cl->set_cookie != NULL) {
		out_printf(o, "Set-Cookie: %s\r\n", cl->set_cookie);
		free(cl->set_cookie);
		cl->set_cookie = NULL;
	}
	out_printf(o, "Connection: %s\r\n\r\n", keep ? "keep-alive" : "close");
	count_response(cl, h->status);
	metrics_observe_latency(cl->r->mw,
	    (kg_now_ms() - cl->req_start_ms) * 1000);
}

/* Does v (n bytes) contain word, ignoring case? */
static int
has_word(const char *v, size_t n, const char *word)
{
	size_t i, wl = strlen(word);

	for (i = 0; i + wl <= n; i++)
		if (strncasecmp(v + i, word, wl) == 0)
			return 1;
	return 0;
}

/*
 * Has a connection-based WWW-Authenticate (NTLM, Negotiate)?  A scheme
 * starts the value or follows a comma (RFC 9110 11.6.1); the word found
 * anywhere else only errs on the side of keeping the connection private.
 */
static int
conn_challenge(const struct http_head *h)
{
	const struct http_header *hd;
	unsigned i;

	for (i = 0; i < h->nheaders; i++) {
		hd = &h->headers[i];
		if (hdr_is(hd, "WWW-Authenticate") &&
		    (has_word(hd->value, hd->value_len, "NTLM") ||
		    has_word(hd->value, hd->value_len, "Negotiate")))
			return 1;
	}
	return 0;
}

/* Whether a chunked response's Transfer-Encoding is "chunked" alone. */
static int
chunked_only(const struct http_head *h)
{
	const struct http_header *te = http_find(h, "Transfer-Encoding");

	return te != NULL && te->value_len == 7 &&
	    strncasecmp(te->value, "chunked", 7) == 0;
}

static int
pump_response(struct client *cl)
{
	struct relay *r = cl->r;
	struct ep *in = &cl->up->e, *out = &cl->c;
	struct http_head h;
	size_t consumed;
	const char *data;
	size_t dlen;
	int rc, progress = 0;

	while (!cl->resp_head_done && kg_buf_len(&in->in) > 0) {
		/* cl->resp_head keeps the scan between calls: a slow back-end
		 * costs linear time. */
		rc = http_parse_response((const char *)kg_buf_data(&in->in),
		    kg_buf_len(&in->in), &r->limits, cl->method,
		    strlen(cl->method), r->hdrs, SCRATCH_HEADERS, &cl->resp_head);
		if (rc == HTTP_NEED_MORE)
			return progress;
		h = cl->resp_head;
		memset(&cl->resp_head, 0, sizeof(cl->resp_head));
		if (rc < 0) {
			log_warnx("%s: back-end %s sent a bad response: %s",
			    cl->peer, cl->up->srv->cs->text, http_strerror(rc));
			release_upstream(cl, 0);
			cl->req_done = 1;
			client_respond(cl, 502, NULL, "bad response from back-end", 1);
			return 1;
		}
		if (h.status >= 100 && h.status < 200) {
			/* RFC 9110 15.2: no 1xx to an HTTP/1.0 client. */
			if (h.status == 100 && !cl->req_http10)
				OUT_LIT(out, "HTTP/1.1 100 Continue\r\n\r\n");
			kg_buf_consume(&in->in, h.head_len);
			progress = 1;
			continue;
		}
		if (kcd_pool(cl) && cl->up->user[0] != '\0' && h.status == 401) {
			log_warnx("%s: back-end %s refused the delegated ticket "
			    "for %s: is %s the back-end's SPN, and its keytab "
			    "current?", cl->peer, cl->up->srv->cs->text,
			    cl->principal, cl->up->srv->cs->spn);
			count_delegation(cl, 0);
			release_upstream(cl, 0);
			cl->req_done = 1;
			client_respond(cl, 502, NULL, "back-end refused the "
			    "delegated ticket", 1);
			return 1;
		}
		if (kcd_pool(cl) && cl->verify != 0 && !cl->verified) {
			if (cl->verify_wait)
				return progress;
			if (request_verify(cl, &h) < 0) {
				log_warnx("%s: back-end %s sent no Negotiate "
				    "answer: it did not prove its identity",
				    cl->peer, cl->up->srv->cs->text);
				release_upstream(cl, 0);
				cl->req_done = 1;
				client_respond(cl, 502, NULL, "back-end did not "
				    "authenticate itself", 1);
			}
			return 1;
		}
		if (cl->req_http10 && h.body == HTTP_BODY_CHUNKED &&
		    !chunked_only(&h)) {
			/* gzip, chunked: the client could not undo the gzip. */
			log_warnx("%s: back-end %s answered an HTTP/1.0 client "
			    "with a transfer coding other than chunked",
			    cl->peer, cl->up->srv->cs->text);
			release_upstream(cl, 0);
			cl->req_done = 1;
			client_respond(cl, 502, NULL, "back-end used a transfer "
			    "coding an HTTP/1.0 client cannot read", 1);
			return 1;
		}
		cl->verify = 0;
		cl->verified = 0;
		/* NTLM or Negotiate asked of the client: the back-end will
		 * authenticate this connection; it serves no one else.  (Our
		 * own kcd login answers on a connection kept for its user.) */
		if (cl->up->user[0] == '\0' && conn_challenge(&h))
			cl->up->is_private = 1;
		kg_buf_consume(&cl->c.in, cl->head_unread);
		cl->head_unread = 0;
		/* Apache closes after MaxKeepAliveRequests: such a connection
		 * must not go back to the idle pool. */
		cl->backend_close = !h.keep_alive;
		forward_response_head(cl, &h);
		http_body_init(&cl->resp_body, &h);
		kg_buf_consume(&in->in, h.head_len);
		cl->resp_head_done = 1;
		cl->resp_done = h.body == HTTP_BODY_NONE;
		progress = 1;
	}
	while (cl->resp_head_done && !cl->resp_done &&
	    kg_buf_len(&in->in) > 0 && kg_buf_len(&out->out) < OUT_HIGH_WATER) {
		rc = http_body_feed(&cl->resp_body,
		    (const char *)kg_buf_data(&in->in), kg_buf_len(&in->in),
		    &consumed, &data, &dlen);
		if (rc < 0) {
			log_warnx("%s: back-end %s: bad response body: %s",
			    cl->peer, cl->up->srv->cs->text, http_strerror(rc));
			cl->resp_close = 1;
			cl->resp_done = 1;
			release_upstream(cl, 0);
			cl->state = CS_CLOSING;
			return 1;
		}
		if (consumed == 0 && rc != HTTP_BODY_DONE)
			break;
		if (cl->dechunk)
			out_append(out, data, dlen);
		else
			out_append(out, kg_buf_data(&in->in), consumed);
		kg_buf_consume(&in->in, consumed);
		r->mw->bytes_out += consumed;
		progress = 1;
		if (rc == HTTP_BODY_DONE)
			cl->resp_done = 1;
	}
	return progress;
}

static void
finish_exchange(struct client *cl)
{
	int reusable = cl->req_done && cl->resp_done && cl->up != NULL &&
	    cl->resp_body.kind != HTTP_BODY_UNTIL_CLOSE && !cl->backend_close;

	release_upstream(cl, reusable);
	if (cl->resp_close || !cl->req_done) {
		cl->state = CS_CLOSING;
		return;
	}
	cl->state = CS_READ_HEAD;
	cl->head_start_ms = 0;
	cl->tried = 0;
}

/* CS_PROXY: stream both ways until both messages are complete. */
static int
step_proxy(struct client *cl)
{
	struct upstream *u = cl->up;
	int progress = 0;

	progress |= pump_request_body(cl);
	if (cl->state != CS_PROXY)
		return 1;
	progress |= pump_response(cl);
	if (cl->state != CS_PROXY)
		return 1;
	if (cl->resp_done) {
		finish_exchange(cl);
		return 1;
	}
	/* A response held for its AP-REP check is complete in the buffer
	 * even if the back-end has closed since (MaxKeepAliveRequests). */
	if (cl->verify_wait)
		return progress;
	if (u->e.eof || u->e.error) {
		if (cl->resp_head_done && cl->resp_body.kind ==
		    HTTP_BODY_UNTIL_CLOSE && !u->e.error) {
			cl->resp_done = 1;
			cl->resp_close = 1;
			finish_exchange(cl);
			return 1;
		}
		log_warnx("%s: back-end %s closed the connection %s", cl->peer,
		    u->srv->cs->text, cl->resp_head_done ? "mid-response" :
		    "before answering");
		if (!cl->resp_head_done && cl->head_unread > 0 &&
		    kg_buf_len(&u->e.in) == 0 && safe_method(cl->method)) {
			/* Not a byte of an answer to a safe request: a reused
			 * idle connection the server had dropped (or was
			 * dropping), or a server that went away with it in
			 * hand.  RFC 9110 9.2.2 lets a proxy send it again:
			 * to another server in the second case.  Any other
			 * method may have been acted on: never sent twice,
			 * whatever the connection. */
			int idx = (int)(u->srv - cl->pool->servers);

			if (!u->reused)
				cl->tried |= 1ULL << (idx & 63);
			release_upstream(cl, 0);
			start_backend(cl);
			return 1;
		}
		release_upstream(cl, 0);
		if (cl->resp_head_done) {
			cl->state = CS_CLOSING;
		} else {
			cl->req_done = 1;
			client_respond(cl, 502, NULL, "back-end closed the "
			    "connection", 1);
		}
		return 1;
	}
	if (cl->c.error || (cl->c.eof && !cl->req_done)) {
		release_upstream(cl, 0);
		cl->state = CS_CLOSING;
		return 1;
	}
	return progress;
}

/* CS_LOCAL: after our response is out, drain a small refused body. */
static int
step_local(struct client *cl)
{
	size_t consumed;
	const char *data;
	size_t dlen;
	int rc;

	if (cl->drain_body && !cl->req_done && kg_buf_len(&cl->c.in) > 0) {
		rc = http_body_feed(&cl->req_body,
		    (const char *)kg_buf_data(&cl->c.in), kg_buf_len(&cl->c.in),
		    &consumed, &data, &dlen);
		if (rc < 0) {
			cl->local_close = 1;
			cl->req_done = 1;
		} else {
			kg_buf_consume(&cl->c.in, consumed);
			if (rc == HTTP_BODY_DONE)
				cl->req_done = 1;
		}
		return 1;
	}
	if (kg_buf_len(&cl->c.out) > 0)
		return 0;
	if (cl->local_close) {
		cl->state = CS_CLOSING;
		return 1;
	}
	if (!cl->req_done)
		return 0;
	cl->state = CS_READ_HEAD;
	cl->head_start_ms = 0;
	cl->tried = 0;
	return 1;
}

static int
step(struct client *cl)
{
	int rc;

	switch (cl->state) {
	case CS_HANDSHAKE:
		cl->c.tls_wait = 0;
		rc = tls_handshake(cl->c.tls);
		if (rc == TLS_OK) {
			cl->c.handshaken = 1;
			if (cl->r->conf->nvhosts > 0)
				compute_channel_binding(cl);
			cl->state = CS_READ_HEAD;
			return 1;
		}
		if (rc == TLS_WANT_READ || rc == TLS_WANT_WRITE) {
			ep_tls_status(&cl->c, rc);
			return 0;
		}
		if (rc == TLS_WANT_SIGN)
			return 0;	/* parked until tk_cb() */
		log_info("%s: TLS handshake failed: %s", cl->peer,
		    tls_conn_error(cl->c.tls));
		cl->state = CS_CLOSING;
		cl->c.error = 1;
		return 1;
	case CS_READ_HEAD:
		if (kg_buf_len(&cl->c.in) == 0) {
			if (cl->c.eof || cl->c.error)
				cl->state = CS_CLOSING;
			return cl->state == CS_CLOSING;
		}
		if (cl->head_start_ms == 0)
			cl->head_start_ms = kg_now_ms();
		handle_request_head(cl);
		if (cl->state == CS_READ_HEAD && (cl->c.eof || cl->c.error))
			cl->state = CS_CLOSING;
		return cl->state != CS_READ_HEAD;
	case CS_AUTH:
	case CS_BACKEND_AUTH:
		return 0;
	case CS_CONNECT:
		return step_connect(cl);
	case CS_PROXY:
		return step_proxy(cl);
	case CS_LOCAL:
		return step_local(cl);
	case CS_CLOSING:
		return 0;
	}
	return 0;
}

/* ------------------------------------------------------------ timers */

static uint64_t
client_deadline(struct client *cl)
{
	struct conf *c = cl->r->conf;
	unsigned idle = c->idle_timeout_ms, fb;

	switch (cl->state) {
	case CS_HANDSHAKE:
		return cl->accept_ms + c->header_timeout_ms;
	case CS_READ_HEAD:
		/* A new connection has header_timeout from accept for its
		 * TLS handshake and first head: one that sends nothing is
		 * not held for idle_timeout (slowloris). */
		if (cl->reqno == 0)
			return cl->accept_ms + c->header_timeout_ms;
		if (kg_buf_len(&cl->c.in) == 0 && cl->head_start_ms == 0)
			return cl->last_io_ms + idle;
		/* Slowloris: the whole head within header_timeout. */
		return (cl->head_start_ms ? cl->head_start_ms : cl->last_io_ms) +
		    c->header_timeout_ms;
	case CS_AUTH:
	case CS_CONNECT:
	case CS_BACKEND_AUTH:
		return cl->deadline_ms;
	case CS_PROXY:
		if (cl->route != NULL && cl->route->idle_timeout_ms)
			idle = cl->route->idle_timeout_ms;
		if (!cl->resp_head_done && cl->req_done) {
			fb = cl->route && cl->route->first_byte_timeout_ms ?
			    cl->route->first_byte_timeout_ms :
			    cl->pool->cp->first_byte_timeout_ms;
			return cl->req_done_ms + fb;
		}
		return cl->last_io_ms + idle;
	case CS_LOCAL:
	case CS_CLOSING:
		return cl->last_io_ms + c->header_timeout_ms;
	}
	return cl->last_io_ms + idle;
}

static void
client_timeout(struct client *cl)
{
	switch (cl->state) {
	case CS_READ_HEAD:
		if (kg_buf_len(&cl->c.in) == 0 && cl->reqno == 0) {
			log_debug("%s: no request within %u s of connecting: "
			    "closing", cl->peer,
			    cl->r->conf->header_timeout_ms / 1000);
			cl->state = CS_CLOSING;
			return;
		}
		if (kg_buf_len(&cl->c.in) > 0 || cl->head_start_ms != 0) {
			log_info("%s: request head not complete within %u s: "
			    "closing (slow client)", cl->peer,
			    cl->r->conf->header_timeout_ms / 1000);
			cl->req_done = 1;
			client_respond(cl, 408, NULL, "request head too slow", 1);
			return;
		}
		cl->state = CS_CLOSING;
		return;
	case CS_AUTH:
		cl->r->mw->auth_fail_relay[MR_KEYHOLDER]++;
		log_warnx("%s: keyholder did not answer in time", cl->peer);
		cl->kh_id = 0;
		client_respond(cl, 503, NULL, "authentication timed out", 1);
		return;
	case CS_CONNECT:
		backend_failed(cl, "connect timed out");
		return;
	case CS_BACKEND_AUTH:
		log_warnx("%s: the keyholder did not deliver a delegated ticket "
		    "in time", cl->peer);
		release_upstream(cl, 0);
		client_respond(cl, 503, NULL, "delegation timed out", 1);
		return;
	case CS_PROXY:
		if (!cl->resp_head_done && cl->req_done) {
			log_warnx("%s: back-end %s sent no response in time",
			    cl->peer, cl->up->srv->cs->text);
			release_upstream(cl, 0);
			client_respond(cl, 504, NULL, "back-end timed out", 1);
			return;
		}
		log_info("%s: idle for too long: closing", cl->peer);
		release_upstream(cl, 0);
		cl->state = CS_CLOSING;
		return;
	default:
		cl->state = CS_CLOSING;
	}
}

static void
client_timer_cb(struct ev_loop *loop, ev_timer *w, int events)
{
	struct client *cl = w->data;

	if (kg_now_ms() + 5 < client_deadline(cl)) {
		client_pump(cl);	/* re-arms for the new deadline */
		return;
	}
	client_timeout(cl);
	client_pump(cl);
}

/* ------------------------------------------------------------ pump */

static int
want_client_read(const struct client *cl)
{
	switch (cl->state) {
	case CS_HANDSHAKE:
		return 0;
	case CS_READ_HEAD:
		return 1;
	case CS_PROXY:
		return !cl->req_done && cl->up != NULL &&
		    kg_buf_len(&cl->up->e.out) < OUT_HIGH_WATER;
	case CS_LOCAL:
		return cl->drain_body && !cl->req_done;
	default:
		return 0;
	}
}

static int
want_upstream_read(const struct client *cl)
{
	return cl->state == CS_PROXY &&
	    kg_buf_len(&cl->c.out) < OUT_HIGH_WATER;
}

static void
client_pump(struct client *cl)
{
	struct relay *r = cl->r;
	int i, progress;
	ssize_t n;

	mem_note_busy(r, cl);
	for (i = 0; i < 256; i++) {
		progress = 0;
		if (want_client_read(cl) && (n = ep_fill(&cl->c)) > 0) {
			progress = 1;
			cl->last_io_ms = kg_now_ms();
		}
		if (cl->up != NULL && cl->state == CS_PROXY &&
		    want_upstream_read(cl) && (n = ep_fill(&cl->up->e)) > 0) {
			progress = 1;
			cl->last_io_ms = kg_now_ms();
		}
		progress |= step(cl);
		if (cl->up != NULL && cl->state != CS_CONNECT &&
		    ep_flush(&cl->up->e) > 0)
			progress = 1;
		if (ep_flush(&cl->c) > 0) {
			progress = 1;
			cl->last_io_ms = kg_now_ms();
		}
		if (cl->c.error || (cl->state == CS_CLOSING &&
		    kg_buf_len(&cl->c.out) == 0)) {
			client_free(cl);
			return;
		}
		if (!progress)
			break;
	}
	if (cl->state == CS_READ_HEAD && kg_buf_len(&cl->c.in) == 0)
		kg_buf_release(&cl->c.in);	/* idle: give buffers back */
	/* A handshake waiting for its signature is not watched: bytes the
	 * client sends meanwhile would wake it for nothing, again and again. */
	ep_watch(r, &cl->c, want_client_read(cl) ||
	    (cl->state == CS_HANDSHAKE && cl->tk_id == 0));
	if (cl->up != NULL) {
		if (cl->state == CS_CONNECT && !cl->up->connected)
			cl->up->e.tls_wait = EV_WRITE;
		ep_watch(r, &cl->up->e, cl->state == CS_PROXY ?
		    want_upstream_read(cl) : 0);
	}
	ev_timer_stop(r->loop, &cl->timer);
	{
		uint64_t now = kg_now_ms(), dl = client_deadline(cl);
		ev_timer_set(&cl->timer, dl > now ? (dl - now) / 1000.0 : 0.001,
		    0.);
	}
	ev_timer_start(r->loop, &cl->timer);
}

static void
client_io_cb(struct ev_loop *loop, ev_io *w, int events)
{
	client_pump(w->data);
}

static void
client_free(struct client *cl)
{
	struct relay *r = cl->r;

	release_upstream(cl, 0);
	if (cl->priv != NULL)
		upstream_close(r, cl->priv);	/* clears cl->priv */
	src_release(cl);
	ev_timer_stop(r->loop, &cl->timer);
	ep_close(r, &cl->c);
	TAILQ_REMOVE(&r->clients, cl, entry);
	if (cl->used_listed)
		TAILQ_REMOVE(&r->used, cl, used_entry);
	r->nclients--;
	r->mw->conns_open--;
	free(cl->mutual);
	free(cl->set_cookie);
	free(cl->mech_list);
	free(cl->backend_auth);
	kg_zero(cl->principal, sizeof(cl->principal));
	drop_grants(cl);
	free(cl);
	if (!r->accepting && !r->draining && r->nclients < r->max_clients) {
		size_t i;
		for (i = 0; i < r->conf->nlisteners; i++)
			ev_io_start(r->loop, &r->lst_io[i]);
		r->accepting = 1;
	}
	if (r->draining && r->nclients == 0)
		ev_break(r->loop, EVBREAK_ALL);
}

/* ------------------------------------------------------------ accept */

/*
 * Counts the connection against its source address.  Returns -1 (logged,
 * at most once a second) when the address already holds this worker's
 * share of limits.max_connections_per_source.
 */
static int
src_take(struct relay *r, struct client *cl)
{
	struct src_count *sc;
	ev_tstamp now;

	if (r->src == NULL)
		return 0;
	LIST_FOREACH(sc, &r->src[cl->peer_hash % SRC_BUCKETS], entry)
		if (sc->hash == cl->peer_hash && strcmp(sc->peer, cl->peer) == 0)
			break;
	if (sc != NULL && sc->n >= r->src_cap) {
		now = ev_now(r->loop);
		if (now - r->src_logged < 1.) {
			r->src_unlogged++;
			return -1;
		}
		log_warnx("%s: connection refused: %u already open from this "
		    "address, the limit per worker (limits."
		    "max_connections_per_source %u over %u worker(s)); %u "
		    "more refused since the last such line", cl->peer, sc->n,
		    r->conf->max_connections_per_source, r->env->nworkers ?
		    r->env->nworkers : 1, r->src_unlogged);
		r->src_logged = now;
		r->src_unlogged = 0;
		return -1;
	}
	if (sc == NULL) {
		if ((sc = calloc(1, sizeof(*sc))) == NULL)
			return 0;	/* uncounted rather than refused */
		sc->hash = cl->peer_hash;
		kg_strlcpy(sc->peer, cl->peer, sizeof(sc->peer));
		LIST_INSERT_HEAD(&r->src[cl->peer_hash % SRC_BUCKETS], sc,
		    entry);
	}
	sc->n++;
	cl->src = sc;
	return 0;
}

static void
src_release(struct client *cl)
{
	struct src_count *sc = cl->src;

	if (sc == NULL)
		return;
	cl->src = NULL;
	if (--sc->n == 0) {
		LIST_REMOVE(sc, entry);
		free(sc);
	}
}

static void
format_peer(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
		    a, sizeof(a));
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr,
		    a, sizeof(a));
	kg_strlcpy(out, a, outlen);
}

static void
accept_one(struct relay *r, int lfd, const struct conf_listener *l, int admin)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct client *cl;
	int fd;

	/* TCP_NODELAY comes from the listening socket. */
	fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK |
	    SOCK_CLOEXEC);
	if (fd < 0)
		return;		/* another worker took it, or EMFILE */
	if ((cl = calloc(1, sizeof(*cl))) == NULL) {
		close(fd);
		return;
	}
	cl->r = r;
	cl->lst = l;
	cl->admin = admin;
	format_peer(&ss, cl->peer, sizeof(cl->peer));
	cl->peer_hash = pool_hash(cl->peer, strlen(cl->peer));
	if (!admin && src_take(r, cl) < 0) {
		close(fd);
		free(cl);
		return;
	}
	ep_init(&cl->c, fd, r->conf->max_header_bytes,
	    r->conf->max_header_bytes + OUT_HIGH_WATER);
	ev_io_init(&cl->c.io, client_io_cb, fd, EV_READ);
	cl->c.io.data = cl;
	ev_timer_init(&cl->timer, client_timer_cb, 0., 0.);
	cl->timer.data = cl;
	cl->state = CS_READ_HEAD;
	cl->last_io_ms = cl->accept_ms = kg_now_ms();
	cl->vhost = -1;
	cl->sticky = -1;
	if (l != NULL && l->tls) {
		if ((cl->c.tls = tls_conn_new_server(r->env->tls, fd)) == NULL) {
			src_release(cl);
			close(fd);
			free(cl);
			return;
		}
		tls_conn_set_data(cl->c.tls, cl);	/* for tk_sign() */
		cl->state = CS_HANDSHAKE;
	}
	TAILQ_INSERT_TAIL(&r->clients, cl, entry);
	r->nclients++;
	r->mw->conns_open++;
	r->mw->conns_total++;
	if (r->nclients >= r->max_clients && r->accepting) {
		size_t i;
		log_warnx("connection limit (%u per worker) reached: pausing "
		    "accept", r->max_clients);
		for (i = 0; i < r->conf->nlisteners; i++)
			ev_io_stop(r->loop, &r->lst_io[i]);
		r->accepting = 0;
	}
	client_pump(cl);
}

static void
listener_cb(struct ev_loop *loop, ev_io *w, int events)
{
	struct relay *r = the_relay;
	size_t i = (size_t)(w - r->lst_io);

	accept_one(r, w->fd, &r->conf->listeners[i], 0);
}

static void
admin_cb(struct ev_loop *loop, ev_io *w, int events)
{
	accept_one(the_relay, w->fd, NULL, 1);
}

/* ------------------------------------------------------------ lifecycle */

static void
start_drain(struct relay *r)
{
	size_t i;

	if (r->draining)
		return;
	r->draining = 1;
	/* Close, not just stop: a socket the parent let go of (fewer workers
	 * after a reload) must leave the kernel's SO_REUSEPORT group now. */
	for (i = 0; i < r->conf->nlisteners; i++) {
		ev_io_stop(r->loop, &r->lst_io[i]);
		close(r->lst_io[i].fd);
	}
	ev_io_stop(r->loop, &r->admin_io);
	log_info("draining: %u connection(s) left", r->nclients);
	if (r->nclients == 0)
		ev_break(r->loop, EVBREAK_ALL);
}

static void
ctl_cb(struct ev_loop *loop, ev_io *w, int events)
{
	struct relay *r = w->data;
	char b[64];
	ssize_t n = read(w->fd, b, sizeof(b));

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		/* The parent is gone: finish what we have and go. */
		ev_io_stop(loop, w);
		start_drain(r);
		return;
	}
	if (n > 0 && memchr(b, RELAY_CTL_DRAIN, (size_t)n) != NULL)
		start_drain(r);
}

/* ------------------------------------------------------------ memory */

/*
 * Idle connections give their buffers back (kg_buf_release), but glibc keeps
 * freed memory in the process, and an idle TLS connection still holds
 * mbedTLS's two 16.7 KiB record buffers.  Both go back to the system once
 * the relay has been quiet for TRIM_QUIET_S (so at once after a burst, at
 * most every TRIM_GAP_S), and every TRIM_INTERVAL_S if it never is: the
 * spent pages of the record buffers of the TLS connections used since the
 * last pass and now idle (tls_conn_shrink), then malloc_trim(0).
 */
static void
mem_note_busy(struct relay *r, struct client *cl)
{
	r->last_busy = ev_now(r->loop);
	if (cl->c.tls != NULL && !cl->used_listed) {
		TAILQ_INSERT_TAIL(&r->used, cl, used_entry);
		cl->used_listed = 1;
	}
	if (!ev_is_active(&r->quiet)) {
		ev_timer_set(&r->quiet, TRIM_QUIET_S, 0.);
		ev_timer_start(r->loop, &r->quiet);
	}
}

static void
mem_give_back(struct relay *r)
{
	struct client *cl, *next;
	struct upstream *u;
	size_t i, j;

	for (cl = TAILQ_FIRST(&r->used); cl != NULL; cl = next) {
		next = TAILQ_NEXT(cl, used_entry);
		/* One in the middle of a request stays listed for next time. */
		if (cl->state != CS_READ_HEAD || kg_buf_len(&cl->c.in) > 0 ||
		    kg_buf_len(&cl->c.out) > 0)
			continue;
		tls_conn_shrink(cl->c.tls);
		TAILQ_REMOVE(&r->used, cl, used_entry);
		cl->used_listed = 0;
	}
	for (i = 0; i < r->conf->npools; i++)
		for (j = 0; j < r->pools[i].n; j++)
			TAILQ_FOREACH(u, &r->pools[i].servers[j].idle, entry)
				if (u->e.tls != NULL)
					tls_conn_shrink(u->e.tls);
	malloc_trim(0);
	r->last_trim = ev_now(r->loop);
}

static void
trim_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	mem_give_back(w->data);
}

static void
quiet_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct relay *r = w->data;
	ev_tstamp now = ev_now(loop), at;

	at = r->last_busy + TRIM_QUIET_S;
	if (at < r->last_trim + TRIM_GAP_S)
		at = r->last_trim + TRIM_GAP_S;
	if (at > now + 0.001) {
		ev_timer_set(w, at - now, 0.);
		ev_timer_start(loop, w);
		return;
	}
	mem_give_back(r);
}

static void
sigterm_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	start_drain(w->data);
}

/*
 * Test hook, armed only when kerbgated starts with KERBGATE_TEST_HOOKS=1 in
 * its environment: SIGUSR2 makes this relay send the keyholder a frame of a
 * type it does not know, so that the integration tests can show the
 * keyholder drops this relay alone and the parent replaces it.
 */
#define KH_MSG_TEST_UNKNOWN	0x7777

static void
test_hook_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct relay *r = w->data;

	(void)loop;
	(void)revents;
	if (r->test_tlskey) {
		log_warnx("test hook: sending the TLS key process a frame of "
		    "unknown type");
		if (kg_ipc_queue(&r->tk_wr, KH_MSG_TEST_UNKNOWN, 0, "bad", 3) ==
		    KG_OK)
			kg_ipc_flush(&r->tk_wr, r->env->tlskey_fd);
		return;
	}
	log_warnx("test hook: sending the keyholder a frame of unknown type");
	if (kg_ipc_queue(&r->kh_wr, KH_MSG_TEST_UNKNOWN, 0, "bad", 3) == KG_OK)
		kg_ipc_flush(&r->kh_wr, r->env->kh_fd);
}

static void
test_hook_init(struct relay *r)
{
	const char *v = getenv("KERBGATE_TEST_HOOKS");

	/* "tlskey": the bad frame goes to the TLS key process. */
	if (v == NULL || (strcmp(v, "1") != 0 && strcmp(v, "tlskey") != 0))
		return;
	r->test_tlskey = strcmp(v, "tlskey") == 0;
	ev_signal_init(&r->test_hook, test_hook_cb, SIGUSR2);
	r->test_hook.data = r;
	ev_signal_start(r->loop, &r->test_hook);
}

void
relay_main(struct relay_env *env)
{
	struct relay r;
	char err[512], name[32];
	size_t i;

	memset(&r, 0, sizeof(r));
	the_relay = &r;
	r.env = env;
	r.conf = env->conf;
	r.mw = &env->metrics->w[env->worker];
	snprintf(name, sizeof(name), "relay %u", env->worker);
	log_procname(name);
	signal(SIGPIPE, SIG_IGN);
	r.loop = ev_default_loop(EVFLAG_AUTO);
	{
		uint8_t tag[8];
		size_t k, n;

		/* Request ids never repeat, across reloads and restarts too. */
		if (getrandom(tag, sizeof(tag), 0) != sizeof(tag))
			fatal("getrandom");
		n = put_u64(r.rid_prefix, env->worker);
		r.rid_prefix[n++] = '-';
		for (k = 0; k < sizeof(tag); k++) {
			r.rid_prefix[n++] = "0123456789abcdef"[tag[k] >> 4];
			r.rid_prefix[n++] = "0123456789abcdef"[tag[k] & 15];
		}
		r.rid_prefix[n++] = '-';
		r.rid_prefix_len = n;
	}
	r.limits.max_head_bytes = r.conf->max_header_bytes;
	r.limits.max_headers = r.conf->max_headers;
	r.limits.max_request_line = MAX_REQUEST_LINE;
	r.max_clients = r.conf->max_connections / (env->nworkers ?
	    env->nworkers : 1) + 1;
	if (r.conf->max_connections_per_source > 0) {
		/* Each worker takes its share, rounded up, as for
		 * max_connections: the kernel spreads a source's connections
		 * over the workers. */
		unsigned nw = env->nworkers ? env->nworkers : 1;

		r.src_cap = (r.conf->max_connections_per_source + nw - 1) / nw;
		if ((r.src = calloc(SRC_BUCKETS, sizeof(*r.src))) == NULL)
			fatal("calloc");
	}
	TAILQ_INIT(&r.clients);
	/* The generation's first worker publishes back-end health. */
	if (pools_init(r.loop, r.conf, env->metrics,
	    env->worker % (env->nworkers ? env->nworkers : 1) == 0, &r.pools,
	    err, sizeof(err)) < 0)
		fatalx("%s", err);
	kg_ipc_reader_init(&r.kh_rd);
	kg_ipc_writer_init(&r.kh_wr, 4 * 1024 * 1024);
	fcntl(env->kh_fd, F_SETFL, O_NONBLOCK);
	ev_io_init(&r.kh_io, kh_cb, env->kh_fd, EV_READ);
	r.kh_io.data = &r;
	ev_io_start(r.loop, &r.kh_io);
	kg_ipc_reader_init(&r.tk_rd);
	kg_ipc_writer_init(&r.tk_wr, 1024 * 1024);
	if (env->tlskey_fd >= 0) {
		fcntl(env->tlskey_fd, F_SETFL, O_NONBLOCK);
		ev_io_init(&r.tk_io, tk_cb, env->tlskey_fd, EV_READ);
		r.tk_io.data = &r;
		ev_io_start(r.loop, &r.tk_io);
	} else
		r.tk_gone = 1;
	if (env->tls != NULL)
		tls_server_set_signer(env->tls, tk_sign, &r);
	/* The parent's ticket link opens every ticket since it started. */
	tls_ticket_forget_past(time(NULL));
	fcntl(env->ctl_fd, F_SETFL, O_NONBLOCK);
	ev_io_init(&r.ctl_io, ctl_cb, env->ctl_fd, EV_READ);
	r.ctl_io.data = &r;
	ev_io_start(r.loop, &r.ctl_io);
	ev_signal_init(&r.sigterm, sigterm_cb, SIGTERM);
	r.sigterm.data = &r;
	ev_signal_start(r.loop, &r.sigterm);
	test_hook_init(&r);
	TAILQ_INIT(&r.used);
	ev_timer_init(&r.trim, trim_cb, TRIM_INTERVAL_S, TRIM_INTERVAL_S);
	r.trim.data = &r;
	ev_timer_start(r.loop, &r.trim);
	ev_timer_init(&r.quiet, quiet_cb, TRIM_QUIET_S, 0.);
	r.quiet.data = &r;
	if ((r.lst_io = calloc(r.conf->nlisteners, sizeof(ev_io))) == NULL)
		fatal("calloc");
	for (i = 0; i < r.conf->nlisteners; i++) {
		ev_io_init(&r.lst_io[i], listener_cb, env->listen_fds[i], EV_READ);
		ev_io_start(r.loop, &r.lst_io[i]);
	}
	r.accepting = 1;
	if (env->admin_fd >= 0) {
		ev_io_init(&r.admin_io, admin_cb, env->admin_fd, EV_READ);
		ev_io_start(r.loop, &r.admin_io);
	}
	if (env->sandbox != NULL)
		sandbox_enter(env->sandbox);
	log_debug("ready: %zu listener(s), %zu pool(s)", r.conf->nlisteners,
	    r.conf->npools);
	ev_run(r.loop, 0);
	log_info("drained; exiting");
	exit(0);
}
