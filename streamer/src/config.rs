//! What a client needs to join a room.

use url::Url;

use crate::error::ClientError;
use crate::tls::Trust;
use crate::CLIENT_NAME;

/// Which transport a session uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// HTTP/3 WebTransport at `<base>/api/rooms/<room>`.
    WebTransport,
    /// WebSocket at `<base>/api/rooms/<room>/ws` (`https` → `wss`).
    WebSocket,
}

/// Where and how to join. Build with [`JoinConfig::new`] and the setters.
#[derive(Debug, Clone)]
pub struct JoinConfig {
    /// Base URL of the relay or edge (`https://host:port`).
    pub base_url: Url,
    /// The room (meeting id).
    pub room: String,
    /// The name asked for (used by open-mode servers; a token's name wins).
    pub name: String,
    /// The join token, if the server needs one.
    pub token: Option<String>,
    /// Transport to use.
    pub transport: TransportKind,
    /// How the server certificate is checked.
    pub trust: Trust,
    /// Client description sent in `Hello`.
    pub client: String,
    /// Largest message accepted from the server.
    pub max_message_bytes: usize,
    /// Received messages buffered before the transport readers stop (and
    /// flow control pushes back on the server).
    pub inbound_queue: usize,
    /// Withhold what the host's announced limits would close the session
    /// for (oversize messages, more than the sending rates). Only tests
    /// that break the limits on purpose turn this off.
    pub respect_limits: bool,
}

impl JoinConfig {
    /// A WebTransport join of `room` as `name` at `base_url`, checking the
    /// certificate against the web PKI roots.
    pub fn new(base_url: &str, room: &str, name: &str) -> Result<Self, ClientError> {
        let base_url = Url::parse(base_url)
            .map_err(|err| ClientError::Config(format!("base URL {base_url:?}: {err}")))?;
        if !matches!(base_url.scheme(), "https" | "http") {
            return Err(ClientError::Config(format!(
                "base URL {base_url} must start with https:// (or http:// for a plain WebSocket)"
            )));
        }
        Ok(Self {
            base_url,
            room: room.to_owned(),
            name: name.to_owned(),
            token: None,
            transport: TransportKind::WebTransport,
            trust: Trust::WebPki,
            client: CLIENT_NAME.to_owned(),
            max_message_bytes: 1024 * 1024,
            inbound_queue: 256,
            respect_limits: true,
        })
    }

    /// Uses `transport`.
    pub fn transport(mut self, transport: TransportKind) -> Self {
        self.transport = transport;
        self
    }

    /// Checks the server certificate with `trust`.
    pub fn trust(mut self, trust: Trust) -> Self {
        self.trust = trust;
        self
    }

    /// Presents `token`.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The URL a session of this configuration dials.
    pub fn session_url(&self) -> Result<Url, ClientError> {
        let mut url = self.base_url.clone();
        let path = match self.transport {
            TransportKind::WebTransport => format!("/api/rooms/{}", self.room),
            TransportKind::WebSocket => {
                let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
                url.set_scheme(scheme)
                    .map_err(|()| ClientError::Config(format!("cannot use {scheme} with {url}")))?;
                format!("/api/rooms/{}/ws", self.room)
            }
        };
        url.set_path(&path);
        {
            let mut query = url.query_pairs_mut();
            query.clear().append_pair("name", &self.name);
            if let Some(token) = &self.token {
                query.append_pair("token", token);
            }
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_urls_follow_the_edge_paths() {
        let config = JoinConfig::new("https://127.0.0.1:4443", "standup", "Zoë O'Brien").unwrap();
        assert_eq!(
            config.session_url().unwrap().as_str(),
            "https://127.0.0.1:4443/api/rooms/standup?name=Zo%C3%AB+O%27Brien"
        );
        let ws = config.token("t.k.n").transport(TransportKind::WebSocket);
        assert_eq!(
            ws.session_url().unwrap().as_str(),
            "wss://127.0.0.1:4443/api/rooms/standup/ws?name=Zo%C3%AB+O%27Brien&token=t.k.n"
        );
    }

    #[test]
    fn base_urls_must_be_http_or_https() {
        assert!(JoinConfig::new("ftp://x", "r", "n").is_err());
        assert!(JoinConfig::new("not a url", "r", "n").is_err());
    }
}
