//! Join tokens: standard HS256 JSON Web Tokens that grant access to one room.
//!
//! A join token is a compact JWS (`header.payload.signature`, RFC 7515/7519)
//! signed with HMAC-SHA256 under a secret shared between the edgecall
//! deployment and whatever backend admits users. Nothing here is
//! edgecall-specific on the wire, so any stock JWT library can mint tokens:
//!
//! ```text
//! header  = {"alg":"HS256","typ":"JWT"}
//! payload = {"room":"standup","name":"Ada","exp":1735689600,
//!            "iat":1735686000,"publish":true,"subscribe":true}
//! ```
//!
//! The claims are described by [`JoinClaims`]. A relay or Durable Object
//! builds one [`TokenVerifier`] at start-up and calls
//! [`TokenVerifier::authorize`] for every join, passing the current time in
//! (this crate never reads a clock):
//!
//! - **open mode** (no secret configured): every join is admitted with full
//!   rights under the requested room and the caller-supplied fallback name;
//!   any token presented is ignored, and the result says `verified: false`;
//! - **verified mode** (a secret is configured): a token is required, must be
//!   an HS256 JWT signed with that secret, must not be expired (nor used
//!   before its `nbf`, if it has one), and its `room` must equal the room the
//!   client asked to join.
//!
//! [`mint`] produces tokens for tests, tools and Rust backends.
//!
//! Only `HS256` is accepted. Tokens whose header announces any other
//! algorithm — including the unsigned `none` — are rejected with
//! [`TokenError::UnsupportedAlgorithm`] before any signature check, and tokens
//! carrying `crit` header extensions are rejected because none are
//! understood.

use core::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::json::{JsonError, JsonObject, JsonWriter};

/// The only JWS algorithm accepted and produced by this module.
pub const ALGORITHM: &str = "HS256";

/// The clock-skew allowance a new [`TokenVerifier`] starts with, in seconds.
///
/// It is zero: a token is expired from the very second named by its `exp`.
/// Deployments whose token issuer and broker clocks may disagree can widen it
/// with [`TokenVerifier::with_leeway`].
pub const DEFAULT_LEEWAY_SECS: u64 = 0;

type HmacSha256 = Hmac<Sha256>;

/// The claims of a join token, i.e. the JSON object in the JWT payload.
///
/// | claim       | type            | meaning                                                              |
/// |-------------|-----------------|----------------------------------------------------------------------|
/// | `room`      | string, required| the only room this token admits to                                   |
/// | `name`      | string, required| the display name the participant asks for                            |
/// | `sub`       | string, optional| the issuer's stable user id; carried through, never checked          |
/// | `exp`       | integer, required| expiry, Unix seconds; the token is refused from this second on      |
/// | `iat`       | integer, optional| issue time, Unix seconds; informational, never checked              |
/// | `nbf`       | integer, optional| not-before, Unix seconds; the token is refused before this second   |
/// | `publish`   | bool, optional  | may send media; `true` when absent                                   |
/// | `subscribe` | bool, optional  | may receive media; `true` when absent                                |
/// | `role`      | string, optional| `host` (may moderate: mute, lower hands, remove, end the meeting) or `participant` (the default) |
///
/// Times are whole Unix seconds (JWT `NumericDate`); fractional or negative
/// values make the token malformed. Claims not listed here (`iss`, `aud`,
/// `jti`, ...) are accepted and ignored, so issuers may add their own.
///
/// The `name` is a request, not an identity guarantee beyond "the issuer
/// chose it": the room engine still makes names unique within a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinClaims {
    /// The room this token admits to; must equal the room being joined.
    pub room: String,
    /// The display name requested for the participant.
    pub name: String,
    /// The issuer's stable subject (user) identifier, if it provides one.
    /// edgecall does not interpret it; it is exposed for logging and
    /// moderation hooks.
    pub sub: Option<String>,
    /// Expiry time, Unix seconds. The token is refused once
    /// `now >= exp + leeway`.
    pub exp: u64,
    /// Issue time, Unix seconds. Informational only.
    pub iat: Option<u64>,
    /// Not-before time, Unix seconds. When present the token is refused while
    /// `now + leeway < nbf`.
    pub nbf: Option<u64>,
    /// Whether the participant may publish (send) media. Defaults to `true`.
    pub publish: bool,
    /// Whether the participant may subscribe to (receive) media. Defaults to
    /// `true`.
    pub subscribe: bool,
    /// What the participant may do beyond publishing and subscribing.
    pub role: Role,
}

/// The `role` claim.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Role {
    /// An ordinary participant.
    #[default]
    Participant,
    /// May moderate the meeting.
    Host,
}

impl Role {
    /// The claim's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Participant => "participant",
            Role::Host => "host",
        }
    }

    /// Reads a claim's value (`None`: absent, the default).
    ///
    /// # Errors
    ///
    /// [`JsonError`] for any other value than `host` or `participant`.
    pub fn parse(value: Option<&str>) -> Result<Self, JsonError> {
        match value {
            None | Some("participant") => Ok(Role::Participant),
            Some("host") => Ok(Role::Host),
            Some(_) => Err(JsonError::invalid("role", "\"host\" or \"participant\"")),
        }
    }
}

impl JoinClaims {
    /// Claims for `name` in `room` expiring at `exp` (Unix seconds), with
    /// full publish/subscribe rights and no optional claims set.
    pub fn new(room: impl Into<String>, name: impl Into<String>, exp: u64) -> Self {
        Self {
            room: room.into(),
            name: name.into(),
            sub: None,
            exp,
            iat: None,
            nbf: None,
            publish: true,
            subscribe: true,
            role: Role::Participant,
        }
    }
    /// The claims as the JSON object of a token's payload, optional claims
    /// that are `None` left out.
    pub fn to_json(&self) -> String {
        JsonWriter::new()
            .string("room", &self.room)
            .string("name", &self.name)
            .string_if("sub", self.sub.as_deref())
            .uint("exp", self.exp)
            .uint_if("iat", self.iat)
            .uint_if("nbf", self.nbf)
            .boolean("publish", self.publish)
            .boolean("subscribe", self.subscribe)
            .string_if("role", (self.role == Role::Host).then_some("host"))
            .finish()
    }

    /// Reads the claims from a token payload's JSON object (see the table
    /// above for which are required and the defaults of the others).
    ///
    /// # Errors
    ///
    /// [`JsonError`] naming the first claim that is missing or of the wrong
    /// type.
    pub fn from_json(object: &JsonObject) -> Result<Self, JsonError> {
        Ok(Self {
            room: object.required_string("room")?,
            name: object.required_string("name")?,
            sub: object.string("sub")?,
            exp: object.required_uint("exp")?,
            iat: object.uint("iat")?,
            nbf: object.uint("nbf")?,
            publish: object.boolean("publish")?.unwrap_or(true),
            subscribe: object.boolean("subscribe")?.unwrap_or(true),
            role: Role::parse(object.string("role")?.as_deref())?,
        })
    }
}

/// The outcome of a successful [`TokenVerifier::authorize`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorized {
    /// The claims the participant joins with. In open mode they are
    /// synthesised from the request (see [`TokenVerifier::authorize`]).
    pub claims: JoinClaims,
    /// `true` when the claims come from a token whose signature was checked;
    /// `false` in open mode.
    pub verified: bool,
}

/// Why a join token could not be minted or was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Verified mode is on but the client presented no token (or an empty
    /// one).
    #[error(
        "a join token is required: this server verifies joins, so obtain a signed token \
         from the application backend and pass it when joining"
    )]
    Missing,
    /// The token is not a well-formed HS256 JWT carrying [`JoinClaims`].
    #[error(
        "the join token is malformed ({reason}); expected a compact JWT \
         `header.payload.signature` whose payload has string `room` and `name` and integer \
         `exp` claims — check how the backend builds the token"
    )]
    Malformed {
        /// What exactly failed to parse.
        reason: String,
    },
    /// The token header names an algorithm other than `HS256`.
    #[error(
        "the join token uses algorithm {alg:?}, but only \"HS256\" is accepted; \
         mint tokens with HMAC-SHA256 and the shared join secret"
    )]
    UnsupportedAlgorithm {
        /// The `alg` value found in the header.
        alg: String,
    },
    /// The HMAC does not match: the token was altered, or was signed with a
    /// different secret.
    #[error(
        "the join token's signature does not match: it was modified or signed with a \
         different secret — make sure the backend and this server share the same join secret"
    )]
    BadSignature,
    /// The token's `exp` has passed.
    #[error(
        "the join token expired at {exp} (now {now}, leeway {leeway}s); request a fresh token \
         from the application backend, or check that the clocks agree"
    )]
    Expired {
        /// The token's `exp` claim.
        exp: u64,
        /// The time the check was made at.
        now: u64,
        /// The leeway that was allowed.
        leeway: u64,
    },
    /// The token's `nbf` lies in the future.
    #[error(
        "the join token is not valid before {nbf} (now {now}, leeway {leeway}s); wait, or \
         check that the issuer's and this server's clocks agree"
    )]
    NotYetValid {
        /// The token's `nbf` claim.
        nbf: u64,
        /// The time the check was made at.
        now: u64,
        /// The leeway that was allowed.
        leeway: u64,
    },
    /// The token is valid but for another room.
    #[error(
        "the join token is for room {token_room:?}, not {requested:?}; request a token for \
         the room being joined"
    )]
    WrongRoom {
        /// The room named in the token.
        token_room: String,
        /// The room the client asked to join.
        requested: String,
    },
    /// A secret was supplied but it is empty, which would make every token
    /// forgeable.
    #[error(
        "the join-token secret is empty; configure a random secret (at least 32 bytes is \
         recommended) or configure none at all to run in open mode"
    )]
    EmptySecret,
    /// The JWT library failed to produce a token. Not expected to happen.
    #[error("could not sign the join token ({reason}); this is a bug in edgecall-proto, please report it")]
    Signing {
        /// The underlying library error.
        reason: String,
    },
}

impl TokenError {
    fn malformed(reason: impl fmt::Display) -> Self {
        Self::Malformed {
            reason: reason.to_string(),
        }
    }
}

/// Builds the HMAC key, refusing an empty secret.
fn hmac_key(secret: &[u8]) -> Result<HmacSha256, TokenError> {
    if secret.is_empty() {
        return Err(TokenError::EmptySecret);
    }
    // HMAC accepts keys of any length, so this cannot fail for a non-empty
    // secret; map the error rather than unwrap anyway.
    HmacSha256::new_from_slice(secret).map_err(|e| TokenError::Signing {
        reason: e.to_string(),
    })
}

/// The header of every minted token.
const MINTED_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Signs `claims` with `secret` and returns a compact JWT whose header is
/// exactly `{"alg":"HS256","typ":"JWT"}`.
///
/// The payload is the JSON form of [`JoinClaims`] with `None` optional claims
/// left out.
///
/// # Errors
///
/// [`TokenError::EmptySecret`] if `secret` is empty.
pub fn mint(secret: &[u8], claims: &JoinClaims) -> Result<String, TokenError> {
    let mut mac = hmac_key(secret)?;
    let payload = claims.to_json();
    let mut token = Base64UrlUnpadded::encode_string(MINTED_HEADER.as_bytes());
    token.push('.');
    token.push_str(&Base64UrlUnpadded::encode_string(payload.as_bytes()));
    mac.update(token.as_bytes());
    let tag = mac.finalize().into_bytes();
    token.push('.');
    token.push_str(&Base64UrlUnpadded::encode_string(&tag));
    Ok(token)
}

/// Decodes one base64url part of a compact JWS as a JSON object.
fn decode_part(part: &str) -> Result<JsonObject, String> {
    let json = Base64UrlUnpadded::decode_vec(part).map_err(|e| format!("base64url: {e}"))?;
    JsonObject::parse(&json).map_err(|e| e.to_string())
}

/// The header a relay's trunk carries its [`TokenVerifier::trunk_proof`] in.
pub const TRUNK_TOKEN_PROOF_HEADER: &str = "x-edgecall-token-proof";

/// Domain separation for trunk proofs: the tag can never be mistaken for a
/// token signature.
const TRUNK_PROOF_LABEL: &[u8] = b"edgecall trunk token proof v1\0";

/// Why a verifying host refuses a relay's trunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TrunkRefusal {
    /// The relay runs open (no token secret).
    #[error(
        "this edge verifies join tokens but the relay admits anyone (it has no token secret): \
         start the relay with the edge's JOIN_TOKEN_SECRET as --token-secret"
    )]
    OpenRelay,
    /// The relay verifies tokens signed with another secret.
    #[error(
        "the relay verifies join tokens with a different secret from this edge's \
         JOIN_TOKEN_SECRET: give both the same secret"
    )]
    OtherSecret,
}

/// How joins are authorised.
#[derive(Clone)]
enum Mode {
    Open,
    Verified(HmacSha256),
}

/// Checks join tokens against a shared HS256 secret, or admits everyone when
/// no secret is configured (open mode).
///
/// Build it once from configuration and reuse it; it holds the prepared HMAC
/// key. Its `Debug` output never contains the secret.
#[derive(Clone)]
pub struct TokenVerifier {
    mode: Mode,
    leeway: u64,
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.mode {
            Mode::Open => "open",
            Mode::Verified(_) => "verified",
        };
        f.debug_struct("TokenVerifier")
            .field("mode", &mode)
            .field("leeway", &self.leeway)
            .finish()
    }
}

impl TokenVerifier {
    /// A verifier for the configured secret: `None` gives open mode,
    /// `Some(secret)` verified mode. The leeway starts at
    /// [`DEFAULT_LEEWAY_SECS`].
    ///
    /// # Errors
    ///
    /// [`TokenError::EmptySecret`] for `Some(b"")` — an empty secret is far
    /// more likely a configuration mistake than a wish for open mode.
    pub fn new(secret: Option<&[u8]>) -> Result<Self, TokenError> {
        match secret {
            None => Ok(Self::open()),
            Some(secret) => Self::with_secret(secret),
        }
    }

    /// An open-mode verifier that admits every join.
    #[must_use]
    pub fn open() -> Self {
        Self {
            mode: Mode::Open,
            leeway: DEFAULT_LEEWAY_SECS,
        }
    }

    /// A verified-mode verifier for `secret`.
    ///
    /// # Errors
    ///
    /// [`TokenError::EmptySecret`] if `secret` is empty.
    pub fn with_secret(secret: &[u8]) -> Result<Self, TokenError> {
        Ok(Self {
            mode: Mode::Verified(hmac_key(secret)?),
            leeway: DEFAULT_LEEWAY_SECS,
        })
    }

    /// Returns the verifier with a clock-skew allowance of `secs` seconds,
    /// applied to both `exp` and `nbf`.
    #[must_use]
    pub fn with_leeway(mut self, secs: u64) -> Self {
        self.leeway = secs;
        self
    }

    /// The clock-skew allowance, in seconds.
    #[must_use]
    pub fn leeway(&self) -> u64 {
        self.leeway
    }

    /// `true` when no secret is configured and every join is admitted.
    #[must_use]
    pub fn is_open(&self) -> bool {
        matches!(self.mode, Mode::Open)
    }

    /// What a relay's trunk of `room` presents (header
    /// [`TRUNK_TOKEN_PROOF_HEADER`]) to show the edge it admits only holders
    /// of join tokens signed with this secret: hex HMAC-SHA256 under the
    /// secret of a fixed label and the room id. `None` in open mode.
    #[must_use]
    pub fn trunk_proof(&self, room: &str) -> Option<String> {
        let Mode::Verified(key) = &self.mode else {
            return None;
        };
        let mut mac = key.clone();
        mac.update(TRUNK_PROOF_LABEL);
        mac.update(room.as_bytes());
        let tag = mac.finalize().into_bytes();
        Some(tag.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Whether a trunk of `room` presenting `proof` may link a relay's
    /// participants into this host's room. An open host takes any trunk; a
    /// verifying host only one whose relay verifies with the same secret
    /// (see [`Self::trunk_proof`]): a relay that admits anyone, or checks
    /// other tokens, would let in people this host would refuse.
    ///
    /// # Errors
    ///
    /// [`TrunkRefusal`] saying which side must change.
    pub fn admit_trunk(&self, room: &str, proof: Option<&str>) -> Result<(), TrunkRefusal> {
        let Some(expected) = self.trunk_proof(room) else {
            return Ok(());
        };
        match proof.filter(|p| !p.is_empty()) {
            None => Err(TrunkRefusal::OpenRelay),
            Some(proof) if bool::from(proof.as_bytes().ct_eq(expected.as_bytes())) => Ok(()),
            Some(_) => Err(TrunkRefusal::OtherSecret),
        }
    }

    /// Decides whether a client may join `room`.
    ///
    /// - `token`: the token the client presented, if any;
    /// - `room`: the room the client asked to join;
    /// - `fallback_name`: the name to use in open mode (typically the name the
    ///   client typed); ignored in verified mode, where the token's `name`
    ///   wins;
    /// - `now_unix_secs`: the current time, supplied by the caller.
    ///
    /// In open mode this always succeeds with
    /// `JoinClaims { room, name: fallback_name, exp: u64::MAX, publish: true,
    /// subscribe: true, .. }` and `verified: false`; a presented token is
    /// neither parsed nor checked.
    ///
    /// In verified mode the checks run in this order: presence, header
    /// (`alg` must be `HS256`, no `crit`), signature, claim shape, `exp`,
    /// `nbf`, then `room`.
    ///
    /// # Errors
    ///
    /// In verified mode: [`TokenError::Missing`], [`TokenError::Malformed`],
    /// [`TokenError::UnsupportedAlgorithm`], [`TokenError::BadSignature`],
    /// [`TokenError::Expired`], [`TokenError::NotYetValid`] or
    /// [`TokenError::WrongRoom`].
    pub fn authorize(
        &self,
        token: Option<&str>,
        room: &str,
        fallback_name: &str,
        now_unix_secs: u64,
    ) -> Result<Authorized, TokenError> {
        let key = match &self.mode {
            Mode::Open => {
                return Ok(Authorized {
                    claims: JoinClaims::new(room, fallback_name, u64::MAX),
                    verified: false,
                })
            }
            Mode::Verified(key) => key,
        };
        let token = match token {
            Some(t) if !t.is_empty() => t,
            _ => return Err(TokenError::Missing),
        };
        let claims = verify_signature(key, token)?;
        self.check_claims(&claims, room, now_unix_secs)?;
        Ok(Authorized {
            claims,
            verified: true,
        })
    }

    fn check_claims(&self, claims: &JoinClaims, room: &str, now: u64) -> Result<(), TokenError> {
        let leeway = self.leeway;
        if claims.exp.saturating_add(leeway) <= now {
            return Err(TokenError::Expired {
                exp: claims.exp,
                now,
                leeway,
            });
        }
        if let Some(nbf) = claims.nbf {
            if now.saturating_add(leeway) < nbf {
                return Err(TokenError::NotYetValid { nbf, now, leeway });
            }
        }
        if claims.room != room {
            return Err(TokenError::WrongRoom {
                token_room: claims.room.clone(),
                requested: room.to_owned(),
            });
        }
        Ok(())
    }
}

/// Checks the header and HMAC of `token` and decodes its claims. Does not
/// look at times or the room.
fn verify_signature(key: &HmacSha256, token: &str) -> Result<JoinClaims, TokenError> {
    // Look at the header on its own first so that a foreign algorithm is
    // reported as such, whatever the rest of the token looks like.
    let mut parts = token.split('.');
    let header_b64 = parts.next().unwrap_or_default();
    // Of the JOSE header only `alg` and `crit` matter; other members (`typ`,
    // `kid`, `cty`, ...) are ignored.
    let header = decode_part(header_b64)
        .and_then(|h| {
            h.required_string("alg")
                .map(|alg| (alg, h.has("crit")))
                .map_err(|e| e.to_string())
        })
        .map_err(|e| TokenError::malformed(format_args!("header: {e}")))?;
    let (alg, critical) = header;
    if alg != ALGORITHM {
        return Err(TokenError::UnsupportedAlgorithm { alg });
    }
    if critical {
        return Err(TokenError::malformed(
            "header lists critical extensions (`crit`), none of which are supported",
        ));
    }
    let (Some(claims_b64), Some(signature_b64), None) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::malformed(
            "a compact JWT has exactly three dot-separated parts",
        ));
    };
    // Claims are only checked to be JSON here and given their typed shape
    // after the signature is known to be good.
    let claims =
        decode_part(claims_b64).map_err(|e| TokenError::malformed(format_args!("claims: {e}")))?;
    // A signature that is not even valid base64url cannot be the right one.
    let signature =
        Base64UrlUnpadded::decode_vec(signature_b64).map_err(|_| TokenError::BadSignature)?;
    let mut mac = key.clone();
    mac.update(header_b64.as_bytes());
    mac.update(b".");
    mac.update(claims_b64.as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| TokenError::BadSignature)?;
    JoinClaims::from_json(&claims).map_err(|e| TokenError::malformed(format_args!("claims: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a-test-secret-that-is-32-bytes!!";
    const NOW: u64 = 1_750_000_000;

    fn claims(room: &str) -> JoinClaims {
        JoinClaims {
            iat: Some(NOW),
            ..JoinClaims::new(room, "Ada", NOW + 3600)
        }
    }

    fn verifier() -> TokenVerifier {
        TokenVerifier::with_secret(SECRET).expect("non-empty secret")
    }

    /// Unpadded base64url, written out here so the interop test does not rely
    /// on the JWT crate's encoder.
    fn b64url(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                let index = (n >> (18 - 6 * i)) & 0x3f;
                out.push(char::from(ALPHABET[index as usize]));
            }
        }
        out
    }

    /// Builds an HS256 token from raw JSON using only `hmac` and `sha2`.
    fn hand_made_token(secret: &[u8], header_json: &str, payload_json: &str) -> String {
        let signing_input = format!(
            "{}.{}",
            b64url(header_json.as_bytes()),
            b64url(payload_json.as_bytes())
        );
        let mut mac = HmacSha256::new_from_slice(secret).expect("hmac accepts any key length");
        mac.update(signing_input.as_bytes());
        let tag = mac.finalize().into_bytes();
        format!("{signing_input}.{}", b64url(&tag))
    }

    #[test]
    fn b64url_helper_matches_known_vectors() {
        assert_eq!(b64url(b""), "");
        assert_eq!(b64url(b"f"), "Zg");
        assert_eq!(b64url(b"fo"), "Zm8");
        assert_eq!(b64url(b"foo"), "Zm9v");
        assert_eq!(b64url(b"foob"), "Zm9vYg");
        assert_eq!(b64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn mint_then_authorize_round_trips() {
        let original = claims("standup");
        let token = mint(SECRET, &original).expect("mint");
        let auth = verifier()
            .authorize(Some(&token), "standup", "ignored", NOW)
            .expect("valid token");
        assert!(auth.verified);
        assert_eq!(auth.claims, original);
    }

    #[test]
    fn minted_header_is_exactly_hs256_jwt() {
        let token = mint(SECRET, &claims("standup")).expect("mint");
        let header = token.split('.').next().expect("header part");
        assert_eq!(header, b64url(br#"{"alg":"HS256","typ":"JWT"}"#));
        assert_eq!(token.split('.').count(), 3);
    }

    #[test]
    fn mint_matches_a_token_from_an_independent_implementation() {
        // Produced with Python's standard library (json, base64, hmac):
        // header {"alg":"HS256","typ":"JWT"}, secret "interop-secret".
        const PYTHON_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
            eyJyb29tIjoic3RhbmR1cCIsIm5hbWUiOiJBZGEiLCJleHAiOjIwMDAwMDAwMDAsImlhdCI6MTcwMDAwMDAwMCwicHVibGlzaCI6dHJ1ZSwic3Vic2NyaWJlIjpmYWxzZX0.\
            _DwR4K4bUJ0SP6pkcHRxkL0XrTYQwpYkGQXf4jYaE_M";
        let expected = JoinClaims {
            iat: Some(1_700_000_000),
            subscribe: false,
            ..JoinClaims::new("standup", "Ada", 2_000_000_000)
        };
        let auth = TokenVerifier::with_secret(b"interop-secret")
            .expect("secret")
            .authorize(Some(PYTHON_TOKEN), "standup", "x", NOW)
            .expect("python-minted token verifies");
        assert_eq!(auth.claims, expected);
        assert_eq!(
            mint(b"interop-secret", &expected).expect("mint"),
            PYTHON_TOKEN
        );
    }

    #[test]
    fn hand_built_token_verifies() {
        let payload = format!(
            r#"{{"iss":"my-backend","sub":"user-42","room":"standup","name":"Grace","exp":{},"jti":"abc"}}"#,
            NOW + 60
        );
        let token = hand_made_token(SECRET, r#"{"typ":"JWT","alg":"HS256"}"#, &payload);
        let auth = verifier()
            .authorize(Some(&token), "standup", "x", NOW)
            .expect("hand-built token verifies");
        assert!(auth.verified);
        assert_eq!(auth.claims.name, "Grace");
        assert_eq!(auth.claims.sub.as_deref(), Some("user-42"));
        assert!(auth.claims.publish, "publish defaults to true");
        assert!(auth.claims.subscribe, "subscribe defaults to true");
        assert_eq!(auth.claims.iat, None);
    }

    #[test]
    fn expired_token_is_rejected() {
        let mut c = claims("standup");
        c.exp = NOW;
        let token = mint(SECRET, &c).expect("mint");
        assert_eq!(
            verifier().authorize(Some(&token), "standup", "x", NOW),
            Err(TokenError::Expired {
                exp: NOW,
                now: NOW,
                leeway: 0
            })
        );
        // One second earlier it was still fine.
        assert!(verifier()
            .authorize(Some(&token), "standup", "x", NOW - 1)
            .is_ok());
    }

    #[test]
    fn leeway_extends_expiry_and_nbf() {
        let mut c = claims("standup");
        c.exp = NOW - 10;
        c.nbf = Some(NOW + 10);
        let token = mint(SECRET, &c).expect("mint");
        assert_eq!(DEFAULT_LEEWAY_SECS, 0);
        let lenient = verifier().with_leeway(30);
        assert_eq!(lenient.leeway(), 30);
        // exp + 30 > now and now + 30 >= nbf.
        assert!(lenient.authorize(Some(&token), "standup", "x", NOW).is_ok());
        assert!(matches!(
            lenient.authorize(Some(&token), "standup", "x", NOW + 20),
            Err(TokenError::Expired { .. })
        ));
        assert!(matches!(
            verifier().authorize(Some(&token), "standup", "x", NOW),
            Err(TokenError::Expired { .. })
        ));
    }

    #[test]
    fn not_yet_valid_token_is_rejected() {
        let mut c = claims("standup");
        c.nbf = Some(NOW + 5);
        let token = mint(SECRET, &c).expect("mint");
        assert_eq!(
            verifier().authorize(Some(&token), "standup", "x", NOW),
            Err(TokenError::NotYetValid {
                nbf: NOW + 5,
                now: NOW,
                leeway: 0
            })
        );
        assert!(verifier()
            .authorize(Some(&token), "standup", "x", NOW + 5)
            .is_ok());
    }

    #[test]
    fn far_future_expiry_does_not_overflow() {
        let mut c = claims("standup");
        c.exp = u64::MAX;
        let token = mint(SECRET, &c).expect("mint");
        let v = verifier().with_leeway(u64::MAX);
        assert!(v.authorize(Some(&token), "standup", "x", NOW).is_ok());
    }

    #[test]
    fn wrong_room_is_rejected() {
        let token = mint(SECRET, &claims("standup")).expect("mint");
        assert_eq!(
            verifier().authorize(Some(&token), "retro", "x", NOW),
            Err(TokenError::WrongRoom {
                token_room: "standup".into(),
                requested: "retro".into()
            })
        );
    }

    #[test]
    fn tampered_payload_is_rejected() {
        let token = mint(SECRET, &claims("standup")).expect("mint");
        let parts: Vec<&str> = token.split('.').collect();
        let forged_payload = claims("board-meeting").to_json().into_bytes();
        let forged = format!("{}.{}.{}", parts[0], b64url(&forged_payload), parts[2]);
        assert_eq!(
            verifier().authorize(Some(&forged), "board-meeting", "x", NOW),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn tampered_signature_is_rejected() {
        let token = mint(SECRET, &claims("standup")).expect("mint");
        let (rest, sig) = token.rsplit_once('.').expect("three parts");
        let mut sig = sig.to_owned();
        let first = if sig.starts_with('A') { "B" } else { "A" };
        sig.replace_range(0..1, first);
        let forged = format!("{rest}.{sig}");
        assert_eq!(
            verifier().authorize(Some(&forged), "standup", "x", NOW),
            Err(TokenError::BadSignature)
        );
        let no_sig = format!("{rest}.");
        assert_eq!(
            verifier().authorize(Some(&no_sig), "standup", "x", NOW),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn wrong_secret_is_rejected() {
        let token = mint(b"some-other-secret", &claims("standup")).expect("mint");
        assert_eq!(
            verifier().authorize(Some(&token), "standup", "x", NOW),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn alg_none_is_rejected() {
        let payload = claims("standup").to_json();
        let header = b64url(br#"{"alg":"none","typ":"JWT"}"#);
        for token in [
            format!("{header}.{}.", b64url(payload.as_bytes())),
            format!("{header}.{}", b64url(payload.as_bytes())),
        ] {
            assert_eq!(
                verifier().authorize(Some(&token), "standup", "x", NOW),
                Err(TokenError::UnsupportedAlgorithm { alg: "none".into() })
            );
        }
    }

    #[test]
    fn other_algorithms_are_rejected() {
        let payload = claims("standup").to_json();
        for alg in ["HS512", "RS256", "EdDSA", "hs256"] {
            let header = format!(r#"{{"alg":"{alg}"}}"#);
            // Even a correct HMAC-SHA256 does not help under another label.
            let token = hand_made_token(SECRET, &header, &payload);
            assert_eq!(
                verifier().authorize(Some(&token), "standup", "x", NOW),
                Err(TokenError::UnsupportedAlgorithm { alg: alg.into() })
            );
        }
    }

    #[test]
    fn critical_header_extensions_are_rejected() {
        let payload = claims("standup").to_json();
        let token = hand_made_token(
            SECRET,
            r#"{"alg":"HS256","crit":["exp"],"exp":1}"#,
            &payload,
        );
        assert!(matches!(
            verifier().authorize(Some(&token), "standup", "x", NOW),
            Err(TokenError::Malformed { .. })
        ));
    }

    #[test]
    fn missing_token_is_rejected_in_verified_mode() {
        assert_eq!(
            verifier().authorize(None, "standup", "x", NOW),
            Err(TokenError::Missing)
        );
        assert_eq!(
            verifier().authorize(Some(""), "standup", "x", NOW),
            Err(TokenError::Missing)
        );
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        let v = verifier();
        for junk in [
            "not-a-jwt",
            "a.b",
            "a.b.c.d",
            "%%%.e30.sig",
            "e30.e30.c2ln", // header `{}` has no alg
        ] {
            assert!(
                matches!(
                    v.authorize(Some(junk), "standup", "x", NOW),
                    Err(TokenError::Malformed { .. })
                ),
                "{junk} should be malformed"
            );
        }
    }

    #[test]
    fn signed_tokens_with_bad_claims_are_malformed() {
        for payload in [
            r#"{"room":"standup","name":"Ada"}"#.to_owned(), // no exp
            format!(r#"{{"room":"standup","exp":{}}}"#, NOW + 1), // no name
            format!(r#"{{"room":"standup","name":"Ada","exp":{}.5}}"#, NOW + 1),
            r#"{"room":"standup","name":"Ada","exp":-1}"#.to_owned(),
            r#"["room"]"#.to_owned(),
            "not json".to_owned(),
        ] {
            let token = hand_made_token(SECRET, r#"{"alg":"HS256"}"#, &payload);
            let err = verifier()
                .authorize(Some(&token), "standup", "x", NOW)
                .expect_err(&payload);
            assert!(
                matches!(err, TokenError::Malformed { .. }),
                "{payload}: {err:?}"
            );
        }
    }

    #[test]
    fn open_mode_admits_everyone() {
        let v = TokenVerifier::new(None).expect("open");
        assert!(v.is_open());
        for token in [None, Some("garbage"), Some("")] {
            let auth = v
                .authorize(token, "standup", "Linus", NOW)
                .expect("open mode admits");
            assert!(!auth.verified);
            assert_eq!(auth.claims, JoinClaims::new("standup", "Linus", u64::MAX));
            assert!(auth.claims.publish && auth.claims.subscribe);
        }
    }

    #[test]
    fn empty_secret_is_refused() {
        assert_eq!(
            TokenVerifier::new(Some(b"")).map(|v| v.is_open()),
            Err(TokenError::EmptySecret)
        );
        assert_eq!(mint(b"", &claims("standup")), Err(TokenError::EmptySecret));
        assert!(!TokenVerifier::new(Some(SECRET)).expect("secret").is_open());
    }

    #[test]
    fn debug_does_not_leak_the_secret() {
        let shown = format!("{:?}", verifier());
        assert!(shown.contains("verified"));
        assert!(!shown.contains("a-test-secret"));
    }

    #[test]
    fn claims_serialise_with_standard_names_and_defaults() {
        let json: serde_json::Value =
            serde_json::from_str(&JoinClaims::new("r", "n", 7).to_json()).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"room":"r","name":"n","exp":7,"publish":true,"subscribe":true})
        );
        let parsed = JoinClaims::from_json(
            &JsonObject::parse(br#"{"room":"r","name":"n","exp":7,"publish":false}"#)
                .expect("object"),
        )
        .expect("claims");
        assert!(!parsed.publish);
        assert!(parsed.subscribe);
    }

    #[test]
    fn every_claim_reads_back_as_minted() {
        let full = JoinClaims {
            sub: Some("u-1".to_owned()),
            iat: Some(NOW),
            nbf: Some(NOW - 5),
            publish: false,
            role: Role::Host,
            ..claims("standup")
        };
        for claims in [full, JoinClaims::new("r", "n", 7)] {
            let object = JsonObject::parse(claims.to_json().as_bytes()).expect("object");
            assert_eq!(JoinClaims::from_json(&object), Ok(claims));
        }
    }

    #[test]
    fn the_role_claim_is_host_or_participant_and_nothing_else() {
        let read = |json: &str| {
            JoinClaims::from_json(&JsonObject::parse(json.as_bytes()).expect("object"))
                .map(|c| c.role)
        };
        let base = r#""room":"r","name":"n","exp":7"#;
        assert_eq!(read(&format!("{{{base}}}")), Ok(Role::Participant));
        assert_eq!(
            read(&format!(r#"{{{base},"role":"participant"}}"#)),
            Ok(Role::Participant)
        );
        assert_eq!(
            read(&format!(r#"{{{base},"role":"host"}}"#)),
            Ok(Role::Host)
        );
        let err = read(&format!(r#"{{{base},"role":"admin"}}"#)).expect_err("refused");
        assert!(err.to_string().contains("role"), "{err}");
        assert!(read(&format!(r#"{{{base},"role":true}}"#)).is_err());
    }

    #[test]
    fn a_claim_of_the_wrong_type_is_named() {
        let token = hand_made_token(
            SECRET,
            r#"{"alg":"HS256"}"#,
            r#"{"room":"standup","name":"Ada","exp":"tomorrow"}"#,
        );
        match verifier().authorize(Some(&token), "standup", "x", NOW) {
            Err(TokenError::Malformed { reason }) => assert!(reason.contains("`exp`"), "{reason}"),
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn errors_explain_the_fix() {
        let msg = TokenError::Missing.to_string();
        assert!(msg.contains("token is required"));
        let msg = TokenError::BadSignature.to_string();
        assert!(msg.contains("same join secret"));
    }

    #[test]
    fn a_verifying_host_takes_only_trunks_from_relays_with_its_secret() {
        let edge = TokenVerifier::with_secret(SECRET).unwrap();
        let same = TokenVerifier::with_secret(SECRET).unwrap();
        let other = TokenVerifier::with_secret(b"another-secret-of-32-bytes-long!").unwrap();
        let open = TokenVerifier::open();
        let proof = same.trunk_proof("standup");
        assert_eq!(edge.admit_trunk("standup", proof.as_deref()), Ok(()));
        assert_eq!(
            edge.admit_trunk("standup", open.trunk_proof("standup").as_deref()),
            Err(TrunkRefusal::OpenRelay)
        );
        assert_eq!(
            edge.admit_trunk("standup", Some("")),
            Err(TrunkRefusal::OpenRelay)
        );
        assert_eq!(
            edge.admit_trunk("standup", other.trunk_proof("standup").as_deref()),
            Err(TrunkRefusal::OtherSecret)
        );
        // A proof is bound to its room.
        assert_eq!(
            edge.admit_trunk("board", proof.as_deref()),
            Err(TrunkRefusal::OtherSecret)
        );
    }

    #[test]
    fn an_open_host_takes_any_trunk() {
        let open = TokenVerifier::open();
        assert_eq!(open.trunk_proof("standup"), None);
        assert_eq!(open.admit_trunk("standup", None), Ok(()));
        assert_eq!(open.admit_trunk("standup", Some("junk")), Ok(()));
    }

    #[test]
    fn trunk_refusals_say_what_to_change() {
        assert!(TrunkRefusal::OpenRelay
            .to_string()
            .contains("--token-secret"));
        assert!(TrunkRefusal::OtherSecret
            .to_string()
            .contains("same secret"));
    }
}
