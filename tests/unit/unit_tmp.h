/* unit_tmp.h: a scratch directory per test case, for the unit tests of
 * modules that read or write files (shared by the check_*.c files). */
#ifndef POSTHORN_UNIT_TMP_H
#define POSTHORN_UNIT_TMP_H

#include <stddef.h>

/* Make $TMPDIR/posthorn-NAME-XXXXXX (/tmp without TMPDIR) and put its
 * path in out; fails the test case when it cannot. */
void unit_tmpdir_make(char *out, size_t outlen, const char *name);
/* Remove path and everything below it (symbolic links are removed, never
 * followed). */
void unit_tmpdir_remove(const char *path);

#endif
