/*
 * postdrop.c: the small set-gid helper (group setgid_group, "postdrop")
 * through which `sendmail` puts a message into maildrop/ (mode 0730
 * mail_owner:postdrop, so local users write there only through this
 * program). Usage: postdrop [-c CONFIG_DIR]. It reads one maildrop stream
 * (lib/maildrop.h) on standard input, checks it strictly, writes a clean
 * copy as maildrop/.tmp.PID.RANDOM (mode 0644, owned by the invoking
 * user), fsyncs it, renames it to maildrop/QUEUE_ID (queue_id_make from
 * the time and the inode), syncs maildrop/, triggers pickup through
 * public/pickup and prints the queue ID on standard output. It exits 0
 * only once the file and the directory entry are on disk; otherwise
 * nothing is left behind and the exit status (sysexits.h) says why:
 * EX_USAGE (bad arguments), EX_CONFIG (main.cf), EX_DATAERR (the input
 * is malformed, truncated or too large), EX_TEMPFAIL (maildrop/ cannot be
 * written), EX_SOFTWARE (installation or internal error).
 * SECURITY: runs set-gid with a caller-chosen environment, arguments and
 * input. The environment is cleared (TZ kept), the umask reset, fds 0-2
 * made valid. The set-gid group is dropped at once (kept only as the
 * saved gid) and taken up again only around the calls that touch
 * maildrop/ and public/ (create, rename, unlink, sync, trigger); main.cf
 * and the log file are read with the user's own privileges. The input is
 * never copied as is: it is parsed with the strict maildrop reader and
 * re-encoded, attributes are replaced by the submitter's login name from
 * the real uid, and the content is bounded by message_size_limit. -c
 * lets a user name any configuration, hence any queue_directory: the
 * only gain is writing such checked files, owned by that user, into
 * directories writable by the postdrop group, which are maildrop/
 * directories anyway. The maildrop directory cannot be opened for
 * reading by a local user (0730), so its entry is synced with syncfs(2)
 * on the new file when fsync of the directory is not possible.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "maildrop.h"
#include "mem.h"
#include "msg.h"
#include "server.h"
#include "queue_file.h"
#include "server_listen.h"
#include "str.h"

#define POSTDROP_DEFAULT_CONFIG "/etc/posthorn"

#if defined(__SANITIZE_ADDRESS__)
#define POSTDROP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POSTDROP_ASAN 1
#endif
#endif
#ifdef POSTDROP_ASAN
/* Sanitizer builds only: LeakSanitizer cannot inspect a set-gid process
 * (it is not dumpable) and would fail every exit, whatever the
 * environment says (which it ignores there). Leaks are still checked
 * whenever postdrop runs without set-gid. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return getauxval(AT_SECURE) ? "detect_leaks=0" : "";
}
#endif

static gid_t postdrop_priv_gid; /* the set-gid group (saved gid) */
static gid_t postdrop_user_gid; /* the caller's own */
static int postdrop_dir_fd = -1;
static char postdrop_tmp_name[64];
static volatile sig_atomic_t postdrop_have_tmp;

/* Take up the set-gid group (true) or drop it again (false). */
static void postdrop_priv(bool on)
{
	if (postdrop_priv_gid == postdrop_user_gid)
		return;
	if (setegid(on ? postdrop_priv_gid : postdrop_user_gid) < 0) {
		msg_error("setegid: %m");
		_exit(EX_SOFTWARE);
	}
}

/* Remove the half-written file (also from a signal handler: only
 * async-signal-safe calls). */
static void postdrop_remove_tmp(void)
{
	if (!postdrop_have_tmp)
		return;
	if (postdrop_priv_gid != postdrop_user_gid &&
	    setegid(postdrop_priv_gid) < 0)
		return;
	(void)unlinkat(postdrop_dir_fd, postdrop_tmp_name, 0);
	postdrop_have_tmp = 0;
}

static void postdrop_on_signal(int sig)
{
	(void)sig;
	postdrop_remove_tmp();
	_exit(EX_TEMPFAIL);
}

static void postdrop_fail(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
static void postdrop_fail(int status, const char *fmt, ...)
{
	char text[1024];
	int saved = errno;
	va_list ap;

	postdrop_remove_tmp();
	errno = saved; /* for %m */
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	msg_error("%s", text);
	exit(status);
}

/* Valid descriptors 0, 1 and 2, so nothing we open becomes one. */
static void postdrop_sane_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		if (n != fd)
			_exit(EX_SOFTWARE);
	}
}

/* Keep TZ (for log time stamps), drop everything else. */
static void postdrop_clean_env(void)
{
	const char *tz = getenv("TZ");
	char *keep = NULL;

	if (tz != NULL && strlen(tz) < 256 && strchr(tz, '/') == NULL)
		keep = mem_strdup(tz);
	clearenv();
	if (keep != NULL) {
		setenv("TZ", keep, 1);
		mem_free(keep);
	}
}

/* Log to maillog_file when the user may write it (root, the instance
 * owner), else to syslog when no file is configured; always to stderr,
 * which sendmail passes on to its caller. */
static void postdrop_log_init(struct config *c)
{
	struct buf *err = buf_create(0, 1024);

	/* A user who may not write maillog_file still sees stderr. */
	if (server_log_init(c, "postdrop", MSG_SINK_STDERR, err) < 0)
		msg_set_sinks(MSG_SINK_STDERR);
	buf_destroy(&err);
}

/* Flush the new directory entry: fsync of maildrop/ when we can read it
 * (root, the instance owner), else syncfs on the file's file system. */
static int postdrop_sync_dir(int file_fd)
{
	int dfd =
	    openat(postdrop_dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd >= 0) {
		int r = fsync(dfd);
		int saved = errno;
		close(dfd);
		errno = saved;
		return r;
	}
	if (errno != EACCES)
		return -1;
	return syncfs(file_fd);
}

int main(int argc, char **argv)
{
	const char *config_dir = POSTDROP_DEFAULT_CONFIG;
	struct buf *err = buf_create(0, 4096);
	struct maildrop_limits lim = {MAILDROP_RCPT_MAX, 0};
	char submitter[64], id[QUEUE_ID_MAX], path[4096];
	struct config *c;
	struct passwd *pw;
	struct sigaction sa;
	struct timeval tv;
	struct stat st;
	unsigned int rnd;
	uid_t uid = getuid();
	int fd, r;

	umask(022);
	postdrop_sane_fds();
	postdrop_priv_gid = getegid();
	postdrop_user_gid = getgid();
	msg_init("posthorn", "postdrop");
	msg_set_sinks(MSG_SINK_STDERR);
	/* Keep the group only as the saved gid from here on. */
	postdrop_priv(false);
	if (geteuid() != uid)
		postdrop_fail(EX_SOFTWARE, "postdrop must not be set-uid");
	postdrop_clean_env();

	if (argc == 3 && strcmp(argv[1], "-c") == 0 && argv[2][0] != 0)
		config_dir = argv[2];
	else if (argc != 1)
		postdrop_fail(EX_USAGE, "usage: postdrop [-c CONFIG_DIR]");
	if ((c = config_load(config_dir, err)) == NULL)
		postdrop_fail(EX_CONFIG, "%s", buf_str(err));
	postdrop_log_init(c);
	lim.max_size = config_size(c, "message_size_limit");

	if ((pw = getpwuid(uid)) != NULL && strlen(pw->pw_name) > 0 &&
	    strlen(pw->pw_name) < sizeof(submitter))
		str_copy(submitter, sizeof(submitter), pw->pw_name);
	else
		str_format(submitter, sizeof(submitter), "%lu",
		           (unsigned long)uid);

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = postdrop_on_signal;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGXFSZ, &sa, NULL);

	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (unsigned int)time(NULL) ^ (unsigned int)getpid() << 16;
	str_format(postdrop_tmp_name, sizeof(postdrop_tmp_name),
	           ".tmp.%ld.%08x", (long)getpid(), rnd);
	if (str_format(path, sizeof(path), "%s/%s",
	               config_str(c, "queue_directory"), QUEUE_MAILDROP) < 0)
		postdrop_fail(EX_CONFIG, "queue_directory is too long");

	postdrop_priv(true);
	postdrop_dir_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	fd = postdrop_dir_fd < 0
	         ? -1
	         : openat(postdrop_dir_fd, postdrop_tmp_name,
	                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	                  0644);
	if (fd >= 0)
		postdrop_have_tmp = 1;
	postdrop_priv(false);
	if (fd < 0)
		postdrop_fail(EX_TEMPFAIL, "create file in %s: %m", path);

	r = maildrop_copy(0, fd, submitter, &lim, err);
	if (r == MAILDROP_COPY_BAD)
		postdrop_fail(EX_DATAERR, "uid=%lu: malformed input: %s",
		              (unsigned long)uid, buf_str(err));
	if (r != MAILDROP_COPY_OK)
		postdrop_fail(EX_TEMPFAIL, "%s/%s: %s", path, postdrop_tmp_name,
		              buf_str(err));
	if (fsync(fd) < 0 || fstat(fd, &st) < 0)
		postdrop_fail(EX_TEMPFAIL, "%s/%s: fsync: %m", path,
		              postdrop_tmp_name);
	gettimeofday(&tv, NULL);
	queue_id_make(id, sizeof(id), tv.tv_sec, (long)tv.tv_usec,
	              (unsigned long long)st.st_ino);

	postdrop_priv(true);
	if (renameat(postdrop_dir_fd, postdrop_tmp_name, postdrop_dir_fd, id) <
	    0)
		postdrop_fail(EX_TEMPFAIL, "rename to %s/%s: %m", path, id);
	postdrop_have_tmp = 0;
	if (postdrop_sync_dir(fd) < 0) {
		int saved = errno;
		(void)unlinkat(postdrop_dir_fd, id, 0);
		errno = saved;
		postdrop_fail(EX_TEMPFAIL, "sync %s: %m", path);
	}
	close(fd);
	/* A hint only: pickup also scans every minute. */
	if (str_format(path, sizeof(path), "%s/public/pickup",
	               config_str(c, "queue_directory")) >= 0)
		(void)server_unix_trigger(path, "W", 1, 100);
	postdrop_priv(false);

	if (msg_verbose)
		msg_info("%s: uid=%lu queued in maildrop", id,
		         (unsigned long)uid);
	printf("%s\n", id);
	if (fflush(stdout) != 0)
		msg_warn("write queue ID to standard output: %m");
	config_destroy(&c);
	buf_destroy(&err);
	return EX_OK;
}
