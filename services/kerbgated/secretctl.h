/*
 * secretctl.h: the keyholder's other secrets in use (docs/credentials.md,
 * "Other secrets"): the pools' header secrets, the session cookie key and
 * the VIP TLS keys, kept in a secretstore (secretstore.h) that credctl.h
 * seals with the ASA keys, and their two-phase replacement:
 *
 *   stage     pool: the admin's bytes (the back-ends need the same ones);
 *             cookie: 32 random bytes made here; tls: a key and its chain
 *   verify    what can be proven here: sizes, an entropy estimate of at
 *             least SECRET_MIN_BITS; for tls, that the key is the
 *             certificate's, the chain verifies and names the vhost
 *   activate  new logins get grants under the new pool secret, new
 *             cookies are made with the new key; the old one is retained
 *             for the retention window (an old cookie key still opens
 *             cookies issued before; see docs/backend-verification.md for
 *             the back-ends during a pool secret's change)
 *   retire    drop a version that is not active
 *
 * Answers name kinds, names, versions, states and times: never a byte of a
 * value.
 */
#ifndef KG_SECRETCTL_H
#define KG_SECRETCTL_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "ctlproto.h"
#include "grant.h"
#include "sealedstore.h"
#include "secretstore.h"

struct secretctl;

/**
 * \brief          An empty set for configuration c; the retention window
 *                 is the longest cookie (and so grant) lifetime of its
 *                 vhosts plus the clock skew.
 *
 * \return         The module, or NULL (out of memory).
 */
struct secretctl *secretctl_new(const struct conf *c);

/** \brief Wipe and free (NULL is fine). */
void secretctl_free(struct secretctl *sc);

/**
 * \brief          The secrets of an opened sealed store (records 3 to 5).
 *
 * \return         0, or -1 with the reason in \p err.
 */
int secretctl_load(struct secretctl *sc, const uint8_t *plain, size_t len,
    char *err, size_t errlen);

/**
 * \brief          What the store does not hold yet, at start (as root):
 *                 each header-mode pool without an active secret gets its
 *                 header_secret_file's bytes, and without an active cookie
 *                 key one is made.  A file that differs from the active
 *                 secret is named in the log (the store wins: the file is
 *                 an import format; stage it to change the secret).
 *
 * \param changed  Set when something was added (the store is to be
 *                 written).
 *
 * \return         0, or -1 with the reason in \p err.
 */
int secretctl_import(struct secretctl *sc, uint64_t now, int *changed,
    char *err, size_t errlen);

/** \brief The records to seal (appended to out).  0, or -1. */
int secretctl_encode(const struct secretctl *sc, struct sealed_buf *out);

/**
 * \brief          Answer a CTL_MSG_SECRET_* request (decoded already).
 *
 * \param changed  Set when the store changed (to be sealed and written).
 * \param text     The answer's text, for the admin; never a secret.
 *
 * \return         The answer's status.
 */
enum ctl_status secretctl_request(struct secretctl *sc, const struct ctl_req *r,
    uint64_t now, int *changed, char *text, size_t textlen);

/** \brief Drop retained versions past the window; how many went. */
size_t secretctl_tick(struct secretctl *sc, uint64_t now);

/**
 * \brief          The secrets as a JSON array (docs/api.md): kind, name,
 *                 version, state, times, size; never the value.
 *
 * \return         A new jansson array (json_t *), or NULL.
 */
void *secretctl_list_json(const struct secretctl *sc);

/** \brief The active header secrets, by conf.pools index (grant_issue()). */
const struct grant_secrets *secretctl_grants(const struct secretctl *sc);

/**
 * \brief          The cookie keys: the active one first (it issues), then
 *                 the retained ones (they still open cookies issued before
 *                 the change).
 *
 * \return         How many were put in keys (at most max).
 */
size_t secretctl_cookie_keys(const struct secretctl *sc, const uint8_t **keys,
    size_t max);

/**
 * \brief          A vhost's active TLS key and chain from the store.
 *
 * \return         The entry, or NULL (the configuration's files serve).
 */
const struct secret_entry *secretctl_tls(const struct secretctl *sc,
    const char *vhost);

#endif /* KG_SECRETCTL_H */
