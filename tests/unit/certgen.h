/*
 * certgen: test fixture that makes X.509 certificates with mbedTLS's
 * x509write API (ECDSA P-256 keys: fast), so the TLS tests need neither
 * the openssl tool nor files checked into the tree.
 */
#ifndef KERBGATE_TEST_CERTGEN_H
#define KERBGATE_TEST_CERTGEN_H

#include <stdbool.h>
#include <stddef.h>

#include <mbedtls/md.h>
#include <mbedtls/pk.h>

#define CERTGEN_DER_MAX 2048

struct certgen_cert {
	mbedtls_pk_context key;
	char subject[160];                 /* "CN=..." */
	unsigned char der[CERTGEN_DER_MAX];
	size_t der_len;
};

/* What to make; fields left zero take the defaults noted. */
struct certgen_spec {
	const char *cn;                    /* required */
	const char *dns_name;              /* subjectAltName dNSName, or NULL */
	const struct certgen_cert *issuer; /* NULL: self-signed */
	bool is_ca;
	mbedtls_md_type_t md;              /* default SHA-256 */
	const char *not_before;            /* "YYYYMMDDhhmmss", default 2020 */
	const char *not_after;             /* default 2099 */
};

/**
 * \brief   Make a fresh P-256 key and a certificate for it.
 * \return  0, or an mbedTLS error code
 */
int certgen_make(struct certgen_cert *out, const struct certgen_spec *spec);

/**
 * \brief   Write the certificate (PEM), followed by chain's if chain is not
 *          NULL, to cert_path, and the private key (PEM, mode 0600) to
 *          key_path if it is not NULL.
 * \return  0, or -1 (errno set)
 */
int certgen_save(const struct certgen_cert *c, const struct certgen_cert *chain,
    const char *cert_path, const char *key_path);

/** \brief Free a certificate's key. */
void certgen_free(struct certgen_cert *c);

#endif
