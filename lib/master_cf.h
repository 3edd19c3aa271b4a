/* master_cf.h: the master.cf parser (one service a line, Postfix layout:
 * name type private unpriv chroot wakeup maxproc command [args]). */
#ifndef POSTHORN_MASTER_CF_H
#define POSTHORN_MASTER_CF_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

enum master_type { MASTER_INET, MASTER_UNIX, MASTER_PASS, MASTER_FIFO };

struct master_service {
	char *name; /* "smtp", "10025", "127.0.0.1:10025", "cleanup" */
	enum master_type type;
	bool private_; /* default y */
	bool unpriv; /* default y */
	bool chroot; /* default n */
	int wakeup; /* seconds, 0: none */
	bool wakeup_if_used; /* "60?" form */
	int maxproc; /* -1: default_process_limit; 0: unlimited */
	char *command; /* daemon name, e.g. "smtpd" */
	char **args; /* further arguments, NULL-terminated, without
			      * the -o pairs */
	size_t nargs;
	char **override_names; /* -o name=value, in order */
	char **override_values;
	size_t noverrides;
	int line;
};

struct master_cf {
	struct master_service *services;
	size_t count;
};

/* Parse master.cf text; NULL with "origin:line: reason" in err. Duplicate
 * name+type pairs, unknown types, bad y/n/-, bad numbers are errors. */
struct master_cf *master_cf_parse(const char *text, size_t len,
                                  const char *origin, struct buf *err);
/* Read and parse a file. */
struct master_cf *master_cf_read(const char *path, struct buf *err);
void master_cf_destroy(struct master_cf **mp);
/* "inet", "unix", "pass", "fifo". */
const char *master_type_name(enum master_type t);

#endif
