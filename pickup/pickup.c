/*
 * pickup.c: the pickup daemon (trigger skeleton; master.cf "pickup unix n
 * - n 60 1 pickup"). On every trigger (postdrop sends one after each new
 * file, master one every 60 seconds) it scans maildrop/ and hands each
 * file to cleanup (lib/cleanup_client.h, flag CLEANUP_FLAG_LOCAL) with
 * the attributes submitter=LOGIN (the login name of the file's owner,
 * never what the file says) and protocol=local. It removes a maildrop file
 * only after cleanup answered with a queue ID (the message is then on
 * disk in incoming/), and logs "ID: uid=N from=<sender>" (ID: cleanup's
 * queue ID), plus "ID: sender <x> set by uid N (login)" when the sender
 * is not the one sendmail uses by default for that user.
 * Outcomes per file: a malformed file is renamed to corrupt/ with
 * "warning: NAME: corrupt maildrop file: REASON" and the scan goes on; a
 * temporary cleanup failure leaves the file for the next scan and ends
 * this one; a permanent one (e.g. message_size_limit, mail loop) is
 * logged as "NAME: reject: REASON" and, until bounces exist, the file is
 * renamed to corrupt/ for the administrator (Postfix would bounce it).
 * Work per trigger is bounded: at most PICKUP_BATCH files per directory
 * pass, passes repeated for at most PICKUP_BUDGET_MS, then pickup
 * triggers itself and returns to the skeleton (which sees SIGTERM between
 * triggers; a stop request also ends a pass early). Temporary files
 * (".tmp.*") that postdrop left behind when killed are removed after a
 * day; other dot files are never touched.
 * SECURITY: maildrop files are written by local users (through postdrop)
 * and are hostile input: opened with O_NOFOLLOW|O_NONBLOCK, required to be
 * regular files, read with the strict maildrop reader (every length
 * bounded before allocation), and the submitter comes from st_uid.
 * Trigger contents are ignored.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cleanup_client.h"
#include "header.h"
#include "maildrop.h"
#include "mem.h"
#include "msg.h"
#include "queue_file.h"
#include "server.h"
#include "server_listen.h"
#include "str.h"

#define PICKUP_BATCH 1000
#define PICKUP_BUDGET_MS 10000
#define PICKUP_STALE_TMP (24 * 3600)

/* What happened to one file. */
enum pickup_result {
	PICKUP_DONE, /* queued, corrupt or gone: go on */
	PICKUP_RETRY, /* cleanup is unavailable: end the scan */
};

struct pickup_ctx {
	const struct server_info *si;
	const char *qdir;
	int drop_fd; /* maildrop/ */
	int corrupt_fd; /* corrupt/ */
};

static long long pickup_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Move a bad file out of the way (corrupt/NAME) and say why. */
static void pickup_corrupt(struct pickup_ctx *pc, const char *name,
                           const char *reason)
{
	msg_warn("%s: corrupt maildrop file: %s", name, reason);
	if (pc->corrupt_fd < 0 ||
	    renameat(pc->drop_fd, name, pc->corrupt_fd, name) < 0)
		msg_warn("%s: cannot move to %s/%s: %s", name, pc->qdir,
		         QUEUE_CORRUPT,
		         pc->corrupt_fd < 0 ? "directory missing"
		                            : strerror(errno));
}

/* The login name for a uid, or the number. */
static void pickup_login(uid_t uid, char *out, size_t outlen)
{
	struct passwd *pw = getpwuid(uid);

	if (pw == NULL || *pw->pw_name == 0 ||
	    str_copy(out, outlen, pw->pw_name) < 0)
		str_format(out, outlen, "%lu", (unsigned long)uid);
}

/* Hand one checked envelope and its content to cleanup. */
static enum pickup_result pickup_send(struct pickup_ctx *pc, const char *name,
                                      const struct stat *st,
                                      struct queue_reader *r,
                                      const struct queue_envelope *env)
{
	static const struct maildrop_limits lim = {MAILDROP_RCPT_MAX, 0};
	struct buf *err = buf_create(0, 4096), *block = NULL;
	struct cleanup_client *cc;
	char login[256], qid[QUEUE_ID_MAX];
	long long size = 0;
	int n = 1, verdict;
	enum pickup_result ret = PICKUP_DONE;

	pickup_login(st->st_uid, login, sizeof(login));
	cc = cleanup_open(pc->si->config,
	                  CLEANUP_FLAG_LOCAL | CLEANUP_FLAG_QUEUE_ID, err);
	if (cc == NULL) {
		msg_warn("%s: cannot hand over to cleanup: %s", name,
		         buf_str(err));
		ret = PICKUP_RETRY;
		goto out;
	}
	bool broken =
	    cleanup_sender(cc, env->sender) < 0 ||
	    cleanup_attr(cc, "submitter", login) < 0 ||
	    cleanup_attr(cc, "protocol", "local") < 0 ||
	    (env->envid && cleanup_attr(cc, "envid", env->envid) < 0) ||
	    (env->ret && cleanup_attr(cc, "ret", env->ret) < 0);
	for (size_t i = 0; i < env->nrcpts && !broken; i++)
		broken = cleanup_rcpt(cc, env->rcpts[i].address,
		                      *env->rcpts[i].orcpt ? env->rcpts[i].orcpt
		                                           : NULL,
		                      env->rcpts[i].notify) < 0;
	block = buf_create(QUEUE_BLOCK_MAX, QUEUE_REC_MAX);
	/* RFC 5321 4.4: every MTA that takes a message in adds a trace
	 * field; for local submissions it names the submitting uid. */
	if (!broken) {
		struct buf *date = buf_create(64, 256);
		header_date(time(NULL), date);
		buf_sprintf(block,
		            "Received: by %s (posthorn, from userid %lu)\n"
		            "\tid %s; %s\n",
		            config_str(pc->si->config, "myhostname"),
		            (unsigned long)st->st_uid, cleanup_queue_id(cc),
		            buf_str(date));
		buf_destroy(&date);
		broken = cleanup_write(cc, buf_str(block), buf_len(block)) < 0;
	}
	while (!broken &&
	       (n = maildrop_read_block(r, block, &size, &lim, err)) == 1)
		broken = cleanup_write(cc, buf_str(block), buf_len(block)) < 0;
	if (n < 0) {
		cleanup_abort(&cc);
		pickup_corrupt(pc, name, buf_str(err));
		goto out;
	}
	/* Done, or cleanup stopped listening: its verdict says why. */
	buf_reset(err);
	verdict = cleanup_finish(&cc, qid, sizeof(qid), err);
	switch (verdict) {
	case CLEANUP_OK:
		msg_info("%s: uid=%lu from=<%s>", qid,
		         (unsigned long)st->st_uid, env->sender);
		if (!maildrop_sender_is_login(
		        env->sender, login,
		        config_str(pc->si->config, "myorigin")))
			msg_info("%s: sender <%s> set by uid %lu (%s)", qid,
			         env->sender, (unsigned long)st->st_uid, login);
		if (unlinkat(pc->drop_fd, name, 0) < 0 && errno != ENOENT)
			msg_warn("%s: remove maildrop file: %s (message "
			         "%s may be queued twice)",
			         name, strerror(errno), qid);
		break;
	case CLEANUP_PERMFAIL:
		msg_info("%s: reject: %s", name, buf_str(err));
		if (renameat(pc->drop_fd, name, pc->corrupt_fd, name) < 0)
			msg_warn("%s: cannot move to %s/%s: %s", name, pc->qdir,
			         QUEUE_CORRUPT, strerror(errno));
		break;
	default:
		msg_warn("%s: cleanup failed: %s; will retry", name,
		         buf_str(err));
		ret = PICKUP_RETRY;
		break;
	}
out:
	if (cc != NULL)
		cleanup_abort(&cc);
	buf_destroy(&block);
	buf_destroy(&err);
	return ret;
}

/* One maildrop file. */
static enum pickup_result pickup_file(struct pickup_ctx *pc, const char *name)
{
	static const struct maildrop_limits lim = {MAILDROP_RCPT_MAX, 0};
	struct buf *err = buf_create(0, 4096);
	struct queue_reader *r = NULL;
	struct queue_envelope env;
	enum pickup_result ret = PICKUP_DONE;
	struct stat st;
	int fd;

	fd = openat(pc->drop_fd, name,
	            O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP)
			pickup_corrupt(pc, name, "symbolic link");
		else if (errno == EACCES)
			pickup_corrupt(pc, name, "not readable");
		else if (errno != ENOENT)
			msg_warn("%s: open: %s", name, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		msg_warn("%s: fstat: %s", name, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		pickup_corrupt(pc, name, "not a regular file");
		goto out;
	}
	if (!queue_id_valid(name)) {
		pickup_corrupt(pc, name, "not a queue ID");
		goto out;
	}
	r = queue_reader_create(fd);
	if (maildrop_read_envelope(r, &env, &lim, err) < 0) {
		pickup_corrupt(pc, name, buf_str(err));
		goto out;
	}
	ret = pickup_send(pc, name, &st, r, &env);
	queue_envelope_free(&env);
out:
	queue_reader_destroy(&r);
	if (fd >= 0)
		close(fd);
	buf_destroy(&err);
	return ret;
}

/* Remove a temporary file postdrop left behind long ago. */
static void pickup_stale_tmp(struct pickup_ctx *pc, const char *name)
{
	struct stat st;

	if (strncmp(name, ".tmp.", 5) != 0 ||
	    fstatat(pc->drop_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    time(NULL) - st.st_mtime < PICKUP_STALE_TMP)
		return;
	if (unlinkat(pc->drop_fd, name, 0) == 0)
		msg_warn("%s: removed stale temporary file (uid %lu)", name,
		         (unsigned long)st.st_uid);
}

static int pickup_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One pass: up to PICKUP_BATCH names, oldest queue ID first. Returns the
 * number of names seen (PICKUP_BATCH: there may be more), or -1 when the
 * scan must end (cleanup unavailable, stop requested, error). */
static int pickup_pass(struct pickup_ctx *pc)
{
	char **names = mem_array(PICKUP_BATCH, sizeof(char *));
	int count = 0, ret, fd;
	struct dirent *de;
	DIR *dir;

	/* A fresh descriptor: readdir must not continue an old listing. */
	if ((fd = openat(pc->drop_fd, ".",
	                 O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (dir = fdopendir(fd)) == NULL) {
		msg_warn("open %s/%s: %s", pc->qdir, QUEUE_MAILDROP,
		         strerror(errno));
		if (fd >= 0)
			close(fd);
		mem_free(names);
		return -1;
	}
	while (count < PICKUP_BATCH && (de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.') {
			pickup_stale_tmp(pc, de->d_name);
			continue;
		}
		names[count++] = mem_strdup(de->d_name);
	}
	closedir(dir);
	qsort(names, (size_t)count, sizeof(char *), pickup_cmp);
	ret = count;
	for (int i = 0; i < count; i++) {
		if (ret >= 0 && (server_stopping() ||
		                 pickup_file(pc, names[i]) == PICKUP_RETRY))
			ret = -1;
		mem_free(names[i]);
	}
	mem_free(names);
	return ret;
}

static void pickup_trigger(const char *data, size_t len,
                           const struct server_info *si)
{
	struct pickup_ctx pc = {si, NULL, -1, -1};
	struct buf *path = buf_create(256, 8192);
	long long deadline = pickup_now_ms() + PICKUP_BUDGET_MS;
	int n;

	(void)data;
	(void)len;
	pc.qdir =
	    si->chrooted ? "/" : config_str(si->config, "queue_directory");
	buf_sprintf(path, "%s/%s", pc.qdir, QUEUE_MAILDROP);
	pc.drop_fd = open(buf_str(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pc.drop_fd < 0) {
		msg_warn("open %s: %s", buf_str(path), strerror(errno));
		goto out;
	}
	buf_sprintf(path, "%s/%s", pc.qdir, QUEUE_CORRUPT);
	pc.corrupt_fd = open(buf_str(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	while ((n = pickup_pass(&pc)) == PICKUP_BATCH) {
		if (pickup_now_ms() >= deadline) {
			/* More to do: come back after the skeleton had its
			 * turn (stop requests, max_use). */
			buf_sprintf(path, "%s/public/%s", pc.qdir, si->service);
			if (si->type == MASTER_UNIX)
				(void)server_unix_trigger(buf_str(path), "W", 1,
				                          100);
			break;
		}
	}
out:
	if (pc.drop_fd >= 0)
		close(pc.drop_fd);
	if (pc.corrupt_fd >= 0)
		close(pc.corrupt_fd);
	buf_destroy(&path);
}

int main(int argc, char **argv)
{
	static const struct server_callbacks cb = {
	    .trigger = pickup_trigger,
	};

	trigger_server_main(argc, argv, &cb);
}
