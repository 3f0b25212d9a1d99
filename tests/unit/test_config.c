/*
 * test_config.c - configuration loading and typed accessors: every error
 * names where the administrator must look.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "util.h"

static char tmpdir[64], tmpfile_path[128];

static int
setup_dir(void **state)
{
	kg_strlcpy(tmpdir, "/tmp/kgcfg.XXXXXX", sizeof(tmpdir));
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(tmpfile_path, sizeof(tmpfile_path), "%s/kerbgate.json", tmpdir);
	return 0;
}

static int
teardown_dir(void **state)
{
	unlink(tmpfile_path);
	rmdir(tmpdir);
	return 0;
}

static void
write_file(const char *text)
{
	FILE *fp = fopen(tmpfile_path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/* Parses text that must be valid; the caller json_decref()s. */
static json_t *
parse(const char *text)
{
	struct kg_cfgerr err;
	json_t *root;

	root = kg_config_parse("/etc/kerbgate.json", text, strlen(text), &err);
	if (root == NULL)
		fail_msg("%s", err.msg);
	return root;
}

static void
test_valid_file_loads_as_object(void **state)
{
	struct kg_cfgerr err;
	json_t *root;

	write_file("{ \"listen\": \"0.0.0.0:443\" }\n");
	root = kg_config_load(tmpfile_path, &err);
	assert_non_null(root);
	assert_true(json_is_object(root));
	json_decref(root);
}

static void
test_missing_file_reports_path_and_reason(void **state)
{
	struct kg_cfgerr err;
	char want[256];

	assert_null(kg_config_load(tmpfile_path, &err));
	snprintf(want, sizeof(want), "%s: No such file or directory",
	    tmpfile_path);
	assert_string_equal(err.msg, want);
}

static void
test_directory_is_refused_as_not_a_regular_file(void **state)
{
	struct kg_cfgerr err;
	char want[256];

	assert_null(kg_config_load(tmpdir, &err));
	snprintf(want, sizeof(want), "%s: not a regular file", tmpdir);
	assert_string_equal(err.msg, want);
}

static void
test_syntax_error_reports_file_line_and_column(void **state)
{
	struct kg_cfgerr err;
	char want[256];

	write_file("{\n  \"a\": 1,\n  \"b\": }\n");
	assert_null(kg_config_load(tmpfile_path, &err));
	snprintf(want, sizeof(want), "%s:3:8: unexpected token near '}'",
	    tmpfile_path);
	assert_string_equal(err.msg, want);
}

static void
test_duplicate_key_is_refused_with_its_position(void **state)
{
	struct kg_cfgerr err;
	const char *text = "{\"port\": 1,\n \"port\": 2}";

	assert_null(kg_config_parse("k.json", text, strlen(text), &err));
	assert_string_equal(err.msg,
	    "k.json:2:7: duplicate object key near '\"port\"'");
}

static void
test_top_level_array_is_refused(void **state)
{
	struct kg_cfgerr err;

	assert_null(kg_config_parse("k.json", "[1, 2]", 6, &err));
	assert_string_equal(err.msg, "k.json: the top level must be a JSON object");
}

static void
test_empty_input_is_refused(void **state)
{
	struct kg_cfgerr err;

	assert_null(kg_config_parse("k.json", "", 0, &err));
	assert_true(strncmp(err.msg, "k.json:1:", 9) == 0);
}

static void
test_control_bytes_in_syntax_error_are_made_printable(void **state)
{
	struct kg_cfgerr err;
	const char text[] = "{\"a\": tru\x1b[2Je}";
	size_t i;

	assert_null(kg_config_parse("k.json", text, sizeof(text) - 1, &err));
	for (i = 0; err.msg[i] != '\0'; i++)
		assert_true(err.msg[i] >= 0x20 && err.msg[i] < 0x7f);
}

static void
test_wrong_type_deep_inside_reports_full_json_path(void **state)
{
	json_t *root = parse("{\"pools\": [ {\"servers\": []},"
	    " {\"servers\": [ {\"port\": \"eighty\"} ]} ]}");
	const json_t *pools, *servers, *pool, *server;
	struct kg_cfgctx ctx;
	struct kg_cfgerr err;
	long port = 0;

	kg_cfgctx_init(&ctx, "/etc/kerbgate.json", &err);
	assert_int_equal(kg_cfg_array(root, "pools", 1, &pools, &ctx), 1);
	kg_cfg_push_key(&ctx, "pools");
	pool = json_array_get(pools, 1);
	kg_cfg_push_index(&ctx, 1);
	assert_int_equal(kg_cfg_array(pool, "servers", 1, &servers, &ctx), 1);
	kg_cfg_push_key(&ctx, "servers");
	server = json_array_get(servers, 0);
	kg_cfg_push_index(&ctx, 0);
	assert_int_equal(kg_cfg_int(server, "port", 1, 1, 65535, &port, &ctx),
	    KG_ERR_CONFIG);
	assert_string_equal(err.msg, "/etc/kerbgate.json: pools[1].servers[0].port:"
	    " expected an integer from 1 to 65535, got \"eighty\"");
	assert_int_equal(port, 0);
	json_decref(root);
}

static void
test_pop_restores_the_parent_path(void **state)
{
	json_t *root = parse("{\"tls\": {\"cert\": 5}}");
	struct kg_cfgctx ctx;
	struct kg_cfgerr err;
	const char *s;

	kg_cfgctx_init(&ctx, "f", &err);
	kg_cfg_push_key(&ctx, "pools");
	kg_cfg_push_index(&ctx, 3);
	kg_cfg_push_key(&ctx, "servers");
	kg_cfg_pop(&ctx);
	kg_cfg_pop(&ctx);
	kg_cfg_pop(&ctx);
	kg_cfg_pop(&ctx);	/* one too many is harmless */
	kg_cfg_push_key(&ctx, "tls");
	assert_int_equal(kg_cfg_string(json_object_get(root, "tls"), "cert", 1,
	    &s, &ctx), KG_ERR_CONFIG);
	assert_string_equal(err.msg, "f: tls.cert: expected a string, got 5");
	json_decref(root);
}

static void
test_integers_at_both_bounds_are_accepted(void **state)
{
	json_t *root = parse("{\"lo\": 1, \"hi\": 65535}");
	struct kg_cfgctx ctx;
	long v;

	kg_cfgctx_init(&ctx, "f", NULL);
	assert_int_equal(kg_cfg_int(root, "lo", 1, 1, 65535, &v, &ctx), 1);
	assert_int_equal(v, 1);
	assert_int_equal(kg_cfg_int(root, "hi", 1, 1, 65535, &v, &ctx), 1);
	assert_int_equal(v, 65535);
	assert_int_equal(ctx.nerrors, 0);
	json_decref(root);
}

static void
test_integer_below_range_is_refused(void **state)
{
	json_t *root = parse("{\"port\": 0}");
	struct kg_cfgctx ctx;
	struct kg_cfgerr err;
	long v;

	kg_cfgctx_init(&ctx, "f", &err);
	assert_int_equal(kg_cfg_int(root, "port", 1, 1, 65535, &v, &ctx),
	    KG_ERR_CONFIG);
	assert_string_equal(err.msg,
	    "f: port: expected an integer from 1 to 65535, got 0");
	json_decref(root);
}

static void
test_integer_above_range_is_refused(void **state)
{
	json_t *root = parse("{\"port\": 65536}");
	struct kg_cfgctx ctx;
	struct kg_cfgerr err;
	long v;

	kg_cfgctx_init(&ctx, "f", &err);
	assert_int_equal(kg_cfg_int(root, "port", 1, 1, 65535, &v, &ctx),
	    KG_ERR_CONFIG);
	assert_string_equal(err.msg,
	    "f: port: expected an integer from 1 to 65535, got 65536");
	json_decref(root);
}

static void
test_real_number_is_refused_as_integer(void **state)
{
	json_t *root = parse("{\"workers\": 2.5}");
	struct kg_cfgctx ctx;
	struct kg_cfgerr err;
	long v;

	kg_cfgctx_init(&ctx, "f", &err);
	assert_int_equal(kg_cfg_int(root, "workers", 0, 1, 64, &v, &ctx),
	    KG_ERR_CONFIG);
	assert_string_equal(err.msg,
	    "f: workers: expected an integer from 1 to 64, got 2.5");
	json_decref(root);
}

static void
test_missing_required_key_names_the_enclosing_object(void **state)
{
	json_t *root = parse("{\"pools\": [{}]}");
	struct kg_cfgctx ctx;
	struct kg_cfgerr err;
	const char *name;

	kg_cfgctx_init(&ctx, "f", &err);
	kg_cfg_push_key(&ctx, "pools");
	kg_cfg_push_index(&ctx, 0);
	assert_int_equal(kg_cfg_string(json_array_get(json_object_get(root,
	    "pools"), 0), "name", 1, &name, &ctx), KG_ERR_CONFIG);
	assert_string_equal(err.msg, "f: pools[0]: missing required key 'name'");
	json_decref(root);
}

static void
test_missing_required_key_at_top_level_has_no_path(void **state)
{
	json_t *root = parse("{}");
	struct kg_cfgctx ctx;
	struct kg_cfgerr err;
	const char *s;

	kg_cfgctx_init(&ctx, "f", &err);
	assert_int_equal(kg_cfg_string(root, "listen", 1, &s, &ctx),
	    KG_ERR_CONFIG);
	assert_string_equal(err.msg, "f: missing required key 'listen'");
	json_decref(root);
}

static void
test_absent_optional_key_keeps_the_default(void **state)
{
	json_t *root = parse("{}");
	struct kg_cfgctx ctx;
	const char *s = "default";
	long n = 4;
	int b = 1;

	kg_cfgctx_init(&ctx, "f", NULL);
	assert_int_equal(kg_cfg_string(root, "name", 0, &s, &ctx), 0);
	assert_int_equal(kg_cfg_int(root, "workers", 0, 1, 64, &n, &ctx), 0);
	assert_int_equal(kg_cfg_bool(root, "debug", 0, &b, &ctx), 0);
	assert_string_equal(s, "default");
	assert_int_equal(n, 4);
	assert_int_equal(b, 1);
	assert_int_equal(ctx.nerrors, 0);
	json_decref(root);
}

static void
test_present_string_is_returned(void **state)
{
	json_t *root = parse("{\"realm\": \"EXAMPLE.COM\"}");
	struct kg_cfgctx ctx;
	const char *s = NULL;

	kg_cfgctx_init(&ctx, "f", NULL);
	assert_int_equal(kg_cfg_string(root, "realm", 1, &s, &ctx), 1);
	assert_string_equal(s, "EXAMPLE.COM");
	json_decref(root);
}

static void
test_bool_accepts_true_and_false(void **state)
{
	json_t *root = parse("{\"a\": true, \"b\": false}");
	struct kg_cfgctx ctx;
	int a = 0, b = 1;

	kg_cfgctx_init(&ctx, "f", NULL);
	assert_int_equal(kg_cfg_bool(root, "a", 1, &a, &ctx), 1);
	assert_int_equal(kg_cfg_bool(root, "b", 1, &b, &ctx), 1);
	assert_int_equal(a, 1);
	assert_int_equal(b, 0);
	json_decref(root);
}

static void
test_bool_refuses_string_yes(void **state)
{
	json_t *root = parse("{\"debug\": \"yes\"}");
	struct kg_cfgctx ctx;
	struct kg_cfgerr err;
	int b;

	kg_cfgctx_init(&ctx, "f", &err);
	assert_int_equal(kg_cfg_bool(root, "debug", 1, &b, &ctx), KG_ERR_CONFIG);
	assert_string_equal(err.msg,
	    "f: debug: expected true or false, got \"yes\"");
	json_decref(root);
}

static void
test_enum_returns_index_of_the_choice(void **state)
{
	static const char *const modes[] = { "plain", "tls", NULL };
	json_t *root = parse("{\"mode\": \"tls\"}");
	struct kg_cfgctx ctx;
	int m = -1;

	kg_cfgctx_init(&ctx, "f", NULL);
	assert_int_equal(kg_cfg_enum(root, "mode", 1, modes, &m, &ctx), 1);
	assert_int_equal(m, 1);
	json_decref(root);
}

static void
test_enum_refuses_unknown_value_and_lists_the_choices(void **state)
{
	static const char *const modes[] = { "plain", "tls", NULL };
	json_t *root = parse("{\"mode\": \"tsl\"}");
	struct kg_cfgctx ctx;
	struct kg_cfgerr err;
	int m = -1;

	kg_cfgctx_init(&ctx, "f", &err);
	assert_int_equal(kg_cfg_enum(root, "mode", 1, modes, &m, &ctx),
	    KG_ERR_CONFIG);
	assert_string_equal(err.msg,
	    "f: mode: expected one of \"plain\", \"tls\", got \"tsl\"");
	assert_int_equal(m, -1);
	json_decref(root);
}

static void
test_enum_refuses_non_string(void **state)
{
	static const char *const modes[] = { "plain", "tls", NULL };
	json_t *root = parse("{\"mode\": 1}");
	struct kg_cfgctx ctx;
	int m;

	kg_cfgctx_init(&ctx, "f", NULL);
	assert_int_equal(kg_cfg_enum(root, "mode", 1, modes, &m, &ctx),
	    KG_ERR_CONFIG);
	json_decref(root);
}

static void
test_array_and_object_accessors_refuse_each_other(void **state)
{
	json_t *root = parse("{\"pools\": {}, \"tls\": []}");
	const json_t *v;
	struct kg_cfgctx ctx;
	struct kg_cfgerr err;

	kg_cfgctx_init(&ctx, "f", &err);
	assert_int_equal(kg_cfg_array(root, "pools", 1, &v, &ctx), KG_ERR_CONFIG);
	assert_string_equal(err.msg, "f: pools: expected an array, got an object");
	kg_cfgctx_init(&ctx, "f", &err);
	assert_int_equal(kg_cfg_object(root, "tls", 1, &v, &ctx), KG_ERR_CONFIG);
	assert_string_equal(err.msg, "f: tls: expected an object, got an array");
	json_decref(root);
}

static void
test_array_element_checked_with_null_key_reports_its_index(void **state)
{
	json_t *root = parse("{\"listen\": [\"a:443\", null]}");
	const json_t *arr;
	struct kg_cfgctx ctx;
	struct kg_cfgerr err;
	const char *s;

	kg_cfgctx_init(&ctx, "f", &err);
	assert_int_equal(kg_cfg_array(root, "listen", 1, &arr, &ctx), 1);
	kg_cfg_push_key(&ctx, "listen");
	kg_cfg_push_index(&ctx, 0);
	assert_int_equal(kg_cfg_string(json_array_get(arr, 0), NULL, 1, &s, &ctx),
	    1);
	kg_cfg_pop(&ctx);
	kg_cfg_push_index(&ctx, 1);
	assert_int_equal(kg_cfg_string(json_array_get(arr, 1), NULL, 1, &s, &ctx),
	    KG_ERR_CONFIG);
	assert_string_equal(err.msg, "f: listen[1]: expected a string, got null");
	json_decref(root);
}

static void
test_accessor_on_non_object_reports_it(void **state)
{
	json_t *root = parse("{\"tls\": 7}");
	struct kg_cfgctx ctx;
	struct kg_cfgerr err;
	const char *s;

	kg_cfgctx_init(&ctx, "f", &err);
	kg_cfg_push_key(&ctx, "tls");
	assert_int_equal(kg_cfg_string(json_object_get(root, "tls"), "cert", 1,
	    &s, &ctx), KG_ERR_CONFIG);
	assert_string_equal(err.msg, "f: tls: expected an object, got 7");
	json_decref(root);
}

static void
test_unknown_key_is_refused_with_a_suggestion(void **state)
{
	static const char *const allowed[] = { "host", "port", NULL };
	json_t *root = parse("{\"host\": \"a\", \"prot\": 80}");
	struct kg_cfgctx ctx;
	struct kg_cfgerr err;

	kg_cfgctx_init(&ctx, "f", &err);
	kg_cfg_push_key(&ctx, "servers");
	kg_cfg_push_index(&ctx, 0);
	assert_int_equal(kg_cfg_check_keys(root, allowed, &ctx), KG_ERR_CONFIG);
	assert_string_equal(err.msg,
	    "f: servers[0]: unknown key 'prot' (did you mean 'port'?)");
	json_decref(root);
}

static void
test_unknown_key_unlike_any_known_gets_no_suggestion(void **state)
{
	static const char *const allowed[] = { "host", "port", NULL };
	json_t *root = parse("{\"weight\": 3}");
	struct kg_cfgctx ctx;
	struct kg_cfgerr err;

	kg_cfgctx_init(&ctx, "f", &err);
	assert_int_equal(kg_cfg_check_keys(root, allowed, &ctx), KG_ERR_CONFIG);
	assert_string_equal(err.msg, "f: unknown key 'weight'");
	json_decref(root);
}

static void
test_only_known_keys_pass_the_check(void **state)
{
	static const char *const allowed[] = { "host", "port", NULL };
	json_t *root = parse("{\"host\": \"a\", \"port\": 80}");
	struct kg_cfgctx ctx;

	kg_cfgctx_init(&ctx, "f", NULL);
	assert_int_equal(kg_cfg_check_keys(root, allowed, &ctx), KG_OK);
	assert_int_equal(ctx.nerrors, 0);
	json_decref(root);
}

static void
test_unknown_key_with_control_characters_is_escaped(void **state)
{
	static const char *const allowed[] = { "host", NULL };
	json_t *root = parse("{\"ho\\nst\": 1}");
	struct kg_cfgctx ctx;
	struct kg_cfgerr err;

	kg_cfgctx_init(&ctx, "f", &err);
	assert_int_equal(kg_cfg_check_keys(root, allowed, &ctx), KG_ERR_CONFIG);
	assert_string_equal(err.msg,
	    "f: unknown key 'ho\\nst' (did you mean 'host'?)");
	json_decref(root);
}

static void
test_long_string_value_is_shortened_in_the_message(void **state)
{
	json_t *root = parse("{\"port\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}");
	struct kg_cfgctx ctx;
	struct kg_cfgerr err;
	long v;

	kg_cfgctx_init(&ctx, "f", &err);
	assert_int_equal(kg_cfg_int(root, "port", 1, 1, 2, &v, &ctx),
	    KG_ERR_CONFIG);
	assert_true(strlen(err.msg) < 100);
	assert_non_null(strstr(err.msg, "...\""));
	json_decref(root);
}

static void
test_first_error_is_kept_and_all_are_counted(void **state)
{
	json_t *root = parse("{\"a\": \"x\", \"b\": \"y\"}");
	struct kg_cfgctx ctx;
	struct kg_cfgerr err;
	long v;

	kg_cfgctx_init(&ctx, "f", &err);
	kg_cfg_int(root, "a", 1, 0, 1, &v, &ctx);
	kg_cfg_int(root, "b", 1, 0, 1, &v, &ctx);
	kg_cfg_error(&ctx, NULL, "custom %d", 3);
	assert_int_equal(ctx.nerrors, 3);
	assert_string_equal(err.msg,
	    "f: a: expected an integer from 0 to 1, got \"x\"");
	json_decref(root);
}

static void
test_custom_error_names_path_and_key(void **state)
{
	struct kg_cfgctx ctx;
	struct kg_cfgerr err;

	kg_cfgctx_init(&ctx, "f", &err);
	kg_cfg_push_key(&ctx, "pools");
	kg_cfg_push_index(&ctx, 2);
	assert_int_equal(kg_cfg_error(&ctx, "servers", "must not be empty"),
	    KG_ERR_CONFIG);
	assert_string_equal(err.msg, "f: pools[2].servers: must not be empty");
}

#define DIR_TEST(t) cmocka_unit_test_setup_teardown(t, setup_dir, teardown_dir)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		DIR_TEST(test_valid_file_loads_as_object),
		DIR_TEST(test_missing_file_reports_path_and_reason),
		DIR_TEST(test_directory_is_refused_as_not_a_regular_file),
		DIR_TEST(test_syntax_error_reports_file_line_and_column),
		cmocka_unit_test(test_duplicate_key_is_refused_with_its_position),
		cmocka_unit_test(test_top_level_array_is_refused),
		cmocka_unit_test(test_empty_input_is_refused),
		cmocka_unit_test(test_control_bytes_in_syntax_error_are_made_printable),
		cmocka_unit_test(test_wrong_type_deep_inside_reports_full_json_path),
		cmocka_unit_test(test_pop_restores_the_parent_path),
		cmocka_unit_test(test_integers_at_both_bounds_are_accepted),
		cmocka_unit_test(test_integer_below_range_is_refused),
		cmocka_unit_test(test_integer_above_range_is_refused),
		cmocka_unit_test(test_real_number_is_refused_as_integer),
		cmocka_unit_test(test_missing_required_key_names_the_enclosing_object),
		cmocka_unit_test(test_missing_required_key_at_top_level_has_no_path),
		cmocka_unit_test(test_absent_optional_key_keeps_the_default),
		cmocka_unit_test(test_present_string_is_returned),
		cmocka_unit_test(test_bool_accepts_true_and_false),
		cmocka_unit_test(test_bool_refuses_string_yes),
		cmocka_unit_test(test_enum_returns_index_of_the_choice),
		cmocka_unit_test(test_enum_refuses_unknown_value_and_lists_the_choices),
		cmocka_unit_test(test_enum_refuses_non_string),
		cmocka_unit_test(test_array_and_object_accessors_refuse_each_other),
		cmocka_unit_test(test_array_element_checked_with_null_key_reports_its_index),
		cmocka_unit_test(test_accessor_on_non_object_reports_it),
		cmocka_unit_test(test_unknown_key_is_refused_with_a_suggestion),
		cmocka_unit_test(test_unknown_key_unlike_any_known_gets_no_suggestion),
		cmocka_unit_test(test_only_known_keys_pass_the_check),
		cmocka_unit_test(test_unknown_key_with_control_characters_is_escaped),
		cmocka_unit_test(test_long_string_value_is_shortened_in_the_message),
		cmocka_unit_test(test_first_error_is_kept_and_all_are_counted),
		cmocka_unit_test(test_custom_error_names_path_and_key),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
