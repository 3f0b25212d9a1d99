/*
 * fuzz_ipc.c - arbitrary bytes through the IPC frame reader and the TLV
 * parser.
 *
 * Input: byte 0 picks how the stream is cut into feeds (0: as big as the
 * reader takes, n: n bytes at a time, like short reads); the rest is the
 * stream.  Every frame's payload is walked as TLV twice: generically, where
 * a fully valid payload must re-encode to the same bytes, and with typed
 * getters chosen by tag.  Every frame must also survive the writer queue
 * unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "tlv.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
walk_generic(const uint8_t *p, size_t n)
{
	struct kg_tlv_reader r;
	struct kg_tlv_writer w;
	const uint8_t *v, *out;
	size_t vlen, outlen;
	int tag;

	kg_tlv_reader_init(&r, p, n);
	kg_tlv_writer_init(&w);
	while ((tag = kg_tlv_peek(&r)) > 0) {
		if (kg_tlv_get_bytes(&r, (uint16_t)tag, &v, &vlen) != KG_OK)
			abort();	/* peek said it was whole */
		if (v < p || vlen > n || v + vlen > p + n)
			abort();
		kg_tlv_put_bytes(&w, (uint16_t)tag, v, vlen);
	}
	if (kg_tlv_end(&r) == KG_OK) {
		if (kg_tlv_writer_data(&w, &out, &outlen) != KG_OK ||
		    outlen != n || (n > 0 && memcmp(out, p, n) != 0))
			abort();
	}
	kg_tlv_writer_free(&w);
}

static void
walk_typed(const uint8_t *p, size_t n)
{
	struct kg_tlv_reader r;
	const uint8_t *v;
	char s[64];
	uint64_t u64;
	uint32_t u32;
	size_t vlen;
	int tag, rc = KG_OK;

	kg_tlv_reader_init(&r, p, n);
	while (rc == KG_OK && (tag = kg_tlv_peek(&r)) > 0) {
		switch (tag % 4) {
		case 0: rc = kg_tlv_get_u32(&r, (uint16_t)tag, &u32); break;
		case 1: rc = kg_tlv_get_u64(&r, (uint16_t)tag, &u64); break;
		case 2:
			rc = kg_tlv_get_string(&r, (uint16_t)tag, s, sizeof(s));
			if (rc == KG_OK && strlen(s) >= sizeof(s))
				abort();
			break;
		default: rc = kg_tlv_get_bytes(&r, (uint16_t)tag, &v, &vlen); break;
		}
	}
	(void)kg_tlv_end(&r);
}

static void
check_frame(const struct kg_ipc_frame *f)
{
	struct kg_ipc_writer w;
	struct kg_ipc_hdr h;

	if (f->len > KG_IPC_MAX_PAYLOAD || f->flags != 0 ||
	    (f->len > 0) != (f->payload != NULL))
		abort();
	walk_generic(f->payload, f->len);
	walk_typed(f->payload, f->len);

	kg_ipc_writer_init(&w, KG_IPC_MAX_FRAME);
	if (kg_ipc_queue(&w, f->type, f->id, f->payload, f->len) != KG_OK ||
	    kg_ipc_queued(&w) != KG_IPC_HDR_LEN + f->len)
		abort();
	memcpy(&h, kg_buf_data(&w.buf), sizeof(h));
	if (h.len != f->len || h.type != f->type || h.id != f->id ||
	    h.flags != 0 || (f->len > 0 && memcmp(kg_buf_data(&w.buf) +
	    KG_IPC_HDR_LEN, f->payload, f->len) != 0))
		abort();
	kg_ipc_writer_free(&w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kg_ipc_reader r;
	struct kg_ipc_frame f;
	size_t off = 1, chunk, n, room;
	int rc = 0;

	if (size == 0)
		return 0;
	chunk = data[0] == 0 ? SIZE_MAX : data[0];
	kg_ipc_reader_init(&r);
	while (off < size && rc >= 0) {
		room = r.buf.max - kg_buf_len(&r.buf);
		n = size - off;
		if (n > chunk)
			n = chunk;
		if (n > room)
			n = room;
		/* Drained after every feed, so room is never 0. */
		if (kg_ipc_feed(&r, data + off, n) != KG_OK)
			abort();
		off += n;
		while ((rc = kg_ipc_next(&r, &f)) == 1)
			check_frame(&f);
	}
	if (rc == 0 && off == size && kg_buf_len(&r.buf) >= KG_IPC_MAX_FRAME)
		abort();
	kg_ipc_reader_free(&r);
	return 0;
}
