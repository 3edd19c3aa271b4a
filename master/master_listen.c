/*
 * master_listen.c: the queue's IPC directories and every service's
 * listeners. Layout (DESIGN.md: IPC), relative to queue_directory (master
 * runs with it as working directory):
 *   pid/      0755 root (or the instance user): master.pid, master.status
 *   private/  0700 mail_owner: unix/pass sockets 0600 and fifos 0600,
 *             owned by mail_owner
 *   public/   0710 mail_owner:setgid_group: sockets 0666, fifos 0622 (the
 *             directory restricts access to the postdrop group)
 * inet services listen on every address from inet_interfaces and
 * inet_protocols (IPv6 sockets IPV6_V6ONLY), SO_REUSEADDR.
 * The directories are made and repaired at every start by
 * lib/queue_layout (with the rest of the queue tree).
 * SECURITY: directory modes are enforced at every start; sockets are
 * created fresh (an old file at the path is removed first).
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "msg.h"
#include "queue_layout.h"
#include "master.h"

int master_listen_dirs(struct master *m, struct buf *err)
{
	/* The whole queue tree, repaired at every start (lib/queue_layout:
	 * the table of owners and modes lives there). */
	return queue_layout_ensure(m->cf, err);
}

int master_listen_open(struct master *m, struct master_serv *s, struct buf *err)
{
	uid_t uid = m->as_root ? m->owner_uid : (uid_t)-1;
	gid_t gid = s->private_ ? m->owner_gid : m->setgid_gid;
	int fd;

	if (s->nlisten > 0)
		msg_panic("master_listen_open: %s: already listening", s->name);
	switch (s->type) {
	case MASTER_INET:
		for (int i = 0; i < s->neps; i++) {
			fd =
			    server_inet_listen(&s->eps[i], MASTER_BACKLOG, err);
			if (fd < 0) {
				master_listen_close(s, false);
				return -1;
			}
			s->listen_fds[s->nlisten++] = fd;
			if (m->verbose)
				msg_info("service %s: listening on %s", s->name,
				         s->eps[i].text);
		}
		return 0;
	case MASTER_UNIX:
	case MASTER_PASS:
		fd = server_unix_listen(s->sock_path, s->private_ ? 0600 : 0666,
		                        uid, gid, MASTER_UNIX_BACKLOG, err);
		break;
	case MASTER_FIFO:
		fd = server_fifo_listen(s->sock_path, s->private_ ? 0600 : 0622,
		                        uid, gid, err);
		break;
	default:
		msg_panic("master_listen_open: bad type %d", (int)s->type);
	}
	if (fd < 0)
		return -1;
	s->listen_fds[s->nlisten++] = fd;
	if (m->verbose)
		msg_info("service %s: listening on %s", s->name, s->sock_path);
	return 0;
}

void master_listen_close(struct master_serv *s, bool shut_down)
{
	for (int i = 0; i < s->nlisten; i++) {
		/* Our children share these sockets: shutdown (unlike close)
		 * stops them accepting everywhere at once, so a removed
		 * service refuses new clients while old sessions finish. */
		if (shut_down && s->type != MASTER_FIFO)
			(void)shutdown(s->listen_fds[i], SHUT_RDWR);
		close(s->listen_fds[i]);
	}
	if (shut_down && s->nlisten > 0 && s->sock_path != NULL)
		(void)unlink(s->sock_path);
	s->nlisten = 0;
}
