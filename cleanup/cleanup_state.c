/*
 * cleanup_state.c: one message's state (cleanup.h): its lifecycle, the
 * envelope as the client sends it (sender, attributes, recipients), the
 * first failure and the verdict's log line.
 * SECURITY: every envelope value comes from smtpd or pickup, i.e. from
 * remote clients and local users: each is bounded (CLEANUP_TEXT_MAX) and
 * free of control characters before it is kept, so it cannot break a
 * queue record or a log line; attribute names are checked against a
 * fixed list; the number of attributes and recipients is bounded.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "address.h"
#include "cleanup.h"
#include "cleanup_client.h"
#include "mem.h"
#include "msg.h"

/* Envelope attributes stored as A records (docs/queue-format.md). envid,
 * ret and full_name are handled apart. */
static const char *const cleanup_attr_names[] = {
    "client_address", "client_name",   "client_port", "helo_name", "protocol",
    "sasl_method",    "sasl_username", "submitter",   "tls",       NULL,
};

struct cleanup_state *cleanup_state_create(int flags)
{
	struct cleanup_state *st = mem_zalloc(sizeof(*st));

	st->flags = flags;
	st->fd = -1;
	st->last_byte = -1;
	st->reason = buf_create(128, 1024);
	st->detail = buf_create(128, 1024);
	return st;
}

void cleanup_state_destroy(struct cleanup_state **stp)
{
	struct cleanup_state *st = *stp;

	if (st == NULL)
		return;
	cleanup_queue_abort(st);
	header_parser_destroy(&st->parser);
	mem_free(st->sender);
	mem_free(st->envid);
	mem_free(st->ret);
	mem_free(st->full_name);
	for (size_t i = 0; i < st->nattrs; i++) {
		mem_free(st->attr_names[i]);
		mem_free(st->attr_values[i]);
	}
	mem_free(st->attr_names);
	mem_free(st->attr_values);
	cleanup_set_rcpts(st, NULL, 0);
	buf_destroy(&st->reason);
	buf_destroy(&st->detail);
	mem_free(st);
	*stp = NULL;
}

void cleanup_fail(struct cleanup_state *st, int status, const char *reason,
                  const char *detail_fmt, ...)
{
	char detail[512];
	va_list ap;

	if (st->status != 0)
		return;
	st->status = status;
	buf_set_str(st->reason, reason);
	va_start(ap, detail_fmt);
	(void)vsnprintf(detail, sizeof(detail), detail_fmt, ap);
	va_end(ap);
	buf_set_str(st->detail, detail);
}

const char *cleanup_log_id(const struct cleanup_state *st)
{
	return st->queue_id[0] ? st->queue_id : "NOQUEUE";
}

bool cleanup_text_ok(const char *value, size_t len)
{
	if (len > CLEANUP_TEXT_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
			return false;
	return true;
}

void cleanup_set_sender(struct cleanup_state *st, const char *value, size_t len)
{
	if (!cleanup_text_ok(value, len)) {
		st->sender = mem_strdup("");
		cleanup_fail(st, 5, "5.1.7 Bad sender address syntax",
		             "bad sender address");
		return;
	}
	st->sender = mem_memdup(value, len);
}

void cleanup_add_attr(struct cleanup_state *st, const char *name, size_t nlen,
                      const char *value, size_t vlen)
{
	size_t i;

	if (!cleanup_text_ok(name, nlen) || !cleanup_text_ok(value, vlen)) {
		msg_warn("%s: envelope attribute with a bad name or value: "
		         "ignored",
		         cleanup_log_id(st));
		return;
	}
	if (strcmp(name, "envid") == 0) {
		mem_free(st->envid);
		st->envid = mem_memdup(value, vlen);
		return;
	}
	if (strcmp(name, "ret") == 0) {
		/* RFC 3461 4.3: FULL or HDRS. */
		if (strcmp(value, "FULL") != 0 && strcmp(value, "HDRS") != 0) {
			msg_warn("%s: bad RET value \"%s\": ignored",
			         cleanup_log_id(st), value);
			return;
		}
		mem_free(st->ret);
		st->ret = mem_memdup(value, vlen);
		return;
	}
	if (strcmp(name, "full_name") == 0) {
		mem_free(st->full_name);
		st->full_name = mem_memdup(value, vlen);
		return;
	}
	for (i = 0; cleanup_attr_names[i]; i++)
		if (strcmp(name, cleanup_attr_names[i]) == 0)
			break;
	if (cleanup_attr_names[i] == NULL) {
		msg_warn("%s: unknown envelope attribute \"%s\": ignored",
		         cleanup_log_id(st), name);
		return;
	}
	if (st->nattrs >= CLEANUP_ATTR_MAX) {
		msg_warn("%s: more than %d envelope attributes: \"%s\" "
		         "ignored",
		         cleanup_log_id(st), CLEANUP_ATTR_MAX, name);
		return;
	}
	st->attr_names =
	    mem_realloc(st->attr_names, (st->nattrs + 1) * sizeof(char *));
	st->attr_values =
	    mem_realloc(st->attr_values, (st->nattrs + 1) * sizeof(char *));
	st->attr_names[st->nattrs] = mem_memdup(name, nlen);
	st->attr_values[st->nattrs++] = mem_memdup(value, vlen);
}

void cleanup_add_rcpt(struct cleanup_state *st, const char *addr, size_t alen,
                      const char *orcpt, size_t olen, int notify)
{
	struct cleanup_rcpt *rc;

	if (st->status != 0)
		return; /* nothing will be queued: do not collect */
	if (alen == 0 || !cleanup_text_ok(addr, alen) ||
	    !cleanup_text_ok(orcpt, olen)) {
		cleanup_fail(st, 5, "5.1.3 Bad recipient address syntax",
		             "bad recipient address");
		return;
	}
	/* RFC 3461 4.1: NEVER stands alone. */
	if (notify < 0 || notify > 15 ||
	    ((notify & QUEUE_NOTIFY_NEVER) && notify != QUEUE_NOTIFY_NEVER)) {
		cleanup_fail(st, 5, "5.5.4 Bad NOTIFY parameter",
		             "bad notify flags %d", notify);
		return;
	}
	if ((long long)st->nrcpts >= cleanup_params.recipient_limit) {
		cleanup_fail(st, 5, "5.5.3 Too many recipients",
		             "more than %lld recipients",
		             cleanup_params.recipient_limit);
		return;
	}
	if (st->nrcpts == st->rcpt_cap) {
		st->rcpt_cap = st->rcpt_cap ? st->rcpt_cap * 2 : 8;
		st->rcpts =
		    mem_realloc(st->rcpts, st->rcpt_cap * sizeof(*st->rcpts));
	}
	rc = &st->rcpts[st->nrcpts++];
	rc->address = mem_memdup(addr, alen);
	rc->orcpt = mem_memdup(orcpt, olen);
	rc->notify = notify;
}

void cleanup_set_rcpts(struct cleanup_state *st, struct cleanup_rcpt *rcpts,
                       size_t n)
{
	for (size_t i = 0; i < st->nrcpts; i++) {
		mem_free(st->rcpts[i].address);
		mem_free(st->rcpts[i].orcpt);
	}
	mem_free(st->rcpts);
	st->rcpts = rcpts;
	st->nrcpts = st->rcpt_cap = n;
}

void cleanup_log_verdict(const struct cleanup_state *st)
{
	const char *proto = "";

	for (size_t i = 0; i < st->nattrs; i++)
		if (strcmp(st->attr_names[i], "protocol") == 0)
			proto = st->attr_values[i];
	if (st->status == 5)
		msg_info("%s: reject: %s; from=<%s> to=<%s>%s%s: %s",
		         cleanup_log_id(st), buf_str(st->detail),
		         st->sender ? st->sender : "",
		         st->nrcpts ? st->rcpts[0].address : "",
		         *proto ? " proto=" : "", proto, buf_str(st->reason));
	else if (st->status == 4)
		msg_warn("%s: %s; from=<%s> to=<%s>%s%s: %s -- message not "
		         "accepted, try again later",
		         cleanup_log_id(st), buf_str(st->detail),
		         st->sender ? st->sender : "",
		         st->nrcpts ? st->rcpts[0].address : "",
		         *proto ? " proto=" : "", proto, buf_str(st->reason));
}
