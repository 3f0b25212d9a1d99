/*
 * test_keyholder.c - the keyholder process (keyholder_main) driven over its
 * framed sockets by this test playing the relays, one of which misbehaves,
 * and the parent, which hands it a respawned relay's socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf.h"
#include "ipc.h"
#include "keyholder.h"
#include "khproto.h"
#include "sign.h"
#include "krbmint.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"

#define NRELAYS		2
#define WAIT_MS		20000	/* a bound on a wait, not an assertion */

static struct mint_key key;
static struct conf conf;
/* Not mint_tmpdir(): the keyholder children would remove it as they exit. */
static char dir[] = "/tmp/test_keyholder.XXXXXX";
static char keytab[600], secret[600], confpath[600];

/* The keyholder under test and this process's ends of its sockets. */
struct kh {
	pid_t pid;
	int relay[NRELAYS];
	int ctl;
	struct kg_ipc_reader rd[NRELAYS];
};

static int
group_setup(void **state)
{
	char minted[512], *path = confpath, err[512];
	FILE *f;

	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(keytab, sizeof(keytab), "%s/kh.keytab", dir);
	if (mint_key_from_password(ETYPE_AES256_CTS_HMAC_SHA1_96, 5, MINT_PASSWORD, MINT_SALT,
	    &key) != 0 ||
	    mint_write_keytab("kh.keytab", MINT_ACCOUNT, &key, 1, minted, sizeof(minted)) != 0 ||
	    rename(minted, keytab) != 0)
		return -1;
	snprintf(secret, sizeof(secret), "%s/kh.secret", dir);
	if ((f = fopen(secret, "w")) == NULL)
		return -1;
	fputs("0123456789abcdef0123456789abcdef0123456789abcdef", f);
	fclose(f);
	snprintf(confpath, sizeof(confpath), "%s/kh.json", dir);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	/* Four vhosts; the first and the last (logins of 60 s) route to the
	 * kcd pool, the third requires channel bindings (Extended
	 * Protection).  The KDC is a
	 * loopback address where none listens: delegation fails, quickly. */
	fprintf(f, "{ \"keytab\": \"%s\", \"workers\": 2,\n"
	    "  \"listeners\": [ { \"address\": \"127.0.0.1\", \"port\": 18080 } ],\n"
	    "  \"kcd\": { \"principal\": \"%s\", \"kdcs\": [\"127.0.0.1\"], \"kdc_timeout\": 1 },\n"
	    "  \"vhosts\": [\n"
	    "    { \"name\": \"Mail.corp.contoso.com\", \"spns\": [\"%s\"],\n"
	    "      \"session_cookie\": { \"enabled\": true, \"lifetime\": 600 },\n"
	    "      \"routes\": [ { \"path\": \"/\", \"pool\": \"cas\" },\n"
	    "        { \"path\": \"/owa\", \"pool\": \"plain\" },\n"
	    "        { \"path\": \"/ecp\", \"pool\": \"plain\" },\n"
	    "        { \"path\": \"/open\", \"pool\": \"plain2\", \"auth\": \"none\" } ] },\n"
	    "    { \"name\": \"autod.corp.contoso.com\", \"spns\": [\"%s\"],\n"
	    "      \"routes\": [ { \"path\": \"/\", \"pool\": \"plain\" } ] },\n"
	    "    { \"name\": \"epa.corp.contoso.com\", \"spns\": [\"%s\"],\n"
	    "      \"channel_binding\": \"require\",\n"
	    "      \"routes\": [ { \"path\": \"/\", \"pool\": \"plain\" } ] },\n"
	    "    { \"name\": \"short.corp.contoso.com\", \"spns\": [\"%s\"],\n"
	    "      \"session_cookie\": { \"enabled\": true, \"lifetime\": 60 },\n"
	    "      \"routes\": [ { \"path\": \"/\", \"pool\": \"cas\" } ] } ],\n"
	    "  \"pools\": [\n"
	    "    { \"name\": \"cas\", \"mode\": \"kcd\", \"servers\": [ { \"name\":\n"
	    "      \"cas1.corp.contoso.com\", \"address\": \"127.0.0.1\", \"port\": 18081 } ] },\n"
	    "    { \"name\": \"other\", \"mode\": \"kcd\", \"servers\": [ { \"name\":\n"
	    "      \"cas2.corp.contoso.com\", \"address\": \"127.0.0.1\", \"port\": 18082 } ] },\n"
	    "    { \"name\": \"plain\", \"header_secret_file\": \"%s\",\n"
	    "      \"servers\": [ { \"name\": \"cas3.corp.contoso.com\",\n"
	    "      \"address\": \"127.0.0.1\", \"port\": 18083 } ] },\n"
	    "    { \"name\": \"plain2\", \"header_secret_file\": \"%s\",\n"
	    "      \"servers\": [ { \"name\": \"cas4.corp.contoso.com\",\n"
	    "      \"address\": \"127.0.0.1\", \"port\": 18084 } ] } ] }\n",
	    keytab, MINT_ACCOUNT, MINT_SPN_HTTP, MINT_SPN_AUTOD, MINT_SPN_HTTP,
	    MINT_SPN_HTTP, secret, secret);
	fclose(f);
	if (conf_load(path, &conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "conf: %s\n", err);
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	conf_free(&conf);
	mint_key_free(&key);
	unlink(keytab);
	unlink(secret);
	unlink(confpath);
	rmdir(dir);
	return 0;
}

static const struct sandbox_opts *kh_sandbox;	/* for the next kh_start() */

/* ASan's runtime (LeakSanitizer at exit) makes calls of its own that the
 * daemon, never built with it, does not: no sandboxed case there. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static void
kh_start(struct kh *kh)
{
	struct keyholder_env env;
	int pairs[NRELAYS][2], ctl[2], ends[NRELAYS];
	size_t i;

	for (i = 0; i < NRELAYS; i++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pairs[i]), 0);
		ends[i] = pairs[i][1];
	}
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, ctl), 0);
	if ((kh->pid = fork()) == 0) {
		for (i = 0; i < NRELAYS; i++)
			close(pairs[i][0]);
		close(ctl[0]);
		memset(&env, 0, sizeof(env));
		env.conf = &conf;
		env.relay_fds = ends;
		env.nrelays = NRELAYS;
		env.ctl_fd = ctl[1];
		env.cred_fd = -1;
		env.sandbox = kh_sandbox;
		keyholder_main(&env);
	}
	kh_sandbox = NULL;	/* one keyholder only, whatever the test does */
	assert_true(kh->pid > 0);
	for (i = 0; i < NRELAYS; i++) {
		close(pairs[i][1]);
		kh->relay[i] = pairs[i][0];
		kg_ipc_reader_init(&kh->rd[i]);
	}
	close(ctl[1]);
	kh->ctl = ctl[0];
}

/* Closes our ends (the keyholder then exits by itself) and reaps it. */
static void
kh_stop(struct kh *kh)
{
	int status;
	size_t i;

	for (i = 0; i < NRELAYS; i++) {
		if (kh->relay[i] >= 0)
			close(kh->relay[i]);
		kg_ipc_reader_free(&kh->rd[i]);
	}
	close(kh->ctl);
	assert_int_equal(waitpid(kh->pid, &status, 0), kh->pid);
	assert_true(WIFEXITED(status));
}

static bool
kh_alive(const struct kh *kh)
{
	int status;

	return waitpid(kh->pid, &status, WNOHANG) == 0;
}

/*
 * The next frame from the keyholder to relay i, its payload copied into
 * buf.  Returns 1 with a frame, 0 when the keyholder closed the socket.
 */
static int
next_frame(struct kh *kh, size_t i, struct kg_ipc_frame *f, uint8_t *buf, size_t bufsz)
{
	struct pollfd pfd = { .fd = kh->relay[i], .events = POLLIN };
	int rc;

	for (;;) {
		if ((rc = kg_ipc_next(&kh->rd[i], f)) == 1) {
			assert_true(f->len <= bufsz);
			memcpy(buf, f->payload, f->len);
			f->payload = buf;
			return 1;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
		rc = kg_ipc_read(&kh->rd[i], kh->relay[i]);
		if (rc == KG_ERR_CLOSED)
			return 0;
		assert_true(rc > 0 || rc == KG_ERR_AGAIN);
	}
}

/*
 * Relay i asks for an authentication of tok at vhost, on a connection that
 * is TLS (the relay's binding for its VIP certificate is tls_cb) or plain
 * HTTP (tls_cb NULL).  tok is freed.
 */
static void
ask_auth(struct kh *kh, size_t i, uint32_t id, uint32_t vhost, krb5_data *tok,
    const uint8_t *tls_cb, struct kh_auth_result *res, uint8_t *buf,
    size_t bufsz)
{
	struct kh_auth_req req;
	struct kg_ipc_frame f;
	uint8_t *p;
	size_t n;

	memset(&req, 0, sizeof(req));
	req.vhost = vhost;
	req.ap_req = tok->data;
	req.ap_req_len = tok->length;
	if (tls_cb != NULL) {
		req.has_cb = 1;
		memcpy(req.cb_hash, tls_cb, sizeof(req.cb_hash));
	}
	assert_int_equal(kh_auth_req_encode(&req, &p, &n), 0);
	assert_int_equal(kg_ipc_send(kh->relay[i], KH_MSG_AUTH, id, p, n), KG_OK);
	free(p);
	krb5_data_free(tok);
	assert_int_equal(next_frame(kh, i, &f, buf, bufsz), 1);
	assert_int_equal(f.type, KH_MSG_AUTH_RESULT);
	assert_int_equal(f.id, id);
	assert_int_equal(kh_auth_result_decode(f.payload, f.len, res), 0);
}

/* The same for a fresh token the client bound to bnd (NULL: sent none). */
static void
auth_bound(struct kh *kh, size_t i, uint32_t id, uint32_t vhost,
    const uint8_t *bnd, const uint8_t *tls_cb, struct kh_auth_result *res,
    uint8_t *buf, size_t bufsz)
{
	struct mint_req_spec rs = { .gss_checksum = true, .bnd = bnd };
	krb5_data tok;

	assert_int_equal(mint_simple_token(&key, &rs, &tok), 0);
	ask_auth(kh, i, id, vhost, &tok, tls_cb, res, buf, bufsz);
}

/* Relay i asks for an authentication of a fresh token for vhost 0. */
static void
auth(struct kh *kh, size_t i, uint32_t id, struct kh_auth_result *res, uint8_t *buf,
    size_t bufsz)
{
	auth_bound(kh, i, id, 0, NULL, NULL, res, buf, bufsz);
}

static void
assert_auth_ok(struct kh *kh, size_t i, uint32_t id)
{
	struct kh_auth_result res;
	uint8_t buf[16384];

	auth(kh, i, id, &res, buf, sizeof(buf));
	if (res.status != KH_OK)
		fprintf(stderr, "refused: %s\n", res.reason);
	assert_int_equal(res.status, KH_OK);
	assert_string_equal(res.principal, MINT_CLIENT);
}

/* Relay i sends raw bytes; the keyholder must close its socket. */
static void
assert_dropped_after(struct kh *kh, size_t i, const void *bytes, size_t n)
{
	struct kg_ipc_frame f;
	uint8_t buf[16384];

	assert_int_equal(write(kh->relay[i], bytes, n), (ssize_t)n);
	assert_int_equal(next_frame(kh, i, &f, buf, sizeof(buf)), 0);
}

static void
frame_bytes(uint8_t *out, uint16_t type, uint16_t flags, uint32_t id, const void *p,
    uint32_t len)
{
	struct kg_ipc_hdr h = { len, type, flags, id };

	memcpy(out, &h, sizeof(h));
	memcpy(out + sizeof(h), p, len);
}

/* Every way a relay can send a bad frame: bad payload (of every request
 * type), bad index, unknown type, an answer's type, bad header.  Each time
 * the other relay is still served. */
static void
test_a_malformed_frame_drops_only_the_relay_that_sent_it(void **state)
{
	static const uint8_t junk[5] = { 1, 2, 3, 4, 5 };
	struct kh_auth_req req;
	struct kh_backend_req breq;
	struct kh_cookie_req creq;
	uint8_t frame[KG_IPC_HDR_LEN + 64], *p;
	size_t n;
	struct kh kh;
	int s[2];
	int k;

	(void)state;
	for (k = 0; k < 10; k++) {
		kh_start(&kh);
		assert_auth_ok(&kh, 0, 1);
		switch (k) {
		case 0:		/* an AUTH payload that does not decode */
			frame_bytes(frame, KH_MSG_AUTH, 0, 2, junk, sizeof(junk));
			assert_dropped_after(&kh, 0, frame, KG_IPC_HDR_LEN + sizeof(junk));
			break;
		case 1:		/* a vhost index out of range */
			memset(&req, 0, sizeof(req));
			req.vhost = 7;
			req.ap_req = junk;
			req.ap_req_len = sizeof(junk);
			assert_int_equal(kh_auth_req_encode(&req, &p, &n), 0);
			assert_true(n <= 64);
			frame_bytes(frame, KH_MSG_AUTH, 0, 2, p, (uint32_t)n);
			free(p);
			assert_dropped_after(&kh, 0, frame, KG_IPC_HDR_LEN + n);
			break;
		case 2:		/* a pool index out of range */
			memset(&breq, 0, sizeof(breq));
			breq.pool = 9;
			strcpy(breq.spn, "http/cas1.corp.contoso.com");
			assert_int_equal(kh_backend_req_encode(&breq, &p, &n), 0);
			assert_true(n <= 64);
			frame_bytes(frame, KH_MSG_BACKEND, 0, 2, p, (uint32_t)n);
			free(p);
			assert_dropped_after(&kh, 0, frame, KG_IPC_HDR_LEN + n);
			break;
		case 3:		/* a frame type no relay sends */
			frame_bytes(frame, 0x7777, 0, 2, junk, sizeof(junk));
			assert_dropped_after(&kh, 0, frame, KG_IPC_HDR_LEN + sizeof(junk));
			break;
		case 4:		/* reserved header flags set */
			frame_bytes(frame, KH_MSG_AUTH, 1, 2, junk, sizeof(junk));
			assert_dropped_after(&kh, 0, frame, KG_IPC_HDR_LEN + sizeof(junk));
			break;
		case 5:		/* a cookie for a vhost index out of range */
			memset(&creq, 0, sizeof(creq));
			creq.vhost = 0x10000;
			creq.value = "x";
			creq.value_len = 1;
			assert_int_equal(kh_cookie_req_encode(&creq, &p, &n), 0);
			assert_true(n <= 64);
			frame_bytes(frame, KH_MSG_COOKIE, 0, 2, p, (uint32_t)n);
			free(p);
			assert_dropped_after(&kh, 0, frame, KG_IPC_HDR_LEN + n);
			break;
		case 6:		/* cookie, delegation, verification: junk */
		case 7:
		case 8:
			frame_bytes(frame, k == 6 ? KH_MSG_COOKIE : k == 7 ?
			    KH_MSG_BACKEND : KH_MSG_VERIFY, 0, 2, junk, sizeof(junk));
			assert_dropped_after(&kh, 0, frame, KG_IPC_HDR_LEN + sizeof(junk));
			break;
		case 9:		/* an answer's type, sent to the keyholder */
			frame_bytes(frame, KH_MSG_AUTH_RESULT, 0, 2, junk, sizeof(junk));
			assert_dropped_after(&kh, 0, frame, KG_IPC_HDR_LEN + sizeof(junk));
			break;
		}
		assert_true(kh_alive(&kh));
		assert_auth_ok(&kh, 1, 3);
		assert_auth_ok(&kh, 1, 4);
		(void)s;
		kh_stop(&kh);
	}
}

/*
 * A relay that holds half a frame does not hold up the others, and is
 * answered when the rest comes; one announcing more than the protocol's
 * maximum is dropped before any of the payload arrives.
 */
static void
test_half_a_frame_waits_alone_and_an_oversized_one_is_dropped(void **state)
{
	struct mint_req_spec rs = { .gss_checksum = true };
	struct kh_auth_req req;
	struct kh_auth_result res;
	struct kg_ipc_frame f;
	struct kg_ipc_hdr h;
	uint8_t buf[16384], *p;
	krb5_data tok;
	size_t n;
	struct kh kh;

	(void)state;
	kh_start(&kh);
	assert_int_equal(mint_simple_token(&key, &rs, &tok), 0);
	memset(&req, 0, sizeof(req));
	req.ap_req = tok.data;
	req.ap_req_len = tok.length;
	assert_int_equal(kh_auth_req_encode(&req, &p, &n), 0);
	krb5_data_free(&tok);
	h = (struct kg_ipc_hdr){ (uint32_t)n, KH_MSG_AUTH, 0, 21 };
	assert_int_equal(write(kh.relay[0], &h, sizeof(h)), (ssize_t)sizeof(h));
	assert_int_equal(write(kh.relay[0], p, 5), 5);
	assert_auth_ok(&kh, 1, 22);
	assert_int_equal(write(kh.relay[0], p + 5, n - 5), (ssize_t)(n - 5));
	free(p);
	assert_int_equal(next_frame(&kh, 0, &f, buf, sizeof(buf)), 1);
	assert_int_equal(f.id, 21);
	assert_int_equal(kh_auth_result_decode(f.payload, f.len, &res), 0);
	assert_int_equal(res.status, KH_OK);

	h = (struct kg_ipc_hdr){ KG_IPC_MAX_PAYLOAD + 1, KH_MSG_AUTH, 0, 23 };
	assert_dropped_after(&kh, 0, &h, sizeof(h));
	assert_true(kh_alive(&kh));
	assert_auth_ok(&kh, 1, 24);
	kh_stop(&kh);
}

/* The parent hands the keyholder a respawned relay's socket for the slot. */
static void
respawned_relay_is_served(void)
{
	static const uint8_t junk[KG_IPC_HDR_LEN + 3] = { 3, 0, 0, 0, 0x77, 0x77 };
	struct kh kh;
	int s[2];

	kh_start(&kh);
	assert_dropped_after(&kh, 0, junk, sizeof(junk));
	close(kh.relay[0]);
	kg_ipc_reader_free(&kh.rd[0]);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
	assert_int_equal(kg_ipc_send_fd(kh.ctl, 0, s[1]), KG_OK);
	close(s[1]);
	kh.relay[0] = s[0];
	kg_ipc_reader_init(&kh.rd[0]);
	assert_auth_ok(&kh, 0, 10);
	assert_auth_ok(&kh, 1, 11);
	kh_stop(&kh);
}

static void
test_a_respawned_relay_is_served_in_the_dropped_slot(void **state)
{
	(void)state;
	respawned_relay_is_served();
}

/*
 * The same inside the keyholder's sandbox (chroot to an empty directory
 * when root, seccomp): authentication, and the respawned relay's socket
 * received from the parent (recvmsg with SCM_RIGHTS).  Not under ASan: its
 * runtime makes calls of its own that the daemon never makes.
 */
static void
test_a_sandboxed_keyholder_serves_and_takes_a_respawned_relay(void **state)
{
#ifdef UNDER_ASAN
	(void)state;
	skip();
#else
	char root[] = "/tmp/test_keyholder.XXXXXX";
	struct sandbox_opts o = { .kind = SANDBOX_KEYHOLDER, .root = root };

	(void)state;
	assert_non_null(mkdtemp(root));
	assert_int_equal(sandbox_init(), 0);
	kh_sandbox = &o;
	respawned_relay_is_served();
	rmdir(root);
#endif
}

/* A last relay dropped is not the end: the parent may still respawn it. */
static void
test_the_keyholder_waits_for_the_parent_when_every_relay_is_gone(void **state)
{
	struct kh kh;
	int s[2];

	(void)state;
	kh_start(&kh);
	close(kh.relay[0]);
	close(kh.relay[1]);
	kh.relay[0] = kh.relay[1] = -1;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
	assert_int_equal(kg_ipc_send_fd(kh.ctl, 1, s[1]), KG_OK);
	close(s[1]);
	kh.relay[1] = s[0];
	kg_ipc_reader_free(&kh.rd[1]);
	kg_ipc_reader_init(&kh.rd[1]);
	assert_auth_ok(&kh, 1, 20);
	kh_stop(&kh);
}

/* KH_MSG_BACKEND from relay i for a session and pool; the answer. */
static void
backend(struct kh *kh, size_t i, uint64_t session, uint32_t pool, const char *spn,
    struct kh_backend_result *res, uint8_t *buf, size_t bufsz)
{
	struct kh_backend_req req;
	struct kg_ipc_frame f;
	uint8_t *p;
	size_t n;

	memset(&req, 0, sizeof(req));
	req.session = session;
	req.pool = pool;
	snprintf(req.spn, sizeof(req.spn), "%s", spn);
	assert_int_equal(kh_backend_req_encode(&req, &p, &n), 0);
	assert_int_equal(kg_ipc_send(kh->relay[i], KH_MSG_BACKEND, 77, p, n), KG_OK);
	free(p);
	assert_int_equal(next_frame(kh, i, &f, buf, bufsz), 1);
	assert_int_equal(f.type, KH_MSG_BACKEND_RESULT);
	assert_int_equal(f.id, 77);
	assert_int_equal(kh_backend_result_decode(f.payload, f.len, res), 0);
}

/*
 * Extended Protection is not lost on a plain-HTTP listener.  A token the
 * client bound to a TLS channel (an attacker's, who took it from a client
 * that accepted his certificate) belongs to no plain connection: it must
 * be refused there as on TLS, where it does not match the VIP's binding;
 * and a vhost that requires bindings cannot get them over plain HTTP.
 * Every vhost is served on every listener, so the relay's "no binding
 * known" (plain HTTP) must not turn the check off.
 */
static void
test_bindings_for_another_channel_are_refused_over_plain_http(void **state)
{
	static const uint8_t theirs[16] = { 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
	    0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a };
	static const uint8_t unbound[16] = { 0x44, 0x10, 0x18, 0x52, 0x52, 0x08,
	    0x45, 0x77, 0x05, 0xbf, 0x09, 0xa8, 0xee, 0x3c, 0x10, 0x93 };
	static const uint8_t ours[16] = { 0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a,
	    0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0 };
	struct kh_auth_result res;
	uint8_t buf[16384];
	struct kh kh;

	(void)state;
	kh_start(&kh);
	/* "accept" (vhost 0): the positive controls first. */
	auth_bound(&kh, 0, 1, 0, NULL, NULL, &res, buf, sizeof(buf));
	assert_int_equal(res.status, KH_OK);
	auth_bound(&kh, 0, 2, 0, ours, ours, &res, buf, sizeof(buf));
	assert_int_equal(res.status, KH_OK);
	auth_bound(&kh, 0, 3, 0, theirs, ours, &res, buf, sizeof(buf));
	assert_int_equal(res.status, KH_DENIED);
	assert_int_equal(res.reason_code, KH_R_CHANNEL_BINDING);
	/* The same kind of token over plain HTTP. */
	auth_bound(&kh, 0, 4, 0, theirs, NULL, &res, buf, sizeof(buf));
	assert_int_equal(res.status, KH_DENIED);
	assert_int_equal(res.reason_code, KH_R_CHANNEL_BINDING);
	assert_int_equal(res.ngrants, 0);
	assert_string_equal(res.cookie, "");
	/* The hash of an empty binding structure binds to nothing: none. */
	auth_bound(&kh, 0, 8, 0, unbound, NULL, &res, buf, sizeof(buf));
	assert_int_equal(res.status, KH_OK);
	auth_bound(&kh, 0, 9, 2, unbound, ours, &res, buf, sizeof(buf));
	assert_int_equal(res.status, KH_DENIED);
	assert_int_equal(res.reason_code, KH_R_CHANNEL_BINDING);

	/* "require" (vhost 2): bound to ours on TLS passes; nothing passes
	 * over plain HTTP, bound or not. */
	auth_bound(&kh, 0, 5, 2, ours, ours, &res, buf, sizeof(buf));
	assert_int_equal(res.status, KH_OK);
	auth_bound(&kh, 0, 6, 2, theirs, NULL, &res, buf, sizeof(buf));
	assert_int_equal(res.status, KH_DENIED);
	assert_int_equal(res.reason_code, KH_R_CHANNEL_BINDING);
	auth_bound(&kh, 0, 7, 2, NULL, NULL, &res, buf, sizeof(buf));
	assert_int_equal(res.status, KH_DENIED);
	assert_int_equal(res.reason_code, KH_R_CHANNEL_BINDING);
	kh_stop(&kh);
}

/*
 * A client principal longer than the answer's field (255 bytes; a trusted
 * realm's KDC names its clients as it likes) is refused, never cut: grants
 * and a cookie for the first 255 bytes would sign another name than the
 * one the ticket proved (without its realm, for one), and the back-end
 * would take that name for the user.
 */
static void
test_a_principal_too_long_to_forward_is_refused_not_cut(void **state)
{
	struct mint_ticket_spec ts = { .key = &key };
	struct mint_req_spec rs = { .gss_checksum = true };
	struct kh_auth_result res;
	krb5_creds creds;
	krb5_data ap, tok;
	char client[400];
	uint8_t buf[16384];
	struct kh kh;

	(void)state;
	memset(client, 'a', 300);
	snprintf(client + 300, sizeof(client) - 300, "@%s", MINT_REALM);
	ts.client = client;
	assert_int_equal(mint_ticket(&ts, &creds), 0);
	assert_int_equal(mint_ap_req(&creds, &rs, &ap, NULL), 0);
	assert_int_equal(mint_gss_frame(&ap, false, &tok), 0);
	krb5_data_free(&ap);
	krb5_free_cred_contents(mint_context(), &creds);

	kh_start(&kh);
	ask_auth(&kh, 0, 5, 0, &tok, NULL, &res, buf, sizeof(buf));
	assert_int_not_equal(res.status, KH_OK);
	assert_int_equal(res.ngrants, 0);
	assert_string_equal(res.cookie, "");
	assert_int_equal(res.session, 0);
	/* A short name still logs in. */
	assert_auth_ok(&kh, 0, 6);
	kh_stop(&kh);
}

#define SESSION_GONE "session expired: the client must authenticate again"

/*
 * A session is the relay's that authenticated the user, for the pools of
 * the vhost it authenticated on: another relay, or a kcd pool that vhost
 * does not route to, finds no session.
 */
static void
test_a_delegation_session_serves_only_its_relay_and_its_vhosts_pools(void **state)
{
	struct kh_auth_result ar;
	struct kh_backend_result br;
	uint8_t abuf[16384], bbuf[16384];
	uint64_t session;
	struct kh kh;

	(void)state;
	kh_start(&kh);
	auth(&kh, 0, 1, &ar, abuf, sizeof(abuf));
	assert_int_equal(ar.status, KH_OK);
	assert_true(ar.session != 0);
	session = ar.session;

	backend(&kh, 1, session, 0, "http/cas1.corp.contoso.com", &br, bbuf, sizeof(bbuf));
	assert_int_equal(br.status, KH_B_UNAVAILABLE);
	assert_string_equal(br.reason, SESSION_GONE);

	backend(&kh, 0, session, 1, "http/cas2.corp.contoso.com", &br, bbuf, sizeof(bbuf));
	assert_int_equal(br.status, KH_B_UNAVAILABLE);
	assert_string_equal(br.reason, SESSION_GONE);

	/* Its own relay and pool: on to the KDC (unreachable here). */
	backend(&kh, 0, session, 0, "http/cas1.corp.contoso.com", &br, bbuf, sizeof(bbuf));
	assert_string_not_equal(br.reason, SESSION_GONE);
	kh_stop(&kh);
}

/*
 * A delegation session ends with the login (the vhost's lifetime, 60 s
 * here), not with the ticket (hours): the relay authenticates the user
 * again after the login's end, so only a relay taken over would ask
 * for delegated tokens later, as the user, until the ticket's end.
 * (It waits a minute: the shortest lifetime the configuration allows.)
 */
static void
test_a_delegation_session_ends_with_the_login(void **state)
{
	struct kh_auth_result ar;
	struct kh_backend_result br;
	uint8_t abuf[16384], bbuf[16384];
	uint64_t session, expiry;
	struct kh kh;

	(void)state;
	kh_start(&kh);
	auth_bound(&kh, 0, 1, 3, NULL, NULL, &ar, abuf, sizeof(abuf));
	assert_int_equal(ar.status, KH_OK);
	assert_true(ar.session != 0);
	assert_true(ar.expiry < ar.endtime);	/* the lifetime ends first */
	session = ar.session;
	expiry = ar.expiry;
	backend(&kh, 0, session, 0, "http/cas1.corp.contoso.com", &br, bbuf, sizeof(bbuf));
	assert_string_not_equal(br.reason, SESSION_GONE);
	while ((uint64_t)time(NULL) <= expiry + 1)
		sleep(1);
	backend(&kh, 0, session, 0, "http/cas1.corp.contoso.com", &br, bbuf, sizeof(bbuf));
	assert_int_equal(br.status, KH_B_UNAVAILABLE);
	assert_string_equal(br.reason, SESSION_GONE);
	kh_stop(&kh);
}

/* The header secret's bytes, as the test wrote them. */
#define SECRET_BYTES	"0123456789abcdef0123456789abcdef0123456789abcdef"

/* The grant's key is the documented derivation over the secret and the
 * fields the relay will send (user, vhost in lower case, id, expiry). */
static void
assert_grant_derived(const struct kh_auth_result *res, const struct kh_grant *g)
{
	uint8_t want[SIGN_GRANT_KEY_LEN];
	char id[2 * SIGN_GRANT_ID_LEN + 1];

	sign_hex(g->id, sizeof(g->id), id);
	assert_int_equal(sign_grant_key((const uint8_t *)SECRET_BYTES,
	    strlen(SECRET_BYTES), res->principal, "mail.corp.contoso.com", id,
	    res->expiry, want), 0);
	assert_memory_equal(g->key, want, sizeof(want));
}

/*
 * A login brings one grant per header-mode pool the vhost's negotiate
 * routes use (two routes to "plain": one grant; "plain2" is behind an
 * auth: none route: none; "cas" is kcd: none), ending no later than the
 * ticket and the vhost's lifetime, and a cookie.
 */
static void
test_a_login_brings_a_grant_per_header_pool_and_a_cookie(void **state)
{
	struct kh_auth_result a, b;
	uint8_t buf[16384];
	uint64_t now = (uint64_t)time(NULL);
	struct kh kh;

	(void)state;
	kh_start(&kh);
	auth(&kh, 0, 1, &a, buf, sizeof(buf));
	assert_int_equal(a.status, KH_OK);
	assert_int_equal(a.ngrants, 1);
	assert_int_equal(a.grants[0].pool, 2);
	assert_true(a.expiry <= a.endtime && a.expiry <= now + 601 &&
	    a.expiry >= now + 599);
	assert_grant_derived(&a, &a.grants[0]);
	assert_true(a.cookie[0] != '\0');
	/* A second login: another id, so another key. */
	auth(&kh, 0, 2, &b, buf, sizeof(buf));
	assert_int_equal(b.ngrants, 1);
	assert_memory_not_equal(a.grants[0].id, b.grants[0].id, 16);
	assert_memory_not_equal(a.grants[0].key, b.grants[0].key, 32);
	kh_stop(&kh);
}

static void
cookie_check(struct kh *kh, uint32_t vhost, const char *value,
    struct kh_auth_result *res, uint8_t *buf, size_t bufsz)
{
	struct kh_cookie_req req;
	struct kg_ipc_frame f;
	uint8_t *p;
	size_t n;

	memset(&req, 0, sizeof(req));
	req.vhost = vhost;
	req.value = value;
	req.value_len = strlen(value);
	assert_int_equal(kh_cookie_req_encode(&req, &p, &n), 0);
	assert_int_equal(kg_ipc_send(kh->relay[0], KH_MSG_COOKIE, 9, p, n), KG_OK);
	free(p);
	assert_int_equal(next_frame(kh, 0, &f, buf, bufsz), 1);
	assert_int_equal(f.type, KH_MSG_COOKIE_RESULT);
	assert_int_equal(f.id, 9);
	assert_int_equal(kh_auth_result_decode(f.payload, f.len, res), 0);
}

/*
 * The keyholder's cookie logs its user in again, with fresh grants ending
 * with the cookie; a cookie minted under any other key, or presented to
 * another vhost, is refused with nothing in it.
 */
static void
test_only_the_keyholders_own_cookie_logs_in(void **state)
{
	struct kh_auth_result a, c;
	uint8_t buf[16384], other[32];
	char forged[600];
	struct kh kh;

	(void)state;
	kh_start(&kh);
	auth(&kh, 0, 1, &a, buf, sizeof(buf));
	assert_int_equal(a.status, KH_OK);
	cookie_check(&kh, 0, a.cookie, &c, buf, sizeof(buf));
	assert_int_equal(c.status, KH_OK);
	assert_string_equal(c.principal, a.principal);
	assert_int_equal(c.expiry, a.expiry);
	assert_int_equal(c.ngrants, 1);
	assert_grant_derived(&c, &c.grants[0]);
	assert_true(c.cookie[0] == '\0' && c.session == 0);

	cookie_check(&kh, 1, a.cookie, &c, buf, sizeof(buf));
	assert_int_equal(c.status, KH_DENIED);
	memset(other, 0x5a, sizeof(other));
	assert_int_equal(sign_cookie_issue(other, MINT_CLIENT,
	    "Mail.corp.contoso.com", a.expiry, forged, sizeof(forged)), 0);
	cookie_check(&kh, 0, forged, &c, buf, sizeof(buf));
	assert_int_equal(c.status, KH_DENIED);
	assert_int_equal(c.ngrants, 0);
	assert_string_equal(c.principal, "");
	kh_stop(&kh);
}

/* A dropped relay's sessions go with it: the respawned one cannot use them. */
static void
test_a_dropped_relays_sessions_are_forgotten(void **state)
{
	static const uint8_t junk[KG_IPC_HDR_LEN + 3] = { 3, 0, 0, 0, 0x77, 0x77 };
	struct kh_auth_result ar;
	struct kh_backend_result br;
	uint8_t abuf[16384], bbuf[16384];
	struct kh kh;
	int s[2];

	(void)state;
	kh_start(&kh);
	auth(&kh, 0, 1, &ar, abuf, sizeof(abuf));
	assert_int_equal(ar.status, KH_OK);
	assert_dropped_after(&kh, 0, junk, sizeof(junk));
	close(kh.relay[0]);
	kg_ipc_reader_free(&kh.rd[0]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
	assert_int_equal(kg_ipc_send_fd(kh.ctl, 0, s[1]), KG_OK);
	close(s[1]);
	kh.relay[0] = s[0];
	kg_ipc_reader_init(&kh.rd[0]);
	backend(&kh, 0, ar.session, 0, "http/cas1.corp.contoso.com", &br, bbuf, sizeof(bbuf));
	assert_int_equal(br.status, KH_B_UNAVAILABLE);
	assert_string_equal(br.reason, SESSION_GONE);
	kh_stop(&kh);
}

/*
 * A relay that stops reading its answers (a compromised or wedged one) must
 * not stall the keyholder: the other relays are still answered.
 */
static void
test_a_relay_that_never_reads_does_not_stall_the_others(void **state)
{
	static const uint8_t junk[1] = { 0x60 };
	struct kh_auth_req req;
	struct kh_auth_result res;
	uint8_t *p, frame[KG_IPC_HDR_LEN + 64], buf[16384];
	struct kg_ipc_frame f;
	struct pollfd pfd;
	krb5_data tok;
	struct mint_req_spec rs = { .gss_checksum = true };
	size_t n, sent = 0;
	struct kh kh;
	int fl, rc;

	(void)state;
	kh_start(&kh);
	memset(&req, 0, sizeof(req));
	req.ap_req = junk;
	req.ap_req_len = sizeof(junk);
	assert_int_equal(kh_auth_req_encode(&req, &p, &n), 0);
	frame_bytes(frame, KH_MSG_AUTH, 0, 1, p, (uint32_t)n);
	free(p);
	/* Relay 0 writes requests until the keyholder stops taking them and
	 * never reads an answer. */
	fl = fcntl(kh.relay[0], F_GETFL);
	fcntl(kh.relay[0], F_SETFL, fl | O_NONBLOCK);
	for (;;) {
		if (write(kh.relay[0], frame, KG_IPC_HDR_LEN + n) < 0) {
			assert_true(errno == EAGAIN);
			pfd.fd = kh.relay[0];
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, 2000) == 0)
				break;	/* the keyholder takes no more */
			continue;
		}
		sent++;
	}
	fprintf(stderr, "relay 0 sent %zu requests unread\n", sent);

	/* Relay 1 asks: it must be answered promptly. */
	assert_int_equal(mint_simple_token(&key, &rs, &tok), 0);
	memset(&req, 0, sizeof(req));
	req.ap_req = tok.data;
	req.ap_req_len = tok.length;
	assert_int_equal(kh_auth_req_encode(&req, &p, &n), 0);
	assert_int_equal(kg_ipc_send(kh.relay[1], KH_MSG_AUTH, 9, p, n), KG_OK);
	free(p);
	krb5_data_free(&tok);
	pfd.fd = kh.relay[1];
	pfd.events = POLLIN;
	rc = poll(&pfd, 1, 5000);
	if (rc == 0)
		fprintf(stderr, "relay 1 got no answer in 5 s: the keyholder is "
		    "stuck writing to relay 0\n");
	assert_int_equal(rc, 1);
	assert_int_equal(next_frame(&kh, 1, &f, buf, sizeof(buf)), 1);
	assert_int_equal(kh_auth_result_decode(f.payload, f.len, &res), 0);
	assert_int_equal(res.status, KH_OK);

	/* Relay 0 reads again: every request it sent is answered, in turn. */
	fcntl(kh.relay[0], F_SETFL, fl);
	for (n = 0; n < sent; n++) {
		assert_int_equal(next_frame(&kh, 0, &f, buf, sizeof(buf)), 1);
		assert_int_equal(f.type, KH_MSG_AUTH_RESULT);
		assert_int_equal(kh_auth_result_decode(f.payload, f.len, &res), 0);
		assert_int_equal(res.status, KH_MALFORMED);
	}
	assert_true(kh_alive(&kh));
	kh_stop(&kh);
}

/*
 * The delegation requests waiting for the KDC are shared by every relay:
 * one relay (compromised, or just the busiest) must not take them all and
 * leave the others "keyholder busy".  The KDC here takes requests and never
 * answers, so they all wait.
 */
static void
test_one_relay_cannot_take_every_waiting_delegation_slot(void **state)
{
	struct kh_auth_result ar0, ar1;
	struct kh_backend_result br;
	struct kh_backend_req req;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	uint8_t abuf[16384], bbuf[16384], *p, frame[KG_IPC_HDR_LEN + 128];
	struct kg_ipc_frame f;
	struct pollfd pfd;
	struct conf saved = conf, deaf;
	char path[700], err[512];
	size_t n, sent = 0;
	struct kh kh;
	FILE *fp;
	int udp, tcp, fl;

	(void)state;
	/* A KDC that never answers, on UDP and TCP. */
	udp = socket(AF_INET, SOCK_DGRAM, 0);
	tcp = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(tcp, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(tcp, 64), 0);
	assert_int_equal(getsockname(tcp, (struct sockaddr *)&sin, &slen), 0);
	assert_int_equal(bind(udp, (struct sockaddr *)&sin, sizeof(sin)), 0);

	snprintf(path, sizeof(path), "%s/deaf.json", dir);
	assert_non_null(fp = fopen(path, "w"));
	fprintf(fp, "{ \"keytab\": \"%s\", \"workers\": 2,\n"
	    "  \"listeners\": [ { \"address\": \"127.0.0.1\", \"port\": 18080 } ],\n"
	    "  \"kcd\": { \"principal\": \"%s\", \"kdcs\": [\"127.0.0.1:%u\"], \"kdc_timeout\": 5 },\n"
	    "  \"vhosts\": [\n"
	    "    { \"name\": \"mail.corp.contoso.com\", \"spns\": [\"%s\"],\n"
	    "      \"routes\": [ { \"path\": \"/\", \"pool\": \"cas\" } ] } ],\n"
	    "  \"pools\": [\n"
	    "    { \"name\": \"cas\", \"mode\": \"kcd\", \"servers\": [ { \"name\":\n"
	    "      \"cas1.corp.contoso.com\", \"address\": \"127.0.0.1\", \"port\": 18081 } ] } ] }\n",
	    keytab, MINT_ACCOUNT, (unsigned)ntohs(sin.sin_port), MINT_SPN_HTTP);
	fclose(fp);
	assert_int_equal(conf_load(path, &deaf, err, sizeof(err)), 0);
	conf = deaf;
	kh_start(&kh);
	conf = saved;

	auth(&kh, 0, 1, &ar0, abuf, sizeof(abuf));
	assert_int_equal(ar0.status, KH_OK);
	auth(&kh, 1, 2, &ar1, abuf, sizeof(abuf));
	assert_int_equal(ar1.status, KH_OK);

	/* Relay 0 asks for delegation until the keyholder takes no more. */
	memset(&req, 0, sizeof(req));
	req.session = ar0.session;
	req.pool = 0;
	snprintf(req.spn, sizeof(req.spn), "http/cas1.corp.contoso.com");
	assert_int_equal(kh_backend_req_encode(&req, &p, &n), 0);
	assert_true(n <= 128);
	frame_bytes(frame, KH_MSG_BACKEND, 0, 5, p, (uint32_t)n);
	free(p);
	fl = fcntl(kh.relay[0], F_GETFL);
	fcntl(kh.relay[0], F_SETFL, fl | O_NONBLOCK);
	while (sent < 5000) {
		if (write(kh.relay[0], frame, KG_IPC_HDR_LEN + n) < 0) {
			assert_true(errno == EAGAIN);
			pfd.fd = kh.relay[0];
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, 1000) == 0)
				break;
			continue;
		}
		sent++;
	}
	usleep(300 * 1000);

	/* Relay 1's one request must wait its turn at the KDC, not be
	 * refused for relay 0's. */
	memset(&req, 0, sizeof(req));
	req.session = ar1.session;
	req.pool = 0;
	snprintf(req.spn, sizeof(req.spn), "http/cas1.corp.contoso.com");
	assert_int_equal(kh_backend_req_encode(&req, &p, &n), 0);
	assert_int_equal(kg_ipc_send(kh.relay[1], KH_MSG_BACKEND, 6, p, n), KG_OK);
	free(p);
	assert_int_equal(next_frame(&kh, 1, &f, bbuf, sizeof(bbuf)), 1);
	assert_int_equal(kh_backend_result_decode(f.payload, f.len, &br), 0);
	fprintf(stderr, "relay 0 sent %zu; relay 1 got: %s\n", sent, br.reason);
	assert_null(strstr(br.reason, "keyholder busy"));
	kh_stop(&kh);
	conf_free(&deaf);
	unlink(path);
	close(udp);
	close(tcp);
}

/*
 * A user who logs in again and again (each connection, or a flood of fresh
 * authenticators) keeps one delegation session per relay and vhost: the
 * table's other users' sessions are not pushed out.  The newest login's
 * ticket is the session's evidence.
 */
static void
test_repeated_logins_of_one_user_do_not_evict_other_sessions(void **state)
{
	struct mint_ticket_spec ts = { .key = &key, .client = "mallory@CORP.CONTOSO.COM",
	    .forwardable = true };
	struct mint_req_spec rs = { .gss_checksum = true };
	struct kh_auth_result ar, victim;
	struct kh_backend_result br;
	struct kh_auth_req req;
	struct kg_ipc_frame f;
	uint8_t abuf[16384], bbuf[16384], *p;
	struct conf saved = conf, small;
	char path[700], err[512];
	uint64_t first = 0;
	krb5_creds creds;
	krb5_data ap, tok;
	struct kh kh;
	size_t n;
	FILE *fp;
	int i;

	(void)state;
	snprintf(path, sizeof(path), "%s/small.json", dir);
	assert_non_null(fp = fopen(path, "w"));
	fprintf(fp, "{ \"keytab\": \"%s\", \"workers\": 2,\n"
	    "  \"listeners\": [ { \"address\": \"127.0.0.1\", \"port\": 18080 } ],\n"
	    "  \"kcd\": { \"principal\": \"%s\", \"kdcs\": [\"127.0.0.1\"], \"kdc_timeout\": 1, \"sessions\": 16 },\n"
	    "  \"vhosts\": [\n"
	    "    { \"name\": \"mail.corp.contoso.com\", \"spns\": [\"%s\"],\n"
	    "      \"routes\": [ { \"path\": \"/\", \"pool\": \"cas\" } ] } ],\n"
	    "  \"pools\": [\n"
	    "    { \"name\": \"cas\", \"mode\": \"kcd\", \"servers\": [ { \"name\":\n"
	    "      \"cas1.corp.contoso.com\", \"address\": \"127.0.0.1\", \"port\": 18081 } ] } ] }\n",
	    keytab, MINT_ACCOUNT, MINT_SPN_HTTP);
	fclose(fp);
	assert_int_equal(conf_load(path, &small, err, sizeof(err)), 0);
	conf = small;
	kh_start(&kh);
	conf = saved;

	auth(&kh, 1, 1, &victim, abuf, sizeof(abuf));	/* alice, relay 1 */
	assert_int_equal(victim.status, KH_OK);
	assert_int_equal(mint_ticket(&ts, &creds), 0);
	for (i = 0; i < 40; i++) {		/* mallory, relay 0, 40 logins */
		assert_int_equal(mint_ap_req(&creds, &rs, &ap, NULL), 0);
		assert_int_equal(mint_gss_frame(&ap, false, &tok), 0);
		memset(&req, 0, sizeof(req));
		req.ap_req = tok.data;
		req.ap_req_len = tok.length;
		assert_int_equal(kh_auth_req_encode(&req, &p, &n), 0);
		assert_int_equal(kg_ipc_send(kh.relay[0], KH_MSG_AUTH, 100 + i, p, n), KG_OK);
		free(p);
		krb5_data_free(&ap);
		krb5_data_free(&tok);
		assert_int_equal(next_frame(&kh, 0, &f, abuf, sizeof(abuf)), 1);
		assert_int_equal(kh_auth_result_decode(f.payload, f.len, &ar), 0);
		assert_int_equal(ar.status, KH_OK);
		assert_string_equal(ar.principal, "mallory@CORP.CONTOSO.COM");
		if (i == 0)
			first = ar.session;
		assert_true(ar.session == first);	/* one session, refreshed */
	}
	krb5_free_cred_contents(mint_context(), &creds);
	backend(&kh, 1, victim.session, 0, "http/cas1.corp.contoso.com", &br, bbuf,
	    sizeof(bbuf));
	assert_string_not_equal(br.reason, SESSION_GONE);
	kh_stop(&kh);
	conf_free(&small);
	unlink(path);
}

/*
 * replay_cache_per_principal reaches the keyholder's replay cache: a user
 * over it is refused as unavailable (503), with its own metrics label and
 * words naming the user and the key; another user still gets in.
 */
static void
test_a_user_over_the_replay_quota_is_refused_alone(void **state)
{
	struct mint_ticket_spec ts = { .key = &key, .client = "mallory@CORP.CONTOSO.COM" };
	struct mint_req_spec rs = { .gss_checksum = true };
	struct kh_auth_result ar;
	struct kh_auth_req req;
	struct kg_ipc_frame f;
	uint8_t abuf[16384], *p;
	struct conf saved = conf, quota;
	char path[700], err[512];
	krb5_creds creds;
	krb5_data ap, tok;
	struct kh kh;
	size_t n;
	FILE *fp;
	int i;

	(void)state;
	snprintf(path, sizeof(path), "%s/quota.json", dir);
	assert_non_null(fp = fopen(path, "w"));
	fprintf(fp, "{ \"keytab\": \"%s\", \"replay_cache_per_principal\": 3,\n"
	    "  \"listeners\": [ { \"address\": \"127.0.0.1\", \"port\": 18080 } ],\n"
	    "  \"vhosts\": [\n"
	    "    { \"name\": \"mail.corp.contoso.com\", \"spns\": [\"%s\"],\n"
	    "      \"routes\": [ { \"path\": \"/\", \"pool\": \"cas\" } ] } ],\n"
	    "  \"pools\": [\n"
	    "    { \"name\": \"cas\", \"header_secret_file\": \"%s\", \"servers\": [ { \"name\":\n"
	    "      \"cas1.corp.contoso.com\", \"address\": \"127.0.0.1\", \"port\": 18081 } ] } ] }\n",
	    keytab, MINT_SPN_HTTP, secret);
	fclose(fp);
	if (conf_load(path, &quota, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	conf = quota;
	kh_start(&kh);
	conf = saved;

	assert_int_equal(mint_ticket(&ts, &creds), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(mint_ap_req(&creds, &rs, &ap, NULL), 0);
		assert_int_equal(mint_gss_frame(&ap, false, &tok), 0);
		memset(&req, 0, sizeof(req));
		req.ap_req = tok.data;
		req.ap_req_len = tok.length;
		assert_int_equal(kh_auth_req_encode(&req, &p, &n), 0);
		assert_int_equal(kg_ipc_send(kh.relay[0], KH_MSG_AUTH, 100 + i, p, n), KG_OK);
		free(p);
		krb5_data_free(&ap);
		krb5_data_free(&tok);
		assert_int_equal(next_frame(&kh, 0, &f, abuf, sizeof(abuf)), 1);
		assert_int_equal(kh_auth_result_decode(f.payload, f.len, &ar), 0);
		if (i < 3)
			assert_int_equal(ar.status, KH_OK);
	}
	assert_int_equal(ar.status, KH_UNAVAILABLE);
	assert_int_equal(ar.reason_code, KH_R_REPLAY_QUOTA);
	assert_string_equal(kh_reason_label(ar.reason_code), "replay_quota");
	assert_non_null(strstr(ar.reason, "mallory@CORP.CONTOSO.COM"));
	assert_non_null(strstr(ar.reason, "(quota 3)"));
	assert_non_null(strstr(ar.reason, "replay_cache_per_principal"));
	krb5_free_cred_contents(mint_context(), &creds);
	assert_auth_ok(&kh, 1, 1);		/* another user */
	kh_stop(&kh);
	conf_free(&quota);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_malformed_frame_drops_only_the_relay_that_sent_it),
		cmocka_unit_test(test_half_a_frame_waits_alone_and_an_oversized_one_is_dropped),
		cmocka_unit_test(test_a_respawned_relay_is_served_in_the_dropped_slot),
		cmocka_unit_test(test_a_sandboxed_keyholder_serves_and_takes_a_respawned_relay),
		cmocka_unit_test(test_the_keyholder_waits_for_the_parent_when_every_relay_is_gone),
		cmocka_unit_test(test_a_delegation_session_serves_only_its_relay_and_its_vhosts_pools),
		cmocka_unit_test(test_a_login_brings_a_grant_per_header_pool_and_a_cookie),
		cmocka_unit_test(test_only_the_keyholders_own_cookie_logs_in),
		cmocka_unit_test(test_a_dropped_relays_sessions_are_forgotten),
		cmocka_unit_test(test_a_relay_that_never_reads_does_not_stall_the_others),
		cmocka_unit_test(test_one_relay_cannot_take_every_waiting_delegation_slot),
		cmocka_unit_test(test_repeated_logins_of_one_user_do_not_evict_other_sessions),
		cmocka_unit_test(test_a_user_over_the_replay_quota_is_refused_alone),
		cmocka_unit_test(test_bindings_for_another_channel_are_refused_over_plain_http),
		cmocka_unit_test(test_a_delegation_session_ends_with_the_login),
		cmocka_unit_test(test_a_principal_too_long_to_forward_is_refused_not_cut),
	};

	signal(SIGPIPE, SIG_IGN);
	log_init("test_keyholder", 1, 0);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
