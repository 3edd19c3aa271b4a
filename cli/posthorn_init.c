/*
 * posthorn_init.c: `posthorn init DIR`: creates a self-contained instance
 * (CONTRACT.md: Instances): main.cf and master.cf with absolute paths,
 * aliases, users, a fresh self-signed TLS certificate and key made with the
 * OpenSSL API, queue/, mail/DOMAIN/, log/maillog, and users with its
 * empty users.lmdb (virtual_mailbox_maps). Run as root it creates
 * the system users (mail_owner, vmail) and the postdrop group if missing
 * and gives directories to them; run as anyone else the instance runs as
 * that user.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "posthorn.h"
#include "aliases.h"
#include "buf.h"
#include "number.h"
#include "queue_layout.h"
#include "str.h"
#include "users.h"

#define INIT_MAIL_OWNER "posthorn"
#define INIT_VMAIL_OWNER "vmail"
#define INIT_SETGID_GROUP "postdrop"

struct init_options {
	char dir[PATH_MAX];
	long long port_base;
	const char *hostname;
	const char *domain;
	const char *mail_owner;
	const char *vmail_owner;
};

/* Write a whole file via a temporary name, fsync, rename. */
static int init_write_file(const char *path, const char *text, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t len = strlen(text);
	int fd;

	if (str_format(tmp, sizeof(tmp), "%s.tmp", path) < 0)
		return cli_fail("init: %s: path too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return cli_fail("init: open %s: %s", tmp, strerror(errno));
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
		close(fd);
		unlink(tmp);
		return cli_fail("init: write %s: %s", tmp, strerror(errno));
	}
	close(fd);
	if (chmod(tmp, mode) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return cli_fail("init: rename %s: %s", path, strerror(errno));
	}
	return 0;
}

static int init_mkdir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) != 0 && errno != EEXIST)
		return cli_fail("init: mkdir %s: %s", path, strerror(errno));
	if (chmod(path, mode) != 0)
		return cli_fail("init: chmod %s: %s", path, strerror(errno));
	return 0;
}

/* Run a command without a shell (never pass anything through sh). */
static int init_run(char *const argv[])
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0) {
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* As root: the system group and users that the instance runs as. */
static int init_system_accounts(void)
{
	if (getgrnam(INIT_SETGID_GROUP) == NULL) {
		char *argv[] = {"groupadd", "--system", INIT_SETGID_GROUP,
		                NULL};
		if (init_run(argv) < 0)
			return cli_fail("init: cannot create group %s",
			                INIT_SETGID_GROUP);
	}
	const char *users[] = {INIT_MAIL_OWNER, INIT_VMAIL_OWNER};
	for (size_t i = 0; i < 2; i++) {
		if (getpwnam(users[i]) != NULL)
			continue;
		char *argv[] = {"useradd",           "--system",
		                "--no-create-home",  "--home-dir",
		                "/nonexistent",      "--shell",
		                "/usr/sbin/nologin", "--user-group",
		                (char *)users[i],    NULL};
		if (init_run(argv) < 0)
			return cli_fail("init: cannot create user %s",
			                users[i]);
	}
	return 0;
}

static int init_chown(const char *path, const char *user, const char *group)
{
	struct passwd *pw = getpwnam(user);
	struct group *gr = group ? getgrnam(group) : NULL;

	if (pw == NULL)
		return cli_fail("init: unknown user %s", user);
	if (chown(path, pw->pw_uid, gr ? gr->gr_gid : pw->pw_gid) != 0)
		return cli_fail("init: chown %s: %s", path, strerror(errno));
	return 0;
}

/* A fresh self-signed RSA certificate for the instance host name. */
static int init_make_cert(const struct init_options *o)
{
	char cert_path[PATH_MAX], key_path[PATH_MAX], san[300];
	EVP_PKEY *key = NULL;
	X509 *x509 = NULL;
	X509_EXTENSION *ext = NULL;
	X509V3_CTX v3;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	FILE *fp;
	int ret = -1;

	if (str_format(cert_path, sizeof(cert_path), "%s/tls/cert.pem",
	               o->dir) < 0 ||
	    str_format(key_path, sizeof(key_path), "%s/tls/key.pem", o->dir) <
	        0 ||
	    str_format(san, sizeof(san), "DNS:%s", o->hostname) < 0)
		return cli_fail("init: path too long");
	if ((key = EVP_RSA_gen(2048)) == NULL || (x509 = X509_new()) == NULL ||
	    RAND_bytes(serial, sizeof(serial)) != 1) {
		cli_fail("init: OpenSSL key generation failed");
		goto out;
	}
	serial[0] &= 0x7f; /* a positive serial number */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	X509_set_version(x509, 2);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x509));
	X509_gmtime_adj(X509_getm_notBefore(x509), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x509), 10L * 365 * 86400);
	X509_set_pubkey(x509, key);
	X509_NAME *name = X509_get_subject_name(x509);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                           (const unsigned char *)o->hostname, -1, -1,
	                           0);
	X509_set_issuer_name(x509, name);
	X509V3_set_ctx(&v3, x509, x509, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	if (ext == NULL || !X509_add_ext(x509, ext, -1) ||
	    !X509_sign(x509, key, EVP_sha256())) {
		cli_fail("init: OpenSSL certificate signing failed");
		goto out;
	}
	int fd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (fp = fdopen(fd, "w")) == NULL) {
		cli_fail("init: open %s: %s", key_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	if (!PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL) ||
	    fclose(fp) != 0) {
		cli_fail("init: write %s failed", key_path);
		goto out;
	}
	if ((fp = fopen(cert_path, "w")) == NULL) {
		cli_fail("init: open %s: %s", cert_path, strerror(errno));
		goto out;
	}
	if (!PEM_write_X509(fp, x509) || fclose(fp) != 0) {
		cli_fail("init: write %s failed", cert_path);
		goto out;
	}
	ret = 0;
out:
	X509_EXTENSION_free(ext);
	BN_free(bn);
	X509_free(x509);
	EVP_PKEY_free(key);
	return ret;
}

static void init_main_cf(const struct init_options *o, const char *daemon_dir,
                         const char *command_dir, struct buf *out)
{
	buf_printf(out,
	           "# main.cf: posthorn instance made by `posthorn init`.\n"
	           "# Postfix parameter names; `posthorn -c %s conf -d` lists "
	           "every parameter.\n\n"
	           "# Where things are (all paths absolute).\n"
	           "config_directory = %s\n"
	           "queue_directory = %s/queue\n"
	           "daemon_directory = %s\n"
	           "command_directory = %s\n"
	           "mail_root = %s/mail\n"
	           "maillog_file = %s/log/maillog\n\n"
	           "# Who the instance runs as.\n"
	           "mail_owner = %s\n"
	           "vmail_owner = %s\n\n"
	           "# Names and domains.\n"
	           "myhostname = %s\n"
	           "mydomain = %s\n"
	           "mydestination = $myhostname, localhost.$mydomain\n"
	           "virtual_mailbox_domains = %s\n\n"
	           "# Loopback only.\n"
	           "inet_interfaces = 127.0.0.1, [::1]\n"
	           "inet_protocols = all\n"
	           "mynetworks = 127.0.0.0/8, [::1]/128\n\n"
	           "alias_maps = lmdb:%s/aliases\n"
	           "alias_database = lmdb:%s/aliases\n"
	           "# Mailbox users: `posthorn user add|del|list|passwd`.\n"
	           "virtual_mailbox_maps = lmdb:%s/users\n"
	           "smtpd_tls_cert_file = %s/tls/cert.pem\n"
	           "smtpd_tls_key_file = %s/tls/key.pem\n",
	           o->dir, o->dir, o->dir, daemon_dir, command_dir, o->dir,
	           o->dir, o->mail_owner, o->vmail_owner, o->hostname,
	           strchr(o->hostname, '.') ? strchr(o->hostname, '.') + 1
	                                    : "localdomain",
	           o->domain, o->dir, o->dir, o->dir, o->dir, o->dir);
}

static void init_master_cf(const struct init_options *o, struct buf *out)
{
	long long n = o->port_base;

	buf_printf(out,
	           "# master.cf: posthorn services (Postfix layout).\n"
	           "# Services whose program is not installed are skipped "
	           "with a warning.\n"
	           "# service type  private unpriv  chroot  wakeup  maxproc "
	           "command + args\n"
	           "%lld      inet  n       -       n       -       -       "
	           "smtpd\n"
	           "%lld      inet  n       -       n       -       -       "
	           "smtpd\n"
	           "  -o syslog_name=posthorn/submission\n"
	           "  -o smtpd_tls_security_level=encrypt\n"
	           "  -o smtpd_sasl_auth_enable=yes\n"
	           "  -o smtpd_sasl_auth_required=yes\n"
	           "  -o smtpd_client_restrictions="
	           "permit_sasl_authenticated,reject\n"
	           "  -o smtpd_sender_restrictions="
	           "reject_sender_login_mismatch\n"
	           "%lld      inet  n       -       n       -       -       "
	           "smtpd\n"
	           "  -o syslog_name=posthorn/smtps\n"
	           "  -o smtpd_tls_wrappermode=yes\n"
	           "  -o smtpd_sasl_auth_enable=yes\n"
	           "  -o smtpd_sasl_auth_required=yes\n"
	           "  -o smtpd_client_restrictions="
	           "permit_sasl_authenticated,reject\n"
	           "  -o smtpd_sender_restrictions="
	           "reject_sender_login_mismatch\n"
	           "%lld      inet  n       -       n       -       -       "
	           "pop3d\n"
	           "%lld      inet  n       -       n       -       -       "
	           "pop3d\n"
	           "%lld      inet  n       -       n       -       -       "
	           "imapd\n"
	           "%lld      inet  n       -       n       -       -       "
	           "imapd\n"
	           "pickup     unix  n       -       n       60      1       "
	           "pickup\n"
	           "cleanup    unix  n       -       n       -       0       "
	           "cleanup\n"
	           "qmgr       unix  n       -       n       300     1       "
	           "qmgr\n"
	           "bounce     unix  -       -       n       -       0       "
	           "bounce\n"
	           "anvil      unix  -       -       n       -       1       "
	           "anvil\n"
	           "smtp       unix  -       -       n       -       -       "
	           "smtp\n"
	           "local      unix  -       n       n       -       -       "
	           "local\n"
	           "virtual    unix  -       n       n       -       -       "
	           "local\n",
	           n + 25, n + 587, n + 465, n + 110, n + 995, n + 143,
	           n + 993);
}

static int init_parse_args(int argc, char **argv, struct init_options *o)
{
	static char hostname[256];
	const char *dir = NULL;
	const char *why;

	o->port_base = 10000;
	o->domain = "localhost";
	o->hostname = NULL;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(arg, "--port-base") == 0 && val) {
			if (number_parse(val, 0, 64000, &o->port_base, &why) <
			    0)
				return cli_usage("init: --port-base %s: %s",
				                 val, why);
			i++;
		} else if (strcmp(arg, "--hostname") == 0 && val) {
			o->hostname = val;
			i++;
		} else if (strcmp(arg, "--domain") == 0 && val) {
			o->domain = val;
			i++;
		} else if (arg[0] == '-' || dir != NULL) {
			return cli_usage("init DIR [--port-base N] "
			                 "[--hostname H] [--domain D]");
		} else {
			dir = arg;
		}
	}
	if (dir == NULL)
		return cli_usage("init DIR [--port-base N] [--hostname H] "
		                 "[--domain D]");
	if (o->hostname == NULL) {
		if (gethostname(hostname, sizeof(hostname) - 1) != 0)
			str_copy(hostname, sizeof(hostname), "localhost");
		o->hostname = hostname;
	}
	/* Values land in main.cf: keep them to plain host-name characters. */
	const char *names[] = {o->hostname, o->domain};
	for (int i = 0; i < 2; i++)
		if (!*names[i] || strlen(names[i]) > 253 ||
		    strspn(names[i],
		           "abcdefghijklmnopqrstuvwxyz"
		           "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
		        strlen(names[i]))
			return cli_usage("init: bad host or domain name '%s'",
			                 names[i]);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return cli_fail("init: mkdir %s: %s", dir, strerror(errno));
	if (realpath(dir, o->dir) == NULL)
		return cli_fail("init: %s: %s", dir, strerror(errno));
	return 0;
}

int cli_init(struct cli *cli, int argc, char **argv)
{
	struct init_options o = {0};
	char path[PATH_MAX], daemon_dir[PATH_MAX], command_dir[PATH_MAX];
	struct stat st;
	bool as_root = geteuid() == 0;
	int ret;

	if ((ret = init_parse_args(argc, argv, &o)) != 0)
		return ret;
	str_format(path, sizeof(path), "%s/main.cf", o.dir);
	if (stat(path, &st) == 0)
		return cli_fail("init: %s already holds an instance", o.dir);
	if (as_root) {
		if (init_system_accounts() != 0)
			return CLI_FAILED;
		o.mail_owner = INIT_MAIL_OWNER;
		o.vmail_owner = INIT_VMAIL_OWNER;
	} else {
		struct passwd *pw = getpwuid(geteuid());
		if (pw == NULL)
			return cli_fail("init: cannot find my own user name");
		static char self_name[256];
		if (str_copy(self_name, sizeof(self_name), pw->pw_name) < 0)
			return cli_fail("init: user name too long");
		o.mail_owner = o.vmail_owner = self_name;
	}
	/* The daemons live beside the command: BINDIR/../libexec. */
	if (str_format(daemon_dir, sizeof(daemon_dir), "%s/../libexec",
	               cli->self_dir ? cli->self_dir : ".") < 0 ||
	    realpath(daemon_dir, path) == NULL)
		str_format(path, sizeof(path), "%s/../libexec", cli->self_dir);
	str_copy(daemon_dir, sizeof(daemon_dir), path);
	str_copy(command_dir, sizeof(command_dir),
	         cli->self_dir ? cli->self_dir : ".");

	static const struct {
		const char *sub;
		mode_t mode;
	} dirs[] = {{"", 0755},
	            {"/tls", 0755},
	            {"/queue", 0755},
	            {"/mail", 0755},
	            {"/log", 0755}};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		str_format(path, sizeof(path), "%s%s", o.dir, dirs[i].sub);
		if (init_mkdir(path, dirs[i].mode) != 0)
			return CLI_FAILED;
	}
	str_format(path, sizeof(path), "%s/mail/%s", o.dir, o.domain);
	if (init_mkdir(path, 0750) != 0 ||
	    (as_root && init_chown(path, o.vmail_owner, NULL) != 0))
		return CLI_FAILED;
	str_format(path, sizeof(path), "%s/mail", o.dir);
	if (as_root && init_chown(path, o.vmail_owner, NULL) != 0)
		return CLI_FAILED;

	struct buf *text = buf_create(4096, 0);
	init_master_cf(&o, text);
	str_format(path, sizeof(path), "%s/master.cf", o.dir);
	if (init_write_file(path, buf_str(text), 0644) != 0)
		goto fail;
	buf_sprintf(text,
	            "# aliases: /etc/aliases format; `posthorn -c %s aliases` "
	            "rebuilds the table.\n"
	            "# name: target, target (|command, /file, :include:/path)\n"
	            "postmaster: root\n"
	            "MAILER-DAEMON: postmaster\n"
	            "abuse: postmaster\n"
	            "%s: root\n"
	            "root: postmaster@%s\n",
	            o.dir, o.mail_owner, o.domain);
	str_format(path, sizeof(path), "%s/aliases", o.dir);
	if (init_write_file(path, buf_str(text), 0644) != 0)
		goto fail;
	str_format(path, sizeof(path), "%s/log/maillog", o.dir);
	if (init_write_file(path, "", 0644) != 0)
		goto fail;
	if (init_make_cert(&o) != 0)
		goto fail;
	/* main.cf last: its presence marks a complete instance. */
	buf_reset(text);
	init_main_cf(&o, daemon_dir, command_dir, text);
	str_format(path, sizeof(path), "%s/main.cf", o.dir);
	if (init_write_file(path, buf_str(text), 0644) != 0)
		goto fail;
	/* The queue tree too, so that sendmail works before the first start. */
	struct config *cf = config_load(o.dir, text);
	if (cf == NULL || queue_layout_ensure(cf, text) < 0) {
		cli_fail("init: queue: %s", buf_str(text));
		config_destroy(&cf);
		goto fail;
	}
	/* The users file and its (empty) table, so that lookups work before
	 * the first `user add`; owner and mode per users_file_perms. */
	static const char users_text[] =
	    "# users: mailbox owners (lib/users.h); manage with `posthorn user "
	    "add|del|list|passwd`.\n"
	    "# address  password-hash  [quota=BYTES] [enabled=yes|no]\n";
	str_format(path, sizeof(path), "%s/users", o.dir);
	if (users_table_replace(cf, path, users_text, sizeof(users_text) - 1,
	                        text) < 0) {
		cli_fail("init: %s", buf_str(text));
		config_destroy(&cf);
		goto fail;
	}
	/* The alias table, so that local finds alias_maps from the start. */
	if (aliases_build_all(cf, text) < 0) {
		cli_fail("init: aliases: %s", buf_str(text));
		config_destroy(&cf);
		goto fail;
	}
	config_destroy(&cf);
	buf_destroy(&text);
	printf("posthorn: instance created in %s (smtp port %lld)\n", o.dir,
	       o.port_base + 25);
	return CLI_OK;
fail:
	buf_destroy(&text);
	return CLI_FAILED;
}
