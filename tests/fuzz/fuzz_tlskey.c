/*
 * The TLS key process's frame parser is the boundary a relay taken over by
 * the network would attack to reach the private keys: every request
 * decoder gets arbitrary bytes.  A request it accepts must be in range,
 * point inside the input, and encode back to the same bytes; an answer it
 * accepts (the relay's side) must point inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlskey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_sign_request req;
	uint8_t out[TK_SIGN_MAX_LEN];
	const uint8_t *sig;
	const char *why = NULL;
	size_t n, nkeys = size > 0 ? data[size - 1] % 4 : 0, siglen;

	if (tlskey_parse_request(data, size, nkeys, &req, &why) == 0) {
		if (req.key_index >= nkeys || req.hash < data ||
		    req.hash + req.hash_len != data + size)
			abort();
		n = tlskey_encode_request(&req, out, sizeof(out));
		if (n != size || memcmp(out, data, size) != 0)
			abort();
	} else if (why == NULL)
		abort();
	if (tlskey_parse_answer(data, size, &sig, &siglen) == 1 &&
	    (sig != data + 1 || siglen != size - 1 || siglen > TLS_SIG_MAX))
		abort();
	return 0;
}
