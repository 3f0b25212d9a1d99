/*
 * The keyholder: the one process that holds the ASA account's keys.  It
 * reads the keytab into memory while still root, drops to its own user, and
 * then only answers relays' questions: "is this AP-REQ good for this virtual
 * host?"  It never touches the network.
 */
#ifndef KG_KEYHOLDER_H
#define KG_KEYHOLDER_H

#include <stddef.h>

#include "conf.h"

struct keyholder_env {
	struct conf	*conf;
	const int	*relay_fds;	/**< one socketpair end per relay */
	size_t		 nrelays;
	const char	*user;		/**< drop to this user, or NULL */
};

/**
 * Loads the keys, drops privileges and serves relays until every relay has
 * closed its socket.  Never returns; exits non-zero when the keytab cannot
 * be loaded (the message names the file and what is wrong with it).
 */
void keyholder_main(struct keyholder_env *env) __attribute__((noreturn));

/** Drops root for user: groups, gid, uid; fatal if anything fails. */
void drop_privileges(const char *user);

#endif /* KG_KEYHOLDER_H */
