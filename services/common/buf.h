/*
 * buf.h - a bounded byte buffer for connection I/O.
 *
 * Unread bytes are data[off .. off+len); cap bytes are allocated; cap never
 * exceeds max.  An empty buffer can give its storage back
 * (kg_buf_release()), so an idle connection costs no buffer memory.
 *
 * Bytes are wiped whenever the buffer lets go of them: consumed bytes,
 * the stale tail left by compaction, the old block when growing, and the
 * whole block on release or free.  A buffer may therefore carry secrets
 * (Authorization headers, IPC payloads with tokens).
 *
 * Initialise with kg_buf_init() (or zero it and set max).
 */
#ifndef KG_BUF_H
#define KG_BUF_H

#include <stddef.h>
#include <stdint.h>

struct kg_buf {
	uint8_t	*data;	/**< storage, NULL when released */
	size_t	 off;	/**< offset of the first unread byte */
	size_t	 len;	/**< number of unread bytes */
	size_t	 cap;	/**< bytes allocated */
	size_t	 max;	/**< hard limit on cap (and so on len) */
	size_t	 hwm;	/**< bytes of data[] that ever held committed data:
			     what release and free wipe (consume and compact
			     wipe as they go; space not committed is not
			     tracked, so commit what you write) */
};

/** Smallest allocation a buffer makes. */
#define KG_BUF_MIN_ALLOC 256

/**
 * \brief          Initialise an empty buffer; allocates nothing.
 *
 * \param b        the buffer.
 * \param max      most bytes it may ever hold.
 */
void kg_buf_init(struct kg_buf *b, size_t max);

/**
 * \brief          Append bytes, all or nothing.
 *
 * \param b        the buffer.
 * \param p        bytes to append (may be NULL if n is 0).
 * \param n        how many.
 *
 * \return         KG_OK, KG_ERR_TOOBIG if len + n would exceed max
 *                 (nothing is appended), or KG_ERR_NOMEM.
 */
int kg_buf_append(struct kg_buf *b, const void *p, size_t n);

/**
 * \brief          Make room at the end for a read; follow with
 *                 kg_buf_commit().  Compacts or grows (up to max) as needed.
 *
 * \param b        the buffer.
 * \param want     bytes wanted (> 0); fewer may be offered near max.
 * \param ptr      receives where to write.
 * \param avail    receives how many bytes may be written: at least
 *                 min(want, max - len), and at least 1.
 *
 * \return         KG_OK, KG_ERR_TOOBIG if the buffer already holds max
 *                 bytes, KG_ERR_INVAL if want is 0, or KG_ERR_NOMEM.
 */
int kg_buf_space(struct kg_buf *b, size_t want, uint8_t **ptr, size_t *avail);

/**
 * \brief          Mark n bytes written after kg_buf_space() as data.
 *
 * \param b        the buffer.
 * \param n        bytes written; at most the avail that kg_buf_space()
 *                 returned (larger values are clamped to the free space).
 */
void kg_buf_commit(struct kg_buf *b, size_t n);

/** \return a pointer to the first unread byte (NULL if none allocated). */
static inline uint8_t *
kg_buf_data(const struct kg_buf *b)
{
	return b->data != NULL ? b->data + b->off : NULL;
}

/** \return the number of unread bytes. */
static inline size_t
kg_buf_len(const struct kg_buf *b)
{
	return b->len;
}

/**
 * \brief          Drop n bytes from the front and wipe them.
 *
 * \param b        the buffer.
 * \param n        bytes to drop; values above len drop everything.
 */
void kg_buf_consume(struct kg_buf *b, size_t n);

/**
 * \brief          Move the unread bytes to the start of the storage and wipe
 *                 what they leave behind.  Done by kg_buf_space() when
 *                 useful; call it directly only to reclaim the front.
 */
void kg_buf_compact(struct kg_buf *b);

/**
 * \brief          If the buffer is empty, wipe and free its storage.  Cheap;
 *                 call it whenever a connection goes idle.
 *
 * \return         1 if storage was freed, 0 if not (data remains or none
 *                 was allocated).
 */
int kg_buf_release(struct kg_buf *b);

/**
 * \brief          Wipe and free the storage, discarding any data.  The
 *                 buffer stays usable (empty, same max).
 */
void kg_buf_free(struct kg_buf *b);

#endif /* KG_BUF_H */
