//! C2SP tlog-proof@v1.

use cairn_tlog::*;

use crate::test_key;

/// The lines of the example in C2SP tlog-proof.md up to and including the
/// checkpoint body; the spec elides its signatures ("[...]"), so the tests
/// sign that body with real keys.
const SPEC_HEAD: &str = "c2sp.org/tlog-proof@v1
extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ
index 73894
gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=
B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=
EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=
RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=
AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=

example.com/fancylog
109482
sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=
";

const SPEC_BODY: &str =
    "example.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n";

/// The spec's checkpoint, signed by the log and three witnesses as in the example.
fn spec_checkpoint() -> String {
    let log = NoteSigner::new("example.com/fancylog", test_key(10)).unwrap();
    let mut note = Checkpoint::parse_body(SPEC_BODY)
        .unwrap()
        .sign(&log)
        .unwrap();
    for (i, name) in ["witness1.example", "witness2.example", "witness3.example"]
        .iter()
        .enumerate()
    {
        let w = Cosigner::new(*name, test_key(11 + i as u8)).unwrap();
        note.add_signature(w.cosign(SPEC_BODY, 1_700_000_000 + i as u64).unwrap());
    }
    note.to_string()
}

#[test]
fn spec_example_layout_round_trips() {
    let checkpoint = spec_checkpoint();
    let text = format!("{SPEC_HEAD}{}", &checkpoint[SPEC_BODY.len()..]);
    let proof = TlogProof::parse(&text).unwrap();
    let extra = proof.extra.as_deref().unwrap();
    assert!(extra.starts_with(b"age-v1.2.1-darwin-arm64.tar.gz"));
    assert_eq!(extra.len(), 39);
    assert_eq!(proof.index, 73894);
    assert_eq!(proof.proof.len(), 5);
    assert_eq!(proof.proof[0][..3], [0x81, 0x22, 0xb2]);
    assert_eq!(proof.checkpoint, checkpoint);
    assert_eq!(proof.format(), text);
    assert!(proof.format().starts_with(SPEC_HEAD));

    // Without the extra line.
    let mut bare = proof.clone();
    bare.extra = None;
    let bare_text = bare.format();
    assert!(bare_text.starts_with("c2sp.org/tlog-proof@v1\nindex 73894\n"));
    assert_eq!(TlogProof::parse(&bare_text).unwrap(), bare);
}

#[test]
fn spec_example_with_elided_signatures_is_rejected_at_the_checkpoint() {
    let text = format!(
        "{SPEC_HEAD}\n— example.com/fancylog hI2DJw[...]1roloI=\n— witness1.example mJirIklj[...]qY9v2B/5bg==\n"
    );
    let err = TlogProof::parse(&text).unwrap_err().to_string();
    assert!(err.contains("line 10: checkpoint"), "{err}");
    assert!(err.contains("example.com/fancylog"), "{err}");
}

#[test]
fn end_to_end_proof_verifies() {
    let log = NoteSigner::new("example.com/log", test_key(20)).unwrap();
    let entries: Vec<Vec<u8>> = (0..1000u32)
        .map(|i| format!("entry {i}").into_bytes())
        .collect();
    let tree = MemoryTree::from_leaves(entries.iter().map(|e| leaf_hash(e)));
    let note = Checkpoint::new("example.com/log", tree.len(), tree.root())
        .sign(&log)
        .unwrap();
    let proof = TlogProof {
        extra: Some(b"context".to_vec()),
        index: 733,
        proof: inclusion_proof(&tree, 733, tree.len()).unwrap(),
        checkpoint: note.to_string(),
    };
    let parsed = TlogProof::parse(&proof.format()).unwrap();
    assert_eq!(parsed, proof);
    let (cp, _) = parsed
        .verify(&leaf_hash(&entries[733]), &log.verifier())
        .unwrap();
    assert_eq!(cp.size, 1000);

    // Another entry, another index, another log key: all rejected.
    assert!(matches!(
        parsed.verify(&leaf_hash(&entries[734]), &log.verifier()),
        Err(Error::Proof(ProofError::RootMismatch))
    ));
    let mut moved = parsed.clone();
    moved.index = 732;
    assert!(
        moved
            .verify(&leaf_hash(&entries[733]), &log.verifier())
            .is_err()
    );
    let other = NoteSigner::new("example.com/log", test_key(21)).unwrap();
    assert!(
        parsed
            .verify(&leaf_hash(&entries[733]), &other.verifier())
            .is_err()
    );
    // A proof made for a smaller tree, packaged with this checkpoint.
    let mut stale = parsed.clone();
    stale.proof = inclusion_proof(&tree, 733, 800).unwrap();
    let err = stale
        .verify(&leaf_hash(&entries[733]), &log.verifier())
        .unwrap_err();
    assert!(matches!(err, Error::Proof(_)), "{err}");
}

#[test]
fn malformed_proofs_name_the_line() {
    let cp = spec_checkpoint();
    let hash = "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=";
    let long =
        "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlSBIrJehhlSBnqN25ZiuQM4BGKc4wYm95eOAyQFNx0+VA==";
    let cases: Vec<(String, &str)> = vec![
        (format!("wrong-header\nindex 0\n\n{cp}"), "line 1: expected"),
        (
            format!("c2sp.org/tlog-proof@v1\r\nindex 0\n\n{cp}"),
            "line 1",
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nextra !!notbase64!!\nindex 0\n\n{cp}"),
            "line 2: extra data is not canonical",
        ),
        (
            format!("c2sp.org/tlog-proof@v1\n\n\n{cp}"),
            "line 2: expected \"index <number>\"",
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex notanumber\n\n{cp}"),
            "line 2: index \"notanumber\" is not a decimal",
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex -5\n\n{cp}"),
            "line 2: index",
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 007\n\n{cp}"),
            "leading zero",
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 0\n!!notbase64!!\n\n{cp}"),
            "line 3: proof hash",
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 0\n{long}\n\n{cp}"),
            "64 bytes",
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 0\n{hash}\n{hash}"),
            "line 4: line does not end",
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 0\n{hash}\n"),
            "line 4: unexpected end",
        ),
        (
            format!(
                "c2sp.org/tlog-proof@v1\nindex 0\n{}\n{cp}",
                format!("{hash}\n").repeat(65)
            ),
            "line 67: more than 64",
        ),
        (
            "c2sp.org/tlog-proof@v1\nindex 0\n\n".to_string(),
            "line 4: checkpoint",
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 0\n\n{SPEC_BODY}"),
            "line 4: checkpoint: malformed signed note",
        ),
        (
            format!(
                "c2sp.org/tlog-proof@v1\nindex 0\n\n{}",
                cp.replacen("109482", "0109482", 1)
            ),
            "leading zero",
        ),
    ];
    for (text, why) in cases {
        let err = TlogProof::parse(&text).expect_err(&text).to_string();
        assert!(err.contains(why), "{text:?}: expected {why:?} in {err}");
    }
}
