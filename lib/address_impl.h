/*
 * address_impl.h: helpers shared by address.c (SMTP paths) and
 * address_header.c (header lists). Internal to the address module: no
 * other file includes it.
 */
#ifndef POSTHORN_ADDRESS_IMPL_H
#define POSTHORN_ADDRESS_IMPL_H

#include <stdbool.h>
#include <stddef.h>

/* RFC 5322 3.2.3 atext, ASCII part. */
bool address_is_atext(int c);
/* Length of the well-formed UTF-8 character at p (p[0] >= 0x80, avail bytes
 * readable) if flags allow UTF-8; 0 with *why set otherwise. */
size_t address_utf8_char(const unsigned char *p, size_t avail, unsigned flags,
                         const char **why);
/* Reason for an unexpected byte c. */
const char *address_char_reason(int c, unsigned flags);
/* Scan a domain (sub-domains, or with allow_literal an address literal) at
 * p; returns where it ends, or NULL with *why. */
const unsigned char *address_domain_scan(const unsigned char *p,
                                         const unsigned char *end,
                                         unsigned flags, bool allow_literal,
                                         const char **why);
/* Check a decoded local part (controls, UTF-8) and write its canonical form
 * (quoted unless a dot-atom) to out (outlen >= 2 * len + 3); returns the
 * canonical length, or -1 with *why. */
long address_local_canon(const char *raw, size_t len, unsigned flags, char *out,
                         size_t outlen, const char **why);

#endif
