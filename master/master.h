/* master.h: the supervisor's own declarations (master/ only). */
#ifndef POSTHORN_MASTER_H
#define POSTHORN_MASTER_H

#include <stdbool.h>
#include <sys/types.h>

#include "buf.h"
#include "config.h"
#include "master_cf.h"
#include "server_listen.h"
#include "server_proto.h"

#ifndef POSTHORN_VERSION
#define POSTHORN_VERSION "0.1"
#endif

#define MASTER_BACKLOG 128
/* UNIX-domain services (cleanup, qmgr's triggers, agents): every
 * message of a busy server is a connection or a trigger there, and a
 * refused trigger (the backlog full while qmgr waits for the CPU) delays
 * its message until qmgr next lists incoming/. The kernel caps it at
 * net.core.somaxconn. */
#define MASTER_UNIX_BACKLOG 1024

/* One child process. */
struct master_proc {
	pid_t pid;
	struct master_serv *serv;
	enum server_state state;
	int use_count; /* clients it reported taking */
	bool signalled; /* master sent it SIGTERM or SIGKILL */
	struct master_proc *next;
};

/* One master.cf service, with its listeners and process counts. */
struct master_serv {
	char *name;
	enum master_type type;
	bool private_;
	bool unpriv; /* as passed to the child (-u): only when root */
	bool chroot; /* as passed to the child (-j): only when root */
	int wakeup; /* seconds, 0: none */
	bool wakeup_if_used;
	int maxproc; /* 0: no limit */
	char *path; /* the program */
	char **argv; /* its command line (server_args_build) */
	char *sock_path; /* unix, pass, fifo: queue-relative path */
	struct server_endpoint *eps; /* inet */
	int neps;
	int listen_fds[SERVER_MAX_LISTEN];
	int nlisten;
	int total, busy, idle; /* processes */
	long long throttle_until; /* monotonic ms; 0: not throttled */
	long long next_wakeup; /* monotonic ms; 0: none */
	bool used; /* a process was ever started */
	struct master_serv *next;
};

struct master {
	const char *config_dir;
	struct config *cf;
	struct master_serv *services; /* from the current master.cf */
	struct master_serv *retired; /* removed or replaced by a reload,
				       * kept while processes remain */
	struct master_proc *procs;
	int status_rd, status_wr; /* the children's status pipe */
	int devnull;
	bool as_root;
	uid_t owner_uid;
	gid_t owner_gid, setgid_gid;
	char *queue_dir;
	char **envp; /* children's environment (import_environment) */
	long long throttle_ms, stop_timeout_ms;
	int verbose;
	bool foreground;
	unsigned long generation; /* bumped by each reload */
	char reload_error[256];
	bool status_dirty;
	long long status_written_ms; /* last rewrite of pid/master.status */
	bool stopping;
	long long stop_deadline;
	int pidfile_fd;
};

extern struct master master;

/* master.c */
long long master_now_ms(void);

/* master_ent.c: services from master.cf. */
/* Read config_dir/master.cf into a service list (programs that do not
 * exist are skipped with a warning). NULL with the reason in err. */
struct master_serv *master_ent_load(struct master *m, struct config *cf,
                                    struct buf *err);
/* Free a service (its listeners must be closed). */
void master_serv_free(struct master_serv **sp);
/* Do two services listen on the same sockets? */
bool master_serv_same_listener(const struct master_serv *a,
                               const struct master_serv *b);
/* The children's environment from import_environment. */
char **master_ent_environment(struct config *cf);
void master_ent_environment_free(char ***envp);

/* master_listen.c */
/* Create (or repair) the queue tree: pid/, private/, public/ and the
 * queue directories, with their owners and modes. */
int master_listen_dirs(struct master *m, struct buf *err);
/* Open a service's listeners. -1 with the reason in err (none open). */
int master_listen_open(struct master *m, struct master_serv *s,
                       struct buf *err);
/* Close a service's listeners. With shut_down, the sockets stop accepting
 * in every process that shares them and UNIX-domain ones are removed. */
void master_listen_close(struct master_serv *s, bool shut_down);

/* master_spawn.c */
/* Should master watch the service's listener now? */
bool master_spawn_wanted(const struct master_serv *s, long long now);
/* Start one process of a service. */
void master_spawn(struct master *m, struct master_serv *s);
/* Reap exited children: log, throttle, recount. */
void master_reap(struct master *m);
/* Signal every process of a service (or all, s NULL). */
void master_signal(struct master *m, struct master_serv *s, int sig);
/* Recount a service's processes. */
void master_recount(struct master *m, struct master_serv *s);
/* Free retired services that have no process left. */
void master_retired_sweep(struct master *m);
/* A process by pid; NULL if not ours. */
struct master_proc *master_proc_find(struct master *m, pid_t pid);

/* master_status.c */
/* Busy/idle records arrive several times per message; rewriting the
 * status file (a new inode each time) for every one of them cost more CPU
 * than the mail itself (docs/performance.md), so rewrites are batched. */
#define MASTER_STATUS_INTERVAL_MS 200
/* Read every pending busy/idle record. */
void master_status_read(struct master *m);
/* Rewrite pid/master.status when something changed, at most once per
 * MASTER_STATUS_INTERVAL_MS (now: master_now_ms()). Returns the time of
 * a rewrite still pending, or -1. */
long long master_status_write(struct master *m, long long now);
/* Remove pid/master.status. */
void master_status_remove(struct master *m);

/* master_wakeup.c */
/* Send the wakeup triggers that are due; the next deadline (-1: none). */
long long master_wakeup_run(struct master *m, long long now);

#endif
