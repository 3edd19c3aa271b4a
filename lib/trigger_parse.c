/*
 * trigger_parse.c: the byte parser for trigger connections to qmgr
 * (trigger_parse.h). A connection carries one-byte requests and named
 * triggers "N<queue ID>\n" in any mix; the parser keeps at most one
 * queue ID's worth of bytes, whatever the peer sends.
 */
#include <string.h>

#include "trigger_parse.h"

void trigger_parse_init(struct trigger_parse *tp)
{
	memset(tp, 0, sizeof(*tp));
}

enum trigger_item trigger_parse_byte(struct trigger_parse *tp, int c)
{
	if (!tp->in_name) {
		if (c != 'N')
			return TRIGGER_ITEM_BYTE;
		tp->in_name = true;
		tp->len = 0;
		return TRIGGER_ITEM_NONE;
	}
	if (c != '\n') {
		if (tp->len + 1 < sizeof(tp->name))
			tp->name[tp->len] = (char)c;
		if (tp->len < sizeof(tp->name)) /* saturates: no overflow */
			tp->len++;
		return TRIGGER_ITEM_NONE;
	}
	tp->in_name = false;
	if (tp->len >= sizeof(tp->name)) {
		tp->name[0] = '\0';
		return TRIGGER_ITEM_BAD_NAME;
	}
	tp->name[tp->len] = '\0';
	return queue_id_valid(tp->name) ? TRIGGER_ITEM_NAME
	                                : TRIGGER_ITEM_BAD_NAME;
}
