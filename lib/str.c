/*
 * str.c: string helpers that replace strcpy/strcat/sprintf: every copy is
 * bounded and truncation is reported, never silent.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "str.h"

int str_copy(char *dst, size_t dstlen, const char *src)
{
	size_t len = strlen(src);

	if (dstlen == 0)
		return -1;
	if (len >= dstlen) {
		memcpy(dst, src, dstlen - 1);
		dst[dstlen - 1] = 0;
		return -1;
	}
	memcpy(dst, src, len + 1);
	return 0;
}

int str_format(char *dst, size_t dstlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, dstlen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= dstlen)
		return -1;
	return n;
}

char *str_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = 0;
	return s;
}

char *str_lower(char *s)
{
	for (char *p = s; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return s;
}

char *str_token(char **sp, const char *delims)
{
	char *s = *sp, *start;

	if (s == NULL)
		return NULL;
	s += strspn(s, delims);
	if (*s == 0) {
		*sp = s;
		return NULL;
	}
	start = s;
	s += strcspn(s, delims);
	if (*s)
		*s++ = 0;
	*sp = s;
	return start;
}

bool str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_has_prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

bool str_eq_ci(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

bool str_no_nul(const char *s, size_t len)
{
	return memchr(s, 0, len) == NULL;
}

bool str_equal_const_time(const void *a, const void *b, size_t len)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char diff = 0;

	for (size_t i = 0; i < len; i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}
