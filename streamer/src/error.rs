//! Errors of the client library.

use std::fmt;

use edgecall_proto::room::CloseCode;

/// How the server ended a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseInfo {
    /// The close code (4000-range codes come from the room engine or the
    /// host; `None` when the transport failed without one).
    pub code: Option<u32>,
    /// The reason the server gave, or a description of the failure.
    pub reason: String,
}

impl fmt::Display for CloseInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) => write!(f, "closed with code {code}: {}", self.reason),
            None => write!(f, "connection lost: {}", self.reason),
        }
    }
}

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL, name or room is not usable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The TLS set-up failed (bad PEM, bad hash).
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// The server could not be reached or the handshake failed.
    #[error("could not connect to {url}: {reason}")]
    Connect {
        /// Where we tried to connect.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The relay directory could not say where to join.
    #[error("the relay directory at {url} did not answer usably{}: {reason}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Directory {
        /// The lookup URL.
        url: String,
        /// Its HTTP status, when it answered.
        status: Option<u16>,
        /// What went wrong (the directory's own `error` text when it gave one).
        reason: String,
    },
    /// The server refused the session with an HTTP status (401/403 for a
    /// bad token, 404 for a wrong path).
    #[error("the server refused the session with HTTP status {status}")]
    Rejected {
        /// The HTTP status.
        status: u16,
    },
    /// The session ended.
    #[error("session {0}")]
    Closed(CloseInfo),
    /// The server sent something this client cannot decode.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// Sending failed because the transport is gone.
    #[error("send failed: {0}")]
    Send(String),
    /// The server did not answer in time.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// Not sent: the host's announced limits would refuse it. The session
    /// is fine; drop the frame (for video, ask for a keyframe next).
    #[error("not sent: {0}")]
    Withheld(#[from] edgecall_proto::room::Withheld),
}

/// `Ok(true)` when a message was sent, `Ok(false)` when the host's limits
/// withheld it (the session goes on), the error otherwise.
pub fn sent_unless_withheld(result: Result<(), ClientError>) -> Result<bool, ClientError> {
    match result {
        Ok(()) => Ok(true),
        Err(ClientError::Withheld(why)) => {
            tracing::debug!(%why, "withheld by the host's limits");
            Ok(false)
        }
        Err(err) => Err(err),
    }
}

impl ClientError {
    /// Whether trying again later can succeed (network trouble, a relay
    /// restarting) as opposed to a refusal that will repeat (bad token,
    /// wrong path, bad configuration).
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Config(_) | ClientError::Tls(_) => false,
            ClientError::Rejected { status } => !matches!(status, 400..=499),
            // Unreachable, overloaded or without a healthy relay right now
            // (503) is worth another try; a refused token (401), a wrong
            // room (400) or an unusable answer is not.
            ClientError::Directory { status, .. } => {
                status.is_none_or(|s| s == 429 || (500..=599).contains(&s))
            }
            ClientError::Closed(info) => !info.code.is_some_and(|code| {
                [
                    CloseCode::UnsupportedVersion,
                    CloseCode::InvalidName,
                    CloseCode::NameTaken,
                    // Another session of the same identity took over: trying
                    // again would take it back, and so on.
                    CloseCode::Replaced,
                    CloseCode::Forbidden,
                    CloseCode::Unauthorized,
                ]
                .iter()
                .any(|refusal| u32::from(refusal.code()) == code)
            }),
            _ => true,
        }
    }

    /// The close code, when the server closed the session with one.
    pub fn close_code(&self) -> Option<u32> {
        match self {
            ClientError::Closed(info) => info.code,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(code: Option<u32>) -> ClientError {
        ClientError::Closed(CloseInfo {
            code,
            reason: String::new(),
        })
    }

    #[test]
    fn only_failures_that_can_pass_are_retried() {
        // A restart, a drain, a dropped network, a full room: try again.
        for code in [None, Some(4008), Some(4013), Some(4003), Some(1006)] {
            assert!(closed(code).is_retryable(), "{code:?}");
        }
        assert!(ClientError::Rejected { status: 503 }.is_retryable());
        // Refusals that would repeat, and a takeover by our own identity.
        for code in [4001, 4006, 4007, 4009, 4010, 4012] {
            assert!(!closed(Some(code)).is_retryable(), "{code}");
        }
        assert!(!ClientError::Rejected { status: 401 }.is_retryable());
        // A directory that is unreachable or has no live relay right now,
        // against one that refuses the token or answers garbage.
        let directory = |status| ClientError::Directory {
            url: "https://dir.example/v1/rooms/r/relay".into(),
            status,
            reason: "test".into(),
        };
        for status in [None, Some(429), Some(502), Some(503)] {
            assert!(directory(status).is_retryable(), "{status:?}");
        }
        for status in [Some(200), Some(400), Some(401), Some(404)] {
            assert!(!directory(status).is_retryable(), "{status:?}");
        }
    }
}
