/*
 * ipc.h - framed request/response IPC between kerbgate processes over
 * AF_UNIX SOCK_STREAM socketpairs (a tiny imsg).
 *
 * A frame is a 12-byte header in host byte order (both ends are on the same
 * machine and built together) followed by the payload:
 *
 *   uint32 len     payload bytes, at most KG_IPC_MAX_PAYLOAD
 *   uint16 type    message type, defined by the daemon
 *   uint16 flags   reserved: sent as 0, a non-zero value is a protocol error
 *   uint32 id      request id, echoed in the response
 *
 * A header announcing more than KG_IPC_MAX_PAYLOAD is a protocol error the
 * moment its 12 bytes arrive: the reader never allocates for it, and the
 * caller must drop the connection.  Payloads may carry tokens, so every
 * buffer that held one is wiped when it lets go of it (see buf.h).
 *
 * Build payloads with the TLV helpers in tlv.h, not by packing structs.
 */
#ifndef KG_IPC_H
#define KG_IPC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define KG_IPC_HDR_LEN		12
#define KG_IPC_MAX_PAYLOAD	(256 * 1024)
#define KG_IPC_MAX_FRAME	(KG_IPC_HDR_LEN + KG_IPC_MAX_PAYLOAD)

/** The wire header.  Compose and parse with memcpy, never by casting. */
struct kg_ipc_hdr {
	uint32_t len;
	uint16_t type;
	uint16_t flags;
	uint32_t id;
};

/** A received frame.  payload points into the reader's buffer. */
struct kg_ipc_frame {
	uint16_t	 type;
	uint16_t	 flags;
	uint32_t	 id;
	const uint8_t	*payload;	/**< NULL when len is 0 */
	size_t		 len;
};

/**
 * \brief          Send one frame, blocking until all of it is written.
 *                 Retries on EINTR and partial writes, waits with poll() if
 *                 fd is non-blocking, never raises SIGPIPE.
 *
 * \param fd       connected stream socket.
 * \param type     message type.
 * \param id       request id.
 * \param p        payload (may be NULL if n is 0).
 * \param n        payload length, at most KG_IPC_MAX_PAYLOAD.
 *
 * \return         KG_OK, KG_ERR_TOOBIG (nothing sent), KG_ERR_CLOSED (peer
 *                 gone) or KG_ERR_IO (errno set).
 */
int kg_ipc_send(int fd, uint16_t type, uint32_t id, const void *p, size_t n);

/**
 * \brief          As kg_ipc_send() with the payload gathered from two
 *                 buffers (p1 then p2), e.g. a fixed part and a blob.
 *
 * \return         as kg_ipc_send(); n1 + n2 is the limit checked.
 */
int kg_ipc_sendv(int fd, uint16_t type, uint32_t id, const void *p1,
    size_t n1, const void *p2, size_t n2);

/** Incremental non-blocking reader.  Initialise with kg_ipc_reader_init(). */
struct kg_ipc_reader {
	struct kg_buf	buf;
	size_t		pending;	/**< bytes of the frame last returned */
	int		error;		/**< sticky KG_ERR_PROTO */
};

/** \brief Initialise a reader; allocates nothing. */
void kg_ipc_reader_init(struct kg_ipc_reader *r);

/**
 * \brief          Read what is available from fd (one read(2) call, retried
 *                 on EINTR).  After a successful call, call kg_ipc_next()
 *                 until it returns 0 before reading again.
 *
 * \param r        the reader.
 * \param fd       the socket, normally O_NONBLOCK.
 *
 * \return         bytes read (> 0), KG_ERR_AGAIN (nothing available),
 *                 KG_ERR_CLOSED (EOF or reset), KG_ERR_PROTO (an earlier
 *                 frame was bad), KG_ERR_TOOBIG (complete frames are still
 *                 unconsumed: caller bug), KG_ERR_NOMEM or KG_ERR_IO.
 */
int kg_ipc_read(struct kg_ipc_reader *r, int fd);

/**
 * \brief          Feed bytes as if read from the socket (for tests, fuzzing,
 *                 or another transport).  Same rules as kg_ipc_read().
 *
 * \return         KG_OK, KG_ERR_PROTO, KG_ERR_TOOBIG or KG_ERR_NOMEM.
 */
int kg_ipc_feed(struct kg_ipc_reader *r, const void *p, size_t n);

/**
 * \brief          Take the next complete frame.  The previous frame's bytes
 *                 are wiped first, so out->payload is valid only until the
 *                 next call (or kg_ipc_reader_free()).  When no data is
 *                 left the buffer is released.
 *
 * \param r        the reader.
 * \param out      receives the frame.
 *
 * \return         1 (a frame is in out), 0 (need more bytes) or
 *                 KG_ERR_PROTO (oversized header or non-zero flags: drop
 *                 the connection; the error is sticky).
 */
int kg_ipc_next(struct kg_ipc_reader *r, struct kg_ipc_frame *out);

/** \brief Wipe and free the reader's buffer. */
void kg_ipc_reader_free(struct kg_ipc_reader *r);

/** Non-blocking writer queue.  Initialise with kg_ipc_writer_init(). */
struct kg_ipc_writer {
	struct kg_buf	buf;
};

/**
 * \brief          Initialise a writer queue; allocates nothing.
 *
 * \param w        the writer.
 * \param max_queued  most bytes (headers included) that may wait; at least
 *                 KG_IPC_MAX_FRAME if every frame must be queueable.
 */
void kg_ipc_writer_init(struct kg_ipc_writer *w, size_t max_queued);

/**
 * \brief          Queue one frame, all or nothing.  Nothing is written to
 *                 the socket until kg_ipc_flush().
 *
 * \return         KG_OK, KG_ERR_TOOBIG (payload over KG_IPC_MAX_PAYLOAD or
 *                 queue full: nothing queued) or KG_ERR_NOMEM.
 */
int kg_ipc_queue(struct kg_ipc_writer *w, uint16_t type, uint32_t id,
    const void *p, size_t n);

/**
 * \brief          Write as much of the queue as the socket takes without
 *                 blocking (MSG_DONTWAIT, MSG_NOSIGNAL).  Written bytes are
 *                 wiped; an emptied queue releases its buffer.
 *
 * \return         0 (queue empty), 1 (more remains: wait for writability),
 *                 KG_ERR_CLOSED (peer gone) or KG_ERR_IO (errno set).
 */
int kg_ipc_flush(struct kg_ipc_writer *w, int fd);

/** \return bytes waiting in the queue. */
static inline size_t
kg_ipc_queued(const struct kg_ipc_writer *w)
{
	return w->buf.len;
}

/** \brief Wipe and free the queue, discarding unsent frames. */
void kg_ipc_writer_free(struct kg_ipc_writer *w);

/**
 * \brief          Hand a descriptor to the other end (SCM_RIGHTS) with a
 *                 32-bit tag saying what it is for, e.g. a relay's slot.
 *                 Blocking; the caller still owns (and closes) fd.
 * \return         KG_OK, KG_ERR_CLOSED or KG_ERR_IO.
 */
int kg_ipc_send_fd(int sock, uint32_t tag, int fd);

/**
 * \brief          Receive what kg_ipc_send_fd() sent: one read.
 * \param fd       Receives the descriptor (close-on-exec), or -1.
 * \return         KG_OK (a tag and a descriptor), KG_ERR_AGAIN (nothing
 *                 yet), KG_ERR_CLOSED (the sender is gone), KG_ERR_PROTO
 *                 (a message without exactly one descriptor, or short:
 *                 any descriptor received is closed) or KG_ERR_IO.
 */
int kg_ipc_recv_fd(int sock, uint32_t *tag, int *fd);

#endif /* KG_IPC_H */
