/* auth.h: password authentication of mail users against the users map
 * (users.h), the one module smtpd AUTH, pop3d and imapd logins use.
 * Login names are addresses, matched case-insensitively; the password is
 * checked with crypt(3) (yescrypt, sha512-crypt, bcrypt) and a
 * constant-time compare (password.h). Unknown and disabled users cost
 * the same work as real ones, so timing does not tell them apart.
 * Nothing here logs; no password or hash is kept after a call. */
#ifndef POSTHORN_AUTH_H
#define POSTHORN_AUTH_H

#include <stddef.h>

#include "buf.h"
#include "config.h"

enum auth_status {
	AUTH_OK, /* the login name and password belong to an enabled user */
	AUTH_BAD, /* wrong password, unknown or disabled user (one answer
		   * to the client: "authentication failed") */
	AUTH_TEMPFAIL, /* the users map failed: try again later */
};

/* Check login (an address, NUL-terminated) and password (len bytes) of a
 * user in virtual_mailbox_maps of c. AUTH_OK: user (replaced) holds the
 * canonical login name (lowercased). AUTH_BAD: why (replaced) holds a
 * short reason for the log ("no such user", "user disabled", "wrong
 * password", "bad login name"), never the password. AUTH_TEMPFAIL: why
 * holds the table error. user may be NULL. */
enum auth_status auth_verify(struct config *c, const char *login,
                             const char *password, size_t len, struct buf *user,
                             struct buf *why);

/* The status as a word for log lines: "ok", "failed", "tempfail". */
const char *auth_status_name(enum auth_status st);

#endif
