/*
 * echo.c: test-only service on the single-client skeleton (installed in
 * build/tests/libexec, never in production). Greets with
 * "echo ready SERVICE pid PID", then answers each line:
 *   pid        -> "pid PID"
 *   id         -> "id UID GID jail" (chrooted) or "id UID GID /"
 *   sleep MS   -> sleeps MS milliseconds (at most 60000), "slept MS"
 *   quit       -> "bye" and the session ends
 *   anything   -> "echo: LINE"
 * master.cf arguments: "crash" makes every process exit(1) before it
 * serves anyone (for the throttling test).
 * SECURITY: test code; lines are bounded (1000 bytes), reads have a
 * 60-second deadline.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "msg.h"
#include "number.h"
#include "server.h"

static void echo_post_init(const struct server_info *si)
{
	for (size_t i = 0; i < si->nargs; i++)
		if (strcmp(si->args[i], "crash") == 0)
			msg_fatal("echo: crash requested by master.cf");
}

static void echo_sleep_ms(long long ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void echo_service(struct stream *s, const struct server_info *si)
{
	struct buf *line = buf_create(0, 2048);
	long long ms;
	int r;

	stream_set_timeouts(s, 60000, 60000);
	stream_printf(s, "echo ready %s pid %ld\n", si->service,
	              (long)getpid());
	stream_flush(s);
	while ((r = stream_read_line(s, line, 1000, NULL)) == STREAM_OK) {
		const char *l = buf_str(line);

		if (strcmp(l, "pid") == 0) {
			stream_printf(s, "pid %ld\n", (long)getpid());
		} else if (strcmp(l, "id") == 0) {
			stream_printf(s, "id %ld %ld %s\n", (long)getuid(),
			              (long)getgid(),
			              si->chrooted ? "jail" : "/");
		} else if (strncmp(l, "sleep ", 6) == 0 &&
		           number_parse(l + 6, 0, 60000, &ms, NULL) == 0) {
			echo_sleep_ms(ms);
			stream_printf(s, "slept %lld\n", ms);
		} else if (strcmp(l, "quit") == 0) {
			stream_printf(s, "bye\n");
			stream_flush(s);
			break;
		} else {
			stream_printf(s, "echo: %s\n", l);
		}
		if (stream_flush(s) != 0)
			break;
	}
	buf_destroy(&line);
}

int main(int argc, char **argv)
{
	static const struct server_callbacks cb = {
	    .post_init = echo_post_init,
	    .service = echo_service,
	};

	single_server_main(argc, argv, &cb);
}
