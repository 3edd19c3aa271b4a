/*
 * posthorn_user.c: `posthorn user add ADDRESS --password-stdin [--quota
 * BYTES] | del ADDRESS | list | passwd ADDRESS | disable ADDRESS | enable
 * ADDRESS` (CONTRACT.md): the users map (lib/users.h) as an administrator
 * sees it. Every edit takes an exclusive lock on DIR/users, rewrites the
 * text keeping comments, order and the other entries' lines untouched, and
 * replaces DIR/users and DIR/users.lmdb together (users_table_replace:
 * nothing changes when the new text would not compile). `add` creates the
 * user's Maildir (cur, new, tmp) owned by vmail_owner; `del` keeps it (the
 * mail stays until the administrator removes it).
 *
 * Exit codes: 0 done; 1 failed (no such user, user exists, empty or bad
 * password, file errors); 2 usage, including an ADDRESS that is not an
 * RFC 5321 mailbox or that cannot be a mailbox directory name.
 *
 * SECURITY: passwords are read from stdin only (one line, at most
 * PASSWORD_MAX bytes, echo off on a terminal), never taken from the
 * command line, never printed or logged, and wiped after hashing; `list`
 * never prints hashes. ADDRESS must parse as a mailbox and pass
 * users_maildir's path rules before it reaches the file or the mailstore.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "posthorn.h"
#include "address.h"
#include "buf.h"
#include "domain_list.h"
#include "mem.h"
#include "number.h"
#include "password.h"
#include "str.h"
#include "users.h"

#define USER_USAGE                                                             \
	"user add ADDRESS --password-stdin [--quota BYTES] | del ADDRESS | "   \
	"list | passwd ADDRESS | disable ADDRESS | enable ADDRESS"
/* The users file is read whole; a million users fit. */
#define USER_FILE_MAX ((size_t)256 << 20)
/* How often to retry the lock when another edit replaced the file. */
#define USER_LOCK_TRIES 100

/* One physical line of the users file. */
struct user_line {
	size_t off, len; /* in the text, newline included */
	long entry; /* the entry it belongs to, -1: comment or blank */
};

/* One entry (a logical line: a first line and its continuations). */
struct user_ent {
	char *key; /* lowercased address */
	char *value; /* the rest of the logical line */
	long lineno; /* of the first line */
};

/* The users file, read and split. */
struct user_file {
	char path[PATH_MAX];
	int lock_fd;
	struct buf *text;
	struct user_line *lines;
	size_t nlines;
	struct user_ent *ents;
	size_t nents;
};

static void user_file_free(struct user_file *f)
{
	for (size_t i = 0; i < f->nents; i++) {
		mem_free(f->ents[i].key);
		mem_free(f->ents[i].value);
	}
	mem_free(f->ents);
	mem_free(f->lines);
	buf_destroy(&f->text);
	if (f->lock_fd >= 0)
		close(f->lock_fd); /* drops the lock */
	f->lock_fd = -1;
}

static bool user_is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	       c == '\f';
}

/* Split the text into lines and entries as map_build_text reads it:
 * blank and '#' lines are comments (also inside an entry), a line that
 * starts with white space continues the entry before it. */
static void user_file_split(struct user_file *f)
{
	const char *t = buf_str(f->text);
	size_t len = buf_len(f->text), off = 0;
	struct buf *logical = buf_create(0, 0);
	long cur = -1;

	while (off < len) {
		const char *nl = memchr(t + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (t + off)) + 1 : len - off;
		char *line = mem_strndup(t + off, n);
		char *s = str_trim(line);
		struct user_line *l;

		f->lines =
		    mem_realloc(f->lines, (f->nlines + 1) * sizeof(*f->lines));
		l = &f->lines[f->nlines++];
		l->off = off;
		l->len = n;
		l->entry = -1;
		if (*s != 0 && *s != '#') {
			if (!user_is_space((unsigned char)t[off])) {
				struct user_ent *e;
				size_t k = 0;

				while (s[k] &&
				       !user_is_space((unsigned char)s[k]))
					k++;
				f->ents = mem_realloc(
				    f->ents, (f->nents + 1) * sizeof(*f->ents));
				e = &f->ents[f->nents];
				e->key = str_lower(mem_strndup(s, k));
				e->value = mem_strdup(str_trim(s + k));
				e->lineno = (long)f->nlines;
				cur = (long)f->nents++;
				l->entry = cur;
			} else if (cur >= 0) {
				struct user_ent *e = &f->ents[cur];

				buf_set_str(logical, e->value);
				if (buf_len(logical) > 0)
					buf_append_char(logical, ' ');
				buf_append_str(logical, s);
				mem_free(e->value);
				e->value = buf_steal(logical);
				l->entry = cur;
			}
		}
		mem_free(line);
		off += n;
	}
	buf_destroy(&logical);
}

/* Read the users file; with lock, hold an exclusive lock on it until
 * user_file_free (retrying when an edit replaced the file meanwhile). A
 * missing file reads as empty, and is created empty first when locking.
 * -1 after printing why. */
static int user_file_load(struct config *c, const char *dir, bool lock,
                          struct user_file *f)
{
	struct buf *err = buf_create(0, 4096);
	struct stat st, st2;
	int fd = -1;

	memset(f, 0, sizeof(*f));
	f->lock_fd = -1;
	if (str_format(f->path, sizeof(f->path), "%s/users", dir) < 0) {
		buf_destroy(&err);
		cli_fail("user: %s/users: path too long", dir);
		return -1;
	}
	for (int tries = 0; tries < USER_LOCK_TRIES; tries++) {
		fd = open(f->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && !lock) {
			/* Reading only: no file, no users (create nothing). */
			buf_destroy(&err);
			f->text = buf_create(0, USER_FILE_MAX);
			return 0;
		}
		if (fd < 0 && errno == ENOENT) {
			if (users_table_replace(c, f->path, "", 0, err) < 0) {
				cli_fail("user: %s", buf_str(err));
				buf_destroy(&err);
				return -1;
			}
			continue;
		}
		if (fd < 0) {
			cli_fail("user: open %s: %s", f->path, strerror(errno));
			buf_destroy(&err);
			return -1;
		}
		if (!lock)
			break;
		if (flock(fd, LOCK_EX) < 0) {
			cli_fail("user: lock %s: %s", f->path, strerror(errno));
			close(fd);
			buf_destroy(&err);
			return -1;
		}
		/* Locked: is it still the file the path names? */
		if (fstat(fd, &st) == 0 && stat(f->path, &st2) == 0 &&
		    st.st_dev == st2.st_dev && st.st_ino == st2.st_ino)
			break;
		close(fd);
		fd = -1;
	}
	buf_destroy(&err);
	if (fd < 0) {
		cli_fail("user: %s keeps changing; try again", f->path);
		return -1;
	}
	f->lock_fd = fd; /* closed (and unlocked) by user_file_free */
	f->text = buf_create(0, USER_FILE_MAX);
	for (;;) {
		char *p = buf_reserve(f->text, 65536);
		ssize_t n;

		if (p == NULL) {
			cli_fail("user: %s: larger than %zu bytes", f->path,
			         USER_FILE_MAX);
			user_file_free(f);
			return -1;
		}
		n = read(fd, p, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cli_fail("user: read %s: %s", f->path, strerror(errno));
			user_file_free(f);
			return -1;
		}
		if (n == 0)
			break;
		buf_commit(f->text, (size_t)n);
	}
	if (!str_no_nul(buf_str(f->text), buf_len(f->text))) {
		cli_fail("user: %s: holds a NUL byte", f->path);
		user_file_free(f);
		return -1;
	}
	if (!lock) {
		close(fd);
		f->lock_fd = -1;
	}
	user_file_split(f);
	return 0;
}

/* The entry of address (lowercased), or -1. */
static long user_file_find(const struct user_file *f, const char *address)
{
	for (size_t i = 0; i < f->nents; i++)
		if (strcmp(f->ents[i].key, address) == 0)
			return (long)i;
	return -1;
}

/* Replace the file with its text where entry (if >= 0) is dropped, or
 * replaced by line (if not NULL) at its first line; line is appended when
 * entry < 0. Then rebuild the table. Prints why on failure. */
static int user_file_write(struct config *c, struct user_file *f, long entry,
                           const char *line)
{
	const char *t = buf_str(f->text);
	struct buf *out = buf_create(buf_len(f->text) + 512, 0);
	struct buf *err = buf_create(0, 4096);
	bool placed = false;
	int ret = 0;

	for (size_t i = 0; i < f->nlines; i++) {
		const struct user_line *l = &f->lines[i];

		if (entry >= 0 && l->entry == entry) {
			if (line != NULL && !placed)
				buf_printf(out, "%s\n", line);
			placed = true;
			continue;
		}
		buf_append(out, t + l->off, l->len);
	}
	if (entry < 0 && line != NULL) {
		if (buf_len(out) > 0 && buf_str(out)[buf_len(out) - 1] != '\n')
			buf_append_char(out, '\n');
		buf_printf(out, "%s\n", line);
	}
	if (users_table_replace(c, f->path, buf_str(out), buf_len(out), err) <
	    0) {
		cli_fail("user: %s", buf_str(err));
		ret = -1;
	}
	/* The text holds hashes: wipe the copy. */
	explicit_bzero(buf_data(out), buf_len(out));
	buf_destroy(&out);
	buf_destroy(&err);
	return ret;
}

/* ADDRESS from the command line: an RFC 5321 mailbox (address_parse_path
 * on "<ADDRESS>"), lowercased, usable as a key in the text file and as a
 * Maildir name. -1 with the reason printed (the caller exits CLI_USAGE). */
static int user_address(struct config *c, const char *arg, struct buf *out)
{
	struct buf *path = buf_create(0, 1024), *addr = buf_create(0, 1024);
	const char *why = NULL;
	size_t consumed = 0, len = strlen(arg);
	int ret = -1;

	buf_printf(path, "<%s>", arg);
	if (len > ADDRESS_MAILBOX_MAX ||
	    address_parse_path(buf_str(path), buf_len(path), ADDRESS_ALLOW_UTF8,
	                       addr, &consumed, &why) < 0 ||
	    consumed != buf_len(path) || buf_len(addr) == 0) {
		if (why == NULL)
			why = len > ADDRESS_MAILBOX_MAX ? "address too long"
			                                : "bad address syntax";
	} else if (buf_str(addr)[0] == '"') {
		why = "quoted local parts are not supported";
	} else if (buf_str(addr)[0] == '#') {
		why = "a local part may not start with '#' in the users file";
	} else {
		str_lower(buf_data(addr));
		if (users_maildir(c, buf_str(addr), path) < 0)
			why = "not usable as a mailbox directory name";
		else
			ret = 0;
	}
	if (ret == 0)
		buf_set_str(out, buf_str(addr));
	else
		cli_usage("user: '%s': %s", arg, why);
	buf_destroy(&path);
	buf_destroy(&addr);
	return ret;
}

/* Is domain in the domain list that param names? A list that cannot be
 * read counts as a match (this check only warns). */
static bool user_domain_listed(struct config *c, const char *param,
                               const char *domain)
{
	struct buf *err = buf_create(0, 4096);
	struct domain_list *l = domain_list_from_config(c, param, err);
	bool found = l == NULL || domain_list_match(l, domain, err) != 0;

	domain_list_destroy(&l);
	buf_destroy(&err);
	return found;
}

/* Warnings for an address that this instance will not deliver to. */
static void user_check_domain(struct config *c, const char *address,
                              const char *users_path)
{
	const char *domain = strrchr(address, '@') + 1;
	struct buf *spec = buf_create(0, PATH_MAX + 8);

	if (!user_domain_listed(c, "virtual_mailbox_domains", domain) &&
	    !user_domain_listed(c, "mydestination", domain))
		fprintf(stderr,
		        "posthorn: warning: domain %s is in neither "
		        "virtual_mailbox_domains nor mydestination: mail for "
		        "%s will not reach this mailbox\n",
		        domain, address);
	buf_printf(spec, "lmdb:%s", users_path);
	if (strstr(config_str(c, "virtual_mailbox_maps"), buf_str(spec)) ==
	    NULL)
		fprintf(stderr,
		        "posthorn: warning: virtual_mailbox_maps does not name "
		        "%s: the daemons will not see this user\n",
		        buf_str(spec));
	buf_destroy(&spec);
}

/* One line of password from stdin (echo off on a terminal): no newline,
 * not empty, no NUL, at most PASSWORD_MAX bytes. -1 after printing why. */
static int user_read_password(struct buf *out)
{
	struct termios saved, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	bool too_long = false, nul = false;
	char ch;

	if (tty) {
		fprintf(stderr, "Password: ");
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	buf_reset(out);
	for (;;) {
		ssize_t n = read(STDIN_FILENO, &ch, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || ch == '\n')
			break;
		if (ch == 0)
			nul = true;
		if (buf_len(out) > PASSWORD_MAX)
			too_long = true; /* keep reading to the newline */
		else
			buf_append_char(out, ch);
	}
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
		fputc('\n', stderr);
	}
	ch = 0;
	if (buf_len(out) > 0 && buf_str(out)[buf_len(out) - 1] == '\r')
		buf_truncate(out, buf_len(out) - 1);
	if (buf_len(out) > PASSWORD_MAX)
		too_long = true;
	if (too_long || nul || buf_len(out) == 0) {
		explicit_bzero(buf_data(out), buf_len(out));
		buf_reset(out);
		cli_fail("user: %s password refused (read from stdin)",
		         too_long ? "overlong"
		         : nul    ? "NUL-containing"
		                  : "empty");
		return -1;
	}
	return 0;
}

/* Read a password from stdin and hash it with password_hash_method into
 * hash. -1 after printing why. */
static int user_new_hash(struct config *c, struct buf *hash)
{
	struct buf *pw = buf_create(0, PASSWORD_MAX + 2);
	struct buf *err = buf_create(0, 1024);
	int ret = 0;

	if (user_read_password(pw) < 0) {
		ret = -1;
	} else if (password_hash(config_str(c, "password_hash_method"),
	                         buf_str(pw), buf_len(pw), hash, err) < 0) {
		cli_fail("user: %s", buf_str(err));
		ret = -1;
	}
	explicit_bzero(buf_data(pw), buf_len(pw));
	buf_destroy(&pw);
	buf_destroy(&err);
	return ret;
}

/* "address value" for the file; -1 if the entry cannot be written. */
static int user_format_line(const struct user_entry *u, struct buf *line)
{
	struct buf *value = buf_create(0, 0);
	int ret = users_format_value(u, value);

	if (ret == 0)
		buf_sprintf(line, "%s %s", u->address, buf_str(value));
	explicit_bzero(buf_data(value), buf_len(value));
	buf_destroy(&value);
	return ret;
}

static int user_add(struct cli *cli, int argc, char **argv)
{
	const char *arg = NULL, *why;
	bool from_stdin = false;
	long long quota = 0;
	struct config *c;
	struct user_file f;
	struct user_entry u = {0};
	struct buf *addr, *hash, *line, *maildir, *err;
	int ret = CLI_FAILED;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--password-stdin") == 0) {
			from_stdin = true;
		} else if (strcmp(argv[i], "--quota") == 0 && i + 1 < argc) {
			if (number_parse_size(argv[++i], 0, 1LL << 50, &quota,
			                      &why) < 0)
				return cli_usage("user add: --quota %s: %s",
				                 argv[i], why);
		} else if (argv[i][0] == '-' || arg != NULL) {
			return cli_usage("user add ADDRESS --password-stdin "
			                 "[--quota BYTES]");
		} else {
			arg = argv[i];
		}
	}
	if (arg == NULL)
		return cli_usage("user add ADDRESS --password-stdin "
		                 "[--quota BYTES]");
	if (!from_stdin)
		return cli_usage("user add: --password-stdin is required "
		                 "(passwords are never taken from the command "
		                 "line)");
	if ((c = cli_load_config(cli)) == NULL)
		return CLI_FAILED;
	addr = buf_create(0, 1024);
	hash = buf_create(0, 1024);
	line = buf_create(0, 0);
	maildir = buf_create(0, PATH_MAX);
	err = buf_create(0, 4096);
	if (user_address(c, arg, addr) < 0) {
		ret = CLI_USAGE;
		goto out;
	}
	/* The password before the lock: a prompt must not hold up others. */
	if (user_new_hash(c, hash) < 0)
		goto out;
	if (user_file_load(c, cli_config_dir(cli), true, &f) < 0)
		goto out;
	user_check_domain(c, buf_str(addr), f.path);
	if (user_file_find(&f, buf_str(addr)) >= 0) {
		cli_fail("user add: %s: user exists (use passwd to change its "
		         "password)",
		         buf_str(addr));
		goto out_file;
	}
	/* The Maildir first: a user that exists can always get mail. */
	users_maildir(c, buf_str(addr), maildir);
	if (users_maildir_create(c, buf_str(maildir), err) < 0) {
		cli_fail("user add: %s: %s", buf_str(addr), buf_str(err));
		goto out_file;
	}
	u.address = (char *)buf_str(addr);
	u.hash = buf_data(hash);
	u.quota = quota;
	u.enabled = true;
	if (user_format_line(&u, line) < 0) {
		cli_fail("user add: %s: cannot format the entry",
		         buf_str(addr));
		goto out_file;
	}
	if (user_file_write(c, &f, -1, buf_str(line)) == 0)
		ret = CLI_OK;
out_file:
	user_file_free(&f);
out:
	explicit_bzero(buf_data(hash), buf_len(hash));
	explicit_bzero(buf_data(line), buf_len(line));
	buf_destroy(&addr);
	buf_destroy(&hash);
	buf_destroy(&line);
	buf_destroy(&maildir);
	buf_destroy(&err);
	config_destroy(&c);
	return ret;
}

/* What an edit of one existing entry does. */
enum user_edit {
	USER_EDIT_DELETE,
	USER_EDIT_PASSWD,
	USER_EDIT_DISABLE,
	USER_EDIT_ENABLE,
};

/* del, passwd, disable, enable: ADDRESS (and --password-stdin, which
 * passwd accepts and implies). */
static int user_edit(struct cli *cli, const char *verb, int argc, char **argv,
                     enum user_edit what)
{
	const char *arg = NULL;
	struct config *c;
	struct user_file f;
	struct user_entry u = {0};
	struct buf *addr, *hash, *line;
	long idx;
	int ret = CLI_FAILED;

	for (int i = 0; i < argc; i++) {
		if (what == USER_EDIT_PASSWD &&
		    strcmp(argv[i], "--password-stdin") == 0)
			continue;
		if (argv[i][0] == '-' || arg != NULL)
			return cli_usage("user %s ADDRESS", verb);
		arg = argv[i];
	}
	if (arg == NULL)
		return cli_usage("user %s ADDRESS", verb);
	if ((c = cli_load_config(cli)) == NULL)
		return CLI_FAILED;
	addr = buf_create(0, 1024);
	hash = buf_create(0, 1024);
	line = buf_create(0, 0);
	if (user_address(c, arg, addr) < 0) {
		ret = CLI_USAGE;
		goto out;
	}
	if (what == USER_EDIT_PASSWD && user_new_hash(c, hash) < 0)
		goto out;
	if (user_file_load(c, cli_config_dir(cli), true, &f) < 0)
		goto out;
	if ((idx = user_file_find(&f, buf_str(addr))) < 0) {
		cli_fail("user %s: %s: no such user", verb, buf_str(addr));
		goto out_file;
	}
	if (what == USER_EDIT_DELETE) {
		if (user_file_write(c, &f, idx, NULL) == 0)
			ret = CLI_OK;
		goto out_file;
	}
	if (users_parse_value(buf_str(addr), f.ents[idx].value, &u) < 0) {
		cli_fail("user %s: %s:%ld: %s: malformed entry; fix it by hand",
		         verb, f.path, f.ents[idx].lineno, buf_str(addr));
		goto out_file;
	}
	if (what == USER_EDIT_PASSWD) {
		explicit_bzero(u.hash, strlen(u.hash));
		mem_free(u.hash);
		u.hash = mem_strdup(buf_str(hash));
	} else {
		u.enabled = what == USER_EDIT_ENABLE;
	}
	if (user_format_line(&u, line) < 0)
		cli_fail("user %s: %s: cannot format the entry", verb,
		         buf_str(addr));
	else if (user_file_write(c, &f, idx, buf_str(line)) == 0)
		ret = CLI_OK;
out_file:
	user_file_free(&f);
out:
	user_entry_free(&u);
	explicit_bzero(buf_data(hash), buf_len(hash));
	explicit_bzero(buf_data(line), buf_len(line));
	buf_destroy(&addr);
	buf_destroy(&hash);
	buf_destroy(&line);
	config_destroy(&c);
	return ret;
}

/* list: "ADDRESS quota=N enabled=yes|no" per user, in file order; never a
 * hash. A malformed entry is named on stderr and makes the exit code 1. */
static int user_list(struct cli *cli, int argc, char **argv)
{
	struct config *c;
	struct user_file f;
	int ret = CLI_OK;

	if (argc != 0)
		return cli_usage("user list");
	if ((c = cli_load_config(cli)) == NULL)
		return CLI_FAILED;
	if (user_file_load(c, cli_config_dir(cli), false, &f) < 0) {
		config_destroy(&c);
		return CLI_FAILED;
	}
	for (size_t i = 0; i < f.nents; i++) {
		struct user_entry u = {0};

		if (users_parse_value(f.ents[i].key, f.ents[i].value, &u) < 0) {
			ret = cli_fail("user list: %s:%ld: %s: malformed entry",
			               f.path, f.ents[i].lineno, f.ents[i].key);
			continue;
		}
		printf("%s quota=%lld enabled=%s\n", u.address, u.quota,
		       u.enabled ? "yes" : "no");
		user_entry_free(&u);
	}
	explicit_bzero(buf_data(f.text), buf_len(f.text));
	user_file_free(&f);
	config_destroy(&c);
	if (fflush(stdout) != 0)
		return cli_fail("user list: write: %s", strerror(errno));
	return ret;
}

int cli_user(struct cli *cli, int argc, char **argv)
{
	static const struct {
		const char *name;
		enum user_edit what;
	} edits[] = {
	    {"del", USER_EDIT_DELETE},
	    {"passwd", USER_EDIT_PASSWD},
	    {"disable", USER_EDIT_DISABLE},
	    {"enable", USER_EDIT_ENABLE},
	};

	if (argc < 2)
		return cli_usage("%s", USER_USAGE);
	if (strcmp(argv[1], "add") == 0)
		return user_add(cli, argc - 2, argv + 2);
	if (strcmp(argv[1], "list") == 0)
		return user_list(cli, argc - 2, argv + 2);
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++)
		if (strcmp(argv[1], edits[i].name) == 0)
			return user_edit(cli, edits[i].name, argc - 2, argv + 2,
			                 edits[i].what);
	return cli_usage("%s", USER_USAGE);
}
