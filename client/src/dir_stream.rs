//! Directory streams (docs/spec.md §15.6): a BEGIN with an empty host to
//! an HSDir at the end of one of our circuits, then one framed request and
//! its framed answer (4-byte length, message, as in §12.13).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warren_directory::{DirRequest, DirResponse};

use crate::ClientError;
use crate::circuit::{BeginFailure, Circuit};

/// The port a directory stream asks for, by convention (§15.6).
const DIR_PORT: u16 = 1;
/// The pipe between the stream and this code.
const PIPE: usize = 64 * 1024;
/// The largest answer taken (a descriptor is at most 50 KiB).
const MAX_ANSWER: usize = 256 * 1024;
/// How long one request may take, stream opening included.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Sends `request` to the HSDir at the end of `circuit` and reads its
/// answer.
pub(crate) async fn ask(
    circuit: &Circuit,
    request: &DirRequest,
) -> Result<DirResponse, ClientError> {
    tokio::time::timeout(TIMEOUT, exchange(circuit, request))
        .await
        .map_err(|_| ClientError::TimedOut("the HSDir did not answer".into()))?
}

async fn exchange(circuit: &Circuit, request: &DirRequest) -> Result<DirResponse, ClientError> {
    let id = circuit.begin("", DIR_PORT).await.map_err(|e| match e {
        BeginFailure::Ended(reason) => {
            ClientError::Build(format!("the HSDir refused a directory stream: {reason}"))
        }
        BeginFailure::CircuitClosed => ClientError::Build("the circuit to the HSDir closed".into()),
    })?;
    let (mut ours, theirs) = tokio::io::duplex(PIPE);
    circuit.attach(id, theirs, Vec::new()).await;
    let body = request
        .encode()
        .map_err(|e| ClientError::Build(format!("cannot encode a directory request: {e}")))?;
    let len = u32::try_from(body.len()).map_err(|_| ClientError::Internal("a huge request"))?;
    let io = |e: std::io::Error| ClientError::Build(format!("the directory stream failed: {e}"));
    ours.write_all(&len.to_be_bytes()).await.map_err(io)?;
    ours.write_all(&body).await.map_err(io)?;
    let mut len = [0u8; 4];
    ours.read_exact(&mut len).await.map_err(io)?;
    let len = usize::try_from(u32::from_be_bytes(len)).unwrap_or(usize::MAX);
    if len > MAX_ANSWER {
        return Err(ClientError::Build(format!(
            "the HSDir's answer is {len} bytes, more than the {MAX_ANSWER} taken"
        )));
    }
    let mut answer = vec![0u8; len];
    ours.read_exact(&mut answer).await.map_err(io)?;
    DirResponse::decode(&answer)
        .map_err(|e| ClientError::Build(format!("the HSDir's answer is malformed: {e}")))
}
