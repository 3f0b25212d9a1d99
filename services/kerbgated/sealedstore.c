/*
 * sealedstore.c: the sealed store's format and its atomic write
 * (sealedstore.h).
 */
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/gcm.h>

#include "sealedstore.h"
#include "util.h"

#define SEALED_MAX_FILE	(SEALED_HEADER_LEN + SEALED_MAX_PLAIN + SEALED_TAG_LEN)

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Whole pages of their own (mmap): mlock and MADV_DONTDUMP act on pages, and
 * changing them on malloc's heap would split and leave marked the mappings
 * of whatever malloc puts there next.
 */
static size_t
page_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return n == 0 ? pg : (n + pg - 1) / pg * pg;
}

void *
sealed_alloc(size_t n)
{
	size_t sz = page_round(n);
	void *p;

	p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	(void)mlock(p, sz);		/* best effort: RLIMIT_MEMLOCK */
	(void)madvise(p, sz, MADV_DONTDUMP);
	return p;
}

void
sealed_free(void *p, size_t n)
{
	size_t sz = page_round(n);

	if (p == NULL)
		return;
	kg_zero(p, sz);
	(void)munmap(p, sz);		/* unlocks */
}

static int
random_bytes(uint8_t *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		if ((r = getrandom(p, n, 0)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int
sealed_seal(const uint8_t key[SEALED_KEY_LEN], const uint8_t *plain, size_t len,
    uint8_t **out, size_t *outlen, char *err, size_t errlen)
{
	mbedtls_gcm_context gcm;
	uint8_t *b;
	size_t total;
	int ret;

	*out = NULL;
	*outlen = 0;
	if (len > SEALED_MAX_PLAIN)
		return kg_seterr(err, errlen, "store too large (%zu bytes, at most %u)",
		    len, SEALED_MAX_PLAIN);
	total = SEALED_HEADER_LEN + len + SEALED_TAG_LEN;
	if ((b = malloc(total)) == NULL)
		return kg_seterr(err, errlen, "out of memory");
	memcpy(b, SEALED_MAGIC, SEALED_MAGIC_LEN);
	put16(b + 8, SEALED_VERSION);
	put16(b + 10, 0);
	if (random_bytes(b + 12, SEALED_NONCE_LEN) != 0) {
		free(b);
		return kg_seterr(err, errlen, "no randomness for the nonce");
	}
	put32(b + 24, (uint32_t)len);
	mbedtls_gcm_init(&gcm);
	ret = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, key, 256);
	if (ret == 0)
		ret = mbedtls_gcm_crypt_and_tag(&gcm, MBEDTLS_GCM_ENCRYPT, len, b + 12,
		    SEALED_NONCE_LEN, b, SEALED_HEADER_LEN, plain,
		    b + SEALED_HEADER_LEN, SEALED_TAG_LEN, b + SEALED_HEADER_LEN + len);
	mbedtls_gcm_free(&gcm);
	if (ret != 0) {
		free(b);
		return kg_seterr(err, errlen, "AES-GCM failed (%d)", ret);
	}
	*out = b;
	*outlen = total;
	return 0;
}

int
sealed_open(const uint8_t key[SEALED_KEY_LEN], const uint8_t *buf, size_t len,
    uint8_t **plain, size_t *plainlen, char *err, size_t errlen)
{
	mbedtls_gcm_context gcm;
	uint32_t n;
	uint8_t *p;
	int ret;

	*plain = NULL;
	*plainlen = 0;
	if (len < SEALED_MAGIC_LEN || memcmp(buf, SEALED_MAGIC, SEALED_MAGIC_LEN) != 0)
		return kg_seterr(err, errlen, len < SEALED_MAGIC_LEN ?
		    "truncated: %zu bytes, shorter than the header" :
		    "not a kerbgate sealed store (no KGSEALED magic; %zu bytes)", len);
	if (len < SEALED_HEADER_LEN + SEALED_TAG_LEN)
		return kg_seterr(err, errlen, "truncated: %zu bytes, shorter than the "
		    "header and tag", len);
	if (buf[8] != 0 || buf[9] != SEALED_VERSION)
		return kg_seterr(err, errlen, "format version %u, this kerbgated reads "
		    "version %u (written by a newer release?)",
		    (unsigned)buf[8] << 8 | buf[9], SEALED_VERSION);
	if (buf[10] != 0 || buf[11] != 0)
		return kg_seterr(err, errlen, "reserved header field is not zero");
	n = get32(buf + 24);
	if (n > SEALED_MAX_PLAIN)
		return kg_seterr(err, errlen, "length field %u over the limit %u",
		    n, SEALED_MAX_PLAIN);
	if ((size_t)n + SEALED_HEADER_LEN + SEALED_TAG_LEN != len)
		return kg_seterr(err, errlen, "length field says %u bytes of secrets but "
		    "the file holds %zu: truncated or appended to", n,
		    len - SEALED_HEADER_LEN - SEALED_TAG_LEN);
	if ((p = sealed_alloc(n)) == NULL)
		return kg_seterr(err, errlen, "out of memory");
	mbedtls_gcm_init(&gcm);
	ret = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, key, 256);
	if (ret == 0)
		ret = mbedtls_gcm_auth_decrypt(&gcm, n, buf + 12, SEALED_NONCE_LEN, buf,
		    SEALED_HEADER_LEN, buf + SEALED_HEADER_LEN + n, SEALED_TAG_LEN,
		    buf + SEALED_HEADER_LEN, p);
	mbedtls_gcm_free(&gcm);
	if (ret != 0) {
		sealed_free(p, n);
		if (ret == MBEDTLS_ERR_GCM_AUTH_FAILED)
			return kg_seterr(err, errlen, "does not authenticate: tampered "
			    "with, or sealed under another device key");
		return kg_seterr(err, errlen, "AES-GCM failed (%d)", ret);
	}
	*plain = p;
	*plainlen = n;
	return 0;
}

int
sealed_buf_add(struct sealed_buf *b, uint16_t type, const void *value, size_t len)
{
	size_t need = b->len + SEALED_REC_HDR_LEN + len, cap;
	uint8_t *np;

	if (len > SEALED_MAX_PLAIN || need > SEALED_MAX_PLAIN)
		return -1;
	if (need > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < need)
			cap *= 2;
		if ((np = sealed_alloc(cap)) == NULL)
			return -1;
		if (b->len > 0)
			memcpy(np, b->p, b->len);
		sealed_free(b->p, b->cap);
		b->p = np;
		b->cap = cap;
	}
	put16(b->p + b->len, type);
	put32(b->p + b->len + 2, (uint32_t)len);
	if (len > 0)
		memcpy(b->p + b->len + SEALED_REC_HDR_LEN, value, len);
	b->len = need;
	return 0;
}

void
sealed_buf_free(struct sealed_buf *b)
{
	sealed_free(b->p, b->cap);
	memset(b, 0, sizeof(*b));
}

void
sealed_put_be(uint8_t *p, uint64_t v, size_t n)
{
	while (n-- > 0) {
		p[n] = (uint8_t)v;
		v >>= 8;
	}
}

uint64_t
sealed_get_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = v << 8 | *p++;
	return v;
}

int
sealed_next(const uint8_t *plain, size_t len, size_t *off, struct sealed_rec *rec,
    char *err, size_t errlen)
{
	uint32_t n;

	if (*off == len)
		return 0;
	if (*off > len || len - *off < SEALED_REC_HDR_LEN)
		return kg_seterr(err, errlen, "record header at offset %zu runs past "
		    "the end", *off);
	rec->type = (uint16_t)(plain[*off] << 8 | plain[*off + 1]);
	n = get32(plain + *off + 2);
	if (n > len - *off - SEALED_REC_HDR_LEN)
		return kg_seterr(err, errlen, "record at offset %zu (%u bytes) runs past "
		    "the end", *off, n);
	if (rec->type == 0 || rec->type >= SEALED_REC_MAX)
		return kg_seterr(err, errlen, "record of unknown type %u (a store written "
		    "by a newer release?)", (unsigned)rec->type);
	rec->value = plain + *off + SEALED_REC_HDR_LEN;
	rec->len = n;
	*off += SEALED_REC_HDR_LEN + n;
	return 1;
}

/*
 * Whoever may write the store or its folder may put an older store back,
 * or a device key and a store of their own: both, and their folder, are
 * writable by their owner only.
 */
static int
others_cannot_write(const char *path, const struct stat *file, char *err,
    size_t errlen)
{
	char dir[4096];
	struct stat st;

	if (file != NULL && (file->st_mode & 022) != 0)
		return kg_seterr(err, errlen, "%s is writable by group or others (mode "
		    "%04o): chmod 600 %s", path, (unsigned)(file->st_mode & 07777), path);
	if (kg_strlcpy(dir, path, sizeof(dir)) >= sizeof(dir))
		return kg_seterr(err, errlen, "%s: path too long", path);
	if (stat(dirname(dir), &st) != 0)
		return kg_seterr(err, errlen, "cannot inspect the folder of %s: %s", path,
		    strerror(errno));
	if ((st.st_mode & 022) != 0)
		return kg_seterr(err, errlen, "the folder %s of %s is writable by group "
		    "or others (mode %04o): others could put an older store back; "
		    "chmod 700 %s", dir, path, (unsigned)(st.st_mode & 07777), dir);
	return 0;
}

int
sealed_read_file(const char *path, uint8_t **buf, size_t *len, char *err,
    size_t errlen)
{
	struct stat st;
	uint8_t *b;
	size_t got = 0;
	ssize_t r;
	int fd;

	*buf = NULL;
	*len = 0;
	if (others_cannot_write(path, NULL, err, errlen) != 0)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		if (errno == ENOENT)
			return 1;
		return kg_seterr(err, errlen, "cannot open %s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > SEALED_MAX_FILE) {
		close(fd);
		return kg_seterr(err, errlen, "%s is not a regular file of at most %u bytes",
		    path, (unsigned)SEALED_MAX_FILE);
	}
	if (others_cannot_write(path, &st, err, errlen) != 0) {
		close(fd);
		return -1;
	}
	if ((b = malloc(st.st_size > 0 ? (size_t)st.st_size : 1)) == NULL) {
		close(fd);
		return kg_seterr(err, errlen, "out of memory");
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, b + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != (size_t)st.st_size) {
		free(b);
		return kg_seterr(err, errlen, "cannot read %s", path);
	}
	*buf = b;
	*len = got;
	return 0;
}

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
fsync_dir(const char *path)
{
	char tmp[4096];
	int fd, rv;

	if (kg_strlcpy(tmp, path, sizeof(tmp)) >= sizeof(tmp))
		return -1;
	if ((fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	rv = fsync(fd);
	close(fd);
	return rv;
}

int
sealed_write_atomic(const char *path, const uint8_t *buf, size_t len, char *err,
    size_t errlen)
{
	char tmp[4096];
	int fd, e;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return kg_seterr(err, errlen, "path too long");
	/* A temporary file a crash left behind is only ever a partial write. */
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600)) < 0)
		return kg_seterr(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
	if (write_all(fd, buf, len) != 0 || fsync(fd) != 0) {
		e = errno;
		close(fd);
		unlink(tmp);
		return kg_seterr(err, errlen, "cannot write %s: %s", tmp, strerror(e));
	}
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		e = errno;
		unlink(tmp);
		return kg_seterr(err, errlen, "cannot replace %s: %s", path, strerror(e));
	}
	if (fsync_dir(path) != 0)
		return kg_seterr(err, errlen, "cannot sync the folder of %s: %s", path,
		    strerror(errno));
	return 0;
}

int
sealed_device_key(const char *path, int create, uint8_t key[SEALED_KEY_LEN],
    char *err, size_t errlen)
{
	struct stat st;
	uint8_t *buf;
	size_t len;
	int rv;

	if ((rv = sealed_read_file(path, &buf, &len, err, errlen)) < 0)
		return -1;
	if (rv == 1) {
		if (!create)
			return kg_seterr(err, errlen, "device key %s does not exist", path);
		if (random_bytes(key, SEALED_KEY_LEN) != 0)
			return kg_seterr(err, errlen, "no randomness for the device key");
		if (sealed_write_atomic(path, key, SEALED_KEY_LEN, err, errlen) != 0) {
			kg_zero(key, SEALED_KEY_LEN);
			return -1;
		}
		return 1;
	}
	if (stat(path, &st) != 0 || (st.st_mode & 077) != 0) {
		kg_freezero(buf, len);
		return kg_seterr(err, errlen, "device key %s is open to group or others "
		    "(mode %04o): chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
	}
	if (len != SEALED_KEY_LEN) {
		kg_freezero(buf, len);
		return kg_seterr(err, errlen, "device key %s holds %zu bytes, not %d",
		    path, len, SEALED_KEY_LEN);
	}
	memcpy(key, buf, SEALED_KEY_LEN);
	kg_freezero(buf, len);
	return 0;
}
