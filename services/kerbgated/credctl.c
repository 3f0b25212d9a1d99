/*
 * credctl.c: credential rotation inside the running keyholder (credctl.h).
 */
#include <sys/mman.h>

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <krb5.h>

#include <jansson.h>

#include "acceptor.h"
#include "credctl.h"
#include "credkeys.h"
#include "credstore.h"
#include "ctlproto.h"
#include "ipc.h"
#include "kcd.h"
#include "log.h"
#include "sealedstore.h"
#include "secretctl.h"
#include "util.h"

/*
 * One job for the verifier thread, in locked memory: a verification (the
 * staged keys travel with it), or a password's keys to derive (PBKDF2 is
 * tens of milliseconds: not on the loop that answers relays).
 */
enum job_kind { JOB_VERIFY, JOB_DERIVE };

struct verify_job {
	enum job_kind	 kind;
	char		 password[CTL_MAX_PASSWORD + 1];	/* JOB_DERIVE */
	size_t		 pwlen;
	char		 principal[CRED_PRINCIPAL_MAX];
	int		 kvno;
	struct cred_key	 keys[CRED_MAX_KEYS];
	size_t		 nkeys;
	uint32_t	 frame_id;
	int		 ok;
	char		 text[CTL_MAX_TEXT];
};

struct credctl {
	const struct conf	*conf;
	struct kg_acceptor	*acc;
	krb5_context		 kctx;		/* the acceptor's */
	struct kcd		*kcd;
	struct credstore	*cs;
	struct secretctl	*sec;		/* pool secrets, cookie key, TLS keys */
	uint8_t			*dkey;		/* device key, locked; NULL: no store */
	const char *const	*spns;
	size_t			 nspns;
	char			 realm[256];
	int			 fd;		/* to the parent */
	struct kg_ipc_reader	 rd;
	/* the verifier thread and its own Kerberos context */
	krb5_context		 vctx;
	pthread_t		 thr;
	int			 started;
	int			 running;	/* the thread is past its start (atomic) */
	int			 jobfd[2], donefd[2];
	struct verify_job	*job;		/* in flight, or NULL */
};

static uint64_t
now_s(void)
{
	return (uint64_t)time(NULL);
}

static const char *
etype_name(int32_t et)
{
	switch (et) {
	case CRED_ETYPE_AES256:	return "aes256-cts-hmac-sha1-96";
	case CRED_ETYPE_AES128:	return "aes128-cts-hmac-sha1-96";
	case CRED_ETYPE_RC4:	return "rc4-hmac";
	}
	return "?";
}

/* ------------------------------------------------------- acceptor, store */

/* The entry's keys into the acceptor, under the account and every SPN. */
static int
serve_entry(struct credctl *cc, const struct cred_entry *e, char *err,
    size_t errlen)
{
	size_t i;

	for (i = 0; i < e->nkeys; i++)
		if (acceptor_add_key(cc->acc, e->principal, e->kvno, e->keys[i].enctype,
		    e->keys[i].bytes, e->keys[i].len, err, errlen) != 0)
			return -1;
	return 0;
}

static void
unserve_kvno(struct credctl *cc, const char *principal, int kvno)
{
	char err[256];

	if (acceptor_remove_kvno(cc->acc, principal, kvno, err, sizeof(err)) < 0)
		log_warnx("credentials: cannot drop kvno %d: %s", kvno, err);
}

/* The store sealed under the device key; NULL when there is no store. */
static int
seal_store(struct credctl *cc, uint8_t **img, size_t *len, char *err,
    size_t errlen)
{
	struct sealed_buf b = { 0 };
	int rv;

	*img = NULL;
	*len = 0;
	if (cc->dkey == NULL)
		return 0;
	if (credstore_encode(cc->cs, now_s(), &b) != 0 ||
	    secretctl_encode(cc->sec, &b) != 0) {
		sealed_buf_free(&b);
		return kg_seterr(err, errlen, "out of memory");
	}
	rv = sealed_seal(cc->dkey, b.p, b.len, img, len, err, errlen);
	sealed_buf_free(&b);
	return rv;
}

/* Realm of "NAME@REALM". */
static const char *
realm_of(const char *principal)
{
	const char *at = strrchr(principal, '@');

	return at != NULL ? at + 1 : "";
}

/*
 * No credential yet (an appliance before its first one, no keytab given):
 * the acceptor serves the SPNs in the ASA's realm with no key until one is
 * staged (the management API, kerbgatectl).
 */
static int
start_empty(struct credctl *cc, char *err, size_t errlen)
{
	const struct conf *c = cc->conf;

	if (c->kcd_principal[0] == '\0')
		return kg_seterr(err, errlen, "no keytab and no credential in the sealed "
		    "store %s: give \"keytab\", or set kcd.principal (the ASA) to start "
		    "without one and stage it through the management API", c->cred_store);
	kg_strlcpy(cc->realm, realm_of(c->kcd_principal), sizeof(cc->realm));
	if (acceptor_load_empty(cc->acc, cc->realm, cc->spns, cc->nspns, err,
	    errlen) != 0)
		return -1;
	log_warnx("credentials: no credential yet: authentication fails until one "
	    "of %s is staged, verified and activated (the management API, or "
	    "kerbgatectl credentials)", c->kcd_principal);
	return 0;
}

/* The sealed store's credentials into the acceptor. */
static int
load_store(struct credctl *cc, const uint8_t *img, size_t len, char *err,
    size_t errlen)
{
	uint8_t *plain;
	size_t plen, i;
	char why[512];

	if (sealed_open(cc->dkey, img, len, &plain, &plen, why, sizeof(why)) != 0 ||
	    credstore_decode(cc->cs, plain, plen, why, sizeof(why)) != 0 ||
	    secretctl_load(cc->sec, plain, plen, why, sizeof(why)) != 0) {
		sealed_free(plain, plen);
		return kg_seterr(err, errlen, "sealed store %s: %s: restore it, or move "
		    "it aside to import the keytab %s again", cc->conf->cred_store, why,
		    cc->conf->keytab);
	}
	sealed_free(plain, plen);
	if (cc->cs->n == 0 && cc->conf->keytab[0] == '\0')
		return start_empty(cc, err, errlen);
	if (cc->cs->n == 0)	/* other secrets only: the keytab comes in now */
		return 1;
	kg_strlcpy(cc->realm, realm_of(cc->cs->e[0].principal), sizeof(cc->realm));
	if (acceptor_load_empty(cc->acc, cc->realm, cc->spns, cc->nspns, err,
	    errlen) != 0)
		return -1;
	for (i = 0; i < cc->cs->n; i++)
		if (serve_entry(cc, &cc->cs->e[i], err, errlen) != 0)
			return -1;
	return 0;
}

/* Whether p is one of the served SPNs (then it is not the account). */
static int
is_spn(const struct credctl *cc, krb5_const_principal p)
{
	return krb5_principal_get_num_comp(cc->kctx, p) != 1;
}

/*
 * The keytab read by the acceptor into the credstore: the account's keys
 * of AD's enctypes, per kvno; the highest kvno active, the others retained
 * from now (they age out like any superseded kvno).
 */
static int
import_keytab(struct credctl *cc, char *err, size_t errlen)
{
	struct cred_entry *e;
	krb5_keytab kt;
	krb5_kt_cursor cur;
	krb5_keytab_entry ke;
	size_t i, n = 0, best = 0;
	int rv = -1;
	char name[CRED_PRINCIPAL_MAX];

	if ((e = sealed_alloc(CRED_MAX_ENTRIES * sizeof(*e))) == NULL)
		return kg_seterr(err, errlen, "out of memory");
	if (acceptor_keytab(cc->acc, &cc->kctx, &kt) != 0 ||
	    krb5_kt_start_seq_get(cc->kctx, kt, &cur) != 0) {
		kg_seterr(err, errlen, "no keytab loaded");
		goto out;
	}
	while (krb5_kt_next_entry(cc->kctx, kt, &ke, &cur) == 0) {
		int32_t et = ke.keyblock.keytype;
		struct cred_entry *x = NULL;

		if ((et == CRED_ETYPE_AES256 || et == CRED_ETYPE_AES128 ||
		    et == CRED_ETYPE_RC4) && !is_spn(cc, ke.principal) &&
		    krb5_unparse_name_fixed(cc->kctx, ke.principal, name,
		    sizeof(name)) == 0 &&
		    (cc->conf->kcd_principal[0] == '\0' ||
		    strcasecmp(name, cc->conf->kcd_principal) == 0)) {
			for (i = 0; i < n && x == NULL; i++)
				if (e[i].kvno == (int)ke.vno)
					x = &e[i];
			if (x == NULL && n < CRED_MAX_ENTRIES) {
				x = &e[n++];
				kg_strlcpy(x->principal, name, sizeof(x->principal));
				x->kvno = (int)ke.vno;
			}
			if (x != NULL && x->nkeys < CRED_MAX_KEYS &&
			    ke.keyblock.keyvalue.length <= CRED_MAX_KEY) {
				struct cred_key *k = &x->keys[x->nkeys++];

				k->enctype = et;
				k->len = ke.keyblock.keyvalue.length;
				memcpy(k->bytes, ke.keyblock.keyvalue.data, k->len);
			}
		}
		krb5_kt_free_entry(cc->kctx, &ke);
	}
	krb5_kt_end_seq_get(cc->kctx, kt, &cur);
	if (n == 0) {
		kg_seterr(err, errlen, "keytab %s holds no aes256, aes128 or rc4 key of "
		    "the account", cc->conf->keytab);
		goto out;
	}
	for (i = 1; i < n; i++)
		if (e[i].kvno > e[best].kvno)
			best = i;
	for (i = 0; i < n; i++) {
		e[i].state = i == best ? CRED_ACTIVE : CRED_RETAINED;
		e[i].staged_at = e[i].verified_at = e[i].activated_at = now_s();
		e[i].superseded_at = i == best ? 0 : now_s();
		if (credstore_put(cc->cs, &e[i], err, errlen) != 0)
			goto out;
	}
	kg_strlcpy(cc->realm, realm_of(e[best].principal), sizeof(cc->realm));
	rv = 0;
out:
	sealed_free(e, CRED_MAX_ENTRIES * sizeof(*e));
	return rv;
}

/* ---------------------------------------------------------------- verify */

static const char *
kmsg(krb5_context ctx, krb5_error_code ret, char *buf, size_t len)
{
	const char *m = krb5_get_error_message(ctx, ret);

	kg_strlcpy(buf, m != NULL ? m : "unknown error", len);
	krb5_free_error_message(ctx, m);
	return buf;
}

/* Appends a line to the job's text. */
static void
say(struct verify_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
say(struct verify_job *j, const char *fmt, ...)
{
	size_t off = strlen(j->text);
	va_list ap;

	if (off >= sizeof(j->text) - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(j->text + off, sizeof(j->text) - off, fmt, ap);
	va_end(ap);
}

/* The AS exchange as the account, with the staged keys only. */
static krb5_error_code
verify_as(krb5_context ctx, struct verify_job *j, krb5_principal me,
    krb5_keytab kt, krb5_ccache cc)
{
	krb5_get_init_creds_opt *opt = NULL;
	krb5_creds tgt;
	krb5_error_code ret;
	char m[256];

	memset(&tgt, 0, sizeof(tgt));
	if ((ret = krb5_get_init_creds_opt_alloc(ctx, &opt)) != 0)
		return ret;
	krb5_get_init_creds_opt_set_forwardable(opt, 0);
	ret = krb5_get_init_creds_keytab(ctx, &tgt, me, kt, 0, NULL, opt);
	krb5_get_init_creds_opt_free(ctx, opt);
	switch (ret) {
	case 0:
		break;
	case KRB5KDC_ERR_PREAUTH_FAILED:
	case KRB5KRB_AP_ERR_BAD_INTEGRITY:
	case KRB5KRB_AP_ERR_MODIFIED:
		say(j, "the KDC refuses the staged key of %s: the password staged is not "
		    "the account's password in AD, or the account name (and so the salt) "
		    "is wrong; set the password in AD first, then verify again, or stage "
		    "the right password\n", j->principal);
		return ret;
	case KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN:
		say(j, "AD has no account %s: check its sAMAccountName (a computer "
		    "account ends in $)\n", j->principal);
		return ret;
	case KRB5_KDC_UNREACH:
	case KRB5_REALM_UNKNOWN:
	case KRB5_REALM_CANT_RESOLVE:
		say(j, "no KDC answered for %s: list the KDCs (kcd.kdcs, or the realm's "
		    "kdc lines in krb5.conf: no DNS lookups) and check the network; "
		    "nothing was verified\n", krb5_principal_get_realm(ctx, me));
		return ret;
	default:
		say(j, "the AS exchange as %s failed: %s\n", j->principal,
		    kmsg(ctx, ret, m, sizeof(m)));
		return ret;
	}
	if ((ret = krb5_cc_initialize(ctx, cc, me)) == 0)
		ret = krb5_cc_store_cred(ctx, cc, &tgt);
	krb5_free_cred_contents(ctx, &tgt);
	return ret;
}

static const struct cred_key *
job_key(const struct verify_job *j, int32_t et)
{
	size_t i;

	for (i = 0; i < j->nkeys; i++)
		if (j->keys[i].enctype == et)
			return &j->keys[i];
	return NULL;
}

/* One SPN: a ticket from the KDC that decrypts with the staged key. */
static int
verify_spn(krb5_context ctx, struct verify_job *j, krb5_principal me,
    krb5_ccache cc, const char *spn)
{
	krb5_get_creds_opt opt;
	krb5_creds *out = NULL;
	krb5_principal server = NULL;
	krb5_keyblock kb;
	const struct cred_key *k;
	EncTicketPart etp;
	Ticket t;
	size_t sz;
	krb5_error_code ret;
	char name[512], m[256];
	int kvno, rv = -1;

	snprintf(name, sizeof(name), "%s%s%s", spn, strchr(spn, '@') ? "" : "@",
	    strchr(spn, '@') ? "" : krb5_principal_get_realm(ctx, me));
	if ((ret = krb5_parse_name(ctx, name, &server)) != 0) {
		say(j, "SPN %s: %s\n", spn, kmsg(ctx, ret, m, sizeof(m)));
		return -1;
	}
	/* krb5_get_creds(), as kcd: krb5_get_credentials() asks uname(). */
	if ((ret = krb5_get_creds_opt_alloc(ctx, &opt)) == 0) {
		krb5_get_creds_opt_add_options(ctx, opt, KRB5_GC_NO_STORE);
		ret = krb5_get_creds(ctx, opt, cc, server, &out);
		krb5_get_creds_opt_free(ctx, opt);
	}
	if (ret == KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN) {
		say(j, "SPN %s is not registered in AD (no account holds it): register "
		    "it on the account (setspn -S %s %.*s)\n", spn, spn,
		    (int)strcspn(j->principal, "@"), j->principal);
		goto out;
	}
	if (ret != 0) {
		say(j, "SPN %s: the KDC gave no ticket: %s\n", spn,
		    kmsg(ctx, ret, m, sizeof(m)));
		goto out;
	}
	memset(&t, 0, sizeof(t));
	if (decode_Ticket(out->ticket.data, out->ticket.length, &t, &sz) != 0) {
		say(j, "SPN %s: the KDC's ticket does not decode\n", spn);
		goto out;
	}
	kvno = t.enc_part.kvno != NULL ? (int)*t.enc_part.kvno : 0;
	if ((k = job_key(j, t.enc_part.etype)) == NULL) {
		say(j, "SPN %s: the KDC issues %s tickets and no such key is staged\n",
		    spn, etype_name(t.enc_part.etype));
		free_Ticket(&t);
		goto out;
	}
	kb.keytype = k->enctype;
	kb.keyvalue.data = (void *)(uintptr_t)k->bytes;
	kb.keyvalue.length = k->len;
	memset(&etp, 0, sizeof(etp));
	ret = krb5_decrypt_ticket(ctx, &t, &kb, &etp, KRB5_VERIFY_AP_REQ_IGNORE_INVALID);
	free_Ticket(&t);
	if (ret != 0) {
		say(j, "SPN %s: its tickets (kvno %d) are not made with %s's staged key: "
		    "the SPN is registered to another account (find it: setspn -Q %s), "
		    "or the password staged is not the account's\n", spn, kvno,
		    j->principal, spn);
		goto out;
	}
	kg_zero(etp.key.keyvalue.data, etp.key.keyvalue.length);
	free_EncTicketPart(&etp);
	if (kvno != j->kvno) {
		say(j, "SPN %s: AD's kvno for %s is %d, the staged kvno is %d: stage "
		    "the password again as kvno %d\n", spn, j->principal, kvno, j->kvno,
		    kvno);
		goto out;
	}
	rv = 0;
out:
	if (out != NULL)
		krb5_free_creds(ctx, out);
	krb5_free_principal(ctx, server);
	return rv;
}

static void
verify_run(krb5_context ctx, struct verify_job *j, const char *const *spns,
    size_t nspns)
{
	krb5_principal me = NULL;
	krb5_keytab kt = NULL;
	krb5_ccache cc = NULL;
	krb5_keytab_entry e;
	static unsigned seq;	/* the verifier thread's only */
	char name[64], m[256];
	size_t i, bad = 0;
	krb5_error_code ret;

	j->ok = 0;
	j->text[0] = '\0';
	snprintf(name, sizeof(name), "MEMORY:kg-verify-%u", ++seq);
	if ((ret = krb5_parse_name(ctx, j->principal, &me)) != 0 ||
	    (ret = krb5_kt_resolve(ctx, name, &kt)) != 0 ||
	    (ret = krb5_cc_new_unique(ctx, "MEMORY", NULL, &cc)) != 0) {
		say(j, "cannot set up the verification: %s\n", kmsg(ctx, ret, m, sizeof(m)));
		goto out;
	}
	for (i = 0; i < j->nkeys; i++) {
		memset(&e, 0, sizeof(e));
		e.principal = me;
		e.vno = (krb5_kvno)j->kvno;
		e.keyblock.keytype = j->keys[i].enctype;
		e.keyblock.keyvalue.data = j->keys[i].bytes;
		e.keyblock.keyvalue.length = j->keys[i].len;
		if ((ret = krb5_kt_add_entry(ctx, kt, &e)) != 0) {
			say(j, "cannot set up the verification: %s\n",
			    kmsg(ctx, ret, m, sizeof(m)));
			goto out;
		}
	}
	if (verify_as(ctx, j, me, kt, cc) != 0)
		goto out;
	for (i = 0; i < nspns; i++)
		bad += verify_spn(ctx, j, me, cc, spns[i]) != 0;
	if (bad == 0) {
		j->ok = 1;
		say(j, "kvno %d of %s verified: the KDC accepts the key, and the tickets "
		    "for %zu SPN(s) decrypt with it\n", j->kvno, j->principal, nspns);
	}
out:
	if (cc != NULL)
		krb5_cc_destroy(ctx, cc);
	if (kt != NULL)
		krb5_kt_close(ctx, kt);	/* a MEMORY keytab: its keys wiped */
	krb5_free_principal(ctx, me);
}

/* The verifier thread: one job at a time, pointers over a pipe. */
static void *
verifier(void *arg)
{
	struct credctl *cc = arg;
	struct verify_job *j;

	__atomic_store_n(&cc->running, 1, __ATOMIC_RELEASE);
	for (;;) {
		ssize_t r = read(cc->jobfd[0], &j, sizeof(j));

		if (r < 0 && errno == EINTR)
			continue;
		if (r != (ssize_t)sizeof(j) || j == NULL)
			return NULL;
		if (j->kind == JOB_DERIVE) {
			j->ok = cred_keys_from_password(cc->vctx, j->principal,
			    j->password, j->pwlen, j->keys, j->text,
			    sizeof(j->text)) == 3;
			j->nkeys = j->ok ? 3 : 0;
			kg_zero(j->password, sizeof(j->password));
		} else
			verify_run(cc->vctx, j, cc->spns, cc->nspns);
		while (write(cc->donefd[1], &j, sizeof(j)) < 0 && errno == EINTR)
			;
	}
}

/*
 * The verifier's Kerberos context: kcd's KDC list first, else the KDCs
 * krb5.conf (or KRB5_CONFIG) names, read now.  Never DNS: the sandboxed
 * keyholder has no resolver (no /etc/resolv.conf, no socket options).
 */
static int
verifier_context(struct credctl *cc, char *err, size_t errlen)
{
	const struct conf *c = cc->conf;
	char buf[4096], path[64], **list = NULL;
	size_t off, i;
	int fd, n;

	if (krb5_init_context(&cc->vctx) != 0) {
		cc->vctx = NULL;
		return kg_seterr(err, errlen, "cannot initialise a Kerberos context");
	}
	n = snprintf(buf, sizeof(buf), "[libdefaults]\n\tdns_lookup_kdc = false\n"
	    "\tdns_lookup_realm = false\n\tuse_fallback = false\n\tkdc_timeout = %u\n", c->kcd_timeout_s);
	off = (size_t)n;
	if (c->kcd_nkdcs > 0)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "[realms]\n\t%s = {\n",
		    cc->realm);
	for (i = 0; i < c->kcd_nkdcs && off < sizeof(buf); i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "\t\tkdc = %s\n",
		    c->kcd_kdcs[i]);
	if (c->kcd_nkdcs > 0 && off < sizeof(buf))
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "\t}\n");
	if (off >= sizeof(buf))
		return kg_seterr(err, errlen, "too many KDCs");
	if ((fd = memfd_create("credctl-krb5.conf", MFD_CLOEXEC)) < 0)
		return kg_seterr(err, errlen, "memfd_create: %s", strerror(errno));
	if (write(fd, buf, off) != (ssize_t)off) {
		close(fd);
		return kg_seterr(err, errlen, "cannot write the KDC configuration");
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (krb5_prepend_config_files_default(path, &list) != 0) {
		close(fd);
		return kg_seterr(err, errlen, "out of memory");
	}
	n = krb5_set_config_files(cc->vctx, list);
	krb5_free_config_files(list);
	close(fd);
	return n == 0 ? 0 : kg_seterr(err, errlen, "cannot read the KDC list");
}

/* -------------------------------------------------------------- answers */

/* Answers the parent; with the sealed store when it changed. */
static void
answer(struct credctl *cc, uint32_t id, enum ctl_status st, int changed,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
answer(struct credctl *cc, uint32_t id, enum ctl_status st, int changed,
    const char *fmt, ...)
{
	struct ctl_result *res;
	uint8_t *img = NULL, *out;
	size_t len = 0, n, off;
	va_list ap;
	char err[256];

	if ((res = calloc(1, sizeof(*res))) == NULL)
		fatal("calloc");
	res->status = st;
	va_start(ap, fmt);
	vsnprintf(res->text, sizeof(res->text), fmt, ap);
	va_end(ap);
	if (changed && seal_store(cc, &img, &len, err, sizeof(err)) != 0) {
		off = strlen(res->text);
		snprintf(res->text + off, sizeof(res->text) - off, "\nthe store was "
		    "not sealed (%s): the change holds until the keyholder restarts", err);
		res->status = CTL_FAILED;
	}
	res->sealed = img;
	res->sealed_len = len;
	if (ctl_result_encode(res, &out, &n) != 0)
		fatalx("credentials: cannot encode an answer");
	if (cc->fd >= 0 && kg_ipc_send(cc->fd, CTL_MSG_RESULT, id, out, n) != KG_OK)
		log_warnx("credentials: cannot answer the parent");
	free(out);
	free(img);
	free(res);
}

static const char *
principal_of_store(const struct credctl *cc)
{
	return cc->cs->n > 0 ? cc->cs->e[0].principal : "";
}

/* The keys into the store and the acceptor: they serve at once. */
static void
finish_stage(struct credctl *cc, uint32_t id, const char *principal, int kvno,
    const struct cred_key *keys, size_t n)
{
	const struct cred_entry *old, *e;
	size_t i, off = 0;
	char err[512], ets[128] = "";

	/* The first credential of an empty store: the ASA's, in its realm. */
	if (cc->cs->n == 0 && cc->conf->kcd_principal[0] != '\0' &&
	    strcasecmp(principal, cc->conf->kcd_principal) != 0) {
		answer(cc, id, CTL_REFUSED, 0, "not staged: this appliance serves as %s "
		    "(kcd.principal), not %s", cc->conf->kcd_principal, principal);
		return;
	}
	old = credstore_find(cc->cs, kvno);
	if (credstore_stage(cc->cs, principal, kvno, keys, n, now_s(), err,
	    sizeof(err)) != 0) {
		answer(cc, id, CTL_REFUSED, 0, "not staged: %s", err);
		return;
	}
	e = credstore_find(cc->cs, kvno);
	if (old != NULL)	/* staged again: the earlier keys go */
		unserve_kvno(cc, e->principal, e->kvno);
	if (serve_entry(cc, e, err, sizeof(err)) != 0) {
		unserve_kvno(cc, e->principal, e->kvno);
		credstore_retire(cc->cs, e->kvno, NULL, 0);
		answer(cc, id, CTL_FAILED, 1, "not staged: %s", err);
		return;
	}
	for (i = 0; i < e->nkeys && off < sizeof(ets); i++)
		off += (size_t)snprintf(ets + off, sizeof(ets) - off, "%s%s",
		    i ? ", " : "", etype_name(e->keys[i].enctype));
	log_info("credentials: staged kvno %d of %s (%s)", e->kvno, e->principal, ets);
	answer(cc, id, CTL_OK, 1, "staged kvno %d of %s (%s); its keys accept "
	    "tickets now.\nnext: set the password on the account in AD, then "
	    "kerbgatectl credentials verify %d", e->kvno, e->principal, ets, e->kvno);
}

/* Hands a job to the verifier thread; 0, or -1 (answered already). */
static int
post_job(struct credctl *cc, struct verify_job *j, uint32_t id)
{
	if (cc->job != NULL || !cc->started) {
		sealed_free(j, sizeof(*j));
		answer(cc, id, CTL_REFUSED, 0, cc->started ? "a verification or key "
		    "derivation is running: try again when it has finished" :
		    "no verifier: see the keyholder's log at start");
		return -1;
	}
	j->frame_id = id;
	cc->job = j;
	if (write(cc->jobfd[1], &j, sizeof(j)) != (ssize_t)sizeof(j)) {
		cc->job = NULL;
		sealed_free(j, sizeof(*j));
		answer(cc, id, CTL_FAILED, 0, "the verifier is gone");
		return -1;
	}
	return 0;
}

static void
do_stage(struct credctl *cc, uint32_t id, struct ctl_req *r)
{
	struct verify_job *j;

	if (r->password == NULL) {
		finish_stage(cc, id, r->principal, (int)r->kvno, r->keys, r->nkeys);
		return;
	}
	if ((j = sealed_alloc(sizeof(*j))) == NULL) {
		answer(cc, id, CTL_FAILED, 0, "out of memory");
		return;
	}
	j->kind = JOB_DERIVE;
	kg_strlcpy(j->principal, r->principal, sizeof(j->principal));
	j->kvno = (int)r->kvno;
	memcpy(j->password, r->password, r->pwlen);
	j->pwlen = r->pwlen;
	(void)post_job(cc, j, id);
}

static void
do_verify(struct credctl *cc, uint32_t id, const struct ctl_req *r)
{
	const struct cred_entry *e = credstore_find(cc->cs, (int)r->kvno);
	struct verify_job *j;

	if (e == NULL || e->state != CRED_STAGED) {
		answer(cc, id, CTL_REFUSED, 0, "kvno %u is %s: only a staged kvno is "
		    "verified", r->kvno, e == NULL ? "not held" : cred_state_name(e->state));
		return;
	}
	if ((j = sealed_alloc(sizeof(*j))) == NULL) {
		answer(cc, id, CTL_FAILED, 0, "out of memory");
		return;
	}
	j->kind = JOB_VERIFY;
	kg_strlcpy(j->principal, e->principal, sizeof(j->principal));
	j->kvno = e->kvno;
	j->nkeys = e->nkeys;
	memcpy(j->keys, e->keys, e->nkeys * sizeof(e->keys[0]));
	(void)post_job(cc, j, id);
}

void
credctl_verify_readable(struct credctl *cc)
{
	struct verify_job *j;
	const struct cred_entry *e;
	char err[256];

	if (read(cc->donefd[0], &j, sizeof(j)) != (ssize_t)sizeof(j) || j != cc->job)
		return;
	cc->job = NULL;
	if (j->kind == JOB_DERIVE) {
		if (j->ok)
			finish_stage(cc, j->frame_id, j->principal, j->kvno, j->keys,
			    j->nkeys);
		else
			answer(cc, j->frame_id, CTL_REFUSED, 0, "not staged: %s", j->text);
		sealed_free(j, sizeof(*j));
		return;
	}
	e = credstore_find(cc->cs, j->kvno);
	if (j->ok && (e == NULL || e->state != CRED_STAGED ||
	    memcmp(e->keys, j->keys, e->nkeys * sizeof(e->keys[0])) != 0)) {
		answer(cc, j->frame_id, CTL_FAILED, 0, "kvno %d changed while it was "
		    "verified: verify it again", j->kvno);
	} else if (j->ok &&
	    credstore_mark_verified(cc->cs, j->kvno, now_s(), err, sizeof(err)) != 0) {
		answer(cc, j->frame_id, CTL_FAILED, 0, "%s", err);
	} else if (j->ok) {
		log_info("credentials: kvno %d verified", j->kvno);
		answer(cc, j->frame_id, CTL_OK, 1, "%snext: kerbgatectl credentials "
		    "activate %d", j->text, j->kvno);
	} else {
		char line[CTL_MAX_TEXT], *nl;

		/* One log line: the reasons joined with "; ". */
		kg_strlcpy(line, j->text, sizeof(line));
		if ((nl = strrchr(line, '\n')) != NULL && nl[1] == '\0')
			*nl = '\0';
		while ((nl = strchr(line, '\n')) != NULL)
			*nl = ';';
		log_warnx("credentials: kvno %d failed verification: %s", j->kvno, line);
		answer(cc, j->frame_id, CTL_FAILED, 0, "kvno %d NOT verified (nothing "
		    "activated; the active keys keep serving):\n%s", j->kvno, j->text);
	}
	sealed_free(j, sizeof(*j));
}

static void
do_activate(struct credctl *cc, uint32_t id, const struct ctl_req *r)
{
	const struct cred_entry *prev = credstore_active(cc->cs);
	int prev_kvno = prev != NULL ? prev->kvno : 0;
	krb5_context ctx;
	krb5_keytab kt;
	char err[512];

	if (credstore_activate(cc->cs, (int)r->kvno, now_s(), err, sizeof(err)) != 0) {
		answer(cc, id, CTL_REFUSED, 0, "not activated: %s", err);
		return;
	}
	if (cc->kcd != NULL && acceptor_keytab(cc->acc, &ctx, &kt) == 0 &&
	    kcd_set_keys(cc->kcd, ctx, kt, (int)r->kvno, err, sizeof(err)) < 0)
		log_warnx("credentials: constrained delegation keeps kvno %d: %s",
		    prev_kvno, err);
	if (prev_kvno == 0) {	/* an empty store's first credential */
		log_info("credentials: kvno %u active (the first credential)", r->kvno);
		answer(cc, id, CTL_OK, 1, "kvno %u active: the appliance's first "
		    "credential", r->kvno);
		return;
	}
	log_info("credentials: kvno %u active; kvno %d retained for %u s", r->kvno,
	    prev_kvno, cc->cs->retention_s);
	answer(cc, id, CTL_OK, 1, "kvno %u active; kvno %d keeps accepting tickets "
	    "for %u s", r->kvno, prev_kvno, cc->cs->retention_s);
}

static void
do_retire(struct credctl *cc, uint32_t id, const struct ctl_req *r)
{
	char err[256], principal[CRED_PRINCIPAL_MAX];

	kg_strlcpy(principal, principal_of_store(cc), sizeof(principal));
	if (cc->job != NULL && cc->job->kvno == (int)r->kvno) {
		answer(cc, id, CTL_REFUSED, 0, "kvno %u is being verified", r->kvno);
		return;
	}
	if (credstore_retire(cc->cs, (int)r->kvno, err, sizeof(err)) != 0) {
		answer(cc, id, CTL_REFUSED, 0, "not retired: %s", err);
		return;
	}
	unserve_kvno(cc, principal, (int)r->kvno);
	log_info("credentials: kvno %u retired", r->kvno);
	answer(cc, id, CTL_OK, 1, "kvno %u retired: its tickets are refused now",
	    r->kvno);
}

static void
do_list(struct credctl *cc, uint32_t id)
{
	char *t, a[32], b[32], ets[128];
	size_t i, k, off = 0, eo;
	const size_t cap = CTL_MAX_TEXT - 128;

	if ((t = calloc(1, CTL_MAX_TEXT)) == NULL)
		fatal("calloc");
	off += (size_t)snprintf(t, cap, "%-5s %-9s %-21s %-21s %s\n", "KVNO", "STATE",
	    "SINCE", "RETIRED AFTER", "ENCTYPES");
	for (i = 0; i < cc->cs->n && off < cap; i++) {
		const struct cred_entry *e = &cc->cs->e[i];
		uint64_t since = e->state == CRED_STAGED ? e->staged_at :
		    e->state == CRED_VERIFIED ? e->verified_at :
		    e->state == CRED_ACTIVE ? e->activated_at : e->superseded_at;

		cred_fmt_time(since, a, sizeof(a));
		cred_fmt_time(e->state == CRED_RETAINED ? e->superseded_at +
		    cc->cs->retention_s : 0, b, sizeof(b));
		for (k = 0, eo = 0, ets[0] = '\0'; k < e->nkeys && eo < sizeof(ets); k++)
			eo += (size_t)snprintf(ets + eo, sizeof(ets) - eo, "%s%s",
			    k ? "," : "", etype_name(e->keys[k].enctype));
		off += (size_t)snprintf(t + off, cap - off, "%-5d %-9s %-21s %-21s %s\n",
		    e->kvno, cred_state_name(e->state), a, b, ets);
	}
	if (off < cap)
		snprintf(t + off, cap - off, "account %s; %s", principal_of_store(cc),
		    cc->dkey != NULL ? "sealed store " : "not persisted: "
		    "credentials.store is not set");
	if (cc->dkey != NULL)
		kg_strlcpy(t + strlen(t), cc->conf->cred_store, CTL_MAX_TEXT - strlen(t));
	answer(cc, id, CTL_OK, 0, "%s", t);
	free(t);
}

/* The list for the management API: the same facts as do_list(), as JSON. */
static void
do_list_json(struct credctl *cc, uint32_t id)
{
	json_t *o, *sec, *arr = json_array();
	char *text, when[32];
	size_t i, k;

	for (i = 0; arr != NULL && i < cc->cs->n; i++) {
		const struct cred_entry *e = &cc->cs->e[i];
		uint64_t since = e->state == CRED_STAGED ? e->staged_at :
		    e->state == CRED_VERIFIED ? e->verified_at :
		    e->state == CRED_ACTIVE ? e->activated_at : e->superseded_at;
		json_t *ets = json_array();

		for (k = 0; ets != NULL && k < e->nkeys; k++)
			json_array_append_new(ets, json_string(etype_name(e->keys[k].enctype)));
		cred_fmt_time(since, when, sizeof(when));
		json_array_append_new(arr, json_pack("{s:i, s:s, s:I, s:s, s:I, s:o}",
		    "kvno", (int)e->kvno, "state", cred_state_name(e->state),
		    "since", (json_int_t)since, "since_utc", when,
		    "retire_after", (json_int_t)(e->state == CRED_RETAINED ?
		    e->superseded_at + cc->cs->retention_s : 0), "enctypes", ets));
	}
	sec = secretctl_list_json(cc->sec);
	o = json_pack("{s:s, s:b, s:o, s:o}", "account", principal_of_store(cc),
	    "sealed", cc->dkey != NULL, "kvnos", arr ? arr : json_array(),
	    "secrets", sec ? sec : json_array());
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (text == NULL || strlen(text) >= CTL_MAX_TEXT)
		answer(cc, id, CTL_FAILED, 0, "the list does not fit in an answer");
	else
		answer(cc, id, CTL_OK, 0, "%s", text);
	free(text);
}

/* The other secrets' requests (secretctl.h). */
static void
do_secret(struct credctl *cc, uint32_t id, const struct ctl_req *r)
{
	enum ctl_status st;
	char *text;
	int changed = 0;

	if ((text = calloc(1, CTL_MAX_TEXT)) == NULL)
		fatal("calloc");
	st = secretctl_request(cc->sec, r, now_s(), &changed, text, CTL_MAX_TEXT);
	answer(cc, id, st, changed, "%s", text);
	free(text);
}

static void
handle(struct credctl *cc, const struct kg_ipc_frame *f)
{
	struct ctl_req *r;

	if ((r = sealed_alloc(sizeof(*r))) == NULL)
		fatal("sealed_alloc");
	if (ctl_req_decode(f->type, f->payload, f->len, r) != 0) {
		log_warnx("credentials: the parent sent a frame of type %u that does "
		    "not decode", (unsigned)f->type);
		answer(cc, f->id, CTL_REFUSED, 0, "malformed request");
	} else if (r->type == CTL_MSG_STAGE)
		do_stage(cc, f->id, r);
	else if (r->type == CTL_MSG_VERIFY)
		do_verify(cc, f->id, r);
	else if (r->type == CTL_MSG_ACTIVATE)
		do_activate(cc, f->id, r);
	else if (r->type == CTL_MSG_RETIRE)
		do_retire(cc, f->id, r);
	else if (r->type == CTL_MSG_LIST_JSON)
		do_list_json(cc, f->id);
	else if (r->type >= CTL_MSG_SECRET_STAGE)
		do_secret(cc, f->id, r);
	else
		do_list(cc, f->id);
	sealed_free(r, sizeof(*r));
}

int
credctl_parent_readable(struct credctl *cc)
{
	struct kg_ipc_frame f;
	int rc;

	rc = kg_ipc_read(&cc->rd, cc->fd);
	if (rc == KG_ERR_AGAIN)
		return 0;
	if (rc < 0) {
		kg_ipc_reader_free(&cc->rd);
		close(cc->fd);
		cc->fd = -1;
		return -1;
	}
	while ((rc = kg_ipc_next(&cc->rd, &f)) == 1)
		handle(cc, &f);
	if (rc < 0) {
		log_warnx("credentials: bad frame from the parent: closing");
		kg_ipc_reader_free(&cc->rd);
		close(cc->fd);
		cc->fd = -1;
		return -1;
	}
	return 0;
}

void
credctl_tick(struct credctl *cc)
{
	int gone[CRED_MAX_ENTRIES];
	char principal[CRED_PRINCIPAL_MAX];
	size_t n, i;

	if (cc == NULL)
		return;
	kg_strlcpy(principal, principal_of_store(cc), sizeof(principal));
	if (secretctl_tick(cc->sec, now_s()) > 0)
		answer(cc, 0, CTL_OK, 1, "dropped retained secrets");
	if ((n = credstore_expire(cc->cs, now_s(), gone, CRED_MAX_ENTRIES)) == 0)
		return;
	for (i = 0; i < n && i < CRED_MAX_ENTRIES; i++) {
		unserve_kvno(cc, principal, gone[i]);
		log_info("credentials: kvno %d retired: its retention window passed",
		    gone[i]);
	}
	/* Unasked: the parent writes the store it carries (frame id 0). */
	answer(cc, 0, CTL_OK, 1, "retired %zu kvno(s)", n);
}

/* -------------------------------------------------------------- set-up */

int
credctl_active_kvno(const struct credctl *cc)
{
	const struct cred_entry *e = cc != NULL ? credstore_active(cc->cs) : NULL;

	return e != NULL ? e->kvno : 0;
}

struct secretctl *
credctl_secrets(const struct credctl *cc)
{
	return cc->sec;
}

void
credctl_set_kcd(struct credctl *cc, struct kcd *kcd)
{
	cc->kcd = kcd;
}

void
credctl_fds(const struct credctl *cc, int *parent_fd, int *verify_fd)
{
	*parent_fd = cc->fd;
	*verify_fd = cc->started ? cc->donefd[0] : -1;
}

/* The keytab read and imported into the credstore. */
static int
keytab_in(struct credctl *cc, char *err, size_t errlen)
{
	const struct conf *c = cc->conf;

	if (acceptor_load_keytab(cc->acc, c->keytab, cc->spns, cc->nspns, err,
	    errlen) < 0 || import_keytab(cc, err, errlen) != 0)
		return -1;
	if (c->cred_store[0] != '\0')
		log_info("credentials: imported %s into the sealed store %s", c->keytab,
		    c->cred_store);
	return 1;
}

/*
 * The store at start: read it, or import the keytab; then the other
 * secrets the store lacks (header secret files, a new cookie key), and the
 * store written when anything was imported.
 */
static int
load_or_import(struct credctl *cc, char *err, size_t errlen)
{
	const struct conf *c = cc->conf;
	uint8_t *img = NULL;
	size_t len = 0;
	int rv, changed = 0;

	if (c->cred_store[0] == '\0') {
		if (keytab_in(cc, err, errlen) < 0)
			return -1;
		return secretctl_import(cc->sec, now_s(), &changed, err, errlen);
	}
	if ((cc->dkey = sealed_alloc(SEALED_KEY_LEN)) == NULL)
		return kg_seterr(err, errlen, "out of memory");
	if ((rv = sealed_device_key(c->cred_device_key, 1, cc->dkey, err, errlen)) < 0)
		return -1;
	if (rv == 1)
		log_info("credentials: made the device key %s", c->cred_device_key);
	if ((rv = sealed_read_file(c->cred_store, &img, &len, err, errlen)) < 0)
		return -1;
	if (rv == 0) {
		rv = load_store(cc, img, len, err, errlen);
		free(img);
		if (rv == 0)
			log_info("credentials: %zu kvno(s) from %s", cc->cs->n, c->cred_store);
	} else
		rv = c->keytab[0] == '\0' ? start_empty(cc, err, errlen) : 1;
	if (rv == 1)
		rv = keytab_in(cc, err, errlen);
	if (rv < 0 || secretctl_import(cc->sec, now_s(), &changed, err, errlen) != 0)
		return -1;
	if (rv == 0 && !changed)
		return 0;
	if (seal_store(cc, &img, &len, err, errlen) != 0)
		return -1;
	rv = sealed_write_atomic(c->cred_store, img, len, err, errlen);
	free(img);
	return rv;
}

struct credctl *
credctl_new(const struct conf *c, struct kg_acceptor *acc, const char *const *spns,
    size_t nspns, int fd, char *err, size_t errlen)
{
	struct credctl *cc;
	krb5_keytab kt;

	if ((cc = calloc(1, sizeof(*cc))) == NULL) {
		kg_seterr(err, errlen, "out of memory");
		return NULL;
	}
	cc->conf = c;
	cc->acc = acc;
	cc->spns = spns;
	cc->nspns = nspns;
	cc->fd = fd;
	cc->jobfd[0] = cc->jobfd[1] = cc->donefd[0] = cc->donefd[1] = -1;
	kg_ipc_reader_init(&cc->rd);
	if ((cc->cs = credstore_new(c->cred_retention_s)) == NULL ||
	    (cc->sec = secretctl_new(c)) == NULL) {
		kg_seterr(err, errlen, "out of memory");
		goto fail;
	}
	if (load_or_import(cc, err, errlen) != 0)
		goto fail;
	/* The acceptor's context, for string-to-key. */
	(void)acceptor_keytab(acc, &cc->kctx, &kt);
	if (fd < 0)
		return cc;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    pipe2(cc->jobfd, O_CLOEXEC) != 0 || pipe2(cc->donefd, O_CLOEXEC) != 0) {
		kg_seterr(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	if (verifier_context(cc, err, errlen) != 0)
		goto fail;
	if (pthread_create(&cc->thr, NULL, verifier, cc) != 0) {
		kg_seterr(err, errlen, "cannot start the verifier thread");
		goto fail;
	}
	cc->started = 1;
	/* As kcd's workers: past its thread start before the sandbox. */
	while (!__atomic_load_n(&cc->running, __ATOMIC_ACQUIRE))
		usleep(100);
	return cc;
fail:
	credctl_free(cc);
	return NULL;
}

void
credctl_free(struct credctl *cc)
{
	struct verify_job *none = NULL;

	if (cc == NULL)
		return;
	if (cc->started) {
		/* A NULL job ends the thread once a running one finishes. */
		if (write(cc->jobfd[1], &none, sizeof(none)) == (ssize_t)sizeof(none))
			pthread_join(cc->thr, NULL);
	}
	if (cc->job != NULL)
		sealed_free(cc->job, sizeof(*cc->job));
	if (cc->vctx != NULL)
		krb5_free_context(cc->vctx);
	if (cc->jobfd[0] >= 0) {
		close(cc->jobfd[0]);
		close(cc->jobfd[1]);
	}
	if (cc->donefd[0] >= 0) {
		close(cc->donefd[0]);
		close(cc->donefd[1]);
	}
	kg_ipc_reader_free(&cc->rd);
	sealed_free(cc->dkey, SEALED_KEY_LEN);
	credstore_free(cc->cs);
	secretctl_free(cc->sec);
	free(cc);
}
