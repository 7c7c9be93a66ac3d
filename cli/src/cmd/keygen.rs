//! `warren keygen`: make a key and store it in a new 0600 key file
//! (docs/spec.md §2).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use warren_crypto::{
    ClientAuthKeypair, HsAddress, OnionKeypair, RelayIdentityKeypair, ServiceIdentityKeypair,
};
use warren_net::keystore::create_key_file;

/// Which key to make.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Kind {
    /// A relay's long-term Ed25519 identity key.
    Relay,
    /// A relay's X25519 onion key.
    Onion,
    /// An onion service's Ed25519 identity key (prints its .warren address).
    Service,
    /// A client's X25519 key for restricted discovery.
    Client,
}

/// Arguments of `warren keygen`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The kind of key.
    kind: Kind,
    /// Where to write the secret key (a new file, mode 0600).
    #[arg(long, short, value_name = "FILE")]
    out: PathBuf,
}

/// Generates the key, writes it and prints its public part on stdout.
pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let mut rng = rand::rng();
    let public = match args.kind {
        Kind::Relay => {
            let key = RelayIdentityKeypair::generate(&mut rng);
            create_key_file(&args.out, &key)?;
            hex(key.public().as_bytes())
        }
        Kind::Onion => {
            let key = OnionKeypair::generate(&mut rng);
            create_key_file(&args.out, &key)?;
            hex(key.public().as_bytes())
        }
        Kind::Service => {
            let key = ServiceIdentityKeypair::generate(&mut rng);
            create_key_file(&args.out, &key)?;
            HsAddress::from_identity(key.public()).to_string()
        }
        Kind::Client => {
            let key = ClientAuthKeypair::generate(&mut rng);
            create_key_file(&args.out, &key)?;
            hex(key.public().as_bytes())
        }
    };
    writeln!(std::io::stdout(), "{public}").context("writing the public key to stdout")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
