/* aliases.h: the aliases(5) file format and the alias table that local
 * delivery reads through alias_maps (Postfix local aliases).
 *
 * File form (DIR/aliases, like /etc/aliases):
 *     # comment
 *     name: target, target
 *         target            (a line starting with white space continues)
 *     "quoted name": "|/usr/bin/prog -x a,b"
 * A target is a local or remote address, "|command" (the command runs
 * with /bin/sh -c, as default_privs), "/path/file" (mbox-style append),
 * or ":include:/path" (more targets read from that file). Targets are
 * separated by commas (and, outside "|command", by white space); a
 * target that holds commas or white space is written in double quotes,
 * where \" and \\ stand for '"' and '\'. A "|command" runs to the next
 * comma outside double quotes and keeps its quotes (the shell sees them).
 *
 * Table form (DIR/aliases.lmdb, built by `posthorn aliases`, newaliases,
 * sendmail -bi): key the lowercased name, value the canonical target list
 * "t1, t2, ..." (each target quoted only when it must be); aliases_split
 * reads both forms. */
#ifndef POSTHORN_ALIASES_H
#define POSTHORN_ALIASES_H

#include <stddef.h>

#include "buf.h"
#include "config.h"

/* Limits of the parser; input past any of them is an error. */
#define ALIASES_FILE_MAX (16L * 1024 * 1024) /* bytes of an aliases file */
#define ALIASES_LINE_MAX 65536 /* bytes of one entry, continuations included */
#define ALIASES_NAME_MAX 256 /* bytes of a name */
#define ALIASES_TARGET_MAX 4096 /* bytes of one target */
#define ALIASES_TARGETS_MAX 1000 /* targets of one alias or include file */
#define ALIASES_INCLUDE_MAX (1024L * 1024) /* bytes of an :include: file */

/* Results of aliases_build and aliases_build_all. */
#define ALIASES_ERR_IO (-1) /* cannot read the source or write the table */
#define ALIASES_ERR_SYNTAX (-2) /* the source is malformed (file:line) */

enum alias_target_type {
	ALIAS_TARGET_ADDRESS, /* user, user@domain */
	ALIAS_TARGET_COMMAND, /* |command */
	ALIAS_TARGET_FILE, /* /path/file */
	ALIAS_TARGET_INCLUDE, /* :include:/path */
};

/* What kind of target this is; *rest (may be NULL) gets what follows the
 * marker: the command without '|', the path of a file or include, the
 * address itself. */
enum alias_target_type alias_target_type(const char *target, const char **rest);

/* Called once per target, in order; return -1 to stop (err is the
 * caller's to fill). */
typedef int (*alias_target_fn)(void *ctx, const char *target);

/* Split a target list (an alias value in either form, or a line of an
 * :include: file) of len bytes and call fn for each target, unquoted.
 * Returns the number of targets, or -1 with the reason in err: an
 * unterminated quote, an empty or over-long target, a control character
 * or NUL, more than ALIASES_TARGETS_MAX targets, a file or include path
 * that is not absolute, an empty command, or fn returning -1. */
int aliases_split(const char *list, size_t len, alias_target_fn fn, void *ctx,
                  struct buf *err);

/* Append target to out in canonical form: as is, or as a quoted string
 * when it holds white space, ',', '"' or '\'. aliases_split gives back
 * the same target. -1 past out's limit. */
int aliases_quote(const char *target, struct buf *out);

/* Called once per entry with the lowercased name, the canonical value
 * and the entry's first line; return -1 to stop. */
typedef int (*alias_entry_fn)(void *ctx, const char *name, const char *value,
                              long line);

/* Parse the text of an aliases file (len bytes, not NUL-terminated).
 * origin names it in errors. Returns the number of entries, or -1 with
 * "origin:line: reason" in err. */
int aliases_parse(const char *text, size_t len, const char *origin,
                  alias_entry_fn fn, void *ctx, struct buf *err);

/* Parse an :include: file's text: targets separated by commas, white
 * space and line ends, '#' comment lines. Returns the number of targets
 * (at most ALIASES_TARGETS_MAX), or -1 with "origin:line: reason". */
int aliases_parse_include(const char *text, size_t len, const char *origin,
                          alias_target_fn fn, void *ctx, struct buf *err);

/* Build PATH.lmdb from the aliases file PATH (atomically: readers see
 * the old or the new table). A name given twice keeps its first entry
 * (a warning is logged). Returns the number of aliases, ALIASES_ERR_IO
 * or ALIASES_ERR_SYNTAX with the reason in err. */
long aliases_build(const char *path, struct buf *err);

/* newaliases: build every lmdb: table listed in alias_database (other
 * table types are skipped with a warning). Returns the number of aliases
 * in all of them, or an ALIASES_ERR_* with the reason in err. */
long aliases_build_all(struct config *c, struct buf *err);

#endif
