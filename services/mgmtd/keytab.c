/*
 * keytab.c: a keytab file into a stage request (keytab.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "keytab.h"
#include "util.h"

struct kt_key {
	int32_t		enctype;
	uint32_t	kvno;
	size_t		len;
	uint8_t		key[32];
};

struct kt_reader {
	const uint8_t	*p;
	size_t		 left;
};

static int
get16(struct kt_reader *r, uint16_t *v)
{
	if (r->left < 2)
		return -1;
	*v = (uint16_t)(r->p[0] << 8 | r->p[1]);
	r->p += 2;
	r->left -= 2;
	return 0;
}

static int
get32(struct kt_reader *r, uint32_t *v)
{
	if (r->left < 4)
		return -1;
	*v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->left -= 4;
	return 0;
}

/* A counted string: 16-bit length, then the bytes. */
static int
get_data(struct kt_reader *r, const uint8_t **d, size_t *len)
{
	uint16_t n;

	if (get16(r, &n) < 0 || r->left < n)
		return -1;
	*d = r->p;
	*len = n;
	r->p += n;
	r->left -= n;
	return 0;
}

static int
printable(const uint8_t *d, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (d[i] <= 0x20 || d[i] >= 0x7f || d[i] == '@' || d[i] == '/')
			return 0;
	return len > 0;
}

/* One entry: principal into \p princ, key into \p k.  1 when its principal
 * is a single component ending in '$'. */
static int
entry(struct kt_reader *r, char *princ, size_t plen, struct kt_key *k)
{
	const uint8_t *realm, *comp, *key;
	size_t rlen, clen, klen, o = 0;
	uint16_t ncomp, i, etype;
	uint32_t nt, ts, vno32;
	int dollar = 0;

	if (get16(r, &ncomp) < 0 || ncomp == 0 || ncomp > 8 ||
	    get_data(r, &realm, &rlen) < 0 || !printable(realm, rlen))
		return -1;
	princ[0] = '\0';
	for (i = 0; i < ncomp; i++) {
		if (get_data(r, &comp, &clen) < 0 || !printable(comp, clen) ||
		    o + clen + 2 >= plen)
			return -1;
		if (i > 0)
			princ[o++] = '/';
		memcpy(princ + o, comp, clen);
		o += clen;
		dollar = ncomp == 1 && comp[clen - 1] == '$';
	}
	if (o + rlen + 2 >= plen)
		return -1;
	princ[o++] = '@';
	memcpy(princ + o, realm, rlen);
	princ[o + rlen] = '\0';
	if (get32(r, &nt) < 0 || get32(r, &ts) < 0 || r->left < 1)
		return -1;
	k->kvno = r->p[0];
	r->p++;
	r->left--;
	if (get16(r, &etype) < 0 || get_data(r, &key, &klen) < 0 || klen > sizeof(k->key))
		return -1;
	k->enctype = (int16_t)etype;
	k->len = klen;
	memcpy(k->key, key, klen);
	if (r->left >= 4 && get32(r, &vno32) == 0 && vno32 != 0)
		k->kvno = vno32;
	return dollar;
}

static size_t
want_len(int32_t e)
{
	return e == 18 ? 32 : (e == 17 || e == 23) ? 16 : 0;
}

/* Walks the entries; fills the account and the keys of the highest kvno. */
static int
walk(const uint8_t *buf, size_t len, char *account, size_t alen, struct kt_key *keys,
    size_t *nkeys, char *err, size_t errlen)
{
	struct kt_reader r = { buf + 2, len - 2 }, er;
	struct kt_key k;
	char princ[256];
	uint32_t size, best = 0;
	int have_dollar = 0, d;
	size_t i;

	*nkeys = 0;
	account[0] = '\0';
	while (r.left >= 4) {
		get32(&r, &size);
		if ((int32_t)size < 0) {	/* a hole left by a removed entry */
			if ((size_t)-(int64_t)(int32_t)size > r.left)
				break;
			r.p += -(int64_t)(int32_t)size;
			r.left -= (size_t)-(int64_t)(int32_t)size;
			continue;
		}
		if (size > r.left)
			return kg_seterr(err, errlen, "the keytab is truncated");
		er.p = r.p;
		er.left = size;
		r.p += size;
		r.left -= size;
		memset(&k, 0, sizeof(k));
		if ((d = entry(&er, princ, sizeof(princ), &k)) < 0)
			return kg_seterr(err, errlen, "a keytab entry is malformed");
		if (account[0] == '\0' || (d && !have_dollar)) {
			kg_strlcpy(account, princ, alen);
			have_dollar |= d;
		}
		if (want_len(k.enctype) == 0 || want_len(k.enctype) != k.len)
			continue;
		if (k.kvno > best) {
			best = k.kvno;
			kg_zero(keys, sizeof(*keys) * 3);
			*nkeys = 0;
		}
		if (k.kvno != best)
			continue;
		for (i = 0; i < *nkeys && keys[i].enctype != k.enctype; i++)
			;
		if (i == *nkeys && *nkeys < 3)
			keys[(*nkeys)++] = k;
	}
	kg_zero(&k, sizeof(k));
	if (*nkeys == 0)
		return kg_seterr(err, errlen, "the keytab holds no aes256, aes128 or rc4 "
		    "key (enctypes 18, 17, 23)");
	return 0;
}

int
keytab_to_stage_json(const uint8_t *buf, size_t len, char **json, size_t *jlen,
    char *err, size_t errlen)
{
	struct kt_key keys[3];
	char account[256], hex[65];
	json_t *o, *arr;
	size_t n = 0, i, j;
	int rc;

	*json = NULL;
	if (len > KEYTAB_MAX_BYTES)
		return kg_seterr(err, errlen, "the keytab is larger than %d bytes",
		    KEYTAB_MAX_BYTES);
	if (len < 2 || buf[0] != 0x05 || buf[1] != 0x02)
		return kg_seterr(err, errlen, "this is not a keytab file (version 0x502, as "
		    "ktpass and ktutil write)");
	if (walk(buf, len, account, sizeof(account), keys, &n, err, errlen) < 0) {
		kg_zero(keys, sizeof(keys));
		return -1;
	}
	arr = json_array();
	for (i = 0; arr != NULL && i < n; i++) {
		for (j = 0; j < keys[i].len; j++)
			snprintf(hex + 2 * j, 3, "%02x", keys[i].key[j]);
		json_array_append_new(arr, json_pack("{s:i, s:s}", "enctype",
		    (int)keys[i].enctype, "key", hex));
		kg_zero(hex, sizeof(hex));
	}
	o = json_pack("{s:s, s:I, s:o}", "account", account, "kvno",
	    (json_int_t)keys[0].kvno, "keys", arr);
	kg_zero(keys, sizeof(keys));
	*json = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);	/* jansson's frees are wiped (kg_json_wipe_on_free) */
	if (*json == NULL)
		return kg_seterr(err, errlen, "out of memory");
	*jlen = strlen(*json);
	rc = 0;
	return rc;
}
