//! A small read-only HTTP/1.1 server for people and monitoring: the
//! directory port (docs/spec.md §12.13) and the metrics port (§13.5). Off
//! unless configured; `GET` and `HEAD` only; bounded in connections,
//! request size and time.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 64;
/// The longest request head accepted.
const MAX_HEAD: usize = 8 * 1024;
/// How long a connection may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What a server answers to `GET path`.
pub trait Routes: Send + Sync + 'static {
    /// The response to `GET path`.
    fn get(&self, path: &str) -> Response;
}

/// Serves HTTP on `listener` until the task is aborted.
pub async fn serve<V: Routes>(listener: TcpListener, view: Arc<V>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let view = view.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = connection(stream, &*view).await {
                tracing::debug!(error = %e, "directory HTTP connection failed");
            }
        });
    }
}

/// A response: status line, content type, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status, e.g. `200 OK`.
    pub status: &'static str,
    /// The Content-Type.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A plain-text response: `body` and a newline.
    pub fn text(status: &'static str, body: &str) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{body}\n").into_bytes(),
        }
    }

    /// A 200 response of bytes.
    pub fn bytes(body: Vec<u8>) -> Self {
        Self {
            status: "200 OK",
            content_type: "application/octet-stream",
            body,
        }
    }
}

async fn connection<V: Routes + ?Sized>(mut stream: TcpStream, view: &V) -> std::io::Result<()> {
    let head = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "request too slow"))??;
    let (response, head_only) = match head {
        Some(head) => route(&head, view),
        None => (
            Response::text(
                "400 Bad Request",
                "the request head is malformed or too long",
            ),
            false,
        ),
    };
    let header = format!(
        "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        response.status,
        response.content_type,
        response.body.len()
    );
    stream.write_all(header.as_bytes()).await?;
    if !head_only {
        stream.write_all(&response.body).await?;
    }
    stream.shutdown().await
}

/// Reads up to the end of the request head; `None` when it is malformed or
/// longer than [`MAX_HEAD`].
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<(String, String)>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(_)) => {
                return Ok(match (req.method, req.path) {
                    (Some(m), Some(p)) => Some((m.to_owned(), p.to_owned())),
                    _ => None,
                });
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => {}
            _ => return Ok(None),
        }
    }
}

/// The response to `method path`, and whether only the head is sent.
fn route<V: Routes + ?Sized>((method, path): &(String, String), view: &V) -> (Response, bool) {
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        return (
            Response::text("405 Method Not Allowed", "only GET and HEAD are served"),
            false,
        );
    }
    (view.get(path), head_only)
}
