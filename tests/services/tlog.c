/*
 * tlog.c: test-only service on the trigger skeleton: logs every trigger
 * as "tlog: SERVICE: trigger TEXT" (non-printable bytes shown as '?').
 * SECURITY: test code; triggers are bounded by the skeleton.
 */
#include <stddef.h>

#include "msg.h"
#include "server.h"

static void tlog_trigger(const char *data, size_t len,
                         const struct server_info *si)
{
	char text[TRIGGER_SERVER_MAX_MSG + 1];

	for (size_t i = 0; i < len; i++)
		text[i] = data[i] >= 0x20 && data[i] < 0x7f ? data[i] : '?';
	text[len] = 0;
	msg_info("tlog: %s: trigger %s", si->service, text);
}

int main(int argc, char **argv)
{
	static const struct server_callbacks cb = {
	    .trigger = tlog_trigger,
	};

	trigger_server_main(argc, argv, &cb);
}
