/*
 * address_header.c: address lists in header values (From:, To:, Cc:, for
 * sendmail -t). Owns struct address_list. A small lexer turns the value
 * into words (atoms, quoted strings), domain literals and specials,
 * dropping comments and folding; a recursive-descent parser on top builds
 * one entry per mailbox. Addresses come out in the canonical form of
 * address.c and pass the same checks as SMTP paths.
 * RFC 5322 3.2.2 (FWS, comments), 3.2.3-3.2.5 (atoms, quoted strings,
 * phrases), 3.4 (address lists, groups), 3.4.1 (addr-spec), 4.4
 * (obs-route, obs-local-part, obs-domain, empty list elements); RFC 6532
 * (UTF-8).
 * SECURITY: the input is a message header from a local user or a peer.
 * Input is bounded by ADDRESS_LIST_INPUT_MAX, mailboxes by the caller's
 * max_addresses, comment nesting by ADDRESS_COMMENT_DEPTH_MAX (scanned
 * iteratively, no recursion), every part by the RFC 5321 limits; control
 * characters and bare CR/LF are rejected; group names are stored once, so
 * memory stays proportional to the input.
 */
#include <string.h>

#include "address.h"
#include "address_impl.h"
#include "buf.h"
#include "mem.h"
#include "msg.h"

#define ADDRESS_NO_GROUP ((size_t)-1)

struct address_entry {
	char *addr;
	char *name;
	size_t group; /* index in groups, or ADDRESS_NO_GROUP */
};

struct address_list {
	struct address_entry *entries;
	size_t count, cap;
	char **groups;
	size_t ngroups, gcap;
};

enum hdr_type {
	HDR_END,
	HDR_ATOM, /* atext run (8-bit bytes included) */
	HDR_QSTRING, /* quoted string, quotes included */
	HDR_LITERAL, /* domain literal, brackets included */
	HDR_SPECIAL, /* one of < > @ , ; : . */
};

struct hdr_token {
	enum hdr_type type;
	int ch; /* HDR_SPECIAL */
	const unsigned char *start;
	size_t len;
	bool space; /* white space or a comment came before it */
};

/* One parse: the input position, the result, and scratch buffers. */
struct hdr_parse {
	const unsigned char *p, *end;
	unsigned flags;
	size_t max;
	const char *why;
	struct address_list *list;
	struct buf *name, *local, *domain, *addr;
};

static bool hdr_is_control(int c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static int hdr_fail(struct hdr_parse *P, const char *why)
{
	P->why = why;
	return -1;
}

static int hdr_bad_char(struct hdr_parse *P, int c)
{
	if (c == 0)
		return hdr_fail(P, "NUL byte in header");
	if (hdr_is_control(c) || c == '\t')
		return hdr_fail(P, "control character in header");
	return hdr_fail(P, "bad address syntax");
}

/* RFC 5322 3.2.2: a line break is folding ([CR] LF then WSP; bare LF as
 * sendmail -t reads it) or ends the input. *pp is on the CR or LF. */
static int hdr_fold(struct hdr_parse *P, const unsigned char **pp)
{
	const unsigned char *q = *pp;

	if (*q == '\r')
		q++;
	if (q >= P->end || *q != '\n')
		return hdr_fail(P, "bad line break");
	q++;
	if (q < P->end && *q != ' ' && *q != '\t')
		return hdr_fail(P, "bad line folding");
	*pp = q;
	return 0;
}

/* RFC 5322 3.2.2 comment at *pp (on the '('), nested comments and
 * quoted-pairs included. */
static int hdr_comment(struct hdr_parse *P, const unsigned char **pp)
{
	const unsigned char *p = *pp;
	int depth = 0;

	while (p < P->end) {
		switch (*p) {
		case '(':
			if (++depth > ADDRESS_COMMENT_DEPTH_MAX)
				return hdr_fail(P,
				                "comments nested too deeply");
			p++;
			break;
		case ')':
			p++;
			if (--depth == 0) {
				*pp = p;
				return 0;
			}
			break;
		case '\\':
			if (p + 1 >= P->end)
				return hdr_fail(P, "unterminated comment");
			if (hdr_is_control(p[1]))
				return hdr_bad_char(P, p[1]);
			p += 2;
			break;
		case '\r':
		case '\n':
			if (hdr_fold(P, &p) < 0)
				return -1;
			break;
		default:
			if (hdr_is_control(*p))
				return hdr_bad_char(P, *p);
			p++;
			break;
		}
	}
	return hdr_fail(P, "unterminated comment");
}

/* Skip CFWS; *space tells whether there was any. */
static int hdr_skip_cfws(struct hdr_parse *P, bool *space)
{
	while (P->p < P->end) {
		switch (*P->p) {
		case ' ':
		case '\t':
			P->p++;
			break;
		case '\r':
		case '\n':
			if (hdr_fold(P, &P->p) < 0)
				return -1;
			break;
		case '(':
			if (hdr_comment(P, &P->p) < 0)
				return -1;
			break;
		default:
			return 0;
		}
		*space = true;
	}
	return 0;
}

/* RFC 5322 3.2.4 quoted-string at *pp (on the '"'). */
static int hdr_quoted_scan(struct hdr_parse *P, const unsigned char **pp)
{
	const unsigned char *p = *pp + 1;

	while (p < P->end) {
		if (*p == '"') {
			*pp = p + 1;
			return 0;
		}
		if (*p == '\\') {
			if (p + 1 >= P->end)
				break;
			if (hdr_is_control(p[1]))
				return hdr_bad_char(P, p[1]);
			p += 2;
		} else if (*p == '\r' || *p == '\n') {
			if (hdr_fold(P, &p) < 0)
				return -1;
		} else if (hdr_is_control(*p)) {
			return hdr_bad_char(P, *p);
		} else {
			p++;
		}
	}
	return hdr_fail(P, "unterminated quoted string");
}

/* RFC 5322 3.4.1 domain-literal at *pp (on the '['). */
static int hdr_literal_scan(struct hdr_parse *P, const unsigned char **pp)
{
	const unsigned char *p = *pp + 1;

	while (p < P->end) {
		if (*p == ']') {
			*pp = p + 1;
			return 0;
		}
		if (*p == '[' || *p == '\\')
			return hdr_fail(P, "bad address literal");
		if (*p == '\r' || *p == '\n') {
			if (hdr_fold(P, &p) < 0)
				return -1;
		} else if (hdr_is_control(*p)) {
			return hdr_bad_char(P, *p);
		} else {
			p++;
		}
	}
	return hdr_fail(P, "unterminated domain literal");
}

/* The next token, after CFWS. */
static int hdr_next(struct hdr_parse *P, struct hdr_token *t)
{
	const unsigned char *q;
	bool space = false;

	if (hdr_skip_cfws(P, &space) < 0)
		return -1;
	t->space = space;
	t->start = q = P->p;
	t->ch = 0;
	if (q >= P->end) {
		t->type = HDR_END;
		t->len = 0;
		return 0;
	}
	if (*q == '"') {
		if (hdr_quoted_scan(P, &q) < 0)
			return -1;
		t->type = HDR_QSTRING;
	} else if (*q == '[') {
		if (hdr_literal_scan(P, &q) < 0)
			return -1;
		t->type = HDR_LITERAL;
	} else if (address_is_atext(*q) || *q >= 0x80) {
		/* 8-bit bytes lex as atext; address parts check them. */
		while (q < P->end && (address_is_atext(*q) || *q >= 0x80))
			q++;
		t->type = HDR_ATOM;
	} else if (*q != 0 && strchr("<>@,;:.", *q) != NULL) {
		t->type = HDR_SPECIAL;
		t->ch = *q++;
	} else if (*q == ')') {
		return hdr_fail(P, "unbalanced parenthesis");
	} else {
		return hdr_bad_char(P, *q);
	}
	t->len = (size_t)(q - t->start);
	P->p = q;
	return 0;
}

/* The next token without consuming it. */
static int hdr_peek(struct hdr_parse *P, struct hdr_token *t)
{
	const unsigned char *save = P->p;

	if (hdr_next(P, t) < 0)
		return -1;
	P->p = save;
	return 0;
}

static bool hdr_is_special(const struct hdr_token *t, int ch)
{
	return t->type == HDR_SPECIAL && t->ch == ch;
}

/* Append a word's content: an atom as is, a quoted string without its
 * quotes, backslashes and line breaks (RFC 5322 3.2.4). -1 past b's
 * limit. */
static int hdr_word_append(struct buf *b, const struct hdr_token *t)
{
	const unsigned char *p, *end;

	if (t->type == HDR_ATOM)
		return buf_append(b, t->start, t->len);
	for (p = t->start + 1, end = t->start + t->len - 1; p < end; p++) {
		if (*p == '\r' || *p == '\n')
			continue;
		if (*p == '\\')
			p++;
		if (buf_append_char(b, *p) < 0)
			return -1;
	}
	return 0;
}

/* RFC 5322 3.2.5 phrase (obs-phrase: dots allowed after the first word)
 * into P->name; the caller has seen that one is there. */
static int hdr_phrase(struct hdr_parse *P)
{
	struct hdr_token t;
	const unsigned char *save;

	buf_reset(P->name);
	for (;;) {
		save = P->p;
		if (hdr_next(P, &t) < 0)
			return -1;
		if (t.type != HDR_ATOM && t.type != HDR_QSTRING &&
		    !(hdr_is_special(&t, '.') && buf_len(P->name) > 0)) {
			P->p = save;
			return 0;
		}
		if ((t.space && buf_len(P->name) > 0 &&
		     buf_append_char(P->name, ' ') < 0) ||
		    (t.type == HDR_SPECIAL ? buf_append_char(P->name, '.')
		                           : hdr_word_append(P->name, &t)) < 0)
			return hdr_fail(P, "display name too long");
	}
}

/* RFC 5322 3.4.1 domain (dot-atom, obs-domain or domain-literal) into
 * P->domain, checked against RFC 5321 domain syntax. */
static int hdr_domain(struct hdr_parse *P)
{
	const unsigned char *d, *end, *q;
	struct hdr_token t;

	buf_reset(P->domain);
	if (hdr_next(P, &t) < 0)
		return -1;
	if (t.type == HDR_LITERAL) {
		if (buf_append(P->domain, t.start, t.len) < 0)
			return hdr_fail(P, "domain too long");
	} else {
		for (;;) {
			if (t.type != HDR_ATOM)
				return hdr_fail(P, buf_len(P->domain) == 0
				                       ? "missing domain"
				                       : "bad domain syntax");
			if (buf_append(P->domain, t.start, t.len) < 0)
				return hdr_fail(P, "domain too long");
			if (hdr_peek(P, &t) < 0)
				return -1;
			if (!hdr_is_special(&t, '.'))
				break;
			if (hdr_next(P, &t) < 0 || hdr_next(P, &t) < 0)
				return -1;
			if (buf_append_char(P->domain, '.') < 0)
				return hdr_fail(P, "domain too long");
		}
	}
	d = (const unsigned char *)buf_str(P->domain);
	end = d + buf_len(P->domain);
	if ((q = address_domain_scan(d, end, P->flags, true, &P->why)) == NULL)
		return -1;
	if (q != end)
		return hdr_fail(P, "bad domain syntax");
	return 0;
}

/* RFC 5322 3.4.1 addr-spec (local-part with obs-local-part) into P->addr,
 * canonical; without "@domain" only if ADDRESS_ALLOW_BARE_LOCAL. */
static int hdr_addr_spec(struct hdr_parse *P)
{
	char canon[2 * ADDRESS_LOCAL_MAX + 3];
	struct hdr_token t;
	bool has_domain;
	long cl;

	buf_reset(P->local);
	for (;;) {
		if (hdr_next(P, &t) < 0)
			return -1;
		if (t.type != HDR_ATOM && t.type != HDR_QSTRING)
			return hdr_fail(P, hdr_is_special(&t, '>') &&
			                           buf_len(P->local) == 0
			                       ? "empty address"
			                       : "bad address syntax");
		if (hdr_word_append(P->local, &t) < 0)
			return hdr_fail(P, "local part too long");
		if (hdr_peek(P, &t) < 0)
			return -1;
		if (!hdr_is_special(&t, '.'))
			break;
		if (hdr_next(P, &t) < 0)
			return -1;
		if (buf_append_char(P->local, '.') < 0)
			return hdr_fail(P, "local part too long");
	}
	has_domain = hdr_is_special(&t, '@');
	if (has_domain) {
		if (hdr_next(P, &t) < 0 || hdr_domain(P) < 0)
			return -1;
	} else if (!(P->flags & ADDRESS_ALLOW_BARE_LOCAL)) {
		return hdr_fail(P, "missing domain");
	}
	cl = address_local_canon(buf_str(P->local), buf_len(P->local), P->flags,
	                         canon, sizeof(canon), &P->why);
	if (cl < 0)
		return -1;
	buf_reset(P->addr);
	if (buf_append(P->addr, canon, (size_t)cl) < 0 ||
	    (has_domain &&
	     (buf_append_char(P->addr, '@') < 0 ||
	      buf_append(P->addr, buf_str(P->domain), buf_len(P->domain)) < 0)))
		return hdr_fail(P, "address too long");
	return 0;
}

/* RFC 5322 3.4 angle-addr, with 4.4 obs-route (ignored). */
static int hdr_angle_addr(struct hdr_parse *P)
{
	struct hdr_token t;
	bool want_domain = true, seen = false;

	if (hdr_next(P, &t) < 0)
		return -1;
	if (!hdr_is_special(&t, '<'))
		return hdr_fail(P, "bad address syntax");
	if (hdr_peek(P, &t) < 0)
		return -1;
	if (hdr_is_special(&t, '@') || hdr_is_special(&t, ',')) {
		/* obs-domain-list ":" */
		for (;;) {
			if (hdr_next(P, &t) < 0)
				return -1;
			if (hdr_is_special(&t, ',')) {
				want_domain = true;
			} else if (hdr_is_special(&t, '@') && want_domain) {
				if (hdr_domain(P) < 0)
					return -1;
				want_domain = false;
				seen = true;
			} else if (hdr_is_special(&t, ':') && seen) {
				break;
			} else {
				return hdr_fail(P, "bad source route");
			}
		}
	}
	if (hdr_addr_spec(P) < 0 || hdr_next(P, &t) < 0)
		return -1;
	if (!hdr_is_special(&t, '>'))
		return hdr_fail(P, t.type == HDR_END ? "missing '>'"
		                                     : "bad address syntax");
	return 0;
}

/* Record P->addr and P->name as the next mailbox. */
static int hdr_entry_add(struct hdr_parse *P, size_t group)
{
	struct address_list *l = P->list;
	struct address_entry *e;

	if (l->count >= P->max)
		return hdr_fail(P, "too many addresses");
	if (l->count == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 4;
		l->entries =
		    mem_realloc(l->entries, sizeof(*l->entries) * l->cap);
	}
	e = &l->entries[l->count++];
	e->addr = mem_memdup(buf_str(P->addr), buf_len(P->addr));
	e->name = mem_memdup(buf_str(P->name), buf_len(P->name));
	e->group = group;
	return 0;
}

/* Store P->name as a group name; its index. */
static size_t hdr_group_add(struct hdr_parse *P)
{
	struct address_list *l = P->list;

	if (l->ngroups == l->gcap) {
		l->gcap = l->gcap ? 2 * l->gcap : 2;
		l->groups =
		    mem_realloc(l->groups, sizeof(*l->groups) * l->gcap);
	}
	l->groups[l->ngroups] = mem_memdup(buf_str(P->name), buf_len(P->name));
	return l->ngroups++;
}

static int hdr_address(struct hdr_parse *P, size_t group);

/* RFC 5322 3.4 group: display-name ":" [group-list] ";". */
static int hdr_group(struct hdr_parse *P)
{
	struct hdr_token t;
	bool need_comma = false;
	size_t gi;

	if (hdr_phrase(P) < 0 || hdr_next(P, &t) < 0)
		return -1;
	if (!hdr_is_special(&t, ':'))
		return hdr_fail(P, "bad address syntax");
	gi = hdr_group_add(P);
	for (;;) {
		if (hdr_peek(P, &t) < 0)
			return -1;
		if (t.type == HDR_END)
			return hdr_fail(P, "unterminated group");
		if (hdr_is_special(&t, ';'))
			return hdr_next(P, &t);
		if (hdr_is_special(&t, ',')) {
			need_comma = false;
			if (hdr_next(P, &t) < 0)
				return -1;
			continue;
		}
		if (need_comma)
			return hdr_fail(P, "bad address syntax");
		if (hdr_address(P, gi) < 0)
			return -1;
		need_comma = true;
	}
}

/*
 * RFC 5322 3.4 address: mailbox (name-addr or addr-spec) or, outside a
 * group, a group. Words are read ahead to the token that decides: '@' (an
 * addr-spec), '<' (a display name, then an angle-addr), ':' (a group).
 */
static int hdr_address(struct hdr_parse *P, size_t group)
{
	const unsigned char *save = P->p;
	struct hdr_token t;
	size_t words = 0;

	for (;;) {
		if (hdr_next(P, &t) < 0)
			return -1;
		if (t.type != HDR_ATOM && t.type != HDR_QSTRING &&
		    !hdr_is_special(&t, '.'))
			break;
		words++;
	}
	P->p = save;
	if (hdr_is_special(&t, '<')) {
		if (words > 0 && hdr_phrase(P) < 0)
			return -1;
		if (words == 0)
			buf_reset(P->name);
		if (hdr_angle_addr(P) < 0)
			return -1;
		return hdr_entry_add(P, group);
	}
	if (words > 0 &&
	    (hdr_is_special(&t, '@') ||
	     ((P->flags & ADDRESS_ALLOW_BARE_LOCAL) &&
	      (t.type == HDR_END || hdr_is_special(&t, ',') ||
	       (group != ADDRESS_NO_GROUP && hdr_is_special(&t, ';')))))) {
		buf_reset(P->name);
		if (hdr_addr_spec(P) < 0)
			return -1;
		return hdr_entry_add(P, group);
	}
	if (words > 0 && hdr_is_special(&t, ':')) {
		if (group != ADDRESS_NO_GROUP)
			return hdr_fail(P, "nested group");
		return hdr_group(P);
	}
	if (words > 0 && (t.type == HDR_END || hdr_is_special(&t, ',')))
		return hdr_fail(P, "missing domain");
	return hdr_fail(P, "bad address syntax");
}

struct address_list *address_list_parse(const char *in, size_t len,
                                        unsigned flags, size_t max_addresses,
                                        const char **why)
{
	struct hdr_parse P;
	struct hdr_token t;
	bool need_comma = false;
	int ret = 0;

	if (len > ADDRESS_LIST_INPUT_MAX) {
		if (why != NULL)
			*why = "header too long";
		return NULL;
	}
	if (len == 0)
		in = ""; /* no arithmetic on a NULL pointer */
	memset(&P, 0, sizeof(P));
	P.p = (const unsigned char *)in;
	P.end = P.p + len;
	P.flags = flags;
	P.max = max_addresses;
	P.list = mem_zalloc(sizeof(*P.list));
	P.name = buf_create(0, ADDRESS_LIST_INPUT_MAX);
	P.local = buf_create(0, ADDRESS_LOCAL_MAX);
	P.domain = buf_create(0, ADDRESS_DOMAIN_MAX);
	P.addr = buf_create(0, ADDRESS_MAILBOX_MAX);
	/* RFC 5322 4.4: obs-addr-list allows empty elements. */
	for (;;) {
		if ((ret = hdr_peek(&P, &t)) < 0 || t.type == HDR_END)
			break;
		if (hdr_is_special(&t, ',')) {
			need_comma = false;
			if ((ret = hdr_next(&P, &t)) < 0)
				break;
			continue;
		}
		if (need_comma) {
			ret = hdr_fail(&P, "bad address syntax");
			break;
		}
		if ((ret = hdr_address(&P, ADDRESS_NO_GROUP)) < 0)
			break;
		need_comma = true;
	}
	buf_destroy(&P.name);
	buf_destroy(&P.local);
	buf_destroy(&P.domain);
	buf_destroy(&P.addr);
	if (ret < 0) {
		if (why != NULL)
			*why = P.why;
		address_list_destroy(&P.list);
		return NULL;
	}
	return P.list;
}

void address_list_destroy(struct address_list **lp)
{
	struct address_list *l = *lp;
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->count; i++) {
		mem_free(l->entries[i].addr);
		mem_free(l->entries[i].name);
	}
	for (i = 0; i < l->ngroups; i++)
		mem_free(l->groups[i]);
	mem_free(l->entries);
	mem_free(l->groups);
	mem_free(l);
	*lp = NULL;
}

size_t address_list_count(const struct address_list *l)
{
	return l->count;
}

static const struct address_entry *
address_list_entry(const struct address_list *l, size_t i)
{
	if (i >= l->count)
		msg_panic("address_list: index %zu out of range (%zu)", i,
		          l->count);
	return &l->entries[i];
}

const char *address_list_addr(const struct address_list *l, size_t i)
{
	return address_list_entry(l, i)->addr;
}

const char *address_list_display_name(const struct address_list *l, size_t i)
{
	return address_list_entry(l, i)->name;
}

const char *address_list_group(const struct address_list *l, size_t i)
{
	const struct address_entry *e = address_list_entry(l, i);

	return e->group == ADDRESS_NO_GROUP ? NULL : l->groups[e->group];
}
