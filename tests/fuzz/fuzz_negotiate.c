/*
 * fuzz_negotiate: untrusted Negotiate input through the relay's decoding
 * (negotiate.c) and the keyholder's acceptor (acceptor.c).
 *
 * The first input byte picks how the rest is used:
 *  0: as an Authorization header value (neg_parse_authorization), then
 *     classified;
 *  1: as a decoded token (neg_classify);
 *  2: as base64 text (neg_base64_decode), then classified.
 * Whatever classifies as krb5 goes on to acceptor_accept() with a keytab
 * for the fixture's ASA key (kvno 5, AES256), and its answer is built.
 * Mode 1 bytes also go to acceptor_accept() directly.
 *
 * Invariants checked (abort() on violation):
 *  - classification pointers (AP-REQ, mechanism list, the client's
 *    mechListMIC) lie inside the input; a MIC is never empty;
 *  - an accepted AP-REQ yields a client principal and the exact ticket
 *    bytes, which lie inside the input;
 *  - refusals carry a reason and no AP-REP or ticket;
 *  - answers re-classify: a GSS AP-REP unwraps to the AP-REP given.
 *
 * Seeds in tests/fuzz/corpus/negotiate/ were minted with tests/unit/krbmint
 * (their authenticators are outside the skew window now: they reach
 * decryption and the time checks, not acceptance).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acceptor.h"
#include "negotiate.h"
#include "../unit/krbmint.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct kg_acceptor *acc;
static const char *const spns[] = { MINT_SPN_HTTP, MINT_SPN_MDB };
static uint8_t decoded[NEG_MAX_TOKEN_LEN];
static uint8_t answer[NEG_MAX_TOKEN_LEN + 256];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct mint_key key;
	char path[512], err[256];

	if (mint_key_from_password(ETYPE_AES256_CTS_HMAC_SHA1_96, 5, MINT_PASSWORD, MINT_SALT,
	    &key) != 0 ||
	    mint_write_keytab("fuzz.keytab", MINT_ACCOUNT, &key, 1, path, sizeof(path)) != 0 ||
	    acceptor_new(&acc, 4096, err, sizeof(err)) != 0 ||
	    acceptor_load_keytab(acc, path, spns, 2, err, sizeof(err)) != 1)
		abort();
	unlink(path);
	mint_key_free(&key);
	return 0;
}

static bool
inside(const uint8_t *p, size_t n, const uint8_t *base, size_t len)
{
	return p >= base && n <= len && (size_t)(p - base) <= len - n;
}

static void
accept_one(const uint8_t *tok, size_t len, const struct neg_token *nt)
{
	struct accept_params p = { .spns = spns, .nspns = 2, .allow_rc4 = true,
	    .cb_mode = CB_ACCEPT, .clock_skew = 300 };

	/* The client's mechListMIC goes to the check, with its own list. */
	if (nt != NULL && nt->mic != NULL) {
		p.client_mic = nt->mic;
		p.client_mic_len = nt->mic_len;
		p.mech_list = nt->mech_types;
		p.mech_list_len = nt->mech_types_len;
	}
	struct accept_result res;

	if (acceptor_accept(acc, tok, len, &p, &res) == 0) {
		if (res.status != ACCEPT_OK || res.client[0] == '\0' || res.ticket == NULL ||
		    memmem(tok, len, res.ticket, res.ticket_len) == NULL)
			abort();
	} else if (res.status == ACCEPT_OK || res.reason[0] == '\0' || res.ap_rep != NULL ||
	    res.ticket != NULL) {
		abort();
	}
	acceptor_result_clear(&res);
}

static void
classify_and_answer(const uint8_t *tok, size_t len)
{
	static const uint8_t fake_ap_rep[] = { 0x6f, 0x03, 0x30, 0x01, 0x00 };
	struct neg_token nt;
	size_t n;

	if (neg_classify(tok, len, &nt) != NEG_OK)
		return;
	if (nt.krb5_token != NULL && !inside(nt.krb5_token, nt.krb5_token_len, tok, len))
		abort();
	if (nt.mech_types != NULL && !inside(nt.mech_types, nt.mech_types_len, tok, len))
		abort();
	if (nt.mic != NULL && (nt.mic_len == 0 || !inside(nt.mic, nt.mic_len, tok, len)))
		abort();
	switch (nt.kind) {
	case NEG_KRB5_RAW:
	case NEG_KRB5_SPNEGO:
	case NEG_KRB5_SPNEGO_LEG2:
		accept_one(nt.krb5_token, nt.krb5_token_len, &nt);
		if (neg_build_answer(&nt, fake_ap_rep, sizeof(fake_ap_rep), answer,
		    sizeof(answer), &n) != NEG_OK || n == 0)
			abort();
		if (nt.kind == NEG_KRB5_RAW) {
			const uint8_t *body;
			size_t blen;

			if (neg_gss_krb5_unwrap(answer, n, NEG_TOK_AP_REP, NULL, &body, &blen) != NEG_OK ||
			    blen != sizeof(fake_ap_rep) || memcmp(body, fake_ap_rep, blen) != 0)
				abort();
		}
		break;
	case NEG_NEED_KRB5_LEG:
		if (neg_build_answer(&nt, NULL, 0, answer, sizeof(answer), &n) != NEG_OK)
			abort();
		break;
	default:
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n;

	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		if (neg_parse_authorization((const char *)data + 1, size - 1, decoded,
		    sizeof(decoded), &n) == NEG_OK)
			classify_and_answer(decoded, n);
		break;
	case 1:
		classify_and_answer(data + 1, size - 1);
		accept_one(data + 1, size - 1, NULL);
		break;
	default:
		if (neg_base64_decode((const char *)data + 1, size - 1, decoded, sizeof(decoded),
		    &n) == NEG_OK)
			classify_and_answer(decoded, n);
		break;
	}
	return 0;
}
