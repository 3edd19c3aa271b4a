/*
 * fuzz_trigger_parse.c: libFuzzer target for the trigger connection
 * parser (lib/trigger_parse.c) that qmgr runs on every byte from
 * public/qmgr. Checks: the stored length never passes the name buffer,
 * a reported name is a NUL-terminated valid queue ID, and a byte item is
 * reported only outside a name.
 * SECURITY: input is arbitrary bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trigger_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trigger_parse tp;

	trigger_parse_init(&tp);
	for (size_t i = 0; i < size; i++) {
		bool was_in_name = tp.in_name;
		enum trigger_item item = trigger_parse_byte(&tp, data[i]);

		fuzz_check(tp.len <= sizeof(tp.name));
		if (item == TRIGGER_ITEM_BYTE)
			fuzz_check(!was_in_name && data[i] != 'N');
		if (item == TRIGGER_ITEM_NAME) {
			fuzz_check(memchr(tp.name, '\0', sizeof(tp.name)) !=
			           NULL);
			fuzz_check(queue_id_valid(tp.name));
		}
		if (item == TRIGGER_ITEM_NAME || item == TRIGGER_ITEM_BAD_NAME)
			fuzz_check(was_in_name && data[i] == '\n');
	}
	return 0;
}
