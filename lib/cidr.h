/* cidr.h: IP address patterns (mynetworks style): parse a list such as
 * "127.0.0.0/8, [::1]/128, 192.168.1.5, !10.0.0.1" and match client
 * addresses against it. IPv4 and IPv6; an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d), as client or as pattern, is treated as IPv4. */
#ifndef POSTHORN_CIDR_H
#define POSTHORN_CIDR_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* One parsed address: family 4 or 6; for 4 only bytes[0..3] are used. */
struct cidr_addr {
	int family;
	unsigned char bytes[16];
};

/* Parse a textual address: "192.0.2.1", "2001:db8::1", "[2001:db8::1]",
 * "[IPv6:2001:db8::1]" (RFC 5321 literal form), "::ffff:192.0.2.1"
 * (becomes family 4). No zone ids, no short IPv4 forms ("127.1"), no
 * leading zeros. 0, or -1 (out untouched) if text is not an address. */
int cidr_addr_parse(const char *text, struct cidr_addr *out);
/* Format an address (IPv4 dotted quad, IPv6 RFC 5952) into out (at least
 * 46 bytes). -1 if outlen is too small. */
int cidr_addr_format(const struct cidr_addr *a, char *out, size_t outlen);

struct cidr_list;

/* Parse a list of patterns separated by commas and/or white space:
 *   ADDR            one host (/32 or /128)
 *   ADDR/LEN        a network; IPv6 may be bracketed: [2001:db8::]/32
 *   !PATTERN        negation: a match ends the search with "no match"
 * The first matching pattern decides (Postfix match-list semantics).
 * Host bits beyond LEN must be zero ("192.168.1.5/24" is an error, as in
 * Postfix). "[::ffff:127.0.0.0]/104" is the IPv4 network 127.0.0.0/8.
 * Lookup tables (type:name) and /file patterns are not supported here:
 * an error. Returns NULL with the reason ("bad prefix length in
 * \"10.0.0.0/33\"") in err. An empty list is valid and matches nothing. */
struct cidr_list *cidr_list_create(const char *text, struct buf *err);
void cidr_list_destroy(struct cidr_list **lp);
/* Number of patterns. */
size_t cidr_list_count(const struct cidr_list *l);
/* Does a parsed address match? */
bool cidr_list_match_addr(const struct cidr_list *l, const struct cidr_addr *a);
/* Match a textual client address (see cidr_addr_parse): 1 match, 0 no
 * match, -1 text is not an address (never matches). */
int cidr_list_match(const struct cidr_list *l, const char *addr);

#endif
