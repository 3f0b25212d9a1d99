/*
 * tlsprim: CPU cost of the public-key operations a TLS handshake makes, with
 * the mbedTLS kerbgate builds (toolchain/mbedtls), one process, no network.
 * What docs/performance.md quotes when it explains a handshake's cost.
 *
 *   tlsprim [SECONDS_PER_ITEM]     (default 1)
 *
 * Prints one line per operation: operations per second and microseconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <psa/crypto.h>

static double seconds = 1.0;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef int (*op_fn)(void *);

static void
measure(const char *name, op_fn op, void *arg)
{
	double t0 = now(), t;
	long n = 0;

	do {
		if (op(arg) != 0) {
			fprintf(stderr, "tlsprim: %s failed\n", name);
			exit(1);
		}
		n++;
	} while ((t = now() - t0) < seconds);
	printf("%-44s %9.0f/s %9.1f us\n", name, n / t, t * 1e6 / n);
}

/* An ephemeral key share as TLS 1.3 makes one: generate, export public. */
static int
ecdhe_keygen(void *p_type)
{
	psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
	psa_key_type_t type = *(psa_key_type_t *)p_type;
	psa_key_id_t id;
	uint8_t pub[PSA_EXPORT_PUBLIC_KEY_MAX_SIZE];
	size_t len;
	int ret;

	psa_set_key_type(&a, type);
	psa_set_key_bits(&a, type == PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_MONTGOMERY) ? 255 : 256);
	psa_set_key_usage_flags(&a, PSA_KEY_USAGE_DERIVE);
	psa_set_key_algorithm(&a, PSA_ALG_ECDH);
	if (psa_generate_key(&a, &id) != PSA_SUCCESS)
		return -1;
	ret = psa_export_public_key(id, pub, sizeof(pub), &len) == PSA_SUCCESS ? 0 : -1;
	psa_destroy_key(id);
	return ret;
}

static int
x25519_export(void *p)
{
	uint8_t pub[64];
	size_t len;

	return psa_export_public_key(*(psa_key_id_t *)p, pub, sizeof(pub), &len) ==
	    PSA_SUCCESS ? 0 : -1;
}

struct agree {
	psa_key_id_t ours;
	uint8_t peer[PSA_EXPORT_PUBLIC_KEY_MAX_SIZE];
	size_t peer_len;
};

static int
ecdhe_agree(void *p)
{
	struct agree *ag = p;
	uint8_t secret[66];
	size_t len;

	return psa_raw_key_agreement(PSA_ALG_ECDH, ag->ours, ag->peer, ag->peer_len,
	    secret, sizeof(secret), &len) == PSA_SUCCESS ? 0 : -1;
}

static void
agree_setup(struct agree *ag, psa_key_type_t type, size_t bits)
{
	psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
	psa_key_id_t peer;

	psa_set_key_type(&a, type);
	psa_set_key_bits(&a, bits);
	psa_set_key_usage_flags(&a, PSA_KEY_USAGE_DERIVE);
	psa_set_key_algorithm(&a, PSA_ALG_ECDH);
	if (psa_generate_key(&a, &ag->ours) != PSA_SUCCESS ||
	    psa_generate_key(&a, &peer) != PSA_SUCCESS ||
	    psa_export_public_key(peer, ag->peer, sizeof(ag->peer), &ag->peer_len) != PSA_SUCCESS) {
		fprintf(stderr, "tlsprim: key set-up failed\n");
		exit(1);
	}
	psa_destroy_key(peer);
}

struct signer {
	mbedtls_pk_context pk;
	mbedtls_ctr_drbg_context *drbg;
};

static int
pk_sign(void *p)
{
	struct signer *s = p;
	uint8_t hash[32] = { 1 }, sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	size_t len;

	return mbedtls_pk_sign(&s->pk, MBEDTLS_MD_SHA256, hash, sizeof(hash), sig,
	    sizeof(sig), &len, mbedtls_ctr_drbg_random, s->drbg);
}

int
main(int argc, char **argv)
{
	psa_key_type_t x25519 = PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_MONTGOMERY);
	psa_key_type_t p256 = PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1);
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	struct agree ag_x, ag_p;
	struct signer ec, rsa;

	if (argc > 1)
		seconds = atof(argv[1]);
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	if (psa_crypto_init() != PSA_SUCCESS ||
	    mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0) != 0)
		return 1;
	agree_setup(&ag_x, x25519, 255);
	agree_setup(&ag_p, p256, 256);
	ec.drbg = rsa.drbg = &drbg;
	mbedtls_pk_init(&ec.pk);
	mbedtls_pk_init(&rsa.pk);
	if (mbedtls_pk_setup(&ec.pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
	    mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(ec.pk),
	    mbedtls_ctr_drbg_random, &drbg) != 0 ||
	    mbedtls_pk_setup(&rsa.pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)) != 0 ||
	    mbedtls_rsa_gen_key(mbedtls_pk_rsa(rsa.pk), mbedtls_ctr_drbg_random, &drbg,
	    2048, 65537) != 0)
		return 1;

	measure("X25519 key share (generate + export public)", ecdhe_keygen, &x25519);
	measure("X25519 shared secret", ecdhe_agree, &ag_x);
	measure("X25519 public key of a generated key", x25519_export, &ag_x.ours);
	measure("P-256 key share (generate + export public)", ecdhe_keygen, &p256);
	measure("P-256 shared secret", ecdhe_agree, &ag_p);
	measure("ECDSA P-256 sign (SHA-256)", pk_sign, &ec);
	measure("RSA-2048 sign (PKCS#1 v1.5, SHA-256)", pk_sign, &rsa);
	return 0;
}
