/*
 * sendmail_smtp.c: `sendmail -bs`, an SMTP dialogue on standard input and
 * output for local submission (RFC 5321): HELO, EHLO, MAIL, RCPT, DATA,
 * RSET, NOOP, QUIT (VRFY, EXPN and the rest are refused). Each message
 * goes through postdrop like any other sendmail submission, and 250 is
 * sent only after postdrop reported it on disk. ESMTP: 8BITMIME, SIZE
 * (RFC 1870), DSN (RFC 3461: NOTIFY, ORCPT, RET, ENVID), SMTPUTF8 (RFC
 * 6531), ENHANCEDSTATUSCODES (RFC 2034), PIPELINING (RFC 2920: replies
 * simply come in order). Lines may end in CRLF or a bare LF.
 * SECURITY: input from the invoking user. Command lines are bounded
 * (SM_SMTP_LINE_MAX; longer ones are refused after being read to their
 * end), recipients by smtpd_recipient_limit, content by
 * message_size_limit (counted while streaming, never buffered), errors by
 * smtpd_hard_error_limit.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "address.h"
#include "buf.h"
#include "maildrop.h"
#include "mem.h"
#include "msg.h"
#include "number.h"
#include "str.h"
#include "sendmail.h"

/* RFC 5321 4.5.3.1.4: 512 octets a command line; ESMTP parameters make
 * them longer (RFC 1869 4.1.2), so allow some room. */
#define SM_SMTP_LINE_MAX 4096
#define SM_SMTP_PIECE_MAX (64 * 1024)

/* Where the session is (changed only by sm_smtp_set_state). */
enum sm_smtp_state {
	SM_SMTP_IDLE, /* no transaction */
	SM_SMTP_MAIL, /* MAIL FROM given */
	SM_SMTP_RCPT, /* at least one RCPT TO */
};

struct sm_smtp {
	struct sm_ctx *ctx;
	struct sm_reader *in;
	enum sm_smtp_state state;
	struct sm_message m;
	struct buf *sender, *envid, *line;
	int errors, error_limit;
	size_t rcpt_limit;
	bool quit;
};

static void sm_smtp_set_state(struct sm_smtp *s, enum sm_smtp_state state)
{
	if (state == SM_SMTP_IDLE) {
		sm_message_clear(&s->m);
		s->m.envid = NULL;
		s->m.ret = NULL;
		buf_reset(s->sender);
		buf_reset(s->envid);
	}
	s->state = state;
}

static void sm_smtp_reply(struct sm_smtp *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sm_smtp_reply(struct sm_smtp *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputs("\r\n", stdout);
	if (fflush(stdout) != 0) {
		/* The client is gone: nothing more to say. */
		s->quit = true;
	}
}

/* A 4xx/5xx reply counts towards the error limit. */
static void sm_smtp_error(struct sm_smtp *s, const char *text)
{
	sm_smtp_reply(s, "%s", text);
	if (++s->errors >= s->error_limit) {
		sm_smtp_reply(s, "421 4.7.0 Error: too many errors");
		s->quit = true;
	}
}

/* Read one command line (without its line end) into s->line. 1: a line,
 * 0: end of input, -1: too long (read to its end and dropped). */
static int sm_smtp_read_line(struct sm_smtp *s)
{
	const char *data;
	size_t len;
	bool bol, eol, too_long = false;
	int n;

	buf_reset(s->line);
	while ((n = sm_reader_next(s->in, &data, &len, &bol, &eol)) == 1) {
		if (!too_long && buf_append(s->line, data, len) < 0)
			too_long = true;
		if (eol)
			return too_long ? -1 : 1;
	}
	return 0;
}

/* RFC 3461 4: xtext decoding ("+" and two upper-case hex digits). -1 if
 * malformed. */
static int sm_xtext_decode(const char *in, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";

	buf_reset(out);
	for (const char *p = in; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '+') {
			const char *h1 = p[1] ? strchr(hex, p[1]) : NULL;
			const char *h2 = h1 && p[2] ? strchr(hex, p[2]) : NULL;
			if (h1 == NULL || h2 == NULL)
				return -1;
			c = (unsigned char)((h1 - hex) << 4 | (h2 - hex));
			p += 2;
		} else if (c < 0x21 || c > 0x7e || c == '=') {
			return -1;
		}
		if (buf_append_char(out, c) < 0)
			return -1;
	}
	return 0;
}

/* Is param "KEY=..." (or "KEY" alone) for key? Sets *value. */
static bool sm_smtp_param(const char *param, const char *key,
                          const char **value)
{
	size_t n = strlen(key);

	if (strncasecmp(param, key, n) != 0)
		return false;
	if (param[n] == '=') {
		*value = param + n + 1;
		return true;
	}
	if (param[n] == 0) {
		*value = NULL;
		return true;
	}
	return false;
}

/* The argument of "MAIL FROM:" / "RCPT TO:" (case-insensitive), or NULL. */
static const char *sm_smtp_arg(const char *line, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncasecmp(line, prefix, n) == 0 ? line + n : NULL;
}

static void sm_smtp_helo(struct sm_smtp *s, const char *arg, bool ehlo)
{
	const char *host = config_str(s->ctx->config, "myhostname");

	while (*arg == ' ')
		arg++;
	if (*arg == 0) {
		sm_smtp_error(s, ehlo ? "501 5.5.4 Syntax: EHLO hostname"
		                      : "501 5.5.4 Syntax: HELO hostname");
		return;
	}
	sm_smtp_set_state(s, SM_SMTP_IDLE);
	if (!ehlo) {
		sm_smtp_reply(s, "250 %s", host);
		return;
	}
	sm_smtp_reply(s, "250-%s", host);
	sm_smtp_reply(s, "250-PIPELINING");
	if (s->ctx->size_limit > 0)
		sm_smtp_reply(s, "250-SIZE %lld", s->ctx->size_limit);
	else
		sm_smtp_reply(s, "250-SIZE");
	sm_smtp_reply(s, "250-8BITMIME");
	sm_smtp_reply(s, "250-DSN");
	sm_smtp_reply(s, "250-SMTPUTF8");
	sm_smtp_reply(s, "250 ENHANCEDSTATUSCODES");
}

static void sm_smtp_mail(struct sm_smtp *s, const char *arg)
{
	const char *why = NULL, *value;
	size_t used;
	char *params, *p, *word;

	if (s->state != SM_SMTP_IDLE) {
		sm_smtp_error(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (address_parse_path(arg, strlen(arg),
	                       ADDRESS_ALLOW_NULL | ADDRESS_ALLOW_UTF8,
	                       s->sender, &used, &why) < 0) {
		sm_smtp_reply(s, "501 5.1.7 Bad sender address syntax (%s)",
		              why ? why : "syntax");
		s->errors++;
		return;
	}
	params = p = mem_strdup(arg + used);
	while ((word = str_token(&p, " \t")) != NULL) {
		long long size;

		if (sm_smtp_param(word, "SIZE", &value) && value) {
			if (number_parse(value, 0, 1LL << 50, &size, NULL) <
			    0) {
				sm_smtp_error(s, "501 5.5.4 Bad SIZE value");
				break;
			}
			if (s->ctx->size_limit > 0 &&
			    size > s->ctx->size_limit) {
				sm_smtp_error(s, "552 5.3.4 Message size "
				                 "exceeds fixed limit");
				break;
			}
		} else if (sm_smtp_param(word, "BODY", &value) && value) {
			if (!str_eq_ci(value, "7BIT") &&
			    !str_eq_ci(value, "8BITMIME")) {
				sm_smtp_error(s, "501 5.5.4 Bad BODY value");
				break;
			}
		} else if (sm_smtp_param(word, "SMTPUTF8", &value) &&
		           value == NULL) {
			continue;
		} else if (sm_smtp_param(word, "RET", &value) && value) {
			if (str_eq_ci(value, "FULL"))
				s->m.ret = "FULL";
			else if (str_eq_ci(value, "HDRS"))
				s->m.ret = "HDRS";
			else {
				sm_smtp_error(s, "501 5.5.4 Bad RET value");
				break;
			}
		} else if (sm_smtp_param(word, "ENVID", &value) && value) {
			if (sm_xtext_decode(value, s->envid) < 0 ||
			    buf_len(s->envid) == 0 ||
			    buf_len(s->envid) > MAILDROP_ENVID_MAX) {
				sm_smtp_error(s, "501 5.5.4 Bad ENVID value");
				break;
			}
			s->m.envid = buf_str(s->envid);
		} else {
			sm_smtp_reply(s, "555 5.5.4 Unsupported option: %s",
			              word);
			s->errors++;
			break;
		}
	}
	mem_free(params);
	if (word != NULL) {
		/* A parameter was refused: no transaction. */
		sm_smtp_set_state(s, SM_SMTP_IDLE);
		return;
	}
	sm_smtp_set_state(s, SM_SMTP_MAIL);
	sm_smtp_reply(s, "250 2.1.0 Ok");
}

static void sm_smtp_rcpt(struct sm_smtp *s, const char *arg)
{
	struct buf *addr = buf_create(64, 1024), *orcpt = buf_create(64, 1024);
	const char *why = NULL, *value;
	int notify = 0;
	size_t used;
	char *params, *p, *word;

	if (s->state == SM_SMTP_IDLE) {
		sm_smtp_error(s, "503 5.5.1 Error: need MAIL command");
		goto out;
	}
	if (s->m.nrcpts >= s->rcpt_limit) {
		sm_smtp_reply(s, "452 4.5.3 Error: too many recipients");
		goto out;
	}
	if (address_parse_path(arg, strlen(arg),
	                       ADDRESS_ALLOW_UTF8 | ADDRESS_ALLOW_POSTMASTER,
	                       addr, &used, &why) < 0 ||
	    buf_len(addr) == 0) {
		sm_smtp_reply(s, "501 5.1.3 Bad recipient address syntax (%s)",
		              why ? why : "syntax");
		s->errors++;
		goto out;
	}
	params = p = mem_strdup(arg + used);
	while ((word = str_token(&p, " \t")) != NULL) {
		if (sm_smtp_param(word, "NOTIFY", &value) && value) {
			if ((notify = queue_notify_parse(value)) < 0) {
				sm_smtp_error(s, "501 5.5.4 Bad NOTIFY value");
				break;
			}
		} else if (sm_smtp_param(word, "ORCPT", &value) && value) {
			/* RFC 3461 4.2: addr-type ";" xtext. */
			const char *semi = strchr(value, ';');
			if (semi == NULL || semi == value ||
			    sm_xtext_decode(semi + 1, orcpt) < 0 ||
			    buf_len(orcpt) == 0 ||
			    buf_len(orcpt) + (size_t)(semi - value) + 1 >
			        MAILDROP_ORCPT_MAX ||
			    !str_no_nul(buf_str(orcpt), buf_len(orcpt))) {
				sm_smtp_error(s, "501 5.5.4 Bad ORCPT value");
				break;
			}
			struct buf *full = buf_create(64, 2048);
			buf_printf(full, "%.*s;%s", (int)(semi - value), value,
			           buf_str(orcpt));
			buf_set_str(orcpt, buf_str(full));
			buf_destroy(&full);
		} else {
			sm_smtp_reply(s, "555 5.5.4 Unsupported option: %s",
			              word);
			s->errors++;
			break;
		}
	}
	mem_free(params);
	if (word != NULL)
		goto out;
	sm_message_add_rcpt(&s->m, buf_str(addr), buf_str(orcpt),
	                    notify ? notify : s->m.notify);
	sm_smtp_set_state(s, SM_SMTP_RCPT);
	sm_smtp_reply(s, "250 2.1.5 Ok");
out:
	buf_destroy(&addr);
	buf_destroy(&orcpt);
}

/* DATA: stream the content (RFC 5321 4.5.2: a leading dot is removed; a
 * line holding only "." ends it) to postdrop. */
static void sm_smtp_data(struct sm_smtp *s, const char *arg)
{
	struct buf *err = buf_create(0, 4096);
	struct sm_drop *d = NULL;
	char id[QUEUE_ID_MAX];
	const char *data;
	size_t len;
	bool bol, eol, too_big = false, ended = false;
	int n, status;

	if (*arg != 0) {
		sm_smtp_error(s, "501 5.5.4 Syntax: DATA");
		goto out;
	}
	if (s->state != SM_SMTP_RCPT) {
		sm_smtp_error(s, s->state == SM_SMTP_IDLE
		                     ? "503 5.5.1 Error: need MAIL command"
		                     : "554 5.5.1 Error: no valid "
		                       "recipients");
		goto out;
	}
	s->m.sender = buf_str(s->sender);
	if ((d = sm_drop_open(s->ctx, &s->m, &status, err)) == NULL) {
		msg_warn("%s", buf_str(err));
		sm_smtp_reply(s, "451 4.3.0 Error: queue file write error");
		sm_smtp_set_state(s, SM_SMTP_IDLE);
		goto out;
	}
	sm_smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	while ((n = sm_reader_next(s->in, &data, &len, &bol, &eol)) == 1) {
		if (bol && len > 0 && data[0] == '.') {
			if (eol && len == 1) {
				ended = true;
				break;
			}
			data++;
			len--;
		}
		if (too_big)
			continue;
		/* A broken pipe shows in sm_drop_close's verdict. */
		(void)(sm_drop_write(d, data, len) == 0 && eol &&
		       sm_drop_write(d, "\n", 1) == 0);
		if (s->ctx->size_limit > 0 &&
		    sm_drop_size(d) > s->ctx->size_limit)
			too_big = true;
	}
	if (!ended) {
		/* The client went away inside DATA: nothing is queued. */
		(void)sm_drop_close(&d, false, NULL, 0, err);
		s->quit = true;
		goto out;
	}
	if (too_big) {
		(void)sm_drop_close(&d, false, NULL, 0, err);
		sm_smtp_error(s, "552 5.3.4 Message size exceeds fixed limit");
	} else if ((status = sm_drop_close(&d, true, id, sizeof(id), err)) ==
	           0) {
		sm_smtp_reply(s, "250 2.0.0 Ok: queued as %s", id);
	} else {
		msg_warn("%s", buf_str(err));
		sm_smtp_error(s, status == EX_DATAERR
		                     ? "554 5.6.0 Error: malformed message"
		                     : "451 4.3.0 Error: queue file write "
		                       "error");
	}
	sm_smtp_set_state(s, SM_SMTP_IDLE);
out:
	buf_destroy(&err);
}

int sm_smtp_session(struct sm_ctx *ctx)
{
	struct sm_smtp s;
	int n;

	memset(&s, 0, sizeof(s));
	s.ctx = ctx;
	s.in = sm_reader_create(0, SM_SMTP_PIECE_MAX);
	s.sender = buf_create(64, 1024);
	s.envid = buf_create(64, 1024);
	s.line = buf_create(256, SM_SMTP_LINE_MAX);
	s.error_limit = (int)config_int(ctx->config, "smtpd_hard_error_limit");
	s.rcpt_limit = (size_t)config_int(ctx->config, "smtpd_recipient_limit");
	if (s.rcpt_limit > MAILDROP_RCPT_MAX)
		s.rcpt_limit = MAILDROP_RCPT_MAX;
	s.m.dot_ends = true;

	sm_smtp_reply(&s, "220 %s", config_str(ctx->config, "smtpd_banner"));
	while (!s.quit) {
		const char *line, *arg;
		if ((n = sm_smtp_read_line(&s)) == 0)
			break;
		if (n < 0) {
			sm_smtp_error(&s, "500 5.5.2 Error: line too long");
			continue;
		}
		line = buf_str(s.line);
		if (!str_no_nul(line, buf_len(s.line))) {
			sm_smtp_error(&s, "500 5.5.2 Error: bad syntax");
			continue;
		}
		if (str_has_prefix_ci(line, "HELO ") || str_eq_ci(line, "HELO"))
			sm_smtp_helo(&s, line + 4, false);
		else if (str_has_prefix_ci(line, "EHLO ") ||
		         str_eq_ci(line, "EHLO"))
			sm_smtp_helo(&s, line + 4, true);
		else if ((arg = sm_smtp_arg(line, "MAIL FROM:")) != NULL)
			sm_smtp_mail(&s, arg);
		else if ((arg = sm_smtp_arg(line, "RCPT TO:")) != NULL)
			sm_smtp_rcpt(&s, arg);
		else if (str_eq_ci(line, "DATA") ||
		         str_has_prefix_ci(line, "DATA "))
			sm_smtp_data(&s, line + 4);
		else if (str_eq_ci(line, "RSET")) {
			sm_smtp_set_state(&s, SM_SMTP_IDLE);
			sm_smtp_reply(&s, "250 2.0.0 Ok");
		} else if (str_eq_ci(line, "NOOP") ||
		           str_has_prefix_ci(line, "NOOP "))
			sm_smtp_reply(&s, "250 2.0.0 Ok");
		else if (str_eq_ci(line, "QUIT")) {
			sm_smtp_reply(&s, "221 2.0.0 Bye");
			s.quit = true;
		} else if (str_has_prefix_ci(line, "VRFY") ||
		           str_has_prefix_ci(line, "EXPN"))
			sm_smtp_error(&s, "502 5.5.1 Error: command not "
			                  "implemented");
		else if (str_has_prefix_ci(line, "MAIL") ||
		         str_has_prefix_ci(line, "RCPT"))
			sm_smtp_error(&s, "501 5.5.4 Syntax error in "
			                  "parameters");
		else
			sm_smtp_error(&s, "502 5.5.2 Error: command not "
			                  "recognized");
	}
	sm_smtp_set_state(&s, SM_SMTP_IDLE);
	sm_reader_destroy(&s.in);
	buf_destroy(&s.sender);
	buf_destroy(&s.envid);
	buf_destroy(&s.line);
	return EX_OK;
}
