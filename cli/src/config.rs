//! Configuration files: TOML, read only here (docs/spec.md §13.3).
//!
//! Unknown keys are errors, so a typo in a setting is reported instead of
//! silently ignored; errors name the file, the line and the key.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// The `relay.toml` file (see examples/relay.toml).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RelayFile {
    /// Where the relay keeps its keys and state.
    pub(crate) data_dir: Option<PathBuf>,
    /// Listen addresses, as multiaddrs.
    #[serde(default)]
    pub(crate) listen: Vec<String>,
    /// Circuits held at once.
    pub(crate) max_circuits: Option<usize>,
    /// Exit-policy rules, first match wins (absent: no exit).
    pub(crate) exit_policy: Option<Vec<String>>,
}

impl RelayFile {
    /// Reads and parses `path`.
    pub(crate) fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("in {}", path.display()))
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn the_example_parses() {
        let text = include_str!("../../examples/relay.toml");
        let file: RelayFile = toml::from_str(text).unwrap();
        assert!(!file.listen.is_empty());
    }

    #[test]
    fn a_misspelt_key_is_an_error_that_names_it() {
        let err = toml::from_str::<RelayFile>("max_circuit = 5\n").unwrap_err();
        assert!(err.to_string().contains("max_circuit"), "{err}");
    }
}
