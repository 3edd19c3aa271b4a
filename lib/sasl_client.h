/* sasl_client.h: the pure parts of SMTP client authentication (RFC 4954)
 * with SASL PLAIN (RFC 4616) and LOGIN that lib/sasl (the responses) does
 * not cover: the smtp_sasl_*security_options words, the choice of a
 * mechanism from what a server offers, the password-map keys of a
 * destination in lookup order and the "user:password" value. The smtp
 * agent (smtp/smtp_sasl.c) does the I/O. */
#ifndef POSTHORN_SASL_CLIENT_H
#define POSTHORN_SASL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "sasl.h"

/* Security option words (Postfix smtp_sasl_security_options). PLAIN and
 * LOGIN send the password as it is, so every option but noanonymous
 * excludes them. */
#define SASL_SEC_NOPLAINTEXT 0x01u
#define SASL_SEC_NOACTIVE 0x02u
#define SASL_SEC_NODICTIONARY 0x04u
#define SASL_SEC_NOANONYMOUS 0x08u
#define SASL_SEC_MUTUAL_AUTH 0x10u
#define SASL_SEC_FORWARD_SECRECY 0x20u

/* Room for the map value "user:password" (user up to SASL_AUTHCID_MAX,
 * password up to SASL_PASSWD_MAX, with slack for the limit check) and for
 * one command line ("AUTH PLAIN " and the encoded response). */
#define SASL_CLIENT_VALUE_MAX 1024
#define SASL_CLIENT_LINE_MAX 1600

/* Parse a list of option words (separated by commas and/or white space;
 * empty is fine) into SASL_SEC_* flags. -1 with the bad word in err. */
int sasl_client_security_parse(const char *text, unsigned *flags,
                               struct buf *err);
/* The mechanism to use from offered (the server's AUTH mechanisms,
 * separated by spaces, any case) under flags: PLAIN before LOGIN. 0 with
 * *mech set; -1 (untouched) when neither is offered or allowed. */
int sasl_client_choose(const char *offered, unsigned flags,
                       enum sasl_mech *mech);
/* Key number i (0, 1, ...) to look up in smtp_sasl_password_maps for a
 * session to host (the server's name) reached through nexthop (as written
 * in relayhost or the transport: "[mx.example]:587", "example.com"): the
 * nexthop, then the host, then for a domain nexthop (no brackets) the
 * domain without its port. Keys equal (ignoring case) to an earlier one
 * are skipped. 0 with the key in out, -1 when there is no key i. */
int sasl_client_key(const char *nexthop, const char *host, int i,
                    struct buf *out);
/* Split a map value at the first ':' into user and password. -1 (outputs
 * untouched) without ':', with an empty user or password, one longer than
 * SASL_AUTHCID_MAX / SASL_PASSWD_MAX or than its buffer's limit, or CR,
 * LF or NUL in it. */
int sasl_client_split(const char *value, size_t len, struct buf *user,
                      struct buf *pass);
/* A buffer for secrets: allocated at its full size once (never moved by
 * a realloc), so sasl_client_secret_destroy can wipe every byte. */
struct buf *sasl_client_secret_create(size_t size);
/* Overwrite the whole buffer with zeros, free it, set *bp to NULL. */
void sasl_client_secret_destroy(struct buf **bp);

#endif
