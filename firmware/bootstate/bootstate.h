/*
 * bootstate: the A/B boot state that GRUB reads, kept power-safe.
 *
 * GRUB keeps its variables in an "environment block": a 1024-byte file
 * that starts "# GRUB Environment Block\n", holds name=value lines and is
 * padded with '#'.  GRUB rewrites it in place (save_env) and nothing checks
 * it, so a power cut in the middle of a write can leave a block that is
 * half old, half new, or unreadable.  Here the state lives in two copies,
 * each in its own folder on the ESP:
 *
 *     DIR/env1/grubenv   DIR/env1/lock
 *     DIR/env2/grubenv   DIR/env2/lock
 *
 * grubenv holds the state (KG_SEQ, ORDER, A_OK, A_TRY, B_OK, B_TRY); lock is
 * another environment block holding KG_EDITING=0 or 1.  A copy is written
 * as: lock=1, sync; grubenv, sync; lock=0, sync.  A copy whose lock does not
 * read KG_EDITING=0, or whose grubenv does not parse, is not used.  Of the
 * usable copies the one with the higher KG_SEQ is used, copy 1 on a tie.
 * Every writer (this code, and GRUB's script firmware/bootstate/grub.cfg)
 * writes the copy NOT in use first, then the one in use: while the first is
 * being written the other is whole and untouched, and the one in use is
 * touched only once the first is whole.  So at any instant one copy is
 * whole, and the one chosen holds either the old state or the new, never a
 * mix.  Userspace raises KG_SEQ on every change, so its new state wins as
 * soon as one copy holds it.  GRUB (which cannot add) keeps KG_SEQ and only
 * counts a boot attempt; a power cut in the middle of that write can lose
 * the count of that one attempt (when copy 2 was written first), never the
 * state.

 * Files are rewritten in place, never created or renamed, once made: on FAT
 * a rename or an allocation is not atomic, a same-size overwrite of a
 * file's sectors is the smallest write there is.
 *
 * The boot-try rule is RAUC's GRUB one: GRUB boots the first slot in ORDER
 * whose X_OK is 1 and X_TRY below BS_MAX_TRIES, raising X_TRY first;
 * userspace marks the slot good (X_TRY=0) once its services are healthy.  A
 * slot that fails to come up BS_MAX_TRIES times is abandoned for the next.
 */
#ifndef KERBGATE_BOOTSTATE_H
#define KERBGATE_BOOTSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BS_ENVBLK_SIZE	1024	/* GRUB's environment block size */
#define BS_MAX_TRIES	3	/* boot attempts before a slot is abandoned */
#define BS_NSLOTS	2
#define BS_NCOPIES	2

/* Error codes (negative); bs_strerror() words them for an admin. */
#define BS_ERR_IO	-1	/* a read, write or sync failed (errno kept) */
#define BS_ERR_FORMAT	-2	/* not a GRUB environment block, or a bad line */
#define BS_ERR_NOSTATE	-3	/* neither copy is whole */
#define BS_ERR_ARG	-4	/* a slot name or value out of range */
#define BS_ERR_SPACE	-5	/* the state does not fit in a block */

/** One slot's boot state. */
struct bs_slot {
	bool	ok;		/**< X_OK: bootable (installed and not bad) */
	unsigned tries;		/**< X_TRY: boot attempts not yet marked good */
};

/** The whole boot state; slot 0 is "A", slot 1 is "B". */
struct bs_state {
	uint64_t	seq;		/**< KG_SEQ: raised by every change */
	int		order[BS_NSLOTS];/**< ORDER: slot indexes, first = primary */
	struct bs_slot	slot[BS_NSLOTS];
};

/** What reading one copy found. */
enum bs_copy_status {
	BS_COPY_GOOD = 0,	/**< lock reads 0, grubenv parses */
	BS_COPY_EDITING,	/**< lock reads 1: a write did not finish */
	BS_COPY_BADLOCK,	/**< lock missing or unreadable */
	BS_COPY_BADENV,		/**< grubenv missing, unreadable or malformed */
};

/** Where and how the copies are read and written; tests replace the I/O. */
struct bs_io {
	/** Reads a whole file of at most \p cap bytes; returns its length or
	 *  -1 (errno set). */
	long	(*read_file)(void *ctx, const char *path, uint8_t *buf, size_t cap);
	/** Overwrites a file with \p len bytes from offset 0 and makes it
	 *  durable (data and size) before returning 0; -1 on error. */
	int	(*write_sync)(void *ctx, const char *path, const uint8_t *buf, size_t len);
	/** Makes a folder (created if missing) and its entries durable; 0 or -1. */
	int	(*sync_dir)(void *ctx, const char *path);
	void	*ctx;
};

/** The real file system I/O (open/pwrite/fsync). */
extern const struct bs_io bs_posix_io;

/**
 * \brief Parses a GRUB environment block.
 *
 * Calls \p fn for every name=value line (GRUB's backslash escapes undone).
 * \return 0, or BS_ERR_FORMAT when the signature is missing or a line has no
 *         '=' before the padding.
 */
int bs_envblk_parse(const uint8_t *blk, size_t len,
    void (*fn)(void *arg, const char *name, const char *value), void *arg);

/**
 * \brief Formats name=value pairs into a 1024-byte GRUB environment block.
 *
 * \param names, values  \p n pairs; names and values are [A-Za-z0-9_ ]
 * \return 0, BS_ERR_ARG for a character GRUB would need escaped, or
 *         BS_ERR_SPACE when they do not fit.
 */
int bs_envblk_format(uint8_t blk[BS_ENVBLK_SIZE], const char *const *names,
    const char *const *values, size_t n);

/** \brief The state a new image starts with: ORDER "A B", A good, B not. */
void bs_state_default(struct bs_state *st);

/**
 * \brief Reads one copy (1 or 2) of the state under \p dir.
 * \return its status; \p st is filled only for BS_COPY_GOOD.
 */
enum bs_copy_status bs_read_copy(const struct bs_io *io, const char *dir,
    int copy, struct bs_state *st);

/**
 * \brief Reads the state the way GRUB's script does: the usable copy with
 *        the higher KG_SEQ, copy 1 on a tie.
 *
 * \param chosen  set to the copy used (1 or 2), may be NULL
 * \param status  each copy's status, may be NULL
 * \return 0, or BS_ERR_NOSTATE when neither copy is usable.
 */
int bs_load(const struct bs_io *io, const char *dir, struct bs_state *st,
    int *chosen, enum bs_copy_status status[BS_NCOPIES]);

/**
 * \brief Writes \p st to both copies, the one not in use first, each as
 *        lock=1, grubenv, lock=0 with every write synced.
 *
 * The caller sets st->seq (bs_update() raises it).  On error the copies
 * written so far stay as they are; the reader still finds a whole one.
 */
int bs_store(const struct bs_io *io, const char *dir, const struct bs_state *st);

/**
 * \brief Creates both copies from \p st (first installation, or repair of
 *        a folder whose files are missing).
 */
int bs_create(const struct bs_io *io, const char *dir, const struct bs_state *st);

/**
 * \brief Loads the state, lets \p change modify it, raises KG_SEQ and
 *        stores it.  The read-modify-write of every state-changing command.
 */
int bs_update(const struct bs_io *io, const char *dir,
    int (*change)(struct bs_state *st, void *arg), void *arg);

/**
 * \brief Rewrites a copy that is not whole or lags behind from the one
 *        chosen (run once per boot).
 * \param repaired  set to how many copies were rewritten, may be NULL
 */
int bs_repair(const struct bs_io *io, const char *dir, int *repaired);

/** \brief 'A' or 'B' to 0 or 1 (case ignored); -1 otherwise. */
int bs_slot_index(const char *name);

/** \brief 0 or 1 to "A" or "B". */
const char *bs_slot_name(int idx);

/**
 * \brief The slot GRUB boots next and why, by the same rule as its script:
 *        the first in ORDER with X_OK and X_TRY below BS_MAX_TRIES.
 * \return the slot index, or -1 when none qualifies (GRUB then boots the
 *         primary anyway rather than nothing).
 */
int bs_next_boot(const struct bs_state *st);

/** \brief Words for an error code. */
const char *bs_strerror(int err);

/** \brief Words for a copy status. */
const char *bs_copy_strstatus(enum bs_copy_status s);

#endif
