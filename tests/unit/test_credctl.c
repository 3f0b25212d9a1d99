/*
 * test_credctl.c: rotation inside the keyholder, driven over its control
 * socketpair as the parent drives it: the keytab imported into a sealed
 * store, a staged password's keys accepting tickets at once (AD's salt,
 * checked against tickets a "KDC" made), the lifecycle's refusals, the
 * sealed images handed back, and a restart from the store.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "acceptor.h"
#include "conf.h"
#include "credctl.h"
#include "ctlproto.h"
#include "ipc.h"
#include "krbmint.h"
#include "util.h"
#include "sealedstore.h"
#include "secretctl.h"

static const char *const spns[] = { MINT_SPN_HTTP };
static struct conf conf;
static struct mint_key k5, k6, k7;
static char keytab[256];

static int
setup(void **state)
{
	(void)state;
	if (mint_key_from_password(ETYPE_AES256_CTS_HMAC_SHA1_96, 5, "pw-kvno5",
	    MINT_SALT, &k5) || mint_key_from_password(ETYPE_AES256_CTS_HMAC_SHA1_96, 6,
	    "pw-kvno6", MINT_SALT, &k6) ||
	    mint_key_from_password(ETYPE_AES256_CTS_HMAC_SHA1_96, 7, "pw-kvno7",
	    MINT_SALT, &k7))
		return -1;
	{
		struct mint_key both[2] = { k5, k6 };

		if (mint_write_keytab("ctl.keytab", MINT_ACCOUNT, both, 2, keytab,
		    sizeof(keytab)) != 0)
			return -1;
	}
	memset(&conf, 0, sizeof(conf));
	kg_strlcpy(conf.keytab, keytab, sizeof(conf.keytab));
	snprintf(conf.cred_store, sizeof(conf.cred_store), "%s/keys.sealed",
	    mint_tmpdir());
	snprintf(conf.cred_device_key, sizeof(conf.cred_device_key), "%s/device.key",
	    mint_tmpdir());
	conf.cred_retention_s = 600;
	conf.kcd_timeout_s = 1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	mint_key_free(&k5);
	mint_key_free(&k6);
	mint_key_free(&k7);
	return 0;
}

struct rig {
	struct kg_acceptor *acc;
	struct credctl *cc;
	int sv[2];
};

static int
rig_up(struct rig *g, char *err, size_t errlen)
{
	if (acceptor_new(&g->acc, 64, err, errlen) != 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, g->sv) != 0)
		return -1;
	acceptor_set_replay_quota(g->acc, 0);
	g->cc = credctl_new(&conf, g->acc, spns, 1, g->sv[1], err, errlen);
	return g->cc != NULL ? 0 : -1;
}

static void
rig_down(struct rig *g)
{
	credctl_free(g->cc);
	acceptor_free(g->acc);
	close(g->sv[0]);
	close(g->sv[1]);
}

/* One request as the parent sends it; the keyholder's answer (and the
 * store it carries written, as the parent writes it). */
static uint32_t
ask(struct rig *g, const struct ctl_req *req, struct ctl_result *res,
    size_t *sealed_len)
{
	struct kg_ipc_reader rd;
	struct kg_ipc_frame f;
	uint8_t *p;
	size_t n;
	int pfd, vfd;

	assert_int_equal(ctl_req_encode(req, &p, &n), 0);
	assert_int_equal(kg_ipc_send(g->sv[0], req->type, 42, p, n), KG_OK);
	free(p);
	assert_int_equal(credctl_parent_readable(g->cc), 0);
	/* Verification and a password's key derivation run on the thread. */
	if (req->type == CTL_MSG_VERIFY ||
	    (req->type == CTL_MSG_STAGE && req->password != NULL)) {
		credctl_fds(g->cc, &pfd, &vfd);
		assert_true(vfd >= 0);
		credctl_verify_readable(g->cc);	/* blocks until the thread answers */
	}
	kg_ipc_reader_init(&rd);
	while (kg_ipc_next(&rd, &f) == 0)
		assert_true(kg_ipc_read(&rd, g->sv[0]) > 0);
	assert_int_equal(f.type, CTL_MSG_RESULT);
	assert_int_equal(f.id, 42);
	assert_int_equal(ctl_result_decode(f.payload, f.len, res), 0);
	*sealed_len = res->sealed_len;
	/* As the parent: the store the answer carries is written. */
	if (res->sealed != NULL)
		assert_int_equal(sealed_write_atomic(conf.cred_store, res->sealed,
		    res->sealed_len, NULL, 0), 0);
	res->sealed = NULL;
	kg_ipc_reader_free(&rd);
	print_message("answer %u: %s\n", res->status, res->text);
	return res->status;
}

static bool
accepts(struct rig *g, const struct mint_key *k)
{
	struct mint_ticket_spec ts = { .key = k };
	struct mint_req_spec rs = { .gss_checksum = true };
	struct accept_params p = { .spns = spns, .nspns = 1, .clock_skew = 300 };
	struct accept_result res;
	krb5_creds creds;
	krb5_data ap, tok;
	int rc;

	assert_int_equal(mint_ticket(&ts, &creds), 0);
	assert_int_equal(mint_ap_req(&creds, &rs, &ap, NULL), 0);
	assert_int_equal(mint_gss_frame(&ap, false, &tok), 0);
	rc = acceptor_accept(g->acc, tok.data, tok.length, &p, &res);
	acceptor_result_clear(&res);
	krb5_data_free(&ap);
	krb5_data_free(&tok);
	krb5_free_cred_contents(mint_context(), &creds);
	return rc == 0;
}

static void
text_has(const struct ctl_result *r, const char *needle)
{
	if (strstr(r->text, needle) == NULL)
		fail_msg("\"%s\" does not say \"%s\"", r->text, needle);
}

static void
test_rotation_over_the_control_socket(void **state)
{
	struct ctl_req req;
	struct ctl_result *res = calloc(1, sizeof(*res));
	struct rig g;
	struct stat st;
	size_t sealed;
	char err[512];

	(void)state;
	assert_non_null(res);
	unlink(conf.cred_store);
	assert_int_equal(rig_up(&g, err, sizeof(err)), 0);
	/* The keytab imported: 6 active, 5 retained; the store 0600. */
	assert_int_equal(credctl_active_kvno(g.cc), 6);
	assert_int_equal(stat(conf.cred_store, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_true(accepts(&g, &k5) && accepts(&g, &k6) && !accepts(&g, &k7));

	/* Staged from the password with AD's salt: accepted at once. */
	memset(&req, 0, sizeof(req));
	req.type = CTL_MSG_STAGE;
	strcpy(req.principal, MINT_ACCOUNT);
	req.kvno = 7;
	req.password = (const uint8_t *)"pw-kvno7";
	req.pwlen = 8;
	assert_int_equal(ask(&g, &req, res, &sealed), CTL_OK);
	text_has(res, "staged kvno 7");
	assert_true(sealed > SEALED_HEADER_LEN);	/* the parent writes it */
	assert_true(accepts(&g, &k7) && accepts(&g, &k6));
	assert_int_equal(credctl_active_kvno(g.cc), 6);

	/* Lower kvno; activation before verification. */
	req.kvno = 4;
	assert_int_equal(ask(&g, &req, res, &sealed), CTL_REFUSED);
	text_has(res, "kvno 4 is not above the active kvno 6");
	assert_int_equal(sealed, 0);
	memset(&req, 0, sizeof(req));
	req.type = CTL_MSG_ACTIVATE;
	req.kvno = 7;
	assert_int_equal(ask(&g, &req, res, &sealed), CTL_REFUSED);
	text_has(res, "kvno 7 is staged, not verified");
	/* No KDC here: verification fails and activates nothing. */
	req.type = CTL_MSG_VERIFY;
	assert_int_equal(ask(&g, &req, res, &sealed), CTL_FAILED);
	text_has(res, "kvno 7 NOT verified");
	assert_int_equal(credctl_active_kvno(g.cc), 6);

	/* The list names kvnos and states, never key bytes. */
	req.type = CTL_MSG_LIST;
	assert_int_equal(ask(&g, &req, res, &sealed), CTL_OK);
	text_has(res, "7     staged");
	text_has(res, "6     active");
	text_has(res, "5     retained");
	assert_null(memmem(res->text, strlen(res->text), k7.key.keyvalue.data, 4));

	/* Retired: its tickets are refused. */
	req.type = CTL_MSG_RETIRE;
	assert_int_equal(ask(&g, &req, res, &sealed), CTL_OK);
	assert_false(accepts(&g, &k7));
	req.kvno = 6;
	assert_int_equal(ask(&g, &req, res, &sealed), CTL_REFUSED);
	text_has(res, "kvno 6 is active");
	rig_down(&g);
	free(res);
}

static void
test_restart_reads_the_store_and_refuses_a_tampered_one(void **state)
{
	struct rig g;
	uint8_t *img;
	size_t len;
	char err[512];
	FILE *f;

	(void)state;
	unlink(conf.cred_store);
	assert_int_equal(rig_up(&g, err, sizeof(err)), 0);
	rig_down(&g);
	/* The keytab is not read again: the store serves. */
	snprintf(conf.keytab, sizeof(conf.keytab), "/nonexistent/asa.keytab");
	assert_int_equal(rig_up(&g, err, sizeof(err)), 0);
	assert_int_equal(credctl_active_kvno(g.cc), 6);
	assert_true(accepts(&g, &k5) && accepts(&g, &k6));
	rig_down(&g);
	/* One byte changed: the keyholder does not start. */
	assert_int_equal(sealed_read_file(conf.cred_store, &img, &len, err,
	    sizeof(err)), 0);
	img[len - 1] ^= 1;
	assert_non_null(f = fopen(conf.cred_store, "w"));
	assert_int_equal(fwrite(img, 1, len, f), len);
	fclose(f);
	free(img);
	assert_int_equal(rig_up(&g, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "does not authenticate: tampered with"));
	assert_non_null(strstr(err, "move it aside to import the keytab"));
	acceptor_free(g.acc);
	close(g.sv[0]);
	close(g.sv[1]);
	kg_strlcpy(conf.keytab, keytab, sizeof(conf.keytab));
}

/*
 * No keytab, no store (an appliance before its first credential): the
 * keyholder starts with none, accepts nothing, takes the ASA's first
 * credential from a stage request and refuses another account's.
 */
static void
test_empty_start_takes_the_first_credential_by_stage(void **state)
{
	struct ctl_req req;
	struct ctl_result *res = calloc(1, sizeof(*res));
	struct rig g;
	size_t sealed;
	char err[512];

	(void)state;
	assert_non_null(res);
	unlink(conf.cred_store);
	conf.keytab[0] = '\0';
	/* Without the ASA's name the keyholder does not know its realm. */
	assert_int_equal(rig_up(&g, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "set kcd.principal"));
	acceptor_free(g.acc);
	close(g.sv[0]);
	close(g.sv[1]);
	kg_strlcpy(conf.kcd_principal, MINT_ACCOUNT, sizeof(conf.kcd_principal));
	assert_int_equal(rig_up(&g, err, sizeof(err)), 0);
	assert_int_equal(credctl_active_kvno(g.cc), 0);
	assert_false(accepts(&g, &k5));

	memset(&req, 0, sizeof(req));
	req.type = CTL_MSG_STAGE;
	strcpy(req.principal, "OTHER$@" MINT_REALM);
	req.kvno = 7;
	req.password = (const uint8_t *)"pw-kvno7";
	req.pwlen = 8;
	assert_int_equal(ask(&g, &req, res, &sealed), CTL_REFUSED);
	text_has(res, "serves as " MINT_ACCOUNT " (kcd.principal)");
	assert_int_equal(sealed, 0);
	strcpy(req.principal, MINT_ACCOUNT);
	assert_int_equal(ask(&g, &req, res, &sealed), CTL_OK);
	text_has(res, "staged kvno 7");
	assert_true(sealed > SEALED_HEADER_LEN);	/* the parent writes it */
	assert_true(accepts(&g, &k7) && !accepts(&g, &k5));
	memset(&req, 0, sizeof(req));
	req.type = CTL_MSG_LIST;
	assert_int_equal(ask(&g, &req, res, &sealed), CTL_OK);
	text_has(res, "7     staged");
	rig_down(&g);
	free(res);
	kg_strlcpy(conf.keytab, keytab, sizeof(conf.keytab));
	conf.kcd_principal[0] = '\0';
}

static void
write_file(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

static void
fill(uint8_t *p, size_t n, uint32_t seed)
{
	while (n-- > 0) {
		seed = seed * 1103515245u + 12345u;
		*p++ = (uint8_t)(seed >> 16);
	}
}

/*
 * A pool's header secret is imported from its file once, then comes from
 * the store (the file changed afterwards is not used); the cookie key is
 * made once and kept.  Both are replaced by stage, verify, activate over
 * the control socket: nothing changes before activation, a secret of too
 * little entropy fails verification, the old cookie key stays next to the
 * new one, and no answer carries a byte of either.
 */
static void
test_pool_secret_and_cookie_key_in_the_store(void **state)
{
	struct conf_pool pool;
	struct ctl_req req;
	struct ctl_result *res = calloc(1, sizeof(*res));
	struct rig g;
	const struct grant_secrets *gs;
	const uint8_t *ck[4];
	uint8_t a[48], b[48], zeros[48] = { 0 }, cookie1[32];
	size_t sealed;
	char err[512], file[300];

	(void)state;
	assert_non_null(res);
	fill(a, sizeof(a), 1);
	fill(b, sizeof(b), 2);
	snprintf(file, sizeof(file), "%s/pool.secret", mint_tmpdir());
	write_file(file, a, sizeof(a));
	memset(&pool, 0, sizeof(pool));
	strcpy(pool.name, "cas");
	pool.mode = CONF_MODE_HEADER;
	kg_strlcpy(pool.header_secret_file, file, sizeof(pool.header_secret_file));
	conf.pools = &pool;
	conf.npools = 1;
	unlink(conf.cred_store);
	assert_int_equal(rig_up(&g, err, sizeof(err)), 0);
	gs = secretctl_grants(credctl_secrets(g.cc));
	assert_int_equal(gs->s[0].len, 48);
	assert_memory_equal(gs->s[0].b, a, 48);
	assert_int_equal(secretctl_cookie_keys(credctl_secrets(g.cc), ck, 4), 1);
	memcpy(cookie1, ck[0], 32);
	rig_down(&g);

	/* The file changed: the store's secret serves, and the same cookie key. */
	write_file(file, b, sizeof(b));
	assert_int_equal(rig_up(&g, err, sizeof(err)), 0);
	gs = secretctl_grants(credctl_secrets(g.cc));
	assert_memory_equal(gs->s[0].b, a, 48);
	assert_int_equal(secretctl_cookie_keys(credctl_secrets(g.cc), ck, 4), 1);
	assert_memory_equal(ck[0], cookie1, 32);

	/* Zeros: staged, but verification refuses them. */
	memset(&req, 0, sizeof(req));
	req.type = CTL_MSG_SECRET_STAGE;
	req.kind = SECRET_POOL;
	strcpy(req.name, "cas");
	req.secret = zeros;
	req.secretlen = sizeof(zeros);
	assert_int_equal(ask(&g, &req, res, &sealed), CTL_OK);
	text_has(res, "staged pool cas version 2");
	req.type = CTL_MSG_SECRET_VERIFY;
	req.kvno = 2;
	assert_int_equal(ask(&g, &req, res, &sealed), CTL_FAILED);
	text_has(res, "NOT verified");
	text_has(res, "bits of entropy");
	/* A pool the configuration lacks. */
	req.type = CTL_MSG_SECRET_STAGE;
	strcpy(req.name, "nosuch");
	assert_int_equal(ask(&g, &req, res, &sealed), CTL_REFUSED);
	text_has(res, "no header-mode pool \"nosuch\"");

	/* b: staged (not used yet), activation refused before verify. */
	strcpy(req.name, "cas");
	req.secret = b;
	assert_int_equal(ask(&g, &req, res, &sealed), CTL_OK);
	text_has(res, "version 3");
	assert_true(sealed > SEALED_HEADER_LEN);
	assert_memory_equal(gs->s[0].b, a, 48);
	req.type = CTL_MSG_SECRET_ACTIVATE;
	req.kvno = 3;
	assert_int_equal(ask(&g, &req, res, &sealed), CTL_REFUSED);
	text_has(res, "verify it first");
	req.type = CTL_MSG_SECRET_VERIFY;
	assert_int_equal(ask(&g, &req, res, &sealed), CTL_OK);
	req.type = CTL_MSG_SECRET_ACTIVATE;
	assert_int_equal(ask(&g, &req, res, &sealed), CTL_OK);
	assert_memory_equal(gs->s[0].b, b, 48);
	req.type = CTL_MSG_SECRET_RETIRE;
	assert_int_equal(ask(&g, &req, res, &sealed), CTL_REFUSED);	/* active */

	/* The cookie key: made here; the old one kept after the new one. */
	memset(&req, 0, sizeof(req));
	req.type = CTL_MSG_SECRET_STAGE;
	req.kind = SECRET_COOKIE;
	assert_int_equal(ask(&g, &req, res, &sealed), CTL_OK);
	text_has(res, "staged cookie key version 2");
	req.kvno = 2;
	req.type = CTL_MSG_SECRET_VERIFY;
	assert_int_equal(ask(&g, &req, res, &sealed), CTL_OK);
	req.type = CTL_MSG_SECRET_ACTIVATE;
	assert_int_equal(ask(&g, &req, res, &sealed), CTL_OK);
	text_has(res, "still opens the cookies it made");
	assert_int_equal(secretctl_cookie_keys(credctl_secrets(g.cc), ck, 4), 2);
	assert_memory_not_equal(ck[0], cookie1, 32);
	assert_memory_equal(ck[1], cookie1, 32);

	/* The lists: kinds, versions, states; no byte of a value. */
	memset(&req, 0, sizeof(req));
	req.type = CTL_MSG_SECRET_LIST;
	assert_int_equal(ask(&g, &req, res, &sealed), CTL_OK);
	text_has(res, "pool   cas");
	text_has(res, "retained");
	assert_null(memmem(res->text, strlen(res->text), b, 4));
	req.type = CTL_MSG_LIST_JSON;
	assert_int_equal(ask(&g, &req, res, &sealed), CTL_OK);
	text_has(res, "\"secrets\":[");
	text_has(res, "\"kind\":\"cookie\"");
	rig_down(&g);

	/* Restarted: from the store, the new secret and both cookie keys. */
	assert_int_equal(rig_up(&g, err, sizeof(err)), 0);
	assert_memory_equal(secretctl_grants(credctl_secrets(g.cc))->s[0].b, b, 48);
	assert_int_equal(secretctl_cookie_keys(credctl_secrets(g.cc), ck, 4), 2);
	assert_memory_equal(ck[1], cookie1, 32);
	rig_down(&g);
	conf.pools = NULL;
	conf.npools = 0;
	free(res);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rotation_over_the_control_socket),
		cmocka_unit_test(test_restart_reads_the_store_and_refuses_a_tampered_one),
		cmocka_unit_test(test_empty_start_takes_the_first_credential_by_stage),
		cmocka_unit_test(test_pool_secret_and_cookie_key_in_the_store),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
