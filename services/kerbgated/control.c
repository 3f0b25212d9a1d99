/*
 * control.c: the parent's control socket (control.h).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "ctlproto.h"
#include "ipc.h"
#include "log.h"
#include "sealedstore.h"
#include "util.h"

#define CONTROL_CLIENT_TIMEOUT_MS	120000

struct control {
	char			 path[108];
	char			 store[4096];
	int			 lfd;
	int			 cfd;		/* the client, or -1 */
	struct kg_ipc_reader	 crd;
	struct kg_ipc_reader	 krd;		/* the keyholder's answers */
	uint32_t		 next_id;
	uint32_t		 waiting;	/* forwarded request, 0: none */
	gid_t			 gid;		/* the control group's, if group_ok */
	int			 group_ok;
	uint64_t		 since_ms;
};

/*
 * The socket's folder must be ours and writable by us alone: in a folder
 * others can write to (/tmp), they could replace the socket by a symlink
 * between bind and chown, and be given the file it points to.
 */
static int
folder_is_ours(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(dir, &st) < 0)
		return kg_seterr(err, errlen, "cannot inspect the folder %s: %s", dir,
		    strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) != 0)
		return kg_seterr(err, errlen, "the control socket's folder %s is %s: "
		    "use a folder of its own, root's and writable by root only, "
		    "such as /run/kerbgate", dir, !S_ISDIR(st.st_mode) ? "not a folder" :
		    st.st_uid != geteuid() ? "not root's" : "writable by group or others");
	return 0;
}

struct control *
control_new(const char *path, const char *store, const char *group, char *err,
    size_t errlen)
{
	struct group *gr = NULL;
	struct sockaddr_un sun;
	struct control *c;
	char dir[sizeof(sun.sun_path)];
	mode_t old;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (kg_strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >= sizeof(sun.sun_path))
		return kg_seterr(err, errlen, "control socket path too long"), NULL;
	if (group[0] != '\0' && (gr = getgrnam(group)) == NULL)
		return kg_seterr(err, errlen, "credentials.control_group: no group %s "
		    "(groupadd --system %s, and make it kerbgate-mgmtd's user's group)",
		    group, group), NULL;
	kg_strlcpy(dir, path, sizeof(dir));
	if (mkdir(dirname(dir), 0700) < 0 && errno != EEXIST)
		return kg_seterr(err, errlen, "cannot make the folder of %s: %s", path,
		    strerror(errno)), NULL;
	if (folder_is_ours(dir, err, errlen) < 0)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return kg_seterr(err, errlen, "out of memory"), NULL;
	kg_strlcpy(c->path, path, sizeof(c->path));
	kg_strlcpy(c->store, store, sizeof(c->store));
	c->cfd = -1;
	c->next_id = 1;
	c->gid = gr != NULL ? gr->gr_gid : 0;
	c->group_ok = gr != NULL;
	kg_ipc_reader_init(&c->crd);
	kg_ipc_reader_init(&c->krd);
	(void)unlink(path);
	if ((c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0) {
		free(c);
		return kg_seterr(err, errlen, "socket: %s", strerror(errno)), NULL;
	}
	/* The mode comes from bind: nothing changes the path afterwards. */
	old = umask(gr != NULL ? 0117 : 0177);
	if (bind(c->lfd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(c->lfd, 4) < 0) {
		umask(old);
		kg_seterr(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
		close(c->lfd);
		free(c);
		return NULL;
	}
	umask(old);
	/* The folder made 0700 above is root's; the group needs to pass it. */
	kg_strlcpy(dir, path, sizeof(dir));
	if (gr != NULL && (fchownat(AT_FDCWD, path, 0, gr->gr_gid,
	    AT_SYMLINK_NOFOLLOW) < 0 || chown(dirname(dir), 0, gr->gr_gid) < 0 ||
	    chmod(dir, 0750) < 0)) {
		kg_seterr(err, errlen, "cannot give %s to group %s: %s", path, group,
		    strerror(errno));
		close(c->lfd);
		free(c);
		return NULL;
	}
	return c;
}

void
control_close_in_child(struct control *c)
{
	if (c == NULL)
		return;
	if (c->cfd >= 0)
		close(c->cfd);
	close(c->lfd);
	c->cfd = c->lfd = -1;
}

void
control_free(struct control *c)
{
	if (c == NULL)
		return;
	if (c->cfd >= 0)
		close(c->cfd);
	close(c->lfd);
	(void)unlink(c->path);
	kg_ipc_reader_free(&c->crd);
	kg_ipc_reader_free(&c->krd);
	free(c);
}

/* Sends one answer to a client socket. */
static void
send_result(int fd, enum ctl_status st, const char *text)
{
	struct ctl_result *r;
	uint8_t *out;
	size_t n;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return;
	r->status = st;
	kg_strlcpy(r->text, text, sizeof(r->text));
	if (ctl_result_encode(r, &out, &n) == 0) {
		(void)kg_ipc_send(fd, CTL_MSG_RESULT, 1, out, n);
		free(out);
	}
	free(r);
}

/* Closes the client and forgets its request: an answer to it that comes
 * later is dropped (its id is no longer awaited), never given to the next. */
static void
drop_client(struct control *c)
{
	close(c->cfd);
	c->cfd = -1;
	c->waiting = 0;
	kg_ipc_reader_free(&c->crd);
	kg_ipc_reader_init(&c->crd);
}

/* Answers the client and closes it: one request per connection. */
static void
reply(struct control *c, enum ctl_status st, const char *text)
{
	if (c->cfd < 0)
		return;
	send_result(c->cfd, st, text);
	drop_client(c);
}

static void
accept_client(struct control *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd;

	if ((fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    (cred.uid != 0 && !(c->group_ok && cred.gid == c->gid))) {
		log_warnx("control: refused a client of uid %ld: root%s only",
		    len == sizeof(cred) ? (long)cred.uid : -1L,
		    c->group_ok ? " and the control group" : "");
		close(fd);
		return;
	}
	if (c->cfd >= 0) {
		/* Refused on its own socket: the running request keeps its
		 * state (the id it waits for, its partly read frame). */
		send_result(fd, CTL_REFUSED, "another control request is running: try again");
		close(fd);
		return;
	}
	c->cfd = fd;
	c->since_ms = kg_now_ms();
}

/* The client's request: checked, then forwarded to the keyholder. */
static void
client_readable(struct control *c, int kh_fd)
{
	struct kg_ipc_frame f;
	struct ctl_req *req;
	int rc, ok;

	rc = kg_ipc_read(&c->crd, c->cfd);
	if (rc == KG_ERR_AGAIN)
		return;
	if (rc < 0 || c->waiting != 0) {
		if (rc < 0 && c->waiting == 0)
			reply(c, CTL_REFUSED, "malformed frame");
		else if (rc < 0)	/* the client left: its answer is dropped */
			drop_client(c);
		return;
	}
	if ((rc = kg_ipc_next(&c->crd, &f)) == 0)
		return;
	if (rc < 0 || !ctl_is_request(f.type)) {
		reply(c, CTL_REFUSED, "malformed frame");
		return;
	}
	if ((req = sealed_alloc(sizeof(*req))) == NULL) {
		reply(c, CTL_FAILED, "out of memory");
		return;
	}
	ok = ctl_req_decode(f.type, f.payload, f.len, req) == 0;
	sealed_free(req, sizeof(*req));
	if (!ok) {
		log_warnx("control: refused a malformed %u frame", (unsigned)f.type);
		reply(c, CTL_REFUSED, f.type >= CTL_MSG_SECRET_STAGE ?
		    "malformed request (a kind pool, cookie or tls; for a pool its "
		    "name and 32 to 64 bytes of secret, for tls a vhost, a key and a "
		    "chain, for the cookie key no name; a version from 1)" :
		    "malformed request (an account NAME@REALM, a kvno "
		    "from 1, a password of 1 to 256 bytes or AD keys)");
		return;
	}
	if (kh_fd < 0) {
		reply(c, CTL_FAILED, "no keyholder is running: see kerbgated's log");
		return;
	}
	c->waiting = c->next_id++;
	if (c->next_id == 0)
		c->next_id = 1;
	if (kg_ipc_send(kh_fd, f.type, c->waiting, f.payload, f.len) != KG_OK)
		reply(c, CTL_FAILED, "cannot reach the keyholder: see kerbgated's log");
}

/* One answer from the keyholder: write its store, pass its text on. */
static void
keyholder_answer(struct control *c, const struct kg_ipc_frame *f)
{
	struct ctl_result *r;
	char err[512];
	size_t off;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return;
	if (f->type != CTL_MSG_RESULT || ctl_result_decode(f->payload, f->len, r) != 0) {
		log_warnx("control: the keyholder sent a malformed answer");
		free(r);
		return;
	}
	if (r->sealed != NULL && c->store[0] != '\0' &&
	    sealed_write_atomic(c->store, r->sealed, r->sealed_len, err,
	    sizeof(err)) != 0) {
		log_warnx("control: %s", err);
		off = strlen(r->text);
		snprintf(r->text + off, sizeof(r->text) - off, "\nTHE STORE WAS NOT "
		    "WRITTEN (%s): the change holds until the keyholder restarts; fix "
		    "the folder and repeat the command", err);
		r->status = CTL_FAILED;
	}
	if (f->id != 0 && f->id == c->waiting)
		reply(c, (enum ctl_status)r->status, r->text);
	else if (f->id == 0)
		log_info("control: the keyholder %s", r->text);
	free(r);
}

/* -1: the keyholder's socket is closed or broken (stop polling it). */
static int
keyholder_readable(struct control *c, int kh_fd)
{
	struct kg_ipc_frame f;
	int rc;

	rc = kg_ipc_read(&c->krd, kh_fd);
	if (rc == KG_ERR_AGAIN)
		return 0;
	if (rc < 0) {
		control_keyholder_gone(c);
		return -1;
	}
	while ((rc = kg_ipc_next(&c->krd, &f)) == 1)
		keyholder_answer(c, &f);
	if (rc < 0) {
		log_warnx("control: a malformed frame from the keyholder");
		control_keyholder_gone(c);
		return -1;
	}
	return 0;
}

void
control_keyholder_gone(struct control *c)
{
	kg_ipc_reader_free(&c->krd);
	kg_ipc_reader_init(&c->krd);
	if (c->waiting != 0)
		reply(c, CTL_FAILED, "the keyholder went away (reload or restart) "
		    "before it answered: see `kerbgatectl credentials list`, then "
		    "repeat the command");
}

size_t
control_fill(struct control *c, int kh_fd, struct pollfd *pfd)
{
	size_t n = 0;

	if (c->cfd >= 0 && kg_now_ms() - c->since_ms > CONTROL_CLIENT_TIMEOUT_MS)
		reply(c, CTL_FAILED, "timed out");
	pfd[n].fd = c->lfd;
	pfd[n++].events = POLLIN;
	pfd[n].fd = c->cfd;
	pfd[n++].events = POLLIN;
	pfd[n].fd = kh_fd;
	pfd[n++].events = POLLIN;
	return n;
}

int
control_handle(struct control *c, int kh_fd, const struct pollfd *pfd, size_t n)
{
	int gone = 0;

	if (n < CONTROL_MAX_FDS)
		return 0;
	if (pfd[2].fd >= 0 && pfd[2].fd == kh_fd && pfd[2].revents != 0)
		gone = keyholder_readable(c, kh_fd) < 0;
	if (pfd[1].fd >= 0 && pfd[1].fd == c->cfd && pfd[1].revents != 0)
		client_readable(c, gone ? -1 : kh_fd);
	if (pfd[0].revents & POLLIN)
		accept_client(c);
	return gone ? -1 : 0;
}
