//! `cargo xtask bench-edge`: the edge's load figures for BENCHMARKS.md.
//! Builds edgecall's Worker and the bare broadcast baseline, then runs the
//! `edge-load` tool on each: fixed loads for 1 → 3, 1 → 10 and 10 → 10
//! participants (their CPU per delivery is the steadiest comparison), then
//! the same 1 → 10 and 10 → 10 rooms under rising load until each build
//! saturates (its most deliveries/s). Every run has wrangler and workerd
//! pinned to one core and the load tool to the other, when there are two.

use anyhow::Result;

use crate::steps::Steps;
use crate::{cmd, edge, Ctx};

/// (senders, receivers, frames per second per sender), all below where
/// either build saturates.
const SCENARIOS: &[(u32, u32, u32)] = &[(1, 3, 1_000), (1, 10, 400), (10, 10, 15)];
const SECONDS: &str = "10";
/// Saturation runs: (senders, receivers, starting frames/s per sender),
/// each start well below where either build saturates.
const SATURATION: &[(u32, u32, u32)] = &[(1, 10, 300), (10, 10, 25)];
/// Seconds per load step, the most steps, and the rate factor between
/// steps of a saturation run (12 %: fine enough that the last step below
/// saturation is close to the real maximum).
const STEP_SECONDS: &str = "5";
const MAX_STEPS: &str = "14";
const GROWTH: &str = "1.12";
/// Where the edge and the load tool run, when the machine has at least two
/// CPUs.
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
    let pin = std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2);
    let pinned = |run: &mut std::process::Command| {
        if pin {
            run.args(["--pin-server", SERVER_CPUS, "--pin-load", LOAD_CPUS]);
        }
    };
    for &(senders, receivers, rate) in SCENARIOS {
        for bare in [true, false] {
            let mut run = edge_load(ctx, senders, receivers, rate, bare);
            run.args(["--seconds", SECONDS]);
            pinned(&mut run);
            steps.command(&mut run)?;
        }
    }
    for &(senders, receivers, rate) in SATURATION {
        for bare in [true, false] {
            let mut run = edge_load(ctx, senders, receivers, rate, bare);
            run.args([
                "--seconds",
                STEP_SECONDS,
                "--steps",
                MAX_STEPS,
                "--growth",
                GROWTH,
            ]);
            pinned(&mut run);
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
