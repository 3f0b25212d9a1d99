/*
 * The control frames cross two trust boundaries (a root client to the
 * parent, the parent to the sandboxed keyholder): every decoder gets
 * arbitrary bytes under every frame type; what decodes must re-encode to
 * something that decodes the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctlproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_req req, again;
	struct ctl_result res, res2;
	uint8_t *out;
	size_t n;
	uint16_t t;

	for (t = 0; t <= CTL_MSG_RESULT + 1; t++) {
		if (ctl_req_decode(t, data, size, &req) != 0)
			continue;
		if (req.password != NULL && (req.password < data ||
		    req.password + req.pwlen > data + size))
			abort();
		if (ctl_req_encode(&req, &out, &n) != 0)
			abort();
		if (ctl_req_decode(t, out, n, &again) != 0 || again.kvno != req.kvno ||
		    again.nkeys != req.nkeys || again.pwlen != req.pwlen ||
		    strcmp(again.principal, req.principal) != 0)
			abort();
		free(out);
	}
	if (ctl_result_decode(data, size, &res) == 0) {
		if (res.sealed != NULL && (res.sealed < data ||
		    res.sealed + res.sealed_len > data + size))
			abort();
		if (ctl_result_encode(&res, &out, &n) != 0 ||
		    ctl_result_decode(out, n, &res2) != 0 || res2.status != res.status ||
		    strcmp(res2.text, res.text) != 0)
			abort();
		free(out);
	}
	return 0;
}
