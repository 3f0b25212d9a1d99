/*
 * krbmint.h: a test fixture that mints real Kerberos tickets and AP-REQs
 * with Heimdal's own API, so that the acceptor can be tested without a KDC.
 *
 * It plays the KDC (encrypts an EncTicketPart with the service key, as AD
 * does with EXCHASA$'s key for http/mail...) and the client (builds the
 * authenticator, optionally with a GSS 0x8003 checksum carrying channel
 * bindings and flags, then the AP-REQ), and wraps the result as a GSS
 * token or SPNEGO NegTokenInit/NegTokenResp with a chosen mech order.
 * Keytab files go to a private temporary directory, mode 0600.
 */
#ifndef KG_TEST_KRBMINT_H
#define KG_TEST_KRBMINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <krb5.h>

#define MINT_REALM	"CORP.CONTOSO.COM"
#define MINT_ACCOUNT	"EXCHASA$@CORP.CONTOSO.COM"
#define MINT_SALT	"CORP.CONTOSO.COMhostexchasa.corp.contoso.com"
#define MINT_PASSWORD	"Asa-Passw0rd-kvno5"
#define MINT_SPN_HTTP	"http/mail.corp.contoso.com"
#define MINT_SPN_AUTOD	"http/autod.corp.contoso.com"
#define MINT_SPN_MDB	"exchangeMDB/outlook.corp.contoso.com"
#define MINT_CLIENT	"alice@CORP.CONTOSO.COM"

/** One key of the ASA account. */
struct mint_key {
	int kvno;
	krb5_keyblock key;	/* keytype is the enctype */
};

/** What the "KDC" puts in the ticket. */
struct mint_ticket_spec {
	const char *service;		/* default MINT_SPN_HTTP "@" MINT_REALM */
	const char *client;		/* default MINT_CLIENT */
	const struct mint_key *key;	/* the service (account) key */
	krb5_enctype session_enctype;	/* 0: the key's enctype */
	bool omit_kvno;
	long authtime_offset;		/* authtime = now + this */
	long lifetime;			/* 0: 10 hours */
	long starttime_offset;		/* non-zero: starttime = now + this */
	bool forwardable;
	const krb5_keyblock *pac_signing_key;	/* bench_mint_ticket_pac(): sign the
						   PAC with this key instead of the
						   service key (a forged PAC) */
	const char *pac_user;			/* bench_mint_ticket_pac(): the
						   PAC's client name (default:
						   the ticket's client) */
};

/** What the "client" puts in the authenticator and AP-REQ. */
struct mint_req_spec {
	bool gss_checksum;		/* add the 0x8003 checksum */
	const uint8_t *bnd;		/* 16 bytes of channel bindings, NULL: zeros */
	uint32_t gss_flags;		/* e.g. MINT_GSS_MUTUAL */
	bool mutual;			/* AP option mutual-required */
	long clock_offset;		/* the client's clock error, seconds */
	bool subkey;			/* send an initiator subkey */
	const AuthorizationData *authz;	/* the authenticator's authorization data */
};

#define MINT_GSS_DELEG	 1
#define MINT_GSS_MUTUAL	 2
#define MINT_GSS_REPLAY	 4
#define MINT_GSS_SEQ	 8
#define MINT_GSS_CONF	16
#define MINT_GSS_INTEG	32

/** Mechanisms for a SPNEGO mechTypes list. */
enum mint_mech { MINT_KRB5, MINT_MS_KRB5, MINT_NEGOEX, MINT_NTLM };

/** The shared krb5 context of the test process. */
krb5_context mint_context(void);

/** A private temporary directory (removed at exit), e.g. for keytabs. */
const char *mint_tmpdir(void);

/** Derive an account key from a password with AD's salt (RC4: no salt). */
int mint_key_from_password(krb5_enctype enctype, int kvno, const char *password,
                           const char *salt, struct mint_key *out);

/** Free a key's bytes (zeroized). */
void mint_key_free(struct mint_key *k);

/** Write a keytab file (mode 0600) with keys of one principal; path in `out`. */
int mint_write_keytab(const char *name, const char *principal,
                      const struct mint_key *keys, size_t n, char *out, size_t outlen);

/** Mint a service ticket and its session key into creds (free with krb5_free_cred_contents). */
int mint_ticket(const struct mint_ticket_spec *spec, krb5_creds *creds);

/**
 * Make an AP-REQ (DER) for creds; `client_ac` (optional) receives an auth
 * context that krb5_rd_rep() can check the server's AP-REP with.
 */
int mint_ap_req(const krb5_creds *creds, const struct mint_req_spec *spec,
                krb5_data *out, krb5_auth_context *client_ac);

/** GSS-frame an AP-REQ: [APPLICATION 0] { krb5 OID, 01 00, AP-REQ }. */
int mint_gss_frame(const krb5_data *ap_req, bool ms_oid, krb5_data *out);

/** SPNEGO NegTokenInit, GSS-framed, with mechTypes in the order given. */
int mint_spnego_init(const enum mint_mech *mechs, size_t n, const krb5_data *mech_token,
                     krb5_data *out);

/** The same with a mechListMIC ([3]) when mic is not NULL. */
int mint_spnego_init_mic(const enum mint_mech *mechs, size_t n, const krb5_data *mech_token,
                         const krb5_data *mic, krb5_data *out);

/** SPNEGO NegTokenResp from a client (second leg) carrying a response token. */
int mint_spnego_resp(const krb5_data *token, krb5_data *out);

/** Everything in one go: a GSS-framed AP-REQ for MINT_SPN_HTTP with this key. */
int mint_simple_token(const struct mint_key *key, const struct mint_req_spec *req,
                      krb5_data *out);

#endif /* KG_TEST_KRBMINT_H */
