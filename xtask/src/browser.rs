//! What the browser end-to-end tests and `cargo xtask bench-web` need:
//! Debian's Chromium and Firefox ESR (apt) and `playwright-core` (npm, in
//! the cache, under Node 22). Each is checked first and installed only when missing or at
//! the wrong version; no browser is ever downloaded.

use std::path::Path;

use anyhow::{ensure, Result};

use crate::cache::Cache;
use crate::setup::{self, Report};
use crate::tools::{
    BROWSER_NPM_PACKAGES, CHROMIUM_BIN, CHROMIUM_PACKAGE, FIREFOX_BIN, FIREFOX_PACKAGE,
};

/// Whether the Chromium binary runs, and its version.
pub fn check_chromium() -> Report {
    setup::check_binary("chromium binary", Path::new(CHROMIUM_BIN))
}

/// Installs what is missing (Chromium with apt, Node 22 and playwright-core
/// with npm) and returns one report per tool, Chromium's version included.
pub fn ensure_tools(cache: &Cache) -> Result<Vec<Report>> {
    let mut reports = setup::ensure_apt(&[CHROMIUM_PACKAGE, FIREFOX_PACKAGE])?;
    let chromium = check_chromium();
    ensure!(
        chromium.is_present(),
        "the `{CHROMIUM_PACKAGE}` package is installed but `{CHROMIUM_BIN} --version` fails:\n{chromium}"
    );
    reports.push(chromium);
    let firefox = setup::check_binary("firefox binary", Path::new(FIREFOX_BIN));
    ensure!(
        firefox.is_present(),
        "the `{FIREFOX_PACKAGE}` package is installed but `{FIREFOX_BIN} --version` fails:\n{firefox}"
    );
    reports.push(firefox);
    let node = setup::ensure_node22(cache)?;
    reports.push(node.report().clone());
    reports.extend(setup::ensure_npm_packages(
        cache,
        &node,
        BROWSER_NPM_PACKAGES,
    )?);
    Ok(reports)
}
