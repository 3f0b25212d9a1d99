/*
 * test_sealedstore.c: the sealed store's format (seal, open, every refusal),
 * its records, the device key, and the atomic write under crash injection:
 * a writer killed at random points leaves the old or the new store.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "sealedstore.h"

static char dir[] = "/tmp/kg-sealed-XXXXXX";
static uint8_t key[SEALED_KEY_LEN];

static int
setup(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 1);
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
seal(const char *text, uint8_t **img, size_t *len)
{
	char err[256];

	assert_int_equal(sealed_seal(key, (const uint8_t *)text, strlen(text), img, len,
	    err, sizeof(err)), 0);
}

static void
test_seal_then_open_gives_the_plaintext(void **state)
{
	uint8_t *img, *plain;
	size_t len, plen;
	char err[256];

	(void)state;
	seal("secret records", &img, &len);
	assert_int_equal(len, SEALED_HEADER_LEN + 14 + SEALED_TAG_LEN);
	assert_memory_equal(img, "KGSEALED\0\1\0\0", 12);
	assert_null(memmem(img, len, "secret", 6));	/* encrypted */
	assert_int_equal(sealed_open(key, img, len, &plain, &plen, err, sizeof(err)), 0);
	assert_int_equal(plen, 14);
	assert_memory_equal(plain, "secret records", 14);
	sealed_free(plain, plen);
	free(img);
}

static void
open_fails(const uint8_t *img, size_t len, const char *needle)
{
	uint8_t *plain = (uint8_t *)1;
	size_t plen = 1;
	char err[256];

	assert_int_equal(sealed_open(key, img, len, &plain, &plen, err, sizeof(err)), -1);
	assert_null(plain);
	if (strstr(err, needle) == NULL)
		fail_msg("\"%s\" does not say \"%s\"", err, needle);
}

static void
test_every_flipped_byte_is_refused(void **state)
{
	uint8_t *img;
	size_t len, i;

	(void)state;
	seal("0123456789abcdef0123", &img, &len);
	for (i = 0; i < len; i++) {
		img[i] ^= 0x01;
		if (i < 8)
			open_fails(img, len, "not a kerbgate sealed store");
		else if (i < 10)
			open_fails(img, len, "format version");
		else if (i < 12)
			open_fails(img, len, "reserved header field");
		else if (i >= 24 && i < 28)
			open_fails(img, len, "length field");
		else
			open_fails(img, len, "does not authenticate: tampered with");
		img[i] ^= 0x01;
	}
	free(img);
}

static void
test_every_truncation_is_refused(void **state)
{
	uint8_t *img;
	size_t len, i;

	(void)state;
	seal("0123456789abcdef0123", &img, &len);
	for (i = 0; i < len; i++)
		open_fails(img, i, i < SEALED_HEADER_LEN + SEALED_TAG_LEN ?
		    (i < 8 ? "" : "truncated") : "truncated or appended to");
	open_fails(img, 3, "truncated: 3 bytes");
	free(img);
}

static void
test_another_device_key_is_refused(void **state)
{
	uint8_t *img, *plain, other[SEALED_KEY_LEN];
	size_t len, plen;
	char err[256];

	(void)state;
	memcpy(other, key, sizeof(other));
	other[0] ^= 0x80;
	seal("x", &img, &len);
	assert_int_equal(sealed_open(other, img, len, &plain, &plen, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "another device key"));
	free(img);
}

static void
test_records_round_trip_and_unknown_types_are_refused(void **state)
{
	struct sealed_buf b = { 0 };
	struct sealed_rec r;
	size_t off = 0;
	char err[256];
	uint8_t bad[SEALED_REC_HDR_LEN + 1] = { 0, 99, 0, 0, 0, 1, 'x' };

	(void)state;
	assert_int_equal(sealed_buf_add(&b, SEALED_REC_ASA_KEY, "abc", 3), 0);
	assert_int_equal(sealed_buf_add(&b, SEALED_REC_COOKIE_KEY, "", 0), 0);
	assert_int_equal(sealed_next(b.p, b.len, &off, &r, err, sizeof(err)), 1);
	assert_int_equal(r.type, SEALED_REC_ASA_KEY);
	assert_int_equal(r.len, 3);
	assert_memory_equal(r.value, "abc", 3);
	assert_int_equal(sealed_next(b.p, b.len, &off, &r, err, sizeof(err)), 1);
	assert_int_equal(r.type, SEALED_REC_COOKIE_KEY);
	assert_int_equal(sealed_next(b.p, b.len, &off, &r, err, sizeof(err)), 0);
	/* A record cut short. */
	off = 0;
	assert_int_equal(sealed_next(b.p, 8, &off, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "runs past the end"));
	off = 0;
	assert_int_equal(sealed_next(b.p, 3, &off, &r, err, sizeof(err)), -1);
	off = 0;
	assert_int_equal(sealed_next(bad, sizeof(bad), &off, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown type 99"));
	sealed_buf_free(&b);
	assert_null(b.p);
}

static void
test_oversize_store_is_refused(void **state)
{
	struct sealed_buf b = { 0 };
	uint8_t *img;
	size_t len;
	char err[256];

	(void)state;
	assert_int_equal(sealed_seal(key, (const uint8_t *)"", SEALED_MAX_PLAIN + 1, &img,
	    &len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too large"));
	assert_int_equal(sealed_buf_add(&b, SEALED_REC_ASA_KEY, "", SEALED_MAX_PLAIN), -1);
	sealed_buf_free(&b);
}

static void
test_write_is_0600_and_replaces_the_file(void **state)
{
	char path[256], err[256];
	struct stat st;
	uint8_t *buf;
	size_t len;

	(void)state;
	snprintf(path, sizeof(path), "%s/store", dir);
	assert_int_equal(sealed_read_file(path, &buf, &len, err, sizeof(err)), 1);
	assert_int_equal(sealed_write_atomic(path, (const uint8_t *)"one", 3, err,
	    sizeof(err)), 0);
	assert_int_equal(sealed_write_atomic(path, (const uint8_t *)"second", 6, err,
	    sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(sealed_read_file(path, &buf, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(buf, "second", 6);
	free(buf);
	strcat(path, ".tmp");
	assert_int_equal(stat(path, &st), -1);
	/* A folder that does not exist: the reason names the file. */
	assert_int_equal(sealed_write_atomic("/nonexistent-kg/store", (const uint8_t *)"x",
	    1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot create /nonexistent-kg/store.tmp"));
}

static void
test_device_key_is_made_once_and_checked(void **state)
{
	char path[256], err[256];
	uint8_t k1[SEALED_KEY_LEN], k2[SEALED_KEY_LEN];
	struct stat st;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/device.key", dir);
	assert_int_equal(sealed_device_key(path, 0, k1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "does not exist"));
	assert_int_equal(sealed_device_key(path, 1, k1, err, sizeof(err)), 1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, SEALED_KEY_LEN);
	assert_int_equal(sealed_device_key(path, 1, k2, err, sizeof(err)), 0);
	assert_memory_equal(k1, k2, SEALED_KEY_LEN);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(sealed_device_key(path, 1, k2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "open to group or others (mode 0640): chmod 600"));
	assert_int_equal(chmod(path, 0600), 0);
	assert_non_null(f = fopen(path, "a"));
	fputc('x', f);
	fclose(f);
	assert_int_equal(sealed_device_key(path, 1, k2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "holds 33 bytes, not 32"));
}

/*
 * Attack: whoever may write the store (or its folder) may put an older
 * sealed store back (the keys of a password AD has left, which may have
 * leaked), or another device key and a store sealed under it (keys of their
 * choosing, so tickets they make themselves).  A store or device key
 * writable by group or others, or in a folder that is, is refused on read;
 * a 0640 copy of a store (read-only to the group) is still read.
 */
static void
test_store_others_may_replace_is_refused(void **state)
{
	char sub[128], path[256], err[256];
	uint8_t *buf, k[SEALED_KEY_LEN];
	size_t len;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/shared", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(path, sizeof(path), "%s/store", sub);
	assert_int_equal(sealed_write_atomic(path, (const uint8_t *)"one", 3, err,
	    sizeof(err)), 0);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(sealed_read_file(path, &buf, &len, err, sizeof(err)), 0);
	free(buf);
	assert_int_equal(chmod(path, 0660), 0);
	assert_int_equal(sealed_read_file(path, &buf, &len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "writable by group or others"));
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(chmod(sub, 0770), 0);
	assert_int_equal(sealed_read_file(path, &buf, &len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "writable by group or others"));
	assert_int_equal(chmod(sub, 01777), 0);
	assert_int_equal(sealed_device_key(path, 1, k, err, sizeof(err)), -1);
	snprintf(path, sizeof(path), "%s/device.key", sub);
	assert_int_equal(sealed_device_key(path, 1, k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "writable by group or others"));
	assert_int_equal(access(path, F_OK), -1);	/* not made there either */
	assert_int_equal(chmod(sub, 0700), 0);
}

/*
 * Crash injection: a child rewrites the store with state A, then B, then A...
 * (each 256 KiB, so that a kill lands inside a write as often as between
 * two); the parent kills it at a random instant, then the store must open
 * and hold exactly A or exactly B.  20 rounds; 200 with KG_LONG=1 (make
 * test-long); KG_CRASH_ROUNDS sets any count.
 */
static void
fill_state(uint8_t *p, size_t n, uint8_t which)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(which + i % 251);
}

static void
test_killed_writer_leaves_old_or_new_state(void **state)
{
	enum { STATE_LEN = 256 * 1024 };
	const char *env = getenv("KG_CRASH_ROUNDS"), *lng = getenv("KG_LONG");
	int rounds = env != NULL ? atoi(env) : lng != NULL && strcmp(lng, "1") == 0 ?
	    200 : 20, r, sawa = 0, sawb = 0;
	uint8_t *a = malloc(STATE_LEN), *b = malloc(STATE_LEN), *img, *plain;
	size_t len, plen;
	char path[256], err[256];
	pid_t pid;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	fill_state(a, STATE_LEN, 'A');
	fill_state(b, STATE_LEN, 'B');
	snprintf(path, sizeof(path), "%s/crash.sealed", dir);
	assert_int_equal(sealed_seal(key, a, STATE_LEN, &img, &len, err, sizeof(err)), 0);
	assert_int_equal(sealed_write_atomic(path, img, len, err, sizeof(err)), 0);
	free(img);
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	for (r = 0; r < rounds; r++) {
		if ((pid = fork()) == 0) {
			for (unsigned i = 0;; i++) {
				const uint8_t *s = i % 2 ? a : b;

				if (sealed_seal(key, s, STATE_LEN, &img, &len, err,
				    sizeof(err)) != 0 ||
				    sealed_write_atomic(path, img, len, err, sizeof(err)) != 0)
					_exit(1);
				free(img);
			}
		}
		assert_true(pid > 0);
		usleep(1000 + (useconds_t)(rand() % 20000));
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, NULL, 0), pid);
		assert_int_equal(sealed_read_file(path, &img, &len, err, sizeof(err)), 0);
		if (sealed_open(key, img, len, &plain, &plen, err, sizeof(err)) != 0)
			fail_msg("round %d: the store does not open: %s", r, err);
		assert_int_equal(plen, STATE_LEN);
		if (memcmp(plain, a, STATE_LEN) == 0)
			sawa++;
		else if (memcmp(plain, b, STATE_LEN) == 0)
			sawb++;
		else
			fail_msg("round %d: the store holds neither state", r);
		sealed_free(plain, plen);
		free(img);
	}
	printf("crash injection: %d rounds, old/new state %d/%d\n", rounds, sawa, sawb);
	free(a);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seal_then_open_gives_the_plaintext),
		cmocka_unit_test(test_every_flipped_byte_is_refused),
		cmocka_unit_test(test_every_truncation_is_refused),
		cmocka_unit_test(test_another_device_key_is_refused),
		cmocka_unit_test(test_records_round_trip_and_unknown_types_are_refused),
		cmocka_unit_test(test_oversize_store_is_refused),
		cmocka_unit_test(test_write_is_0600_and_replaces_the_file),
		cmocka_unit_test(test_device_key_is_made_once_and_checked),
		cmocka_unit_test(test_store_others_may_replace_is_refused),
		cmocka_unit_test(test_killed_writer_leaves_old_or_new_state),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
