//! Shared helpers for Warren's integration tests.
//!
//! [`spec_vector`] reads a named test-vector block out of `docs/spec.md`, so
//! the tests check the very bytes the specification shows (docs/spec.md §1.3).
#![forbid(unsafe_code)]
#![allow(
    clippy::panic,
    reason = "test support: a missing or broken vector must fail the test that reads it"
)]

pub mod net;
pub mod onion;
pub mod procs;

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The workspace root (the directory holding `docs/` and `fuzz/`).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// The text of `docs/spec.md`.
///
/// # Panics
/// Panics when the file cannot be read: the tests cannot run without it.
pub fn spec_text() -> String {
    let path = workspace_root().join("docs").join("spec.md");
    match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => panic!("cannot read {}: {e}", path.display()),
    }
}

/// One test-vector block: `name = hex` lines, in order, decoded.
pub type Vector = BTreeMap<String, Vec<u8>>;

/// Parses the fenced block whose info string is `vector NAME` in
/// `docs/spec.md` (docs/spec.md §1.3).
///
/// Inside a block every non-empty line is `field = HEX`; a field may continue
/// on following lines that start with whitespace, whose hex is appended.
/// Lines starting with `#` are comments.
///
/// # Panics
/// Panics when the block is missing, appears twice, or holds bad hex: a broken
/// specification must fail the test that reads it.
pub fn spec_vector(name: &str) -> Vector {
    let text = spec_text();
    let mut found: Option<Vector> = None;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.trim_end().strip_prefix("```vector ") else {
            continue;
        };
        if info.trim() != name {
            continue;
        }
        assert!(
            found.is_none(),
            "vector {name} appears twice in docs/spec.md"
        );
        found = Some(parse_block(name, &mut lines));
    }
    match found {
        Some(v) => v,
        None => panic!("vector {name} is missing from docs/spec.md"),
    }
}

/// The names of every vector block in `docs/spec.md`, in order.
pub fn spec_vector_names() -> Vec<String> {
    spec_text()
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix("```vector "))
        .map(|n| n.trim().to_string())
        .collect()
}

fn parse_block<'a>(name: &str, lines: &mut impl Iterator<Item = &'a str>) -> Vector {
    let mut out = Vector::new();
    let mut current: Option<String> = None;
    for line in lines.by_ref() {
        if line.trim_end() == "```" {
            return out;
        }
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            let field = current
                .as_ref()
                .unwrap_or_else(|| panic!("vector {name}: continuation line before any field"));
            let more = decode_hex(name, field, line.trim());
            out.entry(field.clone()).or_default().extend(more);
            continue;
        }
        let (field, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("vector {name}: line without '=': {line}"));
        let field = field.trim().to_string();
        let bytes = decode_hex(name, &field, value.trim());
        assert!(
            out.insert(field.clone(), bytes).is_none(),
            "vector {name}: field {field} appears twice"
        );
        current = Some(field);
    }
    panic!("vector {name}: block is not closed");
}

fn decode_hex(name: &str, field: &str, hex_text: &str) -> Vec<u8> {
    let compact: String = hex_text.split_whitespace().collect();
    hex::decode(&compact).unwrap_or_else(|e| panic!("vector {name}: field {field}: bad hex: {e}"))
}

/// Returns `field` of vector `v` as a fixed-size array.
///
/// # Panics
/// Panics when the field is missing or has the wrong length.
pub fn field<const N: usize>(v: &Vector, field: &str) -> [u8; N] {
    let bytes = v
        .get(field)
        .unwrap_or_else(|| panic!("vector field {field} is missing"));
    match <[u8; N]>::try_from(bytes.as_slice()) {
        Ok(a) => a,
        Err(_) => panic!("vector field {field}: {} bytes, expected {N}", bytes.len()),
    }
}

/// Returns `field` of vector `v` as bytes.
///
/// # Panics
/// Panics when the field is missing.
pub fn bytes<'v>(v: &'v Vector, field: &str) -> &'v [u8] {
    v.get(field)
        .unwrap_or_else(|| panic!("vector field {field} is missing"))
}
