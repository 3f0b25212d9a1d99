/*
 * credpkg.c: the sealed credential package (credpkg.h, docs/package.md).
 * OpenSSL's libcrypto does the cryptography: X25519 for the key agreement,
 * HKDF-SHA256 for the key, AES-256-GCM for the credential, Ed25519 for the
 * signature.  The reader checks the signature before it looks at anything
 * the signature does not vouch for, and decrypts nothing unsigned.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "credpkg.h"
#include "util.h"

#define PKG_NONCE_LEN	12
#define PKG_HKDF_INFO	"kerbgate credential package v1"

/* Header field offsets (credpkg.h). */
enum {
	OFF_MAGIC = 0, OFF_VERSION = 8, OFF_SUITE = 9, OFF_RESERVED = 10,
	OFF_CREATED = 12, OFF_EXPIRES = 20, OFF_KVNO = 28, OFF_RECIPIENT = 32,
	OFF_EPHEMERAL = 64, OFF_NONCE = 96, OFF_CTLEN = 108
};

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static void
put64(uint8_t *p, int64_t v)
{
	put32(p, (uint32_t)((uint64_t)v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t
get64(const uint8_t *p)
{
	return (int64_t)((uint64_t)get32(p) << 32 | get32(p + 4));
}

void
pkg_key_id(const uint8_t pub[PKG_KEY_LEN], char out[17])
{
	uint8_t md[SHA256_DIGEST_LENGTH];

	SHA256(pub, PKG_KEY_LEN, md);
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int
raw_public(EVP_PKEY *k, uint8_t pub[PKG_KEY_LEN])
{
	size_t n = PKG_KEY_LEN;

	return EVP_PKEY_get_raw_public_key(k, pub, &n) == 1 && n == PKG_KEY_LEN ? 0 : -1;
}

/* X25519 between \p priv and \p peer, then HKDF-SHA256 salted with both
 * public keys (ephemeral first) into a 32-byte AES key. */
static int
derive(EVP_PKEY *priv, EVP_PKEY *peer, const uint8_t eph[PKG_KEY_LEN],
    const uint8_t rcpt[PKG_KEY_LEN], uint8_t key[32])
{
	uint8_t shared[32], salt[2 * PKG_KEY_LEN];
	size_t slen = sizeof(shared);
	EVP_PKEY_CTX *c;
	int ok;

	if ((c = EVP_PKEY_CTX_new(priv, NULL)) == NULL)
		return -1;
	ok = EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer(c, peer) == 1 &&
	    EVP_PKEY_derive(c, shared, &slen) == 1 && slen == sizeof(shared);
	EVP_PKEY_CTX_free(c);
	if (!ok) {
		kg_zero(shared, sizeof(shared));
		return -1;
	}
	memcpy(salt, eph, PKG_KEY_LEN);
	memcpy(salt + PKG_KEY_LEN, rcpt, PKG_KEY_LEN);
	ok = 0;
	if ((c = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL)) != NULL) {
		size_t klen = 32;

		ok = EVP_PKEY_derive_init(c) == 1 &&
		    EVP_PKEY_CTX_set_hkdf_md(c, EVP_sha256()) == 1 &&
		    EVP_PKEY_CTX_set1_hkdf_salt(c, salt, sizeof(salt)) == 1 &&
		    EVP_PKEY_CTX_set1_hkdf_key(c, shared, sizeof(shared)) == 1 &&
		    EVP_PKEY_CTX_add1_hkdf_info(c, (const unsigned char *)PKG_HKDF_INFO,
			strlen(PKG_HKDF_INFO)) == 1 &&
		    EVP_PKEY_derive(c, key, &klen) == 1 && klen == 32;
		EVP_PKEY_CTX_free(c);
	}
	kg_zero(shared, sizeof(shared));
	return ok ? 0 : -1;
}

/* AES-256-GCM over \p in into \p out; enc 1 seals (writes tag), 0 opens
 * (checks tag).  Returns 0, or -1 (for opening: the tag did not match). */
static int
gcm(int enc, const uint8_t key[32], const uint8_t *nonce, const uint8_t *aad,
    size_t aadlen, const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *c;
	int n, ok;

	if ((c = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	ok = EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, PKG_NONCE_LEN, NULL) == 1 &&
	    EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) == 1 &&
	    EVP_CipherUpdate(c, NULL, &n, aad, (int)aadlen) == 1 &&
	    EVP_CipherUpdate(c, out, &n, in, (int)len) == 1 &&
	    (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, PKG_TAG_LEN, tag) == 1) &&
	    EVP_CipherFinal_ex(c, out + n, &n) == 1 &&
	    (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, PKG_TAG_LEN, tag) == 1);
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -1;
}

/* Ed25519 signs (\p out set) or verifies (\p sig set) \p msg. */
static int
ed25519(EVP_PKEY *k, const uint8_t *msg, size_t len, uint8_t *out, const uint8_t *sig)
{
	EVP_MD_CTX *c;
	size_t slen = PKG_SIG_LEN;
	int ok;

	if ((c = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (out != NULL)
		ok = EVP_DigestSignInit(c, NULL, NULL, NULL, k) == 1 &&
		    EVP_DigestSign(c, out, &slen, msg, len) == 1 && slen == PKG_SIG_LEN;
	else
		ok = EVP_DigestVerifyInit(c, NULL, NULL, NULL, k) == 1 &&
		    EVP_DigestVerify(c, sig, PKG_SIG_LEN, msg, len) == 1;
	EVP_MD_CTX_free(c);
	return ok ? 0 : -1;
}

int
pkg_seal(EVP_PKEY *signer, EVP_PKEY *recipient, const struct pkg_info *info,
    const uint8_t *pt, size_t ptlen, uint8_t **out, size_t *outlen,
    char *err, size_t errlen)
{
	EVP_PKEY *eph = NULL;
	EVP_PKEY_CTX *kc;
	uint8_t key[32], *p;
	size_t len;
	int rc = -1;

	*out = NULL;
	if (ptlen == 0 || ptlen > PKG_MAX_PLAINTEXT)
		return kg_seterr(err, errlen, "a package holds 1 to %d bytes of "
		    "credential, not %zu", PKG_MAX_PLAINTEXT, ptlen);
	if (EVP_PKEY_get_id(signer) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_id(recipient) != EVP_PKEY_X25519)
		return kg_seterr(err, errlen, "the signing key must be Ed25519 and the "
		    "appliance's key X25519");
	len = PKG_HEADER_LEN + ptlen + PKG_TAG_LEN + PKG_SIG_LEN;
	if ((p = calloc(1, len)) == NULL)
		return kg_seterr(err, errlen, "out of memory");
	if ((kc = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL)) == NULL ||
	    EVP_PKEY_keygen_init(kc) != 1 || EVP_PKEY_keygen(kc, &eph) != 1) {
		EVP_PKEY_CTX_free(kc);
		free(p);
		return kg_seterr(err, errlen, "cannot make an ephemeral X25519 key");
	}
	EVP_PKEY_CTX_free(kc);
	memcpy(p + OFF_MAGIC, PKG_MAGIC, 8);
	p[OFF_VERSION] = PKG_VERSION;
	p[OFF_SUITE] = PKG_SUITE;
	put64(p + OFF_CREATED, info->created);
	put64(p + OFF_EXPIRES, info->expires);
	put32(p + OFF_KVNO, info->kvno);
	put32(p + OFF_CTLEN, (uint32_t)ptlen);
	if (raw_public(recipient, p + OFF_RECIPIENT) < 0 ||
	    raw_public(eph, p + OFF_EPHEMERAL) < 0 ||
	    RAND_bytes(p + OFF_NONCE, PKG_NONCE_LEN) != 1 ||
	    derive(eph, recipient, p + OFF_EPHEMERAL, p + OFF_RECIPIENT, key) < 0 ||
	    gcm(1, key, p + OFF_NONCE, p, PKG_HEADER_LEN, pt, ptlen,
		p + PKG_HEADER_LEN, p + PKG_HEADER_LEN + ptlen) < 0 ||
	    ed25519(signer, p, len - PKG_SIG_LEN, p + len - PKG_SIG_LEN, NULL) < 0) {
		kg_seterr(err, errlen, "sealing the package failed (libcrypto)");
		kg_freezero(p, len);
	} else {
		*out = p;
		*outlen = len;
		rc = 0;
	}
	kg_zero(key, sizeof(key));
	EVP_PKEY_free(eph);
	return rc;
}

/* Size, magic, version, suite, reserved, length: what can be checked
 * before the signature, to know where the signature is. */
static int
check_frame(const uint8_t *pkg, size_t len, char *err, size_t errlen)
{
	uint32_t n;

	if (len < OFF_VERSION + 1 || memcmp(pkg, PKG_MAGIC, len < 8 ? len : 8) != 0) {
		if (len >= 8 && memcmp(pkg, PKG_MAGIC, 8) != 0)
			return kg_seterr(err, errlen, "not a kerbgate credential package "
			    "(it does not start with %s): check what was put on the share",
			    PKG_MAGIC);
		return kg_seterr(err, errlen, "the package is truncated (%zu bytes; "
		    "at least %d): copy it again", len, PKG_MIN_LEN);
	}
	if (pkg[OFF_VERSION] != PKG_VERSION)
		return kg_seterr(err, errlen, "package format version %u: this release "
		    "reads version %d (write it with a kerbgate-roll of the same release)",
		    pkg[OFF_VERSION], PKG_VERSION);
	if (len < PKG_MIN_LEN)
		return kg_seterr(err, errlen, "the package is truncated (%zu bytes; "
		    "at least %d): copy it again", len, PKG_MIN_LEN);
	if (len > PKG_MAX_LEN)
		return kg_seterr(err, errlen, "the package is %zu bytes, more than %d: "
		    "not a credential package", len, PKG_MAX_LEN);
	if (pkg[OFF_SUITE] != PKG_SUITE || pkg[OFF_RESERVED] != 0 ||
	    pkg[OFF_RESERVED + 1] != 0)
		return kg_seterr(err, errlen, "the package names cipher suite %u "
		    "(this release knows suite %d only)", pkg[OFF_SUITE], PKG_SUITE);
	n = get32(pkg + OFF_CTLEN);
	if (n == 0 || n > PKG_MAX_PLAINTEXT ||
	    (size_t)n != len - PKG_HEADER_LEN - PKG_TAG_LEN - PKG_SIG_LEN)
		return kg_seterr(err, errlen, "the package's length field (%u) does not "
		    "match its size (%zu bytes): truncated or padded in transit, copy it "
		    "again", n, len);
	return 0;
}

/* Signed fields: recipient, times, kvno. */
static int
check_claims(const uint8_t *pkg, EVP_PKEY *recipient, int64_t now,
    uint32_t active_kvno, struct pkg_info *info, char *err, size_t errlen)
{
	uint8_t mine[PKG_KEY_LEN];
	char want[17], have[17];

	if (raw_public(recipient, mine) < 0)
		return kg_seterr(err, errlen, "the appliance's package key is not X25519");
	if (memcmp(mine, pkg + OFF_RECIPIENT, PKG_KEY_LEN) != 0) {
		pkg_key_id(pkg + OFF_RECIPIENT, want);
		pkg_key_id(mine, have);
		return kg_seterr(err, errlen, "the package is sealed to another appliance's "
		    "key (key id %s; this appliance's is %s): give the management plane "
		    "this appliance's package public key", want, have);
	}
	info->created = get64(pkg + OFF_CREATED);
	info->expires = get64(pkg + OFF_EXPIRES);
	info->kvno = get32(pkg + OFF_KVNO);
	if (info->created > now + PKG_SKEW)
		return kg_seterr(err, errlen, "the package was made %lld s in the future: "
		    "check the clocks of the appliance and the management plane",
		    (long long)(info->created - now));
	if (info->expires <= now)
		return kg_seterr(err, errlen, "the package expired %lld s ago: make a new "
		    "one (kerbgate-roll --package)", (long long)(now - info->expires));
	/* created is not after now + skew, expires is after now: compared
	 * with now, neither difference can overflow (created may be any
	 * signed 64-bit value; expires - created could). */
	if (info->expires < info->created || info->created < now - PKG_MAX_LIFETIME ||
	    info->expires - info->created > PKG_MAX_LIFETIME)
		return kg_seterr(err, errlen, "the package is valid for more than %d days: "
		    "refused (make one with a shorter lifetime)", PKG_MAX_LIFETIME / 86400);
	if (info->kvno == 0 || info->kvno > 0x7fffffff)
		return kg_seterr(err, errlen, "the package's kvno %u is out of range",
		    info->kvno);
	if (info->kvno <= active_kvno)
		return kg_seterr(err, errlen, "the package's kvno %u is not above the active "
		    "kvno %u: an old or replayed package, nothing done", info->kvno,
		    active_kvno);
	return 0;
}

int
pkg_open(const uint8_t *pkg, size_t len, EVP_PKEY *signer, EVP_PKEY *recipient,
    int64_t now, uint32_t active_kvno, struct pkg_info *info, uint8_t **pt,
    size_t *ptlen, char *err, size_t errlen)
{
	EVP_PKEY *eph;
	uint8_t key[32], tag[PKG_TAG_LEN], *out;
	size_t n;
	int rc;

	*pt = NULL;
	*ptlen = 0;
	if (check_frame(pkg, len, err, errlen) < 0)
		return -1;
	n = get32(pkg + OFF_CTLEN);
	if (ed25519(signer, pkg, len - PKG_SIG_LEN, NULL, pkg + len - PKG_SIG_LEN) < 0)
		return kg_seterr(err, errlen, "the package's signature does not verify "
		    "against the pinned management key (package.signer_key): it was "
		    "altered, or signed by another management plane; nothing done");
	if (check_claims(pkg, recipient, now, active_kvno, info, err, errlen) < 0)
		return -1;
	if ((eph = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL,
	    pkg + OFF_EPHEMERAL, PKG_KEY_LEN)) == NULL)
		return kg_seterr(err, errlen, "the package's ephemeral key is not a valid "
		    "X25519 key: the management plane made a broken package");
	rc = derive(recipient, eph, pkg + OFF_EPHEMERAL, pkg + OFF_RECIPIENT, key);
	EVP_PKEY_free(eph);
	if (rc < 0)
		return kg_seterr(err, errlen, "key agreement failed: the appliance's "
		    "package key is not a usable X25519 private key");
	if ((out = malloc(n + 1)) == NULL) {
		kg_zero(key, sizeof(key));
		return kg_seterr(err, errlen, "out of memory");
	}
	memcpy(tag, pkg + PKG_HEADER_LEN + n, PKG_TAG_LEN);
	rc = gcm(0, key, pkg + OFF_NONCE, pkg, PKG_HEADER_LEN, pkg + PKG_HEADER_LEN, n,
	    out, tag);
	kg_zero(key, sizeof(key));
	if (rc < 0) {
		kg_freezero(out, n + 1);
		return kg_seterr(err, errlen, "the package is signed but does not decrypt "
		    "with this appliance's package key: the management plane sealed it "
		    "wrongly; make a new one");
	}
	out[n] = '\0';
	*pt = out;
	*ptlen = n;
	return 0;
}

void
pkg_free_plaintext(uint8_t *pt, size_t ptlen)
{
	if (pt != NULL)
		kg_freezero(pt, ptlen + 1);
}

EVP_PKEY *
pkg_load_key(const char *path, int type, int want_private, char *err, size_t errlen)
{
	struct stat st;
	EVP_PKEY *k;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		kg_seterr(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	if (want_private && (fstat(fileno(f), &st) < 0 || (st.st_mode & 077) != 0)) {
		fclose(f);
		kg_seterr(err, errlen, "%s holds a private key and must be 0600 "
		    "(chmod 600 %s)", path, path);
		return NULL;
	}
	k = want_private ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (!want_private) {
		k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
		if (k == NULL) {
			rewind(f);
			k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		}
	}
	fclose(f);
	if (k == NULL) {
		kg_seterr(err, errlen, "%s is not a PEM %s key", path,
		    want_private ? "private" : "public");
		return NULL;
	}
	if (EVP_PKEY_get_id(k) != type) {
		EVP_PKEY_free(k);
		kg_seterr(err, errlen, "%s is not an %s key (openssl genpkey -algorithm %s)",
		    path, type == EVP_PKEY_ED25519 ? "Ed25519" : "X25519",
		    type == EVP_PKEY_ED25519 ? "ED25519" : "X25519");
		return NULL;
	}
	return k;
}
