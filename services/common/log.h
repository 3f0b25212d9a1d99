/*
 * log.h - logging for kerbgate daemons (OpenBSD relayd style).
 *
 * In the foreground lines go to stderr as
 *   2026-11-26T08:10:00.123Z kerbgated[812] relay 2: warning: message
 * otherwise to syslog (LOG_DAEMON) as "relay 2: message".
 *
 * NEVER pass secrets to these functions: no tokens, keys, passwords,
 * session keys, Authorization header values or ticket bytes, not even
 * truncated.  Client-supplied text (hostnames, paths, principal names) must
 * go through log_sanitize() first.  As a last line of defence every control
 * character in a formatted message is replaced by '?', so a message can
 * never forge a second log line.
 */
#ifndef KG_LOG_H
#define KG_LOG_H

#include <stddef.h>

/** Longest message; longer ones are cut short. */
#define KG_LOG_MSG_MAX 1024

/** A convenient size for log_sanitize() output buffers. */
#define KG_LOG_SANITIZE_BUFSZ 256

/**
 * \brief          Start logging.  Call once, before anything is logged (and
 *                 before chroot: the syslog socket is opened here).
 *
 * \param progname  program name for syslog ident and stderr lines; copied.
 * \param debug_to_stderr  non-zero: log to stderr (foreground); zero: syslog.
 * \param verbosity  0: warnings and info; 1 or more: also debug.
 */
void log_init(const char *progname, int debug_to_stderr, int verbosity);

/**
 * \brief          Name this process in every following line, e.g. "relay 2"
 *                 or "keyholder".  Call after fork().
 *
 * \param name     the name (copied, truncated to 31 bytes), or NULL for none.
 */
void log_procname(const char *name);

/** \brief Change the verbosity (see log_init()). */
void log_setverbose(int verbosity);

/** \return the current verbosity. */
int log_getverbose(void);

/** \brief Log a warning followed by ": " and strerror(errno).  errno is kept. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** \brief Log a warning.  errno is kept. */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** \brief Log an informational message.  errno is kept. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** \brief Log a debug message if verbosity >= 1.  errno is kept. */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** \brief Log at LOG_CRIT with ": strerror(errno)" appended, then exit(1). */
void fatal(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));

/** \brief Log at LOG_CRIT, then exit(1). */
void fatalx(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));

/**
 * \brief          Make an untrusted string safe to put in a log line.
 *
 *                 Printable ASCII is copied; backslash becomes "\\"; \n \r
 *                 \t become those two-character escapes; every other byte
 *                 (control characters, DEL, non-ASCII) becomes "\xHH".  If
 *                 the result does not fit, it is cut at an escape boundary
 *                 and ends with "..." (three ASCII dots).
 *
 * \param in       NUL-terminated untrusted string, or NULL ("(null)").
 * \param out      output buffer.
 * \param outlen   size of out; KG_LOG_SANITIZE_BUFSZ is a good choice.
 *
 * \return         out (always NUL-terminated), or "" if outlen is 0, so the
 *                 call can sit directly in a log_*() argument list.
 */
const char *log_sanitize(const char *in, char *out, size_t outlen);

#endif /* KG_LOG_H */
