/*
 * kerbgated configuration loader: JSON (docs/config.md) into struct conf.
 * Every mistake is reported with the file and the JSON path of the value.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <generated/autoconf.h>

#include "config.h"
#include "conf.h"
#include "util.h"

/* A .config from before the sandbox existed still gets one. */
#if defined(CONFIG_KERBGATED_SANDBOX_ENABLED) || !defined(CONFIG_KERBGATED_SANDBOX_ROOT)
#define SANDBOX_DEFAULT_ON	1
#else
#define SANDBOX_DEFAULT_ON	0
#endif
#ifndef CONFIG_KERBGATED_SANDBOX_ROOT
#define CONFIG_KERBGATED_SANDBOX_ROOT	"/var/empty/kerbgate"
#endif

#define TRY(x)	do { if ((x) < 0) return KG_ERR_CONFIG; } while (0)

static const char *const top_keys[] = { "user", "keyholder_user", "workers",
	"keytab", "clock_skew", "allow_rc4", "replay_cache_entries",
	"replay_cache_per_principal", "limits",
	"admin", "listeners", "vhosts", "pools", "kcd", "sandbox", "credentials",
	NULL };
static const char *const cred_keys[] = { "store", "device_key",
	"control_socket", "control_group", "retention", NULL };
static const char *const sandbox_keys[] = { "enabled", "root", "test_trigger",
	NULL };
static const char *const kcd_keys[] = { "principal", "kdcs", "kdc_timeout",
	"cache_entries", "sessions", NULL };
static const char *const limit_keys[] = { "max_header_bytes", "max_headers",
	"max_connections", "header_timeout", "idle_timeout",
	"max_connections_per_source", NULL };
static const char *const listener_keys[] = { "address", "port", "tls", NULL };
static const char *const vhost_keys[] = { "name", "aliases", "spns",
	"certificate", "key", "channel_binding", "session_cookie", "routes", NULL };
static const char *const cookie_keys[] = { "enabled", "lifetime", NULL };
static const char *const route_keys[] = { "path", "auth", "pool",
	"idle_timeout", "first_byte_timeout", NULL };
static const char *const pool_keys[] = { "name", "mode", "balance",
	"persistence", "header_secret_file", "tls", "connect_timeout",
	"first_byte_timeout", "health", "servers", "protocol_transition",
	"mutual", NULL };
static const char *const pool_tls_keys[] = { "ca", "pin_sha256", NULL };
static const char *const health_keys[] = { "path", "expect", "interval",
	"timeout", "rise", "fall", NULL };
static const char *const server_keys[] = { "name", "address", "port", "spn",
	NULL };

static const char *const cb_modes[] = { "off", "accept", "require", NULL };
static const char *const auth_modes[] = { "negotiate", "none", NULL };
static const char *const pool_modes[] = { "header", "kcd", NULL };
static const char *const balances[] = { "round-robin", "least-connections",
	NULL };
static const char *const persists[] = { "none", "source", "cookie", "user",
	NULL };

/* Copies an optional string into a fixed field, refusing one too long. */
static int
get_str(const json_t *o, const char *key, int required, char *dst,
    size_t dstlen, struct kg_cfgctx *ctx)
{
	const char *s;
	int rc = kg_cfg_string(o, key, required, &s, ctx);

	if (rc <= 0)
		return rc;
	if (strlen(s) >= dstlen)
		return kg_cfg_error(ctx, key, "longer than %zu characters",
		    dstlen - 1);
	kg_strlcpy(dst, s, dstlen);
	return 1;
}

static int
get_uint(const json_t *o, const char *key, long min, long max,
    unsigned *dst, struct kg_cfgctx *ctx)
{
	long v;
	int rc = kg_cfg_int(o, key, 0, min, max, &v, ctx);

	if (rc == 1)
		*dst = (unsigned)v;
	return rc;
}

/* A duration in seconds in the file, milliseconds in memory. */
static int
get_secs(const json_t *o, const char *key, long max, unsigned *dst_ms,
    struct kg_cfgctx *ctx)
{
	long v;
	int rc = kg_cfg_int(o, key, 0, 1, max, &v, ctx);

	if (rc == 1)
		*dst_ms = (unsigned)v * 1000;
	return rc;
}

static int
parse_addr(const char *host, long port, struct sockaddr_storage *ss,
    socklen_t *len, char *text, size_t textlen)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
		snprintf(text, textlen, "%s:%ld", host, port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		snprintf(text, textlen, "[%s]:%ld", host, port);
		return 0;
	}
	return -1;
}

static int
get_addr(const json_t *o, struct sockaddr_storage *ss, socklen_t *len,
    char *text, size_t textlen, struct kg_cfgctx *ctx)
{
	const char *host;
	long port;

	TRY(kg_cfg_string(o, "address", 1, &host, ctx));
	TRY(kg_cfg_int(o, "port", 1, 1, 65535, &port, ctx));
	if (parse_addr(host, port, ss, len, text, textlen) < 0)
		return kg_cfg_error(ctx, "address",
		    "\"%s\" is not an IPv4 or IPv6 address", host);
	return 0;
}

/* Reads an array of strings into a freshly allocated fixed-width table. */
static int
get_names(const json_t *o, const char *key, int required,
    char (**out)[CONF_MAX_NAME], size_t *n, struct kg_cfgctx *ctx)
{
	const json_t *arr;
	size_t i;
	int rc = kg_cfg_array(o, key, required, &arr, ctx);

	*out = NULL;
	*n = 0;
	if (rc <= 0)
		return rc;
	if (json_array_size(arr) == 0)
		return required ? kg_cfg_error(ctx, key, "must not be empty") : 0;
	if ((*out = calloc(json_array_size(arr), CONF_MAX_NAME)) == NULL)
		return kg_cfg_error(ctx, key, "out of memory");
	kg_cfg_push_key(ctx, key);
	for (i = 0; i < json_array_size(arr); i++) {
		kg_cfg_push_index(ctx, i);
		rc = get_str(json_array_get(arr, i), NULL, 1, (*out)[i],
		    CONF_MAX_NAME, ctx);
		kg_cfg_pop(ctx);
		if (rc < 0)
			break;
		(*n)++;
	}
	kg_cfg_pop(ctx);
	return rc < 0 ? KG_ERR_CONFIG : 1;
}

/* Calls fn for each element of an array, with the path pushed. */
static int
each(const json_t *o, const char *key, int required, size_t *count,
    void *base, size_t elemsz,
    int (*fn)(const json_t *, void *, struct conf *, struct kg_cfgctx *),
    struct conf *c, struct kg_cfgctx *ctx)
{
	const json_t *arr;
	void **basep = base;
	size_t i, n;
	int rc = kg_cfg_array(o, key, required, &arr, ctx);

	*count = 0;
	if (rc <= 0)
		return rc;
	if ((n = json_array_size(arr)) == 0)
		return required ? kg_cfg_error(ctx, key, "must not be empty") : 0;
	if ((*basep = calloc(n, elemsz)) == NULL)
		return kg_cfg_error(ctx, key, "out of memory");
	kg_cfg_push_key(ctx, key);
	for (i = 0; i < n && rc >= 0; i++) {
		kg_cfg_push_index(ctx, i);
		rc = fn(json_array_get(arr, i), (char *)*basep + i * elemsz,
		    c, ctx);
		kg_cfg_pop(ctx);
		(*count)++;	/* a half-loaded element is freed (and wiped) too */
	}
	kg_cfg_pop(ctx);
	return rc < 0 ? KG_ERR_CONFIG : 1;
}

static int
load_listener(const json_t *o, void *p, struct conf *c, struct kg_cfgctx *ctx)
{
	struct conf_listener *l = p;

	TRY(kg_cfg_check_keys(o, listener_keys, ctx));
	TRY(get_addr(o, &l->addr, &l->addrlen, l->text, sizeof(l->text), ctx));
	TRY(kg_cfg_bool(o, "tls", 0, &l->tls, ctx));
	return 0;
}

static int
pool_index(const struct conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->npools; i++)
		if (strcmp(c->pools[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int
load_route(const json_t *o, void *p, struct conf *c, struct kg_cfgctx *ctx)
{
	struct conf_route *r = p;
	const char *pool;
	int v = 0;

	TRY(kg_cfg_check_keys(o, route_keys, ctx));
	TRY(get_str(o, "path", 1, r->path, sizeof(r->path), ctx));
	if (r->path[0] != '/')
		return kg_cfg_error(ctx, "path", "must start with '/'");
	TRY(kg_cfg_enum(o, "auth", 0, auth_modes, &v, ctx));
	r->auth = (enum conf_auth)v;
	TRY(kg_cfg_string(o, "pool", 1, &pool, ctx));
	if ((r->pool = pool_index(c, pool)) < 0)
		return kg_cfg_error(ctx, "pool", "no pool is named \"%s\"", pool);
	TRY(get_secs(o, "idle_timeout", 86400, &r->idle_timeout_ms, ctx));
	TRY(get_secs(o, "first_byte_timeout", 86400,
	    &r->first_byte_timeout_ms, ctx));
	return 0;
}

/* Each header-mode pool a vhost's negotiate routes use is a grant in the
 * keyholder's answer (grant.h), which has room for so many. */
static int
check_header_pools(const struct conf_vhost *v, const struct conf *c,
    struct kg_cfgctx *ctx)
{
	size_t i, j, n = 0;

	for (i = 0; i < v->nroutes; i++) {
		const struct conf_route *r = &v->routes[i];
		if (r->auth != CONF_AUTH_NEGOTIATE ||
		    c->pools[r->pool].mode != CONF_MODE_HEADER)
			continue;
		for (j = 0; j < i; j++)
			if (v->routes[j].pool == r->pool &&
			    v->routes[j].auth == CONF_AUTH_NEGOTIATE)
				break;
		if (j == i && ++n > CONF_MAX_HEADER_POOLS)
			return kg_cfg_error(ctx, "routes", "negotiate routes "
			    "lead to more than %d header-mode pools; merge "
			    "pools or split the vhost", CONF_MAX_HEADER_POOLS);
	}
	return 0;
}

static int
load_vhost(const json_t *o, void *p, struct conf *c, struct kg_cfgctx *ctx)
{
	struct conf_vhost *v = p;
	const json_t *ck;
	int mode = CONF_CB_ACCEPT;
	long life = 3600;

	TRY(kg_cfg_check_keys(o, vhost_keys, ctx));
	TRY(get_str(o, "name", 1, v->name, sizeof(v->name), ctx));
	TRY(get_names(o, "aliases", 0, &v->aliases, &v->naliases, ctx));
	TRY(get_names(o, "spns", 1, &v->spns, &v->nspns, ctx));
	TRY(get_str(o, "certificate", 0, v->cert_file, sizeof(v->cert_file),
	    ctx));
	TRY(get_str(o, "key", 0, v->key_file, sizeof(v->key_file), ctx));
	if ((v->cert_file[0] == '\0') != (v->key_file[0] == '\0'))
		return kg_cfg_error(ctx, v->cert_file[0] ? "key" : "certificate",
		    "certificate and key go together: give both or neither");
	TRY(kg_cfg_enum(o, "channel_binding", 0, cb_modes, &mode, ctx));
	v->channel_binding = (enum conf_cb_mode)mode;
	if (kg_cfg_object(o, "session_cookie", 0, &ck, ctx) == 1) {
		kg_cfg_push_key(ctx, "session_cookie");
		if (kg_cfg_check_keys(ck, cookie_keys, ctx) < 0 ||
		    kg_cfg_bool(ck, "enabled", 1, &v->cookie, ctx) < 0 ||
		    kg_cfg_int(ck, "lifetime", 0, 60, 86400, &life, ctx) < 0) {
			kg_cfg_pop(ctx);
			return KG_ERR_CONFIG;
		}
		kg_cfg_pop(ctx);
	}
	v->cookie_lifetime_s = (unsigned)life;
	TRY(each(o, "routes", 1, &v->nroutes, &v->routes, sizeof(*v->routes),
	    load_route, c, ctx));
	return check_header_pools(v, c, ctx);
}

static int
load_server(const json_t *o, void *p, struct conf *c, struct kg_cfgctx *ctx)
{
	struct conf_server *s = p;

	TRY(kg_cfg_check_keys(o, server_keys, ctx));
	TRY(get_addr(o, &s->addr, &s->addrlen, s->text, sizeof(s->text), ctx));
	TRY(get_str(o, "name", 0, s->name, sizeof(s->name), ctx));
	TRY(get_str(o, "spn", 0, s->spn, sizeof(s->spn), ctx));
	if (s->name[0] != '\0')
		snprintf(s->text, sizeof(s->text), "%s", s->name);
	return 0;
}

/*
 * The header-mode secret: a file of 32 to 64 bytes.  Only its size is
 * checked here: the keyholder alone reads the bytes (grant.h), since
 * whatever the parent reads, every relay forked from it would hold too.
 */
static int
check_secret(struct conf_pool *pl, const char *path, struct kg_cfgctx *ctx)
{
	struct stat st;

	if (strlen(path) >= sizeof(pl->header_secret_file))
		return kg_cfg_error(ctx, "header_secret_file", "path too long");
	if (stat(path, &st) < 0 || access(path, R_OK) < 0)
		return kg_cfg_error(ctx, "header_secret_file", "%s: %m", path);
	if (!S_ISREG(st.st_mode) || st.st_size < 32 ||
	    st.st_size > KG_HEADER_SECRET_MAX)
		return kg_cfg_error(ctx, "header_secret_file",
		    "%s holds %lld bytes; it needs 32 to %d random bytes",
		    path, S_ISREG(st.st_mode) ? (long long)st.st_size : 0LL,
		    KG_HEADER_SECRET_MAX);
	memcpy(pl->header_secret_file, path, strlen(path) + 1);
	return 0;
}

static int
parse_pin(const char *hex, uint8_t out[32])
{
	size_t i = 0;

	for (; *hex != '\0' && i < 64; hex++) {
		int v;
		if (*hex == ':')
			continue;
		if (!isxdigit((unsigned char)*hex))
			return -1;
		v = isdigit((unsigned char)*hex) ? *hex - '0' :
		    tolower((unsigned char)*hex) - 'a' + 10;
		out[i / 2] = (uint8_t)((i % 2) ? (out[i / 2] | v) : (v << 4));
		i++;
	}
	return (i == 64 && *hex == '\0') ? 0 : -1;
}

static int
load_pool_tls(const json_t *o, struct conf_pool *pl, struct kg_cfgctx *ctx)
{
	const json_t *t;
	const char *pin;
	int rc;

	if ((rc = kg_cfg_object(o, "tls", 0, &t, ctx)) <= 0)
		return rc;
	pl->tls = 1;
	kg_cfg_push_key(ctx, "tls");
	rc = kg_cfg_check_keys(t, pool_tls_keys, ctx);
	if (rc >= 0)
		rc = get_str(t, "ca", 0, pl->tls_ca_file,
		    sizeof(pl->tls_ca_file), ctx);
	if (rc >= 0 && (rc = kg_cfg_string(t, "pin_sha256", 0, &pin, ctx)) == 1) {
		if (parse_pin(pin, pl->tls_pin) < 0)
			rc = kg_cfg_error(ctx, "pin_sha256",
			    "expected 64 hex digits (SHA-256 of the certificate)");
		pl->tls_has_pin = 1;
	}
	if (rc >= 0 && pl->tls_ca_file[0] == '\0' && !pl->tls_has_pin)
		rc = kg_cfg_error(ctx, NULL, "give \"ca\", \"pin_sha256\" or "
		    "both: a back-end certificate must be verified");
	kg_cfg_pop(ctx);
	return rc < 0 ? KG_ERR_CONFIG : 1;
}

static int
load_health(const json_t *o, struct conf_health *h, struct kg_cfgctx *ctx)
{
	const json_t *ho;
	long st = 200;
	int rc;

	kg_strlcpy(h->path, "/", sizeof(h->path));
	h->expect_status = 200;
	h->interval_ms = 2000;
	h->timeout_ms = 1000;
	h->rise = 2;
	h->fall = 2;
	if ((rc = kg_cfg_object(o, "health", 0, &ho, ctx)) <= 0)
		return rc;
	kg_cfg_push_key(ctx, "health");
	rc = kg_cfg_check_keys(ho, health_keys, ctx);
	if (rc >= 0)
		rc = get_str(ho, "path", 0, h->path, sizeof(h->path), ctx);
	if (rc >= 0)
		rc = kg_cfg_int(ho, "expect", 0, 100, 599, &st, ctx);
	if (rc >= 0) {
		long iv;
		rc = kg_cfg_int(ho, "interval", 0, 1, 3600, &iv, ctx);
		if (rc == 1)
			h->interval_ms = (unsigned)iv * 1000;
	}
	if (rc >= 0)
		rc = get_secs(ho, "timeout", 60, &h->timeout_ms, ctx);
	if (rc >= 0)
		rc = get_uint(ho, "rise", 1, 100, &h->rise, ctx);
	if (rc >= 0)
		rc = get_uint(ho, "fall", 1, 100, &h->fall, ctx);
	h->expect_status = (int)st;
	kg_cfg_pop(ctx);
	return rc < 0 ? KG_ERR_CONFIG : 1;
}

static int
load_pool(const json_t *o, void *p, struct conf *c, struct kg_cfgctx *ctx)
{
	struct conf_pool *pl = p;
	const char *secret;
	int v = 0, rc;

	TRY(kg_cfg_check_keys(o, pool_keys, ctx));
	TRY(get_str(o, "name", 1, pl->name, sizeof(pl->name), ctx));
	TRY(kg_cfg_enum(o, "mode", 0, pool_modes, &v, ctx));
	pl->mode = (enum conf_pool_mode)v;
	v = 0;
	TRY(kg_cfg_enum(o, "balance", 0, balances, &v, ctx));
	pl->balance = (enum conf_balance)v;
	v = 0;
	TRY(kg_cfg_enum(o, "persistence", 0, persists, &v, ctx));
	pl->persist = (enum conf_persist)v;
	TRY(rc = kg_cfg_string(o, "header_secret_file", 0, &secret, ctx));
	if (rc == 1)
		TRY(check_secret(pl, secret, ctx));
	else if (pl->mode == CONF_MODE_HEADER)
		return kg_cfg_error(ctx, "header_secret_file", "header mode "
		    "needs a secret shared with the back-ends (32+ bytes)");
	TRY(load_pool_tls(o, pl, ctx));
	pl->connect_timeout_ms = 5000;
	pl->first_byte_timeout_ms = 60000;
	TRY(get_secs(o, "connect_timeout", 300, &pl->connect_timeout_ms, ctx));
	TRY(get_secs(o, "first_byte_timeout", 86400,
	    &pl->first_byte_timeout_ms, ctx));
	pl->mutual = 1;
	TRY(kg_cfg_bool(o, "protocol_transition", 0, &pl->protocol_transition,
	    ctx));
	TRY(kg_cfg_bool(o, "mutual", 0, &pl->mutual, ctx));
	if (pl->mode == CONF_MODE_KCD)
		c->kcd_enabled = 1;
	TRY(load_health(o, &pl->health, ctx));
	TRY(each(o, "servers", 1, &pl->nservers, &pl->servers,
	    sizeof(*pl->servers), load_server, c, ctx));
	if (pl->mode == CONF_MODE_KCD) {
		size_t i;
		/* A back-end's own SPN: http/<its name> unless given. */
		for (i = 0; i < pl->nservers; i++) {
			struct conf_server *s = &pl->servers[i];
			if (s->spn[0] != '\0')
				continue;
			if (s->name[0] == '\0') {
				kg_cfg_push_key(ctx, "servers");
				kg_cfg_push_index(ctx, i);
				kg_cfg_error(ctx, "spn", "kcd mode needs the "
				    "server's \"spn\" or \"name\"");
				kg_cfg_pop(ctx);
				kg_cfg_pop(ctx);
				return KG_ERR_CONFIG;
			}
			if (snprintf(s->spn, sizeof(s->spn), "http/%.*s",
			    (int)sizeof(s->spn) - 6, s->name) >= (int)sizeof(s->spn))
				return kg_cfg_error(ctx, "servers", "name too long");
		}
	}
	return 0;
}

/* "sandbox": every child chroots and is seccomp-filtered (sandbox.c). */
static int
load_sandbox(const json_t *o, struct conf *c, struct kg_cfgctx *ctx)
{
	const json_t *sb;
	int rc;

	c->sandbox_enabled = SANDBOX_DEFAULT_ON;
	kg_strlcpy(c->sandbox_root, CONFIG_KERBGATED_SANDBOX_ROOT,
	    sizeof(c->sandbox_root));
	c->sandbox_test_trigger = 0;
	if ((rc = kg_cfg_object(o, "sandbox", 0, &sb, ctx)) <= 0)
		return rc;
	kg_cfg_push_key(ctx, "sandbox");
	rc = kg_cfg_check_keys(sb, sandbox_keys, ctx);
	if (rc >= 0)
		rc = kg_cfg_bool(sb, "enabled", 0, &c->sandbox_enabled, ctx);
	if (rc >= 0)
		rc = get_str(sb, "root", 0, c->sandbox_root,
		    sizeof(c->sandbox_root), ctx);
	if (rc >= 0 && c->sandbox_root[0] != '/')
		rc = kg_cfg_error(ctx, "root", "must be an absolute path");
	if (rc >= 0)
		rc = kg_cfg_bool(sb, "test_trigger", 0,
		    &c->sandbox_test_trigger, ctx);
	kg_cfg_pop(ctx);
	return rc < 0 ? rc : 0;
}

static int
load_limits(const json_t *o, struct conf *c, struct kg_cfgctx *ctx)
{
	const json_t *l;
	long v;
	int rc;

	c->max_header_bytes = CONFIG_KERBGATED_MAX_HEADER_BYTES + 8192;
	c->max_headers = 100;
	c->max_connections = 10000;
	c->header_timeout_ms = 10000;
	c->idle_timeout_ms = 60000;
	c->max_connections_per_source = 0;	/* off */
	if ((rc = kg_cfg_object(o, "limits", 0, &l, ctx)) <= 0)
		return rc;
	kg_cfg_push_key(ctx, "limits");
	rc = kg_cfg_check_keys(l, limit_keys, ctx);
	if (rc >= 0 && (rc = kg_cfg_int(l, "max_header_bytes", 0, 16384,
	    1048576, &v, ctx)) == 1)
		c->max_header_bytes = (size_t)v;
	if (rc >= 0)
		rc = get_uint(l, "max_headers", 16, 1000, &c->max_headers, ctx);
	if (rc >= 0)
		rc = get_uint(l, "max_connections", 1, 1000000,
		    &c->max_connections, ctx);
	if (rc >= 0)
		rc = get_secs(l, "header_timeout", 3600, &c->header_timeout_ms,
		    ctx);
	if (rc >= 0)
		rc = get_secs(l, "idle_timeout", 86400, &c->idle_timeout_ms, ctx);
	if (rc >= 0)
		rc = get_uint(l, "max_connections_per_source", 0, 1000000,
		    &c->max_connections_per_source, ctx);
	kg_cfg_pop(ctx);
	return rc < 0 ? KG_ERR_CONFIG : 1;
}

/* "credentials": the sealed store and its control socket (credctl.h). */
static int
load_credentials(const json_t *o, struct conf *c, struct kg_cfgctx *ctx)
{
	const json_t *cr;
	char *slash;
	int rc;

	/* AD's default maximum ticket lifetime (10 h) plus the skew. */
	c->cred_retention_s = 36000 + c->clock_skew_s;
	if ((rc = kg_cfg_object(o, "credentials", 0, &cr, ctx)) <= 0)
		return rc;
	kg_cfg_push_key(ctx, "credentials");
	rc = kg_cfg_check_keys(cr, cred_keys, ctx);
	if (rc >= 0)
		rc = get_str(cr, "store", 0, c->cred_store, sizeof(c->cred_store), ctx);
	if (rc >= 0 && c->cred_store[0] != '\0' && c->cred_store[0] != '/')
		rc = kg_cfg_error(ctx, "store", "must be an absolute path");
	if (rc >= 0)
		rc = get_str(cr, "device_key", 0, c->cred_device_key,
		    sizeof(c->cred_device_key), ctx);
	if (rc >= 0 && c->cred_device_key[0] == '\0' && c->cred_store[0] != '\0') {
		kg_strlcpy(c->cred_device_key, c->cred_store, sizeof(c->cred_device_key));
		if ((slash = strrchr(c->cred_device_key, '/')) != NULL)
			kg_strlcpy(slash + 1, "device.key", sizeof(c->cred_device_key) -
			    (size_t)(slash + 1 - c->cred_device_key));
	}
	if (rc >= 0)
		rc = get_str(cr, "control_socket", 0, c->cred_control_socket,
		    sizeof(c->cred_control_socket), ctx);
	if (rc >= 0 && c->cred_control_socket[0] != '\0' &&
	    (c->cred_control_socket[0] != '/' ||
	    strlen(c->cred_control_socket) >= 100))
		rc = kg_cfg_error(ctx, "control_socket", "must be an absolute path "
		    "of fewer than 100 characters");
	if (rc >= 0)
		rc = get_str(cr, "control_group", 0, c->cred_control_group,
		    sizeof(c->cred_control_group), ctx);
	if (rc >= 0)
		rc = get_uint(cr, "retention", 60, 30 * 86400, &c->cred_retention_s, ctx);
	kg_cfg_pop(ctx);
	return rc < 0 ? rc : 0;
}

static int
load_kcd(const json_t *root, struct conf *c, struct kg_cfgctx *ctx)
{
	const json_t *k;
	int rc;

	c->kcd_timeout_s = 5;
	c->kcd_cache_entries = 4096;
	c->kcd_sessions = 16384;
	if ((rc = kg_cfg_object(root, "kcd", 0, &k, ctx)) < 0)
		return rc;
	if (rc == 0)
		return c->kcd_enabled ? kg_cfg_error(ctx, "kcd", "a pool is in "
		    "kcd mode: give \"kcd\": { \"principal\": \"EXCHASA$@REALM\" }") : 0;
	kg_cfg_push_key(ctx, "kcd");
	rc = kg_cfg_check_keys(k, kcd_keys, ctx);
	if (rc >= 0)
		rc = get_str(k, "principal", 1, c->kcd_principal,
		    sizeof(c->kcd_principal), ctx);
	if (rc >= 0 && strchr(c->kcd_principal, '@') == NULL)
		rc = kg_cfg_error(ctx, "principal", "\"%s\" needs its realm, "
		    "e.g. EXCHASA$@CORP.CONTOSO.COM", c->kcd_principal);
	if (rc >= 0)
		rc = get_names(k, "kdcs", 0, &c->kcd_kdcs, &c->kcd_nkdcs, ctx);
	if (rc >= 0)
		rc = get_uint(k, "kdc_timeout", 1, 60, &c->kcd_timeout_s, ctx);
	if (rc >= 0)
		rc = get_uint(k, "cache_entries", 16, 1000000,
		    &c->kcd_cache_entries, ctx);
	if (rc >= 0)
		rc = get_uint(k, "sessions", 16, 1000000, &c->kcd_sessions, ctx);
	kg_cfg_pop(ctx);
	return rc < 0 ? KG_ERR_CONFIG : 1;
}

/*
 * A host name is one vhost's: a name or alias claimed twice would make the
 * later vhost unreachable by Host, yet a session cookie names its vhost by
 * name, so a relay could still reach it there.  Refused.
 */
static int
check_vhost_names_unique(const struct conf *c, struct kg_cfgctx *ctx)
{
	const struct conf_vhost *v;
	size_t i, j;
	int at;

	for (i = 0; i < c->nvhosts; i++) {
		v = &c->vhosts[i];
		at = conf_vhost_find(c, v->name, strlen(v->name));
		if (at >= 0 && at != (int)i)
			return kg_cfg_error(ctx, "vhosts", "%s is vhost %d's name "
			    "or alias already (vhost %zu): give each host name to "
			    "one vhost", v->name, at, i);
		for (j = 0; j < v->naliases; j++) {
			at = conf_vhost_find(c, v->aliases[j], strlen(v->aliases[j]));
			if (at >= 0 && at != (int)i)
				return kg_cfg_error(ctx, "vhosts", "%s is vhost %d's "
				    "name or alias already (alias of vhost %zu): give "
				    "each host name to one vhost", v->aliases[j], at, i);
		}
	}
	return 0;
}

static int
load_top(const json_t *root, struct conf *c, struct kg_cfgctx *ctx)
{
	const json_t *adm;
	size_t i;
	int rc;

	kg_strlcpy(c->relay_user, CONFIG_KERBGATED_USER, sizeof(c->relay_user));
	kg_strlcpy(c->keyholder_user, CONFIG_KERBGATED_KEYHOLDER_USER,
	    sizeof(c->keyholder_user));
	c->clock_skew_s = 300;
	c->allow_rc4 = 1;
	c->replay_entries = CONFIG_KERBGATED_REPLAY_CACHE_ENTRIES;
	c->replay_per_principal = CONF_REPLAY_QUOTA_AUTO;
	TRY(kg_cfg_check_keys(root, top_keys, ctx));
	TRY(get_str(root, "user", 0, c->relay_user, sizeof(c->relay_user), ctx));
	TRY(get_str(root, "keyholder_user", 0, c->keyholder_user,
	    sizeof(c->keyholder_user), ctx));
	TRY(get_uint(root, "workers", 0, 32, &c->workers, ctx));
	TRY(get_str(root, "keytab", 0, c->keytab, sizeof(c->keytab), ctx));
	TRY(get_uint(root, "clock_skew", 1, 3600, &c->clock_skew_s, ctx));
	TRY(kg_cfg_bool(root, "allow_rc4", 0, &c->allow_rc4, ctx));
	TRY(get_uint(root, "replay_cache_entries", 1024, 4194304,
	    &c->replay_entries, ctx));
	TRY(get_uint(root, "replay_cache_per_principal", 0, 4194304,
	    &c->replay_per_principal, ctx));
	TRY(load_limits(root, c, ctx));
	TRY(load_sandbox(root, c, ctx));
	if ((rc = kg_cfg_object(root, "admin", 0, &adm, ctx)) < 0)
		return rc;
	if (rc == 1) {
		kg_cfg_push_key(ctx, "admin");
		rc = load_listener(adm, &c->admin, c, ctx);
		kg_cfg_pop(ctx);
		TRY(rc);
		c->admin_enabled = 1;
	}
	TRY(each(root, "listeners", 1, &c->nlisteners, &c->listeners,
	    sizeof(*c->listeners), load_listener, c, ctx));
	/* Pools first: routes name them. */
	TRY(each(root, "pools", 1, &c->npools, &c->pools, sizeof(*c->pools),
	    load_pool, c, ctx));
	TRY(each(root, "vhosts", 1, &c->nvhosts, &c->vhosts, sizeof(*c->vhosts),
	    load_vhost, c, ctx));
	TRY(load_kcd(root, c, ctx));
	TRY(load_credentials(root, c, ctx));
	/* No keytab: the first credential comes from the management API. */
	if (c->keytab[0] == '\0' && c->cred_store[0] == '\0')
		return kg_cfg_error(ctx, "keytab", "required unless credentials.store "
		    "is set (then the ASA's credential can be staged through the "
		    "management API)");
	if (c->keytab[0] == '\0' && c->kcd_principal[0] == '\0')
		return kg_cfg_error(ctx, "keytab", "without a keytab, set kcd.principal "
		    "to the ASA (EXCHASA$@REALM): the keyholder starts with no "
		    "credential and takes that account's");
	TRY(check_vhost_names_unique(c, ctx));
	for (i = 0; i < c->nlisteners; i++) {
		size_t j;
		if (!c->listeners[i].tls)
			continue;
		for (j = 0; j < c->nvhosts; j++)
			if (c->vhosts[j].cert_file[0] != '\0')
				break;
		if (j == c->nvhosts)
			return kg_cfg_error(ctx, "listeners", "%s is a TLS "
			    "listener but no vhost has a certificate",
			    c->listeners[i].text);
	}
	return 0;
}

int
conf_load(const char *path, struct conf *c, char *err, size_t errlen)
{
	struct kg_cfgerr cerr;
	struct kg_cfgctx ctx;
	json_t *root;
	int rc;

	memset(c, 0, sizeof(*c));
	kg_strlcpy(c->path, path, sizeof(c->path));
	if ((root = kg_config_load(path, &cerr)) == NULL) {
		snprintf(err, errlen, "%s", cerr.msg);
		return KG_ERR_CONFIG;
	}
	kg_cfgctx_init(&ctx, path, &cerr);
	rc = load_top(root, c, &ctx);
	json_decref(root);
	if (rc < 0) {
		snprintf(err, errlen, "%s", cerr.msg);
		conf_free(c);
		return KG_ERR_CONFIG;
	}
	return 0;
}

void
conf_free(struct conf *c)
{
	size_t i;

	for (i = 0; i < c->nvhosts; i++) {
		free(c->vhosts[i].aliases);
		free(c->vhosts[i].spns);
		free(c->vhosts[i].routes);
	}
	for (i = 0; i < c->npools; i++)
		free(c->pools[i].servers);
	if (c->pools != NULL)
		kg_zero(c->pools, c->npools * sizeof(*c->pools));
	free(c->pools);
	free(c->kcd_kdcs);
	free(c->vhosts);
	free(c->listeners);
	memset(c, 0, sizeof(*c));
}

static int
name_eq(const char *name, const char *host, size_t len)
{
	return strlen(name) == len && strncasecmp(name, host, len) == 0;
}

int
conf_vhost_find(const struct conf *c, const char *host, size_t len)
{
	const char *colon;
	size_t i, j;

	if (host == NULL)
		return -1;
	/* Strip a port, but not from a bracketed IPv6 literal.  A port is
	 * digits (RFC 3986 3.2.3): "mail:443,evil" or "mail:x" name no vhost
	 * (the Host goes on to the back-end as it came, and into Forwarded). */
	if (len > 0 && host[0] != '[' &&
	    (colon = memchr(host, ':', len)) != NULL) {
		for (j = (size_t)(colon - host) + 1; j < len; j++)
			if (host[j] < '0' || host[j] > '9')
				return -1;
		len = (size_t)(colon - host);
	}
	if (len > 0 && host[len - 1] == '.')
		len--;
	for (i = 0; i < c->nvhosts; i++) {
		if (name_eq(c->vhosts[i].name, host, len))
			return (int)i;
		for (j = 0; j < c->vhosts[i].naliases; j++)
			if (name_eq(c->vhosts[i].aliases[j], host, len))
				return (int)i;
	}
	return -1;
}

const struct conf_route *
conf_route_find(const struct conf_vhost *v, const char *target, size_t len)
{
	const struct conf_route *best = NULL;
	size_t i, bestlen = 0;

	for (i = 0; i < v->nroutes; i++) {
		size_t pl = strlen(v->routes[i].path);
		if (pl > len || strncasecmp(v->routes[i].path, target, pl) != 0)
			continue;
		if (best == NULL || pl > bestlen) {
			best = &v->routes[i];
			bestlen = pl;
		}
	}
	return best;
}
