/*
 * smtpd_cmd.c: the commands outside the mail transaction: HELO and EHLO
 * (RFC 5321 4.1.1.1, the EHLO keyword list built in one place), RSET
 * (4.1.1.5), NOOP (4.1.1.9), QUIT (4.1.1.10), VRFY (4.1.1.6, 3.5.3: 252
 * when disabled), HELP (4.1.1.8) and the refusals for EXPN and ETRN.
 * STARTTLS is in smtpd_tls.c, AUTH in smtpd_auth.c.
 * SECURITY: the HELO name is client text: at most one command line,
 * without control characters (the command parser refuses them); it goes
 * through the HELO restrictions before it is kept.
 */
#include <stdio.h>
#include <string.h>

#include "address.h"
#include "mem.h"
#include "smtpd.h"

/* RFC 5321 4.1.4: HELO/EHLO resets the transaction, like RSET. */
static void smtpd_helo_common(struct smtpd_session *s,
                              const struct smtp_command *c, bool ehlo)
{
	struct policy_facts f;
	char *name;

	if (c->arglen == 0) {
		smtpd_reply(s, "501 5.5.4 Syntax: %s hostname",
		            ehlo ? "EHLO" : "HELO");
		return;
	}
	name = mem_strndup(c->arg, c->arglen);
	smtpd_facts(s, &f);
	f.helo = name;
	if (!smtpd_policy(s, POLICY_STAGE_HELO, &f, ehlo ? "EHLO" : "HELO")) {
		mem_free(name);
		return;
	}
	smtpd_set_state(s, SMTPD_IDLE);
	mem_free(s->helo);
	s->helo = name;
	s->esmtp = ehlo;
	s->helo_required = false;
	if (!ehlo) {
		/* RFC 2034 3: no enhanced code in the HELO/EHLO answer. */
		smtpd_reply(s, "250 %s", smtpd_params.myhostname);
		return;
	}
	{
		/* The one place the ESMTP keywords are listed. */
		char size[64];
		const char *lines[16];
		size_t n = 0;

		lines[n++] = smtpd_params.myhostname;
		lines[n++] = "PIPELINING";
		if (smtpd_params.message_size_limit > 0)
			(void)snprintf(size, sizeof(size), "SIZE %lld",
			               smtpd_params.message_size_limit);
		else
			(void)snprintf(size, sizeof(size), "SIZE");
		lines[n++] = size;
		if (!smtpd_params.disable_vrfy)
			lines[n++] = "VRFY";
		/* RFC 3207 4.2: not offered again inside TLS. */
		if (smtpd_tls_offered() && !s->tls)
			lines[n++] = "STARTTLS";
		/* RFC 4954 3 (smtpd_auth.c decides when). */
		if (smtpd_auth_offered(s))
			lines[n++] = "AUTH PLAIN LOGIN";
		lines[n++] = "ENHANCEDSTATUSCODES";
		lines[n++] = "8BITMIME";
		lines[n++] = "DSN";
		lines[n++] = "SMTPUTF8";
		lines[n++] = "CHUNKING";
		smtpd_reply_lines(s, 250, lines, n);
	}
}

void smtpd_cmd_helo(struct smtpd_session *s, const struct smtp_command *c)
{
	smtpd_helo_common(s, c, false);
}

void smtpd_cmd_ehlo(struct smtpd_session *s, const struct smtp_command *c)
{
	smtpd_helo_common(s, c, true);
}

void smtpd_cmd_rset(struct smtpd_session *s, const struct smtp_command *c)
{
	if (c->arglen > 0) {
		smtpd_reply(s, "501 5.5.4 Syntax: RSET");
		return;
	}
	smtpd_set_state(s, SMTPD_IDLE);
	smtpd_reply(s, "250 2.0.0 Ok");
}

void smtpd_cmd_noop(struct smtpd_session *s, const struct smtp_command *c)
{
	/* RFC 5321 4.1.1.9: a parameter is allowed and ignored. */
	smtpd_reply(s, "250 2.0.0 Ok");
}

void smtpd_cmd_quit(struct smtpd_session *s, const struct smtp_command *c)
{
	smtpd_reply(s, "221 2.0.0 Bye");
	s->quit = true;
}

void smtpd_cmd_vrfy(struct smtpd_session *s, const struct smtp_command *c)
{
	struct buf *addr;
	struct policy_facts f;
	const char *why = NULL;
	size_t used = 0;

	if (smtpd_params.disable_vrfy) {
		/* RFC 5321 3.5.3: 252 when the server will not say. */
		smtpd_reply(s, "252 2.0.0 Cannot VRFY user; try RCPT to "
		               "attempt delivery");
		return;
	}
	if (smtpd_refuse_early(s))
		return;
	if (c->arglen == 0) {
		smtpd_reply(s, "501 5.5.4 Syntax: VRFY address");
		return;
	}
	addr = buf_create(64, 1024);
	if (address_parse_path(c->arg, c->arglen,
	                       ADDRESS_ALLOW_NO_BRACKETS |
	                           ADDRESS_ALLOW_POSTMASTER |
	                           ADDRESS_ALLOW_UTF8,
	                       addr, &used, &why) < 0 ||
	    used != c->arglen || buf_len(addr) == 0) {
		smtpd_reply(s, "501 5.1.3 Bad recipient address syntax");
		buf_destroy(&addr);
		return;
	}
	smtpd_facts(s, &f);
	f.recipient = buf_str(addr);
	if (smtpd_policy(s, POLICY_STAGE_RCPT, &f, "VRFY"))
		smtpd_reply(s, "252 2.0.0 <%s>", buf_str(addr));
	buf_destroy(&addr);
}

void smtpd_cmd_help(struct smtpd_session *s, const struct smtp_command *c)
{
	smtpd_reply(s, "214 2.0.0 Commands: HELO EHLO STARTTLS AUTH MAIL RCPT "
	               "DATA BDAT RSET NOOP VRFY HELP QUIT");
}

void smtpd_cmd_not_implemented(struct smtpd_session *s,
                               const struct smtp_command *c)
{
	smtpd_reply(s, "502 5.5.1 Error: command not implemented");
}
