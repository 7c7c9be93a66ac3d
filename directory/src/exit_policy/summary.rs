//! Exit-policy summaries (docs/spec.md §12.3): for each address family, the
//! ports a policy opens to a *generic* address, one that no rule narrower
//! than the whole family mentions. Votes and the consensus carry the summary
//! instead of the policy, as Tor's `p` and `p6` lines do.
//!
//! The summary is advisory. A client uses it to pick an exit that probably
//! allows its port; the exit applies its full policy to every BEGIN.

use super::{ExitAction, ExitPolicy, PortRange};
use crate::DirectoryError;

/// The most ranges one summary may hold (§12.3). A policy of at most
/// [`MAX_RULES`](super::MAX_RULES) rules has far fewer.
pub const MAX_RANGES: usize = 256;

/// A set of ports in canonical form: ranges in increasing order, neither
/// overlapping nor adjacent.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortSet {
    ranges: Vec<PortRange>,
}

impl PortSet {
    /// The empty set.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The set of `ranges`, or `None` unless they are in canonical form.
    pub fn from_ranges(ranges: Vec<PortRange>) -> Option<Self> {
        let canonical = ranges
            .windows(2)
            .all(|w| matches!(w, [a, b] if u32::from(a.hi()) + 1 < u32::from(b.lo())));
        canonical.then_some(Self { ranges })
    }

    /// The ranges, in increasing order.
    pub fn ranges(&self) -> &[PortRange] {
        &self.ranges
    }

    /// Whether `port` is in the set.
    pub fn contains(&self, port: u16) -> bool {
        let i = self.ranges.partition_point(|r| r.hi() < port);
        self.ranges.get(i).is_some_and(|r| r.contains(port))
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The wire form: `(lo, hi)` pairs.
    pub(crate) fn to_wire(&self) -> Vec<(u16, u16)> {
        self.ranges.iter().map(|r| (r.lo(), r.hi())).collect()
    }

    /// The set from its wire form; refuses a non-canonical one.
    pub(crate) fn from_wire(
        pairs: &[(u16, u16)],
        document: &'static str,
    ) -> Result<Self, DirectoryError> {
        if pairs.len() > MAX_RANGES {
            return Err(DirectoryError::TooMany {
                document,
                item: "exit summary port ranges",
                count: pairs.len(),
                max: MAX_RANGES,
            });
        }
        let ranges = pairs
            .iter()
            .map(|&(lo, hi)| PortRange::new(lo, hi))
            .collect::<Option<Vec<_>>>();
        ranges
            .and_then(Self::from_ranges)
            .ok_or(DirectoryError::NonCanonical {
                document,
                reason: "the exit summary's port ranges are empty, unsorted, overlapping \
                         or adjacent",
            })
    }
}

/// The ports an exit policy opens to the generic IPv4 and IPv6 address.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExitSummary {
    /// Ports open to a generic IPv4 address.
    pub ipv4: PortSet,
    /// Ports open to a generic IPv6 address.
    pub ipv6: PortSet,
}

impl ExitSummary {
    /// The summary of `policy` (§12.3).
    pub fn of(policy: &ExitPolicy) -> Self {
        Self {
            ipv4: family_summary(policy, false),
            ipv6: family_summary(policy, true),
        }
    }

    /// Whether some port is open in either family: the exit rule of the
    /// Exit flag (§12.5).
    pub fn allows_any(&self) -> bool {
        !self.ipv4.is_empty() || !self.ipv6.is_empty()
    }

    /// Whether `port` is open in either family.
    pub fn allows_port(&self, port: u16) -> bool {
        self.ipv4.contains(port) || self.ipv6.contains(port)
    }
}

/// The ports open to a generic address of one family: the first rule that
/// covers the whole family and matches the port decides; narrower rules are
/// ignored; no match is a reject.
fn family_summary(policy: &ExitPolicy, ipv6: bool) -> PortSet {
    let rules: Vec<_> = policy
        .rules()
        .iter()
        .filter(|r| r.addr.covers_family(ipv6))
        .collect();
    // Every port of one segment between breakpoints gets the same answer.
    let mut cuts: Vec<u32> = vec![1, 65536];
    for r in &rules {
        cuts.push(u32::from(r.ports.lo()));
        cuts.push(u32::from(r.ports.hi()) + 1);
    }
    cuts.sort_unstable();
    cuts.dedup();
    let mut ranges: Vec<PortRange> = Vec::new();
    for w in cuts.windows(2) {
        let [start, next] = *w else { continue };
        let (Ok(lo), Ok(hi)) = (u16::try_from(start), u16::try_from(next - 1)) else {
            continue;
        };
        let accept = rules
            .iter()
            .find(|r| r.ports.contains(lo))
            .is_some_and(|r| r.action == ExitAction::Accept);
        if accept {
            push_merged(&mut ranges, lo, hi);
        }
    }
    PortSet { ranges }
}

/// Appends `lo..=hi`, merging it with the last range when adjacent.
fn push_merged(ranges: &mut Vec<PortRange>, lo: u16, hi: u16) {
    if let Some(last) = ranges.last_mut()
        && u32::from(last.hi()) + 1 == u32::from(lo)
        && let Some(merged) = PortRange::new(last.lo(), hi)
    {
        *last = merged;
        return;
    }
    if let Some(r) = PortRange::new(lo, hi) {
        ranges.push(r);
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use proptest::prelude::*;
    use std::net::IpAddr;

    fn summary(text: &str) -> ExitSummary {
        text.parse::<ExitPolicy>().unwrap().summary()
    }

    fn ports(set: &PortSet) -> Vec<(u16, u16)> {
        set.to_wire()
    }

    #[test]
    fn summaries() {
        let s = summary("reject 10.0.0.0/8:*, accept *:80, accept *:443, accept *:81, reject *:*");
        assert_eq!(ports(&s.ipv4), [(80, 81), (443, 443)]);
        assert_eq!(s.ipv4, s.ipv6);
        assert!(s.allows_any() && s.allows_port(443) && !s.allows_port(444));
        let s = summary("reject *:25, accept 0.0.0.0/0:*");
        assert_eq!(ports(&s.ipv4), [(1, 24), (26, 65535)]);
        assert!(s.ipv6.is_empty());
        // Narrow accepts open nothing generally.
        let s = summary("accept 127.0.0.0/8:1-65535");
        assert!(!s.allows_any());
        assert_eq!(ExitPolicy::reject_all().summary(), ExitSummary::default());
        let s = summary("accept [::]/0:443, reject *:*");
        assert!(s.ipv4.is_empty());
        assert_eq!(ports(&s.ipv6), [(443, 443)]);
    }

    #[test]
    fn canonical_port_sets() {
        let r = |lo, hi| PortRange::new(lo, hi).unwrap();
        assert!(PortSet::from_ranges(vec![r(1, 5), r(7, 9)]).is_some());
        assert!(PortSet::from_ranges(vec![r(1, 5), r(6, 9)]).is_none());
        assert!(PortSet::from_ranges(vec![r(7, 9), r(1, 5)]).is_none());
        assert!(PortSet::from_ranges(vec![r(1, 5), r(5, 9)]).is_none());
        assert!(PortSet::from_wire(&[(0, 3)], "t").is_err());
        assert!(PortSet::from_wire(&[(1, 3), (5, 65535)], "t").is_ok());
        let set = PortSet::from_wire(&[(10, 20), (30, 30)], "t").unwrap();
        assert!(set.contains(10) && set.contains(20) && set.contains(30));
        assert!(!set.contains(9) && !set.contains(21) && !set.contains(31));
    }

    proptest! {
        #[test]
        fn summary_matches_generic_addresses(p in super::super::test::arb_policy(), port in 1u16..) {
            // An address that no narrow rule of the strategy is likely to
            // mention exactly still may match one: compare only when no
            // narrow rule matches it.
            let s = p.summary();
            for (ip, set) in [("203.0.113.77", &s.ipv4), ("2001:db8:77::77", &s.ipv6)] {
                let ip: IpAddr = ip.parse().unwrap();
                let narrow_match = p.rules().iter().any(|r| {
                    !r.addr.covers_family(ip.is_ipv6()) && r.matches(ip, port)
                });
                if !narrow_match {
                    prop_assert_eq!(set.contains(port), p.allows(ip, port));
                }
            }
            prop_assert!(PortSet::from_ranges(s.ipv4.ranges().to_vec()).is_some());
        }
    }
}
