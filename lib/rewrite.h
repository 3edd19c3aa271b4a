/* rewrite.h: address rewriting through lookup tables, Postfix-style:
 * canonical mapping (one address to one address: canonical_maps) and
 * virtual alias expansion (one address to many, recursively, with loop
 * detection and limits: virtual_alias_maps). The tables are reached
 * through a lookup callback, so the algorithms are tested without files;
 * cleanup plugs in lib/maps.h. */
#ifndef POSTHORN_REWRITE_H
#define POSTHORN_REWRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Look key up: 1 (found, value replaced), 0 (not found), -1 (table
 * error, reason in err). */
typedef int (*rewrite_lookup_fn)(void *ctx, const char *key, struct buf *value,
                                 struct buf *err);
/* Is domain one of this system's own (myorigin, mydestination)? */
typedef bool (*rewrite_local_fn)(void *ctx, const char *domain);

/* A table as the algorithms see it. is_local may be NULL (no domain is
 * local, so the bare "user" key is never tried). */
struct rewrite_table {
	rewrite_lookup_fn lookup;
	void *ctx;
	rewrite_local_fn is_local;
	void *local_ctx;
};

/* Look an address up the Postfix way (canonical(5), virtual(5)): the
 * keys "user@domain", then "user" when domain is local, then "@domain";
 * an address without a domain is looked up as is. Returns 1 (found,
 * value replaced; *matched_domain_only tells whether it was the "@domain"
 * key, may be NULL), 0, or -1 (reason in err). */
int rewrite_lookup(const struct rewrite_table *t, const char *addr,
                   struct buf *value, bool *matched_domain_only,
                   struct buf *err);

/* Split a table result into addresses (separated by commas and/or white
 * space outside double quotes) and call fn(ctx, address) for each; a
 * result "@otherdomain" stands for the user of addr in otherdomain.
 * Returns the number of addresses, or -1 (reason in err) when an address
 * is empty, longer than REWRITE_ADDR_MAX or holds a control character,
 * or when fn returns -1. */
#define REWRITE_ADDR_MAX 1024
int rewrite_split(const char *result, const char *addr,
                  int (*fn)(void *ctx, const char *address), void *ctx,
                  struct buf *err);

/* canonical_maps: replace out with the first address of addr's table
 * result. 1 (rewritten), 0 (no entry: out untouched), -1 (table error or
 * a bad result, reason in err). */
int rewrite_canonical(const struct rewrite_table *t, const char *addr,
                      struct buf *out, struct buf *err);

/* An ordered set of addresses, compared ASCII case-insensitively. */
struct rewrite_set;
struct rewrite_set *rewrite_set_create(void);
void rewrite_set_destroy(struct rewrite_set **sp);
/* Add a copy of s: 1 (added), 0 (already there). */
int rewrite_set_add(struct rewrite_set *s, const char *addr);
bool rewrite_set_contains(const struct rewrite_set *s, const char *addr);
size_t rewrite_set_count(const struct rewrite_set *s);
/* The i-th address in insertion order (i < count). */
const char *rewrite_set_at(const struct rewrite_set *s, size_t i);
/* Remove every address. */
void rewrite_set_reset(struct rewrite_set *s);

/* Limits of one expansion (virtual_alias_recursion_limit,
 * virtual_alias_expansion_limit). */
struct rewrite_limits {
	size_t recursion; /* nesting depth of table results */
	size_t expansion; /* addresses one address may expand to */
};

/* Results of rewrite_virtual. */
#define REWRITE_OK 0
#define REWRITE_ERR_LOOKUP (-1) /* table error or bad result */
#define REWRITE_ERR_RECURSION (-2) /* nested deeper than the limit */
#define REWRITE_ERR_EXPANSION (-3) /* more addresses than the limit */

/* What an expansion found besides its result. */
struct rewrite_stats {
	size_t lookups; /* table lookups made */
	size_t loops; /* addresses kept because they would loop */
	char loop_addr[REWRITE_ADDR_MAX + 1]; /* the first such address */
};

/*
 * virtual_alias_maps: expand addr recursively, depth first, and add the
 * final addresses to out (in order, duplicates dropped). An address the
 * table does not know is final. Rules (docs/ipc.md, "cleanup", has the
 * administrator's view):
 *   - An address whose result contains the address itself (a -> a, b)
 *     keeps it as final (Postfix: "expands to itself").
 *   - Loop detection: an address that is already being expanded further
 *     up the same chain (a -> b -> a) is not expanded again; it is kept
 *     as final, as is, and counted in stats->loops. So a 2-cycle a <-> b
 *     delivers to a when a is the recipient.
 *   - An address already expanded elsewhere in this expansion is not
 *     expanded twice (its results are in out already).
 *   - Depth: an address found in the table more than limits->recursion
 *     levels down is REWRITE_ERR_RECURSION; more than limits->expansion
 *     final addresses is REWRITE_ERR_EXPANSION, as is more than 10 times
 *     that many lookups; a table error is REWRITE_ERR_LOOKUP. On an error
 *     err holds the reason and out may hold part of the result.
 * stats may be NULL.
 */
int rewrite_virtual(const struct rewrite_table *t, const char *addr,
                    const struct rewrite_limits *limits,
                    struct rewrite_set *out, struct rewrite_stats *stats,
                    struct buf *err);

#endif
