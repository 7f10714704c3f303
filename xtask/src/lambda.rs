//! `cargo xtask build-lambda`: the directory Lambda's deployment package,
//! built offline with the Pi's cross toolchain instead of cargo-lambda.
//!
//! `edgecall-directory` is cross-built in release mode with `--features
//! aws` for Lambda's arm64 (Graviton) runtime `provided.al2023`, stripped,
//! checked to need no glibc newer than Amazon Linux 2023's, started once
//! under qemu (`--help`), and zipped as the single file `bootstrap`. The
//! zip has fixed timestamps and permissions, so the same binary always
//! gives the same bytes (and the same `source_code_hash` in Terraform).

use std::io::Write;
use std::path::Path;
use std::process::Command;

use anyhow::{ensure, Context, Result};
use sha2::{Digest, Sha256};

use crate::steps::Steps;
use crate::tools::PI_TARGET;
use crate::{cmd, pi, Ctx};

/// Where the package goes, relative to the repository root (the default
/// of Terraform's `directory_package_zip`).
pub const PACKAGE_ZIP: &str = "dist/lambda/edgecall-directory-arm64.zip";

/// Amazon Linux 2023's glibc (`provided.al2023`): the binary may need no
/// symbol version newer than this.
const RUNTIME_GLIBC: (u32, u32) = (2, 34);

/// Builds the package on its own.
pub fn build_lambda(ctx: &Ctx) -> Result<()> {
    let mut steps = Steps::new("build-lambda");
    add_steps(ctx, &mut steps);
    steps.finish()
}

/// Appends the set-up, cross build, checks and packaging to `steps`.
pub fn add_steps(ctx: &Ctx, steps: &mut Steps) {
    pi::add_setup_steps(steps);
    let mut build = cmd::cargo();
    build.current_dir(&ctx.root).args([
        "build",
        "-p",
        "edgecall-relay",
        "--bin",
        "edgecall-directory",
        "--features",
        "aws",
        "--target",
        PI_TARGET,
        "--release",
    ]);
    for (name, value) in pi::CROSS_ENV {
        build.env(name, value);
    }
    if !steps.check_command(&mut build) {
        steps.skip("package the directory Lambda", "the aarch64 build failed");
        return;
    }
    steps.check(
        format!("package the directory Lambda ({PACKAGE_ZIP})"),
        || {
            let built = pi::target_dir()
                .join(PI_TARGET)
                .join("release")
                .join("edgecall-directory");
            package(&ctx.root.join(built), &ctx.root.join(PACKAGE_ZIP))
        },
    );
}

/// Strips `built`, checks it, and writes the zip to `zip_path`.
fn package(built: &Path, zip_path: &Path) -> Result<()> {
    let dir = zip_path
        .parent()
        .context("the package path has no parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let bootstrap = dir.join("bootstrap");
    cmd::run(
        Command::new("aarch64-linux-gnu-strip")
            .arg("-o")
            .arg(&bootstrap)
            .arg(built),
    )?;

    let symbols = cmd::capture(
        Command::new("aarch64-linux-gnu-objdump")
            .arg("-T")
            .arg(&bootstrap),
    )?;
    let needed = newest_glibc(&symbols).context("the binary references no glibc symbol")?;
    ensure!(
        needed <= RUNTIME_GLIBC,
        "bootstrap needs GLIBC_{}.{}, newer than provided.al2023's {}.{}",
        needed.0,
        needed.1,
        RUNTIME_GLIBC.0,
        RUNTIME_GLIBC.1
    );
    println!(
        "  bootstrap needs glibc {}.{} (the runtime has {}.{})",
        needed.0, needed.1, RUNTIME_GLIBC.0, RUNTIME_GLIBC.1
    );
    // It is linked completely and starts on aarch64.
    cmd::capture(pi::qemu(&bootstrap).arg("--help"))
        .context("bootstrap does not start under qemu-aarch64")?;

    let binary =
        std::fs::read(&bootstrap).with_context(|| format!("reading {}", bootstrap.display()))?;
    let zipped = zip_bootstrap(&binary)?;
    std::fs::write(zip_path, &zipped).with_context(|| format!("writing {}", zip_path.display()))?;
    std::fs::remove_file(&bootstrap)
        .with_context(|| format!("removing {}", bootstrap.display()))?;
    println!(
        "  {}: {} bytes (bootstrap {} bytes), sha256 {}",
        zip_path.display(),
        zipped.len(),
        binary.len(),
        hex_sha256(&zipped)
    );
    Ok(())
}

/// A zip holding `binary` as `bootstrap`, executable, with the zip
/// format's earliest timestamp: its bytes depend on `binary` alone.
fn zip_bootstrap(binary: &[u8]) -> Result<Vec<u8>> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .unix_permissions(0o755)
        .last_modified_time(zip::DateTime::default());
    out.start_file("bootstrap", options)
        .context("starting bootstrap in the zip")?;
    out.write_all(binary).context("compressing bootstrap")?;
    Ok(out.finish().context("finishing the zip")?.into_inner())
}

/// The newest `GLIBC_x.y` version in `objdump -T` output.
fn newest_glibc(symbols: &str) -> Option<(u32, u32)> {
    symbols
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter_map(|word| word.strip_prefix("GLIBC_"))
        .filter_map(|version| {
            let mut parts = version.split('.');
            let major = parts.next()?.parse().ok()?;
            let minor = parts.next()?.parse().ok()?;
            Some((major, minor))
        })
        .max()
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_glibc_version_is_read_from_objdump_output() {
        let symbols = "\
0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.17) write
0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.34) __libc_start_main
0000000000000000  w   D  *UND*  0000000000000000  GLIBC_2.28  __cxa_thread_atexit_impl
0000000000000000      DF *UND*  0000000000000000 (GLIBC_PRIVATE) _dl_x";
        assert_eq!(newest_glibc(symbols), Some((2, 34)));
        assert_eq!(newest_glibc("no versions here"), None);
    }

    #[test]
    fn the_same_binary_always_zips_to_the_same_bytes() {
        let binary = b"\x7fELF not really, but bytes".repeat(100);
        let first = zip_bootstrap(&binary).unwrap();
        assert_eq!(first, zip_bootstrap(&binary).unwrap());
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(first)).unwrap();
        assert_eq!(archive.len(), 1);
        let entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name().unwrap(), "bootstrap");
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
    }
}
