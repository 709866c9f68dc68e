//! Walking lineage: from an artifact's digest to every attestation it transitively depends on.
//!
//! A statement is found by any of its [`Statement::provided_digests`] (subject digests, a
//! dataset's root) or by its envelope digest; from there the walk follows
//! [`Predicate::upstream_digests`]. The index is in memory and holds only statements the caller
//! already verified — where they came from (a log, files) is the caller's business.
use crate::{Digest, KnownPredicate, Predicate, Statement};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Verified statements indexed by the digests that find them.
#[derive(Clone, Debug, Default)]
pub struct LineageIndex {
    entries: Vec<(Digest, Statement<KnownPredicate>)>,
    by_digest: BTreeMap<Digest, Vec<usize>>,
}

/// One attestation reached by a walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineageStep {
    /// The digest that led here (the start, or an upstream digest of an earlier step).
    pub via: Digest,
    /// The envelope digest of the attestation reached.
    pub envelope: Digest,
    /// Its predicate type.
    pub predicate_type: &'static str,
    /// Hops from the start (0 for attestations of the start digest itself).
    pub depth: usize,
}

/// The result of a walk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lineage {
    /// Attestations reached, breadth first, each once.
    pub steps: Vec<LineageStep>,
    /// Digests no indexed attestation provides (unattested inputs, code, missing links), in the
    /// order met.
    pub unresolved: Vec<Digest>,
}

impl LineageIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a verified statement and the digest of the envelope that carried it
    /// ([`crate::Envelope::digest`]).
    pub fn insert(&mut self, envelope_digest: Digest, statement: Statement<KnownPredicate>) {
        let index = self.entries.len();
        let mut keys = statement.provided_digests();
        keys.push(envelope_digest.clone());
        for key in keys {
            let slot = self.by_digest.entry(key).or_default();
            if !slot.contains(&index) {
                slot.push(index);
            }
        }
        self.entries.push((envelope_digest, statement));
    }

    /// Number of statements indexed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The statements (with their envelope digests) that `digest` finds.
    pub fn find(&self, digest: &Digest) -> Vec<(&Digest, &Statement<KnownPredicate>)> {
        self.by_digest
            .get(digest)
            .into_iter()
            .flatten()
            .map(|&i| (&self.entries[i].0, &self.entries[i].1))
            .collect()
    }

    /// Walks upstream from `start`, breadth first; each attestation and each digest is visited
    /// once, so cycles terminate.
    pub fn walk(&self, start: &Digest) -> Lineage {
        let mut lineage = Lineage::default();
        let mut seen_digests = BTreeSet::from([start.clone()]);
        let mut seen_entries = BTreeSet::new();
        let mut queue = VecDeque::from([(start.clone(), 0)]);
        while let Some((digest, depth)) = queue.pop_front() {
            let Some(indices) = self.by_digest.get(&digest) else {
                lineage.unresolved.push(digest);
                continue;
            };
            for &i in indices {
                if !seen_entries.insert(i) {
                    continue;
                }
                let (envelope, statement) = &self.entries[i];
                lineage.steps.push(LineageStep {
                    via: digest.clone(),
                    envelope: envelope.clone(),
                    predicate_type: statement.predicate.predicate_type(),
                    depth,
                });
                for upstream in statement.upstream_digests() {
                    if seen_digests.insert(upstream.clone()) {
                        queue.push_back((upstream, depth + 1));
                    }
                }
            }
        }
        lineage
    }
}
