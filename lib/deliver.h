/* deliver.h: the delivery request qmgr sends to a delivery agent (local,
 * smtp, ...) and the agent's per-recipient answers, over the agent's unix
 * socket in the attr protocol (docs/ipc.md, "delivery").
 *
 * One connection carries one request. qmgr sends the request; the agent
 * opens queue_directory/QUEUE/ID read-only for the content, delivers, and
 * answers one status per recipient (in any order, each exactly once), then
 * "done". qmgr marks delivered recipients done in the queue file and
 * writes the defer/bounce logs: agents never modify queue files. */
#ifndef POSTHORN_DELIVER_H
#define POSTHORN_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "attr.h"
#include "buf.h"
#include "stream.h"

/* At most this many recipients per request. */
#define DELIVER_MAX_RCPTS 1000

struct deliver_rcpt {
	char *address; /* after rewriting: what the agent delivers to */
	char *orcpt; /* RFC 3461 ORCPT or "" */
	int notify; /* QUEUE_NOTIFY_* */
	off_t offset; /* of its record in the queue file */
};

struct deliver_request {
	char *queue_name; /* "active" */
	char *queue_id;
	char *sender; /* "" for <> */
	char *transport; /* "local", "smtp", ... */
	char *nexthop; /* "example.com", "[1.2.3.4]:25", "" */
	char *envid; /* or "" */
	char *ret; /* "FULL", "HDRS" or "" */
	char *client_address; /* of the original submission, or "" */
	long long arrival_sec; /* for delay= in log lines */
	long arrival_usec;
	long long content_offset; /* of the content section in the file */
	long long content_size;
	struct deliver_rcpt *rcpts;
	size_t nrcpts;
};

/* A recipient's outcome. */
struct deliver_status {
	size_t index; /* into request rcpts */
	int status; /* 2 delivered, 4 try again, 5 failed for good */
	char dsn[16]; /* RFC 3463 "2.0.0", "4.2.2", "5.1.1" */
	char *relay; /* "local", "mx.example.com[1.2.3.4]:25" */
	char *reason; /* "delivered to maildir", "host x said: 550 ..." */
};

/* qmgr side: send req (flushed). -1 on a broken connection. */
int deliver_request_write(struct stream *s, const struct deliver_request *r);
/* qmgr side, for an event loop: the request's bytes onto out (appended). */
void deliver_request_encode(const struct deliver_request *r, struct buf *out);
/* qmgr side: read the next answer. Returns 1 (st filled; free with
 * deliver_status_free), 0 (the agent said done), -1 (broken or malformed,
 * reason in err). */
int deliver_status_read(struct stream *s, struct deliver_status *st,
                        size_t nrcpts, struct buf *err);
void deliver_status_free(struct deliver_status *st);
/* Limits of one answer message (for a caller that reads with attr_decode). */
extern const struct attr_limits deliver_status_limits;
/* qmgr side, for an event loop: check one decoded answer message (same
 * returns as deliver_status_read). answered (nrcpts flags, zeroed by the
 * caller, may be NULL) is updated and refuses a second answer for one
 * recipient, and "done" before every recipient was answered. */
int deliver_status_decode(const struct attr_list *msg,
                          struct deliver_status *st, size_t nrcpts,
                          unsigned char *answered, struct buf *err);

/* Agent side: read a request; -1 with reason in err (malformed, limits).
 * Free with deliver_request_free. */
int deliver_request_read(struct stream *s, struct deliver_request *r,
                         struct buf *err);
void deliver_request_free(struct deliver_request *r);
/* Agent side: one recipient's outcome (buffered). */
int deliver_status_write(struct stream *s, size_t index, int status,
                         const char *dsn, const char *relay,
                         const char *reason);
/* Agent side: all answered (flushed). */
int deliver_done_write(struct stream *s);

/* The "delays=a/b/c/d" and "delay=" text of Postfix log lines. */
void deliver_format_delays(const struct deliver_request *r,
                           double queue_entered, double conn_setup,
                           double transmit_start, double now, struct buf *out);

#endif
