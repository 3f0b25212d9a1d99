/*
 * Header handling, as the relay does it with what a client sends: the head
 * is parsed, then every header goes through the hop-by-hop test, token-list
 * matching and lookup; Host picks a virtual host, the target a route, Cookie
 * is searched for kerbgate's cookies, Authorization is decoded as Negotiate.
 * Invariants: lookups return headers of the head, matches lie inside it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "http.h"
#include "negotiate.h"
#include "sign.h"

#define MAX_HDRS 100

static struct conf_route routes[] = {
	{ .path = "/", .auth = CONF_AUTH_NEGOTIATE },
	{ .path = "/public", .auth = CONF_AUTH_NONE },
	{ .path = "/rpc/rpcproxy.dll" },
	{ .path = "/Microsoft-Server-ActiveSync" },
};
static char aliases[1][CONF_MAX_NAME] = { "webmail.corp.contoso.com" };
static struct conf_vhost vhosts[2] = {
	{ .name = "mail.corp.contoso.com", .aliases = aliases, .naliases = 1,
	  .routes = routes, .nroutes = 4 },
	{ .name = "autod.corp.contoso.com", .routes = routes, .nroutes = 1 },
};
static struct conf cfg = { .vhosts = vhosts, .nvhosts = 2 };

static int
inside(const void *p, size_t n, const uint8_t *data, size_t size)
{
	const uint8_t *b = p;

	return b >= data && b + n <= data + size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_header hdrs[MAX_HDRS];
	static const char *const tokens[] = { "close", "keep-alive", "upgrade",
	    "chunked", "Negotiate", "" };
	static uint8_t tok[NEG_MAX_TOKEN_LEN];
	struct http_head h;
	const struct http_header *x;
	const struct conf_route *rt;
	const char *val;
	size_t vlen, tlen, i, t;
	int v;

	memset(&h, 0, sizeof(h));
	if (http_parse_request((const char *)data, size, NULL, hdrs, MAX_HDRS,
	    &h) <= 0)
		return 0;
	for (i = 0; i < h.nheaders; i++) {
		x = &h.headers[i];
		(void)http_is_hop_by_hop(x->name, x->name_len, &h);
		for (t = 0; t < sizeof(tokens) / sizeof(tokens[0]); t++)
			(void)http_header_has_token(x, tokens[t]);
		if (x->name_len == 6 && strncasecmp(x->name, "Cookie", 6) == 0 &&
		    sign_cookie_find(x->value, x->value_len, SIGN_COOKIE_NAME,
		    &val, &vlen) && !inside(val, vlen, data, size))
			abort();
	}
	if ((x = http_find(&h, "Host")) != NULL) {
		if (!inside(x->value, x->value_len, data, size))
			abort();
		v = conf_vhost_find(&cfg, x->value, x->value_len);
		if (v >= 2)
			abort();
		if (v >= 0) {
			rt = conf_route_find(&cfg.vhosts[v], h.target,
			    h.target_len);
			if (rt != NULL && strlen(rt->path) > h.target_len)
				abort();
		}
	}
	if ((x = http_find(&h, "Authorization")) != NULL &&
	    neg_parse_authorization(x->value, x->value_len, tok, sizeof(tok),
	    &tlen) == NEG_OK) {
		struct neg_token nt;
		if (tlen > sizeof(tok))
			abort();
		if (neg_classify(tok, tlen, &nt) == NEG_OK &&
		    nt.krb5_token != NULL &&
		    !inside(nt.krb5_token, nt.krb5_token_len, tok, tlen))
			abort();
	}
	return 0;
}
