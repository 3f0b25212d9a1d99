/*
 * fuzz_config.c - arbitrary text through kg_config_parse() and a loader in
 * the shape of kerbgated's, checking that every error message is one line
 * of printable ASCII (it ends up in logs and the management UI).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const top_keys[] = { "listen", "workers", "debug", "mode",
    "tls", "pools", NULL };
static const char *const pool_keys[] = { "name", "servers", NULL };
static const char *const server_keys[] = { "host", "port", "weight", NULL };
static const char *const modes[] = { "plain", "tls", NULL };

static void
check_message(const struct kg_cfgerr *err)
{
	size_t i;

	for (i = 0; i < sizeof(err->msg) && err->msg[i] != '\0'; i++)
		if (err->msg[i] < 0x20 || err->msg[i] > 0x7e)
			abort();
	if (i == 0 || i == sizeof(err->msg))
		abort();
}

static void
load_servers(const json_t *servers, struct kg_cfgctx *ctx)
{
	const json_t *server;
	const char *host;
	size_t i;
	long port, weight;

	json_array_foreach(servers, i, server) {
		kg_cfg_push_index(ctx, i);
		if (kg_cfg_object(server, NULL, 1, &server, ctx) == 1) {
			kg_cfg_check_keys(server, server_keys, ctx);
			kg_cfg_string(server, "host", 1, &host, ctx);
			kg_cfg_int(server, "port", 1, 1, 65535, &port, ctx);
			kg_cfg_int(server, "weight", 0, 0, 100, &weight, ctx);
		}
		kg_cfg_pop(ctx);
	}
}

static void
load(const json_t *root, struct kg_cfgctx *ctx)
{
	const json_t *listen, *tls, *pools, *pool, *servers, *v;
	const char *s;
	size_t i;
	long workers;
	int debug, mode;

	kg_cfg_check_keys(root, top_keys, ctx);
	if (kg_cfg_array(root, "listen", 1, &listen, ctx) == 1) {
		kg_cfg_push_key(ctx, "listen");
		json_array_foreach(listen, i, v) {
			kg_cfg_push_index(ctx, i);
			kg_cfg_string(v, NULL, 1, &s, ctx);
			kg_cfg_pop(ctx);
		}
		kg_cfg_pop(ctx);
	}
	kg_cfg_int(root, "workers", 0, 1, 64, &workers, ctx);
	kg_cfg_bool(root, "debug", 0, &debug, ctx);
	kg_cfg_enum(root, "mode", 0, modes, &mode, ctx);
	if (kg_cfg_object(root, "tls", 0, &tls, ctx) == 1) {
		kg_cfg_push_key(ctx, "tls");
		kg_cfg_string(tls, "cert", 1, &s, ctx);
		kg_cfg_pop(ctx);
	}
	if (kg_cfg_array(root, "pools", 1, &pools, ctx) != 1)
		return;
	kg_cfg_push_key(ctx, "pools");
	json_array_foreach(pools, i, pool) {
		kg_cfg_push_index(ctx, i);
		if (kg_cfg_object(pool, NULL, 1, &pool, ctx) == 1) {
			kg_cfg_check_keys(pool, pool_keys, ctx);
			kg_cfg_string(pool, "name", 1, &s, ctx);
			if (kg_cfg_array(pool, "servers", 1, &servers, ctx) == 1) {
				kg_cfg_push_key(ctx, "servers");
				load_servers(servers, ctx);
				kg_cfg_pop(ctx);
			}
		}
		kg_cfg_pop(ctx);
	}
	kg_cfg_pop(ctx);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kg_cfgerr err;
	struct kg_cfgctx ctx;
	json_t *root;

	memset(&err, 0xff, sizeof(err));
	root = kg_config_parse("/etc/kerbgate.json", (const char *)data, size,
	    &err);
	if (root == NULL) {
		check_message(&err);
		return 0;
	}
	kg_cfgctx_init(&ctx, "/etc/kerbgate.json", &err);
	load(root, &ctx);
	if (ctx.depth != 0)
		abort();
	if (ctx.nerrors > 0)
		check_message(&err);
	else if (err.msg[0] != '\0')
		abort();
	json_decref(root);
	return 0;
}
