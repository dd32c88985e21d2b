/*
 * random.c — counter-based uniform streams.
 *
 * Value i of a call is draw (counter + i) of stream `seed` and depends on
 * nothing else, so results are identical for any thread count and any way
 * of splitting a range into calls (see ck_random.h).
 */
#include "internal.h"
#include "ck_random.h"

/* Below this many draws a parallel region costs more than it saves. */
#define RANDOM_PAR_MIN 65536

/* AVX-512 has the 64-bit multiplies the generator needs (~3x). */
static inline __attribute__((always_inline)) void uniform_span(size_t n, uint64_t key, uint64_t counter,
                                                               float *out) {
    for (size_t i = 0; i < n; i++) out[i] = ck_bits_to_unit(ck_random_bits(key, counter + i));
}
CK_ISA_VERSIONS(uniform_span, (size_t n, uint64_t key, uint64_t counter, float *out), (n, key, counter, out))

int ck_random_uniform(uint64_t seed, uint64_t counter, float *out, size_t n) {
    if (n == 0) return CK_OK;
    CHECK(out);
    const uint64_t key = ck_stream_key(seed);
    CK_PAR_SPANS(n, n >= RANDOM_PAR_MIN, lo, len, uniform_span_isa(len, key, counter + lo, out + lo););
    return CK_OK;
}
