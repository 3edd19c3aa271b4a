/*
 * cleanup_session.c: one client connection (smtpd, pickup), as a state
 * machine fed by the multi_server event loop: the socket is non-blocking,
 * each readable event reads what is there, decodes every whole attribute
 * message in it (docs/ipc.md, "cleanup") and advances the session:
 *
 *   BEGIN --{request=begin}--> SENDER --{sender}--> ENVELOPE
 *   ENVELOPE --{attr_name, attr_value}--> ENVELOPE
 *   ENVELOPE/RCPTS --{rcpt, orcpt, notify}--> RCPTS
 *   ENVELOPE/RCPTS --{chunk}--> CONTENT (the envelope is complete)
 *   CONTENT --{chunk}--> CONTENT
 *   ENVELOPE/RCPTS/CONTENT --{request=end}--> REPLY --written--> BEGIN
 *
 * After the final reply the connection waits for the client's next
 * message (smtpd keeps its connection, lib/cleanup_client.c); an idle
 * kept connection is closed after CLEANUP_KEEP_MS, so that the process
 * goes back to master's pool and, idle, exits after max_idle.
 * The queue file is created when the envelope is complete, or at
 * {request=begin} when the client asks for the queue ID up front
 * (CLEANUP_FLAG_QUEUE_ID: smtpd puts it in its Received: header); then
 * an early {status=0, queue_id} (or {status=4, reason}, which ends the
 * session) goes out before the envelope is read. The final reply
 * ({status=0, queue_id} or {status=4|5, reason}) is sent exactly once,
 * after {request=end} and, for status 0, after the file is durable. A
 * rejected message is still read to its end (the client streams without
 * waiting); only then does it hear the reason.
 * SECURITY: the peer is a local daemon, still untrusted: each message is
 * bounded (one chunk of QUEUE_BLOCK_MAX plus a little), the input buffer
 * never holds more than one message plus one read, a message out of
 * order or malformed is logged and the connection dropped (the message
 * is discarded), and ipc_timeout bounds the time between reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "attr.h"
#include "cleanup.h"
#include "cleanup_client.h"
#include "mem.h"
#include "msg.h"
#include "server.h"

enum cleanup_phase {
	CS_BEGIN,
	CS_SENDER,
	CS_ENVELOPE,
	CS_RCPTS,
	CS_CONTENT,
	CS_REPLY,
};

struct cleanup_session {
	int fd;
	enum cleanup_phase phase;
	struct buf *in; /* bytes read; the first `decoded` are handled */
	size_t decoded;
	struct buf *out; /* the reply, not yet written */
	struct attr_list *msg;
	struct cleanup_state *st;
	bool kept; /* waiting for a next message after a reply */
};

/* What one message may hold: a chunk of content is the largest. */
static const struct attr_limits cleanup_limits = {8, 32, QUEUE_BLOCK_MAX,
                                                  QUEUE_BLOCK_MAX + 4096};
/* How much one read takes at most. */
#define CLEANUP_READ_SIZE (64 * 1024)
/* How long a connection waits for its next message after a reply. */
#define CLEANUP_KEEP_MS 2000

static void cleanup_session_event(int fd, int revents, void *ctx);
static void cleanup_session_timeout(void *ctx);
static void cleanup_session_flush(struct cleanup_session *cs);

static void cleanup_session_end(struct cleanup_session *cs)
{
	multi_server_timer_cancel(cleanup_session_timeout, cs);
	multi_server_disconnect(cs->fd);
	/* A message that did not reach a successful commit is thrown away
	 * (cleanup_state_destroy removes the temporary file). */
	cleanup_state_destroy(&cs->st);
	attr_list_destroy(&cs->msg);
	buf_destroy(&cs->in);
	buf_destroy(&cs->out);
	mem_free(cs);
}

static void cleanup_session_timeout(void *ctx)
{
	struct cleanup_session *cs = ctx;

	if (cs->kept) {
		/* No next message came: the client keeps nothing open. */
		cleanup_session_end(cs);
		return;
	}
	msg_warn("%s: timeout after %d ms waiting for the client",
	         cs->st ? cleanup_log_id(cs->st) : "NOQUEUE",
	         cleanup_params.ipc_timeout_ms);
	cleanup_session_end(cs);
}

static void cleanup_session_arm(struct cleanup_session *cs)
{
	multi_server_timer(cleanup_session_timeout, cs,
	                   cleanup_params.ipc_timeout_ms);
}

/* A peer that breaks the protocol: log and drop. */
static void cleanup_session_bad(struct cleanup_session *cs, const char *why)
{
	msg_warn("%s: cleanup protocol error: %s: connection dropped",
	         cs->st ? cleanup_log_id(cs->st) : "NOQUEUE", why);
	cleanup_session_end(cs);
}

/* Write what the socket takes of cs->out: 1 all of it, 0 the socket is
 * full (the rest when it is writable), -1 the client left. */
static int cleanup_session_write(struct cleanup_session *cs)
{
	while (buf_len(cs->out) > 0) {
		ssize_t n = send(cs->fd, buf_str(cs->out), buf_len(cs->out),
		                 MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return -1;
		buf_consume(cs->out, (size_t)n);
	}
	return 1;
}

/* Write what is left of the reply; once it is out, wait for the
 * client's next message (or end the session when the client left or
 * sent more than it should have before the reply). */
static void cleanup_session_flush(struct cleanup_session *cs)
{
	/* A client that left changes nothing: the verdict stands (a queued
	 * message stays queued). */
	int r = cleanup_session_write(cs);

	if (r == 0) {
		multi_server_watch(cs->fd, POLLOUT, cleanup_session_event, cs);
		cleanup_session_arm(cs);
		return;
	}
	/* Each further message counts against max_use. */
	if (r < 0 || buf_len(cs->in) > cs->decoded ||
	    !multi_server_next_request()) {
		cleanup_session_end(cs);
		return;
	}
	buf_reset(cs->in);
	cs->decoded = 0;
	cleanup_state_destroy(&cs->st);
	cs->phase = CS_BEGIN;
	cs->kept = true;
	multi_server_watch(cs->fd, POLLIN, cleanup_session_event, cs);
	multi_server_timer(cleanup_session_timeout, cs, CLEANUP_KEEP_MS);
}

/* Write the early {status=0, queue_id} reply, the rest when the socket
 * is writable. false when the session has ended (the client left). */
static bool cleanup_session_send_early(struct cleanup_session *cs)
{
	int r = cleanup_session_write(cs);

	if (r < 0) {
		cleanup_session_end(cs);
		return false;
	}
	multi_server_watch(cs->fd, r == 0 ? POLLIN | POLLOUT : POLLIN,
	                   cleanup_session_event, cs);
	return true;
}

/* The one final reply, st's verdict; the session ends once it is out. */
static void cleanup_session_reply(struct cleanup_session *cs)
{
	struct cleanup_state *st = cs->st;
	struct attr_list *reply = attr_list_create();

	if (st->status == 0) {
		attr_add_int(reply, "status", 0);
		attr_add_str(reply, "queue_id", st->queue_id);
	} else {
		cleanup_log_verdict(st);
		cleanup_queue_abort(st);
		attr_add_int(reply, "status", st->status);
		attr_add_str(reply, "reason", buf_str(st->reason));
	}
	attr_encode(reply, cs->out);
	attr_list_destroy(&reply);
	cs->phase = CS_REPLY;
	multi_server_unwatch(cs->fd);
	multi_server_timer_cancel(cleanup_session_timeout, cs);
	if (st->status == 0)
		cleanup_queue_trigger(st->queue_id);
	cleanup_session_flush(cs);
}

/* {request=begin} with CLEANUP_FLAG_QUEUE_ID: create the file now and
 * tell the client its ID (or why not, which ends the session). false
 * when the session has ended. */
static bool cleanup_session_early_id(struct cleanup_session *cs)
{
	struct attr_list *reply;

	if (cleanup_queue_create(cs->st) < 0) {
		cleanup_session_reply(cs);
		return false;
	}
	reply = attr_list_create();
	attr_add_int(reply, "status", 0);
	attr_add_str(reply, "queue_id", cs->st->queue_id);
	attr_encode(reply, cs->out);
	attr_list_destroy(&reply);
	return cleanup_session_send_early(cs);
}

/* The envelope is complete: queue file, rewriting, envelope records. */
static void cleanup_session_envelope_done(struct cleanup_session *cs)
{
	struct cleanup_state *st = cs->st;

	if (st->status != 0)
		return;
	/* With CLEANUP_FLAG_QUEUE_ID the file exists already. */
	if (st->fd < 0 && cleanup_queue_create(st) < 0)
		return;
	cleanup_rewrite_envelope(st);
	if (cleanup_queue_envelope(st) < 0)
		return;
	cleanup_content_start(st);
}

/* {request=end}: finish, commit, reply. */
static void cleanup_session_finish(struct cleanup_session *cs)
{
	cleanup_content_end(cs->st);
	if (cs->st->status == 0)
		(void)cleanup_queue_commit(cs->st);
	cleanup_session_reply(cs);
}

/* The value of the single attribute a message must consist of. */
static const char *cleanup_only(const struct attr_list *m, const char *name,
                                size_t *len)
{
	if (attr_list_count(m) != 1 || strcmp(attr_name_at(m, 0), name) != 0)
		return NULL;
	return attr_value_at(m, 0, len);
}

/* Handle one message; false when the session has ended. The phase
 * changes here only. */
static bool cleanup_session_message(struct cleanup_session *cs)
{
	const struct attr_list *m = cs->msg;
	const char *first, *v, *req;
	size_t len, olen;
	long long n;

	if (attr_list_count(m) == 0) {
		cleanup_session_bad(cs, "empty message");
		return false;
	}
	first = attr_name_at(m, 0);
	req =
	    strcmp(first, "request") == 0 ? attr_get(m, "request", NULL) : NULL;
	switch (cs->phase) {
	case CS_BEGIN:
		if (req == NULL || strcmp(req, "begin") != 0 ||
		    attr_list_count(m) != 2 ||
		    attr_get_int(m, "flags", 0,
		                 CLEANUP_FLAG_LOCAL | CLEANUP_FLAG_QUEUE_ID,
		                 &n) < 0) {
			cleanup_session_bad(cs, "expected {request=begin, "
			                        "flags}");
			return false;
		}
		cs->st = cleanup_state_create((int)n);
		cs->phase = CS_SENDER;
		if (n & CLEANUP_FLAG_QUEUE_ID)
			return cleanup_session_early_id(cs);
		return true;
	case CS_SENDER:
		if ((v = cleanup_only(m, "sender", &len)) == NULL) {
			cleanup_session_bad(cs, "expected {sender}");
			return false;
		}
		cleanup_set_sender(cs->st, v, len);
		cs->phase = CS_ENVELOPE;
		return true;
	case CS_ENVELOPE:
		if (strcmp(first, "attr_name") == 0) {
			const char *name = attr_value_at(m, 0, &len);

			if (attr_list_count(m) != 2 ||
			    strcmp(attr_name_at(m, 1), "attr_value") != 0) {
				cleanup_session_bad(cs, "expected {attr_name, "
				                        "attr_value}");
				return false;
			}
			v = attr_value_at(m, 1, &olen);
			cleanup_add_attr(cs->st, name, len, v, olen);
			return true;
		}
		/* FALLTHROUGH */
	case CS_RCPTS:
		if (strcmp(first, "rcpt") == 0) {
			const char *orcpt;

			if (attr_list_count(m) != 3 ||
			    (orcpt = attr_get(m, "orcpt", &olen)) == NULL ||
			    attr_get_int(m, "notify", 0, 15, &n) < 0) {
				cleanup_session_bad(cs, "expected {rcpt, "
				                        "orcpt, notify}");
				return false;
			}
			v = attr_value_at(m, 0, &len);
			cleanup_add_rcpt(cs->st, v, len, orcpt, olen, (int)n);
			cs->phase = CS_RCPTS;
			return true;
		}
		if (strcmp(first, "chunk") != 0 &&
		    !(req && strcmp(req, "end") == 0)) {
			cleanup_session_bad(cs, "unexpected message in the "
			                        "envelope");
			return false;
		}
		cs->phase = CS_CONTENT;
		cleanup_session_envelope_done(cs);
		/* FALLTHROUGH */
	case CS_CONTENT:
		if ((v = cleanup_only(m, "chunk", &len)) != NULL) {
			cleanup_content(cs->st, v, len);
			return true;
		}
		if (req && strcmp(req, "end") == 0 && attr_list_count(m) == 1) {
			cs->phase = CS_REPLY;
			cleanup_session_finish(cs);
			return false;
		}
		cleanup_session_bad(cs, "expected {chunk} or {request=end}");
		return false;
	case CS_REPLY:
		break;
	}
	cleanup_session_bad(cs, "data after {request=end}");
	return false;
}

/* Read what is there and handle every whole message. */
static void cleanup_session_read(struct cleanup_session *cs)
{
	struct buf *err = buf_create(128, 512);
	size_t room = buf_limit(cs->in) - buf_len(cs->in);
	char *dst = NULL;
	ssize_t n;

	if (room > CLEANUP_READ_SIZE)
		room = CLEANUP_READ_SIZE;
	if (room == 0 || (dst = buf_reserve(cs->in, room)) == NULL)
		msg_panic("cleanup_session_read: no room for input");
	do {
		n = read(cs->fd, dst, room);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		buf_destroy(&err);
		return;
	}
	if (n <= 0) {
		/* The client gave up (cleanup_abort) or went away: nothing
		 * is queued, nothing to say. */
		if (n < 0 || buf_len(cs->in) > 0 || cs->phase != CS_BEGIN)
			if (msg_verbose || n < 0)
				msg_info("%s: client disconnected before "
				         "the end of the message%s%s",
				         cs->st ? cleanup_log_id(cs->st)
				                : "NOQUEUE",
				         n < 0 ? ": " : "",
				         n < 0 ? strerror(errno) : "");
		buf_destroy(&err);
		cleanup_session_end(cs);
		return;
	}
	buf_commit(cs->in, (size_t)n);
	cs->kept = false;
	cleanup_session_arm(cs);
	for (;;) {
		size_t used = 0;
		int r = attr_decode(cs->msg, buf_str(cs->in) + cs->decoded,
		                    buf_len(cs->in) - cs->decoded, &used,
		                    &cleanup_limits, err);

		if (r == 1)
			break;
		if (r < 0) {
			cleanup_session_bad(cs, buf_str(err));
			buf_destroy(&err);
			return;
		}
		/* Counted before it is handled: after the final reply,
		 * what lies beyond came before the client heard it. */
		cs->decoded += used;
		if (!cleanup_session_message(cs)) {
			buf_destroy(&err);
			return; /* ended (or replying) */
		}
	}
	buf_consume(cs->in, cs->decoded);
	cs->decoded = 0;
	buf_destroy(&err);
}

static void cleanup_session_event(int fd, int revents, void *ctx)
{
	struct cleanup_session *cs = ctx;

	if (cs->phase == CS_REPLY) {
		cleanup_session_flush(cs);
		return;
	}
	/* The rest of an early reply first; the client waits for it. */
	if ((revents & POLLOUT) && buf_len(cs->out) > 0 &&
	    !cleanup_session_send_early(cs))
		return;
	if (revents & ~POLLOUT)
		cleanup_session_read(cs);
}

void cleanup_session_start(int fd)
{
	struct cleanup_session *cs = mem_zalloc(sizeof(*cs));
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		msg_warn("fcntl O_NONBLOCK on a client: %m");
	cs->fd = fd;
	cs->phase = CS_BEGIN;
	/* One whole message plus one read always fits. */
	cs->in = buf_create(4096, cleanup_limits.max_total + CLEANUP_READ_SIZE);
	cs->out = buf_create(256, 4096);
	cs->msg = attr_list_create();
	multi_server_watch(fd, POLLIN, cleanup_session_event, cs);
	cleanup_session_arm(cs);
}
