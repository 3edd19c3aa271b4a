/* map_impl.h: private to the map module (lib/map*.c, nobody else includes
 * it): the per-type operations table, shared limits, and the logical-line
 * reader used by the text parsers (postmap input, regexp tables). */
#ifndef POSTHORN_MAP_IMPL_H
#define POSTHORN_MAP_IMPL_H

#include <stddef.h>

#include "buf.h"

/* Longest lookup key any table accepts (longer: map_lookup fails). */
#define MAP_KEY_MAX 4096
/* Longest physical line in a table source file, newline excluded. */
#define MAP_LINE_MAX 65536
/* Longest logical line (a line plus its indented continuation lines). */
#define MAP_LOGICAL_MAX (1024 * 1024)
/* Longest value a table stores or a lookup produces. */
#define MAP_VALUE_MAX (1024 * 1024)
/* Longest spec accepted by map_open (inline tables live in the spec). */
#define MAP_SPEC_MAX 65536

/* One table type. open returns the type's private state or NULL with a
 * complete reason in err; lookup gets the caller's key (length already
 * checked against MAP_KEY_MAX, not case-folded) and follows map_lookup's
 * return convention; close frees the private state. */
struct map_type {
	const char *name;
	void *(*open)(const char *name, struct buf *err);
	int (*lookup)(void *priv, const char *key, size_t keylen,
	              struct buf *value, struct buf *err);
	void (*close)(void *priv);
};

extern const struct map_type map_type_lmdb;
extern const struct map_type map_type_static;
extern const struct map_type map_type_inline;
extern const struct map_type map_type_regexp;

/* Replace err's contents with a formatted reason (err may be NULL). */
void map_error(struct buf *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Replace value's contents with len bytes of data; -1 (value untouched,
 * reason in err) if that would pass value's cap. */
int map_set_value(struct buf *value, const char *data, size_t len,
                  struct buf *err);
/* Copy key folded to ASCII lowercase into out (size outlen); -1 if it does
 * not fit. */
int map_fold_key(char *out, size_t outlen, const char *key, size_t keylen);

/* Logical-line reader for table source files: '#' comment lines and blank
 * lines are skipped, a line starting with white space continues the
 * previous line (joined with one space), every line is trimmed. Physical
 * lines are capped at MAP_LINE_MAX bytes, logical lines at MAP_LOGICAL_MAX;
 * NUL bytes are refused. */
struct map_text;
/* Open path for reading; NULL with "path: reason" in err. */
struct map_text *map_text_open(const char *path, struct buf *err);
/* The next logical line: 1 (*line points into the reader, writable and
 * valid until the next call; *lineno is the number of its first physical
 * line), 0 at end of file, -1 with "path:line: reason" in err. */
int map_text_next(struct map_text *t, char **line, long *lineno,
                  struct buf *err);
/* The open file's descriptor (for fstat). */
int map_text_fd(const struct map_text *t);
/* Close the file and free the reader; sets *tp to NULL. */
void map_text_close(struct map_text **tp);

#endif
