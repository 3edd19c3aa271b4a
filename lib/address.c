/*
 * address.c: SMTP path parsing (MAIL FROM / RCPT TO) and the helpers the
 * address module shares: UTF-8 checks, domains and address literals,
 * local-part quoting, splitting. Header address lists are in
 * address_header.c.
 * RFC 5321 4.1.2 (Path, Mailbox, Dot-string, Quoted-string), 4.1.3
 * (address literals), 4.5.3.1 (size limits), Appendix C (source routes);
 * RFC 6531 3.3 (UTF-8 in addresses); RFC 3629 (UTF-8 well-formedness).
 * SECURITY: the input is a client's command line. Nothing is trusted: every
 * part is scanned against the grammar with the RFC 5321 size limits before
 * any copy, all copies go to fixed-size stack arrays sized by those limits,
 * and the result only reaches the caller's buffer on success.
 */
#include <arpa/inet.h>
#include <string.h>

#include "address.h"
#include "address_impl.h"
#include "buf.h"

/* RFC 5321 2.3.5: a label is at most 63 octets. */
#define ADDRESS_LABEL_MAX 63

static bool address_is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool address_is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool address_is_letdig(int c)
{
	return address_is_alpha(c) || address_is_digit(c);
}

bool address_is_atext(int c)
{
	return address_is_letdig(c) ||
	       (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* RFC 3629 4: the well-formed byte sequences; 0 if p does not start one. */
static size_t address_utf8_len(const unsigned char *p, size_t avail)
{
	unsigned lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		if (p[0] == 0xe0)
			lo = 0xa0; /* overlong */
		else if (p[0] == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		if (p[0] == 0xf0)
			lo = 0x90; /* overlong */
		else if (p[0] == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 0; /* continuation byte, C0/C1 overlong, F5..FF */
	}
	if (avail < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

size_t address_utf8_char(const unsigned char *p, size_t avail, unsigned flags,
                         const char **why)
{
	size_t n;

	if (!(flags & ADDRESS_ALLOW_UTF8)) {
		*why = "8-bit character without SMTPUTF8";
		return 0;
	}
	if ((n = address_utf8_len(p, avail)) == 0) {
		*why = "invalid UTF-8 in address";
		return 0;
	}
	/* U+0080..U+009F are C1 controls: as unwelcome as C0 ones. */
	if (p[0] == 0xc2 && p[1] < 0xa0) {
		*why = "control character in address";
		return 0;
	}
	return n;
}

const char *address_char_reason(int c, unsigned flags)
{
	if (c == 0)
		return "NUL byte in address";
	if (c < 0x20 || c == 0x7f)
		return "control character in address";
	if (c >= 0x80 && !(flags & ADDRESS_ALLOW_UTF8))
		return "8-bit character without SMTPUTF8";
	return "bad address syntax";
}

/* ASCII case-insensitive comparison of len bytes with a lowercase word. */
static bool address_eq_ci(const unsigned char *p, size_t len, const char *word)
{
	size_t i;

	if (strlen(word) != len)
		return false;
	for (i = 0; i < len; i++) {
		int c = p[i];
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c != word[i])
			return false;
	}
	return true;
}

/* RFC 5321 4.1.2 Ldh-str as a Standardized-tag: letters, digits, hyphens,
 * ending in a letter or digit. */
static bool address_is_tag(const unsigned char *p, size_t len)
{
	size_t i;

	if (len == 0 || !address_is_letdig(p[len - 1]))
		return false;
	for (i = 0; i < len; i++)
		if (!address_is_letdig(p[i]) && p[i] != '-')
			return false;
	return true;
}

/* Copy len bytes to a NUL-terminated array for inet_pton; false if they
 * don't fit. */
static bool address_inet_ok(int af, const unsigned char *p, size_t len)
{
	char text[INET6_ADDRSTRLEN];
	unsigned char bin[sizeof(struct in6_addr)];

	if (len >= sizeof(text))
		return false;
	memcpy(text, p, len);
	text[len] = 0;
	return inet_pton(af, text, bin) == 1;
}

/* RFC 5321 4.1.3: "[" (IPv4 / "IPv6:" IPv6 / tag ":" 1*dcontent) "]". */
static const unsigned char *address_literal_scan(const unsigned char *p,
                                                 const unsigned char *end,
                                                 const char **why)
{
	const unsigned char *start = p, *colon = NULL, *content;
	bool ok;

	for (p++; p < end && *p != ']'; p++) {
		/* dcontent: %d33-90 / %d94-126 */
		if (*p < 33 || *p > 126 || *p == '[' || *p == '\\') {
			*why = "bad address literal";
			return NULL;
		}
		if (*p == ':' && colon == NULL)
			colon = p;
		if ((size_t)(p - start) + 2 > ADDRESS_DOMAIN_MAX) {
			*why = "domain too long";
			return NULL;
		}
	}
	if (p >= end) {
		*why = "bad address literal";
		return NULL;
	}
	content = start + 1;
	if (colon == NULL) {
		ok = address_inet_ok(AF_INET, content, (size_t)(p - content));
	} else if (!address_is_tag(content, (size_t)(colon - content))) {
		ok = false;
	} else if (address_eq_ci(content, (size_t)(colon - content), "ipv6")) {
		ok = address_inet_ok(AF_INET6, colon + 1,
		                     (size_t)(p - colon - 1));
	} else {
		ok = p > colon + 1; /* General-address-literal */
	}
	if (!ok) {
		*why = "bad address literal";
		return NULL;
	}
	return p + 1;
}

const unsigned char *address_domain_scan(const unsigned char *p,
                                         const unsigned char *end,
                                         unsigned flags, bool allow_literal,
                                         const char **why)
{
	const unsigned char *start = p, *label;
	bool ascii;
	size_t n;

	if (p < end && *p == '[') {
		if (allow_literal)
			return address_literal_scan(p, end, why);
		*why = "bad domain syntax";
		return NULL;
	}
	for (;;) {
		label = p;
		ascii = true;
		while (p < end) {
			if (address_is_letdig(*p) || *p == '-') {
				p++;
			} else if (*p >= 0x80) {
				/* RFC 6531 3.3: sub-domain =/ U-label */
				n = address_utf8_char(p, (size_t)(end - p),
				                      flags, why);
				if (n == 0)
					return NULL;
				p += n;
				ascii = false;
			} else {
				break;
			}
			if ((size_t)(p - start) > ADDRESS_DOMAIN_MAX) {
				*why = "domain too long";
				return NULL;
			}
		}
		if (p == label) {
			*why =
			    p == start ? "missing domain" : "bad domain syntax";
			return NULL;
		}
		if (*label == '-' || p[-1] == '-') {
			*why = "bad domain syntax";
			return NULL;
		}
		/* The 63-octet limit is on the A-label; a U-label's octets
		 * may exceed it, the domain limit still applies. */
		if (ascii && (size_t)(p - label) > ADDRESS_LABEL_MAX) {
			*why = "domain label too long";
			return NULL;
		}
		if (p < end && *p == '.') {
			p++;
			continue;
		}
		return p;
	}
}

/* RFC 5321 4.1.2 Dot-string: atoms of atext separated by single dots. */
static bool address_is_dot_atom(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (s[i + 1] == '.')
				return false;
		} else if (c < 0x80 && !address_is_atext(c)) {
			return false;
		}
	}
	return true;
}

/* Write the quoted form of s to out (room for 2 * len + 2); its length. */
static size_t address_quote(const char *s, size_t len, char *out)
{
	size_t i, n = 0;

	out[n++] = '"';
	for (i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			out[n++] = '\\';
		out[n++] = s[i];
	}
	out[n++] = '"';
	return n;
}

long address_local_canon(const char *raw, size_t len, unsigned flags, char *out,
                         size_t outlen, const char **why)
{
	const unsigned char *p = (const unsigned char *)raw;
	size_t i, n;

	if (outlen < 2 * len + 3) {
		*why = "local part too long";
		return -1;
	}
	/* RFC 5321 4.1.2: qtextSMTP and quoted-pairSMTP are %d32-126 (plus
	 * UTF-8 per RFC 6531): no control character can be carried. */
	for (i = 0; i < len; i += n) {
		n = 1;
		if (p[i] >= 0x80) {
			n = address_utf8_char(p + i, len - i, flags, why);
			if (n == 0)
				return -1;
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			*why = address_char_reason(p[i], flags);
			return -1;
		}
	}
	if (address_is_dot_atom(raw, len)) {
		memcpy(out, raw, len);
		n = len;
	} else {
		n = address_quote(raw, len, out);
	}
	if (n > ADDRESS_LOCAL_MAX) {
		*why = "local part too long";
		return -1;
	}
	return (long)n;
}

/* RFC 5321 4.1.2 Dot-string at p; returns its end or NULL. */
static const unsigned char *address_dot_string(const unsigned char *p,
                                               const unsigned char *end,
                                               unsigned flags, const char **why)
{
	const unsigned char *start = p, *atom;
	size_t n;

	for (;;) {
		atom = p;
		while (p < end) {
			if (address_is_atext(*p)) {
				p++;
			} else if (*p >= 0x80) {
				/* RFC 6531 3.3: atext =/ UTF8-non-ascii */
				n = address_utf8_char(p, (size_t)(end - p),
				                      flags, why);
				if (n == 0)
					return NULL;
				p += n;
			} else {
				break;
			}
			if ((size_t)(p - start) > ADDRESS_LOCAL_MAX) {
				*why = "local part too long";
				return NULL;
			}
		}
		if (p == atom) {
			/* Empty atom: leading, trailing or double dot, or a
			 * character no local part may hold. */
			*why = p < end ? address_char_reason(*p, flags)
			               : "missing '>'";
			return NULL;
		}
		if (p < end && *p == '.') {
			p++;
			continue;
		}
		return p;
	}
}

/* RFC 5321 4.1.2 Quoted-string at p (on the '"'); decodes its content to
 * raw (room for ADDRESS_LOCAL_MAX) and returns the end, or NULL. */
static const unsigned char *address_quoted(const unsigned char *p,
                                           const unsigned char *end,
                                           unsigned flags, char *raw,
                                           size_t *rawlen, const char **why)
{
	const unsigned char *start = p;
	size_t n = 0, k;

	for (p++;; p += k) {
		if (p >= end) {
			*why = "unterminated quoted string";
			return NULL;
		}
		if (*p == '"')
			break;
		if (*p == '\\') {
			/* quoted-pairSMTP = "\" %d32-126 */
			if (p + 1 >= end) {
				*why = "unterminated quoted string";
				return NULL;
			}
			if (p[1] < 32 || p[1] > 126) {
				*why = address_char_reason(p[1], 0);
				return NULL;
			}
			k = 2;
		} else if (*p >= 0x80) {
			k = address_utf8_char(p, (size_t)(end - p), flags, why);
			if (k == 0)
				return NULL;
		} else if (*p < 32 || *p > 126) {
			*why = address_char_reason(*p, flags);
			return NULL;
		} else {
			k = 1;
		}
		/* The local part, quotes included, fits ADDRESS_LOCAL_MAX;
		 * the closing quote still has to come. */
		if ((size_t)(p - start) + k + 1 > ADDRESS_LOCAL_MAX) {
			*why = "local part too long";
			return NULL;
		}
		if (*p == '\\') {
			raw[n++] = (char)p[1];
		} else {
			memcpy(raw + n, p, k);
			n += k;
		}
	}
	*rawlen = n;
	return p + 1;
}

/* RFC 5321 4.1.2 Mailbox (or "Postmaster" if flags allow) at p: writes
 * "local@domain" to out (room for ADDRESS_LOCAL_MAX + ADDRESS_DOMAIN_MAX
 * + 2) and returns the end, or NULL. */
static const unsigned char *address_mailbox(const unsigned char *p,
                                            const unsigned char *end,
                                            unsigned flags, char *out,
                                            size_t *outlen, const char **why)
{
	char raw[ADDRESS_LOCAL_MAX];
	char canon[2 * ADDRESS_LOCAL_MAX + 3];
	const unsigned char *q, *domain;
	size_t rawlen = 0, n;
	long cl;

	if (p < end && *p == '"') {
		if ((q = address_quoted(p, end, flags, raw, &rawlen, why)) ==
		    NULL)
			return NULL;
		cl = address_local_canon(raw, rawlen, flags, canon,
		                         sizeof(canon), why);
		if (cl < 0)
			return NULL;
		n = (size_t)cl;
	} else {
		if ((q = address_dot_string(p, end, flags, why)) == NULL)
			return NULL;
		n = (size_t)(q - p);
		memcpy(canon, p, n);
		/* RFC 5321 4.1.1.3: "<Postmaster>" needs no domain. */
		if ((flags & ADDRESS_ALLOW_POSTMASTER) &&
		    address_eq_ci(p, n, "postmaster") &&
		    (q == end || *q != '@')) {
			memcpy(out, "postmaster", 10);
			*outlen = 10;
			return q;
		}
	}
	if (q >= end || *q != '@') {
		*why = q >= end || *q == '>' ? "missing domain"
		                             : address_char_reason(*q, flags);
		return NULL;
	}
	domain = q + 1;
	if ((q = address_domain_scan(domain, end, flags, true, why)) == NULL)
		return NULL;
	memcpy(out, canon, n);
	out[n] = '@';
	memcpy(out + n + 1, domain, (size_t)(q - domain));
	*outlen = n + 1 + (size_t)(q - domain);
	return q;
}

/* RFC 5321 4.1.2 A-d-l ":" at p (on the first '@'); the route is ignored
 * (Appendix C). Returns the end, or NULL. */
static const unsigned char *address_route(const unsigned char *p,
                                          const unsigned char *open,
                                          const unsigned char *end,
                                          unsigned flags, const char **why)
{
	for (;;) {
		p = address_domain_scan(p + 1, end, flags, false, why);
		if (p == NULL)
			return NULL;
		if ((size_t)(p - open) > ADDRESS_PATH_MAX) {
			*why = "address too long";
			return NULL;
		}
		if (p < end && *p == ',' && p + 1 < end && p[1] == '@') {
			p++;
			continue;
		}
		if (p < end && *p == ':')
			return p + 1;
		*why = "bad source route";
		return NULL;
	}
}

/* Copy the result to addr, unless it does not fit. */
static int address_set(struct buf *addr, const char *s, size_t len,
                       const char **why)
{
	if (len > buf_limit(addr)) {
		*why = "address too long";
		return -1;
	}
	buf_reset(addr);
	if (buf_append(addr, s, len) < 0)
		return -1;
	return 0;
}

int address_parse_path(const char *in, size_t len, unsigned flags,
                       struct buf *addr, size_t *consumed, const char **why)
{
	const unsigned char *p, *end, *open;
	char out[ADDRESS_LOCAL_MAX + ADDRESS_DOMAIN_MAX + 2];
	size_t outlen = 0;
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	if (len == 0)
		in = ""; /* no arithmetic on a NULL pointer */
	p = (const unsigned char *)in;
	end = p + len;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= end) {
		*why = "missing address";
		return -1;
	}
	if (*p != '<') {
		if (!(flags & ADDRESS_ALLOW_NO_BRACKETS)) {
			*why = "missing '<'";
			return -1;
		}
		p = address_mailbox(p, end, flags, out, &outlen, why);
		if (p == NULL)
			return -1;
		if (outlen > ADDRESS_MAILBOX_MAX) {
			*why = "address too long";
			return -1;
		}
	} else {
		open = p++;
		if (p < end && *p == '>') {
			/* RFC 5321 4.5.5: the null reverse-path. */
			if (!(flags & ADDRESS_ALLOW_NULL)) {
				*why = "null address not allowed";
				return -1;
			}
		} else {
			if (p < end && *p == '@' &&
			    (p = address_route(p, open, end, flags, why)) ==
			        NULL)
				return -1;
			p = address_mailbox(p, end, flags, out, &outlen, why);
			if (p == NULL)
				return -1;
			if (p >= end) {
				*why = "missing '>'";
				return -1;
			}
			if (*p != '>') {
				*why = address_char_reason(*p, flags);
				return -1;
			}
		}
		/* RFC 5321 4.5.3.1.3: the path, brackets included. */
		if ((size_t)(p - open) + 1 > ADDRESS_PATH_MAX) {
			*why = "address too long";
			return -1;
		}
		p++;
	}
	if (p < end && *p != ' ' && *p != '\t') {
		*why = "junk after address";
		return -1;
	}
	if (address_set(addr, out, outlen, why) < 0)
		return -1;
	*consumed = (size_t)(p - (const unsigned char *)in);
	return 0;
}

/* Offset of the last '@' outside quotes in s, or -1. */
static long address_last_at(const char *s)
{
	bool quoted = false;
	long at = -1;
	size_t i;

	for (i = 0; s[i] != 0; i++) {
		if (quoted && s[i] == '\\' && s[i + 1] != 0)
			i++;
		else if (s[i] == '"')
			quoted = !quoted;
		else if (!quoted && s[i] == '@')
			at = (long)i;
	}
	return at;
}

int address_split(const char *addr, struct buf *local, struct buf *domain)
{
	long at = address_last_at(addr);
	size_t dlen;

	if (at < 0)
		return -1;
	dlen = strlen(addr + at + 1);
	if ((size_t)at > buf_limit(local) || dlen > buf_limit(domain))
		return -1;
	buf_reset(local);
	buf_append(local, addr, (size_t)at);
	buf_reset(domain);
	buf_append(domain, addr + at + 1, dlen);
	return 0;
}

int address_quote_local(const char *local, struct buf *out)
{
	size_t i, len = strlen(local), extra = 2;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)local[i];
		if (c < 0x20 || c == 0x7f)
			return -1;
		if (c == '"' || c == '\\')
			extra++;
	}
	if (address_is_dot_atom(local, len))
		return buf_append(out, local, len);
	if (len + extra > buf_limit(out) - buf_len(out))
		return -1;
	buf_append_char(out, '"');
	for (i = 0; i < len; i++) {
		if (local[i] == '"' || local[i] == '\\')
			buf_append_char(out, '\\');
		buf_append_char(out, local[i]);
	}
	buf_append_char(out, '"');
	return 0;
}

int address_unquote_local(const char *local, struct buf *out)
{
	size_t i, n = 0, len = strlen(local);

	if (len == 0 || local[0] != '"') {
		if (len > buf_limit(out))
			return -1;
		return buf_set_str(out, local);
	}
	/* Measure first so that out stays untouched on failure. */
	for (i = 1; i < len && local[i] != '"'; i++) {
		if (local[i] == '\\' && ++i >= len)
			return -1;
		n++;
	}
	if (i != len - 1 || n > buf_limit(out))
		return -1;
	buf_reset(out);
	for (i = 1; i < len - 1; i++) {
		if (local[i] == '\\')
			i++;
		buf_append_char(out, local[i]);
	}
	return 0;
}

void address_lowercase_domain(char *addr)
{
	long at = address_last_at(addr);
	char *p;

	if (at < 0)
		return;
	for (p = addr + at + 1; *p != 0; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
}
