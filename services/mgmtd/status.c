/*
 * status.c: the dashboard's facts (status.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ctlproto.h"
#include "status.h"
#include "util.h"
#include "web.h"
#include "webparse.h"

extern char **environ;

/* Reads fd until EOF, \p outlen - 1 bytes or the deadline; the count. */
static size_t
read_all(int fd, char *out, size_t outlen, uint64_t deadline)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	size_t got = 0;
	ssize_t n;
	int64_t left;

	while (got + 1 < outlen) {
		if ((left = (int64_t)(deadline - kg_now_ms())) <= 0 ||
		    poll(&pfd, 1, (int)left) <= 0)
			break;
		if ((n = read(fd, out + got, outlen - 1 - got)) <= 0)
			break;
		got += (size_t)n;
	}
	out[got] = '\0';
	return got;
}

int
status_run(char *const argv[], char *out, size_t outlen, int timeout_ms)
{
	posix_spawn_file_actions_t fa;
	uint64_t deadline = kg_now_ms() + (uint64_t)timeout_ms;
	int p[2], st = 0, rc;
	pid_t pid;

	out[0] = '\0';
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (rc != 0) {
		close(p[0]);
		return -1;
	}
	read_all(p[0], out, outlen, deadline);
	close(p[0]);
	while ((rc = (int)waitpid(pid, &st, WNOHANG)) == 0 && kg_now_ms() < deadline)
		usleep(5000);
	if (rc == 0) {	/* still running past the deadline */
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return -1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- firmware ------------------------------------------------------------------ */

json_t *
status_firmware(struct web *w, int detailed)
{
	static char *const bs[] = { "kerbgate-bootstate", "status", NULL };
	static char *const rauc[] = { "rauc", "status", "--output-format=json", NULL };
	static char *const rauc_detailed[] = { "rauc", "status", "--detailed",
	    "--output-format=json", NULL };
	char buf[8192];
	json_t *o = json_object(), *rj;
	FILE *f;

	buf[0] = '\0';
	if ((f = fopen(w->conf.release_file, "re")) != NULL) {
		if (fgets(buf, sizeof(buf), f) == NULL)
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	json_object_set_new(o, "version", json_string(buf[0] ? buf : "unknown (no release file)"));
	if (status_run(bs, buf, sizeof(buf), STATUS_TIMEOUT_MS) >= 0)
		json_object_set_new(o, "bootstate", json_string(buf));
	if (status_run(detailed ? rauc_detailed : rauc, buf, sizeof(buf),
	    STATUS_TIMEOUT_MS) == 0 && (rj = json_loads(buf, 0, NULL)) != NULL) {
		json_object_set_new(o, "rauc", rj);
		json_object_set_new(o, "slots_present", json_true());
	} else {
		json_object_set_new(o, "rauc_error", json_string(buf[0] ? buf :
		    "rauc is not installed"));
		json_object_set_new(o, "slots_present", json_false());
	}
	return o;
}

/* ---- uptime --------------------------------------------------------------------- */

static json_t *
uptime(struct web *w)
{
	double up = 0;
	FILE *f = fopen("/proc/uptime", "re");

	if (f != NULL) {
		if (fscanf(f, "%lf", &up) != 1)
			up = 0;
		fclose(f);
	}
	return json_pack("{s:I, s:I}", "system_s", (json_int_t)up, "mgmtd_s",
	    (json_int_t)(time(NULL) - w->started));
}

/* ---- virtual hosts ------------------------------------------------------------- */

static json_t *
vhosts(struct web *w)
{
	json_t *conf, *arr = json_array(), *v, *r, *routes, *pools;
	json_error_t jerr;
	size_t i, j;

	if (w->conf.kerbgated_conf == NULL)
		return json_pack("{s:s}", "error", "kerbgated_config is not set in mgmtd.json");
	if ((conf = json_load_file(w->conf.kerbgated_conf, 0, &jerr)) == NULL)
		return json_pack("{s:s}", "error", jerr.text);
	json_array_foreach(json_object_get(conf, "vhosts"), i, v) {
		pools = json_array();
		routes = json_object_get(v, "routes");
		json_array_foreach(routes, j, r)
			if (json_is_string(json_object_get(r, "pool")))
				json_array_append(pools, json_object_get(r, "pool"));
		json_array_append_new(arr, json_pack("{s:O?, s:O?, s:O?, s:o}", "name",
		    json_object_get(v, "name"), "aliases", json_object_get(v, "aliases"),
		    "spns", json_object_get(v, "spns"), "pools", pools));
	}
	json_decref(conf);
	return json_pack("{s:o}", "vhosts", arr);
}

/* ---- metrics -------------------------------------------------------------------- */

/* GET /metrics from ADDRESS:PORT: the body, malloc'd; NULL with err. */
static char *
fetch_metrics(const char *spec, size_t *len, char *err, size_t errlen)
{
	struct sockaddr_in sin;
	struct pollfd pfd;
	char host[64], *buf, *body;
	const char *colon = strrchr(spec, ':');
	uint64_t deadline = kg_now_ms() + STATUS_TIMEOUT_MS;
	static const char rq[] = "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
	size_t got;
	int fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if (colon == NULL || (size_t)(colon - spec) >= sizeof(host))
		return kg_seterr(err, errlen, "metrics \"%s\" is not ADDRESS:PORT", spec), NULL;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	sin.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		return kg_seterr(err, errlen, "metrics \"%s\" is not ADDRESS:PORT", spec), NULL;
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return kg_seterr(err, errlen, "socket: %s", strerror(errno)), NULL;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	if ((connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 && errno != EINPROGRESS) ||
	    poll(&pfd, 1, STATUS_TIMEOUT_MS) <= 0 || (pfd.revents & (POLLERR | POLLHUP)) ||
	    write(fd, rq, sizeof(rq) - 1) != (ssize_t)(sizeof(rq) - 1)) {
		close(fd);
		return kg_seterr(err, errlen, "kerbgated's metrics (%s) do not answer: is "
		    "kerbgated running, with \"admin\" set to that address?", spec), NULL;
	}
	if ((buf = malloc(STATUS_MAX_METRICS)) == NULL) {
		close(fd);
		return kg_seterr(err, errlen, "out of memory"), NULL;
	}
	got = read_all(fd, buf, STATUS_MAX_METRICS, deadline);
	close(fd);
	if ((body = strstr(buf, "\r\n\r\n")) == NULL || strncmp(buf, "HTTP/1.", 7) != 0 ||
	    strncmp(buf + 8, " 200", 4) != 0) {
		free(buf);
		return kg_seterr(err, errlen, "kerbgated's metrics answer is not 200"), NULL;
	}
	body += 4;
	*len = got - (size_t)(body - buf);
	memmove(buf, body, *len + 1);
	return buf;
}

static void
add_reason(void *arg, const char *labels, size_t llen, double v)
{
	char reason[64];

	if (web_prom_label(labels, llen, "reason", reason, sizeof(reason)))
		json_object_set_new(arg, reason, json_real(v));
}

static void
add_backend(void *arg, const char *labels, size_t llen, double v)
{
	char pool[64], server[128];

	if (web_prom_label(labels, llen, "pool", pool, sizeof(pool)) &&
	    web_prom_label(labels, llen, "server", server, sizeof(server)))
		json_array_append_new(arg, json_pack("{s:s, s:s, s:b}", "pool", pool,
		    "server", server, "up", v > 0));
}

static json_t *
metrics(struct web *w)
{
	char err[256], *text;
	size_t len = 0;
	json_t *fail, *back, *o;

	if (w->conf.metrics == NULL)
		return json_pack("{s:s}", "error", "metrics is not set in mgmtd.json");
	if ((text = fetch_metrics(w->conf.metrics, &len, err, sizeof(err))) == NULL)
		return json_pack("{s:s}", "error", err);
	fail = json_object();
	back = json_array();
	web_prom_each(text, len, "kerbgate_auth_failures_total", add_reason, fail);
	web_prom_each(text, len, "kerbgate_backend_up", add_backend, back);
	o = json_pack("{s:f, s:f, s:f, s:o, s:f, s:o, s:I}",
	    "auth_success_total", web_prom_sum(text, len, "kerbgate_auth_success_total", NULL),
	    "auth_rc4_total", web_prom_sum(text, len, "kerbgate_auth_rc4_total", NULL),
	    "requests_total", web_prom_sum(text, len, "kerbgate_requests_total", NULL),
	    "auth_failures_total", fail,
	    "connections_open", web_prom_sum(text, len, "kerbgate_connections_open", NULL),
	    "backends", back, "at_ms", (json_int_t)kg_now_ms());
	free(text);
	return o;
}

/* ---- credentials ------------------------------------------------------------------ */

static json_t *
credentials(struct web *w)
{
	struct ctl_req req;
	struct ctl_result res;
	char err[256];
	json_t *list, *e, *out;
	json_int_t active = 0, last = 0;
	size_t i;

	memset(&req, 0, sizeof(req));
	memset(&res, 0, sizeof(res));
	req.type = CTL_MSG_LIST_JSON;
	if (w->api == NULL || w->api->ctl(w->api->ctx, &req, &res, err, sizeof(err)) < 0)
		return json_pack("{s:s}", "error", w->api ? err : "no control socket");
	if (res.status != CTL_OK || (list = json_loads(res.text, 0, NULL)) == NULL)
		return json_pack("{s:s}", "error", res.text);
	json_array_foreach(json_object_get(list, "kvnos"), i, e)
		if (strcmp(json_string_value(json_object_get(e, "state")) ?: "", "active") == 0) {
			active = json_integer_value(json_object_get(e, "kvno"));
			last = json_integer_value(json_object_get(e, "since"));
		}
	out = json_pack("{s:O, s:O, s:I, s:I}", "account", json_object_get(list, "account"),
	    "kvnos", json_object_get(list, "kvnos"), "active_kvno", active,
	    "last_rotation", last);
	json_decref(list);
	return out ? out : json_pack("{s:s}", "error", "the keyholder's list is not readable");
}

void *
status_dashboard(struct web *w)
{
	return json_pack("{s:b, s:o, s:o, s:o, s:o, s:o, s:I}", "ok", 1,
	    "firmware", status_firmware(w, 0), "uptime", uptime(w), "vhosts", vhosts(w),
	    "metrics", metrics(w), "credentials", credentials(w),
	    "now", (json_int_t)time(NULL));
}
