/* cleanup_client.h: handing one message to the cleanup service (used by
 * smtpd and pickup). The envelope goes first, then the content streamed in
 * bounded chunks, then cleanup answers with the queue ID once the queue
 * file is on disk (DESIGN.md: durability), or with an error. The wire
 * protocol is described in docs/ipc.md ("cleanup"). */
#ifndef POSTHORN_CLEANUP_CLIENT_H
#define POSTHORN_CLEANUP_CLIENT_H

#include <stddef.h>

#include "buf.h"
#include "config.h"

/* The master.cf service name: the socket is queue_directory/private/
 * cleanup, or public/cleanup when master.cf marks the service
 * private=n (cleanup_open tries both, in that order). */
#define CLEANUP_SERVICE "cleanup"

/* Flags for cleanup_open. */
/* Local submission (pickup): add From: when absent, and append
 * @$myorigin to envelope addresses without a domain. */
#define CLEANUP_FLAG_LOCAL 1
/* Learn the queue ID at once (smtpd: for its Received: header): cleanup
 * creates the queue file at {request=begin} and answers {status=0,
 * queue_id} (or {status=4, reason}) before the envelope; cleanup_open
 * waits for that answer (ipc_timeout). See cleanup_queue_id. */
#define CLEANUP_FLAG_QUEUE_ID 2

/* Results of cleanup_finish. */
#define CLEANUP_OK 0
#define CLEANUP_TEMPFAIL 4 /* try again later (4.x.x) */
#define CLEANUP_PERMFAIL 5 /* rejected (5.x.x) */

struct cleanup_client;

/* Connect to the cleanup service (see CLEANUP_SERVICE) and send the
 * start of a message; NULL with the reason in err (with
 * CLEANUP_FLAG_QUEUE_ID, also when cleanup could not create the file:
 * err then starts with an enhanced status code, "4.3.1 ..."). */
struct cleanup_client *cleanup_open(struct config *c, int flags,
                                    struct buf *err);
/* The queue ID given at open time with CLEANUP_FLAG_QUEUE_ID ("" without
 * that flag); valid until the client is freed. The file is not durable
 * (nor the ID final to the sender) until cleanup_finish says so. */
const char *cleanup_queue_id(const struct cleanup_client *cc);
/* The envelope: sender ("" for <>), then attributes (client_name,
 * client_address, client_port, helo_name, protocol, sasl_method,
 * sasl_username, tls, submitter, envid, ret; and full_name, the
 * sender's name from sendmail -F, used only for an added From: header),
 * then recipients (orcpt may be NULL, notify is QUEUE_NOTIFY_* flags or
 * 0). Calls out of this order are a bug (msg_panic). -1 on a broken
 * connection (call cleanup_finish for the verdict). */
int cleanup_sender(struct cleanup_client *cc, const char *sender);
int cleanup_attr(struct cleanup_client *cc, const char *name,
                 const char *value);
int cleanup_rcpt(struct cleanup_client *cc, const char *address,
                 const char *orcpt, int notify);
/* Content, in canonical form (lines end in a bare LF), in any pieces; the
 * client sends it in chunks of at most QUEUE_BLOCK_MAX bytes. -1 on a
 * broken connection (cleanup may have rejected the message early: call
 * cleanup_finish for the reason). */
int cleanup_write(struct cleanup_client *cc, const void *data, size_t len);
/* End of content: wait for the verdict. Returns CLEANUP_OK with the queue
 * ID in queue_id, or CLEANUP_TEMPFAIL / CLEANUP_PERMFAIL with reason
 * starting with an enhanced status code ("5.4.6 too many hops"). Frees
 * the client and sets *ccp to NULL either way. */
int cleanup_finish(struct cleanup_client **ccp, char *queue_id, size_t idlen,
                   struct buf *reason);
/* Give up on the message (nothing is queued); frees the client. */
void cleanup_abort(struct cleanup_client **ccp);

#endif
