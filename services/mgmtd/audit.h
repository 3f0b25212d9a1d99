/*
 * audit.h: the audit log of management changes: one line each, who (the
 * client certificate's subject and fingerprint), what, which kvno, and the
 * result.  Appended and synced before the answer goes out; never a secret.
 */
#ifndef KG_MGMTD_AUDIT_H
#define KG_MGMTD_AUDIT_H

#include <stdint.h>

#include "api.h"

/** \brief Opens (creates 0600) the audit log for appending; -1 on error. */
int audit_open(const char *path, char *err, size_t errlen);

/**
 * \brief Appends one line:
 *   2026-12-02T05:01:02Z who="CN=roll,O=Contoso" sha256=ab12... action=activate kvno=5 result="ok: ..."
 * Quotes and control characters in the fields are replaced, so a line is
 * one line.  Also logged to syslog.
 */
void audit_write(int fd, const struct api_client *who, const char *action,
    uint32_t kvno, const char *result);

#endif
