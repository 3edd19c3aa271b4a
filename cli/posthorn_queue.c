/*
 * posthorn_queue.c: `posthorn queue list [--json] | show ID | delete
 * ID|ALL | hold ID | release ID | requeue ID|ALL | flush` (CONTRACT.md),
 * the administrator's view of the queue: mailq (lib/queue_list.c),
 * postcat -q, postsuper -d/-h/-H/-r and postqueue -f in one verb. See
 * docs/queue-admin.md for what each does to the queue files.
 * Moves are renames inside the queue tree (one file system), never onto
 * an existing name, followed by an fsync of the directories involved.
 * requeue writes the undelivered part of a message as a new maildrop
 * file for pickup (the maildrop rules of lib/maildrop.h: no done
 * recipients, no attributes) and removes the original only after the copy
 * is on disk.
 * A deferred file's mtime is its next delivery attempt time, so release
 * and flush make a message due by setting its mtime to now.
 * SECURITY: only root and the instance's mail_owner may use it (the
 * queue holds other users' mail); queue IDs from the command line must
 * pass queue_id_valid (hex and 'Q' only: no '/', no "..") before they
 * become paths; queue files are opened with O_NOFOLLOW and read with the
 * strict, bounded queue reader.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "posthorn.h"
#include "buf.h"
#include "msg.h"
#include "queue_file.h"
#include "queue_list.h"
#include "server.h"
#include "str.h"

/* Where `show` and `delete ID` look, in this order. */
static const char *const queue_all[] = {
    QUEUE_INCOMING, QUEUE_ACTIVE,   QUEUE_DEFERRED,
    QUEUE_HOLD,     QUEUE_MAILDROP, QUEUE_CORRUPT,
};
/* What `delete ALL` empties: everything `queue list` shows. */
static const char *const queue_listed[] = {
    QUEUE_INCOMING, QUEUE_ACTIVE, QUEUE_DEFERRED, QUEUE_HOLD, QUEUE_MAILDROP,
};
/* Messages that went through cleanup and have not been put on hold. */
static const char *const queue_live[] = {
    QUEUE_INCOMING,
    QUEUE_ACTIVE,
    QUEUE_DEFERRED,
};
/* What `requeue` takes back to maildrop/. */
static const char *const queue_requeue_from[] = {
    QUEUE_INCOMING,
    QUEUE_ACTIVE,
    QUEUE_DEFERRED,
    QUEUE_HOLD,
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct queue_ctx {
	struct config *cf;
	const char *qdir;
	int qfd; /* queue_directory */
	long count;
	bool failed;
};

/* Root or mail_owner: anyone else is refused with one line. */
static int queue_authorized(struct config *cf)
{
	const char *owner = config_str(cf, "mail_owner");
	uid_t euid = geteuid();
	struct passwd *pw;

	if (euid == 0)
		return 0;
	pw = getpwnam(owner);
	if (pw != NULL && pw->pw_uid == euid)
		return 0;
	return cli_fail("queue: permission denied: only root or the "
	                "mail_owner (%s) may manage this queue",
	                owner);
}

/* Log actions to the instance's maillog (when it can be opened) and to
 * stderr, as Postfix's postsuper does. */
static void queue_log_init(struct config *cf)
{
	struct buf *err = buf_create(0, 4096);

	if (server_log_init(cf, "postsuper", MSG_SINK_STDERR, err) < 0) {
		msg_init(config_str(cf, "syslog_name"), "postsuper");
		msg_set_sinks(MSG_SINK_STDERR);
	}
	buf_destroy(&err);
}

/* The directory part of a path relative to queue_directory. */
static void queue_dirname(const char *path, struct buf *out)
{
	const char *slash = strrchr(path, '/');

	buf_reset(out);
	if (slash)
		buf_append(out, path, (size_t)(slash - path));
	else
		buf_append_str(out, ".");
}

/* fsync a directory relative to queue_directory; -1 with errno. */
static int queue_sync_dir(int qfd, const char *dir)
{
	int fd = openat(qfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

static int queue_sync_parent(int qfd, const char *path)
{
	struct buf *dir = buf_create(64, 4096);
	int r;

	queue_dirname(path, dir);
	r = queue_sync_dir(qfd, buf_str(dir));
	buf_destroy(&dir);
	return r;
}

/* Where is ID among queues? 1 with its queue and path, 0 if in none of
 * them, -1 (printed) when a lookup failed for another reason. */
static int queue_find(struct queue_ctx *qc, const char *id,
                      const char *const *queues, size_t nqueues,
                      const char **found, struct buf *path)
{
	struct stat st;

	for (size_t i = 0; i < nqueues; i++) {
		buf_reset(path);
		queue_path(queues[i], id, path);
		if (fstatat(qc->qfd, buf_str(path), &st, AT_SYMLINK_NOFOLLOW) ==
		    0) {
			if (!S_ISREG(st.st_mode))
				continue;
			*found = queues[i];
			return 1;
		}
		if (errno != ENOENT) {
			cli_fail("queue: %s/%s: %s", qc->qdir, buf_str(path),
			         strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Rename within the queue tree, never over an existing file, then fsync
 * both directories. -1 (printed) on failure. */
static int queue_move(struct queue_ctx *qc, const char *id, const char *from,
                      const char *to)
{
	if (renameat2(qc->qfd, from, qc->qfd, to, RENAME_NOREPLACE) < 0) {
		int e = errno;
		struct stat st;

		/* File systems without RENAME_NOREPLACE: check, then move. */
		if (e == EINVAL || e == ENOSYS) {
			if (fstatat(qc->qfd, to, &st, AT_SYMLINK_NOFOLLOW) == 0)
				e = EEXIST;
			else if (renameat(qc->qfd, from, qc->qfd, to) == 0)
				e = 0;
			else
				e = errno;
		}
		if (e != 0) {
			cli_fail("queue: %s: move %s to %s: %s", id, from, to,
			         strerror(e));
			return -1;
		}
	}
	if (queue_sync_parent(qc->qfd, to) < 0 ||
	    queue_sync_parent(qc->qfd, from) < 0) {
		cli_fail("queue: %s: fsync after move to %s: %s", id, to,
		         strerror(errno));
		return -1;
	}
	return 0;
}

/* Remove the defer and bounce logs of ID (they may not exist). */
static void queue_remove_logs(struct queue_ctx *qc, const char *id)
{
	static const char *const logs[] = {QUEUE_DEFER, QUEUE_BOUNCE};
	struct buf *path = buf_create(64, 4096);

	for (size_t i = 0; i < NELEM(logs); i++) {
		buf_reset(path);
		queue_path(logs[i], id, path);
		if (unlinkat(qc->qfd, buf_str(path), 0) == 0)
			(void)queue_sync_parent(qc->qfd, buf_str(path));
		else if (errno != ENOENT)
			msg_warn("%s: remove %s: %s", id, buf_str(path),
			         strerror(errno));
	}
	buf_destroy(&path);
}

/* Connect to queue_directory/public/SERVICE and send data; every error
 * is ignored (the service may not run). A FIFO works too. */
static void queue_trigger(struct queue_ctx *qc, const char *service,
                          const char *data)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (str_format(addr.sun_path, sizeof(addr.sun_path), "%s/public/%s",
	               qc->qdir, service) < 0 ||
	    stat(addr.sun_path, &st) < 0)
		return;
	if (S_ISFIFO(st.st_mode)) {
		struct sigaction ign = {.sa_handler = SIG_IGN}, old;
		fd = open(addr.sun_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return;
		sigaction(SIGPIPE, &ign, &old);
		(void)!write(fd, data, strlen(data));
		sigaction(SIGPIPE, &old, NULL);
		close(fd);
		return;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
		(void)!send(fd, data, strlen(data), MSG_NOSIGNAL);
	close(fd);
}

/* ---- list ---- */

static int queue_cmd_list(struct queue_ctx *qc, bool json)
{
	struct buf *err = buf_create(0, 8192);
	int r = queue_list_print(qc->cf, stdout, json, err);

	if (r < 0)
		cli_fail("queue list: %s", buf_str(err));
	buf_destroy(&err);
	return r < 0 ? CLI_FAILED : CLI_OK;
}

/* ---- show ---- */

static void queue_show_time(const char *payload, FILE *out)
{
	char copy[40], *dot, text[64];
	long long sec;
	struct tm tm;
	time_t t;

	if (str_copy(copy, sizeof(copy), payload) < 0)
		copy[0] = 0;
	if ((dot = strchr(copy, '.')) != NULL)
		*dot = 0;
	if (sscanf(copy, "%lld", &sec) != 1 || sec <= 0) {
		fprintf(out, "message_arrival_time: ??\n");
		return;
	}
	t = (time_t)sec;
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(text, sizeof(text), "%a %b %e %H:%M:%S %Y", &tm) == 0)
		str_copy(text, sizeof(text), "??");
	fprintf(out, "message_arrival_time: %s\n", text);
}

/* One envelope line: "name: value" with the value made printable. */
static void queue_show_line(const char *name, const char *value, size_t len,
                            FILE *out)
{
	struct buf *b = buf_create(128, 0);

	buf_printf(b, "%s: ", name);
	queue_list_printable(value, len, b);
	buf_append_char(b, '\n');
	fwrite(buf_str(b), 1, buf_len(b), out);
	buf_destroy(&b);
}

static void queue_show_rcpt(int type, const struct buf *rec, FILE *out)
{
	const char *p = buf_str(rec), *end = p + buf_len(rec);
	const char *orcpt = memchr(p, 0, buf_len(rec));
	const char *notify =
	    orcpt ? memchr(orcpt + 1, 0, (size_t)(end - orcpt - 1)) : NULL;
	long long flags = 0;

	if (orcpt && *++orcpt)
		queue_show_line("dsn_orig_rcpt", orcpt, strlen(orcpt), out);
	if (notify && sscanf(notify + 1, "%lld", &flags) == 1 && flags > 0) {
		struct buf *text = buf_create(64, 0);
		queue_notify_format((int)flags, text);
		queue_show_line("dsn_notify_flags", buf_str(text),
		                buf_len(text), out);
		buf_destroy(&text);
	}
	queue_show_line(type == QREC_DONE ? "done_recipient" : "recipient", p,
	                strlen(p), out);
}

static int queue_cmd_show(struct queue_ctx *qc, const char *id)
{
	struct buf *path = buf_create(64, 4096);
	struct buf *rec = buf_create(4096, QUEUE_REC_MAX);
	struct buf *err = buf_create(64, 1024);
	struct queue_reader *r = NULL;
	const char *queue;
	struct stat st;
	bool at_bol = true;
	int fd = -1, type, n, ret = CLI_FAILED;
	FILE *out = stdout;

	n = queue_find(qc, id, queue_all, NELEM(queue_all), &queue, path);
	if (n <= 0) {
		if (n == 0)
			cli_fail("queue show: %s: no such message", id);
		goto out;
	}
	fd = openat(qc->qfd, buf_str(path),
	            O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		cli_fail("queue show: %s/%s: %s", qc->qdir, buf_str(path),
		         strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		cli_fail("queue show: %s/%s: not a regular file", qc->qdir,
		         buf_str(path));
		goto out;
	}
	r = queue_reader_create(fd);
	fprintf(out, "*** ENVELOPE RECORDS %s ***\n", id);
	fprintf(out, "queue_name: %s\n", queue);
	while ((n = queue_reader_next(r, &type, rec, NULL, err)) == 1) {
		const char *s = buf_str(rec);
		size_t len = buf_len(rec);
		switch (type) {
		case QREC_VERSION:
			queue_show_line("version", s, len, out);
			break;
		case QREC_SIZE:
			queue_show_line("message_size", s, len, out);
			break;
		case QREC_TIME:
			queue_show_time(s, out);
			break;
		case QREC_SENDER:
			queue_show_line("sender", s, len, out);
			break;
		case QREC_ENVID:
			queue_show_line("dsn_envelope_id", s, len, out);
			break;
		case QREC_RET:
			queue_show_line("dsn_ret", s, len, out);
			break;
		case QREC_ATTR:
			queue_show_line("named_attribute", s, len, out);
			break;
		case QREC_RCPT:
		case QREC_DONE:
			queue_show_rcpt(type, rec, out);
			break;
		case QREC_CONTENT:
			fprintf(out, "*** MESSAGE CONTENTS %s ***\n", id);
			break;
		case QREC_BLOCK:
			/* The content as stored: postcat shows it raw. */
			fwrite(s, 1, len, out);
			if (len > 0)
				at_bol = s[len - 1] == '\n';
			break;
		case QREC_END:
			if (!at_bol)
				fputc('\n', out);
			fprintf(out, "*** HEADER EXTRACTED %s ***\n", id);
			fprintf(out, "*** MESSAGE FILE END %s ***\n", id);
			break;
		}
	}
	fflush(out);
	if (n < 0) {
		cli_fail("queue show: %s: damaged queue file: %s", id,
		         buf_str(err));
		goto out;
	}
	ret = CLI_OK;
out:
	queue_reader_destroy(&r);
	if (fd >= 0)
		close(fd);
	buf_destroy(&path);
	buf_destroy(&rec);
	buf_destroy(&err);
	return ret;
}

/* ---- delete ---- */

static int queue_delete_path(struct queue_ctx *qc, const char *id,
                             const char *path)
{
	if (unlinkat(qc->qfd, path, 0) < 0) {
		if (errno == ENOENT)
			return 0; /* gone meanwhile (delivered or moved) */
		cli_fail("queue delete: %s/%s: %s", qc->qdir, path,
		         strerror(errno));
		return -1;
	}
	if (queue_sync_parent(qc->qfd, path) < 0)
		msg_warn("%s: fsync after remove: %s", id, strerror(errno));
	queue_remove_logs(qc, id);
	msg_info("%s: removed", id);
	qc->count++;
	return 0;
}

static int queue_delete_each(const char *queue, const char *id,
                             const char *path, void *ctx)
{
	struct queue_ctx *qc = ctx;

	if (queue_delete_path(qc, id, path) < 0)
		qc->failed = true;
	return 0;
}

static void queue_summary(const char *what, long count)
{
	msg_info("%s: %ld message%s", what, count, count == 1 ? "" : "s");
}

static int queue_cmd_delete(struct queue_ctx *qc, const char *id)
{
	struct buf *path = buf_create(64, 4096);
	struct buf *err = buf_create(64, 8192);
	const char *queue;
	int ret = CLI_FAILED, n;

	if (strcmp(id, "ALL") == 0) {
		for (size_t i = 0; i < NELEM(queue_listed); i++) {
			buf_reset(err);
			if (queue_list_each(qc->cf, queue_listed[i],
			                    queue_delete_each, qc, err) < 0) {
				cli_fail("queue delete: %s", buf_str(err));
				qc->failed = true;
			}
		}
		queue_summary("Deleted", qc->count);
		ret = qc->failed ? CLI_FAILED : CLI_OK;
		goto out;
	}
	n = queue_find(qc, id, queue_all, NELEM(queue_all), &queue, path);
	if (n == 0)
		cli_fail("queue delete: %s: no such message", id);
	if (n <= 0)
		goto out;
	if (queue_delete_path(qc, id, buf_str(path)) < 0)
		goto out;
	queue_summary("Deleted", qc->count);
	ret = CLI_OK;
out:
	buf_destroy(&path);
	buf_destroy(&err);
	return ret;
}

/* ---- hold / release ---- */

/* Explain why ID is not where a command needs it; returns CLI_FAILED. */
static int queue_not_found(struct queue_ctx *qc, const char *cmd,
                           const char *id)
{
	struct buf *path = buf_create(64, 4096);
	const char *queue;
	int n = queue_find(qc, id, queue_all, NELEM(queue_all), &queue, path);

	if (n > 0)
		cli_fail("queue %s: %s: message is in %s/", cmd, id, queue);
	else if (n == 0)
		cli_fail("queue %s: %s: no such message", cmd, id);
	buf_destroy(&path);
	return CLI_FAILED;
}

static int queue_cmd_hold(struct queue_ctx *qc, const char *id)
{
	struct buf *from = buf_create(64, 4096), *to = buf_create(64, 4096);
	const char *queue;
	int ret = CLI_FAILED;
	int n = queue_find(qc, id, queue_live, NELEM(queue_live), &queue, from);

	if (n < 0)
		goto out;
	if (n == 0) {
		if (queue_find(qc, id, (const char *const[]){QUEUE_HOLD}, 1,
		               &queue, to) > 0) {
			fprintf(stderr,
			        "posthorn: queue hold: %s: already on "
			        "hold\n",
			        id);
			ret = CLI_OK;
		} else {
			ret = queue_not_found(qc, "hold", id);
		}
		goto out;
	}
	queue_path(QUEUE_HOLD, id, to);
	if (queue_move(qc, id, buf_str(from), buf_str(to)) < 0)
		goto out;
	msg_info("%s: placed on hold", id);
	ret = CLI_OK;
out:
	buf_destroy(&from);
	buf_destroy(&to);
	return ret;
}

static int queue_cmd_release(struct queue_ctx *qc, const char *id)
{
	struct buf *from = buf_create(64, 4096), *to = buf_create(64, 4096);
	const char *queue;
	int ret = CLI_FAILED;
	int n = queue_find(qc, id, (const char *const[]){QUEUE_HOLD}, 1, &queue,
	                   from);

	if (n <= 0) {
		if (n == 0)
			ret = queue_not_found(qc, "release", id);
		goto out;
	}
	/* The mtime of a deferred file is its next attempt: due now. Set
	 * before the move, so the queue manager never sees an old time. */
	if (utimensat(qc->qfd, buf_str(from), NULL, AT_SYMLINK_NOFOLLOW) < 0) {
		cli_fail("queue release: %s: set time: %s", id,
		         strerror(errno));
		goto out;
	}
	queue_path(QUEUE_DEFERRED, id, to);
	if (queue_move(qc, id, buf_str(from), buf_str(to)) < 0)
		goto out;
	msg_info("%s: released from hold", id);
	queue_trigger(qc, "qmgr", "A");
	ret = CLI_OK;
out:
	buf_destroy(&from);
	buf_destroy(&to);
	return ret;
}

/* ---- requeue ---- */

/* Write the undelivered part of the queue file at fd as a maildrop file
 * (lib/maildrop.h: V S T F [E] [N] R... M B... X; no done recipients,
 * no attributes: pickup accepts nothing else) into maildrop/ under a new
 * inode-based ID, owned like the original. Written under a dot name,
 * fsync'ed, renamed, and maildrop/ fsync'ed before it counts. */
static int queue_requeue_copy(struct queue_ctx *qc, const char *id, int fd,
                              char *new_id, size_t idlen)
{
	static unsigned serial;
	struct queue_envelope env;
	struct queue_reader *r = queue_reader_create(fd);
	struct queue_writer *w = NULL;
	struct buf *rec = buf_create(4096, QUEUE_REC_MAX);
	struct buf *err = buf_create(64, 1024);
	struct buf *tmp = buf_create(64, 4096), *to = buf_create(64, 4096);
	long long size = 0, nrcpts = 0;
	bool have_env = false, ended = false;
	struct timeval now;
	struct stat st;
	off_t size_at;
	int out = -1, type, n, ret = -1;

	if (fstat(fd, &st) < 0 || queue_envelope_read(r, &env, err) < 0) {
		cli_fail("queue requeue: %s: damaged queue file: %s (left "
		         "in place)",
		         id, buf_len(err) ? buf_str(err) : strerror(errno));
		goto out;
	}
	have_env = true;
	for (size_t i = 0; i < env.nrcpts; i++)
		nrcpts += !env.rcpts[i].done;
	if (nrcpts == 0) {
		cli_fail("queue requeue: %s: no recipient left to deliver "
		         "(left in place)",
		         id);
		goto out;
	}
	buf_sprintf(tmp, "%s/.tmp.requeue.%ld.%u", QUEUE_MAILDROP,
	            (long)getpid(), serial++);
	out =
	    openat(qc->qfd, buf_str(tmp),
	           O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		cli_fail("queue requeue: %s: create %s: %s", id, buf_str(tmp),
		         strerror(errno));
		buf_reset(tmp);
		goto out;
	}
	/* pickup runs as mail_owner: the copy belongs to whoever owned the
	 * original. */
	if (geteuid() == 0 && fchown(out, st.st_uid, st.st_gid) < 0)
		goto io_error;
	w = queue_writer_create(out);
	queue_writer_add_str(w, QREC_VERSION, QUEUE_FORMAT_VERSION);
	size_at = queue_writer_offset(w) + QUEUE_REC_HDR;
	buf_reset(rec);
	queue_size_format(0, nrcpts, rec);
	queue_writer_add(w, QREC_SIZE, buf_str(rec), buf_len(rec));
	buf_sprintf(rec, "%lld.%06ld", env.arrival_sec, env.arrival_usec);
	queue_writer_add(w, QREC_TIME, buf_str(rec), buf_len(rec));
	queue_writer_add_str(w, QREC_SENDER, env.sender);
	if (env.envid)
		queue_writer_add_str(w, QREC_ENVID, env.envid);
	if (env.ret)
		queue_writer_add_str(w, QREC_RET, env.ret);
	for (size_t i = 0; i < env.nrcpts; i++) {
		const struct queue_rcpt *rc = &env.rcpts[i];
		if (rc->done)
			continue;
		buf_reset(rec);
		queue_rcpt_encode(rc->address, rc->orcpt, rc->notify, rec);
		if (queue_writer_add(w, QREC_RCPT, buf_str(rec), buf_len(rec)) <
		    0)
			goto io_error;
	}
	if (queue_writer_add(w, QREC_CONTENT, "", 0) < 0)
		goto io_error;
	while ((n = queue_reader_next(r, &type, rec, NULL, err)) == 1) {
		if (type == QREC_END) {
			ended = true;
			break;
		}
		size += (long long)buf_len(rec);
		if (queue_writer_add(w, QREC_BLOCK, buf_str(rec),
		                     buf_len(rec)) < 0)
			goto io_error;
	}
	if (!ended) {
		cli_fail("queue requeue: %s: damaged queue file: %s (left "
		         "in place)",
		         id, n < 0 ? buf_str(err) : "no end marker");
		goto out;
	}
	buf_reset(rec);
	queue_size_format(size, nrcpts, rec);
	if (queue_writer_add(w, QREC_END, "", 0) < 0 ||
	    queue_writer_flush(w) < 0 ||
	    pwrite(out, buf_str(rec), buf_len(rec), size_at) !=
	        (ssize_t)buf_len(rec) ||
	    fsync(out) < 0 || fstat(out, &st) < 0)
		goto io_error;
	gettimeofday(&now, NULL);
	queue_id_make(new_id, idlen, (long long)now.tv_sec, (long)now.tv_usec,
	              (unsigned long long)st.st_ino);
	queue_path(QUEUE_MAILDROP, new_id, to);
	if (queue_move(qc, id, buf_str(tmp), buf_str(to)) < 0)
		goto out;
	buf_reset(tmp); /* nothing to clean up now */
	ret = 0;
	goto out;
io_error:
	cli_fail("queue requeue: %s: write %s: %s", id, buf_str(tmp),
	         strerror(errno));
out:
	if (ret < 0 && buf_len(tmp) > 0)
		(void)unlinkat(qc->qfd, buf_str(tmp), 0);
	queue_writer_destroy(&w);
	if (out >= 0)
		close(out);
	if (have_env)
		queue_envelope_free(&env);
	queue_reader_destroy(&r);
	buf_destroy(&rec);
	buf_destroy(&err);
	buf_destroy(&tmp);
	buf_destroy(&to);
	return ret;
}

/* requeue = `postsuper -r`: the message goes back through pickup and
 * cleanup (canonical and virtual alias maps apply again) with a new
 * queue ID; the old file and its logs go once the copy is safe. */
static int queue_requeue_path(struct queue_ctx *qc, const char *id,
                              const char *from)
{
	char new_id[QUEUE_ID_MAX];
	int fd, r;

	fd = openat(qc->qfd, from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0; /* gone meanwhile (delivered or moved) */
		cli_fail("queue requeue: %s/%s: %s", qc->qdir, from,
		         strerror(errno));
		return -1;
	}
	r = queue_requeue_copy(qc, id, fd, new_id, sizeof(new_id));
	close(fd);
	if (r < 0)
		return -1;
	if (unlinkat(qc->qfd, from, 0) < 0 && errno != ENOENT) {
		cli_fail("queue requeue: %s: remove %s: %s (the message is "
		         "queued twice now)",
		         id, from, strerror(errno));
		return -1;
	}
	(void)queue_sync_parent(qc->qfd, from);
	/* cleanup gives the message a new queue ID: the old logs are
	 * stale. */
	queue_remove_logs(qc, id);
	msg_info("%s: requeued", id);
	if (msg_verbose)
		msg_info("%s: new maildrop file %s", id, new_id);
	qc->count++;
	return 0;
}

static int queue_requeue_each(const char *queue, const char *id,
                              const char *path, void *ctx)
{
	struct queue_ctx *qc = ctx;

	if (queue_requeue_path(qc, id, path) < 0)
		qc->failed = true;
	return 0;
}

static int queue_cmd_requeue(struct queue_ctx *qc, const char *id)
{
	struct buf *path = buf_create(64, 4096);
	struct buf *err = buf_create(64, 8192);
	const char *queue;
	int ret = CLI_FAILED, n;

	if (strcmp(id, "ALL") == 0) {
		for (size_t i = 0; i < NELEM(queue_requeue_from); i++) {
			buf_reset(err);
			if (queue_list_each(qc->cf, queue_requeue_from[i],
			                    queue_requeue_each, qc, err) < 0) {
				cli_fail("queue requeue: %s", buf_str(err));
				qc->failed = true;
			}
		}
		queue_summary("Requeued", qc->count);
		ret = qc->failed ? CLI_FAILED : CLI_OK;
	} else {
		n = queue_find(qc, id, queue_requeue_from,
		               NELEM(queue_requeue_from), &queue, path);
		if (n == 0)
			ret = queue_not_found(qc, "requeue", id);
		else if (n > 0 &&
		         queue_requeue_path(qc, id, buf_str(path)) == 0)
			ret = CLI_OK;
		if (ret == CLI_OK)
			queue_summary("Requeued", qc->count);
	}
	if (qc->count > 0)
		queue_trigger(qc, "pickup", "W");
	buf_destroy(&path);
	buf_destroy(&err);
	return ret;
}

/* ---- flush ---- */

static int queue_flush_each(const char *queue, const char *id, const char *path,
                            void *ctx)
{
	struct queue_ctx *qc = ctx;

	if (utimensat(qc->qfd, path, NULL, AT_SYMLINK_NOFOLLOW) == 0)
		qc->count++;
	else if (errno != ENOENT) /* gone meanwhile: fine */
		msg_warn("%s: set time of %s: %s", id, path, strerror(errno));
	return 0;
}

static int queue_cmd_flush(struct queue_ctx *qc)
{
	struct buf *err = buf_create(64, 8192);
	int ret = CLI_OK;

	if (queue_list_each(qc->cf, QUEUE_DEFERRED, queue_flush_each, qc, err) <
	    0)
		ret = cli_fail("queue flush: %s", buf_str(err));
	/* F: forget the dead-destination backoff; A: scan every queue. */
	queue_trigger(qc, "qmgr", "FA");
	buf_destroy(&err);
	return ret;
}

/* ---- the verb ---- */

static int queue_usage(void)
{
	return cli_usage("posthorn [-c DIR] queue list [--json] | show ID | "
	                 "delete ID|ALL | hold ID | release ID | "
	                 "requeue ID|ALL | flush");
}

int cli_queue(struct cli *cli, int argc, char **argv)
{
	struct queue_ctx qc = {.qfd = -1};
	const char *cmd, *id = NULL;
	bool json = false, logs = true;
	int ret;

	if (argc < 2)
		return queue_usage();
	cmd = argv[1];
	if (strcmp(cmd, "list") == 0) {
		if (argc > 3 || (argc == 3 && strcmp(argv[2], "--json") != 0 &&
		                 strcmp(argv[2], "-j") != 0))
			return queue_usage();
		json = argc == 3;
		logs = false;
	} else if (strcmp(cmd, "flush") == 0) {
		if (argc != 2)
			return queue_usage();
	} else if (strcmp(cmd, "show") == 0 || strcmp(cmd, "delete") == 0 ||
	           strcmp(cmd, "hold") == 0 || strcmp(cmd, "release") == 0 ||
	           strcmp(cmd, "requeue") == 0) {
		if (argc != 3)
			return queue_usage();
		id = argv[2];
		logs = strcmp(cmd, "show") != 0;
		bool all_ok =
		    strcmp(cmd, "delete") == 0 || strcmp(cmd, "requeue") == 0;
		if (!(all_ok && strcmp(id, "ALL") == 0) && !queue_id_valid(id))
			return cli_usage("queue %s: '%s' is not a queue ID",
			                 cmd, id);
	} else {
		return queue_usage();
	}

	if ((qc.cf = cli_load_config(cli)) == NULL)
		return CLI_FAILED;
	if (queue_authorized(qc.cf) != 0) {
		config_destroy(&qc.cf);
		return CLI_FAILED;
	}
	qc.qdir = config_str(qc.cf, "queue_directory");
	qc.qfd = open(qc.qdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (qc.qfd < 0) {
		ret = cli_fail("queue: open %s: %s", qc.qdir, strerror(errno));
		config_destroy(&qc.cf);
		return ret;
	}
	if (logs)
		queue_log_init(qc.cf);

	if (strcmp(cmd, "list") == 0)
		ret = queue_cmd_list(&qc, json);
	else if (strcmp(cmd, "show") == 0)
		ret = queue_cmd_show(&qc, id);
	else if (strcmp(cmd, "delete") == 0)
		ret = queue_cmd_delete(&qc, id);
	else if (strcmp(cmd, "hold") == 0)
		ret = queue_cmd_hold(&qc, id);
	else if (strcmp(cmd, "release") == 0)
		ret = queue_cmd_release(&qc, id);
	else if (strcmp(cmd, "requeue") == 0)
		ret = queue_cmd_requeue(&qc, id);
	else
		ret = queue_cmd_flush(&qc);
	close(qc.qfd);
	config_destroy(&qc.cf);
	return ret;
}
