/*
 * kcd.c: constrained delegation (MS-SFU S4U2Proxy, S4U2Self) for the
 * keyholder: a ticket cache with coalescing in front of a small pool of
 * KDC worker threads, and AP-REQs built by Heimdal's GSS initiator.
 *
 * Who touches what:
 *   caller's thread  the cache (hash + LRU), entries, waiters, answers,
 *                    tickets, GSS contexts, k->ctx;
 *   workers          their own krb5_context and MEMORY: ccache; jobs handed
 *                    to them through k->queue, back through k->done;
 *   k->mu            queue, done list, counters;
 *   k->tgt_mu        the ASA's TGT and the name of the keytab snapshot.
 *
 * The keys live in a MEMORY: keytab snapshot that is never modified after
 * it is published by name: workers resolve it by name in their own
 * contexts (Heimdal's MEMORY: keytabs are process-wide and reference
 * counted), and kcd_set_keys() publishes a new one instead of editing.
 *
 * Reasons, by exchange and KDC answer (kcd_explain()):
 *
 *   step       answer                      status / reason
 *   any        KDC unreachable, no KDC     KDC_UNREACHABLE "KDC unreachable (...)"
 *   any        KRB_AP_ERR_SKEW             CLOCK_SKEW
 *   TGT        PREAUTH_FAILED, integrity   ASA_CREDENTIALS "... keys (kvno N) are not
 *                                          the account's current password ..."
 *   TGT        C_PRINCIPAL_UNKNOWN         ASA_CREDENTIALS "no such account"
 *   TGT        CLIENT_REVOKED, KEY_EXPIRED ASA_CREDENTIALS "disabled, locked out ..."
 *   TGT        no key in keytab            ASA_CREDENTIALS
 *   S4U2Self   C/S_PRINCIPAL_UNKNOWN       UNKNOWN_USER
 *   S4U2Proxy  BADOPTION, evidence fwd     NOT_ALLOWED "EXCHASA$ may not delegate to it ..."
 *   S4U2Proxy  BADOPTION, S4U2Self not fwd USER_SENSITIVE (the ASA is known to have
 *                                          protocol transition) or
 *                                          NO_PROTOCOL_TRANSITION (it is known not to)
 *   S4U2Proxy  S_PRINCIPAL_UNKNOWN         UNKNOWN_SPN "no such SPN in the directory"
 *   S4U2Proxy  C_PRINCIPAL_UNKNOWN         UNKNOWN_USER
 *   S4U2Proxy  TKT_EXPIRED (after a fresh  EVIDENCE_INVALID "evidence ... has expired"
 *              TGT)
 *   S4U2Proxy  integrity, BADKEYVER        EVIDENCE_INVALID "not issued to EXCHASA$"
 *   local      not forwardable, no PT      NOT_FORWARDABLE
 *   local      result for another client   EVIDENCE_INVALID
 *   other                                  KDC_ERROR "<KDC_ERR_NAME> for <what>: <text>"
 *
 * "Sensitive" is told apart from "no protocol transition" by asking, once,
 * for an S4U2Self ticket to the ASA for the ASA itself: it is forwardable
 * exactly when the account may use protocol transition.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <krb5.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>

#include "kcd.h"
#include "util.h"

/* ---------------------------------------------------------------- types */

struct kcd_ticket {
	unsigned refs;
	krb5_context ctx;		/* the module's, for freeing */
	krb5_creds *creds;
	char *client;			/* alice@CORP.CONTOSO.COM */
	char *server;			/* http/cas1.corp.contoso.com@CORP.CONTOSO.COM */
	time_t endtime;
	krb5_ccache cc;			/* lazily, for the GSS initiator */
	gss_cred_id_t gcred;
};

struct kcd_apctx {
	struct kcd_ticket *t;		/* keeps cc and gcred alive */
	gss_ctx_id_t gctx;
	gss_name_t target;
	OM_uint32 flags;
	bool used;
};

struct waiter {
	struct waiter *next;
	uint64_t cookie;
	uint64_t get_id;		/* non-zero: a kcd_get() */
};

struct job {
	struct job *next;
	struct entry *entry;		/* the caller's thread only */
	bool tgt_only;
	char *user, *spn;
	uint8_t *evidence;
	size_t evidence_len;
	bool forwardable, allow_pt;
	/* filled by the worker */
	enum kcd_status status;
	char reason[512];
	krb5_creds *creds;		/* allocated in the worker's context */
	bool via_pt;
};

enum entry_state { E_PENDING, E_READY };

struct entry {
	struct entry *hnext;
	struct entry *prev, *next;	/* LRU, READY entries only */
	uint32_t hash;
	char *user, *spn;
	enum entry_state state;
	struct kcd_ticket *ticket;	/* READY */
	struct waiter *waiters;		/* PENDING, in arrival order */
	struct waiter **wtail;
};

struct answer {
	struct answer *next;
	uint64_t get_id;
	struct kcd_result res;
};

enum pt_knowledge { PT_UNKNOWN, PT_YES, PT_NO };

struct worker {
	struct kcd *k;
	pthread_t thread;
	bool started;
	krb5_context ctx;
	krb5_ccache cc;			/* MEMORY:, the ASA's TGT */
	unsigned tgt_gen;		/* the TGT generation in cc */
	unsigned tgt_gen_forced;	/* the generation last used (for forced renewal) */
	krb5_principal asa;		/* in ctx */
};

struct kcd {
	struct kcd_config cfg;		/* strings below are owned copies */
	char *principal, *realm;
	int kvno_used;
	krb5_context ctx;
	krb5_principal asa;
	int efd;

	/* cache (caller's thread) */
	struct entry **buckets;
	size_t nbuckets;
	struct entry *lru_head, *lru_tail;
	size_t nready, npending;
	struct answer *answers, **atail;
	uint64_t next_get_id;

	/* keys and TGT (tgt_mu) */
	pthread_mutex_t tgt_mu;
	pthread_cond_t tgt_cv;
	bool tgt_busy;			/* a worker is in the AS exchange */
	krb5_keytab kt;			/* the current snapshot, k->ctx */
	char kt_name[128];
	unsigned kt_gen;
	krb5_creds *tgt;		/* copied from a worker's context */
	unsigned tgt_gen;
	enum pt_knowledge asa_pt;

	/* queue, done list, counters (mu) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *queue, **qtail;
	struct job *done, **dtail;
	bool stop;
	struct kcd_stats st;

	struct worker workers[KCD_MAX_WORKERS];
	unsigned running;		/* workers past their thread start (atomic) */
	unsigned nworkers;
};

/* ---------------------------------------------------------------- helpers */


static enum kcd_status
set_reason(char *reason, size_t len, enum kcd_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum kcd_status
set_reason(char *reason, size_t len, enum kcd_status st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, len, fmt, ap);
	va_end(ap);
	return st;
}

static const char *
krb5_msg(krb5_context ctx, krb5_error_code code, char *buf, size_t len)
{
	const char *m = krb5_get_error_message(ctx, code);

	snprintf(buf, len, "%s", m != NULL ? m : "unknown Kerberos error");
	krb5_free_error_message(ctx, m);
	return buf;
}

static time_t
now(const struct kcd *k)
{
	return k->cfg.clock != NULL ? k->cfg.clock() : time(NULL);
}

/* Tickets are ciphertext, but nothing of a credential outlives its use. */
static void
creds_free_zero(krb5_context ctx, krb5_creds *c)
{
	if (c == NULL)
		return;
	if (c->ticket.data != NULL)
		explicit_bzero(c->ticket.data, c->ticket.length);
	if (c->second_ticket.data != NULL)
		explicit_bzero(c->second_ticket.data, c->second_ticket.length);
	krb5_free_creds(ctx, c);	/* zeroizes the session key */
}

static uint32_t
key_hash(const char *user, const char *spn)
{
	uint32_t h = 2166136261u;
	const char *s;

	for (s = user; *s; s++)
		h = (h ^ (uint8_t)(*s | ((*s >= 'A' && *s <= 'Z') ? 0x20 : 0))) * 16777619u;
	h = (h ^ 0xff) * 16777619u;
	for (s = spn; *s; s++)
		h = (h ^ (uint8_t)(*s | ((*s >= 'A' && *s <= 'Z') ? 0x20 : 0))) * 16777619u;
	return h;
}

/* ---------------------------------------------------------------- reasons */

static const char *const kdc_error_names[] = {
	[0] = "KDC_ERR_NONE", [1] = "KDC_ERR_NAME_EXP", [2] = "KDC_ERR_SERVICE_EXP",
	[3] = "KDC_ERR_BAD_PVNO", [6] = "KDC_ERR_C_PRINCIPAL_UNKNOWN",
	[7] = "KDC_ERR_S_PRINCIPAL_UNKNOWN", [8] = "KDC_ERR_PRINCIPAL_NOT_UNIQUE",
	[9] = "KDC_ERR_NULL_KEY", [10] = "KDC_ERR_CANNOT_POSTDATE",
	[11] = "KDC_ERR_NEVER_VALID", [12] = "KDC_ERR_POLICY", [13] = "KDC_ERR_BADOPTION",
	[14] = "KDC_ERR_ETYPE_NOSUPP", [15] = "KDC_ERR_SUMTYPE_NOSUPP",
	[16] = "KDC_ERR_PADATA_TYPE_NOSUPP", [18] = "KDC_ERR_CLIENT_REVOKED",
	[19] = "KDC_ERR_SERVICE_REVOKED", [20] = "KDC_ERR_TGT_REVOKED",
	[21] = "KDC_ERR_CLIENT_NOTYET", [22] = "KDC_ERR_SERVICE_NOTYET",
	[23] = "KDC_ERR_KEY_EXPIRED", [24] = "KDC_ERR_PREAUTH_FAILED",
	[25] = "KDC_ERR_PREAUTH_REQUIRED", [26] = "KDC_ERR_SERVER_NOMATCH",
	[27] = "KDC_ERR_MUST_USE_USER2USER", [28] = "KDC_ERR_PATH_NOT_ACCEPTED",
	[29] = "KDC_ERR_SVC_UNAVAILABLE", [31] = "KRB_AP_ERR_BAD_INTEGRITY",
	[32] = "KRB_AP_ERR_TKT_EXPIRED", [33] = "KRB_AP_ERR_TKT_NYV",
	[34] = "KRB_AP_ERR_REPEAT", [35] = "KRB_AP_ERR_NOT_US", [36] = "KRB_AP_ERR_BADMATCH",
	[37] = "KRB_AP_ERR_SKEW", [38] = "KRB_AP_ERR_BADADDR", [41] = "KRB_AP_ERR_MODIFIED",
	[44] = "KRB_AP_ERR_BADKEYVER", [45] = "KRB_AP_ERR_NOKEY",
	[52] = "KRB_ERR_RESPONSE_TOO_BIG", [60] = "KRB_ERR_GENERIC",
	[68] = "KDC_ERR_WRONG_REALM",
};

static void
error_name(krb5_error_code code, char *buf, size_t len)
{
	long off = (long)code - (long)KRB5KDC_ERR_NONE;

	if (off >= 0 && off < (long)(sizeof(kdc_error_names) / sizeof(kdc_error_names[0])) &&
	    kdc_error_names[off] != NULL)
		snprintf(buf, len, "%s", kdc_error_names[off]);
	else if (off >= 0 && off < 128)
		snprintf(buf, len, "KRB-ERROR %ld", off);
	else
		snprintf(buf, len, "error %d", (int)code);
}

static bool
is_unreachable(krb5_error_code code)
{
	return code == KRB5_KDC_UNREACH || code == KRB5_REALM_CANT_RESOLVE ||
	    code == KRB5_REALM_UNKNOWN || code == ETIMEDOUT || code == ECONNREFUSED ||
	    code == EHOSTUNREACH || code == ENETUNREACH;
}

enum kcd_status
kcd_explain(krb5_error_code code, const struct kcd_error_ctx *e, char *reason, size_t len)
{
	const char *asa = e->asa ? e->asa : "the ASA";
	const char *user = e->user ? e->user : "the user";
	const char *spn = e->spn ? e->spn : "the back-end";
	const char *kt = e->kdc_text != NULL && e->kdc_text[0] ? e->kdc_text : NULL;
	char name[48], detail[300], account[160];
	const char *at;

	error_name(code, name, sizeof(name));
	snprintf(detail, sizeof(detail), "%s%s%s", kt ? " (KDC: " : "", kt ? kt : "",
	    kt ? ")" : "");
	/* "EXCHASA$" for prose; the realm is in the principals around it. */
	snprintf(account, sizeof(account), "%s", asa);
	if ((at = strchr(account, '@')) != NULL)
		account[at - account] = '\0';

	if (is_unreachable(code))
		return set_reason(reason, len, KCD_KDC_UNREACHABLE, "KDC unreachable (%s)",
		    kt ? kt : "no KDC answered");
	if (code == KRB5KRB_AP_ERR_SKEW)
		return set_reason(reason, len, KCD_CLOCK_SKEW, "KRB_AP_ERR_SKEW: clock skew "
		    "between this appliance and the KDC is too great; check NTP%s", detail);
	if (code == ENOMEM)
		return set_reason(reason, len, KCD_INTERNAL, "out of memory");

	switch (e->step) {
	case KCD_STEP_TGT:
		if (code == KRB5KDC_ERR_PREAUTH_FAILED || code == KRB5KRB_AP_ERR_BAD_INTEGRITY ||
		    code == KRB5KRB_AP_ERR_MODIFIED)
			return set_reason(reason, len, KCD_ASA_CREDENTIALS, "%s for %s: the "
			    "ASA keys (kvno %d) are not the account's current password in the "
			    "directory; load the current keys or finish the rotation%s", name,
			    asa, e->kvno, detail);
		if (code == KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN)
			return set_reason(reason, len, KCD_ASA_CREDENTIALS, "%s for %s: no "
			    "such account in the directory%s", name, asa, detail);
		if (code == KRB5KDC_ERR_CLIENT_REVOKED || code == KRB5KDC_ERR_KEY_EXPIRED)
			return set_reason(reason, len, KCD_ASA_CREDENTIALS, "%s for %s: the "
			    "account is disabled, locked out or its password expired%s", name,
			    asa, detail);
		if (code == KRB5_KT_NOTFOUND || code == KRB5_KT_END ||
		    code == KRB5KDC_ERR_ETYPE_NOSUPP)
			return set_reason(reason, len, KCD_ASA_CREDENTIALS, "no key of %s "
			    "(kvno %d) in the keytab for an enctype the KDC offers%s", asa,
			    e->kvno, detail);
		return set_reason(reason, len, KCD_KDC_ERROR, "%s getting the TGT of %s%s",
		    name, asa, detail);
	case KCD_STEP_S4U2SELF:
		if (code == KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN ||
		    code == KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN)
			return set_reason(reason, len, KCD_UNKNOWN_USER, "%s for %s "
			    "(S4U2Self): no such user in the directory%s", name, user, detail);
		if (code == KRB5KDC_ERR_CLIENT_REVOKED)
			return set_reason(reason, len, KCD_KDC_ERROR, "%s for %s (S4U2Self): "
			    "the user's account is disabled or locked out%s", name, user,
			    detail);
		return set_reason(reason, len, KCD_KDC_ERROR, "%s for %s: S4U2Self (protocol "
		    "transition) by %s refused%s", name, user, account, detail);
	case KCD_STEP_S4U2PROXY:
		break;
	}

	if (code == KRB5KDC_ERR_BADOPTION && !e->evidence_forwardable && e->protocol_transition) {
		if (e->asa_has_pt)
			return set_reason(reason, len, KCD_USER_SENSITIVE, "%s is marked "
			    "\"sensitive and cannot be delegated\": the KDC's S4U2Self ticket "
			    "for the user is not forwardable, so S4U2Proxy to %s was refused "
			    "(%s)%s", user, spn, name, detail);
		return set_reason(reason, len, KCD_NO_PROTOCOL_TRANSITION, "%s for %s: the "
		    "KDC's S4U2Self ticket for %s is not forwardable: %s is not trusted for "
		    "protocol transition (\"use any authentication protocol\", "
		    "TrustedToAuthForDelegation), or %s is marked \"sensitive and cannot "
		    "be delegated\"%s", name, spn, user, account, user, detail);
	}
	if (code == KRB5KDC_ERR_BADOPTION || code == KRB5KDC_ERR_POLICY)
		return set_reason(reason, len, KCD_NOT_ALLOWED, "%s for %s: %s may not "
		    "delegate to it, or the evidence ticket is not forwardable; check "
		    "msDS-AllowedToDelegateTo and protocol transition%s", name, spn, account,
		    detail);
	if (code == KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN)
		return set_reason(reason, len, KCD_UNKNOWN_SPN, "%s for %s: no such SPN in "
		    "the directory%s", name, spn, detail);
	if (code == KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN)
		return set_reason(reason, len, KCD_UNKNOWN_USER, "%s for %s: no such user in "
		    "the directory%s", name, user, detail);
	if (code == KRB5KRB_AP_ERR_TKT_EXPIRED)
		return set_reason(reason, len, KCD_EVIDENCE_INVALID, "%s for %s: the "
		    "evidence ticket of %s has expired%s", name, spn, user, detail);
	if (code == KRB5KRB_AP_ERR_BAD_INTEGRITY || code == KRB5KRB_AP_ERR_MODIFIED ||
	    code == KRB5KRB_AP_ERR_BADKEYVER || code == KRB5KRB_AP_ERR_NOKEY)
		return set_reason(reason, len, KCD_EVIDENCE_INVALID, "%s for %s: the KDC "
		    "cannot decrypt the evidence ticket of %s: it was not issued to %s (the "
		    "client's SPN belongs to another account) or the account's keys "
		    "changed%s", name, spn, user, account, detail);
	if (code == KRB5KDC_ERR_CLIENT_REVOKED)
		return set_reason(reason, len, KCD_KDC_ERROR, "%s for %s: the account of %s "
		    "is disabled or locked out%s", name, spn, user, detail);
	return set_reason(reason, len, KCD_KDC_ERROR, "%s for %s (S4U2Proxy for %s)%s",
	    name, spn, user, detail);
}

const char *
kcd_status_name(enum kcd_status status)
{
	switch (status) {
	case KCD_OK:			return "ok";
	case KCD_PENDING:		return "pending";
	case KCD_NOT_FORWARDABLE:	return "not-forwardable";
	case KCD_USER_SENSITIVE:	return "user-sensitive";
	case KCD_NOT_ALLOWED:		return "not-allowed";
	case KCD_NO_PROTOCOL_TRANSITION: return "no-protocol-transition";
	case KCD_UNKNOWN_SPN:		return "unknown-spn";
	case KCD_UNKNOWN_USER:		return "unknown-user";
	case KCD_EVIDENCE_INVALID:	return "evidence-invalid";
	case KCD_ASA_CREDENTIALS:	return "asa-credentials";
	case KCD_KDC_UNREACHABLE:	return "kdc-unreachable";
	case KCD_CLOCK_SKEW:		return "clock-skew";
	case KCD_KDC_ERROR:		return "kdc-error";
	case KCD_BUSY:			return "busy";
	case KCD_INTERNAL:		return "internal";
	case KCD_STATUS_MAX:		break;
	}
	return "unknown";
}

/* ---------------------------------------------------------------- keys */

static bool
same_principal(krb5_context ctx, krb5_const_principal a, krb5_const_principal b)
{
	char sa[512], sb[512];

	if (krb5_unparse_name_fixed(ctx, a, sa, sizeof(sa)) != 0 ||
	    krb5_unparse_name_fixed(ctx, b, sb, sizeof(sb)) != 0)
		return false;
	return strcasecmp(sa, sb) == 0;	/* AD: case-insensitive */
}

/*
 * Copies the ASA's keys of one kvno from (sctx, src) into a new MEMORY:
 * keytab in k->ctx.  Returns the number of keys, or -1.
 */
static int
snapshot_keys(struct kcd *k, krb5_context sctx, krb5_keytab src, int kvno,
    krb5_keytab *out, char *name, size_t namelen, int *kvno_out, char *err, size_t errlen)
{
	krb5_principal sasa = NULL;
	krb5_kt_cursor cur;
	krb5_keytab_entry e;
	krb5_keytab kt = NULL;
	krb5_error_code ret;
	char msg[256], *ktname_p = NULL;
	int pass, n = 0, best = 0;

	if ((ret = krb5_parse_name(sctx, k->principal, &sasa)) != 0)
		return kg_seterr(err, errlen, "bad principal \"%s\": %s", k->principal,
		    krb5_msg(sctx, ret, msg, sizeof(msg)));
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			if (best == 0) {
				krb5_free_principal(sctx, sasa);
				return kvno > 0 ?
				    kg_seterr(err, errlen, "no key of %s with kvno %d in the "
				    "keytab", k->principal, kvno) :
				    kg_seterr(err, errlen, "no key of %s in the keytab",
				    k->principal);
			}
			snprintf(name, namelen, "MEMORY:kcd-%ld-%p-%u", (long)getpid(),
			    (void *)k, ++k->kt_gen);
			if ((ret = krb5_kt_resolve(k->ctx, name, &kt)) != 0) {
				krb5_free_principal(sctx, sasa);
				return kg_seterr(err, errlen, "cannot create a memory keytab: %s",
				    krb5_msg(k->ctx, ret, msg, sizeof(msg)));
			}
		}
		if ((ret = krb5_kt_start_seq_get(sctx, src, &cur)) != 0) {
			char ktname[256];

			if (krb5_kt_get_full_name(sctx, src, &ktname_p) == 0) {
				snprintf(ktname, sizeof(ktname), "%s", ktname_p);
				free(ktname_p);
			} else {
				snprintf(ktname, sizeof(ktname), "(unnamed)");
			}
			kg_seterr(err, errlen, "cannot read keytab %s: %s", ktname,
			    krb5_msg(sctx, ret, msg, sizeof(msg)));
			goto fail;
		}
		while ((ret = krb5_kt_next_entry(sctx, src, &e, &cur)) == 0) {
			bool mine = same_principal(sctx, e.principal, sasa);

			if (pass == 0 && mine && (kvno == 0 ? (int)e.vno > best :
			    (int)e.vno == kvno))
				best = (int)e.vno;
			if (pass == 1 && mine && (int)e.vno == best) {
				krb5_keytab_entry copy = e;

				copy.principal = k->asa;
				if ((ret = krb5_kt_add_entry(k->ctx, kt, &copy)) != 0) {
					krb5_kt_free_entry(sctx, &e);
					krb5_kt_end_seq_get(sctx, src, &cur);
					kg_seterr(err, errlen, "cannot fill the memory keytab: %s",
					    krb5_msg(k->ctx, ret, msg, sizeof(msg)));
					goto fail;
				}
				n++;
			}
			krb5_kt_free_entry(sctx, &e);	/* zeroizes the key */
		}
		krb5_kt_end_seq_get(sctx, src, &cur);
	}
	krb5_free_principal(sctx, sasa);
	*out = kt;
	*kvno_out = best;
	return n;
fail:
	krb5_free_principal(sctx, sasa);
	if (kt != NULL)
		krb5_kt_close(k->ctx, kt);
	return -1;
}

static int
install_keys(struct kcd *k, krb5_context sctx, krb5_keytab src, int kvno, char *err,
    size_t errlen)
{
	krb5_keytab kt = NULL, old;
	char name[128];
	int n, used = 0;

	n = snapshot_keys(k, sctx, src, kvno, &kt, name, sizeof(name), &used, err, errlen);
	if (n < 0)
		return -1;
	pthread_mutex_lock(&k->tgt_mu);
	old = k->kt;
	k->kt = kt;
	snprintf(k->kt_name, sizeof(k->kt_name), "%s", name);
	k->kvno_used = used;
	if (k->tgt != NULL) {		/* the next job gets a TGT with the new keys */
		creds_free_zero(k->ctx, k->tgt);
		k->tgt = NULL;
	}
	pthread_mutex_unlock(&k->tgt_mu);
	/* Workers hold their own handle while they use the old snapshot. */
	if (old != NULL)
		krb5_kt_close(k->ctx, old);
	return n;
}

int
kcd_set_keys(struct kcd *k, krb5_context ctx, krb5_keytab kt, int kvno, char *err,
    size_t errlen)
{
	if (k == NULL || ctx == NULL || kt == NULL || kvno < 0)
		return kg_seterr(err, errlen, "invalid argument");
	return install_keys(k, ctx, kt, kvno, err, errlen);
}

/* ---------------------------------------------------------------- KDC work */

static void
count(struct kcd *k, uint64_t *counter)
{
	pthread_mutex_lock(&k->mu);
	(*counter)++;
	pthread_mutex_unlock(&k->mu);
}

/* Whether the shared TGT must be obtained again (tgt_mu held). */
static bool
tgt_stale(struct kcd *k, time_t t)
{
	time_t left, life, margin;

	if (k->tgt == NULL)
		return true;
	left = (time_t)k->tgt->times.endtime - t;
	life = (time_t)k->tgt->times.endtime - (time_t)k->tgt->times.authtime;
	/* Short-lived TGTs: renew at half-life rather than every time. */
	margin = k->cfg.refresh_margin < life / 2 ? k->cfg.refresh_margin : life / 2;
	return left <= margin;
}

/* An AS exchange with the key snapshot `name`, without any lock held. */
static enum kcd_status
get_tgt(struct worker *w, const char *name, int kvno, krb5_creds **out, char *reason,
    size_t len)
{
	struct kcd *k = w->k;
	krb5_get_init_creds_opt *opt = NULL;
	krb5_keytab kt = NULL;
	krb5_creds creds;
	krb5_error_code ret;
	enum kcd_status st = KCD_OK;
	char msg[256];

	memset(&creds, 0, sizeof(creds));
	if (name[0] == '\0')
		return set_reason(reason, len, KCD_ASA_CREDENTIALS, "no credential of %s "
		    "is active yet: stage, verify and activate one (the management API, "
		    "or kerbgatectl credentials)", k->principal);
	if ((ret = krb5_kt_resolve(w->ctx, name, &kt)) != 0 ||
	    (ret = krb5_get_init_creds_opt_alloc(w->ctx, &opt)) != 0) {
		st = set_reason(reason, len, KCD_INTERNAL, "cannot use the key snapshot: %s",
		    krb5_msg(w->ctx, ret, msg, sizeof(msg)));
		goto out;
	}
	krb5_get_init_creds_opt_set_forwardable(opt, 1);
	krb5_get_init_creds_opt_set_proxiable(opt, 0);
	count(k, &k->st.kdc_as);
	ret = krb5_get_init_creds_keytab(w->ctx, &creds, w->asa, kt, 0, NULL, opt);
	if (ret != 0) {
		struct kcd_error_ctx e = { .step = KCD_STEP_TGT, .asa = k->principal,
		    .realm = k->realm, .kvno = kvno,
		    .kdc_text = krb5_msg(w->ctx, ret, msg, sizeof(msg)) };

		st = kcd_explain(ret, &e, reason, len);
		goto out;
	}
	if (krb5_copy_creds(w->ctx, &creds, out) != 0)
		st = set_reason(reason, len, KCD_INTERNAL, "out of memory");
out:
	krb5_free_cred_contents(w->ctx, &creds);
	if (opt != NULL)
		krb5_get_init_creds_opt_free(w->ctx, opt);
	if (kt != NULL)
		krb5_kt_close(w->ctx, kt);
	return st;
}

/*
 * The ASA's TGT in the worker's ccache, obtained again when near its end.
 * One worker does the AS exchange, outside the lock (kcd_set_keys() on the
 * caller's thread never waits for the KDC); the others wait for it.
 */
static enum kcd_status
ensure_tgt(struct worker *w, bool force, char *reason, size_t len)
{
	struct kcd *k = w->k;
	krb5_creds *fresh = NULL;
	krb5_error_code ret;
	enum kcd_status st = KCD_OK;
	char name[sizeof(k->kt_name)], msg[256];
	int kvno;

	pthread_mutex_lock(&k->tgt_mu);
	while (k->tgt_busy)
		pthread_cond_wait(&k->tgt_cv, &k->tgt_mu);
	if (force && k->tgt_gen != w->tgt_gen_forced) {
		/* Another worker already replaced the TGT this one saw fail. */
		force = false;
	}
	if (force || tgt_stale(k, time(NULL))) {
		k->tgt_busy = true;
		snprintf(name, sizeof(name), "%s", k->kt_name);
		kvno = k->kvno_used;
		pthread_mutex_unlock(&k->tgt_mu);

		st = get_tgt(w, name, kvno, &fresh, reason, len);

		pthread_mutex_lock(&k->tgt_mu);
		k->tgt_busy = false;
		pthread_cond_broadcast(&k->tgt_cv);
		if (st != KCD_OK)
			goto out;
		if (k->tgt != NULL)
			creds_free_zero(w->ctx, k->tgt);
		k->tgt = fresh;
		fresh = NULL;
		k->tgt_gen++;
	}
	if (w->tgt_gen != k->tgt_gen) {
		if ((ret = krb5_cc_initialize(w->ctx, w->cc, k->tgt->client)) != 0 ||
		    (ret = krb5_cc_store_cred(w->ctx, w->cc, k->tgt)) != 0) {
			st = set_reason(reason, len, KCD_INTERNAL, "cannot store the TGT in "
			    "memory: %s", krb5_msg(w->ctx, ret, msg, sizeof(msg)));
			goto out;
		}
		w->tgt_gen = k->tgt_gen;
	}
	w->tgt_gen_forced = k->tgt_gen;
out:
	pthread_mutex_unlock(&k->tgt_mu);
	creds_free_zero(w->ctx, fresh);
	return st;
}

/* One TGS exchange: S4U2Self (impersonate set) or S4U2Proxy (evidence set). */
static krb5_error_code
tgs(struct worker *w, krb5_const_principal server, krb5_const_principal impersonate,
    const Ticket *evidence, krb5_creds **out)
{
	krb5_get_creds_opt opt;
	krb5_error_code ret;

	*out = NULL;
	if ((ret = krb5_get_creds_opt_alloc(w->ctx, &opt)) != 0)
		return ret;
	krb5_get_creds_opt_add_options(w->ctx, opt, KRB5_GC_NO_STORE | KRB5_GC_FORWARDABLE);
	if (impersonate != NULL)
		ret = krb5_get_creds_opt_set_impersonate(w->ctx, opt, impersonate);
	if (ret == 0 && evidence != NULL) {
		krb5_get_creds_opt_add_options(w->ctx, opt, KRB5_GC_CONSTRAINED_DELEGATION);
		ret = krb5_get_creds_opt_set_ticket(w->ctx, opt, evidence);
	}
	if (ret == 0) {
		count(w->k, impersonate != NULL ? &w->k->st.kdc_s4u2self :
		    &w->k->st.kdc_s4u2proxy);
		ret = krb5_get_creds(w->ctx, opt, w->cc, server, out);
	}
	krb5_get_creds_opt_free(w->ctx, opt);
	return ret;
}

/* May the ASA use protocol transition?  Its S4U2Self for itself says. */
static void
learn_protocol_transition(struct worker *w)
{
	struct kcd *k = w->k;
	krb5_creds *self = NULL;
	enum pt_knowledge pt;

	pthread_mutex_lock(&k->tgt_mu);
	pt = k->asa_pt;
	pthread_mutex_unlock(&k->tgt_mu);
	if (pt != PT_UNKNOWN || tgs(w, w->asa, w->asa, NULL, &self) != 0)
		return;
	pthread_mutex_lock(&k->tgt_mu);
	k->asa_pt = self->flags.b.forwardable ? PT_YES : PT_NO;
	pthread_mutex_unlock(&k->tgt_mu);
	creds_free_zero(w->ctx, self);
}

static enum kcd_status
kdc_fetch(struct worker *w, const struct kcd_fetch_in *in, krb5_creds **out, bool *via_pt,
    char *reason, size_t len)
{
	struct kcd *k = w->k;
	krb5_principal user = NULL, spn = NULL;
	krb5_creds *self = NULL, *res = NULL;
	krb5_error_code ret;
	struct kcd_error_ctx e;
	enum kcd_status st;
	Ticket evidence;
	bool have_evidence = false, fwd, retried = false;
	char msg[256], client[512];
	size_t sz;

	memset(&evidence, 0, sizeof(evidence));
	memset(&e, 0, sizeof(e));
	e.asa = k->principal;
	e.user = in->user;
	e.spn = in->spn;
	e.realm = k->realm;
	*via_pt = false;

	if ((st = ensure_tgt(w, false, reason, len)) != KCD_OK)
		return st;
	if ((ret = krb5_parse_name(w->ctx, in->user, &user)) != 0 ||
	    (ret = krb5_parse_name(w->ctx, in->spn, &spn)) != 0) {
		st = set_reason(reason, len, KCD_INTERNAL, "bad principal: %s",
		    krb5_msg(w->ctx, ret, msg, sizeof(msg)));
		goto out;
	}

	if (in->forwardable) {
		if (decode_Ticket(in->evidence, in->evidence_len, &evidence, &sz) != 0 ||
		    sz != in->evidence_len) {
			st = set_reason(reason, len, KCD_EVIDENCE_INVALID, "the evidence "
			    "ticket of %s is not a DER Ticket", in->user);
			goto out;
		}
		have_evidence = true;
		fwd = true;
	} else {
		e.step = KCD_STEP_S4U2SELF;
		if ((ret = tgs(w, w->asa, user, NULL, &self)) != 0) {
			e.kdc_text = krb5_msg(w->ctx, ret, msg, sizeof(msg));
			st = kcd_explain(ret, &e, reason, len);
			goto out;
		}
		*via_pt = true;
		fwd = self->flags.b.forwardable;
		if (decode_Ticket(self->ticket.data, self->ticket.length, &evidence, &sz) != 0) {
			st = set_reason(reason, len, KCD_KDC_ERROR, "the KDC's S4U2Self "
			    "ticket for %s does not decode", in->user);
			goto out;
		}
		have_evidence = true;
		pthread_mutex_lock(&k->tgt_mu);
		if (fwd)
			k->asa_pt = PT_YES;
		pthread_mutex_unlock(&k->tgt_mu);
		if (!fwd)
			learn_protocol_transition(w);
	}

	e.step = KCD_STEP_S4U2PROXY;
	e.evidence_forwardable = fwd;
	e.protocol_transition = *via_pt;
	for (;;) {
		ret = tgs(w, spn, NULL, &evidence, &res);
		/* Our TGT may be what expired, or the krbtgt key changed: once more. */
		if (!retried && (ret == KRB5KRB_AP_ERR_TKT_EXPIRED ||
		    ret == KRB5KRB_AP_ERR_BADKEYVER)) {
			retried = true;
			if ((st = ensure_tgt(w, true, reason, len)) != KCD_OK)
				goto out;
			continue;
		}
		break;
	}
	if (ret != 0) {
		pthread_mutex_lock(&k->tgt_mu);
		e.asa_has_pt = k->asa_pt == PT_YES;
		if (k->asa_pt == PT_UNKNOWN)	/* worded as "sensitive, or no PT" */
			e.asa_has_pt = false;
		pthread_mutex_unlock(&k->tgt_mu);
		e.kdc_text = krb5_msg(w->ctx, ret, msg, sizeof(msg));
		st = kcd_explain(ret, &e, reason, len);
		goto out;
	}
	if (krb5_unparse_name_fixed(w->ctx, res->client, client, sizeof(client)) != 0 ||
	    strcasecmp(client, in->user) != 0) {
		st = set_reason(reason, len, KCD_EVIDENCE_INVALID, "the KDC issued a ticket "
		    "for %s, not %s: the evidence ticket is not the authenticated user's",
		    client, in->user);
		goto out;
	}
	*out = res;
	res = NULL;
	st = KCD_OK;
out:
	if (have_evidence)
		free_Ticket(&evidence);
	creds_free_zero(w->ctx, self);
	creds_free_zero(w->ctx, res);
	if (user != NULL)
		krb5_free_principal(w->ctx, user);
	if (spn != NULL)
		krb5_free_principal(w->ctx, spn);
	return st;
}

static void
run_job(struct worker *w, struct job *j)
{
	struct kcd *k = w->k;
	struct kcd_fetch_in in = {
		.user = j->user, .spn = j->spn, .evidence = j->evidence,
		.evidence_len = j->evidence_len, .forwardable = j->forwardable,
		.allow_protocol_transition = j->allow_pt,
	};

	j->reason[0] = '\0';
	if (j->tgt_only)
		j->status = ensure_tgt(w, false, j->reason, sizeof(j->reason));
	else if (k->cfg.fetch != NULL)
		j->status = k->cfg.fetch(k->cfg.fetch_arg, w->ctx, &in, &j->creds, &j->via_pt,
		    j->reason, sizeof(j->reason));
	else
		j->status = kdc_fetch(w, &in, &j->creds, &j->via_pt, j->reason,
		    sizeof(j->reason));
	if (j->status == KCD_OK && j->creds == NULL)
		j->status = set_reason(j->reason, sizeof(j->reason), KCD_INTERNAL,
		    "the fetch function returned no ticket");
	if (j->status != KCD_OK && j->creds != NULL) {
		creds_free_zero(w->ctx, j->creds);
		j->creds = NULL;
	}
	if (j->status != KCD_OK && j->reason[0] == '\0')
		snprintf(j->reason, sizeof(j->reason), "%s", kcd_status_name(j->status));
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct kcd *k = w->k;
	struct job *j;
	uint64_t one = 1;

	__atomic_add_fetch(&k->running, 1, __ATOMIC_RELEASE);
	pthread_mutex_lock(&k->mu);
	while (!k->stop) {
		if ((j = k->queue) == NULL) {
			pthread_cond_wait(&k->cv, &k->mu);
			continue;
		}
		k->queue = j->next;
		if (k->queue == NULL)
			k->qtail = &k->queue;
		pthread_mutex_unlock(&k->mu);

		run_job(w, j);

		pthread_mutex_lock(&k->mu);
		j->next = NULL;
		*k->dtail = j;
		k->dtail = &j->next;
		if (write(k->efd, &one, sizeof(one)) < 0) {
			/* The counter cannot overflow here; nothing to do. */
		}
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

/* ---------------------------------------------------------------- tickets */

struct kcd_ticket *
kcd_ticket_ref(struct kcd_ticket *t)
{
	if (t != NULL)
		t->refs++;
	return t;
}

void
kcd_ticket_unref(struct kcd_ticket *t)
{
	OM_uint32 min;

	if (t == NULL || --t->refs > 0)
		return;
	if (t->gcred != GSS_C_NO_CREDENTIAL)
		gss_release_cred(&min, &t->gcred);
	if (t->cc != NULL)
		krb5_cc_destroy(t->ctx, t->cc);
	creds_free_zero(t->ctx, t->creds);
	free(t->client);
	free(t->server);
	explicit_bzero(t, sizeof(*t));
	free(t);
}

const char *
kcd_ticket_client(const struct kcd_ticket *t)
{
	return t != NULL ? t->client : NULL;
}

const char *
kcd_ticket_server(const struct kcd_ticket *t)
{
	return t != NULL ? t->server : NULL;
}

time_t
kcd_ticket_endtime(const struct kcd_ticket *t)
{
	return t != NULL ? t->endtime : 0;
}

/* Takes ownership of creds. */
static struct kcd_ticket *
ticket_new(struct kcd *k, krb5_creds *creds, const char *user, const char *spn)
{
	struct kcd_ticket *t = calloc(1, sizeof(*t));

	if (t == NULL || (t->client = strdup(user)) == NULL ||
	    (t->server = strdup(spn)) == NULL) {
		if (t != NULL)
			free(t->client);
		free(t);
		creds_free_zero(k->ctx, creds);
		return NULL;
	}
	t->refs = 1;
	t->ctx = k->ctx;
	t->creds = creds;
	t->endtime = (time_t)creds->times.endtime;
	t->gcred = GSS_C_NO_CREDENTIAL;
	return t;
}

/* ---------------------------------------------------------------- cache */

static struct entry *
cache_find(struct kcd *k, const char *user, const char *spn, uint32_t h)
{
	struct entry *e;

	for (e = k->buckets[h & (k->nbuckets - 1)]; e != NULL; e = e->hnext)
		if (e->hash == h && strcasecmp(e->user, user) == 0 &&
		    strcasecmp(e->spn, spn) == 0)
			return e;
	return NULL;
}

static void
lru_unlink(struct kcd *k, struct entry *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		k->lru_head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		k->lru_tail = e->prev;
	e->prev = e->next = NULL;
}

static void
lru_push_front(struct kcd *k, struct entry *e)
{
	e->prev = NULL;
	e->next = k->lru_head;
	if (k->lru_head != NULL)
		k->lru_head->prev = e;
	k->lru_head = e;
	if (k->lru_tail == NULL)
		k->lru_tail = e;
}

static void
cache_unhash(struct kcd *k, struct entry *e)
{
	struct entry **pp = &k->buckets[e->hash & (k->nbuckets - 1)];

	while (*pp != NULL && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp == e)
		*pp = e->hnext;
}

static void
entry_free(struct entry *e)
{
	struct waiter *w, *next;

	for (w = e->waiters; w != NULL; w = next) {
		next = w->next;
		free(w);
	}
	kcd_ticket_unref(e->ticket);
	free(e->user);
	free(e->spn);
	free(e);
}

/* Removes an entry from the cache, whatever its state, and frees it. */
static void
cache_remove(struct kcd *k, struct entry *e)
{
	cache_unhash(k, e);
	if (e->state == E_READY) {
		lru_unlink(k, e);
		k->nready--;
	} else {
		k->npending--;
	}
	entry_free(e);
}

static void
cache_evict_to(struct kcd *k, size_t cap)
{
	while (k->nready > cap && k->lru_tail != NULL) {
		cache_remove(k, k->lru_tail);
		pthread_mutex_lock(&k->mu);
		k->st.evictions++;
		pthread_mutex_unlock(&k->mu);
	}
}

void
kcd_flush(struct kcd *k)
{
	if (k != NULL)
		cache_evict_to(k, 0);
}

/* "http/cas1.corp.contoso.com[@REALM]" -> canonical with the realm. */
static int
canonical_spn(struct kcd *k, const char *spn, char *out, size_t len)
{
	krb5_principal p = NULL;
	krb5_error_code ret;

	if (strchr(spn, '@') != NULL)
		ret = krb5_parse_name(k->ctx, spn, &p);
	else if ((ret = krb5_parse_name_flags(k->ctx, spn, KRB5_PRINCIPAL_PARSE_NO_REALM,
	    &p)) == 0)
		ret = krb5_principal_set_realm(k->ctx, p, k->realm);
	if (ret == 0)
		ret = krb5_unparse_name_fixed(k->ctx, p, out, len);
	if (p != NULL)
		krb5_free_principal(k->ctx, p);
	return ret == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- results */

static enum kcd_status
finish(struct kcd *k, struct kcd_result *out, enum kcd_status st)
{
	out->status = st;
	pthread_mutex_lock(&k->mu);
	if (st == KCD_OK)
		k->st.ok++;
	else if (st != KCD_PENDING && st < KCD_STATUS_MAX)
		k->st.failures[st]++;
	pthread_mutex_unlock(&k->mu);
	return st;
}

void
kcd_result_clear(struct kcd_result *res)
{
	if (res == NULL)
		return;
	kcd_ticket_unref(res->ticket);
	memset(res, 0, sizeof(*res));
}

static void
queue_answer(struct kcd *k, struct answer *a)
{
	a->next = NULL;
	*k->atail = a;
	k->atail = &a->next;
}

/* A finished job: answers for each waiter, and the ticket into the cache. */
static void
complete_job(struct kcd *k, struct job *j)
{
	struct entry *e = j->entry;
	struct kcd_ticket *t = NULL;
	struct waiter *w;
	bool first = true;
	time_t n = now(k);

	if (j->status == KCD_OK) {
		t = ticket_new(k, j->creds, j->user, j->spn);
		j->creds = NULL;
		if (t == NULL) {
			j->status = KCD_INTERNAL;
			snprintf(j->reason, sizeof(j->reason), "out of memory");
		}
	}
	for (w = e->waiters; w != NULL; w = w->next) {
		struct answer *a = calloc(1, sizeof(*a));

		if (a == NULL)
			continue;	/* the waiter never hears: the caller times out */
		a->get_id = w->get_id;
		a->res.cookie = w->cookie;
		a->res.coalesced = !first;
		a->res.protocol_transition = j->via_pt;
		if (t != NULL) {
			a->res.ticket = kcd_ticket_ref(t);
			a->res.endtime = t->endtime;
		} else {
			snprintf(a->res.reason, sizeof(a->res.reason), "%s", j->reason);
		}
		finish(k, &a->res, j->status);
		queue_answer(k, a);
		first = false;
	}
	/* Cache only what is good for longer than the margin. */
	if (t != NULL && t->endtime - n > k->cfg.refresh_margin) {
		struct waiter *next;

		for (w = e->waiters; w != NULL; w = next) {
			next = w->next;
			free(w);
		}
		e->waiters = NULL;
		e->wtail = &e->waiters;
		e->state = E_READY;
		e->ticket = t;
		k->npending--;
		k->nready++;
		lru_push_front(k, e);
		cache_evict_to(k, k->cfg.cache_entries);
	} else {
		kcd_ticket_unref(t);
		cache_remove(k, e);
	}
}

static void
free_job(struct kcd *k, struct job *j)
{
	if (j->creds != NULL)
		creds_free_zero(k->ctx, j->creds);
	if (j->evidence != NULL)
		explicit_bzero(j->evidence, j->evidence_len);
	free(j->evidence);
	free(j->user);
	free(j->spn);
	explicit_bzero(j, sizeof(*j));
	free(j);
}

/* Moves finished jobs into answers. */
static void
collect(struct kcd *k)
{
	struct job *done, *j;
	uint64_t v;

	if (read(k->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing signalled; the done list is checked anyway. */
	}
	pthread_mutex_lock(&k->mu);
	done = k->done;
	k->done = NULL;
	k->dtail = &k->done;
	pthread_mutex_unlock(&k->mu);
	while ((j = done) != NULL) {
		done = j->next;
		if (!j->tgt_only)
			complete_job(k, j);
		free_job(k, j);
	}
}

static struct answer *
take_answer(struct kcd *k, uint64_t get_id)
{
	struct answer **pp, *a;

	for (pp = &k->answers; (a = *pp) != NULL; pp = &a->next) {
		if (a->get_id != get_id)
			continue;
		*pp = a->next;
		if (k->atail == &a->next)
			k->atail = pp;
		return a;
	}
	return NULL;
}

int
kcd_next(struct kcd *k, struct kcd_result *out)
{
	struct answer *a;

	memset(out, 0, sizeof(*out));
	if (k == NULL)
		return 0;
	collect(k);
	if ((a = take_answer(k, 0)) == NULL)
		return 0;
	*out = a->res;
	free(a);
	return 1;
}

/* ---------------------------------------------------------------- submit */

static void
enqueue(struct kcd *k, struct job *j)
{
	pthread_mutex_lock(&k->mu);
	j->next = NULL;
	*k->qtail = j;
	k->qtail = &j->next;
	k->st.jobs += !j->tgt_only;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
}

int
kcd_prefetch_tgt(struct kcd *k)
{
	struct job *j;

	if (k == NULL || (j = calloc(1, sizeof(*j))) == NULL)
		return -1;
	j->tgt_only = true;
	enqueue(k, j);
	return 0;
}

static enum kcd_status
submit(struct kcd *k, const struct kcd_request *req, uint64_t cookie, uint64_t get_id,
    struct kcd_result *out)
{
	char spn[512];
	struct entry *e;
	struct waiter *w;
	struct job *j;
	uint32_t h;

	pthread_mutex_lock(&k->mu);
	k->st.requests++;
	pthread_mutex_unlock(&k->mu);
	if (req == NULL || req->user == NULL || req->spn == NULL || req->user[0] == '\0' ||
	    strchr(req->user, '@') == NULL)
		return finish(k, out, set_reason(out->reason, sizeof(out->reason),
		    KCD_INTERNAL, "invalid request: no user principal or SPN"));
	if (canonical_spn(k, req->spn, spn, sizeof(spn)) != 0)
		return finish(k, out, set_reason(out->reason, sizeof(out->reason),
		    KCD_INTERNAL, "invalid back-end SPN \"%s\"", req->spn));

	h = key_hash(req->user, spn);
	if ((e = cache_find(k, req->user, spn, h)) != NULL && e->state == E_READY) {
		if (e->ticket->endtime - now(k) > k->cfg.refresh_margin) {
			lru_unlink(k, e);
			lru_push_front(k, e);
			out->ticket = kcd_ticket_ref(e->ticket);
			out->endtime = e->ticket->endtime;
			out->cached = true;
			pthread_mutex_lock(&k->mu);
			k->st.cache_hits++;
			pthread_mutex_unlock(&k->mu);
			return finish(k, out, KCD_OK);
		}
		cache_remove(k, e);	/* too close to its end */
		e = NULL;
	}
	if (e != NULL) {		/* in flight: wait with the others */
		if ((w = calloc(1, sizeof(*w))) == NULL)
			return finish(k, out, set_reason(out->reason, sizeof(out->reason),
			    KCD_INTERNAL, "out of memory"));
		w->cookie = cookie;
		w->get_id = get_id;
		*e->wtail = w;
		e->wtail = &w->next;
		pthread_mutex_lock(&k->mu);
		k->st.coalesced++;
		pthread_mutex_unlock(&k->mu);
		return KCD_PENDING;
	}

	if (!req->forwardable && !req->allow_protocol_transition)
		return finish(k, out, set_reason(out->reason, sizeof(out->reason),
		    KCD_NOT_FORWARDABLE, "the evidence ticket of %s is not forwardable "
		    "(the user may be marked \"sensitive and cannot be delegated\", or the "
		    "client's TGT is not forwardable: Heimdal's kinit needs --forwardable) "
		    "and protocol transition is not allowed for %s", req->user, spn));
	if (req->forwardable && (req->evidence == NULL || req->evidence_len == 0 ||
	    req->evidence_len > KCD_MAX_EVIDENCE_LEN))
		return finish(k, out, set_reason(out->reason, sizeof(out->reason),
		    KCD_EVIDENCE_INVALID, "no usable evidence ticket for %s", req->user));
	if (k->npending >= k->cfg.max_pending)
		return finish(k, out, set_reason(out->reason, sizeof(out->reason), KCD_BUSY,
		    "%zu delegation requests already in flight", k->npending));

	e = calloc(1, sizeof(*e));
	w = calloc(1, sizeof(*w));
	j = calloc(1, sizeof(*j));
	if (e == NULL || w == NULL || j == NULL || (e->user = strdup(req->user)) == NULL ||
	    (e->spn = strdup(spn)) == NULL || (j->user = strdup(req->user)) == NULL ||
	    (j->spn = strdup(spn)) == NULL || (req->evidence_len > 0 &&
	    (j->evidence = malloc(req->evidence_len)) == NULL)) {
		if (e != NULL) {
			free(e->user);
			free(e->spn);
		}
		free(e);
		free(w);
		if (j != NULL)
			free_job(k, j);
		return finish(k, out, set_reason(out->reason, sizeof(out->reason),
		    KCD_INTERNAL, "out of memory"));
	}
	if (req->evidence_len > 0)
		memcpy(j->evidence, req->evidence, req->evidence_len);
	j->evidence_len = req->evidence_len;
	j->forwardable = req->forwardable;
	j->allow_pt = req->allow_protocol_transition;
	j->entry = e;
	w->cookie = cookie;
	w->get_id = get_id;
	e->hash = h;
	e->state = E_PENDING;
	e->waiters = w;
	e->wtail = &w->next;
	e->hnext = k->buckets[h & (k->nbuckets - 1)];
	k->buckets[h & (k->nbuckets - 1)] = e;
	k->npending++;
	enqueue(k, j);
	return KCD_PENDING;
}

enum kcd_status
kcd_submit(struct kcd *k, const struct kcd_request *req, uint64_t cookie,
    struct kcd_result *out)
{
	memset(out, 0, sizeof(*out));
	out->cookie = cookie;
	if (k == NULL) {
		out->status = KCD_INTERNAL;
		snprintf(out->reason, sizeof(out->reason), "invalid argument");
		return KCD_INTERNAL;
	}
	return submit(k, req, cookie, 0, out);
}

enum kcd_status
kcd_get(struct kcd *k, const char *user_principal, const uint8_t *evidence_ticket_der,
    size_t len, bool forwardable, const char *backend_spn, bool allow_protocol_transition,
    struct kcd_result *out)
{
	struct kcd_request req = {
		.user = user_principal, .evidence = evidence_ticket_der, .evidence_len = len,
		.forwardable = forwardable, .spn = backend_spn,
		.allow_protocol_transition = allow_protocol_transition,
	};
	struct pollfd pfd;
	struct answer *a;
	uint64_t id, one = 1;
	enum kcd_status st;

	memset(out, 0, sizeof(*out));
	if (k == NULL) {
		out->status = KCD_INTERNAL;
		return KCD_INTERNAL;
	}
	id = ++k->next_get_id;
	if ((st = submit(k, &req, 0, id, out)) != KCD_PENDING)
		return st;
	pfd.fd = k->efd;
	pfd.events = POLLIN;
	for (;;) {
		collect(k);
		if ((a = take_answer(k, id)) != NULL)
			break;
		if (poll(&pfd, 1, 1000) < 0 && errno != EINTR)
			break;
	}
	if (k->answers != NULL && write(k->efd, &one, sizeof(one)) < 0) {
		/* Others' answers stay queued; the caller's poll sees them. */
	}
	if (a == NULL) {
		out->status = KCD_INTERNAL;
		snprintf(out->reason, sizeof(out->reason), "poll: %s", strerror(errno));
		return KCD_INTERNAL;
	}
	*out = a->res;
	out->cookie = 0;
	free(a);
	return out->status;
}

/* ---------------------------------------------------------------- AP-REQ */

static int
gss_err(char *err, size_t errlen, const char *what, OM_uint32 maj, OM_uint32 min)
{
	OM_uint32 m, ctx = 0;
	gss_buffer_desc b = GSS_C_EMPTY_BUFFER, b2 = GSS_C_EMPTY_BUFFER;

	gss_display_status(&m, maj, GSS_C_GSS_CODE, GSS_C_NO_OID, &ctx, &b);
	ctx = 0;
	if (min != 0)
		gss_display_status(&m, min, GSS_C_MECH_CODE, GSS_KRB5_MECHANISM, &ctx, &b2);
	kg_seterr(err, errlen, "%s: %.*s%s%.*s", what, (int)b.length, (char *)b.value,
	    b2.length ? ": " : "", (int)b2.length, (char *)b2.value);
	gss_release_buffer(&m, &b);
	gss_release_buffer(&m, &b2);
	return -1;
}

/* The ticket alone in a MEMORY: ccache, as a GSS initiator credential. */
static int
ticket_gss_cred(struct kcd *k, struct kcd_ticket *t, char *err, size_t errlen)
{
	krb5_error_code ret;
	OM_uint32 maj, min;
	char msg[256];

	if (t->gcred != GSS_C_NO_CREDENTIAL)
		return 0;
	if (t->cc == NULL) {
		if ((ret = krb5_cc_new_unique(k->ctx, "MEMORY", NULL, &t->cc)) != 0)
			return kg_seterr(err, errlen, "cannot create a memory ccache: %s",
			    krb5_msg(k->ctx, ret, msg, sizeof(msg)));
		if ((ret = krb5_cc_initialize(k->ctx, t->cc, t->creds->client)) != 0 ||
		    (ret = krb5_cc_store_cred(k->ctx, t->cc, t->creds)) != 0) {
			krb5_cc_destroy(k->ctx, t->cc);
			t->cc = NULL;
			return kg_seterr(err, errlen, "cannot fill a memory ccache: %s",
			    krb5_msg(k->ctx, ret, msg, sizeof(msg)));
		}
	}
	maj = gss_krb5_import_cred(&min, t->cc, NULL, NULL, &t->gcred);
	if (GSS_ERROR(maj)) {
		t->gcred = GSS_C_NO_CREDENTIAL;
		return gss_err(err, errlen, "gss_krb5_import_cred", maj, min);
	}
	return 0;
}

int
kcd_make_ap_req(struct kcd *k, const struct kcd_ticket *ct, const uint8_t *cb_app_data,
    size_t cb_len, bool mutual, uint8_t **token, size_t *token_len,
    struct kcd_apctx **state, char *err, size_t errlen)
{
	struct kcd_ticket *t = (struct kcd_ticket *)(uintptr_t)ct;
	struct gss_channel_bindings_struct cb;
	gss_buffer_desc name, out = GSS_C_EMPTY_BUFFER;
	gss_ctx_id_t gctx = GSS_C_NO_CONTEXT;
	gss_name_t target = GSS_C_NO_NAME;
	OM_uint32 maj, min, flags;
	struct kcd_apctx *ac = NULL;
	int rv = -1;

	if (token != NULL)
		*token = NULL;
	if (state != NULL)
		*state = NULL;
	if (k == NULL || t == NULL || token == NULL || token_len == NULL ||
	    (mutual && state == NULL) || (cb_app_data == NULL && cb_len > 0))
		return kg_seterr(err, errlen, "invalid argument");
	if (t->endtime <= time(NULL))
		return kg_seterr(err, errlen, "the ticket for %s expired", t->server);
	if (ticket_gss_cred(k, t, err, errlen) != 0)
		return -1;

	name.value = t->server;
	name.length = strlen(t->server);
	maj = gss_import_name(&min, &name, GSS_KRB5_NT_PRINCIPAL_NAME, &target);
	if (GSS_ERROR(maj))
		return gss_err(err, errlen, "gss_import_name", maj, min);

	/* RFC 4121 §4.1.1.2 with no addresses: what Windows and MIT send. */
	memset(&cb, 0, sizeof(cb));
	cb.application_data.value = (void *)(uintptr_t)cb_app_data;
	cb.application_data.length = cb_len;
	flags = GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG | GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG |
	    (mutual ? GSS_C_MUTUAL_FLAG : 0);
	maj = gss_init_sec_context(&min, t->gcred, &gctx, target, GSS_KRB5_MECHANISM, flags,
	    0, cb_app_data != NULL ? &cb : GSS_C_NO_CHANNEL_BINDINGS, GSS_C_NO_BUFFER, NULL,
	    &out, NULL, NULL);
	if (GSS_ERROR(maj) || (maj != GSS_S_COMPLETE && !(mutual &&
	    maj == GSS_S_CONTINUE_NEEDED)) || out.length == 0) {
		gss_err(err, errlen, "gss_init_sec_context", maj, min);
		goto out;
	}
	if ((*token = malloc(out.length)) == NULL) {
		kg_seterr(err, errlen, "out of memory");
		goto out;
	}
	memcpy(*token, out.value, out.length);
	*token_len = out.length;
	if (mutual) {
		if ((ac = calloc(1, sizeof(*ac))) == NULL) {
			free(*token);
			*token = NULL;
			kg_seterr(err, errlen, "out of memory");
			goto out;
		}
		ac->t = kcd_ticket_ref(t);
		ac->gctx = gctx;
		ac->target = target;
		ac->flags = flags;
		gctx = GSS_C_NO_CONTEXT;
		target = GSS_C_NO_NAME;
		*state = ac;
	}
	rv = 0;
out:
	gss_release_buffer(&min, &out);
	if (gctx != GSS_C_NO_CONTEXT)
		gss_delete_sec_context(&min, &gctx, GSS_C_NO_BUFFER);
	if (target != GSS_C_NO_NAME)
		gss_release_name(&min, &target);
	return rv;
}

int
kcd_verify_ap_rep(struct kcd_apctx *ac, const uint8_t *token, size_t len, char *err,
    size_t errlen)
{
	gss_buffer_desc in, out = GSS_C_EMPTY_BUFFER;
	OM_uint32 maj, min;

	if (ac == NULL || token == NULL || len == 0)
		return kg_seterr(err, errlen, "invalid argument");
	if (ac->used)
		return kg_seterr(err, errlen, "this AP-REQ's answer was already checked");
	ac->used = true;
	in.value = (void *)(uintptr_t)token;
	in.length = len;
	maj = gss_init_sec_context(&min, ac->t->gcred, &ac->gctx, ac->target,
	    GSS_KRB5_MECHANISM, ac->flags, 0, GSS_C_NO_CHANNEL_BINDINGS, &in, NULL, &out,
	    NULL, NULL);
	gss_release_buffer(&min, &out);
	if (maj != GSS_S_COMPLETE)
		return gss_err(err, errlen, "the back-end's AP-REP does not verify", maj, min);
	return 0;
}

void
kcd_apctx_free(struct kcd_apctx *ac)
{
	OM_uint32 min;

	if (ac == NULL)
		return;
	if (ac->gctx != GSS_C_NO_CONTEXT)
		gss_delete_sec_context(&min, &ac->gctx, GSS_C_NO_BUFFER);
	if (ac->target != GSS_C_NO_NAME)
		gss_release_name(&min, &ac->target);
	kcd_ticket_unref(ac->t);
	free(ac);
}

/* ---------------------------------------------------------------- lifecycle */

/*
 * The KDC list and timeout go into a krb5.conf built in memory (a memfd:
 * nothing on disk), read before (or, with a KDC list, instead of) the
 * system's files.
 */
static int
config_fd(struct kcd *k, char *err, size_t errlen)
{
	char buf[4096];
	size_t off = 0, i;
	int fd, n;

	n = snprintf(buf, sizeof(buf), "[libdefaults]\n\tdefault_realm = %s\n"
	    "\tkdc_timeout = %d\n%s", k->realm, k->cfg.kdc_timeout,
	    k->cfg.nkdcs > 0 ? "\tdns_lookup_kdc = false\n\tdns_lookup_realm = false\n" : "");
	off = (size_t)n;
	if (k->cfg.nkdcs > 0) {
		n = snprintf(buf + off, sizeof(buf) - off, "[realms]\n\t%s = {\n", k->realm);
		off += (size_t)n;
		for (i = 0; i < k->cfg.nkdcs && off < sizeof(buf); i++) {
			const char *s = k->cfg.kdcs[i];

			if (s == NULL || s[0] == '\0' || strpbrk(s, " \t\r\n{}=") != NULL)
				return kg_seterr(err, errlen, "bad KDC name \"%s\"", s ? s : "");
			n = snprintf(buf + off, sizeof(buf) - off, "\t\tkdc = %s\n", s);
			off += (size_t)n;
		}
		if (off < sizeof(buf)) {
			n = snprintf(buf + off, sizeof(buf) - off, "\t}\n");
			off += (size_t)n;
		}
	}
	if (off >= sizeof(buf))
		return kg_seterr(err, errlen, "too many KDCs");
	if ((fd = memfd_create("kcd-krb5.conf", MFD_CLOEXEC)) < 0)
		return kg_seterr(err, errlen, "memfd_create: %s", strerror(errno));
	if (write(fd, buf, off) != (ssize_t)off) {
		close(fd);
		return kg_seterr(err, errlen, "cannot write the KDC configuration");
	}
	return fd;
}

static int
worker_init(struct kcd *k, struct worker *w, int cfd, char *err, size_t errlen)
{
	char path[64], msg[256], **defaults = NULL;
	char *files[64];
	size_t n = 0, i;
	krb5_error_code ret;

	w->k = k;
	if ((ret = krb5_init_context(&w->ctx)) != 0) {
		w->ctx = NULL;
		return kg_seterr(err, errlen, "cannot initialise a Kerberos context");
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", cfd);
	files[n++] = path;
	if (k->cfg.nkdcs == 0 && krb5_get_default_config_files(&defaults) == 0)
		for (i = 0; defaults[i] != NULL && n < sizeof(files) / sizeof(files[0]) - 1; i++)
			files[n++] = defaults[i];
	files[n] = NULL;
	ret = krb5_set_config_files(w->ctx, files);
	if (defaults != NULL)
		krb5_free_config_files(defaults);
	if (ret != 0)
		return kg_seterr(err, errlen, "cannot read the KDC configuration: %s",
		    krb5_msg(w->ctx, ret, msg, sizeof(msg)));
	if ((ret = krb5_parse_name(w->ctx, k->principal, &w->asa)) != 0 ||
	    (ret = krb5_cc_new_unique(w->ctx, "MEMORY", NULL, &w->cc)) != 0)
		return kg_seterr(err, errlen, "cannot set up a worker: %s",
		    krb5_msg(w->ctx, ret, msg, sizeof(msg)));
	return 0;
}

static void
worker_fini(struct worker *w)
{
	if (w->ctx == NULL)
		return;
	if (w->cc != NULL)
		krb5_cc_destroy(w->ctx, w->cc);
	if (w->asa != NULL)
		krb5_free_principal(w->ctx, w->asa);
	krb5_free_context(w->ctx);
	memset(w, 0, sizeof(*w));
}

static size_t
pow2_at_least(size_t n)
{
	size_t p = 16;

	while (p < n && p < ((size_t)1 << 24))
		p <<= 1;
	return p;
}

struct kcd *
kcd_new(const struct kcd_config *cfg, char *err, size_t errlen)
{
	struct kcd *k;
	krb5_context sctx = NULL;
	krb5_keytab src = NULL;
	krb5_error_code ret;
	char msg[256], name[4096];
	int cfd = -1;
	unsigned i;

	if (cfg == NULL || cfg->principal == NULL || strchr(cfg->principal, '@') == NULL ||
	    (cfg->keytab == NULL && cfg->keytab_name == NULL) ||
	    (cfg->keytab != NULL && cfg->keytab_ctx == NULL) || cfg->kvno < 0 ||
	    (cfg->nkdcs > 0 && cfg->kdcs == NULL)) {
		kg_seterr(err, errlen, "invalid configuration: the ASA principal (with its "
		    "realm) and a keytab are required");
		return NULL;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		kg_seterr(err, errlen, "out of memory");
		return NULL;
	}
	k->efd = -1;
	k->cfg = *cfg;
	if (k->cfg.kdc_timeout <= 0)
		k->cfg.kdc_timeout = KCD_DEFAULT_KDC_TIMEOUT;
	if (k->cfg.cache_entries == 0)
		k->cfg.cache_entries = KCD_DEFAULT_CACHE_ENTRIES;
	if (k->cfg.refresh_margin <= 0)
		k->cfg.refresh_margin = KCD_DEFAULT_REFRESH_MARGIN;
	if (k->cfg.workers == 0)
		k->cfg.workers = KCD_DEFAULT_WORKERS;
	if (k->cfg.workers > KCD_MAX_WORKERS)
		k->cfg.workers = KCD_MAX_WORKERS;
	if (k->cfg.max_pending == 0)
		k->cfg.max_pending = KCD_DEFAULT_MAX_PENDING;
	k->cfg.keytab = NULL;
	k->cfg.keytab_ctx = NULL;
	k->cfg.keytab_name = NULL;
	k->cfg.principal = NULL;
	k->cfg.realm = NULL;
	k->cfg.kdcs = NULL;	/* used only below, while cfg is still the caller's */
	k->cfg.nkdcs = cfg->nkdcs;
	pthread_mutex_init(&k->mu, NULL);
	pthread_mutex_init(&k->tgt_mu, NULL);
	pthread_cond_init(&k->tgt_cv, NULL);
	pthread_cond_init(&k->cv, NULL);
	k->qtail = &k->queue;
	k->dtail = &k->done;
	k->atail = &k->answers;
	k->nbuckets = pow2_at_least(k->cfg.cache_entries + k->cfg.max_pending);

	if ((k->principal = strdup(cfg->principal)) == NULL ||
	    (k->buckets = calloc(k->nbuckets, sizeof(*k->buckets))) == NULL) {
		kg_seterr(err, errlen, "out of memory");
		goto fail;
	}
	if ((ret = krb5_init_context(&k->ctx)) != 0) {
		k->ctx = NULL;
		kg_seterr(err, errlen, "cannot initialise a Kerberos context");
		goto fail;
	}
	if ((ret = krb5_parse_name(k->ctx, k->principal, &k->asa)) != 0) {
		kg_seterr(err, errlen, "bad principal \"%s\": %s", k->principal,
		    krb5_msg(k->ctx, ret, msg, sizeof(msg)));
		goto fail;
	}
	if ((k->realm = strdup(cfg->realm != NULL ? cfg->realm :
	    krb5_principal_get_realm(k->ctx, k->asa))) == NULL) {
		kg_seterr(err, errlen, "out of memory");
		goto fail;
	}

	/* Keys. */
	if (cfg->keys_later)
		;	/* none yet: kcd_set_keys() at the first activation */
	else if (cfg->keytab != NULL) {
		if (install_keys(k, cfg->keytab_ctx, cfg->keytab, cfg->kvno, err, errlen) < 0)
			goto fail;
	} else {
		const char *p = cfg->keytab_name;

		snprintf(name, sizeof(name), "%s%s", p[0] == '/' ? "FILE:" : "", p);
		sctx = k->ctx;
		if ((ret = krb5_kt_resolve(sctx, name, &src)) != 0) {
			kg_seterr(err, errlen, "cannot read keytab %s: %s", p,
			    krb5_msg(sctx, ret, msg, sizeof(msg)));
			goto fail;
		}
		ret = install_keys(k, sctx, src, cfg->kvno, err, errlen);
		krb5_kt_close(sctx, src);
		if (ret < 0)
			goto fail;
	}

	/* Workers. */
	k->cfg.kdcs = cfg->kdcs;
	cfd = config_fd(k, err, errlen);
	k->cfg.kdcs = NULL;
	if (cfd < 0)
		goto fail;
	if ((k->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		kg_seterr(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	for (i = 0; i < k->cfg.workers; i++) {
		if (worker_init(k, &k->workers[i], cfd, err, errlen) != 0) {
			worker_fini(&k->workers[i]);
			goto fail;
		}
		k->nworkers++;
	}
	close(cfd);
	cfd = -1;
	for (i = 0; i < k->nworkers; i++) {
		if ((errno = pthread_create(&k->workers[i].thread, NULL, worker_main,
		    &k->workers[i])) != 0) {
			kg_seterr(err, errlen, "cannot start a KDC thread: %s", strerror(errno));
			goto fail;
		}
		k->workers[i].started = true;
	}
	/* A new thread makes system calls of its own as it starts (rseq,
	 * set_robust_list): the keyholder enters its sandbox only once every
	 * worker is past them, or the filter could kill it for those. */
	while (__atomic_load_n(&k->running, __ATOMIC_ACQUIRE) < k->nworkers)
		usleep(100);
	return k;
fail:
	if (cfd >= 0)
		close(cfd);
	kcd_free(k);
	return NULL;
}

void
kcd_free(struct kcd *k)
{
	struct answer *a;
	struct job *j;
	size_t i;

	if (k == NULL)
		return;
	pthread_mutex_lock(&k->mu);
	k->stop = true;
	pthread_cond_broadcast(&k->cv);
	pthread_mutex_unlock(&k->mu);
	for (i = 0; i < k->nworkers; i++)
		if (k->workers[i].started)
			pthread_join(k->workers[i].thread, NULL);
	while ((j = k->queue) != NULL) {
		k->queue = j->next;
		free_job(k, j);
	}
	while ((j = k->done) != NULL) {
		k->done = j->next;
		free_job(k, j);
	}
	while ((a = k->answers) != NULL) {
		k->answers = a->next;
		kcd_result_clear(&a->res);
		free(a);
	}
	for (i = 0; k->buckets != NULL && i < k->nbuckets; i++) {
		struct entry *e, *next;

		for (e = k->buckets[i]; e != NULL; e = next) {
			next = e->hnext;
			entry_free(e);
		}
	}
	free(k->buckets);
	for (i = 0; i < k->nworkers; i++)
		worker_fini(&k->workers[i]);
	if (k->tgt != NULL)
		creds_free_zero(k->ctx, k->tgt);
	if (k->kt != NULL)
		krb5_kt_close(k->ctx, k->kt);	/* the last handle: keys zeroized */
	if (k->asa != NULL)
		krb5_free_principal(k->ctx, k->asa);
	if (k->ctx != NULL)
		krb5_free_context(k->ctx);
	if (k->efd >= 0)
		close(k->efd);
	pthread_cond_destroy(&k->cv);
	pthread_cond_destroy(&k->tgt_cv);
	pthread_mutex_destroy(&k->mu);
	pthread_mutex_destroy(&k->tgt_mu);
	free(k->principal);
	free(k->realm);
	explicit_bzero(k, sizeof(*k));
	free(k);
}

int
kcd_fd(const struct kcd *k)
{
	return k != NULL ? k->efd : -1;
}

void
kcd_stats(struct kcd *k, struct kcd_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (k == NULL)
		return;
	pthread_mutex_lock(&k->mu);
	*out = k->st;
	pthread_mutex_unlock(&k->mu);
	/* Owned by the caller's thread: exact when called from it. */
	out->cached = k->nready;
	out->in_flight = k->npending;
}
