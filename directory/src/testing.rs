//! Fixtures for this crate's tests (docs/spec.md §12): relays, authorities
//! and votes made from fixed keys, so that every run sees the same bytes.

use std::collections::BTreeSet;

use warren_crypto::{OnionKeypair, RelayIdentityKeypair};

use crate::authority::{
    AuthorityCert, AuthorityIdentityKeypair, AuthoritySet, AuthoritySigningKeypair,
};
use crate::descriptor::{OnionKeyCert, RelayDescriptor, SignedDescriptor};
use crate::exit_policy::ExitPolicy;
use crate::roles::Roles;
use crate::status::RelayStatus;
use crate::vote::{FlagThresholds, Observation, Vote, VoteBody, assign_flags};

/// The fixtures' "now": 2023-11-14 22:13:20 UTC.
pub(crate) const T0: u64 = 1_700_000_000;
/// One hour.
pub(crate) const HOUR: u64 = 3600;

/// Relay `n`'s identity keypair.
pub(crate) fn relay_key(n: u8) -> RelayIdentityKeypair {
    RelayIdentityKeypair::from_secret_bytes([n; 32])
}

/// Relay `n`'s descriptor, published at `published`: even relays are exits
/// for ports 80 and 443, every relay offers every role.
pub(crate) fn descriptor(n: u8, published: u64) -> RelayDescriptor {
    let id = relay_key(n);
    let onion = OnionKeypair::from_secret_bytes([n.wrapping_add(128); 32]).public();
    let exit_policy = if n.is_multiple_of(2) {
        "accept *:80, accept *:443".parse().unwrap()
    } else {
        ExitPolicy::reject_all()
    };
    RelayDescriptor {
        identity: id.public(),
        onion_cert: OnionKeyCert::sign(&id, onion, published + 7 * 24 * HOUR),
        addresses: vec![
            format!("/ip4/192.0.2.{n}/tcp/9001"),
            format!("/ip4/192.0.2.{n}/udp/9001/quic-v1"),
        ],
        bandwidth: 1_000_000 * u64::from(n),
        family: BTreeSet::new(),
        exit_policy,
        roles: Roles::ALL,
        software: "warren 0.1.0".into(),
        published,
    }
}

/// Relay `n`'s descriptor, signed.
pub(crate) fn signed_descriptor(n: u8, published: u64) -> SignedDescriptor {
    descriptor(n, published).sign(&relay_key(n)).unwrap()
}

/// An authority's keys and certificate.
pub(crate) struct Authority {
    pub(crate) id: AuthorityIdentityKeypair,
    pub(crate) key: AuthoritySigningKeypair,
    pub(crate) cert: AuthorityCert,
}

/// Authority `n`, its certificate valid from 30 days before [`T0`] to a
/// year after.
pub(crate) fn authority(n: u8) -> Authority {
    let id = AuthorityIdentityKeypair::from_secret_bytes([n.wrapping_add(200); 32]);
    let key = AuthoritySigningKeypair::from_secret_bytes([n.wrapping_add(100); 32]);
    let cert =
        AuthorityCert::issue(&id, key.public(), T0 - 30 * 24 * HOUR, T0 + 365 * 24 * HOUR).unwrap();
    Authority { id, key, cert }
}

/// Authorities `1..=n`.
pub(crate) fn authorities(n: u8) -> Vec<Authority> {
    (1..=n).map(authority).collect()
}

/// The set of `auths`.
pub(crate) fn set_of(auths: &[Authority]) -> AuthoritySet {
    AuthoritySet::new(auths.iter().map(|a| a.id.public())).unwrap()
}

/// The vote of `auth` on `descriptors`, with flags from observations of
/// relays up for a day and known for 30 days, for the period starting at
/// [`T0`]; `tweak` edits each entry before signing.
pub(crate) fn vote(
    auth: &Authority,
    descriptors: &[SignedDescriptor],
    tweak: impl Fn(&mut RelayStatus),
) -> Vote {
    let observations: Vec<Observation> = descriptors
        .iter()
        .map(|d| Observation::new(d.descriptor(), true, 24 * HOUR, 30 * 24 * HOUR))
        .collect();
    let flags = assign_flags(&observations, &FlagThresholds::PRODUCTION);
    let relays = descriptors
        .iter()
        .zip(flags)
        .map(|(d, f)| {
            let mut status = RelayStatus::from_descriptor(d, f, d.descriptor().bandwidth);
            tweak(&mut status);
            status
        })
        .collect();
    let body = VoteBody {
        valid_after: T0,
        fresh_until: T0 + HOUR,
        valid_until: T0 + 3 * HOUR,
        shared_random: [auth.id.public().as_bytes()[0]; 32],
        relays,
    };
    Vote::sign(body, &auth.cert, &auth.key).unwrap()
}

/// Relays `1..=n`, signed at `T0 - HOUR`.
pub(crate) fn relays(n: u8) -> Vec<SignedDescriptor> {
    (1..=n).map(|i| signed_descriptor(i, T0 - HOUR)).collect()
}
