/*
 * Relay <-> keyholder messages, TLV-encoded.
 */
#include <stdlib.h>
#include <string.h>

#include "khproto.h"
#include "tlv.h"
#include "util.h"

enum {
	T_VHOST = 1, T_AP_REQ, T_CB, T_MECH_LIST, T_CLIENT_MIC,
	T_STATUS = 10, T_REASON_CODE, T_REASON, T_PRINCIPAL, T_ENDTIME,
	T_ENCTYPE, T_AP_REP, T_MIC, T_SESSION, T_EXPIRY, T_COOKIE, T_GRANTS,
	/* KH_MSG_BACKEND, KH_MSG_BACKEND_RESULT */
	T_B_SESSION = 30, T_B_POOL, T_B_SPN, T_B_CB,
	T_B_STATUS = 40, T_B_REASON, T_B_TOKEN, T_B_VERIFY,
	/* KH_MSG_VERIFY, KH_MSG_VERIFY_RESULT */
	T_V_HANDLE = 50, T_V_TOKEN,
	T_V_OK = 60, T_V_REASON,
	T_KRB_ERROR = 90,	/* optional, last item of an auth result */
	/* KH_MSG_COOKIE */
	T_C_VHOST = 70, T_C_VALUE,
};

/* One grant on the wire: pool (u32, big-endian), id, key. */
#define GRANT_WIRE	(4 + 16 + 32)

/*
 * Channel-binding application data is "tls-server-end-point:" and a
 * certificate hash (RFC 5929): under 100 bytes.  Anything far longer is
 * not bindings.
 */
#define KH_MAX_CB_LEN	256

static const char *const reason_labels[KH_R_MAX] = {
	[KH_R_NONE] = "none",
	[KH_R_KVNO] = "kvno_not_in_keytab",
	[KH_R_KEY] = "wrong_key",
	[KH_R_SKEW] = "clock_skew",
	[KH_R_REPLAY] = "replay",
	[KH_R_SPN] = "spn_not_served",
	[KH_R_ENCTYPE] = "enctype_disabled",
	[KH_R_EXPIRED] = "ticket_expired",
	[KH_R_CHANNEL_BINDING] = "channel_binding",
	[KH_R_MALFORMED] = "malformed_token",
	[KH_R_INTERNAL] = "internal",
	[KH_R_REPLAY_CACHE_FULL] = "replay_cache_full",
	[KH_R_REPLAY_QUOTA] = "replay_quota",
};

const char *
kh_reason_label(enum kh_reason r)
{
	return (unsigned)r < KH_R_MAX ? reason_labels[r] : "unknown";
}

int
kh_auth_req_encode(const struct kh_auth_req *req, uint8_t **out,
    size_t *outlen)
{
	struct kg_tlv_writer w;

	kg_tlv_writer_init(&w);
	kg_tlv_put_u32(&w, T_VHOST, req->vhost);
	kg_tlv_put_bytes(&w, T_AP_REQ, req->ap_req, req->ap_req_len);
	kg_tlv_put_bytes(&w, T_CB, req->cb_hash, req->has_cb ? 16 : 0);
	kg_tlv_put_bytes(&w, T_MECH_LIST, req->mech_list, req->mech_list_len);
	kg_tlv_put_bytes(&w, T_CLIENT_MIC, req->client_mic, req->client_mic_len);
	return kg_tlv_writer_take(&w, out, outlen);
}

int
kh_auth_req_decode(const uint8_t *p, size_t n, struct kh_auth_req *req)
{
	struct kg_tlv_reader r;
	const uint8_t *cb;
	size_t cblen;

	memset(req, 0, sizeof(*req));
	kg_tlv_reader_init(&r, p, n);
	if (kg_tlv_get_u32(&r, T_VHOST, &req->vhost) < 0 ||
	    kg_tlv_get_bytes(&r, T_AP_REQ, &req->ap_req, &req->ap_req_len) < 0 ||
	    kg_tlv_get_bytes(&r, T_CB, &cb, &cblen) < 0 ||
	    kg_tlv_get_bytes(&r, T_MECH_LIST, &req->mech_list,
	    &req->mech_list_len) < 0 ||
	    kg_tlv_get_bytes(&r, T_CLIENT_MIC, &req->client_mic,
	    &req->client_mic_len) < 0 ||
	    kg_tlv_end(&r) < 0 || (cblen != 0 && cblen != 16))
		return KG_ERR_PROTO;
	if (req->mech_list_len == 0)
		req->mech_list = NULL;
	if (req->client_mic_len == 0)
		req->client_mic = NULL;
	if (cblen == 16) {
		req->has_cb = 1;
		memcpy(req->cb_hash, cb, 16);
	}
	return 0;
}

/* The grants as one field of GRANT_WIRE records, wiped after. */
static int
put_grants(struct kg_tlv_writer *w, const struct kh_auth_result *res)
{
	uint8_t buf[KH_MAX_GRANTS * GRANT_WIRE], *p = buf;
	size_t i;

	if (res->ngrants > KH_MAX_GRANTS)
		return KG_ERR_TOOBIG;
	for (i = 0; i < res->ngrants; i++, p += GRANT_WIRE) {
		p[0] = (uint8_t)(res->grants[i].pool >> 24);
		p[1] = (uint8_t)(res->grants[i].pool >> 16);
		p[2] = (uint8_t)(res->grants[i].pool >> 8);
		p[3] = (uint8_t)res->grants[i].pool;
		memcpy(p + 4, res->grants[i].id, 16);
		memcpy(p + 20, res->grants[i].key, 32);
	}
	kg_tlv_put_bytes(w, T_GRANTS, buf, (size_t)(p - buf));
	kg_zero(buf, sizeof(buf));
	return 0;
}

static int
get_grants(const uint8_t *p, size_t n, struct kh_auth_result *res)
{
	size_t i;

	if (n % GRANT_WIRE != 0 || n / GRANT_WIRE > KH_MAX_GRANTS)
		return -1;
	res->ngrants = n / GRANT_WIRE;
	for (i = 0; i < res->ngrants; i++, p += GRANT_WIRE) {
		res->grants[i].pool = (uint32_t)p[0] << 24 |
		    (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		memcpy(res->grants[i].id, p + 4, 16);
		memcpy(res->grants[i].key, p + 20, 32);
	}
	return 0;
}

int
kh_auth_result_encode(const struct kh_auth_result *res, uint8_t **out,
    size_t *outlen)
{
	struct kg_tlv_writer w;
	int rc;

	kg_tlv_writer_init(&w);
	kg_tlv_put_u32(&w, T_STATUS, (uint32_t)res->status);
	kg_tlv_put_u32(&w, T_REASON_CODE, (uint32_t)res->reason_code);
	kg_tlv_put_string(&w, T_REASON, res->reason);
	kg_tlv_put_string(&w, T_PRINCIPAL, res->principal);
	kg_tlv_put_u64(&w, T_ENDTIME, res->endtime);
	kg_tlv_put_u32(&w, T_ENCTYPE, (uint32_t)res->enctype);
	kg_tlv_put_bytes(&w, T_AP_REP, res->ap_rep, res->ap_rep_len);
	kg_tlv_put_bytes(&w, T_MIC, res->mic, res->mic_len);
	kg_tlv_put_u64(&w, T_SESSION, res->session);
	kg_tlv_put_u64(&w, T_EXPIRY, res->expiry);
	kg_tlv_put_string(&w, T_COOKIE, res->cookie);
	rc = put_grants(&w, res);
	if (rc < 0) {
		kg_tlv_writer_free(&w);
		return rc;
	}
	if (res->krb_error_len > 0)
		kg_tlv_put_bytes(&w, T_KRB_ERROR, res->krb_error, res->krb_error_len);
	return kg_tlv_writer_take(&w, out, outlen);
}

int
kh_auth_result_decode(const uint8_t *p, size_t n, struct kh_auth_result *res)
{
	struct kg_tlv_reader r;
	uint32_t status, code, enctype;
	const uint8_t *grants;
	size_t glen;

	memset(res, 0, sizeof(*res));
	kg_tlv_reader_init(&r, p, n);
	if (kg_tlv_get_u32(&r, T_STATUS, &status) < 0 ||
	    kg_tlv_get_u32(&r, T_REASON_CODE, &code) < 0 ||
	    kg_tlv_get_string(&r, T_REASON, res->reason,
	    sizeof(res->reason)) < 0 ||
	    kg_tlv_get_string(&r, T_PRINCIPAL, res->principal,
	    sizeof(res->principal)) < 0 ||
	    kg_tlv_get_u64(&r, T_ENDTIME, &res->endtime) < 0 ||
	    kg_tlv_get_u32(&r, T_ENCTYPE, &enctype) < 0 ||
	    kg_tlv_get_bytes(&r, T_AP_REP, &res->ap_rep, &res->ap_rep_len) < 0 ||
	    kg_tlv_get_bytes(&r, T_MIC, &res->mic, &res->mic_len) < 0 ||
	    kg_tlv_get_u64(&r, T_SESSION, &res->session) < 0 ||
	    kg_tlv_get_u64(&r, T_EXPIRY, &res->expiry) < 0 ||
	    kg_tlv_get_string(&r, T_COOKIE, res->cookie,
	    sizeof(res->cookie)) < 0 ||
	    kg_tlv_get_bytes(&r, T_GRANTS, &grants, &glen) < 0 ||
	    (kg_tlv_peek(&r) == T_KRB_ERROR && kg_tlv_get_bytes(&r, T_KRB_ERROR,
	    &res->krb_error, &res->krb_error_len) < 0) ||
	    kg_tlv_end(&r) < 0 || get_grants(grants, glen, res) < 0 ||
	    status > KH_UNAVAILABLE || code >= KH_R_MAX ||
	    (status != KH_OK && (res->ngrants > 0 || res->cookie[0] != '\0'))) {
		kg_zero(res, sizeof(*res));
		return KG_ERR_PROTO;
	}
	res->status = (enum kh_status)status;
	res->reason_code = (enum kh_reason)code;
	res->enctype = (int32_t)enctype;
	if (res->ap_rep_len == 0)
		res->ap_rep = NULL;
	if (res->mic_len == 0)
		res->mic = NULL;
	return 0;
}

int
kh_backend_req_encode(const struct kh_backend_req *req, uint8_t **out,
    size_t *outlen)
{
	struct kg_tlv_writer w;

	if (memchr(req->spn, '\0', sizeof(req->spn)) == NULL ||
	    req->cb_len > KH_MAX_CB_LEN)
		return KG_ERR_TOOBIG;
	kg_tlv_writer_init(&w);
	kg_tlv_put_u64(&w, T_B_SESSION, req->session);
	kg_tlv_put_u32(&w, T_B_POOL, req->pool);
	kg_tlv_put_string(&w, T_B_SPN, req->spn);
	kg_tlv_put_bytes(&w, T_B_CB, req->cb, req->cb_len);
	return kg_tlv_writer_take(&w, out, outlen);
}

int
kh_backend_req_decode(const uint8_t *p, size_t n, struct kh_backend_req *req)
{
	struct kg_tlv_reader r;

	memset(req, 0, sizeof(*req));
	kg_tlv_reader_init(&r, p, n);
	if (kg_tlv_get_u64(&r, T_B_SESSION, &req->session) < 0 ||
	    kg_tlv_get_u32(&r, T_B_POOL, &req->pool) < 0 ||
	    kg_tlv_get_string(&r, T_B_SPN, req->spn, sizeof(req->spn)) < 0 ||
	    kg_tlv_get_bytes(&r, T_B_CB, &req->cb, &req->cb_len) < 0 ||
	    kg_tlv_end(&r) < 0 || req->cb_len > KH_MAX_CB_LEN) {
		memset(req, 0, sizeof(*req));
		return KG_ERR_PROTO;
	}
	if (req->cb_len == 0)
		req->cb = NULL;
	return 0;
}

int
kh_backend_result_encode(const struct kh_backend_result *res, uint8_t **out,
    size_t *outlen)
{
	struct kg_tlv_writer w;

	if (memchr(res->reason, '\0', sizeof(res->reason)) == NULL)
		return KG_ERR_TOOBIG;
	kg_tlv_writer_init(&w);
	kg_tlv_put_u32(&w, T_B_STATUS, (uint32_t)res->status);
	kg_tlv_put_string(&w, T_B_REASON, res->reason);
	kg_tlv_put_bytes(&w, T_B_TOKEN, res->token, res->token_len);
	kg_tlv_put_u64(&w, T_B_VERIFY, res->verify);
	return kg_tlv_writer_take(&w, out, outlen);
}

/*
 * Besides the syntax: a token comes with KH_B_OK and only with it, and a
 * verification handle only with a token.
 */
int
kh_backend_result_decode(const uint8_t *p, size_t n,
    struct kh_backend_result *res)
{
	struct kg_tlv_reader r;
	uint32_t status;

	memset(res, 0, sizeof(*res));
	kg_tlv_reader_init(&r, p, n);
	if (kg_tlv_get_u32(&r, T_B_STATUS, &status) < 0 ||
	    kg_tlv_get_string(&r, T_B_REASON, res->reason,
	    sizeof(res->reason)) < 0 ||
	    kg_tlv_get_bytes(&r, T_B_TOKEN, &res->token, &res->token_len) < 0 ||
	    kg_tlv_get_u64(&r, T_B_VERIFY, &res->verify) < 0 ||
	    kg_tlv_end(&r) < 0 || status > KH_B_UNAVAILABLE ||
	    (status == KH_B_OK) != (res->token_len > 0) ||
	    (status != KH_B_OK && res->verify != 0)) {
		memset(res, 0, sizeof(*res));
		return KG_ERR_PROTO;
	}
	res->status = (enum kh_backend_status)status;
	if (res->token_len == 0)
		res->token = NULL;
	return 0;
}

int
kh_verify_req_encode(const struct kh_verify_req *req, uint8_t **out,
    size_t *outlen)
{
	struct kg_tlv_writer w;

	kg_tlv_writer_init(&w);
	kg_tlv_put_u64(&w, T_V_HANDLE, req->verify);
	kg_tlv_put_bytes(&w, T_V_TOKEN, req->token, req->token_len);
	return kg_tlv_writer_take(&w, out, outlen);
}

int
kh_verify_req_decode(const uint8_t *p, size_t n, struct kh_verify_req *req)
{
	struct kg_tlv_reader r;

	memset(req, 0, sizeof(*req));
	kg_tlv_reader_init(&r, p, n);
	if (kg_tlv_get_u64(&r, T_V_HANDLE, &req->verify) < 0 ||
	    kg_tlv_get_bytes(&r, T_V_TOKEN, &req->token, &req->token_len) < 0 ||
	    kg_tlv_end(&r) < 0) {
		memset(req, 0, sizeof(*req));
		return KG_ERR_PROTO;
	}
	if (req->token_len == 0)
		req->token = NULL;
	return 0;
}

int
kh_verify_result_encode(const struct kh_verify_result *res, uint8_t **out,
    size_t *outlen)
{
	struct kg_tlv_writer w;

	if (memchr(res->reason, '\0', sizeof(res->reason)) == NULL)
		return KG_ERR_TOOBIG;
	kg_tlv_writer_init(&w);
	kg_tlv_put_u32(&w, T_V_OK, res->ok);
	kg_tlv_put_string(&w, T_V_REASON, res->reason);
	return kg_tlv_writer_take(&w, out, outlen);
}

int
kh_verify_result_decode(const uint8_t *p, size_t n,
    struct kh_verify_result *res)
{
	struct kg_tlv_reader r;

	memset(res, 0, sizeof(*res));
	kg_tlv_reader_init(&r, p, n);
	if (kg_tlv_get_u32(&r, T_V_OK, &res->ok) < 0 ||
	    kg_tlv_get_string(&r, T_V_REASON, res->reason,
	    sizeof(res->reason)) < 0 ||
	    kg_tlv_end(&r) < 0 || res->ok > 1) {
		memset(res, 0, sizeof(*res));
		return KG_ERR_PROTO;
	}
	return 0;
}

int
kh_cookie_req_encode(const struct kh_cookie_req *req, uint8_t **out,
    size_t *outlen)
{
	struct kg_tlv_writer w;

	if (req->value_len == 0 || req->value_len > KH_MAX_COOKIE)
		return KG_ERR_TOOBIG;
	kg_tlv_writer_init(&w);
	kg_tlv_put_u32(&w, T_C_VHOST, req->vhost);
	kg_tlv_put_bytes(&w, T_C_VALUE, req->value, req->value_len);
	return kg_tlv_writer_take(&w, out, outlen);
}

int
kh_cookie_req_decode(const uint8_t *p, size_t n, struct kh_cookie_req *req)
{
	struct kg_tlv_reader r;
	const uint8_t *v;

	memset(req, 0, sizeof(*req));
	kg_tlv_reader_init(&r, p, n);
	if (kg_tlv_get_u32(&r, T_C_VHOST, &req->vhost) < 0 ||
	    kg_tlv_get_bytes(&r, T_C_VALUE, &v, &req->value_len) < 0 ||
	    kg_tlv_end(&r) < 0 || req->value_len == 0 ||
	    req->value_len > KH_MAX_COOKIE) {
		memset(req, 0, sizeof(*req));
		return KG_ERR_PROTO;
	}
	req->value = (const char *)v;
	return 0;
}
