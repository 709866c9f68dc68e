//! C2SP tlog-tiles paths, tile sets, and proofs computed over tiles.

use std::collections::HashMap;

use cairn_tlog::*;
use proptest::prelude::*;

use crate::shared_tree;

fn tree_of(size: u64) -> MemoryTree {
    MemoryTree::from_leaves((0..size).map(|i| leaf_hash(&i.to_be_bytes())))
}

/// All tiles of `tree` at `size`, as a log would store them.
fn tile_store(tree: &MemoryTree, size: u64) -> HashMap<TileId, Vec<u8>> {
    tiles_for_size(size)
        .into_iter()
        .map(|t| (t, build_tile(tree, t).unwrap()))
        .collect()
}

fn source(
    store: &HashMap<TileId, Vec<u8>>,
    size: u64,
) -> TileNodeSource<impl Fn(TileId) -> Result<Vec<u8>> + '_> {
    TileNodeSource::new(size, move |t: TileId| {
        store.get(&t).cloned().ok_or(Error::MissingNode {
            level: t.level,
            index: t.index,
        })
    })
}

#[test]
fn spec_path_example() {
    // C2SP tlog-tiles: "index 1234067 will be encoded as x001/x234/067".
    let t = TileId::full(0, 1_234_067);
    assert_eq!(t.path(), "tile/0/x001/x234/067");
    assert_eq!(t.entries_path(), "tile/entries/x001/x234/067");
    let p = TileId {
        level: 0,
        index: 67,
        width: 12,
    };
    assert_eq!(p.path(), "tile/0/067.p/12");
    assert_eq!(p.entries_path(), "tile/entries/067.p/12");
    assert_eq!(TileId::full(3, 0).path(), "tile/3/000");
}

#[test]
fn parse_round_trips_and_distinguishes_kinds() {
    for t in [
        TileId::full(0, 0),
        TileId::full(0, 1_234_067),
        TileId::full(2, 999),
        TileId::full(1, 1000),
        TileId {
            level: 5,
            index: 7,
            width: 255,
        },
        TileId {
            level: 0,
            index: u64::MAX >> 8,
            width: 1,
        },
    ] {
        assert_eq!(TileId::parse(&t.path()).unwrap(), TileParse::Hash(t));
        if t.level == 0 {
            assert_eq!(
                TileId::parse(&t.entries_path()).unwrap(),
                TileParse::Entries(t)
            );
        }
    }
    assert_eq!(
        TileId::parse("tile/entries/x001/x234/067.p/5")
            .unwrap()
            .tile(),
        TileId {
            level: 0,
            index: 1_234_067,
            width: 5
        }
    );
}

#[test]
fn parse_rejects_non_canonical_paths_with_reasons() {
    let cases = [
        ("tiles/0/000", "start with"),
        ("tile/0", "needs a level"),
        ("tile/00/000", "leading zeros"),
        ("tile/64/000", "maximum 63"),
        ("tile/-1/000", "decimal"),
        ("tile/0/1234", "exactly 3 digits"),
        ("tile/0/67", "exactly 3 digits"),
        ("tile/0/001/002", "must start with 'x'"),
        ("tile/0/x1/000", "exactly 3 digits"),
        ("tile/0/x000/001", "leading all-zero"),
        ("tile/0/x001/x234/x067", "exactly 3 digits"),
        ("tile/0/000/", "must start with 'x'"),
        ("tile/0/000.p", "exactly 3 digits"),
        ("tile/0/000.p/", "partial width"),
        ("tile/0/000.p/0", "between 1 and 255"),
        ("tile/0/000.p/256", "between 1 and 255"),
        ("tile/0/000.p/012", "leading zeros"),
        ("tile/0/000.p/12/3", "must start with 'x'"),
        ("tile/7/001", "beyond any tree"),
        ("tile/0/x018/x446/x744/x073/x709/x551/616", "64 bits"),
        ("tile/entries/x000/001", "leading all-zero"),
    ];
    for (path, why) in cases {
        let err = TileId::parse(path).expect_err(path).to_string();
        assert!(err.contains(path), "{path}: {err}");
        assert!(err.contains(why), "{path}: expected {why:?} in {err}");
    }
    assert!(TileId::parse("tile/7/000").is_ok());
}

#[test]
fn spec_tile_set_examples() {
    // C2SP tlog-tiles: "a tree of size 70,000 will be represented by 273 full
    // level 0 tiles, one partial level 0 tile of width 112, one full level 1
    // tile, one partial level 1 tile of width 17, and one partial level 2 tile
    // of width 1."
    let tiles = tiles_for_size(70_000);
    let full0 = tiles.iter().filter(|t| t.level == 0 && t.is_full()).count();
    assert_eq!(full0, 273);
    let partial = |level| {
        tiles
            .iter()
            .filter(|t| t.level == level && !t.is_full())
            .map(|t| t.width)
            .collect::<Vec<_>>()
    };
    assert_eq!(partial(0), vec![112]);
    assert_eq!(partial(1), vec![17]);
    assert_eq!(partial(2), vec![1]);
    assert!(tiles.contains(&TileId::full(1, 0)));
    assert_eq!(tiles.len(), 273 + 1 + 1 + 1 + 1);

    // "a tree of size 256 will be represented by a full level 0 tile and a
    // partial level 1 tile of width 1."
    assert_eq!(
        tiles_for_size(256),
        vec![
            TileId::full(0, 0),
            TileId {
                level: 1,
                index: 0,
                width: 1
            }
        ]
    );
    assert!(tiles_for_size(0).is_empty());
}

#[test]
fn tiles_between_is_the_set_difference() {
    for (old, new) in [
        (0, 1),
        (1, 2),
        (255, 256),
        (256, 257),
        (300, 70_000),
        (70_000, 70_001),
    ] {
        let before = tiles_for_size(old);
        let want: Vec<TileId> = tiles_for_size(new)
            .into_iter()
            .filter(|t| !before.contains(t))
            .collect();
        assert_eq!(tiles_between(old, new), want, "{old} -> {new}");
    }
    assert!(tiles_between(10, 10).is_empty());
    assert!(tiles_between(11, 10).is_empty());
}

/// A three-tile-level tree (the spec's 70,000 example): roots and proofs read
/// through tiles equal those of the in-memory tree.
#[test]
fn tile_source_over_three_tile_levels() {
    let tree = tree_of(70_000);
    let store = tile_store(&tree, 70_000);
    let src = source(&store, 70_000);
    assert_eq!(tree_root(&src, 70_000).unwrap(), tree.root());
    for (index, size) in [
        (0, 70_000),
        (69_999, 70_000),
        (65_535, 70_000),
        (12_345, 65_536),
    ] {
        assert_eq!(
            inclusion_proof(&src, index, size).unwrap(),
            inclusion_proof(&tree, index, size).unwrap()
        );
    }
    assert_eq!(
        consistency_proof(&src, 65_537, 70_000).unwrap(),
        consistency_proof(&tree, 65_537, 70_000).unwrap()
    );
}

#[test]
fn tile_source_reports_bad_tiles() {
    let tree = shared_tree();
    let mut store = tile_store(tree, 300);
    // A truncated tile is reported with its path and sizes.
    store.get_mut(&TileId::full(0, 0)).unwrap().pop();
    let src = source(&store, 300);
    let err = inclusion_proof(&src, 0, 300).unwrap_err().to_string();
    assert!(err.contains("tile/0/000"), "{err}");
    assert!(err.contains("8191"), "{err}");
    // A node beyond the source's size is refused.
    let src = source(&store, 300);
    assert!(matches!(src.node(0, 300), Err(Error::NodeNotInTree { .. })));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn tile_source_root_and_proofs_equal_memory_tree(
        size in 1u64..=2000,
        seed in any::<u64>(),
    ) {
        let tree = shared_tree();
        let store = tile_store(tree, size);
        let src = source(&store, size);
        prop_assert_eq!(tree_root(&src, size).unwrap(), tree.root_at(size).unwrap());
        let index = seed % size;
        prop_assert_eq!(
            inclusion_proof(&src, index, size).unwrap(),
            inclusion_proof(tree, index, size).unwrap()
        );
        let old = 1 + (seed >> 20) % size;
        prop_assert_eq!(
            consistency_proof(&src, old, size).unwrap(),
            consistency_proof(tree, old, size).unwrap()
        );
    }

    #[test]
    fn tile_paths_round_trip(level in 0u8..=63, index in any::<u64>(), width in 1u16..=256) {
        let max = u64::MAX.checked_shr((u32::from(level) + 1) * 8).unwrap_or(0);
        let t = TileId { level, index: index % (max.saturating_add(1)).max(1), width };
        prop_assert_eq!(TileId::parse(&t.path()).unwrap(), TileParse::Hash(t));
    }
}
