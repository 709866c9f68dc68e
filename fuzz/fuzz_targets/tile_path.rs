//! tlog-tiles paths (`tile/<L>/<N>[.p/<W>]`, `tile/entries/...`), as the HTTP API receives them.
#![no_main]
use cairn_tlog::TileId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(parsed) = TileId::parse(path) {
        let tile = parsed.tile();
        // A parsed path is canonical: printing it gives it back.
        assert!(tile.path() == path || tile.entries_path() == path, "{path}");
        let _ = tile.node_range();
    }
});
