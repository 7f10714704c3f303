//! Per-connection bounded send queues. The room task hands every message
//! to an [`Outbox`] without waiting: audio goes out as a datagram (quinn
//! drops the oldest when its small buffer is full), each video frame gets
//! its own stream with a deadline (reset when stale), control messages go
//! through a bounded queue to a writer task. The bytes still queued are
//! reported to the engine as the connection's backlog, so a slow receiver
//! is downgraded, then paused — and never delays anyone else.
//!
//! Closing is the host's: once the room closes a connection (or drops its
//! outbox), the connection's readers see its [`CloseSignal`] and stop
//! reading at once, and the transport is gone within [`CLOSE_LINGER`]
//! whether or not the peer answers the close.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use bytes::Bytes;
use edgecall_proto::room::{CloseCode, Delivery};
use edgecall_stream::framing;
use futures::stream::SplitSink;
use futures::SinkExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::metrics::{DropReason, Metrics};

/// Media bytes that may be queued (or in flight on streams) per receiver;
/// above it new delta frames and audio are dropped. Twice the engine's
/// default congestion threshold, so the engine steps down first.
pub const MEDIA_QUEUE_BYTES: u64 = 1024 * 1024;
/// Control bytes that may be queued per receiver; a receiver that lets
/// more pile up has stopped reading and is closed.
pub const CONTROL_QUEUE_BYTES: u64 = 4 * 1024 * 1024;
/// A delta frame not fully written by then is reset.
pub const DELTA_FRAME_DEADLINE: Duration = Duration::from_millis(300);
/// A keyframe not fully written by then is reset.
pub const KEYFRAME_DEADLINE: Duration = Duration::from_millis(1_000);
/// How long a closing connection gets to deliver its last messages (the
/// `Error`, the close frame) before its transport is dropped.
pub const CLOSE_LINGER: Duration = Duration::from_millis(500);
/// Messages the writer queues hold before the byte bounds apply.
const QUEUE_SLOTS: usize = 4096;

enum Op {
    Data(Bytes),
    /// The answer to a WebSocket client's text keep-alive.
    KeepaliveAnswer,
    Close(CloseCode, String),
}

/// Where one connection's messages go.
pub struct Outbox {
    kind: Kind,
    media_queued: Arc<AtomicU64>,
    control_queued: Arc<AtomicU64>,
    metrics: Arc<Metrics>,
    closed: CancellationToken,
}

/// Tells a connection's readers that the host closed the connection: from
/// then on nothing more may be read from it or handed to the room.
#[derive(Debug, Clone)]
pub struct CloseSignal(CancellationToken);

impl CloseSignal {
    /// Completes once the host closed the connection or dropped its outbox.
    pub async fn closed(&self) {
        self.0.cancelled().await;
    }

    /// Whether the host closed the connection.
    pub fn is_closed(&self) -> bool {
        self.0.is_cancelled()
    }
}

/// The task writing a WebSocket's messages; see [`Writer::finish`].
#[derive(Debug)]
pub struct Writer(JoinHandle<()>);

impl Writer {
    /// Gives the writer at most [`CLOSE_LINGER`] to send what it has (the
    /// close frame last), then stops it, releasing its half of the socket:
    /// a peer that stopped reading cannot hold the connection open.
    pub async fn finish(mut self) {
        if tokio::time::timeout(CLOSE_LINGER, &mut self.0)
            .await
            .is_err()
        {
            tracing::debug!(
                "WebSocket writer still busy after the close linger; dropping the socket"
            );
            self.0.abort();
        }
    }
}

enum Kind {
    WebTransport {
        session: Box<web_transport_quinn::Session>,
        control: mpsc::Sender<Op>,
    },
    WebSocket {
        queue: mpsc::Sender<(Op, bool)>,
    },
}

impl Outbox {
    /// An outbox for a WebTransport session whose control stream is
    /// `control`.
    pub fn webtransport(
        session: web_transport_quinn::Session,
        control: web_transport_quinn::SendStream,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_SLOTS);
        let control_queued = Arc::new(AtomicU64::new(0));
        tokio::spawn(write_control(
            session.clone(),
            control,
            rx,
            control_queued.clone(),
        ));
        Self {
            kind: Kind::WebTransport {
                session: Box::new(session),
                control: tx,
            },
            media_queued: Arc::new(AtomicU64::new(0)),
            control_queued,
            metrics,
            closed: CancellationToken::new(),
        }
    }

    /// An outbox for a WebSocket's sending half, and the task writing to
    /// it (the reader hands it back through [`Writer::finish`] when done).
    pub fn websocket(sink: SplitSink<WebSocket, Message>, metrics: Arc<Metrics>) -> (Self, Writer) {
        let (tx, rx) = mpsc::channel(QUEUE_SLOTS);
        let media_queued = Arc::new(AtomicU64::new(0));
        let control_queued = Arc::new(AtomicU64::new(0));
        let writer = tokio::spawn(write_websocket(
            sink,
            rx,
            media_queued.clone(),
            control_queued.clone(),
        ));
        let outbox = Self {
            kind: Kind::WebSocket { queue: tx },
            media_queued,
            control_queued,
            metrics,
            closed: CancellationToken::new(),
        };
        (outbox, Writer(writer))
    }

    /// The signal this connection's readers stop on.
    pub fn close_signal(&self) -> CloseSignal {
        CloseSignal(self.closed.clone())
    }

    /// Bytes queued and not yet handed to the network.
    pub fn queued_bytes(&self) -> u64 {
        self.media_queued.load(Ordering::Relaxed) + self.control_queued.load(Ordering::Relaxed)
    }

    /// Queues one message; never waits. Returns `false` when the receiver
    /// stopped reading control messages and must be closed.
    pub fn send(&self, data: Bytes, delivery: Delivery) -> bool {
        let len = data.len() as u64;
        match (&self.kind, delivery) {
            (_, Delivery::Reliable) => {
                if self.control_queued.load(Ordering::Relaxed) + len > CONTROL_QUEUE_BYTES {
                    self.metrics.dropped(DropReason::ControlOverflow);
                    return false;
                }
                self.control_queued.fetch_add(len, Ordering::Relaxed);
                let ok = match &self.kind {
                    Kind::WebTransport { control, .. } => control.try_send(Op::Data(data)).is_ok(),
                    Kind::WebSocket { queue } => queue.try_send((Op::Data(data), false)).is_ok(),
                };
                if !ok {
                    self.control_queued.fetch_sub(len, Ordering::Relaxed);
                    self.metrics.dropped(DropReason::ControlOverflow);
                }
                ok
            }
            (Kind::WebTransport { session, .. }, Delivery::Datagram) => {
                if session.send_datagram(data).is_err() {
                    self.metrics.dropped(DropReason::Datagram);
                }
                true
            }
            (_, delivery) => {
                let keyframe = matches!(delivery, Delivery::Stream { keyframe: true });
                if !keyframe && self.media_queued.load(Ordering::Relaxed) + len > MEDIA_QUEUE_BYTES
                {
                    self.metrics.dropped(DropReason::QueueFull);
                    return true;
                }
                self.media_queued.fetch_add(len, Ordering::Relaxed);
                match &self.kind {
                    Kind::WebTransport { session, .. } => {
                        tokio::spawn(write_frame_stream(
                            (**session).clone(),
                            data,
                            keyframe,
                            self.media_queued.clone(),
                            self.metrics.clone(),
                        ));
                    }
                    Kind::WebSocket { queue } => {
                        if queue.try_send((Op::Data(data), true)).is_err() {
                            self.media_queued.fetch_sub(len, Ordering::Relaxed);
                            self.metrics.dropped(DropReason::QueueFull);
                        }
                    }
                }
                true
            }
        }
    }

    /// Answers a WebSocket client's text keep-alive
    /// ([`edgecall_proto::KEEPALIVE_PING`]) after what is already queued,
    /// as the edge's runtime does by itself. Nothing on WebTransport, whose
    /// clients ping with a `Ping` message.
    pub fn answer_keepalive(&self) {
        if let Kind::WebSocket { queue } = &self.kind {
            let _ = queue.try_send((Op::KeepaliveAnswer, false));
        }
    }

    /// Closes the connection with `code` after what is already queued:
    /// its readers stop at once, the transport goes within
    /// [`CLOSE_LINGER`].
    pub fn close(&self, code: CloseCode, reason: String) {
        self.closed.cancel();
        match &self.kind {
            Kind::WebTransport { session, control } => {
                if control.try_send(Op::Close(code, reason.clone())).is_err() {
                    session.close(u32::from(code.code()), reason.as_bytes());
                    return;
                }
                // The control writer closes the session once its queue is
                // written; a peer that does not read cannot delay that
                // beyond the linger.
                let session = (**session).clone();
                tokio::spawn(async move {
                    tokio::time::sleep(CLOSE_LINGER).await;
                    session.close(u32::from(code.code()), reason.as_bytes());
                });
            }
            Kind::WebSocket { queue } => {
                let _ = queue.try_send((Op::Close(code, reason), false));
            }
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        // A connection the room forgot is not read any more either.
        self.closed.cancel();
    }
}

async fn write_control(
    session: web_transport_quinn::Session,
    mut stream: web_transport_quinn::SendStream,
    mut rx: mpsc::Receiver<Op>,
    queued: Arc<AtomicU64>,
) {
    while let Some(op) = rx.recv().await {
        match op {
            Op::Data(data) => {
                let len = data.len() as u64;
                let result = stream.write_all(&framing::encode(&data)).await;
                queued.fetch_sub(len, Ordering::Relaxed);
                if result.is_err() {
                    return;
                }
            }
            // Never queued on WebTransport (see `answer_keepalive`).
            Op::KeepaliveAnswer => {}
            Op::Close(code, reason) => {
                let _ = stream.finish();
                let _ = tokio::time::timeout(CLOSE_LINGER, stream.stopped()).await;
                session.close(u32::from(code.code()), reason.as_bytes());
                return;
            }
        }
    }
}

async fn write_frame_stream(
    session: web_transport_quinn::Session,
    data: Bytes,
    keyframe: bool,
    queued: Arc<AtomicU64>,
    metrics: Arc<Metrics>,
) {
    let deadline = if keyframe {
        KEYFRAME_DEADLINE
    } else {
        DELTA_FRAME_DEADLINE
    };
    let len = data.len() as u64;
    let started = tokio::time::Instant::now();
    match tokio::time::timeout(deadline, session.open_uni()).await {
        Ok(Ok(mut stream)) => {
            // Newer frames first when the receiver's link is saturated.
            let _ = stream.set_priority(if keyframe { 1 } else { 0 });
            let remaining = deadline.saturating_sub(started.elapsed());
            match tokio::time::timeout(remaining, stream.write_chunk(data)).await {
                Ok(Ok(())) => {
                    let _ = stream.finish();
                }
                Ok(Err(_)) => {}
                Err(_) => {
                    let _ = stream.reset(0);
                    metrics.dropped(DropReason::Stale);
                }
            }
        }
        Ok(Err(_)) => {}
        Err(_) => metrics.dropped(DropReason::Stale),
    }
    queued.fetch_sub(len, Ordering::Relaxed);
}

/// WebSocket close reasons are limited to 123 bytes (RFC 6455 §5.5); a
/// longer one is cut at a character boundary, as the edge does.
fn close_reason(mut reason: String) -> String {
    const MAX: usize = 123;
    if reason.len() > MAX {
        let mut end = MAX;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    reason
}

async fn write_websocket(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<(Op, bool)>,
    media_queued: Arc<AtomicU64>,
    control_queued: Arc<AtomicU64>,
) {
    while let Some((op, media)) = rx.recv().await {
        match op {
            Op::Data(data) => {
                let len = data.len() as u64;
                let result = sink.send(Message::Binary(data)).await;
                let counter = if media {
                    &media_queued
                } else {
                    &control_queued
                };
                counter.fetch_sub(len, Ordering::Relaxed);
                if result.is_err() {
                    return;
                }
            }
            Op::KeepaliveAnswer => {
                if sink
                    .send(Message::text(edgecall_proto::KEEPALIVE_PONG))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Op::Close(code, reason) => {
                let frame = CloseFrame {
                    code: code.code(),
                    reason: close_reason(reason).into(),
                };
                let _ = tokio::time::timeout(CLOSE_LINGER, sink.send(Message::Close(Some(frame))))
                    .await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_close_reasons_are_cut_to_the_websocket_limit_on_a_char_boundary() {
        assert_eq!(close_reason("short".into()), "short");
        let long = "é".repeat(100);
        let cut = close_reason(long);
        assert!(cut.len() <= 123 && cut.len() >= 121, "{}", cut.len());
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
