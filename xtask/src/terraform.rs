//! Offline checks of `terraform/` that need more than one command.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{ensure, Context, Result};

use crate::{cmd, setup, Ctx};

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
