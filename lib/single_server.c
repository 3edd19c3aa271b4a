/*
 * single_server.c: the one-client-at-a-time skeleton (smtpd, pop3d,
 * imapd). Waits on the service's listeners (shared with the other
 * processes of the service: only one wins each accept), tells master it is
 * busy, runs the service handler on a stream over the client, tells
 * master it is idle again. Exits after max_use clients, after max_idle
 * seconds without one, when master closes the listener, or at the next
 * wait after SIGTERM (the client in hand is always served to its end).
 * A handler may serve several requests on one connection (delivery
 * agents: qmgr keeps its connections open) by calling
 * single_server_next_request between them: each request counts as a use.
 * SECURITY: the handler owns every byte from the client; the skeleton
 * only accepts.
 */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "msg.h"
#include "server_impl.h"

static struct server_ctx ctx;

bool single_server_next_request(struct stream *client)
{
	long long deadline = server_now_ms() + ctx.max_idle * 1000;
	struct pollfd pfd = {stream_fd(client), POLLIN, 0};

	if (ctx.use_count >= ctx.max_use || stream_failed(client))
		return false;
	while (stream_buffered(client) == 0) {
		long long left = deadline - server_now_ms();
		char c;
		ssize_t n;

		if (left <= 0)
			return false; /* max_idle */
		n = server_wait(&pfd, 1, (int)left, false);
		if (n < 0)
			return false; /* SIGTERM or master gone */
		if (n == 0)
			continue; /* a signal (the smtp cache timer), or time */
		n = recv(pfd.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n == 1)
			break;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		return false; /* the client closed (or the socket failed) */
	}
	ctx.use_count++;
	return true;
}

void single_server_main(int argc, char **argv,
                        const struct server_callbacks *cb)
{
	struct pollfd fds[SERVER_MAX_LISTEN];
	long long idle_deadline;

	if (cb->service == NULL)
		msg_panic("single_server_main: no service callback");
	server_setup(&ctx, argc, argv, cb, "single_server");
	if (ctx.args.type == MASTER_FIFO)
		msg_fatal("service %s: a fifo service needs the trigger "
		          "skeleton",
		          ctx.args.service);
	for (int i = 0; i < ctx.nlisten; i++) {
		fds[i].fd = ctx.listen_fds[i];
		fds[i].events = POLLIN;
	}
	idle_deadline = server_now_ms() + ctx.max_idle * 1000;
	for (;;) {
		long long left = idle_deadline - server_now_ms();
		int n, fd = -1;
		bool gone = false;

		if (left <= 0)
			server_exit(&ctx, 0); /* max_idle */
		n = server_wait_exclusive(fds, ctx.nlisten, (int)left);
		if (n < 0)
			server_exit(&ctx, 0); /* SIGTERM or master gone */
		for (int i = 0; i < ctx.nlisten && n > 0 && fd < 0; i++) {
			if (fds[i].revents == 0)
				continue;
			/* master shut the listener down (reload, stop). */
			if (fds[i].revents & (POLLHUP | POLLERR | POLLNVAL))
				server_exit(&ctx, 0);
			fd = server_accept(&ctx, fds[i].fd, &gone);
			if (gone)
				server_exit(&ctx, 0);
		}
		if (fd < 0)
			continue; /* another process won the client */
		struct stream *client = stream_open(fd);

		/* Now taken: master starts another process for the next
		 * client if this was the last idle one. */
		server_notify(SERVER_BUSY);
		ctx.use_count++;
		cb->service(client, &ctx.info);
		stream_close(&client);
		if (ctx.use_count >= ctx.max_use)
			server_exit(&ctx, 0);
		server_notify(SERVER_IDLE);
		idle_deadline = server_now_ms() + ctx.max_idle * 1000;
	}
}
