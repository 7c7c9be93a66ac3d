//! Relay status entries (docs/spec.md §12.6): one per relay in a vote and in
//! the consensus, with the flags an authority assigns and the descriptor
//! fields a client needs to build circuits.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use warren_crypto::{OnionPublicKey, RelayIdentity};

use crate::DirectoryError;
use crate::bits::bitset;
use crate::descriptor::{RelayDescriptor, SignedDescriptor, roles_from_wire};
use crate::exit_policy::{ExitSummary, PortSet};
use crate::fields::{MAX_FAMILY, check_addresses, check_family};
use crate::roles::Roles;
use crate::wire::{self, family_from_wire, family_to_wire};

bitset!(
    /// The flags an authority assigns to a relay from its own observations,
    /// and the consensus by majority (§12.5).
    Flags, "relay flag",
    {
        /// Reachable in the authority's own test in the last interval (bit 0).
        RUNNING = 0x01 => "running",
        /// Continuously up for long enough to hold long-lived streams (bit 1).
        STABLE = 0x02 => "stable",
        /// Fast enough for general use (bit 2).
        FAST = 0x04 => "fast",
        /// Suitable as a client's first hop (bit 3).
        GUARD = 0x08 => "guard",
        /// Stores onion-service descriptors: on the HSDir ring (bit 4).
        HSDIR = 0x10 => "hsdir",
        /// Opens streams to the Internet on at least one port (bit 5).
        EXIT = 0x20 => "exit",
    }
);

/// The descriptor fields that a vote repeats and the consensus carries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RelayInfo {
    /// The onion key for the circuit handshake (§4).
    pub onion_key: OnionPublicKey,
    /// The listen addresses, in the relay's order of preference.
    pub addresses: Vec<String>,
    /// The relay's declared family.
    pub family: BTreeSet<RelayIdentity>,
    /// The roles the relay offers.
    pub roles: Roles,
    /// The summary of its exit policy (§12.3).
    pub exit_summary: ExitSummary,
}

impl RelayInfo {
    /// The fields of `descriptor`.
    pub fn from_descriptor(descriptor: &RelayDescriptor) -> Self {
        Self {
            onion_key: descriptor.onion_key(),
            addresses: descriptor.addresses.clone(),
            family: descriptor.family.clone(),
            roles: descriptor.roles,
            exit_summary: descriptor.exit_policy.summary(),
        }
    }
}

/// One relay as a vote or the consensus lists it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RelayStatus {
    /// The relay's identity: the key entries are sorted by.
    pub identity: RelayIdentity,
    /// SHA-256 of the signed descriptor these fields come from.
    pub descriptor_digest: [u8; 32],
    /// The assigned flags.
    pub flags: Flags,
    /// The bandwidth used for path selection, in bytes per second.
    pub bandwidth: u64,
    /// The descriptor's fields.
    pub info: RelayInfo,
}

impl RelayStatus {
    /// The entry for a verified descriptor, with the flags and bandwidth the
    /// authority assigns.
    pub fn from_descriptor(descriptor: &SignedDescriptor, flags: Flags, bandwidth: u64) -> Self {
        Self {
            identity: descriptor.descriptor().identity,
            descriptor_digest: descriptor.digest(),
            flags,
            bandwidth,
            info: RelayInfo::from_descriptor(descriptor.descriptor()),
        }
    }

    /// Checks the limits the descriptor fields obey (§12.2).
    pub(crate) fn validate(&self, document: &'static str) -> Result<(), DirectoryError> {
        check_addresses(&self.info.addresses, document)?;
        check_family(&self.identity, &self.info.family, document)
    }

    /// The wire form.
    pub(crate) fn to_wire(&self) -> WireStatus<'_> {
        let info = &self.info;
        WireStatus {
            identity: *self.identity.as_bytes(),
            digest: self.descriptor_digest,
            flags: self.flags.bits(),
            bandwidth: self.bandwidth,
            onion_key: *info.onion_key.as_bytes(),
            addresses: info.addresses.iter().map(String::as_str).collect(),
            family: family_to_wire(&info.family),
            roles: info.roles.bits(),
            exit_ipv4: info.exit_summary.ipv4.to_wire(),
            exit_ipv6: info.exit_summary.ipv6.to_wire(),
        }
    }

    /// The entry from its wire form, checked.
    pub(crate) fn from_wire(
        w: &WireStatus<'_>,
        document: &'static str,
    ) -> Result<Self, DirectoryError> {
        let flags = Flags::from_bits(w.flags).ok_or_else(|| {
            DirectoryError::field(
                document,
                "flags",
                format!(
                    "unknown flag bits {:#04x} are set",
                    w.flags & !Flags::ALL.bits()
                ),
            )
        })?;
        let status = Self {
            identity: wire::relay_identity(&w.identity, document, "relay identity")?,
            descriptor_digest: w.digest,
            flags,
            bandwidth: w.bandwidth,
            info: RelayInfo {
                onion_key: OnionPublicKey::from_bytes(w.onion_key),
                addresses: w.addresses.iter().map(|a| (*a).to_string()).collect(),
                family: family_from_wire(&w.family, MAX_FAMILY, document)?,
                roles: roles_from_wire(w.roles, document)?,
                exit_summary: ExitSummary {
                    ipv4: PortSet::from_wire(&w.exit_ipv4, document)?,
                    ipv6: PortSet::from_wire(&w.exit_ipv6, document)?,
                },
            },
        };
        status.validate(document)?;
        Ok(status)
    }
}

/// The wire form of a [`RelayStatus`] (§12.6), in field order.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct WireStatus<'a> {
    identity: [u8; 32],
    digest: [u8; 32],
    flags: u8,
    bandwidth: u64,
    onion_key: [u8; 32],
    #[serde(borrow)]
    addresses: Vec<&'a str>,
    family: Vec<[u8; 32]>,
    roles: u8,
    exit_ipv4: Vec<(u16, u16)>,
    exit_ipv6: Vec<(u16, u16)>,
}

impl WireStatus<'_> {
    /// The relay identity bytes, for the sorting check.
    pub(crate) fn identity(&self) -> &[u8; 32] {
        &self.identity
    }
}

/// Encodes entries that must be sorted by identity, each identity once.
pub(crate) fn relays_to_wire<'a>(
    relays: &'a [RelayStatus],
    document: &'static str,
) -> Result<Vec<WireStatus<'a>>, DirectoryError> {
    check_sorted(relays.iter().map(|r| r.identity.as_bytes()), document)?;
    relays
        .iter()
        .map(|r| r.validate(document).map(|()| r.to_wire()))
        .collect()
}

/// Decodes entries; refuses unsorted or repeated identities.
pub(crate) fn relays_from_wire(
    relays: &[WireStatus<'_>],
    document: &'static str,
) -> Result<Vec<RelayStatus>, DirectoryError> {
    check_sorted(relays.iter().map(WireStatus::identity), document)?;
    relays
        .iter()
        .map(|w| RelayStatus::from_wire(w, document))
        .collect()
}

/// Checks that identities are strictly increasing.
fn check_sorted<'a>(
    ids: impl Iterator<Item = &'a [u8; 32]>,
    document: &'static str,
) -> Result<(), DirectoryError> {
    let ids: Vec<_> = ids.collect();
    wire::check_strictly_increasing(
        &ids,
        document,
        "the relays are not sorted by identity, or a relay is listed twice",
    )
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn flags() {
        assert_eq!(Flags::ALL.bits(), 0x3f);
        let f: Flags = "running,fast,guard".parse().unwrap();
        assert_eq!(f, Flags::RUNNING | Flags::FAST | Flags::GUARD);
        assert_eq!(f.to_string(), "running,fast,guard");
        assert_eq!(Flags::from_bits(0x40), None);
    }
}
