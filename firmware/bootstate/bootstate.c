/*
 * bootstate.c: two copies of GRUB's environment, written in a fixed order.
 * The rules are in bootstate.h; firmware/bootstate/grub.cfg is GRUB's half.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootstate.h"

static const char envblk_sig[] = "# GRUB Environment Block\n";

/* ---- environment blocks ------------------------------------------------- */

int
bs_envblk_parse(const uint8_t *blk, size_t len,
    void (*fn)(void *arg, const char *name, const char *value), void *arg)
{
	size_t siglen = sizeof(envblk_sig) - 1, i;
	char line[BS_ENVBLK_SIZE + 1];

	if (len < siglen || memcmp(blk, envblk_sig, siglen) != 0)
		return BS_ERR_FORMAT;
	i = siglen;
	while (i < len) {
		size_t n = 0;
		char *eq;

		if (blk[i] == '#') {		/* comment or padding */
			while (i < len && blk[i] != '\n')
				i++;
			i++;
			continue;
		}
		if (blk[i] == '\n') {
			i++;
			continue;
		}
		for (; i < len && blk[i] != '\n'; i++) {
			if (blk[i] == '\\' && i + 1 < len)
				i++;		/* escaped: take the next byte */
			if (blk[i] == '\0' || n >= sizeof(line) - 1)
				return BS_ERR_FORMAT;
			line[n++] = (char)blk[i];
		}
		if (i >= len)			/* a line must end in '\n' */
			return BS_ERR_FORMAT;
		i++;
		line[n] = '\0';
		if ((eq = strchr(line, '=')) == NULL || eq == line)
			return BS_ERR_FORMAT;
		*eq = '\0';
		fn(arg, line, eq + 1);
	}
	return 0;
}

static int
envblk_safe(const char *s)
{
	for (; *s; s++)
		if (!(*s == '_' || *s == ' ' || (*s >= '0' && *s <= '9') ||
		    (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')))
			return 0;
	return 1;
}

int
bs_envblk_format(uint8_t blk[BS_ENVBLK_SIZE], const char *const *names,
    const char *const *values, size_t n)
{
	size_t off = sizeof(envblk_sig) - 1, k;

	memset(blk, '#', BS_ENVBLK_SIZE);
	memcpy(blk, envblk_sig, off);
	for (k = 0; k < n; k++) {
		size_t nl = strlen(names[k]), vl = strlen(values[k]);

		if (nl == 0 || !envblk_safe(names[k]) || !envblk_safe(values[k]))
			return BS_ERR_ARG;
		if (off + nl + 1 + vl + 1 > BS_ENVBLK_SIZE)
			return BS_ERR_SPACE;
		memcpy(blk + off, names[k], nl);
		blk[off + nl] = '=';
		memcpy(blk + off + nl + 1, values[k], vl);
		blk[off + nl + 1 + vl] = '\n';
		off += nl + vl + 2;
	}
	return 0;
}

/* ---- the state in a block ----------------------------------------------- */

void
bs_state_default(struct bs_state *st)
{
	memset(st, 0, sizeof(*st));
	st->seq = 1;
	st->order[0] = 0;
	st->order[1] = 1;
	st->slot[0].ok = true;
}

int
bs_slot_index(const char *name)
{
	if (name == NULL || name[0] == '\0' || name[1] != '\0')
		return -1;
	if (name[0] == 'A' || name[0] == 'a')
		return 0;
	if (name[0] == 'B' || name[0] == 'b')
		return 1;
	return -1;
}

const char *
bs_slot_name(int idx)
{
	return idx == 0 ? "A" : idx == 1 ? "B" : "?";
}

/* Which variables a parse has seen, and whether each made sense. */
struct parse_acc {
	struct bs_state	*st;
	unsigned	 seen;	/* bit per variable below */
	int		 bad;
};

enum { V_SEQ = 1, V_ORDER = 2, V_AOK = 4, V_ATRY = 8, V_BOK = 16, V_BTRY = 32 };
#define V_ALL (V_SEQ | V_ORDER | V_AOK | V_ATRY | V_BOK | V_BTRY)

static int
parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;

	/* digits only, no leading zero: GRUB's script compares A_OK and
	 * A_TRY as strings and KG_SEQ in base 0, so "01" or "010" would
	 * mean one thing here and another to GRUB */
	if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || *out > max)
		return -1;
	return 0;
}

static int
parse_order(const char *s, int order[BS_NSLOTS])
{
	/* "A B" or "B A": both slots, once each. */
	int a, b;

	if (strlen(s) != 3 || s[1] != ' ')
		return -1;
	a = bs_slot_index((char[]){ s[0], '\0' });
	b = bs_slot_index((char[]){ s[2], '\0' });
	if (a < 0 || b < 0 || a == b)
		return -1;
	order[0] = a;
	order[1] = b;
	return 0;
}

static void
state_var(void *arg, const char *name, const char *value)
{
	struct parse_acc *acc = arg;
	unsigned long long v;
	int slot = -1, bit = 0;

	if (strcmp(name, "KG_SEQ") == 0) {
		if (parse_uint(value, UINT64_MAX, &v) < 0)
			acc->bad = 1;
		else
			acc->st->seq = v;
		acc->seen |= V_SEQ;
		return;
	}
	if (strcmp(name, "ORDER") == 0) {
		if (parse_order(value, acc->st->order) < 0)
			acc->bad = 1;
		acc->seen |= V_ORDER;
		return;
	}
	if (strcmp(name, "A_OK") == 0 || strcmp(name, "B_OK") == 0) {
		slot = name[0] == 'A' ? 0 : 1;
		bit = slot == 0 ? V_AOK : V_BOK;
		if (parse_uint(value, 1, &v) < 0)
			acc->bad = 1;
		else
			acc->st->slot[slot].ok = v == 1;
	} else if (strcmp(name, "A_TRY") == 0 || strcmp(name, "B_TRY") == 0) {
		slot = name[0] == 'A' ? 0 : 1;
		bit = slot == 0 ? V_ATRY : V_BTRY;
		if (parse_uint(value, BS_MAX_TRIES, &v) < 0)
			acc->bad = 1;
		else
			acc->st->slot[slot].tries = (unsigned)v;
	}
	acc->seen |= (unsigned)bit;	/* other names: kept by GRUB, ignored */
}

static int
state_from_block(const uint8_t *blk, size_t len, struct bs_state *st)
{
	struct parse_acc acc = { .st = st };

	memset(st, 0, sizeof(*st));
	if (bs_envblk_parse(blk, len, state_var, &acc) < 0)
		return BS_ERR_FORMAT;
	if (acc.bad || acc.seen != V_ALL)
		return BS_ERR_FORMAT;
	return 0;
}

static int
state_to_block(const struct bs_state *st, uint8_t blk[BS_ENVBLK_SIZE])
{
	char seq[24], order[4], aok[2], atry[4], bok[2], btry[4];
	const char *names[] = { "KG_SEQ", "ORDER", "A_OK", "A_TRY", "B_OK", "B_TRY" };
	const char *values[] = { seq, order, aok, atry, bok, btry };

	if (st->slot[0].tries > BS_MAX_TRIES || st->slot[1].tries > BS_MAX_TRIES ||
	    st->order[0] == st->order[1] || st->order[0] < 0 || st->order[0] > 1 ||
	    st->order[1] < 0 || st->order[1] > 1)
		return BS_ERR_ARG;
	snprintf(seq, sizeof(seq), "%" PRIu64, st->seq);
	snprintf(order, sizeof(order), "%s %s", bs_slot_name(st->order[0]),
	    bs_slot_name(st->order[1]));
	snprintf(aok, sizeof(aok), "%d", st->slot[0].ok ? 1 : 0);
	snprintf(atry, sizeof(atry), "%u", st->slot[0].tries);
	snprintf(bok, sizeof(bok), "%d", st->slot[1].ok ? 1 : 0);
	snprintf(btry, sizeof(btry), "%u", st->slot[1].tries);
	return bs_envblk_format(blk, names, values, 6);
}

static int
lock_block(int editing, uint8_t blk[BS_ENVBLK_SIZE])
{
	const char *names[] = { "KG_EDITING" };
	const char *values[] = { editing ? "1" : "0" };

	return bs_envblk_format(blk, names, values, 1);
}

static void
lock_var(void *arg, const char *name, const char *value)
{
	int *editing = arg;

	if (strcmp(name, "KG_EDITING") == 0)
		*editing = strcmp(value, "0") == 0 ? 0 : strcmp(value, "1") == 0 ? 1 : 2;
}

/* ---- copies --------------------------------------------------------------- */

static void
copy_path(char *buf, size_t len, const char *dir, int copy, const char *file)
{
	snprintf(buf, len, "%s/env%d/%s", dir, copy, file);
}

enum bs_copy_status
bs_read_copy(const struct bs_io *io, const char *dir, int copy, struct bs_state *st)
{
	uint8_t blk[BS_ENVBLK_SIZE + 1];
	char path[PATH_MAX];
	int editing = -1;
	long n;

	copy_path(path, sizeof(path), dir, copy, "lock");
	n = io->read_file(io->ctx, path, blk, sizeof(blk));
	if (n < 0 || (size_t)n > BS_ENVBLK_SIZE ||
	    bs_envblk_parse(blk, (size_t)n, lock_var, &editing) < 0)
		return BS_COPY_BADLOCK;
	if (editing == 1)
		return BS_COPY_EDITING;
	if (editing != 0)
		return BS_COPY_BADLOCK;
	copy_path(path, sizeof(path), dir, copy, "grubenv");
	n = io->read_file(io->ctx, path, blk, sizeof(blk));
	if (n < 0 || (size_t)n > BS_ENVBLK_SIZE ||
	    state_from_block(blk, (size_t)n, st) < 0)
		return BS_COPY_BADENV;
	return BS_COPY_GOOD;
}

int
bs_load(const struct bs_io *io, const char *dir, struct bs_state *st,
    int *chosen, enum bs_copy_status status[BS_NCOPIES])
{
	struct bs_state c[BS_NCOPIES];
	enum bs_copy_status s[BS_NCOPIES];
	int pick;

	s[0] = bs_read_copy(io, dir, 1, &c[0]);
	s[1] = bs_read_copy(io, dir, 2, &c[1]);
	if (status) {
		status[0] = s[0];
		status[1] = s[1];
	}
	if (s[0] != BS_COPY_GOOD && s[1] != BS_COPY_GOOD)
		return BS_ERR_NOSTATE;
	if (s[0] != BS_COPY_GOOD)
		pick = 1;
	else if (s[1] != BS_COPY_GOOD)
		pick = 0;
	else
		pick = c[1].seq > c[0].seq ? 1 : 0;	/* tie: copy 1 */
	*st = c[pick];
	if (chosen)
		*chosen = pick + 1;
	return 0;
}

static int
write_copy(const struct bs_io *io, const char *dir, int copy,
    const uint8_t env[BS_ENVBLK_SIZE])
{
	uint8_t lock[BS_ENVBLK_SIZE];
	char path[PATH_MAX];

	copy_path(path, sizeof(path), dir, copy, "lock");
	if (lock_block(1, lock) < 0 || io->write_sync(io->ctx, path, lock, sizeof(lock)) < 0)
		return BS_ERR_IO;
	copy_path(path, sizeof(path), dir, copy, "grubenv");
	if (io->write_sync(io->ctx, path, env, BS_ENVBLK_SIZE) < 0)
		return BS_ERR_IO;
	copy_path(path, sizeof(path), dir, copy, "lock");
	if (lock_block(0, lock) < 0 || io->write_sync(io->ctx, path, lock, sizeof(lock)) < 0)
		return BS_ERR_IO;
	return 0;
}

int
bs_store(const struct bs_io *io, const char *dir, const struct bs_state *st)
{
	struct bs_state cur;
	uint8_t env[BS_ENVBLK_SIZE];
	int rc, chosen = 2, first;

	if ((rc = state_to_block(st, env)) < 0)
		return rc;
	/* The copy not in use first: while it is being written, the one in use
	 * is whole; once it is whole, the one in use may be rewritten. */
	(void)bs_load(io, dir, &cur, &chosen, NULL);
	first = chosen == 1 ? 2 : 1;
	if ((rc = write_copy(io, dir, first, env)) < 0)
		return rc;
	return write_copy(io, dir, first == 1 ? 2 : 1, env);
}

int
bs_create(const struct bs_io *io, const char *dir, const struct bs_state *st)
{
	char path[PATH_MAX];
	int rc, copy;

	/* sync_dir makes a missing folder first; the files' entries are made
	 * durable by the second round. */
	for (int round = 0; round < 2; round++) {
		if (round == 1 && (rc = bs_store(io, dir, st)) < 0)
			return rc;
		if (io->sync_dir(io->ctx, dir) < 0)
			return BS_ERR_IO;
		for (copy = 1; copy <= BS_NCOPIES; copy++) {
			snprintf(path, sizeof(path), "%s/env%d", dir, copy);
			if (io->sync_dir(io->ctx, path) < 0)
				return BS_ERR_IO;
		}
	}
	return 0;
}

int
bs_update(const struct bs_io *io, const char *dir,
    int (*change)(struct bs_state *st, void *arg), void *arg)
{
	struct bs_state st;
	int rc;

	if ((rc = bs_load(io, dir, &st, NULL, NULL)) < 0)
		return rc;
	if ((rc = change(&st, arg)) < 0)
		return rc;
	st.seq++;
	return bs_store(io, dir, &st);
}

static int
state_equal(const struct bs_state *a, const struct bs_state *b)
{
	int i;

	if (a->seq != b->seq || a->order[0] != b->order[0] || a->order[1] != b->order[1])
		return 0;
	for (i = 0; i < BS_NSLOTS; i++)
		if (a->slot[i].ok != b->slot[i].ok || a->slot[i].tries != b->slot[i].tries)
			return 0;
	return 1;
}

int
bs_repair(const struct bs_io *io, const char *dir, int *repaired)
{
	struct bs_state st, other;
	uint8_t env[BS_ENVBLK_SIZE];
	int chosen, rc, copy, n = 0;

	if (repaired)
		*repaired = 0;
	if ((rc = bs_load(io, dir, &st, &chosen, NULL)) < 0)
		return rc;
	if ((rc = state_to_block(&st, env)) < 0)
		return rc;
	for (copy = 1; copy <= BS_NCOPIES; copy++) {
		if (copy == chosen)
			continue;
		if (bs_read_copy(io, dir, copy, &other) == BS_COPY_GOOD &&
		    state_equal(&st, &other))
			continue;
		if ((rc = write_copy(io, dir, copy, env)) < 0)
			return rc;
		n++;
	}
	if (repaired)
		*repaired = n;
	return 0;
}

int
bs_next_boot(const struct bs_state *st)
{
	int i, s;

	for (i = 0; i < BS_NSLOTS; i++) {
		s = st->order[i];
		if (st->slot[s].ok && st->slot[s].tries < BS_MAX_TRIES)
			return s;
	}
	return -1;
}

const char *
bs_strerror(int err)
{
	switch (err) {
	case 0:			return "no error";
	case BS_ERR_IO:		return "reading or writing the boot state failed";
	case BS_ERR_FORMAT:	return "the boot state is not a GRUB environment block";
	case BS_ERR_NOSTATE:	return "neither copy of the boot state is whole";
	case BS_ERR_ARG:	return "no such slot or value";
	case BS_ERR_SPACE:	return "the boot state does not fit in a block";
	}
	return "unknown error";
}

const char *
bs_copy_strstatus(enum bs_copy_status s)
{
	switch (s) {
	case BS_COPY_GOOD:	return "whole";
	case BS_COPY_EDITING:	return "a write did not finish (lock reads KG_EDITING=1)";
	case BS_COPY_BADLOCK:	return "lock file missing or unreadable";
	case BS_COPY_BADENV:	return "grubenv missing, unreadable or malformed";
	}
	return "?";
}

/* ---- real files ------------------------------------------------------------ */

static long
posix_read_file(void *ctx, const char *path, uint8_t *buf, size_t cap)
{
	ssize_t n;
	size_t got = 0;
	int fd;

	(void)ctx;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	while (got < cap) {
		n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	return (long)got;
}

static int
posix_write_sync(void *ctx, const char *path, const uint8_t *buf, size_t len)
{
	struct stat sb;
	size_t done = 0;
	ssize_t n;
	int fd;

	(void)ctx;
	/* In place when it exists (no allocation on FAT); created otherwise. */
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0) {
		if (errno != ENOENT)
			return -1;
		if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
			return -1;
	}
	while (done < len) {
		n = pwrite(fd, buf + done, len - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		done += (size_t)n;
	}
	if (fstat(fd, &sb) < 0 || (sb.st_size != (off_t)len && ftruncate(fd, (off_t)len) < 0))
		goto fail;
	if (fsync(fd) < 0)
		goto fail;
	return close(fd);
fail:
	close(fd);
	return -1;
}

static int
posix_sync_dir(void *ctx, const char *path)
{
	int fd, rc;

	(void)ctx;
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -1;
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

const struct bs_io bs_posix_io = {
	.read_file = posix_read_file,
	.write_sync = posix_write_sync,
	.sync_dir = posix_sync_dir,
	.ctx = NULL,
};
