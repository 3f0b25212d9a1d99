/*
 * The keyholder: the one process that holds the ASA account's keys.  It
 * reads the keytab into memory while still root, drops to its own user, and
 * then only answers relays' questions: "is this AP-REQ good for this virtual
 * host?" and, for pools in kcd mode, "a fresh AP-REQ for this user to this
 * back-end" and "is this the back-end's genuine AP-REP?" (khproto.h).
 *
 * Its only network traffic is kcd's (kcd.h): S4U exchanges with the KDCs,
 * on kcd's worker threads, started after the privilege drop from the keys
 * already in memory, so the keytab file is opened once, as root, and every
 * thread runs as the keyholder's user.  The IPC loop itself never waits for
 * a KDC.
 */
#ifndef KG_KEYHOLDER_H
#define KG_KEYHOLDER_H

#include <stddef.h>

#include "conf.h"

struct kg_replay;

struct keyholder_env {
	struct conf	*conf;
	int		 ctl_fd;	/**< from the parent: a respawned relay's
					     socket for slot n (kg_ipc_send_fd()),
					     or -1 for none */
	int		 cred_fd;	/**< credential control frames from the
					     parent (credctl.h), or -1 */
	const int	*relay_fds;	/**< one socketpair end per relay */
	size_t		 nrelays;
	const char	*user;		/**< drop to this user, or NULL */
	struct kg_replay *replay;	/**< the replay cache every generation
					     shares (replay_new_shared()), or
					     NULL for a private one */
	int		 after_crash;	/**< the previous keyholder died
					     unexpectedly: set the restart
					     floor (replay.h) */
	const struct sandbox_opts *sandbox;	/**< entered after set-up
						     (then user is its), or
						     NULL (sandbox.h) */
};

/**
 * Loads the keys, drops privileges, starts constrained delegation when
 * conf->kcd_enabled, and serves relays until every relay has closed its
 * socket and the parent has closed ctl_fd (it does when the generation
 * drains).  A relay that sends a malformed frame is dropped alone: its
 * socket is closed (so it exits and the parent respawns it), with it the
 * sessions, delegation requests and verification handles it created, and
 * the reason is logged; the other relays are served on.  Never returns;
 * exits non-zero when the keytab cannot be loaded (the message names the
 * file and what is wrong with it) or holds no key of conf->kcd_principal.
 */
void keyholder_main(struct keyholder_env *env) __attribute__((noreturn));

/** Drops root for user: groups, gid, uid; fatal if anything fails. */
void drop_privileges(const char *user);

#endif /* KG_KEYHOLDER_H */
