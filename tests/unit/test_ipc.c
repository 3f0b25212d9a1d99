/*
 * test_ipc.c - framed IPC over real socketpairs, the writer queue, and the
 * TLV payload helpers.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ipc.h"
#include "tlv.h"
#include "util.h"

struct pair {
	int tx, rx;
};

static void
set_nonblock(int fd)
{
	assert_int_not_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK),
	    -1);
}

static int
setup_pair(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));
	int sv[2];

	if (p == NULL || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return -1;
	p->tx = sv[0];
	p->rx = sv[1];
	set_nonblock(p->rx);
	*state = p;
	return 0;
}

static int
teardown_pair(void **state)
{
	struct pair *p = *state;

	if (p->tx >= 0)
		close(p->tx);
	if (p->rx >= 0)
		close(p->rx);
	free(p);
	return 0;
}

static void
wait_readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	assert_int_equal(poll(&pfd, 1, 5000), 1);
}

/* Reads until one frame is complete. */
static void
read_frame(struct kg_ipc_reader *r, int fd, struct kg_ipc_frame *f)
{
	int rc;

	while ((rc = kg_ipc_next(r, f)) == 0) {
		wait_readable(fd);
		assert_true(kg_ipc_read(r, fd) > 0);
	}
	assert_int_equal(rc, 1);
}

/* The wire form of a frame, built by hand to test the reader alone. */
static size_t
raw_frame(uint8_t *out, uint32_t len, uint16_t type, uint16_t flags,
    uint32_t id, const void *payload, size_t n)
{
	struct kg_ipc_hdr h = { .len = len, .type = type, .flags = flags, .id = id };

	memcpy(out, &h, sizeof(h));
	if (n > 0)
		memcpy(out + sizeof(h), payload, n);
	return sizeof(h) + n;
}

static void
test_sent_frame_arrives_with_type_id_and_payload(void **state)
{
	struct pair *p = *state;
	struct kg_ipc_reader r;
	struct kg_ipc_frame f;

	kg_ipc_reader_init(&r);
	assert_int_equal(kg_ipc_send(p->tx, 7, 0xdeadbeef, "hello", 5), KG_OK);
	read_frame(&r, p->rx, &f);
	assert_int_equal(f.type, 7);
	assert_int_equal(f.id, 0xdeadbeef);
	assert_int_equal(f.flags, 0);
	assert_int_equal(f.len, 5);
	assert_memory_equal(f.payload, "hello", 5);
	assert_int_equal(kg_ipc_next(&r, &f), 0);
	kg_ipc_reader_free(&r);
}

static void
test_empty_payload_arrives_as_null_with_length_zero(void **state)
{
	struct pair *p = *state;
	struct kg_ipc_reader r;
	struct kg_ipc_frame f;

	kg_ipc_reader_init(&r);
	assert_int_equal(kg_ipc_send(p->tx, 1, 2, NULL, 0), KG_OK);
	read_frame(&r, p->rx, &f);
	assert_int_equal(f.len, 0);
	assert_null(f.payload);
	kg_ipc_reader_free(&r);
}

static void
test_sendv_joins_two_buffers_into_one_payload(void **state)
{
	struct pair *p = *state;
	struct kg_ipc_reader r;
	struct kg_ipc_frame f;

	kg_ipc_reader_init(&r);
	assert_int_equal(kg_ipc_sendv(p->tx, 3, 4, "head", 4, "tail", 4), KG_OK);
	read_frame(&r, p->rx, &f);
	assert_int_equal(f.len, 8);
	assert_memory_equal(f.payload, "headtail", 8);
	kg_ipc_reader_free(&r);
}

static void
test_frame_written_one_byte_at_a_time_is_reassembled(void **state)
{
	struct pair *p = *state;
	struct kg_ipc_reader r;
	struct kg_ipc_frame f;
	uint8_t wire[64];
	size_t n, i;

	n = raw_frame(wire, 10, 9, 0, 42, "0123456789", 10);
	kg_ipc_reader_init(&r);
	for (i = 0; i < n; i++) {
		assert_int_equal(kg_ipc_next(&r, &f), 0);
		assert_int_equal(write(p->tx, wire + i, 1), 1);
		assert_int_equal(kg_ipc_read(&r, p->rx), 1);
	}
	assert_int_equal(kg_ipc_next(&r, &f), 1);
	assert_int_equal(f.id, 42);
	assert_memory_equal(f.payload, "0123456789", 10);
	kg_ipc_reader_free(&r);
}

static void
test_many_frames_in_one_read_are_all_returned_in_order(void **state)
{
	struct pair *p = *state;
	struct kg_ipc_reader r;
	struct kg_ipc_frame f;
	uint32_t i;

	kg_ipc_reader_init(&r);
	for (i = 0; i < 50; i++)
		assert_int_equal(kg_ipc_send(p->tx, 1, i, &i, sizeof(i)), KG_OK);
	assert_int_equal(kg_ipc_read(&r, p->rx), 50 * (KG_IPC_HDR_LEN + 4));
	for (i = 0; i < 50; i++) {
		assert_int_equal(kg_ipc_next(&r, &f), 1);
		assert_int_equal(f.id, i);
		assert_memory_equal(f.payload, &i, sizeof(i));
	}
	assert_int_equal(kg_ipc_next(&r, &f), 0);
	kg_ipc_reader_free(&r);
}

static void
test_header_alone_waits_for_its_payload(void **state)
{
	struct kg_ipc_reader r;
	struct kg_ipc_frame f;
	uint8_t wire[64];
	size_t n;

	n = raw_frame(wire, 5, 1, 0, 1, "abcde", 5);
	kg_ipc_reader_init(&r);
	assert_int_equal(kg_ipc_feed(&r, wire, KG_IPC_HDR_LEN + 4), KG_OK);
	assert_int_equal(kg_ipc_next(&r, &f), 0);
	assert_int_equal(kg_ipc_feed(&r, wire + n - 1, 1), KG_OK);
	assert_int_equal(kg_ipc_next(&r, &f), 1);
	kg_ipc_reader_free(&r);
}

static void
test_previous_frame_is_wiped_when_the_next_is_taken(void **state)
{
	struct kg_ipc_reader r;
	struct kg_ipc_frame f;
	uint8_t wire[64];
	const uint8_t *first;
	size_t n;

	kg_ipc_reader_init(&r);
	n = raw_frame(wire, 6, 1, 0, 1, "TOKEN!", 6);
	assert_int_equal(kg_ipc_feed(&r, wire, n), KG_OK);
	n = raw_frame(wire, 2, 1, 0, 2, "ok", 2);
	assert_int_equal(kg_ipc_feed(&r, wire, n), KG_OK);
	assert_int_equal(kg_ipc_next(&r, &f), 1);
	first = f.payload;
	assert_int_equal(kg_ipc_next(&r, &f), 1);
	/* The second frame is still buffered, so the first's memory is too. */
	assert_memory_equal(first, "\0\0\0\0\0\0", 6);
	kg_ipc_reader_free(&r);
}

static void
test_drained_reader_releases_its_buffer(void **state)
{
	struct pair *p = *state;
	struct kg_ipc_reader r;
	struct kg_ipc_frame f;

	kg_ipc_reader_init(&r);
	assert_int_equal(kg_ipc_send(p->tx, 1, 1, "x", 1), KG_OK);
	read_frame(&r, p->rx, &f);
	assert_non_null(r.buf.data);
	assert_int_equal(kg_ipc_next(&r, &f), 0);
	assert_null(r.buf.data);
}

static void
test_oversize_header_is_protocol_error_before_any_large_allocation(void **state)
{
	struct pair *p = *state;
	struct kg_ipc_reader r;
	struct kg_ipc_frame f;
	uint8_t wire[64];
	size_t n;

	n = raw_frame(wire, KG_IPC_MAX_PAYLOAD + 1, 1, 0, 1, "junk", 4);
	assert_int_equal(write(p->tx, wire, n), (ssize_t)n);
	kg_ipc_reader_init(&r);
	assert_int_equal(kg_ipc_read(&r, p->rx), (int)n);
	assert_true(r.buf.cap <= 16384);
	assert_int_equal(kg_ipc_next(&r, &f), KG_ERR_PROTO);
	assert_null(r.buf.data);
}

static void
test_length_of_four_gigabytes_is_protocol_error(void **state)
{
	struct kg_ipc_reader r;
	struct kg_ipc_frame f;
	uint8_t wire[64];

	kg_ipc_reader_init(&r);
	raw_frame(wire, UINT32_MAX, 1, 0, 1, NULL, 0);
	assert_int_equal(kg_ipc_feed(&r, wire, KG_IPC_HDR_LEN), KG_OK);
	assert_int_equal(kg_ipc_next(&r, &f), KG_ERR_PROTO);
}

static void
test_protocol_error_is_sticky_and_stops_reading(void **state)
{
	struct pair *p = *state;
	struct kg_ipc_reader r;
	struct kg_ipc_frame f;
	uint8_t wire[64];
	size_t n;

	kg_ipc_reader_init(&r);
	n = raw_frame(wire, KG_IPC_MAX_PAYLOAD + 1, 1, 0, 1, NULL, 0);
	assert_int_equal(kg_ipc_feed(&r, wire, n), KG_OK);
	assert_int_equal(kg_ipc_next(&r, &f), KG_ERR_PROTO);
	assert_int_equal(kg_ipc_send(p->tx, 1, 1, "ok", 2), KG_OK);
	assert_int_equal(kg_ipc_read(&r, p->rx), KG_ERR_PROTO);
	assert_int_equal(kg_ipc_next(&r, &f), KG_ERR_PROTO);
	assert_int_equal(kg_ipc_feed(&r, "x", 1), KG_ERR_PROTO);
	assert_null(r.buf.data);
}

static void
test_nonzero_flags_are_protocol_error(void **state)
{
	struct kg_ipc_reader r;
	struct kg_ipc_frame f;
	uint8_t wire[64];
	size_t n;

	kg_ipc_reader_init(&r);
	n = raw_frame(wire, 2, 1, 0x8000, 1, "ok", 2);
	assert_int_equal(kg_ipc_feed(&r, wire, n), KG_OK);
	assert_int_equal(kg_ipc_next(&r, &f), KG_ERR_PROTO);
}

static void
test_send_refuses_payload_over_maximum_and_sends_nothing(void **state)
{
	struct pair *p = *state;
	struct kg_ipc_reader r;
	static uint8_t big[KG_IPC_MAX_PAYLOAD + 1];

	assert_int_equal(kg_ipc_send(p->tx, 1, 1, big, sizeof(big)),
	    KG_ERR_TOOBIG);
	assert_int_equal(kg_ipc_sendv(p->tx, 1, 1, big, KG_IPC_MAX_PAYLOAD,
	    "x", 1), KG_ERR_TOOBIG);
	assert_int_equal(kg_ipc_sendv(p->tx, 1, 1, "x", 1, big, SIZE_MAX),
	    KG_ERR_TOOBIG);
	kg_ipc_reader_init(&r);
	assert_int_equal(kg_ipc_read(&r, p->rx), KG_ERR_AGAIN);
}

static void
test_read_with_nothing_available_returns_again(void **state)
{
	struct pair *p = *state;
	struct kg_ipc_reader r;

	kg_ipc_reader_init(&r);
	assert_int_equal(kg_ipc_read(&r, p->rx), KG_ERR_AGAIN);
	assert_null(r.buf.data);
}

static void
test_read_after_peer_closes_returns_closed(void **state)
{
	struct pair *p = *state;
	struct kg_ipc_reader r;

	close(p->tx);
	p->tx = -1;
	kg_ipc_reader_init(&r);
	assert_int_equal(kg_ipc_read(&r, p->rx), KG_ERR_CLOSED);
}

static void
test_send_to_closed_peer_returns_closed_without_sigpipe(void **state)
{
	struct pair *p = *state;

	close(p->rx);
	p->rx = -1;
	/* SIGPIPE's default action would kill the test. */
	assert_int_equal(kg_ipc_send(p->tx, 1, 1, "x", 1), KG_ERR_CLOSED);
}

static void
test_send_on_nonblocking_socket_still_writes_a_maximum_frame(void **state)
{
	struct pair *p = *state;
	struct kg_ipc_reader r;
	struct kg_ipc_frame f;
	uint8_t *big;
	size_t i;
	pid_t pid;
	int status;

	assert_non_null(big = malloc(KG_IPC_MAX_PAYLOAD));
	for (i = 0; i < KG_IPC_MAX_PAYLOAD; i++)
		big[i] = (uint8_t)(i * 7);
	if ((pid = fork()) == 0) {
		set_nonblock(p->tx);
		_exit(kg_ipc_send(p->tx, 5, 6, big, KG_IPC_MAX_PAYLOAD) == KG_OK ?
		    0 : 1);
	}
	assert_true(pid > 0);
	kg_ipc_reader_init(&r);
	read_frame(&r, p->rx, &f);
	assert_int_equal(f.len, KG_IPC_MAX_PAYLOAD);
	assert_memory_equal(f.payload, big, KG_IPC_MAX_PAYLOAD);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	kg_ipc_reader_free(&r);
	free(big);
}

static void
test_writer_queue_survives_full_socket_buffer_and_delivers_in_order(
    void **state)
{
	struct pair *p = *state;
	struct kg_ipc_writer w;
	struct kg_ipc_reader r;
	struct kg_ipc_frame f;
	uint8_t payload[1000];
	uint32_t i, got = 0;
	int small = 4096, more, rc;

	set_nonblock(p->tx);
	assert_int_equal(setsockopt(p->tx, SOL_SOCKET, SO_SNDBUF, &small,
	    sizeof(small)), 0);
	kg_ipc_writer_init(&w, 4 * KG_IPC_MAX_FRAME);
	kg_ipc_reader_init(&r);
	for (i = 0; i < 200; i++) {
		memset(payload, (int)i, sizeof(payload));
		assert_int_equal(kg_ipc_queue(&w, 2, i, payload, sizeof(payload)),
		    KG_OK);
	}
	more = kg_ipc_flush(&w, p->tx);
	assert_int_equal(more, 1);
	assert_true(kg_ipc_queued(&w) > 0);

	while (got < 200) {
		wait_readable(p->rx);
		assert_true(kg_ipc_read(&r, p->rx) > 0);
		while ((rc = kg_ipc_next(&r, &f)) == 1) {
			assert_int_equal(f.id, got);
			memset(payload, (int)got, sizeof(payload));
			assert_memory_equal(f.payload, payload, sizeof(payload));
			got++;
		}
		assert_int_equal(rc, 0);
		if (more == 1)
			assert_true((more = kg_ipc_flush(&w, p->tx)) >= 0);
	}
	assert_int_equal(more, 0);
	assert_int_equal(kg_ipc_queued(&w), 0);
	assert_null(w.buf.data);
	kg_ipc_reader_free(&r);
}

static void
test_writer_refuses_frame_over_queue_limit_whole(void **state)
{
	struct kg_ipc_writer w;

	kg_ipc_writer_init(&w, 2 * (KG_IPC_HDR_LEN + 10));
	assert_int_equal(kg_ipc_queue(&w, 1, 1, "0123456789", 10), KG_OK);
	assert_int_equal(kg_ipc_queue(&w, 1, 2, "0123456789x", 11),
	    KG_ERR_TOOBIG);
	assert_int_equal(kg_ipc_queued(&w), KG_IPC_HDR_LEN + 10);
	assert_int_equal(kg_ipc_queue(&w, 1, 2, "0123456789", 10), KG_OK);
	kg_ipc_writer_free(&w);
}

static void
test_writer_refuses_payload_over_maximum(void **state)
{
	struct kg_ipc_writer w;
	static uint8_t big[KG_IPC_MAX_PAYLOAD + 1];

	kg_ipc_writer_init(&w, 4 * KG_IPC_MAX_FRAME);
	assert_int_equal(kg_ipc_queue(&w, 1, 1, big, sizeof(big)),
	    KG_ERR_TOOBIG);
	assert_int_equal(kg_ipc_queued(&w), 0);
}

static void
test_flush_of_empty_queue_reports_nothing_left(void **state)
{
	struct pair *p = *state;
	struct kg_ipc_writer w;

	kg_ipc_writer_init(&w, 1024);
	assert_int_equal(kg_ipc_flush(&w, p->tx), 0);
}

static void
test_flush_to_closed_peer_returns_closed(void **state)
{
	struct pair *p = *state;
	struct kg_ipc_writer w;

	close(p->rx);
	p->rx = -1;
	kg_ipc_writer_init(&w, 1024);
	assert_int_equal(kg_ipc_queue(&w, 1, 1, "x", 1), KG_OK);
	assert_int_equal(kg_ipc_flush(&w, p->tx), KG_ERR_CLOSED);
	kg_ipc_writer_free(&w);
}

enum { T_STATUS = 1, T_EXPIRY, T_TOKEN, T_PRINCIPAL };

/* A payload with one item of each kind. */
static void
build_sample(struct kg_tlv_writer *w, const uint8_t **p, size_t *n)
{
	kg_tlv_writer_init(w);
	kg_tlv_put_u32(w, T_STATUS, 200);
	kg_tlv_put_u64(w, T_EXPIRY, 0x0102030405060708ULL);
	kg_tlv_put_bytes(w, T_TOKEN, "\x60\x82\x00", 3);
	kg_tlv_put_string(w, T_PRINCIPAL, "alice@EXAMPLE.COM");
	assert_int_equal(kg_tlv_writer_data(w, p, n), KG_OK);
}

/* Reads the sample back; returns the first error or kg_tlv_end()'s. */
static int
parse_sample(const uint8_t *p, size_t n)
{
	struct kg_tlv_reader r;
	const uint8_t *tok;
	char princ[64];
	uint64_t expiry;
	uint32_t status;
	size_t toklen;

	kg_tlv_reader_init(&r, p, n);
	kg_tlv_get_u32(&r, T_STATUS, &status);
	kg_tlv_get_u64(&r, T_EXPIRY, &expiry);
	kg_tlv_get_bytes(&r, T_TOKEN, &tok, &toklen);
	kg_tlv_get_string(&r, T_PRINCIPAL, princ, sizeof(princ));
	return kg_tlv_end(&r);
}

static void
test_tlv_items_round_trip(void **state)
{
	struct kg_tlv_writer w;
	struct kg_tlv_reader r;
	const uint8_t *p, *tok;
	char princ[64];
	uint64_t expiry;
	uint32_t status;
	size_t n, toklen;

	build_sample(&w, &p, &n);
	kg_tlv_reader_init(&r, p, n);
	assert_int_equal(kg_tlv_get_u32(&r, T_STATUS, &status), KG_OK);
	assert_int_equal(status, 200);
	assert_int_equal(kg_tlv_get_u64(&r, T_EXPIRY, &expiry), KG_OK);
	assert_true(expiry == 0x0102030405060708ULL);
	assert_int_equal(kg_tlv_get_bytes(&r, T_TOKEN, &tok, &toklen), KG_OK);
	assert_int_equal(toklen, 3);
	assert_memory_equal(tok, "\x60\x82\x00", 3);
	assert_int_equal(kg_tlv_get_string(&r, T_PRINCIPAL, princ,
	    sizeof(princ)), KG_OK);
	assert_string_equal(princ, "alice@EXAMPLE.COM");
	assert_int_equal(kg_tlv_end(&r), KG_OK);
	kg_tlv_writer_free(&w);
}

static void
test_tlv_every_truncation_is_protocol_error(void **state)
{
	struct kg_tlv_writer w;
	const uint8_t *p;
	size_t n, cut;

	build_sample(&w, &p, &n);
	for (cut = 0; cut < n; cut++)
		assert_int_equal(parse_sample(p, cut), KG_ERR_PROTO);
	assert_int_equal(parse_sample(p, n), KG_OK);
	kg_tlv_writer_free(&w);
}

static void
test_tlv_trailing_bytes_fail_at_end(void **state)
{
	struct kg_tlv_writer w;
	const uint8_t *p;
	size_t n;

	build_sample(&w, &p, &n);
	kg_tlv_put_u32(&w, T_STATUS, 1);
	assert_int_equal(kg_tlv_writer_data(&w, &p, &n), KG_OK);
	assert_int_equal(parse_sample(p, n), KG_ERR_PROTO);
	kg_tlv_writer_free(&w);
}

static void
test_tlv_unexpected_tag_is_protocol_error(void **state)
{
	struct kg_tlv_writer w;
	struct kg_tlv_reader r;
	const uint8_t *p;
	uint32_t v;
	size_t n;

	kg_tlv_writer_init(&w);
	kg_tlv_put_u32(&w, T_EXPIRY, 1);
	assert_int_equal(kg_tlv_writer_data(&w, &p, &n), KG_OK);
	kg_tlv_reader_init(&r, p, n);
	assert_int_equal(kg_tlv_get_u32(&r, T_STATUS, &v), KG_ERR_PROTO);
	kg_tlv_writer_free(&w);
}

static void
test_tlv_integer_of_wrong_width_is_protocol_error(void **state)
{
	struct kg_tlv_writer w;
	struct kg_tlv_reader r;
	const uint8_t *p;
	uint64_t v64;
	uint32_t v32;
	size_t n;

	kg_tlv_writer_init(&w);
	kg_tlv_put_u32(&w, T_EXPIRY, 1);
	kg_tlv_put_u64(&w, T_STATUS, 1);
	assert_int_equal(kg_tlv_writer_data(&w, &p, &n), KG_OK);
	kg_tlv_reader_init(&r, p, n);
	assert_int_equal(kg_tlv_get_u64(&r, T_EXPIRY, &v64), KG_ERR_PROTO);
	kg_tlv_reader_init(&r, p + KG_TLV_HDR_LEN + 4, n - KG_TLV_HDR_LEN - 4);
	assert_int_equal(kg_tlv_get_u32(&r, T_STATUS, &v32), KG_ERR_PROTO);
	kg_tlv_writer_free(&w);
}

static void
test_tlv_length_beyond_payload_is_protocol_error(void **state)
{
	struct kg_tlv_reader r;
	const uint8_t *v;
	uint8_t wire[16];
	uint16_t tag = T_TOKEN;
	uint32_t len = UINT32_MAX;
	size_t n;

	memcpy(wire, &tag, 2);
	memcpy(wire + 2, &len, 4);
	memset(wire + 6, 'a', 10);
	kg_tlv_reader_init(&r, wire, sizeof(wire));
	assert_int_equal(kg_tlv_peek(&r), KG_ERR_PROTO);
	assert_int_equal(kg_tlv_get_bytes(&r, T_TOKEN, &v, &n), KG_ERR_PROTO);
}

static void
test_tlv_string_with_embedded_nul_is_protocol_error(void **state)
{
	struct kg_tlv_writer w;
	struct kg_tlv_reader r;
	const uint8_t *p;
	char out[32];
	size_t n;

	kg_tlv_writer_init(&w);
	kg_tlv_put_bytes(&w, T_PRINCIPAL, "admin\0@EVIL", 11);
	assert_int_equal(kg_tlv_writer_data(&w, &p, &n), KG_OK);
	kg_tlv_reader_init(&r, p, n);
	assert_int_equal(kg_tlv_get_string(&r, T_PRINCIPAL, out, sizeof(out)),
	    KG_ERR_PROTO);
	kg_tlv_writer_free(&w);
}

static void
test_tlv_string_longer_than_buffer_is_too_big(void **state)
{
	struct kg_tlv_writer w;
	struct kg_tlv_reader r;
	const uint8_t *p;
	char out[8];
	size_t n;

	kg_tlv_writer_init(&w);
	kg_tlv_put_string(&w, T_PRINCIPAL, "12345678");
	assert_int_equal(kg_tlv_writer_data(&w, &p, &n), KG_OK);
	kg_tlv_reader_init(&r, p, n);
	assert_int_equal(kg_tlv_get_string(&r, T_PRINCIPAL, out, sizeof(out)),
	    KG_ERR_TOOBIG);
	kg_tlv_writer_free(&w);
}

static void
test_tlv_empty_string_round_trips(void **state)
{
	struct kg_tlv_writer w;
	struct kg_tlv_reader r;
	const uint8_t *p;
	char out[4] = "xyz";
	size_t n;

	kg_tlv_writer_init(&w);
	kg_tlv_put_string(&w, T_PRINCIPAL, "");
	assert_int_equal(kg_tlv_writer_data(&w, &p, &n), KG_OK);
	kg_tlv_reader_init(&r, p, n);
	assert_int_equal(kg_tlv_get_string(&r, T_PRINCIPAL, out, sizeof(out)),
	    KG_OK);
	assert_string_equal(out, "");
	kg_tlv_writer_free(&w);
}

static void
test_tlv_reader_errors_are_sticky(void **state)
{
	struct kg_tlv_writer w;
	struct kg_tlv_reader r;
	const uint8_t *p;
	uint32_t v;
	size_t n;

	kg_tlv_writer_init(&w);
	kg_tlv_put_u32(&w, T_STATUS, 1);
	kg_tlv_put_u32(&w, T_EXPIRY, 2);
	assert_int_equal(kg_tlv_writer_data(&w, &p, &n), KG_OK);
	kg_tlv_reader_init(&r, p, n);
	assert_int_equal(kg_tlv_get_u32(&r, T_EXPIRY, &v), KG_ERR_PROTO);
	assert_int_equal(kg_tlv_get_u32(&r, T_STATUS, &v), KG_ERR_PROTO);
	assert_int_equal(kg_tlv_end(&r), KG_ERR_PROTO);
	kg_tlv_writer_free(&w);
}

static void
test_tlv_peek_finds_optional_items_and_the_end(void **state)
{
	struct kg_tlv_writer w;
	struct kg_tlv_reader r;
	const uint8_t *p;
	uint32_t v;
	size_t n;

	kg_tlv_writer_init(&w);
	kg_tlv_put_u32(&w, T_STATUS, 1);
	assert_int_equal(kg_tlv_writer_data(&w, &p, &n), KG_OK);
	kg_tlv_reader_init(&r, p, n);
	assert_int_equal(kg_tlv_peek(&r), T_STATUS);
	assert_int_equal(kg_tlv_get_u32(&r, T_STATUS, &v), KG_OK);
	assert_int_equal(kg_tlv_peek(&r), 0);
	assert_int_equal(kg_tlv_end(&r), KG_OK);
	kg_tlv_writer_free(&w);
}

static void
test_tlv_tag_zero_is_refused_both_ways(void **state)
{
	struct kg_tlv_writer w;
	struct kg_tlv_reader r;
	const uint8_t *p;
	uint8_t wire[10] = { 0, 0, 4, 0, 0, 0, 1, 2, 3, 4 };
	size_t n;

	kg_tlv_writer_init(&w);
	assert_int_equal(kg_tlv_put_u32(&w, 0, 1), KG_ERR_INVAL);
	assert_int_equal(kg_tlv_writer_data(&w, &p, &n), KG_ERR_INVAL);
	kg_tlv_reader_init(&r, wire, sizeof(wire));
	assert_int_equal(kg_tlv_peek(&r), KG_ERR_PROTO);
	kg_tlv_writer_free(&w);
}

static void
test_tlv_writer_refuses_to_exceed_ipc_maximum(void **state)
{
	struct kg_tlv_writer w;
	const uint8_t *p;
	uint8_t *big;
	size_t n;

	assert_non_null(big = calloc(1, KG_IPC_MAX_PAYLOAD));
	kg_tlv_writer_init(&w);
	assert_int_equal(kg_tlv_put_bytes(&w, T_TOKEN, big,
	    KG_IPC_MAX_PAYLOAD - KG_TLV_HDR_LEN), KG_OK);
	assert_int_equal(kg_tlv_put_u32(&w, T_STATUS, 1), KG_ERR_TOOBIG);
	assert_int_equal(kg_tlv_writer_data(&w, &p, &n), KG_ERR_TOOBIG);
	kg_tlv_writer_free(&w);
	free(big);
}

#define PAIR_TEST(t) cmocka_unit_test_setup_teardown(t, setup_pair, teardown_pair)

/* ---------------------------------------------------------------- descriptors */

/* A descriptor and its tag arrive; the received copy works. */
static void
test_descriptor_is_handed_over_with_its_tag(void **state)
{
	int ctl[2], s[2], got;
	uint32_t tag;
	char c;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, ctl), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
	assert_int_equal(kg_ipc_recv_fd(ctl[1], &tag, &got), KG_ERR_AGAIN);
	assert_int_equal(kg_ipc_send_fd(ctl[0], 7, s[1]), KG_OK);
	close(s[1]);
	assert_int_equal(kg_ipc_recv_fd(ctl[1], &tag, &got), KG_OK);
	assert_int_equal(tag, 7);
	assert_true(got >= 0);
	assert_true(fcntl(got, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(write(got, "x", 1), 1);
	assert_int_equal(read(s[0], &c, 1), 1);
	assert_int_equal(c, 'x');
	close(got);
	close(s[0]);
	close(ctl[0]);
	assert_int_equal(kg_ipc_recv_fd(ctl[1], &tag, &got), KG_ERR_CLOSED);
	close(ctl[1]);
}

/* A message without a descriptor, or with two, is a protocol error. */
static void
test_message_without_exactly_one_descriptor_is_refused(void **state)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} cm;
	struct msghdr msg;
	struct cmsghdr *c;
	struct iovec iov;
	uint32_t tag = 1;
	int ctl[2], fds[2], got;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, ctl), 0);
	assert_int_equal(write(ctl[0], &tag, sizeof(tag)), (ssize_t)sizeof(tag));
	assert_int_equal(kg_ipc_recv_fd(ctl[1], &tag, &got), KG_ERR_PROTO);
	assert_int_equal(got, -1);

	fds[0] = dup(0);
	fds[1] = dup(0);
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = &tag;
	iov.iov_len = sizeof(tag);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(2 * sizeof(int));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	assert_int_equal(sendmsg(ctl[0], &msg, 0), (ssize_t)sizeof(tag));
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(kg_ipc_recv_fd(ctl[1], &tag, &got), KG_ERR_PROTO);
	assert_int_equal(got, -1);
	close(ctl[0]);
	close(ctl[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		PAIR_TEST(test_sent_frame_arrives_with_type_id_and_payload),
		PAIR_TEST(test_empty_payload_arrives_as_null_with_length_zero),
		PAIR_TEST(test_sendv_joins_two_buffers_into_one_payload),
		PAIR_TEST(test_frame_written_one_byte_at_a_time_is_reassembled),
		PAIR_TEST(test_many_frames_in_one_read_are_all_returned_in_order),
		cmocka_unit_test(test_header_alone_waits_for_its_payload),
		cmocka_unit_test(test_previous_frame_is_wiped_when_the_next_is_taken),
		PAIR_TEST(test_drained_reader_releases_its_buffer),
		PAIR_TEST(test_oversize_header_is_protocol_error_before_any_large_allocation),
		cmocka_unit_test(test_length_of_four_gigabytes_is_protocol_error),
		PAIR_TEST(test_protocol_error_is_sticky_and_stops_reading),
		cmocka_unit_test(test_nonzero_flags_are_protocol_error),
		PAIR_TEST(test_send_refuses_payload_over_maximum_and_sends_nothing),
		PAIR_TEST(test_read_with_nothing_available_returns_again),
		PAIR_TEST(test_read_after_peer_closes_returns_closed),
		PAIR_TEST(test_send_to_closed_peer_returns_closed_without_sigpipe),
		PAIR_TEST(test_send_on_nonblocking_socket_still_writes_a_maximum_frame),
		PAIR_TEST(test_writer_queue_survives_full_socket_buffer_and_delivers_in_order),
		cmocka_unit_test(test_writer_refuses_frame_over_queue_limit_whole),
		cmocka_unit_test(test_writer_refuses_payload_over_maximum),
		PAIR_TEST(test_flush_of_empty_queue_reports_nothing_left),
		PAIR_TEST(test_flush_to_closed_peer_returns_closed),
		cmocka_unit_test(test_tlv_items_round_trip),
		cmocka_unit_test(test_tlv_every_truncation_is_protocol_error),
		cmocka_unit_test(test_tlv_trailing_bytes_fail_at_end),
		cmocka_unit_test(test_tlv_unexpected_tag_is_protocol_error),
		cmocka_unit_test(test_tlv_integer_of_wrong_width_is_protocol_error),
		cmocka_unit_test(test_tlv_length_beyond_payload_is_protocol_error),
		cmocka_unit_test(test_tlv_string_with_embedded_nul_is_protocol_error),
		cmocka_unit_test(test_tlv_string_longer_than_buffer_is_too_big),
		cmocka_unit_test(test_tlv_empty_string_round_trips),
		cmocka_unit_test(test_tlv_reader_errors_are_sticky),
		cmocka_unit_test(test_tlv_peek_finds_optional_items_and_the_end),
		cmocka_unit_test(test_tlv_tag_zero_is_refused_both_ways),
		cmocka_unit_test(test_tlv_writer_refuses_to_exceed_ipc_maximum),
		cmocka_unit_test(test_descriptor_is_handed_over_with_its_tag),
		cmocka_unit_test(test_message_without_exactly_one_descriptor_is_refused),
	};

	return cmocka_run_group_tests_name("ipc", tests, NULL, NULL);
}
