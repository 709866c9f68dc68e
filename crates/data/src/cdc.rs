//! The format v2 content-defined chunker: a cut test that is a function of
//! the 8 bytes before a position only, so it can be evaluated over many
//! positions at once (AVX-512: 64 positions per step, AVX2: 32), with FastCDC's
//! size rules (minimum, normalized average, maximum) applied on top.
//!
//! ```text
//!   chunk start s                      s+MIN           s+AVG                 s+MAX
//!   |── never cut (skipped) ───────────|── strict test ─|── relaxed test ──────|  cut at MAX
//!
//!   position i (cut before byte i), w(k) = u32le(bytes[k .. k+4]):
//!     x = rotl(w(i-16), 8) XOR rotl(w(i-12), 24) XOR w(i-8) XOR rotl(w(i-4), 16)
//!     h = x · K  (mod 2^32)
//!   strict:  h ≥ 2^32 − 2^15   (probability 2^-17)
//!   relaxed: h ≥ 2^32 − 2^17   (probability 2^-15)
//! ```
//!
//! Why this shape. FastCDC's gear hash carries a 64-bit state from byte to
//! byte, a serial dependency that caps it near 2–3 GB/s per core. Here each
//! position's test depends only on its own 16-byte window, so the vector
//! kernels load 16 overlapping 64-byte vectors (32-bit lanes: the four words
//! of 16 windows each), fold them with byte rotations and XOR, multiply, and
//! reduce with an unsigned maximum: a whole 64-byte stretch is rejected with
//! one compare. One 32-bit multiply per position, because 64-bit vector
//! multiplies cost three times as much on current x86 cores. The window is
//! 16 bytes, not 8, because on text an 8-byte window repeats so often that
//! a few frequent 8-grams decide the cuts and deduplication fell below
//! FastCDC's; with 16 bytes it is at or above FastCDC on random data and text. Cuts stay content-defined (a cut depends on the 8 bytes before it
//! and on where the chunk started, exactly as in FastCDC), and the size rules
//! and test probabilities are FastCDC v2020's at the same target (min 16 KiB,
//! average 64 KiB, normalization level 1, max 256 KiB), so chunk sizes and
//! deduplication match it; `cairn bench dedup` measures that on edits.
//!
//! Every kernel computes exactly the same function; [`Kernel::Scalar`] is
//! the portable definition and the tests compare the others with it.

mod simd;

/// Minimum chunk length in format v2 (16 KiB); only a file's last chunk may be shorter.
pub const V2_MIN: usize = 16 * 1024;
/// Length from which the relaxed test applies (64 KiB, the "average" of FastCDC's normalization).
pub const V2_AVG: usize = 64 * 1024;
/// Maximum chunk length in format v2 (256 KiB).
pub const V2_MAX: usize = 256 * 1024;
/// The odd multiplier of the window hash (2^32 / golden ratio).
pub const V2_MULTIPLIER: u32 = 0x9E37_79B1;
/// Strict test between [`V2_MIN`] and [`V2_AVG`]: `h >= 2^32 - 2^15` (probability 2^-17).
pub const V2_STRICT: u32 = !((1u32 << 15) - 1);
/// Relaxed test between [`V2_AVG`] and [`V2_MAX`]: `h >= 2^32 - 2^17` (probability 2^-15).
pub const V2_RELAXED: u32 = !((1u32 << 17) - 1);
/// Bytes of the window the cut test reads before a position.
pub const WINDOW: usize = 16;

/// An implementation of the cut test. All of them find the same cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// One position at a time, any CPU.
    Scalar,
    /// 32 positions per step with AVX2 (x86-64).
    Avx2,
    /// 64 positions per step with AVX-512F and AVX-512BW (x86-64).
    Avx512,
}

impl Kernel {
    /// The fastest kernel this CPU supports (checked at run time).
    pub fn detect() -> Kernel {
        if Kernel::Avx512.is_available() {
            Kernel::Avx512
        } else if Kernel::Avx2.is_available() {
            Kernel::Avx2
        } else {
            Kernel::Scalar
        }
    }

    /// Whether this CPU can run the kernel.
    pub fn is_available(self) -> bool {
        match self {
            Kernel::Scalar => true,
            other => simd::available(other),
        }
    }

    /// Short name (`scalar`, `avx2`, `avx512`).
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Scalar => "scalar",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
        }
    }

    /// The first position `i` in `from..to` whose window `data[i-16..i]`
    /// passes `h >= threshold`, or `None`. Positions below 16 are never
    /// tested (they have no full window); `to` is clamped to `data.len()`.
    ///
    /// A kernel the CPU lacks falls back to [`Kernel::Scalar`].
    pub fn find(self, data: &[u8], from: usize, to: usize, threshold: u32) -> Option<usize> {
        let from = from.max(WINDOW);
        let to = to.min(data.len());
        if from >= to {
            return None;
        }
        match self {
            Kernel::Scalar => find_scalar(data, from, to, threshold),
            other => simd::find(other, data, from, to, threshold)
                .unwrap_or_else(|| find_scalar(data, from, to, threshold)),
        }
    }
}

/// The window hash of a position from the 16 bytes `w` before it:
/// `(rotl(w0, 8) XOR rotl(w1, 24) XOR w2 XOR rotl(w3, 16)) · K mod 2^32`,
/// with `wk = u32le(w[4k .. 4k+4])`.
#[inline(always)]
pub fn window_hash(w: &[u8; 16]) -> u32 {
    let word = |k: usize| u32::from_le_bytes([w[4 * k], w[4 * k + 1], w[4 * k + 2], w[4 * k + 3]]);
    (word(0).rotate_left(8) ^ word(1).rotate_left(24) ^ word(2) ^ word(3).rotate_left(16))
        .wrapping_mul(V2_MULTIPLIER)
}

/// The portable definition of the cut test search (`WINDOW <= from < to <= len`): the first
/// position `i` in `from..to` whose window `data[i - WINDOW..i]` hashes to `threshold` or more.
pub(crate) fn find_scalar(data: &[u8], from: usize, to: usize, threshold: u32) -> Option<usize> {
    // The windows of positions `from..to` end at `to - 1` (position `to` is not searched).
    data[from - WINDOW..to - 1]
        .windows(WINDOW)
        .position(|w| {
            let mut a = [0u8; WINDOW];
            a.copy_from_slice(w);
            window_hash(&a) >= threshold
        })
        .map(|p| from + p)
}

/// Length of the format v2 chunk that starts at `data[0]` (all of `data`
/// when it is at most [`V2_MIN`] bytes).
pub fn next_chunk_len(kernel: Kernel, data: &[u8]) -> usize {
    let r = data.len();
    if r <= V2_MIN {
        return r;
    }
    let end = r.min(V2_MAX);
    let center = V2_AVG.min(end);
    if let Some(i) = kernel.find(data, V2_MIN, center, V2_STRICT) {
        return i;
    }
    kernel.find(data, center, end, V2_RELAXED).unwrap_or(end)
}

/// Chunk boundaries of `data` as `(offset, len)` pairs, as format v2 cuts
/// a file with these bytes.
pub fn chunk_boundaries_v2(kernel: Kernel, data: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::with_capacity(data.len() / V2_AVG + 1);
    let mut pos = 0;
    while pos < data.len() {
        let len = next_chunk_len(kernel, &data[pos..]);
        out.push((pos, len));
        pos += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect()
    }

    /// Byte-at-a-time definition, written independently of `find_scalar`.
    fn reference_find(data: &[u8], from: usize, to: usize, t: u32) -> Option<usize> {
        (from.max(16)..to.min(data.len())).find(|&i| {
            let mut w = [0u32; 4];
            for (n, word) in w.iter_mut().enumerate() {
                for k in 0..4 {
                    *word |= (data[i - 16 + 4 * n + k] as u32) << (8 * k);
                }
            }
            let x = w[0].rotate_left(8) ^ w[1].rotate_left(24) ^ w[2] ^ w[3].rotate_left(16);
            x.wrapping_mul(V2_MULTIPLIER) >= t
        })
    }

    fn kernels() -> Vec<Kernel> {
        [Kernel::Scalar, Kernel::Avx2, Kernel::Avx512]
            .into_iter()
            .filter(|k| k.is_available())
            .collect()
    }

    #[test]
    fn this_cpu_has_a_vector_kernel_where_expected() {
        // Not an assertion about every CPU: it documents what ran.
        eprintln!(
            "kernels tested: {:?}",
            kernels().iter().map(|k| k.name()).collect::<Vec<_>>()
        );
        assert!(Kernel::Scalar.is_available());
        assert!(kernels().contains(&Kernel::detect()));
    }

    #[test]
    fn chunks_respect_limits() {
        let data = pseudo_random(3 << 20, 5);
        let b = chunk_boundaries_v2(Kernel::detect(), &data);
        let mut pos = 0;
        for (n, &(off, len)) in b.iter().enumerate() {
            assert_eq!(off, pos);
            assert!(len <= V2_MAX);
            if n + 1 < b.len() {
                assert!(len >= V2_MIN);
            }
            pos += len;
        }
        assert_eq!(pos, data.len());
        let avg = data.len() / b.len();
        assert!((40_000..140_000).contains(&avg), "average chunk {avg}");
    }

    #[test]
    fn zeros_never_cut() {
        // x = 0 gives h = 0, below both thresholds: runs of zeros cut at MAX.
        let lens: Vec<usize> = chunk_boundaries_v2(Kernel::detect(), &vec![0u8; V2_MAX * 2 + 3])
            .iter()
            .map(|b| b.1)
            .collect();
        assert_eq!(lens, vec![V2_MAX, V2_MAX, 3]);
    }

    #[test]
    fn the_end_of_a_search_is_not_searched() {
        // Found by `kernels_agree_on_find`: the scalar kernel also tested position `to`.
        let data = pseudo_random(685, 2_326_349_586_305_655_736);
        let t = !((1u32 << (32 - 7)) - 1);
        let want = reference_find(&data, 0, 685, t);
        for k in kernels() {
            assert_eq!(k.find(&data, 0, 685, t), want, "kernel {}", k.name());
        }
        for to in WINDOW + 1..=data.len() {
            for k in kernels() {
                assert!(k.find(&data, WINDOW, to, 0).is_some_and(|i| i < to));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Every kernel finds the same first candidate as the byte-at-a-time
        /// reference, for thresholds from "almost always" to "almost never"
        /// and ranges with every alignment.
        #[test]
        fn kernels_agree_on_find(
            len in 0usize..5000,
            seed in any::<u64>(),
            from in 0usize..300,
            span in 0usize..5000,
            bits in 1u32..20,
        ) {
            let data = pseudo_random(len, seed);
            let t = !((1u32 << (32 - bits)) - 1);
            let want = reference_find(&data, from, from + span, t);
            for k in kernels() {
                prop_assert_eq!(k.find(&data, from, from + span, t), want, "kernel {}", k.name());
            }
        }

        /// Whole-buffer chunking agrees across kernels (scalar vs vector) on
        /// random data of random length.
        #[test]
        fn kernels_cut_identically(len in 0usize..1_500_000, seed in any::<u64>()) {
            let data = pseudo_random(len, seed);
            let want = chunk_boundaries_v2(Kernel::Scalar, &data);
            for k in kernels() {
                prop_assert_eq!(&chunk_boundaries_v2(k, &data), &want, "kernel {}", k.name());
            }
        }
    }
}
