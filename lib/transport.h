/* transport.h: where a recipient goes: the delivery transport (a
 * master.cf service in private/) and the next hop, decided the Postfix
 * way (trivial-rewrite's resolve + transport(5)) from mydestination,
 * virtual_mailbox_domains, virtual_alias_domains, transport_maps,
 * relayhost and default_transport. Used by qmgr; the smtp client may use
 * transport_split for its own nexthop text. */
#ifndef POSTHORN_TRANSPORT_H
#define POSTHORN_TRANSPORT_H

#include <stdbool.h>

#include "buf.h"
#include "config.h"

/* The transport names with a meaning of their own (no agent behind). */
#define TRANSPORT_ERROR "error" /* bounce with the nexthop as reason */
#define TRANSPORT_DISCARD "discard" /* drop, as if delivered */
#define TRANSPORT_LOCAL "local"
#define TRANSPORT_VIRTUAL "virtual" /* virtual_transport's default */

struct transport_resolver;

/* Open the domain lists and transport_maps named by c (c must outlive
 * the resolver). NULL with the reason in err when a list or table is
 * bad or cannot be opened. */
struct transport_resolver *transport_resolver_create(struct config *c,
                                                     struct buf *err);
void transport_resolver_destroy(struct transport_resolver **rp);

/* Resolve one recipient address (already rewritten by cleanup) into
 * transport and nexthop (both replaced). Order: the address class
 * (mydestination and localhost forms: "local" with the domain as nexthop;
 * virtual_mailbox_domains: virtual_transport ("virtual", the local
 * program under another master.cf name) with the domain as nexthop;
 * virtual_alias_domains: error 5.1.1; else
 * default_transport with its nexthop, relayhost or the domain), then
 * transport_maps override it (keys: user+ext@domain, user@domain,
 * domain, parent domains, "*"). Returns 0, or -1 on a table error (the
 * recipient should be deferred; reason in err). */
int transport_resolve(struct transport_resolver *r, const char *address,
                      struct buf *transport, struct buf *nexthop,
                      struct buf *err);

/* Apply a transport(5) result "transport:nexthop" to transport and
 * nexthop as Postfix does: an empty transport keeps the current one, an
 * empty nexthop keeps the current one when the transport is empty too,
 * else becomes domain; "error:text" and "discard:text" keep their text
 * as nexthop. A result without ':' is a transport name. */
void transport_apply(const char *result, const char *domain,
                     struct buf *transport, struct buf *nexthop);

#endif
