//! The text form of exit policies, for configuration files (docs/spec.md
//! §12.3): `accept 127.0.0.0/8:1-65535, reject *:25`.
//!
//! Each error names the token that is wrong and what was expected there.

use core::fmt;
use core::str::FromStr;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::{AddrPattern, ExitAction, ExitPolicy, ExitRule, PortRange};
use crate::DirectoryError;

/// A syntax error in `rule` at `token`.
fn syntax(rule: &str, token: &str, expected: &'static str) -> DirectoryError {
    DirectoryError::ExitPolicySyntax {
        rule: rule.to_string(),
        token: token.to_string(),
        expected,
    }
}

impl FromStr for ExitRule {
    type Err = DirectoryError;

    /// Parses `ACTION ADDR:PORTS`: `accept` or `reject`; `*`, `a.b.c.d[/n]`
    /// or `[v6][/n]`; `*`, `p` or `lo-hi`.
    fn from_str(rule: &str) -> Result<Self, Self::Err> {
        let text = rule.trim();
        let (action, target) = text
            .split_once(char::is_whitespace)
            .ok_or_else(|| syntax(rule, text, "of the form \"accept|reject ADDRESS:PORTS\""))?;
        let action = match action {
            "accept" => ExitAction::Accept,
            "reject" => ExitAction::Reject,
            _ => return Err(syntax(rule, action, "accept or reject")),
        };
        let target = target.trim();
        let (addr, ports) =
            split_target(target).ok_or_else(|| syntax(rule, target, "an ADDRESS:PORTS target"))?;
        let parsed = Self {
            action,
            addr: parse_addr(rule, addr)?,
            ports: parse_ports(rule, ports)?,
        };
        parsed.addr.check().map_err(|_| {
            syntax(
                rule,
                addr,
                "a network address (no bit may be set after the prefix)",
            )
        })?;
        Ok(parsed)
    }
}

/// Splits `ADDR:PORTS`, minding the colons of a bracketed IPv6 address.
fn split_target(target: &str) -> Option<(&str, &str)> {
    if target.starts_with('[') {
        let close = target.find(']')?;
        let (prefix, ports) = target.get(close + 1..)?.rsplit_once(':')?;
        Some((target.get(..close + 1 + prefix.len())?, ports))
    } else {
        target.rsplit_once(':')
    }
}

fn parse_addr(rule: &str, text: &str) -> Result<AddrPattern, DirectoryError> {
    if text == "*" {
        return Ok(AddrPattern::Any);
    }
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let prefix = |max: u8| match prefix {
        None => Ok(max),
        Some(p) => p
            .parse::<u8>()
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| syntax(rule, p, "a prefix length (0-32 for IPv4, 0-128 for IPv6)")),
    };
    if let Some(inner) = addr.strip_prefix('[').and_then(|a| a.strip_suffix(']')) {
        let ip: Ipv6Addr = inner
            .parse()
            .map_err(|_| syntax(rule, inner, "an IPv6 address"))?;
        return Ok(AddrPattern::V6 {
            addr: ip,
            prefix: prefix(128)?,
        });
    }
    let ip: Ipv4Addr = addr
        .parse()
        .map_err(|_| syntax(rule, addr, "*, an IPv4 address or a bracketed IPv6 address"))?;
    Ok(AddrPattern::V4 {
        addr: ip,
        prefix: prefix(32)?,
    })
}

fn parse_ports(rule: &str, text: &str) -> Result<PortRange, DirectoryError> {
    if text == "*" {
        return Ok(PortRange::ALL);
    }
    let port = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| syntax(rule, p, "a port number from 1 to 65535"))
    };
    let (lo, hi) = match text.split_once('-') {
        Some((lo, hi)) => (port(lo)?, port(hi)?),
        None => {
            let p = port(text)?;
            (p, p)
        }
    };
    PortRange::new(lo, hi)
        .ok_or_else(|| syntax(rule, text, "a port range whose start is not after its end"))
}

impl FromStr for ExitPolicy {
    type Err = DirectoryError;

    /// Parses rules separated by commas or newlines; empty entries are
    /// skipped, so the empty string is the reject-all policy.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rules = s
            .split([',', '\n'])
            .filter(|r| !r.trim().is_empty())
            .map(|r| r.trim().parse())
            .collect::<Result<Vec<ExitRule>, _>>()?;
        Self::new(rules)
    }
}

impl fmt::Display for AddrPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Any => f.write_str("*"),
            Self::V4 { addr, prefix: 32 } => write!(f, "{addr}"),
            Self::V4 { addr, prefix } => write!(f, "{addr}/{prefix}"),
            Self::V6 { addr, prefix: 128 } => write!(f, "[{addr}]"),
            Self::V6 { addr, prefix } => write!(f, "[{addr}]/{prefix}"),
        }
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Self::ALL {
            f.write_str("*")
        } else if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

impl fmt::Display for ExitRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let action = match self.action {
            ExitAction::Accept => "accept",
            ExitAction::Reject => "reject",
        };
        write!(f, "{action} {}:{}", self.addr, self.ports)
    }
}

impl fmt::Display for ExitPolicy {
    /// The rules separated by ", "; the reject-all policy prints as the
    /// empty string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rules: Vec<String> = self.rules.iter().map(ToString::to_string).collect();
        f.write_str(&rules.join(", "))
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn err(text: &str) -> (String, &'static str) {
        match text.parse::<ExitPolicy>() {
            Err(DirectoryError::ExitPolicySyntax {
                token, expected, ..
            }) => (token, expected),
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn parses_and_prints() {
        let text = "accept 127.0.0.0/8:*, reject *:25, accept [2001:db8::]/32:443, \
                    accept 192.0.2.1:80, accept [::1]:*, reject *:*";
        let p: ExitPolicy = text.parse().unwrap();
        assert_eq!(p.rules().len(), 6);
        assert_eq!(p.to_string(), text);
        let all: ExitPolicy = "accept 127.0.0.0/8:1-65535".parse().unwrap();
        assert_eq!(all.rules()[0], p.rules()[0]);
        let lines: ExitPolicy = "accept *:80\n\nreject *:*\n".parse().unwrap();
        assert_eq!(lines.to_string(), "accept *:80, reject *:*");
        assert_eq!("".parse::<ExitPolicy>().unwrap(), ExitPolicy::reject_all());
        assert_eq!(ExitPolicy::reject_all().to_string(), "");
    }

    #[test]
    fn errors_name_the_bad_token() {
        assert_eq!(err("acept *:80"), ("acept".into(), "accept or reject"));
        assert_eq!(
            err("accept"),
            (
                "accept".into(),
                "of the form \"accept|reject ADDRESS:PORTS\""
            )
        );
        assert_eq!(err("accept *"), ("*".into(), "an ADDRESS:PORTS target"));
        assert_eq!(err("accept 300.0.0.1:80").0, "300.0.0.1");
        assert_eq!(err("accept 10.0.0.0/33:80").0, "33");
        assert_eq!(err("accept [2001:db8::]/129:80").0, "129");
        assert_eq!(err("accept [2001:zz::]:80").0, "2001:zz::");
        assert_eq!(
            err("accept *:0"),
            ("0".into(), "a port number from 1 to 65535")
        );
        assert_eq!(err("accept *:80-70").0, "80-70");
        assert_eq!(err("accept *:http").0, "http");
        let (token, expected) = err("accept 10.0.0.1/8:80");
        assert_eq!(token, "10.0.0.1/8");
        assert!(expected.contains("after the prefix"));
        let e = "reject *:25, accept *:htp"
            .parse::<ExitPolicy>()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad exit policy rule \"accept *:htp\": \"htp\" is not a port number from 1 to 65535"
        );
    }
}
