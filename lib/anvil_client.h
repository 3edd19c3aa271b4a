/* anvil_client.h: talking to the anvil service (anvil/anvil.c), the
 * connection count and rate counter shared by every smtpd process (and
 * later AUTH failure limits). Counters are keyed by (service, address):
 * anvil keeps, per key, the number of open connections and, per event
 * name, how many events happened in the current anvil_rate_time_unit.
 * Wire protocol (attr, queue_directory/private/anvil, docs/policy.md):
 *   {request=connect, service, address}    -> {status=0, count, rate}
 *   {request=disconnect, service, address} -> {status=0}
 *   {request=event, service, address, event} -> {status=0, rate}
 *   {request=lookup, service, address}     -> {status=0, count, rate}
 * A client that closes its connection to anvil has all of its open
 * connections dropped, so a crashed smtpd does not leak counts. */
#ifndef POSTHORN_ANVIL_CLIENT_H
#define POSTHORN_ANVIL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "config.h"

/* The master.cf service name: queue_directory/private/anvil. */
#define ANVIL_SERVICE "anvil"
/* Limits on request attributes (shared by client and server). */
#define ANVIL_MAX_SERVICE 64
#define ANVIL_MAX_ADDRESS 64
#define ANVIL_MAX_EVENT 32

struct anvil_client;

/* A client for the anvil service of c's queue_directory. Never fails:
 * it connects on first use and reconnects after a failure. */
struct anvil_client *anvil_client_create(struct config *c);
/* Close the connection (anvil then forgets this process's connections),
 * free, set *ap to NULL. */
void anvil_client_destroy(struct anvil_client **ap);

/* A connection from address to service was accepted: anvil counts it.
 * 0 with *count = concurrent connections of (service, address) including
 * this one and *rate = connections in the current time unit; -1 when
 * anvil cannot be reached or misbehaves (outputs untouched; the caller
 * goes on: fail open). The first failure is logged (msg_warn), later ones
 * only after a success in between. */
int anvil_connect(struct anvil_client *a, const char *service,
                  const char *address, int *count, int *rate);
/* That connection ended. 0, or -1 as above. */
int anvil_disconnect(struct anvil_client *a, const char *service,
                     const char *address);
/* Count one event of kind event ("auth" for AUTH failures, ...) for
 * (service, address); *rate = such events in the current time unit.
 * 0, or -1 as above. */
int anvil_event(struct anvil_client *a, const char *service,
                const char *address, const char *event, int *rate);
/* Current counters without changing them. 0, or -1 as above. */
int anvil_lookup(struct anvil_client *a, const char *service,
                 const char *address, int *count, int *rate);

/* The counting table behind the anvil daemon (here so that unit tests
 * reach it). Times are milliseconds of a monotonic clock. An owner is one
 * client connection of the daemon: what it counted is dropped with it. */
struct anvil_table;
struct anvil_owner;
/* A table whose rates count per time_unit_ms, holding at most
 * max_entries (service, address) keys. */
struct anvil_table *anvil_table_create(long long time_unit_ms,
                                       size_t max_entries);
/* Free the table (owners must be gone), set *tp to NULL. */
void anvil_table_destroy(struct anvil_table **tp);
struct anvil_owner *anvil_owner_create(struct anvil_table *t);
/* Undo every connection the owner counted, free it, set *op to NULL. */
void anvil_owner_destroy(struct anvil_owner **op);
/* Is (service, address) acceptable as a key (non-empty, bounded, no
 * control characters or white space)? */
bool anvil_key_ok(const char *service, const char *address);
/* Count a connection: *count (open now) and *rate (this time unit). -1
 * when the table or the owner is full (nothing counted). */
int anvil_table_connect(struct anvil_owner *o, const char *service,
                        const char *address, long long now_ms, int *count,
                        int *rate);
/* Undo one connection this owner counted (others' are left alone). */
void anvil_table_disconnect(struct anvil_owner *o, const char *service,
                            const char *address, long long now_ms);
/* Count an event; *rate of that event this time unit. -1 when full. */
int anvil_table_event(struct anvil_table *t, const char *service,
                      const char *address, const char *event, long long now_ms,
                      int *rate);
/* Counters without changes (0, 0 for an unknown key). */
void anvil_table_lookup(struct anvil_table *t, const char *service,
                        const char *address, long long now_ms, int *count,
                        int *rate);
/* Forget keys with no open connection and no event in the last time
 * unit; returns how many are left. */
size_t anvil_table_expire(struct anvil_table *t, long long now_ms);

#endif
