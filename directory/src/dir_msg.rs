//! The messages of the directory protocol (docs/spec.md §12.13): what
//! relays, authorities, caches and clients ask each other, and the answers.
//!
//! The messages only carry documents as bytes; each document is decoded and
//! verified by its own type ([`crate::SignedDescriptor`], [`crate::Vote`],
//! [`crate::ConsensusSignature`], [`crate::Consensus`]). `warren-net` frames
//! them on a libp2p request-response protocol.

use serde::{Deserialize, Serialize};
use warren_crypto::RelayIdentity;

use crate::{DirectoryError, wire};

/// The largest request, framed, in bytes: room for a vote listing 40,000
/// relays (§12.12).
pub const MAX_REQUEST_LEN: usize = 8 << 20;
/// The largest response, framed, in bytes: room for a consensus of 80,000
/// relays.
pub const MAX_RESPONSE_LEN: usize = 16 << 20;
/// The longest refusal reason, in bytes.
pub const MAX_REASON_LEN: usize = 256;

/// A request (§12.13).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DirRequest {
    /// Tag 0. A relay publishes its signed descriptor to an authority.
    PublishDescriptor(Vec<u8>),
    /// Tag 1. The newest consensus the server holds.
    GetConsensus,
    /// Tag 2. The descriptor the server holds for this relay identity.
    GetDescriptor([u8; 32]),
    /// Tag 3. An authority sends its signed vote to another.
    PostVote(Vec<u8>),
    /// Tag 4. An authority sends its signature on the consensus body it
    /// computed for the period starting at `valid_after`.
    PostSignature {
        /// The period the signature is for.
        valid_after: u64,
        /// A detached consensus signature (§12.8).
        signature: Vec<u8>,
    },
    /// Tag 5. A service stores its onion-service descriptor at an HSDir;
    /// only on a directory stream through a circuit (§15.6).
    PublishHsDescriptor(Vec<u8>),
    /// Tag 6. The onion-service descriptor stored under a blinded key; only
    /// on a directory stream through a circuit (§15.6).
    GetHsDescriptor([u8; 32]),
}

/// A response (§12.13).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DirResponse {
    /// Tag 0. A published document was accepted.
    Accepted,
    /// Tag 1. The request was refused; the reason is for the operator.
    Refused(String),
    /// Tag 2. A consensus (§12.8), signed.
    Consensus(Vec<u8>),
    /// Tag 3. A signed descriptor (§12.2).
    Descriptor(Vec<u8>),
    /// Tag 4. The server holds no such document (yet).
    NotFound,
    /// Tag 5. An onion-service descriptor (§15.1).
    HsDescriptor(Vec<u8>),
}

impl DirRequest {
    /// A request for the descriptor of `identity`.
    pub fn get_descriptor(identity: &RelayIdentity) -> Self {
        Self::GetDescriptor(*identity.as_bytes())
    }

    /// The canonical bytes.
    pub fn encode(&self) -> Result<Vec<u8>, DirectoryError> {
        wire::encode(self)
    }

    /// Decodes canonical bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, DirectoryError> {
        wire::decode(bytes, "directory request")
    }
}

impl DirResponse {
    /// A refusal, its reason cut to [`MAX_REASON_LEN`] bytes at a character
    /// boundary.
    pub fn refused(reason: impl std::fmt::Display) -> Self {
        let mut text = reason.to_string();
        if text.len() > MAX_REASON_LEN {
            let mut end = MAX_REASON_LEN;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        Self::Refused(text)
    }

    /// The canonical bytes.
    pub fn encode(&self) -> Result<Vec<u8>, DirectoryError> {
        wire::encode(self)
    }

    /// Decodes canonical bytes; a refusal reason longer than
    /// [`MAX_REASON_LEN`] is refused.
    pub fn decode(bytes: &[u8]) -> Result<Self, DirectoryError> {
        let response: Self = wire::decode(bytes, "directory response")?;
        if let Self::Refused(reason) = &response
            && reason.len() > MAX_REASON_LEN
        {
            return Err(DirectoryError::Malformed {
                document: "directory response",
                reason: "the refusal reason is longer than 256 bytes",
            });
        }
        Ok(response)
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use proptest::prelude::*;

    fn requests() -> impl Strategy<Value = DirRequest> {
        let bytes = proptest::collection::vec(any::<u8>(), 0..300);
        prop_oneof![
            bytes.clone().prop_map(DirRequest::PublishDescriptor),
            Just(DirRequest::GetConsensus),
            any::<[u8; 32]>().prop_map(DirRequest::GetDescriptor),
            bytes.clone().prop_map(DirRequest::PostVote),
            bytes.clone().prop_map(DirRequest::PublishHsDescriptor),
            any::<[u8; 32]>().prop_map(DirRequest::GetHsDescriptor),
            (any::<u64>(), bytes).prop_map(|(valid_after, signature)| {
                DirRequest::PostSignature {
                    valid_after,
                    signature,
                }
            }),
        ]
    }

    fn responses() -> impl Strategy<Value = DirResponse> {
        let bytes = proptest::collection::vec(any::<u8>(), 0..300);
        prop_oneof![
            Just(DirResponse::Accepted),
            "[a-z ]{0,256}".prop_map(DirResponse::Refused),
            bytes.clone().prop_map(DirResponse::Consensus),
            bytes.clone().prop_map(DirResponse::Descriptor),
            bytes.prop_map(DirResponse::HsDescriptor),
            Just(DirResponse::NotFound),
        ]
    }

    proptest! {
        #[test]
        fn requests_round_trip(r in requests()) {
            prop_assert_eq!(DirRequest::decode(&r.encode().unwrap()).unwrap(), r);
        }

        #[test]
        fn responses_round_trip(r in responses()) {
            prop_assert_eq!(DirResponse::decode(&r.encode().unwrap()).unwrap(), r);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = DirRequest::decode(&bytes);
            let _ = DirResponse::decode(&bytes);
        }
    }

    #[test]
    fn a_long_reason_is_cut_at_a_character_boundary() {
        let DirResponse::Refused(text) = DirResponse::refused("é".repeat(200)) else {
            panic!("not a refusal");
        };
        assert_eq!(text.len(), 256);
        let long = wire::encode(&DirResponse::Refused("x".repeat(257))).unwrap();
        assert!(DirResponse::decode(&long).is_err());
    }
}
