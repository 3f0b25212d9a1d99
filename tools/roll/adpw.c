/*
 * adpw.c: AD's current kvno, and setting the ASA account's password.
 */
#include <stdio.h>
#include <string.h>

#include <krb5.h>
#include <krb5_asn1.h>

#include "adpw.h"
#include "util.h"

static int
krberr(krb5_context ctx, krb5_error_code ret, char *err, size_t errlen, const char *what)
{
	const char *m = krb5_get_error_message(ctx, ret);

	kg_seterr(err, errlen, "%s: %s", what, m);
	krb5_free_error_message(ctx, m);
	return -1;
}

int
ad_current_kvno(krb5_context ctx, krb5_ccache cc, const char *spn, uint32_t *kvno,
    char *err, size_t errlen)
{
	krb5_creds in, *out = NULL;
	krb5_kdc_flags flags;
	krb5_error_code ret;
	Ticket t;
	size_t sz;
	int rc = -1;

	memset(&in, 0, sizeof(in));
	memset(&flags, 0, sizeof(flags));
	if ((ret = krb5_cc_get_principal(ctx, cc, &in.client)) != 0)
		return krberr(ctx, ret, err, errlen, "no Kerberos credentials (kinit as "
		    "an admin first)");
	if ((ret = krb5_parse_name(ctx, spn, &in.server)) != 0) {
		krberr(ctx, ret, err, errlen, "bad SPN");
		goto out;
	}
	/* Straight to the KDC: a ticket from the cache could predate a change. */
	ret = krb5_get_kdc_cred(ctx, cc, flags, NULL, NULL, &in, &out);
	if (ret != 0) {
		krberr(ctx, ret, err, errlen, "cannot get a ticket for the served SPN");
		goto out;
	}
	if (decode_Ticket(out->ticket.data, out->ticket.length, &t, &sz) != 0) {
		kg_seterr(err, errlen, "the KDC's ticket for %s does not decode", spn);
		goto out;
	}
	if (t.enc_part.kvno == NULL)
		kg_seterr(err, errlen, "the KDC's ticket for %s carries no kvno", spn);
	else {
		*kvno = (uint32_t)*t.enc_part.kvno;
		rc = 0;
	}
	free_Ticket(&t);
out:
	if (out != NULL)
		krb5_free_creds(ctx, out);
	krb5_free_cred_contents(ctx, &in);
	return rc;
}

int
ad_set_password(krb5_context ctx, krb5_ccache cc, const char *account,
    const char *password, char *err, size_t errlen)
{
	krb5_data code_str, str;
	krb5_principal target;
	krb5_error_code ret;
	int result = 0, rc = -1;

	if ((ret = krb5_parse_name(ctx, account, &target)) != 0)
		return krberr(ctx, ret, err, errlen, "bad account name");
	krb5_data_zero(&code_str);
	krb5_data_zero(&str);
	ret = krb5_set_password_using_ccache(ctx, cc, password, target, &result,
	    &code_str, &str);
	if (ret != 0)
		krberr(ctx, ret, err, errlen, "cannot reach AD's password service (kpasswd)");
	else if (result != 0)
		kg_seterr(err, errlen, "AD refused the new password: %.*s%s%.*s",
		    (int)code_str.length, (const char *)code_str.data,
		    str.length ? ": " : "", (int)str.length, (const char *)str.data);
	else
		rc = 0;
	krb5_data_free(&code_str);
	krb5_data_free(&str);
	krb5_free_principal(ctx, target);
	return rc;
}
