/*
 * pidfile.c: master's pid file. The file holds the pid as text; the lock
 * (an open file description lock, F_OFD_SETLK) says whether that process
 * still runs: the kernel drops it when the process exits however it
 * exits, so a stale file never blocks a start and a pid in it is never
 * trusted alone. Children do not inherit the lock (close-on-exec).
 * SECURITY: the file lives in queue_directory/pid (root or the instance
 * user); its contents are parsed with a bounded number parser.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "number.h"
#include "pidfile.h"

/* Read the pid from an open pid file; 0 if missing or malformed. */
static pid_t pidfile_read(int fd)
{
	char text[32];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
	long long pid;

	if (n <= 0)
		return 0;
	text[n] = 0;
	text[strcspn(text, " \t\r\n")] = 0;
	if (number_parse(text, 1, 0x7fffffff, &pid, NULL) < 0)
		return 0;
	return (pid_t)pid;
}

static void pidfile_lock_init(struct flock *fl, short type)
{
	memset(fl, 0, sizeof(*fl));
	fl->l_type = type;
	fl->l_whence = SEEK_SET;
	fl->l_start = 0;
	fl->l_len = 0; /* whole file */
	fl->l_pid = 0; /* required for OFD locks */
}

int pidfile_acquire(const char *path, pid_t *holder, struct buf *err)
{
	struct flock fl;
	char text[32];
	int fd, len;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		buf_sprintf(err, "open %s: %s", path, strerror(errno));
		return -1;
	}
	pidfile_lock_init(&fl, F_WRLCK);
	if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
		int saved = errno;

		if (saved == EAGAIN || saved == EACCES) {
			*holder = pidfile_read(fd);
			close(fd);
			return -2;
		}
		close(fd);
		buf_sprintf(err, "lock %s: %s", path, strerror(saved));
		return -1;
	}
	len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t)len, 0) != len) {
		buf_sprintf(err, "write %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int pidfile_check(const char *path, pid_t *pid, struct buf *err)
{
	struct flock fl;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		buf_sprintf(err, "open %s: %s", path, strerror(errno));
		return -1;
	}
	pidfile_lock_init(&fl, F_WRLCK);
	if (fcntl(fd, F_OFD_GETLK, &fl) < 0) {
		buf_sprintf(err, "lock %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (fl.l_type == F_UNLCK) {
		close(fd);
		return 0;
	}
	*pid = pidfile_read(fd);
	close(fd);
	return 1;
}

void pidfile_release(int *fdp, const char *path)
{
	if (*fdp < 0)
		return;
	/* Unlink while still locked, so nobody sees our pid unlocked. */
	(void)unlink(path);
	close(*fdp);
	*fdp = -1;
}
