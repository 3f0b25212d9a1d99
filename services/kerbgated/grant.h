/*
 * Identity grants, the keyholder's side (header mode): the pools' header
 * secrets (kept by secretctl.h, imported from their files) stay in the
 * keyholder alone and never leave it; what a relay gets for a user who
 * authenticated is one grant per header-mode pool the vhost's negotiate
 * routes use, whose key is derived from the pool's active secret and bound
 * to user, vhost, a random id and an expiry
 * (sign_grant_key(), docs/backend-verification.md).
 */
#ifndef KG_GRANT_H
#define KG_GRANT_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "khproto.h"

/** The active header secrets, by conf.pools index (len 0: not header
 *  mode); secretctl.h keeps them in locked memory. */
struct grant_secrets {
	struct grant_secret {
		uint8_t	 b[64];
		size_t	 len;
	}		*s;
	size_t		 n;
};

/**
 * Reads one header_secret_file (32 to 64 bytes, as conf_load() checked by
 * size), the import format of a pool's secret (secretctl.h).  Run by the
 * keyholder before it drops privileges; the parent never reads these
 * files, so a relay forked from it has no copy.
 * \return 0, or -1 with err naming the file and what is wrong.
 */
int grant_read_secret(const char *path, struct grant_secret *s, char *err,
    size_t errsz);

/**
 * Issues the grants for user at vhost: one per header-mode pool a
 * negotiate route of the vhost leads to, each with a fresh random id,
 * all ending at expiry.
 * \return the number written to out (at most KH_MAX_GRANTS), or -1 when
 * one could not be made (no randomness).
 */
int grant_issue(const struct grant_secrets *gs, const struct conf *c,
    uint32_t vhost, const char *user, uint64_t expiry, struct kh_grant *out);

/** The vhost's name as signed: lower case, into out (NUL-terminated). */
void grant_vhost_name(const char *name, char *out, size_t outsz);

#endif /* KG_GRANT_H */
