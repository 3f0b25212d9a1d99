/*
 * test_bootstate: the A/B boot state survives a power cut at any instant.
 *
 * The copies live in an in-memory file system that records every synced
 * write.  A power cut is simulated at every write of an update: the writes
 * before it are on disk, and each 512-byte sector of the write under way is
 * old, new, or garbage (a sector the disk did not finish), and then at
 * every byte offset of it (the write torn there, the rest old or garbage:
 * no sector atomicity assumed).  Whatever the cut,
 * the state read back is the old one or the new one, never a mix and never
 * nothing; once the first copy is whole, it is the new one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bootstate.h"

#define SECTOR 512
#define MAXF 8
#define MAXOPS 32

struct mfile {
	char	 path[64];
	uint8_t	 data[BS_ENVBLK_SIZE * 2];
	size_t	 len;
};

struct mop {
	char	 path[64];
	uint8_t	 data[BS_ENVBLK_SIZE];
	size_t	 len;
};

struct mfs {
	struct mfile	 f[MAXF];
	int		 nf;
	struct mop	 ops[MAXOPS];
	int		 nops;
	int		 fail_write;	/* >0: the nth write fails (EIO) */
};

static struct mfile *
mfs_find(struct mfs *fs, const char *path)
{
	for (int i = 0; i < fs->nf; i++)
		if (strcmp(fs->f[i].path, path) == 0)
			return &fs->f[i];
	return NULL;
}

static void
mfs_put(struct mfs *fs, const char *path, const uint8_t *data, size_t len)
{
	struct mfile *f = mfs_find(fs, path);

	if (f == NULL) {
		assert_true(fs->nf < MAXF);
		f = &fs->f[fs->nf++];
		snprintf(f->path, sizeof(f->path), "%s", path);
	}
	memcpy(f->data, data, len);
	f->len = len;
}

static long
m_read(void *ctx, const char *path, uint8_t *buf, size_t cap)
{
	struct mfile *f = mfs_find(ctx, path);
	size_t n;

	if (f == NULL)
		return -1;
	n = f->len < cap ? f->len : cap;
	memcpy(buf, f->data, n);
	return (long)n;
}

static int
m_write(void *ctx, const char *path, const uint8_t *buf, size_t len)
{
	struct mfs *fs = ctx;
	struct mop *op;

	if (fs->fail_write > 0 && --fs->fail_write == 0)
		return -1;
	assert_true(fs->nops < MAXOPS);
	op = &fs->ops[fs->nops++];
	snprintf(op->path, sizeof(op->path), "%s", path);
	memcpy(op->data, buf, len);
	op->len = len;
	mfs_put(fs, path, buf, len);
	return 0;
}

static int
m_sync_dir(void *ctx, const char *path)
{
	(void)ctx;
	(void)path;
	return 0;
}

static struct bs_io
mio(struct mfs *fs)
{
	struct bs_io io = { m_read, m_write, m_sync_dir, fs };

	return io;
}

static void
state(struct bs_state *st, uint64_t seq, int first, bool aok, unsigned atry,
    bool bok, unsigned btry)
{
	memset(st, 0, sizeof(*st));
	st->seq = seq;
	st->order[0] = first;
	st->order[1] = !first;
	st->slot[0].ok = aok;
	st->slot[0].tries = atry;
	st->slot[1].ok = bok;
	st->slot[1].tries = btry;
}

static int
same(const struct bs_state *a, const struct bs_state *b)
{
	return a->seq == b->seq && a->order[0] == b->order[0] &&
	    a->order[1] == b->order[1] && a->slot[0].ok == b->slot[0].ok &&
	    a->slot[0].tries == b->slot[0].tries && a->slot[1].ok == b->slot[1].ok &&
	    a->slot[1].tries == b->slot[1].tries;
}

/* ---- environment blocks ----------------------------------------------------- */

static void
collect(void *arg, const char *name, const char *value)
{
	char *out = arg;

	strcat(out, name);
	strcat(out, "=");
	strcat(out, value);
	strcat(out, ";");
}

static void
test_envblk_roundtrip(void **s)
{
	const char *names[] = { "ORDER", "A_OK" }, *values[] = { "A B", "1" };
	uint8_t blk[BS_ENVBLK_SIZE];
	char out[256] = "";

	(void)s;
	assert_int_equal(bs_envblk_format(blk, names, values, 2), 0);
	assert_memory_equal(blk, "# GRUB Environment Block\nORDER=A B\nA_OK=1\n#", 43);
	assert_int_equal(blk[BS_ENVBLK_SIZE - 1], '#');
	assert_int_equal(bs_envblk_parse(blk, sizeof(blk), collect, out), 0);
	assert_string_equal(out, "ORDER=A B;A_OK=1;");
}

static void
test_envblk_as_grub_writes_it(void **s)
{
	/* grub-editenv escapes backslash and newline; other variables stay. */
	static const char blk[] = "# GRUB Environment Block\nsaved_entry=x\\\\y\n"
	    "msg=a\\\nb\nKG_SEQ=7\n######";
	char out[256] = "";

	(void)s;
	assert_int_equal(bs_envblk_parse((const uint8_t *)blk, sizeof(blk) - 1, collect, out), 0);
	assert_string_equal(out, "saved_entry=x\\y;msg=a\nb;KG_SEQ=7;");
}

static void
test_envblk_refuses_what_is_not_one(void **s)
{
	static const char nosig[] = "# GRUB Environment Blo\nA=1\n##";
	static const char noeq[] = "# GRUB Environment Block\nA1\n##";
	static const char unterminated[] = "# GRUB Environment Block\nA=1";
	static const char nul[] = "# GRUB Environment Block\nA=\0\n##";
	const char *bad[] = { "A=B" }, *ok[] = { "1" };
	uint8_t blk[BS_ENVBLK_SIZE];
	char out[256] = "";

	(void)s;
	assert_int_equal(bs_envblk_parse((const uint8_t *)nosig, sizeof(nosig) - 1, collect, out), BS_ERR_FORMAT);
	assert_int_equal(bs_envblk_parse((const uint8_t *)noeq, sizeof(noeq) - 1, collect, out), BS_ERR_FORMAT);
	assert_int_equal(bs_envblk_parse((const uint8_t *)unterminated, sizeof(unterminated) - 1, collect, out), BS_ERR_FORMAT);
	assert_int_equal(bs_envblk_parse((const uint8_t *)nul, sizeof(nul) - 1, collect, out), BS_ERR_FORMAT);
	assert_int_equal(bs_envblk_format(blk, bad, ok, 1), BS_ERR_ARG);	/* '=' in a name */
	assert_int_equal(bs_envblk_format(blk, ok, bad, 1), BS_ERR_ARG);	/* '=' in a value */
}

/* ---- reading copies ------------------------------------------------------------ */

static void
setup_both(struct mfs *fs, const struct bs_state *st)
{
	struct bs_io io = mio(fs);

	memset(fs, 0, sizeof(*fs));
	assert_int_equal(bs_create(&io, "/esp", st), 0);
	fs->nops = 0;
}

static void
put_text(struct mfs *fs, const char *path, const char *text)
{
	uint8_t blk[BS_ENVBLK_SIZE];
	size_t n = strlen(text);

	memset(blk, '#', sizeof(blk));
	memcpy(blk, text, n);
	mfs_put(fs, path, blk, sizeof(blk));
}

static void
test_higher_sequence_wins_copy1_on_tie(void **s)
{
	struct bs_state a, b, got;
	struct mfs fs;
	struct bs_io io = mio(&fs);
	int chosen;

	(void)s;
	state(&a, 10, 0, true, 0, true, 0);
	setup_both(&fs, &a);
	put_text(&fs, "/esp/env2/grubenv", "# GRUB Environment Block\nKG_SEQ=11\nORDER=B A\n"
	    "A_OK=1\nA_TRY=0\nB_OK=1\nB_TRY=1\n");
	assert_int_equal(bs_load(&io, "/esp", &got, &chosen, NULL), 0);
	assert_int_equal(chosen, 2);
	state(&b, 11, 1, true, 0, true, 1);
	assert_true(same(&got, &b));

	/* Same sequence, different tries (GRUB wrote copy 1 and stopped). */
	put_text(&fs, "/esp/env2/grubenv", "# GRUB Environment Block\nKG_SEQ=10\nORDER=A B\n"
	    "A_OK=1\nA_TRY=0\nB_OK=1\nB_TRY=0\n");
	put_text(&fs, "/esp/env1/grubenv", "# GRUB Environment Block\nKG_SEQ=10\nORDER=A B\n"
	    "A_OK=1\nA_TRY=1\nB_OK=1\nB_TRY=0\n");
	assert_int_equal(bs_load(&io, "/esp", &got, &chosen, NULL), 0);
	assert_int_equal(chosen, 1);
	assert_int_equal(got.slot[0].tries, 1);
}

static void
test_unusable_copies_are_skipped(void **s)
{
	enum bs_copy_status cs[2];
	struct bs_state a, got;
	struct mfs fs;
	struct bs_io io = mio(&fs);
	int chosen;

	(void)s;
	state(&a, 3, 0, true, 0, false, 0);
	setup_both(&fs, &a);
	put_text(&fs, "/esp/env1/lock", "# GRUB Environment Block\nKG_EDITING=1\n");
	put_text(&fs, "/esp/env1/grubenv", "# GRUB Environment Block\nKG_SEQ=99\nORDER=B A\n"
	    "A_OK=1\nA_TRY=0\nB_OK=1\nB_TRY=0\n");
	assert_int_equal(bs_load(&io, "/esp", &got, &chosen, cs), 0);
	assert_int_equal(cs[0], BS_COPY_EDITING);
	assert_int_equal(chosen, 2);
	assert_true(same(&got, &a));

	/* Each kind of bad copy 2 with a whole copy 1. */
	setup_both(&fs, &a);
	put_text(&fs, "/esp/env2/grubenv", "# GRUB Environment Block\nKG_SEQ=9\nORDER=A A\n"
	    "A_OK=1\nA_TRY=0\nB_OK=1\nB_TRY=0\n");
	assert_int_equal(bs_load(&io, "/esp", &got, &chosen, cs), 0);
	assert_int_equal(cs[1], BS_COPY_BADENV);
	assert_int_equal(chosen, 1);
	put_text(&fs, "/esp/env2/grubenv", "# GRUB Environment Block\nKG_SEQ=9\nORDER=A B\n"
	    "A_OK=1\nA_TRY=4\nB_OK=1\nB_TRY=0\n");		/* tries beyond the maximum */
	assert_int_equal(bs_read_copy(&io, "/esp", 2, &got), BS_COPY_BADENV);
	put_text(&fs, "/esp/env2/grubenv", "# GRUB Environment Block\nKG_SEQ=9\nORDER=A B\n"
	    "A_OK=1\nA_TRY=0\nB_OK=1\n");			/* a variable missing */
	assert_int_equal(bs_read_copy(&io, "/esp", 2, &got), BS_COPY_BADENV);
	put_text(&fs, "/esp/env2/lock", "# GRUB Environment Block\nKG_EDITING=x\n");
	assert_int_equal(bs_read_copy(&io, "/esp", 2, &got), BS_COPY_BADLOCK);
	put_text(&fs, "/esp/env2/lock", "garbage");
	assert_int_equal(bs_read_copy(&io, "/esp", 2, &got), BS_COPY_BADLOCK);

	/* Numbers GRUB's script reads otherwise: it compares A_OK and A_TRY as
	 * the strings "1", "0", "1", "2" and KG_SEQ with test -gt (base 0:
	 * 010 is eight there), so a leading zero would make the two disagree
	 * on which slot is good, tried, or the newer copy. */
	put_text(&fs, "/esp/env2/lock", "# GRUB Environment Block\nKG_EDITING=0\n");
	put_text(&fs, "/esp/env2/grubenv", "# GRUB Environment Block\nKG_SEQ=9\nORDER=A B\n"
	    "A_OK=01\nA_TRY=0\nB_OK=1\nB_TRY=0\n");
	assert_int_equal(bs_read_copy(&io, "/esp", 2, &got), BS_COPY_BADENV);
	put_text(&fs, "/esp/env2/grubenv", "# GRUB Environment Block\nKG_SEQ=9\nORDER=A B\n"
	    "A_OK=1\nA_TRY=00\nB_OK=1\nB_TRY=0\n");
	assert_int_equal(bs_read_copy(&io, "/esp", 2, &got), BS_COPY_BADENV);
	put_text(&fs, "/esp/env2/grubenv", "# GRUB Environment Block\nKG_SEQ=010\nORDER=A B\n"
	    "A_OK=1\nA_TRY=0\nB_OK=1\nB_TRY=0\n");
	assert_int_equal(bs_read_copy(&io, "/esp", 2, &got), BS_COPY_BADENV);
	put_text(&fs, "/esp/env2/grubenv", "# GRUB Environment Block\nKG_SEQ=0\nORDER=A B\n"
	    "A_OK=0\nA_TRY=0\nB_OK=1\nB_TRY=0\n");		/* a lone 0 is a number */
	assert_int_equal(bs_read_copy(&io, "/esp", 2, &got), BS_COPY_GOOD);
	put_text(&fs, "/esp/env2/lock", "garbage");

	/* Neither whole: said so, not a default. */
	put_text(&fs, "/esp/env1/lock", "# GRUB Environment Block\nKG_EDITING=1\n");
	assert_int_equal(bs_load(&io, "/esp", &got, &chosen, cs), BS_ERR_NOSTATE);
}

/* ---- power cuts ---------------------------------------------------------------- */

enum sector_fate { OLD, NEW, GARBAGE };

/* The disk after a cut during write k: writes before k whole, write k's
 * sectors each as fates[] says. */
static void
after_cut(const struct mfs *before, const struct mfs *rec, int k,
    const enum sector_fate fates[2], struct mfs *out)
{
	*out = *before;
	out->nops = 0;
	for (int i = 0; i < k; i++)
		mfs_put(out, rec->ops[i].path, rec->ops[i].data, rec->ops[i].len);

	const struct mop *op = &rec->ops[k];
	struct mfile *f = mfs_find(out, op->path);
	uint8_t blk[BS_ENVBLK_SIZE];

	if (f != NULL)
		memcpy(blk, f->data, sizeof(blk));
	else
		memset(blk, 0, sizeof(blk));
	for (int sct = 0; sct < 2; sct++) {
		if (fates[sct] == NEW)
			memcpy(blk + sct * SECTOR, op->data + sct * SECTOR, SECTOR);
		else if (fates[sct] == GARBAGE)
			memset(blk + sct * SECTOR, 0xa5, SECTOR);
	}
	mfs_put(out, op->path, blk, sizeof(blk));
}

/* The disk after a cut during write k at byte offset at: writes before k
 * whole, write k's first at bytes new and the rest old (a torn write of a
 * disk or file system with no sector atomicity at all), or the rest
 * garbage when garbage is set. */
static void
after_cut_at_byte(const struct mfs *before, const struct mfs *rec, int k,
    size_t at, bool garbage, struct mfs *out)
{
	const struct mop *op = &rec->ops[k];
	uint8_t blk[BS_ENVBLK_SIZE];
	struct mfile *f;

	*out = *before;
	out->nops = 0;
	for (int i = 0; i < k; i++)
		mfs_put(out, rec->ops[i].path, rec->ops[i].data, rec->ops[i].len);
	f = mfs_find(out, op->path);
	if (f != NULL && !garbage)
		memcpy(blk, f->data, sizeof(blk));
	else
		memset(blk, garbage ? 0xa5 : 0, sizeof(blk));
	memcpy(blk, op->data, at);
	mfs_put(out, op->path, blk, sizeof(blk));
}

/* What a disk cut during write k of an update from old to new must hold. */
static void
assert_cut_keeps_a_state(struct mfs *disk, const struct bs_state *old,
    const struct bs_state *new, int k)
{
	struct bs_io dio = mio(disk);
	struct bs_state got;
	int chosen, repaired;

	assert_int_equal(bs_load(&dio, "/esp", &got, &chosen, NULL), 0);
	assert_true(same(&got, old) || same(&got, new));
	if (k >= 3)	/* the first copy written is whole */
		assert_true(same(&got, new));
	/* The boot's repair makes both copies whole and equal. */
	assert_int_equal(bs_repair(&dio, "/esp", &repaired), 0);
	assert_int_equal(bs_read_copy(&dio, "/esp", 1, &got), BS_COPY_GOOD);
	assert_int_equal(bs_read_copy(&dio, "/esp", 2, &got), BS_COPY_GOOD);
	assert_true(same(&got, old) || same(&got, new));
}

/* Cuts an update from \p old to \p new at every write: every sector fate,
 * every byte offset. */
static void
cut_everywhere(struct mfs *start, const struct bs_state *old,
    const struct bs_state *new, int *cuts, int *byte_cuts)
{
	struct mfs rec = *start, disk;
	struct bs_io io = mio(&rec);

	rec.nops = 0;
	assert_int_equal(bs_store(&io, "/esp", new), 0);
	assert_int_equal(rec.nops, 6);		/* 2 copies x (lock, env, lock) */
	for (int k = 0; k < rec.nops; k++) {
		for (int f0 = OLD; f0 <= GARBAGE; f0++) {
			for (int f1 = OLD; f1 <= GARBAGE; f1++) {
				enum sector_fate fates[2] = { f0, f1 };

				after_cut(start, &rec, k, fates, &disk);
				assert_cut_keeps_a_state(&disk, old, new, k);
				(*cuts)++;
			}
		}
		/* Torn at every byte offset of the write, the rest old or
		 * garbage: the same promises. */
		for (size_t at = 0; at <= BS_ENVBLK_SIZE; at++) {
			for (int g = 0; g <= 1; g++) {
				after_cut_at_byte(start, &rec, k, at, g, &disk);
				assert_cut_keeps_a_state(&disk, old, new, k);
				(*byte_cuts)++;
			}
		}
	}
}

static void
test_power_cut_at_every_write(void **s)
{
	struct bs_state old, new;
	struct mfs start;
	int cuts = 0, byte_cuts = 0;

	(void)s;
	state(&old, 41, 0, true, 0, true, 0);
	state(&new, 42, 1, true, 0, true, 0);	/* set-primary B */

	/* Both copies whole. */
	setup_both(&start, &old);
	cut_everywhere(&start, &old, &new, &cuts, &byte_cuts);

	/* Copy 2 left half-written by an earlier cut (not yet repaired). */
	setup_both(&start, &old);
	put_text(&start, "/esp/env2/lock", "# GRUB Environment Block\nKG_EDITING=1\n");
	cut_everywhere(&start, &old, &new, &cuts, &byte_cuts);

	/* Copy 1 unreadable. */
	setup_both(&start, &old);
	put_text(&start, "/esp/env1/grubenv", "\xa5\xa5\xa5");
	cut_everywhere(&start, &old, &new, &cuts, &byte_cuts);

	/* Copy 2 newer than copy 1 (an earlier update was cut after copy 2). */
	setup_both(&start, &old);
	put_text(&start, "/esp/env1/grubenv", "# GRUB Environment Block\nKG_SEQ=40\nORDER=A B\n"
	    "A_OK=1\nA_TRY=0\nB_OK=0\nB_TRY=0\n");
	cut_everywhere(&start, &old, &new, &cuts, &byte_cuts);

	assert_int_equal(cuts, 4 * 6 * 9);
	assert_int_equal(byte_cuts, 4 * 6 * (BS_ENVBLK_SIZE + 1) * 2);
}

static void
test_failed_write_keeps_a_whole_copy(void **s)
{
	struct bs_state old, new, got;
	struct mfs fs;
	struct bs_io io = mio(&fs);

	(void)s;
	state(&old, 5, 0, true, 0, false, 0);
	state(&new, 6, 1, true, 0, true, 0);
	for (int n = 1; n <= 6; n++) {
		setup_both(&fs, &old);
		fs.fail_write = n;
		assert_int_equal(bs_store(&io, "/esp", &new), BS_ERR_IO);
		fs.fail_write = 0;
		assert_int_equal(bs_load(&io, "/esp", &got, NULL, NULL), 0);
		assert_true(same(&got, &old) || same(&got, &new));
		if (n > 3)
			assert_true(same(&got, &new));
	}
}

/* ---- boot decisions and changes -------------------------------------------------- */

static int
to_b(struct bs_state *st, void *arg)
{
	(void)arg;
	st->order[0] = 1;
	st->order[1] = 0;
	st->slot[1].ok = true;
	st->slot[1].tries = 0;
	return 0;
}

static void
test_next_boot_follows_rauc_rule(void **s)
{
	struct bs_state st;

	(void)s;
	state(&st, 1, 1, true, 0, true, 2);
	assert_int_equal(bs_next_boot(&st), 1);		/* B on trial, one try left */
	st.slot[1].tries = BS_MAX_TRIES;
	assert_int_equal(bs_next_boot(&st), 0);		/* B used up: back to A */
	st.slot[0].ok = false;
	assert_int_equal(bs_next_boot(&st), -1);	/* nothing left */
	state(&st, 1, 0, true, 0, false, 0);
	assert_int_equal(bs_next_boot(&st), 0);
}

static void
test_update_raises_sequence_and_repair_levels(void **s)
{
	struct bs_state st, got;
	struct mfs fs;
	struct bs_io io = mio(&fs);
	int chosen, repaired;

	(void)s;
	bs_state_default(&st);
	setup_both(&fs, &st);
	assert_int_equal(bs_update(&io, "/esp", to_b, NULL), 0);
	assert_int_equal(bs_load(&io, "/esp", &got, &chosen, NULL), 0);
	assert_int_equal(got.seq, st.seq + 1);
	assert_int_equal(got.order[0], 1);
	assert_int_equal(bs_repair(&io, "/esp", &repaired), 0);
	assert_int_equal(repaired, 0);			/* both already equal */

	put_text(&fs, "/esp/env1/lock", "# GRUB Environment Block\nKG_EDITING=1\n");
	assert_int_equal(bs_repair(&io, "/esp", &repaired), 0);
	assert_int_equal(repaired, 1);
	assert_int_equal(bs_read_copy(&io, "/esp", 1, &st), BS_COPY_GOOD);
	assert_true(same(&st, &got));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_envblk_roundtrip),
		cmocka_unit_test(test_envblk_as_grub_writes_it),
		cmocka_unit_test(test_envblk_refuses_what_is_not_one),
		cmocka_unit_test(test_higher_sequence_wins_copy1_on_tie),
		cmocka_unit_test(test_unusable_copies_are_skipped),
		cmocka_unit_test(test_power_cut_at_every_write),
		cmocka_unit_test(test_failed_write_keeps_a_whole_copy),
		cmocka_unit_test(test_next_boot_follows_rauc_rule),
		cmocka_unit_test(test_update_raises_sequence_and_repair_levels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
