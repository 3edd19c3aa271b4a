/*
 * qmgr_deliver.c: the scheduler and the delivery agent connections.
 * Recipients arrive grouped per (transport, nexthop) and are cut into
 * entries of at most the transport's recipient limit; entries wait in
 * their destination's queue until the destination (concurrency limit)
 * and the transport (process limit) have room; then a connection to
 * private/TRANSPORT (a kept one when there is, qmgr_conn.c) carries one
 * request (lib/deliver.h), written and read without blocking, bounded by
 * the transport's time limit. Owns struct
 * qmgr_transport, qmgr_dest, qmgr_entry, qmgr_delivery.
 * Destinations are round-robin: each run starts what every ready
 * destination may, in the order they became ready.
 * SECURITY: answers come from agents (separate processes, maybe another
 * uid): decoded with lib/deliver.c's limits (small messages, index in
 * range, each recipient answered once); the input buffer is bounded; a
 * bad answer, a dropped connection or the deadline defers every
 * recipient not yet answered ("4.3.0 delivery agent crashed").
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "deliver.h"
#include "mem.h"
#include "msg.h"
#include "qmgr.h"
#include "server.h"
#include "str.h"

/* Most bytes of answers buffered before they are decoded. */
#define QMGR_INBUF_MAX (64 * 1024)
/* Wait before a connection refused for a full backlog is tried again. */
#define QMGR_RETRY_MS 200

struct qmgr_transport {
	char *name;
	long long conc_limit; /* per destination */
	long long rcpt_limit; /* per request */
	long long proc_limit; /* deliveries in flight, all destinations */
	long long time_limit; /* seconds per request */
	long long inflight;
	long long dead_until; /* unavailable until then (wall seconds) */
	struct qmgr_transport *next;
};

struct qmgr_entry;

struct qmgr_dest {
	struct qmgr_transport *tr;
	char *nexthop; /* what the agent is told */
	char *key; /* nexthop, or the recipient when the recipient
			* limit is 1 (Postfix: per-recipient queues) */
	long long inflight;
	struct qmgr_entry *head, *tail;
	bool ready; /* in the ready list */
	struct qmgr_dest *rnext, *rprev; /* ready list */
	struct qmgr_dest *hnext; /* hash chain */
};

struct qmgr_entry {
	struct qmgr_message *m;
	struct qmgr_dest *d;
	size_t *rcpts; /* indices into the message's recipients */
	size_t n;
	bool new_conn; /* a kept connection failed under it: not again */
	struct qmgr_entry *next;
};

struct qmgr_delivery {
	struct qmgr_entry *e;
	int fd;
	struct buf *out;
	size_t out_off;
	struct buf *in;
	unsigned char *answered;
	bool reading;
	bool done;
	bool reused; /* on a connection kept from an earlier request */
	bool heard; /* the agent answered something */
	struct attr_list *msg;
	struct qmgr_delivery *next, *prev; /* every delivery in flight */
};

#define QMGR_DEST_BUCKETS 4096

static struct qmgr_transport *qmgr_transports;
static struct qmgr_dest *qmgr_dest_hash[QMGR_DEST_BUCKETS];
static struct qmgr_dest *qmgr_ready_head, *qmgr_ready_tail;
static long long qmgr_inflight_total;
static struct qmgr_delivery *qmgr_deliveries;

static void qmgr_delivery_end(struct qmgr_delivery *d, const char *why);
static void qmgr_delivery_lost(struct qmgr_delivery *d);

static struct qmgr_transport *qmgr_transport_get(const char *name)
{
	struct qmgr_transport *t;
	struct config *c = qmgr.c;

	for (t = qmgr_transports; t != NULL; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	t = mem_zalloc(sizeof(*t));
	t->name = mem_strdup(name);
	t->conc_limit = qmgr_transport_param(
	    c, name, "destination_concurrency_limit", false, 1, 10000,
	    config_int(c, "default_destination_concurrency_limit"));
	t->rcpt_limit = qmgr_transport_param(
	    c, name, "destination_recipient_limit", false, 1, DELIVER_MAX_RCPTS,
	    config_int(c, "default_destination_recipient_limit"));
	t->proc_limit = config_int(c, "default_process_limit");
	t->time_limit =
	    qmgr_transport_param(c, name, "time_limit", true, 1, 7 * 86400,
	                         config_time(c, "daemon_timeout"));
	if (msg_verbose)
		msg_info("transport %s: concurrency %lld, recipients %lld, "
		         "processes %lld, time limit %llds",
		         name, t->conc_limit, t->rcpt_limit, t->proc_limit,
		         t->time_limit);
	t->next = qmgr_transports;
	qmgr_transports = t;
	return t;
}

static unsigned qmgr_hash(const char *tr, const char *key)
{
	unsigned h = 5381;

	for (const char *p = tr; *p; p++)
		h = h * 33 + (unsigned char)*p;
	h = h * 33 + 1;
	for (const char *p = key; *p; p++) {
		unsigned char ch = (unsigned char)*p;

		h = h * 33 + (ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
	}
	return h % QMGR_DEST_BUCKETS;
}

static struct qmgr_dest *qmgr_dest_get(struct qmgr_transport *tr,
                                       const char *nexthop, const char *key)
{
	unsigned h = qmgr_hash(tr->name, key);
	struct qmgr_dest *d;

	for (d = qmgr_dest_hash[h]; d != NULL; d = d->hnext)
		if (d->tr == tr && strcasecmp(d->key, key) == 0 &&
		    strcmp(d->nexthop, nexthop) == 0)
			return d;
	d = mem_zalloc(sizeof(*d));
	d->tr = tr;
	d->nexthop = mem_strdup(nexthop);
	d->key = mem_strdup(key);
	d->hnext = qmgr_dest_hash[h];
	qmgr_dest_hash[h] = d;
	return d;
}

static void qmgr_dest_free(struct qmgr_dest *d)
{
	struct qmgr_dest **pp = &qmgr_dest_hash[qmgr_hash(d->tr->name, d->key)];

	while (*pp != d)
		pp = &(*pp)->hnext;
	*pp = d->hnext;
	mem_free(d->nexthop);
	mem_free(d->key);
	mem_free(d);
}

static void qmgr_ready_add(struct qmgr_dest *d)
{
	if (d->ready)
		return;
	d->ready = true;
	d->rnext = NULL;
	d->rprev = qmgr_ready_tail;
	if (qmgr_ready_tail)
		qmgr_ready_tail->rnext = d;
	else
		qmgr_ready_head = d;
	qmgr_ready_tail = d;
}

static void qmgr_ready_remove(struct qmgr_dest *d)
{
	if (!d->ready)
		return;
	if (d->rprev)
		d->rprev->rnext = d->rnext;
	else
		qmgr_ready_head = d->rnext;
	if (d->rnext)
		d->rnext->rprev = d->rprev;
	else
		qmgr_ready_tail = d->rprev;
	d->ready = false;
	d->rnext = d->rprev = NULL;
}

static void qmgr_entry_append(struct qmgr_dest *d, struct qmgr_entry *e)
{
	e->next = NULL;
	if (d->tail)
		d->tail->next = e;
	else
		d->head = e;
	d->tail = e;
}

/* Back into d's queue, first in line (it could not start, or must start
 * again). */
static void qmgr_entry_push_front(struct qmgr_dest *d, struct qmgr_entry *e)
{
	e->next = d->head;
	d->head = e;
	if (d->tail == NULL)
		d->tail = e;
}

void qmgr_deliver_queue(struct qmgr_message *m, const char *transport,
                        const char *nexthop, const size_t *rcpts, size_t n)
{
	struct qmgr_transport *tr = qmgr_transport_get(transport);
	const struct queue_envelope *env = qmgr_message_env(m);

	for (size_t i = 0; i < n;) {
		size_t k = n - i;
		struct qmgr_entry *e = mem_zalloc(sizeof(*e));
		struct qmgr_dest *d;

		if (k > (size_t)tr->rcpt_limit)
			k = (size_t)tr->rcpt_limit;
		e->m = m;
		e->rcpts = mem_array(k, sizeof(*e->rcpts));
		memcpy(e->rcpts, rcpts + i, k * sizeof(*e->rcpts));
		e->n = k;
		d = qmgr_dest_get(tr, nexthop,
		                  tr->rcpt_limit == 1
		                      ? env->rcpts[rcpts[i]].address
		                      : nexthop);
		e->d = d;
		qmgr_entry_append(d, e);
		qmgr_ready_add(d);
		i += k;
	}
	qmgr_deliver_kick();
}

/* ---- one delivery ---- */

static void qmgr_delivery_timeout(void *ctx)
{
	qmgr_delivery_end(ctx, "delivery agent timed out");
}

/* Decode what is buffered; false once the delivery ended. */
static bool qmgr_delivery_decode(struct qmgr_delivery *d)
{
	struct qmgr_entry *e = d->e;
	struct buf *err = buf_create(64, 1024);
	bool alive = true;

	while (buf_len(d->in) > 0) {
		struct deliver_status st;
		size_t used;
		int rc = attr_decode(d->msg, buf_str(d->in), buf_len(d->in),
		                     &used, &deliver_status_limits, err);

		if (rc == 1)
			break;
		if (rc == 0) {
			buf_consume(d->in, used);
			rc = deliver_status_decode(d->msg, &st, e->n,
			                           d->answered, err);
		}
		if (rc < 0) {
			msg_warn("%s: transport %s: bad answer: %s",
			         qmgr_message_id(e->m), e->d->tr->name,
			         buf_str(err));
			qmgr_delivery_end(d, "delivery agent protocol error");
			alive = false;
			break;
		}
		if (rc == 0) {
			d->done = true;
			qmgr_delivery_end(d, NULL);
			alive = false;
			break;
		}
		/* The agent logged the to=<> line itself. */
		qmgr_message_outcome(e->m, e->rcpts[st.index], st.status,
		                     st.dsn, st.relay, st.reason,
		                     e->d->tr->name, false);
		deliver_status_free(&st);
	}
	buf_destroy(&err);
	return alive;
}

static void qmgr_delivery_event(int fd, int revents, void *ctx)
{
	struct qmgr_delivery *d = ctx;

	if (!d->reading) {
		while (d->out_off < buf_len(d->out)) {
			ssize_t n =
			    send(fd, buf_str(d->out) + d->out_off,
			         buf_len(d->out) - d->out_off, MSG_NOSIGNAL);

			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (n <= 0) {
				qmgr_delivery_lost(d);
				return;
			}
			d->out_off += (size_t)n;
		}
		d->reading = true;
		multi_server_watch(fd, POLLIN, qmgr_delivery_event, d);
		return;
	}
	for (;;) {
		char *p = buf_reserve(d->in, 16384);
		ssize_t n;

		if (p == NULL) {
			qmgr_delivery_end(d, "delivery agent protocol error");
			return;
		}
		n = recv(fd, p, 16384, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			/* End of file without "done": the agent died. */
			if (qmgr_delivery_decode(d))
				qmgr_delivery_lost(d);
			return;
		}
		d->heard = true;
		buf_commit(d->in, (size_t)n);
		if (!qmgr_delivery_decode(d))
			return;
	}
	/* Make this batch of done marks durable before anything else. */
	qmgr_message_sync(d->e->m);
}

static void qmgr_request_fill(struct qmgr_entry *e, struct deliver_request *r)
{
	const struct queue_envelope *env = qmgr_message_env(e->m);
	const char *client = queue_envelope_attr(env, "client_address");

	memset(r, 0, sizeof(*r));
	r->queue_name = QUEUE_ACTIVE;
	r->queue_id = (char *)qmgr_message_id(e->m);
	r->sender = env->sender;
	r->transport = e->d->tr->name;
	r->nexthop = e->d->nexthop;
	r->envid = env->envid ? env->envid : "";
	r->ret = env->ret ? env->ret : "";
	r->client_address = (char *)(client ? client : "");
	r->arrival_sec = env->arrival_sec;
	r->arrival_usec = env->arrival_usec;
	r->content_offset = (long long)env->content_offset;
	r->content_size = env->content_size;
	r->nrcpts = e->n;
	r->rcpts = mem_array(e->n, sizeof(*r->rcpts));
	for (size_t i = 0; i < e->n; i++) {
		const struct queue_rcpt *q = &env->rcpts[e->rcpts[i]];

		r->rcpts[i].address = q->address;
		r->rcpts[i].orcpt = q->orcpt ? q->orcpt : "";
		r->rcpts[i].notify = q->notify;
		r->rcpts[i].offset = q->offset;
	}
}

/* Defer the recipients of an entry that never reached an agent and
 * free it (the caller settles them). */
static void qmgr_entry_fail(struct qmgr_entry *e, const char *why)
{
	struct qmgr_message *m = e->m;

	for (size_t i = 0; i < e->n; i++)
		qmgr_message_outcome(m, e->rcpts[i], 4, "4.3.0", "none", why,
		                     e->d->tr->name, true);
	mem_free(e->rcpts);
	mem_free(e);
	qmgr_message_sync(m);
}

/* Start the entry: 0 started (or settled at once), 1 try again later. */
static int qmgr_delivery_start(struct qmgr_entry *e)
{
	struct buf *why = buf_create(64, 1024);
	struct deliver_request req;
	struct qmgr_delivery *d;
	struct qmgr_message *m = e->m;
	size_t n = e->n;
	bool reused;
	int fd = qmgr_conn_get(e->d->tr->name, !e->new_conn, &reused, why);
	long long limit_ms;

	if (fd == -2) {
		buf_destroy(&why);
		return 1;
	}
	if (fd < 0) {
		/* Postfix: the transport is dead for transport_retry_time;
		 * what waits for it is deferred without trying. */
		msg_warn("%s; mail for it is deferred for %llds", buf_str(why),
		         qmgr.transport_retry);
		e->d->tr->dead_until =
		    (long long)qmgr_now() + qmgr.transport_retry;
		qmgr_entry_fail(e, "mail transport unavailable");
		buf_destroy(&why);
		qmgr_message_settled(m, n);
		return 0;
	}
	buf_destroy(&why);
	d = mem_zalloc(sizeof(*d));
	d->e = e;
	d->fd = fd;
	d->reused = reused;
	d->out = buf_create(4096, 0);
	d->in = buf_create(4096, QMGR_INBUF_MAX);
	d->answered = mem_zalloc(e->n);
	d->msg = attr_list_create();
	qmgr_request_fill(e, &req);
	deliver_request_encode(&req, d->out);
	mem_free(req.rcpts);
	e->d->inflight++;
	e->d->tr->inflight++;
	qmgr_inflight_total++;
	qmgr_message_hold(m);
	d->next = qmgr_deliveries;
	if (qmgr_deliveries)
		qmgr_deliveries->prev = d;
	qmgr_deliveries = d;
	limit_ms = e->d->tr->time_limit * 1000;
	multi_server_timer(qmgr_delivery_timeout, d,
	                   limit_ms > INT_MAX ? INT_MAX : (int)limit_ms);
	multi_server_watch(fd, POLLOUT, qmgr_delivery_event, d);
	return 0;
}

/* The delivery is over: forget it and its connection (kept for the
 * transport's next request when keep is true). */
static void qmgr_delivery_free(struct qmgr_delivery *d, bool keep)
{
	struct qmgr_dest *dest = d->e->d;

	multi_server_unwatch(d->fd);
	multi_server_timer_cancel(qmgr_delivery_timeout, d);
	if (keep)
		qmgr_conn_put(dest->tr->name, d->fd,
		              (size_t)dest->tr->proc_limit);
	else
		close(d->fd);
	if (d->prev)
		d->prev->next = d->next;
	else
		qmgr_deliveries = d->next;
	if (d->next)
		d->next->prev = d->prev;
	dest->inflight--;
	dest->tr->inflight--;
	qmgr_inflight_total--;
	buf_destroy(&d->out);
	buf_destroy(&d->in);
	attr_list_destroy(&d->msg);
	mem_free(d->answered);
	mem_free(d);
}

static void qmgr_delivery_end(struct qmgr_delivery *d, const char *why)
{
	struct qmgr_entry *e = d->e;
	struct qmgr_message *m = e->m;
	struct qmgr_dest *dest = e->d;
	size_t n = e->n;

	for (size_t i = 0; i < e->n; i++)
		if (!d->answered[i])
			qmgr_message_outcome(
			    m, e->rcpts[i], 4, "4.3.0", dest->tr->name,
			    why ? why : "delivery agent crashed",
			    dest->tr->name, true);
	qmgr_message_sync(m);
	/* A connection answered to the end may carry the next request. */
	qmgr_delivery_free(d, d->done && why == NULL);
	if (dest->head != NULL)
		qmgr_ready_add(dest);
	else if (dest->inflight == 0 && !dest->ready)
		qmgr_dest_free(dest);
	mem_free(e->rcpts);
	mem_free(e);
	qmgr_message_release(m);
	qmgr_message_settled(m, n);
	qmgr_deliver_kick();
}

/* The connection failed. On a kept connection before any answer, the
 * agent most likely ended it (max_use, max_idle, reload) as the request
 * went out: the entry goes back first in line, to a new connection, and
 * nothing is deferred. Otherwise the agent died: defer what it did not
 * answer. */
static void qmgr_delivery_lost(struct qmgr_delivery *d)
{
	struct qmgr_entry *e = d->e;
	struct qmgr_message *m = e->m;
	struct qmgr_dest *dest = e->d;

	if (!d->reused || d->heard) {
		qmgr_delivery_end(d, "delivery agent crashed");
		return;
	}
	qmgr_delivery_free(d, false);
	e->new_conn = true;
	qmgr_entry_push_front(dest, e);
	qmgr_ready_add(dest);
	qmgr_message_release(m);
	qmgr_deliver_kick();
}

/* ---- the scheduler ---- */

static void qmgr_deliver_run(void *ctx)
{
	struct qmgr_dest *d, *next;
	bool retry = false;

	if (server_stopping())
		return;
	for (d = qmgr_ready_head; d != NULL; d = next) {
		struct qmgr_transport *tr = d->tr;

		while (d->head != NULL) {
			struct qmgr_entry *e = d->head;
			struct qmgr_message *m = e->m;
			size_t n = e->n;

			if (tr->dead_until <= qmgr_now() &&
			    (d->inflight >= tr->conc_limit ||
			     tr->inflight >= tr->proc_limit))
				break;
			d->head = e->next;
			if (d->head == NULL)
				d->tail = NULL;
			if (tr->dead_until > qmgr_now()) {
				/* Unavailable: defer without trying. */
				qmgr_entry_fail(e,
				                "mail transport unavailable");
				qmgr_message_settled(m, n);
				continue;
			}
			if (qmgr_delivery_start(e) > 0) {
				qmgr_entry_push_front(d, e);
				retry = true;
				break;
			}
		}
		next = d->rnext;
		if (d->head == NULL) {
			qmgr_ready_remove(d);
			if (d->inflight == 0)
				qmgr_dest_free(d);
		} else if (d->inflight >= tr->conc_limit) {
			/* Back in line when one of its deliveries ends. */
			qmgr_ready_remove(d);
		}
	}
	if (retry)
		multi_server_timer(qmgr_deliver_run, NULL, QMGR_RETRY_MS);
}

void qmgr_deliver_kick(void)
{
	multi_server_timer(qmgr_deliver_run, NULL, 0);
}

void qmgr_deliver_forget(void)
{
	for (struct qmgr_transport *t = qmgr_transports; t; t = t->next)
		t->dead_until = 0;
	qmgr_deliver_kick();
}

void qmgr_deliver_drain(int timeout_ms)
{
	struct timespec ts;
	long long deadline, now;
	struct pollfd *fds = NULL;
	struct qmgr_delivery **ds = NULL;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	deadline = now + timeout_ms;
	if (qmgr_deliveries != NULL)
		msg_info("waiting up to %d ms for %lld deliveries in flight",
		         timeout_ms, qmgr_inflight_total);
	while (qmgr_deliveries != NULL && now < deadline) {
		size_t n = 0;
		int ready;

		fds = mem_realloc(fds,
		                  (size_t)qmgr_inflight_total * sizeof(*fds));
		ds = mem_realloc(ds, (size_t)qmgr_inflight_total * sizeof(*ds));
		for (struct qmgr_delivery *d = qmgr_deliveries; d;
		     d = d->next) {
			fds[n].fd = d->fd;
			fds[n].events = d->reading ? POLLIN : POLLOUT;
			fds[n].revents = 0;
			ds[n++] = d;
		}
		ready = poll(fds, (nfds_t)n, (int)(deadline - now));
		if (ready < 0 && errno != EINTR)
			break;
		/* Events end deliveries; take one per round, the list
		 * changes under us. */
		for (size_t i = 0; ready > 0 && i < n; i++) {
			if (fds[i].revents != 0) {
				qmgr_delivery_event(fds[i].fd, fds[i].revents,
				                    ds[i]);
				break;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	}
	mem_free(fds);
	mem_free(ds);
}
