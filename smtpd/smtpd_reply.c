/*
 * smtpd_reply.c: SMTP replies (RFC 5321 4.2) with enhanced status codes
 * (RFC 2034, RFC 3463) on every 2xx/4xx/5xx reply except, as RFC 2034 3
 * says, the greeting and the HELO/EHLO answers. Replies are buffered in
 * the client stream and go out when smtpd_flush is called (the command
 * loop flushes before any read that may block: RFC 2920 pipelining). The
 * error accounting lives here: every 4xx/5xx reply counts, and once
 * smtpd_soft_error_limit is reached each reply waits
 * smtpd_error_sleep_time x (errors - soft limit + 1), at most
 * smtpd_timeout, except a closing 421/521 (docs/smtpd.md).
 * SECURITY: reply text may quote client input (addresses, keywords);
 * control characters are replaced by '?' so a reply is always one line,
 * and it is cut at 510 octets (RFC 5321 4.5.3.1.5).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "msg.h"
#include "smtpd.h"
#include "str.h"

/* RFC 5321 4.5.3.1.5: 512 octets a reply line, CRLF included. */
#define SMTPD_REPLY_MAX 510

static void smtpd_sleep_ms(long long ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Count an error reply; past the soft limit, delay (after the replies
 * already buffered went out, so the delay is the client's). */
static void smtpd_reply_account(struct smtpd_session *s, int code)
{
	long long over, ms;

	s->last_code = code;
	if (code >= 400)
		s->errors++;
	/* A closing reply (421, 521) is not delayed: the client is
	 * leaving anyway. */
	if (s->errors < smtpd_params.soft_error_limit ||
	    smtpd_params.error_sleep_ms == 0 || code == 421 || code == 521)
		return;
	over = s->errors - smtpd_params.soft_error_limit + 1;
	ms = smtpd_params.error_sleep_ms * over;
	if (ms > smtpd_params.timeout_ms)
		ms = smtpd_params.timeout_ms;
	smtpd_flush(s);
	smtpd_sleep_ms(ms);
}

static void smtpd_reply_write(struct smtpd_session *s, char *text)
{
	size_t n = strlen(text);

	if (n > SMTPD_REPLY_MAX)
		text[n = SMTPD_REPLY_MAX] = 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			text[i] = '?';
	if (msg_verbose)
		msg_info("> %s[%s]: %s", s->name, s->addr, text);
	if (stream_puts(s->client, text) != 0 ||
	    stream_puts(s->client, "\r\n") != 0)
		s->quit = true;
}

void smtpd_reply(struct smtpd_session *s, const char *fmt, ...)
{
	char text[SMTPD_REPLY_MAX + 64];
	va_list ap;
	int code;

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (strlen(text) < 3 || text[0] < '2' || text[0] > '5')
		msg_panic("smtpd_reply: bad reply \"%s\"", text);
	code = (text[0] - '0') * 100 + (text[1] - '0') * 10 + (text[2] - '0');
	smtpd_reply_account(s, code);
	smtpd_reply_write(s, text);
}

void smtpd_reply_lines(struct smtpd_session *s, int code,
                       const char *const *lines, size_t n)
{
	char text[SMTPD_REPLY_MAX + 64];

	smtpd_reply_account(s, code);
	for (size_t i = 0; i < n; i++) {
		(void)snprintf(text, sizeof(text), "%d%c%s", code,
		               i + 1 < n ? '-' : ' ', lines[i]);
		smtpd_reply_write(s, text);
	}
}

void smtpd_reply_parse_error(struct smtpd_session *s,
                             const struct smtp_parse_error *err)
{
	smtpd_reply(s, "%d %s %s", err->code, err->dsn, err->text);
}

void smtpd_reply_cleanup(struct smtpd_session *s, int status,
                         const char *reason)
{
	/* reason: "X.Y.Z text" from cleanup (checked by cleanup_client). */
	if (status == CLEANUP_TEMPFAIL) {
		/* DESIGN.md: a full disk is 452 4.3.1. */
		smtpd_reply(s, "%s %s",
		            strncmp(reason, "4.3.1", 5) == 0 ? "452" : "451",
		            reason);
		return;
	}
	/* RFC 1870 / 5321 4.2.2: 552 for a size problem, 554 for the
	 * rest of what fails after the end of data. */
	smtpd_reply(s, "%s %s",
	            strncmp(reason, "5.3.4", 5) == 0 ? "552" : "554", reason);
}

void smtpd_flush(struct smtpd_session *s)
{
	if (stream_unflushed(s->client) == 0)
		return;
	if (stream_flush(s->client) != 0)
		s->quit = true;
}
