/*
 * qgemm: a quantized matrix multiply, the integer kernel of AI inference
 * (int8 weights and activations, int32 accumulators), built both for
 * wasm32-wasi and natively from this one file (`make jobs`).
 *
 * Multiplies two N×N int8 matrices filled from a fixed LCG, REPS times, and
 * prints one line with the sum of the int32 product and an FNV-1a hash of its
 * elements. Integer arithmetic is exact, so the sandbox and the native build
 * must print the same line; and unlike floating point it pays nothing for the
 * sandbox's NaN canonicalization, which makes it the kernel that shows the
 * cost of the sandbox itself. The native build uses -march=native, as
 * wasmtime's compiler uses every feature of the host CPU.
 *
 * Usage: qgemm [N=256] [REPS=1]; N in 1..4096, REPS in 1..1000.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t lcg = 0x2545F4914F6CDD1DULL;

static int8_t next(void) {
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (int8_t)(lcg >> 56);
}

/* GCC/clang vector extensions: the same source vectorizes for wasm32 (simd128) and natively. */
typedef int8_t i8x8 __attribute__((vector_size(8)));
typedef int16_t i16x8 __attribute__((vector_size(16)));
typedef int16_t i16x4 __attribute__((vector_size(8)));
typedef int32_t i32x4 __attribute__((vector_size(16)));

/* Eight int8 products widened to int16 (exact: |a·b| ≤ 2^14), summed pairwise into int32 lanes. */
static inline i32x4 madd8(const int8_t *a, const int8_t *b) {
    i8x8 va, vb;
    memcpy(&va, a, sizeof va);
    memcpy(&vb, b, sizeof vb);
    i16x8 p = __builtin_convertvector(va, i16x8) * __builtin_convertvector(vb, i16x8);
    i16x4 lo = __builtin_shufflevector(p, p, 0, 1, 2, 3);
    i16x4 hi = __builtin_shufflevector(p, p, 4, 5, 6, 7);
    return __builtin_convertvector(lo, i32x4) + __builtin_convertvector(hi, i32x4);
}

/* Dot product of two int8 rows with four independent accumulators (integer sums are exact, so
 * the order does not change the result). */
static int32_t dot(const int8_t *a, const int8_t *b, int n) {
    i32x4 acc0 = {0, 0, 0, 0}, acc1 = acc0, acc2 = acc0, acc3 = acc0;
    int k = 0;
    for (; k + 32 <= n; k += 32) {
        acc0 += madd8(a + k, b + k);
        acc1 += madd8(a + k + 8, b + k + 8);
        acc2 += madd8(a + k + 16, b + k + 16);
        acc3 += madd8(a + k + 24, b + k + 24);
    }
    i32x4 acc = acc0 + acc1 + acc2 + acc3;
    int32_t s = acc[0] + acc[1] + acc[2] + acc[3];
    for (; k < n; k++) s += (int32_t)a[k] * (int32_t)b[k];
    return s;
}

/* C = A × B with B pre-transposed: each C element is a dot product of two contiguous rows. */
static void multiply(int n, const int8_t *restrict a, const int8_t *restrict bt, int32_t *restrict c) {
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            c[(size_t)i * n + j] = dot(a + (size_t)i * n, bt + (size_t)j * n, n);
        }
    }
}

static long arg(int argc, char **argv, int i, long dflt, long lo, long hi) {
    if (argc <= i) return dflt;
    char *end;
    long v = strtol(argv[i], &end, 10);
    if (*end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "qgemm: argument %d must be an integer in %ld..%ld\n", i, lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    int n = (int)arg(argc, argv, 1, 256, 1, 4096);
    int reps = (int)arg(argc, argv, 2, 1, 1, 1000);
    size_t cells = (size_t)n * n;
    int8_t *a = malloc(cells), *bt = malloc(cells);
    int32_t *c = malloc(cells * sizeof *c);
    if (!a || !bt || !c) {
        fprintf(stderr, "qgemm: out of memory for N=%d\n", n);
        return 3;
    }
    for (size_t x = 0; x < cells; x++) a[x] = next();
    for (size_t x = 0; x < cells; x++) bt[x] = next();
    for (int r = 0; r < reps; r++) multiply(n, a, bt, c);
    int64_t sum = 0;
    uint64_t fnv = 0xcbf29ce484222325ULL;
    for (size_t x = 0; x < cells; x++) {
        sum += c[x];
        uint32_t v = (uint32_t)c[x];
        for (int b = 0; b < 4; b++) {
            fnv ^= (v >> (8 * b)) & 0xff;
            fnv *= 0x100000001b3ULL;
        }
    }
    printf("qgemm n=%d reps=%d sum=%lld fnv=%016llx\n", n, reps, (long long)sum, (unsigned long long)fnv);
    free(a);
    free(bt);
    free(c);
    return 0;
}
