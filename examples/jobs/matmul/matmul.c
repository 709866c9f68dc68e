/*
 * matmul: the numeric kernel for `cairn bench wasm`, built both for
 * wasm32-wasi and natively from this one file (`make jobs`).
 *
 * Multiplies two N×N double-precision matrices filled from a fixed LCG,
 * REPS times, and prints one line with a checksum of the product: the sum
 * of its elements and an FNV-1a hash of their IEEE-754 bits. The hash makes
 * any bit of difference visible, so equal lines from the sandbox and the
 * native build show that the results are bit-identical (neither build
 * contracts into FMA or reorders the summation).
 *
 * Usage: matmul [N=256] [REPS=1]; N in 1..4096, REPS in 1..1000.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Four vector iterations per loop trip: fewer loop-header checks per
 * multiply-add, in the sandbox (fuel and epoch checks) and natively alike. */
#if defined(__clang__)
#define INTERLEAVE_4 _Pragma("clang loop interleave_count(4)")
#else
#define INTERLEAVE_4
#endif

static uint64_t lcg = 0x9E3779B97F4A7C15ULL;

/* A double in [-0.5, 0.5) from the top 53 bits of a 64-bit LCG. */
static double next(void) {
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg >> 11) * (1.0 / 9007199254740992.0) - 0.5;
}

/*
 * C = A × B, row-major. Four rows of C at a time: each element of a B row
 * loaded feeds four multiply-adds (register blocking, as real numeric
 * kernels do), and the inner loop streams rows, which vectorizes. Every
 * C element still accumulates its products in k order, so the result is
 * bit-identical to the textbook triple loop.
 */
static void multiply(int n, const double *restrict a, const double *restrict b, double *restrict c) {
    memset(c, 0, (size_t)n * n * sizeof *c);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        double *c0 = c + (size_t)i * n, *c1 = c0 + n, *c2 = c1 + n, *c3 = c2 + n;
        for (int k = 0; k < n; k++) {
            const double a0 = a[(size_t)i * n + k], a1 = a[(size_t)(i + 1) * n + k];
            const double a2 = a[(size_t)(i + 2) * n + k], a3 = a[(size_t)(i + 3) * n + k];
            const double *bk = b + (size_t)k * n;
            INTERLEAVE_4
            for (int j = 0; j < n; j++) {
                const double bkj = bk[j];
                c0[j] += a0 * bkj;
                c1[j] += a1 * bkj;
                c2[j] += a2 * bkj;
                c3[j] += a3 * bkj;
            }
        }
    }
    for (; i < n; i++) {
        double *ci = c + (size_t)i * n;
        for (int k = 0; k < n; k++) {
            const double aik = a[(size_t)i * n + k];
            const double *bk = b + (size_t)k * n;
            for (int j = 0; j < n; j++) ci[j] += aik * bk[j];
        }
    }
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 256;
    int reps = argc > 2 ? atoi(argv[2]) : 1;
    if (n < 1 || n > 4096 || reps < 1 || reps > 1000) {
        fprintf(stderr, "usage: matmul [N in 1..4096] [REPS in 1..1000]\n");
        return 2;
    }
    size_t cells = (size_t)n * n;
    double *a = malloc(cells * sizeof *a);
    double *b = malloc(cells * sizeof *b);
    double *c = malloc(cells * sizeof *c);
    if (!a || !b || !c) {
        fprintf(stderr, "matmul: out of memory for N=%d\n", n);
        return 3;
    }
    for (size_t i = 0; i < cells; i++) a[i] = next();
    for (size_t i = 0; i < cells; i++) b[i] = next();

    for (int r = 0; r < reps; r++) {
        multiply(n, a, b, c);
        a[r % cells] += c[cells - 1 - (size_t)r % cells]; /* chain the reps so none is dead code */
    }

    double sum = 0.0;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < cells; i++) {
        uint64_t bits;
        memcpy(&bits, &c[i], sizeof bits);
        sum += c[i];
        for (int s = 0; s < 64; s += 8) {
            h ^= (bits >> s) & 0xff;
            h *= 1099511628211ULL;
        }
    }
    printf("matmul n=%d reps=%d sum=%.17g bits=%016llx\n", n, reps, sum, (unsigned long long)h);
    return 0;
}
