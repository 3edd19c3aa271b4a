/*
 * sendmail_input.c: standard input of the sendmail wrapper, cut into
 * pieces of lines. Both CRLF and a bare LF end a line and are stripped
 * (the caller writes the canonical LF); every other byte, 8-bit and NUL
 * included, passes unchanged, and a line of any length survives (it
 * comes in pieces of a bounded size, so memory stays bounded too).
 * SECURITY: input from the invoking user; nothing here allocates more
 * than the piece buffer.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"
#include "msg.h"
#include "sendmail.h"

struct sm_reader {
	int fd;
	char *data;
	size_t cap, pos, len; /* unread bytes: data[pos..len) */
	bool eof;
	bool at_bol; /* the next piece starts a line */
};

struct sm_reader *sm_reader_create(int fd, size_t piece_max)
{
	struct sm_reader *r = mem_zalloc(sizeof(*r));

	if (piece_max < 2)
		msg_panic("sm_reader_create: piece_max %zu", piece_max);
	r->fd = fd;
	r->cap = piece_max;
	r->data = mem_alloc(piece_max);
	r->at_bol = true;
	return r;
}

void sm_reader_destroy(struct sm_reader **rp)
{
	if (*rp == NULL)
		return;
	mem_free((*rp)->data);
	mem_free(*rp);
	*rp = NULL;
}

/* Read more input after the unread bytes (moved to the front first).
 * 0 at EOF, -1 on error, else bytes read. */
static ssize_t sm_reader_fill(struct sm_reader *r)
{
	ssize_t n;

	if (r->pos > 0) {
		memmove(r->data, r->data + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
	}
	do
		n = read(r->fd, r->data + r->len, r->cap - r->len);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		r->eof = true;
	if (n > 0)
		r->len += (size_t)n;
	return n;
}

int sm_reader_next(struct sm_reader *r, const char **data, size_t *len,
                   bool *bol, bool *eol)
{
	for (;;) {
		char *start = r->data + r->pos;
		size_t avail = r->len - r->pos;
		char *lf = memchr(start, '\n', avail);
		size_t n;

		*bol = r->at_bol;
		*data = start;
		if (lf != NULL) {
			n = (size_t)(lf - start);
			r->pos += n + 1;
			if (n > 0 && start[n - 1] == '\r')
				n--;
			*len = n;
			*eol = true;
			r->at_bol = true;
			return 1;
		}
		if (avail == r->cap) {
			/* A long line: pass a piece, but keep a final CR
			 * with whatever follows it (it may be a CRLF). */
			n = start[avail - 1] == '\r' ? avail - 1 : avail;
			r->pos += n;
			*len = n;
			*eol = false;
			r->at_bol = false;
			return 1;
		}
		if (r->eof) {
			if (avail == 0)
				return 0;
			/* The last line has no line end: EOF ends it. */
			r->pos += avail;
			*len = avail;
			*eol = true;
			r->at_bol = true;
			return 1;
		}
		if (sm_reader_fill(r) < 0)
			return -1;
	}
}
