/*
 * parsebench.c: CPU cost of the relay's per-request parsing, without the
 * network: http_parse_request() on a realistic request head and
 * neg_base64_decode() / neg_parse_authorization() on its Negotiate token.
 *
 * The head is what a browser sends on a new connection to a Kerberos
 * protected site: request line, Host, User-Agent, Accept, Accept-Language,
 * Accept-Encoding, Connection and an Authorization header holding 2056
 * base64 characters (the size of the SPNEGO tokens kgbench sends), about
 * 2.5 KB in all.  The token bytes are pseudo-random, not a real AP-REQ:
 * only decoding is timed, not classification.
 *
 *   parsebench [-n iterations] [-r rounds]
 *
 * Each figure is the best of the rounds (the least disturbed by the rest
 * of the machine), in nanoseconds per call.  Pin it for steadier figures:
 *   taskset -c 1 output/bench/parsebench
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "negotiate.h"

#define TOKEN_B64_LEN 2056
#define MAX_HDRS      100

static volatile size_t sink;

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void
die(const char *msg)
{
	fprintf(stderr, "parsebench: %s\n", msg);
	exit(1);
}

/* A base64 token of exactly TOKEN_B64_LEN characters (no padding). */
static char *
make_token(void)
{
	uint8_t raw[TOKEN_B64_LEN / 4 * 3];
	uint32_t x = 0x9e3779b9u;
	char *b64;
	size_t i, n;

	for (i = 0; i < sizeof(raw); i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		raw[i] = (uint8_t)x;
	}
	if ((b64 = malloc(TOKEN_B64_LEN + 1)) == NULL)
		die("out of memory");
	if (neg_base64_encode(raw, sizeof(raw), b64, TOKEN_B64_LEN + 1, &n) !=
	    NEG_OK || n != TOKEN_B64_LEN)
		die("cannot encode the token");
	return b64;
}

static char *
make_head(const char *b64, size_t *len)
{
	char *h;
	int n;

	n = asprintf(&h,
	    "GET /owa/?ae=Folder&t=IPF.Note HTTP/1.1\r\n"
	    "Host: mail.corp.contoso.com\r\n"
	    "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) "
	    "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
	    "Safari/537.36 Edg/124.0.0.0\r\n"
	    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,"
	    "image/avif,image/webp,image/apng,*/*;q=0.8\r\n"
	    "Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n"
	    "Accept-Encoding: gzip, deflate, br\r\n"
	    "Connection: keep-alive\r\n"
	    "Authorization: Negotiate %s\r\n"
	    "\r\n", b64);
	if (n < 0)
		die("out of memory");
	*len = (size_t)n;
	return h;
}

static void
usage(void)
{
	fprintf(stderr, "usage: parsebench [-n iterations] [-r rounds]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static uint8_t tok[NEG_MAX_TOKEN_LEN];
	struct http_header hdrs[MAX_HDRS];
	const struct http_header *auth;
	struct http_head h;
	long iters = 200000, rounds = 7, r, i;
	double t, best_parse = 1e30, best_dec = 1e30, best_auth = 1e30;
	char *b64, *head;
	size_t head_len, n;
	int c, rc;

	while ((c = getopt(argc, argv, "n:r:")) != -1) {
		switch (c) {
		case 'n': iters = atol(optarg); break;
		case 'r': rounds = atol(optarg); break;
		default: usage();
		}
	}
	if (iters <= 0 || rounds <= 0 || optind != argc)
		usage();

	b64 = make_token();
	head = make_head(b64, &head_len);

	/* Check once that the inputs are good, so that errors are not timed. */
	memset(&h, 0, sizeof(h));
	if (http_parse_request(head, head_len, NULL, hdrs, MAX_HDRS, &h) !=
	    (int)head_len)
		die("the head does not parse");
	if ((auth = http_find(&h, "Authorization")) == NULL ||
	    neg_parse_authorization(auth->value, auth->value_len, tok,
	    sizeof(tok), &n) != NEG_OK || n != TOKEN_B64_LEN / 4 * 3)
		die("the token does not decode");

	for (r = 0; r < rounds; r++) {
		t = now_ns();
		for (i = 0; i < iters; i++) {
			memset(&h, 0, sizeof(h));
			rc = http_parse_request(head, head_len, NULL, hdrs,
			    MAX_HDRS, &h);
			sink += (size_t)rc + h.nheaders;
		}
		t = (now_ns() - t) / (double)iters;
		if (t < best_parse)
			best_parse = t;

		t = now_ns();
		for (i = 0; i < iters; i++) {
			rc = neg_base64_decode(b64, TOKEN_B64_LEN, tok,
			    sizeof(tok), &n);
			sink += (size_t)rc + n + tok[i % n];
		}
		t = (now_ns() - t) / (double)iters;
		if (t < best_dec)
			best_dec = t;

		t = now_ns();
		for (i = 0; i < iters; i++) {
			rc = neg_parse_authorization(auth->value,
			    auth->value_len, tok, sizeof(tok), &n);
			sink += (size_t)rc + n + tok[i % n];
		}
		t = (now_ns() - t) / (double)iters;
		if (t < best_auth)
			best_auth = t;
	}

	printf("http_parse_request       %5zu-byte head, %u headers: "
	    "%8.1f ns  (%.2f ns/byte)\n", head_len, h.nheaders, best_parse,
	    best_parse / (double)head_len);
	printf("neg_base64_decode        %5d chars:                 "
	    "%8.1f ns  (%.2f ns/char)\n", TOKEN_B64_LEN, best_dec,
	    best_dec / TOKEN_B64_LEN);
	printf("neg_parse_authorization  %5zu-byte value:            "
	    "%8.1f ns\n", auth->value_len, best_auth);
	printf("(best of %ld rounds of %ld calls each)\n", rounds, iters);
	free(head);
	free(b64);
	return 0;
}
