/*
 * Keyholder process: the acceptor (acceptor.c) behind a framed IPC loop.
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "acceptor.h"
#include "ipc.h"
#include "keyholder.h"
#include "khproto.h"
#include "log.h"
#include "util.h"

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

static void
answer(struct kg_acceptor *acc, const struct conf *c, int fd,
    const struct kg_ipc_frame *f)
{
	struct kh_auth_req req;
	struct kh_auth_result out;
	struct accept_params p;
	struct accept_result res;
	const struct conf_vhost *v;
	const char *spns[64];
	uint8_t *payload;
	size_t plen, i;

	memset(&out, 0, sizeof(out));
	memset(&res, 0, sizeof(res));
	if (f->type != KH_MSG_AUTH ||
	    kh_auth_req_decode(f->payload, f->len, &req) < 0 ||
	    req.vhost >= c->nvhosts)
		fatalx("a relay sent a malformed request");
	v = &c->vhosts[req.vhost];
	memset(&p, 0, sizeof(p));
	for (i = 0; i < v->nspns && i < KG_NELEM(spns); i++)
		spns[i] = v->spns[i];
	p.spns = spns;
	p.nspns = i;
	p.allow_rc4 = c->allow_rc4;
	p.clock_skew = (int)c->clock_skew_s;
	/* Channel bindings exist only on TLS connections. */
	p.cb_mode = req.has_cb ? (enum cb_mode)v->channel_binding : CB_OFF;
	memcpy(p.cb_expected, req.cb_hash, sizeof(p.cb_expected));
	p.mech_list = req.mech_list;
	p.mech_list_len = req.mech_list_len;
	acceptor_accept(acc, req.ap_req, req.ap_req_len, &p, &res);

	if (res.status == ACCEPT_OK) {
		out.status = KH_OK;
		kg_strlcpy(out.principal, res.client, sizeof(out.principal));
		out.endtime = (uint64_t)res.endtime;
		out.enctype = res.enctype;
		out.ap_rep = res.ap_rep;
		out.ap_rep_len = res.ap_rep_len;
		out.mic = res.mech_list_mic;
		out.mic_len = res.mech_list_mic_len;
	} else {
		out.status = res.status == ACCEPT_MALFORMED ? KH_MALFORMED :
		    res.status == ACCEPT_INTERNAL ? KH_INTERNAL : KH_DENIED;
		out.reason_code = reason_code(res.status);
		kg_strlcpy(out.reason, res.reason, sizeof(out.reason));
	}
	if (kh_auth_result_encode(&out, &payload, &plen) < 0)
		fatalx("out of memory encoding an answer");
	acceptor_result_clear(&res);
	if (kg_ipc_send(fd, KH_MSG_AUTH_RESULT, f->id, payload, plen) < 0)
		log_debug("a relay went away before its answer");
	kg_freezero(payload, plen);
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

void
keyholder_main(struct keyholder_env *env)
{
	struct kg_acceptor *acc;
	struct kg_ipc_reader *rd;
	struct kg_ipc_frame f;
	struct pollfd *pfd;
	const char **spns;
	char err[512];
	size_t i, nspns, open;
	int rc;

	log_procname("keyholder");
	if (acceptor_new(&acc, env->conf->replay_entries, err, sizeof(err)) < 0)
		fatalx("%s", err);
	all_spns(env->conf, &spns, &nspns);
	if (acceptor_load_keytab(acc, env->conf->keytab, spns, nspns, err,
	    sizeof(err)) < 0)
		fatalx("%s", err);
	free(spns);
	drop_privileges(env->user);
	prctl(PR_SET_DUMPABLE, 0);	/* no core with keys in it */

	pfd = calloc(env->nrelays, sizeof(*pfd));
	rd = calloc(env->nrelays, sizeof(*rd));
	if (pfd == NULL || rd == NULL)
		fatal("calloc");
	for (i = 0; i < env->nrelays; i++) {
		pfd[i].fd = env->relay_fds[i];
		pfd[i].events = POLLIN;
		kg_ipc_reader_init(&rd[i]);
	}
	log_debug("ready: serving %zu relay(s)", env->nrelays);
	for (open = env->nrelays; open > 0;) {
		if (poll(pfd, env->nrelays, -1) < 0) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		for (i = 0; i < env->nrelays; i++) {
			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			rc = kg_ipc_read(&rd[i], pfd[i].fd);
			while (kg_ipc_next(&rd[i], &f) == 1)
				answer(acc, env->conf, pfd[i].fd, &f);
			if (rc == KG_ERR_CLOSED || (rc < 0 && rc != KG_ERR_AGAIN)) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				kg_ipc_reader_free(&rd[i]);
				open--;
			}
		}
	}
	acceptor_free(acc);
	log_debug("every relay has gone; exiting");
	exit(0);
}
