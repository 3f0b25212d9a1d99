/*
 * hmac256.h: HMAC-SHA256 for keys used over and over (the per-pool identity
 * secret, the cookie key): the key's pad blocks are hashed once, and the
 * SHA-256 compression uses the CPU's SHA extensions when it has them
 * (mbedTLS 2.28 has no such path), else mbedTLS's.
 */
#ifndef KERBGATE_HMAC256_H
#define KERBGATE_HMAC256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HMAC256_LEN		32
#define HMAC256_MAX_KEY		64	/**< one SHA-256 block */

/** A key with its inner and outer pad blocks already hashed. */
struct hmac256_key {
	uint32_t inner[8];
	uint32_t outer[8];
};

/** One piece of the message. */
struct hmac256_part {
	const void *p;
	size_t n;
};

/**
 * \brief          Prepare a key.
 *
 * \return         0, or -1 for an empty key or one over HMAC256_MAX_KEY bytes.
 */
int hmac256_key_init(struct hmac256_key *k, const uint8_t *key, size_t keylen);

/** \brief Wipe a prepared key. */
void hmac256_key_wipe(struct hmac256_key *k);

/**
 * \brief          HMAC-SHA256 of the concatenation of \p n parts.
 */
void hmac256(const struct hmac256_key *k, const struct hmac256_part *parts, size_t n,
    uint8_t mac[HMAC256_LEN]);

/**
 * \brief          Whether the SHA extensions are in use; \p allow false
 *                 turns them off (tests compare both paths).
 */
bool hmac256_use_sha_ni(bool allow);

#endif
