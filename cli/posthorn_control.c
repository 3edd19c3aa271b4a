/*
 * posthorn_control.c: `posthorn start [--foreground] | stop | reload |
 * status` (CONTRACT.md: Instances). start runs master detached (setsid,
 * double fork) and returns once master says every listener is open, or
 * exits 1 with master's fatal line (on success, master's start-up
 * warnings are shown); --foreground runs master in place,
 * logging to stderr too. stop sends SIGTERM and returns when master (who
 * reaps every child before it exits) is gone. reload checks main.cf and
 * master.cf, sends SIGHUP and waits until master has applied them.
 * status reads master's pid file lock and status file (docs/master.md).
 * SECURITY: reads only the instance's own files; master's start-up lines
 * are shown to the user as text, one line each, bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "posthorn.h"
#include "buf.h"
#include "master_cf.h"
#include "mem.h"
#include "number.h"
#include "pidfile.h"
#include "server_proto.h"
#include "str.h"

#define CONTROL_START_WAIT_MS 60000
#define CONTROL_RELOAD_WAIT_MS 15000
/* Beyond master_stop_timeout, for the SIGKILL round and the exit. */
#define CONTROL_STOP_SLACK_MS 15000
#define CONTROL_LINE_MAX 1024

static long long control_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void control_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* queue_directory/pid/NAME */
static void control_pid_path(struct config *cf, const char *name,
                             struct buf *out)
{
	buf_sprintf(out, "%s/pid/%s", config_str(cf, "queue_directory"), name);
}

/* Is master running? 1 with its pid, 0 not, -1 error (printed). */
static int control_running(struct config *cf, pid_t *pid)
{
	struct buf *path = buf_create(0, 4096);
	struct buf *err = buf_create(0, 1024);
	int r;

	control_pid_path(cf, SERVER_PID_FILE, path);
	*pid = 0;
	r = pidfile_check(buf_str(path), pid, err);
	if (r < 0)
		cli_fail("%s", buf_str(err));
	buf_destroy(&path);
	buf_destroy(&err);
	return r;
}

/* What the status file says. */
struct control_status {
	long long generation; /* -1: no file */
	char error[300];
	struct server_status_line *lines;
	size_t nlines;
};

static void control_status_read(struct config *cf, struct control_status *st)
{
	struct buf *path = buf_create(0, 4096);
	char line[CONTROL_LINE_MAX];
	FILE *fp;
	size_t cap = 0;

	memset(st, 0, sizeof(*st));
	st->generation = -1;
	control_pid_path(cf, SERVER_STATUS_FILE, path);
	fp = fopen(buf_str(path), "re");
	buf_destroy(&path);
	if (fp == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		struct server_status_line l;

		line[strcspn(line, "\n")] = 0;
		if (strncmp(line, "generation ", 11) == 0) {
			long long g;

			if (number_parse(line + 11, 0, 1LL << 62, &g, NULL) ==
			    0)
				st->generation = g;
		} else if (strncmp(line, "error ", 6) == 0) {
			str_copy(st->error, sizeof(st->error), line + 6);
		} else if (server_status_line_parse(line, &l) == 0) {
			if (st->nlines == cap) {
				cap = cap * 2 + 8;
				st->lines =
				    mem_realloc(st->lines, cap * sizeof(l));
			}
			st->lines[st->nlines++] = l;
		}
	}
	fclose(fp);
}

/* Run master in the foreground, in place of this process. */
static int control_start_foreground(const char *master, const char *dir)
{
	char *args[] = {"master", "-c", (char *)dir, "-f", NULL};

	execv(master, args);
	return cli_fail("start: exec %s: %s", master, strerror(errno));
}

/* The grandchild: master, detached, stderr on the report pipe. */
static void control_exec_master(const char *master, const char *dir, int report)
{
	char *args[] = {"master", "-c", (char *)dir, "-r", NULL};
	int null = open("/dev/null", O_RDWR);

	if (null < 0 || dup2(null, STDIN_FILENO) < 0 ||
	    dup2(null, STDOUT_FILENO) < 0 || dup2(report, STDERR_FILENO) < 0)
		_exit(127);
	execv(master, args);
	dprintf(report, "posthorn/master: fatal: exec %s: %s\n", master,
	        strerror(errno));
	_exit(127);
}

/* Show master's start-up errors (and with warnings, its warnings) as our
 * own lines. Returns the number of errors shown. */
static int control_relay(struct buf *text, bool warnings)
{
	int shown = 0;

	for (char *p = buf_data(text), *line; (line = str_token(&p, "\n"));) {
		const char *msg = strstr(line, ": ");

		msg = msg ? msg + 2 : line;
		if ((warnings && strncmp(msg, "warning: ", 9) == 0) ||
		    strncmp(msg, "fatal: ", 7) == 0 ||
		    strncmp(msg, "panic: ", 7) == 0) {
			fprintf(stderr, "posthorn: %.*s\n", CONTROL_LINE_MAX,
			        msg);
			shown += msg[0] != 'w';
		}
	}
	return shown;
}

/* Read master's start-up lines until "ready" or the end. 0 on ready. */
static int control_wait_ready(int fd)
{
	struct buf *text = buf_create(0, 64 * 1024);
	long long deadline = control_now_ms() + CONTROL_START_WAIT_MS;
	char *ready;
	int ret = -1;

	for (;;) {
		struct pollfd pfd = {fd, POLLIN, 0};
		long long left = deadline - control_now_ms();
		char chunk[4096];
		ssize_t n;

		if (left <= 0) {
			control_relay(text, false);
			cli_fail("start: master did not report within %d "
			         "seconds (see the maillog)",
			         CONTROL_START_WAIT_MS / 1000);
			goto out;
		}
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			break;
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (buf_append(text, chunk, (size_t)n) < 0)
			break; /* absurd amount of output: give up reading */
		if (strncmp(buf_str(text), "ready\n", 6) == 0)
			ready = buf_data(text);
		else if ((ready = strstr(buf_data(text), "\nready\n")) != NULL)
			ready++;
		if (ready != NULL) {
			*ready = 0; /* the warnings before it */
			control_relay(text, true);
			ret = 0;
			goto out;
		}
	}
	/* No "ready": master's fatal line says why. */
	if (control_relay(text, false) == 0)
		cli_fail("start: master exited during start-up (see the "
		         "maillog)");
out:
	buf_destroy(&text);
	return ret;
}

int cli_start(struct cli *cli, int argc, char **argv)
{
	struct buf *master = buf_create(0, 4096);
	bool foreground = false;
	struct config *cf;
	int pipefd[2], status, ret = CLI_FAILED;
	pid_t pid;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--foreground") == 0)
			foreground = true;
		else
			return cli_usage("start [--foreground]");
	}
	if ((cf = cli_load_config(cli)) == NULL)
		goto out;
	switch (control_running(cf, &pid)) {
	case 0:
		break;
	case 1:
		cli_fail("fatal: the posthorn mail system is already running "
		         "(pid %ld)",
		         (long)pid);
		goto out;
	default:
		goto out;
	}
	buf_sprintf(master, "%s/master", config_str(cf, "daemon_directory"));
	if (access(buf_str(master), X_OK) < 0) {
		cli_fail("start: %s: %s", buf_str(master), strerror(errno));
		goto out;
	}
	fflush(NULL);
	if (foreground) {
		ret =
		    control_start_foreground(buf_str(master), cli->config_dir);
		goto out;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		cli_fail("start: pipe: %s", strerror(errno));
		goto out;
	}
	if ((pid = fork()) < 0) {
		cli_fail("start: fork: %s", strerror(errno));
		close(pipefd[0]);
		close(pipefd[1]);
		goto out;
	}
	if (pid == 0) {
		/* Detach: a new session, and a grandchild that is not a
		 * session leader cannot regain a terminal. */
		close(pipefd[0]);
		if (setsid() < 0)
			_exit(1);
		pid = fork();
		if (pid == 0)
			control_exec_master(buf_str(master), cli->config_dir,
			                    pipefd[1]);
		_exit(pid < 0 ? 1 : 0);
	}
	close(pipefd[1]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (control_wait_ready(pipefd[0]) == 0)
		ret = CLI_OK;
	close(pipefd[0]);
out:
	buf_destroy(&master);
	config_destroy(&cf);
	return ret;
}

/* Has pid exited (gone, or a zombie waiting for its parent)? */
static bool control_pid_gone(pid_t pid)
{
	char path[64], stat[256];
	ssize_t n;
	int fd;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	if (str_format(path, sizeof(path), "/proc/%ld/stat", (long)pid) < 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return true;
	n = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	if (n <= 0)
		return true;
	stat[n] = 0;
	/* "pid (comm) S ...": the state follows the last ')'. */
	char *paren = strrchr(stat, ')');
	return paren != NULL && paren[1] == ' ' && paren[2] == 'Z';
}

int cli_stop(struct cli *cli, int argc, char **argv)
{
	struct config *cf;
	pid_t pid;
	long long deadline;
	int r, ret = CLI_FAILED;

	if (argc != 1)
		return cli_usage("stop");
	if ((cf = cli_load_config(cli)) == NULL)
		return CLI_FAILED;
	r = control_running(cf, &pid);
	if (r == 0)
		cli_fail("fatal: the posthorn mail system is not running");
	if (r <= 0)
		goto out;
	if (pid <= 1 || (kill(pid, SIGTERM) < 0 && errno != ESRCH)) {
		cli_fail("stop: kill %ld: %s", (long)pid,
		         pid <= 1 ? "bad pid" : strerror(errno));
		goto out;
	}
	deadline = control_now_ms() +
	           config_time(cf, "master_stop_timeout") * 1000 +
	           CONTROL_STOP_SLACK_MS;
	/* master reaps every child before it exits; its lock goes with it. */
	while ((r = control_running(cf, &pid)) == 1 &&
	       control_now_ms() < deadline)
		control_sleep_ms(50);
	/* The lock goes while master is still exiting: wait for the process
	 * itself, so that `stop` returns only when nothing is left. */
	while (r == 0 && !control_pid_gone(pid) && control_now_ms() < deadline)
		control_sleep_ms(10);
	if (r == 1 || (r == 0 && !control_pid_gone(pid)))
		cli_fail("stop: master (pid %ld) is still running", (long)pid);
	else if (r == 0)
		ret = CLI_OK;
out:
	config_destroy(&cf);
	return ret;
}

/* Would master accept the new configuration? */
static int control_check_config(struct cli *cli)
{
	struct buf *path = buf_create(0, 4096);
	struct buf *err = buf_create(0, 4096);
	struct master_cf *mcf;
	int ret = 0;

	buf_sprintf(path, "%s/master.cf", cli->config_dir);
	if ((mcf = master_cf_read(buf_str(path), err)) == NULL)
		ret = cli_fail("reload: %s", buf_str(err));
	master_cf_destroy(&mcf);
	buf_destroy(&path);
	buf_destroy(&err);
	return ret;
}

int cli_reload(struct cli *cli, int argc, char **argv)
{
	struct control_status st;
	struct config *cf;
	long long before, deadline;
	pid_t pid;
	int r, ret = CLI_FAILED;

	if (argc != 1)
		return cli_usage("reload");
	if ((cf = cli_load_config(cli)) == NULL)
		return CLI_FAILED;
	r = control_running(cf, &pid);
	if (r == 0)
		cli_fail("fatal: the posthorn mail system is not running");
	if (r <= 0 || control_check_config(cli) != 0)
		goto out;
	control_status_read(cf, &st);
	before = st.generation;
	mem_free(st.lines);
	if (pid <= 1 || kill(pid, SIGHUP) < 0) {
		cli_fail("reload: kill %ld: %s", (long)pid,
		         pid <= 1 ? "bad pid" : strerror(errno));
		goto out;
	}
	/* Return once master has taken the new configuration. */
	deadline = control_now_ms() + CONTROL_RELOAD_WAIT_MS;
	for (;;) {
		control_status_read(cf, &st);
		mem_free(st.lines);
		if (st.generation > before)
			break;
		if (control_now_ms() >= deadline) {
			cli_fail("reload: master (pid %ld) did not confirm the "
			         "reload",
			         (long)pid);
			goto out;
		}
		control_sleep_ms(20);
	}
	if (st.error[0])
		cli_fail("reload: %s", st.error);
	else
		ret = CLI_OK;
out:
	config_destroy(&cf);
	return ret;
}

int cli_status(struct cli *cli, int argc, char **argv)
{
	struct control_status st;
	struct config *cf;
	pid_t pid;
	int r;

	if (argc != 1)
		return cli_usage("status");
	if ((cf = cli_load_config(cli)) == NULL)
		return CLI_FAILED;
	r = control_running(cf, &pid);
	if (r <= 0) {
		if (r == 0)
			printf("posthorn is not running\n");
		config_destroy(&cf);
		return CLI_FAILED;
	}
	printf("posthorn is running (pid %ld)\n", (long)pid);
	control_status_read(cf, &st);
	if (st.nlines > 0)
		printf("%-24s %-5s %7s %6s %5s %5s\n", "service", "type",
		       "maxproc", "procs", "busy", "idle");
	for (size_t i = 0; i < st.nlines; i++) {
		const struct server_status_line *l = &st.lines[i];
		char maxproc[16];

		if (l->maxproc > 0)
			snprintf(maxproc, sizeof(maxproc), "%d", l->maxproc);
		else
			snprintf(maxproc, sizeof(maxproc), "-");
		printf("%-24s %-5s %7s %6d %5d %5d%s\n", l->name, l->type,
		       maxproc, l->total, l->busy, l->idle,
		       l->throttled ? "  throttled" : "");
	}
	mem_free(st.lines);
	config_destroy(&cf);
	return CLI_OK;
}
