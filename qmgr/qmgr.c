/*
 * qmgr.c: the queue manager (DESIGN.md: qmgr; docs/qmgr.md). One
 * process (master.cf maxproc 1) on the multi-client skeleton: its
 * listener is the trigger socket public/qmgr, its other descriptors are
 * delivery agent and bounce connections, all in one event loop. This
 * file: main, set-up, triggers and the scan timers.
 * Triggers (one byte each, any number per connection): A scan incoming
 * and due deferred mail (flush), I incoming, D deferred, F forget backoff
 * and scan deferred now (queue flush, sendmail -q, which also made
 * deferred mail due), W master's wakeup (incoming; deferred when a
 * queue_run_delay has passed); and NQUEUEID followed by a newline
 * (cleanup, after each message): take incoming/QUEUEID without listing
 * incoming/, and deferred mail as for A.
 * SECURITY: public/qmgr is reachable by the postdrop group: a trigger is
 * only a hint (at most TRIGGER_SERVER_MAX_MSG bytes per connection, a
 * two-second deadline, unknown bytes ignored).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "msg.h"
#include "qmgr.h"
#include "server.h"
#include "trigger_parse.h"

#define QMGR_TRIGGER_MS 2000
/* Deferred scans asked for by triggers: at most one a second. */
#define QMGR_DEFERRED_GAP_MS 1000
/* The listing of incoming/ after N triggers: this much later. */
#define QMGR_INCOMING_GAP_MS 1000

struct qmgr_globals qmgr;

struct qmgr_client {
	int fd;
	size_t got;
	struct trigger_parse parse;
};

static long long qmgr_last_deferred_ms = -1;

double qmgr_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long long qmgr_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void qmgr_incoming_timer(void *ctx)
{
	qmgr_scan_run(QUEUE_INCOMING);
}

static void qmgr_deferred_timer(void *ctx)
{
	qmgr_last_deferred_ms = qmgr_mono_ms();
	qmgr_scan_run(QUEUE_DEFERRED);
}

static void qmgr_feed_timer(void *ctx)
{
	if (!server_stopping())
		qmgr_feed();
}

void qmgr_scan_incoming(void)
{
	/* From a timer: a burst of triggers is one scan. */
	multi_server_timer(qmgr_incoming_timer, NULL, 0);
}

static bool qmgr_incoming_soon_pending;

/* Its own timer, so that it never postpones a listing asked for now. */
static void qmgr_incoming_soon_timer(void *ctx)
{
	qmgr_incoming_soon_pending = false;
	qmgr_incoming_timer(ctx);
}

/* After an N trigger: list incoming/ a second later (once for all the N
 * triggers of that second). A trigger can be lost (qmgr's backlog full,
 * qmgr restarting): with A triggers the next message's listing found
 * such a file, with N alone it would wait for queue_run_delay. */
static void qmgr_scan_incoming_soon(void)
{
	if (qmgr_incoming_soon_pending)
		return;
	qmgr_incoming_soon_pending = true;
	multi_server_timer(qmgr_incoming_soon_timer, NULL,
	                   QMGR_INCOMING_GAP_MS);
}

void qmgr_scan_deferred(bool force)
{
	long long wait = 0;

	if (!force && qmgr_last_deferred_ms >= 0) {
		wait = qmgr_last_deferred_ms + QMGR_DEFERRED_GAP_MS -
		       qmgr_mono_ms();
		if (wait < 0)
			wait = 0;
	}
	multi_server_timer(qmgr_deferred_timer, NULL, (int)wait);
}

void qmgr_room_freed(void)
{
	multi_server_timer(qmgr_feed_timer, NULL, 0);
}

/* Every queue_run_delay: the deferred queue (and incoming, in case a
 * trigger was lost). */
static void qmgr_periodic(void *ctx)
{
	long long ms = qmgr.queue_run_delay * 1000;

	qmgr_scan_incoming();
	qmgr_scan_deferred(true);
	multi_server_timer(qmgr_periodic, NULL,
	                   ms > INT_MAX ? INT_MAX : (int)ms);
}

static void qmgr_trigger(int c)
{
	switch (c) {
	case 'A':
		qmgr_scan_incoming();
		qmgr_scan_deferred(false);
		break;
	case 'I':
		qmgr_scan_incoming();
		break;
	case 'D':
		qmgr_scan_deferred(false);
		break;
	case 'F':
		qmgr_deliver_forget();
		qmgr_scan_deferred(true);
		break;
	case 'W':
		qmgr_scan_incoming();
		if (qmgr_last_deferred_ms < 0 ||
		    qmgr_mono_ms() - qmgr_last_deferred_ms >=
		        qmgr.queue_run_delay * 1000)
			qmgr_scan_deferred(true);
		break;
	default:
		break; /* a hint we do not know: ignored */
	}
}

/* One byte of a trigger connection: a trigger, or part of N's ID. */
static void qmgr_client_byte(struct qmgr_client *cl, int c)
{
	switch (trigger_parse_byte(&cl->parse, c)) {
	case TRIGGER_ITEM_NONE:
		return;
	case TRIGGER_ITEM_BYTE:
		qmgr_trigger(c);
		return;
	case TRIGGER_ITEM_NAME:
		/* Only a hint: a file not in incoming/ is skipped when
		 * taken. */
		qmgr_scan_new(cl->parse.name);
		break;
	case TRIGGER_ITEM_BAD_NAME:
		break;
	}
	qmgr_scan_incoming_soon();
	qmgr_scan_deferred(false);
}

static void qmgr_client_timeout(void *ctx);

static void qmgr_client_end(struct qmgr_client *cl)
{
	multi_server_timer_cancel(qmgr_client_timeout, cl);
	multi_server_disconnect(cl->fd);
	mem_free(cl);
}

static void qmgr_client_timeout(void *ctx)
{
	qmgr_client_end(ctx);
}

static void qmgr_client_event(int fd, int revents, void *ctx)
{
	struct qmgr_client *cl = ctx;
	char buf[256];
	ssize_t n;

	n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		for (ssize_t i = 0; i < n; i++)
			qmgr_client_byte(cl, (unsigned char)buf[i]);
		cl->got += (size_t)n;
		if (cl->got < TRIGGER_SERVER_MAX_MSG)
			return;
	}
	qmgr_client_end(cl);
}

static void qmgr_connect(int fd, const struct server_info *si)
{
	struct qmgr_client *cl = mem_zalloc(sizeof(*cl));
	int flags = fcntl(fd, F_GETFL);

	if (flags >= 0)
		(void)fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	cl->fd = fd;
	trigger_parse_init(&cl->parse);
	multi_server_watch(fd, POLLIN, qmgr_client_event, cl);
	multi_server_timer(qmgr_client_timeout, cl, QMGR_TRIGGER_MS);
}

static void qmgr_post_init(const struct server_info *si)
{
	struct config *c = si->config;
	struct buf *err = buf_create(64, 4096);
	struct rlimit rl;
	long long t;

	qmgr.c = c;
	qmgr.active_limit = config_int(c, "qmgr_message_active_limit");
	qmgr.rcpt_limit = config_int(c, "qmgr_message_recipient_limit");
	qmgr.min_backoff = config_time(c, "minimal_backoff_time");
	qmgr.max_backoff = config_time(c, "maximal_backoff_time");
	qmgr.max_lifetime = config_time(c, "maximal_queue_lifetime");
	qmgr.bounce_lifetime = config_time(c, "bounce_queue_lifetime");
	qmgr.queue_run_delay = config_time(c, "queue_run_delay");
	qmgr.delay_warning = config_time(c, "delay_warning_time");
	qmgr.transport_retry = config_time(c, "transport_retry_time");
	t = config_time(c, "ipc_timeout");
	qmgr.ipc_timeout_ms = t > INT_MAX / 1000 ? INT_MAX : (int)t * 1000;
	/* Queue paths are relative to queue_directory (as in a chroot). */
	if (!si->chrooted && chdir(config_str(c, "queue_directory")) < 0)
		msg_fatal("chdir %s: %m", config_str(c, "queue_directory"));
	qmgr.resolver = transport_resolver_create(c, err);
	if (qmgr.resolver == NULL)
		msg_fatal("%s", buf_str(err));
	/* One descriptor per delivery in flight. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* The active queue outlives any trigger client. */
	multi_server_unlimited();
	qmgr_recover_active();
	qmgr_scan_incoming();
	qmgr_scan_deferred(true);
	t = qmgr.queue_run_delay * 1000;
	multi_server_timer(qmgr_periodic, NULL, t > INT_MAX ? INT_MAX : (int)t);
	buf_destroy(&err);
}

static void qmgr_pre_exit(const struct server_info *si)
{
	long long stop = config_time(si->config, "master_stop_timeout");

	/* Let deliveries in flight report, so their recipients are not
	 * delivered twice; master kills stragglers at its own deadline. */
	qmgr_deliver_drain(stop > 20 ? 10000 : stop * 500);
}

int main(int argc, char **argv)
{
	static const struct server_callbacks cb = {
	    .post_init = qmgr_post_init,
	    .connect = qmgr_connect,
	    .pre_exit = qmgr_pre_exit,
	};

	multi_server_main(argc, argv, &cb);
}
