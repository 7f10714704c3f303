//! The relay under load: a child process running this build's relay code
//! (so the numbers are always those of the code beside the tool), or an
//! already-running relay given by URL.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::stats;

/// First argument that makes `relay-load` run the relay itself instead of
/// the load (how [`Relay::start`] starts its child).
pub const SERVE_RELAY_ARG: &str = "--serve-relay";

/// Engine limits for raw fan-out: every participant receives everything
/// (no speaker selection) and senders are not rate-limited.
pub const RAW_FANOUT_ROOM: &str = "[room]\nsmall_room_size = 100000\naudio_top_k = 100000\nsender_messages_per_sec = 100000000\nsender_burst_messages = 100000000\nsender_bytes_per_sec = 4000000000\nsender_burst_bytes = 4000000000\n";

/// Where the load goes.
pub struct Relay {
    child: Option<Child>,
    config_file: Option<PathBuf>,
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    /// Plain-HTTP base for `/metrics`, if known.
    pub http: Option<String>,
    /// SHA-256 (hex) of its certificate.
    pub cert_sha256: String,
    /// Its process id, if known (for CPU and RSS).
    pub pid: Option<u32>,
}

/// CPU time and memory of a process at one instant.
#[derive(Debug, Clone, Copy)]
pub struct ProcSample {
    at: Instant,
    ticks: u64,
    /// Resident set size, KiB.
    pub rss_kib: u64,
    /// Peak resident set size, KiB.
    pub hwm_kib: u64,
}

impl ProcSample {
    /// Reads `/proc/<pid>/stat` and `/proc/<pid>/status` (`pid` "self" for
    /// this process).
    pub fn read(pid: &str) -> Result<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .with_context(|| format!("reading /proc/{pid}/stat"))?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("reading /proc/{pid}/status"))?;
        Ok(Self {
            at: Instant::now(),
            ticks: stats::cpu_ticks(&stat).with_context(|| format!("parsing /proc/{pid}/stat"))?,
            rss_kib: stats::status_kib(&status, "VmRSS")?,
            hwm_kib: stats::status_kib(&status, "VmHWM")?,
        })
    }

    /// CPU use between `self` and the later `end`, in percent of one core.
    pub fn cpu_percent_until(&self, end: &ProcSample) -> f64 {
        let wall = end.at.duration_since(self.at).as_secs_f64();
        let cpu = end.ticks.saturating_sub(self.ticks) as f64 / stats::USER_HZ;
        if wall > 0.0 {
            100.0 * cpu / wall
        } else {
            0.0
        }
    }
}

impl Relay {
    /// Starts the relay as a child process on free loopback ports: self-signed
    /// certificate, open mode, `room_toml` (a `[room]` table) if given,
    /// pinned to `cpus` (through util-linux's `taskset`, which execs the
    /// relay in place, so the child's pid is the relay's) if given.
    pub fn start(room_toml: Option<&str>, cpus: Option<&str>) -> Result<Self> {
        let exe = std::env::current_exe().context("locating the relay-load executable")?;
        let mut command = match cpus {
            Some(cpus) => {
                let mut taskset = Command::new("taskset");
                taskset.args(["-c", cpus]).arg(exe);
                taskset
            }
            None => Command::new(exe),
        };
        command.args([
            SERVE_RELAY_ARG,
            "--listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
            // Every session comes from this one address, by design.
            "--session-rate-per-ip",
            "0",
        ]);
        let config_file = match room_toml {
            Some(toml) => {
                let path =
                    std::env::temp_dir().join(format!("relay-load-{}.toml", std::process::id()));
                std::fs::File::create(&path)
                    .and_then(|mut file| file.write_all(toml.as_bytes()))
                    .with_context(|| format!("writing {}", path.display()))?;
                command.arg("--config").arg(&path);
                Some(path)
            }
            None => None,
        };
        let (child, ready) = edgecall_relay::process::spawn(&mut command)?;
        Ok(Relay {
            pid: Some(child.id()),
            child: Some(child),
            config_file,
            url: ready.url,
            http: ready.http,
            cert_sha256: ready.cert_sha256,
        })
    }

    /// A relay already running at `url` with certificate hash `cert_sha256`.
    pub fn external(
        url: String,
        cert_sha256: String,
        http: Option<String>,
        pid: Option<u32>,
    ) -> Self {
        Relay {
            child: None,
            config_file: None,
            url,
            http,
            cert_sha256,
            pid,
        }
    }

    /// CPU and memory now, if the process is known.
    pub fn sample(&self) -> Result<Option<ProcSample>> {
        self.pid
            .map(|pid| ProcSample::read(&pid.to_string()))
            .transpose()
    }

    /// The `/metrics` text, if the plain-HTTP address is known.
    pub async fn metrics(&self) -> Result<Option<String>> {
        let Some(base) = &self.http else {
            return Ok(None);
        };
        let addr = base
            .strip_prefix("http://")
            .with_context(|| format!("{base} is not a plain http:// address"))?;
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream
            .write_all(
                format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .context("requesting /metrics")?;
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .await
            .context("reading /metrics")?;
        Ok(response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned()))
    }

    /// Stops a relay this tool started: SIGTERM by PID, then SIGKILL if it
    /// has not exited within 10 s.
    pub fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .context("running kill")?;
        if !status.success() {
            bail!("kill -TERM {} failed", child.id());
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if child.try_wait().context("waiting for the relay")?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.kill().context("killing the relay")?;
        child.wait().context("waiting for the relay")?;
        Ok(())
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(path) = self.config_file.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}
