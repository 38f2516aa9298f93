//! Shared by the tests that compare a timeline with the reviewed embedded one.

use std::path::{Path, PathBuf};

pub(crate) fn file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("{name}.toml"))
}

/// The timeline reviewed in `play.rs`'s snapshot of `name`.
pub(crate) fn reviewed(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/it/snapshots/it__play__{name}.snap"));
    let snap = std::fs::read_to_string(&path).expect("reviewed snapshot");
    // The snapshot's header is a front matter between two `---` lines.
    let body = snap.splitn(3, "---\n").nth(2).expect("snapshot body");
    normalise(body)
}

/// Hide what differs between nodes and runs (see [`test_support::redact::timeline`]).
pub(crate) fn normalise(s: &str) -> String {
    test_support::redact::timeline(s)
}
