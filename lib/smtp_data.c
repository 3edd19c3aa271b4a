/*
 * smtp_data.c: the incremental DATA/BDAT content decoder (smtp_data.h):
 * a five-state machine over the raw bytes from the client, producing the
 * canonical content (LF line ends) and finding the end of data. RFC 5321
 * 4.1.1.4 (end of data), 4.5.2 (transparency), 2.3.8 (CR and LF only
 * together); RFC 3030 (BDAT). The rules are spelled out in smtp_data.h:
 * only CRLF ends a line, only CRLF "." CRLF ends the data.
 * SECURITY: the input is hostile. No allocation depends on it (the
 * caller's output buffer must have room for len + 1 bytes per call, which
 * bounds the output); the state survives being fed one byte at a time,
 * so a client cannot split sequences across reads to change the outcome.
 * Fuzzed by tests/fuzz/fuzz_smtp_data.c.
 */
#include <string.h>

#include "mem.h"
#include "msg.h"
#include "smtp_data.h"

enum smtp_data_state {
	SD_BOL, /* at the start of a line (after CRLF) */
	SD_DOT, /* "." at the start of a line */
	SD_DOT_CR, /* "." CR at the start of a line */
	SD_TEXT, /* inside a line */
	SD_CR, /* CR inside a line (or after a line start) */
	SD_DONE, /* end of data consumed */
};

struct smtp_data {
	enum smtp_data_mode mode;
	enum smtp_data_state state;
	unsigned flags;
	long long size;
};

struct smtp_data *smtp_data_create(enum smtp_data_mode mode)
{
	struct smtp_data *d = mem_zalloc(sizeof(*d));

	d->mode = mode;
	/* DATA content starts at a line start: the DATA command's CRLF. */
	d->state = mode == SMTP_DATA_DOT ? SD_BOL : SD_TEXT;
	return d;
}

void smtp_data_destroy(struct smtp_data **dp)
{
	mem_free(*dp);
	*dp = NULL;
}

int smtp_data_feed(struct smtp_data *d, const void *in, size_t len,
                   size_t *used, struct buf *out)
{
	const unsigned char *p = in, *end = p + len;
	bool dot = d->mode == SMTP_DATA_DOT;
	char *dst, *o;

	if (d->state == SD_DONE)
		msg_panic("smtp_data_feed: called after the end of data");
	if ((dst = buf_reserve(out, len + 1)) == NULL)
		msg_panic("smtp_data_feed: no room for %zu bytes", len + 1);
	o = dst;
	while (p < end && d->state != SD_DONE) {
		const unsigned char *q;

		switch (d->state) {
		case SD_TEXT:
			/* The common case: copy up to the next CR or LF. */
			q = p;
			while (q < end && *q != '\r' && *q != '\n')
				q++;
			memcpy(o, p, (size_t)(q - p));
			o += q - p;
			p = q;
			if (p == end)
				break;
			if (*p++ == '\r') {
				d->state = SD_CR;
			} else {
				/* A bare LF: content, never a line end for
				 * dots or the end of data. */
				if (dot)
					d->flags |= SMTP_DATA_BARE_LF;
				*o++ = '\n';
			}
			break;
		case SD_CR:
			if (*p == '\n') {
				p++;
				*o++ = '\n';
				d->state = dot ? SD_BOL : SD_TEXT;
			} else {
				/* A bare CR; the byte after it is looked at
				 * again as text. */
				if (dot)
					d->flags |= SMTP_DATA_BARE_CR;
				*o++ = '\r';
				d->state = SD_TEXT;
			}
			break;
		case SD_BOL:
			if (*p == '.') {
				p++;
				d->state = SD_DOT;
			} else {
				d->state = SD_TEXT;
			}
			break;
		case SD_DOT:
			/* RFC 5321 4.5.2: a leading dot with more on the
			 * line is dropped; the byte after it is text. */
			if (*p == '\r') {
				p++;
				d->state = SD_DOT_CR;
			} else {
				d->state = SD_TEXT;
			}
			break;
		case SD_DOT_CR:
			if (*p == '\n') {
				p++;
				d->state = SD_DONE;
			} else {
				/* ".<CR>x": the dot goes, the CR is bare. */
				d->flags |= SMTP_DATA_BARE_CR;
				*o++ = '\r';
				d->state = SD_TEXT;
			}
			break;
		case SD_DONE:
			break;
		}
	}
	buf_commit(out, (size_t)(o - dst));
	d->size += o - dst;
	*used = (size_t)(p - (const unsigned char *)in);
	return d->state == SD_DONE ? SMTP_DATA_END : SMTP_DATA_MORE;
}

void smtp_data_chunk_end(struct smtp_data *d, struct buf *out)
{
	if (d->state == SD_CR) {
		if (buf_append_char(out, '\r') < 0)
			msg_panic("smtp_data_chunk_end: no room");
		d->size++;
	}
	d->state = SD_TEXT;
}

unsigned smtp_data_flags(const struct smtp_data *d)
{
	return d->flags;
}

long long smtp_data_size(const struct smtp_data *d)
{
	return d->size;
}
