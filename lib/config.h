/* config.h: main.cf and the compiled-in parameter table (every parameter,
 * its type, default and one line of documentation). */
#ifndef POSTHORN_CONFIG_H
#define POSTHORN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

enum param_type {
	PARAM_STR, /* free text (lists are text too) */
	PARAM_INT, /* integer in [min, max] */
	PARAM_BOOL, /* yes/no (also true/false, on/off, 1/0) */
	PARAM_TIME, /* integer with unit s/m/h/d/w; default unit in unit */
	PARAM_SIZE, /* bytes, optional k/m/g suffix */
};

struct param_def {
	const char *name;
	enum param_type type;
	const char *def; /* default value text, may contain $name */
	long long min, max; /* INT/TIME (seconds)/SIZE range; 0,0: unchecked */
	char unit; /* PARAM_TIME: default unit ('s', 'm', 'h', 'd') */
	const char *doc; /* one line */
};

/* The one table (lib/param_table.c), sorted by name. */
extern const struct param_def param_table[];
extern const size_t param_table_count;
/* Find a parameter by name; NULL if unknown. */
const struct param_def *param_find(const char *name);
/* Check an (expanded) value against the parameter's type and range;
 * -1 with the reason in err. */
int param_validate(const struct param_def *p, const char *value,
                   struct buf *err);

struct config;

/* A configuration holding only defaults. */
struct config *config_create(void);
void config_destroy(struct config **cp);
/* Load DIR/main.cf (DIR also becomes config_directory). Unknown names are
 * warned about with file:line (msg_warn) and kept; syntax errors return
 * NULL with "file:line: reason" in err. */
struct config *config_load(const char *config_dir, struct buf *err);
/* Parse main.cf text into c (later settings win); origin names it in
 * messages. -1 on a syntax error. */
int config_parse(struct config *c, const char *text, size_t len,
                 const char *origin, struct buf *err);
/* Set a value as if from main.cf (used for master.cf -o overrides and
 * command-line settings); the name must be known or -1. */
int config_set(struct config *c, const char *name, const char *value);
/* Number of name = value settings read from main.cf, in file order. */
size_t config_entry_count(const struct config *c);
/* The i-th setting: name, raw value, line number. */
const char *config_entry_name(const struct config *c, size_t i);
const char *config_entry_value(const struct config *c, size_t i);
int config_entry_line(const struct config *c, size_t i);
/* Is the name set explicitly (main.cf or config_set)? */
bool config_is_set(const struct config *c, const char *name);

/* The unexpanded value: the setting if any, else the default; NULL for a
 * name that is neither set nor in the table. */
const char *config_raw(const struct config *c, const char *name);
/* Expand $name, ${name}, $(name), ${name?text}, ${name:text} and $$ in
 * text onto out. Unknown names expand to nothing. Loops ($a -> $b -> $a)
 * and unterminated ${ are errors (-1, reason in err). */
int config_expand(const struct config *c, const char *text, struct buf *out,
                  struct buf *err);

/* Typed getters for names in the table. The value is expanded and
 * validated; a bad value is msg_fatal ("main.cf: name: reason"), a name not
 * in the table is msg_panic. Strings stay valid until c is destroyed. */
const char *config_str(struct config *c, const char *name);
long long config_int(struct config *c, const char *name);
bool config_bool(struct config *c, const char *name);
long long config_time(struct config *c, const char *name); /* seconds */
long long config_size(struct config *c, const char *name); /* bytes */

/* Validate every setting: unknown names are warnings, bad values errors;
 * each problem is one "file:line: text" line appended to report. Returns
 * the number of errors. */
int config_check(struct config *c, struct buf *report, int *warnings);

#endif
