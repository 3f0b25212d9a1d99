/*
 * kgbench.c: load generator for kerbgated (and, for comparison, Apache with
 * mod_auth_gssapi), HTTP Negotiate with real Kerberos tokens.
 *
 * Tokens are minted with tests/unit/krbmint.c (the test fixture that plays
 * the KDC and the client with Heimdal's API), all of them BEFORE the clock
 * starts: a Heimdal client spends about 210 us making one AP-REQ, which
 * would otherwise cap what is measured.  Each token is a fresh AP-REQ
 * (its own authenticator, so a replay cache accepts it once), wrapped in a
 * SPNEGO NegTokenInit as Windows sends it.
 *
 * Modes (see usage()):
 *   keytab     write the keytab the minted tickets are encrypted for
 *   newconn    every request on a new TCP connection with a new token
 *   keepalive  authenticate once per connection, then many requests
 *   idle       open N connections, one request each, hold them idle
 *              (for memory measurements), then check they still answer
 *
 * One thread, epoll.  Latency is measured from the start of the request
 * (for newconn: from connect()) to the last byte of the response, into a
 * log-linear histogram (under 1% relative error).
 *
 * TLS (-t) uses mbedTLS with certificate verification OFF: acceptable in a
 * benchmark tool on loopback only, never in a client.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <psa/crypto.h>

#include "krbmint.h"
#include "kgbench_pac.h"

#define RBUF_MAX	(256 * 1024)	/* largest response we accept */
#define MAXEV		512
#define CONN_TIMEOUT_NS	(10ULL * 1000000000ULL)
#define TICKET_EVERY	64		/* tokens per minted ticket (user) */

enum mode { M_NEWCONN, M_KEEPALIVE, M_IDLE };

enum cstate {
	ST_FREE = 0,
	ST_CONNECTING,
	ST_HANDSHAKE,
	ST_WRITING,
	ST_READING,
	ST_DRAIN,		/* newconn: response done, waiting for the FIN */
	ST_IDLE,		/* idle mode: authenticated, held */
};

enum errkind { E_CONNECT, E_RESET, E_EOF, E_TIMEOUT, E_PARSE, E_TLS, E_NTOKEN, E_MAX };
static const char *errname[E_MAX] = {
	"connect", "reset", "eof_before_response", "timeout", "bad_response", "tls",
	"out_of_tokens",
};

struct opts {
	enum mode		 mode;
	struct sockaddr_in	 addr;
	const char		*target;
	const char		*host;
	const char		*path;
	int			 conns;
	double			 duration;
	long			 requests;
	int			 auth;
	int			 tls;
	int			 tls_resume;	/* offer the last session again */
	int			 tls_max;	/* 12 or 13 (default) */
	int			 tls_p256;	/* offer P-256 only (-G p256) */
	const char		*tls_ca;	/* verify the server (and tell resumed) */
	double			 hold;
	size_t			 pad;
	const char		*label;
};

struct conn {
	int			 fd;
	enum cstate		 state;
	mbedtls_ssl_context	*ssl;
	const char		*wbuf;
	size_t			 wlen, woff;
	char			*rbuf;
	size_t			 rlen, rcap;
	uint64_t		 t_start;	/* request start, ns */
	uint64_t		 deadline;
	long			 nreq;		/* requests answered on it */
	int			 events;	/* epoll interest now */
	int			 registered;
	int			 status;
	int			 resp_close;
	int			 counted;	/* idle: setup result recorded */
	int			 tls_full;	/* a certificate was verified */
};

/* Latency histogram: values in microseconds, 128 sub-buckets per power of 2. */
#define H_SUB		128
#define H_BLOCKS	40
struct hist {
	uint64_t	 b[H_BLOCKS * H_SUB];
	uint64_t	 n;
	uint64_t	 max;
};

static struct opts o = {
	.host = "mail.corp.contoso.com",
	.path = "/bench",
	.conns = 32,
	.duration = 10,
	.auth = 1,
	.hold = 30,
};
static struct conn *conns;
static int nslots;
static int epfd;
static char **reqs;		/* pre-built requests with tokens */
static size_t *reqlens;
static size_t nreqs, next_req;
static char *plain_req;		/* request without a token */
static size_t plain_len;
static struct hist hist;
static uint64_t status_count[600];
static uint64_t errors[E_MAX];
static uint64_t done_ok, done_total, started;
static uint64_t t_begin, t_end;
static volatile sig_atomic_t got_usr1;

static mbedtls_ssl_config tls_conf;
static mbedtls_x509_crt tls_ca;
static mbedtls_ssl_session tls_session;	/* the last one, for -R */
static int tls_have_session;
static uint64_t tls_hs_full, tls_hs_resumed;
static mbedtls_entropy_context tls_entropy;
static mbedtls_ctr_drbg_context tls_drbg;

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("kgbench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------ histogram */

static size_t
hist_index(uint64_t us)
{
	unsigned msb, shift;

	if (us < 2 * H_SUB)
		return (size_t)us;
	msb = 63 - (unsigned)__builtin_clzll(us);
	shift = msb - 7;
	if (shift + 1 >= H_BLOCKS)
		return H_BLOCKS * H_SUB - 1;
	return (size_t)(shift + 1) * H_SUB + (size_t)((us >> shift) - H_SUB);
}

/* The middle of bucket i, in microseconds. */
static double
hist_value(size_t i)
{
	size_t blk = i / H_SUB;
	double lo, width;

	if (i < 2 * H_SUB)
		return (double)i + 0.5;
	lo = (double)((i % H_SUB) + H_SUB) * (double)(1ULL << (blk - 1));
	width = (double)(1ULL << (blk - 1));
	return lo + width / 2;
}

static void
hist_add(struct hist *h, uint64_t ns)
{
	uint64_t us = ns / 1000;

	h->b[hist_index(us)]++;
	h->n++;
	if (us > h->max)
		h->max = us;
}

static double
hist_pct(const struct hist *h, double p)
{
	uint64_t want = (uint64_t)(p * (double)h->n + 0.5), acc = 0;
	size_t i;

	if (h->n == 0)
		return 0;
	if (want < 1)
		want = 1;
	for (i = 0; i < H_BLOCKS * H_SUB; i++) {
		acc += h->b[i];
		if (acc >= want)
			return hist_value(i);
	}
	return (double)h->max;
}

/* ------------------------------------------------------------ tokens */

static void
make_key(struct mint_key *key)
{
	if (mint_key_from_password(ETYPE_AES256_CTS_HMAC_SHA1_96, 5, MINT_PASSWORD,
	    MINT_SALT, key) != 0)
		die("cannot derive the ASA key");
}

/*
 * The keytab an AD admin would export for the ASA: its own principal and the
 * SPN (MIT, under Apache, looks the ticket's server name up in the keytab;
 * kerbgated maps SPNs to the account's keys itself).  AES256 and AES128.
 */
static int
write_keytab(const char *path)
{
	static const char *princs[] = { MINT_ACCOUNT, MINT_SPN_HTTP "@" MINT_REALM };
	static const krb5_enctype ets[] = { ETYPE_AES256_CTS_HMAC_SHA1_96,
	    ETYPE_AES128_CTS_HMAC_SHA1_96 };
	krb5_context ctx = mint_context();
	krb5_keytab kt;
	krb5_keytab_entry e;
	struct mint_key k;
	char name[1024];
	size_t i, j;
	int ret;

	unlink(path);
	snprintf(name, sizeof(name), "FILE:%s", path);
	if ((ret = krb5_kt_resolve(ctx, name, &kt)) != 0)
		return ret;
	for (i = 0; i < 2 && ret == 0; i++) {
		memset(&e, 0, sizeof(e));
		if ((ret = krb5_parse_name(ctx, princs[i], &e.principal)) != 0)
			break;
		for (j = 0; j < 2 && ret == 0; j++) {
			if ((ret = mint_key_from_password(ets[j], 5, MINT_PASSWORD,
			    MINT_SALT, &k)) != 0)
				break;
			e.vno = 5;
			e.keyblock = k.key;
			e.timestamp = time(NULL);
			ret = krb5_kt_add_entry(ctx, kt, &e);
			mint_key_free(&k);
		}
		krb5_free_principal(ctx, e.principal);
	}
	krb5_kt_close(ctx, kt);
	if (ret == 0)
		ret = chmod(path, 0600);
	return ret;
}

static char *
build_request(const char *b64, int close_conn, size_t *len)
{
	char *r;
	int n;

	n = asprintf(&r, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: kgbench\r\n"
	    "Accept: */*\r\n%s%s%s%s\r\n", o.path, o.host,
	    b64 ? "Authorization: Negotiate " : "", b64 ? b64 : "", b64 ? "\r\n" : "",
	    close_conn ? "Connection: close\r\n" : "");
	if (n < 0)
		die("out of memory");
	*len = (size_t)n;
	return r;
}

/* One SPNEGO-wrapped AP-REQ, base64 (malloc'ed). */
static char *
mint_one(const krb5_creds *creds)
{
	static const enum mint_mech mechs[] = { MINT_MS_KRB5, MINT_KRB5 };
	struct mint_req_spec rs = {
		.gss_checksum = true,
		.gss_flags = MINT_GSS_MUTUAL | MINT_GSS_INTEG | MINT_GSS_CONF | MINT_GSS_SEQ,
		.mutual = true,
	};
	krb5_data ap, gss, spnego;
	size_t olen;
	char *b64;

	if (mint_ap_req(creds, &rs, &ap, NULL) != 0 ||
	    mint_gss_frame(&ap, false, &gss) != 0 ||
	    mint_spnego_init(mechs, 2, &gss, &spnego) != 0)
		die("cannot mint an AP-REQ");
	mbedtls_base64_encode(NULL, 0, &olen, spnego.data, spnego.length);
	if ((b64 = malloc(olen)) == NULL ||
	    mbedtls_base64_encode((unsigned char *)b64, olen, &olen, spnego.data,
	    spnego.length) != 0)
		die("base64");
	krb5_data_free(&ap);
	krb5_data_free(&gss);
	krb5_data_free(&spnego);
	return b64;
}

static void
mint_tokens(size_t n, int close_conn)
{
	struct mint_key key;
	krb5_creds creds;
	uint64_t t0 = now_ns();
	size_t i, tok_len = 0;
	char client[64];

	make_key(&key);
	reqs = calloc(n ? n : 1, sizeof(*reqs));
	reqlens = calloc(n ? n : 1, sizeof(*reqlens));
	if (reqs == NULL || reqlens == NULL)
		die("out of memory");
	for (i = 0; i < n; i++) {
		char *b64;

		if (i % TICKET_EVERY == 0) {
			struct mint_ticket_spec ts = { .key = &key, .forwardable = true,
			    .client = client };
			if (i > 0)
				krb5_free_cred_contents(mint_context(), &creds);
			snprintf(client, sizeof(client), "user%05zu@%s", i / TICKET_EVERY,
			    MINT_REALM);
			if ((o.pad > 0 ? bench_mint_ticket_pac(&ts, o.pad, &creds) :
			    mint_ticket(&ts, &creds)) != 0)
				die("cannot mint a ticket");
		}
		b64 = mint_one(&creds);
		tok_len = strlen(b64);
		reqs[i] = build_request(b64, close_conn, &reqlens[i]);
		free(b64);
	}
	if (n > 0)
		krb5_free_cred_contents(mint_context(), &creds);
	mint_key_free(&key);
	nreqs = n;
	fprintf(stderr, "kgbench: minted %zu tokens (%zu base64 chars each) in %.2f s "
	    "(%.0f us each), before the clock\n", n, tok_len,
	    (double)(now_ns() - t0) / 1e9, n ? (double)(now_ns() - t0) / 1e3 / (double)n : 0);
}

/*
 * Tokens from a file, one base64 token a line: tickets a real KDC issued
 * (the constrained-delegation benchmark needs those: the KDC checks the
 * evidence's PAC signature, which a minted ticket cannot carry).
 */
static size_t
load_tokens(const char *path, int close_conn)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, n = 0, alloc = 0;
	ssize_t len;

	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	while ((len = getline(&line, &cap, f)) > 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			if ((reqs = realloc(reqs, alloc * sizeof(*reqs))) == NULL ||
			    (reqlens = realloc(reqlens, alloc * sizeof(*reqlens))) == NULL)
				die("out of memory");
		}
		reqs[n] = build_request(line, close_conn, &reqlens[n]);
		n++;
	}
	free(line);
	fclose(f);
	nreqs = n;
	fprintf(stderr, "kgbench: %zu tokens from %s\n", n, path);
	return n;
}

/* ------------------------------------------------------------ TLS */

static int
bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	ssize_t n = send(*(int *)ctx, buf, len, MSG_NOSIGNAL);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? MBEDTLS_ERR_SSL_WANT_WRITE :
		    MBEDTLS_ERR_NET_SEND_FAILED;
	return (int)n;
}

static int
bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	ssize_t n = recv(*(int *)ctx, buf, len, 0);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? MBEDTLS_ERR_SSL_WANT_READ :
		    MBEDTLS_ERR_NET_RECV_FAILED;
	return (int)n;
}

static void
tls_init(void)
{
	mbedtls_ssl_config_init(&tls_conf);
	mbedtls_entropy_init(&tls_entropy);
	mbedtls_ctr_drbg_init(&tls_drbg);
	if (mbedtls_ctr_drbg_seed(&tls_drbg, mbedtls_entropy_func, &tls_entropy,
	    (const unsigned char *)"kgbench", 7) != 0 ||
	    mbedtls_ssl_config_defaults(&tls_conf, MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT) != 0)
		die("mbedTLS set-up failed");
	/* Benchmark tool on loopback: the server certificate is checked only
	 * with -C, which also tells full handshakes from resumed ones (mbedTLS
	 * verifies a chain only in a full one). */
	mbedtls_ssl_conf_authmode(&tls_conf, MBEDTLS_SSL_VERIFY_NONE);
	mbedtls_x509_crt_init(&tls_ca);
	if (o.tls_ca != NULL) {
		if (mbedtls_x509_crt_parse_file(&tls_ca, o.tls_ca) != 0)
			die("cannot read CA certificate %s", o.tls_ca);
		mbedtls_ssl_conf_ca_chain(&tls_conf, &tls_ca, NULL);
		mbedtls_ssl_conf_authmode(&tls_conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	}
	mbedtls_ssl_conf_rng(&tls_conf, mbedtls_ctr_drbg_random, &tls_drbg);
	/* Key shares as Windows, browsers and curl offer them: X25519 first.
	 * (mbedTLS's own client default sends a P-256 share.) */
	static const uint16_t groups[] = {
		MBEDTLS_SSL_IANA_TLS_GROUP_X25519, MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1,
		MBEDTLS_SSL_IANA_TLS_GROUP_SECP384R1, MBEDTLS_SSL_IANA_TLS_GROUP_NONE
	};
	static const uint16_t p256_only[] = {
		MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1, MBEDTLS_SSL_IANA_TLS_GROUP_NONE
	};
	mbedtls_ssl_conf_groups(&tls_conf, o.tls_p256 ? p256_only : groups);
	if (o.tls_max == 12)
		mbedtls_ssl_conf_max_tls_version(&tls_conf, MBEDTLS_SSL_VERSION_TLS1_2);
	if (o.tls_resume)
		mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(&tls_conf,
		    MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
	mbedtls_ssl_session_init(&tls_session);
	if (psa_crypto_init() != PSA_SUCCESS)
		die("PSA crypto set-up failed");
}

static int
tls_verified(void *p_conn, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	((struct conn *)p_conn)->tls_full = 1;
	return 0;
}

static void
tls_keep_session(struct conn *c)
{
	if (!o.tls_resume)
		return;
	mbedtls_ssl_session_free(&tls_session);
	mbedtls_ssl_session_init(&tls_session);
	tls_have_session = mbedtls_ssl_get_session(c->ssl, &tls_session) == 0;
}

/* ------------------------------------------------------------ connections */

static void
set_events(struct conn *c, int ev)
{
	struct epoll_event e;

	if (c->registered && c->events == ev)
		return;
	e.events = (uint32_t)ev;
	e.data.ptr = c;
	if (epoll_ctl(epfd, c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &e) < 0)
		die("epoll_ctl: %s", strerror(errno));
	c->registered = 1;
	c->events = ev;
}

static void
conn_close(struct conn *c)
{
	if (c->fd >= 0) {
		if (c->registered)
			epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	if (c->ssl != NULL) {
		mbedtls_ssl_free(c->ssl);
		free(c->ssl);
	}
	free(c->rbuf);
	c->fd = -1;
	c->ssl = NULL;
	c->rbuf = NULL;
	c->rlen = c->rcap = 0;
	c->registered = 0;
	c->events = 0;
	c->nreq = 0;
	c->state = ST_FREE;
}

static void
conn_fail(struct conn *c, enum errkind k)
{
	errors[k]++;
	done_total++;
	c->counted = 1;
	conn_close(c);
}

static void
start_request(struct conn *c, const char *req, size_t len)
{
	c->wbuf = req;
	c->wlen = len;
	c->woff = 0;
	c->rlen = 0;
	c->state = ST_WRITING;
	if (o.mode != M_NEWCONN || c->t_start == 0)
		c->t_start = now_ns();
	c->deadline = now_ns() + CONN_TIMEOUT_NS;
	set_events(c, EPOLLOUT);
}

/* Opens a connection; the first request is reqs[next_req] or the plain one. */
static int
conn_open(struct conn *c)
{
	int one = 1;

	if (o.auth && next_req >= nreqs) {
		errors[E_NTOKEN]++;
		return -1;
	}
	c->t_start = now_ns();
	c->deadline = c->t_start + CONN_TIMEOUT_NS;
	c->counted = 0;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (o.auth) {
		c->wbuf = reqs[next_req];
		c->wlen = reqlens[next_req];
		next_req++;
	} else {
		c->wbuf = plain_req;
		c->wlen = plain_len;
	}
	c->woff = 0;
	started++;
	if (connect(c->fd, (struct sockaddr *)&o.addr, sizeof(o.addr)) < 0 &&
	    errno != EINPROGRESS) {
		conn_fail(c, E_CONNECT);
		return 0;
	}
	c->state = ST_CONNECTING;
	set_events(c, EPOLLOUT);
	return 0;
}

static int
tls_start(struct conn *c)
{
	if ((c->ssl = calloc(1, sizeof(*c->ssl))) == NULL)
		die("out of memory");
	mbedtls_ssl_init(c->ssl);
	if (mbedtls_ssl_setup(c->ssl, &tls_conf) != 0 ||
	    mbedtls_ssl_set_hostname(c->ssl, o.host) != 0)
		return -1;
	mbedtls_ssl_set_bio(c->ssl, &c->fd, bio_send, bio_recv, NULL);
	mbedtls_ssl_set_verify(c->ssl, tls_verified, c);
	c->tls_full = 0;
	if (o.tls_resume && tls_have_session)
		(void)mbedtls_ssl_set_session(c->ssl, &tls_session);
	c->state = ST_HANDSHAKE;
	return 0;
}

/* Case-insensitive header lookup in a response head. */
static const char *
head_find(const char *head, size_t hlen, const char *name, size_t *vlen)
{
	size_t nl = strlen(name), i;

	for (i = 0; i + nl + 3 < hlen; i++) {
		const char *v, *e;

		if (head[i] != '\n' || strncasecmp(head + i + 1, name, nl) != 0 ||
		    head[i + 1 + nl] != ':')
			continue;
		v = head + i + 2 + nl;
		while (*v == ' ' || *v == '\t')
			v++;
		e = memchr(v, '\r', (size_t)(head + hlen - v));
		*vlen = e ? (size_t)(e - v) : 0;
		return v;
	}
	return NULL;
}

/* Chunked body starting at p: 1 complete, 0 need more, -1 malformed. */
static int
chunked_done(const char *p, size_t len)
{
	size_t off = 0;

	for (;;) {
		const char *eol = memmem(p + off, len - off, "\r\n", 2);
		char *end;
		unsigned long sz;

		if (eol == NULL)
			return 0;
		sz = strtoul(p + off, &end, 16);
		if (end == p + off)
			return -1;
		off = (size_t)(eol - p) + 2;
		if (sz == 0)	/* no trailers expected */
			return len - off >= 2 ? 1 : 0;
		if (len - off < sz + 2)
			return 0;
		off += sz + 2;
	}
}

/* 1: a whole response is in rbuf (status, resp_close set); 0: more; -1: bad. */
static int
response_complete(struct conn *c, int eof)
{
	const char *h = c->rbuf, *end, *v;
	size_t hlen, vlen, body;

	if (c->rlen < 12)
		return eof ? -1 : 0;
	if ((end = memmem(h, c->rlen, "\r\n\r\n", 4)) == NULL)
		return eof || c->rlen >= RBUF_MAX ? -1 : 0;
	hlen = (size_t)(end - h) + 4;
	if (strncmp(h, "HTTP/1.", 7) != 0)
		return -1;
	c->status = atoi(h + 9);
	if (c->status < 100 || c->status > 599)
		return -1;
	body = c->rlen - hlen;
	c->resp_close = 0;
	if ((v = head_find(h, hlen, "Connection", &vlen)) != NULL && vlen >= 5 &&
	    strncasecmp(v, "close", 5) == 0)
		c->resp_close = 1;
	if ((v = head_find(h, hlen, "Content-Length", &vlen)) != NULL) {
		size_t cl = strtoul(v, NULL, 10);
		if (body >= cl)
			return 1;
		return eof ? -1 : 0;
	}
	if ((v = head_find(h, hlen, "Transfer-Encoding", &vlen)) != NULL) {
		int r = chunked_done(h + hlen, body);
		return r != 0 ? r : eof ? -1 : 0;
	}
	c->resp_close = 1;
	return eof ? 1 : 0;	/* body to EOF */
}

static int
want_more_work(void)
{
	uint64_t t = now_ns();

	if (o.requests > 0 && (long)started >= o.requests)
		return 0;
	return (double)(t - t_begin) / 1e9 < o.duration;
}

/* A whole response arrived on c. */
static void
on_response(struct conn *c)
{
	uint64_t t = now_ns();

	if (c->status >= 0 && c->status < 600)
		status_count[c->status]++;
	done_total++;
	c->nreq++;
	if (o.mode != M_IDLE || !c->counted)
		hist_add(&hist, t - c->t_start);
	if (c->status == 200)
		done_ok++;
	c->counted = 1;
	c->rlen = 0;
	switch (o.mode) {
	case M_NEWCONN:
		/* Wait for the server's FIN (we asked for Connection: close),
		 * so that TIME_WAIT stays on the server side, as with a browser. */
		c->state = ST_DRAIN;
		c->deadline = t + CONN_TIMEOUT_NS;
		set_events(c, EPOLLIN);
		break;
	case M_KEEPALIVE:
		if (c->resp_close || c->status != 200) {
			conn_close(c);
			if (want_more_work())
				conn_open(c);
			break;
		}
		if (want_more_work()) {
			started++;
			start_request(c, plain_req, plain_len);
		} else {
			conn_close(c);
		}
		break;
	case M_IDLE:
		if (c->resp_close || c->status != 200) {
			conn_close(c);
			break;
		}
		c->state = ST_IDLE;
		set_events(c, EPOLLIN);	/* notice if the server closes it */
		break;
	}
}

static void
do_write(struct conn *c)
{
	while (c->woff < c->wlen) {
		ssize_t n;

		if (c->ssl != NULL) {
			int r = mbedtls_ssl_write(c->ssl, (const unsigned char *)c->wbuf +
			    c->woff, c->wlen - c->woff);
			if (r == MBEDTLS_ERR_SSL_WANT_WRITE || r == MBEDTLS_ERR_SSL_WANT_READ) {
				set_events(c, r == MBEDTLS_ERR_SSL_WANT_READ ? EPOLLIN : EPOLLOUT);
				return;
			}
			if (r < 0) {
				conn_fail(c, E_TLS);
				return;
			}
			n = r;
		} else {
			n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
			if (n < 0 && errno == EAGAIN) {
				set_events(c, EPOLLOUT);
				return;
			}
			if (n < 0) {
				conn_fail(c, E_RESET);
				return;
			}
		}
		c->woff += (size_t)n;
	}
	c->state = ST_READING;
	set_events(c, EPOLLIN);
}

static void
do_read(struct conn *c)
{
	int eof = 0, r;

	for (;;) {
		ssize_t n;

		if (c->rcap - c->rlen < 4096) {
			size_t cap = c->rcap ? c->rcap * 2 : 8192;
			char *nb;

			if (cap > RBUF_MAX) {
				conn_fail(c, E_PARSE);
				return;
			}
			if ((nb = realloc(c->rbuf, cap)) == NULL)
				die("out of memory");
			c->rbuf = nb;
			c->rcap = cap;
		}
		if (c->ssl != NULL) {
			int t = mbedtls_ssl_read(c->ssl, (unsigned char *)c->rbuf + c->rlen,
			    c->rcap - c->rlen);
			if (t == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) {
				tls_keep_session(c);
				continue;
			}
			if (t == MBEDTLS_ERR_SSL_WANT_READ || t == MBEDTLS_ERR_SSL_WANT_WRITE)
				break;
			if (t == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || t == 0) {
				eof = 1;
				break;
			}
			if (t < 0) {
				if (c->state == ST_DRAIN || c->state == ST_IDLE) {
					eof = 1;
					break;
				}
				conn_fail(c, t == MBEDTLS_ERR_NET_RECV_FAILED ? E_RESET : E_TLS);
				return;
			}
			n = t;
		} else {
			n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
			if (n < 0 && errno == EAGAIN)
				break;
			if (n < 0) {
				if (c->state == ST_DRAIN || c->state == ST_IDLE) {
					eof = 1;
					break;
				}
				conn_fail(c, E_RESET);
				return;
			}
			if (n == 0) {
				eof = 1;
				break;
			}
		}
		c->rlen += (size_t)n;
	}
	if (c->state == ST_DRAIN) {
		if (eof)
			conn_close(c);
		return;
	}
	if (c->state == ST_IDLE) {
		if (eof || c->rlen > 0) {
			errors[eof ? E_EOF : E_PARSE]++;
			conn_close(c);
		}
		return;
	}
	r = response_complete(c, eof);
	if (r < 0) {
		conn_fail(c, eof && c->rlen == 0 ? E_EOF : E_PARSE);
		return;
	}
	if (r == 0) {
		if (eof)
			conn_fail(c, E_EOF);
		return;
	}
	on_response(c);
	if (eof && c->fd >= 0 && c->state != ST_FREE) {
		if (c->state == ST_DRAIN)
			conn_close(c);
		else if (o.mode == M_IDLE)
			conn_close(c);
	}
}

static void
on_event(struct conn *c, uint32_t ev)
{
	int err = 0, r;
	socklen_t sl = sizeof(err);

	switch (c->state) {
	case ST_CONNECTING:
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0 || err != 0) {
			conn_fail(c, E_CONNECT);
			return;
		}
		if (o.tls) {
			if (tls_start(c) < 0) {
				conn_fail(c, E_TLS);
				return;
			}
		} else {
			c->state = ST_WRITING;
			do_write(c);
			return;
		}
		/* FALLTHROUGH */
	case ST_HANDSHAKE:
		r = mbedtls_ssl_handshake(c->ssl);
		if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) {
			set_events(c, r == MBEDTLS_ERR_SSL_WANT_READ ? EPOLLIN : EPOLLOUT);
			return;
		}
		if (r != 0) {
			conn_fail(c, E_TLS);
			return;
		}
		if (o.tls_ca != NULL) {
			if (c->tls_full)
				tls_hs_full++;
			else
				tls_hs_resumed++;
		}
		if (mbedtls_ssl_get_version_number(c->ssl) == MBEDTLS_SSL_VERSION_TLS1_2)
			tls_keep_session(c);
		c->state = ST_WRITING;
		do_write(c);
		return;
	case ST_WRITING:
		do_write(c);
		return;
	case ST_READING:
	case ST_DRAIN:
	case ST_IDLE:
		if (c->ssl != NULL && c->state == ST_READING && c->woff < c->wlen) {
			do_write(c);	/* a TLS write that wanted to read */
			return;
		}
		do_read(c);
		return;
	default:
		(void)ev;
		return;
	}
}

static void
check_timeouts(uint64_t t)
{
	int i;

	for (i = 0; i < nslots; i++) {
		struct conn *c = &conns[i];

		if (c->state == ST_FREE || c->state == ST_IDLE || t < c->deadline)
			continue;
		if (c->state == ST_DRAIN) {	/* answered already; just slow FIN */
			conn_close(c);
			continue;
		}
		conn_fail(c, E_TIMEOUT);
	}
}

static int
active_conns(void)
{
	int i, n = 0;

	for (i = 0; i < o.conns; i++)
		n += conns[i].state != ST_FREE && conns[i].state != ST_IDLE;
	return n;
}

static void
poll_once(int ms)
{
	struct epoll_event evs[MAXEV];
	int n, i;

	n = epoll_wait(epfd, evs, MAXEV, ms);
	if (n < 0 && errno != EINTR)
		die("epoll_wait: %s", strerror(errno));
	for (i = 0; i < n; i++)
		on_event(evs[i].data.ptr, evs[i].events);
}

/* ------------------------------------------------------------ modes */

/* Connections sending or awaiting a request (not draining, not idle). */
static int
busy_conns(void)
{
	int i, n = 0;

	for (i = 0; i < nslots; i++)
		n += conns[i].state == ST_CONNECTING || conns[i].state == ST_HANDSHAKE ||
		    conns[i].state == ST_WRITING || conns[i].state == ST_READING;
	return n;
}

static void
run_load(void)
{
	uint64_t last_check = 0;
	int i;

	t_begin = now_ns();
	for (;;) {
		uint64_t t;
		int more = want_more_work() && !(o.auth && next_req >= nreqs);

		/* Keep -c connections busy; in newconn a slot whose socket waits
		 * for the server's FIN does not count (there are 2 x -c slots). */
		if (more) {
			int busy = busy_conns();
			for (i = 0; i < nslots && busy < o.conns; i++) {
				if (conns[i].state != ST_FREE)
					continue;
				if (!want_more_work() || (o.auth && next_req >= nreqs))
					break;
				conn_open(&conns[i]);
				busy++;
			}
		} else if (busy_conns() == 0) {
			break;
		}
		poll_once(more ? 50 : 10);
		t = now_ns();
		if (t - last_check > 100000000ULL) {
			check_timeouts(t);
			last_check = t;
		}
	}
	t_end = now_ns();
	for (i = 0; i < nslots; i++)
		if (conns[i].state != ST_FREE)
			conn_close(&conns[i]);
}

static void
on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static void
run_idle(void)
{
	uint64_t t0, hold_end;
	int i, opened = 0, idle = 0, answered = 0, closed_during = 0;
	const int wave = 64;

	t_begin = now_ns();
	/* Set up in waves so that a slow server is not swamped by SYNs. */
	while (opened < o.conns || active_conns() > 0) {
		while (opened < o.conns && active_conns() < wave)
			conn_open(&conns[opened++]);
		poll_once(50);
		check_timeouts(now_ns());
	}
	t_end = now_ns();
	for (i = 0; i < o.conns; i++)
		idle += conns[i].state == ST_IDLE;
	printf("READY idle_conns=%d of=%d setup_s=%.2f\n", idle, o.conns,
	    (double)(t_end - t_begin) / 1e9);
	fflush(stdout);

	/* Hold, until the time is up or SIGUSR1 says the measurement is done. */
	t0 = now_ns();
	hold_end = t0 + (uint64_t)(o.hold * 1e9);
	while (!got_usr1 && now_ns() < hold_end)
		poll_once(100);
	for (i = 0; i < o.conns; i++)
		closed_during += conns[i].state != ST_IDLE;
	closed_during -= o.conns - idle;

	/* Are they still usable, and still authenticated? */
	memset(status_count, 0, sizeof(status_count));
	for (i = 0; i < o.conns; i++) {
		if (conns[i].state != ST_IDLE)
			continue;
		start_request(&conns[i], plain_req, plain_len);
		conns[i].counted = 1;
	}
	t0 = now_ns();
	while (active_conns() > 0 && now_ns() - t0 < CONN_TIMEOUT_NS) {
		poll_once(50);
		check_timeouts(now_ns());
	}
	answered = (int)status_count[200];
	printf("AFTER_HOLD closed_by_server=%d probed_200=%d\n", closed_during, answered);
	fflush(stdout);

	/* Idle again after every connection sent a request at once: a second
	 * memory reading (buffers taken for the burst should be back). */
	got_usr1 = 0;
	t0 = now_ns();
	hold_end = t0 + (uint64_t)(o.hold * 1e9);
	while (!got_usr1 && now_ns() < hold_end)
		poll_once(100);
	for (i = 0; i < o.conns; i++)
		if (conns[i].state != ST_FREE)
			conn_close(&conns[i]);
}

static void
report(void)
{
	double el = (double)(t_end - t_begin) / 1e9;
	int i;

	printf("RESULT label=%s mode=%s target=%s tls=%d auth=%d conns=%d pad=%zu "
	    "elapsed_s=%.3f responses=%" PRIu64 " ok=%" PRIu64 " rps=%.1f "
	    "p50_us=%.0f p90_us=%.0f p99_us=%.0f max_us=%" PRIu64,
	    o.label ? o.label : "-", o.mode == M_NEWCONN ? "newconn" :
	    o.mode == M_KEEPALIVE ? "keepalive" : "idle", o.target, o.tls, o.auth,
	    o.conns, o.pad, el, done_total, done_ok, el > 0 ? (double)done_ok / el : 0,
	    hist_pct(&hist, 0.50), hist_pct(&hist, 0.90), hist_pct(&hist, 0.99),
	    hist.max);
	if (o.tls && o.tls_ca != NULL)
		printf(" tls_full=%" PRIu64 " tls_resumed=%" PRIu64, tls_hs_full,
		    tls_hs_resumed);
	for (i = 0; i < 600; i++)
		if (status_count[i] > 0)
			printf(" status_%d=%" PRIu64, i, status_count[i]);
	for (i = 0; i < E_MAX; i++)
		if (errors[i] > 0)
			printf(" err_%s=%" PRIu64, errname[i], errors[i]);
	printf("\n");
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: kgbench keytab PATH\n"
	    "       kgbench newconn|keepalive|idle -a ADDR:PORT [options]\n"
	    "  -a ADDR:PORT  server (IPv4 literal)\n"
	    "  -H HOST       Host header and TLS SNI (mail.corp.contoso.com)\n"
	    "  -p PATH       request path (/bench)\n"
	    "  -c N          concurrent connections (32); idle: connections to hold\n"
	    "  -d SECONDS    run time limit (10)\n"
	    "  -n N          request limit (newconn: also the tokens minted;\n"
	    "                default: enough for -d at 20000/s)\n"
	    "  -N            no Authorization header (an auth:none route)\n"
	    "  -t            TLS (mbedTLS, certificate NOT verified: bench only)\n"
	    "  -C CAFILE     verify the certificate; counts full/resumed handshakes\n"
	    "  -R            offer the last TLS session again (resumption)\n"
	    "  -V 12|13      highest TLS version offered (default 13)\n"
	    "  -G x25519|p256  key exchange groups offered: X25519 first (default), P-256 only\n"
	    "  -s SECONDS    idle: hold time, ended early by SIGUSR1 (30); held twice:\n"
	    "                after set-up (READY), then after one request on every\n"
	    "                connection at once (AFTER_HOLD)\n"
	    "  -P BYTES      pad each ticket with a PAC-like authorization-data\n"
	    "                element of BYTES bytes (large-PAC users)\n"
	    "  -l LABEL      label printed in the RESULT line\n"
	    "  -T FILE       tokens from FILE (one base64 token a line) instead of\n"
	    "                minting them\n"
	    "Prints one RESULT line (key=value); idle prints READY and AFTER_HOLD.\n");
	exit(2);
}

static void
parse_target(const char *s)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
		usage();
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	memset(&o.addr, 0, sizeof(o.addr));
	o.addr.sin_family = AF_INET;
	o.addr.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &o.addr.sin_addr) != 1)
		die("not an IPv4 address: %s", host);
	o.target = s;
}

int
main(int argc, char **argv)
{
	struct rlimit rl;
	size_t ntok;
	const char *token_file = NULL;
	int ch, i;

	if (argc < 2)
		usage();
	if (strcmp(argv[1], "keytab") == 0) {
		if (argc != 3)
			usage();
		if (write_keytab(argv[2]) != 0)
			die("cannot write the keytab %s", argv[2]);
		return 0;
	}
	if (strcmp(argv[1], "newconn") == 0)
		o.mode = M_NEWCONN;
	else if (strcmp(argv[1], "keepalive") == 0)
		o.mode = M_KEEPALIVE;
	else if (strcmp(argv[1], "idle") == 0)
		o.mode = M_IDLE;
	else
		usage();
	optind = 2;
	while ((ch = getopt(argc, argv, "a:H:p:c:d:n:Nts:P:l:T:RV:C:G:")) != -1) {
		switch (ch) {
		case 'a': parse_target(optarg); break;
		case 'H': o.host = optarg; break;
		case 'p': o.path = optarg; break;
		case 'c': o.conns = atoi(optarg); break;
		case 'd': o.duration = atof(optarg); break;
		case 'n': o.requests = atol(optarg); break;
		case 'N': o.auth = 0; break;
		case 't': o.tls = 1; break;
		case 'R': o.tls_resume = 1; break;
		case 'V': o.tls_max = atoi(optarg); break;
		case 'G':
			if (strcmp(optarg, "p256") != 0 && strcmp(optarg, "x25519") != 0)
				usage();
			o.tls_p256 = strcmp(optarg, "p256") == 0;
			break;
		case 'C': o.tls_ca = optarg; break;
		case 's': o.hold = atof(optarg); break;
		case 'P': o.pad = (size_t)atol(optarg); break;
		case 'l': o.label = optarg; break;
		case 'T': token_file = optarg; break;
		default: usage();
		}
	}
	if (o.target == NULL || o.conns < 1 || o.conns > 60000 || o.duration <= 0)
		usage();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR1, on_usr1);
	rl.rlim_cur = rl.rlim_max = (rlim_t)o.conns * 3 + 64;
	if (rl.rlim_cur > 1024)
		setrlimit(RLIMIT_NOFILE, &rl);
	if (o.tls)
		tls_init();

	/* Every token before the clock starts. */
	switch (o.mode) {
	case M_NEWCONN:
		ntok = o.requests > 0 ? (size_t)o.requests : (size_t)(o.duration * 20000);
		break;
	case M_KEEPALIVE:
		ntok = (size_t)o.conns * 4;	/* spares for server-closed connections */
		break;
	default:
		ntok = (size_t)o.conns;
		break;
	}
	if (o.auth && token_file != NULL)
		load_tokens(token_file, o.mode == M_NEWCONN);
	else if (o.auth)
		mint_tokens(ntok, o.mode == M_NEWCONN);
	plain_req = build_request(NULL, o.mode == M_NEWCONN, &plain_len);

	nslots = o.mode == M_NEWCONN ? 2 * o.conns : o.conns;
	if ((conns = calloc((size_t)nslots, sizeof(*conns))) == NULL)
		die("out of memory");
	for (i = 0; i < nslots; i++)
		conns[i].fd = -1;
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1: %s", strerror(errno));
	if (o.mode == M_IDLE)
		run_idle();
	else
		run_load();
	report();
	return 0;
}
