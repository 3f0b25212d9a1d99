/*
 * server.h: mgmtd's HTTPS connections: mutual TLS (tls.h), one request per
 * connection parsed by kerbgated's parser (http.h), answered by api.h.
 *
 * Bounds, so that no client can hold the service: a connection has
 * SERVER_CONN_TIMEOUT_S from accept to its last byte (a streamed firmware
 * upload: SERVER_CONN_TIMEOUT_S without a byte), a head at most
 * SERVER_MAX_HEAD bytes, a body at most max_body bytes (and only with a
 * Content-Length: chunked bodies get 411), and at most SERVER_MAX_CONNS
 * connections are open at once on each listener, SERVER_MAX_PER_PEER of
 * them from one address (server.c's make_room() says which connection a
 * newcomer may push out; when none may go, the newcomer is closed).  A
 * streamed upload must average SERVER_MIN_UPLOAD_RATE after its first
 * minute.
 */
#ifndef KG_MGMTD_SERVER_H
#define KG_MGMTD_SERVER_H

#include <stddef.h>

#include "api.h"

#define SERVER_CONN_TIMEOUT_S	30
#define SERVER_MAX_HEAD		16384
#define SERVER_MAX_CONNS	64
#define SERVER_MAX_PER_PEER	16
#define SERVER_MIN_UPLOAD_RATE	4096.0	/**< bytes a second */
#define SERVER_READ_TURN	(256 * 1024)	/**< streamed bytes a turn */

struct ev_loop;
struct tls_server;
struct web;

struct server_config {
	int			 listen_fd;	/**< bound, listening, non-blocking */
	struct tls_server	*tls;		/**< requires client certificates (the
						     API); read at each accept, so
						     it may be swapped (web) */
	size_t			 max_body;
	const struct api_backend *api;
	struct web		*web;		/**< not NULL: the web listener
						     (web.h): no client certificate,
						     a login; POST UPLOAD_PATH
						     streams its body (upload.h) */
};

/** \brief Starts accepting on the loop, one call per listener; 0 or -1. */
int server_start(struct ev_loop *loop, const struct server_config *cfg);

/** \brief The status line's reason phrase for a status code. */
const char *server_reason(int status);

#endif
