//! Asking a relay directory (`edgecall-directory`) which relay serves a
//! room, and joining there. A client that came from a directory asks again
//! each time it reconnects: a relay that drained or died has left the
//! directory's answers, so the room moves to a live one.

use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::config::{JoinConfig, TransportKind};
use crate::error::ClientError;
use crate::tls::{self, Trust};

/// How long one lookup may take (connect, request and answer).
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read: a few hundred bytes of JSON are expected.
const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// A directory to ask, for one room.
#[derive(Debug, Clone)]
pub struct RelayDirectory {
    lookup: Url,
    token: Option<String>,
    http: reqwest::Client,
}

/// The directory's answer: where the room is served.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RelayAnswer {
    /// The chosen relay's id.
    pub relay_id: String,
    /// Its WebTransport session URL for the room.
    pub webtransport_url: String,
    /// Its WebSocket URL for the room.
    pub websocket_url: String,
    /// The SHA-256 of its self-signed certificate, when it has one.
    #[serde(default)]
    pub cert_sha256: Option<String>,
}

impl RelayDirectory {
    /// A directory at `base_url` (`https://…`, or `http://` for a local
    /// one) answering for `room`. The join token, when the deployment
    /// verifies tokens, is what proves the right to ask.
    pub fn new(base_url: &str, room: &str, token: Option<&str>) -> Result<Self, ClientError> {
        let base = Url::parse(base_url)
            .map_err(|err| ClientError::Config(format!("directory URL {base_url:?}: {err}")))?;
        if !matches!(base.scheme(), "https" | "http") {
            return Err(ClientError::Config(format!(
                "directory URL {base} must start with https:// (or http:// for a local one)"
            )));
        }
        let mut lookup = base.clone();
        let path = format!(
            "{}/v1/rooms/{room}/relay",
            base.path().trim_end_matches('/')
        );
        lookup.set_path(&path);
        lookup.set_query(None);
        let tls = tls::client_config(&Trust::WebPki, &[b"h2", b"http/1.1"])?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(LOOKUP_TIMEOUT)
            .build()
            .map_err(|err| ClientError::Config(format!("HTTP client for the directory: {err}")))?;
        Ok(Self {
            lookup,
            token: token.map(str::to_owned),
            http,
        })
    }

    /// Asks which relay serves the room now.
    pub async fn lookup(&self) -> Result<RelayAnswer, ClientError> {
        let failed = |status: Option<u16>, reason: String| ClientError::Directory {
            url: self.lookup.to_string(),
            status,
            reason,
        };
        let mut request = self.http.get(self.lookup.clone());
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|err| failed(None, err.to_string()))?;
        let status = response.status().as_u16();
        let body = read_capped(response)
            .await
            .map_err(|reason| failed(Some(status), reason))?;
        if status != 200 {
            // The directory says why in `{"error": …}`.
            let reason = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            return Err(failed(Some(status), reason));
        }
        serde_json::from_slice(&body)
            .map_err(|err| failed(Some(status), format!("unusable answer: {err}")))
    }

    /// The join configuration for the relay `answer` names: `template`
    /// (name, token, transport, limits) pointed at that relay, pinned to
    /// its certificate hash when it gave one.
    pub fn join_config(
        answer: &RelayAnswer,
        template: &JoinConfig,
    ) -> Result<JoinConfig, ClientError> {
        let session_url = match template.transport {
            TransportKind::WebTransport => &answer.webtransport_url,
            TransportKind::WebSocket => &answer.websocket_url,
        };
        let mut base = Url::parse(session_url).map_err(|err| {
            ClientError::Config(format!("the directory's relay URL {session_url:?}: {err}"))
        })?;
        let scheme = match base.scheme() {
            "https" | "wss" => "https",
            "http" | "ws" => "http",
            other => {
                return Err(ClientError::Config(format!(
                    "the directory's relay URL {session_url:?} has scheme {other:?}"
                )))
            }
        };
        base.set_scheme(scheme)
            .map_err(|()| ClientError::Config(format!("cannot use {scheme} with {base}")))?;
        base.set_path("/");
        base.set_query(None);
        let mut config = template.clone();
        config.base_url = base;
        if let Some(hash) = &answer.cert_sha256 {
            config.trust = Trust::cert_hash_hex(hash)?;
        }
        Ok(config)
    }
}

/// The body of `response`, refusing more than [`MAX_ANSWER_BYTES`].
async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|err| err.to_string())? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(format!("answer larger than {MAX_ANSWER_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Where a client joins: one server, or whichever relay a directory names
/// at the time of each attempt.
#[derive(Debug, Clone)]
pub enum JoinTarget {
    /// Always this server.
    Server(JoinConfig),
    /// The relay `directory` names, joined with `template`'s settings.
    Directory {
        /// The directory to ask.
        directory: RelayDirectory,
        /// Everything but the server.
        template: JoinConfig,
    },
}

impl JoinTarget {
    /// The configuration of the next attempt (asking the directory now).
    pub async fn resolve(&self) -> Result<JoinConfig, ClientError> {
        match self {
            JoinTarget::Server(config) => Ok(config.clone()),
            JoinTarget::Directory {
                directory,
                template,
            } => {
                let answer = directory.lookup().await?;
                tracing::info!(relay = %answer.relay_id, url = %answer.webtransport_url, "the directory chose a relay");
                RelayDirectory::join_config(&answer, template)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(cert: Option<&str>) -> RelayAnswer {
        RelayAnswer {
            relay_id: "relay-b".into(),
            webtransport_url: "https://10.0.0.2:4443/api/rooms/standup".into(),
            websocket_url: "wss://10.0.0.2:4443/api/rooms/standup/ws".into(),
            cert_sha256: cert.map(str::to_owned),
        }
    }

    #[test]
    fn an_answer_points_the_template_at_the_chosen_relay() {
        let template = JoinConfig::new("https://ignored.example", "standup", "pi")
            .unwrap()
            .token("t.k.n");
        let hash = "ab".repeat(32);
        let config = RelayDirectory::join_config(&answer(Some(&hash)), &template).unwrap();
        assert_eq!(
            config.session_url().unwrap().as_str(),
            "https://10.0.0.2:4443/api/rooms/standup?name=pi&token=t.k.n"
        );
        assert!(matches!(config.trust, Trust::CertHashes(ref hashes) if hashes.len() == 1));

        let ws = RelayDirectory::join_config(
            &answer(None),
            &template.clone().transport(TransportKind::WebSocket),
        )
        .unwrap();
        assert_eq!(
            ws.session_url().unwrap().as_str(),
            "wss://10.0.0.2:4443/api/rooms/standup/ws?name=pi&token=t.k.n"
        );
        assert!(matches!(ws.trust, Trust::WebPki));
    }

    #[test]
    fn lookups_go_to_the_room_path_under_the_directory_base() {
        let directory =
            RelayDirectory::new("https://dir.example/prod/", "standup", Some("t")).unwrap();
        assert_eq!(
            directory.lookup.as_str(),
            "https://dir.example/prod/v1/rooms/standup/relay"
        );
        assert!(RelayDirectory::new("ftp://dir.example", "standup", None).is_err());
    }

    #[test]
    fn answers_with_bad_urls_or_hashes_are_refused() {
        let template = JoinConfig::new("https://x.example", "standup", "pi").unwrap();
        let mut bad = answer(Some("not-a-hash"));
        assert!(RelayDirectory::join_config(&bad, &template).is_err());
        bad.cert_sha256 = None;
        bad.webtransport_url = "javascript:alert(1)".into();
        assert!(RelayDirectory::join_config(&bad, &template).is_err());
    }
}
