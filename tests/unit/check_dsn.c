/* check_dsn.c: unit tests for lib/dsn.c: the notice is taken apart again
 * (header fields, the multipart/report boundary and parts, the
 * message/delivery-status groups) for failures, delays, success notices
 * and postmaster copies; RET=FULL/HDRS and bounce_size_limit; hostile
 * texts (line ends, control and 8-bit bytes, overlong words, a boundary
 * look-alike in the original); the helpers (SMTP reply split, durations,
 * xtext-like field values); read errors and output limits. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "dsn.h"

static void use_utc(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

/* ---- a content reader over a string, in small pieces ---- */

struct src {
	const char *data;
	size_t len, pos;
	size_t piece;
	int fail_at; /* -1: never; else fail when pos >= fail_at */
};

static ssize_t src_read(void *ctx, void *data, size_t len)
{
	struct src *s = ctx;
	size_t n = s->len - s->pos;

	if (s->fail_at >= 0 && s->pos >= (size_t)s->fail_at)
		return -1;
	if (n > len)
		n = len;
	if (s->piece && n > s->piece)
		n = s->piece;
	memcpy(data, s->data + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

static void src_init(struct src *s, const char *data)
{
	memset(s, 0, sizeof(*s));
	s->data = data;
	s->len = strlen(data);
	s->piece = 7;
	s->fail_at = -1;
}

/* ---- taking a notice apart ---- */

#define MAX_PARTS 8

struct parsed {
	char *text; /* the whole notice (owned) */
	char *header; /* the top header section (points into text copy) */
	char boundary[128];
	int nparts;
	char *part_header[MAX_PARTS];
	char *part_body[MAX_PARTS];
	bool closed; /* the closing delimiter was seen */
};

static char *dup_range(const char *p, size_t n)
{
	char *s = malloc(n + 1);

	memcpy(s, p, n);
	s[n] = 0;
	return s;
}

/* The unfolded value of field name in a header section, or NULL
 * (malloc'ed). */
static char *field(const char *header, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = header;

	while (p && *p) {
		if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			struct buf *b = buf_create(64, 0);
			char *r;

			p += nlen + 1;
			while (*p == ' ')
				p++;
			for (;;) {
				const char *e = strchr(p, '\n');

				if (e == NULL)
					e = p + strlen(p);
				buf_append(b, p, (size_t)(e - p));
				if (*e == '\n' &&
				    (e[1] == ' ' || e[1] == '\t')) {
					p = e + 1;
					while (*p == ' ' || *p == '\t')
						p++;
					buf_append_char(b, ' ');
					continue;
				}
				break;
			}
			r = strdup(buf_str(b));
			buf_destroy(&b);
			return r;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

static void parse_notice(const char *text, struct parsed *ps)
{
	const char *sep, *ct, *bpos, *p;
	char *ctv;
	size_t blen;
	char delim[140];

	memset(ps, 0, sizeof(*ps));
	ps->text = strdup(text);
	sep = strstr(text, "\n\n");
	ck_assert_ptr_nonnull(sep);
	ps->header = dup_range(text, (size_t)(sep - text + 1));
	ctv = field(ps->header, "Content-Type");
	ck_assert_ptr_nonnull(ctv);
	ck_assert(strncmp(ctv, "multipart/report;", 17) == 0);
	ck_assert_ptr_nonnull(strstr(ctv, "report-type=delivery-status"));
	bpos = strstr(ctv, "boundary=\"");
	ck_assert_ptr_nonnull(bpos);
	bpos += 10;
	blen = strcspn(bpos, "\"");
	ck_assert_uint_gt(blen, 0);
	ck_assert_uint_le(blen, 70); /* RFC 2046 5.1.1 */
	memcpy(ps->boundary, bpos, blen);
	ps->boundary[blen] = 0;
	free(ctv);
	(void)ct;

	/* Parts: lines "--B" open a part, "--B--" closes. */
	snprintf(delim, sizeof(delim), "\n--%s", ps->boundary);
	p = strstr(sep + 1, delim);
	ck_assert_ptr_nonnull(p);
	while (p) {
		const char *start = p + strlen(delim), *next, *hend;

		if (strncmp(start, "--\n", 3) == 0) {
			ps->closed = true;
			ck_assert_str_eq(start + 3, "");
			break;
		}
		ck_assert_int_eq(*start, '\n');
		start++;
		next = strstr(start, delim);
		ck_assert_ptr_nonnull(next);
		ck_assert_int_lt(ps->nparts, MAX_PARTS);
		hend = strstr(start, "\n\n");
		ck_assert_ptr_nonnull(hend);
		ck_assert(hend <= next);
		ps->part_header[ps->nparts] =
		    dup_range(start, (size_t)(hend - start + 1));
		/* The body ends before the CRLF that belongs to the next
		 * delimiter (RFC 2046 5.1.1). */
		ps->part_body[ps->nparts] = dup_range(
		    hend + 2,
		    next >= hend + 2 ? (size_t)(next - (hend + 2)) : 0);
		ps->nparts++;
		p = next;
	}
}

static void parsed_free(struct parsed *ps)
{
	free(ps->text);
	free(ps->header);
	for (int i = 0; i < ps->nparts; i++) {
		free(ps->part_header[i]);
		free(ps->part_body[i]);
	}
}

static void check_lines(const char *text)
{
	size_t col = 0;

	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p == '\n') {
			col = 0;
			continue;
		}
		ck_assert_msg(*p != '\r' && *p != 0, "CR or NUL in output");
		col++;
		ck_assert_msg(col <= 998, "line longer than 998");
	}
}

/* Every header and report field only 7-bit printable text or tabs. */
static void check_7bit(const char *text)
{
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		ck_assert_msg(*p == '\n' || *p == '\t' ||
		                  (*p >= 0x20 && *p < 0x7f),
		              "byte 0x%02x in a 7-bit section", *p);
}

static const char original[] =
    "Received: from client.example (client.example [192.0.2.9])\n"
    "\tby mx.example.org with ESMTP id ABC\n"
    "From: Alice <alice@example.com>\n"
    "To: bob@example.org\n"
    "Subject: hello\n"
    "Message-ID: <m1@example.com>\n"
    "\n"
    "Body line one\n"
    "Body line two\n";

static struct dsn_rcpt rcpts2[] = {
    {"bob@example.org", "rfc822;bob@example.org", DSN_ACTION_FAILED, "5.1.1",
     "unknown user: \"bob\"", NULL},
    {"carol@example.net", "rfc822;list@example.org", DSN_ACTION_FAILED, "5.1.1",
     "host mx.example.net[192.0.2.7] said: 550 5.1.1 <carol@example.net>: "
     "Recipient address rejected (in reply to RCPT TO command)",
     NULL},
};

static void base_message(struct dsn_message *m, enum dsn_kind kind)
{
	memset(m, 0, sizeof(*m));
	m->kind = kind;
	m->myhostname = "mx.example.org";
	m->queue_id = "6B02585B28A9BQA7420B";
	m->sender = "alice@example.com";
	m->notify_to = "alice@example.com";
	m->arrival = 1763780000;
	m->now = 1763783600;
	m->size_limit = 50000;
	m->unique = "77.1";
	m->rcpts = rcpts2;
	m->nrcpts = 2;
}

static char *compose(const struct dsn_message *m, const char *content)
{
	struct buf *out = buf_create(1024, 0), *err = buf_create(64, 0);
	struct src s;
	char *r;

	src_init(&s, content ? content : "");
	ck_assert_int_eq(
	    dsn_compose(m, content ? src_read : NULL, &s, out, err), 0);
	r = strdup(buf_str(out));
	buf_destroy(&out);
	buf_destroy(&err);
	return r;
}

/* The delivery-status body split into groups (blank-line separated). */
static int status_groups(const char *body, char **groups, int max)
{
	int n = 0;
	const char *p = body;

	while (*p && n < max) {
		const char *e = strstr(p, "\n\n");
		size_t len = e ? (size_t)(e - p + 1) : strlen(p);

		groups[n++] = dup_range(p, len);
		if (e == NULL)
			break;
		p = e + 2;
	}
	return n;
}

START_TEST(test_failure_full)
{
	struct dsn_message m;
	struct parsed ps;
	char *text, *v, *groups[8];
	int ng;

	use_utc();
	base_message(&m, DSN_FAILURE);
	m.envid = "QQ314159";
	text = compose(&m, original);
	check_lines(text);
	parse_notice(text, &ps);
	check_7bit(ps.header);

	v = field(ps.header, "From");
	ck_assert_str_eq(v,
	                 "Mail Delivery System <MAILER-DAEMON@mx.example.org>");
	free(v);
	v = field(ps.header, "To");
	ck_assert_str_eq(v, "alice@example.com");
	free(v);
	v = field(ps.header, "Subject");
	ck_assert_str_eq(v, "Undelivered Mail Returned to Sender");
	free(v);
	v = field(ps.header, "Date");
	ck_assert_str_eq(v, "Sat, 22 Nov 2025 03:53:20 +0000");
	free(v);
	v = field(ps.header, "Message-ID");
	ck_assert_str_eq(v, "<6B02585B28A9BQA7420B.1763783600.77.1@mx.example."
	                    "org>");
	free(v);
	v = field(ps.header, "MIME-Version");
	ck_assert_str_eq(v, "1.0");
	free(v);
	v = field(ps.header, "Auto-Submitted");
	ck_assert_str_eq(v, "auto-replied");
	free(v);
	ck_assert_ptr_null(field(ps.header, "Content-Transfer-Encoding"));

	ck_assert(ps.closed);
	ck_assert_int_eq(ps.nparts, 3);
	v = field(ps.part_header[0], "Content-Type");
	ck_assert_str_eq(v, "text/plain; charset=us-ascii");
	free(v);
	ck_assert_ptr_nonnull(strstr(ps.part_body[0], "mx.example.org"));
	ck_assert_ptr_nonnull(strstr(
	    ps.part_body[0], "<bob@example.org>: unknown user: \"bob\""));
	/* ORCPT differs: the human part says where it came from. */
	ck_assert_ptr_nonnull(strstr(
	    ps.part_body[0],
	    "<carol@example.net> (expanded from <list@example.org>): host"));
	ck_assert_ptr_nonnull(strstr(ps.part_body[0], "is attached"));

	v = field(ps.part_header[1], "Content-Type");
	ck_assert_str_eq(v, "message/delivery-status");
	free(v);
	check_7bit(ps.part_body[1]);
	ng = status_groups(ps.part_body[1], groups, 8);
	ck_assert_int_eq(ng, 3);
	v = field(groups[0], "Reporting-MTA");
	ck_assert_str_eq(v, "dns; mx.example.org");
	free(v);
	v = field(groups[0], "X-Posthorn-Queue-ID");
	ck_assert_str_eq(v, "6B02585B28A9BQA7420B");
	free(v);
	v = field(groups[0], "Original-Envelope-Id");
	ck_assert_str_eq(v, "QQ314159");
	free(v);
	v = field(groups[0], "Arrival-Date");
	ck_assert_str_eq(v, "Sat, 22 Nov 2025 02:53:20 +0000");
	free(v);

	v = field(groups[1], "Final-Recipient");
	ck_assert_str_eq(v, "rfc822; bob@example.org");
	free(v);
	v = field(groups[1], "Original-Recipient");
	ck_assert_str_eq(v, "rfc822;bob@example.org");
	free(v);
	v = field(groups[1], "Action");
	ck_assert_str_eq(v, "failed");
	free(v);
	v = field(groups[1], "Status");
	ck_assert_str_eq(v, "5.1.1");
	free(v);
	v = field(groups[1], "Diagnostic-Code");
	ck_assert_str_eq(v, "x-posthorn; unknown user: \"bob\"");
	free(v);
	ck_assert_ptr_null(field(groups[1], "Remote-MTA"));
	ck_assert_ptr_null(field(groups[1], "Will-Retry-Until"));

	v = field(groups[2], "Remote-MTA");
	ck_assert_str_eq(v, "dns; mx.example.net");
	free(v);
	v = field(groups[2], "Diagnostic-Code");
	ck_assert_str_eq(v, "smtp; 550 5.1.1 <carol@example.net>: Recipient "
	                    "address rejected");
	free(v);
	v = field(groups[2], "Original-Recipient");
	ck_assert_str_eq(v, "rfc822;list@example.org");
	free(v);
	for (int i = 0; i < ng; i++)
		free(groups[i]);

	v = field(ps.part_header[2], "Content-Type");
	ck_assert_str_eq(v, "message/rfc822");
	free(v);
	ck_assert_str_eq(ps.part_body[2], original);
	parsed_free(&ps);
	free(text);
}
END_TEST

START_TEST(test_failure_headers_only)
{
	struct dsn_message m;
	struct parsed ps;
	char *text, *v;
	static const char *const cases[] = {"ret", "limit"};

	for (size_t i = 0; i < 2; i++) {
		base_message(&m, DSN_FAILURE);
		if (strcmp(cases[i], "ret") == 0)
			m.ret_headers = true;
		else
			m.size_limit = sizeof(original) - 5;
		text = compose(&m, original);
		parse_notice(text, &ps);
		ck_assert_int_eq(ps.nparts, 3);
		v = field(ps.part_header[2], "Content-Type");
		ck_assert_str_eq(v, "text/rfc822-headers");
		free(v);
		ck_assert(strncmp(ps.part_body[2], original,
		                  strlen(ps.part_body[2])) == 0);
		ck_assert_ptr_null(strstr(ps.part_body[2], "Body line"));
		ck_assert_ptr_nonnull(
		    strstr(ps.part_body[2], "Subject: hello\n"));
		ck_assert_ptr_nonnull(strstr(ps.part_body[0], "headers"));
		parsed_free(&ps);
		free(text);
	}
}
END_TEST

/* Headers over the limit are cut at a line end. */
START_TEST(test_headers_cut)
{
	struct dsn_message m;
	struct parsed ps;
	char *text;

	base_message(&m, DSN_FAILURE);
	m.size_limit = 60;
	text = compose(&m, original);
	parse_notice(text, &ps);
	ck_assert_str_eq(ps.part_body[2],
	                 "Received: from client.example (client.example "
	                 "[192.0.2.9])\n");
	parsed_free(&ps);
	free(text);
}
END_TEST

START_TEST(test_delay)
{
	struct dsn_message m;
	struct parsed ps;
	struct dsn_rcpt r = {"bob@example.org",
	                     NULL,
	                     DSN_ACTION_DELAYED,
	                     "4.4.1",
	                     "connect to mx.example.org[192.0.2.1]:25: "
	                     "Connection refused",
	                     NULL};
	char *text, *v, *groups[4];
	int ng;

	use_utc();
	base_message(&m, DSN_DELAY);
	m.rcpts = &r;
	m.nrcpts = 1;
	m.now = m.arrival + 4 * 3600;
	m.retry_until = m.arrival + 5 * 86400;
	text = compose(&m, original);
	check_lines(text);
	parse_notice(text, &ps);
	v = field(ps.header, "Subject");
	ck_assert_str_eq(v, "Delayed Mail (still being retried)");
	free(v);
	ck_assert_ptr_nonnull(strstr(ps.part_body[0], "after 4 hours"));
	ck_assert_ptr_nonnull(strstr(ps.part_body[0], "5 days"));
	ck_assert_ptr_nonnull(strstr(ps.part_body[0], "warning"));
	ng = status_groups(ps.part_body[1], groups, 4);
	ck_assert_int_eq(ng, 2);
	v = field(groups[1], "Action");
	ck_assert_str_eq(v, "delayed");
	free(v);
	v = field(groups[1], "Status");
	ck_assert_str_eq(v, "4.4.1");
	free(v);
	v = field(groups[1], "Will-Retry-Until");
	ck_assert_str_eq(v, "Thu, 27 Nov 2025 02:53:20 +0000");
	free(v);
	ck_assert_ptr_null(field(groups[1], "Original-Recipient"));
	for (int i = 0; i < ng; i++)
		free(groups[i]);
	/* Delay warnings carry the headers only. */
	v = field(ps.part_header[2], "Content-Type");
	ck_assert_str_eq(v, "text/rfc822-headers");
	free(v);
	parsed_free(&ps);
	free(text);
}
END_TEST

START_TEST(test_success)
{
	struct dsn_message m;
	struct parsed ps;
	struct dsn_rcpt r[] = {
	    {"bob@example.org", "rfc822;bob@example.org", DSN_ACTION_DELIVERED,
	     "2.0.0", "delivered to maildir", "local"},
	    {"dave@example.net", NULL, DSN_ACTION_RELAYED, "2.0.0",
	     "250 2.0.0 Ok: queued as 4711", "mx.example.net[192.0.2.8]:25"},
	};
	char *text, *v, *groups[4];
	int ng;

	base_message(&m, DSN_SUCCESS);
	m.rcpts = r;
	m.nrcpts = 2;
	text = compose(&m, original);
	parse_notice(text, &ps);
	v = field(ps.header, "Subject");
	ck_assert_str_eq(v, "Successful Mail Delivery Report");
	free(v);
	ng = status_groups(ps.part_body[1], groups, 4);
	ck_assert_int_eq(ng, 3);
	v = field(groups[1], "Action");
	ck_assert_str_eq(v, "delivered");
	free(v);
	v = field(groups[1], "Status");
	ck_assert_str_eq(v, "2.0.0");
	free(v);
	ck_assert_ptr_null(field(groups[1], "Remote-MTA"));
	v = field(groups[1], "Diagnostic-Code");
	ck_assert_str_eq(v, "x-posthorn; delivered to maildir");
	free(v);
	v = field(groups[2], "Action");
	ck_assert_str_eq(v, "relayed");
	free(v);
	v = field(groups[2], "Remote-MTA");
	ck_assert_str_eq(v, "dns; mx.example.net");
	free(v);
	v = field(groups[2], "Diagnostic-Code");
	ck_assert_str_eq(v, "smtp; 250 2.0.0 Ok: queued as 4711");
	free(v);
	for (int i = 0; i < ng; i++)
		free(groups[i]);
	v = field(ps.part_header[2], "Content-Type");
	ck_assert_str_eq(v, "text/rfc822-headers");
	free(v);
	parsed_free(&ps);
	free(text);
}
END_TEST

START_TEST(test_postmaster_copy)
{
	struct dsn_message m;
	struct parsed ps;
	char *text, *v;

	base_message(&m, DSN_POSTMASTER);
	m.sender = "";
	m.notify_to = "postmaster";
	text = compose(&m, original);
	parse_notice(text, &ps);
	v = field(ps.header, "Subject");
	ck_assert_str_eq(v, "Postmaster Copy: Undelivered Mail");
	free(v);
	v = field(ps.header, "To");
	ck_assert_str_eq(v, "postmaster");
	free(v);
	ck_assert_ptr_nonnull(strstr(ps.part_body[0], "null sender"));
	v = field(ps.part_body[1], "X-Posthorn-Sender");
	ck_assert_str_eq(v, "rfc822;");
	free(v);
	v = field(ps.part_header[2], "Content-Type");
	ck_assert_str_eq(v, "text/rfc822-headers");
	free(v);
	parsed_free(&ps);
	free(text);
}
END_TEST

/* Without a reader: two parts, nothing attached. */
START_TEST(test_no_content)
{
	struct dsn_message m;
	struct parsed ps;
	char *text;

	base_message(&m, DSN_FAILURE);
	text = compose(&m, NULL);
	parse_notice(text, &ps);
	ck_assert_int_eq(ps.nparts, 2);
	ck_assert(ps.closed);
	parsed_free(&ps);
	free(text);
}
END_TEST

/* Hostile diagnostic text and addresses: no control bytes or 8-bit
 * bytes in the report, no overlong line anywhere. */
START_TEST(test_hostile_text)
{
	struct dsn_message m;
	struct parsed ps;
	struct buf *big = buf_create(8192, 0);
	struct dsn_rcpt r = {"j\xc3\xb6rg@example.org",
	                     "rfc822;a b+c=d\x01@example.org",
	                     DSN_ACTION_FAILED,
	                     "5.7.1\r\nX-Evil: 1",
	                     NULL,
	                     NULL};
	char *text, *v, *groups[4];
	int ng;

	buf_append_str(big, "line\r\nInjected: yes\n\x01\x7f\xff ");
	for (int i = 0; i < 3000; i++)
		buf_append_char(big, 'w');
	buf_append_str(big, " end");
	r.text = buf_str(big);
	base_message(&m, DSN_FAILURE);
	m.rcpts = &r;
	m.nrcpts = 1;
	m.envid = "id with space+plus";
	text = compose(&m, original);
	check_lines(text);
	parse_notice(text, &ps);
	check_7bit(ps.part_body[1]);
	ck_assert_ptr_null(strstr(ps.part_body[1], "\nInjected:"));
	ck_assert_ptr_null(strstr(ps.part_body[1], "\nX-Evil:"));
	ck_assert_ptr_null(strstr(ps.part_body[0], "\nInjected:"));
	ng = status_groups(ps.part_body[1], groups, 4);
	ck_assert_int_eq(ng, 2);
	v = field(groups[0], "Original-Envelope-Id");
	ck_assert_str_eq(v, "id+20with+20space+plus");
	free(v);
	v = field(groups[1], "Final-Recipient");
	ck_assert_str_eq(v, "rfc822; j+C3+B6rg@example.org");
	free(v);
	v = field(groups[1], "Original-Recipient");
	ck_assert_str_eq(v, "rfc822;a+20b+c=d+01@example.org");
	free(v);
	v = field(groups[1], "Status");
	ck_assert_str_eq(v, "5.0.0");
	free(v);
	v = field(groups[1], "Diagnostic-Code");
	ck_assert(strncmp(v, "x-posthorn; line Injected: yes ? www", 36) == 0);
	ck_assert(strlen(v) < 1000);
	free(v);
	for (int i = 0; i < ng; i++)
		free(groups[i]);
	/* The human part keeps valid UTF-8 and says so. */
	v = field(ps.part_header[0], "Content-Type");
	ck_assert_str_eq(v, "text/plain; charset=utf-8");
	free(v);
	ck_assert_ptr_nonnull(
	    strstr(ps.part_body[0], "j\xc3\xb6rg@example.org"));
	v = field(ps.header, "Content-Transfer-Encoding");
	ck_assert_str_eq(v, "8bit");
	free(v);
	parsed_free(&ps);
	free(text);
	buf_destroy(&big);
}
END_TEST

/* An original with 8-bit bytes and overlong lines. */
START_TEST(test_8bit_long_lines)
{
	struct dsn_message m;
	struct parsed ps;
	struct buf *c = buf_create(8192, 0);
	char *text, *v;

	buf_append_str(c, "Subject: ");
	for (int i = 0; i < 1500; i++)
		buf_append_char(c, 'h');
	buf_append_str(c, "\n\nK\xc3\xa4se\n");
	for (int i = 0; i < 2500; i++)
		buf_append_char(c, 'b');
	buf_append_str(c, "\nno final newline");
	base_message(&m, DSN_FAILURE);
	text = compose(&m, buf_str(c));
	check_lines(text);
	parse_notice(text, &ps);
	v = field(ps.part_header[2], "Content-Transfer-Encoding");
	ck_assert_str_eq(v, "8bit");
	free(v);
	v = field(ps.header, "Content-Transfer-Encoding");
	ck_assert_str_eq(v, "8bit");
	free(v);
	/* The long header line is folded (continuation starts with a
	 * space), the body line just broken. */
	ck_assert_ptr_nonnull(strstr(ps.part_body[2], "hhh\n hhh"));
	ck_assert_ptr_nonnull(strstr(ps.part_body[2], "bbb\nbbb"));
	ck_assert_ptr_nonnull(strstr(ps.part_body[2], "no final newline\n"));
	parsed_free(&ps);
	free(text);
	buf_destroy(&c);
}
END_TEST

/* The original contains the boundary we would pick: another is used. */
START_TEST(test_boundary_clash)
{
	struct dsn_message m;
	struct parsed ps, ps2;
	struct buf *c = buf_create(1024, 0);
	char *text, *text2;

	base_message(&m, DSN_FAILURE);
	text = compose(&m, original);
	parse_notice(text, &ps);
	buf_append_str(c, "Subject: x\n\n--");
	buf_append_str(c, ps.boundary);
	buf_append_str(c, "--\n");
	text2 = compose(&m, buf_str(c));
	parse_notice(text2, &ps2);
	ck_assert_str_ne(ps.boundary, ps2.boundary);
	ck_assert_int_eq(ps2.nparts, 3);
	ck_assert_str_eq(ps2.part_body[2], buf_str(c));
	parsed_free(&ps);
	parsed_free(&ps2);
	free(text);
	free(text2);
	buf_destroy(&c);
}
END_TEST

START_TEST(test_read_error_and_limit)
{
	struct dsn_message m;
	struct buf *out = buf_create(16, 0), *small = buf_create(16, 200),
	           *err = buf_create(64, 0);
	struct src s;

	base_message(&m, DSN_FAILURE);
	buf_set_str(out, "keep");
	src_init(&s, original);
	s.fail_at = 20;
	ck_assert_int_eq(dsn_compose(&m, src_read, &s, out, err), -1);
	ck_assert_str_eq(buf_str(out), "keep");
	ck_assert_uint_gt(buf_len(err), 0);

	buf_set_str(small, "keep");
	src_init(&s, original);
	ck_assert_int_eq(dsn_compose(&m, src_read, &s, small, err), -1);
	ck_assert_str_eq(buf_str(small), "keep");
	buf_destroy(&out);
	buf_destroy(&small);
	buf_destroy(&err);
}
END_TEST

/* A notice with many recipients stays well formed. */
START_TEST(test_many_rcpts)
{
	struct dsn_message m;
	struct parsed ps;
	struct dsn_rcpt *r = calloc(500, sizeof(*r));
	char(*addrs)[32] = calloc(500, 32);
	char *text, *groups[600];
	int ng;

	for (int i = 0; i < 500; i++) {
		snprintf(addrs[i], 32, "user%d@example.org", i);
		r[i].address = addrs[i];
		r[i].action = DSN_ACTION_FAILED;
		r[i].status = "5.1.1";
		r[i].text = "unknown user";
	}
	base_message(&m, DSN_FAILURE);
	m.rcpts = r;
	m.nrcpts = 500;
	text = compose(&m, original);
	parse_notice(text, &ps);
	ng = status_groups(ps.part_body[1], groups, 600);
	ck_assert_int_eq(ng, 501);
	for (int i = 0; i < ng; i++)
		free(groups[i]);
	parsed_free(&ps);
	free(text);
	free(r);
	free(addrs);
}
END_TEST

/* ---- helpers ---- */

static const struct {
	const char *in;
	int ret;
	const char *mta, *reply;
} split_cases[] = {
    {"host mx.example.net[192.0.2.7] said: 550 5.1.1 no such user (in "
     "reply to RCPT TO command)",
     0, "mx.example.net", "550 5.1.1 no such user"},
    {"host mx.example.net[192.0.2.7] said: 452 full", 0, "mx.example.net",
     "452 full"},
    {"host a[::1] said: 554 x (in reply to end of DATA command)", 0, "a",
     "554 x"},
    {"host [192.0.2.7] said: 550 x", -1, NULL, NULL},
    {"host mx.example.net said: 550 x", -1, NULL, NULL},
    {"host mx example[1] said: 550 x", -1, NULL, NULL},
    {"host mx[1] said: ", -1, NULL, NULL},
    {"connect to mx[1]:25: refused", -1, NULL, NULL},
    {"", -1, NULL, NULL},
};

START_TEST(test_smtp_split)
{
	struct buf *mta = buf_create(16, 0), *reply = buf_create(16, 0);
	int r;

	buf_set_str(mta, "old");
	r = dsn_smtp_reply_split(split_cases[_i].in, mta, reply);
	ck_assert_int_eq(r, split_cases[_i].ret);
	if (r == 0) {
		ck_assert_str_eq(buf_str(mta), split_cases[_i].mta);
		ck_assert_str_eq(buf_str(reply), split_cases[_i].reply);
	} else {
		ck_assert_str_eq(buf_str(mta), "old");
	}
	buf_destroy(&mta);
	buf_destroy(&reply);
}
END_TEST

static const struct {
	long long secs;
	const char *out;
} duration_cases[] = {
    {0, "0 seconds"},          {1, "1 second"},    {59, "59 seconds"},
    {60, "1 minute"},          {150, "2 minutes"}, {3600, "1 hour"},
    {4 * 3600 + 5, "4 hours"}, {86400, "1 day"},   {5 * 86400, "5 days"},
    {-5, "0 seconds"},
};

START_TEST(test_duration)
{
	struct buf *b = buf_create(16, 0);

	dsn_format_duration(duration_cases[_i].secs, b);
	ck_assert_str_eq(buf_str(b), duration_cases[_i].out);
	buf_destroy(&b);
}
END_TEST

static const struct {
	const char *in;
	size_t len;
} status_cases[] = {
    {"5.1.1", 5},    {"2.0.0 ok", 5}, {"4.4.1\tx", 5}, {"5.123.456", 9},
    {"5.1234.1", 0}, {"3.1.1", 0},    {"5.1", 0},      {"5..1", 0},
    {"5.1.1x", 0},   {"", 0},         {"x5.1.1", 0},   {"5.1.", 0},
};

START_TEST(test_status_len)
{
	ck_assert_uint_eq(dsn_status_len(status_cases[_i].in),
	                  status_cases[_i].len);
}
END_TEST

START_TEST(test_field_text)
{
	struct buf *b = buf_create(16, 0);

	dsn_field_text("a+b=c@d.example", b);
	ck_assert_str_eq(buf_str(b), "a+b=c@d.example");
	buf_reset(b);
	dsn_field_text(" \t\r\n\x7f\x80\xff", b);
	ck_assert_str_eq(buf_str(b), "+20+09+0D+0A+7F+80+FF");
	buf_destroy(&b);
	ck_assert_str_eq(dsn_action_name(DSN_ACTION_EXPANDED), "expanded");
}
END_TEST

Suite *dsn_suite(void)
{
	Suite *s = suite_create("dsn");
	TCase *tc = tcase_create("dsn");

	tcase_add_test(tc, test_failure_full);
	tcase_add_test(tc, test_failure_headers_only);
	tcase_add_test(tc, test_headers_cut);
	tcase_add_test(tc, test_delay);
	tcase_add_test(tc, test_success);
	tcase_add_test(tc, test_postmaster_copy);
	tcase_add_test(tc, test_no_content);
	tcase_add_test(tc, test_hostile_text);
	tcase_add_test(tc, test_8bit_long_lines);
	tcase_add_test(tc, test_boundary_clash);
	tcase_add_test(tc, test_read_error_and_limit);
	tcase_add_test(tc, test_many_rcpts);
	tcase_add_loop_test(tc, test_smtp_split, 0,
	                    sizeof(split_cases) / sizeof(split_cases[0]));
	tcase_add_loop_test(tc, test_duration, 0,
	                    sizeof(duration_cases) / sizeof(duration_cases[0]));
	tcase_add_loop_test(tc, test_status_len, 0,
	                    sizeof(status_cases) / sizeof(status_cases[0]));
	tcase_add_test(tc, test_field_text);
	suite_add_tcase(s, tc);
	return s;
}
