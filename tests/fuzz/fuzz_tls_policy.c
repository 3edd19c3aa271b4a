/*
 * fuzz_tls_policy.c: libFuzzer target for the SMTP client's TLS policy
 * parsers (lib/tls_policy.c): smtp_tls_policy_maps values ("LEVEL
 * [match=a:b] [protocols=...]"), cert match lists, security level words,
 * nexthop domains and the policy map lookup keys. The input, cut at the
 * first NUL, is given to each parser; results are checked: a parsed
 * policy has a known level and at most TLS_MATCH_MAX names of at most
 * TLS_MATCH_NAME_MAX bytes, expansion yields at most what it was asked
 * for, the lookup keys are NUL-terminated and a nexthop domain fits.
 * SECURITY: input is arbitrary bytes (table values come from files the
 * administrator writes, but are parsed by a daemon).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tls_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
	if (!cond)
		abort();
}

static void fuzz_check_match(const struct tls_match_list *m)
{
	char *names[TLS_MATCH_MAX * 3];
	size_t n;

	fuzz_check(m->n <= TLS_MATCH_MAX);
	for (size_t i = 0; i < m->n; i++)
		fuzz_check(strlen(m->names[i]) <= TLS_MATCH_NAME_MAX);
	n = tls_match_expand(m, "mx.example.com", "example.com", names, 4);
	fuzz_check(n <= 4);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct buf *err = buf_create(64, 1024);
	struct buf *keys = buf_create(64, 0);
	struct tls_policy p;
	struct tls_match_list m;
	enum tls_level level;
	char domain[256];
	bool bracketed;
	size_t nkeys;

	memcpy(text, data, size);
	text[size] = 0;

	if (tls_policy_parse(text, &p, err) == 0) {
		fuzz_check(p.level >= TLS_LEV_NONE &&
		           p.level <= TLS_LEV_SECURE);
		fuzz_check(tls_level_name(p.level) != NULL);
		if (p.have_match)
			fuzz_check_match(&p.match);
		tls_policy_free(&p);
	}
	buf_reset(err);
	if (tls_match_parse(text, &m, err) == 0) {
		fuzz_check_match(&m);
		tls_match_free(&m);
	}
	if (tls_level_parse(text, &level) == 0)
		fuzz_check(level >= TLS_LEV_NONE && level <= TLS_LEV_SECURE);
	if (tls_nexthop_domain(text, domain, sizeof(domain), &bracketed) == 0)
		fuzz_check(domain[0] != 0 && strlen(domain) < sizeof(domain));
	nkeys = tls_policy_keys(text, keys);
	/* Every key ends with its NUL inside the buffer. */
	{
		size_t seen = 0;

		for (size_t i = 0; i < buf_len(keys); i++)
			if (buf_str(keys)[i] == 0)
				seen++;
		fuzz_check(seen == nkeys);
	}
	buf_destroy(&keys);
	buf_destroy(&err);
	free(text);
	return 0;
}
