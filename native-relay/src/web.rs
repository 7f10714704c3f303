//! The browser client, served from `--web-root` (what `cargo xtask
//! build-web` writes to `dist/web`): its static files, `index.html` for
//! every `/meeting/<username>/<meeting-id>` link (the client routes itself),
//! and `/client-config.json`, which points a page this relay served at the
//! relay itself, WebTransport first.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use axum::handler::HandlerWithoutStateExt;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use serde::Serialize;
use tower_http::services::{ServeDir, ServeFile};

/// A checked web-client directory.
#[derive(Debug, Clone)]
pub struct WebRoot {
    dir: PathBuf,
}

impl WebRoot {
    /// Checks that `dir` is a directory holding `index.html`.
    pub fn open(dir: &Path) -> Result<Self> {
        let meta = std::fs::metadata(dir)
            .with_context(|| format!("--web-root {}: cannot read it", dir.display()))?;
        if !meta.is_dir() {
            bail!("--web-root {} is not a directory", dir.display());
        }
        if !dir.join("index.html").is_file() {
            bail!(
                "--web-root {} holds no index.html: build the client with `cargo xtask build-web`",
                dir.display()
            );
        }
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory served.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Adds the client's routes to `router`: `/meeting/*` answers with
    /// `index.html`, any other path not routed yet with the file of that
    /// name (404 when there is none).
    pub fn mount<S>(&self, router: Router<S>) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let index = ServeFile::new(self.dir.join("index.html"));
        let files = ServeDir::new(&self.dir)
            .append_index_html_on_directories(true)
            .not_found_service(missing.into_service());
        router
            .route_service("/meeting/{*link}", index)
            .fallback_service(files)
    }
}

async fn missing() -> Response {
    (
        StatusCode::NOT_FOUND,
        "no such file; meetings are at /meeting/<username>/<meeting-id>\n",
    )
        .into_response()
}

/// The listener a request arrived on, added to each listener's router as
/// an [`Extension`] so handlers can describe the relay to the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listener {
    /// Whether the listener speaks TLS.
    pub tls: bool,
    /// The relay's WebTransport (UDP) port.
    pub quic_port: u16,
}

/// `/client-config.json` as the web client reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientConfig {
    /// WebSocket base: the page's own origin.
    pub websocket_base: Option<String>,
    /// WebTransport base: this relay's QUIC port on the host the page used.
    pub webtransport_base: Option<String>,
    /// Where the page fetches the certificate hash (same origin).
    pub cert_hash_url: Option<String>,
    /// Which transport the page tries first.
    pub prefer: &'static str,
}

impl ClientConfig {
    /// The configuration for a page loaded from `authority` (the request's
    /// `Host`, e.g. `127.0.0.1:4480` or `[::1]:4443`) over `listener`.
    pub fn for_page(listener: Listener, authority: &str) -> Self {
        let host = host_of(authority);
        let (http, ws) = if listener.tls {
            ("https", "wss")
        } else {
            ("http", "ws")
        };
        Self {
            websocket_base: Some(format!("{ws}://{authority}")),
            webtransport_base: Some(format!("https://{host}:{}", listener.quic_port)),
            cert_hash_url: Some(format!("{http}://{authority}/cert-hash")),
            prefer: "webtransport",
        }
    }
}

/// The host part of an authority (`[::1]` keeps its brackets).
fn host_of(authority: &str) -> &str {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => &authority[..=end],
            None => authority,
        };
    }
    authority
        .rsplit_once(':')
        .map_or(authority, |(host, _port)| host)
}

/// The request's `Host` if it is a well-formed authority without user
/// info; otherwise loopback on the listener's port.
fn page_authority(headers: &HeaderMap, listener: Listener) -> String {
    headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<http::uri::Authority>().ok())
        .filter(|authority| !authority.as_str().contains('@'))
        .map(|authority| authority.as_str().to_owned())
        .unwrap_or_else(|| format!("127.0.0.1:{}", listener.quic_port))
}

/// `GET /client-config.json`.
pub async fn client_config(listener: Option<Extension<Listener>>, headers: HeaderMap) -> Response {
    let Some(Extension(listener)) = listener else {
        // Only reachable if a listener forgot its extension.
        return (
            StatusCode::NOT_FOUND,
            "no page configuration on this listener\n",
        )
            .into_response();
    };
    let authority = page_authority(&headers, listener);
    match serde_json::to_string(&ClientConfig::for_page(listener, &authority)) {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        Err(err) => {
            tracing::error!(%err, "cannot encode the page configuration");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_over_plain_http_uses_the_same_origin_for_websocket_and_the_hash() {
        let listener = Listener {
            tls: false,
            quic_port: 4443,
        };
        let config = ClientConfig::for_page(listener, "127.0.0.1:4480");
        assert_eq!(
            config.websocket_base.as_deref(),
            Some("ws://127.0.0.1:4480")
        );
        assert_eq!(
            config.webtransport_base.as_deref(),
            Some("https://127.0.0.1:4443")
        );
        assert_eq!(
            config.cert_hash_url.as_deref(),
            Some("http://127.0.0.1:4480/cert-hash")
        );
        assert_eq!(config.prefer, "webtransport");
    }

    #[test]
    fn a_page_over_tls_keeps_tls_and_ipv6_brackets() {
        let listener = Listener {
            tls: true,
            quic_port: 4443,
        };
        let config = ClientConfig::for_page(listener, "[::1]:4443");
        assert_eq!(config.websocket_base.as_deref(), Some("wss://[::1]:4443"));
        assert_eq!(
            config.webtransport_base.as_deref(),
            Some("https://[::1]:4443")
        );
        assert_eq!(
            config.cert_hash_url.as_deref(),
            Some("https://[::1]:4443/cert-hash")
        );
        let named = ClientConfig::for_page(listener, "relay.example");
        assert_eq!(
            named.webtransport_base.as_deref(),
            Some("https://relay.example:4443")
        );
    }

    #[test]
    fn a_bad_host_header_falls_back_to_loopback() {
        let listener = Listener {
            tls: false,
            quic_port: 5000,
        };
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "evil@host:1".parse().unwrap());
        assert_eq!(page_authority(&headers, listener), "127.0.0.1:5000");
        headers.insert(header::HOST, "not a host".parse().unwrap());
        assert_eq!(page_authority(&headers, listener), "127.0.0.1:5000");
        headers.insert(header::HOST, "localhost:4480".parse().unwrap());
        assert_eq!(page_authority(&headers, listener), "localhost:4480");
        assert_eq!(
            page_authority(&HeaderMap::new(), listener),
            "127.0.0.1:5000"
        );
    }

    #[test]
    fn a_web_root_needs_an_index() {
        let dir = std::env::temp_dir().join(format!("edgecall-webroot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = WebRoot::open(&dir).unwrap_err().to_string();
        assert!(err.contains("index.html"), "{err}");
        std::fs::write(dir.join("index.html"), "<!doctype html>").unwrap();
        assert_eq!(WebRoot::open(&dir).unwrap().dir(), dir);
        let missing = WebRoot::open(&dir.join("nope")).unwrap_err().to_string();
        assert!(missing.contains("cannot read"), "{missing}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
