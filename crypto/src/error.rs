//! The one error type of `warren-crypto` (docs/spec.md §2–§6).
//!
//! Every message says what was expected and what arrived, so that a user who
//! mistyped an address or pointed a daemon at the wrong key file can act on
//! it. Messages never contain secret material.

use crate::keyfile::KeyKind;

/// Everything that can go wrong in `warren-crypto`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// A fixed-size input had the wrong length.
    #[error("{what} must be {expected} bytes, but {found} bytes arrived")]
    BadLength {
        /// What was being parsed.
        what: &'static str,
        /// The length the specification requires.
        expected: usize,
        /// The length that arrived.
        found: usize,
    },

    /// Bytes that should hold a public key do not (docs/spec.md §2.1).
    #[error("not a valid {what}: {reason}")]
    InvalidPublicKey {
        /// Which kind of key.
        what: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// An Ed25519 signature did not verify.
    #[error(
        "the {what} signature does not verify: the signed bytes were altered \
         or were signed by another key"
    )]
    BadSignature {
        /// Which kind of key the signature was checked against.
        what: &'static str,
    },

    /// A circuit handshake names a relay identity other than ours (§4.3).
    #[error(
        "the circuit handshake is addressed to another relay identity: the \
         client used a wrong or stale descriptor for this relay"
    )]
    NtorWrongIdentity,

    /// A circuit handshake names an onion key we do not hold (§4.3).
    #[error(
        "the circuit handshake names an onion key this relay does not hold \
         (neither the current nor the previous one): the client's directory \
         information is out of date"
    )]
    NtorUnknownOnionKey,

    /// An X25519 exchange gave the all-zero output (§4.3).
    #[error(
        "the {what} is a low-order X25519 point (the shared secret is all \
         zero): refusing the handshake"
    )]
    LowOrderPoint {
        /// Whose key it was.
        what: &'static str,
    },

    /// The relay's handshake reply did not authenticate (§4.4).
    #[error(
        "the relay's handshake reply does not authenticate (AUTH mismatch): \
         the relay does not hold the onion key in its descriptor, or the \
         reply was altered"
    )]
    NtorAuthMismatch,

    /// A relay cell was recognised but its tag is wrong (§5.5).
    #[error(
        "relay cell failed authentication (tag mismatch): it was modified, \
         replayed, reordered or injected; tear the circuit down"
    )]
    BadTag,

    /// A sealed descriptor layer did not open (§15.2).
    #[error("a sealed layer did not open: the key is wrong or the bytes were altered")]
    SealedLayer,

    /// A circuit hop used up its cell counter (§5.2).
    #[error(
        "this circuit hop has used all of its 2^64-1 cell counter values: \
         build a new circuit"
    )]
    CounterExhausted,

    /// A key file holds another kind of key (§2.5).
    #[error("this is a {found} key, expected a {expected} key")]
    KeyFileWrongKind {
        /// The kind named in the file.
        found: KeyKind,
        /// The kind the caller asked for.
        expected: KeyKind,
    },

    /// A key file's first line is not a Warren key-file header (§2.5).
    #[error("not a Warren key file: {problem}")]
    KeyFileHeader {
        /// What is wrong with the header.
        problem: &'static str,
    },

    /// A key file's key line is not valid base64 (§2.5).
    #[error(
        "the key line of the key file is not valid base64 (standard alphabet, \
         with padding): {problem} at character {position}"
    )]
    KeyFileBase64 {
        /// What is wrong.
        problem: &'static str,
        /// Where, counting from 1.
        position: usize,
    },

    /// A key file's key decodes to the wrong number of bytes (§2.5).
    #[error("the key in the key file is {found} bytes long, expected 32")]
    KeyFileLength {
        /// How many bytes the base64 decoded to.
        found: usize,
    },

    /// A key file's lines are not laid out as the format requires (§2.5).
    #[error("malformed key file: {problem}")]
    KeyFileLayout {
        /// What is wrong.
        problem: &'static str,
    },

    /// A key file has bytes after its key line (§2.5).
    #[error(
        "the key file has data after the key line: a key file is exactly two \
         lines, each ending in a newline"
    )]
    KeyFileTrailingData,

    /// An address does not end in `.warren` (§3.2).
    #[error("not a .warren address: it must end in \".warren\"")]
    HsAddressSuffix,

    /// An address is a Tor `.onion` address (§3.2).
    #[error(
        "this is a Tor .onion address; Warren onion service addresses end in \
         \".warren\""
    )]
    HsAddressIsOnion,

    /// An address has the wrong number of characters (§3.2).
    #[error("expected 56 characters before \".warren\", found {found}")]
    HsAddressLength {
        /// How many characters came before the suffix.
        found: usize,
    },

    /// An address holds a character outside the base32 alphabet (§3.2).
    #[error(
        "invalid character {ch:?} at position {position} of the address: only \
         the letters a-z and the digits 2-7 are allowed (base32 has no 0, 1, \
         8 or 9)"
    )]
    HsAddressChar {
        /// The offending character.
        ch: char,
        /// Its position, counting from 1.
        position: usize,
    },

    /// An address's checksum does not match (§3.2).
    #[error("checksum mismatch: the address is mistyped")]
    HsAddressChecksum,

    /// An address has a version this software does not know (§3.2).
    #[error("unknown address version {version}: this software understands version 1 only")]
    HsAddressVersion {
        /// The version byte found.
        version: u8,
    },

    /// A time-period length of zero (§6.1).
    #[error("the time-period length must be at least one minute")]
    TimePeriodLength,

    /// A time before the first time period (§6.1).
    #[error(
        "time {unix_secs} is before the first time period, which starts 12 \
         hours after the Unix epoch: is the clock set?"
    )]
    TimeBeforeFirstPeriod {
        /// The time given, in seconds since the Unix epoch.
        unix_secs: u64,
    },

    /// No client-puzzle solution was found within the attempts allowed
    /// (§16.4).
    #[error(
        "no proof-of-work solution found in {attempts} nonces: allow more \
         attempts, or ask for a lower effort"
    )]
    PowUnsolved {
        /// How many nonces were tried.
        attempts: u64,
    },

    /// A client-puzzle solution does not verify (§16.4).
    #[error("the proof-of-work solution is refused: {reason}")]
    PowInvalid {
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A condition the code rules out happened anyway.
    #[error("internal error in {what}: this is a bug in warren-crypto")]
    Internal {
        /// Where it happened.
        what: &'static str,
    },
}
