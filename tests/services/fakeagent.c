/*
 * fakeagent.c: test-only delivery agent on the single-client skeleton
 * (installed in build/tests/libexec, never in production), for qmgr's
 * integration tests. It reads requests (lib/deliver.h) one after the
 * other on a connection qmgr keeps, as the real agents do, checks that
 * the queue file each names is readable, and answers each recipient by
 * the start of its local part:
 *   ok-*     2.0.0 delivered
 *   defer-*  4.2.0 deferred, or delivered once FLAGDIR/accept exists
 *   fail-*   5.1.1 failed for good
 *   crash-*  the process exits without answering (unless accept exists)
 *   hang-*   the process sleeps 600 s without answering (unless accept)
 *   slow-*   delivered after 300 ms (concurrency tests)
 *   anything else: delivered
 * Every recipient gets one line appended to RECORD (one write, so lines
 * of concurrent agents do not mix):
 *   QUEUE_ID RCPT STATUS TRANSPORT NEXTHOP NRCPT START END PID
 * (START/END: wall clock seconds of the request, for overlap checks;
 * STATUS is "crash"/"hang" for those). It also logs Postfix's to=<> line.
 * master.cf: NAME unix - - n - - /path/fakeagent RECORD FLAGDIR
 * SECURITY: test code; reads are bounded by lib/deliver.c's limits and a
 * 10-second deadline.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "deliver.h"
#include "msg.h"
#include "queue_file.h"
#include "server.h"

static double fake_now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

static bool fake_accepting(const struct server_info *si)
{
	char path[4096];
	struct stat st;

	if (si->nargs < 2 || snprintf(path, sizeof(path), "%s/accept",
	                              si->args[1]) >= (int)sizeof(path))
		return false;
	return stat(path, &st) == 0;
}

static void fake_record(const struct server_info *si,
                        const struct deliver_request *r, size_t i,
                        const char *status, double start)
{
	struct buf *line = buf_create(256, 0);
	int fd;

	if (si->nargs < 1)
		msg_fatal("fakeagent: usage: fakeagent RECORD [FLAGDIR]");
	buf_printf(line, "%s %s %s %s %s %zu %.3f %.3f %ld\n", r->queue_id,
	           r->rcpts[i].address, status, r->transport,
	           *r->nexthop ? r->nexthop : "-", r->nrcpts, start, fake_now(),
	           (long)getpid());
	fd = open(si->args[0], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0 ||
	    write(fd, buf_str(line), buf_len(line)) != (ssize_t)buf_len(line))
		msg_warn("fakeagent: record %s: %m", si->args[0]);
	if (fd >= 0)
		close(fd);
	buf_destroy(&line);
}

static bool fake_prefix(const char *addr, const char *prefix)
{
	return strncmp(addr, prefix, strlen(prefix)) == 0;
}

/* One request; false when it could not be read. */
static bool fake_request(struct stream *s, const struct server_info *si)
{
	struct deliver_request r;
	struct buf *err = buf_create(0, 4096), *path = buf_create(0, 4096);
	struct buf *delays = buf_create(0, 256);
	double start = fake_now();
	bool accept = fake_accepting(si);
	bool ok = false;
	int fd;

	if (deliver_request_read(s, &r, err) < 0) {
		msg_warn("fakeagent: bad request: %s", buf_str(err));
		goto out;
	}
	ok = true;
	/* The content must be where the request says. */
	buf_printf(path, "%s/", config_str(si->config, "queue_directory"));
	queue_path(r.queue_name, r.queue_id, path);
	if ((fd = open(buf_str(path), O_RDONLY | O_CLOEXEC)) < 0)
		msg_warn("fakeagent: %s: open %s: %m", r.queue_id,
		         buf_str(path));
	else
		close(fd);
	for (size_t i = 0; i < r.nrcpts; i++) {
		const char *a = r.rcpts[i].address;
		int status = 2;
		const char *dsn = "2.0.0", *why = "delivered (fake)";

		if (fake_prefix(a, "crash-") && !accept) {
			fake_record(si, &r, i, "crash", start);
			(void)stream_flush(s);
			_exit(1);
		}
		if (fake_prefix(a, "hang-") && !accept) {
			fake_record(si, &r, i, "hang", start);
			(void)stream_flush(s);
			sleep(600);
			_exit(1);
		}
		if (fake_prefix(a, "slow-")) {
			struct timespec ts = {0, 300 * 1000000L};

			nanosleep(&ts, NULL);
		}
		if (fake_prefix(a, "defer-") && !accept) {
			status = 4;
			dsn = "4.2.0";
			why = "try again (fake)";
		} else if (fake_prefix(a, "fail-")) {
			status = 5;
			dsn = "5.1.1";
			why = "no such user (fake)";
		}
		fake_record(si, &r, i,
		            status == 2   ? "sent"
		            : status == 4 ? "deferred"
		                          : "bounced",
		            start);
		buf_reset(delays);
		deliver_format_delays(&r, start, start, start, fake_now(),
		                      delays);
		msg_info("%s: to=<%s>, relay=%s, %s, dsn=%s, status=%s (%s)",
		         r.queue_id, a, r.transport, buf_str(delays), dsn,
		         status == 2   ? "sent"
		         : status == 4 ? "deferred"
		                       : "bounced",
		         why);
		if (deliver_status_write(s, i, status, dsn, r.transport, why) <
		    0)
			break;
	}
	(void)deliver_done_write(s);
	deliver_request_free(&r);
out:
	buf_destroy(&err);
	buf_destroy(&path);
	buf_destroy(&delays);
	return ok;
}

static void fake_service(struct stream *s, const struct server_info *si)
{
	stream_set_timeouts(s, 10000, 10000);
	while (fake_request(s, si) && single_server_next_request(s))
		;
}

int main(int argc, char **argv)
{
	static const struct server_callbacks cb = {
	    .service = fake_service,
	};

	single_server_main(argc, argv, &cb);
}
