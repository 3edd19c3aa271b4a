/* maildrop.h: maildrop files, the hand-over from `sendmail` (through the
 * setgid postdrop helper) to the pickup daemon. They use the queue file
 * records of lib/queue_file.h in this order:
 *   V S T F [E] [N] [A submitter=LOGIN] R... M B... X
 * sendmail writes such a stream into a pipe (S holds a placeholder size,
 * no A record); postdrop checks it strictly and writes its own copy into
 * maildrop/ (its own T, the submitter A record, S fixed in place); pickup
 * checks the file again before it hands the message to cleanup. Nothing a
 * local user wrote is trusted at either step. */
#ifndef POSTHORN_MAILDROP_H
#define POSTHORN_MAILDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "queue_file.h"

/* Recipients per maildrop file. */
#define MAILDROP_RCPT_MAX 10000
/* RFC 3461 4.4: an ENVID holds at most 100 characters. */
#define MAILDROP_ENVID_MAX 100
/* RFC 3461 4.2: an ORCPT holds at most 500 characters. */
#define MAILDROP_ORCPT_MAX 500
/* The only attribute a maildrop file may carry. */
#define MAILDROP_ATTR_SUBMITTER "submitter"

/* What a reader accepts. */
struct maildrop_limits {
	size_t max_rcpts; /* recipients (1..MAILDROP_RCPT_MAX) */
	long long max_size; /* content bytes; 0: no limit */
};

/* Read and check the envelope (through the M record) of a maildrop
 * stream: queue_envelope_read, then at least one and at most max_rcpts
 * recipients (none marked done), addresses without control characters
 * and within RFC 5321 path limits, ENVID and ORCPT within RFC 3461
 * limits, RET "FULL" or "HDRS", no attribute but submitter. -1 with the
 * reason in err (env freed) on any problem. */
int maildrop_read_envelope(struct queue_reader *r, struct queue_envelope *env,
                           const struct maildrop_limits *lim, struct buf *err);
/* Read the next content block into out (reset first). Returns 1 (a
 * block; *size counts the content bytes so far and must start at 0), 0
 * (the end marker, with nothing after it: the stream is whole), -1 with
 * the reason in err (malformed, truncated, or more than lim->max_size
 * content bytes). */
int maildrop_read_block(struct queue_reader *r, struct buf *out,
                        long long *size, const struct maildrop_limits *lim,
                        struct buf *err);

/* Writer: records onto one fd (a pipe or a file), content re-blocked
 * into QUEUE_BLOCK_MAX records. Every function returns -1 with errno set
 * on a write error. */
struct maildrop_writer;
struct maildrop_writer *maildrop_writer_create(int fd);
/* Free (does not close the fd); sets *wp to NULL. */
void maildrop_writer_destroy(struct maildrop_writer **wp);
/* V, S (content size 0 for now), T (env's arrival time), F, E and N when
 * set, A for every attribute, R for every recipient, M. Once only. */
int maildrop_write_envelope(struct maildrop_writer *w,
                            const struct queue_envelope *env);
/* Content bytes, in any pieces. */
int maildrop_write_content(struct maildrop_writer *w, const void *data,
                           size_t len);
/* The last block, X, and a flush. */
int maildrop_write_end(struct maildrop_writer *w);
/* Content bytes written so far. */
long long maildrop_writer_size(const struct maildrop_writer *w);
/* For a file: rewrite the S record in place with the real content size
 * (pwrite, after maildrop_write_end). */
int maildrop_writer_fix_size(struct maildrop_writer *w);

/* Results of maildrop_copy. */
#define MAILDROP_COPY_OK 0
#define MAILDROP_COPY_BAD (-1) /* the input is malformed or over limits */
#define MAILDROP_COPY_IO (-2) /* writing the output failed (errno) */

/* postdrop's work: read a maildrop stream from in_fd, check it with
 * maildrop_read_envelope/maildrop_read_block, and write a clean copy to
 * out_fd (a new, empty file): arrival time now, the caller's attributes
 * replaced by submitter=SUBMITTER, S fixed in place. The output is not
 * fsync'ed. Returns a MAILDROP_COPY_* value, the reason in err. */
int maildrop_copy(int in_fd, int out_fd, const char *submitter,
                  const struct maildrop_limits *lim, struct buf *err);

/* Is sender what sendmail puts there by default for the user login: the
 * login itself, or login@ORIGIN with origin (myorigin) compared without
 * case? pickup logs any other sender as set by the user. */
bool maildrop_sender_is_login(const char *sender, const char *login,
                              const char *origin);

#endif
