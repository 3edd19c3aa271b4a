/* attr.h: the attribute IPC protocol between posthorn daemons (see
 * docs/ipc.md): binary-safe, length-prefixed name/value lists. */
#ifndef POSTHORN_ATTR_H
#define POSTHORN_ATTR_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "stream.h"

/* Hard limits of the reader; a message passing any is refused. */
struct attr_limits {
	size_t max_count; /* attributes per message */
	size_t max_name; /* bytes per name */
	size_t max_value; /* bytes per value */
	size_t max_total; /* bytes per message, all included */
};
/* 64 attributes, 64-byte names, 64 KiB values, 1 MiB total. */
extern const struct attr_limits attr_default_limits;

struct attr_list;

struct attr_list *attr_list_create(void);
void attr_list_destroy(struct attr_list **lp);
/* Remove every attribute. */
void attr_list_reset(struct attr_list *l);
/* Number of attributes. */
size_t attr_list_count(const struct attr_list *l);
/* Add name = value (len bytes, binary-safe); duplicates are kept in order. */
void attr_add(struct attr_list *l, const char *name, const void *value,
              size_t len);
void attr_add_str(struct attr_list *l, const char *name, const char *value);
void attr_add_int(struct attr_list *l, const char *name, long long value);
/* The i-th attribute's name/value (i < count). */
const char *attr_name_at(const struct attr_list *l, size_t i);
const char *attr_value_at(const struct attr_list *l, size_t i, size_t *len);
/* First value of name (NUL-terminated; binary values also have len), or
 * NULL if absent. */
const char *attr_get(const struct attr_list *l, const char *name, size_t *len);
/* First value of name as an integer in [min, max]; -1 if absent or bad. */
int attr_get_int(const struct attr_list *l, const char *name, long long min,
                 long long max, long long *out);
/* Check that every one of the NULL-terminated names is present; on failure
 * returns -1 and names the first missing one in err. */
int attr_require(const struct attr_list *l, const char *const *names,
                 struct buf *err);

/* Encode l onto out (appending); panics if out's limit is too small. */
void attr_encode(const struct attr_list *l, struct buf *out);
/* Decode exactly one message from data; sets *used to the bytes consumed.
 * Returns 0 (l filled), 1 (need more data), -1 (malformed or over limits,
 * reason in err). l is reset first and stays empty unless 0; *used is only
 * set on 0. limits NULL: attr_default_limits. */
int attr_decode(struct attr_list *l, const void *data, size_t len, size_t *used,
                const struct attr_limits *limits, struct buf *err);
/* Write one message to the stream (buffered: call stream_flush). */
int attr_write(struct stream *s, const struct attr_list *l);
/* Read one message; 0 ok, STREAM_EOF at a clean end before any byte,
 * other stream errors, or -5 (ATTR_MALFORMED, EOF inside a message included)
 * with a reason in err. l is empty unless 0. limits NULL: the defaults. */
#define ATTR_MALFORMED (-5)
int attr_read(struct stream *s, struct attr_list *l,
              const struct attr_limits *limits, struct buf *err);

#endif
