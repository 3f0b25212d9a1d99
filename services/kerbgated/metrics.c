/*
 * Shared per-worker counters and their Prometheus text rendering
 * (exposition format 0.0.4).
 *
 * Workers write only their own slot with plain stores; the renderer reads
 * every counter exactly once with a relaxed atomic load, so a scrape sees
 * each value whole, if a moment old.  A histogram's buckets are kept
 * per-bucket and made cumulative here; its _count is the +Inf bucket as
 * read, so that the two always agree within one scrape.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "metrics.h"
#include "util.h"

const uint64_t metrics_bucket_us[METRICS_NBUCKETS] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, UINT64_MAX,
};

/* Relay reasons, as labels; indexed by enum metrics_relay_reason. */
static const char *const relay_labels[MR_MAX] = {
	[MR_NO_TOKEN] = "no_token",
	[MR_BAD_HEADER] = "bad_header",
	[MR_NTLM] = "ntlm_offered",
	[MR_KEYHOLDER] = "keyholder_unavailable",
};

#define LOAD(x)	__atomic_load_n(&(x), __ATOMIC_RELAXED)

struct metrics_shm *
metrics_map(void)
{
	void *p;

	p = mmap(NULL, sizeof(struct metrics_shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void
metrics_observe_latency(struct metrics_worker *w, uint64_t us)
{
	size_t i;

	for (i = 0; i < METRICS_NBUCKETS - 1; i++)
		if (us <= metrics_bucket_us[i])
			break;
	w->latency_le[i]++;
	w->latency_count++;
	w->latency_sum_us += us;
}

static size_t
nworkers(const struct metrics_shm *m)
{
	uint32_t n = LOAD(m->nworkers);

	return n > METRICS_MAX_WORKERS ? METRICS_MAX_WORKERS : n;
}

static size_t
nservers(const struct metrics_shm *m)
{
	uint32_t n = LOAD(m->nservers);

	return n > METRICS_MAX_SERVERS ? METRICS_MAX_SERVERS : n;
}

/* Sums one uint64_t field, at byte offset off in each worker, over all. */
static uint64_t
sum(const struct metrics_shm *m, size_t off)
{
	uint64_t total = 0;
	size_t i, n = nworkers(m);

	for (i = 0; i < n; i++) {
		const uint64_t *f = (const uint64_t *)(const void *)
		    ((const char *)&m->w[i] + off);
		total += LOAD(*f);
	}
	return total;
}

#define SUM(m, field)	sum((m), offsetof(struct metrics_worker, field))
#define SUM_AT(m, field, i) \
	sum((m), offsetof(struct metrics_worker, field) + (i) * sizeof(uint64_t))

static void
header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped as the text format wants (\\, \", \n). */
static void
label_value(FILE *f, const char *s, size_t max)
{
	size_t i, n = strnlen(s, max);

	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case '\\':
			fputs("\\\\", f);
			break;
		case '"':
			fputs("\\\"", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		default:
			fputc(s[i], f);
		}
	}
}

static void
render_requests(const struct metrics_shm *m, FILE *f)
{
	size_t c;

	header(f, "kerbgate_requests_total", "counter",
	    "Request heads parsed from clients.");
	fprintf(f, "kerbgate_requests_total %llu\n",
	    (unsigned long long)SUM(m, requests));
	header(f, "kerbgate_responses_total", "counter",
	    "Responses sent to clients, by status class.");
	for (c = 1; c <= 5; c++)
		fprintf(f, "kerbgate_responses_total{class=\"%zuxx\"} %llu\n",
		    c, (unsigned long long)SUM_AT(m, responses, c));
}

static void
render_auth(const struct metrics_shm *m, FILE *f)
{
	size_t r;

	header(f, "kerbgate_auth_success_total", "counter",
	    "Kerberos tokens accepted.");
	fprintf(f, "kerbgate_auth_success_total %llu\n",
	    (unsigned long long)SUM(m, auth_ok));
	header(f, "kerbgate_auth_failures_total", "counter",
	    "Requests not authenticated, by reason.");
	for (r = KH_R_NONE + 1; r < KH_R_MAX; r++) {
		uint64_t v = SUM_AT(m, auth_fail_kh, r);
		/* A refusal without a reason code is the keyholder's fault. */
		if (r == KH_R_INTERNAL)
			v += SUM_AT(m, auth_fail_kh, KH_R_NONE);
		fprintf(f, "kerbgate_auth_failures_total{reason=\"%s\"} %llu\n",
		    kh_reason_label((enum kh_reason)r), (unsigned long long)v);
	}
	for (r = 0; r < MR_MAX; r++)
		fprintf(f, "kerbgate_auth_failures_total{reason=\"%s\"} %llu\n",
		    relay_labels[r],
		    (unsigned long long)SUM_AT(m, auth_fail_relay, r));
}

static void
render_connections(const struct metrics_shm *m, FILE *f)
{
	header(f, "kerbgate_connections_open", "gauge",
	    "Client connections open now.");
	fprintf(f, "kerbgate_connections_open %llu\n",
	    (unsigned long long)SUM(m, conns_open));
	header(f, "kerbgate_connections_total", "counter",
	    "Client connections accepted.");
	fprintf(f, "kerbgate_connections_total %llu\n",
	    (unsigned long long)SUM(m, conns_total));
	header(f, "kerbgate_bytes_total", "counter",
	    "Bytes received from (in) and sent to (out) clients.");
	fprintf(f, "kerbgate_bytes_total{direction=\"in\"} %llu\n",
	    (unsigned long long)SUM(m, bytes_in));
	fprintf(f, "kerbgate_bytes_total{direction=\"out\"} %llu\n",
	    (unsigned long long)SUM(m, bytes_out));
	header(f, "kerbgate_tls_key_failures_total", "counter",
	    "TLS handshakes failed because the TLS key process did not sign.");
	fprintf(f, "kerbgate_tls_key_failures_total %llu\n",
	    (unsigned long long)SUM(m, tls_key_failures));
	header(f, "kerbgate_auth_rc4_total", "counter",
	    "Authentications whose service ticket was RC4-HMAC (the ASA account lacks AES).");
	fprintf(f, "kerbgate_auth_rc4_total %llu\n", (unsigned long long)SUM(m, auth_rc4));
}

/*
 * Microseconds as the shortest decimal seconds ("0.0025", "1"), without
 * floating point, so that no locale can turn the point into a comma.
 */
static const char *
seconds(uint64_t us, char *buf, size_t bufsz)
{
	int n = snprintf(buf, bufsz, "%llu.%06llu",
	    (unsigned long long)(us / 1000000),
	    (unsigned long long)(us % 1000000));

	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
	return buf;
}

static void
render_latency(const struct metrics_shm *m, FILE *f)
{
	const char *name = "kerbgate_request_duration_seconds";
	uint64_t cum = 0, sum_us;
	char le[32];
	size_t b;

	header(f, name, "histogram",
	    "Time from a request head received to the response head sent.");
	for (b = 0; b < METRICS_NBUCKETS; b++) {
		cum += SUM_AT(m, latency_le, b);
		if (b == METRICS_NBUCKETS - 1)
			fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name,
			    (unsigned long long)cum);
		else
			fprintf(f, "%s_bucket{le=\"%s\"} %llu\n", name,
			    seconds(metrics_bucket_us[b], le, sizeof(le)),
			    (unsigned long long)cum);
	}
	sum_us = SUM(m, latency_sum_us);
	fprintf(f, "%s_sum %llu.%06llu\n", name,
	    (unsigned long long)(sum_us / 1000000),
	    (unsigned long long)(sum_us % 1000000));
	fprintf(f, "%s_count %llu\n", name, (unsigned long long)cum);
}

static void
server_sample(FILE *f, const char *name, const struct metrics_server *s,
    uint64_t v)
{
	fprintf(f, "%s{pool=\"", name);
	label_value(f, s->pool, sizeof(s->pool));
	fputs("\",server=\"", f);
	label_value(f, s->name, sizeof(s->name));
	fprintf(f, "\"} %llu\n", (unsigned long long)v);
}

static void
render_backends(const struct metrics_shm *m, FILE *f)
{
	size_t i, n = nservers(m);

	header(f, "kerbgate_backend_up", "gauge",
	    "1 when the back-end server passes its health check.");
	for (i = 0; i < n; i++)
		server_sample(f, "kerbgate_backend_up", &m->s[i],
		    LOAD(m->s[i].up) ? 1 : 0);
	header(f, "kerbgate_backend_requests_total", "counter",
	    "Requests forwarded to the back-end server.");
	for (i = 0; i < n; i++)
		server_sample(f, "kerbgate_backend_requests_total", &m->s[i],
		    SUM_AT(m, backend_requests, i));
	header(f, "kerbgate_backend_connect_failures_total", "counter",
	    "Failed connection attempts to the back-end server.");
	for (i = 0; i < n; i++)
		server_sample(f, "kerbgate_backend_connect_failures_total",
		    &m->s[i], SUM_AT(m, backend_connect_failures, i));
	header(f, "kerbgate_backend_delegation_ok", "gauge",
	    "kcd pools: 0 when the last constrained delegation to the "
	    "back-end failed.");
	for (i = 0; i < n; i++)
		server_sample(f, "kerbgate_backend_delegation_ok", &m->s[i],
		    LOAD(m->s[i].delegation_ok) ? 1 : 0);
	header(f, "kerbgate_backend_delegation_failures_total", "counter",
	    "kcd pools: delegations to the back-end that failed (KDC refusal, "
	    "KDC unreachable, back-end refused the ticket or its answer).");
	for (i = 0; i < n; i++)
		server_sample(f, "kerbgate_backend_delegation_failures_total",
		    &m->s[i], SUM_AT(m, backend_delegation_failures, i));
}

int
metrics_render(const struct metrics_shm *m, char **out, size_t *outlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int bad;

	*out = NULL;
	*outlen = 0;
	if ((f = open_memstream(&buf, &len)) == NULL)
		return KG_ERR_NOMEM;
	render_requests(m, f);
	render_auth(m, f);
	render_connections(m, f);
	render_latency(m, f);
	render_backends(m, f);
	bad = ferror(f);
	if (fclose(f) != 0 || bad) {
		free(buf);
		return KG_ERR_NOMEM;
	}
	if (len > INT32_MAX) {
		free(buf);
		return KG_ERR_NOMEM;
	}
	*out = buf;
	*outlen = len;
	return (int)len;
}
