//! One joined session: hello/welcome, sending, receiving, keep-alive/RTT
//! and, where the host asks for it, acknowledging what was received.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use edgecall_proto::room::SendBudget;
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
    /// A message and the size it had on the wire.
    Message(ServerMessage, usize),
    /// The answer to a WebSocket text keep-alive.
    KeepaliveAnswer,
    Closed(CloseInfo),
}

/// What a message is charged as.
#[derive(Debug, Clone, Copy)]
enum Charge {
    Media,
    Chat,
    Control,
}

/// Keep-alives unanswered for this long no longer count for the RTT.
const KEEPALIVE_FORGET: Duration = Duration::from_secs(30);

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
    /// When the unanswered WebSocket keep-alive went out.
    keepalive_sent: Option<Instant>,
    rtt: Option<Duration>,
    closed: Option<CloseInfo>,
    acks: Acks,
    /// What the host's announced limits still allow (after the `Welcome`,
    /// unless the config says otherwise).
    budget: Option<std::sync::Mutex<SendBudget>>,
    started: Instant,
}

/// What this session has read and acknowledged (hosts whose `Welcome`
/// sets `Limits.ack_interval_ms`).
#[derive(Debug, Default)]
struct Acks {
    interval: Option<Duration>,
    received_bytes: u64,
    acked_bytes: u64,
    last_ack: Option<Instant>,
}

impl Acks {
    /// The total to acknowledge now, if an `Ack` is due: something new was
    /// read and the interval passed (or `flush`).
    fn due(&mut self, now: Instant, flush: bool) -> Option<u64> {
        let interval = self.interval?;
        if self.received_bytes == self.acked_bytes {
            return None;
        }
        let waited = self
            .last_ack
            .is_none_or(|at| now.duration_since(at) >= interval);
        if !(waited || flush) {
            return None;
        }
        self.acked_bytes = self.received_bytes;
        self.last_ack = Some(now);
        Some(self.received_bytes)
    }
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
            keepalive_sent: None,
            rtt: None,
            closed: None,
            acks: Acks::default(),
            budget: None,
            started: Instant::now(),
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
        let ack_interval_ms = session
            .welcome
            .limits
            .as_ref()
            .map_or(0, |l| l.ack_interval_ms);
        if config.respect_limits {
            let budget = SendBudget::new(session.welcome.limits.as_ref(), session.clock_ms());
            session.budget = Some(std::sync::Mutex::new(budget));
        }
        if ack_interval_ms > 0 && session.transport() == TransportKind::WebSocket {
            session.acks.interval = Some(Duration::from_millis(u64::from(ack_interval_ms)));
            session.acknowledge(true).await?;
        }
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

    /// Sends a control message (reliable, in order). A chat message over
    /// the host's chat rate or size is not sent ([`ClientError::Withheld`]).
    pub async fn send(&self, msg: client_message::Msg) -> Result<(), ClientError> {
        let is_chat = matches!(msg, client_message::Msg::Chat(_));
        let data = ClientMessage { msg: Some(msg) }.encode_to_vec();
        self.charge(
            data.len(),
            if is_chat {
                Charge::Chat
            } else {
                Charge::Control
            },
        )?;
        self.send_raw_control(data.into()).await
    }

    /// Milliseconds since the session started (the budget's clock).
    fn clock_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Charges `len` bytes to the budget, or says why they must wait.
    fn charge(&self, len: usize, kind: Charge) -> Result<(), ClientError> {
        let Some(budget) = &self.budget else {
            return Ok(());
        };
        let now = self.clock_ms();
        let mut budget = budget
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match kind {
            Charge::Media => budget.media(len, now)?,
            Charge::Chat => budget.chat(len, now)?,
            Charge::Control => budget.control(len, now),
        }
        Ok(())
    }

    /// Sends a media frame: audio as a datagram, video on its own stream
    /// (on WebSocket, both as binary messages). A frame the host's limits
    /// would refuse is not sent ([`ClientError::Withheld`]).
    pub async fn send_media(&self, frame: MediaFrame) -> Result<(), ClientError> {
        let is_audio = frame.track == Track::Audio as i32;
        let data = Bytes::from(
            ClientMessage {
                msg: Some(client_message::Msg::Media(frame)),
            }
            .encode_to_vec(),
        );
        self.charge(data.len(), Charge::Media)?;
        match (&self.out, is_audio) {
            (Outbound::Wt(out), true) => out.send_datagram(data),
            (Outbound::Wt(out), false) => out.send_stream(&data).await,
            (Outbound::Ws(out), _) => out.send(data).await,
        }
    }

    /// Keeps the session alive and measures the round-trip time (see
    /// [`Session::rtt`]): on a WebSocket a text keep-alive, which the edge
    /// answers without waking its room, and an `Ack` of anything read but
    /// not yet acknowledged; on WebTransport a `Ping` (its `Pong` comes
    /// back through [`Session::recv`]). Call it every few seconds.
    pub async fn ping(&mut self) -> Result<(), ClientError> {
        let now = Instant::now();
        match &self.out {
            Outbound::Ws(out) => {
                if self
                    .keepalive_sent
                    .is_none_or(|at| now.duration_since(at) > KEEPALIVE_FORGET)
                {
                    self.keepalive_sent = Some(now);
                }
                out.send_text(edgecall_proto::KEEPALIVE_PING).await?;
                self.acknowledge(true).await
            }
            Outbound::Wt(_) => {
                let nonce = self.next_nonce;
                self.next_nonce += 1;
                self.pings
                    .retain(|_, at| now.duration_since(*at) < KEEPALIVE_FORGET);
                self.pings.insert(nonce, now);
                self.send(client_message::Msg::Ping(wire::Ping { nonce }))
                    .await
            }
        }
    }

    /// Sends an `Ack` when one is due (or anything is unacknowledged and
    /// `flush`).
    async fn acknowledge(&mut self, flush: bool) -> Result<(), ClientError> {
        match self.acks.due(Instant::now(), flush) {
            Some(received_bytes) => {
                self.send(client_message::Msg::Ack(wire::Ack { received_bytes }))
                    .await
            }
            None => Ok(()),
        }
    }

    /// The most recent measured round-trip time.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// The next message from the server, in arrival order across the
    /// control stream, datagrams and media streams. Fails with
    /// [`ClientError::Closed`] once the session is over.
    pub async fn recv(&mut self) -> Result<ServerMessage, ClientError> {
        loop {
            if let Some(info) = &self.closed {
                return Err(ClientError::Closed(info.clone()));
            }
            match self.inbound.recv().await {
                Some(Inbound::Message(message, wire_bytes)) => {
                    if let Some(server_message::Msg::Pong(pong)) = &message.msg {
                        if let Some(sent) = self.pings.remove(&pong.nonce) {
                            self.rtt = Some(sent.elapsed());
                        }
                    }
                    self.acks.received_bytes += wire_bytes as u64;
                    // A failed Ack means the session is closing; the close
                    // arrives as the next message.
                    let _ = self.acknowledge(false).await;
                    return Ok(message);
                }
                Some(Inbound::KeepaliveAnswer) => {
                    if let Some(sent) = self.keepalive_sent.take() {
                        self.rtt = Some(sent.elapsed());
                    }
                }
                Some(Inbound::Closed(info)) => {
                    self.closed = Some(info.clone());
                }
                None => {
                    self.closed = Some(CloseInfo {
                        code: None,
                        reason: "all readers ended".into(),
                    });
                }
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
