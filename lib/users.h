/* users.h: the users map: virtual mailbox owners (DESIGN.md: Mailboxes).
 * Text form in DIR/users, one user a line:
 *     address  password-hash  [quota=BYTES] [enabled=yes|no]
 * compiled to DIR/users.lmdb (key: address lowercased; value: the rest of
 * the line). main.cf names it with virtual_mailbox_maps (init sets
 * lmdb:$config_directory/users). Used by smtpd (recipient validation,
 * AUTH), local (delivery, quota), pop3d and imapd (login). */
#ifndef POSTHORN_USERS_H
#define POSTHORN_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "config.h"

struct user_entry {
	char *address; /* lowercased local@domain */
	char *hash; /* crypt(3) hash; never logged or printed */
	long long quota; /* bytes, 0: no quota */
	bool enabled;
};

/* Look address up in virtual_mailbox_maps (the map is opened once and
 * cached; rebuilt tables are noticed). Returns 1 (out filled: free with
 * user_entry_free), 0 (no such user), -1 (table error, reason in err). */
int users_lookup(struct config *c, const char *address, struct user_entry *out,
                 struct buf *err);
/* Free what u holds (the hash is wiped first) and zero u. */
void user_entry_free(struct user_entry *u);
/* Close the cached virtual_mailbox_maps (the next lookup reopens it). */
void users_close(void);
/* Parse a table value ("hash quota=N enabled=no"); -1 if malformed. */
int users_parse_value(const char *address, const char *value,
                      struct user_entry *out);
/* The table value of u in the text form users_parse_value reads:
 * "hash[ quota=N][ enabled=no]"; replaces out. -1 if u's hash is empty
 * or holds white space or control characters. */
int users_format_value(const struct user_entry *u, struct buf *out);
/* The Maildir of address: mail_root/DOMAIN/LOCAL (both lowercased; -1 for
 * names that are unsafe as path components: empty, ".", "..", '/', NUL,
 * control characters, a leading '.', a local part over 64 or a domain over
 * 255 bytes, an address without '@'). */
int users_maildir(struct config *c, const char *address, struct buf *out);
/* Create a Maildir (dir, cur, new, tmp) owned by vmail_owner when root;
 * existing parts are left alone. path must lie below mail_root; missing
 * directories on the way (the domain's) are made too, mode 0700. Nothing
 * below mail_root may be a symbolic link. -1 with reason in err. */
int users_maildir_create(struct config *c, const char *path, struct buf *err);
/* Check a password against a user's hash with crypt_r(3) and a constant-
 * time compare. False for disabled users and malformed hashes. u may be
 * NULL (no such user): false, after the same work as a real check, so
 * that AUTH and login answers do not reveal by their timing which users
 * exist; callers should call it for unknown users too. */
bool users_password_ok(const struct user_entry *u, const char *password);
/* The same for a password of len bytes (decoded SASL data): false when it
 * holds a NUL byte or is longer than PASSWORD_MAX (password.h). */
bool users_password_ok_len(const struct user_entry *u, const char *password,
                           size_t len);

/* The owner, group and mode of a new users file (and so of its table,
 * which copies them): run as root, root and mail_owner's group, 0640, so
 * that smtpd, pop3d and imapd (mail_owner) can read the table and not
 * change it; otherwise the invoking user, 0600. -1 (reason in err) when
 * mail_owner is unknown. */
int users_file_perms(struct config *c, uid_t *uid, gid_t *gid, mode_t *mode,
                     struct buf *err);
/* Replace the users text file path with text (len bytes) and path.lmdb with
 * its table: path.new is written, fsynced and compiled to path.new.lmdb
 * first, then both are renamed into place (text first) and the directory
 * is fsynced, so a text that does not compile changes nothing. An existing
 * file keeps its owner and group and its mode (less any bits beyond
 * 0640); a new one gets users_file_perms. Returns the number of entries,
 * or -1 with the reason in err. */
long users_table_replace(struct config *c, const char *path, const char *text,
                         size_t len, struct buf *err);

#endif
