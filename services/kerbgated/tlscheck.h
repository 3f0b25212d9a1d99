/*
 * tlscheck.h: whether a TLS private key and a certificate chain (PEM) go
 * together, before either serves: the key is the leaf's, each certificate
 * is signed by the next one of the chain and is valid now, and the leaf
 * names the virtual host.  The last certificate of the chain is trusted as
 * it is (the appliance holds no root store: clients check the roots).
 * OpenSSL's libcrypto, as the TLS key process (tlskey.h).
 */
#ifndef KG_TLSCHECK_H
#define KG_TLSCHECK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/**
 * \brief          Check a key and chain for a vhost.
 *
 * \param host     The vhost's name the leaf must carry, or NULL.
 * \param err      The reason in admin words (never key bytes).
 *
 * \return         0, or -1.
 */
int tls_pair_check(const uint8_t *key, size_t keylen, const uint8_t *chain,
    size_t chainlen, const char *host, time_t now, char *err, size_t errlen);

#endif /* KG_TLSCHECK_H */
