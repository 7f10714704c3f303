//! One room's trunk connection loop: connect to the edge, pump bytes both
//! ways, keep the WebSocket alive, and reconnect with jittered, capped
//! backoff until the room task says stop.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use edgecall_proto::room::Delivery;
use edgecall_proto::token::TRUNK_TOKEN_PROOF_HEADER;
use edgecall_proto::{KEEPALIVE_PING, KEEPALIVE_PONG};
use edgecall_stream::Backoff;
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{TrunkEvent, TrunkTarget};
use crate::host::{HostCtx, RoomEvent};
use crate::metrics::DropReason;

/// A text keep-alive goes out this often; the edge answers it without
/// waking its Durable Object.
pub const PING_INTERVAL: Duration = Duration::from_secs(5);
/// An edge silent for this long (not even a pong) is considered gone.
pub const DEAD_AFTER: Duration = Duration::from_secs(16);
/// Connecting (TCP, TLS, upgrade) may take this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that lasted this long resets the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(10);
/// First and largest delay between attempts (each drawn with jitter).
const BACKOFF_INITIAL: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// Messages queued to the writer before the byte bound applies.
const QUEUE_SLOTS: usize = 8192;
/// Media bytes that may wait for the edge; above it delta frames are
/// dropped (the engine steps the link down first: it sees the backlog).
const MEDIA_QUEUE_BYTES: u64 = 2 * 1024 * 1024;
/// How long a closing trunk gets to say goodbye.
const CLOSE_LINGER: Duration = Duration::from_millis(500);

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

enum Out {
    Data(Bytes),
    Close(String),
}

/// Where the room task's messages for the edge go: a bounded queue to the
/// connection's writer. Never waits.
#[derive(Clone)]
pub struct TrunkOutbox {
    queue: mpsc::Sender<Out>,
    queued: Arc<AtomicU64>,
    ctx: Arc<HostCtx>,
}

impl TrunkOutbox {
    /// Queues one link message. Returns `false` when a reliable message
    /// could not be queued: the link is then out of sync and must be
    /// rebuilt.
    pub fn send(&self, data: Bytes, delivery: Delivery) -> bool {
        let len = data.len() as u64;
        let droppable = matches!(
            delivery,
            Delivery::Datagram | Delivery::Stream { keyframe: false }
        );
        if droppable && self.queued.load(Ordering::Relaxed) + len > MEDIA_QUEUE_BYTES {
            self.ctx.metrics.dropped(DropReason::Trunk);
            return true;
        }
        self.queued.fetch_add(len, Ordering::Relaxed);
        if self.queue.try_send(Out::Data(data)).is_err() {
            self.queued.fetch_sub(len, Ordering::Relaxed);
            self.ctx.metrics.dropped(DropReason::Trunk);
            return droppable;
        }
        true
    }

    /// Bytes not yet written to the socket.
    pub fn queued_bytes(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }

    /// Closes this connection (the loop then reconnects).
    pub fn close(&self, reason: String) {
        let _ = self.queue.try_send(Out::Close(reason));
    }
}

/// How one connection ended.
enum Ended {
    /// The room task asked the loop to stop.
    Stopped,
    /// The connection was lost or refused; try again.
    Lost(String),
}

/// Keeps `room`'s trunk up until `stop` turns true (or its sender goes).
pub async fn run(
    target: Arc<TrunkTarget>,
    room: String,
    ctx: Arc<HostCtx>,
    events: mpsc::Sender<RoomEvent>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::new(BACKOFF_INITIAL, BACKOFF_MAX);
    loop {
        let started = Instant::now();
        match session(&target, &room, &ctx, &events, &mut stop).await {
            Ended::Stopped => return,
            Ended::Lost(reason) => {
                ctx.metrics.trunk_failed();
                tracing::warn!(%room, edge = %target.edge, %reason, "trunk to the edge is down; the room keeps working locally");
            }
        }
        if started.elapsed() >= STABLE_AFTER {
            backoff.reset();
        }
        let delay = backoff.next_delay();
        tracing::debug!(%room, ?delay, "reconnecting the trunk after a pause");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stopped(&mut stop) => return,
        }
    }
}

/// Resolves once the room task wants the loop to stop.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the room task dropped its end: stop as well.
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn session(
    target: &TrunkTarget,
    room: &str,
    ctx: &Arc<HostCtx>,
    events: &mpsc::Sender<RoomEvent>,
    stop: &mut watch::Receiver<bool>,
) -> Ended {
    let ws = tokio::select! {
        result = tokio::time::timeout(CONNECT_TIMEOUT, connect(target, room)) => match result {
            Ok(Ok(ws)) => ws,
            Ok(Err(reason)) => return Ended::Lost(reason),
            Err(_) => return Ended::Lost(format!("no answer within {CONNECT_TIMEOUT:?}")),
        },
        _ = stopped(stop) => return Ended::Stopped,
    };
    let conn = ctx.next_conn();
    tracing::info!(%room, edge = %target.edge, conn = conn.0, "trunk to the edge is up");
    let (sink, mut stream) = ws.split();
    let (queue, rx) = mpsc::channel(QUEUE_SLOTS);
    let queued = Arc::new(AtomicU64::new(0));
    let closer = queue.clone();
    let outbox = TrunkOutbox {
        queue,
        queued: queued.clone(),
        ctx: ctx.clone(),
    };
    if events
        .send(RoomEvent::Trunk(TrunkEvent::Up { conn, outbox }))
        .await
        .is_err()
    {
        return Ended::Stopped;
    }
    ctx.metrics.trunk_connected();
    let mut writer = tokio::spawn(write(sink, rx, queued));
    let mut last_heard = Instant::now();
    let mut watchdog = tokio::time::interval(PING_INTERVAL);
    let ended = loop {
        tokio::select! {
            frame = stream.next() => {
                let event = match frame {
                    Some(Ok(Message::Binary(data))) => TrunkEvent::Message { conn, data },
                    Some(Ok(Message::Text(text))) if text.as_str() == KEEPALIVE_PONG => TrunkEvent::Alive { conn },
                    Some(Ok(Message::Close(frame))) => {
                        let why = frame.map(|f| format!("{} {}", u16::from(f.code), f.reason)).unwrap_or_default();
                        break Ended::Lost(format!("the edge closed the trunk ({why})"));
                    }
                    Some(Ok(_)) => TrunkEvent::Alive { conn },
                    Some(Err(err)) => break Ended::Lost(format!("reading from the edge: {err}")),
                    None => break Ended::Lost("the edge closed the connection".into()),
                };
                last_heard = Instant::now();
                if events.send(RoomEvent::Trunk(event)).await.is_err() {
                    break Ended::Stopped;
                }
            }
            _ = watchdog.tick() => {
                if last_heard.elapsed() > DEAD_AFTER {
                    break Ended::Lost(format!("the edge was silent for {DEAD_AFTER:?}"));
                }
            }
            result = &mut writer => {
                break match result {
                    Ok(reason) => Ended::Lost(reason),
                    Err(err) => Ended::Lost(format!("trunk writer failed: {err}")),
                };
            }
            _ = stopped(stop) => break Ended::Stopped,
        }
    };
    let _ = events
        .send(RoomEvent::Trunk(TrunkEvent::Down { conn }))
        .await;
    if matches!(ended, Ended::Stopped) && !writer.is_finished() {
        let _ = closer.try_send(Out::Close("the relay has no participants left here".into()));
        let _ = tokio::time::timeout(CLOSE_LINGER * 2, &mut writer).await;
    }
    writer.abort();
    ended
}

/// Opens the WebSocket with the trunk secret.
async fn connect(target: &TrunkTarget, room: &str) -> Result<Ws, String> {
    let url = target.url(room);
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|err| format!("bad trunk URL {url}: {err}"))?;
    let bearer = format!("Bearer {}", target.secret)
        .parse()
        .map_err(|_| "the trunk secret is not a valid header value".to_owned())?;
    request
        .headers_mut()
        .insert(http::header::AUTHORIZATION, bearer);
    if let Some(proof) = target.token_proof(room) {
        let proof = proof
            .parse()
            .map_err(|_| "the token proof is not a valid header value".to_owned())?;
        request
            .headers_mut()
            .insert(TRUNK_TOKEN_PROOF_HEADER, proof);
    }
    let config = WebSocketConfig::default();
    match tokio_tungstenite::connect_async_with_config(request, Some(config), true).await {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Http(response)) if response.status() == 403 => {
            // The trunk route's only 403: the edge verifies join tokens and
            // this relay's proof does not match. The body (when the client
            // read it) repeats the edge's reason.
            let why = if target.token_proof(room).is_none() {
                "this relay admits anyone (no --token-secret): give it the edge's JOIN_TOKEN_SECRET"
            } else {
                "this relay's --token-secret differs from the edge's JOIN_TOKEN_SECRET"
            };
            let edge_says = response
                .body()
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default()
                .into_owned();
            tracing::error!(
                %room,
                edge = %target.edge,
                %edge_says,
                "the edge refused the trunk (403 Forbidden): it verifies join tokens; {why}"
            );
            Err(format!("refused: {why}"))
        }
        Err(tungstenite::Error::Http(response)) if response.status() == 401 => {
            tracing::error!(
                %room,
                edge = %target.edge,
                "the edge refused the trunk (401 Unauthorized): --trunk-secret does not match the edge's TRUNK_SECRET (or the edge has none)"
            );
            Err("refused: wrong trunk secret".into())
        }
        Err(tungstenite::Error::Http(response)) => Err(format!(
            "the edge refused the trunk with HTTP {}",
            response.status()
        )),
        Err(err) => Err(format!("connecting to {url}: {err}")),
    }
}

/// Writes queued messages and the keep-alive; returns why it stopped.
async fn write(
    mut sink: SplitSink<Ws, Message>,
    mut rx: mpsc::Receiver<Out>,
    queued: Arc<AtomicU64>,
) -> String {
    let mut ping = tokio::time::interval(PING_INTERVAL);
    loop {
        let result = tokio::select! {
            op = rx.recv() => match op {
                Some(Out::Data(data)) => {
                    let len = data.len() as u64;
                    let result = sink.send(Message::Binary(data)).await;
                    queued.fetch_sub(len, Ordering::Relaxed);
                    result
                }
                Some(Out::Close(reason)) => {
                    let frame = CloseFrame {
                        code: CloseCode::Normal,
                        reason: reason.clone().into(),
                    };
                    let _ = tokio::time::timeout(CLOSE_LINGER, sink.send(Message::Close(Some(frame)))).await;
                    return format!("closed by the relay: {reason}");
                }
                None => return "the room stopped".into(),
            },
            _ = ping.tick() => sink.send(Message::text(KEEPALIVE_PING)).await,
        };
        if let Err(err) = result {
            return format!("writing to the edge: {err}");
        }
    }
}
