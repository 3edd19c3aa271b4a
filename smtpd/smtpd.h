/* smtpd.h: what the smtpd daemon's files share (smtpd/ only): the
 * daemon's parameters, the per-connection session state and each file's
 * entry points. The protocol and its policies are described in
 * docs/smtpd.md. */
#ifndef POSTHORN_SMTPD_H
#define POSTHORN_SMTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "cidr.h"
#include "cleanup_client.h"
#include "config.h"
#include "policy.h"
#include "queue_file.h"
#include "smtp_command.h"
#include "smtp_data.h"
#include "stream.h"
#include "tls.h"

/* smtpd_forbid_bare_newline (docs/smtpd.md). */
enum smtpd_bare_newline {
	SMTPD_BARE_NO,
	SMTPD_BARE_NORMALIZE,
	SMTPD_BARE_REJECT,
};

/* Parameters, read once in post_init (smtpd.c). */
struct smtpd_params {
	struct config *config;
	const char *service; /* master.cf name, for anvil */
	const char *myhostname;
	const char *mail_name;
	const char *banner;
	long long message_size_limit; /* 0: none */
	int timeout_ms; /* smtpd_timeout */
	long long recipient_limit;
	long long soft_error_limit, hard_error_limit;
	long long error_sleep_ms;
	long long junk_command_limit;
	enum smtpd_bare_newline bare_newline;
	struct cidr_list *bare_newline_exclusions;
	bool disable_vrfy;
	bool peername_lookup;
	bool tls_required; /* smtpd_tls_security_level=encrypt */
	bool tls_wrappermode; /* smtpd_tls_wrappermode */
	struct tls_ctx *tls; /* built on first use (smtpd_tls.c) */
	int starttls_timeout_ms; /* smtpd_starttls_timeout */
	long long tls_loglevel; /* smtpd_tls_loglevel */
	bool tls_received_header; /* smtpd_tls_received_header */
	/* AUTH (smtpd_auth.c). */
	bool sasl_enable; /* smtpd_sasl_auth_enable */
	bool tls_auth_only; /* smtpd_tls_auth_only */
	bool sasl_required; /* smtpd_sasl_auth_required */
	long long sasl_delay_ms; /* smtpd_sasl_failure_delay */
	long long sasl_delay_max_ms; /* its cap: 30 s, smtpd_timeout / 2 */
	long long auth_rate_limit; /* smtpd_client_auth_rate_limit */
	struct policy *policy;
};
extern struct smtpd_params smtpd_params;

/* Bytes one read from the client takes at most, and the most s->in
 * holds: one longest command line plus one read. */
#define SMTPD_READ_MAX (64 * 1024)
#define SMTPD_IN_MAX (SMTP_LINE_MAX_ANY + 2 + SMTPD_READ_MAX)

/* Where the mail transaction stands; changed only by smtpd_set_state
 * (smtpd_session.c). */
enum smtpd_state {
	SMTPD_IDLE, /* no MAIL yet (or after RSET, HELO, a finished one) */
	SMTPD_MAIL, /* MAIL accepted, no recipient accepted yet */
	SMTPD_RCPT, /* at least one recipient accepted */
	SMTPD_BDAT, /* BDAT chunks came, not the LAST one yet */
};

/* Per command verb: how often it came and how often it succeeded (for
 * the "disconnect from" line). */
struct smtpd_count {
	int total, ok;
};

/* One SMTP connection. */
struct smtpd_session {
	struct stream *client;
	struct buf *in; /* bytes read from the client ... */
	size_t in_off; /* ... of which the first in_off are used */
	struct buf *line; /* the command being handled */
	/* The client (smtpd_peer.c). */
	char addr[64]; /* "192.0.2.1", "2001:db8::1" */
	char rfc_addr[72]; /* "192.0.2.1", "IPv6:2001:db8::1" */
	char port[8];
	char name[256]; /* verified reverse name or "unknown" */
	bool bare_newline_excluded;
	/* Protocol state. */
	char *helo; /* HELO/EHLO argument, NULL before */
	bool esmtp; /* EHLO (not HELO) */
	/* STARTTLS (smtpd_tls.c) and AUTH (later) set these. */
	bool tls;
	bool helo_required; /* after STARTTLS: EHLO again (RFC 3207 4.2) */
	char *sasl_method, *sasl_username;
	long long auth_failures; /* failed AUTH attempts (535) */
	/* smtpd_delay_reject=no: a CONNECT-stage refusal, repeated to every
	 * MAIL, RCPT, DATA, BDAT and VRFY. */
	char *connect_reject;
	bool anvil_counted;
	/* The mail transaction. */
	enum smtpd_state state;
	struct buf *sender;
	struct smtp_mail_args mail;
	long long rcpt_count; /* accepted */
	long long rcpt_tried; /* RCPT commands in this transaction */
	struct buf *first_rcpt;
	struct cleanup_client *cleanup; /* open from the first recipient */
	char queue_id[QUEUE_ID_MAX];
	bool cleanup_broken; /* a write to cleanup failed */
	struct smtp_data *bdat; /* the BDAT decoder, SMTPD_BDAT */
	long long bdat_bytes; /* BDAT octets received */
	long long msg_bytes; /* content bytes (canonical) so far */
	bool too_big; /* past message_size_limit */
	/* Limits and statistics. */
	long long errors; /* towards soft/hard_error_limit */
	long long junk; /* NOOP, RSET, VRFY, EXPN, HELP */
	struct smtpd_count counts[SMTP_VERB_COUNT];
	const char *where; /* last command verb, for "... after X" */
	int last_code; /* of the last reply */
	bool quit; /* end the session */
};

/* smtpd_session.c: create/destroy, the transaction. */
struct smtpd_session *smtpd_session_create(struct stream *client);
void smtpd_session_destroy(struct smtpd_session **sp);
/* Change the transaction state; SMTPD_IDLE also ends the transaction
 * (cleanup aborted, envelope forgotten). */
void smtpd_set_state(struct smtpd_session *s, enum smtpd_state state);
/* The protocol name for Received: and the queue file: SMTP, ESMTP,
 * ESMTPS, ESMTPA, ESMTPSA, or UTF8SMTP... (RFC 3848, RFC 6531 3.7.4). */
const char *smtpd_protocol(const struct smtpd_session *s);
/* Facts for the policy (pointers into s; valid until s changes). */
void smtpd_facts(const struct smtpd_session *s, struct policy_facts *f);
/* Open cleanup for the transaction and send the envelope so far (sender,
 * attributes). -1 with the SMTP reply already sent. */
int smtpd_cleanup_open(struct smtpd_session *s);

/* smtpd_peer.c: who the client is (address, port, verified name). */
/* Bound the resolver's waits (once per process). */
void smtpd_peer_init_resolver(void);
/* Fill s->addr, rfc_addr, port, name, bare_newline_excluded. */
void smtpd_peer_init(struct smtpd_session *s);

/* smtpd_reply.c: replies (RFC 5321 4.2, enhanced codes RFC 2034/3463). */
/* Send one reply line "CODE[ DSN] TEXT" (the format gives all of it,
 * without CRLF). 4xx/5xx count as errors; past smtpd_soft_error_limit
 * every reply is delayed (docs/smtpd.md). */
void smtpd_reply(struct smtpd_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A multi-line reply: every line but the last gets "CODE-". */
void smtpd_reply_lines(struct smtpd_session *s, int code,
                       const char *const *lines, size_t n);
/* Reply with a parser's refusal. */
void smtpd_reply_parse_error(struct smtpd_session *s,
                             const struct smtp_parse_error *err);
/* Reply with cleanup's verdict (status CLEANUP_TEMPFAIL/PERMFAIL, reason
 * "4.3.0 text"). */
void smtpd_reply_cleanup(struct smtpd_session *s, int status,
                         const char *reason);
/* Write out buffered replies; a failure ends the session. */
void smtpd_flush(struct smtpd_session *s);

/* smtpd_log.c: Postfix-format log lines. */
void smtpd_log_connect(const struct smtpd_session *s);
void smtpd_log_disconnect(const struct smtpd_session *s);
/* "NOQUEUE: reject: VERB from NAME[ADDR]: REPLY; from=<> to=<> proto=
 * helo=<>" (the queue ID instead of NOQUEUE once there is one), with
 * the facts in f (NULL: the session's). */
void smtpd_log_reject(const struct smtpd_session *s, const char *verb,
                      const struct policy_facts *f, const char *reply);
/* "timeout after VERB from NAME[ADDR]" and the like. */
void smtpd_log_event(const struct smtpd_session *s, const char *event);

/* smtpd_proto.c: the command loop. */
void smtpd_proto_run(struct smtpd_session *s);
/* Read more client bytes into s->in (flushing replies first when the read
 * may block). >0 bytes, 0 EOF, STREAM_TIMEOUT or STREAM_ERROR. */
ssize_t smtpd_fill(struct smtpd_session *s);
/* The unused input bytes; mark n of them used. */
const char *smtpd_in_peek(const struct smtpd_session *s, size_t *len);
void smtpd_in_consume(struct smtpd_session *s, size_t n);
/* End the session after a read failure r (0 EOF, STREAM_TIMEOUT, ...):
 * the 421 for a timeout, the log line. */
void smtpd_read_failed(struct smtpd_session *s, ssize_t r);

/* smtpd_cmd.c: HELO, EHLO, RSET, NOOP, QUIT, VRFY, EXPN, HELP, ETRN,
 * STARTTLS, AUTH. */
void smtpd_cmd_helo(struct smtpd_session *s, const struct smtp_command *c);
void smtpd_cmd_ehlo(struct smtpd_session *s, const struct smtp_command *c);
void smtpd_cmd_rset(struct smtpd_session *s, const struct smtp_command *c);
void smtpd_cmd_noop(struct smtpd_session *s, const struct smtp_command *c);
void smtpd_cmd_quit(struct smtpd_session *s, const struct smtp_command *c);
void smtpd_cmd_vrfy(struct smtpd_session *s, const struct smtp_command *c);
void smtpd_cmd_help(struct smtpd_session *s, const struct smtp_command *c);
void smtpd_cmd_not_implemented(struct smtpd_session *s,
                               const struct smtp_command *c);

/* smtpd_tls.c: STARTTLS (RFC 3207) and wrapper mode (RFC 8314). */
/* Build the server context (pre_jail_init: keys may be root-only). */
void smtpd_tls_init(struct config *c);
/* Is STARTTLS offered (TLS wanted and its settings loadable so far)? The
 * server context itself is built on the first handshake. */
bool smtpd_tls_offered(void);
/* Free the context and wipe the key material (pre_exit). */
void smtpd_tls_deinit(void);
void smtpd_cmd_starttls(struct smtpd_session *s, const struct smtp_command *c);
/* Wrapper mode: the handshake before the greeting; -1: end the session
 * (logged). */
int smtpd_tls_wrapper(struct smtpd_session *s);
/* The Received: header's TLS comment, or nothing. */
void smtpd_tls_received(const struct smtpd_session *s, struct buf *out);

/* smtpd_auth.c: AUTH (RFC 4954) with SASL PLAIN and LOGIN. */
/* Read the AUTH parameters (post_init). */
void smtpd_auth_init(struct config *c);
void smtpd_auth_deinit(void);
/* Is AUTH offered to this session (the EHLO keyword)? */
bool smtpd_auth_offered(const struct smtpd_session *s);
void smtpd_cmd_auth(struct smtpd_session *s, const struct smtp_command *c);
/* smtpd_sasl_auth_required: true when MAIL must be refused (the 530 is
 * sent). */
bool smtpd_auth_required(struct smtpd_session *s);

/* smtpd_mail.c: MAIL and RCPT. */
void smtpd_cmd_mail(struct smtpd_session *s, const struct smtp_command *c);
void smtpd_cmd_rcpt(struct smtpd_session *s, const struct smtp_command *c);
/* Ask the policy about stage with the facts f; on a refusal send its
 * reply and log it as a reject of verb. true when permitted. */
bool smtpd_policy(struct smtpd_session *s, enum policy_stage stage,
                  const struct policy_facts *f, const char *verb);
/* The refusal every transaction command gets before its own checks
 * (smtpd_delay_reject=no CONNECT refusal, TLS required); true when it
 * was sent. */
bool smtpd_refuse_early(struct smtpd_session *s);

/* smtpd_data.c: DATA and BDAT. */
void smtpd_cmd_data(struct smtpd_session *s, const struct smtp_command *c);
void smtpd_cmd_bdat(struct smtpd_session *s, const struct smtp_command *c);

#endif
