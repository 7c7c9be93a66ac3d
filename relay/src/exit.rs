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
use warren_proto::relay_msg::{EndReason, StreamId};

/// How long resolving and connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The exit streams of one circuit: a bridge and the policy.
pub(crate) struct ExitStreams {
    policy: Arc<ExitPolicy>,
    pub(crate) bridge: StreamBridge,
}

impl ExitStreams {
    pub(crate) fn new(policy: Arc<ExitPolicy>) -> Self {
        Self {
            policy,
            bridge: StreamBridge::new(),
        }
    }

    /// A BEGIN arrived: resolve, check and connect in the stream's task.
    pub(crate) fn open(&mut self, id: StreamId, host: String, port: u16) {
        let policy = self.policy.clone();
        self.bridge.open(id, async move {
            match tokio::time::timeout(CONNECT_TIMEOUT, connect(&host, port, &policy)).await {
                Ok(result) => result,
                Err(_) => Err(EndReason::TIMEOUT),
            }
        });
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
