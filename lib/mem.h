/* mem.h: allocation that never returns NULL (exits cleanly on OOM). */
#ifndef POSTHORN_MEM_H
#define POSTHORN_MEM_H

#include <stddef.h>

/* Allocate len bytes (len 0 is allowed); exits via msg_fatal on OOM. */
void *mem_alloc(size_t len);
/* Allocate len zeroed bytes. */
void *mem_zalloc(size_t len);
/* Resize ptr (which may be NULL) to len bytes. */
void *mem_realloc(void *ptr, size_t len);
/* Allocate n * size bytes, checking the multiplication for overflow. */
void *mem_array(size_t n, size_t size);
/* Free ptr (NULL is fine). */
void mem_free(void *ptr);
/* Copy a NUL-terminated string. */
char *mem_strdup(const char *s);
/* Copy at most len bytes of s, always NUL-terminated. */
char *mem_strndup(const char *s, size_t len);
/* Copy len bytes and add a NUL after them. */
char *mem_memdup(const void *p, size_t len);

#endif
