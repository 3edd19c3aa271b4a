/* fuzz_queue_file.c: libFuzzer target for the queue file reader: any
 * bytes, read as a (maildrop) queue file, must be accepted or refused
 * cleanly. */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "buf.h"
#include "msg.h"
#include "queue_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct buf *err, *rec;
	struct queue_envelope env;
	struct queue_reader *r;
	int type;

	if (fd < 0) {
		FILE *f = tmpfile();
		fd = dup(fileno(f));
		fclose(f);
		msg_set_sinks(0);
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	lseek(fd, 0, SEEK_SET);
	err = buf_create(0, 0);
	rec = buf_create(0, QUEUE_REC_MAX);
	r = queue_reader_create(fd);
	if (queue_envelope_read(r, &env, err) == 0) {
		while (queue_reader_next(r, &type, rec, NULL, err) == 1)
			;
		queue_envelope_free(&env);
	}
	queue_reader_destroy(&r);
	buf_destroy(&rec);
	buf_destroy(&err);
	return 0;
}
