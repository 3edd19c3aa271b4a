/*
 * tls_policy.c: parsers for the SMTP client's TLS policy, Postfix syntax:
 * security levels (none, may, encrypt, verify, secure; RFC 3207 for
 * STARTTLS, RFC 6125 for what "verify" and "secure" check), certificate
 * match lists ("hostname", "nexthop", "dot-nexthop", literal names,
 * ".example.com" for any subdomain), the values of smtp_tls_policy_maps
 * ("secure match=example.com:.example.com protocols=>=TLSv1.3") and the
 * lookup keys of a nexthop (as written, bare domain, parent domains).
 * Owns struct tls_match_list and struct tls_policy.
 * SECURITY: values come from admin tables but are parsed as untrusted
 * text: bounded name count and length, a fixed character set for names,
 * unknown levels and attributes are errors (the caller defers the mail
 * instead of guessing a weaker policy).
 */
#include <ctype.h>
#include <string.h>

#include "mem.h"
#include "tls.h"
#include "tls_policy.h"

static const char *const tls_level_names[] = {"none", "may", "encrypt",
                                              "verify", "secure"};

int tls_level_parse(const char *word, enum tls_level *level)
{
	if (*word == 0) {
		*level = TLS_LEV_NONE;
		return 0;
	}
	for (size_t i = 0;
	     i < sizeof(tls_level_names) / sizeof(*tls_level_names); i++) {
		if (strcasecmp(word, tls_level_names[i]) == 0) {
			*level = (enum tls_level)i;
			return 0;
		}
	}
	return -1;
}

const char *tls_level_name(enum tls_level level)
{
	if ((size_t)level >= sizeof(tls_level_names) / sizeof(*tls_level_names))
		return "unknown";
	return tls_level_names[level];
}

/* A literal name: DNS letters, digits, '-', '_' and dots, an optional
 * leading dot (any subdomain), no empty labels, no wildcards. */
static bool tls_name_ok(const char *p, size_t len)
{
	size_t i = 0;
	bool label = false;

	if (len == 0 || len >= TLS_MATCH_NAME_MAX)
		return false;
	if (p[0] == '.')
		i = 1;
	if (i == len)
		return false;
	for (; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '.') {
			if (!label)
				return false;
			label = false;
		} else if (isalnum(c) || c == '-' || c == '_') {
			label = true;
		} else {
			return false;
		}
	}
	/* No trailing dot: certificates never carry one. */
	return label;
}

void tls_match_free(struct tls_match_list *m)
{
	for (size_t i = 0; i < m->n; i++)
		mem_free(m->names[i]);
	m->n = 0;
}

int tls_match_parse(const char *spec, struct tls_match_list *m, struct buf *err)
{
	struct tls_match_list tmp = {0};
	const char *p = spec;

	for (;;) {
		size_t len;

		p += strspn(p, " \t,:");
		if (*p == 0)
			break;
		len = strcspn(p, " \t,:");
		if (!tls_name_ok(p, len)) {
			buf_sprintf(err, "bad certificate match name \"%.*s\"",
			            (int)(len > 64 ? 64 : len), p);
			goto fail;
		}
		if (tmp.n == TLS_MATCH_MAX) {
			buf_sprintf(err, "more than %d certificate match names",
			            TLS_MATCH_MAX);
			goto fail;
		}
		tmp.names[tmp.n] = mem_alloc(len + 1);
		memcpy(tmp.names[tmp.n], p, len);
		tmp.names[tmp.n][len] = 0;
		for (char *q = tmp.names[tmp.n]; *q; q++)
			*q = (char)tolower((unsigned char)*q);
		tmp.n++;
		p += len;
	}
	if (tmp.n == 0) {
		buf_sprintf(err, "empty certificate match list");
		return -1;
	}
	*m = tmp;
	return 0;
fail:
	tls_match_free(&tmp);
	return -1;
}

/* Add name (prefixed by dot when asked) unless empty or already there. */
static size_t tls_match_add(char **out, size_t n, size_t max, const char *name,
                            bool dot)
{
	char text[TLS_MATCH_NAME_MAX + 2];
	size_t len;

	if (name == NULL || *name == 0 || n >= max)
		return n;
	len = strlen(name);
	if (len >= TLS_MATCH_NAME_MAX)
		return n;
	text[0] = '.';
	memcpy(text + (dot ? 1 : 0), name, len + 1);
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(out[i], text) == 0)
			return n;
	out[n] = mem_strdup(text);
	return n + 1;
}

size_t tls_match_expand(const struct tls_match_list *m, const char *hostname,
                        const char *nexthop, char **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n; i++) {
		const char *w = m->names[i];

		if (strcmp(w, "hostname") == 0)
			n = tls_match_add(out, n, max, hostname, false);
		else if (strcmp(w, "nexthop") == 0)
			n = tls_match_add(out, n, max, nexthop, false);
		else if (strcmp(w, "dot-nexthop") == 0)
			n = tls_match_add(out, n, max, nexthop, true);
		else
			n = tls_match_add(out, n, max, w, false);
	}
	return n;
}

void tls_policy_free(struct tls_policy *p)
{
	tls_match_free(&p->match);
	mem_free(p->protocols);
	p->protocols = NULL;
	p->have_match = false;
}

int tls_policy_parse(const char *value, struct tls_policy *p, struct buf *err)
{
	struct tls_policy tmp;
	const char *s = value;
	char word[64];
	size_t len;
	bool first = true;

	memset(&tmp, 0, sizeof(tmp));
	for (const char *q = value; *q; q++)
		if ((unsigned char)*q < 0x20 && *q != '\t') {
			buf_sprintf(err, "control character in TLS policy");
			return -1;
		}
	for (;;) {
		const char *eq;

		s += strspn(s, " \t");
		if (*s == 0)
			break;
		len = strcspn(s, " \t");
		if (first) {
			first = false;
			if (len >= sizeof(word))
				goto bad_level;
			memcpy(word, s, len);
			word[len] = 0;
			if (tls_level_parse(word, &tmp.level) < 0 || len == 0)
				goto bad_level;
			s += len;
			continue;
		}
		eq = memchr(s, '=', len);
		if (eq != NULL && (size_t)(eq - s) == 5 &&
		    strncasecmp(s, "match", 5) == 0) {
			struct buf *v = buf_create(64, 4096);

			if (tmp.have_match) {
				buf_destroy(&v);
				buf_sprintf(err, "match= given twice");
				goto fail;
			}
			buf_append(v, eq + 1, len - 6);
			if (tls_match_parse(buf_str(v), &tmp.match, err) < 0) {
				buf_destroy(&v);
				goto fail;
			}
			buf_destroy(&v);
			tmp.have_match = true;
		} else if (eq != NULL && (size_t)(eq - s) == 9 &&
		           strncasecmp(s, "protocols", 9) == 0) {
			struct buf *why = buf_create(64, 1024);
			int lo, hi;

			if (tmp.protocols != NULL) {
				buf_destroy(&why);
				buf_sprintf(err, "protocols= given twice");
				goto fail;
			}
			tmp.protocols = mem_alloc(len - 9);
			memcpy(tmp.protocols, eq + 1, len - 10);
			tmp.protocols[len - 10] = 0;
			if (*tmp.protocols == 0 ||
			    tls_protocols_parse(tmp.protocols, &lo, &hi, why) <
			        0) {
				buf_sprintf(err, "protocols=: %s",
				            *tmp.protocols ? buf_str(why)
				                           : "empty value");
				buf_destroy(&why);
				goto fail;
			}
			buf_destroy(&why);
		} else {
			buf_sprintf(err,
			            "unsupported TLS policy attribute "
			            "\"%.*s\"",
			            (int)(len > 64 ? 64 : len), s);
			goto fail;
		}
		s += len;
	}
	if (first) {
		buf_sprintf(err, "empty TLS policy");
		return -1;
	}
	/* Postfix: match= only means something where names are checked. */
	if (tmp.have_match && tmp.level < TLS_LEV_VERIFY) {
		buf_sprintf(err, "match= needs level verify or secure, not %s",
		            tls_level_name(tmp.level));
		goto fail;
	}
	*p = tmp;
	return 0;
bad_level:
	buf_sprintf(err, "unknown TLS security level \"%.*s\"",
	            (int)(len > 64 ? 64 : len), s);
fail:
	tls_policy_free(&tmp);
	return -1;
}

int tls_nexthop_domain(const char *nexthop, char *out, size_t outlen,
                       bool *bracketed)
{
	const char *start = nexthop, *end;
	size_t len;

	*bracketed = false;
	if (*nexthop == '[') {
		end = strchr(nexthop, ']');
		if (end == NULL)
			return -1;
		start = nexthop + 1;
		*bracketed = true;
	} else {
		end = strrchr(nexthop, ':');
		if (end == NULL)
			end = nexthop + strlen(nexthop);
	}
	len = (size_t)(end - start);
	if (len == 0 || len >= outlen)
		return -1;
	for (size_t i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)start[i]);
	out[len] = 0;
	return 0;
}

size_t tls_policy_keys(const char *nexthop, struct buf *keys)
{
	char dom[TLS_MATCH_NAME_MAX];
	bool bracketed;
	size_t n = 0, len = strlen(nexthop);
	const char *p;

	buf_reset(keys);
	if (len == 0 || len >= TLS_MATCH_NAME_MAX + 16)
		return 0;
	for (size_t i = 0; i < len; i++)
		buf_append_char(keys, tolower((unsigned char)nexthop[i]));
	buf_append_char(keys, 0);
	n++;
	if (tls_nexthop_domain(nexthop, dom, sizeof(dom), &bracketed) < 0)
		return n;
	if (strcmp(dom, buf_str(keys)) != 0) {
		buf_append(keys, dom, strlen(dom) + 1);
		n++;
	}
	/* Address literals have no parent domains. */
	if (bracketed && (strchr(dom, ':') != NULL ||
	                  strspn(dom, "0123456789.") == strlen(dom)))
		return n;
	for (p = strchr(dom, '.'); p != NULL && p[1] != 0;
	     p = strchr(p + 1, '.')) {
		buf_append(keys, p, strlen(p) + 1);
		n++;
	}
	return n;
}
