/*
 * dsn.c: composes delivery status notifications: RFC 3464 (the
 * multipart/report of RFC 6522 with report-type=delivery-status: a
 * human-readable part, a message/delivery-status part, the original
 * message or its headers), RFC 3461 (ORCPT, ENVID, RET), RFC 3463
 * status codes and RFC 3834 (Auto-Submitted). Owns nothing beyond one
 * call: the caller supplies the facts and a content reader.
 * SECURITY: every text that came from outside (addresses, diagnostic
 * texts from remote servers, the original's content) is bounded and
 * made 7-bit or line-safe before it goes into a header or a report
 * field: control characters never reach the output except as LF line
 * ends, no generated line exceeds 998 bytes (RFC 5322 2.1.1), and the
 * boundary is checked against everything it separates.
 */
#include <string.h>

#include "dsn.h"
#include "header.h"
#include "mem.h"
#include "msg.h"
#include "queue_list.h"
#include "str.h"

/* RFC 5322 2.1.1: at most 998 characters a line. */
#define DSN_LINE_MAX 998
/* Longest diagnostic text kept (then "..."): one folded field. */
#define DSN_TEXT_MAX 900
/* Folding width for fields we write. */
#define DSN_FOLD 78

static const char *const dsn_action_names[] = {
    [DSN_ACTION_FAILED] = "failed",       [DSN_ACTION_DELAYED] = "delayed",
    [DSN_ACTION_DELIVERED] = "delivered", [DSN_ACTION_RELAYED] = "relayed",
    [DSN_ACTION_EXPANDED] = "expanded",
};

const char *dsn_action_name(enum dsn_action a)
{
	if ((size_t)a >= sizeof(dsn_action_names) / sizeof(dsn_action_names[0]))
		msg_panic("dsn_action_name: bad action %d", (int)a);
	return dsn_action_names[a];
}

size_t dsn_status_len(const char *s)
{
	size_t i, n;

	if (s[0] != '2' && s[0] != '4' && s[0] != '5')
		return 0;
	i = 1;
	for (int part = 0; part < 2; part++) {
		if (s[i] != '.')
			return 0;
		i++;
		for (n = 0; n < 3 && s[i] >= '0' && s[i] <= '9'; n++)
			i++;
		if (n == 0)
			return 0;
	}
	if (s[i] != 0 && s[i] != ' ' && s[i] != '\t')
		return 0;
	return i;
}

void dsn_field_text(const char *s, struct buf *out)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= 0x21 && *p <= 0x7e)
			buf_append_char(out, *p);
		else
			buf_printf(out, "+%02X", *p);
	}
}

/* A diagnostic text as 7-bit field content: control characters become
 * spaces, 8-bit bytes '?', at most DSN_TEXT_MAX bytes. */
static void dsn_plain_text(const char *s, struct buf *out)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (n++ >= DSN_TEXT_MAX) {
			buf_append_str(out, "...");
			return;
		}
		if (*p < 0x20 || *p == 0x7f)
			buf_append_char(out, ' ');
		else if (*p >= 0x80)
			buf_append_char(out, '?');
		else
			buf_append_char(out, *p);
	}
}

void dsn_format_duration(long long seconds, struct buf *out)
{
	static const struct {
		long long secs;
		const char *name;
	} units[] = {
	    {86400, "day"},
	    {3600, "hour"},
	    {60, "minute"},
	    {1, "second"},
	};
	size_t i;
	long long n;

	if (seconds < 0)
		seconds = 0;
	for (i = 0; i < sizeof(units) / sizeof(units[0]) - 1; i++)
		if (seconds >= units[i].secs)
			break;
	n = seconds / units[i].secs;
	buf_printf(out, "%lld %s%s", n, units[i].name, n == 1 ? "" : "s");
}

int dsn_smtp_reply_split(const char *text, struct buf *mta, struct buf *reply)
{
	const char *name, *bracket, *said, *tail;
	size_t rlen;

	if (!str_has_prefix(text, "host "))
		return -1;
	name = text + 5;
	if ((said = strstr(name, " said: ")) == NULL)
		return -1;
	bracket = memchr(name, '[', (size_t)(said - name));
	if (bracket == NULL || bracket == name)
		return -1;
	for (const char *p = name; p < bracket; p++)
		if (*p == ' ')
			return -1;
	said += 7;
	rlen = strlen(said);
	if ((tail = strstr(said, " (in reply to ")) != NULL &&
	    tail[strlen(tail) - 1] == ')')
		rlen = (size_t)(tail - said);
	if (rlen == 0)
		return -1;
	buf_reset(mta);
	buf_append(mta, name, (size_t)(bracket - name));
	buf_reset(reply);
	buf_append(reply, said, rlen);
	return 0;
}

/* The host name of a relay "name[addr]:port" (none for "local" etc.). */
static int dsn_relay_host(const char *relay, struct buf *mta)
{
	const char *bracket;

	if (relay == NULL || (bracket = strchr(relay, '[')) == NULL ||
	    bracket == relay)
		return -1;
	buf_reset(mta);
	buf_append(mta, relay, (size_t)(bracket - relay));
	return 0;
}

/* The address of an ORCPT "rfc822;addr" when it differs from address
 * (for "(expanded from <...>)"), else NULL. */
static const char *dsn_orcpt_other(const struct dsn_rcpt *r)
{
	const char *semi;

	if (r->orcpt == NULL || (semi = strchr(r->orcpt, ';')) == NULL ||
	    (size_t)(semi - r->orcpt) != 6 ||
	    !str_has_prefix_ci(r->orcpt, "rfc822"))
		return NULL;
	semi++;
	while (*semi == ' ')
		semi++;
	if (*semi == 0 || str_eq_ci(semi, r->address))
		return NULL;
	return semi;
}

/* Append text wrapped at spaces to lines of at most width bytes where
 * possible, never more than DSN_LINE_MAX; continuation lines start with
 * indent. Text is made printable first (lib/queue_list.h). */
static void dsn_wrap(const char *text, const char *indent, size_t width,
                     struct buf *out)
{
	struct buf *clean = buf_create(256, 0);
	const char *p, *end;
	size_t col = 0, ilen = strlen(indent);

	queue_list_printable(text, strlen(text), clean);
	p = buf_str(clean);
	end = p + buf_len(clean);
	while (p < end) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		size_t wlen = sp ? (size_t)(sp - p) : (size_t)(end - p);

		if (col > 0 && col + 1 + wlen > width) {
			buf_append_char(out, '\n');
			buf_append_str(out, indent);
			col = ilen;
		} else if (col > 0) {
			buf_append_char(out, ' ');
			col++;
		}
		/* A word longer than a line is cut. */
		while (col + wlen > DSN_LINE_MAX - 1) {
			size_t room = DSN_LINE_MAX - 1 - col;

			buf_append(out, p, room);
			buf_append_char(out, '\n');
			buf_append_str(out, indent);
			col = ilen;
			p += room;
			wlen -= room;
		}
		buf_append(out, p, wlen);
		col += wlen;
		p += wlen;
		while (p < end && *p == ' ')
			p++;
	}
	buf_append_char(out, '\n');
	buf_destroy(&clean);
}

/* ---- the original's content ---- */

struct dsn_original {
	struct buf *data; /* what was read, at most size_limit + 1 bytes */
	bool whole; /* the end was reached within the limit */
};

static int dsn_read_original(const struct dsn_message *m, dsn_read_fn read,
                             void *ctx, struct dsn_original *o, struct buf *err)
{
	size_t cap = m->size_limit + 1;
	char chunk[8192];

	o->data = buf_create(cap < 8192 ? cap : 8192, cap);
	o->whole = false;
	if (read == NULL)
		return 0;
	while (buf_len(o->data) < cap) {
		size_t want = cap - buf_len(o->data);
		ssize_t n = read(ctx, chunk,
		                 want < sizeof(chunk) ? want : sizeof(chunk));

		if (n < 0) {
			buf_set_str(err, "cannot read the original message");
			return -1;
		}
		if (n == 0) {
			o->whole = true;
			break;
		}
		buf_append(o->data, chunk, (size_t)n);
	}
	if (buf_len(o->data) > m->size_limit)
		o->whole = false;
	return 0;
}

/* Length of the header section of data (through the LF that ends the
 * last field, without the empty line). Without an empty line: all of it
 * when complete, else up to the last LF within limit. */
static size_t dsn_header_len(const char *data, size_t len, bool complete,
                             size_t limit)
{
	const char *p;

	if (len > 0 && data[0] == '\n')
		return 0;
	for (p = data; (p = memchr(p, '\n', (size_t)(data + len - p))) != NULL;
	     p++) {
		if (p + 1 < data + len && p[1] == '\n') {
			if ((size_t)(p + 1 - data) <= limit)
				return (size_t)(p + 1 - data);
			break;
		}
	}
	if (complete && len <= limit)
		return len;
	if (len > limit)
		len = limit;
	while (len > 0 && data[len - 1] != '\n')
		len--;
	return len;
}

/* Append len bytes of content, breaking lines longer than DSN_LINE_MAX
 * (within the header section, lines up to the first empty one, as a
 * folded continuation), and ending with a LF. */
static void dsn_append_content(const char *data, size_t len, struct buf *out)
{
	bool in_headers = true;
	size_t col = 0;

	for (size_t i = 0; i < len; i++) {
		char c = data[i];

		if (c == '\n') {
			if (col == 0)
				in_headers = false;
			col = 0;
			buf_append_char(out, c);
			continue;
		}
		if (col == DSN_LINE_MAX) {
			buf_append_str(out, in_headers ? "\n " : "\n");
			col = in_headers ? 1 : 0;
		}
		buf_append_char(out, c);
		col++;
	}
	if (len > 0 && data[len - 1] != '\n')
		buf_append_char(out, '\n');
}

static bool dsn_has_8bit(const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)data[i] >= 0x80)
			return true;
	return false;
}

/* ---- the parts ---- */

static void dsn_human_intro(const struct dsn_message *m, bool attach_full,
                            bool attach_any, struct buf *out)
{
	struct buf *t = buf_create(256, 0);

	buf_printf(out, "This is the mail system at host %s.\n\n",
	           m->myhostname);
	switch (m->kind) {
	case DSN_FAILURE:
		buf_set_str(t, "Your message could not be delivered to one or "
		               "more of its recipients. The reasons are given "
		               "below.");
		if (attach_any)
			buf_append_str(t, attach_full
			                      ? " Your message is attached."
			                      : " The headers of your message "
			                        "are attached.");
		dsn_wrap(buf_str(t), "", 72, out);
		buf_append_str(out, "\n");
		dsn_wrap("If you need help, write to the postmaster of this "
		         "system and include this report. You may remove your "
		         "own text from the attached message.",
		         "", 72, out);
		break;
	case DSN_DELAY:
		buf_append_str(out,
		               "*** This is only a warning: you do not need "
		               "to send your message again. ***\n\n");
		buf_set_str(t, "Your message has not yet been delivered to the "
		               "recipients listed below after ");
		dsn_format_duration((long long)(m->now - m->arrival), t);
		buf_append_str(t, ". The mail system keeps trying");
		if (m->retry_until > m->arrival) {
			buf_append_str(t, " until the message is ");
			dsn_format_duration(
			    (long long)(m->retry_until - m->arrival), t);
			buf_append_str(t, " old");
		}
		buf_append_str(t, "; if it cannot be delivered by then, you "
		                  "will get a non-delivery report.");
		dsn_wrap(buf_str(t), "", 72, out);
		break;
	case DSN_SUCCESS:
		dsn_wrap("Your message was delivered to the recipients listed "
		         "below. Where it was handed on to a system that does "
		         "not report deliveries, you may still receive error "
		         "reports from further along.",
		         "", 72, out);
		break;
	case DSN_POSTMASTER:
		buf_set_str(t, "This is a copy of a non-delivery report, for "
		               "the postmaster. The message from <");
		buf_append_str(t, m->sender);
		buf_append_str(t, *m->sender
		                      ? "> could not be delivered to the "
		                        "recipients listed below."
		                      : "> (the null sender: itself a "
		                        "notification) could not be delivered "
		                        "to the recipients listed below, and "
		                        "no report could go back to its "
		                        "sender.");
		buf_append_str(t, " Its headers are attached.");
		dsn_wrap(buf_str(t), "", 72, out);
		break;
	}
	buf_printf(out, "\n%*s%s\n\n", 19, "", "The mail system");
	buf_destroy(&t);
}

static void dsn_human_part(const struct dsn_message *m, bool attach_full,
                           bool attach_any, struct buf *out)
{
	struct buf *line = buf_create(256, 0);

	dsn_human_intro(m, attach_full, attach_any, out);
	for (size_t i = 0; i < m->nrcpts; i++) {
		const struct dsn_rcpt *r = &m->rcpts[i];
		const char *orig = dsn_orcpt_other(r);

		buf_sprintf(line, "<%s>", r->address);
		if (orig)
			buf_printf(line, " (expanded from <%s>)", orig);
		buf_printf(line, ": %s",
		           r->text && *r->text ? r->text
		                               : dsn_action_name(r->action));
		if (buf_len(line) > DSN_TEXT_MAX * 2)
			buf_truncate(line, DSN_TEXT_MAX * 2);
		dsn_wrap(buf_str(line), "    ", 76, out);
		buf_append_char(out, '\n');
	}
	buf_destroy(&line);
}

static void dsn_status_field(const char *name, const char *value,
                             struct buf *out)
{
	if (header_fold(name, value, DSN_FOLD, out) < 0)
		msg_panic("dsn_status_field: %s: too long", name);
}

static void dsn_date_field(const char *name, time_t t, struct buf *out)
{
	struct buf *d = buf_create(64, 256);

	if (header_date(t, d) == 0)
		buf_printf(out, "%s: %s\n", name, buf_str(d));
	buf_destroy(&d);
}

static void dsn_status_rcpt(const struct dsn_message *m,
                            const struct dsn_rcpt *r, struct buf *out)
{
	struct buf *v = buf_create(256, 0), *mta = buf_create(64, 0),
	           *reply = buf_create(256, 0);
	const char *text = r->text ? r->text : "";
	bool smtp = false;

	buf_append_char(out, '\n');
	buf_set_str(v, "rfc822; ");
	dsn_field_text(r->address, v);
	dsn_status_field("Final-Recipient", buf_str(v), out);
	if (r->orcpt && *r->orcpt) {
		const char *semi = strchr(r->orcpt, ';');

		buf_reset(v);
		if (semi == NULL) {
			buf_append_str(v, "rfc822;");
			dsn_field_text(r->orcpt, v);
		} else {
			struct buf *type = buf_create(16, 0);

			buf_append(type, r->orcpt, (size_t)(semi - r->orcpt));
			dsn_field_text(buf_str(type), v);
			buf_append_char(v, ';');
			while (semi[1] == ' ')
				semi++;
			dsn_field_text(semi + 1, v);
			buf_destroy(&type);
		}
		dsn_status_field("Original-Recipient", buf_str(v), out);
	}
	buf_printf(out, "Action: %s\n", dsn_action_name(r->action));
	if (r->status && dsn_status_len(r->status) == strlen(r->status))
		buf_printf(out, "Status: %s\n", r->status);
	else
		buf_printf(out, "Status: %c.0.0\n",
		           r->action == DSN_ACTION_FAILED    ? '5'
		           : r->action == DSN_ACTION_DELAYED ? '4'
		                                             : '2');
	if (dsn_smtp_reply_split(text, mta, reply) == 0) {
		smtp = true;
	} else if (dsn_relay_host(r->relay, mta) == 0) {
		/* A success through SMTP: the text is the 250 reply. */
		smtp = text[0] >= '2' && text[0] <= '5' && text[1] >= '0' &&
		       text[1] <= '9' && text[2] >= '0' && text[2] <= '9' &&
		       (text[3] == ' ' || text[3] == 0);
		buf_set_str(reply, text);
	} else {
		buf_reset(mta);
		buf_set_str(reply, text);
	}
	if (buf_len(mta) > 0) {
		buf_set_str(v, "dns; ");
		dsn_field_text(buf_str(mta), v);
		dsn_status_field("Remote-MTA", buf_str(v), out);
	}
	if (buf_len(reply) > 0) {
		buf_set_str(v, smtp ? "smtp; " : "x-posthorn; ");
		dsn_plain_text(buf_str(reply), v);
		dsn_status_field("Diagnostic-Code", buf_str(v), out);
	}
	if (r->action == DSN_ACTION_DELAYED && m->retry_until > 0)
		dsn_date_field("Will-Retry-Until", m->retry_until, out);
	buf_destroy(&v);
	buf_destroy(&mta);
	buf_destroy(&reply);
}

static void dsn_status_part(const struct dsn_message *m, struct buf *out)
{
	struct buf *v = buf_create(256, 0);

	buf_set_str(v, "dns; ");
	dsn_field_text(m->myhostname, v);
	dsn_status_field("Reporting-MTA", buf_str(v), out);
	buf_reset(v);
	dsn_field_text(m->queue_id, v);
	dsn_status_field("X-Posthorn-Queue-ID", buf_str(v), out);
	buf_set_str(v, "rfc822; ");
	dsn_field_text(m->sender, v);
	dsn_status_field("X-Posthorn-Sender", buf_str(v), out);
	if (m->envid && *m->envid) {
		buf_reset(v);
		dsn_field_text(m->envid, v);
		dsn_status_field("Original-Envelope-Id", buf_str(v), out);
	}
	if (m->arrival > 0)
		dsn_date_field("Arrival-Date", m->arrival, out);
	for (size_t i = 0; i < m->nrcpts; i++)
		dsn_status_rcpt(m, &m->rcpts[i], out);
	buf_destroy(&v);
}

/* A boundary that occurs in none of the parts (RFC 2046 5.1.1: at most
 * 70 characters from bcharsnospace). */
static void dsn_boundary(const struct dsn_message *m, const char *const *parts,
                         const size_t *lens, size_t nparts, struct buf *out)
{
	struct buf *base = buf_create(80, 0);

	buf_printf(base, "%s.%lld.%s/", m->queue_id, (long long)m->now,
	           m->unique ? m->unique : "");
	for (const char *p = m->myhostname; *p; p++)
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-')
			buf_append_char(base, *p);
	if (buf_len(base) > 60)
		buf_truncate(base, 60);
	for (unsigned n = 0;; n++) {
		bool clash = false;

		buf_set_str(out, buf_str(base));
		if (n > 0)
			buf_printf(out, "=%u", n);
		for (size_t i = 0; i < nparts && !clash; i++)
			clash = memmem(parts[i], lens[i], buf_str(out),
			               buf_len(out)) != NULL;
		if (!clash)
			break;
	}
	buf_destroy(&base);
}

static const char *dsn_subject(enum dsn_kind kind)
{
	switch (kind) {
	case DSN_FAILURE:
		return "Undelivered Mail Returned to Sender";
	case DSN_DELAY:
		return "Delayed Mail (still being retried)";
	case DSN_SUCCESS:
		return "Successful Mail Delivery Report";
	case DSN_POSTMASTER:
		return "Postmaster Copy: Undelivered Mail";
	}
	msg_panic("dsn_subject: bad kind %d", (int)kind);
}

int dsn_compose(const struct dsn_message *m, dsn_read_fn read, void *ctx,
                struct buf *out, struct buf *err)
{
	struct dsn_original o;
	struct buf *human = buf_create(1024, 0), *status = buf_create(1024, 0),
	           *attach = buf_create(1024, 0), *b = buf_create(80, 0),
	           *msg = buf_create(4096, 0), *v = buf_create(256, 0);
	bool full, any, eight_human, eight_attach;
	const char *parts[3];
	size_t lens[3];
	int ret = -1;

	if (dsn_read_original(m, read, ctx, &o, err) < 0)
		goto out;
	/* RFC 3461 4.3: RET decides what a failure returns; other notices
	 * and the postmaster's copy carry the headers only (as Postfix). */
	full = m->kind == DSN_FAILURE && !m->ret_headers && o.whole &&
	       read != NULL;
	any = read != NULL;
	if (full) {
		dsn_append_content(buf_str(o.data), buf_len(o.data), attach);
	} else if (any) {
		size_t hl = dsn_header_len(buf_str(o.data), buf_len(o.data),
		                           o.whole, m->size_limit);

		dsn_append_content(buf_str(o.data), hl, attach);
	}
	dsn_human_part(m, full, any, human);
	dsn_status_part(m, status);
	eight_human = dsn_has_8bit(buf_str(human), buf_len(human));
	eight_attach = dsn_has_8bit(buf_str(attach), buf_len(attach));
	parts[0] = buf_str(human);
	lens[0] = buf_len(human);
	parts[1] = buf_str(status);
	lens[1] = buf_len(status);
	parts[2] = buf_str(attach);
	lens[2] = buf_len(attach);
	dsn_boundary(m, parts, lens, 3, b);

	/* The header. */
	buf_printf(msg, "From: Mail Delivery System <MAILER-DAEMON@%s>\n",
	           m->myhostname);
	buf_reset(v);
	queue_list_printable(m->notify_to, strlen(m->notify_to), v);
	dsn_status_field("To", buf_str(v), msg);
	buf_printf(msg, "Subject: %s\n", dsn_subject(m->kind));
	dsn_date_field("Date", m->now, msg);
	buf_printf(msg, "Message-ID: <%s.%lld.%s@%s>\n", m->queue_id,
	           (long long)m->now,
	           m->unique && *m->unique ? m->unique : "dsn", m->myhostname);
	buf_append_str(msg, "MIME-Version: 1.0\n");
	buf_printf(msg,
	           "Content-Type: multipart/report; "
	           "report-type=delivery-status;\n\tboundary=\"%s\"\n",
	           buf_str(b));
	if (eight_human || eight_attach)
		buf_append_str(msg, "Content-Transfer-Encoding: 8bit\n");
	/* RFC 3834 5: a response generated automatically. */
	buf_append_str(msg, "Auto-Submitted: auto-replied\n");
	buf_append_str(msg, "\nThis is a MIME-encapsulated message.\n\n");

	buf_printf(msg, "--%s\n", buf_str(b));
	buf_append_str(msg, "Content-Description: Notification\n");
	buf_printf(msg, "Content-Type: text/plain; charset=%s\n",
	           eight_human ? "utf-8" : "us-ascii");
	if (eight_human)
		buf_append_str(msg, "Content-Transfer-Encoding: 8bit\n");
	buf_append_char(msg, '\n');
	buf_append(msg, buf_str(human), buf_len(human));

	buf_printf(msg, "--%s\n", buf_str(b));
	buf_append_str(msg, "Content-Description: Delivery report\n"
	                    "Content-Type: message/delivery-status\n\n");
	buf_append(msg, buf_str(status), buf_len(status));
	buf_append_char(msg, '\n');

	if (any) {
		buf_printf(msg, "--%s\n", buf_str(b));
		if (full)
			buf_printf(msg,
			           "Content-Description: %s\n"
			           "Content-Type: message/rfc822\n",
			           "Undelivered Message");
		else
			buf_printf(msg,
			           "Content-Description: %s\n"
			           "Content-Type: text/rfc822-headers\n",
			           m->kind == DSN_FAILURE ||
			                   m->kind == DSN_POSTMASTER
			               ? "Undelivered Message Headers"
			           : m->kind == DSN_DELAY
			               ? "Delayed Message Headers"
			               : "Delivered Message Headers");
		if (eight_attach)
			buf_append_str(msg,
			               "Content-Transfer-Encoding: 8bit\n");
		buf_append_char(msg, '\n');
		buf_append(msg, buf_str(attach), buf_len(attach));
		buf_append_char(msg, '\n');
	}
	buf_printf(msg, "--%s--\n", buf_str(b));

	if (buf_append(out, buf_str(msg), buf_len(msg)) < 0) {
		buf_set_str(err, "notification too large");
		goto out;
	}
	ret = 0;
out:
	buf_destroy(&o.data);
	buf_destroy(&human);
	buf_destroy(&status);
	buf_destroy(&attach);
	buf_destroy(&b);
	buf_destroy(&msg);
	buf_destroy(&v);
	return ret;
}
