//! A native WebSocket client speaking the edgecall protocol, for tests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use edgecall_proto::wire::{
    self, client_message, server_message, ClientMessage, MediaFrame, ServerMessage,
};
use edgecall_proto::PROTOCOL_VERSION;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use prost::Message as _;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Something the server did.
#[derive(Debug, Clone)]
pub enum Event {
    /// A decoded server message.
    Msg(server_message::Msg),
    /// The server closed the socket (code, reason), or it dropped.
    Closed(Option<(u16, String)>),
}

/// A connected participant.
pub struct Client {
    sink: SplitSink<Ws, Message>,
    inbox: mpsc::UnboundedReceiver<Event>,
    /// Binary bytes read off the socket so far.
    read_bytes: Arc<AtomicU64>,
    /// What the host asked for in its Welcome (`Limits.ack_interval_ms`).
    ack_interval: Option<Duration>,
    acked_bytes: u64,
    last_ack: Option<tokio::time::Instant>,
    /// The id the server assigned.
    pub id: u32,
    /// The welcome, with the roster at join time.
    pub welcome: wire::Welcome,
}

/// The HTTP status of a refused WebSocket upgrade, or `None` if the
/// upgrade succeeded.
pub async fn upgrade_status(url: &str) -> Result<Option<u16>> {
    match tokio_tungstenite::connect_async(url).await {
        Ok(_) => Ok(None),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Ok(Some(resp.status().as_u16())),
        Err(err) => Err(anyhow!("connecting to {url}: {err}")),
    }
}

impl Client {
    /// Connects to `url` (a full `ws://…/api/rooms/<room>/ws?…` URL), says
    /// Hello and waits for the Welcome.
    pub async fn join(url: &str) -> Result<Self> {
        Self::join_resuming(url, &[]).await
    }

    /// Like [`Client::join`], presenting the resume secret of an earlier
    /// session (open mode) in the Hello.
    pub async fn join_resuming(url: &str, resume_secret: &[u8]) -> Result<Self> {
        let mut client = Self::connect_silent(url).await?;
        client
            .send(client_message::Msg::Hello(wire::Hello {
                protocol_version: PROTOCOL_VERSION,
                client: "edgecall-e2e".into(),
                media_state: None,
                resume_secret: resume_secret.to_vec().into(),
            }))
            .await?;
        let welcome = match client.next(Duration::from_secs(15)).await {
            Some(Event::Msg(server_message::Msg::Welcome(w))) => w,
            other => bail!("expected Welcome from {url}, got {other:?}"),
        };
        client.id = welcome.participant_id;
        client.ack_interval = welcome
            .limits
            .as_ref()
            .map(|l| u64::from(l.ack_interval_ms))
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis);
        client.welcome = welcome;
        client.acknowledge().await?;
        Ok(client)
    }

    /// Opens the WebSocket and says nothing (not even Hello).
    pub async fn connect_silent(url: &str) -> Result<Self> {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .with_context(|| format!("connecting to {url}"))?;
        let (sink, mut stream) = ws.split();
        let (tx, inbox) = mpsc::unbounded_channel();
        let read_bytes = Arc::new(AtomicU64::new(0));
        let counter = read_bytes.clone();
        tokio::spawn(async move {
            while let Some(frame) = stream.next().await {
                if let Ok(Message::Binary(data)) = &frame {
                    counter.fetch_add(data.len() as u64, Ordering::Relaxed);
                }
                let event = match frame {
                    Ok(Message::Binary(data)) => match ServerMessage::decode(data) {
                        Ok(ServerMessage { msg: Some(msg) }) => Event::Msg(msg),
                        _ => continue,
                    },
                    Ok(Message::Close(frame)) => {
                        Event::Closed(frame.map(|f| (u16::from(f.code), f.reason.to_string())))
                    }
                    Ok(_) => continue,
                    Err(_) => Event::Closed(None),
                };
                let closed = matches!(event, Event::Closed(_));
                if tx.send(event).is_err() || closed {
                    break;
                }
            }
        });
        Ok(Self {
            sink,
            inbox,
            read_bytes,
            ack_interval: None,
            acked_bytes: 0,
            last_ack: None,
            id: 0,
            welcome: wire::Welcome::default(),
        })
    }

    /// Acknowledges what was read, as every client must on hosts that ask
    /// for it, at most once per the host's interval.
    async fn acknowledge(&mut self) -> Result<()> {
        let Some(interval) = self.ack_interval else {
            return Ok(());
        };
        let read = self.read_bytes.load(Ordering::Relaxed);
        let now = tokio::time::Instant::now();
        if read == self.acked_bytes || self.last_ack.is_some_and(|at| now - at < interval) {
            return Ok(());
        }
        self.acked_bytes = read;
        self.last_ack = Some(now);
        self.send(client_message::Msg::Ack(wire::Ack {
            received_bytes: read,
        }))
        .await
    }

    /// Sends one client message.
    pub async fn send(&mut self, msg: client_message::Msg) -> Result<()> {
        let data = ClientMessage { msg: Some(msg) }.encode_to_vec();
        self.send_raw(data).await
    }

    /// Sends a media frame.
    pub async fn media(&mut self, frame: MediaFrame) -> Result<()> {
        self.send(client_message::Msg::Media(frame)).await
    }

    /// Sends arbitrary bytes as one binary message.
    pub async fn send_raw(&mut self, data: Vec<u8>) -> Result<()> {
        self.sink
            .send(Message::Binary(data.into()))
            .await
            .context("sending a binary message")
    }

    /// Sends the text keep-alive (the edge's runtime answers it without
    /// waking the room; the relay answers it too).
    pub async fn keepalive(&mut self) -> Result<()> {
        self.send_text(edgecall_proto::KEEPALIVE_PING).await
    }

    /// Sends a text message (only the keep-alive is part of the protocol).
    pub async fn send_text(&mut self, text: &str) -> Result<()> {
        self.sink
            .send(Message::Text(text.into()))
            .await
            .context("sending a text message")
    }

    /// Next event within `limit` (acknowledging what was read when due).
    pub async fn next(&mut self, limit: Duration) -> Option<Event> {
        let event = tokio::time::timeout(limit, self.inbox.recv())
            .await
            .ok()
            .flatten();
        // A failed Ack means the socket is closing; the close is the next
        // event.
        let _ = self.acknowledge().await;
        event
    }

    /// Takes every event already received without waiting (and
    /// acknowledges them when due); for senders that do not look at what
    /// they receive. Returns how many there were.
    pub async fn drain_ready(&mut self) -> usize {
        let mut taken = 0;
        while self.inbox.try_recv().is_ok() {
            taken += 1;
        }
        let _ = self.acknowledge().await;
        taken
    }

    /// Waits for a message matching `want`, skipping others.
    pub async fn wait_for<T>(
        &mut self,
        limit: Duration,
        mut want: impl FnMut(&server_message::Msg) -> Option<T>,
    ) -> Result<T> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(Event::Msg(msg)) => {
                    if let Some(found) = want(&msg) {
                        return Ok(found);
                    }
                }
                Some(Event::Closed(c)) => bail!("closed while waiting: {c:?}"),
                None => bail!("nothing matching within {limit:?}"),
            }
        }
    }

    /// The next media frame, or `None` once the connection is closed.
    pub async fn next_media(&mut self) -> Option<MediaFrame> {
        loop {
            let event = self.inbox.recv().await?;
            let _ = self.acknowledge().await;
            match event {
                Event::Msg(server_message::Msg::Media(frame)) => return Some(frame),
                Event::Msg(_) => {}
                Event::Closed(_) => return None,
            }
        }
    }

    /// Collects media frames until `n` of them satisfy `counts` (or `limit`
    /// passes), then on until nothing arrives for `quiet`, so frames that
    /// should not have come are caught too. Waiting for the expected frames
    /// themselves takes as long as the host needs, however slow the
    /// machine; only "nothing more" is judged by a quiet spell.
    pub async fn media_at_least(
        &mut self,
        n: usize,
        counts: impl Fn(&MediaFrame) -> bool,
        limit: Duration,
        quiet: Duration,
    ) -> Vec<MediaFrame> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut frames = Vec::new();
        while frames.iter().filter(|f| counts(f)).count() < n {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(Event::Msg(server_message::Msg::Media(frame))) => frames.push(frame),
                Some(Event::Msg(_)) => {}
                Some(Event::Closed(_)) | None => return frames,
            }
        }
        frames.extend(self.media_until_quiet(quiet).await);
        frames
    }

    /// Collects media frames until nothing arrives for `quiet`.
    pub async fn media_until_quiet(&mut self, quiet: Duration) -> Vec<MediaFrame> {
        let mut frames = Vec::new();
        while let Some(event) = self.next(quiet).await {
            match event {
                Event::Msg(server_message::Msg::Media(frame)) => frames.push(frame),
                Event::Msg(_) => {}
                Event::Closed(_) => break,
            }
        }
        frames
    }

    /// Waits for the server to close the socket; returns code and reason,
    /// and the Error message it sent first, if any.
    pub async fn wait_closed(&mut self, limit: Duration) -> Result<(u16, Option<wire::Error>)> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut error = None;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(Event::Msg(server_message::Msg::Error(e))) => error = Some(e),
                Some(Event::Msg(_)) => {}
                Some(Event::Closed(Some((code, _)))) => return Ok((code, error)),
                Some(Event::Closed(None)) => bail!("dropped without a close frame"),
                None => bail!("not closed within {limit:?}"),
            }
        }
    }

    /// Sends a ping and waits for the pong.
    pub async fn ping(&mut self, nonce: u64) -> Result<()> {
        self.send(client_message::Msg::Ping(wire::Ping { nonce }))
            .await?;
        self.wait_for(Duration::from_secs(10), |m| match m {
            server_message::Msg::Pong(p) if p.nonce == nonce => Some(()),
            _ => None,
        })
        .await
    }

    /// The chat history the host sent right after the Welcome, as
    /// (sender name, text) pairs; empty when none came before the answer
    /// to a Ping sent now (a history is queued with the Welcome, ahead of
    /// anything the client asks later).
    pub async fn history_after_welcome(&mut self) -> Result<Vec<(String, String)>> {
        const NONCE: u64 = 0x4849_5354;
        self.send(client_message::Msg::Ping(wire::Ping { nonce: NONCE }))
            .await?;
        let history = self
            .wait_for(Duration::from_secs(10), |m| match m {
                server_message::Msg::ChatHistory(h) => Some(
                    h.messages
                        .iter()
                        .map(|c| (c.sender_name.clone(), c.text.clone()))
                        .collect(),
                ),
                server_message::Msg::Pong(p) if p.nonce == NONCE => Some(Vec::new()),
                _ => None,
            })
            .await?;
        Ok(history)
    }

    /// Sends a cleartext chat message.
    pub async fn chat(&mut self, text: &str) -> Result<()> {
        self.send(client_message::Msg::Chat(wire::Chat {
            text: text.to_owned(),
            ..wire::Chat::default()
        }))
        .await
    }

    /// Closes the socket cleanly.
    pub async fn leave(mut self) -> Result<()> {
        self.sink
            .send(Message::Close(Some(
                tokio_tungstenite::tungstenite::protocol::CloseFrame {
                    code: WsCloseCode::Normal,
                    reason: "bye".into(),
                },
            )))
            .await
            .context("closing")
    }
}

/// A relay's trunk to the edge, speaking link messages (what a relay's
/// engine would send), for tests of the edge side of a link.
pub struct Trunk {
    sink: SplitSink<Ws, Message>,
    inbox: mpsc::UnboundedReceiver<Option<wire::link_message::Msg>>,
    pongs: Arc<AtomicU64>,
}

impl Trunk {
    /// Opens `url` with `Authorization: Bearer <secret>` and, when given,
    /// the relay's join-token proof; on refusal returns the HTTP status as
    /// the error's message.
    pub async fn connect(url: &str, secret: &str, token_proof: Option<&str>) -> Result<Self> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = url.into_client_request()?;
        request.headers_mut().insert(
            "Authorization",
            format!("Bearer {secret}").parse().context("header value")?,
        );
        if let Some(proof) = token_proof {
            request.headers_mut().insert(
                edgecall_proto::token::TRUNK_TOKEN_PROOF_HEADER,
                proof.parse().context("header value")?,
            );
        }
        let (ws, _) = match tokio_tungstenite::connect_async(request).await {
            Ok(ok) => ok,
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                bail!("refused with HTTP {}", resp.status().as_u16())
            }
            Err(err) => bail!("connecting the trunk to {url}: {err}"),
        };
        let (sink, mut stream) = ws.split();
        let (tx, inbox) = mpsc::unbounded_channel();
        let pongs = Arc::new(AtomicU64::new(0));
        let counter = pongs.clone();
        tokio::spawn(async move {
            while let Some(Ok(frame)) = stream.next().await {
                match frame {
                    Message::Text(text) if text.as_str() == edgecall_proto::KEEPALIVE_PONG => {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    Message::Binary(data) => {
                        if let Ok(wire::LinkMessage { msg: Some(msg) }) =
                            wire::LinkMessage::decode(data)
                        {
                            if tx.send(Some(msg)).is_err() {
                                break;
                            }
                        }
                    }
                    Message::Close(_) => break,
                    _ => {}
                }
            }
            let _ = tx.send(None);
        });
        Ok(Self { sink, inbox, pongs })
    }

    /// Sends a text frame (e.g. the keep-alive [`edgecall_proto::KEEPALIVE_PING`]).
    pub async fn send_text(&mut self, text: &str) -> Result<()> {
        self.sink
            .send(Message::text(text))
            .await
            .context("sending text on the trunk")
    }

    /// Keep-alive answers ([`edgecall_proto::KEEPALIVE_PONG`]) received so far.
    pub fn pongs(&self) -> u64 {
        self.pongs.load(Ordering::Relaxed)
    }

    /// Sends one link message.
    pub async fn send(&mut self, msg: wire::link_message::Msg) -> Result<()> {
        let data = wire::LinkMessage { msg: Some(msg) }.encode_to_vec();
        self.sink
            .send(Message::Binary(data.into()))
            .await
            .context("sending on the trunk")
    }

    /// Waits for a link message matching `want`.
    pub async fn wait_for<T>(
        &mut self,
        limit: Duration,
        mut want: impl FnMut(&wire::link_message::Msg) -> Option<T>,
    ) -> Result<T> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.inbox.recv()).await {
                Ok(Some(Some(msg))) => {
                    if let Some(found) = want(&msg) {
                        return Ok(found);
                    }
                }
                Ok(_) => bail!("trunk closed while waiting"),
                Err(_) => bail!("nothing matching on the trunk within {limit:?}"),
            }
        }
    }

    /// Closes the trunk.
    pub async fn close(mut self) -> Result<()> {
        self.sink
            .send(Message::Close(None))
            .await
            .context("closing the trunk")
    }
}
