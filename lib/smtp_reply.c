/*
 * smtp_reply.c: SMTP server replies as the client sees them (RFC 5321
 * 4.2, 4.2.1 multi-line replies), the enhanced status code in them
 * (RFC 2034, RFC 3463) and the EHLO keywords (RFC 5321 4.1.1.1), with the
 * AUTH mechanism list (RFC 4954 3).
 * Owns struct smtp_reply's buffers.
 * SECURITY: every byte comes from a remote server: lines are read with a
 * length cap (SMTP_REPLY_LINE_MAX, the excess discarded by the stream),
 * a reply has at most SMTP_REPLY_MAX_LINES lines, the text kept is capped
 * at SMTP_REPLY_TEXT_MAX bytes, and control characters in the text become
 * spaces (it ends up in log lines and bounces). Numbers (SIZE) are parsed
 * with a bound; AUTH mechanism names are syntax-checked and length-capped.
 */
#include <string.h>

#include "mem.h"
#include "smtp_reply.h"
#include "str.h"

void smtp_reply_init(struct smtp_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->text = buf_create(128, SMTP_REPLY_TEXT_MAX);
	r->lines = buf_create(128, SMTP_REPLY_TEXT_MAX);
}

void smtp_reply_deinit(struct smtp_reply *r)
{
	buf_destroy(&r->text);
	buf_destroy(&r->lines);
}

void smtp_reply_reset(struct smtp_reply *r)
{
	r->code = 0;
	r->dsn[0] = '\0';
	r->has_dsn = false;
	r->nlines = 0;
	r->complete = false;
	buf_reset(r->text);
	buf_reset(r->lines);
}

int smtp_reply_class(const struct smtp_reply *r)
{
	return r->code / 100;
}

/* Append as much of len bytes as fits, control characters as spaces. */
static void smtp_reply_append_clean(struct buf *b, const char *p, size_t len)
{
	size_t room = buf_limit(b) - buf_len(b);
	char *dst;

	if (len > room)
		len = room;
	if (len == 0 || (dst = buf_reserve(b, len)) == NULL)
		return;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		dst[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	buf_commit(b, len);
}

/* RFC 3463 2: an enhanced status code "class.subject.detail" at p, with
 * class matching the reply's; its length (then followed by SP or the
 * end), or 0. */
static size_t smtp_reply_dsn_len(const char *p, size_t len, int klass)
{
	size_t i = 0;

	if (len < 5 || p[0] != '0' + klass || p[1] != '.')
		return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t digits = 0;

		while (i < len && p[i] >= '0' && p[i] <= '9' && digits < 4) {
			i++;
			digits++;
		}
		if (digits < 1 || digits > 3)
			return 0;
		if (part == 0) {
			if (i >= len || p[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < len && p[i] != ' ')
		return 0;
	return i;
}

int smtp_reply_add_line(struct smtp_reply *r, const char *line, size_t len)
{
	int code;
	bool last;
	const char *rest;
	size_t rest_len;

	if (r->complete)
		smtp_reply_reset(r);
	/* RFC 5321 4.2: Reply-code [ SP / "-" textstring ]; first digit
	 * 2..5 (1yz is not used by SMTP). */
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' ||
	    line[1] > '9' || line[2] < '0' || line[2] > '9')
		return SMTP_REPLY_MALFORMED;
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return SMTP_REPLY_MALFORMED;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	/* RFC 5321 4.2.1: every line of a reply carries the same code. */
	if (r->nlines > 0 && code != r->code)
		return SMTP_REPLY_MALFORMED;
	if (r->nlines >= SMTP_REPLY_MAX_LINES)
		return SMTP_REPLY_MALFORMED;
	last = len == 3 || line[3] == ' ';
	rest = len > 4 ? line + 4 : "";
	rest_len = len > 4 ? len - 4 : 0;

	if (r->nlines == 0) {
		size_t dl;

		r->code = code;
		dl = smtp_reply_dsn_len(rest, rest_len, code / 100);
		if (dl > 0 && dl < sizeof(r->dsn)) {
			memcpy(r->dsn, rest, dl);
			r->dsn[dl] = '\0';
			r->has_dsn = true;
		} else {
			r->dsn[0] = (char)('0' + code / 100);
			memcpy(r->dsn + 1, ".0.0", 5);
		}
	} else {
		(void)buf_append_char(r->text, ' ');
		(void)buf_append_char(r->lines, '\n');
	}
	smtp_reply_append_clean(r->text, line, len);
	smtp_reply_append_clean(r->lines, rest, rest_len);
	r->nlines++;
	if (last) {
		r->complete = true;
		return SMTP_REPLY_DONE;
	}
	return SMTP_REPLY_MORE;
}

int smtp_reply_read(struct stream *s, struct smtp_reply *r)
{
	struct buf *line = buf_create(256, SMTP_REPLY_LINE_MAX + 1);
	int rc;

	smtp_reply_reset(r);
	for (;;) {
		int st = stream_read_line(s, line, SMTP_REPLY_LINE_MAX, NULL);

		if (st == STREAM_TIMEOUT) {
			rc = SMTP_REPLY_TIMEOUT;
			break;
		}
		if (st == STREAM_EOF || st == STREAM_ERROR) {
			rc = SMTP_REPLY_LOST;
			break;
		}
		/* STREAM_OK, or STREAM_TOO_LONG: the head of the line is
		 * enough (the rest was discarded). */
		rc = smtp_reply_add_line(r, buf_str(line), buf_len(line));
		if (rc != SMTP_REPLY_MORE)
			break;
	}
	buf_destroy(&line);
	return rc;
}

/* Does the keyword line start with kw, followed by the end or SP? */
static bool smtp_reply_keyword(const char *line, size_t len, const char *kw,
                               const char **arg)
{
	size_t kl = strlen(kw);

	if (len < kl || strncasecmp(line, kw, kl) != 0)
		return false;
	if (len > kl && line[kl] != ' ' && line[kl] != '=')
		return false;
	*arg = line + kl;
	while (*arg < line + len && (**arg == ' ' || **arg == '='))
		(*arg)++;
	return true;
}

unsigned smtp_reply_ehlo_features(const struct smtp_reply *r,
                                  long long *size_limit)
{
	static const struct {
		const char *kw;
		unsigned flag;
	} kws[] = {
	    {"PIPELINING", SMTP_EXT_PIPELINING},
	    {"SIZE", SMTP_EXT_SIZE},
	    {"8BITMIME", SMTP_EXT_8BITMIME},
	    {"DSN", SMTP_EXT_DSN},
	    {"SMTPUTF8", SMTP_EXT_SMTPUTF8},
	    {"STARTTLS", SMTP_EXT_STARTTLS},
	    {"ENHANCEDSTATUSCODES", SMTP_EXT_ENHANCEDSTATUSCODES},
	    {"CHUNKING", SMTP_EXT_CHUNKING},
	    {"AUTH", SMTP_EXT_AUTH},
	};
	const char *p = buf_str(r->lines), *end = p + buf_len(r->lines);
	unsigned features = 0;
	bool first = true;

	*size_limit = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *arg;

		/* The first line is the server's greeting text. */
		for (size_t i = 0; !first && i < sizeof(kws) / sizeof(kws[0]);
		     i++) {
			if (!smtp_reply_keyword(p, len, kws[i].kw, &arg))
				continue;
			features |= kws[i].flag;
			if (kws[i].flag == SMTP_EXT_SIZE) {
				long long v = 0;
				const char *q = arg;

				/* RFC 1870: SIZE [number]; 0 or none: no
				 * fixed limit. Cap instead of overflow. */
				while (q < p + len && *q >= '0' && *q <= '9') {
					if (v < (1LL << 50))
						v = v * 10 + (*q - '0');
					q++;
				}
				*size_limit = v;
			}
		}
		first = false;
		p += len + (nl ? 1 : 0);
	}
	return features;
}

/* RFC 4422 3.1: sasl-mech = 1*20mech-char, mech-char = A-Z / 0-9 / "-" /
 * "_" (matched here in any case: some servers send lower case). */
static bool smtp_reply_mech_ok(const char *p, size_t len)
{
	if (len == 0 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* Is the upper-case name (len bytes) already in the list? */
static bool smtp_reply_mech_seen(const struct buf *mechs, const char *name,
                                 size_t len)
{
	const char *p = buf_str(mechs), *end = p + buf_len(mechs);

	while (p < end) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		size_t l = sp ? (size_t)(sp - p) : (size_t)(end - p);

		if (l == len && memcmp(p, name, len) == 0)
			return true;
		p += l + 1;
	}
	return false;
}

size_t smtp_reply_ehlo_auth(const struct smtp_reply *r, struct buf *mechs)
{
	const char *p = buf_str(r->lines), *end = p + buf_len(r->lines);
	size_t n = 0;
	bool first = true;

	buf_reset(mechs);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *arg, *q;

		/* The first line is the greeting text, not a keyword. */
		if (!first && smtp_reply_keyword(p, len, "AUTH", &arg)) {
			for (q = arg; q < p + len;) {
				char name[21];
				size_t l = 0;

				while (q < p + len && (*q == ' ' || *q == '='))
					q++;
				while (q + l < p + len && q[l] != ' ')
					l++;
				if (smtp_reply_mech_ok(q, l)) {
					for (size_t i = 0; i < l; i++)
						name[i] = (char)((q[i] >= 'a' &&
						                  q[i] <= 'z')
						                     ? q[i] - 32
						                     : q[i]);
					if (!smtp_reply_mech_seen(mechs, name,
					                          l) &&
					    buf_len(mechs) + l + 1 <=
					        buf_limit(mechs)) {
						if (buf_len(mechs) > 0)
							buf_append_char(mechs,
							                ' ');
						buf_append(mechs, name, l);
						n++;
					}
				}
				q += l;
			}
		}
		first = false;
		p += len + (nl ? 1 : 0);
	}
	return n;
}
