/*
 * local_child.c: the child processes of local (|command, /file and
 * :include: targets): fork, become default_privs for good, a fixed
 * working directory and file mode mask, no inherited descriptors; and the
 * parent's bounded wait for what the child writes and for its exit, with
 * the time limit that kills its whole process group.
 * SECURITY: the child drops every id (lib/server.h server_set_ugid, which
 * checks that the drop took) before it runs anything; a failed drop ends
 * it with EX_OSERR, never running as root. Output is read into a bounded
 * buffer; the rest is drained and thrown away.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "local.h"
#include "server.h"

pid_t local_spawn(const struct local_privs *privs, int in_fd, int out_fd,
                  int keep_fd, void (*fn)(void *ctx), void *ctx)
{
	pid_t pid = fork();
	int null;

	if (pid != 0) {
		/* Here too, so that a kill of the group cannot come first. */
		if (pid > 0)
			setpgid(pid, pid);
		return pid;
	}
	/* The child. Its own process group, so that a time limit kills
	 * whatever it started too. */
	setpgid(0, 0);
	server_reset_signals();
	null = open("/dev/null", O_RDWR);
	if (dup2(in_fd >= 0 ? in_fd : null, STDIN_FILENO) < 0 ||
	    dup2(out_fd >= 0 ? out_fd : null, STDOUT_FILENO) < 0 ||
	    dup2(out_fd >= 0 ? out_fd : null, STDERR_FILENO) < 0)
		_exit(EX_OSERR);
	if (keep_fd > STDERR_FILENO) {
		if (keep_fd > 3)
			close_range(3, (unsigned)keep_fd - 1, 0);
		close_range((unsigned)keep_fd + 1, ~0U, 0);
	} else {
		close_range(3, ~0U, 0);
	}
	if (privs->switch_ids) {
		struct buf *err = buf_create(0, 256);

		if (server_set_ugid(privs->uid, privs->gid, err) < 0)
			_exit(EX_OSERR);
		buf_destroy(&err);
	}
	umask(077);
	if (chdir("/") < 0)
		_exit(EX_OSERR);
	fn(ctx);
	_exit(EX_SOFTWARE);
}

static long long local_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Give the child's stdin the next piece of input; false when it is
 * gone (closed). */
static bool local_child_write(int fd, const char **p, size_t *plen)
{
	ssize_t n = write(fd, *p, *plen);

	if (n > 0) {
		*p += n;
		*plen -= (size_t)n;
		return true;
	}
	/* EPIPE: the command stopped reading; its exit status decides. */
	return n < 0 && (errno == EAGAIN || errno == EINTR);
}

int local_child_wait(pid_t pid, int in_fd, maildir_read_fn feed, void *feed_ctx,
                     int out_fd, size_t max, long long limit, struct buf *out,
                     int *wstatus, struct buf *err)
{
	long long deadline = local_ms() + limit * 1000;
	bool in_open = in_fd >= 0, out_open = out_fd >= 0, exited = false;
	const char *p = NULL;
	size_t plen = 0;
	char data[4096];
	int ret = -1;

	if (in_open)
		fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) | O_NONBLOCK);
	while (in_open || out_open || !exited) {
		long long left = deadline - local_ms();
		struct pollfd fds[2];
		int nfds = 0, in_i = -1, out_i = -1, n;

		if (left <= 0)
			goto kill;
		if (!exited && waitpid(pid, wstatus, WNOHANG) == pid)
			exited = true;
		if (in_open && (exited || (plen == 0 && feed == NULL))) {
			close(in_fd); /* nobody reads any more, or all sent */
			in_open = false;
		}
		if (in_open && plen == 0) {
			n = feed(feed_ctx, &p, &plen, err);
			if (n < 0) {
				ret = -2;
				goto kill;
			}
			if (n == 0) {
				close(in_fd);
				in_open = false;
			}
			continue;
		}
		if (in_open) {
			in_i = nfds;
			fds[nfds++] = (struct pollfd){in_fd, POLLOUT, 0};
		}
		if (out_open) {
			out_i = nfds;
			fds[nfds++] = (struct pollfd){out_fd, POLLIN, 0};
		}
		if (nfds == 0) {
			/* Waiting for the exit alone: small steps. */
			poll(NULL, 0, left < 50 ? (int)left : 50);
			continue;
		}
		/* After the exit, a grandchild holding the pipe open must
		 * not keep local waiting: drain what is there and stop. */
		n = poll(fds, (nfds_t)nfds,
		         exited ? 0 : (left < 100 ? (int)left : 100));
		if (n < 0 && errno != EINTR)
			goto kill;
		if (n <= 0) {
			if (exited)
				out_open = false;
			continue;
		}
		if (in_i >= 0 && fds[in_i].revents != 0 &&
		    !local_child_write(in_fd, &p, &plen)) {
			close(in_fd);
			in_open = false;
		}
		if (out_i >= 0 && fds[out_i].revents != 0) {
			ssize_t got = read(out_fd, data, sizeof(data));

			if (got < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (got <= 0) {
				out_open = false;
				continue;
			}
			if (buf_len(out) < max) {
				size_t room = max - buf_len(out);

				buf_append(out, data,
				           (size_t)got < room ? (size_t)got
				                              : room);
			}
		}
	}
	return 0;
kill:
	/* The time limit (or a broken input): the whole process group. */
	if (in_open)
		close(in_fd);
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	if (!exited)
		while (waitpid(pid, wstatus, 0) < 0 && errno == EINTR)
			;
	return ret;
}
