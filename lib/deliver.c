/*
 * deliver.c: the delivery protocol between qmgr and a delivery agent
 * (docs/ipc.md, "delivery"). One connection carries one request:
 * qmgr sends {request=deliver, queue_name, queue_id, sender, transport,
 * nexthop, envid, ret, client_address, arrival_sec, arrival_usec,
 * content_offset, content_size, rcpt_count}, then one {address, orcpt,
 * notify, offset} per recipient; the agent answers one {index, status,
 * dsn, relay, reason} per recipient, in any order, then {done=1}.
 * Owns struct deliver_request and struct deliver_status (allocated here,
 * freed by deliver_request_free / deliver_status_free).
 * SECURITY: both ends read from a peer daemon that may be confused or
 * compromised: every message is read with small attr limits and the
 * stream's deadlines, must hold exactly the documented attributes (no
 * duplicates, no extras), numbers are range-checked, the queue name is
 * one of a fixed set and the queue ID well formed (the agent opens that
 * path), text is refused when it holds NUL or control characters (it ends
 * up in log lines and DSNs), an answer's index must be in range and its
 * dsn an RFC 3463 code of the same class as its status.
 */
#include <stdio.h>
#include <string.h>

#include "attr.h"
#include "deliver.h"
#include "dsn.h"
#include "mem.h"
#include "msg.h"
#include "queue_file.h"

/* Longest text field; addresses are at most 1024 bytes (cleanup), a
 * reason may quote a remote server's reply. */
#define DELIVER_TEXT_MAX 4000

static const struct attr_limits deliver_request_limits = {16, 32, 4096, 16384};
static const struct attr_limits deliver_rcpt_limits = {4, 16, 4096, 9000};
const struct attr_limits deliver_status_limits = {5, 16, 4096, 9000};

static const char *const deliver_request_names[] = {
    "request",      "queue_name",   "queue_id",
    "sender",       "transport",    "nexthop",
    "envid",        "ret",          "client_address",
    "arrival_sec",  "arrival_usec", "content_offset",
    "content_size", "rcpt_count",   NULL};
static const char *const deliver_rcpt_names[] = {"address", "orcpt", "notify",
                                                 "offset", NULL};
static const char *const deliver_status_names[] = {"index", "status", "dsn",
                                                   "relay", "reason", NULL};

/* The queues an agent may be asked to read from (a path component). */
static const char *const deliver_queues[] = {QUEUE_ACTIVE, QUEUE_INCOMING,
                                             QUEUE_DEFERRED, QUEUE_HOLD, NULL};

/* Is the message exactly these names (each once, nothing else)? */
static int deliver_exact(const struct attr_list *l, const char *const *names,
                         const char *what, struct buf *err)
{
	size_t n = 0;

	while (names[n] != NULL)
		n++;
	if (attr_require(l, names, err) < 0) {
		char *missing = buf_steal(err);

		buf_sprintf(err, "%s: %s", what, missing);
		mem_free(missing);
		return -1;
	}
	if (attr_list_count(l) != n) {
		buf_sprintf(err, "%s: %zu attributes, expected %zu", what,
		            attr_list_count(l), n);
		return -1;
	}
	return 0;
}

/* Printable text (UTF-8 allowed) of at most max bytes, or empty if
 * allowed. */
static bool deliver_text_ok(const char *v, size_t len, size_t max,
                            bool may_be_empty)
{
	if (len > max || (len == 0 && !may_be_empty))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

/* A text attribute as a fresh string; -1 with a reason if unfit. */
static int deliver_get_text(const struct attr_list *l, const char *name,
                            size_t max, bool may_be_empty, char **out,
                            struct buf *err)
{
	size_t len;
	const char *v = attr_get(l, name, &len);

	if (v == NULL || !deliver_text_ok(v, len, max, may_be_empty)) {
		buf_sprintf(err, "bad %s attribute", name);
		return -1;
	}
	*out = mem_strdup(v);
	return 0;
}

static int deliver_get_num(const struct attr_list *l, const char *name,
                           long long min, long long max, long long *out,
                           struct buf *err)
{
	if (attr_get_int(l, name, min, max, out) < 0) {
		buf_sprintf(err, "bad %s attribute", name);
		return -1;
	}
	return 0;
}

static bool deliver_transport_ok(const char *t)
{
	size_t len = strlen(t);

	if (len == 0 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') ||
		      (t[i] >= 'A' && t[i] <= 'Z') ||
		      (t[i] >= '0' && t[i] <= '9') || t[i] == '_' ||
		      t[i] == '-' || t[i] == '.'))
			return false;
	return true;
}

void deliver_request_encode(const struct deliver_request *r, struct buf *out)
{
	struct attr_list *l = attr_list_create();

	attr_add_str(l, "request", "deliver");
	attr_add_str(l, "queue_name", r->queue_name);
	attr_add_str(l, "queue_id", r->queue_id);
	attr_add_str(l, "sender", r->sender);
	attr_add_str(l, "transport", r->transport);
	attr_add_str(l, "nexthop", r->nexthop ? r->nexthop : "");
	attr_add_str(l, "envid", r->envid ? r->envid : "");
	attr_add_str(l, "ret", r->ret ? r->ret : "");
	attr_add_str(l, "client_address",
	             r->client_address ? r->client_address : "");
	attr_add_int(l, "arrival_sec", r->arrival_sec);
	attr_add_int(l, "arrival_usec", r->arrival_usec);
	attr_add_int(l, "content_offset", r->content_offset);
	attr_add_int(l, "content_size", r->content_size);
	attr_add_int(l, "rcpt_count", (long long)r->nrcpts);
	attr_encode(l, out);
	for (size_t i = 0; i < r->nrcpts; i++) {
		const struct deliver_rcpt *rc = &r->rcpts[i];

		attr_list_reset(l);
		attr_add_str(l, "address", rc->address);
		attr_add_str(l, "orcpt", rc->orcpt ? rc->orcpt : "");
		attr_add_int(l, "notify", rc->notify);
		attr_add_int(l, "offset", (long long)rc->offset);
		attr_encode(l, out);
	}
	attr_list_destroy(&l);
}

int deliver_request_write(struct stream *s, const struct deliver_request *r)
{
	struct buf *out = buf_create(4096, 0);
	int rc = 0;

	if (r->nrcpts == 0 || r->nrcpts > DELIVER_MAX_RCPTS)
		msg_panic("deliver_request_write: %s: %zu recipients",
		          r->queue_id, r->nrcpts);
	deliver_request_encode(r, out);
	if (stream_write(s, buf_str(out), buf_len(out)) < 0 ||
	    stream_flush(s) < 0)
		rc = -1;
	buf_destroy(&out);
	return rc;
}

/* Read one message; -1 with a reason (EOF included: a request is never
 * optional). */
static int deliver_read_msg(struct stream *s, struct attr_list *l,
                            const struct attr_limits *lim, const char *what,
                            struct buf *err)
{
	int rc = attr_read(s, l, lim, err);

	if (rc == 0)
		return 0;
	if (rc == ATTR_MALFORMED) {
		char *why = buf_steal(err);

		buf_sprintf(err, "%s: %s", what, why);
		mem_free(why);
	} else if (rc == STREAM_TIMEOUT) {
		buf_sprintf(err, "%s: timeout", what);
	} else if (rc == STREAM_EOF) {
		buf_sprintf(err, "%s: unexpected end of input", what);
	} else {
		buf_sprintf(err, "%s: read error", what);
	}
	return -1;
}

static int deliver_request_parse(const struct attr_list *l,
                                 struct deliver_request *r, struct buf *err)
{
	long long n;
	bool known = false;

	if (deliver_exact(l, deliver_request_names, "request", err) < 0)
		return -1;
	if (strcmp(attr_get(l, "request", NULL), "deliver") != 0) {
		buf_sprintf(err, "request: not a delivery request");
		return -1;
	}
	if (deliver_get_text(l, "queue_name", 32, false, &r->queue_name, err) <
	        0 ||
	    deliver_get_text(l, "queue_id", QUEUE_ID_MAX, false, &r->queue_id,
	                     err) < 0 ||
	    deliver_get_text(l, "sender", DELIVER_TEXT_MAX, true, &r->sender,
	                     err) < 0 ||
	    deliver_get_text(l, "transport", 64, false, &r->transport, err) <
	        0 ||
	    deliver_get_text(l, "nexthop", 1024, true, &r->nexthop, err) < 0 ||
	    deliver_get_text(l, "envid", DELIVER_TEXT_MAX, true, &r->envid,
	                     err) < 0 ||
	    deliver_get_text(l, "ret", 4, true, &r->ret, err) < 0 ||
	    deliver_get_text(l, "client_address", 256, true, &r->client_address,
	                     err) < 0)
		return -1;
	for (size_t i = 0; deliver_queues[i] != NULL; i++)
		if (strcmp(r->queue_name, deliver_queues[i]) == 0)
			known = true;
	if (!known) {
		buf_sprintf(err, "bad queue_name attribute");
		return -1;
	}
	if (!queue_id_valid(r->queue_id)) {
		buf_sprintf(err, "bad queue_id attribute");
		return -1;
	}
	if (!deliver_transport_ok(r->transport)) {
		buf_sprintf(err, "bad transport attribute");
		return -1;
	}
	if (r->ret[0] != '\0' && strcmp(r->ret, "FULL") != 0 &&
	    strcmp(r->ret, "HDRS") != 0) {
		buf_sprintf(err, "bad ret attribute");
		return -1;
	}
	if (deliver_get_num(l, "arrival_sec", 0, (long long)1 << 40,
	                    &r->arrival_sec, err) < 0 ||
	    deliver_get_num(l, "arrival_usec", 0, 999999, &n, err) < 0)
		return -1;
	r->arrival_usec = (long)n;
	if (deliver_get_num(l, "content_offset", 0, (long long)1 << 50,
	                    &r->content_offset, err) < 0 ||
	    deliver_get_num(l, "content_size", 0, (long long)1 << 50,
	                    &r->content_size, err) < 0 ||
	    deliver_get_num(l, "rcpt_count", 1, DELIVER_MAX_RCPTS, &n, err) < 0)
		return -1;
	r->nrcpts = (size_t)n;
	return 0;
}

static int deliver_rcpt_parse(const struct attr_list *l,
                              struct deliver_rcpt *rc, struct buf *err)
{
	long long n;

	if (deliver_exact(l, deliver_rcpt_names, "recipient", err) < 0 ||
	    deliver_get_text(l, "address", DELIVER_TEXT_MAX, false,
	                     &rc->address, err) < 0 ||
	    deliver_get_text(l, "orcpt", DELIVER_TEXT_MAX, true, &rc->orcpt,
	                     err) < 0 ||
	    deliver_get_num(l, "notify", 0,
	                    QUEUE_NOTIFY_NEVER | QUEUE_NOTIFY_SUCCESS |
	                        QUEUE_NOTIFY_FAILURE | QUEUE_NOTIFY_DELAY,
	                    &n, err) < 0)
		return -1;
	rc->notify = (int)n;
	if (deliver_get_num(l, "offset", 0, (long long)1 << 50, &n, err) < 0)
		return -1;
	rc->offset = (off_t)n;
	return 0;
}

int deliver_request_read(struct stream *s, struct deliver_request *out,
                         struct buf *err)
{
	struct deliver_request r;
	struct attr_list *l = attr_list_create();
	int rc = -1;

	memset(&r, 0, sizeof(r));
	if (deliver_read_msg(s, l, &deliver_request_limits, "request", err) <
	        0 ||
	    deliver_request_parse(l, &r, err) < 0)
		goto out;
	{
		size_t want = r.nrcpts;

		r.rcpts = mem_zalloc(want * sizeof(*r.rcpts));
		for (r.nrcpts = 0; r.nrcpts < want; r.nrcpts++) {
			if (deliver_read_msg(s, l, &deliver_rcpt_limits,
			                     "recipient", err) < 0 ||
			    deliver_rcpt_parse(l, &r.rcpts[r.nrcpts], err) <
			        0) {
				/* Count the half-filled one for the free. */
				r.nrcpts++;
				goto out;
			}
		}
	}
	rc = 0;
out:
	attr_list_destroy(&l);
	if (rc < 0)
		deliver_request_free(&r);
	else
		*out = r;
	return rc;
}

void deliver_request_free(struct deliver_request *r)
{
	mem_free(r->queue_name);
	mem_free(r->queue_id);
	mem_free(r->sender);
	mem_free(r->transport);
	mem_free(r->nexthop);
	mem_free(r->envid);
	mem_free(r->ret);
	mem_free(r->client_address);
	for (size_t i = 0; r->rcpts != NULL && i < r->nrcpts; i++) {
		mem_free(r->rcpts[i].address);
		mem_free(r->rcpts[i].orcpt);
	}
	mem_free(r->rcpts);
	memset(r, 0, sizeof(*r));
}

/* RFC 3463 2: class "." subject "." detail (lib/dsn.h), the class
 * matching the status. */
static bool deliver_dsn_ok(const char *dsn, int status)
{
	return dsn[0] == '0' + status && dsn_status_len(dsn) == strlen(dsn);
}

int deliver_status_decode(const struct attr_list *l, struct deliver_status *st,
                          size_t nrcpts, unsigned char *answered,
                          struct buf *err)
{
	struct deliver_status out;
	long long n;
	size_t len;
	const char *dsn;

	if (attr_list_count(l) == 1 && attr_get(l, "done", NULL) != NULL) {
		if (strcmp(attr_get(l, "done", NULL), "1") != 0) {
			buf_sprintf(err, "answer: bad done attribute");
			return -1;
		}
		for (size_t i = 0; answered != NULL && i < nrcpts; i++)
			if (!answered[i]) {
				buf_sprintf(err,
				            "answer: done before recipient %zu "
				            "was answered",
				            i);
				return -1;
			}
		return 0;
	}
	memset(&out, 0, sizeof(out));
	if (deliver_exact(l, deliver_status_names, "answer", err) < 0 ||
	    deliver_get_num(l, "index", 0, (long long)DELIVER_MAX_RCPTS - 1, &n,
	                    err) < 0)
		return -1;
	if ((size_t)n >= nrcpts) {
		buf_sprintf(err,
		            "answer: index %lld out of range (%zu recipients)",
		            n, nrcpts);
		return -1;
	}
	out.index = (size_t)n;
	if (answered != NULL && answered[out.index]) {
		buf_sprintf(err, "answer: recipient %zu answered twice",
		            out.index);
		return -1;
	}
	if (deliver_get_num(l, "status", 2, 5, &n, err) < 0)
		return -1;
	if (n == 3) {
		buf_sprintf(err, "bad status attribute");
		return -1;
	}
	out.status = (int)n;
	dsn = attr_get(l, "dsn", &len);
	if (len >= sizeof(out.dsn) || strlen(dsn) != len ||
	    !deliver_dsn_ok(dsn, out.status)) {
		buf_sprintf(err, "bad dsn attribute");
		return -1;
	}
	memcpy(out.dsn, dsn, len + 1);
	if (deliver_get_text(l, "relay", 1024, true, &out.relay, err) < 0)
		return -1;
	if (deliver_get_text(l, "reason", DELIVER_TEXT_MAX, true, &out.reason,
	                     err) < 0) {
		mem_free(out.relay);
		return -1;
	}
	if (answered != NULL)
		answered[out.index] = 1;
	*st = out;
	return 1;
}

int deliver_status_read(struct stream *s, struct deliver_status *st,
                        size_t nrcpts, struct buf *err)
{
	struct attr_list *l = attr_list_create();
	int rc = -1;

	if (deliver_read_msg(s, l, &deliver_status_limits, "answer", err) == 0)
		rc = deliver_status_decode(l, st, nrcpts, NULL, err);
	attr_list_destroy(&l);
	return rc;
}

void deliver_status_free(struct deliver_status *st)
{
	mem_free(st->relay);
	mem_free(st->reason);
	st->relay = st->reason = NULL;
}

/* Text is cut to what fits the limits rather than refused by the reader
 * (an agent's reason may quote a long remote reply); control characters
 * become spaces. */
static void deliver_add_clean(struct attr_list *l, const char *name,
                              const char *v, size_t max)
{
	size_t len = v ? strlen(v) : 0;
	char *copy;

	if (len > max)
		len = max;
	copy = mem_alloc(len + 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		copy[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	copy[len] = '\0';
	attr_add_str(l, name, copy);
	mem_free(copy);
}

int deliver_status_write(struct stream *s, size_t index, int status,
                         const char *dsn, const char *relay, const char *reason)
{
	struct attr_list *l;
	char fallback[8];
	int rc;

	if (status != 2 && status != 4 && status != 5)
		msg_panic("deliver_status_write: bad status %d", status);
	if (dsn == NULL || !deliver_dsn_ok(dsn, status)) {
		/* A code from a remote server may not match its reply: keep
		 * the status, use the class's generic code. */
		if (dsn != NULL)
			msg_warn("deliver_status_write: status %d with code "
			         "\"%.20s\": using %d.0.0",
			         status, dsn, status);
		(void)snprintf(fallback, sizeof(fallback), "%d.0.0", status);
		dsn = fallback;
	}
	l = attr_list_create();
	attr_add_int(l, "index", (long long)index);
	attr_add_int(l, "status", status);
	attr_add_str(l, "dsn", dsn);
	deliver_add_clean(l, "relay", relay, 1024);
	deliver_add_clean(l, "reason", reason, DELIVER_TEXT_MAX);
	rc = attr_write(s, l) < 0 ? -1 : 0;
	attr_list_destroy(&l);
	return rc;
}

int deliver_done_write(struct stream *s)
{
	struct attr_list *l = attr_list_create();
	int rc = 0;

	attr_add_str(l, "done", "1");
	if (attr_write(s, l) < 0 || stream_flush(s) < 0)
		rc = -1;
	attr_list_destroy(&l);
	return rc;
}

/* Postfix's style of delay: two significant digits below 10 seconds,
 * whole seconds above, "0" below 5 ms (rounded to 0.00). */
static void deliver_format_one(double d, struct buf *out)
{
	char tmp[64];
	size_t len;

	if (d < 0.005) {
		buf_append_str(out, "0");
		return;
	}
	if (d >= 10)
		(void)snprintf(tmp, sizeof(tmp), "%.0f", d);
	else if (d >= 1)
		(void)snprintf(tmp, sizeof(tmp), "%.1f", d);
	else
		(void)snprintf(tmp, sizeof(tmp), "%.2f", d);
	len = strlen(tmp);
	if (strchr(tmp, '.') != NULL) {
		while (len > 0 && tmp[len - 1] == '0')
			tmp[--len] = '\0';
		if (len > 0 && tmp[len - 1] == '.')
			tmp[--len] = '\0';
	}
	buf_append_str(out, tmp);
}

static double deliver_span(double from, double to)
{
	return to > from ? to - from : 0;
}

void deliver_format_delays(const struct deliver_request *r,
                           double queue_entered, double conn_setup,
                           double transmit_start, double now, struct buf *out)
{
	double arrival = (double)r->arrival_sec + r->arrival_usec / 1e6;

	/* Each time is at least the one before it (clocks may step). */
	if (queue_entered < arrival)
		queue_entered = arrival;
	if (conn_setup < queue_entered)
		conn_setup = queue_entered;
	if (transmit_start < conn_setup)
		transmit_start = conn_setup;
	if (now < transmit_start)
		now = transmit_start;
	buf_append_str(out, "delay=");
	deliver_format_one(deliver_span(arrival, now), out);
	buf_append_str(out, ", delays=");
	deliver_format_one(deliver_span(arrival, queue_entered), out);
	buf_append_char(out, '/');
	deliver_format_one(deliver_span(queue_entered, conn_setup), out);
	buf_append_char(out, '/');
	deliver_format_one(deliver_span(conn_setup, transmit_start), out);
	buf_append_char(out, '/');
	deliver_format_one(deliver_span(transmit_start, now), out);
}
