/*
 * rewrite.c: table-driven address rewriting (see rewrite.h): the Postfix
 * lookup order for addresses (canonical(5), virtual(5): user@domain,
 * user for local domains, @domain), splitting of table results, canonical
 * mapping, and recursive one-to-many virtual alias expansion with loop
 * detection. Also a small case-insensitive ordered address set.
 *
 * Expansion is depth first with an explicit stack (no C recursion, so a
 * configured recursion limit in the millions cannot exhaust the stack).
 * Each frame is one address found in the table and the addresses of its
 * result still to visit; the frames on the stack are the current chain,
 * which is what loop detection looks at.
 *
 * SECURITY: addresses come from SMTP clients and local users, table
 * results from the administrator. Every result address is bounded
 * (REWRITE_ADDR_MAX) and free of control characters; the work one
 * expansion may do is bounded by the limits (depth, final addresses,
 * lookups).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "msg.h"
#include "rewrite.h"

/* The largest table result we accept (map values are bounded too). */
#define REWRITE_VALUE_MAX (1024 * 1024)

/* ---- the address set ---- */

struct rewrite_set {
	char **items; /* insertion order */
	size_t count, cap;
	size_t *slots; /* open addressing: index + 1, 0 = empty */
	size_t nslots;
};

static size_t rewrite_hash(const char *s)
{
	size_t h = 2166136261u;

	for (; *s; s++) {
		int c = (unsigned char)*s;

		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		h = (h ^ (size_t)c) * 16777619u;
	}
	return h;
}

struct rewrite_set *rewrite_set_create(void)
{
	struct rewrite_set *s = mem_zalloc(sizeof(*s));

	s->nslots = 16;
	s->slots = mem_array(s->nslots, sizeof(*s->slots));
	memset(s->slots, 0, s->nslots * sizeof(*s->slots));
	return s;
}

void rewrite_set_reset(struct rewrite_set *s)
{
	for (size_t i = 0; i < s->count; i++)
		mem_free(s->items[i]);
	s->count = 0;
	memset(s->slots, 0, s->nslots * sizeof(*s->slots));
}

void rewrite_set_destroy(struct rewrite_set **sp)
{
	if (*sp == NULL)
		return;
	rewrite_set_reset(*sp);
	mem_free((*sp)->items);
	mem_free((*sp)->slots);
	mem_free(*sp);
	*sp = NULL;
}

/* The slot holding addr, or the empty slot where it would go. */
static size_t rewrite_set_slot(const struct rewrite_set *s, const char *addr)
{
	size_t i = rewrite_hash(addr) & (s->nslots - 1);

	while (s->slots[i] != 0 &&
	       strcasecmp(s->items[s->slots[i] - 1], addr) != 0)
		i = (i + 1) & (s->nslots - 1);
	return i;
}

bool rewrite_set_contains(const struct rewrite_set *s, const char *addr)
{
	return s->slots[rewrite_set_slot(s, addr)] != 0;
}

int rewrite_set_add(struct rewrite_set *s, const char *addr)
{
	size_t slot = rewrite_set_slot(s, addr);

	if (s->slots[slot] != 0)
		return 0;
	if (s->count == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->items = mem_realloc(s->items, s->cap * sizeof(*s->items));
	}
	s->items[s->count++] = mem_strdup(addr);
	s->slots[slot] = s->count;
	if (s->count * 2 > s->nslots) {
		/* Keep the load under one half. */
		mem_free(s->slots);
		s->nslots *= 2;
		s->slots = mem_array(s->nslots, sizeof(*s->slots));
		memset(s->slots, 0, s->nslots * sizeof(*s->slots));
		for (size_t i = 0; i < s->count; i++)
			s->slots[rewrite_set_slot(s, s->items[i])] = i + 1;
	}
	return 1;
}

size_t rewrite_set_count(const struct rewrite_set *s)
{
	return s->count;
}

const char *rewrite_set_at(const struct rewrite_set *s, size_t i)
{
	if (i >= s->count)
		msg_panic("rewrite_set_at: index %zu of %zu", i, s->count);
	return s->items[i];
}

/* ---- lookups ---- */

/* The '@' between local part and domain: the last one outside a quoted
 * local part; NULL if none. */
static const char *rewrite_at(const char *addr)
{
	const char *at = NULL;
	bool quoted = false;

	for (const char *p = addr; *p; p++) {
		if (quoted && *p == '\\' && p[1]) {
			p++;
		} else if (*p == '"') {
			quoted = !quoted;
		} else if (*p == '@' && !quoted) {
			at = p;
		}
	}
	return at;
}

int rewrite_lookup(const struct rewrite_table *t, const char *addr,
                   struct buf *value, bool *matched_domain_only,
                   struct buf *err)
{
	const char *at = rewrite_at(addr);
	char *key;
	int r;

	if (matched_domain_only)
		*matched_domain_only = false;
	if ((r = t->lookup(t->ctx, addr, value, err)) != 0 || at == NULL)
		return r;
	if (at > addr && t->is_local && t->is_local(t->local_ctx, at + 1)) {
		key = mem_strndup(addr, (size_t)(at - addr));
		r = t->lookup(t->ctx, key, value, err);
		mem_free(key);
		if (r != 0)
			return r;
	}
	if (at == addr)
		return 0; /* "@domain" was the first key already */
	r = t->lookup(t->ctx, at, value, err);
	if (r == 1 && matched_domain_only)
		*matched_domain_only = true;
	return r;
}

static bool rewrite_is_sep(int c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int rewrite_split(const char *result, const char *addr,
                  int (*fn)(void *ctx, const char *address), void *ctx,
                  struct buf *err)
{
	const char *p = result, *at = rewrite_at(addr);
	size_t local_len = at ? (size_t)(at - addr) : strlen(addr);
	struct buf *one = buf_create(256, REWRITE_ADDR_MAX * 2 + 2);
	int count = 0;

	for (;;) {
		const char *start;
		bool quoted = false;

		while (*p && rewrite_is_sep((unsigned char)*p))
			p++;
		if (*p == 0)
			break;
		start = p;
		for (; *p && (quoted || !rewrite_is_sep((unsigned char)*p));
		     p++) {
			if (quoted && *p == '\\' && p[1])
				p++;
			else if (*p == '"')
				quoted = !quoted;
		}
		if (quoted) {
			buf_sprintf(err, "unterminated quoted string in "
			                 "table result");
			goto bad;
		}
		if (p - start == 1 && *start == '@') {
			buf_sprintf(err, "bad address \"@\" in table result");
			goto bad;
		}
		buf_reset(one);
		/* "@otherdomain": the same user in another domain. */
		if (*start == '@' && local_len > 0 &&
		    buf_append(one, addr, local_len) < 0)
			goto too_long;
		if ((size_t)(p - start) > REWRITE_ADDR_MAX ||
		    buf_append(one, start, (size_t)(p - start)) < 0)
			goto too_long;
		if (buf_len(one) > REWRITE_ADDR_MAX)
			goto too_long;
		for (const char *c = buf_str(one); *c; c++) {
			if ((unsigned char)*c < 0x20 || *c == 0x7f) {
				buf_sprintf(err, "control character in table "
				                 "result");
				goto bad;
			}
		}
		if (fn(ctx, buf_str(one)) < 0)
			goto bad;
		count++;
	}
	buf_destroy(&one);
	return count;
too_long:
	buf_sprintf(err, "table result address longer than %d bytes",
	            REWRITE_ADDR_MAX);
bad:
	buf_destroy(&one);
	return -1;
}

/* ---- canonical ---- */

struct rewrite_first {
	struct buf *addr;
	bool have;
};

static int rewrite_take_first(void *ctx, const char *address)
{
	struct rewrite_first *f = ctx;

	if (!f->have) {
		buf_set_str(f->addr, address);
		f->have = true;
	}
	return 0;
}

int rewrite_canonical(const struct rewrite_table *t, const char *addr,
                      struct buf *out, struct buf *err)
{
	struct buf *value = buf_create(256, REWRITE_VALUE_MAX);
	struct rewrite_first first = {buf_create(256, REWRITE_ADDR_MAX * 2 + 2),
	                              false};
	int r = rewrite_lookup(t, addr, value, NULL, err);

	if (r == 1) {
		if (rewrite_split(buf_str(value), addr, rewrite_take_first,
		                  &first, err) < 0) {
			r = -1;
		} else if (!first.have) {
			buf_sprintf(err, "empty table result for %s", addr);
			r = -1;
		} else if (buf_set_str(out, buf_str(first.addr)) < 0) {
			buf_sprintf(err, "rewritten address too long");
			r = -1;
		}
	}
	buf_destroy(&first.addr);
	buf_destroy(&value);
	return r;
}

/* ---- virtual alias expansion ---- */

struct rewrite_frame {
	char *addr;
	char **targets;
	size_t ntargets, next;
};

struct rewrite_expand {
	const struct rewrite_table *t;
	const struct rewrite_limits *limits;
	struct rewrite_set *out;
	struct rewrite_stats *stats;
	struct buf *err;
	struct rewrite_set *expanded; /* found in the table, expanded */
	struct rewrite_frame *stack;
	size_t depth, cap;
	size_t added;
	struct buf *value;
	/* targets being collected by rewrite_collect */
	char **targets;
	size_t ntargets, tcap;
};

static int rewrite_collect(void *ctx, const char *address)
{
	struct rewrite_expand *x = ctx;

	if (x->ntargets == x->tcap) {
		x->tcap = x->tcap ? x->tcap * 2 : 4;
		x->targets =
		    mem_realloc(x->targets, x->tcap * sizeof(*x->targets));
	}
	x->targets[x->ntargets++] = mem_strdup(address);
	return 0;
}

static int rewrite_emit(struct rewrite_expand *x, const char *addr)
{
	if (rewrite_set_contains(x->out, addr))
		return REWRITE_OK;
	if (x->added >= x->limits->expansion) {
		buf_sprintf(x->err,
		            "virtual alias expansion: more than %zu addresses",
		            x->limits->expansion);
		return REWRITE_ERR_EXPANSION;
	}
	rewrite_set_add(x->out, addr);
	x->added++;
	return REWRITE_OK;
}

/* Look at one address of the chain: final, looping, or to expand. */
static int rewrite_visit(struct rewrite_expand *x, const char *addr)
{
	struct rewrite_frame *f;
	int r;

	for (size_t i = 0; i < x->depth; i++) {
		if (strcasecmp(x->stack[i].addr, addr) == 0) {
			/* a -> ... -> a: keep it as is (loop detection). */
			if (x->stats->loops++ == 0)
				(void)snprintf(x->stats->loop_addr,
				               sizeof(x->stats->loop_addr),
				               "%s", addr);
			return rewrite_emit(x, addr);
		}
	}
	if (rewrite_set_contains(x->expanded, addr) ||
	    rewrite_set_contains(x->out, addr))
		return REWRITE_OK; /* its results are in out already */
	if (x->stats->lookups >= x->limits->expansion * 10) {
		buf_sprintf(x->err,
		            "virtual alias expansion: more than %zu lookups",
		            x->limits->expansion * 10);
		return REWRITE_ERR_EXPANSION;
	}
	x->stats->lookups++;
	r = rewrite_lookup(x->t, addr, x->value, NULL, x->err);
	if (r < 0)
		return REWRITE_ERR_LOOKUP;
	if (r == 0)
		return rewrite_emit(x, addr);
	if (x->depth >= x->limits->recursion) {
		buf_sprintf(x->err,
		            "virtual alias expansion: nested deeper than %zu "
		            "at %s",
		            x->limits->recursion, addr);
		return REWRITE_ERR_RECURSION;
	}
	x->ntargets = 0;
	if (rewrite_split(buf_str(x->value), addr, rewrite_collect, x, x->err) <
	    0) {
		for (size_t i = 0; i < x->ntargets; i++)
			mem_free(x->targets[i]);
		return REWRITE_ERR_LOOKUP;
	}
	if (x->ntargets == 0) {
		buf_sprintf(x->err, "empty table result for %s", addr);
		return REWRITE_ERR_LOOKUP;
	}
	rewrite_set_add(x->expanded, addr);
	if (x->depth == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 8;
		x->stack = mem_realloc(x->stack, x->cap * sizeof(*x->stack));
	}
	f = &x->stack[x->depth++];
	f->addr = mem_strdup(addr);
	f->targets = x->targets;
	f->ntargets = x->ntargets;
	f->next = 0;
	x->targets = NULL;
	x->ntargets = x->tcap = 0;
	return REWRITE_OK;
}

static void rewrite_pop(struct rewrite_expand *x)
{
	struct rewrite_frame *f = &x->stack[--x->depth];

	for (size_t i = 0; i < f->ntargets; i++)
		mem_free(f->targets[i]);
	mem_free(f->targets);
	mem_free(f->addr);
}

int rewrite_virtual(const struct rewrite_table *t, const char *addr,
                    const struct rewrite_limits *limits,
                    struct rewrite_set *out, struct rewrite_stats *stats,
                    struct buf *err)
{
	struct rewrite_stats local_stats;
	struct rewrite_expand x;
	int r;

	memset(&x, 0, sizeof(x));
	if (stats == NULL)
		stats = &local_stats;
	memset(stats, 0, sizeof(*stats));
	x.t = t;
	x.limits = limits;
	x.out = out;
	x.stats = stats;
	x.err = err;
	x.expanded = rewrite_set_create();
	x.value = buf_create(256, REWRITE_VALUE_MAX);

	r = rewrite_visit(&x, addr);
	while (r == REWRITE_OK && x.depth > 0) {
		struct rewrite_frame *top = &x.stack[x.depth - 1];
		const char *next;

		if (top->next == top->ntargets) {
			rewrite_pop(&x);
			continue;
		}
		next = top->targets[top->next++];
		/* Postfix: an address whose result holds itself is final. */
		if (strcasecmp(next, top->addr) == 0)
			r = rewrite_emit(&x, next);
		else
			r = rewrite_visit(&x, next);
	}
	while (x.depth > 0)
		rewrite_pop(&x);
	mem_free(x.stack);
	mem_free(x.targets);
	buf_destroy(&x.value);
	rewrite_set_destroy(&x.expanded);
	return r;
}
