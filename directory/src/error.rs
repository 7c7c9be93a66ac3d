//! The one error type of `warren-directory` (docs/spec.md §12).
//!
//! Every message says what was expected and what arrived, so that an
//! operator can act on it: which document, which field, which key, how many
//! signatures of how many were needed, by how long a document has expired.

use warren_crypto::{CryptoError, RelayIdentity};
pub use warren_proto::ErrorKind;

use crate::authority::AuthorityIdentity;

/// Everything that can go wrong in `warren-directory`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    /// The bytes are not an encoding of the document (§12.1).
    #[error("the {document} is malformed: {reason}")]
    Malformed {
        /// Which document was being decoded.
        document: &'static str,
        /// What is wrong with the bytes.
        reason: &'static str,
    },

    /// Bytes follow the end of a document (§12.1).
    #[error(
        "the {document} has {count} bytes after its end: a document is exactly \
         its encoding, with nothing after it"
    )]
    TrailingBytes {
        /// Which document.
        document: &'static str,
        /// How many bytes were left over.
        count: usize,
    },

    /// The document decodes but is not in its one canonical form (§12.1).
    #[error("the {document} is not in canonical form: {reason}")]
    NonCanonical {
        /// Which document.
        document: &'static str,
        /// What is not canonical.
        reason: &'static str,
    },

    /// A format version this software does not understand (§12.1).
    #[error(
        "the {document} has format version {found}; this software understands \
         version {supported} only"
    )]
    UnsupportedVersion {
        /// Which document.
        document: &'static str,
        /// The version found.
        found: u8,
        /// The version this software writes and reads.
        supported: u8,
    },

    /// A list is longer than the specification allows.
    #[error("the {document} lists {count} {item}; at most {max} are allowed")]
    TooMany {
        /// Which document.
        document: &'static str,
        /// What the list holds.
        item: &'static str,
        /// How many there were.
        count: usize,
        /// The limit.
        max: usize,
    },

    /// A field holds a value the specification forbids.
    #[error("the {field} of the {document} is invalid: {reason}")]
    BadField {
        /// Which document.
        document: &'static str,
        /// Which field.
        field: &'static str,
        /// What is wrong, with the offending value where that helps.
        reason: String,
    },

    /// A field that must hold an Ed25519 public key does not (§2.1).
    #[error("the {field} of the {document} is not a valid public key: {source}")]
    BadKey {
        /// Which document.
        document: &'static str,
        /// Which field.
        field: &'static str,
        /// Why the key was refused.
        #[source]
        source: CryptoError,
    },

    /// Validity times that contradict each other.
    #[error("the {document}'s times are inconsistent: {reason}")]
    BadTimes {
        /// Which document.
        document: &'static str,
        /// Which rule they break.
        reason: &'static str,
    },

    /// A signature does not verify (§12.1).
    #[error(
        "the signature on the {document} does not verify: it was altered after \
         signing, or signed by another key"
    )]
    BadSignature {
        /// Which document.
        document: &'static str,
    },

    /// A document is signed by a key other than the one it names (§12.2,
    /// §12.4, §12.6).
    #[error(
        "forged {document}: it names {claimed} as its signing key but is signed \
         by {signer}"
    )]
    ForgedSigner {
        /// Which document.
        document: &'static str,
        /// The key the document names (hex).
        claimed: String,
        /// The key that signed it (hex).
        signer: String,
    },

    /// An onion-key certificate made by another relay (§12.2).
    #[error(
        "the onion-key certificate was issued by relay identity {signer}, not by \
         the descriptor's identity {identity}"
    )]
    OnionCertWrongSigner {
        /// The descriptor's identity.
        identity: RelayIdentity,
        /// The identity the certificate names as its issuer.
        signer: RelayIdentity,
    },

    /// The caller asked to sign with a key the document does not name.
    #[error(
        "cannot sign the {document}: it names key {expected} but the signing \
         key given is {found}"
    )]
    KeyMismatch {
        /// Which document.
        document: &'static str,
        /// The key the document names (hex).
        expected: String,
        /// The key that was given (hex).
        found: String,
    },

    /// A document comes from an authority the caller does not trust (§12.8).
    #[error(
        "the {document} is signed by authority {authority}, which is not one of \
         the {configured} configured directory authorities"
    )]
    UnknownAuthority {
        /// Which document.
        document: &'static str,
        /// The authority that signed it.
        authority: AuthorityIdentity,
        /// How many authorities are configured.
        configured: usize,
    },

    /// An authority certificate for another authority than expected (§12.4).
    #[error("the authority certificate is for authority {found}, expected {expected}")]
    WrongAuthority {
        /// The authority the caller expected.
        expected: AuthorityIdentity,
        /// The authority the certificate names.
        found: AuthorityIdentity,
    },

    /// Not enough configured authorities signed a consensus (§12.8).
    #[error(
        "too few signatures on the {document}: {valid} of the {configured} \
         configured authorities signed it validly, and {needed} (more than half) \
         must"
    )]
    TooFewSignatures {
        /// Which document.
        document: &'static str,
        /// Valid signatures from distinct configured authorities.
        valid: usize,
        /// How many are needed.
        needed: usize,
        /// How many authorities are configured.
        configured: usize,
    },

    /// Too few of the signers' certificates are valid at the time (§12.8).
    #[error(
        "only {valid} of the signing authorities' certificates of the {document} \
         are valid at time {now}, and {needed} must be: a signing key has expired \
         or is not yet valid"
    )]
    TooFewValidCerts {
        /// Which document.
        document: &'static str,
        /// Signers whose certificate is valid at `now`.
        valid: usize,
        /// How many are needed.
        needed: usize,
        /// The time checked, in Unix seconds.
        now: u64,
    },

    /// A document used after its validity window (§12.8).
    #[error(
        "the {document} expired {by} seconds ago (valid until {valid_until}, now \
         {now}): fetch a newer one"
    )]
    Expired {
        /// Which document.
        document: &'static str,
        /// The last second it was valid, in Unix seconds.
        valid_until: u64,
        /// The time checked.
        now: u64,
        /// `now - valid_until`.
        by: u64,
    },

    /// A document used before its validity window (§12.8).
    #[error(
        "the {document} is not valid until {valid_after}, {wait} seconds from now \
         ({now}): is the local clock behind?"
    )]
    NotYetValid {
        /// Which document.
        document: &'static str,
        /// The first second it is valid, in Unix seconds.
        valid_after: u64,
        /// The time checked.
        now: u64,
        /// `valid_after - now`.
        wait: u64,
    },

    /// Too few votes to compute a consensus (§12.7).
    #[error(
        "cannot compute a consensus from {votes} votes: more than half of the \
         {configured} configured authorities ({needed}) must have voted"
    )]
    TooFewVotes {
        /// Votes received.
        votes: usize,
        /// Votes needed.
        needed: usize,
        /// Authorities configured.
        configured: usize,
    },

    /// An authority appears twice where each may appear once (§12.4, §12.7).
    #[error("authority {authority} appears twice in the {what}: each may appear once")]
    DuplicateAuthority {
        /// What holds the duplicate.
        what: &'static str,
        /// The authority.
        authority: AuthorityIdentity,
    },

    /// A bad rule in the text form of an exit policy (§12.3).
    #[error("bad exit policy rule {rule:?}: {token:?} is not {expected}")]
    ExitPolicySyntax {
        /// The rule as written.
        rule: String,
        /// The part of it that is wrong.
        token: String,
        /// What was expected there.
        expected: &'static str,
    },

    /// An unknown name in the text form of a role or flag set.
    #[error("unknown {what} {name:?}: expected one of {expected}")]
    UnknownName {
        /// Roles or flags.
        what: &'static str,
        /// The name given.
        name: String,
        /// The names that exist.
        expected: &'static str,
    },

    /// A key operation or a sealed layer failed (§15).
    #[error("cannot open the {document}: {source}")]
    Decrypt {
        /// Which document.
        document: &'static str,
        /// What the cryptography said.
        #[source]
        source: CryptoError,
    },

    /// The service restricts discovery and this client's key is not one it
    /// lists (§15.3).
    #[error(
        "not authorised for this service: it lists the client keys that may reach it, and          this client's key (if any is configured for the address) is not one of them"
    )]
    NotAuthorised,

    /// A voting schedule that cannot work (§12.14).
    #[error("bad voting schedule: {reason}")]
    BadSchedule {
        /// What is wrong.
        reason: &'static str,
    },

    /// A condition the code rules out happened anyway.
    #[error("internal error in {what}: this is a bug in warren-directory")]
    Internal {
        /// Where it happened.
        what: &'static str,
    },
}

impl DirectoryError {
    /// The coarse class of this error (shared with `warren-proto`).
    ///
    /// Documents that fail to decode or verify are protocol violations by
    /// whoever sent them; errors in configuration text and in the keys the
    /// caller supplies are [`ErrorKind::BadConfig`]; too few votes to
    /// compute a consensus is [`ErrorKind::LinkIo`] (authorities could not
    /// be reached).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::ExitPolicySyntax { .. }
            | Self::UnknownName { .. }
            | Self::KeyMismatch { .. }
            | Self::BadSchedule { .. } => ErrorKind::BadConfig,
            // Votes are missing because authorities could not be reached.
            Self::TooFewVotes { .. } => ErrorKind::LinkIo,
            Self::Internal { .. } => ErrorKind::Internal,
            _ => ErrorKind::ProtocolViolation,
        }
    }

    /// A [`DirectoryError::BadField`].
    pub(crate) fn field(
        document: &'static str,
        field: &'static str,
        reason: impl Into<String>,
    ) -> Self {
        Self::BadField {
            document,
            field,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn kinds_and_messages() {
        let e = DirectoryError::TooFewSignatures {
            document: "consensus",
            valid: 1,
            needed: 2,
            configured: 3,
        };
        assert_eq!(e.kind(), ErrorKind::ProtocolViolation);
        assert_eq!(
            e.to_string(),
            "too few signatures on the consensus: 1 of the 3 configured \
             authorities signed it validly, and 2 (more than half) must"
        );
        let e = DirectoryError::ExitPolicySyntax {
            rule: "acept *:80".into(),
            token: "acept".into(),
            expected: "accept or reject",
        };
        assert_eq!(e.kind(), ErrorKind::BadConfig);
        assert!(e.to_string().contains("\"acept\" is not accept or reject"));
        let e = DirectoryError::Internal { what: "x" };
        assert_eq!(e.kind(), ErrorKind::Internal);
    }
}
