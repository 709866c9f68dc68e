//! Hash tiles and entry bundles as a client fetches them: any bytes, any tree size.
#![no_main]
use cairn_tlog::{NodeSource, TileNodeSource, bundle_entries, decode_bundle, tree_root};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_bundle(data);
    for e in bundle_entries(data) {
        if e.is_err() {
            break;
        }
    }
    if data.len() < 8 {
        return;
    }
    let size = u64::from_le_bytes(data[..8].try_into().unwrap());
    let body = data[8..].to_vec();
    let src = TileNodeSource::new(size, |_| Ok(body.clone()));
    let _ = tree_root(&src, size);
    let _ = src.node(0, size.saturating_sub(1));
    let _ = src.node(8, size >> 9);
});
