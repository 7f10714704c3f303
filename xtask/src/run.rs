//! `cargo xtask run`: set-up, build, then start the whole system locally.
//!
//! Starts the native relay in self-signed mode (WebTransport and WebSocket
//! on 127.0.0.1:4443, plain HTTP with /healthz, /metrics and /cert-hash on
//! 127.0.0.1:4480) and reports which services are not built yet. Each service lands with its set-up
//! (e.g. `setup::ensure_node22` + `ensure_npm_packages` for the edge) as a
//! step below and a start-up in [`SERVICES`]'s place: spawn it (`wrangler
//! dev`, the relay binary, the web client), wait until it answers, then wait
//! for Ctrl-C and stop the children.

use std::path::Path;

use anyhow::{bail, Result};

use crate::steps::Steps;
use crate::tools::WASM_TARGET;
use crate::{cmd, setup, Ctx};

/// A long-running part of the system that `run` will start.
struct Service {
    name: &'static str,
    /// Its folders in the repository; any of them existing means it is built.
    dirs: &'static [&'static str],
    what: &'static str,
}

/// Everything `run` will start, in start-up order.
const SERVICES: &[Service] = &[
    Service {
        name: "edge",
        dirs: &["durable-room", "worker"],
        what: "Cloudflare Worker + one Durable Object per room, under `wrangler dev` (workerd)",
    },
    Service {
        name: "relay",
        dirs: &["native-relay"],
        what: "native QUIC/WebTransport relay",
    },
    Service {
        name: "web client",
        dirs: &["web-client"],
        what: "browser client at /meeting/<username>/<meeting-id>",
    },
];

fn is_built(root: &Path, service: &Service) -> bool {
    service.dirs.iter().any(|dir| root.join(dir).exists())
}

/// Sets up and builds what exists, then starts the services.
pub fn run(ctx: &Ctx) -> Result<()> {
    let mut steps = Steps::new("run");
    steps.run(format!("set-up: rust target {WASM_TARGET}"), || {
        println!("{}", setup::ensure_rust_target(WASM_TARGET)?);
        Ok(())
    })?;
    let mut build = cmd::cargo();
    build.current_dir(&ctx.root).args(["build", "--workspace"]);
    steps.command(&mut build)?;
    steps.finish();

    let startable = ["relay"];
    let built: Vec<&str> = SERVICES
        .iter()
        .filter(|service| is_built(&ctx.root, service) && !startable.contains(&service.name))
        .map(|service| service.name)
        .collect();
    if !built.is_empty() {
        bail!(
            "{} exist(s) in the repository but `cargo xtask run` does not start them yet: \
             add their set-up and start-up to xtask/src/run.rs",
            built.join(", ")
        );
    }
    for service in SERVICES
        .iter()
        .filter(|service| !is_built(&ctx.root, service))
    {
        println!(
            "not built yet: {:<11} ({}/): {}",
            service.name,
            service.dirs.join("/, "),
            service.what
        );
    }
    if !ctx.root.join("native-relay").exists() {
        return Ok(());
    }
    println!("\nstarting the relay (self-signed certificate, open mode); Ctrl-C stops it");
    println!("  WebTransport: https://127.0.0.1:4443/api/rooms/<room>?name=<you>");
    println!("  WebSocket:    wss://127.0.0.1:4443/api/rooms/<room>/ws?name=<you>");
    println!("  HTTP:         http://127.0.0.1:4480/healthz, /metrics, /cert-hash");
    let mut relay = cmd::cargo();
    relay.current_dir(&ctx.root).args([
        "run",
        "-p",
        "edgecall-relay",
        "--",
        "--listen",
        "127.0.0.1:4443",
        "--http-listen",
        "127.0.0.1:4480",
    ]);
    // Ctrl-C reaches the relay too (same process group): it shuts down
    // gracefully and cargo returns.
    cmd::run(&mut relay)
}
