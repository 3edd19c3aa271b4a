/*
 * cleanup_client.c: the client side of the cleanup protocol (docs/ipc.md,
 * "cleanup"), used by smtpd and pickup. A message is {request=begin,
 * flags}, {sender}, {attr_name, attr_value}*, {rcpt, orcpt, notify}+,
 * {chunk}*, {request=end}; cleanup answers once with {status=0, queue_id}
 * or {status=4|5, reason}. With CLEANUP_FLAG_QUEUE_ID cleanup also
 * answers {request=begin} at once, in the same form, with the ID of the
 * file it created; such a client's connection is kept after the verdict
 * for its next message (no connect, accept and cleanup process hand-over
 * per message): a connection cleanup closed meanwhile shows in the
 * answer to the next {request=begin}, before anything is queued, and that
 * message starts over on a new connection. Owns the connections and one
 * chunk buffer of QUEUE_BLOCK_MAX bytes.
 * Every write and the wait for the verdict are bounded by ipc_timeout.
 * SECURITY: the reply comes from a peer daemon and is still checked: a
 * queue ID must be well formed, a reason is bounded and must start with
 * the class digit of its status.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "attr.h"
#include "cleanup_client.h"
#include "server_listen.h"
#include "mem.h"
#include "msg.h"
#include "queue_file.h"
#include "str.h"

/* Where the order of calls stands (the protocol's order). */
enum cleanup_client_phase {
	CC_ENVELOPE, /* sender sent, attributes may follow */
	CC_RCPTS, /* a recipient was sent */
	CC_CONTENT, /* content was written */
};

struct cleanup_client {
	struct stream *s;
	enum cleanup_client_phase phase;
	bool have_sender;
	bool broken; /* a write failed: the verdict tells why */
	bool lost; /* no answer: the connection ended or failed */
	bool answered; /* a well-formed verdict came */
	int flags;
	struct buf *chunk;
	struct attr_list *msg;
	char queue_id[QUEUE_ID_MAX]; /* with CLEANUP_FLAG_QUEUE_ID */
};

/* The connection kept after a verdict (CLEANUP_FLAG_QUEUE_ID), or NULL. */
static struct stream *cleanup_kept;

/* Reply limits: a few short attributes. */
static const struct attr_limits cleanup_reply_limits = {8, 32, 1024, 4096};

static int cleanup_send(struct cleanup_client *cc)
{
	if (cc->broken)
		return -1;
	if (attr_write(cc->s, cc->msg) < 0) {
		cc->broken = true;
		return -1;
	}
	attr_list_reset(cc->msg);
	return 0;
}

static void cleanup_client_free(struct cleanup_client **ccp);
static int cleanup_verdict(struct cleanup_client *cc, char *queue_id,
                           size_t idlen, struct buf *reason);

/* A new connection to the cleanup service, or NULL (reason in err). */
static struct stream *cleanup_connect(struct config *c, int timeout_ms,
                                      struct buf *err)
{
	const char *queue = config_str(c, "queue_directory");
	struct buf *path = buf_create(256, 4096);
	int fd;

	/* public/ is where `posthorn init` puts it (master.cf private=n, as
	 * Postfix does), so it is tried first; private/ when master.cf says
	 * private=y. */
	buf_sprintf(path, "%s/public/%s", queue, CLEANUP_SERVICE);
	fd = server_unix_connect(buf_str(path), timeout_ms, err);
	if (fd < 0 && (errno == ENOENT || errno == ECONNREFUSED)) {
		buf_sprintf(path, "%s/private/%s", queue, CLEANUP_SERVICE);
		fd = server_unix_connect(buf_str(path), timeout_ms, err);
	}
	buf_destroy(&path);
	return fd < 0 ? NULL : stream_open(fd);
}

/* The kept connection, unless cleanup closed it while it waited (or
 * said something out of turn): then it is dropped. */
static struct stream *cleanup_take_kept(void)
{
	struct stream *s = cleanup_kept;
	struct pollfd pfd;

	cleanup_kept = NULL;
	if (s == NULL)
		return NULL;
	pfd.fd = stream_fd(s);
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (stream_buffered(s) > 0 || poll(&pfd, 1, 0) != 0) {
		stream_close(&s);
		return NULL;
	}
	return s;
}

struct cleanup_client *cleanup_open(struct config *c, int flags,
                                    struct buf *err)
{
	long long timeout = config_time(c, "ipc_timeout");
	int timeout_ms =
	    timeout > INT_MAX / 1000 ? INT_MAX : (int)timeout * 1000;

	for (;;) {
		struct stream *s = NULL;
		bool reused = false, lost;
		struct cleanup_client *cc;

		if (flags & CLEANUP_FLAG_QUEUE_ID)
			reused = (s = cleanup_take_kept()) != NULL;
		if (s == NULL &&
		    (s = cleanup_connect(c, timeout_ms, err)) == NULL)
			return NULL;
		cc = mem_zalloc(sizeof(*cc));
		cc->s = s;
		cc->flags = flags;
		stream_set_timeouts(cc->s, timeout_ms, timeout_ms);
		cc->chunk = buf_create(QUEUE_BLOCK_MAX, QUEUE_BLOCK_MAX);
		cc->msg = attr_list_create();
		cc->phase = CC_ENVELOPE;
		attr_add_str(cc->msg, "request", "begin");
		attr_add_int(cc->msg, "flags", flags);
		(void)cleanup_send(cc);
		if (!(flags & CLEANUP_FLAG_QUEUE_ID))
			return cc;
		/* The answer has the verdict's form: a lost connection or
		 * a failed flush shows up as its reason. */
		(void)stream_flush(cc->s);
		if (cleanup_verdict(cc, cc->queue_id, sizeof(cc->queue_id),
		                    err) == CLEANUP_OK)
			return cc;
		lost = cc->lost;
		cleanup_client_free(&cc);
		if (!reused || !lost)
			return NULL;
		/* cleanup ended the kept connection as the message began:
		 * nothing was queued; again, on a new connection. */
		buf_reset(err);
	}
}

const char *cleanup_queue_id(const struct cleanup_client *cc)
{
	return cc->queue_id;
}

int cleanup_sender(struct cleanup_client *cc, const char *sender)
{
	if (cc->have_sender || cc->phase != CC_ENVELOPE)
		msg_panic("cleanup_sender: called out of order");
	cc->have_sender = true;
	attr_add_str(cc->msg, "sender", sender);
	return cleanup_send(cc);
}

int cleanup_attr(struct cleanup_client *cc, const char *name, const char *value)
{
	if (!cc->have_sender || cc->phase != CC_ENVELOPE)
		msg_panic("cleanup_attr: %s: called out of order", name);
	attr_add_str(cc->msg, "attr_name", name);
	attr_add_str(cc->msg, "attr_value", value);
	return cleanup_send(cc);
}

int cleanup_rcpt(struct cleanup_client *cc, const char *address,
                 const char *orcpt, int notify)
{
	if (!cc->have_sender || cc->phase == CC_CONTENT)
		msg_panic("cleanup_rcpt: called out of order");
	cc->phase = CC_RCPTS;
	attr_add_str(cc->msg, "rcpt", address);
	attr_add_str(cc->msg, "orcpt", orcpt ? orcpt : "");
	attr_add_int(cc->msg, "notify", notify);
	return cleanup_send(cc);
}

/* Send what the chunk buffer holds as one chunk message. */
static int cleanup_send_chunk(struct cleanup_client *cc)
{
	if (buf_len(cc->chunk) == 0)
		return 0;
	attr_add(cc->msg, "chunk", buf_str(cc->chunk), buf_len(cc->chunk));
	buf_reset(cc->chunk);
	return cleanup_send(cc);
}

int cleanup_write(struct cleanup_client *cc, const void *data, size_t len)
{
	const char *p = data;

	if (!cc->have_sender)
		msg_panic("cleanup_write: called before cleanup_sender");
	cc->phase = CC_CONTENT;
	while (len > 0) {
		size_t room = QUEUE_BLOCK_MAX - buf_len(cc->chunk);
		size_t n = len < room ? len : room;

		if (buf_append(cc->chunk, p, n) < 0)
			msg_panic("cleanup_write: chunk overflow");
		p += n;
		len -= n;
		if (buf_len(cc->chunk) == QUEUE_BLOCK_MAX &&
		    cleanup_send_chunk(cc) < 0)
			return -1;
	}
	return cc->broken ? -1 : 0;
}

static void cleanup_client_free(struct cleanup_client **ccp)
{
	struct cleanup_client *cc = *ccp;

	stream_close(&cc->s);
	buf_destroy(&cc->chunk);
	attr_list_destroy(&cc->msg);
	mem_free(cc);
	*ccp = NULL;
}

/* Read and check the verdict. */
static int cleanup_verdict(struct cleanup_client *cc, char *queue_id,
                           size_t idlen, struct buf *reason)
{
	struct attr_list *reply = attr_list_create();
	struct buf *err = buf_create(256, 1024);
	const char *id, *why;
	long long status;
	int ret = CLEANUP_TEMPFAIL, r;

	r = attr_read(cc->s, reply, &cleanup_reply_limits, err);
	if (r != 0) {
		cc->lost = r != STREAM_TIMEOUT && r != ATTR_MALFORMED;
		buf_sprintf(reason, "4.3.0 cleanup service: %s",
		            r == STREAM_EOF       ? "lost connection"
		            : r == STREAM_TIMEOUT ? "timeout"
		            : r == ATTR_MALFORMED ? buf_str(err)
		                                  : "read error");
		goto out;
	}
	if (attr_get_int(reply, "status", 0, 5, &status) < 0 ||
	    (status != 0 && status != 4 && status != 5)) {
		buf_set_str(reason, "4.3.0 cleanup service: malformed reply");
		goto out;
	}
	if (status == 0) {
		id = attr_get(reply, "queue_id", NULL);
		if (id == NULL || !queue_id_valid(id) ||
		    str_copy(queue_id, idlen, id) < 0) {
			buf_set_str(reason, "4.3.0 cleanup service: bad queue "
			                    "ID in reply");
			goto out;
		}
		buf_reset(reason);
		cc->answered = true;
		ret = CLEANUP_OK;
		goto out;
	}
	why = attr_get(reply, "reason", NULL);
	if (why == NULL || why[0] != (char)('0' + status) || why[1] != '.')
		buf_sprintf(reason, "%d.3.0 %s", (int)status,
		            why && *why ? why : "cleanup service error");
	else
		buf_set_str(reason, why);
	cc->answered = true;
	ret = status == 4 ? CLEANUP_TEMPFAIL : CLEANUP_PERMFAIL;
out:
	attr_list_destroy(&reply);
	buf_destroy(&err);
	return ret;
}

int cleanup_finish(struct cleanup_client **ccp, char *queue_id, size_t idlen,
                   struct buf *reason)
{
	struct cleanup_client *cc = *ccp;
	int ret;

	if (!cc->have_sender)
		msg_panic("cleanup_finish: no sender");
	if (cleanup_send_chunk(cc) == 0) {
		attr_add_str(cc->msg, "request", "end");
		if (cleanup_send(cc) == 0 && stream_flush(cc->s) != 0)
			cc->broken = true;
	}
	/* Even after a failed write cleanup may have answered (it reads on
	 * after a rejection): read what it said. */
	ret = cleanup_verdict(cc, queue_id, idlen, reason);
	/* After a verdict cleanup waits for the next message. */
	if ((cc->flags & CLEANUP_FLAG_QUEUE_ID) && cc->answered &&
	    !cc->broken && stream_unflushed(cc->s) == 0 &&
	    stream_buffered(cc->s) == 0) {
		stream_close(&cleanup_kept);
		cleanup_kept = cc->s;
		cc->s = NULL;
	}
	cleanup_client_free(ccp);
	return ret;
}

void cleanup_abort(struct cleanup_client **ccp)
{
	if (*ccp == NULL)
		return;
	/* Closing without {request=end}: cleanup discards the message. */
	cleanup_client_free(ccp);
}
