/*
 * local_forward.c: alias targets in other domains (neither mydestination
 * nor virtual_mailbox_domains) are forwarded as Postfix's local forwards
 * them: one new message through cleanup (lib/cleanup_client.h) per
 * expanded alias, with the original envelope sender, the original
 * recipient's ORCPT and NOTIFY, the envelope's ENVID and RET, and a
 * "Delivered-To: ALIAS" line in front of the content (so a loop back to
 * this alias is seen, RFC 9228). Success means cleanup has the new queue
 * file on disk: "forwarded as ID".
 * SECURITY: the content is copied as it is from the queue file; cleanup
 * applies its own limits (hop count, size) to the new message.
 */
#include <stdio.h>
#include <string.h>

#include "cleanup_client.h"
#include "local.h"
#include "queue_file.h"

void local_forward(struct local_request *lr, struct local_outcome *o,
                   const char *delivered, struct rewrite_set *rcpts)
{
	const struct deliver_request *req = lr->req;
	const struct deliver_rcpt *top = &req->rcpts[o->index];
	struct buf *err = buf_create(0, 4096);
	struct buf *prefix = buf_create(128, 8192);
	struct cleanup_client *cc;
	struct local_content *lc = NULL;
	struct local_result res;
	char id[QUEUE_ID_MAX];
	const char *data;
	size_t len, n = rewrite_set_count(rcpts);
	int st = -1, r = 0;

	local_result_init(&res);
	if ((cc = cleanup_open(lr->config, 0, err)) == NULL) {
		local_result_set(&res, 4, "4.3.0", "cannot forward: %s",
		                 buf_str(err));
		goto record;
	}
	cleanup_sender(cc, req->sender);
	if (*req->envid)
		cleanup_attr(cc, "envid", req->envid);
	if (*req->ret)
		cleanup_attr(cc, "ret", req->ret);
	for (size_t i = 0; i < n; i++)
		cleanup_rcpt(cc, rewrite_set_at(rcpts, i), top->orcpt,
		             top->notify);
	buf_sprintf(prefix, "Delivered-To: %s\n", delivered);
	cleanup_write(cc, buf_str(prefix), buf_len(prefix));
	if ((lc = local_content_open(lr, err)) != NULL)
		while ((r = local_content_read(lc, &data, &len, err)) == 1)
			if (cleanup_write(cc, data, len) < 0)
				break;
	if (lc == NULL || r < 0) {
		cleanup_abort(&cc);
		local_result_set(&res, 4, "4.3.0", "cannot forward: %s",
		                 buf_str(err));
		goto record;
	}
	st = cleanup_finish(&cc, id, sizeof(id), err);
	if (st == CLEANUP_OK)
		local_result_set(&res, 2, "2.0.0", "forwarded as %s", id);
	else if (st == CLEANUP_PERMFAIL)
		local_result_set(&res, 5, "5.3.0", "cannot forward: %s",
		                 buf_str(err));
	else
		local_result_set(&res, 4, "4.3.0", "cannot forward: %s",
		                 buf_str(err));
	/* cleanup's reason starts with its own enhanced code: use it. */
	if (st != CLEANUP_OK && buf_len(err) >= 5 &&
	    buf_str(err)[0] == '0' + res.status && buf_str(err)[1] == '.') {
		size_t k = strspn(buf_str(err), "0123456789.");

		if (k < sizeof(res.dsn) && k >= 5) {
			memcpy(res.dsn, buf_str(err), k);
			res.dsn[k] = 0;
		}
	}
record:
	for (size_t i = 0; i < n; i++) {
		char key[REWRITE_ADDR_MAX + 3];

		local_record(lr, o, rewrite_set_at(rcpts, i), &res);
		snprintf(key, sizeof(key), "r:%s", rewrite_set_at(rcpts, i));
		local_done_add(lr, key, &res);
	}
	local_content_close(&lc);
	local_result_free(&res);
	buf_destroy(&err);
	buf_destroy(&prefix);
}
