/*
 * pkgout.c: writes one appliance's sealed credential package (pkgout.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "credpkg.h"
#include "pkgout.h"
#include "util.h"

static int
write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
pkgout_write(EVP_PKEY *signer, const char *recipient_file, const char *dir,
    const char *name, const char *account, uint32_t kvno, const char *password,
    long lifetime_s, char *path, size_t pathlen, char *err, size_t errlen)
{
	struct pkg_info info;
	EVP_PKEY *rcpt;
	json_t *o;
	char *body, tmp[4200];
	uint8_t *pkg;
	size_t len;
	int fd, rc;

	if ((rcpt = pkg_load_key(recipient_file, EVP_PKEY_X25519, 0, err, errlen)) == NULL)
		return -1;
	o = json_pack("{s:s, s:I, s:s}", "account", account, "kvno", (json_int_t)kvno,
	    "password", password);
	body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (o != NULL)
		kg_zero((char *)json_string_value(json_object_get(o, "password")),
		    strlen(password));
	json_decref(o);
	if (body == NULL) {
		EVP_PKEY_free(rcpt);
		return kg_seterr(err, errlen, "out of memory");
	}
	info.kvno = kvno;
	info.created = (int64_t)time(NULL);
	info.expires = info.created + lifetime_s;
	rc = pkg_seal(signer, rcpt, &info, (const uint8_t *)body, strlen(body), &pkg, &len,
	    err, errlen);
	kg_freezero(body, strlen(body));
	EVP_PKEY_free(rcpt);
	if (rc < 0)
		return -1;
	snprintf(path, pathlen, "%s/%s.kgpkg", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.kgpkg.tmp", dir, name);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		free(pkg);
		return kg_seterr(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
	}
	rc = write_all(fd, pkg, len) == 0 && fsync(fd) == 0 ? 0 : -1;
	free(pkg);
	if (close(fd) < 0 || rc < 0 || rename(tmp, path) < 0) {
		kg_seterr(err, errlen, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}
