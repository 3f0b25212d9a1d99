/*
 * kerbgate-powerd: the one privileged step of a firmware change that
 * kerbgate-mgmtd, which runs as _kgmgmt, cannot take itself: rebooting.
 *
 * It runs as root, does nothing but listen on a Unix socket that only root
 * and the management user can reach (folder 0750 root:GROUP, socket 0660),
 * checks the caller's uid again with SO_PEERCRED, and takes one line from a
 * fixed set of commands:
 *
 *   reboot    answer "ok", sync, and ask init to reboot (SIGTERM to pid 1,
 *             as BusyBox's reboot does: rcK stops the services, /data is
 *             unmounted cleanly)
 *
 * Anything else is answered "error: unknown command" and logged.  The slot
 * switch needs no help: RAUC's service marks slots for _kgmgmt over D-Bus
 * (its bus policy, docs/updates.md).  Why a daemon and not a setuid program:
 * nothing mgmtd controls (environment, descriptors, arguments) reaches a
 * root process; the command is a word compared against a table.
 *
 * Usage: kerbgate-powerd [-d] [-s SOCKET] [-u USER]
 *   default socket /run/kerbgate-power/power.sock, user _kgmgmt.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

#define POWERD_SOCKET	"/run/kerbgate-power/power.sock"
#define POWERD_LINE_MAX	32

/* The peer's uid, or (uid_t)-1. */
static uid_t
peer_uid(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return (uid_t)-1;
	return cred.uid;
}

/* One line, without its newline; -1 when none came in time or it is too long. */
static int
read_line(int fd, char *line, size_t cap)
{
	size_t len = 0;
	ssize_t n;

	while (len + 1 < cap) {
		if ((n = read(fd, line + len, cap - 1 - len)) <= 0)
			return -1;
		len += (size_t)n;
		line[len] = '\0';
		if (memchr(line, '\n', len) != NULL) {
			*strchr(line, '\n') = '\0';
			return 0;
		}
	}
	return -1;
}

static void
answer(int fd, const char *text)
{
	if (write(fd, text, strlen(text)) < 0)
		log_debug("the caller left before the answer");
}

/* Returns 1 when init was asked to reboot. */
static int
serve(int fd, uid_t allowed)
{
	struct timeval tv = { 2, 0 };
	char line[POWERD_LINE_MAX];
	uid_t uid = peer_uid(fd);

	if (uid != 0 && uid != allowed) {
		log_warnx("refused a connection from uid %ld: only root and uid %ld may "
		    "ask", (long)uid, (long)allowed);
		return 0;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (read_line(fd, line, sizeof(line)) < 0) {
		answer(fd, "error: give one command on one line\n");
		return 0;
	}
	if (strcmp(line, "reboot") != 0) {
		log_warnx("uid %ld: unknown command refused", (long)uid);
		answer(fd, "error: unknown command (the one command is: reboot)\n");
		return 0;
	}
	log_info("uid %ld asked for a reboot: rebooting", (long)uid);
	answer(fd, "ok\n");
	sync();
	if (kill(1, SIGTERM) < 0) {
		log_warn("cannot ask init to reboot");
		return 0;
	}
	return 1;
}

/* The socket's folder 0750 root:group, the socket 0660, owned likewise. */
static int
listen_socket(const char *path, gid_t gid)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char dir[sizeof(sun.sun_path)];
	char *slash;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path) || path[0] != '/')
		fatalx("socket %s: give an absolute path shorter than %zu bytes", path,
		    sizeof(sun.sun_path));
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	*slash = '\0';
	if (dir[0] != '\0' && mkdir(dir, 0750) < 0 && errno != EEXIST)
		fatal("cannot make %s", dir);
	if (dir[0] != '\0' && (chown(dir, 0, gid) < 0 || chmod(dir, 0750) < 0))
		fatal("cannot make %s 0750 root:%ld", dir, (long)gid);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		fatal("socket");
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		fatal("cannot listen on %s", path);
	if (chown(path, 0, gid) < 0 || chmod(path, 0660) < 0)
		fatal("cannot make %s 0660 root:%ld", path, (long)gid);
	if (listen(fd, 4) < 0)
		fatal("listen");
	return fd;
}

int
main(int argc, char **argv)
{
	const char *path = POWERD_SOCKET, *user = "_kgmgmt";
	struct passwd *pw;
	int ch, debug = 0, lfd, fd;

	while ((ch = getopt(argc, argv, "ds:u:")) != -1) {
		switch (ch) {
		case 'd': debug = 1; break;
		case 's': path = optarg; break;
		case 'u': user = optarg; break;
		default:
			fprintf(stderr, "usage: kerbgate-powerd [-d] [-s socket] [-u user]\n");
			return 2;
		}
	}
	log_init("kerbgate-powerd", debug, 0);
	signal(SIGPIPE, SIG_IGN);
	if (geteuid() != 0)
		fatalx("kerbgate-powerd must run as root (it reboots the appliance)");
	if ((pw = getpwnam(user)) == NULL || pw->pw_uid == 0)
		fatalx("user %s does not exist or is root: name the management user "
		    "(kerbgate-mgmtd's \"user\") with -u", user);
	lfd = listen_socket(path, pw->pw_gid);
	log_info("listening on %s for %s (uid %ld): reboot", path, user, (long)pw->pw_uid);
	for (;;) {
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
			if (errno != EINTR && errno != ECONNABORTED)
				log_warn("accept");
			continue;
		}
		ch = serve(fd, pw->pw_uid);
		close(fd);
		if (ch)
			pause();	/* init stops us */
	}
}
