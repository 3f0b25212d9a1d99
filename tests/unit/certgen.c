/*
 * certgen: certificates for tests, made with mbedTLS's x509write API.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/x509_crt.h>
#include <psa/crypto.h>

#include "certgen.h"

static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static int serial_next = 1;

static int
rng(void *unused, unsigned char *out, size_t len)
{
	static int seeded;

	(void)unused;
	if (!seeded) {
		mbedtls_entropy_init(&entropy);
		mbedtls_ctr_drbg_init(&drbg);
		if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
		    (const unsigned char *)"certgen", 7) != 0)
			return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
		seeded = 1;
	}
	return mbedtls_ctr_drbg_random(&drbg, out, len);
}

/* subjectAltName: SEQUENCE { [2] IA5String dns_name } */
static int
set_san(mbedtls_x509write_cert *crt, const char *dns_name)
{
	unsigned char buf[512], *p = buf + sizeof(buf);
	size_t dlen = strlen(dns_name), len = 0;
	int ret;

	if (dlen > 400)
		return MBEDTLS_ERR_ASN1_BUF_TOO_SMALL;
	if ((ret = mbedtls_asn1_write_raw_buffer(&p, buf,
	    (const unsigned char *)dns_name, dlen)) < 0)
		return ret;
	len += (size_t)ret;
	if ((ret = mbedtls_asn1_write_len(&p, buf, dlen)) < 0)
		return ret;
	len += (size_t)ret;
	if ((ret = mbedtls_asn1_write_tag(&p, buf,
	    MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2)) < 0)
		return ret;
	len += (size_t)ret;
	if ((ret = mbedtls_asn1_write_len(&p, buf, len)) < 0)
		return ret;
	len += (size_t)ret;
	if ((ret = mbedtls_asn1_write_tag(&p, buf,
	    MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) < 0)
		return ret;
	len += (size_t)ret;
	return mbedtls_x509write_crt_set_extension(crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
	    MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, p, len);
}

int
certgen_make(struct certgen_cert *out, const struct certgen_spec *spec)
{
	mbedtls_x509write_cert crt;
	mbedtls_mpi serial;
	const mbedtls_pk_context *issuer_key;
	const char *issuer_name;
	int ret;

	memset(out, 0, sizeof(*out));
	/* With MBEDTLS_USE_PSA_CRYPTO (toolchain/mbedtls/Kconfig) signing a
	 * certificate goes through PSA, which must be up first; a second
	 * call returns at once. */
	if (psa_crypto_init() != PSA_SUCCESS)
		return MBEDTLS_ERR_PK_BAD_INPUT_DATA;
	mbedtls_pk_init(&out->key);
	mbedtls_x509write_crt_init(&crt);
	mbedtls_mpi_init(&serial);
	snprintf(out->subject, sizeof(out->subject), "CN=%s", spec->cn);

	if ((ret = mbedtls_pk_setup(&out->key,
	    mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))) != 0 ||
	    (ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1,
	    mbedtls_pk_ec(out->key), rng, NULL)) != 0)
		goto out;
	issuer_key = spec->issuer != NULL ? &spec->issuer->key : &out->key;
	issuer_name = spec->issuer != NULL ? spec->issuer->subject : out->subject;

	mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&crt, spec->md != MBEDTLS_MD_NONE ?
	    spec->md : MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&crt, &out->key);
	mbedtls_x509write_crt_set_issuer_key(&crt, (mbedtls_pk_context *)issuer_key);
	if ((ret = mbedtls_mpi_lset(&serial, serial_next++)) != 0 ||
	    (ret = mbedtls_x509write_crt_set_serial(&crt, &serial)) != 0 ||
	    (ret = mbedtls_x509write_crt_set_subject_name(&crt, out->subject)) != 0 ||
	    (ret = mbedtls_x509write_crt_set_issuer_name(&crt, issuer_name)) != 0 ||
	    (ret = mbedtls_x509write_crt_set_validity(&crt,
	    spec->not_before != NULL ? spec->not_before : "20200101000000",
	    spec->not_after != NULL ? spec->not_after : "20991231235959")) != 0 ||
	    (ret = mbedtls_x509write_crt_set_basic_constraints(&crt,
	    spec->is_ca, spec->is_ca ? 0 : -1)) != 0 ||
	    (ret = mbedtls_x509write_crt_set_key_usage(&crt, spec->is_ca ?
	    MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN :
	    MBEDTLS_X509_KU_DIGITAL_SIGNATURE)) != 0)
		goto out;
	if (spec->dns_name != NULL && (ret = set_san(&crt, spec->dns_name)) != 0)
		goto out;
	ret = mbedtls_x509write_crt_der(&crt, out->der, sizeof(out->der), rng, NULL);
	if (ret < 0)
		goto out;
	/* mbedTLS writes DER at the end of the buffer. */
	out->der_len = (size_t)ret;
	memmove(out->der, out->der + sizeof(out->der) - out->der_len, out->der_len);
	ret = 0;
out:
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&crt);
	return ret;
}

static int
write_file(const char *path, const void *data, size_t len, int flags)
{
	int fd = open(path, O_WRONLY | O_CREAT | flags | O_CLOEXEC, 0600);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, data, len);
	if (close(fd) != 0 || n != (ssize_t)len)
		return -1;
	return 0;
}

static int
append_pem(const char *path, const struct certgen_cert *c, int flags)
{
	unsigned char pem[CERTGEN_DER_MAX * 2];
	size_t olen;

	if (mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n",
	    "-----END CERTIFICATE-----\n", c->der, c->der_len, pem, sizeof(pem),
	    &olen) != 0) {
		errno = EINVAL;
		return -1;
	}
	return write_file(path, pem, strlen((const char *)pem), flags);
}

int
certgen_save(const struct certgen_cert *c, const struct certgen_cert *chain,
    const char *cert_path, const char *key_path)
{
	unsigned char pem[1024];

	if (append_pem(cert_path, c, O_TRUNC) != 0)
		return -1;
	if (chain != NULL && append_pem(cert_path, chain, O_APPEND) != 0)
		return -1;
	if (key_path == NULL)
		return 0;
	if (mbedtls_pk_write_key_pem((mbedtls_pk_context *)&c->key, pem,
	    sizeof(pem)) != 0) {
		errno = EINVAL;
		return -1;
	}
	return write_file(key_path, pem, strlen((const char *)pem), O_TRUNC);
}

void
certgen_free(struct certgen_cert *c)
{
	mbedtls_pk_free(&c->key);
}
