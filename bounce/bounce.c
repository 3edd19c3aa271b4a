/*
 * bounce.c: the bounce daemon (single_server skeleton): one request per
 * connection from qmgr, {request=bounce|delay|success, queue_id,
 * queue_name, nrcpt} and, for success notices, nrcpt recipient messages
 * (docs/ipc.md, "bounce"); answers {status=0, queue_id} or {status=4,
 * reason} once the notice is queued (bounce_notify.c).
 * SECURITY: the request comes from a peer daemon and is still checked:
 * small attribute limits, a well-formed queue ID, a queue name from a
 * fixed list (no path), at most cleanup_recipient_limit recipients, and
 * every read bounded by ipc_timeout. A malformed request is logged and
 * the connection dropped without an answer.
 */
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "attr.h"
#include "bounce.h"
#include "mem.h"
#include "msg.h"
#include "queue_file.h"
#include "server.h"
#include "str.h"

struct bounce_params bounce_params;

/* Request limits: a handful of attributes; reasons from remote servers
 * may be long, but not longer than this. */
static const struct attr_limits bounce_req_limits = {16, 32, 16384, 65536};

static int bounce_ipc_timeout_ms;
static long long bounce_rcpt_limit;

/* Queues a message can be reported from. */
static bool bounce_queue_ok(const char *name)
{
	static const char *const ok[] = {QUEUE_ACTIVE, QUEUE_DEFERRED,
	                                 QUEUE_INCOMING, QUEUE_HOLD};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(name, ok[i]) == 0)
			return true;
	return false;
}

static void bounce_req_free(struct bounce_req *req)
{
	for (size_t i = 0; i < req->nrcpts; i++) {
		mem_free(req->rcpts[i].address);
		mem_free(req->rcpts[i].orcpt);
		mem_free(req->rcpts[i].dsn);
		mem_free(req->rcpts[i].relay);
		mem_free(req->rcpts[i].reason);
	}
	mem_free(req->rcpts);
	mem_free(req->queue_id);
	mem_free(req->queue_name);
	memset(req, 0, sizeof(*req));
}

/* A text attribute without NUL bytes, or NULL. */
static const char *bounce_text(const struct attr_list *m, const char *name)
{
	size_t len;
	const char *v = attr_get(m, name, &len);

	return v && str_no_nul(v, len) ? v : NULL;
}

static int bounce_read_rcpt(struct stream *s, struct attr_list *m,
                            struct bounce_req_rcpt *r, struct buf *err)
{
	static const char *const need[] = {"rcpt",   "dsn",    "relay",
	                                   "reason", "action", NULL};
	const char *addr, *orcpt, *dsn, *relay, *reason, *action;
	int rc = attr_read(s, m, &bounce_req_limits, err);

	if (rc != 0) {
		if (rc != ATTR_MALFORMED)
			buf_set_str(err, "lost connection in the recipients");
		return -1;
	}
	if (attr_require(m, need, err) < 0)
		return -1;
	addr = bounce_text(m, "rcpt");
	dsn = bounce_text(m, "dsn");
	relay = bounce_text(m, "relay");
	reason = bounce_text(m, "reason");
	action = bounce_text(m, "action");
	orcpt = attr_get(m, "orcpt", NULL) ? bounce_text(m, "orcpt") : "";
	if (!addr || !*addr || !dsn || !relay || !reason || !action || !orcpt) {
		buf_set_str(err, "bad recipient attribute");
		return -1;
	}
	if (strcmp(action, "delivered") == 0)
		r->action = DSN_ACTION_DELIVERED;
	else if (strcmp(action, "relayed") == 0)
		r->action = DSN_ACTION_RELAYED;
	else if (strcmp(action, "expanded") == 0)
		r->action = DSN_ACTION_EXPANDED;
	else {
		buf_sprintf(err, "bad action \"%s\"", action);
		return -1;
	}
	r->address = mem_strdup(addr);
	r->orcpt = attr_get(m, "orcpt", NULL) ? mem_strdup(orcpt) : NULL;
	r->dsn = mem_strdup(dsn);
	r->relay = mem_strdup(relay);
	r->reason = mem_strdup(reason);
	return 0;
}

/* Read a whole request; -1 with the reason in err (EOF before the first
 * byte: -1 with err empty). */
static int bounce_read_request(struct stream *s, struct bounce_req *req,
                               struct buf *err)
{
	static const char *const need[] = {"request", "queue_id", "queue_name",
	                                   "nrcpt", NULL};
	struct attr_list *m = attr_list_create();
	const char *kind, *id, *queue;
	long long n;
	int rc, ret = -1;

	memset(req, 0, sizeof(*req));
	rc = attr_read(s, m, &bounce_req_limits, err);
	if (rc != 0) {
		if (rc == STREAM_EOF)
			buf_reset(err);
		else if (rc != ATTR_MALFORMED)
			buf_set_str(err, rc == STREAM_TIMEOUT ? "timeout"
			                                      : "read error");
		goto out;
	}
	if (attr_require(m, need, err) < 0)
		goto out;
	kind = bounce_text(m, "request");
	id = bounce_text(m, "queue_id");
	queue = bounce_text(m, "queue_name");
	if (kind == NULL || bounce_kind_parse(kind) < 0) {
		buf_set_str(err, "unknown request");
		goto out;
	}
	if (id == NULL || !queue_id_valid(id)) {
		buf_set_str(err, "bad queue_id");
		goto out;
	}
	if (queue == NULL || !bounce_queue_ok(queue)) {
		buf_set_str(err, "bad queue_name");
		goto out;
	}
	req->kind = (enum bounce_kind)bounce_kind_parse(kind);
	if (attr_get_int(m, "nrcpt", 0,
	                 req->kind == BOUNCE_SUCCESS ? bounce_rcpt_limit : 0,
	                 &n) < 0) {
		buf_set_str(err, "bad nrcpt");
		goto out;
	}
	req->queue_id = mem_strdup(id);
	req->queue_name = mem_strdup(queue);
	if (n > 0)
		req->rcpts = mem_array((size_t)n, sizeof(*req->rcpts));
	for (long long i = 0; i < n; i++) {
		if (bounce_read_rcpt(s, m, &req->rcpts[i], err) < 0)
			goto out;
		req->nrcpts++;
	}
	ret = 0;
out:
	attr_list_destroy(&m);
	return ret;
}

static void bounce_service(struct stream *client, const struct server_info *si)
{
	struct buf *err = buf_create(256, 4096), *newid = buf_create(64, 256),
	           *reason = buf_create(256, 4096);
	struct attr_list *reply = attr_list_create();
	struct bounce_req req;

	stream_set_timeouts(client, bounce_ipc_timeout_ms,
	                    bounce_ipc_timeout_ms);
	if (bounce_read_request(client, &req, err) < 0) {
		if (buf_len(err) > 0)
			msg_warn("bounce protocol error: %s: connection "
			         "dropped",
			         buf_str(err));
		goto out;
	}
	if (bounce_notify(&req, newid, reason) == 0) {
		attr_add_int(reply, "status", 0);
		if (buf_len(newid) > 0)
			attr_add_str(reply, "queue_id", buf_str(newid));
	} else {
		attr_add_int(reply, "status", 4);
		attr_add_str(reply, "reason", buf_str(reason));
	}
	if (attr_write(client, reply) < 0 || stream_flush(client) != 0)
		msg_warn("%s: bounce: cannot send the answer to qmgr",
		         req.queue_id);
out:
	bounce_req_free(&req);
	attr_list_destroy(&reply);
	buf_destroy(&err);
	buf_destroy(&newid);
	buf_destroy(&reason);
}

/* Does the notify_classes list name class? */
static bool bounce_notify_class(const char *list, const char *class)
{
	char *copy = mem_strdup(list), *p = copy, *word;
	bool found = false;

	while ((word = str_token(&p, ", \t\r\n")) != NULL)
		if (str_eq_ci(word, class))
			found = true;
	mem_free(copy);
	return found;
}

static void bounce_post_init(const struct server_info *si)
{
	struct config *c = si->config;
	long long timeout = config_time(c, "ipc_timeout");
	const char *classes = config_str(c, "notify_classes");

	bounce_params.config = c;
	bounce_params.myhostname = config_str(c, "myhostname");
	bounce_params.size_limit = (size_t)config_size(c, "bounce_size_limit");
	bounce_params.max_lifetime = config_time(c, "maximal_queue_lifetime");
	bounce_params.twobounce_rcpt =
	    config_str(c, "2bounce_notice_recipient");
	bounce_params.bounce_rcpt = config_str(c, "bounce_notice_recipient");
	bounce_params.notify_2bounce = bounce_notify_class(classes, "2bounce");
	bounce_params.notify_bounce = bounce_notify_class(classes, "bounce");
	bounce_ipc_timeout_ms =
	    timeout > INT_MAX / 1000 ? INT_MAX : (int)timeout * 1000;
	bounce_rcpt_limit = config_int(c, "cleanup_recipient_limit");
	/* Queue paths are relative from here on (chroot or not). */
	if (!si->chrooted && chdir(config_str(c, "queue_directory")) < 0)
		msg_fatal("chdir %s: %m", config_str(c, "queue_directory"));
}

int main(int argc, char **argv)
{
	static const struct server_callbacks cb = {
	    .post_init = bounce_post_init,
	    .service = bounce_service,
	};

	single_server_main(argc, argv, &cb);
}
