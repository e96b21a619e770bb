//! Secrets (passwords, API keys, session cookies) and the one redaction function.
//!
//! A [`Secret`] never shows its value through `Debug` or `Display`, so it cannot leak into logs,
//! error messages or reports by accident. Text that may contain a secret (a transcript, a curl
//! line) goes through [`redact_text`] before anyone reads it.

use std::fmt;
use std::sync::{Mutex, OnceLock};

/// The placeholder written wherever a secret would have appeared.
pub const REDACTED: &str = "[redacted]";

/// A value that must never be printed: a password, an API key or a cookie.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value and registers it so that [`redact_text`] hides it everywhere.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        register(&value);
        Secret(value)
    }

    /// The value itself, for the one place that must send it over the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

fn registry() -> &'static Mutex<Vec<String>> {
    static KNOWN: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    KNOWN.get_or_init(|| Mutex::new(Vec::new()))
}

/// Remembers a secret value seen at run time (a cookie the server set, a key it renewed).
pub fn register(value: &str) {
    // Very short values would blank out ordinary words; no real secret is that short.
    if value.len() < 4 {
        return;
    }
    let mut known = registry()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !known.iter().any(|k| k == value) {
        known.push(value.to_owned());
        // Longest first, so a secret containing another is replaced whole.
        known.sort_by_key(|k| std::cmp::Reverse(k.len()));
    }
}

/// Replaces every registered secret, and every credential-bearing header or field, in `text`.
pub fn redact_text(text: &str) -> String {
    let mut out = text.to_owned();
    {
        let known = registry()
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for value in known.iter() {
            out = out.replace(value.as_str(), REDACTED);
        }
    }
    for pattern in credential_patterns() {
        out = pattern
            .replace_all(&out, |caps: &regex::Captures<'_>| {
                format!("{}{REDACTED}", &caps[1])
            })
            .into_owned();
    }
    out
}

fn credential_patterns() -> &'static [regex::Regex] {
    static PATTERNS: OnceLock<Vec<regex::Regex>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        [
            // Authorization headers, whatever the scheme.
            r"(?i)(authorization:\s*(?:bearer|basic|key)\s+)[^\s'\x22]+",
            // Session cookies of TheHive and Cortex.
            r"(?i)((?:THEHIVE-SESSION|CORTEX_SESSION|CORTEX-XSRF-TOKEN)=)[^;\s'\x22]+",
            // JSON fields that carry a password or key.
            r#"(?i)("(?:password|key|apikey|api_key|secret)"\s*:\s*")[^"]*"#,
        ]
        .iter()
        .map(|p| regex::Regex::new(p).expect("the redaction patterns are valid"))
        .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_displays_its_value() {
        let s = Secret::new("hunter2-sentinel");
        assert_eq!(format!("{s} {s:?}"), "[redacted] [redacted]");
        assert_eq!(s.expose(), "hunter2-sentinel");
    }

    #[test]
    fn redact_text_hides_registered_values_and_credential_fields() {
        let _ = Secret::new("k3y-sentinel-value");
        let text = "curl -H 'Authorization: Bearer abc.def' -b 'THEHIVE-SESSION=xyz; Path=/' \
                    -d '{\"user\":\"a\",\"password\":\"pw\"}' k3y-sentinel-value";
        let out = redact_text(text);
        assert!(!out.contains("abc.def"), "{out}");
        assert!(!out.contains("xyz"), "{out}");
        assert!(!out.contains("\"pw\""), "{out}");
        assert!(!out.contains("k3y-sentinel-value"), "{out}");
        assert!(out.contains("\"user\":\"a\""), "{out}");
    }
}
