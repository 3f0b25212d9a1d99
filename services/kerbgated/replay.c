/*
 * replay.c: bounded replay cache (FIFO ring + open-addressing index).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <mbedtls/sha256.h>

#include <generated/autoconf.h>

#include "replay.h"

struct replay_entry {
	uint8_t digest[REPLAY_DIGEST_LEN];
	int64_t expires;
};

struct kg_replay {
	struct replay_entry *ring;	/* capacity entries, oldest at head */
	uint32_t *index;		/* 0: empty, else ring position + 1 */
	size_t capacity;
	size_t index_mask;
	size_t head;
	size_t count;
	uint64_t evictions;
	uint8_t salt[16];
};

static size_t
home_slot(const struct kg_replay *rc, const uint8_t *digest)
{
	uint64_t h;

	/* The digest is a salted SHA-256: any 8 of its bytes are uniform. */
	memcpy(&h, digest, sizeof(h));
	return (size_t)h & rc->index_mask;
}

struct kg_replay *
replay_new(size_t capacity)
{
	struct kg_replay *rc;
	size_t slots = 1;

	if (capacity == 0)
		capacity = CONFIG_KERBGATED_REPLAY_CACHE_ENTRIES;
	if (capacity > REPLAY_MAX_CAPACITY)
		return NULL;
	/* Load factor at most 1/2 keeps linear probes short. */
	while (slots < 2 * capacity)
		slots <<= 1;

	if ((rc = calloc(1, sizeof(*rc))) == NULL)
		return NULL;
	rc->capacity = capacity;
	rc->index_mask = slots - 1;
	rc->ring = calloc(capacity, sizeof(*rc->ring));
	rc->index = calloc(slots, sizeof(*rc->index));
	if (rc->ring == NULL || rc->index == NULL ||
	    getrandom(rc->salt, sizeof(rc->salt), 0) != (ssize_t)sizeof(rc->salt)) {
		replay_free(rc);
		return NULL;
	}
	return rc;
}

void
replay_free(struct kg_replay *rc)
{
	if (rc == NULL)
		return;
	free(rc->ring);
	free(rc->index);
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
	mbedtls_sha256_update(&sha, rc->salt, sizeof(rc->salt));
	mbedtls_sha256_update(&sha, data, len);
	mbedtls_sha256_finish(&sha, full);
	mbedtls_sha256_free(&sha);
	memcpy(digest, full, REPLAY_DIGEST_LEN);
}

/* The index slot that points at ring position pos, or SIZE_MAX. */
static size_t
find_slot(const struct kg_replay *rc, const uint8_t *digest, size_t *pos)
{
	size_t i = home_slot(rc, digest);

	while (rc->index[i] != 0) {
		size_t p = rc->index[i] - 1;

		if (memcmp(rc->ring[p].digest, digest, REPLAY_DIGEST_LEN) == 0 &&
		    (pos == NULL || *pos == SIZE_MAX || *pos == p)) {
			if (pos != NULL)
				*pos = p;
			return i;
		}
		i = (i + 1) & rc->index_mask;
	}
	return SIZE_MAX;
}

/* Backward-shift deletion: keeps every probe chain unbroken, no tombstones. */
static void
index_delete(struct kg_replay *rc, size_t hole)
{
	size_t j = hole;

	for (;;) {
		size_t home;

		j = (j + 1) & rc->index_mask;
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
evict_oldest(struct kg_replay *rc)
{
	size_t pos = rc->head;
	size_t slot = find_slot(rc, rc->ring[pos].digest, &pos);

	if (slot != SIZE_MAX)
		index_delete(rc, slot);
	explicit_bzero(&rc->ring[pos], sizeof(rc->ring[pos]));
	rc->head = (rc->head + 1) % rc->capacity;
	rc->count--;
}

bool
replay_seen(const struct kg_replay *rc, const uint8_t digest[REPLAY_DIGEST_LEN], time_t now)
{
	size_t i = home_slot(rc, digest);

	/* Several entries may share a digest (an expired one and a new one). */
	while (rc->index[i] != 0) {
		const struct replay_entry *e = &rc->ring[rc->index[i] - 1];

		if (memcmp(e->digest, digest, REPLAY_DIGEST_LEN) == 0 && e->expires > (int64_t)now)
			return true;
		i = (i + 1) & rc->index_mask;
	}
	return false;
}

void
replay_insert(struct kg_replay *rc, const uint8_t digest[REPLAY_DIGEST_LEN],
    time_t expires, time_t now)
{
	size_t pos, i;

	while (rc->count > 0 && rc->ring[rc->head].expires <= (int64_t)now)
		evict_oldest(rc);
	if (rc->count == rc->capacity) {
		evict_oldest(rc);
		rc->evictions++;
	}

	pos = (rc->head + rc->count) % rc->capacity;
	memcpy(rc->ring[pos].digest, digest, REPLAY_DIGEST_LEN);
	rc->ring[pos].expires = (int64_t)expires;
	rc->count++;

	i = home_slot(rc, digest);
	while (rc->index[i] != 0)
		i = (i + 1) & rc->index_mask;
	rc->index[i] = (uint32_t)(pos + 1);
}

size_t
replay_count(const struct kg_replay *rc)
{
	return rc->count;
}

size_t
replay_capacity(const struct kg_replay *rc)
{
	return rc->capacity;
}

uint64_t
replay_evictions(const struct kg_replay *rc)
{
	return rc->evictions;
}
