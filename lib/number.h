/* number.h: bounded number parsing (decimal integers, times, sizes). */
#ifndef POSTHORN_NUMBER_H
#define POSTHORN_NUMBER_H

/* Parse all of s as a decimal integer in [min, max]. Returns 0 and sets *out;
 * -1 on any error (empty, junk, overflow, out of range) with *why set to a
 * short static reason; *out is untouched. */
int number_parse(const char *s, long long min, long long max, long long *out,
                 const char **why);
/* Parse a time: digits with an optional unit s, m, h, d or w (default_unit
 * when absent, one of those letters). Result in seconds, in [min, max]. */
int number_parse_time(const char *s, int default_unit, long long min,
                      long long max, long long *out, const char **why);
/* Parse a size in bytes: digits with an optional k, m, g suffix (x1024). */
int number_parse_size(const char *s, long long min, long long max,
                      long long *out, const char **why);

#endif
