//! `cargo xtask check-pi`: the Raspberry Pi build check. Sets up, once and
//! idempotently, the rustup target `aarch64-unknown-linux-gnu`, Debian's
//! aarch64 cross compilers, cmake (libopus is built from source for the
//! target and linked statically), pkg-config, libclang (nokhwa's bindgen)
//! and qemu-user, then the arm64 architecture in dpkg (multiarch) and the
//! arm64 ALSA library and C++ runtime; cross-builds `edgecall-stream` with its capture
//! backends (`--features camera,mic`) in release mode, and starts the
//! result under qemu: `--help`, then `info` (no camera or sound card here,
//! so it must say so and succeed).
//! `cargo xtask test` runs the same steps.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Result;

use crate::steps::Steps;
use crate::tools::{
    PI_APT_PACKAGES, PI_ARM64_APT_PACKAGES, PI_DEBIAN_ARCH, PI_FEATURES, PI_TARGET,
};
use crate::{cmd, setup, Ctx};

/// What the cross build needs in its environment (streamer/README.md shows
/// the same lines for building by hand). The compiler and pkg-config names
/// are specific to the target, so host builds (build scripts, proc macros)
/// keep the host compiler and the host's pkg-config search path.
pub const CROSS_ENV: &[(&str, &str)] = &[
    (
        "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER",
        "aarch64-linux-gnu-gcc",
    ),
    ("CC_aarch64_unknown_linux_gnu", "aarch64-linux-gnu-gcc"),
    ("CXX_aarch64_unknown_linux_gnu", "aarch64-linux-gnu-g++"),
    ("AR_aarch64_unknown_linux_gnu", "aarch64-linux-gnu-ar"),
    // ALSA (cpal, `mic`): pkg-config reads only the arm64 .pc files
    // (multiarch `libasound2-dev:arm64`); the paths they hold are real
    // paths on this machine, so no sysroot.
    ("PKG_CONFIG_ALLOW_CROSS_aarch64_unknown_linux_gnu", "1"),
    (
        "PKG_CONFIG_LIBDIR_aarch64_unknown_linux_gnu",
        "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig",
    ),
    // libopus: `audiopus_sys` builds its bundled source with cmake (and the
    // cross compiler above) instead of asking pkg-config for a library,
    // and links it statically, so the Pi needs no libopus package (only
    // the target builds audiopus_sys, which reads no target-specific names).
    ("LIBOPUS_NO_PKG", "1"),
    ("LIBOPUS_STATIC", "1"),
];

/// Where qemu finds the aarch64 dynamic loader and libraries: the machine's
/// root, as on a Pi. Multiarch puts `/lib/ld-linux-aarch64.so.1` and the
/// arm64 libraries (`/usr/lib/aarch64-linux-gnu`) there.
const QEMU_LD_PREFIX: &str = "/";

/// Runs the Pi build check on its own.
pub fn check_pi(ctx: &Ctx) -> Result<()> {
    let mut steps = Steps::new("check-pi");
    add_steps(ctx, &mut steps);
    steps.finish()
}

/// Appends the Pi set-up, the cross build and its runs under qemu to
/// `steps`; a failed step is recorded there, and the runs are skipped
/// without a binary.
pub fn add_steps(ctx: &Ctx, steps: &mut Steps) {
    add_setup_steps(steps);
    let mut build = cmd::cargo();
    build.current_dir(&ctx.root).args([
        "build",
        "-p",
        "edgecall-stream",
        "--features",
        PI_FEATURES,
        "--target",
        PI_TARGET,
        "--release",
    ]);
    for (name, value) in CROSS_ENV {
        build.env(name, value);
    }
    let runs = [&["--help"][..], &["info"][..]];
    if !steps.check_command(&mut build) {
        for args in runs {
            steps.skip(
                format!("qemu-aarch64 edgecall-stream {}", args.join(" ")),
                "the aarch64 build failed",
            );
        }
        return;
    }

    // The binary starts on aarch64 (under qemu, on the multiarch arm64
    // libraries): it is linked completely and parses its flags; `info`
    // asks nokhwa (V4L2) and cpal (ALSA) for devices, and with none it must
    // say so and succeed.
    let binary = ctx
        .root
        .join(target_dir())
        .join(PI_TARGET)
        .join("release")
        .join("edgecall-stream");
    for args in runs {
        steps.check_command(qemu(&binary).args(args));
    }
}

/// Appends the set-up of aarch64 cross builds and their runs under qemu
/// (the rustup target, Debian's cross compilers, the arm64 multiarch
/// libraries), each idempotent.
pub fn add_setup_steps(steps: &mut Steps) {
    steps.check(format!("set-up: rust target {PI_TARGET}"), || {
        println!("{}", setup::ensure_rust_target(PI_TARGET)?);
        Ok(())
    });
    steps.check(
        "set-up: aarch64 cross compilers, cmake, pkg-config, libclang, qemu-user (apt)",
        || {
            for report in setup::ensure_apt(PI_APT_PACKAGES)? {
                println!("{report}");
            }
            Ok(())
        },
    );
    steps.check(
        format!(
            "set-up: {PI_DEBIAN_ARCH} multiarch, {} (apt)",
            PI_ARM64_APT_PACKAGES.join(", ")
        ),
        || {
            println!("{}", setup::ensure_foreign_arch(PI_DEBIAN_ARCH)?);
            for report in setup::ensure_apt(PI_ARM64_APT_PACKAGES)? {
                println!("{report}");
            }
            Ok(())
        },
    );
}

/// `qemu-aarch64` starting `binary` on the machine's arm64 multiarch
/// libraries.
pub fn qemu(binary: &std::path::Path) -> Command {
    let mut command = Command::new("qemu-aarch64");
    command.arg("-L").arg(QEMU_LD_PREFIX).arg(binary);
    command
}

/// Where cargo builds: `CARGO_TARGET_DIR` (xtask always sets it; relative
/// to the workspace root if relative).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain `PKG_CONFIG_LIBDIR` or `CC` would also reach the build
    /// scripts and proc macros, which are built for the host.
    #[test]
    fn compilers_and_pkg_config_are_set_for_the_target_only() {
        let suffix = format!("_{}", PI_TARGET.replace('-', "_"));
        let tools = CROSS_ENV.iter().filter(|(name, _)| {
            ["CC", "CXX", "AR", "PKG_CONFIG"]
                .iter()
                .any(|t| name.starts_with(t))
        });
        assert_eq!(tools.clone().count(), 5);
        for (name, _) in tools {
            assert!(
                name.ends_with(&suffix),
                "{name} is not specific to {PI_TARGET}"
            );
        }
    }
}
