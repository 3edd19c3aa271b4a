/* smtp.h: the smtp delivery agent's own declarations (shared by
 * smtp/smtp*.c only). */
#ifndef POSTHORN_SMTP_H
#define POSTHORN_SMTP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "deliver.h"
#include "dns.h"
#include "mime_qp.h"
#include "smtp_reply.h"
#include "stream.h"
#include "tls.h"
#include "tls_policy.h"

/* Settings read once per process (post_init). Times in milliseconds. */
struct smtp_params {
	int port; /* smtp_tcp_port */
	int connect_ms, helo_ms, mail_ms, rcpt_ms, data_init_ms, data_xfer_ms,
	    data_done_ms, rset_ms, quit_ms;
	long long mx_address_limit, mx_session_limit;
	bool cache_on_demand;
	int cache_time_ms;
	long long reuse_count_limit;
	long long reuse_time_ms;
	long long line_length_limit;
	bool downgrade_8bit;
	int families; /* DNS_WANT_V4 | DNS_WANT_V6 */
	int prefer; /* 0 any, AF_INET or AF_INET6 */
	const char *helo_name;
	const char *myhostname;
	bool have_bind4, have_bind6;
	struct dns_addr bind4, bind6;
	struct dns_addr *local; /* this host's addresses (loop detection) */
	size_t nlocal;
	int ipc_ms;
	int tls_level; /* smtp_tls_security_level: SMTP_TLS_* */
	struct tls_ctx *tls; /* built in pre_jail_init; NULL: none */
	long long tls_loglevel; /* smtp_tls_loglevel */
};
extern struct smtp_params smtp_params;

/* smtp_tls_security_level (RFC 3207): enum tls_level values. */
#define SMTP_TLS_NONE TLS_LEV_NONE
#define SMTP_TLS_MAY TLS_LEV_MAY /* STARTTLS when offered, else plain */
#define SMTP_TLS_ENCRYPT TLS_LEV_ENCRYPT /* STARTTLS or defer */
#define SMTP_TLS_VERIFY TLS_LEV_VERIFY /* + trusted chain, MX name */
#define SMTP_TLS_SECURE TLS_LEV_SECURE /* + trusted chain, nexthop */

/* The TLS policy of one request (smtp_tls.c). */
struct smtp_tls_policy {
	int level; /* SMTP_TLS_* */
	struct tls_match_list match; /* verify/secure: names to match */
	char *protocols; /* from the policy map, or NULL */
	char *nexthop; /* bare nexthop domain (nexthop, dot-nexthop) */
	bool from_map; /* smtp_tls_policy_maps had an entry */
};

/* One address to try. */
struct smtp_target {
	char *host; /* the MX host, or the nexthop host */
	int pref;
	struct dns_addr addr;
	int port;
};

/* A delivery error (or success) to report for recipients. */
struct smtp_outcome {
	int status; /* 2, 4, 5 */
	char dsn[16];
	struct buf *reason;
	char *relay; /* "host[addr]:port" or "none" */
};

/* Where the request's nexthop leads: targets in order, or an error. */
struct smtp_route {
	struct smtp_target *t;
	size_t n;
	bool failed; /* no targets: err says why */
	struct smtp_outcome err;
	bool loop_check; /* port is the SMTP port */
};

/* An open SMTP session (the cache owns idle ones). */
struct smtp_session {
	struct stream *stream;
	char *key; /* the cache key: nexthop and port */
	char *host;
	char addr[64];
	int port;
	char *namaddr; /* "host[addr]:port" */
	char *hostaddr; /* "host[addr]" for reply texts */
	unsigned features;
	bool tls; /* STARTTLS done */
	long long size_limit;
	int use_count; /* transactions started on it */
	long long created_ms, last_ms;
	bool broken; /* lost, timed out or 421: never reuse */
};

/* A recipient's state while the request is worked on. */
struct smtp_rcpt {
	bool final; /* outcome is settled */
	bool soft; /* out holds a soft error; the next server may
			   * still deliver */
	struct smtp_outcome out;
	int conn_use; /* session use count when sent (0: new) */
	double t_conn, t_xfer; /* for delays= */
};

/* One request. */
struct smtp_state {
	struct deliver_request *req;
	int qfd;
	double t_req; /* wall clock seconds */
	double t_conn_start, t_conn_done;
	bool has_8bit; /* 8-bit bytes somewhere in the message */
	bool need_smtputf8; /* RFC 6531 */
	struct mime_qp *mime; /* after the scan */
	struct smtp_rcpt *rcpts;
	size_t pending; /* recipients not final */
	struct smtp_outcome soft; /* last soft error, for the leftovers */
	bool have_soft;
	struct smtp_tls_policy tls; /* this request's TLS policy */
};

/* smtp.c */
double smtp_now(void);
long long smtp_now_ms(void);
void smtp_outcome_set(struct smtp_outcome *o, int status, const char *dsn,
                      const char *relay, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void smtp_outcome_init(struct smtp_outcome *o);
void smtp_outcome_free(struct smtp_outcome *o);
/* Settle recipient i (no-op if already final). */
void smtp_rcpt_final(struct smtp_state *st, size_t i, int status,
                     const char *dsn, const char *relay, const char *reason);
/* Note a soft failure that the next server may fix. */
void smtp_soft_error(struct smtp_state *st, const char *dsn, const char *relay,
                     const char *reason);

/* smtp_addr.c */
/* Resolve nexthop (falls back to the recipient domain when empty) into
 * targets; errors go into route->err. Free with smtp_route_free. */
void smtp_route_resolve(const char *nexthop, const char *rcpt_domain,
                        struct smtp_route *route);
void smtp_route_free(struct smtp_route *route);
/* The cache key of a nexthop ("example.com:25"), onto out. */
void smtp_route_key(const char *nexthop, const char *rcpt_domain,
                    struct buf *out);
/* Is a an address of this host? */
bool smtp_addr_is_local(const struct dns_addr *a);
/* Load inet_interfaces / inet_protocols into smtp_params. */
void smtp_addr_init(struct config *c);

/* smtp_session.c */
/* Connect to a target and do the greeting and EHLO/HELO. NULL on
 * failure, with out set (soft or hard) and the reason logged. */
struct smtp_session *smtp_session_open(struct smtp_state *st,
                                       const struct smtp_target *t,
                                       const char *key, bool final,
                                       struct smtp_outcome *out);
/* Send one command line (CRLF added, flushed): 0, or SMTP_REPLY_TIMEOUT /
 * SMTP_REPLY_LOST (the session is then broken). */
int smtp_session_write(struct smtp_session *s, const char *text,
                       int timeout_ms);
/* A stream write failed (stream_rc): the session is broken; returns
 * SMTP_REPLY_TIMEOUT or SMTP_REPLY_LOST. */
int smtp_session_io_fail(struct smtp_session *s, int stream_rc);
/* Read one reply: an enum smtp_reply_status; anything but DONE, or a 421,
 * marks the session broken. */
int smtp_session_reply(struct smtp_session *s, struct smtp_reply *r,
                       int timeout_ms);
/* out: a soft error for an I/O failure (rc) "while <during>". */
void smtp_session_error(const struct smtp_session *s, int rc,
                        const char *during, struct smtp_outcome *out);
/* out: "host H[A] said: REPLY (in reply to COMMAND command)". */
void smtp_session_said(const struct smtp_session *s, const struct smtp_reply *r,
                       const char *command, int status,
                       struct smtp_outcome *out);
/* QUIT (unless broken) and free. */
void smtp_session_close(struct smtp_session **sp);
/* A cached session for key that still works (RSET answered), or NULL. */
struct smtp_session *smtp_cache_take(const char *key);
/* Keep an idle session for the next request to the same key (or close
 * it when caching is off or a limit is reached). */
void smtp_cache_put(struct smtp_session *s);
/* Close sessions idle too long (and, at exit, all). */
void smtp_cache_expire(bool all);
/* Arm the idle timer that sends QUIT to cached sessions after the cache
 * time limit while the process waits for the next request. */
void smtp_cache_arm(void);
void smtp_cache_disarm(void);

/* smtp_proto.c */
/* One mail transaction on s for the pending recipients. final: no other
 * server will be tried (soft recipient errors are final then). */
void smtp_transaction(struct smtp_state *st, struct smtp_session *s,
                      bool final);
/* Read the queue file's content, calling fn for each line (no LF).
 * -1 on a read error or a corrupt file (reason in err). */
int smtp_content_lines(struct smtp_state *st,
                       int (*fn)(void *ctx, const char *line, size_t len),
                       void *ctx, struct buf *err);

/* smtp_tls.c */
/* As root: TLS parameters, policy maps, the client context (fatal when
 * a parameter is bad). */
void smtp_tls_init(struct config *c);
void smtp_tls_deinit(void);
/* The policy for a nexthop (as qmgr wrote it): smtp_tls_policy_maps or
 * the global level. -1 with the reason in err (lookup failure, invalid
 * entry: defer). Free with smtp_tls_policy_free. */
int smtp_tls_policy_get(const char *nexthop, struct smtp_tls_policy *p,
                        struct buf *err);
void smtp_tls_policy_free(struct smtp_tls_policy *p);
/* Append what distinguishes the policy to a session cache key. */
void smtp_tls_policy_key(const struct smtp_tls_policy *p, struct buf *key);
/* RFC 3207 STARTTLS per st->tls after the first EHLO (r: its reply; on
 * success r holds the EHLO reply inside TLS, or the first one when the
 * session stays plain text). 0 to go on, -1 with out set and logged. */
int smtp_tls_starttls(struct smtp_state *st, struct smtp_session *s,
                      struct smtp_reply *r, struct buf *cmd,
                      struct smtp_outcome *out);

/* smtp_sasl.c */
/* As root: smtp_sasl_* parameters and the password maps (fatal when
 * they are bad). */
void smtp_sasl_init(struct config *c);
void smtp_sasl_deinit(void);
/* RFC 4954 AUTH after the final EHLO (ehlo: its reply) when the
 * destination has credentials: 0 to go on (authenticated, or no
 * credentials), -1 with out set (always a soft error) and logged. */
int smtp_sasl_authenticate(struct smtp_state *st, struct smtp_session *s,
                           const struct smtp_reply *ehlo,
                           struct smtp_outcome *out);

#endif
