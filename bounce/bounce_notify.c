/*
 * bounce_notify.c: the bounce daemon's work on one request: read the
 * original's envelope (queue_directory/QUEUE/ID, read-only), the
 * recipients to report (bounce/H/ID or defer/H/ID, or the request
 * itself for success notices), compose the DSN (lib/dsn.h) and hand it
 * to cleanup with the null sender. Never a bounce of a bounce: a failed
 * null-sender message goes to 2bounce_notice_recipient (notify_classes
 * 2bounce) or nowhere. RFC 3461 (NOTIFY, ORCPT, ENVID, RET), RFC 3464.
 * SECURITY: runs as mail_owner in queue_directory; the queue file and
 * the logs are read through the strict queue reader and the bounded log
 * line parser (lines over 8192 bytes and malformed ones are skipped);
 * the original is attached only up to bounce_size_limit bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bounce.h"
#include "cleanup_client.h"
#include "mem.h"
#include "msg.h"
#include "queue_file.h"
#include "queue_list.h"
#include "stream.h"
#include "str.h"

/* Longest log line considered (as the mailq listing). */
#define BOUNCE_LOG_LINE_MAX 8192

/* One log entry: the last line for a recipient wins, in the order of
 * first appearance. */
struct bounce_log_entry {
	char *rcpt;
	char *reason;
};

struct bounce_log {
	struct bounce_log_entry *v;
	size_t n, cap;
};

static void bounce_log_free(struct bounce_log *log)
{
	for (size_t i = 0; i < log->n; i++) {
		mem_free(log->v[i].rcpt);
		mem_free(log->v[i].reason);
	}
	mem_free(log->v);
	memset(log, 0, sizeof(*log));
}

static void bounce_log_add(struct bounce_log *log, const char *rcpt,
                           const char *reason)
{
	/* A later line for the same recipient replaces the reason (the
	 * newest entries are the likeliest match: scan from the end). */
	for (size_t i = log->n; i-- > 0;) {
		if (strcmp(log->v[i].rcpt, rcpt) == 0) {
			mem_free(log->v[i].reason);
			log->v[i].reason = mem_strdup(reason);
			return;
		}
	}
	if (log->n == log->cap) {
		log->cap = log->cap ? log->cap * 2 : 16;
		log->v = mem_realloc(log->v, log->cap * sizeof(*log->v));
	}
	log->v[log->n].rcpt = mem_strdup(rcpt);
	log->v[log->n].reason = mem_strdup(reason);
	log->n++;
}

/* Read bounce/H/ID or defer/H/ID. A missing log is empty; -1 with the
 * reason when it cannot be read. */
static int bounce_log_read(const char *logq, const char *id,
                           struct bounce_log *log, struct buf *why)
{
	struct buf *path = buf_create(64, 4096),
	           *line = buf_create(256, BOUNCE_LOG_LINE_MAX),
	           *rcpt = buf_create(64, BOUNCE_LOG_LINE_MAX),
	           *reason = buf_create(64, BOUNCE_LOG_LINE_MAX);
	struct stream *s = NULL;
	enum stream_eol eol;
	struct stat st;
	int fd, r, ret = -1;

	queue_path(logq, id, path);
	fd =
	    open(buf_str(path), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			ret = 0;
		else
			buf_sprintf(why, "4.3.0 %s: open: %s", buf_str(path),
			            strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		buf_sprintf(why, "4.3.0 %s: not a regular file", buf_str(path));
		close(fd);
		goto out;
	}
	s = stream_open(fd);
	for (;;) {
		r = stream_read_line(s, line, BOUNCE_LOG_LINE_MAX, &eol);
		if (r == STREAM_OK && eol == STREAM_EOL_LF &&
		    queue_list_defer_decode(buf_str(line), buf_len(line), rcpt,
		                            reason) == 0)
			bounce_log_add(log, buf_str(rcpt), buf_str(reason));
		else if (r == STREAM_EOF)
			break; /* a last line without LF is being written */
		else if (r == STREAM_ERROR || r == STREAM_TIMEOUT) {
			buf_sprintf(why, "4.3.0 %s: read error", buf_str(path));
			goto out;
		}
	}
	ret = 0;
out:
	if (s)
		stream_close(&s);
	buf_destroy(&path);
	buf_destroy(&line);
	buf_destroy(&rcpt);
	buf_destroy(&reason);
	return ret;
}

/* ---- the original ---- */

struct bounce_original {
	struct queue_reader *reader;
	struct queue_envelope env;
	bool have_env;
	struct buf *block; /* the current content block */
	size_t pos; /* consumed of it */
	bool eof;
	int fd;
	const char *id;
	size_t *order; /* recipient indexes sorted by address */
};

static struct bounce_original *bounce_sort_ctx;

static int bounce_rcpt_cmp(const void *a, const void *b)
{
	const struct queue_rcpt *r = bounce_sort_ctx->env.rcpts;

	return strcmp(r[*(const size_t *)a].address,
	              r[*(const size_t *)b].address);
}

static int bounce_original_open(struct bounce_original *o, const char *queue,
                                const char *id, struct buf *why)
{
	struct buf *path = buf_create(64, 4096), *err = buf_create(256, 4096);
	int ret = -1;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->id = id;
	queue_path(queue, id, path);
	o->fd = open(buf_str(path), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (o->fd < 0) {
		buf_sprintf(why, "4.3.0 queue file %s: %s", buf_str(path),
		            strerror(errno));
		goto out;
	}
	o->reader = queue_reader_create(o->fd);
	if (queue_envelope_read(o->reader, &o->env, err) < 0) {
		buf_sprintf(why, "4.3.0 queue file %s: %s", buf_str(path),
		            buf_str(err));
		goto out;
	}
	o->have_env = true;
	o->block = buf_create(QUEUE_BLOCK_MAX, QUEUE_REC_MAX);
	o->order =
	    mem_array(o->env.nrcpts ? o->env.nrcpts : 1, sizeof(*o->order));
	for (size_t i = 0; i < o->env.nrcpts; i++)
		o->order[i] = i;
	bounce_sort_ctx = o;
	qsort(o->order, o->env.nrcpts, sizeof(*o->order), bounce_rcpt_cmp);
	bounce_sort_ctx = NULL;
	ret = 0;
out:
	buf_destroy(&path);
	buf_destroy(&err);
	return ret;
}

static void bounce_original_close(struct bounce_original *o)
{
	if (o->have_env)
		queue_envelope_free(&o->env);
	if (o->reader)
		queue_reader_destroy(&o->reader);
	if (o->fd >= 0)
		close(o->fd);
	buf_destroy(&o->block);
	mem_free(o->order);
	memset(o, 0, sizeof(*o));
	o->fd = -1;
}

/* The queue file record of a recipient: exact address, else ignoring
 * case; NULL if none. */
static const struct queue_rcpt *bounce_find_rcpt(struct bounce_original *o,
                                                 const char *addr)
{
	size_t lo = 0, hi = o->env.nrcpts;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(addr, o->env.rcpts[o->order[mid]].address);

		if (c == 0)
			return &o->env.rcpts[o->order[mid]];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	for (size_t i = 0; i < o->env.nrcpts; i++)
		if (str_eq_ci(addr, o->env.rcpts[i].address))
			return &o->env.rcpts[i];
	return NULL;
}

/* dsn_read_fn over the content records. */
static ssize_t bounce_original_read(void *ctx, void *data, size_t len)
{
	struct bounce_original *o = ctx;
	struct buf *err;
	int type, r;

	while (!o->eof && o->pos >= buf_len(o->block)) {
		err = buf_create(256, 4096);
		r = queue_reader_next(o->reader, &type, o->block, NULL, err);
		o->pos = 0;
		if (r < 0) {
			msg_warn("%s: queue file: %s", o->id, buf_str(err));
			buf_destroy(&err);
			return -1;
		}
		buf_destroy(&err);
		if (r == 0 || type == QREC_END) {
			buf_reset(o->block);
			o->eof = true;
		} else if (type != QREC_BLOCK) {
			buf_reset(o->block);
		}
	}
	if (o->eof)
		return 0;
	if (len > buf_len(o->block) - o->pos)
		len = buf_len(o->block) - o->pos;
	memcpy(data, buf_str(o->block) + o->pos, len);
	o->pos += len;
	return (ssize_t)len;
}

/* ---- sending ---- */

/* Hand the notice to cleanup: 0 (queued, ID in newid), 1 (refused for
 * good: logged, dropped), -1 (try later, reason in why). */
static int bounce_submit(const char *id, const char *to, const char *text,
                         size_t len, struct buf *newid, struct buf *why)
{
	struct buf *err = buf_create(256, 4096);
	struct cleanup_client *cc;
	char qid[QUEUE_ID_MAX + 1];
	int r, ret = -1;

	/* Local flag: a domainless 2bounce_notice_recipient ("postmaster")
	 * gets @$myorigin; nothing else changes for a null sender. */
	cc = cleanup_open(bounce_params.config, CLEANUP_FLAG_LOCAL, err);
	if (cc == NULL) {
		buf_sprintf(why, "4.3.0 cleanup service: %s", buf_str(err));
		goto out;
	}
	(void)cleanup_sender(cc, "");
	(void)cleanup_rcpt(cc, to, NULL, 0);
	(void)cleanup_write(cc, text, len);
	r = cleanup_finish(&cc, qid, sizeof(qid), err);
	if (r == CLEANUP_OK) {
		buf_set_str(newid, qid);
		ret = 0;
	} else if (r == CLEANUP_PERMFAIL) {
		/* Trying again would fail again: the notice is lost, the
		 * original must not stay in the queue for it. */
		msg_warn("%s: notification to <%s> refused by cleanup: %s: "
		         "discarded",
		         id, to, buf_str(err));
		ret = 1;
	} else {
		buf_sprintf(why, "%s", buf_str(err));
	}
out:
	buf_destroy(&err);
	return ret;
}

static const char *bounce_log_kind(enum dsn_kind kind)
{
	switch (kind) {
	case DSN_FAILURE:
		return "sender non-delivery notification";
	case DSN_DELAY:
		return "sender delay notification";
	case DSN_SUCCESS:
		return "sender delivery status notification";
	case DSN_POSTMASTER:
		return "postmaster non-delivery notification";
	}
	msg_panic("bounce_log_kind: bad kind %d", (int)kind);
}

/* Compose and send one notice; see bounce_submit for the result. */
static int bounce_send(struct bounce_original *o, const char *id,
                       enum dsn_kind kind, const char *to,
                       const struct dsn_rcpt *rcpts, size_t nrcpts,
                       struct buf *newid, struct buf *why)
{
	static unsigned counter;
	struct dsn_message m;
	struct buf *text = buf_create(8192, 0), *err = buf_create(256, 4096);
	char unique[64];
	int ret = -1;

	memset(&m, 0, sizeof(m));
	m.kind = kind;
	m.myhostname = bounce_params.myhostname;
	m.queue_id = id;
	m.sender = o->env.sender;
	m.notify_to = to;
	m.envid = o->env.envid;
	m.ret_headers = o->env.ret && str_eq_ci(o->env.ret, "HDRS");
	m.arrival = (time_t)o->env.arrival_sec;
	m.now = time(NULL);
	if (kind == DSN_DELAY && bounce_params.max_lifetime > 0)
		m.retry_until =
		    (time_t)(o->env.arrival_sec + bounce_params.max_lifetime);
	m.size_limit = bounce_params.size_limit;
	(void)str_format(unique, sizeof(unique), "%ld.%u", (long)getpid(),
	                 ++counter);
	m.unique = unique;
	m.rcpts = rcpts;
	m.nrcpts = nrcpts;
	if (dsn_compose(&m, bounce_original_read, o, text, err) < 0) {
		buf_sprintf(why, "4.3.0 cannot compose the notification: %s",
		            buf_str(err));
		goto out;
	}
	ret = bounce_submit(id, to, buf_str(text), buf_len(text), newid, why);
	if (ret == 0)
		msg_info("%s: %s: %s", id, bounce_log_kind(kind),
		         buf_str(newid));
out:
	buf_destroy(&text);
	buf_destroy(&err);
	return ret;
}

/* ---- the request kinds ---- */

/* Does a recipient want this kind of notice (RFC 3461 4.1: without
 * NOTIFY, failures and delays are reported)? */
static bool bounce_wanted(const struct queue_rcpt *qr, enum bounce_kind kind)
{
	int notify = qr ? qr->notify : 0;

	if (notify == 0)
		return kind != BOUNCE_SUCCESS;
	if (notify & QUEUE_NOTIFY_NEVER)
		return false;
	switch (kind) {
	case BOUNCE_FAILURE:
		return (notify & QUEUE_NOTIFY_FAILURE) != 0;
	case BOUNCE_DELAY:
		return (notify & QUEUE_NOTIFY_DELAY) != 0;
	case BOUNCE_SUCCESS:
		return (notify & QUEUE_NOTIFY_SUCCESS) != 0;
	}
	return false;
}

/* Recipients to report from a log. */
static size_t bounce_from_log(struct bounce_original *o,
                              const struct bounce_log *log,
                              enum bounce_kind kind, struct dsn_rcpt *out,
                              struct bounce_log_reason *reasons)
{
	size_t n = 0;

	for (size_t i = 0; i < log->n; i++) {
		const struct queue_rcpt *qr =
		    bounce_find_rcpt(o, log->v[i].rcpt);

		if (!bounce_wanted(qr, kind))
			continue;
		/* A delay warning is about recipients still waiting. */
		if (kind == BOUNCE_DELAY && qr && qr->done)
			continue;
		bounce_log_reason_parse(
		    log->v[i].reason,
		    kind == BOUNCE_FAILURE ? "5.0.0" : "4.0.0", &reasons[n]);
		out[n].address = log->v[i].rcpt;
		out[n].orcpt = qr ? qr->orcpt : NULL;
		out[n].action = kind == BOUNCE_FAILURE ? DSN_ACTION_FAILED
		                                       : DSN_ACTION_DELAYED;
		out[n].status = reasons[n].dsn;
		out[n].text = reasons[n].text;
		out[n].relay = NULL;
		n++;
	}
	return n;
}

int bounce_notify(const struct bounce_req *req, struct buf *newid,
                  struct buf *reason)
{
	struct bounce_original o;
	struct bounce_log log;
	struct dsn_rcpt *rcpts = NULL;
	struct bounce_log_reason *reasons = NULL;
	struct buf *pm_id = buf_create(64, 256),
	           *pm_why = buf_create(256, 4096);
	size_t n = 0;
	int ret = -1, r;
	enum dsn_kind kind;

	memset(&log, 0, sizeof(log));
	buf_reset(newid);
	if (bounce_original_open(&o, req->queue_name, req->queue_id, reason) <
	    0) {
		msg_warn("%s: bounce: %s", req->queue_id, buf_str(reason));
		goto out;
	}
	/* Nothing goes back to the null sender but failures, and those only
	 * to the postmaster when asked (notify_classes 2bounce). */
	if (*o.env.sender == 0 &&
	    (req->kind != BOUNCE_FAILURE || !bounce_params.notify_2bounce)) {
		if (req->kind == BOUNCE_FAILURE)
			msg_info("%s: undeliverable bounce discarded (null "
			         "sender)",
			         req->queue_id);
		ret = 0;
		goto out;
	}
	if (req->kind == BOUNCE_SUCCESS) {
		rcpts =
		    mem_array(req->nrcpts ? req->nrcpts : 1, sizeof(*rcpts));
		for (size_t i = 0; i < req->nrcpts; i++) {
			const struct bounce_req_rcpt *q = &req->rcpts[i];
			const struct queue_rcpt *qr =
			    bounce_find_rcpt(&o, q->address);

			rcpts[n].address = q->address;
			rcpts[n].orcpt =
			    q->orcpt ? q->orcpt : (qr ? qr->orcpt : NULL);
			rcpts[n].action = q->action;
			rcpts[n].status = *q->dsn ? q->dsn : "2.0.0";
			rcpts[n].text = q->reason;
			rcpts[n].relay = q->relay;
			n++;
		}
		kind = DSN_SUCCESS;
	} else {
		const char *logq =
		    req->kind == BOUNCE_FAILURE ? QUEUE_BOUNCE : QUEUE_DEFER;

		if (bounce_log_read(logq, req->queue_id, &log, reason) < 0) {
			msg_warn("%s: bounce: %s", req->queue_id,
			         buf_str(reason));
			goto out;
		}
		rcpts = mem_array(log.n ? log.n : 1, sizeof(*rcpts));
		reasons = mem_array(log.n ? log.n : 1, sizeof(*reasons));
		n = bounce_from_log(&o, &log, req->kind, rcpts, reasons);
		kind = req->kind == BOUNCE_FAILURE ? DSN_FAILURE : DSN_DELAY;
	}
	if (n == 0) {
		ret = 0;
		goto out;
	}
	if (*o.env.sender == 0) {
		/* A failed bounce: the postmaster's copy instead. */
		r = bounce_send(&o, req->queue_id, DSN_POSTMASTER,
		                bounce_params.twobounce_rcpt, rcpts, n, newid,
		                reason);
		ret = r < 0 ? -1 : 0;
		goto out;
	}
	r = bounce_send(&o, req->queue_id, kind, o.env.sender, rcpts, n, newid,
	                reason);
	if (r < 0)
		goto out;
	ret = 0;
	if (kind == DSN_FAILURE && bounce_params.notify_bounce) {
		/* The postmaster's copy is a courtesy: its failure is only
		 * logged. A fresh reader: the content was consumed. */
		struct bounce_original o2;

		if (bounce_original_open(&o2, req->queue_name, req->queue_id,
		                         pm_why) < 0 ||
		    bounce_send(&o2, req->queue_id, DSN_POSTMASTER,
		                bounce_params.bounce_rcpt, rcpts, n, pm_id,
		                pm_why) < 0)
			msg_warn("%s: postmaster copy not sent: %s",
			         req->queue_id, buf_str(pm_why));
		bounce_original_close(&o2);
	}
out:
	if (o.reader || o.fd >= 0 || o.have_env)
		bounce_original_close(&o);
	bounce_log_free(&log);
	mem_free(rcpts);
	mem_free(reasons);
	buf_destroy(&pm_id);
	buf_destroy(&pm_why);
	return ret;
}
