/*
 * smtp_proto.c: one mail transaction of the smtp agent (RFC 5321 3.3):
 * checks against the server's extensions first (RFC 1870 SIZE: 5.3.4;
 * RFC 6531 SMTPUTF8: 5.6.7; RFC 6152 8BITMIME: downgrade to
 * quoted-printable through lib/mime_qp, or 5.6.3 when
 * smtp_8bitmime_downgrade = no), then MAIL FROM (SIZE, BODY, SMTPUTF8,
 * RFC 3461 RET/ENVID), RCPT TO (NOTIFY/ORCPT) and DATA, pipelined in one
 * write when the server offers PIPELINING (RFC 2920), and the content
 * from the queue file with LF -> CRLF, dot-stuffing (RFC 5321 4.5.2) and
 * lines longer than smtp_line_length_limit broken with CRLF SP.
 * Per-recipient results: 2xx delivered, 5xx failed, 4xx retried later
 * (or by the next server when this is not the last one); a 4xx/5xx to
 * MAIL or DATA applies to every recipient of the transaction.
 * SECURITY: replies are parsed by lib/smtp_reply under its limits, each
 * read and write has its phase's deadline (smtp_mail_timeout,
 * smtp_rcpt_timeout, smtp_data_init_timeout, smtp_data_xfer_timeout,
 * smtp_data_done_timeout); envelope text sent in commands is xtext-encoded
 * where RFC 3461 says so.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"
#include "msg.h"
#include "queue_file.h"
#include "smtp.h"

/* Pieces of a line longer than this reach the MIME converter as lines
 * of their own. */
#define SMTP_LINE_PIECE_MAX (64 * 1024)

/* RFC 3461 4: xtext: "+" and "=" and anything outside "!".."~" as +XX. */
static void smtp_xtext(const char *s, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= '!' && *p <= '~' && *p != '+' && *p != '=') {
			buf_append_char(out, *p);
		} else {
			buf_append_char(out, '+');
			buf_append_char(out, hex[*p >> 4]);
			buf_append_char(out, hex[*p & 15]);
		}
	}
}

int smtp_content_lines(struct smtp_state *st,
                       int (*fn)(void *ctx, const char *line, size_t len),
                       void *ctx, struct buf *err)
{
	struct queue_reader *qr;
	struct queue_envelope env;
	struct buf *payload = buf_create(QUEUE_BLOCK_MAX, QUEUE_REC_MAX);
	struct buf *line = buf_create(1024, SMTP_LINE_PIECE_MAX);
	int rc = -1;

	if (lseek(st->qfd, 0, SEEK_SET) < 0) {
		buf_sprintf(err, "lseek: %s", strerror(errno));
		goto out_nor;
	}
	qr = queue_reader_create(st->qfd);
	memset(&env, 0, sizeof(env));
	if (queue_envelope_read(qr, &env, err) < 0)
		goto out;
	queue_envelope_free(&env);
	for (;;) {
		int type, n = queue_reader_next(qr, &type, payload, NULL, err);
		const char *p, *end;

		if (n < 0)
			goto out;
		if (n == 0 || type == QREC_END)
			break;
		p = buf_str(payload);
		end = p + buf_len(payload);
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t seg = nl ? (size_t)(nl - p) : (size_t)(end - p);
			size_t room = buf_limit(line) - buf_len(line);

			if (seg > room) {
				/* A giant line: pass a piece on. */
				buf_append(line, p, room);
				p += room;
				if (fn(ctx, buf_str(line), buf_len(line)) < 0)
					goto stopped;
				buf_reset(line);
				continue;
			}
			buf_append(line, p, seg);
			p += seg;
			if (nl == NULL)
				break;
			p++;
			if (fn(ctx, buf_str(line), buf_len(line)) < 0)
				goto stopped;
			buf_reset(line);
		}
	}
	/* A last line without LF (cleanup adds one; be safe). */
	if (buf_len(line) > 0 && fn(ctx, buf_str(line), buf_len(line)) < 0)
		goto stopped;
	rc = 0;
	goto out;
stopped:
	buf_set_str(err, "stopped");
out:
	queue_reader_destroy(&qr);
out_nor:
	buf_destroy(&payload);
	buf_destroy(&line);
	return rc;
}

/* ---- content transmission ---- */

struct smtp_xfer {
	struct smtp_state *st;
	struct smtp_session *s;
	bool downgrade;
	struct buf *conv;
	int rc; /* 0, or the first stream error */
};

/* One line onto the wire: dot-stuffed, long lines broken, CRLF. */
static int smtp_put_line(struct smtp_xfer *x, const char *line, size_t len)
{
	struct stream *out = x->s->stream;
	size_t limit = (size_t)smtp_params.line_length_limit;
	int rc = 0;

	/* RFC 5321 4.5.2: a line starting with "." gets another one. */
	if (len > 0 && line[0] == '.')
		rc = stream_write(out, ".", 1);
	while (rc == 0 && limit > 1 && len > limit) {
		/* Postfix's smtp_line_length_limit: CRLF SP keeps MIME
		 * headers folded and bodies readable; the SP counts against
		 * the limit of the next piece. */
		rc = stream_write(out, line, limit);
		if (rc == 0)
			rc = stream_write(out, "\r\n ", 3);
		line += limit;
		len -= limit;
		limit = (size_t)smtp_params.line_length_limit - 1;
	}
	if (rc == 0 && len > 0)
		rc = stream_write(out, line, len);
	if (rc == 0)
		rc = stream_write(out, "\r\n", 2);
	if (rc < 0) {
		x->rc = rc;
		return -1;
	}
	return 0;
}

static int smtp_xfer_line(void *ctx, const char *line, size_t len)
{
	struct smtp_xfer *x = ctx;
	const char *p, *end;

	if (!x->downgrade)
		return smtp_put_line(x, line, len);
	buf_reset(x->conv);
	mime_qp_convert(x->st->mime, line, len, x->conv);
	p = buf_str(x->conv);
	end = p + buf_len(x->conv);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (smtp_put_line(x, p, n) < 0)
			return -1;
		p += n + (nl ? 1 : 0);
	}
	return 0;
}

/* Send the content and the final dot. 0, or SMTP_REPLY_TIMEOUT/LOST;
 * -2 when the queue file could not be read (reason in err). */
static int smtp_send_content(struct smtp_state *st, struct smtp_session *s,
                             bool downgrade, struct buf *err)
{
	struct smtp_xfer x = {st, s, downgrade, NULL, 0};
	int rc;

	if (downgrade) {
		/* Pass 2 starts over with a fresh parser state. */
		x.conv = buf_create(4096, 0);
	}
	stream_set_timeouts(s->stream, smtp_params.data_xfer_ms,
	                    smtp_params.data_xfer_ms);
	rc = smtp_content_lines(st, smtp_xfer_line, &x, err);
	buf_destroy(&x.conv);
	if (x.rc == 0 && rc < 0)
		return -2;
	if (x.rc == 0)
		x.rc = stream_write(s->stream, ".\r\n", 3);
	if (x.rc == 0)
		x.rc = stream_flush(s->stream);
	return x.rc < 0 ? smtp_session_io_fail(s, x.rc) : 0;
}

/* ---- the transaction ---- */

/* A failure reply for recipient i: 5xx final, 4xx final only when no
 * other server is left. */
static void smtp_rcpt_reply_fail(struct smtp_state *st, size_t i,
                                 const struct smtp_outcome *o, bool final)
{
	struct smtp_rcpt *r = &st->rcpts[i];

	if (o->status == 5 || final) {
		smtp_rcpt_final(st, i, o->status, o->dsn, o->relay,
		                buf_str(o->reason));
		return;
	}
	/* Kept for the next server; this reason stands if none does
	 * better. */
	smtp_outcome_set(&r->out, 4, o->dsn, o->relay, "%s",
	                 buf_str(o->reason));
	r->soft = true;
}

/* Apply one outcome to every recipient in idx[0..n). */
static void smtp_fail_these(struct smtp_state *st, const size_t *idx, size_t n,
                            const struct smtp_outcome *o, bool final)
{
	for (size_t k = 0; k < n; k++)
		smtp_rcpt_reply_fail(st, idx[k], o, final);
}

/* MAIL FROM with its parameters. */
static void smtp_mail_cmd(struct smtp_state *st, struct smtp_session *s,
                          bool body8, struct buf *cmd)
{
	struct deliver_request *req = st->req;

	buf_sprintf(cmd, "MAIL FROM:<%s>", req->sender);
	if (s->features & SMTP_EXT_SIZE)
		buf_printf(cmd, " SIZE=%lld", req->content_size);
	if (body8)
		buf_append_str(cmd, " BODY=8BITMIME");
	if (st->need_smtputf8)
		buf_append_str(cmd, " SMTPUTF8");
	if (s->features & SMTP_EXT_DSN) {
		if (req->ret[0] != '\0')
			buf_printf(cmd, " RET=%s", req->ret);
		if (req->envid[0] != '\0') {
			buf_append_str(cmd, " ENVID=");
			smtp_xtext(req->envid, cmd);
		}
	}
}

static void smtp_rcpt_cmd(struct smtp_state *st, struct smtp_session *s,
                          size_t i, struct buf *cmd)
{
	const struct deliver_rcpt *rc = &st->req->rcpts[i];

	buf_sprintf(cmd, "RCPT TO:<%s>", rc->address);
	if (!(s->features & SMTP_EXT_DSN))
		return;
	if (rc->notify != 0) {
		buf_append_str(cmd, " NOTIFY=");
		queue_notify_format(rc->notify, cmd);
	}
	if (rc->orcpt[0] != '\0') {
		const char *semi = strchr(rc->orcpt, ';');

		/* RFC 3461 4.2: ORCPT=addr-type;xtext. */
		buf_append_str(cmd, " ORCPT=");
		if (semi != NULL) {
			buf_append(cmd, rc->orcpt, (size_t)(semi - rc->orcpt));
			buf_append_char(cmd, ';');
			smtp_xtext(semi + 1, cmd);
		} else {
			buf_append_str(cmd, "rfc822;");
			smtp_xtext(rc->orcpt, cmd);
		}
	}
}

/* Send RSET after a failed transaction so the session can be reused. */
static void smtp_reset(struct smtp_session *s)
{
	struct smtp_reply r;

	if (s->broken)
		return;
	smtp_reply_init(&r);
	if (smtp_session_write(s, "RSET", smtp_params.rset_ms) == 0 &&
	    smtp_session_reply(s, &r, smtp_params.rset_ms) == SMTP_REPLY_DONE &&
	    smtp_reply_class(&r) != 2)
		s->broken = true;
	smtp_reply_deinit(&r);
}

/* Queue one command (pipelining) or send it alone. */
static int smtp_send_cmd(struct smtp_session *s, const char *text,
                         bool pipelining, int timeout_ms)
{
	int rc;

	if (!pipelining)
		return smtp_session_write(s, text, timeout_ms);
	stream_set_timeouts(s->stream, timeout_ms, timeout_ms);
	rc = stream_puts(s->stream, text);
	if (rc == 0)
		rc = stream_puts(s->stream, "\r\n");
	return rc < 0 ? smtp_session_io_fail(s, rc) : 0;
}

void smtp_transaction(struct smtp_state *st, struct smtp_session *s, bool final)
{
	struct deliver_request *req = st->req;
	struct smtp_outcome o;
	struct smtp_reply r;
	struct buf *cmd = buf_create(256, 16384), *err = buf_create(128, 0);
	size_t *idx = mem_array(req->nrcpts, sizeof(*idx));
	size_t n = 0, naccepted = 0, nsent = 0;
	bool pipelining = (s->features & SMTP_EXT_PIPELINING) != 0;
	bool downgrade = st->has_8bit && !(s->features & SMTP_EXT_8BITMIME);
	bool mail_ok = false;
	double t_xfer = smtp_now();
	int rc = 0, conn_use;

	smtp_outcome_init(&o);
	smtp_reply_init(&r);
	s->use_count++;
	conn_use = s->use_count;
	for (size_t i = 0; i < req->nrcpts; i++) {
		if (!st->rcpts[i].final) {
			idx[n++] = i;
			st->rcpts[i].conn_use = conn_use;
			st->rcpts[i].t_conn = st->t_conn_start;
			st->rcpts[i].t_xfer = t_xfer;
			st->rcpts[i].soft = false;
		}
	}
	if (n == 0)
		goto out;

	/* Refusals known before any command. */
	if (s->size_limit > 0 && req->content_size > s->size_limit) {
		smtp_outcome_set(&o, 5, "5.3.4", s->namaddr,
		                 "message size %lld exceeds size limit %lld of "
		                 "server %s",
		                 req->content_size, s->size_limit, s->hostaddr);
		smtp_fail_these(st, idx, n, &o, true);
		goto out;
	}
	if (st->need_smtputf8 && !(s->features & SMTP_EXT_SMTPUTF8)) {
		smtp_outcome_set(&o, 5, "5.6.7", s->namaddr,
		                 "SMTPUTF8 is required, but was not offered by "
		                 "host %s",
		                 s->hostaddr);
		smtp_fail_these(st, idx, n, &o, true);
		goto out;
	}
	if (downgrade && !smtp_params.downgrade_8bit) {
		smtp_outcome_set(&o, 5, "5.6.3", s->namaddr,
		                 "host %s does not support 8BITMIME and "
		                 "smtp_8bitmime_downgrade = no",
		                 s->hostaddr);
		smtp_fail_these(st, idx, n, &o, true);
		goto out;
	}

	/* RFC 2920 3.1: MAIL, the RCPTs and DATA may go in one write. */
	smtp_mail_cmd(
	    st, s, st->has_8bit && (s->features & SMTP_EXT_8BITMIME) != 0, cmd);
	if ((rc = smtp_send_cmd(s, buf_str(cmd), pipelining,
	                        smtp_params.mail_ms)) < 0) {
		smtp_session_error(s, rc, "sending MAIL FROM", &o);
		goto io_fail;
	}
	if (pipelining) {
		for (size_t k = 0; k < n; k++) {
			smtp_rcpt_cmd(st, s, idx[k], cmd);
			if ((rc = smtp_send_cmd(s, buf_str(cmd), true,
			                        smtp_params.mail_ms)) < 0)
				break;
		}
		if (rc == 0)
			rc =
			    smtp_send_cmd(s, "DATA", true, smtp_params.mail_ms);
		if (rc == 0 && (rc = stream_flush(s->stream)) < 0)
			rc = smtp_session_io_fail(s, rc);
		if (rc < 0) {
			smtp_session_error(s, rc, "sending MAIL FROM", &o);
			goto io_fail;
		}
	}

	/* MAIL FROM reply. */
	if ((rc = smtp_session_reply(s, &r, smtp_params.mail_ms)) !=
	    SMTP_REPLY_DONE) {
		smtp_session_error(s, rc, "sending MAIL FROM", &o);
		goto io_fail;
	}
	if (smtp_reply_class(&r) == 2) {
		mail_ok = true;
	} else {
		smtp_session_said(s, &r, "MAIL FROM",
		                  smtp_reply_class(&r) == 5 ? 5 : 4, &o);
		smtp_fail_these(st, idx, n, &o, final);
		if (!pipelining || s->broken)
			goto reset;
	}

	/* RCPT TO replies (sending each first without pipelining). */
	for (size_t k = 0; k < n; k++) {
		if (!pipelining) {
			smtp_rcpt_cmd(st, s, idx[k], cmd);
			if ((rc = smtp_session_write(
			         s, buf_str(cmd), smtp_params.rcpt_ms)) < 0) {
				smtp_session_error(s, rc, "sending RCPT TO",
				                   &o);
				goto io_fail;
			}
		}
		if ((rc = smtp_session_reply(s, &r, smtp_params.rcpt_ms)) !=
		    SMTP_REPLY_DONE) {
			smtp_session_error(s, rc, "sending RCPT TO", &o);
			goto io_fail;
		}
		if (!mail_ok)
			continue; /* pipelined after a failed MAIL */
		if (smtp_reply_class(&r) == 2) {
			/* Keep accepted ones first in idx. */
			size_t t = idx[naccepted];

			idx[naccepted++] = idx[k];
			idx[k] = t;
			continue;
		}
		smtp_session_said(s, &r, "RCPT TO",
		                  smtp_reply_class(&r) == 5 ? 5 : 4, &o);
		smtp_rcpt_reply_fail(st, idx[k], &o, final);
		if (s->broken) /* 421 */
			break;
	}
	if (s->broken) {
		/* A 421 to a RCPT: the rest did not get through. */
		smtp_session_error(s, SMTP_REPLY_LOST, "sending RCPT TO", &o);
		for (size_t k = naccepted; k < n; k++)
			if (!st->rcpts[idx[k]].final && !st->rcpts[idx[k]].soft)
				smtp_rcpt_reply_fail(st, idx[k], &o, final);
		smtp_fail_these(st, idx, naccepted, &o, final);
		goto out;
	}

	/* DATA. */
	if (!pipelining) {
		if (!mail_ok || naccepted == 0)
			goto reset;
		if ((rc = smtp_session_write(s, "DATA",
		                             smtp_params.data_init_ms)) < 0) {
			smtp_session_error(s, rc, "sending DATA", &o);
			smtp_fail_these(st, idx, naccepted, &o, final);
			goto out;
		}
	}
	if ((rc = smtp_session_reply(s, &r, smtp_params.data_init_ms)) !=
	    SMTP_REPLY_DONE) {
		smtp_session_error(s, rc, "sending DATA", &o);
		smtp_fail_these(st, idx, naccepted, &o, final);
		goto out;
	}
	if (r.code != 354) {
		if (mail_ok && naccepted > 0) {
			smtp_session_said(s, &r, "DATA",
			                  smtp_reply_class(&r) == 5 ? 5 : 4,
			                  &o);
			smtp_fail_these(st, idx, naccepted, &o, final);
		}
		goto reset;
	}
	if (!mail_ok || naccepted == 0) {
		/* RFC 2920 3.1: a server should have refused DATA; end the
		 * empty message and forget it. */
		if (smtp_session_write(s, ".", smtp_params.data_done_ms) == 0)
			(void)smtp_session_reply(s, &r,
			                         smtp_params.data_done_ms);
		goto reset;
	}
	nsent = naccepted;
	rc = smtp_send_content(st, s, downgrade, err);
	if (rc == -2) {
		/* Our queue file failed us: the server gets no final dot. */
		msg_warn("%s: %s", req->queue_id, buf_str(err));
		s->broken = true;
		smtp_outcome_set(&o, 4, "4.3.0", s->namaddr,
		                 "error reading the queue file: %s",
		                 buf_str(err));
		smtp_fail_these(st, idx, nsent, &o, true);
		goto out;
	}
	if (rc < 0) {
		smtp_session_error(s, rc, "sending message body", &o);
		smtp_fail_these(st, idx, nsent, &o, final);
		goto out;
	}
	if ((rc = smtp_session_reply(s, &r, smtp_params.data_done_ms)) !=
	    SMTP_REPLY_DONE) {
		smtp_session_error(s, rc,
		                   "sending end of data -- message may "
		                   "be sent more than once",
		                   &o);
		smtp_fail_these(st, idx, nsent, &o, final);
		goto out;
	}
	if (smtp_reply_class(&r) == 2) {
		for (size_t k = 0; k < nsent; k++)
			smtp_rcpt_final(st, idx[k], 2, r.dsn, s->namaddr,
			                buf_str(r.text));
	} else {
		smtp_session_said(s, &r, "end of DATA",
		                  smtp_reply_class(&r) == 5 ? 5 : 4, &o);
		smtp_fail_these(st, idx, nsent, &o, final);
	}
	goto out;

io_fail:
	/* The session is gone: nothing of this transaction was accepted. */
	smtp_fail_these(st, idx, n, &o, final);
	goto out;
reset:
	smtp_reset(s);
out:
	smtp_outcome_free(&o);
	smtp_reply_deinit(&r);
	buf_destroy(&cmd);
	buf_destroy(&err);
	mem_free(idx);
}
