/*
 * trigger_server.c: the trigger-driven skeleton (pickup, qmgr style). A
 * trigger is a short message (e.g. "W" for wakeup) that arrives on a FIFO
 * or as one connection to a UNIX-domain socket; master sends one every
 * `wakeup` seconds of master.cf, other daemons send them when there is
 * work. Each trigger is passed to the handler whole; the process tells
 * master it is busy meanwhile. Exits after max_use triggers, max_idle
 * seconds without one, or at the next wait after SIGTERM.
 * SECURITY: a trigger is at most TRIGGER_SERVER_MAX_MSG bytes, read with a
 * one-second deadline; anyone who can reach the socket or FIFO (private/
 * or the postdrop-only public/ directory) can send one, so handlers treat
 * it as a hint, never as data.
 */
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "msg.h"
#include "server_impl.h"

#define TRIGGER_READ_MS 1000

/* Read one trigger from a connection: up to the limit, end of file or
 * the deadline, whichever comes first. Returns the bytes read. */
static size_t trigger_read_conn(int fd, char *buf, size_t max)
{
	long long deadline = server_now_ms() + TRIGGER_READ_MS;
	size_t len = 0;

	while (len < max) {
		struct pollfd pfd = {fd, POLLIN, 0};
		long long left = deadline - server_now_ms();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		n = read(fd, buf + len, max - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	return len;
}

void trigger_server_main(int argc, char **argv,
                         const struct server_callbacks *cb)
{
	static struct server_ctx ctx;
	static char msg[TRIGGER_SERVER_MAX_MSG];
	struct pollfd fds[SERVER_MAX_LISTEN];
	long long idle_deadline;

	if (cb->trigger == NULL)
		msg_panic("trigger_server_main: no trigger callback");
	server_setup(&ctx, argc, argv, cb, "trigger_server");
	for (int i = 0; i < ctx.nlisten; i++) {
		fds[i].fd = ctx.listen_fds[i];
		fds[i].events = POLLIN;
	}
	idle_deadline = server_now_ms() + ctx.max_idle * 1000;
	for (;;) {
		long long left = idle_deadline - server_now_ms();
		int n;

		if (left <= 0)
			server_exit(&ctx, 0);
		n = server_wait(fds, ctx.nlisten, (int)left, false);
		if (n < 0)
			server_exit(&ctx, 0);
		for (int i = 0; i < ctx.nlisten && n > 0; i++) {
			ssize_t len;

			if (fds[i].revents == 0)
				continue;
			if (fds[i].revents & (POLLHUP | POLLERR | POLLNVAL))
				server_exit(&ctx, 0);
			if (ctx.args.type == MASTER_FIFO) {
				/* Non-blocking (master opened it so): another
				 * process may have drained it first. */
				len = read(fds[i].fd, msg, sizeof(msg));
				if (len <= 0)
					continue;
				server_notify(SERVER_BUSY);
			} else {
				bool gone;
				int fd = server_accept(&ctx, fds[i].fd, &gone);

				if (gone)
					server_exit(&ctx, 0);
				if (fd < 0)
					continue;
				server_notify(SERVER_BUSY);
				len = (ssize_t)trigger_read_conn(fd, msg,
				                                 sizeof(msg));
				close(fd);
			}
			ctx.use_count++;
			cb->trigger(msg, (size_t)len, &ctx.info);
			if (ctx.use_count >= ctx.max_use)
				server_exit(&ctx, 0);
			server_notify(SERVER_IDLE);
			idle_deadline = server_now_ms() + ctx.max_idle * 1000;
		}
	}
}
