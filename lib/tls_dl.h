/* tls_dl.h: OpenSSL loaded on first use (dlopen), for lib/tls*.c only.
 * Merely linking libssl and libcrypto costs every process ~460 KiB of
 * private memory (their relocated data pages) at exec time; smtpd runs one
 * process per SMTP session and most sessions never start TLS, so the
 * libraries are mapped only when a TLS context is first built
 * (docs/performance.md, scenario 6). Including this header last (after
 * every OpenSSL header) turns each OpenSSL function that lib/tls*.c calls
 * into a call through tls_dl(), which loads libssl.so.N and
 * libcrypto.so.N (N: the OpenSSL major version built against) on its
 * first call and exits (msg_fatal) when they cannot be loaded: OpenSSL is
 * a declared run-time dependency. Daemons that chroot call tls_dl()
 * before the chroot. Adding a call to a new OpenSSL function in lib/tls*
 * means adding its name to TLS_DL_FUNCTIONS and the #define list below
 * (the link fails otherwise, since the daemons no longer link OpenSSL). */
#ifndef POSTHORN_TLS_DL_H
#define POSTHORN_TLS_DL_H

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define TLS_DL_FUNCTIONS(X)                                                    \
	X(ASN1_STRING_to_UTF8)                                                 \
	X(BIO_free)                                                            \
	X(BIO_new_mem_buf)                                                     \
	X(CRYPTO_free)                                                         \
	X(ERR_clear_error)                                                     \
	X(ERR_error_string_n)                                                  \
	X(ERR_get_error)                                                       \
	X(ERR_peek_error)                                                      \
	X(ERR_peek_last_error)                                                 \
	X(EVP_PKEY_free)                                                       \
	X(PEM_read_PrivateKey)                                                 \
	X(PEM_read_X509)                                                       \
	X(PEM_read_bio_PrivateKey)                                             \
	X(PEM_read_bio_X509)                                                   \
	X(PEM_read_bio_X509_AUX)                                               \
	X(SSL_CIPHER_get_bits)                                                 \
	X(SSL_CIPHER_get_name)                                                 \
	X(SSL_CTX_check_private_key)                                           \
	X(SSL_CTX_ctrl)                                                        \
	X(SSL_CTX_free)                                                        \
	X(SSL_CTX_load_verify_locations)                                       \
	X(SSL_CTX_new)                                                         \
	X(SSL_CTX_set_num_tickets)                                             \
	X(SSL_CTX_set_options)                                                 \
	X(SSL_CTX_set_security_level)                                          \
	X(SSL_CTX_set_session_id_context)                                      \
	X(SSL_CTX_set_timeout)                                                 \
	X(SSL_CTX_set_verify)                                                  \
	X(SSL_CTX_use_PrivateKey)                                              \
	X(SSL_CTX_use_PrivateKey_file)                                         \
	X(SSL_CTX_use_certificate)                                             \
	X(SSL_CTX_use_certificate_chain_file)                                  \
	X(SSL_accept)                                                          \
	X(SSL_connect)                                                         \
	X(SSL_ctrl)                                                            \
	X(SSL_free)                                                            \
	X(SSL_get0_peer_certificate)                                           \
	X(SSL_get_current_cipher)                                              \
	X(SSL_get_error)                                                       \
	X(SSL_get_verify_result)                                               \
	X(SSL_get_version)                                                     \
	X(SSL_new)                                                             \
	X(SSL_pending)                                                         \
	X(SSL_read_ex)                                                         \
	X(SSL_session_reused)                                                  \
	X(SSL_set_fd)                                                          \
	X(SSL_shutdown)                                                        \
	X(SSL_write_ex)                                                        \
	X(TLS_client_method)                                                   \
	X(TLS_server_method)                                                   \
	X(X509_NAME_ENTRY_get_data)                                            \
	X(X509_NAME_get_entry)                                                 \
	X(X509_NAME_get_index_by_NID)                                          \
	X(X509_check_host)                                                     \
	X(X509_check_private_key)                                              \
	X(X509_cmp_time)                                                       \
	X(X509_free)                                                           \
	X(X509_get0_notAfter)                                                  \
	X(X509_get0_notBefore)                                                 \
	X(X509_get_issuer_name)                                                \
	X(X509_get_subject_name)                                               \
	X(X509_verify_cert_error_string)

/* One pointer per function, typed from OpenSSL's own declaration. */
struct tls_dl {
#define TLS_DL_MEMBER(name) __typeof__(name) *name;
	TLS_DL_FUNCTIONS(TLS_DL_MEMBER)
#undef TLS_DL_MEMBER
};

/* The loaded functions (loads them on the first call). */
const struct tls_dl *tls_dl(void);

#ifndef TLS_DL_NO_MACROS
#define ASN1_STRING_to_UTF8 (tls_dl()->ASN1_STRING_to_UTF8)
#define BIO_free (tls_dl()->BIO_free)
#define BIO_new_mem_buf (tls_dl()->BIO_new_mem_buf)
#define CRYPTO_free (tls_dl()->CRYPTO_free)
#define ERR_clear_error (tls_dl()->ERR_clear_error)
#define ERR_error_string_n (tls_dl()->ERR_error_string_n)
#define ERR_get_error (tls_dl()->ERR_get_error)
#define ERR_peek_error (tls_dl()->ERR_peek_error)
#define ERR_peek_last_error (tls_dl()->ERR_peek_last_error)
#define EVP_PKEY_free (tls_dl()->EVP_PKEY_free)
#define PEM_read_PrivateKey (tls_dl()->PEM_read_PrivateKey)
#define PEM_read_X509 (tls_dl()->PEM_read_X509)
#define PEM_read_bio_PrivateKey (tls_dl()->PEM_read_bio_PrivateKey)
#define PEM_read_bio_X509 (tls_dl()->PEM_read_bio_X509)
#define PEM_read_bio_X509_AUX (tls_dl()->PEM_read_bio_X509_AUX)
#define SSL_CIPHER_get_bits (tls_dl()->SSL_CIPHER_get_bits)
#define SSL_CIPHER_get_name (tls_dl()->SSL_CIPHER_get_name)
#define SSL_CTX_check_private_key (tls_dl()->SSL_CTX_check_private_key)
#define SSL_CTX_ctrl (tls_dl()->SSL_CTX_ctrl)
#define SSL_CTX_free (tls_dl()->SSL_CTX_free)
#define SSL_CTX_load_verify_locations (tls_dl()->SSL_CTX_load_verify_locations)
#define SSL_CTX_new (tls_dl()->SSL_CTX_new)
#define SSL_CTX_set_num_tickets (tls_dl()->SSL_CTX_set_num_tickets)
#define SSL_CTX_set_options (tls_dl()->SSL_CTX_set_options)
#define SSL_CTX_set_security_level (tls_dl()->SSL_CTX_set_security_level)
#define SSL_CTX_set_session_id_context                                         \
	(tls_dl()->SSL_CTX_set_session_id_context)
#define SSL_CTX_set_timeout (tls_dl()->SSL_CTX_set_timeout)
#define SSL_CTX_set_verify (tls_dl()->SSL_CTX_set_verify)
#define SSL_CTX_use_PrivateKey (tls_dl()->SSL_CTX_use_PrivateKey)
#define SSL_CTX_use_PrivateKey_file (tls_dl()->SSL_CTX_use_PrivateKey_file)
#define SSL_CTX_use_certificate (tls_dl()->SSL_CTX_use_certificate)
#define SSL_CTX_use_certificate_chain_file                                     \
	(tls_dl()->SSL_CTX_use_certificate_chain_file)
#define SSL_accept (tls_dl()->SSL_accept)
#define SSL_connect (tls_dl()->SSL_connect)
#define SSL_ctrl (tls_dl()->SSL_ctrl)
#define SSL_free (tls_dl()->SSL_free)
#define SSL_get0_peer_certificate (tls_dl()->SSL_get0_peer_certificate)
#define SSL_get_current_cipher (tls_dl()->SSL_get_current_cipher)
#define SSL_get_error (tls_dl()->SSL_get_error)
#define SSL_get_verify_result (tls_dl()->SSL_get_verify_result)
#define SSL_get_version (tls_dl()->SSL_get_version)
#define SSL_new (tls_dl()->SSL_new)
#define SSL_pending (tls_dl()->SSL_pending)
#define SSL_read_ex (tls_dl()->SSL_read_ex)
#define SSL_session_reused (tls_dl()->SSL_session_reused)
#define SSL_set_fd (tls_dl()->SSL_set_fd)
#define SSL_shutdown (tls_dl()->SSL_shutdown)
#define SSL_write_ex (tls_dl()->SSL_write_ex)
#define TLS_client_method (tls_dl()->TLS_client_method)
#define TLS_server_method (tls_dl()->TLS_server_method)
#define X509_NAME_ENTRY_get_data (tls_dl()->X509_NAME_ENTRY_get_data)
#define X509_NAME_get_entry (tls_dl()->X509_NAME_get_entry)
#define X509_NAME_get_index_by_NID (tls_dl()->X509_NAME_get_index_by_NID)
#define X509_check_host (tls_dl()->X509_check_host)
#define X509_check_private_key (tls_dl()->X509_check_private_key)
#define X509_cmp_time (tls_dl()->X509_cmp_time)
#define X509_free (tls_dl()->X509_free)
#define X509_get0_notAfter (tls_dl()->X509_get0_notAfter)
#define X509_get0_notBefore (tls_dl()->X509_get0_notBefore)
#define X509_get_issuer_name (tls_dl()->X509_get_issuer_name)
#define X509_get_subject_name (tls_dl()->X509_get_subject_name)
#define X509_verify_cert_error_string (tls_dl()->X509_verify_cert_error_string)
#endif

#endif
