/*
 * credstore.h: the keyholder's ASA credentials and their lifecycle
 * (docs/credentials.md).
 *
 * A credential is the account's keys at one kvno.  Several live at once:
 *
 *   staged    added (password or keytab), not proven against the KDC yet;
 *             its keys already serve (a client holding a ticket made after
 *             AD took the new password must not fail before activation)
 *   verified  the KDC issued a ticket for every served SPN that decrypts
 *             with these keys
 *   active    the kvno the keyholder itself uses (kcd's AS-REQ); at most one
 *   retained  a former active kvno, still accepted until superseded_at +
 *             the retention window (tickets issued before the change)
 *
 * Rules: a kvno lower than (or equal to) the active one cannot be staged;
 * only a verified credential can be activated; the active one cannot be
 * retired.  All of it is plain data: the keyholder applies each change to
 * the acceptor and writes the store (sealedstore.h) after it.
 *
 * The entries live in locked memory (sealed_alloc()) and are wiped when
 * freed or dropped.
 */
#ifndef KG_CREDSTORE_H
#define KG_CREDSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "credkeys.h"
#include "sealedstore.h"

#define CRED_MAX_ENTRIES	8
#define CRED_MAX_KEYS		4
#define CRED_PRINCIPAL_MAX	256

enum cred_state {
	CRED_STAGED = 1,
	CRED_VERIFIED,
	CRED_ACTIVE,
	CRED_RETAINED,
};

struct cred_entry {
	char		principal[CRED_PRINCIPAL_MAX];	/**< EXCHASA$@CORP.CONTOSO.COM */
	int		kvno;
	enum cred_state	state;
	uint64_t	staged_at, verified_at, activated_at, superseded_at;
	size_t		nkeys;
	struct cred_key	keys[CRED_MAX_KEYS];
};

struct credstore {
	struct cred_entry *e;		/**< CRED_MAX_ENTRIES, locked memory */
	size_t		 n;
	uint64_t	 serial;	/**< bumped by every change */
	unsigned	 retention_s;
};

/** \brief A state's name: "staged", "verified", "active", "retained". */
const char *cred_state_name(enum cred_state s);

/** \brief A Unix time as 2026-12-02T11:37:51Z for lists ("-" for 0). */
void cred_fmt_time(uint64_t t, char *buf, size_t len);

/**
 * \brief          An empty store.
 *
 * \param retention_s How long a superseded kvno stays (the maximum ticket
 *                 lifetime plus the clock skew; see docs/credentials.md).
 *
 * \return         The store, or NULL (out of memory).
 */
struct credstore *credstore_new(unsigned retention_s);

/** \brief Wipe and free (NULL is fine). */
void credstore_free(struct credstore *cs);

/** \brief The active credential, or NULL. */
const struct cred_entry *credstore_active(const struct credstore *cs);

/** \brief The credential at kvno, or NULL. */
const struct cred_entry *credstore_find(const struct credstore *cs, int kvno);

/**
 * \brief          Stage a credential (copies the keys).  Staging a kvno
 *                 that is staged already replaces it.
 *
 *                 Refused: a kvno at or below the active one, another
 *                 account than the active one, a kvno held verified or
 *                 retained, no keys, a full store.
 *
 * \return         0, or -1 with the reason in \p err.
 */
int credstore_stage(struct credstore *cs, const char *principal, int kvno,
    const struct cred_key *keys, size_t nkeys, uint64_t now, char *err,
    size_t errlen);

/** \brief Mark a staged kvno verified.  0, or -1 (not staged). */
int credstore_mark_verified(struct credstore *cs, int kvno, uint64_t now,
    char *err, size_t errlen);

/**
 * \brief          Activate a verified kvno; the active one becomes retained
 *                 (superseded now).  0, or -1 (not verified; the reason
 *                 says what to do).
 */
int credstore_activate(struct credstore *cs, int kvno, uint64_t now,
    char *err, size_t errlen);

/**
 * \brief          Drop a kvno that is not active (staged, verified or
 *                 retained).  0, or -1.
 */
int credstore_retire(struct credstore *cs, int kvno, char *err, size_t errlen);

/**
 * \brief          Drop retained kvnos whose retention window has passed.
 *
 * \param gone     Receives their kvnos (up to max).
 *
 * \return         How many were dropped.
 */
size_t credstore_expire(struct credstore *cs, uint64_t now, int *gone,
    size_t max);

/**
 * \brief          Put a credential in as it is (a keytab import at first
 *                 start, or a store being read): the highest kvno active,
 *                 the others retained from now.  Refused like stage, and a
 *                 second active one.
 */
int credstore_put(struct credstore *cs, const struct cred_entry *e, char *err,
    size_t errlen);

/**
 * \brief          The store's records (SEALED_REC_STORE_INFO, then one
 *                 SEALED_REC_ASA_KEY per credential) for sealed_seal().
 *
 * \return         0, or -1 (out of memory).
 */
int credstore_encode(const struct credstore *cs, uint64_t now,
    struct sealed_buf *out);

/**
 * \brief          Fill an empty store from opened records.  Records of
 *                 types 3 to 5 are skipped (secretstore.h reads them).
 *                 Every field is checked: lengths, states, enctypes and key
 *                 sizes, at most one active credential.
 *
 * \return         0, or -1 with the reason in \p err (the store is emptied).
 */
int credstore_decode(struct credstore *cs, const uint8_t *plain, size_t len,
    char *err, size_t errlen);

#endif /* KG_CREDSTORE_H */
