/* bounce_client.h: asking the bounce service (bounce/, socket
 * queue_directory/private/bounce) to send a delivery status notification
 * (RFC 3464 DSN) to a message's sender, and the bounce/defer log line
 * format it reads. Used by qmgr. The wire protocol is in docs/ipc.md
 * ("bounce").
 *
 * Who does what: qmgr appends one log line per recipient that failed for
 * good to queue_directory/bounce/H/ID (bounce_log_format) and one per
 * deferred recipient to defer/H/ID, then calls bounce_request. The bounce
 * service reads the queue file and the log read-only, composes the DSN,
 * hands it to cleanup with the null sender and answers once the DSN is
 * durably queued. After a success (0) the caller removes the bounce log
 * (so the recipients are not reported twice) and, when no recipient is
 * left, the message. The bounce service never writes queue files or
 * logs. */
#ifndef POSTHORN_BOUNCE_CLIENT_H
#define POSTHORN_BOUNCE_CLIENT_H

#include <stddef.h>

#include "buf.h"
#include "config.h"

/* The master.cf service name: queue_directory/private/bounce. */
#define BOUNCE_SERVICE "bounce"

/* What to report. */
enum bounce_kind {
	/* Non-delivery: the recipients in bounce/H/ID (RFC 3464
	 * Action: failed). */
	BOUNCE_FAILURE,
	/* Delay warning: the recipients in defer/H/ID not yet delivered
	 * (Action: delayed). qmgr decides when (delay_warning_time). */
	BOUNCE_DELAY,
	/* Success notice: the recipients given in the call (Action:
	 * delivered, or relayed when relayed to an MTA without DSN). */
	BOUNCE_SUCCESS,
};

/* One recipient of a success notice (every pointer but address may be
 * NULL or ""). */
struct bounce_rcpt {
	const char *address; /* as in the queue file's R record */
	const char *orcpt; /* RFC 3461 ORCPT ("rfc822;addr"); NULL: taken
			      * from the queue file */
	const char *dsn; /* RFC 3463 status, "2.0.0" if NULL */
	const char *relay; /* "local", "mx.example.com[192.0.2.1]:25" */
	const char *reason; /* "delivered to maildir" */
	int relayed; /* 1: Action: relayed (next hop has no DSN) */
};

/* Ask for a DSN about message queue_id, now in queue_directory/
 * queue_name/ID ("active"; hashed queues are found by queue_path). For
 * BOUNCE_SUCCESS, rcpts[0..nrcpts) are the recipients to report (NOTIFY
 * contains SUCCESS: the caller filters); for the other kinds rcpts must be
 * NULL and nrcpts 0 (the logs name the recipients). Blocks until the
 * service answers (at most ipc_timeout). Returns 0 when the notice is
 * queued or nothing had to be sent (null sender, NOTIFY=NEVER, empty
 * log), -1 with the reason in reason (service unreachable, cleanup
 * refused, ...): try again later, keep the log. */
int bounce_request(struct config *c, enum bounce_kind kind,
                   const char *queue_id, const char *queue_name,
                   const struct bounce_rcpt *rcpts, size_t nrcpts,
                   struct buf *reason);

/* The same in two steps, for an event loop: bounce_request_send connects,
 * sends the whole request and returns the connection's fd (-1 with the
 * reason in reason); when the fd is readable, bounce_request_wait reads
 * the answer, closes the fd and returns as bounce_request. */
int bounce_request_send(struct config *c, enum bounce_kind kind,
                        const char *queue_id, const char *queue_name,
                        const struct bounce_rcpt *rcpts, size_t nrcpts,
                        struct buf *reason);
int bounce_request_wait(int fd, int timeout_ms, struct buf *reason);

/* The request attribute value of a kind: "bounce", "delay", "success";
 * and back (-1 if unknown). */
const char *bounce_kind_name(enum bounce_kind kind);
int bounce_kind_parse(const char *name);

/* Append one log line for bounce/H/ID or defer/H/ID onto out (lib/
 * queue_list.h format: "RECIPIENT<TAB>REASON<LF>", escaped), with the
 * reason field "D.S.N TEXT" when dsn is a valid RFC 3463 code (else
 * just TEXT). For an MTA's answer, TEXT is
 * Postfix's "host NAME[ADDR] said: 550 5.1.1 ... (in reply to RCPT TO
 * command)": the DSN then gets Remote-MTA: dns; NAME and
 * Diagnostic-Code: smtp; 550 5.1.1 .... */
void bounce_log_format(const char *rcpt, const char *dsn, const char *text,
                       struct buf *out);

/* One parsed log reason. */
struct bounce_log_reason {
	char dsn[16]; /* "5.1.1"; the default when none was given */
	const char *text; /* the rest (points into the decoded reason) */
};
/* Split a decoded reason field into status and text; def_dsn is used
 * when the field has no leading code ("5.0.0" for bounces, "4.0.0" for
 * delays). An enhanced code inside an SMTP reply in the text ("said: 550
 * 5.1.1 ...") is taken when there is no leading one. */
void bounce_log_reason_parse(const char *reason, const char *def_dsn,
                             struct bounce_log_reason *out);

#endif
