/*
 * config.c: main.cf. Owns struct config: the settings read from main.cf (in
 * file order, every one of them, for `posthorn conf -n` and config_check)
 * plus one current value per name (later settings win), the $name
 * expansion engine, the typed getters with their cache, and param_validate.
 * Syntax: "name = value"; a line that starts with white space continues
 * the previous value (joined with one space); '#' starts a comment only
 * as the first non-blank character of a line; blank lines and comments do
 * not end a value that continues below them.
 * Expansion: $name, ${name}, $(name), ${name?text} (text when $name is
 * not empty), ${name:text} (text when $name is empty), $$ (a '$'). A '$'
 * followed by anything else stays a literal '$'. Unknown names expand to
 * nothing. myhostname and mydomain, when empty, are derived (gethostname;
 * the part of $myhostname after its first dot, else "localdomain").
 * SECURITY: main.cf is trusted (root-owned) but still parsed defensively:
 * size, line, value, entry-count limits, NUL bytes rejected; expansion has
 * a depth limit, loop detection, an output cap and a work budget, so no
 * configuration text can make a process recurse, loop or allocate without
 * bound.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "mem.h"
#include "msg.h"
#include "number.h"
#include "str.h"

#define CONFIG_FILE_MAX ((size_t)4 << 20) /* whole main.cf */
#define CONFIG_LINE_MAX ((size_t)64 << 10) /* one physical line */
#define CONFIG_VALUE_MAX ((size_t)1 << 20) /* one value after joining */
#define CONFIG_ENTRIES_MAX 10000 /* settings per config */
#define CONFIG_NAME_MAX 255 /* parameter name length */
#define EXPAND_DEPTH_MAX 100 /* names being expanded */
#define EXPAND_NEST_MAX 200 /* names plus ${...?...} levels */
#define EXPAND_OUTPUT_MAX ((size_t)1 << 20) /* one expansion result */
#define EXPAND_WORK_MAX ((size_t)16 << 20) /* bytes scanned per expansion */
#define QUOTE_MAX 60 /* text quoted in messages */

struct config_entry {
	char *name;
	char *value;
	int line;
	const char *origin; /* owned by config.origins */
};

struct config_var {
	char *name;
	const struct param_def *def; /* NULL: unknown name */
	char *value; /* NULL: not set, the default applies */
	const char *origin; /* NULL: config_set */
	int line;
	char *cache; /* expanded and validated, for the typed getters */
};

struct config {
	struct config_entry *entries;
	size_t nentries, entries_cap;
	struct config_var *vars;
	size_t nvars, vars_cap;
	size_t *slots; /* hash index into vars; SIZE_MAX: empty */
	size_t nslots; /* power of two */
	char **origins;
	size_t norigins;
	char **retired; /* old getter results, kept valid until destroy */
	size_t nretired, retired_cap;
};

/* Copy text for a message: at most QUOTE_MAX bytes, non-printable bytes as
 * '?', "..." when cut. dst must hold QUOTE_MAX + 4 bytes. */
static void config_quote(char *dst, const char *s, size_t len)
{
	size_t i, n = len > QUOTE_MAX ? QUOTE_MAX : len;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		dst[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	if (n < len) {
		memcpy(dst + i, "...", 3);
		i += 3;
	}
	dst[i] = 0;
}

static void config_error(struct buf *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void config_error(struct buf *err, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	if (vsnprintf(text, sizeof(text), fmt, ap) < 0)
		text[0] = 0;
	va_end(ap);
	buf_set_str(err, text);
}

static bool config_is_space(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' ||
	       ch == '\f';
}

static bool config_is_name_char(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '_';
}

/* --- parameter table helpers --- */

static void param_range(const struct param_def *p, long long *min,
                        long long *max)
{
	if (p->min == 0 && p->max == 0) {
		*min = p->type == PARAM_INT ? LLONG_MIN : 0;
		*max = LLONG_MAX;
	} else {
		*min = p->min;
		*max = p->max;
	}
}

static int param_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (str_eq_ci(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (str_eq_ci(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* Parse a value of a numeric or boolean parameter; -1 with *why set. */
static int param_parse(const struct param_def *p, const char *value,
                       long long *out, const char **why)
{
	long long min, max;
	bool b;

	param_range(p, &min, &max);
	switch (p->type) {
	case PARAM_STR:
		*out = 0;
		return 0;
	case PARAM_INT:
		return number_parse(value, min, max, out, why);
	case PARAM_BOOL:
		if (param_parse_bool(value, &b) < 0) {
			*why = "not a boolean (use yes or no)";
			return -1;
		}
		*out = b;
		return 0;
	case PARAM_TIME:
		return number_parse_time(value, p->unit ? p->unit : 's', min,
		                         max, out, why);
	case PARAM_SIZE:
		return number_parse_size(value, min, max, out, why);
	}
	*why = "bad parameter type";
	return -1;
}

int param_validate(const struct param_def *p, const char *value,
                   struct buf *err)
{
	static const char *const kind[] = {"string", "integer", "boolean",
	                                   "time", "size"};
	char quoted[QUOTE_MAX + 4];
	const char *why = "bad value";
	long long v, min, max;

	if (p == NULL || value == NULL) {
		config_error(err, "unknown parameter or no value");
		return -1;
	}
	if (param_parse(p, value, &v, &why) == 0)
		return 0;
	config_quote(quoted, value, strlen(value));
	param_range(p, &min, &max);
	if (p->type == PARAM_BOOL || (p->min == 0 && p->max == 0))
		config_error(err, "bad %s value \"%s\": %s", kind[p->type % 5],
		             quoted, why);
	else
		config_error(err,
		             "bad %s value \"%s\": %s (range %lld..%lld%s)",
		             kind[p->type % 5], quoted, why, min, max,
		             p->type == PARAM_TIME   ? " seconds"
		             : p->type == PARAM_SIZE ? " bytes"
		                                     : "");
	return -1;
}

/* --- the name index --- */

static size_t config_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

static struct config_var *config_var_find(const struct config *c,
                                          const char *name)
{
	size_t i = config_hash(name) & (c->nslots - 1);

	while (c->slots[i] != SIZE_MAX) {
		struct config_var *v = &c->vars[c->slots[i]];
		if (strcmp(v->name, name) == 0)
			return v;
		i = (i + 1) & (c->nslots - 1);
	}
	return NULL;
}

static void config_index(struct config *c, size_t idx)
{
	size_t i = config_hash(c->vars[idx].name) & (c->nslots - 1);

	while (c->slots[i] != SIZE_MAX)
		i = (i + 1) & (c->nslots - 1);
	c->slots[i] = idx;
}

static void config_rehash(struct config *c, size_t nslots)
{
	size_t i;

	mem_free(c->slots);
	c->nslots = nslots;
	c->slots = mem_array(nslots, sizeof(*c->slots));
	for (i = 0; i < nslots; i++)
		c->slots[i] = SIZE_MAX;
	for (i = 0; i < c->nvars; i++)
		config_index(c, i);
}

/* Find or add the variable for name. */
static struct config_var *config_var_get(struct config *c, const char *name)
{
	struct config_var *v = config_var_find(c, name);

	if (v != NULL)
		return v;
	if (c->nvars == c->vars_cap) {
		c->vars_cap = c->vars_cap ? c->vars_cap * 2 : 32;
		c->vars = mem_realloc(c->vars, c->vars_cap * sizeof(*c->vars));
	}
	v = &c->vars[c->nvars];
	memset(v, 0, sizeof(*v));
	v->name = mem_strdup(name);
	v->def = param_find(name);
	c->nvars++;
	if (c->nvars * 2 > c->nslots)
		config_rehash(c, c->nslots * 2);
	else
		config_index(c, c->nvars - 1);
	return v;
}

/* A setting changed: any cached value may depend on it. Old results stay
 * allocated (callers may hold them) until the config is destroyed. */
static void config_invalidate(struct config *c)
{
	size_t i;

	for (i = 0; i < c->nvars; i++) {
		if (c->vars[i].cache == NULL)
			continue;
		if (c->nretired == c->retired_cap) {
			c->retired_cap =
			    c->retired_cap ? c->retired_cap * 2 : 16;
			c->retired = mem_realloc(
			    c->retired, c->retired_cap * sizeof(char *));
		}
		c->retired[c->nretired++] = c->vars[i].cache;
		c->vars[i].cache = NULL;
	}
}

/* --- create / destroy --- */

struct config *config_create(void)
{
	struct config *c = mem_zalloc(sizeof(*c));

	config_rehash(c, 128);
	return c;
}

void config_destroy(struct config **cp)
{
	struct config *c;
	size_t i;

	if (cp == NULL || (c = *cp) == NULL)
		return;
	for (i = 0; i < c->nentries; i++) {
		mem_free(c->entries[i].name);
		mem_free(c->entries[i].value);
	}
	mem_free(c->entries);
	for (i = 0; i < c->nvars; i++) {
		mem_free(c->vars[i].name);
		mem_free(c->vars[i].value);
		mem_free(c->vars[i].cache);
	}
	mem_free(c->vars);
	mem_free(c->slots);
	for (i = 0; i < c->norigins; i++)
		mem_free(c->origins[i]);
	mem_free(c->origins);
	for (i = 0; i < c->nretired; i++)
		mem_free(c->retired[i]);
	mem_free(c->retired);
	mem_free(c);
	*cp = NULL;
}

/* --- parsing --- */

/* The origin string, kept once per config. */
static const char *config_origin(struct config *c, const char *origin)
{
	size_t i;

	for (i = 0; i < c->norigins; i++)
		if (strcmp(c->origins[i], origin) == 0)
			return c->origins[i];
	c->origins =
	    mem_realloc(c->origins, (c->norigins + 1) * sizeof(*c->origins));
	c->origins[c->norigins] = mem_strdup(origin);
	return c->origins[c->norigins++];
}

struct config_pending {
	struct config_entry *list;
	size_t count, cap;
};

static void config_pending_free(struct config_pending *p)
{
	size_t i;

	for (i = 0; i < p->count; i++) {
		mem_free(p->list[i].name);
		mem_free(p->list[i].value);
	}
	mem_free(p->list);
}

int config_parse(struct config *c, const char *text, size_t len,
                 const char *origin, struct buf *err)
{
	struct config_pending pend = {NULL, 0, 0};
	struct buf *value = NULL;
	char quoted[QUOTE_MAX + 4];
	size_t pos = 0, i;
	int lineno = 0;

	if (origin == NULL)
		origin = "main.cf";
	if (c == NULL || (text == NULL && len > 0)) {
		config_error(err, "%s: no configuration text", origin);
		return -1;
	}
	if (len > CONFIG_FILE_MAX) {
		config_error(err, "%s: file too large (more than %zu bytes)",
		             origin, CONFIG_FILE_MAX);
		return -1;
	}
	value = buf_create(256, CONFIG_VALUE_MAX);
	while (pos < len) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t linelen = nl ? (size_t)(nl - line) : len - pos;
		const char *p, *end = line + linelen;

		pos += linelen + (nl ? 1 : 0);
		lineno++;
		if (linelen > CONFIG_LINE_MAX) {
			config_error(err,
			             "%s:%d: line too long (more than %zu "
			             "bytes)",
			             origin, lineno, CONFIG_LINE_MAX);
			goto fail;
		}
		if (memchr(line, 0, linelen) != NULL) {
			config_error(err, "%s:%d: NUL byte in line", origin,
			             lineno);
			goto fail;
		}
		for (p = line; p < end && config_is_space(*p); p++)
			;
		if (p == end || *p == '#')
			continue; /* blank or comment */
		while (end > p && config_is_space(end[-1]))
			end--;
		if (p > line) {
			/* Continuation of the previous value. */
			if (pend.count == 0) {
				config_error(err,
				             "%s:%d: continuation line "
				             "without a preceding "
				             "setting",
				             origin, lineno);
				goto fail;
			}
			if ((buf_len(value) > 0 &&
			     buf_append_char(value, ' ') < 0) ||
			    buf_append(value, p, (size_t)(end - p)) < 0) {
				config_error(err,
				             "%s:%d: value too long (more "
				             "than %zu bytes)",
				             origin, lineno, CONFIG_VALUE_MAX);
				goto fail;
			}
			mem_free(pend.list[pend.count - 1].value);
			pend.list[pend.count - 1].value =
			    mem_memdup(buf_str(value), buf_len(value));
			continue;
		}
		/* A new "name = value" line. */
		const char *eq = memchr(line, '=', (size_t)(end - line));
		if (eq == NULL) {
			config_quote(quoted, line, (size_t)(end - line));
			config_error(err, "%s:%d: missing '=' in \"%s\"",
			             origin, lineno, quoted);
			goto fail;
		}
		const char *ne = eq;
		while (ne > line && config_is_space(ne[-1]))
			ne--;
		const char *n;
		for (n = line; n < ne && config_is_name_char(*n); n++)
			;
		if (ne == line || n != ne || ne - line > CONFIG_NAME_MAX) {
			config_quote(quoted, line, (size_t)(ne - line));
			config_error(err, "%s:%d: bad parameter name \"%s\"",
			             origin, lineno, quoted);
			goto fail;
		}
		if (c->nentries + pend.count >= CONFIG_ENTRIES_MAX) {
			config_error(err,
			             "%s:%d: too many settings (more "
			             "than %d)",
			             origin, lineno, CONFIG_ENTRIES_MAX);
			goto fail;
		}
		for (p = eq + 1; p < end && config_is_space(*p); p++)
			;
		buf_reset(value);
		/* A physical line is at most CONFIG_LINE_MAX < the cap. */
		buf_append(value, p, (size_t)(end - p));
		if (pend.count == pend.cap) {
			pend.cap = pend.cap ? pend.cap * 2 : 32;
			pend.list = mem_realloc(pend.list,
			                        pend.cap * sizeof(*pend.list));
		}
		pend.list[pend.count].name =
		    mem_strndup(line, (size_t)(ne - line));
		pend.list[pend.count].value =
		    mem_memdup(buf_str(value), buf_len(value));
		pend.list[pend.count].line = lineno;
		pend.list[pend.count].origin = NULL;
		pend.count++;
	}
	buf_destroy(&value);

	/* No error: commit everything at once. */
	if (pend.count > 0) {
		const char *org = config_origin(c, origin);
		if (c->nentries + pend.count > c->entries_cap) {
			c->entries_cap = c->nentries + pend.count;
			c->entries = mem_realloc(
			    c->entries, c->entries_cap * sizeof(*c->entries));
		}
		for (i = 0; i < pend.count; i++) {
			struct config_entry *e = &c->entries[c->nentries++];
			struct config_var *v;

			*e = pend.list[i];
			e->origin = org;
			v = config_var_get(c, e->name);
			mem_free(v->value);
			v->value = mem_strdup(e->value);
			v->origin = org;
			v->line = e->line;
		}
		mem_free(pend.list);
		config_invalidate(c);
	}
	return 0;

fail:
	buf_destroy(&value);
	config_pending_free(&pend);
	return -1;
}

/* Read a whole file of at most CONFIG_FILE_MAX bytes. */
static char *config_read_file(const char *path, size_t *lenp, struct buf *err)
{
	struct buf *data;
	struct stat st;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		config_error(err, "%s: %s", path, strerror(errno));
		return NULL;
	}
	errno = 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		config_error(err, "%s: %s", path,
		             errno ? strerror(errno) : "not a regular file");
		close(fd);
		return NULL;
	}
	data = buf_create(st.st_size > 0 && (size_t)st.st_size < CONFIG_FILE_MAX
	                      ? (size_t)st.st_size + 1
	                      : 4096,
	                  CONFIG_FILE_MAX + 1);
	for (;;) {
		char *p = buf_reserve(data, 4096);
		if (p == NULL) {
			config_error(err,
			             "%s: file too large (more than %zu "
			             "bytes)",
			             path, CONFIG_FILE_MAX);
			goto fail;
		}
		n = read(fd, p, 4096);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			config_error(err, "%s: read: %s", path,
			             strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		buf_commit(data, (size_t)n);
	}
	close(fd);
	*lenp = buf_len(data);
	char *text = buf_steal(data);
	buf_destroy(&data);
	return text;
fail:
	close(fd);
	buf_destroy(&data);
	return NULL;
}

struct config *config_load(const char *config_dir, struct buf *err)
{
	struct buf *dir, *path;
	struct config *c = NULL;
	char *text = NULL;
	size_t len = 0, i;

	if (config_dir == NULL || *config_dir == 0) {
		config_error(err, "config_load: no configuration directory");
		return NULL;
	}
	dir = buf_create(256, PATH_MAX);
	path = buf_create(256, PATH_MAX);
	if (config_dir[0] != '/') {
		char cwd[PATH_MAX];
		if (getcwd(cwd, sizeof(cwd)) == NULL) {
			config_error(err, "config_load: getcwd: %s",
			             strerror(errno));
			goto done;
		}
		if (buf_printf(dir, "%s/", strcmp(cwd, "/") ? cwd : "") < 0)
			goto toolong;
	}
	if (buf_append_str(dir, config_dir) < 0)
		goto toolong;
	while (buf_len(dir) > 1 && buf_str(dir)[buf_len(dir) - 1] == '/')
		buf_truncate(dir, buf_len(dir) - 1);
	if (buf_printf(path, "%s%smain.cf", buf_str(dir),
	               strcmp(buf_str(dir), "/") ? "/" : "") < 0)
		goto toolong;
	if ((text = config_read_file(buf_str(path), &len, err)) == NULL)
		goto done;
	c = config_create();
	if (config_parse(c, text, len, buf_str(path), err) < 0) {
		config_destroy(&c);
		goto done;
	}
	/* The directory we were given wins over a setting in main.cf. */
	config_set(c, "config_directory", buf_str(dir));
	for (i = 0; i < c->nentries; i++)
		if (param_find(c->entries[i].name) == NULL)
			msg_warn("%s:%d: unknown parameter %s",
			         c->entries[i].origin, c->entries[i].line,
			         c->entries[i].name);
	goto done;
toolong:
	config_error(err, "config_load: %s: path too long", config_dir);
done:
	mem_free(text);
	buf_destroy(&dir);
	buf_destroy(&path);
	return c;
}

int config_set(struct config *c, const char *name, const char *value)
{
	struct config_var *v;

	if (c == NULL || name == NULL || value == NULL ||
	    param_find(name) == NULL || strlen(value) > CONFIG_VALUE_MAX)
		return -1;
	v = config_var_get(c, name);
	mem_free(v->value);
	v->value = mem_strdup(value);
	v->origin = NULL;
	v->line = 0;
	config_invalidate(c);
	return 0;
}

size_t config_entry_count(const struct config *c)
{
	return c->nentries;
}

const char *config_entry_name(const struct config *c, size_t i)
{
	return i < c->nentries ? c->entries[i].name : NULL;
}

const char *config_entry_value(const struct config *c, size_t i)
{
	return i < c->nentries ? c->entries[i].value : NULL;
}

int config_entry_line(const struct config *c, size_t i)
{
	return i < c->nentries ? c->entries[i].line : 0;
}

bool config_is_set(const struct config *c, const char *name)
{
	const struct config_var *v;

	if (name == NULL)
		return false;
	v = config_var_find(c, name);
	return v != NULL && v->value != NULL;
}

const char *config_raw(const struct config *c, const char *name)
{
	const struct config_var *v;
	const struct param_def *p;

	if (name == NULL)
		return NULL;
	v = config_var_find(c, name);
	if (v != NULL && v->value != NULL)
		return v->value;
	p = param_find(name);
	return p ? p->def : NULL;
}

/* --- expansion --- */

struct expand_ctx {
	const struct config *c;
	const char *stack[EXPAND_DEPTH_MAX]; /* names being expanded */
	int depth;
	int nest;
	size_t work;
	struct buf *err;
};

static int expand_text(struct expand_ctx *x, const char *s, size_t len,
                       struct buf *out, size_t base);

static int expand_put(struct expand_ctx *x, struct buf *out, size_t base,
                      const void *data, size_t n)
{
	if (n > EXPAND_OUTPUT_MAX - (buf_len(out) - base) ||
	    buf_append(out, data, n) < 0) {
		config_error(x->err,
		             "expansion result too long (more than "
		             "%zu bytes)",
		             EXPAND_OUTPUT_MAX);
		return -1;
	}
	return 0;
}

static int expand_loop_error(struct expand_ctx *x, int from, const char *name)
{
	struct buf *chain = buf_create(256, 4096);
	int i;

	for (i = from; i < x->depth; i++)
		buf_printf(chain, "%s -> ", x->stack[i]);
	buf_append_str(chain, name);
	config_error(x->err, "expansion loop: %s", buf_str(chain));
	buf_destroy(&chain);
	return -1;
}

/* Expand the value of one name onto out. */
static int expand_name(struct expand_ctx *x, const char *name, size_t nlen,
                       struct buf *out, size_t base)
{
	char key[CONFIG_NAME_MAX + 1];
	char quoted[QUOTE_MAX + 4];
	const char *raw;
	size_t start = buf_len(out);
	int i, r;

	if (nlen > CONFIG_NAME_MAX) {
		config_quote(quoted, name, nlen);
		config_error(x->err, "parameter name too long: %s", quoted);
		return -1;
	}
	memcpy(key, name, nlen);
	key[nlen] = 0;
	for (i = 0; i < x->depth; i++)
		if (strcmp(x->stack[i], key) == 0)
			return expand_loop_error(x, i, key);
	if (x->depth >= EXPAND_DEPTH_MAX) {
		config_error(x->err,
		             "expansion too deep (more than %d levels) "
		             "at %s",
		             EXPAND_DEPTH_MAX, key);
		return -1;
	}
	if ((raw = config_raw(x->c, key)) == NULL)
		return 0; /* unknown names expand to nothing */
	x->stack[x->depth++] = key;
	r = expand_text(x, raw, strlen(raw), out, base);
	if (r == 0 && buf_len(out) == start) {
		/* Derived defaults for empty myhostname / mydomain. */
		if (strcmp(key, "myhostname") == 0) {
			char host[256];
			if (gethostname(host, sizeof(host)) < 0)
				host[0] = 0;
			host[sizeof(host) - 1] = 0;
			r = expand_put(x, out, base,
			               host[0] ? host : "localhost",
			               strlen(host[0] ? host : "localhost"));
		} else if (strcmp(key, "mydomain") == 0) {
			struct buf *h = buf_create(256, EXPAND_OUTPUT_MAX + 1);
			const char *dot;
			r = expand_name(x, "myhostname", 10, h, 0);
			if (r == 0) {
				dot = strchr(buf_str(h), '.');
				if (dot == NULL || dot[1] == 0)
					dot = ".localdomain";
				r = expand_put(x, out, base, dot + 1,
				               strlen(dot + 1));
			}
			buf_destroy(&h);
		}
	}
	x->depth--;
	return r;
}

static int expand_text(struct expand_ctx *x, const char *s, size_t len,
                       struct buf *out, size_t base)
{
	char quoted[QUOTE_MAX + 4];
	size_t i = 0;
	int r = -1;

	if (++x->nest > EXPAND_NEST_MAX) {
		config_error(x->err,
		             "expansion nested too deeply (more than "
		             "%d levels)",
		             EXPAND_NEST_MAX);
		goto out;
	}
	if (len >= EXPAND_WORK_MAX - x->work) {
		config_error(x->err, "expansion too complex");
		goto out;
	}
	x->work += len + 1;
	while (i < len) {
		const char *d = memchr(s + i, '$', len - i);
		size_t lit = d ? (size_t)(d - (s + i)) : len - i;

		if (lit > 0 && expand_put(x, out, base, s + i, lit) < 0)
			goto out;
		i += lit;
		if (d == NULL)
			break;
		/* s[i] is '$'. */
		if (i + 1 >= len) {
			if (expand_put(x, out, base, "$", 1) < 0)
				goto out;
			i++;
			continue;
		}
		char ch = s[i + 1];
		if (ch == '$') {
			if (expand_put(x, out, base, "$", 1) < 0)
				goto out;
			i += 2;
		} else if (ch == '{' || ch == '(') {
			char open = ch, close = ch == '{' ? '}' : ')';
			size_t j, level = 1, k, start = i + 2;
			for (j = start; j < len; j++) {
				if (s[j] == open)
					level++;
				else if (s[j] == close && --level == 0)
					break;
			}
			if (j >= len) {
				config_quote(quoted, s + i, len - i);
				config_error(x->err,
				             "unterminated $%c in \"%s\"", open,
				             quoted);
				goto out;
			}
			for (k = start; k < j && config_is_name_char(s[k]); k++)
				;
			if (k == start) {
				config_quote(quoted, s + i, j + 1 - i);
				config_error(x->err,
				             "missing parameter name in "
				             "\"%s\"",
				             quoted);
				goto out;
			}
			if (k == j) {
				if (expand_name(x, s + start, k - start, out,
				                base) < 0)
					goto out;
			} else if (s[k] == '?' || s[k] == ':') {
				struct buf *t =
				    buf_create(64, EXPAND_OUTPUT_MAX + 1);
				int rc =
				    expand_name(x, s + start, k - start, t, 0);
				bool empty = buf_len(t) == 0;
				buf_destroy(&t);
				if (rc < 0)
					goto out;
				if ((s[k] == '?') != empty &&
				    expand_text(x, s + k + 1, j - k - 1, out,
				                base) < 0)
					goto out;
			} else {
				config_quote(quoted, s + i, j + 1 - i);
				config_error(x->err,
				             "bad character after "
				             "parameter name in \"%s\"",
				             quoted);
				goto out;
			}
			i = j + 1;
		} else if (config_is_name_char(ch)) {
			size_t k;
			for (k = i + 1; k < len && config_is_name_char(s[k]);
			     k++)
				;
			if (expand_name(x, s + i + 1, k - i - 1, out, base) < 0)
				goto out;
			i = k;
		} else {
			/* A lone '$' stays literal. */
			if (expand_put(x, out, base, "$", 1) < 0)
				goto out;
			i++;
		}
	}
	r = 0;
out:
	x->nest--;
	return r;
}

static void expand_init(struct expand_ctx *x, const struct config *c,
                        struct buf *err)
{
	x->c = c;
	x->depth = 0;
	x->nest = 0;
	x->work = 0;
	x->err = err;
}

int config_expand(const struct config *c, const char *text, struct buf *out,
                  struct buf *err)
{
	struct expand_ctx x;
	size_t start;

	if (c == NULL || text == NULL || out == NULL) {
		config_error(err, "config_expand: no text");
		return -1;
	}
	expand_init(&x, c, err);
	start = buf_len(out);
	if (expand_text(&x, text, strlen(text), out, start) < 0) {
		buf_truncate(out, start);
		return -1;
	}
	return 0;
}

/* --- typed getters --- */

static const char *config_get(struct config *c, const char *name,
                              const char *fn, int want,
                              const struct param_def **pp)
{
	const struct param_def *p = param_find(name);
	struct config_var *v;
	struct expand_ctx x;
	struct buf *out, *err;
	const char *origin;

	if (c == NULL || p == NULL)
		msg_panic("%s: unknown parameter %s", fn,
		          name ? name : "(null)");
	if (want >= 0 && p->type != (enum param_type)want)
		msg_panic("%s: parameter %s has another type", fn, name);
	*pp = p;
	v = config_var_find(c, name);
	if (v != NULL && v->cache != NULL)
		return v->cache;
	origin = v && v->origin ? v->origin : "main.cf";
	out = buf_create(256, EXPAND_OUTPUT_MAX + 1);
	err = buf_create(256, 4096);
	expand_init(&x, c, err);
	if (expand_name(&x, name, strlen(name), out, 0) < 0 ||
	    param_validate(p, buf_str(out), err) < 0) {
		char why[512];
		str_copy(why, sizeof(why), buf_str(err));
		buf_destroy(&out);
		buf_destroy(&err);
		msg_fatal("%s: %s: %s", origin, name, why);
	}
	buf_destroy(&err);
	v = config_var_get(c, name);
	v->cache = buf_steal(out);
	buf_destroy(&out);
	return v->cache;
}

static long long config_number(struct config *c, const char *name,
                               const char *fn, enum param_type want)
{
	const struct param_def *p;
	const char *s = config_get(c, name, fn, (int)want, &p);
	const char *why = NULL;
	long long v = 0;

	if (param_parse(p, s, &v, &why) < 0)
		msg_panic("%s: %s: validated value does not parse", fn, name);
	return v;
}

const char *config_str(struct config *c, const char *name)
{
	const struct param_def *p;

	return config_get(c, name, "config_str", -1, &p);
}

long long config_int(struct config *c, const char *name)
{
	return config_number(c, name, "config_int", PARAM_INT);
}

bool config_bool(struct config *c, const char *name)
{
	return config_number(c, name, "config_bool", PARAM_BOOL) != 0;
}

long long config_time(struct config *c, const char *name)
{
	return config_number(c, name, "config_time", PARAM_TIME);
}

long long config_size(struct config *c, const char *name)
{
	return config_number(c, name, "config_size", PARAM_SIZE);
}

/* --- config_check --- */

/* Expand and validate one value; -1 with the reason in err. */
static int config_check_value(struct config *c, const struct param_def *p,
                              const char *value, struct buf *err)
{
	struct buf *out = buf_create(256, EXPAND_OUTPUT_MAX + 1);
	int r = config_expand(c, value, out, err);

	if (r == 0)
		r = param_validate(p, buf_str(out), err);
	buf_destroy(&out);
	return r;
}

int config_check(struct config *c, struct buf *report, int *warnings)
{
	struct buf *err = buf_create(256, 4096);
	int errors = 0, warns = 0;
	size_t i;

	for (i = 0; i < c->nentries; i++) {
		const struct config_entry *e = &c->entries[i];
		const struct param_def *p = param_find(e->name);

		if (p == NULL) {
			warns++;
			if (report)
				buf_printf(report,
				           "%s:%d: unknown parameter %s\n",
				           e->origin, e->line, e->name);
			continue;
		}
		if (config_check_value(c, p, e->value, err) < 0) {
			errors++;
			if (report)
				buf_printf(report, "%s:%d: %s: %s\n", e->origin,
				           e->line, e->name, buf_str(err));
		}
	}
	/* Values set with config_set (overrides) are checked too. */
	for (i = 0; i < c->nvars; i++) {
		const struct config_var *v = &c->vars[i];

		if (v->value == NULL || v->origin != NULL || v->def == NULL)
			continue;
		if (config_check_value(c, v->def, v->value, err) < 0) {
			errors++;
			if (report)
				buf_printf(report, "override: %s: %s\n",
				           v->name, buf_str(err));
		}
	}
	buf_destroy(&err);
	if (warnings)
		*warnings = warns;
	return errors;
}
