//! AVX2 and AVX-512 kernels of the v2 cut test.
//!
//! The only unsafe code of the crate, and why it is here: SIMD intrinsics
//! need `#[target_feature]` functions, which may only be called (`unsafe`)
//! once the CPU is known to have the feature, and unaligned vector loads take
//! raw pointers. Every call below is guarded by `is_x86_feature_detected!`,
//! and every load reads `data[i - 8 .. i + 64]` (AVX-512) or
//! `data[i - 8 .. i + 32]` (AVX2) with `8 <= i` and `i + 64 <= to <= data.len()`
//! (resp. `i + 32`), checked by the loop conditions. The results are tested
//! against the scalar definition (`cdc::tests`).
#![allow(unsafe_code)]

use super::Kernel;

/// Whether the CPU can run `kernel` (a vector kernel).
pub(super) fn available(kernel: Kernel) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        match kernel {
            Kernel::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f")
            }
            Kernel::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            Kernel::Scalar => true,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        matches!(kernel, Kernel::Scalar)
    }
}

/// Runs the vector `kernel` if the CPU has it; `None` means "use scalar".
/// Requires `8 <= from < to <= data.len()`.
pub(super) fn find(
    kernel: Kernel,
    data: &[u8],
    from: usize,
    to: usize,
    threshold: u32,
) -> Option<Option<usize>> {
    debug_assert!(from >= super::WINDOW && from < to && to <= data.len());
    #[cfg(target_arch = "x86_64")]
    {
        if !available(kernel) {
            return None;
        }
        match kernel {
            // SAFETY: the CPU has AVX-512F and AVX-512BW (checked just above).
            Kernel::Avx512 => Some(unsafe { x86::find_avx512(data, from, to, threshold) }),
            // SAFETY: the CPU has AVX2 (checked just above).
            Kernel::Avx2 => Some(unsafe { x86::find_avx2(data, from, to, threshold) }),
            Kernel::Scalar => None,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (kernel, data, from, to, threshold);
        None
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use crate::cdc::{V2_MULTIPLIER, WINDOW, find_scalar};

    /// 64 positions per step. With `base = i - 8`, the 64-byte load at
    /// `base + j` (j in 0..4) holds in its 32-bit lane `m` the `lo` half of
    /// position `i + j + 4m`, and the load at `base + 4 + j` its `hi` half,
    /// so 8 loads cover positions `i .. i + 64`.
    /// The 16-bit rotation is a byte shuffle (port 5 on Intel) so that the
    /// multiply port is left to the multiplies.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn find_avx512(data: &[u8], from: usize, to: usize, t: u32) -> Option<usize> {
        let k = _mm512_set1_epi32(V2_MULTIPLIER as i32);
        // In each 32-bit lane q of a 128-bit block, result bytes (0, 1, 2, 3) =
        // source bytes (2, 3, 0, 1) of that lane, i.e. indices 4q + (2, 3, 0, 1): rotl 16.
        let rot = _mm512_broadcast_i32x4(_mm_setr_epi32(
            0x0100_0302,
            0x0504_0706,
            0x0908_0B0A,
            0x0D0C_0F0E,
        ));
        let tv = _mm512_set1_epi32(t as i32);
        let mut i = from;
        while i + 64 <= to {
            // SAFETY: i >= from >= 8 and i + 64 <= to <= data.len(), so the
            // loads read data[i-8 .. i+63], all in bounds.
            let base = unsafe { data.as_ptr().add(i - WINDOW) };
            let h = |j: usize| {
                // SAFETY: see above; j < 4, and each load is 64 bytes at base + j (+ 4).
                let (lo, hi) = unsafe {
                    (
                        _mm512_loadu_si512(base.add(j).cast()),
                        _mm512_loadu_si512(base.add(j + 4).cast()),
                    )
                };
                let x = _mm512_xor_si512(lo, _mm512_shuffle_epi8(hi, rot));
                _mm512_mullo_epi32(x, k)
            };
            let m = _mm512_max_epu32(_mm512_max_epu32(h(0), h(1)), _mm512_max_epu32(h(2), h(3)));
            if _mm512_cmpge_epu32_mask(m, tv) != 0 {
                // A rare hit somewhere in these 64: the scalar scan finds the first.
                return find_scalar(data, i, i + 64, t);
            }
            i += 64;
        }
        if i < to {
            find_scalar(data, i, to, t)
        } else {
            None
        }
    }

    /// 32 positions per step: the same layout as [`find_avx512`] with
    /// 32-byte vectors (8 lanes).
    #[target_feature(enable = "avx2")]
    pub(super) fn find_avx2(data: &[u8], from: usize, to: usize, t: u32) -> Option<usize> {
        let k = _mm256_set1_epi32(V2_MULTIPLIER as i32);
        let tv = _mm256_set1_epi32(t as i32);
        let mut i = from;
        while i + 32 <= to {
            // SAFETY: i >= 8 and i + 32 <= data.len(): loads read data[i-8 .. i+31].
            let base = unsafe { data.as_ptr().add(i - WINDOW) };
            let h = |j: usize| {
                // SAFETY: see above; j < 4, and each load is 32 bytes at base + j (+ 4).
                let (lo, hi) = unsafe {
                    (
                        _mm256_loadu_si256(base.add(j).cast()),
                        _mm256_loadu_si256(base.add(j + 4).cast()),
                    )
                };
                let rot = _mm256_or_si256(_mm256_slli_epi32::<16>(hi), _mm256_srli_epi32::<16>(hi));
                _mm256_mullo_epi32(_mm256_xor_si256(lo, rot), k)
            };
            let m = _mm256_max_epu32(_mm256_max_epu32(h(0), h(1)), _mm256_max_epu32(h(2), h(3)));
            // h >= t for some lane  <=>  max(m, t) == m in some lane.
            let hit = _mm256_cmpeq_epi32(_mm256_max_epu32(m, tv), m);
            if _mm256_movemask_epi8(hit) != 0 {
                return find_scalar(data, i, i + 32, t);
            }
            i += 32;
        }
        if i < to {
            find_scalar(data, i, to, t)
        } else {
            None
        }
    }
}
