/*
 * header.c: RFC 5322 header sections, streamed (see header.h). The
 * splitter owns one field buffer (at most field_limit bytes) and a short
 * buffer for the start of a line whose kind is not known yet; everything
 * else passes straight through, so a message of any size costs at most
 * one field of memory. Also: field name matching, unfolding (RFC 5322
 * 2.2.3), folding, phrases (3.2.5) and the date-time format (3.3).
 *
 * A line is the start of a field when it begins with a field name (RFC
 * 5322 3.6.8: printable ASCII except ':'), optional white space (the
 * obsolete syntax of 4.5.8, which Postfix accepts too) and a colon; a line
 * starting with white space continues the field before it. The header
 * section ends at the first blank line (which is passed on as body) or at
 * the first line that is neither (the body then starts with that line and
 * end() is told the separator is missing).
 *
 * SECURITY: the content comes from SMTP clients and local users. Nothing
 * here grows past field_limit + HEADER_NAME_MAX bytes whatever the input;
 * overlong fields are cut (the rest dropped, as Postfix does with
 * header_size_limit) and a would-be name longer than HEADER_NAME_MAX ends
 * the header section. NUL and 8-bit bytes are passed through unchanged.
 */
#include <string.h>

#include "header.h"
#include "mem.h"
#include "msg.h"

enum header_state {
	HP_LINE_START, /* at the start of a line in the header section */
	HP_CR, /* the line so far is "\r" */
	HP_NAME, /* the line so far is a would-be field name */
	HP_NAME_WSP, /* ... followed by white space */
	HP_FIELD_LINE, /* inside a line that belongs to the current field */
	HP_BODY, /* past the header section */
};

struct header_parser {
	const struct header_callbacks *cb;
	void *ctx;
	enum header_state state;
	size_t limit;
	struct buf *field; /* the field so far (limit + 1 for a "\n") */
	bool truncated;
	char line[HEADER_NAME_MAX + 2]; /* the undecided start of a line */
	size_t llen;
	bool finished;
};

static bool header_is_ftext(int c)
{
	/* RFC 5322 3.6.8: ftext = %d33-57 / %d59-126 */
	return c >= 33 && c <= 126 && c != ':';
}

static bool header_is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

struct header_parser *header_parser_create(size_t field_limit,
                                           const struct header_callbacks *cb,
                                           void *ctx)
{
	struct header_parser *p = mem_zalloc(sizeof(*p));

	if (field_limit < 1 || cb == NULL || cb->field == NULL ||
	    cb->end == NULL || cb->body == NULL)
		msg_panic("header_parser_create: bad arguments");
	p->cb = cb;
	p->ctx = ctx;
	p->limit = field_limit;
	p->field = buf_create(field_limit < 1024 ? field_limit + 1 : 1024,
	                      field_limit + 1);
	p->state = HP_LINE_START;
	return p;
}

void header_parser_destroy(struct header_parser **pp)
{
	if (*pp == NULL)
		return;
	buf_destroy(&(*pp)->field);
	mem_free(*pp);
	*pp = NULL;
}

bool header_parser_in_body(const struct header_parser *p)
{
	return p->state == HP_BODY;
}

/* Add bytes to the current field, keeping at most limit of them. */
static void header_field_append(struct header_parser *p, const char *data,
                                size_t len)
{
	size_t room = p->limit - buf_len(p->field);

	if (len > room) {
		p->truncated = true;
		len = room;
	}
	if (len > 0 && buf_append(p->field, data, len) < 0)
		msg_panic("header_field_append: over the limit");
}

/* Pass the current field on, if there is one. */
static void header_field_emit(struct header_parser *p)
{
	size_t len = buf_len(p->field);

	if (len == 0)
		return;
	/* A cut inside a line, or content ending inside the field: the
	 * field still ends in a line end. There is room for it (limit + 1). */
	if (buf_str(p->field)[len - 1] != '\n' &&
	    buf_append_char(p->field, '\n') < 0)
		msg_panic("header_field_emit: no room for the line end");
	p->cb->field(p->ctx, buf_str(p->field), buf_len(p->field),
	             p->truncated);
	buf_reset(p->field);
	p->truncated = false;
}

/* The undecided line starts a field: the previous field is complete. */
static void header_field_start(struct header_parser *p)
{
	header_field_emit(p);
	header_field_append(p, p->line, p->llen);
	p->llen = 0;
	p->state = HP_FIELD_LINE;
}

/* The header section ends here; the undecided line (if any) is body. */
static void header_to_body(struct header_parser *p, bool no_separator)
{
	header_field_emit(p);
	p->state = HP_BODY;
	p->cb->end(p->ctx, no_separator);
	if (p->llen > 0) {
		size_t n = p->llen;

		p->llen = 0;
		p->cb->body(p->ctx, p->line, n);
	}
}

/* Keep one byte of an undecided line; false (nothing kept) when the line
 * has grown too long to start a field. */
static bool header_line_push(struct header_parser *p, int c)
{
	if (p->llen >= HEADER_NAME_MAX)
		return false;
	p->line[p->llen++] = (char)c;
	return true;
}

void header_parser_feed(struct header_parser *p, const void *data, size_t len)
{
	const char *d = data;

	if (p->finished)
		msg_panic("header_parser_feed: after finish");
	while (len > 0) {
		int c = (unsigned char)*d;

		switch (p->state) {
		case HP_BODY:
			p->cb->body(p->ctx, d, len);
			return;
		case HP_FIELD_LINE: {
			const char *nl = memchr(d, '\n', len);
			size_t n = nl ? (size_t)(nl - d) + 1 : len;

			header_field_append(p, d, n);
			d += n;
			len -= n;
			if (nl)
				p->state = HP_LINE_START;
			continue;
		}
		case HP_LINE_START:
			if (header_is_wsp(c)) {
				if (buf_len(p->field) > 0)
					p->state = HP_FIELD_LINE; /* folded */
				else
					header_to_body(p, true);
				continue; /* the byte is read again */
			}
			if (c == '\n') {
				header_to_body(p, false);
				continue;
			}
			if (c == '\r') {
				(void)header_line_push(p, c);
				p->state = HP_CR;
			} else if (header_is_ftext(c)) {
				(void)header_line_push(p, c);
				p->state = HP_NAME;
			} else {
				header_to_body(p, true);
				continue;
			}
			break;
		case HP_CR:
			/* "\r\n" is a blank line too; anything else after a
			 * CR is not a field. */
			header_to_body(p, c != '\n');
			continue;
		case HP_NAME:
			if (c == ':') {
				if (!header_line_push(p, c)) {
					header_to_body(p, true);
					continue;
				}
				header_field_start(p);
			} else if ((header_is_ftext(c) || header_is_wsp(c)) &&
			           header_line_push(p, c)) {
				if (header_is_wsp(c))
					p->state = HP_NAME_WSP;
			} else {
				header_to_body(p, true);
				continue;
			}
			break;
		case HP_NAME_WSP:
			if (c == ':' && header_line_push(p, c)) {
				header_field_start(p);
			} else if (header_is_wsp(c) && header_line_push(p, c)) {
				/* more white space before the colon */
			} else {
				header_to_body(p, true);
				continue;
			}
			break;
		}
		d++;
		len--;
	}
}

void header_parser_finish(struct header_parser *p)
{
	if (p->finished)
		return;
	switch (p->state) {
	case HP_BODY:
		break;
	case HP_LINE_START:
	case HP_FIELD_LINE:
		header_to_body(p, false);
		break;
	case HP_CR:
	case HP_NAME:
	case HP_NAME_WSP:
		/* A last line without a colon is not a field. */
		header_to_body(p, true);
		break;
	}
	p->finished = true;
}

const char *header_name(const char *text, size_t len, size_t *namelen)
{
	size_t i = 0, n;

	while (i < len && header_is_ftext((unsigned char)text[i]))
		i++;
	if (i == 0)
		return NULL;
	n = i;
	while (i < len && header_is_wsp((unsigned char)text[i]))
		i++;
	if (i >= len || text[i] != ':')
		return NULL;
	*namelen = n;
	return text;
}

bool header_name_is(const char *text, size_t len, const char *name)
{
	size_t n, want = strlen(name);

	if (header_name(text, len, &n) == NULL || n != want)
		return false;
	for (size_t i = 0; i < n; i++) {
		int a = (unsigned char)text[i], b = (unsigned char)name[i];

		if (a >= 'A' && a <= 'Z')
			a += 'a' - 'A';
		if (b >= 'A' && b <= 'Z')
			b += 'a' - 'A';
		if (a != b)
			return false;
	}
	return true;
}

int header_value(const char *text, size_t len, struct buf *out)
{
	const char *colon, *v, *end = text + len;
	size_t n, start, stop;
	struct buf *tmp;

	if (header_name(text, len, &n) == NULL)
		return -1;
	colon = memchr(text, ':', len);
	tmp = buf_create(len + 1, len + 1);
	/* RFC 5322 2.2.3: unfolding removes each CRLF (here: LF, with a CR
	 * before it) that is followed by white space; the final line end
	 * goes too. */
	for (v = colon + 1; v < end; v++) {
		if (*v == '\r' && v + 1 < end && v[1] == '\n')
			continue;
		if (*v == '\n')
			continue;
		buf_append_char(tmp, *v);
	}
	start = 0;
	stop = buf_len(tmp);
	while (start < stop &&
	       header_is_wsp((unsigned char)buf_str(tmp)[start]))
		start++;
	while (stop > start &&
	       header_is_wsp((unsigned char)buf_str(tmp)[stop - 1]))
		stop--;
	if (stop - start > buf_limit(out)) {
		buf_destroy(&tmp);
		return -1;
	}
	buf_reset(out);
	buf_append(out, buf_str(tmp) + start, stop - start);
	buf_destroy(&tmp);
	return 0;
}

int header_fold(const char *name, const char *value, size_t width,
                struct buf *out)
{
	size_t mark = buf_len(out), col;
	const char *p = value;
	bool first = true;

	if (buf_printf(out, "%s:", name) < 0)
		goto full;
	col = strlen(name) + 1;
	for (;;) {
		size_t wlen;

		while (header_is_wsp((unsigned char)*p) || *p == '\n' ||
		       *p == '\r')
			p++;
		if (*p == 0)
			break;
		for (wlen = 0;
		     p[wlen] && !header_is_wsp((unsigned char)p[wlen]) &&
		     p[wlen] != '\n' && p[wlen] != '\r';
		     wlen++)
			;
		/* RFC 5322 2.2.3: fold before a word that would pass the
		 * width, never in front of the first one. */
		if (!first && col + 1 + wlen > width) {
			if (buf_append(out, "\n\t", 2) < 0)
				goto full;
			col = 1;
		} else {
			if (buf_append_char(out, ' ') < 0)
				goto full;
			col++;
		}
		if (buf_append(out, p, wlen) < 0)
			goto full;
		col += wlen;
		p += wlen;
		first = false;
	}
	if (buf_append_char(out, '\n') < 0)
		goto full;
	return 0;
full:
	buf_truncate(out, mark);
	return -1;
}

int header_date(time_t t, struct buf *out)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed",
	                                "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr",
	                                   "May", "Jun", "Jul", "Aug",
	                                   "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	long off, aoff;

	if (localtime_r(&t, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 ||
	    tm.tm_mon < 0 || tm.tm_mon > 11)
		return -1;
	off = tm.tm_gmtoff / 60; /* minutes east of UTC */
	aoff = off < 0 ? -off : off;
	/* RFC 5322 3.3: day-of-week "," day month year time zone */
	return buf_sprintf(out, "%s, %d %s %04d %02d:%02d:%02d %c%02ld%02ld",
	                   days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	                   tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
	                   off < 0 ? '-' : '+', aoff / 60, aoff % 60);
}

static bool header_is_atext(int c)
{
	/* RFC 5322 3.2.3 atext; 8-bit bytes as in RFC 6532. */
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c >= 0x80)
		return true;
	return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

void header_phrase(const char *name, struct buf *out)
{
	bool atoms = *name != 0 && *name != ' ';

	for (const char *s = name; *s && atoms; s++) {
		if (*s == ' ')
			atoms = s[1] != 0 && s[1] != ' ';
		else
			atoms = header_is_atext((unsigned char)*s);
	}
	if (atoms) {
		buf_append_str(out, name);
		return;
	}
	/* RFC 5322 3.2.4: quoted-string, quoted-pair for '"' and '\'. */
	buf_append_char(out, '"');
	for (const char *s = name; *s; s++) {
		int c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			buf_append_char(out, '\\');
			buf_append_char(out, c);
		} else if (c < 0x20 || c == 0x7f) {
			buf_append_char(out, ' ');
		} else {
			buf_append_char(out, c);
		}
	}
	buf_append_char(out, '"');
}
