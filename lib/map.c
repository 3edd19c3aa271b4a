/*
 * map.c: the lookup-table dispatcher. Parses "type:name" specs, keeps one
 * operations table per type (lmdb in map_lmdb.c, regexp in map_regexp.c,
 * inline and static in map_inline.c) and owns struct map. Also holds the
 * helpers the type files share: error formatting, value copying, key
 * folding and the logical-line reader for table source files.
 *
 * SECURITY: specs come from trusted configuration but are still bounded
 * (MAP_SPEC_MAX); lookup keys may come from the network (addresses,
 * hostnames) and are refused past MAP_KEY_MAX bytes before any type sees
 * them. Source files are read line by line with a per-line cap, and NUL
 * bytes in them are refused.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "map.h"
#include "map_impl.h"
#include "mem.h"
#include "msg.h"
#include "str.h"

struct map {
	const struct map_type *type;
	void *priv; /* owned by the type */
	char *spec;
};

static const struct map_type *const map_types[] = {
    &map_type_lmdb,
    &map_type_static,
    &map_type_inline,
    &map_type_regexp,
};

void map_error(struct buf *err, const char *fmt, ...)
{
	va_list ap;
	char *text;
	int n;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	buf_reset(err);
	if (n < 0)
		return;
	text = mem_alloc((size_t)n + 1);
	va_start(ap, fmt);
	(void)vsnprintf(text, (size_t)n + 1, fmt, ap);
	va_end(ap);
	/* A reason longer than err's cap is cut, never lost entirely. */
	(void)buf_append(
	    err, text, (size_t)n < buf_limit(err) ? (size_t)n : buf_limit(err));
	mem_free(text);
}

int map_set_value(struct buf *value, const char *data, size_t len,
                  struct buf *err)
{
	if (len > buf_limit(value)) {
		map_error(err, "map value of %zu bytes does not fit the buffer",
		          len);
		return -1;
	}
	buf_reset(value);
	if (buf_append(value, data, len) < 0)
		msg_panic("map_set_value: append within the limit failed");
	return 0;
}

int map_fold_key(char *out, size_t outlen, const char *key, size_t keylen)
{
	if (keylen >= outlen)
		return -1;
	for (size_t i = 0; i < keylen; i++) {
		char c = key[i];
		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	out[keylen] = 0;
	return 0;
}

struct map *map_open(const char *spec, struct buf *err)
{
	const struct map_type *type = NULL;
	const char *colon;
	size_t typelen;
	struct map *m;
	void *priv;

	if (spec == NULL || strnlen(spec, MAP_SPEC_MAX + 1) > MAP_SPEC_MAX) {
		map_error(err,
		          "map_open: map spec missing or longer than %d "
		          "bytes",
		          MAP_SPEC_MAX);
		return NULL;
	}
	colon = strchr(spec, ':');
	if (colon == NULL || colon == spec) {
		map_error(err, "map_open: \"%.100s\": expected type:name",
		          spec);
		return NULL;
	}
	typelen = (size_t)(colon - spec);
	for (size_t i = 0; i < sizeof(map_types) / sizeof(map_types[0]); i++)
		if (strlen(map_types[i]->name) == typelen &&
		    memcmp(map_types[i]->name, spec, typelen) == 0)
			type = map_types[i];
	if (type == NULL) {
		map_error(err,
		          "map_open: \"%.100s\": unsupported map type \"%.*s\" "
		          "(lmdb, static, inline, regexp)",
		          spec, (int)(typelen > 40 ? 40 : typelen), spec);
		return NULL;
	}
	if ((priv = type->open(colon + 1, err)) == NULL)
		return NULL;
	m = mem_zalloc(sizeof(*m));
	m->type = type;
	m->priv = priv;
	m->spec = mem_strdup(spec);
	return m;
}

void map_close(struct map **mp)
{
	struct map *m = *mp;

	if (m == NULL)
		return;
	m->type->close(m->priv);
	mem_free(m->spec);
	mem_free(m);
	*mp = NULL;
}

const char *map_spec(const struct map *m)
{
	return m->spec;
}

int map_lookup(struct map *m, const char *key, struct buf *value,
               struct buf *err)
{
	size_t keylen = strnlen(key, MAP_KEY_MAX + 1);

	if (keylen > MAP_KEY_MAX) {
		map_error(err, "%.100s: lookup key longer than %d bytes",
		          m->spec, MAP_KEY_MAX);
		return -1;
	}
	return m->type->lookup(m->priv, key, keylen, value, err);
}

/* The logical-line reader. */

struct map_text {
	FILE *fp;
	char *path;
	struct buf *phys; /* the current physical line */
	bool pending; /* phys holds a line not yet consumed */
	struct buf *logical; /* the logical line being assembled */
	long lineno; /* physical lines read so far */
};

struct map_text *map_text_open(const char *path, struct buf *err)
{
	struct map_text *t;
	FILE *fp;

	if ((fp = fopen(path, "re")) == NULL) {
		map_error(err, "%s: %s", path, strerror(errno));
		return NULL;
	}
	t = mem_zalloc(sizeof(*t));
	t->fp = fp;
	t->path = mem_strdup(path);
	t->phys = buf_create(256, MAP_LINE_MAX + 1);
	t->logical = buf_create(256, MAP_LOGICAL_MAX);
	return t;
}

/* Read one physical line into t->phys: 1, 0 at end of file, -1 error. */
static int map_text_read(struct map_text *t, struct buf *err)
{
	bool any = false;
	int c;

	buf_reset(t->phys);
	for (;;) {
		c = getc_unlocked(t->fp);
		if (c == EOF) {
			if (ferror(t->fp)) {
				map_error(err, "%s:%ld: read: %s", t->path,
				          t->lineno + 1, strerror(errno));
				return -1;
			}
			if (!any)
				return 0;
			break;
		}
		any = true;
		if (c == '\n')
			break;
		if (c == 0) {
			map_error(err, "%s:%ld: NUL byte in line", t->path,
			          t->lineno + 1);
			return -1;
		}
		if (buf_len(t->phys) >= MAP_LINE_MAX ||
		    buf_append_char(t->phys, c) < 0) {
			map_error(err, "%s:%ld: line longer than %d bytes",
			          t->path, t->lineno + 1, MAP_LINE_MAX);
			return -1;
		}
	}
	t->lineno++;
	return 1;
}

int map_text_next(struct map_text *t, char **line, long *lineno,
                  struct buf *err)
{
	long start = 0;

	buf_reset(t->logical);
	for (;;) {
		char *raw, *s;
		int r;

		if (!t->pending) {
			if ((r = map_text_read(t, err)) < 0)
				return -1;
			if (r == 0)
				break;
			t->pending = true;
		}
		raw = buf_data(t->phys);
		s = str_trim(raw); /* idempotent: safe on a pending line */
		if (*s == 0 || *s == '#') {
			t->pending = false;
			continue;
		}
		if (isspace((unsigned char)raw[0])) {
			if (start == 0) {
				map_error(err,
				          "%s:%ld: continuation line without a "
				          "line to continue",
				          t->path, t->lineno);
				return -1;
			}
			if (buf_append_char(t->logical, ' ') < 0 ||
			    buf_append_str(t->logical, s) < 0) {
				map_error(err,
				          "%s:%ld: logical line longer than %d "
				          "bytes",
				          t->path, start, MAP_LOGICAL_MAX);
				return -1;
			}
			t->pending = false;
			continue;
		}
		if (start != 0)
			break; /* keep the line for the next call */
		if (buf_append_str(t->logical, s) < 0)
			msg_panic(
			    "map_text_next: line cap exceeds logical cap");
		start = t->lineno;
		t->pending = false;
	}
	if (start == 0)
		return 0;
	*line = buf_data(t->logical);
	*lineno = start;
	return 1;
}

int map_text_fd(const struct map_text *t)
{
	return fileno(t->fp);
}

void map_text_close(struct map_text **tp)
{
	struct map_text *t = *tp;

	if (t == NULL)
		return;
	fclose(t->fp);
	buf_destroy(&t->phys);
	buf_destroy(&t->logical);
	mem_free(t->path);
	mem_free(t);
	*tp = NULL;
}
