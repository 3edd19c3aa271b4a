/* queue_list.h: the queue listing shared by `posthorn queue list` and
 * `sendmail -bp` / mailq: Postfix's mailq layout, or one JSON object per
 * message (like `postqueue -j`). Also the defer log line format
 * (queue_directory/defer/H/ID), which delivery writes and the listing
 * reads. See docs/queue-admin.md. */
#ifndef POSTHORN_QUEUE_LIST_H
#define POSTHORN_QUEUE_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "buf.h"
#include "config.h"

/* Print every message in incoming, active, deferred, hold and maildrop
 * (in that order, sorted by queue ID within each queue) onto out: the
 * mailq layout, or with json one JSON object a line. A corrupt or
 * unreadable queue file is listed with what could be read and a
 * warning (msg_warn); it never stops the listing. -1 with the reason in
 * err when a queue directory cannot be read at all (nothing printed). */
int queue_list_print(struct config *c, FILE *out, bool json, struct buf *err);

/* Call fn(queue, id, path, ctx) for every queue file in queue (one of
 * the QUEUE_* names; hashed queues are walked through their
 * subdirectories), sorted by ID; path is relative to queue_directory.
 * Dot names are skipped. fn returns 0 to go on, -1 to stop (the result is
 * then -1 with err left as fn set it). A missing directory is empty; -1
 * with the reason in err when one cannot be read. */
int queue_list_each(struct config *c, const char *queue,
                    int (*fn)(const char *queue, const char *id,
                              const char *path, void *ctx),
                    void *ctx, struct buf *err);

/* One message as shown (the formatting pieces below take it, so they
 * can be tested without queue files). */
struct queue_list_rcpt {
	const char *address;
	const char *reason; /* from the defer log, NULL if none */
};

struct queue_list_item {
	const char *queue; /* "deferred", ... */
	const char *id;
	long long arrival; /* seconds since the epoch; <= 0: unknown */
	long long size; /* message size in bytes */
	const char *sender; /* "" for the null sender; NULL if unknown */
	const struct queue_list_rcpt *rcpts; /* undelivered ones only */
	size_t nrcpts;
	const char *error; /* why the file could not be read; NULL if ok */
};

/* Append the mailq heading line. */
void queue_list_heading(struct buf *out);
/* Append one message in the mailq layout (no blank line around it). */
void queue_list_format_text(const struct queue_list_item *item,
                            struct buf *out);
/* Append one message as one JSON object and a newline. */
void queue_list_format_json(const struct queue_list_item *item,
                            struct buf *out);
/* Append the closing line: "\n-- N Kbytes in M Requests.\n" (bytes are
 * the queue files' sizes), or "Mail queue is empty\n" when count is 0. */
void queue_list_footer(long long bytes, long long count, struct buf *out);
/* Arrival time as mailq shows it: "Sun Nov 22 03:21:23" (local time,
 * "%a %b %e %H:%M:%S"); "(unknown)" for sec <= 0. */
void queue_list_format_time(long long sec, struct buf *out);
/* Append len bytes as a quoted JSON string: valid UTF-8 passes through,
 * '"' and '\\' and control characters are escaped (\n, \t, \r, \u00XX),
 * and each byte that is not part of valid UTF-8 becomes \ufffd. */
void queue_list_json_string(const char *s, size_t len, struct buf *out);
/* Append s for a terminal: valid UTF-8 and printable ASCII pass, every
 * other byte becomes '?'. */
void queue_list_printable(const char *s, size_t len, struct buf *out);

/* Defer log lines: "RECIPIENT\tREASON\n", one per deferred recipient; in
 * both fields a backslash, TAB, CR and LF are written as \\, \t, \r, \n.
 * When a recipient appears more than once the last line wins. */
void queue_list_defer_encode(const char *rcpt, const char *reason,
                             struct buf *out);
/* Split one line (without its LF) into its two fields; -1 if it is not a
 * well-formed defer log line. */
int queue_list_defer_decode(const char *line, size_t len, struct buf *rcpt,
                            struct buf *reason);

#endif
