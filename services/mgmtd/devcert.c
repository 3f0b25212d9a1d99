/*
 * devcert.c: the web listener's certificate (devcert.h), with OpenSSL's
 * libcrypto (mgmtd links it already for credential packages).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "devcert.h"
#include "privfile.h"
#include "util.h"


/* PEM of a key or a certificate, in memory: the caller frees *out. */
static int
to_pem(EVP_PKEY *pk, X509 *x, char **out, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int ok;

	if (b == NULL)
		return -1;
	ok = pk ? PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) :
	    PEM_write_bio_X509(b, x);
	n = BIO_get_mem_data(b, &p);
	if (!ok || n <= 0 || (*out = malloc((size_t)n)) == NULL) {
		BIO_free(b);
		return -1;
	}
	memcpy(*out, p, (size_t)n);
	*len = (size_t)n;
	OPENSSL_cleanse(p, (size_t)n);
	BIO_free(b);
	return 0;
}

static uint64_t
be64(const unsigned char *b)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

static X509 *
make_cert(EVP_PKEY *pk, const char *host)
{
	X509 *x = X509_new();
	X509_NAME *nm;
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	char san[300];
	unsigned char serial[8];

	if (x == NULL)
		return NULL;
	snprintf(san, sizeof(san), "DNS:%s", host);
	nm = X509_get_subject_name(x);
	if (RAND_bytes(serial, sizeof(serial)) != 1 || !X509_set_version(x, 2))
		goto bad;
	serial[0] &= 0x7f;	/* a positive serial */
	if (!ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), be64(serial)) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400) ||
	    !X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC,
	    (const unsigned char *)"kerbgate appliance", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	    (const unsigned char *)host, -1, -1, 0) ||
	    !X509_set_issuer_name(x, nm) || !X509_set_pubkey(x, pk))
		goto bad;
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san)) == NULL ||
	    !X509_add_ext(x, ext, -1)) {
		X509_EXTENSION_free(ext);
		goto bad;
	}
	X509_EXTENSION_free(ext);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, NID_ext_key_usage, "serverAuth")) == NULL ||
	    !X509_add_ext(x, ext, -1)) {
		X509_EXTENSION_free(ext);
		goto bad;
	}
	X509_EXTENSION_free(ext);
	if (X509_sign(x, pk, EVP_sha256()) <= 0)
		goto bad;
	return x;
bad:
	X509_free(x);
	return NULL;
}

int
devcert_ensure(const char *cert, const char *key, uid_t uid, gid_t gid,
    char *err, size_t errlen)
{
	char host[256], *kp = NULL, *cp = NULL;
	size_t kl = 0, cl = 0;
	EVP_PKEY *pk;
	X509 *x = NULL;
	int rc = -1;

	if (access(cert, F_OK) == 0)
		return 0;
	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		kg_strlcpy(host, "kerbgate", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	if ((pk = EVP_EC_gen("P-256")) == NULL || (x = make_cert(pk, host)) == NULL ||
	    to_pem(pk, NULL, &kp, &kl) < 0 || to_pem(NULL, x, &cp, &cl) < 0)
		kg_seterr(err, errlen, "cannot make the device certificate (OpenSSL)");
	else if (kg_write_private(key, kp, kl, uid, gid, err, errlen) == 0 &&
	    kg_write_private(cert, cp, cl, uid, gid, err, errlen) == 0)
		rc = 1;
	if (kp != NULL)
		kg_freezero(kp, kl);
	free(cp);
	X509_free(x);
	EVP_PKEY_free(pk);
	return rc;
}

static void
fill_info(X509 *x, struct devcert_info *info)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	struct tm tm;

	memset(info, 0, sizeof(*info));
	X509_NAME_oneline(X509_get_subject_name(x), info->subject, sizeof(info->subject));
	X509_NAME_oneline(X509_get_issuer_name(x), info->issuer, sizeof(info->issuer));
	info->self_signed = X509_NAME_cmp(X509_get_subject_name(x),
	    X509_get_issuer_name(x)) == 0;
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
		strftime(info->not_after, sizeof(info->not_after), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (X509_digest(x, EVP_sha256(), md, &mdlen) == 1)
		for (i = 0; i < mdlen && 3 * i + 2 < sizeof(info->fingerprint); i++)
			snprintf(info->fingerprint + 3 * i, 4, i + 1 < mdlen ? "%02X:" : "%02X",
			    md[i]);
}

int
devcert_info(const char *cert, struct devcert_info *info, char *err, size_t errlen)
{
	FILE *f = fopen(cert, "re");
	X509 *x;

	if (f == NULL)
		return kg_seterr(err, errlen, "cannot read %s: %s", cert, strerror(errno));
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		return kg_seterr(err, errlen, "%s holds no PEM certificate", cert);
	fill_info(x, info);
	X509_free(x);
	return 0;
}

/*
 * What is stored is what was checked, written anew: the key alone, the
 * certificate and the chain's certificates after it.  The upload as sent
 * could hold more (a second key, blocks of other types) that mbedTLS,
 * which reads the files, would take instead of what OpenSSL checked here:
 * it looks for "EC PRIVATE KEY" before "PRIVATE KEY", for instance.
 */
static int
write_checked(X509 *x, BIO *chain, EVP_PKEY *pk, const char *cert, const char *key,
    char *err, size_t errlen)
{
	char *kp = NULL, *cp = NULL, *more = NULL, *np;
	size_t kl = 0, cl = 0, ml;
	X509 *c;
	int rc = -1;

	if (to_pem(pk, NULL, &kp, &kl) < 0 || to_pem(NULL, x, &cp, &cl) < 0) {
		kg_seterr(err, errlen, "cannot encode the certificate and key (OpenSSL)");
		goto out;
	}
	while ((c = PEM_read_bio_X509(chain, NULL, NULL, NULL)) != NULL) {
		ml = 0;
		if (to_pem(NULL, c, &more, &ml) < 0 || (np = realloc(cp, cl + ml)) == NULL) {
			X509_free(c);
			kg_seterr(err, errlen, "out of memory");
			goto out;
		}
		cp = np;
		memcpy(cp + cl, more, ml);
		cl += ml;
		free(more);
		more = NULL;
		X509_free(c);
	}
	ERR_clear_error();	/* the end of the chain */
	if (kg_write_private(key, kp, kl, (uid_t)-1, (gid_t)-1, err, errlen) == 0 &&
	    kg_write_private(cert, cp, cl, (uid_t)-1, (gid_t)-1, err, errlen) == 0)
		rc = 0;
out:
	if (kp != NULL)
		kg_freezero(kp, kl);
	free(cp);
	free(more);
	return rc;
}

int
devcert_install(const char *cert_pem, size_t cert_len, const char *key_pem,
    size_t key_len, const char *cert, const char *key, char *err, size_t errlen)
{
	BIO *cb = BIO_new_mem_buf(cert_pem, (int)cert_len);
	BIO *kb = BIO_new_mem_buf(key_pem, (int)key_len);
	X509 *x = NULL;
	EVP_PKEY *pk = NULL;
	int rc = -1;

	if (cb == NULL || kb == NULL || cert_len > INT_MAX || key_len > INT_MAX)
		kg_seterr(err, errlen, "out of memory");
	else if ((x = PEM_read_bio_X509(cb, NULL, NULL, NULL)) == NULL)
		kg_seterr(err, errlen, "the certificate is not a PEM certificate "
		    "(-----BEGIN CERTIFICATE-----)");
	else if ((pk = PEM_read_bio_PrivateKey(kb, NULL, NULL, (void *)"")) == NULL)
		kg_seterr(err, errlen, "the key is not an unencrypted PEM private key "
		    "(-----BEGIN PRIVATE KEY-----; decrypt it first: openssl pkey -in KEY)");
	else if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0)
		kg_seterr(err, errlen, "the certificate has expired");
	else if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0)
		kg_seterr(err, errlen, "the certificate is not valid yet (check the clock)");
	else if (X509_check_private_key(x, pk) != 1)
		kg_seterr(err, errlen, "the key does not belong to the certificate (its "
		    "public key differs): upload the key the certificate was issued for");
	else
		rc = write_checked(x, cb, pk, cert, key, err, errlen);
	X509_free(x);
	EVP_PKEY_free(pk);
	BIO_free(cb);
	BIO_free(kb);
	return rc;
}
