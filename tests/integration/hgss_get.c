/*
 * hgss_get: a Heimdal GSS-API HTTP client for the integration tests.
 *
 *   hgss_get ADDRESS PORT HOST PATH [krb5|spnego] [CA.pem]
 *
 * Sends one GET with `Authorization: Negotiate` built by Heimdal's
 * gss_init_sec_context (SPNEGO by default, as Windows sends it), then feeds
 * the server's `WWW-Authenticate: Negotiate` answer back into the same
 * context, so that mutual authentication is checked by a real initiator.
 * Prints "status: N", "mutual: ok|missing|failed", then the body.
 * With CA.pem it speaks TLS (mbedTLS, the server verified against the CA)
 * and binds the token to the server's certificate (RFC 5929
 * tls-server-end-point), as Windows does under Extended Protection.
 * HGSS_TIME_OFFSET=N moves the client's clock N seconds (skew tests).
 * HGSS_TLS=1.2 keeps TLS at 1.2 (TLS 1.3 is offered otherwise); the line
 * "tls: <version>" says which one was spoken.
 * The ccache and krb5.conf come from the environment.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <gssapi/gssapi_spnego.h>
#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <psa/crypto.h>

/* One connection, plain or TLS. */
struct conn {
	int			 fd;
	int			 tls;
	mbedtls_ssl_context	 ssl;
	mbedtls_ssl_config	 conf;
	mbedtls_x509_crt	 ca;
	mbedtls_entropy_context	 entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_net_context	 net;
};

static int
conn_write(struct conn *c, const void *p, size_t n)
{
	return c->tls ? mbedtls_ssl_write(&c->ssl, p, n) :
	    (int)write(c->fd, p, n);
}

static ssize_t
conn_read(struct conn *c, void *p, size_t n)
{
	int r;

	if (!c->tls)
		return read(c->fd, p, n);
	/* A blocking socket: WANT_READ only follows a post-handshake message
	 * (TLS 1.3 NewSessionTicket) that mbedTLS consumed; read on. */
	do
		r = mbedtls_ssl_read(&c->ssl, p, n);
	while (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE);
	return r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ? 0 : r;
}

/* TLS to host, verified against ca; the leaf's SHA-256 for the binding
 * (the lab's certificates are ECDSA with SHA-256). */
static int
conn_tls(struct conn *c, const char *host, const char *ca, uint8_t hash[32])
{
	const mbedtls_x509_crt *peer;

	c->tls = 1;
	c->net.fd = c->fd;
	mbedtls_ssl_init(&c->ssl);
	mbedtls_ssl_config_init(&c->conf);
	mbedtls_x509_crt_init(&c->ca);
	mbedtls_entropy_init(&c->entropy);
	mbedtls_ctr_drbg_init(&c->drbg);
	if (mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->entropy,
	    NULL, 0) != 0 || mbedtls_x509_crt_parse_file(&c->ca, ca) != 0 ||
	    mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT) != 0)
		return -1;
	mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
	mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
	if (getenv("HGSS_TLS") != NULL && strcmp(getenv("HGSS_TLS"), "1.2") == 0)
		mbedtls_ssl_conf_max_tls_version(&c->conf, MBEDTLS_SSL_VERSION_TLS1_2);
	if (psa_crypto_init() != PSA_SUCCESS ||	/* TLS 1.3 needs it */
	    mbedtls_ssl_setup(&c->ssl, &c->conf) != 0 ||
	    mbedtls_ssl_set_hostname(&c->ssl, host) != 0)
		return -1;
	mbedtls_ssl_set_bio(&c->ssl, &c->net, mbedtls_net_send,
	    mbedtls_net_recv, NULL);
	if (mbedtls_ssl_handshake(&c->ssl) != 0 ||
	    (peer = mbedtls_ssl_get_peer_cert(&c->ssl)) == NULL)
		return -1;
	printf("tls: %s\n", mbedtls_ssl_get_version(&c->ssl));
	return mbedtls_sha256(peer->raw.p, peer->raw.len, hash, 0);
}

static void
die(const char *what, OM_uint32 maj, OM_uint32 min)
{
	fprintf(stderr, "hgss_get: %s failed (major %u, minor %u)\n", what,
	    (unsigned)maj, (unsigned)min);
	exit(2);
}

static size_t
read_response(struct conn *c, char *buf, size_t max)
{
	size_t len = 0;
	ssize_t n;

	/* The server answers "Connection: close" or we stop at EOF/timeout. */
	while (len < max - 1 && (n = conn_read(c, buf + len, max - 1 - len)) > 0) {
		len += (size_t)n;
		buf[len] = '\0';
		char *end = strstr(buf, "\r\n\r\n");
		char *cl = strcasestr(buf, "\r\nContent-Length:");
		if (end != NULL && cl != NULL && cl < end &&
		    len >= (size_t)(end + 4 - buf) + strtoul(cl + 17, NULL, 10))
			break;
	}
	buf[len] = '\0';
	return len;
}

int
main(int argc, char **argv)
{
	static char resp[262144];
	static unsigned char b64[65536], raw[49152];
	OM_uint32 maj, min, flags;
	gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
	gss_name_t target;
	gss_buffer_desc name, out = GSS_C_EMPTY_BUFFER, in;
	gss_OID mech;
	struct sockaddr_in sa;
	struct conn c;
	struct gss_channel_bindings_struct cb;
	gss_channel_bindings_t bindings = GSS_C_NO_CHANNEL_BINDINGS;
	uint8_t app[64], hash[32];
	char req[70000], spn[300], *p, *e;
	size_t blen, rlen;
	int status = 0;

	if (argc < 5) {
		fprintf(stderr, "usage: hgss_get ADDRESS PORT HOST PATH "
		    "[krb5|spnego]\n");
		return 2;
	}
	mech = (argc > 5 && strcmp(argv[5], "krb5") == 0) ?
	    GSS_KRB5_MECHANISM : GSS_SPNEGO_MECHANISM;
	if (getenv("HGSS_TIME_OFFSET") != NULL)
		gsskrb5_set_time_offset(atoi(getenv("HGSS_TIME_OFFSET")));

	/* Connect first: a TLS server's certificate goes into the token. */
	memset(&c, 0, sizeof(c));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1 ||
	    (c.fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(c.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("hgss_get: connect");
		return 2;
	}
	if (argc > 6) {
		if (conn_tls(&c, argv[3], argv[6], hash) != 0) {
			fprintf(stderr, "hgss_get: TLS to %s failed\n", argv[3]);
			return 2;
		}
		memcpy(app, "tls-server-end-point:", 21);
		memcpy(app + 21, hash, 32);
		memset(&cb, 0, sizeof(cb));
		cb.application_data.value = app;
		cb.application_data.length = 21 + 32;
		bindings = &cb;
	}
	snprintf(spn, sizeof(spn), "HTTP@%s", argv[3]);
	name.value = spn;
	name.length = strlen(spn);
	maj = gss_import_name(&min, &name, GSS_C_NT_HOSTBASED_SERVICE, &target);
	if (GSS_ERROR(maj))
		die("gss_import_name", maj, min);
	maj = gss_init_sec_context(&min, GSS_C_NO_CREDENTIAL, &ctx, target, mech,
	    GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG, 0,
	    bindings, GSS_C_NO_BUFFER, NULL, &out, &flags, NULL);
	if (GSS_ERROR(maj))
		die("gss_init_sec_context", maj, min);
	if (mbedtls_base64_encode(b64, sizeof(b64), &blen, out.value,
	    out.length) != 0)
		die("base64", 0, 0);
	gss_release_buffer(&min, &out);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n"
	    "Authorization: Negotiate %s\r\nConnection: close\r\n\r\n",
	    argv[4], argv[3], b64);

	if (conn_write(&c, req, strlen(req)) != (int)strlen(req)) {
		perror("hgss_get: send");
		return 2;
	}
	rlen = read_response(&c, resp, sizeof(resp));
	close(c.fd);
	if (rlen < 12 || sscanf(resp, "HTTP/1.1 %d", &status) != 1) {
		fprintf(stderr, "hgss_get: no HTTP response\n");
		return 2;
	}
	printf("status: %d\n", status);

	p = strcasestr(resp, "\r\nWWW-Authenticate: Negotiate ");
	if (p == NULL) {
		printf("mutual: missing\n");
	} else {
		p += strlen("\r\nWWW-Authenticate: Negotiate ");
		e = strstr(p, "\r\n");
		if (e == NULL || mbedtls_base64_decode(raw, sizeof(raw), &blen,
		    (unsigned char *)p, (size_t)(e - p)) != 0) {
			printf("mutual: failed (bad base64)\n");
		} else {
			in.value = raw;
			in.length = blen;
			maj = gss_init_sec_context(&min, GSS_C_NO_CREDENTIAL, &ctx,
			    target, mech, GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG |
			    GSS_C_SEQUENCE_FLAG, 0, bindings, &in,
			    NULL, &out, &flags, NULL);
			gss_release_buffer(&min, &out);
			printf("mutual: %s\n", maj == GSS_S_COMPLETE ? "ok" :
			    "failed");
		}
	}
	if ((p = strstr(resp, "\r\n\r\n")) != NULL)
		fputs(p + 4, stdout);
	gss_delete_sec_context(&min, &ctx, GSS_C_NO_BUFFER);
	gss_release_name(&min, &target);
	return 0;
}
