/* local.h: what the files of the local delivery agent share (local.c:
 * requests and answers; local_expand.c: aliases, :include:, users and
 * recipient_delimiter; local_mailbox.c, local_command.c, local_file.c,
 * local_forward.c: the four kinds of final delivery; local_content.c: the
 * message as read from the queue file; local_child.c: child processes). */
#ifndef POSTHORN_LOCAL_H
#define POSTHORN_LOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "config.h"
#include "deliver.h"
#include "domain_list.h"
#include "maildir.h"
#include "maps.h"
#include "rewrite.h"

struct local_done;

/* Nesting depth of alias and :include: expansion (Postfix's local has a
 * fixed limit of this order too). */
#define LOCAL_DEPTH_MAX 100
/* Alias targets looked at for one recipient (all levels together). */
#define LOCAL_TARGETS_MAX 5000
/* Delivered-To: headers remembered from one message. */
#define LOCAL_DELIVERED_MAX 1000
/* Bytes of command output kept for the reason text. */
#define LOCAL_OUTPUT_MAX 1000

/* Who a pipe, file or :include: runs as. */
struct local_privs {
	bool switch_ids; /* running as root: become uid:gid */
	uid_t uid;
	gid_t gid;
	const char *name;
};

/* One delivery request in progress. */
struct local_request {
	struct config *config;
	const struct deliver_request *req;
	int qfd; /* the queue file, read-only */
	struct rewrite_set *delivered_to; /* Delivered-To values, lowercase */
	struct local_done *done; /* final targets delivered so far */
	double received; /* when the request came in */
	struct local_privs vmail, privs;
	struct domain_list *mydestination, *virtual_domains;
	const char *delimiter; /* recipient_delimiter ("" none) */
	bool cmd_alias, cmd_include, file_alias, file_include;
	bool quota_bounce;
	long long time_limit; /* command_time_limit, seconds */
	long long mbox_limit; /* mailbox_size_limit, 0: none */
};

/* The outcome of one request recipient, summed over its deliveries. */
struct local_outcome {
	size_t index;
	const char *top; /* the request recipient's address */
	int status; /* 0 nothing yet, else 2, 4 or 5 */
	char dsn[16];
	struct buf *reason;
	int delivered; /* final deliveries that succeeded */
	int attempts; /* final deliveries tried */
};

/* One final delivery's result, for local_record. */
struct local_result {
	int status; /* 2, 4, 5 */
	char dsn[16];
	struct buf *reason;
	double started; /* when the delivery began (for delays=) */
};

/* local.c: a result with an empty reason, started now; free with
 * local_result_free. */
void local_result_init(struct local_result *res);
void local_result_free(struct local_result *res);
/* Set res's status, code and (formatted) reason. */
void local_result_set(struct local_result *res, int status, const char *dsn,
                      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* local.c: log one final delivery Postfix-style (to=<to>, orig_to when it
 * differs from the recipient) and fold it into the outcome. */
void local_record(struct local_request *lr, struct local_outcome *o,
                  const char *to, const struct local_result *res);
/* Fold a result into the outcome without logging (a duplicate). */
void local_fold(struct local_outcome *o, const struct local_result *res);
/* The outcome of a final target (key: "m:addr", "c:cmd", "f:path",
 * "r:addr") delivered earlier in this request: true and res filled, or
 * false. */
bool local_done_find(struct local_request *lr, const char *key,
                     struct local_result *res);
/* Remember the outcome of a final target. */
void local_done_add(struct local_request *lr, const char *key,
                    const struct local_result *res);

/* local.c: alias_maps, opened once per process; NULL with the reason
 * when it cannot be opened (the recipient is deferred). */
struct maps *local_alias_maps(struct local_request *lr, struct buf *err);

/* local_expand.c: deliver to one request recipient (aliases, users,
 * forwarding), recording every final delivery in o. */
void local_expand(struct local_request *lr, struct local_outcome *o);

/* local_expand.c: the parts of an address (local part unquoted): local
 * ("user+ext"), user, extension (after recipient_delimiter, "" none) and
 * domain ("" when there is none). */
void local_split(struct local_request *lr, const char *addr, struct buf *local,
                 struct buf *user, struct buf *ext, struct buf *domain);

/* local_mailbox.c: deliver into the Maildir of a users-map entry as
 * vmail_owner. delivered is the Delivered-To address. */
void local_mailbox(struct local_request *lr, struct local_outcome *o,
                   const char *address, long long quota, const char *delivered,
                   struct local_result *res);

/* local_command.c: pipe the message into "/bin/sh -c command" as
 * default_privs; rcpt is the address whose alias named the command. */
void local_command(struct local_request *lr, struct local_outcome *o,
                   const char *command, const char *rcpt,
                   struct local_result *res);

/* local_file.c: append the message mbox-style to path as default_privs. */
void local_file(struct local_request *lr, struct local_outcome *o,
                const char *path, const char *rcpt, struct local_result *res);
/* local_file.c: read an :include: file as default_privs (at most
 * ALIASES_INCLUDE_MAX bytes) into out; -1 with the reason. */
int local_include_read(struct local_request *lr, const char *path,
                       struct buf *out, struct buf *err);

/* local_forward.c: resubmit the message through cleanup to the remote
 * addresses in rcpts (the expansion of alias "delivered"). Records one
 * result per address. */
void local_forward(struct local_request *lr, struct local_outcome *o,
                   const char *delivered, struct rewrite_set *rcpts);

/* local_content.c: the message content of the queue file, in pieces
 * (a maildir_read_fn). */
struct local_content;
struct local_content *local_content_open(struct local_request *lr,
                                         struct buf *err);
int local_content_read(void *ctx, const char **data, size_t *len,
                       struct buf *err);
void local_content_close(struct local_content **cp);
/* Collect the Delivered-To: values of the header section (lowercased,
 * at most LOCAL_DELIVERED_MAX). -1 with the reason on a queue file
 * error. */
int local_content_delivered_to(struct local_request *lr, struct buf *err);
/* The header lines local puts first: Return-Path, X-Original-To,
 * Delivered-To (and the mbox "From " line first when from_line). */
void local_content_prefix(struct local_request *lr, const char *orig,
                          const char *delivered, bool from_line,
                          struct buf *out);
/* Write the prefix and the content to fd (blocking), with mbox ">From "
 * quoting when quote_from. -1 with errno set (or the reason in err on a
 * queue file error, errno then 0). */
int local_content_copy(struct local_request *lr, int fd, const char *prefix,
                       bool quote_from, struct buf *err);

/* local_child.c: fork a child that runs fn(ctx) as privs (when they say
 * to switch ids), in its own process group, with / as working directory,
 * umask 077, stdin from in_fd and stdout+stderr to out_fd (-1:
 * /dev/null) and every other descriptor closed but keep_fd (-1: none).
 * fn must not return (it execs or _exits). Returns the child's pid, or -1
 * (errno) when fork fails. */
pid_t local_spawn(const struct local_privs *privs, int in_fd, int out_fd,
                  int keep_fd, void (*fn)(void *ctx), void *ctx);
/* Feed the child's stdin from feed (NULL: none; in_fd is closed once
 * feed says 0), read what it writes on out_fd (at most max bytes kept,
 * the rest drained), until both are done and the child exited, for at
 * most limit seconds. Sets *wstatus (waitpid's). Returns 0; -1 when the
 * time limit struck, -2 when feed failed (reason in err): then the
 * child's process group is killed and the child reaped. in_fd is
 * closed here; out_fd stays the caller's. */
int local_child_wait(pid_t pid, int in_fd, maildir_read_fn feed, void *feed_ctx,
                     int out_fd, size_t max, long long limit, struct buf *out,
                     int *wstatus, struct buf *err);

/* local.c: seconds since the epoch, with microseconds. */
double local_now(void);

#endif
