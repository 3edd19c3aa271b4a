/*
 * smtpd_auth.c: SMTP AUTH (RFC 4954) with SASL PLAIN (RFC 4616) and
 * LOGIN for submission: when AUTH is offered (EHLO keyword), the AUTH
 * command and its 334 exchange, the password check (lib/auth.h), and the
 * brute-force brakes: a failure delay that doubles with each failure of
 * the session and of the client address (counted by anvil, so parallel
 * guessers from one address slow each other down), the AUTH command rate
 * limit (smtpd_client_auth_rate_limit), and smtpd_hard_error_limit (every
 * 535 is an error). Also smtpd_sasl_auth_required for MAIL (RFC 4954 6:
 * 530 5.7.0). Owns the process's anvil client for AUTH events.
 * RFC 4954 4 (the command, initial response, "=", "*", 334, 12288-octet
 * lines, 503 after success or inside a transaction), 6 (235 2.7.0, 454
 * 4.7.0, 500 5.5.6, 501 5.7.0, 504 5.5.4, 530 5.7.0, 535 5.7.8, 538
 * 5.7.11); RFC 3207 (only after STARTTLS unless smtpd_tls_auth_only=no).
 * SECURITY: every byte of the exchange is client data: each response line
 * is bounded (SASL_LINE_MAX; longer ones are read to their end and
 * dropped, 500 5.5.6) and read with the smtpd_timeout deadline; decoding
 * and field limits are in lib/sasl.c. Credentials are never logged (the
 * verbose command log shows only the mechanism); the buffers that held
 * them (the response line, the consumed input, the sasl state) are wiped.
 * Log lines name the client and the login name, never the password.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "anvil_client.h"
#include "auth.h"
#include "cidr.h"
#include "mem.h"
#include "msg.h"
#include "sasl.h"
#include "smtpd.h"
#include "str.h"

/* The anvil key under which AUTH failures are counted: one counter per
 * client address for every smtpd service (25, 587, 465 alike). */
#define SMTPD_AUTH_ANVIL_SERVICE "sasl"
#define SMTPD_AUTH_ANVIL_FAIL "fail"
/* The event the AUTH command rate limit counts (per service). */
#define SMTPD_AUTH_ANVIL_CMD "auth"
/* The longest failure delay (also at most smtpd_timeout / 2). */
#define SMTPD_AUTH_DELAY_MAX_MS 30000LL

static struct anvil_client *smtpd_auth_anvil;
static struct cidr_list *smtpd_auth_exceptions;

void smtpd_auth_init(struct config *c)
{
	struct buf *err = buf_create(128, 1024);
	long long timeout_s = config_time(c, "smtpd_timeout");

	smtpd_params.sasl_enable = config_bool(c, "smtpd_sasl_auth_enable");
	smtpd_params.tls_auth_only = config_bool(c, "smtpd_tls_auth_only");
	smtpd_params.sasl_required = config_bool(c, "smtpd_sasl_auth_required");
	smtpd_params.sasl_delay_ms =
	    config_time(c, "smtpd_sasl_failure_delay") * 1000;
	smtpd_params.sasl_delay_max_ms = SMTPD_AUTH_DELAY_MAX_MS;
	if (timeout_s * 1000 / 2 < smtpd_params.sasl_delay_max_ms)
		smtpd_params.sasl_delay_max_ms = timeout_s * 1000 / 2;
	smtpd_params.auth_rate_limit =
	    config_int(c, "smtpd_client_auth_rate_limit");
	smtpd_auth_exceptions = cidr_list_create(
	    config_str(c, "smtpd_client_event_limit_exceptions"), err);
	if (smtpd_auth_exceptions == NULL)
		msg_warn("smtpd_client_event_limit_exceptions: %s (no "
		         "exceptions apply)",
		         buf_str(err));
	buf_destroy(&err);
}

void smtpd_auth_deinit(void)
{
	anvil_client_destroy(&smtpd_auth_anvil);
	cidr_list_destroy(&smtpd_auth_exceptions);
}

bool smtpd_auth_offered(const struct smtpd_session *s)
{
	/* RFC 4954 4 and smtpd_tls_auth_only: plain-text passwords only
	 * inside TLS unless the administrator says otherwise. */
	return smtpd_params.sasl_enable &&
	       (s->tls || !smtpd_params.tls_auth_only);
}

bool smtpd_auth_required(struct smtpd_session *s)
{
	if (!smtpd_params.sasl_required || s->sasl_username != NULL)
		return false;
	/* RFC 4954 6: 530 5.7.0 Authentication required. */
	smtpd_reply(s, "530 5.7.0 Authentication required");
	return true;
}

static struct anvil_client *smtpd_auth_anvil_client(void)
{
	if (smtpd_auth_anvil == NULL)
		smtpd_auth_anvil = anvil_client_create(smtpd_params.config);
	return smtpd_auth_anvil;
}

static void smtpd_auth_sleep_ms(long long ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Overwrite the client input that has been used (it may hold
 * credentials): the consumed prefix of s->in, or, when s->in was emptied,
 * the memory behind it. */
static void smtpd_auth_wipe_input(struct smtpd_session *s)
{
	char *p;

	/* The stream's read buffer held the line before s->in did. */
	stream_wipe(s->client);
	if (s->in_off > 0) {
		explicit_bzero(buf_data(s->in), s->in_off);
		return;
	}
	if (buf_len(s->in) == 0 &&
	    (p = buf_reserve(s->in, buf_limit(s->in))) != NULL)
		explicit_bzero(p, buf_limit(s->in));
}

/* Read one response line of the exchange into line (without CRLF).
 * 1: a line; 0: the line was too long (read to its end and dropped);
 * -1: the read failed (the session is over, logged). */
static int smtpd_auth_read(struct smtpd_session *s, struct buf *line)
{
	bool discarding = false;

	for (;;) {
		size_t len, n;
		const char *d = smtpd_in_peek(s, &len);
		const char *lf = memchr(d, '\n', len);
		ssize_t r;

		if (lf != NULL) {
			n = (size_t)(lf - d);
			if (discarding || n > SASL_LINE_MAX + 1) {
				smtpd_in_consume(s, n + 1);
				return 0;
			}
			sasl_buf_wipe(line);
			(void)buf_append(line, d,
			                 n > 0 && d[n - 1] == '\r' ? n - 1 : n);
			smtpd_in_consume(s, n + 1);
			return 1;
		}
		if (len > SASL_LINE_MAX + 1) {
			discarding = true;
			smtpd_in_consume(s, len);
		}
		if ((r = smtpd_fill(s)) <= 0) {
			smtpd_read_failed(s, r);
			return -1;
		}
	}
}

/* The delay before a 535: smtpd_sasl_failure_delay doubled for each
 * earlier failure of this session or (when larger) of this client
 * address in anvil's current time unit, capped. */
static long long smtpd_auth_delay_ms(struct smtpd_session *s)
{
	int rate = 0;
	long long n = s->auth_failures, ms = smtpd_params.sasl_delay_ms;

	/* Every failure counts, mynetworks too: guessing a password is
	 * not a client's event the exceptions are meant for. */
	if (anvil_event(smtpd_auth_anvil_client(), SMTPD_AUTH_ANVIL_SERVICE,
	                s->addr, SMTPD_AUTH_ANVIL_FAIL, &rate) == 0 &&
	    rate > n)
		n = rate;
	for (long long i = 1; i < n && ms < smtpd_params.sasl_delay_max_ms; i++)
		ms *= 2;
	if (ms > smtpd_params.sasl_delay_max_ms)
		ms = smtpd_params.sasl_delay_max_ms;
	return ms;
}

/* smtpd_client_auth_rate_limit: true when this AUTH is over the limit
 * (the 450 is sent, the password not looked at). */
static bool smtpd_auth_rate_exceeded(struct smtpd_session *s)
{
	int rate = 0;

	if (smtpd_params.auth_rate_limit <= 0)
		return false;
	if (smtpd_auth_exceptions != NULL &&
	    cidr_list_match(smtpd_auth_exceptions, s->addr) == 1)
		return false;
	if (anvil_event(smtpd_auth_anvil_client(), smtpd_params.service,
	                s->addr, SMTPD_AUTH_ANVIL_CMD, &rate) < 0)
		return false; /* fail open, as the connection limits */
	if (rate <= smtpd_params.auth_rate_limit)
		return false;
	msg_warn("AUTH command rate limit exceeded: %d from %s[%s] for "
	         "service %s",
	         rate, s->name, s->addr, smtpd_params.service);
	smtpd_reply(s, "450 4.7.1 Error: too many AUTH commands from %s",
	            s->addr);
	return true;
}

/* Check the credentials of a complete exchange and answer. */
static void smtpd_auth_check(struct smtpd_session *s, struct sasl_server *ss,
                             enum sasl_mech mech)
{
	struct buf *user = buf_create(64, 1024);
	struct buf *why = buf_create(64, 1024);
	const char *login = sasl_server_authcid(ss);
	const char *pass;
	size_t plen;
	enum auth_status st;

	pass = sasl_server_password(ss, &plen);
	st = auth_verify(smtpd_params.config, login, pass, plen, user, why);
	switch (st) {
	case AUTH_OK:
		mem_free(s->sasl_method);
		mem_free(s->sasl_username);
		s->sasl_method = mem_strdup(sasl_mech_name(mech));
		s->sasl_username = mem_strdup(buf_str(user));
		/* RFC 4954 6. */
		smtpd_reply(s, "235 2.7.0 Authentication successful");
		break;
	case AUTH_TEMPFAIL:
		msg_warn("%s[%s]: SASL %s authentication failed: temporary "
		         "lookup failure: %s",
		         s->name, s->addr, sasl_mech_name(mech), buf_str(why));
		/* RFC 4954 6: 454 4.7.0 Temporary authentication failure. */
		smtpd_reply(s, "454 4.7.0 Temporary authentication failure");
		break;
	case AUTH_BAD: {
		long long ms;

		s->auth_failures++;
		msg_warn("%s[%s]: SASL %s authentication failed: %s, "
		         "sasl_username=%s",
		         s->name, s->addr, sasl_mech_name(mech), buf_str(why),
		         login);
		ms = smtpd_auth_delay_ms(s);
		/* What is buffered goes out first: the delay is on the
		 * 535 alone. */
		smtpd_flush(s);
		if (ms > 0)
			smtpd_auth_sleep_ms(ms);
		/* RFC 4954 6: 535 5.7.8; it counts towards
		 * smtpd_hard_error_limit like every 5xx. */
		smtpd_reply(s, "535 5.7.8 Error: authentication failed");
		break;
	}
	}
	buf_destroy(&user);
	buf_destroy(&why);
}

/* The AUTH command's own checks; true when it may go on. */
static bool smtpd_auth_allowed(struct smtpd_session *s)
{
	if (!smtpd_params.sasl_enable) {
		smtpd_reply(s, "503 5.5.1 Error: authentication not enabled");
		return false;
	}
	if (!s->esmtp || s->helo_required) {
		/* RFC 4954 3: AUTH is an ESMTP extension: EHLO first (and
		 * again after STARTTLS, RFC 3207 4.2). */
		smtpd_reply(s, "503 5.5.1 Error: send EHLO first");
		return false;
	}
	if (!smtpd_auth_offered(s)) {
		/* RFC 4954 6: 538 5.7.11 Encryption required for requested
		 * authentication mechanism. */
		smtpd_reply(s, "538 5.7.11 Encryption required for requested "
		               "authentication mechanism");
		return false;
	}
	if (s->sasl_username != NULL) {
		/* RFC 4954 4: after a successful AUTH, 503. */
		smtpd_reply(s, "503 5.5.1 Error: already authenticated");
		return false;
	}
	if (s->state != SMTPD_IDLE) {
		/* RFC 4954 4: not permitted during a mail transaction. */
		smtpd_reply(s, "503 5.5.1 Error: MAIL transaction in progress");
		return false;
	}
	return true;
}

void smtpd_cmd_auth(struct smtpd_session *s, const struct smtp_command *c)
{
	struct sasl_server *ss = NULL;
	struct buf *challenge, *line;
	enum sasl_mech mech;
	enum sasl_status st;
	const char *arg = c->arg, *sp, *ir = NULL;
	size_t mlen, irlen = 0;

	if (!smtpd_auth_allowed(s))
		goto wipe;
	/* RFC 4954 4: AUTH mechanism [initial-response]. */
	sp = memchr(arg, ' ', c->arglen);
	mlen = sp ? (size_t)(sp - arg) : c->arglen;
	if (mlen == 0) {
		smtpd_reply(s, "501 5.5.4 Syntax: AUTH mechanism");
		goto wipe;
	}
	if (sp != NULL) {
		ir = sp + 1;
		irlen = c->arglen - mlen - 1;
		if (irlen == 0 || memchr(ir, ' ', irlen) != NULL) {
			smtpd_reply(s, "501 5.5.4 Syntax: AUTH mechanism "
			               "[initial-response]");
			goto wipe;
		}
	}
	if (sasl_mech_parse(arg, mlen, &mech) < 0) {
		/* RFC 4954 4: 504 for a mechanism not supported. */
		smtpd_reply(s, "504 5.5.4 Unsupported authentication "
		               "mechanism");
		goto wipe;
	}
	if (smtpd_auth_rate_exceeded(s))
		goto wipe;
	challenge = buf_create(64, 1024);
	line = buf_create(SASL_LINE_MAX + 2, SASL_LINE_MAX + 2);
	ss = sasl_server_create(mech);
	st = sasl_server_start(ss, ir, irlen, challenge);
	while (st == SASL_CONTINUE) {
		int r;

		smtpd_reply(s, "334 %s", buf_str(challenge));
		smtpd_flush(s);
		if (s->quit)
			break;
		if ((r = smtpd_auth_read(s, line)) < 0)
			break;
		if (r == 0) {
			/* RFC 4954 6: 500 5.5.6 Authentication Exchange
			 * line is too long. */
			smtpd_reply(s, "500 5.5.6 Authentication exchange "
			               "line is too long");
			break;
		}
		st = sasl_server_step(ss, buf_str(line), buf_len(line),
		                      challenge);
		sasl_buf_wipe(line);
		smtpd_auth_wipe_input(s);
	}
	switch (st) {
	case SASL_CONTINUE:
		break; /* read failure or overlong line: answered */
	case SASL_CANCEL:
		/* RFC 4954 4: "*" ends the exchange with 501. */
		smtpd_reply(s, "501 5.7.0 Authentication aborted");
		break;
	case SASL_ERROR:
		msg_warn("%s[%s]: SASL %s authentication failed: %s", s->name,
		         s->addr, sasl_mech_name(mech), sasl_server_error(ss));
		/* RFC 4954 4: a response that cannot be decoded gets 501. */
		smtpd_reply(s,
		            "501 5.5.2 Error: invalid authentication "
		            "response (%s)",
		            sasl_server_error(ss));
		break;
	case SASL_DONE:
		smtpd_auth_check(s, ss, mech);
		break;
	}
	sasl_server_destroy(&ss);
	sasl_buf_wipe(line);
	buf_destroy(&line);
	buf_destroy(&challenge);
wipe:
	/* The command line may hold an initial response. */
	explicit_bzero(buf_data(s->line), buf_len(s->line));
	smtpd_auth_wipe_input(s);
}
