/*
 * negotiate.h: HTTP Negotiate tokens (RFC 4559), no keys involved.
 *
 * Decodes the base64 of an `Authorization: Negotiate <b64>` value,
 * classifies the token, and builds the tokens that go back in
 * `WWW-Authenticate: Negotiate <b64>`.  The relay workers run this code on
 * untrusted input; only the krb5 AP-REQ it finds goes on to the keyholder
 * (acceptor.h).
 *
 * Tokens understood:
 *
 * - a raw GSS krb5 token: [APPLICATION 0] { OID, TOK_ID 01 00, AP-REQ }
 *   (RFC 4121 §4.1), under the krb5 OID 1.2.840.113554.1.2.2 or the
 *   Microsoft one, 1.2.840.48018.1.2.2;
 * - raw NTLMSSP ("NTLMSSP\0");
 * - SPNEGO (RFC 4178) NegTokenInit, GSS-framed under 1.3.6.1.5.5.2, as
 *   Windows sends it: mechTypes [MS-KRB5, KRB5, NEGOEX, NTLM] with an
 *   optimistic krb5 mechToken; NegTokenInit2 (MS-SPNG) is accepted too;
 * - SPNEGO NegTokenResp from the client (a second leg), carrying the
 *   krb5 AP-REQ in responseToken.
 *
 * SPNEGO decisions (RFC 4178 §3.2):
 *
 * - krb5 is the client's first mech and it sent a mechToken: use that
 *   optimistic token (NEG_KRB5_SPNEGO); answer accept-completed with
 *   supportedMech echoing the client's first OID (MS-KRB5 if it listed
 *   that first, as Windows does) and responseToken = the GSS AP-REP.
 * - krb5 is listed but not first (or first without a token): answer
 *   accept-incomplete with supportedMech krb5 and no token
 *   (NEG_NEED_KRB5_LEG); the client sends its AP-REQ in a NegTokenResp on
 *   the same connection (NEG_KRB5_SPNEGO_LEG2), answered accept-completed
 *   without supportedMech (only the first reply carries it).
 * - only NTLM is offered: NEG_NTLM (see NEG_NTLM_HINT).
 *
 * mechListMIC (RFC 4178 §5):
 *
 * - The client's MIC, when it sends one (in NegTokenInit [3] or
 *   NegTokenInit2 [4] next to its optimistic token, or in the NegTokenResp
 *   that carries its AP-REQ), is kept in struct neg_token and checked by
 *   the keyholder against the MechTypeList the same client sent (leg one),
 *   under its initiator subkey or the ticket's session key, key usage 25
 *   (RFC 4121 §4.2.6.1; RFC 4757 format for RC4 session keys).  A MIC that
 *   does not verify, or one that arrives without the list it covers, fails
 *   the authentication.  A NegTokenResp carrying only a MIC (a third leg)
 *   is not supported: it is malformed here.
 * - Ours is sent in the accept-completed answer when RFC 4178 requires it
 *   (Kerberos selected but not the client's first choice) and whenever the
 *   client sent one, so that an initiator which started the exchange can
 *   finish it.  It is made with the acceptor subkey of our AP-REP, so only
 *   under mutual authentication with an AES session key; otherwise (no
 *   AP-REP, or RC4) none is sent.  With Kerberos first and no client MIC
 *   (what Windows, MIT and Heimdal initiators do) the exchange is optional
 *   and no MIC is sent: the client got its first choice, so the list
 *   cannot have been altered to downgrade it.
 *
 * All parsing uses Heimdal's DER primitives (der.h); every length is
 * bounded by the bytes that remain.  Returned pointers point into the
 * caller's buffer.
 */
#ifndef KG_NEGOTIATE_H
#define KG_NEGOTIATE_H

#include <stddef.h>
#include <stdint.h>

/** Largest decoded Negotiate token accepted (64 KiB of base64). */
#define NEG_MAX_TOKEN_LEN (48 * 1024)

/** Longest base64 text that can decode to NEG_MAX_TOKEN_LEN bytes. */
#define NEG_MAX_B64_LEN (((NEG_MAX_TOKEN_LEN + 2) / 3) * 4)

/** GSS krb5 token identifiers (RFC 4121 §4.1), big-endian on the wire. */
#define NEG_TOK_AP_REQ   0x0100
#define NEG_TOK_AP_REP   0x0200
#define NEG_TOK_KRB_ERR  0x0300

/**
 * Log line for NEG_NTLM; the relay fills in the SPN it serves (%s).
 */
#define NEG_NTLM_HINT "client offered NTLM, not Kerberos: is %s registered " \
	"to the ASA account, and can the client reach a KDC?"

/** Errors (negative) returned by this module. */
enum neg_error {
	NEG_OK = 0,
	NEG_ERR_SCHEME = -1,		/**< the value is not `Negotiate <token>` */
	NEG_ERR_BASE64 = -2,		/**< not strict base64 */
	NEG_ERR_TOO_LARGE = -3,		/**< token above NEG_MAX_TOKEN_LEN */
	NEG_ERR_MALFORMED = -4,		/**< bad DER, framing or token ids */
	NEG_ERR_CLIENT_REJECT = -5,	/**< NegTokenResp with negState reject */
	NEG_ERR_BUFFER = -6,		/**< output buffer too small */
	NEG_ERR_INVALID = -7,		/**< bad argument (e.g. nothing to answer) */
};

/** What a Negotiate token is, and so what the relay does next. */
enum neg_kind {
	NEG_KRB5_RAW = 1,	/**< GSS krb5 AP-REQ: accept, answer GSS AP-REP */
	NEG_KRB5_SPNEGO,	/**< SPNEGO init with optimistic krb5 AP-REQ */
	NEG_KRB5_SPNEGO_LEG2,	/**< SPNEGO NegTokenResp carrying the AP-REQ */
	NEG_NEED_KRB5_LEG,	/**< SPNEGO init, krb5 offered, no usable token:
				     answer accept-incomplete, keep the connection */
	NEG_NTLM,		/**< NTLMSSP, or SPNEGO offering NTLM but no krb5 */
	NEG_UNSUPPORTED,	/**< SPNEGO offering neither krb5 nor NTLM */
};

/** The krb5 mechanism OIDs. */
enum neg_mech {
	NEG_MECH_NONE = 0,
	NEG_MECH_KRB5,		/**< 1.2.840.113554.1.2.2 (RFC 1964) */
	NEG_MECH_MS_KRB5,	/**< 1.2.840.48018.1.2.2 (Windows lists it first) */
};

/** SPNEGO negState (RFC 4178 §4.2.2). */
enum neg_state {
	NEG_STATE_ACCEPT_COMPLETED = 0,
	NEG_STATE_ACCEPT_INCOMPLETE = 1,
	NEG_STATE_REJECT = 2,
};

/** A classified token; pointers point into the buffer given to neg_classify(). */
struct neg_token {
	enum neg_kind kind;
	/**
	 * The OID to answer with: the raw token's framing OID (NEG_KRB5_RAW),
	 * the client's preferred OID (NEG_KRB5_SPNEGO), or the first krb5 OID
	 * it listed (NEG_NEED_KRB5_LEG).  NEG_MECH_NONE otherwise.
	 */
	enum neg_mech mech;
	const uint8_t *krb5_token;	/**< GSS-framed AP-REQ, for acceptor_accept() */
	size_t krb5_token_len;
	/**
	 * NegTokenInit only: the DER MechTypeList exactly as the client sent
	 * it, and whether Kerberos was not its first choice.  Then RFC 4178 §5
	 * wants a mechListMIC over these bytes in the final answer, so the
	 * relay keeps them until the Kerberos leg arrives.
	 */
	const uint8_t *mech_types;
	size_t mech_types_len;
	int mic_needed;
	/**
	 * The client's own mechListMIC (the OCTET STRING's content: a GSS MIC
	 * token over its MechTypeList), from a NegTokenInit, NegTokenInit2 or
	 * NegTokenResp; NULL when it sent none.  The keyholder verifies it
	 * (accept_params.client_mic); the relay never reads it.
	 */
	const uint8_t *mic;
	size_t mic_len;
};

/**
 * \brief          Decode strict base64 (RFC 4648 §4, padded, no
 *                 whitespace, no line breaks).
 *
 * \param b64      The text.
 * \param len      Its length; must be a non-zero multiple of 4.
 * \param out      Receives the bytes.
 * \param outsize  Size of \p out.
 * \param outlen   Receives the decoded length.
 *
 * \return         NEG_OK; NEG_ERR_BASE64 for anything but canonical
 *                 base64; NEG_ERR_TOO_LARGE above NEG_MAX_TOKEN_LEN;
 *                 NEG_ERR_BUFFER if \p outsize is short.
 */
int neg_base64_decode(const char *b64, size_t len, uint8_t *out, size_t outsize,
                      size_t *outlen);

/**
 * \brief          Encode bytes as base64 for `WWW-Authenticate: Negotiate`.
 *
 * \param in       The token.
 * \param len      Its length.
 * \param out      Receives NUL-terminated text.
 * \param outsize  Size of \p out (4 * ceil(len / 3) + 1 suffices).
 * \param outlen   Receives the text length, without the NUL.
 *
 * \return         NEG_OK or NEG_ERR_BUFFER.
 */
int neg_base64_encode(const uint8_t *in, size_t len, char *out, size_t outsize,
                      size_t *outlen);

/**
 * \brief          Decode an Authorization header value.
 *
 *                 Accepts `Negotiate` (any case), one or more spaces, the
 *                 base64 token, optional trailing spaces or tabs.
 *
 * \param value    The header value (not NUL-terminated necessarily).
 * \param len      Its length.
 * \param out      Receives the decoded token.
 * \param outsize  Size of \p out.
 * \param outlen   Receives the token length.
 *
 * \return         NEG_OK, NEG_ERR_SCHEME (another scheme, or no token),
 *                 or an error of neg_base64_decode().
 */
int neg_parse_authorization(const char *value, size_t len, uint8_t *out,
                            size_t outsize, size_t *outlen);

/**
 * \brief          Classify a decoded Negotiate token.
 *
 * \param tok      The token.
 * \param len      Its length (at most NEG_MAX_TOKEN_LEN).
 * \param out      Receives the kind, the mech to answer with and, for the
 *                 NEG_KRB5_* kinds, the GSS-framed krb5 AP-REQ to accept.
 *
 * \return         NEG_OK; NEG_ERR_TOO_LARGE; NEG_ERR_MALFORMED for
 *                 anything that is not one of the tokens above, including
 *                 a krb5 token that is not an AP-REQ and trailing bytes;
 *                 NEG_ERR_CLIENT_REJECT when the client's NegTokenResp
 *                 says reject.
 */
int neg_classify(const uint8_t *tok, size_t len, struct neg_token *out);

/**
 * \brief          Strip the GSS framing of a krb5 token.
 *
 * \param tok      [APPLICATION 0] { krb5 or MS-krb5 OID, TOK_ID, body }.
 * \param len      Its length; the framing must cover it exactly.
 * \param tok_id   The TOK_ID required (NEG_TOK_AP_REQ, ...).
 * \param mech     Receives the framing OID (may be NULL).
 * \param body     Receives a pointer to the body (the DER AP-REQ, ...).
 * \param body_len Receives its length.
 *
 * \return         NEG_OK or NEG_ERR_MALFORMED.
 */
int neg_gss_krb5_unwrap(const uint8_t *tok, size_t len, uint16_t tok_id,
                        enum neg_mech *mech, const uint8_t **body, size_t *body_len);

/**
 * \brief          Add the GSS framing to a krb5 message.
 *
 * \param mech     NEG_MECH_KRB5 or NEG_MECH_MS_KRB5.
 * \param tok_id   NEG_TOK_AP_REP, ...
 * \param body     The DER message (an AP-REP from acceptor_accept()).
 * \param body_len Its length.
 * \param out      Receives the token.
 * \param outsize  Size of \p out.
 * \param outlen   Receives the token length.
 *
 * \return         NEG_OK, NEG_ERR_BUFFER, or NEG_ERR_INVALID for a bad mech.
 */
int neg_gss_krb5_wrap(enum neg_mech mech, uint16_t tok_id, const uint8_t *body,
                      size_t body_len, uint8_t *out, size_t outsize, size_t *outlen);

/**
 * \brief          Build a SPNEGO NegTokenResp without mechListMIC.
 *
 * \param state    negState.
 * \param mech     supportedMech, or NEG_MECH_NONE to omit it.
 * \param resp     responseToken (a GSS token), or NULL to omit it.
 * \param resp_len Its length.
 * \param out      Receives the token.
 * \param outsize  Size of \p out.
 * \param outlen   Receives the token length.
 *
 * \return         NEG_OK, NEG_ERR_BUFFER, or NEG_ERR_INVALID.
 */
/**
 * \brief Like neg_spnego_resp(), with a mechListMIC ([3]) when mic is not
 *        NULL: the acceptor's GSS MIC over the client's MechTypeList.
 */
int neg_spnego_resp_mic(enum neg_state state, enum neg_mech mech,
                        const uint8_t *resp, size_t resp_len, const uint8_t *mic,
                        size_t mic_len, uint8_t *out, size_t outsize, size_t *outlen);

int neg_spnego_resp(enum neg_state state, enum neg_mech mech, const uint8_t *resp,
                    size_t resp_len, uint8_t *out, size_t outsize, size_t *outlen);

/**
 * \brief          Build the answer token for a classified request.
 *
 *                 NEG_KRB5_RAW: the GSS-framed AP-REP (under the client's
 *                 framing OID); nothing (*outlen = 0) without an AP-REP.
 *                 NEG_KRB5_SPNEGO: NegTokenResp accept-completed,
 *                 supportedMech = the client's preferred OID, responseToken
 *                 = the GSS AP-REP when there is one.
 *                 NEG_KRB5_SPNEGO_LEG2: accept-completed, responseToken,
 *                 no supportedMech.
 *                 NEG_NEED_KRB5_LEG: accept-incomplete, supportedMech krb5
 *                 (\p ap_rep must be NULL).
 *
 * \param req      The request, from neg_classify().
 * \param ap_rep   The DER AP-REP from acceptor_accept(), or NULL when the
 *                 client did not ask for mutual authentication.
 * \param ap_rep_len Its length.
 * \param out      Receives the token (base64-encode it for the header).
 * \param outsize  Size of \p out.
 * \param outlen   Receives the token length (0: send no token).
 *
 * \return         NEG_OK, NEG_ERR_BUFFER, or NEG_ERR_INVALID for a kind
 *                 that gets no Negotiate answer (NTLM, unsupported).
 */
int neg_build_answer(const struct neg_token *req, const uint8_t *ap_rep,
                     size_t ap_rep_len, uint8_t *out, size_t outsize, size_t *outlen);

/** \brief A short name of a kind, for logs ("krb5", "spnego-krb5", ...). */
const char *neg_kind_name(enum neg_kind kind);

/** \brief A short description of a neg_error, for logs. */
const char *neg_strerror(int err);

#endif /* KG_NEGOTIATE_H */
