/*
 * session.h: the browser admin's sessions on the web listener.
 *
 * A session is a random 256-bit id (the cookie) and a random 256-bit CSRF
 * token (given to the page, sent back in X-CSRF-Token on every request that
 * changes something).  Both come from getrandom(); ids are compared in
 * constant time.  A session ends after idle_s without a request, after
 * max_s from its login whatever happens, at logout, or when the table is
 * full and a newer login needs its slot (the oldest goes).
 */
#ifndef KG_MGMTD_SESSION_H
#define KG_MGMTD_SESSION_H

#include <stddef.h>
#include <time.h>

#define SESSION_MAX		16
#define SESSION_ID_HEX		64	/**< hex digits of an id or a token */
#define SESSION_IDLE_DEFAULT	900	/**< 15 minutes */
#define SESSION_MAX_DEFAULT	28800	/**< 8 hours */

struct session {
	char	id[SESSION_ID_HEX + 1];		/**< "" when the slot is free */
	char	csrf[SESSION_ID_HEX + 1];
	time_t	created, last_seen;
};

struct session_table {
	struct session	s[SESSION_MAX];
	int		idle_s, max_s;
};

/** \brief Empties the table and sets its timeouts (0: the defaults). */
void session_init(struct session_table *t, int idle_s, int max_s);

/**
 * \brief Starts a session at \p now; the oldest one goes when the table is
 *        full.
 * \return the new session, or NULL when no randomness could be had.
 */
const struct session *session_create(struct session_table *t, time_t now);

/**
 * \brief The live session whose id is \p id (\p len bytes), touched (its
 *        idle time starts again); NULL when there is none, or it has timed
 *        out (it is then wiped).
 */
const struct session *session_find(struct session_table *t, const char *id,
    size_t len, time_t now);

/** \brief 1 when \p tok (\p len bytes) is \p s's CSRF token, else 0. */
int session_csrf_ok(const struct session *s, const char *tok, size_t len);

/** \brief Ends the session whose id is \p id, if any. */
void session_end(struct session_table *t, const char *id, size_t len);

/** \brief Ends every session (the password changed). */
void session_end_all(struct session_table *t);

/** \brief 1 when \p a and \p b (\p len bytes each) are equal; constant time. */
int session_equal(const char *a, const char *b, size_t len);

/** \brief Fills \p out with \p n random bytes as 2n hex digits and a NUL; 0 or -1. */
int session_random_hex(char *out, size_t n);

#endif
