//! Offline-verifiable bundles: everything needed to check one statement without the log.
//!
//! ```json
//! {
//!   "mediaType": "application/vnd.cairn.bundle.v1+json",
//!   "envelope":  { DSSE envelope },
//!   "publicKey": "<base64 Ed25519 key of the signer>",
//!   "entry":     { "index": 42, "kind": "model", "timeMs": 1764000000000 },
//!   "tlogProof": "c2sp.org/tlog-proof@v1\nindex 42\n...\n\n<checkpoint + cosignatures>"
//! }
//! ```
//!
//! Verification rebuilds the log entry from the envelope, the key and the entry fields, hashes
//! it as an RFC 6962 leaf, checks the inclusion proof against the checkpoint, the checkpoint's
//! signature against the trusted log key, and counts cosignatures from trusted witnesses.
use cairn_attest::{Digest, Envelope, KnownPredicate, PublicKey, Statement};
use cairn_tlog::{Checkpoint, CosignatureVerifier, NoteVerifier, TlogProof, leaf_hash};
use cairn_tlog::{LogEntry, StatementKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The bundle media type.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.cairn.bundle.v1+json";

/// Where the statement sits in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BundleEntry {
    /// Entry index.
    pub index: u64,
    /// Statement kind, as recorded in the entry.
    #[schema(value_type = String)]
    pub kind: StatementKind,
    /// Sequencing time recorded in the entry.
    pub time_ms: u64,
}

/// A statement with its proof of logging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Bundle {
    /// Always [`BUNDLE_MEDIA_TYPE`].
    pub media_type: String,
    /// The signed statement (a DSSE envelope).
    #[schema(value_type = Object)]
    pub envelope: Envelope,
    /// The signer's public key (base64).
    pub public_key: String,
    /// The log entry fields that are not derived from the envelope.
    pub entry: BundleEntry,
    /// C2SP tlog-proof text.
    pub tlog_proof: String,
}

/// Who a verifier trusts.
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    /// The log's checkpoint key (its name is the log origin).
    pub log_key: NoteVerifier,
    /// Witness keys.
    pub witnesses: Vec<CosignatureVerifier>,
    /// How many of them must have cosigned the checkpoint.
    pub witness_quorum: usize,
}

/// A bundle that verified.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The statement.
    pub statement: Statement<KnownPredicate>,
    /// Digest of the envelope (`sha256:` of its canonical JSON).
    pub envelope_digest: Digest,
    /// Entry index.
    pub index: u64,
    /// The checkpoint that includes it.
    pub checkpoint: Checkpoint,
    /// Names of the trusted witnesses that cosigned, with their timestamps.
    pub witnesses: Vec<(String, u64)>,
    /// The key whose signature on the envelope verified. A valid signature says only that
    /// *this* key signed: whether it may speak for the statement is the verifier's policy.
    pub signer: PublicKey,
}

impl Bundle {
    /// Parses a bundle, naming the field that is wrong.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        let b: Self =
            serde_json::from_slice(bytes).map_err(|e| format!("not a Cairn bundle: {e}"))?;
        if b.media_type != BUNDLE_MEDIA_TYPE {
            return Err(format!(
                "mediaType is {:?}, expected {BUNDLE_MEDIA_TYPE:?}",
                b.media_type
            ));
        }
        Ok(b)
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("bundles serialize")
    }

    /// Verifies everything offline against `policy`. Errors say which check failed.
    pub fn verify(&self, policy: &TrustPolicy) -> Result<Verified, String> {
        let key = PublicKey::parse(&self.public_key).map_err(|e| format!("publicKey: {e}"))?;
        let statement = self
            .envelope
            .verify(&key)
            .map_err(|e| format!("envelope: {e}"))?;
        let canonical = self.envelope.canonical_json();
        let entry = LogEntry {
            kind: self.entry.kind,
            envelope_sha256: Sha256::digest(&canonical).into(),
            signer_key_hash: key.key_hash(),
            time_ms: self.entry.time_ms,
        };
        let proof = TlogProof::parse(&self.tlog_proof).map_err(|e| format!("tlogProof: {e}"))?;
        if proof.index != self.entry.index {
            return Err(format!(
                "tlogProof is for index {}, the entry says {}",
                proof.index, self.entry.index
            ));
        }
        let (checkpoint, note) = proof
            .verify(&leaf_hash(&entry.encode()), &policy.log_key)
            .map_err(|e| format!("inclusion in the log: {e}"))?;
        if checkpoint.origin != policy.log_key.name() {
            return Err(format!(
                "checkpoint origin {:?} is not the trusted log {:?}",
                checkpoint.origin,
                policy.log_key.name()
            ));
        }
        let mut witnesses = Vec::new();
        for w in &policy.witnesses {
            match w.verify_note(&note) {
                Ok(Some(ts)) => witnesses.push((w.name().to_owned(), ts)),
                Ok(None) => {}
                Err(e) => return Err(format!("witness {}: {e}", w.name())),
            }
        }
        if witnesses.len() < policy.witness_quorum {
            return Err(format!(
                "{} of the trusted witnesses cosigned the checkpoint; the policy needs {}",
                witnesses.len(),
                policy.witness_quorum
            ));
        }
        Ok(Verified {
            statement,
            envelope_digest: self.envelope.digest(),
            index: self.entry.index,
            checkpoint,
            witnesses,
            signer: key,
        })
    }
}
