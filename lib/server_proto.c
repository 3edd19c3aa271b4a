/*
 * server_proto.c: the master <-> child contract (docs/master.md): child
 * command lines, busy/idle status records, the status file lines, and the
 * pure decisions master takes on them (when to spawn, when to throttle).
 * SECURITY: master trusts its children only as far as a record that
 * decodes: a bad record is dropped; the pid in it must still belong to a
 * child master knows (checked by master).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "mem.h"
#include "msg.h"
#include "number.h"
#include "str.h"
#include "server_proto.h"

#define SERVER_STATUS_MAGIC 0x50485331u /* "PHS1" */

void server_status_encode(const struct server_status *st,
                          unsigned char out[SERVER_STATUS_SIZE])
{
	uint32_t v[3] = {SERVER_STATUS_MAGIC, (uint32_t)st->pid,
	                 (uint32_t)st->state};

	memcpy(out, v, sizeof(v));
}

int server_status_decode(const unsigned char *in, size_t len,
                         struct server_status *st)
{
	uint32_t v[3];

	if (len != SERVER_STATUS_SIZE)
		return -1;
	memcpy(v, in, sizeof(v));
	if (v[0] != SERVER_STATUS_MAGIC || v[1] == 0 || v[1] > INT32_MAX)
		return -1;
	if (v[2] != SERVER_IDLE && v[2] != SERVER_BUSY)
		return -1;
	st->pid = (pid_t)v[1];
	st->state = (enum server_state)v[2];
	return 0;
}

int server_type_parse(const char *name, enum master_type *out)
{
	static const enum master_type types[] = {MASTER_INET, MASTER_UNIX,
	                                         MASTER_PASS, MASTER_FIFO};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcmp(name, master_type_name(types[i])) == 0) {
			*out = types[i];
			return 0;
		}
	}
	return -1;
}

char **server_args_build(const struct server_args *a)
{
	size_t max = 16 + 2 * a->noverrides + a->nargs + (size_t)a->verbose;
	char **v = mem_array(max, sizeof(char *));
	char count[16];
	size_t n = 0;

	snprintf(count, sizeof(count), "%d", a->listen_count);
	v[n++] = mem_strdup(a->program);
	v[n++] = mem_strdup("-c");
	v[n++] = mem_strdup(a->config_dir);
	v[n++] = mem_strdup("-n");
	v[n++] = mem_strdup(a->service);
	v[n++] = mem_strdup("-t");
	v[n++] = mem_strdup(master_type_name(a->type));
	v[n++] = mem_strdup("-s");
	v[n++] = mem_strdup(count);
	if (a->unpriv)
		v[n++] = mem_strdup("-u");
	if (a->chroot)
		v[n++] = mem_strdup("-j");
	for (int i = 0; i < a->verbose; i++)
		v[n++] = mem_strdup("-v");
	for (size_t i = 0; i < a->noverrides; i++) {
		v[n++] = mem_strdup("-o");
		v[n++] = mem_strdup(a->overrides[i]);
	}
	if (a->nargs > 0) {
		v[n++] = mem_strdup("--");
		for (size_t i = 0; i < a->nargs; i++)
			v[n++] = mem_strdup(a->args[i]);
	}
	if (n >= max)
		msg_panic("server_args_build: %zu >= %zu", n, max);
	v[n] = NULL;
	return v;
}

void server_argv_free(char ***vp)
{
	if (*vp == NULL)
		return;
	for (char **p = *vp; *p; p++)
		mem_free(*p);
	mem_free(*vp);
	*vp = NULL;
}

void server_args_release(struct server_args *a)
{
	mem_free(a->overrides);
	a->overrides = NULL;
	a->noverrides = 0;
}

int server_args_parse(int argc, char **argv, struct server_args *a,
                      struct buf *err)
{
	struct server_args r = {0};
	long long count = -1;
	const char *why;
	int i;

	if (argc < 1 || argv[0] == NULL) {
		buf_set_str(err, "empty command line");
		return -1;
	}
	r.program = argv[0];
	r.overrides = mem_array((size_t)argc, sizeof(char *));
	for (i = 1; i < argc; i++) {
		const char *opt = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(opt, "--") == 0) {
			i++;
			break;
		}
		if (opt[0] != '-')
			break;
		if (strcmp(opt, "-u") == 0) {
			r.unpriv = true;
		} else if (strcmp(opt, "-j") == 0) {
			r.chroot = true;
		} else if (strcmp(opt, "-v") == 0) {
			r.verbose++;
		} else if (strcmp(opt, "-c") == 0 || strcmp(opt, "-n") == 0 ||
		           strcmp(opt, "-t") == 0 || strcmp(opt, "-s") == 0 ||
		           strcmp(opt, "-o") == 0) {
			if (val == NULL || *val == 0) {
				buf_sprintf(err, "option %s needs a value",
				            opt);
				goto bad;
			}
			i++;
			switch (opt[1]) {
			case 'c':
				r.config_dir = val;
				break;
			case 'n':
				r.service = val;
				break;
			case 't':
				if (server_type_parse(val, &r.type) < 0) {
					buf_sprintf(
					    err, "bad service type '%s'", val);
					goto bad;
				}
				break;
			case 's':
				if (number_parse(val, 0, SERVER_MAX_LISTEN,
				                 &count, &why) < 0) {
					buf_sprintf(err, "-s %s: %s", val, why);
					goto bad;
				}
				break;
			case 'o':
				if (strchr(val, '=') == NULL || val[0] == '=') {
					buf_sprintf(
					    err, "-o %s: expected name=value",
					    val);
					goto bad;
				}
				r.overrides[r.noverrides++] = val;
				break;
			}
		} else {
			buf_sprintf(err, "unknown option '%s'", opt);
			goto bad;
		}
	}
	if (r.config_dir == NULL || r.service == NULL || count < 0) {
		buf_set_str(err, "-c, -n, -t and -s are required (this program "
		                 "is started by the posthorn master)");
		goto bad;
	}
	r.listen_count = (int)count;
	r.args = (const char **)(argv + i);
	r.nargs = (size_t)(argc - i);
	*a = r;
	return 0;
bad:
	mem_free(r.overrides);
	return -1;
}

bool server_should_listen(int total, int idle, int maxproc, bool throttled,
                          bool has_listener)
{
	if (!has_listener || throttled || idle > 0)
		return false;
	return maxproc <= 0 || total < maxproc;
}

bool server_exit_normal(int wait_status, bool master_signalled)
{
	if (WIFEXITED(wait_status))
		return WEXITSTATUS(wait_status) == 0;
	if (WIFSIGNALED(wait_status))
		return master_signalled && (WTERMSIG(wait_status) == SIGTERM ||
		                            WTERMSIG(wait_status) == SIGKILL);
	return false;
}

bool server_exit_throttles(int wait_status, bool master_signalled,
                           int use_count)
{
	return !server_exit_normal(wait_status, master_signalled) &&
	       use_count == 0;
}

void server_describe_exit(int wait_status, char *out, size_t outlen)
{
	if (WIFEXITED(wait_status))
		snprintf(out, outlen, "exit status %d",
		         WEXITSTATUS(wait_status));
	else if (WIFSIGNALED(wait_status))
		snprintf(out, outlen, "killed by signal %d",
		         WTERMSIG(wait_status));
	else
		snprintf(out, outlen, "wait status 0x%x", wait_status);
}

void server_status_line_format(const struct server_status_line *l,
                               struct buf *out)
{
	buf_printf(out, "service %s %s %d %d %d %d %d\n", l->name, l->type,
	           l->maxproc, l->total, l->busy, l->idle,
	           l->throttled ? 1 : 0);
}

int server_status_line_parse(const char *line, struct server_status_line *l)
{
	struct server_status_line r = {0};
	char copy[512];
	char *p = copy, *tok[8];
	long long v[5];
	size_t n = 0;

	if (str_copy(copy, sizeof(copy), line) < 0)
		return -1;
	while (n < 8 && (tok[n] = str_token(&p, " \t")) != NULL)
		n++;
	if (n != 8 || str_token(&p, " \t") != NULL ||
	    strcmp(tok[0], "service") != 0)
		return -1;
	if (str_copy(r.name, sizeof(r.name), tok[1]) < 0 ||
	    str_copy(r.type, sizeof(r.type), tok[2]) < 0)
		return -1;
	for (int i = 0; i < 5; i++)
		if (number_parse(tok[3 + i], 0, 1000000000, &v[i], NULL) < 0)
			return -1;
	if (v[4] > 1)
		return -1;
	r.maxproc = (int)v[0];
	r.total = (int)v[1];
	r.busy = (int)v[2];
	r.idle = (int)v[3];
	r.throttled = v[4] == 1;
	*l = r;
	return 0;
}
