/*
 * posthorn_check.c: `posthorn check`: validates the instance's main.cf
 * (unknown parameters are warnings with file:line, bad values are errors)
 * and master.cf (syntax, unknown -o parameters). Exit 1 on any error.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "posthorn.h"
#include "buf.h"
#include "master_cf.h"
#include "str.h"

int cli_check(struct cli *cli, int argc, char **argv)
{
	struct config *c;
	struct buf *report, *err;
	struct master_cf *mcf;
	char path[PATH_MAX];
	int errors, warnings = 0;

	if (argc != 1)
		return cli_usage("check");
	if ((c = cli_load_config(cli)) == NULL)
		return CLI_FAILED;
	report = buf_create(0, 1 << 20);
	err = buf_create(0, 4096);
	errors = config_check(c, report, &warnings);
	str_format(path, sizeof(path), "%s/master.cf", cli->config_dir);
	if ((mcf = master_cf_read(path, err)) == NULL) {
		buf_printf(report, "%s\n", buf_str(err));
		errors++;
	} else {
		for (size_t i = 0; i < mcf->count; i++) {
			const struct master_service *s = &mcf->services[i];
			for (size_t j = 0; j < s->noverrides; j++) {
				if (param_find(s->override_names[j]) != NULL)
					continue;
				buf_printf(report,
				           "%s:%d: unknown parameter %s in "
				           "-o option\n",
				           path, s->line, s->override_names[j]);
				errors++;
			}
		}
		master_cf_destroy(&mcf);
	}
	fputs(buf_str(report), stderr);
	buf_destroy(&report);
	buf_destroy(&err);
	config_destroy(&c);
	if (errors > 0) {
		fprintf(stderr, "posthorn: check: %d error(s), %d warning(s)\n",
		        errors, warnings);
		return CLI_FAILED;
	}
	return CLI_OK;
}
