/*
 * kerbgate-roll: rotates the ASA account's password across every appliance,
 * in the two phases of docs/credentials.md, from the management plane.
 *
 *   kerbgate-roll [-c roll.json] [--dry-run] [--if-older-than DAYS] [rotate]
 *   kerbgate-roll [-c roll.json] finish
 *   kerbgate-roll [-c roll.json] status
 *   kerbgate-roll [-c roll.json] --package DIR [--package-wait SECONDS] [rotate]
 *
 * --package: instead of sending the password to the appliances, write it
 * sealed to each appliance's package key (docs/package.md) into DIR (the
 * share they pull from), wait until every appliance lists it staged, and
 * only then set it in AD; each appliance verifies and activates it when it
 * pulls the package again.  Nothing is set in AD that an appliance does not
 * hold, and nothing is activated that did not verify.
 *
 * rotate: every appliance answers, AD's kvno K is read from a fresh service
 * ticket, a strong random password is staged at K+1 on EVERY appliance, and
 * only then set on the account in AD; then every appliance verifies it
 * against the KDC and activates it.  An appliance that stops answering after
 * the password changed in AD still holds the staged keys: `finish` verifies
 * and activates them there, no new password needed.  Any failure before the
 * AD change retires what was staged and changes nothing.
 *
 * The admin's Kerberos credentials (KRB5CCNAME, from kinit) set the password
 * and ask for the service ticket.  The password exists in this process's
 * memory only, and is wiped when the roll ends; it is never printed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <krb5.h>

#include "adpw.h"
#include "config.h"
#include "credpkg.h"
#include "mgmtclient.h"
#include "pkgout.h"
#include "tls.h"
#include "util.h"

#define MAX_APPLIANCES	32
#define PASSWORD_LEN	32

struct appliance {
	const char	*name;
	const char	*url;
	const char	*package_key;	/* its X25519 public key, for --package */
	char		 package[4200];	/* the package written, "" none */
	struct mc_target t;
	int		 reachable;
	long		 active;	/* -1: none */
	long		 active_since;	/* epoch seconds, 0 unknown */
	long		 held[8];	/* kvnos held: staged, verified, retained */
	const char	*held_state[8];
	int		 nheld;
	char		 result[320];	/* what this run did or found */
	int		 level;		/* serves AD's kvno as active */
};

struct roll {
	const char	*account, *spn;
	struct appliance a[MAX_APPLIANCES];
	int		 n;
	struct tls_client *tls;
	krb5_context	 kctx;
	krb5_ccache	 cc;
	const char	*pkg_signer_file;
	long		 pkg_lifetime_days;
	json_t		*conf;
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: kerbgate-roll [-c roll.json] [--dry-run] [--if-older-than DAYS] [rotate]\n"
	    "       kerbgate-roll [-c roll.json] finish    verify and activate where a roll stopped\n"
	    "       kerbgate-roll [-c roll.json] status    each appliance's kvnos beside AD's\n"
	    "       kerbgate-roll [-c roll.json] --package DIR [--package-wait SECONDS] [rotate]\n"
	    "                                          write sealed packages for the SMB pull\n");
	exit(2);
}

/* ---- configuration ------------------------------------------------------------ */

static void
load(struct roll *r, const char *file)
{
	static const char *const top[] = { "account", "spn", "appliances", "tls",
	    "package", NULL };
	static const char *const tlskeys[] = { "ca", "cert", "key", NULL };
	static const char *const akeys[] = { "name", "url", "package_key", NULL };
	static const char *const pkgkeys[] = { "signer_key", "lifetime_days", NULL };
	const json_t *pkg = NULL;
	struct tls_client_config cc = { 0 };
	struct kg_cfgerr cerr = { { 0 } };
	const char *ca = NULL, *cert = NULL, *key = NULL;
	const json_t *arr = NULL, *tls = NULL, *e;
	struct kg_cfgctx ctx;
	char err[256];
	size_t i;

	if ((r->conf = kg_config_load(file, &cerr)) == NULL) {
		fprintf(stderr, "kerbgate-roll: %s\n", cerr.msg);
		exit(2);
	}
	kg_cfgctx_init(&ctx, file, &cerr);
	kg_cfg_check_keys(r->conf, top, &ctx);
	kg_cfg_string(r->conf, "account", 1, &r->account, &ctx);
	kg_cfg_string(r->conf, "spn", 1, &r->spn, &ctx);
	if (kg_cfg_object(r->conf, "tls", 1, &tls, &ctx) == 1) {
		kg_cfg_push_key(&ctx, "tls");
		kg_cfg_check_keys(tls, tlskeys, &ctx);
		kg_cfg_string(tls, "ca", 1, &ca, &ctx);
		kg_cfg_string(tls, "cert", 1, &cert, &ctx);
		kg_cfg_string(tls, "key", 1, &key, &ctx);
		kg_cfg_pop(&ctx);
	}
	if (kg_cfg_array(r->conf, "appliances", 1, &arr, &ctx) == 1) {
		kg_cfg_push_key(&ctx, "appliances");
		json_array_foreach(arr, i, e) {
			struct appliance *a = &r->a[r->n];

			kg_cfg_push_index(&ctx, i);
			if (r->n >= MAX_APPLIANCES) {
				kg_cfg_error(&ctx, NULL, "at most %d appliances", MAX_APPLIANCES);
			} else if (json_is_object(e)) {
				kg_cfg_check_keys(e, akeys, &ctx);
				kg_cfg_string(e, "name", 1, &a->name, &ctx);
				kg_cfg_string(e, "package_key", 0, &a->package_key, &ctx);
				if (kg_cfg_string(e, "url", 1, &a->url, &ctx) == 1 &&
				    mc_parse_url(a->url, &a->t) < 0)
					kg_cfg_error(&ctx, "url", "give https://HOST:PORT");
				r->n++;
			} else
				kg_cfg_error(&ctx, NULL, "an appliance is {\"name\", \"url\"}");
			kg_cfg_pop(&ctx);
		}
		kg_cfg_pop(&ctx);
	}
	r->pkg_lifetime_days = 7;
	if (kg_cfg_object(r->conf, "package", 0, &pkg, &ctx) == 1) {
		kg_cfg_push_key(&ctx, "package");
		kg_cfg_check_keys(pkg, pkgkeys, &ctx);
		kg_cfg_string(pkg, "signer_key", 1, &r->pkg_signer_file, &ctx);
		kg_cfg_int(pkg, "lifetime_days", 0, 1, PKG_MAX_LIFETIME / 86400,
		    &r->pkg_lifetime_days, &ctx);
		kg_cfg_pop(&ctx);
	}
	if (ctx.nerrors == 0 && r->n == 0)
		kg_cfg_error(&ctx, "appliances", "list at least one appliance");
	if (ctx.nerrors > 0) {
		fprintf(stderr, "kerbgate-roll: %s\n", cerr.msg);
		exit(2);
	}
	cc.ca_file = ca;
	cc.no_session_resumption = true;
	if ((r->tls = tls_client_new(&cc, err, sizeof(err))) == NULL ||
	    tls_client_use_cert(r->tls, cert, key, err, sizeof(err)) < 0) {
		fprintf(stderr, "kerbgate-roll: %s\n", err);
		exit(2);
	}
}

static void
kerberos(struct roll *r)
{
	krb5_error_code ret;

	if ((ret = krb5_init_context(&r->kctx)) != 0 ||
	    (ret = krb5_cc_default(r->kctx, &r->cc)) != 0) {
		fprintf(stderr, "kerbgate-roll: cannot use Kerberos (%d): kinit as an "
		    "admin allowed to reset %s first\n", ret, r->account);
		exit(2);
	}
}

/* ---- asking the appliances ----------------------------------------------------- */

/* One API call; returns the HTTP status, or -1 (a->result says why). */
static int
api(struct roll *r, struct appliance *a, const char *method, const char *path,
    const char *body, json_t **ans)
{
	char err[256];
	int status = 0;

	*ans = NULL;
	if (mc_request(r->tls, &a->t, method, path, body, &status, ans, err, sizeof(err)) < 0) {
		snprintf(a->result, sizeof(a->result), "unreachable: %.290s", err);
		a->reachable = 0;
		return -1;
	}
	return status;
}

static const char *
message(json_t *ans)
{
	const char *m = json_string_value(json_object_get(ans, "message"));

	return m ? m : "(no message)";
}

/* A 200 whose body says {"ok": true}: the API's success, nothing less. */
static int
succeeded(int status, json_t *ans)
{
	return status == 200 && json_is_true(json_object_get(ans, "ok"));
}

/* Reads what an appliance holds (GET /api/v1/credentials). */
static void
survey(struct roll *r, struct appliance *a)
{
	json_t *ans, *list, *e;
	size_t i;
	int st;

	a->reachable = 1;
	a->active = -1;
	a->nheld = 0;
	if ((st = api(r, a, "GET", "/api/v1/credentials", NULL, &ans)) < 0)
		return;
	list = json_object_get(json_object_get(ans, "credentials"), "kvnos");
	if (st != 200 || !json_is_array(list)) {
		snprintf(a->result, sizeof(a->result), "answered %d: %s", st, message(ans));
		a->reachable = 0;
		json_decref(ans);
		return;
	}
	json_array_foreach(list, i, e) {
		long kvno = (long)json_integer_value(json_object_get(e, "kvno"));
		const char *state = json_string_value(json_object_get(e, "state"));

		if (state == NULL)
			continue;
		if (strcmp(state, "active") == 0) {
			a->active = kvno;
			a->active_since = (long)json_integer_value(json_object_get(e, "since"));
		} else if (a->nheld < (int)KG_NELEM(a->held)) {
			a->held[a->nheld] = kvno;
			a->held_state[a->nheld++] = strcmp(state, "staged") == 0 ? "staged" :
			    strcmp(state, "verified") == 0 ? "verified" : "retained";
		}
	}
	json_decref(ans);
}

static const char *
holds(const struct appliance *a, long kvno)
{
	for (int i = 0; i < a->nheld; i++)
		if (a->held[i] == kvno)
			return a->held_state[i];
	return NULL;
}

/* POST {"kvno": N} to path; 0 on 200, else -1 with a->result set. */
static int
kvno_op(struct roll *r, struct appliance *a, const char *path, long kvno, const char *what)
{
	char body[48];
	json_t *ans;
	int st;

	snprintf(body, sizeof(body), "{\"kvno\":%ld}", kvno);
	if ((st = api(r, a, "POST", path, body, &ans)) < 0)
		return -1;
	if (!succeeded(st, ans)) {
		snprintf(a->result, sizeof(a->result), "%s failed: %s", what, message(ans));
		json_decref(ans);
		return -1;
	}
	json_decref(ans);
	return 0;
}

static int
verify_activate(struct roll *r, struct appliance *a, long kvno)
{
	const char *h = holds(a, kvno);

	if (h != NULL && strcmp(h, "staged") == 0 &&
	    kvno_op(r, a, "/api/v1/credentials/staged/verify", kvno, "verify") < 0)
		return -1;
	if (kvno_op(r, a, "/api/v1/credentials/staged/activate", kvno, "activate") < 0)
		return -1;
	/* Believed when the appliance lists it, not because it said so. */
	survey(r, a);
	if (!a->reachable)
		return -1;
	if (a->active != kvno) {
		snprintf(a->result, sizeof(a->result), "said kvno %ld is active, but lists "
		    "kvno %ld active", kvno, a->active);
		return -1;
	}
	a->level = 1;
	snprintf(a->result, sizeof(a->result), "kvno %ld verified and active", kvno);
	return 0;
}

/* ---- the password ------------------------------------------------------------------ */

/* 32 characters with upper, lower, digit and symbol (AD's complexity rule),
 * none that JSON or a shell would need to escape. */
static void
make_password(char pw[PASSWORD_LEN + 1])
{
	static const char set[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	    "23456789!#%+-.:=?@^_~";
	unsigned char rnd[PASSWORD_LEN];
	int classes;

	do {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			fprintf(stderr, "kerbgate-roll: no randomness: %s\n", strerror(errno));
			exit(1);
		}
		classes = 0;
		for (size_t i = 0; i < PASSWORD_LEN; i++) {
			/* 256 % 71 != 0: draws above the last whole multiple are redone. */
			while (rnd[i] >= 256 - 256 % (sizeof(set) - 1))
				if (getrandom(&rnd[i], 1, 0) != 1)
					exit(1);
			pw[i] = set[rnd[i] % (sizeof(set) - 1)];
			classes |= pw[i] >= 'A' && pw[i] <= 'Z' ? 1 : pw[i] >= 'a' && pw[i] <= 'z' ?
			    2 : pw[i] >= '0' && pw[i] <= '9' ? 4 : 8;
		}
		pw[PASSWORD_LEN] = '\0';
	} while (classes != 15);
	kg_zero(rnd, sizeof(rnd));
}

static int
stage(struct roll *r, struct appliance *a, long kvno, const char *pw)
{
	json_t *req = json_pack("{s:s, s:I, s:s}", "account", r->account, "kvno",
	    (json_int_t)kvno, "password", pw), *ans;
	char *body = json_dumps(req, JSON_COMPACT);
	int st;

	kg_zero((char *)json_string_value(json_object_get(req, "password")), PASSWORD_LEN);
	json_decref(req);
	if (body == NULL)
		return -1;
	st = api(r, a, "PUT", "/api/v1/credentials/staged", body, &ans);
	kg_freezero(body, strlen(body));
	if (st < 0)
		return -1;
	if (!succeeded(st, ans)) {
		snprintf(a->result, sizeof(a->result), "stage refused: %s", message(ans));
		json_decref(ans);
		return -1;
	}
	json_decref(ans);
	/* Before AD changes, every appliance must list what it staged: one
	 * that said so without doing it would be left behind for good. */
	survey(r, a);
	if (!a->reachable)
		return -1;
	if (holds(a, kvno) == NULL || strcmp(holds(a, kvno), "staged") != 0) {
		snprintf(a->result, sizeof(a->result), "said kvno %ld was staged, but does "
		    "not hold it staged: not trusted", kvno);
		return -1;
	}
	snprintf(a->result, sizeof(a->result), "kvno %ld staged", kvno);
	return 0;
}

/* ---- reports ---------------------------------------------------------------------------- */

static void
table(const struct roll *r, long ad_kvno)
{
	printf("%-12s %-7s %-22s %s\n", "APPLIANCE", "ACTIVE", "HELD", "RESULT");
	for (int i = 0; i < r->n; i++) {
		const struct appliance *a = &r->a[i];
		char held[80] = "", act[16];
		size_t off = 0;

		for (int j = 0; j < a->nheld && off < sizeof(held); j++)
			off += (size_t)snprintf(held + off, sizeof(held) - off, "%s%ld:%s",
			    j ? "," : "", a->held[j], a->held_state[j]);
		snprintf(act, sizeof(act), "%ld", a->active);
		printf("%-12s %-7s %-22s %s\n", a->name, a->reachable || a->active >= 0 ? act : "?",
		    held[0] ? held : "-", a->result[0] ? a->result :
		    a->active == ad_kvno ? "level with AD" : "behind AD");
	}
	if (ad_kvno >= 0)
		printf("AD issues tickets for %s at kvno %ld\n", r->spn, ad_kvno);
}

static int
survey_all(struct roll *r)
{
	int unreachable = 0;

	for (int i = 0; i < r->n; i++) {
		r->a[i].result[0] = '\0';
		survey(r, &r->a[i]);
		unreachable += !r->a[i].reachable;
	}
	return unreachable;
}

static long
ad_kvno(struct roll *r)
{
	char err[256];
	uint32_t k;

	if (ad_current_kvno(r->kctx, r->cc, r->spn, &k, err, sizeof(err)) < 0) {
		fprintf(stderr, "kerbgate-roll: %s\n", err);
		exit(1);
	}
	return (long)k;
}

/* ---- commands ------------------------------------------------------------------------------ */

static int
cmd_status(struct roll *r)
{
	long k;
	int bad;

	bad = survey_all(r);
	k = ad_kvno(r);
	for (int i = 0; i < r->n; i++)
		if (r->a[i].reachable && r->a[i].active != k) {
			snprintf(r->a[i].result, sizeof(r->a[i].result),
			    "BEHIND: active %ld, AD %ld%s", r->a[i].active, k,
			    holds(&r->a[i], k) ? " (holds it: run kerbgate-roll finish)" :
			    " (does not hold it: run kerbgate-roll)");
			bad++;
		}
	table(r, k);
	return bad ? 1 : 0;
}

static int
cmd_finish(struct roll *r)
{
	long k;
	int bad = 0;

	survey_all(r);
	k = ad_kvno(r);
	for (int i = 0; i < r->n; i++) {
		struct appliance *a = &r->a[i];

		if (!a->reachable) {
			bad++;
			continue;
		}
		if (a->active == k) {
			a->level = 1;
			continue;
		}
		if (holds(a, k) == NULL) {
			snprintf(a->result, sizeof(a->result), "does not hold kvno %ld: run "
			    "kerbgate-roll (a new password) to bring it level", k);
			bad++;
			continue;
		}
		if (verify_activate(r, a, k) < 0)
			bad++;
	}
	table(r, k);
	if (bad)
		printf("\nNOT FINISHED: fix what the table says, then run kerbgate-roll finish again.\n");
	return bad ? 1 : 0;
}

/*
 * The password change failed, or its answer was lost after AD made it: AD's
 * kvno says which.  -1: AD is still at k, what was staged can go; 0: AD is
 * at n, the roll carries on.  Anything else stops with nothing retired: the
 * staged keys may be the only ones matching AD's password.
 */
static int
ad_after_failure(struct roll *r, long k, long n)
{
	char err[256];
	uint32_t now = 0;

	if (ad_current_kvno(r->kctx, r->cc, r->spn, &now, err, sizeof(err)) == 0) {
		if ((long)now == k)
			return -1;
		if ((long)now == n) {
			printf("AD has kvno %ld all the same (its answer was lost): carrying on.\n", n);
			return 0;
		}
	}
	table(r, k);
	printf("\nAD's kvno is %s, neither %ld nor %ld: nothing was retired.  Run "
	    "kerbgate-roll status; if AD is at kvno %ld, kerbgate-roll finish.\n",
	    now == 0 ? "unknown" : "another", k, n, n);
	exit(1);
}

/* ---- pull mode: packages ------------------------------------------------------------- */

/* Removes the packages written and retires kvno n where it was staged. */
static void
package_undo(struct roll *r, long n)
{
	for (int i = 0; i < r->n; i++) {
		struct appliance *a = &r->a[i];

		if (a->package[0] != '\0')
			unlink(a->package);
		survey(r, a);
		if (a->reachable && holds(a, n))
			(void)kvno_op(r, a, "/api/v1/credentials/retire", n, "retire");
	}
}

/* Every appliance lists kvno n (staged or verified), or the wait is over:
 * the number still without it. */
static int
package_wait(struct roll *r, long n, long wait_s)
{
	time_t end = time(NULL) + wait_s;
	int missing;

	for (;;) {
		missing = 0;
		for (int i = 0; i < r->n; i++) {
			survey(r, &r->a[i]);
			if (!r->a[i].reachable || holds(&r->a[i], n) == NULL)
				missing++;
		}
		if (missing == 0 || time(NULL) >= end)
			return missing;
		sleep(wait_s < 5 ? 1 : 5);
	}
}

static int
cmd_rotate_package(struct roll *r, long k, long n, const char *dir, long wait_s)
{
	char pw[PASSWORD_LEN + 1], err[256];
	EVP_PKEY *signer;
	int bad = 0, i;

	if ((signer = pkg_load_key(r->pkg_signer_file, EVP_PKEY_ED25519, 1, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "kerbgate-roll: package.signer_key: %s\n", err);
		return 2;
	}
	make_password(pw);
	for (i = 0; i < r->n; i++) {
		struct appliance *a = &r->a[i];

		if (pkgout_write(signer, a->package_key, dir, a->name, r->account, (uint32_t)n,
		    pw, r->pkg_lifetime_days * 86400, a->package, sizeof(a->package), err,
		    sizeof(err)) < 0) {
			snprintf(a->result, sizeof(a->result), "no package: %.280s", err);
			a->package[0] = '\0';
			bad++;
		}
	}
	EVP_PKEY_free(signer);
	if (bad == 0) {
		printf("Packages for kvno %ld written to %s; waiting up to %ld s for every "
		    "appliance to pull and stage it.\n", n, dir, wait_s);
		fflush(stdout);
		if (package_wait(r, n, wait_s) > 0) {
			for (i = 0; i < r->n; i++)
				if (r->a[i].reachable && holds(&r->a[i], n) == NULL)
					snprintf(r->a[i].result, sizeof(r->a[i].result), "did not "
					    "stage kvno %ld in %ld s: see kerbgate-smbpull's log on "
					    "it", n, wait_s);
			bad++;
		}
	}
	if (bad == 0 && ad_set_password(r->kctx, r->cc, r->account, pw, err, sizeof(err)) < 0) {
		printf("AD: %s\n", err);
		bad = ad_after_failure(r, k, n);
	}
	kg_zero(pw, sizeof(pw));
	if (bad != 0) {
		table(r, k);
		package_undo(r, n);
		printf("\nNothing changed in AD: the password is still kvno %ld's; the packages "
		    "were removed and kvno %ld retired where it was staged.  Fix what the table "
		    "says and run again.\n", k, n);
		return 1;
	}
	for (i = 0; i < r->n; i++)
		snprintf(r->a[i].result, sizeof(r->a[i].result), "kvno %ld staged; verifies "
		    "and activates at its next pull", n);
	table(r, n);
	printf("\nAD has the new password (kvno %ld).  Every appliance holds it staged (its "
	    "tickets are accepted already) and activates it when it next pulls its package: "
	    "leave the packages in %s until kerbgate-roll status shows every appliance "
	    "level.\n", n, dir);
	return 0;
}

static int
cmd_rotate(struct roll *r, int dry_run, long older_than_days, const char *pkgdir,
    long pkg_wait)
{
	char pw[PASSWORD_LEN + 1], err[256];
	long k, n;
	int bad = 0, i;

	if (survey_all(r) > 0) {
		table(r, -1);
		printf("\nNothing changed: every appliance must answer before a roll starts.\n");
		return 1;
	}
	k = ad_kvno(r);
	for (i = 0; i < r->n; i++)
		if (r->a[i].active != k && holds(&r->a[i], k) != NULL) {
			table(r, k);
			printf("\nA roll to kvno %ld is unfinished: run kerbgate-roll finish.\n", k);
			return 1;
		}
	if (older_than_days >= 0) {
		long age = (long)time(NULL) - r->a[0].active_since;

		if (r->a[0].active == k && r->a[0].active_since > 0 &&
		    age < older_than_days * 86400) {
			printf("The password (kvno %ld) is %ld days old, younger than %ld: "
			    "nothing to do.\n", k, age / 86400, older_than_days);
			return 0;
		}
	}
	n = k + 1;
	if (dry_run) {
		table(r, k);
		printf("\nDry run: would stage kvno %ld on %d appliance(s), set a new password "
		    "on %s in AD, then verify and activate kvno %ld on each.\n", n, r->n,
		    r->account, n);
		return 0;
	}
	if (pkgdir != NULL)
		return cmd_rotate_package(r, k, n, pkgdir, pkg_wait);
	make_password(pw);
	for (i = 0; i < r->n; i++)
		if (stage(r, &r->a[i], n, pw) < 0)
			bad++;
	if (bad == 0 && ad_set_password(r->kctx, r->cc, r->account, pw, err, sizeof(err)) < 0) {
		printf("AD: %s\n", err);
		bad = ad_after_failure(r, k, n);
	}
	kg_zero(pw, sizeof(pw));
	if (bad != 0) {
		for (i = 0; i < r->n; i++) {
			survey(r, &r->a[i]);
			if (r->a[i].reachable && holds(&r->a[i], n))
				(void)kvno_op(r, &r->a[i], "/api/v1/credentials/retire", n, "retire");
		}
		table(r, k);
		printf("\nNothing changed in AD: the password is still kvno %ld's; kvno %ld was "
		    "retired where it was staged.  Fix what the table says and run again.\n", k, n);
		return 1;
	}
	for (i = 0; i < r->n; i++) {
		survey(r, &r->a[i]);
		if (!r->a[i].reachable || verify_activate(r, &r->a[i], n) < 0)
			bad++;
	}
	table(r, n);
	if (bad) {
		printf("\nNOT FINISHED: AD has the new password (kvno %ld); the appliances above "
		    "that are not active on it hold it staged.  When they answer, run "
		    "kerbgate-roll finish (no new password needed).\n", n);
		return 1;
	}
	printf("\nDone: every appliance serves kvno %ld.\n", n);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *file = "/etc/kerbgate/roll.json", *cmd = "rotate", *pkgdir = NULL;
	struct roll r;
	long older = -1, pkg_wait = 900;
	int dry = 0, i, rc;

	memset(&r, 0, sizeof(r));
	kg_json_wipe_on_free(malloc, free);	/* json_dumps copies the password */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			file = argv[++i];
		else if (strcmp(argv[i], "--dry-run") == 0)
			dry = 1;
		else if (strcmp(argv[i], "--package") == 0 && i + 1 < argc)
			pkgdir = argv[++i];
		else if (strcmp(argv[i], "--package-wait") == 0 && i + 1 < argc) {
			char *end;

			pkg_wait = strtol(argv[++i], &end, 10);
			if (pkg_wait < 0 || *end != '\0')
				usage();
		}
		else if (strcmp(argv[i], "--if-older-than") == 0 && i + 1 < argc) {
			char *end;

			older = strtol(argv[++i], &end, 10);
			if (older < 0 || (*end != '\0' && strcmp(end, "d") != 0))
				usage();
		} else if (argv[i][0] != '-' && i == argc - 1)
			cmd = argv[i];
		else
			usage();
	}
	load(&r, file);
	if (pkgdir != NULL && r.pkg_signer_file == NULL) {
		fprintf(stderr, "kerbgate-roll: --package needs \"package\": {\"signer_key\": "
		    "...} in %s\n", file);
		return 2;
	}
	for (i = 0; pkgdir != NULL && i < r.n; i++)
		if (r.a[i].package_key == NULL) {
			fprintf(stderr, "kerbgate-roll: --package: appliance %s has no "
			    "\"package_key\" (its package public key) in %s\n", r.a[i].name, file);
			return 2;
		}
	kerberos(&r);
	if (strcmp(cmd, "status") == 0)
		rc = cmd_status(&r);
	else if (strcmp(cmd, "finish") == 0)
		rc = cmd_finish(&r);
	else if (strcmp(cmd, "rotate") == 0)
		rc = cmd_rotate(&r, dry, older, pkgdir, pkg_wait);
	else
		usage();
	tls_client_unref(r.tls);
	krb5_cc_close(r.kctx, r.cc);
	krb5_free_context(r.kctx);
	json_decref(r.conf);
	return rc;
}
