/*
 * Back-end pools: server selection, passive ejection and active health
 * checks (an HTTP GET of the pool's health path, over TLS when the pool
 * uses TLS, judged by its status code, with rise/fall hysteresis).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "pool.h"
#include "tls.h"
#include "util.h"

struct health_check {
	struct pool_server	*s;
	struct ev_loop		*loop;
	ev_timer		 tick;		/* next check */
	ev_timer		 timeout;	/* the check in flight */
	ev_io			 io;
	int			 fd;
	struct tls_conn		*tls;
	int			 connected;
	int			 sent;
	char			 req[CONF_MAX_NAME * 2 + 64];
	size_t			 reqlen, reqoff;
	char			 resp[256];
	size_t			 resplen;
};

uint64_t
pool_hash(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 1469598103934665603ULL;

	while (n-- > 0)
		h = (h ^ *b++) * 1099511628211ULL;
	return h;
}

static void
set_health(struct pool_server *s, int healthy, const char *why)
{
	if (s->healthy != healthy)
		log_warnx("back-end %s in pool %s is %s%s%s", s->cs->text,
		    s->pool->cp->name, healthy ? "up" : "down",
		    why ? ": " : "", why ? why : "");
	s->healthy = healthy;
	if (s->ms)
		s->ms->up = (uint64_t)healthy;
}

void
pool_server_failed(struct pool_server *s, const char *why)
{
	s->ok_streak = 0;
	s->fail_streak = s->pool->cp->health.fall;
	set_health(s, 0, why);
}

int
pool_select(struct pool *p, uint64_t affinity, int has_affinity,
    uint64_t exclude)
{
	size_t i, n = p->n, healthy = 0, pick;
	int best = -1;

	for (i = 0; i < n; i++)
		if (p->servers[i].healthy && !(exclude & (1ULL << (i & 63))))
			healthy++;
	if (healthy == 0)
		return -1;
	if (has_affinity) {
		/* The k-th healthy server: stable while the set is stable. */
		pick = (size_t)(affinity % healthy);
		for (i = 0; i < n; i++) {
			if (!p->servers[i].healthy || (exclude & (1ULL << (i & 63))))
				continue;
			if (pick-- == 0)
				return (int)i;
		}
	}
	if (p->cp->balance == CONF_BALANCE_LEAST_CONN) {
		for (i = 0; i < n; i++) {
			size_t j = (p->rr + i) % n;
			if (!p->servers[j].healthy || (exclude & (1ULL << (j & 63))))
				continue;
			if (best < 0 || p->servers[j].active <
			    p->servers[best].active)
				best = (int)j;
		}
		p->rr = (p->rr + 1) % n;
		return best;
	}
	for (i = 0; i < n; i++) {
		size_t j = (p->rr + i) % n;
		if (p->servers[j].healthy && !(exclude & (1ULL << (j & 63)))) {
			p->rr = (unsigned)((j + 1) % n);
			return (int)j;
		}
	}
	return -1;
}

/* ------------------------------------------------------------ checks */

static void
hc_reset(struct health_check *hc)
{
	ev_io_stop(hc->loop, &hc->io);
	ev_timer_stop(hc->loop, &hc->timeout);
	if (hc->tls != NULL)
		tls_conn_free(hc->tls);
	if (hc->fd >= 0)
		close(hc->fd);
	hc->tls = NULL;
	hc->fd = -1;
	hc->connected = hc->sent = 0;
	hc->reqoff = hc->resplen = 0;
}

static void
hc_result(struct health_check *hc, int ok, const char *why)
{
	struct pool_server *s = hc->s;
	const struct conf_health *h = &s->pool->cp->health;

	hc_reset(hc);
	if (ok) {
		s->fail_streak = 0;
		if (++s->ok_streak >= h->rise && !s->healthy)
			set_health(s, 1, NULL);
	} else {
		s->ok_streak = 0;
		if (++s->fail_streak >= h->fall && s->healthy)
			set_health(s, 0, why);
		else
			log_debug("health check of %s failed: %s", s->cs->text,
			    why);
	}
}

static void
hc_watch(struct health_check *hc, int ev)
{
	ev_io_stop(hc->loop, &hc->io);
	ev_io_set(&hc->io, hc->fd, ev);
	ev_io_start(hc->loop, &hc->io);
}

/* Judges the status line once it is complete. */
static int
hc_judge(struct health_check *hc)
{
	char *eol = memchr(hc->resp, '\n', hc->resplen);
	int status;
	char why[64];

	if (eol == NULL && hc->resplen < sizeof(hc->resp) - 1)
		return 0;
	hc->resp[hc->resplen] = '\0';
	if (sscanf(hc->resp, "HTTP/1.%*d %3d", &status) != 1) {
		hc_result(hc, 0, "not an HTTP response");
		return 1;
	}
	if (status != hc->s->pool->cp->health.expect_status) {
		snprintf(why, sizeof(why), "health check got status %d, "
		    "expected %d", status, hc->s->pool->cp->health.expect_status);
		hc_result(hc, 0, why);
		return 1;
	}
	hc_result(hc, 1, NULL);
	return 1;
}

static void
hc_io_cb(struct ev_loop *loop, ev_io *w, int events)
{
	struct health_check *hc = w->data;
	ssize_t n;
	int err = 0, rc;
	socklen_t el = sizeof(err);

	if (!hc->connected) {
		getsockopt(hc->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err != 0) {
			hc_result(hc, 0, strerror(err));
			return;
		}
		hc->connected = 1;
	}
	if (hc->tls != NULL && !tls_conn_established(hc->tls)) {
		rc = tls_handshake(hc->tls);
		if (rc == TLS_WANT_READ || rc == TLS_WANT_WRITE) {
			hc_watch(hc, rc == TLS_WANT_READ ? EV_READ : EV_WRITE);
			return;
		}
		if (rc != TLS_OK) {
			hc_result(hc, 0, tls_conn_error(hc->tls));
			return;
		}
	}
	while (hc->reqoff < hc->reqlen) {
		n = hc->tls ? tls_write(hc->tls, hc->req + hc->reqoff,
		    hc->reqlen - hc->reqoff) : send(hc->fd, hc->req + hc->reqoff,
		    hc->reqlen - hc->reqoff, MSG_NOSIGNAL);
		if (n == TLS_WANT_WRITE || (n < 0 && !hc->tls && errno == EAGAIN)) {
			hc_watch(hc, EV_WRITE);
			return;
		}
		if (n == TLS_WANT_READ) {
			hc_watch(hc, EV_READ);
			return;
		}
		if (n <= 0) {
			hc_result(hc, 0, "could not send the health check");
			return;
		}
		hc->reqoff += (size_t)n;
	}
	for (;;) {
		n = hc->tls ? tls_read(hc->tls, hc->resp + hc->resplen,
		    sizeof(hc->resp) - 1 - hc->resplen) : read(hc->fd,
		    hc->resp + hc->resplen, sizeof(hc->resp) - 1 - hc->resplen);
		if (n == TLS_WANT_READ || (n < 0 && !hc->tls && errno == EAGAIN)) {
			hc_watch(hc, EV_READ);
			return;
		}
		if (n == TLS_WANT_WRITE) {
			hc_watch(hc, EV_WRITE);
			return;
		}
		if (n <= 0) {
			if (!hc_judge(hc))
				hc_result(hc, 0, "connection closed before a "
				    "status line");
			return;
		}
		hc->resplen += (size_t)n;
		if (hc_judge(hc))
			return;
	}
}

static void
hc_timeout_cb(struct ev_loop *loop, ev_timer *w, int events)
{
	hc_result(w->data, 0, "health check timed out");
}

static void
hc_tick_cb(struct ev_loop *loop, ev_timer *w, int events)
{
	struct health_check *hc = w->data;
	const struct conf_server *cs = hc->s->cs;

	if (hc->fd >= 0)
		return;		/* the previous check is still running */
	hc->fd = socket(cs->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (hc->fd < 0) {
		hc_result(hc, 0, strerror(errno));
		return;
	}
	if (connect(hc->fd, (const struct sockaddr *)&cs->addr, cs->addrlen) < 0 &&
	    errno != EINPROGRESS) {
		hc_result(hc, 0, strerror(errno));
		return;
	}
	if (hc->s->pool->tls != NULL &&
	    (hc->tls = tls_conn_new_client(hc->s->pool->tls, hc->fd,
	    cs->name[0] ? cs->name : NULL)) == NULL) {
		hc_result(hc, 0, "out of memory");
		return;
	}
	ev_timer_set(&hc->timeout, hc->s->pool->cp->health.timeout_ms / 1000.0,
	    0.);
	ev_timer_start(loop, &hc->timeout);
	hc_watch(hc, EV_WRITE);
}

static struct health_check *
hc_new(struct ev_loop *loop, struct pool_server *s)
{
	const struct conf_health *h = &s->pool->cp->health;
	struct health_check *hc = calloc(1, sizeof(*hc));
	double iv = h->interval_ms / 1000.0;

	if (hc == NULL)
		return NULL;
	hc->s = s;
	hc->loop = loop;
	hc->fd = -1;
	hc->reqlen = (size_t)snprintf(hc->req, sizeof(hc->req),
	    "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: kerbgate-health\r\n"
	    "Connection: close\r\n\r\n", h->path,
	    s->cs->name[0] ? s->cs->name : "localhost");
	ev_init(&hc->io, hc_io_cb);
	hc->io.data = hc;
	ev_timer_init(&hc->timeout, hc_timeout_cb, 0., 0.);
	hc->timeout.data = hc;
	/* Spread the first checks so workers and servers do not align. */
	ev_timer_init(&hc->tick, hc_tick_cb, 0.05 + iv * (rand() % 100) / 100.0,
	    iv);
	hc->tick.data = hc;
	ev_timer_start(loop, &hc->tick);
	return hc;
}

/* ------------------------------------------------------------ setup */

static int
pool_tls_init(struct pool *p, char *err, size_t errlen)
{
	const struct conf_pool *cp = p->cp;
	struct tls_client_config tc;
	char pin[65], e[256];
	size_t i;

	if (!cp->tls)
		return 0;
	memset(&tc, 0, sizeof(tc));
	tc.ca_file = cp->tls_ca_file[0] ? cp->tls_ca_file : NULL;
	if (cp->tls_has_pin) {
		for (i = 0; i < 32; i++)
			snprintf(pin + 2 * i, 3, "%02x", cp->tls_pin[i]);
		tc.pin_sha256 = pin;
	}
	if ((p->tls = tls_client_new(&tc, e, sizeof(e))) == NULL) {
		snprintf(err, errlen, "pool %s: %s", cp->name, e);
		return KG_ERR_CONFIG;
	}
	return 0;
}

int
pools_init(struct ev_loop *loop, const struct conf *c, struct metrics_shm *m,
    int report_health, struct pool **out, char *err, size_t errlen)
{
	struct pool *pools;
	size_t i, j, ms = 0;

	if ((pools = calloc(c->npools, sizeof(*pools))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return KG_ERR_NOMEM;
	}
	for (i = 0; i < c->npools; i++) {
		struct pool *p = &pools[i];
		p->cp = &c->pools[i];
		p->n = c->pools[i].nservers;
		if ((p->servers = calloc(p->n, sizeof(*p->servers))) == NULL ||
		    pool_tls_init(p, err, errlen) < 0) {
			if (p->servers == NULL)
				snprintf(err, errlen, "out of memory");
			pools_free(pools, i + 1);
			return KG_ERR_CONFIG;
		}
		for (j = 0; j < p->n; j++, ms++) {
			struct pool_server *s = &p->servers[j];
			s->cs = &p->cp->servers[j];
			s->pool = p;
			s->healthy = 1;
			TAILQ_INIT(&s->idle);
			s->idx = (unsigned)ms;
			if (ms < METRICS_MAX_SERVERS) {
				s->ms = &m->s[ms];
				if (report_health) {
					kg_strlcpy(s->ms->pool, p->cp->name,
					    sizeof(s->ms->pool));
					kg_strlcpy(s->ms->name, s->cs->text,
					    sizeof(s->ms->name));
					s->ms->up = 1;
					s->ms->delegation_ok = 1;
					m->nservers = (uint32_t)(ms + 1);
				} else {
					s->ms = NULL;	/* one worker reports */
				}
			}
			s->hc = hc_new(loop, s);
		}
	}
	*out = pools;
	return 0;
}

void
pools_free(struct pool *pools, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < pools[i].n && pools[i].servers; j++) {
			struct health_check *hc = pools[i].servers[j].hc;
			if (hc == NULL)
				continue;
			hc_reset(hc);
			ev_timer_stop(hc->loop, &hc->tick);
			free(hc);
		}
		if (pools[i].tls != NULL)
			tls_client_unref(pools[i].tls);
		free(pools[i].servers);
	}
	free(pools);
}
