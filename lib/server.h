/* server.h: the daemon skeletons (DESIGN.md: Process skeletons). A
 * daemon's main() fills in a struct server_callbacks and calls one of
 * single_server_main, multi_server_main or trigger_server_main; the
 * skeleton parses master's command line (lib/server_proto.h), loads
 * main.cf with the service's -o overrides, sets up logging, runs
 * pre_jail_init as root, chroots (-j), drops to mail_owner (-u), runs
 * post_init, then loops: it tells master when it is busy or idle, exits
 * after max_use clients or max_idle seconds without one, and on SIGTERM
 * exits once the client in hand is done. See docs/master.md. */
#ifndef POSTHORN_SERVER_H
#define POSTHORN_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "master_cf.h"
#include "stream.h"

/* What a daemon knows about its service; valid for the process's life. */
struct server_info {
	struct config *config; /* main.cf with the service's -o overrides */
	const char *service; /* master.cf service name ("smtp", "10025") */
	const char *program; /* program name used in log lines */
	enum master_type type; /* of the service's listener */
	const char *const *args; /* master.cf arguments after the command */
	size_t nargs;
	bool unprivileged; /* runs as mail_owner (set after the drop) */
	bool chrooted; /* inside queue_directory */
	bool chroot_next; /* in pre_jail_init: a chroot follows */
};

/* Callbacks. Each skeleton needs its own handler (service, connect or
 * trigger); the rest are optional (NULL). */
struct server_callbacks {
	/* As root (when master runs as root), before chroot and the drop:
	 * open what the unprivileged process cannot (TLS keys). */
	void (*pre_jail_init)(const struct server_info *si);
	/* After chroot and the privilege drop, before the first client. */
	void (*post_init)(const struct server_info *si);
	/* single_server: serve one client. The skeleton closes the stream
	 * afterwards (the handler must not). */
	void (*service)(struct stream *client, const struct server_info *si);
	/* multi_server: a new client fd. The handler watches it with
	 * multi_server_watch and ends it with multi_server_disconnect. */
	void (*connect)(int fd, const struct server_info *si);
	/* trigger_server: one trigger message (at most
	 * TRIGGER_SERVER_MAX_MSG bytes, not NUL-terminated). */
	void (*trigger)(const char *data, size_t len,
	                const struct server_info *si);
	/* Before a voluntary exit (max_idle, max_use, SIGTERM). */
	void (*pre_exit)(const struct server_info *si);
	/* multi_server: the most clients one process serves at once (0: no
	 * limit). At the limit the process reports busy and takes no new
	 * client until one leaves, so master starts another process. */
	int client_limit;
};

/* The skeletons. They never return. */
void single_server_main(int argc, char **argv,
                        const struct server_callbacks *cb)
    __attribute__((noreturn));
void multi_server_main(int argc, char **argv, const struct server_callbacks *cb)
    __attribute__((noreturn));
void trigger_server_main(int argc, char **argv,
                         const struct server_callbacks *cb)
    __attribute__((noreturn));

/* single_server: a handler serving several requests on one connection
 * (a delivery agent whose connection qmgr keeps) calls this after each
 * request. It waits up to max_idle seconds for the client's next byte and
 * counts the next request as a use. False (the handler returns) when the
 * client closed, max_idle passed, max_use requests were served, or the
 * process is stopping. */
bool single_server_next_request(struct stream *client);

/* multi_server: a client connection that is kept for another request
 * (cleanup's, after a verdict) counts that request as a use. False when
 * the process has served max_use or is stopping: end the connection. */
bool multi_server_next_request(void);

/* multi_server event loop: call fn(fd, revents, ctx) when fd is ready
 * for events (POLLIN and/or POLLOUT); replaces an earlier watch of fd. */
typedef void (*server_event_fn)(int fd, int revents, void *ctx);
void multi_server_watch(int fd, int events, server_event_fn fn, void *ctx);
/* Stop watching fd (it stays open). */
void multi_server_unwatch(int fd);
/* A client is done: stop watching, close fd, count it gone. */
void multi_server_disconnect(int fd);
/* Call fn(ctx) once, delay_ms from now (replaces a pending timer with
 * the same fn and ctx). */
typedef void (*server_timer_fn)(void *ctx);
void multi_server_timer(server_timer_fn fn, void *ctx, int delay_ms);
void multi_server_timer_cancel(server_timer_fn fn, void *ctx);
/* Number of clients connected now. */
int multi_server_clients(void);
/* multi_server: never exit for max_idle or max_use, only on SIGTERM,
 * reload/stop or master's death (a daemon whose work outlives its
 * clients, like qmgr: Postfix's "unlimited" servers). Call from
 * post_init. */
void multi_server_unlimited(void);

/* The largest trigger message passed to a trigger handler. */
#define TRIGGER_SERVER_MAX_MSG 1024

/* Has master asked this process to stop (SIGTERM) or gone away? A
 * long-running handler may check it to end its client early. */
bool server_stopping(void);
/* In a process forked from a handler, before exec: restore the signal
 * handling a fresh program expects. */
void server_reset_signals(void);
/* Become uid:gid for good (setgroups to gid alone, setresgid, setresuid)
 * and verify it took: no saved root id, setuid(0) fails. For processes
 * forked to act as another user; the skeletons call it for -u. -1 with
 * the reason in err. */
int server_set_ugid(uid_t uid, gid_t gid, struct buf *err);
/* Log as syslog_name/program to maillog_file when set, else to syslog
 * (syslog_facility); extra_sinks (e.g. MSG_SINK_STDERR) are added. -1
 * with the reason in err when maillog_file cannot be opened. */
int server_log_init(struct config *cf, const char *program, int extra_sinks,
                    struct buf *err);

#endif
