//! What the page was asked to do: the meeting URL (`/meeting/<name>/<id>`,
//! query parameters, `#k=` / `#key=`), merged with the optional
//! `/client-config.json`, turned into an ordered list of connection
//! attempts; and the invite link and random meeting id of "New meeting".
//! Pure logic; no browser APIs.

use edgecall_proto::e2ee::RoomSecret;
use edgecall_proto::wire::Codec;
use percent_encoding::percent_decode_str;
use rand_core::CryptoRngCore;
use serde::Deserialize;

/// Which transport a connection attempt uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// One protobuf message per binary WebSocket frame (the edge, or the relay).
    #[serde(rename = "websocket")]
    WebSocket,
    /// QUIC WebTransport to a relay.
    #[serde(rename = "webtransport")]
    WebTransport,
}

impl TransportKind {
    /// The name the UI and the test hook use.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::WebSocket => "websocket",
            TransportKind::WebTransport => "webtransport",
        }
    }

    fn parse(value: &str) -> Result<Self, ConfigError> {
        match value.to_ascii_lowercase().as_str() {
            "websocket" | "ws" => Ok(TransportKind::WebSocket),
            "webtransport" | "wt" => Ok(TransportKind::WebTransport),
            other => Err(ConfigError::BadTransport(other.to_owned())),
        }
    }
}

/// Why the page URL or the page config cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `transport=` names an unknown transport.
    #[error("unknown transport `{0}` in the page URL; use transport=websocket or transport=webtransport")]
    BadTransport(String),
    /// `codec=` names a video codec the client cannot publish.
    #[error("unknown video codec `{0}` in the page URL; use codec=h264 or codec=vp8")]
    BadCodec(String),
    /// `/client-config.json` is not valid JSON of the expected shape.
    #[error("the page configuration /client-config.json is invalid: {0}")]
    BadClientConfig(String),
    /// A server base URL is not http(s)/ws(s).
    #[error("`{0}` is not an http(s):// or ws(s):// server address")]
    BadServer(String),
    /// `cert_hash=` is not 64 hex digits.
    #[error("cert_hash must be the certificate's SHA-256 as 64 hex digits, got `{0}`")]
    BadCertHash(String),
    /// The relay directory's answer cannot be used.
    #[error("the relay directory's answer is invalid: {0}")]
    BadDirectory(String),
    /// The fragment's end-to-end key cannot be used.
    #[error("the meeting link's end-to-end encryption key is unusable: {0}")]
    BadKey(String),
    /// The fragment carries both a generated and a typed key.
    #[error("the meeting link carries both #k= and #key=; keep only the key you were given (the invite link has one)")]
    AmbiguousKey,
    /// WebTransport was forced but no relay address is known.
    #[error("transport=webtransport needs a relay address: add relay=https://<host>:<port> to the URL or set webtransport_base in /client-config.json")]
    NoRelay,
}

/// Everything the page URL says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageParams {
    /// Participant name (`/meeting/<name>/...`), possibly empty.
    pub name: String,
    /// Meeting id (`/meeting/.../<id>`), possibly empty.
    pub meeting: String,
    /// `token=`: a join token.
    pub token: Option<String>,
    /// `transport=`: force one transport.
    pub transport: Option<TransportKind>,
    /// `relay=`: WebTransport server base.
    pub relay: Option<String>,
    /// `cert_hash=`: the relay certificate's SHA-256, lowercase hex.
    pub cert_hash: Option<String>,
    /// `cert_hash_url=`: where to fetch the hash.
    pub cert_hash_url: Option<String>,
    /// `autojoin=1`: join without clicking.
    pub autojoin: bool,
    /// `server=`: WebSocket server base.
    pub server: Option<String>,
    /// `codec=h264|vp8`: the video codec to publish (by default H.264
    /// where the browser encodes it, else VP8).
    pub video_codec: Option<Codec>,
    /// `#k=` (generated) or `#key=` (typed): the room secret for
    /// end-to-end encryption.
    pub secret: Option<RoomSecret>,
}

fn non_empty(value: String) -> Option<String> {
    let trimmed = value.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

impl PageParams {
    /// Parses `location.pathname`, `location.search` and `location.hash`.
    pub fn parse(path: &str, search: &str, hash: &str) -> Result<Self, ConfigError> {
        let mut params = PageParams::default();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        if let ["meeting", rest @ ..] = segments.as_slice() {
            let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            params.name = rest
                .first()
                .map(|s| decode(s))
                .filter(|name| name != NO_NAME)
                .unwrap_or_default();
            params.meeting = rest.get(1).map(|s| decode(s)).unwrap_or_default();
        }
        let query = search.strip_prefix('?').unwrap_or(search);
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = value.into_owned();
            match key.as_ref() {
                "token" => params.token = non_empty(value),
                "transport" => {
                    params.transport = non_empty(value)
                        .map(|v| TransportKind::parse(&v))
                        .transpose()?;
                }
                "relay" => params.relay = non_empty(value),
                "cert_hash" => {
                    params.cert_hash = non_empty(value).map(|v| check_hash(&v)).transpose()?;
                }
                "cert_hash_url" => params.cert_hash_url = non_empty(value),
                "autojoin" => params.autojoin = matches!(value.as_str(), "1" | "true" | "yes"),
                "server" => params.server = non_empty(value),
                "codec" => {
                    params.video_codec = non_empty(value).map(|v| video_codec(&v)).transpose()?;
                }
                "name" if params.name.is_empty() => params.name = value,
                "meeting" if params.meeting.is_empty() => params.meeting = value,
                _ => {}
            }
        }
        let fragment = hash.strip_prefix('#').unwrap_or(hash);
        for (key, value) in form_urlencoded::parse(fragment.as_bytes()) {
            let Some(value) = non_empty(value.into_owned()) else {
                continue;
            };
            let secret = RoomSecret::from_link_param(&key, &value)
                .map_err(|err| ConfigError::BadKey(err.to_string()))?;
            if let Some(secret) = secret {
                if params.secret.as_ref().is_some_and(|s| *s != secret) {
                    return Err(ConfigError::AmbiguousKey);
                }
                params.secret = Some(secret);
            }
        }
        Ok(params)
    }
}

/// A `codec=` value as the codec it names.
fn video_codec(value: &str) -> Result<Codec, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "h264" | "avc" => Ok(Codec::H264),
        "vp8" => Ok(Codec::Vp8),
        _ => Err(ConfigError::BadCodec(value.to_owned())),
    }
}

fn check_hash(value: &str) -> Result<String, ConfigError> {
    let lower = value.to_ascii_lowercase();
    if lower.len() == 64 && lower.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(lower)
    } else {
        Err(ConfigError::BadCertHash(value.to_owned()))
    }
}

/// `/client-config.json`, served next to the page (a 404 means defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ClientConfig {
    /// WebSocket server base, e.g. `ws://127.0.0.1:8787`.
    pub websocket_base: Option<String>,
    /// WebTransport server base, e.g. `https://127.0.0.1:4443`.
    pub webtransport_base: Option<String>,
    /// Where the relay publishes its certificate hash.
    pub cert_hash_url: Option<String>,
    /// Which transport to try first.
    pub prefer: Option<TransportKind>,
    /// The relay directory (`edgecall-directory`): when set and the URL
    /// names no `relay=`, the client asks it which relay serves the room.
    pub directory_url: Option<String>,
}

/// The relay directory's answer to `GET /v1/rooms/<room>/relay?token=`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct DirectoryAnswer {
    /// The room's WebTransport session URL, `https://host:port/api/rooms/<room>`.
    pub webtransport_url: String,
    /// The relay certificate's SHA-256 (hex), for self-signed relays.
    #[serde(default)]
    pub cert_sha256: Option<String>,
}

impl DirectoryAnswer {
    /// Parses the directory's JSON body.
    pub fn from_json(body: &str) -> Result<Self, ConfigError> {
        serde_json::from_str(body).map_err(|err| ConfigError::BadDirectory(err.to_string()))
    }

    /// Points `params` at the relay the directory chose: its base URL (the
    /// session URL without `/api/rooms/...`) and its certificate hash,
    /// without overriding what the page URL already says.
    pub fn apply(&self, params: &mut PageParams) -> Result<(), ConfigError> {
        let base = self
            .webtransport_url
            .split_once("/api/rooms/")
            .map(|(base, _)| base)
            .filter(|base| base.starts_with("https://"))
            .ok_or_else(|| ConfigError::BadDirectory(self.webtransport_url.clone()))?;
        params.relay.get_or_insert_with(|| base.to_owned());
        if let Some(hash) = &self.cert_sha256 {
            if params.cert_hash.is_none() {
                params.cert_hash = Some(check_hash(hash)?);
            }
        }
        Ok(())
    }
}

/// The directory lookup URL for `meeting`, carrying the page's join token
/// (a directory of a deployment that verifies tokens answers only holders
/// of one for the room; the query keeps the request free of a CORS
/// preflight).
pub fn directory_lookup_url(directory: &str, meeting: &str, token: Option<&str>) -> String {
    let mut url = format!(
        "{}/v1/rooms/{}/relay",
        directory.trim_end_matches('/'),
        path_segment(meeting)
    );
    if let Some(token) = token {
        url.push_str("?token=");
        url.push_str(&encode(token));
    }
    url
}

impl ClientConfig {
    /// Parses the JSON body.
    pub fn from_json(body: &str) -> Result<Self, ConfigError> {
        serde_json::from_str(body).map_err(|err| ConfigError::BadClientConfig(err.to_string()))
    }
}

/// How the client learns the relay certificate's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertHash {
    /// Given directly (64 lowercase hex digits).
    Known(String),
    /// Fetched as text from this URL.
    Fetch(String),
    /// None: the relay has a certificate the browser trusts.
    Trusted,
}

/// One way to reach the meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// A WebSocket to `url`.
    WebSocket {
        /// `ws(s)://.../api/rooms/<meeting>/ws?name=...`.
        url: String,
    },
    /// A WebTransport session to `url`.
    WebTransport {
        /// `https://.../api/rooms/<meeting>?name=...`.
        url: String,
        /// The certificate pin.
        cert_hash: CertHash,
    },
}

impl Attempt {
    /// The transport this attempt uses.
    pub fn kind(&self) -> TransportKind {
        match self {
            Attempt::WebSocket { .. } => TransportKind::WebSocket,
            Attempt::WebTransport { .. } => TransportKind::WebTransport,
        }
    }

    /// The URL dialled.
    pub fn url(&self) -> &str {
        match self {
            Attempt::WebSocket { url } | Attempt::WebTransport { url, .. } => url,
        }
    }

    /// The server dialled: scheme and authority, without the path or the
    /// query (which may hold a join token).
    pub fn server(&self) -> &str {
        let url = self.url();
        let path_at = url
            .find("://")
            .map(|scheme_end| scheme_end + 3)
            .and_then(|authority| url[authority..].find('/').map(|i| authority + i))
            .unwrap_or(url.len());
        &url[..path_at]
    }

    /// A URL that answers when the server of this attempt is up, used to
    /// tell "unreachable" from "refused" after a failure: its `/healthz`,
    /// or, for a relay with a self-signed certificate (which a plain fetch
    /// would not trust), the plain-HTTP URL its certificate hash comes from.
    pub fn health_url(&self) -> Option<String> {
        if let Attempt::WebTransport {
            cert_hash: CertHash::Fetch(url),
            ..
        } = self
        {
            return Some(url.clone());
        }
        let url = self.url();
        let (scheme, rest) = url.split_once("://")?;
        let scheme = match scheme {
            "ws" | "http" => "http",
            "wss" | "https" => "https",
            _ => return None,
        };
        let authority = rest.split('/').next()?;
        Some(format!("{scheme}://{authority}/healthz"))
    }
}

/// Everything needed to join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinPlan {
    /// Attempts in order; the first that connects wins.
    pub attempts: Vec<Attempt>,
}

/// Rewrites an http(s)/ws(s) base to the `ws`/`wss` scheme, without a
/// trailing slash.
fn websocket_base(base: &str) -> Result<String, ConfigError> {
    let base = base.trim_end_matches('/');
    let (scheme, rest) = base
        .split_once("://")
        .ok_or_else(|| ConfigError::BadServer(base.to_owned()))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        _ => return Err(ConfigError::BadServer(base.to_owned())),
    };
    Ok(format!("{scheme}://{rest}"))
}

fn https_base(base: &str) -> Result<String, ConfigError> {
    let base = base.trim_end_matches('/');
    let (scheme, rest) = base
        .split_once("://")
        .ok_or_else(|| ConfigError::BadServer(base.to_owned()))?;
    match scheme.to_ascii_lowercase().as_str() {
        "https" | "http" | "wss" => Ok(format!("https://{rest}")),
        _ => Err(ConfigError::BadServer(base.to_owned())),
    }
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Percent-encodes one URL path segment, leaving RFC 3986's unreserved
/// characters (`-`, `_`, `.`, `~`) literal: room ids use `-` and `_`, and
/// the servers match the path as written.
fn path_segment(value: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(value, SEGMENT).to_string()
}

/// Builds the join plan for participant `name` in `meeting`, given the page
/// URL's parameters, the page config and the page origin
/// (`location.origin`).
pub fn plan(
    params: &PageParams,
    config: &ClientConfig,
    origin: &str,
    name: &str,
    meeting: &str,
) -> Result<JoinPlan, ConfigError> {
    let mut query = format!("name={}", encode(name));
    if let Some(token) = &params.token {
        query.push_str("&token=");
        query.push_str(&encode(token));
    }
    let room = path_segment(meeting);

    let ws_base = match (&params.server, &config.websocket_base) {
        (Some(server), _) => websocket_base(server)?,
        (None, Some(base)) => websocket_base(base)?,
        (None, None) => websocket_base(origin)?,
    };
    let websocket = Attempt::WebSocket {
        url: format!("{ws_base}/api/rooms/{room}/ws?{query}"),
    };
    let relay = params.relay.as_ref().or(config.webtransport_base.as_ref());
    let webtransport = relay
        .map(|relay| -> Result<Attempt, ConfigError> {
            let cert_hash = match (
                &params.cert_hash,
                &params.cert_hash_url,
                &config.cert_hash_url,
            ) {
                (Some(hash), _, _) => CertHash::Known(hash.clone()),
                (None, Some(url), _) | (None, None, Some(url)) => CertHash::Fetch(url.clone()),
                (None, None, None) => CertHash::Trusted,
            };
            Ok(Attempt::WebTransport {
                url: format!("{}/api/rooms/{room}?{query}", https_base(relay)?),
                cert_hash,
            })
        })
        .transpose()?;

    let attempts = match (params.transport, webtransport) {
        (Some(TransportKind::WebSocket), _) => vec![websocket],
        (Some(TransportKind::WebTransport), Some(wt)) => vec![wt],
        (Some(TransportKind::WebTransport), None) => return Err(ConfigError::NoRelay),
        (None, None) => vec![websocket],
        (None, Some(wt)) => {
            // An explicit relay= means "use it"; otherwise the page config decides.
            if params.relay.is_some() || config.prefer != Some(TransportKind::WebSocket) {
                vec![wt, websocket]
            } else {
                vec![websocket, wt]
            }
        }
    };
    Ok(JoinPlan { attempts })
}

/// The name segment of an invite link: "no name yet, ask in the lobby".
/// (An empty segment would not survive: servers fold `//` into `/`.)
pub const NO_NAME: &str = "-";

/// The link that invites someone into `meeting`:
/// `<origin>/meeting/-/<meeting>` plus, for an encrypted meeting, the secret
/// in the fragment (`#k=<base64url>` or `#key=<typed>`) — never in the path
/// or query, so no server sees it. The name segment is [`NO_NAME`], left for
/// the invitee to fill in in the lobby.
pub fn invite_url(origin: &str, meeting: &str, secret: Option<&RoomSecret>) -> String {
    let mut url = format!(
        "{}/meeting/{NO_NAME}/{}",
        origin.trim_end_matches('/'),
        path_segment(meeting)
    );
    if let Some(secret) = secret {
        url.push('#');
        url.push_str(&fragment(secret));
    }
    url
}

/// The URL fragment (without `#`) carrying `secret`.
pub fn fragment(secret: &RoomSecret) -> String {
    let (name, value) = secret.link_param();
    format!("{name}={}", encode(&value))
}

/// The page path of `name` in `meeting`, `/meeting/<name>/<meeting>`.
pub fn meeting_path(name: &str, meeting: &str) -> String {
    format!("/meeting/{}/{}", path_segment(name), path_segment(meeting))
}

/// Characters of generated meeting ids: lowercase letters and digits
/// without the look-alikes `0`, `1`, `l` and `o` (32 symbols, 5 bits each).
const MEETING_ID_ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// A random meeting id for "New meeting": three groups of four characters
/// from a 32-symbol alphabet (60 bits, e.g. `k3fq-a8dz-q2mw`), valid for
/// the servers' room-id syntax. It names the meeting; the key, not the id,
/// keeps an encrypted meeting private.
pub fn random_meeting_id(rng: &mut (impl CryptoRngCore + ?Sized)) -> String {
    let mut bytes = [0u8; 12];
    rng.fill_bytes(&mut bytes);
    let mut id = String::with_capacity(14);
    for (i, byte) in bytes.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            id.push('-');
        }
        id.push(char::from(MEETING_ID_ALPHABET[usize::from(byte & 31)]));
    }
    id
}

/// Decodes a 64-digit hex hash into its 32 bytes.
pub fn hash_bytes(hex_hash: &str) -> Result<Vec<u8>, ConfigError> {
    let checked = check_hash(hex_hash.trim())?;
    hex::decode(checked).map_err(|_| ConfigError::BadCertHash(hex_hash.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12";

    #[test]
    fn meeting_path_query_and_fragment_are_read() {
        let p = PageParams::parse(
            "/meeting/Ada%20L/standup",
            "?token=t.o.k&transport=webtransport&relay=https://127.0.0.1:4443&autojoin=1",
            "#key=s3cret",
        )
        .unwrap();
        assert_eq!(p.name, "Ada L");
        assert_eq!(p.meeting, "standup");
        assert_eq!(p.token.as_deref(), Some("t.o.k"));
        assert_eq!(p.transport, Some(TransportKind::WebTransport));
        assert_eq!(p.relay.as_deref(), Some("https://127.0.0.1:4443"));
        assert!(p.autojoin);
        assert_eq!(p.secret, Some(RoomSecret::Typed("s3cret".into())));
    }

    #[test]
    fn other_paths_leave_name_and_meeting_empty() {
        let p = PageParams::parse("/", "", "").unwrap();
        assert_eq!((p.name.as_str(), p.meeting.as_str()), ("", ""));
        assert!(!p.autojoin);
        assert_eq!(p.secret, None);
    }

    #[test]
    fn bad_transport_and_hash_are_refused_with_a_fix() {
        let err = PageParams::parse("/meeting/a/b", "?transport=carrier-pigeon", "").unwrap_err();
        assert!(err.to_string().contains("transport=websocket"));
        let err = PageParams::parse("/meeting/a/b", "?cert_hash=xyz", "").unwrap_err();
        assert!(matches!(err, ConfigError::BadCertHash(_)));
        let err = PageParams::parse("/meeting/a/b", "?codec=theora", "").unwrap_err();
        assert!(err.to_string().contains("codec=vp8"));
    }

    #[test]
    fn the_video_codec_can_be_forced_from_the_url() {
        let parse = |q| {
            PageParams::parse("/meeting/a/b", q, "")
                .unwrap()
                .video_codec
        };
        assert_eq!(parse("?codec=vp8"), Some(Codec::Vp8));
        assert_eq!(parse("?codec=VP8"), Some(Codec::Vp8));
        assert_eq!(parse("?codec=h264"), Some(Codec::H264));
        assert_eq!(parse(""), None);
    }

    #[test]
    fn websocket_defaults_to_the_page_origin() {
        let p = PageParams::parse("/meeting/ada/standup", "?token=abc", "").unwrap();
        let plan = super::plan(
            &p,
            &ClientConfig::default(),
            "http://127.0.0.1:8787",
            "ada",
            "standup",
        )
        .unwrap();
        assert_eq!(
            plan.attempts,
            vec![Attempt::WebSocket {
                url: "ws://127.0.0.1:8787/api/rooms/standup/ws?name=ada&token=abc".into()
            }]
        );
        assert_eq!(
            plan.attempts[0].health_url().as_deref(),
            Some("http://127.0.0.1:8787/healthz")
        );
    }

    #[test]
    fn the_server_of_an_attempt_shows_no_path_and_no_token() {
        let p = PageParams::parse("/meeting/ada/standup", "?token=secret-token", "").unwrap();
        let config = ClientConfig {
            webtransport_base: Some("https://relay.example:4443/".into()),
            ..ClientConfig::default()
        };
        let plan = super::plan(&p, &config, "http://127.0.0.1:8787", "ada", "standup").unwrap();
        let servers: Vec<&str> = plan.attempts.iter().map(Attempt::server).collect();
        assert_eq!(
            servers,
            ["https://relay.example:4443", "ws://127.0.0.1:8787"]
        );
    }

    #[test]
    fn relay_from_config_is_preferred_and_falls_back_to_websocket() {
        let config = ClientConfig::from_json(
            r#"{"websocket_base":null,"webtransport_base":"https://127.0.0.1:4443",
                "cert_hash_url":"http://127.0.0.1:4480/cert-hash","prefer":"webtransport"}"#,
        )
        .unwrap();
        let p = PageParams::parse("/meeting/ada/standup", "", "").unwrap();
        let plan = super::plan(&p, &config, "https://127.0.0.1:4443", "ada", "standup").unwrap();
        assert_eq!(
            plan.attempts[0].health_url().as_deref(),
            Some("http://127.0.0.1:4480/cert-hash")
        );
        assert_eq!(
            plan.attempts,
            vec![
                Attempt::WebTransport {
                    url: "https://127.0.0.1:4443/api/rooms/standup?name=ada".into(),
                    cert_hash: CertHash::Fetch("http://127.0.0.1:4480/cert-hash".into()),
                },
                Attempt::WebSocket {
                    url: "wss://127.0.0.1:4443/api/rooms/standup/ws?name=ada".into()
                },
            ]
        );
    }

    #[test]
    fn query_overrides_config_and_forcing_drops_the_fallback() {
        let config = ClientConfig {
            websocket_base: Some("ws://10.0.0.1:1".into()),
            prefer: Some(TransportKind::WebSocket),
            ..ClientConfig::default()
        };
        let p = PageParams::parse(
            "/meeting/ada/standup",
            &format!("?transport=webtransport&relay=https://127.0.0.1:9/&cert_hash={HASH}"),
            "",
        )
        .unwrap();
        let plan = super::plan(&p, &config, "http://x", "ada", "standup").unwrap();
        assert_eq!(
            plan.attempts,
            vec![Attempt::WebTransport {
                url: "https://127.0.0.1:9/api/rooms/standup?name=ada".into(),
                cert_hash: CertHash::Known(HASH.into()),
            }]
        );
        let p =
            PageParams::parse("/meeting/ada/standup", "?server=http://127.0.0.1:5", "").unwrap();
        let plan = super::plan(&p, &config, "http://x", "ada", "standup").unwrap();
        assert_eq!(
            plan.attempts[0].url(),
            "ws://127.0.0.1:5/api/rooms/standup/ws?name=ada"
        );
    }

    #[test]
    fn forced_webtransport_without_relay_is_an_error() {
        let p = PageParams::parse("/meeting/ada/x", "?transport=webtransport", "").unwrap();
        assert_eq!(
            plan(&p, &ClientConfig::default(), "http://h", "ada", "x"),
            Err(ConfigError::NoRelay)
        );
    }

    #[test]
    fn names_and_rooms_are_escaped() {
        let p = PageParams::default();
        let plan =
            super::plan(&p, &ClientConfig::default(), "https://h", "Zoë & co", "a/b").unwrap();
        assert_eq!(
            plan.attempts[0].url(),
            "wss://h/api/rooms/a%2Fb/ws?name=Zo%C3%AB+%26+co"
        );
    }

    #[test]
    fn hashes_decode_to_32_bytes() {
        assert_eq!(hash_bytes(HASH).unwrap().len(), 32);
        assert!(hash_bytes("00").is_err());
        assert!(ClientConfig::from_json("{").is_err());
        assert_eq!(
            ClientConfig::from_json("{}").unwrap(),
            ClientConfig::default()
        );
    }

    #[test]
    fn a_generated_key_comes_from_k_and_a_typed_one_from_key() {
        let p = PageParams::parse("/meeting/a/b", "", "#k=MDEyMzQ1Njc4OWFiY2RlZg").unwrap();
        assert_eq!(p.secret, Some(RoomSecret::Generated(*b"0123456789abcdef")));
        let p = PageParams::parse("/meeting/a/b", "", "#key=two%20words&other=1").unwrap();
        assert_eq!(p.secret, Some(RoomSecret::Typed("two words".into())));
        let p = PageParams::parse("/meeting/a/b", "", "#key=").unwrap();
        assert_eq!(p.secret, None);
    }

    #[test]
    fn a_broken_or_ambiguous_key_is_refused_with_a_fix() {
        let err = PageParams::parse("/meeting/a/b", "", "#k=short").unwrap_err();
        assert!(matches!(err, ConfigError::BadKey(_)));
        assert!(err.to_string().contains("invite link"), "{err}");
        let err = PageParams::parse("/meeting/a/b", "", "#k=MDEyMzQ1Njc4OWFiY2RlZg&key=typed")
            .unwrap_err();
        assert_eq!(err, ConfigError::AmbiguousKey);
    }

    #[test]
    fn the_invite_link_carries_the_key_only_in_the_fragment() {
        let secret = RoomSecret::Generated(*b"0123456789abcdef");
        let url = invite_url("https://meet.example/", "k3fq-a8dz", Some(&secret));
        assert_eq!(
            url,
            "https://meet.example/meeting/-/k3fq-a8dz#k=MDEyMzQ1Njc4OWFiY2RlZg"
        );
        let (before_fragment, _) = url.split_once('#').unwrap();
        assert!(!before_fragment.contains("MDEyMzQ1"));
        // The invitee's page reads it back: no name yet, the meeting, the key.
        let p = PageParams::parse("/meeting/-/k3fq-a8dz", "", "#k=MDEyMzQ1Njc4OWFiY2RlZg").unwrap();
        assert_eq!((p.name.as_str(), p.meeting.as_str()), ("", "k3fq-a8dz"));
        assert_eq!(p.secret, Some(secret));
        let typed = RoomSecret::Typed("a b&c".into());
        assert_eq!(
            invite_url("http://h", "m", Some(&typed)),
            "http://h/meeting/-/m#key=a+b%26c"
        );
        let p = PageParams::parse("/meeting/-/m", "", "#key=a+b%26c").unwrap();
        assert_eq!(p.secret, Some(typed));
        assert_eq!(invite_url("http://h", "m", None), "http://h/meeting/-/m");
        assert_eq!(meeting_path("Zoë", "m-1"), "/meeting/Zo%C3%AB/m-1");
    }

    #[test]
    fn random_meeting_ids_are_valid_room_ids_and_differ() {
        let mut rng = rand_core::OsRng;
        let a = random_meeting_id(&mut rng);
        let b = random_meeting_id(&mut rng);
        assert_ne!(a, b);
        for id in [&a, &b] {
            assert_eq!(id.len(), 14, "{id}");
            assert_eq!(id.matches('-').count(), 2, "{id}");
            edgecall_proto::room::validate_room_id(id).unwrap();
        }
    }

    #[test]
    fn room_ids_keep_their_unreserved_characters_in_the_path() {
        assert_eq!(super::path_segment("edge-pair_1.x~y"), "edge-pair_1.x~y");
        assert_eq!(super::path_segment("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn a_directory_answer_points_the_page_at_its_relay() {
        let answer = super::DirectoryAnswer::from_json(
            r#"{"room":"standup","relay_id":"i-1","webtransport_url":"https://203.0.113.7:443/api/rooms/standup",
                "websocket_url":"wss://203.0.113.7:443/api/rooms/standup/ws","cert_sha256":"AB"}"#,
        )
        .unwrap();
        let mut params = PageParams::default();
        assert!(
            answer.apply(&mut params).is_err(),
            "a short hash is refused"
        );
        let answer = super::DirectoryAnswer {
            cert_sha256: Some("ab".repeat(32)),
            ..answer
        };
        answer.apply(&mut params).unwrap();
        assert_eq!(params.relay.as_deref(), Some("https://203.0.113.7:443"));
        assert_eq!(params.cert_hash, Some("ab".repeat(32)));
        assert_eq!(params.token, None, "the directory hands out no token");
    }

    #[test]
    fn the_directory_is_asked_with_the_pages_token_and_never_a_name() {
        assert_eq!(
            super::directory_lookup_url("https://dir.example/", "stand-up", Some("h.p+s/ig")),
            "https://dir.example/v1/rooms/stand-up/relay?token=h.p%2Bs%2Fig"
        );
        assert_eq!(
            super::directory_lookup_url("https://dir.example", "stand-up", None),
            "https://dir.example/v1/rooms/stand-up/relay"
        );
    }
}
