/*
 * upload.c: firmware bundles streamed to /data and installed with RAUC
 * (upload.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>

#include "log.h"
#include "status.h"
#include "upload.h"
#include "util.h"
#include "web.h"

extern char **environ;

enum up_state { UP_NONE, UP_RECEIVING, UP_CHECKING, UP_READY, UP_INSTALLING,
    UP_INSTALLED, UP_FAILED };

static const char *const state_names[] = { "none", "receiving", "checking", "ready",
    "installing", "installed", "failed" };

struct upload;

/*
 * One rauc command at a time (`rauc info`, then `rauc install`), run beside
 * the event loop: its output is read as it comes, a line at a time, and
 * its end is an ev_child, so that neither the API nor the page waits.
 */
struct job {
	struct upload	*u;
	pid_t		 pid;
	ev_io		 io;
	ev_child	 child;
	ev_timer	 timer;		/* a time limit; 0: none */
	int		 timed_out;
	int		 esc;		/* in a terminal escape: 1 after ESC, 2 in CSI */
	char		 line[512];
	size_t		 line_len;
	void		(*on_line)(struct upload *, const char *);
	void		(*on_exit)(struct upload *, int status);
};

struct upload {
	struct ev_loop	*loop;
	const char	*keyring;
	enum up_state	 state;
	int		 fd;
	char		 path[PATH_MAX], tmp[PATH_MAX];
	uint64_t	 size, received;
	char		 peer[48];
	char		 message[600];
	char		 reason[64];
	char		 info[4096];	/* rauc info's output */
	int		 progress;	/* rauc install, percent */
	char		 step[160];	/* rauc install's last step */
	struct job	 job;
	size_t		 info_len;
	char		 log[4096];	/* rauc install's output, for the refusal */
	size_t		 log_len;
	struct web	*web;
	upload_done_fn	 done;		/* the uploader waits for the check */
	void		*done_arg;
};

const char *
upload_reason(const char *t)
{
	/* most specific first: RAUC says "Invalid bundle format: Signature
	 * size is 0" of a file that is no bundle at all */
	if (strstr(t, "older than") || strstr(t, "anti-rollback"))
		return "older security version (anti-rollback)";
	if (strstr(t, "ompatible"))
		return "wrong board (compatible mismatch)";
	if (strstr(t, "Invalid bundle") || strstr(t, "too small") || strstr(t, "truncated") ||
	    strstr(t, "squashfs"))
		return "truncated or not a bundle";
	if (strstr(t, "ignature") || strstr(t, "not signed") || strstr(t, "certificate"))
		return "bad signature";
	if (strstr(t, "payload is corrupted") || strstr(t, "hash"))
		return "corrupted (a payload checksum does not match)";
	return NULL;
}

/* What a refusal means for the admin, in a sentence. */
static const char *
explain(const char *reason)
{
	if (reason == NULL)
		return "RAUC refused it (its words are below)";
	if (strncmp(reason, "bad signature", 13) == 0)
		return "its signature does not verify against this appliance's keyring: "
		    "it was not signed by the firmware signer, or it was changed";
	if (strncmp(reason, "wrong board", 11) == 0)
		return "it is firmware for another board (its compatible is not this one's)";
	if (strncmp(reason, "older", 5) == 0)
		return "its security version is older than one this appliance has run "
		    "(anti-rollback: it would bring back a fixed hole)";
	if (strncmp(reason, "corrupted", 9) == 0)
		return "its payload does not match its signed checksums: it was changed "
		    "or damaged";
	return "the file is cut short, or it is not a RAUC bundle";
}

int
upload_init(struct web *w, struct ev_loop *loop, const char *keyring)
{
	struct upload *u = calloc(1, sizeof(*u));

	if (u == NULL)
		return -1;
	u->loop = loop;
	u->keyring = keyring;
	u->fd = -1;
	u->web = w;
	u->job.u = u;
	snprintf(u->path, sizeof(u->path), "%s/update.raucb", w->conf.upload_dir);
	snprintf(u->tmp, sizeof(u->tmp), "%s/.upload.raucb.part", w->conf.upload_dir);
	/* what a crash left behind */
	unlink(u->tmp);
	if (access(u->path, F_OK) == 0)
		unlink(u->path);
	w->upload = u;
	return 0;
}

static void
fail(struct upload *u, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(struct upload *u, const char *reason, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(u->message, sizeof(u->message), fmt, ap);
	va_end(ap);
	kg_strlcpy(u->reason, reason ? reason : "", sizeof(u->reason));
	u->state = UP_FAILED;
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
	unlink(u->tmp);
	unlink(u->path);
}

/* ---- receiving ------------------------------------------------------------------ */

int
upload_begin(struct web *w, const struct web_request *rq, uint64_t declared,
    struct web_response *rs)
{
	struct upload *u = w->upload;
	struct statvfs sv;
	uint64_t avail;

	if (u == NULL)
		return web_refuse(rs, 501, "firmware", "firmware uploads are not set up");
	if (u->state == UP_RECEIVING || u->state == UP_CHECKING || u->state == UP_INSTALLING)
		return web_refuse(rs, 409, "busy", "another bundle is being %s: wait until "
		    "it is done", state_names[u->state]);
	if (declared < UPLOAD_MIN)
		return web_refuse(rs, 400, "size", "the upload declares %llu bytes: a RAUC "
		    "bundle is larger; choose the .raucb file", (unsigned long long)declared);
	if (declared > (uint64_t)w->conf.max_upload)
		return web_refuse(rs, 413, "size", "the bundle is %llu MiB; at most %ld MiB "
		    "are taken", (unsigned long long)(declared >> 20), w->conf.max_upload >> 20);
	unlink(u->path);	/* a new bundle replaces the last one */
	if (u->state == UP_READY) {	/* ... even when it is refused below */
		u->state = UP_NONE;
		u->message[0] = u->reason[0] = u->info[0] = '\0';
	}
	if (statvfs(w->conf.upload_dir, &sv) < 0)
		return web_refuse(rs, 500, "space", "cannot see the free space of %s: %s",
		    w->conf.upload_dir, strerror(errno));
	avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (avail < declared + UPLOAD_SPARE)
		return web_refuse(rs, 507, "space", "not enough space on %s for the bundle: "
		    "it needs %llu MiB (and %llu MiB kept free), %llu MiB are free",
		    w->conf.upload_dir, (unsigned long long)(declared >> 20),
		    (unsigned long long)(UPLOAD_SPARE >> 20), (unsigned long long)(avail >> 20));
	u->fd = open(u->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (u->fd < 0)
		return web_refuse(rs, 500, "write", "cannot write %s: %s", u->tmp,
		    strerror(errno));
	u->state = UP_RECEIVING;
	u->size = declared;
	u->received = 0;
	u->message[0] = u->reason[0] = u->info[0] = '\0';
	u->info_len = 0;
	u->progress = 0;
	kg_strlcpy(u->peer, rq->peer, sizeof(u->peer));
	log_info("firmware upload from %s: %llu bytes to %s", rq->peer,
	    (unsigned long long)declared, u->tmp);
	return 0;
}

int
upload_write(struct web *w, const void *buf, size_t n, struct web_response *rs)
{
	struct upload *u = w->upload;
	const char *p = buf;
	ssize_t k;

	/* A bundle is a squashfs image: refuse anything else at once, however
	 * the TLS records cut its first four bytes. */
	if (u->received < 4 && memcmp(buf, &"hsqs"[u->received],
	    n < 4 - u->received ? n : 4 - u->received) != 0) {
		fail(u, "truncated or not a bundle", "this file is not a RAUC bundle "
		    "(it does not start as one): choose the .raucb file");
		web_audit(w, u->peer, "firmware-upload", "refused: not a bundle");
		return web_refuse(rs, 400, "bundle", "%s", u->message);
	}
	while (n > 0) {
		if ((k = write(u->fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			fail(u, "write error", "writing the bundle failed: %s", strerror(errno));
			web_audit(w, u->peer, "firmware-upload", "failed: write error");
			return web_refuse(rs, 500, "write", "%s", u->message);
		}
		p += k;
		n -= (size_t)k;
		u->received += (uint64_t)k;
	}
	return 0;
}

/* ---- rauc, beside the loop --------------------------------------------------- */

static void
job_text(struct job *j, const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		/* rauc colours its words on a terminal (and sometimes not): the
		 * page shows text, so escapes and other controls are dropped */
		if (j->esc == 1) {
			j->esc = buf[i] == '[' ? 2 : 0;
			continue;
		}
		if (j->esc == 2) {
			if (buf[i] >= 0x40 && buf[i] <= 0x7e)
				j->esc = 0;
			continue;
		}
		if (buf[i] == 0x1b) {
			j->esc = 1;
			continue;
		}
		if ((unsigned char)buf[i] < 0x20 && buf[i] != '\n' && buf[i] != '\r' &&
		    buf[i] != '\t')
			continue;
		if (buf[i] == '\n' || buf[i] == '\r' || j->line_len + 1 >= sizeof(j->line)) {
			j->line[j->line_len] = '\0';
			if (j->line_len > 0)
				j->on_line(j->u, j->line);
			j->line_len = 0;
		} else
			j->line[j->line_len++] = buf[i];
	}
}

/* Stops reading the command's output and closes the pipe. */
static void
job_close(struct job *j)
{
	ev_io_stop(j->u->loop, &j->io);
	close(j->io.fd);
	j->io.fd = -1;
}

/* Reads what the pipe holds now; at its end, closes it. */
static void
job_read(struct job *j)
{
	char buf[512];
	ssize_t n;

	while ((n = read(j->io.fd, buf, sizeof(buf))) > 0)
		job_text(j, buf, (size_t)n);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	job_close(j);
}

static void
on_job_output(struct ev_loop *loop, ev_io *io, int revents)
{
	(void)loop;
	(void)revents;
	job_read(io->data);
}

static void
on_job_exit(struct ev_loop *loop, ev_child *ch, int revents)
{
	struct job *j = ch->data;

	(void)revents;
	ev_child_stop(loop, ch);
	ev_timer_stop(loop, &j->timer);
	j->pid = 0;
	/* what it wrote last may still be in the pipe; a child of its own
	 * may hold the pipe open: read what is there, then close it */
	if (j->io.fd >= 0)
		job_read(j);
	if (j->io.fd >= 0)
		job_close(j);
	job_text(j, "\n", 1);
	j->on_exit(j->u, j->timed_out ? -1 : ch->rstatus);
}

static void
on_job_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct job *j = t->data;

	(void)loop;
	(void)revents;
	if (j->pid > 0) {
		j->timed_out = 1;
		kill(-j->pid, SIGKILL);	/* it and its children; its ev_child ends the job */
	}
}

/* Starts argv with its output to j->on_line; 0 or an errno. */
static int
job_start(struct job *j, char *const argv[], int timeout_ms)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int p[2], rc;

	if (pipe2(p, O_CLOEXEC) < 0)
		return errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);	/* its own group: a time
								   limit ends all of it */
	posix_spawnattr_setpgroup(&at, 0);
	rc = posix_spawnp(&j->pid, argv[0], &fa, &at, argv, environ);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (rc != 0) {
		close(p[0]);
		j->pid = 0;
		return rc;
	}
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	j->line_len = 0;
	j->timed_out = 0;
	j->esc = 0;
	ev_io_init(&j->io, on_job_output, p[0], EV_READ);
	j->io.data = j;
	ev_io_start(j->u->loop, &j->io);
	ev_child_init(&j->child, on_job_exit, j->pid, 0);
	j->child.data = j;
	ev_child_start(j->u->loop, &j->child);
	ev_timer_init(&j->timer, on_job_timeout, timeout_ms / 1000.0, 0);
	j->timer.data = j;
	if (timeout_ms > 0)
		ev_timer_start(j->u->loop, &j->timer);
	return 0;
}

/* `rauc [--keyring=K] VERB PATH` */
static void
rauc_argv(struct upload *u, const char *verb, char *argv[5], char kr[PATH_MAX + 16])
{
	int i = 0;

	argv[i++] = "rauc";
	argv[i++] = (char *)verb;
	if (u->keyring != NULL) {
		snprintf(kr, PATH_MAX + 16, "--keyring=%s", u->keyring);
		argv[i++] = kr;
	}
	argv[i++] = u->path;
	argv[i] = NULL;
}

/* ---- checking: `rauc info` on the bundle (signature, compatible, version) ---- */

/* Adds \p line and a newline to \p buf (\p cap bytes, *len used), if it fits. */
static void
append_line(char *buf, size_t cap, size_t *len, const char *line)
{
	size_t n = strlen(line);

	if (*len + n + 2 > cap)
		return;
	memcpy(buf + *len, line, n);
	*len += n;
	buf[(*len)++] = '\n';
	buf[*len] = '\0';
}

static void
check_line(struct upload *u, const char *line)
{
	append_line(u->info, sizeof(u->info), &u->info_len, line);
}

/* Hands the check's answer to the uploader, if it still waits. */
static void
check_answer(struct upload *u, struct web_response *rs)
{
	upload_done_fn done = u->done;

	u->done = NULL;
	if (done != NULL)
		done(u->done_arg, rs);
	else
		web_response_free(rs);
}

static void
check_exit(struct upload *u, int status)
{
	struct web_response rs;
	const char *why;
	char line[300];

	memset(&rs, 0, sizeof(rs));
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		why = status < 0 ? "timed out" : upload_reason(u->info);
		if (status < 0)
			fail(u, why, "RAUC did not finish checking the bundle within %d s; "
			    "nothing was installed", UPLOAD_CHECK_MS / 1000);
		else
			fail(u, why ? why : "refused by RAUC", "%s; nothing was installed",
			    explain(why));
		snprintf(line, sizeof(line), "refused: %s", u->reason);
		web_audit(u->web, u->peer, "firmware-upload", line);
		web_json(&rs, 422, json_pack("{s:b, s:s, s:s, s:s, s:s}", "ok", 0, "error",
		    "bundle", "reason", u->reason, "message", u->message, "details", u->info));
		check_answer(u, &rs);
		return;
	}
	u->state = UP_READY;
	snprintf(u->message, sizeof(u->message), "the bundle is signed and checked: "
	    "ready to install");
	snprintf(line, sizeof(line), "ok: %llu bytes, signature checked",
	    (unsigned long long)u->received);
	web_audit(u->web, u->peer, "firmware-upload", line);
	web_json(&rs, 200, json_pack("{s:b, s:s, s:s}", "ok", 1, "message", u->message,
	    "details", u->info));
	check_answer(u, &rs);
}

int
upload_end(struct web *w, struct web_response *rs, upload_done_fn done, void *arg)
{
	struct upload *u = w->upload;
	char *argv[5], kr[PATH_MAX + 16];
	int rc;

	if (fsync(u->fd) < 0 || close(u->fd) < 0) {
		u->fd = -1;
		fail(u, "write error", "the bundle could not be written to disk: %s",
		    strerror(errno));
		web_refuse(rs, 500, "write", "%s", u->message);
		return 0;
	}
	u->fd = -1;
	if (rename(u->tmp, u->path) < 0) {
		fail(u, "write error", "cannot rename the bundle: %s", strerror(errno));
		web_refuse(rs, 500, "write", "%s", u->message);
		return 0;
	}
	rauc_argv(u, "info", argv, kr);
	u->info_len = 0;
	u->info[0] = '\0';
	u->job.on_line = check_line;
	u->job.on_exit = check_exit;
	if ((rc = job_start(&u->job, argv, UPLOAD_CHECK_MS)) != 0) {
		fail(u, "not checked", "cannot run rauc to check the bundle: %s",
		    strerror(rc));
		web_refuse(rs, 500, "rauc", "%s", u->message);
		return 0;
	}
	u->state = UP_CHECKING;
	snprintf(u->message, sizeof(u->message), "received: RAUC checks its signature");
	u->done = done;
	u->done_arg = arg;
	return 1;
}

void
upload_detach(struct web *w, void *arg)
{
	if (w->upload != NULL && w->upload->done_arg == arg)
		w->upload->done = NULL;
}

void
upload_abort(struct web *w, uint64_t left)
{
	upload_stop(w, left, "truncated", "the upload was cut short");
}

void
upload_stop(struct web *w, uint64_t left, const char *reason, const char *what)
{
	struct upload *u = w->upload;
	char line[200];

	if (u == NULL || u->state != UP_RECEIVING)
		return;
	fail(u, reason, "%s: %llu of %llu bytes arrived; nothing was changed, "
	    "upload it again", what, (unsigned long long)(u->size - left),
	    (unsigned long long)u->size);
	snprintf(line, sizeof(line), "refused: %s at %llu of %llu bytes", reason,
	    (unsigned long long)(u->size - left), (unsigned long long)u->size);
	web_audit(w, u->peer, "firmware-upload", line);
}

/* ---- installing ----------------------------------------------------------------- */

/* A line of rauc install's output: " 40% Checking bundle" and the like. */
static void
install_line(struct upload *u, const char *line)
{
	const char *pct = strchr(line, '%');
	const char *p;

	if (pct != NULL) {
		for (p = pct; p > line && p[-1] >= '0' && p[-1] <= '9'; p--)
			;
		if (p < pct)
			u->progress = atoi(p);
		while (*++pct == ' ')
			;
		if (*pct != '\0')
			kg_strlcpy(u->step, pct, sizeof(u->step));
	}
	append_line(u->log, sizeof(u->log), &u->log_len, line);
}

static void
install_exit(struct upload *u, int status)
{
	const char *why;
	char line[200];

	if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		u->state = UP_INSTALLED;
		u->progress = 100;
		snprintf(u->message, sizeof(u->message), "installed into the other slot: "
		    "reboot to run it");
		unlink(u->path);
		web_audit(u->web, u->peer, "firmware-install", "ok");
		return;
	}
	why = upload_reason(u->log);
	fail(u, why ? why : "refused by RAUC", "the install failed: %s; the running "
	    "slot is untouched", explain(why));
	snprintf(line, sizeof(line), "failed: %s", u->reason);
	web_audit(u->web, u->peer, "firmware-install", line);
}

static int
install(struct web *w, const struct web_request *rq, struct web_response *rs)
{
	struct upload *u = w->upload;
	char *argv[5], kr[PATH_MAX + 16];
	int rc;

	if (u->state != UP_READY)
		return web_refuse(rs, 409, "firmware", "there is no checked bundle to "
		    "install: upload one first");
	rauc_argv(u, "install", argv, kr);
	u->job.on_line = install_line;
	u->job.on_exit = install_exit;
	if ((rc = job_start(&u->job, argv, 0)) != 0)
		return web_refuse(rs, 500, "install", "cannot run rauc: %s", strerror(rc));
	u->state = UP_INSTALLING;
	u->progress = 0;
	u->log_len = 0;
	u->log[0] = u->step[0] = '\0';
	kg_strlcpy(u->peer, rq->peer, sizeof(u->peer));
	web_audit(w, rq->peer, "firmware-install", "started");
	return web_json(rs, 202, json_pack("{s:b, s:s}", "ok", 1, "message", "installing"));
}

/* ---- the other routes ------------------------------------------------------------ */

static int
run_action(struct web *w, const struct web_request *rq, struct web_response *rs,
    char *const argv[], const char *action, const char *done)
{
	char out[2048], line[300];
	int rc = status_run(argv, out, sizeof(out), STATUS_TIMEOUT_MS * 5);

	snprintf(line, sizeof(line), rc == 0 ? "ok" : "failed: %.200s", out);
	web_audit(w, rq->peer, action, line);
	if (rc != 0)
		return web_refuse(rs, 500, "firmware", "%s failed: %.400s", argv[0],
		    out[0] ? out : "it could not be run");
	return web_json(rs, 200, json_pack("{s:b, s:s}", "ok", 1, "message", done));
}

/*
 * Rebooting needs root, which mgmtd gave up: kerbgate-powerd (root) takes
 * the one word "reboot" on a socket only root and mgmtd's user reach
 * (docs/architecture.md, "Firmware from the web page").
 */
static int
ask_reboot(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { 5, 0 };
	char ans[128];
	ssize_t n;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return kg_seterr(err, errlen, "the power socket path is too long");
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return kg_seterr(err, errlen, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		kg_seterr(err, errlen, "cannot reach kerbgate-powerd at %s (%s): is it "
		    "running?", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (write(fd, "reboot\n", 7) != 7 || (n = read(fd, ans, sizeof(ans) - 1)) <= 0) {
		kg_seterr(err, errlen, "kerbgate-powerd at %s did not answer", path);
		close(fd);
		return -1;
	}
	close(fd);
	ans[n] = '\0';
	ans[strcspn(ans, "\n")] = '\0';
	if (strcmp(ans, "ok") != 0)
		return kg_seterr(err, errlen, "kerbgate-powerd: %.100s", ans);
	return 0;
}

static void
reboot_route(struct web *w, const struct web_request *rq, struct web_response *rs)
{
	char err[300];

	if (w->upload->state == UP_INSTALLING) {
		web_refuse(rs, 409, "busy", "the bundle is being installed: reboot when "
		    "it is done");
		return;
	}
	if (ask_reboot(w->conf.power_socket, err, sizeof(err)) < 0) {
		web_audit(w, rq->peer, "firmware-reboot", "failed");
		web_refuse(rs, 503, "reboot", "%s", err);
		return;
	}
	web_audit(w, rq->peer, "firmware-reboot", "ok");
	web_json(rs, 200, json_pack("{s:b, s:s}", "ok", 1, "message", "rebooting: this "
	    "page comes back when the appliance is up"));
}

static json_t *
firmware_state(struct web *w)
{
	struct upload *u = w->upload;
	struct statvfs sv;
	json_t *o, *fw;

	o = json_pack("{s:b, s:s, s:I, s:I, s:s, s:s, s:s, s:i, s:s, s:s, s:I}", "ok", 1,
	    "state", state_names[u->state], "size", (json_int_t)u->size,
	    "received", (json_int_t)u->received, "message", u->message,
	    "reason", u->reason, "details", u->state == UP_INSTALLING || u->state ==
	    UP_FAILED ? (u->log_len ? u->log : u->info) : u->info,
	    "progress", u->progress, "step", u->step, "upload_dir", w->conf.upload_dir,
	    "max_upload", (json_int_t)w->conf.max_upload);
	if (statvfs(w->conf.upload_dir, &sv) == 0)
		json_object_set_new(o, "free", json_integer((json_int_t)(sv.f_bavail * sv.f_frsize)));
	if ((fw = status_firmware(w, 1)) != NULL) {
		json_object_update(o, fw);
		json_decref(fw);
	}
	return o;
}

static int
post(const struct web_request *rq, const char *path)
{
	const struct http_head *h = rq->head;
	size_t plen = strlen(path);

	return h->method_len == 4 && memcmp(h->method, "POST", 4) == 0 &&
	    h->target_len == plen && memcmp(h->target, path, plen) == 0;
}

void
upload_route(struct web *w, const struct web_request *rq, struct web_response *rs)
{
	static char *const other[] = { "rauc", "status", "mark-active", "other", NULL };
	const struct http_head *h = rq->head;

	if (w->upload == NULL) {
		web_refuse(rs, 501, "firmware", "firmware updates are not set up");
		return;
	}
	if (h->method_len == 3 && memcmp(h->method, "GET", 3) == 0 &&
	    h->target_len == 16) {
		web_json(rs, 200, firmware_state(w));
		return;
	}
	if (post(rq, "/api/v1/firmware/install"))
		install(w, rq, rs);
	else if (post(rq, "/api/v1/firmware/reboot"))
		reboot_route(w, rq, rs);
	else if (post(rq, "/api/v1/firmware/switch"))
		run_action(w, rq, rs, other, "firmware-switch", "the other slot boots "
		    "next: reboot to run it");
	else if (h->method_len == 6 && memcmp(h->method, "DELETE", 6) == 0 &&
	    h->target_len == strlen(UPLOAD_PATH) &&
	    memcmp(h->target, UPLOAD_PATH, h->target_len) == 0) {
		/* not while one streams in: the upload would go on into a
		 * state that lets a second one begin beside it */
		if (w->upload->state == UP_INSTALLING || w->upload->state == UP_RECEIVING ||
		    w->upload->state == UP_CHECKING)
			web_refuse(rs, 409, "busy", "the bundle is being %s",
			    state_names[w->upload->state]);
		else {
			unlink(w->upload->path);
			w->upload->state = UP_NONE;
			w->upload->message[0] = '\0';
			web_json(rs, 200, json_pack("{s:b, s:s}", "ok", 1, "message",
			    "the bundle is removed"));
		}
	} else
		web_refuse(rs, 404, "path", "no such firmware path (docs/api.md)");
}
