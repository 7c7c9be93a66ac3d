//! The consensus (docs/spec.md §12.7–§12.8): the relays a majority of the
//! authorities list, with majority flags and median bandwidths, signed by
//! each authority that computed it.
//!
//! * [`ConsensusBody::compute`] is the deterministic algorithm (§12.7);
//! * [`ConsensusSignature`] is one authority's signature on the body;
//! * [`Consensus`] is the body with its signatures. A client accepts it only
//!   when more than half of its configured authorities signed it validly and
//!   the time lies in `[valid_after, valid_until]` (§12.8).

use std::cmp::Reverse;

use serde::{Deserialize, Serialize};
use warren_crypto::RelayIdentity;

use crate::DirectoryError;
use crate::authority::{AuthorityIdentity, AuthoritySet, MAX_AUTHORITIES};
use crate::descriptor::check_version;
use crate::signed::{Unchecked, Validity, Verifiable, Window};
use crate::status::{RelayStatus, WireStatus, relays_from_wire, relays_to_wire};
use crate::vote::check_period;
use crate::wire;

mod compute;
mod signature;

pub use signature::ConsensusSignature;
use signature::WireSignature;

/// The domain-separation label of consensus signatures (§12.1).
pub const CONSENSUS_LABEL: &[u8] = b"warren-consensus-v1";
/// The consensus format version this software writes and reads.
pub const CONSENSUS_VERSION: u8 = 1;
/// The label of the shared random value's hash (§12.9).
pub const SRV_LABEL: &[u8] = b"warren-srv-v1";

/// What the consensus is called in errors.
const DOCUMENT: &str = "consensus";

/// The signed part of a consensus (§12.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsensusBody {
    /// The first second the consensus is valid (Unix seconds).
    pub valid_after: u64,
    /// When clients should fetch the next consensus.
    pub fresh_until: u64,
    /// The last second the consensus is valid.
    pub valid_until: u64,
    /// The shared random value of this period (§12.9).
    pub shared_random: [u8; 32],
    /// The authorities whose votes were used, sorted.
    pub voters: Vec<AuthorityIdentity>,
    /// The listed relays, sorted by identity.
    pub relays: Vec<RelayStatus>,
}

/// The wire form of a consensus body (§12.7), in field order.
#[derive(Debug, Serialize, Deserialize)]
struct WireConsensusBody<'a> {
    version: u8,
    valid_after: u64,
    fresh_until: u64,
    valid_until: u64,
    shared_random: [u8; 32],
    voters: Vec<[u8; 32]>,
    #[serde(borrow)]
    relays: Vec<WireStatus<'a>>,
}

impl ConsensusBody {
    /// The canonical bytes every authority signs.
    pub fn encode(&self) -> Result<Vec<u8>, DirectoryError> {
        check_period(
            DOCUMENT,
            self.valid_after,
            self.fresh_until,
            self.valid_until,
        )?;
        let voters: Vec<[u8; 32]> = self.voters.iter().map(|v| *v.as_bytes()).collect();
        check_voters(&voters)?;
        wire::encode(&WireConsensusBody {
            version: CONSENSUS_VERSION,
            valid_after: self.valid_after,
            fresh_until: self.fresh_until,
            valid_until: self.valid_until,
            shared_random: self.shared_random,
            voters,
            relays: relays_to_wire(&self.relays, DOCUMENT)?,
        })
    }

    /// Decodes and checks body bytes (signatures aside).
    pub fn decode(bytes: &[u8]) -> Result<Self, DirectoryError> {
        check_version(bytes, DOCUMENT, CONSENSUS_VERSION)?;
        let w: WireConsensusBody<'_> = wire::decode(bytes, DOCUMENT)?;
        check_period(DOCUMENT, w.valid_after, w.fresh_until, w.valid_until)?;
        check_voters(&w.voters)?;
        let voters = w
            .voters
            .iter()
            .map(|v| {
                AuthorityIdentity::from_bytes(v).map_err(|source| DirectoryError::BadKey {
                    document: DOCUMENT,
                    field: "voters",
                    source,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            valid_after: w.valid_after,
            fresh_until: w.fresh_until,
            valid_until: w.valid_until,
            shared_random: w.shared_random,
            voters,
            relays: relays_from_wire(&w.relays, DOCUMENT)?,
        })
    }

    /// The entry of relay `id`, if listed.
    pub fn relay(&self, id: &RelayIdentity) -> Option<&RelayStatus> {
        let i = self.relays.binary_search_by(|r| r.identity.cmp(id)).ok()?;
        self.relays.get(i)
    }
}

/// At most [`MAX_AUTHORITIES`] voters, sorted, each once.
fn check_voters(voters: &[[u8; 32]]) -> Result<(), DirectoryError> {
    if voters.len() > MAX_AUTHORITIES {
        return Err(DirectoryError::TooMany {
            document: DOCUMENT,
            item: "voters",
            count: voters.len(),
            max: MAX_AUTHORITIES,
        });
    }
    wire::check_strictly_increasing(
        voters,
        DOCUMENT,
        "the voters are not sorted, or one is listed twice",
    )
}

/// The wire form of a consensus document (§12.8).
#[derive(Debug, Serialize, Deserialize)]
struct WireConsensus<'a> {
    #[serde(borrow)]
    body: &'a [u8],
    #[serde(borrow)]
    signatures: Vec<WireSignature<'a>>,
}

/// A consensus: its body, the body's exact bytes and the signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consensus {
    body: ConsensusBody,
    body_bytes: Vec<u8>,
    signatures: Vec<ConsensusSignature>,
}

impl Consensus {
    /// Joins a body and the signatures collected for it. The result must be
    /// verified like a received consensus.
    pub fn assemble(
        body: ConsensusBody,
        mut signatures: Vec<ConsensusSignature>,
    ) -> Result<Unchecked<Self>, DirectoryError> {
        signatures.sort_by_key(ConsensusSignature::authority);
        if let Some(dup) = signatures.windows(2).find_map(|w| match w {
            [a, b] if a.authority() == b.authority() => Some(a.authority()),
            _ => None,
        }) {
            return Err(DirectoryError::DuplicateAuthority {
                what: "consensus signatures",
                authority: dup,
            });
        }
        check_signature_count(signatures.len())?;
        Ok(Unchecked::new(Self {
            body_bytes: body.encode()?,
            body,
            signatures,
        }))
    }

    /// A consensus of `body` with no signatures, for tests of what reads
    /// one (path selection, guards).
    #[cfg(test)]
    pub(crate) fn unsigned(body: ConsensusBody) -> Self {
        Self {
            body_bytes: Vec::new(),
            body,
            signatures: Vec::new(),
        }
    }

    /// Decodes a consensus; its signatures are checked by
    /// [`Unchecked::verify`] with the configured authorities.
    pub fn decode(bytes: &[u8]) -> Result<Unchecked<Self>, DirectoryError> {
        let w: WireConsensus<'_> = wire::decode(bytes, DOCUMENT)?;
        check_signature_count(w.signatures.len())?;
        let signatures = w
            .signatures
            .iter()
            .map(ConsensusSignature::from_wire)
            .collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<AuthorityIdentity> = signatures.iter().map(|s| s.authority()).collect();
        wire::check_strictly_increasing(
            &ids,
            DOCUMENT,
            "the signatures are not sorted by authority, or an authority signed twice",
        )?;
        Ok(Unchecked::new(Self {
            body: ConsensusBody::decode(w.body)?,
            body_bytes: w.body.to_vec(),
            signatures,
        }))
    }

    /// Encodes the document: the body bytes and the signatures.
    pub fn encode(&self) -> Result<Vec<u8>, DirectoryError> {
        wire::encode(&WireConsensus {
            body: &self.body_bytes,
            signatures: self
                .signatures
                .iter()
                .map(ConsensusSignature::to_wire)
                .collect(),
        })
    }

    /// The signed body.
    pub fn body(&self) -> &ConsensusBody {
        &self.body
    }

    /// The body's canonical bytes, as signed.
    pub fn body_bytes(&self) -> &[u8] {
        &self.body_bytes
    }

    /// The signatures, sorted by authority.
    pub fn signatures(&self) -> &[ConsensusSignature] {
        &self.signatures
    }

    /// The listed relays, sorted by identity.
    pub fn relays(&self) -> &[RelayStatus] {
        &self.body.relays
    }

    /// The entry of relay `id`, if listed.
    pub fn relay(&self, id: &RelayIdentity) -> Option<&RelayStatus> {
        self.body.relay(id)
    }

    /// The first second the consensus is valid.
    pub fn valid_after(&self) -> u64 {
        self.body.valid_after
    }

    /// When to fetch the next consensus: a client fetches from
    /// `fresh_until` on, before `valid_until` ends this one.
    pub fn fresh_until(&self) -> u64 {
        self.body.fresh_until
    }

    /// The last second the consensus is valid.
    pub fn valid_until(&self) -> u64 {
        self.body.valid_until
    }

    /// The shared random value (§12.9).
    pub fn shared_random(&self) -> &[u8; 32] {
        &self.body.shared_random
    }
}

/// At most one signature per possible authority.
fn check_signature_count(count: usize) -> Result<(), DirectoryError> {
    if count > MAX_AUTHORITIES {
        return Err(DirectoryError::TooMany {
            document: DOCUMENT,
            item: "signatures",
            count,
            max: MAX_AUTHORITIES,
        });
    }
    Ok(())
}

impl Verifiable for Consensus {
    type Keys = AuthoritySet;

    /// Counts valid signatures by distinct configured authorities until
    /// more than half of them have signed (§12.8). Signatures are tried in
    /// order of decreasing certificate expiry, so that the certificates
    /// behind the accepted ones stay valid the longest. When too few are
    /// valid, a signature that does not verify is reported first, then one
    /// by an unknown authority, then the count.
    fn check_signatures(&self, set: &AuthoritySet) -> Result<Validity, DirectoryError> {
        let needed = set.needed();
        let mut order: Vec<&ConsensusSignature> = self.signatures.iter().collect();
        order.sort_by_key(|s| Reverse(s.cert().expires()));
        let (mut good, mut bad, mut unknown) = (Vec::new(), None, None);
        for sig in order {
            if good.len() >= needed {
                break;
            }
            match sig.check(&self.body_bytes, set) {
                Ok(window) => good.push(window),
                Err(e @ DirectoryError::UnknownAuthority { .. }) => {
                    unknown.get_or_insert(e);
                }
                Err(e) => {
                    bad.get_or_insert(e);
                }
            }
        }
        if good.len() < needed {
            return Err(bad.or(unknown).unwrap_or(DirectoryError::TooFewSignatures {
                document: DOCUMENT,
                valid: good.len(),
                needed,
                configured: set.len(),
            }));
        }
        let window = Window {
            start: self.body.valid_after,
            end: self.body.valid_until,
        };
        Ok(Validity::new(DOCUMENT, window).with_certs(good, needed))
    }
}

#[cfg(test)]
mod test;
