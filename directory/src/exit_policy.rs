//! Exit policies (docs/spec.md §12.3): an ordered list of accept and reject
//! rules on an address prefix and a port range; the first rule that matches
//! decides, and a connection no rule matches is rejected.
//!
//! The text form (`accept 127.0.0.0/8:1-65535, reject *:25`) is in
//! `exit_policy/text.rs`; the per-family port summary that votes and the
//! consensus carry is in [`summary`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::DirectoryError;

pub mod summary;
mod text;

pub use summary::{ExitSummary, PortSet};

/// The most rules one exit policy may hold (§12.3).
pub const MAX_RULES: usize = 128;

/// What a rule does to the connections it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitAction {
    /// Allow the connection.
    Accept,
    /// Refuse the connection.
    Reject,
}

/// The addresses a rule applies to (§12.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddrPattern {
    /// Every IPv4 and IPv6 address (`*`).
    Any,
    /// The IPv4 addresses whose first `prefix` bits equal `addr`'s.
    V4 {
        /// The network address: no bit set after the prefix.
        addr: Ipv4Addr,
        /// The prefix length, 0 to 32.
        prefix: u8,
    },
    /// The IPv6 addresses whose first `prefix` bits equal `addr`'s.
    V6 {
        /// The network address: no bit set after the prefix.
        addr: Ipv6Addr,
        /// The prefix length, 0 to 128.
        prefix: u8,
    },
}

/// The mask of the first `prefix` bits of a `BITS`-bit address.
fn mask(prefix: u8, bits: u32) -> u128 {
    let prefix = u32::from(prefix).min(bits);
    let all = u128::MAX >> (128 - bits);
    all.checked_shl(bits - prefix).map_or(0, |m| m & all)
}

impl AddrPattern {
    /// Whether `ip` is one of the addresses.
    pub fn matches(&self, ip: IpAddr) -> bool {
        match (*self, ip) {
            (Self::Any, _) => true,
            (Self::V4 { addr, prefix }, IpAddr::V4(ip)) => {
                let m = mask(prefix, 32);
                u128::from(u32::from(ip)) & m == u128::from(u32::from(addr))
            }
            (Self::V6 { addr, prefix }, IpAddr::V6(ip)) => {
                u128::from(ip) & mask(prefix, 128) == u128::from(addr)
            }
            _ => false,
        }
    }

    /// Whether the pattern covers the whole address space of one family:
    /// `*`, `0.0.0.0/0` for IPv4, `[::]/0` for IPv6 (§12.3 summary rule).
    pub(crate) fn covers_family(&self, ipv6: bool) -> bool {
        match *self {
            Self::Any => true,
            Self::V4 { prefix, .. } => !ipv6 && prefix == 0,
            Self::V6 { prefix, .. } => ipv6 && prefix == 0,
        }
    }

    /// Checks the prefix length and that no bit is set after the prefix, so
    /// that each set of addresses has one form.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        let (value, prefix, bits) = match *self {
            Self::Any => return Ok(()),
            Self::V4 { addr, prefix } => (u128::from(u32::from(addr)), prefix, 32),
            Self::V6 { addr, prefix } => (u128::from(addr), prefix, 128),
        };
        if u32::from(prefix) > bits {
            return Err("the prefix length is longer than the address");
        }
        if value & !mask(prefix, bits) != 0 {
            return Err("the address has bits set after the prefix");
        }
        Ok(())
    }
}

/// An inclusive range of TCP ports `lo..=hi`, with `1 <= lo <= hi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    lo: u16,
    hi: u16,
}

impl PortRange {
    /// Every port, 1 to 65535 (written `*`).
    pub const ALL: Self = Self { lo: 1, hi: 65535 };

    /// The ports `lo..=hi`, or `None` unless `1 <= lo <= hi`.
    pub const fn new(lo: u16, hi: u16) -> Option<Self> {
        if lo >= 1 && lo <= hi {
            Some(Self { lo, hi })
        } else {
            None
        }
    }

    /// The first port of the range.
    pub const fn lo(&self) -> u16 {
        self.lo
    }

    /// The last port of the range.
    pub const fn hi(&self) -> u16 {
        self.hi
    }

    /// Whether `port` is in the range.
    pub const fn contains(&self, port: u16) -> bool {
        self.lo <= port && port <= self.hi
    }
}

/// One rule: `action` for connections to `addr` on `ports`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExitRule {
    /// Accept or reject.
    pub action: ExitAction,
    /// The destination addresses.
    pub addr: AddrPattern,
    /// The destination ports.
    pub ports: PortRange,
}

impl ExitRule {
    /// Whether the rule applies to a connection to `ip` on `port`.
    pub fn matches(&self, ip: IpAddr, port: u16) -> bool {
        self.ports.contains(port) && self.addr.matches(ip)
    }
}

/// An exit policy: rules in order, the first match decides, and anything
/// unmatched is rejected (§12.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ExitPolicy {
    rules: Vec<ExitRule>,
}

/// Object name in errors.
const POLICY: &str = "exit policy";

impl ExitPolicy {
    /// The policy of a relay that is not an exit: no rules, reject all.
    pub fn reject_all() -> Self {
        Self::default()
    }

    /// A policy of `rules`, in order: at most [`MAX_RULES`], each address
    /// pattern in its one canonical form.
    pub fn new(rules: Vec<ExitRule>) -> Result<Self, DirectoryError> {
        if rules.len() > MAX_RULES {
            return Err(DirectoryError::TooMany {
                document: POLICY,
                item: "rules",
                count: rules.len(),
                max: MAX_RULES,
            });
        }
        for rule in &rules {
            rule.addr
                .check()
                .map_err(|reason| DirectoryError::field(POLICY, "address pattern", reason))?;
        }
        Ok(Self { rules })
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[ExitRule] {
        &self.rules
    }

    /// Whether the policy allows a connection to `ip` on `port`.
    pub fn allows(&self, ip: IpAddr, port: u16) -> bool {
        self.rules
            .iter()
            .find(|r| r.matches(ip, port))
            .is_some_and(|r| r.action == ExitAction::Accept)
    }

    /// The ports this policy opens to the generic address of each family
    /// (§12.3): what votes and the consensus carry.
    pub fn summary(&self) -> ExitSummary {
        ExitSummary::of(self)
    }
}

/// The wire form of an address pattern (§12.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum WireAddr {
    /// Tag 0: `*`.
    Any,
    /// Tag 1: an IPv4 network and prefix length.
    V4([u8; 4], u8),
    /// Tag 2: an IPv6 network and prefix length.
    V6([u8; 16], u8),
}

/// The wire form of a rule (§12.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WireRule {
    accept: bool,
    addr: WireAddr,
    lo: u16,
    hi: u16,
}

impl ExitPolicy {
    /// The wire form of the rules.
    pub(crate) fn to_wire(&self) -> Vec<WireRule> {
        self.rules.iter().map(rule_to_wire).collect()
    }

    /// The policy from its wire form, checked as [`ExitPolicy::new`] does.
    pub(crate) fn from_wire(
        rules: &[WireRule],
        document: &'static str,
    ) -> Result<Self, DirectoryError> {
        if rules.len() > MAX_RULES {
            return Err(DirectoryError::TooMany {
                document,
                item: "exit policy rules",
                count: rules.len(),
                max: MAX_RULES,
            });
        }
        let rules = rules
            .iter()
            .map(|w| rule_from_wire(w, document))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(rules).map_err(|_| DirectoryError::NonCanonical {
            document,
            reason: "an exit policy address has bits set after its prefix",
        })
    }
}

fn rule_to_wire(rule: &ExitRule) -> WireRule {
    let addr = match rule.addr {
        AddrPattern::Any => WireAddr::Any,
        AddrPattern::V4 { addr, prefix } => WireAddr::V4(addr.octets(), prefix),
        AddrPattern::V6 { addr, prefix } => WireAddr::V6(addr.octets(), prefix),
    };
    WireRule {
        accept: rule.action == ExitAction::Accept,
        addr,
        lo: rule.ports.lo,
        hi: rule.ports.hi,
    }
}

fn rule_from_wire(w: &WireRule, document: &'static str) -> Result<ExitRule, DirectoryError> {
    let addr = match w.addr {
        WireAddr::Any => AddrPattern::Any,
        WireAddr::V4(a, prefix) => AddrPattern::V4 {
            addr: a.into(),
            prefix,
        },
        WireAddr::V6(a, prefix) => AddrPattern::V6 {
            addr: a.into(),
            prefix,
        },
    };
    addr.check()
        .map_err(|reason| DirectoryError::field(document, "exit policy", reason))?;
    let ports = PortRange::new(w.lo, w.hi).ok_or_else(|| {
        DirectoryError::field(
            document,
            "exit policy",
            format!("port range {}-{} is empty or starts at 0", w.lo, w.hi),
        )
    })?;
    let action = if w.accept {
        ExitAction::Accept
    } else {
        ExitAction::Reject
    };
    Ok(ExitRule {
        action,
        addr,
        ports,
    })
}

#[cfg(test)]
pub(crate) mod test {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn first_match_decides_and_default_rejects() {
        let p: ExitPolicy = "reject 10.0.0.0/8:*, accept *:80, accept *:443, reject *:*"
            .parse()
            .unwrap();
        assert!(p.allows(ip("192.0.2.1"), 80));
        assert!(p.allows(ip("2001:db8::1"), 443));
        assert!(!p.allows(ip("10.1.2.3"), 80));
        assert!(!p.allows(ip("192.0.2.1"), 22));
        assert!(!ExitPolicy::reject_all().allows(ip("192.0.2.1"), 80));
        let only: ExitPolicy = "accept 127.0.0.0/8:1-65535".parse().unwrap();
        assert!(only.allows(ip("127.0.0.1"), 8080));
        assert!(!only.allows(ip("128.0.0.1"), 8080));
        assert!(!only.allows(ip("::1"), 8080));
    }

    #[test]
    fn prefixes_match_by_bits() {
        let v6 = AddrPattern::V6 {
            addr: "2001:db8::".parse().unwrap(),
            prefix: 32,
        };
        assert!(v6.matches(ip("2001:db8:ffff::1")));
        assert!(!v6.matches(ip("2001:db9::1")));
        assert!(!v6.matches(ip("192.0.2.1")));
        let all4 = AddrPattern::V4 {
            addr: Ipv4Addr::UNSPECIFIED,
            prefix: 0,
        };
        assert!(all4.matches(ip("255.255.255.255")));
        let host = AddrPattern::V4 {
            addr: Ipv4Addr::new(192, 0, 2, 7),
            prefix: 32,
        };
        assert!(host.matches(ip("192.0.2.7")) && !host.matches(ip("192.0.2.6")));
        assert_eq!(
            AddrPattern::V4 {
                addr: Ipv4Addr::new(10, 0, 0, 1),
                prefix: 8
            }
            .check(),
            Err("the address has bits set after the prefix")
        );
        assert!(
            AddrPattern::V4 {
                addr: Ipv4Addr::UNSPECIFIED,
                prefix: 33
            }
            .check()
            .is_err()
        );
    }

    #[test]
    fn limits_and_ranges() {
        assert_eq!(PortRange::new(0, 5), None);
        assert_eq!(PortRange::new(6, 5), None);
        let rule = ExitRule {
            action: ExitAction::Accept,
            addr: AddrPattern::Any,
            ports: PortRange::ALL,
        };
        assert!(ExitPolicy::new(vec![rule; MAX_RULES]).is_ok());
        assert!(matches!(
            ExitPolicy::new(vec![rule; MAX_RULES + 1]),
            Err(DirectoryError::TooMany { count: 129, .. })
        ));
    }

    fn arb_rule() -> impl Strategy<Value = ExitRule> {
        let addr = prop_oneof![
            Just(AddrPattern::Any),
            (any::<u32>(), 0u8..=32).prop_map(|(a, p)| AddrPattern::V4 {
                addr: Ipv4Addr::from(u128::from(a) as u32 & mask(p, 32) as u32),
                prefix: p
            }),
            (any::<u128>(), 0u8..=128).prop_map(|(a, p)| AddrPattern::V6 {
                addr: Ipv6Addr::from(a & mask(p, 128)),
                prefix: p
            }),
        ];
        (any::<bool>(), addr, 1u16.., any::<u16>()).prop_map(|(acc, addr, lo, span)| ExitRule {
            action: if acc {
                ExitAction::Accept
            } else {
                ExitAction::Reject
            },
            addr,
            ports: PortRange::new(lo, lo.saturating_add(span % 2000)).unwrap(),
        })
    }

    pub(crate) fn arb_policy() -> impl Strategy<Value = ExitPolicy> {
        proptest::collection::vec(arb_rule(), 0..6).prop_map(|r| ExitPolicy::new(r).unwrap())
    }

    proptest! {
        #[test]
        fn text_round_trips(p in arb_policy()) {
            let text = p.to_string();
            prop_assert_eq!(text.parse::<ExitPolicy>().unwrap(), p);
        }

        #[test]
        fn wire_round_trips(p in arb_policy()) {
            prop_assert_eq!(ExitPolicy::from_wire(&p.to_wire(), "test").unwrap(), p);
        }

        #[test]
        fn arbitrary_text_never_panics(s in ".{0,80}") {
            let _ = s.parse::<ExitPolicy>();
        }
    }
}
