/*
 * The web listener's own parsers, on arbitrary bytes: the Cookie header,
 * Origin against Host, kerbgated's /metrics text, and a keytab file an
 * admin uploads.  None may read out of bounds; a keytab either fails with
 * a message or gives JSON that parses.  (The routes' JSON bodies: fuzz_web.)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "keytab.h"
#include "util.h"
#include "webparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
each(void *arg, const char *labels, size_t llen, double v)
{
	char out[64];

	(void)v;
	*(size_t *)arg += llen;
	web_prom_label(labels, llen, "reason", out, sizeof(out));
	web_prom_label(labels, llen, "server", out, sizeof(out));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *v;
	char *json = NULL, err[256], *copy;
	size_t len, total = 0, half = size / 2;
	json_t *j;

	/* exact-size heap copies: ASan sees any read past the end */
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, s, size);
	if (web_cookie(copy, size, "__Host-kgsid", &v, &len) &&
	    (v < copy || v + len > copy + size))
		abort();
	web_same_origin(copy, half, copy + half, size - half);
	web_prom_sum(copy, size, "kerbgate_auth_failures_total", "reason=\"x\"");
	web_prom_each(copy, size, "kerbgate_backend_up", each, &total);
	if (keytab_to_stage_json((const uint8_t *)copy, size, &json, &len, err,
	    sizeof(err)) == 0) {
		if ((j = json_loads(json, 0, NULL)) == NULL)
			abort();
		json_decref(j);
		kg_freezero(json, len);
	} else if (json != NULL || strlen(err) == 0)
		abort();
	free(copy);
	return 0;
}
