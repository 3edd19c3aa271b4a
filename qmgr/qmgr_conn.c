/*
 * qmgr_conn.c: qmgr's connections to delivery agents (private/TRANSPORT).
 * A connection whose request was answered to the end is kept, idle, for
 * the transport's next request (docs/ipc.md "delivery": an agent serves
 * requests one after the other until qmgr closes): no connect, accept,
 * busy/idle report to master or process wakeup per delivery. The most
 * recently used idle connection is taken first; one idle for
 * QMGR_CONN_IDLE_MS is closed (its agent then goes back to master's pool
 * and exits after max_idle); one the agent closed (max_use, reload,
 * stop) is noticed by watching it and forgotten.
 * Owns struct qmgr_conn and the idle lists (one per transport).
 * SECURITY: an idle connection is only read to notice its end; anything
 * an agent sends while no request is open ends the connection.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mem.h"
#include "msg.h"
#include "qmgr.h"
#include "server.h"
#include "str.h"

/* How long an answered connection waits for its next request. */
#define QMGR_CONN_IDLE_MS 2000

struct qmgr_conn {
	int fd;
	struct qmgr_conn_list *list;
	struct qmgr_conn *next, *prev;
};

struct qmgr_conn_list {
	char *transport;
	struct qmgr_conn *head; /* most recently used first */
	size_t n;
	struct qmgr_conn_list *next;
};

static struct qmgr_conn_list *qmgr_conn_lists;

static struct qmgr_conn_list *qmgr_conn_list_get(const char *transport)
{
	struct qmgr_conn_list *l;

	for (l = qmgr_conn_lists; l != NULL; l = l->next)
		if (strcmp(l->transport, transport) == 0)
			return l;
	l = mem_zalloc(sizeof(*l));
	l->transport = mem_strdup(transport);
	l->next = qmgr_conn_lists;
	qmgr_conn_lists = l;
	return l;
}

/* Take c off its list; its fd stays open and is no longer watched. */
static int qmgr_conn_unlink(struct qmgr_conn *c)
{
	struct qmgr_conn_list *l = c->list;
	int fd = c->fd;

	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	l->n--;
	multi_server_unwatch(fd);
	mem_free(c);
	return fd;
}

static void qmgr_conn_expire(void *ctx)
{
	close(qmgr_conn_unlink(ctx));
}

/* The agent closed an idle connection (or spoke out of turn). */
static void qmgr_conn_event(int fd, int revents, void *ctx)
{
	multi_server_timer_cancel(qmgr_conn_expire, ctx);
	close(qmgr_conn_unlink(ctx));
}

/* A new connection, without blocking: the fd, -1 (the transport is
 * unavailable: reason in why), -2 (its backlog is full: try again soon). */
static int qmgr_conn_open(const char *transport, struct buf *why)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (str_format(sun.sun_path, sizeof(sun.sun_path), "private/%s",
	               transport) < 0) {
		buf_set_str(why, "mail transport unavailable");
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		buf_sprintf(why, "socket: %s", strerror(errno));
		return -2; /* out of descriptors: later */
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 &&
	    errno != EINPROGRESS) {
		int saved = errno;

		close(fd);
		if (saved == EAGAIN)
			return -2;
		buf_sprintf(why, "connect to transport private/%s: %s",
		            transport, strerror(saved));
		return -1;
	}
	return fd;
}

int qmgr_conn_get(const char *transport, bool may_reuse, bool *reused,
                  struct buf *why)
{
	struct qmgr_conn_list *l = qmgr_conn_list_get(transport);

	*reused = may_reuse && l->head != NULL;
	if (*reused) {
		multi_server_timer_cancel(qmgr_conn_expire, l->head);
		return qmgr_conn_unlink(l->head);
	}
	return qmgr_conn_open(transport, why);
}

void qmgr_conn_put(const char *transport, int fd, size_t max_idle)
{
	struct qmgr_conn_list *l = qmgr_conn_list_get(transport);
	struct qmgr_conn *c;

	if (l->n >= max_idle || server_stopping()) {
		close(fd);
		return;
	}
	c = mem_zalloc(sizeof(*c));
	c->fd = fd;
	c->list = l;
	c->next = l->head;
	if (l->head)
		l->head->prev = c;
	l->head = c;
	l->n++;
	multi_server_watch(fd, POLLIN, qmgr_conn_event, c);
	multi_server_timer(qmgr_conn_expire, c, QMGR_CONN_IDLE_MS);
}
