/*
 * test_negotiate.c: Negotiate header decoding, token classification and
 * answer tokens.  Tokens carry real AP-REQs minted by krbmint.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <krb5.h>
#include <mbedtls/base64.h>

#include "negotiate.h"
#include "krbmint.h"

static struct mint_key key;
static krb5_data ap_req;	/* bare DER AP-REQ */
static krb5_data gss_tok;	/* GSS-framed, krb5 OID */

static int
group_setup(void **state)
{
	struct mint_ticket_spec ts = { .key = &key };
	struct mint_req_spec rs = { .gss_checksum = true, .mutual = true };
	krb5_creds creds;

	if (mint_key_from_password(ETYPE_AES256_CTS_HMAC_SHA1_96, 5, MINT_PASSWORD, MINT_SALT, &key) ||
	    mint_ticket(&ts, &creds) || mint_ap_req(&creds, &rs, &ap_req, NULL) ||
	    mint_gss_frame(&ap_req, false, &gss_tok))
		return -1;
	krb5_free_cred_contents(mint_context(), &creds);
	return 0;
}

static int
group_teardown(void **state)
{
	krb5_data_free(&ap_req);
	krb5_data_free(&gss_tok);
	mint_key_free(&key);
	return 0;
}

static krb5_data
spnego(const enum mint_mech *mechs, size_t n, const krb5_data *tok)
{
	krb5_data out;

	assert_int_equal(mint_spnego_init(mechs, n, tok, &out), 0);
	return out;
}

static int
classify(const krb5_data *d, struct neg_token *nt)
{
	return neg_classify(d->data, d->length, nt);
}

/* ---------------------------------------------------------------- base64 */

static void
test_base64_decodes_canonical_text(void **state)
{
	uint8_t out[16];
	size_t n;

	assert_int_equal(neg_base64_decode("TlRMTVNTUAA=", 12, out, sizeof(out), &n), NEG_OK);
	assert_int_equal(n, 8);
	assert_memory_equal(out, "NTLMSSP", 8);
	assert_int_equal(neg_base64_decode("YWJj", 4, out, sizeof(out), &n), NEG_OK);
	assert_int_equal(n, 3);
	assert_int_equal(neg_base64_decode("YQ==", 4, out, sizeof(out), &n), NEG_OK);
	assert_int_equal(n, 1);
}

static void
test_base64_refuses_anything_else(void **state)
{
	static const char *const bad[] = {
		"", "YQ=", "YQ", "Y===", "====", "YW Jj", "YWJj\n", "YWJj\r\n", " YWJj",
		"YW=j", "YQ=a", "YWJj====", "YW\x00j", "YWJ-", "YWJ_", "YR==", "YWK=",
	};
	uint8_t out[16];
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = i == 12 ? 4 : strlen(bad[i]);

		assert_int_equal(neg_base64_decode(bad[i], len, out, sizeof(out), &n), NEG_ERR_BASE64);
		assert_int_equal(n, 0);
	}
}

static void
test_base64_bounds_the_decoded_size(void **state)
{
	size_t len = NEG_MAX_B64_LEN + 4, n;
	char *big = malloc(len);
	uint8_t *out = malloc(NEG_MAX_TOKEN_LEN + 16);

	memset(big, 'A', len);
	assert_int_equal(neg_base64_decode(big, len, out, NEG_MAX_TOKEN_LEN + 16, &n),
	    NEG_ERR_TOO_LARGE);
	assert_int_equal(neg_base64_decode(big, NEG_MAX_B64_LEN, out, NEG_MAX_TOKEN_LEN, &n), NEG_OK);
	assert_int_equal(n, NEG_MAX_TOKEN_LEN);
	assert_int_equal(neg_base64_decode(big, 8, out, 5, &n), NEG_ERR_BUFFER);
	free(big);
	free(out);
}

static void
test_base64_roundtrips_a_token(void **state)
{
	char text[8192];
	uint8_t back[8192];
	size_t n, m;

	assert_int_equal(neg_base64_encode(gss_tok.data, gss_tok.length, text, sizeof(text), &n),
	    NEG_OK);
	assert_int_equal(neg_base64_decode(text, n, back, sizeof(back), &m), NEG_OK);
	assert_int_equal(m, gss_tok.length);
	assert_memory_equal(back, gss_tok.data, m);
	assert_int_equal(neg_base64_encode(gss_tok.data, gss_tok.length, text, 10, &n),
	    NEG_ERR_BUFFER);
}

/* ---------------------------------------------------------------- header */

static void
test_authorization_header_accepts_negotiate_in_any_case(void **state)
{
	static const char *const ok[] = {
		"Negotiate TlRMTVNTUAA=", "negotiate TlRMTVNTUAA=", "NEGOTIATE   TlRMTVNTUAA=  ",
		" Negotiate TlRMTVNTUAA=\t",
	};
	uint8_t out[64];
	size_t i, n;

	for (i = 0; i < 4; i++) {
		assert_int_equal(neg_parse_authorization(ok[i], strlen(ok[i]), out, sizeof(out), &n),
		    NEG_OK);
		assert_int_equal(n, 8);
	}
}

static void
test_authorization_header_refuses_other_schemes_and_empty_tokens(void **state)
{
	static const char *const scheme[] = {
		"NTLM TlRMTVNTUAA=", "Basic YWxpY2U6eA==", "Negotiate", "Negotiate   ",
		"NegotiateTlRMTVNTUAA=", "Negotiat TlRM", "", "Kerberos TlRMTVNTUAA=",
		"Negotiate\tTlRMTVNTUAA=",
	};
	uint8_t out[64];
	size_t i, n;

	for (i = 0; i < sizeof(scheme) / sizeof(scheme[0]); i++)
		assert_int_equal(neg_parse_authorization(scheme[i], strlen(scheme[i]), out,
		    sizeof(out), &n), NEG_ERR_SCHEME);
	assert_int_equal(neg_parse_authorization("Negotiate TlRM TVNTUAA=", 23, out, sizeof(out),
	    &n), NEG_ERR_BASE64);
}

/* ---------------------------------------------------------------- classification */

static void
test_raw_krb5_token_is_krb5_raw(void **state)
{
	struct neg_token nt;

	assert_int_equal(classify(&gss_tok, &nt), NEG_OK);
	assert_int_equal(nt.kind, NEG_KRB5_RAW);
	assert_int_equal(nt.mech, NEG_MECH_KRB5);
	assert_ptr_equal(nt.krb5_token, gss_tok.data);
	assert_int_equal(nt.krb5_token_len, gss_tok.length);
}

static void
test_raw_token_under_the_microsoft_oid_is_answered_under_it(void **state)
{
	struct neg_token nt;
	krb5_data ms;

	assert_int_equal(mint_gss_frame(&ap_req, true, &ms), 0);
	assert_int_equal(classify(&ms, &nt), NEG_OK);
	assert_int_equal(nt.kind, NEG_KRB5_RAW);
	assert_int_equal(nt.mech, NEG_MECH_MS_KRB5);
	krb5_data_free(&ms);
}

static void
test_raw_ntlmssp_is_ntlm(void **state)
{
	static const uint8_t ntlm[] = "NTLMSSP\0\x01\0\0\0\x97\x82\x08\xe2";
	struct neg_token nt;

	assert_int_equal(neg_classify(ntlm, sizeof(ntlm) - 1, &nt), NEG_OK);
	assert_int_equal(nt.kind, NEG_NTLM);
	assert_null(nt.krb5_token);
}

static void
test_windows_spnego_with_ms_krb5_first_uses_the_optimistic_token(void **state)
{
	static const enum mint_mech windows[] = { MINT_MS_KRB5, MINT_KRB5, MINT_NEGOEX, MINT_NTLM };
	struct neg_token nt;
	krb5_data s = spnego(windows, 4, &gss_tok);

	assert_int_equal(classify(&s, &nt), NEG_OK);
	assert_int_equal(nt.kind, NEG_KRB5_SPNEGO);
	assert_int_equal(nt.mech, NEG_MECH_MS_KRB5);
	assert_int_equal(nt.krb5_token_len, gss_tok.length);
	assert_memory_equal(nt.krb5_token, gss_tok.data, gss_tok.length);
	krb5_data_free(&s);
}

static void
test_spnego_with_krb5_first_echoes_the_krb5_oid(void **state)
{
	static const enum mint_mech mit[] = { MINT_KRB5, MINT_NTLM };
	struct neg_token nt;
	krb5_data s = spnego(mit, 2, &gss_tok);

	assert_int_equal(classify(&s, &nt), NEG_OK);
	assert_int_equal(nt.kind, NEG_KRB5_SPNEGO);
	assert_int_equal(nt.mech, NEG_MECH_KRB5);
	krb5_data_free(&s);
}

static void
test_spnego_with_ntlm_first_but_krb5_listed_asks_for_a_krb5_leg(void **state)
{
	static const enum mint_mech ntlm_first[] = { MINT_NTLM, MINT_MS_KRB5, MINT_KRB5 };
	static const uint8_t ntlm_tok[] = "NTLMSSP\0\x01\0\0\0";
	krb5_data opt = { sizeof(ntlm_tok) - 1, (void *)(uintptr_t)ntlm_tok };
	struct neg_token nt;
	krb5_data s = spnego(ntlm_first, 3, &opt);

	assert_int_equal(classify(&s, &nt), NEG_OK);
	assert_int_equal(nt.kind, NEG_NEED_KRB5_LEG);
	assert_int_equal(nt.mech, NEG_MECH_MS_KRB5);
	assert_null(nt.krb5_token);
	/* The MechTypeList is kept, byte for byte, for the mechListMIC. */
	assert_true(nt.mic_needed);
	assert_non_null(nt.mech_types);
	assert_int_equal(nt.mech_types[0], 0x30);
	assert_int_equal(nt.mech_types_len, 2 + nt.mech_types[1]);
	assert_true(nt.mech_types >= (const uint8_t *)s.data &&
	    nt.mech_types + nt.mech_types_len <= (const uint8_t *)s.data + s.length);
	krb5_data_free(&s);
}

static void
test_final_answer_carries_the_mech_list_mic(void **state)
{
	static const uint8_t rep[] = { 0x60, 0x01, 0x00 }, mic[] = { 1, 2, 3, 4 };
	uint8_t out[64];
	size_t n, i;
	int found = 0;

	assert_int_equal(neg_spnego_resp_mic(NEG_STATE_ACCEPT_COMPLETED,
	    NEG_MECH_NONE, rep, sizeof(rep), mic, sizeof(mic), out, sizeof(out),
	    &n), NEG_OK);
	/* ... [2] { OCTET STRING rep } [3] { OCTET STRING mic }, last. */
	for (i = 0; i + 8 <= n; i++)
		if (out[i] == 0xa3 && out[i + 1] == 6 && out[i + 2] == 0x04 &&
		    out[i + 3] == 4 && memcmp(out + i + 4, mic, 4) == 0 &&
		    i + 8 == n)
			found = 1;
	assert_true(found);
	assert_int_equal(neg_spnego_resp(NEG_STATE_ACCEPT_COMPLETED,
	    NEG_MECH_NONE, rep, sizeof(rep), out, sizeof(out), &n), NEG_OK);
	assert_int_not_equal(out[n - 8], 0xa3);
}

static void
test_spnego_with_krb5_first_but_no_token_asks_for_a_krb5_leg(void **state)
{
	static const enum mint_mech m[] = { MINT_KRB5, MINT_NTLM };
	struct neg_token nt;
	krb5_data s = spnego(m, 2, NULL);

	assert_int_equal(classify(&s, &nt), NEG_OK);
	assert_int_equal(nt.kind, NEG_NEED_KRB5_LEG);
	assert_int_equal(nt.mech, NEG_MECH_KRB5);
	assert_false(nt.mic_needed);	/* krb5 was the first choice */
	krb5_data_free(&s);
}

static void
test_spnego_offering_only_ntlm_is_ntlm(void **state)
{
	static const enum mint_mech m[] = { MINT_NTLM };
	static const enum mint_mech m2[] = { MINT_NEGOEX, MINT_NTLM };
	struct neg_token nt;
	krb5_data s = spnego(m, 1, NULL), s2 = spnego(m2, 2, NULL);

	assert_int_equal(classify(&s, &nt), NEG_OK);
	assert_int_equal(nt.kind, NEG_NTLM);
	assert_int_equal(classify(&s2, &nt), NEG_OK);
	assert_int_equal(nt.kind, NEG_NTLM);
	krb5_data_free(&s);
	krb5_data_free(&s2);
}

static void
test_spnego_offering_neither_krb5_nor_ntlm_is_unsupported(void **state)
{
	static const enum mint_mech m[] = { MINT_NEGOEX };
	struct neg_token nt;
	krb5_data s = spnego(m, 1, NULL);

	assert_int_equal(classify(&s, &nt), NEG_OK);
	assert_int_equal(nt.kind, NEG_UNSUPPORTED);
	krb5_data_free(&s);
}

static void
test_spnego_with_empty_mech_list_is_malformed(void **state)
{
	struct neg_token nt;
	krb5_data s = spnego(NULL, 0, NULL);

	assert_int_equal(classify(&s, &nt), NEG_ERR_MALFORMED);
	krb5_data_free(&s);
}

static void
test_spnego_krb5_first_with_a_non_krb5_token_is_malformed(void **state)
{
	static const enum mint_mech m[] = { MINT_KRB5 };
	static const uint8_t ntlm_tok[] = "NTLMSSP\0\x01\0\0\0";
	krb5_data opt = { sizeof(ntlm_tok) - 1, (void *)(uintptr_t)ntlm_tok };
	struct neg_token nt;
	krb5_data s = spnego(m, 1, &opt), s2 = spnego(m, 1, &ap_req);

	assert_int_equal(classify(&s, &nt), NEG_ERR_MALFORMED);
	assert_int_equal(classify(&s2, &nt), NEG_ERR_MALFORMED);	/* unframed AP-REQ */
	krb5_data_free(&s);
	krb5_data_free(&s2);
}

static void
test_second_leg_negtokenresp_carries_the_ap_req(void **state)
{
	struct neg_token nt;
	krb5_data r;

	assert_int_equal(mint_spnego_resp(&gss_tok, &r), 0);
	assert_int_equal(classify(&r, &nt), NEG_OK);
	assert_int_equal(nt.kind, NEG_KRB5_SPNEGO_LEG2);
	assert_int_equal(nt.krb5_token_len, gss_tok.length);
	krb5_data_free(&r);
}

static void
test_second_leg_with_ntlm_instead_is_ntlm(void **state)
{
	static const uint8_t ntlm_tok[] = "NTLMSSP\0\x03\0\0\0";
	krb5_data t = { sizeof(ntlm_tok) - 1, (void *)(uintptr_t)ntlm_tok }, r;
	struct neg_token nt;

	assert_int_equal(mint_spnego_resp(&t, &r), 0);
	assert_int_equal(classify(&r, &nt), NEG_OK);
	assert_int_equal(nt.kind, NEG_NTLM);
	krb5_data_free(&r);
}

static void
test_client_reject_and_tokenless_responses_are_refused(void **state)
{
	/* [1] { SEQUENCE { [0] ENUMERATED reject } } and { [0] accept-incomplete } */
	static const uint8_t reject[] = { 0xa1, 0x07, 0x30, 0x05, 0xa0, 0x03, 0x0a, 0x01, 0x02 };
	static const uint8_t empty[] = { 0xa1, 0x07, 0x30, 0x05, 0xa0, 0x03, 0x0a, 0x01, 0x01 };
	struct neg_token nt;

	assert_int_equal(neg_classify(reject, sizeof(reject), &nt), NEG_ERR_CLIENT_REJECT);
	assert_int_equal(neg_classify(empty, sizeof(empty), &nt), NEG_ERR_MALFORMED);
}

static void
test_every_truncation_and_extension_of_each_token_is_refused(void **state)
{
	static const enum mint_mech windows[] = { MINT_MS_KRB5, MINT_KRB5, MINT_NEGOEX, MINT_NTLM };
	krb5_data toks[3], r;
	struct neg_token nt;
	size_t i, n;

	toks[0] = gss_tok;
	toks[1] = spnego(windows, 4, &gss_tok);
	assert_int_equal(mint_spnego_resp(&gss_tok, &r), 0);
	toks[2] = r;
	for (i = 0; i < 3; i++) {
		uint8_t *longer = malloc(toks[i].length + 1);

		for (n = 0; n < toks[i].length; n++)
			assert_int_not_equal(neg_classify(toks[i].data, n, &nt), NEG_OK);
		memcpy(longer, toks[i].data, toks[i].length);
		longer[toks[i].length] = 0;
		assert_int_equal(neg_classify(longer, toks[i].length + 1, &nt), NEG_ERR_MALFORMED);
		free(longer);
	}
	krb5_data_free(&toks[1]);
	krb5_data_free(&toks[2]);
}

static void
test_indefinite_lengths_and_garbage_are_malformed(void **state)
{
	static const uint8_t indef[] = { 0x60, 0x80, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05,
	    0x02, 0xa0, 0x80, 0x00, 0x00, 0x00, 0x00 };
	static const uint8_t huge[] = { 0x60, 0x84, 0xff, 0xff, 0xff, 0xff, 0x06 };
	static const uint8_t other_oid[] = { 0x60, 0x08, 0x06, 0x03, 0x2a, 0x03, 0x04, 0x01, 0x00, 0x00 };
	uint8_t buf[512];
	struct neg_token nt;
	int i;

	assert_int_equal(neg_classify(indef, sizeof(indef), &nt), NEG_ERR_MALFORMED);
	assert_int_equal(neg_classify(huge, sizeof(huge), &nt), NEG_ERR_MALFORMED);
	assert_int_equal(neg_classify(other_oid, sizeof(other_oid), &nt), NEG_ERR_MALFORMED);
	assert_int_equal(neg_classify(buf, 0, &nt), NEG_ERR_MALFORMED);
	assert_int_equal(neg_classify(buf, NEG_MAX_TOKEN_LEN + 1, &nt), NEG_ERR_TOO_LARGE);
	srandom(4242);
	for (i = 0; i < 2000; i++) {
		size_t j, n = 1 + (size_t)random() % sizeof(buf);

		for (j = 0; j < n; j++)
			buf[j] = (uint8_t)random();
		buf[0] = (uint8_t[]){ 0x60, 0xa1, 0x4e }[i % 3];
		assert_int_not_equal(neg_classify(buf, n, &nt), NEG_OK);
	}
}

/* ---------------------------------------------------------------- answers */

/* ---------------------------------------------------------------- the client's mechListMIC */

/* tag, DER length, content: a fresh buffer. */
static krb5_data
der(uint8_t tag, const krb5_data *a, const krb5_data *b)
{
	size_t clen = a->length + (b != NULL ? b->length : 0), h = 0;
	uint8_t hdr[6];
	krb5_data out;

	hdr[h++] = tag;
	if (clen < 0x80) {
		hdr[h++] = (uint8_t)clen;
	} else {
		hdr[h++] = 0x82;
		hdr[h++] = (uint8_t)(clen >> 8);
		hdr[h++] = (uint8_t)clen;
	}
	out.length = h + clen;
	out.data = malloc(out.length);
	memcpy(out.data, hdr, h);
	memcpy((uint8_t *)out.data + h, a->data, a->length);
	if (b != NULL)
		memcpy((uint8_t *)out.data + h + a->length, b->data, b->length);
	return out;
}

static krb5_data
bytes(const void *p, size_t n)
{
	krb5_data d = { n, (void *)(uintptr_t)p };

	return d;
}

static const uint8_t fake_mic[] = { 0x04, 0x04, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff,
	0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

/* A client NegTokenResp: [1] { SEQUENCE { [2] token, [3] mic_field } }. */
static krb5_data
resp_with(const krb5_data *mic_field)
{
	krb5_data oct = der(0x04, &gss_tok, NULL), t2 = der(0xa2, &oct, NULL);
	krb5_data t3 = der(0xa3, mic_field, NULL), seq = der(0x30, &t2, &t3);
	krb5_data out = der(0xa1, &seq, NULL);

	krb5_data_free(&oct);
	krb5_data_free(&t2);
	krb5_data_free(&t3);
	krb5_data_free(&seq);
	return out;
}

static void
test_client_mechlistmic_is_found_in_init_and_resp(void **state)
{
	static const enum mint_mech mechs[] = { MINT_MS_KRB5, MINT_KRB5 };
	krb5_data mic = bytes(fake_mic, sizeof(fake_mic)), init, oct, resp;
	struct neg_token nt;

	(void)state;
	assert_int_equal(mint_spnego_init_mic(mechs, 2, &gss_tok, &mic, &init), 0);
	assert_int_equal(classify(&init, &nt), NEG_OK);
	assert_int_equal(nt.kind, NEG_KRB5_SPNEGO);
	assert_int_equal(nt.mic_len, sizeof(fake_mic));
	assert_memory_equal(nt.mic, fake_mic, sizeof(fake_mic));

	oct = der(0x04, &mic, NULL);
	resp = resp_with(&oct);
	assert_int_equal(classify(&resp, &nt), NEG_OK);
	assert_int_equal(nt.kind, NEG_KRB5_SPNEGO_LEG2);
	assert_int_equal(nt.mic_len, sizeof(fake_mic));
	assert_memory_equal(nt.mic, fake_mic, sizeof(fake_mic));

	/* Without one, none is reported. */
	krb5_data_free(&init);
	init = spnego(mechs, 2, &gss_tok);
	assert_int_equal(classify(&init, &nt), NEG_OK);
	assert_null(nt.mic);
	krb5_data_free(&init);
	krb5_data_free(&oct);
	krb5_data_free(&resp);
}

/* NegTokenInit2 (MS-SPNG) around these elements: 60 { OID, [0] { SEQUENCE { ... } } }. */
static krb5_data
init2(const krb5_data *const *elems, size_t n)
{
	static const uint8_t spnego_oid[] = { 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02 };
	krb5_data oid = bytes(spnego_oid, sizeof(spnego_oid)), all = { 0, NULL }, seq, a0, out;
	size_t i;

	for (i = 0; i < n; i++) {
		all.data = realloc(all.data, all.length + elems[i]->length);
		memcpy((uint8_t *)all.data + all.length, elems[i]->data, elems[i]->length);
		all.length += elems[i]->length;
	}
	seq = der(0x30, &all, NULL);
	a0 = der(0xa0, &seq, NULL);
	out = der(0x60, &oid, &a0);
	krb5_data_free(&all);
	krb5_data_free(&seq);
	krb5_data_free(&a0);
	return out;
}

/* NegTokenInit2 (MS-SPNG): [3] is negHints, the MIC is [4]. */
static void
test_negtokeninit2_mic_is_tag_4_and_neghints_is_not_a_mic(void **state)
{
	static const uint8_t types[] = { 0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
	    0x12, 0x01, 0x02, 0x02 };
	static const uint8_t hints[] = { 0x30, 0x06, 0xa0, 0x04, 0x1b, 0x02, 'n', 'o' };
	krb5_data mic = bytes(fake_mic, sizeof(fake_mic)), t_types = bytes(types, sizeof(types));
	krb5_data t_hints = bytes(hints, sizeof(hints));
	krb5_data a0 = der(0xa0, &t_types, NULL), oct = der(0x04, &gss_tok, NULL);
	krb5_data a2 = der(0xa2, &oct, NULL), a3 = der(0xa3, &t_hints, NULL);
	krb5_data moct = der(0x04, &mic, NULL), a4 = der(0xa4, &moct, NULL);
	const krb5_data *with_hints[] = { &a0, &a2, &a3 }, *with_mic[] = { &a0, &a2, &a3, &a4 };
	krb5_data t1 = init2(with_hints, 3), t2 = init2(with_mic, 4);
	struct neg_token nt;

	(void)state;
	assert_int_equal(classify(&t1, &nt), NEG_OK);
	assert_int_equal(nt.kind, NEG_KRB5_SPNEGO);
	assert_null(nt.mic);
	assert_int_equal(classify(&t2, &nt), NEG_OK);
	assert_int_equal(nt.kind, NEG_KRB5_SPNEGO);
	assert_int_equal(nt.mic_len, sizeof(fake_mic));
	assert_memory_equal(nt.mic, fake_mic, sizeof(fake_mic));
	krb5_data_free(&a0);
	krb5_data_free(&oct);
	krb5_data_free(&a2);
	krb5_data_free(&a3);
	krb5_data_free(&moct);
	krb5_data_free(&a4);
	krb5_data_free(&t1);
	krb5_data_free(&t2);
}

/* A mechListMIC is an OCTET STRING with something in it. */
static void
test_mechlistmic_that_is_not_a_non_empty_octet_string_is_malformed(void **state)
{
	static const uint8_t seq[] = { 0x30, 0x00 }, empty[] = { 0x04, 0x00 };
	static const uint8_t two[] = { 0x04, 0x01, 0x00, 0x04, 0x01, 0x00 };
	const krb5_data fields[] = { bytes(seq, sizeof(seq)), bytes(empty, sizeof(empty)),
	    bytes(two, sizeof(two)) };
	struct neg_token nt;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		krb5_data r = resp_with(&fields[i]);

		assert_int_equal(classify(&r, &nt), NEG_ERR_MALFORMED);
		krb5_data_free(&r);
	}
}

static const uint8_t fake_ap_rep[] = { 0x6f, 0x03, 0x30, 0x01, 0x00 };

static void
test_raw_client_gets_a_gss_framed_ap_rep(void **state)
{
	static const uint8_t want[] = { 0x60, 0x12, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12,
	    0x01, 0x02, 0x02, 0x02, 0x00, 0x6f, 0x03, 0x30, 0x01, 0x00 };
	struct neg_token nt;
	uint8_t out[256];
	size_t n;

	assert_int_equal(classify(&gss_tok, &nt), NEG_OK);
	assert_int_equal(neg_build_answer(&nt, fake_ap_rep, sizeof(fake_ap_rep), out, sizeof(out), &n),
	    NEG_OK);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(out, want, n);
	assert_int_equal(neg_build_answer(&nt, NULL, 0, out, sizeof(out), &n), NEG_OK);
	assert_int_equal(n, 0);
}

static void
test_windows_client_gets_accept_completed_with_ms_krb5_and_the_ap_rep(void **state)
{
	static const enum mint_mech windows[] = { MINT_MS_KRB5, MINT_KRB5, MINT_NEGOEX, MINT_NTLM };
	static const uint8_t want[] = {
		0xa1, 0x2c, 0x30, 0x2a,
		0xa0, 0x03, 0x0a, 0x01, 0x00,				/* accept-completed */
		0xa1, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02,
		0xa2, 0x16, 0x04, 0x14,
		0x60, 0x12, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02,
		0x02, 0x00, 0x6f, 0x03, 0x30, 0x01, 0x00,
	};
	struct neg_token nt;
	uint8_t out[256];
	size_t n;
	krb5_data s = spnego(windows, 4, &gss_tok);

	assert_int_equal(classify(&s, &nt), NEG_OK);
	assert_int_equal(neg_build_answer(&nt, fake_ap_rep, sizeof(fake_ap_rep), out, sizeof(out), &n),
	    NEG_OK);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(out, want, n);
	krb5_data_free(&s);
}

static void
test_need_krb5_leg_answer_is_accept_incomplete_with_krb5_and_no_token(void **state)
{
	static const enum mint_mech m[] = { MINT_NTLM, MINT_KRB5 };
	static const uint8_t want[] = { 0xa1, 0x14, 0x30, 0x12, 0xa0, 0x03, 0x0a, 0x01, 0x01,
	    0xa1, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02 };
	struct neg_token nt;
	uint8_t out[256];
	size_t n;
	krb5_data s = spnego(m, 2, NULL);

	assert_int_equal(classify(&s, &nt), NEG_OK);
	assert_int_equal(neg_build_answer(&nt, NULL, 0, out, sizeof(out), &n), NEG_OK);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(out, want, n);
	assert_int_equal(neg_build_answer(&nt, fake_ap_rep, sizeof(fake_ap_rep), out, sizeof(out),
	    &n), NEG_ERR_INVALID);
	krb5_data_free(&s);
}

static void
test_second_leg_answer_has_no_supported_mech(void **state)
{
	static const uint8_t want[] = { 0xa1, 0x1f, 0x30, 0x1d, 0xa0, 0x03, 0x0a, 0x01, 0x00,
	    0xa2, 0x16, 0x04, 0x14, 0x60, 0x12, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12,
	    0x01, 0x02, 0x02, 0x02, 0x00, 0x6f, 0x03, 0x30, 0x01, 0x00 };
	struct neg_token nt;
	uint8_t out[256];
	size_t n;
	krb5_data r;

	assert_int_equal(mint_spnego_resp(&gss_tok, &r), 0);
	assert_int_equal(classify(&r, &nt), NEG_OK);
	assert_int_equal(neg_build_answer(&nt, fake_ap_rep, sizeof(fake_ap_rep), out, sizeof(out), &n),
	    NEG_OK);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(out, want, n);
	krb5_data_free(&r);
}

static void
test_answers_that_do_not_fit_report_a_short_buffer(void **state)
{
	static const enum mint_mech windows[] = { MINT_MS_KRB5, MINT_KRB5 };
	struct neg_token nt;
	uint8_t out[64];
	size_t n, room;
	krb5_data s = spnego(windows, 2, &gss_tok);

	assert_int_equal(classify(&s, &nt), NEG_OK);
	for (room = 0; room < 46; room++)
		assert_int_equal(neg_build_answer(&nt, fake_ap_rep, sizeof(fake_ap_rep), out, room, &n),
		    NEG_ERR_BUFFER);
	assert_int_equal(neg_build_answer(&nt, fake_ap_rep, sizeof(fake_ap_rep), out, 46, &n), NEG_OK);
	for (room = 0; room < 22; room++)
		assert_int_equal(neg_spnego_resp(NEG_STATE_ACCEPT_INCOMPLETE, NEG_MECH_KRB5, NULL, 0,
		    out, room, &n), NEG_ERR_BUFFER);
	krb5_data_free(&s);
}

static void
test_ntlm_and_unsupported_kinds_get_no_negotiate_answer(void **state)
{
	struct neg_token nt = { .kind = NEG_NTLM };
	uint8_t out[64];
	size_t n;

	assert_int_equal(neg_build_answer(&nt, NULL, 0, out, sizeof(out), &n), NEG_ERR_INVALID);
	nt.kind = NEG_UNSUPPORTED;
	assert_int_equal(neg_build_answer(&nt, NULL, 0, out, sizeof(out), &n), NEG_ERR_INVALID);
	assert_string_equal(neg_kind_name(NEG_NTLM), "ntlm");
	assert_string_equal(neg_strerror(NEG_ERR_BASE64), "Negotiate token is not valid base64");
}

static void
test_ntlm_hint_names_the_spn_and_the_two_usual_causes(void **state)
{
	char line[256];

	snprintf(line, sizeof(line), NEG_NTLM_HINT, "http/mail.corp.contoso.com");
	assert_string_equal(line, "client offered NTLM, not Kerberos: is http/mail.corp.contoso.com "
	    "registered to the ASA account, and can the client reach a KDC?");
}

/*
 * The decoder is ours (a table, for speed); mbedTLS's decoder plus a
 * re-encoding check is the reference: we accept exactly the canonical
 * encodings, and decode them to the same bytes.  mbedTLS skips spaces and
 * line breaks, which a strict decoder refuses.  Returns whether enc is
 * canonical, with its bytes in ref.
 */
static int
canonical_reference(const unsigned char *enc, size_t len, unsigned char *ref,
    size_t refsize, size_t *rn)
{
	unsigned char re[128];
	size_t en;

	return len > 0 && memchr(enc, ' ', len) == NULL &&
	    memchr(enc, '\n', len) == NULL && memchr(enc, '\r', len) == NULL &&
	    mbedtls_base64_decode(ref, refsize, rn, enc, len) == 0 &&
	    mbedtls_base64_encode(re, sizeof(re), &en, ref, *rn) == 0 &&
	    en == len && memcmp(re, enc, len) == 0;
}

static void
test_base64_decoder_agrees_with_the_canonical_reference(void **state)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \n*";
	unsigned char raw[64], enc[100], ref[100], ours[100];
	size_t n, rn, on, i, trial, len;
	int rc, want;

	srand(7);
	for (trial = 0; trial < 20000; trial++) {
		n = (size_t)rand() % 40;
		for (i = 0; i < n; i++)
			raw[i] = (unsigned char)rand();
		assert_int_equal(mbedtls_base64_encode(enc, sizeof(enc), &len, raw,
		    n), 0);
		if (trial % 2 && len > 0)	/* tamper with one character */
			enc[(size_t)rand() % len] =
			    (unsigned char)alphabet[rand() % (sizeof(alphabet) - 1)];
		want = canonical_reference(enc, len, ref, sizeof(ref), &rn);
		rc = neg_base64_decode((const char *)enc, len, ours, sizeof(ours),
		    &on);
		assert_int_equal(rc == NEG_OK, want);
		if (want) {
			assert_int_equal(on, rn);
			assert_memory_equal(ours, ref, rn);
		}
	}
}

/*
 * Every byte value at every position of texts with no, one and two
 * padding characters, the padded quantum last or not: the decoder reads
 * whole quanta through a table and the last one on its own, so each place
 * of a quantum and each quantum kind is tried with all 256 bytes.
 */
static void
test_base64_every_byte_at_every_position_is_judged_as_the_reference(void **state)
{
	static const char *const texts[] = {
		"YWJj", "YWI=", "YQ==", "YWJjZGVm", "YWJjZGU=", "YWJjZA==",
		"YWJjZGVmZ2hp", "YWJjZGVmZ2g=", "YWJjZGVmZw==",
	};
	unsigned char enc[16], ref[16], ours[16];
	size_t t, pos, len, rn, on;
	int c, rc, want;

	for (t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
		len = strlen(texts[t]);
		for (pos = 0; pos < len; pos++) {
			for (c = 0; c < 256; c++) {
				memcpy(enc, texts[t], len);
				enc[pos] = (unsigned char)c;
				want = canonical_reference(enc, len, ref,
				    sizeof(ref), &rn);
				rc = neg_base64_decode((const char *)enc, len,
				    ours, sizeof(ours), &on);
				assert_int_equal(rc, want ? NEG_OK :
				    NEG_ERR_BASE64);
				if (want) {
					assert_int_equal(on, rn);
					assert_memory_equal(ours, ref, rn);
				} else {
					assert_int_equal(on, 0);
				}
			}
		}
	}
}

/* What was decoded before a bad character is wiped, not left behind. */
/* The encoder against mbedTLS's, every length up to 300 and its buffer bound. */
static void
test_base64_encoder_agrees_with_mbedtls_and_checks_its_buffer(void **state)
{
	uint8_t raw[300];
	char mine[410], ref[410];
	size_t len, n, rn, i;

	(void)state;
	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)(i * 131 + 7);
	for (len = 0; len <= sizeof(raw); len++) {
		size_t need = (len + 2) / 3 * 4;

		assert_int_equal(mbedtls_base64_encode((unsigned char *)ref, sizeof(ref), &rn,
		    raw, len), 0);
		assert_int_equal(neg_base64_encode(raw, len, mine, sizeof(mine), &n), NEG_OK);
		assert_int_equal(n, rn);
		assert_int_equal(n, need);
		assert_memory_equal(mine, ref, n);
		assert_int_equal(mine[n], '\0');
		assert_int_equal(neg_base64_encode(raw, len, mine, need + 1, &n), NEG_OK);
		assert_int_equal(neg_base64_encode(raw, len, mine, need, &n), NEG_ERR_BUFFER);
		assert_int_equal(n, 0);
	}
}

static void
test_base64_wipes_what_it_decoded_before_a_bad_character(void **state)
{
	static const char *const bad[] = {
		"YWJjZGVm*WJj", "YWJjZGVmYW*j", "YWJjZGVmYWJ*", "YWJjZGVmYR==",
	};
	static const uint8_t zero[6];
	uint8_t out[16];
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(out, 0xa5, sizeof(out));
		assert_int_equal(neg_base64_decode(bad[i], 12, out, sizeof(out),
		    &n), NEG_ERR_BASE64);
		assert_memory_equal(out, zero, 6);	/* "abcdef" gone */
		assert_int_equal(out[6], 0xa5);		/* never written */
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_decoder_agrees_with_the_canonical_reference),
		cmocka_unit_test(test_base64_every_byte_at_every_position_is_judged_as_the_reference),
		cmocka_unit_test(test_base64_wipes_what_it_decoded_before_a_bad_character),
		cmocka_unit_test(test_base64_encoder_agrees_with_mbedtls_and_checks_its_buffer),
		cmocka_unit_test(test_base64_decodes_canonical_text),
		cmocka_unit_test(test_base64_refuses_anything_else),
		cmocka_unit_test(test_base64_bounds_the_decoded_size),
		cmocka_unit_test(test_base64_roundtrips_a_token),
		cmocka_unit_test(test_authorization_header_accepts_negotiate_in_any_case),
		cmocka_unit_test(test_authorization_header_refuses_other_schemes_and_empty_tokens),
		cmocka_unit_test(test_raw_krb5_token_is_krb5_raw),
		cmocka_unit_test(test_raw_token_under_the_microsoft_oid_is_answered_under_it),
		cmocka_unit_test(test_raw_ntlmssp_is_ntlm),
		cmocka_unit_test(test_windows_spnego_with_ms_krb5_first_uses_the_optimistic_token),
		cmocka_unit_test(test_spnego_with_krb5_first_echoes_the_krb5_oid),
		cmocka_unit_test(test_spnego_with_ntlm_first_but_krb5_listed_asks_for_a_krb5_leg),
		cmocka_unit_test(test_final_answer_carries_the_mech_list_mic),
		cmocka_unit_test(test_spnego_with_krb5_first_but_no_token_asks_for_a_krb5_leg),
		cmocka_unit_test(test_spnego_offering_only_ntlm_is_ntlm),
		cmocka_unit_test(test_spnego_offering_neither_krb5_nor_ntlm_is_unsupported),
		cmocka_unit_test(test_spnego_with_empty_mech_list_is_malformed),
		cmocka_unit_test(test_spnego_krb5_first_with_a_non_krb5_token_is_malformed),
		cmocka_unit_test(test_second_leg_negtokenresp_carries_the_ap_req),
		cmocka_unit_test(test_second_leg_with_ntlm_instead_is_ntlm),
		cmocka_unit_test(test_client_reject_and_tokenless_responses_are_refused),
		cmocka_unit_test(test_client_mechlistmic_is_found_in_init_and_resp),
		cmocka_unit_test(test_negtokeninit2_mic_is_tag_4_and_neghints_is_not_a_mic),
		cmocka_unit_test(test_mechlistmic_that_is_not_a_non_empty_octet_string_is_malformed),
		cmocka_unit_test(test_every_truncation_and_extension_of_each_token_is_refused),
		cmocka_unit_test(test_indefinite_lengths_and_garbage_are_malformed),
		cmocka_unit_test(test_raw_client_gets_a_gss_framed_ap_rep),
		cmocka_unit_test(test_windows_client_gets_accept_completed_with_ms_krb5_and_the_ap_rep),
		cmocka_unit_test(test_need_krb5_leg_answer_is_accept_incomplete_with_krb5_and_no_token),
		cmocka_unit_test(test_second_leg_answer_has_no_supported_mech),
		cmocka_unit_test(test_answers_that_do_not_fit_report_a_short_buffer),
		cmocka_unit_test(test_ntlm_and_unsupported_kinds_get_no_negotiate_answer),
		cmocka_unit_test(test_ntlm_hint_names_the_spn_and_the_two_usual_causes),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
