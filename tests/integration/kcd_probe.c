/*
 * kcd_probe: drive services/kerbgated/kcd.c against the lab's KDC.
 *
 *   kcd_probe --keytab ASA.keytab --principal EXCHASA$@REALM
 *             --ccache CLIENT_CCACHE --evidence-spn http/mail.corp.contoso.com
 *             --spn http/cas1.corp.contoso.com [--allow-pt] [--not-forwardable]
 *             [--user PRINCIPAL] [--count N] [--kdc HOST]...
 *             [--http ADDRESS PORT HOST PATH]
 *
 * The evidence is what a client sends: the ticket for --evidence-spn in
 * the client's ccache (kinit + kgetcred there), DER as on the wire, with
 * its forwardable flag; its client is the user unless --user says
 * otherwise.  --count N submits N requests at once (they must coalesce
 * into one KDC job), then N more (cache hits).  Prints:
 *
 *   status: ok|<status name>
 *   reason: ...
 *   client: alice@CORP.CONTOSO.COM
 *   protocol-transition: yes|no
 *   token: <base64 GSS krb5 AP-REQ>
 *   stats: requests=.. cache_hits=.. coalesced=.. jobs=.. as=.. s4u2self=.. s4u2proxy=..
 *
 * With --http it also sends the token itself (mutual authentication asked)
 * and prints "http: <status>", "mutual: ok|missing|failed (...)" and the body.
 * Exit status: 0 if the ticket was obtained, 1 if refused, 2 on usage errors.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <krb5.h>
#include <mbedtls/base64.h>

#include "kcd.h"

struct evidence {
	char user[512];
	uint8_t *ticket;
	size_t len;
	bool forwardable;
};

static void
usage(void)
{
	fprintf(stderr, "usage: kcd_probe --keytab F --principal P --ccache C "
	    "--evidence-spn S --spn S [--allow-pt] [--not-forwardable] [--user U] "
	    "[--count N] [--kdc H]... [--http ADDR PORT HOST PATH]\n");
	exit(2);
}

/* The ticket for spn in the client's ccache, exactly as the client sends it. */
static int
read_evidence(const char *ccname, const char *spn, struct evidence *ev)
{
	krb5_context ctx;
	krb5_ccache cc;
	krb5_cc_cursor cur;
	krb5_creds c;
	char server[512];
	int found = -1;

	if (krb5_init_context(&ctx) != 0)
		return -1;
	if (krb5_cc_resolve(ctx, ccname, &cc) != 0 ||
	    krb5_cc_start_seq_get(ctx, cc, &cur) != 0) {
		fprintf(stderr, "kcd_probe: cannot read ccache %s\n", ccname);
		krb5_free_context(ctx);
		return -1;
	}
	while (found != 0 && krb5_cc_next_cred(ctx, cc, &cur, &c) == 0) {
		if (krb5_unparse_name_fixed(ctx, c.server, server, sizeof(server)) == 0 &&
		    strncasecmp(server, spn, strlen(spn)) == 0 &&
		    (server[strlen(spn)] == '\0' || server[strlen(spn)] == '@')) {
			krb5_unparse_name_fixed(ctx, c.client, ev->user, sizeof(ev->user));
			ev->forwardable = c.flags.b.forwardable;
			ev->len = c.ticket.length;
			if ((ev->ticket = malloc(ev->len)) != NULL) {
				memcpy(ev->ticket, c.ticket.data, ev->len);
				found = 0;
			}
		}
		krb5_free_cred_contents(ctx, &c);
	}
	krb5_cc_end_seq_get(ctx, cc, &cur);
	krb5_cc_close(ctx, cc);
	krb5_free_context(ctx);
	if (found != 0)
		fprintf(stderr, "kcd_probe: no ticket for %s in %s\n", spn, ccname);
	return found;
}

static void
print_token(const uint8_t *tok, size_t len, const char *label)
{
	static unsigned char b64[131072];
	size_t blen;

	if (mbedtls_base64_encode(b64, sizeof(b64), &blen, tok, len) == 0)
		printf("%s: %s\n", label, b64);
}

/* One GET with the token, mutual authentication checked with kcd. */
static int
http_check(struct kcd *k, const struct kcd_ticket *t, char **http)
{
	static char resp[262144], req[140000];
	static unsigned char b64[131072], raw[65536];
	struct kcd_apctx *ac = NULL;
	struct sockaddr_in sa;
	uint8_t *tok = NULL;
	size_t tlen, blen, len = 0;
	char err[512], *p, *e;
	ssize_t n;
	int fd, status = 0;

	if (kcd_make_ap_req(k, t, NULL, 0, true, &tok, &tlen, &ac, err, sizeof(err)) != 0) {
		printf("http: no token (%s)\n", err);
		return -1;
	}
	mbedtls_base64_encode(b64, sizeof(b64), &blen, tok, tlen);
	free(tok);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: "
	    "Negotiate %s\r\nConnection: close\r\n\r\n", http[3], http[2], b64);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(http[1]));
	if (inet_pton(AF_INET, http[0], &sa.sin_addr) != 1 ||
	    (fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		printf("http: cannot connect\n");
		kcd_apctx_free(ac);
		return -1;
	}
	while (len < sizeof(resp) - 1 && (n = read(fd, resp + len, sizeof(resp) - 1 - len)) > 0)
		len += (size_t)n;
	resp[len] = '\0';
	close(fd);
	sscanf(resp, "HTTP/1.%*d %d", &status);
	printf("http: %d\n", status);
	p = strcasestr(resp, "\r\nWWW-Authenticate: Negotiate ");
	if (p == NULL) {
		printf("mutual: missing\n");
	} else {
		p += strlen("\r\nWWW-Authenticate: Negotiate ");
		e = strstr(p, "\r\n");
		if (e == NULL || mbedtls_base64_decode(raw, sizeof(raw), &blen,
		    (unsigned char *)p, (size_t)(e - p)) != 0)
			printf("mutual: failed (bad base64)\n");
		else if (kcd_verify_ap_rep(ac, raw, blen, err, sizeof(err)) != 0)
			printf("mutual: failed (%s)\n", err);
		else
			printf("mutual: ok\n");
		/* A forged answer must not verify: flip a byte of a copy. */
		if (e != NULL && blen > 20) {
			struct kcd_apctx *ac2 = NULL;

			if (kcd_make_ap_req(k, t, NULL, 0, true, &tok, &tlen, &ac2, err,
			    sizeof(err)) == 0) {
				free(tok);
				raw[blen - 5] ^= 0x40;
				printf("forged-ap-rep: %s\n", kcd_verify_ap_rep(ac2, raw, blen,
				    err, sizeof(err)) == 0 ? "accepted" : "refused");
				kcd_apctx_free(ac2);
			}
		}
	}
	if ((p = strstr(resp, "\r\n\r\n")) != NULL)
		fputs(p + 4, stdout);
	kcd_apctx_free(ac);
	return status == 200 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "keytab", required_argument, NULL, 'k' },
		{ "principal", required_argument, NULL, 'p' },
		{ "ccache", required_argument, NULL, 'c' },
		{ "evidence-spn", required_argument, NULL, 'e' },
		{ "spn", required_argument, NULL, 's' },
		{ "user", required_argument, NULL, 'u' },
		{ "allow-pt", no_argument, NULL, 'a' },
		{ "not-forwardable", no_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'n' },
		{ "kdc", required_argument, NULL, 'K' },
		{ "http", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *keytab = NULL, *principal = NULL, *ccache = NULL, *espn = NULL,
	    *spn = NULL, *user = NULL, *kdcs[8];
	struct kcd_config cfg;
	struct kcd_result r, *rs;
	struct kcd_request req;
	struct kcd_stats st;
	struct evidence ev;
	struct kcd *k;
	struct pollfd pfd;
	bool allow_pt = false, force_nonfwd = false, want_http = false;
	char err[512], **http = NULL;
	uint8_t *tok = NULL;
	size_t tlen, nkdcs = 0;
	int c, count = 1, i, got, rc = 1;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k': keytab = optarg; break;
		case 'p': principal = optarg; break;
		case 'c': ccache = optarg; break;
		case 'e': espn = optarg; break;
		case 's': spn = optarg; break;
		case 'u': user = optarg; break;
		case 'a': allow_pt = true; break;
		case 'f': force_nonfwd = true; break;
		case 'n': count = atoi(optarg); break;
		case 'K': if (nkdcs < 8) kdcs[nkdcs++] = optarg; break;
		case 'h': want_http = true; break;
		default: usage();
		}
	}
	if (want_http) {
		if (argc - optind < 4)
			usage();
		http = argv + optind;
	}
	if (keytab == NULL || principal == NULL || ccache == NULL || espn == NULL ||
	    spn == NULL || count < 1 || count > 1000)
		usage();
	memset(&ev, 0, sizeof(ev));
	if (read_evidence(ccache, espn, &ev) != 0)
		return 2;
	if (force_nonfwd)
		ev.forwardable = false;
	{
		Ticket t;
		size_t sz;
		int etype = 0;

		if (decode_Ticket(ev.ticket, ev.len, &t, &sz) == 0) {
			etype = t.enc_part.etype;
			free_Ticket(&t);
		}
		printf("evidence: %s for %s, %zu bytes, %sforwardable, enctype %d\n", ev.user,
		    espn, ev.len, ev.forwardable ? "" : "not ", etype);
	}

	memset(&cfg, 0, sizeof(cfg));
	cfg.principal = principal;
	cfg.keytab_name = keytab;
	cfg.kdcs = nkdcs ? kdcs : NULL;
	cfg.nkdcs = nkdcs;
	if ((k = kcd_new(&cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "kcd_probe: %s\n", err);
		return 2;
	}

	/* N at once: one KDC job, N answers. */
	memset(&req, 0, sizeof(req));
	req.user = user != NULL ? user : ev.user;
	req.evidence = ev.ticket;
	req.evidence_len = ev.len;
	req.forwardable = ev.forwardable;
	req.spn = spn;
	req.allow_protocol_transition = allow_pt;
	if ((rs = calloc((size_t)count, sizeof(*rs))) == NULL)
		return 2;
	got = 0;
	for (i = 0; i < count; i++)
		if (kcd_submit(k, &req, (uint64_t)i + 1, &rs[i]) != KCD_PENDING)
			got++;
	pfd.fd = kcd_fd(k);
	pfd.events = POLLIN;
	while (got < count && poll(&pfd, 1, 30000) > 0)
		while (kcd_next(k, &r) == 1) {
			rs[r.cookie - 1] = r;
			got++;
		}
	if (got < count) {
		fprintf(stderr, "kcd_probe: answers missing\n");
		return 2;
	}
	r = rs[0];
	printf("status: %s\n", kcd_status_name(r.status));
	printf("reason: %s\n", r.reason);
	for (i = 1; i < count; i++)
		if (rs[i].status != r.status)
			printf("mismatch: answer %d is %s\n", i + 1, kcd_status_name(rs[i].status));
	if (r.status == KCD_OK) {
		printf("client: %s\n", kcd_ticket_client(r.ticket));
		printf("server: %s\n", kcd_ticket_server(r.ticket));
		printf("endtime: %ld\n", (long)r.endtime);
		printf("protocol-transition: %s\n", r.protocol_transition ? "yes" : "no");
		if (kcd_make_ap_req(k, r.ticket, NULL, 0, false, &tok, &tlen, NULL, err,
		    sizeof(err)) != 0) {
			printf("token-error: %s\n", err);
		} else {
			print_token(tok, tlen, "token");
			free(tok);
		}
		rc = 0;
		/* N more, one at a time: all from the cache. */
		for (i = 1; i < count; i++) {
			struct kcd_result r2;

			kcd_get(k, req.user, ev.ticket, ev.len, ev.forwardable, spn, allow_pt, &r2);
			if (r2.status != KCD_OK || !r2.cached)
				printf("mismatch: repeat %d is %s%s\n", i, kcd_status_name(r2.status),
				    r2.cached ? "" : " (not cached)");
			kcd_result_clear(&r2);
		}
		if (want_http && http_check(k, r.ticket, http) != 0)
			rc = 1;
	}
	for (i = 0; i < count; i++)
		kcd_result_clear(&rs[i]);
	free(rs);
	kcd_stats(k, &st);
	printf("stats: requests=%llu cache_hits=%llu coalesced=%llu jobs=%llu as=%llu "
	    "s4u2self=%llu s4u2proxy=%llu ok=%llu\n",
	    (unsigned long long)st.requests, (unsigned long long)st.cache_hits,
	    (unsigned long long)st.coalesced, (unsigned long long)st.jobs,
	    (unsigned long long)st.kdc_as, (unsigned long long)st.kdc_s4u2self,
	    (unsigned long long)st.kdc_s4u2proxy, (unsigned long long)st.ok);
	kcd_free(k);
	free(ev.ticket);
	return rc;
}
