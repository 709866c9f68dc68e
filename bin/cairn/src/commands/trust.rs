//! Who may sign what: the signer policy `cairn verify` enforces.
//!
//! A valid DSSE signature proves only that *some* key signed. Every verified statement is
//! checked against this policy before `verify` walks through it:
//!
//! - a `job-receipt` must be signed by the receipt key the market's operator published on the
//!   `ComputeMarket` (read from the chain, or given with `--market-key`), never by a key the
//!   node merely claims;
//! - any other statement by a key the user trusts: `--signer [KINDS=]KEY`, a `--trust` file
//!   (TOML, `[[signer]]` tables with `key`, optional `name` and `kinds`), or the user's own
//!   attestation key (`<data-dir>/keys/attest.key`, or `$CAIRN_ATTEST_KEY`).
//!
//! An unknown signer fails, naming the key and how to trust it.
use crate::{cli::VerifyArgs, config::Settings};
use anyhow::{Context, Result, anyhow, bail};
use cairn_attest::{Key, PublicKey};
use cairn_chain::Chain;
use serde::Deserialize;
use std::path::Path;

/// The predicate kind receipts carry (`…/job-receipt/v1`).
pub(crate) const RECEIPT_KIND: &str = "job-receipt";
/// The kind of the node's dispute statements: like receipts, only the market's receipt key
/// may sign them.
pub(crate) const DISPUTE_KIND: &str = "dispute";

/// Whether statements of `kind` are trusted only under the market's receipt key.
pub(crate) fn market_signed(kind: &str) -> bool {
    kind == RECEIPT_KIND || kind == DISPUTE_KIND
}

/// A key the user trusts, for some statement kinds.
#[derive(Debug, Clone)]
struct Trusted {
    key: PublicKey,
    /// Predicate kinds (`dataset`, `model`, …); empty: every kind but receipts.
    kinds: Vec<String>,
    /// Where the trust came from, as it is printed.
    source: String,
}

/// The signer policy of one `cairn verify` run.
#[derive(Debug, Default)]
pub(crate) struct Signers {
    trusted: Vec<Trusted>,
    /// The market's receipt key and where it was read, once known.
    market: Option<(PublicKey, String)>,
    /// Why the market's key is unknown, when it was looked for and not found.
    market_missing: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustFile {
    #[serde(default)]
    signer: Vec<TrustEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustEntry {
    key: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    kinds: Vec<String>,
}

/// The kind of a predicate type URI: `https://cairn.dev/attestation/model/v1` → `model`.
pub(crate) fn kind_of(predicate_type: &str) -> &str {
    predicate_type.rsplit('/').nth(1).unwrap_or(predicate_type)
}

fn check_kinds(kinds: &[String], origin: &str) -> Result<()> {
    for k in kinds {
        if !cairn_attest::KNOWN_PREDICATE_TYPES
            .iter()
            .any(|t| kind_of(t) == k)
        {
            let known: Vec<&str> = cairn_attest::KNOWN_PREDICATE_TYPES
                .iter()
                .map(|t| kind_of(t))
                .filter(|k| !market_signed(k))
                .collect();
            bail!(
                "{origin}: unknown statement kind {k:?}; use one of {}",
                known.join(", ")
            );
        }
        if market_signed(k) {
            bail!(
                "{origin}: job receipts and dispute statements are trusted only under the market's published receipt key; pass it with --market-key (or let verify read it from the ComputeMarket), not as a signer"
            );
        }
    }
    Ok(())
}

impl Signers {
    /// The policy from the command line, the trust file and the user's own key.
    pub(crate) fn from_args(settings: &Settings, args: &VerifyArgs) -> Result<Self> {
        let mut s = Signers::default();
        for spec in &args.signer {
            // `KIND[,KIND]=KEY`, unless the part before `=` is not a list of kind names (base64
            // keys end in `=` themselves).
            let (kinds, key) = match spec.split_once('=') {
                Some((k, key))
                    if !key.is_empty()
                        && k.split(',').all(|x| {
                            !x.is_empty() && x.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                        }) =>
                {
                    (k.split(',').map(str::to_owned).collect(), key)
                }
                _ => (Vec::new(), spec.as_str()),
            };
            let origin = format!("--signer {spec:?}");
            check_kinds(&kinds, &origin)?;
            let key = PublicKey::parse(key).map_err(|e| {
                anyhow!("{origin}: {e}; give a 32-byte Ed25519 public key in hex or base64 (`cairn key show` prints it)")
            })?;
            s.trusted.push(Trusted {
                key,
                kinds,
                source: "--signer".into(),
            });
        }
        if let Some(path) = &args.trust {
            s.read_trust_file(path)?;
        }
        if let Some(own) = own_key(settings) {
            s.trusted.push(Trusted {
                key: own.0,
                kinds: Vec::new(),
                source: own.1,
            });
        }
        if let Some(k) = &args.market_key {
            let key = PublicKey::parse(k).map_err(|e| {
                anyhow!("--market-key {k:?}: {e}; give the receipt key the ComputeMarket publishes (receiptKey) in hex or base64")
            })?;
            s.market = Some((key, "--market-key".into()));
        }
        Ok(s)
    }

    fn read_trust_file(&mut self, path: &Path) -> Result<()> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the trust file {}", path.display()))?;
        let file: TrustFile = toml::from_str(&text).map_err(|e| {
            anyhow!(
                "trust file {}: {}; expected [[signer]] tables with key = \"<public key>\", optional name and kinds = [\"dataset\", ...]",
                path.display(),
                e.message()
            )
        })?;
        for (i, e) in file.signer.iter().enumerate() {
            let origin = format!("trust file {} signer #{}", path.display(), i + 1);
            check_kinds(&e.kinds, &origin)?;
            let key = PublicKey::parse(&e.key).map_err(|err| anyhow!("{origin}: key: {err}"))?;
            self.trusted.push(Trusted {
                key,
                kinds: e.kinds.clone(),
                source: match &e.name {
                    Some(n) => format!("{n} (trust file)"),
                    None => format!("trust file {}", path.display()),
                },
            });
        }
        Ok(())
    }

    /// Whether a receipt key is needed and not yet known.
    pub(crate) fn needs_market_key(&self) -> bool {
        self.market.is_none() && self.market_missing.is_none()
    }

    /// Reads the receipt key from the ComputeMarket (`--market-contract` or the deployment
    /// manifest, on `--rpc-url` or the running devnet). A failure is remembered and reported
    /// for each receipt, so statements of other kinds still verify.
    pub(crate) async fn load_market_key(&mut self, settings: &Settings, args: &VerifyArgs) {
        match market_key(settings, args).await {
            Ok(k) => self.market = Some(k),
            Err(e) => self.market_missing = Some(format!("{e:#}")),
        }
    }

    /// Who `signer` is for a statement of `kind`, or why it may not sign it.
    pub(crate) fn check(&self, kind: &str, signer: &PublicKey) -> Result<String, String> {
        if market_signed(kind) {
            return match &self.market {
                Some((k, source)) if k == signer => {
                    Ok(format!("the market's receipt key ({source})"))
                }
                Some((k, source)) => Err(format!(
                    "the {kind} statement is signed by key {}, not by the market's receipt key {} ({source}): it was not issued by the node that runs the market",
                    signer.key_id(),
                    k.key_id()
                )),
                None => Err(format!(
                    "cannot tell who may sign {kind} statements: {}",
                    self.market_missing
                        .as_deref()
                        .unwrap_or("no market receipt key (pass --market-key)")
                )),
            };
        }
        if let Some(t) = self
            .trusted
            .iter()
            .find(|t| &t.key == signer && (t.kinds.is_empty() || t.kinds.iter().any(|k| k == kind)))
        {
            return Ok(t.source.clone());
        }
        if self.trusted.iter().any(|t| &t.key == signer) {
            return Err(format!(
                "signed by key {} which is trusted, but not for {kind} statements; add {kind} to its kinds",
                signer.key_id()
            ));
        }
        Err(format!(
            "signed by an unknown key {} (public key {}); if you know whose it is, trust it with --signer {kind}={} or in a --trust file",
            signer.key_id(),
            signer.to_base64(),
            signer.to_base64()
        ))
    }
}

/// The user's own attestation key, when there is one.
fn own_key(settings: &Settings) -> Option<(PublicKey, String)> {
    if std::env::var_os(cairn_attest::KEY_ENV).is_some() {
        return Key::from_env(cairn_attest::KEY_ENV)
            .ok()
            .map(|k| (k.public(), format!("your key (${})", cairn_attest::KEY_ENV)));
    }
    let path = settings.data_dir.join("keys/attest.key");
    Key::read_file(&path)
        .ok()
        .map(|k| (k.public(), format!("your key ({})", path.display())))
}

/// The receipt key published on the ComputeMarket, read-only from the chain.
async fn market_key(settings: &Settings, args: &VerifyArgs) -> Result<(PublicKey, String)> {
    let (cfg, _) = settings.chain(&args.chain.chain)?;
    let chain = if args.chain.chain.rpc_url.is_some() {
        Chain::connect(&cfg, None).await?
    } else {
        let dcfg = settings.devnet(None);
        let devnet = cairn_devnet::status(&dcfg).await?.ok_or_else(|| {
            anyhow!("no chain to read the ComputeMarket's receipt key from: pass --market-key, or --rpc-url (and --market-contract), or start the devnet")
        })?;
        cairn_devnet::connect(&devnet, None).await?
    };
    let market = super::node::market_address(settings, chain.chain_id(), args.market_contract)
        .map_err(|e| anyhow!("{e}; or pass --market-key <receipt key>"))?;
    let escrow = cairn_escrow::Escrow::new(chain.clone(), market);
    let key = escrow.receipt_key().await?.ok_or_else(|| {
        anyhow!(
            "the ComputeMarket at {market} has published no receipt key (its node never started)"
        )
    })?;
    let key = PublicKey::from_bytes(&key.0).map_err(|e| {
        anyhow!("the ComputeMarket at {market} publishes an invalid receipt key: {e}")
    })?;
    Ok((
        key,
        format!(
            "published on the ComputeMarket {market}, chain {}",
            chain.chain_id()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> PublicKey {
        Key::from_seed(&[seed; 32]).public()
    }

    fn policy() -> Signers {
        Signers {
            trusted: vec![
                Trusted {
                    key: key(1),
                    kinds: vec![],
                    source: "alice".into(),
                },
                Trusted {
                    key: key(2),
                    kinds: vec!["dataset".into()],
                    source: "data team".into(),
                },
            ],
            market: Some((key(9), "chain".into())),
            market_missing: None,
        }
    }

    #[test]
    fn receipts_need_the_market_key_and_nothing_else() {
        let p = policy();
        assert!(p.check(RECEIPT_KIND, &key(9)).is_ok());
        let e = p.check(RECEIPT_KIND, &key(1)).unwrap_err();
        assert!(e.contains("not by the market's receipt key"), "{e}");
        let none = Signers::default();
        assert!(none.check(RECEIPT_KIND, &key(9)).is_err());
        // Dispute statements likewise: the market's key, and no trusted signer instead.
        assert!(p.check(DISPUTE_KIND, &key(9)).is_ok());
        let e = p.check(DISPUTE_KIND, &key(1)).unwrap_err();
        assert!(e.contains("dispute statement is signed by key"), "{e}");
        assert!(check_kinds(&[DISPUTE_KIND.into()], "x").is_err());
    }

    #[test]
    fn trusted_keys_sign_only_their_kinds_and_strangers_nothing() {
        let p = policy();
        assert_eq!(p.check("model", &key(1)).unwrap(), "alice");
        assert_eq!(p.check("dataset", &key(2)).unwrap(), "data team");
        assert!(
            p.check("model", &key(2))
                .unwrap_err()
                .contains("not for model")
        );
        let e = p.check("model", &key(3)).unwrap_err();
        assert!(
            e.contains("unknown key") && e.contains("--signer model="),
            "{e}"
        );
    }

    #[test]
    fn receipts_cannot_be_trusted_as_a_signer_kind() {
        assert!(check_kinds(&["job-receipt".into()], "x").is_err());
        assert!(check_kinds(&["nonsense".into()], "x").is_err());
        assert!(check_kinds(&["dataset".into(), "model".into()], "x").is_ok());
    }
}
