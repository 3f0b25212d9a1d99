/*
 * audit.c: audit log lines (audit.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "log.h"
#include "util.h"

int
audit_open(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return kg_seterr(err, errlen, "cannot open the audit log %s: %s", path,
		    strerror(errno));
	if (fchmod(fd, 0600) < 0) {
		close(fd);
		return kg_seterr(err, errlen, "cannot make %s 0600: %s", path, strerror(errno));
	}
	return fd;
}

/* Copies s with '"', '\\' and control characters made '?'. */
static void
clean(char *dst, size_t len, const char *s)
{
	size_t i;

	for (i = 0; s != NULL && s[i] != '\0' && i + 1 < len; i++)
		dst[i] = (s[i] == '"' || s[i] == '\\' || (unsigned char)s[i] < 0x20 ||
		    s[i] == 0x7f) ? '?' : s[i];
	dst[i] = '\0';
}

void
audit_write(int fd, const struct api_client *who, const char *action,
    uint32_t kvno, const char *result)
{
	char when[32], subj[256], res[200], line[700];
	time_t now = time(NULL);
	struct tm tm;
	int n;

	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	clean(subj, sizeof(subj), who ? who->subject : "(none)");
	clean(res, sizeof(res), result);
	n = snprintf(line, sizeof(line), "%s who=\"%s\" sha256=%s action=%s kvno=%u result=\"%s\"\n",
	    when, subj, who ? who->fingerprint : "-", action, kvno, res);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = (int)strlen(line);
	log_info("audit: %.*s", n - 1, line);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) != n || fsync(fd) < 0)
		log_warnx("audit: cannot write the audit log: %s", strerror(errno));
}
