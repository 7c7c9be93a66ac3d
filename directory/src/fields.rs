//! Limits and checks on the descriptor fields that votes and the consensus
//! repeat (docs/spec.md §12.2): listen addresses, family, software version.

use std::collections::BTreeSet;

use warren_crypto::RelayIdentity;

use crate::DirectoryError;

/// The most listen addresses a relay may publish.
pub const MAX_ADDRESSES: usize = 8;
/// The longest listen address, in bytes.
pub const MAX_ADDRESS_LEN: usize = 128;
/// The most family members a relay may declare.
pub const MAX_FAMILY: usize = 32;
/// The longest software version string, in bytes.
pub const MAX_SOFTWARE_LEN: usize = 64;

/// Checks one listen address: the text form of a libp2p multiaddr, so
/// `/`-separated non-empty components of visible ASCII, at most
/// [`MAX_ADDRESS_LEN`] bytes.
fn check_address(addr: &str) -> Result<(), &'static str> {
    if addr.len() > MAX_ADDRESS_LEN {
        return Err("longer than 128 bytes");
    }
    let Some(rest) = addr.strip_prefix('/') else {
        return Err("a multiaddr starts with '/'");
    };
    if !addr.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("only visible ASCII characters are allowed");
    }
    if rest.split('/').any(str::is_empty) {
        return Err("a multiaddr has no empty components");
    }
    Ok(())
}

/// Checks the listen addresses: at most [`MAX_ADDRESSES`], each valid, none
/// twice. Their order is the relay's order of preference and is kept.
pub(crate) fn check_addresses<S: AsRef<str>>(
    addresses: &[S],
    document: &'static str,
) -> Result<(), DirectoryError> {
    if addresses.len() > MAX_ADDRESSES {
        return Err(DirectoryError::TooMany {
            document,
            item: "listen addresses",
            count: addresses.len(),
            max: MAX_ADDRESSES,
        });
    }
    let mut seen = BTreeSet::new();
    for addr in addresses {
        let addr = addr.as_ref();
        check_address(addr).map_err(|why| {
            DirectoryError::field(document, "listen addresses", format!("{addr:?}: {why}"))
        })?;
        if !seen.insert(addr) {
            return Err(DirectoryError::field(
                document,
                "listen addresses",
                format!("{addr:?} is listed twice"),
            ));
        }
    }
    Ok(())
}

/// Checks a family: at most [`MAX_FAMILY`] members, not the relay itself.
pub(crate) fn check_family(
    identity: &RelayIdentity,
    family: &BTreeSet<RelayIdentity>,
    document: &'static str,
) -> Result<(), DirectoryError> {
    if family.len() > MAX_FAMILY {
        return Err(DirectoryError::TooMany {
            document,
            item: "family members",
            count: family.len(),
            max: MAX_FAMILY,
        });
    }
    if family.contains(identity) {
        return Err(DirectoryError::field(
            document,
            "family",
            "a relay does not list itself in its own family",
        ));
    }
    Ok(())
}

/// Checks the software version: at most [`MAX_SOFTWARE_LEN`] bytes of
/// printable ASCII (spaces allowed).
pub(crate) fn check_software(software: &str, document: &'static str) -> Result<(), DirectoryError> {
    if software.len() > MAX_SOFTWARE_LEN {
        return Err(DirectoryError::field(
            document,
            "software version",
            format!("{} bytes, at most 64 allowed", software.len()),
        ));
    }
    if !software.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        return Err(DirectoryError::field(
            document,
            "software version",
            "only printable ASCII is allowed",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn addresses() {
        check_addresses(
            &[
                "/ip4/192.0.2.1/tcp/9001",
                "/dns/relay.example/udp/443/quic-v1",
            ],
            "d",
        )
        .unwrap();
        for bad in [
            "ip4/1.2.3.4",
            "/ip4//tcp/1",
            "/ip4/1.2.3.4/",
            "/ip4/a b",
            "/",
        ] {
            assert!(check_addresses(&[bad], "d").is_err(), "{bad}");
        }
        let long = format!("/{}", "a".repeat(128));
        assert!(check_addresses(&[long], "d").is_err());
        let dup = check_addresses(&["/ip4/1.2.3.4", "/ip4/1.2.3.4"], "d").unwrap_err();
        assert!(dup.to_string().contains("listed twice"), "{dup}");
        let many: Vec<String> = (0..9).map(|i| format!("/ip4/10.0.0.{i}")).collect();
        assert!(matches!(
            check_addresses(&many, "d"),
            Err(DirectoryError::TooMany {
                count: 9,
                max: 8,
                ..
            })
        ));
    }

    #[test]
    fn software() {
        check_software("warren 0.1.0", "d").unwrap();
        assert!(check_software("bad\nline", "d").is_err());
        assert!(check_software(&"x".repeat(65), "d").is_err());
    }
}
