/*
 * flush_floor.c: what the durability contract's flushes cost on this
 * machine, with no MTA around them. PROCS processes each store MSGS
 * messages of 4 KiB the way posthorn's mail path does (docs/performance.md
 * "The floor"): a queue file rewritten in place and renamed to a unique
 * name in incoming/ and back (cleanup and qmgr), and a Maildir file
 * made unnamed in new/ (O_TMPFILE) and linked to its name (local). The
 * modes differ only in the flushes around those operations:
 *
 *   contract  fdatasync(queue file), fsync(incoming/), fsync(Maildir
 *             file), fsync(new/): DESIGN.md's four per message
 *   files     fdatasync(queue file), fsync(Maildir file): the two file
 *             flushes Postfix makes (no directory flush)
 *   none      no flush at all
 *
 * It prints wall time, messages/s and the user+sys CPU of the processes
 * per message, so "contract minus none" is the CPU the flushes cost.
 * Usage: flush_floor DIR MODE [PROCS [MSGS]]; DIR must not exist (it is
 * created and left behind: on an ext4 without a journal and with -o
 * discard, deleting many files slows file creation for minutes).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum mode { MODE_CONTRACT, MODE_FILES, MODE_NONE };

static void die(const char *what)
{
	perror(what);
	_exit(1);
}

static void flush(int fd, enum mode mode, int directory, int data_only)
{
	if (mode == MODE_NONE || (directory && mode != MODE_CONTRACT))
		return;
	if ((data_only ? fdatasync(fd) : fsync(fd)) != 0)
		die("flush");
}

/* One process: MSGS messages through queue file and Maildir. */
static void store_messages(const char *dir, enum mode mode, int msgs)
{
	char path[512], other[512], body[4096];
	char incoming[512], new_dir[512];
	pid_t pid = getpid();

	memset(body, 'x', sizeof(body));
	snprintf(incoming, sizeof(incoming), "%s/incoming", dir);
	snprintf(new_dir, sizeof(new_dir), "%s/new", dir);
	int incoming_fd = open(incoming, O_RDONLY | O_DIRECTORY);
	int new_fd = open(new_dir, O_RDONLY | O_DIRECTORY);
	if (incoming_fd < 0 || new_fd < 0)
		die("open directory");
	snprintf(path, sizeof(path), ".pool.%d", (int)pid);
	for (int i = 0; i < msgs; i++) {
		/* cleanup: rewrite the recycled file, flush, publish it. */
		int fd = openat(incoming_fd, path,
		                O_RDWR | O_CREAT | O_NOFOLLOW, 0600);
		if (fd < 0)
			die("open queue file");
		if (pwrite(fd, body, sizeof(body), 0) != sizeof(body))
			die("write queue file");
		flush(fd, mode, 0, 1);
		close(fd);
		snprintf(other, sizeof(other), "Q%d.%d", (int)pid, i);
		if (renameat(incoming_fd, path, incoming_fd, other) != 0)
			die("rename");
		flush(incoming_fd, mode, 1, 0);
		/* local: an unnamed file made in new/ (O_TMPFILE), flushed
		 * and given its name there (lib/maildir.c). */
		char name[256], self[64];
		snprintf(name, sizeof(name), "%d.%d", (int)pid, i);
		fd = openat(new_fd, ".", O_TMPFILE | O_WRONLY, 0600);
		if (fd < 0 || write(fd, body, sizeof(body)) != sizeof(body))
			die("write Maildir file");
		flush(fd, mode, 0, 0);
		snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
		if (linkat(AT_FDCWD, self, new_fd, name, AT_SYMLINK_FOLLOW) !=
		    0)
			die("link");
		close(fd);
		flush(new_fd, mode, 1, 0);
		/* qmgr: the finished file goes back under its pool name. */
		if (renameat(incoming_fd, other, incoming_fd, path) != 0)
			die("rename back");
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: flush_floor DIR contract|files|none "
		                "[PROCS [MSGS]]\n");
		return 2;
	}
	const char *dir = argv[1];
	enum mode mode = strcmp(argv[2], "contract") == 0 ? MODE_CONTRACT
	                 : strcmp(argv[2], "files") == 0  ? MODE_FILES
	                 : strcmp(argv[2], "none") == 0   ? MODE_NONE
	                                                  : -1;
	int procs = argc > 3 ? atoi(argv[3]) : 20;
	int msgs = argc > 4 ? atoi(argv[4]) : 500;
	if ((int)mode < 0 || procs < 1 || procs > 1000 || msgs < 1 ||
	    msgs > 1000000) {
		fprintf(stderr, "flush_floor: bad arguments\n");
		return 2;
	}
	char sub[512];
	if (mkdir(dir, 0700) != 0)
		die(dir);
	const char *subdirs[] = {"incoming", "new"};
	for (int i = 0; i < 2; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", dir, subdirs[i]);
		if (mkdir(sub, 0700) != 0)
			die(sub);
	}
	struct timespec start, end;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (int p = 0; p < procs; p++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0)
			store_messages(dir, mode, msgs);
	}
	int failed = 0, status;
	while (wait(&status) > 0)
		failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	clock_gettime(CLOCK_MONOTONIC, &end);
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	double seconds = (double)(end.tv_sec - start.tv_sec) +
	                 (double)(end.tv_nsec - start.tv_nsec) / 1e9;
	double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	             (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	double n = (double)procs * msgs;
	printf("mode=%s procs=%d messages=%.0f seconds=%.3f msgs_per_s=%.1f "
	       "cpu_ms_per_msg=%.3f sys_ms_per_msg=%.3f "
	       "switches_per_msg=%.1f\n",
	       argv[2], procs, n, seconds, n / seconds, cpu * 1000 / n,
	       ((double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6) * 1000 /
	           n,
	       (double)(ru.ru_nvcsw + ru.ru_nivcsw) / n);
	return failed;
}
