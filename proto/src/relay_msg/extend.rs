//! Circuit extension messages (docs/spec.md §8.4–§8.5): EXTEND, EXTENDED
//! and the link specifiers that say where the next hop is.

use super::{RELAY_DATA_MAX, fixed_len};
use crate::ProtoError;
use crate::codec::{Readable, Reader, Writeable, Writer, open_enum};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

/// The most link specifiers one EXTEND may carry (docs/spec.md §8.4).
pub const LINK_SPECS_MAX: usize = 8;

open_enum! {
    /// The type byte of a link specifier (docs/spec.md §8.4.1).
    pub struct LinkSpecType(u8);
    /// An IPv4 address and port, 6 bytes.
    IPV4 = 1 => "IPv4 address and port",
    /// An IPv6 address and port, 18 bytes.
    IPV6 = 2 => "IPv6 address and port",
    /// A libp2p multiaddr in its binary form, 1 to 255 bytes.
    MULTIADDR = 3 => "multiaddr",
}

/// Where to reach the next hop: `type u8 | len u8 | data` (docs/spec.md §8.4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkSpec {
    /// Type 1: `addr[4] | port u16`.
    Ipv4(SocketAddrV4),
    /// Type 2: `addr[16] | port u16`; flow info and scope id are always 0.
    Ipv6(SocketAddrV6),
    /// Type 3: an opaque binary multiaddr, 1 to 255 bytes.
    Multiaddr(Vec<u8>),
    /// A type this version does not know, kept so that it can be passed on.
    Unrecognized {
        /// The type byte, which is not one of [`LinkSpecType::ALL`].
        kind: u8,
        /// The data as it arrived.
        data: Vec<u8>,
    },
}

/// Object name of a link specifier, for errors.
const LINK_SPEC: &str = "link specifier";

impl LinkSpec {
    /// The type byte of this specifier.
    pub fn kind(&self) -> LinkSpecType {
        match self {
            Self::Ipv4(_) => LinkSpecType::IPV4,
            Self::Ipv6(_) => LinkSpecType::IPV6,
            Self::Multiaddr(_) => LinkSpecType::MULTIADDR,
            Self::Unrecognized { kind, .. } => LinkSpecType(*kind),
        }
    }

    /// Decodes the data of a specifier of type `kind`.
    fn decode(kind: LinkSpecType, data: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(data, LINK_SPEC);
        let spec = match kind {
            LinkSpecType::IPV4 => {
                fixed_len("IPv4 link specifier", data, 6)?;
                Self::Ipv4(SocketAddrV4::new(Ipv4Addr::from(r.array::<4>()?), r.u16()?))
            }
            LinkSpecType::IPV6 => {
                fixed_len("IPv6 link specifier", data, 18)?;
                let ip = Ipv6Addr::from(r.array::<16>()?);
                Self::Ipv6(SocketAddrV6::new(ip, r.u16()?, 0, 0))
            }
            LinkSpecType::MULTIADDR => {
                non_empty("multiaddr link specifier", data)?;
                Self::Multiaddr(r.take_rest().to_vec())
            }
            LinkSpecType(kind) => Self::Unrecognized {
                kind,
                data: r.take_rest().to_vec(),
            },
        };
        r.should_be_exhausted()?;
        Ok(spec)
    }

    /// Encodes the data of this specifier.
    fn encode_data(&self) -> Result<Vec<u8>, ProtoError> {
        let mut w = Writer::new();
        match self {
            Self::Ipv4(a) => {
                w.bytes(&a.ip().octets());
                w.u16(a.port());
            }
            Self::Ipv6(a) => {
                if a.flowinfo() != 0 || a.scope_id() != 0 {
                    return Err(ProtoError::Malformed {
                        object: "IPv6 link specifier",
                        reason: "flow info and scope id cannot be sent",
                    });
                }
                w.bytes(&a.ip().octets());
                w.u16(a.port());
            }
            Self::Multiaddr(m) => {
                non_empty("multiaddr link specifier", m)?;
                w.bytes(m);
            }
            Self::Unrecognized { kind, data } => {
                if LinkSpecType(*kind).is_recognized() {
                    return Err(ProtoError::Malformed {
                        object: LINK_SPEC,
                        reason: "an unrecognized link specifier uses a recognized type",
                    });
                }
                w.bytes(data);
            }
        }
        Ok(w.into_vec())
    }
}

/// Checks that `data` is not empty.
fn non_empty(object: &'static str, data: &[u8]) -> Result<(), ProtoError> {
    if data.is_empty() {
        return Err(ProtoError::Malformed {
            object,
            reason: "it must not be empty",
        });
    }
    Ok(())
}

impl Readable for LinkSpec {
    fn take_from(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        let kind = LinkSpecType(r.u8()?);
        let data = r.u8_prefixed(u8::MAX.into())?;
        Self::decode(kind, data)
    }
}

impl Writeable for LinkSpec {
    fn write_onto(&self, w: &mut Writer) -> Result<(), ProtoError> {
        w.u8(self.kind().0);
        w.u8_prefixed(LINK_SPEC, &self.encode_data()?, u8::MAX.into())
    }
}

/// EXTEND: `identity[32] | onion_key[32] | n_spec u8 | spec* | htype u16 |
/// hlen u16 | hdata` (docs/spec.md §8.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extend {
    /// The next hop's Ed25519 identity key.
    pub identity: [u8; 32],
    /// The next hop's X25519 onion key.
    pub onion_key: [u8; 32],
    /// Where to reach the next hop; at most [`LINK_SPECS_MAX`].
    pub link_specs: Vec<LinkSpec>,
    /// Which circuit handshake `handshake` belongs to.
    pub handshake_type: u16,
    /// The client's handshake message for the next hop.
    pub handshake: Vec<u8>,
}

/// Checks the link-specifier count.
fn check_spec_count(count: usize) -> Result<(), ProtoError> {
    if count > LINK_SPECS_MAX {
        return Err(ProtoError::TooMany {
            object: "EXTEND message",
            item: "link specifiers",
            count,
            max: LINK_SPECS_MAX,
        });
    }
    Ok(())
}

impl Readable for Extend {
    fn take_from(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        let identity = r.array()?;
        let onion_key = r.array()?;
        let n_spec = usize::from(r.u8()?);
        check_spec_count(n_spec)?;
        let link_specs = (0..n_spec).map(|_| r.extract()).collect::<Result<_, _>>()?;
        let handshake_type = r.u16()?;
        let handshake = r.u16_prefixed(RELAY_DATA_MAX)?.to_vec();
        Ok(Self {
            identity,
            onion_key,
            link_specs,
            handshake_type,
            handshake,
        })
    }
}

impl Writeable for Extend {
    fn write_onto(&self, w: &mut Writer) -> Result<(), ProtoError> {
        check_spec_count(self.link_specs.len())?;
        w.bytes(&self.identity);
        w.bytes(&self.onion_key);
        w.u8(
            u8::try_from(self.link_specs.len()).map_err(|_| ProtoError::Internal {
                reason: "link specifier count exceeds u8",
            })?,
        );
        for spec in &self.link_specs {
            w.write(spec)?;
        }
        w.u16(self.handshake_type);
        w.u16_prefixed("EXTEND handshake", &self.handshake, RELAY_DATA_MAX)
    }
}

/// EXTENDED: `hlen u16 | hdata` (docs/spec.md §8.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extended {
    /// The new hop's handshake reply.
    pub handshake: Vec<u8>,
}

impl Readable for Extended {
    fn take_from(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        Ok(Self {
            handshake: r.u16_prefixed(RELAY_DATA_MAX)?.to_vec(),
        })
    }
}

impl Writeable for Extended {
    fn write_onto(&self, w: &mut Writer) -> Result<(), ProtoError> {
        w.u16_prefixed("EXTENDED handshake", &self.handshake, RELAY_DATA_MAX)
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::relay_msg::{RelayCmd, RelayMsg};

    fn spec_bytes(spec: &LinkSpec) -> Vec<u8> {
        let mut w = Writer::new();
        w.write(spec).unwrap();
        w.into_vec()
    }

    fn read_spec(b: &[u8]) -> Result<LinkSpec, ProtoError> {
        let mut r = Reader::new(b, "t");
        let s = r.extract()?;
        r.should_be_exhausted()?;
        Ok(s)
    }

    #[test]
    fn link_spec_layouts() {
        let v4 = LinkSpec::Ipv4("192.0.2.1:9001".parse().unwrap());
        assert_eq!(spec_bytes(&v4), [1, 6, 192, 0, 2, 1, 0x23, 0x29]);
        let v6 = LinkSpec::Ipv6("[2001:db8::1]:443".parse().unwrap());
        let b = spec_bytes(&v6);
        assert_eq!(&b[..4], &[2, 18, 0x20, 0x01]);
        assert_eq!(read_spec(&b).unwrap(), v6);
        let m = LinkSpec::Multiaddr(vec![4, 127, 0, 0, 1]);
        assert_eq!(spec_bytes(&m), [3, 5, 4, 127, 0, 0, 1]);
        let u = LinkSpec::Unrecognized {
            kind: 9,
            data: vec![],
        };
        assert_eq!(read_spec(&spec_bytes(&u)).unwrap(), u);
    }

    #[test]
    fn link_spec_non_canonical() {
        assert!(matches!(
            read_spec(&[1, 5, 1, 2, 3, 4, 5]),
            Err(ProtoError::BadLength {
                expected: 6,
                found: 5,
                ..
            })
        ));
        assert!(matches!(
            read_spec(&[3, 0]),
            Err(ProtoError::Malformed { .. })
        ));
        let scoped = LinkSpec::Ipv6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 1, 0, 3));
        assert!(Writer::new().write(&scoped).is_err());
        let fake = LinkSpec::Unrecognized {
            kind: 1,
            data: vec![0; 6],
        };
        assert!(Writer::new().write(&fake).is_err());
        assert!(
            Writer::new()
                .write(&LinkSpec::Multiaddr(vec![0; 256]))
                .is_err()
        );
    }

    fn extend(n: usize) -> Extend {
        Extend {
            identity: [1; 32],
            onion_key: [2; 32],
            link_specs: vec![LinkSpec::Ipv4("10.0.0.1:1".parse().unwrap()); n],
            handshake_type: 3,
            handshake: vec![4; 10],
        }
    }

    #[test]
    fn extend_round_trip_and_spec_limit() {
        let m = RelayMsg::Extend(extend(8));
        let v = m.encode_data().unwrap();
        assert_eq!(v.len(), 32 + 32 + 1 + 8 * 8 + 4 + 10);
        assert_eq!(v[64], 8);
        assert_eq!(RelayMsg::decode_data(RelayCmd::EXTEND, &v).unwrap(), m);
        let too_many = RelayMsg::Extend(extend(9));
        assert!(matches!(
            too_many.encode_data(),
            Err(ProtoError::TooMany {
                count: 9,
                max: 8,
                ..
            })
        ));
        let mut v = v;
        v[64] = 9;
        assert!(matches!(
            RelayMsg::decode_data(RelayCmd::EXTEND, &v),
            Err(ProtoError::TooMany { count: 9, .. })
        ));
    }

    #[test]
    fn extended_layout() {
        let m = RelayMsg::Extended(Extended {
            handshake: vec![9, 8],
        });
        let v = m.encode_data().unwrap();
        assert_eq!(v, [0, 2, 9, 8]);
        assert_eq!(RelayMsg::decode_data(RelayCmd::EXTENDED, &v).unwrap(), m);
        assert!(matches!(
            RelayMsg::decode_data(RelayCmd::EXTENDED, &[0, 3, 1]),
            Err(ProtoError::Truncated { missing: 2, .. })
        ));
    }
}
