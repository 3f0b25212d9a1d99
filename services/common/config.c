/*
 * config.c - JSON configuration: loading with file:line:col errors, typed
 * accessors with JSON-path errors.
 */
#include <sys/stat.h>

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "util.h"

static void __attribute__((format(printf, 2, 3)))
cfg_seterr(struct kg_cfgerr *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* Reports a jansson failure or a top level that is not an object. */
static json_t *
cfg_loaded(const char *name, json_t *root, const json_error_t *jerr,
    struct kg_cfgerr *err)
{
	char text[JSON_ERROR_TEXT_LENGTH];
	size_t i;

	if (root == NULL) {
		/* jansson quotes the offending input in its text. */
		kg_strlcpy(text, jerr->text, sizeof(text));
		for (i = 0; text[i] != '\0'; i++)
			if ((unsigned char)text[i] < 0x20 ||
			    (unsigned char)text[i] >= 0x7f)
				text[i] = '?';
		if (jerr->line > 0)
			cfg_seterr(err, "%s:%d:%d: %s", name, jerr->line,
			    jerr->column, text);
		else
			cfg_seterr(err, "%s: %s", name, text);
		return NULL;
	}
	if (!json_is_object(root)) {
		cfg_seterr(err, "%s: the top level must be a JSON object", name);
		json_decref(root);
		return NULL;
	}
	return root;
}

json_t *
kg_config_parse(const char *name, const char *data, size_t len,
    struct kg_cfgerr *err)
{
	json_error_t jerr;
	json_t *root;

	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	return cfg_loaded(name, root, &jerr, err);
}

json_t *
kg_config_load(const char *path, struct kg_cfgerr *err)
{
	json_error_t jerr;
	struct stat st;
	json_t *root;
	FILE *fp;

	if ((fp = fopen(path, "re")) == NULL) {
		cfg_seterr(err, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(fp), &st) == -1) {
		cfg_seterr(err, "%s: %s", path, strerror(errno));
		fclose(fp);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > KG_CONFIG_MAX_BYTES) {
		cfg_seterr(err, "%s: %s", path, !S_ISREG(st.st_mode) ?
		    "not a regular file" : "larger than 1 MiB");
		fclose(fp);
		return NULL;
	}
	root = json_loadf(fp, JSON_REJECT_DUPLICATES, &jerr);
	fclose(fp);
	return cfg_loaded(path, root, &jerr, err);
}

void
kg_cfgctx_init(struct kg_cfgctx *ctx, const char *file, struct kg_cfgerr *err)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->file = file;
	ctx->err = err;
	if (err != NULL)
		err->msg[0] = '\0';
}

static void
cfg_mark(struct kg_cfgctx *ctx)
{
	/* Past KG_CFG_DEPTH_MAX the path just stops growing usefully; the
	 * pop back to a recorded level still restores it. */
	if (ctx->depth < KG_CFG_DEPTH_MAX)
		ctx->mark[ctx->depth] = strlen(ctx->path);
	ctx->depth++;
}

void
kg_cfg_push_key(struct kg_cfgctx *ctx, const char *key)
{
	size_t len;

	cfg_mark(ctx);
	len = strlen(ctx->path);
	if (len > 0 && len < sizeof(ctx->path) - 1)
		ctx->path[len++] = '.';
	kg_strlcpy(ctx->path + len, key, sizeof(ctx->path) - len);
}

void
kg_cfg_push_index(struct kg_cfgctx *ctx, size_t i)
{
	size_t len;

	cfg_mark(ctx);
	len = strlen(ctx->path);
	snprintf(ctx->path + len, sizeof(ctx->path) - len, "[%zu]", i);
}

void
kg_cfg_pop(struct kg_cfgctx *ctx)
{
	if (ctx->depth == 0)
		return;
	ctx->depth--;
	if (ctx->depth < KG_CFG_DEPTH_MAX)
		ctx->path[ctx->mark[ctx->depth]] = '\0';
}

int
kg_cfg_error(struct kg_cfgctx *ctx, const char *key, const char *fmt, ...)
{
	char what[sizeof(ctx->err->msg)], where[KG_CFG_PATH_MAX + 64];
	char safekey[64];
	va_list ap;

	if (ctx->nerrors++ > 0 || ctx->err == NULL)
		return KG_ERR_CONFIG;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);

	kg_strlcpy(where, ctx->path, sizeof(where));
	if (key != NULL) {
		log_sanitize(key, safekey, sizeof(safekey));
		if (where[0] != '\0')
			strncat(where, ".", sizeof(where) - strlen(where) - 1);
		strncat(where, safekey, sizeof(where) - strlen(where) - 1);
	}
	if (where[0] != '\0')
		cfg_seterr(ctx->err, "%s: %s: %s", ctx->file, where, what);
	else
		cfg_seterr(ctx->err, "%s: %s", ctx->file, what);
	return KG_ERR_CONFIG;
}

/* A short, printable rendering of a value for "got ..." in messages. */
static const char *
cfg_describe(const json_t *v, char *buf, size_t n)
{
	char s[40];

	switch (json_typeof(v)) {
	case JSON_STRING:
		snprintf(buf, n, "\"%s\"",
		    log_sanitize(json_string_value(v), s, sizeof(s)));
		break;
	case JSON_INTEGER:
		snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		snprintf(buf, n, "%g", json_real_value(v));
		break;
	case JSON_TRUE:		return "true";
	case JSON_FALSE:	return "false";
	case JSON_NULL:		return "null";
	case JSON_OBJECT:	return "an object";
	case JSON_ARRAY:	return "an array";
	}
	return buf;
}

static int
cfg_type_error(struct kg_cfgctx *ctx, const char *key, const char *expected,
    const json_t *v)
{
	char got[64];

	return kg_cfg_error(ctx, key, "expected %s, got %s", expected,
	    cfg_describe(v, got, sizeof(got)));
}

/* Finds the value: 1 found, 0 absent and optional, or an error. */
static int
cfg_lookup(const json_t *obj, const char *key, int required,
    struct kg_cfgctx *ctx, const json_t **v)
{
	if (key == NULL) {
		*v = obj;
	} else {
		if (!json_is_object(obj))
			return cfg_type_error(ctx, NULL, "an object", obj);
		*v = json_object_get(obj, key);
	}
	if (*v != NULL)
		return 1;
	if (!required)
		return 0;
	if (key == NULL)
		return kg_cfg_error(ctx, NULL, "missing required value");
	return kg_cfg_error(ctx, NULL, "missing required key '%s'", key);
}

int
kg_cfg_string(const json_t *obj, const char *key, int required,
    const char **out, struct kg_cfgctx *ctx)
{
	const json_t *v = NULL;
	int rc;

	if ((rc = cfg_lookup(obj, key, required, ctx, &v)) <= 0)
		return rc;
	if (!json_is_string(v))
		return cfg_type_error(ctx, key, "a string", v);
	*out = json_string_value(v);
	return 1;
}

int
kg_cfg_int(const json_t *obj, const char *key, int required, long min,
    long max, long *out, struct kg_cfgctx *ctx)
{
	char expected[96];
	const json_t *v = NULL;
	json_int_t i;
	int rc;

	if ((rc = cfg_lookup(obj, key, required, ctx, &v)) <= 0)
		return rc;
	if (json_is_integer(v)) {
		i = json_integer_value(v);
		if (i >= min && i <= max) {
			*out = (long)i;
			return 1;
		}
	}
	snprintf(expected, sizeof(expected), "an integer from %ld to %ld",
	    min, max);
	return cfg_type_error(ctx, key, expected, v);
}

int
kg_cfg_bool(const json_t *obj, const char *key, int required, int *out,
    struct kg_cfgctx *ctx)
{
	const json_t *v = NULL;
	int rc;

	if ((rc = cfg_lookup(obj, key, required, ctx, &v)) <= 0)
		return rc;
	if (!json_is_boolean(v))
		return cfg_type_error(ctx, key, "true or false", v);
	*out = json_is_true(v);
	return 1;
}

int
kg_cfg_array(const json_t *obj, const char *key, int required,
    const json_t **out, struct kg_cfgctx *ctx)
{
	const json_t *v = NULL;
	int rc;

	if ((rc = cfg_lookup(obj, key, required, ctx, &v)) <= 0)
		return rc;
	if (!json_is_array(v))
		return cfg_type_error(ctx, key, "an array", v);
	*out = v;
	return 1;
}

int
kg_cfg_object(const json_t *obj, const char *key, int required,
    const json_t **out, struct kg_cfgctx *ctx)
{
	const json_t *v = NULL;
	int rc;

	if ((rc = cfg_lookup(obj, key, required, ctx, &v)) <= 0)
		return rc;
	if (!json_is_object(v))
		return cfg_type_error(ctx, key, "an object", v);
	*out = v;
	return 1;
}

int
kg_cfg_enum(const json_t *obj, const char *key, int required,
    const char *const choices[], int *out, struct kg_cfgctx *ctx)
{
	char expected[160];
	const json_t *v = NULL;
	size_t len;
	int i, rc;

	if ((rc = cfg_lookup(obj, key, required, ctx, &v)) <= 0)
		return rc;
	for (i = 0; json_is_string(v) && choices[i] != NULL; i++) {
		if (strcmp(json_string_value(v), choices[i]) == 0) {
			*out = i;
			return 1;
		}
	}
	len = kg_strlcpy(expected, "one of", sizeof(expected));
	for (i = 0; choices[i] != NULL && len < sizeof(expected); i++)
		len += (size_t)snprintf(expected + len, sizeof(expected) - len,
		    "%s \"%s\"", i > 0 ? "," : "", choices[i]);
	return cfg_type_error(ctx, key, expected, v);
}

/* Levenshtein distance of two short strings; SIZE_MAX if either is long. */
static size_t
cfg_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), prev[32], cur[32], i, j, d;

	if (la >= KG_NELEM(prev) || lb >= KG_NELEM(prev))
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		prev[j] = j;
	for (i = 1; i <= la; i++) {
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			d = prev[j - 1] + (a[i - 1] != b[j - 1]);
			if (prev[j] + 1 < d)
				d = prev[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			cur[j] = d;
		}
		memcpy(prev, cur, (lb + 1) * sizeof(prev[0]));
	}
	return prev[lb];
}

/* The allowed key a typo most likely meant, or NULL. */
static const char *
cfg_suggest(const char *key, const char *const allowed[])
{
	const char *best = NULL;
	size_t i, d, bestd = 3;

	for (i = 0; allowed[i] != NULL; i++) {
		d = cfg_distance(key, allowed[i]);
		if (d < bestd && d < strlen(key)) {
			best = allowed[i];
			bestd = d;
		}
	}
	return best;
}

int
kg_cfg_check_keys(const json_t *obj, const char *const allowed[],
    struct kg_cfgctx *ctx)
{
	char safe[64];
	const char *key, *hint;
	json_t *v;
	size_t i;
	int rc = KG_OK;

	if (!json_is_object(obj))
		return cfg_type_error(ctx, NULL, "an object", obj);
	json_object_foreach((json_t *)obj, key, v) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i] != NULL)
			continue;
		log_sanitize(key, safe, sizeof(safe));
		if ((hint = cfg_suggest(key, allowed)) != NULL)
			kg_cfg_error(ctx, NULL,
			    "unknown key '%s' (did you mean '%s'?)", safe, hint);
		else
			kg_cfg_error(ctx, NULL, "unknown key '%s'", safe);
		rc = KG_ERR_CONFIG;
	}
	return rc;
}

/* ---- jansson's memory ------------------------------------------------------- */

static void (*json_release)(void *) = free;

static void
wiping_free(void *p)
{
	if (p == NULL)
		return;
	kg_zero(p, malloc_usable_size(p));
	json_release(p);
}

void
kg_json_wipe_on_free(void *(*alloc)(size_t), void (*release)(void *))
{
	json_release = release;
	json_set_alloc_funcs(alloc, wiping_free);
}
