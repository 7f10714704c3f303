//! Native relays (`edgecall-relay`) and a `nats-server` as real processes
//! on loopback ports, for tests that span the edge and relays.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use edgecall_relay::process::ReadyLine;
use edgecall_stream::{JoinConfig, Session, TransportKind, Trust};

/// A running relay. Dropping it kills the process.
pub struct RelayProcess {
    child: Child,
    log: PathBuf,
    /// `https://127.0.0.1:<port>` (WebTransport and WebSocket over TLS).
    pub url: String,
    /// `http://127.0.0.1:<port>` (`/metrics`, `/healthz`).
    pub http: String,
    /// The self-signed certificate's SHA-256 (hex).
    pub cert_sha256: String,
}

/// The relay binary of the same build (or `$EDGECALL_RELAY_BIN`).
pub fn relay_binary() -> Result<PathBuf> {
    if let Some(bin) = std::env::var_os("EDGECALL_RELAY_BIN") {
        return Ok(PathBuf::from(bin));
    }
    workspace_binary("edgecall-relay")
}

/// A binary of this workspace from the same build: next to this executable
/// (a bin) or one folder up (a test in `deps/`). `cargo test --workspace`
/// and `cargo xtask test` build them all.
pub fn workspace_binary(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locating this executable")?;
    let candidates: Vec<PathBuf> = exe
        .ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join(name))
        .collect();
    match candidates.iter().find(|bin| bin.exists()) {
        Some(bin) => Ok(bin.clone()),
        None => bail!(
            "{name} not found in {candidates:?}: build it first (`cargo build --workspace`, with the same profile)"
        ),
    }
}

impl RelayProcess {
    /// Starts a relay on free loopback ports with `extra` flags; its log
    /// (stderr) goes to a file readable with [`RelayProcess::log`].
    pub fn start(extra: &[&str]) -> Result<Self> {
        Self::start_at("127.0.0.1:0", extra)
    }

    /// Like [`RelayProcess::start`] with WebTransport (and WebSocket) on
    /// `listen`, e.g. the address of a relay that was killed, to start it
    /// again where its clients reconnect.
    pub fn start_at(listen: &str, extra: &[&str]) -> Result<Self> {
        let log = std::env::temp_dir().join(format!(
            "edgecall-relay-{}-{}.log",
            std::process::id(),
            crate::frames::now_us()
        ));
        let log_file = fs::File::create(&log).context("creating the relay log")?;
        let mut command = Command::new(relay_binary()?);
        command
            .args(["--listen", listen, "--http-listen", "127.0.0.1:0"])
            .args(extra)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn,edgecall_relay=info".into()),
            )
            .stdin(Stdio::null())
            .stderr(log_file);
        let (child, ready) = edgecall_relay::process::spawn_until_ready(
            &mut command,
            "edgecall-relay",
            ReadyLine::parse,
        )
        .map_err(|err| {
            let text = fs::read_to_string(&log).unwrap_or_default();
            anyhow::anyhow!("relay did not start: {err:#}\n{text}")
        })?;
        Ok(Self {
            url: ready.url,
            http: ready
                .http
                .context("the relay printed no plain HTTP address")?,
            cert_sha256: ready.cert_sha256,
            child,
            log,
        })
    }

    /// A relay that publishes itself as `id` into the file registry at
    /// `registry` (where `edgecall-directory` reads), on `listen` (a free
    /// loopback port when `None`), with `extra` flags.
    pub fn start_published(
        registry: &std::path::Path,
        id: &str,
        listen: Option<&str>,
        extra: &[&str],
    ) -> Result<Self> {
        let listen = match listen {
            Some(listen) => listen.to_owned(),
            None => format!("127.0.0.1:{}", crate::free_port()?),
        };
        let publish_to = format!("file://{}", registry.display());
        let public_url = format!("https://{listen}");
        let mut flags = vec![
            "--publish-to",
            &publish_to,
            "--public-url",
            &public_url,
            "--relay-id",
            id,
        ];
        flags.extend_from_slice(extra);
        Self::start_at(&listen, &flags)
    }

    /// Joins `room` as `name` over WebTransport, trusting this relay's
    /// certificate.
    pub async fn join(&self, room: &str, name: &str) -> Result<Session> {
        let config = JoinConfig::new(&self.url, room, name)?
            .transport(TransportKind::WebTransport)
            .trust(Trust::cert_hash_hex(&self.cert_sha256)?);
        Session::connect(&config)
            .await
            .with_context(|| format!("{name} joining {room} on {}", self.url))
    }

    /// One unlabelled metric from `/metrics`.
    pub fn metric(&self, name: &str) -> Result<u64> {
        let text = ureq::get(&format!("{}/metrics", self.http))
            .call()
            .context("GET /metrics")?
            .into_string()?;
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|value| value.trim().parse().ok())
            .with_context(|| format!("{name} missing from /metrics"))
    }

    /// Everything the relay logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The `host:port` its WebTransport listener is on.
    pub fn listen_addr(&self) -> &str {
        self.url
            .strip_prefix("https://")
            .map_or(self.url.as_str(), |rest| rest.trim_end_matches('/'))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills it at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Asks it to stop gracefully (SIGTERM): it drains, closing its
    /// sessions with 4013 and marking itself draining in the registry.
    pub fn terminate(&self) -> Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .context("running kill")?;
        anyhow::ensure!(status.success(), "kill -TERM {} failed", self.child.id());
        Ok(())
    }

    /// Waits up to `timeout` for it to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<std::process::ExitStatus> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().context("waiting for the relay")? {
                return Ok(status);
            }
            if started.elapsed() > timeout {
                bail!("the relay did not exit within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `edgecall-directory --serve` over a file registry, on a free loopback
/// port. Dropping it kills it.
pub struct DirectoryProcess {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl DirectoryProcess {
    /// Serves the relays that publish to `file://<registry>`, open (no
    /// token secret) unless `token_secret` is given.
    pub fn start(registry: &std::path::Path, token_secret: Option<&str>) -> Result<Self> {
        let mut command = Command::new(workspace_binary("edgecall-directory")?);
        command
            .args(["--serve", "127.0.0.1:0"])
            .env(
                "EDGECALL_DIRECTORY_REGISTRY",
                format!("file://{}", registry.display()),
            )
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            );
        if let Some(secret) = token_secret {
            command.env("EDGECALL_TOKEN_SECRET", secret);
        }
        let (child, url) = edgecall_relay::process::spawn_directory(&mut command)?;
        Ok(Self { child, url })
    }
}

impl Drop for DirectoryProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        self.kill();
        let _ = fs::remove_file(&self.log);
    }
}

/// A `nats-server` on a free loopback port. Dropping it kills it.
pub struct NatsServer {
    child: Child,
    port: u16,
}

impl NatsServer {
    /// Starts nats-server (`cargo xtask setup --apt` installs it).
    pub fn start() -> Result<Self> {
        let port = crate::free_port()?;
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting nats-server (cargo xtask setup --apt installs it)")?;
        let server = Self { child, port };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(10) {
                bail!("nats-server did not listen on {port}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
