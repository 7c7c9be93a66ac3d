//! Publishing the relay's descriptor (docs/spec.md §12.2, §12.14): signed
//! at start and every publish interval, sent to every authority, retried
//! while an authority does not take it.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use warren_directory::descriptor::DESCRIPTOR_LIFETIME;
use warren_directory::exit_policy::ExitPolicy;
use warren_directory::{DirRequest, DirResponse, OnionKeyCert, RelayDescriptor, Roles};
use warren_net::dir_client::{AuthorityEntry, unix_now};

use crate::node::Shared;

/// How long to wait before publishing again to an authority that failed.
const RETRY: Duration = Duration::from_secs(2);

/// The software field of the descriptor.
const SOFTWARE: &str = concat!("warren ", env!("CARGO_PKG_VERSION"));

/// The descriptor of this relay, as of `now`.
fn descriptor(shared: &Shared, now: u64) -> RelayDescriptor {
    let config = &shared.config;
    let keys = &shared.keys;
    let exit_policy = config
        .exit_policy
        .as_deref()
        .cloned()
        .unwrap_or_else(ExitPolicy::reject_all);
    let mut roles = config.roles;
    roles.set(Roles::EXIT, config.exit_policy.is_some());
    RelayDescriptor {
        identity: keys.identity.public(),
        onion_cert: OnionKeyCert::sign(
            &keys.identity,
            keys.onion.public(),
            now.saturating_add(DESCRIPTOR_LIFETIME),
        ),
        addresses: shared
            .host
            .listen_addrs()
            .iter()
            .map(ToString::to_string)
            .collect(),
        bandwidth: config.bandwidth,
        family: config.family.clone(),
        exit_policy,
        roles,
        software: SOFTWARE.into(),
        published: now,
    }
}

/// Publishes forever.
pub(crate) async fn run(shared: Arc<Shared>) {
    loop {
        let now = unix_now();
        let signed = match descriptor(&shared, now).sign(&shared.keys.identity) {
            Ok(signed) => signed,
            Err(e) => {
                tracing::error!(error = %e, "cannot sign the relay descriptor; not publishing");
                return;
            }
        };
        let request = DirRequest::PublishDescriptor(signed.as_bytes().to_vec());
        let mut pending: Vec<&AuthorityEntry> = shared.config.authorities.iter().collect();
        let deadline = tokio::time::Instant::now() + shared.config.publish_interval;
        while !pending.is_empty() && tokio::time::Instant::now() < deadline {
            let sends = pending.iter().map(|&entry| {
                let source = &entry.source;
                let request = &request;
                let shared = &shared;
                async move {
                    match shared
                        .host
                        .dir_request(&source.peer, &source.addrs, request)
                        .await
                    {
                        Ok(DirResponse::Accepted) => None,
                        Ok(DirResponse::Refused(reason)) => {
                            tracing::warn!(reason = %reason, "an authority refused the relay descriptor");
                            Some(entry)
                        }
                        Ok(other) => {
                            tracing::warn!(answer = ?other, "an authority answered the descriptor oddly");
                            Some(entry)
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "could not publish to an authority");
                            Some(entry)
                        }
                    }
                }
            });
            pending = join_all(sends).await.into_iter().flatten().collect();
            if pending.is_empty() {
                tracing::info!(
                    authorities = shared.config.authorities.len(),
                    "published the relay descriptor"
                );
            } else {
                tokio::time::sleep(RETRY).await;
            }
        }
        tokio::time::sleep_until(deadline).await;
    }
}
