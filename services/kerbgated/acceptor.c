/*
 * acceptor.c: AP-REQ acceptance with Heimdal's krb5 API and a MEMORY keytab.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <krb5.h>
#include <asn1_err.h>
#include <der.h>

#include <mbedtls/constant_time.h>
#include <mbedtls/md.h>
#include <mbedtls/md5.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>

#include "acceptor.h"
#include "kcrypto.h"
#include "util.h"
#include "negotiate.h"
#include "replay.h"

/* GSS checksum (RFC 4121 §4.1.1): Lgth, Bnd, Flags, then optional fields. */
#define GSS_CKSUM_MIN_LEN	24
#define GSS_CKSUM_BND_LEN	16
#define GSS_FLAG_MUTUAL		2

/*
 * A keytab key with its ticket-decryption keys derived once (see kcrypto.h):
 * the fast path's cache, emptied whenever the keytab changes.
 */
struct fast_key {
	krb5_const_principal server;	/* one of kg_acceptor.spns */
	krb5_kvno kvno;
	krb5_keyblock key;
	struct kc_usage ticket;		/* usage 2, decrypt */
	struct kc_usage pac;		/* usage 17, the PAC's server signature */
	bool used;
};
#define FAST_KEYS	16

struct kg_acceptor {
	krb5_context ctx;
	krb5_keytab kt;			/* MEMORY:, NULL until a keytab is loaded */
	krb5_principal *spns;		/* the SPN principals the keytab carries */
	size_t nspns;
	struct kg_replay *replay;
	unsigned generation;
	struct fast_key fast[FAST_KEYS];
	unsigned fast_next;		/* the slot to replace next when full */
	uint64_t fast_accepts, slow_accepts;
};

static void fast_keys_clear(struct kg_acceptor *acc);


static int
set_reason(struct accept_result *res, enum accept_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
set_reason(struct accept_result *res, enum accept_status status, const char *fmt, ...)
{
	va_list ap;

	res->status = status;
	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
	return -1;
}

/* Heimdal's message for a krb5 error, copied into buf. */
static const char *
krb5_msg(krb5_context ctx, krb5_error_code code, char *buf, size_t len)
{
	const char *m = krb5_get_error_message(ctx, code);

	snprintf(buf, len, "%s", m != NULL ? m : "unknown Kerberos error");
	krb5_free_error_message(ctx, m);
	return buf;
}

static void
enctype_name(krb5_context ctx, krb5_enctype etype, char *buf, size_t len)
{
	char *s = NULL;

	/* The name AD administrators and MIT use; Heimdal says arcfour-hmac-md5. */
	if (etype == ETYPE_ARCFOUR_HMAC_MD5) {
		snprintf(buf, len, "rc4-hmac");
		return;
	}
	if (krb5_enctype_to_string(ctx, etype, &s) == 0 && s != NULL)
		snprintf(buf, len, "%s", s);
	else
		snprintf(buf, len, "enctype %d", (int)etype);
	free(s);
}

static bool
is_rc4(krb5_enctype etype)
{
	return etype == ETYPE_ARCFOUR_HMAC_MD5 || etype == ETYPE_ARCFOUR_HMAC_MD5_56;
}

/* ---------------------------------------------------------------- principals */

/* AD compares SPNs and realms case-insensitively. */
static bool
principal_matches(krb5_context ctx, krb5_const_principal p, const PrincipalName *name,
    const char *realm)
{
	size_t i;

	if (krb5_principal_get_num_comp(ctx, p) != name->name_string.len)
		return false;
	for (i = 0; i < name->name_string.len; i++)
		if (strcasecmp(krb5_principal_get_comp_string(ctx, p, i),
		    name->name_string.val[i]) != 0)
			return false;
	return strcasecmp(krb5_principal_get_realm(ctx, p), realm) == 0;
}

/* "http/mail.corp.contoso.com[@REALM]" against a ticket's sname and realm. */
static bool
spn_string_matches(const char *spn, const PrincipalName *name, const char *realm)
{
	const char *s = spn;
	size_t i, n;

	for (i = 0; i < name->name_string.len; i++) {
		if (i > 0 && *s++ != '/')
			return false;
		n = strcspn(s, "/@");
		if (n != strlen(name->name_string.val[i]) ||
		    strncasecmp(s, name->name_string.val[i], n) != 0)
			return false;
		s += n;
	}
	return *s == '\0' || (*s == '@' && strcasecmp(s + 1, realm) == 0);
}

/* "http/mail.corp.contoso.com" (components only) of a ticket's sname. */
static void
sname_string(const PrincipalName *name, char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < name->name_string.len && off < len; i++) {
		int n = snprintf(buf + off, len - off, "%s%s", i ? "/" : "",
		    name->name_string.val[i]);

		if (n < 0)
			break;
		off += (size_t)n;
	}
}

static krb5_error_code
parse_principal(krb5_context ctx, const char *name, const char *default_realm,
    krb5_principal *out)
{
	krb5_error_code ret;

	if (strchr(name, '@') != NULL || default_realm == NULL)
		return krb5_parse_name(ctx, name, out);
	ret = krb5_parse_name_flags(ctx, name, KRB5_PRINCIPAL_PARSE_NO_REALM, out);
	if (ret == 0)
		ret = krb5_principal_set_realm(ctx, *out, default_realm);
	if (ret != 0 && *out != NULL) {
		krb5_free_principal(ctx, *out);
		*out = NULL;
	}
	return ret;
}

static void
free_principals(krb5_context ctx, krb5_principal *p, size_t n)
{
	size_t i;

	for (i = 0; p != NULL && i < n; i++)
		krb5_free_principal(ctx, p[i]);
	free(p);
}

/* ---------------------------------------------------------------- lifecycle */

int
acceptor_new(struct kg_acceptor **out, size_t replay_entries, char *err, size_t errlen)
{
	struct kg_acceptor *acc;

	*out = NULL;
	if ((acc = calloc(1, sizeof(*acc))) == NULL)
		return kg_seterr(err, errlen, "out of memory");
	if (krb5_init_context(&acc->ctx) != 0) {
		free(acc);
		return kg_seterr(err, errlen, "cannot initialise a Kerberos context");
	}
	if ((acc->replay = replay_new(replay_entries)) == NULL) {
		acceptor_free(acc);
		return kg_seterr(err, errlen, "cannot allocate a replay cache of %zu entries",
		    replay_entries);
	}
	*out = acc;
	return 0;
}

void
acceptor_set_replay_quota(struct kg_acceptor *acc, size_t quota)
{
	replay_set_quota(acc->replay, quota);
}

void
acceptor_use_replay(struct kg_acceptor *acc, struct kg_replay *rc)
{
	replay_free(acc->replay);
	acc->replay = rc;
}

void
acceptor_free(struct kg_acceptor *acc)
{
	if (acc == NULL)
		return;
	/* Closing the last handle of a MEMORY keytab frees its entries,
	 * and Heimdal zeroizes each key as it frees it. */
	fast_keys_clear(acc);
	if (acc->kt != NULL)
		krb5_kt_close(acc->ctx, acc->kt);
	free_principals(acc->ctx, acc->spns, acc->nspns);
	replay_free(acc->replay);
	krb5_free_context(acc->ctx);
	explicit_bzero(acc, sizeof(*acc));
	free(acc);
}

/* ---------------------------------------------------------------- keytab */

struct entry_list {
	krb5_keytab_entry *e;
	size_t n, cap;
};

static void
entry_list_free(krb5_context ctx, struct entry_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		krb5_kt_free_entry(ctx, &l->e[i]);
	free(l->e);
	memset(l, 0, sizeof(*l));
}

/* Reads every entry of a keytab file; the file is closed on return. */
static int
read_keytab_file(krb5_context ctx, const char *path, struct entry_list *l,
    char *err, size_t errlen)
{
	krb5_keytab file = NULL;
	krb5_kt_cursor cursor;
	krb5_keytab_entry e;
	krb5_error_code ret;
	char name[4096], msg[256];

	if (snprintf(name, sizeof(name), "%s%s", strncmp(path, "FILE:", 5) == 0 ? "" : "FILE:",
	    path) >= (int)sizeof(name))
		return kg_seterr(err, errlen, "keytab path too long");
	if ((ret = krb5_kt_resolve(ctx, name, &file)) != 0)
		return kg_seterr(err, errlen, "cannot read keytab %s: %s", path,
		    krb5_msg(ctx, ret, msg, sizeof(msg)));
	if ((ret = krb5_kt_start_seq_get(ctx, file, &cursor)) != 0) {
		krb5_kt_close(ctx, file);
		return kg_seterr(err, errlen, "cannot read keytab %s: %s", path,
		    krb5_msg(ctx, ret, msg, sizeof(msg)));
	}
	while ((ret = krb5_kt_next_entry(ctx, file, &e, &cursor)) == 0) {
		if (l->n == l->cap) {
			size_t cap = l->cap ? 2 * l->cap : 16;
			krb5_keytab_entry *ne = realloc(l->e, cap * sizeof(*ne));

			if (ne == NULL) {
				krb5_kt_free_entry(ctx, &e);
				ret = ENOMEM;
				break;
			}
			l->e = ne;
			l->cap = cap;
		}
		l->e[l->n++] = e;
	}
	krb5_kt_end_seq_get(ctx, file, &cursor);
	krb5_kt_close(ctx, file);
	if (ret != KRB5_KT_END)
		return kg_seterr(err, errlen, "cannot read keytab %s: %s", path,
		    krb5_msg(ctx, ret, msg, sizeof(msg)));
	if (l->n == 0)
		return kg_seterr(err, errlen, "keytab %s holds no keys", path);
	return 0;
}

static bool
same_slot(const krb5_keytab_entry *a, const krb5_keytab_entry *b)
{
	return a->vno == b->vno && a->keyblock.keytype == b->keyblock.keytype;
}

static bool
same_key(const krb5_keytab_entry *a, const krb5_keytab_entry *b)
{
	return a->keyblock.keyvalue.length == b->keyblock.keyvalue.length &&
	    memcmp(a->keyblock.keyvalue.data, b->keyblock.keyvalue.data,
	    a->keyblock.keyvalue.length) == 0;
}

/* One account, one realm: anything else would put the wrong key under an SPN. */
static int
check_one_account(krb5_context ctx, const char *path, const struct entry_list *l,
    char *err, size_t errlen)
{
	const char *realm = krb5_principal_get_realm(ctx, l->e[0].principal);
	char a[256], b[256], et[40];
	size_t i, j;

	for (i = 0; i < l->n; i++) {
		if (strcmp(krb5_principal_get_realm(ctx, l->e[i].principal), realm) != 0)
			return kg_seterr(err, errlen, "keytab %s holds keys of several realms "
			    "(%s, %s): export only the ASA account's keys", path, realm,
			    krb5_principal_get_realm(ctx, l->e[i].principal));
		for (j = 0; j < i; j++) {
			if (!same_slot(&l->e[i], &l->e[j]) || same_key(&l->e[i], &l->e[j]))
				continue;
			krb5_unparse_name_fixed(ctx, l->e[j].principal, a, sizeof(a));
			krb5_unparse_name_fixed(ctx, l->e[i].principal, b, sizeof(b));
			enctype_name(ctx, l->e[i].keyblock.keytype, et, sizeof(et));
			return kg_seterr(err, errlen, "keytab %s holds two different %s keys for "
			    "kvno %u (%s and %s): export only the ASA account's keys",
			    path, et, (unsigned)l->e[i].vno, a, b);
		}
	}
	return 0;
}

static int
new_memory_keytab(struct kg_acceptor *acc, krb5_keytab *kt)
{
	char name[128];

	snprintf(name, sizeof(name), "MEMORY:kerbgate-%ld-%p-%u", (long)getpid(),
	    (void *)acc, ++acc->generation);
	return krb5_kt_resolve(acc->ctx, name, kt);
}

/* Adds entry e under its own principal and under each SPN. */
static krb5_error_code
add_with_spns(krb5_context ctx, krb5_keytab kt, const krb5_keytab_entry *e,
    krb5_principal *spns, size_t nspns, bool spns_only)
{
	krb5_keytab_entry copy = *e;
	krb5_error_code ret = 0;
	size_t i;

	if (!spns_only && (ret = krb5_kt_add_entry(ctx, kt, &copy)) != 0)
		return ret;
	for (i = 0; i < nspns && ret == 0; i++) {
		copy.principal = spns[i];
		ret = krb5_kt_add_entry(ctx, kt, &copy);
	}
	return ret;
}

int
acceptor_load_keytab(struct kg_acceptor *acc, const char *path,
    const char *const *spns, size_t nspns, char *err, size_t errlen)
{
	struct entry_list l = { NULL, 0, 0 };
	krb5_principal *sp = NULL;
	krb5_keytab kt = NULL;
	krb5_error_code ret;
	char msg[256];
	size_t i, j, keys = 0;
	int rv = -1;

	if (acc == NULL || path == NULL || (nspns > 0 && spns == NULL))
		return kg_seterr(err, errlen, "invalid argument");
	if (read_keytab_file(acc->ctx, path, &l, err, errlen) != 0 ||
	    check_one_account(acc->ctx, path, &l, err, errlen) != 0)
		goto out;

	if (nspns > 0 && (sp = calloc(nspns, sizeof(*sp))) == NULL) {
		kg_seterr(err, errlen, "out of memory");
		goto out;
	}
	for (i = 0; i < nspns; i++) {
		if ((ret = parse_principal(acc->ctx, spns[i],
		    krb5_principal_get_realm(acc->ctx, l.e[0].principal), &sp[i])) != 0) {
			kg_seterr(err, errlen, "bad SPN \"%s\": %s", spns[i],
			    krb5_msg(acc->ctx, ret, msg, sizeof(msg)));
			goto out;
		}
	}

	if ((ret = new_memory_keytab(acc, &kt)) != 0) {
		kg_seterr(err, errlen, "cannot create a memory keytab: %s",
		    krb5_msg(acc->ctx, ret, msg, sizeof(msg)));
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		bool first = true;

		for (j = 0; j < i && first; j++)
			first = !same_slot(&l.e[i], &l.e[j]);
		/* Every entry as it is; the SPN copies once per (kvno, enctype). */
		if ((ret = krb5_kt_add_entry(acc->ctx, kt, &l.e[i])) != 0 ||
		    (first && (ret = add_with_spns(acc->ctx, kt, &l.e[i], sp, nspns, true)) != 0)) {
			kg_seterr(err, errlen, "cannot fill the memory keytab: %s",
			    krb5_msg(acc->ctx, ret, msg, sizeof(msg)));
			goto out;
		}
		keys += first;
	}

	/* Switch only now: a failed reload leaves the old keys serving. */
	fast_keys_clear(acc);
	if (acc->kt != NULL)
		krb5_kt_close(acc->ctx, acc->kt);
	free_principals(acc->ctx, acc->spns, acc->nspns);
	acc->kt = kt;
	acc->spns = sp;
	acc->nspns = nspns;
	kt = NULL;
	sp = NULL;
	rv = (int)keys;
out:
	if (kt != NULL)
		krb5_kt_close(acc->ctx, kt);
	free_principals(acc->ctx, sp, nspns);
	entry_list_free(acc->ctx, &l);
	return rv;
}

int
acceptor_load_empty(struct kg_acceptor *acc, const char *realm,
    const char *const *spns, size_t nspns, char *err, size_t errlen)
{
	krb5_principal *sp = NULL;
	krb5_keytab kt = NULL;
	krb5_error_code ret;
	char msg[256];
	size_t i;

	if (acc == NULL || realm == NULL || nspns == 0 || spns == NULL)
		return kg_seterr(err, errlen, "invalid argument");
	if ((sp = calloc(nspns, sizeof(*sp))) == NULL)
		return kg_seterr(err, errlen, "out of memory");
	for (i = 0; i < nspns; i++)
		if ((ret = parse_principal(acc->ctx, spns[i], realm, &sp[i])) != 0) {
			kg_seterr(err, errlen, "bad SPN \"%s\": %s", spns[i],
			    krb5_msg(acc->ctx, ret, msg, sizeof(msg)));
			free_principals(acc->ctx, sp, nspns);
			return -1;
		}
	if ((ret = new_memory_keytab(acc, &kt)) != 0) {
		free_principals(acc->ctx, sp, nspns);
		return kg_seterr(err, errlen, "cannot create a memory keytab: %s",
		    krb5_msg(acc->ctx, ret, msg, sizeof(msg)));
	}
	fast_keys_clear(acc);
	if (acc->kt != NULL)
		krb5_kt_close(acc->ctx, acc->kt);
	free_principals(acc->ctx, acc->spns, acc->nspns);
	acc->kt = kt;
	acc->spns = sp;
	acc->nspns = nspns;
	return 0;
}

static const char *
keytab_realm(const struct kg_acceptor *acc)
{
	return acc->nspns > 0 ? krb5_principal_get_realm(acc->ctx, acc->spns[0]) : NULL;
}

int
acceptor_add_key(struct kg_acceptor *acc, const char *principal, int kvno,
    int32_t enctype, const uint8_t *key, size_t keylen, char *err, size_t errlen)
{
	krb5_keytab_entry e;
	krb5_error_code ret;
	size_t want;
	char msg[256];

	if (acc == NULL || acc->kt == NULL)
		return kg_seterr(err, errlen, "no keytab loaded");
	if (principal == NULL || key == NULL || kvno <= 0)
		return kg_seterr(err, errlen, "invalid argument");
	if (krb5_enctype_keysize(acc->ctx, enctype, &want) != 0)
		return kg_seterr(err, errlen, "enctype %d not supported", (int)enctype);
	if (keylen != want)
		return kg_seterr(err, errlen, "key for enctype %d must be %zu bytes, not %zu",
		    (int)enctype, want, keylen);

	memset(&e, 0, sizeof(e));
	if ((ret = parse_principal(acc->ctx, principal, keytab_realm(acc), &e.principal)) != 0)
		return kg_seterr(err, errlen, "bad principal \"%s\": %s", principal,
		    krb5_msg(acc->ctx, ret, msg, sizeof(msg)));
	e.vno = (krb5_kvno)kvno;
	e.timestamp = (uint32_t)time(NULL);
	e.keyblock.keytype = enctype;
	e.keyblock.keyvalue.length = keylen;
	e.keyblock.keyvalue.data = (void *)(uintptr_t)key;	/* copied by add_entry */
	fast_keys_clear(acc);
	ret = add_with_spns(acc->ctx, acc->kt, &e, acc->spns, acc->nspns, false);
	krb5_free_principal(acc->ctx, e.principal);
	if (ret != 0)
		return kg_seterr(err, errlen, "cannot add the key: %s",
		    krb5_msg(acc->ctx, ret, msg, sizeof(msg)));
	return 0;
}

int
acceptor_keytab(struct kg_acceptor *acc, krb5_context *ctx, krb5_keytab *kt)
{
	if (acc == NULL || acc->kt == NULL)
		return -1;
	*ctx = acc->ctx;
	*kt = acc->kt;
	return 0;
}

/* Entries of the keytab with this principal and kvno (0: any kvno). */
static size_t
count_entries(struct kg_acceptor *acc, krb5_const_principal p, krb5_kvno kvno)
{
	krb5_kt_cursor cursor;
	krb5_keytab_entry e;
	size_t n = 0;

	if (krb5_kt_start_seq_get(acc->ctx, acc->kt, &cursor) != 0)
		return 0;
	while (krb5_kt_next_entry(acc->ctx, acc->kt, &e, &cursor) == 0) {
		n += krb5_kt_compare(acc->ctx, &e, p, kvno, 0);
		krb5_kt_free_entry(acc->ctx, &e);
	}
	krb5_kt_end_seq_get(acc->ctx, acc->kt, &cursor);
	return n;
}

int
acceptor_remove_kvno(struct kg_acceptor *acc, const char *principal, int kvno,
    char *err, size_t errlen)
{
	krb5_keytab_entry e;
	krb5_error_code ret;
	size_t i, removed = 0;
	char msg[256];

	if (acc == NULL || acc->kt == NULL)
		return kg_seterr(err, errlen, "no keytab loaded");
	if (principal == NULL || kvno <= 0)	/* kvno 0 would match every kvno */
		return kg_seterr(err, errlen, "invalid argument");

	memset(&e, 0, sizeof(e));
	if ((ret = parse_principal(acc->ctx, principal, keytab_realm(acc), &e.principal)) != 0)
		return kg_seterr(err, errlen, "bad principal \"%s\": %s", principal,
		    krb5_msg(acc->ctx, ret, msg, sizeof(msg)));
	e.vno = (krb5_kvno)kvno;
	e.keyblock.keytype = 0;		/* every enctype */
	fast_keys_clear(acc);
	for (i = 0; i <= acc->nspns; i++) {
		krb5_principal p = i == 0 ? e.principal : acc->spns[i - 1];
		size_t n = count_entries(acc, p, e.vno);
		krb5_keytab_entry match = e;

		if (n == 0)
			continue;
		match.principal = p;
		if ((ret = krb5_kt_remove_entry(acc->ctx, acc->kt, &match)) != 0) {
			krb5_free_principal(acc->ctx, e.principal);
			return kg_seterr(err, errlen, "cannot remove kvno %d: %s", kvno,
			    krb5_msg(acc->ctx, ret, msg, sizeof(msg)));
		}
		removed += n;
	}
	krb5_free_principal(acc->ctx, e.principal);
	return (int)removed;
}

static int
cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* Distinct kvnos held for a principal, sorted; enctypes held for `kvno`. */
static size_t
held_kvnos(struct kg_acceptor *acc, const PrincipalName *name, const char *realm,
    int *kvnos, size_t max, krb5_kvno kvno, krb5_enctype *etypes, size_t *netypes,
    size_t etmax)
{
	krb5_kt_cursor cursor;
	krb5_keytab_entry e;
	size_t n = 0, i, kept;

	if (netypes != NULL)
		*netypes = 0;
	if (acc->kt == NULL || krb5_kt_start_seq_get(acc->ctx, acc->kt, &cursor) != 0)
		return 0;
	while (krb5_kt_next_entry(acc->ctx, acc->kt, &e, &cursor) == 0) {
		if (principal_matches(acc->ctx, e.principal, name, realm)) {
			bool dup = false;

			for (i = 0; i < n && i < max; i++)
				dup = dup || kvnos[i] == (int)e.vno;
			if (!dup) {
				if (n < max)
					kvnos[n] = (int)e.vno;
				n++;
			}
			if (netypes != NULL && e.vno == kvno && *netypes < etmax)
				etypes[(*netypes)++] = e.keyblock.keytype;
		}
		krb5_kt_free_entry(acc->ctx, &e);
	}
	krb5_kt_end_seq_get(acc->ctx, acc->kt, &cursor);
	kept = n < max ? n : max;
	qsort(kvnos, kept, sizeof(*kvnos), cmp_int);
	return n;
}

size_t
acceptor_kvnos(struct kg_acceptor *acc, const char *principal, int *kvnos, size_t max)
{
	krb5_principal p = NULL;
	size_t n;

	if (acc == NULL || acc->kt == NULL || principal == NULL ||
	    parse_principal(acc->ctx, principal, keytab_realm(acc), &p) != 0)
		return 0;
	n = held_kvnos(acc, &p->name, p->realm, kvnos, max, 0, NULL, NULL, 0);
	krb5_free_principal(acc->ctx, p);
	return n;
}

/* ---------------------------------------------------------------- accept */

/* The Ticket's exact bytes inside a DER AP-REQ: [APPLICATION 14] SEQUENCE { ... [3] Ticket ... } */
static int
ticket_bytes(const uint8_t *p, size_t len, const uint8_t **tkt, size_t *tlen)
{
	const Der_class cls[2] = { ASN1_C_APPL, ASN1_C_UNIV };
	const unsigned tags[2] = { 14, UT_Sequence };
	Der_class c;
	Der_type t;
	unsigned tag;
	size_t l, sz, i;

	for (i = 0; i < 2; i++) {
		Der_type type;

		if (der_match_tag_and_length(p, len, cls[i], &type, tags[i], &l, &sz) != 0 ||
		    l > len - sz)
			return -1;
		p += sz;
		len = l;
	}
	while (len > 0) {
		if (der_get_tag(p, len, &c, &t, &tag, &sz) != 0)
			return -1;
		p += sz;
		len -= sz;
		if (der_get_length(p, len, &l, &sz) != 0 || l > len - sz)
			return -1;
		p += sz;
		len -= sz;
		if (c == ASN1_C_CONTEXT && tag == 3) {
			*tkt = p;
			*tlen = l;
			return 0;
		}
		p += l;
		len -= l;
	}
	return -1;
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
kvno_list(const int *kvnos, size_t n, char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < n && off < len; i++) {
		int w = snprintf(buf + off, len - off, "%s%d", i ? "," : "", kvnos[i]);

		if (w < 0)
			break;
		off += (size_t)w;
	}
	if (n == 0)
		snprintf(buf, len, "none");
}

/* The key for (SPN, kvno, enctype) is not in the keytab: say what is. */
static int
explain_missing_key(struct kg_acceptor *acc, const AP_REQ *ap, const char *spn,
    struct accept_result *res)
{
	int kvnos[16];
	krb5_enctype etypes[16];
	size_t n, ne, i, off = 0;
	char held[128], have[256], et[40];

	n = held_kvnos(acc, &ap->ticket.sname, ap->ticket.realm, kvnos, 16,
	    (krb5_kvno)res->kvno, etypes, &ne, 16);
	kvno_list(kvnos, n < 16 ? n : 16, held, sizeof(held));
	if (ne == 0)
		return set_reason(res, ACCEPT_KVNO_NOT_IN_KEYTAB,
		    "ticket kvno %d not in keytab (have %s) for %s", res->kvno, held, spn);
	have[0] = '\0';
	for (i = 0; i < ne && off < sizeof(have); i++) {
		int w;

		enctype_name(acc->ctx, etypes[i], et, sizeof(et));
		w = snprintf(have + off, sizeof(have) - off, "%s%s", i ? ", " : "", et);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	return set_reason(res, ACCEPT_NO_KEY, "no %s key for kvno %d in keytab (have %s) for %s",
	    res->enctype_name, res->kvno, have, spn);
}

/* Which part failed an integrity check: ticket (wrong key), authenticator, PAC? */
static int
explain_integrity(struct kg_acceptor *acc, AP_REQ *ap, krb5_const_principal server,
    const char *spn, struct accept_result *res)
{
	krb5_keytab_entry e;
	EncTicketPart etp;
	krb5_crypto crypto;
	krb5_data plain;
	krb5_error_code ret;

	if (krb5_kt_get_entry(acc->ctx, acc->kt, server, (krb5_kvno)res->kvno,
	    ap->ticket.enc_part.etype, &e) != 0)
		return set_reason(res, ACCEPT_WRONG_KEY, "ticket for %s does not decrypt "
		    "with the keytab's key for kvno %d", spn, res->kvno);
	ret = krb5_decrypt_ticket(acc->ctx, &ap->ticket, &e.keyblock, &etp,
	    KRB5_VERIFY_AP_REQ_IGNORE_INVALID);
	krb5_kt_free_entry(acc->ctx, &e);
	if (ret == KRB5KRB_AP_ERR_BAD_INTEGRITY || ret == KRB5KRB_AP_ERR_MODIFIED)
		return set_reason(res, ACCEPT_WRONG_KEY, "ticket for %s does not decrypt with "
		    "the keytab's key for kvno %d: the keytab is stale or for another account",
		    spn, res->kvno);
	if (ret != 0)
		return set_reason(res, ACCEPT_MALFORMED, "malformed AP-REQ");

	ret = krb5_crypto_init(acc->ctx, &etp.key, 0, &crypto);
	if (ret == 0) {
		ret = krb5_decrypt_EncryptedData(acc->ctx, crypto, KRB5_KU_AP_REQ_AUTH,
		    &ap->authenticator, &plain);
		krb5_crypto_destroy(acc->ctx, crypto);
		if (ret == 0) {
			explicit_bzero(plain.data, plain.length);
			krb5_data_free(&plain);
		}
	}
	free_EncTicketPart(&etp);
	if (ret != 0)
		return set_reason(res, ACCEPT_MALFORMED, "malformed AP-REQ: authenticator "
		    "does not decrypt with the ticket's session key");
	return set_reason(res, ACCEPT_PAC_INVALID, "PAC signature does not verify with "
	    "the keytab's key for kvno %d", res->kvno);
}

static int
map_rd_req_error(struct kg_acceptor *acc, krb5_error_code code, krb5_auth_context ac,
    AP_REQ *ap, krb5_const_principal server, const char *spn, int skew,
    struct accept_result *res)
{
	krb5_authenticator auth = NULL;
	krb5_timestamp now;
	char msg[256];

	switch (code) {
	case KRB5_KT_NOTFOUND:
	case KRB5KRB_AP_ERR_BADKEYVER:
	case KRB5KRB_AP_ERR_NOKEY:
		return explain_missing_key(acc, ap, spn, res);
	case KRB5KRB_AP_ERR_BAD_INTEGRITY:
	case KRB5KRB_AP_ERR_MODIFIED:
		return explain_integrity(acc, ap, server, spn, res);
	case KRB5KRB_AP_ERR_SKEW:
		krb5_timeofday(acc->ctx, &now);
		if (krb5_auth_con_getauthenticator(acc->ctx, ac, &auth) == 0 && auth != NULL) {
			long d = labs((long)(auth->ctime - now));

			krb5_free_authenticator(acc->ctx, &auth);
			return set_reason(res, ACCEPT_CLOCK_SKEW, "clock skew %ld s", d);
		}
		return set_reason(res, ACCEPT_CLOCK_SKEW, "clock skew over %d s", skew);
	case KRB5KRB_AP_ERR_TKT_EXPIRED:
		return set_reason(res, ACCEPT_TICKET_EXPIRED, "ticket expired");
	case KRB5KRB_AP_ERR_TKT_NYV:
		return set_reason(res, ACCEPT_TICKET_NOT_YET_VALID, "ticket not yet valid");
	case KRB5_PROG_ETYPE_NOSUPP:
		return set_reason(res, ACCEPT_ENCTYPE_UNSUPPORTED, "enctype %s not supported",
		    res->enctype_name);
	case KRB5KDC_ERR_TRTYPE_NOSUPP:
		/* Heimdal's own text for this code is about name canonicalisation. */
		return set_reason(res, ACCEPT_REFUSED, "AP-REQ refused: the ticket's "
		    "transited-realms encoding is not supported (a KDC of another realm "
		    "or a forged ticket)");
	case KRB5KRB_AP_ERR_BADMATCH:
		return set_reason(res, ACCEPT_MALFORMED,
		    "malformed AP-REQ: authenticator client does not match the ticket");
	case ENOMEM:
		return set_reason(res, ACCEPT_INTERNAL, "out of memory");
	default:
		if (code >= ASN1_BAD_TIMEFORMAT && code <= ASN1_BAD_TIMEFORMAT + 255)
			return set_reason(res, ACCEPT_MALFORMED, "malformed AP-REQ");
		return set_reason(res, ACCEPT_REFUSED, "AP-REQ refused: %s",
		    krb5_msg(acc->ctx, code, msg, sizeof(msg)));
	}
}

/* GSS checksum: flags and channel bindings against the policy. */
static int
check_gss_checksum(const krb5_authenticator auth, const struct accept_params *params,
    struct accept_result *res)
{
	static const uint8_t zero[GSS_CKSUM_BND_LEN];
	/* MD5 of an empty gss_channel_bindings_struct: 20 zero bytes. */
	static const uint8_t unbound[GSS_CKSUM_BND_LEN] = { 0x44, 0x10, 0x18,
	    0x52, 0x52, 0x08, 0x45, 0x77, 0x05, 0xbf, 0x09, 0xa8, 0xee, 0x3c,
	    0x10, 0x93 };
	const uint8_t *bnd = NULL;
	bool sent;

	if (auth->cksum != NULL && auth->cksum->cksumtype == CKSUMTYPE_GSSAPI) {
		const uint8_t *c = auth->cksum->checksum.data;

		if (auth->cksum->checksum.length < GSS_CKSUM_MIN_LEN ||
		    le32(c) != GSS_CKSUM_BND_LEN)
			return set_reason(res, ACCEPT_MALFORMED,
			    "malformed AP-REQ: bad GSS checksum");
		bnd = c + 4;
		res->gss_flags = le32(c + 4 + GSS_CKSUM_BND_LEN);
	}
	/* All-zero Bnd: the client sent no bindings (RFC 4121 §4.1.1.2); nor
	 * when it hashed an empty binding structure (what an application
	 * that passes one without TLS gets): that binds to no channel. */
	sent = bnd != NULL && memcmp(bnd, zero, sizeof(zero)) != 0 &&
	    memcmp(bnd, unbound, sizeof(unbound)) != 0;
	if (params->cb_mode == CB_OFF)
		return 0;
	if (sent && params->cb_plain)
		return set_reason(res, ACCEPT_CB_MISMATCH,
		    "channel bindings sent over plain HTTP: the token was "
		    "made for a TLS connection elsewhere");
	if (!sent && params->cb_mode == CB_REQUIRE)
		return set_reason(res, ACCEPT_CB_MISSING,
		    "channel bindings required but the client sent none");
	if (sent && memcmp(bnd, params->cb_expected, GSS_CKSUM_BND_LEN) != 0)
		return set_reason(res, ACCEPT_CB_MISMATCH,
		    "channel bindings do not match the VIP certificate");
	res->channel_bound = sent;
	return 0;
}

static int
copy_out(uint8_t **dst, size_t *dlen, const void *src, size_t len)
{
	if ((*dst = malloc(len)) == NULL)
		return -1;
	memcpy(*dst, src, len);
	*dlen = len;
	return 0;
}

/*
 * The client's mechListMIC (RFC 4178 §5) over the MechTypeList it sent: a
 * GSS MIC made before it has our AP-REP, so under its initiator subkey (or
 * the ticket's session key without one), not flagged as sent by the
 * acceptor nor as under an acceptor subkey.  RFC 4121 §4.2.6.1 tokens for
 * AES keys, RFC 4757 §7.2 ones for RC4.
 */
#define MIC_INITIATOR_SIGN	25	/* KG_USAGE_INITIATOR_SIGN */
#define MIC_RC4_SIGN		15
#define MIC_RC4_CKSUM_LEN	8

static bool
mic_cfx_ok(krb5_context ctx, const krb5_keyblock *key, const uint8_t *data, size_t len,
    const uint8_t *mic, size_t mic_len)
{
	static const uint8_t filler[5] = { 0xff, 0xff, 0xff, 0xff, 0xff };
	krb5_crypto crypto = NULL;
	krb5_cksumtype type;
	Checksum ck;
	uint8_t *buf;
	size_t want;
	bool ok = false;

	/* 04 04, flags (no SentByAcceptor, Sealed or AcceptorSubkey), filler. */
	if (mic_len <= 16 || mic[0] != 0x04 || mic[1] != 0x04 || (mic[2] & 0x07) != 0 ||
	    memcmp(mic + 3, filler, sizeof(filler)) != 0)
		return false;
	if (krb5_crypto_init(ctx, key, 0, &crypto) != 0)
		return false;
	if (krb5_crypto_get_checksum_type(ctx, crypto, &type) != 0 ||
	    krb5_checksumsize(ctx, type, &want) != 0 || mic_len - 16 != want ||
	    (buf = malloc(len + 16)) == NULL)
		goto out;
	memcpy(buf, data, len);
	memcpy(buf + len, mic, 16);
	ck.cksumtype = type;
	ck.checksum.data = (void *)(uintptr_t)(mic + 16);
	ck.checksum.length = mic_len - 16;
	ok = krb5_verify_checksum(ctx, crypto, MIC_INITIATOR_SIGN, buf, len + 16, &ck) == 0;
	free(buf);
out:
	krb5_crypto_destroy(ctx, crypto);
	return ok;
}

/* RFC 4757: GSS-framed { 01 01, SGN_ALG 11 00 (HMAC-MD5), ffffffff,
 * SND_SEQ (8, encrypted), SGN_CKSUM (8) }; the checksum covers the first
 * eight bytes and the data. */
static bool
mic_rc4_ok(krb5_context ctx, const krb5_keyblock *key, const uint8_t *data, size_t len,
    const uint8_t *mic, size_t mic_len)
{
	static const uint8_t hdr[8] = { 0x01, 0x01, 0x11, 0x00, 0xff, 0xff, 0xff, 0xff };
	krb5_crypto crypto = NULL;
	Checksum ck;
	const uint8_t *body;
	size_t body_len;
	uint8_t *buf;
	bool ok = false;

	if (neg_gss_krb5_unwrap(mic, mic_len, 0x0101, NULL, &body, &body_len) != 0 ||
	    body_len != 6 + 8 + MIC_RC4_CKSUM_LEN || memcmp(body, hdr + 2, 6) != 0)
		return false;
	if ((buf = malloc(len + sizeof(hdr))) == NULL)
		return false;
	memcpy(buf, hdr, sizeof(hdr));
	memcpy(buf + sizeof(hdr), data, len);
	memset(&ck, 0, sizeof(ck));
	if (krb5_crypto_init(ctx, key, 0, &crypto) == 0 &&
	    krb5_create_checksum(ctx, crypto, MIC_RC4_SIGN, CKSUMTYPE_HMAC_MD5, buf,
	    len + sizeof(hdr), &ck) == 0 && ck.checksum.length >= MIC_RC4_CKSUM_LEN)
		ok = mbedtls_ct_memcmp(ck.checksum.data, body + 14, MIC_RC4_CKSUM_LEN) == 0;
	free_Checksum(&ck);
	if (crypto != NULL)
		krb5_crypto_destroy(ctx, crypto);
	free(buf);
	return ok;
}

static int
check_client_mic(krb5_context ctx, const krb5_keyblock *key,
    const struct accept_params *params, struct accept_result *res)
{
	bool ok;

	if (params->client_mic == NULL)
		return 0;
	if (params->mech_list == NULL)
		return set_reason(res, ACCEPT_MALFORMED, "malformed SPNEGO: a mechListMIC "
		    "without the mechanism list it covers (the first leg went elsewhere)");
	ok = is_rc4(key->keytype) ?
	    mic_rc4_ok(ctx, key, params->mech_list, params->mech_list_len,
	    params->client_mic, params->client_mic_len) :
	    mic_cfx_ok(ctx, key, params->mech_list, params->mech_list_len,
	    params->client_mic, params->client_mic_len);
	if (!ok)
		return set_reason(res, ACCEPT_MALFORMED, "the client's SPNEGO mechListMIC "
		    "does not verify: its mechanism list was altered on the way, or the "
		    "client is broken");
	return 0;
}

/*
 * The acceptor's first GSS MIC token (RFC 4121 §4.2.6.1) over data: what
 * SPNEGO's mechListMIC is when Kerberos was not the client's first choice.
 * Keyed by the acceptor subkey sent in the AP-REP, numbered with the AP-REP's
 * sequence number, as a GSS acceptor's first per-message token is.  RC4
 * session keys use RFC 4757's other format: not built (no subkey is sent).
 */
static int
make_mic(krb5_context ctx, const krb5_keyblock *key, uint32_t seq, const uint8_t *data,
    size_t len, struct accept_result *res)
{
	krb5_crypto crypto = NULL;
	Checksum ck;
	uint8_t hdr[16], *buf = NULL;
	int i, rv = -1;

	memset(&ck, 0, sizeof(ck));
	hdr[0] = 0x04;
	hdr[1] = 0x04;
	hdr[2] = 0x01 | 0x04;	/* SentByAcceptor | AcceptorSubkey */
	memset(hdr + 3, 0xff, 5);
	for (i = 0; i < 8; i++)
		hdr[8 + i] = (uint8_t)((uint64_t)seq >> (56 - 8 * i));
	if ((buf = malloc(len + sizeof(hdr))) == NULL)
		goto out;
	memcpy(buf, data, len);
	memcpy(buf + len, hdr, sizeof(hdr));
	if (krb5_crypto_init(ctx, key, 0, &crypto) != 0 ||
	    krb5_create_checksum(ctx, crypto, 23 /* KG_USAGE_ACCEPTOR_SIGN */,
	    0, buf, len + sizeof(hdr), &ck) != 0)
		goto out;
	res->mech_list_mic_len = sizeof(hdr) + ck.checksum.length;
	if ((res->mech_list_mic = malloc(res->mech_list_mic_len)) == NULL)
		goto out;
	memcpy(res->mech_list_mic, hdr, sizeof(hdr));
	memcpy(res->mech_list_mic + sizeof(hdr), ck.checksum.data,
	    ck.checksum.length);
	rv = 0;
out:
	free_Checksum(&ck);
	free(buf);
	if (crypto != NULL)
		krb5_crypto_destroy(ctx, crypto);
	return rv;
}

/* make_mic() with the acceptor subkey and sequence number of an auth context. */
static int
make_mic_ac(krb5_context ctx, krb5_auth_context ac, const uint8_t *data,
    size_t len, struct accept_result *res)
{
	krb5_keyblock *key = NULL;
	uint32_t seq = 0;
	int rv;

	if (krb5_auth_con_getlocalsubkey(ctx, ac, &key) != 0 || key == NULL)
		return 0;		/* RC4: no subkey, no RFC 4121 MIC */
	krb5_auth_con_getlocalseqnumber(ctx, ac, (int32_t *)&seq);
	rv = make_mic(ctx, key, seq, data, len, res);
	krb5_free_keyblock(ctx, key);
	return rv;
}

/* The replay cache's verdict as a refusal; 0 if the authenticator is new.
 * res->client names the authenticated client. */
static int
replay_refusal(struct kg_acceptor *acc, enum replay_verdict v, struct accept_result *res)
{
	switch (v) {
	case REPLAY_NEW:
		return 0;
	case REPLAY_SEEN:
		return set_reason(res, ACCEPT_REPLAY, "replayed authenticator");
	case REPLAY_STALE:
		return set_reason(res, ACCEPT_REPLAY, "authenticator older than the "
		    "keyholder's restart after a crash: the client must authenticate "
		    "again");
	case REPLAY_QUOTA:
		return set_reason(res, ACCEPT_REPLAY_QUOTA, "too many authentications "
		    "by %s in the replay window (quota %zu): slow down or raise "
		    "replay_cache_per_principal", res->client, replay_quota(acc->replay));
	case REPLAY_FULL:
		break;
	}
	return set_reason(res, ACCEPT_REPLAY_CACHE_FULL, REPLAY_FULL_REASON);
}

/* Both paths, once the AP-REQ is known to be genuine: replay, GSS checksum. */
static int
check_authenticator(struct kg_acceptor *acc, const AP_REQ *ap, const Authenticator *auth,
    const struct accept_params *params, krb5_timestamp now,
    uint8_t digest[REPLAY_DIGEST_LEN], struct accept_result *res)
{
	replay_digest(acc->replay, ap->authenticator.cipher.data,
	    ap->authenticator.cipher.length, digest);
	if (replay_refusal(acc, replay_check(acc->replay, digest,
	    replay_tag(acc->replay, res->client), auth->ctime, now), res) != 0)
		return -1;
	return check_gss_checksum((krb5_authenticator)(uintptr_t)auth, params, res);
}

/* Both paths, last: remember the authenticator, or refuse if it cannot be
 * (another generation's keyholder took it a moment ago, the client holds
 * its quota, the cache is full). */
static int
remember_authenticator(struct kg_acceptor *acc, const Authenticator *auth, int skew,
    krb5_timestamp now, const uint8_t digest[REPLAY_DIGEST_LEN], struct accept_result *res)
{
	return replay_refusal(acc, replay_insert(acc->replay, digest,
	    replay_tag(acc->replay, res->client), auth->ctime, skew, now), res);
}

/* ---------------------------------------------------------------- fast path */

/*
 * The common case, AES tickets with AES session keys, checked with
 * kcrypto.c and keys derived once per keytab key.  It only ever accepts:
 * whenever something does not check out it answers FAST_NO and the AP-REQ
 * goes through krb5_rd_req_ctx(), which has the final word on refusals and
 * the words for them.  Once the ticket and authenticator are known genuine,
 * the checks both paths share (replay, bindings) are final.
 */
enum fast_outcome { FAST_OK, FAST_NO, FAST_REFUSED };

/* Safe on a slot never filled or only half filled. */
static void
fast_key_free(struct kg_acceptor *acc, struct fast_key *f)
{
	kc_usage_free(&f->ticket);
	kc_usage_free(&f->pac);
	if (f->key.keyvalue.data != NULL)
		krb5_free_keyblock_contents(acc->ctx, &f->key);	/* zeroizes */
	memset(f, 0, sizeof(*f));
}

static void
fast_keys_clear(struct kg_acceptor *acc)
{
	size_t i;

	for (i = 0; i < FAST_KEYS; i++)
		if (acc->fast[i].used)
			fast_key_free(acc, &acc->fast[i]);
	acc->fast_next = 0;
}

static struct fast_key *
fast_key_get(struct kg_acceptor *acc, krb5_const_principal server, krb5_kvno kvno,
    krb5_enctype etype)
{
	krb5_keytab_entry e;
	struct fast_key *f;
	size_t i;

	for (i = 0; i < FAST_KEYS; i++) {
		f = &acc->fast[i];
		if (f->used && f->server == server && f->kvno == kvno &&
		    f->key.keytype == etype)
			return f;
	}
	if (krb5_kt_get_entry(acc->ctx, acc->kt, server, kvno, etype, &e) != 0)
		return NULL;
	f = &acc->fast[acc->fast_next++ % FAST_KEYS];
	if (f->used)
		fast_key_free(acc, f);
	if (kc_derive(etype, e.keyblock.keyvalue.data, e.keyblock.keyvalue.length,
	    KC_KU_TICKET, KC_WANT_DECRYPT, &f->ticket) != KC_OK ||
	    kc_derive(etype, e.keyblock.keyvalue.data, e.keyblock.keyvalue.length,
	    KC_KU_PAC_CKSUM, KC_WANT_CHECKSUM, &f->pac) != KC_OK ||
	    krb5_copy_keyblock_contents(acc->ctx, &e.keyblock, &f->key) != 0) {
		fast_key_free(acc, f);
		krb5_kt_free_entry(acc->ctx, &e);
		return NULL;
	}
	krb5_kt_free_entry(acc->ctx, &e);
	f->server = server;
	f->kvno = kvno;
	f->used = true;
	return f;
}

/* Decrypt with derived keys and decode; 0 on success. */
static int
fast_decrypt(struct kc_usage *u, const EncryptedData *ed, void *out,
    int (*decode)(const unsigned char *, size_t, void *, size_t *))
{
	uint8_t *plain;
	size_t len, sz;
	int rv = -1;

	if (ed->cipher.length < KC_OVERHEAD ||
	    (plain = malloc(ed->cipher.length)) == NULL)
		return -1;
	if (kc_decrypt(u, ed->cipher.data, ed->cipher.length, plain, &len) == KC_OK &&
	    decode(plain, len, out, &sz) == 0)
		rv = 0;
	kg_freezero(plain, ed->cipher.length);
	return rv;
}

static int
decode_etp(const unsigned char *p, size_t len, void *out, size_t *sz)
{
	return decode_EncTicketPart(p, len, out, sz);
}

static int
decode_auth(const unsigned char *p, size_t len, void *out, size_t *sz)
{
	return decode_Authenticator(p, len, out, sz);
}

static bool
same_principal_name(const PrincipalName *a, const char *arealm, const PrincipalName *b,
    const char *brealm)
{
	size_t i;

	if (a->name_string.len != b->name_string.len || strcmp(arealm, brealm) != 0)
		return false;
	for (i = 0; i < a->name_string.len; i++)
		if (strcmp(a->name_string.val[i], b->name_string.val[i]) != 0)
			return false;
	return true;
}

/* As krb5_decrypt_ticket() and krb5_verify_ap_req2() judge a ticket and
 * authenticator, for what the fast path takes: anything else is FAST_NO. */
static bool
fast_times_and_names_ok(const EncTicketPart *t, const Authenticator *a, krb5_timestamp now,
    int skew)
{
	time_t start = t->starttime != NULL ? *t->starttime : t->authtime;

	if (t->flags.invalid || start - now > skew || now - t->endtime > skew)
		return false;
	/* Heimdal's check_transited(): an empty path of type 0 (AD's own
	 * tickets) or X.500-compressed; any other type is refused there. */
	if (!t->flags.transited_policy_checked && (t->transited.contents.length != 0 ||
	    (t->transited.tr_type != 0 && t->transited.tr_type != DOMAIN_X500_COMPRESS)))
		return false;
	if (a->authenticator_vno != 5 || labs((long)(a->ctime - now)) > skew)
		return false;
	return same_principal_name(&t->cname, t->crealm, &a->cname, a->crealm);
}

/*
 * krb5_rd_req_ctx() decodes the GSS etype-negotiation list (RFC 4537) it
 * finds in the authenticator's authorization data, under AD-IF-RELEVANT or
 * not, and refuses the AP-REQ when that list does not decode.  The fast path
 * takes only authorization data whose every such list decodes; containers it
 * cannot read, or nesting deeper than Heimdal looks, go to Heimdal.
 */
#define AD_MAX_DEPTH	10

static bool
fast_authz_ok(const AuthorizationData *ad, int depth)
{
	AuthorizationData child;
	EtypeList etypes;
	size_t i;
	bool ok;

	if (ad == NULL)
		return true;
	if (depth >= AD_MAX_DEPTH)
		return false;
	for (i = 0; i < ad->len; i++) {
		const heim_octet_string *d = &ad->val[i].ad_data;

		switch (ad->val[i].ad_type) {
		case KRB5_AUTHDATA_IF_RELEVANT:
			if (decode_AuthorizationData(d->data, d->length, &child, NULL) != 0)
				return false;
			ok = fast_authz_ok(&child, depth + 1);
			free_AuthorizationData(&child);
			if (!ok)
				return false;
			break;
		case KRB5_AUTHDATA_GSS_API_ETYPE_NEGOTIATION:
			if (decode_EtypeList(d->data, d->length, &etypes, NULL) != 0)
				return false;
			free_EtypeList(&etypes);
			break;
		default:
			break;
		}
	}
	return true;
}

/*
 * The PAC ([MS-PAC] §2.4, §2.7, §2.8) as krb5_pac_parse() and
 * krb5_pac_verify() judge it inside krb5_rd_req_ctx(): buffers in bounds and
 * aligned, one each of the server and KDC signatures and the client info;
 * the client info names the ticket's client at its authtime; the server
 * signature verifies under the service key.  Only the shapes the fast path
 * is sure of (ASCII single-component names, AES signatures): the rest, and
 * every failure, go to Heimdal.
 */
#define PAC_SERVER_CHECKSUM	6
#define PAC_PRIVSVR_CHECKSUM	7
#define PAC_CLIENT_INFO		10
#define PAC_ALIGN		8
#define NT_EPOCH_OFFSET		11644473600LL	/* 1601-01-01 to 1970-01-01, s */

struct pac_buf {
	size_t off, len;
	bool seen;
};

static bool
pac_find(const uint8_t *p, size_t len, struct pac_buf *server, struct pac_buf *privsvr,
    struct pac_buf *client)
{
	uint32_t n, i;
	size_t hdr_end;

	if (len < 8 || (n = le32(p)) < 1 || le32(p + 4) != 0 || n > (len - 8) / 16)
		return false;
	hdr_end = 8 + (size_t)n * 16;
	for (i = 0; i < n; i++) {
		const uint8_t *e = p + 8 + (size_t)i * 16;
		uint32_t type = le32(e), size = le32(e + 4), off = le32(e + 8);
		struct pac_buf *b = type == PAC_SERVER_CHECKSUM ? server :
		    type == PAC_PRIVSVR_CHECKSUM ? privsvr :
		    type == PAC_CLIENT_INFO ? client : NULL;

		if (le32(e + 12) != 0 || off % PAC_ALIGN != 0 || off < hdr_end ||
		    off > len || size > len - off)
			return false;
		if (b == NULL)
			continue;
		if (b->seen)
			return false;	/* two of a kind */
		b->off = off;
		b->len = size;
		b->seen = true;
	}
	return server->seen && privsvr->seen && client->seen;
}

/* CLIENT_INFO: authtime as a FILETIME, then the name in UTF-16LE. */
static bool
pac_client_ok(const uint8_t *p, const struct pac_buf *ci, time_t authtime,
    const PrincipalName *cname)
{
	const uint8_t *c = p + ci->off;
	const char *want;
	uint64_t ft;
	size_t nlen, i;

	if (ci->len < 10 || cname->name_string.len != 1)
		return false;
	/* The FILETIME must be authtime exactly, to the 100 ns: a KDC writes
	 * whole seconds, and Heimdal refuses any other value. */
	ft = (uint64_t)le32(c) | (uint64_t)le32(c + 4) << 32;
	if (authtime < 0 || ft != ((uint64_t)authtime + NT_EPOCH_OFFSET) * 10000000ULL)
		return false;
	nlen = (size_t)c[8] | (size_t)c[9] << 8;
	want = cname->name_string.val[0];
	/* An empty name is refused by Heimdal ("logon name length missing"). */
	if (nlen == 0 || nlen % 2 != 0 || nlen > ci->len - 10 || nlen / 2 != strlen(want))
		return false;
	for (i = 0; i < nlen / 2; i++) {
		unsigned u = (unsigned)c[10 + 2 * i] | (unsigned)c[11 + 2 * i] << 8;

		if (u == 0 || u >= 0x80 || u == '/' || u == '@' || u == '\\' ||
		    u != (unsigned char)want[i])
			return false;
	}
	return true;
}

static bool
pac_signature_ok(struct kc_usage *kc, int32_t key_etype, const uint8_t *p, size_t len,
    const struct pac_buf *server, const struct pac_buf *privsvr)
{
	uint32_t want_type = key_etype == KC_ETYPE_AES256 ? CKSUMTYPE_HMAC_SHA1_96_AES_256 :
	    CKSUMTYPE_HMAC_SHA1_96_AES_128;
	uint8_t *copy, mac[KC_MAC_LEN];
	bool ok = false;

	if (server->len != 4 + KC_MAC_LEN || privsvr->len < 4 ||
	    le32(p + server->off) != want_type || (copy = malloc(len)) == NULL)
		return false;
	memcpy(copy, p, len);
	memset(copy + server->off + 4, 0, server->len - 4);
	memset(copy + privsvr->off + 4, 0, privsvr->len - 4);
	if (kc_checksum(kc, copy, len, mac) == KC_OK)
		ok = mbedtls_ct_memcmp(mac, p + server->off + 4, KC_MAC_LEN) == 0;
	free(copy);
	return ok;
}

static bool
fast_pac_ok(struct kg_acceptor *acc, krb5_ticket *tk, struct fast_key *f)
{
	struct pac_buf server = { 0, 0, false }, privsvr = server, client = server;
	krb5_data data;
	krb5_error_code ret;
	bool ok;

	ret = krb5_ticket_get_authorization_data_type(acc->ctx, tk, KRB5_AUTHDATA_WIN2K_PAC,
	    &data);
	if (ret == ENOENT)
		return true;		/* no PAC: nothing to check, as in Heimdal */
	if (ret != 0)
		return false;
	ok = pac_find(data.data, data.length, &server, &privsvr, &client) &&
	    pac_client_ok(data.data, &client, tk->ticket.authtime, &tk->ticket.cname) &&
	    pac_signature_ok(&f->pac, f->key.keytype, data.data, data.length, &server,
	    &privsvr);
	krb5_data_free(&data);
	return ok;
}

/* AP-REP (RFC 4120 §5.5.2) with a new acceptor subkey and sequence number, as
 * a GSS acceptor sends; the MIC, if asked for, under that subkey. */
static int
fast_ap_rep(struct kg_acceptor *acc, const EncTicketPart *t, const Authenticator *a,
    const struct accept_params *params, struct accept_result *res)
{
	struct kc_usage u;
	EncAPRepPart body;
	EncryptionKey subkey;
	AP_REP rep;
	krb5uint32 seq;
	/* One draw from the kernel: subkey, confounder, sequence number. */
	uint8_t rnd[KC_MAX_KEY + KC_CONF_LEN + sizeof(seq)];
	uint8_t *keybytes = rnd, *conf = rnd + KC_MAX_KEY;
	uint8_t *plain = NULL, *enc = NULL, *der = NULL;
	size_t plain_len = 0, der_len = 0, sz, keylen = t->key.keyvalue.length;
	int ret, rv = -1;

	memset(&u, 0, sizeof(u));
	if (keylen > KC_MAX_KEY || kc_random(rnd, sizeof(rnd)) != KC_OK)
		goto out;
	memcpy(&seq, conf + KC_CONF_LEN, sizeof(seq));
	seq &= 0x3fffffff;		/* room to count up, as Heimdal leaves */
	if (seq == 0)
		seq = 1;
	memset(&body, 0, sizeof(body));
	body.ctime = a->ctime;
	body.cusec = a->cusec;
	subkey.keytype = t->key.keytype;	/* AES: random-to-key is the identity */
	subkey.keyvalue.data = keybytes;
	subkey.keyvalue.length = keylen;
	body.subkey = &subkey;
	body.seq_number = &seq;
	ASN1_MALLOC_ENCODE(EncAPRepPart, plain, plain_len, &body, &sz, ret);
	if (ret != 0 || sz != plain_len)
		goto out;
	if (kc_derive(t->key.keytype, t->key.keyvalue.data, keylen, KC_KU_AP_REP,
	    KC_WANT_ENCRYPT, &u) != KC_OK ||
	    (enc = malloc(plain_len + KC_OVERHEAD)) == NULL ||
	    kc_encrypt_conf(&u, conf, plain, plain_len, enc) != KC_OK)
		goto out;
	memset(&rep, 0, sizeof(rep));
	rep.pvno = 5;
	rep.msg_type = krb_ap_rep;
	rep.enc_part.etype = t->key.keytype;
	rep.enc_part.cipher.data = enc;
	rep.enc_part.cipher.length = plain_len + KC_OVERHEAD;
	ASN1_MALLOC_ENCODE(AP_REP, der, der_len, &rep, &sz, ret);
	if (ret != 0 || sz != der_len)
		goto out;
	res->ap_rep = der;
	res->ap_rep_len = der_len;
	der = NULL;
	if (params->mech_list != NULL) {
		krb5_keyblock kb;

		kb.keytype = t->key.keytype;
		kb.keyvalue.data = keybytes;
		kb.keyvalue.length = keylen;
		if (make_mic(acc->ctx, &kb, seq, params->mech_list, params->mech_list_len,
		    res) != 0)
			goto out;
	}
	rv = 0;
out:
	kc_usage_free(&u);
	kg_zero(rnd, sizeof(rnd));
	if (plain != NULL)
		kg_freezero(plain, plain_len);
	free(enc);
	free(der);
	return rv;
}

static enum fast_outcome
fast_accept(struct kg_acceptor *acc, const AP_REQ *ap, krb5_const_principal server,
    const struct accept_params *params, int skew, struct accept_result *res)
{
	struct fast_key *f;
	struct kc_usage sess;
	EncTicketPart etp;
	Authenticator auth;
	Principal client;
	krb5_ticket tk;
	krb5_timestamp now;
	uint8_t digest[REPLAY_DIGEST_LEN];
	enum fast_outcome rv = FAST_NO;
	bool have_etp = false, have_auth = false;

	memset(&sess, 0, sizeof(sess));
	if (!kc_enctype_supported(ap->ticket.enc_part.etype) ||
	    ap->ticket.enc_part.kvno == NULL || ap->ap_options.use_session_key ||
	    !kc_enctype_supported(ap->authenticator.etype) ||
	    (f = fast_key_get(acc, server, *ap->ticket.enc_part.kvno,
	    ap->ticket.enc_part.etype)) == NULL)
		return FAST_NO;
	memset(&etp, 0, sizeof(etp));
	memset(&auth, 0, sizeof(auth));
	if (fast_decrypt(&f->ticket, &ap->ticket.enc_part, &etp, decode_etp) != 0)
		goto out;
	have_etp = true;
	if (etp.key.keytype != ap->authenticator.etype ||
	    kc_derive(etp.key.keytype, etp.key.keyvalue.data, etp.key.keyvalue.length,
	    KC_KU_AP_REQ_AUTH, KC_WANT_DECRYPT, &sess) != KC_OK ||
	    fast_decrypt(&sess, &ap->authenticator, &auth, decode_auth) != 0)
		goto out;
	have_auth = true;
	krb5_timeofday(acc->ctx, &now);
	if (!fast_times_and_names_ok(&etp, &auth, now, skew) ||
	    !fast_authz_ok(auth.authorization_data, 0))
		goto out;
	client.name = etp.cname;
	client.realm = etp.crealm;
	tk.ticket = etp;
	tk.client = &client;
	tk.server = (krb5_principal)(uintptr_t)server;
	if (!fast_pac_ok(acc, &tk, f))
		goto out;

	/* Genuine: from here on, refusals are final. */
	rv = FAST_REFUSED;
	krb5_unparse_name_fixed(acc->ctx, &client, res->client, sizeof(res->client));
	res->endtime = etp.endtime;
	res->forwardable = etp.flags.forwardable;
	if (check_authenticator(acc, ap, &auth, params, now, digest, res) != 0 ||
	    check_client_mic(acc->ctx, auth.subkey != NULL ? auth.subkey : &etp.key, params,
	    res) != 0)
		goto out;
	res->mutual = ap->ap_options.mutual_required || (res->gss_flags & GSS_FLAG_MUTUAL);
	if (res->mutual && fast_ap_rep(acc, &etp, &auth, params, res) != 0) {
		set_reason(res, ACCEPT_INTERNAL, "cannot build the AP-REP");
		goto out;
	}
	if (remember_authenticator(acc, &auth, skew, now, digest, res) != 0)
		goto out;
	res->status = ACCEPT_OK;
	rv = FAST_OK;
out:
	kc_usage_free(&sess);
	/* Heimdal's ASN.1 free does not wipe: the keys first. */
	if (have_auth) {
		if (auth.subkey != NULL)
			kg_zero(auth.subkey->keyvalue.data, auth.subkey->keyvalue.length);
		free_Authenticator(&auth);
	}
	if (have_etp) {
		kg_zero(etp.key.keyvalue.data, etp.key.keyvalue.length);
		free_EncTicketPart(&etp);
	}
	return rv;
}

/* After krb5_rd_req_ctx succeeded: replay, bindings, session key, AP-REP. */
static int
finish_accept(struct kg_acceptor *acc, krb5_auth_context ac, krb5_rd_req_out_ctx out,
    const AP_REQ *ap, const struct accept_params *params, int skew,
    struct accept_result *res)
{
	krb5_ticket *tkt = NULL;
	krb5_authenticator auth = NULL;
	krb5_flags opts = 0;
	krb5_timestamp now;
	krb5_data rep;
	uint8_t digest[REPLAY_DIGEST_LEN];
	char et[40];
	int rv = -1;

	if (krb5_rd_req_out_get_ticket(acc->ctx, out, &tkt) != 0 ||
	    krb5_auth_con_getauthenticator(acc->ctx, ac, &auth) != 0) {
		set_reason(res, ACCEPT_INTERNAL, "out of memory");
		goto out;
	}
	krb5_rd_req_out_get_ap_req_options(acc->ctx, out, &opts);
	krb5_unparse_name_fixed(acc->ctx, tkt->client, res->client, sizeof(res->client));
	res->endtime = tkt->ticket.endtime;
	res->forwardable = tkt->ticket.flags.forwardable;

	if (is_rc4(tkt->ticket.key.keytype) && !params->allow_rc4) {
		enctype_name(acc->ctx, tkt->ticket.key.keytype, et, sizeof(et));
		set_reason(res, ACCEPT_ENCTYPE_DISABLED, "session key enctype %s disabled", et);
		goto out;
	}

	krb5_timeofday(acc->ctx, &now);
	if (check_authenticator(acc, ap, auth, params, now, digest, res) != 0 ||
	    check_client_mic(acc->ctx, auth->subkey != NULL ? auth->subkey : &tkt->ticket.key,
	    params, res) != 0)
		goto out;

	res->mutual = (opts & AP_OPTS_MUTUAL_REQUIRED) || (res->gss_flags & GSS_FLAG_MUTUAL);
	if (res->mutual) {
		/* As a GSS acceptor does: a sequence number, and an acceptor
		 * subkey for the RFC 4121 enctypes. */
		krb5_auth_con_addflags(acc->ctx, ac, KRB5_AUTH_CONTEXT_DO_SEQUENCE |
		    (is_rc4(tkt->ticket.key.keytype) ? 0 : KRB5_AUTH_CONTEXT_USE_SUBKEY), NULL);
		if (krb5_mk_rep(acc->ctx, ac, &rep) != 0) {
			set_reason(res, ACCEPT_INTERNAL, "cannot build the AP-REP");
			goto out;
		}
		if (copy_out(&res->ap_rep, &res->ap_rep_len, rep.data, rep.length) != 0) {
			krb5_data_free(&rep);
			set_reason(res, ACCEPT_INTERNAL, "out of memory");
			goto out;
		}
		krb5_data_free(&rep);
		if (params->mech_list != NULL && make_mic_ac(acc->ctx, ac,
		    params->mech_list, params->mech_list_len, res) != 0) {
			set_reason(res, ACCEPT_INTERNAL, "cannot build the mechListMIC");
			goto out;
		}
	}
	if (remember_authenticator(acc, auth, skew, now, digest, res) != 0)
		goto out;
	res->status = ACCEPT_OK;
	rv = 0;
out:
	if (auth != NULL)
		krb5_free_authenticator(acc->ctx, &auth);
	if (tkt != NULL)
		krb5_free_ticket(acc->ctx, tkt);
	return rv;
}

/* Errors after which MS-KILE 3.4.5 has a server try its other keys. */
static bool
key_error(krb5_error_code code)
{
	return code == KRB5_KT_NOTFOUND || code == KRB5KRB_AP_ERR_BADKEYVER ||
	    code == KRB5KRB_AP_ERR_NOKEY || code == KRB5KRB_AP_ERR_BAD_INTEGRITY ||
	    code == KRB5KRB_AP_ERR_MODIFIED;
}

/*
 * The ticket's kvno is not held, or its key does not decrypt the ticket:
 * like a Windows server (MS-KILE 3.4.5), try the other keys held for the
 * SPN with the ticket's enctype, newest first.  During a password change a
 * KDC can issue tickets at a kvno the keyholder has not been told about yet
 * (a staged key not activated, replication between DCs).  On a decryption,
 * *ac and *out become that attempt's, whatever its outcome (a clock skew is
 * then the real reason); else `first` is returned and nothing changes.
 */
static krb5_error_code
rd_req_other_keys(struct kg_acceptor *acc, const AP_REQ *ap,
    krb5_const_principal server, krb5_data *data, krb5_error_code first,
    krb5_auth_context *ac, krb5_rd_req_out_ctx *out)
{
	krb5_kvno tkvno = ap->ticket.enc_part.kvno ? *ap->ticket.enc_part.kvno : 0;
	krb5_auth_context a2;
	krb5_rd_req_in_ctx in;
	krb5_rd_req_out_ctx o;
	krb5_keytab_entry e;
	krb5_error_code ret;
	int kvnos[16];
	size_t n, i;

	n = held_kvnos(acc, &ap->ticket.sname, ap->ticket.realm, kvnos, 16, 0,
	    NULL, NULL, 0);
	for (i = n < 16 ? n : 16; i-- > 0;) {
		if ((krb5_kvno)kvnos[i] == tkvno ||
		    krb5_kt_get_entry(acc->ctx, acc->kt, server, (krb5_kvno)kvnos[i],
		    ap->ticket.enc_part.etype, &e) != 0)
			continue;
		a2 = NULL;
		in = NULL;
		o = NULL;
		if ((ret = krb5_auth_con_init(acc->ctx, &a2)) == 0 &&
		    (ret = krb5_rd_req_in_ctx_alloc(acc->ctx, &in)) == 0 &&
		    (ret = krb5_rd_req_in_set_keyblock(acc->ctx, in, &e.keyblock)) == 0)
			ret = krb5_rd_req_ctx(acc->ctx, &a2, data, server, in, &o);
		if (in != NULL)
			krb5_rd_req_in_ctx_free(acc->ctx, in);
		krb5_kt_free_entry(acc->ctx, &e);
		if (ret != 0 && key_error(ret)) {
			if (o != NULL)
				krb5_rd_req_out_ctx_free(acc->ctx, o);
			if (a2 != NULL)
				krb5_auth_con_free(acc->ctx, a2);
			continue;
		}
		if (*out != NULL)
			krb5_rd_req_out_ctx_free(acc->ctx, *out);
		if (*ac != NULL)
			krb5_auth_con_free(acc->ctx, *ac);
		*ac = a2;
		*out = o;
		return ret;
	}
	return first;
}

/* Syntax, SPN, enctype: everything that needs no key. */
static int
precheck(struct kg_acceptor *acc, const AP_REQ *ap, const struct accept_params *params,
    const char *spn, krb5_principal *server, struct accept_result *res)
{
	size_t i;
	bool served = false;

	for (i = 0; i < params->nspns && !served; i++)
		served = params->spns[i] != NULL &&
		    spn_string_matches(params->spns[i], &ap->ticket.sname, ap->ticket.realm);
	if (!served)
		return set_reason(res, ACCEPT_SPN_NOT_SERVED, "SPN %s not served here", spn);
	if (is_rc4(ap->ticket.enc_part.etype) && !params->allow_rc4)
		return set_reason(res, ACCEPT_ENCTYPE_DISABLED, "enctype %s disabled",
		    res->enctype_name);
	if (krb5_enctype_valid(acc->ctx, ap->ticket.enc_part.etype) != 0)
		return set_reason(res, ACCEPT_ENCTYPE_UNSUPPORTED, "enctype %s not supported",
		    res->enctype_name);
	/* The keytab's own spelling of the SPN: keytab lookups are case-sensitive. */
	for (i = 0; i < acc->nspns; i++)
		if (principal_matches(acc->ctx, acc->spns[i], &ap->ticket.sname,
		    ap->ticket.realm)) {
			*server = acc->spns[i];
			return 0;
		}
	return set_reason(res, ACCEPT_NO_KEY, "no keys for %s@%s in keytab "
	    "(not among the SPNs the keytab was loaded for)", spn, ap->ticket.realm);
}

int
acceptor_accept(struct kg_acceptor *acc, const uint8_t *token, size_t len,
    const struct accept_params *params, struct accept_result *res)
{
	const uint8_t *body = token, *tkt;
	size_t body_len = len, tkt_len, sz;
	krb5_auth_context ac = NULL;
	krb5_rd_req_in_ctx in = NULL;
	krb5_rd_req_out_ctx out = NULL;
	krb5_principal server = NULL;
	krb5_error_code ret;
	krb5_data data;
	AP_REQ ap;
	char spn[256];
	int skew, rv = -1;

	memset(res, 0, sizeof(*res));
	if (acc == NULL || params == NULL)
		return set_reason(res, ACCEPT_INTERNAL, "invalid argument");
	if (acc->kt == NULL)
		return set_reason(res, ACCEPT_INTERNAL, "no keytab loaded");
	if (token == NULL || len == 0 || len > NEG_MAX_TOKEN_LEN)
		return set_reason(res, ACCEPT_MALFORMED, "malformed AP-REQ");
	if (token[0] == 0x60 &&
	    neg_gss_krb5_unwrap(token, len, NEG_TOK_AP_REQ, NULL, &body, &body_len) != 0)
		return set_reason(res, ACCEPT_MALFORMED, "malformed AP-REQ");

	memset(&ap, 0, sizeof(ap));
	if (decode_AP_REQ(body, body_len, &ap, &sz) != 0)
		return set_reason(res, ACCEPT_MALFORMED, "malformed AP-REQ");
	if (sz != body_len || ap.pvno != 5 || ap.msg_type != krb_ap_req ||
	    ap.ticket.tkt_vno != 5 || ticket_bytes(body, body_len, &tkt, &tkt_len) != 0) {
		set_reason(res, ACCEPT_MALFORMED, "malformed AP-REQ");
		goto out;
	}

	/* What the log needs, known before any decryption. */
	sname_string(&ap.ticket.sname, spn, sizeof(spn));
	snprintf(res->server, sizeof(res->server), "%s@%s", spn, ap.ticket.realm);
	res->kvno = ap.ticket.enc_part.kvno != NULL ? (int)*ap.ticket.enc_part.kvno : 0;
	res->enctype = ap.ticket.enc_part.etype;
	enctype_name(acc->ctx, ap.ticket.enc_part.etype, res->enctype_name,
	    sizeof(res->enctype_name));
	if (precheck(acc, &ap, params, spn, &server, res) != 0)
		goto out;

	skew = params->clock_skew > 0 ? params->clock_skew : ACCEPTOR_DEFAULT_SKEW;
	switch (fast_accept(acc, &ap, server, params, skew, res)) {
	case FAST_OK:
		acc->fast_accepts++;
		goto copy_ticket;
	case FAST_REFUSED:
		goto out;
	case FAST_NO:
		break;
	}
	acc->slow_accepts++;
	krb5_set_max_time_skew(acc->ctx, skew);
	if ((ret = krb5_auth_con_init(acc->ctx, &ac)) != 0 ||
	    (ret = krb5_rd_req_in_ctx_alloc(acc->ctx, &in)) != 0 ||
	    (ret = krb5_rd_req_in_set_keytab(acc->ctx, in, acc->kt)) != 0) {
		set_reason(res, ACCEPT_INTERNAL, "out of memory");
		goto out;
	}
	data.data = (void *)(uintptr_t)body;
	data.length = body_len;
	/* An explicit server: with NULL, Heimdal would fall back to trying
	 * every key of the keytab when the exact one is missing. */
	ret = krb5_rd_req_ctx(acc->ctx, &ac, &data, server, in, &out);
	if (ret != 0 && key_error(ret))
		ret = rd_req_other_keys(acc, &ap, server, &data, ret, &ac, &out);
	if (ret != 0) {
		map_rd_req_error(acc, ret, ac, &ap, server, spn, skew, res);
		goto out;
	}
	if (finish_accept(acc, ac, out, &ap, params, skew, res) != 0)
		goto out;
copy_ticket:
	if (copy_out(&res->ticket, &res->ticket_len, tkt, tkt_len) != 0) {
		set_reason(res, ACCEPT_INTERNAL, "out of memory");
		goto out;
	}
	rv = 0;
out:
	if (rv != 0) {
		free(res->ap_rep);
		res->ap_rep = NULL;
		res->ap_rep_len = 0;
	}
	if (out != NULL)
		krb5_rd_req_out_ctx_free(acc->ctx, out);
	if (in != NULL)
		krb5_rd_req_in_ctx_free(acc->ctx, in);
	if (ac != NULL)
		krb5_auth_con_free(acc->ctx, ac);
	free_AP_REQ(&ap);
	return rv;
}

/* MS-KILE 2.2.1 KERB-ERROR-DATA { data-type [1] KERB_AP_ERR_TYPE_SKEW_RECOVERY (2) } */
static const uint8_t skew_recovery[] = { 0x30, 0x05, 0xa1, 0x03, 0x02, 0x01, 0x02 };

int
acceptor_error_token(struct kg_acceptor *acc, const struct accept_result *res,
    uint8_t **out, size_t *outlen)
{
	krb5_error_code code;
	krb5_principal server = NULL;
	krb5_data err, edata;
	uint8_t *tok;
	size_t cap, n;
	int rv = -1;

	*out = NULL;
	*outlen = 0;
	switch (res->status) {
	case ACCEPT_WRONG_KEY:
	case ACCEPT_KVNO_NOT_IN_KEYTAB:
	case ACCEPT_NO_KEY:
		code = KRB5KRB_AP_ERR_MODIFIED;
		break;
	case ACCEPT_CLOCK_SKEW:
		code = KRB5KRB_AP_ERR_SKEW;
		break;
	default:
		return 0;
	}
	if (res->server[0] != '\0' &&
	    krb5_parse_name(acc->ctx, res->server, &server) != 0)
		server = NULL;
	edata.data = (void *)(uintptr_t)skew_recovery;
	edata.length = sizeof(skew_recovery);
	/* stime and susec are now: a client corrects its skew from them. */
	if (krb5_mk_error(acc->ctx, code, NULL, code == KRB5KRB_AP_ERR_SKEW ? &edata :
	    NULL, NULL, server, NULL, NULL, &err) != 0)
		goto out;
	cap = err.length + 32;
	if ((tok = malloc(cap)) != NULL &&
	    neg_gss_krb5_wrap(NEG_MECH_KRB5, 0x0300, err.data, err.length, tok, cap,
	    &n) == NEG_OK) {
		*out = tok;
		*outlen = n;
		rv = 1;
	} else
		free(tok);
	krb5_data_free(&err);
out:
	if (server != NULL)
		krb5_free_principal(acc->ctx, server);
	return rv;
}

void
acceptor_path_counts(const struct kg_acceptor *acc, uint64_t *fast, uint64_t *slow)
{
	*fast = acc != NULL ? acc->fast_accepts : 0;
	*slow = acc != NULL ? acc->slow_accepts : 0;
}

void
acceptor_result_clear(struct accept_result *res)
{
	if (res == NULL)
		return;
	free(res->ap_rep);
	free(res->ticket);
	free(res->mech_list_mic);
	memset(res, 0, sizeof(*res));
}

/* ---------------------------------------------------------------- channel bindings */

int
acceptor_cb_hash_from_cert(const uint8_t *der, size_t len, uint8_t out[ACCEPTOR_CB_LEN])
{
	static const char prefix[] = "tls-server-end-point:";
	const size_t plen = sizeof(prefix) - 1;
	uint8_t buf[16 + 4 + sizeof(prefix) + MBEDTLS_MD_MAX_SIZE];
	const mbedtls_md_info_t *md;
	mbedtls_x509_crt crt;
	mbedtls_md_type_t type;
	mbedtls_pk_type_t pk_alg;
	size_t hlen, app;

	mbedtls_x509_crt_init(&crt);
	if (der == NULL || mbedtls_x509_crt_parse_der(&crt, der, len) != 0) {
		mbedtls_x509_crt_free(&crt);
		return -1;
	}
	/* RFC 5929 §4.1: the signature's hash, except MD5 and SHA-1 -> SHA-256. */
	if (mbedtls_oid_get_sig_alg(&crt.sig_oid, &type, &pk_alg) != 0)
		type = MBEDTLS_MD_NONE;
	mbedtls_x509_crt_free(&crt);
	if (type != MBEDTLS_MD_SHA224 && type != MBEDTLS_MD_SHA384 && type != MBEDTLS_MD_SHA512)
		type = MBEDTLS_MD_SHA256;
	if ((md = mbedtls_md_info_from_type(type)) == NULL)
		return -1;
	hlen = mbedtls_md_get_size(md);

	/* gss_channel_bindings_struct, RFC 4121 §4.1.1.2, no addresses. */
	memset(buf, 0, 16);
	app = plen + hlen;
	buf[16] = app & 0xff;
	buf[17] = (app >> 8) & 0xff;
	buf[18] = buf[19] = 0;
	memcpy(buf + 20, prefix, plen);
	if (mbedtls_md(md, der, len, buf + 20 + plen) != 0)
		return -1;
	return mbedtls_md5(buf, 20 + app, out) == 0 ? 0 : -1;
}

const char *
acceptor_status_name(enum accept_status status)
{
	switch (status) {
	case ACCEPT_OK:			return "ok";
	case ACCEPT_MALFORMED:		return "malformed";
	case ACCEPT_SPN_NOT_SERVED:	return "spn-not-served";
	case ACCEPT_ENCTYPE_DISABLED:	return "enctype-disabled";
	case ACCEPT_ENCTYPE_UNSUPPORTED: return "enctype-unsupported";
	case ACCEPT_KVNO_NOT_IN_KEYTAB:	return "kvno-not-in-keytab";
	case ACCEPT_NO_KEY:		return "no-key";
	case ACCEPT_WRONG_KEY:		return "wrong-key";
	case ACCEPT_PAC_INVALID:	return "pac-invalid";
	case ACCEPT_CLOCK_SKEW:		return "clock-skew";
	case ACCEPT_TICKET_EXPIRED:	return "ticket-expired";
	case ACCEPT_TICKET_NOT_YET_VALID: return "ticket-not-yet-valid";
	case ACCEPT_REPLAY:		return "replay";
	case ACCEPT_REPLAY_CACHE_FULL:	return "replay-cache-full";
	case ACCEPT_REPLAY_QUOTA:	return "replay-quota";
	case ACCEPT_CB_MISMATCH:	return "cb-mismatch";
	case ACCEPT_CB_MISSING:		return "cb-missing";
	case ACCEPT_REFUSED:		return "refused";
	case ACCEPT_INTERNAL:		return "internal";
	}
	return "unknown";
}
