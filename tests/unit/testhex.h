/*
 * testhex.h: hex text to bytes, for the known-answer vectors of the tests.
 */
#ifndef KG_TEST_TESTHEX_H
#define KG_TEST_TESTHEX_H

#include <stddef.h>
#include <stdint.h>

/* n bytes from 2n hex digits; 0, or -1 at the first pair that is not hex. */
static inline int
test_hex(const char *h, uint8_t *out, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int hi = h[2 * i], lo = h[2 * i + 1], v[2], j;
		int c[2] = { hi, lo };

		for (j = 0; j < 2; j++) {
			if (c[j] >= '0' && c[j] <= '9')
				v[j] = c[j] - '0';
			else if (c[j] >= 'a' && c[j] <= 'f')
				v[j] = c[j] - 'a' + 10;
			else
				return -1;
		}
		out[i] = (uint8_t)(v[0] << 4 | v[1]);
	}
	return 0;
}

#endif
