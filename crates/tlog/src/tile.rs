//! C2SP tlog-tiles: the Merkle tree cut into static, cacheable files.
//!
//! A tile at *tile level* `L` holds up to 256 consecutive tree nodes from
//! tree level `8 * L`; the 7 tree levels between two tile levels are not
//! stored but recomputed by hashing (at most 255 node hashes per lookup).
//! Full tiles are immutable; the rightmost tile of each level may be
//! *partial* (`.p/<W>`) and is replaced as the tree grows.
//!
//! ```text
//!   tile level 1:  [ n(8,0) n(8,1) ... n(8,255) ]          tile/1/000
//!                      ▲ = root of full tile/0/000
//!   tile level 0:  [ l0 ... l255 ] [ l256 ... l511 ] ...   tile/0/000, tile/0/001
//! ```
//!
//! This module computes paths, which tiles exist for a tree size, which tile
//! holds a node, and a [`NodeSource`] over tile bytes; it does no I/O itself.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::hash::{HASH_SIZE, Hash, node_hash};
use crate::proof::NodeSource;

/// Tree levels per tile level.
pub const TILE_HEIGHT: u8 = 8;
/// Hashes in a full tile (`2^TILE_HEIGHT`).
pub const TILE_WIDTH: u64 = 256;
/// Highest tile level a path may name (C2SP tlog-tiles: 0 to 63).
pub const MAX_TILE_LEVEL: u8 = 63;

/// One tile: `level` is the tile level, `index` the tile's position on that
/// level, `width` the number of hashes (1..=256; 256 means full).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    /// Tile level (tree level `8 * level`).
    pub level: u8,
    /// Index of the tile within its level.
    pub index: u64,
    /// Number of hashes in the tile, 1..=256.
    pub width: u16,
}

/// A parsed tile path: either a Merkle hash tile or an entry bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TileParse {
    /// `tile/<L>/<N>[.p/<W>]`.
    Hash(TileId),
    /// `tile/entries/<N>[.p/<W>]`; the tile's level is always 0.
    Entries(TileId),
}

impl TileParse {
    /// The tile, whichever kind of path it came from.
    pub fn tile(&self) -> TileId {
        match self {
            TileParse::Hash(t) | TileParse::Entries(t) => *t,
        }
    }
}

impl TileId {
    /// A full tile.
    pub fn full(level: u8, index: u64) -> Self {
        Self {
            level,
            index,
            width: TILE_WIDTH as u16,
        }
    }

    /// Whether the tile holds all 256 hashes.
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// Tree level of the hashes stored in this tile (`8 * level`).
    pub fn node_level(&self) -> u32 {
        u32::from(self.level) * u32::from(TILE_HEIGHT)
    }

    /// Indexes, on [`node_level`](Self::node_level), of the nodes this tile holds.
    pub fn node_range(&self) -> Range<u64> {
        let first = self.index.saturating_mul(TILE_WIDTH);
        first..first.saturating_add(u64::from(self.width))
    }

    /// Path of this hash tile, e.g. `tile/0/x001/x234/067` or `tile/0/067.p/12`.
    pub fn path(&self) -> String {
        format!("tile/{}/{}", self.level, self.index_and_width())
    }

    /// Path of the entry bundle with this index and width, e.g.
    /// `tile/entries/x001/x234/067` or `tile/entries/067.p/12`.
    ///
    /// Entry bundles only exist at level 0; the level is ignored.
    pub fn entries_path(&self) -> String {
        format!("tile/entries/{}", self.index_and_width())
    }

    fn index_and_width(&self) -> String {
        let mut s = encode_index(self.index);
        if !self.is_full() {
            s.push_str(&format!(".p/{}", self.width));
        }
        s
    }

    /// Parse a hash-tile or entry-bundle path, accepting only the canonical
    /// form: level 0..=63 without leading zeros, index in 3-digit groups with
    /// `x` on all but the last and no leading all-zero group, and `.p/<W>`
    /// with `W` in 1..=255 without leading zeros.
    pub fn parse(path: &str) -> Result<TileParse> {
        let bad = |detail: &str| Error::TilePath {
            path: path.to_string(),
            detail: detail.to_string(),
        };
        let rest = path
            .strip_prefix("tile/")
            .ok_or_else(|| bad("must start with \"tile/\""))?;
        let mut parts: Vec<&str> = rest.split('/').collect();
        if parts.len() < 2 {
            return Err(bad("needs a level (or \"entries\") and an index"));
        }
        let kind = parts.remove(0);
        let level = if kind == "entries" {
            None
        } else {
            Some(parse_level(kind).map_err(|d| bad(&d))?)
        };

        // A partial tile ends in "<last group>.p/<W>".
        let mut width = TILE_WIDTH as u16;
        if parts.len() >= 2 && parts[parts.len() - 2].ends_with(".p") {
            let w = parts.pop().unwrap_or_default();
            width = parse_width(w).map_err(|d| bad(&d))?;
            let last = parts.len() - 1;
            parts[last] = &parts[last][..parts[last].len() - 2];
        }
        let index = parse_index(&parts).map_err(|d| bad(&d))?;

        let tile_level = level.unwrap_or(0);
        if max_tile_index(tile_level).is_none_or(|max| index > max) {
            return Err(bad(
                "tile index is beyond any tree with a 64-bit size at this level",
            ));
        }
        let tile = TileId {
            level: tile_level,
            index,
            width,
        };
        Ok(match level {
            Some(_) => TileParse::Hash(tile),
            None => TileParse::Entries(tile),
        })
    }
}

impl std::fmt::Display for TileId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.path())
    }
}

/// `<N>` in 3-digit groups, `x` before all but the last: 1234067 → `x001/x234/067`.
fn encode_index(mut n: u64) -> String {
    let mut groups = Vec::with_capacity(7);
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    let mut s = String::with_capacity(groups.len() * 5);
    for (i, g) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            s.push_str(&format!("x{g:03}/"));
        } else {
            s.push_str(&format!("{g:03}"));
        }
    }
    s
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Decimal without leading zeros ("0" itself is fine).
fn canonical_decimal(s: &str) -> bool {
    is_digits(s) && (s == "0" || !s.starts_with('0'))
}

fn parse_level(s: &str) -> std::result::Result<u8, String> {
    if !canonical_decimal(s) {
        return Err(format!(
            "level {s:?} must be a decimal number without leading zeros"
        ));
    }
    match s.parse::<u8>() {
        Ok(l) if l <= MAX_TILE_LEVEL => Ok(l),
        _ => Err(format!("level {s} is above the maximum {MAX_TILE_LEVEL}")),
    }
}

fn parse_width(s: &str) -> std::result::Result<u16, String> {
    if !canonical_decimal(s) {
        return Err(format!(
            "partial width {s:?} must be a decimal number without leading zeros"
        ));
    }
    match s.parse::<u16>() {
        Ok(w) if (1..TILE_WIDTH as u16).contains(&w) => Ok(w),
        _ => Err(format!("partial width {s} must be between 1 and 255")),
    }
}

fn parse_index(groups: &[&str]) -> std::result::Result<u64, String> {
    let mut n: u64 = 0;
    for (i, g) in groups.iter().enumerate() {
        let last = i + 1 == groups.len();
        let digits = if last {
            *g
        } else {
            g.strip_prefix('x').ok_or_else(|| {
                format!("index element {g:?} must start with 'x' (all but the last do)")
            })?
        };
        if digits.len() != 3 || !is_digits(digits) {
            return Err(format!(
                "index element {g:?} must be exactly 3 digits{}",
                if last { "" } else { " after the 'x'" }
            ));
        }
        if i == 0 && !last && digits == "000" {
            return Err("index has a leading all-zero element".to_string());
        }
        let v: u64 = digits.parse().map_err(|_| format!("bad digits {g:?}"))?;
        n = n
            .checked_mul(1000)
            .and_then(|n| n.checked_add(v))
            .ok_or("index does not fit in 64 bits")?;
    }
    Ok(n)
}

/// Largest tile index at `level` whose first leaf index fits in a u64.
fn max_tile_index(level: u8) -> Option<u64> {
    let shift = (u32::from(level) + 1) * u32::from(TILE_HEIGHT);
    Some(u64::MAX.checked_shr(shift).unwrap_or(0))
}

/// Number of nodes at tree level `8 * tile_level` in a tree of `size` leaves.
fn nodes_at_tile_level(size: u64, tile_level: u32) -> u64 {
    size.checked_shr(tile_level * u32::from(TILE_HEIGHT))
        .unwrap_or(0)
}

/// Every tile (all levels, full and the rightmost partial ones) of a tree of
/// `size` leaves, level by level, left to right.
pub fn tiles_for_size(size: u64) -> Vec<TileId> {
    tiles_between(0, size)
}

/// The tiles of a tree of `new` leaves that a tree of `old` leaves does not
/// have: new full tiles and new or wider partial tiles. This is what a log
/// must write when it grows from `old` to `new`. Empty when `old >= new`.
pub fn tiles_between(old: u64, new: u64) -> Vec<TileId> {
    let mut out = Vec::new();
    if old >= new {
        return out;
    }
    for level in 0..=u32::from(MAX_TILE_LEVEL) {
        let n_new = nodes_at_tile_level(new, level);
        if n_new == 0 {
            break;
        }
        let n_old = nodes_at_tile_level(old, level);
        if n_old == n_new {
            continue;
        }
        let first = n_old / TILE_WIDTH;
        let last = (n_new - 1) / TILE_WIDTH;
        for index in first..=last {
            let width = (n_new - index * TILE_WIDTH).min(TILE_WIDTH);
            let old_width = n_old.saturating_sub(index * TILE_WIDTH).min(TILE_WIDTH);
            if width == old_width {
                continue;
            }
            out.push(TileId {
                level: level as u8,
                index,
                width: width as u16,
            });
        }
    }
    out
}

/// The tile that stores node `(level, index)` of a tree of `size` leaves, and
/// the range of hashes in that tile whose complete subtree is that node.
///
/// A node on a tile level is a single hash (range of length 1); a node
/// between tile levels is the root over `2^(level % 8)` consecutive hashes.
/// The tile's width is the one it has at `size`. Fails with
/// [`Error::NodeNotInTree`] when the node is not complete at `size`.
pub fn tile_for_node(level: u8, index: u64, size: u64) -> Result<(TileId, Range<usize>)> {
    let not_in_tree = Error::NodeNotInTree { level, index, size };
    let end_leaf = index
        .checked_add(1)
        .and_then(|n| n.checked_shl(u32::from(level)))
        .filter(|&e| e >> level == index + 1);
    match end_leaf {
        Some(e) if e <= size => {}
        _ => return Err(not_in_tree),
    }
    let tile_level = level / TILE_HEIGHT;
    let sub_level = level % TILE_HEIGHT;
    let first = index << sub_level;
    let tile_index = first / TILE_WIDTH;
    let start = (first % TILE_WIDTH) as usize;
    let count = 1usize << sub_level;
    let n = nodes_at_tile_level(size, u32::from(tile_level));
    let width = (n - tile_index * TILE_WIDTH).min(TILE_WIDTH) as u16;
    Ok((
        TileId {
            level: tile_level,
            index: tile_index,
            width,
        },
        start..start + count,
    ))
}

/// The bytes of `tile` (its hashes concatenated), read from any node source,
/// e.g. a [`MemoryTree`](crate::MemoryTree) when a log writes its tiles.
pub fn build_tile(src: &impl NodeSource, tile: TileId) -> Result<Vec<u8>> {
    let level = u8::try_from(tile.node_level()).map_err(|_| Error::MissingNode {
        level: u8::MAX,
        index: tile.index,
    })?;
    let mut out = Vec::with_capacity(usize::from(tile.width) * HASH_SIZE);
    for i in tile.node_range() {
        out.extend_from_slice(&src.node(level, i)?);
    }
    Ok(out)
}

/// Root of the perfect subtree over `hashes` (a power-of-two count).
fn perfect_root(hashes: &[u8]) -> Hash {
    let mut level: Vec<Hash> = hashes
        .chunks_exact(HASH_SIZE)
        .map(|c| {
            let mut h = [0u8; HASH_SIZE];
            h.copy_from_slice(c);
            h
        })
        .collect();
    while level.len() > 1 {
        let half = level.len() / 2;
        for i in 0..half {
            level[i] = node_hash(&level[2 * i], &level[2 * i + 1]);
        }
        level.truncate(half);
    }
    level[0]
}

/// A [`NodeSource`] over tiles of a tree of a fixed size, fetched on demand
/// by a caller-supplied closure (from disk, HTTP, a cache: this crate does
/// no I/O). Each tile is fetched at most once per source, so proofs that
/// touch the same tile many times stay cheap.
pub struct TileNodeSource<F> {
    size: u64,
    fetch: F,
    cache: Mutex<HashMap<TileId, Vec<u8>>>,
}

impl<F> std::fmt::Debug for TileNodeSource<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TileNodeSource")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl<F: Fn(TileId) -> Result<Vec<u8>>> TileNodeSource<F> {
    /// A source for the tree of `size` leaves; `fetch` returns a tile's bytes.
    pub fn new(size: u64, fetch: F) -> Self {
        Self {
            size,
            fetch,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The tree size this source serves.
    pub fn size(&self) -> u64 {
        self.size
    }

    fn with_tile<T>(&self, tile: TileId, f: impl FnOnce(&[u8]) -> T) -> Result<T> {
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(bytes) = cache.get(&tile) {
                return Ok(f(bytes));
            }
        }
        let bytes = (self.fetch)(tile)?;
        let expected = usize::from(tile.width) * HASH_SIZE;
        if bytes.len() != expected {
            return Err(Error::TileSize {
                tile: tile.path(),
                expected,
                got: bytes.len(),
            });
        }
        let out = f(&bytes);
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tile, bytes);
        Ok(out)
    }
}

impl<F: Fn(TileId) -> Result<Vec<u8>>> NodeSource for TileNodeSource<F> {
    fn node(&self, level: u8, index: u64) -> Result<Hash> {
        let (tile, range) = tile_for_node(level, index, self.size)?;
        self.with_tile(tile, |bytes| {
            perfect_root(&bytes[range.start * HASH_SIZE..range.end * HASH_SIZE])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_encoding() {
        assert_eq!(encode_index(0), "000");
        assert_eq!(encode_index(67), "067");
        assert_eq!(encode_index(999), "999");
        assert_eq!(encode_index(1000), "x001/000");
        assert_eq!(encode_index(1_234_067), "x001/x234/067");
        assert_eq!(encode_index(u64::MAX), "x018/x446/x744/x073/x709/x551/615");
    }

    #[test]
    fn max_index_per_level() {
        assert_eq!(max_tile_index(0), Some(u64::MAX >> 8));
        assert_eq!(max_tile_index(6), Some(255));
        assert_eq!(max_tile_index(7), Some(0));
        assert_eq!(max_tile_index(63), Some(0));
    }

    #[test]
    fn tile_for_node_positions() {
        // Leaf 300 in a tree of 1000: second level-0 tile, position 44, full.
        let (t, r) = tile_for_node(0, 300, 1000).unwrap();
        assert_eq!(t, TileId::full(0, 1));
        assert_eq!(r, 44..45);
        // Node (3, 5) covers leaves 40..48: level-0 tile 0, hashes 40..48.
        let (t, r) = tile_for_node(3, 5, 1000).unwrap();
        assert_eq!(t, TileId::full(0, 0));
        assert_eq!(r, 40..48);
        // Node (8, 2) is the 3rd hash of the partial level-1 tile of width 3.
        let (t, r) = tile_for_node(8, 2, 1000).unwrap();
        assert_eq!(
            t,
            TileId {
                level: 1,
                index: 0,
                width: 3
            }
        );
        assert_eq!(r, 2..3);
        // Leaf 999 is in the partial level-0 tile of width 232.
        let (t, _) = tile_for_node(0, 999, 1000).unwrap();
        assert_eq!(t.width, 232);
        // Incomplete nodes are refused.
        assert!(tile_for_node(0, 1000, 1000).is_err());
        assert!(tile_for_node(4, 62, 1000).is_err());
        assert!(tile_for_node(63, 1, u64::MAX).is_err());
    }
}
