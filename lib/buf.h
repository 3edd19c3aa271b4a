/* buf.h: growable, binary-safe byte buffer with a hard size cap. */
#ifndef POSTHORN_BUF_H
#define POSTHORN_BUF_H

#include <stdbool.h>
#include <stddef.h>

/* Default cap when buf_create is given 0: 64 MiB. */
#define BUF_DEFAULT_LIMIT ((size_t)64 << 20)

struct buf;

/* Create a buffer that never grows beyond limit bytes (0: the default). */
struct buf *buf_create(size_t initial, size_t limit);
/* Free the buffer and set *bp to NULL. */
void buf_destroy(struct buf **bp);

/* Append len bytes; -1 (buffer unchanged) if that would pass the limit. */
int buf_append(struct buf *b, const void *data, size_t len);
/* Append a NUL-terminated string; -1 past the limit. */
int buf_append_str(struct buf *b, const char *s);
/* Append one byte; -1 past the limit. */
int buf_append_char(struct buf *b, int c);
/* Append formatted text; -1 (buffer unchanged) past the limit. */
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Replace the contents with formatted text; -1 past the limit. */
int buf_sprintf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Replace the contents with a copy of s. -1 past the limit. */
int buf_set_str(struct buf *b, const char *s);
/* Empty the buffer (keeps its memory). */
void buf_reset(struct buf *b);
/* Shorten to len bytes (no-op if already shorter). */
void buf_truncate(struct buf *b, size_t len);
/* Drop the first n bytes (for consumers of a byte queue). */
void buf_consume(struct buf *b, size_t n);

/* The contents, always followed by a NUL byte (binary data may hold more). */
const char *buf_str(const struct buf *b);
/* Writable pointer to the contents. */
char *buf_data(struct buf *b);
/* Number of bytes held. */
size_t buf_len(const struct buf *b);
/* The hard cap. */
size_t buf_limit(const struct buf *b);
/* Make room for n more bytes; returns a pointer to write them, NULL past the
 * limit. Commit what was written with buf_commit. */
char *buf_reserve(struct buf *b, size_t n);
/* Count n bytes written after buf_reserve. */
void buf_commit(struct buf *b, size_t n);
/* Take ownership of the contents (NUL-terminated); the buffer is emptied. */
char *buf_steal(struct buf *b);

#endif
