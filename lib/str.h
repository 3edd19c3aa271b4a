/* str.h: small, bounded string helpers. */
#ifndef POSTHORN_STR_H
#define POSTHORN_STR_H

#include <stdbool.h>
#include <stddef.h>

/* Copy src into dst (size dstlen, always NUL-terminated); -1 if truncated. */
int str_copy(char *dst, size_t dstlen, const char *src);
/* snprintf that returns -1 on truncation or error instead of a length. */
int str_format(char *dst, size_t dstlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Strip leading and trailing white space in place; returns s moved past
 * leading white space. */
char *str_trim(char *s);
/* Lowercase ASCII letters in place; returns s. */
char *str_lower(char *s);
/* Next token separated by any of delims from *sp (like strsep, skipping
 * empty tokens); NULL at the end. Modifies the string. */
char *str_token(char **sp, const char *delims);
/* Does s start with prefix (case-sensitive)? */
bool str_has_prefix(const char *s, const char *prefix);
/* Does s start with prefix (ASCII case-insensitive)? */
bool str_has_prefix_ci(const char *s, const char *prefix);
/* ASCII case-insensitive equality. */
bool str_eq_ci(const char *a, const char *b);
/* Is len bytes at s free of NUL bytes? */
bool str_no_nul(const char *s, size_t len);
/* Constant-time comparison of two byte strings of length len. */
bool str_equal_const_time(const void *a, const void *b, size_t len);

#endif
