//! From `--url` (or `--directory`), `--transport`, `--token` and
//! `--cert-sha256` to where and how to join.

use anyhow::{bail, Context, Result};
use edgecall_stream::{JoinConfig, JoinTarget, RelayDirectory, TransportKind, Trust};

use crate::args::{ServerArgs, TransportChoice};

/// Where and how `name` joins for these server flags: one server, or the
/// relay a directory names at each attempt.
pub fn join_target(server: &ServerArgs, name: &str) -> Result<JoinTarget> {
    edgecall_proto::room::validate_room_id(&server.meeting_id)
        .with_context(|| format!("--meeting-id {:?}", server.meeting_id))?;
    if let Some(directory_url) = &server.directory {
        let directory =
            RelayDirectory::new(directory_url, &server.meeting_id, server.token.as_deref())
                .with_context(|| format!("--directory {directory_url:?}"))?;
        // Relays speak WebTransport unless told otherwise; the server part
        // of the template is replaced by each answer.
        let transport = match server.transport {
            TransportChoice::Websocket => TransportKind::WebSocket,
            TransportChoice::Auto | TransportChoice::Webtransport => TransportKind::WebTransport,
        };
        let mut template = JoinConfig::new(directory_url, &server.meeting_id, name)
            .with_context(|| format!("--directory {directory_url:?}"))?
            .transport(transport);
        if let Some(token) = &server.token {
            template = template.token(token.clone());
        }
        return Ok(JoinTarget::Directory {
            directory,
            template,
        });
    }
    let url = server.url.as_deref().context("give --url or --directory")?;
    let (base, scheme_says_ws) = match url.split_once("://") {
        Some(("wss", rest)) => (format!("https://{rest}"), true),
        Some(("ws", rest)) => (format!("http://{rest}"), true),
        Some(("http", _)) => (url.to_owned(), true),
        Some(("https", _)) => (url.to_owned(), false),
        _ => bail!(
            "--url {url:?}: use https://host:port (relay, WebTransport) or http(s)://host:port (edge, WebSocket)"
        ),
    };
    let transport = match server.transport {
        TransportChoice::Auto if scheme_says_ws => TransportKind::WebSocket,
        TransportChoice::Auto | TransportChoice::Webtransport => TransportKind::WebTransport,
        TransportChoice::Websocket => TransportKind::WebSocket,
    };
    if transport == TransportKind::WebTransport && base.starts_with("http://") {
        bail!("--url {url}: WebTransport needs https://");
    }
    let mut config = JoinConfig::new(&base, &server.meeting_id, name)
        .with_context(|| format!("--url {url:?}"))?
        .transport(transport);
    if let Some(hash) = &server.cert_sha256 {
        config = config.trust(Trust::cert_hash_hex(hash).context("--cert-sha256")?);
    }
    if let Some(token) = &server.token {
        config = config.token(token.clone());
    }
    Ok(JoinTarget::Server(config))
}
