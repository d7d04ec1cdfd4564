/*
 * sha256.h -- streaming SHA-256 over OpenSSL's libcrypto (EVP API), for the
 * manifest of a backup set (JetBackupInstance, ese.fs.sha256).  A hasher is
 * used by one thread at a time; any number may exist.
 */
#ifndef ESE_SHA256_H
#define ESE_SHA256_H

#include <stddef.h>
#include "ese.h"

typedef struct essha essha;

/* A new hasher; JET_errOutOfMemory when libcrypto cannot make one. */
JET_ERR sha256_new(essha **out);
/* Adds n bytes.  After sha256_hex the hasher takes no more input
 * (JET_errInvalidParameter). */
JET_ERR sha256_update(essha *h, const void *p, size_t n);
/* The digest as 64 lower-case hex digits and a NUL.  Once only. */
JET_ERR sha256_hex(essha *h, char hex[65]);
void sha256_free(essha *h);

#endif
