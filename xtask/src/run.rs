//! `cargo xtask run`: set-up, build, then start the whole system locally
//! on 127.0.0.1 and keep it running until Ctrl-C.
//!
//! - the edge: the Worker + Room Durable Object under `wrangler dev`
//!   (workerd), open rooms (no token secret), port 8787 or `$EDGECALL_EDGE_PORT`;
//! - the native relay in self-signed mode: WebTransport and WebSocket on
//!   127.0.0.1:4443, plain HTTP (/healthz, /metrics, /cert-hash) on
//!   127.0.0.1:4480, and the browser client from `dist/web` on both;
//! - a trunk between them: the relay joins each of its rooms to the edge's
//!   room of the same id, authenticated with a dev trunk secret generated
//!   per run (given to wrangler with `--var TRUNK_SECRET:…`), so one
//!   meeting spans both.
//!
//! Services started here share xtask's process group, so Ctrl-C reaches
//! them all; if one exits, the others are stopped.

use std::process::{Child, Command};
use std::thread::sleep;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::steps::Steps;
use crate::{cmd, edge, web, Ctx};

const DEFAULT_EDGE_PORT: &str = "8787";

/// A started service.
struct Running {
    name: &'static str,
    child: Child,
}

/// Sets up and builds everything, then runs the services.
pub fn run(ctx: &Ctx) -> Result<()> {
    let mut steps = Steps::new("run");
    steps.run("set-up: edge tools", || {
        for report in edge::ensure_tools(&ctx.cache)? {
            println!("{report}");
        }
        Ok(())
    })?;
    steps.run("build the web client", || web::build(ctx))?;
    steps.run("build the edge", || edge::build(ctx).map(drop))?;
    let mut build_relay = cmd::cargo();
    build_relay
        .current_dir(&ctx.root)
        .args(["build", "-p", "edgecall-relay"]);
    steps.command(&mut build_relay)?;
    steps.finish()?;

    let edge_port =
        std::env::var("EDGECALL_EDGE_PORT").unwrap_or_else(|_| DEFAULT_EDGE_PORT.into());
    let trunk_secret = dev_secret()?;
    let mut services = vec![
        start_edge(ctx, &edge_port, &trunk_secret)?,
        start_relay(ctx, &edge_port, &trunk_secret)?,
    ];

    println!("\nedgecall is running (Ctrl-C stops everything):");
    println!("  edge     http://127.0.0.1:{edge_port}   (open rooms: no JOIN_TOKEN_SECRET)");
    println!(
        "           WebSocket ws://127.0.0.1:{edge_port}/api/rooms/<meeting-id>/ws?name=<username>"
    );
    println!("           room info http://127.0.0.1:{edge_port}/api/rooms/<meeting-id>");
    println!(
        "  relay    WebTransport https://127.0.0.1:4443/api/rooms/<meeting-id>?name=<username>"
    );
    println!(
        "           WebSocket    wss://127.0.0.1:4443/api/rooms/<meeting-id>/ws?name=<username>"
    );
    println!("           self-signed: certificate hash at http://127.0.0.1:4480/cert-hash");
    println!("           http://127.0.0.1:4480/healthz, /metrics");
    println!("  trunk    relay → edge with a dev secret: a meeting id is one meeting on both");
    println!("  meetings http://127.0.0.1:{edge_port}/meeting/<username>/<meeting-id>   (edge, WebSocket)");
    println!(
        "           http://127.0.0.1:4480/meeting/<username>/<meeting-id>   (relay, WebTransport)"
    );
    supervise(&mut services)
}

/// A random trunk secret for this run (hex of 16 bytes from the OS).
fn dev_secret() -> Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom for the dev trunk secret")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn start_relay(ctx: &Ctx, edge_port: &str, trunk_secret: &str) -> Result<Running> {
    let mut relay = cmd::cargo();
    relay
        .current_dir(&ctx.root)
        .args([
            "run",
            "--quiet",
            "-p",
            "edgecall-relay",
            "--bin",
            "edgecall-relay",
            "--",
        ])
        .args([
            "--listen",
            "127.0.0.1:4443",
            "--http-listen",
            "127.0.0.1:4480",
        ])
        .arg("--edge")
        .arg(format!("http://127.0.0.1:{edge_port}"))
        // Both run open for local development; a relay refuses to trunk
        // without a token secret unless told so.
        .arg("--open-trunk")
        // Through the environment, so it does not show in `ps`.
        .env("EDGECALL_RELAY_TRUNK_SECRET", trunk_secret);
    // The relay serves the browser client too once it is built.
    if ctx.root.join("dist/web/index.html").is_file() {
        relay.args(["--web-root", "dist/web"]);
    } else {
        println!("dist/web has no client yet: the relay serves no pages");
    }
    let child = relay.spawn().context("starting the relay")?;
    Ok(Running {
        name: "relay",
        child,
    })
}

fn start_edge(ctx: &Ctx, port: &str, trunk_secret: &str) -> Result<Running> {
    std::fs::create_dir_all(ctx.root.join("dist/web")).context("creating dist/web")?;
    let child = Command::new(edge::node(&ctx.cache))
        .arg(edge::wrangler(&ctx.cache))
        .args(["dev", "--ip", "127.0.0.1", "--port", port])
        .arg("--show-interactive-dev-session=false")
        .arg("--var")
        .arg(format!("TRUNK_SECRET:{trunk_secret}"))
        .envs(edge::wrangler_env())
        .current_dir(&ctx.root)
        .spawn()
        .context("starting wrangler dev")?;
    Ok(Running {
        name: "edge (wrangler dev)",
        child,
    })
}

/// Waits until a service exits (Ctrl-C stops them all), then stops the rest.
fn supervise(services: &mut [Running]) -> Result<()> {
    loop {
        for i in 0..services.len() {
            if let Some(status) = services[i].child.try_wait()? {
                let name = services[i].name;
                for other in services.iter_mut() {
                    let _ = other.child.kill();
                    let _ = other.child.wait();
                }
                if status.success() {
                    return Ok(());
                }
                bail!("{name} exited with {status}");
            }
        }
        sleep(Duration::from_millis(200));
    }
}
