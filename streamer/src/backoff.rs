//! Reconnecting with exponential backoff.

use std::time::Duration;

use rand::Rng;

use crate::directory::JoinTarget;
use crate::error::ClientError;
use crate::session::Session;

/// Exponential backoff with jitter: each delay is drawn from
/// `[current / 2, current]`, and `current` doubles up to `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    /// Starts at `initial`, never waits longer than `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            current: initial,
        }
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let upper = self.current;
        self.current = (self.current * 2).min(self.max);
        let lower = upper / 2;
        let span = (upper - lower).as_millis() as u64;
        lower + Duration::from_millis(rand::rng().random_range(0..=span))
    }

    /// Back to the initial delay (after a successful connection).
    pub fn reset(&mut self) {
        self.current = self.initial;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Duration::from_millis(200), Duration::from_secs(10))
    }
}

/// Connects, retrying retryable failures with `backoff` up to
/// `max_attempts` times (`None`: forever). Each attempt resolves `target`
/// afresh (a directory is asked again). Refusals that would repeat (a
/// bad token, a wrong path) are returned at once. Before each wait,
/// `on_retry` gets the failure, the number of the next attempt and the
/// delay.
pub async fn connect_with_retry(
    target: &JoinTarget,
    backoff: &mut Backoff,
    max_attempts: Option<u32>,
    mut on_retry: impl FnMut(&ClientError, u32, Duration),
) -> Result<Session, ClientError> {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let connected = match target.resolve().await {
            Ok(config) => Session::connect(&config).await,
            Err(err) => Err(err),
        };
        match connected {
            Ok(session) => {
                backoff.reset();
                return Ok(session);
            }
            Err(err) if err.is_retryable() && max_attempts.is_none_or(|max| attempt < max) => {
                let delay = backoff.next_delay();
                tracing::info!(%err, attempt, ?delay, "connect failed; retrying");
                on_retry(&err, attempt + 1, delay);
                tokio::time::sleep(delay).await;
            }
            Err(err) => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_and_reset() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(800));
        let delays: Vec<Duration> = (0..6).map(|_| backoff.next_delay()).collect();
        assert!(delays[0] >= Duration::from_millis(50) && delays[0] <= Duration::from_millis(100));
        assert!(delays[5] >= Duration::from_millis(400) && delays[5] <= Duration::from_millis(800));
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(100));
    }
}
