/*
 * aliases.c: the aliases(5) parser (file form and canonical table form),
 * the :include: file parser, and the table builder behind `posthorn
 * aliases`, newaliases and sendmail -bi (see aliases.h for the syntax).
 * Owns the canonical value format: "t1, t2" with a target quoted only
 * when it holds white space, ',', '"' or '\'; aliases_split(aliases_quote
 * (t)) gives t back, and local delivery reads table values with the same
 * aliases_split that reads the file.
 * SECURITY: the aliases file is the administrator's, but it is parsed as
 * untrusted text all the same (fuzzed by tests/fuzz/fuzz_aliases.c):
 * every size is checked against the ALIASES_* limits before it is used,
 * NUL and control characters are refused, errors name file:line. The
 * table is built into a temporary file and renamed (lib/map.h), so local
 * never sees half a table.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aliases.h"
#include "map.h"
#include "mem.h"
#include "msg.h"
#include "str.h"

#define ALIASES_INCLUDE_PREFIX ":include:"

static bool alias_space(int c)
{
	return c == ' ' || c == '\t';
}

/* Separates targets outside quotes and outside a "|command". */
static bool alias_sep(int c)
{
	return c == ',' || alias_space(c);
}

/* Does a quoted string or a raw token end at list[j]? Quotes toggle;
 * inside quotes a backslash takes the next byte along. Sets *end to the
 * first byte after the token; -1 on an unterminated quote. */
static int alias_scan(const char *list, size_t len, size_t j, bool command,
                      size_t *end)
{
	bool quoted = false;

	for (; j < len; j++) {
		char c = list[j];

		if (quoted && c == '\\' && j + 1 < len) {
			j++;
			continue;
		}
		if (c == '"')
			quoted = !quoted;
		else if (!quoted && (command ? c == ',' : alias_sep(c)))
			break;
	}
	if (quoted)
		return -1;
	*end = j;
	return 0;
}

/* Read the target starting at list[*pos] (not a separator) into t. */
static int alias_next_target(const char *list, size_t len, size_t *pos,
                             struct buf *t, struct buf *err)
{
	size_t start = *pos, j, end;

	buf_reset(t);
	if (list[start] == '|') {
		/* A command runs to the next comma outside quotes, white
		 * space and quotes included: the shell parses it. */
		if (alias_scan(list, len, start, true, &j) < 0)
			goto unterminated;
		for (end = j; end > start && alias_space(list[end - 1]); end--)
			;
		if (buf_append(t, list + start, end - start) < 0)
			goto too_long;
		*pos = j;
		return 0;
	}
	if (list[start] == '"') {
		for (j = start + 1; j < len && list[j] != '"'; j++) {
			if (list[j] == '\\' && j + 1 < len)
				j++;
			if (buf_append_char(t, list[j]) < 0)
				goto too_long;
		}
		if (j >= len)
			goto unterminated;
		j++;
		if (j >= len || alias_sep(list[j])) {
			*pos = j;
			return 0; /* the whole target was quoted */
		}
		/* Only part of it ("john doe"@example.com): keep the quotes,
		 * the address parser reads them. */
		buf_reset(t);
	}
	if (alias_scan(list, len, start, false, &j) < 0)
		goto unterminated;
	if (buf_append(t, list + start, j - start) < 0)
		goto too_long;
	*pos = j;
	return 0;
unterminated:
	buf_set_str(err, "unterminated quoted string");
	return -1;
too_long:
	buf_sprintf(err, "target longer than %d bytes", ALIASES_TARGET_MAX);
	return -1;
}

enum alias_target_type alias_target_type(const char *target, const char **rest)
{
	enum alias_target_type type = ALIAS_TARGET_ADDRESS;
	const char *r = target;

	if (target[0] == '|') {
		type = ALIAS_TARGET_COMMAND;
		r = target + 1;
	} else if (target[0] == '/') {
		type = ALIAS_TARGET_FILE;
	} else if (str_has_prefix_ci(target, ALIASES_INCLUDE_PREFIX)) {
		type = ALIAS_TARGET_INCLUDE;
		r = target + strlen(ALIASES_INCLUDE_PREFIX);
	}
	if (rest != NULL)
		*rest = r;
	return type;
}

/* A target as a whole: not empty, no control characters, and what its
 * type needs. */
static int alias_check_target(const char *t, size_t len, struct buf *err)
{
	const char *rest;

	if (len == 0) {
		buf_set_str(err, "empty target");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c < 0x20 || c == 0x7f) {
			buf_sprintf(err, "control character 0x%02x in target",
			            c);
			return -1;
		}
	}
	switch (alias_target_type(t, &rest)) {
	case ALIAS_TARGET_COMMAND:
		while (alias_space(*rest))
			rest++;
		if (*rest == 0) {
			buf_set_str(err, "empty |command");
			return -1;
		}
		break;
	case ALIAS_TARGET_INCLUDE:
		if (rest[0] != '/') {
			buf_sprintf(err, "%s needs an absolute path",
			            ALIASES_INCLUDE_PREFIX);
			return -1;
		}
		break;
	case ALIAS_TARGET_FILE:
	case ALIAS_TARGET_ADDRESS:
		break;
	}
	return 0;
}

int aliases_split(const char *list, size_t len, alias_target_fn fn, void *ctx,
                  struct buf *err)
{
	struct buf *t = buf_create(64, ALIASES_TARGET_MAX);
	size_t pos = 0;
	int n = 0, ret = -1;

	while (pos < len) {
		if (alias_sep(list[pos])) {
			pos++;
			continue;
		}
		if (list[pos] == 0) {
			buf_set_str(err, "NUL byte in target list");
			goto out;
		}
		if (alias_next_target(list, len, &pos, t, err) < 0 ||
		    alias_check_target(buf_str(t), buf_len(t), err) < 0)
			goto out;
		if (n >= ALIASES_TARGETS_MAX) {
			buf_sprintf(err, "more than %d targets",
			            ALIASES_TARGETS_MAX);
			goto out;
		}
		n++;
		if (fn != NULL && fn(ctx, buf_str(t)) < 0)
			goto out;
	}
	ret = n;
out:
	buf_destroy(&t);
	return ret;
}

int aliases_quote(const char *target, struct buf *out)
{
	size_t before = buf_len(out);

	if (*target != 0 && strpbrk(target, " \t,\"\\") == NULL)
		return buf_append_str(out, target);
	if (buf_append_char(out, '"') < 0)
		return -1;
	for (const char *p = target; *p; p++) {
		if ((*p == '"' || *p == '\\') && buf_append_char(out, '\\') < 0)
			goto full;
		if (buf_append_char(out, *p) < 0)
			goto full;
	}
	if (buf_append_char(out, '"') == 0)
		return 0;
full:
	buf_truncate(out, before);
	return -1;
}

/* ---- the file form ---- */

struct alias_value {
	struct buf *value;
	struct buf *err;
};

static int alias_join(void *ctx, const char *target)
{
	struct alias_value *v = ctx;

	if ((buf_len(v->value) > 0 && buf_append_str(v->value, ", ") < 0) ||
	    aliases_quote(target, v->value) < 0) {
		buf_set_str(v->err, "target list too long");
		return -1;
	}
	return 0;
}

/* Parse one logical line "name: targets" and hand it to fn. reason gets
 * the cause of an error (without file:line). */
static int alias_entry(const char *s, size_t n, long line, alias_entry_fn fn,
                       void *ctx, struct buf *reason)
{
	struct buf *name = buf_create(64, ALIASES_NAME_MAX);
	struct alias_value v = {buf_create(256, 2 * ALIASES_LINE_MAX + 16),
	                        reason};
	bool quoted = s[0] == '"';
	size_t i = 0;
	int ret = -1;

	if (quoted) {
		for (i = 1; i < n && s[i] != '"'; i++) {
			if (s[i] == '\\' && i + 1 < n)
				i++;
			if (buf_append_char(name, s[i]) < 0)
				goto name_long;
		}
		if (i >= n) {
			buf_set_str(reason, "unterminated quoted name");
			goto out;
		}
		i++;
	} else {
		for (; i < n && s[i] != ':' && !alias_space(s[i]); i++) {
			if (s[i] == '"') {
				buf_set_str(
				    reason,
				    "quote inside an unquoted alias name");
				goto out;
			}
			if (buf_append_char(name, s[i]) < 0)
				goto name_long;
		}
	}
	while (i < n && alias_space(s[i]))
		i++;
	if (i >= n || s[i] != ':') {
		buf_set_str(reason, "missing ':' after the alias name");
		goto out;
	}
	i++;
	if (buf_len(name) == 0) {
		buf_set_str(reason, "empty alias name");
		goto out;
	}
	for (size_t k = 0; k < buf_len(name); k++) {
		unsigned char c = (unsigned char)buf_str(name)[k];

		if (c < 0x20 || c == 0x7f) {
			buf_sprintf(reason,
			            "control character 0x%02x in alias name",
			            c);
			goto out;
		}
	}
	/* Aliases are local parts (aliases(5)); "a@b" only when quoted. */
	if (!quoted && strchr(buf_str(name), '@') != NULL) {
		buf_sprintf(reason,
		            "alias name '%s' has a domain: aliases are local "
		            "parts",
		            buf_str(name));
		goto out;
	}
	int count = aliases_split(s + i, n - i, alias_join, &v, reason);
	if (count < 0)
		goto out;
	if (count == 0) {
		buf_sprintf(reason, "no targets for alias '%s'", buf_str(name));
		goto out;
	}
	str_lower(buf_data(name));
	if (fn != NULL && fn(ctx, buf_str(name), buf_str(v.value), line) < 0)
		goto out;
	ret = 0;
	goto out;
name_long:
	buf_sprintf(reason, "alias name longer than %d bytes",
	            ALIASES_NAME_MAX);
out:
	buf_destroy(&name);
	buf_destroy(&v.value);
	return ret;
}

/* One physical line at text[*pos]: sets *line and *llen (the line ending and
 * a CR before it dropped) and advances *pos. */
static void alias_physical_line(const char *text, size_t len, size_t *pos,
                                const char **line, size_t *llen)
{
	const char *start = text + *pos;
	const char *nl = memchr(start, '\n', len - *pos);
	size_t n = nl ? (size_t)(nl - start) : len - *pos;

	*pos += nl ? n + 1 : n;
	if (n > 0 && start[n - 1] == '\r')
		n--;
	*line = start;
	*llen = n;
}

int aliases_parse(const char *text, size_t len, const char *origin,
                  alias_entry_fn fn, void *ctx, struct buf *err)
{
	struct buf *logical = buf_create(256, ALIASES_LINE_MAX);
	struct buf *reason = buf_create(0, 1024);
	size_t pos = 0;
	long lineno = 0, start = 0;
	int count = 0, ret = -1;

	for (;;) {
		const char *line;
		size_t llen, k = 0;
		bool at_end = pos >= len;

		if (!at_end) {
			alias_physical_line(text, len, &pos, &line, &llen);
			lineno++;
			if (memchr(line, 0, llen) != NULL) {
				buf_set_str(reason, "NUL byte in line");
				start = lineno;
				goto fail;
			}
			while (k < llen && alias_space(line[k]))
				k++;
			if (k == llen || line[k] == '#')
				continue; /* blank or comment */
			while (llen > k && alias_space(line[llen - 1]))
				llen--;
			if (k > 0) {
				/* White space first: continues the entry. */
				if (start == 0) {
					buf_set_str(reason,
					            "continuation line without "
					            "an entry to continue");
					start = lineno;
					goto fail;
				}
				if (buf_append_char(logical, ' ') < 0 ||
				    buf_append(logical, line + k, llen - k) < 0)
					goto too_long;
				continue;
			}
		}
		if (start != 0) {
			if (alias_entry(buf_str(logical), buf_len(logical),
			                start, fn, ctx, reason) < 0)
				goto fail;
			count++;
		}
		if (at_end)
			break;
		buf_reset(logical);
		start = lineno;
		if (buf_append(logical, line, llen) < 0)
			goto too_long;
	}
	ret = count;
	goto out;
too_long:
	buf_sprintf(reason, "entry longer than %d bytes", ALIASES_LINE_MAX);
fail:
	buf_sprintf(err, "%s:%ld: %s", origin, start, buf_str(reason));
out:
	buf_destroy(&logical);
	buf_destroy(&reason);
	return ret;
}

/* ---- :include: files ---- */

struct alias_include {
	alias_target_fn fn;
	void *ctx;
	int count;
	struct buf *err;
};

static int alias_include_target(void *ctx, const char *target)
{
	struct alias_include *inc = ctx;

	if (inc->count >= ALIASES_TARGETS_MAX) {
		buf_sprintf(inc->err, "more than %d targets",
		            ALIASES_TARGETS_MAX);
		return -1;
	}
	inc->count++;
	return inc->fn != NULL ? inc->fn(inc->ctx, target) : 0;
}

int aliases_parse_include(const char *text, size_t len, const char *origin,
                          alias_target_fn fn, void *ctx, struct buf *err)
{
	struct buf *reason = buf_create(0, 1024);
	struct alias_include inc = {fn, ctx, 0, reason};
	size_t pos = 0;
	long lineno = 0;
	int ret = -1;

	if (len > (size_t)ALIASES_INCLUDE_MAX) {
		buf_sprintf(err, "%s: larger than %ld bytes", origin,
		            ALIASES_INCLUDE_MAX);
		goto out;
	}
	while (pos < len) {
		const char *line;
		size_t llen, k = 0;

		alias_physical_line(text, len, &pos, &line, &llen);
		lineno++;
		if (llen > ALIASES_LINE_MAX) {
			buf_sprintf(reason, "line longer than %d bytes",
			            ALIASES_LINE_MAX);
			goto fail;
		}
		if (memchr(line, 0, llen) != NULL) {
			buf_set_str(reason, "NUL byte in line");
			goto fail;
		}
		while (k < llen && alias_space(line[k]))
			k++;
		if (k == llen || line[k] == '#')
			continue;
		if (aliases_split(line + k, llen - k, alias_include_target,
		                  &inc, reason) < 0)
			goto fail;
	}
	ret = inc.count;
	goto out;
fail:
	buf_sprintf(err, "%s:%ld: %s", origin, lineno, buf_str(reason));
out:
	buf_destroy(&reason);
	return ret;
}

/* ---- building the table ---- */

struct alias_row {
	char *name, *value;
	long line;
	bool dup;
};

struct alias_rows {
	struct alias_row *rows;
	size_t n, cap;
};

static int alias_collect(void *ctx, const char *name, const char *value,
                         long line)
{
	struct alias_rows *r = ctx;

	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64;
		r->rows = mem_realloc(r->rows, r->cap * sizeof(*r->rows));
	}
	r->rows[r->n].name = mem_strdup(name);
	r->rows[r->n].value = mem_strdup(value);
	r->rows[r->n].line = line;
	r->rows[r->n].dup = false;
	r->n++;
	return 0;
}

/* By name, then by line: the first of equal names comes first. */
static int alias_row_cmp(const void *a, const void *b)
{
	const struct alias_row *x = *(const struct alias_row *const *)a;
	const struct alias_row *y = *(const struct alias_row *const *)b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* Read a whole regular file of at most max bytes; NULL with the reason. */
static char *alias_read_file(const char *path, long max, size_t *lenp,
                             struct buf *err)
{
	struct stat st;
	char *data = NULL;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		buf_sprintf(err, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		buf_sprintf(err, "%s: not a regular file", path);
		goto fail;
	}
	if (st.st_size > max) {
		buf_sprintf(err, "%s: larger than %ld bytes", path, max);
		goto fail;
	}
	/* One byte more than allowed, to see a file that grew meanwhile. */
	data = mem_alloc((size_t)max + 2);
	for (;;) {
		ssize_t n = read(fd, data + len, (size_t)max + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			buf_sprintf(err, "%s: read: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > (size_t)max) {
			buf_sprintf(err, "%s: larger than %ld bytes", path,
			            max);
			goto fail;
		}
	}
	close(fd);
	data[len] = 0;
	*lenp = len;
	return data;
fail:
	mem_free(data);
	close(fd);
	return NULL;
}

long aliases_build(const char *path, struct buf *err)
{
	struct alias_rows r = {0};
	struct alias_row **sorted = NULL;
	struct map_builder *b = NULL;
	size_t len;
	long ret = ALIASES_ERR_IO, added = 0;
	char *text = alias_read_file(path, ALIASES_FILE_MAX, &len, err);

	if (text == NULL)
		return ALIASES_ERR_IO;
	if (aliases_parse(text, len, path, alias_collect, &r, err) < 0) {
		ret = ALIASES_ERR_SYNTAX;
		goto out;
	}
	/* Postfix keeps the first of duplicate names and warns. */
	sorted = mem_array(r.n ? r.n : 1, sizeof(*sorted));
	for (size_t i = 0; i < r.n; i++)
		sorted[i] = &r.rows[i];
	qsort(sorted, r.n, sizeof(*sorted), alias_row_cmp);
	for (size_t i = 1, first = 0; i < r.n; i++) {
		if (strcmp(sorted[i]->name, sorted[first]->name) != 0) {
			first = i;
			continue;
		}
		sorted[i]->dup = true;
		msg_warn("%s:%ld: duplicate alias '%s' ignored (first entry at "
		         "line %ld)",
		         path, sorted[i]->line, sorted[i]->name,
		         sorted[first]->line);
	}
	if ((b = map_builder_create(path, err)) == NULL)
		goto out;
	for (size_t i = 0; i < r.n; i++) {
		if (r.rows[i].dup)
			continue;
		if (map_builder_add(b, r.rows[i].name, r.rows[i].value, err) <
		    0) {
			map_builder_abort(&b);
			goto out;
		}
		added++;
	}
	if (map_builder_commit(&b, err) < 0)
		goto out;
	ret = added;
out:
	for (size_t i = 0; i < r.n; i++) {
		mem_free(r.rows[i].name);
		mem_free(r.rows[i].value);
	}
	mem_free(r.rows);
	mem_free(sorted);
	mem_free(text);
	return ret;
}

long aliases_build_all(struct config *c, struct buf *err)
{
	char *list = mem_strdup(config_str(c, "alias_database"));
	char *p = list, *spec;
	long total = 0;

	while ((spec = str_token(&p, ", \t\r\n")) != NULL) {
		long n;

		if (!str_has_prefix(spec, "lmdb:")) {
			msg_warn("alias_database: %s: only lmdb: tables are "
			         "built; skipped",
			         spec);
			continue;
		}
		if (spec[5] == 0) {
			buf_sprintf(err, "alias_database: %s: no file name",
			            spec);
			total = ALIASES_ERR_SYNTAX;
			break;
		}
		if ((n = aliases_build(spec + 5, err)) < 0) {
			total = n;
			break;
		}
		total += n;
	}
	mem_free(list);
	return total;
}
