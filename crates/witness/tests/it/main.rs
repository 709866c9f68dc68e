//! The witness over real HTTP on loopback, driven by the log-side client.
use cairn_tlog::{
    Checkpoint, CosignatureVerifier, Cosigner, MemoryTree, NoteSigner, consistency_proof, leaf_hash,
};
use cairn_witness::{ClientError, Witness, WitnessConfig, router, submit_checkpoint};
use std::{path::Path, sync::Arc};

struct TestLog {
    signer: NoteSigner,
    tree: MemoryTree,
}

impl TestLog {
    fn new(origin: &str) -> Self {
        Self {
            signer: NoteSigner::generate(origin).unwrap(),
            tree: MemoryTree::new(),
        }
    }
    fn grow(&mut self, n: u64) {
        for _ in 0..n {
            let i = self.tree.len();
            self.tree.push(leaf_hash(format!("entry {i}").as_bytes()));
        }
    }
    fn checkpoint(&self) -> String {
        Checkpoint::new(self.signer.name(), self.tree.len(), self.tree.root())
            .sign(&self.signer)
            .unwrap()
            .to_string()
    }
}

async fn serve(state: &Path, logs: Vec<cairn_tlog::NoteVerifier>, cosigner: Cosigner) -> String {
    let w = Witness::open(
        WitnessConfig {
            state_file: state.to_owned(),
            logs,
        },
        cosigner,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router(Arc::new(w))).await.unwrap() });
    url
}

#[tokio::test]
async fn cosigns_consistent_checkpoints_and_refuses_everything_else() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("witness.json");
    let mut log = TestLog::new("cairn.test/log");
    let cosigner = Cosigner::generate("witness.test/w1").unwrap();
    let verifier: CosignatureVerifier = cosigner.verifier();
    let url = serve(&state, vec![log.signer.verifier()], cosigner.clone()).await;
    let http = reqwest::Client::new();

    log.grow(10);
    let cp10 = log.checkpoint();
    let sigs = submit_checkpoint(&http, &url, 0, vec![], &cp10)
        .await
        .unwrap();
    assert_eq!(sigs.len(), 1);
    let body10 = cairn_tlog::Note::parse(&cp10).unwrap().text;
    let ts = verifier.verify(&body10, &sigs[0]).unwrap();
    assert!(ts > 1_600_000_000);

    // Grow with a real consistency proof: cosigned.
    log.grow(7);
    let cp17 = log.checkpoint();
    let proof = consistency_proof(&log.tree, 10, 17).unwrap();
    submit_checkpoint(&http, &url, 10, proof.clone(), &cp17)
        .await
        .unwrap();

    // A client with a stale view learns the witness's size (409, text/x.tlog.size).
    match submit_checkpoint(&http, &url, 10, proof.clone(), &cp17).await {
        Err(ClientError::Conflict { size, .. }) => assert_eq!(size, 17),
        other => panic!("expected a conflict, got {other:?}"),
    }

    // A forked log: same size 17 as witnessed, different root.
    let mut fork = TestLog {
        signer: log.signer.clone(),
        tree: MemoryTree::new(),
    };
    fork.tree.push(leaf_hash(b"evil"));
    fork.grow(16);
    let refused = submit_checkpoint(&http, &url, 17, vec![], &fork.checkpoint()).await;
    assert!(
        matches!(&refused, Err(ClientError::Refused { status: 409, body, .. }) if body.contains("forked")),
        "{refused:?}"
    );
    // The same checkpoint again with a (non-empty) proof to its own size: 422.
    let refused = submit_checkpoint(&http, &url, 17, vec![[1; 32]], &cp17).await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 422, .. })),
        "{refused:?}"
    );
    // Resubmitting it as it should be is fine (idempotent).
    submit_checkpoint(&http, &url, 17, vec![], &cp17)
        .await
        .unwrap();
    // ... and growing the fork with a proof that cannot verify: 422.
    fork.grow(3);
    let bad_proof = consistency_proof(&fork.tree, 17, 20).unwrap();
    let refused = submit_checkpoint(&http, &url, 17, bad_proof, &fork.checkpoint()).await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 422, .. })),
        "{refused:?}"
    );

    // An unknown log (404) and a log signed by an untrusted key under a trusted name (403).
    let stranger = TestLog {
        signer: NoteSigner::generate("cairn.test/other").unwrap(),
        tree: log.tree.clone(),
    };
    let refused = submit_checkpoint(&http, &url, 0, vec![], &stranger.checkpoint()).await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 404, .. })),
        "{refused:?}"
    );
    let impostor = TestLog {
        signer: NoteSigner::generate("cairn.test/log").unwrap(),
        tree: log.tree.clone(),
    };
    let refused = submit_checkpoint(&http, &url, 17, vec![], &impostor.checkpoint()).await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 403, .. })),
        "{refused:?}"
    );

    // Old size above the checkpoint size: 400.
    let refused = submit_checkpoint(&http, &url, 99, vec![], &cp17).await;
    assert!(
        matches!(refused, Err(ClientError::Refused { status: 400, .. })),
        "{refused:?}"
    );

    // Monitoring: the latest cosigned checkpoint, by the hex SHA-256 of the origin.
    let monitored = http
        .get(format!(
            "{url}/{}/checkpoint",
            cairn_witness::origin_hash("cairn.test/log")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(monitored.status(), 200);
    let note = cairn_tlog::Note::parse(&monitored.text().await.unwrap()).unwrap();
    assert_eq!(note.text, cairn_tlog::Note::parse(&cp17).unwrap().text);
    assert!(verifier.verify_note(&note).unwrap().is_some());
    assert!(
        log.signer
            .verifier()
            .verify(&note.text, &note.signatures[0])
            .is_ok()
    );
    let missing = http
        .get(format!(
            "{url}/{}/checkpoint",
            cairn_witness::origin_hash("nope")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    // The witness's view survives a restart: a new process still knows size 17.
    let url2 = serve(&state, vec![log.signer.verifier()], cosigner).await;
    match submit_checkpoint(&http, &url2, 0, vec![], &cp10).await {
        Err(ClientError::Conflict { size, .. }) => assert_eq!(size, 17),
        other => panic!("expected the persisted size, got {other:?}"),
    }
}

#[tokio::test]
async fn refusals_use_the_status_codes_tlog_witness_assigns() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = TestLog::new("cairn.test/log");
    let cosigner = Cosigner::generate("witness.test/w1").unwrap();
    let url = serve(
        &dir.path().join("w.json"),
        vec![log.signer.verifier()],
        cosigner,
    )
    .await;
    let http = reqwest::Client::new();
    let status = |r: Result<Vec<cairn_tlog::NoteSignature>, ClientError>| match r {
        Ok(_) => 200,
        Err(ClientError::Refused { status, .. }) => status,
        Err(ClientError::Conflict { .. }) => 409,
        Err(e) => panic!("{e}"),
    };
    // A size-0 checkpoint whose root is not the empty-tree hash.
    let bogus_empty = Checkpoint::new("cairn.test/log", 0, [7; 32])
        .sign(&log.signer)
        .unwrap()
        .to_string();
    assert_eq!(
        status(submit_checkpoint(&http, &url, 0, vec![], &bogus_empty).await),
        422
    );
    // `old 0` with a non-empty proof.
    log.grow(4);
    let cp4 = log.checkpoint();
    assert_eq!(
        status(submit_checkpoint(&http, &url, 0, vec![[3; 32]], &cp4).await),
        422
    );
    // The real empty checkpoint and a first checkpoint from 0 are fine.
    let empty = Checkpoint::new("cairn.test/log", 0, cairn_tlog::empty_root())
        .sign(&log.signer)
        .unwrap()
        .to_string();
    assert_eq!(
        status(submit_checkpoint(&http, &url, 0, vec![], &empty).await),
        200
    );
    assert_eq!(
        status(submit_checkpoint(&http, &url, 0, vec![], &cp4).await),
        200
    );
    // Same size, another root; same size with a non-empty proof.
    let mut fork = TestLog {
        signer: log.signer.clone(),
        tree: MemoryTree::new(),
    };
    fork.tree.push(leaf_hash(b"evil"));
    fork.grow(3);
    // tlog-witness: "If they don't match, the witness MUST respond with a 409 Conflict".
    let raw = http
        .post(format!("{url}/add-checkpoint"))
        .body(format!("old 4\n\n{}", fork.checkpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 409);
    assert_eq!(
        raw.headers()["content-type"].to_str().unwrap(),
        "text/x.tlog.size"
    );
    assert_eq!(raw.text().await.unwrap(), "4\n");
    assert_eq!(
        status(submit_checkpoint(&http, &url, 4, vec![], &fork.checkpoint()).await),
        409
    );
    assert_eq!(
        status(submit_checkpoint(&http, &url, 4, vec![[1; 32]], &cp4).await),
        422
    );
}
