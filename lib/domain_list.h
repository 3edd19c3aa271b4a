/* domain_list.h: Postfix domain lists (mydestination, relay_domains,
 * virtual_alias_domains, virtual_mailbox_domains, ...): a list of domain
 * patterns and lookup tables matched against a domain name. */
#ifndef POSTHORN_DOMAIN_LIST_H
#define POSTHORN_DOMAIN_LIST_H

#include <stdbool.h>

#include "buf.h"
#include "config.h"

struct domain_list;

/* Flags for domain_list_create. */
/* "example.com" also matches its subdomains (Postfix's
 * parent_domain_matches_subdomains style); without it only ".example.com"
 * does. */
#define DOMAIN_LIST_PARENT_MATCHES 0x01u

/* Parse an (already $-expanded) list; entries are separated by commas
 * and/or white space:
 *   example.com     this domain (with DOMAIN_LIST_PARENT_MATCHES also any
 *                   subdomain)
 *   .example.com    any subdomain of example.com (not example.com)
 *   type:table      look the domain up (value ignored; found = match); with
 *                   DOMAIN_LIST_PARENT_MATCHES parent domains are looked up
 *                   too ("example.com" for sub.example.com), without it
 *                   ".example.com" is tried for each parent
 *   /path/file      the patterns in that file (white space separated, '#'
 *                   comments; no further nesting)
 *   !pattern        negation: a match ends the search with "no match"
 * The first matching entry decides. Tables are opened here, once. NULL
 * with the reason in err (bad table spec, unreadable file). */
struct domain_list *domain_list_create(const char *text, unsigned flags,
                                       struct buf *err);
/* The list named by a main.cf parameter (value expanded via config_str),
 * with DOMAIN_LIST_PARENT_MATCHES set when the parameter's name is in
 * parent_domain_matches_subdomains. */
struct domain_list *domain_list_from_config(struct config *c, const char *param,
                                            struct buf *err);
void domain_list_destroy(struct domain_list **lp);
/* Is the list empty (no entries at all)? */
bool domain_list_empty(const struct domain_list *l);
/* Match a domain (case-insensitive; one trailing dot ignored). 1 match,
 * 0 no match, -1 a table lookup failed before any entry matched (reason
 * in err; callers answer 4xx, never "no match"). */
int domain_list_match(struct domain_list *l, const char *domain,
                      struct buf *err);

/* Is param named in c's parent_domain_matches_subdomains? */
bool domain_list_parent_style(struct config *c, const char *param);

/* The next word of a main.cf list: words are separated by commas and/or
 * white space outside braces, so "inline:{a=b, c=d}" stays one word.
 * Returns a copy (free with mem_free) and advances *pp; NULL at the end. */
char *domain_list_next_word(const char **pp);

#endif
