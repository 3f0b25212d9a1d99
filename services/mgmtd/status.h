/*
 * status.h: what the Dashboard shows, gathered when the page asks (every
 * few seconds while it is open):
 *   - firmware: the release file, `kerbgate-bootstate status` and
 *     `rauc status --output-format=json` when those are installed;
 *   - uptime (/proc/uptime) and mgmtd's own;
 *   - virtual hosts and their pools, from kerbgated's configuration;
 *   - back-end health, authentications and failures by reason, from
 *     kerbgated's /metrics (its admin listener, plain HTTP on loopback),
 *     as counters: the page turns two readings into a rate;
 *   - the credential store's kvnos and states, and the last activation,
 *     from the keyholder (the control socket).
 * Each part that cannot be had says why, in its "error" member; the others
 * are still shown.  Runs in mgmtd's one thread: the metrics fetch and the
 * commands are bounded (STATUS_TIMEOUT_MS each).
 */
#ifndef KG_MGMTD_STATUS_H
#define KG_MGMTD_STATUS_H

#define STATUS_TIMEOUT_MS	2000
#define STATUS_MAX_METRICS	(1024 * 1024)

struct web;

/** \brief The dashboard's JSON object (a new reference; never NULL but on OOM). */
void *status_dashboard(struct web *w);

/**
 * \brief The firmware's facts: `version` (the release file), `bootstate`
 *        (`kerbgate-bootstate status`), `rauc` (`rauc status`, with
 *        \p detailed: `--detailed`) and `slots_present`, or `rauc_error`.
 *        A new reference (json_t *).
 */
struct json_t;
struct json_t *status_firmware(struct web *w, int detailed);

/**
 * \brief Runs \p argv (no shell), its output into \p out (NUL-ended,
 *        truncated to outlen - 1), waiting at most \p timeout_ms (then it
 *        is killed).
 * \return its exit status, or -1 when it could not be run (not installed).
 */
int status_run(char *const argv[], char *out, size_t outlen, int timeout_ms);

#endif
