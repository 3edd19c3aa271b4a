/*
 * sender_login.c: sender address ownership (sender_login.h). Owns struct
 * sender_login: the smtpd_sender_login_maps and virtual_alias_maps it
 * opened (kept for the process's life). The users map is reached through
 * users.h (its own cache).
 * RFC 4954 5 (an authenticated client's MAIL FROM), RFC 5321 4.1.2
 * (addresses).
 * SECURITY: sender addresses come from the SMTP client, already parsed and
 * bounded by smtpd (RFC 5321 4.5.3.1); here they are lowercased into
 * bounded copies (longer ones own nothing) and used as lookup keys. Table
 * contents are trusted (built by the administrator); alias chains are
 * followed at most SENDER_LOGIN_DEPTH steps.
 */
#include "sender_login.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "maps.h"
#include "mem.h"
#include "str.h"
#include "users.h"

/* Longest address handled (a path is at most 256 octets). */
#define SENDER_LOGIN_KEY_MAX 600

struct sender_login {
	struct config *c;
	struct maps *login_maps; /* smtpd_sender_login_maps */
	struct maps *alias_maps; /* virtual_alias_maps (built-in rule) */
	struct buf *value;
};

struct sender_login *sender_login_create(struct config *c)
{
	struct sender_login *sl = mem_zalloc(sizeof(*sl));

	sl->c = c;
	sl->value = buf_create(256, 64 * 1024);
	return sl;
}

void sender_login_destroy(struct sender_login **sp)
{
	struct sender_login *sl = *sp;

	if (sl == NULL)
		return;
	maps_close(&sl->login_maps);
	maps_close(&sl->alias_maps);
	buf_destroy(&sl->value);
	mem_free(sl);
	*sp = NULL;
}

/* Open the maps named by param into *mp (kept). -1 with err. */
static int sender_login_open(struct sender_login *sl, const char *param,
                             struct maps **mp, struct buf *err)
{
	if (*mp != NULL)
		return 0;
	buf_reset(err);
	if ((*mp = maps_open(config_str(sl->c, param), err)) == NULL) {
		buf_printf(err, " (%s)", param);
		return -1;
	}
	return 0;
}

/* Strip a recipient_delimiter extension from the local part of addr (in
 * place, lowercased copy): "u+tag@d" -> "u@d". true when one was cut. */
static bool sender_login_strip_ext(struct sender_login *sl, char *addr)
{
	const char *delims = config_str(sl->c, "recipient_delimiter");
	char *at = strrchr(addr, '@');
	size_t llen;

	if (at == NULL || *delims == 0)
		return false;
	llen = (size_t)(at - addr);
	for (size_t i = 1; i < llen; i++) {
		if (strchr(delims, addr[i]) != NULL) {
			memmove(addr + i, at, strlen(at) + 1);
			return true;
		}
	}
	return false;
}

/* Add name (lowercased) to owners unless it is there. */
static void sender_login_add(struct buf *owners, const char *name, size_t len)
{
	const char *p = buf_str(owners);

	if (len == 0)
		return;
	while (*p) {
		size_t n = strcspn(p, " ");

		if (n == len && strncasecmp(p, name, len) == 0)
			return;
		p += n;
		while (*p == ' ')
			p++;
	}
	if (buf_len(owners) > 0)
		(void)buf_append_char(owners, ' ');
	for (size_t i = 0; i < len; i++)
		(void)buf_append_char(owners,
		                      (unsigned char)name[i] >= 'A' &&
		                              (unsigned char)name[i] <= 'Z'
		                          ? name[i] + 32
		                          : name[i]);
}

/* Add every name in a table value ("a, b c") to owners. */
static void sender_login_add_list(struct buf *owners, const char *list)
{
	const char *p = list;

	for (;;) {
		size_t n;

		p += strspn(p, ", \t");
		if (*p == 0)
			return;
		n = strcspn(p, ", \t");
		sender_login_add(owners, p, n);
		p += n;
	}
}

/* smtpd_sender_login_maps: key, key without extension, @domain. */
static int sender_login_from_maps(struct sender_login *sl, const char *key,
                                  struct buf *owners, struct buf *err)
{
	char base[SENDER_LOGIN_KEY_MAX];
	const char *at;
	int r;

	if (sender_login_open(sl, "smtpd_sender_login_maps", &sl->login_maps,
	                      err) < 0)
		return -1;
	if ((r = maps_lookup(sl->login_maps, key, sl->value, err)) != 0)
		goto done;
	(void)str_copy(base, sizeof(base), key);
	if (sender_login_strip_ext(sl, base) &&
	    (r = maps_lookup(sl->login_maps, base, sl->value, err)) != 0)
		goto done;
	if ((at = strrchr(key, '@')) != NULL && at[1] != 0)
		r = maps_lookup(sl->login_maps, at, sl->value, err);
done:
	if (r == 1)
		sender_login_add_list(owners, buf_str(sl->value));
	return r < 0 ? -1 : buf_len(owners) > 0;
}

/* Is addr (lowercased) a user in the users map? 1, 0, -1. */
static int sender_login_is_user(struct sender_login *sl, const char *addr,
                                struct buf *err)
{
	struct user_entry u;
	int r;

	memset(&u, 0, sizeof(u));
	buf_reset(err);
	r = users_lookup(sl->c, addr, &u, err);
	if (r == 1)
		user_entry_free(&u);
	return r;
}

/* The built-in rule for one address (lowercased, no extension). */
static int sender_login_builtin_one(struct sender_login *sl, const char *key,
                                    struct buf *owners, struct buf *err)
{
	char cur[SENDER_LOGIN_KEY_MAX];
	int r;

	if ((r = sender_login_is_user(sl, key, err)) != 0) {
		if (r == 1)
			sender_login_add(owners, key, strlen(key));
		return r;
	}
	if (*config_str(sl->c, "virtual_alias_maps") == 0)
		return 0;
	if (sender_login_open(sl, "virtual_alias_maps", &sl->alias_maps, err) <
	    0)
		return -1;
	(void)str_copy(cur, sizeof(cur), key);
	for (int depth = 0; depth < SENDER_LOGIN_DEPTH; depth++) {
		const char *v;
		size_t n;

		buf_reset(err);
		r = maps_lookup(sl->alias_maps, cur, sl->value, err);
		if (r <= 0)
			return r;
		/* Exactly one address in the expansion. */
		v = buf_str(sl->value);
		v += strspn(v, ", \t");
		n = strcspn(v, ", \t");
		if (n == 0 || n >= sizeof(cur) || v[n + strspn(v + n, ", \t")])
			return 0;
		memcpy(cur, v, n);
		cur[n] = 0;
		str_lower(cur);
		if (strchr(cur, '@') == NULL)
			return 0; /* a local alias name: not an address */
		if ((r = sender_login_is_user(sl, cur, err)) != 0) {
			if (r == 1)
				sender_login_add(owners, cur, strlen(cur));
			return r;
		}
	}
	return 0;
}

int sender_login_owners(struct sender_login *sl, const char *sender,
                        struct buf *owners, struct buf *err)
{
	char key[SENDER_LOGIN_KEY_MAX];
	int r;

	buf_reset(owners);
	if (sender == NULL || *sender == 0 || strlen(sender) >= sizeof(key))
		return 0;
	(void)str_copy(key, sizeof(key), sender);
	str_lower(key);
	if (*config_str(sl->c, "smtpd_sender_login_maps") != 0)
		return sender_login_from_maps(sl, key, owners, err);
	if (strchr(key, '@') == NULL)
		return 0;
	if ((r = sender_login_builtin_one(sl, key, owners, err)) != 0)
		return r;
	if (sender_login_strip_ext(sl, key))
		return sender_login_builtin_one(sl, key, owners, err);
	return 0;
}

int sender_login_owns(struct sender_login *sl, const char *sender,
                      const char *login, struct buf *err)
{
	struct buf *owners = buf_create(128, 64 * 1024);
	const char *p;
	size_t llen = strlen(login);
	int r = sender_login_owners(sl, sender, owners, err);

	if (r == 1) {
		r = 0;
		p = buf_str(owners);
		while (*p) {
			size_t n = strcspn(p, " ");

			if (n == llen && strncasecmp(p, login, n) == 0) {
				r = 1;
				break;
			}
			p += n;
			p += strspn(p, " ");
		}
	}
	buf_destroy(&owners);
	return r;
}
