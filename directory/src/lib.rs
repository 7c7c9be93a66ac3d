//! The Warren relay directory (docs/spec.md §12): relay descriptors,
//! authority certificates, votes, the deterministic consensus algorithm, the
//! checks a client applies to a consensus, and the HSDir ring.
//!
//! Pure like `warren-proto`: no I/O, no clock reads, no OS randomness. Time
//! is an argument (Unix seconds, `u64`) and randomness a `CryptoRng`.
//!
//! ```text
//! relay:      RelayDescriptor ──sign──▶ SignedDescriptor ──bytes──▶ authorities
//! authority:  descriptors + observations ──assign_flags──▶ VoteBody ──sign──▶ Vote
//!             votes ──ConsensusBody::compute──▶ body ──ConsensusSignature::sign──▶ signature
//!             body + signatures ──Consensus::assemble──▶ Consensus ──bytes──▶ caches, clients
//! client:     bytes ──Consensus::decode──▶ Unchecked ──verify(authorities)──▶ TimeBound
//!             ──check_valid_at(now)──▶ Consensus ──HsDirRing::new──▶ HSDir choices
//! ```
//!
//! Every signed document follows [`signed`]'s pattern: decoding gives an
//! [`Unchecked`], verification a [`TimeBound`], the time check the document.
#![forbid(unsafe_code)]

pub mod authority;
mod bits;
pub mod build_timeout;
pub mod consensus;
pub mod descriptor;
pub mod dir_msg;
mod error;
pub mod exit_policy;
mod fields;
#[doc(hidden)]
pub mod fuzzing;
pub mod guard;
pub mod hs_descriptor;
pub mod hsdir_ring;
pub mod path;
pub mod roles;
pub mod schedule;
pub mod signed;
pub mod status;
#[cfg(test)]
mod testing;
pub mod vote;
mod wire;

pub use authority::{
    AuthorityCert, AuthorityIdentity, AuthorityIdentityKeypair, AuthoritySet, AuthoritySigningKey,
    AuthoritySigningKeypair,
};
pub use build_timeout::{BuildTimeouts, TimeoutParams};
pub use consensus::{Consensus, ConsensusBody, ConsensusSignature};
pub use descriptor::{OnionKeyCert, RelayDescriptor, SignedDescriptor};
pub use dir_msg::{DirRequest, DirResponse};
pub use error::{DirectoryError, ErrorKind};
pub use exit_policy::{
    AddrPattern, ExitAction, ExitPolicy, ExitRule, ExitSummary, PortRange, PortSet,
};
pub use fields::{MAX_ADDRESS_LEN, MAX_ADDRESSES, MAX_FAMILY, MAX_SOFTWARE_LEN};
pub use guard::{GuardParams, GuardSet};
pub use hsdir_ring::HsDirRing;
pub use roles::Roles;
pub use schedule::{Period, VotingSchedule};
pub use signed::{TimeBound, Unchecked, Verifiable, Window};
pub use status::{Flags, RelayInfo, RelayStatus};
pub use vote::{
    FlagThresholds, Observation, Vote, VoteBody, assign_flags, shared_random_contribution,
};
