/*
 * kcd.h: Kerberos constrained delegation in the keyholder.
 *
 * For a user the acceptor authenticated, obtain a service ticket to a
 * back-end's own SPN (http/cas1.corp.contoso.com) with the ASA's keys,
 * cache it per (user, back-end SPN), and build fresh GSS krb5 AP-REQs from
 * it for the relay to send as `Authorization: Negotiate`.  Session keys
 * and tickets never leave this module: callers see AP-REQ token bytes,
 * end times and reasons only.
 *
 * How a ticket is obtained (Heimdal's krb5_get_creds, MS-SFU):
 *
 *   - the ASA's own TGT, from its keys (a private MEMORY: keytab snapshot)
 *     into a MEMORY: ccache, obtained again `refresh_margin` before it
 *     expires; nothing is ever written to disk;
 *   - forwardable evidence (the client's service ticket for one of the
 *     ASA's SPNs, exactly as the acceptor received it): S4U2Proxy with it
 *     as the additional ticket (KRB5_GC_CONSTRAINED_DELEGATION);
 *   - evidence not forwardable and protocol transition allowed: S4U2Self
 *     for the user to the ASA, then S4U2Proxy with that ticket;
 *   - otherwise a refusal, without asking the KDC.
 *
 * Threading: KDC round trips happen on a small pool of worker threads
 * (each with its own krb5_context), never on the caller's thread.  The
 * caller (the keyholder's single-threaded poll loop) submits with
 * kcd_submit(): a cache hit answers at once; a miss queues one KDC job per
 * (user, SPN) however many requests wait for it (coalescing); completions
 * are announced on kcd_fd() (an eventfd) and collected with kcd_next().
 * Every function here except kcd_stats() must be called from that one
 * thread.  kcd_get() is a blocking wrapper for tools and tests.
 *
 * AP-REQs are built with Heimdal's gss_init_sec_context over a transient
 * MEMORY: ccache holding just the back-end ticket (gss_krb5_import_cred),
 * so the authenticator, its 0x8003 checksum (channel bindings, flags),
 * subkey and sequence number are exactly what a GSS initiator sends.
 *
 * Reasons (kcd_result.reason) name the failing step and what to check:
 *
 *   KDC_ERR_BADOPTION for http/cas1.corp.contoso.com: EXCHASA$ may not
 *     delegate to it, or the evidence ticket is not forwardable; check
 *     msDS-AllowedToDelegateTo and protocol transition (KDC: ...)
 *   carol@CORP.CONTOSO.COM is marked "sensitive and cannot be delegated":
 *     the KDC's S4U2Self ticket for her is not forwardable (...)
 *   KDC_ERR_S_PRINCIPAL_UNKNOWN for http/x.corp.contoso.com: no such SPN in
 *     the directory
 *   KDC unreachable (unable to reach any KDC in realm CORP.CONTOSO.COM)
 *   (see kcd.c for the full table)
 */
#ifndef KG_KCD_H
#define KG_KCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <krb5.h>

/** Defaults for the zero values of struct kcd_config. */
#define KCD_DEFAULT_KDC_TIMEOUT		5	/**< seconds per KDC exchange */
#define KCD_DEFAULT_CACHE_ENTRIES	1024
#define KCD_DEFAULT_REFRESH_MARGIN	300	/**< seconds */
#define KCD_DEFAULT_WORKERS		2
#define KCD_MAX_WORKERS			4
#define KCD_DEFAULT_MAX_PENDING		256	/**< distinct (user, SPN) in flight */
#define KCD_MAX_EVIDENCE_LEN		65536

/** Outcome of a request.  Stable: the keyholder maps these to metrics. */
enum kcd_status {
	KCD_OK = 0,
	KCD_PENDING,		/**< queued; the answer comes from kcd_next() */
	KCD_NOT_FORWARDABLE,	/**< evidence not forwardable, protocol
				     transition not allowed (no KDC asked) */
	KCD_USER_SENSITIVE,	/**< "sensitive and cannot be delegated" */
	KCD_NOT_ALLOWED,	/**< the ASA may not delegate to the SPN */
	KCD_NO_PROTOCOL_TRANSITION, /**< S4U2Self refused for the ASA */
	KCD_UNKNOWN_SPN,	/**< no such back-end SPN */
	KCD_UNKNOWN_USER,	/**< no such user (S4U2Self) */
	KCD_EVIDENCE_INVALID,	/**< evidence malformed, expired, not the
				     ASA's, or for another user */
	KCD_ASA_CREDENTIALS,	/**< the ASA's own AS-REQ failed: keys,
				     account disabled, no key in keytab */
	KCD_KDC_UNREACHABLE,
	KCD_CLOCK_SKEW,
	KCD_KDC_ERROR,		/**< other KDC refusals (reason says which) */
	KCD_BUSY,		/**< too many (user, SPN) in flight */
	KCD_INTERNAL,		/**< invalid argument, out of memory */
	KCD_STATUS_MAX
};

struct kcd;
struct kcd_ticket;	/* a cached back-end ticket, reference counted */
struct kcd_apctx;	/* an initiator context waiting for an AP-REP */

/** What a ticket-fetch function gets (the real one, or a test's). */
struct kcd_fetch_in {
	const char *user;		/**< e.g. alice@CORP.CONTOSO.COM */
	const char *spn;		/**< canonical, with @REALM */
	const uint8_t *evidence;	/**< DER Ticket */
	size_t evidence_len;
	bool forwardable;
	bool allow_protocol_transition;
};

/**
 * A ticket-fetch function: tests replace the KDC with one.  Runs on a
 * worker thread with that worker's krb5_context.  On KCD_OK it sets *out
 * (allocated with krb5 in \p ctx); otherwise it writes \p reason.
 * \p via_pt is set when protocol transition was used.
 */
typedef enum kcd_status (*kcd_fetch_fn)(void *arg, krb5_context ctx,
    const struct kcd_fetch_in *in, krb5_creds **out, bool *via_pt,
    char *reason, size_t reasonlen);

/** Configuration of kcd_new().  Zero values select the defaults. */
struct kcd_config {
	const char *principal;		/**< the ASA, "EXCHASA$@CORP.CONTOSO.COM" */
	/* Keys, one of: */
	krb5_context keytab_ctx;	/**< the context that owns \p keytab */
	krb5_keytab keytab;		/**< e.g. the acceptor's MEMORY: keytab;
					     read once, in kcd_new() */
	const char *keytab_name;	/**< or a keytab name or path (tests, tools) */
	int kvno;			/**< the kvno to use; 0: the highest held */
	bool keys_later;		/**< no keys yet (an appliance before its
					     first credential): start anyway; jobs
					     fail with KCD_ASA_CREDENTIALS until
					     kcd_set_keys() */
	const char *realm;		/**< NULL: the principal's realm */
	const char *const *kdcs;	/**< KDCs ("host" or "host:port"); NULL:
					     krb5.conf's (and DNS if it says so) */
	size_t nkdcs;
	int kdc_timeout;		/**< seconds per KDC exchange */
	size_t cache_entries;		/**< back-end tickets kept (LRU) */
	int refresh_margin;		/**< seconds: a ticket (and the ASA's TGT)
					     closer than this to its end is not used */
	unsigned workers;		/**< KDC threads, 1..KCD_MAX_WORKERS */
	size_t max_pending;		/**< bound on distinct keys in flight */
	/* Tests only: */
	kcd_fetch_fn fetch;		/**< NULL: the KDC */
	void *fetch_arg;
	time_t (*clock)(void);		/**< NULL: time(NULL) */
};

/** A request: from the acceptor's accept_result and the pool's config. */
struct kcd_request {
	const char *user;		/**< accept_result.client */
	const uint8_t *evidence;	/**< accept_result.ticket */
	size_t evidence_len;		/**< accept_result.ticket_len */
	bool forwardable;		/**< accept_result.forwardable */
	const char *spn;		/**< back-end SPN, "@REALM" optional */
	bool allow_protocol_transition;	/**< the pool's policy */
};

/** An answer.  Release with kcd_result_clear(). */
struct kcd_result {
	enum kcd_status status;
	uint64_t cookie;		/**< the submitter's, from kcd_next() */
	char reason[512];		/**< admin-readable; empty on success */
	struct kcd_ticket *ticket;	/**< KCD_OK: a reference for kcd_make_ap_req() */
	time_t endtime;			/**< KCD_OK: the back-end ticket's end */
	bool cached;			/**< KCD_OK: answered from the cache */
	bool coalesced;			/**< answered by another request's KDC work */
	bool protocol_transition;	/**< S4U2Self was used */
};

/** Counters (monotonic, except cached and in_flight). */
struct kcd_stats {
	uint64_t requests;		/**< kcd_submit() calls */
	uint64_t cache_hits;
	uint64_t coalesced;		/**< waits joined to a KDC job in flight */
	uint64_t kdc_as;		/**< AS-REQs for the ASA's TGT */
	uint64_t kdc_s4u2self;		/**< S4U2Self TGS-REQs */
	uint64_t kdc_s4u2proxy;		/**< S4U2Proxy TGS-REQs */
	uint64_t jobs;			/**< KDC jobs started (one per miss) */
	uint64_t ok;			/**< answers with a ticket */
	uint64_t evictions;		/**< LRU evictions */
	uint64_t failures[KCD_STATUS_MAX];	/**< answers by status */
	size_t cached;			/**< tickets in the cache now */
	size_t in_flight;		/**< KDC jobs queued or running now */
};

/**
 * \brief          Create the module and start its worker threads.
 *
 *                 Copies the ASA's keys of one kvno (cfg->kvno, or the
 *                 highest held) under cfg->principal from the keytab into a
 *                 private MEMORY: keytab, so that the caller's keytab may
 *                 change or go away afterwards.  Asks no KDC: the ASA's TGT
 *                 is obtained by the first job (or kcd_prefetch_tgt()).
 *
 * \param cfg      Configuration (copied).
 * \param err      Receives a message on failure.
 * \param errlen   Size of \p err.
 *
 * \return         The module, or NULL (no key for the principal, bad
 *                 principal or KDC name, thread or memory failure).
 */
struct kcd *kcd_new(const struct kcd_config *cfg, char *err, size_t errlen);

/**
 * \brief          Stop the workers (a KDC exchange in progress finishes
 *                 within its timeout), drop every ticket and key (zeroized)
 *                 and free the module.  Outstanding kcd_ticket and
 *                 kcd_apctx handles must be released first.  NULL is fine.
 */
void kcd_free(struct kcd *k);

/**
 * \brief          Replace the ASA's keys (credential rotation: call it
 *                 when a new kvno becomes active).  Cached back-end tickets
 *                 stay; the next KDC job gets a new TGT with the new keys.
 *
 * \param k        The module.
 * \param ctx      The context owning \p kt.
 * \param kt       Keytab holding the keys under the ASA principal.
 * \param kvno     The kvno to use; 0: the highest held.
 * \param err      Receives a message on failure.
 * \param errlen   Size of \p err.
 *
 * \return         The number of keys taken (> 0), or -1 (old keys kept).
 */
int kcd_set_keys(struct kcd *k, krb5_context ctx, krb5_keytab kt, int kvno,
                 char *err, size_t errlen);

/**
 * \brief          Queue getting the ASA's TGT now, so that the first user
 *                 does not wait for the AS exchange.  Its outcome is seen
 *                 in the log of the first job and in kcd_stats().
 *
 * \return         0, or -1 if the queue is full.
 */
int kcd_prefetch_tgt(struct kcd *k);

/**
 * \brief          The descriptor to poll for POLLIN: readable when
 *                 kcd_next() has answers.
 */
int kcd_fd(const struct kcd *k);

/**
 * \brief          Ask for a back-end ticket for a user, without blocking.
 *
 * \param k        The module.
 * \param req      The request (copied as needed).
 * \param cookie   The caller's tag, returned with the answer by kcd_next().
 * \param out      Always initialised.  KCD_OK: a cached ticket (out->ticket
 *                 holds a reference).  KCD_PENDING: wait for kcd_fd() and
 *                 collect the answer with kcd_next(); nothing to clear.
 *                 Anything else: a refusal with its reason.
 *
 * \return         out->status.
 */
enum kcd_status kcd_submit(struct kcd *k, const struct kcd_request *req, uint64_t cookie,
                           struct kcd_result *out);

/**
 * \brief          Collect one answer to a KCD_PENDING submission.
 *
 *                 Every request that waited on the same (user, SPN) gets
 *                 its own answer, each with its own cookie and ticket
 *                 reference.  Call it until it returns 0 after kcd_fd()
 *                 polls readable.
 *
 * \param k        The module.
 * \param out      Receives the answer (clear it with kcd_result_clear()).
 *
 * \return         1 if an answer was returned, 0 if none is ready.
 */
int kcd_next(struct kcd *k, struct kcd_result *out);

/**
 * \brief          Blocking convenience for tools and tests: kcd_submit(),
 *                 then wait for its answer.  Answers to other cookies that
 *                 arrive meanwhile stay queued for kcd_next().
 *
 * \return         out->status (never KCD_PENDING).
 */
enum kcd_status kcd_get(struct kcd *k, const char *user_principal,
                        const uint8_t *evidence_ticket_der, size_t len, bool forwardable,
                        const char *backend_spn, bool allow_protocol_transition,
                        struct kcd_result *out);

/**
 * \brief          Release a result's ticket reference and zero it.
 */
void kcd_result_clear(struct kcd_result *res);

/**
 * \brief          Build a GSS-framed krb5 AP-REQ (the raw krb5 mechanism
 *                 token that IIS and mod_auth_gssapi accept inside
 *                 `Negotiate`) from a back-end ticket: a fresh authenticator
 *                 and subkey each call, GSS flags replay, sequence, conf,
 *                 integ (and mutual if asked), and channel bindings.
 *
 * \param k        The module.
 * \param t        The ticket (kcd_result.ticket).
 * \param cb_app_data Channel-binding application data, e.g.
 *                 "tls-server-end-point:" followed by the back-end
 *                 certificate's hash (RFC 5929); NULL: no bindings.
 * \param cb_len   Its length.
 * \param mutual   Ask the back-end for an AP-REP.
 * \param token    Receives the token (free() it).
 * \param token_len Receives its length.
 * \param state    With \p mutual, receives the context that
 *                 kcd_verify_ap_rep() checks the answer with (release with
 *                 kcd_apctx_free()); without, set to NULL.  May be NULL
 *                 only without \p mutual.
 * \param err      Receives a message on failure.
 * \param errlen   Size of \p err.
 *
 * \return         0 or -1.
 */
int kcd_make_ap_req(struct kcd *k, const struct kcd_ticket *t, const uint8_t *cb_app_data,
                    size_t cb_len, bool mutual, uint8_t **token, size_t *token_len,
                    struct kcd_apctx **state, char *err, size_t errlen);

/**
 * \brief          Check a back-end's mutual-authentication answer: the
 *                 GSS-framed krb5 AP-REP from its `WWW-Authenticate:
 *                 Negotiate` (unwrap SPNEGO first, negotiate.h).
 *
 * \param ctx      From kcd_make_ap_req(); usable once.
 * \param token    The token.
 * \param len      Its length.
 * \param err      Receives a message on failure.
 * \param errlen   Size of \p err.
 *
 * \return         0 if the back-end proved it holds the ticket's key, -1 if not.
 */
int kcd_verify_ap_rep(struct kcd_apctx *ctx, const uint8_t *token, size_t len,
                      char *err, size_t errlen);

/** \brief Release an AP-REP verification context (NULL is fine). */
void kcd_apctx_free(struct kcd_apctx *ctx);

/** \brief Take one more reference to a ticket (e.g. to keep it past a result). */
struct kcd_ticket *kcd_ticket_ref(struct kcd_ticket *t);

/** \brief Drop a reference; the last one frees (zeroizes) the ticket. */
void kcd_ticket_unref(struct kcd_ticket *t);

/** \brief The ticket's client ("alice@CORP.CONTOSO.COM"), server SPN and end time. */
const char *kcd_ticket_client(const struct kcd_ticket *t);
const char *kcd_ticket_server(const struct kcd_ticket *t);
time_t kcd_ticket_endtime(const struct kcd_ticket *t);

/** \brief Drop every cached ticket (requests in flight are unaffected). */
void kcd_flush(struct kcd *k);

/** \brief A snapshot of the counters (any thread). */
void kcd_stats(struct kcd *k, struct kcd_stats *out);

/** \brief A short name of a status, for metrics ("not-allowed", ...). */
const char *kcd_status_name(enum kcd_status status);

/** Which KDC exchange failed, for kcd_explain(). */
enum kcd_step {
	KCD_STEP_TGT,		/**< the ASA's AS-REQ */
	KCD_STEP_S4U2SELF,
	KCD_STEP_S4U2PROXY,
};

/** Facts kcd_explain() words a reason from. */
struct kcd_error_ctx {
	enum kcd_step step;
	const char *asa;		/**< EXCHASA$@CORP.CONTOSO.COM */
	const char *user;
	const char *spn;
	const char *realm;
	const char *kdc_text;		/**< Heimdal's message (KDC e-text), or NULL */
	int kvno;			/**< the ASA kvno in use (TGT step) */
	bool evidence_forwardable;	/**< the ticket sent to S4U2Proxy */
	bool protocol_transition;	/**< that ticket came from S4U2Self */
	bool asa_has_pt;		/**< S4U2Self has given forwardable
					     tickets to other users */
};

/**
 * \brief          Map a Kerberos error to a status and an admin-readable
 *                 reason (exposed for tests and the status page).
 *
 * \param code     The krb5_error_code.
 * \param e        What was being done.
 * \param reason   Receives the reason.
 * \param len      Its size.
 *
 * \return         The status.
 */
enum kcd_status kcd_explain(krb5_error_code code, const struct kcd_error_ctx *e,
                            char *reason, size_t len);

#endif /* KG_KCD_H */
