//! AVX2 and AVX-512 kernels of the v2 cut test.
//!
//! The only unsafe code of the crate, and why it is here: SIMD intrinsics
//! need `#[target_feature]` functions, which may only be called (`unsafe`)
//! once the CPU is known to have the feature, and unaligned vector loads take
//! raw pointers. Every call below is guarded by `is_x86_feature_detected!`,
//! and every load reads within `data[i - 16 .. i + 64]` (AVX-512) or
//! `data[i - 16 .. i + 32]` (AVX2) with `16 <= i` and
//! `i + 64 <= to <= data.len()` (resp. `i + 32`), checked by the loop conditions. The results are tested
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

    /// Byte indices that rotate every 32-bit lane left by `8 * r` bits with a
    /// byte shuffle: result byte k of lane q takes source byte (k - r) mod 4.
    fn rot_indices(r: i32) -> [i32; 4] {
        let mut out = [0i32; 4];
        for (q, o) in out.iter_mut().enumerate() {
            let mut v = 0i32;
            for k in 0..4 {
                let src = 4 * q as i32 + (k + 4 - r) % 4;
                v |= src << (8 * k);
            }
            *o = v;
        }
        out
    }

    /// 64 positions per step. The window folds as `x(p) = a(p) XOR
    /// rotl(a(p - 8), 8)` with `a(p) = w(p - 8) XOR rotl(w(p - 4), 16)`. For
    /// `j` in 0..4, the vector `A_j` holds `a(p)` for the positions
    /// `p = i + j + 4m` (lane m), from two 64-byte loads at `i - 8 + j` and
    /// `i - 4 + j`; `a(p - 8)` is the same vector two lanes back, so it comes
    /// from this step's and the previous step's `A_j` with one `valignd`
    /// instead of two more loads (the loads, not the ALU ports, bound this
    /// loop). The first step loads it.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn find_avx512(data: &[u8], from: usize, to: usize, t: u32) -> Option<usize> {
        let k = _mm512_set1_epi32(V2_MULTIPLIER as i32);
        let tv = _mm512_set1_epi32(t as i32);
        let [r0, r1, r2, r3] = rot_indices(2);
        let rot16 = _mm512_broadcast_i32x4(_mm_setr_epi32(r0, r1, r2, r3));
        // a(p) for the 16 positions whose word w(p - 8) starts at `at`.
        // Callers guarantee data[at .. at + 68] is in bounds.
        let a = |at: usize| {
            // SAFETY: the caller's bound; two 64-byte loads at `at` and `at + 4`.
            let (lo, hi) = unsafe {
                let p = data.as_ptr().add(at);
                (
                    _mm512_loadu_si512(p.cast()),
                    _mm512_loadu_si512(p.add(4).cast()),
                )
            };
            _mm512_xor_si512(lo, _mm512_shuffle_epi8(hi, rot16))
        };
        let mut i = from;
        let mut last: Option<[__m512i; 4]> = None;
        while i + 64 <= to {
            // In bounds: i >= from >= 16 and i + 64 <= to <= data.len(); the
            // loads below read data[i - 16 .. i + 63].
            let base = i - WINDOW;
            let cur = [0, 1, 2, 3].map(|j| a(base + 8 + j));
            let back = match last {
                Some(prev) => [0, 1, 2, 3].map(|j| _mm512_alignr_epi32::<14>(cur[j], prev[j])),
                None => [0, 1, 2, 3].map(|j| a(base + j)),
            };
            let h = |j: usize| {
                let x = _mm512_xor_si512(cur[j], _mm512_rol_epi32::<8>(back[j]));
                _mm512_mullo_epi32(x, k)
            };
            let m = _mm512_max_epu32(_mm512_max_epu32(h(0), h(1)), _mm512_max_epu32(h(2), h(3)));
            if _mm512_cmpge_epu32_mask(m, tv) != 0 {
                // A rare hit somewhere in these 64: the scalar scan finds the first.
                return find_scalar(data, i, i + 64, t);
            }
            last = Some(cur);
            i += 64;
        }
        if i < to {
            find_scalar(data, i, to, t)
        } else {
            None
        }
    }

    /// 32 positions per step: the same layout as [`find_avx512`] with
    /// 32-byte vectors (8 lanes); rotations are byte shuffles.
    #[target_feature(enable = "avx2")]
    pub(super) fn find_avx2(data: &[u8], from: usize, to: usize, t: u32) -> Option<usize> {
        let k = _mm256_set1_epi32(V2_MULTIPLIER as i32);
        let tv = _mm256_set1_epi32(t as i32);
        let idx = |r: i32| {
            let [a, b, c, d] = rot_indices(r);
            _mm256_setr_epi32(a, b, c, d, a, b, c, d)
        };
        let (rot8, rot16, rot24) = (idx(1), idx(2), idx(3));
        let mut i = from;
        while i + 32 <= to {
            // SAFETY: i >= 16 and i + 32 <= data.len(): loads read data[i-16 .. i+31].
            let base = unsafe { data.as_ptr().add(i - WINDOW) };
            let h = |j: usize| {
                // SAFETY: see above; j < 4, and each load is 32 bytes at base + 4n + j, n < 4.
                let [w0, w1, w2, w3] =
                    [0, 4, 8, 12].map(|n| unsafe { _mm256_loadu_si256(base.add(n + j).cast()) });
                let x = _mm256_xor_si256(
                    _mm256_xor_si256(
                        _mm256_shuffle_epi8(w0, rot8),
                        _mm256_shuffle_epi8(w1, rot24),
                    ),
                    _mm256_xor_si256(w2, _mm256_shuffle_epi8(w3, rot16)),
                );
                _mm256_mullo_epi32(x, k)
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
