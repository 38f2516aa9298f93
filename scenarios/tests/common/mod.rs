//! Shared by the tests that compare a timeline with the reviewed embedded one.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("{name}.toml"))
}

/// The timeline reviewed in `play.rs`'s snapshot of `name`.
pub fn reviewed(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/snapshots/play__{name}.snap"));
    let snap = std::fs::read_to_string(&path).expect("reviewed snapshot");
    // The snapshot's header is a front matter between two `---` lines.
    let body = snap.splitn(3, "---\n").nth(2).expect("snapshot body");
    normalise(body)
}

/// Replace 0x-addresses and hashes (volatile across runs) with placeholders.
pub fn redact(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("0x") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 2..];
        let n = tail.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(tail.len());
        out.push_str(if n >= 8 { "[hex]" } else { &rest[i..i + 2 + n] });
        rest = &tail[n..];
    }
    out.push_str(rest);
    out
}

/// Hide what differs between nodes and runs: addresses and hashes ([`redact`]), and order
/// numbers (a node that already holds orders numbers new ones after them).
pub fn normalise(s: &str) -> String {
    let redacted = redact(s);
    let mut out = String::with_capacity(redacted.len());
    let mut rest = redacted.as_str();
    while let Some(i) = rest.find("(#") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 2..];
        let n = tail.find(|c: char| !c.is_ascii_digit()).unwrap_or(tail.len());
        out.push_str("(#N");
        rest = &tail[n..];
    }
    out.push_str(rest);
    out.trim_end().to_string()
}
