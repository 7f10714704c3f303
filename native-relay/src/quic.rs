//! The WebTransport listener: admits sessions at `/api/rooms/<room>` and
//! turns their control stream, datagrams and media streams into room
//! events.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use edgecall_proto::room::{CloseCode, ConnId};
use edgecall_stream::framing::{DelimitedReader, FramingError};
use tokio::sync::mpsc;
use web_transport_quinn::ReadToEndError;

use crate::admission::{self, Admission, Refusal};
use crate::cert::CertStore;
use crate::host::{CloseSignal, Outbox, RoomEvent, Rooms, CLOSE_LINGER};
use crate::limits::SessionLimiter;
use crate::metrics::{Metrics, Transport, Turnaway};

/// UDP socket buffers: the default receive buffer drops packets under load.
const UDP_BUFFER_BYTES: usize = 4 * 1024 * 1024;
/// Datagram send buffer per session: small, so stale audio is dropped
/// rather than queued.
const DATAGRAM_SEND_BUFFER: usize = 160 * 1024;
/// Bidirectional streams a client may have open at once.
const MAX_BIDI_STREAMS: u32 = 8;
/// Unidirectional streams (one per video frame) a client may have open at
/// once: two layers of camera and screen at 30 fps over a 1 s round trip
/// fit. Kept so that, with the bidirectional ones, quinn's table of
/// remote streams stays within 256 slots.
const MAX_UNI_STREAMS: u32 = 200;
/// A client must open its control stream this soon after the handshake.
const CONTROL_STREAM_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a refused client gets to read the refusal.
const REFUSAL_LINGER: Duration = Duration::from_secs(2);
/// A media stream must be complete this soon after it was opened.
const MEDIA_STREAM_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds the QUIC endpoint on `addr` (UDP).
pub fn endpoint(addr: SocketAddr, certs: &Arc<CertStore>) -> Result<quinn::Endpoint> {
    let tls = certs.server_config(web_transport_quinn::ALPN.as_bytes())?;
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
        .context("building the QUIC TLS configuration")?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    transport
        .keep_alive_interval(Some(Duration::from_secs(2)))
        .max_idle_timeout(Some(
            quinn::IdleTimeout::try_from(Duration::from_secs(10)).context("idle timeout")?,
        ))
        .datagram_send_buffer_size(DATAGRAM_SEND_BUFFER)
        .datagram_receive_buffer_size(Some(1024 * 1024))
        .max_concurrent_uni_streams(MAX_UNI_STREAMS.into())
        // A client opens two bidirectional streams (the WebTransport session
        // and its control stream). quinn allocates state for every stream a
        // peer may open up front: these limits are most of an idle
        // connection's memory.
        .max_concurrent_bidi_streams(MAX_BIDI_STREAMS.into());
    server.transport_config(Arc::new(transport));

    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )
    .context("creating the UDP socket")?;
    if addr.is_ipv6() {
        let _ = socket.set_only_v6(false);
    }
    // Best effort: the kernel caps these at net.core.{r,w}mem_max.
    let _ = socket.set_recv_buffer_size(UDP_BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(UDP_BUFFER_BYTES);
    socket
        .bind(&addr.into())
        .with_context(|| format!("binding UDP {addr}"))?;
    quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        Some(server),
        socket.into(),
        Arc::new(quinn::TokioRuntime),
    )
    .context("starting the QUIC endpoint")
}

/// HTTP/3 `H3_REQUEST_INCOMPLETE`: the close code for a QUIC connection
/// that sent no complete WebTransport `CONNECT` in time.
const H3_REQUEST_INCOMPLETE: u32 = 0x010d;

/// What the WebTransport listener needs besides the endpoint.
#[derive(Clone)]
pub struct Listener {
    /// Rooms on this relay.
    pub rooms: Arc<Rooms>,
    /// Join checks.
    pub admission: Arc<Admission>,
    /// New sessions per client address.
    pub limiter: Arc<SessionLimiter>,
    /// A client must send its `CONNECT` this soon after its first packet.
    pub connect_timeout: Duration,
}

/// Accepts WebTransport sessions until `stop` fires.
pub async fn serve(
    endpoint: quinn::Endpoint,
    listener: Listener,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let incoming = tokio::select! {
            incoming = endpoint.accept() => incoming,
            _ = stop.changed() => return,
        };
        let Some(incoming) = incoming else { return };
        let listener = listener.clone();
        tokio::spawn(async move {
            let peer = incoming.remote_address();
            let Some(request) = handshake(incoming, &listener).await else {
                return;
            };
            if let Err(err) = serve_session(request, peer, &listener).await {
                tracing::debug!(%peer, error = %format!("{err:#}"), "WebTransport session ended with an error");
            }
        });
    }
}

impl Listener {
    /// Counts a connection turned away for missing the connect deadline.
    fn count_connect_timeout(&self) {
        self.rooms
            .ctx()
            .metrics
            .turned_away(Turnaway::ConnectTimeout);
    }
}

/// The QUIC handshake, HTTP/3 SETTINGS and the WebTransport `CONNECT`, all
/// within the connect deadline; a connection that misses it is closed.
async fn handshake(
    incoming: quinn::Incoming,
    listener: &Listener,
) -> Option<web_transport_quinn::Request> {
    let peer = incoming.remote_address();
    let deadline = tokio::time::Instant::now() + listener.connect_timeout;
    let conn = match tokio::time::timeout_at(deadline, incoming).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(err)) => {
            tracing::debug!(%peer, %err, "QUIC handshake failed");
            return None;
        }
        Err(_) => {
            // Dropping the handshake future refuses the connection.
            listener.count_connect_timeout();
            tracing::debug!(%peer, "QUIC handshake not finished in time");
            return None;
        }
    };
    match tokio::time::timeout_at(deadline, web_transport_quinn::Request::accept(conn.clone()))
        .await
    {
        Ok(Ok(request)) => Some(request),
        Ok(Err(err)) => {
            tracing::debug!(%peer, %err, "WebTransport handshake failed");
            None
        }
        Err(_) => {
            listener.count_connect_timeout();
            let reason = format!(
                "no WebTransport CONNECT within {} ms",
                listener.connect_timeout.as_millis()
            );
            tracing::debug!(%peer, %reason, "closing a QUIC connection");
            conn.close(H3_REQUEST_INCOMPLETE.into(), reason.as_bytes());
            None
        }
    }
}

async fn serve_session(
    request: web_transport_quinn::Request,
    peer: SocketAddr,
    listener: &Listener,
) -> Result<()> {
    let rooms = &listener.rooms;
    let url = request.url.clone();
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    let admitted = listener
        .limiter
        .check(peer.ip())
        .map_err(Refusal::from)
        .and_then(|()| admission::webtransport_room(url.path()))
        .and_then(|room| {
            listener
                .admission
                .admit(
                    room,
                    query.get("name").map(String::as_str),
                    query.get("token").map(String::as_str),
                )
                .map(|member| (room.to_owned(), member))
        });
    let (room, member) = match admitted {
        Ok(admitted) => admitted,
        Err(refusal) => return refuse(request, peer, refusal, rooms).await,
    };
    let session = request.ok().await.context("accepting the session")?;
    let (send, recv) = tokio::time::timeout(CONTROL_STREAM_TIMEOUT, session.accept_bi())
        .await
        .context("the client did not open its control stream")?
        .context("accepting the control stream")?;
    let ctx = rooms.ctx().clone();
    let conn = ctx.next_conn();
    let max = ctx.room_config.max_message_bytes;
    let outbox = Outbox::webtransport(session.clone(), send, ctx.metrics.clone());
    let closed = outbox.close_signal();
    tracing::debug!(%room, conn = conn.0, name = %member.name, "WebTransport session admitted");
    let Some(events) = rooms.join(&room, conn, member, outbox).await else {
        session.close(
            u32::from(CloseCode::ShuttingDown.code()),
            b"room unavailable",
        );
        return Ok(());
    };
    let reader = Reader {
        conn,
        events,
        closed,
        metrics: ctx.metrics.clone(),
    };
    let mut control = DelimitedReader::new(recv, max);
    // Each reader stops at once when the host closes the connection; the
    // outbox then closes the session within its linger.
    let violated = tokio::select! {
        violated = read_control(&mut control, &reader) => violated,
        () = read_datagrams(&session, &reader) => false,
        violated = read_streams(&session, &reader, max) => violated,
        _ = session.closed() => false,
    };
    if violated {
        // The engine answers with an `Error` and a close.
        let _ = tokio::time::timeout(CLOSE_LINGER, reader.closed.closed()).await;
    }
    if reader.closed.is_closed() {
        // Keep the control stream (unread) until the outbox has closed the
        // session, so the peer gets the `Error` and the close code rather
        // than a stopped stream.
        let _ = tokio::time::timeout(2 * CLOSE_LINGER, session.closed()).await;
    } else {
        let _ = reader.events.send(RoomEvent::Closed { conn }).await;
    }
    Ok(())
}

async fn refuse(
    request: web_transport_quinn::Request,
    peer: SocketAddr,
    refusal: Refusal,
    rooms: &Rooms,
) -> Result<()> {
    if matches!(refusal, Refusal::TooManySessions(_)) {
        rooms.ctx().metrics.turned_away(Turnaway::SessionRate);
        tracing::debug!(%peer, path = %request.url.path(), %refusal, "refused a WebTransport session");
    } else {
        rooms.ctx().metrics.rejected();
        tracing::info!(%peer, path = %request.url.path(), %refusal, "refused a WebTransport session");
    }
    let conn = request.conn().clone();
    request
        .reject(refusal.status())
        .await
        .context("refusing the session")?;
    // Let the response reach the client before the connection goes.
    let _ = tokio::time::timeout(REFUSAL_LINGER, conn.closed()).await;
    Ok(())
}

/// What every reader of one session shares.
struct Reader {
    conn: ConnId,
    events: mpsc::Sender<RoomEvent>,
    closed: CloseSignal,
    metrics: Arc<Metrics>,
}

impl Reader {
    /// Hands `event` to the room unless the host closed the connection;
    /// `false` when reading must stop.
    async fn hand(&self, event: RoomEvent) -> bool {
        tokio::select! {
            biased;
            () = self.closed.closed() => false,
            sent = self.events.send(event) => sent.is_ok(),
        }
    }

    /// A message read from the client.
    async fn message(&self, data: Bytes) -> bool {
        self.metrics.read(Transport::WebTransport, data.len());
        let conn = self.conn;
        self.hand(RoomEvent::Message { conn, data }).await
    }

    /// A transport rule broken; reading stops. `true` when the room got it.
    async fn violation(&self, code: CloseCode, reason: String) -> bool {
        let conn = self.conn;
        self.hand(RoomEvent::Violation { conn, code, reason }).await
    }

    /// `read` unless the host closed the connection first.
    async fn read<T>(&self, read: impl std::future::Future<Output = T>) -> Option<T> {
        tokio::select! {
            biased;
            () = self.closed.closed() => None,
            value = read => Some(value),
        }
    }
}

/// Reads the control stream; `true` when it ended on a violation.
async fn read_control(reader: &mut DelimitedReader, session: &Reader) -> bool {
    loop {
        let Some(next) = session.read(reader.next()).await else {
            return false;
        };
        match next {
            Ok(Some(data)) => {
                if !session.message(data).await {
                    return false;
                }
            }
            Ok(None) => return false,
            Err(FramingError::TooLarge { len, max }) => {
                let reason = format!("control message of {len} bytes exceeds the {max}-byte limit");
                return session.violation(CloseCode::TooLarge, reason).await;
            }
            Err(FramingError::BadPrefix) => {
                let reason = "control stream framing is broken".to_owned();
                return session.violation(CloseCode::Malformed, reason).await;
            }
            Err(_) => return false,
        }
    }
}

async fn read_datagrams(session: &web_transport_quinn::Session, reader: &Reader) {
    while let Some(Ok(data)) = reader.read(session.read_datagram()).await {
        if !reader.message(data).await {
            return;
        }
    }
}

/// Reads each media stream to its end (one message); `true` when reading
/// ended on a violation. The stream readers live in a `JoinSet`, so they
/// stop with this future.
async fn read_streams(session: &web_transport_quinn::Session, reader: &Reader, max: usize) -> bool {
    let mut pending = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            biased;
            () = reader.closed.closed() => return false,
            Some(read) = pending.join_next(), if !pending.is_empty() => {
                match read {
                    Ok(Some(Ok(data))) => {
                        if !reader.message(Bytes::from(data)).await {
                            return false;
                        }
                    }
                    Ok(Some(Err(ReadToEndError::TooLong))) => {
                        let reason = format!("a media stream exceeded the {max}-byte limit");
                        return reader.violation(CloseCode::TooLarge, reason).await;
                    }
                    // Reset, abandoned mid-frame or too slow: the frame is
                    // simply lost.
                    Ok(Some(Err(_)) | None) | Err(_) => {}
                }
                continue;
            }
            accepted = session.accept_uni() => accepted,
        };
        let Ok(mut stream) = accepted else {
            return false;
        };
        pending.spawn(async move {
            tokio::time::timeout(MEDIA_STREAM_TIMEOUT, stream.read_to_end(max))
                .await
                .ok()
        });
    }
}
