//! C2SP signed notes with Ed25519 keys, byte-for-byte compatible with Go's
//! `golang.org/x/mod/sumdb/note`.
//!
//! ```text
//!   <text, one or more lines, each ending in \n>
//!   <blank line>
//!   — <key name> <base64(4-byte key ID || signature)>\n     (one or more)
//! ```
//!
//! A note is only trusted after [`Note::verify`] finds a signature by a
//! configured key. Unknown signatures are ignored (that is how cosignatures
//! and key rotation coexist), but a bad signature by a *known* key fails the
//! whole note: it means tampering or a misconfigured key, and either must be
//! looked at.

use std::fmt;

use base64::Engine;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::error::{Error, Result};
use crate::keys::{
    TYPE_ED25519, b64, check_name, format_skey, format_vkey, hex_id, is_valid_name, key_id,
    parse_skey, parse_vkey, random_signing_key,
};

/// Most signature lines [`Note::parse`] accepts (the spec requires at least 16).
pub const MAX_SIGNATURES: usize = 100;

/// The prefix of every signature line: U+2014 EM DASH and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// Signs note texts with an Ed25519 key under a key name.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key_id: [u8; 4],
    key: SigningKey,
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the private key.
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_id", &hex_id(self.key_id))
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A signer for `name` (non-empty, no whitespace or `+`) with `key`.
    pub fn new(name: impl Into<String>, key: SigningKey) -> Result<Self> {
        let name = name.into();
        check_name(&name)?;
        let key_id = key_id(&name, TYPE_ED25519, key.verifying_key().as_bytes());
        Ok(Self { name, key_id, key })
    }

    /// A signer with a fresh random key.
    pub fn generate(name: impl Into<String>) -> Result<Self> {
        Self::new(name, random_signing_key()?)
    }

    /// Parse a signer key `PRIVATE+KEY+<name>+<hex ID>+<base64(0x01 || seed)>`.
    pub fn from_skey(skey: &str) -> Result<Self> {
        let p = parse_skey(skey, TYPE_ED25519)?;
        Ok(Self {
            name: p.name,
            key_id: p.key_id,
            key: p.key,
        })
    }

    /// The signer key string. It is a secret: store it like one.
    pub fn to_skey(&self) -> String {
        format_skey(&self.name, TYPE_ED25519, &self.key)
    }

    /// The verifier key string for this signer's public key.
    pub fn to_vkey(&self) -> String {
        format_vkey(&self.name, TYPE_ED25519, &self.key.verifying_key())
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key ID.
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// Sign a note text (which should end in a newline; see [`Note::new`]).
    pub fn sign(&self, text: &str) -> NoteSignature {
        NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature: self.key.sign(text.as_bytes()).to_bytes().to_vec(),
        }
    }
}

/// Verifies note signatures by one Ed25519 key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_id: [u8; 4],
    key: VerifyingKey,
}

impl NoteVerifier {
    /// A verifier for `name` with public key `key`.
    pub fn new(name: impl Into<String>, key: VerifyingKey) -> Result<Self> {
        let name = name.into();
        check_name(&name)?;
        let key_id = key_id(&name, TYPE_ED25519, key.as_bytes());
        Ok(Self { name, key_id, key })
    }

    /// Parse a verifier key `<name>+<hex ID>+<base64(0x01 || public key)>`,
    /// checking that the ID matches the name and key.
    pub fn from_vkey(vkey: &str) -> Result<Self> {
        let p = parse_vkey(vkey, TYPE_ED25519)?;
        Ok(Self {
            name: p.name,
            key_id: p.key_id,
            key: p.key,
        })
    }

    /// The verifier key string.
    pub fn to_vkey(&self) -> String {
        format_vkey(&self.name, TYPE_ED25519, &self.key)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key ID.
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// The Ed25519 public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Whether `sig` claims to be by this key (same name and key ID).
    pub fn matches(&self, sig: &NoteSignature) -> bool {
        sig.name == self.name && sig.key_id == self.key_id
    }

    /// Check one signature over `text`. Fails with [`Error::WrongKey`] if the
    /// signature names another key, [`Error::BadSignature`] if it is invalid.
    pub fn verify(&self, text: &str, sig: &NoteSignature) -> Result<()> {
        if !self.matches(sig) {
            return Err(Error::WrongKey {
                sig_name: sig.name.clone(),
                sig_id: hex_id(sig.key_id),
                key_name: self.name.clone(),
                key_id: hex_id(self.key_id),
            });
        }
        let ok = Signature::from_slice(&sig.signature)
            .is_ok_and(|s| self.key.verify_strict(text.as_bytes(), &s).is_ok());
        if ok {
            Ok(())
        } else {
            Err(Error::BadSignature {
                name: sig.name.clone(),
                key_id: hex_id(sig.key_id),
            })
        }
    }
}

impl fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_vkey())
    }
}

/// One signature line of a note: key name, key ID and the signature bytes
/// that follow the key ID (64 bytes for Ed25519, 72 for a cosignature).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The 4-byte key ID.
    pub key_id: [u8; 4],
    /// The signature bytes after the key ID.
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The signature line, `— <name> <base64(key ID || signature)>\n`.
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_id);
        raw.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}\n", self.name, b64().encode(raw))
    }

    /// Parse one signature line, with or without its final newline.
    pub fn parse_line(line: &str) -> Result<Self> {
        let bad = |detail: String| Error::Note { detail };
        let line = line.strip_suffix('\n').unwrap_or(line);
        let rest = line.strip_prefix(SIG_PREFIX).ok_or_else(|| {
            bad(format!(
                "signature line {line:?} must start with an em dash (U+2014) and a space"
            ))
        })?;
        let (name, data) = rest.split_once(' ').ok_or_else(|| {
            bad(format!(
                "signature line {line:?} must be \"— <name> <base64>\""
            ))
        })?;
        if !is_valid_name(name) {
            return Err(bad(format!(
                "signature key name {name:?} is empty or contains whitespace or '+'"
            )));
        }
        let raw = b64().decode(data).map_err(|e| {
            bad(format!(
                "signature by {name} is not canonical standard base64: {e}"
            ))
        })?;
        if raw.len() < 5 {
            return Err(bad(format!(
                "signature by {name} is {} bytes; it needs a 4-byte key ID and a signature",
                raw.len()
            )));
        }
        Ok(Self {
            name: name.to_string(),
            key_id: [raw[0], raw[1], raw[2], raw[3]],
            signature: raw[4..].to_vec(),
        })
    }
}

/// A note text with its signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The signed text, including its final newline.
    pub text: String,
    /// The signatures, in order.
    pub signatures: Vec<NoteSignature>,
}

/// Checks the text rules of the spec: ends in a newline, no control characters but newline.
fn check_text(text: &str) -> Result<()> {
    if !text.ends_with('\n') {
        return Err(Error::Note {
            detail: "the text must end with a newline".to_string(),
        });
    }
    check_chars(text)
}

fn check_chars(s: &str) -> Result<()> {
    if let Some((i, c)) = s.char_indices().find(|&(_, c)| c < ' ' && c != '\n') {
        let line = s[..i].matches('\n').count() + 1;
        return Err(Error::Note {
            detail: format!(
                "line {line} contains control character U+{:04X}; only newline is allowed",
                u32::from(c)
            ),
        });
    }
    Ok(())
}

impl Note {
    /// An unsigned note, checking the text is valid for signing.
    pub fn new(text: impl Into<String>) -> Result<Self> {
        let text = text.into();
        check_text(&text)?;
        Ok(Self {
            text,
            signatures: Vec::new(),
        })
    }

    /// Sign `text` with `signer` (same as [`NoteSigner::sign`]).
    pub fn sign(text: &str, signer: &NoteSigner) -> NoteSignature {
        signer.sign(text)
    }

    /// Add a signature, replacing any existing one by the same key
    /// (same name and key ID).
    pub fn add_signature(&mut self, sig: NoteSignature) {
        self.signatures
            .retain(|s| !(s.name == sig.name && s.key_id == sig.key_id));
        self.signatures.push(sig);
    }

    /// The first signature by the key with this name and ID.
    pub fn signature_by(&self, name: &str, key_id: [u8; 4]) -> Option<&NoteSignature> {
        self.signatures
            .iter()
            .find(|s| s.name == name && s.key_id == key_id)
    }

    /// Parse a signed note strictly: valid text, one blank line, then one or
    /// more well-formed signature lines (at most [`MAX_SIGNATURES`]) and
    /// nothing after them.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |detail: &str| Error::Note {
            detail: detail.to_string(),
        };
        check_chars(s)?;
        // The text may itself contain blank lines: the signatures start after the last one.
        let split = s
            .rfind("\n\n")
            .ok_or_else(|| bad("no blank line separating the text from the signatures"))?;
        let (text, sigs) = (&s[..=split], &s[split + 2..]);
        if sigs.is_empty() {
            return Err(bad("no signature lines after the blank line"));
        }
        if !sigs.ends_with('\n') {
            return Err(bad("the last signature line must end with a newline"));
        }
        let mut signatures = Vec::new();
        for line in sigs.split_terminator('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(Error::Note {
                    detail: format!("more than {MAX_SIGNATURES} signatures"),
                });
            }
            signatures.push(NoteSignature::parse_line(line)?);
        }
        Ok(Self {
            text: text.to_string(),
            signatures,
        })
    }

    /// Verify the note against the known keys. Signatures by unknown keys
    /// (name and key ID not both matching a verifier) are ignored; every
    /// signature by a known key must be valid; at least one must be present.
    /// Returns the names of the keys that verified, without duplicates.
    pub fn verify(&self, verifiers: &[&NoteVerifier]) -> Result<Vec<String>> {
        let mut names: Vec<String> = Vec::new();
        for sig in &self.signatures {
            let Some(v) = verifiers.iter().find(|v| v.matches(sig)) else {
                continue;
            };
            v.verify(&self.text, sig)?;
            if !names.contains(&sig.name) {
                names.push(sig.name.clone());
            }
        }
        if names.is_empty() {
            let mut present: Vec<&str> = self.signatures.iter().map(|s| s.name.as_str()).collect();
            present.dedup();
            return Err(Error::NoKnownSignature {
                present: if present.is_empty() {
                    "none".to_string()
                } else {
                    present.join(", ")
                },
            });
        }
        Ok(names)
    }
}

impl fmt::Display for Note {
    /// The signed note: text, blank line, signature lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for s in &self.signatures {
            f.write_str(&s.to_line())?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Note {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}
