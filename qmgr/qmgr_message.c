/*
 * qmgr_message.c: one message in the active queue, from loading its
 * envelope to its end: resolve and schedule its recipients, record each
 * outcome in the queue file (done marks, fsync'ed) and the defer/bounce
 * logs, and when every recipient of this pass is settled ask the bounce
 * service for the notices it needs, then either move the file to
 * deferred/ (mtime = next attempt) or retire it (cleanup's pool of
 * recycled files, queue_pool.h; removed when the pool is full). Owns struct
 * qmgr_message.
 * Durability: a failure goes into bounce/H/ID (fsync'ed) before the
 * recipient is marked done, and a done mark is fsync'ed before the
 * recipient is forgotten (unless every recipient is done and the file
 * leaves the queue at once); the bounce log is removed only after the
 * bounce service said the notice is queued (status 0), and the queue
 * file only after that. A crash anywhere leaves the message to be
 * delivered again (duplicates possible, loss not).
 * SECURITY: queue files were written by cleanup (trusted format, still
 * read with the strict reader: a damaged file goes to corrupt/); agent
 * answers were checked by lib/deliver.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deliver.h"
#include "mem.h"
#include "msg.h"
#include "qmgr.h"
#include "queue_pool.h"
#include "server.h"
#include "str.h"

/* A recipient to report in a success notice (NOTIFY=SUCCESS). */
struct qmgr_success {
	char *address, *orcpt, *dsn, *relay, *reason;
};

enum qmgr_bounce_step {
	QB_NONE,
	QB_SUCCESS, /* a success notice is being requested */
	QB_FAILURE, /* a non-delivery notice is being requested */
	QB_DELAY, /* a delay warning is being requested */
};

struct qmgr_message {
	char id[QUEUE_ID_MAX];
	struct queue_envelope env;
	unsigned char *state; /* enum qmgr_rcpt_state per recipient */
	char **why; /* last deferral text per recipient */
	size_t outstanding; /* recipients not yet settled in this pass */
	int fd; /* active/ID while marking, else -1 */
	int holds; /* deliveries in flight */
	bool need_sync;
	bool finishing;
	bool bounce_failed;
	double entered; /* when it entered the active queue */
	struct qmgr_success *succ;
	size_t nsucc;
	enum qmgr_bounce_step step;
	int bounce_fd;
	long long prev_attempt; /* end of the previous attempt, 0: none */
	bool may_have_logs; /* defer/ID or bounce/ID may exist */
};

static void qmgr_message_finish(struct qmgr_message *m);
static void qmgr_bounce_next(struct qmgr_message *m);

const char *qmgr_message_id(const struct qmgr_message *m)
{
	return m->id;
}

const struct queue_envelope *qmgr_message_env(const struct qmgr_message *m)
{
	return &m->env;
}

double qmgr_message_entered(const struct qmgr_message *m)
{
	return m->entered;
}

void qmgr_message_hold(struct qmgr_message *m)
{
	m->holds++;
}

void qmgr_message_release(struct qmgr_message *m)
{
	if (m->holds <= 0)
		msg_panic("qmgr_message_release: %s: not held", m->id);
	m->holds--;
	if (m->holds == 0 && !m->need_sync && m->fd >= 0) {
		close(m->fd);
		m->fd = -1;
	}
}

static void qmgr_message_free(struct qmgr_message *m)
{
	if (m->fd >= 0)
		close(m->fd);
	qmgr.active_count--;
	qmgr.rcpt_count -= (long long)m->env.nrcpts;
	for (size_t i = 0; i < m->env.nrcpts; i++)
		mem_free(m->why[i]);
	for (size_t i = 0; i < m->nsucc; i++) {
		mem_free(m->succ[i].address);
		mem_free(m->succ[i].orcpt);
		mem_free(m->succ[i].dsn);
		mem_free(m->succ[i].relay);
		mem_free(m->succ[i].reason);
	}
	mem_free(m->succ);
	mem_free(m->why);
	mem_free(m->state);
	queue_envelope_free(&m->env);
	mem_free(m);
	qmgr_room_freed();
}

/* The "orig_to=<...>, " part of a log line, when ORCPT names another
 * address (RFC 3461 4.2: "rfc822;addr"). */
static void qmgr_orig_to(const struct queue_rcpt *r, struct buf *out)
{
	const char *o = r->orcpt;

	if (o == NULL || *o == '\0')
		return;
	if (strncasecmp(o, "rfc822;", 7) == 0)
		o += 7;
	if (strcasecmp(o, r->address) != 0)
		buf_printf(out, "orig_to=<%s>, ", o);
}

/* The agent's log line, for outcomes qmgr decides itself (error: and
 * discard: transports, an agent that crashed or timed out). */
static void qmgr_log_rcpt(struct qmgr_message *m, const struct queue_rcpt *r,
                          const char *relay, const char *dsn,
                          const char *status, const char *reason)
{
	struct deliver_request req;
	struct buf *line = buf_create(256, 0);
	double now = qmgr_now();

	memset(&req, 0, sizeof(req));
	req.arrival_sec = m->env.arrival_sec;
	req.arrival_usec = m->env.arrival_usec;
	buf_printf(line, "%s: to=<%s>, ", m->id, r->address);
	qmgr_orig_to(r, line);
	buf_printf(line, "relay=%s, ", relay && *relay ? relay : "none");
	deliver_format_delays(&req, m->entered, now, now, now, line);
	buf_printf(line, ", dsn=%s, status=%s (%s)", dsn, status, reason);
	msg_info("%s", buf_str(line));
	buf_destroy(&line);
}

static int qmgr_open_fd(struct qmgr_message *m)
{
	struct buf *path;

	if (m->fd >= 0)
		return 0;
	path = buf_create(64, 256);
	queue_path(QUEUE_ACTIVE, m->id, path);
	m->fd = open(buf_str(path), O_RDWR | O_CLOEXEC);
	if (m->fd < 0)
		msg_warn("%s: open %s: %m", m->id, buf_str(path));
	buf_destroy(&path);
	return m->fd < 0 ? -1 : 0;
}

/* Append one line to defer/H/ID or bounce/H/ID (sync: fsync it, and its
 * directory when the file is new). -1 on error (logged). */
static int qmgr_log_append(struct qmgr_message *m, const char *queue,
                           const char *rcpt, const char *dsn, const char *text,
                           bool sync)
{
	struct buf *path = buf_create(64, 256), *line = buf_create(256, 0);
	bool created = false;
	int fd, rc = -1;

	m->may_have_logs = true;
	queue_path(queue, m->id, path);
	bounce_log_format(rcpt, dsn, text, line);
	fd = open(buf_str(path), O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		/* The hash subdirectory may be missing (an old tree). */
		char *slash = strrchr(buf_data(path), '/');

		fd = open(buf_str(path),
		          O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0 && errno == ENOENT && slash != NULL) {
			*slash = '\0';
			(void)mkdir(buf_str(path), 0700);
			*slash = '/';
			fd = open(buf_str(path),
			          O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			          0600);
		}
		created = true;
	}
	if (fd < 0) {
		msg_warn("%s: open %s: %m", m->id, buf_str(path));
		goto out;
	}
	if (write(fd, buf_str(line), buf_len(line)) != (ssize_t)buf_len(line)) {
		msg_warn("%s: write %s: %m", m->id, buf_str(path));
		/* A partial line has no LF: readers ignore it. */
	} else if (sync && fsync(fd) < 0) {
		msg_warn("%s: fsync %s: %m", m->id, buf_str(path));
	} else {
		rc = 0;
	}
	close(fd);
	if (rc == 0 && sync && created) {
		char *slash = strrchr(buf_data(path), '/');
		int dfd;

		*slash = '\0';
		dfd = open(buf_str(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || fsync(dfd) < 0) {
			msg_warn("%s: fsync %s: %m", m->id, buf_str(path));
			rc = -1;
		}
		if (dfd >= 0)
			close(dfd);
	}
out:
	buf_destroy(&path);
	buf_destroy(&line);
	return rc;
}

static bool qmgr_log_exists(const char *queue, const char *id)
{
	struct buf *path = buf_create(64, 256);
	struct stat st;
	bool yes;

	queue_path(queue, id, path);
	yes = stat(buf_str(path), &st) == 0;
	buf_destroy(&path);
	return yes;
}

static void qmgr_log_remove(const char *queue, const char *id)
{
	struct buf *path = buf_create(64, 256);

	queue_path(queue, id, path);
	if (unlink(buf_str(path)) < 0 && errno != ENOENT)
		msg_warn("%s: remove %s: %m", id, buf_str(path));
	buf_destroy(&path);
}

/* Mark recipient i done in the file (fsync'ed by qmgr_message_sync). */
static int qmgr_mark_done(struct qmgr_message *m, size_t i)
{
	if (qmgr_open_fd(m) < 0)
		return -1;
	if (queue_mark_done(m->fd, m->env.rcpts[i].offset) < 0) {
		msg_warn("%s: mark recipient %s done: %m", m->id,
		         m->env.rcpts[i].address);
		return -1;
	}
	m->need_sync = true;
	return 0;
}

/* Has every recipient been delivered, with no notice to ask for? Then
 * the file leaves the queue as soon as this pass ends. */
static bool qmgr_message_delivered(const struct qmgr_message *m)
{
	if (m->nsucc > 0)
		return false;
	for (size_t i = 0; i < m->env.nrcpts; i++)
		if (m->state[i] != QR_DONE)
			return false;
	return true;
}

void qmgr_message_sync(struct qmgr_message *m)
{
	/* The done marks of a file that is about to leave the queue need
	 * not be durable: they survive any process crash in the page
	 * cache, and a system crash before the file is gone only delivers
	 * again, in the window DESIGN.md allows duplicates in. */
	if (m->need_sync && m->fd >= 0 && !qmgr_message_delivered(m) &&
	    fdatasync(m->fd) < 0)
		msg_warn("%s: fsync: %m", m->id);
	m->need_sync = false;
	if (m->holds == 0 && m->fd >= 0) {
		close(m->fd);
		m->fd = -1;
	}
}

static void qmgr_success_add(struct qmgr_message *m, size_t i, const char *dsn,
                             const char *relay, const char *reason)
{
	const struct queue_rcpt *r = &m->env.rcpts[i];
	struct qmgr_success *s;

	m->succ = mem_realloc(m->succ, (m->nsucc + 1) * sizeof(*m->succ));
	s = &m->succ[m->nsucc++];
	s->address = mem_strdup(r->address);
	s->orcpt = r->orcpt && *r->orcpt ? mem_strdup(r->orcpt) : NULL;
	s->dsn = mem_strdup(dsn);
	s->relay = mem_strdup(relay ? relay : "");
	s->reason = mem_strdup(reason ? reason : "");
}

/* A temporary failure: remember why and log it for mailq. */
static void qmgr_defer(struct qmgr_message *m, size_t i, const char *dsn,
                       const char *reason)
{
	m->state[i] = QR_DEFERRED;
	mem_free(m->why[i]);
	m->why[i] = mem_strdup(reason ? reason : "");
	(void)qmgr_log_append(m, QUEUE_DEFER, m->env.rcpts[i].address, dsn,
	                      reason, false);
}

void qmgr_message_outcome(struct qmgr_message *m, size_t i, int status,
                          const char *dsn, const char *relay,
                          const char *reason, const char *transport, bool log)
{
	const struct queue_rcpt *r = &m->env.rcpts[i];

	if (m->state[i] != QR_PENDING)
		msg_panic("qmgr_message_outcome: %s: recipient %zu settled "
		          "twice",
		          m->id, i);
	if (log)
		qmgr_log_rcpt(m, r, relay, dsn,
		              status == 2
		                  ? (strcmp(transport, TRANSPORT_DISCARD) == 0
		                         ? "discarded"
		                         : "sent")
		              : status == 5 ? "bounced"
		                            : "deferred",
		              reason);
	switch (status) {
	case 2:
		m->state[i] = QR_DONE;
		(void)qmgr_mark_done(m, i);
		if (r->notify & QUEUE_NOTIFY_SUCCESS)
			qmgr_success_add(m, i, dsn, relay, reason);
		break;
	case 5:
		/* The failure notice must survive the done mark. */
		if (qmgr_log_append(m, QUEUE_BOUNCE, r->address, dsn, reason,
		                    true) < 0) {
			qmgr_defer(m, i, "4.3.0",
			           "cannot write the bounce log");
			break;
		}
		m->state[i] = QR_BOUNCED;
		(void)qmgr_mark_done(m, i);
		break;
	default:
		qmgr_defer(m, i, dsn, reason);
		break;
	}
}

/* ---- loading and scheduling ---- */

struct qmgr_route {
	char *transport;
	char *nexthop;
	size_t rcpt;
};

static int qmgr_route_cmp(const void *a, const void *b)
{
	const struct qmgr_route *x = a, *y = b;
	int c = strcmp(x->transport, y->transport);

	if (c == 0)
		c = strcasecmp(x->nexthop, y->nexthop);
	if (c == 0)
		c = x->rcpt < y->rcpt ? -1 : x->rcpt > y->rcpt;
	return c;
}

/* Move a damaged file out of the way (STYLE.md: never half-trusted). */
static void qmgr_corrupt(const char *id, const char *why)
{
	struct buf *from = buf_create(64, 256), *to = buf_create(64, 256);

	queue_path(QUEUE_ACTIVE, id, from);
	queue_path(QUEUE_CORRUPT, id, to);
	if (rename(buf_str(from), buf_str(to)) < 0)
		msg_warn("%s: corrupt queue file (%s); cannot move it to "
		         "%s: %m",
		         id, why, QUEUE_CORRUPT);
	else
		msg_warn("%s: corrupt queue file (%s): moved to %s", id, why,
		         QUEUE_CORRUPT);
	buf_destroy(&from);
	buf_destroy(&to);
}

/* Settle the recipients qmgr decides itself; the rest go to routes. */
static size_t qmgr_message_resolve(struct qmgr_message *m,
                                   struct qmgr_route *routes, size_t *nroutes)
{
	struct buf *t = buf_create(32, 1024), *n = buf_create(64, 4096);
	struct buf *err = buf_create(64, 4096);
	size_t settled = 0;
	char dsn[16];

	*nroutes = 0;
	for (size_t i = 0; i < m->env.nrcpts; i++) {
		const struct queue_rcpt *r = &m->env.rcpts[i];

		if (m->state[i] != QR_PENDING)
			continue;
		buf_reset(err);
		if (transport_resolve(qmgr.resolver, r->address, t, n, err) <
		    0) {
			struct buf *why = buf_create(64, 0);

			buf_printf(why, "address resolver failure: %s",
			           buf_str(err));
			qmgr_message_outcome(m, i, 4, "4.3.0", "none",
			                     buf_str(why), "", true);
			buf_destroy(&why);
			settled++;
		} else if (strcmp(buf_str(t), TRANSPORT_ERROR) == 0) {
			const char *text =
			    qmgr_error_text(buf_str(n), dsn, sizeof(dsn));

			qmgr_message_outcome(m, i, 5, dsn, "none",
			                     *text ? text : "mail is rejected",
			                     TRANSPORT_ERROR, true);
			settled++;
		} else if (strcmp(buf_str(t), TRANSPORT_DISCARD) == 0) {
			qmgr_message_outcome(m, i, 2, "2.0.0", "none",
			                     buf_len(n) ? buf_str(n)
			                                : "discarded",
			                     TRANSPORT_DISCARD, true);
			settled++;
		} else {
			routes[*nroutes].transport = mem_strdup(buf_str(t));
			routes[*nroutes].nexthop = mem_strdup(buf_str(n));
			routes[*nroutes].rcpt = i;
			(*nroutes)++;
		}
	}
	buf_destroy(&t);
	buf_destroy(&n);
	buf_destroy(&err);
	return settled;
}

void qmgr_message_load(const char *id, long long prev_attempt, bool old_logs)
{
	struct buf *path = buf_create(64, 256), *err = buf_create(64, 4096);
	struct queue_reader *rd;
	struct qmgr_message *m;
	struct qmgr_route *routes;
	size_t nroutes, pending = 0, settled, *idx;
	int fd;

	queue_path(QUEUE_ACTIVE, id, path);
	fd = open(buf_str(path), O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT) /* gone meanwhile (queue delete/hold) */
			msg_warn("%s: open %s: %m", id, buf_str(path));
		goto out;
	}
	m = mem_zalloc(sizeof(*m));
	(void)str_copy(m->id, sizeof(m->id), id);
	m->fd = -1;
	m->bounce_fd = -1;
	m->prev_attempt = prev_attempt;
	m->may_have_logs = old_logs;
	rd = queue_reader_create(fd);
	if (queue_envelope_read(rd, &m->env, err) < 0) {
		queue_reader_destroy(&rd);
		close(fd);
		qmgr_corrupt(id, buf_str(err));
		mem_free(m);
		goto out;
	}
	queue_reader_destroy(&rd);
	close(fd);
	qmgr.active_count++;
	qmgr.rcpt_count += (long long)m->env.nrcpts;
	m->entered = qmgr_now();
	m->state = mem_zalloc(m->env.nrcpts ? m->env.nrcpts : 1);
	m->why =
	    mem_zalloc((m->env.nrcpts ? m->env.nrcpts : 1) * sizeof(*m->why));
	for (size_t i = 0; i < m->env.nrcpts; i++) {
		m->state[i] = m->env.rcpts[i].done ? QR_DONE : QR_PENDING;
		if (!m->env.rcpts[i].done)
			pending++;
	}
	msg_info("%s: from=<%s>, size=%lld, nrcpt=%zu (queue active)", m->id,
	         m->env.sender, m->env.content_size, m->env.nrcpts);
	m->outstanding = pending;
	routes = mem_array(pending ? pending : 1, sizeof(*routes));
	idx = mem_array(pending ? pending : 1, sizeof(*idx));
	/* Hold the message while its recipients are settled inline, so
	 * it cannot finish before every route is queued. */
	m->holds++;
	settled = qmgr_message_resolve(m, routes, &nroutes);
	/* One group per (transport, nexthop), recipients in file order. */
	qsort(routes, nroutes, sizeof(*routes), qmgr_route_cmp);
	for (size_t i = 0; i < nroutes;) {
		size_t j = i, n = 0;

		while (j < nroutes &&
		       strcmp(routes[j].transport, routes[i].transport) == 0 &&
		       strcasecmp(routes[j].nexthop, routes[i].nexthop) == 0)
			idx[n++] = routes[j++].rcpt;
		qmgr_deliver_queue(m, routes[i].transport, routes[i].nexthop,
		                   idx, n);
		i = j;
	}
	for (size_t i = 0; i < nroutes; i++) {
		mem_free(routes[i].transport);
		mem_free(routes[i].nexthop);
	}
	mem_free(routes);
	mem_free(idx);
	m->holds--;
	qmgr_message_sync(m);
	qmgr_message_settled(m, settled);
out:
	buf_destroy(&path);
	buf_destroy(&err);
}

void qmgr_message_settled(struct qmgr_message *m, size_t n)
{
	if (n > m->outstanding)
		msg_panic("qmgr_message_settled: %s: %zu settled, %zu "
		          "outstanding",
		          m->id, n, m->outstanding);
	m->outstanding -= n;
	if (m->outstanding == 0 && m->holds == 0 && !m->finishing)
		qmgr_message_finish(m);
}

/* ---- the end of a pass ---- */

static size_t qmgr_count(const struct qmgr_message *m, enum qmgr_rcpt_state s)
{
	size_t n = 0;

	for (size_t i = 0; i < m->env.nrcpts; i++)
		if (m->state[i] == s)
			n++;
	return n;
}

static void qmgr_message_finish(struct qmgr_message *m)
{
	long long now = (long long)qmgr_now();
	long long lifetime =
	    *m->env.sender ? qmgr.max_lifetime : qmgr.bounce_lifetime;

	m->finishing = true;
	if (qmgr_count(m, QR_DEFERRED) > 0 &&
	    qmgr_expired(m->env.arrival_sec, now, lifetime)) {
		msg_info("%s: from=<%s>, status=expired, returned to sender",
		         m->id, m->env.sender);
		for (size_t i = 0; i < m->env.nrcpts; i++) {
			struct buf *text;

			if (m->state[i] != QR_DEFERRED)
				continue;
			text = buf_create(64, 0);
			buf_printf(text, "message expired (last error: %s)",
			           m->why[i] ? m->why[i] : "none");
			if (qmgr_log_append(m, QUEUE_BOUNCE,
			                    m->env.rcpts[i].address, "5.4.7",
			                    buf_str(text), true) == 0)
				m->state[i] = QR_EXPIRED;
			buf_destroy(&text);
		}
	}
	qmgr_bounce_next(m);
}

/* The message's file is gone from the queue: its logs go too (new mail
 * that wrote none has none: no probe per message). */
static void qmgr_message_removed(struct qmgr_message *m)
{
	if (m->may_have_logs) {
		qmgr_log_remove(QUEUE_DEFER, m->id);
		qmgr_log_remove(QUEUE_BOUNCE, m->id);
	}
	msg_info("%s: removed", m->id);
}

/* Remove the file and its logs, or move it to deferred/ with its next
 * attempt as mtime; then forget it. */
static void qmgr_message_final(struct qmgr_message *m)
{
	struct buf *from = buf_create(64, 256), *to = buf_create(64, 256);
	size_t remaining = qmgr_count(m, QR_DEFERRED) +
	                   (m->bounce_failed ? qmgr_count(m, QR_EXPIRED) : 0);

	queue_path(QUEUE_ACTIVE, m->id, from);
	if (remaining == 0 && !m->bounce_failed) {
		/* Done: the file goes to cleanup's pool (queue_pool.h), or is
		 * removed when the pool is full. */
		if (queue_pool_put(buf_str(from)) == 0)
			qmgr_message_removed(m);
		else if (unlink(buf_str(from)) == 0)
			qmgr_message_removed(m);
		else if (errno != ENOENT)
			msg_warn("%s: remove %s: %m", m->id, buf_str(from));
	}
	if (m->fd >= 0) {
		close(m->fd);
		m->fd = -1;
	}
	if (remaining > 0 || m->bounce_failed) {
		long long now = (long long)qmgr_now();
		long long delay =
		    qmgr_backoff(m->env.arrival_sec, now, qmgr.min_backoff,
		                 qmgr.max_backoff);
		struct timespec ts[2];

		/* docs/queue-admin.md: the mtime is the next attempt. */
		ts[0].tv_sec = now;
		ts[0].tv_nsec = 0;
		ts[1].tv_sec = now + delay;
		ts[1].tv_nsec = 0;
		queue_path(QUEUE_DEFERRED, m->id, to);
		if (utimensat(AT_FDCWD, buf_str(from), ts, 0) < 0) {
			if (errno != ENOENT)
				msg_warn("%s: set time of %s: %m", m->id,
				         buf_str(from));
		} else if (renameat2(AT_FDCWD, buf_str(from), AT_FDCWD,
		                     buf_str(to), RENAME_NOREPLACE) < 0) {
			if (errno == ENOENT) {
				char *slash = strrchr(buf_data(to), '/');

				*slash = '\0';
				(void)mkdir(buf_str(to), 0700);
				*slash = '/';
			}
			if (renameat2(AT_FDCWD, buf_str(from), AT_FDCWD,
			              buf_str(to), RENAME_NOREPLACE) < 0 &&
			    errno != ENOENT)
				msg_warn("%s: move to %s: %m", m->id,
				         buf_str(to));
		}
	}
	buf_destroy(&from);
	buf_destroy(&to);
	qmgr_message_free(m);
}

static void qmgr_bounce_result(struct qmgr_message *m, int rc,
                               const char *reason)
{
	enum qmgr_bounce_step step = m->step;

	m->bounce_fd = -1;
	if (step == QB_SUCCESS || step == QB_DELAY) {
		/* Best effort (a lost notice is not a lost message). */
		if (rc < 0)
			msg_warn("%s: cannot send the %s notification: %s",
			         m->id,
			         step == QB_DELAY ? "delay" : "delivery status",
			         reason);
	} else if (rc == 0) {
		/* The notice is queued: report those recipients no more,
		 * and expired ones are done. */
		qmgr_log_remove(QUEUE_BOUNCE, m->id);
		for (size_t i = 0; i < m->env.nrcpts; i++)
			if (m->state[i] == QR_EXPIRED)
				(void)qmgr_mark_done(m, i);
		qmgr_message_sync(m);
	} else {
		msg_warn("%s: cannot send the non-delivery notification: %s; "
		         "will try again later",
		         m->id, reason);
		m->bounce_failed = true;
	}
	qmgr_bounce_next(m);
}

static void qmgr_bounce_timeout(void *ctx)
{
	struct qmgr_message *m = ctx;

	multi_server_unwatch(m->bounce_fd);
	close(m->bounce_fd);
	qmgr_bounce_result(m, -1, "4.3.0 bounce service: timeout");
}

static void qmgr_bounce_event(int fd, int revents, void *ctx)
{
	struct qmgr_message *m = ctx;
	struct buf *reason = buf_create(64, 4096);
	int rc;

	multi_server_unwatch(fd);
	multi_server_timer_cancel(qmgr_bounce_timeout, m);
	/* Readable: the answer (or end of file) is there. */
	rc = bounce_request_wait(fd, 1000, reason);
	qmgr_bounce_result(m, rc, buf_str(reason));
	buf_destroy(&reason);
}

static void qmgr_bounce_send(struct qmgr_message *m, enum bounce_kind kind)
{
	struct buf *reason = buf_create(64, 4096);
	struct bounce_rcpt *rcpts = NULL;
	size_t n = 0;
	int fd;

	if (kind == BOUNCE_SUCCESS) {
		rcpts = mem_zalloc(m->nsucc * sizeof(*rcpts));
		for (n = 0; n < m->nsucc; n++) {
			rcpts[n].address = m->succ[n].address;
			rcpts[n].orcpt = m->succ[n].orcpt;
			rcpts[n].dsn = m->succ[n].dsn;
			rcpts[n].relay = m->succ[n].relay;
			rcpts[n].reason = m->succ[n].reason;
		}
	}
	fd = bounce_request_send(qmgr.c, kind, m->id, QUEUE_ACTIVE, rcpts, n,
	                         reason);
	mem_free(rcpts);
	if (fd < 0) {
		qmgr_bounce_result(m, -1, buf_str(reason));
	} else {
		m->bounce_fd = fd;
		multi_server_watch(fd, POLLIN, qmgr_bounce_event, m);
		multi_server_timer(qmgr_bounce_timeout, m, qmgr.ipc_timeout_ms);
	}
	buf_destroy(&reason);
}

/* Is a delay warning due? Once, at the first attempt that ends after
 * delay_warning_time in the queue: the previous attempt (the deferred
 * file's ctime) was before that point. */
static bool qmgr_delay_due(const struct qmgr_message *m)
{
	long long when = m->env.arrival_sec + qmgr.delay_warning;
	long long now = (long long)qmgr_now();

	return qmgr.delay_warning > 0 && qmgr_count(m, QR_DEFERRED) > 0 &&
	       now >= when && m->prev_attempt < when;
}

/* The next notice to ask for, or the end. Steps go in this order:
 * success, failure, delay. */
static void qmgr_bounce_next(struct qmgr_message *m)
{
	if (m->step < QB_SUCCESS && m->nsucc > 0) {
		m->step = QB_SUCCESS;
		qmgr_bounce_send(m, BOUNCE_SUCCESS);
		return;
	}
	if (m->step < QB_FAILURE && m->may_have_logs &&
	    qmgr_log_exists(QUEUE_BOUNCE, m->id)) {
		m->step = QB_FAILURE;
		qmgr_bounce_send(m, BOUNCE_FAILURE);
		return;
	}
	if (m->step < QB_DELAY && qmgr_delay_due(m)) {
		m->step = QB_DELAY;
		qmgr_bounce_send(m, BOUNCE_DELAY);
		return;
	}
	qmgr_message_final(m);
}
