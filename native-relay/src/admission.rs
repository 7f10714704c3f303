//! Admitting a connection: the room id, the open-mode name and the join
//! token, checked the same way for WebTransport and WebSocket.

use std::time::{SystemTime, UNIX_EPOCH};

use edgecall_proto::room::{validate_room_id, Member};
use edgecall_proto::token::{TokenError, TokenVerifier};

use crate::limits::TooManySessions;

/// Why a join was refused, with the HTTP status to answer.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The path does not name a room.
    #[error("no such endpoint; join at /api/rooms/<room> (WebTransport) or /api/rooms/<room>/ws (WebSocket)")]
    NotFound,
    /// The room id is malformed.
    #[error("invalid room id: {0}")]
    BadRoom(String),
    /// Open mode needs `?name=`.
    #[error("add ?name=<your name> to the URL (this relay runs without tokens)")]
    MissingName,
    /// The token was missing or refused.
    #[error("join token refused: {0}")]
    Token(#[from] TokenError),
    /// The client's address opened sessions too fast.
    #[error(transparent)]
    TooManySessions(#[from] TooManySessions),
}

impl Refusal {
    /// The HTTP status for this refusal.
    pub fn status(&self) -> http::StatusCode {
        match self {
            Refusal::NotFound => http::StatusCode::NOT_FOUND,
            Refusal::BadRoom(_) | Refusal::MissingName => http::StatusCode::BAD_REQUEST,
            Refusal::Token(TokenError::Missing) => http::StatusCode::UNAUTHORIZED,
            Refusal::Token(_) => http::StatusCode::FORBIDDEN,
            Refusal::TooManySessions(_) => http::StatusCode::TOO_MANY_REQUESTS,
        }
    }
}

/// Checks joins against the token secret (or admits everyone in open mode).
pub struct Admission {
    verifier: TokenVerifier,
}

impl Admission {
    /// Verified mode with `secret`, open mode without.
    pub fn new(secret: Option<&str>) -> anyhow::Result<Self> {
        let verifier = TokenVerifier::new(secret.map(str::as_bytes))
            .map_err(|err| anyhow::anyhow!("the token secret is unusable: {err}"))?;
        Ok(Self { verifier })
    }

    /// Whether anyone may join (no secret configured).
    pub fn is_open(&self) -> bool {
        self.verifier.is_open()
    }

    /// The verifier joins are checked with.
    pub fn verifier(&self) -> &TokenVerifier {
        &self.verifier
    }

    /// Admits a join of `room` with the URL's `name` and `token`.
    pub fn admit(
        &self,
        room: &str,
        name: Option<&str>,
        token: Option<&str>,
    ) -> Result<Member, Refusal> {
        validate_room_id(room).map_err(|err| Refusal::BadRoom(err.to_string()))?;
        let name = name.unwrap_or_default();
        if self.verifier.is_open() && name.is_empty() {
            return Err(Refusal::MissingName);
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let authorized = self.verifier.authorize(token, room, name, now)?;
        Ok(Member::from(&authorized))
    }
}

/// The room named by a WebTransport path `/api/rooms/<room>`.
pub fn webtransport_room(path: &str) -> Result<&str, Refusal> {
    path.strip_prefix("/api/rooms/")
        .filter(|room| !room.is_empty() && !room.contains('/'))
        .ok_or(Refusal::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgecall_proto::token::{mint, JoinClaims};

    #[test]
    fn open_mode_needs_a_name_and_a_valid_room() {
        let admission = Admission::new(None).unwrap();
        assert_eq!(
            admission.admit("standup", Some("ada"), None).unwrap().name,
            "ada"
        );
        assert!(matches!(
            admission.admit("standup", None, None),
            Err(Refusal::MissingName)
        ));
        assert!(matches!(
            admission.admit("a b", Some("ada"), None),
            Err(Refusal::BadRoom(_))
        ));
    }

    #[test]
    fn tokens_are_checked_against_the_room_and_statuses_follow() {
        let admission = Admission::new(Some("secret")).unwrap();
        let claims = JoinClaims::new("standup", "grace", u64::MAX / 2);
        let token = mint(b"secret", &claims).unwrap();
        let member = admission
            .admit("standup", Some("ignored"), Some(&token))
            .unwrap();
        assert_eq!(member.name, "grace");
        let wrong_room = admission.admit("other", None, Some(&token)).unwrap_err();
        assert_eq!(wrong_room.status(), http::StatusCode::FORBIDDEN);
        let missing = admission.admit("standup", Some("x"), None).unwrap_err();
        assert_eq!(missing.status(), http::StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn only_room_paths_are_webtransport_endpoints() {
        assert_eq!(webtransport_room("/api/rooms/standup").unwrap(), "standup");
        assert!(webtransport_room("/api/rooms/").is_err());
        assert!(webtransport_room("/api/rooms/a/ws").is_err());
        assert!(webtransport_room("/wrong").is_err());
    }
}
