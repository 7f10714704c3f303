//! A fail-fast sequence of named, timed steps with a summary at the end.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::cmd;

enum Outcome {
    Passed(Duration),
    Failed(Duration),
    Skipped(String),
}

/// Runs steps in order, printing a header before each one; on the first
/// failure it prints the summary and returns an error naming the step.
pub struct Steps {
    title: &'static str,
    started: Instant,
    done: Vec<(String, Outcome)>,
}

impl Steps {
    /// Starts a sequence; `title` names it in headers (`test`, `run`).
    pub fn new(title: &'static str) -> Self {
        Self {
            title,
            started: Instant::now(),
            done: Vec::new(),
        }
    }

    /// Runs one step named `name`.
    pub fn run(
        &mut self,
        name: impl Into<String>,
        body: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        let name = name.into();
        println!("\n==> [{} {}] {name}", self.title, self.done.len() + 1);
        let start = Instant::now();
        let result = body();
        let elapsed = start.elapsed();
        match result {
            Ok(()) => {
                self.done.push((name, Outcome::Passed(elapsed)));
                Ok(())
            }
            Err(error) => {
                self.done.push((name.clone(), Outcome::Failed(elapsed)));
                self.print_summary();
                Err(error).with_context(|| format!("{} step `{name}` failed", self.title))
            }
        }
    }

    /// Runs one command as a step named after the command line.
    pub fn command(&mut self, command: &mut Command) -> Result<()> {
        self.run(cmd::display(command), || cmd::run(command))
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

    /// Prints the summary of a sequence in which every step succeeded.
    pub fn finish(self) {
        self.print_summary();
    }

    fn print_summary(&self) {
        println!("\n==> {} summary", self.title);
        for (name, outcome) in &self.done {
            match outcome {
                Outcome::Passed(t) => println!("  ok      {:>7.1}s  {name}", t.as_secs_f64()),
                Outcome::Failed(t) => println!("  FAILED  {:>7.1}s  {name}", t.as_secs_f64()),
                Outcome::Skipped(why) => println!("  skipped           {name} ({why})"),
            }
        }
        let failed = self
            .done
            .iter()
            .any(|(_, outcome)| matches!(outcome, Outcome::Failed(_)));
        println!(
            "  {}  {:>7.1}s  total",
            if failed { "FAILED" } else { "ok    " },
            self.started.elapsed().as_secs_f64()
        );
    }
}
