/* maps.h: a list of lookup tables searched in order, as a main.cf
 * parameter names them ("canonical_maps = lmdb:/etc/x, inline:{a=b}"). */
#ifndef POSTHORN_MAPS_H
#define POSTHORN_MAPS_H

#include <stddef.h>

#include "buf.h"

struct maps;

/* Open every table in list: specs separated by commas and/or white
 * space outside braces (so inline:{a=b, c=d} stays one spec). An empty
 * list gives a maps without tables (every lookup: not found). NULL with
 * the reason in err when a spec is bad or a table cannot be opened. */
struct maps *maps_open(const char *list, struct buf *err);
/* Close every table, free, set *mp to NULL. */
void maps_close(struct maps **mp);
/* Number of tables. */
size_t maps_count(const struct maps *m);
/* Look key up in each table in turn: 1 (the first table that has it;
 * value replaced), 0 (none has it), -1 (a table failed before any had
 * it; reason in err, naming the table). */
int maps_lookup(struct maps *m, const char *key, struct buf *value,
                struct buf *err);

#endif
