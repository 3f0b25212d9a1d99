/*
 * server.h: mgmtd's HTTPS connections: mutual TLS (tls.h), one request per
 * connection parsed by kerbgated's parser (http.h), answered by api.h.
 *
 * Bounds, so that no client can hold the service: a connection has
 * SERVER_CONN_TIMEOUT_S from accept to its last byte, a head at most
 * SERVER_MAX_HEAD bytes, a body at most max_body bytes (and only with a
 * Content-Length: chunked bodies get 411), and at most SERVER_MAX_CONNS
 * connections are open at once (more are closed at accept).
 */
#ifndef KG_MGMTD_SERVER_H
#define KG_MGMTD_SERVER_H

#include <stddef.h>

#include "api.h"

#define SERVER_CONN_TIMEOUT_S	30
#define SERVER_MAX_HEAD		16384
#define SERVER_MAX_CONNS	64

struct ev_loop;
struct tls_server;

struct server_config {
	int			 listen_fd;	/**< bound, listening, non-blocking */
	struct tls_server	*tls;		/**< requires client certificates */
	size_t			 max_body;
	const struct api_backend *api;
};

/** \brief Starts accepting on the loop; 0 or -1. */
int server_start(struct ev_loop *loop, const struct server_config *cfg);

/** \brief The status line's reason phrase for a status code. */
const char *server_reason(int status);

#endif
