//! RFC 6962 hashing, roots, inclusion and consistency proofs.

use cairn_tlog::*;
use proptest::prelude::*;

use crate::unhex;
use crate::{h, shared_tree};

/// The standard 8-leaf RFC 6962 test inputs, as used by
/// transparency-dev/merkle `testonly/constants.go` (`LeafInputs`) and
/// certificate-transparency-go's merkle tests.
fn leaf_inputs() -> Vec<Vec<u8>> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|s| unhex(s))
    .collect()
}

fn vector_tree() -> MemoryTree {
    MemoryTree::from_leaves(leaf_inputs().iter().map(|l| leaf_hash(l)))
}

/// transparency-dev/merkle `testonly/constants.go` `RootHashes`: roots of
/// the trees of sizes 0..=8 over `leaf_inputs`.
const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// transparency-dev/merkle `testonly/constants.go` `NodeHashes`: every
/// complete subtree of the 8-leaf tree, by level.
const NODES: [&[&str]; 4] = [
    &[
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    &[
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    &[
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    &["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
];

#[test]
fn rfc6962_leaf_node_and_root_vectors() {
    assert_eq!(empty_root(), h(ROOTS[0]));
    let tree = vector_tree();
    for (level, hashes) in NODES.iter().enumerate() {
        for (i, want) in hashes.iter().enumerate() {
            assert_eq!(
                tree.node(level as u8, i as u64).unwrap(),
                h(want),
                "node({level}, {i})"
            );
        }
    }
    for (size, want) in ROOTS.iter().enumerate() {
        assert_eq!(
            tree.root_at(size as u64).unwrap(),
            h(want),
            "root of size {size}"
        );
    }
    assert_eq!(tree.root(), h(ROOTS[8]));
}

/// transparency-dev/merkle `proof/verify_test.go` `inclusionProofs`
/// (their leaf numbers are 1-based; ours are 0-based indexes).
fn inclusion_vectors() -> Vec<(u64, u64, Vec<Hash>)> {
    vec![
        (
            0,
            8,
            vec![
                h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ],
        ),
        (
            5,
            8,
            vec![
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
        (
            2,
            3,
            vec![h(
                "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            )],
        ),
        (
            1,
            5,
            vec![
                h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            ],
        ),
        (0, 1, vec![]),
    ]
}

/// transparency-dev/merkle `proof/verify_test.go` `consistencyProofs`.
fn consistency_vectors() -> Vec<(u64, u64, Vec<Hash>)> {
    vec![
        (1, 1, vec![]),
        (
            1,
            8,
            vec![
                h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ],
        ),
        (
            6,
            8,
            vec![
                h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
        (
            2,
            5,
            vec![
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            ],
        ),
        (
            6,
            7,
            vec![
                h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
    ]
}

#[test]
fn rfc6962_inclusion_vectors() {
    let tree = vector_tree();
    let leaves = leaf_inputs();
    for (index, size, want) in inclusion_vectors() {
        let got = inclusion_proof(&tree, index, size).unwrap();
        assert_eq!(got, want, "inclusion proof for {index} in {size}");
        let root = h(ROOTS[size as usize]);
        let leaf = leaf_hash(&leaves[index as usize]);
        verify_inclusion(&leaf, index, size, &want, &root).unwrap();
        // The same proof must not verify for a neighbouring index or another
        // tree height (the probes of transparency-dev/merkle verifierCheck).
        if size > 1 {
            assert!(verify_inclusion(&leaf, index ^ 1, size, &want, &root).is_err());
        }
        assert!(verify_inclusion(&leaf, index, size * 2, &want, &root).is_err());
        if size / 2 > index {
            assert!(verify_inclusion(&leaf, index, size / 2, &want, &root).is_err());
        }
    }
}

#[test]
fn rfc6962_consistency_vectors() {
    let tree = vector_tree();
    for (old, new, want) in consistency_vectors() {
        let got = consistency_proof(&tree, old, new).unwrap();
        assert_eq!(got, want, "consistency proof {old} -> {new}");
        let (r1, r2) = (h(ROOTS[old as usize]), h(ROOTS[new as usize]));
        verify_consistency(old, new, &r1, &r2, &want).unwrap();
        if old != new {
            assert!(
                verify_consistency(old, new, &r2, &r1, &want).is_err(),
                "swapped roots {old} -> {new}"
            );
            // The size probes of transparency-dev/merkle corruptConsistencyProof.
            for (o, n) in [
                (old - 1, new),
                (old + 1, new),
                (old ^ 2, new),
                (old, new * 2),
                (old, new / 2),
            ] {
                assert!(
                    verify_consistency(o, n, &r1, &r2, &want).is_err(),
                    "{old} -> {new} proof accepted as {o} -> {n}"
                );
            }
            assert!(verify_consistency(old, new, &r1, &r2, &want[..want.len() - 1]).is_err());
            let mut longer = want.clone();
            longer.push(r1);
            assert!(verify_consistency(old, new, &r1, &r2, &longer).is_err());
        }
    }
}

/// The trivial cases of transparency-dev/merkle `TestVerifyConsistency`.
#[test]
fn consistency_edge_cases() {
    let a = [1u8; 32];
    let b = [2u8; 32];
    // Empty old tree: consistent with anything, with an empty proof.
    verify_consistency(0, 0, &a, &a, &[]).unwrap();
    verify_consistency(0, 5, &a, &b, &[]).unwrap();
    assert!(verify_consistency(0, 5, &a, &b, &[a]).is_err());
    // Same size: roots must be equal and the proof empty.
    verify_consistency(1, 1, &b, &b, &[]).unwrap();
    assert_eq!(
        verify_consistency(1, 1, &a, &b, &[]),
        Err(ProofError::SameSizeDifferentRoots)
    );
    assert!(verify_consistency(1, 1, &a, &a, &[a]).is_err());
    // Shrinking and missing proofs.
    assert_eq!(
        verify_consistency(2, 1, &a, &b, &[]),
        Err(ProofError::SizeOrder { old: 2, new: 1 })
    );
    assert!(matches!(
        verify_consistency(1, 2, &a, &b, &[]),
        Err(ProofError::WrongLength { .. })
    ));
    assert!(matches!(
        verify_consistency(3, 5, &a, &b, &[]),
        Err(ProofError::WrongLength { .. })
    ));
}

#[test]
fn inclusion_edge_cases() {
    let leaf = leaf_hash(b"data");
    // A one-leaf tree's root is its leaf hash and the proof is empty.
    verify_inclusion(&leaf, 0, 1, &[], &leaf).unwrap();
    assert_eq!(
        verify_inclusion(&leaf, 0, 1, &[], &empty_root()),
        Err(ProofError::RootMismatch)
    );
    assert_eq!(
        verify_inclusion(&leaf, 0, 0, &[], &empty_root()),
        Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
    );
    assert_eq!(
        verify_inclusion(&leaf, 2, 1, &[], &leaf),
        Err(ProofError::IndexOutOfRange { index: 2, size: 1 })
    );
    assert_eq!(
        verify_inclusion(&leaf, 0, 1, &[leaf], &leaf),
        Err(ProofError::WrongLength {
            expected: 0,
            got: 1
        })
    );
    // The error text tells the operator what to check.
    let msg = verify_inclusion(&leaf, 0, 4, &[leaf], &leaf)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("1 hashes but 2"), "{msg}");
}

// --- Reference model: the RFC 6962 definitions, directly on leaf slices. ---

fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn ref_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    if leaves.len() <= 1 {
        return vec![];
    }
    let k = split(leaves.len());
    if m < k {
        let mut p = ref_path(m, &leaves[..k]);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = ref_path(m - k, &leaves[k..]);
        p.push(mth(&leaves[..k]));
        p
    }
}

fn ref_subproof(m: usize, leaves: &[Hash], whole: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if whole { vec![] } else { vec![mth(leaves)] };
    }
    let k = split(n);
    if m <= k {
        let mut p = ref_subproof(m, &leaves[..k], whole);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = ref_subproof(m - k, &leaves[k..], false);
        p.push(mth(&leaves[..k]));
        p
    }
}

#[test]
fn proofs_match_the_rfc_definitions_exhaustively() {
    let leaves: Vec<Hash> = (0..40u32).map(|i| leaf_hash(&i.to_le_bytes())).collect();
    let tree = MemoryTree::from_leaves(leaves.iter().copied());
    for n in 1..=leaves.len() {
        let root = mth(&leaves[..n]);
        assert_eq!(tree.root_at(n as u64).unwrap(), root, "root {n}");
        for m in 0..n {
            let p = inclusion_proof(&tree, m as u64, n as u64).unwrap();
            assert_eq!(p, ref_path(m, &leaves[..n]), "path {m} in {n}");
            verify_inclusion(&leaves[m], m as u64, n as u64, &p, &root).unwrap();
        }
        for m in 1..=n {
            let p = consistency_proof(&tree, m as u64, n as u64).unwrap();
            let want = if m == n {
                vec![]
            } else {
                ref_subproof(m, &leaves[..n], true)
            };
            assert_eq!(p, want, "consistency {m} -> {n}");
            verify_consistency(m as u64, n as u64, &mth(&leaves[..m]), &root, &p).unwrap();
        }
    }
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut out = *h;
    out[bit / 8] ^= 1 << (bit % 8);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn inclusion_proofs_verify_and_detect_bit_flips(
        size in 1u64..=2000,
        index_seed in any::<u64>(),
        element in any::<usize>(),
        bit in 0usize..256,
    ) {
        let tree = shared_tree();
        let index = index_seed % size;
        let root = tree.root_at(size).unwrap();
        let leaf = tree.leaf(index).unwrap();
        let proof = inclusion_proof(tree, index, size).unwrap();
        prop_assert_eq!(verify_inclusion(&leaf, index, size, &proof, &root), Ok(()));

        prop_assert!(verify_inclusion(&flip(&leaf, bit), index, size, &proof, &root).is_err());
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &flip(&root, bit)).is_err());
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let i = element % bad.len();
            bad[i] = flip(&bad[i], bit);
            prop_assert!(verify_inclusion(&leaf, index, size, &bad, &root).is_err());
        }
        // A proof made for another tree size does not verify against this
        // tree's root. (Claiming another size for a correct proof is not
        // always detectable: trees of different sizes can share a path shape.)
        let other = 1 + (index_seed >> 11) % 2000;
        if other != size && other > index {
            let stale = inclusion_proof(tree, index, other).unwrap();
            prop_assert!(verify_inclusion(&leaf, index, size, &stale, &root).is_err());
            prop_assert!(verify_inclusion(&leaf, index, other, &stale, &root).is_err());
        }
    }

    #[test]
    fn consistency_proofs_verify_and_detect_bit_flips(
        new in 1u64..=2000,
        old_seed in any::<u64>(),
        element in any::<usize>(),
        bit in 0usize..256,
    ) {
        let tree = shared_tree();
        let old = 1 + old_seed % new;
        let (r1, r2) = (tree.root_at(old).unwrap(), tree.root_at(new).unwrap());
        let proof = consistency_proof(tree, old, new).unwrap();
        prop_assert_eq!(verify_consistency(old, new, &r1, &r2, &proof), Ok(()));
        if old < new {
            prop_assert!(verify_consistency(old, new, &flip(&r1, bit), &r2, &proof).is_err());
            prop_assert!(verify_consistency(old, new, &r1, &flip(&r2, bit), &proof).is_err());
            let mut bad = proof.clone();
            let i = element % bad.len();
            bad[i] = flip(&bad[i], bit);
            prop_assert!(verify_consistency(old, new, &r1, &r2, &bad).is_err());
        }
    }
}
