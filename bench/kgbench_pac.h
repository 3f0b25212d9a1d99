/*
 * kgbench_pac.h: tickets with a large PAC, for kgbench.
 *
 * tests/unit/krbmint.c mints tickets without authorization data.  A user in
 * many groups carries a PAC of tens of kilobytes in every ticket, which
 * costs the acceptor decryption, decoding and a PAC signature check.  This
 * mints a ticket with krbmint, then re-encrypts it with a PAC of about
 * `logon_info_len` bytes: a LOGON_INFO buffer of that size (zeros: no
 * acceptor here decodes it), the CLIENT_INFO matching the client, and the
 * server and KDC signatures (both keyed with the service key; acceptors
 * check only the server one).
 */
#ifndef KG_BENCH_PAC_H
#define KG_BENCH_PAC_H

#include <stddef.h>

#include "krbmint.h"

/**
 * Mints a ticket as mint_ticket() does, with a PAC in an AD-IF-RELEVANT
 * element of its authorization data.
 *
 * \param spec		what mint_ticket() takes; spec->client names the user
 * \param logon_info_len size of the PAC's LOGON_INFO buffer, bytes
 * \param creds		receives the ticket (krb5_free_cred_contents())
 * \return 0, or a krb5 error code.
 */
int bench_mint_ticket_pac(const struct mint_ticket_spec *spec, size_t logon_info_len,
    krb5_creds *creds);

#endif /* KG_BENCH_PAC_H */
