/*
 * krbmint.c: mint tickets, AP-REQs and Negotiate tokens for tests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ftw.h>

#include <krb5.h>
#include <der.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <gssapi/gssapi_spnego.h>

#include "krbmint.h"

static krb5_context mint_ctx;
static char mint_dir[64];

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
mint_cleanup(void)
{
	if (mint_dir[0] != '\0')
		nftw(mint_dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	if (mint_ctx != NULL)
		krb5_free_context(mint_ctx);
}

krb5_context
mint_context(void)
{
	if (mint_ctx == NULL) {
		if (krb5_init_context(&mint_ctx) != 0)
			abort();
		atexit(mint_cleanup);
	}
	return mint_ctx;
}

const char *
mint_tmpdir(void)
{
	if (mint_dir[0] == '\0') {
		snprintf(mint_dir, sizeof(mint_dir), "/tmp/krbmint.XXXXXX");
		if (mkdtemp(mint_dir) == NULL)
			abort();
		mint_context();
	}
	return mint_dir;
}

int
mint_key_from_password(krb5_enctype enctype, int kvno, const char *password,
    const char *salt, struct mint_key *out)
{
	krb5_salt s;

	s.salttype = KRB5_PW_SALT;
	s.saltvalue.data = (void *)(uintptr_t)salt;
	s.saltvalue.length = strlen(salt);
	out->kvno = kvno;
	return krb5_string_to_key_salt(mint_context(), enctype, password, s, &out->key);
}

void
mint_key_free(struct mint_key *k)
{
	krb5_free_keyblock_contents(mint_context(), &k->key);
}

int
mint_write_keytab(const char *name, const char *principal, const struct mint_key *keys,
    size_t n, char *out, size_t outlen)
{
	krb5_context ctx = mint_context();
	krb5_keytab kt;
	krb5_keytab_entry e;
	char ktname[512];
	size_t i;
	int ret;

	snprintf(out, outlen, "%s/%s", mint_tmpdir(), name);
	unlink(out);
	snprintf(ktname, sizeof(ktname), "FILE:%s", out);
	if ((ret = krb5_kt_resolve(ctx, ktname, &kt)) != 0)
		return ret;
	memset(&e, 0, sizeof(e));
	if ((ret = krb5_parse_name(ctx, principal, &e.principal)) != 0)
		goto out;
	for (i = 0; i < n && ret == 0; i++) {
		e.vno = keys[i].kvno;
		e.keyblock = keys[i].key;
		e.timestamp = time(NULL);
		ret = krb5_kt_add_entry(ctx, kt, &e);
	}
	krb5_free_principal(ctx, e.principal);
out:
	krb5_kt_close(ctx, kt);
	if (ret == 0 && n > 0)
		ret = chmod(out, 0600);
	return ret;
}

int
mint_ticket(const struct mint_ticket_spec *spec, krb5_creds *creds)
{
	krb5_context ctx = mint_context();
	krb5_principal client = NULL, server = NULL;
	krb5_keyblock session;
	krb5_crypto crypto = NULL;
	EncTicketPart et;
	Ticket t;
	time_t now = time(NULL), start;
	unsigned char *buf = NULL;
	size_t len, size;
	int ret;

	memset(creds, 0, sizeof(*creds));
	memset(&session, 0, sizeof(session));
	memset(&t, 0, sizeof(t));
	if ((ret = krb5_parse_name(ctx, spec->client ? spec->client : MINT_CLIENT, &client)) ||
	    (ret = krb5_parse_name(ctx, spec->service ? spec->service :
	    MINT_SPN_HTTP "@" MINT_REALM, &server)) ||
	    (ret = krb5_generate_random_keyblock(ctx, spec->session_enctype ?
	    spec->session_enctype : spec->key->key.keytype, &session)))
		goto out;

	memset(&et, 0, sizeof(et));
	et.flags.forwardable = spec->forwardable;
	et.flags.pre_authent = 1;
	et.key = session;
	et.crealm = client->realm;
	et.cname = client->name;
	et.transited.tr_type = DOMAIN_X500_COMPRESS;
	et.authtime = now + spec->authtime_offset;
	start = now + spec->starttime_offset;
	if (spec->starttime_offset != 0)
		et.starttime = &start;
	et.endtime = et.authtime + (spec->lifetime ? spec->lifetime : 36000);

	ASN1_MALLOC_ENCODE(EncTicketPart, buf, len, &et, &size, ret);
	if (ret)
		goto out;
	if ((ret = krb5_crypto_init(ctx, &spec->key->key, 0, &crypto)) != 0)
		goto out;
	t.tkt_vno = 5;
	t.realm = server->realm;
	t.sname = server->name;
	ret = krb5_encrypt_EncryptedData(ctx, crypto, KRB5_KU_TICKET, buf, len,
	    spec->key->kvno, &t.enc_part);
	if (ret)
		goto out;
	if (spec->omit_kvno) {
		free(t.enc_part.kvno);
		t.enc_part.kvno = NULL;
	}
	ASN1_MALLOC_ENCODE(Ticket, creds->ticket.data, creds->ticket.length, &t, &size, ret);
	free_EncryptedData(&t.enc_part);
	if (ret)
		goto out;

	creds->client = client;
	creds->server = server;
	client = server = NULL;
	creds->session = session;
	memset(&session, 0, sizeof(session));
	creds->times.authtime = et.authtime;
	creds->times.starttime = start;
	creds->times.endtime = et.endtime;
	creds->flags.b.forwardable = spec->forwardable;
out:
	if (buf != NULL) {
		explicit_bzero(buf, len);
		free(buf);
	}
	if (crypto != NULL)
		krb5_crypto_destroy(ctx, crypto);
	krb5_free_keyblock_contents(ctx, &session);
	if (client)
		krb5_free_principal(ctx, client);
	if (server)
		krb5_free_principal(ctx, server);
	return ret;
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

int
mint_ap_req(const krb5_creds *creds, const struct mint_req_spec *spec, krb5_data *out,
    krb5_auth_context *client_ac)
{
	static const uint8_t zero[16];
	krb5_context ctx = mint_context();
	krb5_keyblock subkey;
	krb5_crypto crypto = NULL;
	krb5_timestamp sec;
	int32_t usec;
	Authenticator a;
	Checksum ck;
	uint8_t cb[24];
	uint32_t seq;
	krb5_data cipher;
	unsigned char *buf = NULL;
	size_t len = 0, size;
	int ret;

	memset(out, 0, sizeof(*out));
	memset(&a, 0, sizeof(a));
	memset(&subkey, 0, sizeof(subkey));
	a.authenticator_vno = 5;
	a.crealm = creds->client->realm;
	a.cname = creds->client->name;
	krb5_us_timeofday(ctx, &sec, &usec);
	a.ctime = sec + spec->clock_offset;
	a.cusec = usec;
	if (spec->gss_checksum) {
		put_le32(cb, 16);
		memcpy(cb + 4, spec->bnd ? spec->bnd : zero, 16);
		put_le32(cb + 20, spec->gss_flags);
		ck.cksumtype = CKSUMTYPE_GSSAPI;
		ck.checksum.length = sizeof(cb);
		ck.checksum.data = cb;
		a.cksum = &ck;
	}
	if (getrandom(&seq, sizeof(seq), 0) != sizeof(seq))
		return EIO;
	seq &= 0x3fffffff;
	a.seq_number = &seq;
	a.authorization_data = (AuthorizationData *)(uintptr_t)spec->authz;
	if (spec->subkey) {
		if ((ret = krb5_generate_random_keyblock(ctx, creds->session.keytype, &subkey)))
			return ret;
		a.subkey = &subkey;
	}

	ASN1_MALLOC_ENCODE(Authenticator, buf, len, &a, &size, ret);
	if (ret)
		goto out;
	if ((ret = krb5_crypto_init(ctx, &creds->session, 0, &crypto)) != 0 ||
	    (ret = krb5_encrypt(ctx, crypto, KRB5_KU_AP_REQ_AUTH, buf, len, &cipher)) != 0)
		goto out;
	/* krb5_build_ap_req takes ownership of cipher. */
	ret = krb5_build_ap_req(ctx, creds->session.keytype, (krb5_creds *)creds,
	    spec->mutual ? AP_OPTS_MUTUAL_REQUIRED : 0, cipher, out);
	if (ret)
		goto out;
	if (client_ac != NULL) {
		if ((ret = krb5_auth_con_init(ctx, client_ac)) != 0 ||
		    (ret = krb5_auth_con_setkey(ctx, *client_ac, (krb5_keyblock *)&creds->session)))
			goto out;
		(*client_ac)->authenticator->ctime = a.ctime;
		(*client_ac)->authenticator->cusec = a.cusec;
	}
out:
	if (buf != NULL) {
		explicit_bzero(buf, len);
		free(buf);
	}
	if (crypto != NULL)
		krb5_crypto_destroy(ctx, crypto);
	krb5_free_keyblock_contents(ctx, &subkey);
	return ret;
}

static gss_OID_desc ms_krb5_oid = { 9, (void *)"\x2a\x86\x48\x82\xf7\x12\x01\x02\x02" };

int
mint_gss_frame(const krb5_data *ap_req, bool ms_oid, krb5_data *out)
{
	gss_buffer_desc in, framed;
	OM_uint32 major;
	uint8_t *body;

	if ((body = malloc(ap_req->length + 2)) == NULL)
		return ENOMEM;
	body[0] = 0x01;
	body[1] = 0x00;
	memcpy(body + 2, ap_req->data, ap_req->length);
	in.value = body;
	in.length = ap_req->length + 2;
	major = gss_encapsulate_token(&in, ms_oid ? &ms_krb5_oid : GSS_KRB5_MECHANISM, &framed);
	free(body);
	if (major != GSS_S_COMPLETE)
		return EINVAL;
	out->length = framed.length;
	out->data = malloc(framed.length);
	memcpy(out->data, framed.value, framed.length);
	gss_release_buffer(&major, &framed);
	return 0;
}

/* tag + DER length + content, into a fresh buffer. */
static int
tlv(Der_class cls, Der_type type, unsigned tag, const void *content, size_t len, krb5_data *out)
{
	size_t hdr = der_length_tag(tag) + der_length_len(len), sz;
	uint8_t *p = malloc(hdr + len);

	if (p == NULL)
		return ENOMEM;
	if (len > 0)
		memcpy(p + hdr, content, len);
	if (der_put_length_and_tag(p + hdr - 1, hdr, len, cls, type, tag, &sz) != 0 || sz != hdr) {
		free(p);
		return EINVAL;
	}
	out->data = p;
	out->length = hdr + len;
	return 0;
}

static void
append(krb5_data *acc, const krb5_data *more)
{
	acc->data = realloc(acc->data, acc->length + more->length);
	memcpy((uint8_t *)acc->data + acc->length, more->data, more->length);
	acc->length += more->length;
}

static int
oid_tlv(enum mint_mech m, krb5_data *out)
{
	static unsigned krb5_arcs[] = { 1, 2, 840, 113554, 1, 2, 2 };
	static unsigned ms_arcs[] = { 1, 2, 840, 48018, 1, 2, 2 };
	static unsigned negoex_arcs[] = { 1, 3, 6, 1, 4, 1, 311, 2, 2, 30 };
	static unsigned ntlm_arcs[] = { 1, 3, 6, 1, 4, 1, 311, 2, 2, 10 };
	heim_oid oid;
	uint8_t buf[32];
	size_t sz;

	switch (m) {
	case MINT_KRB5:		oid.length = 7; oid.components = krb5_arcs; break;
	case MINT_MS_KRB5:	oid.length = 7; oid.components = ms_arcs; break;
	case MINT_NEGOEX:	oid.length = 10; oid.components = negoex_arcs; break;
	default:		oid.length = 10; oid.components = ntlm_arcs; break;
	}
	if (der_put_oid(buf + sizeof(buf) - 1, sizeof(buf), &oid, &sz) != 0)
		return EINVAL;
	return tlv(ASN1_C_UNIV, PRIM, UT_OID, buf + sizeof(buf) - sz, sz, out);
}

#define STEP(expr) do { if ((ret = (expr)) != 0) goto out; } while (0)

int
mint_spnego_init(const enum mint_mech *mechs, size_t n, const krb5_data *mech_token,
    krb5_data *out)
{
	return mint_spnego_init_mic(mechs, n, mech_token, NULL, out);
}

int
mint_spnego_init_mic(const enum mint_mech *mechs, size_t n, const krb5_data *mech_token,
    const krb5_data *mic, krb5_data *out)
{
	krb5_data list = { 0, NULL }, t1 = { 0, NULL }, t2 = { 0, NULL }, seq = { 0, NULL };
	gss_buffer_desc in, framed;
	OM_uint32 major;
	size_t i;
	int ret = 0;

	for (i = 0; i < n; i++) {
		STEP(oid_tlv(mechs[i], &t1));
		append(&list, &t1);
		krb5_data_free(&t1);
	}
	STEP(tlv(ASN1_C_UNIV, CONS, UT_Sequence, list.data, list.length, &t1));
	STEP(tlv(ASN1_C_CONTEXT, CONS, 0, t1.data, t1.length, &seq));
	krb5_data_free(&t1);
	if (mech_token != NULL) {
		STEP(tlv(ASN1_C_UNIV, PRIM, UT_OctetString, mech_token->data, mech_token->length, &t1));
		STEP(tlv(ASN1_C_CONTEXT, CONS, 2, t1.data, t1.length, &t2));
		append(&seq, &t2);
		krb5_data_free(&t1);
		krb5_data_free(&t2);
	}
	if (mic != NULL) {
		STEP(tlv(ASN1_C_UNIV, PRIM, UT_OctetString, mic->data, mic->length, &t1));
		STEP(tlv(ASN1_C_CONTEXT, CONS, 3, t1.data, t1.length, &t2));
		append(&seq, &t2);
		krb5_data_free(&t1);
		krb5_data_free(&t2);
	}
	STEP(tlv(ASN1_C_UNIV, CONS, UT_Sequence, seq.data, seq.length, &t1));
	STEP(tlv(ASN1_C_CONTEXT, CONS, 0, t1.data, t1.length, &t2));
	in.value = t2.data;
	in.length = t2.length;
	major = gss_encapsulate_token(&in, GSS_SPNEGO_MECHANISM, &framed);
	if (major != GSS_S_COMPLETE) {
		ret = EINVAL;
		goto out;
	}
	out->length = framed.length;
	out->data = malloc(framed.length);
	memcpy(out->data, framed.value, framed.length);
	gss_release_buffer(&major, &framed);
out:
	krb5_data_free(&list);
	krb5_data_free(&t1);
	krb5_data_free(&t2);
	krb5_data_free(&seq);
	return ret;
}

int
mint_spnego_resp(const krb5_data *token, krb5_data *out)
{
	krb5_data t1 = { 0, NULL }, t2 = { 0, NULL }, t3 = { 0, NULL };
	int ret;

	STEP(tlv(ASN1_C_UNIV, PRIM, UT_OctetString, token->data, token->length, &t1));
	STEP(tlv(ASN1_C_CONTEXT, CONS, 2, t1.data, t1.length, &t2));
	STEP(tlv(ASN1_C_UNIV, CONS, UT_Sequence, t2.data, t2.length, &t3));
	ret = tlv(ASN1_C_CONTEXT, CONS, 1, t3.data, t3.length, out);
out:
	krb5_data_free(&t1);
	krb5_data_free(&t2);
	krb5_data_free(&t3);
	return ret;
}

int
mint_simple_token(const struct mint_key *key, const struct mint_req_spec *req,
    krb5_data *out)
{
	struct mint_ticket_spec ts = { .key = key, .forwardable = true };
	krb5_creds creds;
	krb5_data ap;
	int ret;

	if ((ret = mint_ticket(&ts, &creds)) != 0)
		return ret;
	ret = mint_ap_req(&creds, req, &ap, NULL);
	krb5_free_cred_contents(mint_context(), &creds);
	if (ret)
		return ret;
	ret = mint_gss_frame(&ap, false, out);
	krb5_data_free(&ap);
	return ret;
}
