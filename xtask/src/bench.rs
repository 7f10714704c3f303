//! `cargo xtask bench-edge`: the edge's load figures for BENCHMARKS.md.
//! Builds edgecall's Worker and the bare broadcast baseline, then runs the
//! `edge-load` tool on each for 1 → 3, 1 → 10 and 10 → 10 participants.

use anyhow::Result;

use crate::steps::Steps;
use crate::{cmd, edge, Ctx};

/// (senders, receivers, frames per second per sender).
const SCENARIOS: &[(u32, u32, u32)] = &[(1, 3, 1_000), (1, 10, 400), (10, 10, 40)];
const SECONDS: &str = "10";

/// Runs every scenario against the baseline and against edgecall.
pub fn bench_edge(ctx: &Ctx) -> Result<()> {
    let mut steps = Steps::new("bench-edge");
    steps.run("set-up: edge tools", || {
        for report in edge::ensure_tools(&ctx.cache)? {
            println!("{report}");
        }
        Ok(())
    })?;
    steps.run("build edgecall's Worker", || edge::build(ctx).map(drop))?;
    steps.run("build the bare broadcast Worker", || {
        edge::build_worker(ctx, &edge::BARE_BROADCAST).map(drop)
    })?;
    let mut tool = cmd::cargo();
    tool.current_dir(&ctx.root).args([
        "build",
        "--release",
        "-p",
        "edgecall-e2e",
        "--bin",
        "edge-load",
    ]);
    steps.command(&mut tool)?;
    for &(senders, receivers, rate) in SCENARIOS {
        for bare in [true, false] {
            let mut run = cmd::cargo();
            run.current_dir(&ctx.root)
                .args([
                    "run",
                    "--quiet",
                    "--release",
                    "-p",
                    "edgecall-e2e",
                    "--bin",
                    "edge-load",
                    "--",
                ])
                .args(["--senders", &senders.to_string()])
                .args(["--receivers", &receivers.to_string()])
                .args(["--rate", &rate.to_string(), "--seconds", SECONDS]);
            if bare {
                run.arg("--bare");
            }
            steps.command(&mut run)?;
        }
    }
    steps.finish()?;
    Ok(())
}
