//! The WebSocket side of a session: one protobuf message per binary frame.

use std::sync::Arc;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use prost::Message as _;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::Connector;
use url::Url;

use crate::config::JoinConfig;
use crate::error::{ClientError, CloseInfo};
use crate::session::Inbound;
use crate::tls;
use edgecall_proto::wire::ServerMessage;
use edgecall_proto::KEEPALIVE_PONG;

/// Messages queued for the socket writer.
const OUTBOUND_QUEUE: usize = 1024;

/// Sending half of a WebSocket session.
pub(crate) struct WsOut {
    outbound: mpsc::Sender<Message>,
}

/// Opens a WebSocket to `url` and starts the reader that feeds `inbound`.
pub(crate) async fn connect(
    config: &JoinConfig,
    url: Url,
    inbound: mpsc::Sender<Inbound>,
) -> Result<WsOut, ClientError> {
    let connect_err = |reason: String| ClientError::Connect {
        url: url.to_string(),
        reason,
    };
    let host = url
        .host_str()
        .ok_or_else(|| ClientError::Config(format!("{url} has no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|err| connect_err(err.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let connector = if url.scheme() == "wss" {
        Connector::Rustls(Arc::new(tls::client_config(&config.trust, &[b"http/1.1"])?))
    } else {
        Connector::Plain
    };
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(config.max_message_bytes))
        .max_frame_size(Some(config.max_message_bytes));
    let (socket, _response) = tokio_tungstenite::client_async_tls_with_config(
        url.as_str(),
        tcp,
        Some(ws_config),
        Some(connector),
    )
    .await
    .map_err(|err| match err {
        tungstenite::Error::Http(response) => ClientError::Rejected {
            status: response.status().as_u16(),
        },
        other => connect_err(other.to_string()),
    })?;
    let (mut sink, mut stream) = socket.split();
    let (outbound, mut queue) = mpsc::channel::<Message>(OUTBOUND_QUEUE);
    tokio::spawn(async move {
        while let Some(message) = queue.recv().await {
            let closing = matches!(message, Message::Close(_));
            if sink.send(message).await.is_err() || closing {
                return;
            }
        }
        let _ = sink.close().await;
    });
    tokio::spawn(async move {
        let info = loop {
            match stream.next().await {
                Some(Ok(Message::Binary(data))) => {
                    let wire_bytes = data.len();
                    match ServerMessage::decode(data) {
                        Ok(message) => {
                            let message = Inbound::Message(message, wire_bytes);
                            if inbound.send(message).await.is_err() {
                                return;
                            }
                        }
                        Err(err) => tracing::warn!(%err, "undecodable message from the server"),
                    }
                }
                Some(Ok(Message::Text(text))) if text.as_str() == KEEPALIVE_PONG => {
                    if inbound.send(Inbound::KeepaliveAnswer).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    break match frame {
                        Some(frame) => CloseInfo {
                            code: Some(u32::from(u16::from(frame.code))),
                            reason: frame.reason.to_string(),
                        },
                        None => CloseInfo {
                            code: None,
                            reason: "closed without a code".into(),
                        },
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(err)) => {
                    break CloseInfo {
                        code: None,
                        reason: err.to_string(),
                    }
                }
                None => {
                    break CloseInfo {
                        code: None,
                        reason: "connection ended".into(),
                    }
                }
            }
        };
        let _ = inbound.send(Inbound::Closed(info)).await;
    });
    Ok(WsOut { outbound })
}

impl WsOut {
    /// Queues one binary message.
    pub(crate) async fn send(&self, message: Bytes) -> Result<(), ClientError> {
        self.outbound
            .send(Message::Binary(message))
            .await
            .map_err(|_| ClientError::Send("the WebSocket is closed".into()))
    }

    /// Queues one text message (the keep-alive).
    pub(crate) async fn send_text(&self, text: &str) -> Result<(), ClientError> {
        self.outbound
            .send(Message::text(text))
            .await
            .map_err(|_| ClientError::Send("the WebSocket is closed".into()))
    }

    /// Closes the socket with `code`.
    pub(crate) fn close(&self, code: u16, reason: &str) {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_owned().into(),
        };
        let _ = self.outbound.try_send(Message::Close(Some(frame)));
    }
}
