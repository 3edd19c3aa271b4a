/* queue_pool.h: recycled queue files. qmgr puts the file of a finished
 * message into incoming/ under a pool name (.pool.SLOT, emptied), and
 * cleanup takes one of those for its next message instead of creating a
 * new file: a message then costs the file system no inode allocation and
 * no inode release (docs/performance.md). Pool names start with a dot,
 * so nothing that lists the queue ever sees them as messages. */
#ifndef POSTHORN_QUEUE_POOL_H
#define POSTHORN_QUEUE_POOL_H

#include <sys/stat.h>

/* How many files the pool holds at most (its slots). */
#define QUEUE_POOL_SLOTS 128
/* Files up to this size keep their bytes in the pool (the next message
 * overwrites them in place: no blocks freed, discarded and allocated
 * again); larger ones are emptied. */
#define QUEUE_POOL_KEEP_MAX (256 * 1024)
#define QUEUE_POOL_PREFIX ".pool."

/* qmgr: move the finished queue file at path (relative to the working
 * directory, the queue directory) into a free slot of incoming/, emptied
 * first if larger than QUEUE_POOL_KEEP_MAX. 0 on success; -1 when every
 * slot tried is taken (EEXIST) or on an error (errno): the file is then
 * still at path and the caller removes it itself. */
int queue_pool_put(const char *path);

/* cleanup: claim a pooled file by renaming it to tmp_name in the
 * directory incoming_fd (incoming/). Returns it open for writing at
 * offset 0, with its status in *sb, or -1 when the pool has none (the
 * caller creates a new file). It may still hold an old message's bytes
 * (st_size): the caller overwrites them and cuts the file to its new
 * length before the fsync. Files that are not plain, singly linked
 * files of this user are removed, never used. */
int queue_pool_take(int incoming_fd, const char *tmp_name, struct stat *sb);

#endif
