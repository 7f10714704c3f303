//! The session's bookkeeping that needs no page: which connection is the
//! current one, whether a join, a reconnect or a leave is under way, and
//! what to tell the user when no transport attempt worked.
//!
//! The browser glue (`app::session`) asks these types before it acts, so
//! the rules are unit tested natively.

/// Why one transport attempt did not end in a `Welcome`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptError {
    /// Nobody answered, the connection closed, or the welcome never came:
    /// the next attempt may work.
    Unreachable(String),
    /// The server answered with an error that another attempt would not
    /// change by itself (e.g. a rejected token), but that is not final.
    Refused(String),
    /// The server refused us in a way no retry fixes (the meeting is full,
    /// the name is taken, the page is out of date): stop trying.
    Fatal(String),
}

impl AttemptError {
    /// The message, whatever the kind.
    pub fn message(&self) -> &str {
        match self {
            AttemptError::Unreachable(m) | AttemptError::Refused(m) | AttemptError::Fatal(m) => m,
        }
    }
}

/// One attempt that failed, as the explanation needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedAttempt {
    /// The URL dialled, without its query (which may hold a join token).
    pub server_url: String,
    /// `websocket` or `webtransport`.
    pub transport: &'static str,
    /// Why it failed.
    pub error: AttemptError,
}

impl FailedAttempt {
    /// Records `error` for `url`, dropping the query.
    pub fn new(url: &str, transport: &'static str, error: AttemptError) -> Self {
        Self {
            server_url: url.split('?').next().unwrap_or_default().to_owned(),
            transport,
            error,
        }
    }
}

/// Every failed attempt of one join, in the order tried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JoinFailures {
    attempts: Vec<FailedAttempt>,
}

impl JoinFailures {
    /// No failure yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one failed attempt.
    pub fn push(&mut self, failed: FailedAttempt) {
        self.attempts.push(failed);
    }

    /// The attempts, in the order tried.
    pub fn attempts(&self) -> &[FailedAttempt] {
        &self.attempts
    }

    /// The first refusal a server gave: when one spoke, its words are the
    /// explanation and nothing needs probing.
    pub fn refusal(&self) -> Option<&str> {
        self.attempts.iter().find_map(|a| match &a.error {
            AttemptError::Refused(m) | AttemptError::Fatal(m) => Some(m.as_str()),
            AttemptError::Unreachable(_) => None,
        })
    }

    /// What to tell the user. `answering` is the index of the first attempt
    /// whose server answered a health check (the caller probes only when
    /// [`refusal`](Self::refusal) is `None`): a server that is up but
    /// closed the meeting's connection said no rather than being absent.
    pub fn explain(&self, answering: Option<usize>, has_token: bool) -> String {
        if let Some(refusal) = self.refusal() {
            return refusal.to_owned();
        }
        if let Some(failed) = answering.and_then(|i| self.attempts.get(i)) {
            let token = if has_token {
                "the join token was rejected (invalid, expired or for another meeting)"
            } else {
                "the meeting may need a join token (?token=) or the name is not allowed"
            };
            return format!(
                "The server refused to let you join: {token}. ({} via {}: {})",
                failed.server_url,
                failed.transport,
                failed.error.message()
            );
        }
        let tried: Vec<String> = self
            .attempts
            .iter()
            .map(|a| format!("{} ({})", a.server_url, a.error.message()))
            .collect();
        format!(
            "Cannot reach the meeting server. Tried: {}. Check that the server is running and the address is right.",
            tried.join("; ")
        )
    }
}

/// Which connection is current and what the session is doing.
///
/// Every connection is opened under a new epoch; events from a connection
/// whose epoch is no longer current are stale and dropped, so a closed or
/// replaced connection can never act on the meeting.
#[derive(Debug, Default)]
pub struct Lifecycle {
    epoch: u32,
    joined: bool,
    reconnecting: bool,
    leaving: bool,
}

impl Lifecycle {
    /// A page that has not joined yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts the (only) join of this page; `false` when one already began.
    pub fn begin_join(&mut self) -> bool {
        !std::mem::replace(&mut self.joined, true)
    }

    /// Whether this page's join began.
    pub fn join_started(&self) -> bool {
        self.joined
    }

    /// The join could not start (e.g. the form was incomplete): the user
    /// may try again.
    pub fn abandon_join(&mut self) {
        self.joined = false;
    }

    /// The epoch of a connection being opened now.
    pub fn open_connection(&mut self) -> u32 {
        self.epoch = self.epoch.wrapping_add(1);
        self.epoch
    }

    /// Whether events of the connection opened under `epoch` still count.
    pub fn is_current(&self, epoch: u32) -> bool {
        self.epoch == epoch
    }

    /// The current connection is closed or given up: its later events are
    /// stale.
    pub fn retire_connection(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
    }

    /// Starts reconnecting; `false` when the user left or a reconnect is
    /// already running (a second loss does not start a second loop).
    pub fn begin_reconnect(&mut self) -> bool {
        if self.leaving || self.reconnecting {
            return false;
        }
        self.reconnecting = true;
        self.retire_connection();
        true
    }

    /// The reconnect loop ended (back in the call, gave up, or left).
    pub fn end_reconnect(&mut self) {
        self.reconnecting = false;
    }

    /// The user left: the connection is retired and nothing reconnects.
    pub fn leave(&mut self) {
        self.leaving = true;
        self.retire_connection();
    }

    /// Whether the user left.
    pub fn leaving(&self) -> bool {
        self.leaving
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreachable(url: &str, message: &str) -> FailedAttempt {
        FailedAttempt::new(url, "websocket", AttemptError::Unreachable(message.into()))
    }

    #[test]
    fn failed_attempts_never_show_the_token_in_the_query() {
        let failed = unreachable("wss://edge.example/api/rooms/m/ws?name=a&token=secret", "x");
        assert_eq!(failed.server_url, "wss://edge.example/api/rooms/m/ws");
    }

    #[test]
    fn a_servers_refusal_is_the_explanation_even_after_unreachable_attempts() {
        let mut failures = JoinFailures::new();
        failures.push(unreachable("https://relay:4443/x", "timed out"));
        failures.push(FailedAttempt::new(
            "wss://edge/x",
            "websocket",
            AttemptError::Refused("The server rejected the join token.".into()),
        ));
        assert_eq!(
            failures.refusal(),
            Some("The server rejected the join token.")
        );
        assert_eq!(
            failures.explain(Some(0), true),
            "The server rejected the join token."
        );
    }

    #[test]
    fn a_server_that_is_up_but_closed_on_us_is_reported_as_a_refusal() {
        let mut failures = JoinFailures::new();
        failures.push(unreachable("wss://edge/x?token=t", "closed (1006)"));
        let without_token = failures.explain(Some(0), false);
        assert!(without_token.starts_with("The server refused to let you join"));
        assert!(without_token.contains("may need a join token"));
        assert!(without_token.contains("wss://edge/x via websocket: closed (1006)"));
        assert!(failures
            .explain(Some(0), true)
            .contains("the join token was rejected"));
    }

    #[test]
    fn nobody_answering_lists_every_server_tried() {
        let mut failures = JoinFailures::new();
        failures.push(unreachable("https://relay:4443/x", "timed out"));
        failures.push(unreachable("wss://edge/x", "refused"));
        let text = failures.explain(None, false);
        assert!(text.starts_with("Cannot reach the meeting server."));
        assert!(text.contains("https://relay:4443/x (timed out); wss://edge/x (refused)"));
    }

    #[test]
    fn a_page_joins_once_unless_the_join_was_abandoned() {
        let mut life = Lifecycle::new();
        assert!(!life.join_started());
        assert!(life.begin_join());
        assert!(life.join_started());
        assert!(!life.begin_join(), "a second click joins nothing more");
        life.abandon_join();
        assert!(life.begin_join());
    }

    #[test]
    fn events_of_a_retired_connection_are_stale() {
        let mut life = Lifecycle::new();
        let first = life.open_connection();
        assert!(life.is_current(first));
        let second = life.open_connection();
        assert!(!life.is_current(first) && life.is_current(second));
        life.retire_connection();
        assert!(!life.is_current(second));
    }

    #[test]
    fn only_one_reconnect_runs_and_it_retires_the_lost_connection() {
        let mut life = Lifecycle::new();
        let epoch = life.open_connection();
        assert!(life.begin_reconnect());
        assert!(!life.is_current(epoch));
        assert!(
            !life.begin_reconnect(),
            "a second loss joins the running loop"
        );
        life.end_reconnect();
        assert!(life.begin_reconnect());
    }

    #[test]
    fn after_leaving_nothing_reconnects() {
        let mut life = Lifecycle::new();
        let epoch = life.open_connection();
        life.leave();
        assert!(life.leaving() && !life.is_current(epoch));
        assert!(!life.begin_reconnect());
    }
}
