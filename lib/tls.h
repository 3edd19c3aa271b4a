/* tls.h: TLS over OpenSSL 3 beneath the stream API (lib/stream.h): one
 * server or client context per process, built before the privilege drop;
 * a handshake with a deadline that installs a struct stream_ops so the
 * daemons keep reading lines the same way. */
#ifndef POSTHORN_TLS_H
#define POSTHORN_TLS_H

#include <stdbool.h>

#include "buf.h"
#include "stream.h"

struct tls_ctx;

/* Server context settings (Postfix parameter names in comments). */
struct tls_server_params {
	const char *cert_file; /* smtpd_tls_cert_file: cert, then chain */
	const char *key_file; /* smtpd_tls_key_file ("": cert_file) */
	const char *protocols; /* smtpd_tls_protocols syntax */
};

/* Parse Postfix protocol syntax (">=TLSv1.2", "!SSLv2, !TLSv1") into
 * OpenSSL min/max versions (never below TLS 1.2 unless listed). -1 with
 * the reason in err. */
int tls_protocols_parse(const char *spec, int *min_version, int *max_version,
                        struct buf *err);
/* Build a server context (cert chain and key loaded now, so they may be
 * root-only). NULL with the reason in err. Free with tls_ctx_destroy. */
struct tls_ctx *tls_server_create(const struct tls_server_params *p,
                                  struct buf *err);
/* Build a client context (no verification: opportunistic). NULL with the
 * reason in err. */
struct tls_ctx *tls_client_create(const char *protocols, struct buf *err);
void tls_ctx_destroy(struct tls_ctx **cp);

/* Run the server (or client: sni, a host name, may be NULL) handshake on s within
 * timeout_ms, then install the TLS transport on s (freed by
 * stream_close). OpenSSL writes with write(2): the process must ignore
 * SIGPIPE (the server skeletons do). -1 with the reason in err; s then holds no TLS state
 * and should be closed. */
int tls_server_start(struct tls_ctx *c, struct stream *s, int timeout_ms,
                     struct buf *err);
int tls_client_start(struct tls_ctx *c, struct stream *s, const char *sni,
                     int timeout_ms, struct buf *err);

/* For a stream with TLS installed: is it TLS, and protocol, cipher and
 * bits ("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256, 256). */
bool tls_active(const struct stream *s);
const char *tls_protocol(const struct stream *s);
const char *tls_cipher(const struct stream *s);
int tls_cipher_bits(const struct stream *s, int *alg_bits);

#endif
