/*
 * smtpd_log.c: smtpd's log lines, in Postfix's format (DESIGN.md:
 * Logging) so that pflogsumm, fail2ban and friends work:
 *   connect from NAME[ADDR]
 *   ID: client=NAME[ADDR]                       (smtpd_session.c)
 *   NOQUEUE: reject: RCPT from NAME[ADDR]: 550 5.1.1 <x>: ...; from=<s>
 *     to=<x> proto=ESMTP helo=<h>
 *   timeout after DATA from NAME[ADDR]   (lost connection, too many
 *     errors, ...)
 *   disconnect from NAME[ADDR] ehlo=1 mail=1 rcpt=0/1 data=1 quit=1
 *     commands=4/5
 * SECURITY: NAME is a verified host name or "unknown", ADDR numeric; the
 * HELO name, addresses and reply text go through policy_log_format,
 * which makes them printable.
 */
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "smtpd.h"
#include "str.h"

void smtpd_log_connect(const struct smtpd_session *s)
{
	msg_info("connect from %s[%s]", s->name, s->addr);
}

void smtpd_log_disconnect(const struct smtpd_session *s)
{
	struct buf *line = buf_create(256, 2048);
	int total = 0, ok = 0;

	buf_sprintf(line, "disconnect from %s[%s]", s->name, s->addr);
	/* Postfix's order: the command table's, unknown last. */
	for (int v = 1; v <= SMTP_VERB_COUNT; v++) {
		int i = v == SMTP_VERB_COUNT ? SMTP_VERB_UNKNOWN : v;
		const struct smtpd_count *c = &s->counts[i];

		if (c->total == 0)
			continue;
		total += c->total;
		ok += c->ok;
		if (c->ok == c->total)
			buf_printf(line, " %s=%d", smtp_verb_name(i), c->total);
		else
			buf_printf(line, " %s=%d/%d", smtp_verb_name(i), c->ok,
			           c->total);
	}
	if (ok == total)
		buf_printf(line, " commands=%d", total);
	else
		buf_printf(line, " commands=%d/%d", ok, total);
	msg_info("%s", buf_str(line));
	buf_destroy(&line);
}

void smtpd_log_reject(const struct smtpd_session *s, const char *verb,
                      const struct policy_facts *facts, const char *reply)
{
	struct policy_facts f;
	struct policy_result r;
	struct buf *line = buf_create(256, 4096);

	if (facts)
		f = *facts;
	else
		smtpd_facts(s, &f);
	memset(&r, 0, sizeof(r));
	r.verdict = reply[0] == '4' ? POLICY_DEFER : POLICY_REJECT;
	r.code = (int)strtol(reply, NULL, 10);
	(void)str_copy(r.reply, sizeof(r.reply), reply);
	policy_log_format(&f, verb, &r, line);
	msg_info("%s: %s", s->queue_id[0] ? s->queue_id : "NOQUEUE",
	         buf_str(line));
	buf_destroy(&line);
}

void smtpd_log_event(const struct smtpd_session *s, const char *event)
{
	msg_info("%s after %s from %s[%s]", event, s->where, s->name, s->addr);
}
