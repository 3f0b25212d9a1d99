#include <stdarg.h>
#include <stdio.h>
/*
 * util.c - error codes, secret wiping, strlcpy, monotonic time.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

const char *
kg_strerror(int err)
{
	switch (err) {
	case KG_OK:		return "success";
	case KG_ERR_NOMEM:	return "out of memory";
	case KG_ERR_TOOBIG:	return "too big";
	case KG_ERR_INVAL:	return "invalid argument";
	case KG_ERR_IO:		return "I/O error";
	case KG_ERR_CLOSED:	return "connection closed";
	case KG_ERR_AGAIN:	return "try again";
	case KG_ERR_PROTO:	return "protocol error";
	case KG_ERR_CONFIG:	return "configuration error";
	case KG_ERR_NOTFOUND:	return "not found";
	}
	return "unknown error";
}

void
kg_zero(void *p, size_t n)
{
	if (p != NULL && n > 0)
		explicit_bzero(p, n);
}

void
kg_freezero(void *p, size_t n)
{
	if (p == NULL)
		return;
	explicit_bzero(p, n);
	free(p);
}

size_t
kg_strlcpy(char *dst, const char *src, size_t dstsize)
{
	size_t srclen = strlen(src);

	if (dstsize > 0) {
		size_t n = srclen < dstsize - 1 ? srclen : dstsize - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return srclen;
}

uint64_t
kg_now_ms(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail on Linux with a valid pointer. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int
kg_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int
kg_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
