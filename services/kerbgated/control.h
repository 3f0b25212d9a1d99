/*
 * control.h: the parent's control socket (docs/credentials.md).
 *
 * A unix stream socket (credentials.control_socket, e.g.
 * /run/kerbgate/control.sock; mode 0600 in a 0700 folder, and every client
 * must be uid 0 by SO_PEERCRED) takes one `kerbgatectl` request at a time:
 * a control frame (ctlproto.h), checked here, forwarded to the current
 * generation's keyholder over its credential socketpair, and answered with
 * the keyholder's answer.  When the keyholder's answer carries a new sealed
 * store, the parent writes it (sealed_write_atomic()) before it answers:
 * the parent holds no key and sees ciphertext only.
 */
#ifndef KG_CONTROL_H
#define KG_CONTROL_H

#include <poll.h>
#include <stddef.h>

struct control;

/**
 * \brief          Bind the control socket (a stale one is replaced; its
 *                 folder is made 0700 when missing).
 *
 * \param store    The sealed store's path, or "" (no store to write).
 * \param group    A group whose members (by their primary group, from
 *                 SO_PEERCRED) may use the socket besides root: kerbgate-
 *                 mgmtd's; or "" (root only).  Socket 0660, folder 0750,
 *                 both of that group.
 *
 * \return         The module, or NULL with the reason in \p err.
 */
struct control *control_new(const char *path, const char *store,
    const char *group, char *err, size_t errlen);

/**
 * \brief          The descriptors to poll: the listener, the client being
 *                 served, and kh_fd (the current keyholder's, or -1).
 *
 * \param pfd      Room for CONTROL_MAX_FDS entries.
 *
 * \return         How many were filled.
 */
#define CONTROL_MAX_FDS	3
size_t control_fill(struct control *c, int kh_fd, struct pollfd *pfd);

/**
 * \brief          Handle what poll() reported for the entries control_fill()
 *                 gave.
 *
 * \return         0, or -1 when kh_fd is closed or broken: the caller
 *                 closes it (a descriptor that stays readable at EOF would
 *                 keep poll() from ever waiting, and signals from arriving).
 */
int control_handle(struct control *c, int kh_fd, const struct pollfd *pfd,
    size_t n);

/**
 * \brief          The keyholder's socket went away (reload, crash): a
 *                 request waiting for it is answered with what to check.
 */
void control_keyholder_gone(struct control *c);

/** \brief Close and unlink the socket (NULL is fine). */
void control_free(struct control *c);

/**
 * \brief          In a child just forked: close the control socket's
 *                 descriptors (the listener and a client's) without
 *                 removing the socket.  A child holding the listener could
 *                 accept kerbgatectl's or mgmtd's requests, passwords and
 *                 all, in the parent's place.
 */
void control_close_in_child(struct control *c);

#endif /* KG_CONTROL_H */
