/*
 * master_wakeup.c: the wakeup column of master.cf. Every `wakeup`
 * seconds master sends a "W" trigger to the service's own socket or FIFO,
 * which makes the listener readable, so a process is started if none is
 * there (as in Postfix). "N?" services are woken only once they have been
 * used. Throttled services are not woken.
 * SECURITY: master only ever writes one byte, without blocking.
 */
#include <errno.h>

#include "msg.h"
#include "master.h"

#define MASTER_WAKEUP_MSG "W"

static void master_wakeup_send(struct master_serv *s)
{
	int r;

	if (s->type == MASTER_FIFO)
		r = server_fifo_trigger(s->sock_path, MASTER_WAKEUP_MSG, 1);
	else
		r = server_unix_trigger(s->sock_path, MASTER_WAKEUP_MSG, 1,
		                        100);
	/* A full backlog or FIFO means the service has work queued anyway. */
	if (r < 0 && errno != EAGAIN)
		msg_warn("service %s: wakeup %s: %m", s->name, s->sock_path);
}

long long master_wakeup_run(struct master *m, long long now)
{
	long long next = -1;

	for (struct master_serv *s = m->services; s; s = s->next) {
		if (s->wakeup <= 0 || s->nlisten == 0)
			continue;
		/* The first wakeup comes one second after start, so that mail
		 * left in maildrop/ while stopped is picked up at once. */
		if (s->next_wakeup == 0)
			s->next_wakeup = now + 1000;
		if (now >= s->next_wakeup) {
			bool throttled = s->throttle_until != 0;

			if (!throttled && (!s->wakeup_if_used || s->used))
				master_wakeup_send(s);
			s->next_wakeup = now + (long long)s->wakeup * 1000;
		}
		if (next < 0 || s->next_wakeup < next)
			next = s->next_wakeup;
	}
	return next;
}
