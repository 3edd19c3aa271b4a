/*
 * fuzz_address.c: libFuzzer target for the address parsers. Runs the SMTP
 * path parser under every flag combination and the header list parser
 * under each of its flag combinations, and checks what they return: the
 * consumed count is in range and followed by the end or a space, results
 * hold no control characters (no 8-bit bytes without ADDRESS_ALLOW_UTF8),
 * respect the RFC 5321 limits, and parse again to themselves as a path.
 * SECURITY: input is arbitrary bytes, bounded to ADDRESS_FUZZ_MAX.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "buf.h"

#define ADDRESS_FUZZ_MAX 8192
#define PATH_FLAGS_ALL                                                         \
	(ADDRESS_ALLOW_UTF8 | ADDRESS_ALLOW_NULL | ADDRESS_ALLOW_NO_BRACKETS | \
	 ADDRESS_ALLOW_POSTMASTER)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct buf *fuzz_addr, *fuzz_again, *fuzz_wrap, *fuzz_local,
    *fuzz_domain;

static void fuzz_check(int cond)
{
	if (!cond)
		abort();
}

/* A result: bounded, no controls, 8-bit only with UTF-8 allowed. */
static void fuzz_check_result(const char *s, size_t len, unsigned flags)
{
	size_t i;

	fuzz_check(len <= ADDRESS_MAILBOX_MAX);
	fuzz_check(strlen(s) == len);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		fuzz_check(c >= 0x20 && c != 0x7f);
		fuzz_check(c < 0x80 || (flags & ADDRESS_ALLOW_UTF8));
	}
}

/* "<addr>" parses, under flags, to addr itself (suffix appended to addr
 * first if not NULL); address_split agrees. */
static void fuzz_check_reparse(const char *addr, const char *suffix,
                               unsigned flags)
{
	size_t consumed = 0;
	const char *why = NULL;

	buf_sprintf(fuzz_wrap, "<%s%s>", addr, suffix ? suffix : "");
	fuzz_check(address_parse_path(buf_str(fuzz_wrap), buf_len(fuzz_wrap),
	                              flags, fuzz_again, &consumed, &why) == 0);
	fuzz_check(consumed == buf_len(fuzz_wrap));
	fuzz_check(buf_len(fuzz_again) + 2 == buf_len(fuzz_wrap));
	fuzz_check(memcmp(buf_str(fuzz_again), buf_str(fuzz_wrap) + 1,
	                  buf_len(fuzz_again)) == 0);
	if (buf_len(fuzz_again) > 0 &&
	    strcmp(buf_str(fuzz_again), "postmaster") != 0) {
		fuzz_check(address_split(buf_str(fuzz_again), fuzz_local,
		                         fuzz_domain) == 0);
		fuzz_check(buf_len(fuzz_local) + 1 + buf_len(fuzz_domain) ==
		           buf_len(fuzz_again));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned list_flags[] = {
	    0, ADDRESS_ALLOW_UTF8, ADDRESS_ALLOW_BARE_LOCAL,
	    ADDRESS_ALLOW_UTF8 | ADDRESS_ALLOW_BARE_LOCAL};
	const char *in = (const char *)data;
	struct address_list *l;
	const char *why;
	size_t consumed, i, k;
	unsigned flags;

	if (size > ADDRESS_FUZZ_MAX)
		return 0;
	if (fuzz_addr == NULL) {
		fuzz_addr = buf_create(0, 1024);
		fuzz_again = buf_create(0, 1024);
		fuzz_wrap = buf_create(0, 1024);
		fuzz_local = buf_create(0, 1024);
		fuzz_domain = buf_create(0, 1024);
	}
	for (flags = 0; flags <= PATH_FLAGS_ALL; flags++) {
		why = NULL;
		consumed = SIZE_MAX;
		if (address_parse_path(in, size, flags, fuzz_addr, &consumed,
		                       &why) < 0) {
			fuzz_check(why != NULL && consumed == SIZE_MAX);
			continue;
		}
		fuzz_check(consumed > 0 && consumed <= size);
		fuzz_check(consumed == size || in[consumed] == ' ' ||
		           in[consumed] == '\t');
		fuzz_check_result(buf_str(fuzz_addr), buf_len(fuzz_addr),
		                  flags);
		fuzz_check(buf_len(fuzz_addr) > 0 ||
		           (flags & ADDRESS_ALLOW_NULL));
		fuzz_check_reparse(buf_str(fuzz_addr), NULL, flags);
	}
	for (k = 0; k < sizeof(list_flags) / sizeof(list_flags[0]); k++) {
		why = NULL;
		l = address_list_parse(in, size, list_flags[k], 64, &why);
		if (l == NULL) {
			fuzz_check(why != NULL);
			continue;
		}
		fuzz_check(address_list_count(l) <= 64);
		for (i = 0; i < address_list_count(l); i++) {
			const char *a = address_list_addr(l, i);
			fuzz_check_result(a, strlen(a), list_flags[k]);
			fuzz_check(address_list_display_name(l, i) != NULL);
			/* A bare local part gets a domain to be a path. */
			fuzz_check_reparse(
			    a,
			    address_split(a, fuzz_local, fuzz_domain) < 0
			        ? "@x"
			        : NULL,
			    list_flags[k] & ADDRESS_ALLOW_UTF8);
		}
		address_list_destroy(&l);
	}
	return 0;
}
