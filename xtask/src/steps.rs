//! A sequence of named, timed steps with a summary at the end.
//!
//! Two ways to run a step: [`Steps::run`] stops the sequence at a failure
//! (for commands whose later steps make no sense without it, such as
//! `cargo xtask run`), [`Steps::check`] records the failure and lets the
//! sequence go on, so one red suite never hides the others (`cargo xtask
//! test`). [`Steps::finish`] prints every step's outcome, the failed tests
//! by name, and fails if anything did.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::cmd;

enum Outcome {
    Passed(Duration),
    Failed(Duration, String),
    Skipped(String),
}

/// Runs steps in order, printing a header before each one.
pub struct Steps {
    title: &'static str,
    started: Instant,
    done: Vec<(String, Outcome)>,
    /// Tests reported failed by test runs, with the step that ran them.
    failed_tests: Vec<(usize, String)>,
}

impl Steps {
    /// Starts a sequence; `title` names it in headers (`test`, `run`).
    pub fn new(title: &'static str) -> Self {
        Self {
            title,
            started: Instant::now(),
            done: Vec::new(),
            failed_tests: Vec::new(),
        }
    }

    /// Runs one step named `name`; a failure ends the sequence: the summary
    /// is printed and the error, naming the step, is returned.
    pub fn run(
        &mut self,
        name: impl Into<String>,
        body: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        let name = name.into();
        if self.check(name.clone(), body) {
            return Ok(());
        }
        self.print_summary();
        bail!("{} step `{name}` failed", self.title)
    }

    /// Runs one command as a step named after the command line; a failure
    /// ends the sequence (see [`Steps::run`]).
    pub fn command(&mut self, command: &mut Command) -> Result<()> {
        self.run(cmd::display(command), || cmd::run(command))
    }

    /// Runs one step named `name`; a failure is recorded and reported, and
    /// the sequence goes on. Returns whether the step passed, for steps
    /// that depend on it.
    pub fn check(&mut self, name: impl Into<String>, body: impl FnOnce() -> Result<()>) -> bool {
        let name = name.into();
        println!("\n==> [{} {}] {name}", self.title, self.done.len() + 1);
        let start = Instant::now();
        let result = body();
        let elapsed = start.elapsed();
        match result {
            Ok(()) => {
                self.done.push((name, Outcome::Passed(elapsed)));
                true
            }
            Err(error) => {
                let error = format!("{error:#}");
                println!(
                    "\n==> [{} {}] FAILED: {name}: {error}",
                    self.title,
                    self.done.len() + 1
                );
                self.done.push((name, Outcome::Failed(elapsed, error)));
                false
            }
        }
    }

    /// Runs one command as a step (see [`Steps::check`]).
    pub fn check_command(&mut self, command: &mut Command) -> bool {
        self.check(cmd::display(command), || cmd::run(command))
    }

    /// Runs a `cargo test` command as a step (see [`Steps::check`]): its
    /// output is passed through as it comes, and every test it reports
    /// failed (`test <name> ... FAILED`) is remembered for the summary.
    pub fn check_cargo_test(&mut self, command: &mut Command) -> bool {
        let step = self.done.len();
        let mut failed = Vec::new();
        let passed = self.check(cmd::display(command), || {
            run_scanning_failures(command, &mut failed)
        });
        self.failed_tests
            .extend(failed.into_iter().map(|test| (step, test)));
        passed
    }

    /// Records a step that was not run, with the reason.
    pub fn skip(&mut self, name: impl Into<String>, reason: impl Into<String>) {
        let (name, reason) = (name.into(), reason.into());
        println!(
            "\n==> [{} {}] {name}: skipped ({reason})",
            self.title,
            self.done.len() + 1
        );
        self.done.push((name, Outcome::Skipped(reason)));
    }

    /// Prints the summary; fails, naming the failed steps, if any failed.
    pub fn finish(self) -> Result<()> {
        self.print_summary();
        let failed: Vec<&str> = self
            .done
            .iter()
            .filter(|(_, outcome)| matches!(outcome, Outcome::Failed(..)))
            .map(|(name, _)| name.as_str())
            .collect();
        match failed.len() {
            0 => Ok(()),
            1 => bail!("{} step `{}` failed", self.title, failed[0]),
            n => bail!("{n} {} steps failed: `{}`", self.title, failed.join("`, `")),
        }
    }

    fn print_summary(&self) {
        println!("\n==> {} summary", self.title);
        for (index, (name, outcome)) in self.done.iter().enumerate() {
            let number = index + 1;
            match outcome {
                Outcome::Passed(t) => {
                    println!("  ok      {:>7.1}s  {number:>2}. {name}", t.as_secs_f64())
                }
                Outcome::Failed(t, _) => {
                    println!("  FAILED  {:>7.1}s  {number:>2}. {name}", t.as_secs_f64())
                }
                Outcome::Skipped(why) => {
                    println!("  skipped           {number:>2}. {name} ({why})")
                }
            }
        }
        let failed = self
            .done
            .iter()
            .any(|(_, outcome)| matches!(outcome, Outcome::Failed(..)));
        println!(
            "  {}  {:>7.1}s  total",
            if failed { "FAILED" } else { "ok    " },
            self.started.elapsed().as_secs_f64()
        );
        if !failed {
            return;
        }
        println!("\n==> {} failures", self.title);
        for (index, (name, outcome)) in self.done.iter().enumerate() {
            if let Outcome::Failed(_, error) = outcome {
                println!("  step {}. {name}\n      {error}", index + 1);
                for (_, test) in self.failed_tests.iter().filter(|(s, _)| *s == index) {
                    println!("      failed test: {test}");
                }
            }
        }
    }
}

/// Runs `command` with its output passed through line by line, collecting
/// the names of the tests libtest (or a harness speaking its format)
/// reports failed, and cargo's list of failed test targets.
fn run_scanning_failures(command: &mut Command, failed: &mut Vec<String>) -> Result<()> {
    let line = cmd::display(command);
    println!("$ {line}");
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start `{line}`"))?;
    let found = Arc::new(Mutex::new(Vec::new()));
    let stdout = child.stdout.take().context("no stdout pipe")?;
    let stderr = child.stderr.take().context("no stderr pipe")?;
    let out = {
        let found = found.clone();
        thread::spawn(move || pass_through(stdout, std::io::stdout(), &found))
    };
    let err = {
        let found = found.clone();
        thread::spawn(move || pass_through(stderr, std::io::stderr(), &found))
    };
    let status = child
        .wait()
        .with_context(|| format!("waiting for `{line}`"))?;
    // The readers end when the child's pipes close.
    let _ = out.join();
    let _ = err.join();
    failed.extend(
        found
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .drain(..),
    );
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok(())
}

/// Copies `from` to `to` line by line, adding each failure line found to
/// `found`.
fn pass_through(from: impl Read, mut to: impl Write, found: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(from);
    let mut buf = Vec::new();
    let mut in_failed_targets = false;
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let _ = to.write_all(&buf);
        let _ = to.flush();
        let text = String::from_utf8_lossy(&buf);
        let text = text.trim_end();
        if let Some(failure) = failed_target(text, &mut in_failed_targets) {
            let mut found = found
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            // cargo names a failed target twice (as it fails, and at the end).
            if !found.contains(&failure) {
                found.push(failure);
            }
        }
    }
}

/// Reads one line of `cargo test` output: a failed test (`test a::b ...
/// FAILED`) gives its name; cargo's closing list (`error: 2 targets
/// failed:` then one indented `` `-p crate --test name` `` per line) gives
/// each target, tracked across lines by `in_failed_targets`.
fn failed_target(line: &str, in_failed_targets: &mut bool) -> Option<String> {
    if let Some(name) = line
        .strip_prefix("test ")
        .and_then(|rest| rest.strip_suffix(" ... FAILED"))
    {
        *in_failed_targets = false;
        // libtest pads names into a column.
        return Some(name.trim_end().to_owned());
    }
    if line.starts_with("error:") && line.contains("target") && line.ends_with("failed:") {
        *in_failed_targets = true;
        return None;
    }
    if *in_failed_targets {
        if let Some(target) = line
            .trim()
            .strip_prefix('`')
            .and_then(|t| t.strip_suffix('`'))
        {
            return Some(format!("(target) {target}"));
        }
        *in_failed_targets = false;
    }
    // A single failed target: `error: test failed, to rerun pass `-p x --lib``.
    if let Some(rest) = line.strip_prefix("error: test failed, to rerun pass `") {
        return rest
            .strip_suffix('`')
            .map(|target| format!("(target) {target}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(lines: &[&str]) -> Vec<String> {
        let mut state = false;
        lines
            .iter()
            .filter_map(|line| failed_target(line, &mut state))
            .collect()
    }

    #[test]
    fn failed_tests_and_targets_are_named() {
        let found = scan(&[
            "test room::tests::joins ... ok",
            "test room::tests::leaves ... FAILED",
            "test a_page_on_a_slow_downlink_steps_down_and_recovers     ... FAILED",
            "error: test failed, to rerun pass `-p edgecall-proto --lib`",
            "error: 2 targets failed:",
            "    `-p edgecall-proto --lib`",
            "    `-p edgecall-e2e --test browser`",
            "warning: something else",
            "    `not a target`",
        ]);
        assert_eq!(
            found,
            [
                "room::tests::leaves",
                "a_page_on_a_slow_downlink_steps_down_and_recovers",
                "(target) -p edgecall-proto --lib",
                "(target) -p edgecall-proto --lib",
                "(target) -p edgecall-e2e --test browser",
            ]
        );
    }

    #[test]
    fn passing_output_names_nothing() {
        assert!(scan(&[
            "test result: ok. 3 passed; 0 failed",
            "test x ... ok",
            "test y ... ignored"
        ])
        .is_empty());
    }

    #[test]
    fn a_checked_failure_lets_the_sequence_go_on_and_fails_the_finish() {
        let mut steps = Steps::new("unit");
        assert!(!steps.check("fails", || bail!("boom")));
        assert!(steps.check("still runs", || Ok(())));
        steps.skip("skipped", "needs `fails`");
        let error = steps.finish().unwrap_err().to_string();
        assert!(error.contains("`fails`"), "{error}");
        assert!(!error.contains("still runs"), "{error}");
    }

    #[test]
    fn a_run_failure_stops_with_the_step_named() {
        let mut steps = Steps::new("unit");
        let error = steps.run("first", || bail!("boom")).unwrap_err();
        assert!(error.to_string().contains("`first`"), "{error}");
    }

    #[test]
    fn a_failing_command_is_a_failed_step() {
        let mut steps = Steps::new("unit");
        assert!(!steps.check_cargo_test(Command::new("false").arg("--x")));
        assert!(steps.check_cargo_test(&mut Command::new("true")));
        assert!(steps.finish().is_err());
    }
}
