/*
 * test_buf.c - the bounded byte buffer: limits, release, compaction, wiping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "util.h"

static int
all_zero(const uint8_t *p, size_t n)
{
	while (n-- > 0)
		if (*p++ != 0)
			return 0;
	return 1;
}

static void
test_new_buffer_allocates_nothing(void **state)
{
	struct kg_buf b;

	kg_buf_init(&b, 1024);
	assert_null(b.data);
	assert_int_equal(b.cap, 0);
	assert_int_equal(kg_buf_len(&b), 0);
}

static void
test_appended_bytes_read_back_in_order(void **state)
{
	struct kg_buf b;

	kg_buf_init(&b, 1024);
	assert_int_equal(kg_buf_append(&b, "hello ", 6), KG_OK);
	assert_int_equal(kg_buf_append(&b, "world", 5), KG_OK);
	assert_int_equal(kg_buf_len(&b), 11);
	assert_memory_equal(kg_buf_data(&b), "hello world", 11);
	kg_buf_free(&b);
}

static void
test_append_of_nothing_succeeds_without_allocating(void **state)
{
	struct kg_buf b;

	kg_buf_init(&b, 16);
	assert_int_equal(kg_buf_append(&b, NULL, 0), KG_OK);
	assert_null(b.data);
}

static void
test_append_up_to_exactly_max_succeeds(void **state)
{
	uint8_t chunk[100];
	struct kg_buf b;

	memset(chunk, 'x', sizeof(chunk));
	kg_buf_init(&b, 300);
	assert_int_equal(kg_buf_append(&b, chunk, 100), KG_OK);
	assert_int_equal(kg_buf_append(&b, chunk, 100), KG_OK);
	assert_int_equal(kg_buf_append(&b, chunk, 100), KG_OK);
	assert_int_equal(kg_buf_len(&b), 300);
	assert_int_equal(b.cap, 300);
	kg_buf_free(&b);
}

static void
test_append_beyond_max_is_refused_and_changes_nothing(void **state)
{
	uint8_t chunk[100];
	struct kg_buf b;

	memset(chunk, 'x', sizeof(chunk));
	kg_buf_init(&b, 150);
	assert_int_equal(kg_buf_append(&b, chunk, 100), KG_OK);
	assert_int_equal(kg_buf_append(&b, chunk, 51), KG_ERR_TOOBIG);
	assert_int_equal(kg_buf_len(&b), 100);
	assert_true(b.cap <= 150);
	assert_int_equal(kg_buf_append(&b, chunk, 50), KG_OK);
	assert_int_equal(kg_buf_append(&b, chunk, 1), KG_ERR_TOOBIG);
	kg_buf_free(&b);
}

static void
test_zero_max_buffer_refuses_every_byte(void **state)
{
	struct kg_buf b;
	uint8_t *p;
	size_t avail;

	kg_buf_init(&b, 0);
	assert_int_equal(kg_buf_append(&b, "x", 1), KG_ERR_TOOBIG);
	assert_int_equal(kg_buf_space(&b, 1, &p, &avail), KG_ERR_TOOBIG);
	assert_null(b.data);
}

static void
test_capacity_never_grows_past_max(void **state)
{
	struct kg_buf b;
	size_t i;

	kg_buf_init(&b, 1000);
	for (i = 0; i < 1000; i++)
		assert_int_equal(kg_buf_append(&b, "y", 1), KG_OK);
	assert_int_equal(b.cap, 1000);
	assert_int_equal(kg_buf_append(&b, "y", 1), KG_ERR_TOOBIG);
	assert_int_equal(b.cap, 1000);
	kg_buf_free(&b);
}

static void
test_space_offers_no_more_than_room_under_max(void **state)
{
	struct kg_buf b;
	uint8_t *p;
	size_t avail;

	kg_buf_init(&b, 600);
	assert_int_equal(kg_buf_append(&b, "abc", 3), KG_OK);
	assert_int_equal(kg_buf_space(&b, 100000, &p, &avail), KG_OK);
	assert_int_equal(avail, 597);
	assert_int_equal(b.cap, 600);
	kg_buf_free(&b);
}

static void
test_space_on_full_buffer_is_refused(void **state)
{
	struct kg_buf b;
	uint8_t *p;
	size_t avail;

	kg_buf_init(&b, 4);
	assert_int_equal(kg_buf_append(&b, "abcd", 4), KG_OK);
	assert_int_equal(kg_buf_space(&b, 1, &p, &avail), KG_ERR_TOOBIG);
	kg_buf_free(&b);
}

static void
test_space_at_full_capacity_offers_the_rest_without_reallocating(void **state)
{
	struct kg_buf b;
	uint8_t fill[200], *p, *before;
	size_t avail;

	memset(fill, 'f', sizeof(fill));
	kg_buf_init(&b, 256);
	assert_int_equal(kg_buf_append(&b, fill, sizeof(fill)), KG_OK);
	assert_int_equal(b.cap, 256);
	before = b.data;
	assert_int_equal(kg_buf_space(&b, 100, &p, &avail), KG_OK);
	assert_ptr_equal(b.data, before);
	assert_int_equal(avail, 56);
	kg_buf_free(&b);
}

static void
test_space_for_zero_bytes_is_invalid(void **state)
{
	struct kg_buf b;
	uint8_t *p;
	size_t avail;

	kg_buf_init(&b, 64);
	assert_int_equal(kg_buf_space(&b, 0, &p, &avail), KG_ERR_INVAL);
}

static void
test_committed_bytes_become_data(void **state)
{
	struct kg_buf b;
	uint8_t *p;
	size_t avail;

	kg_buf_init(&b, 4096);
	assert_int_equal(kg_buf_space(&b, 10, &p, &avail), KG_OK);
	assert_true(avail >= 10);
	memcpy(p, "0123456789", 10);
	kg_buf_commit(&b, 4);
	assert_int_equal(kg_buf_len(&b), 4);
	assert_memory_equal(kg_buf_data(&b), "0123", 4);
	kg_buf_free(&b);
}

static void
test_commit_beyond_free_space_is_clamped(void **state)
{
	struct kg_buf b;
	uint8_t *p;
	size_t avail;

	kg_buf_init(&b, 256);
	assert_int_equal(kg_buf_space(&b, 8, &p, &avail), KG_OK);
	kg_buf_commit(&b, avail + 1000);
	assert_int_equal(kg_buf_len(&b), b.cap);
	kg_buf_free(&b);
}

static void
test_consume_drops_bytes_from_the_front(void **state)
{
	struct kg_buf b;

	kg_buf_init(&b, 64);
	assert_int_equal(kg_buf_append(&b, "headbody", 8), KG_OK);
	kg_buf_consume(&b, 4);
	assert_int_equal(kg_buf_len(&b), 4);
	assert_memory_equal(kg_buf_data(&b), "body", 4);
	kg_buf_free(&b);
}

static void
test_consume_more_than_held_empties_the_buffer(void **state)
{
	struct kg_buf b;

	kg_buf_init(&b, 64);
	assert_int_equal(kg_buf_append(&b, "abc", 3), KG_OK);
	kg_buf_consume(&b, 99);
	assert_int_equal(kg_buf_len(&b), 0);
	assert_int_equal(b.off, 0);
	kg_buf_free(&b);
}

static void
test_consume_on_unallocated_buffer_is_harmless(void **state)
{
	struct kg_buf b;

	kg_buf_init(&b, 64);
	kg_buf_consume(&b, 10);
	assert_int_equal(kg_buf_len(&b), 0);
	assert_null(b.data);
}

static void
test_consumed_bytes_are_wiped(void **state)
{
	struct kg_buf b;

	kg_buf_init(&b, 64);
	assert_int_equal(kg_buf_append(&b, "SECRETkeep", 10), KG_OK);
	kg_buf_consume(&b, 6);
	assert_true(all_zero(b.data, 6));
	assert_memory_equal(kg_buf_data(&b), "keep", 4);
	kg_buf_free(&b);
}

static void
test_release_frees_storage_of_an_empty_buffer(void **state)
{
	struct kg_buf b;

	kg_buf_init(&b, 64);
	assert_int_equal(kg_buf_append(&b, "abc", 3), KG_OK);
	kg_buf_consume(&b, 3);
	assert_int_equal(kg_buf_release(&b), 1);
	assert_null(b.data);
	assert_int_equal(b.cap, 0);
	/* and it is still usable */
	assert_int_equal(kg_buf_append(&b, "again", 5), KG_OK);
	assert_memory_equal(kg_buf_data(&b), "again", 5);
	kg_buf_free(&b);
}

static void
test_release_keeps_storage_while_data_remains(void **state)
{
	struct kg_buf b;

	kg_buf_init(&b, 64);
	assert_int_equal(kg_buf_append(&b, "abc", 3), KG_OK);
	assert_int_equal(kg_buf_release(&b), 0);
	assert_non_null(b.data);
	assert_memory_equal(kg_buf_data(&b), "abc", 3);
	kg_buf_free(&b);
}

static void
test_release_of_unused_buffer_does_nothing(void **state)
{
	struct kg_buf b;

	kg_buf_init(&b, 64);
	assert_int_equal(kg_buf_release(&b), 0);
	assert_null(b.data);
}

static void
test_thousand_idle_buffers_hold_no_storage(void **state)
{
	static struct kg_buf bufs[1000];
	size_t i;

	for (i = 0; i < KG_NELEM(bufs); i++) {
		kg_buf_init(&bufs[i], 16384);
		assert_int_equal(kg_buf_append(&bufs[i], "GET / HTTP/1.1\r\n", 16),
		    KG_OK);
		kg_buf_consume(&bufs[i], 16);
		kg_buf_release(&bufs[i]);
	}
	for (i = 0; i < KG_NELEM(bufs); i++) {
		assert_null(bufs[i].data);
		assert_int_equal(bufs[i].cap, 0);
	}
}

static void
test_space_compacts_rather_than_grows_when_front_is_free(void **state)
{
	struct kg_buf b;
	uint8_t fill[256], *p;
	size_t avail, cap;

	memset(fill, 'a', sizeof(fill));
	kg_buf_init(&b, 256);
	assert_int_equal(kg_buf_append(&b, fill, 250), KG_OK);
	assert_int_equal(kg_buf_append(&b, "tail", 4), KG_OK);
	cap = b.cap;
	kg_buf_consume(&b, 250);
	assert_int_equal(kg_buf_space(&b, 200, &p, &avail), KG_OK);
	assert_int_equal(b.cap, cap);
	assert_int_equal(b.off, 0);
	assert_true(avail >= 200);
	assert_memory_equal(kg_buf_data(&b), "tail", 4);
	kg_buf_free(&b);
}

static void
test_compaction_wipes_what_the_data_left_behind(void **state)
{
	struct kg_buf b;

	kg_buf_init(&b, 64);
	assert_int_equal(kg_buf_append(&b, "xxxxxxxxTOKEN", 13), KG_OK);
	kg_buf_consume(&b, 8);
	kg_buf_compact(&b);
	assert_int_equal(b.off, 0);
	assert_memory_equal(b.data, "TOKEN", 5);
	assert_true(all_zero(b.data + 5, 8));
	kg_buf_free(&b);
}

static void
test_compaction_of_compact_buffer_changes_nothing(void **state)
{
	struct kg_buf b;

	kg_buf_init(&b, 64);
	assert_int_equal(kg_buf_append(&b, "abc", 3), KG_OK);
	kg_buf_compact(&b);
	assert_memory_equal(kg_buf_data(&b), "abc", 3);
	kg_buf_free(&b);
}

static void
test_growth_keeps_unread_bytes(void **state)
{
	struct kg_buf b;
	uint8_t big[5000];
	size_t i;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	kg_buf_init(&b, 10000);
	assert_int_equal(kg_buf_append(&b, big, 10), KG_OK);
	kg_buf_consume(&b, 3);
	assert_int_equal(kg_buf_append(&b, big + 10, sizeof(big) - 10), KG_OK);
	assert_int_equal(kg_buf_len(&b), sizeof(big) - 3);
	assert_memory_equal(kg_buf_data(&b), big + 3, sizeof(big) - 3);
	kg_buf_free(&b);
}

static void
test_free_discards_data_and_buffer_stays_usable(void **state)
{
	struct kg_buf b;

	kg_buf_init(&b, 64);
	assert_int_equal(kg_buf_append(&b, "abc", 3), KG_OK);
	kg_buf_free(&b);
	assert_null(b.data);
	assert_int_equal(kg_buf_len(&b), 0);
	assert_int_equal(b.max, 64);
	assert_int_equal(kg_buf_append(&b, "d", 1), KG_OK);
	kg_buf_free(&b);
}

/* Release and free wipe the bytes that ever held data, not the whole block. */
static void
test_high_water_mark_covers_every_byte_that_held_data(void **state)
{
	struct kg_buf b;
	uint8_t *p;
	size_t avail;

	(void)state;
	kg_buf_init(&b, 4096);
	assert_int_equal(kg_buf_append(&b, "hello", 5), KG_OK);
	assert_int_equal(b.hwm, 5);
	kg_buf_consume(&b, 2);
	assert_int_equal(kg_buf_space(&b, 10, &p, &avail), KG_OK);
	memcpy(p, "0123456789", 10);
	kg_buf_commit(&b, 10);
	assert_int_equal(b.hwm, 2 + 3 + 10);
	/* Growing moves the data to the front of a new block. */
	assert_int_equal(kg_buf_space(&b, 1000, &p, &avail), KG_OK);
	assert_int_equal(b.hwm, kg_buf_len(&b));
	kg_buf_consume(&b, kg_buf_len(&b));
	assert_int_equal(kg_buf_release(&b), 1);
	assert_int_equal(b.hwm, 0);
	assert_null(b.data);
	kg_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_buffer_allocates_nothing),
		cmocka_unit_test(test_appended_bytes_read_back_in_order),
		cmocka_unit_test(test_append_of_nothing_succeeds_without_allocating),
		cmocka_unit_test(test_append_up_to_exactly_max_succeeds),
		cmocka_unit_test(test_append_beyond_max_is_refused_and_changes_nothing),
		cmocka_unit_test(test_zero_max_buffer_refuses_every_byte),
		cmocka_unit_test(test_capacity_never_grows_past_max),
		cmocka_unit_test(test_space_offers_no_more_than_room_under_max),
		cmocka_unit_test(test_space_on_full_buffer_is_refused),
		cmocka_unit_test(test_space_at_full_capacity_offers_the_rest_without_reallocating),
		cmocka_unit_test(test_space_for_zero_bytes_is_invalid),
		cmocka_unit_test(test_committed_bytes_become_data),
		cmocka_unit_test(test_commit_beyond_free_space_is_clamped),
		cmocka_unit_test(test_consume_drops_bytes_from_the_front),
		cmocka_unit_test(test_consume_more_than_held_empties_the_buffer),
		cmocka_unit_test(test_consume_on_unallocated_buffer_is_harmless),
		cmocka_unit_test(test_consumed_bytes_are_wiped),
		cmocka_unit_test(test_release_frees_storage_of_an_empty_buffer),
		cmocka_unit_test(test_release_keeps_storage_while_data_remains),
		cmocka_unit_test(test_release_of_unused_buffer_does_nothing),
		cmocka_unit_test(test_thousand_idle_buffers_hold_no_storage),
		cmocka_unit_test(test_space_compacts_rather_than_grows_when_front_is_free),
		cmocka_unit_test(test_compaction_wipes_what_the_data_left_behind),
		cmocka_unit_test(test_high_water_mark_covers_every_byte_that_held_data),
		cmocka_unit_test(test_compaction_of_compact_buffer_changes_nothing),
		cmocka_unit_test(test_growth_keeps_unread_bytes),
		cmocka_unit_test(test_free_discards_data_and_buffer_stays_usable),
	};

	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
