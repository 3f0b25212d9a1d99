/*
 * tlskey.c: the VIP's TLS private keys and the signatures made with them
 * (see tlskey.h).  libcrypto signs: OpenSSL's assembly is 7x (RSA-2048) to
 * 17x (ECDSA P-256) faster here than mbedTLS's C.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "ipc.h"
#include "log.h"
#include "sandbox.h"
#include "sealedstore.h"
#include "secretstore.h"
#include "tlskey.h"
#include "util.h"

#define KEY_FILE_MAX	(64 * 1024)
#define RELAY_QUEUE_MAX	(256 * 1024)	/* unread answers before a relay is
					   dropped */
#define TK_TICK_MS	1000

struct tlskey_keys {
	EVP_PKEY	**key;
	uint8_t		**chain;	/* from the sealed store, or NULL */
	size_t		 *chain_len;
	size_t		  n;
};

/* ------------------------------------------------------------ frames */

static size_t
md_len(enum tls_sign_md md)
{
	switch (md) {
	case TLS_MD_SHA256: return 32;
	case TLS_MD_SHA384: return 48;
	case TLS_MD_SHA512: return 64;
	}
	return 0;
}

size_t
tlskey_encode_request(const struct tls_sign_request *req, uint8_t *out,
    size_t outlen)
{
	size_t n = TK_SIGN_HDR_LEN + req->hash_len;

	if (req->key_index > 0xffff || req->hash_len != md_len(req->md) ||
	    outlen < n)
		return 0;
	out[0] = (uint8_t)(req->key_index >> 8);
	out[1] = (uint8_t)req->key_index;
	out[2] = (uint8_t)req->scheme;
	out[3] = (uint8_t)req->md;
	out[4] = (uint8_t)req->hash_len;
	memcpy(out + TK_SIGN_HDR_LEN, req->hash, req->hash_len);
	return n;
}

int
tlskey_parse_request(const uint8_t *p, size_t len, size_t nkeys,
    struct tls_sign_request *out, const char **why)
{
	unsigned idx;

	memset(out, 0, sizeof(*out));
	if (p == NULL || len < TK_SIGN_HDR_LEN) {
		*why = "shorter than its header";
		return -1;
	}
	idx = (unsigned)p[0] << 8 | p[1];
	if (idx >= nkeys) {
		*why = "key index out of range";
		return -1;
	}
	if (p[2] < TLS_SIGN_ECDSA || p[2] > TLS_SIGN_RSA_PSS) {
		*why = "unknown signature scheme";
		return -1;
	}
	if (p[3] < TLS_MD_SHA256 || p[3] > TLS_MD_SHA512) {
		*why = "unknown hash";
		return -1;
	}
	if (p[4] != md_len((enum tls_sign_md)p[3])) {
		*why = "hash length does not match the hash";
		return -1;
	}
	if (len != TK_SIGN_HDR_LEN + (size_t)p[4]) {
		*why = "length does not match the hash length";
		return -1;
	}
	out->key_index = idx;
	out->scheme = (enum tls_sign_scheme)p[2];
	out->md = (enum tls_sign_md)p[3];
	out->hash = p + TK_SIGN_HDR_LEN;
	out->hash_len = p[4];
	return 0;
}

int
tlskey_parse_answer(const uint8_t *p, size_t len, const uint8_t **sig,
    size_t *siglen)
{
	*sig = NULL;
	*siglen = 0;
	if (p == NULL || len < 1)
		return -1;
	if (p[0] == TK_STATUS_FAILED)
		return len == 1 ? 0 : -1;
	if (p[0] != TK_STATUS_OK || len < 2 || len - 1 > TLS_SIG_MAX)
		return -1;
	*sig = p + 1;
	*siglen = len - 1;
	return 1;
}

/* ------------------------------------------------------------ keys */

static int
no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf; (void)size; (void)rwflag; (void)u;
	return -1;	/* an encrypted key is refused, never prompted for */
}

/* The whole file, at most KEY_FILE_MAX bytes; *len set.  NULL: errno. */
static uint8_t *
read_small_file(const char *path, size_t *len)
{
	uint8_t *buf;
	ssize_t n;
	size_t got = 0;
	int fd, e;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	if ((buf = malloc(KEY_FILE_MAX)) == NULL) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	while (got < KEY_FILE_MAX &&
	    (n = read(fd, buf + got, KEY_FILE_MAX - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			kg_freezero(buf, KEY_FILE_MAX);
			close(fd);
			errno = e;
			return NULL;
		}
		got += (size_t)n;
	}
	close(fd);
	if (got == KEY_FILE_MAX) {
		kg_freezero(buf, KEY_FILE_MAX);
		errno = EFBIG;
		return NULL;
	}
	*len = got;
	return buf;
}

/* PEM first, then DER; the file's bytes are cleared before they are freed. */
static EVP_PKEY *
parse_key(const struct tlskey_file *f, char *err, size_t errlen)
{
	const unsigned char *der;
	EVP_PKEY *key = NULL;
	uint8_t *buf;
	size_t len = 0;
	BIO *b;

	if ((buf = read_small_file(f->key_file, &len)) == NULL) {
		kg_seterr(err, errlen, "%s: cannot read private key file %s: %s",
		    f->label, f->key_file, strerror(errno));
		return NULL;
	}
	if (memmem(buf, len, "ENCRYPTED", 9) != NULL) {
		kg_seterr(err, errlen, "%s: private key file %s is encrypted; "
		    "kerbgate needs it unencrypted (mode 0600)", f->label,
		    f->key_file);
		kg_freezero(buf, KEY_FILE_MAX);
		return NULL;
	}
	if ((b = BIO_new_mem_buf(buf, (int)len)) != NULL) {
		key = PEM_read_bio_PrivateKey(b, NULL, no_password, NULL);
		BIO_free(b);
	}
	if (key == NULL) {
		der = buf;
		key = d2i_AutoPrivateKey(NULL, &der, (long)len);
	}
	kg_freezero(buf, KEY_FILE_MAX);
	if (key == NULL)
		kg_seterr(err, errlen, "%s: private key file %s holds no valid "
		    "private key (PEM or DER, unencrypted)", f->label, f->key_file);
	return key;
}

/* The sealed store's key and chain, checked together. */
static EVP_PKEY *
load_stored(const struct tlskey_file *f, char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	X509 *crt = NULL;
	BIO *b;

	if ((b = BIO_new_mem_buf(f->key_pem, (int)f->key_pem_len)) != NULL) {
		key = PEM_read_bio_PrivateKey(b, NULL, no_password, NULL);
		BIO_free(b);
	}
	if ((b = BIO_new_mem_buf(f->chain_pem, (int)f->chain_pem_len)) != NULL) {
		crt = PEM_read_bio_X509(b, NULL, no_password, NULL);
		BIO_free(b);
	}
	if (key == NULL || crt == NULL ||
	    EVP_PKEY_eq(X509_get0_pubkey(crt), key) != 1) {
		kg_seterr(err, errlen, "%s: the sealed store's active TLS key %s: "
		    "stage and activate a pair that verifies, or retire it to "
		    "serve the configured files", f->label, key == NULL ?
		    "does not parse" : crt == NULL ? "has no certificate" :
		    "does not match its certificate");
		EVP_PKEY_free(key);
		key = NULL;
	}
	X509_free(crt);
	return key;
}

static EVP_PKEY *
load_one(const struct tlskey_file *f, char *err, size_t errlen)
{
	struct stat st;
	EVP_PKEY *key;
	X509 *crt = NULL;
	BIO *b;
	int id;

	if (f->key_pem != NULL) {
		if ((key = load_stored(f, err, errlen)) == NULL)
			return NULL;
		goto type;
	}
	if (stat(f->key_file, &st) != 0) {
		kg_seterr(err, errlen, "%s: cannot read private key file %s: %s",
		    f->label, f->key_file, strerror(errno));
		return NULL;
	}
	if (st.st_mode & S_IRWXO) {
		kg_seterr(err, errlen, "%s: private key file %s is accessible to "
		    "other users (mode %04o); make it 0600", f->label, f->key_file,
		    (unsigned)(st.st_mode & 07777));
		return NULL;
	}
	if ((key = parse_key(f, err, errlen)) == NULL)
		return NULL;
	if ((b = BIO_new_file(f->cert_file, "r")) != NULL) {
		crt = PEM_read_bio_X509(b, NULL, no_password, NULL);
		BIO_free(b);
	}
	if (crt == NULL) {
		kg_seterr(err, errlen, "%s: certificate file %s holds no valid "
		    "PEM certificate", f->label, f->cert_file);
		EVP_PKEY_free(key);
		return NULL;
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(crt), key) != 1) {
		kg_seterr(err, errlen, "%s: private key %s does not match "
		    "certificate %s (its first certificate must be the server's "
		    "own)", f->label, f->key_file, f->cert_file);
		X509_free(crt);
		EVP_PKEY_free(key);
		return NULL;
	}
	X509_free(crt);
type:
	id = EVP_PKEY_get_base_id(key);
	if (id != EVP_PKEY_EC && id != EVP_PKEY_RSA) {
		kg_seterr(err, errlen, "%s: private key %s is neither ECDSA nor "
		    "RSA", f->label, f->key_file);
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

struct tlskey_keys *
tlskey_load(const struct tlskey_file *files, size_t n, char *err,
    size_t errlen)
{
	struct tlskey_keys *k;

	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (k->key = calloc(n ? n : 1, sizeof(*k->key))) == NULL ||
	    (k->chain = calloc(n ? n : 1, sizeof(*k->chain))) == NULL ||
	    (k->chain_len = calloc(n ? n : 1, sizeof(*k->chain_len))) == NULL) {
		tlskey_free(k);
		kg_seterr(err, errlen, "out of memory");
		return NULL;
	}
	for (k->n = 0; k->n < n; k->n++) {
		const struct tlskey_file *f = &files[k->n];

		if ((k->key[k->n] = load_one(f, err, errlen)) == NULL) {
			tlskey_free(k);
			return NULL;
		}
		if (f->key_pem == NULL)
			continue;
		if ((k->chain[k->n] = malloc(f->chain_pem_len)) == NULL) {
			k->n++;
			tlskey_free(k);
			kg_seterr(err, errlen, "out of memory");
			return NULL;
		}
		memcpy(k->chain[k->n], f->chain_pem, f->chain_pem_len);
		k->chain_len[k->n] = f->chain_pem_len;
	}
	return k;
}

/*
 * The sealed store's secrets, for their TLS keys: NULL with err empty when
 * there is none to read (no store configured, none written yet, no device
 * key yet), NULL with the reason when it does not open.
 */
static struct secretstore *
stored_keys(const struct conf *c, char *err, size_t errlen)
{
	struct secretstore *ss = NULL;
	uint8_t key[SEALED_KEY_LEN], *img = NULL, *plain = NULL;
	size_t len = 0, plen = 0;
	char why[512];

	err[0] = '\0';
	if (c->cred_store[0] == '\0' || access(c->cred_device_key, F_OK) != 0 ||
	    sealed_read_file(c->cred_store, &img, &len, why, sizeof(why)) == 1)
		return NULL;
	if (img == NULL ||
	    sealed_device_key(c->cred_device_key, 0, key, why, sizeof(why)) != 0 ||
	    sealed_open(key, img, len, &plain, &plen, why, sizeof(why)) != 0 ||
	    (ss = secretstore_new(0)) == NULL ||
	    secretstore_decode(ss, plain, plen, why, sizeof(why)) != 0) {
		kg_seterr(err, errlen, "sealed store %s: %s", c->cred_store,
		    ss == NULL && img != NULL && plain != NULL ? "out of memory" : why);
		secretstore_free(ss);
		ss = NULL;
	}
	kg_zero(key, sizeof(key));
	sealed_free(plain, plen);
	free(img);
	return ss;
}

struct tlskey_keys *
tlskey_load_conf(const struct conf *c, char *err, size_t errlen)
{
	const struct secret_entry *e;
	struct secretstore *ss;
	struct tlskey_file *f;
	struct tlskey_keys *k;
	char (*labels)[CONF_MAX_NAME + 16];
	size_t i, n = 0;

	f = calloc(c->nvhosts ? c->nvhosts : 1, sizeof(*f));
	labels = calloc(c->nvhosts ? c->nvhosts : 1, sizeof(*labels));
	if (f == NULL || labels == NULL) {
		free(f);
		free(labels);
		kg_seterr(err, errlen, "out of memory");
		return NULL;
	}
	if ((ss = stored_keys(c, err, errlen)) == NULL && err[0] != '\0') {
		free(f);
		free(labels);
		return NULL;
	}
	/* The same vhosts, in the same order, as the relays' tls_server
	 * (kerbgated.c's make_tls()): the key index is that order. */
	for (i = 0; i < c->nvhosts; i++) {
		if (c->vhosts[i].cert_file[0] == '\0')
			continue;
		if (c->vhosts[i].name[0] != '\0')
			snprintf(labels[n], sizeof(labels[n]), "vhost %s",
			    c->vhosts[i].name);
		else
			snprintf(labels[n], sizeof(labels[n]), "vhost #%zu", n + 1);
		f[n].label = labels[n];
		f[n].cert_file = c->vhosts[i].cert_file;
		f[n].key_file = c->vhosts[i].key_file;
		if (ss != NULL && (e = secretstore_active(ss, SECRET_TLS,
		    c->vhosts[i].name)) != NULL) {
			f[n].key_pem = e->val;
			f[n].key_pem_len = e->keylen;
			f[n].chain_pem = e->val + e->keylen;
			f[n].chain_pem_len = e->len - e->keylen;
		}
		n++;
	}
	k = tlskey_load(f, n, err, errlen);
	free(f);
	free(labels);
	secretstore_free(ss);
	return k;
}

const uint8_t *
tlskey_chain(const struct tlskey_keys *k, size_t i, size_t *len)
{
	if (i >= k->n || k->chain[i] == NULL)
		return NULL;
	*len = k->chain_len[i];
	return k->chain[i];
}

void
tlskey_free(struct tlskey_keys *k)
{
	size_t i;

	if (k == NULL)
		return;
	for (i = 0; i < k->n; i++) {
		EVP_PKEY_free(k->key[i]);	/* clears the private parts */
		free(k->chain[i]);		/* public */
	}
	free(k->key);
	free(k->chain);
	free(k->chain_len);
	free(k);
}

size_t
tlskey_count(const struct tlskey_keys *k)
{
	return k != NULL ? k->n : 0;
}

static const EVP_MD *
evp_md(enum tls_sign_md md)
{
	switch (md) {
	case TLS_MD_SHA256: return EVP_sha256();
	case TLS_MD_SHA384: return EVP_sha384();
	case TLS_MD_SHA512: return EVP_sha512();
	}
	return NULL;
}

int
tlskey_sign(const struct tlskey_keys *k, const struct tls_sign_request *req,
    uint8_t *sig, size_t *siglen)
{
	const EVP_MD *md = evp_md(req->md);
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *key;
	size_t len = TLS_SIG_MAX;
	int id, ok;

	if (req->key_index >= k->n || md == NULL ||
	    req->hash_len != md_len(req->md))
		return -2;
	key = k->key[req->key_index];
	id = EVP_PKEY_get_base_id(key);
	if ((id == EVP_PKEY_EC) != (req->scheme == TLS_SIGN_ECDSA))
		return -2;
	if (EVP_PKEY_get_size(key) > TLS_SIG_MAX)
		return -1;
	if ((ctx = EVP_PKEY_CTX_new(key, NULL)) == NULL)
		return -1;
	ok = EVP_PKEY_sign_init(ctx) == 1 &&
	    EVP_PKEY_CTX_set_signature_md(ctx, md) == 1;
	if (ok && req->scheme == TLS_SIGN_RSA_PKCS1)
		ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1;
	if (ok && req->scheme == TLS_SIGN_RSA_PSS)
		ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1 &&
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) == 1;
	if (ok)
		ok = EVP_PKEY_sign(ctx, sig, &len, req->hash, req->hash_len) == 1;
	EVP_PKEY_CTX_free(ctx);
	if (!ok)
		return -1;
	*siglen = len;
	return 0;
}

/* ------------------------------------------------------------ serving */

struct tk_relay {
	int			 fd;
	struct kg_ipc_reader	 rd;
	struct kg_ipc_writer	 wr;
};

struct tk_state {
	const struct tlskey_keys *keys;
	struct tk_relay		*relays;
	size_t			 nrelays;
	int			 ctl_fd;
};

static void
drop_relay(struct tk_relay *r, size_t slot, const char *why)
{
	if (r->fd < 0)
		return;
	if (why != NULL)
		log_warnx("relay %zu sent a malformed signing request (%s): "
		    "closing its socket; its TLS handshakes fail until it is "
		    "restarted", slot, why);
	close(r->fd);
	r->fd = -1;
	kg_ipc_reader_free(&r->rd);
	kg_ipc_writer_free(&r->wr);
}

static void
add_relay(struct tk_relay *r, int fd)
{
	fcntl(fd, F_SETFL, O_NONBLOCK);
	r->fd = fd;
	kg_ipc_reader_init(&r->rd);
	kg_ipc_writer_init(&r->wr, RELAY_QUEUE_MAX);
}

/* One request: answered, or the relay dropped (returns -1). */
static int
answer(struct tk_state *s, struct tk_relay *r, size_t slot,
    const struct kg_ipc_frame *f)
{
	struct tls_sign_request req;
	uint8_t out[1 + TLS_SIG_MAX];
	const char *why = NULL;
	size_t siglen = 0;
	int rc = -1;

	if (f->type != TK_MSG_SIGN)
		why = "unknown frame type";
	else if (tlskey_parse_request(f->payload, f->len, s->keys->n, &req,
	    &why) == 0 && (rc = tlskey_sign(s->keys, &req, out + 1,
	    &siglen)) == -2)
		why = "signature scheme does not fit the key";
	if (why != NULL) {
		drop_relay(r, slot, why);
		return -1;
	}
	out[0] = rc == 0 ? TK_STATUS_OK : TK_STATUS_FAILED;
	if (rc != 0) {
		log_warnx("libcrypto could not sign with the key of vhost #%u",
		    req.key_index + 1);
		siglen = 0;
	}
	if (kg_ipc_queue(&r->wr, TK_MSG_SIG, f->id, out, 1 + siglen) < 0) {
		log_warnx("relay %zu does not read its signatures: closing its "
		    "socket", slot);
		drop_relay(r, slot, NULL);
		return -1;
	}
	return 0;
}

static void
relay_readable(struct tk_state *s, size_t slot)
{
	struct tk_relay *r = &s->relays[slot];
	struct kg_ipc_frame f;
	int rc;

	rc = kg_ipc_read(&r->rd, r->fd);
	if (rc == KG_ERR_CLOSED || (rc < 0 && rc != KG_ERR_AGAIN)) {
		log_debug("relay %zu closed its socket", slot);
		drop_relay(r, slot, NULL);
		return;
	}
	while ((rc = kg_ipc_next(&r->rd, &f)) == 1)
		if (answer(s, r, slot, &f) < 0)
			return;
	if (rc < 0) {
		drop_relay(r, slot, "a frame longer than the protocol allows");
		return;
	}
	if (kg_ipc_flush(&r->wr, r->fd) < 0 && kg_ipc_queued(&r->wr) > 0)
		drop_relay(r, slot, NULL);
}

/* A respawned relay's socket, or the parent gone (-1). */
static int
ctl_readable(struct tk_state *s)
{
	uint32_t slot;
	int fd, rc;

	rc = kg_ipc_recv_fd(s->ctl_fd, &slot, &fd);
	if (rc == KG_ERR_AGAIN)
		return 0;
	if (rc != KG_OK || fd < 0) {
		if (rc == KG_OK)
			return 0;
		close(s->ctl_fd);
		s->ctl_fd = -1;
		return -1;
	}
	if (slot >= s->nrelays) {
		log_warnx("the parent sent a socket for relay slot %u of %zu",
		    (unsigned)slot, s->nrelays);
		close(fd);
		return 0;
	}
	drop_relay(&s->relays[slot], slot, NULL);
	add_relay(&s->relays[slot], fd);
	return 0;
}

void
tlskey_serve(const struct tlskey_keys *k, int ctl_fd, const int *relay_fds,
    size_t nrelays)
{
	struct tk_state s;
	struct pollfd *pfd;
	size_t i, live;

	memset(&s, 0, sizeof(s));
	s.keys = k;
	s.nrelays = nrelays;
	s.ctl_fd = ctl_fd;
	if ((s.relays = calloc(nrelays ? nrelays : 1, sizeof(*s.relays))) == NULL ||
	    (pfd = calloc(nrelays + 1, sizeof(*pfd))) == NULL)
		fatal("calloc");
	for (i = 0; i < nrelays; i++) {
		s.relays[i].fd = -1;
		if (relay_fds[i] >= 0)
			add_relay(&s.relays[i], relay_fds[i]);
	}
	for (;;) {
		for (i = 0, live = 0; i < nrelays; i++) {
			pfd[i].fd = s.relays[i].fd;
			pfd[i].events = POLLIN;
			if (s.relays[i].fd >= 0 && kg_ipc_queued(&s.relays[i].wr) > 0)
				pfd[i].events |= POLLOUT;
			pfd[i].revents = 0;
			live += s.relays[i].fd >= 0;
		}
		/* Done when the parent no longer adds relays and the last
		 * relay of the generation has gone. */
		if (s.ctl_fd < 0 && live == 0)
			break;
		pfd[nrelays].fd = s.ctl_fd;
		pfd[nrelays].events = POLLIN;
		pfd[nrelays].revents = 0;
		if (poll(pfd, nrelays + 1, TK_TICK_MS) < 0) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		for (i = 0; i < nrelays; i++) {
			if (s.relays[i].fd < 0 || pfd[i].revents == 0)
				continue;
			if (pfd[i].revents & POLLOUT &&
			    kg_ipc_flush(&s.relays[i].wr, s.relays[i].fd) < 0 &&
			    kg_ipc_queued(&s.relays[i].wr) > 0) {
				drop_relay(&s.relays[i], i, NULL);
				continue;
			}
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				relay_readable(&s, i);
		}
		if (s.ctl_fd >= 0 && pfd[nrelays].revents != 0)
			(void)ctl_readable(&s);
	}
	free(pfd);
	free(s.relays);
}

/* "ok", or "ok N" and the N chains that came from the sealed store. */
static void
report_ok(int fd, const struct tlskey_keys *k)
{
	char ok[32];
	uint8_t *m;
	size_t i, n = 0, len;
	int w;

	for (i = 0; i < k->n; i++)
		n += k->chain[i] != NULL;
	w = n == 0 ? snprintf(ok, sizeof(ok), "ok") :
	    snprintf(ok, sizeof(ok), "ok %zu", n);
	if (send(fd, ok, (size_t)w, MSG_NOSIGNAL) != w)
		fatal("cannot report to the parent");
	for (i = 0; i < k->n; i++) {
		if (k->chain[i] == NULL)
			continue;
		len = 7 + k->chain_len[i];
		if ((m = malloc(len)) == NULL)
			fatal("malloc");
		memcpy(m, "chain", 5);
		m[5] = (uint8_t)(i >> 8);
		m[6] = (uint8_t)i;
		memcpy(m + 7, k->chain[i], k->chain_len[i]);
		if (send(fd, m, len, MSG_NOSIGNAL) != (ssize_t)len)
			fatal("cannot hand the parent a certificate chain");
		free(m);
	}
}

void
tlskey_main(struct tlskey_env *env)
{
	struct tlskey_keys *k;
	char err[512];

	log_procname("tlskey");
	OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL);
	if ((k = tlskey_load_conf(env->conf, err, sizeof(err))) == NULL) {
		(void)send(env->ctl_fd, err, strlen(err), MSG_NOSIGNAL);
		exit(1);
	}
	/* libcrypto seeds its generator and loads its providers on the first
	 * signature: before the sandbox, where it could not open a file. */
	{
		struct tls_sign_request req;
		uint8_t hash[32] = { 0 }, sig[TLS_SIG_MAX];
		size_t siglen, i;

		for (i = 0; i < k->n; i++) {
			memset(&req, 0, sizeof(req));
			req.key_index = (unsigned)i;
			req.md = TLS_MD_SHA256;
			req.hash = hash;
			req.hash_len = sizeof(hash);
			req.scheme = EVP_PKEY_get_base_id(k->key[i]) ==
			    EVP_PKEY_EC ? TLS_SIGN_ECDSA : TLS_SIGN_RSA_PSS;
			if (tlskey_sign(k, &req, sig, &siglen) != 0)
				fatalx("vhost #%zu: libcrypto cannot sign with "
				    "its key", i + 1);
		}
	}
	report_ok(env->ctl_fd, k);
	if (env->sandbox != NULL)
		sandbox_enter(env->sandbox);
	else if (env->user != NULL && env->drop_privileges != NULL)
		env->drop_privileges(env->user);
	log_debug("ready: %zu key(s), %zu relay(s)", k->n, env->nrelays);
	tlskey_serve(k, env->ctl_fd, env->relay_fds, env->nrelays);
	tlskey_free(k);
	exit(0);
}
