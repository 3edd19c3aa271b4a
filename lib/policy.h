/* policy.h: smtpd access policy with Postfix's names and semantics
 * (docs/policy.md): the restriction lists smtpd_client_restrictions,
 * smtpd_helo_restrictions, smtpd_sender_restrictions,
 * smtpd_relay_restrictions and smtpd_recipient_restrictions; relay
 * control (mynetworks, mydestination, relay_domains, virtual_*_domains);
 * recipient validation (smtpd_reject_unlisted_recipient); the sender
 * login checks (reject_*sender_login_mismatch, sender_login.h); the
 * per-client connection count/rate limits (through anvil).
 *
 * Use from smtpd (one struct policy per process, created after the
 * privilege drop and reused for every session; tables are opened on first
 * use and kept):
 *   at connect:  policy_connect_limits (421 + close when it says so), then
 *                policy_check(POLICY_STAGE_CONNECT)
 *   HELO/EHLO:   policy_check(POLICY_STAGE_HELO)
 *   MAIL FROM:   policy_check(POLICY_STAGE_MAIL)
 *   RCPT TO:     policy_check(POLICY_STAGE_RCPT)
 *   session end: policy_disconnect (if policy_connect_limits counted it)
 * With smtpd_delay_reject=yes (the default) the CONNECT, HELO and MAIL
 * stages always answer POLICY_OK and their restrictions run at RCPT time,
 * before the relay and recipient restrictions, as Postfix does. With
 * smtpd_delay_reject=no a CONNECT-stage reject is kept by smtpd and sent
 * in answer to every later MAIL/RCPT/... (Postfix's behaviour). */
#ifndef POSTHORN_POLICY_H
#define POSTHORN_POLICY_H

#include <stdbool.h>

#include "buf.h"
#include "config.h"

/* Longest reply text (one SMTP reply line without CRLF, RFC 5321
 * 4.5.3.1.5: 512 octets with CRLF). */
#define POLICY_REPLY_MAX 510

enum policy_stage {
	POLICY_STAGE_CONNECT, /* smtpd_client_restrictions */
	POLICY_STAGE_HELO, /* smtpd_helo_restrictions */
	POLICY_STAGE_MAIL, /* smtpd_sender_restrictions */
	POLICY_STAGE_RCPT, /* (delayed client/helo/sender), relay,
			       * recipient restrictions, then the unlisted
			       * recipient check */
};

enum policy_verdict {
	POLICY_OK = 0, /* go on: permitted or nothing said no */
	POLICY_DEFER = 4, /* reply (4xx) and refuse this command */
	POLICY_REJECT = 5, /* reply (5xx) and refuse this command */
};

/* What smtpd knows. Unknown things are NULL (or "" for sender <>). */
struct policy_facts {
	const char *client_address; /* "192.0.2.1", "2001:db8::1"; required */
	const char *client_name; /* verified reverse name, or "unknown" */
	const char *helo; /* HELO/EHLO argument, NULL before */
	const char *protocol; /* "SMTP", "ESMTP" (log only), or NULL */
	const char *sender; /* MAIL FROM mailbox, "" for <>, NULL
				     * before MAIL */
	const char *recipient; /* RCPT TO mailbox ("postmaster" for
				     * <Postmaster>), NULL before RCPT */
	const char *sasl_username; /* NULL or "" when not authenticated */
};

struct policy_result {
	enum policy_verdict verdict;
	int code; /* 0 for POLICY_OK, else the reply code (450, 554, ...) */
	/* The whole reply line, e.g. "554 5.7.1 <x@example.org>: Relay
	 * access denied"; "" for POLICY_OK. Control characters are replaced
	 * by '?' so it is always safe to send. */
	char reply[POLICY_REPLY_MAX + 1];
};

struct policy;

/* Read every policy parameter from c (kept: c must outlive the policy)
 * and parse the restriction lists. Never fails: a bad list (unknown
 * restriction, missing table argument) or a bad mynetworks is logged
 * (msg_warn) once and makes every check that reaches it answer
 * "451 4.3.5 Server configuration error", as Postfix does; so does a
 * setting where neither smtpd_relay_restrictions nor
 * smtpd_recipient_restrictions contains reject_unauth_destination,
 * defer_unauth_destination, reject or defer (no open relay by mistake).
 * Tables that cannot be opened give "451 4.3.0 ... Temporary lookup
 * failure" and are retried on the next use. */
struct policy *policy_create(struct config *c);
void policy_destroy(struct policy **pp);
/* smtpd_delay_reject. */
bool policy_delay_reject(const struct policy *p);

/* Evaluate the restrictions of stage for f. Returns the verdict and fills
 * out (always). Restrictions that need a fact that is NULL are skipped. */
enum policy_verdict policy_check(struct policy *p, enum policy_stage stage,
                                 const struct policy_facts *f,
                                 struct policy_result *out);

/* The Postfix log text for a refused command (smtpd prefixes "NOQUEUE: "
 * or "QUEUEID: "): "reject: RCPT from NAME[ADDR]: REPLY; from=<S>
 * to=<R> proto=ESMTP helo=<H>" (from/to/proto/helo only when known).
 * command is "CONNECT", "HELO", "EHLO", "MAIL", "RCPT", ... */
void policy_log_format(const struct policy_facts *f, const char *command,
                       const struct policy_result *r, struct buf *out);

/* Connection limits, at connect time, for service (master.cf name, e.g.
 * "smtp" or "10025"): unless the client is in
 * smtpd_client_event_limit_exceptions, anvil counts the connection and
 * when smtpd_client_connection_count_limit or
 * smtpd_client_connection_rate_limit (0: no limit) is exceeded the answer
 * is POLICY_DEFER with "421 4.7.0 MYHOSTNAME Error: too many connections
 * from ADDR" (smtpd sends it and hangs up) and a Postfix warning is
 * logged ("Connection concurrency limit exceeded: 51 from NAME[ADDR] for
 * service smtp"). anvil unreachable: POLICY_OK (fail open, logged once).
 * Call policy_disconnect when the session ends, whatever the verdict. */
enum policy_verdict policy_connect_limits(struct policy *p,
                                          const struct policy_facts *f,
                                          const char *service,
                                          struct policy_result *out);
void policy_disconnect(struct policy *p, const struct policy_facts *f,
                       const char *service);

/* Is addr a hostname Postfix would accept (RFC 1035 labels of letters,
 * digits, '-', '_'; at most 63/255 octets; not all numeric)? */
bool policy_valid_hostname(const char *name);

#endif
