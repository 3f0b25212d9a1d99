/*
 * test_conf.c: the example in docs/examples/kerbgated.json loads as
 * docs/config.md describes it; omitted keys get the documented defaults;
 * every mistake is refused with a message naming the JSON path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <generated/autoconf.h>

#include "conf.h"
#include "util.h"

#define EXAMPLE		"docs/examples/kerbgated.json"
#define EXAMPLE_SECRET	"/etc/kerbgate/cas.secret"
#define SECRET_TOKEN	"@SECRET@"

static char tmpdir[64], json_path[128], secret_path[128], short_path[128];
static char long_path[128];

static void
write_file(const char *path, const char *text, size_t len)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static int
setup_dir(void **state)
{
	kg_strlcpy(tmpdir, "/tmp/kgconf.XXXXXX", sizeof(tmpdir));
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(json_path, sizeof(json_path), "%s/kerbgated.json", tmpdir);
	snprintf(secret_path, sizeof(secret_path), "%s/cas.secret", tmpdir);
	snprintf(short_path, sizeof(short_path), "%s/short.secret", tmpdir);
	/* 32 random-looking bytes, as `head -c 32 /dev/urandom` makes. */
	write_file(secret_path, "0123456789abcdef0123456789ABCDEF", 32);
	write_file(short_path, "tooshort\n", 9);
	snprintf(long_path, sizeof(long_path), "%s/long.secret", tmpdir);
	write_file(long_path, "0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef\n", 65);
	chmod(secret_path, 0600);
	return 0;
}

static int
teardown_dir(void **state)
{
	unlink(json_path);
	unlink(secret_path);
	unlink(short_path);
	unlink(long_path);
	rmdir(tmpdir);
	return 0;
}

/* Replaces every `from` in text by `to`; the caller frees. */
static char *
replace_all(const char *text, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), n = 0;
	const char *p;
	char *out, *o;

	for (p = text; (p = strstr(p, from)) != NULL; p += fl)
		n++;
	out = malloc(strlen(text) + n * tl + 1);
	assert_non_null(out);
	for (o = out, p = text; ; ) {
		const char *q = strstr(p, from);
		if (q == NULL) {
			strcpy(o, p);
			break;
		}
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, to, tl);
		o += tl;
		p = q + fl;
	}
	return out;
}

/* Loads text (with @SECRET@ standing for the temp secret file). */
static int
load_text(const char *text, struct conf *c, char *err, size_t errlen)
{
	char *t = replace_all(text, SECRET_TOKEN, secret_path);

	write_file(json_path, t, strlen(t));
	free(t);
	err[0] = '\0';
	return conf_load(json_path, c, err, errlen);
}

static char *
read_example(void)
{
	FILE *fp = fopen(EXAMPLE, "r");
	char *buf;
	long n;

	if (fp == NULL)
		fail_msg("%s: run the test from the top of the tree", EXAMPLE);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n > 0);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void
load_example(struct conf *c)
{
	char err[256], *text = read_example(), *t;

	/* The example's secret path is the appliance's; use ours. */
	assert_non_null(strstr(text, EXAMPLE_SECRET));
	t = replace_all(text, EXAMPLE_SECRET, SECRET_TOKEN);
	if (load_text(t, c, err, sizeof(err)) != 0)
		fail_msg("example does not load: %s", err);
	free(t);
	free(text);
}

/* A minimal valid configuration with one spot to vary. */
#define MINIMAL(listener_extra, vhost_extra, pool_extra, route_pool)	\
	"{ \"keytab\": \"/etc/kerbgate/k.keytab\",\n"			\
	"  \"listeners\": [ { \"address\": \"10.77.0.100\", \"port\": 80"	\
	listener_extra " } ],\n"					\
	"  \"pools\": [ { \"name\": \"cas\", "				\
	"\"header_secret_file\": \"" SECRET_TOKEN "\", " pool_extra	\
	"\"servers\": [ { \"address\": \"10.77.0.41\", \"port\": 80 },"	\
	" { \"address\": \"10.77.0.42\", \"port\": 80 } ] } ],\n"	\
	"  \"vhosts\": [ { \"name\": \"mail.corp.contoso.com\", "	\
	"\"spns\": [ \"http/mail.corp.contoso.com\" ], " vhost_extra	\
	"\"routes\": [ { \"path\": \"/\", \"pool\": \"" route_pool "\" } ] } ] }\n"

static void
expect_error(const char *text, const char *want)
{
	struct conf c;
	char err[256];

	assert_int_equal(load_text(text, &c, err, sizeof(err)), KG_ERR_CONFIG);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" does not contain \"%s\"", err, want);
	/* The message names the file first. */
	assert_memory_equal(err, json_path, strlen(json_path));
}

/* ---------------------------------------------------------- example */

static void
test_example_loads(void **state)
{
	struct conf c;

	load_example(&c);
	assert_int_equal(c.nlisteners, 2);
	assert_string_equal(c.listeners[0].text, "10.77.0.100:80");
	assert_false(c.listeners[0].tls);
	assert_string_equal(c.listeners[1].text, "10.77.0.100:443");
	assert_true(c.listeners[1].tls);
	assert_true(c.admin_enabled);
	assert_string_equal(c.admin.text, "127.0.0.1:9180");
	assert_false(c.allow_rc4);
	assert_int_equal(c.nvhosts, 3);
	assert_int_equal(c.npools, 1);
	conf_free(&c);
}

static void
test_example_pool_is_header_mode_with_user_persistence(void **state)
{
	struct conf c;
	const struct conf_pool *p;

	load_example(&c);
	p = &c.pools[0];
	assert_string_equal(p->name, "cas");
	assert_int_equal(p->mode, CONF_MODE_HEADER);
	assert_int_equal(p->persist, CONF_PERSIST_USER);
	assert_int_equal(p->balance, CONF_BALANCE_LEAST_CONN);
	/* The path only: the keyholder reads the bytes (grant.h). */
	assert_string_equal(p->header_secret_file, secret_path);
	assert_null(memmem(c.pools, c.npools * sizeof(*c.pools),
	    "0123456789abcdef", 16));
	assert_int_equal(p->nservers, 2);
	assert_string_equal(p->servers[0].text, "cas1.corp.contoso.com");
	assert_string_equal(p->servers[1].name, "cas2.corp.contoso.com");
	assert_string_equal(p->health.path, "/health");
	assert_int_equal(p->health.interval_ms, 5000);
	assert_int_equal(p->health.timeout_ms, 2000);
	assert_int_equal(p->health.fall, 3);
	assert_false(p->tls);
	conf_free(&c);
}

static void
test_example_outlook_vhost_serves_http_and_exchange_spns(void **state)
{
	struct conf c;
	const struct conf_vhost *v;
	int i;

	load_example(&c);
	i = conf_vhost_find(&c, "outlook.corp.contoso.com", 24);
	assert_true(i >= 0);
	v = &c.vhosts[i];
	assert_int_equal(v->nspns, 4);
	assert_string_equal(v->spns[0], "http/outlook.corp.contoso.com");
	assert_string_equal(v->spns[1], "exchangeMDB/outlook.corp.contoso.com");
	assert_false(v->cookie);
	conf_free(&c);
}

static void
test_example_long_poll_routes_have_long_timeouts(void **state)
{
	struct conf c;
	const struct conf_vhost *v;
	const struct conf_route *r;
	const char *t;

	load_example(&c);
	v = &c.vhosts[conf_vhost_find(&c, "mail.corp.contoso.com", 21)];
	assert_true(v->cookie);
	assert_int_equal(v->cookie_lifetime_s, 3600);
	t = "/rpc/rpcproxy.dll?cas1.corp.contoso.com:6001";
	r = conf_route_find(v, t, strlen(t));
	assert_non_null(r);
	assert_string_equal(r->path, "/rpc");
	assert_int_equal(r->first_byte_timeout_ms, 86400000);
	assert_int_equal(r->idle_timeout_ms, 3600000);
	t = "/Microsoft-Server-ActiveSync?Cmd=Ping&User=alice";
	r = conf_route_find(v, t, strlen(t));
	assert_string_equal(r->path, "/Microsoft-Server-ActiveSync");
	assert_int_equal(r->first_byte_timeout_ms, 3600000);
	t = "/mapi/emsmdb/?MailboxId=x";
	r = conf_route_find(v, t, strlen(t));
	assert_string_equal(r->path, "/mapi");
	t = "/owa/auth/logon.aspx";
	r = conf_route_find(v, t, strlen(t));
	assert_string_equal(r->path, "/owa");
	assert_int_equal(r->first_byte_timeout_ms, 0);	/* the pool's */
	t = "/ecp/";
	r = conf_route_find(v, t, strlen(t));
	assert_string_equal(r->path, "/");
	conf_free(&c);
}

static void
test_example_vhosts_are_found_by_host_header(void **state)
{
	struct conf c;

	load_example(&c);
	assert_true(conf_vhost_find(&c, "MAIL.corp.contoso.com:443", 25) >= 0);
	assert_true(conf_vhost_find(&c, "autod.corp.contoso.com.", 23) >= 0);
	assert_int_equal(conf_vhost_find(&c, "10.77.0.100", 11), -1);
	assert_int_equal(conf_vhost_find(&c, "mail.corp.contoso.co", 20), -1);
	/* A port is digits: anything else after ':' names no vhost. */
	assert_true(conf_vhost_find(&c, "mail.corp.contoso.com:", 22) >= 0);
	assert_int_equal(conf_vhost_find(&c, "mail.corp.contoso.com:x", 23), -1);
	assert_int_equal(conf_vhost_find(&c, "mail.corp.contoso.com:443,evil", 30), -1);
	assert_int_equal(conf_vhost_find(&c, "mail.corp.contoso.com:4:3", 25), -1);
	conf_free(&c);
}

/* ---------------------------------------------------------- defaults */

static void
test_omitted_keys_get_the_documented_defaults(void **state)
{
	struct conf c;
	char err[256];
	const struct conf_pool *p;
	const struct conf_vhost *v;

	if (load_text(MINIMAL("", "", "", "cas"), &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(c.relay_user, CONFIG_KERBGATED_USER);
	assert_string_equal(c.keyholder_user, CONFIG_KERBGATED_KEYHOLDER_USER);
	assert_int_equal(c.workers, 0);
	assert_int_equal(c.clock_skew_s, 300);
	assert_true(c.allow_rc4);
	assert_int_equal(c.replay_entries, CONFIG_KERBGATED_REPLAY_CACHE_ENTRIES);
	assert_int_equal(c.replay_per_principal, CONF_REPLAY_QUOTA_AUTO);
	assert_int_equal(c.max_header_bytes,
	    CONFIG_KERBGATED_MAX_HEADER_BYTES + 8192);
	assert_int_equal(c.max_headers, 100);
	assert_int_equal(c.max_connections, 10000);
	assert_int_equal(c.header_timeout_ms, 10000);
	assert_int_equal(c.idle_timeout_ms, 60000);
	assert_int_equal(c.max_connections_per_source, 0);	/* off */
	assert_false(c.admin_enabled);
	assert_false(c.listeners[0].tls);
	p = &c.pools[0];
	assert_int_equal(p->mode, CONF_MODE_HEADER);
	assert_int_equal(p->balance, CONF_BALANCE_ROUND_ROBIN);
	assert_int_equal(p->persist, CONF_PERSIST_NONE);
	assert_int_equal(p->connect_timeout_ms, 5000);
	assert_int_equal(p->first_byte_timeout_ms, 60000);
	assert_string_equal(p->health.path, "/");
	assert_int_equal(p->health.expect_status, 200);
	assert_int_equal(p->health.interval_ms, 2000);
	assert_int_equal(p->health.timeout_ms, 1000);
	assert_int_equal(p->health.rise, 2);
	assert_int_equal(p->health.fall, 2);
	assert_string_equal(p->servers[0].text, "10.77.0.41:80");
	v = &c.vhosts[0];
	assert_int_equal(v->channel_binding, CONF_CB_ACCEPT);
	assert_false(v->cookie);
	assert_int_equal(v->cookie_lifetime_s, 3600);
	assert_int_equal(v->naliases, 0);
	assert_int_equal(v->routes[0].auth, CONF_AUTH_NEGOTIATE);
	assert_int_equal(v->routes[0].idle_timeout_ms, 0);
	conf_free(&c);
}

/* ---------------------------------------------------------- mistakes */

static void
test_wrong_type_names_the_server_and_key(void **state)
{
	char *t = replace_all(MINIMAL("", "", "", "cas"),
	    "\"address\": \"10.77.0.42\", \"port\": 80",
	    "\"address\": \"10.77.0.42\", \"port\": \"eighty\"");

	expect_error(t, ": pools[0].servers[1].port: expected an integer "
	    "from 1 to 65535, got \"eighty\"");
	free(t);
}

static void
test_unknown_key_is_refused_with_a_suggestion(void **state)
{
	expect_error(MINIMAL(", \"prot\": 443", "", "", "cas"),
	    ": listeners[0]: unknown key 'prot' (did you mean 'port'?)");
}

static void
test_max_connections_per_source_is_read_and_bounded(void **state)
{
	struct conf c;
	char err[256];
	char *t = replace_all(MINIMAL("", "", "", "cas"), "{ \"keytab\"",
	    "{ \"limits\": { \"max_connections_per_source\": 64 }, \"keytab\"");

	if (load_text(t, &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(c.max_connections_per_source, 64);
	conf_free(&c);
	free(t);
	t = replace_all(MINIMAL("", "", "", "cas"), "{ \"keytab\"",
	    "{ \"limits\": { \"max_connections_per_source\": -1 }, \"keytab\"");
	expect_error(t, "limits.max_connections_per_source");
	free(t);
}

static void
test_credentials_defaults_and_refusals(void **state)
{
	struct conf c;
	char err[256];
	char *t;

	(void)state;
	if (load_text(MINIMAL("", "", "", "cas"), &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(c.cred_store, "");
	assert_string_equal(c.cred_control_socket, "");
	assert_int_equal(c.cred_retention_s, 36000 + 300);
	conf_free(&c);
	t = replace_all(MINIMAL("", "", "", "cas"), "{ \"keytab\"",
	    "{ \"clock_skew\": 120, \"credentials\": { \"store\": \"/data/keys.sealed\", "
	    "\"control_socket\": \"/run/kerbgate/control.sock\" }, \"keytab\"");
	if (load_text(t, &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(c.cred_store, "/data/keys.sealed");
	assert_string_equal(c.cred_device_key, "/data/device.key");
	assert_string_equal(c.cred_control_socket, "/run/kerbgate/control.sock");
	assert_int_equal(c.cred_retention_s, 36000 + 120);
	conf_free(&c);
	free(t);
	t = replace_all(MINIMAL("", "", "", "cas"), "{ \"keytab\"",
	    "{ \"credentials\": { \"store\": \"keys.sealed\" }, \"keytab\"");
	expect_error(t, "credentials.store: must be an absolute path");
	free(t);
	t = replace_all(MINIMAL("", "", "", "cas"), "{ \"keytab\"",
	    "{ \"credentials\": { \"retention\": 10 }, \"keytab\"");
	expect_error(t, "credentials.retention");
	free(t);
}

/*
 * Without a keytab the keyholder starts with no credential and takes it from
 * the management API: only with a sealed store to keep it in, and with
 * kcd.principal naming the account (its realm is the SPNs').
 */
static void
test_keytab_optional_with_a_store_and_the_asa(void **state)
{
	static const char keytab[] = "\"keytab\": \"/etc/kerbgate/k.keytab\",";
	struct conf c;
	char err[256];
	char *t;

	(void)state;
	t = replace_all(MINIMAL("", "", "", "cas"), keytab,
	    "\"credentials\": { \"store\": \"/data/keys.sealed\" }, "
	    "\"kcd\": { \"principal\": \"EXCHASA$@CORP.CONTOSO.COM\" },");
	if (load_text(t, &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(c.keytab, "");
	assert_string_equal(c.cred_store, "/data/keys.sealed");
	conf_free(&c);
	free(t);
	t = replace_all(MINIMAL("", "", "", "cas"), keytab, "");
	expect_error(t, "keytab: required unless credentials.store is set");
	free(t);
	t = replace_all(MINIMAL("", "", "", "cas"), keytab,
	    "\"credentials\": { \"store\": \"/data/keys.sealed\" },");
	expect_error(t, "keytab: without a keytab, set kcd.principal");
	free(t);
}

static void
test_sandbox_is_on_by_default_and_read(void **state)
{
	struct conf c;
	char err[256];
	char *t;

	(void)state;
	if (load_text(MINIMAL("", "", "", "cas"), &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_true(c.sandbox_enabled);
	assert_string_equal(c.sandbox_root, "/var/empty/kerbgate");
	assert_false(c.sandbox_test_trigger);
	conf_free(&c);
	t = replace_all(MINIMAL("", "", "", "cas"), "{ \"keytab\"",
	    "{ \"sandbox\": { \"enabled\": false, \"root\": \"/srv/empty\", "
	    "\"test_trigger\": true }, \"keytab\"");
	if (load_text(t, &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_false(c.sandbox_enabled);
	assert_string_equal(c.sandbox_root, "/srv/empty");
	assert_true(c.sandbox_test_trigger);
	conf_free(&c);
	free(t);
	t = replace_all(MINIMAL("", "", "", "cas"), "{ \"keytab\"",
	    "{ \"sandbox\": { \"root\": \"var/empty\" }, \"keytab\"");
	expect_error(t, "sandbox.root");
	free(t);
	t = replace_all(MINIMAL("", "", "", "cas"), "{ \"keytab\"",
	    "{ \"sandbox\": { \"chroot\": \"/x\" }, \"keytab\"");
	expect_error(t, "unknown key 'chroot'");
	free(t);
}

static void
test_replay_cache_per_principal_is_read_and_bounded(void **state)
{
	static const char *const ok[] = { "0", "1", "4096", "4194304" };
	static const unsigned want[] = { 0, 1, 4096, 4194304 };
	static const char *const bad[] = { "-1", "4194305", "\"64\"", "1.5" };
	struct conf c;
	char err[256], key[80];
	char *t;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(key, sizeof(key), "{ \"replay_cache_per_principal\": %s, \"keytab\"",
		    ok[i]);
		t = replace_all(MINIMAL("", "", "", "cas"), "{ \"keytab\"", key);
		if (load_text(t, &c, err, sizeof(err)) != 0)
			fail_msg("%s: %s", ok[i], err);
		assert_int_equal(c.replay_per_principal, want[i]);
		conf_free(&c);
		free(t);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(key, sizeof(key), "{ \"replay_cache_per_principal\": %s, \"keytab\"",
		    bad[i]);
		t = replace_all(MINIMAL("", "", "", "cas"), "{ \"keytab\"", key);
		expect_error(t, "replay_cache_per_principal");
		free(t);
	}
}

static void
test_unknown_top_level_key_is_refused(void **state)
{
	char *t = replace_all(MINIMAL("", "", "", "cas"), "{ \"keytab\"",
	    "{ \"allow_rc5\": true, \"keytab\"");

	expect_error(t, "unknown key 'allow_rc5'");
	free(t);
}

static void
test_route_naming_a_missing_pool_is_refused(void **state)
{
	expect_error(MINIMAL("", "", "", "exchange"),
	    ": vhosts[0].routes[0].pool: no pool is named \"exchange\"");
}

/* Two vhosts claiming one host name: the second would be unreachable by
 * Host yet still named by its cookies. */
#define TWO_VHOSTS(second_name, second_aliases)				\
	"{ \"keytab\": \"/etc/kerbgate/k.keytab\",\n"			\
	"  \"listeners\": [ { \"address\": \"10.77.0.100\", \"port\": 80 } ],\n" \
	"  \"pools\": [ { \"name\": \"cas\", "				\
	"\"header_secret_file\": \"" SECRET_TOKEN "\", "			\
	"\"servers\": [ { \"address\": \"10.77.0.41\", \"port\": 80 } ] } ],\n" \
	"  \"vhosts\": [ { \"name\": \"mail.corp.contoso.com\", "	\
	"\"spns\": [ \"http/mail.corp.contoso.com\" ], "			\
	"\"routes\": [ { \"path\": \"/\", \"pool\": \"cas\" } ] },\n"	\
	"    { \"name\": \"" second_name "\", \"aliases\": [ " second_aliases " ], " \
	"\"spns\": [ \"http/autod.corp.contoso.com\" ], "		\
	"\"routes\": [ { \"path\": \"/\", \"pool\": \"cas\" } ] } ] }\n"

static void
test_a_host_name_claimed_by_two_vhosts_is_refused(void **state)
{
	struct conf c;
	char err[256];

	(void)state;
	expect_error(TWO_VHOSTS("MAIL.corp.contoso.com", ""),
	    ": vhosts: MAIL.corp.contoso.com is vhost 0's name or alias already "
	    "(vhost 1)");
	expect_error(TWO_VHOSTS("autod.corp.contoso.com", "\"mail.corp.contoso.com\""),
	    ": vhosts: mail.corp.contoso.com is vhost 0's name or alias already "
	    "(alias of vhost 1)");
	assert_int_equal(load_text(TWO_VHOSTS("autod.corp.contoso.com",
	    "\"autodiscover.corp.contoso.com\""), &c, err, sizeof(err)), 0);
	conf_free(&c);
}

static void
test_tls_listener_without_any_certificate_is_refused(void **state)
{
	expect_error(MINIMAL(", \"tls\": true", "", "", "cas"),
	    ": listeners: 10.77.0.100:80 is a TLS listener but no vhost has "
	    "a certificate");
}

static void
test_tls_listener_with_a_certificate_loads(void **state)
{
	struct conf c;
	char err[256];

	assert_int_equal(load_text(MINIMAL(", \"tls\": true",
	    "\"certificate\": \"/c.pem\", \"key\": \"/k.pem\", ", "", "cas"),
	    &c, err, sizeof(err)), 0);
	assert_string_equal(c.vhosts[0].cert_file, "/c.pem");
	conf_free(&c);
}

static void
test_certificate_without_key_is_refused(void **state)
{
	expect_error(MINIMAL("", "\"certificate\": \"/c.pem\", ", "", "cas"),
	    ": vhosts[0].key: certificate and key go together");
}

static void
test_header_mode_without_secret_file_is_refused(void **state)
{
	char *t = replace_all(MINIMAL("", "", "", "cas"),
	    "\"header_secret_file\": \"" SECRET_TOKEN "\", ", "");

	expect_error(t, ": pools[0].header_secret_file: header mode needs a "
	    "secret shared with the back-ends");
	free(t);
}

static void
test_secret_file_shorter_than_32_bytes_is_refused(void **state)
{
	char *t = replace_all(MINIMAL("", "", "", "cas"), SECRET_TOKEN,
	    short_path);

	expect_error(t, ": pools[0].header_secret_file: ");
	expect_error(t, "holds 9 bytes; it needs 32 to 64 random bytes");
	free(t);
}

/* n header-mode pools, each behind a negotiate route of one vhost. */
static char *
header_pools(int n)
{
	static char buf[8192];
	size_t off;
	int i;

	off = (size_t)snprintf(buf, sizeof(buf), "{ \"keytab\": \"/k\",\n"
	    "  \"listeners\": [ { \"address\": \"10.77.0.100\", \"port\": 80 } ],\n"
	    "  \"pools\": [");
	for (i = 0; i < n; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
		    "%s { \"name\": \"p%d\", \"header_secret_file\": \""
		    SECRET_TOKEN "\", \"servers\": [ { \"address\": "
		    "\"10.77.0.41\", \"port\": 80 } ] }", i ? "," : "", i);
	off += (size_t)snprintf(buf + off, sizeof(buf) - off, " ],\n"
	    "  \"vhosts\": [ { \"name\": \"mail.corp.contoso.com\", "
	    "\"spns\": [ \"http/mail.corp.contoso.com\" ], \"routes\": [");
	for (i = 0; i < n; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
		    "%s { \"path\": \"/p%d\", \"pool\": \"p%d\" }",
		    i ? "," : "", i, i);
	snprintf(buf + off, sizeof(buf) - off, " ] } ] }\n");
	return buf;
}

/* A login carries one identity grant per header pool of its vhost: the
 * keyholder's answer has room for 8. */
static void
test_more_than_8_header_pools_on_one_vhost_are_refused(void **state)
{
	struct conf c;
	char err[256];

	assert_int_equal(load_text(header_pools(8), &c, err, sizeof(err)), 0);
	conf_free(&c);
	expect_error(header_pools(9), "negotiate routes lead to more than 8 "
	    "header-mode pools");
}

static void
test_secret_file_longer_than_64_bytes_is_refused(void **state)
{
	/* A back-end reading the whole file would use another key. */
	char *t = replace_all(MINIMAL("", "", "", "cas"), SECRET_TOKEN,
	    long_path);

	expect_error(t, "holds 65 bytes; it needs 32 to 64 random bytes");
	free(t);
}

static void
test_missing_secret_file_is_refused(void **state)
{
	char *t = replace_all(MINIMAL("", "", "", "cas"), SECRET_TOKEN,
	    "/nonexistent/kerbgate.secret");

	expect_error(t, ": pools[0].header_secret_file: "
	    "/nonexistent/kerbgate.secret: No such file or directory");
	free(t);
}

static void
test_route_path_must_start_with_a_slash(void **state)
{
	char *t = replace_all(MINIMAL("", "", "", "cas"), "\"path\": \"/\"",
	    "\"path\": \"owa\"");

	expect_error(t, ": vhosts[0].routes[0].path: must start with '/'");
	free(t);
}

static void
test_missing_keytab_is_refused(void **state)
{
	char *t = replace_all(MINIMAL("", "", "", "cas"),
	    "\"keytab\": \"/etc/kerbgate/k.keytab\",", "");

	expect_error(t, "keytab");
	free(t);
}

static void
test_listener_address_must_be_numeric(void **state)
{
	char *t = replace_all(MINIMAL("", "", "", "cas"),
	    "\"address\": \"10.77.0.100\"", "\"address\": \"vip.corp\"");

	expect_error(t, ": listeners[0].address: \"vip.corp\" is not an IPv4 "
	    "or IPv6 address");
	free(t);
}

static void
test_empty_spn_list_is_refused(void **state)
{
	char *t = replace_all(MINIMAL("", "", "", "cas"),
	    "[ \"http/mail.corp.contoso.com\" ]", "[ ]");

	expect_error(t, ": vhosts[0].spns: must not be empty");
	free(t);
}

static void
test_unknown_persistence_lists_the_choices(void **state)
{
	expect_error(MINIMAL("", "", "\"persistence\": \"sticky\", ", "cas"),
	    ": pools[0].persistence: expected one of");
}

static void
test_pool_tls_needs_a_ca_or_a_pin(void **state)
{
	expect_error(MINIMAL("", "", "\"tls\": { }, ", "cas"),
	    ": pools[0].tls: give \"ca\", \"pin_sha256\" or both");
	expect_error(MINIMAL("", "", "\"tls\": { \"pin_sha256\": \"abc\" }, ",
	    "cas"), ": pools[0].tls.pin_sha256: expected 64 hex digits");
}

static void
test_cookie_lifetime_out_of_range_is_refused(void **state)
{
	expect_error(MINIMAL("", "\"session_cookie\": { \"enabled\": true, "
	    "\"lifetime\": 10 }, ", "", "cas"),
	    ": vhosts[0].session_cookie.lifetime: expected an integer from 60 "
	    "to 86400, got 10");
}

static void
test_allow_rc4_must_be_a_boolean(void **state)
{
	char *t = replace_all(MINIMAL("", "", "", "cas"), "{ \"keytab\"",
	    "{ \"allow_rc4\": \"no\", \"keytab\"");

	expect_error(t, ": allow_rc4: expected ");
	free(t);
}

static void
test_a_failed_load_leaves_nothing_behind(void **state)
{
	struct conf c;
	char err[256];

	/* A mistake deep in a vhost, after its arrays were allocated. */
	assert_int_equal(load_text(MINIMAL("", "\"aliases\": [ \"mail\" ], ",
	    "", "nope"), &c, err, sizeof(err)), KG_ERR_CONFIG);
	assert_int_equal(c.nvhosts, 0);
	assert_null(c.vhosts);
	assert_null(c.pools);
	/* And in a pool, after its secret was read. */
	assert_int_equal(load_text(MINIMAL("", "", "\"balance\": \"random\", ",
	    "cas"), &c, err, sizeof(err)), KG_ERR_CONFIG);
	assert_null(c.pools);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_loads),
		cmocka_unit_test(test_example_pool_is_header_mode_with_user_persistence),
		cmocka_unit_test(test_example_outlook_vhost_serves_http_and_exchange_spns),
		cmocka_unit_test(test_example_long_poll_routes_have_long_timeouts),
		cmocka_unit_test(test_example_vhosts_are_found_by_host_header),
		cmocka_unit_test(test_omitted_keys_get_the_documented_defaults),
		cmocka_unit_test(test_wrong_type_names_the_server_and_key),
		cmocka_unit_test(test_unknown_key_is_refused_with_a_suggestion),
		cmocka_unit_test(test_unknown_top_level_key_is_refused),
		cmocka_unit_test(test_max_connections_per_source_is_read_and_bounded),
		cmocka_unit_test(test_replay_cache_per_principal_is_read_and_bounded),
		cmocka_unit_test(test_route_naming_a_missing_pool_is_refused),
		cmocka_unit_test(test_a_host_name_claimed_by_two_vhosts_is_refused),
		cmocka_unit_test(test_tls_listener_without_any_certificate_is_refused),
		cmocka_unit_test(test_tls_listener_with_a_certificate_loads),
		cmocka_unit_test(test_certificate_without_key_is_refused),
		cmocka_unit_test(test_header_mode_without_secret_file_is_refused),
		cmocka_unit_test(test_secret_file_shorter_than_32_bytes_is_refused),
		cmocka_unit_test(test_secret_file_longer_than_64_bytes_is_refused),
		cmocka_unit_test(test_more_than_8_header_pools_on_one_vhost_are_refused),
		cmocka_unit_test(test_missing_secret_file_is_refused),
		cmocka_unit_test(test_route_path_must_start_with_a_slash),
		cmocka_unit_test(test_missing_keytab_is_refused),
		cmocka_unit_test(test_listener_address_must_be_numeric),
		cmocka_unit_test(test_empty_spn_list_is_refused),
		cmocka_unit_test(test_unknown_persistence_lists_the_choices),
		cmocka_unit_test(test_pool_tls_needs_a_ca_or_a_pin),
		cmocka_unit_test(test_cookie_lifetime_out_of_range_is_refused),
		cmocka_unit_test(test_allow_rc4_must_be_a_boolean),
		cmocka_unit_test(test_a_failed_load_leaves_nothing_behind),
		cmocka_unit_test(test_sandbox_is_on_by_default_and_read),
		cmocka_unit_test(test_credentials_defaults_and_refusals),
		cmocka_unit_test(test_keytab_optional_with_a_store_and_the_asa),
	};

	return cmocka_run_group_tests_name("conf", tests, setup_dir,
	    teardown_dir);
}
