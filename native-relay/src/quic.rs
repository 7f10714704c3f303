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
use crate::host::{Outbox, RoomEvent, Rooms};

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

/// Accepts WebTransport sessions until `stop` fires.
pub async fn serve(
    endpoint: quinn::Endpoint,
    rooms: Arc<Rooms>,
    admission: Arc<Admission>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut server = web_transport_quinn::Server::new(endpoint);
    loop {
        let request = tokio::select! {
            request = server.accept() => request,
            _ = stop.changed() => return,
        };
        let Some(request) = request else { return };
        let rooms = rooms.clone();
        let admission = admission.clone();
        tokio::spawn(async move {
            if let Err(err) = serve_session(request, rooms, admission).await {
                tracing::debug!(error = %format!("{err:#}"), "WebTransport session ended with an error");
            }
        });
    }
}

async fn serve_session(
    request: web_transport_quinn::Request,
    rooms: Arc<Rooms>,
    admission: Arc<Admission>,
) -> Result<()> {
    let url = request.url.clone();
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    let admitted = admission::webtransport_room(url.path()).and_then(|room| {
        admission
            .admit(
                room,
                query.get("name").map(String::as_str),
                query.get("token").map(String::as_str),
            )
            .map(|member| (room.to_owned(), member))
    });
    let (room, member) = match admitted {
        Ok(admitted) => admitted,
        Err(refusal) => return refuse(request, refusal, &rooms).await,
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
    tracing::debug!(%room, conn = conn.0, name = %member.name, "WebTransport session admitted");
    let Some(events) = rooms.join(&room, conn, member, outbox).await else {
        session.close(
            u32::from(CloseCode::ShuttingDown.code()),
            b"room unavailable",
        );
        return Ok(());
    };
    let datagrams = tokio::spawn(read_datagrams(session.clone(), conn, events.clone()));
    let streams = tokio::spawn(read_streams(session.clone(), conn, events.clone(), max));
    let mut control = DelimitedReader::new(recv, max);
    tokio::select! {
        _ = read_control(&mut control, conn, &events) => {}
        _ = session.closed() => {}
    }
    datagrams.abort();
    streams.abort();
    let _ = events.send(RoomEvent::Closed { conn }).await;
    Ok(())
}

async fn refuse(
    request: web_transport_quinn::Request,
    refusal: Refusal,
    rooms: &Rooms,
) -> Result<()> {
    rooms.ctx().metrics.rejected();
    tracing::info!(path = %request.url.path(), %refusal, "refused a WebTransport session");
    let conn = request.conn().clone();
    request
        .reject(refusal.status())
        .await
        .context("refusing the session")?;
    // Let the response reach the client before the connection goes.
    let _ = tokio::time::timeout(REFUSAL_LINGER, conn.closed()).await;
    Ok(())
}

async fn read_control(
    reader: &mut DelimitedReader,
    conn: ConnId,
    events: &mpsc::Sender<RoomEvent>,
) {
    loop {
        match reader.next().await {
            Ok(Some(data)) => {
                if events
                    .send(RoomEvent::Message { conn, data })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Ok(None) => return,
            Err(FramingError::TooLarge { len, max }) => {
                let reason = format!("control message of {len} bytes exceeds the {max}-byte limit");
                let _ = events
                    .send(RoomEvent::Violation {
                        conn,
                        code: CloseCode::TooLarge,
                        reason,
                    })
                    .await;
                return;
            }
            Err(FramingError::BadPrefix) => {
                let reason = "control stream framing is broken".to_owned();
                let _ = events
                    .send(RoomEvent::Violation {
                        conn,
                        code: CloseCode::Malformed,
                        reason,
                    })
                    .await;
                return;
            }
            Err(_) => return,
        }
    }
}

async fn read_datagrams(
    session: web_transport_quinn::Session,
    conn: ConnId,
    events: mpsc::Sender<RoomEvent>,
) {
    while let Ok(data) = session.read_datagram().await {
        if events
            .send(RoomEvent::Message { conn, data })
            .await
            .is_err()
        {
            return;
        }
    }
}

async fn read_streams(
    session: web_transport_quinn::Session,
    conn: ConnId,
    events: mpsc::Sender<RoomEvent>,
    max: usize,
) {
    while let Ok(mut stream) = session.accept_uni().await {
        let events = events.clone();
        tokio::spawn(async move {
            let read = tokio::time::timeout(MEDIA_STREAM_TIMEOUT, stream.read_to_end(max)).await;
            let event = match read {
                Ok(Ok(data)) => RoomEvent::Message {
                    conn,
                    data: Bytes::from(data),
                },
                Ok(Err(ReadToEndError::TooLong)) => RoomEvent::Violation {
                    conn,
                    code: CloseCode::TooLarge,
                    reason: format!("a media stream exceeded the {max}-byte limit"),
                },
                // Reset or abandoned mid-frame: the frame is simply lost.
                Ok(Err(_)) | Err(_) => return,
            };
            let _ = events.send(event).await;
        });
    }
}
