/*
 * Signatures kerbgated puts on what leaves it: the identity header that
 * tells a header-mode back-end who the user is, and the session cookie that
 * lets a browser's extra connections skip a fresh Kerberos exchange.  Both
 * are HMAC-SHA256 (mbedTLS) under keys that are NOT the ASA key: an
 * identity grant's key (derived by the keyholder from a pool's shared
 * header secret), and the keyholder's random cookie key.
 */
#ifndef KG_SIGN_H
#define KG_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define SIGN_HEX_LEN		64	/**< hex HMAC-SHA256, no NUL */
#define SIGN_COOKIE_NAME	"kerbgate_session"
#define SIGN_COOKIE_MAX		512	/**< longest cookie value we issue */

/** What precedes the hex signature in X-Kerbgate-Signature: the format. */
#define SIGN_VERSION_TAG	"v3="

#define SIGN_GRANT_KEY_LEN	32	/**< an identity grant's key */
#define SIGN_GRANT_ID_LEN	16	/**< random bytes; 32 hex on the wire */
/** The X-Kerbgate-Grant header's format, first in its value. */
#define SIGN_GRANT_VERSION	"v=1"

/**
 * Derives an identity grant's key (header mode, docs/backend-verification.md):
 * HMAC-SHA256 under the pool's header secret over, with '\n' between them
 * and no trailing newline,
 *   "kerbgate-grant-v1", user, vhost (lower case), grant id (32 lowercase
 *   hex digits), expiry (decimal Unix seconds).
 * The keyholder, which alone reads the secret, derives it for a user who
 * authenticated; a back-end derives it again from the same secret and the
 * request's fields.  A relay holds only the result: it can sign for that
 * user, at that vhost, until expiry, and for no one else.
 *
 * \return 0, or KG_ERR_INVAL (short secret, empty field, CR or LF).
 */
int sign_grant_key(const uint8_t *secret, size_t secret_len,
    const char *user, const char *vhost, const char *id_hex, uint64_t expiry,
    uint8_t key[SIGN_GRANT_KEY_LEN]);

/** Lowercase hex of n bytes into out (2n characters and a NUL). */
void sign_hex(const uint8_t *p, size_t n, char *out);

/**
 * Signs the identity of one forwarded request (header mode).
 *
 * The signed string is, with '\n' between fields and no trailing newline:
 *   "kerbgate-v3", user, timestamp (decimal Unix seconds), request id,
 *   scheme ("http" or "https"), host (the virtual host's name),
 *   method, request-target
 * and the signature is lowercase hex of HMAC-SHA256(secret, string); it is
 * sent after SIGN_VERSION_TAG.  Scheme and host bind it to the virtual
 * host: a captured request moved to another Host does not verify.
 * docs/backend-verification.md gives the same recipe for back-ends.
 *
 * \param secret, secret_len  the user's grant key for the pool
 *                            (sign_grant_key(); >= 32 bytes)
 * \param out  receives SIGN_HEX_LEN hex characters and a NUL
 * \return 0, or KG_ERR_INVAL.
 */
int sign_identity(const uint8_t *secret, size_t secret_len, const char *user,
    uint64_t timestamp, const char *request_id, const char *scheme,
    const char *host, const char *method, size_t method_len,
    const char *target, size_t target_len, char out[SIGN_HEX_LEN + 1]);

/**
 * Verifies an identity signature (the hex part) in constant time.
 * \return 1 if valid.
 */
int sign_identity_verify(const uint8_t *secret, size_t secret_len,
    const char *user, uint64_t timestamp, const char *request_id,
    const char *scheme, const char *host, const char *method,
    size_t method_len, const char *target, size_t target_len,
    const char *hex);

/**
 * Issues a session cookie value bound to a principal, a virtual host and an
 * expiry: base64url(principal '\n' vhost '\n' expiry) '.' base64url(HMAC).
 *
 * \return 0, or KG_ERR_TOOBIG when it would exceed outsz.
 */
int sign_cookie_issue(const uint8_t key[32], const char *principal,
    const char *vhost, uint64_t expiry, char *out, size_t outsz);

/**
 * Checks a cookie value from a request.  Valid when the HMAC matches, the
 * vhost is the one asked, and now < expiry.
 *
 * \param principal  receives the principal on success
 * \param expiry     receives the expiry on success (may be NULL)
 * \return 1 valid, 0 invalid or expired (never says which: no oracle).
 */
int sign_cookie_check(const uint8_t key[32], const char *value, size_t len,
    const char *vhost, uint64_t now, char *principal, size_t principal_sz,
    uint64_t *expiry);

/**
 * Finds a cookie by name in a Cookie header value ("a=1; b=2").
 * \return 1 and sets *val and *vlen, or 0.
 */
int sign_cookie_find(const char *header, size_t len, const char *name,
    const char **val, size_t *vlen);

#endif /* KG_SIGN_H */
