//! The local entries (docs/spec.md §14.5): SOCKS and HTTP listeners, each
//! connection handed to the circuit manager and, once its stream is open,
//! bridged to it; every failure answered in the entry's own protocol.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use warren_crypto::HsAddress;

use crate::manager::Manager;
use crate::pool::IsolationKey;
use crate::{ClientError, http_proxy, socks};

/// Connections served at once per listener; more wait in the backlog.
const MAX_CONNECTIONS: usize = 1024;
/// How long a local application may take to send its request.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Which protocol a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// SOCKS4, SOCKS4a and SOCKS5.
    Socks,
    /// An HTTP proxy.
    Http,
}

/// Where a stream goes: an onion service or an exit.
#[derive(Debug, PartialEq, Eq)]
enum Destination {
    /// A `.warren` address (§3).
    Onion(HsAddress),
    /// A host name or address, reached through an exit.
    Exit,
}

/// Sorts a destination: `.warren` addresses (mistyped ones refused with
/// the reason) go to onion services, `.onion` ones are refused.
fn destination(host: &str) -> Result<Destination, ClientError> {
    let lower = host.to_ascii_lowercase();
    if lower.ends_with(".warren") {
        return match lower.parse::<HsAddress>() {
            Err(e) => Err(ClientError::Unreachable(format!(
                "mistyped .warren address: {e}"
            ))),
            Ok(addr) => Ok(Destination::Onion(addr)),
        };
    }
    if lower.ends_with(".onion") {
        return Err(ClientError::Unreachable(
            "a .onion address belongs to Tor, not to Warren".into(),
        ));
    }
    Ok(Destination::Exit)
}

/// Accepts connections on `listener` forever.
pub(crate) async fn serve(
    listener: TcpListener,
    protocol: Protocol,
    index: usize,
    manager: Arc<Manager>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let conn = match listener.accept().await {
            Ok((conn, _)) => conn,
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                continue;
            }
        };
        let _ = conn.set_nodelay(true);
        let manager = manager.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match protocol {
                Protocol::Socks => socks_connection(conn, index, &manager).await,
                Protocol::Http => http_connection(conn, index, &manager).await,
            }
        });
    }
}

async fn open(
    manager: &Manager,
    index: usize,
    credentials: Option<Vec<u8>>,
    host: &str,
    port: u16,
) -> Result<(crate::circuit::Circuit, warren_proto::relay_msg::StreamId), ClientError> {
    let key = IsolationKey {
        listener: index,
        credentials,
    };
    match destination(host)? {
        Destination::Onion(addr) => manager.connect_onion(&key, &addr, port).await,
        Destination::Exit => manager.connect(&key, host, port).await,
    }
}

async fn socks_connection(mut conn: TcpStream, index: usize, manager: &Manager) {
    let request = match tokio::time::timeout(HANDSHAKE_TIMEOUT, socks::handshake(&mut conn)).await {
        Ok(Ok(request)) => request,
        Ok(Err(refusal)) => {
            tracing::debug!(reason = refusal.reason, "refused a SOCKS request");
            let _ = conn.write_all(&refusal.reply).await;
            return;
        }
        Err(_) => return,
    };
    match open(
        manager,
        index,
        request.credentials,
        &request.host,
        request.port,
    )
    .await
    {
        Ok((circuit, id)) => {
            if conn
                .write_all(&socks::success(request.version))
                .await
                .is_ok()
            {
                circuit.attach(id, conn, Vec::new()).await;
            } else {
                circuit.close(id).await;
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, "a SOCKS stream failed");
            let _ = conn.write_all(&socks::failure(request.version, &e)).await;
        }
    }
}

async fn http_connection(mut conn: TcpStream, index: usize, manager: &Manager) {
    let request =
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, http_proxy::read_request(&mut conn)).await {
            Ok(Ok(request)) => request,
            Ok(Err(refusal)) => {
                tracing::debug!(status = refusal.status, "refused an HTTP proxy request");
                let _ = conn
                    .write_all(&http_proxy::response(refusal.status, &refusal.reason))
                    .await;
                return;
            }
            Err(_) => {
                let _ = conn
                    .write_all(&http_proxy::response(
                        "408 Request Timeout",
                        "the request head did not arrive in 10 seconds",
                    ))
                    .await;
                return;
            }
        };
    match open(
        manager,
        index,
        request.credentials,
        &request.host,
        request.port,
    )
    .await
    {
        Ok((circuit, id)) => {
            if request.tunnel && conn.write_all(http_proxy::TUNNEL_OPEN).await.is_err() {
                circuit.close(id).await;
                return;
            }
            circuit.attach(id, conn, request.initial).await;
        }
        Err(e) => {
            tracing::debug!(error = %e, "an HTTP proxy stream failed");
            let _ = conn
                .write_all(&http_proxy::response(e.http_status(), &e.to_string()))
                .await;
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn warren_and_onion_names_never_go_to_an_exit() {
        let e = destination("abc.warren").unwrap_err();
        assert!(e.to_string().starts_with("mistyped .warren address"), "{e}");
        assert_eq!(e.socks5_reply(), 0x04);
        let key = warren_crypto::ServiceIdentityKeypair::from_secret_bytes([0x41; 32]);
        let addr = HsAddress::from_identity(key.public());
        assert_eq!(
            destination(&addr.to_string().to_uppercase()).unwrap(),
            Destination::Onion(addr)
        );
        assert!(destination("x.onion").is_err());
        assert_eq!(destination("example.com").unwrap(), Destination::Exit);
        assert_eq!(destination("127.0.0.1").unwrap(), Destination::Exit);
    }
}
