/* dns.h: DNS lookups for mail routing over libresolv (reentrant state,
 * one per process): MX lists in preference order (RFC 5321 5.1), A and
 * AAAA addresses, and a reply parser that takes raw packets (unit tests,
 * fuzzing). Room is kept for TLSA: any record type's raw data is kept. */
#ifndef POSTHORN_DNS_H
#define POSTHORN_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "buf.h"

/* RFC 1035 2.3.4: 255 octets on the wire, so at most 253 characters in
 * text form (no trailing dot); labels at most 63. */
#define DNS_NAME_MAX 253
#define DNS_LABEL_MAX 63
/* At most this many records are kept from one reply. */
#define DNS_MAX_RR 100

/* Record types (RFC 1035, RFC 3596, RFC 6698). */
#define DNS_T_A 1
#define DNS_T_CNAME 5
#define DNS_T_MX 15
#define DNS_T_AAAA 28
#define DNS_T_TLSA 52

/* Outcomes of a lookup or a parse. */
enum dns_status {
	DNS_OK = 0, /* records of the type asked for */
	DNS_NOTFOUND = 1, /* NXDOMAIN: the name does not exist */
	DNS_NODATA = 2, /* the name exists, no record of this type */
	DNS_RETRY = 3, /* SERVFAIL, timeout, refused, malformed or
			   * truncated reply: try again later */
	DNS_INVALID = 4, /* the name itself is not a valid domain name */
};

/* One resource record of the type asked for. */
struct dns_rr {
	int type;
	unsigned ttl;
	int pref; /* MX preference */
	char *host; /* MX exchange ("" for the null MX "."), else NULL */
	unsigned char *data; /* A: 4 bytes, AAAA: 16, other types: raw rdata */
	size_t len;
};

struct dns_reply {
	struct dns_rr *rr;
	size_t count;
	bool authentic; /* the AD bit (for TLSA later) */
};

/* An address to connect to. */
struct dns_addr {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} u;
};

/* Is name a syntactically valid domain name (length limits, labels of
 * letters, digits, '-' and '_', an optional trailing dot)? */
bool dns_name_valid(const char *name);

/* Parse a reply packet to a query for qname/qtype: checks the header (a
 * response, not truncated), that the question is the one asked, and
 * collects the answer records of qtype whose owner is qname or an alias
 * of it reached by CNAME records in the answer. Returns DNS_OK (out
 * filled: free with dns_reply_free), DNS_NOTFOUND, DNS_NODATA or
 * DNS_RETRY (reason in why: malformed packet, SERVFAIL, ...). out is
 * untouched unless DNS_OK. */
int dns_reply_parse(const unsigned char *pkt, size_t len, const char *qname,
                    int qtype, struct dns_reply *out, struct buf *why);
void dns_reply_free(struct dns_reply *r);

/* Set up the process's resolver: /etc/resolv.conf, or the servers in
 * resolver ("127.0.0.1:5353", "[::1]:53", "192.0.2.1", a list separated
 * by commas or spaces, at most 3) when not empty. -1 with the reason in
 * err. May be called again to change the servers. */
int dns_init(const char *resolver, struct buf *err);
/* Release the resolver state. */
void dns_deinit(void);

/* Query name for type. Same results as dns_reply_parse; DNS_INVALID for
 * a bad name. why gets a Postfix-like reason ("Host not found", ...). */
int dns_lookup(const char *name, int type, struct dns_reply *out,
               struct buf *why);

/* MX records of domain sorted by preference, random order among equal
 * preferences (RFC 5321 5.1). */
int dns_lookup_mx(const char *domain, struct dns_reply *out, struct buf *why);
/* Sort an MX reply in place as dns_lookup_mx does (exposed for tests). */
void dns_mx_sort(struct dns_reply *r);

/* Families for dns_lookup_addr. */
#define DNS_WANT_V4 1
#define DNS_WANT_V6 2

/* Addresses of name: AAAA and/or A as asked, appended to *addrs (grown
 * with mem_realloc; *count updated), at most max in all. Returns DNS_OK
 * if any address was found, else the most telling failure (RETRY beats
 * NODATA beats NOTFOUND). */
int dns_lookup_addr(const char *name, int families, struct dns_addr **addrs,
                    size_t *count, size_t max, struct buf *why);

/* Text form of an address ("192.0.2.1", "2001:db8::1"). */
void dns_addr_format(const struct dns_addr *a, char *out, size_t outlen);
/* Parse a numeric address (no brackets, no "IPv6:" prefix); -1 if not
 * one. */
int dns_addr_parse(const char *text, struct dns_addr *out);
bool dns_addr_equal(const struct dns_addr *a, const struct dns_addr *b);
/* The socket address of a with port (host order) into ss; its length. */
socklen_t dns_addr_sockaddr(const struct dns_addr *a, int port,
                            struct sockaddr_storage *ss);

#endif
