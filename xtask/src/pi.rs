//! `cargo xtask check-pi`: the Raspberry Pi build check. Sets up, once and
//! idempotently, the rustup target `aarch64-unknown-linux-gnu`, Debian's
//! aarch64 cross compilers and cmake (libopus is built from source for the
//! target and linked statically), then
//! cross-builds `edgecall-stream` (default features) in release mode and
//! starts the result once under qemu (`--version`).
//! `cargo xtask test` runs the same steps.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Result;

use crate::steps::Steps;
use crate::tools::{PI_APT_PACKAGES, PI_TARGET};
use crate::{cmd, setup, Ctx};

/// What the cross build needs in its environment (streamer/README.md shows
/// the same lines for building by hand). The target-specific compiler names
/// keep host builds (build scripts, proc macros) on the host compiler.
pub const CROSS_ENV: &[(&str, &str)] = &[
    (
        "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER",
        "aarch64-linux-gnu-gcc",
    ),
    ("CC_aarch64_unknown_linux_gnu", "aarch64-linux-gnu-gcc"),
    ("CXX_aarch64_unknown_linux_gnu", "aarch64-linux-gnu-g++"),
    ("AR_aarch64_unknown_linux_gnu", "aarch64-linux-gnu-ar"),
    // libopus: `audiopus_sys` builds its bundled source with cmake (and the
    // cross compiler above) instead of asking pkg-config for a host library,
    // and links it statically, so the Pi needs no libopus package.
    ("LIBOPUS_NO_PKG", "1"),
    ("LIBOPUS_STATIC", "1"),
];

/// Runs the Pi build check on its own.
pub fn check_pi(ctx: &Ctx) -> Result<()> {
    let mut steps = Steps::new("check-pi");
    add_steps(ctx, &mut steps);
    steps.finish()
}

/// Appends the Pi set-up and cross build to `steps`; a failed step is
/// recorded there, and the start under qemu is skipped without a binary.
pub fn add_steps(ctx: &Ctx, steps: &mut Steps) {
    steps.check(format!("set-up: rust target {PI_TARGET}"), || {
        println!("{}", setup::ensure_rust_target(PI_TARGET)?);
        Ok(())
    });
    steps.check(
        "set-up: aarch64 cross compilers, cmake, qemu-user (apt)",
        || {
            for report in setup::ensure_apt(PI_APT_PACKAGES)? {
                println!("{report}");
            }
            Ok(())
        },
    );
    let mut build = cmd::cargo();
    build.current_dir(&ctx.root).args([
        "build",
        "-p",
        "edgecall-stream",
        "--target",
        PI_TARGET,
        "--release",
    ]);
    for (name, value) in CROSS_ENV {
        build.env(name, value);
    }
    if !steps.check_command(&mut build) {
        steps.skip(
            "qemu-aarch64 edgecall-stream --version",
            "the aarch64 build failed",
        );
        return;
    }

    // The binary starts on aarch64 (under qemu, with the cross toolchain's
    // C and C++ libraries): it is linked completely and parses its flags.
    let binary = ctx
        .root
        .join(target_dir())
        .join(PI_TARGET)
        .join("release")
        .join("edgecall-stream");
    steps.check_command(
        Command::new("qemu-aarch64")
            .arg(&binary)
            .arg("--version")
            .env("QEMU_LD_PREFIX", "/usr/aarch64-linux-gnu"),
    );
}

/// Where cargo builds: `CARGO_TARGET_DIR` (xtask always sets it; relative
/// to the workspace root if relative).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
}
