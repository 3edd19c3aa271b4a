/*
 * posthorn.c: the `posthorn` admin command: global options (-c DIR,
 * MAIL_CONFIG) and the verb table. Each verb lives in its own file.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libgen.h>

#include "posthorn.h"
#include "buf.h"
#include "msg.h"
#include "str.h"

static const struct {
	const char *name;
	cli_verb_fn fn;
	const char *usage;
} cli_verbs[] = {
    {"init", cli_init, "init DIR [--port-base N] [--hostname H] [--domain D]"},
    {"conf", cli_conf, "conf [-n | -d] [NAME ...] [NAME=VALUE ...]"},
    {"check", cli_check, "check"},
    {"map", cli_map, "map build FILE | map get TYPE:NAME KEY"},
    {"aliases", cli_aliases, "aliases"},
    {"user", cli_user,
     "user add ADDRESS --password-stdin [--quota BYTES] | "
     "del ADDRESS | list | passwd ADDRESS | "
     "disable ADDRESS | enable ADDRESS"},
    {"start", cli_start, "start [--foreground]"},
    {"stop", cli_stop, "stop"},
    {"reload", cli_reload, "reload"},
    {"status", cli_status, "status"},
    {"queue", cli_queue,
     "queue list [--json] | show ID | delete ID|ALL | "
     "hold ID | release ID | requeue ID|ALL | flush"},
};

#define CLI_NVERBS (sizeof(cli_verbs) / sizeof(cli_verbs[0]))

static void cli_print_usage(void)
{
	fprintf(stderr, "usage: posthorn [-c DIR] VERB [ARGS]\n");
	for (size_t i = 0; i < CLI_NVERBS; i++)
		fprintf(stderr, "    posthorn [-c DIR] %s\n",
		        cli_verbs[i].usage);
}

int cli_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "posthorn: usage: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_USAGE;
}

int cli_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "posthorn: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_FAILED;
}

const char *cli_config_dir(struct cli *cli)
{
	if (cli->config_dir == NULL)
		fprintf(stderr, "posthorn: no instance: use -c DIR or set "
		                "MAIL_CONFIG\n");
	return cli->config_dir;
}

struct config *cli_load_config(struct cli *cli)
{
	struct buf *err = buf_create(0, 4096);
	struct config *c = NULL;
	const char *dir = cli_config_dir(cli);

	if (dir != NULL) {
		c = config_load(dir, err);
		if (c == NULL)
			fprintf(stderr, "posthorn: %s\n", buf_str(err));
	}
	buf_destroy(&err);
	return c;
}

/* Where this executable lives (to find ../libexec in a build tree). */
static const char *cli_find_self_dir(const char *argv0)
{
	static char dir[PATH_MAX];
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

	if (n <= 0) {
		if (realpath(argv0, path) == NULL)
			return NULL;
	} else {
		path[n] = 0;
	}
	str_copy(dir, sizeof(dir), dirname(path));
	return dir;
}

int main(int argc, char **argv)
{
	struct cli cli = {0};
	int argi = 1;

	msg_init("posthorn", "posthorn");
	msg_set_sinks(MSG_SINK_STDERR);
	cli.config_dir = getenv("MAIL_CONFIG");
	if (cli.config_dir != NULL && *cli.config_dir == 0)
		cli.config_dir = NULL;
	cli.self_dir = cli_find_self_dir(argv[0]);

	while (argi < argc && argv[argi][0] == '-') {
		if (strcmp(argv[argi], "-c") == 0 && argi + 1 < argc) {
			cli.config_dir = argv[argi + 1];
			argi += 2;
		} else if (strcmp(argv[argi], "-v") == 0) {
			msg_verbose++;
			argi++;
		} else if (strcmp(argv[argi], "-h") == 0 ||
		           strcmp(argv[argi], "--help") == 0) {
			cli_print_usage();
			return CLI_OK;
		} else {
			cli_print_usage();
			return CLI_USAGE;
		}
	}
	if (argi >= argc) {
		cli_print_usage();
		return CLI_USAGE;
	}
	for (size_t i = 0; i < CLI_NVERBS; i++)
		if (strcmp(argv[argi], cli_verbs[i].name) == 0)
			return cli_verbs[i].fn(&cli, argc - argi, argv + argi);
	fprintf(stderr,
	        "posthorn: unknown command '%s' (try posthorn --help)\n",
	        argv[argi]);
	return CLI_USAGE;
}
