/*
 * number.c: the only place that turns text into numbers. No atoi/strtol
 * elsewhere: every caller states the range it accepts, overflow is an
 * error (never a wrap), and trailing junk is an error.
 * SECURITY: input may come from peers (SMTP SIZE=, IMAP literals) or from
 * configuration; nothing is trusted, results are always range-checked.
 */
#include <ctype.h>
#include <limits.h>
#include <stddef.h>

#include "number.h"

/* Parse leading digits (with an optional '-'); returns the end pointer or
 * NULL on no digits / overflow. */
static const char *number_scan(const char *s, long long *out, const char **why)
{
	int negative = 0;
	unsigned long long value = 0, limit;

	if (*s == '-') {
		negative = 1;
		s++;
	} else if (*s == '+') {
		s++;
	}
	if (!isdigit((unsigned char)*s)) {
		*why = "not a number";
		return NULL;
	}
	limit = negative ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (value > (limit - d) / 10) {
			*why = "number too large";
			return NULL;
		}
		value = value * 10 + d;
	}
	if (negative)
		*out = value == (unsigned long long)LLONG_MAX + 1
		           ? LLONG_MIN
		           : -(long long)value;
	else
		*out = (long long)value;
	return s;
}

static int number_check_range(long long v, long long min, long long max,
                              const char **why)
{
	if (v < min) {
		*why = "number too small";
		return -1;
	}
	if (v > max) {
		*why = "number too large";
		return -1;
	}
	return 0;
}

int number_parse(const char *s, long long min, long long max, long long *out,
                 const char **why)
{
	const char *dummy;
	const char *end;
	long long v;

	if (why == NULL)
		why = &dummy;
	if (s == NULL || (end = number_scan(s, &v, why)) == NULL)
		return -1;
	if (*end != 0) {
		*why = "junk after number";
		return -1;
	}
	if (number_check_range(v, min, max, why) < 0)
		return -1;
	*out = v;
	return 0;
}

/* Multiply with overflow check. */
static int number_scale(long long v, long long factor, long long *out,
                        const char **why)
{
	if (v > 0 && v > LLONG_MAX / factor) {
		*why = "number too large";
		return -1;
	}
	if (v < 0 && v < LLONG_MIN / factor) {
		*why = "number too small";
		return -1;
	}
	*out = v * factor;
	return 0;
}

static long long number_time_unit(int unit)
{
	switch (unit) {
	case 's':
		return 1;
	case 'm':
		return 60;
	case 'h':
		return 3600;
	case 'd':
		return 86400;
	case 'w':
		return 7 * 86400;
	default:
		return 0;
	}
}

int number_parse_time(const char *s, int default_unit, long long min,
                      long long max, long long *out, const char **why)
{
	const char *dummy;
	const char *end;
	long long v, factor;

	if (why == NULL)
		why = &dummy;
	if (s == NULL || (end = number_scan(s, &v, why)) == NULL)
		return -1;
	if (*end == 0) {
		factor = number_time_unit(default_unit);
	} else if (end[1] == 0) {
		factor = number_time_unit(tolower((unsigned char)*end));
	} else {
		factor = 0;
	}
	if (factor == 0) {
		*why = "bad time unit (use s, m, h, d or w)";
		return -1;
	}
	if (number_scale(v, factor, &v, why) < 0 ||
	    number_check_range(v, min, max, why) < 0)
		return -1;
	*out = v;
	return 0;
}

int number_parse_size(const char *s, long long min, long long max,
                      long long *out, const char **why)
{
	const char *dummy;
	const char *end;
	long long v, factor = 0;

	if (why == NULL)
		why = &dummy;
	if (s == NULL || (end = number_scan(s, &v, why)) == NULL)
		return -1;
	if (*end == 0)
		factor = 1;
	else if (end[1] == 0 ||
	         (end[1] && (end[1] == 'b' || end[1] == 'B') && end[2] == 0)) {
		switch (tolower((unsigned char)*end)) {
		case 'k':
			factor = 1024;
			break;
		case 'm':
			factor = 1024 * 1024;
			break;
		case 'g':
			factor = 1024LL * 1024 * 1024;
			break;
		case 'b':
			factor = end[1] == 0 ? 1 : 0;
			break;
		}
	}
	if (factor == 0) {
		*why = "bad size unit (use k, m or g)";
		return -1;
	}
	if (number_scale(v, factor, &v, why) < 0 ||
	    number_check_range(v, min, max, why) < 0)
		return -1;
	*out = v;
	return 0;
}
