/*
 * queue_list.c: the queue listing behind `posthorn queue list` and mailq
 * (docs/queue-admin.md). Owns the mailq text layout (Postfix's: heading,
 * one line per message with '*' for active and '!' for hold, the defer
 * reasons in parentheses, the recipients indented, a blank line after
 * each message, the "-- N Kbytes in M Requests." footer), the JSON form
 * (one object a line, the fields of `postqueue -j`, RFC 8259 strings),
 * and the defer log line format that delivery writes into
 * queue_directory/defer/H/ID.
 * SECURITY: maildrop files are written by local users and every queue
 * file may be damaged: files are read with the strict queue reader (every
 * length bounded), opened with O_NOFOLLOW and only when regular; a bad
 * file is shown with a warning, never trusted further. Everything printed
 * to a terminal passes queue_list_printable (no control characters);
 * JSON strings are escaped per RFC 8259 7 and are always valid UTF-8.
 * Defer log lines are bounded (QUEUE_LIST_LINE_MAX) and malformed ones
 * are skipped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "queue_list.h"
#include "mem.h"
#include "msg.h"
#include "number.h"
#include "queue_file.h"
#include "str.h"

/* Longest defer log line considered; longer ones are skipped. */
#define QUEUE_LIST_LINE_MAX 8192
/* Column where recipients start in the text layout (Postfix's). */
#define QUEUE_LIST_RCPT_INDENT 41
/* Reasons are right-aligned to end near this column (Postfix's). */
#define QUEUE_LIST_REASON_WIDTH 76

/* The queues listed, in order, with their status mark. */
static const struct {
	const char *name;
	char mark;
} queue_list_queues[] = {
    {QUEUE_INCOMING, ' '}, {QUEUE_ACTIVE, '*'},   {QUEUE_DEFERRED, ' '},
    {QUEUE_HOLD, '!'},     {QUEUE_MAILDROP, ' '},
};

#define QUEUE_LIST_NQUEUES                                                     \
	(sizeof(queue_list_queues) / sizeof(queue_list_queues[0]))

/* ---- formatting ---- */

/* Length of the valid UTF-8 sequence at s (1-4), 0 if s[0] does not start
 * one (RFC 3629 4: no overlong forms, no surrogates, nothing past
 * U+10FFFF). */
static size_t queue_list_utf8_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t need;

	if (c < 0x80)
		return 1;
	if (c < 0xc2)
		return 0;
	if (c < 0xe0) {
		need = 2;
	} else if (c < 0xf0) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c < 0xf5) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (len < need || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return need;
}

/* Is the sequence a C1 control character (U+0080..U+009F)? Some
 * terminals act on them, so they are treated like C0 controls. */
static bool queue_list_c1(const unsigned char *s, size_t n)
{
	return n == 2 && s[0] == 0xc2 && s[1] < 0xa0;
}

void queue_list_json_string(const char *s, size_t len, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	buf_append_char(out, '"');
	while (i < len) {
		unsigned char c = p[i];
		size_t n = queue_list_utf8_len(p + i, len - i);

		if (n == 0) {
			/* Not UTF-8: stay valid JSON, show the loss. */
			buf_append_str(out, "\\ufffd");
			i++;
			continue;
		}
		if (queue_list_c1(p + i, n)) {
			buf_printf(out, "\\u%04x", p[i + 1]);
		} else if (n > 1) {
			buf_append(out, p + i, n);
		} else if (c == '"' || c == '\\') {
			buf_append_char(out, '\\');
			buf_append_char(out, c);
		} else if (c == '\n') {
			buf_append_str(out, "\\n");
		} else if (c == '\r') {
			buf_append_str(out, "\\r");
		} else if (c == '\t') {
			buf_append_str(out, "\\t");
		} else if (c < 0x20 || c == 0x7f) {
			buf_printf(out, "\\u%04x", c);
		} else {
			buf_append_char(out, c);
		}
		i += n;
	}
	buf_append_char(out, '"');
}

void queue_list_printable(const char *s, size_t len, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		size_t n = queue_list_utf8_len(p + i, len - i);

		if (n == 0 || queue_list_c1(p + i, n) ||
		    (n == 1 && (p[i] < 0x20 || p[i] == 0x7f))) {
			buf_append_char(out, '?');
			i += n ? n : 1;
			continue;
		}
		buf_append(out, p + i, n);
		i += n;
	}
}

void queue_list_format_time(long long sec, struct buf *out)
{
	time_t t = (time_t)sec;
	struct tm tm;
	char text[64];

	if (sec <= 0 || localtime_r(&t, &tm) == NULL ||
	    strftime(text, sizeof(text), "%a %b %e %H:%M:%S", &tm) == 0) {
		buf_append_str(out, "??");
		return;
	}
	buf_append_str(out, text);
}

void queue_list_heading(struct buf *out)
{
	buf_printf(out, "%-11s %7s %-20s %s\n", "-Queue ID-", "--Size--",
	           "----Arrival Time----", "-Sender/Recipient-------");
}

static char queue_list_mark(const char *queue)
{
	for (size_t i = 0; i < QUEUE_LIST_NQUEUES; i++)
		if (strcmp(queue_list_queues[i].name, queue) == 0)
			return queue_list_queues[i].mark;
	return ' ';
}

/* "(text)" right-aligned the way mailq shows a reason. */
static void queue_list_reason_line(const char *reason, struct buf *out)
{
	struct buf *text = buf_create(128, 0);
	int pad;

	queue_list_printable(reason, strlen(reason), text);
	pad = QUEUE_LIST_REASON_WIDTH - (int)buf_len(text);
	buf_printf(out, "%*s(%s)\n", pad > 0 ? pad : 0, "", buf_str(text));
	buf_destroy(&text);
}

void queue_list_format_text(const struct queue_list_item *item, struct buf *out)
{
	struct buf *when = buf_create(64, 0), *who = buf_create(128, 0);
	const char *last = NULL;

	queue_list_format_time(item->arrival, when);
	if (item->sender == NULL)
		buf_set_str(who, "?");
	else if (*item->sender == 0)
		buf_set_str(who, "MAILER-DAEMON");
	else
		queue_list_printable(item->sender, strlen(item->sender), who);
	buf_printf(out, "%-10s%c %7lld %-20s %s\n", item->id,
	           queue_list_mark(item->queue), item->size, buf_str(when),
	           buf_str(who));
	if (item->error)
		queue_list_reason_line(item->error, out);
	/* Recipients with a defer reason first, each reason shown once
	 * for a run of recipients that share it; then the rest. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < item->nrcpts; i++) {
			const struct queue_list_rcpt *r = &item->rcpts[i];
			if ((pass == 0) != (r->reason != NULL))
				continue;
			if (r->reason &&
			    (last == NULL || strcmp(last, r->reason) != 0)) {
				queue_list_reason_line(r->reason, out);
				last = r->reason;
			}
			buf_printf(out, "%*s", QUEUE_LIST_RCPT_INDENT, "");
			queue_list_printable(r->address, strlen(r->address),
			                     out);
			buf_append_char(out, '\n');
		}
	}
	buf_append_char(out, '\n');
	buf_destroy(&when);
	buf_destroy(&who);
}

static void queue_list_json_key(const char *key, const char *value,
                                struct buf *out)
{
	buf_printf(out, "\"%s\": ", key);
	queue_list_json_string(value, strlen(value), out);
}

void queue_list_format_json(const struct queue_list_item *item, struct buf *out)
{
	buf_append_char(out, '{');
	queue_list_json_key("queue_name", item->queue, out);
	buf_append_str(out, ", ");
	queue_list_json_key("queue_id", item->id, out);
	buf_printf(out, ", \"arrival_time\": %lld, \"message_size\": %lld, ",
	           item->arrival > 0 ? item->arrival : 0, item->size);
	queue_list_json_key("sender", item->sender ? item->sender : "", out);
	buf_append_str(out, ", \"recipients\": [");
	for (size_t i = 0; i < item->nrcpts; i++) {
		buf_append_str(out, i ? ", {" : "{");
		queue_list_json_key("address", item->rcpts[i].address, out);
		if (item->rcpts[i].reason) {
			buf_append_str(out, ", ");
			queue_list_json_key("delay_reason",
			                    item->rcpts[i].reason, out);
		}
		buf_append_char(out, '}');
	}
	buf_append_char(out, ']');
	if (item->error) {
		buf_append_str(out, ", ");
		queue_list_json_key("error", item->error, out);
	}
	buf_append_str(out, "}\n");
}

void queue_list_footer(long long bytes, long long count, struct buf *out)
{
	if (count == 0)
		buf_append_str(out, "Mail queue is empty\n");
	else
		buf_printf(out, "-- %lld Kbytes in %lld Request%s.\n",
		           bytes / 1024, count, count == 1 ? "" : "s");
}

/* ---- defer log lines ---- */

static void queue_list_defer_escape(const char *s, struct buf *out)
{
	for (; *s; s++) {
		switch (*s) {
		case '\\':
			buf_append_str(out, "\\\\");
			break;
		case '\t':
			buf_append_str(out, "\\t");
			break;
		case '\r':
			buf_append_str(out, "\\r");
			break;
		case '\n':
			buf_append_str(out, "\\n");
			break;
		default:
			buf_append_char(out, *s);
		}
	}
}

void queue_list_defer_encode(const char *rcpt, const char *reason,
                             struct buf *out)
{
	queue_list_defer_escape(rcpt, out);
	buf_append_char(out, '\t');
	queue_list_defer_escape(reason, out);
	buf_append_char(out, '\n');
}

int queue_list_defer_decode(const char *line, size_t len, struct buf *rcpt,
                            struct buf *reason)
{
	struct buf *field = rcpt;
	bool split = false;

	buf_reset(rcpt);
	buf_reset(reason);
	for (size_t i = 0; i < len; i++) {
		char c = line[i];
		if (c == 0 || c == '\n' || c == '\r')
			return -1;
		if (c == '\t') {
			if (split)
				return -1;
			split = true;
			field = reason;
			continue;
		}
		if (c == '\\') {
			if (++i >= len)
				return -1;
			switch (line[i]) {
			case '\\':
				c = '\\';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case 'n':
				c = '\n';
				break;
			default:
				return -1;
			}
		}
		if (buf_append_char(field, c) < 0)
			return -1;
	}
	return split && buf_len(rcpt) > 0 ? 0 : -1;
}

/* ---- reading the queue ---- */

struct queue_list_defer {
	char *rcpt, *reason;
	size_t seq; /* line number: the last line for a recipient wins */
};

static int queue_list_defer_cmp(const void *a, const void *b)
{
	const struct queue_list_defer *x = a, *y = b;
	int r = strcmp(x->rcpt, y->rcpt);

	if (r != 0)
		return r;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

struct queue_list_msg {
	struct queue_list_item item;
	struct queue_list_rcpt *rcpts;
	size_t rcpt_cap;
	char *sender;
	char *error;
	struct queue_list_defer *defers;
	size_t ndefers, defer_cap;
};

static void queue_list_defer_add(struct queue_list_msg *m, const char *line,
                                 size_t len, struct buf *rcpt,
                                 struct buf *reason)
{
	if (queue_list_defer_decode(line, len, rcpt, reason) < 0)
		return;
	if (m->ndefers == m->defer_cap) {
		m->defer_cap = m->defer_cap ? m->defer_cap * 2 : 8;
		m->defers =
		    mem_realloc(m->defers, m->defer_cap * sizeof(*m->defers));
	}
	m->defers[m->ndefers].rcpt = mem_strdup(buf_str(rcpt));
	m->defers[m->ndefers].reason = mem_strdup(buf_str(reason));
	m->defers[m->ndefers].seq = m->ndefers;
	m->ndefers++;
}

/* Read defer/H/ID if it exists: sorted by recipient, duplicates dropped
 * (the last line wins). Problems only mean no reasons are shown. */
static void queue_list_defer_read(int qfd, const char *id,
                                  struct queue_list_msg *m)
{
	struct buf *path = buf_create(64, 4096);
	struct buf *line = buf_create(256, QUEUE_LIST_LINE_MAX + 1);
	struct buf *rcpt = buf_create(64, QUEUE_LIST_LINE_MAX);
	struct buf *reason = buf_create(64, QUEUE_LIST_LINE_MAX);
	char chunk[8192];
	bool skipping = false;
	struct stat st;
	ssize_t n;
	int fd;

	queue_path(QUEUE_DEFER, id, path);
	fd = openat(qfd, buf_str(path),
	            O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			msg_warn("queue_list: %s: open: %s", buf_str(path),
			         strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		msg_warn("queue_list: %s: not a regular file", buf_str(path));
		goto out;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0 ||
	       (n < 0 && errno == EINTR)) {
		for (ssize_t i = 0; i < n; i++) {
			if (chunk[i] == '\n') {
				if (!skipping)
					queue_list_defer_add(m, buf_str(line),
					                     buf_len(line),
					                     rcpt, reason);
				buf_reset(line);
				skipping = false;
			} else if (!skipping &&
			           buf_append_char(line, chunk[i]) < 0) {
				/* Over QUEUE_LIST_LINE_MAX: skip it. */
				skipping = true;
				buf_reset(line);
			}
		}
	}
	/* A last line without its LF was being written: ignore it. */
	if (m->ndefers > 1) {
		size_t keep = 0;
		qsort(m->defers, m->ndefers, sizeof(*m->defers),
		      queue_list_defer_cmp);
		for (size_t i = 0; i < m->ndefers; i++) {
			if (i + 1 < m->ndefers &&
			    strcmp(m->defers[i].rcpt, m->defers[i + 1].rcpt) ==
			        0) {
				mem_free(m->defers[i].rcpt);
				mem_free(m->defers[i].reason);
				continue;
			}
			m->defers[keep++] = m->defers[i];
		}
		m->ndefers = keep;
	}
out:
	if (fd >= 0)
		close(fd);
	buf_destroy(&path);
	buf_destroy(&line);
	buf_destroy(&rcpt);
	buf_destroy(&reason);
}

static const char *queue_list_defer_find(const struct queue_list_msg *m,
                                         const char *rcpt)
{
	size_t lo = 0, hi = m->ndefers;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(rcpt, m->defers[mid].rcpt);
		if (r == 0)
			return m->defers[mid].reason;
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static void queue_list_add_rcpt(struct queue_list_msg *m, const char *addr)
{
	if (m->item.nrcpts == m->rcpt_cap) {
		m->rcpt_cap = m->rcpt_cap ? m->rcpt_cap * 2 : 8;
		m->rcpts =
		    mem_realloc(m->rcpts, m->rcpt_cap * sizeof(*m->rcpts));
	}
	m->rcpts[m->item.nrcpts].address = mem_strdup(addr);
	m->rcpts[m->item.nrcpts].reason = NULL;
	m->item.nrcpts++;
}

/* Read the envelope of an open queue file into m, leniently: the size
 * record is optional (maildrop files), and on a damaged file what was
 * read before the damage is kept and m->error says why. */
static void queue_list_envelope(int fd, const struct stat *st,
                                struct queue_list_msg *m)
{
	struct queue_reader *r = queue_reader_create(fd);
	struct buf *rec = buf_create(256, QUEUE_REC_MAX);
	struct buf *err = buf_create(64, 1024);
	bool have_size = false, have_time = false;
	int type, n;

	while ((n = queue_reader_next(r, &type, rec, NULL, err)) == 1) {
		const char *s = buf_str(rec);
		long long v;
		if (type == QREC_CONTENT)
			break;
		switch (type) {
		case QREC_SIZE: {
			char copy[40], *p = copy, *word;
			if (str_copy(copy, sizeof(copy), s) == 0 &&
			    (word = str_token(&p, " ")) != NULL &&
			    number_parse(word, 0, 1LL << 50, &v, NULL) == 0) {
				m->item.size = v;
				have_size = true;
			}
			break;
		}
		case QREC_TIME: {
			char copy[40], *dot;
			if (str_copy(copy, sizeof(copy), s) < 0)
				break;
			if ((dot = strchr(copy, '.')) != NULL)
				*dot = 0;
			if (number_parse(copy, 1, 1LL << 40, &v, NULL) == 0) {
				m->item.arrival = v;
				have_time = true;
			}
			break;
		}
		case QREC_SENDER:
			if (m->sender == NULL)
				m->sender = mem_strdup(s);
			break;
		case QREC_RCPT:
			/* The address is the payload up to its first NUL. */
			if (*s)
				queue_list_add_rcpt(m, s);
			break;
		default:
			break; /* done recipients and the rest: not shown */
		}
	}
	if (n < 0)
		m->error = mem_strdup(buf_str(err));
	else if (n == 0)
		m->error = mem_strdup("no content section");
	if (!have_size)
		m->item.size = (long long)st->st_size;
	if (!have_time)
		m->item.arrival = (long long)st->st_mtime;
	queue_reader_destroy(&r);
	buf_destroy(&rec);
	buf_destroy(&err);
}

static void queue_list_msg_free(struct queue_list_msg *m)
{
	for (size_t i = 0; i < m->item.nrcpts; i++)
		mem_free((char *)m->rcpts[i].address);
	mem_free(m->rcpts);
	for (size_t i = 0; i < m->ndefers; i++) {
		mem_free(m->defers[i].rcpt);
		mem_free(m->defers[i].reason);
	}
	mem_free(m->defers);
	mem_free(m->sender);
	mem_free(m->error);
	memset(m, 0, sizeof(*m));
}

/* One queue file found by the scan. */
struct queue_list_entry {
	const char *queue;
	char *id;
	char *path; /* relative to queue_directory */
};

struct queue_list_scan {
	struct queue_list_entry *v;
	size_t n, cap;
};

static void queue_list_scan_add(struct queue_list_scan *sc, const char *queue,
                                const char *sub, const char *id)
{
	struct buf *path = buf_create(64, 4096);

	if (sc->n == sc->cap) {
		sc->cap = sc->cap ? sc->cap * 2 : 64;
		sc->v = mem_realloc(sc->v, sc->cap * sizeof(*sc->v));
	}
	if (sub)
		buf_printf(path, "%s/%s/%s", queue, sub, id);
	else
		buf_printf(path, "%s/%s", queue, id);
	sc->v[sc->n].queue = queue;
	sc->v[sc->n].id = mem_strdup(id);
	sc->v[sc->n].path = buf_steal(path);
	sc->n++;
	buf_destroy(&path);
}

static int queue_list_entry_cmp(const void *a, const void *b)
{
	const struct queue_list_entry *x = a, *y = b;

	return strcmp(x->id, y->id);
}

static void queue_list_sort(struct queue_list_entry *v, size_t n)
{
	/* qsort wants a valid pointer even for no elements. */
	if (n > 1)
		qsort(v, n, sizeof(*v), queue_list_entry_cmp);
}

static bool queue_list_hash_name(const char *name)
{
	return name[0] && name[1] == 0 &&
	       ((name[0] >= '0' && name[0] <= '9') ||
	        (name[0] >= 'A' && name[0] <= 'F'));
}

/* Add the queue IDs in parent/name (and, for a hashed queue, in its
 * subdirectories) to sc. A missing directory is empty; -1 with the
 * reason in err when one cannot be read. */
static int queue_list_scan_dir(int parent, const char *qdir, const char *queue,
                               const char *sub, struct queue_list_scan *sc,
                               struct buf *err)
{
	const char *name = sub ? sub : queue;
	struct dirent *de;
	DIR *dir;
	int fd;

	fd = openat(parent, name,
	            O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		buf_sprintf(err, "open %s/%s%s%s: %s", qdir, queue,
		            sub ? "/" : "", sub ? sub : "", strerror(errno));
		return -1;
	}
	if ((dir = fdopendir(fd)) == NULL) {
		buf_sprintf(err, "open %s/%s: %s", qdir, queue,
		            strerror(errno));
		close(fd);
		return -1;
	}
	while ((errno = 0, de = readdir(dir)) != NULL) {
		/* Dot names are files being written, never queue files. */
		if (de->d_name[0] == '.')
			continue;
		if (sub == NULL && queue_dir_hashed(queue)) {
			if (queue_list_hash_name(de->d_name) &&
			    queue_list_scan_dir(dirfd(dir), qdir, queue,
			                        de->d_name, sc, err) < 0) {
				closedir(dir);
				return -1;
			}
			continue;
		}
		if (queue_id_valid(de->d_name))
			queue_list_scan_add(sc, queue, sub, de->d_name);
	}
	if (errno != 0) {
		buf_sprintf(err, "read %s/%s: %s", qdir, queue,
		            strerror(errno));
		closedir(dir);
		return -1;
	}
	closedir(dir);
	return 0;
}

/* Fill m for one scanned file; 0 if it vanished meanwhile (moved by
 * the queue manager or deleted): it is then not listed. */
static int queue_list_read_one(int qfd, const struct queue_list_entry *e,
                               struct queue_list_msg *m)
{
	struct stat st;
	int fd;

	memset(m, 0, sizeof(*m));
	m->item.queue = e->queue;
	m->item.id = e->id;
	if (fstatat(qfd, e->path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		m->error = mem_strdup(strerror(errno));
		return 1;
	}
	m->item.size = (long long)st.st_size;
	m->item.arrival = (long long)st.st_mtime;
	if (!S_ISREG(st.st_mode)) {
		m->error = mem_strdup("not a regular file");
		return 1;
	}
	fd = openat(qfd, e->path,
	            O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		m->error = mem_strdup(strerror(errno));
		return 1;
	}
	/* What was opened, not what was looked at (it may have been
	 * replaced in between). */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		m->error = mem_strdup("not a regular file");
		close(fd);
		return 1;
	}
	queue_list_envelope(fd, &st, m);
	close(fd);
	queue_list_defer_read(qfd, e->id, m);
	for (size_t i = 0; i < m->item.nrcpts; i++)
		m->rcpts[i].reason =
		    queue_list_defer_find(m, m->rcpts[i].address);
	return 1;
}

static void queue_list_scan_free(struct queue_list_scan *sc)
{
	for (size_t i = 0; i < sc->n; i++) {
		mem_free(sc->v[i].id);
		mem_free(sc->v[i].path);
	}
	mem_free(sc->v);
	memset(sc, 0, sizeof(*sc));
}

int queue_list_each(struct config *c, const char *queue,
                    int (*fn)(const char *queue, const char *id,
                              const char *path, void *ctx),
                    void *ctx, struct buf *err)
{
	const char *qdir = config_str(c, "queue_directory");
	struct queue_list_scan sc = {0};
	int qfd, ret = -1;

	qfd = open(qdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (qfd < 0) {
		buf_sprintf(err, "open %s: %s", qdir, strerror(errno));
		return -1;
	}
	if (queue_list_scan_dir(qfd, qdir, queue, NULL, &sc, err) == 0) {
		queue_list_sort(sc.v, sc.n);
		ret = 0;
		for (size_t i = 0; i < sc.n && ret == 0; i++)
			ret = fn(queue, sc.v[i].id, sc.v[i].path, ctx);
	}
	close(qfd);
	queue_list_scan_free(&sc);
	return ret;
}

int queue_list_print(struct config *c, FILE *out, bool json, struct buf *err)
{
	const char *qdir = config_str(c, "queue_directory");
	struct queue_list_scan sc = {0};
	struct buf *text = buf_create(4096, 0);
	struct buf *why = buf_create(128, 8192);
	long long bytes = 0, count = 0;
	int qfd, ret = -1;

	qfd = open(qdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (qfd < 0) {
		buf_sprintf(why, "open %s: %s", qdir, strerror(errno));
		goto out;
	}
	/* Scan everything first: a directory that cannot be read fails the
	 * listing before anything is printed. */
	for (size_t q = 0; q < QUEUE_LIST_NQUEUES; q++) {
		size_t first = sc.n;
		if (queue_list_scan_dir(qfd, qdir, queue_list_queues[q].name,
		                        NULL, &sc, why) < 0)
			goto out;
		queue_list_sort(sc.v + first, sc.n - first);
	}
	for (size_t i = 0; i < sc.n; i++) {
		struct queue_list_msg m;

		if (queue_list_read_one(qfd, &sc.v[i], &m) == 0)
			continue;
		if (m.error)
			msg_warn("queue_list: %s: %s", sc.v[i].path, m.error);
		m.item.sender = m.sender;
		m.item.rcpts = m.rcpts;
		m.item.error = m.error;
		buf_reset(text);
		if (json) {
			queue_list_format_json(&m.item, text);
		} else {
			if (count == 0)
				queue_list_heading(text);
			queue_list_format_text(&m.item, text);
		}
		bytes += m.item.size;
		count++;
		fwrite(buf_str(text), 1, buf_len(text), out);
		queue_list_msg_free(&m);
	}
	if (!json) {
		buf_reset(text);
		queue_list_footer(bytes, count, text);
		fwrite(buf_str(text), 1, buf_len(text), out);
	}
	if (fflush(out) != 0 || ferror(out)) {
		buf_sprintf(why, "write: %s", strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (ret < 0)
		buf_set_str(err, buf_str(why));
	if (qfd >= 0)
		close(qfd);
	queue_list_scan_free(&sc);
	buf_destroy(&text);
	buf_destroy(&why);
	return ret;
}
