//! in-toto Statement v1: *which artifacts* (subjects, by digest) a claim is about, *what kind* of
//! claim it is (`predicateType`), and the claim itself (`predicate`).
//!
//! ```text
//! {"_type": "https://in-toto.io/Statement/v1",
//!  "subject": [{"name": "model.safetensors", "digest": {"sha256": "…"}}],
//!  "predicateType": "https://cairn.dev/attestation/model/v1",
//!  "predicate": {…}}
//! ```
//!
//! Cairn requires a `sha256` digest on every subject so that any two statements can be joined on
//! one algorithm; other algorithms (`blake3`, …) may be listed beside it. Unknown fields of the
//! statement and its subjects are ignored, as in-toto requires, but Cairn predicates themselves
//! reject unknown fields (a new field means a new predicate version).
use crate::{
    Digest, Error, FieldError, KnownPredicate, Predicate, Result, check, digest, json,
    predicate::KNOWN_PREDICATE_TYPES,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE_V1: &str = "https://in-toto.io/Statement/v1";

/// One artifact a statement is about: a name and its digests by algorithm
/// (`{"sha256": "<hex>", "blake3": "<hex>"}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// A name for the artifact, typically its file name.
    pub name: String,
    /// Digests of the artifact keyed by algorithm; must include `sha256`.
    pub digest: BTreeMap<String, String>,
}

impl Subject {
    /// A subject with one digest; add more with [`Subject::with_digest`]. Remember that every
    /// subject needs a `sha256` digest.
    pub fn new(name: impl Into<String>, digest: &Digest) -> Self {
        Self {
            name: name.into(),
            digest: BTreeMap::new(),
        }
        .with_digest(digest)
    }

    /// A subject named `name` whose content is `bytes` (its `sha256` is computed here).
    pub fn of_bytes(name: impl Into<String>, bytes: &[u8]) -> Self {
        Self::new(name, &Digest::sha256_of(bytes))
    }

    /// Adds (or replaces) the digest for `digest`'s algorithm.
    pub fn with_digest(mut self, digest: &Digest) -> Self {
        self.digest
            .insert(digest.algorithm().to_owned(), digest.hex().to_owned());
        self
    }

    /// The subject's well-formed digests, ordered by algorithm name.
    pub fn digests(&self) -> Vec<Digest> {
        self.digest
            .iter()
            .filter_map(|(algorithm, hex)| Digest::new(algorithm, hex).ok())
            .collect()
    }

    /// The subject's `sha256` digest, if present and well formed.
    pub fn sha256(&self) -> Option<Digest> {
        let hex = self.digest.get(digest::SHA256)?;
        Digest::new(digest::SHA256, hex).ok()
    }

    /// Whether the subject carries exactly this digest.
    pub fn has_digest(&self, digest: &Digest) -> bool {
        self.digest.get(digest.algorithm()).map(String::as_str) == Some(digest.hex())
    }

    /// Checks the name and digests; `path` is the subject's JSON path (`subject[1]`).
    fn validate(&self, path: &str) -> Result<(), FieldError> {
        check::text(&format!("{path}.name"), &self.name)?;
        if !self.digest.contains_key(digest::SHA256) {
            return Err(FieldError::new(
                format!("{path}.digest.sha256"),
                "required field is missing: every subject needs a sha256 digest",
            ));
        }
        for (algorithm, hex) in &self.digest {
            let field = format!("{path}.digest.{algorithm}");
            digest::check_algorithm(algorithm).map_err(|r| FieldError::new(&field, r))?;
            digest::check_hex(algorithm, hex).map_err(|r| FieldError::new(&field, r))?;
        }
        Ok(())
    }
}

/// An in-toto Statement v1 with predicate `P`: a typed Cairn predicate, [`KnownPredicate`] for
/// "any Cairn predicate", or [`serde_json::Value`] for display of arbitrary statements.
///
/// JSON field order is `_type`, `subject`, `predicateType`, `predicate`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Statement<P> {
    /// Always [`STATEMENT_TYPE_V1`].
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// The artifacts the statement is about.
    pub subject: Vec<Subject>,
    /// URI naming the predicate's schema.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The claim.
    pub predicate: P,
}

impl<P> Statement<P> {
    /// Every well-formed digest of every subject, in subject order. A lineage walk finds this
    /// statement by any of these.
    pub fn subject_digests(&self) -> Vec<Digest> {
        self.subject.iter().flat_map(Subject::digests).collect()
    }

    /// Checks `_type`, the subjects and that `predicateType` is present: everything but the
    /// predicate.
    pub fn validate_header(&self) -> Result<(), FieldError> {
        if self.statement_type != STATEMENT_TYPE_V1 {
            return Err(FieldError::new(
                "_type",
                format!(
                    "must be \"{STATEMENT_TYPE_V1}\" (found \"{}\")",
                    self.statement_type
                ),
            ));
        }
        if self.subject.is_empty() {
            return Err(FieldError::new(
                "subject",
                "must list at least one subject (the artifact the statement is about)",
            ));
        }
        for (i, subject) in self.subject.iter().enumerate() {
            subject.validate(&format!("subject[{i}]"))?;
        }
        check::text("predicateType", &self.predicate_type)
    }
}

impl<P: Predicate> Statement<P> {
    /// A statement about `subject` carrying `predicate`; `_type` and `predicateType` are filled
    /// in. Nothing is checked until [`Statement::validate`] (signing validates).
    pub fn new(subject: Vec<Subject>, predicate: P) -> Self {
        Self {
            statement_type: STATEMENT_TYPE_V1.to_owned(),
            subject,
            predicate_type: predicate.predicate_type().to_owned(),
            predicate,
        }
    }

    /// Checks the whole statement: header, that `predicateType` matches the predicate, the
    /// predicate's fields, and that the subjects include what the predicate says they are.
    pub fn validate(&self) -> Result<()> {
        self.validate_header()?;
        let expected = self.predicate.predicate_type();
        if self.predicate_type != expected {
            return Err(FieldError::new(
                "predicateType",
                format!(
                    "is \"{}\" but the predicate is a \"{expected}\"",
                    self.predicate_type
                ),
            )
            .into());
        }
        self.predicate.validate()?;
        self.predicate.check_subjects(&self.subject)?;
        Ok(())
    }

    /// Digests this statement's claim depends on (see [`Predicate::upstream_digests`]).
    pub fn upstream_digests(&self) -> Vec<Digest> {
        self.predicate.upstream_digests()
    }

    /// Digests by which a lineage walk finds this statement: the subjects' digests followed by
    /// the predicate's [`Predicate::identity_digests`] (a dataset's root).
    pub fn provided_digests(&self) -> Vec<Digest> {
        let mut digests = self.subject_digests();
        digests.extend(self.predicate.identity_digests());
        digests
    }
}

impl<P: Serialize> Statement<P> {
    /// Compact JSON bytes of the statement, as signed in an envelope's payload.
    pub fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|source| Error::Encode {
            what: "statement",
            source,
        })
    }
}

/// Parses any in-toto Statement v1 (for display): checks `_type` and the subjects, leaves the
/// predicate as JSON.
pub fn parse_statement(json: &[u8]) -> Result<Statement<Value>> {
    let value = json::parse(json, "statement")?;
    let statement: Statement<Value> = json::decode(value, "")?;
    statement.validate_header()?;
    Ok(statement)
}

/// Parses a statement whose predicate is one of the Cairn predicate types and validates all of
/// it. Any other `predicateType` is rejected with [`Error::UnknownPredicateType`], which lists
/// the allowed ones.
pub fn parse_known_statement(json: &[u8]) -> Result<Statement<KnownPredicate>> {
    let generic = parse_statement(json)?;
    known_from_generic(generic)
}

/// Types the predicate of an already parsed generic statement, then validates the statement.
pub(crate) fn known_from_generic(generic: Statement<Value>) -> Result<Statement<KnownPredicate>> {
    let predicate = KnownPredicate::from_value(&generic.predicate_type, generic.predicate)?;
    let statement = Statement {
        statement_type: generic.statement_type,
        subject: generic.subject,
        predicate_type: generic.predicate_type,
        predicate,
    };
    statement.validate()?;
    Ok(statement)
}

/// The error for a predicate type outside [`KNOWN_PREDICATE_TYPES`].
pub(crate) fn unknown_predicate_type(found: &str) -> Error {
    Error::UnknownPredicateType {
        found: found.to_owned(),
        allowed: KNOWN_PREDICATE_TYPES.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generic(subject: Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "_type": STATEMENT_TYPE_V1,
            "subject": subject,
            "predicateType": "https://example.com/other/v1",
            "predicate": {"anything": [1, 2, 3]},
        }))
        .unwrap()
    }

    #[test]
    fn generic_statement_parses_any_predicate() {
        let sha = "a".repeat(64);
        let statement = parse_statement(&generic(
            serde_json::json!([{"name": "f", "digest": {"sha256": sha}}]),
        ))
        .unwrap();
        assert_eq!(statement.predicate["anything"][2], 3);
        assert_eq!(
            statement.subject_digests()[0].to_string(),
            format!("sha256:{sha}")
        );
    }

    #[test]
    fn subject_errors_name_the_field_path() {
        let good = "a".repeat(64);
        let cases = [
            (
                serde_json::json!([]),
                "subject: must list at least one subject",
            ),
            (
                serde_json::json!([{"name": "a", "digest": {"sha256": good}},
                                   {"name": "b", "digest": {"sha256": "ABC"}}]),
                "subject[1].digest.sha256: must be 64 lowercase hex characters",
            ),
            (
                serde_json::json!([{"name": "a", "digest": {"blake3": good}}]),
                "subject[0].digest.sha256: required field is missing",
            ),
            (
                serde_json::json!([{"name": "a", "digest": {"sha256": good, "blake3": "xy"}}]),
                "subject[0].digest.blake3: must be 64 lowercase hex characters",
            ),
            (
                serde_json::json!([{"name": "", "digest": {"sha256": good}}]),
                "subject[0].name: must not be empty",
            ),
            (
                serde_json::json!([{"digest": {"sha256": good}}]),
                "subject[0].name: required field is missing",
            ),
        ];
        for (subject, expected) in cases {
            let err = parse_statement(&generic(subject)).unwrap_err().to_string();
            assert!(err.starts_with(expected), "{err}");
        }
    }

    #[test]
    fn wrong_type_and_bad_json_are_rejected() {
        let err = parse_statement(br#"{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"name":"a","digest":{"sha256":"00"}}],"predicateType":"x","predicate":{}}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("_type: must be \"https://in-toto.io/Statement/v1\""),
            "{err}"
        );
        let err = parse_statement(b"{not json").unwrap_err();
        assert!(
            matches!(
                err,
                Error::Json {
                    what: "statement",
                    ..
                }
            ),
            "{err}"
        );
        let err = parse_statement(br#"{"_type":"https://in-toto.io/Statement/v1","subject":[]}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("predicateType: required field is missing"),
            "{err}"
        );
    }
}
