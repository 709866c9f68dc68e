//! Replication of `wasm` results against the in-memory ledger: a checked result is replicated
//! on another provider (never its own), agrees and settles; with nobody else to replicate it, it
//! waits — by the chain's clock, a margin before its challenge window closes — and then falls
//! back to settling unconfirmed, its provider's streak unchanged; a replica that lies is
//! outvoted by a third run on a third provider and disputed.
use super::*;
use cairn_compute::verify::Method;

async fn replicating() -> Fixture {
    fixture_with(|c| {
        c.with_lease(Duration::from_secs(10), Duration::from_secs(30))
            .without_calibration()
            .with_replication(true)
    })
    .await
}

fn streak(f: &Fixture, who: &PrivateKeySigner) -> u64 {
    f.node
        .providers()
        .unwrap()
        .into_iter()
        .find(|p| p.address == who.address().to_string())
        .unwrap()
        .valid_streak
}

#[tokio::test]
async fn a_checked_result_is_replicated_on_another_provider_and_settles_when_they_agree() {
    let f = replicating().await;
    let a = f.provider(4, 1).await;
    let (id, spec) = f.submit("[price]\nper_mfuel = 10\n").await;
    f.run_ok(&a, id).await;
    let v = f.node.job(id).unwrap();
    assert_eq!(v.state, JobState::Committed);
    assert_eq!(v.verification.as_ref().unwrap().method, Method::Replication);
    // Only its own provider is online: nothing is escrowed, it waits.
    f.node.replication_pass().await.unwrap();
    let r = f.node.job(id).unwrap().replication.unwrap();
    assert_eq!(
        (r.outcome.as_str(), r.replicas.len()),
        ("waiting", 0),
        "{r:?}"
    );
    // A second provider comes online: the operator escrows a replica for it.
    let b = f.provider(4, 1).await;
    f.node.replication_pass().await.unwrap();
    let r = f.node.job(id).unwrap().replication.unwrap();
    assert_eq!(r.replicas.len(), 1, "{r:?}");
    let rid = r.replicas[0].job;
    let replica = f.node.job(rid).unwrap();
    assert_eq!(replica.replica_of, Some(id));
    assert_eq!(replica.spec_digest, v.spec_digest);
    assert_eq!(replica.provider, Some(b.address().to_string()));
    assert!(
        f.node.claim(a.address()).unwrap().is_none(),
        "never the original's provider"
    );
    f.specs.lock().unwrap().insert(rid, spec);
    f.run_ok(&b, rid).await;
    f.node.replication_pass().await.unwrap();
    let v = f.node.job(id).unwrap();
    let r = v.replication.as_ref().unwrap();
    assert_eq!(r.outcome, "agreed", "{r:?}");
    assert_eq!(r.replicas[0].agrees, Some(true));
    assert_eq!(streak(&f, &a), 1, "confirmed: the streak grows");
    assert_eq!(
        streak(&f, &b),
        0,
        "a replica does not change its provider's streak"
    );
    f.ledger.advance(61);
    f.node.chain_pass().await.unwrap();
    assert_eq!(f.node.job(id).unwrap().state, JobState::Settled);
    assert_eq!(f.node.job(rid).unwrap().state, JobState::Settled);
}

#[tokio::test]
async fn with_nobody_to_replicate_it_a_result_waits_then_settles_unconfirmed() {
    let f = replicating().await;
    let a = f.provider(4, 1).await;
    let (id, _) = f.submit("[price]\nper_mfuel = 10\n").await;
    f.run_ok(&a, id).await;
    let ends = f.node.job(id).unwrap().replication.unwrap().deadline;
    assert_eq!(ends, 1_000_000 + 60 - 15, "15 s before the window closes");
    // Inside the window, before the deadline: it waits, unsettled.
    f.ledger.advance(40);
    f.node.chain_pass().await.unwrap();
    f.node.replication_pass().await.unwrap();
    f.node.chain_pass().await.unwrap();
    let v = f.node.job(id).unwrap();
    assert_eq!(v.state, JobState::Committed);
    assert_eq!(v.replication.unwrap().outcome, "waiting");
    // Past the deadline: the documented fallback.
    f.ledger.advance(10);
    f.node.chain_pass().await.unwrap();
    f.node.replication_pass().await.unwrap();
    let r = f.node.job(id).unwrap().replication.unwrap();
    assert_eq!(r.outcome, "unreplicated", "{r:?}");
    assert_eq!(
        f.node.job(id).unwrap().state,
        JobState::Committed,
        "not before the window ends"
    );
    f.ledger.advance(11);
    f.node.chain_pass().await.unwrap();
    assert_eq!(f.node.job(id).unwrap().state, JobState::Settled);
    assert_eq!(streak(&f, &a), 0, "unconfirmed: the streak does not grow");
}

/// Runs job `id` on `key` like [`Fixture::run_ok`], but commits `counts` as its output.
async fn run_lying(f: &Fixture, key: &PrivateKeySigner, id: u64, counts: &[u8]) {
    f.claim_and_start(key, id).await;
    let mut report = f.report(id, RunOutcome::Succeeded);
    f.node.blobs().put(counts).unwrap();
    report.outputs = vec![OutputRef::of("counts.txt", counts)];
    report.output_digest = hex::encode(output_digest(&report.outputs, &report.stdout));
    f.commit_and_report(key, report).await;
}

#[tokio::test]
async fn a_lying_replica_is_outvoted_by_a_third_run_and_disputed() {
    let f = replicating().await;
    let a = f.provider(4, 1).await;
    let (id, spec) = f.submit("[price]\nper_mfuel = 10\n").await;
    f.run_ok(&a, id).await;
    // The first replica goes to the liar.
    let liar = f.provider(4, 1).await;
    f.node.replication_pass().await.unwrap();
    let r1 = f.node.job(id).unwrap().replication.unwrap().replicas[0].job;
    f.specs.lock().unwrap().insert(r1, spec.clone());
    run_lying(&f, &liar, r1, b"fox 2\n").await;
    // Disagreement: a third run, on neither the original's provider nor the liar.
    let c = f.provider(4, 1).await;
    f.node.replication_pass().await.unwrap();
    let r = f.node.job(id).unwrap().replication.unwrap();
    assert_eq!(r.outcome, "waiting", "{r:?}");
    assert_eq!(r.replicas.len(), 2, "{r:?}");
    assert_eq!(r.replicas[0].agrees, Some(false));
    let r2 = r.replicas[1].job;
    assert_eq!(
        f.node.job(r2).unwrap().provider,
        Some(c.address().to_string())
    );
    f.specs.lock().unwrap().insert(r2, spec);
    f.run_ok(&c, r2).await;
    f.node.replication_pass().await.unwrap();
    let v = f.node.job(id).unwrap();
    assert_eq!(v.replication.as_ref().unwrap().outcome, "agreed");
    // The liar is the odd one out: challenged, refunded (to the operator), slashed.
    let lie = f.node.job(r1).unwrap();
    assert_eq!(lie.state, JobState::Failed);
    assert!(
        matches!(lie.stop, Some(StopReason::ReplicaMismatch { .. })),
        "{lie:?}"
    );
    assert_eq!(streak(&f, &a), 1);
    f.node.chain_pass().await.unwrap(); // challenge
    f.node.chain_pass().await.unwrap(); // refund
    assert_eq!(f.node.job(r1).unwrap().refunded, Some(lie.payment));
    f.ledger.advance(61);
    f.node.chain_pass().await.unwrap();
    assert_eq!(f.node.job(id).unwrap().state, JobState::Settled);
    assert_eq!(f.node.job(r2).unwrap().state, JobState::Settled);
    assert_eq!(f.node.job(r1).unwrap().state, JobState::Failed);
}
