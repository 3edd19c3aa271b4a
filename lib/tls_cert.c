/*
 * tls_cert.c: certificate helpers around lib/tls.c: RFC 6125 name
 * matching through OpenSSL's X509_check_host (no matching code of our
 * own), common names for log lines, certificates loaded from files (unit
 * tests), the session ticket key file that master creates and every smtpd
 * reads before dropping privileges (RFC 5077 4: the key never leaves the
 * host; mode 0600), and the `posthorn check` test of a certificate/key
 * pair (readable, valid now, key matching the certificate).
 * SECURITY: peer certificates are untrusted: names handed to the log are
 * cut to printable ASCII and a bounded length. The ticket key file is
 * refused when it is a symlink, not a regular file, the wrong size, or
 * readable by group or others.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "mem.h"
#include "tls.h"
#include "tls_impl.h"

/* Longest common name passed on to a log line. */
#define TLS_CN_MAX 256

struct tls_cert {
	X509 *x509;
};

int tls_x509_match(X509 *x, char *const *names, size_t n)
{
	/* RFC 6125 6.4.3: a wildcard only as the whole left-most label
	 * (Postfix and most MTAs: no partial wildcards). */
	unsigned flags = X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS;

	for (size_t i = 0; i < n; i++) {
		if (names[i] == NULL || *names[i] == 0)
			continue;
		if (X509_check_host(x, names[i], 0, flags, NULL) == 1)
			return (int)i;
	}
	ERR_clear_error();
	return -1;
}

void tls_x509_cn(const X509_NAME *name, struct buf *out)
{
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	const ASN1_STRING *data;
	unsigned char *utf8 = NULL;
	int len;

	if (i < 0)
		return;
	data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	if ((len = ASN1_STRING_to_UTF8(&utf8, data)) < 0) {
		ERR_clear_error();
		return;
	}
	for (int k = 0; k < len && k < TLS_CN_MAX; k++)
		buf_append_char(out, utf8[k] >= 0x20 && utf8[k] < 0x7f ? utf8[k]
		                                                       : '?');
	OPENSSL_free(utf8);
}

/* The first certificate of a PEM file, or NULL (reason in err). */
static X509 *tls_read_x509(const char *path, struct buf *err)
{
	FILE *f = fopen(path, "re");
	X509 *x;

	if (f == NULL) {
		buf_printf(err, "%s: %s", path, strerror(errno));
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		tls_err(err, path);
	return x;
}

struct tls_cert *tls_cert_load(const char *path, struct buf *err)
{
	X509 *x = tls_read_x509(path, err);
	struct tls_cert *c;

	if (x == NULL)
		return NULL;
	c = mem_zalloc(sizeof(*c));
	c->x509 = x;
	return c;
}

void tls_cert_destroy(struct tls_cert **cp)
{
	if (*cp == NULL)
		return;
	X509_free((*cp)->x509);
	mem_free(*cp);
	*cp = NULL;
}

int tls_cert_match(const struct tls_cert *c, char *const *names, size_t n)
{
	return tls_x509_match(c->x509, names, n);
}

int tls_ticket_key_create(const char *path, struct buf *err)
{
	unsigned char key[TLS_TICKET_KEY_LEN];
	char tmp[4096];
	int fd, n;

	n = snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		buf_printf(err, "%s: path too long", path);
		return -1;
	}
	/* The kernel's generator (getrandom(2)), not OpenSSL's: master and
	 * smtpd's start-up must not load OpenSSL (lib/tls_dl.h). */
	for (size_t got = 0; got < sizeof(key);) {
		ssize_t r = getrandom(key + got, sizeof(key) - got, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			buf_printf(err, "getrandom: %s", strerror(errno));
			return -1;
		}
		got += (size_t)r;
	}
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	          0600);
	if (fd < 0) {
		buf_printf(err, "%s: %s", tmp, strerror(errno));
		explicit_bzero(key, sizeof(key));
		return -1;
	}
	/* Whatever the umask: owner only. */
	if (fchmod(fd, 0600) < 0 ||
	    write(fd, key, sizeof(key)) != (ssize_t)sizeof(key) ||
	    fsync(fd) < 0) {
		buf_printf(err, "%s: %s", tmp, strerror(errno));
		close(fd);
		(void)unlink(tmp);
		explicit_bzero(key, sizeof(key));
		return -1;
	}
	explicit_bzero(key, sizeof(key));
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		buf_printf(err, "%s: %s", path, strerror(errno));
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

int tls_ticket_key_read(const char *path, unsigned char *key, struct buf *err)
{
	unsigned char tmp[TLS_TICKET_KEY_LEN];
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t got;

	if (fd < 0) {
		buf_printf(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & 077) != 0 || st.st_size != TLS_TICKET_KEY_LEN) {
		buf_printf(err,
		           "%s: not a private regular file of %d bytes "
		           "(mode 0600)",
		           path, TLS_TICKET_KEY_LEN);
		close(fd);
		return -1;
	}
	got = read(fd, tmp, sizeof(tmp));
	close(fd);
	if (got != (ssize_t)sizeof(tmp)) {
		buf_printf(err, "%s: short read", path);
		explicit_bzero(tmp, sizeof(tmp));
		return -1;
	}
	memcpy(key, tmp, sizeof(tmp));
	explicit_bzero(tmp, sizeof(tmp));
	return 0;
}

int tls_check_pair(const char *label, const char *cert_file,
                   const char *key_file, long long now, struct buf *report)
{
	struct buf *err = buf_create(128, 2048);
	time_t t = (time_t)now;
	EVP_PKEY *key = NULL;
	X509 *x;
	FILE *f;
	int problems = 0;

	if (key_file == NULL || *key_file == 0)
		key_file = cert_file;
	if ((x = tls_read_x509(cert_file, err)) == NULL) {
		buf_printf(report, "%s: cannot read certificate: %s\n", label,
		           buf_str(err));
		buf_destroy(&err);
		return 1;
	}
	if (X509_cmp_time(X509_get0_notAfter(x), &t) < 0) {
		buf_printf(report, "%s: certificate %s has expired\n", label,
		           cert_file);
		problems++;
	} else if (X509_cmp_time(X509_get0_notBefore(x), &t) > 0) {
		buf_printf(report, "%s: certificate %s is not yet valid\n",
		           label, cert_file);
		problems++;
	}
	if ((f = fopen(key_file, "re")) == NULL) {
		buf_printf(report, "%s: cannot read key %s: %s\n", label,
		           key_file, strerror(errno));
		problems++;
		goto out;
	}
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (key == NULL) {
		buf_reset(err);
		tls_err(err, key_file);
		buf_printf(report, "%s: cannot read key: %s\n", label,
		           buf_str(err));
		problems++;
	} else if (X509_check_private_key(x, key) != 1) {
		buf_printf(report, "%s: key %s does not match certificate %s\n",
		           label, key_file, cert_file);
		problems++;
	}
out:
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_free(x);
	buf_destroy(&err);
	return problems;
}
