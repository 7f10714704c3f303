//! The native relay (`edgecall-relay`) as a real process on free loopback
//! ports, in its own process group, stopped on drop.
//!
//! (Branch `relay-trunk` adds a `tests/src/relay.rs` with the same
//! `RelayProcess` API plus more; when both meet, keep that one — the
//! browser tests use only `start`, `url`, `http`, `cert_sha256`, `log`.)

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// A running relay.
pub struct RelayProcess {
    child: Child,
    log: PathBuf,
    /// `https://127.0.0.1:<port>` (WebTransport, and HTTPS/WSS on TCP).
    pub url: String,
    /// `http://127.0.0.1:<port>` (the plain HTTP listener).
    pub http: String,
    /// SHA-256 of its self-signed certificate, lowercase hex.
    pub cert_sha256: String,
}

/// The `edgecall-relay` binary cargo built beside the running executable
/// (`target/<profile>/`, whose `deps/` holds test binaries), or
/// `$EDGECALL_RELAY_BIN`.
pub fn relay_binary() -> Result<PathBuf> {
    if let Some(bin) = std::env::var_os("EDGECALL_RELAY_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let exe = std::env::current_exe().context("locating the running executable")?;
    let mut dir = exe.parent();
    while let Some(candidate) = dir {
        let bin = candidate.join("edgecall-relay");
        if bin.is_file() {
            return Ok(bin);
        }
        if candidate.file_name().is_some_and(|n| n != "deps") {
            break;
        }
        dir = candidate.parent();
    }
    bail!(
        "no edgecall-relay binary beside {}: build it first (`cargo build -p edgecall-relay`, \
         which `cargo test --workspace` does) or set EDGECALL_RELAY_BIN",
        exe.display()
    )
}

impl RelayProcess {
    /// Starts a relay on free loopback ports with `extra` flags and waits
    /// for its ready line; its log (stderr) is readable with
    /// [`RelayProcess::log`].
    pub fn start(extra: &[&str]) -> Result<Self> {
        let log = std::env::temp_dir().join(format!(
            "edgecall-relay-{}-{}.log",
            std::process::id(),
            crate::frames::now_us()
        ));
        let log_file = std::fs::File::create(&log)?;
        let mut command = Command::new(relay_binary()?);
        command
            .args(["--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"])
            .args(extra)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file);
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().context("starting edgecall-relay")?;
        let stdout = child.stdout.take().context("relay stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut relay = RelayProcess {
            child,
            log,
            url: String::new(),
            http: String::new(),
            cert_sha256: String::new(),
        };
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        if !line.starts_with("edgecall-relay ready") {
            bail!(
                "the relay did not start (first line {line:?}):\n{}",
                relay.log()
            );
        }
        let field = |key: &str| {
            line.split_whitespace()
                .find_map(|part| part.strip_prefix(&format!("{key}=")))
                .map(str::to_owned)
                .with_context(|| format!("{key} missing in {line:?}"))
        };
        relay.url = field("url")?;
        relay.http = field("http")?;
        relay.cert_sha256 = field("cert_sha256")?;
        Ok(relay)
    }

    /// Everything the relay logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        crate::stop_process_group(&mut self.child, Duration::from_secs(8));
        let _ = std::fs::remove_file(&self.log);
    }
}
