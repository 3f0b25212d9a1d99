/*
 * privfile.h: a private file written whole or not at all.
 */
#ifndef KG_PRIVFILE_H
#define KG_PRIVFILE_H

#include <stddef.h>
#include <sys/types.h>

/**
 * \brief          Replaces \p path with \p len bytes of \p buf, mode 0600,
 *                 owned by \p uid:\p gid (-1: as it is made): through
 *                 `.NAME.tmp` beside it (not following a link there),
 *                 synced, renamed over \p path, and the folder synced, so
 *                 that a crash leaves the old file or the new one.
 *
 * \return         0, or -1 with the reason in \p err.
 */
int kg_write_private(const char *path, const void *buf, size_t len, uid_t uid, gid_t gid,
    char *err, size_t errlen);

#endif /* KG_PRIVFILE_H */
