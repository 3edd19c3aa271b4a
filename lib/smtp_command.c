/*
 * smtp_command.c: SMTP server command-line parsers (smtp_command.h):
 * verb/argument split (RFC 5321 4.1.1), MAIL FROM / RCPT TO paths and
 * ESMTP parameters (RFC 5321 4.1.2 esmtp-param syntax; SIZE RFC 1870 6,
 * BODY RFC 6152 2, SMTPUTF8 RFC 6531 3.4, RET/ENVID/NOTIFY/ORCPT RFC 3461
 * 4, AUTH RFC 4954 5), BDAT arguments (RFC 3030 2) and xtext (RFC 3461
 * 4). Owns nothing: every result goes to caller-supplied storage.
 * SECURITY: every input byte comes from a remote client. Lines with
 * control characters are refused; every output is bounded (fixed arrays
 * or the caller's buf limit); the number of parameters is bounded
 * (SMTP_PARAMS_MAX); numbers are parsed with overflow checks; decoded
 * xtext never contains NUL. Fuzzed by tests/fuzz/fuzz_smtp_command.c.
 */
#include <stdio.h>
#include <string.h>

#include "address.h"
#include "queue_file.h"
#include "smtp_command.h"
#include "str.h"

static const struct {
	const char *word; /* upper case */
	const char *log; /* for log lines */
} smtp_verbs[SMTP_VERB_COUNT] = {
    [SMTP_VERB_UNKNOWN] = {"", "unknown"},
    [SMTP_VERB_HELO] = {"HELO", "helo"},
    [SMTP_VERB_EHLO] = {"EHLO", "ehlo"},
    [SMTP_VERB_STARTTLS] = {"STARTTLS", "starttls"},
    [SMTP_VERB_AUTH] = {"AUTH", "auth"},
    [SMTP_VERB_MAIL] = {"MAIL", "mail"},
    [SMTP_VERB_RCPT] = {"RCPT", "rcpt"},
    [SMTP_VERB_DATA] = {"DATA", "data"},
    [SMTP_VERB_BDAT] = {"BDAT", "bdat"},
    [SMTP_VERB_RSET] = {"RSET", "rset"},
    [SMTP_VERB_NOOP] = {"NOOP", "noop"},
    [SMTP_VERB_VRFY] = {"VRFY", "vrfy"},
    [SMTP_VERB_EXPN] = {"EXPN", "expn"},
    [SMTP_VERB_HELP] = {"HELP", "help"},
    [SMTP_VERB_ETRN] = {"ETRN", "etrn"},
    [SMTP_VERB_QUIT] = {"QUIT", "quit"},
};

static bool smtp_is_space(int c)
{
	return c == ' ' || c == '\t';
}

int smtp_command_parse(const char *line, size_t len, struct smtp_command *cmd)
{
	size_t wlen = 0, start, end;
	enum smtp_verb verb = SMTP_VERB_UNKNOWN;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return -1;
	}
	while (wlen < len && !smtp_is_space(line[wlen]))
		wlen++;
	for (int v = 1; v < SMTP_VERB_COUNT; v++) {
		const char *w = smtp_verbs[v].word;

		if (strlen(w) == wlen && strncasecmp(line, w, wlen) == 0) {
			verb = (enum smtp_verb)v;
			break;
		}
	}
	start = wlen;
	while (start < len && smtp_is_space(line[start]))
		start++;
	end = len;
	while (end > start && smtp_is_space(line[end - 1]))
		end--;
	cmd->verb = verb;
	cmd->arg = line + start;
	cmd->arglen = end - start;
	return 0;
}

const char *smtp_verb_name(enum smtp_verb verb)
{
	if ((int)verb < 0 || verb >= SMTP_VERB_COUNT)
		verb = SMTP_VERB_UNKNOWN;
	return smtp_verbs[verb].log;
}

size_t smtp_verb_line_max(enum smtp_verb verb)
{
	switch (verb) {
	case SMTP_VERB_MAIL:
		return SMTP_MAIL_LINE_MAX;
	case SMTP_VERB_RCPT:
		return SMTP_RCPT_LINE_MAX;
	case SMTP_VERB_AUTH:
		return SMTP_AUTH_LINE_MAX;
	default:
		return SMTP_LINE_MAX;
	}
}

static int smtp_fail(struct smtp_parse_error *err, int code, const char *dsn,
                     const char *fmt, const char *word, size_t wlen)
{
	/* word is client text: printable bytes only, bounded. */
	char safe[64];
	size_t n = 0;

	err->code = code;
	err->dsn = dsn;
	if (word == NULL) {
		(void)str_copy(err->text, sizeof(err->text), fmt);
		return -1;
	}
	for (size_t i = 0; i < wlen && n < sizeof(safe) - 4; i++) {
		unsigned char c = (unsigned char)word[i];

		safe[n++] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	if (wlen > n)
		safe[n++] = '.', safe[n++] = '.', safe[n++] = '.';
	safe[n] = 0;
	(void)snprintf(err->text, sizeof(err->text), fmt, safe);
	return -1;
}

/* RFC 3461 4: hex digits of xtext are upper case. */
static int smtp_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int smtp_xtext_decode(const char *in, size_t len, struct buf *out)
{
	buf_reset(out);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '+') {
			int h, l;

			if (len - i < 3)
				return -1;
			h = smtp_hex((unsigned char)in[i + 1]);
			l = smtp_hex((unsigned char)in[i + 2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0))
				return -1;
			c = (unsigned char)(h << 4 | l);
			i += 2;
		} else if (c < '!' || c > '~' || c == '=') {
			return -1;
		}
		if (buf_append_char(out, c) < 0)
			return -1;
	}
	return 0;
}

int smtp_xtext_encode(const char *in, size_t len, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t mark = buf_len(out);

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		int r;

		if (c < '!' || c > '~' || c == '+' || c == '=')
			r = buf_printf(out, "+%c%c", hex[c >> 4], hex[c & 15]);
		else
			r = buf_append_char(out, c);
		if (r < 0) {
			buf_truncate(out, mark);
			return -1;
		}
	}
	return 0;
}

/* One parameter "KEYWORD[=VALUE]" in p[0..len). */
struct smtp_param {
	const char *key, *value;
	size_t keylen, valuelen;
	bool have_value;
};

/* Split the parameter text after a path into params (at most
 * SMTP_PARAMS_MAX); RFC 5321 4.1.2: esmtp-keyword = (ALPHA / DIGIT)
 * *(ALPHA / DIGIT / "-"), esmtp-value = 1*(%d33-60 / %d62-126), plus
 * UTF-8 (RFC 6531 3.3). -1 with err on bad syntax. */
static int smtp_params_split(const char *p, size_t len,
                             struct smtp_param *params, size_t *count,
                             struct smtp_parse_error *err)
{
	size_t i = 0, n = 0;

	while (i < len) {
		struct smtp_param *pa;
		size_t start;

		while (i < len && smtp_is_space(p[i]))
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && !smtp_is_space(p[i]))
			i++;
		if (n == SMTP_PARAMS_MAX)
			return smtp_fail(err, 501, "5.5.4",
			                 "Too many parameters", NULL, 0);
		pa = &params[n++];
		memset(pa, 0, sizeof(*pa));
		pa->key = p + start;
		while (pa->keylen < i - start && pa->key[pa->keylen] != '=')
			pa->keylen++;
		for (size_t k = 0; k < pa->keylen; k++) {
			unsigned char c = (unsigned char)pa->key[k];
			bool alnum = (c >= 'A' && c <= 'Z') ||
			             (c >= 'a' && c <= 'z') ||
			             (c >= '0' && c <= '9');

			if (!alnum && (k == 0 || c != '-'))
				return smtp_fail(err, 501, "5.5.4",
				                 "Bad parameter syntax: %s",
				                 p + start, i - start);
		}
		if (pa->keylen == 0)
			return smtp_fail(err, 501, "5.5.4",
			                 "Bad parameter syntax: %s", p + start,
			                 i - start);
		if (pa->keylen < i - start) {
			pa->have_value = true;
			pa->value = pa->key + pa->keylen + 1;
			pa->valuelen = i - start - pa->keylen - 1;
			if (pa->valuelen == 0)
				return smtp_fail(err, 501, "5.5.4",
				                 "Bad parameter syntax: %s",
				                 p + start, i - start);
			for (size_t k = 0; k < pa->valuelen; k++) {
				unsigned char c = (unsigned char)pa->value[k];

				if (c < 33 || c == '=' || c == 0x7f)
					return smtp_fail(
					    err, 501, "5.5.4",
					    "Bad parameter syntax: %s",
					    p + start, i - start);
			}
		}
		for (size_t k = 0; k + 1 < n; k++)
			if (params[k].keylen == pa->keylen &&
			    strncasecmp(params[k].key, pa->key, pa->keylen) ==
			        0)
				return smtp_fail(err, 501, "5.5.4",
				                 "Duplicate parameter: %s",
				                 pa->key, pa->keylen);
	}
	*count = n;
	return 0;
}

static bool smtp_param_is(const struct smtp_param *pa, const char *key)
{
	return strlen(key) == pa->keylen &&
	       strncasecmp(pa->key, key, pa->keylen) == 0;
}

static bool smtp_value_is(const struct smtp_param *pa, const char *v)
{
	return pa->have_value && strlen(v) == pa->valuelen &&
	       strncasecmp(pa->value, v, pa->valuelen) == 0;
}

/* "FROM:" / "TO:" then the path: mailbox into addr; *rest and *restlen: the
 * parameter text after it. */
static int smtp_path(const char *arg, size_t len, const char *prefix,
                     unsigned flags, struct buf *addr, const char **rest,
                     size_t *restlen, const char **why)
{
	size_t plen = strlen(prefix), used = 0;

	if (len < plen || strncasecmp(arg, prefix, plen) != 0) {
		*why = NULL;
		return -1;
	}
	arg += plen;
	len -= plen;
	if (address_parse_path(arg, len, flags, addr, &used, why) < 0)
		return -1;
	/* The path ends at the end of the line or before SP. */
	if (used < len && !smtp_is_space(arg[used])) {
		*why = "bad address syntax";
		return -1;
	}
	*rest = arg + used;
	*restlen = len - used;
	return 0;
}

static bool smtp_has_8bit(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

/* Decode an xtext value into dst (size dstlen); every decoded byte must
 * be printable ASCII, or (utf8) any byte but a control character. */
static int smtp_xtext_to(const struct smtp_param *pa, char *dst, size_t dstlen,
                         bool utf8)
{
	struct buf *out = buf_create(64, dstlen - 1);
	int r = -1;

	if (smtp_xtext_decode(pa->value, pa->valuelen, out) == 0 &&
	    buf_len(out) > 0) {
		const unsigned char *d = (const unsigned char *)buf_str(out);

		r = 0;
		for (size_t i = 0; i < buf_len(out); i++)
			if (d[i] < 0x20 || d[i] == 0x7f ||
			    (d[i] >= 0x80 && !utf8))
				r = -1;
		if (r == 0)
			memcpy(dst, buf_str(out), buf_len(out) + 1);
	}
	buf_destroy(&out);
	return r;
}

static int smtp_size_value(const struct smtp_param *pa, long long *size)
{
	long long v = 0;

	if (!pa->have_value || pa->valuelen > 20)
		return -1;
	for (size_t i = 0; i < pa->valuelen; i++) {
		int d = pa->value[i] - '0';

		if (d < 0 || d > 9)
			return -1;
		/* A number too large for any size saturates. */
		v = v > (1LL << 58) ? v : v * 10 + d;
	}
	*size = v;
	return 0;
}

int smtp_mail_parse(const char *arg, size_t len, long long size_limit,
                    struct buf *sender, struct smtp_mail_args *args,
                    struct smtp_parse_error *err)
{
	struct smtp_param params[SMTP_PARAMS_MAX];
	const char *rest, *why = NULL;
	size_t restlen, n;

	memset(args, 0, sizeof(*args));
	args->size = -1;
	if (smtp_path(arg, len, "FROM:",
	              ADDRESS_ALLOW_NULL | ADDRESS_ALLOW_UTF8 |
	                  ADDRESS_ALLOW_NO_BRACKETS,
	              sender, &rest, &restlen, &why) < 0) {
		if (why == NULL)
			return smtp_fail(err, 501, "5.5.4",
			                 "Syntax: MAIL FROM:<address>", NULL,
			                 0);
		return smtp_fail(err, 501, "5.1.7",
		                 "Bad sender address syntax (%s)", why,
		                 strlen(why));
	}
	if (smtp_params_split(rest, restlen, params, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct smtp_param *pa = &params[i];

		if (smtp_param_is(pa, "SIZE")) {
			if (smtp_size_value(pa, &args->size) < 0)
				return smtp_fail(err, 501, "5.5.4",
				                 "Bad SIZE parameter", NULL, 0);
			if (size_limit > 0 && args->size > size_limit)
				return smtp_fail(err, 552, "5.3.4",
				                 "Message size exceeds fixed "
				                 "limit",
				                 NULL, 0);
		} else if (smtp_param_is(pa, "BODY")) {
			if (smtp_value_is(pa, "7BIT"))
				args->body = SMTP_BODY_7BIT;
			else if (smtp_value_is(pa, "8BITMIME"))
				args->body = SMTP_BODY_8BITMIME;
			else
				return smtp_fail(err, 501, "5.5.4",
				                 "Unsupported BODY parameter: "
				                 "%s",
				                 pa->key,
				                 pa->keylen +
				                     (pa->have_value
				                          ? pa->valuelen + 1
				                          : 0));
		} else if (smtp_param_is(pa, "SMTPUTF8")) {
			if (pa->have_value)
				return smtp_fail(err, 501, "5.5.4",
				                 "Bad SMTPUTF8 parameter", NULL,
				                 0);
			args->smtputf8 = true;
		} else if (smtp_param_is(pa, "RET")) {
			if (smtp_value_is(pa, "FULL"))
				args->ret = "FULL";
			else if (smtp_value_is(pa, "HDRS"))
				args->ret = "HDRS";
			else
				return smtp_fail(err, 501, "5.5.4",
				                 "Bad RET parameter", NULL, 0);
		} else if (smtp_param_is(pa, "ENVID")) {
			if (!pa->have_value ||
			    smtp_xtext_to(pa, args->envid, sizeof(args->envid),
			                  false) < 0)
				return smtp_fail(err, 501, "5.5.4",
				                 "Bad ENVID parameter", NULL,
				                 0);
			args->have_envid = true;
		} else if (smtp_param_is(pa, "AUTH")) {
			/* RFC 4954 5: "<>" or an xtext mailbox. */
			if (!pa->have_value ||
			    smtp_xtext_to(pa, args->auth, sizeof(args->auth),
			                  true) < 0)
				return smtp_fail(err, 501, "5.5.4",
				                 "Bad AUTH parameter", NULL, 0);
			args->have_auth = true;
		} else {
			return smtp_fail(err, 555, "5.5.4",
			                 "Unsupported option: %s", pa->key,
			                 pa->keylen);
		}
	}
	/* RFC 6531 3.4: a UTF-8 path needs SMTPUTF8. */
	if (!args->smtputf8 && smtp_has_8bit(buf_str(sender), buf_len(sender)))
		return smtp_fail(err, 553, "5.6.7",
		                 "Must declare SMTPUTF8 to send unicode "
		                 "address",
		                 NULL, 0);
	return 0;
}

int smtp_rcpt_parse(const char *arg, size_t len, bool smtputf8,
                    struct buf *rcpt, struct smtp_rcpt_args *args,
                    struct smtp_parse_error *err)
{
	struct smtp_param params[SMTP_PARAMS_MAX];
	const char *rest, *why = NULL;
	size_t restlen, n;

	memset(args, 0, sizeof(*args));
	if (smtp_path(arg, len, "TO:",
	              ADDRESS_ALLOW_POSTMASTER | ADDRESS_ALLOW_UTF8 |
	                  ADDRESS_ALLOW_NO_BRACKETS,
	              rcpt, &rest, &restlen, &why) < 0) {
		if (why == NULL)
			return smtp_fail(err, 501, "5.5.4",
			                 "Syntax: RCPT TO:<address>", NULL, 0);
		return smtp_fail(err, 501, "5.1.3",
		                 "Bad recipient address syntax (%s)", why,
		                 strlen(why));
	}
	if (buf_len(rcpt) == 0)
		return smtp_fail(err, 501, "5.1.3",
		                 "Bad recipient address syntax", NULL, 0);
	if (smtp_params_split(rest, restlen, params, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct smtp_param *pa = &params[i];

		if (smtp_param_is(pa, "NOTIFY")) {
			char text[64];
			int f;

			if (!pa->have_value || pa->valuelen >= sizeof(text))
				return smtp_fail(err, 501, "5.5.4",
				                 "Bad NOTIFY parameter", NULL,
				                 0);
			memcpy(text, pa->value, pa->valuelen);
			text[pa->valuelen] = 0;
			if ((f = queue_notify_parse(text)) <= 0)
				return smtp_fail(err, 501, "5.5.4",
				                 "Bad NOTIFY parameter", NULL,
				                 0);
			args->notify = f;
		} else if (smtp_param_is(pa, "ORCPT")) {
			/* RFC 3461 4.2: addr-type ";" xtext; addr-type is
			 * an atom. */
			struct smtp_param x = *pa;
			size_t tlen = 0;
			char *semi;

			if (!pa->have_value)
				return smtp_fail(err, 501, "5.5.4",
				                 "Bad ORCPT parameter", NULL,
				                 0);
			while (tlen < pa->valuelen && pa->value[tlen] != ';')
				tlen++;
			if (tlen == 0 || tlen == pa->valuelen ||
			    tlen + 2 > sizeof(args->orcpt))
				return smtp_fail(err, 501, "5.5.4",
				                 "Bad ORCPT parameter", NULL,
				                 0);
			for (size_t k = 0; k < tlen; k++)
				if (strchr("()<>[]:;@\\,.\"", pa->value[k]) !=
				        NULL ||
				    (unsigned char)pa->value[k] >= 0x80)
					return smtp_fail(err, 501, "5.5.4",
					                 "Bad ORCPT "
					                 "parameter",
					                 NULL, 0);
			memcpy(args->orcpt, pa->value, tlen);
			args->orcpt[tlen] = ';';
			x.value += tlen + 1;
			x.valuelen -= tlen + 1;
			semi = args->orcpt + tlen + 1;
			if (smtp_xtext_to(&x, semi,
			                  sizeof(args->orcpt) - tlen - 1,
			                  smtputf8) < 0)
				return smtp_fail(err, 501, "5.5.4",
				                 "Bad ORCPT parameter", NULL,
				                 0);
			args->have_orcpt = true;
		} else {
			return smtp_fail(err, 555, "5.5.4",
			                 "Unsupported option: %s", pa->key,
			                 pa->keylen);
		}
	}
	if (!smtputf8 && smtp_has_8bit(buf_str(rcpt), buf_len(rcpt)))
		return smtp_fail(err, 553, "5.6.7",
		                 "Must declare SMTPUTF8 to send unicode "
		                 "address",
		                 NULL, 0);
	return 0;
}

int smtp_bdat_parse(const char *arg, size_t len, long long *size, bool *last,
                    struct smtp_parse_error *err)
{
	size_t i = 0;
	long long v = 0;

	while (i < len && arg[i] >= '0' && arg[i] <= '9') {
		v = v * 10 + (arg[i] - '0');
		if (v > SMTP_BDAT_SIZE_MAX)
			break;
		i++;
	}
	if (i == 0 || v > SMTP_BDAT_SIZE_MAX)
		goto bad;
	if (i == len) {
		*last = false;
		*size = v;
		return 0;
	}
	if (!smtp_is_space(arg[i]))
		goto bad;
	while (i < len && smtp_is_space(arg[i]))
		i++;
	if (len - i != 4 || strncasecmp(arg + i, "LAST", 4) != 0)
		goto bad;
	*last = true;
	*size = v;
	return 0;
bad:
	return smtp_fail(err, 501, "5.5.4", "Syntax: BDAT count [LAST]", NULL,
	                 0);
}
