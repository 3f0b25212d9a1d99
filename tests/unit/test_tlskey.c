/*
 * test_tlskey: the TLS key process (tlskey.c) and the remote signatures of
 * tls.c.  Its frames, checked and refused; its keys, loaded and refused;
 * its signatures, verified with libcrypto; and whole TLS 1.2 and TLS 1.3
 * handshakes, ECDSA and RSA, where a server that holds no private key asks
 * a forked key process for every signature, as a relay does.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certgen.h"
#include "ipc.h"
#include "tls.h"
#include "tlskey.h"
#include "util.h"

#define EC_NAME  "mail.corp.contoso.com"
#define RSA_NAME "rsa.corp.contoso.com"

static char tmpdir[64];
static char ec_pem[128], ec_key[128], ec_der[128], rsa_pem[128], rsa_key[128];
static char enc_key[128];
static struct certgen_cert ec_cert;
static struct tls_vhost_config vhosts[2];
static struct tlskey_file files[2];

static void
path(char *out, const char *name)
{
	snprintf(out, 128, "%s/%s", tmpdir, name);
}

static void
write_pem_key(const char *file, EVP_PKEY *k, const EVP_CIPHER *enc)
{
	FILE *f = fopen(file, "w");

	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, k, enc,
	    enc ? (unsigned char *)"secret" : NULL, enc ? 6 : 0, NULL, NULL), 1);
	fclose(f);
	chmod(file, 0600);
}

/* An RSA-2048 key and a self-signed certificate naming RSA_NAME. */
static void
make_rsa(void)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);
	X509 *x = X509_new();
	X509_NAME *n;
	X509_EXTENSION *ext;
	FILE *f;

	assert_non_null(k);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)RSA_NAME, -1, -1, 0);
	X509_set_issuer_name(x, n);
	ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
	    "DNS:" RSA_NAME);
	assert_non_null(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	assert_non_null(f = fopen(rsa_pem, "w"));
	assert_int_equal(PEM_write_X509(f, x), 1);
	fclose(f);
	write_pem_key(rsa_key, k, NULL);
	/* The same key, encrypted: refused. */
	write_pem_key(enc_key, k, EVP_aes_128_cbc());
	X509_free(x);
	EVP_PKEY_free(k);
}

/* The ECDSA key again, as DER (tlskey accepts PEM or DER). */
static void
make_ec_der(void)
{
	EVP_PKEY *k = NULL;
	FILE *f = fopen(ec_key, "r");
	unsigned char *der = NULL;
	int len;

	assert_non_null(f);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(k);
	len = i2d_PrivateKey(k, &der);
	assert_true(len > 0);
	assert_non_null(f = fopen(ec_der, "w"));
	assert_int_equal(fwrite(der, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	chmod(ec_der, 0600);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

static int
group_setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_tlskey.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	path(ec_pem, "ec.pem");
	path(ec_key, "ec.key");
	path(ec_der, "ec.der");
	path(rsa_pem, "rsa.pem");
	path(rsa_key, "rsa.key");
	path(enc_key, "enc.key");
	assert_int_equal(certgen_make(&ec_cert, &(struct certgen_spec){
	    .cn = EC_NAME, .dns_name = EC_NAME }), 0);
	assert_int_equal(certgen_save(&ec_cert, NULL, ec_pem, ec_key), 0);
	make_rsa();
	make_ec_der();
	vhosts[0] = (struct tls_vhost_config){ EC_NAME, ec_pem, NULL, NULL, 0 };
	vhosts[1] = (struct tls_vhost_config){ RSA_NAME, rsa_pem, NULL, NULL, 0 };
	files[0] = (struct tlskey_file){ "vhost " EC_NAME, ec_pem, ec_key, NULL, 0, NULL, 0 };
	files[1] = (struct tlskey_file){ "vhost " RSA_NAME, rsa_pem, rsa_key, NULL, 0, NULL, 0 };
	signal(SIGPIPE, SIG_IGN);
	*state = NULL;
	return 0;
}

static int
group_teardown(void **state)
{
	const char *names[] = { "ec.pem", "ec.key", "ec.der", "rsa.pem",
	    "rsa.key", "enc.key" };
	char p[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		path(p, names[i]);
		unlink(p);
	}
	rmdir(tmpdir);
	certgen_free(&ec_cert);
	return 0;
}

/* ---- frames ------------------------------------------------------------ */

static void
test_request_round_trip(void **state)
{
	uint8_t hash[48], frame[TK_SIGN_MAX_LEN];
	struct tls_sign_request req = { 1, TLS_SIGN_RSA_PSS, TLS_MD_SHA384,
	    hash, sizeof(hash) }, got;
	const char *why = NULL;
	size_t n;

	(void)state;
	memset(hash, 0xa5, sizeof(hash));
	n = tlskey_encode_request(&req, frame, sizeof(frame));
	assert_int_equal(n, TK_SIGN_HDR_LEN + 48);
	assert_int_equal(tlskey_parse_request(frame, n, 2, &got, &why), 0);
	assert_int_equal(got.key_index, 1);
	assert_int_equal(got.scheme, TLS_SIGN_RSA_PSS);
	assert_int_equal(got.md, TLS_MD_SHA384);
	assert_int_equal(got.hash_len, 48);
	assert_memory_equal(got.hash, hash, 48);
	/* The encoder refuses what the parser would. */
	req.hash_len = 32;
	assert_int_equal(tlskey_encode_request(&req, frame, sizeof(frame)), 0);
}

static void
test_request_malformed(void **state)
{
	static const struct {
		const char *what;
		uint8_t b[8];
		size_t len;		/* header bytes given; hash bytes added */
		size_t hash;
	} bad[] = {
		{ "empty", { 0 }, 0, 0 },
		{ "short header", { 0, 0, 1, 1 }, 4, 0 },
		{ "key index 2 of 2", { 0, 2, 1, 1, 32 }, 5, 32 },
		{ "key index 256", { 1, 0, 1, 1, 32 }, 5, 32 },
		{ "scheme 0", { 0, 0, 0, 1, 32 }, 5, 32 },
		{ "scheme 4", { 0, 0, 4, 1, 32 }, 5, 32 },
		{ "md 0", { 0, 0, 1, 0, 32 }, 5, 32 },
		{ "md 4", { 0, 0, 1, 4, 64 }, 5, 64 },
		{ "sha256 with 48 bytes", { 0, 0, 1, 1, 48 }, 5, 48 },
		{ "sha384 with 32 bytes", { 0, 0, 1, 2, 32 }, 5, 32 },
		{ "hash cut short", { 0, 0, 1, 1, 32 }, 5, 31 },
		{ "a byte too many", { 0, 0, 1, 1, 32 }, 5, 33 },
	};
	uint8_t frame[128];
	struct tls_sign_request got;
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(frame, 0x11, sizeof(frame));
		memcpy(frame, bad[i].b, bad[i].len);
		why = NULL;
		if (tlskey_parse_request(frame, bad[i].len + bad[i].hash, 2, &got,
		    &why) != -1)
			fail_msg("accepted: %s", bad[i].what);
		assert_non_null(why);
	}
	assert_int_equal(tlskey_parse_request(NULL, 0, 2, &got, &why), -1);
}

static void
test_answer_parse(void **state)
{
	const uint8_t ok[] = { TK_STATUS_OK, 1, 2, 3 };
	const uint8_t failed[] = { TK_STATUS_FAILED };
	const uint8_t failed_junk[] = { TK_STATUS_FAILED, 9 };
	const uint8_t ok_empty[] = { TK_STATUS_OK };
	const uint8_t odd[] = { 7, 1 };
	static uint8_t big[2 + TLS_SIG_MAX];
	const uint8_t *sig;
	size_t len;

	(void)state;
	assert_int_equal(tlskey_parse_answer(ok, sizeof(ok), &sig, &len), 1);
	assert_int_equal(len, 3);
	assert_ptr_equal(sig, ok + 1);
	assert_int_equal(tlskey_parse_answer(failed, 1, &sig, &len), 0);
	assert_null(sig);
	assert_int_equal(tlskey_parse_answer(failed_junk, 2, &sig, &len), -1);
	assert_int_equal(tlskey_parse_answer(ok_empty, 1, &sig, &len), -1);
	assert_int_equal(tlskey_parse_answer(odd, 2, &sig, &len), -1);
	assert_int_equal(tlskey_parse_answer(NULL, 0, &sig, &len), -1);
	assert_int_equal(tlskey_parse_answer(big, sizeof(big), &sig, &len), -1);
}

/* ---- keys -------------------------------------------------------------- */

static void
expect_load_error(const struct tlskey_file *f, const char *words)
{
	char err[512] = "";
	struct tlskey_keys *k = tlskey_load(f, 1, err, sizeof(err));

	if (k != NULL)
		fail_msg("loaded; wanted \"%s\"", words);
	if (strstr(err, words) == NULL)
		fail_msg("error \"%s\" does not say \"%s\"", err, words);
}

static void
test_load_checks_keys(void **state)
{
	struct tlskey_file f;
	struct tlskey_keys *k;
	char err[512];

	(void)state;
	k = tlskey_load(files, 2, err, sizeof(err));
	if (k == NULL)
		fail_msg("%s", err);
	assert_int_equal(tlskey_count(k), 2);
	tlskey_free(k);
	/* DER is read too. */
	f = (struct tlskey_file){ "vhost der", ec_pem, ec_der, NULL, 0, NULL, 0 };
	assert_non_null(k = tlskey_load(&f, 1, err, sizeof(err)));
	tlskey_free(k);
	f = (struct tlskey_file){ "vhost mixed", ec_pem, rsa_key, NULL, 0, NULL, 0 };
	expect_load_error(&f, "does not match certificate");
	f = (struct tlskey_file){ "vhost enc", rsa_pem, enc_key, NULL, 0, NULL, 0 };
	expect_load_error(&f, "is encrypted");
	f = (struct tlskey_file){ "vhost none", ec_pem, "/nonexistent/key", NULL, 0, NULL, 0 };
	expect_load_error(&f, "cannot read private key file /nonexistent/key");
	f = (struct tlskey_file){ "vhost notkey", ec_pem, ec_pem, NULL, 0, NULL, 0 };
	chmod(ec_pem, 0600);
	expect_load_error(&f, "holds no valid private key");
	chmod(ec_pem, 0644);
	chmod(rsa_key, 0644);
	f = files[1];
	expect_load_error(&f, "accessible to other users (mode 0644)");
	chmod(rsa_key, 0600);
}

static int
verify(const char *cert_file, const struct tls_sign_request *req,
    const uint8_t *sig, size_t len)
{
	FILE *f = fopen(cert_file, "r");
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(X509_get0_pubkey(x), NULL);
	const EVP_MD *md = req->md == TLS_MD_SHA256 ? EVP_sha256() :
	    req->md == TLS_MD_SHA384 ? EVP_sha384() : EVP_sha512();
	int ok;

	fclose(f);
	ok = EVP_PKEY_verify_init(ctx) == 1 &&
	    EVP_PKEY_CTX_set_signature_md(ctx, md) == 1;
	if (ok && req->scheme == TLS_SIGN_RSA_PKCS1)
		ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1;
	if (ok && req->scheme == TLS_SIGN_RSA_PSS)
		ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) == 1;
	ok = ok && EVP_PKEY_verify(ctx, sig, len, req->hash, req->hash_len) == 1;
	EVP_PKEY_CTX_free(ctx);
	X509_free(x);
	return ok;
}

static void
test_sign_schemes(void **state)
{
	struct tlskey_keys *k;
	uint8_t hash[64], sig[TLS_SIG_MAX];
	struct tls_sign_request req;
	size_t len;
	char err[512];

	(void)state;
	memset(hash, 0x42, sizeof(hash));
	assert_non_null(k = tlskey_load(files, 2, err, sizeof(err)));
	req = (struct tls_sign_request){ 0, TLS_SIGN_ECDSA, TLS_MD_SHA256, hash, 32 };
	assert_int_equal(tlskey_sign(k, &req, sig, &len), 0);
	assert_true(verify(ec_pem, &req, sig, len));
	req = (struct tls_sign_request){ 1, TLS_SIGN_RSA_PKCS1, TLS_MD_SHA256, hash, 32 };
	assert_int_equal(tlskey_sign(k, &req, sig, &len), 0);
	assert_int_equal(len, 256);
	assert_true(verify(rsa_pem, &req, sig, len));
	req = (struct tls_sign_request){ 1, TLS_SIGN_RSA_PSS, TLS_MD_SHA384, hash, 48 };
	assert_int_equal(tlskey_sign(k, &req, sig, &len), 0);
	assert_true(verify(rsa_pem, &req, sig, len));
	/* A PSS signature is not a PKCS#1 v1.5 one: the check above bites. */
	req.scheme = TLS_SIGN_RSA_PKCS1;
	assert_false(verify(rsa_pem, &req, sig, len));
	/* The scheme must fit the key. */
	req = (struct tls_sign_request){ 0, TLS_SIGN_RSA_PSS, TLS_MD_SHA256, hash, 32 };
	assert_int_equal(tlskey_sign(k, &req, sig, &len), -2);
	req = (struct tls_sign_request){ 1, TLS_SIGN_ECDSA, TLS_MD_SHA256, hash, 32 };
	assert_int_equal(tlskey_sign(k, &req, sig, &len), -2);
	tlskey_free(k);
}

/* ---- the key process --------------------------------------------------- */

struct keyproc {
	pid_t pid;
	int fd[2];		/* our ends, one per "relay" */
};

/* Forks a key process serving two relays' sockets. */
static void
keyproc_start(struct keyproc *kp)
{
	int sv[2][2], i;

	for (i = 0; i < 2; i++)
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
		    0, sv[i]), 0);
	kp->pid = fork();
	assert_true(kp->pid >= 0);
	if (kp->pid == 0) {
		int ends[2] = { sv[0][1], sv[1][1] };
		char err[512];
		struct tlskey_keys *k;

		close(sv[0][0]);
		close(sv[1][0]);
		if ((k = tlskey_load(files, 2, err, sizeof(err))) == NULL)
			_exit(3);
		tlskey_serve(k, -1, ends, 2);
		tlskey_free(k);
		_exit(0);
	}
	for (i = 0; i < 2; i++) {
		close(sv[i][1]);
		kp->fd[i] = sv[i][0];
	}
}

static int
keyproc_stop(struct keyproc *kp)
{
	int status = 0;

	if (kp->fd[0] >= 0)
		close(kp->fd[0]);
	if (kp->fd[1] >= 0)
		close(kp->fd[1]);
	waitpid(kp->pid, &status, 0);
	return status;
}

/* Reads one frame from a blocking socket: 1, 0 at EOF, -1 on error. */
static int
read_frame(int fd, struct kg_ipc_reader *rd, struct kg_ipc_frame *f)
{
	int rc;

	for (;;) {
		if ((rc = kg_ipc_next(rd, f)) != 0)
			return rc == 1 ? 1 : -1;
		rc = kg_ipc_read(rd, fd);
		if (rc == KG_ERR_CLOSED)
			return 0;
		if (rc < 0 && rc != KG_ERR_AGAIN)
			return -1;
	}
}

/* The signer a relay would be: one request at a time, blocking. */
struct signer {
	int fd;
	uint32_t id;
	unsigned asked;
	struct kg_ipc_reader rd;
};

static int
sign_start(void *arg, struct tls_conn *c, const struct tls_sign_request *req)
{
	struct signer *s = arg;
	uint8_t frame[TK_SIGN_MAX_LEN];
	size_t n = tlskey_encode_request(req, frame, sizeof(frame));

	(void)c;
	s->asked++;
	if (n == 0 || kg_ipc_send(s->fd, TK_MSG_SIGN, ++s->id, frame, n) != KG_OK)
		return -1;
	return 0;
}

/* A signer that answers inside the call (tls_conn_signed() before it
 * returns): the handshake goes on without a TLS_WANT_SIGN. */
static int
sign_at_once(void *arg, struct tls_conn *c, const struct tls_sign_request *req)
{
	struct signer *s = arg;
	struct kg_ipc_frame f;
	const uint8_t *sig;
	size_t len;

	if (sign_start(arg, c, req) != 0 || read_frame(s->fd, &s->rd, &f) != 1 ||
	    tlskey_parse_answer(f.payload, f.len, &sig, &len) != 1)
		return -1;
	return tls_conn_signed(c, sig, len, NULL);
}

/* The answer to the last request, handed to the connection. */
static void
sign_finish(struct signer *s, struct tls_conn *c)
{
	struct kg_ipc_frame f;
	const uint8_t *sig;
	size_t len;
	int rc = read_frame(s->fd, &s->rd, &f);

	if (rc != 1) {
		tls_conn_signed(c, NULL, 0, "the TLS key process has gone");
		return;
	}
	assert_int_equal(f.type, TK_MSG_SIG);
	assert_int_equal(f.id, s->id);
	rc = tlskey_parse_answer(f.payload, f.len, &sig, &len);
	assert_int_not_equal(rc, -1);
	assert_int_equal(tls_conn_signed(c, rc == 1 ? sig : NULL, len,
	    "the TLS key process could not sign"), 0);
}

struct client {
	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	int fd;
};

static int
cli_send(void *ctx, const unsigned char *b, size_t n)
{
	ssize_t r = send(*(int *)ctx, b, n, MSG_NOSIGNAL);

	if (r >= 0)
		return (int)r;
	return errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_WRITE : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int
cli_recv(void *ctx, unsigned char *b, size_t n)
{
	ssize_t r = recv(*(int *)ctx, b, n, 0);

	if (r >= 0)
		return (int)r;
	return errno == EAGAIN ? MBEDTLS_ERR_SSL_WANT_READ : MBEDTLS_ERR_NET_RECV_FAILED;
}

static void
client_init(struct client *cl, int fd, const char *sni,
    mbedtls_ssl_protocol_version max)
{
	memset(cl, 0, sizeof(*cl));
	cl->fd = fd;
	mbedtls_ssl_config_init(&cl->conf);
	mbedtls_ssl_init(&cl->ssl);
	mbedtls_entropy_init(&cl->entropy);
	mbedtls_ctr_drbg_init(&cl->drbg);
	assert_int_equal(mbedtls_ctr_drbg_seed(&cl->drbg, mbedtls_entropy_func,
	    &cl->entropy, NULL, 0), 0);
	assert_int_equal(mbedtls_ssl_config_defaults(&cl->conf,
	    MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
	    MBEDTLS_SSL_PRESET_DEFAULT), 0);
	mbedtls_ssl_conf_rng(&cl->conf, mbedtls_ctr_drbg_random, &cl->drbg);
	/* The chain is not what is tested; the handshake's signature is, and
	 * the client checks it against the certificate whatever this says. */
	mbedtls_ssl_conf_authmode(&cl->conf, MBEDTLS_SSL_VERIFY_NONE);
	mbedtls_ssl_conf_min_tls_version(&cl->conf, MBEDTLS_SSL_VERSION_TLS1_2);
	mbedtls_ssl_conf_max_tls_version(&cl->conf, max);
	assert_int_equal(mbedtls_ssl_setup(&cl->ssl, &cl->conf), 0);
	assert_int_equal(mbedtls_ssl_set_hostname(&cl->ssl, sni), 0);
	mbedtls_ssl_set_bio(&cl->ssl, &cl->fd, cli_send, cli_recv, NULL);
}

static void
client_free(struct client *cl)
{
	mbedtls_ssl_free(&cl->ssl);
	mbedtls_ssl_config_free(&cl->conf);
	mbedtls_ctr_drbg_free(&cl->drbg);
	mbedtls_entropy_free(&cl->entropy);
}

struct outcome {
	int srv_rc;		/* TLS_OK or TLS_ERR */
	int cli_ret;		/* mbedtls_ssl_handshake()'s last return */
	int version;		/* the client's negotiated version */
	unsigned asked;		/* signatures asked of the key process */
	char srv_err[256];
};

/* One handshake, the server's signatures through the key process on fd. */
static void
handshake_with(int keyfd, const char *sni, mbedtls_ssl_protocol_version max,
    tls_sign_fn fn, struct outcome *o)
{
	struct tls_server_config cfg = { .vhosts = vhosts, .nvhosts = 2,
	    .remote_keys = true, .no_session_tickets = true };
	struct signer s = { .fd = keyfd };
	struct tls_server *srv;
	struct tls_conn *tc;
	struct client cl;
	char err[256];
	int sv[2], round, srv_rc = TLS_WANT_READ, cli_ret = 1;
	bool srv_done = false, cli_done = false;

	memset(o, 0, sizeof(*o));
	kg_ipc_reader_init(&s.rd);
	srv = tls_server_new(&cfg, err, sizeof(err));
	if (srv == NULL)
		fail_msg("tls_server_new: %s", err);
	tls_server_set_signer(srv, fn, &s);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_non_null(tc = tls_conn_new_server(srv, sv[0]));
	client_init(&cl, sv[1], sni, max);
	for (round = 0; round < 1000 && !(srv_done && cli_done); round++) {
		struct pollfd p[2] = { { sv[0], POLLIN, 0 }, { sv[1], POLLIN, 0 } };

		if (!srv_done) {
			srv_rc = tls_handshake(tc);
			if (srv_rc == TLS_WANT_SIGN) {
				if (fn != sign_start)
					fail_msg("TLS_WANT_SIGN from a signer that "
					    "answered at once");
				sign_finish(&s, tc);
				continue;
			}
			if (srv_rc == TLS_OK || srv_rc == TLS_ERR ||
			    srv_rc == TLS_CLOSED) {
				srv_done = true;
				if (srv_rc != TLS_OK)
					shutdown(sv[0], SHUT_WR);
			}
		}
		if (!cli_done) {
			cli_ret = mbedtls_ssl_handshake(&cl.ssl);
			if (cli_ret != MBEDTLS_ERR_SSL_WANT_READ &&
			    cli_ret != MBEDTLS_ERR_SSL_WANT_WRITE) {
				cli_done = true;
				if (cli_ret != 0)
					shutdown(sv[1], SHUT_WR);
			}
		}
		if (!(srv_done && cli_done))
			poll(p, 2, 100);
	}
	assert_true(srv_done && cli_done);
	o->srv_rc = srv_rc;
	o->cli_ret = cli_ret;
	o->version = cli_ret == 0 ? mbedtls_ssl_get_version_number(&cl.ssl) : 0;
	o->asked = s.asked;
	snprintf(o->srv_err, sizeof(o->srv_err), "%s", tls_conn_error(tc));
	client_free(&cl);
	tls_conn_free(tc);
	tls_server_unref(srv);
	close(sv[0]);
	close(sv[1]);
	kg_ipc_reader_free(&s.rd);
}

static void
handshake(int keyfd, const char *sni, mbedtls_ssl_protocol_version max,
    struct outcome *o)
{
	handshake_with(keyfd, sni, max, sign_start, o);
}

static void
expect_handshake(const char *sni, mbedtls_ssl_protocol_version max)
{
	struct keyproc kp;
	struct outcome o;

	keyproc_start(&kp);
	handshake(kp.fd[0], sni, max, &o);
	if (o.srv_rc != TLS_OK || o.cli_ret != 0)
		fail_msg("%s: server %d (%s), client -0x%04x", sni, o.srv_rc,
		    o.srv_err, (unsigned)-o.cli_ret);
	assert_int_equal(o.version, (int)max);
	assert_int_equal(o.asked, 1);
	assert_int_equal(keyproc_stop(&kp), 0);
}

static void
test_tls12_ecdsa(void **state)
{
	(void)state;
	expect_handshake(EC_NAME, MBEDTLS_SSL_VERSION_TLS1_2);
}

static void
test_tls13_ecdsa(void **state)
{
	(void)state;
	expect_handshake(EC_NAME, MBEDTLS_SSL_VERSION_TLS1_3);
}

static void
test_tls12_rsa(void **state)
{
	(void)state;
	expect_handshake(RSA_NAME, MBEDTLS_SSL_VERSION_TLS1_2);
}

static void
test_tls13_rsa_pss(void **state)
{
	(void)state;
	expect_handshake(RSA_NAME, MBEDTLS_SSL_VERSION_TLS1_3);
}

static void
test_signer_may_answer_at_once(void **state)
{
	mbedtls_ssl_protocol_version v[2] = { MBEDTLS_SSL_VERSION_TLS1_2,
	    MBEDTLS_SSL_VERSION_TLS1_3 };
	struct keyproc kp;
	struct outcome o;
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		keyproc_start(&kp);
		handshake_with(kp.fd[0], RSA_NAME, v[i], sign_at_once, &o);
		if (o.srv_rc != TLS_OK || o.cli_ret != 0)
			fail_msg("server %d (%s), client -0x%04x", o.srv_rc,
			    o.srv_err, (unsigned)-o.cli_ret);
		assert_int_equal(o.asked, 1);
		assert_int_equal(keyproc_stop(&kp), 0);
	}
}

/* The key process's socket is closed before the request: the handshake
 * fails at once; nothing signs in its place (no key to fall back on). */
static void
test_key_process_closed_fails_cleanly(void **state)
{
	struct outcome o;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);	/* the "key process" is gone before it starts */
	handshake(sv[0], EC_NAME, MBEDTLS_SSL_VERSION_TLS1_3, &o);
	close(sv[0]);
	assert_int_equal(o.srv_rc, TLS_ERR);
	assert_int_not_equal(o.cli_ret, 0);
	assert_non_null(strstr(o.srv_err, "TLS key process"));
}

/* The key process dies: the handshake waiting for it fails at once, the
 * client gets an alert (not silence), the server says why. */
static void
test_key_process_gone_fails_cleanly(void **state)
{
	struct keyproc kp;
	struct outcome o;
	mbedtls_ssl_protocol_version v[2] = { MBEDTLS_SSL_VERSION_TLS1_2,
	    MBEDTLS_SSL_VERSION_TLS1_3 };
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		/* A key process that takes the request and dies of it. */
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, kp.fd), 0);
		if ((kp.pid = fork()) == 0) {
			char b[64];

			close(kp.fd[0]);
			_exit(read(kp.fd[1], b, sizeof(b)) > 0 ? 0 : 1);
		}
		close(kp.fd[1]);
		handshake(kp.fd[0], EC_NAME, v[i], &o);
		waitpid(kp.pid, NULL, 0);
		close(kp.fd[0]);
		assert_int_equal(o.asked, 1);
		assert_int_equal(o.srv_rc, TLS_ERR);
		assert_int_equal(o.cli_ret, MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE);
		if (strstr(o.srv_err, "TLS key process") == NULL)
			fail_msg("server error: %s", o.srv_err);
	}
}

/* Sends one raw frame on fd; then: the answer's type, 0 if the key
 * process closed the socket. */
static int
send_raw(int fd, uint16_t type, const void *p, size_t n)
{
	struct kg_ipc_reader rd;
	struct kg_ipc_frame f;
	int rc;

	kg_ipc_reader_init(&rd);
	assert_int_equal(kg_ipc_send(fd, type, 9, p, n), KG_OK);
	rc = read_frame(fd, &rd, &f);
	if (rc == 1)
		rc = f.type;
	kg_ipc_reader_free(&rd);
	return rc;
}

static void
test_malformed_frame_drops_that_relay_only(void **state)
{
	static const uint8_t bad_index[] = { 0, 5, 1, 1, 32, [5 + 31] = 0 };
	static const uint8_t bad_len[] = { 0, 0, 1, 1, 32, 1, 2, 3 };
	static const uint8_t rsa_as_ecdsa[] = { 0, 1, 1, 1, 32, [5 + 31] = 0 };
	uint8_t good[TK_SIGN_MAX_LEN], hash[32] = { 1 };
	struct tls_sign_request req = { 0, TLS_SIGN_ECDSA, TLS_MD_SHA256, hash, 32 };
	const struct { const void *p; size_t n; uint16_t type; } bad[] = {
		{ bad_index, sizeof(bad_index), TK_MSG_SIGN },
		{ bad_len, sizeof(bad_len), TK_MSG_SIGN },
		{ rsa_as_ecdsa, sizeof(rsa_as_ecdsa), TK_MSG_SIGN },
		{ hash, 32, 77 },
	};
	size_t n = tlskey_encode_request(&req, good, sizeof(good)), i;
	struct keyproc kp;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		keyproc_start(&kp);
		assert_int_equal(send_raw(kp.fd[0], TK_MSG_SIGN, good, n), TK_MSG_SIG);
		/* The bad frame: no answer, the socket closed. */
		assert_int_equal(send_raw(kp.fd[0], bad[i].type, bad[i].p, bad[i].n), 0);
		/* The other relay is served on. */
		assert_int_equal(send_raw(kp.fd[1], TK_MSG_SIGN, good, n), TK_MSG_SIG);
		assert_int_equal(keyproc_stop(&kp), 0);
	}
}

/* A raw IPC header (ipc.h's layout, host order) with the given fields. */
static void
put_header(uint8_t *out, uint32_t len, uint16_t type, uint16_t flags, uint32_t id)
{
	struct kg_ipc_hdr h = { len, type, flags, id };

	memcpy(out, &h, sizeof(h));
}

/* Writes all of n bytes; -1 once the peer has gone (EPIPE, ECONNRESET). */
static int
write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = send(fd, p, n, MSG_NOSIGNAL)) < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * What a relay taken over can do at the frame layer, short of a bad
 * payload: hold half a frame (the key process must serve the others
 * meanwhile, then finish it), set reserved header flags, announce more
 * than the protocol's maximum, or ask and ask without reading the answers.
 * Each of the last three drops that relay only.
 */
static void
test_a_relay_at_the_frame_layer_cannot_wedge_the_key_process(void **state)
{
	uint8_t good[TK_SIGN_MAX_LEN], hash[32] = { 7 }, hdr[KG_IPC_HDR_LEN];
	uint8_t flood[64 * (KG_IPC_HDR_LEN + TK_SIGN_MAX_LEN)];
	struct tls_sign_request req = { 0, TLS_SIGN_ECDSA, TLS_MD_SHA256, hash, 32 };
	size_t n = tlskey_encode_request(&req, good, sizeof(good)), i, fl;
	struct kg_ipc_reader rd;
	struct kg_ipc_frame f;
	struct keyproc kp;
	char b;

	(void)state;
	/* Half a frame, held: the other relay is answered; then the rest. */
	keyproc_start(&kp);
	put_header(hdr, (uint32_t)n, TK_MSG_SIGN, 0, 41);
	assert_int_equal(write_all(kp.fd[0], hdr, sizeof(hdr)), 0);
	assert_int_equal(write_all(kp.fd[0], good, 3), 0);
	assert_int_equal(send_raw(kp.fd[1], TK_MSG_SIGN, good, n), TK_MSG_SIG);
	assert_int_equal(write_all(kp.fd[0], good + 3, n - 3), 0);
	kg_ipc_reader_init(&rd);
	assert_int_equal(read_frame(kp.fd[0], &rd, &f), 1);
	assert_int_equal(f.type, TK_MSG_SIG);
	assert_int_equal(f.id, 41);
	kg_ipc_reader_free(&rd);
	assert_int_equal(keyproc_stop(&kp), 0);

	/* Reserved flags; a length over the maximum: closed at once. */
	for (i = 0; i < 2; i++) {
		keyproc_start(&kp);
		if (i == 0)
			put_header(hdr, (uint32_t)n, TK_MSG_SIGN, 1, 1);
		else
			put_header(hdr, KG_IPC_MAX_PAYLOAD + 1, TK_MSG_SIGN, 0, 1);
		assert_int_equal(write_all(kp.fd[0], hdr, sizeof(hdr)), 0);
		assert_int_equal(read(kp.fd[0], &b, 1), 0);
		assert_int_equal(send_raw(kp.fd[1], TK_MSG_SIGN, good, n), TK_MSG_SIG);
		assert_int_equal(keyproc_stop(&kp), 0);
	}

	/* Requests without end, answers never read: dropped when its queue
	 * is full, and the other relay is served all along. */
	keyproc_start(&kp);
	for (fl = 0; fl + KG_IPC_HDR_LEN + n <= sizeof(flood); fl += KG_IPC_HDR_LEN + n) {
		put_header(flood + fl, (uint32_t)n, TK_MSG_SIGN, 0, 5);
		memcpy(flood + fl + KG_IPC_HDR_LEN, good, n);
	}
	for (i = 0; write_all(kp.fd[0], flood, fl) == 0; i++)
		if (i % 64 == 0)
			assert_int_equal(send_raw(kp.fd[1], TK_MSG_SIGN, good, n),
			    TK_MSG_SIG);
	assert_int_equal(send_raw(kp.fd[1], TK_MSG_SIGN, good, n), TK_MSG_SIG);
	assert_int_equal(keyproc_stop(&kp), 0);
}

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	uint8_t *b = calloc(1, 65536);

	assert_non_null(f);
	assert_non_null(b);
	*len = fread(b, 1, 65536, f);
	fclose(f);
	return b;
}

/* A key from the sealed store: its PEM and chain in memory, no file; the
 * chain is kept for the parent (public), a key not the chain's refused. */
static void
test_stored_key_and_chain_load_from_memory(void **state)
{
	struct tlskey_file f = { .label = "vhost stored" };
	struct tlskey_keys *k;
	const uint8_t *chain;
	uint8_t *key, *pem, *other;
	size_t klen, plen, olen, clen = 0;
	char err[512];

	(void)state;
	key = slurp(ec_key, &klen);
	pem = slurp(ec_pem, &plen);
	other = slurp(rsa_key, &olen);
	f.key_pem = key;
	f.key_pem_len = klen;
	f.chain_pem = pem;
	f.chain_pem_len = plen;
	assert_non_null(k = tlskey_load(&f, 1, err, sizeof(err)));
	assert_non_null(chain = tlskey_chain(k, 0, &clen));
	assert_int_equal(clen, plen);
	assert_memory_equal(chain, pem, plen);
	tlskey_free(k);
	f.key_pem = other;
	f.key_pem_len = olen;
	assert_null(tlskey_load(&f, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "does not match its certificate"));
	assert_null(strstr(err, "PRIVATE"));
	free(key);
	free(pem);
	free(other);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_round_trip),
		cmocka_unit_test(test_request_malformed),
		cmocka_unit_test(test_answer_parse),
		cmocka_unit_test(test_load_checks_keys),
		cmocka_unit_test(test_stored_key_and_chain_load_from_memory),
		cmocka_unit_test(test_sign_schemes),
		cmocka_unit_test(test_tls12_ecdsa),
		cmocka_unit_test(test_tls13_ecdsa),
		cmocka_unit_test(test_tls12_rsa),
		cmocka_unit_test(test_tls13_rsa_pss),
		cmocka_unit_test(test_signer_may_answer_at_once),
		cmocka_unit_test(test_key_process_closed_fails_cleanly),
		cmocka_unit_test(test_key_process_gone_fails_cleanly),
		cmocka_unit_test(test_malformed_frame_drops_that_relay_only),
		cmocka_unit_test(test_a_relay_at_the_frame_layer_cannot_wedge_the_key_process),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
