//! Integration tests of the public API: a job file goes through validation, resolution,
//! matching and the state machine as the node would drive it.
use cairn_compute::{
    BlobRef, Demand, InputRef, JobFile, JobKind, JobSpec, JobState, NoMatch, Offer, Price,
    Resources,
    api::{OutputRef, output_digest},
    choose, reputation,
};
use proptest::prelude::*;

const JOB: &str = r#"
name = "wordcount"
module = "wordcount.wasm"
args = ["--top", "5"]
dataset = "data"
[resources]
cpu_cores = 1
memory = "64 MiB"
[limits]
fuel = 2_000_000_000
wall_time_secs = 30
[price]
per_mfuel = 4
per_second = 1
[schedule]
accept_within_secs = 60
deadline_secs = 120
"#;

fn provider(name: &str, mem: u64, ask: u64) -> Offer {
    let cap = Resources {
        cpu_cores: 2,
        memory_bytes: mem,
        gpus: 0,
    };
    Offer {
        provider: name.into(),
        capacity: cap,
        free: cap,
        ask: Price {
            per_mfuel: ask,
            per_second: 0,
        },
        reputation: reputation(0, 0),
        online: true,
        kinds: vec![JobKind::Wasm],
    }
}

#[test]
fn a_job_file_resolves_matches_and_runs_through_its_states() {
    let file = JobFile::from_toml(JOB).unwrap();
    assert_eq!(file.payment(), Some(2_000 * 4 + 30));
    let inputs = vec![InputRef {
        name: "a.txt".into(),
        blob: BlobRef::of(b"the quick brown fox"),
    }];
    let spec = file.resolve(BlobRef::of(b"\0asm"), inputs, None).unwrap();
    spec.validate().unwrap();
    let offers = [provider("0x01", 32 << 20, 1), provider("0x02", 1 << 30, 3)];
    let chosen = choose(&Demand::of(&spec, vec![]), &offers).unwrap();
    assert_eq!(chosen.provider, "0x02");
    // The provider lost the lease: it is excluded, and nobody else has the memory.
    let e = choose(&Demand::of(&spec, vec!["0x02".into()]), &offers).unwrap_err();
    assert!(matches!(e, NoMatch::Excluded { count: 1 }), "{e}");

    let mut s = JobState::Queued;
    for next in [
        JobState::Assigned,
        JobState::Running,
        JobState::Queued,
        JobState::Assigned,
        JobState::Running,
        JobState::Committed,
        JobState::Settled,
    ] {
        s.check(1, next).unwrap();
        s = next;
    }
    assert!(s.is_terminal());
}

#[test]
fn a_spec_tampered_after_escrow_changes_its_digest() {
    let spec = JobFile::from_toml(JOB)
        .unwrap()
        .resolve(
            BlobRef::of(b"m"),
            vec![],
            Some(format!("blake3:{}", "ab".repeat(32))),
        )
        .unwrap();
    let mut other = spec.clone();
    other.args.push("--evil".into());
    assert_ne!(spec.digest(), other.digest());
    let json = serde_json::to_string(&spec).unwrap();
    let back: JobSpec = serde_json::from_str(&json).unwrap();
    assert_eq!(back.digest(), spec.digest());
    let extra = json.replacen('{', "{\"extra\":1,", 1);
    assert!(serde_json::from_str::<JobSpec>(&extra).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Whenever the matcher picks a provider, it really fits; whenever it refuses for a
    /// capacity reason, no online provider fits.
    #[test]
    fn matching_never_picks_an_unfit_provider(
        mems in proptest::collection::vec(1u64..64, 0..6),
        asks in proptest::collection::vec(0u64..50, 6),
        need in 1u64..64,
        bid in 0u64..50,
    ) {
        let offers: Vec<Offer> = mems
            .iter()
            .enumerate()
            .map(|(i, m)| provider(&format!("0x{i:02}"), m << 20, asks[i]))
            .collect();
        let demand = Demand {
            kind: JobKind::Wasm,
            resources: Resources { cpu_cores: 1, memory_bytes: need << 20, gpus: 0 },
            bid: Price { per_mfuel: bid, per_second: 0 },
            min_reputation: 0.0,
            exclude: vec![],
        };
        let fits = |o: &Offer| o.capacity.memory_bytes >= need << 20 && o.ask.per_mfuel <= bid;
        match choose(&demand, &offers) {
            Ok(o) => prop_assert!(fits(o)),
            Err(_) => prop_assert!(!offers.iter().any(fits)),
        }
    }

    #[test]
    fn output_digests_depend_only_on_the_set_of_outputs(
        files in proptest::collection::btree_map("[a-z]{1,8}", proptest::collection::vec(any::<u8>(), 0..16), 0..6)
    ) {
        let refs: Vec<OutputRef> = files.iter().map(|(n, b)| OutputRef::of(n.clone(), b)).collect();
        let mut rev = refs.clone();
        rev.reverse();
        let out = OutputRef::of("stdout", b"");
        prop_assert_eq!(output_digest(&refs, &out), output_digest(&rev, &out));
    }
}
