/* check_tls.c: unit tests for lib/tls.c and lib/tls_cert.c: Postfix
 * protocol syntax (with hostile strings), a handshake and line I/O over a
 * socketpair with a certificate made here through the OpenSSL API, the
 * TLS 1.2 floor refusing a TLS 1.1 client, the handshake deadline on a
 * stalled peer, chain trust and name checks after a client handshake
 * (CAfile given or not), RFC 6125 name matching through tls_cert_match
 * (SAN, wildcards, ".domain", CN fallback), the ticket key file
 * (create, read, refusals) and tls_check_pair (expired, not yet valid,
 * foreign key, unreadable). The client side runs in a thread. */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include "buf.h"
#include "stream.h"
#include "tls.h"

static char cert_path[64], key_path[64];

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A self-signed P-256 certificate and key in two temporary files. */
static void make_cert(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	FILE *f;
	int fd;

	ck_assert_ptr_nonnull(key);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(X509_set_version(x, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                           (const unsigned char *)"test.example", -1,
	                           -1, 0);
	X509_set_issuer_name(x, name);
	ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);

	snprintf(cert_path, sizeof(cert_path), "/tmp/check_tls_cert.XXXXXX");
	snprintf(key_path, sizeof(key_path), "/tmp/check_tls_key.XXXXXX");
	fd = mkstemp(cert_path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_int_eq(PEM_write_X509(f, x), 1);
	fclose(f);
	fd = mkstemp(key_path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_int_eq(
	    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(key);
}

static void setup(void)
{
	/* As in the daemons (lib/server_common.c): OpenSSL writes with
	 * write(2), a vanished peer must be EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	make_cert();
}

static void teardown(void)
{
	unlink(cert_path);
	unlink(key_path);
}

static struct tls_ctx *server_ctx(const char *protocols)
{
	struct tls_server_params p = {.cert_file = cert_path,
	                              .key_file = key_path,
	                              .protocols = protocols};
	struct buf *err = buf_create(64, 1024);
	struct tls_ctx *c = tls_server_create(&p, err);

	ck_assert_msg(c != NULL, "tls_server_create: %s", buf_str(err));
	buf_destroy(&err);
	return c;
}

/* Protocol syntax. */
static const struct {
	const char *spec;
	int ok, min, max;
} proto_cases[] = {
    {">=TLSv1.2", 0, TLS1_2_VERSION, TLS1_3_VERSION},
    {"!SSLv2, !SSLv3, !TLSv1, !TLSv1.1", 0, TLS1_2_VERSION, TLS1_3_VERSION},
    {"!SSLv2:!SSLv3", 0, TLS1_2_VERSION, TLS1_3_VERSION},
    {"", 0, TLS1_2_VERSION, TLS1_3_VERSION},
    {"TLSv1.3", 0, TLS1_3_VERSION, TLS1_3_VERSION},
    {"<=TLSv1.2", 0, TLS1_2_VERSION, TLS1_2_VERSION},
    {">=TLSv1", 0, TLS1_VERSION, TLS1_3_VERSION},
    {">=tlsv1.3", 0, TLS1_3_VERSION, TLS1_3_VERSION},
    {"TLSv1.2 TLSv1.3", 0, TLS1_2_VERSION, TLS1_3_VERSION},
    {"!TLSv1.2, !TLSv1.3", -1, 0, 0},
    {"SSLv2", -1, 0, 0},
    {"TLSv9", -1, 0, 0},
    {"!", -1, 0, 0},
    {">=", -1, 0, 0},
    {"TLSv1.2\x01", -1, 0, 0},
};

START_TEST(test_protocols)
{
	struct buf *err = buf_create(64, 1024);
	int min = 7, max = 7;
	int r = tls_protocols_parse(proto_cases[_i].spec, &min, &max, err);

	ck_assert_msg(r == proto_cases[_i].ok, "%s: %d (%s)",
	              proto_cases[_i].spec, r, buf_str(err));
	if (r == 0) {
		ck_assert_int_eq(min, proto_cases[_i].min);
		ck_assert_int_eq(max, proto_cases[_i].max);
	} else {
		ck_assert_int_eq(min, 7);
		ck_assert_int_gt(buf_len(err), 0);
	}
	buf_destroy(&err);
}
END_TEST

/* Client thread: our own client over the stream API. */
static void *client_echo(void *arg)
{
	int fd = *(int *)arg;
	struct buf *err = buf_create(64, 1024);
	struct buf *line = buf_create(64, 1024);
	struct tls_client_params cp = {">=TLSv1.2", NULL, NULL};
	struct tls_client_opts o = {"test.example", NULL};
	struct tls_ctx *c = tls_client_create(&cp, err);
	struct stream *s = stream_open(fd);
	long ok = 0;

	stream_set_timeouts(s, 5000, 5000);
	if (c && tls_client_start(c, s, &o, 5000, err) == 0 && tls_active(s) &&
	    stream_puts(s, "hello\r\n") == 0 && stream_flush(s) == 0 &&
	    stream_read_line(s, line, 100, NULL) == STREAM_OK &&
	    strcmp(buf_str(line), "world") == 0)
		ok = 1;
	stream_close(&s);
	tls_ctx_destroy(&c);
	buf_destroy(&err);
	buf_destroy(&line);
	return (void *)ok;
}

START_TEST(test_handshake)
{
	int sv[2];
	pthread_t t;
	void *ok = NULL;
	struct tls_ctx *c = server_ctx(">=TLSv1.2");
	struct buf *err = buf_create(64, 1024);
	struct buf *line = buf_create(64, 1024);
	struct stream *s;
	int alg = 0;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s = stream_open(sv[0]);
	stream_set_timeouts(s, 5000, 5000);
	ck_assert(!tls_active(s));
	ck_assert_int_eq(pthread_create(&t, NULL, client_echo, &sv[1]), 0);
	ck_assert_msg(tls_server_start(c, s, 5000, err) == 0, "%s",
	              buf_str(err));
	ck_assert(tls_active(s));
	ck_assert_str_eq(tls_protocol(s), "TLSv1.3");
	ck_assert_int_ge(tls_cipher_bits(s, &alg), 128);
	ck_assert_int_ge(alg, 128);
	ck_assert_int_eq(stream_read_line(s, line, 100, NULL), STREAM_OK);
	ck_assert_str_eq(buf_str(line), "hello");
	ck_assert_int_eq(stream_puts(s, "world\r\n"), 0);
	ck_assert_int_eq(stream_flush(s), 0);
	/* The client closes: EOF, not an error. */
	ck_assert_int_eq(stream_read_line(s, line, 100, NULL), STREAM_EOF);
	pthread_join(t, &ok);
	ck_assert_ptr_eq(ok, (void *)1);
	stream_close(&s);
	tls_ctx_destroy(&c);
	ck_assert_ptr_null(c);
	buf_destroy(&err);
	buf_destroy(&line);
}
END_TEST

/* Client thread: a TLS 1.1-only OpenSSL client that would accept it. */
static void *client_tls11(void *arg)
{
	int fd = *(int *)arg;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;
	long ok;

	SSL_CTX_set_security_level(ctx, 0);
	SSL_CTX_set_min_proto_version(ctx, TLS1_1_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_1_VERSION);
	SSL_CTX_set_cipher_list(ctx, "DEFAULT@SECLEVEL=0");
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	ok = SSL_connect(ssl) == 1;
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return (void *)ok;
}

START_TEST(test_floor_refuses_tls11)
{
	int sv[2];
	pthread_t t;
	void *ok = (void *)1;
	struct tls_ctx *c = server_ctx("!SSLv2, !SSLv3, !TLSv1, !TLSv1.1");
	struct buf *err = buf_create(64, 1024);
	struct stream *s;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s = stream_open(sv[0]);
	ck_assert_int_eq(pthread_create(&t, NULL, client_tls11, &sv[1]), 0);
	ck_assert_int_eq(tls_server_start(c, s, 5000, err), -1);
	ck_assert(!tls_active(s));
	ck_assert_int_gt(buf_len(err), 0);
	pthread_join(t, &ok);
	ck_assert_ptr_eq(ok, NULL);
	stream_close(&s);
	tls_ctx_destroy(&c);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_handshake_deadline)
{
	int sv[2];
	struct tls_ctx *c = server_ctx(">=TLSv1.2");
	struct buf *err = buf_create(64, 1024);
	struct stream *s;
	long long t0;

	/* The peer connects and says nothing. */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(write(sv[1], "\x16\x03\x01", 3), 3);
	s = stream_open(sv[0]);
	t0 = now_ms();
	ck_assert_int_eq(tls_server_start(c, s, 300, err), -1);
	ck_assert_int_ge(now_ms() - t0, 250);
	ck_assert_int_lt(now_ms() - t0, 3000);
	ck_assert_str_eq(buf_str(err), "handshake timeout");
	stream_close(&s);
	close(sv[1]);
	tls_ctx_destroy(&c);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_bad_files)
{
	struct tls_server_params p = {.cert_file = "/nonexistent/cert.pem",
	                              .key_file = ""};
	struct buf *err = buf_create(64, 1024);

	p.protocols = ">=TLSv1.2";
	ck_assert_ptr_null(tls_server_create(&p, err));
	ck_assert_int_gt(buf_len(err), 0);
	buf_reset(err);
	p.cert_file = "";
	ck_assert_ptr_null(tls_server_create(&p, err));
	buf_reset(err);
	/* A key that does not belong to the certificate. */
	p.cert_file = cert_path;
	p.key_file = cert_path;
	ck_assert_ptr_null(tls_server_create(&p, err));
	buf_reset(err);
	p.key_file = key_path;
	p.protocols = "TLSv7";
	ck_assert_ptr_null(tls_server_create(&p, err));
	buf_destroy(&err);
}
END_TEST

/* A certificate with the given SANs (NULL: none), CN, validity offsets
 * (seconds from now), self-signed with a fresh P-256 key unless signer
 * is given, written to path; the key to key_path when not NULL. */
static void write_cert(const char *path, const char *key_out, const char *cn,
                       const char *san, long from, long to)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	FILE *f;

	ck_assert_ptr_nonnull(key);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), from);
	X509_gmtime_adj(X509_getm_notAfter(x), to);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                           (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	if (san) {
		X509V3_CTX v3;
		X509_EXTENSION *ext;

		X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
		ck_assert_ptr_nonnull(ext);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	PEM_write_X509(f, x);
	fclose(f);
	if (key_out) {
		f = fopen(key_out, "w");
		ck_assert_ptr_nonnull(f);
		PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
		fclose(f);
	}
	X509_free(x);
	EVP_PKEY_free(key);
}

/* RFC 6125 matching through OpenSSL: name, expected result. */
static const struct {
	const char *name;
	int match;
} name_cases[] = {
    {"mx.example.com", 1}, {"MX.Example.COM", 1},      {"a.wild.test", 1},
    {"b.a.wild.test", 0},  {"wild.test", 0},           {".example.com", 1},
    {".wild.test", 1},     {"example.com", 0},         {"cn-only.test", 0},
    {"evil.com", 0},       {"mx.example.com.evil", 0}, {"xmx.example.com", 0},
};

START_TEST(test_name_match)
{
	char path[] = "/tmp/check_tls_san.XXXXXX";
	int fd = mkstemp(path);
	struct buf *err = buf_create(64, 1024);
	struct tls_cert *c;
	char *names[1];

	ck_assert_int_ge(fd, 0);
	close(fd);
	write_cert(path, NULL, "cn-only.test",
	           "DNS:mx.example.com, DNS:*.wild.test", 0, 3600);
	c = tls_cert_load(path, err);
	ck_assert_msg(c != NULL, "%s", buf_str(err));
	names[0] = (char *)name_cases[_i].name;
	ck_assert_msg((tls_cert_match(c, names, 1) == 0) ==
	                  name_cases[_i].match,
	              "%s", name_cases[_i].name);
	tls_cert_destroy(&c);
	ck_assert_ptr_null(c);
	unlink(path);
	buf_destroy(&err);
}
END_TEST

/* Without DNS SANs the CN counts (RFC 6125 6.4.4); the index is the
 * first matching name. */
START_TEST(test_name_match_cn)
{
	char path[] = "/tmp/check_tls_cn.XXXXXX";
	int fd = mkstemp(path);
	struct buf *err = buf_create(64, 1024);
	struct tls_cert *c;
	char *names[] = {"no.test", "", "cn-only.test", "cn-only.test"};

	ck_assert_int_ge(fd, 0);
	close(fd);
	write_cert(path, NULL, "cn-only.test", NULL, 0, 3600);
	c = tls_cert_load(path, err);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(tls_cert_match(c, names, 4), 2);
	ck_assert_int_eq(tls_cert_match(c, names, 2), -1);
	ck_assert_int_eq(tls_cert_match(c, names, 0), -1);
	tls_cert_destroy(&c);
	unlink(path);
	ck_assert_ptr_null(tls_cert_load("/nonexistent/x.pem", err));
	ck_assert_int_gt(buf_len(err), 0);
	buf_destroy(&err);
}
END_TEST

/* Client thread: with or without the server's cert as trust anchor,
 * reports trusted (bit 0) and name match of test.example (bit 1). */
struct trust_arg {
	int fd;
	const char *cafile;
	long result;
};

static void *client_trust(void *arg)
{
	struct trust_arg *a = arg;
	struct buf *err = buf_create(64, 1024);
	struct tls_client_params cp = {">=TLSv1.2", a->cafile, NULL};
	struct tls_client_opts o = {"test.example", "TLSv1.2"};
	struct tls_ctx *c = tls_client_create(&cp, err);
	struct stream *s = stream_open(a->fd);
	char *good[] = {"other.example", "test.example"};
	char *bad[] = {"other.example"};

	a->result = -1;
	if (c && tls_client_start(c, s, &o, 5000, err) == 0) {
		a->result = 0;
		if (tls_peer_trusted(s, err))
			a->result |= 1;
		if (tls_peer_match(s, good, 2) == 1 &&
		    tls_peer_match(s, bad, 1) == -1)
			a->result |= 2;
		/* The per-connection protocol list took. */
		if (strcmp(tls_protocol(s), "TLSv1.2") == 0)
			a->result |= 4;
	}
	stream_close(&s);
	tls_ctx_destroy(&c);
	buf_destroy(&err);
	return NULL;
}

static long trust_run(const char *cafile)
{
	int sv[2];
	pthread_t t;
	struct tls_ctx *c = server_ctx(">=TLSv1.2");
	struct buf *err = buf_create(64, 1024);
	struct trust_arg a;
	struct stream *s;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	a.fd = sv[1];
	a.cafile = cafile;
	s = stream_open(sv[0]);
	ck_assert_int_eq(pthread_create(&t, NULL, client_trust, &a), 0);
	ck_assert_msg(tls_server_start(c, s, 5000, err) == 0, "%s",
	              buf_str(err));
	pthread_join(t, NULL);
	stream_close(&s);
	tls_ctx_destroy(&c);
	buf_destroy(&err);
	return a.result;
}

START_TEST(test_peer_trust)
{
	/* Untrusted without anchors; the name still matches. */
	ck_assert_int_eq(trust_run(NULL), 2 | 4);
	/* The self-signed cert as its own anchor: trusted. */
	ck_assert_int_eq(trust_run(cert_path), 1 | 2 | 4);
}
END_TEST

START_TEST(test_bad_cafile)
{
	struct buf *err = buf_create(64, 1024);
	struct tls_client_params cp = {">=TLSv1.2", "/nonexistent/ca.pem",
	                               NULL};

	ck_assert_ptr_null(tls_client_create(&cp, err));
	ck_assert_int_gt(buf_len(err), 0);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_ticket_key)
{
	char dir[] = "/tmp/check_tls_tk.XXXXXX";
	char path[128], link_path[128];
	unsigned char a[TLS_TICKET_KEY_LEN], b[TLS_TICKET_KEY_LEN];
	struct buf *err = buf_create(64, 1024);
	struct stat st;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/key", dir);
	snprintf(link_path, sizeof(link_path), "%s/link", dir);
	ck_assert_int_eq(tls_ticket_key_create(path, err), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(st.st_size, TLS_TICKET_KEY_LEN);
	ck_assert_int_eq(tls_ticket_key_read(path, a, err), 0);
	/* A second create makes a new key. */
	ck_assert_int_eq(tls_ticket_key_create(path, err), 0);
	ck_assert_int_eq(tls_ticket_key_read(path, b, err), 0);
	ck_assert(memcmp(a, b, sizeof(a)) != 0);
	/* A server context takes it. */
	{
		struct tls_server_params p = {.cert_file = cert_path,
		                              .key_file = key_path,
		                              .protocols = ">=TLSv1.2"};
		struct tls_ctx *c;

		p.ticket_key = b;
		p.ticket_lifetime = 60;
		c = tls_server_create(&p, err);
		ck_assert_msg(c != NULL, "%s", buf_str(err));
		tls_ctx_destroy(&c);
		p.ticket_lifetime = 0;
		c = tls_server_create(&p, err);
		ck_assert_ptr_nonnull(c);
		tls_ctx_destroy(&c);
	}
	/* Refused: readable by others, a symlink, the wrong size. */
	ck_assert_int_eq(chmod(path, 0640), 0);
	buf_reset(err);
	ck_assert_int_eq(tls_ticket_key_read(path, b, err), -1);
	ck_assert_int_gt(buf_len(err), 0);
	ck_assert_int_eq(chmod(path, 0600), 0);
	ck_assert_int_eq(symlink(path, link_path), 0);
	ck_assert_int_eq(tls_ticket_key_read(link_path, b, err), -1);
	f = fopen(path, "a");
	fputc('x', f);
	fclose(f);
	ck_assert_int_eq(tls_ticket_key_read(path, b, err), -1);
	ck_assert_int_eq(tls_ticket_key_read("/nonexistent/k", b, err), -1);
	unlink(link_path);
	unlink(path);
	rmdir(dir);
	buf_destroy(&err);
}
END_TEST

START_TEST(test_check_pair)
{
	char c1[] = "/tmp/check_tls_c1.XXXXXX",
	     k1[] = "/tmp/check_tls_k1.XXXXXX";
	char c2[] = "/tmp/check_tls_c2.XXXXXX",
	     k2[] = "/tmp/check_tls_k2.XXXXXX";
	struct buf *r = buf_create(64, 8192);
	long long now = (long long)time(NULL);

	close(mkstemp(c1));
	close(mkstemp(k1));
	close(mkstemp(c2));
	close(mkstemp(k2));
	write_cert(c1, k1, "ok.test", "DNS:ok.test", -60, 3600);
	write_cert(c2, k2, "old.test", NULL, -7200, -3600);
	ck_assert_int_eq(tls_check_pair("x", c1, k1, now, r), 0);
	ck_assert_int_eq(buf_len(r), 0);
	/* The key in the cert file's place when key_file is empty fails:
	 * no key there. */
	ck_assert_int_eq(tls_check_pair("x", c1, "", now, r), 1);
	buf_reset(r);
	ck_assert_int_eq(tls_check_pair("x", c2, k2, now, r), 1);
	ck_assert_ptr_nonnull(strstr(buf_str(r), "has expired"));
	buf_reset(r);
	ck_assert_int_eq(tls_check_pair("x", c1, k1, now - 86400, r), 1);
	ck_assert_ptr_nonnull(strstr(buf_str(r), "not yet valid"));
	buf_reset(r);
	ck_assert_int_eq(tls_check_pair("x", c1, k2, now, r), 1);
	ck_assert_ptr_nonnull(strstr(buf_str(r), "does not match"));
	buf_reset(r);
	ck_assert_int_eq(tls_check_pair("x", c2, k1, now, r), 2);
	buf_reset(r);
	ck_assert_int_eq(tls_check_pair("x", "/nonexistent/c", k1, now, r), 1);
	ck_assert_ptr_nonnull(strstr(buf_str(r), "cannot read certificate"));
	buf_reset(r);
	ck_assert_int_eq(tls_check_pair("x", c1, "/nonexistent/k", now, r), 1);
	ck_assert_ptr_nonnull(strstr(buf_str(r), "cannot read key"));
	unlink(c1);
	unlink(k1);
	unlink(c2);
	unlink(k2);
	buf_destroy(&r);
}
END_TEST

Suite *tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("tls");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_protocols, 0,
	                    sizeof(proto_cases) / sizeof(proto_cases[0]));
	tcase_add_test(tc, test_handshake);
	tcase_add_test(tc, test_floor_refuses_tls11);
	tcase_add_test(tc, test_handshake_deadline);
	tcase_add_test(tc, test_bad_files);
	tcase_add_loop_test(tc, test_name_match, 0,
	                    sizeof(name_cases) / sizeof(name_cases[0]));
	tcase_add_test(tc, test_name_match_cn);
	tcase_add_test(tc, test_peer_trust);
	tcase_add_test(tc, test_bad_cafile);
	tcase_add_test(tc, test_ticket_key);
	tcase_add_test(tc, test_check_pair);
	suite_add_tcase(s, tc);
	return s;
}
