//! HTTP on TCP: the WebSocket endpoint `/api/rooms/<room>/ws`, `/healthz`,
//! Prometheus `/metrics`, `/cert-hash` (the SHA-256 of the certificate
//! in force, for browsers' `serverCertificateHashes`), `/client-config.json`
//! and, with `--web-root`, the browser client ([`crate::web`]). Served over
//! TLS on the main port and, optionally, as plain HTTP on a second address.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use futures::StreamExt;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::admission::Admission;
use crate::cert::CertStore;
use crate::host::{Outbox, RoomEvent, Rooms};
use crate::metrics::Metrics;
use crate::web::{self, WebRoot};

/// A TLS handshake must finish this soon.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

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
    upgrade: WebSocketUpgrade,
) -> Response {
    let admitted = state.admission.admit(
        &room,
        query.get("name").map(String::as_str),
        query.get("token").map(String::as_str),
    );
    match admitted {
        Err(refusal) => {
            state.metrics.rejected();
            tracing::info!(%room, %refusal, "refused a WebSocket");
            (refusal.status(), format!("{refusal}\n")).into_response()
        }
        Ok(member) => {
            // Up to twice the engine's limit reaches the engine, which
            // answers with TooLarge; beyond that the socket just fails.
            let max = state.rooms.ctx().room_config.max_message_bytes * 2;
            upgrade
                .max_message_size(max)
                .max_frame_size(max)
                .on_upgrade(move |socket| serve_websocket(socket, room, member, state))
        }
    }
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
    let outbox = Outbox::websocket(sink, ctx.metrics.clone());
    let Some(events) = state.rooms.join(&room, conn, member, outbox).await else {
        return;
    };
    while let Some(Ok(message)) = stream.next().await {
        let data = match message {
            Message::Binary(data) => data,
            Message::Text(text) => Bytes::copy_from_slice(text.as_bytes()),
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        if events
            .send(RoomEvent::Message { conn, data })
            .await
            .is_err()
        {
            return;
        }
    }
    let _ = events.send(RoomEvent::Closed { conn }).await;
}

/// Serves `router` over TLS on `listener` until `stop` fires.
pub async fn serve_tls(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    router: Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        let Ok((tcp, peer)) = accepted else { continue };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let router = router.clone();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
            {
                Ok(Ok(tls)) => tls,
                Ok(Err(err)) => {
                    tracing::debug!(%peer, %err, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let service = hyper_util::service::TowerToHyperService::new(router);
            let served = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .with_upgrades()
                .await;
            if let Err(err) = served {
                tracing::debug!(%peer, %err, "HTTPS connection ended with an error");
            }
        });
    }
}

/// Serves `router` as plain HTTP on `listener` until `stop` fires.
pub async fn serve_plain(
    listener: TcpListener,
    router: Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let shutdown = async move {
        let _ = stop.changed().await;
    };
    if let Err(err) = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(%err, "plain HTTP listener failed");
    }
}
