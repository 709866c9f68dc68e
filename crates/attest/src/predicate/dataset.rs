//! `dataset/v1`: a dataset was registered. The statement's subject is the dataset's manifest
//! file; the predicate adds the dataset root that training runs cite.
use super::{DATASET_V1, Predicate, require_subject};
use crate::{Digest, FieldError, Subject, check, digest::BLAKE3, digest::SHA256};
use serde::{Deserialize, Serialize};

/// Predicate of [`DATASET_V1`] (`https://cairn.dev/attestation/dataset/v1`).
///
/// ```json
/// {"name": "wikitext-2", "root": "blake3:<64 hex>", "fileCount": 3, "totalBytes": 4096,
///  "manifest": "sha256:<64 hex>", "license": "CC-BY-SA-4.0", "source": "https://…"}
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DatasetV1 {
    /// Human-readable dataset name.
    pub name: String,
    /// The dataset root (`blake3:<hex>`) computed over its contents; training runs cite it.
    pub root: Digest,
    /// Number of files in the dataset; at least 1.
    pub file_count: u64,
    /// Total size of the files in bytes.
    pub total_bytes: u64,
    /// `sha256` of the manifest file; must also be a subject of the statement.
    pub manifest: Digest,
    /// License, ideally an SPDX identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Where the data came from (URL or description).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl DatasetV1 {
    /// [`DATASET_V1`].
    pub const PREDICATE_TYPE: &'static str = DATASET_V1;
}

impl Predicate for DatasetV1 {
    fn predicate_type(&self) -> &'static str {
        DATASET_V1
    }

    fn validate(&self) -> Result<(), FieldError> {
        check::text("predicate.name", &self.name)?;
        check::algorithm("predicate.root", &self.root, BLAKE3)?;
        if self.file_count == 0 {
            return Err(FieldError::new(
                "predicate.fileCount",
                "must be at least 1 (a dataset has files)",
            ));
        }
        check::algorithm("predicate.manifest", &self.manifest, SHA256)?;
        check::opt_text("predicate.license", self.license.as_deref())?;
        check::opt_text("predicate.source", self.source.as_deref())
    }

    fn check_subjects(&self, subjects: &[Subject]) -> Result<(), FieldError> {
        require_subject(subjects, &self.manifest, "predicate.manifest")
    }

    /// A registered dataset depends on nothing attested.
    fn upstream_digests(&self) -> Vec<Digest> {
        Vec::new()
    }

    /// Training runs cite the dataset by its root.
    fn identity_digests(&self) -> Vec<Digest> {
        vec![self.root.clone()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mutation of a valid sample and the start of the error it must cause.
    type Case = (fn(&mut DatasetV1), &'static str);

    fn sample() -> DatasetV1 {
        DatasetV1 {
            name: "wikitext-2".into(),
            root: Digest::from_blake3([1; 32]),
            file_count: 3,
            total_bytes: 4096,
            manifest: Digest::from_sha256([2; 32]),
            license: Some("CC-BY-SA-4.0".into()),
            source: None,
        }
    }

    #[test]
    fn valid_sample_passes_and_links_by_root() {
        let d = sample();
        d.validate().unwrap();
        d.check_subjects(&[Subject::new("manifest.json", &d.manifest)])
            .unwrap();
        assert!(d.upstream_digests().is_empty());
        assert_eq!(d.identity_digests(), vec![d.root.clone()]);
    }

    #[test]
    fn bad_fields_are_named() {
        let cases: [Case; 5] = [
            (|d| d.name = " ".into(), "predicate.name: must not be empty"),
            (
                |d| d.root = Digest::from_sha256([1; 32]),
                "predicate.root: must be a blake3 digest",
            ),
            (
                |d| d.file_count = 0,
                "predicate.fileCount: must be at least 1",
            ),
            (
                |d| d.manifest = Digest::from_blake3([2; 32]),
                "predicate.manifest: must be a sha256 digest",
            ),
            (
                |d| d.license = Some(String::new()),
                "predicate.license: must not be empty",
            ),
        ];
        for (mutate, expected) in cases {
            let mut d = sample();
            mutate(&mut d);
            let err = d.validate().unwrap_err().to_string();
            assert!(err.starts_with(expected), "{err}");
        }
    }

    #[test]
    fn manifest_must_be_a_subject() {
        let d = sample();
        let other = Subject::of_bytes("other", b"x");
        let err = d.check_subjects(&[other]).unwrap_err().to_string();
        assert!(
            err.starts_with("subject: no subject has digest sha256:0202"),
            "{err}"
        );
        assert!(err.contains("predicate.manifest"), "{err}");
    }

    #[test]
    fn json_uses_camel_case_and_omits_absent_options() {
        let json = serde_json::to_value(sample()).unwrap();
        assert_eq!(json["fileCount"], 3);
        assert_eq!(json["totalBytes"], 4096);
        assert!(json.get("source").is_none());
    }
}
