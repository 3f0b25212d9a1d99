/*
 * hgss_get: a Heimdal GSS-API HTTP client for the integration tests.
 *
 *   hgss_get ADDRESS PORT HOST PATH [krb5|spnego]
 *
 * Sends one GET with `Authorization: Negotiate` built by Heimdal's
 * gss_init_sec_context (SPNEGO by default, as Windows sends it), then feeds
 * the server's `WWW-Authenticate: Negotiate` answer back into the same
 * context, so that mutual authentication is checked by a real initiator.
 * Prints "status: N", "mutual: ok|missing|failed", then the body.
 * Plain HTTP only; the ccache and krb5.conf come from the environment.
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

static void
die(const char *what, OM_uint32 maj, OM_uint32 min)
{
	fprintf(stderr, "hgss_get: %s failed (major %u, minor %u)\n", what,
	    (unsigned)maj, (unsigned)min);
	exit(2);
}

static size_t
read_response(int fd, char *buf, size_t max)
{
	size_t len = 0;
	ssize_t n;

	/* The server answers "Connection: close" or we stop at EOF/timeout. */
	while (len < max - 1 && (n = read(fd, buf + len, max - 1 - len)) > 0) {
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
	char req[70000], spn[300], *p, *e;
	size_t blen, rlen;
	int fd, status = 0;

	if (argc < 5) {
		fprintf(stderr, "usage: hgss_get ADDRESS PORT HOST PATH "
		    "[krb5|spnego]\n");
		return 2;
	}
	mech = (argc > 5 && strcmp(argv[5], "krb5") == 0) ?
	    GSS_KRB5_MECHANISM : GSS_SPNEGO_MECHANISM;
	snprintf(spn, sizeof(spn), "HTTP@%s", argv[3]);
	name.value = spn;
	name.length = strlen(spn);
	maj = gss_import_name(&min, &name, GSS_C_NT_HOSTBASED_SERVICE, &target);
	if (GSS_ERROR(maj))
		die("gss_import_name", maj, min);
	maj = gss_init_sec_context(&min, GSS_C_NO_CREDENTIAL, &ctx, target, mech,
	    GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG, 0,
	    GSS_C_NO_CHANNEL_BINDINGS, GSS_C_NO_BUFFER, NULL, &out, &flags, NULL);
	if (GSS_ERROR(maj))
		die("gss_init_sec_context", maj, min);
	if (mbedtls_base64_encode(b64, sizeof(b64), &blen, out.value,
	    out.length) != 0)
		die("base64", 0, 0);
	gss_release_buffer(&min, &out);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n"
	    "Authorization: Negotiate %s\r\nConnection: close\r\n\r\n",
	    argv[4], argv[3], b64);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1 ||
	    (fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		perror("hgss_get: connect/send");
		return 2;
	}
	rlen = read_response(fd, resp, sizeof(resp));
	close(fd);
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
			    GSS_C_SEQUENCE_FLAG, 0, GSS_C_NO_CHANNEL_BINDINGS, &in,
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
