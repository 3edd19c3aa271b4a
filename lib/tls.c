/*
 * tls.c: TLS (RFC 8446, RFC 5246) over OpenSSL 3 beneath the stream API.
 * Owns the per-process SSL_CTX (struct tls_ctx) and the per-connection
 * SSL (struct tls_conn, the stream_ops context, freed by stream_close
 * through tls_conn_close). The fd is switched to non-blocking; every
 * transport call polls on WANT_READ/WANT_WRITE against its deadline.
 * Protocol floor: TLS 1.2 unless the configuration lists older ones.
 * Server: an RSA and an optional ECDSA certificate pair in one SSL_CTX
 * (OpenSSL picks by the client's signature algorithms / cipher list),
 * session tickets (RFC 5077, RFC 8446 4.6.1) with a key shared by every
 * process of the instance, lifetime smtpd_tls_session_cache_timeout.
 * Client: trust anchors from CAfile/CApath only; the handshake completes
 * whatever the certificate, and the caller judges it afterwards with
 * tls_peer_trusted (chain) and tls_peer_match (RFC 6125 names through
 * X509_check_host, lib/tls_cert.c).
 * SECURITY: the peer is untrusted: the handshake has a deadline, record
 * sizes are OpenSSL's, read sizes are the caller's (stream limits).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "mem.h"
#include "msg.h"
#include "str.h"
#include "tls.h"
#include "tls_impl.h"

#define TLS_CONN_MAGIC 0x544c5331u

struct tls_ctx {
	SSL_CTX *ssl_ctx;
	bool server;
};

struct tls_conn {
	unsigned magic;
	SSL *ssl;
};

void tls_err(struct buf *err, const char *what)
{
	unsigned long e = ERR_get_error();
	char text[256];

	if (e != 0) {
		ERR_error_string_n(e, text, sizeof(text));
		buf_printf(err, "%s: %s", what, text);
	} else {
		buf_printf(err, "%s: %s", what,
		           errno ? strerror(errno) : "unknown error");
	}
	ERR_clear_error();
}

static const struct {
	const char *name;
	int version;
} tls_versions[] = {
    {"SSLv2", 0},
    {"SSLv3", SSL3_VERSION},
    {"TLSv1", TLS1_VERSION},
    {"TLSv1.1", TLS1_1_VERSION},
    {"TLSv1.2", TLS1_2_VERSION},
    {"TLSv1.3", TLS1_3_VERSION},
};
#define TLS_NVERSIONS (sizeof(tls_versions) / sizeof(tls_versions[0]))

static int tls_version_index(const char *name, size_t len)
{
	for (size_t i = 0; i < TLS_NVERSIONS; i++)
		if (strlen(tls_versions[i].name) == len &&
		    strncasecmp(tls_versions[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

int tls_protocols_parse(const char *spec, int *min_version, int *max_version,
                        struct buf *err)
{
	/* Plain names make the set; else ">=X" means X and up; else TLS
	 * 1.2 and up. Then "!X" and the bounds take away. */
	bool named[TLS_NVERSIONS] = {false}, off[TLS_NVERSIONS] = {false};
	bool on[TLS_NVERSIONS];
	bool listed = false;
	int floor = -1, ceil = (int)TLS_NVERSIONS - 1;
	const char *p = spec;
	int lo = -1, hi = -1;

	while (*p) {
		size_t len;
		int op = 0; /* 0 name, '!' exclude, '>' at least, '<' at most */
		int i;

		p += strspn(p, " \t,:");
		if (*p == 0)
			break;
		len = strcspn(p, " \t,:");
		if (*p == '!') {
			op = '!';
			p++, len--;
		} else if (len > 2 && (p[0] == '>' || p[0] == '<') &&
		           p[1] == '=') {
			op = p[0];
			p += 2, len -= 2;
		}
		if ((i = tls_version_index(p, len)) < 0) {
			buf_printf(err, "unknown TLS protocol \"%.*s\"",
			           (int)len, p);
			return -1;
		}
		p += len;
		switch (op) {
		case '!':
			off[i] = true;
			break;
		case '>':
			floor = i > floor ? i : floor;
			break;
		case '<':
			ceil = i < ceil ? i : ceil;
			break;
		default:
			named[i] = listed = true;
			break;
		}
	}
	for (int j = 0; j < (int)TLS_NVERSIONS; j++) {
		if (listed)
			on[j] = named[j];
		else
			on[j] = j >= (floor >= 0 ? floor : 4);
		on[j] = on[j] && !off[j] && j >= floor && j <= ceil;
	}
	/* SSLv2 is not supported by OpenSSL 3 at all. */
	on[0] = false;
	for (size_t j = 0; j < TLS_NVERSIONS; j++) {
		if (!on[j])
			continue;
		if (lo < 0)
			lo = (int)j;
		hi = (int)j;
	}
	if (lo < 0) {
		buf_printf(err, "\"%s\": no TLS protocol left", spec);
		return -1;
	}
	*min_version = tls_versions[lo].version;
	*max_version = tls_versions[hi].version;
	return 0;
}

/* Settings both sides share. */
static SSL_CTX *tls_ctx_new(const SSL_METHOD *m, const char *protocols,
                            struct buf *err)
{
	SSL_CTX *ctx;
	int min = 0, max = 0;

	if (tls_protocols_parse(protocols, &min, &max, err) < 0)
		return NULL;
	if ((ctx = SSL_CTX_new(m)) == NULL) {
		tls_err(err, "SSL_CTX_new");
		return NULL;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, min) ||
	    !SSL_CTX_set_max_proto_version(ctx, max)) {
		tls_err(err, "protocol versions");
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* Older protocols need the weaker ciphers OpenSSL hides at its
	 * default security level; only when the admin asked for them. */
	if (min < TLS1_2_VERSION)
		SSL_CTX_set_security_level(ctx, 0);
	(void)SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384");
	/* A peer closing without close_notify is EOF: SMTP has its own
	 * end of data. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	                             SSL_OP_NO_RENEGOTIATION |
	                             SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return ctx;
}

int tls_pem_read(const char *path, struct buf *out, struct buf *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	ssize_t n;

	buf_reset(out);
	if (fd < 0) {
		buf_printf(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		char *p =
		    buf_len(out) < TLS_PEM_MAX ? buf_reserve(out, 4096) : NULL;

		if (p == NULL) {
			buf_printf(err, "%s: larger than %d bytes", path,
			           TLS_PEM_MAX);
			close(fd);
			return -1;
		}
		n = read(fd, p, 4096);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf_commit(out, (size_t)n);
	}
	if (n < 0)
		buf_printf(err, "%s: %s", path, strerror(errno));
	close(fd);
	return n < 0 ? -1 : 0;
}

/* The certificate chain in pem (leaf first) into ctx's slot for its key
 * type. */
static int tls_use_chain_pem(SSL_CTX *ctx, const struct buf *pem,
                             const char *what, struct buf *err)
{
	BIO *bio = BIO_new_mem_buf(buf_str(pem), (int)buf_len(pem));
	X509 *x = bio ? PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL) : NULL;
	int ok = x != NULL && SSL_CTX_use_certificate(ctx, x) == 1 &&
	         SSL_CTX_clear_chain_certs(ctx) == 1;

	X509_free(x);
	while (ok) {
		X509 *ca = PEM_read_bio_X509(bio, NULL, NULL, NULL);

		if (ca == NULL) {
			/* The end of the file, or a real error. */
			unsigned long e = ERR_peek_last_error();

			if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
			    ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
				ERR_clear_error();
			else if (e != 0)
				ok = 0;
			break;
		}
		/* add0: the context owns ca now. */
		if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
			X509_free(ca);
			ok = 0;
		}
	}
	BIO_free(bio);
	if (!ok)
		tls_err(err, what);
	return ok ? 0 : -1;
}

static int tls_use_key_pem(SSL_CTX *ctx, const struct buf *pem,
                           const char *what, struct buf *err)
{
	BIO *bio = BIO_new_mem_buf(buf_str(pem), (int)buf_len(pem));
	EVP_PKEY *k =
	    bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	int ok = k != NULL && SSL_CTX_use_PrivateKey(ctx, k) == 1 &&
	         SSL_CTX_check_private_key(ctx) == 1;

	EVP_PKEY_free(k);
	BIO_free(bio);
	if (!ok)
		tls_err(err, what);
	return ok ? 0 : -1;
}

/* A pair from memory (tls_pem_read copies); key NULL: in cert_pem. */
static int tls_load_pair_pem(SSL_CTX *ctx, const struct buf *cert_pem,
                             const struct buf *key_pem, const char *what,
                             struct buf *err)
{
	if (key_pem == NULL || buf_len(key_pem) == 0)
		key_pem = cert_pem;
	if (tls_use_chain_pem(ctx, cert_pem, what, err) < 0 ||
	    tls_use_key_pem(ctx, key_pem, what, err) < 0)
		return -1;
	return 0;
}

/* Load one certificate chain and its key into ctx (a slot per key
 * type, so RSA and ECDSA pairs live side by side). */
static int tls_load_pair(SSL_CTX *ctx, const char *cert, const char *key,
                         struct buf *err)
{
	if (key == NULL || *key == 0)
		key = cert;
	/* The cert file may hold the chain after the leaf. */
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		tls_err(err, cert);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		tls_err(err, key);
		return -1;
	}
	return 0;
}

struct tls_ctx *tls_server_create(const struct tls_server_params *p,
                                  struct buf *err)
{
	static const unsigned char sid[] = "posthorn";
	struct tls_ctx *c;
	SSL_CTX *ctx;

	if (p->cert_pem == NULL &&
	    (p->cert_file == NULL || *p->cert_file == 0)) {
		buf_printf(err, "no certificate file configured");
		return NULL;
	}
	if ((ctx = tls_ctx_new(TLS_server_method(), p->protocols, err)) == NULL)
		return NULL;
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (p->cert_pem != NULL
	        ? (tls_load_pair_pem(ctx, p->cert_pem, p->key_pem,
	                             "certificate", err) < 0 ||
	           (p->eccert_pem && buf_len(p->eccert_pem) > 0 &&
	            tls_load_pair_pem(ctx, p->eccert_pem, p->eckey_pem,
	                              "ECDSA certificate", err) < 0))
	        : (tls_load_pair(ctx, p->cert_file, p->key_file, err) < 0 ||
	           (p->eccert_file && *p->eccert_file &&
	            tls_load_pair(ctx, p->eccert_file, p->eckey_file, err) <
	                0))) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	(void)SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
	if (p->ticket_lifetime <= 0) {
		/* No resumption: no tickets, no server-side cache. */
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		(void)SSL_CTX_set_num_tickets(ctx, 0);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	} else {
		/* Stateless tickets: any smtpd holding the same key can
		 * resume; the in-process cache is a bonus for TLS 1.2 ids. */
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
		(void)SSL_CTX_set_timeout(ctx, p->ticket_lifetime);
		if (p->ticket_key != NULL &&
		    SSL_CTX_set_tlsext_ticket_keys(ctx, (void *)p->ticket_key,
		                                   TLS_TICKET_KEY_LEN) != 1) {
			tls_err(err, "session ticket keys");
			SSL_CTX_free(ctx);
			return NULL;
		}
	}
	c = mem_zalloc(sizeof(*c));
	c->ssl_ctx = ctx;
	c->server = true;
	return c;
}

struct tls_ctx *tls_client_create(const struct tls_client_params *p,
                                  struct buf *err)
{
	const char *file = p->CAfile && *p->CAfile ? p->CAfile : NULL;
	const char *dir = p->CApath && *p->CApath ? p->CApath : NULL;
	struct tls_ctx *c;
	SSL_CTX *ctx;

	if ((ctx = tls_ctx_new(TLS_client_method(), p->protocols, err)) == NULL)
		return NULL;
	/* Verification runs and is recorded (SSL_get_verify_result) but
	 * never aborts the handshake: the security level decides. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if ((file || dir) &&
	    SSL_CTX_load_verify_locations(ctx, file, dir) != 1) {
		tls_err(err, file ? file : dir);
		SSL_CTX_free(ctx);
		return NULL;
	}
	c = mem_zalloc(sizeof(*c));
	c->ssl_ctx = ctx;
	return c;
}

void tls_library_load(void)
{
	(void)tls_dl();
}

void tls_ctx_destroy(struct tls_ctx **cp)
{
	struct tls_ctx *c = *cp;

	if (c == NULL)
		return;
	SSL_CTX_free(c->ssl_ctx);
	mem_free(c);
	*cp = NULL;
}

static long long tls_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for the event SSL asked for (ssl_error WANT_READ/WANT_WRITE) until
 * deadline (<0: forever). 0, or -1 with errno (ETIMEDOUT). */
static int tls_wait(int fd, int ssl_error, long long deadline)
{
	struct pollfd pfd;

	pfd.fd = fd;
	pfd.events = ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
	for (;;) {
		int left = -1, n;

		if (deadline >= 0) {
			long long d = deadline - tls_now_ms();

			if (d <= 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			left = d > 1000000000 ? 1000000000 : (int)d;
		}
		n = poll(&pfd, 1, left);
		if (n > 0)
			return 0;
		if (n == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

static long long tls_deadline(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : tls_now_ms() + timeout_ms;
}

static ssize_t tls_conn_read(void *ctx, int fd, void *data, size_t len,
                             int timeout_ms)
{
	struct tls_conn *t = ctx;
	long long deadline = tls_deadline(timeout_ms);

	for (;;) {
		size_t got = 0;
		int e;

		ERR_clear_error();
		if (SSL_read_ex(t->ssl, data, len, &got) == 1)
			return (ssize_t)got;
		e = SSL_get_error(t->ssl, 0);
		if (e == SSL_ERROR_ZERO_RETURN)
			return 0;
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (tls_wait(fd, e, deadline) < 0)
				return -1;
			continue;
		}
		if (e == SSL_ERROR_SYSCALL && errno == 0)
			return 0;
		ERR_clear_error();
		if (errno == 0 || e != SSL_ERROR_SYSCALL)
			errno = EPROTO;
		return -1;
	}
}

static ssize_t tls_conn_write(void *ctx, int fd, const void *data, size_t len,
                              int timeout_ms)
{
	struct tls_conn *t = ctx;
	long long deadline = tls_deadline(timeout_ms);

	for (;;) {
		size_t put = 0;
		int e;

		ERR_clear_error();
		if (SSL_write_ex(t->ssl, data, len, &put) == 1)
			return (ssize_t)put;
		e = SSL_get_error(t->ssl, 0);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (tls_wait(fd, e, deadline) < 0)
				return -1;
			continue;
		}
		ERR_clear_error();
		if (errno == 0 || e != SSL_ERROR_SYSCALL)
			errno = EPIPE;
		return -1;
	}
}

static size_t tls_conn_pending(void *ctx)
{
	struct tls_conn *t = ctx;

	return (size_t)SSL_pending(t->ssl);
}

static void tls_conn_close(void *ctx, int fd)
{
	struct tls_conn *t = ctx;

	/* Best effort close_notify: never wait for the peer's. */
	ERR_clear_error();
	(void)SSL_shutdown(t->ssl);
	ERR_clear_error();
	SSL_free(t->ssl);
	t->magic = 0;
	mem_free(t);
}

static const struct stream_ops tls_ops = {
    .read = tls_conn_read,
    .write = tls_conn_write,
    .pending = tls_conn_pending,
    .close = tls_conn_close,
};

/* RFC 6066 3: SNI carries host names, never address literals. */
static bool tls_sni_ok(const char *sni)
{
	unsigned char a[16];

	return sni && *sni && inet_pton(AF_INET, sni, a) != 1 &&
	       inet_pton(AF_INET6, sni, a) != 1;
}

static int tls_start(struct tls_ctx *c, struct stream *s,
                     const struct tls_client_opts *o, int timeout_ms,
                     struct buf *err)
{
	const char *sni = o ? o->sni : NULL;
	int fd = stream_fd(s);
	long long deadline = tls_deadline(timeout_ms);
	int flags = fcntl(fd, F_GETFL);
	struct tls_conn *t;
	SSL *ssl;

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		buf_printf(err, "fcntl: %s", strerror(errno));
		return -1;
	}
	ERR_clear_error();
	if ((ssl = SSL_new(c->ssl_ctx)) == NULL) {
		tls_err(err, "SSL_new");
		return -1;
	}
	if (SSL_set_fd(ssl, fd) != 1 ||
	    (tls_sni_ok(sni) && SSL_set_tlsext_host_name(ssl, sni) != 1)) {
		tls_err(err, "SSL_set_fd");
		SSL_free(ssl);
		return -1;
	}
	if (o && o->protocols && *o->protocols) {
		int min = 0, max = 0;

		if (tls_protocols_parse(o->protocols, &min, &max, err) < 0) {
			SSL_free(ssl);
			return -1;
		}
		if (!SSL_set_min_proto_version(ssl, min) ||
		    !SSL_set_max_proto_version(ssl, max)) {
			tls_err(err, "protocol versions");
			SSL_free(ssl);
			return -1;
		}
	}
	for (;;) {
		int r = c->server ? SSL_accept(ssl) : SSL_connect(ssl);
		int e;

		if (r == 1)
			break;
		e = SSL_get_error(ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (tls_wait(fd, e, deadline) == 0)
				continue;
			buf_printf(err, "%s",
			           errno == ETIMEDOUT ? "handshake timeout"
			                              : strerror(errno));
			SSL_free(ssl);
			return -1;
		}
		if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
			buf_printf(err, "%s",
			           errno ? strerror(errno) : "lost connection");
		else
			tls_err(err, c->server ? "SSL_accept" : "SSL_connect");
		SSL_free(ssl);
		return -1;
	}
	t = mem_zalloc(sizeof(*t));
	t->magic = TLS_CONN_MAGIC;
	t->ssl = ssl;
	stream_set_ops(s, &tls_ops, t);
	return 0;
}

int tls_server_start(struct tls_ctx *c, struct stream *s, int timeout_ms,
                     struct buf *err)
{
	if (!c->server)
		msg_panic("tls_server_start: client context");
	return tls_start(c, s, NULL, timeout_ms, err);
}

int tls_client_start(struct tls_ctx *c, struct stream *s,
                     const struct tls_client_opts *o, int timeout_ms,
                     struct buf *err)
{
	if (c->server)
		msg_panic("tls_client_start: server context");
	return tls_start(c, s, o, timeout_ms, err);
}

static SSL *tls_ssl(const struct stream *s)
{
	struct tls_conn *t = stream_ops_ctx(s);

	/* Only our own transport carries the magic. */
	if (t == NULL || t->magic != TLS_CONN_MAGIC)
		return NULL;
	return t->ssl;
}

bool tls_active(const struct stream *s)
{
	return tls_ssl(s) != NULL;
}

const char *tls_protocol(const struct stream *s)
{
	SSL *ssl = tls_ssl(s);

	return ssl ? SSL_get_version(ssl) : "none";
}

const char *tls_cipher(const struct stream *s)
{
	SSL *ssl = tls_ssl(s);

	return ssl ? SSL_get_cipher_name(ssl) : "none";
}

int tls_cipher_bits(const struct stream *s, int *alg_bits)
{
	SSL *ssl = tls_ssl(s);
	int alg = 0, bits = 0;

	if (ssl)
		bits = SSL_get_cipher_bits(ssl, &alg);
	if (alg_bits)
		*alg_bits = alg;
	return bits;
}

bool tls_session_reused(const struct stream *s)
{
	SSL *ssl = tls_ssl(s);

	return ssl != NULL && SSL_session_reused(ssl) == 1;
}

bool tls_peer_trusted(const struct stream *s, struct buf *why)
{
	SSL *ssl = tls_ssl(s);
	X509 *peer;
	long r;

	if (ssl == NULL || (peer = SSL_get0_peer_certificate(ssl)) == NULL) {
		buf_set_str(why, "no server certificate");
		return false;
	}
	r = SSL_get_verify_result(ssl);
	if (r != X509_V_OK) {
		buf_set_str(why, X509_verify_cert_error_string(r));
		return false;
	}
	return true;
}

int tls_peer_match(const struct stream *s, char *const *names, size_t n)
{
	SSL *ssl = tls_ssl(s);
	X509 *peer = ssl ? SSL_get0_peer_certificate(ssl) : NULL;

	return peer ? tls_x509_match(peer, names, n) : -1;
}

void tls_peer_cn(const struct stream *s, struct buf *subject,
                 struct buf *issuer)
{
	SSL *ssl = tls_ssl(s);
	X509 *peer = ssl ? SSL_get0_peer_certificate(ssl) : NULL;

	buf_reset(subject);
	buf_reset(issuer);
	if (peer == NULL)
		return;
	tls_x509_cn(X509_get_subject_name(peer), subject);
	tls_x509_cn(X509_get_issuer_name(peer), issuer);
}
