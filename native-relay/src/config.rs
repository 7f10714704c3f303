//! Relay configuration: command-line flags, environment variables and an
//! optional TOML file, in that order of precedence, then defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;
use edgecall_proto::room::RoomConfig;
use serde::Deserialize;

use crate::limits::{self, Limits, SessionRate};
use crate::registry::Target;

/// Command-line flags (each also readable from an environment variable,
/// and — without the `--` — from the TOML file given by `--config`).
#[derive(Debug, Default, Parser, Deserialize)]
#[command(
    name = "edgecall-relay",
    version,
    about = "edgecall native WebTransport + WebSocket relay"
)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Args {
    /// TOML file with any of these settings (kebab-case keys) and an
    /// optional `[room]` table of engine limits.
    #[arg(long, env = "EDGECALL_RELAY_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address for WebTransport (UDP) and WebSocket over TLS (TCP, same
    /// port). Port 0 picks a free port. [default: 0.0.0.0:4443]
    #[arg(long, env = "EDGECALL_RELAY_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Optional plain-HTTP address serving /healthz, /metrics, /cert-hash
    /// (and WebSocket without TLS) for monitoring and local development.
    #[arg(long, env = "EDGECALL_RELAY_HTTP_LISTEN")]
    pub http_listen: Option<SocketAddr>,
    /// PEM certificate chain; without it a short-lived self-signed ECDSA
    /// P-256 certificate is generated (and rotated).
    #[arg(long, env = "EDGECALL_RELAY_CERT", requires = "key")]
    pub cert: Option<PathBuf>,
    /// PEM private key for `--cert`.
    #[arg(long, env = "EDGECALL_RELAY_KEY", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Host names and IP addresses the self-signed certificate covers.
    /// [default: localhost 127.0.0.1 ::1]
    #[arg(
        long = "cert-host",
        env = "EDGECALL_RELAY_CERT_HOSTS",
        value_delimiter = ','
    )]
    pub cert_hosts: Option<Vec<String>>,
    /// HS256 join-token secret. Without one the relay runs in open mode
    /// (anyone may join any room under any name).
    #[arg(long, env = "EDGECALL_TOKEN_SECRET", hide_env_values = true)]
    pub token_secret: Option<String>,
    /// NATS server URL; enables cluster mode (rooms span relays).
    #[arg(long, env = "EDGECALL_RELAY_NATS")]
    pub nats: Option<String>,
    /// Cluster heartbeat interval in milliseconds. [default: 1000]
    #[arg(long, env = "EDGECALL_RELAY_NATS_HEARTBEAT_MS")]
    pub nats_heartbeat_ms: Option<u64>,
    /// A relay silent for this long is considered dead and its
    /// participants leave. [default: 5000]
    #[arg(long, env = "EDGECALL_RELAY_NATS_TIMEOUT_MS")]
    pub nats_timeout_ms: Option<u64>,
    /// Base URL of the edge (`https://…` or `http://…`). With a trunk
    /// secret, each room with local participants keeps one trunk WebSocket
    /// to the edge's room (one relay per room in cluster mode).
    #[arg(long, env = "EDGECALL_RELAY_EDGE")]
    pub edge: Option<String>,
    /// The edge's `TRUNK_SECRET`, sent as `Authorization: Bearer …`.
    #[arg(long, env = "EDGECALL_RELAY_TRUNK_SECRET", hide_env_values = true)]
    pub trunk_secret: Option<String>,
    /// Trunk to the edge although this relay has no `--token-secret` (it
    /// admits anyone). Only for an open (dev) edge: an edge that verifies
    /// join tokens refuses such a trunk anyway.
    #[arg(long, env = "EDGECALL_RELAY_OPEN_TRUNK")]
    pub open_trunk: bool,
    /// How long a graceful shutdown waits for clients to leave. [default: 5000]
    #[arg(long, env = "EDGECALL_RELAY_SHUTDOWN_GRACE_MS")]
    pub shutdown_grace_ms: Option<u64>,
    /// Publish this relay for the directory Lambda: `dynamodb://<table>`
    /// (build with `--features aws`) or `file:///dir`. Rewritten at
    /// start-up, every 30 s, on certificate rotation, and marked draining
    /// on shutdown. Needs `--public-url`.
    #[arg(long, env = "EDGECALL_RELAY_PUBLISH_TO", requires = "public_url")]
    pub publish_to: Option<String>,
    /// The URL clients reach this relay at, `https://host:port` (what the
    /// directory hands out).
    #[arg(long, env = "EDGECALL_RELAY_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Stable id in the registry (e.g. the EC2 instance id).
    /// [default: the host of --public-url]
    #[arg(long, env = "EDGECALL_RELAY_ID")]
    pub relay_id: Option<String>,
    /// Directory holding the browser client (`cargo xtask build-web` writes
    /// `dist/web`): served on both HTTP listeners, with `index.html` for
    /// `/meeting/<username>/<meeting-id>`.
    #[arg(long, env = "EDGECALL_RELAY_WEB_ROOT")]
    pub web_root: Option<PathBuf>,
    /// Log format: `text` or `json`. [default: text]
    #[arg(long, env = "EDGECALL_RELAY_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// An HTTP client must send a request's whole header (request line
    /// included) within this many milliseconds, or its connection is
    /// closed; applies to the TLS and the plain listener, and to idle
    /// keep-alive connections waiting for their next request. [default: 10000]
    #[arg(long, env = "EDGECALL_RELAY_HEADER_READ_TIMEOUT_MS")]
    pub header_read_timeout_ms: Option<u64>,
    /// A QUIC client must finish its handshake and send the WebTransport
    /// CONNECT within this many milliseconds of its first packet, or its
    /// connection is closed. [default: 10000]
    #[arg(long, env = "EDGECALL_RELAY_WEBTRANSPORT_CONNECT_TIMEOUT_MS")]
    pub webtransport_connect_timeout_ms: Option<u64>,
    /// New WebSocket and WebTransport sessions one client address (an IPv6
    /// client: its /64) may open per second; more are refused with HTTP
    /// 429. 0 turns the limit off (load tests from one address). [default: 10]
    #[arg(long, env = "EDGECALL_RELAY_SESSION_RATE_PER_IP")]
    pub session_rate_per_ip: Option<u32>,
    /// Sessions one client address may open at once before
    /// `--session-rate-per-ip` applies. [default: 50]
    #[arg(long, env = "EDGECALL_RELAY_SESSION_BURST_PER_IP")]
    pub session_burst_per_ip: Option<u32>,
    /// Engine limits (TOML `[room]` table only).
    #[arg(skip)]
    pub room: Option<RoomConfig>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Where the TLS certificate comes from.
#[derive(Debug, Clone)]
pub enum CertSource {
    /// PEM files.
    Pem {
        /// Certificate chain.
        cert: PathBuf,
        /// Private key.
        key: PathBuf,
    },
    /// Generated at start-up and rotated, covering these names.
    SelfSigned {
        /// DNS names and IP addresses.
        hosts: Vec<String>,
    },
}

/// Where the relay's trunks go.
#[derive(Debug, Clone)]
pub struct TrunkSettings {
    /// The edge's base URL (http, https, ws or wss).
    pub edge: url::Url,
    /// The edge's trunk secret.
    pub secret: String,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// QUIC + TLS/TCP address.
    pub listen: SocketAddr,
    /// Plain HTTP address, if any.
    pub http_listen: Option<SocketAddr>,
    /// Certificate source.
    pub cert: CertSource,
    /// Token secret (`None`: open mode).
    pub token_secret: Option<String>,
    /// NATS URL (`None`: standalone).
    pub nats: Option<String>,
    /// Cluster heartbeat interval.
    pub nats_heartbeat: Duration,
    /// Cluster peer timeout.
    pub nats_timeout: Duration,
    /// The edge to trunk rooms to, if any.
    pub trunk: Option<TrunkSettings>,
    /// Graceful shutdown budget.
    pub shutdown_grace: Duration,
    /// The browser client's directory, if served.
    pub web_root: Option<PathBuf>,
    /// Log format.
    pub log_format: LogFormat,
    /// Engine configuration for every room.
    pub room: RoomConfig,
    /// Where and as what to publish this relay, if anywhere.
    pub publish: Option<Publish>,
    /// Transport limits against hostile clients.
    pub limits: Limits,
}

/// Publishing settings (`--publish-to`, `--public-url`, `--relay-id`).
#[derive(Debug, Clone)]
pub struct Publish {
    /// The registry.
    pub target: Target,
    /// Public base URL, `https://host:port`.
    pub public_url: String,
    /// Registry id.
    pub relay_id: String,
}

fn resolve_publish(
    target: Option<String>,
    public_url: Option<String>,
    relay_id: Option<String>,
) -> Result<Option<Publish>> {
    let Some(target) = target.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let target: Target = target.parse()?;
    let public_url = public_url
        .context("--publish-to needs --public-url https://host:port (what clients connect to)")?;
    let parsed = url::Url::parse(&public_url)
        .with_context(|| format!("--public-url {public_url:?} is not a URL"))?;
    let host = match (parsed.scheme(), parsed.host_str(), parsed.path()) {
        ("https", Some(host), "/") => host.to_owned(),
        _ => bail!("--public-url {public_url:?} must look like https://host:port (no path)"),
    };
    let relay_id = relay_id.filter(|id| !id.is_empty()).unwrap_or(host);
    crate::registry::validate_id(&relay_id).context("--relay-id")?;
    Ok(Some(Publish {
        target,
        public_url: public_url.trim_end_matches('/').to_owned(),
        relay_id,
    }))
}

impl Settings {
    /// Parses the process arguments (and environment, and `--config`).
    pub fn from_env() -> Result<Self> {
        Self::resolve(Args::parse())
    }

    /// Parses `args` (the first one is the program name) like the command
    /// line, with the environment and `--config` file under them.
    pub fn from_args<I, T>(args: I) -> Result<Self>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Self::resolve(Args::try_parse_from(args).context("parsing the relay's arguments")?)
    }

    /// Merges flags over the TOML file over defaults.
    pub fn resolve(args: Args) -> Result<Self> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => Args::default(),
        };
        let limits = resolve_limits(&args, &file)?;
        let cert = match (args.cert.or(file.cert), args.key.or(file.key)) {
            (Some(cert), Some(key)) => CertSource::Pem { cert, key },
            (None, None) => CertSource::SelfSigned {
                hosts: args.cert_hosts.or(file.cert_hosts).unwrap_or_else(|| {
                    vec!["localhost".into(), "127.0.0.1".into(), "::1".into()]
                }),
            },
            _ => bail!("--cert and --key go together: give both PEM files, or neither for a self-signed certificate"),
        };
        let log_format = match args
            .log_format
            .or(file.log_format)
            .as_deref()
            .unwrap_or("text")
        {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => bail!("--log-format {other:?}: use `text` or `json`"),
        };
        let heartbeat_ms = args
            .nats_heartbeat_ms
            .or(file.nats_heartbeat_ms)
            .unwrap_or(1_000);
        let timeout_ms = args
            .nats_timeout_ms
            .or(file.nats_timeout_ms)
            .unwrap_or(5_000);
        if heartbeat_ms == 0 || timeout_ms <= heartbeat_ms {
            bail!("--nats-timeout-ms ({timeout_ms}) must exceed --nats-heartbeat-ms ({heartbeat_ms}), which must be positive");
        }
        let trunk = trunk_settings(
            args.edge.or(file.edge).filter(|s| !s.is_empty()),
            args.trunk_secret
                .or(file.trunk_secret)
                .filter(|s| !s.is_empty()),
        )?;
        let token_secret = args
            .token_secret
            .or(file.token_secret)
            .filter(|s| !s.is_empty());
        if trunk.is_some() && token_secret.is_none() && !(args.open_trunk || file.open_trunk) {
            bail!(
                "--edge without --token-secret: this relay admits anyone, and its trunks would carry \
                 them into the edge's meetings. Give it the edge's JOIN_TOKEN_SECRET as \
                 --token-secret (EDGECALL_TOKEN_SECRET), or pass --open-trunk if the edge is an \
                 open dev edge too (an edge that verifies tokens refuses such a trunk)"
            );
        }
        Ok(Self {
            limits,
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 4443))),
            http_listen: args.http_listen.or(file.http_listen),
            cert,
            token_secret,
            nats: args.nats.or(file.nats).filter(|s| !s.is_empty()),
            nats_heartbeat: Duration::from_millis(heartbeat_ms),
            nats_timeout: Duration::from_millis(timeout_ms),
            trunk,
            shutdown_grace: Duration::from_millis(
                args.shutdown_grace_ms
                    .or(file.shutdown_grace_ms)
                    .unwrap_or(5_000),
            ),
            web_root: args.web_root.or(file.web_root),
            log_format,
            room: args.room.or(file.room).unwrap_or_default(),
            publish: resolve_publish(
                args.publish_to.or(file.publish_to),
                args.public_url.or(file.public_url),
                args.relay_id.or(file.relay_id),
            )?,
        })
    }
}

fn resolve_limits(args: &Args, file: &Args) -> Result<Limits> {
    let millis = |flag: &str, value: Option<u64>, default: std::time::Duration| match value {
        Some(0) => bail!("--{flag} must be positive (milliseconds)"),
        Some(ms) => Ok(Duration::from_millis(ms)),
        None => Ok(default),
    };
    let rate = args
        .session_rate_per_ip
        .or(file.session_rate_per_ip)
        .unwrap_or(limits::DEFAULT_SESSION_RATE);
    let burst = args
        .session_burst_per_ip
        .or(file.session_burst_per_ip)
        .unwrap_or(limits::DEFAULT_SESSION_BURST);
    if rate > 0 && burst == 0 {
        bail!("--session-burst-per-ip must be positive (or turn the limit off with --session-rate-per-ip 0)");
    }
    Ok(Limits {
        header_read_timeout: millis(
            "header-read-timeout-ms",
            args.header_read_timeout_ms.or(file.header_read_timeout_ms),
            limits::DEFAULT_HEADER_READ_TIMEOUT,
        )?,
        connect_timeout: millis(
            "webtransport-connect-timeout-ms",
            args.webtransport_connect_timeout_ms
                .or(file.webtransport_connect_timeout_ms),
            limits::DEFAULT_CONNECT_TIMEOUT,
        )?,
        session_rate: SessionRate::new(rate, burst),
    })
}

fn trunk_settings(edge: Option<String>, secret: Option<String>) -> Result<Option<TrunkSettings>> {
    let (edge, secret) = match (edge, secret) {
        (None, _) => return Ok(None),
        (Some(_), None) => {
            bail!("--edge needs --trunk-secret (EDGECALL_RELAY_TRUNK_SECRET): the edge's TRUNK_SECRET")
        }
        (Some(edge), Some(secret)) => (edge, secret),
    };
    let url = url::Url::parse(&edge).with_context(|| {
        format!("--edge {edge:?}: not a URL (use e.g. https://edge.example.com)")
    })?;
    if !matches!(url.scheme(), "http" | "https" | "ws" | "wss") || url.host_str().is_none() {
        bail!("--edge {edge:?}: use an http(s) or ws(s) URL with a host");
    }
    Ok(Some(TrunkSettings { edge: url, secret }))
}

fn read_file(path: &Path) -> Result<Args> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing the config file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_and_the_file_overrides_defaults() {
        let dir =
            std::env::temp_dir().join(format!("edgecall-relay-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("relay.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:5000\"\nnats = \"nats://127.0.0.1:4222\"\n[room]\nmax_participants = 7\n",
        )
        .unwrap();
        let args = Args::parse_from([
            "edgecall-relay",
            "--config",
            path.to_str().unwrap(),
            "--listen",
            "127.0.0.1:6000",
        ]);
        let settings = Settings::resolve(args).unwrap();
        assert_eq!(settings.listen, "127.0.0.1:6000".parse().unwrap());
        assert_eq!(settings.nats.as_deref(), Some("nats://127.0.0.1:4222"));
        assert_eq!(settings.room.max_participants, 7);
        assert!(matches!(settings.cert, CertSource::SelfSigned { .. }));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_edge_needs_a_trunk_secret_and_a_web_url() {
        let file = |text: &str| Settings::resolve(toml::from_str::<Args>(text).unwrap());
        assert!(file("edge = \"https://edge.example\"").is_err());
        assert!(file("edge = \"ftp://edge.example\"\ntrunk-secret = \"s\"").is_err());
        let settings =
            file("edge = \"https://edge.example\"\ntrunk-secret = \"s\"\ntoken-secret = \"t\"")
                .unwrap();
        let trunk = settings.trunk.expect("trunk settings");
        assert_eq!(trunk.edge.as_str(), "https://edge.example/");
        assert_eq!(trunk.secret, "s");
        assert!(file("").unwrap().trunk.is_none());
    }

    #[test]
    fn an_open_relay_trunks_only_when_the_operator_says_so() {
        let file = |text: &str| Settings::resolve(toml::from_str::<Args>(text).unwrap());
        let err = file("edge = \"https://edge.example\"\ntrunk-secret = \"s\"").unwrap_err();
        assert!(err.to_string().contains("--open-trunk"), "{err}");
        assert!(err.to_string().contains("--token-secret"), "{err}");
        let open = file("edge = \"https://edge.example\"\ntrunk-secret = \"s\"\nopen-trunk = true");
        assert!(open.unwrap().trunk.is_some());
        let args = Args::parse_from([
            "edgecall-relay",
            "--edge",
            "http://127.0.0.1:8787",
            "--trunk-secret",
            "s",
            "--open-trunk",
        ]);
        assert!(Settings::resolve(args).unwrap().trunk.is_some());
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        assert!(toml::from_str::<Args>("listne = \"x\"").is_err());
    }

    #[test]
    fn publishing_needs_an_https_public_url_and_defaults_the_id_to_its_host() {
        let args = Args::parse_from([
            "edgecall-relay",
            "--publish-to",
            "file:///tmp/relays",
            "--public-url",
            "https://203.0.113.7:443",
        ]);
        let publish = Settings::resolve(args).unwrap().publish.unwrap();
        assert_eq!(publish.relay_id, "203.0.113.7");
        assert_eq!(publish.target, Target::File("/tmp/relays".into()));
        let file_without_url: Args = toml::from_str("publish-to = \"file:///tmp/r\"").unwrap();
        let err = Settings::resolve(file_without_url).unwrap_err();
        assert!(err.to_string().contains("--public-url"), "{err}");
        let plain_http = Args::parse_from([
            "edgecall-relay",
            "--publish-to",
            "file:///tmp/relays",
            "--public-url",
            "http://203.0.113.7:443",
        ]);
        assert!(Settings::resolve(plain_http).is_err());
    }

    #[test]
    fn transport_limits_are_on_by_default_and_the_session_rate_can_be_turned_off() {
        let defaults = Settings::resolve(Args::parse_from(["edgecall-relay"])).unwrap();
        assert_eq!(defaults.limits, Limits::default());
        assert!(defaults.limits.session_rate.is_some());
        let args = Args::parse_from([
            "edgecall-relay",
            "--header-read-timeout-ms",
            "500",
            "--webtransport-connect-timeout-ms",
            "700",
            "--session-rate-per-ip",
            "0",
        ]);
        let limits = Settings::resolve(args).unwrap().limits;
        assert_eq!(limits.header_read_timeout, Duration::from_millis(500));
        assert_eq!(limits.connect_timeout, Duration::from_millis(700));
        assert_eq!(limits.session_rate, None);
        let file: Args =
            toml::from_str("session-rate-per-ip = 2\nsession-burst-per-ip = 5").unwrap();
        let rate = Settings::resolve(file)
            .unwrap()
            .limits
            .session_rate
            .unwrap();
        assert_eq!((rate.per_second.get(), rate.burst.get()), (2, 5));
        let zero = Args::parse_from(["edgecall-relay", "--header-read-timeout-ms", "0"]);
        assert!(Settings::resolve(zero).is_err());
    }

    #[test]
    fn heartbeat_must_be_shorter_than_the_timeout() {
        let args = Args::parse_from(["edgecall-relay", "--nats-heartbeat-ms", "5000"]);
        assert!(Settings::resolve(args).is_err());
    }
}
