//! Canonical bit sets of named members, for relay roles (docs/spec.md
//! §12.2) and relay flags (§12.5): one byte on the wire, unknown bits
//! refused, a comma-separated text form for configuration files.

/// Defines a one-byte set type with named members.
macro_rules! bitset {
    (
        $(#[$meta:meta])* $Name:ident, $what:literal,
        { $( $(#[$cmeta:meta])* $CONST:ident = $bit:expr => $text:literal, )* }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $Name(u8);

        impl $Name {
            $( $(#[$cmeta])* pub const $CONST: Self = Self($bit); )*

            /// The empty set.
            pub const NONE: Self = Self(0);

            /// Every member this version knows.
            pub const ALL: Self = Self(0 $(| $bit)*);

            /// Each member with its name, in bit order.
            pub const MEMBERS: &'static [(Self, &'static str)] = &[$((Self::$CONST, $text),)*];

            /// The set as its wire byte.
            pub const fn bits(self) -> u8 {
                self.0
            }

            /// The set with wire byte `bits`, or `None` when a bit this
            /// version does not know is set.
            pub const fn from_bits(bits: u8) -> Option<Self> {
                if bits & !Self::ALL.0 == 0 { Some(Self(bits)) } else { None }
            }

            /// Whether every member of `other` is in `self`.
            pub const fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }

            /// The members of either set.
            pub const fn union(self, other: Self) -> Self {
                Self(self.0 | other.0)
            }

            /// Adds or removes the members of `other`.
            pub fn set(&mut self, other: Self, on: bool) {
                if on { self.0 |= other.0 } else { self.0 &= !other.0 }
            }

            /// Whether the set is empty.
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }

            /// The names of the members, in bit order.
            pub fn names(self) -> impl Iterator<Item = &'static str> {
                Self::MEMBERS
                    .iter()
                    .filter(move |(m, _)| self.contains(*m))
                    .map(|(_, name)| *name)
            }

            /// Every name, for error messages.
            const NAME_LIST: &'static str = concat!($($text, " "),*);
        }

        impl core::ops::BitOr for $Name {
            type Output = Self;
            fn bitor(self, other: Self) -> Self {
                self.union(other)
            }
        }

        impl core::fmt::Display for $Name {
            /// The names of the members separated by commas (empty for the
            /// empty set).
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                let names: Vec<&str> = self.names().collect();
                f.write_str(&names.join(","))
            }
        }

        impl core::fmt::Debug for $Name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, concat!(stringify!($Name), "({})"), self)
            }
        }

        impl core::str::FromStr for $Name {
            type Err = $crate::DirectoryError;

            /// Parses names separated by commas and/or spaces.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let mut out = Self::NONE;
                for name in s.split([',', ' ']).filter(|n| !n.is_empty()) {
                    let member = Self::MEMBERS
                        .iter()
                        .find(|(_, text)| *text == name)
                        .ok_or_else(|| $crate::DirectoryError::UnknownName {
                            what: $what,
                            name: name.to_string(),
                            expected: Self::NAME_LIST.trim_end(),
                        })?;
                    out.set(member.0, true);
                }
                Ok(out)
            }
        }
    };
}

pub(crate) use bitset;
