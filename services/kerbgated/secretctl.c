/*
 * secretctl.c: header secrets, the cookie key and TLS keys in the keyholder
 * (secretctl.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "kcrypto.h"
#include "log.h"
#include "secretctl.h"
#include "tlscheck.h"
#include "util.h"

struct secretctl {
	const struct conf	*conf;
	struct secretstore	*ss;
	struct grant_secrets	 gs;	/* active pool secrets, locked memory */
};

static size_t
gs_size(const struct conf *c)
{
	return (c->npools ? c->npools : 1) * sizeof(struct grant_secret);
}

struct secretctl *
secretctl_new(const struct conf *c)
{
	struct secretctl *sc;
	unsigned window = 0;
	size_t i;

	for (i = 0; i < c->nvhosts; i++)
		if (c->vhosts[i].cookie_lifetime_s > window)
			window = c->vhosts[i].cookie_lifetime_s;
	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		return NULL;
	sc->conf = c;
	sc->gs.n = c->npools;
	if ((sc->ss = secretstore_new(window + c->clock_skew_s)) == NULL ||
	    (sc->gs.s = sealed_alloc(gs_size(c))) == NULL) {
		secretctl_free(sc);
		return NULL;
	}
	return sc;
}

void
secretctl_free(struct secretctl *sc)
{
	if (sc == NULL)
		return;
	secretstore_free(sc->ss);
	sealed_free(sc->gs.s, gs_size(sc->conf));
	free(sc);
}

/* The grant table follows the active pool secrets. */
static void
refresh_grants(struct secretctl *sc)
{
	const struct conf *c = sc->conf;
	const struct secret_entry *e;
	size_t i;

	for (i = 0; i < c->npools; i++) {
		kg_zero(&sc->gs.s[i], sizeof(sc->gs.s[i]));
		if (c->pools[i].mode != CONF_MODE_HEADER ||
		    (e = secretstore_active(sc->ss, SECRET_POOL, c->pools[i].name)) == NULL)
			continue;
		memcpy(sc->gs.s[i].b, e->val, e->len);
		sc->gs.s[i].len = e->len;
	}
}

int
secretctl_load(struct secretctl *sc, const uint8_t *plain, size_t len, char *err,
    size_t errlen)
{
	if (secretstore_decode(sc->ss, plain, len, err, errlen) != 0)
		return -1;
	refresh_grants(sc);
	return 0;
}

/* Puts a value in as the active version, the one after any held. */
static int
put_active(struct secretctl *sc, enum secret_kind k, const char *name,
    const uint8_t *val, size_t len, uint64_t now, char *err, size_t errlen)
{
	struct secret_entry e;
	uint32_t ver = 1;

	while (secretstore_find(sc->ss, k, name, ver) != NULL)
		ver++;
	memset(&e, 0, sizeof(e));
	e.kind = k;
	kg_strlcpy(e.name, name, sizeof(e.name));
	e.ver = ver;
	e.state = CRED_ACTIVE;
	e.staged_at = e.verified_at = e.activated_at = now;
	e.val = (uint8_t *)(uintptr_t)val;
	e.len = len;
	return secretstore_put(sc->ss, &e, err, errlen);
}

static int
import_pool(struct secretctl *sc, const struct conf_pool *p, uint64_t now,
    int *changed, char *err, size_t errlen)
{
	const struct secret_entry *a = secretstore_active(sc->ss, SECRET_POOL, p->name);
	struct grant_secret s;
	char why[512];
	int rv = 0;

	if (a != NULL) {
		/* The store wins; a file edited since is worth a word. */
		if (grant_read_secret(p->header_secret_file, &s, why, sizeof(why)) == 0 &&
		    (s.len != a->len || memcmp(s.b, a->val, s.len) != 0))
			log_warnx("secrets: %s differs from pool %s's active header secret "
			    "(version %u) in the sealed store, which is used: the file is "
			    "only imported once; to change the secret, stage it "
			    "(kerbgatectl secrets stage pool %s --secret-file FILE)",
			    p->header_secret_file, p->name, a->ver, p->name);
		kg_zero(&s, sizeof(s));
		return 0;
	}
	if (grant_read_secret(p->header_secret_file, &s, err, errlen) != 0)
		return -1;
	if ((rv = put_active(sc, SECRET_POOL, p->name, s.b, s.len, now, err,
	    errlen)) == 0) {
		*changed = 1;
		log_info("secrets: imported pool %s's header secret from %s",
		    p->name, p->header_secret_file);
	}
	kg_zero(&s, sizeof(s));
	return rv;
}

int
secretctl_import(struct secretctl *sc, uint64_t now, int *changed, char *err,
    size_t errlen)
{
	const struct conf *c = sc->conf;
	uint8_t key[SECRET_COOKIE_LEN];
	size_t i;
	int rv = 0;

	for (i = 0; i < c->npools; i++)
		if (c->pools[i].mode == CONF_MODE_HEADER &&
		    import_pool(sc, &c->pools[i], now, changed, err, errlen) != 0)
			return -1;
	if (secretstore_active(sc->ss, SECRET_COOKIE, "") == NULL) {
		if (kc_random(key, sizeof(key)) != KC_OK)
			return kg_seterr(err, errlen, "no randomness for the cookie key");
		rv = put_active(sc, SECRET_COOKIE, "", key, sizeof(key), now, err,
		    errlen);
		kg_zero(key, sizeof(key));
		if (rv == 0)
			*changed = 1;
	}
	refresh_grants(sc);
	return rv;
}

int
secretctl_encode(const struct secretctl *sc, struct sealed_buf *out)
{
	return secretstore_encode(sc->ss, out);
}

/* ------------------------------------------------------------- requests */

static int say(char *text, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
say(char *text, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, len, fmt, ap);
	va_end(ap);
	return 0;
}

/* "pool cas", "cookie key", "tls mail.example.com": for answers and logs. */
static const char *
label(enum secret_kind k, const char *name, char *buf, size_t len)
{
	if (k == SECRET_COOKIE)
		snprintf(buf, len, "cookie key");
	else
		snprintf(buf, len, "%s %s", secret_kind_name(k), name);
	return buf;
}

static const struct conf_pool *
conf_pool(const struct conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->npools; i++)
		if (strcmp(c->pools[i].name, name) == 0)
			return &c->pools[i];
	return NULL;
}

static const struct conf_vhost *
conf_vhost(const struct conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nvhosts; i++)
		if (strcmp(c->vhosts[i].name, name) == 0)
			return &c->vhosts[i];
	return NULL;
}

/* Staged only for what the configuration has: a header-mode pool, a vhost
 * with a certificate. */
static int
known_name(const struct secretctl *sc, const struct ctl_req *r, char *text,
    size_t len)
{
	const struct conf_pool *p;
	const struct conf_vhost *v;

	if (r->kind == SECRET_POOL && ((p = conf_pool(sc->conf, r->name)) == NULL ||
	    p->mode != CONF_MODE_HEADER))
		return say(text, len, "not staged: no header-mode pool \"%s\" in the "
		    "configuration", r->name), -1;
	if (r->kind == SECRET_TLS && ((v = conf_vhost(sc->conf, r->name)) == NULL ||
	    v->cert_file[0] == '\0'))
		return say(text, len, "not staged: no virtual host \"%s\" with a "
		    "certificate in the configuration", r->name), -1;
	return 0;
}

static enum ctl_status
do_stage(struct secretctl *sc, const struct ctl_req *r, uint64_t now,
    int *changed, char *text, size_t len)
{
	uint8_t *val = NULL, key[SECRET_COOKIE_LEN];
	size_t vlen = 0, keylen = 0;
	uint32_t ver;
	char err[256], l[SECRET_NAME_MAX + 16];
	int rv;

	if (known_name(sc, r, text, len) != 0)
		return CTL_REFUSED;
	if (r->kind == SECRET_COOKIE) {
		if (kc_random(key, sizeof(key)) != KC_OK)
			return say(text, len, "not staged: no randomness"), CTL_FAILED;
		val = key;
		vlen = sizeof(key);
	} else if (r->kind == SECRET_POOL) {
		val = (uint8_t *)(uintptr_t)r->secret;
		vlen = r->secretlen;
	} else {
		/* The key's PEM, then the chain's: one value, in locked memory. */
		vlen = r->secretlen + r->certlen;
		keylen = r->secretlen;
		if ((val = sealed_alloc(vlen)) == NULL)
			return say(text, len, "not staged: out of memory"), CTL_FAILED;
		memcpy(val, r->secret, r->secretlen);
		memcpy(val + r->secretlen, r->cert, r->certlen);
	}
	rv = secretstore_stage(sc->ss, (enum secret_kind)r->kind, r->name, val, vlen,
	    keylen, now, &ver, err, sizeof(err));
	if (r->kind == SECRET_TLS)
		sealed_free(val, vlen);
	kg_zero(key, sizeof(key));
	label((enum secret_kind)r->kind, r->name, l, sizeof(l));
	if (rv != 0)
		return say(text, len, "not staged: %s", err), CTL_REFUSED;
	*changed = 1;
	log_info("secrets: staged %s version %u", l, ver);
	say(text, len, "staged %s version %u (%zu bytes); it is not used yet.\n"
	    "next: kerbgatectl secrets verify %s%s%s %u", l, ver, vlen,
	    secret_kind_name((enum secret_kind)r->kind), r->name[0] ? " " : "",
	    r->name, ver);
	return CTL_OK;
}

/* What can be proven of a value here; 0, or -1 with why. */
static int
prove(const struct secretctl *sc, const struct secret_entry *e, char *why,
    size_t len)
{
	unsigned bits;

	if (secret_check_size(e->kind, e->len, e->keylen, why, len) != 0)
		return -1;
	if (e->kind == SECRET_TLS)
		return tls_pair_check(e->val, e->keylen, e->val + e->keylen,
		    e->len - e->keylen, e->name, time(NULL), why, len);
	if ((bits = secret_entropy_bits(e->val, e->len)) < SECRET_MIN_BITS)
		return kg_seterr(why, len, "%zu bytes with about %u bits of entropy by "
		    "their byte counts, fewer than %d: make it with `head -c 48 "
		    "/dev/urandom`", e->len, bits, SECRET_MIN_BITS);
	(void)sc;
	return 0;
}

static enum ctl_status
do_verify(struct secretctl *sc, const struct ctl_req *r, uint64_t now,
    int *changed, char *text, size_t len)
{
	enum secret_kind k = (enum secret_kind)r->kind;
	const struct secret_entry *e = secretstore_find(sc->ss, k, r->name, r->kvno);
	char why[512], l[SECRET_NAME_MAX + 16];

	label(k, r->name, l, sizeof(l));
	if (e == NULL || e->state != CRED_STAGED)
		return say(text, len, "%s version %u is %s: only a staged version is "
		    "verified", l, r->kvno, e == NULL ? "not held" :
		    cred_state_name(e->state)), CTL_REFUSED;
	if (prove(sc, e, why, sizeof(why)) != 0) {
		log_warnx("secrets: %s version %u failed verification: %s", l, r->kvno,
		    why);
		return say(text, len, "%s version %u NOT verified (nothing activated; "
		    "the active one keeps serving): %s", l, r->kvno, why), CTL_FAILED;
	}
	if (secretstore_mark_verified(sc->ss, k, r->name, r->kvno, now, why,
	    sizeof(why)) != 0)
		return say(text, len, "%s", why), CTL_FAILED;
	*changed = 1;
	log_info("secrets: %s version %u verified", l, r->kvno);
	say(text, len, "%s version %u verified (%s).\n%snext: kerbgatectl secrets "
	    "activate %s%s%s %u", l, r->kvno, k == SECRET_TLS ? "the key is the "
	    "certificate's, the chain verifies and names the host" :
	    "its size and entropy", k == SECRET_POOL ? "the pool's back-ends must "
	    "accept it before activation (docs/backend-verification.md).\n" : "",
	    secret_kind_name(k), r->name[0] ? " " : "", r->name, r->kvno);
	return CTL_OK;
}

static enum ctl_status
do_activate(struct secretctl *sc, const struct ctl_req *r, uint64_t now,
    int *changed, char *text, size_t len)
{
	enum secret_kind k = (enum secret_kind)r->kind;
	const struct secret_entry *prev = secretstore_active(sc->ss, k, r->name);
	uint32_t pv = prev != NULL ? prev->ver : 0;
	char err[512], l[SECRET_NAME_MAX + 16];

	label(k, r->name, l, sizeof(l));
	if (secretstore_activate(sc->ss, k, r->name, r->kvno, now, err,
	    sizeof(err)) != 0)
		return say(text, len, "not activated: %s", err), CTL_REFUSED;
	*changed = 1;
	refresh_grants(sc);
	log_info("secrets: %s version %u active; version %u retained for %u s", l,
	    r->kvno, pv, sc->ss->retention_s);
	if (k == SECRET_TLS)
		return say(text, len, "%s version %u active: it serves from the next "
		    "generation (kill -HUP kerbgated, or a restart)", l, r->kvno), CTL_OK;
	return say(text, len, "%s version %u active: new logins %s with it; "
	    "version %u %s for %u s", l, r->kvno, k == SECRET_POOL ?
	    "get grants signed" : "get cookies made", pv, k == SECRET_POOL ?
	    "is retained (back-ends may still see grants under it)" :
	    "still opens the cookies it made", sc->ss->retention_s), CTL_OK;
}

static enum ctl_status
do_retire(struct secretctl *sc, const struct ctl_req *r, int *changed, char *text,
    size_t len)
{
	char err[512], l[SECRET_NAME_MAX + 16];

	label((enum secret_kind)r->kind, r->name, l, sizeof(l));
	if (secretstore_retire(sc->ss, (enum secret_kind)r->kind, r->name, r->kvno,
	    err, sizeof(err)) != 0)
		return say(text, len, "not retired: %s", err), CTL_REFUSED;
	*changed = 1;
	log_info("secrets: %s version %u retired", l, r->kvno);
	return say(text, len, "%s version %u retired", l, r->kvno), CTL_OK;
}

static uint64_t
since(const struct secret_entry *e)
{
	return e->state == CRED_STAGED ? e->staged_at :
	    e->state == CRED_VERIFIED ? e->verified_at :
	    e->state == CRED_ACTIVE ? e->activated_at : e->superseded_at;
}

static enum ctl_status
do_list(const struct secretctl *sc, char *text, size_t len)
{
	char a[32], b[32];
	size_t i, off;

	off = (size_t)snprintf(text, len, "%-6s %-24s %-4s %-9s %-21s %s\n", "KIND",
	    "NAME", "VER", "STATE", "SINCE", "RETIRED AFTER");
	for (i = 0; i < sc->ss->n && off < len; i++) {
		const struct secret_entry *e = &sc->ss->e[i];

		cred_fmt_time(since(e), a, sizeof(a));
		cred_fmt_time(e->state == CRED_RETAINED ? e->superseded_at +
		    sc->ss->retention_s : 0, b, sizeof(b));
		off += (size_t)snprintf(text + off, len - off, "%-6s %-24s %-4u %-9s "
		    "%-21s %s\n", secret_kind_name(e->kind), e->name[0] ? e->name : "-",
		    e->ver, cred_state_name(e->state), a, b);
	}
	if (off > 0 && off < len && text[off - 1] == '\n')
		text[off - 1] = '\0';
	return CTL_OK;
}

enum ctl_status
secretctl_request(struct secretctl *sc, const struct ctl_req *r, uint64_t now,
    int *changed, char *text, size_t textlen)
{
	*changed = 0;
	switch (r->type) {
	case CTL_MSG_SECRET_STAGE:
		return do_stage(sc, r, now, changed, text, textlen);
	case CTL_MSG_SECRET_VERIFY:
		return do_verify(sc, r, now, changed, text, textlen);
	case CTL_MSG_SECRET_ACTIVATE:
		return do_activate(sc, r, now, changed, text, textlen);
	case CTL_MSG_SECRET_RETIRE:
		return do_retire(sc, r, changed, text, textlen);
	case CTL_MSG_SECRET_LIST:
		return do_list(sc, text, textlen);
	}
	return say(text, textlen, "not a secrets request"), CTL_REFUSED;
}

size_t
secretctl_tick(struct secretctl *sc, uint64_t now)
{
	size_t n = secretstore_expire(sc->ss, now);

	if (n > 0)
		log_info("secrets: %zu retained version(s) dropped: their retention "
		    "window passed", n);
	return n;
}

void *
secretctl_list_json(const struct secretctl *sc)
{
	json_t *arr = json_array();
	char when[32];
	size_t i;

	for (i = 0; arr != NULL && i < sc->ss->n; i++) {
		const struct secret_entry *e = &sc->ss->e[i];

		cred_fmt_time(since(e), when, sizeof(when));
		json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:s, s:I, s:s, "
		    "s:I, s:I}", "kind", secret_kind_name(e->kind), "name", e->name,
		    "version", (json_int_t)e->ver, "state", cred_state_name(e->state),
		    "since", (json_int_t)since(e), "since_utc", when,
		    "retire_after", (json_int_t)(e->state == CRED_RETAINED ?
		    e->superseded_at + sc->ss->retention_s : 0),
		    "bytes", (json_int_t)e->len));
	}
	return arr;
}

const struct grant_secrets *
secretctl_grants(const struct secretctl *sc)
{
	return &sc->gs;
}

size_t
secretctl_cookie_keys(const struct secretctl *sc, const uint8_t **keys,
    size_t max)
{
	const struct secret_entry *a = secretstore_active(sc->ss, SECRET_COOKIE, "");
	size_t i, n = 0;

	if (a != NULL && n < max)
		keys[n++] = a->val;
	for (i = 0; i < sc->ss->n && n < max; i++)
		if (sc->ss->e[i].kind == SECRET_COOKIE &&
		    sc->ss->e[i].state == CRED_RETAINED)
			keys[n++] = sc->ss->e[i].val;
	return n;
}

const struct secret_entry *
secretctl_tls(const struct secretctl *sc, const char *vhost)
{
	return secretstore_active(sc->ss, SECRET_TLS, vhost);
}
