/*
 * tls: non-blocking mbedTLS 3.6 wrapper for the VIP (server) and the
 * back-ends (client).  See tls.h for the contract.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/gcm.h>
#include <mbedtls/hkdf.h>
#include <mbedtls/md.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <mbedtls/oid.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <psa/crypto.h>

#include "tls.h"
#include "util.h"

#define TLS_ERRMAX        240
#define TICKET_SECRET_LEN 32
#define TICKET_NONCE_LEN  12
#define TICKET_TAG_LEN    16
#define TICKET_HDR_LEN    (8 + TICKET_NONCE_LEN)   /* epoch, nonce */

/* Server preference order: AES-GCM only; TLS 1.3's, then TLS 1.2's ECDHE. */
static const int tls_ciphersuites[] = {
	MBEDTLS_TLS1_3_AES_128_GCM_SHA256,
	MBEDTLS_TLS1_3_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	0
};

static const uint16_t tls_groups[] = {
	MBEDTLS_SSL_IANA_TLS_GROUP_X25519,
	MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1,
	MBEDTLS_SSL_IANA_TLS_GROUP_SECP384R1,
	MBEDTLS_SSL_IANA_TLS_GROUP_NONE
};

/* No SHA-1 and no PKCS#1 v1.5 in TLS 1.3 (RFC 8446 §4.2.3): mbedTLS picks
 * per version from this one list. */
static const uint16_t tls_sig_algs[] = {
	MBEDTLS_TLS1_3_SIG_ECDSA_SECP256R1_SHA256,
	MBEDTLS_TLS1_3_SIG_ECDSA_SECP384R1_SHA384,
	MBEDTLS_TLS1_3_SIG_ECDSA_SECP521R1_SHA512,
	MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA256,
	MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA384,
	MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA512,
	MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA256,
	MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA384,
	MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA512,
	MBEDTLS_TLS1_3_SIG_NONE
};

struct tls_vhost {
	char *name;
	mbedtls_x509_crt chain;        /* leaf first */
	mbedtls_pk_context key;        /* empty with remote keys */
};

struct tls_server {
	unsigned int refs;
	mbedtls_ssl_config conf;
	struct tls_vhost *vhosts;
	size_t nvhosts;
	unsigned int ticket_lifetime;
	mbedtls_x509_crt *client_ca;   /* set: a client certificate is required */
	bool remote_keys;
	tls_sign_fn sign;              /* this process's signer, or NULL */
	void *sign_arg;
};

/* Where a connection's remote signature stands. */
enum sign_state {
	SIGN_NONE,
	SIGN_WAITING,                  /* asked; tls_conn_signed() not yet */
	SIGN_DONE,                     /* sig holds it, for the resume */
	SIGN_FAILED,
};

/* A client certificate and its key (the management tools' mutual TLS). */
struct tls_own_cert {
	mbedtls_x509_crt chain;
	mbedtls_pk_context key;
};

static void own_cert_free(struct tls_own_cert *own);

struct tls_client {
	unsigned int refs;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca;
	bool have_ca;
	uint8_t pins[TLS_MAX_PINS][32];
	size_t npins;
	char *server_name;
	bool resume;
	mbedtls_ssl_session session;   /* last session, offered again */
	char *session_name;            /* the name it was made with, or NULL */
	struct tls_own_cert *own;      /* set: a client certificate to present */
	bool have_session;
};

struct tls_conn {
	mbedtls_ssl_context ssl;       /* first: callbacks get the conn from it */
	struct tls_server *srv;        /* exactly one of srv, cli */
	struct tls_client *cli;
	const struct tls_vhost *vhost;
	char *sni;
	int fd;
	int io_errno;
	size_t write_taken;            /* held by mbedTLS since a WANT_WRITE */
	uint32_t chain_flags;
	bool established;
	bool resumed;
	bool failed;
	bool closed;
	bool close_queued;
	bool shrunk;                   /* nothing used since tls_conn_shrink() */
	bool saw_certificate;          /* client: the chain was verified */
	enum sign_state sign_state;
	uint8_t *sig;                  /* SIGN_DONE: the signature */
	size_t sig_len;
	void *data;                    /* tls_conn_set_data() */
	char err[TLS_ERRMAX];
};

/*
 * The connection whose handshake step is running.  mbedTLS 3.6 has no public
 * "was this session resumed?"; the ticket callback, which has no connection
 * argument, marks the connection through this.  Processes are single-threaded
 * event loops; thread-local all the same.
 */
static __thread struct tls_conn *hs_conn;

/* ---- process-wide randomness and ticket secret ------------------------ */

static struct {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	pid_t pid;
	bool seeded;
} rng;

/*
 * The ticket keys come from a hash chain, one link per TICKET_TICK seconds:
 * link(t + 1) = HMAC(link(t), label).  A process holds one link and can
 * derive the keys of its tick and every later one, never an earlier one.
 * The parent keeps the link of its start; a relay moves its link forward to
 * the oldest tick a ticket it may still accept needs (TLS 1.2 tickets carry
 * the session's master secret), so a relay taken over cannot decrypt the
 * recorded TLS 1.2 traffic of the past, its own or its siblings'.
 */
#define TICKET_TICK	3600
#define TICKET_CHAIN_ORIGIN	1767225600u	/* 2026-01-01T00:00:00Z */

static struct {
	uint8_t link[TICKET_SECRET_LEN];	/* the chain's link at .tick */
	uint64_t tick;
	unsigned int longest;	/* the longest ticket lifetime served */
	bool set;
} ticket;

/* Seeds on first use; reseeds from fresh entropy in a forked child. */
static int
rng_ready(void)
{
	static const char pers[] = "kerbgate tls";
	pid_t pid = getpid();

	if (rng.seeded) {
		if (rng.pid == pid)
			return 0;
		if (mbedtls_ctr_drbg_reseed(&rng.drbg,
		    (const unsigned char *)&pid, sizeof(pid)) != 0)
			return -1;
		/* PSA keeps its own generator (TLS 1.3 draws from it): a forked
		 * child must not replay its parent's, so start it afresh. */
		mbedtls_psa_crypto_free();
		if (psa_crypto_init() != PSA_SUCCESS)
			return -1;
		rng.pid = pid;
		return 0;
	}
	if (psa_crypto_init() != PSA_SUCCESS)
		return -1;
	mbedtls_entropy_init(&rng.entropy);
	mbedtls_ctr_drbg_init(&rng.drbg);
	if (mbedtls_ctr_drbg_seed(&rng.drbg, mbedtls_entropy_func, &rng.entropy,
	    (const unsigned char *)pers, sizeof(pers) - 1) != 0) {
		mbedtls_ctr_drbg_free(&rng.drbg);
		mbedtls_entropy_free(&rng.entropy);
		return -1;
	}
	rng.pid = pid;
	rng.seeded = true;
	return 0;
}

static int
rng_random(void *unused, unsigned char *out, size_t len)
{
	(void)unused;
	if (rng_ready() != 0)
		return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
	return mbedtls_ctr_drbg_random(&rng.drbg, out, len);
}

static uint64_t ticket_oldest_tick(time_t, unsigned int);
static int ticket_advance(uint64_t);

int
tls_set_ticket_secret(const uint8_t *secret, size_t len)
{
	if (secret == NULL || len < TICKET_SECRET_LEN)
		return -1;
	if (mbedtls_sha256(secret, len, ticket.link, 0) != 0)
		return -1;
	/* A fixed origin, so that processes given the same bytes at different
	 * times derive the same keys; then on to what the present needs. */
	ticket.tick = TICKET_CHAIN_ORIGIN / TICKET_TICK;
	ticket.set = true;
	return ticket_advance(ticket_oldest_tick(time(NULL), TLS_TICKET_LIFETIME_MAX));
}

static int
ticket_secret_ready(void)
{
	if (ticket.set)
		return 0;
	if (rng_random(NULL, ticket.link, sizeof(ticket.link)) != 0)
		return -1;
	/* A random link may stand for any tick: the oldest any lifetime needs. */
	ticket.tick = ticket_oldest_tick(time(NULL), TLS_TICKET_LIFETIME_MAX);
	ticket.set = true;
	return 0;
}

static int
ticket_chain_step(uint8_t link[TICKET_SECRET_LEN])
{
	static const char label[] = "kerbgate ticket chain v2";
	uint8_t next[TICKET_SECRET_LEN];
	int ret;

	ret = mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
	    link, TICKET_SECRET_LEN, (const unsigned char *)label,
	    sizeof(label) - 1, next);
	memcpy(link, next, sizeof(next));
	mbedtls_platform_zeroize(next, sizeof(next));
	return ret;
}

/* The tick of the oldest epoch a ticket of this lifetime may come from
 * at now (the previous epoch's start is at most two lifetimes back). */
static uint64_t
ticket_oldest_tick(time_t now, unsigned int lifetime)
{
	uint64_t window = 2 * (uint64_t)lifetime;

	if (now < 0 || (uint64_t)now < window)
		return 0;
	return ((uint64_t)now - window) / TICKET_TICK;
}

/* Moves this process's link forward to tick; the old one is overwritten. */
static int
ticket_advance(uint64_t tick)
{
	while (ticket.tick < tick) {
		if (ticket_chain_step(ticket.link) != 0)
			return -1;
		ticket.tick++;
	}
	return 0;
}

void
tls_ticket_forget_past(time_t now)
{
	if (!ticket.set)
		return;
	(void)ticket_advance(ticket_oldest_tick(now, ticket.longest != 0 ?
	    ticket.longest : TLS_TICKET_LIFETIME_MAX));
}

/* ---- small helpers ---------------------------------------------------- */


static const char *
mbedtls_reason(int ret, char *buf, size_t len)
{
	mbedtls_strerror(ret, buf, len);
	return buf;
}

/* 0 if path can be opened for reading, else the errno. */
static int
file_unreadable(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static char *
lowercase_dup(const char *s, size_t len)
{
	char *d = malloc(len + 1);
	size_t i;

	if (d == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		d[i] = (s[i] >= 'A' && s[i] <= 'Z') ? s[i] - 'A' + 'a' : s[i];
	d[len] = '\0';
	return d;
}

static void
hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

static int
hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* DNS name match, "*.example.com" covering exactly one leftmost label. */
static bool
dns_name_matches(const char *pattern, size_t plen, const char *host)
{
	size_t hlen = strlen(host);
	const char *dot;

	if (plen == hlen && strncasecmp(pattern, host, hlen) == 0)
		return true;
	if (plen < 3 || pattern[0] != '*' || pattern[1] != '.')
		return false;
	dot = strchr(host, '.');
	if (dot == NULL || dot == host)
		return false;
	return strlen(dot) == plen - 1 && strncasecmp(dot, pattern + 1, plen - 1) == 0;
}

static bool
cert_names_host(const mbedtls_x509_crt *crt, const char *host)
{
	const mbedtls_x509_sequence *san;

	for (san = &crt->subject_alt_names; san != NULL; san = san->next) {
		if (san->buf.p == NULL ||
		    san->buf.tag != (MBEDTLS_ASN1_CONTEXT_SPECIFIC |
		    MBEDTLS_X509_SAN_DNS_NAME))
			continue;
		if (dns_name_matches((const char *)san->buf.p, san->buf.len, host))
			return true;
	}
	return false;
}

/* ---- session tickets -------------------------------------------------- */

static void
put_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/*
 * The key of one epoch: the same in every process that shares the secret,
 * so workers read each other's tickets and rotation needs no coordination.
 */
static int
ticket_key(unsigned int lifetime, uint64_t epoch, uint8_t key[32])
{
	static const char label[] = "kerbgate ticket key v2";
	uint8_t info[sizeof(label) - 1 + 4 + 8];
	uint8_t link[TICKET_SECRET_LEN];
	uint64_t tick = epoch * lifetime / TICKET_TICK, t;
	int ret;

	/* Before this process's link (forgotten), or absurdly far ahead. */
	if (tick < ticket.tick || tick - ticket.tick > 24 * 366 * 10)
		return -1;
	memcpy(link, ticket.link, sizeof(link));
	for (t = ticket.tick, ret = 0; t < tick && ret == 0; t++)
		ret = ticket_chain_step(link);

	memcpy(info, label, sizeof(label) - 1);
	info[sizeof(label) - 1] = (uint8_t)(lifetime >> 24);
	info[sizeof(label)] = (uint8_t)(lifetime >> 16);
	info[sizeof(label) + 1] = (uint8_t)(lifetime >> 8);
	info[sizeof(label) + 2] = (uint8_t)lifetime;
	put_be64(info + sizeof(label) - 1 + 4, epoch);
	if (ret == 0)
		ret = mbedtls_hkdf(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
		    NULL, 0, link, sizeof(link), info, sizeof(info), key, 32);
	mbedtls_platform_zeroize(link, sizeof(link));
	return ret;
}

/* Ticket: epoch (8) | nonce (12) | AES-256-GCM(session) | tag (16). */
static int
ticket_write(void *p_srv, const mbedtls_ssl_session *session,
    unsigned char *start, const unsigned char *end, size_t *tlen,
    uint32_t *lifetime)
{
	const struct tls_server *srv = p_srv;
	size_t room = (size_t)(end - start), clen = 0;
	time_t now = time(NULL);
	uint64_t epoch = (uint64_t)now / srv->ticket_lifetime;
	mbedtls_gcm_context gcm;
	uint8_t key[32];
	int ret;

	if (room < TICKET_HDR_LEN + TICKET_TAG_LEN)
		return MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL;
	tls_ticket_forget_past(now);
	put_be64(start, epoch);
	if ((ret = rng_random(NULL, start + 8, TICKET_NONCE_LEN)) != 0)
		return ret;
	ret = mbedtls_ssl_session_save(session, start + TICKET_HDR_LEN,
	    room - TICKET_HDR_LEN - TICKET_TAG_LEN, &clen);
	if (ret != 0)
		return ret;
	/* A clock set back behind this process's link (its keys for that time
	 * are gone): a ticket no one can open, so the next connection makes a
	 * full handshake; failing here would fail a TLS 1.3 handshake. */
	if (ticket_key(srv->ticket_lifetime, epoch, key) != 0 &&
	    (ret = rng_random(NULL, key, sizeof(key))) != 0)
		goto out;
	mbedtls_gcm_init(&gcm);
	ret = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, key, 256);
	if (ret == 0)
		ret = mbedtls_gcm_crypt_and_tag(&gcm, MBEDTLS_GCM_ENCRYPT, clen,
		    start + 8, TICKET_NONCE_LEN, start, TICKET_HDR_LEN,
		    start + TICKET_HDR_LEN, start + TICKET_HDR_LEN,
		    TICKET_TAG_LEN, start + TICKET_HDR_LEN + clen);
	mbedtls_gcm_free(&gcm);
out:
	mbedtls_platform_zeroize(key, sizeof(key));
	if (ret != 0) {
		mbedtls_platform_zeroize(start, room);
		return ret;
	}
	*tlen = TICKET_HDR_LEN + clen + TICKET_TAG_LEN;
	*lifetime = srv->ticket_lifetime;
	return 0;
}

static int
ticket_parse(void *p_srv, mbedtls_ssl_session *session, unsigned char *buf,
    size_t len)
{
	const struct tls_server *srv = p_srv;
	time_t now = time(NULL);
	uint64_t epoch, now_epoch = (uint64_t)now / srv->ticket_lifetime;
	size_t clen;
	mbedtls_gcm_context gcm;
	uint8_t key[32];
	int ret;

	if (len < TICKET_HDR_LEN + TICKET_TAG_LEN)
		return MBEDTLS_ERR_SSL_INVALID_MAC;
	clen = len - TICKET_HDR_LEN - TICKET_TAG_LEN;
	epoch = get_be64(buf);
	if (epoch != now_epoch && epoch + 1 != now_epoch)
		return MBEDTLS_ERR_SSL_SESSION_TICKET_EXPIRED;
	tls_ticket_forget_past(now);
	if (ticket_key(srv->ticket_lifetime, epoch, key) != 0)
		return MBEDTLS_ERR_SSL_INVALID_MAC;
	mbedtls_gcm_init(&gcm);
	ret = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, key, 256);
	if (ret == 0)
		ret = mbedtls_gcm_auth_decrypt(&gcm, clen, buf + 8,
		    TICKET_NONCE_LEN, buf, TICKET_HDR_LEN, buf + len - TICKET_TAG_LEN,
		    TICKET_TAG_LEN, buf + TICKET_HDR_LEN, buf + TICKET_HDR_LEN);
	mbedtls_gcm_free(&gcm);
	mbedtls_platform_zeroize(key, sizeof(key));
	if (ret != 0)
		return MBEDTLS_ERR_SSL_INVALID_MAC;
	ret = mbedtls_ssl_session_load(session, buf + TICKET_HDR_LEN, clen);
	mbedtls_platform_zeroize(buf + TICKET_HDR_LEN, clen);
	if (ret != 0)
		return MBEDTLS_ERR_SSL_INVALID_MAC;
	/* TLS 1.3 tickets' age is checked by mbedTLS itself; a TLS 1.2
	 * session carries its start time (a field with no accessor). */
	if (session->MBEDTLS_PRIVATE(tls_version) == MBEDTLS_SSL_VERSION_TLS1_2 &&
	    (session->MBEDTLS_PRIVATE(start) > now ||
	    now - session->MBEDTLS_PRIVATE(start) > (time_t)srv->ticket_lifetime))
		return MBEDTLS_ERR_SSL_SESSION_TICKET_EXPIRED;
	if (hs_conn != NULL)
		hs_conn->resumed = true;
	return 0;
}

/* ---- connections: I/O and errors -------------------------------------- */

static void conn_err(struct tls_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The first reason sticks: later failures are consequences. */
static void
conn_err(struct tls_conn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->err[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
}

_Static_assert(offsetof(struct tls_conn, ssl) == 0,
    "conn_of() needs the ssl context first in struct tls_conn");

static struct tls_conn *
conn_of(mbedtls_ssl_context *ssl)
{
	return (struct tls_conn *)ssl;
}

static const char *
peer_word(const struct tls_conn *c)
{
	return c->cli != NULL ? "back-end" : "client";
}

static int
bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct tls_conn *c = ctx;
	ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);

	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	c->io_errno = errno;
	if (errno == EPIPE || errno == ECONNRESET)
		return MBEDTLS_ERR_NET_CONN_RESET;
	return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int
bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct tls_conn *c = ctx;
	ssize_t n = recv(c->fd, buf, len, 0);

	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_READ;
	c->io_errno = errno;
	if (errno == ECONNRESET)
		return MBEDTLS_ERR_NET_CONN_RESET;
	return MBEDTLS_ERR_NET_RECV_FAILED;
}

static const char *
alert_name(unsigned int alert)
{
	switch (alert) {
	case 10: return "unexpected_message";
	case 20: return "bad_record_mac";
	case 40: return "handshake_failure";
	case 42: return "bad_certificate";
	case 43: return "unsupported_certificate";
	case 44: return "certificate_revoked";
	case 45: return "certificate_expired";
	case 46: return "certificate_unknown";
	case 47: return "illegal_parameter";
	case 48: return "unknown_ca";
	case 49: return "access_denied";
	case 50: return "decode_error";
	case 51: return "decrypt_error";
	case 70: return "protocol_version";
	case 71: return "insufficient_security";
	case 80: return "internal_error";
	case 86: return "inappropriate_fallback";
	case 90: return "user_canceled";
	case 110: return "unsupported_extension";
	case 112: return "unrecognized_name";
	default: return "unknown alert";
	}
}

/* Admin words for a verification failure of the back-end's certificate. */
static void
verify_err(struct tls_conn *c, uint32_t flags, const mbedtls_x509_crt *leaf)
{
	const char *name = c->sni != NULL ? c->sni : "the back-end";
	char subject[160] = "", info[160];

	if (leaf != NULL && mbedtls_x509_dn_gets(subject, sizeof(subject),
	    &leaf->subject) < 0)
		subject[0] = '\0';
	if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
		conn_err(c, "certificate for %s is not signed by the configured "
		    "CA (subject %s)", name, subject);
	else if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH)
		conn_err(c, "certificate for %s is not for that name (subject "
		    "%s)", name, subject);
	else if (flags & MBEDTLS_X509_BADCERT_EXPIRED)
		conn_err(c, "certificate for %s (or one in its chain) has "
		    "expired", name);
	else if (flags & MBEDTLS_X509_BADCERT_FUTURE)
		conn_err(c, "certificate for %s (or one in its chain) is not "
		    "valid yet", name);
	else if (flags & (MBEDTLS_X509_BADCERT_KEY_USAGE |
	    MBEDTLS_X509_BADCERT_EXT_KEY_USAGE | MBEDTLS_X509_BADCERT_NS_CERT_TYPE))
		conn_err(c, "certificate for %s is not valid for TLS server "
		    "authentication", name);
	else {
		if (mbedtls_x509_crt_verify_info(info, sizeof(info), "", flags) < 0)
			snprintf(info, sizeof(info), "flags 0x%x", (unsigned)flags);
		info[strcspn(info, "\n")] = '\0';
		conn_err(c, "certificate for %s is not acceptable: %s", name, info);
	}
}

static void
describe_failure(struct tls_conn *c, int ret, const char *during)
{
	const char *peer = peer_word(c);
	char reason[128];

	switch (ret) {
	case 0:
	case MBEDTLS_ERR_SSL_CONN_EOF:
		conn_err(c, "the %s closed the connection %s", peer,
		    c->established ? "without close_notify" : "during the handshake");
		break;
	case MBEDTLS_ERR_NET_CONN_RESET:
		conn_err(c, "connection reset by the %s %s", peer, during);
		break;
	case MBEDTLS_ERR_NET_RECV_FAILED:
	case MBEDTLS_ERR_NET_SEND_FAILED:
		conn_err(c, "%s the %s failed %s: %s",
		    ret == MBEDTLS_ERR_NET_RECV_FAILED ? "reading from" : "writing to",
		    peer, during, strerror(c->io_errno));
		break;
	case MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE:
		if (c->established)
			goto other;
		conn_err(c, "the %s offers no cipher suite, group or signature "
		    "algorithm we accept (TLS 1.2 ECDHE or TLS 1.3, with AES-GCM)",
		    peer);
		break;
	case MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION:
		conn_err(c, "the %s speaks neither TLS 1.2 nor TLS 1.3", peer);
		break;
	case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE: {
		/* The alert's bytes, which mbedTLS keeps in a field with no
		 * accessor, at the start of the record it just read. */
		const unsigned char *msg = c->ssl.MBEDTLS_PRIVATE(in_msg);
		unsigned int alert = msg != NULL ? msg[1] : 0;
		conn_err(c, "the %s sent fatal alert %s (%u) %s", peer,
		    alert_name(alert), alert, during);
		break;
	}
	case MBEDTLS_ERR_SSL_DECODE_ERROR:
	case MBEDTLS_ERR_SSL_INVALID_RECORD:
	case MBEDTLS_ERR_SSL_UNEXPECTED_RECORD:
		/* Still reading the ClientHello (a state with no accessor). */
		if (c->srv != NULL && !c->established &&
		    c->ssl.MBEDTLS_PRIVATE(state) <= MBEDTLS_SSL_CLIENT_HELLO) {
			conn_err(c, "the client did not send a TLS ClientHello "
			    "(plain HTTP to a TLS port?)");
			break;
		}
		/* FALLTHROUGH */
	default:
	other:
		if (c->cli != NULL && (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED ||
		    ret == MBEDTLS_ERR_SSL_BAD_CERTIFICATE)) {
			verify_err(c, mbedtls_ssl_get_verify_result(&c->ssl), NULL);
			break;
		}
		conn_err(c, "TLS %s with the %s failed: %s (-0x%04x)",
		    during[0] == 'd' ? "handshake" : "I/O", peer,
		    mbedtls_reason(ret, reason, sizeof(reason)), (unsigned)-ret);
		break;
	}
}

/* Maps an mbedTLS return of a read/write/handshake that did not succeed. */
static int
conn_failed(struct tls_conn *c, int ret, const char *during)
{
	if (ret == MBEDTLS_ERR_SSL_WANT_READ)
		return TLS_WANT_READ;
	if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
		return TLS_WANT_WRITE;
	if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
		c->closed = true;
		return TLS_CLOSED;
	}
	describe_failure(c, ret, during);
	if (ret == 0 || ret == MBEDTLS_ERR_SSL_CONN_EOF) {
		c->closed = true;
		return TLS_CLOSED;
	}
	c->failed = true;
	return TLS_ERR;
}

/* ---- server side ------------------------------------------------------ */

static const struct tls_vhost *
vhost_for_name(const struct tls_server *srv, const char *host)
{
	size_t i;

	for (i = 0; i < srv->nvhosts; i++)
		if (srv->vhosts[i].name != NULL &&
		    strcmp(srv->vhosts[i].name, host) == 0)
			return &srv->vhosts[i];
	for (i = 0; i < srv->nvhosts; i++)
		if (cert_names_host(&srv->vhosts[i].chain, host))
			return &srv->vhosts[i];
	return NULL;
}

/* What mbedTLS gets as a vhost's key: with remote keys, the certificate's
 * public key (it only needs the type and curve; the callbacks sign). */
static mbedtls_pk_context *
own_key(const struct tls_server *srv, const struct tls_vhost *vh)
{
	return (mbedtls_pk_context *)(srv->remote_keys ? &vh->chain.pk :
	    &vh->key);
}

/* ---- remote signatures ------------------------------------------------ */

static int
sign_md(mbedtls_md_type_t md_alg, size_t hash_len, enum tls_sign_md *md)
{
	switch (md_alg) {
	case MBEDTLS_MD_SHA256: *md = TLS_MD_SHA256; return hash_len == 32 ? 0 : -1;
	case MBEDTLS_MD_SHA384: *md = TLS_MD_SHA384; return hash_len == 48 ? 0 : -1;
	case MBEDTLS_MD_SHA512: *md = TLS_MD_SHA512; return hash_len == 64 ? 0 : -1;
	default: return -1;
	}
}

/*
 * mbedTLS asks for a signature: TLS 1.2's ServerKeyExchange, and TLS 1.3's
 * CertificateVerify (toolchain/mbedtls/0002-...).  The request goes to the
 * signer; the handshake returns TLS_WANT_SIGN until tls_conn_signed().
 */
static int
async_sign_start(mbedtls_ssl_context *ssl, mbedtls_x509_crt *cert,
    mbedtls_md_type_t md_alg, const unsigned char *hash, size_t hash_len)
{
	struct tls_conn *c = conn_of(ssl);
	struct tls_server *srv = c->srv;
	struct tls_sign_request req;
	size_t i;

	memset(&req, 0, sizeof(req));
	for (i = 0; i < srv->nvhosts && cert != &srv->vhosts[i].chain; i++)
		;
	if (i == srv->nvhosts || sign_md(md_alg, hash_len, &req.md) != 0) {
		conn_err(c, "internal error: a signature for an unknown "
		    "certificate or hash");
		return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
	}
	req.key_index = (unsigned int)i;
	if (mbedtls_pk_get_type(&cert->pk) == MBEDTLS_PK_ECKEY)
		req.scheme = TLS_SIGN_ECDSA;
	else if (mbedtls_ssl_get_version_number(ssl) == MBEDTLS_SSL_VERSION_TLS1_3)
		req.scheme = TLS_SIGN_RSA_PSS;
	else
		req.scheme = TLS_SIGN_RSA_PKCS1;
	req.hash = hash;
	req.hash_len = hash_len;
	c->sign_state = SIGN_WAITING;
	if (srv->sign == NULL || srv->sign(srv->sign_arg, c, &req) != 0) {
		conn_err(c, "the TLS key process is not available to sign for "
		    "this handshake (see the log for why)");
		c->sign_state = SIGN_FAILED;
		return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
	}
	/* A signer may answer at once (tls_conn_signed() inside the call):
	 * then mbedTLS resumes without returning. */
	return c->sign_state == SIGN_WAITING ?
	    MBEDTLS_ERR_SSL_ASYNC_IN_PROGRESS : 0;
}

static int
async_resume(mbedtls_ssl_context *ssl, unsigned char *out, size_t *out_len,
    size_t out_size)
{
	struct tls_conn *c = conn_of(ssl);
	int ret = 0;

	switch (c->sign_state) {
	case SIGN_WAITING:
		return MBEDTLS_ERR_SSL_ASYNC_IN_PROGRESS;
	case SIGN_DONE:
		if (c->sig_len > out_size) {
			conn_err(c, "the TLS key process sent a signature too "
			    "long for the handshake message");
			ret = MBEDTLS_ERR_SSL_INTERNAL_ERROR;
			break;
		}
		memcpy(out, c->sig, c->sig_len);
		*out_len = c->sig_len;
		break;
	default:
		ret = MBEDTLS_ERR_SSL_INTERNAL_ERROR;
		break;
	}
	free(c->sig);
	c->sig = NULL;
	c->sig_len = 0;
	c->sign_state = ret == 0 ? SIGN_NONE : SIGN_FAILED;
	return ret;
}

/* The handshake is freed while its signature is out: a late answer finds
 * no connection waiting (the signer's id for it is dropped with it). */
static void
async_cancel(mbedtls_ssl_context *ssl)
{
	struct tls_conn *c = conn_of(ssl);

	free(c->sig);
	c->sig = NULL;
	c->sign_state = SIGN_NONE;
}

void
tls_server_set_signer(struct tls_server *srv, tls_sign_fn fn, void *arg)
{
	srv->sign = fn;
	srv->sign_arg = arg;
}

int
tls_conn_signed(struct tls_conn *c, const uint8_t *sig, size_t len,
    const char *why)
{
	if (c->sign_state != SIGN_WAITING)
		return -1;
	if (sig == NULL || len == 0 || len > TLS_SIG_MAX ||
	    (c->sig = malloc(len)) == NULL) {
		conn_err(c, "%s", sig == NULL && why != NULL ? why :
		    "the TLS key process sent no usable signature");
		c->sign_state = SIGN_FAILED;
		return sig == NULL ? 0 : -1;
	}
	memcpy(c->sig, sig, len);
	c->sig_len = len;
	c->sign_state = SIGN_DONE;
	return 0;
}

bool
tls_conn_signing(const struct tls_conn *c)
{
	return c->sign_state == SIGN_WAITING;
}

void
tls_conn_set_data(struct tls_conn *c, void *data)
{
	c->data = data;
}

void *
tls_conn_data(const struct tls_conn *c)
{
	return c->data;
}

static int
sni_select(void *p_srv, mbedtls_ssl_context *ssl, const unsigned char *name,
    size_t len)
{
	struct tls_server *srv = p_srv;
	struct tls_conn *c = conn_of(ssl);
	const struct tls_vhost *vh;
	size_t i;

	if (len == 0 || len > 253) {
		conn_err(c, "the client sent an invalid server name (SNI of %zu "
		    "bytes)", len);
		return -1;
	}
	for (i = 0; i < len; i++)
		if (name[i] <= ' ' || name[i] >= 0x7f) {
			conn_err(c, "the client sent an invalid server name (SNI "
			    "with a byte 0x%02x)", name[i]);
			return -1;
		}
	free(c->sni);
	if ((c->sni = lowercase_dup((const char *)name, len)) == NULL)
		return -1;
	/* An unknown name gets the default certificate; the relay decides. */
	if ((vh = vhost_for_name(srv, c->sni)) == NULL || vh == &srv->vhosts[0])
		return 0;
	c->vhost = vh;
	return mbedtls_ssl_set_hs_own_cert(ssl, (mbedtls_x509_crt *)&vh->chain,
	    own_key(srv, vh));
}

/* A PEM chain in memory: mbedTLS wants it NUL-terminated. */
static int
parse_pem_chain(mbedtls_x509_crt *chain, const unsigned char *pem, size_t len)
{
	unsigned char *z;
	int ret;

	if ((z = malloc(len + 1)) == NULL)
		return MBEDTLS_ERR_X509_ALLOC_FAILED;
	memcpy(z, pem, len);
	z[len] = '\0';
	ret = mbedtls_x509_crt_parse(chain, z, len + 1);
	free(z);
	return ret;
}

static int
load_vhost(struct tls_vhost *vh, const struct tls_vhost_config *vc,
    size_t idx, bool remote_key, char *err, size_t errlen)
{
	char label[300], reason[128];
	struct stat st;
	int ret, e;

	if (vc->name != NULL)
		snprintf(label, sizeof(label), "vhost %s", vc->name);
	else
		snprintf(label, sizeof(label), "vhost #%zu", idx + 1);
	if (vc->cert_file == NULL || vc->cert_file[0] == '\0') {
		kg_seterr(err, errlen, "%s: no certificate file configured", label);
		return -1;
	}
	if (!remote_key && (vc->key_file == NULL || vc->key_file[0] == '\0')) {
		kg_seterr(err, errlen, "%s: no private key file configured", label);
		return -1;
	}
	if (vc->cert_pem == NULL && (e = file_unreadable(vc->cert_file)) != 0) {
		kg_seterr(err, errlen, "%s: cannot read certificate file %s: %s",
		    label, vc->cert_file, strerror(e));
		return -1;
	}
	if (vc->cert_pem != NULL)
		ret = parse_pem_chain(&vh->chain, vc->cert_pem, vc->cert_pem_len);
	else
		ret = mbedtls_x509_crt_parse_file(&vh->chain, vc->cert_file);
	if (ret < 0) {
		kg_seterr(err, errlen, "%s: certificate file %s holds no valid PEM "
		    "certificate (%s)", label, vc->cert_file,
		    mbedtls_reason(ret, reason, sizeof(reason)));
		return -1;
	}
	if (ret > 0) {
		kg_seterr(err, errlen, "%s: %d certificate(s) in %s do not parse",
		    label, ret, vc->cert_file);
		return -1;
	}
	/* A remote key is read by the key process (tlskey.c), never here:
	 * a process that forks relays must not hold it. */
	if (remote_key)
		goto key_checked;
	if ((e = file_unreadable(vc->key_file)) == 0 && stat(vc->key_file, &st) != 0)
		e = errno;
	if (e != 0) {
		kg_seterr(err, errlen, "%s: cannot read private key file %s: %s",
		    label, vc->key_file, strerror(e));
		return -1;
	}
	if (st.st_mode & S_IRWXO) {
		kg_seterr(err, errlen, "%s: private key file %s is accessible to "
		    "other users (mode %04o); make it 0600", label, vc->key_file,
		    (unsigned)(st.st_mode & 07777));
		return -1;
	}
	ret = mbedtls_pk_parse_keyfile(&vh->key, vc->key_file, NULL, rng_random, NULL);
	if (ret == MBEDTLS_ERR_PK_PASSWORD_REQUIRED) {
		kg_seterr(err, errlen, "%s: private key file %s is encrypted; "
		    "kerbgate needs it unencrypted (mode 0600)", label, vc->key_file);
		return -1;
	}
	if (ret != 0) {
		kg_seterr(err, errlen, "%s: private key file %s holds no valid "
		    "private key (%s)", label, vc->key_file,
		    mbedtls_reason(ret, reason, sizeof(reason)));
		return -1;
	}
	if (mbedtls_pk_check_pair(&vh->chain.pk, &vh->key, rng_random, NULL) != 0) {
		kg_seterr(err, errlen, "%s: private key %s does not match "
		    "certificate %s (its first certificate must be the server's "
		    "own)", label, vc->key_file, vc->cert_file);
		return -1;
	}
key_checked:
	if (mbedtls_pk_get_type(&vh->chain.pk) == MBEDTLS_PK_ECKEY) {
		mbedtls_ecp_group_id grp = mbedtls_ecp_keypair_get_group_id(mbedtls_pk_ec(vh->chain.pk));
		if (grp != MBEDTLS_ECP_DP_SECP256R1 && grp != MBEDTLS_ECP_DP_SECP384R1) {
			kg_seterr(err, errlen, "%s: certificate %s has an ECDSA key on a "
			    "curve other than P-256 or P-384", label, vc->cert_file);
			return -1;
		}
	} else if (mbedtls_pk_get_type(&vh->chain.pk) == MBEDTLS_PK_RSA) {
		if (mbedtls_pk_get_bitlen(&vh->chain.pk) < 2048) {
			kg_seterr(err, errlen, "%s: certificate %s has an RSA key shorter "
			    "than 2048 bits", label, vc->cert_file);
			return -1;
		}
	} else {
		kg_seterr(err, errlen, "%s: certificate %s has neither an ECDSA nor "
		    "an RSA key", label, vc->cert_file);
		return -1;
	}
	if (vc->name != NULL &&
	    (vh->name = lowercase_dup(vc->name, strlen(vc->name))) == NULL) {
		kg_seterr(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static void
server_free(struct tls_server *srv)
{
	size_t i;

	for (i = 0; i < srv->nvhosts; i++) {
		free(srv->vhosts[i].name);
		mbedtls_x509_crt_free(&srv->vhosts[i].chain);
		mbedtls_pk_free(&srv->vhosts[i].key);
	}
	free(srv->vhosts);
	if (srv->client_ca != NULL) {
		mbedtls_x509_crt_free(srv->client_ca);
		free(srv->client_ca);
	}
	mbedtls_ssl_config_free(&srv->conf);
	free(srv);
}

static int
conf_common(mbedtls_ssl_config *conf, int endpoint)
{
	int ret;

	ret = mbedtls_ssl_config_defaults(conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM,
	    MBEDTLS_SSL_PRESET_DEFAULT);
	if (ret != 0)
		return ret;
	mbedtls_ssl_conf_rng(conf, rng_random, NULL);
	/* Renegotiation is compiled out (toolchain/mbedtls/mbedtls_config.h). */
	mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
	mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_3);
	mbedtls_ssl_conf_ciphersuites(conf, tls_ciphersuites);
	mbedtls_ssl_conf_groups(conf, tls_groups);
	mbedtls_ssl_conf_sig_algs(conf, tls_sig_algs);
	return 0;
}

struct tls_server *
tls_server_new(const struct tls_server_config *cfg, char *err, size_t errlen)
{
	struct tls_server *srv;
	char reason[128];
	size_t i;
	int ret;

	if (cfg == NULL || cfg->nvhosts == 0 || cfg->vhosts == NULL) {
		kg_seterr(err, errlen, "no vhost certificate configured");
		return NULL;
	}
	if (cfg->ticket_lifetime > TLS_TICKET_LIFETIME_MAX) {
		kg_seterr(err, errlen, "session ticket lifetime %u s is longer than "
		    "the maximum of %d s", cfg->ticket_lifetime,
		    TLS_TICKET_LIFETIME_MAX);
		return NULL;
	}
	if (rng_ready() != 0 || (!cfg->no_session_tickets && ticket_secret_ready() != 0)) {
		kg_seterr(err, errlen, "cannot seed the random generator from the "
		    "system entropy source");
		return NULL;
	}
	if ((srv = calloc(1, sizeof(*srv))) == NULL ||
	    (srv->vhosts = calloc(cfg->nvhosts, sizeof(*srv->vhosts))) == NULL) {
		free(srv);
		kg_seterr(err, errlen, "out of memory");
		return NULL;
	}
	srv->refs = 1;
	srv->nvhosts = cfg->nvhosts;
	srv->ticket_lifetime = cfg->ticket_lifetime != 0 ? cfg->ticket_lifetime :
	    TLS_TICKET_LIFETIME_DEFAULT;
	if (srv->ticket_lifetime > ticket.longest)
		ticket.longest = srv->ticket_lifetime;
	mbedtls_ssl_config_init(&srv->conf);
	for (i = 0; i < srv->nvhosts; i++) {
		mbedtls_x509_crt_init(&srv->vhosts[i].chain);
		mbedtls_pk_init(&srv->vhosts[i].key);
	}
	for (i = 0; i < srv->nvhosts; i++)
		if (load_vhost(&srv->vhosts[i], &cfg->vhosts[i], i,
		    cfg->remote_keys, err, errlen) != 0)
			goto fail;
	srv->remote_keys = cfg->remote_keys;
	if ((ret = conf_common(&srv->conf, MBEDTLS_SSL_IS_SERVER)) != 0 ||
	    (ret = mbedtls_ssl_conf_own_cert(&srv->conf, &srv->vhosts[0].chain,
	    own_key(srv, &srv->vhosts[0]))) != 0) {
		kg_seterr(err, errlen, "cannot set up the TLS server: %s",
		    mbedtls_reason(ret, reason, sizeof(reason)));
		goto fail;
	}
	mbedtls_ssl_conf_authmode(&srv->conf, MBEDTLS_SSL_VERIFY_NONE);
	mbedtls_ssl_conf_sni(&srv->conf, sni_select, srv);
	if (srv->remote_keys)
		mbedtls_ssl_conf_async_private_cb(&srv->conf, async_sign_start,
		    NULL, async_resume, async_cancel, srv);
	if (!cfg->no_session_tickets)
		mbedtls_ssl_conf_session_tickets_cb(&srv->conf, ticket_write,
		    ticket_parse, srv);
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
	/* A TLS 1.3 resumption always makes a fresh key exchange (psk_dhe_ke;
	 * no psk_ke): a ticket key, wherever it leaks, opens no recorded
	 * TLS 1.3 connection.  Windows, browsers and curl offer only that. */
	mbedtls_ssl_conf_tls13_key_exchange_modes(&srv->conf,
	    MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_EPHEMERAL |
	    MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL);
#endif
	return srv;
fail:
	server_free(srv);
	return NULL;
}

struct tls_server *
tls_server_ref(struct tls_server *srv)
{
	srv->refs++;
	return srv;
}

void
tls_server_unref(struct tls_server *srv)
{
	if (srv != NULL && --srv->refs == 0)
		server_free(srv);
}

static struct tls_conn *
conn_new(int fd, const mbedtls_ssl_config *conf)
{
	struct tls_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	mbedtls_ssl_init(&c->ssl);
	if (mbedtls_ssl_setup(&c->ssl, conf) != 0) {
		mbedtls_ssl_free(&c->ssl);
		free(c);
		return NULL;
	}
	c->fd = fd;
	mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
	return c;
}

struct tls_conn *
tls_conn_new_server(struct tls_server *srv, int fd)
{
	struct tls_conn *c = conn_new(fd, &srv->conf);

	if (c == NULL)
		return NULL;
	c->srv = tls_server_ref(srv);
	c->vhost = &srv->vhosts[0];
	return c;
}

/* ---- client side ------------------------------------------------------ */

static int
parse_pins(struct tls_client *cli, const char *spec, char *err, size_t errlen)
{
	const char *p = spec;

	while (*p != '\0') {
		uint8_t pin[32];
		const char *start;
		size_t n = 0;

		p += strspn(p, " \t,");
		if (*p == '\0')
			break;
		start = p;
		for (; *p != '\0' && strchr(" \t,", *p) == NULL; p++) {
			int hi, lo;

			if (*p == ':')
				continue;
			if (n == sizeof(pin) || (hi = hex_digit(p[0])) < 0 ||
			    (lo = hex_digit(p[1])) < 0)
				goto bad;
			pin[n++] = (uint8_t)(hi << 4 | lo);
			p++;
		}
		if (n != sizeof(pin))
			goto bad;
		if (cli->npins == TLS_MAX_PINS) {
			kg_seterr(err, errlen, "more than %d certificate pins "
			    "configured", TLS_MAX_PINS);
			return -1;
		}
		memcpy(cli->pins[cli->npins++], pin, sizeof(pin));
		continue;
bad:
		kg_seterr(err, errlen, "certificate pin \"%.*s\" is not a SHA-256 "
		    "fingerprint (64 hex digits, colons allowed)",
		    (int)(strcspn(start, " \t,") > 100 ? 100 : strcspn(start, " \t,")),
		    start);
		return -1;
	}
	if (cli->npins == 0) {
		kg_seterr(err, errlen, "certificate pin setting holds no fingerprint");
		return -1;
	}
	return 0;
}

static bool
pin_matches(const struct tls_client *cli, const uint8_t hash[32])
{
	size_t i;

	for (i = 0; i < cli->npins; i++)
		if (memcmp(cli->pins[i], hash, 32) == 0)
			return true;
	return false;
}

static void
client_free(struct tls_client *cli)
{
	mbedtls_ssl_session_free(&cli->session);
	free(cli->session_name);
	free(cli->server_name);
	mbedtls_x509_crt_free(&cli->ca);
	own_cert_free(cli->own);
	mbedtls_ssl_config_free(&cli->conf);
	free(cli);
}

struct tls_client *
tls_client_new(const struct tls_client_config *cfg, char *err, size_t errlen)
{
	struct tls_client *cli;
	const char *who;
	char reason[128];
	int ret, e;

	who = cfg->server_name != NULL ? cfg->server_name : "(no server name)";
	if ((cfg->ca_file == NULL || cfg->ca_file[0] == '\0') &&
	    cfg->pin_sha256 == NULL) {
		kg_seterr(err, errlen, "back-end %s: neither a CA bundle nor a "
		    "certificate pin is configured; refusing to talk to an "
		    "unverified back-end", who);
		return NULL;
	}
	if (rng_ready() != 0) {
		kg_seterr(err, errlen, "cannot seed the random generator from the "
		    "system entropy source");
		return NULL;
	}
	if ((cli = calloc(1, sizeof(*cli))) == NULL) {
		kg_seterr(err, errlen, "out of memory");
		return NULL;
	}
	cli->refs = 1;
	cli->resume = !cfg->no_session_resumption;
	mbedtls_ssl_config_init(&cli->conf);
	mbedtls_x509_crt_init(&cli->ca);
	mbedtls_ssl_session_init(&cli->session);
	if (cfg->pin_sha256 != NULL && parse_pins(cli, cfg->pin_sha256, err, errlen) != 0)
		goto fail;
	if (cfg->ca_file != NULL && cfg->ca_file[0] != '\0') {
		if ((e = file_unreadable(cfg->ca_file)) != 0) {
			kg_seterr(err, errlen, "back-end %s: cannot read CA bundle %s: %s",
			    who, cfg->ca_file, strerror(e));
			goto fail;
		}
		/* > 0: some certificates did not parse; a system bundle may
		 * hold a few mbedTLS does not support, the rest still count. */
		if ((ret = mbedtls_x509_crt_parse_file(&cli->ca, cfg->ca_file)) < 0 ||
		    cli->ca.raw.p == NULL) {
			kg_seterr(err, errlen, "back-end %s: CA bundle %s holds no valid "
			    "PEM certificate (%s)", who, cfg->ca_file,
			    mbedtls_reason(ret, reason, sizeof(reason)));
			goto fail;
		}
		cli->have_ca = true;
	}
	if (cfg->server_name != NULL &&
	    (cli->server_name = strdup(cfg->server_name)) == NULL) {
		kg_seterr(err, errlen, "out of memory");
		goto fail;
	}
	if ((ret = conf_common(&cli->conf, MBEDTLS_SSL_IS_CLIENT)) != 0) {
		kg_seterr(err, errlen, "cannot set up the TLS client: %s",
		    mbedtls_reason(ret, reason, sizeof(reason)));
		goto fail;
	}
	if (cli->resume)
		mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(&cli->conf,
		    MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
	if (cli->have_ca) {
		mbedtls_ssl_conf_authmode(&cli->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
		mbedtls_ssl_conf_ca_chain(&cli->conf, &cli->ca, NULL);
	} else {
		/* Pin only: the chain cannot verify; the callback decides. */
		mbedtls_ssl_conf_authmode(&cli->conf, MBEDTLS_SSL_VERIFY_OPTIONAL);
	}
	return cli;
fail:
	client_free(cli);
	return NULL;
}

struct tls_client *
tls_client_ref(struct tls_client *cli)
{
	cli->refs++;
	return cli;
}

void
tls_client_unref(struct tls_client *cli)
{
	if (cli != NULL && --cli->refs == 0)
		client_free(cli);
}

/*
 * Called for each certificate of the back-end's chain, the leaf (depth 0)
 * last.  With a CA, mbedTLS fails the handshake on any flag; with a pin
 * only, the flags are dropped and the pin decides.  A non-zero return is
 * fatal whatever the authmode.
 */
static int
client_verify(void *p_conn, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct tls_conn *c = p_conn;
	const struct tls_client *cli = c->cli;
	uint8_t hash[32];
	char hex[65];

	c->saw_certificate = true;
	c->chain_flags |= *flags;
	if (!cli->have_ca)
		*flags = 0;
	if (depth != 0)
		return 0;
	if (cli->have_ca && c->chain_flags != 0) {
		verify_err(c, c->chain_flags, crt);
		return 0;
	}
	if (cli->npins == 0)
		return 0;
	if (tls_cert_sha256(crt->raw.p, crt->raw.len, hash) != 0)
		return MBEDTLS_ERR_X509_FATAL_ERROR;
	if (!pin_matches(cli, hash)) {
		hex_encode(hash, sizeof(hash), hex);
		conn_err(c, "certificate for %s has SHA-256 %s, which does not "
		    "match the configured pin", c->sni != NULL ? c->sni :
		    "the back-end", hex);
		return MBEDTLS_ERR_X509_FATAL_ERROR;
	}
	return 0;
}

struct tls_conn *
tls_conn_new_client(struct tls_client *cli, int fd, const char *sni)
{
	const char *name = sni != NULL ? sni : cli->server_name;
	struct tls_conn *c = conn_new(fd, &cli->conf);

	if (c == NULL)
		return NULL;
	c->cli = tls_client_ref(cli);
	mbedtls_ssl_set_verify(&c->ssl, client_verify, c);
	if (name == NULL) {
		if (cli->have_ca) {
			conn_err(c, "no server name to verify the back-end's "
			    "certificate against");
			c->failed = true;
		}
		return c;
	}
	if ((c->sni = strdup(name)) == NULL ||
	    mbedtls_ssl_set_hostname(&c->ssl, name) != 0) {
		conn_err(c, "cannot use server name \"%.100s\"", name);
		c->failed = true;
		return c;
	}
	if (cli->resume && cli->have_session && cli->session_name != NULL &&
	    strcmp(cli->session_name, name) == 0 &&
	    mbedtls_ssl_set_session(&c->ssl, &cli->session) != 0) {
		/* A session mbedTLS no longer takes: forget it. */
		cli->have_session = false;
	}
	return c;
}

/* Keeps the connection's session to offer on the next connection. */
static void
client_keep_session(struct tls_conn *c)
{
	struct tls_client *cli = c->cli;

	if (!cli->resume || c->sni == NULL)
		return;
	mbedtls_ssl_session_free(&cli->session);
	mbedtls_ssl_session_init(&cli->session);
	free(cli->session_name);
	cli->session_name = NULL;
	cli->have_session = false;
	if (mbedtls_ssl_get_session(&c->ssl, &cli->session) != 0)
		return;
	cli->session_name = strdup(c->sni);
	cli->have_session = cli->session_name != NULL;
}

/*
 * Last check before the client reports the handshake done (and so before
 * any application byte): a back-end without a certificate, or a resumed
 * session whose certificate no longer fits the pins, is refused here.
 */
static int
client_handshake_done(struct tls_conn *c)
{
	struct tls_client *cli = c->cli;
	const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(&c->ssl);
	uint8_t hash[32];

	if (peer == NULL || peer->raw.p == NULL) {
		conn_err(c, "back-end %s presented no certificate",
		    c->sni != NULL ? c->sni : "");
		goto refuse;
	}
	if (cli->npins > 0 && (tls_cert_sha256(peer->raw.p, peer->raw.len, hash) != 0 ||
	    !pin_matches(cli, hash))) {
		conn_err(c, "certificate for %s does not match the configured pin",
		    c->sni != NULL ? c->sni : "the back-end");
		goto refuse;
	}
	/* mbedTLS verifies a chain only in a full handshake. */
	c->resumed = !c->saw_certificate;
	/* TLS 1.3 tickets come after the handshake (see tls_read). */
	if (mbedtls_ssl_get_version_number(&c->ssl) == MBEDTLS_SSL_VERSION_TLS1_2)
		client_keep_session(c);
	return TLS_OK;
refuse:
	(void)mbedtls_ssl_send_alert_message(&c->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
	    MBEDTLS_SSL_ALERT_MSG_BAD_CERT);
	c->failed = true;
	return TLS_ERR;
}

/* ---- both sides ------------------------------------------------------- */

int
tls_handshake(struct tls_conn *c)
{
	int ret;

	c->shrunk = false;
	if (c->failed)
		return TLS_ERR;
	if (c->established)
		return TLS_OK;
	if (c->closed)
		return TLS_CLOSED;
	if (c->sign_state == SIGN_WAITING)
		return TLS_WANT_SIGN;
	hs_conn = c;
	ret = mbedtls_ssl_handshake(&c->ssl);
	hs_conn = NULL;
	if (ret == MBEDTLS_ERR_SSL_ASYNC_IN_PROGRESS)
		return TLS_WANT_SIGN;
	if (ret != 0 && c->sign_state == SIGN_FAILED) {
		/* mbedTLS sends no alert for a failed signature: the client
		 * must not wait for a message that will not come. */
		(void)mbedtls_ssl_send_alert_message(&c->ssl,
		    MBEDTLS_SSL_ALERT_LEVEL_FATAL,
		    MBEDTLS_SSL_ALERT_MSG_INTERNAL_ERROR);
		c->failed = true;
		return TLS_ERR;
	}
	if (ret != 0)
		return conn_failed(c, ret, "during the handshake");
	if (c->cli != NULL && (ret = client_handshake_done(c)) != TLS_OK)
		return ret;
	c->established = true;
	return TLS_OK;
}

ssize_t
tls_read(struct tls_conn *c, void *buf, size_t n)
{
	int ret, tries;

	if ((ret = tls_handshake(c)) != TLS_OK)
		return ret;
	if (c->closed)
		return TLS_CLOSED;
	if (n == 0)
		return 0;
	if (n > INT_MAX)
		n = INT_MAX;
	for (tries = 0;; tries++) {
		ret = mbedtls_ssl_read(&c->ssl, buf, n);
		/* A TLS 1.3 back-end's NewSessionTicket: keep it, read on. */
		if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) {
			client_keep_session(c);
			continue;
		}
		/* mbedTLS answers WANT_READ after consuming a post-handshake
		 * message (TLS 1.3 NewSessionTicket, KeyUpdate) although the
		 * socket may hold application data: the event loop would wait
		 * for an edge that already passed.  The record type is a field
		 * with no accessor. */
		if (ret == MBEDTLS_ERR_SSL_WANT_READ && tries < 8 &&
		    c->ssl.MBEDTLS_PRIVATE(in_msgtype) == MBEDTLS_SSL_MSG_HANDSHAKE)
			continue;
		break;
	}
	if (ret > 0)
		return ret;
	return conn_failed(c, ret, "while reading");
}

size_t
tls_pending(const struct tls_conn *c)
{
	size_t n;

	if (!c->established || c->failed || c->closed)
		return 0;
	if ((n = mbedtls_ssl_get_bytes_avail(&c->ssl)) > 0)
		return n;
	return mbedtls_ssl_check_pending(&c->ssl) ? 1 : 0;
}

ssize_t
tls_write(struct tls_conn *c, const void *buf, size_t n)
{
	size_t len = n;
	int ret, max;

	if ((ret = tls_handshake(c)) != TLS_OK)
		return ret;
	if (c->write_taken > 0) {
		/* mbedTLS already encrypted these; it only flushes now. */
		if (n < c->write_taken) {
			conn_err(c, "tls_write() called again with fewer bytes "
			    "than it already took");
			c->failed = true;
			return TLS_ERR;
		}
		len = c->write_taken;
	} else {
		if (n == 0)
			return 0;
		if ((max = mbedtls_ssl_get_max_out_record_payload(&c->ssl)) <= 0)
			return conn_failed(c, max, "while writing");
		if (len > (size_t)max)
			len = (size_t)max;
	}
	ret = mbedtls_ssl_write(&c->ssl, buf, len);
	if (ret >= 0) {
		c->write_taken = 0;
		return ret;
	}
	if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
		c->write_taken = len;
	return conn_failed(c, ret, "while writing");
}

int
tls_close_notify(struct tls_conn *c)
{
	int ret;

	c->shrunk = false;
	if (c->failed)
		return TLS_ERR;
	/* mbedtls_ssl_close_notify() returns 0 after merely flushing what
	 * was pending, so call it until the alert itself went out. */
	for (;;) {
		bool flushing = c->ssl.MBEDTLS_PRIVATE(out_left) != 0;

		if (!flushing && c->close_queued)
			return TLS_OK;
		if (!flushing)
			c->close_queued = true;
		ret = mbedtls_ssl_close_notify(&c->ssl);
		if (ret != 0)
			return conn_failed(c, ret, "while closing");
		if (!c->established && !flushing)
			return TLS_OK;   /* nothing to close before the handshake */
	}
}

/*
 * Drops the whole pages of [buf + keep, buf + len): the kernel maps them to
 * the zero page again on the next touch.  The buffer stays allocated.
 */
static size_t
drop_pages(unsigned char *buf, size_t keep, size_t len)
{
	static uintptr_t page;
	uintptr_t lo, hi;

	if (page == 0) {
		long ps = sysconf(_SC_PAGESIZE);
		page = ps > 0 ? (uintptr_t)ps : 4096;
	}
	if (buf == NULL || keep >= len)
		return 0;
	lo = ((uintptr_t)buf + keep + page - 1) & ~(page - 1);
	hi = ((uintptr_t)buf + len) & ~(page - 1);
	if (hi <= lo || madvise((void *)lo, hi - lo, MADV_DONTNEED) != 0)
		return 0;
	return hi - lo;
}

/*
 * The record buffers live in fields mbedTLS 3.6 offers no accessor for;
 * MBEDTLS_PRIVATE() names them.  The layout checks below make a future
 * mbedTLS whose buffers look different a no-op rather than a corruption.
 */
#define SSL_F(ssl, f) ((ssl)->MBEDTLS_PRIVATE(f))

size_t
tls_conn_shrink(struct tls_conn *c)
{
	mbedtls_ssl_context *ssl;
	size_t in_len, out_len, in_keep, out_keep, n;
	unsigned char *in_buf, *out_buf;

	if (c == NULL)
		return 0;
	ssl = &c->ssl;
	if (c->shrunk || !c->established || c->failed || c->closed ||
	    !mbedtls_ssl_is_handshake_over(ssl))
		return 0;
	/* Nothing half-received, undelivered or unsent: the record bytes
	 * in the buffers are spent. */
	if (SSL_F(ssl, in_left) != 0 || mbedtls_ssl_check_pending(ssl) ||
	    mbedtls_ssl_get_bytes_avail(ssl) != 0 || SSL_F(ssl, out_left) != 0 ||
	    c->write_taken != 0)
		return 0;
	in_buf = SSL_F(ssl, in_buf);
	out_buf = SSL_F(ssl, out_buf);
	in_len = SSL_F(ssl, in_buf_len);
	out_len = SSL_F(ssl, out_buf_len);
	/* Kept: the front of each buffer up to the record content, where
	 * TLS keeps what lives on between records, the 8-byte sequence
	 * counter (in_ctr/out_ctr, just before the header). */
	if (in_buf == NULL || out_buf == NULL ||
	    SSL_F(ssl, in_ctr) < in_buf || SSL_F(ssl, in_msg) < SSL_F(ssl, in_ctr) + 8 ||
	    SSL_F(ssl, out_ctr) < out_buf || SSL_F(ssl, out_msg) < SSL_F(ssl, out_ctr) + 8 ||
	    SSL_F(ssl, in_msg) > in_buf + in_len || SSL_F(ssl, out_msg) > out_buf + out_len)
		return 0;
	in_keep = (size_t)(SSL_F(ssl, in_msg) - in_buf);
	out_keep = (size_t)(SSL_F(ssl, out_msg) - out_buf);
	n = drop_pages(in_buf, in_keep, in_len) + drop_pages(out_buf, out_keep, out_len);
	c->shrunk = true;
	return n;
}

void
tls_conn_free(struct tls_conn *c)
{
	if (c == NULL)
		return;
	mbedtls_ssl_free(&c->ssl);   /* zeroizes keys and record buffers */
	free(c->sig);
	free(c->sni);
	tls_server_unref(c->srv);
	tls_client_unref(c->cli);
	free(c);
}

const char *
tls_conn_error(const struct tls_conn *c)
{
	return c->err;
}

bool
tls_conn_established(const struct tls_conn *c)
{
	return c->established;
}

bool
tls_conn_resumed(const struct tls_conn *c)
{
	return c->established && c->resumed;
}

const char *
tls_conn_sni(const struct tls_conn *c)
{
	return c->sni;
}

const char *
tls_conn_vhost(const struct tls_conn *c)
{
	return c->vhost != NULL ? c->vhost->name : NULL;
}

const char *
tls_conn_cipher(const struct tls_conn *c)
{
	return c->established ? mbedtls_ssl_get_ciphersuite(&c->ssl) : NULL;
}

const uint8_t *
tls_conn_own_cert_der(const struct tls_conn *c, size_t *len)
{
	if (!c->established || c->vhost == NULL)
		return NULL;
	*len = c->vhost->chain.raw.len;
	return c->vhost->chain.raw.p;
}

const uint8_t *
tls_conn_peer_cert_der(const struct tls_conn *c, size_t *len)
{
	const mbedtls_x509_crt *peer;

	if (!c->established || (peer = mbedtls_ssl_get_peer_cert(&c->ssl)) == NULL)
		return NULL;
	*len = peer->raw.len;
	return peer->raw.p;
}

/* ---- certificates ----------------------------------------------------- */

int
tls_cert_sha256(const uint8_t *der, size_t len, uint8_t out[32])
{
	return mbedtls_sha256(der, len, out, 0) == 0 ? 0 : -1;
}

int
tls_end_point_hash(const uint8_t *der, size_t len,
    uint8_t out[TLS_END_POINT_HASH_MAX], size_t *outlen)
{
	mbedtls_x509_crt crt;
	mbedtls_md_type_t md;
	mbedtls_pk_type_t pk_alg;
	const mbedtls_md_info_t *info;
	int ret = -1;

	mbedtls_x509_crt_init(&crt);
	if (mbedtls_x509_crt_parse_der(&crt, der, len) != 0)
		goto out;
	if (mbedtls_oid_get_sig_alg(&crt.sig_oid, &md, &pk_alg) != 0)
		goto out;
	if (md == MBEDTLS_MD_MD5 || md == MBEDTLS_MD_SHA1)
		md = MBEDTLS_MD_SHA256;
	if (md == MBEDTLS_MD_NONE || (info = mbedtls_md_info_from_type(md)) == NULL ||
	    mbedtls_md_get_size(info) > TLS_END_POINT_HASH_MAX)
		goto out;
	if (mbedtls_md(info, der, len, out) != 0)
		goto out;
	*outlen = mbedtls_md_get_size(info);
	ret = 0;
out:
	mbedtls_x509_crt_free(&crt);
	return ret;
}

/* ---- client certificates (the management API) -------------------------- */

int
tls_server_require_client_cert(struct tls_server *srv, const char *ca_file,
    char *err, size_t errlen)
{
	char reason[128];
	int ret;

	if (srv->client_ca != NULL) {
		kg_seterr(err, errlen, "a client CA is already set");
		return -1;
	}
	if ((srv->client_ca = calloc(1, sizeof(*srv->client_ca))) == NULL) {
		kg_seterr(err, errlen, "out of memory");
		return -1;
	}
	mbedtls_x509_crt_init(srv->client_ca);
	if ((ret = mbedtls_x509_crt_parse_file(srv->client_ca, ca_file)) != 0) {
		kg_seterr(err, errlen, "cannot read the client CA %s: %s", ca_file,
		    mbedtls_reason(ret, reason, sizeof(reason)));
		mbedtls_x509_crt_free(srv->client_ca);
		free(srv->client_ca);
		srv->client_ca = NULL;
		return -1;
	}
	mbedtls_ssl_conf_ca_chain(&srv->conf, srv->client_ca, NULL);
	mbedtls_ssl_conf_authmode(&srv->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	return 0;
}

static void
own_cert_free(struct tls_own_cert *own)
{
	if (own == NULL)
		return;
	mbedtls_x509_crt_free(&own->chain);
	mbedtls_pk_free(&own->key);	/* zeroizes the key */
	free(own);
}

int
tls_client_use_cert(struct tls_client *cli, const char *cert_file,
    const char *key_file, char *err, size_t errlen)
{
	struct tls_own_cert *own;
	char reason[128];
	int ret;

	if (cli->own != NULL)
		return kg_seterr(err, errlen, "a client certificate is already set");
	if (rng_ready() != 0)
		return kg_seterr(err, errlen, "cannot seed the random generator");
	if ((own = calloc(1, sizeof(*own))) == NULL)
		return kg_seterr(err, errlen, "out of memory");
	mbedtls_x509_crt_init(&own->chain);
	mbedtls_pk_init(&own->key);
	if ((ret = mbedtls_x509_crt_parse_file(&own->chain, cert_file)) != 0) {
		kg_seterr(err, errlen, "cannot read the client certificate %s: %s",
		    cert_file, mbedtls_reason(ret, reason, sizeof(reason)));
		goto fail;
	}
	if ((ret = mbedtls_pk_parse_keyfile(&own->key, key_file, NULL, rng_random,
	    NULL)) != 0) {
		kg_seterr(err, errlen, "cannot read the client key %s: %s", key_file,
		    mbedtls_reason(ret, reason, sizeof(reason)));
		goto fail;
	}
	if (mbedtls_pk_check_pair(&own->chain.pk, &own->key, rng_random, NULL) != 0) {
		kg_seterr(err, errlen, "the key %s does not belong to the certificate %s",
		    key_file, cert_file);
		goto fail;
	}
	if ((ret = mbedtls_ssl_conf_own_cert(&cli->conf, &own->chain, &own->key)) != 0) {
		kg_seterr(err, errlen, "cannot use the client certificate: %s",
		    mbedtls_reason(ret, reason, sizeof(reason)));
		goto fail;
	}
	cli->own = own;
	return 0;
fail:
	own_cert_free(own);
	return -1;
}
