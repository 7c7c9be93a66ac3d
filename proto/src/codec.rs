//! The one byte codec: [`Reader`], [`Writer`], [`Readable`], [`Writeable`]
//! (docs/spec.md §7.8).
//!
//! All integers are big-endian. A [`Reader`] never panics: reading past the
//! end is [`ProtoError::Truncated`], and a decoder that is done calls
//! [`Reader::should_be_exhausted`] so that trailing bytes are an error, as the
//! spec requires unless it says otherwise. Length-prefixed byte strings are
//! read and written with a maximum, so a length field can never make the
//! decoder allocate more than the spec allows.
//!
//! The module also defines `open_enum!`, the crate's way of writing protocol
//! numbers as open enums: a newtype over the integer with named constants,
//! so unknown values still round-trip (Arti's `caret_int!`).

use crate::ProtoError;

/// A cursor over a byte slice that never panics.
///
/// Each reader carries the name of the object it reads, which every error it
/// returns names.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    /// The bytes not yet consumed.
    rest: &'a [u8],
    /// The length of the whole input, to report offsets.
    total: usize,
    /// What is being read, for error messages.
    object: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`, which hold one `object` (for error messages).
    pub fn new(bytes: &'a [u8], object: &'static str) -> Self {
        Self {
            rest: bytes,
            total: bytes.len(),
            object,
        }
    }

    /// The name of the object being read.
    pub fn object(&self) -> &'static str {
        self.object
    }

    /// How many bytes are left.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// How many bytes have been consumed.
    pub fn consumed(&self) -> usize {
        self.total - self.rest.len()
    }

    /// Consumes and returns the next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], ProtoError> {
        let Some((head, rest)) = self.rest.split_at_checked(n) else {
            return Err(ProtoError::Truncated {
                object: self.object,
                missing: n - self.rest.len(),
            });
        };
        self.rest = rest;
        Ok(head)
    }

    /// Consumes the next `n` bytes and returns a reader over them that reads
    /// `object`.
    pub fn take_reader(&mut self, n: usize, object: &'static str) -> Result<Self, ProtoError> {
        Ok(Self::new(self.take(n)?, object))
    }

    /// Consumes and returns the next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], ProtoError> {
        let Some((head, rest)) = self.rest.split_first_chunk::<N>() else {
            return Err(ProtoError::Truncated {
                object: self.object,
                missing: N - self.rest.len(),
            });
        };
        self.rest = rest;
        Ok(*head)
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, ProtoError> {
        self.array().map(u8::from_be_bytes)
    }

    /// Reads a big-endian `u16`.
    pub fn u16(&mut self) -> Result<u16, ProtoError> {
        self.array().map(u16::from_be_bytes)
    }

    /// Reads a big-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, ProtoError> {
        self.array().map(u32::from_be_bytes)
    }

    /// Reads a big-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, ProtoError> {
        self.array().map(u64::from_be_bytes)
    }

    /// Consumes and returns everything left.
    pub fn take_rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.rest)
    }

    /// Reads a `T`.
    pub fn extract<T: Readable>(&mut self) -> Result<T, ProtoError> {
        T::take_from(self)
    }

    /// Reads a `u8` length, then that many bytes; the length must be at most
    /// `max`.
    pub fn u8_prefixed(&mut self, max: usize) -> Result<&'a [u8], ProtoError> {
        let len = usize::from(self.u8()?);
        self.bounded(len, max)
    }

    /// Reads a `u16` length, then that many bytes; the length must be at most
    /// `max`.
    pub fn u16_prefixed(&mut self, max: usize) -> Result<&'a [u8], ProtoError> {
        let len = usize::from(self.u16()?);
        self.bounded(len, max)
    }

    /// Takes `len` bytes after checking `len <= max`.
    fn bounded(&mut self, len: usize, max: usize) -> Result<&'a [u8], ProtoError> {
        if len > max {
            return Err(ProtoError::TooLong {
                object: self.object,
                len,
                max,
            });
        }
        self.take(len)
    }

    /// Succeeds when nothing is left; otherwise [`ProtoError::TrailingBytes`].
    pub fn should_be_exhausted(&self) -> Result<(), ProtoError> {
        match self.rest.len() {
            0 => Ok(()),
            count => Err(ProtoError::TrailingBytes {
                object: self.object,
                count,
            }),
        }
    }

    /// Consumes everything left, which must be zero bytes (padding);
    /// otherwise [`ProtoError::NonZeroPadding`].
    pub fn expect_zero_padding(&mut self) -> Result<(), ProtoError> {
        let start = self.consumed();
        let rest = self.take_rest();
        match rest.iter().position(|&b| b != 0) {
            None => Ok(()),
            Some(i) => Err(ProtoError::NonZeroPadding {
                object: self.object,
                offset: start + i,
            }),
        }
    }
}

/// A growable buffer that encoders write onto.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Writer {
    /// The bytes written so far.
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty writer with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            buf: Vec::with_capacity(n),
        }
    }

    /// How many bytes have been written.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes written so far.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// The bytes written.
    pub fn into_vec(self) -> Vec<u8> {
        self.buf
    }

    /// Writes one byte.
    pub fn u8(&mut self, x: u8) {
        self.buf.push(x);
    }

    /// Writes a big-endian `u16`.
    pub fn u16(&mut self, x: u16) {
        self.bytes(&x.to_be_bytes());
    }

    /// Writes a big-endian `u32`.
    pub fn u32(&mut self, x: u32) {
        self.bytes(&x.to_be_bytes());
    }

    /// Writes a big-endian `u64`.
    pub fn u64(&mut self, x: u64) {
        self.bytes(&x.to_be_bytes());
    }

    /// Writes `b` as is.
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// Writes `n` zero bytes.
    pub fn zeros(&mut self, n: usize) {
        self.buf.resize(self.buf.len() + n, 0);
    }

    /// Writes a `T`.
    pub fn write<T: Writeable + ?Sized>(&mut self, x: &T) -> Result<(), ProtoError> {
        x.write_onto(self)
    }

    /// Writes a `u8` length and then `b`; `b` must be at most `max` (and
    /// 255) bytes long, or [`ProtoError::TooLong`] names `object`.
    pub fn u8_prefixed(
        &mut self,
        object: &'static str,
        b: &[u8],
        max: usize,
    ) -> Result<(), ProtoError> {
        let len = prefix_len(object, b, max.min(u8::MAX.into()))?;
        self.u8(u8::try_from(len).map_err(|_| too_long(object, len, u8::MAX.into()))?);
        self.bytes(b);
        Ok(())
    }

    /// Writes a `u16` length and then `b`; `b` must be at most `max` (and
    /// 65535) bytes long, or [`ProtoError::TooLong`] names `object`.
    pub fn u16_prefixed(
        &mut self,
        object: &'static str,
        b: &[u8],
        max: usize,
    ) -> Result<(), ProtoError> {
        let len = prefix_len(object, b, max.min(u16::MAX.into()))?;
        self.u16(u16::try_from(len).map_err(|_| too_long(object, len, u16::MAX.into()))?);
        self.bytes(b);
        Ok(())
    }
}

/// Checks that `b` is at most `max` bytes long and returns its length.
fn prefix_len(object: &'static str, b: &[u8], max: usize) -> Result<usize, ProtoError> {
    if b.len() > max {
        return Err(too_long(object, b.len(), max));
    }
    Ok(b.len())
}

/// A [`ProtoError::TooLong`].
fn too_long(object: &'static str, len: usize, max: usize) -> ProtoError {
    ProtoError::TooLong { object, len, max }
}

/// A type that can be decoded from a [`Reader`].
pub trait Readable: Sized {
    /// Reads one `Self` from `r`, consuming exactly its encoding.
    fn take_from(r: &mut Reader<'_>) -> Result<Self, ProtoError>;
}

/// A type that can be encoded onto a [`Writer`].
pub trait Writeable {
    /// Appends the encoding of `self` to `w`.
    ///
    /// Fails when `self` cannot be encoded canonically (for example, a field
    /// is too long).
    fn write_onto(&self, w: &mut Writer) -> Result<(), ProtoError>;
}

/// Implements [`Readable`] and [`Writeable`] for big-endian integers.
macro_rules! impl_int {
    ($($t:ty),*) => {$(
        impl Readable for $t {
            fn take_from(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
                r.array().map(<$t>::from_be_bytes)
            }
        }
        impl Writeable for $t {
            fn write_onto(&self, w: &mut Writer) -> Result<(), ProtoError> {
                w.bytes(&self.to_be_bytes());
                Ok(())
            }
        }
    )*};
}
impl_int!(u8, u16, u32, u64);

impl<const N: usize> Readable for [u8; N] {
    fn take_from(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        r.array()
    }
}

impl<const N: usize> Writeable for [u8; N] {
    fn write_onto(&self, w: &mut Writer) -> Result<(), ProtoError> {
        w.bytes(self);
        Ok(())
    }
}

/// Defines a protocol number as an open enum: `pub struct Name(pub repr)`
/// with one associated constant per known value, `ALL`, `name()` (the
/// spec's constant name) and `description()` (a sentence for humans).
/// Unknown values are representable, so they round-trip.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub struct $name:ident($repr:ty);
        $( $(#[$cmeta:meta])* $cname:ident = $val:literal => $text:literal, )+
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub $repr);

        impl $name {
            $( $(#[$cmeta])* pub const $cname: Self = Self($val); )+

            /// Every value this version knows, in numeric order.
            pub const ALL: &'static [Self] = &[$(Self::$cname),+];

            /// The spec's name for this value, or `None` when this version
            /// does not know it.
            pub fn name(self) -> Option<&'static str> {
                match self {
                    $( Self::$cname => Some(stringify!($cname)), )+
                    _ => None,
                }
            }

            /// What this value means, for humans, or `None` when this
            /// version does not know it.
            pub fn description(self) -> Option<&'static str> {
                match self {
                    $( Self::$cname => Some($text), )+
                    _ => None,
                }
            }

            /// Whether this version knows this value.
            pub fn is_recognized(self) -> bool {
                self.name().is_some()
            }
        }

        impl From<$repr> for $name {
            fn from(x: $repr) -> Self {
                Self(x)
            }
        }

        impl From<$name> for $repr {
            fn from(x: $name) -> Self {
                x.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}::{}", stringify!($name), n),
                    None => write!(f, "{}({})", stringify!($name), self.0),
                }
            }
        }
    };
}
pub(crate) use open_enum;

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn reads_big_endian_and_stops_at_the_end() {
        let mut r = Reader::new(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], "test");
        assert_eq!(r.u8().unwrap(), 1);
        assert_eq!(r.u16().unwrap(), 0x0203);
        assert_eq!(r.u32().unwrap(), 0x0405_0607);
        assert_eq!(r.u64().unwrap(), 0x0809_0a0b_0c0d_0e0f);
        assert_eq!(r.remaining(), 0);
        r.should_be_exhausted().unwrap();
        assert!(matches!(
            r.u16(),
            Err(ProtoError::Truncated {
                object: "test",
                missing: 2
            })
        ));
    }

    #[test]
    fn truncation_reports_the_deficit() {
        let mut r = Reader::new(&[1, 2, 3], "thing");
        assert!(matches!(
            r.take(5),
            Err(ProtoError::Truncated { missing: 2, .. })
        ));
        assert!(matches!(
            r.array::<4>(),
            Err(ProtoError::Truncated { missing: 1, .. })
        ));
        // A failed read consumes nothing.
        assert_eq!(r.take(3).unwrap(), &[1, 2, 3]);
    }

    #[test]
    fn trailing_bytes_and_padding() {
        let mut r = Reader::new(&[7, 0, 0, 1], "thing");
        assert_eq!(r.u8().unwrap(), 7);
        assert!(matches!(
            r.should_be_exhausted(),
            Err(ProtoError::TrailingBytes { count: 3, .. })
        ));
        assert!(matches!(
            r.expect_zero_padding(),
            Err(ProtoError::NonZeroPadding { offset: 3, .. })
        ));
        assert_eq!(r.remaining(), 0);
        let mut r = Reader::new(&[0, 0], "thing");
        r.expect_zero_padding().unwrap();
    }

    #[test]
    fn prefixed_strings_respect_max() {
        let mut w = Writer::new();
        w.u8_prefixed("s", b"abc", 3).unwrap();
        w.u16_prefixed("t", b"de", 10).unwrap();
        assert!(matches!(
            w.u8_prefixed("s", &[0; 300], 1000),
            Err(ProtoError::TooLong { max: 255, .. })
        ));
        assert!(matches!(
            w.u16_prefixed("t", b"xyz", 2),
            Err(ProtoError::TooLong { len: 3, max: 2, .. })
        ));
        let v = w.into_vec();
        assert_eq!(v, [3, b'a', b'b', b'c', 0, 2, b'd', b'e']);
        let mut r = Reader::new(&v, "x");
        assert_eq!(r.u8_prefixed(3).unwrap(), b"abc");
        assert!(matches!(
            r.clone().u16_prefixed(1),
            Err(ProtoError::TooLong { len: 2, max: 1, .. })
        ));
        assert_eq!(r.u16_prefixed(2).unwrap(), b"de");
        r.should_be_exhausted().unwrap();
    }

    #[test]
    fn readable_writeable_integers() {
        let mut w = Writer::with_capacity(15);
        w.write(&0x01u8).unwrap();
        w.write(&0x0203u16).unwrap();
        w.write(&[9u8, 9]).unwrap();
        w.zeros(2);
        assert_eq!(w.len(), 7);
        let v = w.into_vec();
        let mut r = Reader::new(&v, "x");
        assert_eq!(r.extract::<u8>().unwrap(), 1);
        assert_eq!(r.extract::<u16>().unwrap(), 0x0203);
        assert_eq!(r.extract::<[u8; 2]>().unwrap(), [9, 9]);
        assert_eq!(r.take_rest(), &[0, 0]);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_reads_never_panic(data: Vec<u8>, ops: Vec<u8>) {
            let mut r = Reader::new(&data, "fuzz");
            for op in ops {
                let _ = match op % 8 {
                    0 => r.u8().map(drop),
                    1 => r.u16().map(drop),
                    2 => r.u32().map(drop),
                    3 => r.u64().map(drop),
                    4 => r.u8_prefixed(usize::from(op)).map(drop),
                    5 => r.u16_prefixed(300).map(drop),
                    6 => r.take(usize::from(op)).map(drop),
                    _ => r.expect_zero_padding(),
                };
                proptest::prop_assert_eq!(r.consumed() + r.remaining(), data.len());
            }
        }
    }
}
