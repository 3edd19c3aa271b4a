/*
 * maildrop.c: maildrop files (lib/maildrop.h): the strict reader that
 * postdrop and pickup share, the writer that sendmail and postdrop share,
 * and postdrop's check-and-copy step. The record format is the queue
 * file's (lib/queue_file.c); this module adds the rules of a maildrop
 * file: which records, how many recipients, what an address may hold.
 * SECURITY: every maildrop stream is written by a local user (sendmail
 * runs with the user's privileges) and every maildrop file by postdrop on
 * that user's behalf, so both readers treat them as hostile: record
 * lengths are checked before allocation (queue_reader), recipients are
 * counted against MAILDROP_RCPT_MAX, content against message_size_limit,
 * text fields are refused when they hold control characters, and the only
 * attribute allowed is the submitter, which postdrop sets itself and
 * pickup ignores in favour of the file owner.
 */
#include <errno.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "address.h"
#include "maildrop.h"
#include "mem.h"
#include "msg.h"
#include "str.h"

/* ---- reader ---- */

/* Is s (len bytes) at most max bytes long, and free of control
 * characters? Bytes from 0x80 up are allowed (RFC 6531 addresses). */
static bool maildrop_text_ok(const char *s, size_t max)
{
	size_t len = strlen(s);

	if (len > max)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

int maildrop_read_envelope(struct queue_reader *r, struct queue_envelope *env,
                           const struct maildrop_limits *lim, struct buf *err)
{
	size_t max_rcpts = lim->max_rcpts;

	if (max_rcpts == 0 || max_rcpts > MAILDROP_RCPT_MAX)
		max_rcpts = MAILDROP_RCPT_MAX;
	if (queue_envelope_read(r, env, err) < 0)
		return -1;
	if (!maildrop_text_ok(env->sender, ADDRESS_MAILBOX_MAX)) {
		buf_set_str(err, "malformed sender address");
		goto bad;
	}
	if (env->nrcpts == 0) {
		buf_set_str(err, "no recipients");
		goto bad;
	}
	if (env->nrcpts > max_rcpts) {
		buf_sprintf(err, "more than %zu recipients", max_rcpts);
		goto bad;
	}
	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct queue_rcpt *rc = &env->rcpts[i];
		int notify = rc->notify;

		if (rc->done) {
			buf_set_str(err, "recipient marked done");
			goto bad;
		}
		if (*rc->address == 0 ||
		    !maildrop_text_ok(rc->address, ADDRESS_MAILBOX_MAX)) {
			buf_set_str(err, "malformed recipient address");
			goto bad;
		}
		if (!maildrop_text_ok(rc->orcpt, MAILDROP_ORCPT_MAX)) {
			buf_set_str(err, "malformed original recipient");
			goto bad;
		}
		/* RFC 3461 4.1: NEVER stands alone. */
		if ((notify & QUEUE_NOTIFY_NEVER) &&
		    notify != QUEUE_NOTIFY_NEVER) {
			buf_set_str(err, "malformed recipient notify flags");
			goto bad;
		}
	}
	if (env->envid != NULL &&
	    (*env->envid == 0 ||
	     !maildrop_text_ok(env->envid, MAILDROP_ENVID_MAX))) {
		buf_set_str(err, "malformed envelope ID");
		goto bad;
	}
	if (env->ret != NULL && strcmp(env->ret, "FULL") != 0 &&
	    strcmp(env->ret, "HDRS") != 0) {
		buf_set_str(err, "malformed RET value");
		goto bad;
	}
	for (size_t i = 0; i < env->nattrs; i++) {
		if (strcmp(env->attr_names[i], MAILDROP_ATTR_SUBMITTER) != 0 ||
		    i > 0 || !maildrop_text_ok(env->attr_values[i], 256)) {
			buf_sprintf(err, "attribute not allowed here");
			goto bad;
		}
	}
	return 0;
bad:
	queue_envelope_free(env);
	return -1;
}

int maildrop_read_block(struct queue_reader *r, struct buf *out,
                        long long *size, const struct maildrop_limits *lim,
                        struct buf *err)
{
	int type, n;

	n = queue_reader_next(r, &type, out, NULL, err);
	if (n <= 0)
		return n;
	switch (type) {
	case QREC_BLOCK:
		*size += (long long)buf_len(out);
		if (lim->max_size > 0 && *size > lim->max_size) {
			buf_sprintf(err, "content exceeds %lld bytes",
			            lim->max_size);
			return -1;
		}
		return 1;
	case QREC_END:
		/* Whole only if nothing follows the end marker. */
		buf_reset(out);
		return queue_reader_next(r, &type, out, NULL, err) < 0 ? -1 : 0;
	default:
		buf_sprintf(err, "record type '%c' out of place", type);
		return -1;
	}
}

/* ---- writer ---- */

struct maildrop_writer {
	int fd;
	struct queue_writer *qw;
	struct buf *block;
	off_t size_offset; /* of the S payload; -1 until written */
	long long size;
	size_t nrcpts;
};

struct maildrop_writer *maildrop_writer_create(int fd)
{
	struct maildrop_writer *w = mem_zalloc(sizeof(*w));

	w->fd = fd;
	w->qw = queue_writer_create(fd);
	w->block = buf_create(QUEUE_BLOCK_MAX, QUEUE_BLOCK_MAX);
	w->size_offset = -1;
	return w;
}

void maildrop_writer_destroy(struct maildrop_writer **wp)
{
	if (*wp == NULL)
		return;
	queue_writer_destroy(&(*wp)->qw);
	buf_destroy(&(*wp)->block);
	mem_free(*wp);
	*wp = NULL;
}

int maildrop_write_envelope(struct maildrop_writer *w,
                            const struct queue_envelope *env)
{
	struct buf *b = buf_create(256, QUEUE_REC_MAX);
	int ret = -1;

	if (w->size_offset >= 0)
		msg_panic("maildrop_write_envelope: envelope written twice");
	if (queue_writer_add_str(w->qw, QREC_VERSION, QUEUE_FORMAT_VERSION) < 0)
		goto out;
	w->nrcpts = env->nrcpts;
	w->size_offset = queue_writer_offset(w->qw) + QUEUE_REC_HDR;
	queue_size_format(0, (long long)env->nrcpts, b);
	if (queue_writer_add(w->qw, QREC_SIZE, buf_str(b), buf_len(b)) < 0)
		goto out;
	buf_sprintf(b, "%lld.%06ld", env->arrival_sec, env->arrival_usec);
	if (queue_writer_add(w->qw, QREC_TIME, buf_str(b), buf_len(b)) < 0 ||
	    queue_writer_add_str(w->qw, QREC_SENDER, env->sender) < 0)
		goto out;
	if (env->envid &&
	    queue_writer_add_str(w->qw, QREC_ENVID, env->envid) < 0)
		goto out;
	if (env->ret && queue_writer_add_str(w->qw, QREC_RET, env->ret) < 0)
		goto out;
	for (size_t i = 0; i < env->nattrs; i++) {
		buf_sprintf(b, "%s=%s", env->attr_names[i],
		            env->attr_values[i]);
		if (queue_writer_add(w->qw, QREC_ATTR, buf_str(b), buf_len(b)) <
		    0)
			goto out;
	}
	for (size_t i = 0; i < env->nrcpts; i++) {
		buf_reset(b);
		queue_rcpt_encode(env->rcpts[i].address, env->rcpts[i].orcpt,
		                  env->rcpts[i].notify, b);
		if (queue_writer_add(w->qw, QREC_RCPT, buf_str(b), buf_len(b)) <
		    0)
			goto out;
	}
	ret = queue_writer_add(w->qw, QREC_CONTENT, "", 0);
out:
	buf_destroy(&b);
	return ret;
}

static int maildrop_flush_block(struct maildrop_writer *w)
{
	if (buf_len(w->block) == 0)
		return 0;
	if (queue_writer_add(w->qw, QREC_BLOCK, buf_str(w->block),
	                     buf_len(w->block)) < 0)
		return -1;
	buf_reset(w->block);
	return 0;
}

int maildrop_write_content(struct maildrop_writer *w, const void *data,
                           size_t len)
{
	const char *p = data;

	if (w->size_offset < 0)
		msg_panic("maildrop_write_content: no envelope yet");
	while (len > 0) {
		size_t room = QUEUE_BLOCK_MAX - buf_len(w->block);
		size_t n = len < room ? len : room;

		if (buf_append(w->block, p, n) < 0)
			msg_panic("maildrop_write_content: block overflow");
		p += n;
		len -= n;
		w->size += (long long)n;
		if (buf_len(w->block) == QUEUE_BLOCK_MAX &&
		    maildrop_flush_block(w) < 0)
			return -1;
	}
	return 0;
}

int maildrop_write_end(struct maildrop_writer *w)
{
	if (w->size_offset < 0)
		msg_panic("maildrop_write_end: no envelope yet");
	if (maildrop_flush_block(w) < 0 ||
	    queue_writer_add(w->qw, QREC_END, "", 0) < 0)
		return -1;
	return queue_writer_flush(w->qw);
}

long long maildrop_writer_size(const struct maildrop_writer *w)
{
	return w->size;
}

int maildrop_writer_fix_size(struct maildrop_writer *w)
{
	struct buf *b = buf_create(64, 256);
	ssize_t n;

	if (w->size_offset < 0)
		msg_panic("maildrop_writer_fix_size: no envelope yet");
	queue_size_format(w->size, (long long)w->nrcpts, b);
	do
		n = pwrite(w->fd, buf_str(b), buf_len(b), w->size_offset);
	while (n < 0 && errno == EINTR);
	if (n >= 0 && (size_t)n != buf_len(b)) {
		errno = EIO;
		n = -1;
	}
	buf_destroy(&b);
	return n < 0 ? -1 : 0;
}

/* ---- postdrop's copy ---- */

int maildrop_copy(int in_fd, int out_fd, const char *submitter,
                  const struct maildrop_limits *lim, struct buf *err)
{
	struct queue_reader *r = queue_reader_create(in_fd);
	struct maildrop_writer *w = NULL;
	struct buf *block = buf_create(QUEUE_BLOCK_MAX, QUEUE_REC_MAX);
	struct queue_envelope env;
	struct timeval tv;
	long long size = 0;
	int ret = MAILDROP_COPY_BAD, n;
	bool have_env = false;

	if (maildrop_read_envelope(r, &env, lim, err) < 0)
		goto out;
	have_env = true;
	/* The caller's attributes and time are not ours to keep. */
	for (size_t i = 0; i < env.nattrs; i++) {
		mem_free(env.attr_names[i]);
		mem_free(env.attr_values[i]);
	}
	env.attr_names = mem_realloc(env.attr_names, sizeof(char *));
	env.attr_values = mem_realloc(env.attr_values, sizeof(char *));
	env.attr_names[0] = mem_strdup(MAILDROP_ATTR_SUBMITTER);
	env.attr_values[0] = mem_strdup(submitter);
	env.nattrs = 1;
	gettimeofday(&tv, NULL);
	env.arrival_sec = tv.tv_sec;
	env.arrival_usec = (long)tv.tv_usec;

	w = maildrop_writer_create(out_fd);
	if (maildrop_write_envelope(w, &env) < 0)
		goto io;
	while ((n = maildrop_read_block(r, block, &size, lim, err)) == 1)
		if (maildrop_write_content(w, buf_str(block), buf_len(block)) <
		    0)
			goto io;
	if (n < 0)
		goto out;
	if (maildrop_write_end(w) < 0 || maildrop_writer_fix_size(w) < 0)
		goto io;
	ret = MAILDROP_COPY_OK;
	goto out;
io:
	buf_sprintf(err, "write: %s", strerror(errno));
	ret = MAILDROP_COPY_IO;
out:
	if (have_env)
		queue_envelope_free(&env);
	maildrop_writer_destroy(&w);
	queue_reader_destroy(&r);
	buf_destroy(&block);
	return ret;
}

bool maildrop_sender_is_login(const char *sender, const char *login,
                              const char *origin)
{
	size_t len = strlen(login);

	if (strcmp(sender, login) == 0)
		return true;
	return len > 0 && strncmp(sender, login, len) == 0 &&
	       sender[len] == '@' && origin != NULL && *origin != 0 &&
	       str_eq_ci(sender + len + 1, origin);
}
