/*
 * upload.h: firmware bundles from the browser, streamed to the upload
 * folder on /data and installed with RAUC.
 *
 * POST UPLOAD_PATH with the bundle as the body (Content-Length: its size):
 * refused from the head alone when the size is below UPLOAD_MIN or above
 * max_upload, or when the folder's file system (statvfs) has not the size
 * plus UPLOAD_SPARE free; refused at the first bytes when they are not a
 * squashfs (RAUC bundles are).  The body is written as it arrives, through
 * a buffer of at most one TLS record: the appliance never holds a bundle
 * in memory.  A connection that ends early leaves nothing behind (the
 * partial file is removed) and the page says "truncated".  When the last
 * byte is in, `rauc info` checks the signature and shows compatible and
 * version (the upload's answer waits for it, the event loop does not); a
 * refused bundle is removed with the reason in plain words.
 *
 *   GET  /api/v1/firmware           slots (rauc status, kerbgate-bootstate),
 *                                   the upload's and the install's state
 *   POST /api/v1/firmware/bundle    the upload (streamed)
 *   POST /api/v1/firmware/install   `rauc install` of the checked bundle,
 *                                   progress read from its output
 *   POST /api/v1/firmware/reboot    reboot (into the slot RAUC marked)
 *   POST /api/v1/firmware/switch    `rauc status mark-active other`: back
 *                                   to the other slot at the next boot
 *   DELETE /api/v1/firmware/bundle  drop the uploaded bundle
 */
#ifndef KG_MGMTD_UPLOAD_H
#define KG_MGMTD_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#define UPLOAD_PATH		"/api/v1/firmware/bundle"
#define UPLOAD_MIN		4096
#define UPLOAD_SPARE		(16ULL * 1024 * 1024)	/**< left free on /data */
#define UPLOAD_MAX_DEFAULT	(512L * 1024 * 1024)
#define UPLOAD_CHECK_MS		60000	/**< rauc info's time limit */

struct ev_loop;
struct web;
struct web_request;
struct web_response;

/** \brief Sets up the upload state; \p keyring may be NULL (RAUC's own). 0 or -1. */
int upload_init(struct web *w, struct ev_loop *loop, const char *keyring);

/** \brief Starts a streamed upload of \p declared bytes; 0, or the refusal's
 *         status with \p rs filled. */
int upload_begin(struct web *w, const struct web_request *rq, uint64_t declared,
    struct web_response *rs);

/** \brief The next \p n bytes; 0, or the refusal's status with \p rs filled
 *         (the upload is dropped). */
int upload_write(struct web *w, const void *buf, size_t n, struct web_response *rs);

/** \brief Takes the check's answer (200 or 422), and frees it. */
typedef void (*upload_done_fn)(void *arg, struct web_response *rs);

/**
 * \brief The last byte is in: starts `rauc info` on the bundle, beside the
 *        event loop.
 * \return 0 with \p rs filled when it could not start (the upload is
 *         dropped); 1 when it runs: \p done gets the answer with \p arg.
 */
int upload_end(struct web *w, struct web_response *rs, upload_done_fn done, void *arg);

/** \brief The uploader \p arg is gone: the check goes on, its answer is
 *         only the state GET /api/v1/firmware shows. */
void upload_detach(struct web *w, void *arg);

/** \brief The connection ended with \p left bytes still to come. */
void upload_abort(struct web *w, uint64_t left);

/** \brief Drops the upload with \p left bytes still to come, for \p reason
 *         (the page's word: "truncated", "too slow"); \p what says it in a
 *         sentence. */
void upload_stop(struct web *w, uint64_t left, const char *reason, const char *what);

/** \brief The other /api/v1/firmware routes (above). */
void upload_route(struct web *w, const struct web_request *rq, struct web_response *rs);

/**
 * \brief Plain words for RAUC's refusal in \p text: "bad signature",
 *        "wrong board", "older security version (anti-rollback)",
 *        "truncated or not a bundle", or NULL when none fits.
 */
const char *upload_reason(const char *text);

#endif
