/*
 * kerbgated configuration: the data model and its JSON loader.
 *
 * The whole configuration is one JSON file (docs/config.md).  It is loaded
 * into these structures by the parent at start and on SIGHUP, checked, and
 * handed to the relay workers and the keyholder when they are forked, so
 * that every process sees the same, already validated, configuration.
 */
#ifndef KG_CONF_H
#define KG_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define CONF_MAX_NAME	256
#define KG_HEADER_SECRET_MAX	64	/**< bytes of a header secret */
#define CONF_MAX_HEADER_POOLS	8	/**< header-mode pools one vhost's
					     negotiate routes may use (grants) */
/** replay_per_principal when the key is absent: replay_entries / 16. */
#define CONF_REPLAY_QUOTA_AUTO	((unsigned)-1)

/** Channel-binding (Extended Protection) policy of a virtual host. */
enum conf_cb_mode {
	CONF_CB_OFF = 0,	/**< ignore client bindings */
	CONF_CB_ACCEPT,		/**< bindings, when sent, must match */
	CONF_CB_REQUIRE,	/**< bindings must be sent and match */
};

/** What a route demands of the client. */
enum conf_auth {
	CONF_AUTH_NEGOTIATE = 0,
	CONF_AUTH_NONE,
};

/** How a pool tells a back-end who the user is. */
enum conf_pool_mode {
	CONF_MODE_HEADER = 0,	/**< signed X-Kerbgate-User header */
	CONF_MODE_KCD,		/**< constrained delegation (issue 10) */
};

enum conf_balance {
	CONF_BALANCE_ROUND_ROBIN = 0,
	CONF_BALANCE_LEAST_CONN,
};

enum conf_persist {
	CONF_PERSIST_NONE = 0,
	CONF_PERSIST_SOURCE,	/**< same client address, same server */
	CONF_PERSIST_COOKIE,	/**< a kerbgate cookie names the server */
	CONF_PERSIST_USER,	/**< same authenticated user, same server */
};

struct conf_listener {
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	char			 text[64];	/**< "10.77.0.100:443" */
	int			 tls;
};

struct conf_route {
	char		 path[CONF_MAX_NAME];	/**< prefix match */
	enum conf_auth	 auth;
	int		 pool;			/**< index into conf.pools */
	unsigned	 idle_timeout_ms;	/**< 0: the global default */
	unsigned	 first_byte_timeout_ms;	/**< 0: the pool's */
};

struct conf_vhost {
	char			 name[CONF_MAX_NAME];
	char			 (*aliases)[CONF_MAX_NAME];
	size_t			 naliases;
	char			 (*spns)[CONF_MAX_NAME];
	size_t			 nspns;
	char			 cert_file[CONF_MAX_NAME];
	char			 key_file[CONF_MAX_NAME];
	enum conf_cb_mode	 channel_binding;
	int			 cookie;		/**< signed session cookie on */
	unsigned		 cookie_lifetime_s;
	struct conf_route	*routes;
	size_t			 nroutes;
};

struct conf_server {
	char			 name[CONF_MAX_NAME];	/**< host name, SNI */
	char			 spn[CONF_MAX_NAME];	/**< kcd: its own SPN */
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	char			 text[CONF_MAX_NAME + 16];
};

struct conf_health {
	char		 path[CONF_MAX_NAME];
	int		 expect_status;
	unsigned	 interval_ms;
	unsigned	 timeout_ms;
	unsigned	 rise;
	unsigned	 fall;
};

struct conf_pool {
	char			 name[CONF_MAX_NAME];
	enum conf_pool_mode	 mode;
	enum conf_balance	 balance;
	enum conf_persist	 persist;
	char			 header_secret_file[CONF_MAX_NAME];	/**< header
						   mode: read by the keyholder only */
	int			 tls;
	char			 tls_ca_file[CONF_MAX_NAME];
	uint8_t			 tls_pin[32];
	int			 tls_has_pin;
	unsigned		 connect_timeout_ms;
	unsigned		 first_byte_timeout_ms;
	int			 protocol_transition;	/**< kcd: S4U2Self when
							     the evidence is not
							     forwardable */
	int			 mutual;		/**< kcd: verify the
							     back-end's AP-REP */
	struct conf_health	 health;
	struct conf_server	*servers;
	size_t			 nservers;
};

struct conf {
	char			 path[CONF_MAX_NAME];
	char			 relay_user[64];
	char			 keyholder_user[64];
	/* sandbox.c: chroot, NoNewPrivs, seccomp for every child */
	int			 sandbox_enabled;
	char			 sandbox_root[CONF_MAX_NAME];
	int			 sandbox_test_trigger;	/**< TEST ONLY */
	unsigned		 workers;	/**< 0: one per core */
	char			 keytab[CONF_MAX_NAME];
	unsigned		 clock_skew_s;
	int			 allow_rc4;
	unsigned		 replay_entries;
	unsigned		 replay_per_principal;	/**< 0: no quota;
						     CONF_REPLAY_QUOTA_AUTO:
						     replay_entries / 16 */
	/* limits and timeouts */
	size_t			 max_header_bytes;
	unsigned		 max_headers;
	unsigned		 max_connections;
	unsigned		 header_timeout_ms;
	unsigned		 idle_timeout_ms;
	unsigned		 max_connections_per_source;	/**< 0: no cap */
	/* admin listener (/metrics) */
	int			 admin_enabled;
	struct conf_listener	 admin;
	struct conf_listener	*listeners;
	size_t			 nlisteners;
	struct conf_vhost	*vhosts;
	size_t			 nvhosts;
	struct conf_pool	*pools;
	size_t			 npools;
	/* constrained delegation (pools in kcd mode) */
	int			 kcd_enabled;	/**< some pool is in kcd mode */
	char			 kcd_principal[CONF_MAX_NAME];	/**< the ASA */
	char			 (*kcd_kdcs)[CONF_MAX_NAME];	/**< or krb5.conf's */
	size_t			 kcd_nkdcs;
	unsigned		 kcd_timeout_s;
	unsigned		 kcd_cache_entries;
	unsigned		 kcd_sessions;	/**< evidence tickets kept */
	/* credentials (credctl.h): "" = not configured */
	char			 cred_store[CONF_MAX_NAME];	/**< sealed store */
	char			 cred_device_key[CONF_MAX_NAME];
	char			 cred_control_socket[CONF_MAX_NAME];
	char			 cred_control_group[CONF_MAX_NAME];	/**< may use the socket too (kerbgate-mgmtd's) */
	unsigned		 cred_retention_s;	/**< old kvnos kept */
};

/**
 * Loads and checks a configuration file.
 *
 * \param path	the JSON file
 * \param out	filled on success; free with conf_free()
 * \param err	on failure, a message naming the file and where in it the
 *		mistake is ("kerbgated.json: pools[0].servers[1].port: ...")
 * \param errlen size of err
 * \return 0 on success, KG_ERR_CONFIG on a mistake in the file.
 */
int conf_load(const char *path, struct conf *out, char *err, size_t errlen);

/** Frees everything conf_load() allocated and zeroizes the secrets. */
void conf_free(struct conf *c);

/**
 * Finds the virtual host for a Host header or SNI name (case-insensitive,
 * port stripped).  Returns its index, or -1 when none matches.
 */
int conf_vhost_find(const struct conf *c, const char *host, size_t len);

/** Finds the longest route prefix matching a request target, or NULL. */
const struct conf_route *conf_route_find(const struct conf_vhost *v,
    const char *target, size_t len);

#endif /* KG_CONF_H */
