/*
 * mecho.c: test-only service on the multi-client skeleton. Every client
 * gets each of its lines back as "mecho LINE pid PID", all clients served
 * by one process.
 * SECURITY: test code; a client's pending line is at most 1000 bytes
 * (longer input drops the client).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"
#include "server.h"

struct mecho_client {
	char line[1024];
	size_t len;
};

static void mecho_drop(int fd, struct mecho_client *c)
{
	multi_server_disconnect(fd);
	mem_free(c);
}

static void mecho_event(int fd, int revents, void *ctx)
{
	struct mecho_client *c = ctx;
	ssize_t n = read(fd, c->line + c->len, sizeof(c->line) - 1 - c->len);
	char *nl;

	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0) {
		mecho_drop(fd, c);
		return;
	}
	c->len += (size_t)n;
	c->line[c->len] = 0;
	while ((nl = strchr(c->line, '\n')) != NULL) {
		char out[1200];
		int len;

		*nl = 0;
		len = snprintf(out, sizeof(out), "mecho %s pid %ld\n", c->line,
		               (long)getpid());
		if (len < 0 || (size_t)len >= sizeof(out) ||
		    write(fd, out, (size_t)len) != len) {
			mecho_drop(fd, c);
			return;
		}
		c->len -= (size_t)(nl + 1 - c->line);
		memmove(c->line, nl + 1, c->len + 1);
	}
	if (c->len >= sizeof(c->line) - 1)
		mecho_drop(fd, c);
}

static void mecho_connect(int fd, const struct server_info *si)
{
	multi_server_watch(fd, POLLIN, mecho_event,
	                   mem_zalloc(sizeof(struct mecho_client)));
}

int main(int argc, char **argv)
{
	static const struct server_callbacks cb = {
	    .connect = mecho_connect,
	};

	multi_server_main(argc, argv, &cb);
}
