/*
 * mgmtclient.h: one request to an appliance's management API (docs/api.md)
 * over mutual TLS: the appliance's certificate must chain to the configured
 * CA and name the host in the URL; ours comes from the management CA.
 */
#ifndef KG_ROLL_MGMTCLIENT_H
#define KG_ROLL_MGMTCLIENT_H

#include <stddef.h>

#include <jansson.h>

struct tls_client;

#define MC_TIMEOUT_MS	90000	/* a verify waits for the appliance's KDC */

/** One appliance's address, parsed from "https://HOST:PORT". */
struct mc_target {
	char	host[256];
	char	port[8];
};

/** \brief Parses an https URL (no path, no user part); 0 or -1. */
int mc_parse_url(const char *url, struct mc_target *t);

/**
 * \brief Sends METHOD PATH with a JSON body (or none) and reads the answer.
 *
 * \param status  the HTTP status
 * \param answer  the JSON object answered (new reference), or NULL
 * \return 0 when an answer came (whatever its status), -1 when the
 *         appliance could not be reached or did not answer HTTP (err says
 *         which: connect, TLS, timeout).
 */
int mc_request(struct tls_client *cli, const struct mc_target *t,
    const char *method, const char *path, const char *body, int *status,
    json_t **answer, char *err, size_t errlen);

/**
 * \brief As mc_request(), with a body of \p blen bytes of type \p ctype
 *        (NULL: no Content-Type), e.g. a credential package.
 */
int mc_request_bytes(struct tls_client *cli, const struct mc_target *t,
    const char *method, const char *path, const char *ctype, const void *body,
    size_t blen, int *status, json_t **answer, char *err, size_t errlen);

#endif
