/*
 * The sealed store is read at every start: a file damaged on disk (or
 * written by someone with the device key) must be refused, never crash the
 * keyholder.  The input is tried as a file image (header checks, GCM with a
 * fixed key) and as an opened plaintext (the record parser and credential
 * records, pool secret, cookie key and TLS key records); a plaintext that
 * decodes must encode and decode to the same store.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "credstore.h"
#include "sealedstore.h"
#include "secretstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The secret records: decoded, encoded, decoded again to the same. */
static void
secrets(const uint8_t *data, size_t size)
{
	struct secretstore *ss, *again;
	struct sealed_buf b = { 0 };
	char err[256];
	size_t i;

	if ((ss = secretstore_new(60)) == NULL || (again = secretstore_new(60)) == NULL)
		abort();
	if (secretstore_decode(ss, data, size, err, sizeof(err)) == 0) {
		if (secretstore_encode(ss, &b) != 0 ||
		    secretstore_decode(again, b.p, b.len, err, sizeof(err)) != 0 ||
		    again->n != ss->n)
			abort();
		for (i = 0; i < ss->n; i++) {
			const struct secret_entry *x = &ss->e[i], *y = &again->e[i];

			if (x->kind != y->kind || x->ver != y->ver || x->state != y->state ||
			    strcmp(x->name, y->name) != 0 || x->len != y->len ||
			    x->keylen != y->keylen || x->superseded_at != y->superseded_at ||
			    memcmp(x->val, y->val, x->len) != 0)
				abort();
		}
	} else if (ss->n != 0)
		abort();
	sealed_buf_free(&b);
	secretstore_free(again);
	secretstore_free(ss);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[SEALED_KEY_LEN] = { 0x42 };
	struct credstore *cs, *again;
	struct sealed_buf b = { 0 };
	uint8_t *plain;
	size_t plen, i;
	char err[256];

	if (sealed_open(key, data, size, &plain, &plen, err, sizeof(err)) == 0)
		sealed_free(plain, plen);
	if ((cs = credstore_new(60)) == NULL || (again = credstore_new(60)) == NULL)
		abort();
	if (credstore_decode(cs, data, size, err, sizeof(err)) == 0) {
		if (credstore_encode(cs, 1, &b) != 0 ||
		    credstore_decode(again, b.p, b.len, err, sizeof(err)) != 0 ||
		    again->n != cs->n)
			abort();
		for (i = 0; i < cs->n; i++)
			if (memcmp(&cs->e[i], &again->e[i], sizeof(cs->e[i])) != 0)
				abort();
	} else if (cs->n != 0)
		abort();
	sealed_buf_free(&b);
	credstore_free(again);
	credstore_free(cs);
	secrets(data, size);
	return 0;
}
