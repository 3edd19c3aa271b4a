/*
 * smtpd_data.c: the message content: DATA (RFC 5321 4.1.1.4) and BDAT
 * (RFC 3030), decoded by lib/smtp_data.c and streamed into cleanup as it
 * arrives, after the Received: header (RFC 5321 4.4) that smtpd adds
 * itself as the first line. "250 2.0.0 Ok: queued as ID" only after
 * cleanup_finish said the file is durable; cleanup's temporary failures
 * are 451 (452 4.3.1 for a full disk), its rejections 552 (5.3.4) or 554.
 *
 * Limits while the content streams:
 * - message_size_limit (RFC 1870): once the content (Received: header
 *   included) passes it, cleanup is told to forget the message, the rest
 *   is read and dropped, and the reply after the end is 552 5.3.4.
 * - smtpd_timeout for every read (421 4.4.2, the message is dropped).
 * - smtpd_forbid_bare_newline (docs/smtpd.md): with "reject" (the
 *   default) a DATA content holding a bare LF or CR is read to its real
 *   end, dropped, and answered "521 5.5.2 HOST Error: bare <LF> received"
 *   before the connection is closed. With "normalize" or "no" it is
 *   queued as decoded (a bare LF is a line end in the queue file, a bare
 *   CR stays). In every mode the end of data is only CRLF.CRLF, so none
 *   of the CVE-2023-51764 sequences can end a message early and start a
 *   second one.
 * - Lines of any length are accepted (the content goes to cleanup in
 *   blocks, never line by line); RFC 5321 4.5.3.1.6's 998 is a limit for
 *   senders. See docs/smtpd.md.
 * BDAT is binary-safe: exactly the announced octets are read whatever
 *   they are; a refused BDAT (no transaction, ...) is still read to its
 *   end before the reply (RFC 3030 2), so the client stays in step.
 * SECURITY: the content is untrusted and never held whole: at most one
 * read (SMTPD_READ_MAX) is in memory. The Received: header quotes the
 * HELO name, with anything that is not printable replaced.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "header.h"
#include "msg.h"
#include "smtpd.h"

/* The Received: header (RFC 5321 4.4, Postfix's layout), canonical form. */
static void smtpd_received(const struct smtpd_session *s, struct buf *out)
{
	struct buf *date = buf_create(64, 256);
	struct buf *helo = buf_create(64, SMTP_LINE_MAX);
	const char *from = s->helo ? s->helo : s->name;

	for (const char *p = from; *p && buf_len(helo) < SMTP_LINE_MAX - 1;
	     p++) {
		unsigned char c = (unsigned char)*p;

		buf_append_char(helo, c < 0x20 || c == 0x7f ? '?' : c);
	}
	if (header_date(time(NULL), date) < 0)
		buf_set_str(date, "Thu, 1 Jan 1970 00:00:00 +0000");
	buf_printf(out, "Received: from %s (%s [%s])\n", buf_str(helo), s->name,
	           s->rfc_addr);
	smtpd_tls_received(s, out);
	buf_printf(out, "\tby %s (%s) with %s id %s", smtpd_params.myhostname,
	           smtpd_params.mail_name, smtpd_protocol(s), s->queue_id);
	/* One recipient: name it (Postfix does the same). */
	if (s->rcpt_count == 1)
		buf_printf(out, "\n\tfor <%s>; %s\n", buf_str(s->first_rcpt),
		           buf_str(date));
	else
		buf_printf(out, ";\n\t%s\n", buf_str(date));
	buf_destroy(&date);
	buf_destroy(&helo);
}

/* Content for cleanup: counted against message_size_limit, then sent
 * (unless the message is already given up). */
static void smtpd_content(struct smtpd_session *s, const char *data, size_t len)
{
	long long limit = smtpd_params.message_size_limit;

	if (s->too_big || len == 0)
		return;
	s->msg_bytes += (long long)len;
	if (limit > 0 && s->msg_bytes > limit) {
		s->too_big = true;
		/* Nothing will be queued: cleanup can forget it now. */
		cleanup_abort(&s->cleanup);
		return;
	}
	if (s->cleanup && !s->cleanup_broken &&
	    cleanup_write(s->cleanup, data, len) < 0)
		s->cleanup_broken = true;
}

static void smtpd_content_start(struct smtpd_session *s)
{
	struct buf *h = buf_create(512, 8192);

	smtpd_received(s, h);
	smtpd_content(s, buf_str(h), buf_len(h));
	buf_destroy(&h);
}

/* Decode client bytes with d: until the end of data (want < 0) or
 * exactly want bytes (BDAT). 0, or -1 when the session failed (handled:
 * reply and log done). */
static int smtpd_pump(struct smtpd_session *s, struct smtp_data *d,
                      long long want)
{
	struct buf *out = buf_create(4096, SMTPD_IN_MAX + 1);
	int ret = 0;

	while (want != 0) {
		size_t avail, used = 0;
		const char *p = smtpd_in_peek(s, &avail);
		int r;

		if (avail == 0) {
			ssize_t n = smtpd_fill(s);

			if (n <= 0) {
				smtpd_read_failed(s, n);
				ret = -1;
				break;
			}
			continue;
		}
		if (want > 0 && (long long)avail > want)
			avail = (size_t)want;
		r = smtp_data_feed(d, p, avail, &used, out);
		smtpd_in_consume(s, used);
		if (want > 0)
			want -= (long long)used;
		smtpd_content(s, buf_str(out), buf_len(out));
		buf_reset(out);
		if (r == SMTP_DATA_END)
			break;
	}
	buf_destroy(&out);
	return ret;
}

/* Read and drop want bytes (a refused BDAT chunk). -1 on a failed read
 * (handled). */
static int smtpd_skip(struct smtpd_session *s, long long want)
{
	while (want > 0) {
		size_t avail;

		(void)smtpd_in_peek(s, &avail);
		if (avail == 0) {
			ssize_t n = smtpd_fill(s);

			if (n <= 0) {
				smtpd_read_failed(s, n);
				return -1;
			}
			continue;
		}
		if ((long long)avail > want)
			avail = (size_t)want;
		smtpd_in_consume(s, avail);
		want -= (long long)avail;
	}
	return 0;
}

/* The end of the content: cleanup's verdict, the reply, the end of the
 * transaction. */
static void smtpd_finish(struct smtpd_session *s, const char *verb)
{
	struct buf *reason = buf_create(128, 1024);
	char id[QUEUE_ID_MAX];
	int status;

	if (s->too_big) {
		cleanup_abort(&s->cleanup);
		smtpd_reply(s, "552 5.3.4 Error: message file too big");
		smtpd_log_reject(s, verb, NULL,
		                 "552 5.3.4 Error: message file too big");
	} else if (s->cleanup == NULL) {
		smtpd_reply(s, "451 4.3.0 Error: queue file write error");
	} else if ((status = cleanup_finish(&s->cleanup, id, sizeof(id),
	                                    reason)) == CLEANUP_OK) {
		smtpd_reply(s, "250 2.0.0 Ok: queued as %s", id);
		/* Postfix: the error and junk counts start over once mail
		 * was delivered. */
		s->errors = s->junk = 0;
	} else {
		smtpd_reply_cleanup(s, status, buf_str(reason));
	}
	buf_destroy(&reason);
	smtpd_set_state(s, SMTPD_IDLE);
}

/* A transaction whose cleanup connection already failed: its verdict
 * now, before any content is read. true when that was done. */
static bool smtpd_broken(struct smtpd_session *s)
{
	struct buf *reason = buf_create(128, 1024);
	char id[QUEUE_ID_MAX];
	int status;

	if (!s->cleanup_broken || s->cleanup == NULL) {
		buf_destroy(&reason);
		return false;
	}
	status = cleanup_finish(&s->cleanup, id, sizeof(id), reason);
	if (status == CLEANUP_OK)
		/* Impossible for a broken connection; stay on the safe
		 * side: the client must not think it was queued. */
		smtpd_reply(s, "451 4.3.0 Error: queue file write error");
	else
		smtpd_reply_cleanup(s, status, buf_str(reason));
	buf_destroy(&reason);
	smtpd_set_state(s, SMTPD_IDLE);
	return true;
}

/* The refusal for DATA/BDAT outside a transaction with recipients, or
 * NULL. */
static const char *smtpd_content_refusal(const struct smtpd_session *s)
{
	if (s->state == SMTPD_IDLE)
		return "503 5.5.1 Error: need MAIL command";
	if (s->state == SMTPD_MAIL)
		return s->rcpt_tried ? "554 5.5.1 Error: no valid recipients"
		                     : "503 5.5.1 Error: need RCPT command";
	return NULL;
}

void smtpd_cmd_data(struct smtpd_session *s, const struct smtp_command *c)
{
	struct smtp_data *d;
	const char *refusal;
	unsigned flags;

	if (c->arglen > 0) {
		smtpd_reply(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (s->state == SMTPD_BDAT) {
		/* RFC 3030 2: not both in one transaction. */
		smtpd_reply(s, "503 5.5.1 Error: DATA after BDAT");
		return;
	}
	if ((refusal = smtpd_content_refusal(s)) != NULL) {
		smtpd_reply(s, "%s", refusal);
		return;
	}
	if (smtpd_broken(s))
		return;
	smtpd_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	/* RFC 2920 3.1: the client waits for the 354. */
	smtpd_flush(s);
	if (s->quit)
		return;
	s->where = "END-OF-MESSAGE";
	smtpd_content_start(s);
	d = smtp_data_create(SMTP_DATA_DOT);
	if (smtpd_pump(s, d, -1) < 0) {
		smtp_data_destroy(&d);
		smtpd_set_state(s, SMTPD_IDLE);
		return;
	}
	flags = smtp_data_flags(d);
	smtp_data_destroy(&d);
	if (flags && smtpd_params.bare_newline == SMTPD_BARE_REJECT &&
	    !s->bare_newline_excluded) {
		char text[256];

		cleanup_abort(&s->cleanup);
		(void)snprintf(text, sizeof(text),
		               "521 5.5.2 %s Error: bare <%s> received",
		               smtpd_params.myhostname,
		               (flags & SMTP_DATA_BARE_LF) ? "LF" : "CR");
		smtpd_reply(s, "%s", text);
		smtpd_log_reject(s, "DATA", NULL, text);
		smtpd_set_state(s, SMTPD_IDLE);
		s->quit = true;
		return;
	}
	smtpd_finish(s, "DATA");
}

void smtpd_cmd_bdat(struct smtpd_session *s, const struct smtp_command *c)
{
	struct smtp_parse_error err;
	const char *refusal = NULL;
	long long size;
	bool last;

	if (smtp_bdat_parse(c->arg, c->arglen, &size, &last, &err) < 0) {
		/* The chunk boundary is unknown: nothing can be skipped. */
		smtpd_reply_parse_error(s, &err);
		return;
	}
	if (s->connect_reject)
		refusal = s->connect_reject;
	else if (s->state != SMTPD_BDAT)
		refusal = smtpd_content_refusal(s);
	if (refusal != NULL) {
		/* RFC 3030 2: the chunk is read all the same. */
		if (smtpd_skip(s, size) == 0)
			smtpd_reply(s, "%s", refusal);
		return;
	}
	if (s->state == SMTPD_RCPT) {
		if (smtpd_broken(s)) {
			/* Its reply is out; the chunk still has to go. */
			(void)smtpd_skip(s, size);
			return;
		}
		smtpd_set_state(s, SMTPD_BDAT);
		s->bdat = smtp_data_create(SMTP_DATA_CHUNK);
		smtpd_content_start(s);
	}
	s->where = "BDAT";
	if (smtpd_pump(s, s->bdat, size) < 0) {
		smtpd_set_state(s, SMTPD_IDLE);
		return;
	}
	s->bdat_bytes += size;
	if (s->too_big) {
		/* The transaction is over; later chunks get 503. */
		smtpd_finish(s, "BDAT");
		return;
	}
	if (!last) {
		smtpd_reply(s, "250 2.0.0 Ok: %lld bytes", size);
		return;
	}
	{
		struct buf *tail = buf_create(4, 16);

		smtp_data_chunk_end(s->bdat, tail);
		smtpd_content(s, buf_str(tail), buf_len(tail));
		buf_destroy(&tail);
	}
	smtpd_finish(s, "BDAT");
}
