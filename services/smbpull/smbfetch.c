/*
 * smbfetch.c: one file from an SMB share, with libsmbclient (smbfetch.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libsmbclient.h>

#include "smbfetch.h"
#include "util.h"

static void
auth_fn(SMBCCTX *ctx, const char *srv, const char *shr, char *wg, int wglen,
    char *un, int unlen, char *pw, int pwlen)
{
	const struct smbfetch_auth *a = smbc_getOptionUserData(ctx);

	(void)srv;
	(void)shr;
	if (a == NULL || a->kerberos)
		return;
	if (a->domain[0] != '\0')
		snprintf(wg, (size_t)wglen, "%s", a->domain);
	snprintf(un, (size_t)unlen, "%s", a->user);
	snprintf(pw, (size_t)pwlen, "%s", a->password);
}

/* With Kerberos, libsmbclient says EINVAL for a missing credential cache
 * and EACCES for an expired one or one the server refuses: both are about
 * the cache, which is what the admin has to look at. */
static const char *
why_kerberos(int e)
{
	switch (e) {
	case EACCES:
	case EPERM:
	case EINVAL:
		return "the server refused the Kerberos credentials: the credential "
		    "cache (KRB5CCNAME) has no valid ticket (expired, or none: see "
		    "klist; renew it with kinit -k -t KEYTAB), or its account may not "
		    "read the share, or the URL names the server by address (Kerberos "
		    "needs its DNS name)";
	}
	return NULL;
}

static const char *
why(const struct smbfetch_auth *a, int e)
{
	const char *k;

	if (a->kerberos && (k = why_kerberos(e)) != NULL)
		return k;
	switch (e) {
	case EACCES:
	case EPERM:
		return "access denied: check the account smbpull uses and the share's "
		    "and file's permissions";
	case ECONNREFUSED:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ETIMEDOUT:
		return "the server cannot be reached: check the URL's server name, "
		    "the network and that the SMB server runs";
	case ENODEV:
		return "no such share on the server: check the URL";
	case EINVAL:
		return "the URL is not valid (smb://server/share/path) or the server "
		    "refused the credentials";
	}
	return strerror(e);
}

/* A FILE: credential cache that is not there is said so before libsmbclient
 * turns it into "invalid argument". */
static int
check_ccache(char *err, size_t errlen)
{
	const char *cc = getenv("KRB5CCNAME"), *path;

	if (cc == NULL)
		return 0;
	if (strncmp(cc, "FILE:", 5) == 0)
		path = cc + 5;
	else if (strchr(cc, ':') == NULL)
		path = cc;
	else
		return 0;
	if (access(path, R_OK) < 0)
		return kg_seterr(err, errlen, "no Kerberos credential cache at %s (%s): "
		    "get one with kinit -k -t KEYTAB PRINCIPAL (KRB5CCNAME=%s)", path,
		    strerror(errno), cc);
	return 0;
}

int
smbfetch(const char *url, const struct smbfetch_auth *auth, size_t max,
    uint8_t **data, size_t *len, char *err, size_t errlen)
{
	SMBCCTX *ctx;
	SMBCFILE *f;
	uint8_t *buf;
	size_t n = 0;
	ssize_t r = 0;
	int rc = -1, e;

	*data = NULL;
	*len = 0;
	if (auth->kerberos && check_ccache(err, errlen) < 0)
		return -1;
	if ((ctx = smbc_new_context()) == NULL)
		return kg_seterr(err, errlen, "libsmbclient: cannot make a context");
	smbc_setOptionUserData(ctx, (void *)auth);
	smbc_setFunctionAuthDataWithContext(ctx, auth_fn);
	smbc_setOptionUseKerberos(ctx, auth->kerberos);
	smbc_setOptionFallbackAfterKerberos(ctx, !auth->kerberos);
	smbc_setOptionUseCCache(ctx, auth->kerberos);
	smbc_setOptionNoAutoAnonymousLogin(ctx, 1);
	smbc_setTimeout(ctx, 20000);
	if (auth->debug > 0) {
		smbc_setDebug(ctx, auth->debug);
		smbc_setOptionDebugToStderr(ctx, 1);
	}
	if (smbc_init_context(ctx) == NULL) {
		e = errno;
		smbc_free_context(ctx, 1);
		return kg_seterr(err, errlen, "libsmbclient: cannot start: %s", strerror(e));
	}
	if ((buf = malloc(max + 1)) == NULL) {
		smbc_free_context(ctx, 1);
		return kg_seterr(err, errlen, "out of memory");
	}
	if ((f = smbc_getFunctionOpen(ctx)(ctx, url, O_RDONLY, 0)) == NULL) {
		e = errno;
		if (e == ENOENT)
			rc = SMBFETCH_ABSENT;
		else
			kg_seterr(err, errlen, "cannot open %s: %s", url, why(auth, e));
		goto out;
	}
	while (n <= max && (r = smbc_getFunctionRead(ctx)(ctx, f, buf + n, max + 1 - n)) > 0)
		n += (size_t)r;
	e = errno;
	smbc_getFunctionClose(ctx)(ctx, f);
	if (n > max)
		kg_seterr(err, errlen, "%s is larger than %zu bytes: not a credential "
		    "package", url, max);
	else if (r < 0)
		kg_seterr(err, errlen, "reading %s failed: %s", url, why(auth, e));
	else
		rc = 0;
out:
	smbc_free_context(ctx, 1);
	if (rc == 0) {
		*data = buf;
		*len = n;
	} else
		free(buf);
	return rc;
}

void
smbfetch_auth_wipe(struct smbfetch_auth *auth)
{
	kg_zero(auth->password, sizeof(auth->password));
}
