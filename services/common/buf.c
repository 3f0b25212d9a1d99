/*
 * buf.c - bounded byte buffer that wipes what it lets go of.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "util.h"

void
kg_buf_init(struct kg_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

/* Only the bytes that held data need wiping, not the whole allocation. */
static void
note_hwm(struct kg_buf *b)
{
	if (b->off + b->len > b->hwm)
		b->hwm = b->off + b->len;
}

void
kg_buf_compact(struct kg_buf *b)
{
	if (b->off == 0)
		return;
	memmove(b->data, b->data + b->off, b->len);
	/* [len, off + len) held bytes now copied or consumed. */
	kg_zero(b->data + b->len, b->off);
	b->off = 0;
}

/* Grows the block to newcap with malloc+copy: realloc would leave the old
 * block unwiped. */
static int
kg_buf_grow(struct kg_buf *b, size_t newcap)
{
	uint8_t *p;

	if ((p = malloc(newcap)) == NULL)
		return KG_ERR_NOMEM;
	if (b->len > 0)
		memcpy(p, b->data + b->off, b->len);
	kg_freezero(b->data, b->hwm);
	b->data = p;
	b->cap = newcap;
	b->off = 0;
	b->hwm = b->len;
	return KG_OK;
}

int
kg_buf_space(struct kg_buf *b, size_t want, uint8_t **ptr, size_t *avail)
{
	size_t room = b->max - b->len, newcap;
	int rc;

	if (want == 0)
		return KG_ERR_INVAL;
	if (room == 0)
		return KG_ERR_TOOBIG;
	if (want > room)
		want = room;

	if (b->cap - b->off - b->len < want && b->off > 0)
		kg_buf_compact(b);
	if (b->cap - b->len < want) {
		newcap = b->cap * 2;
		if (newcap < b->len + want)
			newcap = b->len + want;
		if (newcap < KG_BUF_MIN_ALLOC)
			newcap = KG_BUF_MIN_ALLOC;
		if (newcap > b->max)
			newcap = b->max;
		/* At max already: what is left is all there is. */
		if (newcap > b->cap && (rc = kg_buf_grow(b, newcap)) != KG_OK)
			return rc;
	}
	*ptr = b->data + b->off + b->len;
	*avail = b->cap - b->off - b->len;
	return KG_OK;
}

void
kg_buf_commit(struct kg_buf *b, size_t n)
{
	size_t free_tail = b->cap - b->off - b->len;

	b->len += n < free_tail ? n : free_tail;
	note_hwm(b);
}

int
kg_buf_append(struct kg_buf *b, const void *p, size_t n)
{
	uint8_t *dst;
	size_t avail;
	int rc;

	if (n == 0)
		return KG_OK;
	if (n > b->max - b->len)
		return KG_ERR_TOOBIG;
	if ((rc = kg_buf_space(b, n, &dst, &avail)) != KG_OK)
		return rc;
	memcpy(dst, p, n);
	b->len += n;
	note_hwm(b);
	return KG_OK;
}

void
kg_buf_consume(struct kg_buf *b, size_t n)
{
	if (n > b->len)
		n = b->len;
	if (n == 0)
		return;
	kg_zero(b->data + b->off, n);
	b->off += n;
	b->len -= n;
	if (b->len == 0)
		b->off = 0;
}

int
kg_buf_release(struct kg_buf *b)
{
	if (b->len != 0 || b->data == NULL)
		return 0;
	kg_freezero(b->data, b->hwm);
	b->data = NULL;
	b->cap = b->off = b->hwm = 0;
	return 1;
}

void
kg_buf_free(struct kg_buf *b)
{
	kg_freezero(b->data, b->hwm);
	b->data = NULL;
	b->cap = b->off = b->len = b->hwm = 0;
}
