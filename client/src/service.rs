//! Hosting onion services (docs/spec.md §15, §16): `warren service`.
//!
//! Each service has a persistent identity (its `.warren` address), keeps
//! intro points on circuits of its own, publishes its descriptor to the
//! HSDirs the ring names, and answers introductions by joining the
//! client's rendezvous point, where its streams reach the backend targets
//! of its port map. It opens no inbound port.
//!
//! * `config`: the settings of the host and of each service;
//! * `identity`: the identity key file and the address;
//! * `intro`: establishing intro points (§16.1);
//! * `publish`: building and uploading descriptors (§15);
//! * `introductions`: checking introductions (replay, client keys, puzzle)
//!   and serving them by effort (§16.3, §16.4);
//! * `host`: one service's task, and the process that runs them.

mod config;
mod host;
mod identity;
mod intro;
mod introductions;
mod publish;

pub use config::{OnionServiceConfig, ServiceConfig};
pub use host::ServiceHost;
pub use identity::{IDENTITY_FILE, load_or_create_identity};
