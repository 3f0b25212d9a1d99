/*
 * credpkg.h: the sealed credential package (docs/package.md).
 *
 * The management plane (kerbgate-roll --package) encrypts a staged
 * credential to one appliance's X25519 key and signs the whole with its
 * Ed25519 key; the appliance (kerbgate-mgmtd) checks the signature against
 * the pinned management key before anything else, then decrypts.  The
 * plaintext is the body of PUT /api/v1/credentials/staged (docs/api.md).
 *
 *   header (112 bytes, GCM's additional data, signed)
 *     0   8  magic "KGCREDPK"
 *     8   1  version, 1
 *     9   1  suite, 1 (X25519, HKDF-SHA256, AES-256-GCM, Ed25519)
 *    10   2  reserved, 0
 *    12   8  created (Unix seconds)
 *    20   8  expires (Unix seconds)
 *    28   4  kvno (the plaintext must name the same)
 *    32  32  recipient's X25519 public key
 *    64  32  ephemeral X25519 public key
 *    96  12  GCM nonce
 *   108   4  ciphertext length n (1 .. PKG_MAX_PLAINTEXT)
 *   112   n  ciphertext
 *   112+n 16 GCM tag
 *   128+n 64 Ed25519 signature over every byte before it
 */
#ifndef KG_CREDPKG_H
#define KG_CREDPKG_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define PKG_MAGIC		"KGCREDPK"
#define PKG_VERSION		1
#define PKG_SUITE		1
#define PKG_HEADER_LEN		112
#define PKG_TAG_LEN		16
#define PKG_SIG_LEN		64
#define PKG_KEY_LEN		32
#define PKG_MAX_PLAINTEXT	4096
#define PKG_MIN_LEN		(PKG_HEADER_LEN + 1 + PKG_TAG_LEN + PKG_SIG_LEN)
#define PKG_MAX_LEN		(PKG_HEADER_LEN + PKG_MAX_PLAINTEXT + PKG_TAG_LEN + PKG_SIG_LEN)
#define PKG_MAX_LIFETIME	(30 * 86400)	/* created .. expires, at most */
#define PKG_SKEW		300		/* clock difference tolerated */

/** What a package says about itself (from its signed header). */
struct pkg_info {
	uint32_t	kvno;
	int64_t		created;
	int64_t		expires;
};

/**
 * \brief Seals \p pt (the staged credential, JSON) for \p recipient (an
 *        X25519 public key) and signs it with \p signer (Ed25519 private).
 * \param out  malloc'd package on success; free with free().
 * \return 0, or -1 with \p err saying why.
 */
int pkg_seal(EVP_PKEY *signer, EVP_PKEY *recipient, const struct pkg_info *info,
    const uint8_t *pt, size_t ptlen, uint8_t **out, size_t *outlen,
    char *err, size_t errlen);

/**
 * \brief Checks and opens a package, in this order: size and header fields,
 *        the signature against \p signer (the pinned management key), that
 *        it is sealed to \p recipient's key, its times against \p now, its
 *        kvno above \p active_kvno (0: none active), then decrypts.
 * \param pt  on success a malloc'd buffer holding the plaintext
 *            (ptlen bytes and a NUL); free with pkg_free_plaintext().
 * \return 0, or -1 with \p err in words an admin can act on.  Nothing is
 *         decrypted unless the signature is good.
 */
int pkg_open(const uint8_t *pkg, size_t len, EVP_PKEY *signer, EVP_PKEY *recipient,
    int64_t now, uint32_t active_kvno, struct pkg_info *info, uint8_t **pt,
    size_t *ptlen, char *err, size_t errlen);

/** \brief Wipes and frees what pkg_open() returned. */
void pkg_free_plaintext(uint8_t *pt, size_t ptlen);

/**
 * \brief Reads a PEM key file: \p want_private 1 for a private key (the
 *        file must not be readable by group or others), 0 for a public one
 *        (a private key file is accepted and its public half used).
 * \param type  EVP_PKEY_ED25519 or EVP_PKEY_X25519: another type is refused.
 * \return the key, or NULL with \p err saying why.
 */
EVP_PKEY *pkg_load_key(const char *path, int type, int want_private,
    char *err, size_t errlen);

/** \brief The first 8 bytes of SHA-256 of a raw public key, hex (16 digits). */
void pkg_key_id(const uint8_t pub[PKG_KEY_LEN], char out[17]);

#endif
