/* posthorn.h: shared declarations of the `posthorn` admin command's verbs
 * (one file per verb group: posthorn_init.c, posthorn_conf.c, ...). */
#ifndef POSTHORN_CLI_H
#define POSTHORN_CLI_H

#include "config.h"

/* Exit codes (CONTRACT.md): 0 ok, 1 failed operation, 2 bad usage. */
#define CLI_OK 0
#define CLI_FAILED 1
#define CLI_USAGE 2

struct cli {
	const char *config_dir; /* -c DIR or MAIL_CONFIG; NULL if neither */
	const char *self_dir; /* directory holding this executable */
};

/* A verb: argv[0] is the verb itself. Returns an exit code. */
typedef int (*cli_verb_fn)(struct cli *cli, int argc, char **argv);

int cli_init(struct cli *cli, int argc, char **argv);
int cli_conf(struct cli *cli, int argc, char **argv);
int cli_check(struct cli *cli, int argc, char **argv);
int cli_map(struct cli *cli, int argc, char **argv);
/* posthorn_aliases.c: newaliases (build every alias_database table). */
int cli_aliases(struct cli *cli, int argc, char **argv);
/* posthorn_user.c: user add | del | list | passwd | disable | enable. */
int cli_user(struct cli *cli, int argc, char **argv);
int cli_start(struct cli *cli, int argc, char **argv);
int cli_stop(struct cli *cli, int argc, char **argv);
int cli_reload(struct cli *cli, int argc, char **argv);
int cli_status(struct cli *cli, int argc, char **argv);
/* posthorn_queue.c: list [--json] | show | delete | hold | release |
 * requeue | flush. */
int cli_queue(struct cli *cli, int argc, char **argv);

/* The instance directory, or print "no instance: use -c DIR" and NULL. */
const char *cli_config_dir(struct cli *cli);
/* Load the instance's configuration; on failure print one line and return
 * NULL (the caller exits CLI_FAILED). */
struct config *cli_load_config(struct cli *cli);
/* Print "posthorn: usage: ..." on stderr; returns CLI_USAGE. */
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "posthorn: fatal-ish error line" on stderr; returns CLI_FAILED. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
