/*
 * http.h: a strict, incremental HTTP/1.1 head parser and body framing
 * decoder (RFC 9112, RFC 9110) for the kerbgated relay.
 *
 * Zero-copy: every pointer the parser hands back points into the caller's
 * buffer, which must stay put (and unchanged) while they are used.  No
 * allocation, libc only, no global state: safe to call from any thread.
 *
 * Why not libhttp-parser or llhttp: both refuse the methods Outlook Anywhere
 * uses (RPC_IN_DATA, RPC_OUT_DATA).  This parser accepts any method token.
 *
 * Strictness, for request smuggling defence (each refusal is a negative
 * HTTP_E_* code; http_error_status() suggests the status to answer with):
 *
 *  - Line endings are CRLF only.  A bare LF or a bare CR anywhere in a head
 *    is refused (400).  Control characters other than HTAB are refused
 *    anywhere in a head (400); HTAB only inside header values/OWS.
 *  - No empty line before the request line (RFC 9112 2.2 "SHOULD ignore"
 *    is not followed: refused, 400).
 *  - Request line: method SP request-target SP HTTP-version, single SPs,
 *    method = 1*tchar (any token, so RPC_IN_DATA works), target = 1*VCHAR
 *    in origin-form ("/..."), "*" (OPTIONS
 *    only), absolute-form "http(s)://authority..." (no userinfo) or
 *    authority-form (CONNECT only).  Bytes >= 0x80 in the target
 *    are refused.  Version HTTP/1.0 or HTTP/1.1; a well-formed other
 *    version (HTTP/2.0, HTTP/1.2, HTTP/0.9) is 505, a malformed one 400.
 *  - Header lines: name = 1*tchar immediately followed by ':' (whitespace
 *    before the colon: 400), value = field-vchars with OWS trimmed.  Line
 *    folding (obs-fold) is refused (400).
 *  - Content-Length: 1*DIGIT only (no sign, no list, no whitespace inside),
 *    at most 2^63-1.  A second Content-Length header is refused even if its
 *    value is identical (400).
 *  - Transfer-Encoding: one header only; never together with Content-Length
 *    (400, requests and responses alike); never in an HTTP/1.0 message
 *    (400); no empty list elements (", chunked": 400, parsers disagree on
 *    them).  In a request the only coding accepted is exactly "chunked";
 *    "chunked" not last (or twice) is 400, any other coding before it
 *    ("gzip, chunked") is 501.  In a response, codings before a final
 *    "chunked" are passed through; a response whose final coding is not
 *    chunked is read until close.
 *  - Host: an HTTP/1.1 request needs exactly one (400 if missing or
 *    repeated; an HTTP/1.0 request may have none but not two).  Its value
 *    may hold only the characters of uri-host [":" port] (no "@", "/",
 *    spaces): 400 otherwise.
 *  - A request's Connection header may not name Content-Length or Host
 *    (that would make a proxy drop its framing or routing): 400.
 *  - Expect: "100-continue" sets expect_continue (HTTP/1.1 only; ignored
 *    in HTTP/1.0 as RFC 9110 10.1.1 requires); any other expectation in an
 *    HTTP/1.1 request is 417.
 *  - Limits: head larger than max_head_bytes or more headers than
 *    max_headers (or than the caller's array) is 431; a request line longer
 *    than max_request_line is 414.
 *
 * Incremental use and cost: call http_parse_request() (or _response) each
 * time more bytes of the head have arrived, with the whole buffer from the
 * first byte of the message.  Until the end of the head (CRLFCRLF) is seen
 * the parser only scans the bytes new since the previous call (a resumable
 * scan position kept in struct http_head, see there), checking them for bare
 * CR/LF, control characters and the size limits, so a slow sender costs
 * linear time; the full parse runs once, when the head is complete.
 */
#ifndef KERBGATE_HTTP_H
#define KERBGATE_HTTP_H

#include <stddef.h>
#include <stdint.h>

/** Return value of the head parsers: the head is not complete yet. */
#define HTTP_NEED_MORE 0

/* Errors (negative).  http_strerror() / http_error_status() describe each. */
#define HTTP_E_INVALID_ARGUMENT      -1  /* NULL buffer/output (500) */
#define HTTP_E_BARE_LF               -2  /* LF without CR (400) */
#define HTTP_E_BARE_CR               -3  /* CR without LF (400) */
#define HTTP_E_CONTROL_CHAR          -4  /* NUL or other CTL in head (400) */
#define HTTP_E_HEAD_TOO_LARGE        -5  /* head over max_head_bytes (431) */
#define HTTP_E_LINE_TOO_LONG         -6  /* request line too long (414) */
#define HTTP_E_TOO_MANY_HEADERS      -7  /* over max_headers (431) */
#define HTTP_E_BAD_REQUEST_LINE      -8  /* malformed request line (400) */
#define HTTP_E_BAD_METHOD            -9  /* method not a token (400) */
#define HTTP_E_BAD_TARGET            -10 /* bad request-target (400) */
#define HTTP_E_BAD_VERSION           -11 /* not HTTP/d.d (400) */
#define HTTP_E_UNSUPPORTED_VERSION   -12 /* not HTTP/1.0 or 1.1 (505) */
#define HTTP_E_BAD_STATUS_LINE       -13 /* malformed status line (502) */
#define HTTP_E_BAD_HEADER_NAME       -14 /* empty/invalid field name (400) */
#define HTTP_E_SPACE_BEFORE_COLON    -15 /* "Name :" (400) */
#define HTTP_E_MISSING_COLON         -16 /* header line without ':' (400) */
#define HTTP_E_OBS_FOLD              -17 /* line folding (400) */
#define HTTP_E_BAD_HEADER_VALUE      -18 /* invalid char in value (400) */
#define HTTP_E_BAD_CONTENT_LENGTH    -19 /* not 1*DIGIT / too big (400) */
#define HTTP_E_DUP_CONTENT_LENGTH    -20 /* more than one (400) */
#define HTTP_E_LENGTH_AND_CHUNKED    -21 /* Content-Length + TE (400) */
#define HTTP_E_BAD_TRANSFER_ENCODING -22 /* chunked not last, dup... (400) */
#define HTTP_E_UNSUPPORTED_CODING    -23 /* TE other than chunked (501) */
#define HTTP_E_MISSING_HOST          -24 /* HTTP/1.1 without Host (400) */
#define HTTP_E_DUP_HOST              -25 /* more than one Host (400) */
#define HTTP_E_BAD_HOST              -26 /* invalid Host value (400) */
#define HTTP_E_BAD_CONNECTION        -27 /* Connection: non-token, CL or Host (400) */
#define HTTP_E_EXPECTATION           -28 /* Expect other than 100-continue (417) */
#define HTTP_E_BAD_CHUNK_SIZE        -29 /* empty/non-hex/overflow (400) */
#define HTTP_E_BAD_CHUNK_EXT         -30 /* bad or too long extension (400) */
#define HTTP_E_BAD_CHUNK_END         -31 /* no CRLF after chunk data (400) */
#define HTTP_E_BAD_TRAILER           -32 /* malformed/too large trailer (400) */
#define HTTP_E_TRUNCATED_BODY        -33 /* EOF inside a framed body (400) */
#define HTTP_E_FORBIDDEN_TRAILER     -34 /* trailer the caller refuses (400) */
#define HTTP_E_LAST                  -34

/* Defaults, used for a NULL limits pointer or a zero field. */
#define HTTP_DEFAULT_MAX_HEAD_BYTES   (65536 + 8192) /* Authorization <= 64 KiB */
#define HTTP_DEFAULT_MAX_REQUEST_LINE 8192
#define HTTP_DEFAULT_MAX_HEADERS      100

/* Body framing bounds (not configurable). */
#define HTTP_MAX_CHUNK_LINE    4096 /* chunk-size + extensions, without CRLF */
#define HTTP_MAX_TRAILER_BYTES 8192 /* whole trailer section */
#define HTTP_TRAILER_NAME_MAX  64   /* trailer name bytes kept for refuse_trailer */

/** Limits for one head.  A zero field means its HTTP_DEFAULT_* value. */
struct http_limits {
	size_t   max_head_bytes;   /* whole head incl. the final CRLFCRLF */
	size_t   max_request_line; /* request line (or status line), no CRLF */
	unsigned max_headers;      /* header field lines */
};

/** One header field line; value has leading/trailing OWS trimmed. */
struct http_header {
	const char *name;
	size_t      name_len;
	const char *value;
	size_t      value_len;
};

enum http_body_kind {
	HTTP_BODY_NONE = 0,    /* no body follows the head */
	HTTP_BODY_LENGTH,      /* content_length bytes follow (> 0) */
	HTTP_BODY_CHUNKED,     /* chunked transfer coding */
	HTTP_BODY_UNTIL_CLOSE  /* response body delimited by connection close */
};

/**
 * A parsed head.  Zero it (memset or = {0}) before the first parse call of
 * each message; keep it between calls that return HTTP_NEED_MORE so that
 * the scan resumes where it stopped (a stale or zeroed scan state is never
 * unsafe, only slower: the full parse re-checks every byte).
 */
struct http_head {
	int         is_request;
	const char *method;         /* requests */
	size_t      method_len;
	const char *target;         /* requests */
	size_t      target_len;
	int         version_minor;  /* 0 or 1 */
	int         status;         /* responses: 100..599 */
	const char *reason;         /* responses, may be empty */
	size_t      reason_len;
	struct http_header *headers; /* the caller's array */
	unsigned    nheaders;

	/* Framing summary. */
	enum http_body_kind body;
	uint64_t    content_length; /* valid if a Content-Length was present */
	int         has_content_length;
	int         keep_alive;     /* connection may carry another message */
	int         expect_continue;/* request: "Expect: 100-continue" (1.1) */
	int         upgrade;        /* request: Upgrade + Connection: upgrade;
	                               response: 101, or 2xx to CONNECT */
	size_t      head_len;       /* bytes of the head incl. CRLFCRLF */

	/* Private: resumable end-of-head scan (bytes already scanned, and the
	 * offset just past the first line's LF, 0 if not seen yet). */
	size_t      scan_pos;
	size_t      scan_line_end;
};

/**
 * Parse an HTTP/1.x request head.
 *
 * \param buf      the bytes received so far, from the first byte of the
 *                 request; may hold more (body, pipelined requests).
 * \param len      number of bytes in buf.
 * \param limits   limits, or NULL for the defaults.
 * \param hdrs     array filled with the header lines, in order.
 * \param max_hdrs capacity of hdrs; more header lines than
 *                 min(max_hdrs, limits->max_headers) is HTTP_E_TOO_MANY_HEADERS.
 * \param out      the result; zero it before the first call for a message
 *                 (see struct http_head).  Meaningful only on success.
 *
 * \return the head length (> 0, == out->head_len) when a complete and valid
 *         head is at the start of buf; the body or the next request starts
 *         there.
 * \return HTTP_NEED_MORE (0) if the head is incomplete so far.
 * \return a negative HTTP_E_* code if the head is invalid or too large.
 */
int http_parse_request(const char *buf, size_t len,
    const struct http_limits *limits, struct http_header *hdrs,
    unsigned max_hdrs, struct http_head *out);

/**
 * Parse an HTTP/1.x response head.  As http_parse_request(), plus:
 *
 * \param request_method  method of the request this answers (for "HEAD":
 *                 no body; for "CONNECT": 2xx is a tunnel), not
 *                 NUL-terminated; NULL if unknown (treated as GET).
 * \param method_len length of request_method.
 *
 * Framing (RFC 9112 6.3): 1xx, 204, 304 and any answer to HEAD have no
 * body; final coding chunked is HTTP_BODY_CHUNKED; Content-Length is
 * HTTP_BODY_LENGTH (HTTP_BODY_NONE if 0); otherwise HTTP_BODY_UNTIL_CLOSE
 * (and keep_alive 0).  The relay should answer 502 to any error here,
 * whatever http_error_status() says.
 */
int http_parse_response(const char *buf, size_t len,
    const struct http_limits *limits, const char *request_method,
    size_t method_len, struct http_header *hdrs, unsigned max_hdrs,
    struct http_head *out);

/**
 * \return a short, admin-readable reason for an HTTP_E_* code (never NULL;
 *         "unknown error" for an unknown code, "ok" for codes >= 0).
 */
const char *http_strerror(int err);

/**
 * \return the status code to answer a client with for an HTTP_E_* code:
 *         400, 414, 417, 431, 501, 505 (500 for HTTP_E_INVALID_ARGUMENT,
 *         502 for HTTP_E_BAD_STATUS_LINE and unknown codes).
 */
int http_error_status(int err);

/**
 * Find the first header named \p name (ASCII case-insensitive).
 *
 * \return the header, or NULL if absent (or head/name NULL).
 */
const struct http_header *http_find(const struct http_head *head,
    const char *name);

/**
 * Whether a comma-separated header value (Connection, TE, Upgrade...)
 * lists \p token, compared ASCII case-insensitively, elements trimmed of
 * OWS, empty elements ignored.
 *
 * \return 1 if listed, 0 if not (or hdr/token NULL).
 */
int http_header_has_token(const struct http_header *hdr, const char *token);

/**
 * Whether the header named (name, len) is hop-by-hop, i.e. must not be
 * forwarded: Connection, Keep-Alive, Proxy-Connection, TE, Trailer,
 * Transfer-Encoding, Upgrade, Proxy-Authenticate, Proxy-Authorization
 * (credentials for this proxy are never passed on), and any header named
 * in one of \p head's Connection headers (head may be NULL) -- except
 * Content-Length and Host, which are never reported hop-by-hop.
 *
 * A relay that drops Transfer-Encoding and passes a chunked body through
 * must emit "Transfer-Encoding: chunked" itself (see head->body).
 *
 * \return 1 if hop-by-hop, 0 otherwise.
 */
int http_is_hop_by_hop(const char *name, size_t len,
    const struct http_head *head);

/* ------------------------------------------------------------------ body */

/* http_body_feed() return values besides HTTP_E_* errors. */
#define HTTP_BODY_MORE 0  /* body not finished: feed the rest / more bytes */
#define HTTP_BODY_DONE 1  /* the message body ended */

/**
 * Body framing state.  Initialise with http_body_init(); fields are
 * private except \c remaining (bytes left of the Content-Length body or
 * of the current chunk's data) and \c payload (payload bytes so far).
 */
struct http_body {
	enum http_body_kind kind;
	int      state;
	uint64_t remaining;
	uint64_t payload;
	size_t   line_len;     /* bytes of the current size/trailer line */
	size_t   trailer_len;  /* bytes of the trailer section so far */
	unsigned size_digits;
	int      error;        /* sticky HTTP_E_* once failed */
	/* Optional, set after http_body_init(): a trailer field whose name
	 * this returns non-zero for is refused (HTTP_E_FORBIDDEN_TRAILER) when
	 * its ':' is fed, so that no byte after the name has been passed on.
	 * A name longer than HTTP_TRAILER_NAME_MAX is passed cut to that
	 * length (enough for a prefix test; no exact name is that long). */
	int    (*refuse_trailer)(const char *name, size_t len);
	char     trailer_name[HTTP_TRAILER_NAME_MAX];
	size_t   trailer_name_len;
};

/**
 * Prepare to frame the body announced by \p head (its body kind and
 * content_length).  No-op framing (HTTP_BODY_NONE) if head is NULL.
 */
void http_body_init(struct http_body *body, const struct http_head *head);

/**
 * Feed body bytes.  Pass-through style: *consumed is the number of RAW
 * input bytes, from \p in, that belong to this message's body (chunk
 * framing included) and have been validated: the relay forwards exactly
 * in[0 .. *consumed) verbatim.  *data / *data_len is the de-chunked payload
 * contained in those bytes (one contiguous span per call, inside in; NULL/0
 * if none) for a caller that wants the payload instead.
 *
 * Call again with in + *consumed while *consumed < in_len and the result is
 * HTTP_BODY_MORE: a call stops after yielding one payload span.
 *
 * Chunked: chunk-size is 1*HEXDIG (no sign, no whitespace before it),
 * below 2^63; extensions (after optional BWS and ';') are checked for
 * forbidden characters only and bounded with the size by
 * HTTP_MAX_CHUNK_LINE; CRLF is required after each chunk's data; trailer
 * fields are validated like header lines (no obs-fold), bounded by
 * HTTP_MAX_TRAILER_BYTES, passed through in the raw bytes and otherwise
 * discarded.  CRLF only, as in heads.
 *
 * \param body     state from http_body_init().
 * \param in       input bytes (may be NULL if in_len is 0).
 * \param in_len   number of input bytes.
 * \param consumed out: raw bytes of in that belong to the body.
 * \param data     out: payload span inside in, or NULL.
 * \param data_len out: length of the payload span.
 *
 * \return HTTP_BODY_MORE, HTTP_BODY_DONE (bytes after *consumed belong to
 *         the next message; further calls consume nothing and return
 *         HTTP_BODY_DONE), or a negative HTTP_E_* code (*consumed is then
 *         0, the state stays in error, and the connection must be closed:
 *         bytes forwarded by earlier calls were valid, the rest is not).
 */
int http_body_feed(struct http_body *body, const char *in, size_t in_len,
    size_t *consumed, const char **data, size_t *data_len);

/**
 * The connection reached EOF.
 *
 * \return HTTP_BODY_DONE if the body is complete (always so for
 *         HTTP_BODY_UNTIL_CLOSE), HTTP_E_TRUNCATED_BODY otherwise.
 */
int http_body_eof(struct http_body *body);

#endif /* KERBGATE_HTTP_H */
