//! From `--url`, `--transport`, `--token` and `--cert-sha256` to a
//! [`JoinConfig`].

use anyhow::{bail, Context, Result};
use edgecall_stream::{JoinConfig, TransportKind, Trust};

use crate::args::{ServerArgs, TransportChoice};

/// The join configuration of `name` for these server flags.
pub fn join_config(server: &ServerArgs, name: &str) -> Result<JoinConfig> {
    edgecall_proto::room::validate_room_id(&server.meeting_id)
        .with_context(|| format!("--meeting-id {:?}", server.meeting_id))?;
    let (base, scheme_says_ws) = match server.url.split_once("://") {
        Some(("wss", rest)) => (format!("https://{rest}"), true),
        Some(("ws", rest)) => (format!("http://{rest}"), true),
        Some(("http", _)) => (server.url.clone(), true),
        Some(("https", _)) => (server.url.clone(), false),
        _ => bail!(
            "--url {:?}: use https://host:port (relay, WebTransport) or http(s)://host:port (edge, WebSocket)",
            server.url
        ),
    };
    let transport = match server.transport {
        TransportChoice::Auto if scheme_says_ws => TransportKind::WebSocket,
        TransportChoice::Auto | TransportChoice::Webtransport => TransportKind::WebTransport,
        TransportChoice::Websocket => TransportKind::WebSocket,
    };
    if transport == TransportKind::WebTransport && base.starts_with("http://") {
        bail!("--url {}: WebTransport needs https://", server.url);
    }
    let mut config = JoinConfig::new(&base, &server.meeting_id, name)
        .with_context(|| format!("--url {:?}", server.url))?
        .transport(transport);
    if let Some(hash) = &server.cert_sha256 {
        config = config.trust(Trust::cert_hash_hex(hash).context("--cert-sha256")?);
    }
    if let Some(token) = &server.token {
        config = config.token(token.clone());
    }
    Ok(config)
}
