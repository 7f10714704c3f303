//! `cargo xtask build-web`: the browser client.
//!
//! Builds `edgecall-web` for wasm32 with the size-oriented `web` profile,
//! runs the cached wasm-bindgen-cli (`--target web`) into `dist/web/pkg/`,
//! shrinks the wasm with the cached wasm-opt (`-Oz`), copies the static
//! shell (`web-client/static/`) into `dist/web/`, and prints the raw and
//! gzip sizes. Does nothing when `dist/web` is newer than every source.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context, Result};

use crate::tools::WASM_TARGET;
use crate::{cmd, edge, Ctx};

/// Sources the client is built from, relative to the root.
const SOURCES: &[&str] = &["web-client", "proto", "Cargo.lock", "Cargo.toml"];
/// The cargo profile (workspace Cargo.toml).
const PROFILE: &str = "web";
/// The web client's size goal (issue 6), gzip bytes.
const GZIP_BUDGET: u64 = 400 * 1024;

/// `dist/web` under the root.
pub fn dist(root: &Path) -> PathBuf {
    root.join("dist/web")
}

fn oldest_output(dist: &Path) -> Option<SystemTime> {
    [
        "index.html",
        "pkg/edgecall_web.js",
        "pkg/edgecall_web_bg.wasm",
    ]
    .iter()
    .map(|p| fs::metadata(dist.join(p)).and_then(|m| m.modified()).ok())
    .collect::<Option<Vec<_>>>()?
    .into_iter()
    .min()
}

fn is_current(root: &Path) -> bool {
    let built = oldest_output(&dist(root));
    let sources = SOURCES
        .iter()
        .filter_map(|p| edge::newest(&root.join(p)))
        .max();
    matches!((built, sources), (Some(b), Some(s)) if b >= s)
}

/// Builds the web client into `dist/web` unless it is current.
pub fn build(ctx: &Ctx) -> Result<()> {
    let dist = dist(&ctx.root);
    let wasm_out = dist.join("pkg/edgecall_web_bg.wasm");
    if is_current(&ctx.root) {
        println!("web client is current: {}", dist.display());
        return report_size(&wasm_out);
    }
    for report in edge::ensure_tools(&ctx.cache)? {
        println!("{report}");
    }
    cmd::run(cmd::cargo().current_dir(&ctx.root).args([
        "build",
        "-p",
        "edgecall-web",
        "--lib",
        "--target",
        WASM_TARGET,
        "--profile",
        PROFILE,
    ]))?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| ctx.cache.target_dir());
    let built = target_dir
        .join(WASM_TARGET)
        .join(PROFILE)
        .join("edgecall_web.wasm");
    let pkg = dist.join("pkg");
    if pkg.exists() {
        fs::remove_dir_all(&pkg).with_context(|| format!("cannot clear {}", pkg.display()))?;
    }
    cmd::run(
        Command::new(ctx.cache.cargo_bin().join("wasm-bindgen"))
            .args(["--target", "web", "--no-typescript", "--out-dir"])
            .arg(&pkg)
            .arg(&built),
    )?;
    let wasm_opt = ctx
        .cache
        .node_prefix()
        .join("node_modules/binaryen/bin/wasm-opt");
    let optimised = wasm_out.with_extension("opt.wasm");
    cmd::run(
        Command::new(wasm_opt)
            .arg(&wasm_out)
            .args([
                "-Oz",
                "--enable-bulk-memory",
                "--enable-nontrapping-float-to-int",
                "--enable-sign-ext",
                "--enable-mutable-globals",
                "--enable-reference-types",
                "--enable-multivalue",
                "--strip-debug",
                "--strip-producers",
                "-o",
            ])
            .arg(&optimised),
    )?;
    fs::rename(&optimised, &wasm_out)
        .with_context(|| format!("cannot replace {}", wasm_out.display()))?;
    copy_static(&ctx.root.join("web-client/static"), &dist)?;
    report_size(&wasm_out)
}

fn copy_static(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_static(&entry.path(), &dest)?;
        } else {
            fs::copy(entry.path(), &dest).with_context(|| {
                format!(
                    "cannot copy {} to {}",
                    entry.path().display(),
                    dest.display()
                )
            })?;
        }
    }
    Ok(())
}

/// Prints the raw and gzip sizes of the client wasm (and the JS glue).
pub fn report_size(wasm: &Path) -> Result<()> {
    let raw = fs::metadata(wasm)
        .with_context(|| format!("no web client wasm at {}", wasm.display()))?
        .len();
    let gzip_of = |path: &Path| -> Result<u64> {
        let out = cmd::capture(
            Command::new("sh")
                .arg("-c")
                .arg(format!("gzip -9 -c '{}' | wc -c", path.display())),
        )?;
        Ok(out.trim().parse::<u64>().unwrap_or(0))
    };
    let gzip = gzip_of(wasm)?;
    let glue = gzip_of(&wasm.with_file_name("edgecall_web.js"))?;
    println!(
        "web client wasm: {} KB raw, {} KB gzip (+ {} KB gzip JS glue; budget {} KB gzip) ({})",
        raw / 1024,
        gzip / 1024,
        glue / 1024,
        GZIP_BUDGET / 1024,
        wasm.display()
    );
    if gzip + glue > GZIP_BUDGET {
        println!(
            "warning: the web client is over its {} KB gzip budget",
            GZIP_BUDGET / 1024
        );
    }
    Ok(())
}
