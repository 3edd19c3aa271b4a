/* posthorn.c: placeholder main until the CLI lands. */
#include "msg.h"
int main(void)
{
	msg_init("posthorn", "posthorn");
	return 0;
}
