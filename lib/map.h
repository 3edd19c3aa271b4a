/* map.h: lookup tables behind one API: lmdb:, static:, inline:{},
 * regexp: (Postfix-style "type:name" specs). */
#ifndef POSTHORN_MAP_H
#define POSTHORN_MAP_H

#include <stddef.h>

#include "buf.h"

struct map;

/* Open a table by spec: "lmdb:/path/file" (reads /path/file.lmdb,
 * read-only; a rebuilt file is noticed and reopened), "static:value",
 * "inline:{key=value, key2=value2}", "regexp:/path/file" (lines
 * "/ERE/flags result" with $1..$9 substitution). NULL with reason in err. */
struct map *map_open(const char *spec, struct buf *err);
void map_close(struct map **mp);
/* The spec the map was opened with. */
const char *map_spec(const struct map *m);
/* Look key up. Returns 1 (value in value), 0 (not found), -1 (error, reason
 * in err). Keys are matched case-insensitively (lmdb/inline keys are
 * stored lowercase). */
int map_lookup(struct map *m, const char *key, struct buf *value,
               struct buf *err);

/* Building an lmdb table: everything goes into a temporary file that is
 * renamed over PATH.lmdb on commit, so readers see the old or the new table,
 * never a half-built one. */
struct map_builder;
/* Start building PATH.lmdb (PATH without the suffix). NULL on error. */
struct map_builder *map_builder_create(const char *path, struct buf *err);
/* Add (or replace) key -> value; key is folded to lowercase. */
int map_builder_add(struct map_builder *b, const char *key, const char *value,
                    struct buf *err);
/* fsync and rename into place; frees the builder. -1 on error (the old
 * table stays). */
int map_builder_commit(struct map_builder **bp, struct buf *err);
/* Throw the temporary file away; frees the builder. */
void map_builder_abort(struct map_builder **bp);
/* postmap: build PATH.lmdb from the text file PATH ("key value" lines,
 * '#' comments, blank lines, indented continuation lines). Returns the
 * number of entries, or -1 with "PATH:line: reason" in err. */
long map_build_text(const char *path, struct buf *err);

#endif
