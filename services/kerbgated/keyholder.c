/*
 * Keyholder process: the acceptor (acceptor.c) and, when a pool is in kcd
 * mode, constrained delegation (kcd.c) behind a framed IPC loop.
 *
 * One thread answers every relay; KDC round trips run on kcd's worker
 * threads and come back through kcd_fd(), so the loop never waits for a
 * KDC.  Three tables hold what outlives one frame:
 *
 *   sessions   a user's newest evidence ticket, one per relay, virtual
 *              host and principal, by an unguessable handle returned in
 *              AUTH_RESULT (LRU, bounded by conf->kcd_sessions, dropped
 *              at the ticket's end time);
 *   pending    KH_MSG_BACKEND frames waiting for the KDC, by kcd cookie;
 *   verifies   initiator contexts waiting for a back-end's AP-REP, by an
 *              unguessable handle (one use, KH_VERIFY_TTL_MS).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/sha256.h>

#include "acceptor.h"
#include "grant.h"
#include "kcrypto.h"
#include "ipc.h"
#include "kcd.h"
#include "keyholder.h"
#include "credctl.h"
#include "secretctl.h"
#include "khproto.h"
#include "log.h"
#include "replay.h"
#include "sandbox.h"
#include "sign.h"
#include "util.h"

#define KH_TICK_MS		1000		/* housekeeping period */
#define KH_SESSION_SWEEP_MS	(30 * 1000)	/* full scan of the sessions */
#define KH_VERIFY_TTL_MS	(120 * 1000)
#define KH_MAX_VERIFY		8192
#define KH_MAX_PENDING		4096		/* waiting frames, all relays;
						   each relay at most its share */
#define KH_KCD_WORKERS		2
/*
 * Answers wait in a per-relay queue, written as the relay's socket takes
 * them, so one relay that stops reading (wedged or compromised) cannot make
 * the single IPC thread block in write() and stall every other relay.
 * Past KH_QUEUE_PAUSE bytes waiting, that relay's further frames are left
 * unread until it catches up; a relay whose queue would pass KH_QUEUE_MAX
 * (answers the KDC delivers late still arrive) is dropped as misbehaving.
 */
#define KH_QUEUE_PAUSE		(64 * 1024)
#define KH_QUEUE_MAX		(4 * 1024 * 1024)

/* The relay re-challenges the client on KH_B_UNAVAILABLE with a reason
 * starting "session"; no other reason may start so (see backend_reason). */
#define KH_SESSION_GONE	"session expired: the client must authenticate again"

/* ---------------------------------------------------------------- tables */

/*
 * An entry of a table, embedded first in each record.  The order list runs
 * from the oldest (or least recently used) entry to the newest.
 */
struct kh_entry {
	uint64_t	 id;
	uint64_t	 expires_ms;	/* kg_now_ms() clock */
	struct kh_entry	*hnext;
	struct kh_entry	*prev, *next;
};

struct kh_table {
	struct kh_entry	**buckets;
	size_t		  nbuckets;	/* a power of two */
	size_t		  n, max;
	struct kh_entry	 *head, *tail;
	void		(*destroy)(struct kh_entry *);
};

static void
table_init(struct kh_table *t, size_t max, void (*destroy)(struct kh_entry *))
{
	memset(t, 0, sizeof(*t));
	for (t->nbuckets = 64; t->nbuckets < max / 2; t->nbuckets <<= 1)
		;
	if ((t->buckets = calloc(t->nbuckets, sizeof(*t->buckets))) == NULL)
		fatal("calloc");
	t->max = max;
	t->destroy = destroy;
}

static size_t
bucket(const struct kh_table *t, uint64_t id)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ULL) >> 32) & (t->nbuckets - 1);
}

static struct kh_entry *
table_find(const struct kh_table *t, uint64_t id)
{
	struct kh_entry *e;

	for (e = t->buckets[bucket(t, id)]; e != NULL; e = e->hnext)
		if (e->id == id)
			return e;
	return NULL;
}

/* Unlinks an entry without destroying it. */
static void
table_remove(struct kh_table *t, struct kh_entry *e)
{
	struct kh_entry **pp;

	for (pp = &t->buckets[bucket(t, e->id)]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		t->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		t->tail = e->prev;
	e->prev = e->next = e->hnext = NULL;
	t->n--;
}

static void
append(struct kh_table *t, struct kh_entry *e)
{
	e->next = NULL;
	e->prev = t->tail;
	if (t->tail != NULL)
		t->tail->next = e;
	else
		t->head = e;
	t->tail = e;
}

/* Makes room by destroying the oldest entry; \return whether one went. */
static bool
table_insert(struct kh_table *t, struct kh_entry *e)
{
	struct kh_entry *old = NULL;
	size_t b = bucket(t, e->id);

	if (t->n >= t->max && (old = t->head) != NULL) {
		table_remove(t, old);
		t->destroy(old);
	}
	e->hnext = t->buckets[b];
	t->buckets[b] = e;
	append(t, e);
	t->n++;
	return old != NULL;
}

/* Marks an entry most recently used. */
static void
table_touch(struct kh_table *t, struct kh_entry *e)
{
	if (t->tail == e)
		return;
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		t->head = e->next;
	e->next->prev = e->prev;
	append(t, e);
}

/*
 * Removes the entries expired at now, calling on_expire (if any) before
 * each is destroyed.  ordered: entries expire in list order (a constant
 * lifetime and no touching), so the scan stops at the first live one.
 */
static size_t
table_expire(struct kh_table *t, uint64_t now, bool ordered,
    void (*on_expire)(void *, struct kh_entry *), void *arg)
{
	struct kh_entry *e, *next;
	size_t n = 0;

	for (e = t->head; e != NULL; e = next) {
		next = e->next;
		if (e->expires_ms > now) {
			if (ordered)
				break;
			continue;
		}
		table_remove(t, e);
		if (on_expire != NULL)
			on_expire(arg, e);
		t->destroy(e);
		n++;
	}
	return n;
}

static void
table_free(struct kh_table *t)
{
	struct kh_entry *e;

	while ((e = t->head) != NULL) {
		table_remove(t, e);
		t->destroy(e);
	}
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

/* A fresh unguessable id, never 0 and not in t. */
static uint64_t
fresh_id(const struct kh_table *t)
{
	uint64_t id;
	ssize_t n;

	for (;;) {
		n = getrandom(&id, sizeof(id), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(id))
			fatal("getrandom");
		if (id != 0 && table_find(t, id) == NULL)
			return id;
	}
}

/* ---------------------------------------------------------------- records */

/* What an authentication leaves for later KH_MSG_BACKEND frames: only the
 * relay that authenticated the user may use it, for the pools of the
 * virtual host it authenticated on. */
struct kh_session {
	struct kh_entry	 e;
	size_t		 relay;
	uint32_t	 vhost;
	char		 principal[512];
	uint8_t		*evidence;	/* DER Ticket as the client sent it */
	size_t		 evidence_len;
	bool		 forwardable;
};

/* A KH_MSG_BACKEND frame waiting for kcd_next(); id is the kcd cookie. */
struct kh_pending {
	struct kh_entry	 e;
	size_t		 relay;
	uint32_t	 frame_id;
	uint32_t	 pool;
	char		 user[512];
	char		 spn[256];
	uint8_t		*cb;
	size_t		 cb_len;
};

/* A delegated AP-REQ whose back-end's AP-REP is still to be checked. */
struct kh_verify {
	struct kh_entry	 e;
	size_t		 relay;		/* only the relay that got it may ask */
	char		 spn[256];
	struct kcd_apctx *ac;
};

static void
session_destroy(struct kh_entry *e)
{
	struct kh_session *s = (struct kh_session *)e;

	kg_freezero(s->evidence, s->evidence_len);
	kg_freezero(s, sizeof(*s));
}

static void
pending_destroy(struct kh_entry *e)
{
	struct kh_pending *p = (struct kh_pending *)e;

	kg_freezero(p->cb, p->cb_len);
	kg_freezero(p, sizeof(*p));
}

static void
verify_destroy(struct kh_entry *e)
{
	struct kh_verify *v = (struct kh_verify *)e;

	kcd_apctx_free(v->ac);
	kg_freezero(v, sizeof(*v));
}

/* ---------------------------------------------------------------- state */

struct keyholder {
	const struct conf	*conf;
	struct kg_acceptor	*acc;
	struct kcd		*kcd;		/* NULL: no pool in kcd mode */
	struct pollfd		*pfd;		/* relays, kcd_fd(), the parent */
	struct kg_ipc_reader	*rd;		/* one per relay */
	struct kg_ipc_writer	*wr;		/* answers waiting, per relay */
	bool			*doomed;	/* to drop: its queue overflowed
						   or its socket failed */
	size_t			*npending;	/* per relay, in pending */
	size_t			 pending_share;	/* most pending one relay may
						   hold: KH_MAX_PENDING / relays */
	size_t			 nrelays, open;	/* slots, slots with a relay */
	size_t			 kcd_slot, ctl_slot;	/* in pfd, or SIZE_MAX */
	struct credctl		*cred;		/* credential rotation */
	size_t			 cred_slot, credv_slot;	/* in pfd, or SIZE_MAX */
	char			 why[160];	/* what was wrong with a frame */
	bool			*vhost_kcd;	/* a route of the vhost goes to
						   a kcd pool: keep sessions */
	struct kh_table		 sessions, pending, verifies;
	uint8_t			 session_key[32];	/* keys session_id() */
	struct secretctl	*secrets;	/* header secrets, cookie keys:
						   the sealed store's, never sent */
	uint64_t		 next_cookie;
	uint64_t		 next_tick_ms;
	uint64_t		 next_sweep_ms;
	unsigned		 pending_ttl_s;
};

/* A reason into a frame's field, cut at a UTF-8 character boundary. */
static void
copy_reason(char *dst, size_t dstsz, const char *src)
{
	size_t n;

	if (kg_strlcpy(dst, src, dstsz) < dstsz)
		return;
	for (n = dstsz - 1; n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80;
	    n--)
		;
	dst[n] = '\0';
}

/* A relay's frame is malformed: say why (for the log) and fail. */
static int
bad_frame(struct keyholder *k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
bad_frame(struct keyholder *k, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(k->why, sizeof(k->why), fmt, ap);
	va_end(ap);
	return -1;
}

/* Whether the relay has so much unread that its frames wait. */
static bool
relay_paused(const struct keyholder *k, size_t relay)
{
	return kg_ipc_queued(&k->wr[relay]) > KH_QUEUE_PAUSE;
}

/* Relays' sockets never block the loop, reading or writing. */
static void
set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		fatal("fcntl O_NONBLOCK");
}

/* Writes what the relay's socket takes now; polls for the rest. */
static void
flush_relay(struct keyholder *k, size_t relay)
{
	struct pollfd *pfd = &k->pfd[relay];
	int rc;

	if (pfd->fd < 0 || k->doomed[relay])
		return;
	if ((rc = kg_ipc_flush(&k->wr[relay], pfd->fd)) < 0) {
		log_debug("relay %zu went away before its answers: %s", relay,
		    kg_strerror(rc));
		k->doomed[relay] = true;
		return;
	}
	pfd->events = (relay_paused(k, relay) ? 0 : POLLIN) |
	    (rc > 0 ? POLLOUT : 0);
}

static void
send_answer(struct keyholder *k, size_t relay, uint16_t type, uint32_t id,
    uint8_t *payload, size_t plen)
{
	int rc;

	if (k->pfd[relay].fd < 0 || k->doomed[relay]) {
		log_debug("a relay went away before its answer");
	} else if ((rc = kg_ipc_queue(&k->wr[relay], type, id, payload,
	    plen)) < 0) {
		log_warnx("relay %zu does not read its answers (%zu bytes wait): "
		    "dropping it (the parent starts a new one); the other relays "
		    "are served on", relay, kg_ipc_queued(&k->wr[relay]));
		k->doomed[relay] = true;
	} else {
		flush_relay(k, relay);
	}
	kg_freezero(payload, plen);
}

/* ---------------------------------------------------------------- auth */

void
drop_privileges(const char *user)
{
	struct passwd *pw;

	if (user == NULL || geteuid() != 0)
		return;
	if ((pw = getpwnam(user)) == NULL)
		fatalx("user %s does not exist: create it (useradd --system "
		    "--no-create-home %s) or name another in the configuration",
		    user, user);
	if (pw->pw_uid == 0)
		fatalx("user %s is root: kerbgated's processes must run "
		    "unprivileged", user);
	if (setgroups(1, &pw->pw_gid) < 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		fatal("cannot drop privileges to %s", user);
	if (setuid(0) == 0)
		fatalx("privileges were not dropped");
}

static enum kh_reason
reason_code(enum accept_status st)
{
	switch (st) {
	case ACCEPT_KVNO_NOT_IN_KEYTAB:
	case ACCEPT_NO_KEY:
		return KH_R_KVNO;
	case ACCEPT_WRONG_KEY:
	case ACCEPT_PAC_INVALID:
		return KH_R_KEY;
	case ACCEPT_CLOCK_SKEW:
	case ACCEPT_TICKET_NOT_YET_VALID:
		return KH_R_SKEW;
	case ACCEPT_REPLAY:
		return KH_R_REPLAY;
	case ACCEPT_REPLAY_CACHE_FULL:
		return KH_R_REPLAY_CACHE_FULL;
	case ACCEPT_REPLAY_QUOTA:
		return KH_R_REPLAY_QUOTA;
	case ACCEPT_SPN_NOT_SERVED:
		return KH_R_SPN;
	case ACCEPT_ENCTYPE_DISABLED:
	case ACCEPT_ENCTYPE_UNSUPPORTED:
		return KH_R_ENCTYPE;
	case ACCEPT_TICKET_EXPIRED:
		return KH_R_EXPIRED;
	case ACCEPT_CB_MISMATCH:
	case ACCEPT_CB_MISSING:
		return KH_R_CHANNEL_BINDING;
	case ACCEPT_MALFORMED:
		return KH_R_MALFORMED;
	case ACCEPT_INTERNAL:
		return KH_R_INTERNAL;
	default:
		return KH_R_KEY;
	}
}

/*
 * A user's session handle on a relay and virtual host: one per (relay,
 * vhost, principal), so that a user who logs in again and again (every
 * connection, or a flood of fresh authenticators) refreshes one entry
 * instead of pushing other users' out of the LRU table.  Keyed by a
 * secret of this keyholder: as unguessable as a random one to relays.
 */
static uint64_t
session_id(const struct keyholder *k, size_t relay, uint32_t vhost,
    const char *principal)
{
	mbedtls_sha256_context sha;
	uint8_t full[32];
	uint64_t id, r = relay;

	mbedtls_sha256_init(&sha);
	mbedtls_sha256_starts(&sha, 0);
	mbedtls_sha256_update(&sha, k->session_key, sizeof(k->session_key));
	mbedtls_sha256_update(&sha, (const uint8_t *)&r, sizeof(r));
	mbedtls_sha256_update(&sha, (const uint8_t *)&vhost, sizeof(vhost));
	mbedtls_sha256_update(&sha, (const uint8_t *)principal, strlen(principal));
	mbedtls_sha256_finish(&sha, full);
	mbedtls_sha256_free(&sha);
	memcpy(&id, full, sizeof(id));
	kg_zero(full, sizeof(full));
	return id != 0 ? id : 1;
}

/*
 * Keeps an accepted ticket as evidence for constrained delegation, in the
 * user's session on this relay and vhost (its newest ticket replaces an
 * older one), until the login's end (Unix seconds): the relay asks again
 * after it, so a session that lived on to the ticket's end would serve
 * only a relay taken over, for hours after the user's grants expired.
 * \return the session's handle, or 0 (no memory).
 */
static uint64_t
session_new(struct keyholder *k, size_t relay, uint32_t vhost,
    const struct accept_result *res, uint64_t end)
{
	struct kh_session *s;
	struct kh_entry *e;
	time_t left = (time_t)end - time(NULL);
	uint64_t id = session_id(k, relay, vhost, res->client);
	uint8_t *evidence = NULL;
	char who[KG_LOG_SANITIZE_BUFSZ];

	/* Accepted within the clock skew but already over: the KDC will say
	 * so with a reason, rather than the relay re-challenging forever. */
	if (left < 60)
		left = 60;
	if (res->ticket_len > 0 && (evidence = malloc(res->ticket_len)) == NULL) {
		log_warnx("out of memory keeping the ticket of %s for delegation",
		    log_sanitize(res->client, who, sizeof(who)));
		return 0;
	}
	if ((e = table_find(&k->sessions, id)) != NULL) {
		s = (struct kh_session *)e;
		if (s->relay != relay || s->vhost != vhost ||
		    strcmp(s->principal, res->client) != 0) {
			/* A 64-bit collision: keep the other user's. */
			kg_freezero(evidence, res->ticket_len);
			return 0;
		}
		kg_freezero(s->evidence, s->evidence_len);
		table_touch(&k->sessions, e);
	} else {
		if ((s = calloc(1, sizeof(*s))) == NULL) {
			kg_freezero(evidence, res->ticket_len);
			log_warnx("out of memory keeping the ticket of %s for "
			    "delegation", log_sanitize(res->client, who, sizeof(who)));
			return 0;
		}
		s->relay = relay;
		s->vhost = vhost;
		kg_strlcpy(s->principal, res->client, sizeof(s->principal));
		s->e.id = id;
		if (table_insert(&k->sessions, &s->e))
			log_debug("session table full (%zu): the least recently "
			    "used login's ticket was dropped", k->sessions.max);
	}
	if (res->ticket_len > 0)
		memcpy(evidence, res->ticket, res->ticket_len);
	s->evidence = evidence;
	s->evidence_len = res->ticket_len;
	s->forwardable = res->forwardable;
	s->e.expires_ms = kg_now_ms() + (uint64_t)left * 1000;
	return s->e.id;
}

/*
 * What a login brings besides the verdict: its end (the ticket's, or the
 * vhost's lifetime from now, whichever is first), the identity grants for
 * the vhost's header-mode pools and, on a fresh Kerberos login to a vhost
 * with session cookies, the cookie.  Without grants the relay could not
 * sign for the user, so a failure here refuses the login.
 */
static void
login(struct keyholder *k, uint32_t vhost, uint64_t end, int new_cookie,
    struct kh_auth_result *out)
{
	const struct conf_vhost *v = &k->conf->vhosts[vhost];
	uint64_t now = (uint64_t)time(NULL);
	const uint8_t *ck = NULL;
	int n;

	out->expiry = now + v->cookie_lifetime_s;
	if (end < out->expiry)
		out->expiry = end;
	n = grant_issue(secretctl_grants(k->secrets), k->conf, vhost,
	    out->principal, out->expiry, out->grants);
	/* The active cookie key makes new cookies. */
	(void)secretctl_cookie_keys(k->secrets, &ck, 1);
	if (n >= 0 && (!new_cookie || !v->cookie || (ck != NULL &&
	    sign_cookie_issue(ck, out->principal, v->name,
	    out->expiry, out->cookie, sizeof(out->cookie)) == 0))) {
		out->ngrants = (size_t)n;
		return;
	}
	kg_zero(out->grants, sizeof(out->grants));
	out->cookie[0] = '\0';
	out->session = 0;
	out->status = KH_INTERNAL;
	out->reason_code = KH_R_INTERNAL;
	kg_strlcpy(out->reason, "the keyholder could not issue the identity "
	    "grants or cookie for this login", sizeof(out->reason));
}

static int
auth(struct keyholder *k, size_t relay, const struct kg_ipc_frame *f)
{
	const struct conf *c = k->conf;
	struct kh_auth_req req;
	struct kh_auth_result out;
	struct accept_params p;
	struct accept_result res;
	const struct conf_vhost *v;
	const char *spns[64];
	uint8_t *payload, *kerr = NULL;
	size_t plen, i;

	memset(&out, 0, sizeof(out));
	memset(&res, 0, sizeof(res));
	if (kh_auth_req_decode(f->payload, f->len, &req) < 0)
		return bad_frame(k, "an authentication request that does not decode");
	if (req.vhost >= c->nvhosts)
		return bad_frame(k, "a request for virtual host %u, which does "
		    "not exist (%zu configured)", req.vhost, c->nvhosts);
	v = &c->vhosts[req.vhost];
	memset(&p, 0, sizeof(p));
	for (i = 0; i < v->nspns && i < KG_NELEM(spns); i++)
		spns[i] = v->spns[i];
	p.spns = spns;
	p.nspns = i;
	p.allow_rc4 = c->allow_rc4;
	p.clock_skew = (int)c->clock_skew_s;
	/* Channel bindings exist only on TLS connections.  Over plain HTTP
	 * the vhost's policy still holds, against no binding (req.cb_hash is
	 * zero): bindings a client sent there are for some other TLS channel
	 * (a token taken from a client that accepted another certificate),
	 * and "require" cannot be met.  Every vhost is served on every
	 * listener, so turning the check off here would void it on TLS too. */
	p.cb_mode = (enum cb_mode)v->channel_binding;
	p.cb_plain = !req.has_cb;
	memcpy(p.cb_expected, req.cb_hash, sizeof(p.cb_expected));
	p.mech_list = req.mech_list;
	p.mech_list_len = req.mech_list_len;
	p.client_mic = req.client_mic;
	p.client_mic_len = req.client_mic_len;
	acceptor_accept(k->acc, req.ap_req, req.ap_req_len, &p, &res);

	if (res.status == ACCEPT_OK &&
	    strlen(res.client) >= sizeof(out.principal)) {
		/* Refused, never cut: grants for its first bytes would sign
		 * another name (without its realm) than the ticket proved. */
		out.status = KH_MALFORMED;
		out.reason_code = KH_R_MALFORMED;
		snprintf(out.reason, sizeof(out.reason), "client principal "
		    "name of %zu bytes: kerbgated forwards names of at most %zu",
		    strlen(res.client), sizeof(out.principal) - 1);
	} else if (res.status == ACCEPT_OK) {
		out.status = KH_OK;
		kg_strlcpy(out.principal, res.client, sizeof(out.principal));
		out.endtime = (uint64_t)res.endtime;
		out.enctype = res.enctype;
		out.ap_rep = res.ap_rep;
		out.ap_rep_len = res.ap_rep_len;
		out.mic = res.mech_list_mic;
		out.mic_len = res.mech_list_mic_len;
		login(k, req.vhost, (uint64_t)res.endtime, 1, &out);
		if (out.status == KH_OK && k->kcd != NULL &&
		    k->vhost_kcd[req.vhost])
			out.session = session_new(k, relay, req.vhost, &res,
			    out.expiry);
	} else {
		out.status = res.status == ACCEPT_MALFORMED ? KH_MALFORMED :
		    res.status == ACCEPT_INTERNAL ? KH_INTERNAL :
		    res.status == ACCEPT_REPLAY_CACHE_FULL ? KH_UNAVAILABLE :
		    res.status == ACCEPT_REPLAY_QUOTA ? KH_UNAVAILABLE :
		    KH_DENIED;
		out.reason_code = reason_code(res.status);
		kg_strlcpy(out.reason, res.reason, sizeof(out.reason));
		/* What a Windows server answers, so that clients recover. */
		if (out.status == KH_DENIED &&
		    acceptor_error_token(k->acc, &res, &kerr, &out.krb_error_len) == 1)
			out.krb_error = kerr;
	}
	if (kh_auth_result_encode(&out, &payload, &plen) < 0)
		fatalx("out of memory encoding an answer");
	free(kerr);
	kg_zero(&out, sizeof(out));
	acceptor_result_clear(&res);
	send_answer(k, relay, KH_MSG_AUTH_RESULT, f->id, payload, plen);
	return 0;
}

/*
 * Whether a cookie opens under the active cookie key or a retained one (a
 * cookie issued before the key's change, inside the retention window).
 */
static int
cookie_valid(const struct keyholder *k, const struct kh_cookie_req *req,
    const char *vhost, char *principal, size_t plen, uint64_t *exp)
{
	const uint8_t *keys[8];
	size_t i, n = secretctl_cookie_keys(k->secrets, keys, 8);

	for (i = 0; i < n; i++)
		if (sign_cookie_check(keys[i], req->value, req->value_len, vhost,
		    (uint64_t)time(NULL), principal, plen, exp) == 1)
			return 1;
	return 0;
}

/*
 * A session cookie a new connection presented: valid (our MAC, this
 * vhost, not expired) logs its user in as a ticket would, with grants
 * ending when the cookie does; anything else is refused without saying
 * why (no oracle), and the relay challenges for Kerberos.
 */
static int
cookie(struct keyholder *k, size_t relay, const struct kg_ipc_frame *f)
{
	const struct conf *c = k->conf;
	struct kh_cookie_req req;
	struct kh_auth_result out;
	uint64_t exp;
	uint8_t *payload;
	size_t plen;

	if (kh_cookie_req_decode(f->payload, f->len, &req) < 0)
		return bad_frame(k, "a cookie check that does not decode");
	if (req.vhost >= c->nvhosts)
		return bad_frame(k, "a cookie for virtual host %u, which does "
		    "not exist (%zu configured)", req.vhost, c->nvhosts);
	memset(&out, 0, sizeof(out));
	if (c->vhosts[req.vhost].cookie &&
	    cookie_valid(k, &req, c->vhosts[req.vhost].name, out.principal,
	    sizeof(out.principal), &exp)) {
		out.status = KH_OK;
		login(k, req.vhost, exp, 0, &out);
	} else {
		out.status = KH_DENIED;
		kg_strlcpy(out.reason, "session cookie not valid here",
		    sizeof(out.reason));
	}
	if (kh_auth_result_encode(&out, &payload, &plen) < 0)
		fatalx("out of memory encoding an answer");
	kg_zero(&out, sizeof(out));
	send_answer(k, relay, KH_MSG_COOKIE_RESULT, f->id, payload, plen);
	return 0;
}

/* ---------------------------------------------------------------- backend */

static enum kh_backend_status
backend_status(enum kcd_status st)
{
	switch (st) {
	case KCD_OK:
		return KH_B_OK;
	case KCD_NOT_FORWARDABLE:
	case KCD_USER_SENSITIVE:
	case KCD_NOT_ALLOWED:
	case KCD_NO_PROTOCOL_TRANSITION:
	case KCD_UNKNOWN_SPN:
	case KCD_UNKNOWN_USER:
	case KCD_EVIDENCE_INVALID:
	case KCD_KDC_ERROR:
		return KH_B_REFUSED;
	/* Not this user's or this back-end's policy: the appliance cannot
	 * delegate at all just now (its own credentials, its clock, the
	 * KDC's reachability, its load). */
	case KCD_ASA_CREDENTIALS:
	case KCD_KDC_UNREACHABLE:
	case KCD_CLOCK_SKEW:
	case KCD_BUSY:
	case KCD_INTERNAL:
	case KCD_PENDING:
	case KCD_STATUS_MAX:
		break;
	}
	return KH_B_UNAVAILABLE;
}

/* kcd's reason into the answer; never one the relay takes for KH_SESSION_GONE. */
static void
backend_reason(char *dst, size_t dstsz, const struct kcd_result *r)
{
	char buf[sizeof(r->reason) + 16];

	snprintf(buf, sizeof(buf), "%s%s",
	    strncmp(r->reason, "session", 7) == 0 ? "delegation: " : "",
	    r->reason[0] != '\0' ? r->reason : kcd_status_name(r->status));
	copy_reason(dst, dstsz, buf);
}

static void
send_backend(struct keyholder *k, size_t relay, uint32_t id,
    const struct kh_backend_result *out)
{
	uint8_t *payload;
	size_t plen;

	if (kh_backend_result_encode(out, &payload, &plen) < 0)
		fatalx("out of memory encoding an answer");
	send_answer(k, relay, KH_MSG_BACKEND_RESULT, id, payload, plen);
}

static void
send_backend_failure(struct keyholder *k, size_t relay, uint32_t id,
    enum kh_backend_status st, const char *reason)
{
	struct kh_backend_result out;

	memset(&out, 0, sizeof(out));
	out.status = st;
	copy_reason(out.reason, sizeof(out.reason), reason);
	send_backend(k, relay, id, &out);
}

/* A handle for kcd_verify_ap_rep() on this context, or 0. */
static uint64_t
verify_new(struct keyholder *k, size_t relay, const char *spn,
    struct kcd_apctx *ac)
{
	struct kh_verify *v;

	if ((v = calloc(1, sizeof(*v))) == NULL) {
		kcd_apctx_free(ac);
		return 0;
	}
	v->relay = relay;
	kg_strlcpy(v->spn, spn, sizeof(v->spn));
	v->ac = ac;
	v->e.id = fresh_id(&k->verifies);
	v->e.expires_ms = kg_now_ms() + KH_VERIFY_TTL_MS;
	if (table_insert(&k->verifies, &v->e))
		log_warnx("%zu back-end answers await mutual authentication: "
		    "the oldest can no longer be checked", k->verifies.max);
	return v->e.id;
}

/*
 * Answers a KH_MSG_BACKEND frame with kcd's verdict: on KCD_OK a fresh
 * AP-REQ (and a verification handle when the pool checks mutual auth).
 */
static void
finish_backend(struct keyholder *k, size_t relay, uint32_t id, uint32_t pool,
    const uint8_t *cb, size_t cb_len, const char *user, const char *spn,
    const struct kcd_result *r)
{
	const struct conf_pool *pl = &k->conf->pools[pool];
	struct kh_backend_result out;
	struct kcd_apctx *ac = NULL;
	uint8_t *token = NULL;
	size_t tlen = 0;
	char err[512], msg[sizeof(err) + 32];
	char who[KG_LOG_SANITIZE_BUFSZ], to[KG_LOG_SANITIZE_BUFSZ];

	if (k->pfd[relay].fd < 0)
		return;		/* the relay has gone: nobody to build for */
	memset(&out, 0, sizeof(out));
	log_sanitize(user, who, sizeof(who));
	log_sanitize(spn, to, sizeof(to));
	if (r->status != KCD_OK) {
		out.status = backend_status(r->status);
		backend_reason(out.reason, sizeof(out.reason), r);
		if (!r->coalesced)	/* one line per KDC answer */
			log_warnx("delegation of %s to %s %s (%s): %s", who, to,
			    out.status == KH_B_REFUSED ? "refused" :
			    "unavailable", kcd_status_name(r->status),
			    out.reason);
		send_backend(k, relay, id, &out);
		return;
	}
	if (kcd_make_ap_req(k->kcd, r->ticket, cb, cb_len, pl->mutual != 0,
	    &token, &tlen, pl->mutual ? &ac : NULL, err, sizeof(err)) < 0) {
		log_warnx("cannot build an AP-REQ for %s to %s: %s", who, to,
		    err);
		snprintf(msg, sizeof(msg), "cannot build the AP-REQ: %s", err);
		send_backend_failure(k, relay, id, KH_B_UNAVAILABLE, msg);
		return;
	}
	if (ac != NULL && (out.verify = verify_new(k, relay, spn, ac)) == 0) {
		kg_freezero(token, tlen);
		send_backend_failure(k, relay, id, KH_B_UNAVAILABLE,
		    "keyholder out of memory");
		return;
	}
	log_debug("delegated AP-REQ for %s to %s (%s%s)", who, to,
	    r->cached ? "cached ticket" : "from the KDC",
	    r->protocol_transition ? ", protocol transition" : "");
	out.status = KH_B_OK;
	out.token = token;
	out.token_len = tlen;
	send_backend(k, relay, id, &out);
	kg_freezero(token, tlen);
}

static bool
pool_serves_spn(const struct conf_pool *pl, const char *spn)
{
	size_t i;

	for (i = 0; i < pl->nservers; i++)
		if (strcasecmp(pl->servers[i].spn, spn) == 0)
			return true;
	return false;
}

/* Does a negotiate route of the vhost lead to the pool? */
static bool
vhost_routes_to(const struct conf *c, uint32_t vhost, uint32_t pool)
{
	const struct conf_vhost *v = &c->vhosts[vhost];
	size_t i;

	for (i = 0; i < v->nroutes; i++)
		if (v->routes[i].auth == CONF_AUTH_NEGOTIATE &&
		    v->routes[i].pool == (int)pool)
			return true;
	return false;
}

static struct kh_session *
session_find(struct keyholder *k, uint64_t id)
{
	struct kh_entry *e;

	if (id == 0 || (e = table_find(&k->sessions, id)) == NULL)
		return NULL;
	if (e->expires_ms <= kg_now_ms()) {
		table_remove(&k->sessions, e);
		session_destroy(e);
		return NULL;
	}
	table_touch(&k->sessions, e);
	return (struct kh_session *)e;
}

static int
backend(struct keyholder *k, size_t relay, const struct kg_ipc_frame *f)
{
	const struct conf *c = k->conf;
	const struct conf_pool *pl;
	struct kh_backend_req req;
	struct kh_session *s;
	struct kh_pending *p;
	struct kcd_request kr;
	struct kcd_result r;
	char reason[512], to[KG_LOG_SANITIZE_BUFSZ];

	if (kh_backend_req_decode(f->payload, f->len, &req) < 0)
		return bad_frame(k, "a delegation request that does not decode");
	if (req.pool >= c->npools)
		return bad_frame(k, "a request for pool %u, which does not exist "
		    "(%zu configured)", req.pool, c->npools);
	pl = &c->pools[req.pool];
	if (k->kcd == NULL || pl->mode != CONF_MODE_KCD ||
	    !pool_serves_spn(pl, req.spn)) {
		snprintf(reason, sizeof(reason), "%s %s", k->kcd == NULL ?
		    "constrained delegation is not configured: no delegated "
		    "token for" : pl->mode != CONF_MODE_KCD ? "pool is not in "
		    "kcd mode: no delegated token for" : "not a server of its "
		    "pool: no delegated token for",
		    log_sanitize(req.spn, to, sizeof(to)));
		log_warnx("%s", reason);
		send_backend_failure(k, relay, f->id, KH_B_REFUSED, reason);
		return 0;
	}
	s = session_find(k, req.session);
	/* Another relay's session, or one for a pool its virtual host does
	 * not route to: as if there were none. */
	if (s != NULL && s->relay != relay) {
		log_warnx("relay %zu asked for a delegation session of relay "
		    "%zu: refused", relay, s->relay);
		s = NULL;
	} else if (s != NULL && !vhost_routes_to(c, s->vhost, req.pool)) {
		log_warnx("delegation to pool %s asked for a login on virtual "
		    "host %s, which does not route there: refused", pl->name,
		    c->vhosts[s->vhost].name);
		s = NULL;
	}
	if (s == NULL) {
		log_debug("delegation to %s: no session %016llx",
		    log_sanitize(req.spn, to, sizeof(to)),
		    (unsigned long long)req.session);
		send_backend_failure(k, relay, f->id, KH_B_UNAVAILABLE,
		    KH_SESSION_GONE);
		return 0;
	}
	/* Each relay its share of the waiting room: one relay (the busiest,
	 * or a compromised one) cannot leave the others none. */
	if (k->pending.n >= k->pending.max ||
	    k->npending[relay] >= k->pending_share) {
		snprintf(reason, sizeof(reason), "keyholder busy: %zu "
		    "delegation requests wait for the KDC, %zu of them this "
		    "relay's", k->pending.n, k->npending[relay]);
		log_warnx("%s", reason);
		send_backend_failure(k, relay, f->id, KH_B_UNAVAILABLE, reason);
		return 0;
	}
	/* Filled before submitting: a KCD_PENDING must always be answerable. */
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (req.cb_len > 0 && (p->cb = malloc(req.cb_len)) == NULL)) {
		free(p);
		log_warnx("out of memory for a delegation request");
		send_backend_failure(k, relay, f->id, KH_B_UNAVAILABLE,
		    "keyholder out of memory");
		return 0;
	}
	p->e.id = ++k->next_cookie;
	p->relay = relay;
	p->frame_id = f->id;
	p->pool = req.pool;
	kg_strlcpy(p->user, s->principal, sizeof(p->user));
	kg_strlcpy(p->spn, req.spn, sizeof(p->spn));
	if (req.cb_len > 0)
		memcpy(p->cb, req.cb, req.cb_len);
	p->cb_len = req.cb_len;

	memset(&kr, 0, sizeof(kr));
	kr.user = s->principal;
	kr.evidence = s->evidence;
	kr.evidence_len = s->evidence_len;
	kr.forwardable = s->forwardable;
	kr.spn = req.spn;
	kr.allow_protocol_transition = pl->protocol_transition != 0;
	if (kcd_submit(k->kcd, &kr, p->e.id, &r) == KCD_PENDING) {
		p->e.expires_ms = kg_now_ms() + (uint64_t)k->pending_ttl_s * 1000;
		table_insert(&k->pending, &p->e);
		k->npending[relay]++;
		return 0;
	}
	finish_backend(k, relay, f->id, req.pool, req.cb, req.cb_len,
	    s->principal, req.spn, &r);
	kcd_result_clear(&r);
	pending_destroy(&p->e);
	return 0;
}

/* kcd_fd() is readable: answer the frames whose KDC work is done. */
static void
kcd_answers(struct keyholder *k)
{
	struct kcd_result r;
	struct kh_entry *e;
	struct kh_pending *p;

	while (kcd_next(k->kcd, &r) == 1) {
		if ((e = table_find(&k->pending, r.cookie)) != NULL) {
			p = (struct kh_pending *)e;
			table_remove(&k->pending, e);
			k->npending[p->relay]--;
			finish_backend(k, p->relay, p->frame_id, p->pool, p->cb,
			    p->cb_len, p->user, p->spn, &r);
			pending_destroy(e);
		}
		/* else: answered already, when it timed out */
		kcd_result_clear(&r);
	}
}

static void
pending_timed_out(void *arg, struct kh_entry *e)
{
	struct keyholder *k = arg;
	struct kh_pending *p = (struct kh_pending *)e;
	char reason[128], to[KG_LOG_SANITIZE_BUFSZ];

	k->npending[p->relay]--;
	snprintf(reason, sizeof(reason), "no answer from the KDC within %u s",
	    k->pending_ttl_s);
	log_warnx("delegation to %s: %s", log_sanitize(p->spn, to, sizeof(to)),
	    reason);
	send_backend_failure(k, p->relay, p->frame_id, KH_B_UNAVAILABLE,
	    reason);
}

/* ---------------------------------------------------------------- verify */

static int
verify(struct keyholder *k, size_t relay, const struct kg_ipc_frame *f)
{
	struct kh_verify_req req;
	struct kh_verify_result out;
	struct kh_verify *v = NULL;
	struct kh_entry *e;
	uint8_t *payload;
	size_t plen;
	char err[512], to[KG_LOG_SANITIZE_BUFSZ];

	if (kh_verify_req_decode(f->payload, f->len, &req) < 0)
		return bad_frame(k, "a verification request that does not decode");
	memset(&out, 0, sizeof(out));
	if (req.verify != 0 && (e = table_find(&k->verifies, req.verify)) !=
	    NULL && e->expires_ms > kg_now_ms() &&
	    ((struct kh_verify *)e)->relay == relay) {
		v = (struct kh_verify *)e;
		table_remove(&k->verifies, e);	/* one use */
	}
	if (v == NULL) {
		kg_strlcpy(out.reason, "unknown or expired verification handle",
		    sizeof(out.reason));
	} else if (kcd_verify_ap_rep(v->ac, req.token, req.token_len, err,
	    sizeof(err)) == 0) {
		out.ok = 1;
	} else {
		copy_reason(out.reason, sizeof(out.reason), err);
		log_warnx("back-end %s failed mutual authentication: %s",
		    log_sanitize(v->spn, to, sizeof(to)), err);
	}
	if (v != NULL)
		verify_destroy(&v->e);
	if (kh_verify_result_encode(&out, &payload, &plen) < 0)
		fatalx("out of memory encoding an answer");
	send_answer(k, relay, KH_MSG_VERIFY_RESULT, f->id, payload, plen);
	return 0;
}

/* ---------------------------------------------------------------- loop */

/* -1 when the frame is malformed (k->why says how). */
static int
dispatch(struct keyholder *k, size_t relay, const struct kg_ipc_frame *f)
{
	switch (f->type) {
	case KH_MSG_AUTH:
		return auth(k, relay, f);
	case KH_MSG_BACKEND:
		return backend(k, relay, f);
	case KH_MSG_VERIFY:
		return verify(k, relay, f);
	case KH_MSG_COOKIE:
		return cookie(k, relay, f);
	default:
		return bad_frame(k, "a frame of unknown type %u",
		    (unsigned)f->type);
	}
}

/* What each table's entries belong to. */
static size_t
session_relay(const struct kh_entry *e)
{
	return ((const struct kh_session *)e)->relay;
}

static size_t
pending_relay(const struct kh_entry *e)
{
	return ((const struct kh_pending *)e)->relay;
}

static size_t
verify_relay(const struct kh_entry *e)
{
	return ((const struct kh_verify *)e)->relay;
}

static void
table_forget_relay(struct kh_table *t, size_t relay,
    size_t (*owner)(const struct kh_entry *))
{
	struct kh_entry *e, *next;

	for (e = t->head; e != NULL; e = next) {
		next = e->next;
		if (owner(e) != relay)
			continue;
		table_remove(t, e);
		t->destroy(e);
	}
}

/*
 * A relay's slot is emptied: its socket closed and what it created
 * forgotten, so that the relay the parent starts in its place cannot
 * use it (a KDC answer still on its way finds no request and is dropped).
 */
static void
close_slot(struct keyholder *k, size_t relay)
{
	if (k->pfd[relay].fd < 0)
		return;
	close(k->pfd[relay].fd);
	k->pfd[relay].fd = -1;
	k->pfd[relay].events = POLLIN;
	kg_ipc_reader_free(&k->rd[relay]);
	kg_ipc_writer_free(&k->wr[relay]);
	k->doomed[relay] = false;
	k->open--;
	table_forget_relay(&k->sessions, relay, session_relay);
	table_forget_relay(&k->pending, relay, pending_relay);
	k->npending[relay] = 0;
	table_forget_relay(&k->verifies, relay, verify_relay);
}

/*
 * The relay's frames that have arrived, until its answers back up (the
 * rest wait in the reader); a bad one drops the relay.  \return
 * KG_ERR_PROTO for a bad header, else 0.
 */
static int
relay_frames(struct keyholder *k, size_t relay)
{
	struct kg_ipc_frame f;
	int next = 0;

	while (!relay_paused(k, relay) && !k->doomed[relay] &&
	    (next = kg_ipc_next(&k->rd[relay], &f)) == 1) {
		if (dispatch(k, relay, &f) < 0) {
			log_warnx("relay %zu sent %s: dropping it (the parent "
			    "starts a new one); the other relays are served on",
			    relay, k->why);
			k->doomed[relay] = true;
			return 0;
		}
	}
	return relay_paused(k, relay) || k->doomed[relay] ? 0 : next;
}

/* The relay's socket is readable (or its queue drained): take its frames. */
static void
relay_readable(struct keyholder *k, size_t relay)
{
	int rc = KG_ERR_AGAIN, next;

	/* Frames left waiting by a pause first: the reader must be drained
	 * before it reads again. */
	next = relay_frames(k, relay);
	if (next == 0 && !relay_paused(k, relay) && !k->doomed[relay]) {
		rc = kg_ipc_read(&k->rd[relay], k->pfd[relay].fd);
		next = relay_frames(k, relay);
	}
	if (k->doomed[relay]) {
		close_slot(k, relay);
	} else if (next == KG_ERR_PROTO || rc == KG_ERR_PROTO) {
		log_warnx("relay %zu sent a frame with a bad header: dropping "
		    "it (the parent starts a new one); the other relays are "
		    "served on", relay);
		close_slot(k, relay);
	} else if (rc == KG_ERR_CLOSED || (rc < 0 && rc != KG_ERR_AGAIN)) {
		close_slot(k, relay);
	}
}

/* The parent hands over a respawned relay's socket for a slot. */
static void
parent_readable(struct keyholder *k)
{
	uint32_t slot;
	int fd, rc;

	rc = kg_ipc_recv_fd(k->pfd[k->ctl_slot].fd, &slot, &fd);
	if (rc == KG_ERR_AGAIN)
		return;
	if (rc != KG_OK) {
		/* The parent closed it: no relay will be added any more. */
		close(k->pfd[k->ctl_slot].fd);
		k->pfd[k->ctl_slot].fd = -1;
		return;
	}
	if (slot >= k->nrelays) {
		log_warnx("the parent named relay slot %u of %zu", slot,
		    k->nrelays);
		close(fd);
		return;
	}
	close_slot(k, slot);
	set_nonblocking(fd);
	k->pfd[slot].fd = fd;
	k->pfd[slot].events = POLLIN;
	kg_ipc_reader_init(&k->rd[slot]);
	kg_ipc_writer_init(&k->wr[slot], KH_QUEUE_MAX);
	k->open++;
	log_info("relay %u: a new relay is connected", slot);
}

static void
housekeeping(struct keyholder *k)
{
	uint64_t now = kg_now_ms();

	if (now < k->next_tick_ms)
		return;
	k->next_tick_ms = now + KH_TICK_MS;
	credctl_tick(k->cred);
	table_expire(&k->pending, now, true, pending_timed_out, k);
	table_expire(&k->verifies, now, true, NULL, NULL);
	if (now >= k->next_sweep_ms) {
		k->next_sweep_ms = now + KH_SESSION_SWEEP_MS;
		table_expire(&k->sessions, now, false, NULL, NULL);
	}
}

static void
all_spns(const struct conf *c, const char ***out, size_t *n)
{
	size_t i, j, k = 0, total = 0;

	for (i = 0; i < c->nvhosts; i++)
		total += c->vhosts[i].nspns;
	if ((*out = calloc(total ? total : 1, sizeof(**out))) == NULL)
		fatal("calloc");
	for (i = 0; i < c->nvhosts; i++)
		for (j = 0; j < c->vhosts[i].nspns; j++)
			(*out)[k++] = c->vhosts[i].spns[j];
	*n = k;
}

/* Which virtual hosts authenticate users for a kcd pool. */
static bool *
vhosts_with_kcd(const struct conf *c)
{
	const struct conf_route *r;
	bool *out;
	size_t i, j;

	if ((out = calloc(c->nvhosts ? c->nvhosts : 1, sizeof(*out))) == NULL)
		fatal("calloc");
	for (i = 0; i < c->nvhosts; i++)
		for (j = 0; j < c->vhosts[i].nroutes; j++) {
			r = &c->vhosts[i].routes[j];
			if (r->auth == CONF_AUTH_NEGOTIATE && r->pool >= 0 &&
			    (size_t)r->pool < c->npools &&
			    c->pools[r->pool].mode == CONF_MODE_KCD)
				out[i] = true;
		}
	return out;
}

/*
 * Starts constrained delegation with the keys the acceptor already holds
 * in memory: this runs after the privilege drop, so the keytab file is
 * never opened again and kcd's threads are born unprivileged.
 */
static struct kcd *
start_kcd(const struct conf *c, struct kg_acceptor *acc, int kvno)
{
	struct kcd_config kc;
	struct kcd *kcd;
	const char **kdcs = NULL;
	char err[512];
	size_t i;

	memset(&kc, 0, sizeof(kc));
	kc.principal = c->kcd_principal;
	if (acceptor_keytab(acc, &kc.keytab_ctx, &kc.keytab) < 0)
		fatalx("kcd: no keytab loaded");
	/*
	 * The active kvno, not the highest: a staged kvno (keys served
	 * before AD knows the password) would make the ASA's AS-REQ fail.
	 * Activation calls kcd_set_keys() with the new kvno (credctl.c).
	 */
	kc.kvno = kvno;
	kc.keys_later = kvno == 0;	/* no credential yet: the first activation */
	if (c->kcd_nkdcs > 0) {
		if ((kdcs = calloc(c->kcd_nkdcs, sizeof(*kdcs))) == NULL)
			fatal("calloc");
		for (i = 0; i < c->kcd_nkdcs; i++)
			kdcs[i] = c->kcd_kdcs[i];
		kc.kdcs = kdcs;
		kc.nkdcs = c->kcd_nkdcs;
	}
	kc.kdc_timeout = (int)c->kcd_timeout_s;
	kc.cache_entries = c->kcd_cache_entries;
	kc.workers = KH_KCD_WORKERS;
	kcd = kcd_new(&kc, err, sizeof(err));
	free(kdcs);
	if (kcd == NULL)
		fatalx("constrained delegation as %s: %s", c->kcd_principal,
		    err);
	log_info("constrained delegation as %s via %s", c->kcd_principal,
	    c->kcd_nkdcs > 0 ? c->kcd_kdcs[0] : "krb5.conf's KDCs");
	return kcd;
}

/*
 * The keyholder before this one died unexpectedly.  Whatever it accepted is
 * in the shared replay cache, unless it died mid-update (then the cache
 * starts empty); either way, refuse authenticators made before this restart
 * for as long as the skew check could pass them.  Clients just make a new
 * authenticator.
 */
static void
restart_floor(struct kg_replay *rc, unsigned skew)
{
	time_t now = time(NULL);

	replay_note_restart(rc, now);
	log_warnx("started after the previous keyholder died: for %u s, "
	    "authenticators made before this restart are refused as possible "
	    "replays (clients authenticate again)", skew);
}

/*
 * Test hook, armed only with KERBGATE_TEST_HOOKS=1 in the environment:
 * writes the cookie key to the 0600 file KERBGATE_TEST_COOKIE_KEY names, so
 * that the integration tests can search the relays' memory for it.  Never
 * set on an appliance.
 */
static void
test_hook_cookie_key(const uint8_t *key, size_t n)
{
	const char *hooks = getenv("KERBGATE_TEST_HOOKS");
	const char *path = getenv("KERBGATE_TEST_COOKIE_KEY");
	int fd;

	if (hooks == NULL || strcmp(hooks, "1") != 0 || path == NULL)
		return;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) < 0 || write(fd, key, n) != (ssize_t)n)
		log_warnx("test hook: cannot write the cookie key to %s", path);
	else
		log_warnx("test hook: wrote the cookie key to %s", path);
	if (fd >= 0)
		close(fd);
}

void
keyholder_main(struct keyholder_env *env)
{
	const struct conf *c = env->conf;
	struct keyholder k;
	const char **spns;
	char err[512];
	size_t i, nspns, nfds;

	log_procname("keyholder");
	memset(&k, 0, sizeof(k));
	k.conf = c;
	k.nrelays = env->nrelays;
	/* With the shared cache, the acceptor's own is only a placeholder. */
	if (acceptor_new(&k.acc, env->replay != NULL ? 1 : c->replay_entries,
	    err, sizeof(err)) < 0)
		fatalx("%s", err);
	if (env->replay != NULL) {
		/* Before the first check: a reload that raised clock_skew
		 * lengthens the entries the last generation left. */
		replay_set_skew(env->replay, (int)c->clock_skew_s);
		if (env->after_crash)
			restart_floor(env->replay, c->clock_skew_s);
		acceptor_use_replay(k.acc, env->replay);
	}
	acceptor_set_replay_quota(k.acc, c->replay_per_principal ==
	    CONF_REPLAY_QUOTA_AUTO ? REPLAY_QUOTA_AUTO : c->replay_per_principal);
	all_spns(c, &spns, &nspns);
	/* The keys: the sealed store, or the keytab (imported). */
	if ((k.cred = credctl_new(c, k.acc, spns, nspns, env->cred_fd, err,
	    sizeof(err))) == NULL)
		fatalx("%s", err);
	/* The header secrets and the cookie key came with the store (or were
	 * imported: the header secret files read as root, here only). */
	k.secrets = credctl_secrets(k.cred);
	{
		const uint8_t *ck = NULL;

		if (secretctl_cookie_keys(k.secrets, &ck, 1) == 1)
			test_hook_cookie_key(ck, SECRET_COOKIE_LEN);
	}
	/* Sandboxed, root until set-up is done: chroot needs it. */
	if (env->sandbox == NULL)
		drop_privileges(env->user);
	prctl(PR_SET_DUMPABLE, 0);	/* no core with keys in it */

	if (c->kcd_enabled) {
		k.kcd = start_kcd(c, k.acc, credctl_active_kvno(k.cred));
		credctl_set_kcd(k.cred, k.kcd);
		k.vhost_kcd = vhosts_with_kcd(c);
		/* Each of up to three KDC exchanges may try every KDC. */
		k.pending_ttl_s = 3 * c->kcd_timeout_s *
		    (unsigned)(c->kcd_nkdcs > 0 ? c->kcd_nkdcs : 1) + 5;
	}
	if (kc_random(k.session_key, sizeof(k.session_key)) != KC_OK)
		fatalx("no randomness for the session key");
	/* After the KDC configuration is read, before the first exchange. */
	if (env->sandbox != NULL)
		sandbox_enter(env->sandbox);
	if (k.kcd != NULL && kcd_prefetch_tgt(k.kcd) < 0)
		log_warnx("kcd: cannot queue the TGT prefetch");
	table_init(&k.sessions, c->kcd_sessions > 0 ? c->kcd_sessions : 16,
	    session_destroy);
	table_init(&k.pending, KH_MAX_PENDING, pending_destroy);
	table_init(&k.verifies, KH_MAX_VERIFY, verify_destroy);

	/* Relays' slots, then kcd's descriptor, then the parent's socket. */
	nfds = env->nrelays;
	k.kcd_slot = k.kcd != NULL ? nfds++ : SIZE_MAX;
	k.ctl_slot = env->ctl_fd >= 0 ? nfds++ : SIZE_MAX;
	k.cred_slot = env->cred_fd >= 0 ? nfds++ : SIZE_MAX;
	k.credv_slot = env->cred_fd >= 0 ? nfds++ : SIZE_MAX;
	k.pfd = calloc(nfds, sizeof(*k.pfd));
	k.rd = calloc(env->nrelays, sizeof(*k.rd));
	k.wr = calloc(env->nrelays, sizeof(*k.wr));
	k.doomed = calloc(env->nrelays, sizeof(*k.doomed));
	k.npending = calloc(env->nrelays, sizeof(*k.npending));
	if (k.pfd == NULL || k.rd == NULL || k.wr == NULL || k.doomed == NULL ||
	    k.npending == NULL)
		fatal("calloc");
	k.pending_share = KH_MAX_PENDING / (env->nrelays > 0 ? env->nrelays : 1);
	if (k.pending_share == 0)
		k.pending_share = 1;
	for (i = 0; i < env->nrelays; i++) {
		k.pfd[i].fd = env->relay_fds[i];
		k.pfd[i].events = POLLIN;
		if (k.pfd[i].fd >= 0)
			set_nonblocking(k.pfd[i].fd);
		kg_ipc_reader_init(&k.rd[i]);
		kg_ipc_writer_init(&k.wr[i], KH_QUEUE_MAX);
	}
	k.open = env->nrelays;
	if (k.kcd_slot != SIZE_MAX) {
		k.pfd[k.kcd_slot].fd = kcd_fd(k.kcd);
		k.pfd[k.kcd_slot].events = POLLIN;
	}
	if (k.ctl_slot != SIZE_MAX) {
		k.pfd[k.ctl_slot].fd = env->ctl_fd;
		k.pfd[k.ctl_slot].events = POLLIN;
	}
	if (k.cred_slot != SIZE_MAX) {
		credctl_fds(k.cred, &k.pfd[k.cred_slot].fd, &k.pfd[k.credv_slot].fd);
		k.pfd[k.cred_slot].events = POLLIN;
		k.pfd[k.credv_slot].events = POLLIN;
	}
	log_debug("ready: serving %zu relay(s)", env->nrelays);
	/* Until every relay is gone and the parent will send no other. */
	while (k.open > 0 || (k.ctl_slot != SIZE_MAX && k.pfd[k.ctl_slot].fd >= 0)) {
		if (poll(k.pfd, nfds, KH_TICK_MS) < 0) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		for (i = 0; i < env->nrelays; i++) {
			short ev = k.pfd[i].fd >= 0 ? k.pfd[i].revents : 0;
			bool was_paused;

			if (ev == 0)
				continue;
			was_paused = relay_paused(&k, i);
			if (ev & (POLLOUT | POLLERR | POLLHUP))
				flush_relay(&k, i);
			/* Read when asked to, or take the frames left waiting
			 * now that its answers have drained. */
			if (k.doomed[i] || (ev & POLLIN) ||
			    (was_paused && !relay_paused(&k, i)) ||
			    (!relay_paused(&k, i) && (ev & (POLLERR | POLLHUP))))
				relay_readable(&k, i);
		}
		if (k.kcd_slot != SIZE_MAX && (k.pfd[k.kcd_slot].revents & POLLIN))
			kcd_answers(&k);
		if (k.ctl_slot != SIZE_MAX && k.pfd[k.ctl_slot].fd >= 0 &&
		    k.pfd[k.ctl_slot].revents != 0)
			parent_readable(&k);
		if (k.cred_slot != SIZE_MAX && k.pfd[k.credv_slot].fd >= 0 &&
		    (k.pfd[k.credv_slot].revents & POLLIN))
			credctl_verify_readable(k.cred);
		if (k.cred_slot != SIZE_MAX && k.pfd[k.cred_slot].fd >= 0 &&
		    k.pfd[k.cred_slot].revents != 0 &&
		    credctl_parent_readable(k.cred) < 0)
			k.pfd[k.cred_slot].fd = -1;
		housekeeping(&k);
		/* Relays whose queue overflowed outside their own frames
		 * (late KDC answers, timeouts). */
		for (i = 0; i < env->nrelays; i++)
			if (k.doomed[i])
				close_slot(&k, i);
	}
	/* kcd_free() wants every ticket reference back first. */
	table_free(&k.verifies);
	table_free(&k.pending);
	table_free(&k.sessions);
	kcd_free(k.kcd);
	free(k.vhost_kcd);
	credctl_free(k.cred);
	acceptor_free(k.acc);
	free(spns);
	kg_zero(k.session_key, sizeof(k.session_key));
	for (i = 0; i < env->nrelays; i++)
		kg_ipc_writer_free(&k.wr[i]);
	free(k.wr);
	free(k.doomed);
	free(k.npending);
	free(k.rd);
	free(k.pfd);
	log_debug("every relay has gone; exiting");
	exit(0);
}
