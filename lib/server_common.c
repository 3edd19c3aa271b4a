/*
 * server_common.c: the set-up every daemon skeleton shares, as one
 * straight line: parse master's command line, load main.cf plus the
 * service's -o overrides, set up logging, run pre_jail_init (root), chroot
 * to queue_directory (-j), drop to mail_owner (-u: setgroups, setresgid,
 * setresuid, then verify that no root id is left and setuid(0) fails),
 * install signal handlers, run post_init. Also the pieces of the loop the
 * skeletons share: busy/idle records to master on SERVER_STATUS_FD, a wait
 * that wakes on SIGTERM or master's death, accept (and fd passing for
 * "pass" services).
 * Signals: SIGTERM/SIGINT only set a flag (handlers use SA_RESTART; the
 * stream layer retries EINTR), so a client in hand is served to its end;
 * the wait before the next client sees the flag and the process exits.
 * SECURITY: the command line comes from master (trusted); a pass service
 * receives a descriptor only from a peer that could connect to its
 * socket in private/ (mail_owner only); a record that carries no
 * descriptor is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "msg.h"
#include "str.h"
#include "server_impl.h"

/* Sanitizer builds (make SANITIZE=1) only. */
#if defined(__SANITIZE_ADDRESS__)
#define SERVER_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SERVER_LSAN 1
#endif
#endif
#ifdef SERVER_LSAN
#include <sanitizer/lsan_interface.h>
#endif

static volatile sig_atomic_t server_stop_flag;
static enum server_state server_last_state = SERVER_IDLE;
static struct server_ctx *server_active_ctx;

static void server_on_term(int sig)
{
	(void)sig;
	server_stop_flag = 1;
}

bool server_stopping(void)
{
	return server_stop_flag != 0;
}

long long server_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void server_reset_signals(void)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD};
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

int server_set_ugid(uid_t uid, gid_t gid, struct buf *err)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg, groups[2];
	int n;

	if (uid == 0) {
		buf_set_str(err, "refusing to switch to uid 0");
		return -1;
	}
	if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		buf_sprintf(err, "set uid %ld gid %ld: %s", (long)uid,
		            (long)gid, strerror(errno));
		return -1;
	}
	/* Verify that the drop took: every id, and no way back. */
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 ||
	    ru != uid || eu != uid || su != uid || rg != gid || eg != gid ||
	    sg != gid) {
		buf_sprintf(err, "privilege drop to uid %ld did not take",
		            (long)uid);
		return -1;
	}
	n = getgroups(2, groups);
	if (n < 0 || n > 1 || (n == 1 && groups[0] != gid)) {
		buf_sprintf(err, "supplementary groups survived the drop");
		return -1;
	}
	if (setuid(0) == 0 || seteuid(0) == 0) {
		buf_set_str(err, "setuid(0) succeeded after the drop");
		return -1;
	}
	return 0;
}

int server_log_init(struct config *cf, const char *program, int extra_sinks,
                    struct buf *err)
{
	const char *file = config_str(cf, "maillog_file");
	const char *facility = config_str(cf, "syslog_facility");

	msg_init(config_str(cf, "syslog_name"), program);
	if (*file) {
		if (msg_open_file(file) < 0) {
			buf_sprintf(err, "maillog_file %s: %s", file,
			            strerror(errno));
			return -1;
		}
		msg_set_sinks(MSG_SINK_FILE | extra_sinks);
		return 0;
	}
	if (msg_set_facility(facility) < 0)
		msg_warn("syslog_facility: unknown facility '%s'; using mail",
		         facility);
	msg_set_sinks(MSG_SINK_SYSLOG | extra_sinks);
	return 0;
}

/* Sanitizer builds: LeakSanitizer reads /proc, which a chroot hides, so
 * run its check now; it then skips the one at exit, which would fail. */
static void server_before_chroot(void)
{
#ifdef SERVER_LSAN
	__lsan_do_leak_check();
#endif
}

/* A descriptor master must have given us. */
static void server_check_fd(int fd, const char *what)
{
	if (fcntl(fd, F_GETFD) < 0)
		msg_fatal("%s (fd %d) is not open: this program is started by "
		          "the posthorn master",
		          what, fd);
	/* Whatever a handler execs must not inherit it. */
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		msg_fatal("fcntl fd %d: %m", fd);
}

static void server_apply_overrides(struct server_ctx *ctx)
{
	for (size_t i = 0; i < ctx->args.noverrides; i++) {
		const char *o = ctx->args.overrides[i];
		const char *eq = strchr(o, '=');
		char *name = mem_strndup(o, (size_t)(eq - o));

		if (config_set(ctx->info.config, name, eq + 1) < 0)
			msg_fatal("service %s: -o %s: unknown parameter",
			          ctx->args.service, name);
		mem_free(name);
	}
}

void server_setup(struct server_ctx *ctx, int argc, char **argv,
                  const struct server_callbacks *cb, const char *skeleton)
{
	struct buf *err = buf_create(0, 4096);
	const char *program = argc > 0 && argv[0] ? argv[0] : skeleton;
	const char *slash = strrchr(program, '/');
	struct passwd *pw = NULL;
	uid_t uid = 0;
	gid_t gid = 0;
	struct sigaction sa;

	memset(ctx, 0, sizeof(*ctx));
	server_active_ctx = ctx;
	ctx->cb = cb;
	if (slash)
		program = slash + 1;
	msg_init("posthorn", program);
	msg_set_sinks(MSG_SINK_STDERR);
	if (server_args_parse(argc, argv, &ctx->args, err) < 0)
		msg_fatal("%s: %s", skeleton, buf_str(err));
	msg_verbose += ctx->args.verbose;

	ctx->info.config = config_load(ctx->args.config_dir, err);
	if (ctx->info.config == NULL)
		msg_fatal("%s", buf_str(err));
	server_apply_overrides(ctx);
	ctx->info.service = ctx->args.service;
	ctx->info.program = mem_strdup(program);
	ctx->info.type = ctx->args.type;
	ctx->info.args = ctx->args.args;
	ctx->info.nargs = ctx->args.nargs;
	if (server_log_init(ctx->info.config, program, 0, err) < 0)
		msg_fatal("%s", buf_str(err));

	server_check_fd(SERVER_STATUS_FD, "the status pipe");
	if (ctx->args.listen_count < 1)
		msg_fatal("service %s: no listener", ctx->args.service);
	ctx->nlisten = ctx->args.listen_count;
	for (int i = 0; i < ctx->nlisten; i++) {
		ctx->listen_fds[i] = SERVER_LISTEN_FD + i;
		server_check_fd(ctx->listen_fds[i], "a listener");
	}
	ctx->max_idle = config_time(ctx->info.config, "max_idle");
	ctx->max_use = config_int(ctx->info.config, "max_use");

	/* Look up what needs /etc before a chroot takes it away. */
	if (ctx->args.unpriv && geteuid() == 0) {
		const char *owner = config_str(ctx->info.config, "mail_owner");

		if ((pw = getpwnam(owner)) == NULL)
			msg_fatal("mail_owner: unknown user '%s'", owner);
		if (pw->pw_uid == 0)
			msg_fatal("mail_owner %s has uid 0: refusing to run "
			          "as root",
			          owner);
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	tzset();
	if (msg_sinks() & MSG_SINK_SYSLOG) {
		/* Connect to /dev/log now: it is not there in a chroot. The
		 * tag is the one msg uses (it calls openlog again later,
		 * which keeps the open connection). */
		static char tag[256];

		snprintf(tag, sizeof(tag), "%s/%s",
		         config_str(ctx->info.config, "syslog_name"), program);
		openlog(tag, LOG_PID | LOG_NDELAY, LOG_MAIL);
	}

	ctx->info.chroot_next = ctx->args.chroot && geteuid() == 0;
	if (cb->pre_jail_init)
		cb->pre_jail_init(&ctx->info);

	if (ctx->args.chroot) {
		const char *queue =
		    config_str(ctx->info.config, "queue_directory");

		if (geteuid() != 0) {
			msg_warn("service %s: chroot needs root; running "
			         "without chroot",
			         ctx->args.service);
		} else {
			server_before_chroot();
			if (chroot(queue) < 0 || chdir("/") < 0)
				msg_fatal("chroot %s: %m", queue);
			ctx->info.chrooted = true;
		}
	}
	if (pw != NULL) {
		if (server_set_ugid(uid, gid, err) < 0)
			msg_fatal("%s", buf_str(err));
		ctx->info.unprivileged = true;
	}

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = server_on_term;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	if (cb->post_init)
		cb->post_init(&ctx->info);
	buf_destroy(&err);
	if (msg_verbose)
		msg_info("%s: service %s (%s) ready", skeleton,
		         ctx->args.service, master_type_name(ctx->args.type));
}

void server_notify(enum server_state state)
{
	struct server_status st = {getpid(), state};
	unsigned char rec[SERVER_STATUS_SIZE];
	ssize_t n;

	if (state == server_last_state)
		return;
	server_last_state = state;
	server_status_encode(&st, rec);
	do {
		n = write(SERVER_STATUS_FD, rec, sizeof(rec));
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(rec)) {
		/* Master is gone (EPIPE): finish up like on SIGTERM. */
		server_stop_flag = 1;
	}
}

/* Block SIGTERM (and SIGINT) between the test of the stop flag and a
 * wait that unblocks it atomically (ppoll, epoll_pwait with *old), so a
 * SIGTERM is never slept through. True if the process should stop. */
static bool server_block_term(sigset_t *old)
{
	sigset_t block;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, old);
	return server_stop_flag != 0;
}

int server_wait(struct pollfd *fds, int nfds, int timeout_ms, bool finishing)
{
	static bool master_gone;
	static struct pollfd *all;
	static int all_cap;
	struct timespec ts, *tsp = NULL;
	sigset_t old;
	int n;

	if (nfds + 1 > all_cap) {
		all_cap = nfds + 16;
		all = mem_realloc(all, (size_t)all_cap * sizeof(*all));
	}
	memcpy(all, fds, (size_t)nfds * sizeof(*fds));
	/* The write end of master's pipe reports POLLERR once master (the
	 * only reader) is gone. */
	all[nfds].fd = master_gone ? -1 : SERVER_STATUS_FD;
	all[nfds].events = 0;
	all[nfds].revents = 0;
	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000;
		tsp = &ts;
	}
	if (server_block_term(&old) && !finishing) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return -1;
	}
	n = ppoll(all, (nfds_t)nfds + 1, tsp, &old);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (n < 0) {
		if (errno != EINTR)
			msg_fatal("poll: %m");
		return server_stop_flag && !finishing ? -1 : 0;
	}
	if (all[nfds].revents & (POLLERR | POLLHUP | POLLNVAL)) {
		if (msg_verbose)
			msg_info("master is gone: exiting");
		master_gone = true;
		server_stop_flag = 1;
		if (!finishing)
			return -1;
		n--;
	}
	for (int i = 0; i < nfds; i++)
		fds[i].revents = all[i].revents;
	return n;
}

int server_wait_exclusive(struct pollfd *fds, int nfds, int timeout_ms)
{
	static int ep = -1;
	struct epoll_event ev[SERVER_MAX_LISTEN + 1];
	sigset_t old;
	int n, ready = 0;

	if (ep == -2 || nfds > SERVER_MAX_LISTEN)
		return server_wait(fds, nfds, timeout_ms, false);
	if (ep < 0) {
		struct epoll_event e;

		/* EPOLLEXCLUSIVE (Linux 4.5): a new client wakes one idle
		 * process, not every process of the service, as poll() does
		 * (each woke, lost the accept race and slept again: several
		 * context switches per client). */
		int saved = 0;

		ep = epoll_create1(EPOLL_CLOEXEC);
		if (ep < 0)
			saved = errno;
		for (int i = 0; i < nfds && ep >= 0; i++) {
			e.events = EPOLLIN | EPOLLEXCLUSIVE;
			e.data.u32 = (uint32_t)i;
			if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i].fd, &e) < 0) {
				saved = errno;
				close(ep);
				ep = -1;
			}
		}
		/* Master's pipe: EPOLLERR once master is gone. */
		e.events = 0;
		e.data.u32 = (uint32_t)nfds;
		if (ep >= 0 &&
		    epoll_ctl(ep, EPOLL_CTL_ADD, SERVER_STATUS_FD, &e) < 0) {
			saved = errno;
			close(ep);
			ep = -1;
		}
		if (ep < 0) {
			/* The failed call's errno, not close()'s. */
			errno = saved;
			msg_warn("epoll: %m: waiting with poll()");
			ep = -2;
			return server_wait(fds, nfds, timeout_ms, false);
		}
	}
	if (server_block_term(&old)) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return -1;
	}
	n = epoll_pwait(ep, ev, nfds + 1, timeout_ms, &old);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (n < 0) {
		if (errno != EINTR)
			msg_fatal("epoll_wait: %m");
		return server_stop_flag ? -1 : 0;
	}
	for (int i = 0; i < nfds; i++)
		fds[i].revents = 0;
	for (int i = 0; i < n; i++) {
		uint32_t k = ev[i].data.u32;

		if (k == (uint32_t)nfds) {
			if (msg_verbose)
				msg_info("master is gone: exiting");
			server_stop_flag = 1;
			return -1;
		}
		fds[k].revents =
		    (short)((ev[i].events & EPOLLIN ? POLLIN : 0) |
		            (ev[i].events & EPOLLHUP ? POLLHUP : 0) |
		            (ev[i].events & EPOLLERR ? POLLERR : 0));
		ready++;
	}
	return ready;
}

/* Receive one descriptor over a UNIX-domain connection (pass services),
 * waiting at most a few seconds for it. */
static int server_recv_fd(int conn)
{
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *cm;
	struct pollfd pfd = {conn, POLLIN, 0};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	char byte;
	int fd = -1;
	ssize_t n;

	if (poll(&pfd, 1, 5000) <= 0) {
		msg_warn("pass: no descriptor within 5 seconds");
		return -1;
	}
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = &byte;
	iov.iov_len = 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = control.buf;
	mh.msg_controllen = sizeof(control.buf);
	do {
		n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n <= 0 || (mh.msg_flags & MSG_CTRUNC)) {
		msg_warn("pass: receive descriptor: %s",
		         n < 0 ? strerror(errno) : "no data or truncated");
		/* A truncated record may still have delivered a descriptor. */
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET &&
			    cm->cmsg_type == SCM_RIGHTS)
				close(*(int *)CMSG_DATA(cm));
		return -1;
	}
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int))) {
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
			break;
		}
	}
	if (fd < 0)
		msg_warn("pass: message without a descriptor");
	return fd;
}

int server_accept(struct server_ctx *ctx, int listen_fd, bool *listener_gone)
{
	int fd, passed;

	*listener_gone = false;
	fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		switch (errno) {
		case EAGAIN:
#if EWOULDBLOCK != EAGAIN
		case EWOULDBLOCK:
#endif
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
			/* Another process took it, or the client left. */
			break;
		case EINVAL:
			/* master shut the listener down (reload, stop). */
			*listener_gone = true;
			break;
		default:
			msg_warn("accept: %m");
			/* EMFILE and friends: do not spin on a readable
			 * listener. */
			usleep(100000);
			break;
		}
		return -1;
	}
	if (ctx->args.type != MASTER_PASS)
		return fd;
	passed = server_recv_fd(fd);
	close(fd);
	return passed;
}

void server_exit(struct server_ctx *ctx, int status)
{
	if (ctx->cb->pre_exit)
		ctx->cb->pre_exit(&ctx->info);
	exit(status);
}
