//! Small field checks shared by the statement and the predicates. Each returns a [`FieldError`]
//! carrying the JSON path it was given, so every rejection says which field to fix.
use crate::{Digest, FieldError};

/// Longest name, label or identifier, in bytes.
pub(crate) const MAX_TEXT_BYTES: usize = 1024;
/// Longest free-form prose (an agent's reason), in bytes.
pub(crate) const MAX_PROSE_BYTES: usize = 4096;

/// A single-line text: not blank, at most [`MAX_TEXT_BYTES`], no control characters.
pub(crate) fn text(path: &str, value: &str) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::new(path, "must not be empty"));
    }
    if value.len() > MAX_TEXT_BYTES {
        return Err(FieldError::new(
            path,
            format!(
                "must be at most {MAX_TEXT_BYTES} bytes (is {})",
                value.len()
            ),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(path, "must not contain control characters"));
    }
    Ok(())
}

/// Prose: not blank, at most [`MAX_PROSE_BYTES`], no control characters except newline and tab.
pub(crate) fn prose(path: &str, value: &str) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::new(path, "must not be empty"));
    }
    if value.len() > MAX_PROSE_BYTES {
        return Err(FieldError::new(
            path,
            format!(
                "must be at most {MAX_PROSE_BYTES} bytes (is {})",
                value.len()
            ),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(FieldError::new(
            path,
            "must not contain control characters other than newline and tab",
        ));
    }
    Ok(())
}

/// An optional single-line text: checked like [`text`] when present.
pub(crate) fn opt_text(path: &str, value: Option<&str>) -> Result<(), FieldError> {
    value.map_or(Ok(()), |v| text(path, v))
}

/// A digest that must use one algorithm (so it can match subjects or dataset roots).
pub(crate) fn algorithm(path: &str, digest: &Digest, algorithm: &str) -> Result<(), FieldError> {
    if digest.algorithm() == algorithm {
        Ok(())
    } else {
        Err(FieldError::new(
            path,
            format!(
                "must be a {algorithm} digest (`{algorithm}:<hex>`), found a {} digest",
                digest.algorithm()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rejects_blank_long_and_control() {
        assert!(text("p", "ok name").is_ok());
        assert_eq!(
            text("p", "  ").unwrap_err().to_string(),
            "p: must not be empty"
        );
        assert!(text("p", &"x".repeat(MAX_TEXT_BYTES + 1)).is_err());
        assert!(text("p", "a\nb").is_err());
        assert!(prose("p", "line one\nline two\tend").is_ok());
        assert!(prose("p", "bell\u{7}").is_err());
    }
}
