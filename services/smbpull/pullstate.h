/*
 * pullstate.h: what kerbgate-smbpull remembers between runs: the SHA-256 of
 * the last package the appliance took (active), so that the same package
 * is not sent again.  The file holds a hash, never a secret.
 */
#ifndef KG_SMBPULL_PULLSTATE_H
#define KG_SMBPULL_PULLSTATE_H

#include <stddef.h>
#include <stdint.h>

#define PULL_HASH_HEX	65	/* 64 hex digits and a NUL */

/** \brief SHA-256 of \p data, lower-case hex. */
void pull_hash(const uint8_t *data, size_t len, char out[PULL_HASH_HEX]);

/**
 * \brief Reads the hash last applied from \p path ("" when the file does
 *        not exist yet).
 * \return 0, or -1 with \p err (unreadable, or not a hash: remove it).
 */
int pull_state_load(const char *path, char out[PULL_HASH_HEX], char *err, size_t errlen);

/** \brief Writes \p hash to \p path atomically (temp, fsync, rename), 0600. */
int pull_state_save(const char *path, const char *hash, char *err, size_t errlen);

#endif
