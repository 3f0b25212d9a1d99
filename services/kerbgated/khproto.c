/*
 * Relay <-> keyholder messages, TLV-encoded.
 */
#include <stdlib.h>
#include <string.h>

#include "khproto.h"
#include "tlv.h"
#include "util.h"

enum {
	T_VHOST = 1, T_AP_REQ, T_CB, T_MECH_LIST,
	T_STATUS = 10, T_REASON_CODE, T_REASON, T_PRINCIPAL, T_ENDTIME,
	T_ENCTYPE, T_AP_REP, T_MIC,
};

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
};

const char *
kh_reason_label(enum kh_reason r)
{
	return (unsigned)r < KH_R_MAX ? reason_labels[r] : "unknown";
}

/* Copies a finished writer's bytes out so the caller owns a plain buffer. */
static int
finish(struct kg_tlv_writer *w, uint8_t **out, size_t *outlen)
{
	const uint8_t *p;
	size_t n;
	int rc;

	if ((rc = kg_tlv_writer_data(w, &p, &n)) < 0) {
		kg_tlv_writer_free(w);
		return rc;
	}
	if ((*out = malloc(n ? n : 1)) == NULL) {
		kg_tlv_writer_free(w);
		return KG_ERR_NOMEM;
	}
	memcpy(*out, p, n);
	*outlen = n;
	kg_tlv_writer_free(w);
	return 0;
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
	return finish(&w, out, outlen);
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
	    kg_tlv_end(&r) < 0 || (cblen != 0 && cblen != 16))
		return KG_ERR_PROTO;
	if (req->mech_list_len == 0)
		req->mech_list = NULL;
	if (cblen == 16) {
		req->has_cb = 1;
		memcpy(req->cb_hash, cb, 16);
	}
	return 0;
}

int
kh_auth_result_encode(const struct kh_auth_result *res, uint8_t **out,
    size_t *outlen)
{
	struct kg_tlv_writer w;

	kg_tlv_writer_init(&w);
	kg_tlv_put_u32(&w, T_STATUS, (uint32_t)res->status);
	kg_tlv_put_u32(&w, T_REASON_CODE, (uint32_t)res->reason_code);
	kg_tlv_put_string(&w, T_REASON, res->reason);
	kg_tlv_put_string(&w, T_PRINCIPAL, res->principal);
	kg_tlv_put_u64(&w, T_ENDTIME, res->endtime);
	kg_tlv_put_u32(&w, T_ENCTYPE, (uint32_t)res->enctype);
	kg_tlv_put_bytes(&w, T_AP_REP, res->ap_rep, res->ap_rep_len);
	kg_tlv_put_bytes(&w, T_MIC, res->mic, res->mic_len);
	return finish(&w, out, outlen);
}

int
kh_auth_result_decode(const uint8_t *p, size_t n, struct kh_auth_result *res)
{
	struct kg_tlv_reader r;
	uint32_t status, code, enctype;

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
	    kg_tlv_end(&r) < 0)
		return KG_ERR_PROTO;
	if (status > KH_INTERNAL || code >= KH_R_MAX)
		return KG_ERR_PROTO;
	res->status = (enum kh_status)status;
	res->reason_code = (enum kh_reason)code;
	res->enctype = (int32_t)enctype;
	if (res->ap_rep_len == 0)
		res->ap_rep = NULL;
	if (res->mic_len == 0)
		res->mic = NULL;
	return 0;
}
