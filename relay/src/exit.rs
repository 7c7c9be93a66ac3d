//! The exit role: streams that end at this relay become TCP connections,
//! when the exit policy allows them (docs/spec.md §13.4).
//!
//! Each stream's connection is resolved, checked against the policy on the
//! resolved address and connected by its bridge task (`warren_net::bridge`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use warren_directory::exit_policy::ExitPolicy;
use warren_net::bridge::StreamBridge;

use crate::hsdir::HsDirStore;
use warren_proto::relay_msg::{EndReason, StreamId};

/// How long resolving and connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The streams that end at this relay on one circuit: exit streams under
/// the policy, directory streams to the HSDir store.
pub(crate) struct ExitStreams {
    policy: Option<Arc<ExitPolicy>>,
    hsdir: Option<Arc<HsDirStore>>,
    pub(crate) bridge: StreamBridge,
}

/// What kind of stream a BEGIN opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opened {
    /// An exit stream, to a TCP target.
    Exit,
    /// A directory stream, to this relay's HSDir store (§15.6).
    Directory,
}

impl ExitStreams {
    pub(crate) fn new(policy: Option<Arc<ExitPolicy>>, hsdir: Option<Arc<HsDirStore>>) -> Self {
        Self {
            policy,
            hsdir,
            bridge: StreamBridge::new(),
        }
    }

    /// A BEGIN arrived. An empty host is a directory stream (§15.6);
    /// anything else an exit stream, resolved, checked and
    /// connected in the stream's task. Refused with the END reason when
    /// this relay offers neither.
    pub(crate) fn open(
        &mut self,
        id: StreamId,
        host: String,
        port: u16,
    ) -> Result<Opened, EndReason> {
        if host.is_empty() {
            let store = self.hsdir.clone().ok_or(EndReason::EXITPOLICY)?;
            let (ours, theirs) = tokio::io::duplex(crate::hsdir::PIPE);
            tokio::spawn(crate::hsdir::serve_stream(theirs, store));
            self.bridge.open(id, std::future::ready(Ok(ours)));
            return Ok(Opened::Directory);
        }
        let policy = self.policy.clone().ok_or(EndReason::EXITPOLICY)?;
        self.bridge.open(id, async move {
            match tokio::time::timeout(CONNECT_TIMEOUT, connect(&host, port, &policy)).await {
                Ok(result) => result,
                Err(_) => Err(EndReason::TIMEOUT),
            }
        });
        Ok(Opened::Exit)
    }
}

/// Resolves `host` and connects to the first address the policy allows.
async fn connect(host: &str, port: u16, policy: &ExitPolicy) -> Result<TcpStream, EndReason> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| EndReason::RESOLVEFAILED)?
        .collect();
    let allowed: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|a| policy.allows(a.ip(), a.port()))
        .collect();
    if allowed.is_empty() {
        return Err(EndReason::EXITPOLICY);
    }
    for addr in allowed {
        if let Ok(conn) = TcpStream::connect(addr).await {
            let _ = conn.set_nodelay(true);
            return Ok(conn);
        }
    }
    Err(EndReason::CONNECTREFUSED)
}
