/*
 * A credential package comes from an SMB share or the network: whatever it
 * holds must be refused in words, never crash mgmtd, and nothing unsigned
 * may be decrypted.  The first byte picks how the rest is used:
 *   0  the rest is a package, opened as it is (mostly: the signature fails);
 *   1  the rest is a package without its signature: the harness signs it
 *      with the pinned key, so the fuzzer reaches the signed fields, the
 *      key agreement and GCM;
 *   2  the rest is a plaintext: sealed, then opened, it must come back the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "credpkg.h"

#define NOW	1796200000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *signer, *appliance;

static void
keys(void)
{
	static const uint8_t s[32] = { 1, 2, 3 }, a[32] = { 4, 5, 6 };

	if (signer != NULL)
		return;
	signer = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, s, sizeof(s));
	appliance = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, a, sizeof(a));
	if (signer == NULL || appliance == NULL)
		abort();
}

static int
open_it(const uint8_t *p, size_t len, uint8_t **pt, size_t *ptlen)
{
	struct pkg_info info;
	char err[512];
	int rc;

	rc = pkg_open(p, len, signer, appliance, NOW, 7, &info, pt, ptlen, err, sizeof(err));
	if (rc < 0 && (*pt != NULL || err[0] == '\0'))
		abort();
	if (rc == 0 && (info.kvno <= 7 || info.expires <= NOW || (*pt)[*ptlen] != '\0'))
		abort();
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkg_info in = { 8, NOW, NOW + 60 };
	uint8_t *buf = NULL, *pt = NULL;
	size_t len = 0, ptlen = 0;
	char err[256];
	EVP_MD_CTX *c;

	keys();
	if (size < 1 || size > PKG_MAX_LEN + 1)
		return 0;
	switch (data[0]) {
	case 0:
		if (open_it(data + 1, size - 1, &pt, &ptlen) == 0)
			abort();	/* nobody but the harness holds the key */
		break;
	case 1:
		len = size - 1 + PKG_SIG_LEN;
		if ((buf = malloc(len)) == NULL || (c = EVP_MD_CTX_new()) == NULL)
			abort();
		memcpy(buf, data + 1, size - 1);
		{
			size_t slen = PKG_SIG_LEN;

			if (EVP_DigestSignInit(c, NULL, NULL, NULL, signer) != 1 ||
			    EVP_DigestSign(c, buf + size - 1, &slen, buf, size - 1) != 1)
				abort();
		}
		EVP_MD_CTX_free(c);
		if (open_it(buf, len, &pt, &ptlen) == 0)
			pkg_free_plaintext(pt, ptlen);
		break;
	case 2:
		if (pkg_seal(signer, appliance, &in, data + 1, size - 1, &buf, &len,
		    err, sizeof(err)) < 0)
			break;
		if (open_it(buf, len, &pt, &ptlen) != 0 || ptlen != size - 1 ||
		    memcmp(pt, data + 1, ptlen) != 0)
			abort();
		pkg_free_plaintext(pt, ptlen);
		break;
	}
	free(buf);
	return 0;
}
