//! Decoding JSON values into typed structs with errors that name the JSON path
//! (`predicate.fileCount: invalid type: string "3", expected u64`) instead of only a line and
//! column, since users fix the field, not the byte offset.
//!
//! Signed JSON is also checked for duplicate object keys: parsers disagree on which of two
//! `"predicateType"` entries wins, and a verifier must not see a different claim than the signer
//! or the log meant.
use crate::{Error, FieldError, Result};
use serde::de::{self, Deserialize, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::{collections::BTreeSet, fmt};

/// Joins a prefix (`predicate`) and a path relative to it (`.`, `root`, `[2]`, `datasets[1]`).
fn join(prefix: &str, relative: &str) -> String {
    match (prefix.is_empty(), relative) {
        (true, ".") => "(top level)".to_owned(),
        (true, _) => relative.to_owned(),
        (false, ".") => prefix.to_owned(),
        (false, r) if r.starts_with('[') => format!("{prefix}{r}"),
        (false, r) => format!("{prefix}.{r}"),
    }
}

/// Turns serde's "missing field `x`" / "unknown field `x`, expected …" messages, which it
/// reports at the parent object, into an error at the field itself.
fn field_error(path: String, message: String) -> FieldError {
    let at = |name: &str| {
        if path == "(top level)" {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some((name, _)) = rest.split_once('`')
    {
        return FieldError::new(at(name), "required field is missing");
    }
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((name, tail)) = rest.split_once('`')
    {
        let expected = tail.trim_start_matches(", ");
        // serde_path_to_error already puts an unknown field's name in the path.
        let already_there = path == name || path.ends_with(&format!(".{name}"));
        let path = if already_there {
            path.clone()
        } else {
            at(name)
        };
        return FieldError::new(path, format!("unknown field; {expected}"));
    }
    FieldError::new(path, message)
}

/// Deserializes `value` into `T`; errors carry the JSON path under `prefix`.
pub(crate) fn decode<T: DeserializeOwned>(value: Value, prefix: &str) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = join(prefix, &err.path().to_string());
        field_error(path, err.into_inner().to_string())
    })
}

/// Parses JSON bytes into a [`Value`], rejecting syntax errors ([`Error::Json`]) and duplicate
/// object keys (an [`Error::Invalid`] at the duplicated key's path).
pub(crate) fn parse(json: &[u8], what: &'static str) -> Result<Value> {
    let value: Value =
        serde_json::from_slice(json).map_err(|source| Error::Json { what, source })?;
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    serde_path_to_error::deserialize::<_, NoDuplicateKeys>(&mut deserializer).map_err(|err| {
        // The error is raised at the object holding the key; report it at the key.
        let parent = join("", &err.path().to_string());
        let message = err.into_inner().to_string();
        let key = message
            .strip_prefix("duplicate key `")
            .and_then(|rest| rest.split_once('`'))
            .map(|(key, _)| key.to_owned());
        match key {
            Some(key) if parent == "(top level)" => FieldError::new(key, message),
            Some(key) => FieldError::new(format!("{parent}.{key}"), message),
            None => FieldError::new(parent, message),
        }
    })?;
    Ok(value)
}

/// Accepts any JSON value whose objects have no repeated key.
struct NoDuplicateKeys;

impl<'de> Deserialize<'de> for NoDuplicateKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NoDuplicateKeys)
    }
}

impl<'de> Visitor<'de> for NoDuplicateKeys {
    type Value = NoDuplicateKeys;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self, E> {
        Ok(self)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self, E> {
        Ok(self)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self, E> {
        Ok(self)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self, E> {
        Ok(self)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self, E> {
        Ok(self)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self, E> {
        Ok(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<NoDuplicateKeys>()?.is_some() {}
        Ok(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self, A::Error> {
        let mut keys = BTreeSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !keys.insert(key.clone()) {
                return Err(de::Error::custom(format!(
                    "duplicate key `{key}`; each key may appear once in signed JSON"
                )));
            }
            map.next_value::<NoDuplicateKeys>()?;
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)] // Fields exist only to be decoded.
    struct Probe {
        file_count: u64,
        items: Vec<u8>,
    }

    #[test]
    fn errors_name_the_field_path() {
        let cases = [
            (
                serde_json::json!({"items": []}),
                "predicate.fileCount: required field is missing",
            ),
            (
                serde_json::json!({"fileCount": "3", "items": []}),
                "predicate.fileCount: invalid type: string \"3\", expected u64",
            ),
            (
                serde_json::json!({"fileCount": 1, "items": [1, -1]}),
                "predicate.items[1]: invalid value: integer `-1`, expected u8",
            ),
            (
                serde_json::json!({"fileCount": 1, "items": [], "filecount": 2}),
                "predicate.filecount: unknown field; expected `fileCount` or `items`",
            ),
        ];
        for (value, expected) in cases {
            let err = decode::<Probe>(value, "predicate").unwrap_err();
            assert_eq!(err.to_string(), expected);
        }
        let err = decode::<Probe>(serde_json::json!({"items": []}), "").unwrap_err();
        assert_eq!(err.to_string(), "fileCount: required field is missing");
    }

    #[test]
    fn duplicate_keys_are_rejected_anywhere() {
        assert!(parse(br#"{"a": [1, {"b": null, "c": "x"}], "b": 1.5}"#, "t").is_ok());
        let err = parse(br#"{"a": 1, "a": 2}"#, "t").unwrap_err().to_string();
        assert!(err.contains("duplicate key `a`"), "{err}");
        let err = parse(br#"{"p": {"s": [{"k": 1, "k": 1}]}}"#, "t")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("p.s[0]") && err.contains("duplicate key `k`"),
            "{err}"
        );
        assert!(matches!(
            parse(b"[1,", "t"),
            Err(Error::Json { what: "t", .. })
        ));
    }
}
