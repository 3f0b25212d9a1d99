/*
 * pullstate.c: the last applied package's hash (pullstate.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "pullstate.h"
#include "util.h"

void
pull_hash(const uint8_t *data, size_t len, char out[PULL_HASH_HEX])
{
	uint8_t md[SHA256_DIGEST_LENGTH];

	SHA256(data, len, md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int
pull_state_load(const char *path, char out[PULL_HASH_HEX], char *err, size_t errlen)
{
	char buf[PULL_HASH_HEX + 2];
	ssize_t n;
	int fd;

	out[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		return kg_seterr(err, errlen, "cannot read %s: %s", path, strerror(errno));
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n != PULL_HASH_HEX - 1)
		return kg_seterr(err, errlen, "%s does not hold a package hash: remove it "
		    "(the current package is then sent once more, which is harmless)", path);
	for (int i = 0; i < n; i++)
		if (kg_hexval(buf[i]) < 0)
			return kg_seterr(err, errlen, "%s does not hold a package hash: "
			    "remove it", path);
	memcpy(out, buf, (size_t)n);
	out[n] = '\0';
	return 0;
}

int
pull_state_save(const char *path, const char *hash, char *err, size_t errlen)
{
	char tmp[4200], line[PULL_HASH_HEX + 1];
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	snprintf(line, sizeof(line), "%s\n", hash);
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return kg_seterr(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
	ok = write(fd, line, strlen(line)) == (ssize_t)strlen(line) && fsync(fd) == 0;
	if (close(fd) < 0 || !ok || rename(tmp, path) < 0) {
		kg_seterr(err, errlen, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}
