//! Transports: a WebSocket (one protobuf message per binary frame) or a
//! WebTransport session (length-prefixed control on one bidirectional
//! stream, audio as datagrams, each video frame on its own unidirectional
//! stream). Both hand received messages to one sink.

pub mod ws;
pub mod wt;

use std::rc::Rc;

use crate::config::{Attempt, TransportKind};

/// What a transport hands the call.
#[derive(Debug)]
pub enum Inbound {
    /// One encoded `ServerMessage`.
    Message(Vec<u8>),
    /// The answer to the WebSocket text keep-alive.
    KeepaliveAnswer,
    /// The connection ended (the reason, human readable).
    Closed(String),
}

/// Where a transport delivers.
pub type Sink = Rc<dyn Fn(Inbound)>;

/// Longest message accepted from the server.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// An open connection.
pub enum Connection {
    /// WebSocket.
    Ws(ws::WsConn),
    /// WebTransport.
    Wt(wt::WtConn),
}

impl Connection {
    /// Opens the connection `attempt` describes.
    pub async fn open(attempt: &Attempt, sink: Sink) -> Result<Self, String> {
        match attempt {
            Attempt::WebSocket { url } => ws::WsConn::open(url, sink).await.map(Connection::Ws),
            Attempt::WebTransport { url, cert_hash } => wt::WtConn::open(url, cert_hash, sink)
                .await
                .map(Connection::Wt),
        }
    }

    /// The transport in use.
    pub fn kind(&self) -> TransportKind {
        match self {
            Connection::Ws(_) => TransportKind::WebSocket,
            Connection::Wt(_) => TransportKind::WebTransport,
        }
    }

    /// Sends a control message (reliable, in order).
    pub fn send_control(&self, data: &[u8]) {
        match self {
            Connection::Ws(c) => c.send(data),
            Connection::Wt(c) => c.send_control(data),
        }
    }

    /// Sends the WebSocket text keep-alive (nothing on WebTransport, which
    /// keeps alive with `Ping` messages).
    pub fn send_keepalive(&self) {
        if let Connection::Ws(c) = self {
            c.send_text(edgecall_proto::KEEPALIVE_PING);
        }
    }

    /// Sends a media message; returns false when it was dropped because
    /// the connection is backed up (the caller then asks for a keyframe).
    pub fn send_media(&self, data: &[u8], audio: bool) -> bool {
        match self {
            Connection::Ws(c) => c.send_media(data, audio),
            Connection::Wt(c) => {
                if audio {
                    c.send_datagram(data);
                } else {
                    c.send_stream(data);
                }
                true
            }
        }
    }

    /// Closes the connection (no further `Closed` is delivered).
    pub fn close(&self) {
        match self {
            Connection::Ws(c) => c.close(),
            Connection::Wt(c) => c.close(),
        }
    }
}
