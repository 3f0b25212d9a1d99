/*
 * pkgout.h: kerbgate-roll's side of the sealed credential package
 * (docs/package.md): the staged credential, sealed to one appliance's
 * package key and signed with the management plane's key, written to a
 * folder (the SMB share the appliances pull from).
 */
#ifndef KG_ROLL_PKGOUT_H
#define KG_ROLL_PKGOUT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/**
 * \brief Writes DIR/NAME.kgpkg: {"account", "kvno", "password"} sealed to
 *        the X25519 public key in \p recipient_file and signed with
 *        \p signer, valid from now for \p lifetime_s.  Written to a
 *        temporary name and renamed, so a reader never sees half a package.
 * \param path  filled with the file written.
 * \return 0, or -1 with \p err saying why.
 */
int pkgout_write(EVP_PKEY *signer, const char *recipient_file, const char *dir,
    const char *name, const char *account, uint32_t kvno, const char *password,
    long lifetime_s, char *path, size_t pathlen, char *err, size_t errlen);

#endif
