//! Anchoring against a real anvil with the compiled ProvenanceAnchor contract.
use alloy::primitives::B256;
use cairn_anchor::{Anchorer, Error, anchors, latest_anchor};
use cairn_devnet::{DevnetConfig, connect, dev_accounts, down, up};
use std::path::PathBuf;

fn config(dir: &std::path::Path) -> DevnetConfig {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    DevnetConfig::test(dir)
        .with_anvil(repo.join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"))
        .with_prices_dir(repo.join("data/market"))
}

#[tokio::test(flavor = "multi_thread")]
async fn anchors_grow_only_from_the_registered_key_and_cost_under_30k_gas() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let report = up(&cfg).await.unwrap();
    let contract = report.deployment.contracts["provenance_anchor"];
    let accounts = dev_accounts(&cfg).unwrap();
    let chain = connect(&report.devnet, Some(accounts.deployer_key()))
        .await
        .unwrap();
    let origin = "cairn.test/log";
    let a = Anchorer::new(chain.clone(), contract, origin);

    assert!(a.registration().await.unwrap().is_none());
    a.ensure_registered(B256::repeat_byte(7)).await.unwrap();
    a.ensure_registered(B256::repeat_byte(7)).await.unwrap(); // idempotent

    let first = a.anchor(10, B256::repeat_byte(1)).await.unwrap();
    let second = a.anchor(1_000_000, B256::repeat_byte(2)).await.unwrap();
    assert!(
        first.gas_used <= 30_000 && second.gas_used <= 30_000,
        "{first:?} {second:?}"
    );
    eprintln!(
        "gas per anchor: first {} then {}",
        first.gas_used, second.gas_used
    );

    // A shrinking or equal size is refused, and nothing on chain changes.
    let err = a.anchor(999, B256::repeat_byte(3)).await.unwrap_err();
    assert!(matches!(err, Error::Rejected { .. }), "{err}");
    assert!(
        err.to_string().contains("SizeNotGrowing: size 999"),
        "{err}"
    );
    assert!(a.anchor(1_000_000, B256::repeat_byte(3)).await.is_err());
    assert_eq!(a.registration().await.unwrap().unwrap().1, 1_000_000);

    let all = anchors(&chain, contract, origin).await.unwrap();
    assert_eq!(
        all.iter().map(|x| x.size).collect::<Vec<_>>(),
        vec![10, 1_000_000]
    );
    let latest = latest_anchor(&chain, contract, origin)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (latest.size, latest.root),
        (1_000_000, B256::repeat_byte(2))
    );

    // Another account cannot anchor this log.
    let other = connect(&report.devnet, accounts.key(1)).await.unwrap();
    let intruder = Anchorer::new(other.clone(), contract, origin);
    assert!(matches!(
        intruder.ensure_registered(B256::ZERO).await,
        Err(Error::NotSubmitter { .. })
    ));
    let err = intruder.anchor(2_000_000, B256::ZERO).await.unwrap_err();
    assert!(err.to_string().contains("NotSubmitter"), "{err}");
    // ... and an unregistered log cannot be anchored at all.
    let err = Anchorer::new(other, contract, "cairn.test/other")
        .anchor(1, B256::ZERO)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("UnknownLog"), "{err}");

    down(&cfg).await.unwrap();
}
