/*
 * map_regexp.c: "regexp:/path" tables (Postfix regexp_table(5) subset):
 * POSIX extended regular expressions, tried in file order, first match
 * wins. The file is read once, at open.
 *
 * Lines (with the map_text rules: '#' comments, blank lines, indented
 * continuation lines):
 *   /pattern/flags result     the result when pattern matches the key
 *   !/pattern/flags result    the result when pattern does not match
 *   if /pattern/flags         the rules up to the matching endif apply
 *   endif                     only if pattern matches (may nest, may be
 *                             negated with !)
 * The first character of a pattern is its delimiter (usually '/'); any
 * printable character other than a letter, digit, backslash or '!' may be
 * used (but not '#': such a line is a comment). The pattern ends at the next delimiter not escaped with a
 * backslash (the backslash stays in the expression, as in Postfix).
 * Flags: i toggles case-insensitive matching (on by default), x toggles
 * extended syntax (on by default: off means POSIX basic syntax), m toggles
 * multi-line mode (REG_NEWLINE, off by default). The key is matched as
 * given (not case-folded). In the result, $1..$9 or ${1}..${9} insert what
 * the group matched (nothing for a group that did not take part) and $$ is
 * a literal '$'; a reference to a group the pattern does not have, and any
 * reference in a negated rule, is an error when the file is loaded.
 *
 * SECURITY: the file is trusted configuration, but still bounded: at most
 * REGEXP_FILE_MAX bytes, REGEXP_RULES_MAX rules, MAP_LINE_MAX bytes per
 * line, REGEXP_DEPTH_MAX nested ifs. Keys are untrusted (bounded by
 * MAP_KEY_MAX in the dispatcher); a substituted result is capped at
 * MAP_VALUE_MAX bytes (a lookup that would pass it fails).
 */
#include <ctype.h>
#include <regex.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "map.h"
#include "map_impl.h"
#include "mem.h"
#include "str.h"

#define REGEXP_FILE_MAX (4L * 1024 * 1024)
#define REGEXP_RULES_MAX 10000
#define REGEXP_DEPTH_MAX 64
/* $1..$9: the whole match plus nine groups. */
#define REGEXP_NMATCH 10

enum regexp_op {
	REGEXP_MATCH,
	REGEXP_IF,
	REGEXP_ENDIF,
};

struct regexp_rule {
	enum regexp_op op;
	bool negate;
	bool compiled; /* re holds a compiled expression */
	regex_t re;
	char *result; /* REGEXP_MATCH only */
	size_t skip; /* REGEXP_IF: index of the matching endif */
	long lineno;
};

struct map_regexp {
	char *path;
	struct regexp_rule *rules;
	size_t count, cap;
};

/* Parse a reference after a '$' at p: "$" (n = 0, a literal '$'), a digit
 * 1..9 or "{digit}". Returns the bytes used after the '$', or 0 when p
 * holds no valid reference. */
static size_t regexp_ref(const char *p, int *n)
{
	if (*p == '$') {
		*n = 0;
		return 1;
	}
	if (*p >= '1' && *p <= '9') {
		*n = *p - '0';
		return 1;
	}
	if (p[0] == '{' && p[1] >= '1' && p[1] <= '9' && p[2] == '}') {
		*n = p[1] - '0';
		return 3;
	}
	return 0;
}

static void regexp_close(void *priv)
{
	struct map_regexp *mr = priv;

	for (size_t i = 0; i < mr->count; i++) {
		if (mr->rules[i].compiled)
			regfree(&mr->rules[i].re);
		mem_free(mr->rules[i].result);
	}
	mem_free(mr->rules);
	mem_free(mr->path);
	mem_free(mr);
}

static struct regexp_rule *regexp_new_rule(struct map_regexp *mr,
                                           enum regexp_op op, long lineno)
{
	struct regexp_rule *r;

	if (mr->count == mr->cap) {
		mr->cap = mr->cap ? mr->cap * 2 : 16;
		mr->rules =
		    mem_realloc(mr->rules, mr->cap * sizeof(mr->rules[0]));
	}
	r = &mr->rules[mr->count++];
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->lineno = lineno;
	return r;
}

/* Parse "[!]/pattern/flags" at *pp into r (compiling it); *pp moves past
 * the flags. -1 with "path:line: reason". */
static int regexp_pattern(struct map_regexp *mr, long lineno, char **pp,
                          struct regexp_rule *r, struct buf *err)
{
	int cflags = REG_EXTENDED | REG_ICASE;
	char *p = *pp, *start, delim;
	int rc;

	if (*p == '!') {
		r->negate = true;
		p++;
	}
	delim = *p;
	if (delim == 0 || isalnum((unsigned char)delim) ||
	    isspace((unsigned char)delim) || delim == '\\' || delim == '!' ||
	    !isprint((unsigned char)delim)) {
		map_error(err,
		          "%s:%ld: missing pattern delimiter (expected "
		          "/pattern/ result)",
		          mr->path, lineno);
		return -1;
	}
	start = ++p;
	while (*p && *p != delim) {
		if (*p == '\\' && p[1])
			p++;
		p++;
	}
	if (*p != delim) {
		map_error(err, "%s:%ld: missing closing delimiter '%c'",
		          mr->path, lineno, delim);
		return -1;
	}
	*p++ = 0; /* terminates the pattern at start */
	for (; *p && !isspace((unsigned char)*p); p++) {
		switch (*p) {
		case 'i':
			cflags ^= REG_ICASE;
			break;
		case 'x':
			cflags ^= REG_EXTENDED;
			break;
		case 'm':
			cflags ^= REG_NEWLINE;
			break;
		default:
			map_error(err, "%s:%ld: unknown pattern flag '%c'",
			          mr->path, lineno, *p);
			return -1;
		}
	}
	if (r->negate)
		cflags |= REG_NOSUB;
	if ((rc = regcomp(&r->re, start, cflags)) != 0) {
		char why[256];

		regerror(rc, &r->re, why, sizeof(why));
		map_error(err, "%s:%ld: bad pattern %c%.200s%c: %s", mr->path,
		          lineno, delim, start, delim, why);
		return -1;
	}
	r->compiled = true;
	*pp = p;
	return 0;
}

/* Check every '$' in a rule's result against its pattern. */
static int regexp_check_result(struct map_regexp *mr, long lineno,
                               const struct regexp_rule *r, struct buf *err)
{
	for (const char *p = r->result; (p = strchr(p, '$')) != NULL;) {
		size_t used;
		int n = 0;

		if ((used = regexp_ref(p + 1, &n)) == 0) {
			map_error(err,
			          "%s:%ld: bad '$' in result (use $1..$9, "
			          "${1}..${9}, or $$ for a '$')",
			          mr->path, lineno);
			return -1;
		}
		if (n > 0 && r->negate) {
			map_error(err,
			          "%s:%ld: $%d in the result of a negated "
			          "pattern (it has no groups)",
			          mr->path, lineno, n);
			return -1;
		}
		if (n > 0 && (size_t)n > r->re.re_nsub) {
			map_error(err,
			          "%s:%ld: $%d refers to a group the pattern "
			          "does not have (it has %zu)",
			          mr->path, lineno, n, r->re.re_nsub);
			return -1;
		}
		p += 1 + used;
	}
	return 0;
}

/* Parse one logical line; depth/stack track open ifs. */
static int regexp_line(struct map_regexp *mr, char *line, long lineno,
                       size_t *stack, size_t *depth, struct buf *err)
{
	struct regexp_rule *r;
	char *p = line;
	bool is_if = false;

	if (mr->count >= REGEXP_RULES_MAX) {
		map_error(err, "%s:%ld: more than %d rules", mr->path, lineno,
		          REGEXP_RULES_MAX);
		return -1;
	}
	if (str_has_prefix_ci(p, "endif") &&
	    (p[5] == 0 || isspace((unsigned char)p[5]))) {
		if (*str_trim(p + 5) != 0) {
			map_error(err, "%s:%ld: text after endif", mr->path,
			          lineno);
			return -1;
		}
		if (*depth == 0) {
			map_error(err, "%s:%ld: endif without if", mr->path,
			          lineno);
			return -1;
		}
		mr->rules[stack[--*depth]].skip = mr->count;
		regexp_new_rule(mr, REGEXP_ENDIF, lineno);
		return 0;
	}
	if (str_has_prefix_ci(p, "if") && p[2] != 0 &&
	    !isalnum((unsigned char)p[2])) {
		is_if = true;
		p += 2;
		while (isspace((unsigned char)*p))
			p++;
		if (*depth >= REGEXP_DEPTH_MAX) {
			map_error(err, "%s:%ld: if nested deeper than %d",
			          mr->path, lineno, REGEXP_DEPTH_MAX);
			return -1;
		}
	}
	r = regexp_new_rule(mr, is_if ? REGEXP_IF : REGEXP_MATCH, lineno);
	if (regexp_pattern(mr, lineno, &p, r, err) < 0)
		return -1;
	p = str_trim(p);
	if (is_if) {
		if (*p) {
			map_error(err, "%s:%ld: text after the if pattern",
			          mr->path, lineno);
			return -1;
		}
		stack[(*depth)++] = mr->count - 1;
		return 0;
	}
	if (*p == 0) {
		map_error(err, "%s:%ld: missing result", mr->path, lineno);
		return -1;
	}
	r->result = mem_strdup(p);
	return regexp_check_result(mr, lineno, r, err);
}

static void *regexp_open(const char *name, struct buf *err)
{
	size_t stack[REGEXP_DEPTH_MAX], depth = 0;
	struct map_regexp *mr;
	struct map_text *t;
	struct stat st;
	long lineno = 0;
	char *line;
	int r;

	if (*name == 0) {
		map_error(err, "regexp: missing file name (regexp:/path)");
		return NULL;
	}
	if ((t = map_text_open(name, err)) == NULL)
		return NULL;
	if (fstat(map_text_fd(t), &st) == 0 && st.st_size > REGEXP_FILE_MAX) {
		map_error(err, "%s: file larger than %ld bytes", name,
		          REGEXP_FILE_MAX);
		map_text_close(&t);
		return NULL;
	}
	mr = mem_zalloc(sizeof(*mr));
	mr->path = mem_strdup(name);
	while ((r = map_text_next(t, &line, &lineno, err)) == 1)
		if (regexp_line(mr, line, lineno, stack, &depth, err) < 0) {
			r = -1;
			break;
		}
	map_text_close(&t);
	if (r == 0 && depth > 0) {
		map_error(err, "%s: missing endif for the if on line %ld", name,
		          mr->rules[stack[depth - 1]].lineno);
		r = -1;
	}
	if (r < 0) {
		regexp_close(mr);
		return NULL;
	}
	return mr;
}

/* Expand r's result for the match pm of key into value. */
static int regexp_expand(const struct map_regexp *mr,
                         const struct regexp_rule *r, const char *key,
                         const regmatch_t *pm, struct buf *value,
                         struct buf *err)
{
	struct buf *out = buf_create(128, MAP_VALUE_MAX);
	const char *p = r->result;
	int ret = -1;

	while (*p) {
		const char *dollar = strchr(p, '$');
		size_t lit = dollar ? (size_t)(dollar - p) : strlen(p);
		size_t used;
		int n = 0;

		if (buf_append(out, p, lit) < 0)
			goto toolong;
		p += lit;
		if (*p == 0)
			break;
		used = regexp_ref(p + 1, &n); /* checked at load */
		p += 1 + used;
		if (n == 0) {
			if (buf_append_char(out, '$') < 0)
				goto toolong;
		} else if (pm[n].rm_so >= 0 &&
		           buf_append(out, key + pm[n].rm_so,
		                      (size_t)(pm[n].rm_eo - pm[n].rm_so)) <
		               0) {
			goto toolong;
		}
	}
	ret = map_set_value(value, buf_str(out), buf_len(out), err);
	buf_destroy(&out);
	return ret;

toolong:
	map_error(err, "regexp: %s: result longer than %d bytes", mr->path,
	          MAP_VALUE_MAX);
	buf_destroy(&out);
	return -1;
}

static int regexp_lookup(void *priv, const char *key, size_t keylen,
                         struct buf *value, struct buf *err)
{
	struct map_regexp *mr = priv;
	regmatch_t pm[REGEXP_NMATCH];
	size_t i = 0;

	while (i < mr->count) {
		const struct regexp_rule *r = &mr->rules[i];
		bool matched;
		int rc;

		if (r->op == REGEXP_ENDIF) {
			i++;
			continue;
		}
		rc = regexec(&r->re, key, r->negate ? 0 : REGEXP_NMATCH,
		             r->negate ? NULL : pm, 0);
		if (rc != 0 && rc != REG_NOMATCH) {
			map_error(err, "regexp: %s: regexec failed (%d)",
			          mr->path, rc);
			return -1;
		}
		matched = (rc == 0) != r->negate;
		if (r->op == REGEXP_IF) {
			i = matched ? i + 1 : r->skip;
			continue;
		}
		if (matched)
			return regexp_expand(mr, r, key, pm, value, err) < 0
			           ? -1
			           : 1;
		i++;
	}
	return 0;
}

const struct map_type map_type_regexp = {
    .name = "regexp",
    .open = regexp_open,
    .lookup = regexp_lookup,
    .close = regexp_close,
};
