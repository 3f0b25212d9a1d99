/*
 * tls: a small non-blocking wrapper around mbedTLS 2.28 for both sides of
 * kerbgated: the server side that terminates TLS for the VIP, and the client
 * side that bridges to back-ends.
 *
 * Driving a connection.  Everything is fd-based and readiness-driven: the
 * fd must already be non-blocking.  Every call that can block returns one of
 * the enum tls_status values; TLS_WANT_READ / TLS_WANT_WRITE name the
 * readiness to wait for before calling the same function again.
 *
 *  - tls_read() and tls_write() drive the handshake themselves if it is not
 *    finished, so calling tls_handshake() first is optional (but it is the
 *    only way to learn when the handshake is over, e.g. to read the SNI).
 *  - After a tls_read(), call tls_pending(): mbedTLS may hold decrypted bytes
 *    the fd will never signal (the caller read less than a whole record).
 *    Loop on tls_read() while tls_pending() > 0 and there is room.
 *  - tls_write() takes at most one record (16 KiB) per call.  On
 *    TLS_WANT_WRITE the record is already encrypted inside the connection:
 *    call tls_write() again with the same bytes at the head of the buffer
 *    (n may have grown); it returns how many of them it took.
 *
 * Versions and suites (both sides): TLS 1.3 and 1.2 (mbedTLS 3.6), ECDHE
 * with ECDSA or RSA certificates, AES-GCM; no renegotiation.
 *
 * Session resumption (server): session tickets only, AES-256-GCM, sealed
 * with a key derived (HKDF-SHA-256) from the ticket secret's hash chain (one
 * link an hour, each the HMAC of the one before; a relay keeps only the link
 * its acceptable tickets need: tls_ticket_forget_past()) and the current
 * time epoch (epoch = now / ticket_lifetime); tickets of the
 * current and previous epoch are accepted and a ticket is honoured for at most
 * ticket_lifetime seconds after the full handshake.  Because the key depends
 * only on the secret and the clock, every relay worker forked from a parent
 * that created a tls_server (or called tls_set_ticket_secret() with the same
 * bytes) accepts the others' tickets, across key rotations and across
 * reloads.  A stateful session cache (mbedtls_ssl_cache) is deliberately not
 * used: it would be per worker, so a client landing on another worker misses.
 * Every client TLS 1.2 stack in use sends tickets.
 *
 * A resumed session presents no certificate, so tls_conn_own_cert_der() is
 * that of the vhost the resumed ClientHello's SNI selects.  A client that
 * resumes a ticket under another name than it got it for would compute its
 * channel binding over the other certificate: the binding then mismatches
 * and authentication fails closed.  Changing the ticket secret (or the
 * lifetime, on reload) invalidates outstanding tickets: full handshakes.
 *
 * Session resumption (client): each tls_client remembers the last session of
 * its back-end (one, keyed by server name) and offers it on the next
 * connection; a resumed connection still exposes the back-end's certificate
 * and is still checked against the pins.  A tls_client per back-end host is
 * best: a pool of hosts sharing one name just ping-pongs the cached session.
 *
 * Names: with a CA, the server name must be a DNS name (mbedTLS 2.28 does
 * not match IP addresses in certificates); pin back-ends reached by address.
 *
 * Memory: mbedTLS 2.28 as Debian builds it allocates two 16717-byte record
 * buffers per connection (no MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH, no
 * platform allocator hooks) and cannot serialise a TLS (non-DTLS) context,
 * so an idle connection cannot give its TLS state back: an established idle
 * server connection costs about 36 KiB of heap (test_tls prints the figure).
 * Between records, though, all but the front of each record buffer (the
 * record sequence counter) is spent: tls_conn_shrink() hands those pages
 * back to the kernel, so that an idle connection keeps about one page of
 * each buffer resident.
 *
 * Timeouts are the event loop's: nothing here limits how long a handshake
 * may take.
 *
 * Randomness: one CTR-DRBG per process, seeded from the entropy source on
 * first use.  It reseeds itself when it notices it is in a new process
 * (fork), so forked workers never share random streams.
 *
 * Not thread-safe: one event loop thread per process.
 */
#ifndef KERBGATE_TLS_H
#define KERBGATE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What a connection call returns (tls_read/tls_write return >= 0 counts). */
enum tls_status {
	TLS_OK         = 0,   /* done */
	TLS_WANT_READ  = -1,  /* wait until the fd is readable, call again */
	TLS_WANT_WRITE = -2,  /* wait until the fd is writable, call again */
	TLS_CLOSED     = -3,  /* the peer closed; tls_conn_error() says how */
	TLS_ERR        = -4,  /* failed for good; tls_conn_error() says why */
	TLS_WANT_SIGN  = -5,  /* server handshake waits for a remote signature
	                         (tls_server_set_signer): do not poll the fd;
	                         call again after tls_conn_signed() */
};

/* Default and bounds of tls_server_config.ticket_lifetime, seconds. */
#define TLS_TICKET_LIFETIME_DEFAULT 3600
#define TLS_TICKET_LIFETIME_MAX     86400

/* How many pins tls_client_config.pin_sha256 may list (for key rollover). */
#define TLS_MAX_PINS 4

/* Size of tls_end_point_hash()'s output buffer (SHA-512). */
#define TLS_END_POINT_HASH_MAX 64

/* One certificate the VIP can present. */
struct tls_vhost_config {
	const char *name;       /* host name this vhost serves, or NULL; SNI is
	                           also matched against the certificate's DNS
	                           names (wildcards included) */
	const char *cert_file;  /* PEM: the leaf first, then intermediates */
	const char *key_file;   /* PEM or DER private key, unencrypted, not
	                           accessible to "other" (mode 0600 or 0640) */
	const unsigned char *cert_pem;  /* or the chain itself (PEM, the
	                           leaf first; cert_file then only names it in
	                           errors): the sealed store's, via the key
	                           process (tlskey.h) */
	size_t cert_pem_len;
};

struct tls_server_config {
	const struct tls_vhost_config *vhosts;  /* the first is the default */
	size_t nvhosts;
	bool remote_keys;               /* true: key_file is not read; the
	                                   private-key operation goes to the
	                                   signer (tls_server_set_signer()) */
	unsigned int ticket_lifetime;   /* seconds; 0 = the default */
	bool no_session_tickets;        /* true: full handshake every time */
};

struct tls_client_config {
	const char *server_name;  /* SNI, and the name verified against the CA */
	const char *ca_file;      /* PEM bundle the back-end must chain to, or
	                             NULL */
	const char *pin_sha256;   /* SHA-256 of the back-end's leaf certificate
	                             (DER), 64 hex digits, colons allowed, up to
	                             TLS_MAX_PINS separated by spaces or commas;
	                             or NULL */
	bool no_session_resumption;
};

struct tls_server;
struct tls_client;
struct tls_conn;

/* ---- server side ------------------------------------------------------ */

/**
 * \brief       Require every client to present a certificate that chains to
 *              the CA(s) in \p ca_file (PEM): a handshake without one, or
 *              with one from another CA, fails.  For the management API
 *              (mutual TLS with a pinned management CA); the VIP never
 *              asks for client certificates.  Call before the first
 *              connection; tls_conn_peer_cert_der() then returns the
 *              client's certificate.
 *
 * \return      0, or -1 (err says why)
 */
int tls_server_require_client_cert(struct tls_server *srv, const char *ca_file,
    char *err, size_t errlen);

/**
 * \brief       Load the VIP's certificates and keys and build a server
 *              context.  Checks that every key matches its certificate.
 *
 * \param cfg    the configuration; not referenced after the call
 * \param err    where to write why it failed (admin words, never key bytes)
 * \param errlen size of err
 *
 * \return      a context holding one reference, or NULL (err says why)
 */
struct tls_server *tls_server_new(const struct tls_server_config *cfg,
    char *err, size_t errlen);

/**
 * \brief       Take one more reference on a server context.
 * \return      srv
 */
struct tls_server *tls_server_ref(struct tls_server *srv);

/**
 * \brief       Drop a reference; the context is freed with the last one.
 *              Connections hold their own reference, so on reload the
 *              caller builds a new context, swaps it in and unrefs the old
 *              one: old connections keep using it until they end.
 * \param srv   the context, or NULL
 */
void tls_server_unref(struct tls_server *srv);

/**
 * \brief       Start the server side of a TLS connection on an accepted fd.
 *
 * \param srv   the server context (a reference is taken)
 * \param fd    the accepted socket, already non-blocking; not closed by
 *              tls_conn_free()
 *
 * \return      the connection, or NULL if out of memory
 */
struct tls_conn *tls_conn_new_server(struct tls_server *srv, int fd);

/* ---- remote private keys (server side) -------------------------------- */

/* What the signature is (values travel in tlskey.h's frames). */
enum tls_sign_scheme {
	TLS_SIGN_ECDSA     = 1,   /* DER ECDSA-Sig-Value over the hash */
	TLS_SIGN_RSA_PKCS1 = 2,   /* PKCS#1 v1.5 with DigestInfo (TLS 1.2) */
	TLS_SIGN_RSA_PSS   = 3,   /* PSS, MGF1 with the same hash, salt the
	                             hash's length (TLS 1.3 rsa_pss_rsae_*) */
};

enum tls_sign_md {
	TLS_MD_SHA256 = 1,
	TLS_MD_SHA384 = 2,
	TLS_MD_SHA512 = 3,
};

/* Largest signature tls_conn_signed() takes (RSA-8192). */
#define TLS_SIG_MAX 1024

/* One private-key operation a handshake needs. */
struct tls_sign_request {
	unsigned int key_index;         /* the vhost, in tls_server_config
	                                   order */
	enum tls_sign_scheme scheme;
	enum tls_sign_md md;
	const uint8_t *hash;            /* valid during the call only */
	size_t hash_len;
};

/*
 * Starts a remote signature for connection c.  Returns 0 when the request
 * is on its way (the answer comes through tls_conn_signed(), which the
 * function may also call itself before it returns), -1 when it cannot be
 * sent (the handshake then fails with an internal_error alert).
 */
typedef int (*tls_sign_fn)(void *arg, struct tls_conn *c,
    const struct tls_sign_request *req);

/**
 * \brief       Route the private-key operations of a context made with
 *              remote_keys to fn (per process: a forked relay sets its
 *              own).  TLS 1.2's ServerKeyExchange and TLS 1.3's
 *              CertificateVerify both go there.
 */
void tls_server_set_signer(struct tls_server *srv, tls_sign_fn fn, void *arg);

/**
 * \brief       Deliver the signature a tls_sign_fn was asked for; then call
 *              tls_handshake() again.
 * \param c     the connection, whose handshake returned TLS_WANT_SIGN
 * \param sig   the signature, or NULL: the signature failed
 * \param len   its length (at most TLS_SIG_MAX)
 * \param why   with sig NULL: why, in admin words (tls_conn_error())
 * \return      0, or -1 if c was not waiting for a signature or the
 *              signature is too long (the handshake then fails)
 */
int tls_conn_signed(struct tls_conn *c, const uint8_t *sig, size_t len,
    const char *why);

/** \brief True while c's handshake waits for tls_conn_signed(). */
bool tls_conn_signing(const struct tls_conn *c);

/** \brief Attach the caller's pointer to a connection (the signer's way
 *         back from c to its own state). */
void tls_conn_set_data(struct tls_conn *c, void *data);

/** \brief The pointer set by tls_conn_set_data(), or NULL. */
void *tls_conn_data(const struct tls_conn *c);

/* ---- client side ------------------------------------------------------ */

/**
 * \brief       Build a client context for one back-end.  At least one of
 *              ca_file and pin_sha256 must be set: there is no way to talk
 *              to an unverified back-end.
 *
 *              With ca_file: the back-end's chain must verify against it and
 *              its certificate must name the server name (SAN DNS, or CN).
 *              With pin_sha256: the SHA-256 of its leaf certificate must be
 *              one of the pins (dates and names are not checked: the pin is
 *              the trust).  With both: both must hold.
 *
 * \param cfg    the configuration; not referenced after the call
 * \param err    where to write why it failed
 * \param errlen size of err
 *
 * \return      a context holding one reference, or NULL (err says why)
 */
struct tls_client *tls_client_new(const struct tls_client_config *cfg,
    char *err, size_t errlen);

/**
 * \brief       Present a client certificate (mutual TLS: kerbgate-roll to
 *              the appliances' management API).  Call before the first
 *              connection.  The key is checked against the certificate.
 *
 * \return      0, or -1 (err says why, never key bytes)
 */
int tls_client_use_cert(struct tls_client *cli, const char *cert_file,
    const char *key_file, char *err, size_t errlen);

/** \brief Take one more reference on a client context.  \return cli */
struct tls_client *tls_client_ref(struct tls_client *cli);

/** \brief Drop a reference; freed with the last one.  \param cli or NULL */
void tls_client_unref(struct tls_client *cli);

/**
 * \brief       Start the client side of a TLS connection on a connected (or
 *              connecting) fd.
 *
 * \param cli   the client context (a reference is taken)
 * \param fd    the socket, already non-blocking; not closed by
 *              tls_conn_free()
 * \param sni   server name to send and verify, or NULL for the configured
 *              server_name.  If there is none and a CA is configured, the
 *              handshake fails (no name to verify).
 *
 * \return      the connection, or NULL if out of memory
 */
struct tls_conn *tls_conn_new_client(struct tls_client *cli, int fd,
    const char *sni);

/* ---- both sides ------------------------------------------------------- */

/**
 * \brief       Advance the handshake.  On the client side it only returns
 *              TLS_OK once the back-end's certificate has been verified.
 * \return      TLS_OK (done, also on every later call), TLS_WANT_READ,
 *              TLS_WANT_WRITE, TLS_CLOSED (peer went away) or TLS_ERR
 */
int tls_handshake(struct tls_conn *c);

/**
 * \brief       Read decrypted application data (drives the handshake first
 *              if needed).
 * \param c     the connection
 * \param buf   where to put the data
 * \param n     room in buf, > 0
 * \return      bytes read (> 0), TLS_WANT_READ, TLS_WANT_WRITE, TLS_CLOSED
 *              (close_notify received, or the TCP connection ended: then
 *              tls_conn_error() is "the client closed the connection
 *              without close_notify"; a closed read side stays closed, but
 *              tls_write() still works, for half-closing peers), or TLS_ERR
 */
ssize_t tls_read(struct tls_conn *c, void *buf, size_t n);

/**
 * \brief       Number of bytes tls_read() can return without the fd becoming
 *              readable (decrypted data mbedTLS already holds; at least 1 if
 *              an undecrypted record is buffered).  The event loop must keep
 *              calling tls_read() while this is > 0.
 */
size_t tls_pending(const struct tls_conn *c);

/**
 * \brief       Encrypt and send application data (drives the handshake first
 *              if needed).  Takes at most one record's worth per call.
 * \param c     the connection
 * \param buf   the data
 * \param n     its length; after TLS_WANT_WRITE, call again with the same
 *              bytes at the head of buf (n may be larger)
 * \return      bytes taken (> 0; 0 only if n is 0), TLS_WANT_READ,
 *              TLS_WANT_WRITE, TLS_CLOSED or TLS_ERR
 */
ssize_t tls_write(struct tls_conn *c, const void *buf, size_t n);

/**
 * \brief       Send close_notify.  The caller may then shutdown(fd, SHUT_WR)
 *              or close the fd; there is no need to wait for the peer's.
 * \return      TLS_OK, TLS_WANT_WRITE (call again when writable) or TLS_ERR
 */
int tls_close_notify(struct tls_conn *c);

/**
 * \brief       Give the pages of the record buffers back to the kernel while
 *              the connection is idle: established, nothing half-received,
 *              undelivered (tls_pending() is 0) or unsent.  Costs a syscall
 *              or two and a few page faults when the connection is used
 *              again, so call it on connections that have gone quiet, not
 *              after every request.  Does nothing (returns 0) when the
 *              connection is not idle or nothing was used since the last
 *              call.  The buffers stay allocated; what they held is gone
 *              (it was spent: ciphertext, and plaintext already read).
 * \return      bytes given back (whole pages), 0 if none
 */
size_t tls_conn_shrink(struct tls_conn *c);

/** \brief Free a connection (not its fd) and drop its context reference. */
void tls_conn_free(struct tls_conn *c);

/**
 * \brief       Why the last call failed or how the peer closed, in admin
 *              words.  Never NULL; "" when there is nothing to say.
 */
const char *tls_conn_error(const struct tls_conn *c);

/** \brief True once the handshake finished. */
bool tls_conn_established(const struct tls_conn *c);

/** \brief True if the finished handshake resumed an earlier session. */
bool tls_conn_resumed(const struct tls_conn *c);

/**
 * \brief       Server side: the server name the client sent (SNI),
 *              lower-cased, or NULL if it sent none.  Client side: the name
 *              sent.  Valid from the end of the handshake.
 */
const char *tls_conn_sni(const struct tls_conn *c);

/**
 * \brief       Server side: the name of the vhost whose certificate was
 *              presented (its configured name, or NULL if it has none).
 */
const char *tls_conn_vhost(const struct tls_conn *c);

/** \brief Negotiated cipher suite name, e.g. for logs; NULL before. */
const char *tls_conn_cipher(const struct tls_conn *c);

/**
 * \brief       The DER of the certificate this side presented (server side:
 *              the selected vhost's leaf; also on resumed sessions).  This is
 *              what RFC 5929 tls-server-end-point hashes.
 * \param c     an established connection
 * \param len   set to the length
 * \return      the DER (owned by the connection's context) or NULL (client
 *              side, or handshake not finished)
 */
const uint8_t *tls_conn_own_cert_der(const struct tls_conn *c, size_t *len);

/**
 * \brief       The DER of the peer's leaf certificate (client side: the
 *              back-end's, also on resumed sessions).
 * \return      the DER (owned by the connection) or NULL (server side, or
 *              handshake not finished)
 */
const uint8_t *tls_conn_peer_cert_der(const struct tls_conn *c, size_t *len);

/* ---- certificates ----------------------------------------------------- */

/**
 * \brief       SHA-256 of a DER certificate (what pins compare).
 * \return      0, or -1 if the hash failed
 */
int tls_cert_sha256(const uint8_t *der, size_t len, uint8_t out[32]);

/**
 * \brief       RFC 5929 tls-server-end-point hash of a DER certificate: the
 *              hash of the certificate's signature algorithm, except that
 *              MD5 and SHA-1 become SHA-256.  The caller prefixes
 *              "tls-server-end-point:" to build GSS channel bindings.
 * \param der    the certificate
 * \param len    its length
 * \param out    TLS_END_POINT_HASH_MAX bytes
 * \param outlen set to the hash length (32, 48 or 64; 28 for SHA-224)
 * \return      0, or -1 if the certificate does not parse or its signature
 *              hash is unknown (RFC 5929 leaves the binding undefined)
 */
int tls_end_point_hash(const uint8_t *der, size_t len,
    uint8_t out[TLS_END_POINT_HASH_MAX], size_t *outlen);

/**
 * \brief       Set the process's ticket secret, e.g. to one the parent
 *              shares with workers it exec()s rather than forks, or one
 *              shared by cluster nodes.  Without it, the first
 *              tls_server_new() draws one at random.  Setting another
 *              secret invalidates every outstanding ticket.
 * \param secret 32 bytes or more; copied
 * \param len    its length
 * \return      0, or -1 if it is shorter than 32 bytes
 */
int tls_set_ticket_secret(const uint8_t *secret, size_t len);

/**
 * \brief       Give up, for good, the ticket keys of the past: keep only
 *              what opens the tickets this process may still accept at
 *              \p now (two of the longest ticket lifetimes served).  The
 *              keys come from a one-way chain, so what is given up cannot
 *              be derived again.  A relay calls it after fork(); ticket
 *              issue and parse call it too, so the window moves on.
 *              Without a ticket secret, or before it is due, it does
 *              nothing.
 * \param now   the current time
 */
void tls_ticket_forget_past(time_t now);

#endif /* KERBGATE_TLS_H */
