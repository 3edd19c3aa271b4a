/*
 * tls_dl.c: loads libssl and libcrypto with dlopen() on first use and
 * fills struct tls_dl (lib/tls_dl.h explains why). Owns the two library
 * handles for the process's life (never closed: OpenSSL keeps global
 * state).
 * SECURITY: the library names are fixed at build time (the SONAMEs of the
 * OpenSSL major version compiled against), looked up by the dynamic
 * loader's trusted paths only (the daemons' environment is sanitized by
 * master, so LD_LIBRARY_PATH does not reach them).
 */
#include <dlfcn.h>
#include <stdbool.h>

#define TLS_DL_NO_MACROS
#include "msg.h"
#include "tls_dl.h"

#define TLS_DL_STR(x) #x
#define TLS_DL_XSTR(x) TLS_DL_STR(x)
#define TLS_DL_SSL "libssl.so." TLS_DL_XSTR(OPENSSL_VERSION_MAJOR)
#define TLS_DL_CRYPTO "libcrypto.so." TLS_DL_XSTR(OPENSSL_VERSION_MAJOR)

static struct tls_dl tls_dl_table;
static bool tls_dl_loaded;

/* One symbol from libssl, else libcrypto; fatal when neither has it. */
static void *tls_dl_symbol(void *ssl, void *crypto, const char *name)
{
	void *p = dlsym(ssl, name);

	if (p == NULL)
		p = dlsym(crypto, name);
	if (p == NULL)
		msg_fatal("OpenSSL: %s: no symbol %s", TLS_DL_SSL, name);
	return p;
}

const struct tls_dl *tls_dl(void)
{
	void *ssl, *crypto;

	if (tls_dl_loaded)
		return &tls_dl_table;
	/* libcrypto first: libssl needs it (the loader would find it, but
	 * an explicit handle gives dlsym a place to look). */
	if ((crypto = dlopen(TLS_DL_CRYPTO, RTLD_NOW | RTLD_LOCAL)) == NULL)
		msg_fatal("cannot load OpenSSL: %s", dlerror());
	if ((ssl = dlopen(TLS_DL_SSL, RTLD_NOW | RTLD_LOCAL)) == NULL)
		msg_fatal("cannot load OpenSSL: %s", dlerror());
#define TLS_DL_LOAD(name)                                                      \
	tls_dl_table.name =                                                    \
	    (__typeof__(tls_dl_table.name))tls_dl_symbol(ssl, crypto, #name);
	TLS_DL_FUNCTIONS(TLS_DL_LOAD)
#undef TLS_DL_LOAD
	tls_dl_loaded = true;
	return &tls_dl_table;
}
