/*
 * webparse.h: the small parsers the web listener runs on what a browser
 * (or anyone on the management network) sends: header look-up, the Cookie
 * header, Origin against Host, and Prometheus text from kerbgated's
 * /metrics.  Every one takes a length and never reads past it; none
 * allocates.  tests/fuzz/fuzz_webparse.c runs them on arbitrary bytes.
 */
#ifndef KG_MGMTD_WEBPARSE_H
#define KG_MGMTD_WEBPARSE_H

#include <stddef.h>

#include "http.h"

/**
 * \brief The value of the header \p name (case-insensitive) in \p h.
 * \return 1 and \p val / \p len set when present once, 0 when absent,
 *         -1 when present more than once (a request to refuse).
 */
int web_header(const struct http_head *h, const char *name, const char **val,
    size_t *len);

/**
 * \brief The value of cookie \p name in a Cookie header value (RFC 6265:
 *        "a=1; b=2").  1 and \p val / \p len set when found, else 0.
 */
int web_cookie(const char *hdr, size_t hdrlen, const char *name,
    const char **val, size_t *len);

/**
 * \brief 1 when \p origin is exactly "https://" followed by \p host (the
 *        Host header's value, with its port if it has one), else 0.
 */
int web_same_origin(const char *origin, size_t olen, const char *host, size_t hlen);

/**
 * \brief Sums the samples of metric \p name in Prometheus text \p text
 *        whose labels contain \p label (e.g. "reason=\"bad_mic\"", or NULL
 *        for all); lines that are not samples are skipped.
 * \return the sum (0 when there is none)
 */
double web_prom_sum(const char *text, size_t len, const char *name, const char *label);

/**
 * \brief Calls \p fn for each sample line of metric \p name: its label text
 *        (between the braces, possibly empty) and value.
 */
void web_prom_each(const char *text, size_t len, const char *name,
    void (*fn)(void *arg, const char *labels, size_t llen, double value), void *arg);

/**
 * \brief Copies the value of label \p key from a label text
 *        (a="x",b="y") into \p out; 1 when found, else 0.
 */
int web_prom_label(const char *labels, size_t llen, const char *key, char *out,
    size_t outlen);

#endif
