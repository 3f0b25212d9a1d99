/*
 * The relay <-> keyholder protocol: framed IPC (ipc.h) with TLV payloads
 * (tlv.h).  A relay asks; the keyholder answers with the same frame id.
 * No long-term key crosses this boundary: requests carry a client's AP-REQ
 * or session cookie, answers carry a verdict, a principal, the AP-REP for
 * mutual auth, and identity grants: per-user keys derived from the pools'
 * header secrets (sign_grant_key()), which the keyholder alone holds.
 */
#ifndef KG_KHPROTO_H
#define KG_KHPROTO_H

#include <stddef.h>
#include <stdint.h>

/* Frame types. */
#define KH_MSG_AUTH		1	/**< relay -> keyholder */
#define KH_MSG_AUTH_RESULT	2	/**< keyholder -> relay */
#define KH_MSG_BACKEND		3	/**< relay -> keyholder: a delegated token */
#define KH_MSG_BACKEND_RESULT	4	/**< keyholder -> relay */
#define KH_MSG_VERIFY		5	/**< relay -> keyholder: a back-end's AP-REP */
#define KH_MSG_VERIFY_RESULT	6	/**< keyholder -> relay */
#define KH_MSG_COOKIE		7	/**< relay -> keyholder: a session cookie */
#define KH_MSG_COOKIE_RESULT	8	/**< keyholder -> relay: as AUTH_RESULT */

#define KH_MAX_GRANTS		8	/**< header-mode pools one vhost routes to */
#define KH_MAX_COOKIE		512	/**< longest cookie value (SIGN_COOKIE_MAX) */

/**
 * An identity grant: lets the relay sign requests to one header-mode pool
 * as one user, at one vhost, until the answer's expiry.  The key is
 * sign_grant_key() over the pool's secret, the user, the vhost, the id in
 * hex and the expiry; the relay sends id and expiry in X-Kerbgate-Grant.
 */
struct kh_grant {
	uint32_t	 pool;		/**< conf.pools index */
	uint8_t		 id[16];	/**< random, per grant */
	uint8_t		 key[32];
};

/** The keyholder's verdict on one AP-REQ. */
enum kh_status {
	KH_OK = 0,		/**< authenticated */
	KH_DENIED,		/**< a valid token we refuse (kvno, SPN, skew...) */
	KH_MALFORMED,		/**< not a usable AP-REQ */
	KH_INTERNAL,		/**< the keyholder failed (no keytab, memory) */
	KH_UNAVAILABLE,		/**< cannot authenticate anyone just now
				     (replay cache full; this principal's
				     quota of it): answer 503 */
};

/**
 * Why a token was refused, as a stable label for /metrics.  The free-text
 * reason in the answer says the specifics for the log.
 */
enum kh_reason {
	KH_R_NONE = 0,
	KH_R_KVNO,		/**< kvno not in keytab */
	KH_R_KEY,		/**< does not decrypt: stale keytab */
	KH_R_SKEW,		/**< clock skew */
	KH_R_REPLAY,		/**< replayed authenticator */
	KH_R_SPN,		/**< SPN not served here */
	KH_R_ENCTYPE,		/**< enctype disabled */
	KH_R_EXPIRED,		/**< ticket expired */
	KH_R_CHANNEL_BINDING,	/**< Extended Protection mismatch/missing */
	KH_R_MALFORMED,		/**< malformed token */
	KH_R_INTERNAL,		/**< keyholder problem */
	KH_R_REPLAY_CACHE_FULL,	/**< replay cache full of live entries */
	KH_R_REPLAY_QUOTA,	/**< one principal holds its quota of the
				     replay cache: that one is refused */
	KH_R_MAX
};

/** Labels for enum kh_reason, e.g. "kvno_not_in_keytab". */
const char *kh_reason_label(enum kh_reason r);

struct kh_auth_req {
	uint32_t	 vhost;		/**< index into conf.vhosts */
	const uint8_t	*ap_req;	/**< GSS-framed krb5 AP-REQ */
	size_t		 ap_req_len;
	int		 has_cb;	/**< a VIP certificate binding is known */
	uint8_t		 cb_hash[16];	/**< expected Bnd (RFC 4121 §4.1.1.2) */
	const uint8_t	*mech_list;	/**< SPNEGO MechTypeList to MIC, or NULL */
	size_t		 mech_list_len;
	const uint8_t	*client_mic;	/**< the client's mechListMIC over
					     mech_list, to verify, or NULL */
	size_t		 client_mic_len;
};

struct kh_auth_result {
	enum kh_status	 status;
	enum kh_reason	 reason_code;
	char		 reason[256];	/**< for the log; never secret */
	char		 principal[256];/**< alice@CORP.CONTOSO.COM */
	uint64_t	 endtime;	/**< ticket end, Unix seconds */
	int32_t		 enctype;
	const uint8_t	*ap_rep;	/**< raw AP-REP (mutual auth) or NULL */
	size_t		 ap_rep_len;
	const uint8_t	*mic;		/**< mechListMIC token, or NULL */
	size_t		 mic_len;
	uint64_t	 session;	/**< the keyholder's handle on this
					     authentication's evidence ticket, for
					     KH_MSG_BACKEND; 0 when none is kept */
	const uint8_t	*krb_error;	/**< KH_DENIED: the GSS token with the
					     KRB-ERROR to answer with
					     (acceptor_error_token()), or NULL */
	size_t		 krb_error_len;
	uint64_t	 expiry;	/**< the login (and its grants and cookie)
					     ends: Unix seconds; KH_OK only */
	char		 cookie[KH_MAX_COOKIE + 1];	/**< session cookie value
					     to set, or "" */
	struct kh_grant	 grants[KH_MAX_GRANTS];	/**< secret: zero after use */
	size_t		 ngrants;
};

/**
 * KH_MSG_COOKIE: "does this session cookie log a user in at this vhost?"
 * The answer is a KH_MSG_COOKIE_RESULT frame in kh_auth_result's encoding:
 * KH_OK with principal, expiry and grants, or KH_DENIED.
 */
struct kh_cookie_req {
	uint32_t	 vhost;		/**< index into conf.vhosts */
	const char	*value;		/**< the kerbgate_session value */
	size_t		 value_len;	/**< 1 to KH_MAX_COOKIE */
};

int kh_cookie_req_encode(const struct kh_cookie_req *req, uint8_t **out,
    size_t *outlen);
/** Decodes; value points into p.  \return 0 or KG_ERR_PROTO. */
int kh_cookie_req_decode(const uint8_t *p, size_t n,
    struct kh_cookie_req *req);

/** The keyholder's verdict on a request for a delegated back-end token. */
enum kh_backend_status {
	KH_B_OK = 0,		/**< token follows */
	KH_B_REFUSED,		/**< the KDC refused (policy): answer 502 */
	KH_B_UNAVAILABLE,	/**< KDC unreachable, timed out, session gone,
				     keyholder busy: answer 503 */
};

/**
 * KH_MSG_BACKEND: "a fresh AP-REQ for this user to this back-end".  The
 * keyholder finds the user's evidence by session, gets (or reuses) a ticket
 * for spn by S4U2Proxy, and builds the token bound to cb when given.
 */
struct kh_backend_req {
	uint64_t	 session;	/**< from kh_auth_result.session */
	uint32_t	 pool;		/**< conf.pools index: its policy */
	char		 spn[256];	/**< http/cas1.corp.contoso.com */
	const uint8_t	*cb;		/**< "tls-server-end-point:" + hash of the
					     back-end's certificate, or NULL */
	size_t		 cb_len;
};

struct kh_backend_result {
	enum kh_backend_status status;
	char		 reason[512];	/**< for the log; never secret */
	const uint8_t	*token;		/**< GSS krb5 AP-REQ for Negotiate */
	size_t		 token_len;
	uint64_t	 verify;	/**< handle for KH_MSG_VERIFY when the pool
					     checks mutual auth, else 0 */
};

/** KH_MSG_VERIFY: the back-end's Negotiate answer, for a KH_MSG_BACKEND. */
struct kh_verify_req {
	uint64_t	 verify;
	const uint8_t	*token;		/**< decoded WWW-Authenticate token */
	size_t		 token_len;
};

struct kh_verify_result {
	uint32_t	 ok;		/**< 1: the back-end proved it has its key */
	char		 reason[256];
};

/* Codecs for the frames above; same conventions as the auth ones. */
int kh_backend_req_encode(const struct kh_backend_req *req, uint8_t **out,
    size_t *outlen);
int kh_backend_req_decode(const uint8_t *p, size_t n,
    struct kh_backend_req *req);
int kh_backend_result_encode(const struct kh_backend_result *res,
    uint8_t **out, size_t *outlen);
int kh_backend_result_decode(const uint8_t *p, size_t n,
    struct kh_backend_result *res);
int kh_verify_req_encode(const struct kh_verify_req *req, uint8_t **out,
    size_t *outlen);
int kh_verify_req_decode(const uint8_t *p, size_t n, struct kh_verify_req *req);
int kh_verify_result_encode(const struct kh_verify_result *res,
    uint8_t **out, size_t *outlen);
int kh_verify_result_decode(const uint8_t *p, size_t n,
    struct kh_verify_result *res);

/**
 * Encodes a request payload into a freshly allocated buffer.
 * \return 0, or KG_ERR_NOMEM / KG_ERR_TOOBIG.  Free *out with free().
 */
int kh_auth_req_encode(const struct kh_auth_req *req, uint8_t **out,
    size_t *outlen);

/** Decodes a request; pointers refer into p.  \return 0 or KG_ERR_PROTO. */
int kh_auth_req_decode(const uint8_t *p, size_t n, struct kh_auth_req *req);

/**
 * Encodes an answer (see kh_auth_req_encode()); the buffer holds grant
 * keys: free it with kg_freezero().
 */
int kh_auth_result_encode(const struct kh_auth_result *res, uint8_t **out,
    size_t *outlen);

/**
 * Decodes an answer; ap_rep points into p.  Grants and cookie come only
 * with KH_OK.  \return 0 or KG_ERR_PROTO.
 */
int kh_auth_result_decode(const uint8_t *p, size_t n,
    struct kh_auth_result *res);

#endif /* KG_KHPROTO_H */
