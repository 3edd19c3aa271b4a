/* pidfile.h: a pid file with a lock held for the life of the process, so
 * that a second instance refuses to start and a stale file is harmless. */
#ifndef POSTHORN_PIDFILE_H
#define POSTHORN_PIDFILE_H

#include <sys/types.h>

#include "buf.h"

/* Open (create, mode 0644) and lock path, then write our pid into it.
 * Returns the locked fd (close-on-exec; keep it open while running).
 * Another live holder: -2 with its pid in *holder (0 if unreadable).
 * Other errors: -1 with the reason in err. */
int pidfile_acquire(const char *path, pid_t *holder, struct buf *err);
/* Is path locked by a running process? 1 (its pid in *pid, 0 if not
 * readable yet), 0 (no file, or nobody holds the lock), -1 on an error
 * (reason in err). */
int pidfile_check(const char *path, pid_t *pid, struct buf *err);
/* Remove path and close *fdp (releasing the lock); sets *fdp to -1. */
void pidfile_release(int *fdp, const char *path);

#endif
