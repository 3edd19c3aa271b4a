/*
 * fakebounce.c: test-only bounce service on the single-client skeleton
 * (installed in build/tests/libexec), for qmgr's integration tests. It
 * reads one request of the bounce protocol (docs/ipc.md, "bounce"),
 * appends to RECORD one line
 *   REQUEST QUEUE_ID QUEUE_NAME NRCPT
 * then one line per recipient of a success request ("  rcpt ADDR DSN")
 * and, for bounce and delay requests, the lines of the bounce or defer
 * log it would read ("  log LINE"), and answers status=0, or status=4
 * while FLAGDIR/bounce-fail exists.
 * master.cf: bounce unix - - n - 0 /path/fakebounce RECORD FLAGDIR
 * SECURITY: test code; attr limits are the defaults, reads have a
 * 10-second deadline, the logs are read up to 64 KiB.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attr.h"
#include "buf.h"
#include "msg.h"
#include "queue_file.h"
#include "server.h"

static void fb_append(const struct server_info *si, struct buf *text)
{
	int fd =
	    open(si->args[0], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);

	if (fd < 0 ||
	    write(fd, buf_str(text), buf_len(text)) != (ssize_t)buf_len(text))
		msg_warn("fakebounce: record %s: %m", si->args[0]);
	if (fd >= 0)
		close(fd);
}

static void fb_log_lines(const char *queue, const char *id, struct buf *out)
{
	struct buf *path = buf_create(0, 4096);
	char data[65536];
	ssize_t n;
	int fd;

	queue_path(queue, id, path);
	fd = open(buf_str(path), O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		buf_printf(out, "  nolog %s\n", queue);
		buf_destroy(&path);
		return;
	}
	n = read(fd, data, sizeof(data) - 1);
	close(fd);
	if (n > 0) {
		char *line, *p = data;

		data[n] = '\0';
		while ((line = strsep(&p, "\n")) != NULL)
			if (*line)
				buf_printf(out, "  log %s\n", line);
	}
	buf_destroy(&path);
}

static void fb_service(struct stream *s, const struct server_info *si)
{
	struct attr_list *l = attr_list_create(), *reply = attr_list_create();
	struct buf *err = buf_create(0, 4096), *rec = buf_create(0, 0);
	const char *req, *id, *queue;
	long long nrcpt;
	char flag[4096];
	struct stat st;

	if (si->nargs < 2)
		msg_fatal("fakebounce: usage: fakebounce RECORD FLAGDIR");
	stream_set_timeouts(s, 10000, 10000);
	if (attr_read(s, l, NULL, err) != 0 ||
	    (req = attr_get(l, "request", NULL)) == NULL ||
	    (id = attr_get(l, "queue_id", NULL)) == NULL ||
	    (queue = attr_get(l, "queue_name", NULL)) == NULL ||
	    attr_get_int(l, "nrcpt", 0, 100000, &nrcpt) < 0 ||
	    !queue_id_valid(id)) {
		msg_warn("fakebounce: bad request");
		goto out;
	}
	buf_printf(rec, "%s %s %s %lld\n", req, id, queue, nrcpt);
	if (strcmp(req, "bounce") == 0)
		fb_log_lines(QUEUE_BOUNCE, id, rec);
	else if (strcmp(req, "delay") == 0)
		fb_log_lines(QUEUE_DEFER, id, rec);
	for (long long i = 0; i < nrcpt; i++) {
		struct attr_list *r = attr_list_create();
		const char *a, *d;

		if (attr_read(s, r, NULL, err) != 0 ||
		    (a = attr_get(r, "rcpt", NULL)) == NULL) {
			attr_list_destroy(&r);
			msg_warn("fakebounce: bad recipient");
			goto out;
		}
		d = attr_get(r, "dsn", NULL);
		buf_printf(rec, "  rcpt %s %s\n", a, d ? d : "-");
		attr_list_destroy(&r);
	}
	fb_append(si, rec);
	if (snprintf(flag, sizeof(flag), "%s/bounce-fail", si->args[1]) <
	        (int)sizeof(flag) &&
	    stat(flag, &st) == 0) {
		attr_add_int(reply, "status", 4);
		attr_add_str(reply, "reason", "4.3.0 fake bounce failure");
	} else {
		attr_add_int(reply, "status", 0);
		msg_info("%s: sender non-delivery notification: (fake)", id);
	}
	(void)attr_write(s, reply);
	(void)stream_flush(s);
out:
	attr_list_destroy(&l);
	attr_list_destroy(&reply);
	buf_destroy(&err);
	buf_destroy(&rec);
}

int main(int argc, char **argv)
{
	static const struct server_callbacks cb = {
	    .service = fb_service,
	};

	single_server_main(argc, argv, &cb);
}
