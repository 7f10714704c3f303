//! `cargo xtask test`: set-up, then every test the project has, fail-fast.
//!
//! New components add their steps here (e.g. the edge: build with
//! `worker-build`, then run the Durable Object tests against `wrangler dev`).
//! The relay needs `nats-server` (Debian package) for its cluster tests.

use std::process::Command;

use anyhow::Result;

use crate::steps::Steps;
use crate::tools::WASM_TARGET;
use crate::{cmd, setup, Ctx};

/// Runs the whole test suite; fails on the first failing step.
pub fn test(ctx: &Ctx) -> Result<()> {
    let mut steps = Steps::new("test");
    let cargo = || {
        let mut cargo = cmd::cargo();
        cargo.current_dir(&ctx.root);
        cargo
    };

    steps.run(format!("set-up: rust target {WASM_TARGET}"), || {
        println!("{}", setup::ensure_rust_target(WASM_TARGET)?);
        Ok(())
    })?;

    // The relay's cluster tests start a real nats-server on a free port.
    steps.run("set-up: nats-server (apt)", || {
        for report in setup::ensure_apt(&["nats-server"])? {
            println!("{report}");
        }
        Ok(())
    })?;

    // Unit, integration and property tests of every workspace crate; benches
    // and examples are built and run once in test mode.
    steps.command(cargo().args(["test", "--workspace", "--all-targets"]))?;
    // `--all-targets` leaves out doctests.
    steps.command(cargo().args(["test", "--workspace", "--doc"]))?;
    // The engine must keep building for the Durable Object and the browser.
    steps.command(cargo().args([
        "build",
        "-p",
        "edgecall-proto",
        "--target",
        WASM_TARGET,
        "--release",
    ]))?;

    // The fuzz crate is its own workspace; `cargo fuzz` needs nightly
    // flags, but checking that it compiles works on stable.
    if ctx.root.join("fuzz").join("Cargo.toml").is_file() {
        // libfuzzer-sys compiles libFuzzer (C++) in its build script.
        steps.run("set-up: C++ compiler for libfuzzer-sys", || {
            match cmd::probe(Command::new("c++").arg("--version")) {
                Some(version) => {
                    println!("  ok         {}", version.lines().next().unwrap_or("c++"))
                }
                None => {
                    for report in setup::ensure_apt(&["g++"])? {
                        println!("{report}");
                    }
                }
            }
            Ok(())
        })?;
        steps.command(cargo().args([
            "check",
            "--manifest-path",
            "fuzz/Cargo.toml",
            "--all-targets",
        ]))?;
    } else {
        steps.skip("cargo check (fuzz/)", "fuzz/ does not exist yet");
    }

    steps.finish();
    Ok(())
}
