/*
 * replay.h: the keyholder's replay cache.
 *
 * Remembers a digest of every accepted authenticator (the AP-REQ's
 * encrypted authenticator, cipher bytes) for as long as the clock-skew
 * check could still pass it: while now <= ctime + skew, the check's bound
 * being inclusive.  Memory is bounded by the capacity given at creation.
 * A cache full of live entries refuses new ones (REPLAY_FULL) rather than
 * forget one: forgetting would let a flood of fresh authenticators push a
 * victim's entry out, and its AP-REQ be played again.
 *
 * Lookups and inserts are O(1): a ring of entries in insertion order plus
 * an open-addressing index (linear probing, backward-shift deletion).
 *
 * The cache lives in one contiguous region with no pointers in it, so it
 * can be a MAP_SHARED mapping that the kerbgated parent creates once and
 * every generation's keyholder inherits: a reload, or a keyholder started
 * again after a crash, sees what the one before it accepted, and two
 * generations serving at once (one draining) share one cache.  A robust
 * process-shared mutex guards it; if a keyholder dies holding it, the next
 * user rebuilds the index (which may be half written) from the ring, which
 * never loses a live entry however an update is cut short, and sets the
 * restart floor below.  (Emptying it instead would let an authenticator
 * with a ctime at or after the restart, a client clock running ahead of
 * ours, be accepted twice: the floor does not cover those.)
 *
 * Per-principal quota: a single authenticated user can mint fresh
 * authenticators as fast as it can encrypt, each an entry for up to
 * 2 * skew + 1 s; alone it could fill the cache and lock every other user
 * out.  Each entry therefore also holds a salted 32-bit tag of its client
 * principal (replay_tag()), and the region keeps a tag -> entries-held
 * table (open addressing, as many slots as the index, rebuilt with it).
 * A principal already holding its quota is refused alone (REPLAY_QUOTA).
 * Two principals sharing a tag (odds 1 in 2^32 a pair) share a quota.
 *
 * Restart floor: after an unplanned keyholder death, authenticators whose
 * ctime is older than the restart are refused (REPLAY_STALE) for one skew
 * window, whatever the cache holds.
 *
 * The digest is SHA-256 over a per-cache random salt and the bytes,
 * truncated to REPLAY_DIGEST_LEN (96 bits: with at most 2^28 entries
 * held, a fresh authenticator is taken for a replay with odds below
 * 2^-68).  The salt keeps an authenticated client,
 * which can mint as many authenticators as it likes, from grinding digests
 * that pile up in one region of the index.  Digests are not secrets.
 *
 * Cost: 24 bytes per entry in the ring plus 2 to 4 index slots of 4 bytes
 * and as many tag slots of 8 bytes (both tables are the power of two at or
 * above twice the capacity): 48 to 72 bytes per entry, see
 * replay_region_size() and docs/config.md.
 */
#ifndef KG_REPLAY_H
#define KG_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/** Bytes of the truncated digest that identifies an authenticator. */
#define REPLAY_DIGEST_LEN 12

/** Largest capacity accepted by replay_new() (index positions are 32-bit). */
#define REPLAY_MAX_CAPACITY ((size_t)1 << 28)

/** The words a refused full cache gives (the log, the client's 503). */
#define REPLAY_FULL_REASON "replay cache full"

/** replay_set_quota(): capacity / 16, at least REPLAY_QUOTA_MIN. */
#define REPLAY_QUOTA_AUTO ((size_t)-1)
#define REPLAY_QUOTA_MIN 64

struct kg_replay;

/** What the cache says about one authenticator. */
enum replay_verdict {
	REPLAY_NEW = 0,		/**< not seen; (insert:) now remembered */
	REPLAY_SEEN,		/**< a live entry has this digest: a replay */
	REPLAY_FULL,		/**< every entry is live: cannot remember it */
	REPLAY_STALE,		/**< ctime older than a keyholder restart */
	REPLAY_QUOTA,		/**< this principal holds its quota of
				     live entries: cannot remember more */
};

/**
 * \brief          Create a replay cache in private memory.
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
 * \brief          As replay_new(), in a MAP_SHARED anonymous mapping that
 *                 children forked afterwards share.
 */
struct kg_replay *replay_new_shared(size_t capacity);

/**
 * \brief          Free a replay cache (NULL is fine).  A shared one is only
 *                 unmapped from this process: others keep using it.
 */
void replay_free(struct kg_replay *rc);

/** \brief Bytes of memory a cache of \p capacity entries takes. */
size_t replay_region_size(size_t capacity);

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
 * \brief          The salted 32-bit tag of a client principal (the
 *                 unparsed name, e.g. alice@CORP.EXAMPLE) for the quota.
 */
uint32_t replay_tag(const struct kg_replay *rc, const char *principal);

/**
 * \brief          Set the most live entries one principal may hold
 *                 (0: no quota; REPLAY_QUOTA_AUTO: capacity / 16, at
 *                 least REPLAY_QUOTA_MIN).  A new cache starts at AUTO;
 *                 the last setter wins for every user of a shared cache.
 */
void replay_set_quota(struct kg_replay *rc, size_t quota);

/** \brief The quota in force (0: none). */
size_t replay_quota(struct kg_replay *rc);

/** \brief Live entries (and expired ones not yet pushed out) held for \p tag. */
size_t replay_tag_count(struct kg_replay *rc, uint32_t tag);

/**
 * \brief          Whether a live (unexpired) entry with this digest exists.
 *
 * \return         true if the authenticator was seen and its entry has
 *                 not expired: the AP-REQ is a replay.
 */
bool replay_seen(struct kg_replay *rc, const uint8_t digest[REPLAY_DIGEST_LEN],
                 time_t now);

/**
 * \brief          Judge an authenticator without remembering it.
 *
 * \param rc       The cache.
 * \param digest   From replay_digest().
 * \param tag      From replay_tag(): the authenticator's client.
 * \param ctime    The authenticator's ctime (seconds).
 * \param now      The current time.
 *
 * \return         REPLAY_STALE, REPLAY_SEEN, REPLAY_QUOTA, REPLAY_FULL (in
 *                 that order of precedence), or REPLAY_NEW.
 */
enum replay_verdict replay_check(struct kg_replay *rc,
                                 const uint8_t digest[REPLAY_DIGEST_LEN],
                                 uint32_t tag, time_t ctime, time_t now);

/**
 * \brief          Judge and, if new, remember an authenticator, at once
 *                 (another process sharing the cache cannot slip the same
 *                 authenticator in between).
 *
 *                 The entry lives while now <= ctime + skew, skew being the
 *                 largest any user of the cache has passed: a reload that
 *                 raises clock_skew lengthens the entries already held.
 *                 Expired entries make room first.
 *
 * \param skew     The clock-skew bound the acceptor checks with (seconds).
 *
 * \return         As replay_check(); REPLAY_NEW means it was remembered.
 */
enum replay_verdict replay_insert(struct kg_replay *rc,
                                  const uint8_t digest[REPLAY_DIGEST_LEN],
                                  uint32_t tag, time_t ctime, int skew,
                                  time_t now);

/**
 * \brief          Raise the skew entries are kept for (never lowers it);
 *                 lengthens the live entries held by the difference.
 */
void replay_set_skew(struct kg_replay *rc, int skew);

/**
 * \brief          A keyholder died unexpectedly: refuse authenticators with
 *                 a ctime before \p now while the skew check could still
 *                 pass them (until now + skew).
 */
void replay_note_restart(struct kg_replay *rc, time_t now);

/** \brief Entries held now (expired ones included until pushed out). */
size_t replay_count(struct kg_replay *rc);

/** \brief The capacity the cache was created with. */
size_t replay_capacity(const struct kg_replay *rc);

/** \brief Authenticators refused because the cache was full of live entries. */
uint64_t replay_full_refusals(struct kg_replay *rc);

/** \brief Authenticators refused because their principal held its quota. */
uint64_t replay_quota_refusals(struct kg_replay *rc);

/** \brief Times the cache was repaired because its user died holding it. */
uint64_t replay_resets(struct kg_replay *rc);

#endif /* KG_REPLAY_H */
