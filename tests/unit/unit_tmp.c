/* unit_tmp.c: scratch directories for unit tests (unit_tmp.h). */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "unit_tmp.h"

void unit_tmpdir_make(char *out, size_t outlen, const char *name)
{
	const char *base = getenv("TMPDIR");
	int n = snprintf(out, outlen, "%s/posthorn-%s-XXXXXX",
	                 base && *base ? base : "/tmp", name);

	ck_assert_msg(n > 0 && (size_t)n < outlen, "temporary path too long");
	ck_assert_ptr_nonnull(mkdtemp(out));
}

static int unit_remove_one(const char *path, const struct stat *sb, int type,
                           struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void unit_tmpdir_remove(const char *path)
{
	nftw(path, unit_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}
