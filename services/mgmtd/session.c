/*
 * session.c: the browser admin's sessions (session.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "session.h"
#include "util.h"

int
session_random_hex(char *out, size_t n)
{
	uint8_t buf[64];
	size_t i;

	if (n > sizeof(buf) || getrandom(buf, n, 0) != (ssize_t)n)
		return -1;
	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", buf[i]);
	kg_zero(buf, sizeof(buf));
	return 0;
}

int
session_equal(const char *a, const char *b, size_t len)
{
	unsigned char d = 0;
	size_t i;

	for (i = 0; i < len; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

void
session_init(struct session_table *t, int idle_s, int max_s)
{
	kg_zero(t, sizeof(*t));
	t->idle_s = idle_s > 0 ? idle_s : SESSION_IDLE_DEFAULT;
	t->max_s = max_s > 0 ? max_s : SESSION_MAX_DEFAULT;
}

static int
expired(const struct session_table *t, const struct session *s, time_t now)
{
	return now - s->last_seen >= t->idle_s || now - s->created >= t->max_s ||
	    now < s->created;	/* a clock set back: start again */
}

const struct session *
session_create(struct session_table *t, time_t now)
{
	struct session *s = NULL;
	size_t i;

	for (i = 0; i < SESSION_MAX; i++) {
		if (t->s[i].id[0] == '\0' || expired(t, &t->s[i], now)) {
			s = &t->s[i];
			break;
		}
		if (s == NULL || t->s[i].created < s->created)
			s = &t->s[i];
	}
	kg_zero(s, sizeof(*s));
	if (session_random_hex(s->id, SESSION_ID_HEX / 2) < 0 ||
	    session_random_hex(s->csrf, SESSION_ID_HEX / 2) < 0) {
		kg_zero(s, sizeof(*s));
		return NULL;
	}
	s->created = s->last_seen = now;
	return s;
}

static struct session *
lookup(struct session_table *t, const char *id, size_t len)
{
	size_t i;

	if (len != SESSION_ID_HEX)
		return NULL;
	for (i = 0; i < SESSION_MAX; i++)
		if (t->s[i].id[0] != '\0' && session_equal(t->s[i].id, id, len))
			return &t->s[i];
	return NULL;
}

const struct session *
session_find(struct session_table *t, const char *id, size_t len, time_t now)
{
	struct session *s = lookup(t, id, len);

	if (s == NULL)
		return NULL;
	if (expired(t, s, now)) {
		kg_zero(s, sizeof(*s));
		return NULL;
	}
	s->last_seen = now;
	return s;
}

int
session_csrf_ok(const struct session *s, const char *tok, size_t len)
{
	return s != NULL && tok != NULL && len == SESSION_ID_HEX &&
	    session_equal(s->csrf, tok, len);
}

void
session_end(struct session_table *t, const char *id, size_t len)
{
	struct session *s = lookup(t, id, len);

	if (s != NULL)
		kg_zero(s, sizeof(*s));
}

void
session_end_all(struct session_table *t)
{
	kg_zero(t->s, sizeof(t->s));
}
