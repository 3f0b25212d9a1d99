/*
 * The relay <-> keyholder protocol: framed IPC (ipc.h) with TLV payloads
 * (tlv.h).  A relay asks; the keyholder answers with the same frame id.
 * Key bytes never cross this boundary: requests carry a client's AP-REQ,
 * answers carry a verdict, a principal, and the AP-REP for mutual auth.
 */
#ifndef KG_KHPROTO_H
#define KG_KHPROTO_H

#include <stddef.h>
#include <stdint.h>

/* Frame types. */
#define KH_MSG_AUTH		1	/**< relay -> keyholder */
#define KH_MSG_AUTH_RESULT	2	/**< keyholder -> relay */

/** The keyholder's verdict on one AP-REQ. */
enum kh_status {
	KH_OK = 0,		/**< authenticated */
	KH_DENIED,		/**< a valid token we refuse (kvno, SPN, skew...) */
	KH_MALFORMED,		/**< not a usable AP-REQ */
	KH_INTERNAL,		/**< the keyholder failed (no keytab, memory) */
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
};

/**
 * Encodes a request payload into a freshly allocated buffer.
 * \return 0, or KG_ERR_NOMEM / KG_ERR_TOOBIG.  Free *out with free().
 */
int kh_auth_req_encode(const struct kh_auth_req *req, uint8_t **out,
    size_t *outlen);

/** Decodes a request; pointers refer into p.  \return 0 or KG_ERR_PROTO. */
int kh_auth_req_decode(const uint8_t *p, size_t n, struct kh_auth_req *req);

/** Encodes an answer (see kh_auth_req_encode()). */
int kh_auth_result_encode(const struct kh_auth_result *res, uint8_t **out,
    size_t *outlen);

/** Decodes an answer; ap_rep points into p.  \return 0 or KG_ERR_PROTO. */
int kh_auth_result_decode(const uint8_t *p, size_t n,
    struct kh_auth_result *res);

#endif /* KG_KHPROTO_H */
