/*
 * Identity grants: header secrets in the keyholder, derived keys out.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grant.h"
#include "kcrypto.h"
#include "sign.h"
#include "util.h"

_Static_assert(CONF_MAX_HEADER_POOLS <= KH_MAX_GRANTS,
    "every header pool of a vhost must fit in one answer");

/* One byte more than we keep: a longer file would be a different key to
 * a back-end that reads all of it. */
int
grant_read_secret(const char *path, struct grant_secret *s, char *err,
    size_t errsz)
{
	uint8_t probe[sizeof(s->b) + 1];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errsz, "header_secret_file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	n = read(fd, probe, sizeof(probe));
	close(fd);
	if (n < 32 || n > (ssize_t)sizeof(s->b)) {
		kg_zero(probe, sizeof(probe));
		snprintf(err, errsz, "header_secret_file %s holds %zd bytes; "
		    "it needs 32 to %zu random bytes", path, n < 0 ? 0 : n,
		    sizeof(s->b));
		return -1;
	}
	memcpy(s->b, probe, (size_t)n);
	s->len = (size_t)n;
	kg_zero(probe, sizeof(probe));
	return 0;
}

void
grant_vhost_name(const char *name, char *out, size_t outsz)
{
	size_t n;

	for (n = 0; name[n] != '\0' && n + 1 < outsz; n++)
		out[n] = (char)tolower((unsigned char)name[n]);
	out[n] = '\0';
}

/* Has this pool had its grant already?  (Several routes, one pool.) */
static int
granted(const struct kh_grant *out, int n, uint32_t pool)
{
	int i;

	for (i = 0; i < n; i++)
		if (out[i].pool == pool)
			return 1;
	return 0;
}

int
grant_issue(const struct grant_secrets *gs, const struct conf *c,
    uint32_t vhost, const char *user, uint64_t expiry, struct kh_grant *out)
{
	const struct conf_vhost *v = &c->vhosts[vhost];
	char name[CONF_MAX_NAME], id[2 * SIGN_GRANT_ID_LEN + 1];
	size_t i;
	int n = 0;
	uint32_t p;

	grant_vhost_name(v->name, name, sizeof(name));
	for (i = 0; i < v->nroutes; i++) {
		if (v->routes[i].auth != CONF_AUTH_NEGOTIATE ||
		    v->routes[i].pool < 0 ||
		    (size_t)v->routes[i].pool >= gs->n)
			continue;
		p = (uint32_t)v->routes[i].pool;
		if (gs->s[p].len == 0 || granted(out, n, p))
			continue;
		if (n == KH_MAX_GRANTS)
			break;	/* conf_load() allows no more */
		out[n].pool = p;
		if (kc_random(out[n].id, sizeof(out[n].id)) != KC_OK)
			return -1;
		sign_hex(out[n].id, sizeof(out[n].id), id);
		if (sign_grant_key(gs->s[p].b, gs->s[p].len, user, name, id,
		    expiry, out[n].key) != 0)
			continue;	/* a name the signature cannot carry */
		n++;
	}
	return n;
}
