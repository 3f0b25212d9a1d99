/*
 * web.h: the browser's side of kerbgate-mgmtd: a second HTTPS listener,
 * without client certificates, where the admin logs in with a password
 * (webpass.h), holds a session (session.h) and sends a CSRF token with
 * every change; login attempts are rate-limited (ratelimit.h).  It serves
 * the pages (static files from the www folder) and the JSON routes they
 * use (docs/api.md, "The web listener"); credential changes go through the
 * same api_handle() as the mutual-TLS API, with the web admin as "who".
 *
 * Every request that is not GET or HEAD must carry an Origin header equal
 * to https://<Host> (and, when the browser sends it, Sec-Fetch-Site:
 * same-origin); every one behind the login also the session's token in
 * X-CSRF-Token.  The session cookie is __Host-kgsid: Secure, HttpOnly,
 * SameSite=Strict, Path=/.
 */
#ifndef KG_MGMTD_WEB_H
#define KG_MGMTD_WEB_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "api.h"
#include "http.h"
#include "ratelimit.h"
#include "session.h"
#include "webpass.h"

#define WEB_COOKIE		"__Host-kgsid"
#define WEB_MAX_STATIC		(512 * 1024)	/**< largest page file served */

struct upload;

/** The "web" object of mgmtd.json (docs/api.md). */
struct web_conf {
	const char	*listen;		/**< ADDRESS:PORT */
	const char	*state_dir;		/**< admin.hash, setup.hash, device.pem/key */
	const char	*www;			/**< the pages */
	const char	*cert, *key;		/**< default: state_dir/device.{pem,key} */
	const char	*metrics;		/**< kerbgated's admin listener, ADDRESS:PORT */
	const char	*kerbgated_conf;	/**< for the virtual hosts */
	const char	*release_file;		/**< the firmware version */
	const char	*upload_dir;		/**< firmware bundles are written here */
	const char	*audit_log;		/**< read back for the audit page */
	const char	*power_socket;		/**< kerbgate-powerd's, for a reboot */
	long		 idle_s, max_s;		/**< session timeouts */
	long		 max_upload;		/**< largest bundle, bytes */
};

/** One request on the web listener. */
struct web_request {
	const struct http_head	*head;
	const char		*body;
	size_t			 body_len;
	const char		*peer;		/**< the client's address, printable */
};

struct web_response {
	int	 status;
	const char *ctype;			/**< a static string */
	char	*body;				/**< malloc'd */
	size_t	 body_len;
	char	 headers[512];			/**< extra header lines, each CRLF-ended */
	int	 is_page;			/**< a page file: its own cache and CSP */
};

/** The web listener's state. */
struct web {
	struct web_conf		 conf;
	char			 cert[256], key[256];
	struct session_table	 sessions;
	struct ratelimit	 rl;
	const struct api_backend *api;
	int			 audit_fd;	/**< append */
	int			 audit_rfd;	/**< read: opened before privileges go */
	char			 admin_hash[WEBPASS_HASH_MAX];
	char			 setup_hash[WEBPASS_HASH_MAX];
	/** Builds a TLS context from the (new) certificate and swaps it in. */
	int			(*reload_cert)(void *ctx, char *err, size_t errlen);
	void			*reload_ctx;
	/** Seconds; NULL: time(NULL).  Tests set it. */
	time_t			(*now)(void);
	struct upload		*upload;	/**< the firmware upload (upload.h) */
	time_t			 started;
};

/**
 * \brief At start, as root: makes the state folder (0700, owned by the
 *        service user), the device certificate when there is none (its
 *        SHA-256 fingerprint is logged) and, when no admin password is
 *        set, a setup code, shown on the console and in the log (only its
 *        hash is kept).  uid/gid: the service user, or -1.
 * \return 0, or -1 with \p err.
 */
int web_first_start(struct web *w, const struct web_conf *conf, uid_t uid, gid_t gid,
    char *err, size_t errlen);

/** \brief Sets up the rest of \p w after web_first_start(). */
void web_init(struct web *w, const struct api_backend *api, int audit_fd, int audit_rfd);

/** \brief Handles one request; always fills \p rs. */
void web_handle(struct web *w, const struct web_request *rq, struct web_response *rs);

/** \brief Frees an answer's body. */
void web_response_free(struct web_response *rs);

/**
 * \brief For streamed bodies (the firmware upload): may this request go
 *        on?  Checks origin, session and CSRF token as web_handle() does.
 * \return 0, or the refusal's status with \p rs filled.
 */
int web_authorize(struct web *w, const struct web_request *rq, struct web_response *rs);

/** \brief Fills \p rs with a JSON refusal {"ok":false,"error","message"}. */
int web_refuse(struct web_response *rs, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/** \brief Fills \p rs with \p obj (its reference is taken). */
int web_json(struct web_response *rs, int status, void *obj);

/** \brief Appends a line to the audit log as the web admin from \p peer. */
void web_audit(struct web *w, const char *peer, const char *action, const char *result);

#endif
