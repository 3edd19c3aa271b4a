/*
 * map_inline.c: the tables that live in the spec itself.
 *
 * "static:value" answers every lookup with value ("static:" gives the
 * empty string; "static:{ text with spaces }" drops the braces).
 *
 * "inline:{key=value, key2=value2}" (Postfix syntax): the braces are
 * required; entries are separated by commas and/or white space; white
 * space around '=' is tolerated ("{ key = value }"); an entry whose value
 * holds commas or white space is written in its own braces:
 * "inline:{ key=value, { key2 = text with, commas } }". Keys are folded
 * to lowercase; a repeated key keeps the last value.
 *
 * SECURITY: specs come from trusted configuration and are bounded by the
 * dispatcher (MAP_SPEC_MAX); lookup keys are bounded by MAP_KEY_MAX.
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "buf.h"
#include "map.h"
#include "map_impl.h"
#include "mem.h"
#include "str.h"

/* More entries belong in an lmdb table; keeps open time bounded. */
#define INLINE_ENTRIES_MAX 1024

/* static: */

static void *static_open(const char *name, struct buf *err)
{
	size_t len = strlen(name);
	char *value, *trimmed;

	if (name[0] != '{')
		return mem_strdup(name);
	if (len < 2 || name[len - 1] != '}') {
		map_error(err, "static:%.100s: missing closing '}'", name);
		return NULL;
	}
	value = mem_strndup(name + 1, len - 2);
	/* str_trim moves past leading white space: shift back in place. */
	trimmed = str_trim(value);
	memmove(value, trimmed, strlen(trimmed) + 1);
	return value;
}

static int static_lookup(void *priv, const char *key, size_t keylen,
                         struct buf *value, struct buf *err)
{
	const char *v = priv;

	return map_set_value(value, v, strlen(v), err) < 0 ? -1 : 1;
}

static void static_close(void *priv)
{
	mem_free(priv);
}

const struct map_type map_type_static = {
    .name = "static",
    .open = static_open,
    .lookup = static_lookup,
    .close = static_close,
};

/* inline: */

struct map_inline {
	size_t count, cap;
	char **keys; /* lowercase */
	char **values;
};

static void inline_close(void *priv)
{
	struct map_inline *mi = priv;

	for (size_t i = 0; i < mi->count; i++) {
		mem_free(mi->keys[i]);
		mem_free(mi->values[i]);
	}
	mem_free(mi->keys);
	mem_free(mi->values);
	mem_free(mi);
}

/* Copy [start, end) with surrounding white space removed. */
static char *inline_copy_trimmed(const char *start, const char *end)
{
	while (start < end && isspace((unsigned char)*start))
		start++;
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	return mem_strndup(start, (size_t)(end - start));
}

/* Store key (folded) -> value, replacing an earlier value of the key.
 * Takes ownership of both strings. */
static void inline_add(struct map_inline *mi, char *key, char *value)
{
	str_lower(key);
	for (size_t i = 0; i < mi->count; i++) {
		if (strcmp(mi->keys[i], key) == 0) {
			mem_free(key);
			mem_free(mi->values[i]);
			mi->values[i] = value;
			return;
		}
	}
	if (mi->count == mi->cap) {
		mi->cap = mi->cap ? mi->cap * 2 : 8;
		mi->keys = mem_realloc(mi->keys, mi->cap * sizeof(mi->keys[0]));
		mi->values =
		    mem_realloc(mi->values, mi->cap * sizeof(mi->values[0]));
	}
	mi->keys[mi->count] = key;
	mi->values[mi->count] = value;
	mi->count++;
}

/* Parse one entry at *pp (separators already skipped) and add it; -1 with
 * reason. */
static int inline_entry(struct map_inline *mi, const char **pp, struct buf *err)
{
	const char *p = *pp, *kstart, *kend, *vstart, *vend, *eq;
	char *key;

	if (*p == '{') {
		/* "{ key = text }": the value runs to the matching brace. */
		int depth = 1;
		const char *q = p + 1;

		while (*q && depth > 0) {
			if (*q == '{')
				depth++;
			else if (*q == '}')
				depth--;
			q++;
		}
		if (depth > 0) {
			map_error(err, "inline: missing '}' after \"%.60s\"",
			          p);
			return -1;
		}
		/* q is past the closing brace */
		eq = memchr(p + 1, '=', (size_t)(q - 1 - (p + 1)));
		if (eq == NULL) {
			map_error(err, "inline: missing '=' in \"%.*s\"",
			          (int)(q - p > 60 ? 60 : q - p), p);
			return -1;
		}
		kstart = p + 1;
		kend = eq;
		vstart = eq + 1;
		vend = q - 1;
		*pp = q;
	} else {
		kstart = p;
		while (*p && *p != '=' && *p != ',' && *p != '{' && *p != '}' &&
		       !isspace((unsigned char)*p))
			p++;
		kend = p;
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '=') {
			map_error(
			    err, "inline: missing '=' after \"%.*s\"",
			    (int)(kend - kstart > 60 ? 60 : kend - kstart),
			    kstart);
			return -1;
		}
		p++;
		while (isspace((unsigned char)*p))
			p++;
		vstart = p;
		while (*p && *p != ',' && *p != '{' && *p != '}' &&
		       !isspace((unsigned char)*p))
			p++;
		vend = p;
		*pp = p;
	}
	key = inline_copy_trimmed(kstart, kend);
	if (*key == 0) {
		mem_free(key);
		map_error(err, "inline: empty key");
		return -1;
	}
	if (strlen(key) > MAP_KEY_MAX) {
		mem_free(key);
		map_error(err, "inline: key longer than %d bytes", MAP_KEY_MAX);
		return -1;
	}
	inline_add(mi, key, inline_copy_trimmed(vstart, vend));
	return 0;
}

static void *inline_open(const char *name, struct buf *err)
{
	struct map_inline *mi;
	const char *p = name;

	while (isspace((unsigned char)*p))
		p++;
	if (*p != '{') {
		map_error(err, "inline: the table must be enclosed in braces: "
		               "inline:{key=value, ...}");
		return NULL;
	}
	p++;
	mi = mem_zalloc(sizeof(*mi));
	for (;;) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (*p == '}')
			break;
		if (*p == 0) {
			map_error(err, "inline: missing closing '}'");
			goto fail;
		}
		if (mi->count >= INLINE_ENTRIES_MAX) {
			map_error(err,
			          "inline: more than %d entries (use an lmdb "
			          "table)",
			          INLINE_ENTRIES_MAX);
			goto fail;
		}
		if (inline_entry(mi, &p, err) < 0)
			goto fail;
	}
	p++;
	while (isspace((unsigned char)*p))
		p++;
	if (*p) {
		map_error(err, "inline: text after the closing '}': \"%.60s\"",
		          p);
		goto fail;
	}
	return mi;

fail:
	inline_close(mi);
	return NULL;
}

static int inline_lookup(void *priv, const char *key, size_t keylen,
                         struct buf *value, struct buf *err)
{
	struct map_inline *mi = priv;
	char folded[MAP_KEY_MAX + 1];

	if (map_fold_key(folded, sizeof(folded), key, keylen) < 0)
		return 0;
	for (size_t i = 0; i < mi->count; i++)
		if (strcmp(mi->keys[i], folded) == 0)
			return map_set_value(value, mi->values[i],
			                     strlen(mi->values[i]), err) < 0
			           ? -1
			           : 1;
	return 0;
}

const struct map_type map_type_inline = {
    .name = "inline",
    .open = inline_open,
    .lookup = inline_lookup,
    .close = inline_close,
};
