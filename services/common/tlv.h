/*
 * tlv.h - tag-length-value message bodies for IPC payloads.
 *
 * An item is: uint16 tag (1..65535; 0 is reserved), uint32 length, then
 * length bytes; host byte order, no alignment.  u32 and u64 items have
 * lengths 4 and 8 exactly; a string item is its bytes without a NUL and
 * must not contain one.
 *
 * A message is a sequence of items in the order its definition gives.
 * The reader checks every get against the remaining bytes: a wrong tag, a
 * wrong length, a truncated item or a NUL inside a string is KG_ERR_PROTO.
 * Errors are sticky on both sides, so a run of puts or gets can be checked
 * once at the end.
 */
#ifndef KG_TLV_H
#define KG_TLV_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define KG_TLV_HDR_LEN 6

/** Builds a payload in a kg_buf bounded by KG_IPC_MAX_PAYLOAD. */
struct kg_tlv_writer {
	struct kg_buf	buf;
	int		error;
};

/** Walks a payload it does not own. */
struct kg_tlv_reader {
	const uint8_t	*p;
	size_t		 left;
	int		 error;
};

/** \brief Initialise a writer; allocates nothing. */
void kg_tlv_writer_init(struct kg_tlv_writer *w);

/**
 * \brief          Append an item.  put_u32/put_u64/put_string are the typed
 *                 forms; put_string takes a NUL-terminated string.
 *
 * \param w        the writer.
 * \param tag      1..65535.
 * \param p, n     value bytes (p may be NULL if n is 0).
 *
 * \return         KG_OK, or the writer's sticky error: KG_ERR_INVAL (tag 0
 *                 or a NULL string), KG_ERR_TOOBIG
 *                 (payload would exceed KG_IPC_MAX_PAYLOAD), KG_ERR_NOMEM.
 */
int kg_tlv_put_bytes(struct kg_tlv_writer *w, uint16_t tag, const void *p,
    size_t n);
int kg_tlv_put_u32(struct kg_tlv_writer *w, uint16_t tag, uint32_t v);
int kg_tlv_put_u64(struct kg_tlv_writer *w, uint16_t tag, uint64_t v);
int kg_tlv_put_string(struct kg_tlv_writer *w, uint16_t tag, const char *s);

/**
 * \brief          The built payload, for kg_ipc_send() or kg_ipc_queue().
 *
 * \param w        the writer.
 * \param p        receives the payload (NULL if empty).
 * \param n        receives its length.
 *
 * \return         KG_OK or the sticky error (then *p and *n are not set).
 */
int kg_tlv_writer_data(const struct kg_tlv_writer *w, const uint8_t **p,
    size_t *n);

/** \brief Wipe and free the writer's storage; it may be reused. */
void kg_tlv_writer_free(struct kg_tlv_writer *w);

/**
 * \brief          Copy a finished writer's bytes into a new buffer the caller
 *                 owns, and free the writer (wiped) in every case.
 *
 * \return         KG_OK, the writer's sticky error, or KG_ERR_NOMEM.  Free
 *                 (wipe first if it held secrets) *out.
 */
int kg_tlv_writer_take(struct kg_tlv_writer *w, uint8_t **out, size_t *outlen);

/** \brief Start reading payload p of n bytes (it must outlive the reader). */
void kg_tlv_reader_init(struct kg_tlv_reader *r, const void *p, size_t n);

/**
 * \brief          Look at the next item's tag without consuming it, for
 *                 optional items.
 *
 * \return         the tag (1..65535), 0 at the end of the payload, or
 *                 KG_ERR_PROTO (a truncated item header, or tag 0).
 */
int kg_tlv_peek(const struct kg_tlv_reader *r);

/**
 * \brief          Take the next item, which must carry tag.
 *
 *                 get_bytes points into the payload; get_u32/get_u64 need
 *                 a value of exactly 4/8 bytes; get_string copies into
 *                 out (outsz bytes, NUL-terminated) and refuses values
 *                 containing NUL.
 *
 * \return         KG_OK; KG_ERR_PROTO (wrong tag, wrong length, truncated
 *                 or garbled item); KG_ERR_TOOBIG (get_string: value does
 *                 not fit out).  Errors are sticky.
 */
int kg_tlv_get_bytes(struct kg_tlv_reader *r, uint16_t tag,
    const uint8_t **p, size_t *n);
int kg_tlv_get_u32(struct kg_tlv_reader *r, uint16_t tag, uint32_t *v);
int kg_tlv_get_u64(struct kg_tlv_reader *r, uint16_t tag, uint64_t *v);
int kg_tlv_get_string(struct kg_tlv_reader *r, uint16_t tag, char *out,
    size_t outsz);

/**
 * \brief          Finish reading: every byte must have been consumed.
 *
 * \return         KG_OK, KG_ERR_PROTO (trailing bytes) or the sticky error.
 */
int kg_tlv_end(const struct kg_tlv_reader *r);

#endif /* KG_TLV_H */
