/*
 * replay.h: the keyholder's replay cache.
 *
 * Remembers a digest of every accepted authenticator (the AP-REQ's
 * encrypted authenticator, cipher bytes) until it could no longer pass
 * the clock-skew check anyway, so that the same AP-REQ cannot be played
 * twice.  Memory is bounded by the capacity given at creation: when the
 * cache is full the oldest entry goes first (FIFO).  Lookups and inserts
 * are O(1): a ring of entries in insertion order plus an open-addressing
 * index (linear probing, backward-shift deletion) over it.
 *
 * The digest is SHA-256 over a per-cache random salt and the bytes,
 * truncated to REPLAY_DIGEST_LEN.  The salt keeps an authenticated client,
 * which can mint as many authenticators as it likes, from grinding digests
 * that pile up in one region of the index.
 *
 * Cost: about 40 bytes per entry (24 in the ring, 2 index slots of 4-8).
 * Not thread-safe: the keyholder is single-threaded.
 */
#ifndef KG_REPLAY_H
#define KG_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/** Bytes of the truncated digest that identifies an authenticator. */
#define REPLAY_DIGEST_LEN 16

/** Largest capacity accepted by replay_new() (index positions are 32-bit). */
#define REPLAY_MAX_CAPACITY ((size_t)1 << 28)

struct kg_replay;

/**
 * \brief          Create a replay cache.
 *
 * \param capacity Most entries remembered at once; 0 selects
 *                 CONFIG_KERBGATED_REPLAY_CACHE_ENTRIES.
 *
 * \return         The cache, or NULL if \p capacity exceeds
 *                 REPLAY_MAX_CAPACITY, memory is short, or the system
 *                 has no randomness for the salt.
 */
struct kg_replay *replay_new(size_t capacity);

/**
 * \brief          Free a replay cache (NULL is fine).
 */
void replay_free(struct kg_replay *rc);

/**
 * \brief          Digest the bytes that identify one authenticator.
 *
 * \param rc       The cache (its salt keys the digest).
 * \param data     The AP-REQ's authenticator cipher bytes.
 * \param len      Their length.
 * \param digest   Receives REPLAY_DIGEST_LEN bytes.
 */
void replay_digest(const struct kg_replay *rc, const uint8_t *data, size_t len,
                   uint8_t digest[REPLAY_DIGEST_LEN]);

/**
 * \brief          Whether a live (unexpired) entry with this digest exists.
 *
 * \param rc       The cache.
 * \param digest   From replay_digest().
 * \param now      The current time.
 *
 * \return         true if the authenticator was seen and its entry has
 *                 not expired: the AP-REQ is a replay.
 */
bool replay_seen(const struct kg_replay *rc, const uint8_t digest[REPLAY_DIGEST_LEN],
                 time_t now);

/**
 * \brief          Remember a digest until \p expires.
 *
 *                 Entries that expired are dropped first; if the cache is
 *                 still full, the oldest entry is evicted.
 *
 * \param rc       The cache.
 * \param digest   From replay_digest().
 * \param expires  When the entry may be forgotten: the authenticator's
 *                 ctime plus the clock-skew bound.
 * \param now      The current time.
 */
void replay_insert(struct kg_replay *rc, const uint8_t digest[REPLAY_DIGEST_LEN],
                   time_t expires, time_t now);

/** \brief Entries held now (expired ones included until pushed out). */
size_t replay_count(const struct kg_replay *rc);

/** \brief The capacity the cache was created with. */
size_t replay_capacity(const struct kg_replay *rc);

/** \brief Entries evicted while still live because the cache was full. */
uint64_t replay_evictions(const struct kg_replay *rc);

#endif /* KG_REPLAY_H */
