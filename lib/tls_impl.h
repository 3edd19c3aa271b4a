/* tls_impl.h: what lib/tls.c and lib/tls_cert.c share about OpenSSL
 * objects (not for daemons: they use tls.h). */
#ifndef POSTHORN_TLS_IMPL_H
#define POSTHORN_TLS_IMPL_H

#include <stddef.h>

#include <openssl/x509.h>

#include "buf.h"
/* Last: OpenSSL functions are called through tls_dl() (lib/tls_dl.h). */
#include "tls_dl.h"

/* The index of the first of names[0..n) that x matches (RFC 6125 via
 * X509_check_host), else -1. */
int tls_x509_match(X509 *x, char *const *names, size_t n);
/* OpenSSL's first queued error (or errno) onto err after what; the
 * queue is cleared. */
void tls_err(struct buf *err, const char *what);
/* The first common name of name, printable ASCII only, onto out. */
void tls_x509_cn(const X509_NAME *name, struct buf *out);

#endif
