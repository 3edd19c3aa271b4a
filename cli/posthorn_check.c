/*
 * posthorn_check.c: `posthorn check`: validates the instance's main.cf
 * (unknown parameters are warnings with file:line, bad values are errors)
 * and master.cf (syntax, unknown -o parameters). Exit 1 on any error.
 * TLS (docs/tls.md): smtpd_tls_cert_file / smtpd_tls_key_file and the
 * ECDSA pair smtpd_tls_eccert_file / smtpd_tls_eckey_file are read and
 * warned about when unreadable, expired or not yet valid, or when the key
 * does not match the certificate (warnings: the exit status stays 0, as
 * for unknown parameters).
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "posthorn.h"
#include "buf.h"
#include "master_cf.h"
#include "str.h"
#include "tls.h"

/* Warnings for one certificate/key pair (when the cert is set). */
static int check_tls_pair(struct config *c, const char *cert_param,
                          const char *key_param, struct buf *report)
{
	const char *cert = config_str(c, cert_param);
	struct buf *lines;
	int n;

	if (*cert == 0)
		return 0;
	lines = buf_create(256, 16384);
	n = tls_check_pair(cert_param, cert, config_str(c, key_param),
	                   (long long)time(NULL), lines);
	/* One "warning: " line per problem. */
	for (char *p = buf_data(lines), *nl; p && *p; p = nl) {
		nl = strchr(p, '\n');
		if (nl)
			*nl++ = 0;
		buf_printf(report, "warning: %s\n", p);
	}
	buf_destroy(&lines);
	return n;
}

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
	warnings += check_tls_pair(c, "smtpd_tls_cert_file",
	                           "smtpd_tls_key_file", report);
	warnings += check_tls_pair(c, "smtpd_tls_eccert_file",
	                           "smtpd_tls_eckey_file", report);
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
