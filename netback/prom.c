/* SPDX-License-Identifier: MIT */
/*
 * prom.c - the Prometheus text exposition format (see include/ipnb/prom.h).
 */
#include "ipnb/prom.h"

#include <string.h>

void prom_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void prom_sample(FILE *f, const char *name, const char *labels, unsigned long long v)
{
	fprintf(f, "%s%s %llu\n", name, labels, v);
}

/* Appends c to buf at *len if it fits, keeping room for the final NUL. */
static bool put(char *buf, size_t cap, size_t *len, char c)
{
	if (*len + 1 >= cap)
		return false;
	buf[(*len)++] = c;
	return true;
}

static bool puts_raw(char *buf, size_t cap, size_t *len, const char *s)
{
	for (; *s; s++)
		if (!put(buf, cap, len, *s))
			return false;
	return true;
}

bool prom_labels(char *buf, size_t cap, const char *const *kv, size_t n)
{
	size_t len = 0;
	bool ok = cap > 0 && put(buf, cap, &len, '{');

	for (size_t i = 0; ok && i < n; i++) {
		ok = (i == 0 || put(buf, cap, &len, ',')) && puts_raw(buf, cap, &len, kv[2 * i]) &&
		     puts_raw(buf, cap, &len, "=\"");
		for (const char *v = kv[2 * i + 1]; ok && *v; v++) {
			/* The three escapes of the format; every other byte,
			 * UTF-8 included, stands for itself. */
			if (*v == '\\' || *v == '"')
				ok = put(buf, cap, &len, '\\') && put(buf, cap, &len, *v);
			else if (*v == '\n')
				ok = puts_raw(buf, cap, &len, "\\n");
			else
				ok = put(buf, cap, &len, *v);
		}
		ok = ok && put(buf, cap, &len, '"');
	}
	ok = ok && put(buf, cap, &len, '}');
	if (!ok) {
		if (cap)
			buf[0] = '\0';
		return false;
	}
	buf[len] = '\0';
	return true;
}
