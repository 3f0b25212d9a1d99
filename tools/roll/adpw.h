/*
 * adpw.h: what kerbgate-roll asks Active Directory, with the admin's
 * Kerberos credentials (their ccache: `kinit` as an account allowed to
 * reset the ASA account's password).
 */
#ifndef KG_ROLL_ADPW_H
#define KG_ROLL_ADPW_H

#include <stddef.h>
#include <stdint.h>

#include <krb5.h>

/**
 * \brief The kvno AD issues tickets at for \p spn now: read from a fresh
 *        service ticket (not cached: KRB5_GC_NO_STORE, and the ccache's
 *        copy is not consulted).
 * \return 0, or -1 with err in words.
 */
int ad_current_kvno(krb5_context ctx, krb5_ccache cc, const char *spn,
    uint32_t *kvno, char *err, size_t errlen);

/**
 * \brief Sets \p account's password in AD (kpasswd set-password, RFC 3244)
 *        as the ccache's principal.
 * \return 0, or -1 with err saying what AD answered (policy, access).
 */
int ad_set_password(krb5_context ctx, krb5_ccache cc, const char *account,
    const char *password, char *err, size_t errlen);

#endif
