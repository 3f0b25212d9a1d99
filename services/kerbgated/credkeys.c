/*
 * credkeys.c: AD's salt rules and string-to-key (credkeys.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <krb5.h>

#include "credkeys.h"
#include "sealedstore.h"
#include "util.h"

/* Appends src[0..n) to out at *off, mapped by fn (NULL: as is). */
static int
append(char *out, size_t outlen, size_t *off, const char *src, size_t n,
    int (*fn)(int))
{
	size_t i;

	if (*off + n >= outlen)
		return -1;
	for (i = 0; i < n; i++)
		out[(*off)++] = fn != NULL ? (char)fn((unsigned char)src[i]) : src[i];
	out[*off] = '\0';
	return 0;
}

int
cred_ad_salt(const char *principal, char *out, size_t outlen, char *err,
    size_t errlen)
{
	const char *at, *name;
	size_t namelen, realmlen, off = 0;
	int computer;

	if (principal == NULL || out == NULL || outlen == 0)
		return kg_seterr(err, errlen, "invalid argument");
	if ((at = strrchr(principal, '@')) == NULL || at[1] == '\0')
		return kg_seterr(err, errlen, "principal \"%s\" has no realm: write it "
		    "as ACCOUNT@REALM (e.g. EXCHASA$@CORP.CONTOSO.COM)", principal);
	name = principal;
	namelen = (size_t)(at - principal);
	realmlen = strlen(at + 1);
	if (namelen == 0)
		return kg_seterr(err, errlen, "principal \"%s\" has no account name",
		    principal);
	if (memchr(name, '/', namelen) != NULL)
		return kg_seterr(err, errlen, "principal \"%s\" is a service name: give "
		    "the account that holds it (its sAMAccountName, e.g. EXCHASA$@%s)",
		    principal, at + 1);
	computer = name[namelen - 1] == '$';
	if (computer && namelen == 1)
		return kg_seterr(err, errlen, "principal \"%s\" has no account name",
		    principal);
	if (append(out, outlen, &off, at + 1, realmlen, toupper) != 0)
		goto toolong;
	if (!computer) {
		if (append(out, outlen, &off, name, namelen, NULL) != 0)
			goto toolong;
		return 0;
	}
	if (append(out, outlen, &off, "host", 4, NULL) != 0 ||
	    append(out, outlen, &off, name, namelen - 1, tolower) != 0 ||
	    append(out, outlen, &off, ".", 1, NULL) != 0 ||
	    append(out, outlen, &off, at + 1, realmlen, tolower) != 0)
		goto toolong;
	return 0;
toolong:
	out[0] = '\0';
	return kg_seterr(err, errlen, "principal \"%s\" is too long", principal);
}

int
cred_string_to_key(krb5_context ctx, int32_t enctype, const char *password,
    size_t pwlen, const char *salt, unsigned iterations, struct cred_key *out,
    char *err, size_t errlen)
{
	krb5_data pw, params;
	krb5_salt s;
	krb5_keyblock kb;
	krb5_error_code ret;
	uint8_t iter[4];
	char *copy;
	const char *msg;

	memset(out, 0, sizeof(*out));
	if (enctype != CRED_ETYPE_AES256 && enctype != CRED_ETYPE_AES128 &&
	    enctype != CRED_ETYPE_RC4)
		return kg_seterr(err, errlen, "enctype %d is not one AD uses "
		    "(18, 17 or 23)", (int)enctype);
	if (iterations == 0)
		iterations = CRED_AD_ITERATIONS;
	iter[0] = (uint8_t)(iterations >> 24);
	iter[1] = (uint8_t)(iterations >> 16);
	iter[2] = (uint8_t)(iterations >> 8);
	iter[3] = (uint8_t)iterations;
	/* NUL-terminated: Heimdal's RC4 string-to-key reads up to a NUL
	 * (wind_utf8ucs2_length), whatever the length says. */
	if ((copy = sealed_alloc(pwlen + 1)) == NULL)
		return kg_seterr(err, errlen, "out of memory");
	memcpy(copy, password, pwlen);
	pw.data = copy;
	pw.length = pwlen;
	s.salttype = KRB5_PW_SALT;
	s.saltvalue.data = (void *)(uintptr_t)(salt != NULL ? salt : "");
	s.saltvalue.length = salt != NULL ? strlen(salt) : 0;
	params.data = iter;
	params.length = sizeof(iter);
	memset(&kb, 0, sizeof(kb));
	ret = krb5_string_to_key_data_salt_opaque(ctx, enctype, pw, s,
	    enctype == CRED_ETYPE_RC4 ? (krb5_data){ 0, NULL } : params, &kb);
	sealed_free(copy, pwlen + 1);
	if (ret != 0) {
		msg = krb5_get_error_message(ctx, ret);
		kg_seterr(err, errlen, "cannot derive a key for enctype %d: %s",
		    (int)enctype, msg);
		krb5_free_error_message(ctx, msg);
		return -1;
	}
	if (kb.keyvalue.length > sizeof(out->bytes)) {
		krb5_free_keyblock_contents(ctx, &kb);
		return kg_seterr(err, errlen, "key for enctype %d too long", (int)enctype);
	}
	out->enctype = enctype;
	out->len = kb.keyvalue.length;
	memcpy(out->bytes, kb.keyvalue.data, out->len);
	krb5_free_keyblock_contents(ctx, &kb);	/* zeroizes */
	return 0;
}

int
cred_keys_from_password(krb5_context ctx, const char *principal,
    const char *password, size_t pwlen, struct cred_key out[3], char *err,
    size_t errlen)
{
	static const int32_t etypes[3] = { CRED_ETYPE_AES256, CRED_ETYPE_AES128,
	    CRED_ETYPE_RC4 };
	char salt[CRED_SALT_MAX];
	size_t i;

	if (password == NULL || pwlen == 0)
		return kg_seterr(err, errlen, "empty password");
	if (cred_ad_salt(principal, salt, sizeof(salt), err, errlen) != 0)
		return -1;
	for (i = 0; i < 3; i++)
		if (cred_string_to_key(ctx, etypes[i], password, pwlen, salt, 0,
		    &out[i], err, errlen) != 0) {
			kg_zero(out, 3 * sizeof(*out));
			return -1;
		}
	return 3;
}
