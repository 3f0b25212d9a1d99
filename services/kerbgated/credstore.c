/*
 * credstore.c: ASA credentials and their lifecycle (credstore.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "credstore.h"
#include "util.h"

/* The ASA_KEY record, version 1 (docs/credentials.md):
 *   state 1 | kvno 4 | staged 8 | verified 8 | activated 8 | superseded 8 |
 *   principal length 2 | principal | key count 1 |
 *   { enctype 4 | key length 1 | key } per key                              */
#define REC_FIXED	(1 + 4 + 8 * 4 + 2)

const char *
cred_state_name(enum cred_state s)
{
	switch (s) {
	case CRED_STAGED:	return "staged";
	case CRED_VERIFIED:	return "verified";
	case CRED_ACTIVE:	return "active";
	case CRED_RETAINED:	return "retained";
	}
	return "unknown";
}

void
cred_fmt_time(uint64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL)
		kg_strlcpy(buf, "-", len);
	else
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

struct credstore *
credstore_new(unsigned retention_s)
{
	struct credstore *cs;

	if ((cs = calloc(1, sizeof(*cs))) == NULL)
		return NULL;
	if ((cs->e = sealed_alloc(CRED_MAX_ENTRIES * sizeof(*cs->e))) == NULL) {
		free(cs);
		return NULL;
	}
	cs->retention_s = retention_s;
	return cs;
}

void
credstore_free(struct credstore *cs)
{
	if (cs == NULL)
		return;
	sealed_free(cs->e, CRED_MAX_ENTRIES * sizeof(*cs->e));
	free(cs);
}

static struct cred_entry *
find(const struct credstore *cs, int kvno)
{
	size_t i;

	for (i = 0; i < cs->n; i++)
		if (cs->e[i].kvno == kvno)
			return &cs->e[i];
	return NULL;
}

const struct cred_entry *
credstore_find(const struct credstore *cs, int kvno)
{
	return find(cs, kvno);
}

const struct cred_entry *
credstore_active(const struct credstore *cs)
{
	size_t i;

	for (i = 0; i < cs->n; i++)
		if (cs->e[i].state == CRED_ACTIVE)
			return &cs->e[i];
	return NULL;
}

/* Removes entry e, keeping the others in order; wipes the slot. */
static void
drop(struct credstore *cs, struct cred_entry *e)
{
	size_t i = (size_t)(e - cs->e);

	memmove(e, e + 1, (cs->n - i - 1) * sizeof(*e));
	cs->n--;
	kg_zero(&cs->e[cs->n], sizeof(*e));
	cs->serial++;
}

static int
check_keys(const struct cred_key *keys, size_t nkeys, char *err, size_t errlen)
{
	size_t i, want;

	if (nkeys == 0 || nkeys > CRED_MAX_KEYS)
		return kg_seterr(err, errlen, "a credential needs 1 to %d keys, not %zu",
		    CRED_MAX_KEYS, nkeys);
	for (i = 0; i < nkeys; i++) {
		switch (keys[i].enctype) {
		case CRED_ETYPE_AES256:	want = 32; break;
		case CRED_ETYPE_AES128:	want = 16; break;
		case CRED_ETYPE_RC4:	want = 16; break;
		default:
			return kg_seterr(err, errlen, "enctype %d is not one AD uses "
			    "(18, 17 or 23)", (int)keys[i].enctype);
		}
		if (keys[i].len != want)
			return kg_seterr(err, errlen, "enctype %d key of %zu bytes, not %zu",
			    (int)keys[i].enctype, keys[i].len, want);
	}
	return 0;
}

/* What stage and put refuse alike. */
static int
admissible(const struct credstore *cs, const char *principal, int kvno,
    char *err, size_t errlen)
{
	const struct cred_entry *a = credstore_active(cs), *old;

	if (principal == NULL || principal[0] == '\0' ||
	    strlen(principal) >= CRED_PRINCIPAL_MAX || strchr(principal, '@') == NULL)
		return kg_seterr(err, errlen, "the account must be given as ACCOUNT@REALM");
	if (kvno <= 0)
		return kg_seterr(err, errlen, "kvno %d: a kvno is a positive number", kvno);
	if (a != NULL && strcasecmp(a->principal, principal) != 0)
		return kg_seterr(err, errlen, "the active account is %s, not %s: "
		    "import a keytab to change the account", a->principal, principal);
	/* Staged entries alone bind the account too: a store of two
	 * accounts does not load again (credstore_put). */
	if (cs->n > 0 && strcasecmp(cs->e[0].principal, principal) != 0)
		return kg_seterr(err, errlen, "the account of this store is %s, not %s: "
		    "retire its kvnos first to change the account", cs->e[0].principal,
		    principal);
	if (a != NULL && kvno <= a->kvno)
		return kg_seterr(err, errlen, "kvno %d is not above the active kvno %d: "
		    "AD raises the kvno with every password change; stage the account's "
		    "current kvno", kvno, a->kvno);
	if ((old = find(cs, kvno)) != NULL && old->state != CRED_STAGED)
		return kg_seterr(err, errlen, "kvno %d is held already (%s)", kvno,
		    cred_state_name(old->state));
	return 0;
}

/*
 * One key per enctype, as AD has, for what is staged: verification tries
 * the first, and an unverified twin must not serve.  (Not checked on load:
 * a keytab or store that held twins before still loads.)
 */
static int
one_key_per_enctype(const struct cred_key *keys, size_t nkeys, char *err,
    size_t errlen)
{
	size_t i, j;

	for (i = 0; i < nkeys; i++)
		for (j = 0; j < i; j++)
			if (keys[j].enctype == keys[i].enctype)
				return kg_seterr(err, errlen, "enctype %d is given twice: "
				    "a credential has one key per enctype",
				    (int)keys[i].enctype);
	return 0;
}

int
credstore_stage(struct credstore *cs, const char *principal, int kvno,
    const struct cred_key *keys, size_t nkeys, uint64_t now, char *err,
    size_t errlen)
{
	struct cred_entry *e;

	if (admissible(cs, principal, kvno, err, errlen) != 0 ||
	    check_keys(keys, nkeys, err, errlen) != 0 ||
	    one_key_per_enctype(keys, nkeys, err, errlen) != 0)
		return -1;
	if ((e = find(cs, kvno)) == NULL) {
		if (cs->n == CRED_MAX_ENTRIES)
			return kg_seterr(err, errlen, "%d credentials held already: retire "
			    "one first", CRED_MAX_ENTRIES);
		e = &cs->e[cs->n++];
	}
	kg_zero(e, sizeof(*e));
	kg_strlcpy(e->principal, principal, sizeof(e->principal));
	e->kvno = kvno;
	e->state = CRED_STAGED;
	e->staged_at = now;
	e->nkeys = nkeys;
	memcpy(e->keys, keys, nkeys * sizeof(*keys));
	cs->serial++;
	return 0;
}

int
credstore_mark_verified(struct credstore *cs, int kvno, uint64_t now, char *err,
    size_t errlen)
{
	struct cred_entry *e = find(cs, kvno);

	if (e == NULL || e->state != CRED_STAGED)
		return kg_seterr(err, errlen, "kvno %d is not staged", kvno);
	e->state = CRED_VERIFIED;
	e->verified_at = now;
	cs->serial++;
	return 0;
}

int
credstore_activate(struct credstore *cs, int kvno, uint64_t now, char *err,
    size_t errlen)
{
	struct cred_entry *e = find(cs, kvno), *a;

	if (e == NULL)
		return kg_seterr(err, errlen, "kvno %d is not held: stage it first", kvno);
	if (e->state == CRED_ACTIVE)
		return kg_seterr(err, errlen, "kvno %d is active already", kvno);
	if (e->state != CRED_VERIFIED)
		return kg_seterr(err, errlen, "kvno %d is %s, not verified: verify it "
		    "first (only a credential the KDC confirmed is activated)", kvno,
		    cred_state_name(e->state));
	/* A verified kvno a later roll overtook is AD's previous password:
	 * activating it would put old keys in front of the current ones. */
	if ((a = (struct cred_entry *)credstore_active(cs)) != NULL && kvno < a->kvno)
		return kg_seterr(err, errlen, "kvno %d is below the active kvno %d: AD "
		    "has moved past it; retire it (a later roll superseded it)", kvno,
		    a->kvno);
	if (a != NULL) {
		a->state = CRED_RETAINED;
		a->superseded_at = now;
	}
	e->state = CRED_ACTIVE;
	e->activated_at = now;
	cs->serial++;
	return 0;
}

int
credstore_retire(struct credstore *cs, int kvno, char *err, size_t errlen)
{
	struct cred_entry *e = find(cs, kvno);

	if (e == NULL)
		return kg_seterr(err, errlen, "kvno %d is not held", kvno);
	if (e->state == CRED_ACTIVE)
		return kg_seterr(err, errlen, "kvno %d is active: activate its successor "
		    "first", kvno);
	drop(cs, e);
	return 0;
}

size_t
credstore_expire(struct credstore *cs, uint64_t now, int *gone, size_t max)
{
	size_t i = 0, n = 0;

	while (i < cs->n) {
		struct cred_entry *e = &cs->e[i];

		if (e->state == CRED_RETAINED &&
		    e->superseded_at + cs->retention_s <= now) {
			if (n < max)
				gone[n] = e->kvno;
			n++;
			drop(cs, e);
			continue;
		}
		i++;
	}
	return n;
}

int
credstore_put(struct credstore *cs, const struct cred_entry *e, char *err,
    size_t errlen)
{
	const struct cred_entry *a = credstore_active(cs);

	if (e->state < CRED_STAGED || e->state > CRED_RETAINED)
		return kg_seterr(err, errlen, "kvno %d: unknown state %d", e->kvno,
		    (int)e->state);
	if (e->state == CRED_ACTIVE && a != NULL)
		return kg_seterr(err, errlen, "two active kvnos (%d and %d)", a->kvno,
		    e->kvno);
	if (e->kvno <= 0 || find(cs, e->kvno) != NULL)
		return kg_seterr(err, errlen, "kvno %d held twice or not positive",
		    e->kvno);
	if (check_keys(e->keys, e->nkeys, err, errlen) != 0)
		return -1;
	if (e->principal[0] == '\0' || strchr(e->principal, '@') == NULL ||
	    memchr(e->principal, '\0', sizeof(e->principal)) == NULL)
		return kg_seterr(err, errlen, "kvno %d: bad account name", e->kvno);
	if (cs->n > 0 && strcasecmp(cs->e[0].principal, e->principal) != 0)
		return kg_seterr(err, errlen, "credentials of two accounts (%s, %s)",
		    cs->e[0].principal, e->principal);
	if (cs->n == CRED_MAX_ENTRIES)
		return kg_seterr(err, errlen, "more than %d credentials", CRED_MAX_ENTRIES);
	cs->e[cs->n++] = *e;
	cs->serial++;
	return 0;
}

/* ------------------------------------------------------------- records */

int
credstore_encode(const struct credstore *cs, uint64_t now, struct sealed_buf *out)
{
	uint8_t info[16], *r;
	size_t i, k, plen, len;
	int rv = 0;

	sealed_put_be(info, cs->serial, 8);
	sealed_put_be(info + 8, now, 8);
	if (sealed_buf_add(out, SEALED_REC_STORE_INFO, info, sizeof(info)) != 0)
		return -1;
	len = REC_FIXED + CRED_PRINCIPAL_MAX + 1 + CRED_MAX_KEYS * (5 + CRED_MAX_KEY);
	if ((r = sealed_alloc(len)) == NULL)
		return -1;
	for (i = 0; i < cs->n && rv == 0; i++) {
		const struct cred_entry *e = &cs->e[i];
		size_t off = 0;

		plen = strlen(e->principal);
		r[off++] = (uint8_t)e->state;
		sealed_put_be(r + off, (uint32_t)e->kvno, 4);
		off += 4;
		sealed_put_be(r + off, e->staged_at, 8);
		sealed_put_be(r + off + 8, e->verified_at, 8);
		sealed_put_be(r + off + 16, e->activated_at, 8);
		sealed_put_be(r + off + 24, e->superseded_at, 8);
		off += 32;
		sealed_put_be(r + off, plen, 2);
		off += 2;
		memcpy(r + off, e->principal, plen);
		off += plen;
		r[off++] = (uint8_t)e->nkeys;
		for (k = 0; k < e->nkeys; k++) {
			sealed_put_be(r + off, (uint32_t)e->keys[k].enctype, 4);
			r[off + 4] = (uint8_t)e->keys[k].len;
			memcpy(r + off + 5, e->keys[k].bytes, e->keys[k].len);
			off += 5 + e->keys[k].len;
		}
		rv = sealed_buf_add(out, SEALED_REC_ASA_KEY, r, off);
	}
	sealed_free(r, len);
	return rv;
}

/* One ASA_KEY record into e; every length checked. */
static int
decode_entry(const uint8_t *p, size_t n, struct cred_entry *e, char *err,
    size_t errlen)
{
	size_t off = 0, plen, k;

	memset(e, 0, sizeof(*e));
	if (n < REC_FIXED)
		return kg_seterr(err, errlen, "credential record of %zu bytes: too short", n);
	e->state = (enum cred_state)p[off++];
	e->kvno = (int)sealed_get_be(p + off, 4);
	off += 4;
	e->staged_at = sealed_get_be(p + off, 8);
	e->verified_at = sealed_get_be(p + off + 8, 8);
	e->activated_at = sealed_get_be(p + off + 16, 8);
	e->superseded_at = sealed_get_be(p + off + 24, 8);
	off += 32;
	plen = (size_t)sealed_get_be(p + off, 2);
	off += 2;
	if (plen == 0 || plen >= CRED_PRINCIPAL_MAX || n - off < plen + 1 ||
	    memchr(p + off, '\0', plen) != NULL)
		return kg_seterr(err, errlen, "credential record: bad account name");
	memcpy(e->principal, p + off, plen);
	off += plen;
	e->nkeys = p[off++];
	if (e->nkeys == 0 || e->nkeys > CRED_MAX_KEYS)
		return kg_seterr(err, errlen, "credential record: %zu keys", e->nkeys);
	for (k = 0; k < e->nkeys; k++) {
		if (n - off < 5)
			return kg_seterr(err, errlen, "credential record: key %zu cut short", k);
		e->keys[k].enctype = (int32_t)sealed_get_be(p + off, 4);
		e->keys[k].len = p[off + 4];
		off += 5;
		if (e->keys[k].len > CRED_MAX_KEY || n - off < e->keys[k].len)
			return kg_seterr(err, errlen, "credential record: key %zu cut short", k);
		memcpy(e->keys[k].bytes, p + off, e->keys[k].len);
		off += e->keys[k].len;
	}
	if (off != n)
		return kg_seterr(err, errlen, "credential record: %zu bytes left over",
		    n - off);
	return 0;
}

int
credstore_decode(struct credstore *cs, const uint8_t *plain, size_t len, char *err,
    size_t errlen)
{
	struct sealed_rec rec;
	struct cred_entry *e;
	size_t off = 0;
	int r, info = 0, rv = -1;

	if ((e = sealed_alloc(sizeof(*e))) == NULL)
		return kg_seterr(err, errlen, "out of memory");
	while ((r = sealed_next(plain, len, &off, &rec, err, errlen)) == 1) {
		if (rec.type == SEALED_REC_STORE_INFO) {
			if (rec.len != 16 || info++) {
				kg_seterr(err, errlen, "bad store information record");
				goto out;
			}
			continue;
		}
		if (rec.type != SEALED_REC_ASA_KEY)
			continue;	/* the other secrets: secretstore.c's */
		if (decode_entry(rec.value, rec.len, e, err, errlen) != 0 ||
		    credstore_put(cs, e, err, errlen) != 0)
			goto out;
	}
	if (r == 0 && !info)
		kg_seterr(err, errlen, "no store information record");
	else if (r == 0)
		rv = 0;
out:
	sealed_free(e, sizeof(*e));
	if (rv != 0) {
		kg_zero(cs->e, CRED_MAX_ENTRIES * sizeof(*cs->e));
		cs->n = 0;
	}
	return rv;
}
