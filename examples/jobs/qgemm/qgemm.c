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
 * cost of the sandbox itself.
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

/*
 * C = A × B with B pre-transposed (rows of B^T are columns of B): each C
 * element is a dot product of two contiguous int8 rows, widened to int32,
 * which both compilers vectorize.
 */
static void multiply(int n, const int8_t *restrict a, const int8_t *restrict bt, int32_t *restrict c) {
    for (int i = 0; i < n; i++) {
        const int8_t *ai = a + (size_t)i * n;
        for (int j = 0; j < n; j++) {
            const int8_t *bj = bt + (size_t)j * n;
            int32_t acc = 0;
            for (int k = 0; k < n; k++) {
                acc += (int32_t)ai[k] * (int32_t)bj[k];
            }
            c[(size_t)i * n + j] = acc;
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
