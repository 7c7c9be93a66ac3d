//! The error type of `warren-net`.

use std::path::PathBuf;

/// What went wrong while storing or loading keys, or on a link.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// A key file could not be read or written.
    #[error("key file {path}: {action} failed: {source}")]
    KeyFileIo {
        /// The file.
        path: PathBuf,
        /// What was being done ("read", "write", "rename", ...).
        action: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A key file's contents are not a valid key of the expected kind.
    #[error("key file {path} is not usable: {source}")]
    KeyFileInvalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with its contents.
        #[source]
        source: warren_crypto::CryptoError,
    },
    /// A key file can be read by other users.
    #[error(
        "key file {path} is readable by other users (mode {mode:o}); run `chmod 600 {path}` and start again"
    )]
    KeyFileTooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A key file was to be created where one already exists.
    #[error("key file {path} already exists; remove it first if you mean to replace that key")]
    KeyFileExists {
        /// The file.
        path: PathBuf,
    },
}
