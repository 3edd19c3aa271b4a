/*
 * smtpd_mail.c: MAIL FROM and RCPT TO (RFC 5321 4.1.1.2, 4.1.1.3) with
 * their ESMTP parameters (SIZE RFC 1870: 552 5.3.4 at MAIL over
 * message_size_limit; BODY RFC 6152; SMTPUTF8 RFC 6531; RET, ENVID,
 * NOTIFY, ORCPT RFC 3461), the policy at each stage (lib/policy.h:
 * sender restrictions at MAIL, the delayed client/HELO/sender, relay and
 * recipient restrictions at RCPT), smtpd_recipient_limit (452 4.5.3), and
 * the cleanup connection, opened at the first accepted recipient (that
 * is when Postfix creates its queue file, and when "ID: client=" is
 * logged).
 * SECURITY: paths and parameters are parsed by lib/smtp_command.c with
 * its limits; nothing reaches cleanup or a log line before that.
 */
#include <stdio.h>
#include <string.h>

#include "msg.h"
#include "smtpd.h"
#include "str.h"

bool smtpd_policy(struct smtpd_session *s, enum policy_stage stage,
                  const struct policy_facts *f, const char *verb)
{
	struct policy_result r;

	if (policy_check(smtpd_params.policy, stage, f, &r) == POLICY_OK)
		return true;
	smtpd_reply(s, "%s", r.reply);
	smtpd_log_reject(s, verb, f, r.reply);
	return false;
}

bool smtpd_refuse_early(struct smtpd_session *s)
{
	if (s->connect_reject) {
		smtpd_reply(s, "%s", s->connect_reject);
		return true;
	}
	if (smtpd_params.tls_required && !s->tls) {
		/* smtpd_tls_security_level=encrypt (RFC 3207 4). */
		smtpd_reply(s, "530 5.7.0 Must issue a STARTTLS command first");
		return true;
	}
	return false;
}

void smtpd_cmd_mail(struct smtpd_session *s, const struct smtp_command *c)
{
	struct smtp_parse_error err;
	struct policy_facts f;

	if (s->state != SMTPD_IDLE) {
		smtpd_reply(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (s->helo_required) {
		/* RFC 3207 4.2: the session starts over after STARTTLS. */
		smtpd_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (smtpd_refuse_early(s))
		return;
	if (smtpd_auth_required(s))
		return;
	if (smtp_mail_parse(c->arg, c->arglen, smtpd_params.message_size_limit,
	                    s->sender, &s->mail, &err) < 0) {
		smtpd_reply_parse_error(s, &err);
		if (err.code == 552) {
			/* Postfix logs the size refusal as a reject. */
			char text[256];

			smtpd_facts(s, &f);
			f.sender = buf_str(s->sender);
			(void)snprintf(text, sizeof(text), "%d %s %s", err.code,
			               err.dsn, err.text);
			smtpd_log_reject(s, "MAIL", &f, text);
		}
		smtpd_set_state(s, SMTPD_IDLE);
		return;
	}
	if (s->mail.have_auth && s->sasl_username == NULL) {
		/* RFC 4954 5: from a client that is not authenticated the
		 * AUTH= value is not trusted: act as if AUTH=<> came. */
		(void)str_copy(s->mail.auth, sizeof(s->mail.auth), "<>");
	}
	smtpd_facts(s, &f);
	f.sender = buf_str(s->sender);
	if (!smtpd_policy(s, POLICY_STAGE_MAIL, &f, "MAIL")) {
		smtpd_set_state(s, SMTPD_IDLE);
		return;
	}
	smtpd_set_state(s, SMTPD_MAIL);
	smtpd_reply(s, "250 2.1.0 Ok");
}

void smtpd_cmd_rcpt(struct smtpd_session *s, const struct smtp_command *c)
{
	struct buf *rcpt;
	struct smtp_rcpt_args args;
	struct smtp_parse_error err;
	struct policy_facts f;

	if (s->state == SMTPD_IDLE) {
		smtpd_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->state == SMTPD_BDAT) {
		/* RFC 3030 2: the envelope is complete once BDAT came. */
		smtpd_reply(s, "503 5.5.1 Error: RCPT after BDAT");
		return;
	}
	if (smtpd_refuse_early(s))
		return;
	s->rcpt_tried++;
	if (s->rcpt_count >= smtpd_params.recipient_limit) {
		smtpd_reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	rcpt = buf_create(64, 1024);
	if (smtp_rcpt_parse(c->arg, c->arglen, s->mail.smtputf8, rcpt, &args,
	                    &err) < 0) {
		smtpd_reply_parse_error(s, &err);
		goto out;
	}
	smtpd_facts(s, &f);
	f.recipient = buf_str(rcpt);
	if (!smtpd_policy(s, POLICY_STAGE_RCPT, &f, "RCPT"))
		goto out;
	if (s->cleanup == NULL && smtpd_cleanup_open(s) < 0)
		goto out;
	if (cleanup_rcpt(s->cleanup, buf_str(rcpt),
	                 args.have_orcpt ? args.orcpt : NULL,
	                 args.notify) < 0) {
		/* cleanup's verdict comes at DATA; this one is lost. */
		s->cleanup_broken = true;
		smtpd_reply(s, "451 4.3.0 Error: queue file write error");
		goto out;
	}
	if (s->rcpt_count++ == 0)
		buf_set_str(s->first_rcpt, buf_str(rcpt));
	smtpd_set_state(s, SMTPD_RCPT);
	smtpd_reply(s, "250 2.1.5 Ok");
out:
	buf_destroy(&rcpt);
}
