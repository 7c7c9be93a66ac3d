//! Path selection (docs/spec.md §14.1): which relays a client puts in a
//! circuit. Bandwidth-weighted, never two relays of one family or one /16,
//! exits chosen by the port the stream needs.
//!
//! Pure: the consensus and the randomness are arguments, so the simulator
//! picks paths with this very code.

use std::net::IpAddr;

use rand_core::Rng;
use warren_crypto::RelayIdentity;

use crate::status::{Flags, RelayStatus};
use crate::{Consensus, Roles};

/// Which position a relay is chosen for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// The first hop.
    Guard,
    /// A hop between the first and the last.
    Middle,
    /// The last hop, opening streams to the Internet.
    Exit,
}

/// The network a relay address belongs to for the distinct-subnet rule:
/// its /16 (IPv4) or /32 (IPv6). Loopback addresses count as one host each,
/// since test networks run many relays on 127.0.0.0/8 (§14.1).
fn subnet(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(v4) if v4.is_loopback() => (false, u128::from(u32::from(v4))),
        IpAddr::V4(v4) => (false, u128::from(u32::from(v4) >> 16)),
        IpAddr::V6(v6) if v6.is_loopback() => (true, u128::from(v6)),
        IpAddr::V6(v6) => (true, u128::from(v6) >> 96),
    }
}

/// The IP addresses in a relay's multiaddrs (`/ip4/A/...`, `/ip6/A/...`).
pub fn relay_ips(status: &RelayStatus) -> impl Iterator<Item = IpAddr> + '_ {
    status.info.addresses.iter().filter_map(|a| {
        let mut parts = a.split('/').skip(1);
        match (parts.next(), parts.next()) {
            (Some("ip4" | "ip6"), Some(ip)) => ip.parse().ok(),
            _ => None,
        }
    })
}

/// Whether `a` and `b` may share a circuit: distinct identities, neither
/// declares the other its family, and no address of one shares a subnet
/// with an address of the other (§14.1).
pub fn compatible(a: &RelayStatus, b: &RelayStatus) -> bool {
    if a.identity == b.identity
        || a.info.family.contains(&b.identity)
        || b.info.family.contains(&a.identity)
    {
        return false;
    }
    !relay_ips(a).any(|x| relay_ips(b).any(|y| subnet(x) == subnet(y)))
}

/// Whether `status` may hold `position` at all, whatever the rest of the
/// path: Running, offering the role, and for a guard the Guard flag.
pub fn suitable(status: &RelayStatus, position: Position) -> bool {
    if !status.flags.contains(Flags::RUNNING) {
        return false;
    }
    match position {
        Position::Guard => {
            status.flags.contains(Flags::GUARD) && status.info.roles.contains(Roles::GUARD)
        }
        Position::Middle => status.info.roles.contains(Roles::MIDDLE),
        Position::Exit => status.info.roles.contains(Roles::EXIT),
    }
}

/// Picks one of `candidates` with probability proportional to its
/// bandwidth (a relay at 0 bytes/s counts as 1, so that none is never
/// chosen when all are at 0).
pub fn weighted_pick<'a, R: Rng + ?Sized>(
    candidates: &[&'a RelayStatus],
    rng: &mut R,
) -> Option<&'a RelayStatus> {
    let weight = |s: &RelayStatus| u128::from(s.bandwidth.max(1));
    let total: u128 = candidates.iter().map(|s| weight(s)).sum();
    if total == 0 {
        return None;
    }
    // Two draws make 128 uniform bits; the modulo bias is below 2^-64.
    let r = ((u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64())) % total;
    let mut acc = 0u128;
    for s in candidates {
        acc += weight(s);
        if r < acc {
            return Some(s);
        }
    }
    candidates.last().copied()
}

/// The exits for a stream to `port`: relays offering the exit role whose
/// policy summary opens the port; when none does, every relay offering the
/// role (their policies may open the port to narrower address ranges, which
/// the summary leaves out; a refusal sends the client to the next one).
pub fn exit_candidates(consensus: &Consensus, port: u16) -> Vec<&RelayStatus> {
    let exits: Vec<&RelayStatus> = consensus
        .relays()
        .iter()
        .filter(|s| suitable(s, Position::Exit))
        .collect();
    let open: Vec<&RelayStatus> = exits
        .iter()
        .copied()
        .filter(|s| s.info.exit_summary.allows_port(port))
        .collect();
    if open.is_empty() { exits } else { open }
}

/// Picks a relay for `position` among `candidates`, compatible with every
/// relay of `others` and not in `exclude`, weighted by bandwidth.
pub fn pick<'a, R: Rng + ?Sized>(
    candidates: impl IntoIterator<Item = &'a RelayStatus>,
    others: &[&RelayStatus],
    exclude: &[RelayIdentity],
    rng: &mut R,
) -> Option<&'a RelayStatus> {
    let usable: Vec<&RelayStatus> = candidates
        .into_iter()
        .filter(|s| !exclude.contains(&s.identity) && others.iter().all(|o| compatible(s, o)))
        .collect();
    weighted_pick(&usable, rng)
}

/// Picks a middle relay compatible with `others`.
pub fn pick_middle<'a, R: Rng + ?Sized>(
    consensus: &'a Consensus,
    others: &[&RelayStatus],
    rng: &mut R,
) -> Option<&'a RelayStatus> {
    pick(
        consensus
            .relays()
            .iter()
            .filter(|s| suitable(s, Position::Middle)),
        others,
        &[],
        rng,
    )
}

/// Who chose the last hop of a circuit that ends at a given relay, which
/// sets how many middles the circuit takes (§14.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastHop {
    /// This end: its own intro point or rendezvous point. One middle.
    Ours,
    /// The other end or the HSDir ring: a rendezvous point named in an
    /// introduction, an intro point named in a descriptor, an HSDir. Two
    /// middles, so that a relay someone else picked is never next to this
    /// end's first middle.
    Theirs,
}

impl LastHop {
    /// Middle relays between the guard and the last hop.
    pub fn middles(self) -> usize {
        match self {
            Self::Ours => 1,
            Self::Theirs => 2,
        }
    }
}

/// The middles of a circuit from `guard` to `last` (§14.1), in path order:
/// as many as `chosen` asks for, each compatible with every relay already
/// in the path, the last hop included. `None` when the consensus has too
/// few compatible middles.
pub fn middles_to<'a, R: Rng + ?Sized>(
    consensus: &'a Consensus,
    guard: &RelayStatus,
    last: &RelayStatus,
    chosen: LastHop,
    rng: &mut R,
) -> Option<Vec<&'a RelayStatus>> {
    let mut middles: Vec<&RelayStatus> = Vec::with_capacity(chosen.middles());
    for _ in 0..chosen.middles() {
        let mut others = vec![guard, last];
        others.extend(middles.iter().copied());
        middles.push(pick_middle(consensus, &others, rng)?);
    }
    Some(middles)
}

#[cfg(test)]
mod test;
