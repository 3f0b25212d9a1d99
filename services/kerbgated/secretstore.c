/*
 * secretstore.c: pool secrets, the cookie key and TLS keys, and their
 * lifecycle (secretstore.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "secretstore.h"
#include "util.h"

#define REC_FIXED	(1 + 4 + 8 * 4 + 2)

const char *
secret_kind_name(enum secret_kind k)
{
	switch (k) {
	case SECRET_POOL:	return "pool";
	case SECRET_COOKIE:	return "cookie";
	case SECRET_TLS:	return "tls";
	}
	return "?";
}

enum secret_kind
secret_kind_parse(const char *s)
{
	if (strcmp(s, "pool") == 0)
		return SECRET_POOL;
	if (strcmp(s, "cookie") == 0)
		return SECRET_COOKIE;
	if (strcmp(s, "tls") == 0)
		return SECRET_TLS;
	return 0;
}

uint16_t
secret_kind_record(enum secret_kind k)
{
	return k == SECRET_POOL ? SEALED_REC_POOL_SECRET :
	    k == SECRET_COOKIE ? SEALED_REC_COOKIE_KEY : SEALED_REC_TLS_KEY;
}

static enum secret_kind
kind_of_record(uint16_t type)
{
	return type == SEALED_REC_POOL_SECRET ? SECRET_POOL :
	    type == SEALED_REC_COOKIE_KEY ? SECRET_COOKIE :
	    type == SEALED_REC_TLS_KEY ? SECRET_TLS : 0;
}

int
secret_check_size(enum secret_kind k, size_t len, size_t keylen, char *err,
    size_t errlen)
{
	switch (k) {
	case SECRET_POOL:
		if (len < SECRET_POOL_MIN || len > SECRET_POOL_MAX || keylen != 0)
			return kg_seterr(err, errlen, "a pool's header secret is %d to %d "
			    "bytes, not %zu", SECRET_POOL_MIN, SECRET_POOL_MAX, len);
		return 0;
	case SECRET_COOKIE:
		if (len != SECRET_COOKIE_LEN || keylen != 0)
			return kg_seterr(err, errlen, "the cookie key is %d bytes, not %zu",
			    SECRET_COOKIE_LEN, len);
		return 0;
	case SECRET_TLS:
		if (keylen == 0 || keylen > SECRET_TLS_KEY_MAX || keylen >= len ||
		    len > SECRET_TLS_MAX)
			return kg_seterr(err, errlen, "a TLS key is a private key of 1 to "
			    "%d bytes and a certificate chain, at most %d bytes in all "
			    "(%zu and %zu given)", SECRET_TLS_KEY_MAX, SECRET_TLS_MAX,
			    keylen, len > keylen ? len - keylen : 0);
		return 0;
	}
	return kg_seterr(err, errlen, "unknown kind of secret %d", (int)k);
}

/* log2(x) for x >= 1, bit by bit (no libm for one estimate). */
static double
log2_ge1(double x)
{
	double y = 0, b = 0.5;
	int i;

	while (x >= 2) {
		x /= 2;
		y += 1;
	}
	for (i = 0; i < 24; i++, b /= 2) {
		x *= x;
		if (x >= 2) {
			x /= 2;
			y += b;
		}
	}
	return y;
}

unsigned
secret_entropy_bits(const uint8_t *p, size_t len)
{
	size_t count[256] = { 0 }, i;
	double bits = 0;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		count[p[i]]++;
	/* Shannon: sum over byte values of count * log2(len / count). */
	for (i = 0; i < 256; i++)
		if (count[i] > 0)
			bits += (double)count[i] * log2_ge1((double)len / (double)count[i]);
	kg_zero(count, sizeof(count));
	return (unsigned)bits;
}

struct secretstore *
secretstore_new(unsigned retention_s)
{
	struct secretstore *ss;

	if ((ss = calloc(1, sizeof(*ss))) == NULL)
		return NULL;
	if ((ss->e = sealed_alloc(SECRET_MAX_ENTRIES * sizeof(*ss->e))) == NULL) {
		free(ss);
		return NULL;
	}
	ss->retention_s = retention_s;
	return ss;
}

static void
drop(struct secretstore *ss, size_t i)
{
	sealed_free(ss->e[i].val, ss->e[i].len);
	memmove(&ss->e[i], &ss->e[i + 1], (ss->n - i - 1) * sizeof(ss->e[0]));
	ss->n--;
	kg_zero(&ss->e[ss->n], sizeof(ss->e[0]));
}

void
secretstore_free(struct secretstore *ss)
{
	if (ss == NULL)
		return;
	while (ss->n > 0)
		drop(ss, ss->n - 1);
	sealed_free(ss->e, SECRET_MAX_ENTRIES * sizeof(*ss->e));
	free(ss);
}

static int
same(const struct secret_entry *e, enum secret_kind k, const char *name)
{
	return e->kind == k && strcmp(e->name, name) == 0;
}

static struct secret_entry *
find(const struct secretstore *ss, enum secret_kind k, const char *name,
    uint32_t ver)
{
	size_t i;

	for (i = 0; i < ss->n; i++)
		if (same(&ss->e[i], k, name) && ss->e[i].ver == ver)
			return &ss->e[i];
	return NULL;
}

const struct secret_entry *
secretstore_find(const struct secretstore *ss, enum secret_kind k,
    const char *name, uint32_t ver)
{
	return find(ss, k, name, ver);
}

const struct secret_entry *
secretstore_active(const struct secretstore *ss, enum secret_kind k,
    const char *name)
{
	size_t i;

	for (i = 0; i < ss->n; i++)
		if (same(&ss->e[i], k, name) && ss->e[i].state == CRED_ACTIVE)
			return &ss->e[i];
	return NULL;
}

/* The entry, value copied into locked memory, appended. */
static int
append(struct secretstore *ss, const struct secret_entry *e, char *err,
    size_t errlen)
{
	struct secret_entry *d;

	if (ss->n == SECRET_MAX_ENTRIES)
		return kg_seterr(err, errlen, "more than %d secrets: retire some",
		    SECRET_MAX_ENTRIES);
	d = &ss->e[ss->n];
	*d = *e;
	if ((d->val = sealed_alloc(e->len)) == NULL) {
		kg_zero(d, sizeof(*d));
		return kg_seterr(err, errlen, "out of memory");
	}
	memcpy(d->val, e->val, e->len);
	ss->n++;
	return 0;
}

int
secretstore_stage(struct secretstore *ss, enum secret_kind k, const char *name,
    const uint8_t *val, size_t len, size_t keylen, uint64_t now, uint32_t *ver,
    char *err, size_t errlen)
{
	struct secret_entry e;
	uint32_t top = 0;
	size_t i;

	if (secret_check_size(k, len, keylen, err, errlen) != 0)
		return -1;
	if (strlen(name) >= SECRET_NAME_MAX || (k == SECRET_COOKIE) != (name[0] == '\0'))
		return kg_seterr(err, errlen, "bad name \"%.64s\" for a %s secret", name,
		    secret_kind_name(k));
	for (i = 0; i < ss->n; i++)
		if (same(&ss->e[i], k, name) && ss->e[i].ver > top)
			top = ss->e[i].ver;
	if (top == UINT32_MAX)
		return kg_seterr(err, errlen, "no version left");
	memset(&e, 0, sizeof(e));
	e.kind = k;
	kg_strlcpy(e.name, name, sizeof(e.name));
	e.ver = top + 1;
	e.state = CRED_STAGED;
	e.staged_at = now;
	e.val = (uint8_t *)(uintptr_t)val;
	e.len = len;
	e.keylen = keylen;
	if (append(ss, &e, err, errlen) != 0)
		return -1;
	/* One change at a time: an earlier one not activated goes. */
	for (i = 0; i + 1 < ss->n; )
		if (same(&ss->e[i], k, name) && (ss->e[i].state == CRED_STAGED ||
		    ss->e[i].state == CRED_VERIFIED))
			drop(ss, i);
		else
			i++;
	*ver = e.ver;
	return 0;
}

int
secretstore_mark_verified(struct secretstore *ss, enum secret_kind k,
    const char *name, uint32_t ver, uint64_t now, char *err, size_t errlen)
{
	struct secret_entry *e = find(ss, k, name, ver);

	if (e == NULL || e->state != CRED_STAGED)
		return kg_seterr(err, errlen, "%s secret%s%s version %u is %s: only a "
		    "staged version is verified", secret_kind_name(k), *name ? " " : "",
		    name, ver, e == NULL ? "not held" : cred_state_name(e->state));
	e->state = CRED_VERIFIED;
	e->verified_at = now;
	return 0;
}

int
secretstore_activate(struct secretstore *ss, enum secret_kind k,
    const char *name, uint32_t ver, uint64_t now, char *err, size_t errlen)
{
	struct secret_entry *e = find(ss, k, name, ver), *a;

	if (e == NULL || e->state != CRED_VERIFIED)
		return kg_seterr(err, errlen, "%s secret%s%s version %u is %s: verify "
		    "it first", secret_kind_name(k), *name ? " " : "", name, ver,
		    e == NULL ? "not held" : cred_state_name(e->state));
	if ((a = (struct secret_entry *)secretstore_active(ss, k, name)) != NULL) {
		a->state = CRED_RETAINED;
		a->superseded_at = now;
	}
	e->state = CRED_ACTIVE;
	e->activated_at = now;
	return 0;
}

int
secretstore_retire(struct secretstore *ss, enum secret_kind k, const char *name,
    uint32_t ver, char *err, size_t errlen)
{
	struct secret_entry *e = find(ss, k, name, ver);

	if (e == NULL)
		return kg_seterr(err, errlen, "%s secret%s%s version %u is not held",
		    secret_kind_name(k), *name ? " " : "", name, ver);
	if (e->state == CRED_ACTIVE)
		return kg_seterr(err, errlen, "version %u is the active one: activate "
		    "another first", ver);
	drop(ss, (size_t)(e - ss->e));
	return 0;
}

size_t
secretstore_expire(struct secretstore *ss, uint64_t now)
{
	size_t i, n = 0;

	for (i = 0; i < ss->n; )
		if (ss->e[i].state == CRED_RETAINED &&
		    now >= ss->e[i].superseded_at + ss->retention_s) {
			drop(ss, i);
			n++;
		} else
			i++;
	return n;
}

int
secretstore_put(struct secretstore *ss, const struct secret_entry *e, char *err,
    size_t errlen)
{
	if (e->state < CRED_STAGED || e->state > CRED_RETAINED)
		return kg_seterr(err, errlen, "%s secret version %u: unknown state %d",
		    secret_kind_name(e->kind), e->ver, (int)e->state);
	if (secret_check_size(e->kind, e->len, e->keylen, err, errlen) != 0)
		return -1;
	if (memchr(e->name, '\0', sizeof(e->name)) == NULL ||
	    (e->kind == SECRET_COOKIE) != (e->name[0] == '\0'))
		return kg_seterr(err, errlen, "%s secret: bad name",
		    secret_kind_name(e->kind));
	if (e->ver == 0 || find(ss, e->kind, e->name, e->ver) != NULL)
		return kg_seterr(err, errlen, "%s secret %s: version %u held twice or 0",
		    secret_kind_name(e->kind), e->name, e->ver);
	if (e->state == CRED_ACTIVE && secretstore_active(ss, e->kind, e->name) != NULL)
		return kg_seterr(err, errlen, "%s secret %s: two active versions",
		    secret_kind_name(e->kind), e->name);
	return append(ss, e, err, errlen);
}

/* ------------------------------------------------------------- records */

int
secretstore_encode(const struct secretstore *ss, struct sealed_buf *out)
{
	size_t i, cap = REC_FIXED + SECRET_NAME_MAX + 8 + SECRET_TLS_MAX;
	uint8_t *r;
	int rv = 0;

	if ((r = sealed_alloc(cap)) == NULL)
		return -1;
	for (i = 0; i < ss->n && rv == 0; i++) {
		const struct secret_entry *e = &ss->e[i];
		size_t off = 0, nlen = strlen(e->name);

		r[off++] = (uint8_t)e->state;
		sealed_put_be(r + off, e->ver, 4);
		sealed_put_be(r + off + 4, e->staged_at, 8);
		sealed_put_be(r + off + 12, e->verified_at, 8);
		sealed_put_be(r + off + 20, e->activated_at, 8);
		sealed_put_be(r + off + 28, e->superseded_at, 8);
		off += 36;
		sealed_put_be(r + off, nlen, 2);
		memcpy(r + off + 2, e->name, nlen);
		off += 2 + nlen;
		sealed_put_be(r + off, e->keylen, 4);
		sealed_put_be(r + off + 4, e->len, 4);
		memcpy(r + off + 8, e->val, e->len);
		off += 8 + e->len;
		rv = sealed_buf_add(out, secret_kind_record(e->kind), r, off);
	}
	sealed_free(r, cap);
	return rv;
}

/* One record into e (its value pointing into p); every length checked. */
static int
decode_entry(enum secret_kind k, const uint8_t *p, size_t n,
    struct secret_entry *e, char *err, size_t errlen)
{
	size_t off = 0, nlen;

	memset(e, 0, sizeof(*e));
	e->kind = k;
	if (n < REC_FIXED + 8)
		return kg_seterr(err, errlen, "%s secret record of %zu bytes: too short",
		    secret_kind_name(k), n);
	e->state = (enum cred_state)p[off++];
	e->ver = (uint32_t)sealed_get_be(p + off, 4);
	e->staged_at = sealed_get_be(p + off + 4, 8);
	e->verified_at = sealed_get_be(p + off + 12, 8);
	e->activated_at = sealed_get_be(p + off + 20, 8);
	e->superseded_at = sealed_get_be(p + off + 28, 8);
	off += 36;
	nlen = (size_t)sealed_get_be(p + off, 2);
	off += 2;
	if (nlen >= SECRET_NAME_MAX || n - off < nlen + 8 ||
	    memchr(p + off, '\0', nlen) != NULL)
		return kg_seterr(err, errlen, "%s secret record: bad name",
		    secret_kind_name(k));
	memcpy(e->name, p + off, nlen);
	off += nlen;
	e->keylen = (size_t)sealed_get_be(p + off, 4);
	e->len = (size_t)sealed_get_be(p + off + 4, 4);
	off += 8;
	if (e->len != n - off)
		return kg_seterr(err, errlen, "%s secret record: value of %zu bytes, "
		    "%zu left", secret_kind_name(k), e->len, n - off);
	e->val = (uint8_t *)(uintptr_t)(p + off);
	return 0;
}

int
secretstore_decode(struct secretstore *ss, const uint8_t *plain, size_t len,
    char *err, size_t errlen)
{
	struct sealed_rec rec;
	struct secret_entry e;
	size_t off = 0;
	int r;

	while ((r = sealed_next(plain, len, &off, &rec, err, errlen)) == 1) {
		enum secret_kind k = kind_of_record(rec.type);

		if (k == 0)
			continue;	/* the store information, ASA keys */
		if (decode_entry(k, rec.value, rec.len, &e, err, errlen) != 0 ||
		    secretstore_put(ss, &e, err, errlen) != 0) {
			r = -1;
			break;
		}
	}
	kg_zero(&e, sizeof(e));
	if (r == 0)
		return 0;
	while (ss->n > 0)
		drop(ss, ss->n - 1);
	return -1;
}
