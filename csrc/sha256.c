/* sha256.c -- SHA-256 through libcrypto's EVP digest API. */
#include "sha256.h"
#include <stdio.h>
#include <stdlib.h>
#include <openssl/evp.h>

struct essha {
  EVP_MD_CTX *ctx;
  int finished;   /* sha256_hex ran: no more input */
};

JET_ERR sha256_new(essha **out) {
  essha *h = calloc(1, sizeof *h);
  if (!h) return JET_errOutOfMemory;
  if (!(h->ctx = EVP_MD_CTX_new()) || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
    EVP_MD_CTX_free(h->ctx);
    free(h);
    return JET_errOutOfMemory;
  }
  *out = h;
  return JET_errSuccess;
}

JET_ERR sha256_update(essha *h, const void *p, size_t n) {
  if (h->finished) return JET_errInvalidParameter;
  return EVP_DigestUpdate(h->ctx, p, n) == 1 ? JET_errSuccess : JET_errOutOfMemory;
}

JET_ERR sha256_hex(essha *h, char hex[65]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (h->finished) return JET_errInvalidParameter;
  h->finished = 1;
  if (EVP_DigestFinal_ex(h->ctx, md, &n) != 1 || n != 32) return JET_errOutOfMemory;
  for (unsigned int i = 0; i < n; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
  return JET_errSuccess;
}

void sha256_free(essha *h) {
  if (!h) return;
  EVP_MD_CTX_free(h->ctx);
  free(h);
}
