/*
 * test_reqfilter.c: what the relay strips or refuses in a client's request
 * before routing and forwarding it (issue 15, items 2, 6 and 8): header
 * names folded as CGI, IIS and lighttpd fold them, trailers, the session
 * cookie, and the path as route matching must see it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reqfilter.h"

static int
reserved(const char *name)
{
	return rf_name_reserved(name, strlen(name));
}

static void
test_identity_header_spellings_are_reserved(void **state)
{
	static const char *const yes[] = {
		"X-Kerbgate-User", "x-kerbgate-user", "X_Kerbgate_User",
		"X-Kerbgate_User", "X_KERBGATE_SIGNATURE", "x_kerbgate-time",
		"X-KERBGATE-REQUEST-ID", "X-Kerbgate-Anything-New",
		"X-Forwarded-For", "X_Forwarded_For", "x-forwarded-proto",
		"X_FORWARDED_PROTO", "X-Forwarded-Host", "x_forwarded_host",
		"X-Original-URL", "X_ORIGINAL_URL", "X-Rewrite-URL",
		"x_rewrite_url", "Forwarded", "FORWARDED",
		/* lighttpd maps every non-alphanumeric byte to '_'. */
		"X.Kerbgate.User", "X-Kerbgate.User", "X~Kerbgate~Signature",
		"X+Kerbgate!Time", "X.Forwarded.Host", "X.Original.URL",
		"x'forwarded'proto",
	};
	static const char *const no[] = {
		"X-Kerbgate", "X-Kerbgat-User", "XKerbgate-User",
		"Host", "Cookie", "Authorization", "X-Forwarded", "X-Forwarded-Fo",
		"X-Forwarded-Protocol", "Forwarded-For", "X-Original-URLs", "",
		"X-Real-IP", "User-Agent",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!reserved(yes[i]))
			fail_msg("%s should be reserved", yes[i]);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (reserved(no[i]))
			fail_msg("%s should not be reserved", no[i]);
	assert_false(rf_name_reserved(NULL, 3));
}

static void
test_name_folding_maps_non_alphanumerics_and_case_only(void **state)
{
	(void)state;
	assert_true(rf_name_equal("X_A-b", 5, "x-a_B"));
	assert_true(rf_name_equal("Host", 4, "host"));
	assert_false(rf_name_equal("Hos", 3, "host"));
	assert_false(rf_name_equal("Hostx", 5, "host"));
	assert_true(rf_name_equal("X.A", 3, "x-a"));
	assert_true(rf_name_equal("X~A", 3, "x-a"));
	assert_false(rf_name_equal("XA", 2, "x-a"));
	assert_false(rf_name_equal("X1A", 3, "x-a"));
	assert_false(rf_name_equal(NULL, 0, "x"));
}

static int
trailer_refused(const char *name)
{
	return rf_trailer_refused(name, strlen(name));
}

/* RFC 9110 6.5.1: framing, routing and authentication stay out of
 * trailers, where the relay does not look at them. */
static void
test_trailers_that_frame_route_or_authenticate_are_refused(void **state)
{
	static const char *const yes[] = {
		"X-Kerbgate-User", "X_Kerbgate_User", "X.Kerbgate.Signature",
		"Forwarded", "X-Forwarded-For", "Authorization", "AUTHORIZATION",
		"Proxy-Authorization", "Cookie", "cookie", "Host", "Content-Length",
		"Content_Length", "Transfer-Encoding",
	};
	static const char *const no[] = {
		"X-Checksum", "Server-Timing", "Digest", "Cookies", "Hosts",
		"Authorizatio", "Content-MD5", "Grpc-Status",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!trailer_refused(yes[i]))
			fail_msg("trailer %s should be refused", yes[i]);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (trailer_refused(no[i]))
			fail_msg("trailer %s should pass", no[i]);
}

static void
check_strip(const char *in, const char *want)
{
	char out[512];
	size_t n;

	assert_true(2 * strlen(in) <= sizeof(out));
	n = rf_cookie_strip(in, strlen(in), "kerbgate_session", out);
	if (n != strlen(want) || memcmp(out, want, n) != 0)
		fail_msg("strip \"%s\": got \"%.*s\", want \"%s\"", in, (int)n,
		    out, want);
}

static void
test_session_cookie_is_stripped_and_only_it(void **state)
{
	(void)state;
	check_strip("kerbgate_session=abc", "");
	check_strip("a=1; kerbgate_session=abc; b=2", "a=1; b=2");
	check_strip("kerbgate_session=abc; b=2", "b=2");
	check_strip("a=1; kerbgate_session=abc", "a=1");
	check_strip("a=1;kerbgate_session=abc;b=2", "a=1; b=2");
	check_strip("a=1 ;  kerbgate_session = abc ;\tb=2", "a=1; b=2");
	check_strip("KERBGATE_SESSION=abc; b=2", "b=2");
	check_strip("kerbgate_session=a; kerbgate_session=b; c=3", "c=3");
	/* Look-alikes are other cookies: kept. */
	check_strip("kerbgate_sessionx=1; xkerbgate_session=2",
	    "kerbgate_sessionx=1; xkerbgate_session=2");
	check_strip("kerbgate_server=0123456789abcdef; kerbgate_session=s",
	    "kerbgate_server=0123456789abcdef");
	/* A value that mentions the name is not the name. */
	check_strip("a=kerbgate_session=1", "a=kerbgate_session=1");
	check_strip("flag; kerbgate_session=s; ; b=\"q;\"", "flag; b=\"q; \"");
	check_strip("", "");
	check_strip(" ; ;", "");
}

struct path_case {
	const char *in;
	const char *want;	/* NULL: refused */
	int err;
};

static const struct path_case paths[] = {
	/* Plain paths are kept, query left out. */
	{ "/", "/", 0 },
	{ "/owa/", "/owa/", 0 },
	{ "/owa/auth.owa?a=b/../c", "/owa/auth.owa", 0 },
	{ "/rpc/rpcproxy.dll?cas:6001", "/rpc/rpcproxy.dll", 0 },
	{ "/Public/X", "/Public/X", 0 },
	{ "/?x", "/", 0 },
	/* The examples: all end at /secret. */
	{ "/open/../secret", "/secret", 0 },
	{ "/public/%2e%2e/secret", "/secret", 0 },
	{ "/public/%2E%2E/secret", "/secret", 0 },
	{ "/public/.%2e/secret", "/secret", 0 },
	{ "/public/%2e./secret", "/secret", 0 },
	{ "/open\\..\\secret", NULL, RF_E_BACKSLASH },
	{ "/open/%5c../secret", NULL, RF_E_ENCODED_SLASH },
	{ "/open/..%5Csecret", NULL, RF_E_ENCODED_SLASH },
	/* Dot segments, RFC 3986 5.2.4. */
	{ "/a/./b", "/a/b", 0 },
	{ "/a/b/..", "/a/", 0 },
	{ "/a/b/.", "/a/b/", 0 },
	{ "/a/b/../../c", "/c", 0 },
	{ "/a/../../c", NULL, RF_E_ABOVE_ROOT },
	{ "/..", NULL, RF_E_ABOVE_ROOT },
	{ "/../public/x", NULL, RF_E_ABOVE_ROOT },
	{ "/.", "/", 0 },
	{ "/public/./../secret", "/secret", 0 },
	{ "/a/..x/b", "/a/..x/b", 0 },
	{ "/a/x../b", "/a/x../b", 0 },
	{ "/a/.x", "/a/.x", 0 },
	/* Repeated slashes are merged; "//.." is ambiguous. */
	{ "//public//x", "/public/x", 0 },
	{ "/public//../secret", NULL, RF_E_DOT_SEGMENT },
	{ "//../secret", NULL, RF_E_DOT_SEGMENT },
	/* ...also with "." segments between: "/x//./../open" is "/open"
	 * merged, "/x/open" to an RFC 3986 resolver that keeps "//". */
	{ "/x//./../open/y", NULL, RF_E_DOT_SEGMENT },
	{ "/x//%2e/../open/y", NULL, RF_E_DOT_SEGMENT },
	{ "/x//././../open/y", NULL, RF_E_DOT_SEGMENT },
	/* ...and any later "..": "//" moves each by one level. */
	{ "/x//y/../../open/z", NULL, RF_E_DOT_SEGMENT },
	{ "/x//./y/../z", NULL, RF_E_DOT_SEGMENT },
	{ "/x//y/z", "/x/y/z", 0 },
	{ "/x/y/../z//w", "/x/z/w", 0 },
	{ "/public/x//", "/public/x/", 0 },
	/* Windows trims dots and spaces; Tomcat drops ;params. */
	{ "/public/.../secret", NULL, RF_E_DOT_SEGMENT },
	{ "/public/..%20/secret", NULL, RF_E_DOT_SEGMENT },
	{ "/public/.%20/secret", NULL, RF_E_DOT_SEGMENT },
	{ "/public/..;/secret", NULL, RF_E_DOT_SEGMENT },
	{ "/public/.;x/secret", NULL, RF_E_DOT_SEGMENT },
	{ "/public/%2e%2e;x=1/secret", NULL, RF_E_DOT_SEGMENT },
	{ "/public;jsessionid=1/x", "/public;jsessionid=1/x", 0 },
	{ "/public;x/../secret", "/secret", 0 },
	/* A segment of only ";params" is empty to Tomcat ("/open//../x",
	 * merged: "/x"): ".." after it is ambiguous. */
	{ "/open/;/../x", NULL, RF_E_DOT_SEGMENT },
	{ "/open/;a=b/../x", NULL, RF_E_DOT_SEGMENT },
	{ "/open/;/./../x", NULL, RF_E_DOT_SEGMENT },
	{ "/open/;/x/../../y", NULL, RF_E_DOT_SEGMENT },
	{ "/open/;/x/../y", NULL, RF_E_DOT_SEGMENT },
	{ "/open/;/x", "/open/;/x", 0 },
	{ "/open/x/../;/y", "/open/;/y", 0 },
	{ "/public/x.%20y", "/public/x.%20y", 0 },
	/* Escapes: unreserved decoded, others upper-cased. */
	{ "/p%75blic/%7e%2D%5f", "/public/~-_", 0 },
	{ "/a%20b/%3b%3f%23", "/a%20b/%3B%3F%23", 0 },
	{ "/%41%5A%30", "/AZ0", 0 },
	{ "/a%2fb", NULL, RF_E_ENCODED_SLASH },
	{ "/a%2F..%2Fsecret", NULL, RF_E_ENCODED_SLASH },
	{ "/a%00b", NULL, RF_E_NUL },
	{ "/a%", NULL, RF_E_BAD_ESCAPE },
	{ "/a%2", NULL, RF_E_BAD_ESCAPE },
	{ "/a%2g", NULL, RF_E_BAD_ESCAPE },
	{ "/a%u002e%u002e/b", NULL, RF_E_BAD_ESCAPE },
	{ "/a%%32e", NULL, RF_E_BAD_ESCAPE },
	{ "/a/%252e%252e/b", NULL, RF_E_DOUBLE_ESCAPE },
	/* ...also when the hex digits come escaped (found by fuzzing). */
	{ "/public/%25%32%65%25%32%65/secret", NULL, RF_E_DOUBLE_ESCAPE },
	{ "/c%25c%33592C", NULL, RF_E_DOUBLE_ESCAPE },
	{ "/a%25zz", "/a%25zz", 0 },
	{ "/a%25", "/a%25", 0 },
	/* UTF-8: shortest form only. */
	{ "/caf%C3%A9", "/caf%C3%A9", 0 },
	{ "/caf%c3%a9/x", "/caf%C3%A9/x", 0 },
	{ "/%E2%82%AC", "/%E2%82%AC", 0 },
	{ "/%F0%9F%98%80", "/%F0%9F%98%80", 0 },
	{ "/public/%C0%AE%C0%AE/secret", NULL, RF_E_BAD_UTF8 },
	{ "/%E0%80%AE", NULL, RF_E_BAD_UTF8 },
	{ "/%C1%9C", NULL, RF_E_BAD_UTF8 },
	{ "/%ED%A0%80", NULL, RF_E_BAD_UTF8 },
	{ "/%F4%90%80%80", NULL, RF_E_BAD_UTF8 },
	{ "/%F8%88%80%80%80", NULL, RF_E_BAD_UTF8 },
	{ "/%C3", NULL, RF_E_BAD_UTF8 },
	{ "/%C3a", NULL, RF_E_BAD_UTF8 },
	{ "/%80", NULL, RF_E_BAD_UTF8 },
	{ "/%C3%A9%A9", NULL, RF_E_BAD_UTF8 },
	/* Not paths, or characters a parser lets through only by mistake. */
	{ "/a#/../b", NULL, RF_E_FRAGMENT },
	{ "/a?b#c", NULL, RF_E_FRAGMENT },
	{ "*", NULL, RF_E_NOT_ORIGIN },
	{ "http://mail/x", NULL, RF_E_NOT_ORIGIN },
	{ "/a b", NULL, RF_E_BAD_CHAR },
	{ "/a\x01", NULL, RF_E_BAD_CHAR },
	{ "/\xc3\xa9", NULL, RF_E_BAD_CHAR },
};

static void
test_path_normalisation_table(void **state)
{
	char out[256];
	size_t i, n;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		const struct path_case *c = &paths[i];

		n = 9999;
		rc = rf_path_normalize(c->in, strlen(c->in), out, sizeof(out),
		    &n);
		if (c->want != NULL && (rc != 0 || n != strlen(c->want) ||
		    strcmp(out, c->want) != 0))
			fail_msg("%s: rc %d \"%s\", want \"%s\"", c->in, rc,
			    rc == 0 ? out : rf_path_strerror(rc), c->want);
		if (c->want == NULL && rc != c->err)
			fail_msg("%s: rc %d (%s), want %d (%s)", c->in, rc,
			    rc == 0 ? out : rf_path_strerror(rc), c->err,
			    rf_path_strerror(c->err));
	}
}

/* A normalised path is a fixed point: normalising it again changes
 * nothing, so route matching cannot be moved by a second decoding. */
static void
test_normalised_paths_are_fixed_points(void **state)
{
	char a[256], b[256];
	size_t i, na, nb;

	(void)state;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (paths[i].want == NULL)
			continue;
		assert_int_equal(rf_path_normalize(paths[i].in,
		    strlen(paths[i].in), a, sizeof(a), &na), 0);
		assert_int_equal(rf_path_normalize(a, na, b, sizeof(b), &nb), 0);
		assert_int_equal(na, nb);
		assert_string_equal(a, b);
	}
}

static void
test_path_output_bounds(void **state)
{
	char out[8];
	size_t n;

	(void)state;
	/* len + 2 is enough, less is refused rather than overrun. */
	assert_int_equal(rf_path_normalize("/abcdef", 7, out, 8, &n), -2);
	assert_int_equal(rf_path_normalize("/abcde", 6, out, 8, &n), 0);
	assert_string_equal(out, "/abcde");
	assert_int_equal(rf_path_normalize("/a/.", 4, out, 6, &n), 0);
	assert_string_equal(out, "/a/");
	assert_int_equal(rf_path_normalize(NULL, 1, out, 8, &n),
	    RF_E_NOT_ORIGIN);
	assert_int_equal(rf_path_normalize("/", 0, out, 8, &n),
	    RF_E_NOT_ORIGIN);
}

static void
test_every_path_error_has_words(void **state)
{
	int e;

	(void)state;
	for (e = -1; e >= RF_E_LAST; e--)
		assert_string_not_equal(rf_path_strerror(e),
		    "unknown path error");
	assert_string_equal(rf_path_strerror(1), "unknown path error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_header_spellings_are_reserved),
		cmocka_unit_test(test_name_folding_maps_non_alphanumerics_and_case_only),
		cmocka_unit_test(test_trailers_that_frame_route_or_authenticate_are_refused),
		cmocka_unit_test(test_session_cookie_is_stripped_and_only_it),
		cmocka_unit_test(test_path_normalisation_table),
		cmocka_unit_test(test_normalised_paths_are_fixed_points),
		cmocka_unit_test(test_path_output_bounds),
		cmocka_unit_test(test_every_path_error_has_words),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
