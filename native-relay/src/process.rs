//! The relay as a child process, for its tests and the `relay-load` bench
//! tool: start it, read the one line it prints when ready.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};

/// What the relay prints on stdout once it listens:
/// `edgecall-relay ready url=https://… http=http://… cert_sha256=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyLine {
    /// `https://<addr>` (WebTransport and WebSocket over TLS).
    pub url: String,
    /// `http://<addr>` of the plain-HTTP endpoints, if any.
    pub http: Option<String>,
    /// SHA-256 (hex) of the certificate in force.
    pub cert_sha256: String,
}

impl ReadyLine {
    /// Parses the line.
    pub fn parse(line: &str) -> Result<Self> {
        if !line.starts_with("edgecall-relay ready") {
            bail!("not the relay's ready line: {line:?}");
        }
        let field = |key: &str| -> Result<String> {
            line.split_whitespace()
                .find_map(|part| part.strip_prefix(key)?.strip_prefix('='))
                .map(str::to_owned)
                .with_context(|| format!("{key} missing in {line:?}"))
        };
        Ok(Self {
            url: field("url")?,
            http: Some(field("http")?).filter(|http| http != "-"),
            cert_sha256: field("cert_sha256")?,
        })
    }
}

impl std::fmt::Display for ReadyLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "edgecall-relay ready url={} http={} cert_sha256={}",
            self.url,
            self.http.as_deref().unwrap_or("-"),
            self.cert_sha256
        )
    }
}

/// Spawns `command` with stdout piped, reads the first line it prints and
/// turns it into `T` with `parse`; if that fails the child is killed. The
/// caller decides where stderr goes.
pub fn spawn_until_ready<T>(
    command: &mut Command,
    what: &str,
    parse: impl FnOnce(&str) -> Result<T>,
) -> Result<(Child, T)> {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {what}"))?;
    let ready = child
        .stdout
        .take()
        .with_context(|| format!("no stdout from {what}"))
        .and_then(|stdout| {
            let mut line = String::new();
            BufReader::new(stdout)
                .read_line(&mut line)
                .with_context(|| format!("reading the ready line of {what}"))?;
            parse(line.trim_end())
        });
    match ready {
        Ok(ready) => Ok((child, ready)),
        Err(err) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(err)
        }
    }
}

/// Spawns `command` (a relay), its logs on our stderr at `RUST_LOG`
/// (default `warn`), and waits for its ready line.
pub fn spawn(command: &mut Command) -> Result<(Child, ReadyLine)> {
    command
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stderr(Stdio::inherit());
    spawn_until_ready(command, "the relay", ReadyLine::parse)
}

/// What `edgecall-directory --serve` prints on stdout once it accepts,
/// followed by its base URL (`http://<addr>`).
pub const DIRECTORY_READY: &str = "edgecall-directory listening on ";

/// Spawns `command` (an `edgecall-directory --serve …`), its logs on our
/// stderr, and waits for its ready line; returns its base URL.
pub fn spawn_directory(command: &mut Command) -> Result<(Child, String)> {
    command.stderr(Stdio::inherit());
    spawn_until_ready(command, "edgecall-directory", |line| {
        line.strip_prefix(DIRECTORY_READY)
            .map(str::to_owned)
            .with_context(|| format!("not the directory's ready line: {line:?}"))
    })
}

/// Microseconds since the Unix epoch: media capture timestamps.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_lines_round_trip() {
        let ready = ReadyLine {
            url: "https://127.0.0.1:4443".into(),
            http: None,
            cert_sha256: "ab".repeat(32),
        };
        assert_eq!(ReadyLine::parse(&ready.to_string()).unwrap(), ready);
        let with_http = ReadyLine {
            http: Some("http://127.0.0.1:4480".into()),
            ..ready
        };
        assert_eq!(ReadyLine::parse(&with_http.to_string()).unwrap(), with_http);
        assert!(ReadyLine::parse("edgecall-relay ready url=x").is_err());
        assert!(ReadyLine::parse("hello").is_err());
    }
}
