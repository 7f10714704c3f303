//! # edgecall-relay
//!
//! The native relay: hosts rooms of the shared engine
//! ([`edgecall_proto::room`]) for WebTransport clients at
//! `https://host:port/api/rooms/<room>` and WebSocket clients at
//! `wss://host:port/api/rooms/<room>/ws` (same paths as the edge), checks
//! HS256 join tokens (or runs open), serves `/healthz`, `/metrics` and
//! `/cert-hash`, and in cluster mode (`--nats`) spans rooms across relays
//! over NATS. With `--edge` and `--trunk-secret` it joins each room to the
//! edge's room of the same id over a trunk WebSocket ([`trunk`]). It holds
//! no room logic: every routing rule is the engine's.
//!
//! Modules, one job each: [`config`] (flags/env/TOML), [`cert`] (TLS
//! certificates), [`admission`] (tokens and paths), [`quic`]
//! (WebTransport listener), [`http`] (WebSocket + HTTP endpoints),
//! [`host`] (room tasks, per-connection send queues), [`cluster`] (NATS),
//! [`trunk`] (the edge), [`limits`] (deadlines and per-address session
//! rates against hostile clients), [`metrics`] (Prometheus), [`process`] (the relay
//! as a child process), [`registry`] (publishing this relay for the
//! directory), [`directory`] (the `edgecall-directory` Lambda's logic),
//! [`secrets`] (a deployable's secrets: from the environment or SSM).

pub mod admission;
pub mod cert;
pub mod cluster;
pub mod config;
pub mod directory;
pub mod host;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod process;
pub mod quic;
pub mod registry;
pub mod secrets;
pub mod trunk;
pub mod web;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::net::TcpListener;

use crate::admission::Admission;
use crate::cert::CertStore;
use crate::config::{CertSource, LogFormat, Settings};
use crate::host::Rooms;
use crate::metrics::Metrics;

/// The relay process: logs to stderr (`RUST_LOG`, default `info`, in
/// `settings.log_format`), then [`run`]s on a multi-threaded runtime. Used
/// by the `edgecall-relay` binary and by the `relay-load` bench tool, which
/// starts this same code as its child process.
pub fn run_process(settings: Settings) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match settings.log_format {
        LogFormat::Json => subscriber.json().init(),
        LogFormat::Text => subscriber.init(),
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?
        .block_on(run(settings))
}

/// Runs the relay until SIGTERM or Ctrl-C, then shuts down gracefully:
/// stops accepting, tells every client to reconnect elsewhere
/// (`CloseCode::ShuttingDown`), waits for rooms to drain.
pub async fn run(settings: Settings) -> Result<()> {
    let certs = CertStore::new(&settings.cert)?;
    let web_root = settings
        .web_root
        .as_deref()
        .map(web::WebRoot::open)
        .transpose()?;
    let admission = Arc::new(Admission::new(settings.token_secret.as_deref())?);
    if admission.is_open() {
        tracing::warn!("OPEN MODE: no token secret configured; anyone can join any room under any name. Set --token-secret (EDGECALL_TOKEN_SECRET) in production.");
    }
    let metrics = Arc::new(Metrics::default());
    let cluster = match &settings.nats {
        Some(url) => Some(
            cluster::Cluster::connect(url, settings.nats_heartbeat, settings.nats_timeout).await?,
        ),
        None => None,
    };
    let relay_id = match &cluster {
        Some(cluster) => cluster.relay_id().to_owned(),
        None => format!("r{:016x}", rand::random::<u64>()),
    };
    let trunk = settings.trunk.as_ref().map(|trunk| {
        tracing::info!(edge = %trunk.edge, %relay_id, "rooms trunk to the edge");
        Arc::new(trunk::TrunkTarget::new(
            trunk,
            &relay_id,
            admission.verifier().clone(),
        ))
    });
    let rooms = Rooms::new(
        settings.room.clone(),
        metrics.clone(),
        cluster.clone(),
        trunk,
    );
    // Open the registry before listening, so a wrong --publish-to fails fast.
    let registry = match &settings.publish {
        Some(publish) => Some((
            registry::Registry::open(&publish.target).await?,
            publish.clone(),
        )),
        None => None,
    };

    let (endpoint, tcp) = bind(settings.listen, &certs).await?;
    let local = endpoint.local_addr().context("reading the bound address")?;
    let plain = match settings.http_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding plain HTTP on {addr}"))?,
        ),
        None => None,
    };

    let stopping = Arc::new(AtomicBool::new(false));
    let limiter = limits::SessionLimiter::new(settings.limits.session_rate);
    let serve_options = http::ServeOptions {
        header_read_timeout: settings.limits.header_read_timeout,
        metrics: metrics.clone(),
    };
    let state = http::AppState {
        rooms: rooms.clone(),
        admission: admission.clone(),
        certs: certs.clone(),
        metrics,
        stopping: stopping.clone(),
        limiter: limiter.clone(),
    };
    let router = http::router(state, web_root.as_ref());
    let listener = |tls| {
        axum::Extension(web::Listener {
            tls,
            quic_port: local.port(),
        })
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(certs.server_config(b"http/1.1")?));
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(quic::serve(
        endpoint.clone(),
        quic::Listener {
            rooms: rooms.clone(),
            admission,
            limiter,
            connect_timeout: settings.limits.connect_timeout,
        },
        stop_rx.clone(),
    ));
    tasks.spawn(http::serve_tls(
        tcp,
        acceptor,
        router.clone().layer(listener(true)),
        serve_options.clone(),
        stop_rx.clone(),
    ));
    let plain_addr = match plain {
        Some(plain) => {
            let addr = plain.local_addr().ok();
            tasks.spawn(http::serve_plain(
                plain,
                router.layer(listener(false)),
                serve_options,
                stop_rx.clone(),
            ));
            addr
        }
        None => None,
    };
    if let CertSource::SelfSigned { hosts } = &settings.cert {
        cert::spawn_rotation(certs.clone(), hosts.clone());
    }
    let publisher = registry.map(|(registry, publish)| {
        tokio::spawn(registry::run_publisher(
            registry,
            publish,
            certs.clone(),
            matches!(settings.cert, CertSource::SelfSigned { .. }),
            stop_rx.clone(),
        ))
    });

    let cert_sha256 = certs.sha256_hex();
    tracing::info!(
        header_read_timeout_ms = settings.limits.header_read_timeout.as_millis() as u64,
        webtransport_connect_timeout_ms = settings.limits.connect_timeout.as_millis() as u64,
        session_rate_per_ip = ?settings.limits.session_rate.map(|r| (r.per_second, r.burst)),
        webtransport = %format!("https://{local}/api/rooms/<room>"),
        websocket = %format!("wss://{local}/api/rooms/<room>/ws"),
        http = ?plain_addr,
        %cert_sha256,
        %relay_id,
        cluster = cluster.is_some(),
        web_root = ?web_root.as_ref().map(|w| w.dir().display().to_string()),
        "relay listening"
    );
    // One machine-readable line for scripts and tests.
    println!(
        "{}",
        process::ReadyLine {
            url: format!("https://{local}"),
            http: plain_addr.map(|a| format!("http://{a}")),
            cert_sha256,
        }
    );

    wait_for_signal().await?;
    tracing::info!("shutting down: refusing new sessions, sending clients away");
    stopping.store(true, Ordering::Relaxed);
    let _ = stop_tx.send(true);
    if let Some(publisher) = publisher {
        // Mark this relay draining so the directory stops sending clients.
        let _ = tokio::time::timeout(Duration::from_secs(3), publisher).await;
    }
    let started = tokio::time::Instant::now();
    rooms.shutdown(settings.shutdown_grace).await;
    // Sessions close themselves once their last messages are delivered.
    while endpoint.open_connections() > 0 && started.elapsed() < settings.shutdown_grace {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    endpoint.close(0u32.into(), b"relay shut down");
    let _ = tokio::time::timeout(Duration::from_secs(2), endpoint.wait_idle()).await;
    tasks.abort_all();
    tracing::info!("stopped");
    Ok(())
}

/// Binds UDP (QUIC) and TCP (TLS) on the same port; with port 0, picks a
/// port free for both.
async fn bind(addr: SocketAddr, certs: &Arc<CertStore>) -> Result<(quinn::Endpoint, TcpListener)> {
    let attempts = if addr.port() == 0 { 20 } else { 1 };
    let mut last_err = None;
    for _ in 0..attempts {
        let endpoint = quic::endpoint(addr, certs)?;
        let port = endpoint
            .local_addr()
            .context("reading the UDP port")?
            .port();
        match TcpListener::bind(SocketAddr::new(addr.ip(), port)).await {
            Ok(tcp) => return Ok((endpoint, tcp)),
            Err(err) => last_err = Some(err),
        }
    }
    match last_err {
        Some(err) => Err(err).with_context(|| format!("binding TCP {addr}")),
        None => bail!("could not bind {addr}"),
    }
}

async fn wait_for_signal() -> Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = term.recv() => {}
        result = tokio::signal::ctrl_c() => result.context("waiting for Ctrl-C")?,
    }
    Ok(())
}
