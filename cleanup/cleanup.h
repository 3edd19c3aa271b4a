/* cleanup.h: what the cleanup daemon's files share (cleanup/ only): the
 * per-message state, the daemon's parameters, and each file's entry
 * points. The protocol is in docs/ipc.md ("cleanup"), the file it writes
 * in docs/queue-format.md. */
#ifndef POSTHORN_CLEANUP_H
#define POSTHORN_CLEANUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/time.h>

#include "buf.h"
#include "config.h"
#include "header.h"
#include "queue_file.h"

/* The longest sender, recipient, ORCPT or attribute value accepted. */
#define CLEANUP_TEXT_MAX 1024
/* At most this many envelope attributes per message. */
#define CLEANUP_ATTR_MAX 32

/* Parameters, read once in post_init (cleanup.c). */
struct cleanup_params {
	struct config *config;
	const char *myhostname;
	const char *myorigin;
	char **local_domains; /* myorigin + mydestination names, NULL-ended */
	long long hopcount_limit;
	long long header_size_limit;
	long long message_size_limit; /* 0: none */
	long long recipient_limit;
	long long recursion_limit;
	long long expansion_limit;
	int ipc_timeout_ms;
};
extern struct cleanup_params cleanup_params;

struct cleanup_rcpt {
	char *address;
	char *orcpt;
	int notify;
};

/* One message, from {request=begin} to the verdict. */
struct cleanup_state {
	int flags; /* CLEANUP_FLAG_* */
	/* The envelope as received (then rewritten in place). */
	char *sender; /* NULL until received */
	char *envid, *ret, *full_name;
	char **attr_names, **attr_values;
	size_t nattrs;
	struct cleanup_rcpt *rcpts;
	size_t nrcpts, rcpt_cap;
	/* The verdict so far: 0, or the first failure (4 or 5) with its
	 * reply reason ("5.4.6 Too many hops") and log detail. */
	int status;
	struct buf *reason;
	struct buf *detail;
	/* The queue file (cleanup_queue.c). */
	int fd; /* -1: none yet */
	char *tmp_path; /* incoming/.tmp.PID.N */
	bool recycled; /* the file came from the pool (queue_pool.h) */
	off_t recycled_size; /* its length when taken */
	char queue_id[QUEUE_ID_MAX];
	struct timeval arrival;
	struct queue_writer *writer;
	off_t size_offset; /* of the S payload */
	struct buf *block; /* content not yet in a B record */
	long long content_size; /* content bytes in the file */
	int last_byte; /* of the content written, -1: none */
	/* Content as received (cleanup_header.c). */
	long long content_in;
	struct header_parser *parser;
	long long hops;
	bool have_date, have_msgid, have_from, logged_truncation;
};

/* cleanup_state.c: create/destroy, envelope collection, failures. */
struct cleanup_state *cleanup_state_create(int flags);
void cleanup_state_destroy(struct cleanup_state **stp);
/* Record a failure (only the first one counts): status 4 or 5, the reply
 * reason (enhanced status code first), a detail for the log. */
void cleanup_fail(struct cleanup_state *st, int status, const char *reason,
                  const char *detail_fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The queue ID for log lines ("NOQUEUE" before the file exists). */
const char *cleanup_log_id(const struct cleanup_state *st);
/* Is value (len bytes) acceptable envelope text: at most
 * CLEANUP_TEXT_MAX bytes, no NUL or other control character? */
bool cleanup_text_ok(const char *value, size_t len);
/* Envelope pieces from the client; a bad one fails the message (5.x.x)
 * or is ignored with a warning (unknown attributes). */
void cleanup_set_sender(struct cleanup_state *st, const char *value,
                        size_t len);
void cleanup_add_attr(struct cleanup_state *st, const char *name, size_t nlen,
                      const char *value, size_t vlen);
void cleanup_add_rcpt(struct cleanup_state *st, const char *addr, size_t alen,
                      const char *orcpt, size_t olen, int notify);
/* Replace the recipients with a new list (taking ownership). */
void cleanup_set_rcpts(struct cleanup_state *st, struct cleanup_rcpt *rcpts,
                       size_t n);
/* Log the verdict: "ID: reject: ..." or a warning for a temporary one. */
void cleanup_log_verdict(const struct cleanup_state *st);

/* cleanup_rewrite.c: envelope rewriting (maps are opened lazily). */
void cleanup_rewrite_init(void);
/* Qualify (local submissions), canonical_maps for sender and recipients,
 * virtual_alias_maps for recipients, duplicates dropped, the recipient
 * limit. Failures go to st. */
void cleanup_rewrite_envelope(struct cleanup_state *st);

/* cleanup_queue.c: the queue file. */
/* Ready incoming/ (cwd is queue_directory): remove stale temporary
 * files of dead cleanup processes. */
void cleanup_queue_init(void);
/* Create the temporary file and the queue ID. -1 (st failed) on error. */
int cleanup_queue_create(struct cleanup_state *st);
/* Write the envelope records (V S T F E N A R M). */
int cleanup_queue_envelope(struct cleanup_state *st);
/* Append content bytes (buffered into B records). */
void cleanup_queue_content(struct cleanup_state *st, const char *data,
                           size_t len);
/* The rest of the durability steps: last B, X, size fix-up, fsync,
 * rename into incoming/, fsync of incoming/. -1 (st failed) on error. */
int cleanup_queue_commit(struct cleanup_state *st);
/* Throw the (temporary) file away, if any. */
void cleanup_queue_abort(struct cleanup_state *st);
/* Tell qmgr that incoming/QUEUE_ID is new mail (errors ignored). */
void cleanup_queue_trigger(const char *queue_id);

/* cleanup_header.c: content processing. */
/* Start the content (after the envelope is written). */
void cleanup_content_start(struct cleanup_state *st);
/* Content bytes from the client, in any pieces. */
void cleanup_content(struct cleanup_state *st, const char *data, size_t len);
/* End of content. */
void cleanup_content_end(struct cleanup_state *st);

/* cleanup_session.c: one client connection. */
void cleanup_session_start(int fd);

#endif
