/*
 * ctlproto.c: the credential control frames (ctlproto.h).
 */
#include <stdlib.h>
#include <string.h>

#include "ctlproto.h"
#include "secretstore.h"
#include "tlv.h"
#include "util.h"

#define T_PRINCIPAL	1
#define T_KVNO		2
#define T_PASSWORD	3
#define T_KEY		4
#define T_KIND		5
#define T_NAME		6
#define T_SECRET	7
#define T_CERT		8
#define T_STATUS	10
#define T_TEXT		11
#define T_SEALED	12

int
ctl_is_request(uint16_t type)
{
	return type >= CTL_MSG_STAGE && type <= CTL_MSG_SECRET_LIST;
}

static int
is_secret(uint16_t type)
{
	return type >= CTL_MSG_SECRET_STAGE && type <= CTL_MSG_SECRET_RETIRE;
}

static int
has_kvno(uint16_t type)
{
	return (type >= CTL_MSG_STAGE && type <= CTL_MSG_RETIRE) ||
	    (type >= CTL_MSG_SECRET_VERIFY && type <= CTL_MSG_SECRET_RETIRE);
}

static void
encode_secret(struct kg_tlv_writer *w, const struct ctl_req *req)
{
	kg_tlv_put_u32(w, T_KIND, req->kind);
	kg_tlv_put_string(w, T_NAME, req->name);
	if (req->type != CTL_MSG_SECRET_STAGE) {
		kg_tlv_put_u32(w, T_KVNO, req->kvno);
		return;
	}
	if (req->secret != NULL)
		kg_tlv_put_bytes(w, T_SECRET, req->secret, req->secretlen);
	if (req->cert != NULL)
		kg_tlv_put_bytes(w, T_CERT, req->cert, req->certlen);
}

int
ctl_req_encode(const struct ctl_req *req, uint8_t **out, size_t *outlen)
{
	struct kg_tlv_writer w;
	uint8_t kb[4 + CRED_MAX_KEY];
	size_t i;

	kg_tlv_writer_init(&w);
	if (is_secret(req->type)) {
		encode_secret(&w, req);
		return kg_tlv_writer_take(&w, out, outlen);
	}
	if (req->type == CTL_MSG_STAGE)
		kg_tlv_put_string(&w, T_PRINCIPAL, req->principal);
	if (has_kvno(req->type))
		kg_tlv_put_u32(&w, T_KVNO, req->kvno);
	if (req->type == CTL_MSG_STAGE && req->password != NULL)
		kg_tlv_put_bytes(&w, T_PASSWORD, req->password, req->pwlen);
	for (i = 0; req->type == CTL_MSG_STAGE && i < req->nkeys; i++) {
		if (req->keys[i].len > CRED_MAX_KEY)
			break;
		kb[0] = (uint8_t)(req->keys[i].enctype >> 24);
		kb[1] = (uint8_t)(req->keys[i].enctype >> 16);
		kb[2] = (uint8_t)(req->keys[i].enctype >> 8);
		kb[3] = (uint8_t)req->keys[i].enctype;
		memcpy(kb + 4, req->keys[i].bytes, req->keys[i].len);
		kg_tlv_put_bytes(&w, T_KEY, kb, 4 + req->keys[i].len);
	}
	kg_zero(kb, sizeof(kb));
	return kg_tlv_writer_take(&w, out, outlen);
}

static int
key_len_ok(int32_t et, size_t len)
{
	return ((et == CRED_ETYPE_AES256 && len == 32) ||
	    (et == CRED_ETYPE_AES128 && len == 16) ||
	    (et == CRED_ETYPE_RC4 && len == 16));
}

static int
decode_stage(struct kg_tlv_reader *r, struct ctl_req *req)
{
	const uint8_t *v;
	size_t n;
	struct cred_key *k;

	if (kg_tlv_get_string(r, T_PRINCIPAL, req->principal,
	    sizeof(req->principal)) != 0 || strchr(req->principal, '@') == NULL ||
	    req->principal[0] == '@')
		return KG_ERR_PROTO;
	if (kg_tlv_get_u32(r, T_KVNO, &req->kvno) != 0)
		return KG_ERR_PROTO;
	if (kg_tlv_peek(r) == T_PASSWORD) {
		if (kg_tlv_get_bytes(r, T_PASSWORD, &req->password, &req->pwlen) != 0 ||
		    req->pwlen == 0 || req->pwlen > CTL_MAX_PASSWORD)
			return KG_ERR_PROTO;
		return 0;
	}
	while (kg_tlv_peek(r) == T_KEY) {
		if (req->nkeys == CTL_MAX_KEYS ||
		    kg_tlv_get_bytes(r, T_KEY, &v, &n) != 0 || n < 4)
			return KG_ERR_PROTO;
		k = &req->keys[req->nkeys++];
		k->enctype = (int32_t)((uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 |
		    (uint32_t)v[2] << 8 | v[3]);
		k->len = n - 4;
		if (!key_len_ok(k->enctype, k->len))
			return KG_ERR_PROTO;
		memcpy(k->bytes, v + 4, k->len);
	}
	return req->nkeys > 0 ? 0 : KG_ERR_PROTO;
}

/* What each kind takes: a name (none for the cookie key), and at stage the
 * values of the sizes secretstore.h keeps. */
static int
decode_secret(struct kg_tlv_reader *r, struct ctl_req *req)
{
	if (kg_tlv_get_u32(r, T_KIND, &req->kind) != 0 ||
	    req->kind < SECRET_POOL || req->kind > SECRET_TLS ||
	    kg_tlv_get_string(r, T_NAME, req->name, sizeof(req->name)) != 0 ||
	    (req->kind == SECRET_COOKIE) != (req->name[0] == '\0'))
		return KG_ERR_PROTO;
	if (req->type != CTL_MSG_SECRET_STAGE)
		return kg_tlv_get_u32(r, T_KVNO, &req->kvno);
	if (kg_tlv_peek(r) == T_SECRET &&
	    kg_tlv_get_bytes(r, T_SECRET, &req->secret, &req->secretlen) != 0)
		return KG_ERR_PROTO;
	if (kg_tlv_peek(r) == T_CERT &&
	    kg_tlv_get_bytes(r, T_CERT, &req->cert, &req->certlen) != 0)
		return KG_ERR_PROTO;
	switch (req->kind) {
	case SECRET_POOL:
		return req->secret != NULL && req->cert == NULL &&
		    req->secretlen >= SECRET_POOL_MIN &&
		    req->secretlen <= SECRET_POOL_MAX ? 0 : KG_ERR_PROTO;
	case SECRET_COOKIE:
		return req->secret == NULL && req->cert == NULL ? 0 : KG_ERR_PROTO;
	}
	return req->secret != NULL && req->cert != NULL && req->secretlen > 0 &&
	    req->secretlen <= SECRET_TLS_KEY_MAX && req->certlen > 0 &&
	    req->certlen <= SECRET_TLS_MAX - req->secretlen ? 0 : KG_ERR_PROTO;
}

int
ctl_req_decode(uint16_t type, const uint8_t *p, size_t n, struct ctl_req *req)
{
	struct kg_tlv_reader r;
	int rc = 0;

	memset(req, 0, sizeof(*req));
	if (!ctl_is_request(type))
		return KG_ERR_PROTO;
	req->type = type;
	kg_tlv_reader_init(&r, p, n);
	if (type == CTL_MSG_STAGE)
		rc = decode_stage(&r, req);
	else if (is_secret(type))
		rc = decode_secret(&r, req);
	else if (has_kvno(type))
		rc = kg_tlv_get_u32(&r, T_KVNO, &req->kvno);
	if (rc == 0 && has_kvno(type) && (req->kvno == 0 || req->kvno > INT32_MAX))
		rc = KG_ERR_PROTO;
	if (rc == 0 && kg_tlv_end(&r) != 0)
		rc = KG_ERR_PROTO;
	if (rc != 0) {
		kg_zero(req, sizeof(*req));
		return KG_ERR_PROTO;
	}
	return 0;
}

int
ctl_result_encode(const struct ctl_result *res, uint8_t **out, size_t *outlen)
{
	struct kg_tlv_writer w;

	kg_tlv_writer_init(&w);
	kg_tlv_put_u32(&w, T_STATUS, res->status);
	kg_tlv_put_string(&w, T_TEXT, res->text);
	if (res->sealed != NULL)
		kg_tlv_put_bytes(&w, T_SEALED, res->sealed, res->sealed_len);
	return kg_tlv_writer_take(&w, out, outlen);
}

int
ctl_result_decode(const uint8_t *p, size_t n, struct ctl_result *res)
{
	struct kg_tlv_reader r;

	memset(res, 0, sizeof(*res));
	kg_tlv_reader_init(&r, p, n);
	if (kg_tlv_get_u32(&r, T_STATUS, &res->status) != 0 ||
	    res->status > CTL_FAILED ||
	    kg_tlv_get_string(&r, T_TEXT, res->text, sizeof(res->text)) != 0)
		return KG_ERR_PROTO;
	if (kg_tlv_peek(&r) == T_SEALED &&
	    (kg_tlv_get_bytes(&r, T_SEALED, &res->sealed, &res->sealed_len) != 0 ||
	    res->sealed_len == 0))
		return KG_ERR_PROTO;
	return kg_tlv_end(&r) == 0 ? 0 : KG_ERR_PROTO;
}
