//! The WebTransport side of a session: control on one bidirectional
//! stream, audio as datagrams, each video frame on its own unidirectional
//! stream.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use prost::Message;
use tokio::sync::{mpsc, Mutex};
use url::Url;
use web_transport_quinn::{SendStream, SessionError, WebTransportError};

use crate::config::JoinConfig;

/// Media streams read at once.
const STREAM_READERS: usize = 16;
use crate::error::{ClientError, CloseInfo};
use crate::framing::{self, DelimitedReader};
use crate::session::Inbound;
use crate::tls;
use edgecall_proto::wire::ServerMessage;

/// Sending half of a WebTransport session.
pub(crate) struct WtOut {
    session: web_transport_quinn::Session,
    control: Mutex<SendStream>,
}

/// How often an otherwise quiet connection sends a QUIC PING.
const KEEP_ALIVE: Duration = Duration::from_secs(1);
/// A connection that hears nothing for this long is dead. A relay that
/// crashed or lost its network sends nothing (not even a close), so this is
/// how long a publisher takes to notice and start reconnecting; five missed
/// keepalives ride out a short blip. The relay's own timeout is longer; the
/// shorter of the two applies to the connection.
const IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a session to `url` and starts the readers that feed `inbound`.
pub(crate) async fn connect(
    config: &JoinConfig,
    url: Url,
    inbound: mpsc::Sender<Inbound>,
) -> Result<WtOut, ClientError> {
    let connect_err = |reason: String| ClientError::Connect {
        url: url.to_string(),
        reason,
    };
    let crypto = tls::client_config(&config.trust, &[web_transport_quinn::ALPN.as_bytes()])?;
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(crypto)
        .map_err(|err| ClientError::Tls(err.to_string()))?;
    let mut client_config = quinn::ClientConfig::new(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    transport
        .keep_alive_interval(Some(KEEP_ALIVE))
        .max_idle_timeout(Some(
            quinn::IdleTimeout::try_from(IDLE_TIMEOUT).expect("5 s fits a varint"),
        ));
    client_config.transport_config(Arc::new(transport));

    let target_is_v6 = matches!(url.host(), Some(url::Host::Ipv6(_)));
    let bind: SocketAddr = if target_is_v6 {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    };
    let endpoint = quinn::Endpoint::client(bind)
        .map_err(|err| connect_err(format!("binding a UDP socket: {err}")))?;
    let client = web_transport_quinn::Client::new(endpoint, client_config);
    let session = client.connect(url.clone()).await.map_err(|err| {
        use web_transport_quinn::{ClientError as Wt, ConnectError};
        match err {
            Wt::HttpError(ConnectError::ErrorStatus(status))
            | Wt::HttpError(ConnectError::ProtoError(
                web_transport_quinn::proto::ConnectError::WrongStatus(Some(status)),
            )) => ClientError::Rejected {
                status: status.as_u16(),
            },
            other => connect_err(other.to_string()),
        }
    })?;
    let (send, recv) = session
        .open_bi()
        .await
        .map_err(|err| connect_err(format!("opening the control stream: {err}")))?;

    let max = config.max_message_bytes;
    tokio::spawn(read_control(
        DelimitedReader::new(recv, max),
        inbound.clone(),
    ));
    tokio::spawn(read_datagrams(session.clone(), inbound.clone()));
    tokio::spawn(read_streams(session.clone(), inbound.clone(), max));
    tokio::spawn(watch_close(session.clone(), inbound));
    Ok(WtOut {
        session,
        control: Mutex::new(send),
    })
}

impl WtOut {
    /// Writes one control message.
    pub(crate) async fn send_control(&self, message: &[u8]) -> Result<(), ClientError> {
        let framed = framing::encode(message);
        self.control
            .lock()
            .await
            .write_all(&framed)
            .await
            .map_err(|err| ClientError::Send(err.to_string()))
    }

    /// Sends one datagram (may be lost, never queued for long).
    pub(crate) fn send_datagram(&self, message: Bytes) -> Result<(), ClientError> {
        self.session
            .send_datagram(message)
            .map_err(|err| ClientError::Send(err.to_string()))
    }

    /// Sends one message on its own unidirectional stream.
    pub(crate) async fn send_stream(&self, message: &[u8]) -> Result<(), ClientError> {
        let mut stream = self
            .session
            .open_uni()
            .await
            .map_err(|err| ClientError::Send(err.to_string()))?;
        stream
            .write_all(message)
            .await
            .map_err(|err| ClientError::Send(err.to_string()))?;
        stream
            .finish()
            .map_err(|err| ClientError::Send(err.to_string()))
    }

    /// Opens a raw unidirectional stream (tests use it to misbehave).
    pub(crate) async fn open_raw_stream(&self) -> Result<SendStream, ClientError> {
        self.session
            .open_uni()
            .await
            .map_err(|err| ClientError::Send(err.to_string()))
    }

    /// Closes the session.
    pub(crate) fn close(&self, code: u32, reason: &str) {
        self.session.close(code, reason.as_bytes());
    }
}

fn decode(data: &[u8]) -> Option<ServerMessage> {
    match ServerMessage::decode(data) {
        Ok(message) => Some(message),
        Err(err) => {
            tracing::warn!(%err, "undecodable message from the server");
            None
        }
    }
}

async fn read_control(mut reader: DelimitedReader, inbound: mpsc::Sender<Inbound>) {
    loop {
        match reader.next().await {
            Ok(Some(data)) => {
                if let Some(message) = decode(&data) {
                    if inbound
                        .send(Inbound::Message(message, data.len()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
            Ok(None) => return,
            Err(err) => {
                tracing::debug!(%err, "control stream ended");
                return;
            }
        }
    }
}

async fn read_datagrams(session: web_transport_quinn::Session, inbound: mpsc::Sender<Inbound>) {
    while let Ok(data) = session.read_datagram().await {
        if let Some(message) = decode(&data) {
            if inbound
                .send(Inbound::Message(message, data.len()))
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

async fn read_streams(
    session: web_transport_quinn::Session,
    inbound: mpsc::Sender<Inbound>,
    max: usize,
) {
    // Bounded concurrent readers: a client that stops reading stops
    // accepting streams, and QUIC flow control pushes back on the server.
    let readers = Arc::new(tokio::sync::Semaphore::new(STREAM_READERS));
    loop {
        let Ok(permit) = readers.clone().acquire_owned().await else {
            return;
        };
        let Ok(mut stream) = session.accept_uni().await else {
            return;
        };
        let inbound = inbound.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match stream.read_to_end(max).await {
                Ok(data) => {
                    if let Some(message) = decode(&data) {
                        let _ = inbound.send(Inbound::Message(message, data.len())).await;
                    }
                }
                Err(err) => tracing::debug!(%err, "media stream dropped"),
            }
        });
    }
}

async fn watch_close(session: web_transport_quinn::Session, inbound: mpsc::Sender<Inbound>) {
    let info = close_info(session.closed().await);
    let _ = inbound.send(Inbound::Closed(info)).await;
}

fn close_info(err: SessionError) -> CloseInfo {
    match err {
        SessionError::WebTransportError(WebTransportError::Closed(code, reason)) => CloseInfo {
            code: Some(code),
            reason,
        },
        other => CloseInfo {
            code: None,
            reason: other.to_string(),
        },
    }
}
