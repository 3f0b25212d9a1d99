/*
 * tlskey: the process that holds the VIP's TLS private keys, as relayd's
 * ca.c does.  One per generation, forked by the parent before the relays;
 * it alone reads the key files (before its sandbox, which allows no
 * network at all), and it signs for the relays' handshakes with OpenSSL's
 * libcrypto: the ServerKeyExchange of TLS 1.2 and the CertificateVerify of
 * TLS 1.3.  A relay holds the certificate chain and its public key only,
 * so one taken over by the network can ask for signatures while it runs
 * but cannot carry a key away.
 *
 * The wire: framed IPC (ipc.h) on one stream socketpair per relay.
 *
 *   TK_MSG_SIGN, relay -> key process, id chosen by the relay:
 *     key index (u16 BE: the vhost, in the order of the configuration's
 *     vhosts that have a certificate) | scheme (u8, enum tls_sign_scheme) |
 *     md (u8, enum tls_sign_md) | hash length (u8) | hash
 *   TK_MSG_SIG, key process -> relay, the request's id:
 *     status (u8: TK_STATUS_OK, TK_STATUS_FAILED) | signature (OK only)
 *
 * Every request is checked (length, key index, scheme against the key's
 * type, hash length against the hash); a relay that sends anything else
 * has its socket closed (its handshakes then fail) and the others are
 * served on.
 *
 * The parent learns whether the keys loaded from one message on the
 * control socket (SEQPACKET): "ok", or the reason in admin words; it
 * starts no relay of a generation whose keys did not load.  When keys came
 * from the sealed store, "ok N" is followed by N messages "chain" | index
 * (u16 BE) | the chain's PEM: the relays serve those chains instead of the
 * configured certificate files (public bytes only; the key stays here).
 */
#ifndef KG_TLSKEY_H
#define KG_TLSKEY_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "tls.h"

#define TK_MSG_SIGN		1
#define TK_MSG_SIG		2

#define TK_STATUS_OK		0
#define TK_STATUS_FAILED	1

#define TK_SIGN_HDR_LEN		5
#define TK_SIGN_MAX_LEN		(TK_SIGN_HDR_LEN + 64)

/** What the parent hands the key process when it forks it. */
struct tlskey_env {
	const struct conf	*conf;
	int			 ctl_fd;	/**< to the parent: the "ok" or the
						     error, then respawned relays'
						     sockets (kg_ipc_send_fd()) */
	const int		*relay_fds;	/**< one socketpair end per relay */
	size_t			 nrelays;
	const struct sandbox_opts *sandbox;	/**< entered after loading, or
						     NULL */
	const char		*user;		/**< without a sandbox: drop to
						     this user, or NULL */
	void	(*drop_privileges)(const char *user);	/**< how (keyholder.h's;
						     a pointer keeps the keyholder
						     out of the tests' links) */
};

struct tlskey_keys;

/** One key to load: the certificate it must match, and the key file. */
struct tlskey_file {
	const char	*label;		/**< "vhost mail.example.com", for errors */
	const char	*cert_file;	/**< PEM, the leaf first */
	const char	*key_file;	/**< PEM or DER, unencrypted, not
					     accessible to "other" */
	const uint8_t	*key_pem;	/**< or, instead of both files, the
					     sealed store's key (PEM) ... */
	size_t		 key_pem_len;
	const uint8_t	*chain_pem;	/**< ... and its chain (PEM, leaf first) */
	size_t		 chain_pem_len;
};

/**
 * Reads the private keys (OpenSSL) and checks each against its
 * certificate's public key.  Returns the keys, or NULL with the reason in
 * err (file names and what to do; never key bytes).
 */
struct tlskey_keys *tlskey_load(const struct tlskey_file *files, size_t n,
    char *err, size_t errlen);

/**
 * The same for a configuration's vhosts that have a certificate.  With
 * credentials.store set, the store is opened here (as root, before the
 * sandbox: this process and the keyholder are the only ones that unseal
 * it) and a vhost with an active TLS key in it (secretstore.h) takes that
 * key and chain instead of its files; tlskey_chain() gives the chain, for
 * the parent.  No store or no device key yet (a first start): the files.
 */
struct tlskey_keys *tlskey_load_conf(const struct conf *c, char *err,
    size_t errlen);

/**
 * The certificate chain (PEM, public) of key i when it came from the
 * sealed store, or NULL (the configured certificate file serves).
 */
const uint8_t *tlskey_chain(const struct tlskey_keys *k, size_t i,
    size_t *len);

/** Frees the keys (libcrypto clears the private parts). */
void tlskey_free(struct tlskey_keys *k);

/** How many keys were loaded. */
size_t tlskey_count(const struct tlskey_keys *k);

/**
 * Signs req->hash with key req->key_index under req->scheme.
 * \return 0 (sig, *siglen set; sig holds TLS_SIG_MAX bytes), -1 if libcrypto
 *         failed, -2 if the scheme does not fit the key's type (a relay's
 *         fault: treat as a malformed frame)
 */
int tlskey_sign(const struct tlskey_keys *k, const struct tls_sign_request *req,
    uint8_t *sig, size_t *siglen);

/**
 * Encodes a TK_MSG_SIGN payload.
 * \return its length, or 0 if out (TK_SIGN_MAX_LEN bytes) is too small or
 *         req is out of range
 */
size_t tlskey_encode_request(const struct tls_sign_request *req, uint8_t *out,
    size_t outlen);

/**
 * Checks and decodes a TK_MSG_SIGN payload from a relay.
 * \param nkeys  how many keys there are (the index must be below)
 * \param out    set on success; out->hash points into p
 * \param why    set on failure: what was wrong, for the log
 * \return 0, or -1 (malformed)
 */
int tlskey_parse_request(const uint8_t *p, size_t len, size_t nkeys,
    struct tls_sign_request *out, const char **why);

/**
 * Checks and decodes a TK_MSG_SIG payload from the key process.
 * \return 1 with *sig, *siglen set (the signature, pointing into p), 0 when
 *         the key process could not sign, -1 when malformed
 */
int tlskey_parse_answer(const uint8_t *p, size_t len, const uint8_t **sig,
    size_t *siglen);

/**
 * Serves signature requests on the relays' sockets until the parent's
 * control socket and every relay's socket have closed; a respawned relay's
 * socket arrives on ctl_fd.  Returns then (tests call it in a child).
 */
void tlskey_serve(const struct tlskey_keys *k, int ctl_fd, const int *relay_fds,
    size_t nrelays);

/**
 * The key process: loads the keys of env->conf, tells the parent, enters
 * its sandbox, serves; exits when done.  Never returns.
 */
void tlskey_main(struct tlskey_env *env) __attribute__((noreturn));

#endif /* KG_TLSKEY_H */
