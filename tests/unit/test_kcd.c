/*
 * test_kcd.c: the constrained-delegation module without a KDC.  A fake
 * fetch function plays the KDC (it mints back-end tickets with krbmint,
 * encrypted with cas1's key), a fake clock moves time, and the AP-REQs
 * kcd builds are accepted by the real acceptor (acceptor.c) loaded with
 * cas1's key, channel bindings included.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <krb5.h>
#include <mbedtls/sha256.h>

#include "acceptor.h"
#include "kcd.h"
#include "negotiate.h"
#include "certgen.h"
#include "krbmint.h"

#define CAS1	"http/cas1.corp.contoso.com"
#define CAS2	"http/cas2.corp.contoso.com"
#define ALICE	"alice@CORP.CONTOSO.COM"
#define BOB	"bob@CORP.CONTOSO.COM"
#define CAROL	"carol@CORP.CONTOSO.COM"

static const uint8_t some_evidence[] = { 0x61, 0x03, 0x02, 0x01, 0x05 };

/* ---------------------------------------------------------------- fake KDC */

static struct {
	pthread_mutex_t mu;
	int calls;
	bool block;
	int gate[2];			/* a byte written here releases one fetch */
	enum kcd_status status;		/* what to answer */
	long lifetime;			/* of minted tickets; 0: 10 h */
	bool last_forwardable, last_pt;
} fake = { .mu = PTHREAD_MUTEX_INITIALIZER };

static struct mint_key asa_key, cas1_key;
static char asa_keytab[512];
static time_t clock_offset;

static time_t
test_clock(void)
{
	return time(NULL) + clock_offset;
}

static enum kcd_status
fake_fetch(void *arg, krb5_context ctx, const struct kcd_fetch_in *in, krb5_creds **out,
    bool *via_pt, char *reason, size_t reasonlen)
{
	struct mint_ticket_spec spec;
	krb5_creds creds;
	char service[256], b;
	enum kcd_status st;
	int ret;

	(void)arg;
	if (fake.block && read(fake.gate[0], &b, 1) != 1)
		return KCD_INTERNAL;
	pthread_mutex_lock(&fake.mu);
	fake.calls++;
	fake.last_forwardable = in->forwardable;
	fake.last_pt = in->allow_protocol_transition;
	st = fake.status;
	pthread_mutex_unlock(&fake.mu);
	*via_pt = !in->forwardable;
	if (st != KCD_OK) {
		snprintf(reason, reasonlen, "fake refusal for %s", in->spn);
		return st;
	}
	snprintf(service, sizeof(service), "%s", in->spn);
	memset(&spec, 0, sizeof(spec));
	spec.service = service;
	spec.client = in->user;
	spec.key = &cas1_key;
	spec.lifetime = fake.lifetime;
	spec.forwardable = true;
	if ((ret = mint_ticket(&spec, &creds)) != 0)
		return KCD_INTERNAL;
	ret = krb5_copy_creds(ctx, &creds, out);
	krb5_free_cred_contents(mint_context(), &creds);
	return ret == 0 ? KCD_OK : KCD_INTERNAL;
}

static void
release(int n)
{
	while (n-- > 0)
		assert_int_equal(write(fake.gate[1], "x", 1), 1);
}

static int
calls(void)
{
	int n;

	pthread_mutex_lock(&fake.mu);
	n = fake.calls;
	pthread_mutex_unlock(&fake.mu);
	return n;
}

/* ---------------------------------------------------------------- fixture */

static struct kcd_config
base_config(void)
{
	struct kcd_config c;

	memset(&c, 0, sizeof(c));
	c.principal = MINT_ACCOUNT;
	c.keytab_name = asa_keytab;
	c.fetch = fake_fetch;
	c.clock = test_clock;
	c.workers = 1;
	c.refresh_margin = 300;
	return c;
}

static struct kcd *
new_kcd(const struct kcd_config *c)
{
	char err[256];
	struct kcd *k = kcd_new(c, err, sizeof(err));

	if (k == NULL)
		fail_msg("kcd_new: %s", err);
	return k;
}

static int
setup(void **state)
{
	fake.calls = 0;
	fake.block = false;
	fake.status = KCD_OK;
	fake.lifetime = 0;
	clock_offset = 0;
	if (pipe(fake.gate) != 0)
		return -1;
	(void)state;
	return 0;
}

static int
teardown(void **state)
{
	close(fake.gate[0]);
	close(fake.gate[1]);
	(void)state;
	return 0;
}

static int
group_setup(void **state)
{
	(void)state;
	if (mint_key_from_password(ETYPE_AES256_CTS_HMAC_SHA1_96, 5, MINT_PASSWORD, MINT_SALT,
	    &asa_key) != 0 ||
	    mint_key_from_password(ETYPE_AES256_CTS_HMAC_SHA1_96, 3, "Cas1-Passw0rd",
	    "CORP.CONTOSO.COMhostcas1.corp.contoso.com", &cas1_key) != 0)
		return -1;
	return mint_write_keytab("asa.keytab", MINT_ACCOUNT, &asa_key, 1, asa_keytab,
	    sizeof(asa_keytab));
}

static int
group_teardown(void **state)
{
	(void)state;
	mint_key_free(&asa_key);
	mint_key_free(&cas1_key);
	return 0;
}

static enum kcd_status
get(struct kcd *k, const char *user, const char *spn, struct kcd_result *r)
{
	return kcd_get(k, user, some_evidence, sizeof(some_evidence), true, spn, false, r);
}

/* Collects n answers (indexed by cookie 1..n). */
static void
collect(struct kcd *k, struct kcd_result *rs, int n)
{
	struct pollfd pfd = { .fd = kcd_fd(k), .events = POLLIN };
	struct kcd_result r;
	int got = 0;

	while (got < n) {
		assert_true(poll(&pfd, 1, 5000) > 0);
		while (kcd_next(k, &r) == 1) {
			assert_true(r.cookie >= 1 && r.cookie <= (uint64_t)n);
			rs[r.cookie - 1] = r;
			got++;
		}
	}
}

/* ---------------------------------------------------------------- cache */

static void
test_second_request_is_a_cache_hit(void **state)
{
	struct kcd_config c = base_config();
	struct kcd *k = new_kcd(&c);
	struct kcd_result r;
	struct kcd_stats st;

	assert_int_equal(get(k, ALICE, CAS1, &r), KCD_OK);
	assert_false(r.cached);
	assert_non_null(r.ticket);
	assert_string_equal(kcd_ticket_client(r.ticket), ALICE);
	assert_string_equal(kcd_ticket_server(r.ticket), CAS1 "@" MINT_REALM);
	assert_true(r.endtime > time(NULL) + 3600);
	kcd_result_clear(&r);
	assert_int_equal(get(k, ALICE, CAS1, &r), KCD_OK);
	assert_true(r.cached);
	kcd_result_clear(&r);
	assert_int_equal(calls(), 1);
	kcd_stats(k, &st);
	assert_int_equal(st.requests, 2);
	assert_int_equal(st.cache_hits, 1);
	assert_int_equal(st.jobs, 1);
	assert_int_equal(st.ok, 2);
	assert_int_equal(st.cached, 1);
	assert_int_equal(st.in_flight, 0);
	kcd_free(k);
	(void)state;
}

static void
test_concurrent_requests_for_one_key_make_one_kdc_request(void **state)
{
	struct kcd_config c = base_config();
	struct kcd *k;
	struct kcd_request req = { .user = ALICE, .evidence = some_evidence,
	    .evidence_len = sizeof(some_evidence), .forwardable = true, .spn = CAS1 };
	struct kcd_result rs[5], r;
	struct kcd_stats st;
	int i, coalesced = 0;

	fake.block = true;
	k = new_kcd(&c);
	for (i = 0; i < 5; i++)
		assert_int_equal(kcd_submit(k, &req, (uint64_t)i + 1, &r), KCD_PENDING);
	kcd_stats(k, &st);
	assert_int_equal(st.in_flight, 1);
	assert_int_equal(st.coalesced, 4);
	assert_int_equal(kcd_next(k, &r), 0);	/* nothing yet */
	release(1);
	memset(rs, 0, sizeof(rs));
	collect(k, rs, 5);
	for (i = 0; i < 5; i++) {
		assert_int_equal(rs[i].status, KCD_OK);
		assert_int_equal(rs[i].cookie, (uint64_t)i + 1);
		assert_non_null(rs[i].ticket);
		coalesced += rs[i].coalesced;
		kcd_result_clear(&rs[i]);
	}
	assert_int_equal(coalesced, 4);
	assert_int_equal(calls(), 1);
	kcd_stats(k, &st);
	assert_int_equal(st.jobs, 1);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(st.cached, 1);
	/* And the next one comes from the cache, at once. */
	assert_int_equal(kcd_submit(k, &req, 9, &r), KCD_OK);
	assert_true(r.cached);
	kcd_result_clear(&r);
	kcd_free(k);
	(void)state;
}

static void
test_users_and_spns_are_separate_keys(void **state)
{
	struct kcd_config c = base_config();
	struct kcd *k = new_kcd(&c);
	struct kcd_result r;

	assert_int_equal(get(k, ALICE, CAS1, &r), KCD_OK);
	kcd_result_clear(&r);
	assert_int_equal(get(k, ALICE, CAS2, &r), KCD_OK);
	assert_false(r.cached);
	kcd_result_clear(&r);
	assert_int_equal(get(k, BOB, CAS1, &r), KCD_OK);
	assert_false(r.cached);
	assert_string_equal(kcd_ticket_client(r.ticket), BOB);
	kcd_result_clear(&r);
	assert_int_equal(calls(), 3);
	kcd_free(k);
	(void)state;
}

static void
test_spn_case_and_default_realm_share_an_entry(void **state)
{
	struct kcd_config c = base_config();
	struct kcd *k = new_kcd(&c);
	struct kcd_result r;

	assert_int_equal(get(k, ALICE, CAS1, &r), KCD_OK);
	kcd_result_clear(&r);
	assert_int_equal(get(k, ALICE, "HTTP/CAS1.corp.contoso.com@CORP.CONTOSO.COM", &r),
	    KCD_OK);
	assert_true(r.cached);
	kcd_result_clear(&r);
	assert_int_equal(get(k, "ALICE@corp.contoso.com", CAS1, &r), KCD_OK);
	assert_true(r.cached);
	kcd_result_clear(&r);
	assert_int_equal(calls(), 1);
	kcd_free(k);
	(void)state;
}

static void
test_ticket_within_margin_of_its_end_is_fetched_again(void **state)
{
	struct kcd_config c = base_config();
	struct kcd *k;
	struct kcd_result r;

	fake.lifetime = 3600;
	k = new_kcd(&c);
	assert_int_equal(get(k, ALICE, CAS1, &r), KCD_OK);
	kcd_result_clear(&r);
	clock_offset = 3600 - 300 - 5;		/* 305 s left: still good */
	assert_int_equal(get(k, ALICE, CAS1, &r), KCD_OK);
	assert_true(r.cached);
	kcd_result_clear(&r);
	clock_offset = 3600 - 300 + 5;		/* 295 s left: inside the margin */
	assert_int_equal(get(k, ALICE, CAS1, &r), KCD_OK);
	assert_false(r.cached);
	kcd_result_clear(&r);
	assert_int_equal(calls(), 2);
	kcd_free(k);
	(void)state;
}

static void
test_ticket_shorter_than_the_margin_is_answered_but_not_cached(void **state)
{
	struct kcd_config c = base_config();
	struct kcd *k;
	struct kcd_result r;
	struct kcd_stats st;

	fake.lifetime = 200;
	k = new_kcd(&c);
	assert_int_equal(get(k, ALICE, CAS1, &r), KCD_OK);
	assert_non_null(r.ticket);
	kcd_result_clear(&r);
	assert_int_equal(get(k, ALICE, CAS1, &r), KCD_OK);
	assert_false(r.cached);
	kcd_result_clear(&r);
	assert_int_equal(calls(), 2);
	kcd_stats(k, &st);
	assert_int_equal(st.cached, 0);
	kcd_free(k);
	(void)state;
}

static void
test_lru_evicts_the_least_recently_used(void **state)
{
	struct kcd_config c = base_config();
	struct kcd *k;
	struct kcd_result r;
	struct kcd_stats st;

	c.cache_entries = 2;
	k = new_kcd(&c);
	assert_int_equal(get(k, ALICE, CAS1, &r), KCD_OK);	/* A */
	kcd_result_clear(&r);
	assert_int_equal(get(k, BOB, CAS1, &r), KCD_OK);	/* B */
	kcd_result_clear(&r);
	assert_int_equal(get(k, ALICE, CAS1, &r), KCD_OK);	/* A used again */
	assert_true(r.cached);
	kcd_result_clear(&r);
	assert_int_equal(get(k, CAROL, CAS1, &r), KCD_OK);	/* C evicts B */
	kcd_result_clear(&r);
	assert_int_equal(calls(), 3);
	assert_int_equal(get(k, ALICE, CAS1, &r), KCD_OK);
	assert_true(r.cached);
	kcd_result_clear(&r);
	assert_int_equal(get(k, BOB, CAS1, &r), KCD_OK);
	assert_false(r.cached);
	kcd_result_clear(&r);
	assert_int_equal(calls(), 4);
	kcd_stats(k, &st);
	assert_int_equal(st.cached, 2);
	assert_int_equal(st.evictions, 2);
	kcd_free(k);
	(void)state;
}

static void
test_a_ticket_outlives_its_eviction(void **state)
{
	struct kcd_config c = base_config();
	struct kcd *k = new_kcd(&c);
	struct kcd_result r;
	uint8_t *tok = NULL;
	size_t len = 0;
	char err[256];

	assert_int_equal(get(k, ALICE, CAS1, &r), KCD_OK);
	kcd_flush(k);
	assert_int_equal(kcd_make_ap_req(k, r.ticket, NULL, 0, false, &tok, &len, NULL, err,
	    sizeof(err)), 0);
	assert_true(len > 100);
	free(tok);
	kcd_result_clear(&r);
	assert_int_equal(get(k, ALICE, CAS1, &r), KCD_OK);
	assert_false(r.cached);
	kcd_result_clear(&r);
	kcd_free(k);
	(void)state;
}

static void
test_a_failure_reaches_every_waiter_and_is_not_cached(void **state)
{
	struct kcd_config c = base_config();
	struct kcd *k;
	struct kcd_request req = { .user = ALICE, .evidence = some_evidence,
	    .evidence_len = sizeof(some_evidence), .forwardable = true, .spn = CAS1 };
	struct kcd_result rs[3], r;
	struct kcd_stats st;
	int i;

	fake.block = true;
	fake.status = KCD_NOT_ALLOWED;
	k = new_kcd(&c);
	for (i = 0; i < 3; i++)
		assert_int_equal(kcd_submit(k, &req, (uint64_t)i + 1, &r), KCD_PENDING);
	release(1);
	collect(k, rs, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(rs[i].status, KCD_NOT_ALLOWED);
		assert_null(rs[i].ticket);
		assert_string_equal(rs[i].reason, "fake refusal for " CAS1 "@" MINT_REALM);
		kcd_result_clear(&rs[i]);
	}
	kcd_stats(k, &st);
	assert_int_equal(st.failures[KCD_NOT_ALLOWED], 3);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(st.cached, 0);
	fake.status = KCD_OK;
	release(1);
	assert_int_equal(get(k, ALICE, CAS1, &r), KCD_OK);	/* asks again */
	kcd_result_clear(&r);
	assert_int_equal(calls(), 2);
	kcd_free(k);
	(void)state;
}

static void
test_not_forwardable_without_protocol_transition_asks_no_kdc(void **state)
{
	struct kcd_config c = base_config();
	struct kcd *k = new_kcd(&c);
	struct kcd_result r;

	assert_int_equal(kcd_get(k, CAROL, some_evidence, sizeof(some_evidence), false, CAS1,
	    false, &r), KCD_NOT_FORWARDABLE);
	assert_non_null(strstr(r.reason, "the evidence ticket of " CAROL " is not forwardable"));
	assert_non_null(strstr(r.reason, "\"sensitive and cannot be delegated\""));
	assert_non_null(strstr(r.reason, "protocol transition is not allowed for " CAS1));
	assert_int_equal(calls(), 0);
	kcd_result_clear(&r);
	kcd_free(k);
	(void)state;
}

static void
test_not_forwardable_with_protocol_transition_goes_to_the_kdc(void **state)
{
	struct kcd_config c = base_config();
	struct kcd *k = new_kcd(&c);
	struct kcd_result r;

	/* No evidence at all is fine for protocol transition. */
	assert_int_equal(kcd_get(k, ALICE, NULL, 0, false, CAS1, true, &r), KCD_OK);
	assert_true(r.protocol_transition);
	assert_false(fake.last_forwardable);
	assert_true(fake.last_pt);
	kcd_result_clear(&r);
	kcd_free(k);
	(void)state;
}

static void
test_too_many_keys_in_flight_is_busy(void **state)
{
	struct kcd_config c = base_config();
	struct kcd *k;
	struct kcd_request req = { .evidence = some_evidence,
	    .evidence_len = sizeof(some_evidence), .forwardable = true, .spn = CAS1 };
	struct kcd_result r, rs[1];

	c.max_pending = 2;
	fake.block = true;
	k = new_kcd(&c);
	req.user = ALICE;
	assert_int_equal(kcd_submit(k, &req, 1, &r), KCD_PENDING);
	req.user = BOB;
	assert_int_equal(kcd_submit(k, &req, 2, &r), KCD_PENDING);
	req.user = CAROL;
	assert_int_equal(kcd_submit(k, &req, 3, &r), KCD_BUSY);
	assert_non_null(strstr(r.reason, "in flight"));
	req.user = ALICE;		/* joining one in flight is fine */
	assert_int_equal(kcd_submit(k, &req, 4, &r), KCD_PENDING);
	release(2);
	{
		struct pollfd pfd = { .fd = kcd_fd(k), .events = POLLIN };
		int got = 0;

		while (got < 3) {
			assert_true(poll(&pfd, 1, 5000) > 0);
			while (kcd_next(k, &rs[0]) == 1) {
				assert_int_equal(rs[0].status, KCD_OK);
				assert_true(rs[0].cookie == 1 || rs[0].cookie == 2 ||
				    rs[0].cookie == 4);
				kcd_result_clear(&rs[0]);
				got++;
			}
		}
	}
	kcd_free(k);
	(void)state;
}

static void
test_invalid_requests_are_refused(void **state)
{
	struct kcd_config c = base_config();
	struct kcd *k = new_kcd(&c);
	struct kcd_request req = { .user = "alice", .evidence = some_evidence,
	    .evidence_len = sizeof(some_evidence), .forwardable = true, .spn = CAS1 };
	struct kcd_result r;

	assert_int_equal(kcd_submit(k, &req, 1, &r), KCD_INTERNAL);	/* no realm */
	req.user = ALICE;
	req.spn = NULL;
	assert_int_equal(kcd_submit(k, &req, 1, &r), KCD_INTERNAL);
	req.spn = "http/a@B@C";
	assert_int_equal(kcd_submit(k, &req, 1, &r), KCD_INTERNAL);
	req.spn = CAS1;
	req.evidence = NULL;
	req.evidence_len = 0;
	assert_int_equal(kcd_submit(k, &req, 1, &r), KCD_EVIDENCE_INVALID);
	req.evidence = some_evidence;
	req.evidence_len = KCD_MAX_EVIDENCE_LEN + 1;
	assert_int_equal(kcd_submit(k, &req, 1, &r), KCD_EVIDENCE_INVALID);
	assert_int_equal(kcd_submit(k, NULL, 1, &r), KCD_INTERNAL);
	assert_int_equal(kcd_submit(NULL, &req, 1, &r), KCD_INTERNAL);
	assert_int_equal(calls(), 0);
	kcd_free(k);
	(void)state;
}

static void
test_free_with_work_in_flight_leaks_nothing(void **state)
{
	struct kcd_config c = base_config();
	struct kcd *k;
	struct kcd_request req = { .user = ALICE, .evidence = some_evidence,
	    .evidence_len = sizeof(some_evidence), .forwardable = true, .spn = CAS1 };
	struct kcd_result r;

	fake.block = true;
	k = new_kcd(&c);
	assert_int_equal(kcd_submit(k, &req, 1, &r), KCD_PENDING);
	req.user = BOB;
	assert_int_equal(kcd_submit(k, &req, 2, &r), KCD_PENDING);	/* queued */
	release(2);
	kcd_free(k);	/* under ASan: no leak, no use after free */
	(void)state;
}

/* ---------------------------------------------------------------- config */

static void
test_new_refuses_what_cannot_work(void **state)
{
	struct kcd_config c = base_config();
	char err[256];

	c.principal = NULL;
	assert_null(kcd_new(&c, err, sizeof(err)));
	c.principal = "EXCHASA$";		/* no realm */
	assert_null(kcd_new(&c, err, sizeof(err)));
	c.principal = "OTHER$@" MINT_REALM;
	assert_null(kcd_new(&c, err, sizeof(err)));
	assert_string_equal(err, "no key of OTHER$@" MINT_REALM " in the keytab");
	c.principal = MINT_ACCOUNT;
	c.kvno = 9;
	assert_null(kcd_new(&c, err, sizeof(err)));
	assert_string_equal(err, "no key of " MINT_ACCOUNT " with kvno 9 in the keytab");
	c.kvno = 0;
	c.keytab_name = "/nonexistent/asa.keytab";
	assert_null(kcd_new(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/asa.keytab"));
	c.keytab_name = asa_keytab;
	{
		const char *bad[] = { "dc1 evil = x" };

		c.kdcs = bad;
		c.nkdcs = 1;
		assert_null(kcd_new(&c, err, sizeof(err)));
		assert_string_equal(err, "bad KDC name \"dc1 evil = x\"");
	}
	(void)state;
}

static void
test_keys_from_an_in_memory_keytab_and_rotation(void **state)
{
	struct kcd_config c = base_config();
	krb5_context ctx = mint_context();
	krb5_keytab kt;
	krb5_keytab_entry e;
	struct mint_key k6;
	struct kcd *k;
	char err[256];

	assert_int_equal(krb5_kt_resolve(ctx, "MEMORY:test-kcd-acceptor", &kt), 0);
	memset(&e, 0, sizeof(e));
	assert_int_equal(krb5_parse_name(ctx, MINT_ACCOUNT, &e.principal), 0);
	e.vno = 5;
	e.keyblock = asa_key.key;
	assert_int_equal(krb5_kt_add_entry(ctx, kt, &e), 0);
	c.keytab_name = NULL;
	c.keytab_ctx = ctx;
	c.keytab = kt;
	k = new_kcd(&c);
	/* Staged kvno 6 is taken only when asked for. */
	assert_int_equal(mint_key_from_password(ETYPE_AES256_CTS_HMAC_SHA1_96, 6, "new-pw",
	    MINT_SALT, &k6), 0);
	e.vno = 6;
	e.keyblock = k6.key;
	assert_int_equal(krb5_kt_add_entry(ctx, kt, &e), 0);
	assert_int_equal(kcd_set_keys(k, ctx, kt, 5, err, sizeof(err)), 1);
	assert_int_equal(kcd_set_keys(k, ctx, kt, 0, err, sizeof(err)), 1);
	assert_int_equal(kcd_set_keys(k, ctx, kt, 7, err, sizeof(err)), -1);
	krb5_free_principal(ctx, e.principal);
	krb5_kt_close(ctx, kt);	/* kcd keeps its own copy */
	mint_key_free(&k6);
	kcd_free(k);
	(void)state;
}

/*
 * An appliance before its first credential: kcd starts without keys, says
 * why each job fails (no KDC asked), and works once a kvno is activated.
 */
static void
test_no_keys_yet_until_the_first_activation(void **state)
{
	struct kcd_config c = base_config();
	krb5_context ctx = mint_context();
	krb5_keytab kt;
	krb5_keytab_entry e;
	struct kcd_result r;
	struct kcd_stats st;
	struct kcd *k;
	char err[256];

	assert_int_equal(krb5_kt_resolve(ctx, "MEMORY:test-kcd-empty", &kt), 0);
	c.keytab_name = NULL;
	c.keytab_ctx = ctx;
	c.keytab = kt;
	c.fetch = NULL;
	/* Without keys_later, no key is a refusal. */
	assert_null(kcd_new(&c, err, sizeof(err)));
	assert_string_equal(err, "no key of " MINT_ACCOUNT " in the keytab");
	c.keys_later = true;
	k = new_kcd(&c);
	assert_int_equal(get(k, ALICE, CAS1, &r), KCD_ASA_CREDENTIALS);
	assert_non_null(strstr(r.reason, "no credential of " MINT_ACCOUNT " is active yet"));
	kcd_result_clear(&r);
	kcd_stats(k, &st);
	assert_int_equal(st.kdc_as, 0);
	/* The first activation hands it the keys. */
	memset(&e, 0, sizeof(e));
	assert_int_equal(krb5_parse_name(ctx, MINT_ACCOUNT, &e.principal), 0);
	e.vno = 5;
	e.keyblock = asa_key.key;
	assert_int_equal(krb5_kt_add_entry(ctx, kt, &e), 0);
	assert_int_equal(kcd_set_keys(k, ctx, kt, 5, err, sizeof(err)), 1);
	krb5_free_principal(ctx, e.principal);
	krb5_kt_close(ctx, kt);
	kcd_free(k);
	(void)state;
}

/* The real KDC path, with nothing listening: the reason says so. */
static void
test_unreachable_kdc_is_reported(void **state)
{
	struct kcd_config c = base_config();
	const char *kdcs[] = { "127.0.0.1:9" };
	struct kcd_result r;
	struct kcd_stats st;
	struct kcd *k;

	c.fetch = NULL;
	c.kdcs = kdcs;
	c.nkdcs = 1;
	c.kdc_timeout = 1;
	k = new_kcd(&c);
	assert_int_equal(get(k, ALICE, CAS1, &r), KCD_KDC_UNREACHABLE);
	assert_non_null(strstr(r.reason, "KDC unreachable ("));
	assert_non_null(strstr(r.reason, MINT_REALM));
	kcd_result_clear(&r);
	kcd_stats(k, &st);
	assert_int_equal(st.kdc_as, 1);
	assert_int_equal(st.kdc_s4u2proxy, 0);
	assert_int_equal(st.failures[KCD_KDC_UNREACHABLE], 1);
	kcd_free(k);
	(void)state;
}

/* ---------------------------------------------------------------- reasons */

static enum kcd_status
explain(krb5_error_code code, enum kcd_step step, bool fwd, bool pt, bool has_pt,
    const char *user, char *reason, size_t len)
{
	struct kcd_error_ctx e = {
		.step = step, .asa = MINT_ACCOUNT, .user = user,
		.spn = "http/cas1.corp.contoso.com", .realm = MINT_REALM, .kvno = 5,
		.evidence_forwardable = fwd, .protocol_transition = pt, .asa_has_pt = has_pt,
	};

	return kcd_explain(code, &e, reason, len);
}

static void
test_badoption_with_forwardable_evidence_means_not_allowed(void **state)
{
	char r[512];

	assert_int_equal(explain(KRB5KDC_ERR_BADOPTION, KCD_STEP_S4U2PROXY, true, false, false,
	    ALICE, r, sizeof(r)), KCD_NOT_ALLOWED);
	assert_string_equal(r, "KDC_ERR_BADOPTION for http/cas1.corp.contoso.com: EXCHASA$ "
	    "may not delegate to it, or the evidence ticket is not forwardable; check "
	    "msDS-AllowedToDelegateTo and protocol transition");
	(void)state;
}

static void
test_badoption_after_non_forwardable_s4u2self_means_sensitive(void **state)
{
	char r[512];

	assert_int_equal(explain(KRB5KDC_ERR_BADOPTION, KCD_STEP_S4U2PROXY, false, true, true,
	    CAROL, r, sizeof(r)), KCD_USER_SENSITIVE);
	assert_true(strncmp(r, CAROL " is marked \"sensitive and cannot be delegated\"",
	    strlen(CAROL) + 45) == 0);
	/* Without knowing that the ASA may use protocol transition: both causes. */
	assert_int_equal(explain(KRB5KDC_ERR_BADOPTION, KCD_STEP_S4U2PROXY, false, true, false,
	    CAROL, r, sizeof(r)), KCD_NO_PROTOCOL_TRANSITION);
	assert_non_null(strstr(r, "TrustedToAuthForDelegation"));
	assert_non_null(strstr(r, "sensitive and cannot be delegated"));
	(void)state;
}

static void
test_kdc_errors_map_to_words(void **state)
{
	char r[512];
	struct kcd_error_ctx e = { .step = KCD_STEP_S4U2PROXY, .asa = MINT_ACCOUNT,
	    .user = ALICE, .spn = "http/x.corp.contoso.com",
	    .kdc_text = "unable to reach any KDC in realm CORP.CONTOSO.COM" };

	assert_int_equal(kcd_explain(KRB5_KDC_UNREACH, &e, r, sizeof(r)), KCD_KDC_UNREACHABLE);
	assert_string_equal(r, "KDC unreachable (unable to reach any KDC in realm "
	    "CORP.CONTOSO.COM)");
	e.kdc_text = NULL;
	assert_int_equal(kcd_explain(KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN, &e, r, sizeof(r)),
	    KCD_UNKNOWN_SPN);
	assert_string_equal(r, "KDC_ERR_S_PRINCIPAL_UNKNOWN for http/x.corp.contoso.com: no "
	    "such SPN in the directory");
	e.kdc_text = "Server not found";
	assert_int_equal(kcd_explain(KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN, &e, r, sizeof(r)),
	    KCD_UNKNOWN_SPN);
	assert_string_equal(r, "KDC_ERR_S_PRINCIPAL_UNKNOWN for http/x.corp.contoso.com: no "
	    "such SPN in the directory (KDC: Server not found)");
	e.kdc_text = NULL;
	assert_int_equal(kcd_explain(KRB5KRB_AP_ERR_SKEW, &e, r, sizeof(r)), KCD_CLOCK_SKEW);
	assert_int_equal(kcd_explain(KRB5KRB_AP_ERR_TKT_EXPIRED, &e, r, sizeof(r)),
	    KCD_EVIDENCE_INVALID);
	assert_non_null(strstr(r, "evidence ticket of " ALICE " has expired"));
	assert_int_equal(kcd_explain(KRB5KRB_AP_ERR_MODIFIED, &e, r, sizeof(r)),
	    KCD_EVIDENCE_INVALID);
	assert_non_null(strstr(r, "not issued to EXCHASA$"));
	assert_int_equal(kcd_explain(KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN, &e, r, sizeof(r)),
	    KCD_UNKNOWN_USER);
	assert_int_equal(kcd_explain(KRB5KDC_ERR_SVC_UNAVAILABLE, &e, r, sizeof(r)),
	    KCD_KDC_ERROR);
	assert_string_equal(r, "KDC_ERR_SVC_UNAVAILABLE for http/x.corp.contoso.com "
	    "(S4U2Proxy for " ALICE ")");
	assert_int_equal(kcd_explain(KRB5KDC_ERR_NONE + 99, &e, r, sizeof(r)), KCD_KDC_ERROR);
	assert_true(strncmp(r, "KRB-ERROR 99 for", 16) == 0);
	assert_int_equal(kcd_explain(ENOMEM, &e, r, sizeof(r)), KCD_INTERNAL);

	e.step = KCD_STEP_S4U2SELF;
	assert_int_equal(kcd_explain(KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN, &e, r, sizeof(r)),
	    KCD_UNKNOWN_USER);
	assert_string_equal(r, "KDC_ERR_C_PRINCIPAL_UNKNOWN for " ALICE " (S4U2Self): no "
	    "such user in the directory");

	e.step = KCD_STEP_TGT;
	e.kvno = 5;
	assert_int_equal(kcd_explain(KRB5KDC_ERR_PREAUTH_FAILED, &e, r, sizeof(r)),
	    KCD_ASA_CREDENTIALS);
	assert_string_equal(r, "KDC_ERR_PREAUTH_FAILED for " MINT_ACCOUNT ": the ASA keys "
	    "(kvno 5) are not the account's current password in the directory; load the "
	    "current keys or finish the rotation");
	assert_int_equal(kcd_explain(KRB5KDC_ERR_CLIENT_REVOKED, &e, r, sizeof(r)),
	    KCD_ASA_CREDENTIALS);
	assert_int_equal(kcd_explain(KRB5_KT_NOTFOUND, &e, r, sizeof(r)), KCD_ASA_CREDENTIALS);
	(void)state;
}

static void
test_status_names_are_distinct(void **state)
{
	int i, j;

	for (i = 0; i < KCD_STATUS_MAX; i++) {
		assert_string_not_equal(kcd_status_name((enum kcd_status)i), "unknown");
		for (j = 0; j < i; j++)
			assert_string_not_equal(kcd_status_name((enum kcd_status)i),
			    kcd_status_name((enum kcd_status)j));
	}
	assert_string_equal(kcd_status_name(KCD_STATUS_MAX), "unknown");
	(void)state;
}

/* ---------------------------------------------------------------- AP-REQ */

static struct kg_acceptor *
cas1_acceptor(void)
{
	static const char *const spns[] = { CAS1 };
	struct kg_acceptor *acc;
	char path[512], err[256];

	assert_int_equal(mint_write_keytab("cas1.keytab", "cas1$@" MINT_REALM, &cas1_key, 1,
	    path, sizeof(path)), 0);
	assert_int_equal(acceptor_new(&acc, 64, err, sizeof(err)), 0);
	assert_true(acceptor_load_keytab(acc, path, spns, 1, err, sizeof(err)) > 0);
	return acc;
}

static struct accept_params
cas1_params(void)
{
	static const char *const spns[] = { CAS1 };
	struct accept_params p;

	memset(&p, 0, sizeof(p));
	p.spns = spns;
	p.nspns = 1;
	p.cb_mode = CB_OFF;
	return p;
}

/* "tls-server-end-point:" + SHA-256 of the certificate (RFC 5929). */
static size_t
cb_app_data(const struct certgen_cert *cert, uint8_t *out)
{
	memcpy(out, "tls-server-end-point:", 21);
	assert_int_equal(mbedtls_sha256(cert->der, cert->der_len, out + 21, 0), 0);
	return 21 + 32;
}

static void
test_ap_req_is_accepted_by_the_backend_with_channel_bindings(void **state)
{
	struct kcd_config c = base_config();
	struct kcd *k = new_kcd(&c);
	struct kg_acceptor *acc = cas1_acceptor();
	struct certgen_spec spec = { .cn = "cas1.corp.contoso.com" };
	struct certgen_cert cert, other;
	struct accept_params p = cas1_params();
	struct accept_result res;
	struct kcd_result r;
	uint8_t app[64], *tok;
	size_t applen, len;
	char err[256];

	assert_int_equal(certgen_make(&cert, &spec), 0);
	assert_int_equal(certgen_make(&other, &spec), 0);
	applen = cb_app_data(&cert, app);
	assert_int_equal(get(k, ALICE, CAS1, &r), KCD_OK);

	/* Bound to cas1's certificate: the back-end requiring bindings accepts. */
	assert_int_equal(kcd_make_ap_req(k, r.ticket, app, applen, false, &tok, &len, NULL,
	    err, sizeof(err)), 0);
	assert_int_equal(tok[0], 0x60);		/* GSS framing, raw krb5 mech */
	p.cb_mode = CB_REQUIRE;
	assert_int_equal(acceptor_cb_hash_from_cert(cert.der, cert.der_len, p.cb_expected), 0);
	assert_int_equal(acceptor_accept(acc, tok, len, &p, &res), 0);
	assert_string_equal(res.client, ALICE);
	assert_true(res.channel_bound);
	assert_false(res.mutual);
	/* Flags as a GSS initiator sets them: replay, sequence, conf, integ. */
	assert_int_equal(res.gss_flags & (4 | 8 | 16 | 32), 4 | 8 | 16 | 32);
	assert_int_equal(res.gss_flags & 2, 0);
	acceptor_result_clear(&res);
	free(tok);

	/* Bound to another certificate: refused. */
	assert_int_equal(kcd_make_ap_req(k, r.ticket, app, applen, false, &tok, &len, NULL,
	    err, sizeof(err)), 0);
	assert_int_equal(acceptor_cb_hash_from_cert(other.der, other.der_len, p.cb_expected), 0);
	assert_int_equal(acceptor_accept(acc, tok, len, &p, &res), -1);
	assert_int_equal(res.status, ACCEPT_CB_MISMATCH);
	acceptor_result_clear(&res);
	free(tok);

	/* No bindings: fine for CB_ACCEPT, refused by CB_REQUIRE. */
	assert_int_equal(kcd_make_ap_req(k, r.ticket, NULL, 0, false, &tok, &len, NULL,
	    err, sizeof(err)), 0);
	assert_int_equal(acceptor_accept(acc, tok, len, &p, &res), -1);
	assert_int_equal(res.status, ACCEPT_CB_MISSING);
	acceptor_result_clear(&res);
	p.cb_mode = CB_ACCEPT;
	assert_int_equal(acceptor_accept(acc, tok, len, &p, &res), 0);
	assert_false(res.channel_bound);
	acceptor_result_clear(&res);
	free(tok);

	kcd_result_clear(&r);
	certgen_free(&cert);
	certgen_free(&other);
	acceptor_free(acc);
	kcd_free(k);
	(void)state;
}

static void
test_every_ap_req_has_a_fresh_authenticator(void **state)
{
	struct kcd_config c = base_config();
	struct kcd *k = new_kcd(&c);
	struct kg_acceptor *acc = cas1_acceptor();
	struct accept_params p = cas1_params();
	struct accept_result res;
	struct kcd_result r;
	uint8_t *t1, *t2;
	size_t l1, l2;
	char err[256];

	assert_int_equal(get(k, ALICE, CAS1, &r), KCD_OK);
	assert_int_equal(kcd_make_ap_req(k, r.ticket, NULL, 0, false, &t1, &l1, NULL, err,
	    sizeof(err)), 0);
	assert_int_equal(kcd_make_ap_req(k, r.ticket, NULL, 0, false, &t2, &l2, NULL, err,
	    sizeof(err)), 0);
	assert_false(l1 == l2 && memcmp(t1, t2, l1) == 0);
	assert_int_equal(acceptor_accept(acc, t1, l1, &p, &res), 0);
	acceptor_result_clear(&res);
	assert_int_equal(acceptor_accept(acc, t2, l2, &p, &res), 0);	/* not a replay */
	acceptor_result_clear(&res);
	assert_int_equal(acceptor_accept(acc, t1, l1, &p, &res), -1);	/* this one is */
	assert_int_equal(res.status, ACCEPT_REPLAY);
	acceptor_result_clear(&res);
	free(t1);
	free(t2);
	kcd_result_clear(&r);
	acceptor_free(acc);
	kcd_free(k);
	(void)state;
}

static void
test_mutual_authentication_checks_the_backends_ap_rep(void **state)
{
	struct kcd_config c = base_config();
	struct kcd *k = new_kcd(&c);
	struct kg_acceptor *acc = cas1_acceptor();
	struct accept_params p = cas1_params();
	struct accept_result res;
	struct kcd_result r;
	struct kcd_apctx *ac = NULL, *ac2 = NULL;
	uint8_t *tok, rep[4096], rep2[4096];
	size_t len, rlen, rlen2;
	char err[256];

	assert_int_equal(get(k, ALICE, CAS1, &r), KCD_OK);
	assert_int_equal(kcd_make_ap_req(k, r.ticket, NULL, 0, true, &tok, &len, NULL, err,
	    sizeof(err)), -1);			/* mutual needs somewhere to keep state */
	assert_int_equal(kcd_make_ap_req(k, r.ticket, NULL, 0, true, &tok, &len, &ac, err,
	    sizeof(err)), 0);
	assert_non_null(ac);
	assert_int_equal(acceptor_accept(acc, tok, len, &p, &res), 0);
	assert_true(res.mutual);
	assert_non_null(res.ap_rep);
	assert_int_equal(neg_gss_krb5_wrap(NEG_MECH_KRB5, NEG_TOK_AP_REP, res.ap_rep,
	    res.ap_rep_len, rep, sizeof(rep), &rlen), NEG_OK);
	acceptor_result_clear(&res);
	free(tok);

	/* An AP-REP for another AP-REQ does not verify. */
	assert_int_equal(kcd_make_ap_req(k, r.ticket, NULL, 0, true, &tok, &len, &ac2, err,
	    sizeof(err)), 0);
	assert_int_equal(acceptor_accept(acc, tok, len, &p, &res), 0);
	assert_int_equal(neg_gss_krb5_wrap(NEG_MECH_KRB5, NEG_TOK_AP_REP, res.ap_rep,
	    res.ap_rep_len, rep2, sizeof(rep2), &rlen2), NEG_OK);
	acceptor_result_clear(&res);
	free(tok);
	assert_int_equal(kcd_verify_ap_rep(ac2, rep, rlen, err, sizeof(err)), -1);
	kcd_apctx_free(ac2);

	/* A tampered one does not either; the right one does, once. */
	{
		struct kcd_apctx *ac3 = NULL;
		uint8_t bad[4096];

		assert_int_equal(kcd_make_ap_req(k, r.ticket, NULL, 0, true, &tok, &len, &ac3,
		    err, sizeof(err)), 0);
		assert_int_equal(acceptor_accept(acc, tok, len, &p, &res), 0);
		assert_int_equal(neg_gss_krb5_wrap(NEG_MECH_KRB5, NEG_TOK_AP_REP, res.ap_rep,
		    res.ap_rep_len, bad, sizeof(bad), &rlen2), NEG_OK);
		acceptor_result_clear(&res);
		free(tok);
		bad[rlen2 - 3] ^= 0x01;
		assert_int_equal(kcd_verify_ap_rep(ac3, bad, rlen2, err, sizeof(err)), -1);
		kcd_apctx_free(ac3);
	}
	kcd_result_clear(&r);	/* the context keeps its own reference */
	kcd_flush(k);
	assert_int_equal(kcd_verify_ap_rep(ac, rep, rlen, err, sizeof(err)), 0);
	assert_int_equal(kcd_verify_ap_rep(ac, rep, rlen, err, sizeof(err)), -1);
	kcd_apctx_free(ac);
	acceptor_free(acc);
	kcd_free(k);
	(void)state;
}

static void
test_make_ap_req_refuses_bad_arguments(void **state)
{
	struct kcd_config c = base_config();
	struct kcd *k = new_kcd(&c);
	struct kcd_result r;
	uint8_t *tok;
	size_t len;
	char err[256];

	assert_int_equal(get(k, ALICE, CAS1, &r), KCD_OK);
	assert_int_equal(kcd_make_ap_req(k, NULL, NULL, 0, false, &tok, &len, NULL, err,
	    sizeof(err)), -1);
	assert_int_equal(kcd_make_ap_req(k, r.ticket, NULL, 5, false, &tok, &len, NULL, err,
	    sizeof(err)), -1);
	assert_int_equal(kcd_verify_ap_rep(NULL, (const uint8_t *)"x", 1, err, sizeof(err)), -1);
	kcd_result_clear(&r);
	kcd_free(k);
	(void)state;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_second_request_is_a_cache_hit),
		T(test_concurrent_requests_for_one_key_make_one_kdc_request),
		T(test_users_and_spns_are_separate_keys),
		T(test_spn_case_and_default_realm_share_an_entry),
		T(test_ticket_within_margin_of_its_end_is_fetched_again),
		T(test_ticket_shorter_than_the_margin_is_answered_but_not_cached),
		T(test_lru_evicts_the_least_recently_used),
		T(test_a_ticket_outlives_its_eviction),
		T(test_a_failure_reaches_every_waiter_and_is_not_cached),
		T(test_not_forwardable_without_protocol_transition_asks_no_kdc),
		T(test_not_forwardable_with_protocol_transition_goes_to_the_kdc),
		T(test_too_many_keys_in_flight_is_busy),
		T(test_invalid_requests_are_refused),
		T(test_free_with_work_in_flight_leaks_nothing),
		T(test_new_refuses_what_cannot_work),
		T(test_keys_from_an_in_memory_keytab_and_rotation),
		T(test_no_keys_yet_until_the_first_activation),
		T(test_unreachable_kdc_is_reported),
		T(test_badoption_with_forwardable_evidence_means_not_allowed),
		T(test_badoption_after_non_forwardable_s4u2self_means_sensitive),
		T(test_kdc_errors_map_to_words),
		T(test_status_names_are_distinct),
		T(test_ap_req_is_accepted_by_the_backend_with_channel_bindings),
		T(test_every_ap_req_has_a_fresh_authenticator),
		T(test_mutual_authentication_checks_the_backends_ap_rep),
		T(test_make_ap_req_refuses_bad_arguments),
#undef T
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
