//! `cargo xtask test`: set-up, then every test the project has. A failing
//! step does not stop the run: every later step and every test binary
//! still runs (`cargo test --no-fail-fast`), and the summary at the end
//! names each failed step and test; the exit status is non-zero if any
//! failed.
//!
//! The edge is built first: the end-to-end tests in `tests/` start
//! `wrangler dev` (workerd) on the built Worker. The relay needs
//! `nats-server` (Debian package) for its cluster tests.

use std::process::Command;

use anyhow::Result;

use crate::steps::Steps;
use crate::tools::{DEVICE_APT_PACKAGES, MEDIA_APT_PACKAGES, MOTO_PYTHON, WASM_TARGET};
use crate::{browser, cmd, edge, lambda, pi, setup, terraform, web, Ctx};

/// Runs the whole test suite; fails, after running everything, if any
/// step failed.
pub fn test(ctx: &Ctx) -> Result<()> {
    let mut steps = Steps::new("test");
    let cargo = || {
        let mut cargo = cmd::cargo();
        cargo.current_dir(&ctx.root);
        cargo
    };

    steps.check(format!("set-up: rust target {WASM_TARGET}"), || {
        println!("{}", setup::ensure_rust_target(WASM_TARGET)?);
        Ok(())
    });

    steps.check(
        "set-up: edge tools (worker-build, wasm-bindgen, Node 22, wrangler, wasm-opt)",
        || {
            for report in edge::ensure_tools(&ctx.cache)? {
                println!("{report}");
            }
            Ok(())
        },
    );
    // Before the edge tests: the Worker's `[assets]` directory is dist/web.
    steps.check("build the web client (dist/web)", || web::build(ctx));
    steps.check("build the edge (Worker + Room Durable Object)", || {
        edge::build(ctx).map(drop)
    });

    // The streamer's media crates: openh264's assembly, libopus.
    steps.check("set-up: native media build deps (apt)", || {
        for report in setup::ensure_apt(MEDIA_APT_PACKAGES)? {
            println!("{report}");
        }
        Ok(())
    });

    // The relay's cluster tests start a real nats-server on a free port.
    steps.check("set-up: nats-server (apt)", || {
        for report in setup::ensure_apt(&["nats-server"])? {
            println!("{report}");
        }
        Ok(())
    });

    // The browser end-to-end tests (tests/tests/browser.rs) drive Debian's
    // Chromium with playwright-core.
    steps.check(
        "set-up: browser tests (chromium, firefox-esr, playwright-core)",
        || {
            for report in browser::ensure_tools(&ctx.cache)? {
                println!("{report}");
            }
            Ok(())
        },
    );

    // Unit, integration and property tests of every workspace crate (the
    // end-to-end tests run against real workerd, real quinn sockets and a
    // real nats-server); benches
    // and examples are built and run once in test mode.
    steps.check_cargo_test(cargo().args([
        "test",
        "--workspace",
        "--all-targets",
        "--no-fail-fast",
    ]));
    // `--all-targets` leaves out doctests.
    steps.check_cargo_test(cargo().args(["test", "--workspace", "--doc", "--no-fail-fast"]));
    // The streamer's real capture backends (nokhwa, cpal) are behind
    // features the workspace run leaves off. This machine class has no
    // camera and no sound card: the feature tests check the no-device
    // errors and capture from ALSA's `null` input.
    steps.check("set-up: capture device build deps (apt)", || {
        for report in setup::ensure_apt(DEVICE_APT_PACKAGES)? {
            println!("{report}");
        }
        Ok(())
    });
    const DEVICES: [&str; 4] = ["-p", "edgecall-stream", "--features", "camera,mic"];
    steps.check_command(cargo().arg("clippy").args(DEVICES).args([
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]));
    steps.check_cargo_test(
        cargo()
            .arg("test")
            .args(DEVICES)
            .args(["--lib", "--bins", "--test", "devices", "--test", "errors"]),
    );

    // The engine must keep building for the Durable Object and the browser.
    steps.check_command(cargo().args([
        "build",
        "-p",
        "edgecall-proto",
        "--target",
        WASM_TARGET,
        "--release",
    ]));

    // The fuzz crate is its own workspace; `cargo fuzz` needs nightly
    // flags, but checking that it compiles works on stable.
    if ctx.root.join("fuzz").join("Cargo.toml").is_file() {
        // libfuzzer-sys compiles libFuzzer (C++) in its build script.
        steps.check("set-up: C++ compiler for libfuzzer-sys", || {
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
        });
        steps.check_command(cargo().args([
            "check",
            "--manifest-path",
            "fuzz/Cargo.toml",
            "--all-targets",
        ]));
    } else {
        steps.skip("cargo check (fuzz/)", "fuzz/ does not exist yet");
    }

    steps.check("wrangler deploy --dry-run (bundles offline)", || {
        edge::deploy_dry_run(ctx)?;
        edge::report_size(&ctx.root.join("worker/build/index_bg.wasm"))
    });

    // Deployment (terraform/ and the directory Lambda), all offline: no
    // terraform binary is installable here, so HashiCorp's HCL parser
    // checks syntax and formatting, Python tests check structure and
    // checkov does static analysis (`cargo xtask check-terraform` alone).
    terraform::add_steps(ctx, &mut steps);

    // The AWS path: the relay registry on DynamoDB and the directory (with
    // its secrets from SSM Parameter Store), built with `--features aws` and
    // run as processes against a DynamoDB- and SSM-API server on loopback
    // (moto_server, in its own venv).
    steps.check("set-up: moto_server (pip moto[server], own venv)", || {
        for report in setup::ensure_python_packages(&ctx.cache, &MOTO_PYTHON)? {
            println!("{report}");
        }
        Ok(())
    });
    const AWS: [&str; 4] = ["-p", "edgecall-relay", "--features", "aws"];
    steps.check_command(cargo().arg("clippy").args(AWS).args([
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]));
    steps.check_cargo_test(
        cargo()
            .arg("test")
            .args(AWS)
            .args([
                "--lib",
                "--bins",
                "--test",
                "dynamodb",
                "--test",
                "directory",
            ])
            .env(
                "EDGECALL_MOTO_SERVER",
                setup::venv_bin(&ctx.cache, &MOTO_PYTHON, "moto_server"),
            ),
    );
    // The directory Lambda's zip, which Terraform deploys.
    lambda::add_steps(ctx, &mut steps);

    // The streamer cross-builds for the Raspberry Pi (aarch64).
    pi::add_steps(ctx, &mut steps);

    steps.finish()
}
