//! Offline checks of `terraform/`: `cargo xtask check-terraform` runs them
//! on their own, `cargo xtask test` as some of its steps. No terraform
//! binary is installable on the build machines (TOOLCHAIN.md), so:
//!
//! 1. `hclfmt` (HashiCorp's HCL parser, built from Debian's sources):
//!    syntax and canonical formatting of every `.tf`/`.tfvars` file;
//! 2. `terraform/tests` (python-hcl2): structure and wiring;
//! 3. checkov (PyPI): static analysis, fully offline.
//!
//! Each tool is set up idempotently in the cache first.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{ensure, Context, Result};

use crate::steps::Steps;
use crate::tools::{CHECKOV_PYTHON, TERRAFORM_PYTHON};
use crate::{cmd, setup, Ctx};

/// checkov's arguments: the Terraform framework only, over `terraform/`,
/// downloading nothing (no platform policies, guidelines or suppressions,
/// no external modules), printing failed checks only, without code excerpts.
/// Inline `#checkov:skip=CKV_…:reason` comments are honoured.
pub const CHECKOV_ARGS: &[&str] = &[
    "--directory",
    "terraform",
    "--framework",
    "terraform",
    "--skip-download",
    "--download-external-modules",
    "false",
    "--compact",
    "--quiet",
];

/// Runs the Terraform checks on their own (`cargo xtask check-terraform`).
pub fn check_terraform(ctx: &Ctx) -> Result<()> {
    let mut steps = Steps::new("check-terraform");
    add_steps(ctx, &mut steps);
    steps.finish()
}

/// Appends the Terraform set-up and checks to `steps`; a failed step is
/// recorded there and the others still run.
pub fn add_steps(ctx: &Ctx, steps: &mut Steps) {
    steps.check(
        "set-up: hclfmt (built from Debian's HCL v2 sources)",
        || {
            println!("{}", setup::ensure_hclfmt(&ctx.cache)?);
            Ok(())
        },
    );
    steps.check(
        "hclfmt -check -require-no-change: every .tf/.tfvars in terraform/",
        || check_format(ctx),
    );
    steps.check("set-up: python venv (python-hcl2, PyYAML)", || {
        for report in setup::ensure_python_packages(&ctx.cache, &TERRAFORM_PYTHON)? {
            println!("{report}");
        }
        Ok(())
    });
    steps.check_command(
        Command::new(setup::venv_python(&ctx.cache, &TERRAFORM_PYTHON))
            .args(["-m", "unittest", "discover", "-s", "terraform/tests"])
            .current_dir(&ctx.root),
    );
    steps.check("set-up: checkov (PyPI, own venv)", || {
        for report in setup::ensure_python_packages(&ctx.cache, &CHECKOV_PYTHON)? {
            println!("{report}");
        }
        Ok(())
    });
    steps.check_command(&mut checkov_command(ctx));
}

/// checkov over `terraform/` with [`CHECKOV_ARGS`], offline: no update
/// check against PyPI (`CKV_SKIP_PACKAGE_UPDATE_CHECK`) and no platform API
/// key, whatever the caller's environment holds.
pub fn checkov_command(ctx: &Ctx) -> Command {
    let mut command = Command::new(setup::venv_bin(&ctx.cache, &CHECKOV_PYTHON, "checkov"));
    command
        .args(CHECKOV_ARGS)
        .env("CKV_SKIP_PACKAGE_UPDATE_CHECK", "true")
        .env_remove("BC_API_KEY")
        .env_remove("PRISMA_API_URL")
        .current_dir(&ctx.root);
    command
}

/// Every `.tf` and `.tfvars` file under `dir`, sorted, skipping
/// `.terraform/` caches.
pub fn tf_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?
        {
            let path = entry
                .with_context(|| format!("listing {}", dir.display()))?
                .path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != ".terraform") {
                    pending.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "tf" || e == "tfvars") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// `hclfmt -check -require-no-change` over every `.tf`/`.tfvars` file: HashiCorp's
/// parser reports syntax errors with file:line, and any file whose
/// canonical formatting differs fails (the formatted text goes nowhere;
/// run `hclfmt -w <file>` to fix it).
pub fn check_format(ctx: &Ctx) -> Result<()> {
    let files = tf_files(&ctx.root.join("terraform"))?;
    ensure!(!files.is_empty(), "no .tf files under terraform/");
    println!("{} .tf/.tfvars files", files.len());
    cmd::run(
        Command::new(setup::hclfmt_bin(&ctx.cache))
            .args(["-check", "-require-no-change"])
            .args(&files)
            .stdout(Stdio::null()),
    )
    .context("a .tf file has a syntax error or is not canonically formatted (fix with `hclfmt -w <file>`)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Cache;

    #[test]
    fn checkov_runs_offline_over_terraform_only() {
        let ctx = Ctx {
            root: PathBuf::from("/repo"),
            cache: Cache::at(PathBuf::from("/cache")),
        };
        let command = checkov_command(&ctx);
        let args: Vec<&str> = command.get_args().map(|a| a.to_str().unwrap()).collect();
        for pair in [
            ["--directory", "terraform"],
            ["--framework", "terraform"],
            ["--download-external-modules", "false"],
        ] {
            assert!(args.windows(2).any(|w| w == pair), "{pair:?} in {args:?}");
        }
        assert!(args.contains(&"--skip-download"));
        let envs: Vec<(String, Option<String>)> = command
            .get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect();
        assert!(envs.contains(&("CKV_SKIP_PACKAGE_UPDATE_CHECK".into(), Some("true".into()))));
        assert!(envs.contains(&("BC_API_KEY".into(), None)));
        assert_eq!(command.get_current_dir(), Some(Path::new("/repo")));
        assert_eq!(
            command.get_program(),
            Path::new("/cache/checkov/bin/checkov").as_os_str()
        );
    }

    #[test]
    fn tf_files_are_found_recursively_without_terraform_caches() {
        let dir = std::env::temp_dir().join(format!("xtask-tf-{}", std::process::id()));
        let module = dir.join("modules").join("relay");
        let cache = dir.join(".terraform").join("modules");
        std::fs::create_dir_all(&module).unwrap();
        std::fs::create_dir_all(&cache).unwrap();
        for file in [
            dir.join("main.tf"),
            module.join("main.tf"),
            module.join("cloud-init.yaml.tftpl"),
            dir.join("prod.tfvars"),
            cache.join("vendored.tf"),
        ] {
            std::fs::write(file, "").unwrap();
        }
        let found = tf_files(&dir).unwrap();
        assert_eq!(
            found,
            vec![
                dir.join("main.tf"),
                module.join("main.tf"),
                dir.join("prod.tfvars")
            ]
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
