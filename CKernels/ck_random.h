/*
 * ck_random.h — the counter-based generator behind ck_random_* and dropout.
 *
 * Draw number c of stream `seed` is a pure function of (seed, c): a kernel can
 * split a range over any number of threads, or a caller over several calls,
 * and get the same numbers. The mixer is SplitMix64's finaliser (Steele et al.,
 * 2014), applied twice so that two seeds' streams are not shifted copies of
 * each other (with one round, (key + c·γ) makes every stream a translate of
 * every other).
 */
#ifndef CK_RANDOM_H
#define CK_RANDOM_H

#include <stdint.h>

#define CK_GOLDEN_GAMMA 0x9E3779B97F4A7C15ULL

static inline uint64_t ck_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* The per-stream key, so that seeds 0, 1, 2 ... are well separated. */
static inline uint64_t ck_stream_key(uint64_t seed) {
    return ck_mix64(seed ^ 0x6A09E667F3BCC909ULL);
}

/* 64 random bits: draw `counter` of the stream with key `key`. */
static inline uint64_t ck_random_bits(uint64_t key, uint64_t counter) {
    return ck_mix64(ck_mix64(key + counter * CK_GOLDEN_GAMMA) ^ key);
}

/* Uniform in [0, 1) from the 24 high bits: every float k·2^-24 is exact and
 * equally likely, and 1.0 can never come out of rounding. */
static inline float ck_bits_to_unit(uint64_t bits) {
    return (float)(bits >> 40) * 0x1p-24f;
}

#endif /* CK_RANDOM_H */
