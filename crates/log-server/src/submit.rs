//! Turning a submitted DSSE envelope into a log entry.
//!
//! The log accepts only statements it can vouch for: the envelope must be signed by the public
//! key submitted with it (whose SHA-256 becomes the entry's signer key hash), carry an in-toto
//! Statement v1 with a known Cairn predicate type, and pass that predicate's validation. What is
//! stored is the envelope's canonical JSON, so the same envelope always gets the same digest and
//! a duplicate submission finds the existing entry.
use crate::ApiError;
use cairn_attest::{Envelope, KnownPredicate, Limits, PublicKey, Statement, predicate};
use cairn_log::{AddRequest, Mention, Role, StatementKind};
pub use cairn_log_client::Submission;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

/// Validates a submission body. Returns the log request, the signer's key and the statement.
pub fn prepare(
    body: &[u8],
    limits: &Limits,
) -> Result<(AddRequest, PublicKey, Statement<KnownPredicate>), ApiError> {
    if body.len() > limits.max_envelope_bytes * 2 + 1024 {
        return Err(ApiError::too_large(format!(
            "the request is {} bytes; envelopes are limited to {} bytes",
            body.len(),
            limits.max_envelope_bytes
        )));
    }
    let sub: Submission = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body must be JSON {{\"envelope\": <DSSE envelope>, \"publicKey\": <hex or base64>}}: {e}"
        ))
    })?;
    // Parsers disagree on which of two equal keys wins; signed JSON must not have them.
    serde_json::from_slice::<NoDuplicateKeys>(body)
        .map_err(|e| ApiError::bad_request(format!("the body: {e}")))?;
    let key = PublicKey::parse(&sub.public_key)
        .map_err(|e| ApiError::bad_request(format!("publicKey: {e}")))?;
    let raw = serde_json::to_vec(&sub.envelope).map_err(ApiError::internal)?;
    let envelope = Envelope::from_json_with(&raw, limits).map_err(|e| reject(e, "envelope"))?;
    let statement = envelope
        .verify_with(&key, limits)
        .map_err(|e| reject(e, "envelope"))?;
    let canonical = envelope.canonical_json();
    let req = AddRequest {
        envelope_sha256: Sha256::digest(&canonical).into(),
        mentions: Some(statement_mentions(&statement, &envelope.digest())),
        envelope: canonical,
        kind: kind_of(&statement.predicate_type),
        signer_key_hash: key.key_hash(),
    };
    Ok((req, key, statement))
}

/// Any JSON value, refused if an object repeats a key (at any depth).
struct NoDuplicateKeys;

impl<'de> Deserialize<'de> for NoDuplicateKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoDuplicateKeysVisitor).map(|()| Self)
    }
}

struct NoDuplicateKeysVisitor;

impl<'de> serde::de::Visitor<'de> for NoDuplicateKeysVisitor {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<NoDuplicateKeys>()?.is_some() {}
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !keys.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!(
                    "duplicate key `{key}`; each key may appear once in signed JSON"
                )));
            }
            map.next_value::<NoDuplicateKeys>()?;
        }
        Ok(())
    }
}

fn reject(e: cairn_attest::Error, what: &str) -> ApiError {
    match e {
        cairn_attest::Error::TooLarge { .. } => ApiError::too_large(format!("{what}: {e}")),
        // The envelope's signature is the submission's authentication.
        cairn_attest::Error::Unsigned
        | cairn_attest::Error::BadSignature { .. }
        | cairn_attest::Error::KeyIdMismatch { .. }
        | cairn_attest::Error::NoSignatureByKey { .. }
        | cairn_attest::Error::BelowThreshold { .. } => {
            ApiError::unauthorized(format!("{what}: {e}"))
        }
        e => ApiError::bad_request(format!("{what}: {e}")),
    }
}

/// The entry kind for a predicate type.
pub fn kind_of(predicate_type: &str) -> StatementKind {
    match predicate_type {
        predicate::DATASET_V1 => StatementKind::Dataset,
        predicate::MODEL_V1 => StatementKind::Model,
        predicate::TRAINING_RUN_V1 => StatementKind::TrainingRun,
        predicate::INFERENCE_V1 => StatementKind::Inference,
        predicate::DECISION_V1 => StatementKind::AgentDecision,
        predicate::JOB_RECEIPT_V1 => StatementKind::JobReceipt,
        _ => StatementKind::Other,
    }
}

/// The digests a stored (canonical) envelope mentions, for the lineage index: the statement's
/// subjects and identity digests, and the upstream digests its predicate points at.
pub fn mentions_of(envelope: &[u8]) -> Vec<Mention> {
    let Ok(env) = Envelope::from_json(envelope) else {
        return Vec::new();
    };
    let Ok(statement) = cairn_attest::parse_known_statement(&env.payload) else {
        return Vec::new();
    };
    statement_mentions(&statement, &env.digest())
}

/// The lineage mentions of an already parsed statement carried by the envelope `envelope`.
pub fn statement_mentions(
    statement: &Statement<KnownPredicate>,
    envelope: &cairn_attest::Digest,
) -> Vec<Mention> {
    let mut out: Vec<Mention> = statement
        .provided_digests()
        .into_iter()
        .map(|d| Mention {
            digest: d.to_string(),
            role: Role::Subject,
        })
        .collect();
    out.extend(statement.upstream_digests().into_iter().map(|d| Mention {
        digest: d.to_string(),
        role: Role::Reference,
    }));
    // The envelope itself can be cited (a model names its training run by envelope digest).
    out.push(Mention {
        digest: envelope.to_string(),
        role: Role::Subject,
    });
    // One mention per (digest, role), wherever the duplicates sit: a dataset statement names its
    // root both as a subject digest (`blake3`) and in its predicate.
    let mut unique: Vec<Mention> = Vec::with_capacity(out.len());
    for m in out {
        if !unique
            .iter()
            .any(|u| u.digest == m.digest && u.role == m.role)
        {
            unique.push(m);
        }
    }
    unique
}
