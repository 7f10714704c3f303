//! `cargo xtask bench-web`: the web client's glass-to-glass latency on
//! loopback (two headless Chromium pages through the edge, then through
//! the relay) and its wasm size, for BENCHMARKS.md.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Result;

use crate::steps::Steps;
use crate::{browser, cmd, edge, web, Ctx};

/// Builds the client, the edge, the relay and `web-bench` (release), then
/// runs the benchmark and reports the client's size.
pub fn bench_web(ctx: &Ctx) -> Result<()> {
    let mut steps = Steps::new("bench-web");
    steps.run("set-up: edge and browser tools", || {
        for report in edge::ensure_tools(&ctx.cache)? {
            println!("{report}");
        }
        for report in browser::ensure_tools(&ctx.cache)? {
            println!("{report}");
        }
        Ok(())
    })?;
    steps.run("build the web client (dist/web)", || web::build(ctx))?;
    steps.run("build the edge", || edge::build(ctx).map(drop))?;
    let mut build = cmd::cargo();
    build.current_dir(&ctx.root).args([
        "build",
        "--release",
        "-p",
        "edgecall-relay",
        "-p",
        "edgecall-e2e",
        "--bin",
        "edgecall-relay",
        "--bin",
        "web-bench",
    ]);
    steps.command(&mut build)?;
    // Run what was just built: `cargo run -p edgecall-e2e` alone would
    // unify features differently and rebuild half the dependency tree.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| ctx.cache.target_dir());
    let mut run = Command::new(target.join("release/web-bench"));
    run.current_dir(&ctx.root);
    steps.command(&mut run)?;
    steps.run("web client size", || {
        web::report_size(&web::dist(&ctx.root).join("pkg/edgecall_web_bg.wasm"))
    })?;
    steps.finish()?;
    Ok(())
}
