/*
 * ctlproto.h: the credential control frames (docs/credentials.md).
 *
 * kerbgatectl -> parent (unix socket, root only) -> keyholder (its
 * credential socketpair), and the answer back, as framed IPC (ipc.h) with
 * TLV payloads (tlv.h).  The parent decodes every request before it
 * forwards it, and the keyholder decodes it again: neither trusts the
 * other's side of the socket.
 *
 *   CTL_MSG_STAGE     principal, kvno, and a password or 1..4 keys
 *   CTL_MSG_VERIFY    kvno
 *   CTL_MSG_ACTIVATE  kvno
 *   CTL_MSG_RETIRE    kvno
 *   CTL_MSG_LIST      (empty)
 *   CTL_MSG_LIST_JSON (empty): the same as a JSON object (docs/api.md),
 *                     the other secrets too
 *   CTL_MSG_SECRET_STAGE     kind, name, and for a pool its secret, for tls
 *                            the key and chain (PEM); a cookie key is made
 *                            by the keyholder (secretstore.h)
 *   CTL_MSG_SECRET_VERIFY    kind, name, version (in kvno)
 *   CTL_MSG_SECRET_ACTIVATE  kind, name, version
 *   CTL_MSG_SECRET_RETIRE    kind, name, version
 *   CTL_MSG_SECRET_LIST      (empty): the other secrets as a table
 *   CTL_MSG_RESULT    status, text; from the keyholder to the parent also
 *                     the sealed store to write (never passed on)
 *
 * The password, keys and secrets are secrets: the codecs' buffers are
 * wiped.
 */
#ifndef KG_CTLPROTO_H
#define KG_CTLPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "credkeys.h"

#define CTL_MSG_STAGE		1
#define CTL_MSG_VERIFY		2
#define CTL_MSG_ACTIVATE	3
#define CTL_MSG_RETIRE		4
#define CTL_MSG_LIST		5
#define CTL_MSG_LIST_JSON	6	/**< as LIST, the answer's text is JSON (the API's) */
#define CTL_MSG_SECRET_STAGE	7
#define CTL_MSG_SECRET_VERIFY	8
#define CTL_MSG_SECRET_ACTIVATE	9
#define CTL_MSG_SECRET_RETIRE	10
#define CTL_MSG_SECRET_LIST	11
#define CTL_MSG_RESULT		16

#define CTL_MAX_PASSWORD	256
#define CTL_MAX_KEYS		4
#define CTL_MAX_TEXT		8192
#define CTL_MAX_NAME		256

enum ctl_status {
	CTL_OK = 0,
	CTL_REFUSED,		/**< the request breaks a rule; nothing changed */
	CTL_FAILED,		/**< verification failed, or the store could not
				     be written: the text says what to do */
};

struct ctl_req {
	uint16_t	 type;		/**< CTL_MSG_STAGE .. CTL_MSG_SECRET_LIST */
	char		 principal[256];/**< stage */
	uint32_t	 kvno;		/**< all but list */
	const uint8_t	*password;	/**< stage: points into the payload */
	size_t		 pwlen;
	struct cred_key	 keys[CTL_MAX_KEYS];	/**< stage: or these (copied) */
	size_t		 nkeys;
	/* The other secrets (CTL_MSG_SECRET_*); the version is in kvno. */
	uint32_t	 kind;		/**< enum secret_kind */
	char		 name[CTL_MAX_NAME];	/**< pool or vhost; "" for cookie */
	const uint8_t	*secret;	/**< stage: pool secret, or TLS key PEM
					     (points into the payload) */
	size_t		 secretlen;
	const uint8_t	*cert;		/**< stage, tls: the chain's PEM */
	size_t		 certlen;
};

struct ctl_result {
	uint32_t	 status;	/**< enum ctl_status */
	char		 text[CTL_MAX_TEXT];
	const uint8_t	*sealed;	/**< keyholder -> parent: the store */
	size_t		 sealed_len;
};

/** \brief Whether type is a request type. */
int ctl_is_request(uint16_t type);

/**
 * \brief          Encode a request (req->type says which fields count).
 *
 * \return         0, or a KG_ERR_* code.  Wipe and free *out (kg_freezero).
 */
int ctl_req_encode(const struct ctl_req *req, uint8_t **out, size_t *outlen);

/**
 * \brief          Decode and check a request of frame type \p type:
 *                 account "NAME@REALM", kvno 1..2^31-1, a password of
 *                 1..CTL_MAX_PASSWORD bytes or 1..CTL_MAX_KEYS keys of
 *                 AD's enctypes with their lengths, nothing more; for
 *                 the secrets a known kind, a name as the kind needs
 *                 (none for the cookie key), a version 1..2^31-1, and
 *                 staged values of the sizes secret_check_size() takes.
 *
 * \return         0, or KG_ERR_PROTO.  Wipe req with kg_zero() after use.
 */
int ctl_req_decode(uint16_t type, const uint8_t *p, size_t n,
    struct ctl_req *req);

/** \brief Encode an answer.  0, or a KG_ERR_* code; free *out. */
int ctl_result_encode(const struct ctl_result *res, uint8_t **out,
    size_t *outlen);

/** \brief Decode an answer; sealed points into p.  0 or KG_ERR_PROTO. */
int ctl_result_decode(const uint8_t *p, size_t n, struct ctl_result *res);

#endif /* KG_CTLPROTO_H */
