/*
 * tlscheck.c: a TLS key and its chain, checked together (tlscheck.h).
 */
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "tlscheck.h"
#include "util.h"

/* Never a passphrase: an encrypted key is refused, not asked for. */
static int
no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf; (void)size; (void)rwflag; (void)u;
	return 0;
}

static EVP_PKEY *
read_key(const uint8_t *key, size_t keylen)
{
	BIO *b = BIO_new_mem_buf(key, (int)keylen);
	EVP_PKEY *k = NULL;

	if (b != NULL)
		k = PEM_read_bio_PrivateKey(b, NULL, no_password, NULL);
	BIO_free(b);
	return k;
}

static STACK_OF(X509) *
read_chain(const uint8_t *chain, size_t len)
{
	BIO *b = BIO_new_mem_buf(chain, (int)len);
	STACK_OF(X509) *sk = sk_X509_new_null();
	X509 *x;

	if (b == NULL || sk == NULL) {
		BIO_free(b);
		sk_X509_free(sk);
		return NULL;
	}
	while ((x = PEM_read_bio_X509(b, NULL, no_password, NULL)) != NULL)
		if (sk_X509_push(sk, x) == 0) {
			X509_free(x);
			break;
		}
	ERR_clear_error();	/* the end of the PEM stream */
	BIO_free(b);
	return sk;
}

/* The chain verified up to its last certificate, trusted as it is. */
static int
verify_chain(STACK_OF(X509) *sk, time_t now, char *err, size_t errlen)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *mid = sk_X509_new_null();
	int i, n = sk_X509_num(sk), rv = -1;

	if (st == NULL || ctx == NULL || mid == NULL) {
		kg_seterr(err, errlen, "out of memory");
		goto out;
	}
	X509_STORE_add_cert(st, sk_X509_value(sk, n - 1));
	for (i = 1; i < n - 1; i++)
		sk_X509_push(mid, sk_X509_value(sk, i));
	if (X509_STORE_CTX_init(ctx, st, sk_X509_value(sk, 0), mid) != 1) {
		kg_seterr(err, errlen, "cannot check the chain");
		goto out;
	}
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_PARTIAL_CHAIN |
	    X509_V_FLAG_USE_CHECK_TIME);
	X509_STORE_CTX_set_time(ctx, 0, now);
	if (X509_verify_cert(ctx) != 1) {
		kg_seterr(err, errlen, "the certificate chain does not verify: %s "
		    "(at depth %d; give the leaf first, then each issuer)",
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)),
		    X509_STORE_CTX_get_error_depth(ctx));
		goto out;
	}
	rv = 0;
out:
	sk_X509_free(mid);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return rv;
}

int
tls_pair_check(const uint8_t *key, size_t keylen, const uint8_t *chain,
    size_t chainlen, const char *host, time_t now, char *err, size_t errlen)
{
	EVP_PKEY *k = NULL;
	STACK_OF(X509) *sk = NULL;
	int rv = -1;

	if ((k = read_key(key, keylen)) == NULL) {
		kg_seterr(err, errlen, "the private key is not an unencrypted PEM key");
		goto out;
	}
	if ((sk = read_chain(chain, chainlen)) == NULL || sk_X509_num(sk) == 0) {
		kg_seterr(err, errlen, "the certificate chain holds no PEM certificate");
		goto out;
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(sk, 0)), k) != 1) {
		kg_seterr(err, errlen, "the private key is not the certificate's: its "
		    "public key differs from the leaf's (the first certificate)");
		goto out;
	}
	if (host != NULL && X509_check_host(sk_X509_value(sk, 0), host, 0, 0,
	    NULL) != 1) {
		kg_seterr(err, errlen, "the certificate does not name %s", host);
		goto out;
	}
	rv = verify_chain(sk, now, err, errlen);
out:
	ERR_clear_error();
	sk_X509_pop_free(sk, X509_free);
	EVP_PKEY_free(k);
	return rv;
}
