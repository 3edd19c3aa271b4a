/* server_proto.h: the contract between master and the processes it runs
 * (docs/master.md): which descriptors a child inherits, its command line,
 * the busy/idle records it sends back, the status file that `posthorn
 * status` reads, and master's pure spawn/throttle decisions. */
#ifndef POSTHORN_SERVER_PROTO_H
#define POSTHORN_SERVER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "master_cf.h"

/* Descriptors every child inherits: the write end of master's status
 * pipe, then the service's listeners (-s COUNT of them, consecutive). */
#define SERVER_STATUS_FD 3
#define SERVER_LISTEN_FD 4
/* Upper bound on listeners per service (addresses x protocols). */
#define SERVER_MAX_LISTEN 64

/* What a child tells master. */
enum server_state {
	SERVER_IDLE = 1, /* waiting for a client */
	SERVER_BUSY = 2, /* serving one */
};

/* One status record: fixed size, written with one write(2) (< PIPE_BUF,
 * so records of different children never interleave). */
#define SERVER_STATUS_SIZE 12
struct server_status {
	pid_t pid;
	enum server_state state;
};

/* Encode a record into out. */
void server_status_encode(const struct server_status *st,
                          unsigned char out[SERVER_STATUS_SIZE]);
/* Decode a record of exactly SERVER_STATUS_SIZE bytes; -1 (st untouched)
 * on a bad magic, pid or state. */
int server_status_decode(const unsigned char *in, size_t len,
                         struct server_status *st);

/* A child's command line, as master builds it and the skeleton parses it:
 *   PROGRAM -c CONFIG_DIR -n SERVICE -t TYPE -s COUNT [-u] [-j] [-v]...
 *           [-o NAME=VALUE]... [-- ARG...]
 * -u: drop to mail_owner; -j: chroot to queue_directory; -s: number of
 * listeners from SERVER_LISTEN_FD on; ARG: master.cf arguments. */
struct server_args {
	const char *program; /* argv[0] */
	const char *config_dir; /* -c */
	const char *service; /* -n: master.cf service name */
	enum master_type type; /* -t */
	int listen_count; /* -s */
	bool unpriv; /* -u */
	bool chroot; /* -j */
	int verbose; /* each -v */
	const char **overrides; /* -o NAME=VALUE, in order */
	size_t noverrides;
	const char **args; /* master.cf arguments (not NULL-terminated) */
	size_t nargs;
};

/* Build the argv (NULL-terminated, every string copied); free it with
 * server_argv_free. */
char **server_args_build(const struct server_args *a);
/* Free a vector from server_args_build; sets *vp to NULL. */
void server_argv_free(char ***vp);
/* Parse a child's argv into a (strings point into argv; overrides is
 * allocated: release with server_args_release). -1 with the reason in err
 * on a malformed command line. */
int server_args_parse(int argc, char **argv, struct server_args *a,
                      struct buf *err);
/* Free what server_args_parse allocated. */
void server_args_release(struct server_args *a);
/* Parse "inet", "unix", "pass", "fifo"; -1 if unknown. */
int server_type_parse(const char *name, enum master_type *out);

/* Master's decisions, kept pure for unit tests. */

/* Should master watch the service's listener, so that the next client
 * makes it start a process? Yes when it has a listener, is not throttled,
 * no process is idle and fewer than maxproc exist (0: no limit). */
bool server_should_listen(int total, int idle, int maxproc, bool throttled,
                          bool has_listener);
/* Was this a normal exit (status 0, or a signal master itself sent)? */
bool server_exit_normal(int wait_status, bool master_signalled);
/* Does this exit throttle the service? An abnormal exit by a process that
 * never served a client means its program cannot start. */
bool server_exit_throttles(int wait_status, bool master_signalled,
                           int use_count);
/* "exit status N" or "killed by signal N" into out. */
void server_describe_exit(int wait_status, char *out, size_t outlen);

/* The status file master rewrites (queue_directory/pid/master.status):
 *   generation N
 *   service NAME TYPE MAXPROC TOTAL BUSY IDLE THROTTLED
 * one service line per active service. */
#define SERVER_STATUS_FILE "master.status"
#define SERVER_PID_FILE "master.pid"
struct server_status_line {
	char name[128];
	char type[8];
	int maxproc, total, busy, idle;
	bool throttled;
};
/* Append one service line to out. */
void server_status_line_format(const struct server_status_line *l,
                               struct buf *out);
/* Parse one "service ..." line (without newline); -1 if malformed. */
int server_status_line_parse(const char *line, struct server_status_line *l);

#endif
