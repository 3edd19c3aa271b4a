/*
 * queue_pool.c: recycled queue files (queue_pool.h). Why: on a file
 * system that allocates inodes slowly after many deletions (ext4 without
 * a journal skips every inode freed in the last ~30 s, one by one), a
 * new file and an unlink per message were the largest single cost of the
 * mail path, for the queue file and for every Maildir file created after
 * it (docs/performance.md). Recycling the queue file removes both.
 *
 * The pool lives in incoming/ as .pool.SLOT (SLOT < QUEUE_POOL_SLOTS), so
 * taking a file is a rename within one directory. Only qmgr puts (one
 * process: the slot counter is its own); cleanup processes take, and a
 * rename is the claim: of two processes renaming the same name, one gets
 * ENOENT and tries the next; a file is never changed once it is in the
 * pool (large ones are emptied before they enter it). Durability: a
 * pooled file is never a queue
 * file (dot name); cleanup overwrites it under its own dot name, cuts it
 * to length and renames it to the queue ID only after the fsync, exactly
 * as a new file (cleanup_queue.c). Small files keep their old bytes in
 * the pool (mode 0600 in mail_owner's 0700 incoming/, overwritten by the
 * next message): emptying them freed blocks that the next message
 * allocated again, with a synchronous discard on a file system mounted
 * with -o discard.
 * SECURITY: incoming/ is mail_owner's, mode 0700; a taken file must be a
 * plain file with one link owned by this user, opened with O_NOFOLLOW,
 * or it is removed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* renameat2, RENAME_NOREPLACE */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "msg.h"
#include "queue_file.h"
#include "queue_pool.h"
#include "str.h"

/* A scan that found the pool empty is not repeated for this long. */
#define QUEUE_POOL_EMPTY_MS 50

static unsigned queue_pool_next_slot; /* qmgr's */

/* Where qmgr empties a large file before it enters the pool: a name no
 * cleanup process ever takes. Emptying it in the pool instead could cut
 * a message that a cleanup process had just begun to write into it. */
#define QUEUE_POOL_RETIRING QUEUE_INCOMING "/.retiring"

int queue_pool_put(const char *path)
{
	char to[sizeof(QUEUE_INCOMING) + sizeof(QUEUE_POOL_PREFIX) + 16];
	const char *from = path;
	struct stat sb;
	int saved;

	if (stat(path, &sb) < 0)
		return -1;
	if (sb.st_size > QUEUE_POOL_KEEP_MAX) {
		/* A crash before the move below leaves .retiring, replaced
		 * by the next large file (never a queue file: dot name). */
		if (rename(path, QUEUE_POOL_RETIRING) < 0)
			return -1;
		from = QUEUE_POOL_RETIRING;
		if (truncate(from, 0) < 0)
			goto put_back;
	}
	/* A few slots from where the last put stopped: a full pool shows
	 * as EEXIST, and the file is then removed by the caller. */
	for (int tries = 0; tries < 4; tries++) {
		unsigned slot = queue_pool_next_slot++ % QUEUE_POOL_SLOTS;

		if (str_format(to, sizeof(to), "%s/%s%u", QUEUE_INCOMING,
		               QUEUE_POOL_PREFIX, slot) < 0)
			msg_panic("queue_pool_put: name too long");
		if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) ==
		    0)
			return 0;
		if (errno != EEXIST)
			break;
	}
put_back:
	/* Not pooled: the file goes back where the caller expects it. */
	saved = errno;
	if (from != path && rename(from, path) < 0)
		msg_warn("queue_pool_put: move %s back to %s: %m", from, path);
	errno = saved;
	return -1;
}

/* The names seen by the last scan of incoming/, tried in turn. */
static char queue_pool_names[QUEUE_POOL_SLOTS][sizeof(QUEUE_POOL_PREFIX) + 12];
static unsigned queue_pool_count, queue_pool_tried, queue_pool_start;
static DIR *queue_pool_dir;
static struct timespec queue_pool_empty_at;

static long long queue_pool_ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	return (long long)(now.tv_sec - t->tv_sec) * 1000 +
	       (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* List the pool names in incoming/; false if none (or unreadable). */
static bool queue_pool_scan(int incoming_fd)
{
	struct dirent *de;

	queue_pool_count = queue_pool_tried = 0;
	if (queue_pool_dir == NULL) {
		int fd = dup(incoming_fd);

		if (fd < 0)
			return false;
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		if ((queue_pool_dir = fdopendir(fd)) == NULL) {
			close(fd);
			return false;
		}
	} else
		rewinddir(queue_pool_dir);
	while (queue_pool_count < QUEUE_POOL_SLOTS &&
	       (de = readdir(queue_pool_dir)) != NULL) {
		if (str_has_prefix(de->d_name, QUEUE_POOL_PREFIX) &&
		    str_copy(queue_pool_names[queue_pool_count],
		             sizeof(queue_pool_names[0]), de->d_name) == 0)
			queue_pool_count++;
	}
	if (queue_pool_count == 0) {
		clock_gettime(CLOCK_MONOTONIC_COARSE, &queue_pool_empty_at);
		return false;
	}
	/* Processes that scanned at the same moment start at different
	 * names, so they do not all race for the first one. */
	queue_pool_start = (unsigned)getpid() % queue_pool_count;
	return true;
}

/* Remove a claimed name that is not fit for use (a directory too). */
static void queue_pool_discard(int incoming_fd, const char *tmp_name)
{
	if (unlinkat(incoming_fd, tmp_name, 0) < 0 && errno == EISDIR)
		(void)unlinkat(incoming_fd, tmp_name, AT_REMOVEDIR);
}

/* Open a claimed file; -1 (and it is removed) if it is not fit. */
static int queue_pool_open(int incoming_fd, const char *tmp_name,
                           struct stat *sb)
{
	int fd =
	    openat(incoming_fd, tmp_name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		msg_warn("queue_pool_take: open %s/%s: %m", QUEUE_INCOMING,
		         tmp_name);
		queue_pool_discard(incoming_fd, tmp_name);
		return -1;
	}
	if (fstat(fd, sb) < 0 || !S_ISREG(sb->st_mode) || sb->st_nlink != 1 ||
	    sb->st_uid != geteuid()) {
		msg_warn("queue_pool_take: %s/%s is not a pooled queue file: "
		         "removed",
		         QUEUE_INCOMING, tmp_name);
		close(fd);
		queue_pool_discard(incoming_fd, tmp_name);
		return -1;
	}
	return fd;
}

int queue_pool_take(int incoming_fd, const char *tmp_name, struct stat *sb)
{
	bool scanned = false;

	for (;;) {
		while (queue_pool_tried < queue_pool_count) {
			const char *name =
			    queue_pool_names[(queue_pool_start +
			                      queue_pool_tried++) %
			                     queue_pool_count];
			int fd;

			if (renameat2(incoming_fd, name, incoming_fd, tmp_name,
			              RENAME_NOREPLACE) < 0) {
				if (errno == ENOENT)
					continue; /* taken by another */
				msg_warn("queue_pool_take: rename %s/%s: %m",
				         QUEUE_INCOMING, name);
				return -1;
			}
			if ((fd = queue_pool_open(incoming_fd, tmp_name, sb)) >=
			    0)
				return fd;
		}
		if (scanned || (queue_pool_empty_at.tv_sec != 0 &&
		                queue_pool_ms_since(&queue_pool_empty_at) <
		                    QUEUE_POOL_EMPTY_MS))
			return -1;
		scanned = true;
		queue_pool_empty_at.tv_sec = 0;
		if (!queue_pool_scan(incoming_fd))
			return -1;
	}
}
