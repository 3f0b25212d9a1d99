/*
 * acceptor.h: Kerberos AP-REQ acceptance in the keyholder.
 *
 * The keyholder is the only process with keys.  This module holds the
 * ASA account's keys in a Heimdal MEMORY: keytab, accepts krb5 AP-REQs
 * (bare or GSS-framed) with the krb5 API rather than gss_accept_sec_context
 * so that it can read the authenticator's GSS checksum (0x8003: channel
 * bindings, flags) and give reasons an administrator can act on, builds
 * the AP-REP for mutual authentication, keeps the replay cache, and hands
 * out the client's ticket as evidence for constrained delegation.
 *
 * Active Directory encrypts a ticket for http/mail.corp.contoso.com with
 * the key of the account that holds the SPN (EXCHASA$), so loading a
 * keytab copies every key of the account under each served SPN (same
 * kvno, enctype and key).  SPNs match case-insensitively, as in AD
 * (Windows asks for HTTP/..., curl for HTTP/..., the config says http/...).
 *
 * Reasons (accept_result.reason) have these shapes, never a token or key:
 *
 *   ticket kvno 7 not in keytab (have 5,6) for http/mail.corp.contoso.com
 *   no aes256-cts-hmac-sha1-96 key for kvno 5 in keytab (have rc4-hmac) for http/mail...
 *   ticket for http/mail.corp.contoso.com does not decrypt with the keytab's
 *     key for kvno 5: the keytab is stale or for another account
 *   clock skew 412 s
 *   ticket expired
 *   ticket not yet valid
 *   replayed authenticator
 *   SPN http/x not served here
 *   enctype rc4-hmac disabled
 *   session key enctype rc4-hmac disabled
 *   channel bindings do not match the VIP certificate
 *   channel bindings required but the client sent none
 *   malformed AP-REQ
 *   malformed AP-REQ: authenticator does not decrypt with the ticket's session key
 *   PAC signature does not verify with the keytab's key for kvno 5
 *   AP-REQ refused: <Heimdal's message>
 *
 * Not thread-safe: one keyholder, one thread.
 */
#ifndef KG_ACCEPTOR_H
#define KG_ACCEPTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <krb5.h>

/** Default clock-skew bound, seconds (Kerberos' and AD's default). */
#define ACCEPTOR_DEFAULT_SKEW 300

/** Length of a channel-bindings hash (the Bnd field of the 0x8003 checksum). */
#define ACCEPTOR_CB_LEN 16

/** Channel binding (Extended Protection) policy. */
enum cb_mode {
	CB_OFF = 0,	/**< ignore bindings */
	CB_ACCEPT,	/**< bindings the client sent must match; none is fine */
	CB_REQUIRE,	/**< bindings must be present and match */
};

/** Per-request policy, from the virtual host's configuration. */
struct accept_params {
	const char *const *spns;	/**< SPNs this virtual host serves, e.g.
					     "http/mail.corp.contoso.com" (an
					     "@REALM" suffix is optional) */
	size_t nspns;
	bool allow_rc4;			/**< accept rc4-hmac tickets and session keys */
	enum cb_mode cb_mode;
	uint8_t cb_expected[ACCEPTOR_CB_LEN];	/**< from acceptor_cb_hash_from_cert() */
	bool cb_plain;			/**< plain HTTP: no channel to bind to, so
					     bindings sent are another channel's */
	int clock_skew;			/**< seconds; <= 0: ACCEPTOR_DEFAULT_SKEW */
	const uint8_t *mech_list;	/**< SPNEGO MechTypeList DER to sign for a
					     mechListMIC (RFC 4178 §5), or NULL */
	size_t mech_list_len;
	const uint8_t *client_mic;	/**< the client's mechListMIC over
					     mech_list, or NULL: verified once the
					     AP-REQ is genuine, refused (MALFORMED)
					     when it does not verify */
	size_t client_mic_len;
};

/** Outcome of acceptor_accept(). */
enum accept_status {
	ACCEPT_OK = 0,
	ACCEPT_MALFORMED,		/**< not a (well-formed, intact) AP-REQ */
	ACCEPT_SPN_NOT_SERVED,		/**< ticket for an SPN this host does not serve */
	ACCEPT_ENCTYPE_DISABLED,	/**< RC4 while allow_rc4 is false */
	ACCEPT_ENCTYPE_UNSUPPORTED,	/**< DES and other enctypes Heimdal refuses */
	ACCEPT_KVNO_NOT_IN_KEYTAB,	/**< the most common field failure */
	ACCEPT_NO_KEY,			/**< kvno held, but not for this enctype/SPN */
	ACCEPT_WRONG_KEY,		/**< ticket does not decrypt: stale keytab */
	ACCEPT_PAC_INVALID,		/**< PAC server signature fails */
	ACCEPT_CLOCK_SKEW,
	ACCEPT_TICKET_EXPIRED,
	ACCEPT_TICKET_NOT_YET_VALID,
	ACCEPT_REPLAY,			/**< seen already, or older than a
					     keyholder restart (reason says) */
	ACCEPT_REPLAY_CACHE_FULL,	/**< the replay cache holds only live
					     entries: cannot take one more */
	ACCEPT_REPLAY_QUOTA,		/**< this client holds its quota of
					     live replay cache entries */
	ACCEPT_CB_MISMATCH,
	ACCEPT_CB_MISSING,
	ACCEPT_REFUSED,			/**< other Kerberos refusals (reason says which) */
	ACCEPT_INTERNAL,		/**< no keytab loaded, out of memory */
};

/** What acceptor_accept() found.  Release with acceptor_result_clear(). */
struct accept_result {
	enum accept_status status;
	char reason[384];		/**< for the log; empty on success */
	char client[512];		/**< e.g. alice@CORP.CONTOSO.COM, once known */
	char server[512];		/**< the ticket's server, as the client named it */
	time_t endtime;			/**< ticket end time */
	int32_t enctype;		/**< ticket enctype (krb5_enctype) */
	char enctype_name[40];		/**< e.g. "aes256-cts-hmac-sha1-96", "rc4-hmac" */
	int kvno;			/**< ticket kvno (0: the client sent none) */
	bool mutual;			/**< client asked for mutual authentication */
	uint32_t gss_flags;		/**< from the 0x8003 checksum (0 if none) */
	bool channel_bound;		/**< client sent bindings and they matched */
	uint8_t *ap_rep;		/**< DER AP-REP when mutual (wrap with
					     neg_build_answer()), else NULL */
	size_t ap_rep_len;
	uint8_t *ticket;		/**< the encrypted Ticket exactly as the
					     client sent it (DER): S4U2Proxy evidence */
	size_t ticket_len;
	bool forwardable;		/**< the evidence ticket is forwardable */
	uint8_t *mech_list_mic;		/**< RFC 4121 MIC token over params'
					     mech_list (AES session keys and
					     mutual auth only), else NULL */
	size_t mech_list_mic_len;
};

struct kg_acceptor;

/**
 * \brief          Create an acceptor with no keys.
 *
 * \param out      Receives the acceptor.
 * \param replay_entries Replay cache capacity; 0 selects
 *                 CONFIG_KERBGATED_REPLAY_CACHE_ENTRIES.
 * \param err      Receives a message on failure.
 * \param errlen   Size of \p err.
 *
 * \return         0, or -1 (krb5 context or memory failure).
 */
int acceptor_new(struct kg_acceptor **out, size_t replay_entries, char *err, size_t errlen);

struct kg_replay;

/**
 * \brief          Use \p rc as the replay cache (e.g. the one shared by
 *                 every generation's keyholder) instead of the acceptor's
 *                 own; the acceptor frees it (a shared one is only
 *                 unmapped from this process).
 */
void acceptor_use_replay(struct kg_acceptor *acc, struct kg_replay *rc);

/**
 * \brief          Set the replay cache's per-principal quota (see
 *                 replay_set_quota(): 0 none, REPLAY_QUOTA_AUTO the default).
 */
void acceptor_set_replay_quota(struct kg_acceptor *acc, size_t quota);

/**
 * \brief          Free an acceptor; its keys are zeroized (NULL is fine).
 */
void acceptor_free(struct kg_acceptor *acc);

/**
 * \brief          Load (or reload) the account's keys from a keytab file.
 *
 *                 Reads every entry of \p path (closing the file before
 *                 returning), then builds a new MEMORY keytab holding those
 *                 entries plus, for each distinct (kvno, enctype) key, an
 *                 entry under each SPN of \p spns.  Only when that
 *                 succeeded does it replace the current keytab, so a failed
 *                 reload leaves the old keys serving.  The replay cache is
 *                 kept.
 *
 *                 Refused: an unreadable or empty file; entries from more
 *                 than one realm; two different keys for the same kvno and
 *                 enctype (the file holds more than one account).
 *
 * \param acc      The acceptor.
 * \param path     Keytab file (a "FILE:" prefix is optional).
 * \param spns     SPNs to serve, e.g. "http/mail.corp.contoso.com"; without
 *                 "@REALM" they take the keytab's realm.
 * \param nspns    Number of SPNs.
 * \param err      Receives a message on failure.
 * \param errlen   Size of \p err.
 *
 * \return         The number of keys loaded (> 0), or -1.
 */
int acceptor_load_keytab(struct kg_acceptor *acc, const char *path,
                         const char *const *spns, size_t nspns, char *err, size_t errlen);

/**
 * \brief          Start with no keys, serving \p spns (credentials from the
 *                 sealed store: acceptor_add_key() adds them).  Replaces
 *                 the current keytab.
 *
 * \param realm    The realm of SPNs given without "@REALM".
 *
 * \return         0 or -1 (a bad SPN, memory).
 */
int acceptor_load_empty(struct kg_acceptor *acc, const char *realm,
                        const char *const *spns, size_t nspns, char *err, size_t errlen);

/**
 * \brief          Add one key of the account (credential rotation: stage).
 *
 *                 Adds it under \p principal and under every SPN of the
 *                 last acceptor_load_keytab().
 *
 * \param acc      The acceptor (a keytab must be loaded).
 * \param principal The account, e.g. "EXCHASA$@CORP.CONTOSO.COM".
 * \param kvno     Key version number.
 * \param enctype  krb5 enctype number (18, 17, 23).
 * \param key      Key bytes (copied; the caller zeroizes its copy).
 * \param keylen   Their length, checked against the enctype.
 * \param err      Receives a message on failure.
 * \param errlen   Size of \p err.
 *
 * \return         0 or -1.
 */
int acceptor_add_key(struct kg_acceptor *acc, const char *principal, int kvno,
                     int32_t enctype, const uint8_t *key, size_t keylen,
                     char *err, size_t errlen);

/**
 * \brief          Remove every key of one kvno (credential rotation:
 *                 retire, or drop a staged key that failed verification).
 *
 * \param acc      The acceptor.
 * \param principal The account whose kvno goes; its SPN copies go too.
 * \param kvno     The key version number.
 * \param err      Receives a message on failure.
 * \param errlen   Size of \p err.
 *
 * \return         The number of keytab entries removed (0 if none), or -1.
 */
int acceptor_remove_kvno(struct kg_acceptor *acc, const char *principal, int kvno,
                         char *err, size_t errlen);

/**
 * \brief          The kvnos held for a principal, ascending, for the
 *                 status page.
 *
 * \param acc      The acceptor.
 * \param principal An account or SPN ("@REALM" optional).
 * \param kvnos    Receives up to \p max kvnos.
 * \param max      Room in \p kvnos.
 *
 * \return         The number of distinct kvnos (may exceed \p max).
 */
size_t acceptor_kvnos(struct kg_acceptor *acc, const char *principal, int *kvnos, size_t max);

/**
 * \brief          The Kerberos context and MEMORY: keytab the keys live in,
 *                 so that another module of the keyholder can copy the
 *                 account's keys from memory (kcd_new(), kcd_set_keys())
 *                 instead of opening the keytab file again.
 *
 *                 Both remain the acceptor's: never close or free them.
 *                 They are valid until the next acceptor_load_keytab() or
 *                 acceptor_free(); use them on the acceptor's thread only.
 *
 * \param acc      The acceptor.
 * \param ctx      Receives the context.
 * \param kt       Receives the keytab.
 *
 * \return         0, or -1 if no keytab is loaded.
 */
int acceptor_keytab(struct kg_acceptor *acc, krb5_context *ctx, krb5_keytab *kt);

/**
 * \brief          Accept one AP-REQ.
 *
 *                 Order of checks: AP-REQ syntax; SPN served; enctype
 *                 allowed; key present for (SPN, kvno, enctype); ticket
 *                 decryption, validity times and authenticator (Heimdal's
 *                 krb5_rd_req_ctx with the MEMORY keytab, PAC server
 *                 signature included); replay cache; GSS checksum and
 *                 channel bindings.  On success the authenticator enters
 *                 the replay cache and, if the client asked for mutual
 *                 authentication, an AP-REP is built.
 *
 * \param acc      The acceptor.
 * \param token    GSS-framed krb5 AP-REQ (from neg_classify()) or a bare
 *                 DER AP-REQ.
 * \param len      Its length.
 * \param params   The virtual host's policy.
 * \param res      Receives the outcome (always initialised; clear it with
 *                 acceptor_result_clear()).
 *
 * \return         0 if accepted (res->status == ACCEPT_OK), -1 otherwise.
 */
int acceptor_accept(struct kg_acceptor *acc, const uint8_t *token, size_t len,
                    const struct accept_params *params, struct accept_result *res);

/**
 * \brief          The Kerberos error a Windows server answers a refused
 *                 AP-REQ with, as a GSS krb5 token (RFC 4121 §4.1, token
 *                 ID 03 00), for the refusal's Negotiate answer (wrap it in
 *                 a NegTokenResp reject for SPNEGO clients):
 *                 KRB_AP_ERR_MODIFIED for a ticket no held key decrypts
 *                 (wrong key, kvno not held), KRB_AP_ERR_SKEW with a
 *                 KERB-ERROR-DATA of type KERB_AP_ERR_TYPE_SKEW_RECOVERY
 *                 (MS-KILE 2.2.1) for clock skew, carrying the server's
 *                 time, from which Windows clients correct their skew and
 *                 retry.  No token for other refusals.
 *
 * \param res      A refused acceptor_accept() result.
 * \param out      Receives the token (free() it), or NULL.
 *
 * \return         1 (a token), 0 (none for this refusal), -1 (memory).
 */
int acceptor_error_token(struct kg_acceptor *acc, const struct accept_result *res,
                         uint8_t **out, size_t *outlen);

/**
 * \brief          Free the buffers of a result and zero it.
 */
void acceptor_result_clear(struct accept_result *res);

/**
 * \brief          How many AP-REQs were accepted on the fast path (AES
 *                 tickets and session keys, see kcrypto.h), and how many
 *                 went through Heimdal's krb5_rd_req_ctx() (other enctypes,
 *                 and every AP-REQ the fast path did not accept, refusals
 *                 included).
 */
void acceptor_path_counts(const struct kg_acceptor *acc, uint64_t *fast, uint64_t *slow);

/**
 * \brief          The channel-bindings hash a client computes for the VIP's
 *                 certificate (Extended Protection).
 *
 *                 Application data is "tls-server-end-point:" followed by
 *                 the certificate hash (RFC 5929 §4.1): SHA-256 of the DER
 *                 certificate, unless its signature uses SHA-384 or SHA-512
 *                 (then that hash; SHA-224 likewise; MD5, SHA-1 and
 *                 anything else map to SHA-256).  The
 *                 result is MD5 over the gss_channel_bindings_struct as RFC
 *                 4121 §4.1.1.2 lays it out with no addresses: initiator
 *                 addrtype 0, address length 0, acceptor addrtype 0,
 *                 length 0, then the application data length (all 32-bit
 *                 little-endian) and the data.  That is the Bnd field of
 *                 the client's 0x8003 checksum.
 *
 * \param der      The certificate, DER.
 * \param len      Its length.
 * \param out      Receives the 16-byte hash.
 *
 * \return         0, or -1 if the certificate does not parse.
 */
int acceptor_cb_hash_from_cert(const uint8_t *der, size_t len, uint8_t out[ACCEPTOR_CB_LEN]);

/** \brief A short name of a status, for metrics ("kvno-not-in-keytab", ...). */
const char *acceptor_status_name(enum accept_status status);

#endif /* KG_ACCEPTOR_H */
