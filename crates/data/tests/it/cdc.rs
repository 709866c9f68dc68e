//! Chunk boundaries are content-defined and match the reference chunker.

use std::collections::HashSet;

use cairn_data::file_hash::{CHUNK_MAX, chunk_boundaries};
use cairn_data::{Blake3Hash, hash_bytes};
use proptest::prelude::*;

use crate::util::{pseudo_random, reference_chunk_lens};

fn chunk_hashes(data: &[u8]) -> Vec<Blake3Hash> {
    hash_bytes(data, true)
        .chunks
        .unwrap()
        .iter()
        .map(|c| c.hash)
        .collect()
}

#[test]
fn inserting_at_the_start_keeps_most_chunks() {
    let data = pseudo_random(3 << 20, 9);
    let before = chunk_hashes(&data);
    let mut shifted = b"a few new bytes at the very beginning".to_vec();
    shifted.extend_from_slice(&data);
    let after = chunk_hashes(&shifted);
    let old: HashSet<_> = before.iter().collect();
    let kept = after.iter().filter(|h| old.contains(h)).count();
    assert!(
        before.len() > 20,
        "test needs many chunks, got {}",
        before.len()
    );
    // Only the chunk(s) around the insertion may change.
    assert!(
        kept + 2 >= before.len(),
        "only {kept} of {} chunks survived an insertion at offset 0",
        before.len()
    );
    // Fixed-size blocks would keep none: the test data really is shifted.
    assert_ne!(before[0], after[0]);
}

#[test]
fn editing_the_middle_changes_few_chunks() {
    let mut data = pseudo_random(3 << 20, 10);
    let before = chunk_hashes(&data);
    data[3 << 19] ^= 0xff;
    let after = chunk_hashes(&data);
    let old: HashSet<_> = before.iter().collect();
    let changed = after.iter().filter(|h| !old.contains(h)).count();
    assert!(
        (1..=2).contains(&changed),
        "{changed} chunks changed for a 1-byte edit"
    );
}

#[test]
fn repetitive_data_is_cut_at_max() {
    let lens: Vec<usize> = chunk_boundaries(&vec![0u8; CHUNK_MAX * 2 + 5])
        .iter()
        .map(|b| b.1)
        .collect();
    assert_eq!(lens, reference_chunk_lens(&vec![0u8; CHUNK_MAX * 2 + 5]));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The crate's chunker (fastcdc's two-bytes-per-step scan, streamed in
    /// blocks) agrees with the byte-at-a-time reference on random lengths,
    /// including lengths around the min/avg/max thresholds and odd lengths.
    #[test]
    fn boundaries_match_reference(len in 0usize..1_200_000, seed in any::<u64>()) {
        let data = pseudo_random(len, seed);
        let got: Vec<usize> = chunk_boundaries(&data).iter().map(|b| b.1).collect();
        prop_assert_eq!(got, reference_chunk_lens(&data));
    }
}
