/*
 * api.h: the management API's requests and answers (docs/api.md), apart
 * from the network: a request in (method, path, body, who sent it), a JSON
 * answer out.  What changes a credential goes to the keyholder through
 * kerbgated's control socket (ctlproto.h) by the backend's ctl call, and
 * every change is written to the audit log by the backend's audit call.
 *
 *   GET  /api/v1/credentials                   the store: principals, kvnos,
 *                                              enctypes, states, times
 *   PUT  /api/v1/credentials/staged            {"account", "kvno", "password"}
 *                                              or {"account", "kvno",
 *                                              "keys": [{"enctype", "key"(hex)}]}
 *   POST /api/v1/credentials/staged/verify     {"kvno"}
 *   POST /api/v1/credentials/staged/activate   {"kvno"}
 *   POST /api/v1/credentials/retire            {"kvno"}
 *   POST /api/v1/credentials/package           a sealed credential package
 *                                              (credpkg.h): checked, opened,
 *                                              then stage, verify, activate
 *   PUT  /api/v1/secrets/staged                {"kind": "pool", "name",
 *                                              "secret"(hex)}, {"kind":
 *                                              "cookie"} or {"kind": "tls",
 *                                              "name", "key", "certificate"}
 *   POST /api/v1/secrets/staged/verify         {"kind", "name", "version"}
 *   POST /api/v1/secrets/staged/activate       {"kind", "name", "version"}
 *   POST /api/v1/secrets/retire                {"kind", "name", "version"}
 *                                              (the GET lists them too)
 *
 * Answers are JSON objects: {"ok": true, "message": ...} on success,
 * {"ok": false, "error": "<code>", "message": "<words an admin can act on>"}
 * otherwise.  Nothing secret is ever echoed: not the password, not a key.
 */
#ifndef KG_MGMTD_API_H
#define KG_MGMTD_API_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "ctlproto.h"

#define API_MAX_BODY_DEFAULT	65536

/** Who sent a request: from the client certificate the TLS layer checked. */
struct api_client {
	char	subject[256];		/**< the certificate's subject, printable */
	char	fingerprint[65];	/**< SHA-256 of its DER, hex */
};

struct api_request {
	const char	*method;
	size_t		 method_len;
	const char	*path;		/**< the request target, origin-form */
	size_t		 path_len;
	const char	*body;		/**< may be NULL when body_len is 0 */
	size_t		 body_len;
	const struct api_client *client;
};

struct api_response {
	int	 status;		/**< HTTP status */
	char	*body;			/**< JSON, malloc'd; free with api_response_free() */
	size_t	 body_len;
};

/** What the API acts through; the daemon wires in the real ones. */
struct api_backend {
	/** Sends a request to the keyholder and waits for its answer; 0, or
	 *  -1 with \p err saying why it could not be asked (socket missing,
	 *  kerbgated not running, timed out). */
	int	(*ctl)(void *ctx, const struct ctl_req *req, struct ctl_result *res,
		    char *err, size_t errlen);
	/** Appends one line to the audit log: who, what, which kvno, result. */
	void	(*audit)(void *ctx, const struct api_client *who, const char *action,
		    uint32_t kvno, const char *result);
	void	*ctx;
	/** The pinned management signing key (Ed25519) and this appliance's
	 *  package key (X25519 private); both NULL: packages are refused. */
	EVP_PKEY *pkg_signer;
	EVP_PKEY *pkg_key;
	/** Wall-clock seconds for a package's times; NULL: time(NULL). */
	int64_t	(*now)(void *ctx);
};

/**
 * \brief Handles one request.  Always fills \p rs (a JSON answer), also
 *        when the request is refused.
 * \return the HTTP status written into rs.
 */
int api_handle(const struct api_backend *be, const struct api_request *rq,
    struct api_response *rs);

/** \brief Frees an answer's body. */
void api_response_free(struct api_response *rs);

#endif
