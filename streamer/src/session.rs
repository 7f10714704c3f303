//! One joined session: hello/welcome, sending, receiving, ping/RTT.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use edgecall_proto::wire::{
    self, client_message, server_message, ClientMessage, MediaFrame, ServerMessage, Track,
};
use edgecall_proto::PROTOCOL_VERSION;
use prost::Message;
use tokio::sync::mpsc;

use crate::config::{JoinConfig, TransportKind};
use crate::error::{ClientError, CloseInfo};
use crate::{ws, wt};

/// How long the server has to answer `Hello` with `Welcome`.
const WELCOME_TIMEOUT: Duration = Duration::from_secs(10);

/// What the transport readers hand the session.
pub(crate) enum Inbound {
    Message(ServerMessage),
    Closed(CloseInfo),
}

enum Outbound {
    Wt(Box<wt::WtOut>),
    Ws(ws::WsOut),
}

/// A participant in a room. Created by [`Session::connect`], which returns
/// once the server's `Welcome` arrived.
pub struct Session {
    out: Outbound,
    inbound: mpsc::Receiver<Inbound>,
    welcome: wire::Welcome,
    pings: HashMap<u64, Instant>,
    next_nonce: u64,
    rtt: Option<Duration>,
    closed: Option<CloseInfo>,
}

impl Session {
    /// Connects, sends `Hello` and waits for `Welcome`.
    pub async fn connect(config: &JoinConfig) -> Result<Self, ClientError> {
        let url = config.session_url()?;
        let (tx, inbound) = mpsc::channel(config.inbound_queue.max(1));
        let out = match config.transport {
            TransportKind::WebTransport => {
                Outbound::Wt(Box::new(wt::connect(config, url, tx).await?))
            }
            TransportKind::WebSocket => Outbound::Ws(ws::connect(config, url, tx).await?),
        };
        let mut session = Self {
            out,
            inbound,
            welcome: wire::Welcome::default(),
            pings: HashMap::new(),
            next_nonce: 1,
            rtt: None,
            closed: None,
        };
        session
            .send(client_message::Msg::Hello(wire::Hello {
                protocol_version: PROTOCOL_VERSION,
                client: config.client.clone(),
                media_state: Some(wire::MediaState::default()),
                ..wire::Hello::default()
            }))
            .await?;
        session.welcome = tokio::time::timeout(WELCOME_TIMEOUT, session.await_welcome())
            .await
            .map_err(|_| ClientError::Timeout("Welcome"))??;
        Ok(session)
    }

    async fn await_welcome(&mut self) -> Result<wire::Welcome, ClientError> {
        let mut error = None;
        loop {
            match self.recv().await {
                Ok(ServerMessage {
                    msg: Some(server_message::Msg::Welcome(welcome)),
                }) => return Ok(welcome),
                Ok(ServerMessage {
                    msg: Some(server_message::Msg::Error(err)),
                }) => error = Some(err.message),
                Ok(_) => {}
                Err(ClientError::Closed(mut info)) => {
                    if let Some(message) = error {
                        info.reason = message;
                    }
                    return Err(ClientError::Closed(info));
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// The server's `Welcome`: our participant id and the roster at join.
    pub fn welcome(&self) -> &wire::Welcome {
        &self.welcome
    }

    /// Our participant id in the room.
    pub fn participant_id(&self) -> u32 {
        self.welcome.participant_id
    }

    /// The transport in use.
    pub fn transport(&self) -> TransportKind {
        match self.out {
            Outbound::Wt(_) => TransportKind::WebTransport,
            Outbound::Ws(_) => TransportKind::WebSocket,
        }
    }

    /// Sends a control message (reliable, in order).
    pub async fn send(&self, msg: client_message::Msg) -> Result<(), ClientError> {
        let data = ClientMessage { msg: Some(msg) }.encode_to_vec();
        self.send_raw_control(data.into()).await
    }

    /// Sends a media frame: audio as a datagram, video on its own stream
    /// (on WebSocket, both as binary messages).
    pub async fn send_media(&self, frame: MediaFrame) -> Result<(), ClientError> {
        let is_audio = frame.track == Track::Audio as i32;
        let data = Bytes::from(
            ClientMessage {
                msg: Some(client_message::Msg::Media(frame)),
            }
            .encode_to_vec(),
        );
        match (&self.out, is_audio) {
            (Outbound::Wt(out), true) => out.send_datagram(data),
            (Outbound::Wt(out), false) => out.send_stream(&data).await,
            (Outbound::Ws(out), _) => out.send(data).await,
        }
    }

    /// Sends a ping; its round-trip time is recorded when the pong is
    /// received (see [`Session::rtt`]). Returns the nonce.
    pub async fn ping(&mut self) -> Result<u64, ClientError> {
        let nonce = self.next_nonce;
        self.next_nonce += 1;
        self.pings.insert(nonce, Instant::now());
        self.send(client_message::Msg::Ping(wire::Ping { nonce }))
            .await?;
        Ok(nonce)
    }

    /// The most recent measured round-trip time.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// The next message from the server, in arrival order across the
    /// control stream, datagrams and media streams. Fails with
    /// [`ClientError::Closed`] once the session is over.
    pub async fn recv(&mut self) -> Result<ServerMessage, ClientError> {
        if let Some(info) = &self.closed {
            return Err(ClientError::Closed(info.clone()));
        }
        match self.inbound.recv().await {
            Some(Inbound::Message(message)) => {
                if let Some(server_message::Msg::Pong(pong)) = &message.msg {
                    if let Some(sent) = self.pings.remove(&pong.nonce) {
                        self.rtt = Some(sent.elapsed());
                    }
                }
                Ok(message)
            }
            Some(Inbound::Closed(info)) => {
                self.closed = Some(info.clone());
                Err(ClientError::Closed(info))
            }
            None => {
                let info = CloseInfo {
                    code: None,
                    reason: "all readers ended".into(),
                };
                self.closed = Some(info.clone());
                Err(ClientError::Closed(info))
            }
        }
    }

    /// Sends already-encoded bytes on the control channel, unchecked (for
    /// tests and fuzzing: lets a client misbehave on purpose).
    pub async fn send_raw_control(&self, data: Bytes) -> Result<(), ClientError> {
        match &self.out {
            Outbound::Wt(out) => out.send_control(&data).await,
            Outbound::Ws(out) => out.send(data).await,
        }
    }

    /// Sends arbitrary bytes as one datagram (WebTransport) or binary
    /// message (WebSocket), unchecked (for tests).
    pub async fn send_raw_datagram(&self, data: Bytes) -> Result<(), ClientError> {
        match &self.out {
            Outbound::Wt(out) => out.send_datagram(data),
            Outbound::Ws(out) => out.send(data).await,
        }
    }

    /// Sends arbitrary bytes on a new unidirectional stream (WebTransport;
    /// a binary message on WebSocket), unchecked (for tests).
    pub async fn send_raw_stream(&self, data: Bytes) -> Result<(), ClientError> {
        match &self.out {
            Outbound::Wt(out) => out.send_stream(&data).await,
            Outbound::Ws(out) => out.send(data).await,
        }
    }

    /// Opens a unidirectional stream and leaves it to the caller
    /// (WebTransport only; for tests that abandon a frame half-written).
    pub async fn open_raw_stream(&self) -> Result<web_transport_quinn::SendStream, ClientError> {
        match &self.out {
            Outbound::Wt(out) => out.open_raw_stream().await,
            Outbound::Ws(_) => Err(ClientError::Send(
                "raw streams exist only on WebTransport".into(),
            )),
        }
    }

    /// Closes the session (code 1000 on WebSocket, 0 on WebTransport).
    pub fn close(&self) {
        match &self.out {
            Outbound::Wt(out) => out.close(0, "bye"),
            Outbound::Ws(out) => out.close(1000, "bye"),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.close();
    }
}
