//! A test mode for anonymity checks (docs/spec.md §16.6): the relay writes,
//! for every circuit, the link peer it came from and the one it went to (or
//! the circuit it was joined with at a rendezvous point), and every
//! onion-service descriptor it stores, to a file. A relay in production
//! never records: the setting is off by default and warns when on.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use warren_crypto::RelayIdentity;

/// The record file of a relay in test mode.
pub(crate) struct HopRecord {
    file: Mutex<File>,
}

fn peer(id: &RelayIdentity) -> String {
    warren_net::peer::peer_id(id).map_or_else(|_| "?".into(), |p| p.to_string())
}

impl HopRecord {
    /// Opens (truncates) the record file.
    pub(crate) fn create(path: &Path) -> std::io::Result<Self> {
        Ok(Self {
            file: Mutex::new(File::create(path)?),
        })
    }

    fn line(&self, text: &str) {
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = writeln!(file, "{text}");
    }

    /// Circuit `circuit` arrived from `prev`.
    pub(crate) fn created(&self, circuit: u64, prev: &RelayIdentity) {
        self.line(&format!("circuit {circuit} prev {}", peer(prev)));
    }

    /// Circuit `circuit` from `prev` was extended to `next`.
    pub(crate) fn extended(&self, circuit: u64, prev: &RelayIdentity, next: &RelayIdentity) {
        self.line(&format!(
            "circuit {circuit} prev {} next {}",
            peer(prev),
            peer(next)
        ));
    }

    /// Circuit `circuit` from `prev` was joined with a circuit from
    /// `other` at this rendezvous point.
    pub(crate) fn joined(&self, circuit: u64, prev: &RelayIdentity, other: &RelayIdentity) {
        self.line(&format!(
            "circuit {circuit} prev {} joined {}",
            peer(prev),
            peer(other)
        ));
    }

    /// A descriptor was stored.
    pub(crate) fn descriptor(&self, bytes: &[u8]) {
        self.line(&format!(
            "descriptor {}",
            data_encoding::HEXLOWER.encode(bytes)
        ));
    }
}
