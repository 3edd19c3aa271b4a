/*
 * auth.c: password authentication against the users map (auth.h). Owns
 * nothing between calls: the user entry (with its hash) is freed and
 * wiped before returning.
 * RFC 4954 6 (the temporary failure a table error becomes is the caller's
 * 454 4.7.0), RFC 4616 (PLAIN's passwords may be any bytes but NUL).
 * SECURITY: login and password come from the network (already bounded by
 * sasl.c: SASL_AUTHCID_MAX, SASL_PASSWD_MAX). The login is lowercased into
 * a bounded copy and used only as a lookup key; the password goes only to
 * users_password_ok_len (crypt_r and a constant-time compare). An unknown
 * user is checked against a dummy hash and a disabled one against its own,
 * so the answer's timing does not reveal which users exist. Reasons are
 * static texts; the password never reaches them.
 */
#include "auth.h"

#include <string.h>

#include "str.h"
#include "users.h"

/* The longest login name looked up (an address). */
#define AUTH_LOGIN_MAX 320

const char *auth_status_name(enum auth_status st)
{
	switch (st) {
	case AUTH_OK:
		return "ok";
	case AUTH_BAD:
		return "failed";
	case AUTH_TEMPFAIL:
		return "tempfail";
	}
	return "failed";
}

/* Is login usable as a key: bounded, no control characters or blanks? */
static bool auth_login_ok(const char *login)
{
	size_t len = strlen(login);

	if (len == 0 || len > AUTH_LOGIN_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)login[i] <= 0x20 || login[i] == 0x7f)
			return false;
	return true;
}

enum auth_status auth_verify(struct config *c, const char *login,
                             const char *password, size_t len, struct buf *user,
                             struct buf *why)
{
	struct user_entry u;
	char key[AUTH_LOGIN_MAX + 1];
	int found;
	bool ok;

	memset(&u, 0, sizeof(u));
	if (login == NULL || !auth_login_ok(login)) {
		/* Same work as a real check (users.h). */
		(void)users_password_ok_len(NULL, password, len);
		buf_set_str(why, "bad login name");
		return AUTH_BAD;
	}
	(void)str_copy(key, sizeof(key), login);
	str_lower(key);
	buf_reset(why);
	found = users_lookup(c, key, &u, why);
	if (found < 0) {
		if (buf_len(why) == 0)
			buf_set_str(why, "users map lookup failed");
		return AUTH_TEMPFAIL;
	}
	/* users_password_ok_len does the dummy work for NULL and for
	 * disabled users itself. */
	ok = users_password_ok_len(found == 1 ? &u : NULL, password, len);
	if (ok) {
		if (user != NULL)
			buf_set_str(user, u.address ? u.address : key);
	} else if (found == 0) {
		buf_set_str(why, "no such user");
	} else if (!u.enabled) {
		buf_set_str(why, "user disabled");
	} else {
		buf_set_str(why, "wrong password");
	}
	if (found == 1)
		user_entry_free(&u);
	return ok ? AUTH_OK : AUTH_BAD;
}
