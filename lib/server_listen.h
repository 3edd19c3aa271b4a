/* server_listen.h: listening endpoints for master.cf services (inet
 * addresses from inet_interfaces/inet_protocols, UNIX-domain sockets,
 * FIFOs) and the client side of triggers. */
#ifndef POSTHORN_SERVER_LISTEN_H
#define POSTHORN_SERVER_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "buf.h"

/* One inet address + port to listen on. */
struct server_endpoint {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char text[64]; /* "127.0.0.1 port 25", "::1 port 25" */
};

/* Which IP versions inet_protocols enables: "all", "ipv4", "ipv6",
 * "ipv4, ipv6". -1 with the reason in err on anything else. */
int server_inet_protocols(const char *protocols, bool *v4, bool *v6,
                          struct buf *err);
/* Expand a master.cf inet service name ("25", "smtp", "127.0.0.1:25",
 * "[::1]:25", "*:25", "localhost:25") against inet_interfaces ("all",
 * "loopback-only" or a list of addresses, [IPv6] allowed) and
 * inet_protocols into endpoints (allocated: mem_free *out). Returns the
 * count (>= 1), or -1 with the reason in err. */
int server_inet_endpoints(const char *service, const char *interfaces,
                          const char *protocols, struct server_endpoint **out,
                          struct buf *err);
/* Two endpoint lists name the same sockets. */
bool server_endpoints_equal(const struct server_endpoint *a, size_t na,
                            const struct server_endpoint *b, size_t nb);

/* A non-blocking, close-on-exec TCP listener (SO_REUSEADDR; IPV6_V6ONLY
 * for IPv6). -1 with the reason in err (errno kept). */
int server_inet_listen(const struct server_endpoint *ep, int backlog,
                       struct buf *err);
/* A non-blocking, close-on-exec UNIX-domain stream listener at path (an
 * old socket there is removed first), with mode and, when uid is not -1,
 * owner uid:gid. -1 with the reason in err. */
int server_unix_listen(const char *path, mode_t mode, uid_t uid, gid_t gid,
                       int backlog, struct buf *err);
/* A FIFO at path opened read-write and non-blocking (so it never reports
 * end of file), close-on-exec. -1 with the reason in err. */
int server_fifo_listen(const char *path, mode_t mode, uid_t uid, gid_t gid,
                       struct buf *err);

/* Connect to the UNIX-domain stream socket at path, waiting at most
 * timeout_ms for a full backlog; the fd (blocking, close-on-exec), or -1
 * with "connect to PATH: reason" in err (errno kept). */
int server_unix_connect(const char *path, int timeout_ms, struct buf *err);
/* Triggers: deliver a short message (e.g. "W") to a trigger service
 * without waiting longer than timeout_ms. 0, or -1 with errno set. */
int server_unix_trigger(const char *path, const void *data, size_t len,
                        int timeout_ms);
int server_fifo_trigger(const char *path, const void *data, size_t len);

#endif
