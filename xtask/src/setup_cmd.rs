//! `cargo xtask setup`: installs (or with `--check` only reports) every tool
//! the project needs, group by group, and prints their versions.

use anyhow::{bail, Result};

use crate::browser;
use crate::cache::Cache;
use crate::setup::{self, Report};
use crate::tools::{
    APT_PACKAGES, BROWSER_NPM_PACKAGES, CARGO_TOOLS, CHECKOV_PYTHON, DEVICE_APT_PACKAGES,
    MEDIA_APT_PACKAGES, MOTO_PYTHON, NPM_PACKAGES, RUST_COMPONENTS, TERRAFORM_PYTHON, WASM_TARGET,
};

/// Which groups of tools to set up.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Groups {
    /// rustup: the wasm32 target, rustfmt and clippy.
    pub rust: bool,
    /// `cargo install`ed tools (worker-build, wasm-bindgen-cli).
    pub cargo_tools: bool,
    /// Node 22 and the npm tools (wrangler, binaryen, playwright-core).
    pub node: bool,
    /// Debian packages (chromium, nats-server, native media build deps).
    pub apt: bool,
    /// Only the Debian packages the streamer's media crates and capture
    /// backends build against (a subset of `apt`; CI installs these before
    /// clippy).
    pub media: bool,
    /// The offline Terraform checks: hclfmt, python-hcl2 and checkov (venvs).
    pub terraform: bool,
}

impl Groups {
    /// Every group.
    pub const ALL: Self = Self {
        rust: true,
        cargo_tools: true,
        node: true,
        apt: true,
        media: true,
        terraform: true,
    };

    /// What building and running the edge (Worker + Durable Object) needs.
    pub const EDGE: Self = Self {
        rust: true,
        cargo_tools: true,
        node: true,
        apt: false,
        media: false,
        terraform: false,
    };

    /// Both sets of groups.
    pub fn union(self, other: Self) -> Self {
        Self {
            rust: self.rust || other.rust,
            cargo_tools: self.cargo_tools || other.cargo_tools,
            node: self.node || other.node,
            apt: self.apt || other.apt,
            media: self.media || other.media,
            terraform: self.terraform || other.terraform,
        }
    }

    /// Whether no group is selected.
    pub fn is_empty(self) -> bool {
        self == Self::default()
    }
}

fn section(title: &str) {
    println!("\n==> [setup] {title}");
}

fn show(all: &mut Vec<Report>, report: Report) {
    println!("{report}");
    all.push(report);
}

/// Sets up the selected groups; with `check_only`, installs nothing and
/// fails if anything is missing.
pub fn setup(cache: &Cache, groups: Groups, check_only: bool) -> Result<()> {
    println!("cache: {}", cache.root().display());
    let mut all = Vec::new();

    if groups.rust {
        section("rust (rustup)");
        let target = if check_only {
            setup::check_rust_target(WASM_TARGET)?
        } else {
            setup::ensure_rust_target(WASM_TARGET)?
        };
        show(&mut all, target);
        for component in RUST_COMPONENTS {
            let report = if check_only {
                setup::check_rust_component(component)?
            } else {
                setup::ensure_rust_component(component)?
            };
            show(&mut all, report);
        }
    }

    if groups.cargo_tools {
        section(&format!("cargo tools ({})", cache.cargo_root().display()));
        for tool in CARGO_TOOLS {
            let report = if check_only {
                setup::check_cargo_tool(cache, tool)
            } else {
                setup::ensure_cargo_tool(cache, tool)?
            };
            show(&mut all, report);
        }
    }

    if groups.node {
        section(&format!(
            "node + npm tools ({})",
            cache.node_prefix().display()
        ));
        let packages: Vec<(&str, &str)> = NPM_PACKAGES
            .iter()
            .chain(BROWSER_NPM_PACKAGES)
            .copied()
            .collect();
        if check_only {
            show(&mut all, setup::check_node22(cache));
            for report in setup::check_npm_packages(cache, &packages) {
                show(&mut all, report);
            }
        } else {
            let node = setup::ensure_node22(cache)?;
            show(&mut all, node.report().clone());
            for report in setup::ensure_npm_packages(cache, &node, &packages)? {
                show(&mut all, report);
            }
        }
    }

    if groups.apt {
        section("Debian packages (apt)");
        let reports = if check_only {
            setup::check_apt(APT_PACKAGES)
        } else {
            setup::ensure_apt(APT_PACKAGES)?
        };
        for report in reports {
            show(&mut all, report);
        }
        // The version the browser tests will drive.
        show(&mut all, browser::check_chromium());
    }

    if groups.media && !groups.apt {
        section("Debian packages for native media (apt)");
        let packages: Vec<&str> = MEDIA_APT_PACKAGES
            .iter()
            .chain(DEVICE_APT_PACKAGES)
            .copied()
            .collect();
        let reports = if check_only {
            setup::check_apt(&packages)
        } else {
            setup::ensure_apt(&packages)?
        };
        for report in reports {
            show(&mut all, report);
        }
    }

    if groups.terraform {
        section("deployment checks (hclfmt, python-hcl2, checkov, moto_server)");
        if check_only {
            show(&mut all, setup::check_hclfmt(cache));
        } else {
            show(&mut all, setup::ensure_hclfmt(cache)?);
        }
        for tools in [&TERRAFORM_PYTHON, &CHECKOV_PYTHON, &MOTO_PYTHON] {
            let reports = if check_only {
                setup::check_python_packages(cache, tools)
            } else {
                setup::ensure_python_packages(cache, tools)?
            };
            for report in reports {
                show(&mut all, report);
            }
        }
    }

    section("summary");
    for report in &all {
        println!("{report}");
    }
    if groups.cargo_tools && groups.node {
        println!("\nworker-build uses these instead of downloading its own tools:");
        for (var, path) in setup::edge_tool_env(cache) {
            let note = if path.exists() { "" } else { "  (missing)" };
            println!("  {var}={}{note}", path.display());
        }
    }

    let missing = all.iter().filter(|report| !report.is_present()).count();
    if missing > 0 {
        bail!("{missing} tool(s) missing or at the wrong version: run `cargo xtask setup`");
    }
    Ok(())
}
