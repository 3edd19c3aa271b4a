/*
 * posthorn_conf.c: `posthorn conf`, postconf-like. Reads parameters from
 * the instance's main.cf and the compiled-in table; `NAME=VALUE` edits
 * main.cf in place, keeping every comment and the order of lines, and
 * replaces the file atomically (write, fsync, rename).
 * Unknown names are an error when reading (exit 2) and a warning plus a
 * refusal when writing (exit 2): a typo never lands in main.cf.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "posthorn.h"
#include "buf.h"
#include "mem.h"
#include "str.h"

#define CONF_MAX_FILE (4 << 20)

static int conf_cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* `conf -n`: the settings in main.cf, sorted like postconf -n. */
static int conf_print_nondefaults(struct config *c)
{
	size_t n = config_entry_count(c);
	const char **names = mem_array(n ? n : 1, sizeof(*names));
	size_t count = 0;

	for (size_t i = 0; i < n; i++) {
		const char *name = config_entry_name(c, i);
		bool dup = false;
		for (size_t j = 0; j < count; j++)
			if (strcmp(names[j], name) == 0)
				dup = true;
		if (!dup)
			names[count++] = name;
	}
	qsort(names, count, sizeof(*names), conf_cmp_names);
	for (size_t i = 0; i < count; i++)
		printf("%s = %s\n", names[i], config_raw(c, names[i]));
	mem_free(names);
	return CLI_OK;
}

/* `conf --markdown`: docs/parameters.md, generated from the table. */
static int conf_print_markdown(void)
{
	static const char *types[] = {"string", "integer", "boolean", "time",
	                              "size"};

	printf("# posthorn parameters\n\n"
	       "Generated from lib/param_table.c by `make docs` "
	       "(`posthorn conf --markdown`); do not edit.\n"
	       "Time values take a unit: s, m, h, d, w. Sizes take k, m, g.\n\n"
	       "| name | type | default | meaning |\n"
	       "|---|---|---|---|\n");
	for (size_t i = 0; i < param_table_count; i++) {
		const struct param_def *p = &param_table[i];
		printf("| %s | %s | `%s` | %s |\n", p->name, types[p->type],
		       p->def, p->doc);
	}
	return CLI_OK;
}

/* Is this line the start of the setting for name? */
static bool conf_line_sets(const char *line, size_t len, const char *name)
{
	size_t nlen = strlen(name);
	size_t i = nlen;

	if (len < nlen || strncmp(line, name, nlen) != 0)
		return false;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i < len && line[i] == '=';
}

/* A line that continues the previous logical line: starts with white
 * space and is neither blank nor a comment. */
static bool conf_line_continues(const char *line, size_t len)
{
	size_t i = 0;

	if (len == 0 || (line[0] != ' ' && line[0] != '\t'))
		return false;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i < len && line[i] != '#' && line[i] != '\n';
}

/* Replace (or append) name = value in text; result in out. */
static void conf_edit_text(const char *text, size_t len, const char *name,
                           const char *value, struct buf *out)
{
	const char *p = text, *end = text + len;
	const char *start = NULL, *stop = NULL;

	/* Find the last logical line setting name (later settings win). */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl ? nl + 1 : end;
		if (conf_line_sets(p, (size_t)(next - p), name)) {
			start = p;
			stop = next;
			while (stop < end) {
				const char *nl2 =
				    memchr(stop, '\n', (size_t)(end - stop));
				const char *next2 = nl2 ? nl2 + 1 : end;
				if (!conf_line_continues(
				        stop, (size_t)(next2 - stop)))
					break;
				stop = next2;
			}
			next = stop;
		}
		p = next;
	}
	buf_reset(out);
	if (start != NULL) {
		buf_append(out, text, (size_t)(start - text));
		buf_printf(out, "%s = %s\n", name, value);
		buf_append(out, stop, (size_t)(end - stop));
	} else {
		buf_append(out, text, len);
		if (len > 0 && text[len - 1] != '\n')
			buf_append_char(out, '\n');
		buf_printf(out, "%s = %s\n", name, value);
	}
}

static int conf_read_file(const char *path, struct buf *out)
{
	char chunk[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	buf_reset(out);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (buf_append(out, chunk, (size_t)n) < 0) {
			errno = EFBIG;
			n = -1;
			break;
		}
	}
	close(fd);
	return n < 0 ? -1 : 0;
}

static int conf_write_file(const char *path, const struct buf *text)
{
	char tmp[PATH_MAX];
	struct stat st;
	int fd;

	if (str_format(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) <
	    0)
		return -1;
	if (stat(path, &st) != 0)
		st.st_mode = 0644;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	          st.st_mode & 07777);
	if (fd < 0)
		return -1;
	if (write(fd, buf_str(text), buf_len(text)) != (ssize_t)buf_len(text) ||
	    fsync(fd) != 0) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* `conf NAME=VALUE ...`: every edit is checked before anything is written. */
static int conf_edit(struct cli *cli, int argc, char **argv)
{
	char path[PATH_MAX];
	struct buf *text, *edited, *err;
	int ret = CLI_OK;

	for (int i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		char name[256];
		if (eq == NULL || eq == argv[i] ||
		    (size_t)(eq - argv[i]) >= sizeof(name))
			return cli_usage("conf NAME=VALUE");
		memcpy(name, argv[i], (size_t)(eq - argv[i]));
		name[eq - argv[i]] = 0;
		const struct param_def *p = param_find(str_trim(name));
		if (p == NULL) {
			fprintf(stderr,
			        "posthorn: warning: unknown parameter %s: "
			        "not written to main.cf\n",
			        name);
			return CLI_USAGE;
		}
		if (strchr(eq + 1, '\n') != NULL)
			return cli_usage("conf: %s: value has a newline", name);
		err = buf_create(0, 1024);
		/* Values with $name are checked after expansion by `check`. */
		if (strchr(eq + 1, '$') == NULL &&
		    param_validate(p, str_trim(eq + 1), err) < 0) {
			ret = cli_fail("conf: %s: %s", name, buf_str(err));
		}
		buf_destroy(&err);
		if (ret != CLI_OK)
			return ret;
	}
	if (str_format(path, sizeof(path), "%s/main.cf", cli->config_dir) < 0)
		return cli_fail("conf: path too long");
	text = buf_create(0, CONF_MAX_FILE);
	edited = buf_create(0, CONF_MAX_FILE);
	if (conf_read_file(path, text) < 0) {
		ret = cli_fail("conf: read %s: %s", path, strerror(errno));
		goto out;
	}
	for (int i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		char *name = mem_strndup(argv[i], (size_t)(eq - argv[i]));
		char *value = mem_strdup(eq + 1);
		conf_edit_text(buf_str(text), buf_len(text), str_trim(name),
		               str_trim(value), edited);
		buf_set_str(text, buf_str(edited));
		mem_free(name);
		mem_free(value);
	}
	if (conf_write_file(path, text) < 0)
		ret = cli_fail("conf: write %s: %s", path, strerror(errno));
out:
	buf_destroy(&text);
	buf_destroy(&edited);
	return ret;
}

int cli_conf(struct cli *cli, int argc, char **argv)
{
	bool defaults = false, nondefaults = false;
	int i = 1;
	struct config *c;
	int ret = CLI_OK;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-d") == 0)
			defaults = true;
		else if (strcmp(argv[i], "-n") == 0)
			nondefaults = true;
		else if (strcmp(argv[i], "--markdown") == 0)
			return conf_print_markdown();
		else
			return cli_usage("conf [-n | -d] [NAME ...] "
			                 "[NAME=VALUE ...]");
	}
	if (defaults && nondefaults)
		return cli_usage("conf: -n and -d exclude each other");
	if (i < argc && strchr(argv[i], '=') != NULL) {
		if (defaults || nondefaults)
			return cli_usage("conf: cannot edit with -n or -d");
		if (cli_config_dir(cli) == NULL)
			return CLI_USAGE;
		return conf_edit(cli, argc - i, argv + i);
	}
	/* Reading: check every name first; unknown names are an error. */
	for (int j = i; j < argc; j++) {
		if (strchr(argv[j], '=') != NULL)
			return cli_usage("conf: do not mix NAME and "
			                 "NAME=VALUE");
		if (param_find(argv[j]) == NULL) {
			fprintf(stderr, "posthorn: unknown parameter: %s\n",
			        argv[j]);
			return CLI_USAGE;
		}
	}
	if (defaults && cli->config_dir == NULL)
		c = config_create();
	else if ((c = cli_load_config(cli)) == NULL)
		return CLI_FAILED;
	if (nondefaults && i == argc) {
		ret = conf_print_nondefaults(c);
	} else if (i == argc) {
		for (size_t k = 0; k < param_table_count; k++) {
			const struct param_def *p = &param_table[k];
			printf("%s = %s\n", p->name,
			       defaults ? p->def : config_raw(c, p->name));
		}
	} else {
		for (int j = i; j < argc; j++) {
			const struct param_def *p = param_find(argv[j]);
			if (nondefaults && !config_is_set(c, p->name))
				continue;
			printf("%s = %s\n", p->name,
			       defaults ? p->def : config_raw(c, p->name));
		}
	}
	config_destroy(&c);
	return ret;
}
