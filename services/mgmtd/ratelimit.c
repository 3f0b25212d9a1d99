/*
 * ratelimit.c: login attempts per source and for the appliance (ratelimit.h).
 */
#include <string.h>

#include "ratelimit.h"
#include "util.h"

void
ratelimit_init(struct ratelimit *rl)
{
	memset(rl, 0, sizeof(*rl));
}

static struct rl_source *
find(struct ratelimit *rl, const char *addr)
{
	size_t i;

	for (i = 0; i < RL_SOURCES; i++)
		if (rl->src[i].addr[0] != '\0' && strcmp(rl->src[i].addr, addr) == 0)
			return &rl->src[i];
	return NULL;
}

static void
global_window(struct ratelimit *rl, time_t now)
{
	if (now < rl->global_start || now - rl->global_start >= RL_GLOBAL_WINDOW_S) {
		rl->global_start = now;
		rl->global_failures = 0;
	}
}

enum rl_verdict
ratelimit_check(struct ratelimit *rl, const char *addr, time_t now, int *wait_s)
{
	struct rl_source *s = find(rl, addr);

	global_window(rl, now);
	if (rl->global_failures >= RL_GLOBAL) {
		*wait_s = (int)(rl->global_start + RL_GLOBAL_WINDOW_S - now);
		if (*wait_s < 1)
			*wait_s = 1;
		return RL_BLOCKED_GLOBAL;
	}
	if (s == NULL)
		return RL_ALLOW;
	if (now - s->last_failure >= RL_FORGET_S || now < s->last_failure) {
		memset(s, 0, sizeof(*s));
		return RL_ALLOW;
	}
	if (now < s->blocked_until) {
		*wait_s = (int)(s->blocked_until - now);
		return RL_BLOCKED_SOURCE;
	}
	return RL_ALLOW;
}

/* Where a new address goes: a free slot, else the stalest one. */
static struct rl_source *
slot(struct ratelimit *rl)
{
	struct rl_source *old = &rl->src[0];
	size_t i;

	for (i = 0; i < RL_SOURCES; i++) {
		if (rl->src[i].addr[0] == '\0')
			return &rl->src[i];
		if (rl->src[i].last_failure < old->last_failure)
			old = &rl->src[i];
	}
	memset(old, 0, sizeof(*old));
	return old;
}

void
ratelimit_fail(struct ratelimit *rl, const char *addr, time_t now)
{
	struct rl_source *s = find(rl, addr);
	long block;
	int over;

	global_window(rl, now);
	rl->global_failures++;
	if (s == NULL) {
		s = slot(rl);
		kg_strlcpy(s->addr, addr, sizeof(s->addr));
	}
	s->failures++;
	s->last_failure = now;
	if ((over = s->failures - RL_FREE) < 0)
		return;
	block = RL_BASE_S;
	while (over-- > 0 && block < RL_MAX_S)
		block *= 2;
	s->blocked_until = now + (block > RL_MAX_S ? RL_MAX_S : block);
}

void
ratelimit_success(struct ratelimit *rl, const char *addr)
{
	struct rl_source *s = find(rl, addr);

	if (s != NULL)
		memset(s, 0, sizeof(*s));
}
