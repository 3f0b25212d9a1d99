/*
 * credkeys.h: an Active Directory account's Kerberos keys from its password.
 *
 * The management plane hands the keyholder a new password (credential
 * rotation, docs/credentials.md); the keyholder derives the keys the KDC
 * will use itself, so that no keytab needs to travel.  AD salts the AES
 * keys (RFC 3962 string-to-key, 4096 PBKDF2 iterations) with a string it
 * builds from the account, not from the principal the client asks for:
 *
 *   computer account (sAMAccountName ends in '$', e.g. EXCHASA$):
 *     REALM + "host" + lower(name without '$') + "." + lower(DNS domain)
 *     EXCHASA$@CORP.CONTOSO.COM -> CORP.CONTOSO.COMhostexchasa.corp.contoso.com
 *   user account (e.g. svc-kerbgate):
 *     REALM + sAMAccountName, case as written
 *     svc-kerbgate@CORP.CONTOSO.COM -> CORP.CONTOSO.COMsvc-kerbgate
 *
 * REALM is the upper-case DNS domain.  RC4 (rc4-hmac, 23) is the NT hash:
 * no salt.  The derivation is Heimdal's (krb5_string_to_key_data_salt_opaque).
 */
#ifndef KG_CREDKEYS_H
#define KG_CREDKEYS_H

#include <stddef.h>
#include <stdint.h>

#include <krb5.h>

#define CRED_ETYPE_AES256	18
#define CRED_ETYPE_AES128	17
#define CRED_ETYPE_RC4		23
#define CRED_MAX_KEY		32
#define CRED_SALT_MAX		512
#define CRED_AD_ITERATIONS	4096	/**< AD's (and RFC 3962's default) */

/** One derived key. */
struct cred_key {
	int32_t	enctype;
	size_t	len;
	uint8_t	bytes[CRED_MAX_KEY];
};

/**
 * \brief          The salt AD uses for an account's AES keys.
 *
 * \param principal The account: "EXCHASA$@CORP.CONTOSO.COM" (computer) or
 *                 "svc-kerbgate@CORP.CONTOSO.COM" (user).  One component,
 *                 a realm that is a DNS domain.
 * \param out      Receives the salt, NUL-terminated.
 * \param outlen   Room in \p out.
 * \param err      Receives the reason on failure.
 *
 * \return         0, or -1 (no realm, several components, empty name,
 *                 too long).
 */
int cred_ad_salt(const char *principal, char *out, size_t outlen, char *err,
    size_t errlen);

/**
 * \brief          Derive one key from a password.
 *
 * \param ctx      A krb5 context.
 * \param enctype  CRED_ETYPE_AES256, _AES128 or _RC4.
 * \param password The password (UTF-8), \p pwlen bytes.
 * \param salt     The salt (ignored for RC4).
 * \param iterations PBKDF2 iterations for AES (0: CRED_AD_ITERATIONS).
 * \param out      Receives the key; wipe it with kg_zero() after use.
 *
 * \return         0, or -1 with the reason in \p err.
 */
int cred_string_to_key(krb5_context ctx, int32_t enctype, const char *password,
    size_t pwlen, const char *salt, unsigned iterations, struct cred_key *out,
    char *err, size_t errlen);

/**
 * \brief          The account's keys as AD derives them: AES256, AES128 and
 *                 RC4 (in that order), salted by cred_ad_salt().
 *
 * \param out      Room for 3 keys; wipe them after use.
 *
 * \return         The number of keys (3), or -1 with the reason in \p err.
 */
int cred_keys_from_password(krb5_context ctx, const char *principal,
    const char *password, size_t pwlen, struct cred_key out[3], char *err,
    size_t errlen);

#endif /* KG_CREDKEYS_H */
