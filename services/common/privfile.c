/*
 * privfile.c: a private file written whole or not at all (privfile.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "privfile.h"
#include "util.h"

/* Syncs the folder \p path is in, so that its rename is on disk. */
static int
sync_folder(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, rc;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
kg_write_private(const char *path, const void *buf, size_t len, uid_t uid, gid_t gid,
    char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	char tmp[PATH_MAX];
	int fd, n;

	n = snprintf(tmp, sizeof(tmp), "%.*s.%s.tmp", (int)(base - path), path, base);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return kg_seterr(err, errlen, "the path %s is too long", path);
	unlink(tmp);	/* what a crash left */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
		return kg_seterr(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
	if (write(fd, buf, len) != (ssize_t)len || fchmod(fd, 0600) < 0 ||
	    (uid != (uid_t)-1 && fchown(fd, uid, gid) < 0) || fsync(fd) < 0) {
		kg_seterr(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		kg_seterr(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (sync_folder(path) < 0)
		return kg_seterr(err, errlen, "cannot sync the folder of %s: %s", path,
		    strerror(errno));
	return 0;
}
