/*
 * fuzz_http_body: body framing fed in fuzzer-chosen pieces.
 *
 * Input: a mode byte (chunked, Content-Length, until close, none), for
 * Content-Length 4 bytes of length, a seed for the piece sizes, then the
 * body bytes.  The body is fed twice: in pieces, calling again while bytes
 * remain as the interface asks, and all at once.
 *
 * Invariants checked (abort() on violation):
 *  - consumed never exceeds what was offered, the sum never exceeds the
 *    input; payload spans lie within the bytes consumed by that call;
 *  - Content-Length yields exactly that many payload bytes when done, and
 *    raw == payload;
 *  - piecewise and one-shot feeding agree on the outcome, the raw bytes
 *    consumed (when done) and the payload;
 *  - with a trailer policy (mode byte 0x40: names starting with 'X' or
 *    'x' refused, as the relay refuses X-Kerbgate-*), a refused trailer
 *    is refused whatever the piece sizes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	int      rc;
	size_t   raw;
	size_t   payload_len;
	uint8_t *payload;
};

static uint32_t
next_rand(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

static int refuse_trailers;

static int
refuse_x(const char *name, size_t len)
{
	return len > 0 && (name[0] == 'X' || name[0] == 'x');
}

static void
run_body(const struct http_head *h, const uint8_t *in, size_t len,
    uint32_t seed, int one_shot, struct run *r)
{
	struct http_body b;
	size_t off = 0;

	http_body_init(&b, h);
	if (refuse_trailers)
		b.refuse_trailer = refuse_x;
	r->rc = HTTP_BODY_MORE;
	r->raw = 0;
	r->payload_len = 0;
	{
		/* An empty feed is legal and tells whether there is a body. */
		const char *d = (const char *)1;
		size_t c = 1, dl = 1;

		r->rc = http_body_feed(&b, (const char *)in, 0, &c, &d, &dl);
		if (c != 0 || dl != 0 || d != NULL)
			abort();
	}
	while (off < len && r->rc == HTTP_BODY_MORE) {
		size_t piece = one_shot ? len - off :
		    1 + next_rand(&seed) % (seed & 0x100 ? 3 : 64);
		size_t used = 0;

		if (piece > len - off)
			piece = len - off;
		while (used < piece) {
			const char *base = (const char *)in + off + used;
			const char *d = (const char *)1;
			size_t c = (size_t)-1, dl = (size_t)-1;

			r->rc = http_body_feed(&b, base, piece - used, &c, &d,
			    &dl);
			if (c > piece - used)
				abort();
			if (dl > 0 && (d < base || dl > c ||
			    (size_t)(d - base) > c - dl))
				abort();
			if (dl == 0 && d != NULL)
				abort();
			if (dl) {
				memcpy(r->payload + r->payload_len, d, dl);
				r->payload_len += dl;
			}
			used += c;
			r->raw += c;
			if (r->rc != HTTP_BODY_MORE)
				break;
			if (used < piece && c == 0)
				abort();	/* no progress, not done */
		}
		off += used;
		if (r->rc != HTTP_BODY_MORE)
			break;
	}
	if (r->raw > len || r->payload_len > r->raw)
		abort();
	if (r->rc < HTTP_E_LAST || r->rc > HTTP_BODY_DONE)
		abort();
	if (r->rc == HTTP_BODY_MORE && r->raw != len)
		abort();
	if (h->body == HTTP_BODY_LENGTH) {
		if (r->payload_len != r->raw)
			abort();
		if (r->rc == HTTP_BODY_DONE && r->raw != h->content_length)
			abort();
		if (r->rc == HTTP_BODY_MORE && r->raw >= h->content_length)
			abort();
	}
	if (h->body == HTTP_BODY_UNTIL_CLOSE && (r->rc != HTTP_BODY_MORE ||
	    http_body_eof(&b) != HTTP_BODY_DONE))
		abort();
	if (h->body == HTTP_BODY_NONE && (r->rc != HTTP_BODY_DONE ||
	    r->raw != 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_head h;
	struct run piecewise, whole;
	uint32_t seed;
	int ok;

	if (size < 2)
		return 0;
	memset(&h, 0, sizeof(h));
	refuse_trailers = (data[0] & 0x40) != 0;
	switch (data[0] % 8) {
	case 0: case 1: case 2: case 3:
		h.body = HTTP_BODY_CHUNKED;
		break;
	case 4: case 5:
		if (size < 6)
			return 0;
		h.body = HTTP_BODY_LENGTH;
		h.content_length = (uint64_t)data[1] | (uint64_t)data[2] << 8 |
		    (uint64_t)data[3] << 16 | (uint64_t)(data[4] & 0x7f) << 24;
		if (data[0] & 0x80)
			h.content_length <<= 31;  /* beyond 4 GiB */
		h.has_content_length = 1;
		data += 4;
		size -= 4;
		if (h.content_length == 0)
			h.body = HTTP_BODY_NONE;
		break;
	case 6:
		h.body = HTTP_BODY_UNTIL_CLOSE;
		break;
	default:
		h.body = HTTP_BODY_NONE;
		break;
	}
	seed = data[1];
	data += 2;
	size -= 2;

	piecewise.payload = malloc(size + 1);
	whole.payload = malloc(size + 1);
	if (piecewise.payload == NULL || whole.payload == NULL)
		abort();
	run_body(&h, data, size, seed, 0, &piecewise);
	run_body(&h, data, size, seed, 1, &whole);

	ok = piecewise.rc == whole.rc;
	if (ok && whole.rc >= 0) {
		ok = piecewise.raw == whole.raw &&
		    piecewise.payload_len == whole.payload_len &&
		    memcmp(piecewise.payload, whole.payload,
		    whole.payload_len) == 0;
	}
	free(piecewise.payload);
	free(whole.payload);
	if (!ok)
		abort();
	return 0;
}
