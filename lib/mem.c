/*
 * mem.c: the allocation wrappers. Callers never check for NULL: running out
 * of memory is an environment failure, logged once, and the process exits
 * (master restarts it). Sizes that come from peers must be checked against
 * a configured limit by the caller before they get here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "msg.h"

void *mem_alloc(size_t len)
{
	void *p = malloc(len ? len : 1);

	if (p == NULL)
		msg_fatal("mem_alloc: out of memory (%zu bytes)", len);
	return p;
}

void *mem_zalloc(size_t len)
{
	void *p = calloc(1, len ? len : 1);

	if (p == NULL)
		msg_fatal("mem_zalloc: out of memory (%zu bytes)", len);
	return p;
}

void *mem_realloc(void *ptr, size_t len)
{
	void *p = realloc(ptr, len ? len : 1);

	if (p == NULL)
		msg_fatal("mem_realloc: out of memory (%zu bytes)", len);
	return p;
}

void *mem_array(size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		msg_panic("mem_array: %zu * %zu overflows", n, size);
	return mem_zalloc(n * size);
}

void mem_free(void *ptr)
{
	free(ptr);
}

char *mem_strdup(const char *s)
{
	return mem_memdup(s, strlen(s));
}

char *mem_strndup(const char *s, size_t len)
{
	return mem_memdup(s, strnlen(s, len));
}

char *mem_memdup(const void *p, size_t len)
{
	char *copy;

	if (len == SIZE_MAX)
		msg_panic("mem_memdup: length overflow");
	copy = mem_alloc(len + 1);
	memcpy(copy, p, len);
	copy[len] = 0;
	return copy;
}
