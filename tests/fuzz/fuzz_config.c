/*
 * fuzz_config.c: libFuzzer target for the main.cf and master.cf parsers.
 * The input is parsed as main.cf; every entry and every table parameter
 * is expanded, config_check runs; the same input is parsed as master.cf.
 * Nothing may crash, hang, leak or grow without bound.
 * SECURITY: the input is fully hostile.
 */
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "master_cf.h"
#include "msg.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	msg_set_sinks(0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c = config_create();
	struct buf *err = buf_create(0, 0);
	struct buf *out = buf_create(0, 0);
	struct master_cf *m;
	size_t i;
	int warnings;

	if (config_parse(c, (const char *)data, size, "main.cf", err) == 0) {
		for (i = 0; i < config_entry_count(c); i++) {
			buf_reset(out);
			(void)config_expand(c, config_entry_value(c, i), out,
			                    err);
		}
		for (i = 0; i < param_table_count; i++) {
			const char *raw = config_raw(c, param_table[i].name);
			buf_reset(out);
			if (config_expand(c, raw, out, err) == 0)
				(void)param_validate(&param_table[i],
				                     buf_str(out), err);
		}
		buf_reset(out);
		(void)config_check(c, out, &warnings);
	}
	m = master_cf_parse((const char *)data, size, "master.cf", err);
	master_cf_destroy(&m);
	buf_destroy(&out);
	buf_destroy(&err);
	config_destroy(&c);
	return 0;
}
