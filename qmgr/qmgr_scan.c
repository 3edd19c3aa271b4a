/*
 * qmgr_scan.c: which queue files enter the active queue, and when.
 * A scan lists incoming/ or deferred/ (sorted by queue ID, that is by
 * arrival) into a cursor; files are then moved into active/ and loaded
 * while the active queue has room (qmgr_message_active_limit messages,
 * qmgr_message_recipient_limit recipients), alternating between the two
 * queues so neither starves the other. A deferred file is taken only
 * when its mtime (its next attempt) has passed. hold/ is never looked at.
 * At start every file left in active/ goes back to incoming/ (crash
 * recovery, as Postfix does): it is delivered again, skipping the
 * recipients already marked done. Such a file, and every deferred one,
 * may have defer/bounce logs from an earlier attempt; other files in
 * incoming/ are new mail, which has none (no probe for them).
 * SECURITY: file names come from queue directories qmgr owns; names that
 * are not well-formed queue IDs are skipped by queue_list_each's caller
 * check below.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "mem.h"
#include "msg.h"
#include "qmgr.h"
#include "queue_list.h"
#include "str.h"

struct qmgr_cursor {
	const char *queue;
	char **ids;
	size_t n, cap, pos;
	bool rescan; /* a scan was asked for while this one was pending */
};

static struct qmgr_cursor qmgr_incoming = {QUEUE_INCOMING, NULL, 0, 0, 0,
                                           false};
static struct qmgr_cursor qmgr_deferred = {QUEUE_DEFERRED, NULL, 0, 0, 0,
                                           false};
static bool qmgr_deferred_turn;
/* The newest queue ID recovered from active/ at start ("" if none):
 * IDs sort by arrival time, so an ID in incoming/ up to this one may be
 * a recovered file (a new message with an older time only costs a probe
 * of its logs). */
static char qmgr_recovered_max[QUEUE_ID_MAX];
/* Most IDs waiting in the incoming cursor that a trigger may add. */
#define QMGR_NAMED_MAX 10000
/* Queue IDs start with 13 hex digits of arrival time. */
#define QMGR_ID_TIME_LEN 13

bool qmgr_has_room(void)
{
	return qmgr.active_count < qmgr.active_limit &&
	       qmgr.rcpt_count < qmgr.rcpt_limit;
}

static void qmgr_cursor_clear(struct qmgr_cursor *cur)
{
	for (size_t i = 0; i < cur->n; i++)
		mem_free(cur->ids[i]);
	mem_free(cur->ids);
	cur->ids = NULL;
	cur->n = cur->cap = cur->pos = 0;
}

static int qmgr_collect(const char *queue, const char *id, const char *path,
                        void *ctx)
{
	struct qmgr_cursor *cur = ctx;

	if (!queue_id_valid(id))
		return 0;
	if (cur->n == cur->cap) {
		cur->cap = cur->cap * 2 + 64;
		cur->ids = mem_realloc(cur->ids, cur->cap * sizeof(*cur->ids));
	}
	cur->ids[cur->n++] = mem_strdup(id);
	return 0;
}

static struct qmgr_cursor *qmgr_cursor_of(const char *queue)
{
	return strcmp(queue, QUEUE_DEFERRED) == 0 ? &qmgr_deferred
	                                          : &qmgr_incoming;
}

void qmgr_scan_run(const char *queue)
{
	struct qmgr_cursor *cur = qmgr_cursor_of(queue);
	struct buf *err = buf_create(64, 4096);

	if (cur->pos < cur->n) {
		/* Still feeding the last listing: list again after it. */
		cur->rescan = true;
		buf_destroy(&err);
		return;
	}
	qmgr_cursor_clear(cur);
	cur->rescan = false;
	if (queue_list_each(qmgr.c, cur->queue, qmgr_collect, cur, err) < 0)
		msg_warn("scan %s: %s", cur->queue, buf_str(err));
	if (msg_verbose)
		msg_info("scan %s: %zu files", cur->queue, cur->n);
	buf_destroy(&err);
	qmgr_feed();
}

void qmgr_scan_new(const char *id)
{
	/* A full active queue leaves named IDs waiting: past a bound (the
	 * trigger socket is open to the postdrop group), the next listing
	 * of incoming/ finds the file instead. */
	if (qmgr_incoming.n - qmgr_incoming.pos >= QMGR_NAMED_MAX) {
		qmgr_scan_incoming();
		return;
	}
	/* Behind whatever the last listing still holds (a listing taken
	 * after the file arrived names it again: the second take finds
	 * it gone and skips it). */
	(void)qmgr_collect(QUEUE_INCOMING, id, NULL, &qmgr_incoming);
	qmgr_feed();
}

/* May the file id of cur have defer/bounce logs from an earlier attempt?
 * Deferred files may; in incoming/ only those recovered from active/ at
 * start (IDs up to the newest of them, compared by arrival time). */
static bool qmgr_may_have_logs(const struct qmgr_cursor *cur, const char *id)
{
	return cur == &qmgr_deferred ||
	       (qmgr_recovered_max[0] != '\0' &&
	        strncmp(id, qmgr_recovered_max, QMGR_ID_TIME_LEN) <= 0);
}

/* Move the next file of cur into active/: true if one was loaded. */
static bool qmgr_take(struct qmgr_cursor *cur)
{
	struct buf *from = buf_create(64, 256), *to = buf_create(64, 256);
	const char *id = cur->ids[cur->pos++];
	bool taken = false;
	long long prev = 0;
	struct stat st;

	queue_path(cur->queue, id, from);
	queue_path(QUEUE_ACTIVE, id, to);
	if (cur == &qmgr_deferred) {
		if (stat(buf_str(from), &st) < 0) {
			if (errno != ENOENT)
				msg_warn("%s: stat %s: %m", id, buf_str(from));
			goto out;
		}
		/* docs/queue-admin.md: the mtime is the next attempt. */
		if (st.st_mtime > time(NULL))
			goto out;
		/* Moving it to deferred/ set its ctime: the end of the
		 * previous attempt. */
		prev = (long long)st.st_ctime;
	}
	if (renameat2(AT_FDCWD, buf_str(from), AT_FDCWD, buf_str(to),
	              RENAME_NOREPLACE) < 0) {
		if (errno != ENOENT)
			msg_warn("%s: move %s to %s: %m", id, buf_str(from),
			         QUEUE_ACTIVE);
		goto out;
	}
	qmgr_message_load(id, prev, qmgr_may_have_logs(cur, id));
	taken = true;
out:
	buf_destroy(&from);
	buf_destroy(&to);
	return taken;
}

void qmgr_feed(void)
{
	struct qmgr_cursor *order[2];

	while (qmgr_has_room()) {
		/* Alternate, so a flood of new mail does not starve the
		 * deferred queue, nor the reverse. */
		qmgr_deferred_turn = !qmgr_deferred_turn;
		order[0] = qmgr_deferred_turn ? &qmgr_deferred : &qmgr_incoming;
		order[1] = qmgr_deferred_turn ? &qmgr_incoming : &qmgr_deferred;
		if (order[0]->pos < order[0]->n)
			(void)qmgr_take(order[0]);
		else if (order[1]->pos < order[1]->n)
			(void)qmgr_take(order[1]);
		else
			break;
	}
	if (qmgr_incoming.pos >= qmgr_incoming.n && qmgr_incoming.n > 0) {
		qmgr_cursor_clear(&qmgr_incoming);
		if (qmgr_incoming.rescan)
			qmgr_scan_incoming();
	}
	if (qmgr_deferred.pos >= qmgr_deferred.n && qmgr_deferred.n > 0) {
		qmgr_cursor_clear(&qmgr_deferred);
		if (qmgr_deferred.rescan)
			qmgr_scan_deferred(false);
	}
}

static int qmgr_recover_one(const char *queue, const char *id, const char *path,
                            void *ctx)
{
	struct buf *to = buf_create(64, 256);
	long *count = ctx;

	queue_path(QUEUE_INCOMING, id, to);
	if (strcmp(id, qmgr_recovered_max) > 0)
		(void)str_copy(qmgr_recovered_max, sizeof(qmgr_recovered_max),
		               id);
	if (renameat2(AT_FDCWD, path, AT_FDCWD, buf_str(to), RENAME_NOREPLACE) <
	    0)
		msg_warn("%s: move %s back to %s: %m", id, path,
		         QUEUE_INCOMING);
	else
		(*count)++;
	buf_destroy(&to);
	return 0;
}

void qmgr_recover_active(void)
{
	struct buf *err = buf_create(64, 4096);
	long count = 0;

	if (queue_list_each(qmgr.c, QUEUE_ACTIVE, qmgr_recover_one, &count,
	                    err) < 0)
		msg_warn("scan %s: %s", QUEUE_ACTIVE, buf_str(err));
	if (count > 0)
		msg_info("%ld message%s left in %s by an earlier run: "
		         "delivering again",
		         count, count == 1 ? "" : "s", QUEUE_ACTIVE);
	buf_destroy(&err);
}
