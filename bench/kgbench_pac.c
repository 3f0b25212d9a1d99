/*
 * kgbench_pac.c: a krbmint ticket re-encrypted with a large PAC ([MS-PAC]).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <krb5.h>

#include "kgbench_pac.h"

#define PAC_LOGON_INFO		1
#define PAC_SERVER_CHECKSUM	6
#define PAC_PRIVSVR_CHECKSUM	7
#define PAC_CLIENT_INFO		10
#define AD_WIN2K_PAC		128
#define NT_EPOCH_OFFSET		11644473600ULL	/* 1601-01-01 to 1970-01-01, s */

static void
le16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void
le32(uint8_t *p, uint32_t v)
{
	le16(p, v & 0xffff);
	le16(p + 2, v >> 16);
}

static void
le64(uint8_t *p, uint64_t v)
{
	le32(p, (uint32_t)v);
	le32(p + 4, (uint32_t)(v >> 32));
}

static size_t
align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* The PAC bytes for `user` (no realm, ASCII), signed with the service key. */
static int
build_pac(krb5_context ctx, const krb5_keyblock *key, const char *user, time_t authtime,
    size_t logon_len, krb5_data *out)
{
	enum { NBUF = 4, SIGLEN = 12 };
	size_t ulen = strlen(user), sizes[NBUF], offs[NBUF], total, i;
	uint32_t types[NBUF] = { PAC_LOGON_INFO, PAC_CLIENT_INFO, PAC_SERVER_CHECKSUM,
	    PAC_PRIVSVR_CHECKSUM };
	krb5_crypto crypto;
	Checksum ck;
	uint8_t *p;
	int ret;

	sizes[0] = logon_len;
	sizes[1] = 8 + 2 + 2 * ulen;
	sizes[2] = sizes[3] = 4 + SIGLEN;
	total = 8 + NBUF * 16;
	for (i = 0; i < NBUF; i++) {
		offs[i] = align8(total);
		total = offs[i] + sizes[i];
	}
	total = align8(total);
	if ((p = calloc(1, total)) == NULL)
		return ENOMEM;
	le32(p, NBUF);
	le32(p + 4, 0);
	for (i = 0; i < NBUF; i++) {
		le32(p + 8 + 16 * i, types[i]);
		le32(p + 12 + 16 * i, (uint32_t)sizes[i]);
		le64(p + 16 + 16 * i, offs[i]);
	}
	/* CLIENT_INFO: authtime as a FILETIME, then the name in UTF-16LE. */
	le64(p + offs[1], ((uint64_t)authtime + NT_EPOCH_OFFSET) * 10000000ULL);
	le16(p + offs[1] + 8, (uint16_t)(2 * ulen));
	for (i = 0; i < ulen; i++)
		le16(p + offs[1] + 10 + 2 * i, (uint8_t)user[i]);
	le32(p + offs[2], CKSUMTYPE_HMAC_SHA1_96_AES_256);
	le32(p + offs[3], CKSUMTYPE_HMAC_SHA1_96_AES_256);

	/* Server signature over the PAC with both signatures zero; the KDC
	 * one over the server signature. */
	if ((ret = krb5_crypto_init(ctx, key, 0, &crypto)) != 0)
		goto fail;
	ret = krb5_create_checksum(ctx, crypto, KRB5_KU_OTHER_CKSUM,
	    CKSUMTYPE_HMAC_SHA1_96_AES_256, p, total, &ck);
	if (ret == 0) {
		memcpy(p + offs[2] + 4, ck.checksum.data, SIGLEN);
		free_Checksum(&ck);
		ret = krb5_create_checksum(ctx, crypto, KRB5_KU_OTHER_CKSUM,
		    CKSUMTYPE_HMAC_SHA1_96_AES_256, p + offs[2] + 4, SIGLEN, &ck);
	}
	krb5_crypto_destroy(ctx, crypto);
	if (ret != 0)
		goto fail;
	memcpy(p + offs[3] + 4, ck.checksum.data, SIGLEN);
	free_Checksum(&ck);
	out->data = p;
	out->length = total;
	return 0;
fail:
	free(p);
	return ret;
}

/* AD-IF-RELEVANT { AD-WIN2K-PAC pac }, DER. */
static int
wrap_pac(const krb5_data *pac, AuthorizationData *outer)
{
	AuthorizationData inner;
	AuthorizationDataElement e;
	unsigned char *buf;
	size_t len, size;
	int ret;

	e.ad_type = AD_WIN2K_PAC;
	e.ad_data = *pac;
	inner.len = 1;
	inner.val = &e;
	ASN1_MALLOC_ENCODE(AuthorizationData, buf, len, &inner, &size, ret);
	if (ret)
		return ret;
	memset(outer, 0, sizeof(*outer));
	e.ad_type = KRB5_AUTHDATA_IF_RELEVANT;
	e.ad_data.data = buf;
	e.ad_data.length = len;
	ret = add_AuthorizationData(outer, &e);
	free(buf);
	return ret;
}

int
bench_mint_ticket_pac(const struct mint_ticket_spec *spec, size_t logon_info_len,
    krb5_creds *creds)
{
	krb5_context ctx = mint_context();
	krb5_crypto crypto = NULL;
	EncTicketPart et;
	AuthorizationData ad;
	Ticket t;
	krb5_data pac = { 0, NULL };
	unsigned char *buf = NULL;
	char user[256];
	size_t len = 0, size;
	int ret;

	if ((ret = mint_ticket(spec, creds)) != 0)
		return ret;
	memset(&et, 0, sizeof(et));
	memset(&ad, 0, sizeof(ad));
	if ((ret = decode_Ticket(creds->ticket.data, creds->ticket.length, &t, &size)) != 0)
		goto out_creds;
	if ((ret = krb5_decrypt_ticket(ctx, &t, (krb5_keyblock *)&spec->key->key, &et, 0)) ||
	    (ret = krb5_unparse_name_fixed_flags(ctx, creds->client,
	    KRB5_PRINCIPAL_UNPARSE_NO_REALM, user, sizeof(user))) ||
	    (ret = build_pac(ctx, spec->pac_signing_key != NULL ? spec->pac_signing_key :
	    &spec->key->key, spec->pac_user != NULL ? spec->pac_user : user, et.authtime,
	    logon_info_len, &pac)) ||
	    (ret = wrap_pac(&pac, &ad)))
		goto out;
	et.authorization_data = &ad;
	ASN1_MALLOC_ENCODE(EncTicketPart, buf, len, &et, &size, ret);
	et.authorization_data = NULL;
	if (ret)
		goto out;
	free_EncryptedData(&t.enc_part);
	memset(&t.enc_part, 0, sizeof(t.enc_part));
	if ((ret = krb5_crypto_init(ctx, &spec->key->key, 0, &crypto)) != 0 ||
	    (ret = krb5_encrypt_EncryptedData(ctx, crypto, KRB5_KU_TICKET, buf, len,
	    spec->key->kvno, &t.enc_part)) != 0)
		goto out;
	krb5_data_free(&creds->ticket);
	ASN1_MALLOC_ENCODE(Ticket, creds->ticket.data, creds->ticket.length, &t, &size, ret);
out:
	if (crypto != NULL)
		krb5_crypto_destroy(ctx, crypto);
	if (buf != NULL) {
		explicit_bzero(buf, len);
		free(buf);
	}
	free_AuthorizationData(&ad);
	krb5_data_free(&pac);
	free_EncTicketPart(&et);
	free_Ticket(&t);
out_creds:
	if (ret)
		krb5_free_cred_contents(ctx, creds);
	return ret;
}
