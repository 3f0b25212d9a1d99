/*
 * The web listener's routes on arbitrary requests: the bytes are parsed as
 * an HTTP request by kerbgated's parser (as server.c does) and handed to
 * web_handle() with a live session (cookie "a" x 64, token "b" x 64), so that the JSON bodies of login, setup
 * and the certificate, the Cookie and Origin checks, the CSRF check and the
 * routing all see them.  No password check costs an argon2 hash here (the
 * stored hashes are not argon2id strings), kerbgated is absent (the control
 * call fails), and every answer must be a status with a body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "util.h"
#include "web.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct web w;
static struct api_backend be;

static int
no_ctl(void *ctx, const struct ctl_req *req, struct ctl_result *res, char *err,
    size_t errlen)
{
	(void)ctx;
	(void)req;
	(void)res;
	return kg_seterr(err, errlen, "kerbgated is not running");
}

static void
no_audit(void *ctx, const struct api_client *who, const char *action, uint32_t kvno,
    const char *result)
{
	(void)ctx;
	(void)who;
	(void)action;
	(void)kvno;
	(void)result;
}

static time_t
fixed_now(void)
{
	return 1000000;
}

static void
init(void)
{
	static char dir[] = "/tmp/kg-fuzzweb.XXXXXX";

	if (mkdtemp(dir) == NULL)
		abort();
	memset(&w, 0, sizeof(w));
	w.conf.state_dir = dir;
	w.conf.www = dir;
	w.conf.upload_dir = dir;
	w.conf.release_file = "/nonexistent";
	snprintf(w.cert, sizeof(w.cert), "%s/device.pem", dir);
	snprintf(w.key, sizeof(w.key), "%s/device.key", dir);
	be.ctl = no_ctl;
	be.audit = no_audit;
	w.now = fixed_now;
	web_init(&w, &be, -1, -1);
}

/* A live session the inputs can name: id "a" x 64, CSRF token "b" x 64. */
static void
known_session(void)
{
	struct session *s = &w.sessions.s[0];

	memset(s->id, 'a', SESSION_ID_HEX);
	memset(s->csrf, 'b', SESSION_ID_HEX);
	s->id[SESSION_ID_HEX] = s->csrf[SESSION_ID_HEX] = '\0';
	s->created = s->last_seen = fixed_now();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct http_header hdrs[64];
	struct http_head head;
	struct web_request rq;
	struct web_response rs;
	char *copy;
	size_t blen;

	if (!ready) {
		init();
		ready = 1;
	}
	/* odd first byte: before the first setup; even: a password is set */
	kg_strlcpy(w.admin_hash, size > 0 && (data[0] & 1) ? "" : "not-argon2", sizeof(w.admin_hash));
	kg_strlcpy(w.setup_hash, "not-argon2", sizeof(w.setup_hash));
	ratelimit_init(&w.rl);
	known_session();
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	memset(&head, 0, sizeof(head));
	if (http_parse_request(copy, size, NULL, hdrs, 64, &head) <= 0 ||
	    head.body == HTTP_BODY_CHUNKED) {
		free(copy);
		return 0;
	}
	blen = size - head.head_len;
	if (head.has_content_length && head.content_length < blen)
		blen = (size_t)head.content_length;
	memset(&rq, 0, sizeof(rq));
	rq.head = &head;
	rq.body = copy + head.head_len;
	rq.body_len = blen;
	rq.peer = "192.0.2.1";
	web_handle(&w, &rq, &rs);
	if (rs.status < 200 || rs.status > 599 || (rs.body == NULL && rs.body_len != 0))
		abort();
	web_response_free(&rs);
	free(copy);
	return 0;
}
