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
        matches!(refused, Err(ClientError::Refused { status: 409, .. })),
        "{refused:?}"
    );
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

    // The witness's view survives a restart: a new process still knows size 17.
    let url2 = serve(&state, vec![log.signer.verifier()], cosigner).await;
    match submit_checkpoint(&http, &url2, 0, vec![], &cp10).await {
        Err(ClientError::Conflict { size, .. }) => assert_eq!(size, 17),
        other => panic!("expected the persisted size, got {other:?}"),
    }
}
