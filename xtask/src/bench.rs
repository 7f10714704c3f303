//! `cargo xtask bench-edge`: the edge's load figures for BENCHMARKS.md.
//! Builds edgecall's Worker and the bare broadcast baseline, then runs the
//! `edge-load` tool on each: fixed loads for 1 → 3, 1 → 10 and 10 → 10
//! participants, then the same 1 → 10 and 10 → 10 rooms under rising load
//! until each build saturates (its most deliveries/s), with wrangler and
//! workerd pinned to one core and the load tool to the other.

use anyhow::Result;

use crate::steps::Steps;
use crate::{cmd, edge, Ctx};

/// (senders, receivers, frames per second per sender).
const SCENARIOS: &[(u32, u32, u32)] = &[(1, 3, 1_000), (1, 10, 400), (10, 10, 40)];
const SECONDS: &str = "10";
/// Saturation runs: (senders, receivers, starting frames/s per sender).
const SATURATION: &[(u32, u32, u32)] = &[(1, 10, 400), (10, 10, 40)];
/// Seconds per load step and the most steps (×1.5 each) of a saturation run.
const STEP_SECONDS: &str = "5";
const MAX_STEPS: &str = "10";
/// Where the edge and the load tool run during saturation runs, when the
/// machine has at least two CPUs.
const SERVER_CPUS: &str = "1";
const LOAD_CPUS: &str = "0";

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
            let mut run = edge_load(ctx, senders, receivers, rate, bare);
            run.args(["--seconds", SECONDS]);
            steps.command(&mut run)?;
        }
    }
    let pin = std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2);
    for &(senders, receivers, rate) in SATURATION {
        for bare in [true, false] {
            let mut run = edge_load(ctx, senders, receivers, rate, bare);
            run.args(["--seconds", STEP_SECONDS, "--steps", MAX_STEPS]);
            if pin {
                run.args(["--pin-server", SERVER_CPUS, "--pin-load", LOAD_CPUS]);
            }
            steps.command(&mut run)?;
        }
    }
    steps.finish()?;
    Ok(())
}

/// `edge-load` (release) for one room shape against one build.
fn edge_load(
    ctx: &Ctx,
    senders: u32,
    receivers: u32,
    rate: u32,
    bare: bool,
) -> std::process::Command {
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
        .args(["--rate", &rate.to_string()]);
    if bare {
        run.arg("--bare");
    }
    run
}
