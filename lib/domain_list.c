/*
 * domain_list.c: Postfix domain lists (domain_list.h): mydestination,
 * relay_domains, virtual_alias_domains, virtual_mailbox_domains. Owns
 * struct domain_list: the parsed entries in order, with each type:table
 * entry's map opened once. First match wins; "!" negates.
 * SECURITY: lists and pattern files come from main.cf (trusted; files
 * are bounded to DOMAIN_LIST_FILE_MAX bytes). Domains to match come from
 * SMTP clients: bounded to 255 octets, lowercased into a local copy,
 * looked up only as map keys (map_lookup bounds its keys itself).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "domain_list.h"
#include "map.h"
#include "mem.h"
#include "str.h"

/* Largest /file pattern file read. */
#define DOMAIN_LIST_FILE_MAX (1024 * 1024)
/* RFC 1035 2.3.4 (and RFC 5321 4.5.3.1.2). */
#define DOMAIN_LIST_NAME_MAX 255

enum domain_entry_type {
	DOMAIN_ENTRY_NAME, /* example.com */
	DOMAIN_ENTRY_SUB, /* .example.com (stored without the dot) */
	DOMAIN_ENTRY_TABLE, /* type:table */
};

struct domain_entry {
	enum domain_entry_type type;
	bool negated;
	char *name; /* lowercased, no trailing dot */
	struct map *map; /* DOMAIN_ENTRY_TABLE */
};

struct domain_list {
	struct domain_entry *v;
	size_t n;
	unsigned flags;
	struct buf *value; /* lookup scratch */
	struct buf *key;
};

static bool domain_list_is_sep(int c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

char *domain_list_next_word(const char **pp)
{
	const char *p = *pp, *start;
	int depth = 0;

	while (*p && domain_list_is_sep((unsigned char)*p))
		p++;
	if (*p == 0) {
		*pp = p;
		return NULL;
	}
	start = p;
	for (; *p && (depth > 0 || !domain_list_is_sep((unsigned char)*p));
	     p++) {
		if (*p == '{')
			depth++;
		else if (*p == '}' && depth > 0)
			depth--;
	}
	*pp = p;
	return mem_strndup(start, (size_t)(p - start));
}

/* A type:table word: letters/digits, ':', then something. Domain names
 * never hold ':'. */
static bool domain_list_is_table(const char *w)
{
	size_t n = strspn(w, "abcdefghijklmnopqrstuvwxyz"
	                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");

	return n > 0 && w[n] == ':' && w[n + 1] != 0;
}

static void domain_list_add(struct domain_list *l, struct domain_entry *e)
{
	l->v = mem_realloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = *e;
}

/* Read a pattern file whole (bounded); NULL with the reason in err. */
static char *domain_list_read_file(const char *path, struct buf *err)
{
	struct buf *b = buf_create(4096, DOMAIN_LIST_FILE_MAX + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	char *text;

	if (fd < 0) {
		buf_sprintf(err, "open %s: %s", path, strerror(errno));
		buf_destroy(&b);
		return NULL;
	}
	for (;;) {
		char *room = buf_reserve(b, 4096);

		if (room == NULL) {
			buf_sprintf(err, "%s: file too large", path);
			goto fail;
		}
		n = read(fd, room, 4096);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			buf_sprintf(err, "read %s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		buf_commit(b, (size_t)n);
	}
	close(fd);
	if (!str_no_nul(buf_str(b), buf_len(b))) {
		buf_sprintf(err, "%s: NUL byte in file", path);
		buf_destroy(&b);
		return NULL;
	}
	text = buf_steal(b);
	buf_destroy(&b);
	/* '#' comments run to the end of their line. */
	for (char *p = text; (p = strchr(p, '#')) != NULL;) {
		while (*p && *p != '\n')
			*p++ = ' ';
	}
	return text;
fail:
	close(fd);
	buf_destroy(&b);
	return NULL;
}

/* Parse one word (maybe "!"-prefixed) into l; nested: from a file. */
static int domain_list_parse_word(struct domain_list *l, const char *word,
                                  bool nested, struct buf *err)
{
	struct domain_entry e;
	size_t len;

	memset(&e, 0, sizeof(e));
	while (*word == '!') {
		e.negated = !e.negated;
		word++;
	}
	if (*word == 0) {
		buf_sprintf(err, "empty pattern after \"!\"");
		return -1;
	}
	if (*word == '/') {
		const char *p;
		char *text, *w;
		int r = 0;

		if (nested) {
			buf_sprintf(err, "%s: pattern files do not nest", word);
			return -1;
		}
		if (e.negated) {
			buf_sprintf(
			    err, "!%s: a pattern file cannot be negated", word);
			return -1;
		}
		if ((text = domain_list_read_file(word, err)) == NULL)
			return -1;
		p = text;
		while (r == 0 && (w = domain_list_next_word(&p)) != NULL) {
			r = domain_list_parse_word(l, w, true, err);
			mem_free(w);
		}
		mem_free(text);
		return r;
	}
	if (domain_list_is_table(word)) {
		e.type = DOMAIN_ENTRY_TABLE;
		if ((e.map = map_open(word, err)) == NULL)
			return -1;
		domain_list_add(l, &e);
		return 0;
	}
	e.type = DOMAIN_ENTRY_NAME;
	if (*word == '.') {
		e.type = DOMAIN_ENTRY_SUB;
		word++;
	}
	len = strlen(word);
	if (len > 0 && word[len - 1] == '.')
		len--;
	if (len == 0 || len > DOMAIN_LIST_NAME_MAX) {
		buf_sprintf(err, "bad domain pattern \"%s\"", word);
		return -1;
	}
	e.name = str_lower(mem_strndup(word, len));
	domain_list_add(l, &e);
	return 0;
}

struct domain_list *domain_list_create(const char *text, unsigned flags,
                                       struct buf *err)
{
	struct domain_list *l = mem_zalloc(sizeof(*l));
	const char *p = text ? text : "";
	char *w;

	l->flags = flags;
	l->value = buf_create(256, 0);
	l->key = buf_create(DOMAIN_LIST_NAME_MAX + 2, DOMAIN_LIST_NAME_MAX + 2);
	while ((w = domain_list_next_word(&p)) != NULL) {
		int r = domain_list_parse_word(l, w, false, err);

		mem_free(w);
		if (r < 0) {
			domain_list_destroy(&l);
			return NULL;
		}
	}
	return l;
}

bool domain_list_parent_style(struct config *c, const char *param)
{
	const char *p = config_str(c, "parent_domain_matches_subdomains");
	char *w;
	bool found = false;

	while (!found && (w = domain_list_next_word(&p)) != NULL) {
		found = strcmp(w, param) == 0;
		mem_free(w);
	}
	return found;
}

struct domain_list *domain_list_from_config(struct config *c, const char *param,
                                            struct buf *err)
{
	unsigned flags =
	    domain_list_parent_style(c, param) ? DOMAIN_LIST_PARENT_MATCHES : 0;
	struct domain_list *l;

	l = domain_list_create(config_str(c, param), flags, err);
	if (l == NULL) {
		/* Name the parameter: "relay_domains: bad ..." */
		char *why = mem_strdup(buf_str(err));

		buf_sprintf(err, "%s: %s", param, why);
		mem_free(why);
	}
	return l;
}

void domain_list_destroy(struct domain_list **lp)
{
	struct domain_list *l = *lp;

	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++) {
		mem_free(l->v[i].name);
		map_close(&l->v[i].map);
	}
	mem_free(l->v);
	buf_destroy(&l->value);
	buf_destroy(&l->key);
	mem_free(l);
	*lp = NULL;
}

bool domain_list_empty(const struct domain_list *l)
{
	return l->n == 0;
}

/* Does d (lowercased) end in "." + name? */
static bool domain_list_is_sub(const char *d, size_t dlen, const char *name)
{
	size_t nlen = strlen(name);

	return dlen > nlen + 1 && d[dlen - nlen - 1] == '.' &&
	       memcmp(d + dlen - nlen, name, nlen) == 0;
}

/* Look d and its parents up in a table: 1, 0, -1. */
static int domain_list_table(struct domain_list *l, struct map *m,
                             const char *d, struct buf *err)
{
	int r = map_lookup(m, d, l->value, err);

	for (const char *dot = strchr(d, '.'); r == 0 && dot != NULL;
	     dot = strchr(dot + 1, '.')) {
		if (dot[1] == 0)
			break;
		if (l->flags & DOMAIN_LIST_PARENT_MATCHES)
			buf_set_str(l->key, dot + 1);
		else
			buf_set_str(l->key, dot);
		r = map_lookup(m, buf_str(l->key), l->value, err);
	}
	return r;
}

int domain_list_match(struct domain_list *l, const char *domain,
                      struct buf *err)
{
	char d[DOMAIN_LIST_NAME_MAX + 1];
	size_t len;

	if (domain == NULL)
		return 0;
	len = strlen(domain);
	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (len == 0 || len > DOMAIN_LIST_NAME_MAX)
		return 0;
	memcpy(d, domain, len);
	d[len] = 0;
	/* No empty labels: ".x", "a..b" are not names and match nothing. */
	if (d[0] == '.' || strstr(d, "..") != NULL)
		return 0;
	str_lower(d);
	for (size_t i = 0; i < l->n; i++) {
		const struct domain_entry *e = &l->v[i];
		bool hit = false;
		int r;

		switch (e->type) {
		case DOMAIN_ENTRY_NAME:
			hit = strcmp(d, e->name) == 0 ||
			      ((l->flags & DOMAIN_LIST_PARENT_MATCHES) &&
			       domain_list_is_sub(d, len, e->name));
			break;
		case DOMAIN_ENTRY_SUB:
			hit = domain_list_is_sub(d, len, e->name);
			break;
		case DOMAIN_ENTRY_TABLE:
			r = domain_list_table(l, e->map, d, err);
			if (r < 0)
				return -1;
			hit = r == 1;
			break;
		}
		if (hit)
			return e->negated ? 0 : 1;
	}
	return 0;
}
