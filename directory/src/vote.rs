//! Votes (docs/spec.md §12.6): one authority's view of the network for one
//! consensus period, signed with its signing key and carrying the
//! certificate of that key.
//!
//! The flags a vote assigns come from the authority's own observations
//! through the pure rules of [`flags`] (§12.5).

use serde::{Deserialize, Serialize};
use warren_crypto::Signature;

use crate::DirectoryError;
use crate::authority::{AuthorityCert, AuthorityIdentity, AuthoritySet, AuthoritySigningKeypair};
use crate::descriptor::check_version;
use crate::signed::{
    Envelope, Sealed, Unchecked, Validity, Verifiable, Window, check_signature, envelope_body,
};
use crate::status::{RelayStatus, WireStatus, relays_from_wire, relays_to_wire};
use crate::wire;

pub mod flags;

pub use flags::{FlagThresholds, Observation, assign_flags};

/// The domain-separation label of vote signatures (§12.1).
pub const VOTE_LABEL: &[u8] = b"warren-vote-v1";
/// The vote format version this software writes and reads.
pub const VOTE_VERSION: u8 = 1;

/// What votes are called in errors.
const DOCUMENT: &str = "vote";

/// What an authority votes for one period (§12.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoteBody {
    /// When the consensus of this period starts to be valid (Unix seconds).
    pub valid_after: u64,
    /// When clients should fetch the next consensus.
    pub fresh_until: u64,
    /// When the consensus of this period stops being valid.
    pub valid_until: u64,
    /// This authority's contribution to the shared random value (§12.9).
    pub shared_random: [u8; 32],
    /// One entry per relay the authority lists, sorted by identity when the
    /// vote is signed.
    pub relays: Vec<RelayStatus>,
}

/// An authority's shared-random contribution for the votes of `period`
/// (§12.9): `SHA3-256("warren-srv-contribution" | secret | INT_8(period))`,
/// where `secret` is 32 random bytes the authority draws once. It is the
/// same for every vote of the period, so that the value — and with it the
/// HSDir ring — changes only when the period or the set of voters does.
pub fn shared_random_contribution(
    secret: &[u8; 32],
    period: warren_crypto::TimePeriod,
) -> [u8; 32] {
    use sha3::Digest;
    sha3::Sha3_256::new()
        .chain_update(b"warren-srv-contribution")
        .chain_update(secret)
        .chain_update(period.number.to_be_bytes())
        .finalize()
        .into()
}

/// The wire form of a vote body (§12.6), in field order.
#[derive(Debug, Serialize, Deserialize)]
struct WireVoteBody<'a> {
    version: u8,
    #[serde(borrow)]
    cert: &'a [u8],
    valid_after: u64,
    fresh_until: u64,
    valid_until: u64,
    shared_random: [u8; 32],
    #[serde(borrow)]
    relays: Vec<WireStatus<'a>>,
}

/// Checks `valid_after <= fresh_until <= valid_until` and
/// `valid_after < valid_until` (§12.6, §12.7).
pub(crate) fn check_period(
    document: &'static str,
    valid_after: u64,
    fresh_until: u64,
    valid_until: u64,
) -> Result<(), DirectoryError> {
    if valid_after <= fresh_until && fresh_until <= valid_until && valid_after < valid_until {
        Ok(())
    } else {
        Err(DirectoryError::BadTimes {
            document,
            reason: "expected valid_after <= fresh_until <= valid_until, and valid_after \
                     before valid_until",
        })
    }
}

/// A signed vote (§12.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote {
    cert: AuthorityCert,
    body: VoteBody,
    signer: [u8; 32],
    signature: Signature,
    bytes: Vec<u8>,
    body_len: usize,
}

impl Vote {
    /// Signs `body` with `key`, which `cert` must certify. Sorts the relays
    /// by identity; fails when a relay is listed twice or a field breaks a
    /// limit.
    pub fn sign(
        mut body: VoteBody,
        cert: &AuthorityCert,
        key: &AuthoritySigningKeypair,
    ) -> Result<Self, DirectoryError> {
        if key.public() != cert.signing_key() {
            return Err(DirectoryError::KeyMismatch {
                document: DOCUMENT,
                expected: cert.signing_key().to_string(),
                found: key.public().to_string(),
            });
        }
        body.relays.sort_by_key(|r| r.identity);
        let encoded = encode_body(&body, cert)?;
        let sealed = Sealed::seal(VOTE_LABEL, &encoded, key.ed25519())?;
        Ok(Self {
            cert: cert.clone(),
            body,
            signer: sealed.signer,
            signature: sealed.signature,
            bytes: sealed.bytes,
            body_len: encoded.len(),
        })
    }

    /// Decodes a vote; its signatures are checked by [`Unchecked::verify`]
    /// with the configured authorities.
    pub fn decode(bytes: &[u8]) -> Result<Unchecked<Self>, DirectoryError> {
        let env: Envelope<'_> = wire::decode(bytes, DOCUMENT)?;
        check_version(env.body, DOCUMENT, VOTE_VERSION)?;
        let w: WireVoteBody<'_> = wire::decode(env.body, DOCUMENT)?;
        check_period(DOCUMENT, w.valid_after, w.fresh_until, w.valid_until)?;
        let body = VoteBody {
            valid_after: w.valid_after,
            fresh_until: w.fresh_until,
            valid_until: w.valid_until,
            shared_random: w.shared_random,
            relays: relays_from_wire(&w.relays, DOCUMENT)?,
        };
        Ok(Unchecked::new(Self {
            cert: AuthorityCert::decode_inner(w.cert)?,
            body,
            signer: env.signer,
            signature: wire::sig_from_wire(&env.signature),
            bytes: bytes.to_vec(),
            body_len: env.body.len(),
        }))
    }

    /// The authority that cast the vote.
    pub fn authority(&self) -> AuthorityIdentity {
        self.cert.identity()
    }

    /// The certificate of the signing key.
    pub fn cert(&self) -> &AuthorityCert {
        &self.cert
    }

    /// What the authority voted.
    pub fn body(&self) -> &VoteBody {
        &self.body
    }

    /// The signed bytes, as made or received.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Encodes the vote again from its fields. For a decoded vote this
    /// gives back exactly the bytes it came from (the form is canonical).
    pub fn encode(&self) -> Result<Vec<u8>, DirectoryError> {
        let body = encode_body(&self.body, &self.cert)?;
        Ok(Sealed::from_parts(&body, self.signer, self.signature)?.bytes)
    }
}

/// The canonical body bytes of a vote.
fn encode_body(body: &VoteBody, cert: &AuthorityCert) -> Result<Vec<u8>, DirectoryError> {
    check_period(
        DOCUMENT,
        body.valid_after,
        body.fresh_until,
        body.valid_until,
    )?;
    wire::encode(&WireVoteBody {
        version: VOTE_VERSION,
        cert: cert.as_bytes(),
        valid_after: body.valid_after,
        fresh_until: body.fresh_until,
        valid_until: body.valid_until,
        shared_random: body.shared_random,
        relays: relays_to_wire(&body.relays, DOCUMENT)?,
    })
}

impl Verifiable for Vote {
    type Keys = AuthoritySet;

    /// The voter must be a configured authority whose identity key signed
    /// the certificate, and the certified signing key must have signed the
    /// vote. A vote is usable until its `valid_until` while its certificate
    /// is valid; it has no start, as it arrives before its period.
    fn check_signatures(&self, set: &AuthoritySet) -> Result<Validity, DirectoryError> {
        let authority = self.authority();
        if !set.contains(&authority) {
            return Err(DirectoryError::UnknownAuthority {
                document: DOCUMENT,
                authority,
                configured: set.len(),
            });
        }
        self.cert.check_self_signed()?;
        let key = self.cert.signing_key();
        if self.signer != *key.as_bytes() {
            return Err(DirectoryError::ForgedSigner {
                document: DOCUMENT,
                claimed: key.to_string(),
                signer: wire::hex(&self.signer),
            });
        }
        let body = envelope_body(&self.bytes, self.body_len)?;
        check_signature(VOTE_LABEL, body, key.ed25519(), &self.signature, DOCUMENT)?;
        let window = Window {
            start: 0,
            end: self.body.valid_until,
        };
        Ok(Validity::new(DOCUMENT, window).with_certs(vec![self.cert.validity()], 1))
    }
}

#[cfg(test)]
mod test;
