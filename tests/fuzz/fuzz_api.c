/*
 * fuzz_api: management API requests as a client could send them: the
 * first byte picks the route, the rest is the body.  Nothing may crash or
 * leak, every answer must be a JSON object, and a refused request never
 * reaches the keyholder.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"

static int reached;

static int
f_ctl(void *ctx, const struct ctl_req *req, struct ctl_result *res, char *err, size_t errlen)
{
	(void)ctx; (void)req; (void)err; (void)errlen;
	reached = 1;
	memset(res, 0, sizeof(*res));
	res->status = CTL_OK;
	snprintf(res->text, sizeof(res->text), "ok");
	return 0;
}

static void
f_audit(void *ctx, const struct api_client *who, const char *action, uint32_t kvno,
    const char *result)
{
	(void)ctx; (void)who; (void)action; (void)kvno; (void)result;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const routes[][2] = {
		{ "PUT", "/api/v1/credentials/staged" },
		{ "POST", "/api/v1/credentials/staged/verify" },
		{ "POST", "/api/v1/credentials/staged/activate" },
		{ "POST", "/api/v1/credentials/retire" },
		{ "GET", "/api/v1/credentials" },
		{ "POST", "/api/v1/credentials/package" },	/* no keys: refused */
		{ "PUT", "/api/v1/secrets/staged" },
		{ "POST", "/api/v1/secrets/staged/verify" },
		{ "POST", "/api/v1/secrets/staged/activate" },
		{ "POST", "/api/v1/secrets/retire" },
	};
	static const struct api_client who = { "CN=fuzz", "00" };
	struct api_backend be = { f_ctl, f_audit, NULL, NULL, NULL, NULL };
	struct api_request rq;
	struct api_response rs;
	json_t *j;
	size_t r;

	if (size == 0)
		return 0;
	r = data[0] % (sizeof(routes) / sizeof(routes[0]));
	memset(&rq, 0, sizeof(rq));
	rq.method = routes[r][0];
	rq.method_len = strlen(routes[r][0]);
	rq.path = routes[r][1];
	rq.path_len = strlen(routes[r][1]);
	rq.body = (const char *)data + 1;
	rq.body_len = size - 1;
	rq.client = &who;
	reached = 0;
	api_handle(&be, &rq, &rs);
	if (rs.body == NULL || (j = json_loadb(rs.body, rs.body_len, 0, NULL)) == NULL ||
	    !json_is_object(j))
		abort();
	json_decref(j);
	if (rs.status >= 400 && rs.status != 503 && reached)
		abort();
	api_response_free(&rs);
	return 0;
}
