/*
 * ctlclient.h: mgmtd's side of kerbgated's control socket (ctlproto.h).
 * One connection per request; the parent forwards it to the keyholder and
 * the keyholder's answer comes back.  Verification asks the KDC for a
 * ticket per served SPN, so an answer may take a while: the wait is bounded.
 */
#ifndef KG_MGMTD_CTLCLIENT_H
#define KG_MGMTD_CTLCLIENT_H

#include <stddef.h>

#include "ctlproto.h"

#define CTLCLIENT_TIMEOUT_MS	60000

/**
 * \brief Sends \p req to the control socket at \p path and waits for the
 *        answer (at most timeout_ms).
 *
 * \param res  filled on success; res->sealed is always NULL here (the
 *             parent never passes the store on).
 * \return 0, or -1 with \p err in words an admin can act on (socket
 *         missing: kerbgated not running; permission; timeout; a reply
 *         that is not a control answer).
 */
int ctlclient_call(const char *path, const struct ctl_req *req,
    struct ctl_result *res, int timeout_ms, char *err, size_t errlen);

#endif
