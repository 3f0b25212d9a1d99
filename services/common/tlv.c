/*
 * tlv.c - bounds-checked TLV writer and reader for IPC payloads.
 */
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "tlv.h"
#include "util.h"

void
kg_tlv_writer_init(struct kg_tlv_writer *w)
{
	kg_buf_init(&w->buf, KG_IPC_MAX_PAYLOAD);
	w->error = KG_OK;
}

int
kg_tlv_put_bytes(struct kg_tlv_writer *w, uint16_t tag, const void *p,
    size_t n)
{
	uint8_t hdr[KG_TLV_HDR_LEN], *dst;
	uint32_t len32;
	size_t avail;
	int rc;

	if (w->error != KG_OK)
		return w->error;
	if (tag == 0)
		return w->error = KG_ERR_INVAL;
	if (n > w->buf.max - w->buf.len ||
	    KG_TLV_HDR_LEN > w->buf.max - w->buf.len - n)
		return w->error = KG_ERR_TOOBIG;
	rc = kg_buf_space(&w->buf, KG_TLV_HDR_LEN + n, &dst, &avail);
	if (rc != KG_OK)
		return w->error = rc;
	len32 = (uint32_t)n;
	memcpy(hdr, &tag, sizeof(tag));
	memcpy(hdr + sizeof(tag), &len32, sizeof(len32));
	memcpy(dst, hdr, sizeof(hdr));
	if (n > 0)
		memcpy(dst + sizeof(hdr), p, n);
	kg_buf_commit(&w->buf, KG_TLV_HDR_LEN + n);
	return KG_OK;
}

int
kg_tlv_put_u32(struct kg_tlv_writer *w, uint16_t tag, uint32_t v)
{
	return kg_tlv_put_bytes(w, tag, &v, sizeof(v));
}

int
kg_tlv_put_u64(struct kg_tlv_writer *w, uint16_t tag, uint64_t v)
{
	return kg_tlv_put_bytes(w, tag, &v, sizeof(v));
}

int
kg_tlv_put_string(struct kg_tlv_writer *w, uint16_t tag, const char *s)
{
	if (s == NULL) {
		if (w->error == KG_OK)
			w->error = KG_ERR_INVAL;
		return w->error;
	}
	return kg_tlv_put_bytes(w, tag, s, strlen(s));
}

int
kg_tlv_writer_data(const struct kg_tlv_writer *w, const uint8_t **p,
    size_t *n)
{
	if (w->error != KG_OK)
		return w->error;
	*p = kg_buf_data(&w->buf);
	*n = kg_buf_len(&w->buf);
	return KG_OK;
}

void
kg_tlv_writer_free(struct kg_tlv_writer *w)
{
	kg_buf_free(&w->buf);
	w->error = KG_OK;
}

void
kg_tlv_reader_init(struct kg_tlv_reader *r, const void *p, size_t n)
{
	r->p = p;
	r->left = n;
	r->error = KG_OK;
}

/* Parses the item header at r->p without consuming; checks the value fits. */
static int
tlv_item(const struct kg_tlv_reader *r, uint16_t *tag, size_t *len)
{
	uint32_t len32;

	if (r->error != KG_OK)
		return r->error;
	if (r->left < KG_TLV_HDR_LEN)
		return KG_ERR_PROTO;
	memcpy(tag, r->p, sizeof(*tag));
	memcpy(&len32, r->p + sizeof(*tag), sizeof(len32));
	if (*tag == 0 || len32 > r->left - KG_TLV_HDR_LEN)
		return KG_ERR_PROTO;
	*len = len32;
	return KG_OK;
}

int
kg_tlv_peek(const struct kg_tlv_reader *r)
{
	uint16_t tag;
	size_t len;
	int rc;

	if (r->error == KG_OK && r->left == 0)
		return 0;
	if ((rc = tlv_item(r, &tag, &len)) != KG_OK)
		return rc;
	return tag;
}

int
kg_tlv_get_bytes(struct kg_tlv_reader *r, uint16_t tag, const uint8_t **p,
    size_t *n)
{
	uint16_t got;
	size_t len;
	int rc;

	if ((rc = tlv_item(r, &got, &len)) != KG_OK)
		return r->error = rc;
	if (got != tag)
		return r->error = KG_ERR_PROTO;
	*p = r->p + KG_TLV_HDR_LEN;
	*n = len;
	r->p += KG_TLV_HDR_LEN + len;
	r->left -= KG_TLV_HDR_LEN + len;
	return KG_OK;
}

/* A value of exactly n bytes. */
static int
tlv_get_fixed(struct kg_tlv_reader *r, uint16_t tag, void *v, size_t n)
{
	const uint8_t *p;
	size_t len;
	int rc;

	if ((rc = kg_tlv_get_bytes(r, tag, &p, &len)) != KG_OK)
		return rc;
	if (len != n)
		return r->error = KG_ERR_PROTO;
	memcpy(v, p, n);
	return KG_OK;
}

int
kg_tlv_get_u32(struct kg_tlv_reader *r, uint16_t tag, uint32_t *v)
{
	return tlv_get_fixed(r, tag, v, sizeof(*v));
}

int
kg_tlv_get_u64(struct kg_tlv_reader *r, uint16_t tag, uint64_t *v)
{
	return tlv_get_fixed(r, tag, v, sizeof(*v));
}

int
kg_tlv_get_string(struct kg_tlv_reader *r, uint16_t tag, char *out,
    size_t outsz)
{
	const uint8_t *p;
	size_t len;
	int rc;

	if ((rc = kg_tlv_get_bytes(r, tag, &p, &len)) != KG_OK)
		return rc;
	if (len > 0 && memchr(p, '\0', len) != NULL)
		return r->error = KG_ERR_PROTO;
	if (len >= outsz)
		return r->error = KG_ERR_TOOBIG;
	if (len > 0)
		memcpy(out, p, len);
	out[len] = '\0';
	return KG_OK;
}

int
kg_tlv_end(const struct kg_tlv_reader *r)
{
	if (r->error != KG_OK)
		return r->error;
	return r->left == 0 ? KG_OK : KG_ERR_PROTO;
}

int
kg_tlv_writer_take(struct kg_tlv_writer *w, uint8_t **out, size_t *outlen)
{
	const uint8_t *p = NULL;
	size_t n = 0;
	int rc;

	if ((rc = kg_tlv_writer_data(w, &p, &n)) < 0) {
		kg_tlv_writer_free(w);
		return rc;
	}
	if ((*out = malloc(n ? n : 1)) == NULL) {
		kg_tlv_writer_free(w);
		return KG_ERR_NOMEM;
	}
	if (n > 0)
		memcpy(*out, p, n);
	*outlen = n;
	kg_tlv_writer_free(w);
	return KG_OK;
}
