/*
 * bounce_client.c: the client side of the bounce protocol (docs/ipc.md,
 * "bounce"), used by qmgr: one request per connection, {request, queue_id,
 * queue_name, nrcpt}, then nrcpt recipient messages (success notices
 * only); the service answers {status=0[, queue_id]} or {status=4,
 * reason}. Also the reason field of bounce/defer log lines
 * ("D.S.N text"), written by qmgr and read by the bounce service.
 * Every write and the wait for the answer are bounded by ipc_timeout.
 * SECURITY: the answer comes from a peer daemon and is still checked
 * (small limits, a numeric status, a bounded reason).
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
#include "bounce_client.h"
#include "server_listen.h"
#include "dsn.h"
#include "mem.h"
#include "msg.h"
#include "queue_file.h"
#include "queue_list.h"
#include "str.h"

/* Answer limits: a few short attributes. */
static const struct attr_limits bounce_reply_limits = {8, 32, 1024, 4096};

static const char *const bounce_kind_names[] = {
    [BOUNCE_FAILURE] = "bounce",
    [BOUNCE_DELAY] = "delay",
    [BOUNCE_SUCCESS] = "success",
};

const char *bounce_kind_name(enum bounce_kind kind)
{
	if ((size_t)kind >=
	    sizeof(bounce_kind_names) / sizeof(bounce_kind_names[0]))
		msg_panic("bounce_kind_name: bad kind %d", (int)kind);
	return bounce_kind_names[kind];
}

int bounce_kind_parse(const char *name)
{
	for (size_t i = 0;
	     i < sizeof(bounce_kind_names) / sizeof(bounce_kind_names[0]); i++)
		if (strcmp(name, bounce_kind_names[i]) == 0)
			return (int)i;
	return -1;
}

static int bounce_timeout_ms(struct config *c)
{
	long long t = config_time(c, "ipc_timeout");

	return t > INT_MAX / 1000 ? INT_MAX : (int)t * 1000;
}

/* Connect to queue_directory/private/bounce with a bounded connect. */
static int bounce_connect(struct config *c, int timeout_ms, struct buf *reason)
{
	struct buf *path = buf_create(0, 4096), *err = buf_create(0, 4096);
	int fd;

	buf_sprintf(path, "%s/private/%s", config_str(c, "queue_directory"),
	            BOUNCE_SERVICE);
	if ((fd = server_unix_connect(buf_str(path), timeout_ms, err)) < 0)
		buf_sprintf(reason, "4.3.0 bounce service: %s", buf_str(err));
	buf_destroy(&path);
	buf_destroy(&err);
	return fd;
}

int bounce_request_send(struct config *c, enum bounce_kind kind,
                        const char *queue_id, const char *queue_name,
                        const struct bounce_rcpt *rcpts, size_t nrcpts,
                        struct buf *reason)
{
	int timeout_ms = bounce_timeout_ms(c);
	struct attr_list *m;
	struct stream *s;
	int fd, ret = 0;

	if (kind != BOUNCE_SUCCESS && (rcpts != NULL || nrcpts != 0))
		msg_panic("bounce_request: recipients given for %s",
		          bounce_kind_name(kind));
	if (!queue_id_valid(queue_id))
		msg_panic("bounce_request: bad queue ID");
	if ((fd = bounce_connect(c, timeout_ms, reason)) < 0)
		return -1;
	s = stream_open(fd);
	stream_set_timeouts(s, timeout_ms, timeout_ms);
	m = attr_list_create();
	attr_add_str(m, "request", bounce_kind_name(kind));
	attr_add_str(m, "queue_id", queue_id);
	attr_add_str(m, "queue_name", queue_name);
	attr_add_int(m, "nrcpt", (long long)nrcpts);
	if (attr_write(s, m) < 0)
		ret = -1;
	for (size_t i = 0; i < nrcpts && ret == 0; i++) {
		const struct bounce_rcpt *r = &rcpts[i];

		attr_list_reset(m);
		attr_add_str(m, "rcpt", r->address);
		if (r->orcpt)
			attr_add_str(m, "orcpt", r->orcpt);
		attr_add_str(m, "dsn", r->dsn && *r->dsn ? r->dsn : "2.0.0");
		attr_add_str(m, "relay", r->relay ? r->relay : "");
		attr_add_str(m, "reason", r->reason ? r->reason : "");
		attr_add_str(m, "action", r->relayed ? "relayed" : "delivered");
		if (attr_write(s, m) < 0)
			ret = -1;
	}
	if (ret == 0 && stream_flush(s) != 0)
		ret = -1;
	attr_list_destroy(&m);
	if (ret < 0) {
		buf_set_str(reason, "4.3.0 bounce service: write error");
		stream_close(&s);
		return -1;
	}
	return stream_release(&s);
}

int bounce_request_wait(int fd, int timeout_ms, struct buf *reason)
{
	struct stream *s = stream_open(fd);
	struct attr_list *reply = attr_list_create();
	struct buf *err = buf_create(256, 1024);
	const char *why;
	long long status;
	int ret = -1, r;

	stream_set_timeouts(s, timeout_ms, timeout_ms);
	r = attr_read(s, reply, &bounce_reply_limits, err);
	if (r != 0) {
		buf_sprintf(reason, "4.3.0 bounce service: %s",
		            r == STREAM_EOF       ? "lost connection"
		            : r == STREAM_TIMEOUT ? "timeout"
		            : r == ATTR_MALFORMED ? buf_str(err)
		                                  : "read error");
	} else if (attr_get_int(reply, "status", 0, 5, &status) < 0) {
		buf_set_str(reason, "4.3.0 bounce service: malformed reply");
	} else if (status == 0) {
		buf_reset(reason);
		ret = 0;
	} else {
		why = attr_get(reply, "reason", NULL);
		buf_sprintf(reason, "%s",
		            why && *why ? why
		                        : "4.3.0 bounce service "
		                          "error");
	}
	attr_list_destroy(&reply);
	buf_destroy(&err);
	stream_close(&s);
	return ret;
}

int bounce_request(struct config *c, enum bounce_kind kind,
                   const char *queue_id, const char *queue_name,
                   const struct bounce_rcpt *rcpts, size_t nrcpts,
                   struct buf *reason)
{
	int fd = bounce_request_send(c, kind, queue_id, queue_name, rcpts,
	                             nrcpts, reason);

	if (fd < 0)
		return -1;
	return bounce_request_wait(fd, bounce_timeout_ms(c), reason);
}

/* ---- log reasons ---- */

void bounce_log_format(const char *rcpt, const char *dsn, const char *text,
                       struct buf *out)
{
	struct buf *field = buf_create(256, 0);

	if (dsn && dsn_status_len(dsn) == strlen(dsn) && *dsn)
		buf_printf(field, "%s %s", dsn, text ? text : "");
	else
		buf_set_str(field, text ? text : "");
	queue_list_defer_encode(rcpt, buf_str(field), out);
	buf_destroy(&field);
}

void bounce_log_reason_parse(const char *reason, const char *def_dsn,
                             struct bounce_log_reason *out)
{
	size_t n = dsn_status_len(reason);
	const char *p;

	if (n > 0 && n < sizeof(out->dsn)) {
		memcpy(out->dsn, reason, n);
		out->dsn[n] = 0;
		reason += n;
		while (*reason == ' ' || *reason == '\t')
			reason++;
		out->text = reason;
		return;
	}
	out->text = reason;
	(void)str_copy(out->dsn, sizeof(out->dsn), def_dsn);
	/* "host x[a] said: 550 5.1.1 text": the code after the reply code,
	 * when its class agrees with the default's (a 4xx answer does not
	 * make a bounce a delay). */
	if ((p = strstr(reason, " said: ")) != NULL) {
		p += 7;
		if (p[0] >= '2' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' &&
		    p[2] >= '0' && p[2] <= '9' && p[3] == ' ' &&
		    p[4] == def_dsn[0] && (n = dsn_status_len(p + 4)) > 0 &&
		    n < sizeof(out->dsn)) {
			memcpy(out->dsn, p + 4, n);
			out->dsn[n] = 0;
		}
	}
}
