/*
 * webpass.c: the web admin's password and setup code (webpass.h).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <argon2.h>

#include "util.h"
#include "privfile.h"
#include "webpass.h"

/* 31 symbols: letters and digits without the look-alikes 0, O, 1, I, L. */
static const char code_alphabet[] = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

int
webpass_hash(const char *pw, size_t len, char *out, size_t outlen)
{
	uint8_t salt[16];
	int rc;

	if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt))
		return -1;
	rc = argon2id_hash_encoded(WEBPASS_T_COST, WEBPASS_M_COST_KIB, 1, pw, len,
	    salt, sizeof(salt), 32, out, outlen);
	return rc == ARGON2_OK ? 0 : -1;
}

int
webpass_verify(const char *encoded, const char *pw, size_t len)
{
	if (strncmp(encoded, "$argon2id$", 10) != 0)
		return 0;
	return argon2id_verify(encoded, pw, len) == ARGON2_OK;
}

int
webpass_policy(const char *pw, size_t len, char *err, size_t errlen)
{
	int lower = 0, upper = 0, digit = 0, other = 0;
	size_t i;

	if (len < WEBPASS_MIN_LEN || len > WEBPASS_MAX_LEN)
		return kg_seterr(err, errlen, "the password must be %d to %d characters "
		    "long", WEBPASS_MIN_LEN, WEBPASS_MAX_LEN);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)pw[i];

		if (c < 0x20 || c == 0x7f)
			return kg_seterr(err, errlen, "the password must not contain "
			    "control characters");
		lower |= islower(c) != 0;
		upper |= isupper(c) != 0;
		digit |= isdigit(c) != 0;
		other |= !isalnum(c);
	}
	if (lower + upper + digit + other < 2)
		return kg_seterr(err, errlen, "the password must mix at least two of: "
		    "lower case, upper case, digits, other characters");
	return 0;
}

int
webpass_make_code(char *out, size_t outlen)
{
	uint8_t r[WEBPASS_CODE_LEN];
	size_t i, o = 0;

	if (outlen < WEBPASS_CODE_LEN + 3 || getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	for (i = 0; i < WEBPASS_CODE_LEN; i++) {
		if (i > 0 && i % 4 == 0)
			out[o++] = '-';
		/* 31 symbols: reject the top of the byte range to stay uniform */
		while (r[i] >= 248)
			if (getrandom(&r[i], 1, 0) != 1)
				return -1;
		out[o++] = code_alphabet[r[i] % 31];
	}
	out[o] = '\0';
	kg_zero(r, sizeof(r));
	return 0;
}

int
webpass_normalise_code(const char *in, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		char c = (char)toupper((unsigned char)in[i]);

		if (c == '-' || c == ' ')
			continue;
		if (strchr(code_alphabet, c) == NULL || c == '\0' || o + 1 >= outlen)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return o == WEBPASS_CODE_LEN ? 0 : -1;
}

int
webpass_read(const char *dir, const char *name, char *out, size_t outlen)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, out, outlen - 1);
	close(fd);
	if (n <= 0)
		return -1;
	out[n] = '\0';
	out[strcspn(out, "\r\n")] = '\0';
	return 0;
}

int
webpass_write(const char *dir, const char *name, const char *text, uid_t uid,
    gid_t gid, char *err, size_t errlen)
{
	char path[PATH_MAX], line[512];
	int n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	n = snprintf(line, sizeof(line), "%s\n", text);
	if (n < 0 || (size_t)n >= sizeof(line))
		return kg_seterr(err, errlen, "%s: the text is too long", path);
	n = kg_write_private(path, line, (size_t)n, uid, gid, err, errlen);
	kg_zero(line, sizeof(line));
	return n;
}

int
webpass_unlink(const char *dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}
