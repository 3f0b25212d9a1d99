/*
 * keytab.h: reads a keytab file an admin uploads on the Credentials page
 * (MIT/Heimdal format, version 0x502: ktpass and ktutil write it) into the
 * body of PUT /api/v1/credentials/staged: the ASA account, the highest kvno
 * it holds, and that kvno's aes256, aes128 and rc4 keys.  The account is
 * the entry whose name is one component ending in '$' (the sAMAccountName),
 * else the first entry's principal.  Every length is checked against the
 * file's; tests/fuzz/fuzz_webparse.c runs it on arbitrary bytes.
 */
#ifndef KG_MGMTD_KEYTAB_H
#define KG_MGMTD_KEYTAB_H

#include <stddef.h>
#include <stdint.h>

#define KEYTAB_MAX_BYTES	65536

/**
 * \brief Turns a keytab into the stage request's JSON body.
 * \param json  malloc'd, holds key bytes in hex: free with kg_freezero()
 * \return 0, or -1 with \p err (never a key byte) saying what is wrong.
 */
int keytab_to_stage_json(const uint8_t *buf, size_t len, char **json, size_t *jlen,
    char *err, size_t errlen);

#endif
