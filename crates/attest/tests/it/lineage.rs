//! A full chain — datasets, training run, model, inference, decision — signed, verified,
//! indexed, and walked back from the output and from the decision.
use crate::fixtures::{dataset, decision, inference, key_a, key_b, model, training_run};
use cairn_attest::{Digest, Envelope, Key, LineageIndex, Predicate, Statement, Subject, predicate};

struct Chain {
    index: LineageIndex,
    datasets: [Envelope; 2],
    run: Envelope,
    model: Envelope,
    inference: Envelope,
    decision: Envelope,
}

fn sign<P: Predicate>(subject: Subject, predicate: P, key: &Key) -> Envelope {
    Envelope::sign_statement(&Statement::new(vec![subject], predicate), key).unwrap()
}

fn chain() -> Chain {
    let (a, b) = (key_a(), key_b());
    let d1 = sign(
        Subject::of_bytes("d1.json", b"manifest 1"),
        dataset(1, b"manifest 1"),
        &a,
    );
    let d2 = sign(
        Subject::of_bytes("d2.json", b"manifest 2"),
        dataset(2, b"manifest 2"),
        &a,
    );
    let roots = vec![Digest::from_blake3([1; 32]), Digest::from_blake3([2; 32])];
    // The run's subject is its own record; the model statement names the weights it produced.
    let run = sign(
        Subject::of_bytes("run.json", b"run record"),
        training_run(roots),
        &b,
    );
    let model = sign(
        Subject::of_bytes("model.safetensors", b"weights"),
        model(b"weights", run.digest()),
        &b,
    );
    let inference = sign(
        Subject::of_bytes("out.json", b"output"),
        inference(b"weights", b"prompt", b"output"),
        &b,
    );
    let decision = sign(
        Subject::of_bytes("decision.json", b"decision"),
        decision(b"plan", Digest::sha256_of(b"output")),
        &a,
    );
    let mut index = LineageIndex::new();
    for (envelope, key) in [
        (&d1, &a),
        (&d2, &a),
        (&run, &b),
        (&model, &b),
        (&inference, &b),
        (&decision, &a),
    ] {
        let statement = envelope.verify(&key.public()).unwrap();
        index.insert(envelope.digest(), statement);
    }
    Chain {
        index,
        datasets: [d1, d2],
        run,
        model,
        inference,
        decision,
    }
}

#[test]
fn upstream_links_point_at_the_next_statement() {
    let c = chain();
    let statement = |e: &Envelope, k: &Key| e.verify(&k.public()).unwrap();
    let inf = statement(&c.inference, &key_b());
    assert_eq!(inf.subject_digests(), vec![Digest::sha256_of(b"output")]);
    assert_eq!(
        inf.upstream_digests(),
        vec![Digest::sha256_of(b"weights"), Digest::sha256_of(b"prompt")]
    );
    let model = statement(&c.model, &key_b());
    assert_eq!(model.subject_digests(), vec![Digest::sha256_of(b"weights")]);
    assert_eq!(model.upstream_digests(), vec![c.run.digest()]);
    let run = statement(&c.run, &key_b());
    assert_eq!(
        run.upstream_digests(),
        vec![
            Digest::from_blake3([1; 32]),
            Digest::from_blake3([2; 32]),
            Digest::sha256_of(b"train.py"),
        ]
    );
    let d1 = statement(&c.datasets[0], &key_a());
    assert!(d1.upstream_digests().is_empty());
    assert_eq!(
        d1.provided_digests(),
        vec![
            Digest::sha256_of(b"manifest 1"),
            Digest::from_blake3([1; 32])
        ]
    );
}

#[test]
fn walk_from_output_reaches_model_run_and_datasets() {
    let c = chain();
    let lineage = c.index.walk(&Digest::sha256_of(b"output"));
    let reached: Vec<_> = lineage
        .steps
        .iter()
        .map(|s| (s.predicate_type, s.envelope.clone(), s.depth))
        .collect();
    assert_eq!(
        reached,
        vec![
            (predicate::INFERENCE_V1, c.inference.digest(), 0),
            (predicate::MODEL_V1, c.model.digest(), 1),
            (predicate::TRAINING_RUN_V1, c.run.digest(), 2),
            (predicate::DATASET_V1, c.datasets[0].digest(), 3),
            (predicate::DATASET_V1, c.datasets[1].digest(), 3),
        ]
    );
    // The model is reached via its file digest, the run via its envelope digest.
    assert_eq!(lineage.steps[1].via, Digest::sha256_of(b"weights"));
    assert_eq!(lineage.steps[2].via, c.run.digest());
    assert_eq!(lineage.steps[3].via, Digest::from_blake3([1; 32]));
    // The prompt and the training code are not attested.
    assert_eq!(
        lineage.unresolved,
        vec![Digest::sha256_of(b"prompt"), Digest::sha256_of(b"train.py")]
    );
}

#[test]
fn walk_from_decision_goes_through_the_inference_output() {
    let c = chain();
    let lineage = c.index.walk(&Digest::sha256_of(b"decision"));
    let types: Vec<_> = lineage.steps.iter().map(|s| s.predicate_type).collect();
    assert_eq!(
        types,
        [
            predicate::DECISION_V1,
            predicate::INFERENCE_V1,
            predicate::MODEL_V1,
            predicate::TRAINING_RUN_V1,
            predicate::DATASET_V1,
            predicate::DATASET_V1,
        ]
    );
    assert_eq!(lineage.steps[0].envelope, c.decision.digest());
    assert!(lineage.unresolved.contains(&Digest::sha256_of(b"plan")));
}

#[test]
fn missing_link_is_reported_unresolved() {
    let c = chain();
    let mut partial = LineageIndex::new();
    partial.insert(
        c.inference.digest(),
        c.inference.verify(&key_b().public()).unwrap(),
    );
    let lineage = partial.walk(&Digest::sha256_of(b"output"));
    assert_eq!(lineage.steps.len(), 1);
    assert_eq!(
        lineage.unresolved,
        vec![Digest::sha256_of(b"weights"), Digest::sha256_of(b"prompt")]
    );
    assert!(c.index.find(&Digest::sha256_of(b"nothing")).is_empty());
    assert_eq!(c.index.len(), 6);
}

#[test]
fn run_whose_subject_is_the_model_file_is_found_beside_the_model_statement() {
    let b = key_b();
    let run = sign(
        Subject::of_bytes("model.safetensors", b"weights"),
        training_run(vec![Digest::from_blake3([1; 32])]),
        &b,
    );
    let model = sign(
        Subject::of_bytes("model.safetensors", b"weights"),
        model(b"weights", run.digest()),
        &b,
    );
    let mut index = LineageIndex::new();
    for envelope in [&run, &model] {
        index.insert(envelope.digest(), envelope.verify(&b.public()).unwrap());
    }
    let lineage = index.walk(&Digest::sha256_of(b"weights"));
    // Both statements are about the weights; the run is visited once although the model also
    // links to it by envelope digest.
    let envelopes: Vec<_> = lineage.steps.iter().map(|s| s.envelope.clone()).collect();
    assert_eq!(envelopes, vec![run.digest(), model.digest()]);
    assert!(lineage.steps.iter().all(|s| s.depth == 0));
}
