/*
 * test_khproto.c - the relay <-> keyholder payloads: every frame round
 * trips, and whatever is truncated, garbled, mis-tagged or oversized is
 * refused as a protocol error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ipc.h"
#include "khproto.h"
#include "tlv.h"
#include "util.h"

/* The frames under test, as encode/decode pairs over opaque structs, so
 * that truncation and garbling run over all of them alike. */
struct codec {
	const char *name;
	int (*encode)(const void *msg, uint8_t **out, size_t *outlen);
	int (*decode)(const uint8_t *p, size_t n, void *msg);
	size_t size;
};

static int
enc_auth_req(const void *m, uint8_t **o, size_t *n)
{
	return kh_auth_req_encode(m, o, n);
}

static int
dec_auth_req(const uint8_t *p, size_t n, void *m)
{
	return kh_auth_req_decode(p, n, m);
}

static int
enc_auth_res(const void *m, uint8_t **o, size_t *n)
{
	return kh_auth_result_encode(m, o, n);
}

static int
dec_auth_res(const uint8_t *p, size_t n, void *m)
{
	return kh_auth_result_decode(p, n, m);
}

static int
enc_backend_req(const void *m, uint8_t **o, size_t *n)
{
	return kh_backend_req_encode(m, o, n);
}

static int
dec_backend_req(const uint8_t *p, size_t n, void *m)
{
	return kh_backend_req_decode(p, n, m);
}

static int
enc_backend_res(const void *m, uint8_t **o, size_t *n)
{
	return kh_backend_result_encode(m, o, n);
}

static int
dec_backend_res(const uint8_t *p, size_t n, void *m)
{
	return kh_backend_result_decode(p, n, m);
}

static int
enc_verify_req(const void *m, uint8_t **o, size_t *n)
{
	return kh_verify_req_encode(m, o, n);
}

static int
dec_verify_req(const uint8_t *p, size_t n, void *m)
{
	return kh_verify_req_decode(p, n, m);
}

static int
enc_verify_res(const void *m, uint8_t **o, size_t *n)
{
	return kh_verify_result_encode(m, o, n);
}

static int
dec_verify_res(const uint8_t *p, size_t n, void *m)
{
	return kh_verify_result_decode(p, n, m);
}

static const uint8_t ap_req[] = { 0x60, 0x81, 0x10, 0x06, 0x09, 0x2a, 0x86,
	0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x01, 0x00, 0x6e };
static const uint8_t ap_rep[] = { 0x6f, 0x2e, 0x30, 0x2c, 0xa0, 0x03 };
static const uint8_t mic[] = { 0x04, 0x04, 0x01, 0xff, 0xff, 0xff };
static const uint8_t mech_list[] = { 0x30, 0x0b, 0x06, 0x09, 0x2a };
static const char cb[] = "tls-server-end-point:0123456789abcdef0123456789abcdef";

static void
sample_auth_req(struct kh_auth_req *r)
{
	memset(r, 0, sizeof(*r));
	r->vhost = 3;
	r->ap_req = ap_req;
	r->ap_req_len = sizeof(ap_req);
	r->has_cb = 1;
	memset(r->cb_hash, 0xa5, sizeof(r->cb_hash));
	r->mech_list = mech_list;
	r->mech_list_len = sizeof(mech_list);
	r->client_mic = mic;
	r->client_mic_len = sizeof(mic);
}

static void
sample_auth_result(struct kh_auth_result *r)
{
	memset(r, 0, sizeof(*r));
	r->status = KH_OK;
	kg_strlcpy(r->principal, "alice@CORP.CONTOSO.COM", sizeof(r->principal));
	r->endtime = 1893456000;
	r->enctype = 18;
	r->ap_rep = ap_rep;
	r->ap_rep_len = sizeof(ap_rep);
	r->mic = mic;
	r->mic_len = sizeof(mic);
	r->session = 0x8badf00ddeadbeefULL;
	r->expiry = 1893450000;
	kg_strlcpy(r->cookie, "YWxpY2U.bWFj", sizeof(r->cookie));
	r->ngrants = 2;
	r->grants[0].pool = 1;
	memset(r->grants[0].id, 0x11, sizeof(r->grants[0].id));
	memset(r->grants[0].key, 0x22, sizeof(r->grants[0].key));
	r->grants[1].pool = 0x01020304;
	memset(r->grants[1].id, 0x33, sizeof(r->grants[1].id));
	memset(r->grants[1].key, 0x44, sizeof(r->grants[1].key));
}

static int
enc_cookie_req(const void *m, uint8_t **o, size_t *n)
{
	return kh_cookie_req_encode(m, o, n);
}

static int
dec_cookie_req(const uint8_t *p, size_t n, void *m)
{
	return kh_cookie_req_decode(p, n, m);
}

static void
sample_cookie_req(struct kh_cookie_req *r)
{
	memset(r, 0, sizeof(*r));
	r->vhost = 2;
	r->value = "YWxpY2U.bWFj";
	r->value_len = strlen(r->value);
}

static void
sample_backend_req(struct kh_backend_req *r)
{
	memset(r, 0, sizeof(*r));
	r->session = 0xfeedfacecafef00dULL;
	r->pool = 2;
	kg_strlcpy(r->spn, "http/cas1.corp.contoso.com", sizeof(r->spn));
	r->cb = (const uint8_t *)cb;
	r->cb_len = strlen(cb);
}

static void
sample_backend_result(struct kh_backend_result *r)
{
	memset(r, 0, sizeof(*r));
	r->status = KH_B_OK;
	r->token = ap_req;
	r->token_len = sizeof(ap_req);
	r->verify = 0x0123456789abcdefULL;
}

static void
sample_verify_req(struct kh_verify_req *r)
{
	memset(r, 0, sizeof(*r));
	r->verify = 0x0123456789abcdefULL;
	r->token = ap_rep;
	r->token_len = sizeof(ap_rep);
}

static void
sample_verify_result(struct kh_verify_result *r)
{
	memset(r, 0, sizeof(*r));
	r->ok = 0;
	kg_strlcpy(r->reason, "the back-end's AP-REP does not verify",
	    sizeof(r->reason));
}

union any_msg {
	struct kh_auth_req ar;
	struct kh_auth_result as;
	struct kh_backend_req br;
	struct kh_backend_result bs;
	struct kh_verify_req vr;
	struct kh_verify_result vs;
	struct kh_cookie_req cr;
};

/* A codec and a well-formed sample of its message. */
static void
codec_at(size_t i, struct codec *c, union any_msg *m)
{
	static const struct codec codecs[] = {
		{ "auth request", enc_auth_req, dec_auth_req,
		    sizeof(struct kh_auth_req) },
		{ "auth result", enc_auth_res, dec_auth_res,
		    sizeof(struct kh_auth_result) },
		{ "backend request", enc_backend_req, dec_backend_req,
		    sizeof(struct kh_backend_req) },
		{ "backend result", enc_backend_res, dec_backend_res,
		    sizeof(struct kh_backend_result) },
		{ "verify request", enc_verify_req, dec_verify_req,
		    sizeof(struct kh_verify_req) },
		{ "verify result", enc_verify_res, dec_verify_res,
		    sizeof(struct kh_verify_result) },
		{ "cookie request", enc_cookie_req, dec_cookie_req,
		    sizeof(struct kh_cookie_req) },
	};

	assert_true(i < KG_NELEM(codecs));
	*c = codecs[i];
	switch (i) {
	case 0: sample_auth_req(&m->ar); break;
	case 1: sample_auth_result(&m->as); break;
	case 2: sample_backend_req(&m->br); break;
	case 3: sample_backend_result(&m->bs); break;
	case 4: sample_verify_req(&m->vr); break;
	case 5: sample_verify_result(&m->vs); break;
	default: sample_cookie_req(&m->cr); break;
	}
}

#define NCODECS 7

/*
 * Appends one TLV item to a hand-built payload.  Hand-built payloads use the
 * tags khproto.c gives the items: backend request 30-33 (session, pool,
 * spn, cb), backend result 40-43 (status, reason, token, verify), verify
 * request 50-51 (handle, token), verify result 60-61 (ok, reason).
 */
static size_t
put_item(uint8_t *p, size_t off, uint16_t tag, const void *v, uint32_t len)
{
	memcpy(p + off, &tag, 2);
	memcpy(p + off + 2, &len, 4);
	if (len > 0)
		memcpy(p + off + 6, v, len);
	return off + 6 + len;
}

/* ---------------------------------------------------------- round trips */

static void
test_auth_request_round_trips_with_bindings_and_mech_list(void **state)
{
	struct kh_auth_req in, out;
	uint8_t *p;
	size_t n;

	(void)state;
	sample_auth_req(&in);
	assert_int_equal(kh_auth_req_encode(&in, &p, &n), 0);
	assert_int_equal(kh_auth_req_decode(p, n, &out), 0);
	assert_int_equal(out.vhost, 3);
	assert_int_equal(out.ap_req_len, sizeof(ap_req));
	assert_memory_equal(out.ap_req, ap_req, sizeof(ap_req));
	assert_int_equal(out.has_cb, 1);
	assert_memory_equal(out.cb_hash, in.cb_hash, sizeof(in.cb_hash));
	assert_int_equal(out.mech_list_len, sizeof(mech_list));
	assert_memory_equal(out.mech_list, mech_list, sizeof(mech_list));
	assert_int_equal(out.client_mic_len, sizeof(mic));
	assert_memory_equal(out.client_mic, mic, sizeof(mic));
	free(p);
}

static void
test_auth_request_without_bindings_or_mech_list_decodes_to_none(void **state)
{
	struct kh_auth_req in, out;
	uint8_t *p;
	size_t n;

	(void)state;
	sample_auth_req(&in);
	in.has_cb = 0;
	in.mech_list = NULL;
	in.mech_list_len = 0;
	in.client_mic = NULL;
	in.client_mic_len = 0;
	assert_int_equal(kh_auth_req_encode(&in, &p, &n), 0);
	assert_int_equal(kh_auth_req_decode(p, n, &out), 0);
	assert_int_equal(out.has_cb, 0);
	assert_null(out.mech_list);
	assert_int_equal(out.mech_list_len, 0);
	assert_null(out.client_mic);
	free(p);
}

static void
test_auth_result_round_trips_every_field_including_session(void **state)
{
	struct kh_auth_result in, out;
	uint8_t *p;
	size_t n;

	(void)state;
	sample_auth_result(&in);
	assert_int_equal(kh_auth_result_encode(&in, &p, &n), 0);
	assert_int_equal(kh_auth_result_decode(p, n, &out), 0);
	assert_int_equal(out.status, KH_OK);
	assert_int_equal(out.reason_code, KH_R_NONE);
	assert_string_equal(out.reason, "");
	assert_string_equal(out.principal, "alice@CORP.CONTOSO.COM");
	assert_int_equal(out.endtime, 1893456000);
	assert_int_equal(out.enctype, 18);
	assert_int_equal(out.ap_rep_len, sizeof(ap_rep));
	assert_memory_equal(out.ap_rep, ap_rep, sizeof(ap_rep));
	assert_int_equal(out.mic_len, sizeof(mic));
	assert_memory_equal(out.mic, mic, sizeof(mic));
	assert_true(out.session == 0x8badf00ddeadbeefULL);
	assert_int_equal(out.expiry, 1893450000);
	assert_string_equal(out.cookie, "YWxpY2U.bWFj");
	assert_int_equal(out.ngrants, 2);
	assert_memory_equal(out.grants, in.grants, 2 * sizeof(in.grants[0]));
	free(p);
}

/* The grants are the answer's last item: GRANT_WIRE (52) bytes each. */
#define GRANT_WIRE	52

static void
test_grants_of_a_partial_record_or_too_many_are_refused(void **state)
{
	struct kh_auth_result in, out;
	uint8_t *p;
	size_t n;
	uint32_t len;

	(void)state;
	sample_auth_result(&in);
	assert_int_equal(kh_auth_result_encode(&in, &p, &n), 0);
	/* One byte short of two records, its length item saying so. */
	len = 2 * GRANT_WIRE - 1;
	memcpy(p + n - 2 * GRANT_WIRE - 4, &len, 4);
	assert_int_equal(kh_auth_result_decode(p, n - 1, &out), KG_ERR_PROTO);
	assert_int_equal(out.ngrants, 0);
	free(p);
	in.ngrants = KH_MAX_GRANTS + 1;
	assert_int_not_equal(kh_auth_result_encode(&in, &p, &n), 0);
}

/* Keys for a login that failed would be keys for no one to hold. */
static void
test_refusal_carrying_grants_or_a_cookie_is_refused(void **state)
{
	struct kh_auth_result in, out;
	uint8_t *p;
	size_t n;

	(void)state;
	sample_auth_result(&in);
	in.status = KH_DENIED;
	assert_int_equal(kh_auth_result_encode(&in, &p, &n), 0);
	assert_int_equal(kh_auth_result_decode(p, n, &out), KG_ERR_PROTO);
	free(p);
	in.ngrants = 0;
	assert_int_equal(kh_auth_result_encode(&in, &p, &n), 0);
	assert_int_equal(kh_auth_result_decode(p, n, &out), KG_ERR_PROTO);
	free(p);
	in.cookie[0] = '\0';
	assert_int_equal(kh_auth_result_encode(&in, &p, &n), 0);
	assert_int_equal(kh_auth_result_decode(p, n, &out), 0);
	free(p);
}

static void
test_cookie_request_round_trips(void **state)
{
	struct kh_cookie_req in, out;
	uint8_t *p;
	size_t n;

	(void)state;
	sample_cookie_req(&in);
	assert_int_equal(kh_cookie_req_encode(&in, &p, &n), 0);
	assert_int_equal(kh_cookie_req_decode(p, n, &out), 0);
	assert_int_equal(out.vhost, 2);
	assert_int_equal(out.value_len, in.value_len);
	assert_memory_equal(out.value, in.value, in.value_len);
	assert_true((const uint8_t *)out.value >= p &&
	    (const uint8_t *)out.value + out.value_len <= p + n);
	free(p);
}

/* No cookie, or one longer than any we issue: nothing to ask about. */
static void
test_cookie_request_empty_or_too_long_is_refused(void **state)
{
	static char big[KH_MAX_COOKIE + 2];
	struct kh_cookie_req in, out;
	uint8_t buf[1024];
	uint32_t vhost = 1;
	size_t off;
	uint8_t *p;
	size_t n;

	(void)state;
	memset(big, 'A', sizeof(big) - 1);
	sample_cookie_req(&in);
	in.value_len = 0;
	assert_int_not_equal(kh_cookie_req_encode(&in, &p, &n), 0);
	in.value = big;
	in.value_len = KH_MAX_COOKIE + 1;
	assert_int_not_equal(kh_cookie_req_encode(&in, &p, &n), 0);
	/* Hand-built: tags 70 (vhost) and 71 (value). */
	off = put_item(buf, 0, 70, &vhost, 4);
	off = put_item(buf, off, 71, big, KH_MAX_COOKIE + 1);
	assert_int_equal(kh_cookie_req_decode(buf, off, &out), KG_ERR_PROTO);
	off = put_item(buf, 0, 70, &vhost, 4);
	off = put_item(buf, off, 71, big, 0);
	assert_int_equal(kh_cookie_req_decode(buf, off, &out), KG_ERR_PROTO);
	off = put_item(buf, 0, 70, &vhost, 4);
	off = put_item(buf, off, 71, big, KH_MAX_COOKIE);
	assert_int_equal(kh_cookie_req_decode(buf, off, &out), 0);
}

static void
test_auth_refusal_round_trips_with_reason_and_no_session(void **state)
{
	struct kh_auth_result in, out;
	uint8_t *p;
	size_t n;

	(void)state;
	memset(&in, 0, sizeof(in));
	in.status = KH_DENIED;
	in.reason_code = KH_R_KVNO;
	kg_strlcpy(in.reason, "ticket kvno 7 not in keytab (have 5,6)",
	    sizeof(in.reason));
	assert_int_equal(kh_auth_result_encode(&in, &p, &n), 0);
	assert_int_equal(kh_auth_result_decode(p, n, &out), 0);
	assert_int_equal(out.status, KH_DENIED);
	assert_int_equal(out.reason_code, KH_R_KVNO);
	assert_string_equal(out.reason, in.reason);
	assert_null(out.ap_rep);
	assert_null(out.mic);
	assert_null(out.krb_error);
	assert_true(out.session == 0);
	free(p);
}

static void
test_auth_refusal_carries_the_krb_error_token(void **state)
{
	static const uint8_t kerr[] = { 0x60, 0x05, 0x06, 0x03, 0x03, 0x00, 0x7e };
	struct kh_auth_result in, out;
	uint8_t *p;
	size_t n;

	(void)state;
	memset(&in, 0, sizeof(in));
	in.status = KH_DENIED;
	in.reason_code = KH_R_SKEW;
	kg_strlcpy(in.reason, "clock skew 1000 s", sizeof(in.reason));
	in.krb_error = kerr;
	in.krb_error_len = sizeof(kerr);
	assert_int_equal(kh_auth_result_encode(&in, &p, &n), 0);
	assert_int_equal(kh_auth_result_decode(p, n, &out), 0);
	assert_int_equal(out.krb_error_len, sizeof(kerr));
	assert_memory_equal(out.krb_error, kerr, sizeof(kerr));
	/* Cut inside the optional item: refused. */
	assert_int_equal(kh_auth_result_decode(p, n - 1, &out), KG_ERR_PROTO);
	free(p);
}

static void
test_backend_request_round_trips_with_bindings(void **state)
{
	struct kh_backend_req in, out;
	uint8_t *p;
	size_t n;

	(void)state;
	sample_backend_req(&in);
	assert_int_equal(kh_backend_req_encode(&in, &p, &n), 0);
	assert_int_equal(kh_backend_req_decode(p, n, &out), 0);
	assert_true(out.session == 0xfeedfacecafef00dULL);
	assert_int_equal(out.pool, 2);
	assert_string_equal(out.spn, "http/cas1.corp.contoso.com");
	assert_int_equal(out.cb_len, strlen(cb));
	assert_memory_equal(out.cb, cb, strlen(cb));
	free(p);
}

static void
test_backend_request_without_bindings_decodes_to_null(void **state)
{
	struct kh_backend_req in, out;
	uint8_t *p;
	size_t n;

	(void)state;
	sample_backend_req(&in);
	in.cb = NULL;
	in.cb_len = 0;
	assert_int_equal(kh_backend_req_encode(&in, &p, &n), 0);
	assert_int_equal(kh_backend_req_decode(p, n, &out), 0);
	assert_null(out.cb);
	assert_int_equal(out.cb_len, 0);
	free(p);
}

static void
test_backend_token_round_trips_with_verification_handle(void **state)
{
	struct kh_backend_result in, out;
	uint8_t *p;
	size_t n;

	(void)state;
	sample_backend_result(&in);
	assert_int_equal(kh_backend_result_encode(&in, &p, &n), 0);
	assert_int_equal(kh_backend_result_decode(p, n, &out), 0);
	assert_int_equal(out.status, KH_B_OK);
	assert_string_equal(out.reason, "");
	assert_int_equal(out.token_len, sizeof(ap_req));
	assert_memory_equal(out.token, ap_req, sizeof(ap_req));
	assert_true(out.verify == 0x0123456789abcdefULL);
	free(p);
}

static void
test_backend_refusal_round_trips_with_reason_and_no_token(void **state)
{
	static const enum kh_backend_status st[] = { KH_B_REFUSED,
		KH_B_UNAVAILABLE };
	struct kh_backend_result in, out;
	uint8_t *p;
	size_t n, i;

	(void)state;
	for (i = 0; i < KG_NELEM(st); i++) {
		memset(&in, 0, sizeof(in));
		in.status = st[i];
		kg_strlcpy(in.reason, "KDC_ERR_BADOPTION for http/cas1."
		    "corp.contoso.com: EXCHASA$ may not delegate to it",
		    sizeof(in.reason));
		assert_int_equal(kh_backend_result_encode(&in, &p, &n), 0);
		assert_int_equal(kh_backend_result_decode(p, n, &out), 0);
		assert_int_equal(out.status, st[i]);
		assert_string_equal(out.reason, in.reason);
		assert_null(out.token);
		assert_int_equal(out.token_len, 0);
		assert_true(out.verify == 0);
		free(p);
	}
}

static void
test_verify_request_round_trips(void **state)
{
	struct kh_verify_req in, out;
	uint8_t *p;
	size_t n;

	(void)state;
	sample_verify_req(&in);
	assert_int_equal(kh_verify_req_encode(&in, &p, &n), 0);
	assert_int_equal(kh_verify_req_decode(p, n, &out), 0);
	assert_true(out.verify == 0x0123456789abcdefULL);
	assert_int_equal(out.token_len, sizeof(ap_rep));
	assert_memory_equal(out.token, ap_rep, sizeof(ap_rep));
	free(p);
}

static void
test_verify_request_without_token_decodes_to_null(void **state)
{
	struct kh_verify_req in, out;
	uint8_t *p;
	size_t n;

	(void)state;
	sample_verify_req(&in);
	in.token = NULL;
	in.token_len = 0;
	assert_int_equal(kh_verify_req_encode(&in, &p, &n), 0);
	assert_int_equal(kh_verify_req_decode(p, n, &out), 0);
	assert_null(out.token);
	assert_int_equal(out.token_len, 0);
	free(p);
}

static void
test_verify_results_round_trip_both_verdicts(void **state)
{
	struct kh_verify_result in, out;
	uint8_t *p;
	size_t n;

	(void)state;
	sample_verify_result(&in);
	assert_int_equal(kh_verify_result_encode(&in, &p, &n), 0);
	assert_int_equal(kh_verify_result_decode(p, n, &out), 0);
	assert_int_equal(out.ok, 0);
	assert_string_equal(out.reason, in.reason);
	free(p);

	memset(&in, 0, sizeof(in));
	in.ok = 1;
	assert_int_equal(kh_verify_result_encode(&in, &p, &n), 0);
	assert_int_equal(kh_verify_result_decode(p, n, &out), 0);
	assert_int_equal(out.ok, 1);
	assert_string_equal(out.reason, "");
	free(p);
}

static void
test_longest_strings_that_fit_round_trip(void **state)
{
	struct kh_backend_req br, bro;
	struct kh_backend_result bs, bso;
	struct kh_verify_result vs, vso;
	uint8_t *p;
	size_t n;

	(void)state;
	sample_backend_req(&br);
	memset(br.spn, 'h', sizeof(br.spn) - 1);
	br.spn[sizeof(br.spn) - 1] = '\0';
	assert_int_equal(kh_backend_req_encode(&br, &p, &n), 0);
	assert_int_equal(kh_backend_req_decode(p, n, &bro), 0);
	assert_string_equal(bro.spn, br.spn);
	free(p);

	memset(&bs, 0, sizeof(bs));
	bs.status = KH_B_REFUSED;
	memset(bs.reason, 'r', sizeof(bs.reason) - 1);
	assert_int_equal(kh_backend_result_encode(&bs, &p, &n), 0);
	assert_int_equal(kh_backend_result_decode(p, n, &bso), 0);
	assert_string_equal(bso.reason, bs.reason);
	free(p);

	memset(&vs, 0, sizeof(vs));
	memset(vs.reason, 'v', sizeof(vs.reason) - 1);
	assert_int_equal(kh_verify_result_encode(&vs, &p, &n), 0);
	assert_int_equal(kh_verify_result_decode(p, n, &vso), 0);
	assert_string_equal(vso.reason, vs.reason);
	free(p);
}

/* ----------------------------------------------- truncated and garbled */

static void
test_every_truncation_of_every_frame_is_refused(void **state)
{
	union any_msg m, out;
	struct codec c;
	uint8_t *p;
	size_t n, cut, i;

	(void)state;
	for (i = 0; i < NCODECS; i++) {
		codec_at(i, &c, &m);
		assert_int_equal(c.encode(&m, &p, &n), 0);
		for (cut = 0; cut < n; cut++) {
			uint8_t *t = malloc(cut ? cut : 1);

			assert_non_null(t);
			memcpy(t, p, cut);
			if (c.decode(t, cut, &out) != KG_ERR_PROTO)
				fail_msg("%s cut to %zu of %zu bytes was accepted",
				    c.name, cut, n);
			free(t);
		}
		free(p);
	}
}

static void
test_trailing_bytes_after_any_frame_are_refused(void **state)
{
	union any_msg m, out;
	struct codec c;
	uint8_t *p, *q;
	size_t n, i;

	(void)state;
	for (i = 0; i < NCODECS; i++) {
		codec_at(i, &c, &m);
		assert_int_equal(c.encode(&m, &p, &n), 0);
		assert_non_null(q = malloc(n + 7));
		memcpy(q, p, n);
		put_item(q, n, 99, NULL, 0);
		if (c.decode(q, n + 6, &out) != KG_ERR_PROTO ||
		    c.decode(q, n + 1, &out) != KG_ERR_PROTO)
			fail_msg("%s with trailing bytes was accepted", c.name);
		free(q);
		free(p);
	}
}

/* Flipping any one byte of a tag or length header makes the frame invalid
 * (values themselves may legitimately take any byte). */
static void
test_garbled_item_header_in_any_frame_is_refused(void **state)
{
	union any_msg m, out;
	struct codec c;
	uint8_t *p;
	size_t n, off, k, i;
	uint32_t len;

	(void)state;
	for (i = 0; i < NCODECS; i++) {
		codec_at(i, &c, &m);
		assert_int_equal(c.encode(&m, &p, &n), 0);
		for (off = 0; off < n; off += KG_TLV_HDR_LEN + len) {
			memcpy(&len, p + off + 2, 4);
			for (k = 0; k < KG_TLV_HDR_LEN; k++) {
				p[off + k] ^= 0x40;
				if (c.decode(p, n, &out) != KG_ERR_PROTO)
					fail_msg("%s with header byte %zu of the "
					    "item at %zu garbled was accepted",
					    c.name, k, off);
				p[off + k] ^= 0x40;
			}
		}
		assert_int_equal(c.decode(p, n, &out), 0);
		free(p);
	}
}

static void
test_empty_payload_is_refused_for_every_frame(void **state)
{
	union any_msg m, out;
	struct codec c;
	size_t i;

	(void)state;
	for (i = 0; i < NCODECS; i++) {
		codec_at(i, &c, &m);
		assert_int_equal(c.decode(NULL, 0, &out), KG_ERR_PROTO);
	}
}

static void
test_frame_of_one_type_does_not_decode_as_another(void **state)
{
	union any_msg m, out;
	struct codec a, b;
	uint8_t *p;
	size_t n, i, j;

	(void)state;
	for (i = 0; i < NCODECS; i++) {
		codec_at(i, &a, &m);
		assert_int_equal(a.encode(&m, &p, &n), 0);
		for (j = 0; j < NCODECS; j++) {
			if (j == i)
				continue;
			codec_at(j, &b, &out);
			if (b.decode(p, n, &out) != KG_ERR_PROTO)
				fail_msg("a %s decoded as a %s", a.name, b.name);
		}
		free(p);
	}
}

static void
test_auth_result_without_session_item_is_refused(void **state)
{
	struct kh_auth_result in, out;
	uint8_t *p;
	size_t n;

	(void)state;
	sample_auth_result(&in);
	assert_int_equal(kh_auth_result_encode(&in, &p, &n), 0);
	/* Cut into the last items (session, expiry, cookie, grants): short. */
	assert_int_equal(kh_auth_result_decode(p, n - 14, &out), KG_ERR_PROTO);
	free(p);
}

static void
test_auth_result_with_unknown_status_or_reason_is_refused(void **state)
{
	struct kh_auth_result in, out;
	uint8_t *p;
	size_t n;

	(void)state;
	sample_auth_result(&in);
	in.status = (enum kh_status)(KH_UNAVAILABLE + 1);
	assert_int_equal(kh_auth_result_encode(&in, &p, &n), 0);
	assert_int_equal(kh_auth_result_decode(p, n, &out), KG_ERR_PROTO);
	free(p);
	sample_auth_result(&in);
	in.reason_code = KH_R_MAX;
	assert_int_equal(kh_auth_result_encode(&in, &p, &n), 0);
	assert_int_equal(kh_auth_result_decode(p, n, &out), KG_ERR_PROTO);
	free(p);
}

static void
test_replay_cache_full_travels_as_unavailable_with_its_label(void **state)
{
	struct kh_auth_result in, out;
	uint8_t *p;
	size_t n;

	(void)state;
	memset(&in, 0, sizeof(in));
	in.status = KH_UNAVAILABLE;
	in.reason_code = KH_R_REPLAY_CACHE_FULL;
	kg_strlcpy(in.reason, "replay cache full", sizeof(in.reason));
	assert_int_equal(kh_auth_result_encode(&in, &p, &n), 0);
	assert_int_equal(kh_auth_result_decode(p, n, &out), 0);
	assert_int_equal(out.status, KH_UNAVAILABLE);
	assert_int_equal(out.reason_code, KH_R_REPLAY_CACHE_FULL);
	assert_string_equal(out.reason, "replay cache full");
	assert_string_equal(kh_reason_label(out.reason_code), "replay_cache_full");
	free(p);
}

static void
test_replay_quota_travels_as_unavailable_with_its_own_label(void **state)
{
	struct kh_auth_result in, out;
	uint8_t *p;
	size_t n;

	(void)state;
	memset(&in, 0, sizeof(in));
	in.status = KH_UNAVAILABLE;
	in.reason_code = KH_R_REPLAY_QUOTA;
	kg_strlcpy(in.reason, "too many authentications by alice@EXAMPLE.COM",
	    sizeof(in.reason));
	assert_int_equal(kh_auth_result_encode(&in, &p, &n), 0);
	assert_int_equal(kh_auth_result_decode(p, n, &out), 0);
	assert_int_equal(out.status, KH_UNAVAILABLE);
	assert_int_equal(out.reason_code, KH_R_REPLAY_QUOTA);
	assert_string_equal(kh_reason_label(out.reason_code), "replay_quota");
	free(p);
}

static void
test_backend_result_with_unknown_status_is_refused(void **state)
{
	struct kh_backend_result in, out;
	uint8_t *p;
	size_t n;

	(void)state;
	memset(&in, 0, sizeof(in));
	in.status = (enum kh_backend_status)(KH_B_UNAVAILABLE + 1);
	assert_int_equal(kh_backend_result_encode(&in, &p, &n), 0);
	assert_int_equal(kh_backend_result_decode(p, n, &out), KG_ERR_PROTO);
	free(p);
}

static void
test_backend_success_without_token_is_refused(void **state)
{
	struct kh_backend_result in, out;
	uint8_t *p;
	size_t n;

	(void)state;
	sample_backend_result(&in);
	in.token = NULL;
	in.token_len = 0;
	assert_int_equal(kh_backend_result_encode(&in, &p, &n), 0);
	assert_int_equal(kh_backend_result_decode(p, n, &out), KG_ERR_PROTO);
	free(p);
}

static void
test_backend_refusal_carrying_token_or_handle_is_refused(void **state)
{
	struct kh_backend_result in, out;
	uint8_t *p;
	size_t n;

	(void)state;
	sample_backend_result(&in);
	in.status = KH_B_REFUSED;
	assert_int_equal(kh_backend_result_encode(&in, &p, &n), 0);
	assert_int_equal(kh_backend_result_decode(p, n, &out), KG_ERR_PROTO);
	free(p);
	memset(&in, 0, sizeof(in));
	in.status = KH_B_UNAVAILABLE;
	in.verify = 42;
	assert_int_equal(kh_backend_result_encode(&in, &p, &n), 0);
	assert_int_equal(kh_backend_result_decode(p, n, &out), KG_ERR_PROTO);
	free(p);
}

static void
test_verify_result_other_than_zero_or_one_is_refused(void **state)
{
	struct kh_verify_result in, out;
	uint8_t *p;
	size_t n;

	(void)state;
	memset(&in, 0, sizeof(in));
	in.ok = 2;
	assert_int_equal(kh_verify_result_encode(&in, &p, &n), 0);
	assert_int_equal(kh_verify_result_decode(p, n, &out), KG_ERR_PROTO);
	free(p);
}

static void
test_integer_of_wrong_width_is_refused(void **state)
{
	uint8_t p[64];
	struct kh_verify_req out;
	uint32_t narrow = 7;
	size_t n;

	(void)state;
	/* A verification handle sent as 4 bytes instead of 8. */
	n = put_item(p, 0, 50, &narrow, sizeof(narrow));
	n = put_item(p, n, 51, ap_rep, sizeof(ap_rep));
	assert_int_equal(kh_verify_req_decode(p, n, &out), KG_ERR_PROTO);
}

static void
test_string_with_embedded_nul_is_refused(void **state)
{
	struct kh_backend_req in, out;
	uint8_t *p;
	size_t n, at;

	(void)state;
	sample_backend_req(&in);
	assert_int_equal(kh_backend_req_encode(&in, &p, &n), 0);
	/* session (6 + 8), pool (6 + 4), the SPN's header, then "http/...":
	 * its third character becomes a NUL. */
	at = 14 + 10 + KG_TLV_HDR_LEN + 2;
	assert_int_equal(p[at], 't');
	p[at] = '\0';
	assert_int_equal(kh_backend_req_decode(p, n, &out), KG_ERR_PROTO);
	free(p);
}

/* ------------------------------------------------------------ oversized */

static void
test_oversized_spn_is_refused(void **state)
{
	uint8_t *p;
	char spn[257];
	struct kh_backend_req out;
	uint64_t session = 1;
	uint32_t pool = 0;
	size_t n;

	(void)state;
	memset(spn, 's', sizeof(spn));
	assert_non_null(p = malloc(512));
	n = put_item(p, 0, 30, &session, sizeof(session));
	n = put_item(p, n, 31, &pool, sizeof(pool));
	n = put_item(p, n, 32, spn, 256);	/* no room for the NUL */
	n = put_item(p, n, 33, NULL, 0);
	assert_int_equal(kh_backend_req_decode(p, n, &out), KG_ERR_PROTO);
	assert_string_equal(out.spn, "");
	free(p);
}

static void
test_oversized_reasons_are_refused(void **state)
{
	uint8_t *p;
	char reason[513];
	struct kh_backend_result bout;
	struct kh_verify_result vout;
	uint32_t status = KH_B_REFUSED, ok = 0;
	uint64_t verify = 0;
	size_t n;

	(void)state;
	memset(reason, 'r', sizeof(reason));
	assert_non_null(p = malloc(1024));
	n = put_item(p, 0, 40, &status, sizeof(status));
	n = put_item(p, n, 41, reason, 512);
	n = put_item(p, n, 42, NULL, 0);
	n = put_item(p, n, 43, &verify, sizeof(verify));
	assert_int_equal(kh_backend_result_decode(p, n, &bout), KG_ERR_PROTO);

	n = put_item(p, 0, 60, &ok, sizeof(ok));
	n = put_item(p, n, 61, reason, 256);
	assert_int_equal(kh_verify_result_decode(p, n, &vout), KG_ERR_PROTO);
	free(p);
}

static void
test_oversized_channel_bindings_are_refused_both_ways(void **state)
{
	static uint8_t big[257];
	struct kh_backend_req in, out;
	uint8_t *p;
	size_t n;

	(void)state;
	sample_backend_req(&in);
	in.cb = big;
	in.cb_len = sizeof(big);
	assert_int_equal(kh_backend_req_encode(&in, &p, &n), KG_ERR_TOOBIG);

	in.cb_len = sizeof(big) - 1;
	assert_int_equal(kh_backend_req_encode(&in, &p, &n), 0);
	assert_int_equal(kh_backend_req_decode(p, n, &out), 0);
	free(p);

	assert_non_null(p = malloc(1024));
	n = put_item(p, 0, 30, &in.session, sizeof(in.session));
	n = put_item(p, n, 31, &in.pool, sizeof(in.pool));
	n = put_item(p, n, 32, in.spn, (uint32_t)strlen(in.spn));
	n = put_item(p, n, 33, big, sizeof(big));
	assert_int_equal(kh_backend_req_decode(p, n, &out), KG_ERR_PROTO);
	assert_null(out.cb);
	free(p);
}

static void
test_unterminated_strings_are_not_encoded(void **state)
{
	struct kh_backend_req br;
	struct kh_backend_result bs;
	struct kh_verify_result vs;
	uint8_t *p = NULL;
	size_t n;

	(void)state;
	sample_backend_req(&br);
	memset(br.spn, 'h', sizeof(br.spn));
	assert_int_equal(kh_backend_req_encode(&br, &p, &n), KG_ERR_TOOBIG);
	memset(&bs, 0, sizeof(bs));
	bs.status = KH_B_REFUSED;
	memset(bs.reason, 'r', sizeof(bs.reason));
	assert_int_equal(kh_backend_result_encode(&bs, &p, &n), KG_ERR_TOOBIG);
	memset(&vs, 0, sizeof(vs));
	memset(vs.reason, 'v', sizeof(vs.reason));
	assert_int_equal(kh_verify_result_encode(&vs, &p, &n), KG_ERR_TOOBIG);
	assert_null(p);
}

static void
test_token_over_the_ipc_maximum_is_not_encoded(void **state)
{
	struct kh_backend_result in;
	struct kh_verify_req vin;
	uint8_t *big, *p = NULL;
	size_t n;

	(void)state;
	assert_non_null(big = calloc(1, KG_IPC_MAX_PAYLOAD));
	sample_backend_result(&in);
	in.token = big;
	in.token_len = KG_IPC_MAX_PAYLOAD;
	assert_int_equal(kh_backend_result_encode(&in, &p, &n), KG_ERR_TOOBIG);
	sample_verify_req(&vin);
	vin.token = big;
	vin.token_len = KG_IPC_MAX_PAYLOAD;
	assert_int_equal(kh_verify_req_encode(&vin, &p, &n), KG_ERR_TOOBIG);
	assert_null(p);
	free(big);
}

static void
test_failed_decode_leaves_no_pointer_behind(void **state)
{
	struct kh_backend_req in, out;
	uint8_t *p;
	size_t n;

	(void)state;
	sample_backend_req(&in);
	assert_int_equal(kh_backend_req_encode(&in, &p, &n), 0);
	assert_int_equal(kh_backend_req_decode(p, n - 1, &out), KG_ERR_PROTO);
	assert_null(out.cb);
	assert_true(out.session == 0);
	free(p);
}

static void
test_reason_labels_cover_every_code_and_unknown(void **state)
{
	int r;

	(void)state;
	for (r = 0; r < KH_R_MAX; r++)
		assert_non_null(kh_reason_label((enum kh_reason)r));
	assert_string_equal(kh_reason_label(KH_R_KVNO), "kvno_not_in_keytab");
	assert_string_equal(kh_reason_label(KH_R_MAX), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auth_request_round_trips_with_bindings_and_mech_list),
		cmocka_unit_test(test_auth_request_without_bindings_or_mech_list_decodes_to_none),
		cmocka_unit_test(test_auth_result_round_trips_every_field_including_session),
		cmocka_unit_test(test_auth_refusal_carries_the_krb_error_token),
		cmocka_unit_test(test_grants_of_a_partial_record_or_too_many_are_refused),
		cmocka_unit_test(test_refusal_carrying_grants_or_a_cookie_is_refused),
		cmocka_unit_test(test_cookie_request_round_trips),
		cmocka_unit_test(test_cookie_request_empty_or_too_long_is_refused),
		cmocka_unit_test(test_auth_refusal_round_trips_with_reason_and_no_session),
		cmocka_unit_test(test_backend_request_round_trips_with_bindings),
		cmocka_unit_test(test_backend_request_without_bindings_decodes_to_null),
		cmocka_unit_test(test_backend_token_round_trips_with_verification_handle),
		cmocka_unit_test(test_backend_refusal_round_trips_with_reason_and_no_token),
		cmocka_unit_test(test_verify_request_round_trips),
		cmocka_unit_test(test_verify_request_without_token_decodes_to_null),
		cmocka_unit_test(test_verify_results_round_trip_both_verdicts),
		cmocka_unit_test(test_longest_strings_that_fit_round_trip),
		cmocka_unit_test(test_every_truncation_of_every_frame_is_refused),
		cmocka_unit_test(test_trailing_bytes_after_any_frame_are_refused),
		cmocka_unit_test(test_garbled_item_header_in_any_frame_is_refused),
		cmocka_unit_test(test_empty_payload_is_refused_for_every_frame),
		cmocka_unit_test(test_frame_of_one_type_does_not_decode_as_another),
		cmocka_unit_test(test_auth_result_without_session_item_is_refused),
		cmocka_unit_test(test_auth_result_with_unknown_status_or_reason_is_refused),
		cmocka_unit_test(test_backend_result_with_unknown_status_is_refused),
		cmocka_unit_test(test_backend_success_without_token_is_refused),
		cmocka_unit_test(test_backend_refusal_carrying_token_or_handle_is_refused),
		cmocka_unit_test(test_verify_result_other_than_zero_or_one_is_refused),
		cmocka_unit_test(test_integer_of_wrong_width_is_refused),
		cmocka_unit_test(test_string_with_embedded_nul_is_refused),
		cmocka_unit_test(test_oversized_spn_is_refused),
		cmocka_unit_test(test_oversized_reasons_are_refused),
		cmocka_unit_test(test_oversized_channel_bindings_are_refused_both_ways),
		cmocka_unit_test(test_unterminated_strings_are_not_encoded),
		cmocka_unit_test(test_token_over_the_ipc_maximum_is_not_encoded),
		cmocka_unit_test(test_failed_decode_leaves_no_pointer_behind),
		cmocka_unit_test(test_reason_labels_cover_every_code_and_unknown),
		cmocka_unit_test(test_replay_cache_full_travels_as_unavailable_with_its_label),
		cmocka_unit_test(test_replay_quota_travels_as_unavailable_with_its_own_label),
	};

	return cmocka_run_group_tests_name("khproto", tests, NULL, NULL);
}
