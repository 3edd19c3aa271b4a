/* sender_login.h: which SASL login names own a sender address, for the
 * smtpd restrictions reject_sender_login_mismatch,
 * reject_authenticated_sender_login_mismatch and
 * reject_unauthenticated_sender_login_mismatch (policy.c, docs/policy.md).
 *
 * With smtpd_sender_login_maps set, Postfix's rule: the tables map an
 * address (tried as user+ext@domain, user@domain, then @domain) to a list
 * of login names (separated by commas and/or white space).
 * With it empty, posthorn's built-in rule (no table to maintain): each
 * user in the users map (virtual_mailbox_maps) owns its own address, and
 * each virtual_alias_maps address whose expansion is exactly one address
 * that, followed through at most SENDER_LOGIN_DEPTH single-address
 * aliases, is a user, is owned by that user. Catch-all aliases
 * ("@domain") own nothing. An address with a recipient_delimiter extension
 * (user+tag@domain) is owned like user@domain.
 * Addresses and login names compare case-insensitively. */
#ifndef POSTHORN_SENDER_LOGIN_H
#define POSTHORN_SENDER_LOGIN_H

#include "buf.h"
#include "config.h"

/* How many single-address alias steps the built-in rule follows. */
#define SENDER_LOGIN_DEPTH 5

struct sender_login;

/* Ownership lookups over c's tables (opened on first use and kept; a
 * table that fails to open is retried on the next call). Never fails. */
struct sender_login *sender_login_create(struct config *c);
void sender_login_destroy(struct sender_login **sp);

/* The login names that own sender: owners (replaced) holds them
 * lowercased, separated by single spaces. 1 some, 0 none, -1 table error
 * (reason in err). The null sender "" is owned by nobody. */
int sender_login_owners(struct sender_login *sl, const char *sender,
                        struct buf *owners, struct buf *err);
/* Does login own sender? 1 yes, 0 no, -1 table error (err). */
int sender_login_owns(struct sender_login *sl, const char *sender,
                      const char *login, struct buf *err);

#endif
