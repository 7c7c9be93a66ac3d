//! The roles a relay offers in its descriptor (docs/spec.md §12.2): one
//! byte, one bit per role, unknown bits refused.

use crate::bits::bitset;

bitset!(
    /// The roles a relay offers (docs/spec.md §12.2). The text form, used in
    /// configuration files, is the role names separated by commas:
    /// `guard,middle,hsdir`.
    Roles, "relay role",
    {
        /// May be a client's first hop (bit 0).
        GUARD = 0x01 => "guard",
        /// May be a middle hop (bit 1).
        MIDDLE = 0x02 => "middle",
        /// Opens streams to the Internet under its exit policy (bit 2).
        EXIT = 0x04 => "exit",
        /// Stores onion-service descriptors (bit 3).
        HSDIR = 0x08 => "hsdir",
        /// Serves as an onion service's introduction point (bit 4).
        INTRO = 0x10 => "intro",
        /// Serves as a rendezvous point (bit 5).
        RENDEZVOUS = 0x20 => "rendezvous",
        /// Caches and serves the consensus (bit 6).
        DIRCACHE = 0x40 => "dircache",
    }
);

#[cfg(test)]
mod test {
    use super::*;
    use crate::DirectoryError;

    #[test]
    fn bits_and_text() {
        let r = Roles::GUARD | Roles::HSDIR;
        assert_eq!(r.bits(), 0x09);
        assert_eq!(r.to_string(), "guard,hsdir");
        assert_eq!(format!("{r:?}"), "Roles(guard,hsdir)");
        assert_eq!("hsdir, guard".parse::<Roles>().unwrap(), r);
        assert_eq!("".parse::<Roles>().unwrap(), Roles::NONE);
        assert_eq!(Roles::ALL.bits(), 0x7f);
        assert_eq!(Roles::from_bits(0x7f), Some(Roles::ALL));
        assert_eq!(Roles::from_bits(0x80), None);
        assert!(r.contains(Roles::GUARD) && !r.contains(Roles::EXIT));
        let mut m = r;
        m.set(Roles::GUARD, false);
        assert_eq!(m, Roles::HSDIR);
        let err = "guard,exitt".parse::<Roles>().unwrap_err();
        assert_eq!(
            err,
            DirectoryError::UnknownName {
                what: "relay role",
                name: "exitt".into(),
                expected: "guard middle exit hsdir intro rendezvous dircache",
            }
        );
    }
}
