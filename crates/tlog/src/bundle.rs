//! C2SP tlog-tiles entry bundles: the log entries of one level-0 tile, each
//! prefixed by its length as a big-endian u16.
//!
//! ```text
//!   [len0 hi][len0 lo][entry0 bytes...][len1 hi][len1 lo][entry1 bytes...]...
//! ```
//!
//! The u16 prefix caps an entry at 65,535 bytes; larger entries are refused
//! at encode time rather than silently truncated.

use crate::error::{Error, Result};

/// Largest entry a bundle can hold.
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;

/// Append one length-prefixed entry to a bundle under construction.
///
/// `position` is only used to name the entry in the error.
pub fn push_bundle_entry(bundle: &mut Vec<u8>, position: usize, entry: &[u8]) -> Result<()> {
    let len = u16::try_from(entry.len()).map_err(|_| Error::Bundle {
        entry: position,
        detail: format!(
            "entry is {} bytes, more than the {MAX_ENTRY_SIZE} a bundle's u16 length prefix allows",
            entry.len()
        ),
    })?;
    bundle.extend_from_slice(&len.to_be_bytes());
    bundle.extend_from_slice(entry);
    Ok(())
}

/// Encode entries as a bundle.
pub fn encode_bundle(entries: &[&[u8]]) -> Result<Vec<u8>> {
    let total = entries.iter().map(|e| e.len() + 2).sum();
    let mut out = Vec::with_capacity(total);
    for (i, e) in entries.iter().enumerate() {
        push_bundle_entry(&mut out, i, e)?;
    }
    Ok(out)
}

/// Iterate over the entries of a bundle without copying them.
pub fn bundle_entries(data: &[u8]) -> BundleEntries<'_> {
    BundleEntries {
        rest: data,
        position: 0,
        failed: false,
    }
}

/// Iterator returned by [`bundle_entries`]; stops after the first error.
#[derive(Debug, Clone)]
pub struct BundleEntries<'a> {
    rest: &'a [u8],
    position: usize,
    failed: bool,
}

impl<'a> Iterator for BundleEntries<'a> {
    type Item = Result<&'a [u8]>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.failed {
            return None;
        }
        let position = self.position;
        self.position += 1;
        let Some((prefix, rest)) = self.rest.split_first_chunk::<2>() else {
            self.failed = true;
            return Some(Err(Error::Bundle {
                entry: position,
                detail: "bundle ends inside a 2-byte length prefix".to_string(),
            }));
        };
        let len = usize::from(u16::from_be_bytes(*prefix));
        if rest.len() < len {
            self.failed = true;
            return Some(Err(Error::Bundle {
                entry: position,
                detail: format!(
                    "length prefix says {len} bytes but only {} remain; the bundle is truncated",
                    rest.len()
                ),
            }));
        }
        let (entry, rest) = rest.split_at(len);
        self.rest = rest;
        Some(Ok(entry))
    }
}

/// Decode a bundle into its entries.
pub fn decode_bundle(data: &[u8]) -> Result<Vec<Vec<u8>>> {
    bundle_entries(data)
        .map(|e| e.map(<[u8]>::to_vec))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_encoding() {
        let b = encode_bundle(&[b"ab", b"", b"c"]).unwrap();
        assert_eq!(b, [0, 2, b'a', b'b', 0, 0, 0, 1, b'c']);
        assert_eq!(
            decode_bundle(&b).unwrap(),
            vec![b"ab".to_vec(), vec![], b"c".to_vec()]
        );
        assert!(decode_bundle(&[]).unwrap().is_empty());
    }

    #[test]
    fn max_size_entry_round_trips_and_larger_is_refused() {
        let big = vec![7u8; MAX_ENTRY_SIZE];
        let b = encode_bundle(&[&big]).unwrap();
        assert_eq!(&b[..2], &[0xff, 0xff]);
        assert_eq!(decode_bundle(&b).unwrap()[0], big);
        let too_big = vec![0u8; MAX_ENTRY_SIZE + 1];
        let err = encode_bundle(&[b"ok", &too_big]).unwrap_err();
        assert!(err.to_string().contains("entry 1"), "{err}");
        assert!(err.to_string().contains("65536 bytes"), "{err}");
    }

    #[test]
    fn truncated_bundles_name_the_entry() {
        let err = decode_bundle(&[0, 1, b'a', 0]).unwrap_err();
        assert!(err.to_string().contains("entry 1"), "{err}");
        assert!(err.to_string().contains("length prefix"), "{err}");
        let err = decode_bundle(&[0, 5, b'a']).unwrap_err();
        assert!(err.to_string().contains("entry 0"), "{err}");
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}
