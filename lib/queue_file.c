/*
 * queue_file.c: reading and writing queue files (docs/queue-format.md).
 * A file is a sequence of records: one type byte, a 4-byte big-endian
 * payload length, the payload. Sections come in a fixed order: the
 * envelope (V first, then S, T, F, E, N, A, R/D in any order), the content
 * (M, then B blocks) and the end marker X, after which nothing may follow.
 * The reader refuses any type outside its section, so a damaged or forged
 * file is detected and moved to corrupt/ instead of being half-trusted.
 * Queue IDs and directory names live here too.
 * SECURITY: files in maildrop/ are written by local users through postdrop
 * and are untrusted: every length is checked against QUEUE_REC_MAX before
 * anything is allocated, and a short file is an error, not a hang.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "queue_file.h"
#include "mem.h"
#include "msg.h"
#include "number.h"
#include "str.h"

#define QUEUE_IO_BUF (64 * 1024)

/* ---- recipients and NOTIFY ---- */

void queue_rcpt_encode(const char *address, const char *orcpt, int notify,
                       struct buf *out)
{
	/* address NUL orcpt NUL notify-flags-in-decimal */
	buf_append(out, address, strlen(address) + 1);
	buf_append(out, orcpt ? orcpt : "", strlen(orcpt ? orcpt : "") + 1);
	buf_printf(out, "%d", notify);
}

int queue_notify_parse(const char *text)
{
	char copy[64], *p = copy, *word;
	int flags = 0;

	if (str_copy(copy, sizeof(copy), text) < 0)
		return -1;
	while ((word = str_token(&p, ",")) != NULL) {
		if (str_eq_ci(word, "NEVER"))
			flags |= QUEUE_NOTIFY_NEVER;
		else if (str_eq_ci(word, "SUCCESS"))
			flags |= QUEUE_NOTIFY_SUCCESS;
		else if (str_eq_ci(word, "FAILURE"))
			flags |= QUEUE_NOTIFY_FAILURE;
		else if (str_eq_ci(word, "DELAY"))
			flags |= QUEUE_NOTIFY_DELAY;
		else
			return -1;
	}
	/* RFC 3461 4.1: NEVER stands alone. */
	if (flags == 0 ||
	    ((flags & QUEUE_NOTIFY_NEVER) && flags != QUEUE_NOTIFY_NEVER))
		return -1;
	return flags;
}

void queue_notify_format(int notify, struct buf *out)
{
	static const struct {
		int flag;
		const char *name;
	} names[] = {{QUEUE_NOTIFY_NEVER, "NEVER"},
	             {QUEUE_NOTIFY_SUCCESS, "SUCCESS"},
	             {QUEUE_NOTIFY_FAILURE, "FAILURE"},
	             {QUEUE_NOTIFY_DELAY, "DELAY"}};
	bool first = true;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (notify & names[i].flag) {
			buf_printf(out, "%s%s", first ? "" : ",",
			           names[i].name);
			first = false;
		}
	}
}

/* ---- writer ---- */

struct queue_writer {
	int fd;
	struct buf *pending;
	off_t flushed;
};

struct queue_writer *queue_writer_create(int fd)
{
	struct queue_writer *w = mem_zalloc(sizeof(*w));

	w->fd = fd;
	w->pending = buf_create(QUEUE_IO_BUF, QUEUE_REC_MAX + QUEUE_IO_BUF * 2);
	return w;
}

void queue_writer_destroy(struct queue_writer **wp)
{
	if (*wp == NULL)
		return;
	buf_destroy(&(*wp)->pending);
	mem_free(*wp);
	*wp = NULL;
}

int queue_writer_flush(struct queue_writer *w)
{
	const char *p = buf_str(w->pending);
	size_t left = buf_len(w->pending);

	while (left > 0) {
		ssize_t n = write(w->fd, p, left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		left -= (size_t)n;
		w->flushed += n;
	}
	buf_reset(w->pending);
	return 0;
}

int queue_writer_add(struct queue_writer *w, int type, const void *data,
                     size_t len)
{
	unsigned char hdr[QUEUE_REC_HDR];

	if (len > QUEUE_REC_MAX) {
		errno = EFBIG;
		return -1;
	}
	if (buf_len(w->pending) + len + QUEUE_REC_HDR > QUEUE_IO_BUF &&
	    queue_writer_flush(w) < 0)
		return -1;
	hdr[0] = (unsigned char)type;
	hdr[1] = (unsigned char)(len >> 24);
	hdr[2] = (unsigned char)(len >> 16);
	hdr[3] = (unsigned char)(len >> 8);
	hdr[4] = (unsigned char)len;
	if (buf_append(w->pending, hdr, sizeof(hdr)) < 0 ||
	    buf_append(w->pending, data, len) < 0)
		msg_panic("queue_writer_add: buffer overflow");
	return 0;
}

int queue_writer_add_str(struct queue_writer *w, int type, const char *s)
{
	return queue_writer_add(w, type, s, strlen(s));
}

off_t queue_writer_offset(const struct queue_writer *w)
{
	return w->flushed + (off_t)buf_len(w->pending);
}

void queue_size_format(long long content_size, long long nrcpts,
                       struct buf *out)
{
	/* Fixed width, so the record can be rewritten in place. */
	buf_printf(out, "%15lld %15lld", content_size, nrcpts);
}

/* ---- reader ---- */

struct queue_reader {
	int fd;
	char *data;
	size_t len, pos;
	off_t data_offset; /* file offset of data[0] */
	bool eof;
	enum queue_section section;
	int last_type;
	int nrecords;
};

struct queue_reader *queue_reader_create(int fd)
{
	struct queue_reader *r = mem_zalloc(sizeof(*r));

	r->fd = fd;
	r->data = mem_alloc(QUEUE_IO_BUF);
	r->data_offset = lseek(fd, 0, SEEK_CUR);
	if (r->data_offset < 0)
		r->data_offset = 0;
	return r;
}

struct queue_reader *queue_reader_create_content(int fd)
{
	struct queue_reader *r = queue_reader_create(fd);

	/* As if the envelope and QREC_CONTENT had been read. */
	r->section = QSEC_CONTENT;
	r->nrecords = 1;
	r->last_type = QREC_CONTENT;
	return r;
}

void queue_reader_destroy(struct queue_reader **rp)
{
	if (*rp == NULL)
		return;
	mem_free((*rp)->data);
	mem_free(*rp);
	*rp = NULL;
}

/* Copy len bytes into out (NULL: skip), refilling as needed; -1 on EOF. */
static int queue_reader_take(struct queue_reader *r, void *out, size_t len,
                             struct buf *err)
{
	unsigned char *dst = out;

	while (len > 0) {
		if (r->pos == r->len) {
			ssize_t n;
			r->data_offset += (off_t)r->len;
			r->pos = r->len = 0;
			do
				n = read(r->fd, r->data, QUEUE_IO_BUF);
			while (n < 0 && errno == EINTR);
			if (n < 0) {
				buf_sprintf(err, "read: %s", strerror(errno));
				return -1;
			}
			if (n == 0) {
				r->eof = true;
				buf_set_str(err, "truncated file");
				return -1;
			}
			r->len = (size_t)n;
		}
		size_t chunk = r->len - r->pos < len ? r->len - r->pos : len;
		if (dst) {
			memcpy(dst, r->data + r->pos, chunk);
			dst += chunk;
		}
		r->pos += chunk;
		len -= chunk;
	}
	return 0;
}

/* May a record of this type follow in the current section? Advances the
 * section on M and X. */
static int queue_reader_allow(struct queue_reader *r, int type, struct buf *err)
{
	if (r->nrecords == 0 && type != QREC_VERSION) {
		buf_set_str(err, "first record is not the version");
		return -1;
	}
	switch (r->section) {
	case QSEC_ENVELOPE:
		switch (type) {
		case QREC_VERSION:
			if (r->nrecords != 0)
				break;
			return 0;
		case QREC_SIZE:
		case QREC_TIME:
		case QREC_SENDER:
		case QREC_ENVID:
		case QREC_RET:
		case QREC_ATTR:
		case QREC_RCPT:
		case QREC_DONE:
			return 0;
		case QREC_CONTENT:
			r->section = QSEC_CONTENT;
			return 0;
		}
		break;
	case QSEC_CONTENT:
		if (type == QREC_BLOCK)
			return 0;
		if (type == QREC_END) {
			r->section = QSEC_END;
			return 0;
		}
		break;
	case QSEC_END:
		buf_set_str(err, "data after the end marker");
		return -1;
	}
	if (type >= 0x21 && type < 0x7f)
		buf_sprintf(err, "record type '%c' out of place", type);
	else
		buf_sprintf(err, "bad record type 0x%02x", type & 0xff);
	return -1;
}

int queue_reader_next(struct queue_reader *r, int *type, struct buf *payload,
                      off_t *offset, struct buf *err)
{
	unsigned char hdr[QUEUE_REC_HDR];
	off_t here = r->data_offset + (off_t)r->pos;
	size_t len;

	buf_reset(payload);
	if (r->section == QSEC_END) {
		/* Nothing may follow the end marker. */
		if (r->pos < r->len ||
		    (!r->eof && queue_reader_take(r, hdr, 1, err) == 0)) {
			buf_set_str(err, "data after the end marker");
			return -1;
		}
		return 0;
	}
	if (queue_reader_take(r, hdr, sizeof(hdr), err) < 0)
		return -1;
	len = (size_t)hdr[1] << 24 | (size_t)hdr[2] << 16 |
	      (size_t)hdr[3] << 8 | hdr[4];
	if (len > QUEUE_REC_MAX ||
	    (hdr[0] == QREC_BLOCK && len > QUEUE_BLOCK_MAX)) {
		buf_sprintf(err, "record length %zu too large", len);
		return -1;
	}
	if (queue_reader_allow(r, hdr[0], err) < 0)
		return -1;
	char *dst = buf_reserve(payload, len);
	if (dst == NULL) {
		buf_sprintf(err, "record length %zu too large", len);
		return -1;
	}
	if (queue_reader_take(r, dst, len, err) < 0)
		return -1;
	buf_commit(payload, len);
	r->nrecords++;
	r->last_type = hdr[0];
	*type = hdr[0];
	if (offset)
		*offset = here;
	return 1;
}

/* Split an R/D payload: address NUL orcpt NUL notify. */
static int queue_rcpt_decode(const char *p, size_t len, struct queue_rcpt *rc,
                             struct buf *err)
{
	const char *end = p + len;
	const char *nul1 = memchr(p, 0, len);
	const char *nul2 =
	    nul1 ? memchr(nul1 + 1, 0, (size_t)(end - nul1 - 1)) : NULL;
	long long notify;
	char num[8];

	if (nul2 == NULL || end - nul2 - 1 <= 0 ||
	    (size_t)(end - nul2 - 1) >= sizeof(num) || nul1 == p) {
		buf_set_str(err, "malformed recipient record");
		return -1;
	}
	memcpy(num, nul2 + 1, (size_t)(end - nul2 - 1));
	num[end - nul2 - 1] = 0;
	if (number_parse(num, 0, 15, &notify, NULL) < 0) {
		buf_set_str(err, "malformed recipient notify flags");
		return -1;
	}
	rc->address = mem_strdup(p);
	rc->orcpt = mem_strdup(nul1 + 1);
	rc->notify = (int)notify;
	return 0;
}

static bool queue_text_ok(const struct buf *b)
{
	return str_no_nul(buf_str(b), buf_len(b));
}

int queue_envelope_read(struct queue_reader *r, struct queue_envelope *env,
                        struct buf *err)
{
	struct buf *rec = buf_create(256, QUEUE_REC_MAX);
	size_t rcpt_cap = 0, attr_cap = 0;
	bool have_size = false, have_time = false, have_sender = false;
	int type, ret = -1, n;
	off_t offset;

	memset(env, 0, sizeof(*env));
	while ((n = queue_reader_next(r, &type, rec, &offset, err)) == 1) {
		const char *s = buf_str(rec);
		if (type != QREC_RCPT && type != QREC_DONE &&
		    !queue_text_ok(rec)) {
			buf_sprintf(err, "NUL byte in record '%c'", type);
			goto out;
		}
		switch (type) {
		case QREC_VERSION:
			if (strcmp(s, QUEUE_FORMAT_VERSION) != 0) {
				buf_sprintf(err, "unknown version");
				goto out;
			}
			break;
		case QREC_SIZE: {
			long long size, nrcpt;
			char copy[40], *p = copy;
			if (str_copy(copy, sizeof(copy), s) < 0 ||
			    number_parse(str_token(&p, " "), 0, 1LL << 50,
			                 &size, NULL) < 0 ||
			    number_parse(str_token(&p, " "), 0, 1LL << 31,
			                 &nrcpt, NULL) < 0) {
				buf_set_str(err, "malformed size record");
				goto out;
			}
			env->content_size = size;
			have_size = true;
			break;
		}
		case QREC_TIME: {
			char copy[40], *dot;
			long long sec, usec = 0;
			if (str_copy(copy, sizeof(copy), s) < 0) {
				buf_set_str(err, "malformed time record");
				goto out;
			}
			if ((dot = strchr(copy, '.')) != NULL)
				*dot = 0;
			if (number_parse(copy, 0, 1LL << 40, &sec, NULL) < 0 ||
			    (dot && number_parse(dot + 1, 0, 999999, &usec,
			                         NULL) < 0)) {
				buf_set_str(err, "malformed time record");
				goto out;
			}
			env->arrival_sec = sec;
			env->arrival_usec = (long)usec;
			have_time = true;
			break;
		}
		case QREC_SENDER:
			if (have_sender) {
				buf_set_str(err, "two sender records");
				goto out;
			}
			env->sender = mem_strdup(s);
			have_sender = true;
			break;
		case QREC_ENVID:
			mem_free(env->envid);
			env->envid = mem_strdup(s);
			break;
		case QREC_RET:
			mem_free(env->ret);
			env->ret = mem_strdup(s);
			break;
		case QREC_ATTR: {
			const char *eq = strchr(s, '=');
			if (eq == NULL || eq == s) {
				buf_set_str(err, "malformed attribute record");
				goto out;
			}
			if (env->nattrs == attr_cap) {
				attr_cap = attr_cap ? attr_cap * 2 : 8;
				env->attr_names = mem_realloc(
				    env->attr_names, attr_cap * sizeof(char *));
				env->attr_values =
				    mem_realloc(env->attr_values,
				                attr_cap * sizeof(char *));
			}
			env->attr_names[env->nattrs] =
			    mem_strndup(s, (size_t)(eq - s));
			env->attr_values[env->nattrs++] = mem_strdup(eq + 1);
			break;
		}
		case QREC_RCPT:
		case QREC_DONE: {
			struct queue_rcpt rc = {0};
			if (queue_rcpt_decode(s, buf_len(rec), &rc, err) < 0)
				goto out;
			rc.offset = offset;
			rc.done = type == QREC_DONE;
			if (env->nrcpts == rcpt_cap) {
				rcpt_cap = rcpt_cap ? rcpt_cap * 2 : 8;
				env->rcpts = mem_realloc(env->rcpts,
				                         rcpt_cap * sizeof(rc));
			}
			env->rcpts[env->nrcpts++] = rc;
			break;
		}
		case QREC_CONTENT:
			if (!have_size || !have_time || !have_sender) {
				buf_set_str(err, "envelope lacks size, time "
				                 "or sender");
				goto out;
			}
			env->content_offset = offset + QUEUE_REC_HDR;
			ret = 0;
			goto out;
		}
	}
	if (n == 0)
		buf_set_str(err, "no content section");
out:
	buf_destroy(&rec);
	if (ret < 0)
		queue_envelope_free(env);
	return ret;
}

void queue_envelope_free(struct queue_envelope *env)
{
	mem_free(env->sender);
	mem_free(env->envid);
	mem_free(env->ret);
	for (size_t i = 0; i < env->nattrs; i++) {
		mem_free(env->attr_names[i]);
		mem_free(env->attr_values[i]);
	}
	mem_free(env->attr_names);
	mem_free(env->attr_values);
	for (size_t i = 0; i < env->nrcpts; i++) {
		mem_free(env->rcpts[i].address);
		mem_free(env->rcpts[i].orcpt);
	}
	mem_free(env->rcpts);
	memset(env, 0, sizeof(*env));
}

const char *queue_envelope_attr(const struct queue_envelope *env,
                                const char *name)
{
	for (size_t i = 0; i < env->nattrs; i++)
		if (strcmp(env->attr_names[i], name) == 0)
			return env->attr_values[i];
	return NULL;
}

int queue_mark_done(int fd, off_t offset)
{
	char type = QREC_DONE;

	return pwrite(fd, &type, 1, offset) == 1 ? 0 : -1;
}

/* ---- queue IDs and paths ---- */

void queue_id_make(char *out, size_t outlen, long long sec, long usec,
                   unsigned long long inode)
{
	if (str_format(out, outlen, "%08llX%05lXQ%llX",
	               (unsigned long long)sec & 0xffffffffULL,
	               (unsigned long)usec & 0xfffffUL, inode) < 0)
		msg_panic("queue_id_make: buffer too small");
}

bool queue_id_valid(const char *s)
{
	size_t len = strlen(s);

	if (len < 15 || len >= QUEUE_ID_MAX || s[13] != 'Q')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (i == 13)
			continue;
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	}
	return true;
}

char queue_id_hash(const char *id)
{
	/* The last microsecond digit spreads IDs evenly over 16 buckets. */
	return strlen(id) > 12 ? id[12] : '0';
}

bool queue_dir_hashed(const char *queue)
{
	return strcmp(queue, QUEUE_DEFERRED) == 0 ||
	       strcmp(queue, QUEUE_DEFER) == 0 ||
	       strcmp(queue, QUEUE_BOUNCE) == 0;
}

void queue_path(const char *queue, const char *id, struct buf *out)
{
	if (queue_dir_hashed(queue))
		buf_printf(out, "%s/%c/%s", queue, queue_id_hash(id), id);
	else
		buf_printf(out, "%s/%s", queue, id);
}
