/*
 * local.c: the local delivery agent (DESIGN.md: local): main() on the
 * single-server skeleton, delivery requests from qmgr one after the other
 * on a connection qmgr keeps (lib/deliver.h, docs/ipc.md "delivery"). For each recipient it expands
 * aliases and delivers (local_expand.c), logs every final delivery the
 * Postfix way ("ID: to=<u@d>, orig_to=<a@d>, relay=local (or virtual), delay=0.05,
 * delays=0.01/0/0/0.04, dsn=2.0.0, status=sent (delivered to maildir)")
 * and answers one status per recipient: 4 when any of its deliveries must
 * be retried, else 5 when one failed for good, else 2.
 * Owns the per-request state (struct local_request) and the outcome
 * bookkeeping (duplicate final targets within a request are delivered
 * once, as Postfix's local does).
 * SECURITY: master.cf runs local as root ("unpriv n"): it reads the queue
 * file as root, writes Maildirs as vmail_owner (local_mailbox.c) and runs
 * |command, /file and :include: targets in children that become
 * default_privs for good (local_child.c). The request comes from qmgr and
 * is checked by lib/deliver.c; the queue ID names the file, the queue
 * name is one of a fixed set.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "deliver.h"
#include "local.h"
#include "mem.h"
#include "msg.h"
#include "queue_file.h"
#include "server.h"
#include "str.h"

/* Set in post_init, for the process's life. */
static struct local_privs local_vmail, local_default_privs;
static struct domain_list *local_mydestination, *local_virtual_domains;
static struct maps *local_aliases;

double local_now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

/* ---- results and outcomes ---- */

void local_result_init(struct local_result *res)
{
	memset(res, 0, sizeof(*res));
	res->reason = buf_create(128, 4096);
	res->started = local_now();
}

void local_result_free(struct local_result *res)
{
	buf_destroy(&res->reason);
}

void local_result_set(struct local_result *res, int status, const char *dsn,
                      const char *fmt, ...)
{
	char text[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	res->status = status;
	str_copy(res->dsn, sizeof(res->dsn), dsn);
	/* The reason ends up in log lines and DSNs: one line. */
	for (char *p = text; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	buf_set_str(res->reason, text);
}

/* Which of two outcomes the recipient reports: a retry beats a failure
 * (the failure comes back at the retry), a failure beats success. */
static int local_rank(int status)
{
	return status == 4 ? 3 : status == 5 ? 2 : status == 2 ? 1 : 0;
}

void local_fold(struct local_outcome *o, const struct local_result *res)
{
	o->attempts++;
	if (res->status == 2)
		o->delivered++;
	if (local_rank(res->status) > local_rank(o->status)) {
		o->status = res->status;
		str_copy(o->dsn, sizeof(o->dsn), res->dsn);
		buf_set_str(o->reason, buf_str(res->reason));
	}
}

/* The relay= word: the transport qmgr used ("local", "virtual"), as
 * Postfix's local and virtual agents log their own names. */
static const char *local_relay(const struct deliver_request *req)
{
	return req->transport != NULL && *req->transport ? req->transport
	                                                 : "local";
}

void local_record(struct local_request *lr, struct local_outcome *o,
                  const char *to, const struct local_result *res)
{
	struct buf *delays = buf_create(128, 1024);
	const char *word = res->status == 2   ? "sent"
	                   : res->status == 4 ? "deferred"
	                                      : "bounced";

	deliver_format_delays(lr->req, lr->received, lr->received, res->started,
	                      local_now(), delays);
	if (str_eq_ci(to, o->top))
		msg_info("%s: to=<%s>, relay=%s, %s, dsn=%s, status=%s (%s)",
		         lr->req->queue_id, to, local_relay(lr->req),
		         buf_str(delays), res->dsn, word, buf_str(res->reason));
	else
		msg_info("%s: to=<%s>, orig_to=<%s>, relay=%s, %s, dsn=%s, "
		         "status=%s (%s)",
		         lr->req->queue_id, to, o->top, local_relay(lr->req),
		         buf_str(delays), res->dsn, word, buf_str(res->reason));
	buf_destroy(&delays);
	local_fold(o, res);
}

/* ---- final targets already delivered in this request ---- */

struct local_done {
	char **keys;
	struct local_result *res;
	size_t *slots; /* open addressing: index + 1, 0 empty */
	size_t n, cap, nslots;
};

static size_t local_done_hash(const char *key)
{
	size_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ (*p >= 'A' && *p <= 'Z' ? *p + 32 : *p)) * 16777619u;
	return h;
}

static size_t *local_done_slot(struct local_done *d, const char *key)
{
	size_t i = local_done_hash(key) & (d->nslots - 1);

	while (d->slots[i] != 0 && !str_eq_ci(d->keys[d->slots[i] - 1], key))
		i = (i + 1) & (d->nslots - 1);
	return &d->slots[i];
}

bool local_done_find(struct local_request *lr, const char *key,
                     struct local_result *res)
{
	struct local_done *d = lr->done;
	size_t *slot;

	if (d == NULL || d->n == 0)
		return false;
	slot = local_done_slot(d, key);
	if (*slot == 0)
		return false;
	res->status = d->res[*slot - 1].status;
	str_copy(res->dsn, sizeof(res->dsn), d->res[*slot - 1].dsn);
	buf_set_str(res->reason, buf_str(d->res[*slot - 1].reason));
	return true;
}

void local_done_add(struct local_request *lr, const char *key,
                    const struct local_result *res)
{
	struct local_done *d = lr->done;

	if (d == NULL)
		d = lr->done = mem_zalloc(sizeof(*d));
	if (2 * (d->n + 1) > d->nslots) {
		size_t nslots = d->nslots ? 2 * d->nslots : 64;

		mem_free(d->slots);
		d->slots = mem_array(nslots, sizeof(*d->slots));
		memset(d->slots, 0, nslots * sizeof(*d->slots));
		d->nslots = nslots;
		for (size_t i = 0; i < d->n; i++)
			*local_done_slot(d, d->keys[i]) = i + 1;
	}
	if (*local_done_slot(d, key) != 0)
		return;
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 32;
		d->keys = mem_realloc(d->keys, d->cap * sizeof(*d->keys));
		d->res = mem_realloc(d->res, d->cap * sizeof(*d->res));
	}
	d->keys[d->n] = mem_strdup(key);
	d->res[d->n].status = res->status;
	str_copy(d->res[d->n].dsn, sizeof(d->res[d->n].dsn), res->dsn);
	d->res[d->n].reason = buf_create(0, 4096);
	buf_set_str(d->res[d->n].reason, buf_str(res->reason));
	d->n++;
	*local_done_slot(d, key) = d->n;
}

static void local_done_free(struct local_done **dp)
{
	struct local_done *d = *dp;

	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n; i++) {
		mem_free(d->keys[i]);
		buf_destroy(&d->res[i].reason);
	}
	mem_free(d->keys);
	mem_free(d->res);
	mem_free(d->slots);
	mem_free(d);
	*dp = NULL;
}

/* ---- the request ---- */

/* The tables local reads, opened once per process (maps notice a rebuilt
 * lmdb file by themselves). -1 with the reason: the request is deferred. */
static int local_open_tables(struct config *c, struct buf *err)
{
	if (local_mydestination == NULL &&
	    (local_mydestination =
	         domain_list_from_config(c, "mydestination", err)) == NULL)
		return -1;
	if (local_virtual_domains == NULL &&
	    (local_virtual_domains = domain_list_from_config(
	         c, "virtual_mailbox_domains", err)) == NULL)
		return -1;
	return 0;
}

struct maps *local_alias_maps(struct local_request *lr, struct buf *err)
{
	/* Opened at the first alias lookup: mail for virtual domains needs
	 * no alias table, and goes on flowing when it is missing. */
	if (local_aliases == NULL)
		local_aliases =
		    maps_open(config_str(lr->config, "alias_maps"), err);
	return local_aliases;
}

/* Is word in the list parameter (allow_mail_to_commands, ...)? */
static bool local_list_has(struct config *c, const char *param,
                           const char *word)
{
	char *list = mem_strdup(config_str(c, param));
	char *p = list, *w;
	bool found = false;

	while ((w = str_token(&p, ", \t")) != NULL)
		if (str_eq_ci(w, word))
			found = true;
	mem_free(list);
	return found;
}

/* Answer every recipient with the same temporary failure. */
static void local_defer_all(struct stream *client,
                            const struct deliver_request *req,
                            const char *reason)
{
	msg_warn("%s: %s", req->queue_id, reason);
	for (size_t i = 0; i < req->nrcpts; i++)
		deliver_status_write(client, i, 4, "4.3.0", local_relay(req),
		                     reason);
}

static void local_deliver(struct stream *client, struct config *c,
                          const struct deliver_request *req, double received)
{
	struct local_request lr;
	struct buf *path = buf_create(256, 8192);
	struct buf *err = buf_create(0, 4096);

	memset(&lr, 0, sizeof(lr));
	lr.qfd = -1;
	lr.config = c;
	lr.req = req;
	lr.received = received;
	lr.vmail = local_vmail;
	lr.privs = local_default_privs;
	lr.delimiter = config_str(c, "recipient_delimiter");
	lr.cmd_alias = local_list_has(c, "allow_mail_to_commands", "alias");
	lr.cmd_include = local_list_has(c, "allow_mail_to_commands", "include");
	lr.file_alias = local_list_has(c, "allow_mail_to_files", "alias");
	lr.file_include = local_list_has(c, "allow_mail_to_files", "include");
	lr.quota_bounce = config_bool(c, "mailbox_over_quota_bounce");
	lr.time_limit = config_time(c, "command_time_limit");
	lr.mbox_limit = config_size(c, "mailbox_size_limit");
	lr.delivered_to = rewrite_set_create();

	if (local_open_tables(c, err) < 0) {
		buf_printf(path, "local configuration: %s", buf_str(err));
		local_defer_all(client, req, buf_str(path));
		goto out;
	}
	lr.mydestination = local_mydestination;
	lr.virtual_domains = local_virtual_domains;
	buf_sprintf(path, "%s/", config_str(c, "queue_directory"));
	{
		struct buf *rel = buf_create(64, 1024);

		queue_path(req->queue_name, req->queue_id, rel);
		buf_append_str(path, buf_str(rel));
		buf_destroy(&rel);
	}
	lr.qfd = open(buf_str(path), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (lr.qfd < 0) {
		buf_sprintf(err, "cannot open queue file %s: %s", buf_str(path),
		            strerror(errno));
		local_defer_all(client, req, buf_str(err));
		goto out;
	}
	if (local_content_delivered_to(&lr, err) < 0) {
		local_defer_all(client, req, buf_str(err));
		goto out;
	}
	for (size_t i = 0; i < req->nrcpts; i++) {
		struct local_outcome o;

		memset(&o, 0, sizeof(o));
		o.index = i;
		o.top = req->rcpts[i].address;
		o.reason = buf_create(128, 4096);
		local_expand(&lr, &o);
		if (o.status == 0) {
			/* Nothing to deliver to (an empty :include: file,
			 * only include loops): done, as in Postfix. */
			o.status = 2;
			str_copy(o.dsn, sizeof(o.dsn), "2.0.0");
			buf_set_str(o.reason, "alias expanded to no "
			                      "destinations");
		} else if (o.status == 2 && o.delivered > 1) {
			buf_sprintf(o.reason,
			            "delivered to %d destinations (alias "
			            "expansion)",
			            o.delivered);
		}
		deliver_status_write(client, i, o.status, o.dsn,
		                     local_relay(req), buf_str(o.reason));
		buf_destroy(&o.reason);
	}
out:
	if (deliver_done_write(client) < 0)
		msg_warn("%s: lost the connection to qmgr before the end",
		         req->queue_id);
	if (lr.qfd >= 0)
		close(lr.qfd);
	rewrite_set_destroy(&lr.delivered_to);
	local_done_free(&lr.done);
	buf_destroy(&path);
	buf_destroy(&err);
}

/* One request on the connection: false when it could not be read. */
static bool local_request(struct stream *client, const struct server_info *si)
{
	struct deliver_request req;
	struct buf *err = buf_create(0, 4096);

	if (deliver_request_read(client, &req, err) < 0) {
		msg_warn("malformed delivery request: %s", buf_str(err));
		buf_destroy(&err);
		return false;
	}
	local_deliver(client, si->config, &req, local_now());
	deliver_request_free(&req);
	buf_destroy(&err);
	return true;
}

/* qmgr keeps the connection for its next request (docs/ipc.md). */
static void local_service(struct stream *client, const struct server_info *si)
{
	long long timeout = config_time(si->config, "ipc_timeout") * 1000;

	stream_set_timeouts(client, (int)timeout, (int)timeout);
	while (local_request(client, si) && single_server_next_request(client))
		;
}

/* An account by name, for local_privs. */
static void local_privs_lookup(struct config *c, const char *param,
                               struct local_privs *p)
{
	const char *name = config_str(c, param);
	struct passwd *pw;

	p->name = name;
	p->switch_ids = geteuid() == 0;
	if (!p->switch_ids) {
		/* An unprivileged instance: everything runs as its user. */
		p->uid = geteuid();
		p->gid = getegid();
		return;
	}
	if ((pw = getpwnam(name)) == NULL)
		msg_fatal("%s: unknown user '%s'", param, name);
	if (pw->pw_uid == 0)
		msg_fatal("%s: %s has uid 0: refusing to deliver as root",
		          param, name);
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
}

static void local_post_init(const struct server_info *si)
{
	local_privs_lookup(si->config, "vmail_owner", &local_vmail);
	local_privs_lookup(si->config, "default_privs", &local_default_privs);
	if (local_default_privs.switch_ids &&
	    local_default_privs.uid == local_vmail.uid)
		msg_fatal("default_privs and vmail_owner are the same account "
		          "(%s): pipes would own every mailbox",
		          local_vmail.name);
}

static void local_pre_exit(const struct server_info *si)
{
	domain_list_destroy(&local_mydestination);
	domain_list_destroy(&local_virtual_domains);
	maps_close(&local_aliases);
}

int main(int argc, char **argv)
{
	static const struct server_callbacks cb = {
	    .post_init = local_post_init,
	    .service = local_service,
	    .pre_exit = local_pre_exit,
	};

	single_server_main(argc, argv, &cb);
}
