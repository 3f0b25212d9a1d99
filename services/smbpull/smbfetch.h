/*
 * smbfetch.h: reads one file from an SMB share into memory with
 * libsmbclient (Kerberos from a credential cache, or a user name and a
 * password).  Nothing is written to disk.
 */
#ifndef KG_SMBPULL_SMBFETCH_H
#define KG_SMBPULL_SMBFETCH_H

#include <stddef.h>
#include <stdint.h>

struct smbfetch_auth {
	int		 kerberos;	/**< 1: the credential cache (KRB5CCNAME) */
	char		 domain[64];	/**< password auth: DOMAIN of DOMAIN\user */
	char		 user[128];
	char		 password[256];	/**< wiped by smbfetch_auth_wipe() */
	int		 debug;		/**< libsmbclient's debug level to stderr, 0 none */
};

#define SMBFETCH_ABSENT	1	/**< the file is not there: nothing to do */

/**
 * \brief Reads \p url (smb://server/share/path) into a malloc'd buffer of
 *        at most \p max bytes.
 * \return 0 (data, len set), SMBFETCH_ABSENT, or -1 with \p err in words an
 *         admin can act on (server unreachable, access denied, too large).
 */
int smbfetch(const char *url, const struct smbfetch_auth *auth, size_t max,
    uint8_t **data, size_t *len, char *err, size_t errlen);

/** \brief Wipes the password. */
void smbfetch_auth_wipe(struct smbfetch_auth *auth);

#endif
