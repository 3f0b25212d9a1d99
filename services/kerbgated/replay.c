/*
 * replay.c: bounded replay cache (FIFO ring + open-addressing index) in one
 * region that may be shared by every generation's keyholder.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include <mbedtls/sha256.h>

#include <generated/autoconf.h>

#include "replay.h"

struct replay_entry {
	uint8_t digest[REPLAY_DIGEST_LEN];
	uint32_t tag;			/* of the client principal (quota) */
	int64_t ctime;			/* live while now <= ctime + skew
					   (live()): a raised skew lengthens
					   every entry at once */
};

/* The start of the region: offsets and counters only, no pointers. */
struct replay_hdr {
	pthread_mutex_t lock;		/* robust, process-shared */
	uint64_t capacity;
	uint64_t index_mask;
	uint64_t head;
	uint64_t count;
	uint64_t full_refusals;
	uint64_t quota_refusals;
	uint64_t quota;			/* live entries a principal may hold */
	uint64_t resets;
	int64_t skew;			/* largest skew any user passed */
	int64_t floor_ctime;		/* restart floor, see replay.h */
	int64_t floor_until;
	int64_t last_sweep;		/* second of the last full sweep */
	uint8_t salt[16];
	uint8_t tag_salt[16];
};

/* One principal's entries held; empty while count is 0. */
struct replay_tagslot {
	uint32_t tag;
	uint32_t count;
};

/* This process's view of the region. */
struct kg_replay {
	struct replay_hdr *h;
	struct replay_entry *ring;	/* capacity entries, oldest at head */
	uint32_t *index;		/* 0: empty, else ring position + 1 */
	struct replay_tagslot *tags;	/* index_mask + 1 slots */
	size_t size;			/* of the mapping */
	bool shared;
};

#define ALIGN8(n)	(((n) + 7) & ~(size_t)7)

/* The skew check passes while now <= ctime + skew (inclusive). */
static bool
live(const struct replay_hdr *h, const struct replay_entry *e, int64_t now)
{
	return e->ctime + h->skew >= now;
}

static size_t
index_slots(size_t capacity)
{
	size_t slots = 1;

	/* Load factor at most 1/2 keeps linear probes short. */
	while (slots < 2 * capacity)
		slots <<= 1;
	return slots;
}

size_t
replay_region_size(size_t capacity)
{
	return ALIGN8(sizeof(struct replay_hdr)) +
	    capacity * sizeof(struct replay_entry) +
	    index_slots(capacity) * sizeof(uint32_t) +
	    index_slots(capacity) * sizeof(struct replay_tagslot);
}

static size_t
home_slot(const struct kg_replay *rc, const uint8_t *digest)
{
	uint64_t h;

	/* The digest is a salted SHA-256: any 8 of its bytes are uniform. */
	memcpy(&h, digest, sizeof(h));
	return (size_t)h & rc->h->index_mask;
}

/* Enough for a heavy legitimate client; at most 16 principals fill it. */
static size_t
default_quota(size_t capacity)
{
	return capacity / 16 > REPLAY_QUOTA_MIN ? capacity / 16 : REPLAY_QUOTA_MIN;
}

static struct kg_replay *
create(size_t capacity, bool shared)
{
	struct kg_replay *rc;
	pthread_mutexattr_t ma;
	uint8_t *base;

	if (capacity == 0)
		capacity = CONFIG_KERBGATED_REPLAY_CACHE_ENTRIES;
	if (capacity > REPLAY_MAX_CAPACITY)
		return NULL;
	if ((rc = calloc(1, sizeof(*rc))) == NULL)
		return NULL;
	rc->size = replay_region_size(capacity);
	rc->shared = shared;
	base = mmap(NULL, rc->size, PROT_READ | PROT_WRITE,
	    (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		free(rc);
		return NULL;
	}
	rc->h = (struct replay_hdr *)base;
	rc->ring = (struct replay_entry *)(base + ALIGN8(sizeof(*rc->h)));
	rc->index = (uint32_t *)(rc->ring + capacity);
	rc->tags = (struct replay_tagslot *)(rc->index + index_slots(capacity));
	rc->h->capacity = capacity;
	rc->h->index_mask = index_slots(capacity) - 1;
	rc->h->quota = default_quota(capacity);
	if (getrandom(rc->h->salt, sizeof(rc->h->salt), 0) !=
	    (ssize_t)sizeof(rc->h->salt) ||
	    getrandom(rc->h->tag_salt, sizeof(rc->h->tag_salt), 0) !=
	    (ssize_t)sizeof(rc->h->tag_salt) ||
	    pthread_mutexattr_init(&ma) != 0) {
		replay_free(rc);
		return NULL;
	}
	/* Robust: a keyholder killed while holding it must not wedge the
	 * next one; the next locker is told and repairs (lock()). */
	if (pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(&rc->h->lock, &ma) != 0) {
		pthread_mutexattr_destroy(&ma);
		replay_free(rc);
		return NULL;
	}
	pthread_mutexattr_destroy(&ma);
	return rc;
}

struct kg_replay *
replay_new(size_t capacity)
{
	return create(capacity, false);
}

struct kg_replay *
replay_new_shared(size_t capacity)
{
	return create(capacity, true);
}

void
replay_free(struct kg_replay *rc)
{
	if (rc == NULL)
		return;
	/* A shared region is others' too: only this process's view goes. */
	if (!rc->shared)
		explicit_bzero(rc->h, rc->size);
	munmap(rc->h, rc->size);
	explicit_bzero(rc, sizeof(*rc));
	free(rc);
}

void
replay_digest(const struct kg_replay *rc, const uint8_t *data, size_t len,
    uint8_t digest[REPLAY_DIGEST_LEN])
{
	mbedtls_sha256_context sha;
	uint8_t full[32];

	mbedtls_sha256_init(&sha);
	mbedtls_sha256_starts(&sha, 0);
	mbedtls_sha256_update(&sha, rc->h->salt, sizeof(rc->h->salt));
	mbedtls_sha256_update(&sha, data, len);
	mbedtls_sha256_finish(&sha, full);
	mbedtls_sha256_free(&sha);
	memcpy(digest, full, REPLAY_DIGEST_LEN);
	explicit_bzero(full, sizeof(full));
}

/* Salted like the digest: a user cannot pick a name that lands its entries
 * on another's tag, nor grind tags into one region of the table. */
uint32_t
replay_tag(const struct kg_replay *rc, const char *principal)
{
	mbedtls_sha256_context sha;
	uint8_t full[32];
	uint32_t tag;

	mbedtls_sha256_init(&sha);
	mbedtls_sha256_starts(&sha, 0);
	mbedtls_sha256_update(&sha, rc->h->tag_salt, sizeof(rc->h->tag_salt));
	mbedtls_sha256_update(&sha, (const uint8_t *)principal, strlen(principal));
	mbedtls_sha256_finish(&sha, full);
	mbedtls_sha256_free(&sha);
	memcpy(&tag, full, sizeof(tag));
	return tag;
}

static void
set_floor(struct replay_hdr *h, int64_t now)
{
	h->floor_ctime = now;
	h->floor_until = now + h->skew + 1;
}

static void compact(struct kg_replay *rc, int64_t now);

/*
 * Takes the lock.  If its holder died, the index may be half updated, but
 * the ring still holds every entry that process or any other had made
 * (an entry is written whole before count takes it in; eviction and
 * compaction only drop expired entries, and a compaction cut short leaves
 * copies, never gaps): rebuild the index from the ring rather than forget
 * what was accepted.  Emptying it would let every authenticator accepted
 * in the last skew window through again, those of clients whose clocks
 * run ahead of ours even past the restart floor.  The floor is set as
 * after any unplanned keyholder death.
 */
static void
lock(struct kg_replay *rc)
{
	struct replay_hdr *h = rc->h;
	int64_t now;
	int e = pthread_mutex_lock(&h->lock);

	if (e == 0)
		return;
	if (e != EOWNERDEAD)
		abort();	/* a robust mutex we initialised: cannot be */
	now = (int64_t)time(NULL);
	if (h->head < h->capacity && h->count <= h->capacity) {
		compact(rc, now);
	} else {
		h->head = h->count = 0;
		memset(rc->ring, 0, h->capacity * sizeof(*rc->ring));
		memset(rc->index, 0, (h->index_mask + 1) * sizeof(*rc->index));
		memset(rc->tags, 0, (h->index_mask + 1) * sizeof(*rc->tags));
	}
	set_floor(h, now);
	h->resets++;
	pthread_mutex_consistent(&h->lock);
}

static void
unlock(struct kg_replay *rc)
{
	pthread_mutex_unlock(&rc->h->lock);
}

/* Backward-shift deletion: keeps every probe chain unbroken, no tombstones. */
static void
index_delete(struct kg_replay *rc, size_t hole)
{
	size_t j = hole;

	for (;;) {
		size_t home;

		j = (j + 1) & rc->h->index_mask;
		if (rc->index[j] == 0)
			break;
		home = home_slot(rc, rc->ring[rc->index[j] - 1].digest);
		/* Entry j may stay if its home lies cyclically in (hole, j]. */
		if (hole <= j ? (hole < home && home <= j) : (hole < home || home <= j))
			continue;
		rc->index[hole] = rc->index[j];
		hole = j;
	}
	rc->index[hole] = 0;
}

static void
index_add(struct kg_replay *rc, size_t pos)
{
	size_t i = home_slot(rc, rc->ring[pos].digest);

	while (rc->index[i] != 0)
		i = (i + 1) & rc->h->index_mask;
	rc->index[i] = (uint32_t)(pos + 1);
}

/* The slot holding \p tag, or the empty slot where it would go. */
static size_t
tag_slot(const struct kg_replay *rc, uint32_t tag)
{
	size_t i = tag & rc->h->index_mask;

	/* Fewer tags than entries, at most half the slots: always an empty one. */
	while (rc->tags[i].count != 0 && rc->tags[i].tag != tag)
		i = (i + 1) & rc->h->index_mask;
	return i;
}

static void
tag_inc(struct kg_replay *rc, uint32_t tag)
{
	size_t i = tag_slot(rc, tag);

	rc->tags[i].tag = tag;
	rc->tags[i].count++;
}

/* As index_delete(): backward shift once a tag holds nothing. */
static void
tag_dec(struct kg_replay *rc, uint32_t tag)
{
	size_t hole = tag_slot(rc, tag), j = hole, mask = rc->h->index_mask;

	if (rc->tags[hole].count == 0 || --rc->tags[hole].count > 0)
		return;
	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (rc->tags[j].count == 0)
			break;
		home = rc->tags[j].tag & mask;
		if (hole <= j ? (hole < home && home <= j) : (hole < home || home <= j))
			continue;
		rc->tags[hole] = rc->tags[j];
		hole = j;
	}
	rc->tags[hole].tag = 0;
	rc->tags[hole].count = 0;
}

static void
evict_oldest(struct kg_replay *rc)
{
	struct replay_hdr *h = rc->h;
	size_t pos = h->head, i = home_slot(rc, rc->ring[pos].digest);

	while (rc->index[i] != 0 && rc->index[i] != pos + 1)
		i = (i + 1) & h->index_mask;
	if (rc->index[i] != 0)
		index_delete(rc, i);
	tag_dec(rc, rc->ring[pos].tag);
	memset(&rc->ring[pos], 0, sizeof(rc->ring[pos]));
	h->head = (h->head + 1) % h->capacity;
	h->count--;
}

/*
 * Drops every expired entry, wherever it sits, keeping the order of the
 * rest, and rebuilds the index.  Entries do not expire in insertion order
 * (ctime may lie anywhere within the skew), so a live entry at the head can
 * hide expired ones behind it.
 */
static void
compact(struct kg_replay *rc, int64_t now)
{
	struct replay_hdr *h = rc->h;
	size_t r, w = 0, cap = h->capacity;

	for (r = 0; r < h->count; r++) {
		struct replay_entry *e = &rc->ring[(h->head + r) % cap];

		if (!live(h, e, now))
			continue;
		if (w != r)
			rc->ring[(h->head + w) % cap] = *e;
		w++;
	}
	/* Every live entry copied before any slot is cleared or count cut:
	 * a holder dying here leaves duplicates, never a lost entry (lock()). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (r = w; r < h->count; r++)
		memset(&rc->ring[(h->head + r) % cap], 0, sizeof(*rc->ring));
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	h->count = w;
	memset(rc->index, 0, (h->index_mask + 1) * sizeof(*rc->index));
	memset(rc->tags, 0, (h->index_mask + 1) * sizeof(*rc->tags));
	for (r = 0; r < w; r++) {
		index_add(rc, (h->head + r) % cap);
		tag_inc(rc, rc->ring[(h->head + r) % cap].tag);
	}
}

static void
drop_expired_head(struct kg_replay *rc, int64_t now)
{
	struct replay_hdr *h = rc->h;

	while (h->count > 0 && !live(h, &rc->ring[h->head], now))
		evict_oldest(rc);
}

/* A full sweep is O(capacity): at most once a second, so that a flood
 * against a full cache or a quota cannot turn it into a CPU burner. */
static bool
sweep(struct kg_replay *rc, int64_t now)
{
	if (rc->h->last_sweep == now)
		return false;
	rc->h->last_sweep = now;
	compact(rc, now);
	return true;
}

/* Whether one more entry fits once the expired ones have gone. */
static bool
make_room(struct kg_replay *rc, int64_t now)
{
	drop_expired_head(rc, now);
	if (rc->h->count < rc->h->capacity)
		return true;
	return sweep(rc, now) && rc->h->count < rc->h->capacity;
}

/* Whether \p tag holds its quota of live entries.  Its count may include
 * expired entries behind a live head: those go in a sweep first. */
static bool
over_quota(struct kg_replay *rc, uint32_t tag, int64_t now)
{
	uint64_t quota = rc->h->quota;

	if (quota == 0)
		return false;
	drop_expired_head(rc, now);
	if (rc->tags[tag_slot(rc, tag)].count < quota)
		return false;
	return !sweep(rc, now) || rc->tags[tag_slot(rc, tag)].count >= quota;
}

static bool
seen_locked(const struct kg_replay *rc, const uint8_t *digest, int64_t now)
{
	size_t i = home_slot(rc, digest);

	/* Several entries may share a digest (an expired one and a new one). */
	while (rc->index[i] != 0) {
		const struct replay_entry *e = &rc->ring[rc->index[i] - 1];

		if (memcmp(e->digest, digest, REPLAY_DIGEST_LEN) == 0 && live(rc->h, e, now))
			return true;
		i = (i + 1) & rc->h->index_mask;
	}
	return false;
}

static enum replay_verdict
judge(struct kg_replay *rc, const uint8_t *digest, int64_t ctime, int64_t now)
{
	const struct replay_hdr *h = rc->h;

	if (now < h->floor_until && ctime < h->floor_ctime)
		return REPLAY_STALE;
	if (seen_locked(rc, digest, now))
		return REPLAY_SEEN;
	return REPLAY_NEW;
}

bool
replay_seen(struct kg_replay *rc, const uint8_t digest[REPLAY_DIGEST_LEN], time_t now)
{
	bool seen;

	lock(rc);
	seen = seen_locked(rc, digest, (int64_t)now);
	unlock(rc);
	return seen;
}

enum replay_verdict
replay_check(struct kg_replay *rc, const uint8_t digest[REPLAY_DIGEST_LEN],
    uint32_t tag, time_t ctime, time_t now)
{
	enum replay_verdict v;

	lock(rc);
	v = judge(rc, digest, (int64_t)ctime, (int64_t)now);
	if (v == REPLAY_NEW && over_quota(rc, tag, (int64_t)now))
		v = REPLAY_QUOTA;
	else if (v == REPLAY_NEW && !make_room(rc, (int64_t)now))
		v = REPLAY_FULL;
	unlock(rc);
	return v;
}

/* Entries hold their ctime: a larger skew lengthens them all at once. */
static void
raise_skew(struct kg_replay *rc, int skew)
{
	if ((int64_t)skew > rc->h->skew)
		rc->h->skew = skew;
}

void
replay_set_skew(struct kg_replay *rc, int skew)
{
	lock(rc);
	raise_skew(rc, skew);
	unlock(rc);
}

enum replay_verdict
replay_insert(struct kg_replay *rc, const uint8_t digest[REPLAY_DIGEST_LEN],
    uint32_t tag, time_t ctime, int skew, time_t now)
{
	struct replay_hdr *h = rc->h;
	enum replay_verdict v;
	size_t pos;

	lock(rc);
	raise_skew(rc, skew);
	if ((v = judge(rc, digest, (int64_t)ctime, (int64_t)now)) != REPLAY_NEW)
		goto out;
	if (over_quota(rc, tag, (int64_t)now)) {
		h->quota_refusals++;
		v = REPLAY_QUOTA;
		goto out;
	}
	if (!make_room(rc, (int64_t)now)) {
		h->full_refusals++;
		v = REPLAY_FULL;
		goto out;
	}
	pos = (h->head + h->count) % h->capacity;
	memcpy(rc->ring[pos].digest, digest, REPLAY_DIGEST_LEN);
	rc->ring[pos].tag = tag;
	rc->ring[pos].ctime = (int64_t)ctime;
	/* The entry whole before count takes it in: what lock() relies on
	 * to repair the cache after a holder died here. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	h->count++;
	index_add(rc, pos);
	tag_inc(rc, tag);
out:
	unlock(rc);
	return v;
}

void
replay_note_restart(struct kg_replay *rc, time_t now)
{
	lock(rc);
	set_floor(rc->h, (int64_t)now);
	unlock(rc);
}

size_t
replay_count(struct kg_replay *rc)
{
	size_t n;

	lock(rc);
	n = rc->h->count;
	unlock(rc);
	return n;
}

size_t
replay_capacity(const struct kg_replay *rc)
{
	return rc->h->capacity;
}

uint64_t
replay_full_refusals(struct kg_replay *rc)
{
	uint64_t n;

	lock(rc);
	n = rc->h->full_refusals;
	unlock(rc);
	return n;
}

uint64_t
replay_resets(struct kg_replay *rc)
{
	uint64_t n;

	lock(rc);
	n = rc->h->resets;
	unlock(rc);
	return n;
}

void
replay_set_quota(struct kg_replay *rc, size_t quota)
{
	lock(rc);
	rc->h->quota = quota == REPLAY_QUOTA_AUTO ?
	    default_quota(rc->h->capacity) : quota;
	unlock(rc);
}

size_t
replay_quota(struct kg_replay *rc)
{
	size_t n;

	lock(rc);
	n = rc->h->quota;
	unlock(rc);
	return n;
}

size_t
replay_tag_count(struct kg_replay *rc, uint32_t tag)
{
	size_t n;

	lock(rc);
	n = rc->tags[tag_slot(rc, tag)].count;
	unlock(rc);
	return n;
}

uint64_t
replay_quota_refusals(struct kg_replay *rc)
{
	uint64_t n;

	lock(rc);
	n = rc->h->quota_refusals;
	unlock(rc);
	return n;
}
