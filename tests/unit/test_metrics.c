/*
 * test_metrics.c: the shared counters are summed over every worker and
 * rendered as valid Prometheus text (format 0.0.4): HELP and TYPE for each
 * family, every failure reason present, a cumulative histogram whose +Inf
 * bucket is its count, and escaped label values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "metrics.h"
#include "util.h"

static int
setup(void **state)
{
	struct metrics_shm *m = metrics_map();

	if (m == NULL)
		return -1;
	*state = m;
	return 0;
}

static int
teardown(void **state)
{
	munmap(*state, sizeof(struct metrics_shm));
	return 0;
}

static char *
render(const struct metrics_shm *m)
{
	char *text = NULL;
	size_t len = 0;
	int rc = metrics_render(m, &text, &len);

	assert_true(rc > 0);
	assert_int_equal((size_t)rc, len);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	return text;
}

/*
 * The value of the sample whose name and labels are exactly series, or
 * fails the test when there is no such line.
 */
static uint64_t
value_of(const char *text, const char *series)
{
	size_t n = strlen(series);
	const char *p = text;

	for (; *p != '\0'; p = strchr(p, '\n') + 1) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtoull(p + n + 1, NULL, 10);
		if (strchr(p, '\n') == NULL)
			break;
	}
	fail_msg("no sample \"%s\" in:\n%s", series, text);
	return 0;
}

static int
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p;

	for (p = text; (p = strstr(p, line)) != NULL; p += n)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

static int
name_char(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	    c == ':' || (!first && c >= '0' && c <= '9');
}

/*
 * Checks one sample line of the text format: name, optional {labels},
 * one space, a value.  Copies the metric name into name.
 */
static void
check_sample(const char *line, size_t n, char *name, size_t namesz)
{
	size_t i = 0, j;

	while (i < n && name_char(line[i], i == 0))
		i++;
	assert_true(i > 0 && i < namesz);
	memcpy(name, line, i);
	name[i] = '\0';
	if (i < n && line[i] == '{') {
		i++;
		for (;;) {
			j = i;
			while (i < n && name_char(line[i], i == j))
				i++;
			assert_true(i > j);
			assert_true(i + 1 < n && line[i] == '=' &&
			    line[i + 1] == '"');
			for (i += 2; i < n && line[i] != '"'; i++) {
				assert_true(line[i] != '\n');
				if (line[i] == '\\') {
					i++;
					assert_true(i < n && strchr("\\\"n",
					    line[i]) != NULL);
				}
			}
			assert_true(i < n);
			i++;
			if (i < n && line[i] == ',') {
				i++;
				continue;
			}
			assert_true(i < n && line[i] == '}');
			i++;
			break;
		}
	}
	assert_true(i < n && line[i] == ' ');
	i++;
	assert_true(i < n);
	for (; i < n; i++)
		assert_true((line[i] >= '0' && line[i] <= '9') ||
		    line[i] == '.');
}

/* The family a sample belongs to: histograms add _bucket/_sum/_count. */
static void
family_of(char *name, const char *histogram)
{
	static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
	size_t i, hl = strlen(histogram);

	if (strncmp(name, histogram, hl) != 0)
		return;
	for (i = 0; i < KG_NELEM(suffixes); i++)
		if (strcmp(name + hl, suffixes[i]) == 0)
			name[hl] = '\0';
}

static void
check_exposition(const char *text)
{
	char seen_help[32][64], seen_type[32][64], name[128];
	size_t nhelp = 0, ntype = 0, k;
	const char *p = text, *nl;

	assert_true(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
	for (; *p != '\0'; p = nl + 1) {
		size_t n;

		nl = strchr(p, '\n');
		assert_non_null(nl);
		n = (size_t)(nl - p);
		assert_true(n > 0);
		if (strncmp(p, "# HELP ", 7) == 0) {
			assert_true(sscanf(p + 7, "%127s", name) == 1);
			for (k = 0; k < nhelp; k++)
				assert_string_not_equal(seen_help[k], name);
			assert_true(nhelp < 32);
			kg_strlcpy(seen_help[nhelp++], name, 64);
			continue;
		}
		if (strncmp(p, "# TYPE ", 7) == 0) {
			char type[32];
			assert_true(sscanf(p + 7, "%127s %31s", name, type) == 2);
			assert_true(strcmp(type, "counter") == 0 ||
			    strcmp(type, "gauge") == 0 ||
			    strcmp(type, "histogram") == 0);
			/* HELP comes first, for the same family. */
			assert_true(nhelp == ntype + 1);
			assert_string_equal(seen_help[ntype], name);
			kg_strlcpy(seen_type[ntype++], name, 64);
			continue;
		}
		assert_true(p[0] != '#');
		check_sample(p, n, name, sizeof(name));
		family_of(name, "kerbgate_request_duration_seconds");
		/* A sample belongs to the family declared last. */
		assert_true(ntype > 0);
		assert_string_equal(seen_type[ntype - 1], name);
	}
	assert_int_equal(nhelp, ntype);
}

/* ---------------------------------------------------------------- tests */

static void
test_map_gives_a_zeroed_region_shared_with_children(void **state)
{
	struct metrics_shm *m = *state;
	pid_t pid;
	int st;

	assert_int_equal(m->nworkers, 0);
	assert_int_equal(m->w[METRICS_MAX_WORKERS - 1].requests, 0);
	assert_int_equal(m->s[METRICS_MAX_SERVERS - 1].up, 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		m->w[5].requests = 77;
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(m->w[5].requests, 77);
}

static void
test_empty_region_renders_valid_text_with_zeros(void **state)
{
	char *text = render(*state);

	check_exposition(text);
	assert_int_equal(value_of(text, "kerbgate_requests_total"), 0);
	assert_int_equal(value_of(text,
	    "kerbgate_request_duration_seconds_count"), 0);
	assert_true(has_line(text, "# TYPE kerbgate_backend_up gauge"));
	assert_null(strstr(text, "kerbgate_backend_up{"));
	free(text);
}

static void
test_every_family_has_help_and_type(void **state)
{
	static const char *const types[] = {
		"# TYPE kerbgate_requests_total counter",
		"# TYPE kerbgate_responses_total counter",
		"# TYPE kerbgate_auth_success_total counter",
		"# TYPE kerbgate_auth_failures_total counter",
		"# TYPE kerbgate_connections_open gauge",
		"# TYPE kerbgate_connections_total counter",
		"# TYPE kerbgate_bytes_total counter",
		"# TYPE kerbgate_request_duration_seconds histogram",
		"# TYPE kerbgate_backend_up gauge",
		"# TYPE kerbgate_backend_requests_total counter",
		"# TYPE kerbgate_backend_connect_failures_total counter",
	};
	struct metrics_shm *m = *state;
	char *text;
	size_t i;

	m->nworkers = 1;
	m->nservers = 1;
	kg_strlcpy(m->s[0].pool, "cas", sizeof(m->s[0].pool));
	kg_strlcpy(m->s[0].name, "cas1", sizeof(m->s[0].name));
	text = render(m);
	check_exposition(text);
	for (i = 0; i < KG_NELEM(types); i++)
		assert_true(has_line(text, types[i]));
	free(text);
}

static void
test_counters_are_summed_across_workers(void **state)
{
	struct metrics_shm *m = *state;
	char *text;
	uint32_t i;

	m->nworkers = 3;
	for (i = 0; i < 3; i++) {
		m->w[i].requests = i + 1;
		m->w[i].auth_ok = 10 * (i + 1);
		m->w[i].conns_open = 2;
		m->w[i].conns_total = 100;
		m->w[i].bytes_in = 1000;
		m->w[i].bytes_out = 5000000000ULL;
	}
	text = render(m);
	check_exposition(text);
	assert_int_equal(value_of(text, "kerbgate_requests_total"), 6);
	assert_int_equal(value_of(text, "kerbgate_auth_success_total"), 60);
	assert_int_equal(value_of(text, "kerbgate_connections_open"), 6);
	assert_int_equal(value_of(text, "kerbgate_connections_total"), 300);
	assert_int_equal(value_of(text,
	    "kerbgate_bytes_total{direction=\"in\"}"), 3000);
	assert_int_equal(value_of(text,
	    "kerbgate_bytes_total{direction=\"out\"}"), 15000000000ULL);
	free(text);
}

static void
test_workers_beyond_nworkers_are_not_counted(void **state)
{
	struct metrics_shm *m = *state;
	char *text;

	m->nworkers = 2;
	m->w[0].requests = 1;
	m->w[1].requests = 2;
	m->w[2].requests = 1000;	/* a slot no worker owns */
	text = render(m);
	assert_int_equal(value_of(text, "kerbgate_requests_total"), 3);
	free(text);
}

static void
test_nworkers_larger_than_the_region_is_clamped(void **state)
{
	struct metrics_shm *m = *state;
	char *text;
	size_t i;

	m->nworkers = 100000;
	m->nservers = 100000;
	for (i = 0; i < METRICS_MAX_WORKERS; i++)
		m->w[i].requests = 1;
	text = render(m);
	check_exposition(text);
	assert_int_equal(value_of(text, "kerbgate_requests_total"),
	    METRICS_MAX_WORKERS);
	free(text);
}

static void
test_responses_are_counted_by_class(void **state)
{
	struct metrics_shm *m = *state;
	char *text;
	size_t c;

	m->nworkers = 2;
	for (c = 1; c <= 5; c++) {
		m->w[0].responses[c] = c;
		m->w[1].responses[c] = 100 * c;
	}
	text = render(m);
	assert_int_equal(value_of(text,
	    "kerbgate_responses_total{class=\"1xx\"}"), 101);
	assert_int_equal(value_of(text,
	    "kerbgate_responses_total{class=\"2xx\"}"), 202);
	assert_int_equal(value_of(text,
	    "kerbgate_responses_total{class=\"4xx\"}"), 404);
	assert_int_equal(value_of(text,
	    "kerbgate_responses_total{class=\"5xx\"}"), 505);
	free(text);
}

static void
test_every_failure_reason_has_a_series_even_at_zero(void **state)
{
	static const char *const relay[] = { "no_token", "bad_header",
	    "ntlm_offered", "keyholder_unavailable" };
	char series[128], *text;
	size_t r;

	text = render(*state);
	for (r = KH_R_NONE + 1; r < KH_R_MAX; r++) {
		snprintf(series, sizeof(series),
		    "kerbgate_auth_failures_total{reason=\"%s\"}",
		    kh_reason_label((enum kh_reason)r));
		assert_int_equal(value_of(text, series), 0);
	}
	for (r = 0; r < KG_NELEM(relay); r++) {
		snprintf(series, sizeof(series),
		    "kerbgate_auth_failures_total{reason=\"%s\"}", relay[r]);
		assert_int_equal(value_of(text, series), 0);
	}
	assert_null(strstr(text, "reason=\"none\""));
	assert_null(strstr(text, "reason=\"unknown\""));
	free(text);
}

static void
test_failure_reasons_are_summed_across_workers(void **state)
{
	struct metrics_shm *m = *state;
	char *text;

	m->nworkers = 2;
	m->w[0].auth_fail_kh[KH_R_SKEW] = 3;
	m->w[1].auth_fail_kh[KH_R_SKEW] = 4;
	m->w[1].auth_fail_kh[KH_R_KVNO] = 9;
	m->w[0].auth_fail_kh[KH_R_REPLAY_QUOTA] = 2;
	m->w[1].auth_fail_kh[KH_R_REPLAY_CACHE_FULL] = 1;
	m->w[0].auth_fail_relay[MR_NTLM] = 5;
	m->w[1].auth_fail_relay[MR_NTLM] = 6;
	m->w[1].auth_fail_relay[MR_KEYHOLDER] = 1;
	text = render(m);
	assert_int_equal(value_of(text,
	    "kerbgate_auth_failures_total{reason=\"clock_skew\"}"), 7);
	assert_int_equal(value_of(text,
	    "kerbgate_auth_failures_total{reason=\"kvno_not_in_keytab\"}"), 9);
	/* One user over its replay quota is not the whole cache full. */
	assert_int_equal(value_of(text,
	    "kerbgate_auth_failures_total{reason=\"replay_quota\"}"), 2);
	assert_int_equal(value_of(text,
	    "kerbgate_auth_failures_total{reason=\"replay_cache_full\"}"), 1);
	assert_int_equal(value_of(text,
	    "kerbgate_auth_failures_total{reason=\"ntlm_offered\"}"), 11);
	assert_int_equal(value_of(text,
	    "kerbgate_auth_failures_total{reason=\"keyholder_unavailable\"}"),
	    1);
	assert_int_equal(value_of(text,
	    "kerbgate_auth_failures_total{reason=\"no_token\"}"), 0);
	free(text);
}

static void
test_a_refusal_without_reason_counts_as_internal(void **state)
{
	struct metrics_shm *m = *state;
	char *text;

	m->nworkers = 1;
	m->w[0].auth_fail_kh[KH_R_NONE] = 2;
	m->w[0].auth_fail_kh[KH_R_INTERNAL] = 1;
	text = render(m);
	assert_int_equal(value_of(text,
	    "kerbgate_auth_failures_total{reason=\"internal\"}"), 3);
	free(text);
}

static void
test_bucket_bounds_increase_and_end_at_infinity(void **state)
{
	size_t b;

	assert_int_equal(metrics_bucket_us[0], 1000);
	for (b = 1; b < METRICS_NBUCKETS; b++)
		assert_true(metrics_bucket_us[b] > metrics_bucket_us[b - 1]);
	assert_int_equal(metrics_bucket_us[METRICS_NBUCKETS - 1], UINT64_MAX);
}

static void
test_latency_on_a_bound_falls_in_that_bucket(void **state)
{
	struct metrics_worker w;

	memset(&w, 0, sizeof(w));
	metrics_observe_latency(&w, 0);
	metrics_observe_latency(&w, 1000);
	assert_int_equal(w.latency_le[0], 2);
	metrics_observe_latency(&w, 1001);
	assert_int_equal(w.latency_le[1], 1);
	metrics_observe_latency(&w, 2500000);
	assert_int_equal(w.latency_le[METRICS_NBUCKETS - 2], 1);
	metrics_observe_latency(&w, 2500001);
	metrics_observe_latency(&w, UINT64_MAX / 2);
	assert_int_equal(w.latency_le[METRICS_NBUCKETS - 1], 2);
	assert_int_equal(w.latency_count, 6);
}

static void
test_histogram_is_cumulative_and_its_inf_bucket_is_its_count(void **state)
{
	static const char *const le[] = { "0.001", "0.0025", "0.005", "0.01",
	    "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf" };
	static const uint64_t want[] = { 1, 1, 2, 2, 2, 2, 3, 3, 3, 4, 4, 5 };
	struct metrics_shm *m = *state;
	char series[128], *text;
	uint64_t prev = 0, v;
	size_t b;

	m->nworkers = 2;
	metrics_observe_latency(&m->w[0], 500);		/* 0.0005 s */
	metrics_observe_latency(&m->w[1], 4000);	/* 0.004 s */
	metrics_observe_latency(&m->w[0], 100000);	/* 0.1 s */
	metrics_observe_latency(&m->w[1], 999999);	/* ~1 s */
	metrics_observe_latency(&m->w[1], 30000000);	/* 30 s */
	text = render(m);
	check_exposition(text);
	for (b = 0; b < METRICS_NBUCKETS; b++) {
		snprintf(series, sizeof(series),
		    "kerbgate_request_duration_seconds_bucket{le=\"%s\"}",
		    le[b]);
		v = value_of(text, series);
		assert_int_equal(v, want[b]);
		assert_true(v >= prev);
		prev = v;
	}
	assert_int_equal(value_of(text,
	    "kerbgate_request_duration_seconds_count"), 5);
	assert_true(has_line(text,
	    "kerbgate_request_duration_seconds_sum 31.104499"));
	free(text);
}

static void
test_histogram_buckets_are_in_ascending_order(void **state)
{
	char *text = render(*state);
	const char *a = strstr(text, "le=\"0.001\""),
	    *b = strstr(text, "le=\"0.5\""), *c = strstr(text, "le=\"+Inf\""),
	    *s = strstr(text, "kerbgate_request_duration_seconds_sum");

	assert_true(a != NULL && b != NULL && c != NULL && s != NULL);
	assert_true(a < b && b < c && c < s);
	free(text);
}

static void
test_backend_series_name_pool_and_server(void **state)
{
	struct metrics_shm *m = *state;
	char *text;

	m->nworkers = 2;
	m->nservers = 2;
	kg_strlcpy(m->s[0].pool, "cas", sizeof(m->s[0].pool));
	kg_strlcpy(m->s[0].name, "cas1.corp.contoso.com", sizeof(m->s[0].name));
	m->s[0].up = 1;
	m->w[0].backend_requests[0] = 5;	/* summed over workers */
	m->w[1].backend_requests[0] = 7;
	kg_strlcpy(m->s[1].pool, "cas", sizeof(m->s[1].pool));
	kg_strlcpy(m->s[1].name, "cas2.corp.contoso.com", sizeof(m->s[1].name));
	m->w[1].backend_connect_failures[1] = 3;
	text = render(m);
	check_exposition(text);
	assert_int_equal(value_of(text, "kerbgate_backend_up{pool=\"cas\","
	    "server=\"cas1.corp.contoso.com\"}"), 1);
	assert_int_equal(value_of(text, "kerbgate_backend_up{pool=\"cas\","
	    "server=\"cas2.corp.contoso.com\"}"), 0);
	assert_int_equal(value_of(text, "kerbgate_backend_requests_total{"
	    "pool=\"cas\",server=\"cas1.corp.contoso.com\"}"), 12);
	assert_int_equal(value_of(text, "kerbgate_backend_connect_failures_total{"
	    "pool=\"cas\",server=\"cas2.corp.contoso.com\"}"), 3);
	free(text);
}

static void
test_label_values_are_escaped(void **state)
{
	struct metrics_shm *m = *state;
	char *text;

	m->nservers = 1;
	kg_strlcpy(m->s[0].pool, "a\"b", sizeof(m->s[0].pool));
	kg_strlcpy(m->s[0].name, "c\\d\ne", sizeof(m->s[0].name));
	m->s[0].up = 1;
	text = render(m);
	check_exposition(text);
	assert_int_equal(value_of(text,
	    "kerbgate_backend_up{pool=\"a\\\"b\",server=\"c\\\\d\\ne\"}"), 1);
	free(text);
}

static void
test_unterminated_names_are_cut_at_their_field(void **state)
{
	struct metrics_shm *m = *state;
	char *text;

	m->nservers = 1;
	memset(m->s[0].pool, 'p', sizeof(m->s[0].pool));
	memset(m->s[0].name, 'n', sizeof(m->s[0].name));
	text = render(m);
	check_exposition(text);
	assert_non_null(strstr(text, "pool=\"pppp"));
	assert_null(strstr(text, "pnnn"));
	free(text);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_map_gives_a_zeroed_region_shared_with_children),
		T(test_empty_region_renders_valid_text_with_zeros),
		T(test_every_family_has_help_and_type),
		T(test_counters_are_summed_across_workers),
		T(test_workers_beyond_nworkers_are_not_counted),
		T(test_nworkers_larger_than_the_region_is_clamped),
		T(test_responses_are_counted_by_class),
		T(test_every_failure_reason_has_a_series_even_at_zero),
		T(test_failure_reasons_are_summed_across_workers),
		T(test_a_refusal_without_reason_counts_as_internal),
		T(test_bucket_bounds_increase_and_end_at_infinity),
		T(test_latency_on_a_bound_falls_in_that_bucket),
		T(test_histogram_is_cumulative_and_its_inf_bucket_is_its_count),
		T(test_histogram_buckets_are_in_ascending_order),
		T(test_backend_series_name_pool_and_server),
		T(test_label_values_are_escaped),
		T(test_unterminated_names_are_cut_at_their_field),
	};

	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
