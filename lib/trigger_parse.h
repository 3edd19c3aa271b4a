/* trigger_parse.h: the bytes of a trigger connection to qmgr, one at a
 * time: one-byte requests ("A" scan incoming/, "D" scan deferred/, "W"
 * wakeup, ...) and named ones, "N" + a queue ID + "\n", that name the
 * file cleanup just put into incoming/ (docs/qmgr.md). */
#ifndef POSTHORN_TRIGGER_PARSE_H
#define POSTHORN_TRIGGER_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "queue_file.h"

struct trigger_parse {
	bool in_name; /* after an N: the bytes of a queue ID, up to \n */
	size_t len; /* bytes of the name so far (counted past the cap) */
	char name[QUEUE_ID_MAX];
};

enum trigger_item {
	TRIGGER_ITEM_NONE, /* inside a named trigger: more bytes */
	TRIGGER_ITEM_BYTE, /* a one-byte request: the byte passed */
	TRIGGER_ITEM_NAME, /* a named trigger; the queue ID in name */
	TRIGGER_ITEM_BAD_NAME, /* a named trigger whose name is no queue ID */
};

/* A parser at the start of a connection. */
void trigger_parse_init(struct trigger_parse *tp);

/* Feed the next byte c (0..255). TRIGGER_ITEM_NAME leaves a valid,
 * NUL-terminated queue ID in tp->name (queue_id_valid); a name longer
 * than a queue ID can be is counted, not stored, and reported as
 * TRIGGER_ITEM_BAD_NAME at its "\n".
 * SECURITY: the bytes come from anyone who can reach public/qmgr (the
 * postdrop group): a name is only a hint, checked here and again when
 * qmgr takes the file. */
enum trigger_item trigger_parse_byte(struct trigger_parse *tp, int c);

#endif
