/*
 * smtp.c: the smtp delivery agent (single_server skeleton; master.cf
 * "smtp unix - - n - - smtp"). Requests from qmgr one after the
 * other on a kept connection (lib/deliver.h): it resolves the nexthop (smtp_addr.c: MX / A / AAAA
 * over lib/dns, RFC 5321 5.1), reuses a cached session to the same
 * nexthop or connects to the targets in order (smtp_session.c), runs
 * the mail transaction (smtp_proto.c), and answers one status per
 * recipient with a Postfix-style log line ("ID: to=<x>, relay=h[a]:p,
 * conn_use=N, delay=.., delays=a/b/c/d, dsn=2.0.0, status=sent (250 ..)").
 * Owns the per-request state (struct smtp_state) and the parameters.
 * SECURITY: the request comes from qmgr and is checked by lib/deliver.c;
 * the queue file is opened read-only with O_NOFOLLOW by a path built from
 * the validated queue name and ID. Everything a remote server says is
 * parsed by lib/smtp_reply under limits, and every network read and write
 * has a deadline (the smtp_*_timeout parameters).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "mem.h"
#include "msg.h"
#include "queue_file.h"
#include "server.h"
#include "smtp.h"
#include "str.h"

struct smtp_params smtp_params;

double smtp_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

long long smtp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void smtp_outcome_init(struct smtp_outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->reason = buf_create(128, 4000);
}

void smtp_outcome_free(struct smtp_outcome *o)
{
	buf_destroy(&o->reason);
	mem_free(o->relay);
	o->relay = NULL;
}

void smtp_outcome_set(struct smtp_outcome *o, int status, const char *dsn,
                      const char *relay, const char *fmt, ...)
{
	va_list ap;
	char text[4000];

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	o->status = status;
	/* A reply's code may carry another class than the outcome (a 5xx
	 * softened to a retry): the class follows the status. */
	if (dsn == NULL || strlen(dsn) >= sizeof(o->dsn) || dsn[0] == '\0' ||
	    dsn[1] != '.')
		dsn = status == 2 ? "2.0.0" : status == 4 ? "4.0.0" : "5.0.0";
	str_copy(o->dsn, sizeof(o->dsn), dsn);
	o->dsn[0] = (char)('0' + status);
	buf_set_str(o->reason, text);
	mem_free(o->relay);
	o->relay = mem_strdup(relay ? relay : "none");
}

void smtp_rcpt_final(struct smtp_state *st, size_t i, int status,
                     const char *dsn, const char *relay, const char *reason)
{
	struct smtp_rcpt *r = &st->rcpts[i];

	if (r->final)
		return;
	smtp_outcome_set(&r->out, status, dsn, relay, "%s", reason);
	r->final = true;
	st->pending--;
}

void smtp_soft_error(struct smtp_state *st, const char *dsn, const char *relay,
                     const char *reason)
{
	smtp_outcome_set(&st->soft, 4, dsn, relay, "%s", reason);
	st->have_soft = true;
}

/* ---- parameters ---- */

static int smtp_ms(struct config *c, const char *name)
{
	long long s = config_time(c, name);

	return s > 86400 ? 86400 * 1000 : (int)(s * 1000);
}

static void smtp_load_bind(struct config *c, const char *name, int family,
                           struct dns_addr *out, bool *have)
{
	const char *v = config_str(c, name);

	*have = false;
	if (*v == '\0')
		return;
	if (dns_addr_parse(v, out) < 0 || out->family != family)
		msg_fatal("main.cf: %s: not an IPv%d address: %s", name,
		          family == AF_INET ? 4 : 6, v);
	*have = true;
}

/* As root: the TLS client context and policy maps (smtp_tls.c). */
static void smtp_pre_jail_init(const struct server_info *si)
{
	struct config *c = si->config;

	/* The SASL password maps may be readable by root only. */
	smtp_sasl_init(c);
	smtp_tls_init(c);
}

static void smtp_post_init(const struct server_info *si)
{
	struct config *c = si->config;
	struct smtp_params *p = &smtp_params;
	struct buf *err = buf_create(128, 0);
	const char *pref;

	p->port = (int)config_int(c, "smtp_tcp_port");
	p->connect_ms = smtp_ms(c, "smtp_connect_timeout");
	p->helo_ms = smtp_ms(c, "smtp_helo_timeout");
	p->mail_ms = smtp_ms(c, "smtp_mail_timeout");
	p->rcpt_ms = smtp_ms(c, "smtp_rcpt_timeout");
	p->data_init_ms = smtp_ms(c, "smtp_data_init_timeout");
	p->data_xfer_ms = smtp_ms(c, "smtp_data_xfer_timeout");
	p->data_done_ms = smtp_ms(c, "smtp_data_done_timeout");
	p->rset_ms = smtp_ms(c, "smtp_rset_timeout");
	p->quit_ms = smtp_ms(c, "smtp_quit_timeout");
	p->ipc_ms = smtp_ms(c, "ipc_timeout");
	p->mx_address_limit = config_int(c, "smtp_mx_address_limit");
	p->mx_session_limit = config_int(c, "smtp_mx_session_limit");
	p->cache_on_demand = config_bool(c, "smtp_connection_cache_on_demand");
	p->cache_time_ms = smtp_ms(c, "smtp_connection_cache_time_limit");
	p->reuse_count_limit =
	    config_int(c, "smtp_connection_reuse_count_limit");
	p->reuse_time_ms =
	    (long long)smtp_ms(c, "smtp_connection_reuse_time_limit");
	p->line_length_limit = config_int(c, "smtp_line_length_limit");
	p->downgrade_8bit = config_bool(c, "smtp_8bitmime_downgrade");
	p->helo_name = config_str(c, "smtp_helo_name");
	p->myhostname = config_str(c, "myhostname");
	pref = config_str(c, "smtp_address_preference");
	if (str_eq_ci(pref, "ipv4"))
		p->prefer = AF_INET;
	else if (str_eq_ci(pref, "ipv6"))
		p->prefer = AF_INET6;
	else if (str_eq_ci(pref, "any"))
		p->prefer = 0;
	else
		msg_fatal("main.cf: smtp_address_preference: bad value '%s' "
		          "(any, ipv4 or ipv6)",
		          pref);
	smtp_load_bind(c, "smtp_bind_address", AF_INET, &p->bind4,
	               &p->have_bind4);
	smtp_load_bind(c, "smtp_bind_address6", AF_INET6, &p->bind6,
	               &p->have_bind6);
	smtp_addr_init(c);
	if (dns_init(config_str(c, "dns_resolver_address"), err) < 0)
		msg_fatal("%s", buf_str(err));
	buf_destroy(&err);
}

static void smtp_pre_exit(const struct server_info *si)
{
	smtp_cache_expire(true);
	smtp_tls_deinit();
	smtp_sasl_deinit();
	dns_deinit();
}

/* ---- one request ---- */

static const char *smtp_status_word(int status)
{
	return status == 2 ? "sent" : status == 4 ? "deferred" : "bounced";
}

/* The address inside an ORCPT ("rfc822;a@b" -> "a@b"). */
static const char *smtp_orcpt_addr(const char *orcpt)
{
	const char *semi = strchr(orcpt, ';');

	return semi ? semi + 1 : orcpt;
}

static void smtp_report(struct smtp_state *st, struct stream *client)
{
	struct deliver_request *req = st->req;
	struct buf *delays = buf_create(128, 1024),
	           *extra = buf_create(64, 2048);
	double now = smtp_now();

	for (size_t i = 0; i < req->nrcpts; i++) {
		struct smtp_rcpt *r = &st->rcpts[i];
		const char *orig = smtp_orcpt_addr(req->rcpts[i].orcpt);
		double conn = r->t_conn > 0 ? r->t_conn : st->t_req;
		double xfer = r->t_xfer > 0 ? r->t_xfer : conn;

		buf_reset(delays);
		buf_reset(extra);
		deliver_format_delays(req, st->t_req, conn, xfer, now, delays);
		if (*orig != '\0' && !str_eq_ci(orig, req->rcpts[i].address))
			buf_printf(extra, "orig_to=<%s>, ", orig);
		buf_printf(extra, "relay=%s, ",
		           r->out.relay ? r->out.relay : "none");
		if (r->conn_use > 1)
			buf_printf(extra, "conn_use=%d, ", r->conn_use);
		msg_info("%s: to=<%s>, %s%s, dsn=%s, status=%s (%s)",
		         req->queue_id, req->rcpts[i].address, buf_str(extra),
		         buf_str(delays), r->out.dsn,
		         smtp_status_word(r->out.status),
		         buf_str(r->out.reason));
		if (deliver_status_write(client, i, r->out.status, r->out.dsn,
		                         r->out.relay,
		                         buf_str(r->out.reason)) < 0)
			break;
	}
	if (deliver_done_write(client) < 0)
		msg_warn("%s: lost the connection to qmgr while answering",
		         req->queue_id);
	buf_destroy(&delays);
	buf_destroy(&extra);
}

/* Settle every pending recipient with one outcome. */
static void smtp_settle_all(struct smtp_state *st, const struct smtp_outcome *o)
{
	for (size_t i = 0; i < st->req->nrcpts; i++) {
		struct smtp_rcpt *r = &st->rcpts[i];

		if (r->final)
			continue;
		/* A recipient's own soft error says more than a later
		 * connection failure. */
		if (r->soft) {
			char *reason = mem_strdup(buf_str(r->out.reason));
			char *relay = mem_strdup(r->out.relay);
			char dsn[16];

			memcpy(dsn, r->out.dsn, sizeof(dsn));
			smtp_rcpt_final(st, i, 4, dsn, relay, reason);
			mem_free(reason);
			mem_free(relay);
			continue;
		}
		smtp_rcpt_final(st, i, o->status, o->dsn, o->relay,
		                buf_str(o->reason));
	}
}

static int smtp_scan_line(void *ctx, const char *line, size_t len)
{
	mime_qp_scan(ctx, line, len);
	return 0;
}

/* Does an address hold 8-bit bytes (RFC 6531 needs SMTPUTF8)? */
static bool smtp_8bit(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

/* Open and check the queue file; scan the content. -1: settle all. */
static int smtp_open_message(struct smtp_state *st, struct buf *why)
{
	struct deliver_request *req = st->req;
	struct buf *path = buf_create(128, 4096), *err = buf_create(128, 0);
	struct queue_reader *qr;
	struct queue_envelope env;
	const char *utf8, *proto;
	bool received_utf8;
	int rc = -1;

	queue_path(req->queue_name, req->queue_id, path);
	/* Daemons run in queue_directory (or chrooted into it). */
	st->qfd = open(buf_str(path), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (st->qfd < 0) {
		buf_sprintf(why, "cannot open queue file %s: %s", buf_str(path),
		            strerror(errno));
		goto out;
	}
	memset(&env, 0, sizeof(env));
	qr = queue_reader_create(st->qfd);
	if (queue_envelope_read(qr, &env, err) < 0) {
		queue_reader_destroy(&qr);
		buf_sprintf(why, "queue file %s: %s", buf_str(path),
		            buf_str(err));
		goto out;
	}
	queue_reader_destroy(&qr);
	/* RFC 6531: the message needs SMTPUTF8 when an envelope address
	 * is UTF-8, or when it was received with SMTPUTF8 (smtpd records
	 * the protocol as UTF8SMTP..., as Postfix does; or an explicit
	 * "smtputf8" attribute) and a header holds UTF-8. */
	proto = queue_envelope_attr(&env, "protocol");
	utf8 = queue_envelope_attr(&env, "smtputf8");
	received_utf8 =
	    (proto != NULL && str_has_prefix_ci(proto, "UTF8SMTP")) ||
	    (utf8 != NULL && *utf8 != '\0' && strcmp(utf8, "0") != 0);
	st->need_smtputf8 = smtp_8bit(req->sender);
	for (size_t i = 0; i < req->nrcpts; i++)
		if (smtp_8bit(req->rcpts[i].address))
			st->need_smtputf8 = true;
	queue_envelope_free(&env);
	st->mime = mime_qp_create();
	if (smtp_content_lines(st, smtp_scan_line, st->mime, err) < 0) {
		buf_sprintf(why, "queue file %s: %s", buf_str(path),
		            buf_str(err));
		goto out;
	}
	st->has_8bit = mime_qp_has_8bit(st->mime);
	if (received_utf8 && mime_qp_headers_8bit(st->mime))
		st->need_smtputf8 = true;
	rc = 0;
out:
	buf_destroy(&path);
	buf_destroy(&err);
	return rc;
}

/* The domain of the first recipient (the nexthop when qmgr gave none). */
static void smtp_rcpt_domain(const struct deliver_request *req, struct buf *out)
{
	struct buf *local = buf_create(64, 4096);

	if (address_split(req->rcpts[0].address, local, out) < 0)
		buf_reset(out);
	buf_destroy(&local);
}

static void smtp_deliver(struct smtp_state *st)
{
	struct deliver_request *req = st->req;
	struct buf *key = buf_create(128, 2048), *domain = buf_create(64, 1024);
	struct smtp_route route;
	struct smtp_session *s;
	long long sessions = 0;

	smtp_rcpt_domain(req, domain);
	smtp_route_key(req->nexthop, buf_str(domain), key);
	/* The TLS policy of this nexthop; it is part of the cache key. */
	{
		struct buf *why = buf_create(128, 4096);

		if (smtp_tls_policy_get(*req->nexthop ? req->nexthop
		                                      : buf_str(domain),
		                        &st->tls, why) < 0) {
			msg_warn("%s: %s", req->queue_id, buf_str(why));
			smtp_soft_error(st, "4.7.5", "none", buf_str(why));
			buf_destroy(&why);
			goto out;
		}
		buf_destroy(&why);
		smtp_tls_policy_key(&st->tls, key);
	}

	/* A session kept from an earlier request to the same nexthop. */
	if ((s = smtp_cache_take(buf_str(key))) != NULL) {
		st->t_conn_start = st->t_conn_done = smtp_now();
		smtp_transaction(st, s, false);
		sessions++;
		smtp_cache_put(s);
		if (st->pending == 0)
			goto out;
	}
	memset(&route, 0, sizeof(route));
	st->t_conn_start = smtp_now();
	smtp_route_resolve(req->nexthop, buf_str(domain), &route);
	if (route.failed) {
		smtp_settle_all(st, &route.err);
		smtp_route_free(&route);
		goto out;
	}
	for (size_t i = 0; i < route.n && st->pending > 0; i++) {
		struct smtp_outcome fail;
		bool final = i + 1 == route.n ||
		             (smtp_params.mx_session_limit > 0 &&
		              sessions + 1 >= smtp_params.mx_session_limit);

		smtp_outcome_init(&fail);
		s = smtp_session_open(st, &route.t[i], buf_str(key), final,
		                      &fail);
		if (s == NULL) {
			if (fail.status == 5 && final)
				smtp_settle_all(st, &fail);
			else
				smtp_soft_error(st, fail.dsn, fail.relay,
				                buf_str(fail.reason));
			smtp_outcome_free(&fail);
			continue;
		}
		smtp_outcome_free(&fail);
		st->t_conn_done = smtp_now();
		sessions++;
		smtp_transaction(st, s, final);
		smtp_cache_put(s);
		if (smtp_params.mx_session_limit > 0 &&
		    sessions >= smtp_params.mx_session_limit)
			break;
	}
	smtp_route_free(&route);
out:
	/* Whatever is left failed softly somewhere. */
	if (st->pending > 0) {
		if (!st->have_soft)
			smtp_soft_error(st, "4.4.1", "none",
			                "no mail server could be reached");
		smtp_settle_all(st, &st->soft);
	}
	buf_destroy(&key);
	buf_destroy(&domain);
}

/* One request on the connection: false when it could not be read. */
static bool smtp_request(struct stream *client)
{
	struct deliver_request req;
	struct smtp_state st;
	struct buf *err = buf_create(128, 0);

	smtp_cache_disarm();
	smtp_cache_expire(false);
	stream_set_timeouts(client, smtp_params.ipc_ms, smtp_params.ipc_ms);
	memset(&req, 0, sizeof(req));
	if (deliver_request_read(client, &req, err) < 0) {
		msg_warn("malformed delivery request: %s", buf_str(err));
		buf_destroy(&err);
		smtp_cache_arm();
		return false;
	}
	memset(&st, 0, sizeof(st));
	st.req = &req;
	st.qfd = -1;
	st.t_req = smtp_now();
	st.rcpts = mem_zalloc(req.nrcpts * sizeof(*st.rcpts));
	st.pending = req.nrcpts;
	for (size_t i = 0; i < req.nrcpts; i++)
		smtp_outcome_init(&st.rcpts[i].out);
	smtp_outcome_init(&st.soft);

	buf_reset(err);
	if (smtp_open_message(&st, err) < 0) {
		msg_warn("%s: %s", req.queue_id, buf_str(err));
		smtp_soft_error(&st, "4.3.0", "none", buf_str(err));
		smtp_settle_all(&st, &st.soft);
	} else {
		smtp_deliver(&st);
	}
	smtp_report(&st, client);

	if (st.qfd >= 0)
		close(st.qfd);
	mime_qp_destroy(&st.mime);
	smtp_tls_policy_free(&st.tls);
	for (size_t i = 0; i < req.nrcpts; i++)
		smtp_outcome_free(&st.rcpts[i].out);
	smtp_outcome_free(&st.soft);
	mem_free(st.rcpts);
	deliver_request_free(&req);
	buf_destroy(&err);
	smtp_cache_arm();
	return true;
}

/* qmgr keeps the connection for its next request (docs/ipc.md); the
 * session cache's timer runs while the agent waits for it. */
static void smtp_service(struct stream *client, const struct server_info *si)
{
	while (smtp_request(client) && single_server_next_request(client))
		;
}

int main(int argc, char **argv)
{
	static const struct server_callbacks cb = {
	    .pre_jail_init = smtp_pre_jail_init,
	    .post_init = smtp_post_init,
	    .service = smtp_service,
	    .pre_exit = smtp_pre_exit,
	};

	single_server_main(argc, argv, &cb);
}
