/*
 * buf.c: the growable buffer. Contents are binary-safe (length-counted) and
 * always NUL-terminated for convenience. Every buffer has a hard cap: an
 * append that would pass it fails and leaves the buffer as it was, so a
 * peer can never make a process allocate without bound.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "mem.h"
#include "msg.h"

struct buf {
	char *data;
	size_t len;
	size_t cap; /* allocated, excluding the NUL slot */
	size_t limit;
};

struct buf *buf_create(size_t initial, size_t limit)
{
	struct buf *b = mem_alloc(sizeof(*b));

	b->limit = limit ? limit : BUF_DEFAULT_LIMIT;
	if (initial < 16)
		initial = 16;
	if (initial > b->limit)
		initial = b->limit; /* cap never exceeds the limit */
	b->cap = initial;
	b->data = mem_alloc(b->cap + 1);
	b->data[0] = 0;
	b->len = 0;
	return b;
}

void buf_destroy(struct buf **bp)
{
	if (*bp == NULL)
		return;
	mem_free((*bp)->data);
	mem_free(*bp);
	*bp = NULL;
}

/* Make room for n more bytes, doubling; -1 past the limit. */
static int buf_grow(struct buf *b, size_t n)
{
	size_t want;

	if (n > b->limit || b->len > b->limit - n)
		return -1;
	want = b->len + n;
	if (want <= b->cap)
		return 0;
	size_t cap = b->cap;
	while (cap < want)
		cap = cap > b->limit / 2 ? b->limit : cap * 2;
	b->data = mem_realloc(b->data, cap + 1);
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *data, size_t len)
{
	if (buf_grow(b, len) < 0)
		return -1;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = 0;
	return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_append_char(struct buf *b, int c)
{
	char ch = (char)c;

	return buf_append(b, &ch, 1);
}

static int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(b->data + b->len, b->cap - b->len + 1, fmt, aq);
	va_end(aq);
	if (n < 0) {
		b->data[b->len] = 0;
		return -1;
	}
	if ((size_t)n > b->cap - b->len) {
		if (buf_grow(b, (size_t)n) < 0) {
			b->data[b->len] = 0;
			return -1;
		}
		vsnprintf(b->data + b->len, b->cap - b->len + 1, fmt, ap);
	}
	b->len += (size_t)n;
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return ret;
}

int buf_sprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int ret;

	buf_reset(b);
	va_start(ap, fmt);
	ret = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return ret;
}

int buf_set_str(struct buf *b, const char *s)
{
	buf_reset(b);
	return buf_append_str(b, s);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	b->data[0] = 0;
}

void buf_truncate(struct buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->data[len] = 0;
	}
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = 0;
}

const char *buf_str(const struct buf *b)
{
	return b->data;
}

char *buf_data(struct buf *b)
{
	return b->data;
}

size_t buf_len(const struct buf *b)
{
	return b->len;
}

size_t buf_limit(const struct buf *b)
{
	return b->limit;
}

char *buf_reserve(struct buf *b, size_t n)
{
	if (buf_grow(b, n) < 0)
		return NULL;
	return b->data + b->len;
}

void buf_commit(struct buf *b, size_t n)
{
	if (n > b->cap - b->len)
		msg_panic("buf_commit: %zu bytes past the reserved space", n);
	b->len += n;
	b->data[b->len] = 0;
}

char *buf_steal(struct buf *b)
{
	char *data = b->data;

	b->cap = b->limit < 16 ? b->limit : 16;
	b->data = mem_alloc(b->cap + 1);
	b->len = 0;
	b->data[0] = 0;
	return data;
}
