/*
 * sendmail.c: the sendmail-compatible wrapper (CONTRACT.md), for scripts
 * and cron: options, modes and exit codes as in Postfix's sendmail(1).
 * Modes: deliver (default, -bm): read a message from standard input and
 * hand it to postdrop, which writes it into maildrop/ (this works while
 * posthorn is stopped; pickup takes the file later); -bs: an SMTP
 * dialogue on standard input and output (sendmail_smtp.c); -bp / mailq:
 * the queue listing (lib/queue_list.c); -bi / -I / newaliases: rebuild
 * the alias_database tables (lib/aliases.c, as `posthorn aliases`; a
 * syntax or write error is EX_CANTCREAT); -q: flush the queue (make deferred
 * mail due and tell qmgr, like `posthorn queue flush`).
 * Options: -t (recipients from To/Cc/Bcc, added to those on the command
 * line as Postfix does; Bcc removed), -i / -oi (a "." line does not end
 * the input), -f SENDER / -r SENDER, -F NAME, -C DIR (or MAIL_CONFIG;
 * default /etc/posthorn; a file names its directory), -N DSN, -R RET,
 * -V ENVID (RFC 3461), -B TYPE, -v; ignored for compatibility: -G -U -c
 * -e -h -m -n -x silently, -A -L -O -X -p and -oX other than -oi with a
 * warning; "--" ends the options. Exit codes are sysexits.h: EX_USAGE
 * (bad option, no recipients), EX_DATAERR (malformed input or address,
 * too large), EX_NOUSER (no login name for the uid and no -f), EX_CONFIG
 * (main.cf), EX_TEMPFAIL (maildrop cannot be written: postdrop's status
 * is passed on), EX_OSFILE (postdrop missing), EX_SOFTWARE (internal);
 * 0 only after postdrop reported the file and maildrop/ synced.
 * SECURITY: runs with the invoking user's privileges; everything it reads
 * is the user's own input, checked again by postdrop. postdrop is run
 * with execve and a fixed environment, never through a shell.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "address.h"
#include "aliases.h"
#include "buf.h"
#include "maildrop.h"
#include "mem.h"
#include "msg.h"
#include "server.h"
#include "queue_list.h"
#include "server_listen.h"
#include "str.h"
#include "sendmail.h"

#define SM_DEFAULT_CONFIG "/etc/posthorn"

enum sm_mode {
	SM_MODE_DELIVER, /* -bm, the default */
	SM_MODE_SMTP, /* -bs */
	SM_MODE_MAILQ, /* -bp, mailq */
	SM_MODE_NEWALIASES, /* -bi, -I, newaliases */
	SM_MODE_FLUSH, /* -q */
};

struct sm_opts {
	enum sm_mode mode;
	const char *config_dir;
	const char *sender; /* -f / -r as given */
	struct sm_message m;
	char **rcpt_args;
	int nrcpt_args;
};

static void sm_usage_line(void)
{
	fprintf(
	    stderr,
	    "usage: sendmail [-C DIR] [-t] [-i] [-oi] [-f SENDER] [-F NAME] "
	    "[-N DSN] [-R RET] [-V ENVID] [-B TYPE] [-v] [-bm|-bs|-bp|-bi] "
	    "[-q] [--] RECIPIENT...\n");
}

static int sm_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sm_usage(const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	msg_error("%s", text);
	sm_usage_line();
	return EX_USAGE;
}

/* -V: RFC 3461 4.4: printable ASCII, at most 100 characters. */
static bool sm_envid_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > MAILDROP_ENVID_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return true;
}

/* One option letter (with its argument for those that take one). */
static int sm_option(struct sm_opts *o, int opt, const char *arg)
{
	switch (opt) {
	case 'B':
		if (!str_eq_ci(arg, "7BIT") && !str_eq_ci(arg, "8BITMIME"))
			return sm_usage("-B: body type must be 7BIT or "
			                "8BITMIME, not '%s'",
			                arg);
		return 0;
	case 'C':
		o->config_dir = arg;
		return 0;
	case 'F':
		o->m.full_name = arg;
		return 0;
	case 'I':
		o->mode = SM_MODE_NEWALIASES;
		return 0;
	case 'N':
		if ((o->m.notify = queue_notify_parse(arg)) < 0)
			return sm_usage("-N: bad DSN notification '%s' (never "
			                "or success,delay,failure)",
			                arg);
		return 0;
	case 'R':
		if (str_eq_ci(arg, "full"))
			o->m.ret = "FULL";
		else if (str_eq_ci(arg, "hdrs"))
			o->m.ret = "HDRS";
		else
			return sm_usage("-R: bad DSN return '%s' (full or "
			                "hdrs)",
			                arg);
		return 0;
	case 'V':
		if (!sm_envid_ok(arg))
			return sm_usage("-V: bad envelope ID (1-%d printable "
			                "ASCII characters)",
			                MAILDROP_ENVID_MAX);
		o->m.envid = arg;
		return 0;
	case 'b':
		if (strcmp(arg, "m") == 0)
			o->mode = SM_MODE_DELIVER;
		else if (strcmp(arg, "s") == 0)
			o->mode = SM_MODE_SMTP;
		else if (strcmp(arg, "p") == 0)
			o->mode = SM_MODE_MAILQ;
		else if (strcmp(arg, "i") == 0)
			o->mode = SM_MODE_NEWALIASES;
		else
			return sm_usage("-b%s: unsupported mode", arg);
		return 0;
	case 'f':
	case 'r':
		o->sender = arg;
		return 0;
	case 'i':
		o->m.dot_ends = false;
		return 0;
	case 'o':
		if (strcmp(arg, "i") == 0)
			o->m.dot_ends = false;
		else
			msg_warn("-o%s ignored", arg);
		return 0;
	case 'q':
		o->mode = SM_MODE_FLUSH;
		if (*arg)
			msg_warn("-q%s: flushing the whole queue", arg);
		return 0;
	case 't':
		o->m.extract = true;
		return 0;
	case 'v':
		msg_verbose++;
		return 0;
	case 'A':
	case 'L':
	case 'O':
	case 'X':
	case 'p':
		msg_warn("-%c %s ignored", opt, arg);
		return 0;
	case 'G':
	case 'U':
	case 'c':
	case 'e':
	case 'h':
	case 'm':
	case 'n':
	case 'x':
		return 0;
	default:
		if (opt > 0x20 && opt < 0x7f)
			return sm_usage("invalid option -- '%c'", opt);
		return sm_usage("invalid option");
	}
}

/* getopt-like (clusters, attached or separate arguments), stopping at the
 * first non-option or after "--". Postfix's option letters. */
static int sm_parse_args(int argc, char **argv, struct sm_opts *o)
{
	static const char with_arg[] = "ABCFLNORVXbefhopr";
	int i, r;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (a[0] != '-' || a[1] == 0)
			break;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		for (const char *p = a + 1; *p; p++) {
			const char *arg = "";

			if (*p == 'q') {
				/* -q takes only an attached argument. */
				if ((r = sm_option(o, 'q', p + 1)) != 0)
					return r;
				break;
			}
			if (strchr(with_arg, *p) == NULL) {
				if ((r = sm_option(o, *p, "")) != 0)
					return r;
				continue;
			}
			if (p[1] != 0)
				arg = p + 1;
			else if (i + 1 < argc)
				arg = argv[++i];
			else
				return sm_usage("option -%c needs an argument",
				                *p);
			if ((r = sm_option(o, *p, arg)) != 0)
				return r;
			break;
		}
	}
	o->rcpt_args = argv + i;
	o->nrcpt_args = argc - i;
	return 0;
}

/* -f: "" and "<>" are the null sender; else one address. */
static int sm_parse_sender(const char *arg, struct buf *out)
{
	struct address_list *l;
	const char *why = "bad address syntax";

	if (*arg == 0 || strcmp(arg, "<>") == 0) {
		buf_reset(out);
		return EX_OK;
	}
	l = address_list_parse(arg, strlen(arg),
	                       ADDRESS_ALLOW_BARE_LOCAL | ADDRESS_ALLOW_UTF8, 1,
	                       &why);
	if (l == NULL || address_list_count(l) != 1) {
		if (l != NULL)
			why = "not exactly one address";
		address_list_destroy(&l);
		msg_error("bad sender address '%s': %s", arg, why);
		return EX_USAGE;
	}
	buf_set_str(out, address_list_addr(l, 0));
	address_list_destroy(&l);
	return EX_OK;
}

/* Command-line recipients: each argument an address list ("a, b" and
 * "Name <a@b>" work), unqualified names kept as given (cleanup qualifies
 * them). */
static int sm_parse_rcpts(struct sm_opts *o)
{
	for (int i = 0; i < o->nrcpt_args; i++) {
		const char *arg = o->rcpt_args[i];
		const char *why = "bad address syntax";
		struct address_list *l;

		l = address_list_parse(arg, strlen(arg),
		                       ADDRESS_ALLOW_BARE_LOCAL |
		                           ADDRESS_ALLOW_UTF8,
		                       MAILDROP_RCPT_MAX, &why);
		if (l == NULL) {
			msg_error("bad recipient address '%s': %s", arg, why);
			return EX_DATAERR;
		}
		for (size_t j = 0; j < address_list_count(l); j++)
			sm_message_add_rcpt(&o->m, address_list_addr(l, j),
			                    NULL, o->m.notify);
		address_list_destroy(&l);
		if (o->m.nrcpts > MAILDROP_RCPT_MAX) {
			msg_error("more than %d recipients", MAILDROP_RCPT_MAX);
			return EX_DATAERR;
		}
	}
	return EX_OK;
}

/* The directory holding this program. */
static const char *sm_self_dir(const char *argv0)
{
	static char dir[PATH_MAX];
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

	if (n > 0) {
		path[n] = 0;
	} else if (realpath(argv0, path) == NULL) {
		return NULL;
	}
	str_copy(dir, sizeof(dir), dirname(path));
	return dir;
}

/* Log to stderr, plus maillog_file when this user may write it (else
 * syslog when no file is configured). */
static void sm_log_init(struct config *c)
{
	struct buf *err = buf_create(0, 1024);

	/* A user who may not write maillog_file still sees stderr. */
	if (server_log_init(c, "sendmail", MSG_SINK_STDERR, err) < 0)
		msg_set_sinks(MSG_SINK_STDERR);
	buf_destroy(&err);
}

static int sm_flush_each(const char *queue, const char *id, const char *path,
                         void *ctx)
{
	const char *qdir = ctx;
	struct buf *full = buf_create(256, PATH_MAX);

	/* A deferred file's mtime is its next attempt: make it due now. */
	if (buf_printf(full, "%s/%s", qdir, path) == 0)
		(void)utimensat(AT_FDCWD, buf_str(full), NULL,
		                AT_SYMLINK_NOFOLLOW);
	buf_destroy(&full);
	return 0;
}

/* -q: what `posthorn queue flush` does, as far as this user may. */
static int sm_flush(struct sm_ctx *ctx)
{
	const char *qdir = config_str(ctx->config, "queue_directory");
	struct buf *err = buf_create(0, 4096);
	struct buf *path = buf_create(0, PATH_MAX);

	if (queue_list_each(ctx->config, QUEUE_DEFERRED, sm_flush_each,
	                    (void *)qdir, err) < 0 &&
	    msg_verbose)
		msg_info("flush: %s", buf_str(err));
	/* F: forget dead-destination backoff; A: scan every queue. */
	if (buf_printf(path, "%s/public/qmgr", qdir) < 0 ||
	    server_unix_trigger(buf_str(path), "FA", 2, 1000) < 0)
		msg_warn("cannot trigger the queue manager (%s): is posthorn "
		         "running?",
		         strerror(errno));
	buf_destroy(&err);
	buf_destroy(&path);
	return EX_OK;
}

int main(int argc, char **argv)
{
	struct sm_opts o;
	struct sm_ctx ctx;
	struct buf *err = buf_create(0, 8192), *sender = buf_create(0, 1024);
	struct buf *postdrop = buf_create(0, PATH_MAX);
	const char *name = argc > 0 && argv[0] ? argv[0] : "sendmail";
	const char *self_dir = sm_self_dir(name);
	struct passwd *pw;
	struct stat st;
	char id[QUEUE_ID_MAX], cdir[PATH_MAX];
	char *config_copy = NULL;
	int status;

	msg_init("posthorn", "sendmail");
	msg_set_sinks(MSG_SINK_STDERR);
	signal(SIGPIPE, SIG_IGN);
	memset(&o, 0, sizeof(o));
	memset(&ctx, 0, sizeof(ctx));
	o.m.dot_ends = true;
	o.m.skip_from_line = true;
	o.config_dir = getenv("MAIL_CONFIG");
	if (o.config_dir != NULL && *o.config_dir == 0)
		o.config_dir = NULL;
	if (strrchr(name, '/'))
		name = strrchr(name, '/') + 1;
	if (strcmp(name, "mailq") == 0)
		o.mode = SM_MODE_MAILQ;
	else if (strcmp(name, "newaliases") == 0)
		o.mode = SM_MODE_NEWALIASES;
	if ((status = sm_parse_args(argc, argv, &o)) != 0)
		goto out;
	if (o.config_dir == NULL)
		o.config_dir = SM_DEFAULT_CONFIG;
	/* Postfix's -C also takes main.cf itself. */
	if (stat(o.config_dir, &st) == 0 && S_ISREG(st.st_mode)) {
		str_copy(cdir, sizeof(cdir), o.config_dir);
		o.config_dir = config_copy = mem_strdup(dirname(cdir));
	}
	ctx.config_dir = o.config_dir;
	ctx.uid = getuid();
	if ((ctx.config = config_load(o.config_dir, err)) == NULL) {
		msg_error("%s", buf_str(err));
		status = EX_CONFIG;
		goto out;
	}
	sm_log_init(ctx.config);
	ctx.size_limit = config_size(ctx.config, "message_size_limit");
	ctx.verbose = msg_verbose;
	if ((pw = getpwuid(ctx.uid)) != NULL)
		ctx.login = mem_strdup(pw->pw_name);
	if (config_is_set(ctx.config, "command_directory") || self_dir == NULL)
		buf_sprintf(postdrop, "%s/postdrop",
		            config_str(ctx.config, "command_directory"));
	else
		buf_sprintf(postdrop, "%s/postdrop", self_dir);
	ctx.postdrop = buf_str(postdrop);

	if (o.mode != SM_MODE_DELIVER && o.nrcpt_args > 0) {
		status = sm_usage("recipients given in a mode without "
		                  "delivery");
		goto out;
	}
	switch (o.mode) {
	case SM_MODE_MAILQ:
		if (queue_list_print(ctx.config, stdout, false, err) < 0) {
			msg_error("queue listing unavailable: %s",
			          buf_str(err));
			status = EX_UNAVAILABLE;
		} else {
			status = EX_OK;
		}
		goto out;
	case SM_MODE_NEWALIASES:
		/* The same code as `posthorn aliases` (lib/aliases.c). */
		if (aliases_build_all(ctx.config, err) < 0) {
			msg_error("newaliases: %s", buf_str(err));
			status = EX_CANTCREAT;
		} else {
			status = EX_OK;
		}
		goto out;
	case SM_MODE_FLUSH:
		status = sm_flush(&ctx);
		goto out;
	case SM_MODE_SMTP:
		status = sm_smtp_session(&ctx);
		goto out;
	case SM_MODE_DELIVER:
		break;
	}

	if (o.sender != NULL) {
		if ((status = sm_parse_sender(o.sender, sender)) != EX_OK)
			goto out;
	} else if (ctx.login != NULL) {
		buf_set_str(sender, ctx.login);
	} else {
		msg_error("no login name for user ID %lu: use -f SENDER",
		          (unsigned long)ctx.uid);
		status = EX_NOUSER;
		goto out;
	}
	o.m.sender = buf_str(sender);
	if ((status = sm_parse_rcpts(&o)) != EX_OK)
		goto out;
	if (o.m.nrcpts == 0 && !o.m.extract) {
		status = sm_usage("no recipients: give them on the command "
		                  "line or use -t");
		goto out;
	}
	status = sm_submit_stdin(&ctx, &o.m, id, sizeof(id), err);
	if (status == EX_OK) {
		if (msg_verbose)
			msg_info("%s: queued in maildrop", id);
	} else {
		msg_error("%s", buf_str(err));
	}
out:
	sm_message_clear(&o.m);
	if (ctx.config != NULL)
		config_destroy(&ctx.config);
	mem_free((char *)ctx.login);
	mem_free(config_copy);
	buf_destroy(&err);
	buf_destroy(&sender);
	buf_destroy(&postdrop);
	return status;
}
