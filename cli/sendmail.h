/* sendmail.h: what the files of the sendmail wrapper share (sendmail.c:
 * options and modes; sendmail_input.c: reading standard input;
 * sendmail_submit.c: one message through postdrop; sendmail_smtp.c: -bs). */
#ifndef POSTHORN_SENDMAIL_H
#define POSTHORN_SENDMAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "config.h"
#include "queue_file.h"

/* Where the message and the settings come from. */
struct sm_ctx {
	struct config *config;
	const char *config_dir; /* passed on to postdrop */
	const char *postdrop; /* path of the postdrop program */
	const char *login; /* the real uid's login name, or NULL */
	uid_t uid;
	long long size_limit; /* message_size_limit; 0: none */
	int verbose;
};

/* One message's envelope and the options that shape its content. */
struct sm_message {
	const char *sender; /* envelope sender, "" for <> */
	const char *full_name; /* -F: for a From: header added when absent */
	const char *envid; /* -V / ENVID=, NULL if none */
	const char *ret; /* -R / RET=: "FULL", "HDRS" or NULL */
	int notify; /* -N: QUEUE_NOTIFY_* for every recipient */
	bool extract; /* -t: recipients from To/Cc/Bcc, Bcc removed */
	bool dot_ends; /* no -i: a line "." ends the input */
	bool skip_from_line; /* drop an mbox "From " first line */
	/* Recipients so far (from the command line or RCPT TO). */
	struct queue_rcpt *rcpts;
	size_t nrcpts, rcpt_cap;
};

/* ---- sendmail_input.c: standard input in pieces of lines ---- */

struct sm_reader;
/* Read fd in pieces of at most piece_max (>= 2) bytes. */
struct sm_reader *sm_reader_create(int fd, size_t piece_max);
void sm_reader_destroy(struct sm_reader **rp);
/* The next piece of a line, without its line end: CRLF and a bare LF
 * both end a line; a line longer than piece_max comes in several pieces
 * (never split between CR and LF). *bol: the piece starts a line; *eol:
 * it ends one (a last line without a line end is ended by EOF). The data
 * stays valid until the next call. Returns 1, 0 at end of input, -1 on
 * a read error (errno). */
int sm_reader_next(struct sm_reader *r, const char **data, size_t *len,
                   bool *bol, bool *eol);

/* ---- sendmail_submit.c: one message through postdrop ---- */

/* Add a recipient (copied). */
void sm_message_add_rcpt(struct sm_message *m, const char *address,
                         const char *orcpt, int notify);
/* Free the recipients. */
void sm_message_clear(struct sm_message *m);

/* A message being handed to postdrop. */
struct sm_drop;
/* Start postdrop and write the envelope of m. NULL with a sysexits code
 * in *status and the reason in err. */
struct sm_drop *sm_drop_open(struct sm_ctx *ctx, const struct sm_message *m,
                             int *status, struct buf *err);
/* Content (canonical: LF line ends). -1 once the pipe to postdrop is
 * broken (sm_drop_close tells why). */
int sm_drop_write(struct sm_drop *d, const void *data, size_t len);
/* Content bytes written so far. */
long long sm_drop_size(const struct sm_drop *d);
/* Finish (complete: write the end marker; else postdrop discards the
 * message), wait for postdrop and free d. Returns EX_OK with the queue
 * ID in id, or a sysexits code with the reason in err. */
int sm_drop_close(struct sm_drop **dp, bool complete, char *id, size_t idlen,
                  struct buf *err);

/* Read a message from standard input (sendmail without -bs): headers
 * (for -t, -F), then the body streamed to postdrop. Returns a sysexits
 * code; the reason is in err. */
int sm_submit_stdin(struct sm_ctx *ctx, struct sm_message *m, char *id,
                    size_t idlen, struct buf *err);

/* ---- sendmail_smtp.c: -bs ---- */

/* Run an SMTP session on standard input and output (RFC 5321 server for
 * local submission). Returns a sysexits code. */
int sm_smtp_session(struct sm_ctx *ctx);

#endif
