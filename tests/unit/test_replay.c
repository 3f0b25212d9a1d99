/*
 * test_replay.c: the replay cache remembers for as long as the skew check
 * could pass an authenticator, refuses rather than forgets when full, and
 * is shared by processes forked from the one that made it.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <generated/autoconf.h>

#include "replay.h"

static void
digest_of(const struct kg_replay *rc, uint32_t n, uint8_t d[REPLAY_DIGEST_LEN])
{
	uint8_t bytes[8] = { 'a', 'u', 't', 'h' };

	memcpy(bytes + 4, &n, sizeof(n));
	replay_digest(rc, bytes, sizeof(bytes), d);
}

#define SKEW 300

/* A principal of its own for each authenticator: the tests that are not
 * about the quota never meet it. */
static uint32_t
who(const uint8_t d[REPLAY_DIGEST_LEN])
{
	uint32_t t;

	memcpy(&t, d + 4, sizeof(t));
	return t;
}

static enum replay_verdict
ins(struct kg_replay *rc, const uint8_t d[REPLAY_DIGEST_LEN], time_t ctime, time_t now)
{
	return replay_insert(rc, d, who(d), ctime, SKEW, now);
}

static void
test_unseen_authenticator_is_not_a_replay(void **state)
{
	struct kg_replay *rc = replay_new(16);
	uint8_t d[REPLAY_DIGEST_LEN];

	assert_non_null(rc);
	digest_of(rc, 1, d);
	assert_false(replay_seen(rc, d, 1000));
	assert_int_equal(replay_check(rc, d, who(d), 1000, 1000), REPLAY_NEW);
	replay_free(rc);
}

/* The skew check passes while |ctime - now| <= skew: the entry must live
 * through the second now == ctime + skew, and may go after it. */
static void
test_entry_lives_through_the_last_second_the_skew_check_passes(void **state)
{
	struct kg_replay *rc = replay_new(16);
	uint8_t d[REPLAY_DIGEST_LEN];

	digest_of(rc, 1, d);
	assert_int_equal(ins(rc, d, 1000, 1000), REPLAY_NEW);
	assert_true(replay_seen(rc, d, 1000));
	assert_true(replay_seen(rc, d, 1000 + SKEW - 1));
	assert_true(replay_seen(rc, d, 1000 + SKEW));
	assert_int_equal(replay_check(rc, d, who(d), 1000, 1000 + SKEW), REPLAY_SEEN);
	assert_int_equal(ins(rc, d, 1000, 1000 + SKEW), REPLAY_SEEN);
	assert_false(replay_seen(rc, d, 1000 + SKEW + 1));
	replay_free(rc);
}

static void
test_other_authenticator_is_not_confused_with_a_stored_one(void **state)
{
	struct kg_replay *rc = replay_new(16);
	uint8_t a[REPLAY_DIGEST_LEN], b[REPLAY_DIGEST_LEN];

	digest_of(rc, 1, a);
	digest_of(rc, 2, b);
	ins(rc, a, 1700, 1000);
	assert_false(replay_seen(rc, b, 1000));
	replay_free(rc);
}

static void
test_digest_is_salted_per_cache(void **state)
{
	struct kg_replay *r1 = replay_new(4), *r2 = replay_new(4);
	uint8_t d1[REPLAY_DIGEST_LEN], d2[REPLAY_DIGEST_LEN];

	digest_of(r1, 7, d1);
	digest_of(r2, 7, d2);
	assert_memory_not_equal(d1, d2, REPLAY_DIGEST_LEN);
	replay_free(r1);
	replay_free(r2);
}

/*
 * A flood of fresh authenticators must not push a live entry out: its
 * AP-REQ could then be played again.  The cache refuses instead.
 */
static void
test_full_cache_of_live_entries_refuses_and_forgets_nothing(void **state)
{
	const size_t cap = 64;
	struct kg_replay *rc = replay_new(cap);
	uint8_t d[REPLAY_DIGEST_LEN];
	uint32_t n;

	for (n = 0; n < cap; n++) {
		digest_of(rc, n, d);
		assert_int_equal(ins(rc, d, 1000, 1000), REPLAY_NEW);
	}
	for (n = cap; n < cap + 10; n++) {
		digest_of(rc, n, d);
		assert_int_equal(replay_check(rc, d, who(d), 1000, 1001), REPLAY_FULL);
		assert_int_equal(ins(rc, d, 1000, 1001), REPLAY_FULL);
		assert_false(replay_seen(rc, d, 1001));
	}
	assert_int_equal(replay_count(rc), cap);
	assert_int_equal(replay_full_refusals(rc), 10);
	for (n = 0; n < cap; n++) {
		digest_of(rc, n, d);
		assert_true(replay_seen(rc, d, 1001));
		/* A replay is a replay, full or not. */
		assert_int_equal(ins(rc, d, 1000, 1001), REPLAY_SEEN);
	}
	replay_free(rc);
}

static void
test_expired_entries_make_room(void **state)
{
	struct kg_replay *rc = replay_new(4);
	uint8_t d[REPLAY_DIGEST_LEN];
	uint32_t n;

	for (n = 0; n < 4; n++) {
		digest_of(rc, n, d);
		assert_int_equal(ins(rc, d, 1000, 1000), REPLAY_NEW);
	}
	digest_of(rc, 99, d);
	assert_int_equal(ins(rc, d, 1400, 1400), REPLAY_NEW);
	assert_int_equal(replay_count(rc), 1);
	assert_int_equal(replay_full_refusals(rc), 0);
	replay_free(rc);
}

/* Entries do not expire in insertion order: a client whose clock runs
 * ahead leaves a long-lived entry at the head of the ring. */
static void
test_expired_entries_behind_a_live_one_make_room(void **state)
{
	struct kg_replay *rc = replay_new(4);
	uint8_t d[REPLAY_DIGEST_LEN], ahead[REPLAY_DIGEST_LEN];
	uint32_t n;

	digest_of(rc, 50, ahead);
	assert_int_equal(ins(rc, ahead, 1000 + SKEW, 1000), REPLAY_NEW);
	for (n = 0; n < 3; n++) {
		digest_of(rc, n, d);
		assert_int_equal(ins(rc, d, 1000, 1000), REPLAY_NEW);
	}
	digest_of(rc, 99, d);
	assert_int_equal(ins(rc, d, 1000 + SKEW + 1, 1000 + SKEW + 1), REPLAY_NEW);
	assert_int_equal(replay_count(rc), 2);
	assert_true(replay_seen(rc, ahead, 1000 + SKEW + 1));
	assert_true(replay_seen(rc, d, 1000 + SKEW + 1));
	replay_free(rc);
}

static void
test_many_rounds_of_expiry_keep_every_live_entry_findable(void **state)
{
	const size_t cap = 1000;
	struct kg_replay *rc = replay_new(cap);
	uint8_t d[REPLAY_DIGEST_LEN];
	uint32_t n, round;
	time_t now = 1000;

	/* Exercises backward-shift deletion across wrapped probe chains. */
	for (round = 0; round < 20; round++, now += SKEW + 1) {
		for (n = round * cap; n < (round + 1) * cap; n++) {
			digest_of(rc, n, d);
			assert_int_equal(ins(rc, d, now, now), REPLAY_NEW);
		}
	}
	now -= SKEW + 1;
	for (n = 19 * cap; n < 20 * cap; n++) {
		digest_of(rc, n, d);
		assert_true(replay_seen(rc, d, now));
	}
	for (n = 0; n < 19 * cap; n += 7) {
		digest_of(rc, n, d);
		assert_false(replay_seen(rc, d, now));
	}
	replay_free(rc);
}

static void
test_same_authenticator_reinserted_after_expiry_is_seen_again(void **state)
{
	struct kg_replay *rc = replay_new(8);
	uint8_t d[REPLAY_DIGEST_LEN], o[REPLAY_DIGEST_LEN];

	digest_of(rc, 1, d);
	digest_of(rc, 2, o);
	ins(rc, o, 1000 + SKEW, 1000);	/* keeps d's old entry from being pruned */
	ins(rc, d, 1000, 1000);
	assert_int_equal(ins(rc, d, 1000 + SKEW + 1, 1000 + SKEW + 1), REPLAY_NEW);
	assert_true(replay_seen(rc, d, 1000 + 2 * SKEW));
	replay_free(rc);
}

static void
test_check_does_not_remember(void **state)
{
	struct kg_replay *rc = replay_new(8);
	uint8_t d[REPLAY_DIGEST_LEN];

	digest_of(rc, 1, d);
	assert_int_equal(replay_check(rc, d, who(d), 1000, 1000), REPLAY_NEW);
	assert_int_equal(replay_check(rc, d, who(d), 1000, 1000), REPLAY_NEW);
	assert_int_equal(replay_count(rc), 0);
	replay_free(rc);
}

static void
test_raising_the_skew_lengthens_the_entries_held(void **state)
{
	struct kg_replay *rc = replay_new(8);
	uint8_t d[REPLAY_DIGEST_LEN];

	digest_of(rc, 1, d);
	assert_int_equal(replay_insert(rc, d, who(d), 1000, 100, 1000), REPLAY_NEW);
	assert_false(replay_seen(rc, d, 1101));
	replay_set_skew(rc, 300);
	assert_true(replay_seen(rc, d, 1300));
	assert_false(replay_seen(rc, d, 1301));
	/* Lowering it again does not shorten them. */
	replay_set_skew(rc, 100);
	assert_true(replay_seen(rc, d, 1300));
	replay_free(rc);
}

static void
test_after_a_restart_older_authenticators_are_refused_for_one_skew(void **state)
{
	struct kg_replay *rc = replay_new(8);
	uint8_t d[REPLAY_DIGEST_LEN];

	replay_set_skew(rc, SKEW);
	replay_note_restart(rc, 2000);
	digest_of(rc, 1, d);
	assert_int_equal(replay_check(rc, d, who(d), 1999, 2000), REPLAY_STALE);
	assert_int_equal(ins(rc, d, 1999, 2000 + SKEW), REPLAY_STALE);
	assert_int_equal(replay_count(rc), 0);
	assert_int_equal(ins(rc, d, 2000, 2000), REPLAY_NEW);
	/* After the window the skew check refuses such ctimes anyway. */
	digest_of(rc, 2, d);
	assert_int_equal(replay_check(rc, d, who(d), 1999, 2000 + SKEW + 1), REPLAY_NEW);
	replay_free(rc);
}

/* What a reload or a keyholder started again relies on: an authenticator
 * one process took is a replay to another forked from the same parent. */
static bool
seen_after_child_inserted(struct kg_replay *rc)
{
	uint8_t d[REPLAY_DIGEST_LEN];
	pid_t pid;
	int status;

	digest_of(rc, 42, d);
	if ((pid = fork()) == 0)
		_exit(ins(rc, d, 1000, 1000) == REPLAY_NEW ? 0 : 1);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return replay_seen(rc, d, 1000);
}

static void
test_shared_cache_carries_entries_across_processes(void **state)
{
	struct kg_replay *shared = replay_new_shared(16), *private = replay_new(16);

	assert_non_null(shared);
	assert_true(seen_after_child_inserted(shared));
	assert_false(seen_after_child_inserted(private));	/* the old way */
	replay_free(shared);
	replay_free(private);
}

/*
 * A keyholder killed while it holds the cache's lock: the next user must
 * not hang, must not trust the half-updated index, must still know every
 * authenticator accepted before (emptying the cache let one whose client
 * clock ran ahead of ours through again: the restart floor refuses only
 * ctime < restart), and refuses what the dead one may have let in.  The
 * child takes the lock directly: the handle's first member points at the
 * region, whose first member is the mutex (replay.c).
 */
static void
test_user_dying_with_the_lock_keeps_the_entries_and_sets_the_floor(void **state)
{
	struct kg_replay *rc = replay_new_shared(16);
	pthread_mutex_t *m = *(pthread_mutex_t **)rc;
	uint8_t d[REPLAY_DIGEST_LEN], e[REPLAY_DIGEST_LEN], f[REPLAY_DIGEST_LEN];
	time_t now = time(NULL);
	pid_t pid;
	int status;

	replay_set_skew(rc, SKEW);
	digest_of(rc, 1, d);
	digest_of(rc, 2, e);
	digest_of(rc, 3, f);
	assert_int_equal(ins(rc, d, now, now), REPLAY_NEW);
	/* A client 60 s ahead of us; and one in this very second. */
	assert_int_equal(ins(rc, f, now + 60, now), REPLAY_NEW);
	if ((pid = fork()) == 0) {
		pthread_mutex_lock(m);
		_exit(0);		/* dies holding it */
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(replay_check(rc, e, who(e), now - 10, now), REPLAY_STALE);
	assert_int_equal(replay_resets(rc), 1);
	assert_int_equal(replay_count(rc), 2);
	assert_int_equal(replay_check(rc, f, who(f), now + 60, now), REPLAY_SEEN);
	assert_int_equal(replay_check(rc, d, who(d), now, now), REPLAY_SEEN);
	assert_int_equal(replay_check(rc, e, who(e), now + 1, now + 1), REPLAY_NEW);
	replay_free(rc);
}

static void
test_region_size_is_48_to_72_bytes_an_entry(void **state)
{
	static const size_t caps[] = { 1024, 1500, 65536, 100000, 4194304 };
	size_t i;

	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		size_t per = replay_region_size(caps[i]) / caps[i];

		assert_true(per >= 48 && per <= 72);
	}
}

/* ---------------------------------------------------------------- quota */

#define ALICE 0x11111111u
#define BOB 0x22222222u

static enum replay_verdict
ins_by(struct kg_replay *rc, uint32_t tag, uint32_t n, time_t ctime, time_t now)
{
	uint8_t d[REPLAY_DIGEST_LEN];

	digest_of(rc, n, d);
	return replay_insert(rc, d, tag, ctime, SKEW, now);
}

static void
test_principal_tag_is_stable_salted_and_tells_principals_apart(void **state)
{
	struct kg_replay *r1 = replay_new(16), *r2 = replay_new(16);

	assert_int_equal(replay_tag(r1, "alice@EXAMPLE.COM"),
	    replay_tag(r1, "alice@EXAMPLE.COM"));
	assert_int_not_equal(replay_tag(r1, "alice@EXAMPLE.COM"),
	    replay_tag(r1, "bob@EXAMPLE.COM"));
	assert_int_not_equal(replay_tag(r1, "alice@EXAMPLE.COM"),
	    replay_tag(r2, "alice@EXAMPLE.COM"));
	replay_free(r1);
	replay_free(r2);
}

static void
test_default_quota_is_a_sixteenth_of_the_capacity_at_least_64(void **state)
{
	struct kg_replay *small = replay_new(16), *big = replay_new(65536);

	assert_int_equal(replay_quota(small), REPLAY_QUOTA_MIN);
	assert_int_equal(replay_quota(big), 4096);
	replay_set_quota(big, 10);
	assert_int_equal(replay_quota(big), 10);
	replay_set_quota(big, REPLAY_QUOTA_AUTO);
	assert_int_equal(replay_quota(big), 4096);
	replay_set_quota(big, 0);
	assert_int_equal(replay_quota(big), 0);
	replay_free(small);
	replay_free(big);
}

/*
 * One principal minting fresh authenticators as fast as it can must not
 * fill the cache: it is refused alone once it holds its quota; others
 * carry on; a replay is still a replay.
 */
static void
test_principal_over_quota_is_refused_alone(void **state)
{
	struct kg_replay *rc = replay_new(64);
	uint8_t d[REPLAY_DIGEST_LEN];
	uint32_t n;

	replay_set_quota(rc, 4);
	for (n = 0; n < 4; n++)
		assert_int_equal(ins_by(rc, ALICE, n, 1000 + SKEW, 1000), REPLAY_NEW);
	digest_of(rc, 4, d);
	assert_int_equal(replay_check(rc, d, ALICE, 1000, 1000), REPLAY_QUOTA);
	assert_int_equal(replay_insert(rc, d, ALICE, 1000, SKEW, 1000), REPLAY_QUOTA);
	assert_false(replay_seen(rc, d, 1000));
	assert_int_equal(replay_quota_refusals(rc), 1);
	assert_int_equal(replay_full_refusals(rc), 0);
	assert_int_equal(replay_tag_count(rc, ALICE), 4);
	digest_of(rc, 0, d);
	assert_int_equal(replay_insert(rc, d, ALICE, 1000 + SKEW, SKEW, 1000), REPLAY_SEEN);
	for (n = 100; n < 104; n++)
		assert_int_equal(ins_by(rc, BOB, n, 1000, 1000), REPLAY_NEW);
	assert_int_equal(replay_tag_count(rc, BOB), 4);
	assert_int_equal(replay_count(rc), 8);
	replay_free(rc);
}

static void
test_no_quota_lets_one_principal_fill_the_cache(void **state)
{
	struct kg_replay *rc = replay_new(8);
	uint32_t n;

	replay_set_quota(rc, 0);
	for (n = 0; n < 8; n++)
		assert_int_equal(ins_by(rc, ALICE, n, 1000, 1000), REPLAY_NEW);
	assert_int_equal(ins_by(rc, BOB, 8, 1000, 1000), REPLAY_FULL);
	replay_free(rc);
}

/* Expired entries give their quota back, also behind a live head (a
 * client whose clock runs ahead), which takes a sweep to find. */
static void
test_expiring_entries_free_the_quota(void **state)
{
	struct kg_replay *rc = replay_new(16);

	replay_set_quota(rc, 2);
	assert_int_equal(ins_by(rc, BOB, 50, 1000 + SKEW, 1000), REPLAY_NEW);
	assert_int_equal(ins_by(rc, ALICE, 1, 1000, 1000), REPLAY_NEW);
	assert_int_equal(ins_by(rc, ALICE, 2, 1000, 1000), REPLAY_NEW);
	assert_int_equal(ins_by(rc, ALICE, 3, 1000, 1000 + SKEW), REPLAY_QUOTA);
	assert_int_equal(ins_by(rc, ALICE, 3, 1000 + SKEW + 1, 1000 + SKEW + 1),
	    REPLAY_NEW);
	assert_int_equal(replay_tag_count(rc, ALICE), 1);
	assert_int_equal(replay_tag_count(rc, BOB), 1);
	/* At the head, expiry frees it without a sweep. */
	assert_int_equal(ins_by(rc, BOB, 51, 1000 + SKEW + 1, 1000 + SKEW + 1),
	    REPLAY_NEW);
	assert_int_equal(ins_by(rc, BOB, 52, 3000, 3000), REPLAY_NEW);
	assert_int_equal(replay_tag_count(rc, BOB), 1);
	assert_int_equal(replay_tag_count(rc, ALICE), 0);
	replay_free(rc);
}

/* A compaction (cache full, expired entries behind a live head) rebuilds
 * the tag table: what it says afterwards is what the ring holds. */
static void
test_tag_counts_survive_compaction(void **state)
{
	struct kg_replay *rc = replay_new(8);
	uint32_t n;

	replay_set_quota(rc, 3);
	assert_int_equal(ins_by(rc, BOB, 50, 1000 + SKEW, 1000), REPLAY_NEW);
	for (n = 0; n < 3; n++)
		assert_int_equal(ins_by(rc, ALICE, n, 1000, 1000), REPLAY_NEW);
	for (n = 10; n < 12; n++)
		assert_int_equal(ins_by(rc, BOB, n, 1100, 1100), REPLAY_NEW);
	for (n = 20; n < 22; n++)
		assert_int_equal(ins_by(rc, 0x33333333u, n, 1100, 1100), REPLAY_NEW);
	/* Full (8); Alice's three expire behind Bob's live head. */
	assert_int_equal(ins_by(rc, 0x44444444u, 30, 1000 + SKEW + 1, 1000 + SKEW + 1),
	    REPLAY_NEW);
	assert_int_equal(replay_count(rc), 6);
	assert_int_equal(replay_tag_count(rc, ALICE), 0);
	assert_int_equal(replay_tag_count(rc, BOB), 3);
	assert_int_equal(replay_tag_count(rc, 0x33333333u), 2);
	assert_int_equal(replay_tag_count(rc, 0x44444444u), 1);
	assert_int_equal(ins_by(rc, BOB, 13, 1000 + SKEW + 1, 1000 + SKEW + 1),
	    REPLAY_QUOTA);
	assert_int_equal(ins_by(rc, ALICE, 3, 1000 + SKEW + 1, 1000 + SKEW + 1),
	    REPLAY_NEW);
	replay_free(rc);
}

/*
 * A keyholder dying with the lock may leave the tag table half written:
 * the next user rebuilds it from the ring with the index, so a principal
 * at its quota stays there and no one else's count is lost.  The child
 * wipes the table, the region's tail (replay.c: ring, index, tags).
 */
static void
test_tag_counts_survive_a_user_dying_with_the_lock(void **state)
{
	struct kg_replay *rc = replay_new_shared(16);
	uint8_t *base = *(uint8_t **)rc;
	pthread_mutex_t *m = (pthread_mutex_t *)base;
	time_t now = time(NULL);
	pid_t pid;
	int status;

	replay_set_skew(rc, SKEW);
	replay_set_quota(rc, 2);
	assert_int_equal(ins_by(rc, ALICE, 1, now + 10, now), REPLAY_NEW);
	assert_int_equal(ins_by(rc, ALICE, 2, now + 10, now), REPLAY_NEW);
	assert_int_equal(ins_by(rc, BOB, 3, now + 10, now), REPLAY_NEW);
	if ((pid = fork()) == 0) {
		pthread_mutex_lock(m);
		memset(base + replay_region_size(16) - 32 * 8, 0, 32 * 8);
		_exit(0);		/* dies holding it, the table wiped */
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(replay_tag_count(rc, ALICE), 2);
	assert_int_equal(replay_resets(rc), 1);
	assert_int_equal(replay_tag_count(rc, BOB), 1);
	assert_int_equal(ins_by(rc, ALICE, 4, now + 10, now), REPLAY_QUOTA);
	assert_int_equal(ins_by(rc, BOB, 5, now + 10, now), REPLAY_NEW);
	assert_int_equal(replay_count(rc), 4);
	replay_free(rc);
}

static void
test_zero_capacity_selects_the_configured_default(void **state)
{
	struct kg_replay *rc = replay_new(0);

	assert_non_null(rc);
	assert_int_equal(replay_capacity(rc), CONFIG_KERBGATED_REPLAY_CACHE_ENTRIES);
	replay_free(rc);
}

static void
test_absurd_capacity_is_refused(void **state)
{
	assert_null(replay_new(REPLAY_MAX_CAPACITY + 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unseen_authenticator_is_not_a_replay),
		cmocka_unit_test(test_entry_lives_through_the_last_second_the_skew_check_passes),
		cmocka_unit_test(test_other_authenticator_is_not_confused_with_a_stored_one),
		cmocka_unit_test(test_digest_is_salted_per_cache),
		cmocka_unit_test(test_full_cache_of_live_entries_refuses_and_forgets_nothing),
		cmocka_unit_test(test_expired_entries_make_room),
		cmocka_unit_test(test_expired_entries_behind_a_live_one_make_room),
		cmocka_unit_test(test_many_rounds_of_expiry_keep_every_live_entry_findable),
		cmocka_unit_test(test_same_authenticator_reinserted_after_expiry_is_seen_again),
		cmocka_unit_test(test_check_does_not_remember),
		cmocka_unit_test(test_raising_the_skew_lengthens_the_entries_held),
		cmocka_unit_test(test_after_a_restart_older_authenticators_are_refused_for_one_skew),
		cmocka_unit_test(test_shared_cache_carries_entries_across_processes),
		cmocka_unit_test(test_user_dying_with_the_lock_keeps_the_entries_and_sets_the_floor),
		cmocka_unit_test(test_region_size_is_48_to_72_bytes_an_entry),
		cmocka_unit_test(test_principal_tag_is_stable_salted_and_tells_principals_apart),
		cmocka_unit_test(test_default_quota_is_a_sixteenth_of_the_capacity_at_least_64),
		cmocka_unit_test(test_principal_over_quota_is_refused_alone),
		cmocka_unit_test(test_no_quota_lets_one_principal_fill_the_cache),
		cmocka_unit_test(test_expiring_entries_free_the_quota),
		cmocka_unit_test(test_tag_counts_survive_compaction),
		cmocka_unit_test(test_tag_counts_survive_a_user_dying_with_the_lock),
		cmocka_unit_test(test_zero_capacity_selects_the_configured_default),
		cmocka_unit_test(test_absurd_capacity_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
