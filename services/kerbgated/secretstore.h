/*
 * secretstore.h: the keyholder's secrets other than the ASA keys, and their
 * lifecycle (docs/credentials.md, "Other secrets").
 *
 * Three kinds, each kept in the sealed store (sealedstore.h) as its own
 * record type and replaced through the same two phases as an ASA key:
 *
 *   pool    a header-mode pool's header secret (32 to 64 bytes), by pool
 *           name; SEALED_REC_POOL_SECRET.  The admin supplies it: the
 *           pool's back-ends must hold the same bytes.
 *   cookie  the session cookie key (32 bytes, made at random by the
 *           keyholder); SEALED_REC_COOKIE_KEY; one name, "".
 *   tls     a virtual host's TLS private key and its certificate chain
 *           (PEM), by vhost name; SEALED_REC_TLS_KEY.
 *
 * Each (kind, name) has versions 1, 2, ... in the states of credstore.h:
 * staged (added, not proven), verified (what can be proven was), active
 * (in use; at most one), retained (superseded, kept until superseded_at +
 * the retention window: an old cookie key still opens the cookies issued
 * before the change, an old pool secret names what the back-ends must
 * still accept).  Unlike an ASA key, a staged secret is not used: nothing
 * signed with it could be checked by anyone yet.
 *
 * The record, all integers big-endian:
 *   state 1 | version 4 | staged 8 | verified 8 | activated 8 |
 *   superseded 8 | name length 2 | name | key length 4 | value length 4 |
 *   value
 * where key length is 0 for pool and cookie, and for tls the length of the
 * private key's PEM at the start of value (the chain's PEM follows it).
 *
 * Values live in locked memory (sealed_alloc()) and are wiped when freed.
 */
#ifndef KG_SECRETSTORE_H
#define KG_SECRETSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "credstore.h"
#include "sealedstore.h"

#define SECRET_MAX_ENTRIES	64
#define SECRET_NAME_MAX		256
#define SECRET_POOL_MIN		32
#define SECRET_POOL_MAX		64
#define SECRET_COOKIE_LEN	32
#define SECRET_TLS_KEY_MAX	16384	/**< a private key's PEM */
#define SECRET_TLS_MAX		65536	/**< key and chain PEM together */
#define SECRET_MIN_BITS		128	/**< estimated entropy a verify needs */

enum secret_kind {
	SECRET_POOL = 1,
	SECRET_COOKIE,
	SECRET_TLS,
};

struct secret_entry {
	enum secret_kind kind;
	char		 name[SECRET_NAME_MAX];	/**< pool or vhost; "" for cookie */
	uint32_t	 ver;
	enum cred_state	 state;
	uint64_t	 staged_at, verified_at, activated_at, superseded_at;
	uint8_t		*val;		/**< locked memory (sealed_alloc()) */
	size_t		 len;
	size_t		 keylen;	/**< tls: the key's PEM, val[0..keylen) */
};

struct secretstore {
	struct secret_entry *e;		/**< SECRET_MAX_ENTRIES, locked memory */
	size_t		 n;
	unsigned	 retention_s;
};

/** \brief "pool", "cookie", "tls" (or "?"). */
const char *secret_kind_name(enum secret_kind k);

/** \brief The kind a name gives, or 0. */
enum secret_kind secret_kind_parse(const char *s);

/** \brief The record type of a kind (SEALED_REC_*). */
uint16_t secret_kind_record(enum secret_kind k);

/**
 * \brief          Whether a value has the size its kind needs: pool 32 to
 *                 64 bytes, cookie 32, tls a key of 1 to SECRET_TLS_KEY_MAX
 *                 bytes followed by a chain, at most SECRET_TLS_MAX in all.
 *
 * \return         0, or -1 with the reason in \p err.
 */
int secret_check_size(enum secret_kind k, size_t len, size_t keylen, char *err,
    size_t errlen);

/**
 * \brief          An estimate of the bits of entropy in a value: its byte
 *                 histogram's Shannon entropy times its length.  Crude (a
 *                 repeated random block scores high), but it refuses what
 *                 admins get wrong: a word, a short hex string, zeros.
 */
unsigned secret_entropy_bits(const uint8_t *p, size_t len);

/** \brief An empty store; NULL when out of memory. */
struct secretstore *secretstore_new(unsigned retention_s);

/** \brief Wipe and free (NULL is fine). */
void secretstore_free(struct secretstore *ss);

/** \brief The active version of (kind, name), or NULL. */
const struct secret_entry *secretstore_active(const struct secretstore *ss,
    enum secret_kind k, const char *name);

/** \brief Version ver of (kind, name), or NULL. */
const struct secret_entry *secretstore_find(const struct secretstore *ss,
    enum secret_kind k, const char *name, uint32_t ver);

/**
 * \brief          Stage a value (copied) as the next version of (kind,
 *                 name).  A version staged or verified already is
 *                 replaced (dropped): one change at a time.
 *
 * \param ver      Receives the new version.
 *
 * \return         0, or -1 with the reason in \p err (wrong size, full).
 */
int secretstore_stage(struct secretstore *ss, enum secret_kind k,
    const char *name, const uint8_t *val, size_t len, size_t keylen,
    uint64_t now, uint32_t *ver, char *err, size_t errlen);

/** \brief Mark a staged version verified.  0, or -1 (not staged). */
int secretstore_mark_verified(struct secretstore *ss, enum secret_kind k,
    const char *name, uint32_t ver, uint64_t now, char *err, size_t errlen);

/**
 * \brief          Activate a verified version; the active one becomes
 *                 retained (superseded now).  0, or -1 (not verified).
 */
int secretstore_activate(struct secretstore *ss, enum secret_kind k,
    const char *name, uint32_t ver, uint64_t now, char *err, size_t errlen);

/** \brief Drop a version that is not active.  0, or -1. */
int secretstore_retire(struct secretstore *ss, enum secret_kind k,
    const char *name, uint32_t ver, char *err, size_t errlen);

/** \brief Drop retained versions past the window; how many went. */
size_t secretstore_expire(struct secretstore *ss, uint64_t now);

/**
 * \brief          Put an entry in as it is (an import at first start, or a
 *                 store being read); its value is copied.  Refused: a
 *                 size its kind does not take, an unknown state, a second
 *                 active version or a version held twice, a full store.
 */
int secretstore_put(struct secretstore *ss, const struct secret_entry *e,
    char *err, size_t errlen);

/** \brief One record per entry, appended to out.  0, or -1. */
int secretstore_encode(const struct secretstore *ss, struct sealed_buf *out);

/**
 * \brief          Fill an empty store from opened records: those of types
 *                 3 to 5; the others are credstore.h's.  Every field is
 *                 checked.
 *
 * \return         0, or -1 with the reason in \p err (the store is emptied).
 */
int secretstore_decode(struct secretstore *ss, const uint8_t *plain,
    size_t len, char *err, size_t errlen);

#endif /* KG_SECRETSTORE_H */
