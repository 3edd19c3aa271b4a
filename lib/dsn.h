/* dsn.h: composing a delivery status notification (RFC 3464
 * multipart/report; report-type=delivery-status) from a message's
 * envelope facts, its recipients' outcomes and its content. Pure text
 * work (no I/O besides the content callback), used by the bounce service
 * and tested on its own. The output is the DSN's content in the internal
 * form (LF line ends, every line at most 998 bytes), ready for
 * cleanup_write. */
#ifndef POSTHORN_DSN_H
#define POSTHORN_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"

/* The kind of notice (decides Subject, wording, what is attached). */
enum dsn_kind {
	DSN_FAILURE, /* "Undelivered Mail Returned to Sender" */
	DSN_DELAY, /* "Delayed Mail (still being retried)" */
	DSN_SUCCESS, /* "Successful Mail Delivery Report" */
	DSN_POSTMASTER, /* a copy of a failure for the postmaster (headers
			 * only): "Postmaster Copy: Undelivered Mail" */
};

/* RFC 3464 2.3.3 Action. */
enum dsn_action {
	DSN_ACTION_FAILED,
	DSN_ACTION_DELAYED,
	DSN_ACTION_DELIVERED,
	DSN_ACTION_RELAYED,
	DSN_ACTION_EXPANDED,
};

/* One recipient's outcome. */
struct dsn_rcpt {
	const char *address; /* Final-Recipient (rfc822) */
	const char *orcpt; /* RFC 3461 ORCPT "type;address", NULL or "" */
	enum dsn_action action;
	const char *status; /* RFC 3463 "5.1.1"; anything else is replaced
			      * by X.0.0 for the action's class */
	const char *text; /* why / what happened, as logged; may be
			      * "host NAME[ADDR] said: REPLY (in reply to
			      * ... command)" (Remote-MTA + smtp
			      * Diagnostic-Code) */
	const char *relay; /* "mx.example.com[192.0.2.1]:25", "local" or
			      * NULL: gives Remote-MTA when a host */
};

/* Everything about the message and the notice. */
struct dsn_message {
	enum dsn_kind kind;
	const char *myhostname; /* Reporting-MTA, From: MAILER-DAEMON@ */
	const char *queue_id; /* of the original */
	const char *sender; /* the original's envelope sender */
	const char *notify_to; /* To: of the notice (sender or postmaster) */
	const char *envid; /* RFC 3461 ENVID or NULL */
	bool ret_headers; /* RET=HDRS: never the whole message */
	time_t arrival; /* of the original (Arrival-Date) */
	time_t now; /* Date:, and the delay in the wording */
	time_t retry_until; /* DSN_DELAY: Will-Retry-Until (0: none) */
	size_t size_limit; /* bounce_size_limit: the most content bytes
				 * attached; more means headers only (and
				 * headers beyond it are cut at a line) */
	const char *unique; /* makes Message-ID and boundary unique
				 * among notices for this queue ID (e.g.
				 * "PID.COUNT"); NULL: "" */
	const struct dsn_rcpt *rcpts;
	size_t nrcpts;
};

/* Reads the original's content (LF line ends): up to len bytes into
 * data; returns the count, 0 at the end, -1 on an error. */
typedef ssize_t (*dsn_read_fn)(void *ctx, void *data, size_t len);

/* Append the notice (header and body) for m onto out, reading the
 * original through read(ctx, ...) (read may be NULL: nothing attached).
 * -1 with the reason in err when read fails or out's limit is too small
 * (out is then left as it was). */
int dsn_compose(const struct dsn_message *m, dsn_read_fn read, void *ctx,
                struct buf *out, struct buf *err);

/* Length of an RFC 3463 status code ("5.1.1": class 2, 4 or 5, then
 * two numbers of 1-3 digits) at the start of s when it is followed by the
 * end of s, a space or a tab; 0 if there is none. */
size_t dsn_status_len(const char *s);

/* The Action keyword ("failed", ...). */
const char *dsn_action_name(enum dsn_action a);

/* Split a Postfix-style text "host NAME[ADDR] said: REPLY (in reply to X
 * command)" into NAME (mta) and REPLY (the " (in reply to ...)" tail
 * dropped): 0, or -1 (outputs untouched) when text is not of that form. */
int dsn_smtp_reply_split(const char *text, struct buf *mta, struct buf *reply);

/* Append s (an address or ENVID) as a message/delivery-status field
 * value: bytes 0x21-0x7E stay, every other byte becomes RFC 3461 xtext
 * "+HH" (so the field is 7-bit and one word). */
void dsn_field_text(const char *s, struct buf *out);

/* Append a duration as words: "3 hours", "1 day", "25 minutes",
 * "10 seconds" (the largest unit that divides it roughly: whole units,
 * rounded down). */
void dsn_format_duration(long long seconds, struct buf *out);

#endif
