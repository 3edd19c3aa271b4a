/* tls_policy.h: pure parsers for the SMTP client's TLS policy (Postfix
 * smtp_tls_security_level, smtp_tls_*_cert_match and the values of
 * smtp_tls_policy_maps) and the lookup keys of a nexthop. No I/O, no
 * OpenSSL: the name matching itself is lib/tls.c (tls_cert_match). */
#ifndef POSTHORN_TLS_POLICY_H
#define POSTHORN_TLS_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Security levels, weakest first (RFC 3207; Postfix TLS_README). */
enum tls_level {
	TLS_LEV_NONE = 0, /* plain text */
	TLS_LEV_MAY, /* STARTTLS when offered, else plain text */
	TLS_LEV_ENCRYPT, /* STARTTLS or defer; certificate not checked */
	TLS_LEV_VERIFY, /* + chain trusted, name: verify_cert_match */
	TLS_LEV_SECURE, /* + chain trusted, name: secure_cert_match */
};

/* Names a match list holds at most, and the longest name. */
#define TLS_MATCH_MAX 16
#define TLS_MATCH_NAME_MAX 256

/* A parsed cert match list: the words "hostname", "nexthop",
 * "dot-nexthop" (kept as written, lower case) and literal DNS names
 * (".example.com": any subdomain). */
struct tls_match_list {
	size_t n;
	char *names[TLS_MATCH_MAX];
};

/* One smtp_tls_policy_maps value: "LEVEL [match=a:b] [protocols=x:y]". */
struct tls_policy {
	enum tls_level level;
	bool have_match; /* match= given */
	struct tls_match_list match;
	char *protocols; /* protocols= value (':' separated), or NULL */
};

/* "none", "may", "encrypt", "verify", "secure" (any case; "" is none).
 * -1 for anything else. */
int tls_level_parse(const char *word, enum tls_level *level);
const char *tls_level_name(enum tls_level level);

/* Parse a match list: names separated by white space, commas or colons.
 * -1 with the reason in err (bad name, too many, empty); m untouched
 * then. Free with tls_match_free. */
int tls_match_parse(const char *spec, struct tls_match_list *m,
                    struct buf *err);
void tls_match_free(struct tls_match_list *m);
/* The concrete names of m for one connection: "hostname" -> hostname,
 * "nexthop" -> nexthop, "dot-nexthop" -> "." nexthop; literal names as
 * they are. Duplicates and names that would be empty are skipped. out
 * receives at most max pointers to new strings (caller frees each);
 * returns the count. */
size_t tls_match_expand(const struct tls_match_list *m, const char *hostname,
                        const char *nexthop, char **out, size_t max);

/* Parse a policy value. -1 with the reason in err (p untouched then).
 * Free with tls_policy_free. */
int tls_policy_parse(const char *value, struct tls_policy *p, struct buf *err);
void tls_policy_free(struct tls_policy *p);

/* The bare domain of a nexthop: "[mx.example.com]:587" -> "mx.example.com",
 * "Example.COM:25" -> "example.com" (lower case). -1 when it does not
 * fit or is empty. *bracketed: it was "[...]" (no parent lookups). */
int tls_nexthop_domain(const char *nexthop, char *out, size_t outlen,
                       bool *bracketed);
/* The smtp_tls_policy_maps lookup keys of a nexthop, in order, each
 * NUL-terminated onto keys: the nexthop as written (lower case), the
 * bare domain (when it differs), then, unless the nexthop is an
 * address literal, each parent domain as ".example.com", ".com".
 * Returns the number of keys. */
size_t tls_policy_keys(const char *nexthop, struct buf *keys);

#endif
