/*
 * smtpd_proto.c: the SMTP command loop (RFC 5321 4.1, 4.3; RFC 2920):
 * connection checks, the greeting, then one command line at a time,
 * dispatched through one table, with the limits that apply to every
 * command: line length (RFC 5321 4.5.3.1.4, raised for MAIL/RCPT by the
 * extensions, smtp_verb_line_max), smtpd_timeout for each read (421
 * 4.4.2), smtpd_hard_error_limit (421 4.7.0), smtpd_junk_command_limit
 * and the bare <LF> policy for command lines.
 *
 * Pipelining (RFC 2920): the client's bytes are read into s->in (up to
 * SMTPD_READ_MAX at a time) and every whole command in it is handled in
 * order; replies collect in the output buffer and are flushed only before
 * a read that may block (nothing left in s->in, nothing buffered by the
 * stream or its TLS layer), before the 354 of DATA, before an error delay
 * and at the end. Replies therefore always come in command order, none is
 * lost, and a pipelined group costs one write.
 * SECURITY: the client is untrusted. s->in is bounded (SMTPD_IN_MAX); a
 * line longer than any command may be is read to its end and dropped
 * (500 5.5.2); lines with NUL or other control characters are refused;
 * every read has the smtpd_timeout deadline; error and junk counters end
 * abusive sessions.
 */
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "msg.h"
#include "smtpd.h"

/* How a command line read ended. */
enum smtpd_read {
	SMTPD_READ_OK,
	SMTPD_READ_TOO_LONG,
	SMTPD_READ_BARE_LF,
	SMTPD_READ_FAIL,
};

struct smtpd_cmd_def {
	const char *word; /* for "... after WORD" */
	void (*fn)(struct smtpd_session *s, const struct smtp_command *c);
	bool junk; /* counts towards smtpd_junk_command_limit */
};

static const struct smtpd_cmd_def smtpd_cmds[SMTP_VERB_COUNT] = {
    [SMTP_VERB_UNKNOWN] = {"UNKNOWN", NULL, false},
    [SMTP_VERB_HELO] = {"HELO", smtpd_cmd_helo, false},
    [SMTP_VERB_EHLO] = {"EHLO", smtpd_cmd_ehlo, false},
    [SMTP_VERB_STARTTLS] = {"STARTTLS", smtpd_cmd_starttls, false},
    [SMTP_VERB_AUTH] = {"AUTH", smtpd_cmd_auth, false},
    [SMTP_VERB_MAIL] = {"MAIL", smtpd_cmd_mail, false},
    [SMTP_VERB_RCPT] = {"RCPT", smtpd_cmd_rcpt, false},
    [SMTP_VERB_DATA] = {"DATA", smtpd_cmd_data, false},
    [SMTP_VERB_BDAT] = {"BDAT", smtpd_cmd_bdat, false},
    [SMTP_VERB_RSET] = {"RSET", smtpd_cmd_rset, true},
    [SMTP_VERB_NOOP] = {"NOOP", smtpd_cmd_noop, true},
    [SMTP_VERB_VRFY] = {"VRFY", smtpd_cmd_vrfy, true},
    [SMTP_VERB_EXPN] = {"EXPN", smtpd_cmd_not_implemented, true},
    [SMTP_VERB_HELP] = {"HELP", smtpd_cmd_help, true},
    [SMTP_VERB_ETRN] = {"ETRN", smtpd_cmd_not_implemented, true},
    [SMTP_VERB_QUIT] = {"QUIT", smtpd_cmd_quit, false},
};

const char *smtpd_in_peek(const struct smtpd_session *s, size_t *len)
{
	*len = buf_len(s->in) - s->in_off;
	return buf_str(s->in) + s->in_off;
}

void smtpd_in_consume(struct smtpd_session *s, size_t n)
{
	s->in_off += n;
	if (s->in_off >= buf_len(s->in)) {
		buf_reset(s->in);
		s->in_off = 0;
	}
}

ssize_t smtpd_fill(struct smtpd_session *s)
{
	size_t room;
	char *dst;
	ssize_t n;

	/* Used bytes go; what is left moves to the front. */
	if (s->in_off > 0) {
		buf_consume(s->in, s->in_off);
		s->in_off = 0;
	}
	room = buf_limit(s->in) - buf_len(s->in);
	if (room > SMTPD_READ_MAX)
		room = SMTPD_READ_MAX;
	if (room == 0)
		msg_panic("smtpd_fill: input buffer full");
	/* RFC 2920: the replies go out before we may wait for input. */
	if (stream_buffered(s->client) == 0)
		smtpd_flush(s);
	if (s->quit)
		return STREAM_ERROR;
	if ((dst = buf_reserve(s->in, room)) == NULL)
		msg_panic("smtpd_fill: no room");
	n = stream_read(s->client, dst, room);
	if (n > 0)
		buf_commit(s->in, (size_t)n);
	return n;
}

void smtpd_read_failed(struct smtpd_session *s, ssize_t r)
{
	if (r == STREAM_TIMEOUT) {
		/* RFC 5321 4.5.3.2: the server may close after its timeout;
		 * 421 says why. */
		smtpd_reply(s, "421 4.4.2 %s Error: timeout exceeded",
		            smtpd_params.myhostname);
		smtpd_flush(s);
		smtpd_log_event(s, "timeout");
	} else {
		smtpd_log_event(s, "lost connection");
	}
	s->quit = true;
}

/* Is a bare LF (or CR) in this client's input refused? */
static bool smtpd_bare_reject(const struct smtpd_session *s)
{
	return smtpd_params.bare_newline == SMTPD_BARE_REJECT &&
	       !s->bare_newline_excluded;
}

/* Read one command line into s->line (without its line end). */
static enum smtpd_read smtpd_read_command(struct smtpd_session *s,
                                          ssize_t *fail)
{
	bool discarding = false;

	for (;;) {
		size_t len, n;
		const char *d = smtpd_in_peek(s, &len);
		const char *lf = memchr(d, '\n', len);
		bool crlf;
		ssize_t r;

		if (lf != NULL) {
			n = (size_t)(lf - d);
			crlf = n > 0 && d[n - 1] == '\r';
			if (discarding || n > SMTP_LINE_MAX_ANY + 1) {
				smtpd_in_consume(s, n + 1);
				return SMTPD_READ_TOO_LONG;
			}
			buf_reset(s->line);
			buf_append(s->line, d, crlf ? n - 1 : n);
			smtpd_in_consume(s, n + 1);
			if (!crlf && smtpd_bare_reject(s))
				return SMTPD_READ_BARE_LF;
			return SMTPD_READ_OK;
		}
		if (len > SMTP_LINE_MAX_ANY + 1) {
			/* Longer than any command: drop it to its end. */
			discarding = true;
			smtpd_in_consume(s, len);
		}
		if ((r = smtpd_fill(s)) <= 0) {
			*fail = r;
			return SMTPD_READ_FAIL;
		}
	}
}

/* The connection limits and client restrictions, before the greeting.
 * -1: refused (the reply is out). */
static int smtpd_connect_checks(struct smtpd_session *s)
{
	struct policy_facts f;
	struct policy_result r;

	smtpd_facts(s, &f);
	/* policy.h: policy_disconnect at the end, whatever the verdict. */
	s->anvil_counted = true;
	if (policy_connect_limits(smtpd_params.policy, &f, smtpd_params.service,
	                          &r) != POLICY_OK) {
		smtpd_reply(s, "%s", r.reply);
		return -1;
	}
	/* With smtpd_delay_reject=yes this is always OK (the client
	 * restrictions then run at RCPT time). */
	if (policy_check(smtpd_params.policy, POLICY_STAGE_CONNECT, &f, &r) !=
	    POLICY_OK) {
		s->connect_reject = mem_strdup(r.reply);
		smtpd_log_reject(s, "CONNECT", &f, r.reply);
	}
	return 0;
}

/* Read and handle one command. */
static void smtpd_command(struct smtpd_session *s)
{
	struct smtp_command cmd;
	const struct smtpd_cmd_def *def;
	ssize_t fail = 0;
	enum smtpd_read r = smtpd_read_command(s, &fail);

	switch (r) {
	case SMTPD_READ_FAIL:
		smtpd_read_failed(s, fail);
		return;
	case SMTPD_READ_BARE_LF:
		/* smtpd_forbid_bare_newline=reject (docs/smtpd.md). */
		smtpd_reply(s, "521 5.5.2 %s Error: bare <LF> received",
		            smtpd_params.myhostname);
		smtpd_log_event(s, "disallowed bare <LF> received");
		s->quit = true;
		return;
	case SMTPD_READ_TOO_LONG:
		s->counts[SMTP_VERB_UNKNOWN].total++;
		smtpd_reply(s, "500 5.5.2 Error: line too long");
		return;
	case SMTPD_READ_OK:
		break;
	}
	if (msg_verbose) {
		/* An AUTH line may carry credentials (RFC 4954 4 initial
		 * response): only its first two words are shown. */
		size_t shown = buf_len(s->line);

		if (buf_len(s->line) >= 5 &&
		    strncasecmp(buf_str(s->line), "AUTH ", 5) == 0)
			shown = 5 + strcspn(buf_str(s->line) + 5, " ");
		msg_info("< %s[%s]: %.*s%s", s->name, s->addr, (int)shown,
		         buf_str(s->line),
		         shown < buf_len(s->line) ? " ..." : "");
	}
	if (smtp_command_parse(buf_str(s->line), buf_len(s->line), &cmd) < 0) {
		s->counts[SMTP_VERB_UNKNOWN].total++;
		smtpd_reply(s, "500 5.5.2 Error: bad syntax");
		return;
	}
	def = &smtpd_cmds[cmd.verb];
	s->counts[cmd.verb].total++;
	if (def->fn == NULL) {
		smtpd_reply(s, "500 5.5.2 Error: command not recognized");
		return;
	}
	s->where = def->word;
	if (buf_len(s->line) + 2 > smtp_verb_line_max(cmd.verb)) {
		smtpd_reply(s, "500 5.5.2 Error: line too long");
		return;
	}
	/* Postfix: past the junk limit each such command is an error. */
	if (def->junk && ++s->junk > smtpd_params.junk_command_limit)
		s->errors++;
	s->last_code = 0;
	def->fn(s, &cmd);
	if (s->last_code > 0 && s->last_code < 400)
		s->counts[cmd.verb].ok++;
}

void smtpd_proto_run(struct smtpd_session *s)
{
	smtpd_peer_init(s);
	smtpd_log_connect(s);
	if (smtpd_params.tls_wrappermode && smtpd_tls_wrapper(s) < 0) {
		/* RFC 8314 3.3: no plain text on an implicit TLS port. */
		s->quit = true;
	} else if (smtpd_connect_checks(s) == 0) {
		smtpd_reply(s, "220 %s", smtpd_params.banner);
	} else {
		s->quit = true;
	}
	while (!s->quit) {
		smtpd_command(s);
		if (!s->quit && s->errors >= smtpd_params.hard_error_limit) {
			smtpd_reply(s, "421 4.7.0 %s Error: too many errors",
			            smtpd_params.myhostname);
			smtpd_log_event(s, "too many errors");
			s->quit = true;
		}
	}
	smtpd_flush(s);
	smtpd_set_state(s, SMTPD_IDLE);
	if (s->anvil_counted) {
		struct policy_facts f;

		smtpd_facts(s, &f);
		policy_disconnect(smtpd_params.policy, &f,
		                  smtpd_params.service);
	}
	smtpd_log_disconnect(s);
}
