/*
 * local_file.c: "/path/file" alias targets and :include: files, both in
 * a child running as default_privs. A file target gets the message
 * appended mbox-style as Postfix's local does: "From sender date" line,
 * Return-Path, X-Original-To, Delivered-To, the content with ">From "
 * quoting, an empty line; the file is locked (flock), fsync'ed, and cut
 * back to its old size on any error. mailbox_size_limit bounds the file.
 * An :include: file is read whole (at most ALIASES_INCLUDE_MAX bytes) and
 * handed to the parent through a pipe.
 * SECURITY: the child becomes default_privs before it opens anything, so
 * it can only write or read what that account may; files are opened with
 * O_NOFOLLOW, must be regular and, for appends, not hard-linked. The
 * status line the child writes back is parsed strictly.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "aliases.h"
#include "local.h"
#include "number.h"

/* How long the child tries to get the lock (in 100 ms steps). */
#define LOCAL_LOCK_TRIES 100

struct local_file_job {
	struct local_request *lr;
	const char *path;
	const char *prefix;
};

/* The enhanced status code of a failed file operation (Postfix's mbox
 * codes): try again for a busy or full system, bounce otherwise. */
static const char *local_file_dsn(int error)
{
	switch (error) {
	case EAGAIN:
	case ESTALE:
		return "4.2.0";
	case ENOSPC:
		return "4.3.1";
	case EDQUOT:
	case EFBIG:
		return "5.2.2";
	default:
		return "5.2.0";
	}
}

/* In the child: "STATUS DSN REASON" on stdout, then exit. */
static void local_file_report(const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
static void local_file_report(const char *dsn, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	dprintf(STDOUT_FILENO, "%c %s %s", dsn[0], dsn, text);
	_exit(0);
}

/* The child: append to the file. */
static void local_file_append(void *ctx)
{
	struct local_file_job *job = ctx;
	struct local_request *lr = job->lr;
	struct buf *err = buf_create(0, 1024);
	struct stat st;
	int fd, tries;

	fd = open(job->path,
	          O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NOCTTY |
	              O_NONBLOCK | O_CLOEXEC,
	          0600);
	if (fd < 0)
		local_file_report(local_file_dsn(errno),
		                  "cannot open file %s: %m", job->path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		local_file_report("5.2.0",
		                  "cannot append to file %s: not a "
		                  "regular file",
		                  job->path);
	if (st.st_nlink > 1)
		local_file_report("5.2.0",
		                  "cannot append to file %s: it has "
		                  "hard links",
		                  job->path);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	for (tries = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; tries++) {
		if (errno != EWOULDBLOCK || tries >= LOCAL_LOCK_TRIES)
			local_file_report("4.2.0", "cannot lock file %s: %m",
			                  job->path);
		usleep(100000);
	}
	if (fstat(fd, &st) < 0)
		local_file_report("4.3.0", "file %s: fstat: %m", job->path);
	if (lr->mbox_limit > 0 && (long long)st.st_size +
	                                  lr->req->content_size +
	                                  (long long)strlen(job->prefix) >
	                              lr->mbox_limit)
		local_file_report("5.2.2",
		                  "cannot append to file %s: larger than "
		                  "mailbox_size_limit (%lld bytes)",
		                  job->path, lr->mbox_limit);
	if (local_content_copy(lr, fd, job->prefix, true, err) < 0 ||
	    write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
		int saved = errno;

		/* Leave the file as it was, not with half a message. */
		if (ftruncate(fd, st.st_size) < 0 || fsync(fd) < 0) {
			/* Nothing more to do: the report says why. */
		}
		if (saved == 0)
			local_file_report("4.3.0", "%s", buf_str(err));
		errno = saved;
		local_file_report(local_file_dsn(saved),
		                  "cannot append to file %s: %m", job->path);
	}
	if (close(fd) < 0)
		local_file_report(local_file_dsn(errno),
		                  "cannot append to file %s: %m", job->path);
	local_file_report("2.0.0", "delivered to file: %s", job->path);
}

/* Parse the child's "S D.D.D reason"; -1 if it is not that. */
static int local_file_parse(const char *text, struct local_result *res)
{
	char dsn[16];
	int n = 0;

	if (sscanf(text, "%*c %15s %n", dsn, &n) != 1 || n == 0 ||
	    (text[0] != '2' && text[0] != '4' && text[0] != '5') ||
	    dsn[0] != text[0] || strlen(dsn) < 5 || dsn[1] != '.')
		return -1;
	local_result_set(res, text[0] - '0', dsn, "%s", text + n);
	return 0;
}

/* Run fn in a child as default_privs with stdout to a pipe; collect at
 * most max bytes. Returns 0 with the exit status, or -1 with res set. */
static int local_file_child(struct local_request *lr, void (*fn)(void *),
                            void *ctx, int keep_fd, size_t max, struct buf *out,
                            int *wstatus, struct local_result *res)
{
	struct buf *err = buf_create(0, 1024);
	int fds[2], rc;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		local_result_set(res, 4, "4.3.0", "pipe: %m");
		buf_destroy(&err);
		return -1;
	}
	pid = local_spawn(&lr->privs, -1, fds[1], keep_fd, fn, ctx);
	close(fds[1]);
	if (pid < 0) {
		local_result_set(res, 4, "4.3.0", "fork: %m");
		close(fds[0]);
		buf_destroy(&err);
		return -1;
	}
	rc = local_child_wait(pid, -1, NULL, NULL, fds[0], max, lr->time_limit,
	                      out, wstatus, err);
	close(fds[0]);
	buf_destroy(&err);
	if (rc < 0) {
		local_result_set(res, 4, "4.3.0", "time limit exceeded");
		return -1;
	}
	return 0;
}

void local_file(struct local_request *lr, struct local_outcome *o,
                const char *path, const char *rcpt, struct local_result *res)
{
	struct buf *prefix = buf_create(256, 16384);
	struct buf *out = buf_create(256, 2048);
	struct local_file_job job = {lr, path, NULL};
	int wstatus = 0;

	local_content_prefix(lr, o->top, rcpt, true, prefix);
	job.prefix = buf_str(prefix);
	if (local_file_child(lr, local_file_append, &job, lr->qfd, 1100, out,
	                     &wstatus, res) == 0 &&
	    (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0 ||
	     local_file_parse(buf_str(out), res) < 0))
		local_result_set(res, 4, "4.3.0",
		                 "file delivery to %s failed (process status "
		                 "%d)",
		                 path, wstatus);
	buf_destroy(&prefix);
	buf_destroy(&out);
}

/* The child: copy the include file to stdout, or the reason and exit 1. */
static void local_include_child(void *ctx)
{
	const char *path = ctx;
	char data[8192];
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	long long total = 0;
	ssize_t n;

	if (fd < 0) {
		dprintf(STDOUT_FILENO, "%m");
		_exit(1);
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		dprintf(STDOUT_FILENO, "not a regular file");
		_exit(1);
	}
	if (st.st_size > ALIASES_INCLUDE_MAX) {
		dprintf(STDOUT_FILENO, "larger than %ld bytes",
		        ALIASES_INCLUDE_MAX);
		_exit(1);
	}
	while ((n = read(fd, data, sizeof(data))) > 0 &&
	       total <= ALIASES_INCLUDE_MAX) {
		total += n;
		if (write(STDOUT_FILENO, data, (size_t)n) != n)
			_exit(EX_IOERR);
	}
	_exit(n < 0 ? EX_IOERR : 0);
}

int local_include_read(struct local_request *lr, const char *path,
                       struct buf *out, struct buf *err)
{
	struct local_result res;
	int wstatus = 0, ret = -1;

	local_result_init(&res);
	buf_reset(out);
	if (local_file_child(lr, local_include_child, (void *)path, -1,
	                     (size_t)ALIASES_INCLUDE_MAX + 1, out, &wstatus,
	                     &res) < 0) {
		buf_set_str(err, buf_str(res.reason));
	} else if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
		buf_sprintf(err, "%.200s",
		            WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 1
		                ? buf_str(out)
		                : "read error");
	} else if (buf_len(out) > (size_t)ALIASES_INCLUDE_MAX) {
		buf_sprintf(err, "larger than %ld bytes", ALIASES_INCLUDE_MAX);
	} else {
		ret = 0;
	}
	local_result_free(&res);
	return ret;
}
