/*
 * util.h - small helpers every kerbgate daemon uses: error codes, secret
 * wiping, bounded string copy, monotonic time.
 */
#ifndef KG_UTIL_H
#define KG_UTIL_H

#include <stddef.h>
#include <stdint.h>

/**
 * Error codes returned by libkgcommon and the daemons.  Success is KG_OK (0);
 * every error is negative so that "< 0" tests for failure and positive
 * values stay free for counts and flags.
 */
enum kg_err {
	KG_OK = 0,
	KG_ERR_NOMEM = -1,	/**< allocation failed */
	KG_ERR_TOOBIG = -2,	/**< a bound would be exceeded */
	KG_ERR_INVAL = -3,	/**< invalid argument (caller bug) */
	KG_ERR_IO = -4,		/**< system call failed; errno is kept */
	KG_ERR_CLOSED = -5,	/**< peer closed the connection */
	KG_ERR_AGAIN = -6,	/**< would block; retry when ready */
	KG_ERR_PROTO = -7,	/**< peer violated the protocol */
	KG_ERR_CONFIG = -8,	/**< configuration is invalid */
	KG_ERR_NOTFOUND = -9,	/**< no such item */
};

/** Number of elements of an array (not a pointer). */
#define KG_NELEM(a) (sizeof(a) / sizeof((a)[0]))

/**
 * \brief          Describe an error code.
 *
 * \param err      a KG_ERR_* value (or KG_OK).
 *
 * \return         a static string, "unknown error" for unknown codes.
 */
const char *kg_strerror(int err);

/**
 * \brief          Wipe memory in a way the compiler may not optimise away.
 *                 Use for anything that held a secret.
 *
 * \param p        memory to wipe; may be NULL if n is 0.
 * \param n        number of bytes.
 */
void kg_zero(void *p, size_t n);

/**
 * \brief          Wipe then free.
 *
 * \param p        memory from malloc(), or NULL (then nothing happens).
 * \param n        size of the allocation (or at least of what held data).
 */
void kg_freezero(void *p, size_t n);

/**
 * \brief          Copy a NUL-terminated string, always terminating dst
 *                 (BSD strlcpy semantics).
 *
 * \param dst      destination buffer.
 * \param src      NUL-terminated source.
 * \param dstsize  size of dst; if 0, nothing is written.
 *
 * \return         strlen(src); the copy was truncated if this is
 *                 >= dstsize.
 */
size_t kg_strlcpy(char *dst, const char *src, size_t dstsize);

/**
 * \brief          Formats an error message into a caller's buffer, the
 *                 shape of the `char *err, size_t errlen` arguments many
 *                 constructors take.
 *
 * \param err      the buffer, or NULL (then nothing is written).
 * \param errlen   its size.
 *
 * \return         -1, for "return kg_seterr(err, errlen, ...);".
 */
int kg_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * \brief          Milliseconds from CLOCK_MONOTONIC: for timeouts and
 *                 durations, never for wall-clock time.
 *
 * \return         milliseconds since an arbitrary fixed point.
 */
uint64_t kg_now_ms(void);

/**
 * \brief          The value of one hexadecimal digit.
 *
 * \return         0..15, or -1 when c is not one of 0-9, a-f, A-F.
 */
int kg_hexval(int c);

#endif /* KG_UTIL_H */
