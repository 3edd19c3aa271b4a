/*
 * cleanup_rewrite.c: envelope address rewriting, in Postfix's order:
 *   1. local submissions: an address without a domain gets @$myorigin;
 *   2. sender: sender_canonical_maps, then canonical_maps (<> is left
 *      alone);
 *   3. each recipient: recipient_canonical_maps, then canonical_maps,
 *      then virtual_alias_maps, expanded recursively (lib/rewrite.c:
 *      virtual_alias_recursion_limit, virtual_alias_expansion_limit, loop
 *      detection: an address that would loop is kept as is);
 *   4. duplicates (same address, ORCPT and NOTIFY) are dropped and the
 *      result must stay within cleanup_recipient_limit.
 * Tables are opened on first use and kept; if one cannot be opened the
 * message gets a temporary error and the next message tries again. A
 * table lookup error is a temporary error too (Postfix: 4.6.0 for alias
 * expansion, 4.3.0 here for canonical mapping), as are the expansion
 * limits (Postfix: "4.6.0 Alias expansion error").
 * SECURITY: addresses are untrusted and bounded (cleanup_state.c); table
 * results are checked by lib/rewrite.c; the work per recipient is
 * bounded by the expansion limits.
 */
#include <string.h>
#include <strings.h>

#include "address.h"
#include "cleanup.h"
#include "cleanup_client.h"
#include "maps.h"
#include "mem.h"
#include "msg.h"
#include "rewrite.h"

/* One parameter's tables. */
struct cleanup_maps {
	const char *param;
	struct maps *maps; /* NULL until opened */
};

static struct cleanup_maps cleanup_sender_canon = {"sender_canonical_maps",
                                                   NULL};
static struct cleanup_maps cleanup_rcpt_canon = {"recipient_canonical_maps",
                                                 NULL};
static struct cleanup_maps cleanup_canon = {"canonical_maps", NULL};
static struct cleanup_maps cleanup_virtual = {"virtual_alias_maps", NULL};

/* Open the tables of m if that has not happened yet; -1 (st failed) if
 * they cannot be opened. */
static int cleanup_maps_ready(struct cleanup_state *st, struct cleanup_maps *m)
{
	struct buf *err;

	if (m->maps != NULL)
		return 0;
	err = buf_create(256, 4096);
	m->maps = maps_open(config_str(cleanup_params.config, m->param), err);
	if (m->maps == NULL) {
		msg_warn("%s: %s", m->param, buf_str(err));
		cleanup_fail(st, 4, "4.3.0 Address mapping table unavailable",
		             "%s: table unavailable", m->param);
		buf_destroy(&err);
		return -1;
	}
	buf_destroy(&err);
	return 0;
}

static int cleanup_lookup(void *ctx, const char *key, struct buf *value,
                          struct buf *err)
{
	return maps_lookup(ctx, key, value, err);
}

static bool cleanup_is_local(void *ctx, const char *domain)
{
	for (char **d = cleanup_params.local_domains; d && *d; d++)
		if (strcasecmp(*d, domain) == 0)
			return true;
	return false;
}

static void cleanup_table(struct cleanup_maps *m, struct rewrite_table *t)
{
	t->lookup = cleanup_lookup;
	t->ctx = m->maps;
	t->is_local = cleanup_is_local;
	t->local_ctx = NULL;
}

void cleanup_rewrite_init(void)
{
	struct cleanup_maps *all[] = {&cleanup_sender_canon,
	                              &cleanup_rcpt_canon, &cleanup_canon,
	                              &cleanup_virtual};
	struct buf *err = buf_create(256, 4096);

	/* Open now to catch mistakes early; a failure is retried per
	 * message. */
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		all[i]->maps = maps_open(
		    config_str(cleanup_params.config, all[i]->param), err);
		if (all[i]->maps == NULL)
			msg_warn("%s: %s", all[i]->param, buf_str(err));
	}
	buf_destroy(&err);
}

/* Append @myorigin to an address without a domain (local submissions). */
static char *cleanup_qualify(const char *addr)
{
	struct buf *local = buf_create(64, 4096),
	           *domain = buf_create(64, 4096);
	struct buf *out;
	char *result;

	if (*addr == 0 || address_split(addr, local, domain) == 0) {
		buf_destroy(&local);
		buf_destroy(&domain);
		return mem_strdup(addr);
	}
	out = buf_create(64, 0);
	buf_sprintf(out, "%s@%s", addr, cleanup_params.myorigin);
	result = buf_steal(out);
	buf_destroy(&out);
	buf_destroy(&local);
	buf_destroy(&domain);
	return result;
}

/* Apply one canonical table to *addr (replaced when it maps). */
static int cleanup_canonical(struct cleanup_state *st, struct cleanup_maps *m,
                             char **addr)
{
	struct rewrite_table t;
	struct buf *out, *err;
	int r;

	if (cleanup_maps_ready(st, m) < 0)
		return -1;
	if (maps_count(m->maps) == 0)
		return 0;
	cleanup_table(m, &t);
	out = buf_create(128, CLEANUP_TEXT_MAX);
	err = buf_create(128, 4096);
	r = rewrite_canonical(&t, *addr, out, err);
	if (r < 0) {
		msg_warn("%s: %s lookup for %s: %s", cleanup_log_id(st),
		         m->param, *addr, buf_str(err));
		cleanup_fail(st, 4, "4.3.0 Address mapping lookup error",
		             "%s lookup error for %s", m->param, *addr);
	} else if (r == 1) {
		mem_free(*addr);
		*addr = buf_steal(out);
	}
	buf_destroy(&out);
	buf_destroy(&err);
	return r < 0 ? -1 : 0;
}

/* The new recipient list, without duplicates. */
struct cleanup_rcpt_list {
	struct cleanup_rcpt *v;
	size_t n, cap;
	struct rewrite_set *seen; /* "notify\norcpt\naddress" */
	struct buf *key;
};

static int cleanup_list_add(struct cleanup_state *st,
                            struct cleanup_rcpt_list *l, const char *addr,
                            const struct cleanup_rcpt *from)
{
	buf_sprintf(l->key, "%d\n%s\n%s", from->notify, from->orcpt, addr);
	if (rewrite_set_add(l->seen, buf_str(l->key)) == 0)
		return 0;
	if ((long long)l->n >= cleanup_params.recipient_limit) {
		cleanup_fail(st, 5, "5.5.3 Too many recipients",
		             "more than %lld recipients after alias expansion",
		             cleanup_params.recipient_limit);
		return -1;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = mem_realloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n].address = mem_strdup(addr);
	l->v[l->n].orcpt = mem_strdup(from->orcpt);
	l->v[l->n].notify = from->notify;
	l->n++;
	return 0;
}

/* virtual_alias_maps for one recipient into the list. */
static int cleanup_virtual_expand(struct cleanup_state *st,
                                  struct cleanup_rcpt_list *l,
                                  const struct cleanup_rcpt *rc)
{
	struct rewrite_limits limits = {(size_t)cleanup_params.recursion_limit,
	                                (size_t)cleanup_params.expansion_limit};
	struct rewrite_stats stats;
	struct rewrite_set *out;
	struct rewrite_table t;
	struct buf *err;
	int r;

	if (cleanup_maps_ready(st, &cleanup_virtual) < 0)
		return -1;
	if (maps_count(cleanup_virtual.maps) == 0)
		return cleanup_list_add(st, l, rc->address, rc);
	cleanup_table(&cleanup_virtual, &t);
	out = rewrite_set_create();
	err = buf_create(128, 4096);
	r = rewrite_virtual(&t, rc->address, &limits, out, &stats, err);
	if (r != REWRITE_OK) {
		msg_warn("%s: virtual_alias_maps: %s: %s", cleanup_log_id(st),
		         rc->address, buf_str(err));
		cleanup_fail(st, 4, "4.6.0 Alias expansion error",
		             "virtual alias expansion of %s failed",
		             rc->address);
	} else {
		if (stats.loops > 0)
			msg_warn("%s: virtual_alias_maps: loop in the "
			         "expansion of %s: %s kept as is",
			         cleanup_log_id(st), rc->address,
			         stats.loop_addr);
		for (size_t i = 0; i < rewrite_set_count(out) && r == 0; i++)
			r = cleanup_list_add(st, l, rewrite_set_at(out, i), rc);
	}
	rewrite_set_destroy(&out);
	buf_destroy(&err);
	return r == 0 ? 0 : -1;
}

void cleanup_rewrite_envelope(struct cleanup_state *st)
{
	struct cleanup_rcpt_list l;
	bool local = (st->flags & CLEANUP_FLAG_LOCAL) != 0;

	if (st->status != 0)
		return;
	if (st->nrcpts == 0) {
		cleanup_fail(st, 5, "5.5.1 No recipients specified",
		             "no recipients");
		return;
	}
	if (*st->sender) {
		if (local) {
			char *q = cleanup_qualify(st->sender);

			mem_free(st->sender);
			st->sender = q;
		}
		if (cleanup_canonical(st, &cleanup_sender_canon, &st->sender) <
		        0 ||
		    cleanup_canonical(st, &cleanup_canon, &st->sender) < 0)
			return;
	}
	memset(&l, 0, sizeof(l));
	l.seen = rewrite_set_create();
	l.key = buf_create(256, 0);
	for (size_t i = 0; i < st->nrcpts && st->status == 0; i++) {
		struct cleanup_rcpt *rc = &st->rcpts[i];

		if (local) {
			char *q = cleanup_qualify(rc->address);

			mem_free(rc->address);
			rc->address = q;
		}
		if (cleanup_canonical(st, &cleanup_rcpt_canon, &rc->address) <
		        0 ||
		    cleanup_canonical(st, &cleanup_canon, &rc->address) < 0 ||
		    cleanup_virtual_expand(st, &l, rc) < 0)
			break;
	}
	rewrite_set_destroy(&l.seen);
	buf_destroy(&l.key);
	if (st->status != 0) {
		for (size_t i = 0; i < l.n; i++) {
			mem_free(l.v[i].address);
			mem_free(l.v[i].orcpt);
		}
		mem_free(l.v);
		return;
	}
	cleanup_set_rcpts(st, l.v, l.n);
}
