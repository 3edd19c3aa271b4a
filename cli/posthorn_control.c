/* posthorn_control.c: start/stop/reload/status (placeholder until master
 * lands: every verb fails clearly). */
#include "posthorn.h"

int cli_start(struct cli *cli, int argc, char **argv)
{
	return cli_fail("start: not available yet (no master)");
}

int cli_stop(struct cli *cli, int argc, char **argv)
{
	return cli_fail("stop: not available yet (no master)");
}

int cli_reload(struct cli *cli, int argc, char **argv)
{
	return cli_fail("reload: not available yet (no master)");
}

int cli_status(struct cli *cli, int argc, char **argv)
{
	return cli_fail("status: not available yet (no master)");
}
