/*
 * posthorn_map.c: `posthorn map build FILE` (postmap-like: FILE →
 * FILE.lmdb, replaced atomically) and `posthorn map get TYPE:NAME KEY`
 * (prints the value; exit 1 when the key is missing).
 */
#include <stdio.h>
#include <string.h>

#include "posthorn.h"
#include "buf.h"
#include "map.h"

static int map_verb_build(int argc, char **argv)
{
	struct buf *err;
	long n;

	if (argc != 1)
		return cli_usage("map build FILE");
	err = buf_create(0, 4096);
	n = map_build_text(argv[0], err);
	if (n < 0) {
		int ret = cli_fail("map build: %s", buf_str(err));
		buf_destroy(&err);
		return ret;
	}
	buf_destroy(&err);
	return CLI_OK;
}

static int map_verb_get(int argc, char **argv)
{
	struct buf *err, *value;
	struct map *m;
	int ret;

	if (argc != 2)
		return cli_usage("map get TYPE:NAME KEY");
	err = buf_create(0, 4096);
	value = buf_create(0, 0);
	if ((m = map_open(argv[0], err)) == NULL) {
		ret = cli_fail("map get: %s", buf_str(err));
	} else {
		switch (map_lookup(m, argv[1], value, err)) {
		case 1:
			printf("%s\n", buf_str(value));
			ret = CLI_OK;
			break;
		case 0:
			ret = CLI_FAILED; /* like postmap -q: silent miss */
			break;
		default:
			ret = cli_fail("map get: %s", buf_str(err));
			break;
		}
		map_close(&m);
	}
	buf_destroy(&value);
	buf_destroy(&err);
	return ret;
}

int cli_map(struct cli *cli, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "build") == 0)
		return map_verb_build(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "get") == 0)
		return map_verb_get(argc - 2, argv + 2);
	return cli_usage("map build FILE | map get TYPE:NAME KEY");
}
