//! Thin helpers around [`std::process::Command`]: echo what runs, check the
//! exit status, and name the failing command in the error.

use std::env;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// A `cargo` command for the toolchain that is running xtask (`$CARGO`, set
/// by `cargo run`), falling back to whatever `cargo` is on `PATH`.
pub fn cargo() -> Command {
    Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Renders a command as a shell-like line for logs and error messages.
pub fn display(cmd: &Command) -> String {
    let program = Path::new(cmd.get_program())
        .file_name()
        .unwrap_or(cmd.get_program())
        .to_string_lossy()
        .into_owned();
    cmd.get_args().fold(program, |mut line, arg| {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
        line
    })
}

/// Runs a command with inherited stdio, echoing it first; fails unless it
/// exits successfully.
pub fn run(cmd: &mut Command) -> Result<()> {
    let line = display(cmd);
    println!("$ {line}");
    let status = cmd
        .status()
        .with_context(|| format!("could not start `{line}`"))?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok(())
}

/// Runs a command quietly and returns its standard output; on failure the
/// error carries its standard error.
pub fn capture(cmd: &mut Command) -> Result<String> {
    let line = display(cmd);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("could not start `{line}`"))?;
    if !out.status.success() {
        bail!(
            "`{line}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Like [`capture`], but any failure (missing program, non-zero exit) is just
/// `None`: used to probe whether a tool is installed.
pub fn probe(cmd: &mut Command) -> Option<String> {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Puts `dir` first on this process's `PATH` (inherited by every command
/// spawned afterwards). Does nothing if it is already first.
pub fn prepend_path(dir: &Path) -> Result<()> {
    let current = env::var_os("PATH").unwrap_or_default();
    if env::split_paths(&current).next().as_deref() == Some(dir) {
        return Ok(());
    }
    let joined: OsString =
        env::join_paths(std::iter::once(dir.to_path_buf()).chain(env::split_paths(&current)))
            .with_context(|| format!("cannot put {} on PATH", dir.display()))?;
    // xtask is single-threaded, so changing its environment is sound.
    env::set_var("PATH", joined);
    Ok(())
}

/// Whether xtask runs as root (decides whether `apt-get` needs `sudo`).
pub fn is_root() -> bool {
    probe(Command::new("id").arg("-u")).is_some_and(|uid| uid.trim() == "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_shows_program_name_and_args() {
        let mut cmd = Command::new("/usr/bin/cargo");
        cmd.args(["test", "--workspace"]);
        assert_eq!(display(&cmd), "cargo test --workspace");
    }

    #[test]
    fn probe_is_none_for_missing_programs() {
        assert!(probe(&mut Command::new("edgecall-no-such-program")).is_none());
    }
}
