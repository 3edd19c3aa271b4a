/*
 * local_mailbox.c: delivery into a virtual user's Maildir
 * (mail_root/DOMAIN/USER, lib/users.h) with lib/maildir.c, as
 * vmail_owner: the effective ids (and the group list) switch to vmail
 * around the write and back to root afterwards. A missing Maildir is
 * created first (owned by vmail). Return-Path, X-Original-To and
 * Delivered-To go first, as Postfix's virtual and local agents write
 * them; the quota is the users map's (mailbox_over_quota_bounce decides
 * between 4.2.2 and 5.2.2).
 * SECURITY: every file of the mailbox is created with vmail's effective
 * ids, so a hostile mailbox (symlinks, odd files) can do no more than
 * vmail could; lib/maildir.c opens with O_NOFOLLOW|O_EXCL. A failure to
 * switch back to root is fatal (the process exits rather than carry on
 * with mixed ids).
 */
#include <errno.h>
#include <grp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "local.h"
#include "maildir.h"
#include "msg.h"
#include "users.h"

#define LOCAL_GROUPS_MAX 64

static gid_t local_root_groups[LOCAL_GROUPS_MAX];
static int local_root_ngroups = -1;
static gid_t local_root_egid;

/* Switch the effective ids to p (when running as root). */
static int local_become(const struct local_privs *p, struct buf *err)
{
	if (!p->switch_ids)
		return 0;
	if (local_root_ngroups < 0) {
		local_root_egid = getegid();
		local_root_ngroups =
		    getgroups(LOCAL_GROUPS_MAX, local_root_groups);
		if (local_root_ngroups < 0)
			local_root_ngroups = 0;
	}
	if (setgroups(1, &p->gid) < 0 || setegid(p->gid) < 0 ||
	    seteuid(p->uid) < 0) {
		buf_sprintf(err, "cannot switch to %s: %s", p->name,
		            strerror(errno));
		if (seteuid(0) < 0 || setegid(local_root_egid) < 0 ||
		    setgroups((size_t)local_root_ngroups, local_root_groups) <
		        0)
			msg_fatal("cannot switch back to root: %m");
		return -1;
	}
	return 0;
}

static void local_unbecome(const struct local_privs *p)
{
	if (!p->switch_ids)
		return;
	if (seteuid(0) < 0 || setegid(local_root_egid) < 0 ||
	    setgroups((size_t)local_root_ngroups, local_root_groups) < 0)
		msg_fatal("cannot switch back to root: %m");
}

/* Do cur, new and tmp exist? */
static bool local_maildir_ok(const char *path)
{
	static const char *const subs[] = {"cur", "new", "tmp"};
	struct buf *p = buf_create(256, 8192);
	struct stat st;
	bool ok = true;

	for (size_t i = 0; i < 3 && ok; i++) {
		buf_sprintf(p, "%s/%s", path, subs[i]);
		ok = stat(buf_str(p), &st) == 0 && S_ISDIR(st.st_mode);
	}
	buf_destroy(&p);
	return ok;
}

void local_mailbox(struct local_request *lr, struct local_outcome *o,
                   const char *address, long long quota, const char *delivered,
                   struct local_result *res)
{
	struct buf *path = buf_create(256, 8192);
	struct buf *prefix = buf_create(256, 16384);
	struct buf *name = buf_create(128, 8192);
	struct buf *reason = buf_create(128, 4096);
	struct local_content *lc = NULL;
	char dsn[16];
	int st;

	if (users_maildir(lr->config, address, path) < 0) {
		local_result_set(res, 5, "5.1.3",
		                 "mailbox name of %s is unsafe as a path",
		                 address);
		goto out;
	}
	if (!local_maildir_ok(buf_str(path)) &&
	    users_maildir_create(lr->config, buf_str(path), reason) < 0) {
		local_result_set(res, 4, "4.3.0", "cannot create maildir: %s",
		                 buf_str(reason));
		goto out;
	}
	local_content_prefix(lr, o->top, delivered, false, prefix);
	if ((lc = local_content_open(lr, reason)) == NULL) {
		local_result_set(res, 4, "4.3.0", "%s", buf_str(reason));
		goto out;
	}
	struct maildir_delivery d = {
	    .dir = buf_str(path),
	    .prefix = buf_str(prefix),
	    .read = local_content_read,
	    .ctx = lc,
	    .size = lr->req->content_size,
	    .quota = quota,
	    .quota_bounce = lr->quota_bounce,
	};
	if (local_become(&lr->vmail, reason) < 0) {
		local_result_set(res, 4, "4.3.0", "%s", buf_str(reason));
		goto out;
	}
	st = maildir_deliver(&d, name, dsn, reason);
	local_unbecome(&lr->vmail);
	local_result_set(res, st, dsn, "%s", buf_str(reason));
	if (st == 2 && msg_verbose)
		msg_info("%s: %s: %s/%s", lr->req->queue_id, delivered,
		         buf_str(path), buf_str(name));
out:
	local_content_close(&lc);
	buf_destroy(&path);
	buf_destroy(&prefix);
	buf_destroy(&name);
	buf_destroy(&reason);
}
