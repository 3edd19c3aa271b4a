/*
 * fuzz_dns_reply.c: libFuzzer target for the DNS reply parser
 * (dns_reply_parse in lib/dns.c), fed raw packets. The first input byte
 * picks the query type (MX, A, AAAA, TLSA), the rest is the packet,
 * parsed as the answer to a query for "a.test" (the seed packets ask
 * for that name). Checks: a status in range; on DNS_OK at least one
 * record, at most DNS_MAX_RR, each of the type asked; A/AAAA data of 4/16
 * bytes; MX hosts valid names or "" (null MX), preferences 0..65535; the
 * MX sort keeps preference order. Nothing may leak (the sanitizers run).
 * SECURITY: input is arbitrary bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int types[] = {DNS_T_MX, DNS_T_A, DNS_T_AAAA, DNS_T_TLSA};
	struct dns_reply r;
	struct buf *why;
	int type, rc;

	if (size < 1)
		return 0;
	type = types[data[0] % 4];
	why = buf_create(64, 0);
	memset(&r, 0, sizeof(r));
	rc = dns_reply_parse(data + 1, size - 1, "a.test", type, &r, why);
	fuzz_check(rc == DNS_OK || rc == DNS_NOTFOUND || rc == DNS_NODATA ||
	           rc == DNS_RETRY);
	if (rc != DNS_OK) {
		fuzz_check(r.count == 0 && r.rr == NULL);
		fuzz_check(buf_len(why) > 0);
		buf_destroy(&why);
		return 0;
	}
	fuzz_check(r.count >= 1 && r.count <= DNS_MAX_RR);
	for (size_t i = 0; i < r.count; i++) {
		const struct dns_rr *rr = &r.rr[i];

		fuzz_check(rr->type == type);
		if (type == DNS_T_A)
			fuzz_check(rr->len == 4 && rr->data != NULL);
		if (type == DNS_T_AAAA)
			fuzz_check(rr->len == 16 && rr->data != NULL);
		if (type == DNS_T_MX) {
			fuzz_check(rr->host != NULL);
			fuzz_check(rr->host[0] == '\0' ||
			           dns_name_valid(rr->host));
			fuzz_check(rr->pref >= 0 && rr->pref <= 65535);
		}
	}
	if (type == DNS_T_MX) {
		dns_mx_sort(&r);
		for (size_t i = 1; i < r.count; i++)
			fuzz_check(r.rr[i - 1].pref <= r.rr[i].pref);
	}
	dns_reply_free(&r);
	buf_destroy(&why);
	return 0;
}
