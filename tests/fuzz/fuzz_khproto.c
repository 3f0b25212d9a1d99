/*
 * The keyholder's side of the IPC is the boundary a compromised relay would
 * attack: every frame decoder gets arbitrary bytes.  A decoded frame's
 * pointers must lie inside the input, and re-encoding it must decode again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "khproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
inside(const void *p, size_t n, const uint8_t *data, size_t size)
{
	const uint8_t *b = p;

	if (p != NULL && (b < data || b + n > data + size))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kh_auth_req ar;
	static struct kh_auth_result as;
	struct kh_backend_req br, br2;
	struct kh_backend_result bs;
	struct kh_verify_req vr;
	struct kh_verify_result vs;
	struct kh_cookie_req cr;
	static struct kh_auth_result as2;
	uint8_t *out;
	size_t n;

	if (kh_auth_req_decode(data, size, &ar) == 0) {
		inside(ar.ap_req, ar.ap_req_len, data, size);
		inside(ar.mech_list, ar.mech_list_len, data, size);
		inside(ar.client_mic, ar.client_mic_len, data, size);
	}
	if (kh_auth_result_decode(data, size, &as) == 0) {
		inside(as.ap_rep, as.ap_rep_len, data, size);
		inside(as.krb_error, as.krb_error_len, data, size);
		/* Grants and cookie only with KH_OK, and they survive a
		 * round trip unchanged. */
		if (as.ngrants > KH_MAX_GRANTS || (as.status != KH_OK &&
		    (as.ngrants > 0 || as.cookie[0] != '\0')))
			abort();
		if (kh_auth_result_encode(&as, &out, &n) != 0)
			abort();
		if (kh_auth_result_decode(out, n, &as2) != 0 ||
		    as2.ngrants != as.ngrants || as2.expiry != as.expiry ||
		    strcmp(as2.cookie, as.cookie) != 0 ||
		    memcmp(as2.grants, as.grants, sizeof(as.grants)) != 0)
			abort();
		free(out);
	}
	if (kh_cookie_req_decode(data, size, &cr) == 0) {
		inside(cr.value, cr.value_len, data, size);
		if (cr.value_len == 0 || cr.value_len > KH_MAX_COOKIE)
			abort();
	}
	if (kh_backend_req_decode(data, size, &br) == 0) {
		inside(br.cb, br.cb_len, data, size);
		if (kh_backend_req_encode(&br, &out, &n) != 0)
			abort();
		if (kh_backend_req_decode(out, n, &br2) != 0 ||
		    br2.session != br.session || strcmp(br2.spn, br.spn) != 0)
			abort();
		free(out);
	}
	if (kh_backend_result_decode(data, size, &bs) == 0)
		inside(bs.token, bs.token_len, data, size);
	if (kh_verify_req_decode(data, size, &vr) == 0)
		inside(vr.token, vr.token_len, data, size);
	(void)kh_verify_result_decode(data, size, &vs);
	return 0;
}
