/* server_impl.h: what the three skeletons (single_server.c,
 * multi_server.c, trigger_server.c) share from server_common.c. Not for
 * daemons: they use server.h. */
#ifndef POSTHORN_SERVER_IMPL_H
#define POSTHORN_SERVER_IMPL_H

#include <poll.h>

#include "server.h"
#include "server_proto.h"

struct server_ctx {
	struct server_info info;
	struct server_args args;
	const struct server_callbacks *cb;
	int listen_fds[SERVER_MAX_LISTEN];
	int nlisten;
	long long max_idle; /* seconds */
	long long max_use; /* clients (or triggers) */
	long long use_count;
};

/* Everything before the loop: parse argv, load main.cf and the -o
 * overrides, logging, pre_jail_init, chroot, privilege drop, signals,
 * post_init. skeleton names the caller in messages. Fatal on error. */
void server_setup(struct server_ctx *ctx, int argc, char **argv,
                  const struct server_callbacks *cb, const char *skeleton);
/* Tell master this process is busy or idle (only on a change). */
void server_notify(enum server_state state);
/* Wait for events on fds (plus, internally, master going away) up to
 * timeout_ms (-1: no limit). Returns the number of ready fds, 0 on a
 * timeout or an interrupted wait, -1 once the process should stop
 * (SIGTERM, or master is gone). With finishing set (a process that
 * already knows it stops and is serving its last clients), it never
 * returns -1. */
int server_wait(struct pollfd *fds, int nfds, int timeout_ms, bool finishing);
/* server_wait for a process waiting for its next client on the
 * listeners fds (always the same ones, no finishing): the same results,
 * but a new client wakes one waiting process of the service, not all. */
int server_wait_exclusive(struct pollfd *fds, int nfds, int timeout_ms);
/* Accept a client on a listener; for pass services, receive the client
 * fd master's peer passes. The fd, or -1: *fatal_error tells whether the
 * listener is gone for good (closed by master on reload or stop). */
int server_accept(struct server_ctx *ctx, int listen_fd, bool *listener_gone);
/* Milliseconds on the monotonic clock. */
long long server_now_ms(void);
/* Run pre_exit and exit with status. */
void server_exit(struct server_ctx *ctx, int status) __attribute__((noreturn));

#endif
