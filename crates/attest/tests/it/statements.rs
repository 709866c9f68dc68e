//! Statements through JSON: every predicate type parses and validates, bad fields are rejected
//! naming their path, unknown predicate types are rejected listing the allowed ones.
use crate::fixtures::{dataset, decision, inference, model, training_run};
use cairn_attest::{
    Digest, Error, KNOWN_PREDICATE_TYPES, KnownPredicate, Predicate, STATEMENT_TYPE_V1, Statement,
    Subject, parse_known_statement, parse_statement, predicate,
};
use serde_json::{Value, json};

/// One valid statement of each predicate type, as JSON.
fn samples() -> Vec<(Statement<KnownPredicate>, &'static str)> {
    let run_envelope = Digest::sha256_of(b"run envelope");
    vec![
        (
            Statement::new(
                vec![Subject::of_bytes("m.json", b"m")],
                dataset(1, b"m").into(),
            ),
            predicate::DATASET_V1,
        ),
        (
            Statement::new(
                vec![Subject::of_bytes("ckpt", b"weights")],
                training_run(vec![Digest::from_blake3([1; 32])]).into(),
            ),
            predicate::TRAINING_RUN_V1,
        ),
        (
            Statement::new(
                vec![Subject::of_bytes("model.safetensors", b"weights")],
                model(b"weights", run_envelope).into(),
            ),
            predicate::MODEL_V1,
        ),
        (
            Statement::new(
                vec![Subject::of_bytes("out.json", b"out")],
                inference(b"weights", b"in", b"out").into(),
            ),
            predicate::INFERENCE_V1,
        ),
        (
            Statement::new(
                vec![Subject::of_bytes("decision.json", b"d")],
                decision(b"plan", Digest::sha256_of(b"out")).into(),
            ),
            predicate::DECISION_V1,
        ),
        (
            Statement::new(
                vec![Subject::of_bytes("counts.txt", b"a 1")],
                job_receipt(b"a 1").into(),
            ),
            predicate::JOB_RECEIPT_V1,
        ),
    ]
}

fn job_receipt(output: &[u8]) -> predicate::JobReceiptV1 {
    let addr = "0x00000000000000000000000000000000000000aa".to_string();
    predicate::JobReceiptV1 {
        job_id: "7".into(),
        chain_id: 31337,
        market: addr.clone(),
        spec: Digest::sha256_of(b"spec"),
        module: Digest::sha256_of(b"module"),
        inputs: vec![Digest::sha256_of(b"input")],
        input_roots: vec![],
        outputs: vec![predicate::ReceiptOutput {
            name: "counts.txt".into(),
            digest: Digest::sha256_of(output),
        }],
        provider: addr.clone(),
        outcome: "succeeded".into(),
        fuel_used: 1,
        wall_time_ms: 1,
        payment: predicate::ReceiptPayment {
            token: addr,
            escrowed: "10".into(),
            paid: "9".into(),
            fee: "1".into(),
            refunded: "0".into(),
        },
        replica_of: None,
        replicas: vec![],
    }
}

fn to_value(statement: &Statement<KnownPredicate>) -> Value {
    serde_json::from_slice(&statement.to_json().unwrap()).unwrap()
}

fn parse_err(value: &Value) -> String {
    parse_known_statement(&serde_json::to_vec(value).unwrap())
        .unwrap_err()
        .to_string()
}

#[test]
fn predicate_type_uris() {
    assert_eq!(
        KNOWN_PREDICATE_TYPES,
        [
            "https://cairn.dev/attestation/dataset/v1",
            "https://cairn.dev/attestation/model/v1",
            "https://cairn.dev/attestation/training-run/v1",
            "https://cairn.dev/attestation/inference/v1",
            "https://cairn.dev/attestation/decision/v1",
            "https://cairn.dev/attestation/job-receipt/v1",
            "https://cairn.dev/attestation/dispute/v1",
        ]
    );
}

#[test]
fn every_predicate_type_round_trips_through_json() {
    for (statement, uri) in samples() {
        assert_eq!(statement.predicate_type, uri);
        statement.validate().unwrap();
        let value = to_value(&statement);
        assert_eq!(value["_type"], STATEMENT_TYPE_V1);
        assert_eq!(value["predicateType"], uri);
        let parsed = parse_known_statement(&statement.to_json().unwrap()).unwrap();
        assert_eq!(parsed, statement, "{uri}");
        assert_eq!(parsed.predicate.predicate_type(), uri);
    }
}

#[test]
fn statement_json_field_order_is_type_subject_predicate_type_predicate() {
    let (statement, _) = &samples()[0];
    let text = String::from_utf8(statement.to_json().unwrap()).unwrap();
    let at = |key: &str| text.find(&format!("\"{key}\":")).unwrap();
    assert!(at("_type") < at("subject"));
    assert!(at("subject") < at("predicateType"));
    let predicate = text.find("\"predicate\":{").unwrap();
    assert!(at("predicateType") < predicate, "{text}");
}

#[test]
fn bad_predicate_fields_are_named_by_path() {
    let statements: Vec<Value> = samples().iter().map(|(s, _)| to_value(s)).collect();
    let [dataset, run, model, inference, decision, _receipt] = statements.try_into().unwrap();
    let cases: Vec<(Value, &str, Value, &str)> = vec![
        (
            dataset.clone(),
            "fileCount",
            json!("3"),
            "predicate.fileCount: invalid type: string \"3\"",
        ),
        (
            dataset.clone(),
            "fileCount",
            json!(0),
            "predicate.fileCount: must be at least 1",
        ),
        (
            dataset.clone(),
            "root",
            json!("blake3:xyz"),
            "predicate.root: blake3 digest must be 64",
        ),
        (
            dataset.clone(),
            "root",
            json!(format!("sha256:{}", "0".repeat(64))),
            "predicate.root: must be a blake3 digest",
        ),
        (
            dataset.clone(),
            "filecount",
            json!(2),
            "predicate.filecount: unknown field",
        ),
        (
            run.clone(),
            "datasets",
            json!([]),
            "predicate.datasets: must list at least one",
        ),
        (
            run.clone(),
            "datasets",
            json!(["blake3:00"]),
            "predicate.datasets[0]: blake3 digest must be 64",
        ),
        (
            run.clone(),
            "providers",
            json!(["a", ""]),
            "predicate.providers[1]: must not be empty",
        ),
        (
            run.clone(),
            "verification",
            json!({"outcome": "maybe"}),
            "predicate.verification.outcome: unknown variant `maybe`",
        ),
        (
            model.clone(),
            "trainingRun",
            json!("run-1"),
            "predicate.trainingRun: must be written `algorithm:hex`",
        ),
        (
            model.clone(),
            "parameters",
            json!(-5),
            "predicate.parameters: invalid value: integer `-5`",
        ),
        (
            inference.clone(),
            "output",
            json!(format!("sha256:{}", "1".repeat(64))),
            "subject: no subject has digest sha256:1111",
        ),
        (
            inference.clone(),
            "jobId",
            json!(""),
            "predicate.jobId: must not be empty",
        ),
        (
            decision.clone(),
            "kind",
            json!("hodl"),
            "predicate.kind: unknown variant `hodl`",
        ),
        (
            decision.clone(),
            "amounts",
            json!({"amountIn": "1.5"}),
            "predicate.amounts.amountIn: must be a decimal integer",
        ),
        (
            decision.clone(),
            "risk",
            json!({"var": "high"}),
            "predicate.risk.var: invalid type: string \"high\"",
        ),
    ];
    for (mut statement, field, value, expected) in cases {
        statement["predicate"][field] = value;
        let err = parse_err(&statement);
        assert!(err.starts_with(expected), "{field}: {err}");
    }
    let mut missing = dataset;
    missing["predicate"]
        .as_object_mut()
        .unwrap()
        .remove("manifest");
    assert_eq!(
        parse_err(&missing),
        "predicate.manifest: required field is missing"
    );
}

#[test]
fn unknown_predicate_type_is_rejected_listing_the_allowed_ones() {
    let mut value = to_value(&samples()[0].0);
    value["predicateType"] = "https://slsa.dev/provenance/v1".into();
    let bytes = serde_json::to_vec(&value).unwrap();
    let err = parse_known_statement(&bytes).unwrap_err();
    let Error::UnknownPredicateType { found, allowed } = &err else {
        panic!("expected UnknownPredicateType, got {err}");
    };
    assert_eq!(found, "https://slsa.dev/provenance/v1");
    assert_eq!(allowed.as_slice(), KNOWN_PREDICATE_TYPES);
    let text = err.to_string();
    assert!(
        text.starts_with("predicateType: unknown predicate type"),
        "{text}"
    );
    for uri in KNOWN_PREDICATE_TYPES {
        assert!(text.contains(uri), "{text}");
    }
    // The generic parser still reads it for display.
    let generic = parse_statement(&bytes).unwrap();
    assert_eq!(generic.predicate_type, "https://slsa.dev/provenance/v1");
    assert_eq!(generic.predicate["name"], "dataset-1");
}

#[test]
fn mismatched_predicate_type_and_wrong_statement_type_are_rejected() {
    let (mut statement, _) = samples().remove(0);
    statement.predicate_type = predicate::MODEL_V1.into();
    let err = statement.validate().unwrap_err().to_string();
    assert!(err.starts_with("predicateType: is \"https://cairn.dev/attestation/model/v1\" but the predicate is a \"https://cairn.dev/attestation/dataset/v1\""), "{err}");

    let mut value = to_value(&samples()[0].0);
    value["_type"] = "https://in-toto.io/Statement/v0.1".into();
    assert!(parse_err(&value).starts_with("_type: must be"));
}

#[test]
fn subjects_must_carry_sha256() {
    let mut value = to_value(&samples()[0].0);
    value["subject"][0]["digest"] = json!({"blake3": "ab".repeat(32)});
    assert!(parse_err(&value).starts_with("subject[0].digest.sha256: required field is missing"));
    value["subject"][0]["digest"] = json!({"sha256": "AB".repeat(32)});
    assert_eq!(
        parse_err(&value),
        "subject[0].digest.sha256: must be 64 lowercase hex characters"
    );
}

#[test]
fn subject_digests_list_every_algorithm_of_every_subject() {
    let blake = Digest::from_blake3([9; 32]);
    let statement = Statement::new(
        vec![
            Subject::of_bytes("a", b"a").with_digest(&blake),
            Subject::of_bytes("b", b"b"),
        ],
        dataset(1, b"a"),
    );
    assert_eq!(
        statement.subject_digests(),
        vec![blake, Digest::sha256_of(b"a"), Digest::sha256_of(b"b")]
    );
    assert_eq!(statement.subject[0].sha256(), Some(Digest::sha256_of(b"a")));
}
