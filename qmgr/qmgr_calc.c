/*
 * qmgr_calc.c: the queue manager's pure decisions: backoff times,
 * expiry, the DSN of an error: transport's text, per-transport limits.
 * No state and no I/O, so tests/unit/check_qmgr.c tests them directly.
 * SECURITY: no outside input but main.cf (trusted) and transport_maps
 * results (trusted configuration).
 */
#include <string.h>

#include "config.h"
#include "dsn.h"
#include "number.h"
#include "qmgr.h"
#include "str.h"

long long qmgr_backoff(long long arrival, long long now, long long min_backoff,
                       long long max_backoff)
{
	long long age = now - arrival;

	if (max_backoff < min_backoff)
		max_backoff = min_backoff;
	if (age > max_backoff)
		age = max_backoff;
	if (age < min_backoff)
		age = min_backoff;
	return age;
}

bool qmgr_expired(long long arrival, long long now, long long lifetime)
{
	return now >= arrival + lifetime;
}

const char *qmgr_error_text(const char *text, char *dsn, size_t dsnlen)
{
	size_t len = dsn_status_len(text);

	if (len > 0 && text[0] == '5' && len < dsnlen) {
		memcpy(dsn, text, len);
		dsn[len] = '\0';
		text += len;
		while (*text == ' ' || *text == '\t')
			text++;
		return text;
	}
	(void)str_copy(dsn, dsnlen, "5.0.0");
	return text;
}

long long qmgr_transport_param(struct config *c, const char *transport,
                               const char *suffix, bool is_time, long long min,
                               long long max, long long fallback)
{
	struct buf *name = buf_create(64, 256), *value = buf_create(64, 4096);
	struct buf *err = buf_create(64, 1024);
	long long out = fallback, v;
	const char *raw;

	if (buf_printf(name, "%s_%s", transport, suffix) < 0)
		goto done;
	raw = config_is_set(c, buf_str(name)) ? config_raw(c, buf_str(name))
	                                      : NULL;
	if (raw == NULL && param_find(buf_str(name)) != NULL)
		raw = config_raw(c, buf_str(name)); /* the table's default */
	if (raw == NULL || config_expand(c, raw, value, err) < 0)
		goto done;
	if ((is_time
	         ? number_parse_time(buf_str(value), 's', min, max, &v, NULL)
	         : number_parse(buf_str(value), min, max, &v, NULL)) == 0)
		out = v;
done:
	buf_destroy(&name);
	buf_destroy(&value);
	buf_destroy(&err);
	return out;
}
