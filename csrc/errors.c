/* errors.c -- lookups over the one error table (ese_errors.h). */
#include "ese.h"

static const struct { const char *name; JET_ERR code; const char *msg; } errtab[] = {
#define ESE_ERROR_ROW(name, code, msg) { #name, code, msg },
  ESE_ERRORS(ESE_ERROR_ROW)
#undef ESE_ERROR_ROW
};
#define NERR (sizeof errtab / sizeof errtab[0])

const char *EseErrorName(JET_ERR err) {
  for (size_t i = 0; i < NERR; i++)
    if (errtab[i].code == err) return errtab[i].name;
  return NULL;
}

const char *EseErrorMessage(JET_ERR err) {
  for (size_t i = 0; i < NERR; i++)
    if (errtab[i].code == err) return errtab[i].msg;
  return NULL;
}

void EseForEachError(void (*fn)(const char *, JET_ERR, const char *, void *), void *ud) {
  for (size_t i = 0; i < NERR; i++) fn(errtab[i].name, errtab[i].code, errtab[i].msg, ud);
}
