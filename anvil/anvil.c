/*
 * anvil.c: the anvil daemon: connection count and rate counters per
 * (service, client address), shared by every smtpd process (Postfix's
 * anvil(8) idea; protocol in lib/anvil_client.h and docs/policy.md).
 * One process (master.cf maxproc 1) on the multi_server skeleton; each
 * client (an smtpd process) keeps its connection open for its life and
 * sends small request/reply messages. When a client goes away, the
 * connections it counted are undone (lib/anvil_client.c, anvil_owner),
 * so a crashed smtpd leaks nothing. Counters live in memory only: a
 * restarted anvil starts from zero.
 * SECURITY: runs as mail_owner; clients are local daemons, still
 * untrusted: messages are bounded (attr limits), keys validated
 * (anvil_key_ok), the table bounded (ANVIL_MAX_ENTRIES keys, expired
 * every anvil_rate_time_unit), unanswered replies bounded (a client that
 * does not read its replies is dropped), a malformed message drops the
 * client.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "anvil_client.h"
#include "attr.h"
#include "mem.h"
#include "msg.h"
#include "server.h"

/* Keys kept at most (a flood of addresses beyond it is not counted). */
#define ANVIL_MAX_ENTRIES 100000
/* Bytes read at once, and of replies not yet taken by the client. */
#define ANVIL_READ_SIZE 4096
#define ANVIL_OUT_MAX (64 * 1024)

static const struct attr_limits anvil_limits = {8, 16, 128, 1024};

struct anvil_session {
	int fd;
	struct buf *in;
	struct buf *out;
	struct attr_list *msg;
	struct attr_list *reply;
	struct anvil_owner *owner;
};

static struct anvil_table *anvil_table;
static long long anvil_unit_ms;

static long long anvil_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void anvil_session_event(int fd, int revents, void *ctx);

static void anvil_session_end(struct anvil_session *as)
{
	multi_server_disconnect(as->fd);
	anvil_owner_destroy(&as->owner);
	attr_list_destroy(&as->msg);
	attr_list_destroy(&as->reply);
	buf_destroy(&as->in);
	buf_destroy(&as->out);
	mem_free(as);
}

static void anvil_session_bad(struct anvil_session *as, const char *why)
{
	msg_warn("anvil protocol error: %s: connection dropped", why);
	anvil_session_end(as);
}

/* Handle one request; -1 when the client must be dropped. */
static int anvil_session_request(struct anvil_session *as)
{
	const struct attr_list *m = as->msg;
	const char *req = attr_get(m, "request", NULL);
	const char *service = attr_get(m, "service", NULL);
	const char *address = attr_get(m, "address", NULL);
	long long now = anvil_now_ms();
	int count = 0, rate = 0, status = 0;

	if (req == NULL || !anvil_key_ok(service, address))
		return -1;
	attr_list_reset(as->reply);
	if (strcmp(req, "connect") == 0) {
		if (anvil_table_connect(as->owner, service, address, now,
		                        &count, &rate) < 0)
			status = 4;
		attr_add_int(as->reply, "status", status);
		attr_add_int(as->reply, "count", count);
		attr_add_int(as->reply, "rate", rate);
	} else if (strcmp(req, "disconnect") == 0) {
		anvil_table_disconnect(as->owner, service, address, now);
		attr_add_int(as->reply, "status", 0);
	} else if (strcmp(req, "event") == 0) {
		const char *event = attr_get(m, "event", NULL);

		if (event == NULL || !anvil_key_ok(event, "x") ||
		    strlen(event) > ANVIL_MAX_EVENT)
			return -1;
		if (anvil_table_event(anvil_table, service, address, event, now,
		                      &rate) < 0)
			status = 4;
		attr_add_int(as->reply, "status", status);
		attr_add_int(as->reply, "rate", rate);
	} else if (strcmp(req, "lookup") == 0) {
		anvil_table_lookup(anvil_table, service, address, now, &count,
		                   &rate);
		attr_add_int(as->reply, "status", 0);
		attr_add_int(as->reply, "count", count);
		attr_add_int(as->reply, "rate", rate);
	} else {
		return -1;
	}
	if (status != 0)
		msg_warn("table full (%d keys): not counting %s for %s",
		         ANVIL_MAX_ENTRIES, address, service);
	attr_encode(as->reply, as->out);
	return 0;
}

/* Write what the socket takes; -1 when the client is gone. */
static int anvil_session_flush(struct anvil_session *as)
{
	while (buf_len(as->out) > 0) {
		ssize_t n = send(as->fd, buf_str(as->out), buf_len(as->out),
		                 MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0)
			return -1;
		buf_consume(as->out, (size_t)n);
	}
	multi_server_watch(as->fd, buf_len(as->out) ? POLLIN | POLLOUT : POLLIN,
	                   anvil_session_event, as);
	return 0;
}

static void anvil_session_read(struct anvil_session *as)
{
	struct buf *err = buf_create(128, 512);
	char *dst = buf_reserve(as->in, ANVIL_READ_SIZE);
	size_t pos = 0;
	ssize_t n;

	if (dst == NULL)
		msg_panic("anvil_session_read: no room for input");
	do {
		n = read(as->fd, dst, ANVIL_READ_SIZE);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		buf_destroy(&err);
		return;
	}
	if (n <= 0) {
		/* The smtpd process ended: its connections end with it. */
		buf_destroy(&err);
		anvil_session_end(as);
		return;
	}
	buf_commit(as->in, (size_t)n);
	for (;;) {
		size_t used = 0;
		int r = attr_decode(as->msg, buf_str(as->in) + pos,
		                    buf_len(as->in) - pos, &used, &anvil_limits,
		                    err);

		if (r == 1)
			break;
		if (r < 0 || anvil_session_request(as) < 0) {
			anvil_session_bad(as,
			                  r < 0 ? buf_str(err) : "bad request");
			buf_destroy(&err);
			return;
		}
		pos += used;
		if (buf_len(as->out) > ANVIL_OUT_MAX) {
			anvil_session_bad(as, "client does not read replies");
			buf_destroy(&err);
			return;
		}
	}
	buf_consume(as->in, pos);
	buf_destroy(&err);
	if (anvil_session_flush(as) < 0)
		anvil_session_end(as);
}

static void anvil_session_event(int fd, int revents, void *ctx)
{
	struct anvil_session *as = ctx;

	if ((revents & POLLOUT) && anvil_session_flush(as) < 0) {
		anvil_session_end(as);
		return;
	}
	if (revents & ~POLLOUT)
		anvil_session_read(as);
}

static void anvil_connect_cb(int fd, const struct server_info *si)
{
	struct anvil_session *as = mem_zalloc(sizeof(*as));
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		msg_warn("fcntl O_NONBLOCK on a client: %m");
	as->fd = fd;
	/* One whole message plus one read always fits. */
	as->in = buf_create(ANVIL_READ_SIZE,
	                    anvil_limits.max_total + 2 * ANVIL_READ_SIZE);
	as->out = buf_create(256, ANVIL_OUT_MAX + 4096);
	as->msg = attr_list_create();
	as->reply = attr_list_create();
	as->owner = anvil_owner_create(anvil_table);
	multi_server_watch(fd, POLLIN, anvil_session_event, as);
}

static void anvil_expire(void *ctx)
{
	(void)anvil_table_expire(anvil_table, anvil_now_ms());
	multi_server_timer(anvil_expire, NULL,
	                   anvil_unit_ms > INT_MAX ? INT_MAX
	                                           : (int)anvil_unit_ms);
}

static void anvil_post_init(const struct server_info *si)
{
	anvil_unit_ms = config_time(si->config, "anvil_rate_time_unit") * 1000;
	anvil_table = anvil_table_create(anvil_unit_ms, ANVIL_MAX_ENTRIES);
	anvil_expire(NULL);
}

int main(int argc, char **argv)
{
	static const struct server_callbacks cb = {
	    .post_init = anvil_post_init,
	    .connect = anvil_connect_cb,
	};
	/* Counters live in this process: it must not retire after max_use
	 * clients (each smtpd process is one long-lived client), so the
	 * largest max_use is forced, as Postfix's anvil ignores it. */
	char **av = mem_array((size_t)argc + 3, sizeof(*av));
	int ac = 0;

	av[ac++] = argc > 0 ? argv[0] : "anvil";
	av[ac++] = "-o";
	av[ac++] = "max_use=1000000000";
	for (int i = 1; i < argc; i++)
		av[ac++] = argv[i];
	av[ac] = NULL;
	multi_server_main(ac, av, &cb);
}
