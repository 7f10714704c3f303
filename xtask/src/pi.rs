//! `cargo xtask check-pi`: the Raspberry Pi build check. Sets up, once and
//! idempotently, the rustup target `aarch64-unknown-linux-gnu`, Debian's
//! aarch64 cross compilers and libopus for arm64 (Debian multiarch), then
//! cross-builds `edgecall-stream` (default features) in release mode and
//! starts the result once under qemu (`--version`).
//! `cargo xtask test` runs the same steps.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Result;

use crate::steps::Steps;
use crate::tools::{PI_APT_PACKAGES, PI_DEBIAN_ARCH, PI_TARGET};
use crate::{cmd, setup, Ctx};

/// What the cross build needs in its environment (streamer/README.md shows
/// the same lines for building by hand). Target-specific names keep host
/// builds (build scripts, proc macros) on the host compiler and libraries.
pub const CROSS_ENV: &[(&str, &str)] = &[
    (
        "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER",
        "aarch64-linux-gnu-gcc",
    ),
    ("CC_aarch64_unknown_linux_gnu", "aarch64-linux-gnu-gcc"),
    ("CXX_aarch64_unknown_linux_gnu", "aarch64-linux-gnu-g++"),
    ("AR_aarch64_unknown_linux_gnu", "aarch64-linux-gnu-ar"),
    // libopus: pkg-config reads only the arm64 .pc files for this target.
    ("PKG_CONFIG_ALLOW_CROSS_aarch64_unknown_linux_gnu", "1"),
    (
        "PKG_CONFIG_LIBDIR_aarch64_unknown_linux_gnu",
        "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig",
    ),
];

/// Runs the Pi build check on its own.
pub fn check_pi(ctx: &Ctx) -> Result<()> {
    let mut steps = Steps::new("check-pi");
    add_steps(ctx, &mut steps)?;
    steps.finish();
    Ok(())
}

/// Appends the Pi set-up and cross build to `steps`.
pub fn add_steps(ctx: &Ctx, steps: &mut Steps) -> Result<()> {
    steps.run(format!("set-up: rust target {PI_TARGET}"), || {
        println!("{}", setup::ensure_rust_target(PI_TARGET)?);
        Ok(())
    })?;
    steps.run(
        format!("set-up: {PI_DEBIAN_ARCH} multiarch, cross compilers, libopus for {PI_DEBIAN_ARCH} (apt)"),
        || {
            println!("{}", setup::ensure_foreign_arch(PI_DEBIAN_ARCH)?);
            for report in setup::ensure_apt(PI_APT_PACKAGES)? {
                println!("{report}");
            }
            Ok(())
        },
    )?;
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
    steps.command(&mut build)?;

    // The binary starts on aarch64 (under qemu, with the arm64 libraries
    // multiarch installed): it links, finds libopus and parses its flags.
    let binary = ctx
        .root
        .join(target_dir())
        .join(PI_TARGET)
        .join("release")
        .join("edgecall-stream");
    steps.command(
        Command::new("qemu-aarch64")
            .arg(&binary)
            .arg("--version")
            .env("QEMU_LD_PREFIX", "/usr/aarch64-linux-gnu"),
    )
}

/// Where cargo builds: `CARGO_TARGET_DIR` (xtask always sets it; relative
/// to the workspace root if relative).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
}
