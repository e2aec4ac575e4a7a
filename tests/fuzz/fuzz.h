/* fuzz.h: what the fuzz targets share — CHECK, which reports a broken invariant and aborts
 * (libFuzzer keeps the input, replay.c fails the test), and the split of an input into its
 * control byte and a NUL-terminated text. Header-only (static functions). */
#ifndef AIGW_FUZZ_H
#define AIGW_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                                \
    do {                                                                                                           \
        if (!(cond)) {                                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);                           \
            abort();                                                                                               \
        }                                                                                                          \
    } while (0)

/* The input after its first byte (*ctl) as a heap string the caller frees; NULL when the
 * input is empty. Embedded NULs are kept (the length is size - 1). */
static inline char *fuzz_text(const uint8_t *data, size_t size, uint8_t *ctl)
{
    if (size < 1)
        return NULL;
    *ctl = data[0];
    char *text = malloc(size);
    CHECK(text != NULL);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    return text;
}

#endif
