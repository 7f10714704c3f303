//! HTTP on TCP: the WebSocket endpoint `/api/rooms/<room>/ws`, `/healthz`,
//! Prometheus `/metrics`, `/cert-hash` (the SHA-256 of the certificate
//! in force, for browsers' `serverCertificateHashes`), `/client-config.json`
//! and, with `--web-root`, the browser client ([`crate::web`]). Served over
//! TLS on the main port and, optionally, as plain HTTP on a second address.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use edgecall_proto::room::{CloseCode, ConnId};
use futures::stream::SplitStream;
use futures::StreamExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::admission::{Admission, Refusal};
use crate::cert::CertStore;
use crate::host::{CloseSignal, Outbox, RoomEvent, Rooms, CLOSE_LINGER};
use crate::limits::SessionLimiter;
use crate::metrics::{Metrics, Transport, Turnaway};
use crate::web::{self, WebRoot};

/// A TLS handshake must finish this soon.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed `accept` (e.g. out of file descriptors).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// Rooms on this relay.
    pub rooms: Arc<Rooms>,
    /// Join checks.
    pub admission: Arc<Admission>,
    /// The certificate in force.
    pub certs: Arc<CertStore>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Set once shutdown begins (health turns 503).
    pub stopping: Arc<AtomicBool>,
    /// New sessions per client address.
    pub limiter: Arc<SessionLimiter>,
}

/// The routes; with `web`, the browser client answers every path the API
/// does not.
pub fn router(state: AppState, web: Option<&WebRoot>) -> Router {
    let api = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/cert-hash", get(cert_hash))
        .route("/client-config.json", get(web::client_config))
        .route("/api/rooms/{room}/ws", get(websocket));
    let api = match web {
        Some(web) => web.mount(api.route("/api/{*rest}", get(not_found))),
        None => api.fallback(not_found),
    };
    api.with_state(state)
}

async fn healthz(State(state): State<AppState>) -> Response {
    if state.stopping.load(Ordering::Relaxed) {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    } else {
        "ok\n".into_response()
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

async fn cert_hash(State(state): State<AppState>) -> Response {
    (
        [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        state.certs.sha256_hex(),
    )
        .into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        "join at /api/rooms/<room> (WebTransport) or /api/rooms/<room>/ws (WebSocket)\n",
    )
        .into_response()
}

async fn websocket(
    State(state): State<AppState>,
    Path(room): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let admitted = state
        .limiter
        .check(peer.ip())
        .map_err(Refusal::from)
        .and_then(|()| {
            state.admission.admit(
                &room,
                query.get("name").map(String::as_str),
                query.get("token").map(String::as_str),
            )
        });
    match admitted {
        Err(refusal) => refuse_websocket(&state, &room, peer, refusal),
        Ok(member) => {
            // Up to twice the engine's limit reaches the engine, which
            // answers with TooLarge; the reader answers larger ones the
            // same way without reading them (`read_websocket`).
            let max = state.rooms.ctx().room_config.max_message_bytes * 2;
            upgrade
                .max_message_size(max)
                .max_frame_size(max)
                .on_upgrade(move |socket| serve_websocket(socket, room, member, state))
        }
    }
}

fn refuse_websocket(state: &AppState, room: &str, peer: SocketAddr, refusal: Refusal) -> Response {
    let status = refusal.status();
    let mut response = (status, format!("{refusal}\n")).into_response();
    if let Refusal::TooManySessions(too_many) = &refusal {
        state.metrics.turned_away(Turnaway::SessionRate);
        tracing::debug!(%room, %peer, %refusal, "refused a WebSocket");
        let seconds = too_many.retry_after.as_secs_f64().ceil().max(1.0) as u64;
        if let Ok(value) = header::HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    } else {
        state.metrics.rejected();
        tracing::info!(%room, %peer, %refusal, "refused a WebSocket");
    }
    response
}

async fn serve_websocket(
    socket: WebSocket,
    room: String,
    member: edgecall_proto::room::Member,
    state: AppState,
) {
    let (sink, mut stream) = socket.split();
    let ctx = state.rooms.ctx().clone();
    let conn = ctx.next_conn();
    let (outbox, writer) = Outbox::websocket(sink, ctx.metrics.clone());
    let closed = outbox.close_signal();
    let Some(events) = state.rooms.join(&room, conn, member, outbox).await else {
        writer.finish().await;
        return;
    };
    let limit = ctx.room_config.max_message_bytes;
    let closed_by_host =
        match read_websocket(&mut stream, conn, &events, &closed, &ctx.metrics, limit).await {
            ReadEnd::Host => true,
            ReadEnd::Peer => {
                let _ = events.send(RoomEvent::Closed { conn }).await;
                false
            }
            ReadEnd::Violation(code, reason) => {
                let violation = RoomEvent::Violation { conn, code, reason };
                // The engine answers with an `Error` and a close.
                events.send(violation).await.is_ok()
                    && tokio::time::timeout(CLOSE_LINGER, closed.closed())
                        .await
                        .is_ok()
            }
        };
    // Nothing more is read. The writer sends the `Error` and the close
    // frame; the socket is kept (unread) until the linger ends, so the peer
    // can read them before the close resets the connection (closing with
    // unread input sends a RST, which may discard what the peer has not
    // read yet), and goes then, whether or not the peer answered.
    let linger_end = tokio::time::Instant::now() + CLOSE_LINGER;
    writer.finish().await;
    if closed_by_host {
        tokio::time::sleep_until(linger_end).await;
    }
    drop(stream);
}

/// Why a WebSocket's reader stopped.
enum ReadEnd {
    /// The host closed the connection: nothing more is read.
    Host,
    /// The peer closed or the socket failed.
    Peer,
    /// The peer broke a transport rule, for the engine to judge.
    Violation(CloseCode, String),
}

/// Hands each binary message to the room until the peer or the host ends
/// the connection; never reads past a close by the host.
async fn read_websocket(
    stream: &mut SplitStream<WebSocket>,
    conn: ConnId,
    events: &mpsc::Sender<RoomEvent>,
    closed: &CloseSignal,
    metrics: &Metrics,
    limit: usize,
) -> ReadEnd {
    loop {
        let message = tokio::select! {
            biased;
            () = closed.closed() => return ReadEnd::Host,
            message = stream.next() => message,
        };
        let event = match message {
            None | Some(Ok(Message::Close(_))) => return ReadEnd::Peer,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Binary(data))) => {
                metrics.read(Transport::WebSocket, data.len());
                RoomEvent::Message { conn, data }
            }
            Some(Ok(Message::Text(text))) => {
                metrics.read(Transport::WebSocket, text.len());
                if text.as_str() != edgecall_proto::KEEPALIVE_PING {
                    return ReadEnd::Violation(
                        CloseCode::Malformed,
                        edgecall_proto::TEXT_FRAME_REASON.to_owned(),
                    );
                }
                RoomEvent::Keepalive { conn }
            }
            Some(Err(err)) => {
                return match too_long(err) {
                    Some(size) => ReadEnd::Violation(
                        CloseCode::TooLarge,
                        format!("message of {size} bytes exceeds the {limit}-byte limit"),
                    ),
                    None => ReadEnd::Peer,
                }
            }
        };
        tokio::select! {
            biased;
            () = closed.closed() => return ReadEnd::Host,
            sent = events.send(event) => {
                if sent.is_err() {
                    return ReadEnd::Host;
                }
            }
        }
    }
}

/// The size of a message the WebSocket refused as too large.
fn too_long(err: axum::Error) -> Option<usize> {
    use tokio_tungstenite::tungstenite::error::{CapacityError, Error};
    match *err.into_inner().downcast::<Error>().ok()? {
        Error::Capacity(CapacityError::MessageTooLong { size, .. }) => Some(size),
        _ => None,
    }
}

/// Serves `router` over TLS on `listener` until `stop` fires.
pub async fn serve_tls(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    router: Router,
    options: ServeOptions,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = accept(&listener) => accepted,
            _ = stop.changed() => return,
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        let options = options.clone();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
            {
                Ok(Ok(tls)) => tls,
                Ok(Err(err)) => {
                    tracing::debug!(%peer, %err, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            serve_connection(tls, peer, router, &options).await;
        });
    }
}

/// Serves `router` as plain HTTP on `listener` until `stop` fires.
pub async fn serve_plain(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = accept(&listener) => accepted,
            _ = stop.changed() => return,
        };
        let router = router.clone();
        let options = options.clone();
        tokio::spawn(async move { serve_connection(tcp, peer, router, &options).await });
    }
}

/// How the HTTP listeners serve each connection.
#[derive(Clone)]
pub struct ServeOptions {
    /// A request's header must arrive this soon (hyper's
    /// `header_read_timeout`).
    pub header_read_timeout: Duration,
    /// Where header timeouts are counted.
    pub metrics: Arc<Metrics>,
}

/// The next TCP connection; waits out accept errors (e.g. no file
/// descriptors left) instead of spinning.
async fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => {
                let _ = tcp.set_nodelay(true);
                return (tcp, peer);
            }
            Err(err) => {
                tracing::warn!(%err, "accepting a TCP connection failed");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
}

/// HTTP/1.1 (with upgrades, for WebSocket) on one connection; handlers see
/// the peer's address as [`ConnectInfo`].
async fn serve_connection<I>(io: I, peer: SocketAddr, router: Router, options: &ServeOptions)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(request)
    });
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades()
        .await;
    match served {
        Ok(()) => {}
        Err(err) if err.is_timeout() => {
            options.metrics.turned_away(Turnaway::HeaderTimeout);
            tracing::debug!(%peer, "HTTP request header not received in time; connection closed");
        }
        Err(err) => tracing::debug!(%peer, %err, "HTTP connection ended with an error"),
    }
}
