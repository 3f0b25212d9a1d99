/*
 * kcrypto.h: the Kerberos AES enctypes (RFC 3962, on RFC 3961's simplified
 * profile) with mbedTLS primitives.
 *
 * Why not Heimdal's own crypto: Debian's Heimdal does AES and SHA-1 in plain
 * C (hcrypto), about four times slower than mbedTLS with AES-NI, and derives
 * every key again on each call.  The keyholder's hot path (ticket, PAC,
 * authenticator, AP-REP) runs here instead, with the keys derived from the
 * keytab kept for the life of the keytab.  Everything else, and every
 * refusal, still goes through Heimdal.
 *
 * Only aes128-cts-hmac-sha1-96 (17) and aes256-cts-hmac-sha1-96 (18).
 */
#ifndef KERBGATE_KCRYPTO_H
#define KERBGATE_KCRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/aes.h>
#include <mbedtls/md.h>

#define KC_ETYPE_AES128		17
#define KC_ETYPE_AES256		18
#define KC_BLOCK		16
#define KC_CONF_LEN		16	/**< the confounder before the plaintext */
#define KC_MAC_LEN		12	/**< HMAC-SHA1 truncated to 96 bits */
#define KC_OVERHEAD		(KC_CONF_LEN + KC_MAC_LEN)
#define KC_MAX_KEY		32

/* Key usages (RFC 4120 §7.5.1, RFC 4121 §2). */
#define KC_KU_TICKET		2
#define KC_KU_AP_REQ_AUTH	11
#define KC_KU_AP_REP		12
#define KC_KU_PAC_CKSUM		17
#define KC_KU_ACCEPTOR_SIGN	23

/* Error codes. */
#define KC_OK			0
#define KC_ERR_ENCTYPE		-1	/**< not one of the two AES enctypes */
#define KC_ERR_KEY		-2	/**< wrong key length */
#define KC_ERR_LENGTH		-3	/**< ciphertext too short, output too small */
#define KC_ERR_INTEGRITY	-4	/**< HMAC does not match: wrong key or tampered */
#define KC_ERR_CRYPTO		-5	/**< mbedTLS failure, out of memory */

/** What kc_derive() should derive. */
#define KC_WANT_ENCRYPT		0x1	/**< Ke for encryption, and Ki */
#define KC_WANT_DECRYPT		0x2	/**< Ke for decryption, and Ki */
#define KC_WANT_CHECKSUM	0x4	/**< Kc */

/** The keys derived from one base key for one key usage. */
struct kc_usage {
	unsigned want;
	mbedtls_aes_context ke_enc;
	mbedtls_aes_context ke_dec;
	mbedtls_md_context_t ki;	/**< HMAC-SHA1 keyed with Ki */
	mbedtls_md_context_t kc;	/**< HMAC-SHA1 keyed with Kc */
};

/** \brief Whether \p enctype is one this module implements. */
int kc_enctype_supported(int32_t enctype);

/**
 * \brief          RFC 3961 n-fold of \p in to \p outlen bytes.
 *
 * \return         KC_OK, or KC_ERR_LENGTH for an empty input or output, or
 *                 lengths over 64 bytes.
 */
int kc_nfold(const uint8_t *in, size_t inlen, uint8_t *out, size_t outlen);

/**
 * \brief          Derive the keys for one usage: DK(base, usage | 0xAA / 0x55 / 0x99).
 *
 * \param enctype  KC_ETYPE_AES128 or KC_ETYPE_AES256.
 * \param key      The base key (16 or 32 bytes, as the enctype says).
 * \param usage    Key usage number.
 * \param want     KC_WANT_* flags.
 * \param out      Receives the keys; release with kc_usage_free() (also on
 *                 failure).  The derived key bytes live only inside it.
 *
 * \return         KC_OK, KC_ERR_ENCTYPE, KC_ERR_KEY or KC_ERR_CRYPTO.
 */
int kc_derive(int32_t enctype, const uint8_t *key, size_t keylen, uint32_t usage,
    unsigned want, struct kc_usage *out);

/** \brief Wipe and release what kc_derive() set up.  Safe on a zeroed struct. */
void kc_usage_free(struct kc_usage *u);

/**
 * \brief          Decrypt and check an RFC 3962 ciphertext.
 *
 * \param u        Keys with KC_WANT_DECRYPT.
 * \param in       Ciphertext: CTS(confounder | plaintext) | HMAC-96.
 * \param out      Receives the plaintext (confounder removed); room for
 *                 len - KC_MAC_LEN bytes, used as the working buffer.
 *                 Wiped on an integrity failure.
 * \param outlen   Receives the plaintext length.
 *
 * \return         KC_OK, KC_ERR_LENGTH (shorter than KC_OVERHEAD + 0),
 *                 KC_ERR_INTEGRITY or KC_ERR_CRYPTO.
 */
int kc_decrypt(struct kc_usage *u, const uint8_t *in, size_t len, uint8_t *out,
    size_t *outlen);

/**
 * \brief          Encrypt with the given confounder (kc_encrypt() draws one).
 *
 * \param out      Room for len + KC_OVERHEAD bytes.
 *
 * \return         KC_OK, KC_ERR_LENGTH or KC_ERR_CRYPTO.
 */
int kc_encrypt_conf(struct kc_usage *u, const uint8_t conf[KC_CONF_LEN],
    const uint8_t *in, size_t len, uint8_t *out);

/** \brief As kc_encrypt_conf() with a random confounder (getrandom). */
int kc_encrypt(struct kc_usage *u, const uint8_t *in, size_t len, uint8_t *out);

/**
 * \brief          hmac-sha1-96-aes128/256 (checksum types 15, 16) of data.
 *
 * \param u        Keys with KC_WANT_CHECKSUM.
 *
 * \return         KC_OK or KC_ERR_CRYPTO.
 */
int kc_checksum(struct kc_usage *u, const uint8_t *data, size_t len,
    uint8_t out[KC_MAC_LEN]);

/** \brief Fill buf with random bytes from the kernel.  KC_OK or KC_ERR_CRYPTO. */
int kc_random(uint8_t *buf, size_t len);

#endif
