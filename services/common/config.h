/*
 * config.h - loading JSON configuration (jansson) with errors an
 * administrator can act on.
 *
 * Syntax errors name the place in the file:
 *   /etc/kerbgate.json:12:7: '}' expected near ']'
 * Semantic errors name the JSON path of the bad value:
 *   /etc/kerbgate.json: pools[1].servers[0].port: expected an integer from
 *   1 to 65535, got "eighty"
 *
 * A loader walks the tree with a struct kg_cfgctx, pushing each key or
 * array index it descends into, and reads values with the kg_cfg_*()
 * accessors.  Each accessor takes an object and a key, or a NULL key to
 * check obj itself (an array element, with its index pushed).  They return
 *   1               the value was present and *out is set,
 *   0               an optional key was absent (*out is untouched, so set
 *                   the default first),
 *   KG_ERR_CONFIG   the value is missing or wrong; the error is recorded.
 * Only the first error's message is kept; ctx->nerrors counts them all, so
 * a loader may check everything and test nerrors once at the end.
 *
 * Error messages quote offending values (shortened and escaped), so keep
 * secrets out of configuration files: reference key files by path instead.
 */
#ifndef KG_CONFIG_H
#define KG_CONFIG_H

#include <stddef.h>

#include <jansson.h>

/** Largest configuration file kg_config_load() accepts. */
#define KG_CONFIG_MAX_BYTES	(1024 * 1024)
#define KG_CFG_PATH_MAX		192
#define KG_CFG_DEPTH_MAX	16

struct kg_cfgerr {
	char msg[256];
};

struct kg_cfgctx {
	const char		*file;	/**< name used in messages */
	struct kg_cfgerr	*err;	/**< receives the first error; may be NULL */
	int			 nerrors;
	int			 depth;
	char			 path[KG_CFG_PATH_MAX];
	size_t			 mark[KG_CFG_DEPTH_MAX];
};

/**
 * \brief          Read and parse a configuration file.  Duplicate keys are
 *                 an error; the top level must be an object.
 *
 * \param path     file to read (a regular file, at most KG_CONFIG_MAX_BYTES).
 * \param err      receives "path: No such file or directory",
 *                 "path:LINE:COL: what" and the like on failure.
 *
 * \return         a new reference (json_decref() it), or NULL on error.
 */
json_t *kg_config_load(const char *path, struct kg_cfgerr *err);

/**
 * \brief          Makes jansson wipe every block before it releases it: its
 *                 lexer and its writer keep copies of each string they handle
 *                 (a password in a request body or an answer) and free them
 *                 without wiping.  Call once, before the first JSON call.
 * \param alloc    the allocator jansson uses; its blocks must be malloc's
 *                 (their size is read with malloc_usable_size()).
 * \param release  frees a block of alloc's after it was wiped.
 */
void kg_json_wipe_on_free(void *(*alloc)(size_t), void (*release)(void *));

/**
 * \brief          As kg_config_load() for a configuration already in memory
 *                 (an upload to the management API, say).
 *
 * \param name     name used in messages.
 * \param data     the JSON text (need not be NUL-terminated).
 * \param len      its length.
 * \param err      receives the error.
 */
json_t *kg_config_parse(const char *name, const char *data, size_t len,
    struct kg_cfgerr *err);

/**
 * \brief          Start walking a configuration at the top level.
 *
 * \param ctx      the context.
 * \param file     name used in messages (not copied: must outlive ctx).
 * \param err      receives the first error, or NULL.
 */
void kg_cfgctx_init(struct kg_cfgctx *ctx, const char *file,
    struct kg_cfgerr *err);

/** \brief Descend into obj[key]: the path gains ".key". */
void kg_cfg_push_key(struct kg_cfgctx *ctx, const char *key);

/** \brief Descend into array element i: the path gains "[i]". */
void kg_cfg_push_index(struct kg_cfgctx *ctx, size_t i);

/** \brief Undo the last push. */
void kg_cfg_pop(struct kg_cfgctx *ctx);

/**
 * \brief          Record an error at the current path (plus key, if not
 *                 NULL), for checks the accessors cannot make, e.g.
 *                 kg_cfg_error(ctx, "servers", "must not be empty").
 *
 * \return         KG_ERR_CONFIG, for "return kg_cfg_error(...);".
 */
int kg_cfg_error(struct kg_cfgctx *ctx, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * \brief          A string value.
 *
 * \param obj      the object holding key (or the value itself if key is NULL).
 * \param key      the key, or NULL.
 * \param required non-zero: absence is an error.
 * \param out      receives the string, owned by obj.
 * \param ctx      the walk.
 *
 * \return         1, 0 or KG_ERR_CONFIG (see above).
 */
int kg_cfg_string(const json_t *obj, const char *key, int required,
    const char **out, struct kg_cfgctx *ctx);

/** \brief An integer from min to max inclusive (reals are refused). */
int kg_cfg_int(const json_t *obj, const char *key, int required, long min,
    long max, long *out, struct kg_cfgctx *ctx);

/** \brief true or false, as 1 or 0. */
int kg_cfg_bool(const json_t *obj, const char *key, int required, int *out,
    struct kg_cfgctx *ctx);

/** \brief An array; *out is owned by obj. */
int kg_cfg_array(const json_t *obj, const char *key, int required,
    const json_t **out, struct kg_cfgctx *ctx);

/** \brief An object; *out is owned by obj. */
int kg_cfg_object(const json_t *obj, const char *key, int required,
    const json_t **out, struct kg_cfgctx *ctx);

/**
 * \brief          A string that must be one of choices.
 *
 * \param choices  NULL-terminated list of accepted strings.
 * \param out      receives the index of the match in choices.
 */
int kg_cfg_enum(const json_t *obj, const char *key, int required,
    const char *const choices[], int *out, struct kg_cfgctx *ctx);

/**
 * \brief          Refuse keys of obj not in allowed, one error each:
 *                 "unknown key 'prot' (did you mean 'port'?)".
 *
 * \param obj      an object.
 * \param allowed  NULL-terminated list of known keys.
 *
 * \return         KG_OK or KG_ERR_CONFIG.
 */
int kg_cfg_check_keys(const json_t *obj, const char *const allowed[],
    struct kg_cfgctx *ctx);

#endif /* KG_CONFIG_H */
