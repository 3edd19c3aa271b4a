/* sasl.h: SASL PLAIN (RFC 4616) and LOGIN exchanges, both sides, as
 * protocol-neutral pure functions: no I/O, no logging, no lookups. The
 * server side (smtpd AUTH, later pop3d AUTHENTICATE and imapd) feeds each
 * client line in and gets back what to send next; the client side (the
 * smtp client's AUTH to a relayhost) builds the responses. Credentials
 * travel base64-encoded (RFC 4648 4) as RFC 4954 4 prescribes.
 *
 * Server use:
 *   sasl_mech_parse(name)            -> mechanism, or -1: 504 5.5.4
 *   s = sasl_server_create(mech)
 *   st = sasl_server_start(s, ir, irlen, ch)   (ir NULL: no initial
 *                                               response; "=": empty one)
 *   while (st == SASL_CONTINUE) { send "334 " ch; read a line;
 *                                 st = sasl_server_step(s, line, len, ch); }
 *   SASL_DONE: sasl_server_authcid/password hold the credentials;
 *   SASL_CANCEL: the client sent "*" (RFC 4954 4: 501 5.7.0);
 *   SASL_ERROR: malformed (501 5.5.2; sasl_server_error says why, never
 *               quoting the client's data).
 *   sasl_server_destroy(&s)   (wipes the credentials)
 */
#ifndef POSTHORN_SASL_H
#define POSTHORN_SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* RFC 4954 4: a client response (or AUTH command line) may be up to 12288
 * octets; longer ones are refused without decoding. */
#define SASL_LINE_MAX 12288
/* Longest authentication identity (login name: an address, RFC 5321
 * 4.5.3.1.3 allows 256 octets for a path) and authorization identity. */
#define SASL_AUTHCID_MAX 320
/* Longest password (the same as password.h's PASSWORD_MAX). */
#define SASL_PASSWD_MAX 511

enum sasl_mech {
	SASL_MECH_PLAIN,
	SASL_MECH_LOGIN,
};

enum sasl_status {
	SASL_CONTINUE, /* send the challenge: "334 " + its text */
	SASL_DONE, /* credentials complete */
	SASL_CANCEL, /* the client sent "*" */
	SASL_ERROR, /* malformed response; the exchange is over */
};

struct sasl_server;

/* The mechanism named name (len bytes, case-insensitive: "PLAIN",
 * "LOGIN"); -1 for any other. */
int sasl_mech_parse(const char *name, size_t len, enum sasl_mech *out);
/* "PLAIN" or "LOGIN". */
const char *sasl_mech_name(enum sasl_mech m);

/* A server exchange for mechanism m. Never fails. */
struct sasl_server *sasl_server_create(enum sasl_mech m);
/* Wipe and free, set *sp to NULL. NULL is fine. */
void sasl_server_destroy(struct sasl_server **sp);
/* Begin the exchange. ir: the AUTH command's initial response (len bytes;
 * NULL when there is none; "=" is the empty response, RFC 4954 4).
 * On SASL_CONTINUE challenge holds the base64 text to send after "334 "
 * (replaced; possibly empty). */
enum sasl_status sasl_server_start(struct sasl_server *s, const char *ir,
                                   size_t len, struct buf *challenge);
/* Feed one client response line (len bytes, without CRLF). Same results
 * as sasl_server_start. After DONE, CANCEL or ERROR it keeps answering
 * SASL_ERROR. */
enum sasl_status sasl_server_step(struct sasl_server *s, const char *line,
                                  size_t len, struct buf *challenge);
/* After SASL_ERROR: a short static reason ("bad base64", "authzid differs
 * from authcid", ...), never the client's data. */
const char *sasl_server_error(const struct sasl_server *s);
/* After SASL_DONE: the authentication identity (NUL-terminated, no NUL
 * inside, 1..SASL_AUTHCID_MAX bytes; as sent, not lowercased). */
const char *sasl_server_authcid(const struct sasl_server *s);
/* After SASL_DONE: the password (*len bytes, 1..SASL_PASSWD_MAX, no NUL
 * inside, NUL-terminated). Owned by s; wiped by sasl_server_destroy. */
const char *sasl_server_password(const struct sasl_server *s, size_t *len);

/* Decode a complete PLAIN message (RFC 4616 2: [authzid] NUL authcid NUL
 * passwd, already base64-decoded, len bytes). authzid must be empty or
 * equal to authcid (case-insensitively: login names are addresses);
 * authcid and passwd non-empty and bounded as above. 0 with copies in
 * authcid (NUL-terminated, SASL_AUTHCID_MAX + 1 bytes) and passwd (*plen
 * bytes + NUL, SASL_PASSWD_MAX + 1 bytes); -1 with *why set (outputs
 * may be partly written: callers wipe them). */
int sasl_plain_decode(const char *msg, size_t len,
                      char authcid[SASL_AUTHCID_MAX + 1],
                      char passwd[SASL_PASSWD_MAX + 1], size_t *plen,
                      const char **why);

/* Client side (RFC 4954 4, RFC 4616 2). */

/* Append to out the base64 PLAIN initial response for user and pass
 * (empty authzid: "" NUL user NUL pass). -1 (out may hold a partial
 * encoding: callers discard and wipe it) when user or pass is empty,
 * longer than SASL_AUTHCID_MAX / SASL_PASSWD_MAX, or out's limit is
 * passed. The intermediate clear text is wiped. */
int sasl_client_plain(const char *user, const char *pass, struct buf *out);
/* LOGIN: the answer to the server's step'th 334 challenge (step 0 first),
 * challenge being the base64 text after "334 " (len bytes). The decoded
 * challenge chooses: one starting with "user" (any case, "Username:")
 * gets base64(user), "pass" ("Password:") gets base64(pass); any other
 * text falls back to the step (0: user, 1: pass). Appends to out. -1 for
 * a challenge that is not base64, a step past 1 with an unknown text, an
 * empty or overlong user/pass, or out's limit. */
int sasl_client_login_step(const char *challenge, size_t len, unsigned step,
                           const char *user, const char *pass, struct buf *out);

/* Overwrite a buffer's bytes with zeros and empty it (for buffers that
 * held credentials). NULL is fine. */
void sasl_buf_wipe(struct buf *b);

#endif
