/*
 * sasl_client.c: what the SMTP client needs to authenticate (RFC 4954)
 * that is not I/O: Postfix's smtp_sasl_security_options words, choosing
 * PLAIN (RFC 4616) or LOGIN from the EHLO AUTH list, the order of the
 * smtp_sasl_password_maps keys, the "user:password" split and the base64
 * responses (lib/base64). Kept apart from smtp/ so the unit tests reach
 * it. The responses themselves are lib/sasl's sasl_client_plain and
 * sasl_client_login_step.
 * SECURITY: the mechanism list comes from a remote server (already capped
 * by lib/smtp_reply; tokens are compared, never copied); the map value
 * holds a password: it is never logged, fields are bounded
 * (SASL_AUTHCID_MAX, SASL_PASSWD_MAX), and secret buffers are allocated once at full
 * size and wiped with explicit_bzero before they are freed.
 */
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "sasl_client.h"
#include "str.h"

static bool sasl_client_is_sep(int c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int sasl_client_security_parse(const char *text, unsigned *flags,
                               struct buf *err)
{
	static const struct {
		const char *word;
		unsigned flag;
	} words[] = {
	    {"noplaintext", SASL_SEC_NOPLAINTEXT},
	    {"noactive", SASL_SEC_NOACTIVE},
	    {"nodictionary", SASL_SEC_NODICTIONARY},
	    {"noanonymous", SASL_SEC_NOANONYMOUS},
	    {"mutual_auth", SASL_SEC_MUTUAL_AUTH},
	    {"forward_secrecy", SASL_SEC_FORWARD_SECRECY},
	};
	const char *p = text;
	unsigned f = 0;

	for (;;) {
		size_t len, i;

		while (*p && sasl_client_is_sep((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		for (len = 0;
		     p[len] && !sasl_client_is_sep((unsigned char)p[len]);
		     len++)
			;
		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strlen(words[i].word) == len &&
			    strncasecmp(words[i].word, p, len) == 0)
				break;
		if (i == sizeof(words) / sizeof(words[0])) {
			buf_sprintf(
			    err,
			    "unknown SASL security option '%.*s' "
			    "(noplaintext, noactive, nodictionary, "
			    "noanonymous, mutual_auth, forward_secrecy)",
			    len > 64 ? 64 : (int)len, p);
			return -1;
		}
		f |= words[i].flag;
		p += len;
	}
	*flags = f;
	return 0;
}

/* Is the mechanism name (len bytes) in the space-separated list? */
static bool sasl_client_offered(const char *offered, const char *name)
{
	size_t nl = strlen(name);
	const char *p = offered;

	while (*p) {
		size_t len;

		while (*p == ' ')
			p++;
		for (len = 0; p[len] && p[len] != ' '; len++)
			;
		if (len == nl && strncasecmp(p, name, nl) == 0)
			return true;
		p += len;
	}
	return false;
}

int sasl_client_choose(const char *offered, unsigned flags,
                       enum sasl_mech *mech)
{
	/* PLAIN and LOGIN pass the password itself: open to eavesdroppers
	 * (noplaintext), to active attacks and dictionary attacks on what
	 * was seen, with neither mutual authentication nor forward
	 * secrecy. Only noanonymous leaves them usable. */
	if (flags & ~SASL_SEC_NOANONYMOUS)
		return -1;
	if (sasl_client_offered(offered, "PLAIN")) {
		*mech = SASL_MECH_PLAIN;
		return 0;
	}
	if (sasl_client_offered(offered, "LOGIN")) {
		*mech = SASL_MECH_LOGIN;
		return 0;
	}
	return -1;
}

/* Candidate n (before duplicates are dropped) into out; -1: none. */
static int sasl_client_candidate(const char *nexthop, const char *host, int n,
                                 struct buf *out)
{
	const char *colon;

	switch (n) {
	case 0:
		return *nexthop ? buf_set_str(out, nexthop) : -1;
	case 1:
		return *host ? buf_set_str(out, host) : -1;
	case 2:
		/* "[host]" and "[host]:port" name a host, not a domain. */
		if (*nexthop == '\0' || *nexthop == '[')
			return -1;
		colon = strrchr(nexthop, ':');
		buf_reset(out);
		return buf_append(out, nexthop,
		                  colon ? (size_t)(colon - nexthop)
		                        : strlen(nexthop));
	default:
		return -1;
	}
}

int sasl_client_key(const char *nexthop, const char *host, int i,
                    struct buf *out)
{
	struct buf *cand = buf_create(64, 4096), *prev = buf_create(64, 4096);
	int n, seen = -1, rc = -1;

	for (n = 0; n < 3; n++) {
		bool dup = false;

		if (sasl_client_candidate(nexthop, host, n, cand) < 0 ||
		    buf_len(cand) == 0)
			continue;
		for (int m = 0; m < n && !dup; m++)
			if (sasl_client_candidate(nexthop, host, m, prev) ==
			        0 &&
			    str_eq_ci(buf_str(prev), buf_str(cand)))
				dup = true;
		if (dup)
			continue;
		if (++seen == i) {
			rc = buf_set_str(out, buf_str(cand));
			break;
		}
	}
	buf_destroy(&cand);
	buf_destroy(&prev);
	return rc;
}

/* A field of the password map value: bounded, nothing that would break
 * the PLAIN message or the command line. */
static bool sasl_client_field_ok(const char *p, size_t len, size_t max)
{
	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (p[i] == '\0' || p[i] == '\r' || p[i] == '\n')
			return false;
	return true;
}

int sasl_client_split(const char *value, size_t len, struct buf *user,
                      struct buf *pass)
{
	const char *colon = memchr(value, ':', len);
	size_t ul, pl;

	if (colon == NULL)
		return -1;
	ul = (size_t)(colon - value);
	pl = len - ul - 1;
	if (!sasl_client_field_ok(value, ul, SASL_AUTHCID_MAX) ||
	    !sasl_client_field_ok(colon + 1, pl, SASL_PASSWD_MAX) ||
	    buf_limit(user) < ul || buf_limit(pass) < pl)
		return -1;
	buf_reset(user);
	buf_append(user, value, ul);
	buf_reset(pass);
	buf_append(pass, colon + 1, pl);
	return 0;
}

struct buf *sasl_client_secret_create(size_t size)
{
	/* initial == limit: the buffer never grows, so no copy of a
	 * secret is left behind in freed memory by a realloc. */
	return buf_create(size, size);
}

void sasl_client_secret_destroy(struct buf **bp)
{
	if (*bp == NULL)
		return;
	explicit_bzero(buf_data(*bp), buf_limit(*bp) + 1);
	buf_destroy(bp);
}
