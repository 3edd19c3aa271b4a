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

/* Session ticket key material: 16 bytes name, 32 HMAC, 32 AES. */
#define TLS_TICKET_KEY_LEN 80
/* Where master puts it, relative to queue_directory. */
#define TLS_TICKET_KEY_FILE "pid/smtpd_ticket.key"

/* Server context settings (Postfix parameter names in comments). */
struct tls_server_params {
	const char *cert_file; /* smtpd_tls_cert_file: cert, then chain */
	const char *key_file; /* smtpd_tls_key_file ("": cert_file) */
	const char *protocols; /* smtpd_tls_protocols syntax */
	const char *eccert_file; /* smtpd_tls_eccert_file (NULL/"": none) */
	const char *eckey_file; /* smtpd_tls_eckey_file ("": eccert_file) */
	/* Ticket keys shared by every smtpd of the instance (NULL: a key
	 * of this process only), and the ticket lifetime in seconds
	 * (smtpd_tls_session_cache_timeout; 0: no resumption at all). */
	const unsigned char *ticket_key;
	long ticket_lifetime;
	/* The files' contents read earlier (tls_pem_read), used instead of
	 * the files when set: a context can then be built after the
	 * privilege drop, when it is first needed. */
	const struct buf *cert_pem, *key_pem, *eccert_pem, *eckey_pem;
};

/* Most bytes of a PEM file (certificate chain or key) read into memory. */
#define TLS_PEM_MAX (1024 * 1024)

/* Client context settings. */
struct tls_client_params {
	const char *protocols; /* smtp_tls_protocols */
	const char *CAfile; /* smtp_tls_CAfile (NULL/"": none) */
	const char *CApath; /* smtp_tls_CApath (NULL/"": none) */
};

/* Per-connection client settings. */
struct tls_client_opts {
	const char *sni; /* host name for SNI (RFC 6066 3), or NULL */
	const char *protocols; /* overrides the context's (NULL: none) */
};

/* Parse Postfix protocol syntax (">=TLSv1.2", "!SSLv2, !TLSv1") into
 * OpenSSL min/max versions (never below TLS 1.2 unless listed). -1 with
 * the reason in err. */
int tls_protocols_parse(const char *spec, int *min_version, int *max_version,
                        struct buf *err);
/* Read a PEM file (at most TLS_PEM_MAX bytes) into out (replaced; its
 * limit must be at least TLS_PEM_MAX + 4096): done
 * as root so that the context may be built later. -1 with the reason in
 * err. Callers wipe out (explicit_bzero) when it holds a key. */
int tls_pem_read(const char *path, struct buf *out, struct buf *err);
/* Build a server context (cert chain and key loaded now, so they may be
 * root-only; or from the *_pem copies). NULL with the reason in err. Free
 * with tls_ctx_destroy. */
struct tls_ctx *tls_server_create(const struct tls_server_params *p,
                                  struct buf *err);
/* Build a client context: trust anchors from CAfile/CApath only (never
 * the system store, as Postfix). The handshake never fails on the
 * certificate: tls_peer_trusted/tls_peer_match judge it afterwards. NULL
 * with the reason in err. */
struct tls_ctx *tls_client_create(const struct tls_client_params *p,
                                  struct buf *err);
void tls_ctx_destroy(struct tls_ctx **cp);
/* Load the OpenSSL libraries now (they are loaded on first use
 * otherwise): for daemons about to chroot, where they cannot be found
 * later. Fatal when they cannot be loaded. */
void tls_library_load(void);

/* Run the server (or client, with o: SNI and protocols) handshake on s within
 * timeout_ms, then install the TLS transport on s (freed by
 * stream_close). OpenSSL writes with write(2): the process must ignore
 * SIGPIPE (the server skeletons do). -1 with the reason in err; s then holds no TLS state
 * and should be closed. */
int tls_server_start(struct tls_ctx *c, struct stream *s, int timeout_ms,
                     struct buf *err);
int tls_client_start(struct tls_ctx *c, struct stream *s,
                     const struct tls_client_opts *o, int timeout_ms,
                     struct buf *err);

/* For a stream with TLS installed: is it TLS, and protocol, cipher and
 * bits ("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256, 256). */
bool tls_active(const struct stream *s);
const char *tls_protocol(const struct stream *s);
const char *tls_cipher(const struct stream *s);
int tls_cipher_bits(const struct stream *s, int *alg_bits);
/* Was the session resumed (ticket or cache)? */
bool tls_session_reused(const struct stream *s);

/* Client side, after the handshake. Did the peer's chain verify against
 * the context's trust anchors? false with the reason in why. */
bool tls_peer_trusted(const struct stream *s, struct buf *why);
/* RFC 6125 6.4 through OpenSSL (X509_check_host: DNS-ID first, CN only
 * without DNS-IDs, "*" in the left-most label only, no partial
 * wildcards; a name ".example.com" matches any subdomain). The index of
 * the first of names[0..n) the peer certificate matches, else -1. */
int tls_peer_match(const struct stream *s, char *const *names, size_t n);
/* Subject and issuer common names of the peer certificate onto the
 * buffers ("" when absent). */
void tls_peer_cn(const struct stream *s, struct buf *subject,
                 struct buf *issuer);

/* A certificate read from a file (tests, posthorn check). */
struct tls_cert;
/* The first certificate of a PEM file. NULL with the reason in err. */
struct tls_cert *tls_cert_load(const char *path, struct buf *err);
void tls_cert_destroy(struct tls_cert **cp);
/* As tls_peer_match, for a loaded certificate. */
int tls_cert_match(const struct tls_cert *c, char *const *names, size_t n);

/* The ticket key file shared by the smtpd processes: created by master
 * (fresh random bytes, mode 0600, owner: the caller; written to a
 * temporary name and renamed). -1 with the reason in err. */
int tls_ticket_key_create(const char *path, struct buf *err);
/* Read it back: a regular file of exactly TLS_TICKET_KEY_LEN bytes, not
 * a symlink, no group or other permissions. -1 with the reason in err. */
int tls_ticket_key_read(const char *path, unsigned char *key, struct buf *err);

/* `posthorn check`: problems with a certificate file and its key (cannot
 * read, not valid at now, expired, key does not match), one line each
 * onto report prefixed by label. Returns the number of problems. */
int tls_check_pair(const char *label, const char *cert_file,
                   const char *key_file, long long now, struct buf *report);

#endif
