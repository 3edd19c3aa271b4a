/*
 * local_command.c: "|command" alias targets (Postfix local(8), "external
 * command delivery"): the message, after a "From sender date" line and
 * Return-Path, X-Original-To and Delivered-To headers, goes to the
 * standard input of /bin/sh -c COMMAND, run as default_privs in / with a
 * fixed environment (SENDER, RECIPIENT, USER, EXTENSION, DOMAIN, LOCAL,
 * ORIGINAL_RECIPIENT, HOME=/, PATH=/usr/bin:/bin, SHELL=/bin/sh,
 * LOGNAME) within command_time_limit. The exit status maps per
 * sysexits.h as Postfix maps it: 0 delivered, EX_TEMPFAIL (75) and
 * EX_OSERR (71) try again (4.3.0), EX_NOUSER (67) 5.1.1, the other
 * sysexits codes their 5.x.x, any other status 5.3.0; a command killed by
 * the time limit is deferred (4.3.0), one killed by a signal bounces.
 * SECURITY: the command text comes from the administrator's aliases file
 * (or an :include: file where allow_mail_to_commands says include); the
 * envelope reaches the command only in environment variables (control
 * characters replaced by '_'), never in the command line. The child
 * becomes default_privs for good before the shell starts.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "local.h"
#include "mem.h"

/* sysexits.h codes as Postfix's local maps them. */
static const struct {
	int code;
	const char *dsn;
	const char *text;
} local_sysexits[] = {
    {EX_USAGE, "5.3.0", "command line usage error"},
    {EX_DATAERR, "5.6.0", "data format error"},
    {EX_NOINPUT, "5.3.0", "cannot open input"},
    {EX_NOUSER, "5.1.1", "user unknown"},
    {EX_NOHOST, "5.1.2", "host name unknown"},
    {EX_UNAVAILABLE, "5.3.0", "service unavailable"},
    {EX_SOFTWARE, "5.3.0", "internal software error"},
    {EX_OSERR, "4.3.0", "system resource problem"},
    {EX_OSFILE, "5.3.0", "critical OS file missing"},
    {EX_CANTCREAT, "5.2.0", "can't create user output file"},
    {EX_IOERR, "5.3.0", "input/output error"},
    {EX_TEMPFAIL, "4.3.0", "temporary failure"},
    {EX_PROTOCOL, "5.5.0", "remote error in protocol"},
    {EX_NOPERM, "5.7.0", "permission denied"},
    {EX_CONFIG, "5.3.5", "local configuration error"},
};

#define LOCAL_ENV_MAX 12

struct local_exec {
	const char *command;
	char *env[LOCAL_ENV_MAX + 1];
	int nenv;
};

/* The child: never returns. */
static void local_exec_shell(void *ctx)
{
	struct local_exec *x = ctx;
	char *argv[] = {"sh", "-c", (char *)x->command, NULL};

	execve("/bin/sh", argv, x->env);
	_exit(EX_OSERR);
}

static void local_env(struct local_exec *x, const char *name, const char *value)
{
	struct buf *b = buf_create(64, 8192);

	buf_printf(b, "%s=", name);
	for (const char *p = value; *p; p++)
		buf_append_char(b, (unsigned char)*p < 0x20 || *p == 0x7f ? '_'
		                                                          : *p);
	x->env[x->nenv++] = buf_steal(b);
	buf_destroy(&b);
}

/* The command's stdin: the prefix, then the content. */
struct local_feed {
	const char *prefix;
	bool prefix_sent;
	struct local_content *lc;
};

static int local_feed(void *ctx, const char **data, size_t *len,
                      struct buf *err)
{
	struct local_feed *f = ctx;

	if (!f->prefix_sent) {
		f->prefix_sent = true;
		*data = f->prefix;
		*len = strlen(f->prefix);
		return 1;
	}
	return local_content_read(f->lc, data, len, err);
}

/* The command's output for a reason text: one line, bounded. */
static void local_output_text(struct buf *output)
{
	char *p = buf_data(output);
	size_t n = buf_len(output);

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			p[i] = ' ';
	while (n > 0 && p[n - 1] == ' ')
		n--;
	buf_truncate(output, n);
}

static void local_command_status(int wstatus, const char *command,
                                 struct buf *output, struct local_result *res)
{
	local_output_text(output);
	const char *sep = buf_len(output) ? ". Command output: " : "";

	if (WIFSIGNALED(wstatus)) {
		local_result_set(
		    res, 5, "5.3.0", "command \"%s\" died with signal %d%s%s",
		    command, WTERMSIG(wstatus), sep, buf_str(output));
		return;
	}
	int code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
	if (code == 0) {
		local_result_set(res, 2, "2.0.0", "delivered to command: %s",
		                 command);
		return;
	}
	for (size_t i = 0; i < sizeof(local_sysexits) / sizeof(*local_sysexits);
	     i++) {
		if (local_sysexits[i].code != code)
			continue;
		local_result_set(
		    res, local_sysexits[i].dsn[0] - '0', local_sysexits[i].dsn,
		    "command \"%s\" exited with status %d (%s)%s%s", command,
		    code, local_sysexits[i].text, sep, buf_str(output));
		return;
	}
	local_result_set(res, 5, "5.3.0",
	                 "command \"%s\" exited with status %d%s%s", command,
	                 code, sep, buf_str(output));
}

void local_command(struct local_request *lr, struct local_outcome *o,
                   const char *command, const char *rcpt,
                   struct local_result *res)
{
	struct local_exec x = {command, {0}, 0};
	struct buf *prefix = buf_create(256, 16384);
	struct buf *output = buf_create(256, LOCAL_OUTPUT_MAX + 1);
	struct buf *err = buf_create(0, 4096);
	struct buf *local = buf_create(64, 4096), *user = buf_create(64, 4096);
	struct buf *ext = buf_create(64, 4096), *domain = buf_create(64, 4096);
	struct local_feed feed = {NULL, false, NULL};
	int in[2] = {-1, -1}, out[2] = {-1, -1}, wstatus = 0, rc;
	pid_t pid;

	local_split(lr, rcpt, local, user, ext, domain);
	local_env(&x, "SENDER", lr->req->sender);
	local_env(&x, "RECIPIENT", rcpt);
	local_env(&x, "ORIGINAL_RECIPIENT", o->top);
	local_env(&x, "LOCAL", buf_str(local));
	local_env(&x, "USER", buf_str(user));
	local_env(&x, "LOGNAME", buf_str(user));
	local_env(&x, "EXTENSION", buf_str(ext));
	local_env(&x, "DOMAIN", buf_str(domain));
	local_env(&x, "HOME", "/");
	local_env(&x, "PATH", "/usr/bin:/bin");
	local_env(&x, "SHELL", "/bin/sh");

	local_content_prefix(lr, o->top, rcpt, true, prefix);
	feed.prefix = buf_str(prefix);
	if ((feed.lc = local_content_open(lr, err)) == NULL) {
		local_result_set(res, 4, "4.3.0", "%s", buf_str(err));
		goto out;
	}
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		local_result_set(res, 4, "4.3.0", "pipe: %m");
		goto out;
	}
	pid = local_spawn(&lr->privs, in[0], out[1], -1, local_exec_shell, &x);
	close(in[0]);
	close(out[1]);
	in[0] = out[1] = -1;
	if (pid < 0) {
		local_result_set(res, 4, "4.3.0", "fork: %m");
		goto out;
	}
	rc = local_child_wait(pid, in[1], local_feed, &feed, out[0],
	                      LOCAL_OUTPUT_MAX, lr->time_limit, output,
	                      &wstatus, err);
	in[1] = -1; /* closed by local_child_wait */
	if (rc == -1)
		local_result_set(res, 4, "4.3.0",
		                 "command time limit exceeded: \"%s\"",
		                 command);
	else if (rc == -2)
		local_result_set(res, 4, "4.3.0", "%s", buf_str(err));
	else
		local_command_status(wstatus, command, output, res);
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	for (int i = 0; i < x.nenv; i++)
		mem_free(x.env[i]);
	local_content_close(&feed.lc);
	buf_destroy(&prefix);
	buf_destroy(&output);
	buf_destroy(&err);
	buf_destroy(&local);
	buf_destroy(&user);
	buf_destroy(&ext);
	buf_destroy(&domain);
}
