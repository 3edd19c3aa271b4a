/*
 * multi_server.c: the many-clients skeleton (cleanup, qmgr style). One
 * poll loop over the service's listeners and every descriptor a handler
 * watches, plus one-shot timers. Like Postfix's multi-server, a process
 * tells master it is busy only while it accepts, so one process serves
 * every client unless it cannot keep up, or unless the daemon set a
 * client_limit (cleanup: 1, so that the fsyncs of concurrent messages
 * run in parallel processes, where the block layer merges their
 * flushes, instead of one after the other in one process). A process
 * with no descriptor to watch but its listeners waits with
 * server_wait_exclusive, so a new client wakes one idle process. Stops
 * accepting after max_use clients or on SIGTERM and exits when its last
 * client is gone; exits after max_idle seconds without any client.
 * A client that keeps its connection for several requests (smtpd's to
 * cleanup) is counted per request through multi_server_next_request.
 * SECURITY: handlers own every byte they read; the skeleton only accepts
 * and dispatches. A stale event (its descriptor was closed and reused by
 * an earlier handler in the same round) is never delivered.
 */
#include <poll.h>
#include <unistd.h>

#include "mem.h"
#include "msg.h"
#include "server_impl.h"

/* Most clients taken from a listener per wakeup. */
#define MULTI_ACCEPT_BURST 64

struct multi_watch {
	int events; /* 0: not watched */
	server_event_fn fn;
	void *ctx;
	unsigned long seq; /* changes with every (re)registration */
};

struct multi_timer {
	long long when_ms;
	server_timer_fn fn;
	void *ctx;
};

static struct multi_watch *multi_watches; /* indexed by fd */
static int multi_watch_cap;
static unsigned long multi_seq;
static struct multi_timer *multi_timers;
static size_t multi_ntimers, multi_timer_cap;
static int multi_client_count;
static bool multi_unlimited; /* ignore max_idle and max_use */

void multi_server_watch(int fd, int events, server_event_fn fn, void *ctx)
{
	if (fd < 0 || events == 0 || fn == NULL)
		msg_panic("multi_server_watch: bad arguments (fd %d)", fd);
	if (fd >= multi_watch_cap) {
		int cap = fd + 64;

		multi_watches = mem_realloc(
		    multi_watches, (size_t)cap * sizeof(*multi_watches));
		for (int i = multi_watch_cap; i < cap; i++)
			multi_watches[i].events = 0;
		multi_watch_cap = cap;
	}
	multi_watches[fd].events = events;
	multi_watches[fd].fn = fn;
	multi_watches[fd].ctx = ctx;
	multi_watches[fd].seq = ++multi_seq;
}

void multi_server_unwatch(int fd)
{
	if (fd >= 0 && fd < multi_watch_cap)
		multi_watches[fd].events = 0;
}

void multi_server_disconnect(int fd)
{
	multi_server_unwatch(fd);
	close(fd);
	if (multi_client_count <= 0)
		msg_panic("multi_server_disconnect: no client (fd %d)", fd);
	multi_client_count--;
}

int multi_server_clients(void)
{
	return multi_client_count;
}

void multi_server_unlimited(void)
{
	multi_unlimited = true;
}

void multi_server_timer(server_timer_fn fn, void *ctx, int delay_ms)
{
	multi_server_timer_cancel(fn, ctx);
	if (multi_ntimers == multi_timer_cap) {
		multi_timer_cap = multi_timer_cap * 2 + 8;
		multi_timers = mem_realloc(
		    multi_timers, multi_timer_cap * sizeof(*multi_timers));
	}
	multi_timers[multi_ntimers].when_ms =
	    server_now_ms() + (delay_ms < 0 ? 0 : delay_ms);
	multi_timers[multi_ntimers].fn = fn;
	multi_timers[multi_ntimers].ctx = ctx;
	multi_ntimers++;
}

void multi_server_timer_cancel(server_timer_fn fn, void *ctx)
{
	for (size_t i = 0; i < multi_ntimers; i++) {
		if (multi_timers[i].fn == fn && multi_timers[i].ctx == ctx) {
			multi_timers[i] = multi_timers[--multi_ntimers];
			return;
		}
	}
}

/* Run the timers that are due; the earliest pending deadline after that
 * (-1: none). */
static long long multi_run_timers(void)
{
	long long now = server_now_ms(), next = -1;

	for (size_t i = 0; i < multi_ntimers;) {
		if (multi_timers[i].when_ms <= now) {
			struct multi_timer t = multi_timers[i];

			/* Remove before the call: it may set itself again. */
			multi_timers[i] = multi_timers[--multi_ntimers];
			t.fn(t.ctx);
			now = server_now_ms();
			i = 0;
			continue;
		}
		i++;
	}
	for (size_t i = 0; i < multi_ntimers; i++)
		if (next < 0 || multi_timers[i].when_ms < next)
			next = multi_timers[i].when_ms;
	return next;
}

/* A multi-server takes any number of clients, so it stays "idle" (able
 * to take one more) for master while it accepts, and reports busy only
 * when it stops accepting (multi_stop_accepting). A busy/idle pair around
 * each accept let master, reading the pair half-way, start a second
 * process for a client this one was about to take. */
static struct server_ctx ctx;

/* Has this process served its share (SIGTERM, or max_use)? */
static bool multi_used_up(void)
{
	return server_stopping() ||
	       (!multi_unlimited && ctx.use_count >= ctx.max_use);
}

/* Does this process have its client_limit of clients? */
static bool multi_full(void)
{
	return ctx.cb->client_limit > 0 &&
	       multi_client_count >= ctx.cb->client_limit;
}

static void multi_accept(int listen_fd)
{
	/* Everything waiting, up to a bound: one client per round let
	 * qmgr's backlog overflow (cleanup's triggers refused with EAGAIN)
	 * whenever the scheduler kept it off the CPU for a while. */
	for (int i = 0; i < MULTI_ACCEPT_BURST; i++) {
		bool gone;
		int fd;

		if (multi_full() || (i > 0 && multi_used_up()))
			break;
		fd = server_accept(&ctx, listen_fd, &gone);
		if (fd < 0)
			break;
		multi_client_count++;
		ctx.use_count++;
		ctx.cb->connect(fd, &ctx.info);
	}
}

/* No new clients from now on: master must not count on this process. */
static void multi_stop_accepting(bool *accepting)
{
	if (*accepting)
		server_notify(SERVER_BUSY);
	*accepting = false;
}

bool multi_server_next_request(void)
{
	if (multi_used_up())
		return false;
	ctx.use_count++;
	return true;
}

void multi_server_main(int argc, char **argv, const struct server_callbacks *cb)
{
	struct pollfd *fds = NULL;
	unsigned long *seqs = NULL;
	int cap = 0;
	bool accepting = true;
	long long idle_since;

	if (cb->connect == NULL)
		msg_panic("multi_server_main: no connect callback");
	server_setup(&ctx, argc, argv, cb, "multi_server");
	if (ctx.args.type == MASTER_FIFO)
		msg_fatal("service %s: a fifo service needs the trigger "
		          "skeleton",
		          ctx.args.service);
	idle_since = server_now_ms();
	for (;;) {
		long long next_timer, now, deadline = -1;
		int n, nfds = 0, nlisten, timeout;
		bool full;

		if (accepting && multi_used_up()) {
			/* Last clients only: let other processes (or the
			 * next generation) take new ones. */
			multi_stop_accepting(&accepting);
		}
		if (!accepting && multi_client_count == 0)
			server_exit(&ctx, 0);
		next_timer = multi_run_timers();
		now = server_now_ms();
		if (multi_unlimited) {
			idle_since = now;
		} else if (multi_client_count == 0) {
			if (now - idle_since >= ctx.max_idle * 1000)
				server_exit(&ctx, 0);
			deadline = idle_since + ctx.max_idle * 1000;
		} else {
			idle_since = now;
		}
		if (next_timer >= 0 && (deadline < 0 || next_timer < deadline))
			deadline = next_timer;

		if (cap < ctx.nlisten + multi_watch_cap) {
			cap = ctx.nlisten + multi_watch_cap + 16;
			fds = mem_realloc(fds, (size_t)cap * sizeof(*fds));
			seqs = mem_realloc(seqs, (size_t)cap * sizeof(*seqs));
		}
		full = multi_full();
		if (accepting)
			server_notify(full ? SERVER_BUSY : SERVER_IDLE);
		nlisten = accepting && !full ? ctx.nlisten : 0;
		for (int i = 0; i < nlisten; i++) {
			fds[nfds].fd = ctx.listen_fds[i];
			fds[nfds].events = POLLIN;
			fds[nfds++].revents = 0;
		}
		for (int fd = 0; fd < multi_watch_cap; fd++) {
			if (multi_watches[fd].events == 0)
				continue;
			seqs[nfds] = multi_watches[fd].seq;
			fds[nfds].fd = fd;
			fds[nfds].events = (short)multi_watches[fd].events;
			fds[nfds++].revents = 0;
		}
		if (deadline >= 0 && deadline < now)
			deadline = now; /* passed: poll without waiting */
		timeout = deadline < 0 ? -1 : (int)(deadline - now + 1);
		if (nlisten > 0 && nfds == nlisten)
			n = server_wait_exclusive(fds, nfds, timeout);
		else
			n = server_wait(fds, nfds, timeout, !accepting);
		if (n < 0) {
			multi_stop_accepting(&accepting);
			continue;
		}
		for (int i = 0; i < nlisten && n > 0; i++) {
			if (fds[i].revents & (POLLHUP | POLLERR | POLLNVAL))
				multi_stop_accepting(&accepting); /* master
				                                   * shut it */
			else if (fds[i].revents & POLLIN)
				multi_accept(fds[i].fd);
		}
		for (int i = nlisten; i < nfds && n > 0; i++) {
			int fd = fds[i].fd;

			if (fds[i].revents == 0 || fd >= multi_watch_cap ||
			    multi_watches[fd].events == 0 ||
			    multi_watches[fd].seq != seqs[i])
				continue;
			multi_watches[fd].fn(fd, fds[i].revents,
			                     multi_watches[fd].ctx);
		}
	}
}
