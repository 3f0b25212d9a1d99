/*
 * log.c - stderr or syslog logging, fatal exits, sanitising untrusted text.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static char log_prog[32] = "kerbgate";
static char log_proc[32];
static int log_stderr = 1;
static int log_verbosity;
static pid_t log_pid;		/* 0: ask the kernel (reset in every fork child) */

static void
log_forget_pid(void)
{
	log_pid = 0;
}

void
log_init(const char *progname, int debug_to_stderr, int verbosity)
{
	kg_strlcpy(log_prog, progname, sizeof(log_prog));
	log_stderr = debug_to_stderr;
	log_verbosity = verbosity;
	pthread_atfork(NULL, NULL, log_forget_pid);
	if (!log_stderr)
		openlog(log_prog, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	tzset();
}

void
log_procname(const char *name)
{
	kg_strlcpy(log_proc, name != NULL ? name : "", sizeof(log_proc));
}

void
log_setverbose(int verbosity)
{
	log_verbosity = verbosity;
}

int
log_getverbose(void)
{
	return log_verbosity;
}

/* Whatever the caller formatted, one message is one line. */
static void
log_flatten(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void
log_to_stderr(const char *level, const char *msg)
{
	/* The date changes once a second; one line per request is common. */
	static __thread time_t ts_sec = -1;
	static __thread char ts[32];
	char line[KG_LOG_MSG_MAX + 128];
	struct timespec now;
	struct tm tm;
	int n;

	clock_gettime(CLOCK_REALTIME, &now);
	if (now.tv_sec != ts_sec) {
		gmtime_r(&now.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		ts_sec = now.tv_sec;
	}
	if (log_pid == 0)
		log_pid = getpid();
	n = snprintf(line, sizeof(line), "%s.%03ldZ %s[%ld]%s%s: %s: %s\n", ts,
	    now.tv_nsec / 1000000, log_prog, (long)log_pid,
	    log_proc[0] != '\0' ? " " : "", log_proc, level, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* One write per line so concurrent processes do not interleave. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

static void __attribute__((format(printf, 4, 0)))
log_vlog(int pri, const char *level, int with_errno, const char *fmt,
    va_list ap)
{
	char msg[KG_LOG_MSG_MAX], ebuf[128];
	int saved_errno = errno;
	size_t len;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		len = strlen(msg);
		snprintf(msg + len, sizeof(msg) - len, ": %s",
		    strerror_r(saved_errno, ebuf, sizeof(ebuf)));
	}
	log_flatten(msg);

	if (log_stderr)
		log_to_stderr(level, msg);
	else if (log_proc[0] != '\0')
		syslog(pri, "%s: %s", log_proc, msg);
	else
		syslog(pri, "%s", msg);
	errno = saved_errno;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, "warning", 1, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, "warning", 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_INFO, "info", 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_verbosity < 1)
		return;
	va_start(ap, fmt);
	log_vlog(LOG_DEBUG, "debug", 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, "fatal", 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, "fatal", 0, fmt, ap);
	va_end(ap);
	exit(1);
}

/* Writes the escaped form of c into e (at least 5 bytes); returns its length. */
static size_t
log_escape(unsigned char c, char *e)
{
	static const char hex[] = "0123456789abcdef";

	if (c == '\\' || c == '\n' || c == '\r' || c == '\t') {
		e[0] = '\\';
		e[1] = c == '\\' ? '\\' : c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		return 2;
	}
	if (c >= 0x20 && c < 0x7f) {
		e[0] = (char)c;
		return 1;
	}
	e[0] = '\\';
	e[1] = 'x';
	e[2] = hex[c >> 4];
	e[3] = hex[c & 0xf];
	return 4;
}

const char *
log_sanitize(const char *in, char *out, size_t outlen)
{
	static const char ellipsis[] = "...";
	const unsigned char *p;
	size_t o = 0, need = 0, budget, elen;
	char e[5];

	if (outlen == 0)
		return "";
	if (in == NULL)
		in = "(null)";

	/* Does everything fit?  Stop counting as soon as it cannot. */
	for (p = (const unsigned char *)in; *p != '\0' && need < outlen; p++)
		need += log_escape(*p, e);
	budget = outlen - 1;
	if (need > budget)
		budget = budget >= sizeof(ellipsis) - 1 ?
		    budget - (sizeof(ellipsis) - 1) : 0;

	for (p = (const unsigned char *)in; *p != '\0'; p++) {
		elen = log_escape(*p, e);
		if (o + elen > budget)
			break;
		memcpy(out + o, e, elen);
		o += elen;
	}
	if (*p != '\0' && outlen - 1 - o >= sizeof(ellipsis) - 1) {
		memcpy(out + o, ellipsis, sizeof(ellipsis) - 1);
		o += sizeof(ellipsis) - 1;
	}
	out[o] = '\0';
	return out;
}
