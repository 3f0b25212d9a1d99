/*
 * webpass.h: the web admin's password and the first start's setup code.
 *
 * There is no default password.  At the first start (no admin.hash in the
 * state folder) mgmtd makes a one-time setup code, shows it on the console
 * and in the log, and keeps only its argon2id hash (setup.hash, 0600); the
 * browser must give the code to set the admin password.  The password's
 * argon2id hash goes to admin.hash (0600, written to a temporary file,
 * synced and renamed), and setup.hash is removed.
 *
 * Hashes: argon2id, WEBPASS_T_COST passes over WEBPASS_M_COST_KIB, one lane,
 * a 16-byte random salt, in the PHC string form libargon2 writes.
 */
#ifndef KG_MGMTD_WEBPASS_H
#define KG_MGMTD_WEBPASS_H

#include <stddef.h>
#include <sys/types.h>

#define WEBPASS_T_COST		3
#define WEBPASS_M_COST_KIB	19456	/* 19 MiB: OWASP's argon2id minimum */
#define WEBPASS_HASH_MAX	160	/**< an encoded hash, with the NUL */
#define WEBPASS_MIN_LEN		10
#define WEBPASS_MAX_LEN		128
#define WEBPASS_CODE_LEN	12	/**< setup code characters, no dashes */

/** \brief Hashes \p pw (\p len bytes) into \p out (PHC string); 0 or -1. */
int webpass_hash(const char *pw, size_t len, char *out, size_t outlen);

/** \brief 1 when \p pw matches \p encoded, 0 when not (or \p encoded is bad). */
int webpass_verify(const char *encoded, const char *pw, size_t len);

/**
 * \brief Is \p pw good enough for the admin password?  0, or -1 with \p err
 *        saying what to change (length; not all one character class).
 */
int webpass_policy(const char *pw, size_t len, char *err, size_t errlen);

/**
 * \brief Makes a setup code: WEBPASS_CODE_LEN characters from an alphabet
 *        without look-alikes (no 0/O, 1/I/L), shown as XXXX-XXXX-XXXX.
 * \param out  at least WEBPASS_CODE_LEN + 3 bytes
 */
int webpass_make_code(char *out, size_t outlen);

/**
 * \brief The code as typed, normalised: dashes and spaces dropped, letters
 *        upper-cased; into \p out (WEBPASS_CODE_LEN + 1).  -1 when it cannot
 *        be a code (wrong length, other characters).
 */
int webpass_normalise_code(const char *in, size_t len, char *out, size_t outlen);

/** \brief Reads \p dir/\p name (a hash) into \p out; 0, or -1 when missing. */
int webpass_read(const char *dir, const char *name, char *out, size_t outlen);

/**
 * \brief Writes \p dir/\p name (0600, atomically: temporary file, fsync,
 *        rename); \p uid/\p gid own it unless -1.  0, or -1 with \p err.
 */
int webpass_write(const char *dir, const char *name, const char *text, uid_t uid,
    gid_t gid, char *err, size_t errlen);

/** \brief Removes \p dir/\p name; 0, or -1 (it is not there: also 0). */
int webpass_unlink(const char *dir, const char *name);

#endif
