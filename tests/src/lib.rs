//! Harness for edgecall's end-to-end tests: real components (workerd via
//! wrangler, relays, nats-server, headless Chromium) started on loopback
//! ports the harness picks, stopped by PID or process group, a severable
//! TCP proxy, and a native client that speaks the wire protocol.

pub mod browser;
pub mod client;
pub mod edge;
pub mod frames;
pub mod load;
pub mod profile;
pub mod proxy;
pub mod relay;
pub mod trials;
pub mod web;

/// The last `n` lines of `text`, for failure messages.
pub fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A fresh folder under the system's temporary directory, removed (with
/// everything in it) on drop.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// Creates `<tmp>/<prefix>-<pid>-<µs>`.
    pub fn new(prefix: &str) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}",
            std::process::id(),
            frames::now_us()
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|err| anyhow::anyhow!("creating {}: {err}", dir.display()))?;
        Ok(Self(dir))
    }

    /// Where it is.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Finds a free TCP port on 127.0.0.1.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Stops `child` and everything in its process group (it must have been
/// spawned with `process_group(0)`): SIGTERM, then SIGKILL after `grace`.
pub fn stop_process_group(child: &mut std::process::Child, grace: std::time::Duration) {
    let pid = child.id() as i32;
    // SAFETY: signalling the process group of our own child.
    unsafe {
        libc::kill(-pid, libc::SIGTERM);
    }
    let deadline = std::time::Instant::now() + grace;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // SAFETY: as above.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
    let _ = child.wait();
}
