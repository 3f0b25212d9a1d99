/*
 * credctl.h: credential rotation inside the running keyholder
 * (docs/credentials.md).
 *
 * The keyholder's credentials live in a credstore (credstore.h); this
 * module keeps that store, the acceptor's keys and the sealed store on disk
 * in step, and answers the control frames (ctlproto.h) the parent forwards
 * from `kerbgatectl credentials ...`:
 *
 *   stage     derive keys from a password (credkeys.h) or take keys; they
 *             serve at once, next to the live ones
 *   verify    on the verifier thread: an AS exchange as the account with
 *             the staged keys, then a ticket for every served SPN, each
 *             decrypted with them (names an SPN missing or registered to
 *             another account, a wrong password, salt or kvno)
 *   activate  a verified kvno becomes the one kcd uses; the old one is
 *             retained for the retention window, then retired
 *   retire    drop a kvno that is not active
 *   list      principals, kvnos, enctypes, states, times; never key bytes
 *
 * and the same two phases for the other secrets the keyholder holds, the
 * CTL_MSG_SECRET_* frames (secretctl.h), sealed in the same store.
 *
 * The keyholder cannot open files once sandboxed: it reads the device key
 * and the store at start (as root), and afterwards hands every new sealed
 * image to the parent in its answer, which writes it (sealedstore.h).
 * The parent never sees a key: it gets ciphertext only.
 */
#ifndef KG_CREDCTL_H
#define KG_CREDCTL_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

struct kg_acceptor;
struct kcd;
struct credctl;
struct secretctl;

/**
 * \brief          Load the credentials (as root, before the sandbox) and
 *                 start the verifier thread.
 *
 *                 With credentials.store set and the file present, the
 *                 keys come from it (the keytab is not read); without the
 *                 file, the keytab is read and imported: its highest kvno
 *                 active, the others retained, and the store written.
 *                 Without credentials.store, the keytab is read as before
 *                 and changes live in memory only.  Without a keytab and
 *                 with no credential in the store, it starts with none (the
 *                 realm is kcd.principal's) and takes that account's first
 *                 credential from a stage request.  The other secrets the
 *                 store lacks are imported then (secretctl_import()), and
 *                 the store written when anything was imported.
 *
 * \param fd       The keyholder's end of its control socketpair with the
 *                 parent, or -1 (no control: no rotation).
 *
 * \return         The module, or NULL with the reason in \p err.
 */
struct credctl *credctl_new(const struct conf *c, struct kg_acceptor *acc,
    const char *const *spns, size_t nspns, int fd, char *err, size_t errlen);

/** \brief The active kvno (for kcd's AS exchange), or 0 for none. */
int credctl_active_kvno(const struct credctl *cc);

/**
 * \brief          The other secrets (header secrets, cookie key, TLS keys),
 *                 loaded from the store with the ASA keys or imported at
 *                 start (secretctl.h); changed by the CTL_MSG_SECRET_*
 *                 frames this module answers.
 */
struct secretctl *credctl_secrets(const struct credctl *cc);

/** \brief Tell it the kcd module, so that activate switches kcd's keys. */
void credctl_set_kcd(struct credctl *cc, struct kcd *kcd);

/**
 * \brief          The descriptors to poll for input: the parent's socket
 *                 and the verifier's answers (-1 when absent).
 */
void credctl_fds(const struct credctl *cc, int *parent_fd, int *verify_fd);

/**
 * \brief          The parent's socket is readable: answer its frames.  A
 *                 frame that does not decode is answered with a refusal
 *                 (the parent checked it already: it is logged).
 *
 * \return         0, or -1 when the parent closed the socket (stop polling
 *                 it).
 */
int credctl_parent_readable(struct credctl *cc);

/** \brief The verifier finished: mark the result and answer the parent. */
void credctl_verify_readable(struct credctl *cc);

/** \brief Once a second: retire kvnos past the retention window. */
void credctl_tick(struct credctl *cc);

/** \brief Stop the verifier, wipe and free everything (NULL is fine). */
void credctl_free(struct credctl *cc);

#endif /* KG_CREDCTL_H */
