/*
 * posthorn_aliases.c: `posthorn aliases` (newaliases): rebuild every lmdb
 * table named by alias_database (default DIR/aliases.lmdb from
 * DIR/aliases) with lib/aliases.c, the code `newaliases` and `sendmail
 * -bi` run too. The new table replaces the old one atomically; on an
 * error the old table stays and the error names file:line.
 * SECURITY: reads the administrator's aliases file; every limit is
 * lib/aliases.c's.
 */
#include <stdio.h>

#include "posthorn.h"
#include "aliases.h"
#include "buf.h"

int cli_aliases(struct cli *cli, int argc, char **argv)
{
	struct config *c;
	struct buf *err;
	long n;

	if (argc != 1)
		return cli_usage("aliases");
	if ((c = cli_load_config(cli)) == NULL)
		return CLI_FAILED;
	err = buf_create(0, 4096);
	n = aliases_build_all(c, err);
	if (n < 0)
		cli_fail("aliases: %s", buf_str(err));
	else
		printf("posthorn: %ld aliases\n", n);
	buf_destroy(&err);
	config_destroy(&c);
	return n < 0 ? CLI_FAILED : CLI_OK;
}
