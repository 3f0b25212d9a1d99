/*
 * negotiate.c: HTTP Negotiate token decoding, classification and answers.
 *
 * DER in and out goes through Heimdal's primitives.  Note that Heimdal's
 * der_put_* functions write backwards: `p` points at the LAST byte they
 * may write and `len` is the room before it; struct der_writer below
 * follows that convention.
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <asn1-common.h>
#include <der.h>

#include "negotiate.h"

/* ---------------------------------------------------------------- OIDs */

enum oid_id { OID_OTHER, OID_KRB5, OID_MS_KRB5, OID_SPNEGO, OID_NTLM };

static unsigned krb5_arcs[] = { 1, 2, 840, 113554, 1, 2, 2 };
static unsigned ms_krb5_arcs[] = { 1, 2, 840, 48018, 1, 2, 2 };
static unsigned spnego_arcs[] = { 1, 3, 6, 1, 5, 5, 2 };
static unsigned ntlm_arcs[] = { 1, 3, 6, 1, 4, 1, 311, 2, 2, 10 };

static const heim_oid oid_krb5 = { 7, krb5_arcs };
static const heim_oid oid_ms_krb5 = { 7, ms_krb5_arcs };
static const heim_oid oid_spnego = { 7, spnego_arcs };
static const heim_oid oid_ntlm = { 10, ntlm_arcs };

static enum oid_id
oid_identify(const heim_oid *oid)
{
	if (der_heim_oid_cmp(oid, &oid_krb5) == 0)
		return OID_KRB5;
	if (der_heim_oid_cmp(oid, &oid_ms_krb5) == 0)
		return OID_MS_KRB5;
	if (der_heim_oid_cmp(oid, &oid_spnego) == 0)
		return OID_SPNEGO;
	if (der_heim_oid_cmp(oid, &oid_ntlm) == 0)
		return OID_NTLM;
	return OID_OTHER;
}

static enum neg_mech
mech_of(enum oid_id id)
{
	return id == OID_KRB5 ? NEG_MECH_KRB5 : id == OID_MS_KRB5 ? NEG_MECH_MS_KRB5 : NEG_MECH_NONE;
}

static const heim_oid *
oid_of(enum neg_mech mech)
{
	return mech == NEG_MECH_KRB5 ? &oid_krb5 : mech == NEG_MECH_MS_KRB5 ? &oid_ms_krb5 : NULL;
}

/* ---------------------------------------------------------------- DER reading */

struct der_cursor {
	const uint8_t *p;
	size_t len;
};

/* Consume the next element, which must be [cls type tag]; its content in *in. */
static int
der_take(struct der_cursor *c, Der_class cls, Der_type type, unsigned tag, struct der_cursor *in)
{
	Der_type got;
	size_t clen, hlen;

	if (c->len == 0 ||
	    der_match_tag_and_length(c->p, c->len, cls, &got, tag, &clen, &hlen) != 0)
		return NEG_ERR_MALFORMED;
	/* Also refuses BER indefinite lengths (ASN1_INDEFINITE is huge). */
	if (got != type || hlen > c->len || clen > c->len - hlen)
		return NEG_ERR_MALFORMED;
	in->p = c->p + hlen;
	in->len = clen;
	c->p += hlen + clen;
	c->len -= hlen + clen;
	return NEG_OK;
}

static bool
der_next_is(const struct der_cursor *c, Der_class cls, unsigned tag)
{
	Der_class got_cls;
	Der_type got_type;
	unsigned got_tag;
	size_t sz;

	return c->len > 0 &&
	    der_get_tag(c->p, c->len, &got_cls, &got_type, &got_tag, &sz) == 0 &&
	    got_cls == cls && got_tag == tag;
}

static int
der_take_oid(struct der_cursor *c, enum oid_id *id)
{
	struct der_cursor in;
	heim_oid oid;
	size_t sz;

	if (der_take(c, ASN1_C_UNIV, PRIM, UT_OID, &in) != 0 || in.len == 0)
		return NEG_ERR_MALFORMED;
	memset(&oid, 0, sizeof(oid));
	if (der_get_oid(in.p, in.len, &oid, &sz) != 0)
		return NEG_ERR_MALFORMED;
	*id = sz == in.len ? oid_identify(&oid) : OID_OTHER;
	der_free_oid(&oid);
	return sz == in.len ? NEG_OK : NEG_ERR_MALFORMED;
}

/* [cls n] EXPLICIT OCTET STRING */
static int
der_take_explicit_octets(struct der_cursor *c, unsigned n, struct der_cursor *octets)
{
	struct der_cursor e;

	if (der_take(c, ASN1_C_CONTEXT, CONS, n, &e) != 0 ||
	    der_take(&e, ASN1_C_UNIV, PRIM, UT_OctetString, octets) != 0 || e.len != 0)
		return NEG_ERR_MALFORMED;
	return NEG_OK;
}

/* [APPLICATION 0] IMPLICIT SEQUENCE { thisMech OID, innerToken } covering tok exactly. */
static int
gss_unframe(const uint8_t *tok, size_t len, enum oid_id *id, struct der_cursor *inner)
{
	struct der_cursor c = { tok, len };

	if (der_take(&c, ASN1_C_APPL, CONS, 0, inner) != 0 || c.len != 0)
		return NEG_ERR_MALFORMED;
	return der_take_oid(inner, id);
}

int
neg_gss_krb5_unwrap(const uint8_t *tok, size_t len, uint16_t tok_id,
    enum neg_mech *mech, const uint8_t **body, size_t *body_len)
{
	struct der_cursor inner;
	enum oid_id id;

	if (tok == NULL || gss_unframe(tok, len, &id, &inner) != 0)
		return NEG_ERR_MALFORMED;
	if ((id != OID_KRB5 && id != OID_MS_KRB5) || inner.len <= 2 ||
	    inner.p[0] != (tok_id >> 8) || inner.p[1] != (tok_id & 0xff))
		return NEG_ERR_MALFORMED;
	if (mech != NULL)
		*mech = mech_of(id);
	*body = inner.p + 2;
	*body_len = inner.len - 2;
	return NEG_OK;
}

/* A GSS krb5 token whose body is one whole AP-REQ ([APPLICATION 14]). */
static int
krb5_ap_req_token(const uint8_t *tok, size_t len, enum neg_mech *mech)
{
	struct der_cursor c, body;

	if (neg_gss_krb5_unwrap(tok, len, NEG_TOK_AP_REQ, mech, &c.p, &c.len) != 0)
		return NEG_ERR_MALFORMED;
	if (der_take(&c, ASN1_C_APPL, CONS, 14, &body) != 0 || c.len != 0)
		return NEG_ERR_MALFORMED;
	return NEG_OK;
}

static bool
is_ntlmssp(const uint8_t *tok, size_t len)
{
	return len >= 8 && memcmp(tok, "NTLMSSP", 8) == 0;
}

/* Is the next element [3] { OCTET STRING }, a mechListMIC, not negHints? */
static bool
mic_is_next(const struct der_cursor *c)
{
	struct der_cursor copy = *c, e;

	return der_take(&copy, ASN1_C_CONTEXT, CONS, 3, &e) == 0 &&
	    der_next_is(&e, ASN1_C_UNIV, UT_OctetString);
}

/* NegTokenInit (RFC 4178 §4.2.1), or NegTokenInit2 (MS-SPNG 2.2.1). */
static int
classify_neg_init(struct der_cursor *c, struct neg_token *out)
{
	struct der_cursor init, seq, e, types, mech_token = { NULL, 0 }, mic;
	enum oid_id first = OID_OTHER, first_krb5 = OID_OTHER, id;
	bool ntlm = false, have_token = false;
	size_t n = 0;
	unsigned tag;

	if (der_take(c, ASN1_C_CONTEXT, CONS, 0, &init) != 0 || c->len != 0 ||
	    der_take(&init, ASN1_C_UNIV, CONS, UT_Sequence, &seq) != 0 || init.len != 0)
		return NEG_ERR_MALFORMED;

	if (der_take(&seq, ASN1_C_CONTEXT, CONS, 0, &e) != 0)
		return NEG_ERR_MALFORMED;
	out->mech_types = e.p;		/* the MechTypeList TLV, for a MIC */
	out->mech_types_len = e.len;
	if (der_take(&e, ASN1_C_UNIV, CONS, UT_Sequence, &types) != 0 || e.len != 0)
		return NEG_ERR_MALFORMED;
	while (types.len > 0) {
		if (der_take_oid(&types, &id) != 0)
			return NEG_ERR_MALFORMED;
		if (n++ == 0)
			first = id;
		if ((id == OID_KRB5 || id == OID_MS_KRB5) && first_krb5 == OID_OTHER)
			first_krb5 = id;
		if (id == OID_NTLM)
			ntlm = true;
	}
	if (n == 0)
		return NEG_ERR_MALFORMED;

	/* [1] reqFlags, [2] mechToken, then [3] and [4]: mechListMIC in
	 * NegTokenInit, negHints and mechListMIC in NegTokenInit2.  Tags
	 * must come in increasing order; reqFlags and negHints are skipped.
	 * [3] holds an OCTET STRING when it is a mechListMIC, a SEQUENCE
	 * when it is negHints. */
	for (tag = 1; tag <= 4 && seq.len > 0; tag++) {
		if (!der_next_is(&seq, ASN1_C_CONTEXT, tag))
			continue;
		if (tag == 2) {
			if (der_take_explicit_octets(&seq, 2, &mech_token) != 0)
				return NEG_ERR_MALFORMED;
			have_token = true;
		} else if (tag == 4 || (tag == 3 && mic_is_next(&seq))) {
			if (out->mic != NULL ||
			    der_take_explicit_octets(&seq, tag, &mic) != 0 || mic.len == 0)
				return NEG_ERR_MALFORMED;
			out->mic = mic.p;
			out->mic_len = mic.len;
		} else if (der_take(&seq, ASN1_C_CONTEXT, CONS, tag, &e) != 0) {
			return NEG_ERR_MALFORMED;
		}
	}
	if (seq.len != 0)
		return NEG_ERR_MALFORMED;

	if (first == OID_KRB5 || first == OID_MS_KRB5) {
		out->mech = mech_of(first);
		if (!have_token) {
			out->kind = NEG_NEED_KRB5_LEG;
			return NEG_OK;
		}
		if (krb5_ap_req_token(mech_token.p, mech_token.len, NULL) != 0)
			return NEG_ERR_MALFORMED;
		out->kind = NEG_KRB5_SPNEGO;
		out->krb5_token = mech_token.p;
		out->krb5_token_len = mech_token.len;
		return NEG_OK;
	}
	if (first_krb5 != OID_OTHER) {
		/* The optimistic token, if any, is for another mech: ignore it. */
		out->kind = NEG_NEED_KRB5_LEG;
		out->mech = mech_of(first_krb5);
		out->mic_needed = 1;
		return NEG_OK;
	}
	out->kind = ntlm ? NEG_NTLM : NEG_UNSUPPORTED;
	return NEG_OK;
}

/* NegTokenResp from the client (RFC 4178 §4.2.2): the second leg. */
static int
classify_neg_resp(struct der_cursor *c, struct neg_token *out)
{
	struct der_cursor resp, seq, e, v, token = { NULL, 0 }, mic;
	bool have_token = false;
	enum oid_id id;
	int state = -1;
	size_t sz;

	if (der_take(c, ASN1_C_CONTEXT, CONS, 1, &resp) != 0 || c->len != 0 ||
	    der_take(&resp, ASN1_C_UNIV, CONS, UT_Sequence, &seq) != 0 || resp.len != 0)
		return NEG_ERR_MALFORMED;

	if (der_next_is(&seq, ASN1_C_CONTEXT, 0)) {
		if (der_take(&seq, ASN1_C_CONTEXT, CONS, 0, &e) != 0 ||
		    der_take(&e, ASN1_C_UNIV, PRIM, UT_Enumerated, &v) != 0 || e.len != 0 ||
		    v.len == 0 || der_get_integer(v.p, v.len, &state, &sz) != 0 || sz != v.len)
			return NEG_ERR_MALFORMED;
	}
	if (der_next_is(&seq, ASN1_C_CONTEXT, 1)) {
		if (der_take(&seq, ASN1_C_CONTEXT, CONS, 1, &e) != 0 ||
		    der_take_oid(&e, &id) != 0 || e.len != 0)
			return NEG_ERR_MALFORMED;
	}
	if (der_next_is(&seq, ASN1_C_CONTEXT, 2)) {
		if (der_take_explicit_octets(&seq, 2, &token) != 0)
			return NEG_ERR_MALFORMED;
		have_token = true;
	}
	if (der_next_is(&seq, ASN1_C_CONTEXT, 3)) {
		if (der_take_explicit_octets(&seq, 3, &mic) != 0 || mic.len == 0)
			return NEG_ERR_MALFORMED;
		out->mic = mic.p;
		out->mic_len = mic.len;
	}
	if (seq.len != 0)
		return NEG_ERR_MALFORMED;

	if (state == NEG_STATE_REJECT)
		return NEG_ERR_CLIENT_REJECT;
	if (!have_token)
		return NEG_ERR_MALFORMED;
	if (is_ntlmssp(token.p, token.len)) {
		out->kind = NEG_NTLM;
		return NEG_OK;
	}
	if (krb5_ap_req_token(token.p, token.len, &out->mech) != 0)
		return NEG_ERR_MALFORMED;
	out->kind = NEG_KRB5_SPNEGO_LEG2;
	out->krb5_token = token.p;
	out->krb5_token_len = token.len;
	return NEG_OK;
}

int
neg_classify(const uint8_t *tok, size_t len, struct neg_token *out)
{
	struct der_cursor c, inner;
	enum oid_id id;
	int ret;

	memset(out, 0, sizeof(*out));
	if (tok == NULL || len == 0)
		return NEG_ERR_MALFORMED;
	if (len > NEG_MAX_TOKEN_LEN)
		return NEG_ERR_TOO_LARGE;

	if (is_ntlmssp(tok, len)) {
		out->kind = NEG_NTLM;
		return NEG_OK;
	}
	c.p = tok;
	c.len = len;
	if (der_next_is(&c, ASN1_C_CONTEXT, 1))
		ret = classify_neg_resp(&c, out);
	else if (gss_unframe(tok, len, &id, &inner) != 0)
		ret = NEG_ERR_MALFORMED;
	else if (id == OID_SPNEGO)
		ret = classify_neg_init(&inner, out);
	else if (id == OID_KRB5 || id == OID_MS_KRB5) {
		ret = krb5_ap_req_token(tok, len, &out->mech);
		if (ret == NEG_OK) {
			out->kind = NEG_KRB5_RAW;
			out->krb5_token = tok;
			out->krb5_token_len = len;
		}
	} else
		ret = NEG_ERR_MALFORMED;

	if (ret != NEG_OK)
		memset(out, 0, sizeof(*out));
	return ret;
}

/* ---------------------------------------------------------------- base64 */

/*
 * Sextet of each base64 alphabet character (RFC 4648 table 1); every other
 * byte, '=' included, has B64_BAD set, a bit no sextet has.
 */
#define B64_BAD 0x80

static const uint8_t b64_sextet[256] = {
	[0x00 ... '+' - 1] = B64_BAD,
	['+'] = 62,
	['+' + 1 ... '/' - 1] = B64_BAD,
	['/'] = 63,
	['0'] = 52, 53, 54, 55, 56, 57, 58, 59, 60, 61,
	['9' + 1 ... 'A' - 1] = B64_BAD,
	['A'] = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
	    18, 19, 20, 21, 22, 23, 24, 25,
	['Z' + 1 ... 'a' - 1] = B64_BAD,
	['a'] = 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51,
	['z' + 1 ... 0xff] = B64_BAD,
};

int
neg_base64_decode(const char *b64, size_t len, uint8_t *out, size_t outsize, size_t *outlen)
{
	const unsigned char *s = (const unsigned char *)b64;
	size_t i, o = 0, n, pad = 0;
	unsigned v[4], bad;
	uint32_t w;
	int k;

	*outlen = 0;
	if (b64 == NULL || len == 0 || len % 4 != 0)
		return NEG_ERR_BASE64;
	if (len > NEG_MAX_B64_LEN)
		return NEG_ERR_TOO_LARGE;
	if (b64[len - 1] == '=')
		pad = b64[len - 2] == '=' ? 2 : 1;
	n = len / 4 * 3 - pad;
	if (n > outsize)
		return n > NEG_MAX_TOKEN_LEN ? NEG_ERR_TOO_LARGE : NEG_ERR_BUFFER;
	/*
	 * Strict: only the alphabet (no spaces or line breaks, which a header
	 * must not hold), '=' only as padding, and canonical (the unused bits
	 * of the last quantum are zero).  A table decoder, four characters to
	 * three bytes a step, one test a step for a bad character (the OR of
	 * the four sextets has B64_BAD set); the last quantum, the only one
	 * that may hold padding, is decoded on its own below.  The token is
	 * not a key: no need for constant time.
	 */
	for (i = 0; i + 4 < len; i += 4) {
		v[0] = b64_sextet[s[i]];
		v[1] = b64_sextet[s[i + 1]];
		v[2] = b64_sextet[s[i + 2]];
		v[3] = b64_sextet[s[i + 3]];
		if ((v[0] | v[1] | v[2] | v[3]) & B64_BAD)
			goto bad;
		w = v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3];
		out[o] = (uint8_t)(w >> 16);
		out[o + 1] = (uint8_t)(w >> 8);
		out[o + 2] = (uint8_t)w;
		o += 3;
	}
	for (k = 0, bad = 0; k < 4; k++) {
		v[k] = b64_sextet[s[i + k]];
		if (v[k] & B64_BAD) {
			if (s[i + k] == '=' && k >= 4 - (int)pad)
				v[k] = 0;
			else
				bad = 1;
		}
	}
	if (bad || (pad == 1 && (v[2] & 0x03) != 0) ||
	    (pad == 2 && (v[1] & 0x0f) != 0))
		goto bad;
	w = v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3];
	out[o++] = (uint8_t)(w >> 16);
	if (o < n)
		out[o++] = (uint8_t)(w >> 8);
	if (o < n)
		out[o++] = (uint8_t)w;
	*outlen = n;
	return NEG_OK;
bad:
	explicit_bzero(out, o);
	return NEG_ERR_BASE64;
}

int
neg_base64_encode(const uint8_t *in, size_t len, char *out, size_t outsize, size_t *outlen)
{
	/* Tokens sent on the wire: no secret, so no constant-time lookups. */
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0, need;

	*outlen = 0;
	if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
		return NEG_ERR_BUFFER;
	need = (len + 2) / 3 * 4;
	if (out == NULL || outsize < need + 1)
		return NEG_ERR_BUFFER;
	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = alphabet[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);

		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	*outlen = o;
	return NEG_OK;
}

int
neg_parse_authorization(const char *value, size_t len, uint8_t *out, size_t outsize,
    size_t *outlen)
{
	static const char scheme[] = "Negotiate";
	const size_t slen = sizeof(scheme) - 1;
	size_t i = 0, start, end;

	*outlen = 0;
	if (value == NULL)
		return NEG_ERR_SCHEME;
	while (i < len && (value[i] == ' ' || value[i] == '\t'))
		i++;
	if (len - i < slen || strncasecmp(value + i, scheme, slen) != 0)
		return NEG_ERR_SCHEME;
	i += slen;
	if (i == len || value[i] != ' ')
		return NEG_ERR_SCHEME;
	while (i < len && value[i] == ' ')
		i++;
	start = i;
	end = len;
	while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
		end--;
	if (end == start)
		return NEG_ERR_SCHEME;
	return neg_base64_decode(value + start, end - start, out, outsize, outlen);
}

/* ---------------------------------------------------------------- DER writing */

/* Writes backwards from the end of buf, as Heimdal's der_put_* do. */
struct der_writer {
	uint8_t *buf;
	size_t pos;		/* bytes still free before the written part */
	int err;
};

static void
w_bytes(struct der_writer *w, const uint8_t *p, size_t n)
{
	if (w->err != 0)
		return;
	if (n > w->pos) {
		w->err = NEG_ERR_BUFFER;
		return;
	}
	w->pos -= n;
	memcpy(w->buf + w->pos, p, n);
}

/* Prepends tag and length for the content written since `mark`. */
static void
w_header(struct der_writer *w, size_t mark, Der_class cls, Der_type type, unsigned tag)
{
	size_t sz;

	if (w->err != 0)
		return;
	if (w->pos == 0 || der_put_length_and_tag(w->buf + w->pos - 1, w->pos,
	    mark - w->pos, cls, type, tag, &sz) != 0) {
		w->err = NEG_ERR_BUFFER;
		return;
	}
	w->pos -= sz;
}

static void
w_oid(struct der_writer *w, const heim_oid *oid)
{
	size_t mark = w->pos, sz;

	if (w->err != 0)
		return;
	if (w->pos == 0 || der_put_oid(w->buf + w->pos - 1, w->pos, oid, &sz) != 0) {
		w->err = NEG_ERR_BUFFER;
		return;
	}
	w->pos -= sz;
	w_header(w, mark, ASN1_C_UNIV, PRIM, UT_OID);
}

static void
w_enumerated(struct der_writer *w, int v)
{
	size_t mark = w->pos, sz;

	if (w->err != 0)
		return;
	if (w->pos == 0 || der_put_integer(w->buf + w->pos - 1, w->pos, &v, &sz) != 0) {
		w->err = NEG_ERR_BUFFER;
		return;
	}
	w->pos -= sz;
	w_header(w, mark, ASN1_C_UNIV, PRIM, UT_Enumerated);
}

/* Moves the written bytes to the start of the buffer. */
static int
w_finish(struct der_writer *w, size_t outsize, size_t *outlen)
{
	if (w->err != 0)
		return w->err;
	*outlen = outsize - w->pos;
	memmove(w->buf, w->buf + w->pos, *outlen);
	return NEG_OK;
}

int
neg_gss_krb5_wrap(enum neg_mech mech, uint16_t tok_id, const uint8_t *body,
    size_t body_len, uint8_t *out, size_t outsize, size_t *outlen)
{
	struct der_writer w = { out, outsize, 0 };
	const heim_oid *oid = oid_of(mech);
	const uint8_t id[2] = { tok_id >> 8, tok_id & 0xff };

	*outlen = 0;
	if (oid == NULL || body == NULL || body_len == 0)
		return NEG_ERR_INVALID;
	w_bytes(&w, body, body_len);
	w_bytes(&w, id, sizeof(id));
	w_oid(&w, oid);
	w_header(&w, outsize, ASN1_C_APPL, CONS, 0);
	return w_finish(&w, outsize, outlen);
}

int
neg_spnego_resp(enum neg_state state, enum neg_mech mech, const uint8_t *resp,
    size_t resp_len, uint8_t *out, size_t outsize, size_t *outlen)
{
	return neg_spnego_resp_mic(state, mech, resp, resp_len, NULL, 0, out,
	    outsize, outlen);
}

int
neg_spnego_resp_mic(enum neg_state state, enum neg_mech mech,
    const uint8_t *resp, size_t resp_len, const uint8_t *mic, size_t mic_len,
    uint8_t *out, size_t outsize, size_t *outlen)
{
	struct der_writer w = { out, outsize, 0 };
	size_t mark;

	*outlen = 0;
	if (mech != NEG_MECH_NONE && oid_of(mech) == NULL)
		return NEG_ERR_INVALID;
	/* Written back to front: [3] first, [0] last. */
	if (mic != NULL) {
		mark = w.pos;
		w_bytes(&w, mic, mic_len);
		w_header(&w, mark, ASN1_C_UNIV, PRIM, UT_OctetString);
		w_header(&w, mark, ASN1_C_CONTEXT, CONS, 3);
	}
	if (resp != NULL) {
		mark = w.pos;
		w_bytes(&w, resp, resp_len);
		w_header(&w, mark, ASN1_C_UNIV, PRIM, UT_OctetString);
		w_header(&w, mark, ASN1_C_CONTEXT, CONS, 2);
	}
	if (mech != NEG_MECH_NONE) {
		mark = w.pos;
		w_oid(&w, oid_of(mech));
		w_header(&w, mark, ASN1_C_CONTEXT, CONS, 1);
	}
	mark = w.pos;
	w_enumerated(&w, (int)state);
	w_header(&w, mark, ASN1_C_CONTEXT, CONS, 0);
	w_header(&w, outsize, ASN1_C_UNIV, CONS, UT_Sequence);
	w_header(&w, outsize, ASN1_C_CONTEXT, CONS, 1);
	return w_finish(&w, outsize, outlen);
}

int
neg_build_answer(const struct neg_token *req, const uint8_t *ap_rep, size_t ap_rep_len,
    uint8_t *out, size_t outsize, size_t *outlen)
{
	enum neg_mech framing;
	const uint8_t *req_body;
	size_t n, req_body_len;
	int ret;

	*outlen = 0;
	if (req == NULL || (ap_rep != NULL && ap_rep_len == 0))
		return NEG_ERR_INVALID;
	switch (req->kind) {
	case NEG_NEED_KRB5_LEG:
		if (ap_rep != NULL)
			return NEG_ERR_INVALID;
		return neg_spnego_resp(NEG_STATE_ACCEPT_INCOMPLETE, req->mech, NULL, 0,
		    out, outsize, outlen);
	case NEG_KRB5_RAW:
	case NEG_KRB5_SPNEGO:
	case NEG_KRB5_SPNEGO_LEG2:
		break;
	default:
		return NEG_ERR_INVALID;
	}

	n = 0;
	if (ap_rep != NULL) {
		/* The AP-REP goes under the OID the client framed its AP-REQ
		 * with; supportedMech (below) echoes its mechTypes choice. */
		if (neg_gss_krb5_unwrap(req->krb5_token, req->krb5_token_len,
		    NEG_TOK_AP_REQ, &framing, &req_body, &req_body_len) != 0)
			return NEG_ERR_INVALID;
		if ((ret = neg_gss_krb5_wrap(framing, NEG_TOK_AP_REP, ap_rep, ap_rep_len,
		    out, outsize, &n)) != NEG_OK)
			return ret;
	}
	if (req->kind == NEG_KRB5_RAW) {
		*outlen = n;
		return NEG_OK;
	}
	/* Build the NegTokenResp around the GSS token already at out[0..n):
	 * move it to the end of the buffer first (the writer works backwards). */
	if (n > outsize)
		return NEG_ERR_BUFFER;
	memmove(out + outsize - n, out, n);
	{
		struct der_writer w = { out, outsize - n, 0 };
		size_t mark;

		if (ap_rep != NULL) {
			w_header(&w, outsize, ASN1_C_UNIV, PRIM, UT_OctetString);
			w_header(&w, outsize, ASN1_C_CONTEXT, CONS, 2);
		}
		if (req->kind == NEG_KRB5_SPNEGO) {
			mark = w.pos;
			w_oid(&w, oid_of(req->mech));
			w_header(&w, mark, ASN1_C_CONTEXT, CONS, 1);
		}
		mark = w.pos;
		w_enumerated(&w, NEG_STATE_ACCEPT_COMPLETED);
		w_header(&w, mark, ASN1_C_CONTEXT, CONS, 0);
		w_header(&w, outsize, ASN1_C_UNIV, CONS, UT_Sequence);
		w_header(&w, outsize, ASN1_C_CONTEXT, CONS, 1);
		return w_finish(&w, outsize, outlen);
	}
}

/* ---------------------------------------------------------------- names */

const char *
neg_kind_name(enum neg_kind kind)
{
	switch (kind) {
	case NEG_KRB5_RAW:		return "krb5";
	case NEG_KRB5_SPNEGO:		return "spnego-krb5";
	case NEG_KRB5_SPNEGO_LEG2:	return "spnego-krb5-leg2";
	case NEG_NEED_KRB5_LEG:		return "spnego-need-krb5-leg";
	case NEG_NTLM:			return "ntlm";
	case NEG_UNSUPPORTED:		return "unsupported-mech";
	}
	return "unknown";
}

const char *
neg_strerror(int err)
{
	switch (err) {
	case NEG_OK:			return "ok";
	case NEG_ERR_SCHEME:		return "not a Negotiate authorization";
	case NEG_ERR_BASE64:		return "Negotiate token is not valid base64";
	case NEG_ERR_TOO_LARGE:		return "Negotiate token too large";
	case NEG_ERR_MALFORMED:		return "malformed Negotiate token";
	case NEG_ERR_CLIENT_REJECT:	return "client rejected the SPNEGO negotiation";
	case NEG_ERR_BUFFER:		return "output buffer too small";
	case NEG_ERR_INVALID:		return "invalid argument";
	}
	return "unknown error";
}
