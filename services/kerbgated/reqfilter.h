/*
 * reqfilter.h: what the relay changes or refuses in a client's request
 * before it routes and forwards it.  Pure functions on the caller's bytes:
 * no allocation, no global state.
 *
 *  - Header names kerbgated owns (its identity headers, the forwarding
 *    headers it sets itself), compared as back-ends read them: CGI, WSGI,
 *    PHP and IIS's server variables map '-' and '_' to the same character
 *    and ignore case, so "X_Kerbgate_User" is "X-Kerbgate-User" to them;
 *    lighttpd maps every byte that is not a letter or digit that way.
 *  - Removing kerbgate's session cookie from a Cookie header.
 *  - The request path as route matching must see it: the way Apache and
 *    IIS resolve it (percent-decoded dots, dot segments, merged slashes),
 *    or refused when back-ends could read it in different ways.
 */
#ifndef KG_REQFILTER_H
#define KG_REQFILTER_H

#include <stddef.h>

/**
 * Whether a header name equals \p canon after folding: ASCII case ignored
 * and every byte that is not a letter or a digit ('_', '.', '~', '+'...)
 * taken for '-' on both sides.
 *
 * \return 1 if equal, 0 if not (or a pointer is NULL).
 */
int rf_name_equal(const char *name, size_t len, const char *canon);

/**
 * Whether a client-sent header (or trailer) named (name, len) is one that
 * only kerbgated may set, after folding as rf_name_equal() does: any
 * X-Kerbgate-* name, X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host,
 * X-Original-URL, X-Rewrite-URL and Forwarded.  (X-Forwarded-For spelled
 * exactly so is appended to by the relay; every other spelling is dropped.)
 *
 * \return 1 if reserved, 0 if not.
 */
int rf_name_reserved(const char *name, size_t len);

/**
 * Whether a chunked request's trailer field named (name, len) is refused:
 * every rf_name_reserved() name, and (folded the same way) Authorization,
 * Proxy-Authorization, Cookie, Host, Content-Length and Transfer-Encoding,
 * which RFC 9110 6.5.1 keeps out of trailers (framing, routing,
 * authentication).
 *
 * \return 1 if refused, 0 if the trailer may pass.
 */
int rf_trailer_refused(const char *name, size_t len);

/**
 * Copies a Cookie header value without the cookie(s) named \p name (ASCII
 * case ignored: ASP.NET reads cookie names that way).  The other pairs are
 * kept as they came, OWS trimmed, joined with "; ".
 *
 * \param in, len  the Cookie value.
 * \param name     the cookie to remove (NUL-terminated, not empty).
 * \param out      room for len bytes (the result is never longer).
 *
 * \return the length of the result (0: nothing left, drop the header).
 */
size_t rf_cookie_strip(const char *in, size_t len, const char *name,
    char *out);

/* rf_path_normalize() refusals (negative); rf_path_strerror() words them. */
#define RF_E_NOT_ORIGIN      -1	/* not "/..." (caller's mistake) */
#define RF_E_TOO_LONG        -2	/* out too small (caller's mistake) */
#define RF_E_BAD_ESCAPE      -3	/* '%' without two hex digits (%u...) */
#define RF_E_DOUBLE_ESCAPE   -4	/* "%25" followed by two hex digits */
#define RF_E_ENCODED_SLASH   -5	/* %2F or %5C */
#define RF_E_BACKSLASH       -6	/* '\' in the path */
#define RF_E_NUL             -7	/* %00 */
#define RF_E_BAD_UTF8        -8	/* escaped bytes not shortest-form UTF-8 */
#define RF_E_DOT_SEGMENT     -9	/* "...", ". ", "..;x", "//.." and the like */
#define RF_E_ABOVE_ROOT      -10	/* ".." past the root */
#define RF_E_FRAGMENT        -11	/* '#' in the target */
#define RF_E_BAD_CHAR        -12	/* control, space or byte >= 0x80 */
#define RF_E_LAST            -12

/**
 * The path of an origin-form request target as route matching sees it.
 *
 * The query ('?' on) is left out.  Escapes of unreserved characters
 * (ALPHA DIGIT - . _ ~) are decoded, other escapes are kept with upper-case
 * hex; repeated slashes are merged; "." and ".." segments are resolved
 * (RFC 3986 5.2.4).  Case is kept (route matching ignores it, as IIS does).
 *
 * Refused, because back-ends disagree on what they mean: a backslash or
 * an escaped slash or backslash (IIS reads '\' as '/', Apache does not;
 * Apache refuses %2F, IIS decodes it), %00, '%' not followed by two hex
 * digits (IIS's %uXXXX), a double escape "%25XX" (IIS refuses those), escaped
 * bytes that are not shortest-form UTF-8 (overlong dots), a segment of only
 * dots and spaces other than "." and ".." (Windows trims trailing dots and
 * spaces from names), "." or ".." with ";" parameters (Tomcat drops them),
 * ".." anywhere after an empty segment (merged or not, "//" moves every
 * later "..": "/x//y/../../open" ends elsewhere) or after a segment of only
 * ";params" (empty to Tomcat: "/a/;/.."),
 * ".." above the root, and '#'.
 *
 * \param target, len  the request target (origin-form).
 * \param out          receives the path, NUL-terminated.
 * \param cap          size of out; len + 2 is always enough.
 * \param outlen       receives the length of the path.
 *
 * \return 0, or a negative RF_E_* code.
 */
int rf_path_normalize(const char *target, size_t len, char *out, size_t cap,
    size_t *outlen);

/** \return an admin-readable reason for an RF_E_* code (never NULL). */
const char *rf_path_strerror(int err);

#endif /* KG_REQFILTER_H */
