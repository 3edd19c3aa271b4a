/*
 * master.c: the posthorn supervisor (DESIGN.md: Processes). Reads main.cf
 * and master.cf, takes the pid file lock, opens every service's listeners
 * itself, then loops: starts processes on demand (a client waits and no
 * process of the service is idle, fewer than maxproc exist), reads their
 * busy/idle records, reaps and throttles them, sends wakeup triggers.
 * SIGHUP re-reads both files (added services listen, removed ones stop,
 * every old process finishes its client and exits; new ones get the new
 * configuration). SIGTERM/SIGINT stop: listeners shut, children finish
 * their client, after master_stop_timeout the rest are killed.
 * Command line (run by `posthorn start`, see cli/posthorn_control.c):
 *   master -c CONFIG_DIR [-f] [-r] [-v]
 * -f: foreground, log to stderr too; -r: stderr is the starter's pipe:
 * log lines go there until every listener is open, then "ready" and
 * stderr becomes /dev/null.
 * SECURITY: runs as root (or the instance user); everything it reads is
 * root-owned configuration. Children drop privileges themselves
 * (lib/server_common.c); master only passes -u/-j.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "msg.h"
#include "pidfile.h"
#include "server.h"
#include "str.h"
#include "tls.h"
#include "master.h"

#define MASTER_PID_PATH "pid/" SERVER_PID_FILE
/* After SIGKILL, how long to wait for the kernel to finish them off. */
#define MASTER_KILL_WAIT_MS 5000

struct master master;

static int master_sig_rd = -1, master_sig_wr = -1;

long long master_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void master_on_signal(int sig)
{
	int saved = errno;
	unsigned char c = (unsigned char)sig;

	(void)!write(master_sig_wr, &c, 1);
	errno = saved;
}

/* msg_fatal hook: a master that dies leaves no pid file behind. */
static void master_fatal_cleanup(void)
{
	pidfile_release(&master.pidfile_fd, MASTER_PID_PATH);
}

/* Take the settings master itself uses from cf. -1 with the reason in
 * err (nothing changed). */
static int master_config_apply(struct config *cf, struct buf *err)
{
	uid_t uid = getuid();
	gid_t gid = getgid(), sgid = getgid();

	if (master.as_root) {
		const char *owner = config_str(cf, "mail_owner");
		const char *group = config_str(cf, "setgid_group");
		struct passwd *pw = getpwnam(owner);
		struct group *gr;

		if (pw == NULL) {
			buf_sprintf(err, "mail_owner: unknown user '%s'",
			            owner);
			return -1;
		}
		if (pw->pw_uid == 0) {
			buf_sprintf(err,
			            "mail_owner %s has uid 0: it must be an "
			            "unprivileged account",
			            owner);
			return -1;
		}
		uid = pw->pw_uid;
		gid = sgid = pw->pw_gid;
		if ((gr = getgrnam(group)) != NULL)
			sgid = gr->gr_gid;
		else
			msg_warn("setgid_group: unknown group '%s': public/ "
			         "gets the group of %s",
			         group, owner);
	}
	master.owner_uid = uid;
	master.owner_gid = gid;
	master.setgid_gid = sgid;
	master.throttle_ms = config_time(cf, "service_throttle_time") * 1000;
	master.stop_timeout_ms = config_time(cf, "master_stop_timeout") * 1000;
	master_ent_environment_free(&master.envp);
	master.envp = master_ent_environment(cf);
	return 0;
}

static void master_usage(void)
{
	msg_fatal("usage: master -c CONFIG_DIR [-f] [-r] [-v]");
}

static void master_install_signals(void)
{
	int fds[2];
	struct sigaction sa;

	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		msg_fatal("pipe: %m");
	master_sig_rd = fds[0];
	master_sig_wr = fds[1];
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = master_on_signal;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	sigaction(SIGPIPE, &sa, NULL);
}

/* Everything up to "all listeners open". Fatal on any error. */
static void master_startup(void)
{
	struct buf *err = buf_create(0, 4096);
	struct stat st;
	pid_t holder = 0;
	int fds[2];

	master.cf = config_load(master.config_dir, err);
	if (master.cf == NULL)
		msg_fatal("%s", buf_str(err));
	if (server_log_init(master.cf, "master", MSG_SINK_STDERR, err) < 0)
		msg_fatal("%s", buf_str(err));
	if (master_config_apply(master.cf, err) < 0)
		msg_fatal("%s", buf_str(err));
	master.queue_dir = mem_strdup(config_str(master.cf, "queue_directory"));
	if (master.queue_dir[0] != '/')
		msg_fatal("queue_directory %s: not an absolute path",
		          master.queue_dir);
	if (stat(master.queue_dir, &st) < 0 || !S_ISDIR(st.st_mode))
		msg_fatal("queue_directory %s: not a directory",
		          master.queue_dir);
	/* Relative socket paths (private/NAME) stay short; children start
	 * here too. */
	if (chdir(master.queue_dir) < 0)
		msg_fatal("chdir %s: %m", master.queue_dir);
	if (master_listen_dirs(&master, err) < 0)
		msg_fatal("%s", buf_str(err));
	master.pidfile_fd = pidfile_acquire(MASTER_PID_PATH, &holder, err);
	if (master.pidfile_fd == -2)
		msg_fatal("the posthorn mail system is already running (pid "
		          "%ld)",
		          (long)holder);
	if (master.pidfile_fd < 0)
		msg_fatal("%s", buf_str(err));
	msg_set_fatal_hook(master_fatal_cleanup);
	/* TLS session tickets that any smtpd of the instance can resume: a
	 * fresh key each start, 0600 (root's when run as root); smtpd reads
	 * it before dropping privileges (lib/tls_cert.c, docs/tls.md). */
	if (tls_ticket_key_create(TLS_TICKET_KEY_FILE, err) < 0)
		msg_warn("TLS session ticket key: %s: smtpd processes use "
		         "keys of their own",
		         buf_str(err));

	buf_reset(err);
	master.services = master_ent_load(&master, master.cf, err);
	if (master.services == NULL && buf_len(err) > 0)
		msg_fatal("%s", buf_str(err));
	for (struct master_serv *s = master.services; s; s = s->next)
		if (master_listen_open(&master, s, err) < 0)
			msg_fatal("service %s: %s", s->name, buf_str(err));

	if ((master.devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		msg_fatal("open /dev/null: %m");
	if (pipe2(fds, O_CLOEXEC) < 0)
		msg_fatal("pipe: %m");
	master.status_rd = fds[0];
	master.status_wr = fds[1];
	if (fcntl(master.status_rd, F_SETFL, O_NONBLOCK) < 0)
		msg_fatal("fcntl: %m");
	master_install_signals();
	master.status_dirty = true;
	master_status_write(&master, master_now_ms());
	buf_destroy(&err);
}

static void master_begin_stop(int sig)
{
	msg_info("terminating on signal %d", sig);
	master.stopping = true;
	master.stop_deadline = master_now_ms() + master.stop_timeout_ms;
	for (struct master_serv *s = master.services; s; s = s->next)
		master_listen_close(s, true);
	master_signal(&master, NULL, SIGTERM);
}

static void master_finish(void)
{
	int left = 0;

	for (struct master_proc *p = master.procs; p; p = p->next)
		left++;
	if (left > 0) {
		msg_warn("killing %d process%s that did not stop within %lld "
		         "seconds",
		         left, left == 1 ? "" : "es",
		         master.stop_timeout_ms / 1000);
		master_signal(&master, NULL, SIGKILL);
		for (long long end = master_now_ms() + MASTER_KILL_WAIT_MS;
		     master.procs != NULL && master_now_ms() < end;) {
			master_reap(&master);
			if (master.procs != NULL)
				usleep(10000);
		}
	}
	master_status_remove(&master);
	pidfile_release(&master.pidfile_fd, MASTER_PID_PATH);
	exit(0);
}

/* SIGHUP: the new main.cf and master.cf, or (on any error) the old
 * ones, unchanged. */
static void master_reload(void)
{
	struct buf *err = buf_create(0, 4096);
	struct config *cf = config_load(master.config_dir, err);
	struct master_serv *fresh = NULL, *old;

	if (cf == NULL)
		goto bad;
	if (strcmp(config_str(cf, "queue_directory"), master.queue_dir) != 0)
		msg_warn("reload: queue_directory changed: it takes effect "
		         "at the next start");
	buf_reset(err);
	fresh = master_ent_load(&master, cf, err);
	if (fresh == NULL && buf_len(err) > 0)
		goto bad;
	if (master_config_apply(cf, err) < 0) {
		while ((old = fresh) != NULL) {
			fresh = old->next;
			master_serv_free(&old);
		}
		goto bad;
	}
	if (server_log_init(cf, "master",
	                    master.foreground ? MSG_SINK_STDERR : 0, err) < 0)
		msg_warn("reload: %s", buf_str(err));
	config_destroy(&master.cf);
	master.cf = cf;

	/* Keep the sockets of services that still listen on the same
	 * addresses: no client sees a refused connection. */
	for (struct master_serv *n = fresh; n; n = n->next) {
		for (old = master.services; old; old = old->next) {
			if (old->nlisten == 0 ||
			    !master_serv_same_listener(old, n))
				continue;
			memcpy(n->listen_fds, old->listen_fds,
			       sizeof(old->listen_fds));
			n->nlisten = old->nlisten;
			old->nlisten = 0;
			break;
		}
	}
	/* Every old process finishes its client and exits; new ones read
	 * the new configuration. */
	while ((old = master.services) != NULL) {
		master.services = old->next;
		master_listen_close(old, true);
		master_signal(&master, old, SIGTERM);
		old->next = master.retired;
		master.retired = old;
	}
	master.services = fresh;
	for (struct master_serv *n = fresh; n; n = n->next)
		if (n->nlisten == 0 && master_listen_open(&master, n, err) < 0)
			msg_warn("service %s: %s: service disabled", n->name,
			         buf_str(err));
	master_retired_sweep(&master);
	master.reload_error[0] = 0;
	master.generation++;
	master.status_dirty = true;
	buf_destroy(&err);
	msg_info("reload -- version %s, configuration %s", POSTHORN_VERSION,
	         master.config_dir);
	return;
bad:
	msg_warn("reload: %s: keeping the current configuration", buf_str(err));
	str_copy(master.reload_error, sizeof(master.reload_error),
	         buf_str(err));
	/* Status lines are one line each. */
	for (char *p = master.reload_error; *p; p++)
		if (*p == '\n')
			*p = ' ';
	config_destroy(&cf);
	master.generation++;
	master.status_dirty = true;
	buf_destroy(&err);
}

/* Timers: throttles that end, wakeups, the stop deadline. Returns the
 * next deadline (-1: none). */
static long long master_timers(long long now)
{
	long long deadline = -1, w;

	if (master.stopping) {
		if (master.procs == NULL || now >= master.stop_deadline)
			master_finish();
		return master.stop_deadline;
	}
	for (struct master_serv *s = master.services; s; s = s->next) {
		if (s->throttle_until == 0)
			continue;
		if (now >= s->throttle_until) {
			s->throttle_until = 0;
			master.status_dirty = true;
		} else if (deadline < 0 || s->throttle_until < deadline) {
			deadline = s->throttle_until;
		}
	}
	w = master_wakeup_run(&master, now);
	if (w >= 0 && (deadline < 0 || w < deadline))
		deadline = w;
	return deadline;
}

static void master_loop(void)
{
	struct pollfd *pfds = NULL;
	struct master_serv **owner = NULL;
	size_t cap = 0;

	for (;;) {
		long long now = master_now_ms();
		long long deadline = master_timers(now);
		long long status_due = master_status_write(&master, now);
		size_t n = 0, need = 2;
		int r, term = 0;
		bool chld = false, hup = false;

		if (status_due >= 0 && (deadline < 0 || status_due < deadline))
			deadline = status_due;
		for (struct master_serv *s = master.services; s; s = s->next)
			need += (size_t)s->nlisten;
		if (need > cap) {
			cap = need + 16;
			pfds = mem_realloc(pfds, cap * sizeof(*pfds));
			owner = mem_realloc(owner, cap * sizeof(*owner));
		}
		pfds[n].fd = master_sig_rd;
		pfds[n++].events = POLLIN;
		pfds[n].fd = master.status_rd;
		pfds[n++].events = POLLIN;
		for (struct master_serv *s = master.services; s; s = s->next) {
			if (master.stopping || !master_spawn_wanted(s, now))
				continue;
			for (int i = 0; i < s->nlisten; i++) {
				owner[n] = s;
				pfds[n].fd = s->listen_fds[i];
				pfds[n++].events = POLLIN;
			}
		}
		if (deadline >= 0 && deadline < now)
			deadline = now; /* passed: poll without waiting */
		r = poll(pfds, n,
		         deadline < 0 ? -1 : (int)(deadline - now + 1));
		if (r < 0 && errno != EINTR)
			msg_fatal("poll: %m");
		if (r > 0 && pfds[0].revents) {
			unsigned char sigs[64];
			ssize_t got;

			while ((got = read(master_sig_rd, sigs, sizeof(sigs))) >
			       0) {
				for (ssize_t i = 0; i < got; i++) {
					if (sigs[i] == SIGCHLD)
						chld = true;
					else if (sigs[i] == SIGHUP)
						hup = true;
					else
						term = sigs[i];
				}
			}
		}
		master_status_read(&master);
		if (chld)
			master_reap(&master);
		now = master_now_ms();
		for (size_t i = 2; r > 0 && i < n; i++) {
			/* A client waits: start one process (per round). */
			if (pfds[i].revents && !master.stopping &&
			    master_spawn_wanted(owner[i], now))
				master_spawn(&master, owner[i]);
		}
		if (term && !master.stopping)
			master_begin_stop(term);
		else if (hup && !master.stopping)
			master_reload();
	}
}

int main(int argc, char **argv)
{
	bool report = false;

	msg_init("posthorn", "master");
	msg_set_sinks(MSG_SINK_STDERR);
	umask(022);
	/* stderr may be `posthorn start`'s pipe, which may go away. */
	signal(SIGPIPE, SIG_IGN);
	master.pidfile_fd = master.status_rd = master.status_wr = -1;
	master.devnull = -1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			master.config_dir = argv[++i];
		else if (strcmp(argv[i], "-f") == 0)
			master.foreground = true;
		else if (strcmp(argv[i], "-r") == 0)
			report = true;
		else if (strcmp(argv[i], "-v") == 0)
			master.verbose++, msg_verbose++;
		else
			master_usage();
	}
	if (master.config_dir == NULL)
		master_usage();
	/* Children start in the queue directory: pass them an absolute
	 * path. */
	const char *dir_arg = master.config_dir;

	if ((master.config_dir = realpath(dir_arg, NULL)) == NULL)
		msg_fatal("config directory %s: %m", dir_arg);
	master.as_root = geteuid() == 0;

	master_startup();
	msg_info("daemon started -- version %s, configuration %s",
	         POSTHORN_VERSION, master.config_dir);
	if (report) {
		/* Tell `posthorn start` that every listener is open, then
		 * let go of its pipe. */
		(void)!write(STDERR_FILENO, "ready\n", 6);
		if (dup2(master.devnull, STDERR_FILENO) < 0)
			msg_fatal("dup2: %m");
	}
	if (!master.foreground)
		msg_set_sinks(msg_sinks() & ~MSG_SINK_STDERR);
	master_loop();
}
