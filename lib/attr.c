/*
 * attr.c: the attribute IPC protocol between posthorn daemons (wire format
 * in docs/ipc.md). Owns struct attr_list: an ordered list of name/value
 * pairs, values binary-safe and stored with a trailing NUL so text values
 * can be used as C strings.
 *
 * Wire: 0xA1, then per attribute a 1-byte name length, the name, a 4-byte
 * big-endian value length and the value; a zero name length ends the
 * message. There is exactly one encoding of each list.
 *
 * SECURITY: messages come from other daemons, which may be compromised or
 * confused; nothing is trusted. Every length is checked against struct
 * attr_limits (count, name, value, total) before anything is allocated or
 * read, names must be [a-z0-9_]+, and a bad message is refused with a
 * reason (the caller logs it and drops the connection: after a malformed
 * message the stream is out of step and cannot be resynchronised).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "attr.h"
#include "buf.h"
#include "mem.h"
#include "msg.h"
#include "number.h"
#include "str.h"
#include "stream.h"

#define ATTR_MAGIC 0xA1 /* "posthorn attributes, version 1" */
#define ATTR_NAME_WIRE 255 /* the name length is one byte */

const struct attr_limits attr_default_limits = {
    .max_count = 64,
    .max_name = 64,
    .max_value = 64 * 1024,
    .max_total = 1024 * 1024,
};

struct attr {
	char *name;
	char *value; /* len bytes and a NUL */
	size_t len;
};

struct attr_list {
	struct attr *v;
	size_t count;
	size_t cap;
};

struct attr_list *attr_list_create(void)
{
	return mem_zalloc(sizeof(struct attr_list));
}

void attr_list_destroy(struct attr_list **lp)
{
	if (*lp == NULL)
		return;
	attr_list_reset(*lp);
	mem_free((*lp)->v);
	mem_free(*lp);
	*lp = NULL;
}

void attr_list_reset(struct attr_list *l)
{
	for (size_t i = 0; i < l->count; i++) {
		mem_free(l->v[i].name);
		mem_free(l->v[i].value);
	}
	l->count = 0;
}

size_t attr_list_count(const struct attr_list *l)
{
	return l->count;
}

/* Is name (len bytes) a valid attribute name: [a-z0-9_]+? */
static bool attr_name_ok(const char *name, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return true;
}

/* Append an attribute, taking ownership of name and value. */
static void attr_push(struct attr_list *l, char *name, char *value, size_t len)
{
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct attr *v = mem_array(cap, sizeof(*v));

		if (l->count)
			memcpy(v, l->v, l->count * sizeof(*v));
		mem_free(l->v);
		l->v = v;
		l->cap = cap;
	}
	l->v[l->count].name = name;
	l->v[l->count].value = value;
	l->v[l->count].len = len;
	l->count++;
}

void attr_add(struct attr_list *l, const char *name, const void *value,
              size_t len)
{
	size_t nlen = strlen(name);

	/* Names and sizes come from our own code: a bad one is our bug. */
	if (nlen > ATTR_NAME_WIRE || !attr_name_ok(name, nlen))
		msg_panic("attr_add: bad attribute name \"%.64s\"", name);
	if (len > UINT32_MAX)
		msg_panic("attr_add: %s: value of %zu bytes", name, len);
	attr_push(l, mem_memdup(name, nlen), mem_memdup(len ? value : "", len),
	          len);
}

void attr_add_str(struct attr_list *l, const char *name, const char *value)
{
	attr_add(l, name, value, strlen(value));
}

void attr_add_int(struct attr_list *l, const char *name, long long value)
{
	char text[32];

	if (str_format(text, sizeof(text), "%lld", value) < 0)
		msg_panic("attr_add_int: %s: format", name);
	attr_add_str(l, name, text);
}

const char *attr_name_at(const struct attr_list *l, size_t i)
{
	if (i >= l->count)
		msg_panic("attr_name_at: index %zu of %zu", i, l->count);
	return l->v[i].name;
}

const char *attr_value_at(const struct attr_list *l, size_t i, size_t *len)
{
	if (i >= l->count)
		msg_panic("attr_value_at: index %zu of %zu", i, l->count);
	if (len)
		*len = l->v[i].len;
	return l->v[i].value;
}

const char *attr_get(const struct attr_list *l, const char *name, size_t *len)
{
	for (size_t i = 0; i < l->count; i++) {
		if (strcmp(l->v[i].name, name) == 0) {
			if (len)
				*len = l->v[i].len;
			return l->v[i].value;
		}
	}
	return NULL;
}

int attr_get_int(const struct attr_list *l, const char *name, long long min,
                 long long max, long long *out)
{
	size_t len;
	const char *value = attr_get(l, name, &len);

	/* An embedded NUL would hide trailing junk from the parser. */
	if (value == NULL || !str_no_nul(value, len))
		return -1;
	return number_parse(value, min, max, out, NULL);
}

int attr_require(const struct attr_list *l, const char *const *names,
                 struct buf *err)
{
	for (; *names; names++) {
		if (attr_get(l, *names, NULL) == NULL) {
			if (err)
				buf_sprintf(err, "missing attribute \"%s\"",
				            *names);
			return -1;
		}
	}
	return 0;
}

/* Bytes one attribute takes on the wire. */
static size_t attr_wire_size(const struct attr *a)
{
	return 1 + strlen(a->name) + 4 + a->len;
}

static void attr_put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static size_t attr_get_be32(const unsigned char *p)
{
	return (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 |
	       (size_t)p[3];
}

void attr_encode(const struct attr_list *l, struct buf *out)
{
	size_t total = 2; /* magic and end marker */
	unsigned char *p, *start;

	for (size_t i = 0; i < l->count; i++)
		total += attr_wire_size(&l->v[i]);
	start = p = (unsigned char *)buf_reserve(out, total);
	if (p == NULL)
		msg_panic("attr_encode: %zu bytes pass the output limit %zu",
		          total, buf_limit(out));
	*p++ = ATTR_MAGIC;
	for (size_t i = 0; i < l->count; i++) {
		const struct attr *a = &l->v[i];
		size_t nlen = strlen(a->name);

		*p++ = (unsigned char)nlen;
		memcpy(p, a->name, nlen);
		p += nlen;
		attr_put_be32(p, (uint32_t)a->len);
		p += 4;
		if (a->len)
			memcpy(p, a->value, a->len);
		p += a->len;
	}
	*p++ = 0;
	buf_commit(out, (size_t)(p - start));
}

int attr_write(struct stream *s, const struct attr_list *l)
{
	unsigned char hdr[4];
	int ret;

	hdr[0] = ATTR_MAGIC;
	if ((ret = stream_write(s, hdr, 1)) < 0)
		return ret;
	for (size_t i = 0; i < l->count; i++) {
		const struct attr *a = &l->v[i];
		unsigned char nlen = (unsigned char)strlen(a->name);

		attr_put_be32(hdr, (uint32_t)a->len);
		if ((ret = stream_write(s, &nlen, 1)) < 0 ||
		    (ret = stream_write(s, a->name, nlen)) < 0 ||
		    (ret = stream_write(s, hdr, 4)) < 0 ||
		    (ret = stream_write(s, a->value, a->len)) < 0)
			return ret;
	}
	hdr[0] = 0;
	return stream_write(s, hdr, 1);
}

/* Empty l, set err to the reason, return -1. */
static int attr_fail(struct attr_list *l, struct buf *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int attr_fail(struct attr_list *l, struct buf *err, const char *fmt, ...)
{
	char text[200];
	va_list ap;

	attr_list_reset(l);
	if (err) {
		va_start(ap, fmt);
		vsnprintf(text, sizeof(text), fmt, ap);
		va_end(ap);
		buf_set_str(err, text);
	}
	return -1;
}

/* Is have + more <= max, without overflow? */
static bool attr_fits(size_t have, size_t more, size_t max)
{
	return have <= max && more <= max - have;
}

/* Checks for an attribute whose name length byte sits at offset pos:
 * count, name length, and room for the smallest such attribute plus the
 * end marker. 0 or -1. */
static int attr_check_head(struct attr_list *l, size_t nlen, size_t pos,
                           const struct attr_limits *limits, struct buf *err)
{
	if (l->count >= limits->max_count)
		return attr_fail(l, err, "more than %zu attributes",
		                 limits->max_count);
	if (nlen > limits->max_name)
		return attr_fail(l, err,
		                 "attribute name of %zu bytes (limit %zu)",
		                 nlen, limits->max_name);
	if (!attr_fits(pos, 1 + nlen + 4 + 1, limits->max_total))
		return attr_fail(l, err, "message over %zu bytes",
		                 limits->max_total);
	return 0;
}

/* Checks for a value of vlen bytes starting at offset pos. */
static int attr_check_value(struct attr_list *l, const char *name, size_t vlen,
                            size_t pos, const struct attr_limits *limits,
                            struct buf *err)
{
	if (vlen > limits->max_value)
		return attr_fail(l, err,
		                 "attribute \"%s\": value of %zu bytes (limit "
		                 "%zu)",
		                 name, vlen, limits->max_value);
	if (!attr_fits(pos, vlen, limits->max_total) ||
	    !attr_fits(pos + vlen, 1, limits->max_total))
		return attr_fail(l, err, "message over %zu bytes",
		                 limits->max_total);
	return 0;
}

static int attr_bad_magic(struct attr_list *l, struct buf *err, int c)
{
	return attr_fail(l, err,
	                 "bad magic byte 0x%02x (peer out of step or not "
	                 "posthorn IPC)",
	                 c);
}

/* Need more input: l stays empty. */
static int attr_more(struct attr_list *l)
{
	attr_list_reset(l);
	return 1;
}

int attr_decode(struct attr_list *l, const void *data, size_t len, size_t *used,
                const struct attr_limits *limits, struct buf *err)
{
	const unsigned char *p = data;
	size_t pos, nlen, vlen, avail;
	char *name;

	attr_list_reset(l);
	if (limits == NULL)
		limits = &attr_default_limits;
	if (len == 0)
		return 1;
	if (p[0] != ATTR_MAGIC)
		return attr_bad_magic(l, err, p[0]);
	pos = 1;
	for (;;) {
		if (pos >= len)
			return attr_more(l);
		nlen = p[pos];
		if (nlen == 0) {
			if (!attr_fits(pos, 1, limits->max_total))
				return attr_fail(l, err,
				                 "message over %zu bytes",
				                 limits->max_total);
			*used = pos + 1;
			return 0;
		}
		if (attr_check_head(l, nlen, pos, limits, err) < 0)
			return -1;
		pos++;
		/* Refuse a bad name as soon as its bytes are seen. */
		avail = len - pos < nlen ? len - pos : nlen;
		if (avail > 0 && !attr_name_ok((const char *)p + pos, avail))
			return attr_fail(l, err, "bad attribute name");
		if (len - pos < nlen + 4)
			return attr_more(l);
		name = mem_memdup(p + pos, nlen);
		pos += nlen;
		vlen = attr_get_be32(p + pos);
		pos += 4;
		if (attr_check_value(l, name, vlen, pos, limits, err) < 0) {
			mem_free(name);
			return -1;
		}
		if (len - pos < vlen) {
			mem_free(name);
			return attr_more(l);
		}
		attr_push(l, name, mem_memdup(p + pos, vlen), vlen);
		pos += vlen;
	}
}

/* Map a stream status met inside a message to attr_read's result. */
static int attr_read_fail(struct attr_list *l, struct buf *err, int status)
{
	if (status == STREAM_EOF) {
		attr_fail(l, err, "truncated message");
		return ATTR_MALFORMED;
	}
	if (status == STREAM_TIMEOUT)
		attr_fail(l, err, "read timeout");
	else
		attr_fail(l, err, "read error: %s", strerror(errno));
	return status;
}

int attr_read(struct stream *s, struct attr_list *l,
              const struct attr_limits *limits, struct buf *err)
{
	unsigned char byte, be[4];
	char name[ATTR_NAME_WIRE + 1];
	size_t pos, nlen, vlen;
	char *value;
	int ret;

	attr_list_reset(l);
	if (limits == NULL)
		limits = &attr_default_limits;
	if ((ret = stream_read_exact(s, &byte, 1)) < 0) {
		if (ret == STREAM_EOF)
			return STREAM_EOF; /* clean end between messages */
		return attr_read_fail(l, err, ret);
	}
	if (byte != ATTR_MAGIC) {
		attr_bad_magic(l, err, byte);
		return ATTR_MALFORMED;
	}
	pos = 1;
	for (;;) {
		if ((ret = stream_read_exact(s, &byte, 1)) < 0)
			return attr_read_fail(l, err, ret);
		nlen = byte;
		if (nlen == 0) {
			if (!attr_fits(pos, 1, limits->max_total)) {
				attr_fail(l, err, "message over %zu bytes",
				          limits->max_total);
				return ATTR_MALFORMED;
			}
			return 0;
		}
		if (attr_check_head(l, nlen, pos, limits, err) < 0)
			return ATTR_MALFORMED;
		pos++;
		if ((ret = stream_read_exact(s, name, nlen)) < 0)
			return attr_read_fail(l, err, ret);
		if (!attr_name_ok(name, nlen)) {
			attr_fail(l, err, "bad attribute name");
			return ATTR_MALFORMED;
		}
		name[nlen] = 0;
		pos += nlen;
		if ((ret = stream_read_exact(s, be, 4)) < 0)
			return attr_read_fail(l, err, ret);
		vlen = attr_get_be32(be);
		pos += 4;
		/* Checked before the value is allocated or read. */
		if (attr_check_value(l, name, vlen, pos, limits, err) < 0)
			return ATTR_MALFORMED;
		value = mem_alloc(vlen + 1);
		if ((ret = stream_read_exact(s, value, vlen)) < 0) {
			mem_free(value);
			return attr_read_fail(l, err, ret);
		}
		value[vlen] = 0;
		attr_push(l, mem_memdup(name, nlen), value, vlen);
		pos += vlen;
	}
}
