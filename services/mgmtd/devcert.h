/*
 * devcert.h: the web listener's certificate.  At the first start there is
 * none: mgmtd makes a self-signed one (ECDSA P-256, ten years, the host
 * name as CN and DNS name) and logs its SHA-256 fingerprint, which the
 * admin compares with what the browser shows.  The admin may upload their
 * own certificate (chain) and key: both are parsed, the key must match the
 * certificate, and they replace the files atomically (0600).
 */
#ifndef KG_MGMTD_DEVCERT_H
#define KG_MGMTD_DEVCERT_H

#include <stddef.h>
#include <sys/types.h>

#define DEVCERT_FP_LEN	95	/**< "AB:CD:..." for SHA-256, with the NUL: 96 */

/** What the page shows of the certificate in use. */
struct devcert_info {
	char	subject[256];
	char	issuer[256];
	char	not_after[32];			/**< "2036-12-02T11:00:00Z" */
	char	fingerprint[DEVCERT_FP_LEN + 1];	/**< SHA-256 of the DER */
	int	self_signed;
};

/**
 * \brief Makes a self-signed certificate and key at \p cert / \p key unless
 *        the certificate exists; files 0600, owned by \p uid / \p gid
 *        unless -1.
 * \return 1 when made, 0 when it existed, -1 with \p err.
 */
int devcert_ensure(const char *cert, const char *key, uid_t uid, gid_t gid,
    char *err, size_t errlen);

/** \brief Reads \p cert's first certificate into \p info; 0 or -1 with \p err. */
int devcert_info(const char *cert, struct devcert_info *info, char *err, size_t errlen);

/**
 * \brief Checks an uploaded PEM certificate (chain, leaf first) and PEM key
 *        (unencrypted) and installs them at \p cert / \p key.  Refused:
 *        not PEM, an expired or not yet valid leaf, a key that is not the
 *        leaf's.
 * \return 0, or -1 with \p err saying what is wrong; nothing is changed then.
 */
int devcert_install(const char *cert_pem, size_t cert_len, const char *key_pem,
    size_t key_len, const char *cert, const char *key, char *err, size_t errlen);

#endif
