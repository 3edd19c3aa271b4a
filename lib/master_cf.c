/*
 * master_cf.c: the master.cf parser. Owns struct master_cf and its
 * services. Layout as in Postfix: one service per logical line,
 *   name type private unpriv chroot wakeup maxproc command [args]
 * '-' selects a field's default (private y, unpriv y, chroot n, wakeup 0,
 * maxproc -1 meaning default_process_limit). A line that starts with
 * white space continues the previous one; '#' starts a comment only as the
 * first non-blank character of a line; blank lines and comments do not
 * end a service that continues below them.
 * "-o name=value" pairs among the leading options of the command (as
 * getopt would see them: up to the first argument that does not start
 * with '-', or "--") become overrides; everything else stays in args, so
 * "pipe ... argv=/bin/prog -o x" keeps its -o.
 * SECURITY: master.cf is trusted (root-owned) but parsed defensively: file
 * size, line length, field count and service count are limited, NUL bytes
 * are rejected, unix/fifo/pass names may not contain '/' or start with '.'
 * (they become socket paths), numbers are range-checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "master_cf.h"
#include "mem.h"
#include "number.h"
#include "str.h"

#define MASTER_FILE_MAX ((size_t)4 << 20) /* whole master.cf */
#define MASTER_LINE_MAX ((size_t)64 << 10) /* one physical line */
#define MASTER_ENTRY_MAX ((size_t)1 << 20) /* one service after joining */
#define MASTER_SERVICES_MAX 1000
#define MASTER_FIELDS_MAX 1024 /* words per service */
#define MASTER_NAME_MAX 255
#define MASTER_WAKEUP_MAX (7 * 86400)
#define MASTER_MAXPROC_MAX 100000
#define QUOTE_MAX 60

static void master_cf_error(struct buf *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void master_cf_error(struct buf *err, const char *fmt, ...)
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

/* Copy a word for a message: printable, at most QUOTE_MAX bytes. dst holds
 * QUOTE_MAX + 4 bytes. */
static void master_cf_quote(char *dst, const char *s)
{
	size_t i;

	for (i = 0; s[i] && i < QUOTE_MAX; i++) {
		unsigned char ch = (unsigned char)s[i];
		dst[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	if (s[i]) {
		memcpy(dst + i, "...", 3);
		i += 3;
	}
	dst[i] = 0;
}

static bool master_cf_is_space(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' ||
	       ch == '\f';
}

const char *master_type_name(enum master_type t)
{
	switch (t) {
	case MASTER_INET:
		return "inet";
	case MASTER_UNIX:
		return "unix";
	case MASTER_PASS:
		return "pass";
	case MASTER_FIFO:
		return "fifo";
	}
	return "unknown";
}

static void master_service_free(struct master_service *s)
{
	size_t i;

	mem_free(s->name);
	mem_free(s->command);
	for (i = 0; i < s->nargs; i++)
		mem_free(s->args[i]);
	mem_free(s->args);
	for (i = 0; i < s->noverrides; i++) {
		mem_free(s->override_names[i]);
		mem_free(s->override_values[i]);
	}
	mem_free(s->override_names);
	mem_free(s->override_values);
}

void master_cf_destroy(struct master_cf **mp)
{
	struct master_cf *m;
	size_t i;

	if (mp == NULL || (m = *mp) == NULL)
		return;
	for (i = 0; i < m->count; i++)
		master_service_free(&m->services[i]);
	mem_free(m->services);
	mem_free(m);
	*mp = NULL;
}

/* y, n or '-' (the default). */
static int master_cf_yn(const char *word, bool def, bool *out)
{
	if (strcmp(word, "-") == 0)
		*out = def;
	else if (strcmp(word, "y") == 0)
		*out = true;
	else if (strcmp(word, "n") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

static int master_cf_check_name(const char *name, enum master_type type,
                                const char **why)
{
	size_t i, len = strlen(name);

	if (len > MASTER_NAME_MAX) {
		*why = "service name too long";
		return -1;
	}
	if (type == MASTER_INET) {
		for (i = 0; i < len; i++)
			if ((unsigned char)name[i] < 0x21 ||
			    (unsigned char)name[i] > 0x7e) {
				*why = "bad character in service name";
				return -1;
			}
		return 0;
	}
	/* unix, fifo and pass names become file names in the queue. */
	if (name[0] == '.') {
		*why = "service name starts with '.'";
		return -1;
	}
	for (i = 0; i < len; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
		      ch == '_')) {
			*why = "bad character in service name (use letters, "
			       "digits, '.', '-', '_')";
			return -1;
		}
	}
	return 0;
}

static bool master_cf_param_name(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > MASTER_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* Parse one logical line (NUL-terminated, writable) into s. */
static int master_cf_service(char *text, int line, const char *origin,
                             struct master_service *s, struct buf *err)
{
	char *words[MASTER_FIELDS_MAX];
	char quoted[QUOTE_MAX + 4];
	const char *why = NULL;
	size_t n = 0, i;
	long long v;
	char *w, *cursor = text;

	memset(s, 0, sizeof(*s));
	s->line = line;
	while ((w = str_token(&cursor, " \t\r\v\f")) != NULL) {
		if (n == MASTER_FIELDS_MAX) {
			master_cf_error(err,
			                "%s:%d: too many words (more "
			                "than %d)",
			                origin, line, MASTER_FIELDS_MAX);
			return -1;
		}
		words[n++] = w;
	}
	if (n < 8) {
		master_cf_error(err,
		                "%s:%d: missing fields (need at least "
		                "8, got %zu)",
		                origin, line, n);
		return -1;
	}
	if (strcmp(words[1], "inet") == 0)
		s->type = MASTER_INET;
	else if (strcmp(words[1], "unix") == 0)
		s->type = MASTER_UNIX;
	else if (strcmp(words[1], "pass") == 0)
		s->type = MASTER_PASS;
	else if (strcmp(words[1], "fifo") == 0)
		s->type = MASTER_FIFO;
	else {
		master_cf_quote(quoted, words[1]);
		master_cf_error(err,
		                "%s:%d: bad service type \"%s\" (use "
		                "inet, unix, pass or fifo)",
		                origin, line, quoted);
		return -1;
	}
	if (master_cf_check_name(words[0], s->type, &why) < 0) {
		master_cf_quote(quoted, words[0]);
		master_cf_error(err, "%s:%d: \"%s\": %s", origin, line, quoted,
		                why);
		return -1;
	}
	static const char *const ynfield[] = {"private", "unpriv", "chroot"};
	bool *ynout[] = {&s->private_, &s->unpriv, &s->chroot};
	const bool yndef[] = {true, true, false};
	for (i = 0; i < 3; i++) {
		if (master_cf_yn(words[2 + i], yndef[i], ynout[i]) < 0) {
			master_cf_quote(quoted, words[2 + i]);
			master_cf_error(err,
			                "%s:%d: bad %s field \"%s\" (use "
			                "y, n or -)",
			                origin, line, ynfield[i], quoted);
			return -1;
		}
	}
	/* wakeup: '-', N or N? */
	if (strcmp(words[5], "-") != 0) {
		size_t len = strlen(words[5]);
		char num[32];
		if (len > 1 && words[5][len - 1] == '?') {
			s->wakeup_if_used = true;
			len--;
		}
		why = "number too large";
		bool bad = len >= sizeof(num);
		if (!bad) {
			memcpy(num, words[5], len);
			num[len] = 0;
			bad = number_parse(num, 0, MASTER_WAKEUP_MAX, &v,
			                   &why) < 0;
		}
		if (bad) {
			master_cf_quote(quoted, words[5]);
			master_cf_error(err,
			                "%s:%d: bad wakeup field \"%s\": "
			                "%s",
			                origin, line, quoted, why);
			return -1;
		}
		s->wakeup = (int)v;
	}
	s->maxproc = -1;
	if (strcmp(words[6], "-") != 0) {
		if (number_parse(words[6], 0, MASTER_MAXPROC_MAX, &v, &why) <
		    0) {
			master_cf_quote(quoted, words[6]);
			master_cf_error(err,
			                "%s:%d: bad maxproc field \"%s\": "
			                "%s",
			                origin, line, quoted, why);
			return -1;
		}
		s->maxproc = (int)v;
	}
	/* Arguments: pull -o name=value out of the leading options. */
	size_t nrest = n - 8;
	s->args = mem_array(nrest + 1, sizeof(char *));
	s->override_names = mem_array(nrest / 2 + 1, sizeof(char *));
	s->override_values = mem_array(nrest / 2 + 1, sizeof(char *));
	bool options = true;
	for (i = 8; i < n; i++) {
		if (options && strcmp(words[i], "-o") == 0) {
			char *eq;
			if (i + 1 >= n) {
				master_cf_error(err,
				                "%s:%d: -o without "
				                "name=value",
				                origin, line);
				goto fail;
			}
			w = words[++i];
			eq = strchr(w, '=');
			if (eq == NULL ||
			    !master_cf_param_name(w, (size_t)(eq - w))) {
				master_cf_quote(quoted, w);
				master_cf_error(err,
				                "%s:%d: bad -o override "
				                "\"%s\" (use -o "
				                "name=value)",
				                origin, line, quoted);
				goto fail;
			}
			s->override_names[s->noverrides] =
			    mem_strndup(w, (size_t)(eq - w));
			s->override_values[s->noverrides] = mem_strdup(eq + 1);
			s->noverrides++;
			continue;
		}
		if (words[i][0] != '-' || strcmp(words[i], "--") == 0)
			options = false;
		s->args[s->nargs++] = mem_strdup(words[i]);
	}
	s->args[s->nargs] = NULL;
	s->override_names[s->noverrides] = NULL;
	s->override_values[s->noverrides] = NULL;
	s->name = mem_strdup(words[0]);
	s->command = mem_strdup(words[7]);
	return 0;
fail:
	master_service_free(s);
	memset(s, 0, sizeof(*s));
	return -1;
}

/* Add the logical line in entry to m; -1 on error. */
static int master_cf_add(struct master_cf *m, size_t *cap, char *entry,
                         int line, const char *origin, struct buf *err)
{
	struct master_service s;
	char quoted[QUOTE_MAX + 4];
	size_t i;

	if (master_cf_service(entry, line, origin, &s, err) < 0)
		return -1;
	for (i = 0; i < m->count; i++) {
		if (m->services[i].type == s.type &&
		    strcmp(m->services[i].name, s.name) == 0) {
			master_cf_quote(quoted, s.name);
			master_cf_error(err,
			                "%s:%d: duplicate service %s/%s "
			                "(first at line %d)",
			                origin, line, quoted,
			                master_type_name(s.type),
			                m->services[i].line);
			master_service_free(&s);
			return -1;
		}
	}
	if (m->count >= MASTER_SERVICES_MAX) {
		master_cf_error(err, "%s:%d: too many services (more than %d)",
		                origin, line, MASTER_SERVICES_MAX);
		master_service_free(&s);
		return -1;
	}
	if (m->count == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		m->services =
		    mem_realloc(m->services, *cap * sizeof(*m->services));
	}
	m->services[m->count++] = s;
	return 0;
}

struct master_cf *master_cf_parse(const char *text, size_t len,
                                  const char *origin, struct buf *err)
{
	struct master_cf *m;
	struct buf *entry;
	size_t pos = 0, cap = 0;
	int lineno = 0, entry_line = 0;

	if (origin == NULL)
		origin = "master.cf";
	if (text == NULL && len > 0) {
		master_cf_error(err, "%s: no text", origin);
		return NULL;
	}
	if (len > MASTER_FILE_MAX) {
		master_cf_error(err, "%s: file too large (more than %zu bytes)",
		                origin, MASTER_FILE_MAX);
		return NULL;
	}
	m = mem_zalloc(sizeof(*m));
	entry = buf_create(256, MASTER_ENTRY_MAX);
	while (pos < len) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t linelen = nl ? (size_t)(nl - line) : len - pos;
		const char *p, *end = line + linelen;

		pos += linelen + (nl ? 1 : 0);
		lineno++;
		if (linelen > MASTER_LINE_MAX) {
			master_cf_error(err,
			                "%s:%d: line too long (more than "
			                "%zu bytes)",
			                origin, lineno, MASTER_LINE_MAX);
			goto fail;
		}
		if (memchr(line, 0, linelen) != NULL) {
			master_cf_error(err, "%s:%d: NUL byte in line", origin,
			                lineno);
			goto fail;
		}
		for (p = line; p < end && master_cf_is_space(*p); p++)
			;
		if (p == end || *p == '#')
			continue;
		if (p > line) {
			if (entry_line == 0) {
				master_cf_error(err,
				                "%s:%d: continuation line "
				                "without a preceding "
				                "service",
				                origin, lineno);
				goto fail;
			}
			if (buf_append_char(entry, ' ') < 0 ||
			    buf_append(entry, p, (size_t)(end - p)) < 0) {
				master_cf_error(err,
				                "%s:%d: service entry too "
				                "long",
				                origin, lineno);
				goto fail;
			}
			continue;
		}
		if (entry_line != 0 &&
		    master_cf_add(m, &cap, buf_data(entry), entry_line, origin,
		                  err) < 0)
			goto fail;
		buf_reset(entry);
		/* One physical line always fits (MASTER_LINE_MAX < cap). */
		buf_append(entry, line, linelen);
		entry_line = lineno;
	}
	if (entry_line != 0 && master_cf_add(m, &cap, buf_data(entry),
	                                     entry_line, origin, err) < 0)
		goto fail;
	buf_destroy(&entry);
	return m;
fail:
	buf_destroy(&entry);
	master_cf_destroy(&m);
	return NULL;
}

struct master_cf *master_cf_read(const char *path, struct buf *err)
{
	struct master_cf *m = NULL;
	struct buf *data;
	struct stat st;
	ssize_t n;
	int fd;

	if (path == NULL) {
		master_cf_error(err, "master_cf_read: no path");
		return NULL;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		master_cf_error(err, "%s: %s", path, strerror(errno));
		return NULL;
	}
	errno = 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		master_cf_error(err, "%s: %s", path,
		                errno ? strerror(errno) : "not a regular file");
		close(fd);
		return NULL;
	}
	data = buf_create(4096, MASTER_FILE_MAX + 1);
	for (;;) {
		char *p = buf_reserve(data, 4096);
		if (p == NULL) {
			master_cf_error(err,
			                "%s: file too large (more than "
			                "%zu bytes)",
			                path, MASTER_FILE_MAX);
			goto done;
		}
		n = read(fd, p, 4096);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			master_cf_error(err, "%s: read: %s", path,
			                strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		buf_commit(data, (size_t)n);
	}
	m = master_cf_parse(buf_str(data), buf_len(data), path, err);
done:
	close(fd);
	buf_destroy(&data);
	return m;
}
