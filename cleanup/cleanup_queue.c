/*
 * cleanup_queue.c: the queue file of one message (docs/queue-format.md),
 * written under the durability contract (DESIGN.md): the file is made as
 * incoming/.tmp.PID.N (dot names are never queue files), its inode gives
 * the queue ID, the records V S T F [E] [N] A* R* M B* X follow, the S
 * record is fixed up in place, the file is fsync'ed, renamed (never over
 * an existing file) to incoming/ID, and incoming/ is fsync'ed; only then
 * may the client hear "queued". Then qmgr is poked through public/qmgr.
 * The working directory is queue_directory (cleanup.c).
 * SECURITY: runs as mail_owner; files are created 0600 with O_EXCL and
 * O_NOFOLLOW (or taken from qmgr's pool of emptied files in incoming/,
 * queue_pool.h); a full disk or an I/O error fails the message with a
 * temporary error (4.3.1 / 4.3.0) and the partial file is removed, so no
 * acknowledged file is ever truncated.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "mem.h"
#include "msg.h"
#include "number.h"
#include "queue_pool.h"
#include "server_listen.h"
#include "str.h"

#define CLEANUP_TMP_PREFIX ".tmp."

static int cleanup_incoming_fd = -1; /* for fsync of the directory */
static unsigned long cleanup_tmp_seq;

/* Fail the message for an I/O error (errno) in step what. */
static void cleanup_queue_error(struct cleanup_state *st, const char *what)
{
	int e = errno;

	/* DESIGN.md: a full disk is 452 4.3.1 to SMTP clients. */
	if (e == ENOSPC || e == EDQUOT)
		cleanup_fail(st, 4, "4.3.1 Insufficient system storage",
		             "queue file %s: %s", what, strerror(e));
	else
		cleanup_fail(st, 4, "4.3.0 Queue file write error",
		             "queue file %s: %s", what, strerror(e));
	msg_warn("%s: queue file %s: %s", cleanup_log_id(st), what,
	         strerror(e));
}

void cleanup_queue_init(void)
{
	DIR *d;
	struct dirent *de;

	cleanup_incoming_fd =
	    open(QUEUE_INCOMING, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cleanup_incoming_fd < 0) {
		/* Not fatal: each message then fails with 4.3.0 until the
		 * directory is there. */
		msg_warn("open %s: %m", QUEUE_INCOMING);
		return;
	}
	/* Temporary files of cleanup processes that died (kill -9, crash)
	 * were never acknowledged: remove them. A live process's files are
	 * left alone (its pid is in the name). */
	if ((d = opendir(QUEUE_INCOMING)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char pidtext[32], *dot;
		long long pid;

		if (!str_has_prefix(de->d_name, CLEANUP_TMP_PREFIX))
			continue;
		if (str_copy(pidtext, sizeof(pidtext),
		             de->d_name + strlen(CLEANUP_TMP_PREFIX)) < 0 ||
		    (dot = strchr(pidtext, '.')) == NULL)
			continue;
		*dot = 0;
		if (number_parse(pidtext, 1, 0x7fffffff, &pid, NULL) < 0 ||
		    (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			continue;
		if (unlinkat(cleanup_incoming_fd, de->d_name, 0) == 0)
			msg_info("removed stale temporary file %s/%s",
			         QUEUE_INCOMING, de->d_name);
	}
	closedir(d);
}

int cleanup_queue_create(struct cleanup_state *st)
{
	struct buf *path = buf_create(64, 256);
	struct stat sb;
	bool recycled;
	int fd = -1;

	if (st->status != 0)
		goto fail;
	/* incoming/ may have been missing at start (made later by master). */
	if (cleanup_incoming_fd < 0)
		cleanup_incoming_fd =
		    open(QUEUE_INCOMING, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	gettimeofday(&st->arrival, NULL);
	buf_sprintf(path, "%s/%s%ld.%lu", QUEUE_INCOMING, CLEANUP_TMP_PREFIX,
	            (long)getpid(), ++cleanup_tmp_seq);
	/* A recycled file if qmgr left one (queue_pool.h), else a new one. */
	recycled = cleanup_incoming_fd >= 0 &&
	           (fd = queue_pool_take(cleanup_incoming_fd,
	                                 buf_str(path) + sizeof(QUEUE_INCOMING),
	                                 &sb)) >= 0;
	if (!recycled)
		fd = open(buf_str(path),
		          O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		          0600);
	if (fd < 0) {
		cleanup_queue_error(st, "create");
		goto fail;
	}
	st->fd = fd;
	st->recycled = recycled;
	st->recycled_size = recycled ? sb.st_size : 0;
	st->tmp_path = buf_steal(path);
	if (!recycled && fstat(fd, &sb) < 0) {
		cleanup_queue_error(st, "fstat");
		goto fail;
	}
	queue_id_make(st->queue_id, sizeof(st->queue_id),
	              (long long)st->arrival.tv_sec, (long)st->arrival.tv_usec,
	              (unsigned long long)sb.st_ino);
	st->writer = queue_writer_create(fd);
	st->block = buf_create(QUEUE_BLOCK_MAX, QUEUE_BLOCK_MAX);
	buf_destroy(&path);
	return 0;
fail:
	buf_destroy(&path);
	return -1;
}

int cleanup_queue_envelope(struct cleanup_state *st)
{
	struct queue_writer *w = st->writer;
	struct buf *rec = buf_create(128, QUEUE_REC_MAX);
	int r = 0;

	if (st->status != 0 || w == NULL) {
		buf_destroy(&rec);
		return -1;
	}
	r |= queue_writer_add_str(w, QREC_VERSION, QUEUE_FORMAT_VERSION);
	/* The S payload is fixed width: rewritten in place at commit. */
	st->size_offset = queue_writer_offset(w) + QUEUE_REC_HDR;
	queue_size_format(0, 0, rec);
	r |= queue_writer_add(w, QREC_SIZE, buf_str(rec), buf_len(rec));
	buf_sprintf(rec, "%lld.%06ld", (long long)st->arrival.tv_sec,
	            (long)st->arrival.tv_usec);
	r |= queue_writer_add(w, QREC_TIME, buf_str(rec), buf_len(rec));
	r |= queue_writer_add_str(w, QREC_SENDER, st->sender);
	if (st->envid)
		r |= queue_writer_add_str(w, QREC_ENVID, st->envid);
	if (st->ret)
		r |= queue_writer_add_str(w, QREC_RET, st->ret);
	for (size_t i = 0; i < st->nattrs; i++) {
		buf_sprintf(rec, "%s=%s", st->attr_names[i],
		            st->attr_values[i]);
		r |= queue_writer_add(w, QREC_ATTR, buf_str(rec), buf_len(rec));
	}
	for (size_t i = 0; i < st->nrcpts; i++) {
		buf_reset(rec);
		queue_rcpt_encode(st->rcpts[i].address, st->rcpts[i].orcpt,
		                  st->rcpts[i].notify, rec);
		r |= queue_writer_add(w, QREC_RCPT, buf_str(rec), buf_len(rec));
	}
	r |= queue_writer_add(w, QREC_CONTENT, "", 0);
	buf_destroy(&rec);
	if (r != 0) {
		cleanup_queue_error(st, "write");
		return -1;
	}
	return 0;
}

/* Write the pending content block as one B record. */
static void cleanup_queue_block(struct cleanup_state *st)
{
	if (buf_len(st->block) == 0 || st->status != 0)
		return;
	if (queue_writer_add(st->writer, QREC_BLOCK, buf_str(st->block),
	                     buf_len(st->block)) < 0)
		cleanup_queue_error(st, "write");
	buf_reset(st->block);
}

void cleanup_queue_content(struct cleanup_state *st, const char *data,
                           size_t len)
{
	if (st->status != 0 || st->writer == NULL || len == 0)
		return;
	st->content_size += (long long)len;
	st->last_byte = (unsigned char)data[len - 1];
	while (len > 0 && st->status == 0) {
		size_t room = QUEUE_BLOCK_MAX - buf_len(st->block);
		size_t n = len < room ? len : room;

		buf_append(st->block, data, n);
		data += n;
		len -= n;
		if (buf_len(st->block) == QUEUE_BLOCK_MAX)
			cleanup_queue_block(st);
	}
}

int cleanup_queue_commit(struct cleanup_state *st)
{
	struct buf *size = buf_create(64, 256);
	char final[sizeof(QUEUE_INCOMING) + QUEUE_ID_MAX + 1];
	int r;

	if (st->status != 0 || st->writer == NULL)
		goto fail;
	cleanup_queue_block(st);
	if (st->status != 0)
		goto fail;
	if (queue_writer_add(st->writer, QREC_END, "", 0) < 0 ||
	    queue_writer_flush(st->writer) < 0) {
		cleanup_queue_error(st, "write");
		goto fail;
	}
	queue_size_format(st->content_size, (long long)st->nrcpts, size);
	if (pwrite(st->fd, buf_str(size), buf_len(size), st->size_offset) !=
	    (ssize_t)buf_len(size)) {
		cleanup_queue_error(st, "write");
		goto fail;
	}
	/* A recycled file may be longer than this message: cut it to
	 * length (queue_pool.h). */
	if (st->recycled &&
	    st->recycled_size > queue_writer_offset(st->writer) &&
	    ftruncate(st->fd, queue_writer_offset(st->writer)) < 0) {
		cleanup_queue_error(st, "truncate");
		goto fail;
	}
	/* fdatasync: the data and the size (all a reader needs) are on disk
	 * when it returns; a recycled file of the same length then costs no
	 * inode write for its new timestamps. */
	if (fdatasync(st->fd) < 0) {
		cleanup_queue_error(st, "fsync");
		goto fail;
	}
	if (str_format(final, sizeof(final), "%s/%s", QUEUE_INCOMING,
	               st->queue_id) < 0)
		msg_panic("cleanup_queue_commit: queue ID too long");
	/* Never replace an existing queue file: an ID is unique while its
	 * file exists, so a clash is a bug or a forged file. */
	r = renameat2(AT_FDCWD, st->tmp_path, AT_FDCWD, final,
	              RENAME_NOREPLACE);
	if (r < 0 && (errno == EINVAL || errno == ENOSYS)) {
		/* A file system without RENAME_NOREPLACE: link + unlink. */
		r = link(st->tmp_path, final);
		if (r == 0)
			(void)unlink(st->tmp_path);
	}
	if (r < 0) {
		cleanup_queue_error(st, "rename");
		goto fail;
	}
	mem_free(st->tmp_path);
	st->tmp_path = NULL;
	if (cleanup_incoming_fd < 0 || fsync(cleanup_incoming_fd) < 0) {
		if (cleanup_incoming_fd < 0)
			errno = EBADF;
		cleanup_queue_error(st, "fsync of " QUEUE_INCOMING);
		/* Not acknowledged, so it must not stay half-durable: the
		 * client will try again. */
		(void)unlink(final);
		goto fail;
	}
	queue_writer_destroy(&st->writer);
	close(st->fd);
	st->fd = -1;
	buf_destroy(&size);
	return 0;
fail:
	buf_destroy(&size);
	return -1;
}

void cleanup_queue_abort(struct cleanup_state *st)
{
	queue_writer_destroy(&st->writer);
	buf_destroy(&st->block);
	if (st->fd >= 0) {
		close(st->fd);
		st->fd = -1;
	}
	if (st->tmp_path) {
		if (unlink(st->tmp_path) < 0 && errno != ENOENT)
			msg_warn("%s: remove %s: %m", cleanup_log_id(st),
			         st->tmp_path);
		mem_free(st->tmp_path);
		st->tmp_path = NULL;
	}
}

void cleanup_queue_trigger(const char *queue_id)
{
	char msg[QUEUE_ID_MAX + 2];
	int n = snprintf(msg, sizeof(msg), "N%s\n", queue_id);

	/* qmgr may not run (or exist): a missed trigger only delays mail
	 * until qmgr's next scan. "N" names the file, so qmgr takes it
	 * without listing incoming/ (docs/qmgr.md). */
	if (n > 0 && (size_t)n < sizeof(msg))
		(void)server_unix_trigger("public/qmgr", msg, (size_t)n, 0);
}
