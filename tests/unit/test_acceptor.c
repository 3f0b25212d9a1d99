/*
 * test_acceptor.c: Kerberos acceptance against tickets minted by the
 * krbmint fixture (real Heimdal encryption, no KDC).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <cmocka.h>

#include <krb5.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <gssapi/gssapi_spnego.h>
#include <mbedtls/sha256.h>

#include "acceptor.h"
#include "negotiate.h"
#include "krbmint.h"
#include "kgbench_pac.h"
#include "replay.h"


static const uint8_t cert_p256_sha256[] = {
	0x30, 0x82, 0x01, 0x94, 0x30, 0x82, 0x01, 0x3b, 0xa0, 0x03, 0x02, 0x01,
	0x02, 0x02, 0x14, 0x7c, 0x70, 0x12, 0x42, 0x94, 0x1a, 0x1c, 0xae, 0x5f,
	0xc3, 0xd5, 0x07, 0x13, 0x18, 0x1c, 0x00, 0xd0, 0xe4, 0x43, 0xdf, 0x30,
	0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x30,
	0x20, 0x31, 0x1e, 0x30, 0x1c, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x15,
	0x6d, 0x61, 0x69, 0x6c, 0x2e, 0x63, 0x6f, 0x72, 0x70, 0x2e, 0x63, 0x6f,
	0x6e, 0x74, 0x6f, 0x73, 0x6f, 0x2e, 0x63, 0x6f, 0x6d, 0x30, 0x1e, 0x17,
	0x0d, 0x32, 0x36, 0x31, 0x31, 0x32, 0x36, 0x30, 0x38, 0x32, 0x33, 0x32,
	0x35, 0x5a, 0x17, 0x0d, 0x33, 0x36, 0x31, 0x31, 0x32, 0x33, 0x30, 0x38,
	0x32, 0x33, 0x32, 0x35, 0x5a, 0x30, 0x20, 0x31, 0x1e, 0x30, 0x1c, 0x06,
	0x03, 0x55, 0x04, 0x03, 0x0c, 0x15, 0x6d, 0x61, 0x69, 0x6c, 0x2e, 0x63,
	0x6f, 0x72, 0x70, 0x2e, 0x63, 0x6f, 0x6e, 0x74, 0x6f, 0x73, 0x6f, 0x2e,
	0x63, 0x6f, 0x6d, 0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
	0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03,
	0x01, 0x07, 0x03, 0x42, 0x00, 0x04, 0x8d, 0xb7, 0x83, 0xb3, 0xf2, 0xc0,
	0xdd, 0x13, 0xee, 0x7e, 0xd9, 0x68, 0xf4, 0xdb, 0xc8, 0xa5, 0xcf, 0x68,
	0x1e, 0xf0, 0x36, 0x72, 0xaa, 0x17, 0x7a, 0xe6, 0x51, 0x2a, 0x41, 0xf6,
	0x19, 0xfd, 0x25, 0x99, 0xda, 0x0d, 0x70, 0x85, 0x9c, 0x00, 0xde, 0x32,
	0xf8, 0xdc, 0x16, 0x0e, 0xcd, 0x78, 0x60, 0x4e, 0xb0, 0xad, 0x93, 0x37,
	0xcb, 0x76, 0x79, 0x07, 0x39, 0xa5, 0x38, 0xe6, 0x21, 0xea, 0xa3, 0x53,
	0x30, 0x51, 0x30, 0x1d, 0x06, 0x03, 0x55, 0x1d, 0x0e, 0x04, 0x16, 0x04,
	0x14, 0x80, 0x2c, 0xd1, 0xdf, 0x84, 0xf2, 0x27, 0x0d, 0xfa, 0x6a, 0xbf,
	0xb3, 0x4b, 0xee, 0xd3, 0x09, 0x37, 0x6e, 0xce, 0xad, 0x30, 0x1f, 0x06,
	0x03, 0x55, 0x1d, 0x23, 0x04, 0x18, 0x30, 0x16, 0x80, 0x14, 0x80, 0x2c,
	0xd1, 0xdf, 0x84, 0xf2, 0x27, 0x0d, 0xfa, 0x6a, 0xbf, 0xb3, 0x4b, 0xee,
	0xd3, 0x09, 0x37, 0x6e, 0xce, 0xad, 0x30, 0x0f, 0x06, 0x03, 0x55, 0x1d,
	0x13, 0x01, 0x01, 0xff, 0x04, 0x05, 0x30, 0x03, 0x01, 0x01, 0xff, 0x30,
	0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x03,
	0x47, 0x00, 0x30, 0x44, 0x02, 0x20, 0x57, 0xb8, 0xc7, 0x6b, 0x7b, 0xfd,
	0x57, 0xb3, 0x3a, 0x5e, 0x55, 0x6b, 0x6f, 0x95, 0x19, 0xec, 0xcd, 0x19,
	0x70, 0x6d, 0x94, 0x3d, 0x03, 0x3d, 0x78, 0x4a, 0x6e, 0x8c, 0x3b, 0x02,
	0xee, 0xe1, 0x02, 0x20, 0x37, 0xb0, 0xf8, 0x52, 0x74, 0xc7, 0x0c, 0x09,
	0x43, 0x47, 0xed, 0x4e, 0x65, 0xd9, 0xdc, 0x9f, 0x93, 0x8b, 0x76, 0x91,
	0x63, 0x4f, 0x54, 0xdc, 0xd0, 0xf3, 0xf4, 0x3c, 0xbf, 0x6d, 0xc6, 0x2f,
};
/* MD5 of the RFC 4121 bindings struct, computed independently (Python hashlib). */
static const uint8_t cert_p256_sha256_bnd[16] = { 0xf5, 0xa6, 0x00, 0x3d, 0xd5, 0xbe, 0x33, 0x81, 0xb9, 0x24, 0x8e, 0x02, 0x59, 0x94, 0xcc, 0x57 };

static const uint8_t cert_p384_sha384[] = {
	0x30, 0x82, 0x01, 0xd3, 0x30, 0x82, 0x01, 0x58, 0xa0, 0x03, 0x02, 0x01,
	0x02, 0x02, 0x14, 0x1f, 0xd8, 0xb8, 0x24, 0xc6, 0xcf, 0x6f, 0x44, 0x92,
	0xb8, 0xd8, 0x9b, 0xfa, 0x34, 0x4f, 0x3b, 0x57, 0xac, 0x7b, 0x9f, 0x30,
	0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03, 0x30,
	0x20, 0x31, 0x1e, 0x30, 0x1c, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x15,
	0x6d, 0x61, 0x69, 0x6c, 0x2e, 0x63, 0x6f, 0x72, 0x70, 0x2e, 0x63, 0x6f,
	0x6e, 0x74, 0x6f, 0x73, 0x6f, 0x2e, 0x63, 0x6f, 0x6d, 0x30, 0x1e, 0x17,
	0x0d, 0x32, 0x36, 0x31, 0x31, 0x32, 0x36, 0x30, 0x38, 0x32, 0x33, 0x32,
	0x35, 0x5a, 0x17, 0x0d, 0x33, 0x36, 0x31, 0x31, 0x32, 0x33, 0x30, 0x38,
	0x32, 0x33, 0x32, 0x35, 0x5a, 0x30, 0x20, 0x31, 0x1e, 0x30, 0x1c, 0x06,
	0x03, 0x55, 0x04, 0x03, 0x0c, 0x15, 0x6d, 0x61, 0x69, 0x6c, 0x2e, 0x63,
	0x6f, 0x72, 0x70, 0x2e, 0x63, 0x6f, 0x6e, 0x74, 0x6f, 0x73, 0x6f, 0x2e,
	0x63, 0x6f, 0x6d, 0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48,
	0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22, 0x03,
	0x62, 0x00, 0x04, 0x62, 0x7d, 0x2d, 0x7d, 0xf6, 0x95, 0xff, 0x95, 0xc4,
	0xa9, 0xea, 0x3e, 0xfd, 0x9c, 0x46, 0x2f, 0xb4, 0x36, 0xac, 0xc1, 0xda,
	0x9b, 0xaa, 0xa7, 0x15, 0xdf, 0xd2, 0x4d, 0x08, 0x5c, 0x41, 0x47, 0xba,
	0x9e, 0x8c, 0x22, 0x7b, 0x5d, 0x09, 0x9b, 0x96, 0x7d, 0x6d, 0x10, 0x78,
	0x3e, 0x5a, 0x6b, 0x6a, 0xfc, 0xd3, 0x35, 0x1b, 0x83, 0xaa, 0x24, 0xdf,
	0x94, 0xff, 0xe2, 0x9b, 0xcf, 0x28, 0x0e, 0xfe, 0xa5, 0x5c, 0xf1, 0x4f,
	0xd1, 0x71, 0xdc, 0xed, 0x0e, 0x80, 0x41, 0xa9, 0x79, 0xa0, 0x69, 0x29,
	0x17, 0x80, 0x1e, 0x9a, 0xc6, 0x3f, 0xd2, 0xc7, 0xfe, 0x13, 0xc1, 0x77,
	0x23, 0xb8, 0x09, 0xa3, 0x53, 0x30, 0x51, 0x30, 0x1d, 0x06, 0x03, 0x55,
	0x1d, 0x0e, 0x04, 0x16, 0x04, 0x14, 0x14, 0x1c, 0xbf, 0xf1, 0xc6, 0x70,
	0x5b, 0x9b, 0xb4, 0xab, 0x88, 0x26, 0xcf, 0x9f, 0x77, 0xcd, 0x52, 0x7f,
	0xff, 0x74, 0x30, 0x1f, 0x06, 0x03, 0x55, 0x1d, 0x23, 0x04, 0x18, 0x30,
	0x16, 0x80, 0x14, 0x14, 0x1c, 0xbf, 0xf1, 0xc6, 0x70, 0x5b, 0x9b, 0xb4,
	0xab, 0x88, 0x26, 0xcf, 0x9f, 0x77, 0xcd, 0x52, 0x7f, 0xff, 0x74, 0x30,
	0x0f, 0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01, 0xff, 0x04, 0x05, 0x30,
	0x03, 0x01, 0x01, 0xff, 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
	0x3d, 0x04, 0x03, 0x03, 0x03, 0x69, 0x00, 0x30, 0x66, 0x02, 0x31, 0x00,
	0xb8, 0x46, 0x90, 0xe1, 0x2d, 0x81, 0xae, 0x0f, 0x7c, 0x0d, 0x8a, 0x6e,
	0xcd, 0x1d, 0x7e, 0x2f, 0xa5, 0x23, 0x9c, 0x9a, 0x20, 0x13, 0xa0, 0x86,
	0x10, 0x0a, 0xb4, 0x63, 0xd9, 0x77, 0x0f, 0x59, 0xdd, 0x86, 0x11, 0x16,
	0x06, 0x1c, 0xce, 0x9c, 0x90, 0x04, 0x5b, 0x8c, 0x50, 0xe9, 0xcc, 0xe2,
	0x02, 0x31, 0x00, 0xd6, 0x96, 0x15, 0x2d, 0xae, 0xfc, 0x9c, 0x5f, 0x44,
	0xe9, 0xed, 0x4a, 0xd2, 0xae, 0x9b, 0xcd, 0xf4, 0x01, 0xb6, 0x69, 0xd0,
	0xe4, 0xbc, 0x04, 0x37, 0x01, 0xc6, 0x98, 0xa7, 0x68, 0x5b, 0x5d, 0xdb,
	0x2f, 0x29, 0xd6, 0xe6, 0xcf, 0x2c, 0xaa, 0xb3, 0x58, 0xb4, 0x02, 0x84,
	0xa9, 0x55, 0x2c,
};
/* MD5 of the RFC 4121 bindings struct, computed independently (Python hashlib). */
static const uint8_t cert_p384_sha384_bnd[16] = { 0x6a, 0x63, 0x47, 0xb6, 0xd0, 0x5e, 0x37, 0x9c, 0xad, 0xf6, 0xae, 0xcf, 0x95, 0xe6, 0x4e, 0xd1 };

/* ---------------------------------------------------------------- fixture */

enum { K5_AES256, K5_AES128, K5_RC4, K6_AES256, K6_AES128, K6_RC4, NKEYS };

static struct mint_key keys[NKEYS];
static struct mint_key stale_aes256;	/* kvno 5, another password */
static char keytab_path[512];
static struct kg_acceptor *acc;

static const char *const served[] = {
	MINT_SPN_HTTP, MINT_SPN_AUTOD, MINT_SPN_MDB,
};

static struct accept_params
params(void)
{
	struct accept_params p;

	memset(&p, 0, sizeof(p));
	p.spns = served;
	p.nspns = 3;
	p.allow_rc4 = true;
	p.cb_mode = CB_OFF;
	p.clock_skew = 300;
	return p;
}

static int
group_setup(void **state)
{
	static const krb5_enctype et[3] = {
		ETYPE_AES256_CTS_HMAC_SHA1_96, ETYPE_AES128_CTS_HMAC_SHA1_96,
		ETYPE_ARCFOUR_HMAC_MD5,
	};
	char err[256];
	int i;

	for (i = 0; i < 3; i++) {
		if (mint_key_from_password(et[i], 5, MINT_PASSWORD, MINT_SALT, &keys[i]) ||
		    mint_key_from_password(et[i], 6, "Asa-Passw0rd-kvno6", MINT_SALT, &keys[3 + i]))
			return -1;
	}
	if (mint_key_from_password(et[0], 5, "an-older-password", MINT_SALT, &stale_aes256))
		return -1;
	if (mint_write_keytab("asa.keytab", MINT_ACCOUNT, keys, NKEYS, keytab_path,
	    sizeof(keytab_path)) != 0)
		return -1;
	if (acceptor_new(&acc, 1024, err, sizeof(err)) != 0)
		return -1;
	/* Every test here authenticates the same client: the per-principal
	 * quota has tests of its own, with acceptors of their own. */
	acceptor_set_replay_quota(acc, 0);
	if (acceptor_load_keytab(acc, keytab_path, served, 3, err, sizeof(err)) != 6) {
		fprintf(stderr, "load: %s\n", err);
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	int i;

	acceptor_free(acc);
	for (i = 0; i < NKEYS; i++)
		mint_key_free(&keys[i]);
	mint_key_free(&stale_aes256);
	return 0;
}

/* A GSS-framed AP-REQ for MINT_SPN_HTTP (or spec->service). */
static krb5_data
token_for(const struct mint_ticket_spec *ts, const struct mint_req_spec *rs, krb5_creds *keep)
{
	krb5_creds creds;
	krb5_data ap, tok;

	assert_int_equal(mint_ticket(ts, &creds), 0);
	assert_int_equal(mint_ap_req(&creds, rs, &ap, NULL), 0);
	assert_int_equal(mint_gss_frame(&ap, false, &tok), 0);
	krb5_data_free(&ap);
	if (keep != NULL)
		*keep = creds;
	else
		krb5_free_cred_contents(mint_context(), &creds);
	return tok;
}

static krb5_data
simple_token(int key)
{
	struct mint_ticket_spec ts = { .key = &keys[key], .forwardable = true };
	struct mint_req_spec rs = { .gss_checksum = true, .gss_flags = MINT_GSS_MUTUAL | MINT_GSS_INTEG,
	    .mutual = true };

	return token_for(&ts, &rs, NULL);
}

static int
accept_with(const krb5_data *tok, const struct accept_params *p, struct accept_result *res)
{
	return acceptor_accept(acc, tok->data, tok->length, p, res);
}

static void
assert_refused(const krb5_data *tok, const struct accept_params *p,
    enum accept_status status, const char *reason)
{
	struct accept_result res;

	assert_int_equal(accept_with(tok, p, &res), -1);
	if (res.status != status || (reason != NULL && strcmp(res.reason, reason) != 0))
		fprintf(stderr, "got status %s, reason \"%s\"\n",
		    acceptor_status_name(res.status), res.reason);
	assert_int_equal(res.status, status);
	if (reason != NULL)
		assert_string_equal(res.reason, reason);
	assert_null(res.ap_rep);
	assert_null(res.ticket);
	acceptor_result_clear(&res);
}

/* ---------------------------------------------------------------- acceptance */

static void
test_aes256_ticket_is_accepted_and_names_the_client(void **state)
{
	struct mint_ticket_spec ts = { .key = &keys[K5_AES256], .forwardable = true };
	struct mint_req_spec rs = { .gss_checksum = true, .gss_flags = MINT_GSS_MUTUAL, .mutual = true };
	struct accept_params p = params();
	struct accept_result res;
	krb5_creds creds;
	krb5_data tok = token_for(&ts, &rs, &creds);

	assert_int_equal(accept_with(&tok, &p, &res), 0);
	assert_int_equal(res.status, ACCEPT_OK);
	assert_string_equal(res.reason, "");
	assert_string_equal(res.client, MINT_CLIENT);
	assert_string_equal(res.server, MINT_SPN_HTTP "@" MINT_REALM);
	assert_int_equal(res.enctype, ETYPE_AES256_CTS_HMAC_SHA1_96);
	assert_string_equal(res.enctype_name, "aes256-cts-hmac-sha1-96");
	assert_int_equal(res.kvno, 5);
	assert_int_equal(res.endtime, creds.times.endtime);
	assert_true(res.forwardable);
	/* The S4U2Proxy evidence is the Ticket exactly as sent. */
	assert_int_equal(res.ticket_len, creds.ticket.length);
	assert_memory_equal(res.ticket, creds.ticket.data, creds.ticket.length);
	acceptor_result_clear(&res);
	krb5_free_cred_contents(mint_context(), &creds);
	krb5_data_free(&tok);
}

static void
test_aes128_ticket_is_accepted(void **state)
{
	struct accept_params p = params();
	struct accept_result res;
	krb5_data tok = simple_token(K5_AES128);

	assert_int_equal(accept_with(&tok, &p, &res), 0);
	assert_string_equal(res.enctype_name, "aes128-cts-hmac-sha1-96");
	acceptor_result_clear(&res);
	krb5_data_free(&tok);
}

static void
test_rc4_ticket_is_accepted_when_allowed_and_reported_as_rc4(void **state)
{
	struct accept_params p = params();
	struct accept_result res;
	krb5_data tok = simple_token(K5_RC4);

	assert_int_equal(accept_with(&tok, &p, &res), 0);
	assert_int_equal(res.enctype, ETYPE_ARCFOUR_HMAC_MD5);
	assert_string_equal(res.enctype_name, "rc4-hmac");
	acceptor_result_clear(&res);
	krb5_data_free(&tok);
}

static void
test_newer_kvno_is_accepted_next_to_the_older(void **state)
{
	struct accept_params p = params();
	struct accept_result res;
	krb5_data tok = simple_token(K6_AES256);

	assert_int_equal(accept_with(&tok, &p, &res), 0);
	assert_int_equal(res.kvno, 6);
	acceptor_result_clear(&res);
	krb5_data_free(&tok);
}

static void
test_bare_unframed_ap_req_is_accepted(void **state)
{
	struct mint_ticket_spec ts = { .key = &keys[K5_AES256] };
	struct mint_req_spec rs = { 0 };
	struct accept_params p = params();
	struct accept_result res;
	krb5_creds creds;
	krb5_data ap;

	assert_int_equal(mint_ticket(&ts, &creds), 0);
	assert_int_equal(mint_ap_req(&creds, &rs, &ap, NULL), 0);
	assert_int_equal(accept_with(&ap, &p, &res), 0);
	assert_false(res.mutual);
	assert_null(res.ap_rep);
	assert_false(res.forwardable);
	acceptor_result_clear(&res);
	krb5_free_cred_contents(mint_context(), &creds);
	krb5_data_free(&ap);
}

static void
test_ticket_for_another_served_spn_decrypts_with_the_same_account_key(void **state)
{
	struct mint_ticket_spec ts = { .key = &keys[K5_AES256],
	    .service = MINT_SPN_MDB "@" MINT_REALM };
	struct mint_req_spec rs = { .gss_checksum = true };
	struct accept_params p = params();
	struct accept_result res;
	krb5_data tok = token_for(&ts, &rs, NULL);

	assert_int_equal(accept_with(&tok, &p, &res), 0);
	assert_string_equal(res.server, MINT_SPN_MDB "@" MINT_REALM);
	acceptor_result_clear(&res);
	krb5_data_free(&tok);
}

static void
test_spn_case_differences_are_ignored_as_in_active_directory(void **state)
{
	struct mint_ticket_spec ts = { .key = &keys[K5_AES256],
	    .service = "HTTP/Mail.Corp.Contoso.com@CORP.CONTOSO.COM" };
	struct mint_req_spec rs = { .gss_checksum = true };
	struct accept_params p = params();
	struct accept_result res;
	krb5_data tok = token_for(&ts, &rs, NULL);

	assert_int_equal(accept_with(&tok, &p, &res), 0);
	assert_string_equal(res.server, "HTTP/Mail.Corp.Contoso.com@CORP.CONTOSO.COM");
	acceptor_result_clear(&res);
	krb5_data_free(&tok);
}

static void
test_ticket_without_kvno_uses_the_newest_key(void **state)
{
	struct mint_ticket_spec ts = { .key = &keys[K6_AES256], .omit_kvno = true };
	struct mint_req_spec rs = { .gss_checksum = true };
	struct accept_params p = params();
	struct accept_result res;
	krb5_data tok = token_for(&ts, &rs, NULL);

	assert_int_equal(accept_with(&tok, &p, &res), 0);
	assert_int_equal(res.kvno, 0);
	acceptor_result_clear(&res);
	krb5_data_free(&tok);
}

/* ---------------------------------------------------------------- keys */

static void
test_ticket_kvno_not_in_keytab_names_the_kvnos_held(void **state)
{
	struct mint_key k7;
	struct mint_ticket_spec ts = { .key = &k7 };
	struct mint_req_spec rs = { .gss_checksum = true };
	struct accept_params p = params();
	krb5_data tok;

	assert_int_equal(mint_key_from_password(ETYPE_AES256_CTS_HMAC_SHA1_96, 7, "kvno7",
	    MINT_SALT, &k7), 0);
	tok = token_for(&ts, &rs, NULL);
	assert_refused(&tok, &p, ACCEPT_KVNO_NOT_IN_KEYTAB,
	    "ticket kvno 7 not in keytab (have 5,6) for http/mail.corp.contoso.com");
	krb5_data_free(&tok);
	mint_key_free(&k7);
}

/*
 * MS-KILE 3.4.5: a server that cannot decrypt a ticket with the key of the
 * ticket's kvno tries its other keys.  A ticket claiming kvno 7 (not held)
 * or kvno 5 but made with kvno 6's key is accepted, on either path.
 */
static void
test_other_retained_keys_are_tried_when_the_kvno_does_not_fit(void **state)
{
	static const int wrong_kvno[] = { 7, 5 };
	static const int key[] = { K6_AES256, K6_RC4 };
	struct mint_req_spec rs = { .gss_checksum = true, .gss_flags = MINT_GSS_MUTUAL,
	    .mutual = true };
	struct accept_params p = params();
	struct accept_result res;
	struct mint_key k;
	krb5_data tok;
	size_t i, j;

	for (i = 0; i < 2; i++)
		for (j = 0; j < 2; j++) {
			struct mint_ticket_spec ts = { .key = &k };

			k = keys[key[j]];		/* shallow: not freed here */
			k.kvno = wrong_kvno[i];
			tok = token_for(&ts, &rs, NULL);
			if (accept_with(&tok, &p, &res) != 0)
				fail_msg("kvno %d, key %d: %s", wrong_kvno[i], key[j],
				    res.reason);
			assert_int_equal(res.kvno, wrong_kvno[i]);
			assert_non_null(res.ap_rep);
			acceptor_result_clear(&res);
			krb5_data_free(&tok);
		}
}

/* The KRB-ERROR of a refusal, unwrapped and decoded. */
static void
error_token_is(const struct accept_result *res, int code, bool skew_data)
{
	const uint8_t *body;
	uint8_t *tok;
	size_t len, blen, sz;
	KRB_ERROR e;

	assert_int_equal(acceptor_error_token(acc, res, &tok, &len), 1);
	assert_int_equal(neg_gss_krb5_unwrap(tok, len, 0x0300, NULL, &body, &blen), 0);
	memset(&e, 0, sizeof(e));
	assert_int_equal(decode_KRB_ERROR(body, blen, &e, &sz), 0);
	assert_int_equal(e.error_code, code);
	assert_int_equal(labs((long)(e.stime - time(NULL))) <= 2, 1);
	assert_int_equal(e.sname.name_string.len, 2);
	assert_string_equal(e.sname.name_string.val[0], "http");
	if (skew_data) {
		assert_non_null(e.e_data);
		assert_int_equal(e.e_data->length, 7);
		assert_memory_equal(e.e_data->data, "\x30\x05\xa1\x03\x02\x01\x02", 7);
	} else
		assert_null(e.e_data);
	free_KRB_ERROR(&e);
	free(tok);
}

/* As a Windows server: KRB_AP_ERR_MODIFIED (41), KRB_AP_ERR_SKEW (37). */
static void
test_refusals_carry_the_kerberos_error_windows_sends(void **state)
{
	struct mint_ticket_spec stale = { .key = &stale_aes256 };
	struct mint_ticket_spec good = { .key = &keys[K5_AES256] };
	struct mint_req_spec rs = { .gss_checksum = true };
	struct mint_req_spec late = { .gss_checksum = true, .clock_offset = 1000 };
	struct accept_params p = params();
	struct accept_result res;
	uint8_t *tok;
	size_t len;
	krb5_data t;

	t = token_for(&stale, &rs, NULL);
	assert_int_equal(accept_with(&t, &p, &res), -1);
	error_token_is(&res, 41, false);
	acceptor_result_clear(&res);
	krb5_data_free(&t);
	t = token_for(&good, &late, NULL);
	assert_int_equal(accept_with(&t, &p, &res), -1);
	assert_int_equal(res.status, ACCEPT_CLOCK_SKEW);
	error_token_is(&res, 37, true);
	/* A replay, an SPN not served: no Kerberos error to send. */
	res.status = ACCEPT_REPLAY;
	assert_int_equal(acceptor_error_token(acc, &res, &tok, &len), 0);
	assert_null(tok);
	acceptor_result_clear(&res);
	krb5_data_free(&t);
}

static void
test_enctype_missing_at_a_held_kvno_names_the_enctypes_held(void **state)
{
	struct kg_acceptor *a2;
	struct accept_params p = params();
	struct accept_result res;
	char path[512], err[256];
	krb5_data tok = simple_token(K5_AES128);

	assert_int_equal(mint_write_keytab("aes256only.keytab", MINT_ACCOUNT, &keys[K5_AES256], 1,
	    path, sizeof(path)), 0);
	assert_int_equal(acceptor_new(&a2, 64, err, sizeof(err)), 0);
	assert_int_equal(acceptor_load_keytab(a2, path, served, 3, err, sizeof(err)), 1);
	assert_int_equal(acceptor_accept(a2, tok.data, tok.length, &p, &res), -1);
	assert_int_equal(res.status, ACCEPT_NO_KEY);
	assert_string_equal(res.reason, "no aes128-cts-hmac-sha1-96 key for kvno 5 in keytab "
	    "(have aes256-cts-hmac-sha1-96) for http/mail.corp.contoso.com");
	acceptor_result_clear(&res);
	acceptor_free(a2);
	krb5_data_free(&tok);
}

static void
test_ticket_under_a_stale_key_says_the_keytab_is_stale(void **state)
{
	struct mint_ticket_spec ts = { .key = &stale_aes256 };
	struct mint_req_spec rs = { .gss_checksum = true };
	struct accept_params p = params();
	krb5_data tok = token_for(&ts, &rs, NULL);

	assert_refused(&tok, &p, ACCEPT_WRONG_KEY,
	    "ticket for http/mail.corp.contoso.com does not decrypt with the keytab's key "
	    "for kvno 5: the keytab is stale or for another account");
	krb5_data_free(&tok);
}

static void
test_ticket_for_an_spn_not_served_here_is_refused(void **state)
{
	struct mint_ticket_spec ts = { .key = &keys[K5_AES256], .service = "http/x@" MINT_REALM };
	struct mint_req_spec rs = { .gss_checksum = true };
	struct accept_params p = params();
	krb5_data tok = token_for(&ts, &rs, NULL);

	assert_refused(&tok, &p, ACCEPT_SPN_NOT_SERVED, "SPN http/x not served here");
	krb5_data_free(&tok);
}

static void
test_spn_in_keytab_but_not_served_by_this_virtual_host_is_refused(void **state)
{
	struct mint_ticket_spec ts = { .key = &keys[K5_AES256],
	    .service = MINT_SPN_AUTOD "@" MINT_REALM };
	struct mint_req_spec rs = { .gss_checksum = true };
	struct accept_params p = params();
	krb5_data tok = token_for(&ts, &rs, NULL);

	p.nspns = 1;	/* this virtual host serves http/mail only */
	assert_refused(&tok, &p, ACCEPT_SPN_NOT_SERVED,
	    "SPN http/autod.corp.contoso.com not served here");
	krb5_data_free(&tok);
}

static void
test_ticket_from_another_realm_is_not_served(void **state)
{
	struct mint_ticket_spec ts = { .key = &keys[K5_AES256],
	    .service = MINT_SPN_HTTP "@EVIL.EXAMPLE" };
	struct mint_req_spec rs = { .gss_checksum = true };
	struct accept_params p = params();
	const char *with_realm[] = { MINT_SPN_HTTP "@" MINT_REALM };
	krb5_data tok = token_for(&ts, &rs, NULL);

	p.spns = with_realm;
	p.nspns = 1;
	assert_refused(&tok, &p, ACCEPT_SPN_NOT_SERVED,
	    "SPN http/mail.corp.contoso.com not served here");
	p = params();	/* without a realm in the config, the keytab's realm decides */
	assert_refused(&tok, &p, ACCEPT_NO_KEY, NULL);
	krb5_data_free(&tok);
}

/* ---------------------------------------------------------------- enctypes */

static void
test_rc4_ticket_is_refused_when_rc4_is_disabled(void **state)
{
	struct accept_params p = params();
	krb5_data tok = simple_token(K5_RC4);

	p.allow_rc4 = false;
	assert_refused(&tok, &p, ACCEPT_ENCTYPE_DISABLED, "enctype rc4-hmac disabled");
	krb5_data_free(&tok);
}

static void
test_aes_ticket_with_an_rc4_session_key_is_refused_when_rc4_is_disabled(void **state)
{
	struct mint_ticket_spec ts = { .key = &keys[K5_AES256],
	    .session_enctype = ETYPE_ARCFOUR_HMAC_MD5 };
	struct mint_req_spec rs = { .gss_checksum = true };
	struct accept_params p = params();
	krb5_data tok = token_for(&ts, &rs, NULL);
	struct accept_result res;

	p.allow_rc4 = false;
	assert_refused(&tok, &p, ACCEPT_ENCTYPE_DISABLED,
	    "session key enctype rc4-hmac disabled");
	/* Refused before the replay cache saw it: with RC4 allowed it passes. */
	p.allow_rc4 = true;
	assert_int_equal(accept_with(&tok, &p, &res), 0);
	acceptor_result_clear(&res);
	krb5_data_free(&tok);
}

/* ---------------------------------------------------------------- time */

static void
test_client_clock_far_off_is_refused_with_the_skew_in_seconds(void **state)
{
	struct mint_ticket_spec ts = { .key = &keys[K5_AES256] };
	struct mint_req_spec rs = { .gss_checksum = true, .clock_offset = 412 };
	struct accept_params p = params();
	struct accept_result res;
	krb5_data tok = token_for(&ts, &rs, NULL);

	assert_int_equal(accept_with(&tok, &p, &res), -1);
	assert_int_equal(res.status, ACCEPT_CLOCK_SKEW);
	/* The seconds tick between minting and accepting at most once. */
	assert_true(strcmp(res.reason, "clock skew 412 s") == 0 ||
	    strcmp(res.reason, "clock skew 411 s") == 0);
	acceptor_result_clear(&res);
	krb5_data_free(&tok);
}

static void
test_client_clock_behind_within_the_skew_bound_is_accepted(void **state)
{
	struct mint_ticket_spec ts = { .key = &keys[K5_AES256] };
	struct mint_req_spec rs = { .gss_checksum = true, .clock_offset = -250 };
	struct accept_params p = params();
	struct accept_result res;
	krb5_data tok = token_for(&ts, &rs, NULL);

	assert_int_equal(accept_with(&tok, &p, &res), 0);
	acceptor_result_clear(&res);
	krb5_data_free(&tok);
}

static void
test_skew_bound_comes_from_the_params(void **state)
{
	struct mint_ticket_spec ts = { .key = &keys[K5_AES256] };
	struct mint_req_spec rs = { .gss_checksum = true, .clock_offset = -100 };
	struct accept_params p = params();
	krb5_data tok = token_for(&ts, &rs, NULL);

	p.clock_skew = 30;
	assert_refused(&tok, &p, ACCEPT_CLOCK_SKEW, NULL);
	krb5_data_free(&tok);
}

static void
test_expired_ticket_is_refused(void **state)
{
	struct mint_ticket_spec ts = { .key = &keys[K5_AES256], .authtime_offset = -72000,
	    .lifetime = 36000 };
	struct mint_req_spec rs = { .gss_checksum = true };
	struct accept_params p = params();
	krb5_data tok = token_for(&ts, &rs, NULL);

	assert_refused(&tok, &p, ACCEPT_TICKET_EXPIRED, "ticket expired");
	krb5_data_free(&tok);
}

static void
test_postdated_ticket_not_yet_valid_is_refused(void **state)
{
	struct mint_ticket_spec ts = { .key = &keys[K5_AES256], .starttime_offset = 3600 };
	struct mint_req_spec rs = { .gss_checksum = true };
	struct accept_params p = params();
	krb5_data tok = token_for(&ts, &rs, NULL);

	assert_refused(&tok, &p, ACCEPT_TICKET_NOT_YET_VALID, "ticket not yet valid");
	krb5_data_free(&tok);
}

/* ---------------------------------------------------------------- replay */

static void
test_same_token_twice_is_refused_as_a_replay(void **state)
{
	struct accept_params p = params();
	struct accept_result res;
	krb5_data tok = simple_token(K5_AES256);

	assert_int_equal(accept_with(&tok, &p, &res), 0);
	assert_string_equal(res.client, MINT_CLIENT);
	acceptor_result_clear(&res);
	assert_int_equal(accept_with(&tok, &p, &res), -1);
	assert_int_equal(res.status, ACCEPT_REPLAY);
	assert_string_equal(res.reason, "replayed authenticator");
	assert_string_equal(res.client, MINT_CLIENT);	/* the log can say who */
	acceptor_result_clear(&res);
	krb5_data_free(&tok);
}

static void
test_same_ap_req_inside_spnego_after_raw_is_still_a_replay(void **state)
{
	static const enum mint_mech windows[] = { MINT_MS_KRB5, MINT_KRB5, MINT_NEGOEX, MINT_NTLM };
	struct accept_params p = params();
	struct accept_result res;
	struct neg_token nt;
	krb5_data tok = simple_token(K5_AES256), spnego;

	assert_int_equal(mint_spnego_init(windows, 4, &tok, &spnego), 0);
	assert_int_equal(accept_with(&tok, &p, &res), 0);
	acceptor_result_clear(&res);
	assert_int_equal(neg_classify(spnego.data, spnego.length, &nt), NEG_OK);
	assert_int_equal(acceptor_accept(acc, nt.krb5_token, nt.krb5_token_len, &p, &res), -1);
	assert_int_equal(res.status, ACCEPT_REPLAY);
	acceptor_result_clear(&res);
	krb5_data_free(&spnego);
	krb5_data_free(&tok);
}

static void
test_refused_token_does_not_enter_the_replay_cache(void **state)
{
	struct mint_req_spec rs = { .gss_checksum = true };
	struct mint_ticket_spec ts = { .key = &keys[K5_AES256] };
	struct accept_params p = params();
	struct accept_result res;
	uint8_t other[16];
	krb5_data tok;

	memset(other, 0x42, sizeof(other));
	rs.bnd = other;
	tok = token_for(&ts, &rs, NULL);
	p.cb_mode = CB_ACCEPT;
	memset(p.cb_expected, 0x17, sizeof(p.cb_expected));
	assert_refused(&tok, &p, ACCEPT_CB_MISMATCH, NULL);
	p.cb_mode = CB_OFF;
	assert_int_equal(accept_with(&tok, &p, &res), 0);
	acceptor_result_clear(&res);
	krb5_data_free(&tok);
}

/*
 * Waits until just after the start of a wall-clock second, so that minting
 * an AP-REQ and presenting it twice almost always fall in the same second.
 * Not right at the start: time() reads a coarse clock that may still show
 * the previous second for a few milliseconds after gettimeofday() moved on.
 */
static void
at_second_start(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec = 0;
	ts.tv_nsec = 1000000000L - ts.tv_nsec + 50000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec = 1;
		ts.tv_nsec -= 1000000000L;
	}
	nanosleep(&ts, NULL);
}

/*
 * An authenticator whose ctime is exactly `skew` seconds behind the
 * acceptor's clock is the last one the skew check lets through (the bound
 * is inclusive, on both paths).  Presented twice in that second, the
 * second time must be a replay.  A retry covers the rare second that
 * ticks between minting and the first acceptance (then the skew check
 * refuses the first, which proves nothing about the cache).
 */
static void
replay_at_the_skew_edge_is_refused(int key)
{
	struct mint_ticket_spec ts = { .key = &keys[key] };
	struct mint_req_spec rs = { .gss_checksum = true, .clock_offset = -300 };
	struct accept_params p = params();
	struct accept_result res;
	krb5_data tok;
	time_t t0;
	int tries, rc = -1;

	for (tries = 0; tries < 5 && rc != 0; tries++) {
		at_second_start();
		t0 = time(NULL);
		tok = token_for(&ts, &rs, NULL);
		rc = accept_with(&tok, &p, &res);
		acceptor_result_clear(&res);
		if (rc != 0)
			krb5_data_free(&tok);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(accept_with(&tok, &p, &res), -1);
	/* Refused either way; as a replay unless the second ticked over. */
	if (time(NULL) == t0)
		assert_int_equal(res.status, ACCEPT_REPLAY);
	else
		assert_true(res.status == ACCEPT_REPLAY || res.status == ACCEPT_CLOCK_SKEW);
	acceptor_result_clear(&res);
	krb5_data_free(&tok);
}

static void
test_replay_at_the_skew_edge_is_refused_on_the_fast_path(void **state)
{
	uint64_t fast = 0, slow = 0, fast1, slow1;

	acceptor_path_counts(acc, &fast, &slow);
	replay_at_the_skew_edge_is_refused(K5_AES256);
	acceptor_path_counts(acc, &fast1, &slow1);
	assert_true(fast1 > fast);
}

static void
test_replay_at_the_skew_edge_is_refused_on_the_heimdal_path(void **state)
{
	uint64_t fast = 0, slow = 0, fast1, slow1;

	acceptor_path_counts(acc, &fast, &slow);
	replay_at_the_skew_edge_is_refused(K5_RC4);
	acceptor_path_counts(acc, &fast1, &slow1);
	assert_true(slow1 > slow);
}

/*
 * A flood of fresh authenticators must not push a live entry out of a full
 * cache: that entry's AP-REQ would then be accepted a second time.
 */
static void
test_full_replay_cache_refuses_rather_than_forgets(void **state)
{
	struct kg_acceptor *small;
	struct accept_params p = params();
	struct accept_result res;
	krb5_data victim = simple_token(K5_AES256), flood[3];
	char err[256];
	int i;

	assert_int_equal(acceptor_new(&small, 2, err, sizeof(err)), 0);
	assert_int_equal(acceptor_load_keytab(small, keytab_path, served, 3, err,
	    sizeof(err)), 6);
	assert_int_equal(acceptor_accept(small, victim.data, victim.length, &p, &res), 0);
	acceptor_result_clear(&res);
	for (i = 0; i < 3; i++) {
		flood[i] = simple_token(i == 2 ? K5_RC4 : K5_AES256);
		acceptor_accept(small, flood[i].data, flood[i].length, &p, &res);
		if (i >= 1) {
			assert_int_equal(res.status, ACCEPT_REPLAY_CACHE_FULL);
			assert_string_equal(res.reason, "replay cache full");
		}
		acceptor_result_clear(&res);
	}
	assert_int_equal(acceptor_accept(small, victim.data, victim.length, &p, &res), -1);
	assert_int_equal(res.status, ACCEPT_REPLAY);
	acceptor_result_clear(&res);
	for (i = 0; i < 3; i++)
		krb5_data_free(&flood[i]);
	krb5_data_free(&victim);
	acceptor_free(small);
}

/* After an unplanned keyholder restart, an authenticator made before it is
 * refused (the dead keyholder may have taken it); a fresh one passes. */
static void
test_authenticator_older_than_a_crash_restart_is_refused(void **state)
{
	struct kg_acceptor *fresh;
	struct kg_replay *rc = replay_new(16);
	struct mint_ticket_spec ts = { .key = &keys[K5_AES256] };
	struct mint_req_spec old_rs = { .gss_checksum = true, .clock_offset = -5 };
	struct mint_req_spec new_rs = { .gss_checksum = true, .clock_offset = 2 };
	struct accept_params p = params();
	struct accept_result res;
	krb5_data old_tok = token_for(&ts, &old_rs, NULL);
	krb5_data new_tok = token_for(&ts, &new_rs, NULL);
	char err[256];

	assert_non_null(rc);
	assert_int_equal(acceptor_new(&fresh, 1, err, sizeof(err)), 0);
	assert_int_equal(acceptor_load_keytab(fresh, keytab_path, served, 3, err,
	    sizeof(err)), 6);
	replay_set_skew(rc, p.clock_skew);
	replay_note_restart(rc, time(NULL));
	acceptor_use_replay(fresh, rc);
	assert_int_equal(acceptor_accept(fresh, old_tok.data, old_tok.length, &p, &res), -1);
	assert_int_equal(res.status, ACCEPT_REPLAY);
	assert_non_null(strstr(res.reason, "older than the keyholder's restart"));
	acceptor_result_clear(&res);
	assert_int_equal(acceptor_accept(fresh, new_tok.data, new_tok.length, &p, &res), 0);
	acceptor_result_clear(&res);
	krb5_data_free(&old_tok);
	krb5_data_free(&new_tok);
	acceptor_free(fresh);
}

/*
 * One authenticated user, one service ticket, many authenticators (each a
 * local encryption for the client): with ctime = now + skew, each entry
 * lives 2 * skew.  Without a quota the cache fills with one principal's
 * entries and every other user is refused (503) until they expire.  With
 * it, only that principal is refused, and says why.
 */
static int
flood_as(struct kg_acceptor *a, int key, const char *client, int n,
    enum accept_status *last, char *reason, size_t reasonlen)
{
	struct mint_ticket_spec ts = { .key = &keys[key], .client = client };
	struct mint_req_spec ahead = { .gss_checksum = true, .clock_offset = 300 };
	struct accept_params p = params();
	struct accept_result res;
	krb5_creds creds;
	krb5_data ap, tok;
	int i, ok = 0;

	assert_int_equal(mint_ticket(&ts, &creds), 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(mint_ap_req(&creds, &ahead, &ap, NULL), 0);
		assert_int_equal(mint_gss_frame(&ap, false, &tok), 0);
		if (acceptor_accept(a, tok.data, tok.length, &p, &res) == 0)
			ok++;
		*last = res.status;
		snprintf(reason, reasonlen, "%s", res.reason);
		acceptor_result_clear(&res);
		krb5_data_free(&ap);
		krb5_data_free(&tok);
	}
	krb5_free_cred_contents(mint_context(), &creds);
	return ok;
}

static void
one_principal_cannot_fill_the_replay_cache(int key)
{
	struct kg_acceptor *small;
	struct accept_params p = params();
	struct accept_result res;
	krb5_data victim = simple_token(key);
	enum accept_status last;
	char err[256], reason[384];
	uint64_t fast = 0, slow = 0, fast1, slow1;

	assert_int_equal(acceptor_new(&small, 1024, err, sizeof(err)), 0);
	assert_int_equal(acceptor_load_keytab(small, keytab_path, served, 3, err,
	    sizeof(err)), 6);
	acceptor_path_counts(small, &fast, &slow);
	/* The default quota of a 1024-entry cache: 1024 / 16 = 64. */
	assert_int_equal(flood_as(small, key, "mallory@CORP.CONTOSO.COM", 1024,
	    &last, reason, sizeof(reason)), 64);
	assert_int_equal(last, ACCEPT_REPLAY_QUOTA);
	assert_string_equal(reason, "too many authentications by "
	    "mallory@CORP.CONTOSO.COM in the replay window (quota 64): slow "
	    "down or raise replay_cache_per_principal");
	assert_string_equal(acceptor_status_name(last), "replay-quota");
	acceptor_path_counts(small, &fast1, &slow1);
	/* The path under test judged them all (RC4 never takes the fast
	 * one; its refusals are final, Heimdal never sees them). */
	if (key == K5_RC4)
		assert_true(slow1 == slow + 1024 && fast1 == fast);
	else
		assert_true(fast1 == fast + 64 && slow1 == slow);
	/* Everyone else still gets in, the victim's token only once. */
	assert_int_equal(acceptor_accept(small, victim.data, victim.length, &p, &res), 0);
	acceptor_result_clear(&res);
	assert_int_equal(acceptor_accept(small, victim.data, victim.length, &p, &res), -1);
	assert_int_equal(res.status, ACCEPT_REPLAY);
	acceptor_result_clear(&res);
	assert_int_equal(flood_as(small, key, "bob@CORP.CONTOSO.COM", 3, &last,
	    reason, sizeof(reason)), 3);
	krb5_data_free(&victim);
	acceptor_free(small);
}

static void
test_one_principal_cannot_fill_the_replay_cache(void **state)
{
	(void)state;
	one_principal_cannot_fill_the_replay_cache(K5_AES256);
}

static void
test_one_principal_cannot_fill_the_replay_cache_on_the_heimdal_path(void **state)
{
	(void)state;
	one_principal_cannot_fill_the_replay_cache(K5_RC4);
}

/* replay_cache_per_principal 0: no quota, the cache-full refusal as before. */
static void
test_replay_quota_zero_means_no_quota(void **state)
{
	struct kg_acceptor *small;
	enum accept_status last;
	char err[256], reason[384];

	(void)state;
	assert_int_equal(acceptor_new(&small, 1024, err, sizeof(err)), 0);
	assert_int_equal(acceptor_load_keytab(small, keytab_path, served, 3, err,
	    sizeof(err)), 6);
	acceptor_set_replay_quota(small, 0);
	assert_int_equal(flood_as(small, K5_AES256, "mallory@CORP.CONTOSO.COM",
	    1025, &last, reason, sizeof(reason)), 1024);
	assert_int_equal(last, ACCEPT_REPLAY_CACHE_FULL);
	acceptor_free(small);
}

/* ---------------------------------------------------------------- channel bindings */

static krb5_data
cb_token(const uint8_t *bnd, bool gss_checksum)
{
	struct mint_ticket_spec ts = { .key = &keys[K5_AES256] };
	struct mint_req_spec rs = { .gss_checksum = gss_checksum, .bnd = bnd,
	    .gss_flags = MINT_GSS_MUTUAL };

	return token_for(&ts, &rs, NULL);
}

static struct accept_params
cb_params(enum cb_mode mode)
{
	struct accept_params p = params();

	p.cb_mode = mode;
	assert_int_equal(acceptor_cb_hash_from_cert(cert_p256_sha256, sizeof(cert_p256_sha256),
	    p.cb_expected), 0);
	return p;
}

static void
test_cb_hash_of_a_sha256_certificate_matches_an_independent_computation(void **state)
{
	uint8_t h[16];

	assert_int_equal(acceptor_cb_hash_from_cert(cert_p256_sha256, sizeof(cert_p256_sha256), h), 0);
	assert_memory_equal(h, cert_p256_sha256_bnd, 16);
}

static void
test_cb_hash_of_a_sha384_signed_certificate_uses_sha384(void **state)
{
	uint8_t h[16];

	assert_int_equal(acceptor_cb_hash_from_cert(cert_p384_sha384, sizeof(cert_p384_sha384), h), 0);
	assert_memory_equal(h, cert_p384_sha384_bnd, 16);
}

static void
test_cb_hash_of_garbage_is_an_error(void **state)
{
	uint8_t h[16];

	assert_int_equal(acceptor_cb_hash_from_cert(cert_p256_sha256, 100, h), -1);
	assert_int_equal(acceptor_cb_hash_from_cert(NULL, 0, h), -1);
}

static void
test_matching_bindings_pass_under_require(void **state)
{
	struct accept_params p = cb_params(CB_REQUIRE);
	struct accept_result res;
	krb5_data tok = cb_token(cert_p256_sha256_bnd, true);

	assert_int_equal(accept_with(&tok, &p, &res), 0);
	assert_true(res.channel_bound);
	assert_int_equal(res.gss_flags, MINT_GSS_MUTUAL);
	acceptor_result_clear(&res);
	krb5_data_free(&tok);
}

static void
test_matching_bindings_pass_under_accept(void **state)
{
	struct accept_params p = cb_params(CB_ACCEPT);
	struct accept_result res;
	krb5_data tok = cb_token(cert_p256_sha256_bnd, true);

	assert_int_equal(accept_with(&tok, &p, &res), 0);
	assert_true(res.channel_bound);
	acceptor_result_clear(&res);
	krb5_data_free(&tok);
}

static void
test_mismatching_bindings_are_refused_under_accept(void **state)
{
	struct accept_params p = cb_params(CB_ACCEPT);
	krb5_data tok = cb_token(cert_p384_sha384_bnd, true);

	assert_refused(&tok, &p, ACCEPT_CB_MISMATCH,
	    "channel bindings do not match the VIP certificate");
	krb5_data_free(&tok);
}

static void
test_mismatching_bindings_are_refused_under_require(void **state)
{
	struct accept_params p = cb_params(CB_REQUIRE);
	krb5_data tok = cb_token(cert_p384_sha384_bnd, true);

	assert_refused(&tok, &p, ACCEPT_CB_MISMATCH,
	    "channel bindings do not match the VIP certificate");
	krb5_data_free(&tok);
}

static void
test_absent_bindings_are_refused_under_require(void **state)
{
	struct accept_params p = cb_params(CB_REQUIRE);
	krb5_data tok = cb_token(NULL, true);

	assert_refused(&tok, &p, ACCEPT_CB_MISSING,
	    "channel bindings required but the client sent none");
	krb5_data_free(&tok);
}

static void
test_ap_req_without_a_gss_checksum_has_no_bindings_for_require(void **state)
{
	struct accept_params p = cb_params(CB_REQUIRE);
	krb5_data tok = cb_token(NULL, false);

	assert_refused(&tok, &p, ACCEPT_CB_MISSING,
	    "channel bindings required but the client sent none");
	krb5_data_free(&tok);
}

static void
test_absent_bindings_pass_under_accept(void **state)
{
	struct accept_params p = cb_params(CB_ACCEPT);
	struct accept_result res;
	krb5_data tok = cb_token(NULL, true);

	assert_int_equal(accept_with(&tok, &p, &res), 0);
	assert_false(res.channel_bound);
	acceptor_result_clear(&res);
	krb5_data_free(&tok);
}

static void
test_any_bindings_pass_when_channel_binding_is_off(void **state)
{
	struct accept_params p = cb_params(CB_OFF);
	struct accept_result res;
	krb5_data tok = cb_token(cert_p384_sha384_bnd, true);

	assert_int_equal(accept_with(&tok, &p, &res), 0);
	acceptor_result_clear(&res);
	krb5_data_free(&tok);
}

/* ---------------------------------------------------------------- mutual auth */

static void
check_ap_rep_with_rd_rep(int key, bool subkey)
{
	struct mint_ticket_spec ts = { .key = &keys[key] };
	struct mint_req_spec rs = { .gss_checksum = true, .gss_flags = MINT_GSS_MUTUAL,
	    .mutual = true, .subkey = subkey };
	struct accept_params p = params();
	struct accept_result res;
	krb5_auth_context client_ac = NULL;
	krb5_ap_rep_enc_part *repl = NULL;
	krb5_creds creds;
	krb5_data ap, rep;

	assert_int_equal(mint_ticket(&ts, &creds), 0);
	assert_int_equal(mint_ap_req(&creds, &rs, &ap, &client_ac), 0);
	assert_int_equal(acceptor_accept(acc, ap.data, ap.length, &p, &res), 0);
	assert_true(res.mutual);
	assert_non_null(res.ap_rep);
	rep.data = res.ap_rep;
	rep.length = res.ap_rep_len;
	assert_int_equal(krb5_rd_rep(mint_context(), client_ac, &rep, &repl), 0);
	assert_non_null(repl);
	assert_non_null(repl->seq_number);
	krb5_free_ap_rep_enc_part(mint_context(), repl);
	krb5_auth_con_free(mint_context(), client_ac);
	acceptor_result_clear(&res);
	krb5_free_cred_contents(mint_context(), &creds);
	krb5_data_free(&ap);
}

static void
test_mutual_auth_ap_rep_is_accepted_by_krb5_rd_rep_aes(void **state)
{
	check_ap_rep_with_rd_rep(K5_AES256, false);
	check_ap_rep_with_rd_rep(K5_AES128, true);
}

static void
test_mutual_auth_ap_rep_is_accepted_by_krb5_rd_rep_rc4(void **state)
{
	check_ap_rep_with_rd_rep(K5_RC4, false);
}

static void
test_gss_mutual_flag_alone_asks_for_an_ap_rep(void **state)
{
	struct mint_ticket_spec ts = { .key = &keys[K5_AES256] };
	struct mint_req_spec rs = { .gss_checksum = true, .gss_flags = MINT_GSS_MUTUAL };
	struct accept_params p = params();
	struct accept_result res;
	krb5_data tok = token_for(&ts, &rs, NULL);

	assert_int_equal(accept_with(&tok, &p, &res), 0);
	assert_true(res.mutual);
	assert_non_null(res.ap_rep);
	acceptor_result_clear(&res);
	krb5_data_free(&tok);
}

static void
test_ap_rep_wrapped_for_a_raw_krb5_client_is_a_gss_token(void **state)
{
	struct accept_params p = params();
	struct accept_result res;
	struct neg_token nt;
	uint8_t out[4096];
	const uint8_t *body;
	size_t n, blen;
	enum neg_mech mech;
	krb5_data tok = simple_token(K5_AES256);

	assert_int_equal(neg_classify(tok.data, tok.length, &nt), NEG_OK);
	assert_int_equal(nt.kind, NEG_KRB5_RAW);
	assert_int_equal(acceptor_accept(acc, nt.krb5_token, nt.krb5_token_len, &p, &res), 0);
	assert_int_equal(neg_build_answer(&nt, res.ap_rep, res.ap_rep_len, out, sizeof(out), &n),
	    NEG_OK);
	assert_int_equal(neg_gss_krb5_unwrap(out, n, NEG_TOK_AP_REP, &mech, &body, &blen), NEG_OK);
	assert_int_equal(mech, NEG_MECH_KRB5);
	assert_int_equal(blen, res.ap_rep_len);
	assert_memory_equal(body, res.ap_rep, blen);
	acceptor_result_clear(&res);
	krb5_data_free(&tok);
}

/* ---------------------------------------------------------------- SPNEGO end to end */

static void
test_windows_shaped_spnego_is_accepted_with_the_optimistic_token(void **state)
{
	static const enum mint_mech windows[] = { MINT_MS_KRB5, MINT_KRB5, MINT_NEGOEX, MINT_NTLM };
	struct accept_params p = params();
	struct accept_result res;
	struct neg_token nt;
	uint8_t out[4096];
	size_t n;
	krb5_data tok = simple_token(K5_AES256), spnego;

	assert_int_equal(mint_spnego_init(windows, 4, &tok, &spnego), 0);
	assert_int_equal(neg_classify(spnego.data, spnego.length, &nt), NEG_OK);
	assert_int_equal(nt.kind, NEG_KRB5_SPNEGO);
	assert_int_equal(nt.mech, NEG_MECH_MS_KRB5);
	assert_int_equal(acceptor_accept(acc, nt.krb5_token, nt.krb5_token_len, &p, &res), 0);
	assert_int_equal(neg_build_answer(&nt, res.ap_rep, res.ap_rep_len, out, sizeof(out), &n),
	    NEG_OK);
	/* NegTokenResp [1] SEQUENCE { [0] accept-completed, [1] MS-KRB5 OID, [2] AP-REP } */
	assert_int_equal(out[0], 0xa1);
	assert_non_null(memmem(out, n, "\xa0\x03\x0a\x01\x00", 5));
	assert_non_null(memmem(out, n, "\x06\x09\x2a\x86\x48\x82\xf7\x12\x01\x02\x02", 11));
	assert_non_null(memmem(out, n, res.ap_rep, res.ap_rep_len));
	acceptor_result_clear(&res);
	krb5_data_free(&spnego);
	krb5_data_free(&tok);
}

static void
test_second_leg_after_accept_incomplete_is_accepted(void **state)
{
	static const enum mint_mech ntlm_first[] = { MINT_NTLM, MINT_KRB5 };
	struct accept_params p = params();
	struct accept_result res;
	struct neg_token nt;
	uint8_t out[4096];
	size_t n;
	krb5_data tok = simple_token(K5_AES256), leg1, leg2;

	assert_int_equal(mint_spnego_init(ntlm_first, 2, NULL, &leg1), 0);
	assert_int_equal(neg_classify(leg1.data, leg1.length, &nt), NEG_OK);
	assert_int_equal(nt.kind, NEG_NEED_KRB5_LEG);
	assert_int_equal(neg_build_answer(&nt, NULL, 0, out, sizeof(out), &n), NEG_OK);

	assert_int_equal(mint_spnego_resp(&tok, &leg2), 0);
	assert_int_equal(neg_classify(leg2.data, leg2.length, &nt), NEG_OK);
	assert_int_equal(nt.kind, NEG_KRB5_SPNEGO_LEG2);
	assert_int_equal(acceptor_accept(acc, nt.krb5_token, nt.krb5_token_len, &p, &res), 0);
	assert_string_equal(res.client, MINT_CLIENT);
	assert_int_equal(neg_build_answer(&nt, res.ap_rep, res.ap_rep_len, out, sizeof(out), &n),
	    NEG_OK);
	assert_null(memmem(out, n, "\xa1\x0b\x06\x09", 4));	/* no supportedMech in leg 2 */
	acceptor_result_clear(&res);
	krb5_data_free(&leg1);
	krb5_data_free(&leg2);
	krb5_data_free(&tok);
}

/* ---------------------------------------------------------------- the client's mechListMIC */

/*
 * Heimdal's own krb5 GSS initiator, without mutual authentication so that
 * its context is complete once the AP-REQ is made: then gss_get_mic() gives
 * the MIC a real client sends over its SPNEGO mechanism list.
 */
struct heim_init {
	gss_ctx_id_t gctx;
	gss_cred_id_t cred;
	gss_name_t target;
	krb5_ccache cc;
	krb5_data token;	/* the GSS-framed AP-REQ */
};

static void
heim_init_start(struct heim_init *h, int key)
{
	krb5_context ctx = mint_context();
	struct mint_ticket_spec ts = { .key = &keys[key], .forwardable = true };
	gss_buffer_desc name_buf, out = GSS_C_EMPTY_BUFFER;
	OM_uint32 minor;
	krb5_creds creds;

	memset(h, 0, sizeof(*h));
	assert_int_equal(mint_ticket(&ts, &creds), 0);
	assert_int_equal(krb5_cc_new_unique(ctx, "MEMORY", NULL, &h->cc), 0);
	assert_int_equal(krb5_cc_initialize(ctx, h->cc, creds.client), 0);
	assert_int_equal(krb5_cc_store_cred(ctx, h->cc, &creds), 0);
	krb5_free_cred_contents(ctx, &creds);
	assert_int_equal(gss_krb5_import_cred(&minor, h->cc, NULL, NULL, &h->cred),
	    GSS_S_COMPLETE);
	name_buf.value = (void *)(MINT_SPN_HTTP "@" MINT_REALM);
	name_buf.length = strlen(name_buf.value);
	assert_int_equal(gss_import_name(&minor, &name_buf, GSS_KRB5_NT_PRINCIPAL_NAME,
	    &h->target), GSS_S_COMPLETE);
	h->gctx = GSS_C_NO_CONTEXT;
	assert_int_equal(gss_init_sec_context(&minor, h->cred, &h->gctx, h->target,
	    GSS_KRB5_MECHANISM, GSS_C_INTEG_FLAG, 0, GSS_C_NO_CHANNEL_BINDINGS,
	    GSS_C_NO_BUFFER, NULL, &out, NULL, NULL), GSS_S_COMPLETE);
	h->token.length = out.length;
	h->token.data = malloc(out.length);
	memcpy(h->token.data, out.value, out.length);
	gss_release_buffer(&minor, &out);
}

/* The initiator's MIC over bytes (a DER MechTypeList). */
static krb5_data
heim_mic(struct heim_init *h, const uint8_t *p, size_t len)
{
	gss_buffer_desc msg, mic = GSS_C_EMPTY_BUFFER;
	OM_uint32 minor;
	krb5_data out;

	msg.value = (void *)(uintptr_t)p;
	msg.length = len;
	assert_int_equal(gss_get_mic(&minor, h->gctx, GSS_C_QOP_DEFAULT, &msg, &mic),
	    GSS_S_COMPLETE);
	out.length = mic.length;
	out.data = malloc(mic.length);
	memcpy(out.data, mic.value, mic.length);
	gss_release_buffer(&minor, &mic);
	return out;
}

static void
heim_init_end(struct heim_init *h)
{
	OM_uint32 minor;

	krb5_data_free(&h->token);
	gss_delete_sec_context(&minor, &h->gctx, GSS_C_NO_BUFFER);
	gss_release_name(&minor, &h->target);
	gss_release_cred(&minor, &h->cred);
	krb5_cc_destroy(mint_context(), h->cc);
}

enum mic_damage { MIC_INTACT, MIC_FLIPPED, MIC_TRUNCATED, MIC_OTHER_LIST };

/*
 * Leg one: NegTokenInit offering NTLM first, krb5 second, no token.  Leg
 * two: NegTokenResp with Heimdal's AP-REQ and its MIC over leg one's list,
 * damaged as asked.  Returns acceptor_accept()'s result.
 */
static int
second_leg_with_mic(int key, enum mic_damage damage, struct accept_result *res)
{
	static const enum mint_mech ntlm_first[] = { MINT_NTLM, MINT_KRB5 };
	static const enum mint_mech krb5_only[] = { MINT_KRB5 };
	struct accept_params p = params();
	struct heim_init h;
	struct neg_token nt1, nt2, other;
	uint8_t leg2[8192];
	size_t n;
	krb5_data leg1, list2, mic;
	int rv;

	heim_init_start(&h, key);
	assert_int_equal(mint_spnego_init(ntlm_first, 2, NULL, &leg1), 0);
	assert_int_equal(neg_classify(leg1.data, leg1.length, &nt1), NEG_OK);
	assert_int_equal(nt1.kind, NEG_NEED_KRB5_LEG);
	assert_int_equal(mint_spnego_init(krb5_only, 1, NULL, &list2), 0);
	assert_int_equal(neg_classify(list2.data, list2.length, &other), NEG_OK);

	mic = damage == MIC_OTHER_LIST ? heim_mic(&h, other.mech_types, other.mech_types_len) :
	    heim_mic(&h, nt1.mech_types, nt1.mech_types_len);
	if (damage == MIC_FLIPPED)
		((uint8_t *)mic.data)[mic.length - 1] ^= 0x01;
	if (damage == MIC_TRUNCATED)
		mic.length -= 4;
	/* A client's NegTokenResp has the shape of an acceptor's. */
	assert_int_equal(neg_spnego_resp_mic(NEG_STATE_ACCEPT_INCOMPLETE, NEG_MECH_NONE,
	    h.token.data, h.token.length, mic.data, mic.length, leg2, sizeof(leg2), &n), NEG_OK);
	assert_int_equal(neg_classify(leg2, n, &nt2), NEG_OK);
	assert_int_equal(nt2.kind, NEG_KRB5_SPNEGO_LEG2);
	assert_non_null(nt2.mic);
	assert_int_equal(nt2.mic_len, mic.length);

	p.mech_list = nt1.mech_types;
	p.mech_list_len = nt1.mech_types_len;
	p.client_mic = nt2.mic;
	p.client_mic_len = nt2.mic_len;
	rv = acceptor_accept(acc, nt2.krb5_token, nt2.krb5_token_len, &p, res);
	krb5_data_free(&mic);
	krb5_data_free(&leg1);
	krb5_data_free(&list2);
	heim_init_end(&h);
	return rv;
}

static void
test_client_mechlistmic_made_by_heimdal_is_verified(void **state)
{
	struct accept_result res;

	(void)state;
	if (second_leg_with_mic(K5_AES256, MIC_INTACT, &res) != 0)
		fprintf(stderr, "refused: %s\n", res.reason);
	assert_int_equal(res.status, ACCEPT_OK);
	acceptor_result_clear(&res);
	assert_int_equal(second_leg_with_mic(K5_AES128, MIC_INTACT, &res), 0);
	acceptor_result_clear(&res);
	if (second_leg_with_mic(K5_RC4, MIC_INTACT, &res) != 0)
		fprintf(stderr, "refused: %s\n", res.reason);
	assert_int_equal(res.status, ACCEPT_OK);
	acceptor_result_clear(&res);
}

static void
test_wrong_or_truncated_client_mechlistmic_is_refused(void **state)
{
	static const char why[] = "the client's SPNEGO mechListMIC does not verify: its "
	    "mechanism list was altered on the way, or the client is broken";
	static const enum mic_damage bad[] = { MIC_FLIPPED, MIC_TRUNCATED, MIC_OTHER_LIST };
	struct accept_result res;
	size_t i;
	int k;

	(void)state;
	for (k = K5_AES256; k <= K5_RC4; k++) {
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			assert_int_equal(second_leg_with_mic(k, bad[i], &res), -1);
			assert_int_equal(res.status, ACCEPT_MALFORMED);
			assert_string_equal(res.reason, why);
			assert_null(res.ap_rep);
			acceptor_result_clear(&res);
		}
	}
}

/* The optimistic token and a MIC in one NegTokenInit; the MIC is refused
 * when the list it covers is not known (a second leg on a new connection). */
static void
test_mechlistmic_next_to_the_optimistic_token_is_verified(void **state)
{
	static const enum mint_mech mechs[] = { MINT_MS_KRB5, MINT_KRB5, MINT_NTLM };
	struct accept_params p = params();
	struct accept_result res;
	struct heim_init h;
	struct neg_token nt, list;
	krb5_data bare, init, mic;

	(void)state;
	heim_init_start(&h, K5_AES256);
	assert_int_equal(mint_spnego_init(mechs, 3, NULL, &bare), 0);
	assert_int_equal(neg_classify(bare.data, bare.length, &list), NEG_OK);
	mic = heim_mic(&h, list.mech_types, list.mech_types_len);
	assert_int_equal(mint_spnego_init_mic(mechs, 3, &h.token, &mic, &init), 0);
	assert_int_equal(neg_classify(init.data, init.length, &nt), NEG_OK);
	assert_int_equal(nt.kind, NEG_KRB5_SPNEGO);
	assert_int_equal(nt.mic_len, mic.length);
	assert_memory_equal(nt.mic, mic.data, mic.length);

	p.client_mic = nt.mic;
	p.client_mic_len = nt.mic_len;
	assert_int_equal(acceptor_accept(acc, nt.krb5_token, nt.krb5_token_len, &p, &res), -1);
	assert_int_equal(res.status, ACCEPT_MALFORMED);
	assert_string_equal(res.reason, "malformed SPNEGO: a mechListMIC without the "
	    "mechanism list it covers (the first leg went elsewhere)");
	acceptor_result_clear(&res);

	/* The same AP-REQ again: the refusal did not enter the replay cache. */
	p.mech_list = nt.mech_types;
	p.mech_list_len = nt.mech_types_len;
	if (acceptor_accept(acc, nt.krb5_token, nt.krb5_token_len, &p, &res) != 0)
		fprintf(stderr, "refused: %s\n", res.reason);
	assert_int_equal(res.status, ACCEPT_OK);
	acceptor_result_clear(&res);
	krb5_data_free(&bare);
	krb5_data_free(&init);
	krb5_data_free(&mic);
	heim_init_end(&h);
}

/* ---------------------------------------------------------------- malformed input */

static void
test_every_truncation_of_a_valid_token_is_a_clean_malformed(void **state)
{
	struct accept_params p = params();
	struct accept_result res;
	krb5_data tok = simple_token(K5_AES256);
	size_t n;

	for (n = 0; n < tok.length; n++) {
		assert_int_equal(acceptor_accept(acc, tok.data, n, &p, &res), -1);
		assert_int_equal(res.status, ACCEPT_MALFORMED);
		assert_string_equal(res.reason, "malformed AP-REQ");
		acceptor_result_clear(&res);
	}
	krb5_data_free(&tok);
}

static void
test_random_bytes_are_a_clean_malformed(void **state)
{
	struct accept_params p = params();
	struct accept_result res;
	uint8_t buf[600];
	int i;

	srandom(12345);
	for (i = 0; i < 300; i++) {
		size_t j, n = 1 + (size_t)random() % sizeof(buf);

		for (j = 0; j < n; j++)
			buf[j] = (uint8_t)random();
		if (i % 3 == 0)
			buf[0] = 0x60;
		if (i % 3 == 1)
			buf[0] = 0x6e;
		assert_int_equal(acceptor_accept(acc, buf, n, &p, &res), -1);
		assert_true(res.status == ACCEPT_MALFORMED);
		acceptor_result_clear(&res);
	}
}

static void
test_tampered_authenticator_is_refused_without_blaming_the_keytab(void **state)
{
	struct accept_params p = params();
	krb5_data tok = simple_token(K5_AES256);

	/* The authenticator cipher is the AP-REQ's last bytes. */
	((uint8_t *)tok.data)[tok.length - 3] ^= 0x01;
	assert_refused(&tok, &p, ACCEPT_MALFORMED, "malformed AP-REQ: authenticator does not "
	    "decrypt with the ticket's session key");
	krb5_data_free(&tok);
}

static void
test_token_with_trailing_bytes_is_malformed(void **state)
{
	struct accept_params p = params();
	krb5_data tok = simple_token(K5_AES256);
	uint8_t *longer = malloc(tok.length + 1);
	krb5_data t2 = { tok.length + 1, longer };

	memcpy(longer, tok.data, tok.length);
	longer[tok.length] = 0;
	assert_refused(&t2, &p, ACCEPT_MALFORMED, "malformed AP-REQ");
	free(longer);
	krb5_data_free(&tok);
}

static void
test_krb_error_token_is_not_an_ap_req(void **state)
{
	static const uint8_t krb_err[] = { 0x60, 0x0f, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
	    0x12, 0x01, 0x02, 0x02, 0x03, 0x00, 0x7e, 0x00 };
	struct accept_params p = params();
	krb5_data tok = { sizeof(krb_err), (void *)(uintptr_t)krb_err };

	assert_refused(&tok, &p, ACCEPT_MALFORMED, "malformed AP-REQ");
}

/* ---------------------------------------------------------------- keytab management */

static void
test_keytab_reload_swaps_the_keys_atomically(void **state)
{
	struct kg_acceptor *a2;
	struct accept_params p = params();
	struct accept_result res;
	char only6[512], err[256];
	krb5_data t5 = simple_token(K5_AES256), t6 = simple_token(K6_AES256);

	assert_int_equal(mint_write_keytab("only6.keytab", MINT_ACCOUNT, &keys[K6_AES256], 3,
	    only6, sizeof(only6)), 0);
	assert_int_equal(acceptor_new(&a2, 64, err, sizeof(err)), 0);
	assert_int_equal(acceptor_load_keytab(a2, keytab_path, served, 3, err, sizeof(err)), 6);
	assert_int_equal(acceptor_load_keytab(a2, only6, served, 3, err, sizeof(err)), 3);
	assert_int_equal(acceptor_accept(a2, t5.data, t5.length, &p, &res), -1);
	assert_string_equal(res.reason,
	    "ticket kvno 5 not in keytab (have 6) for http/mail.corp.contoso.com");
	acceptor_result_clear(&res);

	/* A failed reload keeps the keys that serve. */
	assert_int_equal(acceptor_load_keytab(a2, "/nonexistent/asa.keytab", served, 3,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot read keytab /nonexistent/asa.keytab"));
	assert_int_equal(acceptor_accept(a2, t6.data, t6.length, &p, &res), 0);
	acceptor_result_clear(&res);
	acceptor_free(a2);
	krb5_data_free(&t5);
	krb5_data_free(&t6);
}

static void
test_added_key_is_accepted_and_removed_kvno_is_not(void **state)
{
	struct kg_acceptor *a2;
	struct mint_key k7;
	struct mint_ticket_spec ts = { .key = &k7 };
	struct mint_req_spec rs = { .gss_checksum = true };
	struct accept_params p = params();
	struct accept_result res;
	int kvnos[8];
	char err[256];
	krb5_data t1, t2;

	assert_int_equal(mint_key_from_password(ETYPE_AES256_CTS_HMAC_SHA1_96, 7, "kvno7",
	    MINT_SALT, &k7), 0);
	assert_int_equal(acceptor_new(&a2, 64, err, sizeof(err)), 0);
	assert_int_equal(acceptor_add_key(a2, MINT_ACCOUNT, 7, k7.key.keytype,
	    k7.key.keyvalue.data, k7.key.keyvalue.length, err, sizeof(err)), -1);
	assert_string_equal(err, "no keytab loaded");
	assert_int_equal(acceptor_load_keytab(a2, keytab_path, served, 3, err, sizeof(err)), 6);

	assert_int_equal(acceptor_add_key(a2, MINT_ACCOUNT, 7, k7.key.keytype,
	    k7.key.keyvalue.data, 5, err, sizeof(err)), -1);	/* wrong length */
	assert_int_equal(acceptor_add_key(a2, MINT_ACCOUNT, 7, k7.key.keytype,
	    k7.key.keyvalue.data, k7.key.keyvalue.length, err, sizeof(err)), 0);
	assert_int_equal(acceptor_kvnos(a2, MINT_SPN_HTTP, kvnos, 8), 3);
	assert_int_equal(kvnos[0], 5);
	assert_int_equal(kvnos[2], 7);

	t1 = token_for(&ts, &rs, NULL);
	assert_int_equal(acceptor_accept(a2, t1.data, t1.length, &p, &res), 0);
	acceptor_result_clear(&res);

	/* 1 account entry + 3 SPN copies. */
	assert_int_equal(acceptor_remove_kvno(a2, MINT_ACCOUNT, 7, err, sizeof(err)), 4);
	assert_int_equal(acceptor_remove_kvno(a2, MINT_ACCOUNT, 7, err, sizeof(err)), 0);
	assert_int_equal(acceptor_remove_kvno(a2, MINT_ACCOUNT, 0, err, sizeof(err)), -1);
	t2 = token_for(&ts, &rs, NULL);
	assert_int_equal(acceptor_accept(a2, t2.data, t2.length, &p, &res), -1);
	assert_string_equal(res.reason,
	    "ticket kvno 7 not in keytab (have 5,6) for http/mail.corp.contoso.com");
	acceptor_result_clear(&res);

	/* Retiring kvno 5 leaves 6. */
	assert_int_equal(acceptor_remove_kvno(a2, MINT_ACCOUNT, 5, err, sizeof(err)), 12);
	assert_int_equal(acceptor_kvnos(a2, MINT_ACCOUNT, kvnos, 8), 1);
	assert_int_equal(kvnos[0], 6);
	acceptor_free(a2);
	mint_key_free(&k7);
	krb5_data_free(&t1);
	krb5_data_free(&t2);
}

static void
test_keytab_with_two_accounts_keys_is_refused(void **state)
{
	struct kg_acceptor *a2;
	krb5_context ctx = mint_context();
	krb5_keytab kt;
	krb5_keytab_entry e;
	char path[512], name[600], err[256];

	/* asa.keytab plus OTHER$ with a different kvno 5 AES256 key. */
	assert_int_equal(mint_write_keytab("two.keytab", MINT_ACCOUNT, keys, NKEYS, path,
	    sizeof(path)), 0);
	snprintf(name, sizeof(name), "FILE:%s", path);
	assert_int_equal(krb5_kt_resolve(ctx, name, &kt), 0);
	memset(&e, 0, sizeof(e));
	assert_int_equal(krb5_parse_name(ctx, "OTHER$@" MINT_REALM, &e.principal), 0);
	e.vno = 5;
	e.keyblock = stale_aes256.key;
	assert_int_equal(krb5_kt_add_entry(ctx, kt, &e), 0);
	krb5_free_principal(ctx, e.principal);
	krb5_kt_close(ctx, kt);

	assert_int_equal(acceptor_new(&a2, 64, err, sizeof(err)), 0);
	assert_int_equal(acceptor_load_keytab(a2, path, served, 3, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "holds two different aes256-cts-hmac-sha1-96 keys for kvno 5 "
	    "(EXCHASA$@CORP.CONTOSO.COM and OTHER$@CORP.CONTOSO.COM)"));
	acceptor_free(a2);
}

static void
test_empty_keytab_is_refused(void **state)
{
	struct kg_acceptor *a2;
	char path[512], err[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/empty.keytab", mint_tmpdir());
	f = fopen(path, "w");
	fputc(5, f);
	fputc(2, f);
	fclose(f);
	assert_int_equal(acceptor_new(&a2, 64, err, sizeof(err)), 0);
	assert_int_equal(acceptor_load_keytab(a2, path, served, 3, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "holds no keys"));
	acceptor_free(a2);
}

static void
test_acceptor_without_keytab_refuses_cleanly(void **state)
{
	struct kg_acceptor *a2;
	struct accept_params p = params();
	struct accept_result res;
	char err[256];
	krb5_data tok = simple_token(K5_AES256);

	assert_int_equal(acceptor_new(&a2, 64, err, sizeof(err)), 0);
	assert_int_equal(acceptor_accept(a2, tok.data, tok.length, &p, &res), -1);
	assert_int_equal(res.status, ACCEPT_INTERNAL);
	assert_string_equal(res.reason, "no keytab loaded");
	acceptor_free(a2);
	krb5_data_free(&tok);
}

static void
test_keytab_file_is_mode_0600_and_not_needed_after_load(void **state)
{
	struct kg_acceptor *a2;
	struct accept_params p = params();
	struct accept_result res;
	struct stat st;
	char path[512], err[256];
	krb5_data tok = simple_token(K5_AES256);

	assert_int_equal(mint_write_keytab("gone.keytab", MINT_ACCOUNT, keys, 3, path,
	    sizeof(path)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(acceptor_new(&a2, 64, err, sizeof(err)), 0);
	assert_int_equal(acceptor_load_keytab(a2, path, served, 3, err, sizeof(err)), 3);
	assert_int_equal(unlink(path), 0);	/* the keys live in memory only */
	assert_int_equal(acceptor_accept(a2, tok.data, tok.length, &p, &res), 0);
	acceptor_result_clear(&res);
	acceptor_free(a2);
	krb5_data_free(&tok);
}

/* ---------------------------------------------------------------- Heimdal's GSS initiator as an oracle */

/*
 * A real GSS-API initiator (Heimdal's, from a MEMORY ccache holding a
 * minted ticket) makes the token, with channel bindings of its own
 * computing, and then checks our answer token.
 */
static void
gss_roundtrip(gss_OID mech, bool bindings)
{
	krb5_context ctx = mint_context();
	struct mint_ticket_spec ts = { .key = &keys[K5_AES256], .forwardable = true };
	struct accept_params p = cb_params(bindings ? CB_REQUIRE : CB_OFF);
	struct accept_result res;
	struct gss_channel_bindings_struct cb;
	gss_buffer_desc name_buf, in = GSS_C_EMPTY_BUFFER, out = GSS_C_EMPTY_BUFFER;
	gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
	gss_ctx_id_t gctx = GSS_C_NO_CONTEXT;
	gss_name_t target;
	OM_uint32 major, minor, ret_flags;
	krb5_ccache cc;
	krb5_creds creds;
	struct neg_token nt;
	uint8_t app[21 + 32], answer[4096];
	size_t n;

	assert_int_equal(mint_ticket(&ts, &creds), 0);
	assert_int_equal(krb5_cc_new_unique(ctx, "MEMORY", NULL, &cc), 0);
	assert_int_equal(krb5_cc_initialize(ctx, cc, creds.client), 0);
	assert_int_equal(krb5_cc_store_cred(ctx, cc, &creds), 0);
	if (mech == GSS_SPNEGO_MECHANISM) {
		/* SPNEGO acquires its own krb5 cred: point the default ccache at ours. */
		char ccname[256];

		snprintf(ccname, sizeof(ccname), "MEMORY:%s", krb5_cc_get_name(ctx, cc));
		assert_int_equal(gss_krb5_ccache_name(&minor, ccname, NULL), GSS_S_COMPLETE);
	} else {
		assert_int_equal(gss_krb5_import_cred(&minor, cc, NULL, NULL, &cred),
		    GSS_S_COMPLETE);
	}

	name_buf.value = (void *)(MINT_SPN_HTTP "@" MINT_REALM);
	name_buf.length = strlen(name_buf.value);
	assert_int_equal(gss_import_name(&minor, &name_buf, GSS_KRB5_NT_PRINCIPAL_NAME, &target),
	    GSS_S_COMPLETE);
	memset(&cb, 0, sizeof(cb));
	memcpy(app, "tls-server-end-point:", 21);
	mbedtls_sha256(cert_p256_sha256, sizeof(cert_p256_sha256), app + 21, 0);
	cb.application_data.value = app;
	cb.application_data.length = sizeof(app);

	major = gss_init_sec_context(&minor, cred, &gctx, target, mech,
	    GSS_C_MUTUAL_FLAG | GSS_C_INTEG_FLAG, 0, bindings ? &cb : GSS_C_NO_CHANNEL_BINDINGS,
	    GSS_C_NO_BUFFER, NULL, &out, &ret_flags, NULL);
	assert_int_equal(major, GSS_S_CONTINUE_NEEDED);

	assert_int_equal(neg_classify(out.value, out.length, &nt), NEG_OK);
	assert_int_equal(nt.kind, mech == GSS_SPNEGO_MECHANISM ? NEG_KRB5_SPNEGO : NEG_KRB5_RAW);
	if (acceptor_accept(acc, nt.krb5_token, nt.krb5_token_len, &p, &res) != 0)
		fprintf(stderr, "refused: %s\n", res.reason);
	assert_int_equal(res.status, ACCEPT_OK);
	assert_int_equal(res.channel_bound, bindings);
	assert_true(res.mutual);
	assert_int_equal(neg_build_answer(&nt, res.ap_rep, res.ap_rep_len, answer, sizeof(answer),
	    &n), NEG_OK);
	gss_release_buffer(&minor, &out);

	in.value = answer;
	in.length = n;
	major = gss_init_sec_context(&minor, cred, &gctx, target, mech,
	    GSS_C_MUTUAL_FLAG | GSS_C_INTEG_FLAG, 0, bindings ? &cb : GSS_C_NO_CHANNEL_BINDINGS,
	    &in, NULL, &out, &ret_flags, NULL);
	assert_int_equal(major, GSS_S_COMPLETE);
	assert_int_equal(out.length, 0);

	acceptor_result_clear(&res);
	gss_release_buffer(&minor, &out);
	gss_delete_sec_context(&minor, &gctx, GSS_C_NO_BUFFER);
	gss_release_name(&minor, &target);
	gss_release_cred(&minor, &cred);
	krb5_cc_destroy(ctx, cc);
	krb5_free_cred_contents(ctx, &creds);
}

static void
test_heimdal_gss_initiator_token_with_bindings_is_accepted_and_takes_our_ap_rep(void **state)
{
	gss_roundtrip(GSS_KRB5_MECHANISM, true);
}

static void
test_heimdal_spnego_initiator_completes_on_our_negtokenresp(void **state)
{
	gss_roundtrip(GSS_SPNEGO_MECHANISM, false);
	gss_roundtrip(GSS_SPNEGO_MECHANISM, true);
}

/* ---------------------------------------------------------------- fast path */

/* A GSS-framed AP-REQ whose ticket carries a PAC ([MS-PAC]) of pac_len bytes. */
static krb5_data
pac_token_for(const krb5_keyblock *pac_signer, const char *pac_user, size_t pac_len)
{
	struct mint_ticket_spec ts = { .key = &keys[K5_AES256], .forwardable = true,
	    .pac_signing_key = pac_signer, .pac_user = pac_user };
	struct mint_req_spec rs = { .gss_checksum = true, .gss_flags = MINT_GSS_MUTUAL,
	    .mutual = true };
	krb5_creds creds;
	krb5_data ap, tok;

	assert_int_equal(bench_mint_ticket_pac(&ts, pac_len, &creds), 0);
	assert_int_equal(mint_ap_req(&creds, &rs, &ap, NULL), 0);
	assert_int_equal(mint_gss_frame(&ap, false, &tok), 0);
	krb5_data_free(&ap);
	krb5_free_cred_contents(mint_context(), &creds);
	return tok;
}

static krb5_data
pac_token(const krb5_keyblock *pac_signer, size_t pac_len)
{
	return pac_token_for(pac_signer, NULL, pac_len);
}

static void
test_aes_tickets_take_the_fast_path_and_rc4_goes_through_heimdal(void **state)
{
	struct accept_params p = params();
	struct accept_result res;
	uint64_t f0, s0, f1, s1;
	krb5_data aes = simple_token(K5_AES256), rc4 = simple_token(K5_RC4);

	(void)state;
	p.allow_rc4 = true;
	acceptor_path_counts(acc, &f0, &s0);
	assert_int_equal(accept_with(&aes, &p, &res), 0);
	acceptor_result_clear(&res);
	acceptor_path_counts(acc, &f1, &s1);
	assert_int_equal(f1, f0 + 1);
	assert_int_equal(s1, s0);
	assert_int_equal(accept_with(&rc4, &p, &res), 0);
	acceptor_result_clear(&res);
	acceptor_path_counts(acc, &f0, &s0);
	assert_int_equal(f0, f1);
	assert_int_equal(s0, s1 + 1);
	krb5_data_free(&aes);
	krb5_data_free(&rc4);
}

static void
test_refusals_are_judged_by_heimdal_not_the_fast_path(void **state)
{
	struct mint_ticket_spec ts = { .key = &keys[K5_AES256], .authtime_offset = -72000,
	    .lifetime = 36000 };
	struct mint_req_spec rs = { .gss_checksum = true };
	struct accept_params p = params();
	uint64_t f0, s0, f1, s1;
	krb5_data tok = token_for(&ts, &rs, NULL);

	(void)state;
	acceptor_path_counts(acc, &f0, &s0);
	assert_refused(&tok, &p, ACCEPT_TICKET_EXPIRED, "ticket expired");
	acceptor_path_counts(acc, &f1, &s1);
	assert_int_equal(f1, f0);
	assert_int_equal(s1, s0 + 1);
	krb5_data_free(&tok);
}

static void
test_ticket_with_a_pac_is_accepted_on_the_fast_path(void **state)
{
	struct accept_params p = params();
	struct accept_result res;
	uint64_t f0, s0, f1, s1;
	krb5_data tok = pac_token(NULL, 800), big = pac_token(NULL, 16000);

	(void)state;
	acceptor_path_counts(acc, &f0, &s0);
	assert_int_equal(accept_with(&tok, &p, &res), 0);
	assert_string_equal(res.client, MINT_CLIENT);
	assert_non_null(res.ap_rep);
	acceptor_result_clear(&res);
	assert_int_equal(accept_with(&big, &p, &res), 0);
	acceptor_result_clear(&res);
	acceptor_path_counts(acc, &f1, &s1);
	assert_int_equal(f1, f0 + 2);
	assert_int_equal(s1, s0);
	krb5_data_free(&tok);
	krb5_data_free(&big);
}

static void
test_pac_signed_with_another_key_is_refused(void **state)
{
	struct accept_params p = params();
	krb5_data tok = pac_token(&stale_aes256.key, 800);

	(void)state;
	assert_refused(&tok, &p, ACCEPT_PAC_INVALID,
	    "PAC signature does not verify with the keytab's key for kvno 5");
	krb5_data_free(&tok);
}

/* A PAC for someone else than the ticket's client (a KDC bug or a splice). */
static void
test_pac_naming_another_user_is_refused(void **state)
{
	struct accept_params p = params();
	krb5_data tok = pac_token_for(NULL, "mallory", 800);

	(void)state;
	assert_refused(&tok, &p, ACCEPT_REFUSED,
	    "AP-REQ refused: PAC logon name [mallory] mismatch principal name [alice]");
	krb5_data_free(&tok);
}

/* ---------------------------------------------------------------- fast and slow paths agree */

/*
 * A table of tickets and authenticators a KDC or client could send malformed,
 * each judged twice: by acceptor_accept() (fast path where it applies) and by
 * plain krb5_rd_req_ctx() on the same bytes, with the same keytab.  The two
 * verdicts must agree; the rows marked `fast` must also be taken by the fast
 * path, so that the table exercises it rather than Heimdal against itself.
 */
#define PAC_TYPE_CLIENT_INFO	10
#define PAC_TYPE_SERVER_CKSUM	6

struct diff_case {
	const char *what;
	void (*ticket)(EncTicketPart *et);		/* the "KDC" writes this */
	void (*pac)(uint8_t *pac, size_t len);		/* then re-signs the PAC */
	bool pac_unsigned;				/* ... or does not */
	void (*authz)(AuthorizationData *ad);		/* the "client" writes this */
	bool fast;					/* accepted on the fast path */
};

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
wr32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = v >> 24;
}

/* The offset of the first PAC buffer of `type`, or 0. */
static size_t
pac_buffer(const uint8_t *pac, size_t len, uint32_t type, size_t *size)
{
	uint32_t i, n = rd32(pac);

	for (i = 0; i < n && 8 + 16 * (i + 1) <= len; i++) {
		const uint8_t *e = pac + 8 + 16 * i;

		if (rd32(e) == type) {
			*size = rd32(e + 4);
			return rd32(e + 8);
		}
	}
	return 0;
}

/* The server signature again, over the PAC as it now is (both signatures zero). */
static void
pac_resign(uint8_t *pac, size_t len, const krb5_keyblock *key)
{
	krb5_context ctx = mint_context();
	krb5_crypto crypto;
	Checksum ck;
	size_t size, off = pac_buffer(pac, len, PAC_TYPE_SERVER_CKSUM, &size), psize;
	size_t poff = pac_buffer(pac, len, 7, &psize);

	assert_true(off != 0 && poff != 0);
	memset(pac + off + 4, 0, size - 4);
	memset(pac + poff + 4, 0, psize - 4);
	assert_int_equal(krb5_crypto_init(ctx, key, 0, &crypto), 0);
	assert_int_equal(krb5_create_checksum(ctx, crypto, KRB5_KU_OTHER_CKSUM,
	    rd32(pac + off), pac, len, &ck), 0);
	assert_int_equal(ck.checksum.length, size - 4);
	memcpy(pac + off + 4, ck.checksum.data, ck.checksum.length);
	free_Checksum(&ck);
	krb5_crypto_destroy(ctx, crypto);
}

/* The PAC inside AD-IF-RELEVANT, tweaked and re-signed in place. */
static void
tweak_pac(EncTicketPart *et, const struct diff_case *c, const krb5_keyblock *key)
{
	AuthorizationDataElement *outer = &et->authorization_data->val[0];
	AuthorizationData inner;
	heim_octet_string *pac;
	size_t size;
	int ret;

	assert_int_equal(decode_AuthorizationData(outer->ad_data.data, outer->ad_data.length,
	    &inner, NULL), 0);
	pac = &inner.val[0].ad_data;
	c->pac(pac->data, pac->length);
	if (!c->pac_unsigned)
		pac_resign(pac->data, pac->length, key);
	krb5_data_free(&outer->ad_data);
	ASN1_MALLOC_ENCODE(AuthorizationData, outer->ad_data.data, outer->ad_data.length,
	    &inner, &size, ret);
	assert_int_equal(ret, 0);
	free_AuthorizationData(&inner);
}

/* A PAC ticket from bench_mint_ticket_pac(), changed as the case says. */
static krb5_data
diff_token(const struct diff_case *c, krb5_data *raw)
{
	krb5_context ctx = mint_context();
	const struct mint_key *k = &keys[K5_AES256];
	struct mint_ticket_spec ts = { .key = k, .forwardable = true };
	struct mint_req_spec rs = { .gss_checksum = true, .gss_flags = MINT_GSS_MUTUAL,
	    .mutual = true };
	AuthorizationData authz;
	EncTicketPart et;
	krb5_crypto crypto;
	krb5_creds creds;
	Ticket t;
	krb5_data tok;
	unsigned char *buf;
	size_t len, size;
	int ret;

	assert_int_equal(bench_mint_ticket_pac(&ts, 200, &creds), 0);
	assert_int_equal(decode_Ticket(creds.ticket.data, creds.ticket.length, &t, &size), 0);
	assert_int_equal(krb5_decrypt_ticket(ctx, &t, (krb5_keyblock *)&k->key, &et, 0), 0);
	if (c->ticket != NULL)
		c->ticket(&et);
	if (c->pac != NULL)
		tweak_pac(&et, c, &k->key);
	ASN1_MALLOC_ENCODE(EncTicketPart, buf, len, &et, &size, ret);
	assert_int_equal(ret, 0);
	free_EncTicketPart(&et);
	free_EncryptedData(&t.enc_part);
	assert_int_equal(krb5_crypto_init(ctx, &k->key, 0, &crypto), 0);
	assert_int_equal(krb5_encrypt_EncryptedData(ctx, crypto, KRB5_KU_TICKET, buf, len,
	    k->kvno, &t.enc_part), 0);
	krb5_crypto_destroy(ctx, crypto);
	free(buf);
	krb5_data_free(&creds.ticket);
	ASN1_MALLOC_ENCODE(Ticket, creds.ticket.data, creds.ticket.length, &t, &size, ret);
	assert_int_equal(ret, 0);
	free_Ticket(&t);

	memset(&authz, 0, sizeof(authz));
	if (c->authz != NULL) {
		c->authz(&authz);
		rs.authz = &authz;
	}
	assert_int_equal(mint_ap_req(&creds, &rs, raw, NULL), 0);
	assert_int_equal(mint_gss_frame(raw, false, &tok), 0);
	free_AuthorizationData(&authz);
	krb5_free_cred_contents(ctx, &creds);
	return tok;
}

/* Plain Heimdal's verdict on a raw AP-REQ, with the acceptor's keytab. */
static krb5_error_code
heimdal_verdict(const krb5_data *raw)
{
	krb5_context ctx;
	krb5_keytab kt;
	krb5_principal server;
	krb5_auth_context ac = NULL;
	krb5_rd_req_in_ctx in;
	krb5_rd_req_out_ctx out = NULL;
	krb5_error_code ret;

	assert_int_equal(acceptor_keytab(acc, &ctx, &kt), 0);
	assert_int_equal(krb5_parse_name(ctx, MINT_SPN_HTTP "@" MINT_REALM, &server), 0);
	krb5_set_max_time_skew(ctx, 300);
	assert_int_equal(krb5_rd_req_in_ctx_alloc(ctx, &in), 0);
	assert_int_equal(krb5_rd_req_in_set_keytab(ctx, in, kt), 0);
	ret = krb5_rd_req_ctx(ctx, &ac, raw, server, in, &out);
	if (out != NULL)
		krb5_rd_req_out_ctx_free(ctx, out);
	krb5_rd_req_in_ctx_free(ctx, in);
	if (ac != NULL)
		krb5_auth_con_free(ctx, ac);
	krb5_free_principal(ctx, server);
	return ret;
}

/* Ticket tweaks. */
static void t_transited_type7(EncTicketPart *et) { et->transited.tr_type = 7; }
static void t_transited_type0(EncTicketPart *et) { et->transited.tr_type = 0; }
static void t_transited_type7_checked(EncTicketPart *et)
{
	et->transited.tr_type = 7;
	et->flags.transited_policy_checked = 1;
}
static void t_invalid(EncTicketPart *et) { et->flags.invalid = 1; }
static void t_flags_all_others(EncTicketPart *et)
{
	et->flags.proxiable = et->flags.proxy = et->flags.forwarded = 1;
	et->flags.renewable = et->flags.ok_as_delegate = et->flags.anonymous = 1;
	et->flags.may_postdate = et->flags.hw_authent = 1;
}
static void t_start_in_future(EncTicketPart *et)
{
	et->starttime = malloc(sizeof(*et->starttime));
	*et->starttime = time(NULL) + 3600;
}
static void t_expired(EncTicketPart *et) { et->endtime = time(NULL) - 3600; }
static void t_endtime_before_authtime(EncTicketPart *et) { et->endtime = et->authtime - 10; }
static void t_ad_unknown_after_pac(EncTicketPart *et)
{
	AuthorizationDataElement e = { 4242, { 2, (void *)"\x04\x00" } };

	assert_int_equal(add_AuthorizationData(et->authorization_data, &e), 0);
}

/* PAC tweaks: CLIENT_INFO is FILETIME (8), name length (2), UTF-16LE name. */
static uint8_t *
client_info(uint8_t *pac, size_t len)
{
	size_t size, off = pac_buffer(pac, len, PAC_TYPE_CLIENT_INFO, &size);

	assert_true(off != 0 && size >= 10);
	return pac + off;
}
static void
add_filetime(uint8_t *pac, size_t len, uint64_t d)
{
	uint8_t *c = client_info(pac, len);
	uint64_t ft = (uint64_t)rd32(c) | (uint64_t)rd32(c + 4) << 32;

	ft += d;
	wr32(c, (uint32_t)ft);
	wr32(c + 4, (uint32_t)(ft >> 32));
}
static void p_time_100ns(uint8_t *p, size_t n) { add_filetime(p, n, 1); }
static void p_time_999ms(uint8_t *p, size_t n) { add_filetime(p, n, 9999999); }
static void p_time_1s(uint8_t *p, size_t n) { add_filetime(p, n, 10000000); }
static void p_name_case(uint8_t *p, size_t n) { client_info(p, n)[10] = 'A'; }
static void p_name_empty(uint8_t *p, size_t n)
{
	uint8_t *c = client_info(p, n);

	c[8] = c[9] = 0;
}
static void p_name_nul(uint8_t *p, size_t n) { client_info(p, n)[12] = 0; }
static void p_version1(uint8_t *p, size_t n) { (void)n; wr32(p + 4, 1); }
static void p_two_client_infos(uint8_t *p, size_t n) { (void)n; wr32(p + 8, PAC_TYPE_CLIENT_INFO); }
static void p_cksum_aes128_type(uint8_t *p, size_t n)
{
	size_t size, off = pac_buffer(p, n, PAC_TYPE_SERVER_CKSUM, &size);

	wr32(p + off, CKSUMTYPE_HMAC_SHA1_96_AES_128);
}
static void p_nothing(uint8_t *p, size_t n) { (void)p; (void)n; }

/* Authenticator authorization data. */
static void
add_ad(AuthorizationData *ad, int type, const void *data, size_t len)
{
	AuthorizationDataElement e;

	e.ad_type = type;
	e.ad_data.data = (void *)(uintptr_t)data;
	e.ad_data.length = len;
	assert_int_equal(add_AuthorizationData(ad, &e), 0);
}
static void
add_if_relevant(AuthorizationData *ad, int type, const void *data, size_t len)
{
	AuthorizationData inner;
	unsigned char *buf;
	size_t blen, size;
	int ret;

	memset(&inner, 0, sizeof(inner));
	add_ad(&inner, type, data, len);
	ASN1_MALLOC_ENCODE(AuthorizationData, buf, blen, &inner, &size, ret);
	assert_int_equal(ret, 0);
	free_AuthorizationData(&inner);
	add_ad(ad, KRB5_AUTHDATA_IF_RELEVANT, buf, blen);
	free(buf);
}
/* EtypeList { 18, 17 } and a SEQUENCE OF INTEGER cut short. */
static const uint8_t etypes_good[] = { 0x30, 0x06, 0x02, 0x01, 0x12, 0x02, 0x01, 0x11 };
static const uint8_t etypes_bad[] = { 0x30, 0x06, 0x02, 0x01, 0x12, 0x02 };
static void a_etypes_good(AuthorizationData *ad)
{
	add_if_relevant(ad, KRB5_AUTHDATA_GSS_API_ETYPE_NEGOTIATION, etypes_good,
	    sizeof(etypes_good));
}
static void a_etypes_bad(AuthorizationData *ad)
{
	add_if_relevant(ad, KRB5_AUTHDATA_GSS_API_ETYPE_NEGOTIATION, etypes_bad,
	    sizeof(etypes_bad));
}
static void a_etypes_bad_top(AuthorizationData *ad)
{
	add_ad(ad, KRB5_AUTHDATA_GSS_API_ETYPE_NEGOTIATION, etypes_bad, sizeof(etypes_bad));
}
static void a_windows_like(AuthorizationData *ad)
{
	/* AD-IF-RELEVANT { etypes, KERB_AUTH_DATA_TOKEN_RESTRICTIONS-ish blob } */
	a_etypes_good(ad);
	add_if_relevant(ad, 141, "\x30\x00", 2);
}
static void a_if_relevant_garbage(AuthorizationData *ad) { add_ad(ad, 1, "\x30\x05\x01", 3); }
static void a_unknown_top(AuthorizationData *ad) { add_ad(ad, 4242, "\x04\x00", 2); }

static const struct diff_case diff_cases[] = {
	{ "a valid PAC ticket", NULL, NULL, false, NULL, true },
	{ "PAC re-signed unchanged", NULL, p_nothing, false, NULL, true },
	{ "CLIENT_INFO time 100 ns after authtime", NULL, p_time_100ns, false, NULL, false },
	{ "CLIENT_INFO time 0.9999999 s after authtime", NULL, p_time_999ms, false, NULL, false },
	{ "CLIENT_INFO time 1 s after authtime", NULL, p_time_1s, false, NULL, false },
	{ "CLIENT_INFO name in another case", NULL, p_name_case, false, NULL, false },
	{ "CLIENT_INFO name empty", NULL, p_name_empty, false, NULL, false },
	{ "CLIENT_INFO name with a NUL", NULL, p_name_nul, false, NULL, false },
	{ "PAC version 1", NULL, p_version1, false, NULL, false },
	{ "PAC with two CLIENT_INFO", NULL, p_two_client_infos, false, NULL, false },
	{ "PAC server checksum of the other AES type", NULL, p_cksum_aes128_type, true, NULL,
	    false },
	{ "empty transited of type 0", t_transited_type0, NULL, false, NULL, true },
	{ "empty transited of unknown type 7", t_transited_type7, NULL, false, NULL, false },
	{ "transited type 7, policy checked by the KDC", t_transited_type7_checked, NULL, false,
	    NULL, true },
	{ "ticket flagged invalid", t_invalid, NULL, false, NULL, false },
	{ "every other ticket flag set", t_flags_all_others, NULL, false, NULL, true },
	{ "starttime an hour ahead", t_start_in_future, NULL, false, NULL, false },
	{ "endtime an hour ago", t_expired, NULL, false, NULL, false },
	{ "endtime before authtime", t_endtime_before_authtime, NULL, false, NULL, true },
	{ "unknown ticket AD type after the PAC", t_ad_unknown_after_pac, NULL, false, NULL,
	    false },
	{ "authenticator etype list", NULL, NULL, false, a_etypes_good, true },
	{ "authenticator AD as Windows sends it", NULL, NULL, false, a_windows_like, true },
	{ "authenticator etype list cut short", NULL, NULL, false, a_etypes_bad, false },
	{ "authenticator etype list cut short, top level", NULL, NULL, false, a_etypes_bad_top,
	    false },
	{ "authenticator AD-IF-RELEVANT that does not decode", NULL, NULL, false,
	    a_if_relevant_garbage, false },
	{ "authenticator AD of an unknown type", NULL, NULL, false, a_unknown_top, true },
};

static void
test_fast_and_slow_paths_agree_on_malformed_tickets(void **state)
{
	struct accept_params p = params();
	struct accept_result res;
	size_t i, bad = 0;

	(void)state;
	for (i = 0; i < sizeof(diff_cases) / sizeof(diff_cases[0]); i++) {
		const struct diff_case *c = &diff_cases[i];
		krb5_data raw, tok = diff_token(c, &raw);
		krb5_error_code hret = heimdal_verdict(&raw);
		uint64_t f0, s0, f1, s1;
		int ours;

		acceptor_path_counts(acc, &f0, &s0);
		ours = accept_with(&tok, &p, &res);
		acceptor_path_counts(acc, &f1, &s1);
		if ((ours == 0) != (hret == 0) || (c->fast && f1 != f0 + 1)) {
			fprintf(stderr, "%s: kerbgated %s (%s, %s path), Heimdal %s (%d)\n", c->what,
			    ours == 0 ? "accepts" : "refuses", res.reason,
			    f1 != f0 ? "fast" : "slow", hret == 0 ? "accepts" : "refuses", hret);
			bad++;
		}
		acceptor_result_clear(&res);
		krb5_data_free(&raw);
		krb5_data_free(&tok);
	}
	assert_int_equal(bad, 0);
}

/* The refusal names the cause, not Heimdal's unrelated table text. */
static void
test_unknown_transited_type_is_refused_in_words(void **state)
{
	static const struct diff_case c = { "transited type 7", t_transited_type7, NULL, false,
	    NULL, false };
	struct accept_params p = params();
	krb5_data raw, tok = diff_token(&c, &raw);

	(void)state;
	assert_refused(&tok, &p, ACCEPT_REFUSED,
	    "AP-REQ refused: the ticket's transited-realms encoding is not supported "
	    "(a KDC of another realm or a forged ticket)");
	krb5_data_free(&raw);
	krb5_data_free(&tok);
}

/* ---------------------------------------------------------------- cost */

static void
test_accepting_an_aes256_ticket_is_fast(void **state)
{
	enum { N = 300 };
	struct accept_params p = params();
	struct accept_result res;
	krb5_data toks[N];
	struct timespec t0, t1;
	double us;
	int i;

	for (i = 0; i < N; i++) {
		struct mint_ticket_spec ts = { .key = &keys[K5_AES256], .forwardable = true };
		struct mint_req_spec rs = { .gss_checksum = true, .gss_flags = MINT_GSS_MUTUAL,
		    .mutual = true };

		toks[i] = token_for(&ts, &rs, NULL);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < N; i++) {
		assert_int_equal(accept_with(&toks[i], &p, &res), 0);
		acceptor_result_clear(&res);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	us = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1e3 / N;
	fprintf(stderr, "acceptor_accept, AES256 with mutual auth: %.1f us per AP-REQ\n", us);
	for (i = 0; i < N; i++)
		krb5_data_free(&toks[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aes256_ticket_is_accepted_and_names_the_client),
		cmocka_unit_test(test_aes_tickets_take_the_fast_path_and_rc4_goes_through_heimdal),
		cmocka_unit_test(test_refusals_are_judged_by_heimdal_not_the_fast_path),
		cmocka_unit_test(test_ticket_with_a_pac_is_accepted_on_the_fast_path),
		cmocka_unit_test(test_pac_signed_with_another_key_is_refused),
		cmocka_unit_test(test_pac_naming_another_user_is_refused),
		cmocka_unit_test(test_fast_and_slow_paths_agree_on_malformed_tickets),
		cmocka_unit_test(test_unknown_transited_type_is_refused_in_words),
		cmocka_unit_test(test_aes128_ticket_is_accepted),
		cmocka_unit_test(test_rc4_ticket_is_accepted_when_allowed_and_reported_as_rc4),
		cmocka_unit_test(test_newer_kvno_is_accepted_next_to_the_older),
		cmocka_unit_test(test_bare_unframed_ap_req_is_accepted),
		cmocka_unit_test(test_ticket_for_another_served_spn_decrypts_with_the_same_account_key),
		cmocka_unit_test(test_spn_case_differences_are_ignored_as_in_active_directory),
		cmocka_unit_test(test_ticket_without_kvno_uses_the_newest_key),
		cmocka_unit_test(test_ticket_kvno_not_in_keytab_names_the_kvnos_held),
		cmocka_unit_test(test_other_retained_keys_are_tried_when_the_kvno_does_not_fit),
		cmocka_unit_test(test_refusals_carry_the_kerberos_error_windows_sends),
		cmocka_unit_test(test_enctype_missing_at_a_held_kvno_names_the_enctypes_held),
		cmocka_unit_test(test_ticket_under_a_stale_key_says_the_keytab_is_stale),
		cmocka_unit_test(test_ticket_for_an_spn_not_served_here_is_refused),
		cmocka_unit_test(test_spn_in_keytab_but_not_served_by_this_virtual_host_is_refused),
		cmocka_unit_test(test_ticket_from_another_realm_is_not_served),
		cmocka_unit_test(test_rc4_ticket_is_refused_when_rc4_is_disabled),
		cmocka_unit_test(test_aes_ticket_with_an_rc4_session_key_is_refused_when_rc4_is_disabled),
		cmocka_unit_test(test_client_clock_far_off_is_refused_with_the_skew_in_seconds),
		cmocka_unit_test(test_client_clock_behind_within_the_skew_bound_is_accepted),
		cmocka_unit_test(test_skew_bound_comes_from_the_params),
		cmocka_unit_test(test_expired_ticket_is_refused),
		cmocka_unit_test(test_postdated_ticket_not_yet_valid_is_refused),
		cmocka_unit_test(test_same_token_twice_is_refused_as_a_replay),
		cmocka_unit_test(test_same_ap_req_inside_spnego_after_raw_is_still_a_replay),
		cmocka_unit_test(test_refused_token_does_not_enter_the_replay_cache),
		cmocka_unit_test(test_replay_at_the_skew_edge_is_refused_on_the_fast_path),
		cmocka_unit_test(test_replay_at_the_skew_edge_is_refused_on_the_heimdal_path),
		cmocka_unit_test(test_full_replay_cache_refuses_rather_than_forgets),
		cmocka_unit_test(test_authenticator_older_than_a_crash_restart_is_refused),
		cmocka_unit_test(test_one_principal_cannot_fill_the_replay_cache),
		cmocka_unit_test(test_one_principal_cannot_fill_the_replay_cache_on_the_heimdal_path),
		cmocka_unit_test(test_replay_quota_zero_means_no_quota),
		cmocka_unit_test(test_cb_hash_of_a_sha256_certificate_matches_an_independent_computation),
		cmocka_unit_test(test_cb_hash_of_a_sha384_signed_certificate_uses_sha384),
		cmocka_unit_test(test_cb_hash_of_garbage_is_an_error),
		cmocka_unit_test(test_matching_bindings_pass_under_require),
		cmocka_unit_test(test_matching_bindings_pass_under_accept),
		cmocka_unit_test(test_mismatching_bindings_are_refused_under_accept),
		cmocka_unit_test(test_mismatching_bindings_are_refused_under_require),
		cmocka_unit_test(test_absent_bindings_are_refused_under_require),
		cmocka_unit_test(test_ap_req_without_a_gss_checksum_has_no_bindings_for_require),
		cmocka_unit_test(test_absent_bindings_pass_under_accept),
		cmocka_unit_test(test_any_bindings_pass_when_channel_binding_is_off),
		cmocka_unit_test(test_mutual_auth_ap_rep_is_accepted_by_krb5_rd_rep_aes),
		cmocka_unit_test(test_mutual_auth_ap_rep_is_accepted_by_krb5_rd_rep_rc4),
		cmocka_unit_test(test_gss_mutual_flag_alone_asks_for_an_ap_rep),
		cmocka_unit_test(test_ap_rep_wrapped_for_a_raw_krb5_client_is_a_gss_token),
		cmocka_unit_test(test_windows_shaped_spnego_is_accepted_with_the_optimistic_token),
		cmocka_unit_test(test_second_leg_after_accept_incomplete_is_accepted),
		cmocka_unit_test(test_client_mechlistmic_made_by_heimdal_is_verified),
		cmocka_unit_test(test_wrong_or_truncated_client_mechlistmic_is_refused),
		cmocka_unit_test(test_mechlistmic_next_to_the_optimistic_token_is_verified),
		cmocka_unit_test(test_every_truncation_of_a_valid_token_is_a_clean_malformed),
		cmocka_unit_test(test_random_bytes_are_a_clean_malformed),
		cmocka_unit_test(test_tampered_authenticator_is_refused_without_blaming_the_keytab),
		cmocka_unit_test(test_token_with_trailing_bytes_is_malformed),
		cmocka_unit_test(test_krb_error_token_is_not_an_ap_req),
		cmocka_unit_test(test_keytab_reload_swaps_the_keys_atomically),
		cmocka_unit_test(test_added_key_is_accepted_and_removed_kvno_is_not),
		cmocka_unit_test(test_keytab_with_two_accounts_keys_is_refused),
		cmocka_unit_test(test_empty_keytab_is_refused),
		cmocka_unit_test(test_acceptor_without_keytab_refuses_cleanly),
		cmocka_unit_test(test_keytab_file_is_mode_0600_and_not_needed_after_load),
		cmocka_unit_test(test_heimdal_gss_initiator_token_with_bindings_is_accepted_and_takes_our_ap_rep),
		cmocka_unit_test(test_heimdal_spnego_initiator_completes_on_our_negtokenresp),
		cmocka_unit_test(test_accepting_an_aes256_ticket_is_fast),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
