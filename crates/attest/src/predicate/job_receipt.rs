//! `job-receipt/v1`: a compute job ran on a provider and was settled. The node that matched and
//! settled the job signs it when the job finishes; the statement's subjects are the job's outputs
//! (files and standard output), and the predicate points at the job spec, the module and the
//! inputs, so a lineage walk goes from an output file to the code and data that produced it.
use super::{JOB_RECEIPT_V1, Predicate, require_subject};
use crate::{Digest, FieldError, Subject, check, digest::SHA256};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Most inputs or outputs one receipt lists.
const MAX_ITEMS: usize = 4_096;

/// Predicate of [`JOB_RECEIPT_V1`] (`https://cairn.dev/attestation/job-receipt/v1`).
///
/// ```json
/// {"jobId": "7", "chainId": 31337, "market": "0x…", "spec": "sha256:<hex>",
///  "module": "sha256:<hex>", "inputs": ["sha256:<hex>"], "inputRoots": ["blake3:<hex>"],
///  "outputs": [{"name": "counts.txt", "digest": "sha256:<hex>"}],
///  "provider": "0x…", "outcome": "succeeded", "fuelUsed": 123456, "wallTimeMs": 42,
///  "payment": {"token": "0x…", "escrowed": "1000", "paid": "990", "fee": "10", "refunded": "0"}}
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobReceiptV1 {
    /// The job's id in the escrow contract.
    pub job_id: String,
    /// Chain id of the escrow contract.
    pub chain_id: u64,
    /// The escrow contract's address.
    pub market: String,
    /// `sha256` of the job spec (the digest escrowed on chain).
    pub spec: Digest,
    /// `sha256` of the module that ran.
    pub module: Digest,
    /// `sha256` of each input file, in the spec's order.
    #[serde(default)]
    pub inputs: Vec<Digest>,
    /// Roots (`blake3:<hex>`) of the datasets the inputs came from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input_roots: Vec<Digest>,
    /// Each output with its `sha256`; every one is also a subject of the statement.
    pub outputs: Vec<ReceiptOutput>,
    /// The provider's address.
    pub provider: String,
    /// `succeeded`, or `failed: <reason>`.
    pub outcome: String,
    /// Fuel consumed.
    pub fuel_used: u64,
    /// Wall time in milliseconds.
    pub wall_time_ms: u64,
    /// Where the escrowed money went.
    pub payment: ReceiptPayment,
    /// For a replica (the same job run again on another provider to check a result, escrowed
    /// by the operator): the id of the job whose result it re-ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_of: Option<String>,
    /// The replicas that re-ran this job on other providers, and whether their results agreed
    /// with this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<ReceiptReplica>,
}

/// One replica of a job named in its receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReceiptReplica {
    /// The replica's job id in the escrow contract.
    pub job_id: String,
    /// The provider that ran it.
    pub provider: String,
    /// Whether its output digest and trace root equal this job's.
    pub agrees: bool,
}

/// One output named in a receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReceiptOutput {
    /// Path under `/output`, or `stdout`.
    pub name: String,
    /// Its `sha256`.
    pub digest: Digest,
}

/// Token amounts of a receipt, as decimal strings of base units (they can exceed 2^53).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReceiptPayment {
    /// The token's address.
    pub token: String,
    /// Escrowed by the requester.
    pub escrowed: String,
    /// Paid to the provider.
    pub paid: String,
    /// Kept as the market's fee.
    pub fee: String,
    /// Returned to the requester.
    pub refunded: String,
}

impl JobReceiptV1 {
    /// [`JOB_RECEIPT_V1`].
    pub const PREDICATE_TYPE: &'static str = JOB_RECEIPT_V1;
}

fn amount(path: &str, value: &str) -> Result<(), FieldError> {
    if value.is_empty() || value.len() > 78 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new(
            path,
            "must be a decimal integer of token base units (at most 78 digits)",
        ));
    }
    Ok(())
}

pub(super) fn address(path: &str, value: &str) -> Result<(), FieldError> {
    let hex = value.strip_prefix("0x").unwrap_or("");
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(FieldError::new(
            path,
            "must be a 0x-prefixed 20-byte hex address",
        ));
    }
    Ok(())
}

impl Predicate for JobReceiptV1 {
    fn predicate_type(&self) -> &'static str {
        JOB_RECEIPT_V1
    }

    fn validate(&self) -> Result<(), FieldError> {
        check::text("predicate.jobId", &self.job_id)?;
        address("predicate.market", &self.market)?;
        address("predicate.provider", &self.provider)?;
        check::algorithm("predicate.spec", &self.spec, SHA256)?;
        check::algorithm("predicate.module", &self.module, SHA256)?;
        if self.inputs.len() > MAX_ITEMS {
            return Err(FieldError::new(
                "predicate.inputs",
                format!("must list at most {MAX_ITEMS} inputs"),
            ));
        }
        for (i, d) in self.inputs.iter().enumerate() {
            check::algorithm(&format!("predicate.inputs[{i}]"), d, SHA256)?;
        }
        if self.outputs.is_empty() || self.outputs.len() > MAX_ITEMS {
            return Err(FieldError::new(
                "predicate.outputs",
                format!("must list 1 to {MAX_ITEMS} outputs (standard output counts)"),
            ));
        }
        let mut names = BTreeSet::new();
        for (i, o) in self.outputs.iter().enumerate() {
            let path = format!("predicate.outputs[{i}]");
            check::text(&format!("{path}.name"), &o.name)?;
            check::algorithm(&format!("{path}.digest"), &o.digest, SHA256)?;
            if !names.insert(&o.name) {
                return Err(FieldError::new(
                    format!("{path}.name"),
                    format!("duplicate output {:?}", o.name),
                ));
            }
        }
        if self.outcome != "succeeded" && !self.outcome.starts_with("failed: ") {
            return Err(FieldError::new(
                "predicate.outcome",
                "must be \"succeeded\" or start with \"failed: \"",
            ));
        }
        check::prose("predicate.outcome", &self.outcome)?;
        let p = &self.payment;
        address("predicate.payment.token", &p.token)?;
        amount("predicate.payment.escrowed", &p.escrowed)?;
        amount("predicate.payment.paid", &p.paid)?;
        amount("predicate.payment.fee", &p.fee)?;
        amount("predicate.payment.refunded", &p.refunded)?;
        if let Some(of) = &self.replica_of {
            check::text("predicate.replicaOf", of)?;
        }
        if self.replicas.len() > MAX_ITEMS {
            return Err(FieldError::new(
                "predicate.replicas",
                format!("must list at most {MAX_ITEMS} replicas"),
            ));
        }
        for (i, r) in self.replicas.iter().enumerate() {
            check::text(&format!("predicate.replicas[{i}].jobId"), &r.job_id)?;
            address(&format!("predicate.replicas[{i}].provider"), &r.provider)?;
        }
        Ok(())
    }

    fn check_subjects(&self, subjects: &[Subject]) -> Result<(), FieldError> {
        for (i, o) in self.outputs.iter().enumerate() {
            require_subject(subjects, &o.digest, &format!("predicate.outputs[{i}]"))?;
        }
        Ok(())
    }

    /// The spec, the module, the inputs, then the dataset roots.
    fn upstream_digests(&self) -> Vec<Digest> {
        let mut out = vec![self.spec.clone(), self.module.clone()];
        out.extend(self.inputs.iter().cloned());
        out.extend(self.input_roots.iter().cloned());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mutation of a valid sample and the start of the error it must cause.
    type Case = (fn(&mut JobReceiptV1), &'static str);

    const ADDR: &str = "0x00000000000000000000000000000000000000aa";

    pub(super) fn sample() -> JobReceiptV1 {
        JobReceiptV1 {
            job_id: "7".into(),
            chain_id: 31337,
            market: ADDR.into(),
            spec: Digest::from_sha256([1; 32]),
            module: Digest::from_sha256([2; 32]),
            inputs: vec![Digest::from_sha256([3; 32])],
            input_roots: vec![Digest::from_blake3([4; 32])],
            outputs: vec![ReceiptOutput {
                name: "counts.txt".into(),
                digest: Digest::from_sha256([5; 32]),
            }],
            provider: ADDR.into(),
            outcome: "succeeded".into(),
            fuel_used: 10,
            wall_time_ms: 3,
            payment: ReceiptPayment {
                token: ADDR.into(),
                escrowed: "1000".into(),
                paid: "990".into(),
                fee: "10".into(),
                refunded: "0".into(),
            },
            replica_of: None,
            replicas: vec![],
        }
    }

    #[test]
    fn valid_sample_passes_and_links_upstream() {
        let r = sample();
        r.validate().unwrap();
        r.check_subjects(&[Subject::new("counts.txt", &r.outputs[0].digest)])
            .unwrap();
        assert_eq!(r.upstream_digests().len(), 4);
        assert_eq!(r.upstream_digests()[0], r.spec);
    }

    #[test]
    fn a_replica_and_its_original_name_each_other() {
        let mut r = sample();
        r.replica_of = Some("6".into());
        r.validate().unwrap();
        let mut o = sample();
        o.replicas.push(ReceiptReplica {
            job_id: "8".into(),
            provider: ADDR.into(),
            agrees: true,
        });
        o.validate().unwrap();
        let json = serde_json::to_value(&o).unwrap();
        assert_eq!(json["replicas"][0]["jobId"], "8");
        assert!(
            serde_json::to_value(sample())
                .unwrap()
                .get("replicas")
                .is_none()
        );
        let back: JobReceiptV1 = serde_json::from_value(json).unwrap();
        assert_eq!(back, o);
    }

    #[test]
    fn bad_fields_are_named() {
        let cases: [Case; 9] = [
            (
                |r| r.replica_of = Some("".into()),
                "predicate.replicaOf: must not be empty",
            ),
            (
                |r| {
                    r.replicas.push(ReceiptReplica {
                        job_id: "8".into(),
                        provider: "bob".into(),
                        agrees: true,
                    })
                },
                "predicate.replicas[0].provider: must be a 0x",
            ),
            (
                |r| r.job_id = "".into(),
                "predicate.jobId: must not be empty",
            ),
            (
                |r| r.provider = "alice".into(),
                "predicate.provider: must be a 0x",
            ),
            (
                |r| r.spec = Digest::from_blake3([1; 32]),
                "predicate.spec: must be a sha256",
            ),
            (|r| r.outputs.clear(), "predicate.outputs: must list 1 to"),
            (
                |r| r.outputs.push(r.outputs[0].clone()),
                "predicate.outputs[1].name: duplicate output",
            ),
            (|r| r.outcome = "ok".into(), "predicate.outcome: must be"),
            (
                |r| r.payment.paid = "-1".into(),
                "predicate.payment.paid: must be a decimal",
            ),
        ];
        for (mutate, expected) in cases {
            let mut r = sample();
            mutate(&mut r);
            let err = r.validate().unwrap_err().to_string();
            assert!(err.starts_with(expected), "{err}");
        }
        let err = sample().check_subjects(&[]).unwrap_err().to_string();
        assert!(err.contains("predicate.outputs[0]"), "{err}");
    }
}
