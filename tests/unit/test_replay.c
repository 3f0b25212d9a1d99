/*
 * test_replay.c: the replay cache remembers, forgets on time, and stays
 * within its capacity.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
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

static void
test_unseen_authenticator_is_not_a_replay(void **state)
{
	struct kg_replay *rc = replay_new(16);
	uint8_t d[REPLAY_DIGEST_LEN];

	assert_non_null(rc);
	digest_of(rc, 1, d);
	assert_false(replay_seen(rc, d, 1000));
	replay_free(rc);
}

static void
test_inserted_authenticator_is_seen_until_it_expires(void **state)
{
	struct kg_replay *rc = replay_new(16);
	uint8_t d[REPLAY_DIGEST_LEN];

	digest_of(rc, 1, d);
	replay_insert(rc, d, 1300, 1000);
	assert_true(replay_seen(rc, d, 1000));
	assert_true(replay_seen(rc, d, 1299));
	assert_false(replay_seen(rc, d, 1300));
	replay_free(rc);
}

static void
test_other_authenticator_is_not_confused_with_a_stored_one(void **state)
{
	struct kg_replay *rc = replay_new(16);
	uint8_t a[REPLAY_DIGEST_LEN], b[REPLAY_DIGEST_LEN];

	digest_of(rc, 1, a);
	digest_of(rc, 2, b);
	replay_insert(rc, a, 2000, 1000);
	assert_false(replay_seen(rc, b, 1000));
	replay_free(rc);
}

static void
test_digest_is_salted_per_cache(void **state)
{
	struct kg_replay *r1 = replay_new(4), *r2 = replay_new(4);
	uint8_t a[REPLAY_DIGEST_LEN], b[REPLAY_DIGEST_LEN];

	digest_of(r1, 7, a);
	digest_of(r2, 7, b);
	assert_memory_not_equal(a, b, REPLAY_DIGEST_LEN);
	replay_free(r1);
	replay_free(r2);
}

static void
test_full_cache_evicts_the_oldest_and_keeps_its_capacity(void **state)
{
	const size_t cap = 64;
	struct kg_replay *rc = replay_new(cap);
	uint8_t d[REPLAY_DIGEST_LEN];
	uint32_t n;

	for (n = 0; n < cap + 10; n++) {
		digest_of(rc, n, d);
		replay_insert(rc, d, 5000, 1000);
		assert_true(replay_count(rc) <= cap);
	}
	assert_int_equal(replay_count(rc), cap);
	assert_int_equal(replay_evictions(rc), 10);
	for (n = 0; n < 10; n++) {
		digest_of(rc, n, d);
		assert_false(replay_seen(rc, d, 1000));
	}
	for (n = 10; n < cap + 10; n++) {
		digest_of(rc, n, d);
		assert_true(replay_seen(rc, d, 1000));
	}
	replay_free(rc);
}

static void
test_expired_entries_make_room_before_live_ones_are_evicted(void **state)
{
	struct kg_replay *rc = replay_new(4);
	uint8_t d[REPLAY_DIGEST_LEN];
	uint32_t n;

	for (n = 0; n < 4; n++) {
		digest_of(rc, n, d);
		replay_insert(rc, d, 1100, 1000);
	}
	digest_of(rc, 99, d);
	replay_insert(rc, d, 1500, 1200);
	assert_int_equal(replay_count(rc), 1);
	assert_int_equal(replay_evictions(rc), 0);
	replay_free(rc);
}

static void
test_many_rounds_of_eviction_keep_every_live_entry_findable(void **state)
{
	const size_t cap = 1000;
	struct kg_replay *rc = replay_new(cap);
	uint8_t d[REPLAY_DIGEST_LEN];
	uint32_t n;

	/* Exercises backward-shift deletion across wrapped probe chains. */
	for (n = 0; n < 20 * cap; n++) {
		digest_of(rc, n, d);
		replay_insert(rc, d, 100000, 1000);
	}
	for (n = 19 * cap; n < 20 * cap; n++) {
		digest_of(rc, n, d);
		assert_true(replay_seen(rc, d, 1000));
	}
	for (n = 0; n < 19 * cap; n += 7) {
		digest_of(rc, n, d);
		assert_false(replay_seen(rc, d, 1000));
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
	replay_insert(rc, o, 5000, 1000);	/* keeps d's old entry from being pruned */
	replay_insert(rc, d, 1100, 1000);
	replay_insert(rc, d, 1500, 1200);
	assert_true(replay_seen(rc, d, 1400));
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
		cmocka_unit_test(test_inserted_authenticator_is_seen_until_it_expires),
		cmocka_unit_test(test_other_authenticator_is_not_confused_with_a_stored_one),
		cmocka_unit_test(test_digest_is_salted_per_cache),
		cmocka_unit_test(test_full_cache_evicts_the_oldest_and_keeps_its_capacity),
		cmocka_unit_test(test_expired_entries_make_room_before_live_ones_are_evicted),
		cmocka_unit_test(test_many_rounds_of_eviction_keep_every_live_entry_findable),
		cmocka_unit_test(test_same_authenticator_reinserted_after_expiry_is_seen_again),
		cmocka_unit_test(test_zero_capacity_selects_the_configured_default),
		cmocka_unit_test(test_absurd_capacity_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
