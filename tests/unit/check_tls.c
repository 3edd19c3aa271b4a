/* check_tls.c: unit tests for lib/tls.c: Postfix protocol syntax (with
 * hostile strings), a handshake and line I/O over a socketpair with a
 * certificate made here through the OpenSSL API, the TLS 1.2 floor
 * refusing a TLS 1.1 client, and the handshake deadline on a stalled
 * peer. The client side runs in a thread. */
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
	struct tls_server_params p = {cert_path, key_path, protocols};
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
	struct tls_ctx *c = tls_client_create(">=TLSv1.2", err);
	struct stream *s = stream_open(fd);
	long ok = 0;

	stream_set_timeouts(s, 5000, 5000);
	if (c && tls_client_start(c, s, "test.example", 5000, err) == 0 &&
	    tls_active(s) && stream_puts(s, "hello\r\n") == 0 &&
	    stream_flush(s) == 0 &&
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
	struct tls_server_params p = {"/nonexistent/cert.pem", "", NULL};
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
	suite_add_tcase(s, tc);
	return s;
}
