//! `cairn chain profiles`: the built-in BNB Chain and Base profiles, profiles added in
//! `cairn.toml` under `[chains.<name>]`, and clear errors for a bad one. No network access.
mod common;

use common::{assert_clear_error, cairn, json, run};

const CUSTOM: &str = r#"
[chains.arb]
name = "Arbitrum One"
chain_id = 42161
block_time_ms = 250

[chains.arb.stable]
symbol = "USDC"
address = "0xaf88d065e77c8cC2239327C5EDb3A432268e5831"
decimals = 6

[[chains.arb.assets]]
symbol = "ETH"
token = "0x82aF49447D8a07e3bd95BD0d56f35241523fBab1"
decimals = 18
feed = "0x639Fe6ab55C921f74e7fac1ee960C0B6293ba612"
heartbeat_secs = 86400

[[chains.arb.routers]]
name = "uniswap-v2"
router = "0x4752ba5DBc23f44D87826276BF6Fd6b1C372aD24"
factory = "0xf1D7CC64Fb4452F05c498126312eBE29f30Fbcf9"
init_code_hash = "0x96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f"
fee_bps = 30
"#;

#[test]
fn builtin_and_configured_profiles_are_listed_and_bad_ones_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let all = json(cairn(d).args(["--json", "chain", "profiles"]));
    let ids: Vec<&str> = all["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["base", "bnb"]);
    let bnb = json(cairn(d).args(["--json", "chain", "profiles", "bnb"]));
    let p = &bnb["profiles"][0]["profile"];
    assert_eq!(p["chain_id"], 56);
    assert_eq!(p["routers"][0]["name"], "pancake");
    assert_eq!(p["routers"][0]["fee_bps"], 25);

    let cfg = d.join("cairn.toml");
    std::fs::write(&cfg, CUSTOM).unwrap();
    let with = json(
        cairn(d)
            .arg("--config")
            .arg(&cfg)
            .args(["--json", "chain", "profiles"]),
    );
    let ids: Vec<&str> = with["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["arb", "base", "bnb"]);

    // An unknown name lists the known ones.
    let o = run(cairn(d).args(["chain", "profiles", "zk"]));
    assert_clear_error(&o, &["no chain profile \"zk\"", "base, bnb"]);

    // A mistyped address (one hex digit) fails its checksum, naming the table and the key.
    std::fs::write(
        &cfg,
        CUSTOM.replace(
            "0xaf88d065e77c8cC2239327C5EDb3A432268e5831",
            "0xaf88d065e77c8cC2239327C5EDb3A432268e5832",
        ),
    )
    .unwrap();
    let o = run(cairn(d)
        .arg("--config")
        .arg(&cfg)
        .args(["chain", "profiles"]));
    assert_clear_error(
        &o,
        &[
            "chain profile arb",
            "stable.address",
            "checksum",
            "[chains.arb]",
        ],
    );

    // A missing key is named too.
    std::fs::write(&cfg, CUSTOM.replace("block_time_ms = 250\n", "")).unwrap();
    let o = run(cairn(d)
        .arg("--config")
        .arg(&cfg)
        .args(["chain", "profiles"]));
    assert_clear_error(&o, &["block_time_ms"]);
}

/// A vault deployed from a profile: a profile for the devnet itself (its chain id and
/// addresses, written into cairn.toml) gives the vault its stablecoin, routers, feeds and
/// heartbeats; the BNB Chain profile against the devnet is refused by chain id.
#[test]
fn vault_deploy_takes_its_policy_from_a_chain_profile() {
    use alloy::primitives::Address;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let _devnet = common::devnet(d);
    let st = json(cairn(d).args(["--json", "devnet", "status"]));
    let dep = &st["deployment"];
    let chain_id = dep["chain_id"].as_u64().unwrap();
    let cs = |v: &serde_json::Value| {
        v.as_str()
            .unwrap()
            .parse::<Address>()
            .unwrap()
            .to_checksum(None)
    };
    let k = |n: &str| d.join(n).display().to_string();

    let o = run(cairn(d).args([
        "agent",
        "vault",
        "deploy",
        "--chain",
        "bnb",
        "--owner-key",
        &k("owner.key"),
        "--agent-key",
        &k("agent.key"),
        "--budget",
        "1000",
        "--period",
        "1d",
    ]));
    assert_clear_error(
        &o,
        &[
            "--chain bnb",
            "chain id 56",
            &format!("chain id {chain_id}"),
        ],
    );

    let profile = format!(
        r#"
[chains.local]
name = "the devnet"
chain_id = {chain_id}
block_time_ms = 1000

[chains.local.stable]
symbol = "USDT"
address = "{usdt}"
decimals = 6

[[chains.local.assets]]
symbol = "BTC"
token = "{wbtc}"
decimals = 8
feed = "{btc_feed}"
heartbeat_secs = 7200

[[chains.local.routers]]
name = "pancake"
router = "{pancake}"
factory = "{pancake_factory}"
init_code_hash = "0x{hash}"
fee_bps = 20
"#,
        usdt = cs(&dep["tokens"]["USDT"]["address"]),
        wbtc = cs(&dep["tokens"]["WBTC"]["address"]),
        btc_feed = cs(&dep["feeds"]["WBTC"]["address"]),
        pancake = cs(&dep["contracts"]["pancake_router"]),
        pancake_factory = cs(&dep["contracts"]["pancake_factory"]),
        hash = "11".repeat(32),
    );
    let cfg = d.join("cairn.toml");
    std::fs::write(&cfg, profile).unwrap();
    let v = json(cairn(d).arg("--config").arg(&cfg).args([
        "--json",
        "agent",
        "vault",
        "deploy",
        "--chain",
        "local",
        "--owner-key",
        &k("owner.key"),
        "--agent-key",
        &k("agent.key"),
        "--budget",
        "1000",
        "--period",
        "1d",
    ]));
    let routers = v["routers"].as_array().unwrap();
    assert_eq!(routers.len(), 1, "{v:#}");
    assert_eq!(
        routers[0].as_str().unwrap().to_lowercase(),
        dep["contracts"]["pancake_router"]
            .as_str()
            .unwrap()
            .to_lowercase()
    );
    let s = json(
        cairn(d)
            .arg("--config")
            .arg(&cfg)
            .args(["--json", "agent", "vault", "status"]),
    );
    let feeds = s["feeds"].as_array().unwrap();
    assert_eq!(feeds.len(), 1, "{s:#}");
    assert_eq!(feeds[0]["heartbeat_secs"], 7200, "{s:#}");
}
