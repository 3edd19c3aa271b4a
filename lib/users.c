/*
 * users.c: the users map (see users.h): lookups through the cached
 * virtual_mailbox_maps, the table value format, password checks (through
 * password.c), each user's Maildir path and its creation, and the atomic
 * replacement of the users text file together with its LMDB table.
 *
 * SECURITY: addresses come from the network (RCPT TO, AUTH, POP3/IMAP
 * login) and end up as path components below mail_root: users_maildir
 * refuses any local part or domain that could name another directory
 * ("..", '/', a leading '.', control characters, overlong names), and
 * users_maildir_create walks below mail_root with O_NOFOLLOW so that a
 * symbolic link planted in the mailstore is never followed as root.
 * Table values are trusted (built by root) but parsed strictly. Hashes
 * are never logged; copies are wiped when freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "address.h"
#include "buf.h"
#include "map.h"
#include "maps.h"
#include "mem.h"
#include "number.h"
#include "password.h"
#include "str.h"
#include "users.h"

/* Longest address users_lookup takes to the table (longer: no such user;
 * the SMTP path limit is far below). */
#define USERS_ADDRESS_MAX 1024
/* Largest quota a table value may give (1 PiB). */
#define USERS_QUOTA_MAX (1LL << 50)

/* virtual_mailbox_maps, opened on first use and kept for the process's
 * life; reopened when the parameter's value changes (a daemon serving
 * several configurations, or a test). */
static struct maps *users_maps;
static char *users_maps_spec;

void users_close(void)
{
	maps_close(&users_maps);
	mem_free(users_maps_spec);
	users_maps_spec = NULL;
}

void user_entry_free(struct user_entry *u)
{
	if (u == NULL)
		return;
	if (u->hash != NULL)
		explicit_bzero(u->hash, strlen(u->hash));
	mem_free(u->hash);
	mem_free(u->address);
	memset(u, 0, sizeof(*u));
}

/* Is there a control character (C0 or DEL; HTAB too unless tab_ok) in
 * s? */
static bool users_has_control(const char *s, size_t len, bool tab_ok)
{
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] < 0x20 && !(tab_ok && s[i] == '\t')) ||
		    s[i] == 0x7f)
			return true;
	return false;
}

/* "yes"/"no" and the other spellings main.cf booleans take. */
static int users_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

int users_parse_value(const char *address, const char *value,
                      struct user_entry *out)
{
	static const char ws[] = " \t";
	bool have_quota = false, have_enabled = false;
	struct user_entry u = {0};
	const char *p = value;
	size_t n;

	/* Fields are separated by blanks (the text file has tabs). */
	if (address == NULL || value == NULL ||
	    users_has_control(value, strlen(value), true) ||
	    users_has_control(address, strlen(address), false))
		return -1;
	u.enabled = true;
	p += strspn(p, ws);
	n = strcspn(p, ws);
	if (n == 0)
		return -1;
	u.hash = mem_strndup(p, n);
	for (p += n;; p += n) {
		char *attr, *eq;
		const char *why;
		int bad;

		p += strspn(p, ws);
		if ((n = strcspn(p, ws)) == 0)
			break;
		attr = mem_strndup(p, n);
		eq = strchr(attr, '=');
		if (eq == NULL) {
			bad = -1; /* junk without a name=value form */
		} else {
			*eq++ = 0;
			if (strcmp(attr, "quota") == 0 && !have_quota) {
				have_quota = true;
				bad = number_parse_size(eq, 0, USERS_QUOTA_MAX,
				                        &u.quota, &why);
			} else if (strcmp(attr, "enabled") == 0 &&
			           !have_enabled) {
				have_enabled = true;
				bad = users_parse_bool(eq, &u.enabled);
			} else {
				/* Unknown or repeated: a typo such as
				 * "enable=no" must not leave a user on. */
				bad = -1;
			}
		}
		mem_free(attr);
		if (bad < 0) {
			user_entry_free(&u);
			return -1;
		}
	}
	u.address = str_lower(mem_strdup(address));
	*out = u;
	return 0;
}

int users_format_value(const struct user_entry *u, struct buf *out)
{
	size_t len;

	if (u->hash == NULL || (len = strlen(u->hash)) == 0 ||
	    users_has_control(u->hash, len, false) ||
	    strchr(u->hash, ' ') != NULL)
		return -1;
	if (buf_set_str(out, u->hash) < 0 ||
	    (u->quota > 0 && buf_printf(out, " quota=%lld", u->quota) < 0) ||
	    (!u->enabled && buf_append_str(out, " enabled=no") < 0))
		return -1;
	return 0;
}

int users_lookup(struct config *c, const char *address, struct user_entry *out,
                 struct buf *err)
{
	const char *spec = config_str(c, "virtual_mailbox_maps");
	struct buf *value, *key, *myerr = NULL;
	size_t len = strlen(address);
	int ret;

	if (err == NULL)
		err = myerr = buf_create(0, 4096);
	if (users_maps == NULL || strcmp(users_maps_spec, spec) != 0) {
		users_close();
		if ((users_maps = maps_open(spec, err)) == NULL) {
			buf_destroy(&myerr);
			return -1;
		}
		users_maps_spec = mem_strdup(spec);
	}
	/* Nothing a table could hold: no such user (not a table error, which
	 * would make smtpd answer 4xx to a junk address). */
	if (len == 0 || len > USERS_ADDRESS_MAX ||
	    users_has_control(address, len, false)) {
		buf_destroy(&myerr);
		return 0;
	}
	key = buf_create(len + 1, 0);
	buf_set_str(key, address);
	str_lower(buf_data(key));
	value = buf_create(0, 0);
	ret = maps_lookup(users_maps, buf_str(key), value, err);
	if (ret == 1 &&
	    users_parse_value(buf_str(key), buf_str(value), out) < 0) {
		buf_sprintf(err, "virtual_mailbox_maps: %s: malformed entry",
		            buf_str(key));
		ret = -1;
	}
	if (buf_len(value) > 0)
		explicit_bzero(buf_data(value), buf_len(value));
	buf_destroy(&value);
	buf_destroy(&key);
	buf_destroy(&myerr);
	return ret;
}

/* A yescrypt hash (default cost) of a random password nobody knows. It is
 * checked when there is no usable hash, so that a login as an unknown,
 * disabled or locked user takes about as long as one as a real user: the
 * time of a failure does not tell which users exist. */
#define USERS_DUMMY_HASH                                                       \
	"$y$j9T$jEdVnefKCbAJ8aIw$mL4bMun6NNTbEU4OY1zxWD9RDew/6.YkxdmH/BGdmA3"

bool users_password_ok_len(const struct user_entry *u, const char *password,
                           size_t len)
{
	if (password == NULL)
		return false;
	if (u == NULL || !u->enabled || !password_hash_usable(u->hash)) {
		(void)password_verify(USERS_DUMMY_HASH, password, len);
		return false;
	}
	return password_verify(u->hash, password, len);
}

bool users_password_ok(const struct user_entry *u, const char *password)
{
	if (password == NULL)
		return false;
	return users_password_ok_len(u, password, strlen(password));
}

/* Can s (len bytes) be one path component below mail_root? */
static bool users_component_ok(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max || s[0] == '.')
		return false; /* also ".", ".." and hidden names */
	for (size_t i = 0; i < len; i++)
		if (s[i] == '/' || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* mail_root without trailing slashes: its length, 0 if unusable. */
static size_t users_mail_root(struct config *c, const char **root)
{
	size_t len;

	*root = config_str(c, "mail_root");
	len = strlen(*root);
	while (len > 1 && (*root)[len - 1] == '/')
		len--;
	return len;
}

int users_maildir(struct config *c, const char *address, struct buf *out)
{
	const char *at = strrchr(address, '@');
	const char *root;
	size_t rlen, llen, dlen;
	struct buf *path;

	if (at == NULL)
		return -1;
	llen = (size_t)(at - address);
	dlen = strlen(at + 1);
	if (!users_component_ok(address, llen, ADDRESS_LOCAL_MAX) ||
	    !users_component_ok(at + 1, dlen, ADDRESS_DOMAIN_MAX) ||
	    (rlen = users_mail_root(c, &root)) == 0)
		return -1;
	path = buf_create(0, PATH_MAX);
	if (buf_printf(path, "%.*s/%s/%.*s", (int)rlen, root, at + 1, (int)llen,
	               address) < 0) {
		buf_destroy(&path);
		return -1;
	}
	/* Lowercase the two names, not mail_root. */
	str_lower(buf_data(path) + rlen);
	buf_set_str(out, buf_str(path));
	buf_destroy(&path);
	return 0;
}

/* Open (making it if missing: mode 0700, owner uid:gid when chown) the
 * directory name below dfd, never through a symbolic link. The new fd, or
 * -1 with the reason in err. */
static int users_mkdir_at(int dfd, const char *name, const char *shown,
                          bool chown_it, uid_t uid, gid_t gid, struct buf *err)
{
	bool created = false;
	int fd;

	if (mkdirat(dfd, name, 0700) == 0)
		created = true;
	else if (errno != EEXIST) {
		buf_sprintf(err, "mkdir %s: %s", shown, strerror(errno));
		return -1;
	}
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int saved = errno;
		struct stat st;
		/* O_NOFOLLOW|O_DIRECTORY on a link fails ELOOP or ENOTDIR. */
		bool link = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		            S_ISLNK(st.st_mode);
		buf_sprintf(err, "open %s: %s", shown,
		            link ? "is a symbolic link" : strerror(saved));
		return -1;
	}
	/* Through the fd, so a swap after mkdir cannot redirect the chown. */
	if (created &&
	    (fchmod(fd, 0700) < 0 || (chown_it && fchown(fd, uid, gid) < 0) ||
	     fsync(dfd) < 0)) {
		buf_sprintf(err, "set up %s: %s", shown, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int users_maildir_create(struct config *c, const char *path, struct buf *err)
{
	static const char *const subdirs[] = {"cur", "new", "tmp"};
	const char *root;
	size_t rlen = users_mail_root(c, &root);
	bool as_root = geteuid() == 0;
	uid_t uid = 0;
	gid_t gid = 0;
	char *rest, *p, *name;
	struct buf *shown;
	int dfd, ret = -1;

	if (rlen == 0 || strncmp(path, root, rlen) != 0 ||
	    (path[rlen] != '/' && root[rlen - 1] != '/')) {
		buf_sprintf(err, "maildir %s: not below mail_root %s", path,
		            root);
		return -1;
	}
	if (as_root) {
		const char *owner = config_str(c, "vmail_owner");
		struct passwd *pw = getpwnam(owner);

		if (pw == NULL) {
			buf_sprintf(err, "vmail_owner: unknown user '%s'",
			            owner);
			return -1;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	shown = buf_create(0, PATH_MAX);
	buf_printf(shown, "%.*s", (int)rlen, root);
	dfd = open(buf_str(shown), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		buf_sprintf(err, "mail_root %s: %s", buf_str(shown),
		            strerror(errno));
		buf_destroy(&shown);
		return -1;
	}
	rest = mem_strdup(path + rlen);
	p = rest;
	while ((name = str_token(&p, "/")) != NULL) {
		int fd;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
			buf_sprintf(err, "maildir %s: '%s' in the path", path,
			            name);
			goto out;
		}
		if (buf_printf(shown, "/%s", name) < 0) {
			buf_sprintf(err, "maildir %s: path too long", path);
			goto out;
		}
		fd = users_mkdir_at(dfd, name, buf_str(shown), as_root, uid,
		                    gid, err);
		if (fd < 0)
			goto out;
		close(dfd);
		dfd = fd;
	}
	for (size_t i = 0; i < 3; i++) {
		size_t keep = buf_len(shown);
		int fd;

		buf_printf(shown, "/%s", subdirs[i]);
		fd = users_mkdir_at(dfd, subdirs[i], buf_str(shown), as_root,
		                    uid, gid, err);
		if (fd < 0)
			goto out;
		close(fd);
		buf_truncate(shown, keep);
	}
	ret = 0;
out:
	close(dfd);
	mem_free(rest);
	buf_destroy(&shown);
	return ret;
}

int users_file_perms(struct config *c, uid_t *uid, gid_t *gid, mode_t *mode,
                     struct buf *err)
{
	if (geteuid() != 0) {
		*uid = geteuid();
		*gid = getegid();
		*mode = 0600;
		return 0;
	}
	const char *owner = config_str(c, "mail_owner");
	struct passwd *pw = getpwnam(owner);

	if (pw == NULL) {
		buf_sprintf(err, "mail_owner: unknown user '%s'", owner);
		return -1;
	}
	*uid = 0;
	*gid = pw->pw_gid;
	*mode = 0640;
	return 0;
}

/* fsync the directory holding path. */
static int users_sync_dir(const char *path, struct buf *err)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash == NULL   ? mem_strdup(".")
	            : slash == path ? mem_strdup("/")
	                            : mem_strndup(path, (size_t)(slash - path));
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0 || fsync(fd) < 0) {
		buf_sprintf(err, "fsync %s: %s", dir, strerror(errno));
		ret = -1;
	}
	if (fd >= 0)
		close(fd);
	mem_free(dir);
	return ret;
}

/* Write text into a new file tmp with the given ownership and mode. */
static int users_write_new(const char *tmp, const char *text, size_t len,
                           uid_t uid, gid_t gid, mode_t mode, struct buf *err)
{
	size_t done = 0;
	int fd;

	if (unlink(tmp) < 0 && errno != ENOENT) {
		buf_sprintf(err, "unlink %s: %s", tmp, strerror(errno));
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	          0600);
	if (fd < 0) {
		buf_sprintf(err, "create %s: %s", tmp, strerror(errno));
		return -1;
	}
	if (fchmod(fd, mode) < 0 ||
	    (geteuid() == 0 && fchown(fd, uid, gid) < 0)) {
		buf_sprintf(err, "%s: set permissions: %s", tmp,
		            strerror(errno));
		goto fail;
	}
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			buf_sprintf(err, "write %s: %s", tmp,
			            n < 0 ? strerror(errno) : "short write");
			goto fail;
		}
		done += (size_t)n;
	}
	if (fsync(fd) < 0) {
		buf_sprintf(err, "fsync %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		buf_sprintf(err, "close %s: %s", tmp, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

long users_table_replace(struct config *c, const char *path, const char *text,
                         size_t len, struct buf *err)
{
	struct buf *tmp = buf_create(0, PATH_MAX), *tmp_db, *db;
	struct stat st;
	uid_t uid;
	gid_t gid;
	mode_t mode;
	long n = -1;

	if (lstat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode)) {
			buf_sprintf(err, "%s: not a regular file", path);
			buf_destroy(&tmp);
			return -1;
		}
		uid = st.st_uid;
		gid = st.st_gid;
		mode = st.st_mode & 0640;
	} else if (errno != ENOENT) {
		buf_sprintf(err, "%s: %s", path, strerror(errno));
		buf_destroy(&tmp);
		return -1;
	} else if (users_file_perms(c, &uid, &gid, &mode, err) < 0) {
		buf_destroy(&tmp);
		return -1;
	}
	tmp_db = buf_create(0, PATH_MAX);
	db = buf_create(0, PATH_MAX);
	if (buf_printf(tmp, "%s.new", path) < 0 ||
	    buf_printf(tmp_db, "%s.new.lmdb", path) < 0 ||
	    buf_printf(db, "%s.lmdb", path) < 0) {
		buf_sprintf(err, "%s: path too long", path);
		goto out;
	}
	if (users_write_new(buf_str(tmp), text, len, uid, gid, mode, err) < 0)
		goto out;
	if ((n = map_build_text(buf_str(tmp), err)) < 0) {
		unlink(buf_str(tmp));
		goto out;
	}
	/* The text first: it is the source of truth, so a crash between the
	 * renames leaves a text that the next rebuild compiles. */
	if (rename(buf_str(tmp), path) < 0 ||
	    rename(buf_str(tmp_db), buf_str(db)) < 0) {
		buf_sprintf(err, "rename into %s: %s", path, strerror(errno));
		unlink(buf_str(tmp));
		unlink(buf_str(tmp_db));
		n = -1;
		goto out;
	}
	if (users_sync_dir(path, err) < 0)
		n = -1;
out:
	buf_destroy(&tmp);
	buf_destroy(&tmp_db);
	buf_destroy(&db);
	return n;
}
