/*
 * webparse.c: header, cookie, origin and metrics parsing for the web
 * listener (webparse.h).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "webparse.h"

int
web_header(const struct http_head *h, const char *name, const char **val,
    size_t *len)
{
	size_t nlen = strlen(name);
	unsigned i;
	int found = 0;

	for (i = 0; i < h->nheaders; i++) {
		if (h->headers[i].name_len != nlen ||
		    strncasecmp(h->headers[i].name, name, nlen) != 0)
			continue;
		if (found)
			return -1;
		*val = h->headers[i].value;
		*len = h->headers[i].value_len;
		found = 1;
	}
	return found;
}

int
web_cookie(const char *hdr, size_t hdrlen, const char *name, const char **val,
    size_t *len)
{
	size_t nlen = strlen(name), i = 0, start, eq, end;

	while (i < hdrlen) {
		while (i < hdrlen && (hdr[i] == ' ' || hdr[i] == '\t' || hdr[i] == ';'))
			i++;
		start = i;
		while (i < hdrlen && hdr[i] != ';')
			i++;
		end = i;
		for (eq = start; eq < end && hdr[eq] != '='; eq++)
			;
		if (eq < end && eq - start == nlen && memcmp(hdr + start, name, nlen) == 0) {
			*val = hdr + eq + 1;
			*len = end - eq - 1;
			while (*len > 0 && ((*val)[*len - 1] == ' ' || (*val)[*len - 1] == '\t'))
				(*len)--;
			return 1;
		}
	}
	return 0;
}

int
web_same_origin(const char *origin, size_t olen, const char *host, size_t hlen)
{
	static const char scheme[] = "https://";
	size_t slen = sizeof(scheme) - 1;

	if (hlen == 0 || olen != slen + hlen || memcmp(origin, scheme, slen) != 0)
		return 0;
	return strncasecmp(origin + slen, host, hlen) == 0;
}

/* One sample line of \p name: labels and value; 0 when the line is not one. */
static int
prom_line(const char *line, size_t len, const char *name, const char **labels,
    size_t *llen, double *value)
{
	size_t nlen = strlen(name), i;
	char num[64];
	char *end;

	if (len <= nlen || memcmp(line, name, nlen) != 0)
		return 0;
	i = nlen;
	*labels = line + i;
	*llen = 0;
	if (line[i] == '{') {
		const char *close = memchr(line + i, '}', len - i);

		if (close == NULL)
			return 0;
		*labels = line + i + 1;
		*llen = (size_t)(close - line) - i - 1;
		i = (size_t)(close - line) + 1;
	}
	if (i >= len || line[i] != ' ')
		return 0;
	i++;
	if (len - i == 0 || len - i >= sizeof(num))
		return 0;
	memcpy(num, line + i, len - i);
	num[len - i] = '\0';
	*value = strtod(num, &end);
	return end != num && (*end == '\0' || *end == ' ');
}

void
web_prom_each(const char *text, size_t len, const char *name,
    void (*fn)(void *arg, const char *labels, size_t llen, double value), void *arg)
{
	const char *p = text, *end = text + len, *nl, *labels;
	size_t llen;
	double v;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (*p != '#' && prom_line(p, (size_t)(nl - p), name, &labels, &llen, &v))
			fn(arg, labels, llen, v);
		p = nl + 1;
	}
}

struct sum_arg {
	const char	*label;
	double		 sum;
};

static void
add_sample(void *arg, const char *labels, size_t llen, double v)
{
	struct sum_arg *s = arg;

	if (s->label == NULL || memmem(labels, llen, s->label, strlen(s->label)) != NULL)
		s->sum += v;
}

double
web_prom_sum(const char *text, size_t len, const char *name, const char *label)
{
	struct sum_arg s = { label, 0 };

	web_prom_each(text, len, name, add_sample, &s);
	return s.sum;
}

int
web_prom_label(const char *labels, size_t llen, const char *key, char *out,
    size_t outlen)
{
	size_t klen = strlen(key), i = 0, o;

	while (i < llen) {
		if (llen - i > klen + 1 && memcmp(labels + i, key, klen) == 0 &&
		    labels[i + klen] == '=' && labels[i + klen + 1] == '"' &&
		    (i == 0 || labels[i - 1] == ',')) {
			i += klen + 2;
			for (o = 0; i < llen && labels[i] != '"' && o + 1 < outlen; i++)
				out[o++] = labels[i];
			out[o] = '\0';
			return 1;
		}
		i++;
	}
	return 0;
}
