//! Log settings.
use crate::{LogStorage, index::Mention};
use std::{fmt, path::PathBuf, sync::Arc, time::Duration};

/// Most entries one group commit writes.
pub const DEFAULT_BATCH_MAX: usize = 8192;
/// How long the sequencer waits for more submissions after the first one of a batch.
pub const DEFAULT_BATCH_DELAY: Duration = Duration::from_millis(2);
/// Largest envelope accepted.
pub const DEFAULT_MAX_ENVELOPE_BYTES: usize = 64 * 1024;

/// Extracts the digests a statement mentions, for the lineage index.
pub type MentionFn = Arc<dyn Fn(&[u8]) -> Vec<Mention> + Send + Sync>;

/// How to run a log.
#[derive(Clone)]
pub struct LogConfig {
    /// Directory for the journal, the index and the published tiles.
    pub dir: PathBuf,
    /// The checkpoint origin line, e.g. `cairn.local/log`.
    pub origin: String,
    /// Most entries per group commit.
    pub batch_max: usize,
    /// Group-commit window.
    pub batch_delay: Duration,
    /// Largest envelope accepted, in bytes.
    pub max_envelope_bytes: usize,
    /// Digest extractor for the lineage index (`None`: no lineage).
    pub mentions: Option<MentionFn>,
    /// Serve only checkpoints that witnesses cosigned (witness-gated publishing, as in
    /// Tessera): the log signs each new checkpoint, but it is served, and bundles are built
    /// from it, only once [`crate::Log::publish_cosigned`] hands it back with cosignatures.
    pub witness_gated: bool,
    /// Where tiles, entry bundles and the checkpoint are published (`None`: files under
    /// `<dir>/public`).
    pub storage: Option<Arc<dyn LogStorage>>,
}

impl fmt::Debug for LogConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogConfig")
            .field("dir", &self.dir)
            .field("origin", &self.origin)
            .field("batch_max", &self.batch_max)
            .field("batch_delay", &self.batch_delay)
            .field("max_envelope_bytes", &self.max_envelope_bytes)
            .field("witness_gated", &self.witness_gated)
            .finish_non_exhaustive()
    }
}

impl LogConfig {
    /// A config with the defaults for a log in `dir` named `origin`.
    pub fn new(dir: impl Into<PathBuf>, origin: impl Into<String>) -> Self {
        Self {
            dir: dir.into(),
            origin: origin.into(),
            batch_max: DEFAULT_BATCH_MAX,
            batch_delay: DEFAULT_BATCH_DELAY,
            max_envelope_bytes: DEFAULT_MAX_ENVELOPE_BYTES,
            mentions: None,
            witness_gated: false,
            storage: None,
        }
    }

    /// Use this lineage extractor.
    pub fn with_mentions(mut self, f: MentionFn) -> Self {
        self.mentions = Some(f);
        self
    }

    /// Serve only witness-cosigned checkpoints (see [`LogConfig::witness_gated`]).
    pub fn with_witness_gating(mut self, gated: bool) -> Self {
        self.witness_gated = gated;
        self
    }

    /// Publish to this storage instead of `<dir>/public`.
    pub fn with_storage(mut self, storage: Arc<dyn LogStorage>) -> Self {
        self.storage = Some(storage);
        self
    }

    /// Use this group-commit window.
    pub fn with_batch_delay(mut self, d: Duration) -> Self {
        self.batch_delay = d;
        self
    }
}
