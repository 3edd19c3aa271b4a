/* password.h: crypt(3) password hashes (libxcrypt): making a new hash
 * for `posthorn user add|passwd` and checking a password against a stored
 * hash (users map, SMTP AUTH, POP3, IMAP). */
#ifndef POSTHORN_PASSWORD_H
#define POSTHORN_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* The longest password accepted (longer ones never verify and are not
 * hashed): libxcrypt's limit, CRYPT_MAX_PASSPHRASE_SIZE less its NUL. */
#define PASSWORD_MAX 511

/* The crypt(3) prefix of a password_hash_method value: "yescrypt" ->
 * "$y$", "sha512" -> "$6$", "bcrypt" -> "$2b$"; NULL if unknown. */
const char *password_method_prefix(const char *method);

/* Hash password (len bytes) with a fresh random salt (getrandom(2)) in
 * the scheme named by method (see password_method_prefix) and the
 * scheme's default cost; replaces out. -1 (out untouched, reason in err)
 * for an unknown method, an empty password, one with a NUL byte or
 * longer than PASSWORD_MAX, or a crypt failure. */
int password_hash(const char *method, const char *password, size_t len,
                  struct buf *out, struct buf *err);

/* Is hash a stored hash that can ever verify? False for "", the locked
 * and disabled markers ("*...", "!..."), anything not starting with '$'
 * (legacy DES is refused), and characters outside the crypt alphabet. */
bool password_hash_usable(const char *hash);

/* Does password (len bytes) match hash? crypt_r(3) with hash as the
 * setting, then a constant-time comparison of equal-length results.
 * False for an unusable hash, an empty password, a password holding a NUL
 * byte or longer than PASSWORD_MAX, and on any crypt error. */
bool password_verify(const char *hash, const char *password, size_t len);

#endif
