/*
 * kg_psa_ossl.h: a PSA Crypto transparent ("accelerator") driver that does
 * the ephemeral key exchange of TLS (X25519 and P-256 ECDH) with OpenSSL's
 * libcrypto instead of mbedTLS's own arithmetic.
 *
 * mbedTLS's driver dispatch layer (library/psa_crypto_driver_wrappers.h,
 * generated at build time from kg_psa_ossl.json) includes this header and
 * calls the entry points below; nothing else should.  Keys stay in PSA's
 * key store in PSA's export format (transparent driver): X25519 private
 * keys as RFC 7748's 32 bytes, P-256 private keys as the 32-byte big-endian
 * scalar.  Key generation stays with mbedTLS (a random scalar from PSA's
 * generator, no point multiplication); the driver computes public keys and
 * shared secrets.  Anything else it answers PSA_ERROR_NOT_SUPPORTED, and
 * mbedTLS's built-in code takes over.
 */
#ifndef KG_PSA_OSSL_H
#define KG_PSA_OSSL_H

#include <stddef.h>
#include <stdint.h>

#include <psa/crypto.h>

#if defined(KG_PSA_OSSL_DRIVER_ENABLED)
#ifndef PSA_CRYPTO_ACCELERATOR_DRIVER_PRESENT
#define PSA_CRYPTO_ACCELERATOR_DRIVER_PRESENT
#endif

/**
 * \brief Prepare libcrypto (called by psa_crypto_init()).
 *
 * Loads what later calls need (the P-256 group, the X25519 implementation,
 * the random generator's seed) once per process, so that no later call
 * opens a file or loads a provider inside a sandbox.  Later calls, e.g.
 * after mbedtls_psa_crypto_free() in a forked child, return at once.
 *
 * \return PSA_SUCCESS, or PSA_ERROR_INSUFFICIENT_MEMORY when libcrypto
 *         cannot set up.
 */
psa_status_t kg_ossl_init(void);

/**
 * \brief The public key of an X25519 or P-256 key pair.
 *
 * \return PSA_SUCCESS; PSA_ERROR_BUFFER_TOO_SMALL when \p data cannot hold
 *         it (32 bytes for X25519, 65 for P-256); PSA_ERROR_NOT_SUPPORTED
 *         for any other key, which mbedTLS then handles.
 */
psa_status_t kg_ossl_transparent_export_public_key(
    const psa_key_attributes_t *attributes,
    const uint8_t *key_buffer, size_t key_buffer_size,
    uint8_t *data, size_t data_size, size_t *data_length);

/**
 * \brief ECDH with an X25519 or P-256 private key and the peer's public key
 *        (RFC 7748's 32 bytes, or an uncompressed P-256 point).
 *
 * \return PSA_SUCCESS; PSA_ERROR_INVALID_ARGUMENT for a peer key that is
 *         malformed, not on the curve, or gives an all-zero X25519 secret;
 *         PSA_ERROR_BUFFER_TOO_SMALL; PSA_ERROR_NOT_SUPPORTED for any other
 *         key or algorithm.
 */
psa_status_t kg_ossl_transparent_key_agreement(
    const psa_key_attributes_t *attributes,
    const uint8_t *key_buffer, size_t key_buffer_size,
    psa_algorithm_t alg,
    const uint8_t *peer_key, size_t peer_key_length,
    uint8_t *shared_secret, size_t shared_secret_size,
    size_t *shared_secret_length);

#endif /* KG_PSA_OSSL_DRIVER_ENABLED */
#endif /* KG_PSA_OSSL_H */
