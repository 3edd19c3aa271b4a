/* qmgr.h: the queue manager's internal interfaces (qmgr/ only). See
 * docs/qmgr.md for the behaviour. */
#ifndef POSTHORN_QMGR_H
#define POSTHORN_QMGR_H

#include <stdbool.h>
#include <stddef.h>

#include "attr.h"
#include "bounce_client.h"
#include "buf.h"
#include "config.h"
#include "queue_file.h"
#include "transport.h"

/* ---- qmgr_calc.c: pure decisions (unit-tested in check_qmgr.c) ---- */

/* Seconds until a deferred message's next attempt: its age (now -
 * arrival) clamped to [min_backoff, max_backoff], so the interval
 * roughly doubles with every attempt (Postfix's rule). */
long long qmgr_backoff(long long arrival, long long now, long long min_backoff,
                       long long max_backoff);
/* Has a message with recipients still deferred outlived its lifetime
 * (bounce_queue_lifetime for the null sender, else
 * maximal_queue_lifetime; 0: after the first failed attempt)? */
bool qmgr_expired(long long arrival, long long now, long long lifetime);
/* The DSN code at the start of an error: transport's text ("5.1.1 User
 * unknown") copied into dsn (size >= 16) when it is a class-5 RFC 3463
 * code, else "5.0.0"; returns the text after it (white space skipped). */
const char *qmgr_error_text(const char *text, char *dsn, size_t dsnlen);
/* A per-transport limit: the value of "TRANSPORT_SUFFIX" when that
 * parameter is set (main.cf or -o) and valid in [min, max], else
 * fallback. */
long long qmgr_transport_param(struct config *c, const char *transport,
                               const char *suffix, bool is_time, long long min,
                               long long max, long long fallback);

/* ---- qmgr.c: process-wide state ---- */

struct qmgr_globals {
	struct config *c;
	struct transport_resolver *resolver;
	long long active_limit; /* qmgr_message_active_limit */
	long long rcpt_limit; /* qmgr_message_recipient_limit */
	long long min_backoff, max_backoff;
	long long max_lifetime, bounce_lifetime;
	long long queue_run_delay;
	long long delay_warning; /* delay_warning_time, 0: never */
	long long transport_retry; /* transport_retry_time */
	int ipc_timeout_ms;
	long long active_count; /* messages in memory */
	long long rcpt_count; /* their recipients in memory */
};
extern struct qmgr_globals qmgr;

/* Wall clock, seconds (with fractions). */
double qmgr_now(void);
/* Ask for an incoming / deferred scan soon (coalesced). force: a
 * deferred scan now even if one ran less than a second ago. */
void qmgr_scan_incoming(void);
void qmgr_scan_deferred(bool force);
/* A message left the active queue: let waiting files in. */
void qmgr_room_freed(void);

/* ---- qmgr_scan.c ---- */

/* Move everything in active/ back to incoming/ (start-up: Postfix's
 * crash recovery; every such message is delivered again). */
void qmgr_recover_active(void);
/* Collect the IDs in incoming/ (deferred/: only due files) and feed
 * them into the active queue while there is room. */
void qmgr_scan_run(const char *queue);
/* incoming/ID is new mail (cleanup's trigger): queue it for the active
 * queue without listing incoming/. */
void qmgr_scan_new(const char *id);
/* Feed waiting IDs into the active queue while there is room. */
void qmgr_feed(void);
/* Is there room for another message? */
bool qmgr_has_room(void);

/* ---- qmgr_message.c ---- */

enum qmgr_rcpt_state {
	QR_DONE, /* done in the file before this pass (or now: sent) */
	QR_PENDING, /* queued or being delivered */
	QR_DEFERRED, /* try again later */
	QR_BOUNCED, /* failed for good: in the bounce log, marked done */
	QR_EXPIRED, /* deferred past its lifetime: in the bounce log */
};

struct qmgr_message;

/* Load active/ID (just moved there) and schedule its recipients. A
 * corrupt file goes to corrupt/. prev_attempt: when the previous
 * delivery attempt ended (a deferred file's ctime), 0 for new mail.
 * old_logs: defer/ID or bounce/ID may exist from an earlier attempt
 * (false only for new mail: then no probe for them is made). */
void qmgr_message_load(const char *id, long long prev_attempt, bool old_logs);
/* A recipient's outcome (index into the envelope's recipients).
 * status 2/4/5 with dsn, relay and reason; for 2 and 5 the file change
 * is made durable by qmgr_message_sync. log: qmgr itself logs the
 * to=<> line (the agent could not). */
void qmgr_message_outcome(struct qmgr_message *m, size_t rcpt, int status,
                          const char *dsn, const char *relay,
                          const char *reason, const char *transport, bool log);
/* fsync the queue file after recipients were marked done. */
void qmgr_message_sync(struct qmgr_message *m);
/* n recipients of m were settled (answered or deferred); when none is
 * left the message is finished (bounces, then defer or remove). */
void qmgr_message_settled(struct qmgr_message *m, size_t n);
/* Accessors for the delivery code. */
const char *qmgr_message_id(const struct qmgr_message *m);
const struct queue_envelope *qmgr_message_env(const struct qmgr_message *m);
double qmgr_message_entered(const struct qmgr_message *m);
void qmgr_message_hold(struct qmgr_message *m); /* a delivery starts */
void qmgr_message_release(struct qmgr_message *m); /* and ends */

/* ---- qmgr_conn.c ---- */

/* A connection to private/TRANSPORT: a kept idle one (*reused true) when
 * may_reuse and there is one, else a new one (connect without blocking).
 * -1: the transport is unavailable (reason in why); -2: its backlog is
 * full, try again soon. */
int qmgr_conn_get(const char *transport, bool may_reuse, bool *reused,
                  struct buf *why);
/* Keep fd, whose request was answered to the end, for the transport's
 * next request (closed instead when max_idle are kept already, or qmgr
 * is stopping). */
void qmgr_conn_put(const char *transport, int fd, size_t max_idle);

/* ---- qmgr_deliver.c ---- */

/* Queue recipients rcpts[0..n) of m for (transport, nexthop); they are
 * split into requests of at most the transport's recipient limit. */
void qmgr_deliver_queue(struct qmgr_message *m, const char *transport,
                        const char *nexthop, const size_t *rcpts, size_t n);
/* Start what the concurrency limits allow (soon, from a timer). */
void qmgr_deliver_kick(void);
/* Forget that transports were unavailable ("F" trigger). */
void qmgr_deliver_forget(void);
/* Before exit: wait up to timeout_ms for the deliveries in flight to
 * answer (their done marks then stick); start nothing new. */
void qmgr_deliver_drain(int timeout_ms);

#endif
