/*
 * sealedstore.h: the keyholder's secrets on disk, sealed (docs/credentials.md).
 *
 * One file (/data/keys.sealed on the appliance) holds every secret the
 * keyholder keeps across restarts, encrypted and authenticated with
 * AES-256-GCM under the device key (a 32-byte file, 0600, made at first
 * start).  Layout, all integers big-endian:
 *
 *   off  len  field
 *     0    8  magic "KGSEALED"
 *     8    2  format version (1)
 *    10    2  reserved, 0
 *    12   12  GCM nonce (random per write)
 *    24    4  ciphertext length n (at most SEALED_MAX_PLAIN)
 *    28    n  ciphertext
 *  28+n   16  GCM tag
 *
 * The 28-byte header is the GCM additional data, so no field of it can be
 * changed unseen.  The plaintext is a list of records:
 *
 *     type (2) | length (4) | value (length bytes)
 *
 * Types are SEALED_REC_*: credstore.h reads 1 and 2, secretstore.h 3 to 5
 * (pool secrets, cookie keys, TLS keys), each stepping over the other's.
 * A record of an unknown type is refused (a store written by a newer
 * version: say so rather than drop its secrets).
 *
 * Writing is atomic: temporary file, fsync, rename over the store, fsync of
 * the folder.  After a crash at any instant the file holds the old store or
 * the new one, never a mix and never nothing.
 */
#ifndef KG_SEALEDSTORE_H
#define KG_SEALEDSTORE_H

#include <stddef.h>
#include <stdint.h>

#define SEALED_MAGIC		"KGSEALED"
#define SEALED_MAGIC_LEN	8
#define SEALED_VERSION		1
#define SEALED_HEADER_LEN	28
#define SEALED_NONCE_LEN	12
#define SEALED_TAG_LEN		16
#define SEALED_KEY_LEN		32
#define SEALED_MAX_PLAIN	(1u << 20)	/**< 1 MiB of secrets */
#define SEALED_REC_HDR_LEN	6

/** Record types of the plaintext. */
enum sealed_rec_type {
	SEALED_REC_STORE_INFO	= 1,	/**< serial (8), written at (8) */
	SEALED_REC_ASA_KEY	= 2,	/**< one credential (credstore.h) */
	SEALED_REC_POOL_SECRET	= 3,	/**< a pool's header secret (secretstore.h) */
	SEALED_REC_COOKIE_KEY	= 4,	/**< a session cookie key */
	SEALED_REC_TLS_KEY	= 5,	/**< a VIP's TLS private key and chain */
	SEALED_REC_MAX
};

/**
 * \brief          Seal a plaintext under key.
 *
 * \param key      The device key.
 * \param plain    The records, \p len bytes (at most SEALED_MAX_PLAIN).
 * \param out      Receives the file image (malloc'd; nothing secret).
 *
 * \return         0, or -1 with the reason in \p err.
 */
int sealed_seal(const uint8_t key[SEALED_KEY_LEN], const uint8_t *plain,
    size_t len, uint8_t **out, size_t *outlen, char *err, size_t errlen);

/**
 * \brief          Check and open a file image.
 *
 *                 Refusals name the cause: too short (truncated), not a
 *                 sealed store (magic), a version this build does not read,
 *                 a length that does not match the file (truncated or
 *                 appended to), and a tag that does not verify (tampered
 *                 with, or sealed under another device key).
 *
 * \param plain    Receives the plaintext in locked memory (sealed_free()).
 *
 * \return         0, or -1 with the reason in \p err.
 */
int sealed_open(const uint8_t key[SEALED_KEY_LEN], const uint8_t *buf,
    size_t len, uint8_t **plain, size_t *plainlen, char *err, size_t errlen);

/**
 * \brief          Memory for secrets: locked (mlock, best effort: the
 *                 appliance has no swap) and excluded from core dumps.
 *
 * \return         Zeroed memory, or NULL.
 */
void *sealed_alloc(size_t n);

/** \brief Wipe, unlock and free what sealed_alloc() gave (NULL is fine). */
void sealed_free(void *p, size_t n);

/** A growing buffer of records in locked memory. */
struct sealed_buf {
	uint8_t	*p;
	size_t	 len, cap;
};

/**
 * \brief          Append one record.
 *
 * \return         0, or -1 (out of memory, over SEALED_MAX_PLAIN).
 */
int sealed_buf_add(struct sealed_buf *b, uint16_t type, const void *value,
    size_t len);

/** \brief Wipe and free a record buffer. */
void sealed_buf_free(struct sealed_buf *b);

/** One record, pointing into the plaintext. */
struct sealed_rec {
	uint16_t	 type;
	const uint8_t	*value;
	size_t		 len;
};

/**
 * \brief          The next record at *off.
 *
 * \return         1 (a record), 0 (the end), or -1: a record runs past the
 *                 end, or its type is unknown (reason in \p err).
 */
int sealed_next(const uint8_t *plain, size_t len, size_t *off,
    struct sealed_rec *rec, char *err, size_t errlen);

/** \brief Write v as n big-endian bytes at p (records' integers). */
void sealed_put_be(uint8_t *p, uint64_t v, size_t n);

/** \brief Read n big-endian bytes at p. */
uint64_t sealed_get_be(const uint8_t *p, size_t n);

/**
 * \brief          Read a whole file (the store: at most its largest size).
 *                 The file and its folder must not be writable by group or
 *                 others (they could put an older store back).
 *
 * \return         0, 1 when the file does not exist, or -1.
 */
int sealed_read_file(const char *path, uint8_t **buf, size_t *len, char *err,
    size_t errlen);

/**
 * \brief          Replace path with buf atomically: path.tmp written
 *                 (O_EXCL after removing a stale one, 0600), fsync'd,
 *                 renamed over path, then the folder fsync'd.
 *
 * \return         0, or -1 with the reason in \p err (path is unchanged).
 */
int sealed_write_atomic(const char *path, const uint8_t *buf, size_t len,
    char *err, size_t errlen);

/**
 * \brief          Load the device key, or make it when missing and create
 *                 is set (32 random bytes, 0600, written atomically).
 *
 *                 Refused: a file that is not exactly 32 bytes, or that
 *                 group or others can read or write (the message says
 *                 which chmod).
 *
 * \return         0 (loaded), 1 (made), or -1.
 */
int sealed_device_key(const char *path, int create, uint8_t key[SEALED_KEY_LEN],
    char *err, size_t errlen);

#endif /* KG_SEALEDSTORE_H */
