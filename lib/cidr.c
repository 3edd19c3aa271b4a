/*
 * cidr.c: IP address patterns for mynetworks-style lists (cidr.h).
 * Owns struct cidr_list: a vector of (network, prefix length, negated)
 * entries, first match wins. Every address is kept in 16 bytes; IPv4
 * ones (and IPv4-mapped IPv6 ones, RFC 4291 2.5.5.2) as family 4 in the
 * first 4 bytes, so "::ffff:127.0.0.1" matches "127.0.0.0/8".
 * SECURITY: patterns come from main.cf (trusted, still strictly parsed);
 * client addresses come from getpeername()/inet_ntop but are parsed as
 * untrusted text (length bounded, inet_pton only, no zone ids).
 */
#include <arpa/inet.h>
#include <string.h>

#include "cidr.h"
#include "mem.h"
#include "number.h"
#include "str.h"

/* Longest textual address we parse: "[IPv6:" + 45 + "]". */
#define CIDR_TEXT_MAX 64

struct cidr_entry {
	struct cidr_addr net;
	int len; /* prefix length in bits for net.family */
	bool negated;
};

struct cidr_list {
	struct cidr_entry *v;
	size_t n;
};

static const unsigned char cidr_v4_mapped[12] = {0, 0, 0, 0, 0,    0,
                                                 0, 0, 0, 0, 0xff, 0xff};

/* Parse an address without brackets into out; mapped IPv6 becomes 4. */
static int cidr_parse_bare(const char *s, struct cidr_addr *out)
{
	unsigned char b[16];

	if (strchr(s, ':') == NULL) {
		if (inet_pton(AF_INET, s, b) != 1)
			return -1;
		memset(out, 0, sizeof(*out));
		out->family = 4;
		memcpy(out->bytes, b, 4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, b) != 1)
		return -1;
	memset(out, 0, sizeof(*out));
	if (memcmp(b, cidr_v4_mapped, sizeof(cidr_v4_mapped)) == 0) {
		out->family = 4;
		memcpy(out->bytes, b + 12, 4);
	} else {
		out->family = 6;
		memcpy(out->bytes, b, 16);
	}
	return 0;
}

int cidr_addr_parse(const char *text, struct cidr_addr *out)
{
	char tmp[CIDR_TEXT_MAX];
	size_t len;
	const char *s = text;

	if (text == NULL || (len = strlen(text)) == 0 || len >= sizeof(tmp))
		return -1;
	if (s[0] == '[') {
		if (s[len - 1] != ']' || len < 3)
			return -1;
		s++;
		len -= 2;
		/* RFC 5321 4.1.3: IPv6 literals carry an "IPv6:" tag. */
		if (len > 5 && str_has_prefix_ci(s, "IPv6:")) {
			s += 5;
			len -= 5;
			if (memchr(s, ':', len) == NULL)
				return -1;
		}
		memcpy(tmp, s, len);
		tmp[len] = 0;
		s = tmp;
	}
	return cidr_parse_bare(s, out);
}

int cidr_addr_format(const struct cidr_addr *a, char *out, size_t outlen)
{
	if (a->family == 4)
		return inet_ntop(AF_INET, a->bytes, out, (socklen_t)outlen)
		           ? 0
		           : -1;
	if (a->family == 6)
		return inet_ntop(AF_INET6, a->bytes, out, (socklen_t)outlen)
		           ? 0
		           : -1;
	return -1;
}

/* Are the bits of a and b equal in the first len bits? */
static bool cidr_prefix_equal(const unsigned char *a, const unsigned char *b,
                              int len)
{
	int full = len / 8, rest = len % 8;

	if (memcmp(a, b, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ b[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* Are all bits from len on zero (nbytes total)? */
static bool cidr_host_bits_zero(const unsigned char *a, int nbytes, int len)
{
	for (int bit = len; bit < nbytes * 8; bit++)
		if (a[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

/* One pattern (without '!') into e; -1 with the reason in err. */
static int cidr_parse_pattern(const char *word, struct cidr_entry *e,
                              struct buf *err)
{
	char tmp[CIDR_TEXT_MAX];
	const char *slash, *addr = word, *why;
	size_t alen;
	long long len = -1;
	bool bracketed = false, mapped_v6;

	if (strlen(word) >= sizeof(tmp)) {
		buf_sprintf(err, "pattern too long: \"%.40s...\"", word);
		return -1;
	}
	if (word[0] == '[') {
		const char *close = strchr(word, ']');

		if (close == NULL || (close[1] != 0 && close[1] != '/')) {
			buf_sprintf(err, "bad address pattern \"%s\"", word);
			return -1;
		}
		bracketed = true;
		addr = word + 1;
		alen = (size_t)(close - addr);
		slash = close[1] == '/' ? close + 1 : NULL;
	} else {
		slash = strchr(word, '/');
		alen = slash ? (size_t)(slash - word) : strlen(word);
	}
	memcpy(tmp, addr, alen);
	tmp[alen] = 0;
	if (cidr_parse_bare(tmp, &e->net) < 0) {
		size_t alpha =
		    strspn(word, "abcdefghijklmnopqrstuvwxyz"
		                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");

		if (word[0] == '/')
			buf_sprintf(err,
			            "\"%s\": pattern files are not supported "
			            "in an address list",
			            word);
		else if (!bracketed && alpha > 0 && word[alpha] == ':' &&
		         word[alpha + 1] != ':' && word[alpha + 1] != 0)
			buf_sprintf(err,
			            "\"%s\": lookup tables are not supported "
			            "in an address list",
			            word);
		else
			buf_sprintf(err, "bad address pattern \"%s\"", word);
		return -1;
	}
	/* Was the text IPv6 (possibly mapped)? Prefix lengths count in its
	 * 128-bit space. */
	mapped_v6 = strchr(tmp, ':') != NULL && e->net.family == 4;
	if (slash != NULL) {
		long long max = (e->net.family == 6 || mapped_v6) ? 128 : 32;

		/* Digits only: no sign, no space, no leading zeros. */
		if (slash[1] == 0 ||
		    strspn(slash + 1, "0123456789") != strlen(slash + 1) ||
		    (slash[1] == '0' && slash[2] != 0) ||
		    number_parse(slash + 1, 0, max, &len, &why) < 0) {
			buf_sprintf(err, "bad prefix length in \"%s\"", word);
			return -1;
		}
	} else {
		len = (e->net.family == 6 || mapped_v6) ? 128 : 32;
	}
	if (mapped_v6) {
		if (len < 96) {
			/* Wider than ::ffff:0:0/96: keep it as an IPv6
			 * network (it cannot match any IPv4 client). */
			e->net.family = 6;
			memcpy(e->net.bytes + 12, e->net.bytes, 4);
			memcpy(e->net.bytes, cidr_v4_mapped, 12);
		} else {
			len -= 96;
		}
	}
	if (!cidr_host_bits_zero(e->net.bytes, e->net.family == 4 ? 4 : 16,
	                         (int)len)) {
		buf_sprintf(err,
		            "non-null host address bits in \"%s\", perhaps "
		            "you should use a shorter network address",
		            word);
		return -1;
	}
	e->len = (int)len;
	return 0;
}

struct cidr_list *cidr_list_create(const char *text, struct buf *err)
{
	struct cidr_list *l = mem_zalloc(sizeof(*l));
	char *copy = mem_strdup(text ? text : ""), *p = copy, *word;

	while ((word = str_token(&p, ", \t\r\n")) != NULL) {
		struct cidr_entry e;
		bool neg = false;

		memset(&e, 0, sizeof(e));
		while (*word == '!') {
			neg = !neg;
			word++;
		}
		if (*word == 0) {
			buf_sprintf(err, "empty pattern after \"!\"");
			goto fail;
		}
		if (cidr_parse_pattern(word, &e, err) < 0)
			goto fail;
		e.negated = neg;
		l->v = mem_realloc(l->v, (l->n + 1) * sizeof(*l->v));
		l->v[l->n++] = e;
	}
	mem_free(copy);
	return l;
fail:
	mem_free(copy);
	cidr_list_destroy(&l);
	return NULL;
}

void cidr_list_destroy(struct cidr_list **lp)
{
	if (*lp == NULL)
		return;
	mem_free((*lp)->v);
	mem_free(*lp);
	*lp = NULL;
}

size_t cidr_list_count(const struct cidr_list *l)
{
	return l->n;
}

bool cidr_list_match_addr(const struct cidr_list *l, const struct cidr_addr *a)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct cidr_entry *e = &l->v[i];

		if (e->net.family != a->family)
			continue;
		if (cidr_prefix_equal(e->net.bytes, a->bytes, e->len))
			return !e->negated;
	}
	return false;
}

int cidr_list_match(const struct cidr_list *l, const char *addr)
{
	struct cidr_addr a;

	if (cidr_addr_parse(addr, &a) < 0)
		return -1;
	return cidr_list_match_addr(l, &a) ? 1 : 0;
}
