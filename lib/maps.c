/*
 * maps.c: lists of lookup tables (see maps.h), Postfix's "maps" notion:
 * a parameter names several type:name tables, a lookup asks each in turn
 * and the first answer wins. An error in one table stops the search (the
 * caller must not act on a later table's answer when an earlier table
 * could not say).
 * SECURITY: the list comes from main.cf (trusted); keys are bounded by
 * map_lookup itself.
 */
#include <string.h>

#include "map.h"
#include "maps.h"
#include "mem.h"

struct maps {
	struct map **tables;
	size_t count;
};

static bool maps_is_sep(int c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

struct maps *maps_open(const char *list, struct buf *err)
{
	struct maps *m = mem_zalloc(sizeof(*m));
	const char *p = list;

	for (;;) {
		const char *start;
		int depth = 0;
		char *spec;
		struct map *t;

		while (*p && maps_is_sep((unsigned char)*p))
			p++;
		if (*p == 0)
			break;
		start = p;
		for (; *p && (depth > 0 || !maps_is_sep((unsigned char)*p));
		     p++) {
			if (*p == '{')
				depth++;
			else if (*p == '}' && depth > 0)
				depth--;
		}
		spec = mem_strndup(start, (size_t)(p - start));
		t = map_open(spec, err);
		mem_free(spec);
		if (t == NULL) {
			maps_close(&m);
			return NULL;
		}
		m->tables =
		    mem_realloc(m->tables, (m->count + 1) * sizeof(*m->tables));
		m->tables[m->count++] = t;
	}
	return m;
}

void maps_close(struct maps **mp)
{
	if (*mp == NULL)
		return;
	for (size_t i = 0; i < (*mp)->count; i++)
		map_close(&(*mp)->tables[i]);
	mem_free((*mp)->tables);
	mem_free(*mp);
	*mp = NULL;
}

size_t maps_count(const struct maps *m)
{
	return m->count;
}

int maps_lookup(struct maps *m, const char *key, struct buf *value,
                struct buf *err)
{
	for (size_t i = 0; i < m->count; i++) {
		int r = map_lookup(m->tables[i], key, value, err);

		if (r != 0)
			return r;
	}
	return 0;
}
