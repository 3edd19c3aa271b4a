/*
 * smtpd_session.c: one SMTP connection's state (smtpd.h): its lifecycle,
 * the mail transaction (RFC 5321 3.3: MAIL, RCPT..., DATA or BDAT...;
 * ended by its last reply, RSET, HELO/EHLO or the end of the session)
 * and the cleanup connection that carries it. The state changes only in
 * smtpd_set_state.
 * SECURITY: every string kept here came from the client through the
 * parsers (lib/smtp_command.c, lib/address.c) and is bounded by them;
 * the envelope sent to cleanup is checked there again.
 */
#include <string.h>

#include "mem.h"
#include "msg.h"
#include "smtpd.h"
#include "str.h"

struct smtpd_session *smtpd_session_create(struct stream *client)
{
	struct smtpd_session *s = mem_zalloc(sizeof(*s));

	s->client = client;
	/* Allocated at full size once: AUTH data passes through both, and
	 * a buffer that never moves leaves no copies behind for
	 * smtpd_auth.c to miss when it wipes them. */
	s->in = buf_create(SMTPD_IN_MAX, SMTPD_IN_MAX);
	s->line = buf_create(SMTP_LINE_MAX_ANY + 2, SMTP_LINE_MAX_ANY + 2);
	s->sender = buf_create(64, 1024);
	s->first_rcpt = buf_create(64, 1024);
	s->state = SMTPD_IDLE;
	s->where = "CONNECT";
	stream_set_timeouts(client, smtpd_params.timeout_ms,
	                    smtpd_params.timeout_ms);
	return s;
}

void smtpd_session_destroy(struct smtpd_session **sp)
{
	struct smtpd_session *s = *sp;

	smtpd_set_state(s, SMTPD_IDLE);
	buf_destroy(&s->in);
	buf_destroy(&s->line);
	buf_destroy(&s->sender);
	buf_destroy(&s->first_rcpt);
	mem_free(s->helo);
	mem_free(s->sasl_method);
	mem_free(s->sasl_username);
	mem_free(s->connect_reject);
	mem_free(s);
	*sp = NULL;
}

void smtpd_set_state(struct smtpd_session *s, enum smtpd_state state)
{
	if (state == SMTPD_IDLE) {
		/* Closing cleanup without {request=end}: nothing queued. */
		cleanup_abort(&s->cleanup);
		if (s->bdat)
			smtp_data_destroy(&s->bdat);
		buf_reset(s->sender);
		buf_reset(s->first_rcpt);
		memset(&s->mail, 0, sizeof(s->mail));
		s->rcpt_count = s->rcpt_tried = 0;
		s->queue_id[0] = 0;
		s->cleanup_broken = false;
		s->bdat_bytes = s->msg_bytes = 0;
		s->too_big = false;
	}
	s->state = state;
}

const char *smtpd_protocol(const struct smtpd_session *s)
{
	/* Indexed by [utf8][esmtp][tls][auth]. */
	static const char *const names[2][2][2][2] = {
	    {{{"SMTP", "SMTP"}, {"SMTP", "SMTP"}},
	     {{"ESMTP", "ESMTPA"}, {"ESMTPS", "ESMTPSA"}}},
	    {{{"SMTP", "SMTP"}, {"SMTP", "SMTP"}},
	     {{"UTF8SMTP", "UTF8SMTPA"}, {"UTF8SMTPS", "UTF8SMTPSA"}}},
	};
	bool auth = s->sasl_username && *s->sasl_username;

	return names[s->mail.smtputf8][s->esmtp][s->tls][auth];
}

void smtpd_facts(const struct smtpd_session *s, struct policy_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->client_address = s->addr;
	f->client_name = s->name;
	f->helo = s->helo;
	f->protocol = s->esmtp ? "ESMTP" : "SMTP";
	f->sender = s->state == SMTPD_IDLE ? NULL : buf_str(s->sender);
	f->sasl_username = s->sasl_username;
}

/* Send one envelope attribute when it has a value. */
static int smtpd_cleanup_attr(struct smtpd_session *s, const char *name,
                              const char *value)
{
	if (value == NULL || *value == 0)
		return 0;
	return cleanup_attr(s->cleanup, name, value);
}

int smtpd_cleanup_open(struct smtpd_session *s)
{
	struct buf *err = buf_create(128, 1024);
	int r = 0;

	s->cleanup =
	    cleanup_open(smtpd_params.config, CLEANUP_FLAG_QUEUE_ID, err);
	if (s->cleanup == NULL) {
		msg_warn("%s[%s]: cleanup: %s", s->name, s->addr, buf_str(err));
		/* DESIGN.md: a full disk is 452 4.3.1. */
		if (strncmp(buf_str(err), "4.3.1", 5) == 0)
			smtpd_reply(s, "452 4.3.1 Insufficient system storage");
		else
			smtpd_reply(s, "451 4.3.0 Error: queue file write "
			               "error");
		buf_destroy(&err);
		return -1;
	}
	buf_destroy(&err);
	(void)str_copy(s->queue_id, sizeof(s->queue_id),
	               cleanup_queue_id(s->cleanup));
	r |= cleanup_sender(s->cleanup, buf_str(s->sender));
	r |= smtpd_cleanup_attr(s, "client_name", s->name);
	r |= smtpd_cleanup_attr(s, "client_address", s->addr);
	r |= smtpd_cleanup_attr(s, "client_port", s->port);
	r |= smtpd_cleanup_attr(s, "helo_name", s->helo);
	r |= smtpd_cleanup_attr(s, "protocol", smtpd_protocol(s));
	r |= smtpd_cleanup_attr(s, "sasl_method", s->sasl_method);
	r |= smtpd_cleanup_attr(s, "sasl_username", s->sasl_username);
	if (s->mail.have_envid)
		r |= smtpd_cleanup_attr(s, "envid", s->mail.envid);
	r |= smtpd_cleanup_attr(s, "ret", s->mail.ret);
	if (r != 0)
		s->cleanup_broken = true;
	if (s->sasl_username != NULL)
		msg_info("%s: client=%s[%s], sasl_method=%s, sasl_username=%s",
		         s->queue_id, s->name, s->addr, s->sasl_method,
		         s->sasl_username);
	else
		msg_info("%s: client=%s[%s]", s->queue_id, s->name, s->addr);
	return 0;
}
