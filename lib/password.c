/*
 * password.c: crypt(3) password hashes through libxcrypt. New hashes come
 * from crypt_gensalt_rn (the scheme's default cost) fed with random bytes
 * from getrandom(2), then crypt_r. Verification runs crypt_r with the
 * stored hash as the setting and compares the result in constant time.
 * The crypt_data work area (32 KiB) lives on the heap and is wiped after
 * use, as is every copy of a password this module makes.
 *
 * SECURITY: passwords come from the network (AUTH, POP3, IMAP) or stdin:
 * at most PASSWORD_MAX bytes, no NUL, never logged. Stored hashes come
 * from the users map, which is trusted but may be hand-edited: unusable
 * hashes ("", "*", "!...", DES) never verify.
 */
#include <crypt.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "buf.h"
#include "mem.h"
#include "password.h"
#include "str.h"

_Static_assert(PASSWORD_MAX < CRYPT_MAX_PASSPHRASE_SIZE,
               "PASSWORD_MAX must leave room for crypt's NUL");

/* Random bytes handed to crypt_gensalt_rn: 16 is what every scheme here
 * takes in full (bcrypt needs exactly 16). */
#define PASSWORD_SALT_BYTES 16

static const struct {
	const char *method;
	const char *prefix;
} password_methods[] = {
    {"yescrypt", "$y$"},
    {"sha512", "$6$"},
    {"bcrypt", "$2b$"},
};

const char *password_method_prefix(const char *method)
{
	for (size_t i = 0;
	     i < sizeof(password_methods) / sizeof(password_methods[0]); i++)
		if (strcmp(method, password_methods[i].method) == 0)
			return password_methods[i].prefix;
	return NULL;
}

/* Fill p with len random bytes; -1 on failure. */
static int password_random(unsigned char *p, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = getrandom(p + got, len - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

/* Is a password acceptable input to crypt at all? */
static bool password_input_ok(const char *password, size_t len)
{
	return len > 0 && len <= PASSWORD_MAX && str_no_nul(password, len);
}

/* crypt_r of a NUL-terminated copy of password; the copy is wiped. The
 * result (NULL or a failure token starting with '*') lives in data. */
static const char *password_crypt(const char *password, size_t len,
                                  const char *setting, struct crypt_data *data)
{
	char *copy = mem_memdup(password, len);
	const char *out = crypt_r(copy, setting, data);

	explicit_bzero(copy, len);
	mem_free(copy);
	if (out == NULL || *out == '*' || *out == 0)
		return NULL;
	return out;
}

int password_hash(const char *method, const char *password, size_t len,
                  struct buf *out, struct buf *err)
{
	const char *prefix = password_method_prefix(method);
	unsigned char rnd[PASSWORD_SALT_BYTES];
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data;
	const char *hash;
	int ret = -1;

	if (prefix == NULL) {
		buf_sprintf(err,
		            "password_hash_method: unknown method '%s' (use "
		            "yescrypt, sha512 or bcrypt)",
		            method);
		return -1;
	}
	if (!password_input_ok(password, len)) {
		buf_sprintf(err,
		            "password is empty, longer than %d bytes or "
		            "holds a NUL byte",
		            PASSWORD_MAX);
		return -1;
	}
	if (password_random(rnd, sizeof(rnd)) < 0) {
		buf_sprintf(err, "getrandom: %s", strerror(errno));
		return -1;
	}
	if (crypt_gensalt_rn(prefix, 0, (const char *)rnd, sizeof(rnd), setting,
	                     sizeof(setting)) == NULL) {
		buf_sprintf(err, "crypt_gensalt %s: %s", prefix,
		            strerror(errno));
		explicit_bzero(rnd, sizeof(rnd));
		return -1;
	}
	explicit_bzero(rnd, sizeof(rnd));
	data = mem_zalloc(sizeof(*data));
	hash = password_crypt(password, len, setting, data);
	if (hash == NULL || !password_hash_usable(hash))
		buf_sprintf(err, "crypt %s failed", prefix);
	else if (buf_set_str(out, hash) < 0)
		buf_set_str(err, "password hash too long");
	else
		ret = 0;
	explicit_bzero(data, sizeof(*data));
	mem_free(data);
	return ret;
}

bool password_hash_usable(const char *hash)
{
	if (hash == NULL || hash[0] != '$' || strlen(hash) >= CRYPT_OUTPUT_SIZE)
		return false;
	/* The crypt alphabet, '$' between fields, and '=' ',' for
	 * parameters such as "rounds=5000". */
	return strspn(hash, "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                    "abcdefghijklmnopqrstuvwxyz$=,") == strlen(hash);
}

bool password_verify(const char *hash, const char *password, size_t len)
{
	struct crypt_data *data;
	const char *out;
	bool ok = false;

	if (!password_hash_usable(hash) || !password_input_ok(password, len))
		return false;
	data = mem_zalloc(sizeof(*data));
	out = password_crypt(password, len, hash, data);
	if (out != NULL) {
		size_t hlen = strlen(hash);
		ok = strlen(out) == hlen &&
		     str_equal_const_time(out, hash, hlen);
	}
	explicit_bzero(data, sizeof(*data));
	mem_free(data);
	return ok;
}
