/*
 * smtp_session.c: SMTP sessions of the smtp agent: the TCP connection
 * (smtp_connect_timeout, smtp_bind_address / smtp_bind_address6), the
 * greeting and EHLO with HELO fallback (RFC 5321 4.1.1.1, 3.2: a 5xx EHLO
 * reply means an old server), STARTTLS per the request's TLS policy
 * (smtp_tls.c, RFC 3207), QUIT, and the per-process cache of idle
 * sessions that the next request to the same nexthop reuses (Postfix's
 * connection cache, kept in this process: smtp_connection_cache_time_limit
 * of idleness, smtp_connection_reuse_count_limit transactions,
 * smtp_connection_reuse_time_limit of age). A reused session is checked
 * first (no unsolicited input, RSET answered with 2xx). While the process
 * waits for its next request, an interval timer sends QUIT to the idle
 * sessions when the time limit passes (async-signal-safe send and
 * shutdown only; the memory is freed at the next request or exit).
 * Owns struct smtp_session and the cache.
 * SECURITY: greeting and EHLO replies are remote input, read by
 * lib/smtp_reply under its limits and each within smtp_helo_timeout.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "mem.h"
#include "msg.h"
#include "smtp.h"
#include "str.h"

/* Idle sessions kept at most. */
#define SMTP_CACHE_MAX 8

static struct smtp_session *smtp_cache[SMTP_CACHE_MAX];
/* What the timer's signal handler may touch. */
static volatile sig_atomic_t smtp_cache_fd[SMTP_CACHE_MAX] = {-1, -1, -1, -1,
                                                              -1, -1, -1, -1};
static volatile sig_atomic_t smtp_cache_quit[SMTP_CACHE_MAX];
/* A plain-text QUIT would break a TLS session: only shut it down. */
static volatile sig_atomic_t smtp_cache_tls[SMTP_CACHE_MAX];
static bool smtp_cache_handler_set;

int smtp_session_write(struct smtp_session *s, const char *text, int timeout_ms)
{
	int rc;

	stream_set_timeouts(s->stream, timeout_ms, timeout_ms);
	rc = stream_puts(s->stream, text);
	if (rc == 0)
		rc = stream_puts(s->stream, "\r\n");
	if (rc == 0)
		rc = stream_flush(s->stream);
	return rc < 0 ? smtp_session_io_fail(s, rc) : 0;
}

int smtp_session_io_fail(struct smtp_session *s, int stream_rc)
{
	s->broken = true;
	return stream_rc == STREAM_TIMEOUT ? SMTP_REPLY_TIMEOUT
	                                   : SMTP_REPLY_LOST;
}

int smtp_session_reply(struct smtp_session *s, struct smtp_reply *r,
                       int timeout_ms)
{
	int rc;

	stream_set_timeouts(s->stream, timeout_ms, timeout_ms);
	rc = smtp_reply_read(s->stream, r);
	if (rc != SMTP_REPLY_DONE)
		s->broken = true;
	/* RFC 5321 3.8: 421 means the server closes the session. */
	else if (r->code == 421)
		s->broken = true;
	return rc;
}

void smtp_session_error(const struct smtp_session *s, int rc,
                        const char *during, struct smtp_outcome *out)
{
	if (rc == SMTP_REPLY_TIMEOUT)
		smtp_outcome_set(out, 4, "4.4.2", s->namaddr,
		                 "conversation with %s timed out while %s",
		                 s->hostaddr, during);
	else if (rc == SMTP_REPLY_MALFORMED)
		smtp_outcome_set(out, 4, "4.5.0", s->namaddr,
		                 "host %s sent a malformed reply while %s",
		                 s->hostaddr, during);
	else
		smtp_outcome_set(out, 4, "4.4.2", s->namaddr,
		                 "lost connection with %s while %s",
		                 s->hostaddr, during);
}

void smtp_session_said(const struct smtp_session *s, const struct smtp_reply *r,
                       const char *command, int status,
                       struct smtp_outcome *out)
{
	smtp_outcome_set(out, status, r->dsn, s->namaddr,
	                 "host %s said: %s (in reply to %s command)",
	                 s->hostaddr, buf_str(r->text), command);
}

static void smtp_session_free(struct smtp_session **sp)
{
	struct smtp_session *s = *sp;

	if (s == NULL)
		return;
	stream_close(&s->stream);
	mem_free(s->key);
	mem_free(s->host);
	mem_free(s->namaddr);
	mem_free(s->hostaddr);
	mem_free(s);
	*sp = NULL;
}

void smtp_session_close(struct smtp_session **sp)
{
	struct smtp_session *s = *sp;

	if (s == NULL)
		return;
	/* RFC 5321 4.1.1.10: QUIT. Like Postfix (smtp_skip_quit_response
	 * = yes) the reply is not waited for. */
	if (!s->broken)
		(void)smtp_session_write(s, "QUIT", smtp_params.quit_ms);
	smtp_session_free(sp);
}

/* Connect with a deadline; the fd or -1 with errno. */
static int smtp_connect(const struct smtp_target *t)
{
	struct sockaddr_storage ss, bs;
	socklen_t len, blen = 0;
	int fd, err = 0;
	struct pollfd pfd;

	len = dns_addr_sockaddr(&t->addr, t->port, &ss);
	if (t->addr.family == AF_INET && smtp_params.have_bind4)
		blen = dns_addr_sockaddr(&smtp_params.bind4, 0, &bs);
	else if (t->addr.family == AF_INET6 && smtp_params.have_bind6)
		blen = dns_addr_sockaddr(&smtp_params.bind6, 0, &bs);
	fd = socket(t->addr.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	            0);
	if (fd < 0)
		return -1;
	if (blen > 0 && bind(fd, (struct sockaddr *)&bs, blen) < 0) {
		err = errno;
		msg_warn("bind %s address: %m", t->addr.family == AF_INET
		                                    ? "smtp_bind_address"
		                                    : "smtp_bind_address6");
		goto fail;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		err = errno;
		goto fail;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	for (;;) {
		int n = poll(&pfd, 1, smtp_params.connect_ms);

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0) {
			err = ETIMEDOUT;
			goto fail;
		}
		if (n < 0) {
			err = errno;
			goto fail;
		}
		break;
	}
	len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0)
		return fd;
fail:
	close(fd);
	errno = err;
	return -1;
}

struct smtp_session *smtp_session_open(struct smtp_state *st,
                                       const struct smtp_target *t,
                                       const char *key, bool final,
                                       struct smtp_outcome *out)
{
	struct smtp_session *s = mem_zalloc(sizeof(*s));
	struct smtp_reply r;
	struct buf *cmd = buf_create(128, 1024);
	const char *during;
	int fd, rc;

	dns_addr_format(&t->addr, s->addr, sizeof(s->addr));
	s->host = mem_strdup(t->host);
	s->port = t->port;
	s->key = mem_strdup(key);
	{
		struct buf *b = buf_create(128, 2048);

		buf_sprintf(b, "%s[%s]:%d", t->host, s->addr, t->port);
		s->namaddr = buf_steal(b);
		buf_sprintf(b, "%s[%s]", t->host, s->addr);
		s->hostaddr = buf_steal(b);
		buf_destroy(&b);
	}
	smtp_reply_init(&r);
	fd = smtp_connect(t);
	if (fd < 0) {
		smtp_outcome_set(out, 4, "4.4.1", "none", "connect to %s: %s",
		                 s->namaddr, strerror(errno));
		msg_info("%s", buf_str(out->reason));
		goto fail;
	}
	s->stream = stream_open(fd);
	s->created_ms = s->last_ms = smtp_now_ms();

	during = "receiving the initial server greeting";
	rc = smtp_session_reply(s, &r, smtp_params.helo_ms);
	if (rc != SMTP_REPLY_DONE)
		goto io_fail;
	if (smtp_reply_class(&r) != 2) {
		/* A 4xx/421 greeting: try the next server. A 5xx one too,
		 * unless this is the last. */
		smtp_outcome_set(
		    out, smtp_reply_class(&r) == 5 && final ? 5 : 4, r.dsn,
		    s->namaddr, "host %s refused to talk to me: %s",
		    s->hostaddr, buf_str(r.text));
		msg_info("%s: %s", st->req->queue_id, buf_str(out->reason));
		goto fail_quit;
	}
	/* RFC 5321 4.1.1.1: EHLO, and HELO when the server does not know
	 * EHLO (a 5xx reply). */
	buf_sprintf(cmd, "EHLO %s", smtp_params.helo_name);
	during = "performing the EHLO handshake";
	if ((rc = smtp_session_write(s, buf_str(cmd), smtp_params.helo_ms)) <
	        0 ||
	    (rc = smtp_session_reply(s, &r, smtp_params.helo_ms)) !=
	        SMTP_REPLY_DONE)
		goto io_fail;
	if (smtp_reply_class(&r) == 2) {
		s->features = smtp_reply_ehlo_features(&r, &s->size_limit);
	} else if (smtp_reply_class(&r) == 5 && r.code != 421) {
		buf_sprintf(cmd, "HELO %s", smtp_params.helo_name);
		during = "performing the HELO handshake";
		if ((rc = smtp_session_write(s, buf_str(cmd),
		                             smtp_params.helo_ms)) < 0 ||
		    (rc = smtp_session_reply(s, &r, smtp_params.helo_ms)) !=
		        SMTP_REPLY_DONE)
			goto io_fail;
		if (smtp_reply_class(&r) != 2) {
			smtp_session_said(
			    s, &r, "HELO",
			    smtp_reply_class(&r) == 5 && final ? 5 : 4, out);
			msg_info("%s: %s", st->req->queue_id,
			         buf_str(out->reason));
			goto fail_quit;
		}
	} else {
		smtp_session_said(s, &r, "EHLO", 4, out);
		msg_info("%s: %s", st->req->queue_id, buf_str(out->reason));
		goto fail_quit;
	}
	/* RFC 3207: STARTTLS per the request's TLS policy (smtp_tls.c). */
	if (smtp_tls_starttls(st, s, &r, cmd, out) < 0)
		goto fail_quit;
	/* RFC 4954: AUTH on the final EHLO's extensions (smtp_sasl.c). */
	if (smtp_sasl_authenticate(st, s, &r, out) < 0)
		goto fail_quit;
	smtp_reply_deinit(&r);
	buf_destroy(&cmd);
	return s;

io_fail:
	smtp_session_error(s, rc, during, out);
	msg_info("%s: %s", st->req->queue_id, buf_str(out->reason));
	goto fail;
fail_quit:
	smtp_reply_deinit(&r);
	buf_destroy(&cmd);
	smtp_session_close(&s);
	return NULL;
fail:
	smtp_reply_deinit(&r);
	buf_destroy(&cmd);
	smtp_session_free(&s);
	return NULL;
}

/* ---- the cache ---- */

static void smtp_cache_remove(int i)
{
	smtp_cache[i] = NULL;
	smtp_cache_fd[i] = -1;
	smtp_cache_quit[i] = 0;
}

/* SIGALRM: the idle sessions waited long enough. Only async-signal-safe
 * calls: send QUIT and shut the connection down; the next request (or
 * exit) frees what is left. */
static void smtp_cache_alarm(int sig)
{
	int saved = errno;

	(void)sig;
	for (int i = 0; i < SMTP_CACHE_MAX; i++) {
		int fd = smtp_cache_fd[i];

		if (fd < 0 || smtp_cache_quit[i])
			continue;
		if (!smtp_cache_tls[i])
			(void)send(fd, "QUIT\r\n", 6,
			           MSG_DONTWAIT | MSG_NOSIGNAL);
		(void)shutdown(fd, SHUT_WR);
		smtp_cache_quit[i] = 1;
	}
	errno = saved;
}

static void smtp_cache_timer(int ms)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = ms / 1000;
	it.it_value.tv_usec = (ms % 1000) * 1000;
	(void)setitimer(ITIMER_REAL, &it, NULL);
}

void smtp_cache_arm(void)
{
	bool any = false;

	for (int i = 0; i < SMTP_CACHE_MAX; i++)
		if (smtp_cache[i] != NULL && !smtp_cache_quit[i])
			any = true;
	if (!any)
		return;
	if (!smtp_cache_handler_set) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sigemptyset(&sa.sa_mask);
		sa.sa_handler = smtp_cache_alarm;
		sa.sa_flags = SA_RESTART;
		sigaction(SIGALRM, &sa, NULL);
		smtp_cache_handler_set = true;
	}
	smtp_cache_timer(
	    smtp_params.cache_time_ms > 0 ? smtp_params.cache_time_ms : 1);
}

void smtp_cache_disarm(void)
{
	if (smtp_cache_handler_set)
		smtp_cache_timer(0);
}

void smtp_cache_expire(bool all)
{
	long long now = smtp_now_ms();

	for (int i = 0; i < SMTP_CACHE_MAX; i++) {
		struct smtp_session *s = smtp_cache[i];

		if (s == NULL)
			continue;
		if (smtp_cache_quit[i]) {
			/* QUIT went out from the timer. */
			s->broken = true;
		} else if (!all &&
		           now - s->last_ms <= smtp_params.cache_time_ms) {
			continue;
		}
		smtp_cache_remove(i);
		smtp_session_close(&s);
	}
}

/* Is the session still usable (no unsolicited input or EOF)? */
static bool smtp_session_quiet(struct smtp_session *s)
{
	struct pollfd pfd;

	if (stream_buffered(s->stream) > 0)
		return false;
	pfd.fd = stream_fd(s->stream);
	pfd.events = POLLIN;
	return poll(&pfd, 1, 0) == 0;
}

struct smtp_session *smtp_cache_take(const char *key)
{
	long long now = smtp_now_ms();

	for (int i = 0; i < SMTP_CACHE_MAX; i++) {
		struct smtp_session *s = smtp_cache[i];
		struct smtp_reply r;
		int rc;

		if (s == NULL || strcmp(s->key, key) != 0 || smtp_cache_quit[i])
			continue;
		smtp_cache_remove(i);
		if (now - s->last_ms > smtp_params.cache_time_ms ||
		    (smtp_params.reuse_time_ms > 0 &&
		     now - s->created_ms > smtp_params.reuse_time_ms)) {
			smtp_session_close(&s);
			continue;
		}
		if (!smtp_session_quiet(s)) {
			s->broken = true;
			smtp_session_close(&s);
			continue;
		}
		/* RFC 5321 4.1.1.5: RSET proves the session still works and
		 * starts a clean transaction. */
		smtp_reply_init(&r);
		rc = smtp_session_write(s, "RSET", smtp_params.rset_ms);
		if (rc == 0)
			rc = smtp_session_reply(s, &r, smtp_params.rset_ms);
		if (rc != SMTP_REPLY_DONE || smtp_reply_class(&r) != 2) {
			smtp_reply_deinit(&r);
			smtp_session_close(&s);
			continue;
		}
		smtp_reply_deinit(&r);
		return s;
	}
	return NULL;
}

void smtp_cache_put(struct smtp_session *s)
{
	int slot = -1;

	if (s == NULL)
		return;
	s->last_ms = smtp_now_ms();
	if (s->broken || !smtp_params.cache_on_demand ||
	    smtp_params.cache_time_ms <= 0 ||
	    (smtp_params.reuse_count_limit > 0 &&
	     s->use_count >= smtp_params.reuse_count_limit) ||
	    (smtp_params.reuse_time_ms > 0 &&
	     s->last_ms - s->created_ms > smtp_params.reuse_time_ms)) {
		smtp_session_close(&s);
		return;
	}
	for (int i = 0; i < SMTP_CACHE_MAX && slot < 0; i++)
		if (smtp_cache[i] == NULL)
			slot = i;
	if (slot < 0) {
		/* Full: the session idle longest makes room. */
		slot = 0;
		for (int i = 1; i < SMTP_CACHE_MAX; i++)
			if (smtp_cache[i]->last_ms < smtp_cache[slot]->last_ms)
				slot = i;
		struct smtp_session *old = smtp_cache[slot];

		smtp_cache_remove(slot);
		smtp_session_close(&old);
	}
	smtp_cache[slot] = s;
	smtp_cache_quit[slot] = 0;
	smtp_cache_tls[slot] = s->tls;
	smtp_cache_fd[slot] = stream_fd(s->stream);
}
