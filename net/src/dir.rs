//! The directory protocol on libp2p request-response (docs/spec.md
//! §12.13): one substream per request, the request and the response each
//! framed as a 4-byte big-endian length and the message bytes.

use std::io;

use futures::prelude::*;
use libp2p::StreamProtocol;
use libp2p::request_response::{self, ResponseChannel};
use tokio::sync::{mpsc, oneshot};
use warren_crypto::RelayIdentity;
use warren_directory::dir_msg::{MAX_REQUEST_LEN, MAX_RESPONSE_LEN};
use warren_directory::{DirRequest, DirResponse};

/// The protocol name (§12.13).
pub const DIR_PROTOCOL: StreamProtocol = StreamProtocol::new("/warren/dir/1");

/// Frames directory messages as opaque bytes; [`DirRequest`] and
/// [`DirResponse`] decode them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DirCodec;

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T, max: usize) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = usize::try_from(u32::from_be_bytes(len)).unwrap_or(usize::MAX);
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a directory message of {len} bytes is over the limit of {max}"),
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(
    io: &mut T,
    bytes: &[u8],
    max: usize,
) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|_| bytes.len() <= max)
        .ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "directory message too large")
        })?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(bytes).await?;
    io.close().await
}

impl request_response::Codec for DirCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io, MAX_REQUEST_LEN).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io, MAX_RESPONSE_LEN).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &req, MAX_REQUEST_LEN).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &res, MAX_RESPONSE_LEN).await
    }
}

/// Requests from peers, waiting in a bounded queue for the daemon.
const INCOMING_QUEUE: usize = 64;

/// A directory request a peer sent, with the way back.
#[derive(Debug)]
pub struct IncomingDirRequest {
    /// The peer that sent it (a relay, an authority, or a client's
    /// throwaway identity).
    pub peer: RelayIdentity,
    /// What it asks.
    pub request: DirRequest,
    /// Where the answer goes.
    pub reply: DirReply,
}

/// The answer channel of one request.
#[derive(Debug)]
pub struct DirReply {
    channel: ResponseChannel<Vec<u8>>,
    responses: mpsc::Sender<(ResponseChannel<Vec<u8>>, Vec<u8>)>,
}

impl DirReply {
    /// Sends `response`. A peer that went away meanwhile is not an error.
    pub async fn send(self, response: DirResponse) {
        match response.encode() {
            Ok(bytes) => {
                let _ = self.responses.send((self.channel, bytes)).await;
            }
            Err(e) => tracing::warn!(error = %e, "could not encode a directory response"),
        }
    }
}

/// Directory requests that peers send to this host (none unless the host
/// serves the directory, [`crate::host::HostConfig::serve_directory`]).
pub struct IncomingDirRequests {
    pub(crate) rx: mpsc::Receiver<IncomingDirRequest>,
}

impl IncomingDirRequests {
    /// The next request; `None` once the host has stopped.
    pub async fn next(&mut self) -> Option<IncomingDirRequest> {
        self.rx.recv().await
    }
}

/// The swarm task's side of the incoming queue.
pub(crate) struct DirServer {
    pub(crate) incoming: mpsc::Sender<IncomingDirRequest>,
    pub(crate) responses: mpsc::Sender<(ResponseChannel<Vec<u8>>, Vec<u8>)>,
}

/// Answers on their way to the swarm task.
pub(crate) type Responses = mpsc::Receiver<(ResponseChannel<Vec<u8>>, Vec<u8>)>;

/// Creates the queues between the swarm task and the daemon.
pub(crate) fn queues() -> (DirServer, IncomingDirRequests, Responses) {
    let (incoming, rx) = mpsc::channel(INCOMING_QUEUE);
    let (responses, responses_rx) = mpsc::channel(INCOMING_QUEUE);
    (
        DirServer {
            incoming,
            responses,
        },
        IncomingDirRequests { rx },
        responses_rx,
    )
}

impl DirServer {
    /// Queues a request from `peer`; malformed requests are answered with a
    /// refusal at once, and a full queue with one saying so.
    pub(crate) fn offer(
        &self,
        peer: RelayIdentity,
        bytes: &[u8],
        channel: ResponseChannel<Vec<u8>>,
    ) -> Option<(ResponseChannel<Vec<u8>>, DirResponse)> {
        let request = match DirRequest::decode(bytes) {
            Ok(request) => request,
            Err(e) => return Some((channel, DirResponse::refused(e))),
        };
        let reply = DirReply {
            channel,
            responses: self.responses.clone(),
        };
        match self.incoming.try_send(IncomingDirRequest {
            peer,
            request,
            reply,
        }) {
            Ok(()) => None,
            Err(mpsc::error::TrySendError::Full(r) | mpsc::error::TrySendError::Closed(r)) => {
                Some((
                    r.reply.channel,
                    DirResponse::refused(
                        "the directory server is busy; try another or again later",
                    ),
                ))
            }
        }
    }
}

/// An outgoing request waiting for its answer.
pub(crate) type PendingResponse = oneshot::Sender<Result<Vec<u8>, String>>;
