/*
 * master_status.c: the children's busy/idle records (read from the status
 * pipe) and the status file `posthorn status` reads
 * (queue_directory/pid/master.status, replaced atomically by rename).
 * SECURITY: records come from our own children but are decoded strictly;
 * a record for a pid that is not (or no longer) ours is dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "msg.h"
#include "str.h"
#include "master.h"

void master_status_read(struct master *m)
{
	/* Records are written whole (SERVER_STATUS_SIZE < PIPE_BUF) and
	 * nothing else goes into the pipe, so reads of a multiple of the
	 * record size return whole records. */
	unsigned char data[SERVER_STATUS_SIZE * 64];
	ssize_t n;

	for (;;) {
		n = read(m->status_rd, data, sizeof(data));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (n % SERVER_STATUS_SIZE != 0)
			msg_warn("status pipe: partial record (%zd bytes)", n);
		for (ssize_t off = 0; off + SERVER_STATUS_SIZE <= n;
		     off += SERVER_STATUS_SIZE) {
			struct server_status st;
			struct master_proc *p;

			if (server_status_decode(data + off, SERVER_STATUS_SIZE,
			                         &st) < 0) {
				msg_warn("status pipe: bad record");
				continue;
			}
			if ((p = master_proc_find(m, st.pid)) == NULL)
				continue;
			if (st.state == SERVER_BUSY && p->state != SERVER_BUSY)
				p->use_count++;
			p->state = st.state;
			master_recount(m, p->serv);
		}
	}
	if (n < 0 && errno != EAGAIN)
		msg_warn("status pipe: read: %m");
}

long long master_status_write(struct master *m, long long now)
{
	struct buf *text;
	int fd;

	if (!m->status_dirty)
		return -1;
	if (m->status_written_ms != 0 &&
	    now - m->status_written_ms < MASTER_STATUS_INTERVAL_MS)
		return m->status_written_ms + MASTER_STATUS_INTERVAL_MS;
	m->status_dirty = false;
	m->status_written_ms = now;
	text = buf_create(0, 0);
	buf_printf(text, "generation %lu\n", m->generation);
	if (m->reload_error[0])
		buf_printf(text, "error %s\n", m->reload_error);
	for (struct master_serv *s = m->services; s; s = s->next) {
		struct server_status_line l = {0};

		str_copy(l.name, sizeof(l.name), s->name);
		str_copy(l.type, sizeof(l.type), master_type_name(s->type));
		l.maxproc = s->maxproc;
		l.total = s->total;
		l.busy = s->busy;
		l.idle = s->idle;
		l.throttled = s->throttle_until != 0;
		server_status_line_format(&l, text);
	}
	fd = open("pid/" SERVER_STATUS_FILE ".tmp",
	          O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 ||
	    write(fd, buf_str(text), buf_len(text)) != (ssize_t)buf_len(text)) {
		msg_warn("write %s/pid/%s.tmp: %m", m->queue_dir,
		         SERVER_STATUS_FILE);
	} else if (rename("pid/" SERVER_STATUS_FILE ".tmp",
	                  "pid/" SERVER_STATUS_FILE) < 0) {
		msg_warn("rename %s/pid/%s: %m", m->queue_dir,
		         SERVER_STATUS_FILE);
	}
	if (fd >= 0)
		close(fd);
	buf_destroy(&text);
	return -1;
}

void master_status_remove(struct master *m)
{
	(void)unlink("pid/" SERVER_STATUS_FILE);
	(void)unlink("pid/" SERVER_STATUS_FILE ".tmp");
}
