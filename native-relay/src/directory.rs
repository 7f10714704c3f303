//! The relay directory (the `edgecall-directory` Lambda's logic):
//! `GET /v1/rooms/<room>/relay` answers which relay a client should use for
//! a room.
//!
//! The directory never creates identity. When the deployment verifies join
//! tokens (a secret is configured), it answers only a caller presenting a
//! join token valid for that room (`?token=` or `Authorization: Bearer`), or
//! the operator's API key (`x-api-key`); anything else is a 401. Tokens are
//! minted by the operator's backend alone; the directory hands out a relay,
//! never a token. Without a secret the relays run open and so does the
//! directory.
//!
//! The relay is chosen by rendezvous (highest-random-weight) hashing of the
//! room id over the live relays in the [`Registry`]: every client of a room
//! lands on the same relay while the set of relays is stable, and when a
//! relay leaves only its own rooms move. Rooms still span relays through
//! NATS when clients are routed otherwise (edge trunk, stale answers).

use std::time::Duration;

use edgecall_proto::room::validate_room_id;
use edgecall_proto::token::TokenVerifier;
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::registry::{unix_now, Registry, RelayRecord, STALE_AFTER};

/// The header carrying the operator's API key.
pub const API_KEY_HEADER: &str = "x-api-key";

/// The rendezvous weight of `relay_id` for `room`: the first 8 bytes of
/// SHA-256(room ‖ 0x00 ‖ relay_id). Stable across processes and builds.
pub fn rendezvous_weight(room: &str, relay_id: &str) -> u64 {
    let digest = Sha256::new()
        .chain_update(room.as_bytes())
        .chain_update([0u8])
        .chain_update(relay_id.as_bytes())
        .finalize();
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(head)
}

/// The relay with the highest weight for `room` (ties broken by id), or
/// `None` when `relays` is empty.
pub fn choose<'a>(room: &str, relays: &'a [RelayRecord]) -> Option<&'a RelayRecord> {
    relays
        .iter()
        .max_by_key(|r| (rendezvous_weight(room, &r.id), r.id.as_str()))
}

/// Directory configuration (from the Lambda's environment).
#[derive(Clone)]
pub struct Directory {
    /// Where relays publish.
    pub registry: Registry,
    /// Checks callers' join tokens with the relays' secret (open when no
    /// secret is configured: the relays admit anyone then, too).
    verifier: TokenVerifier,
    /// The operator's key: a caller presenting it needs no join token.
    api_key: Option<Vec<u8>>,
    /// Records older than this are skipped.
    pub stale_after: Duration,
}

/// The answer to a successful lookup.
#[derive(Debug, Serialize)]
struct RelayAnswer<'a> {
    room: &'a str,
    relay_id: &'a str,
    webtransport_url: String,
    websocket_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    cert_sha256: Option<&'a str>,
}

impl Directory {
    /// A directory over `registry` with the default staleness. With a
    /// `token_secret` (the relays' HS256 secret) callers must present a join
    /// token for the room or `api_key`.
    pub fn new(
        registry: Registry,
        token_secret: Option<Vec<u8>>,
        api_key: Option<Vec<u8>>,
    ) -> Result<Self, edgecall_proto::token::TokenError> {
        let verifier = match token_secret.filter(|s| !s.is_empty()) {
            Some(secret) => TokenVerifier::with_secret(&secret)?,
            None => TokenVerifier::open(),
        };
        Ok(Self {
            registry,
            verifier,
            api_key: api_key.filter(|k| !k.is_empty()),
            stale_after: STALE_AFTER,
        })
    }

    /// Whether callers must prove they may join (a token secret is set).
    pub fn verifies(&self) -> bool {
        !self.verifier.is_open()
    }

    /// Admits the caller for `room`: anyone in open mode; otherwise the
    /// operator's API key or a join token valid for `room` now.
    fn admit(&self, request: &Request, room: &str) -> Result<(), (StatusCode, String)> {
        if !self.verifies() {
            return Ok(());
        }
        if let (Some(key), Some(presented)) = (&self.api_key, request.headers().get(API_KEY_HEADER))
        {
            if bool::from(key.as_slice().ct_eq(presented.as_bytes())) {
                return Ok(());
            }
            return Err((StatusCode::UNAUTHORIZED, "the API key is wrong".to_owned()));
        }
        let token = bearer_token(request).or_else(|| query_param(request, "token"));
        self.verifier
            .authorize(token.as_deref(), room, "", unix_now())
            .map(drop)
            .map_err(|err| {
                (
                    StatusCode::UNAUTHORIZED,
                    format!(
                        "{err}; the directory answers holders of a join token for this room \
                         (?token= or Authorization: Bearer) and the operator ({API_KEY_HEADER})"
                    ),
                )
            })
    }

    /// Handles one HTTP request (the Lambda handler). Never fails: every
    /// problem becomes a JSON `{"error": …}` response with a fitting status.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let started = std::time::Instant::now();
        let path = request.uri().path().to_owned();
        let response = match self.route(&request).await {
            Ok(response) => response,
            Err((status, message)) => error(status, &message),
        };
        tracing::info!(
            method = %request.method(),
            %path,
            status = response.status().as_u16(),
            micros = started.elapsed().as_micros() as u64,
            "directory request"
        );
        response
    }

    async fn route(&self, request: &Request) -> Result<Response<Body>, (StatusCode, String)> {
        let room = request
            .uri()
            .path()
            .strip_prefix("/v1/rooms/")
            .and_then(|rest| rest.strip_suffix("/relay"))
            .ok_or_else(|| {
                (
                    StatusCode::NOT_FOUND,
                    format!(
                        "no such endpoint {:?}; use GET /v1/rooms/<room>/relay?token=<join token>",
                        request.uri().path()
                    ),
                )
            })?;
        if request.method() != Method::GET {
            return Err((
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{} is not allowed here; use GET", request.method()),
            ));
        }
        validate_room_id(room).map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
        self.admit(request, room)?;

        let relays = self.registry.list().await.map_err(|err| {
            tracing::error!(error = %format!("{err:#}"), "reading the relay registry failed");
            (
                StatusCode::BAD_GATEWAY,
                "the relay registry could not be read; see the directory's logs".to_owned(),
            )
        })?;
        let now = unix_now();
        let live: Vec<RelayRecord> = relays
            .into_iter()
            .filter(|r| r.is_live(now, self.stale_after))
            .collect();
        let relay = choose(room, &live).ok_or_else(|| {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "no healthy relay: none has published within the last {} s; check that the relays run with --publish-to",
                    self.stale_after.as_secs()
                ),
            )
        })?;

        let answer = RelayAnswer {
            room,
            relay_id: &relay.id,
            webtransport_url: relay.webtransport_url(room),
            websocket_url: relay.websocket_url(room),
            cert_sha256: relay.cert_sha256.as_deref(),
        };
        Ok(json(StatusCode::OK, &answer))
    }
}

/// Serves `directory` over plain HTTP on `listener` until the process
/// ends: the same handler as the Lambda, for local development and the
/// tests that run the whole system (a relay set, a registry, a page). In
/// AWS the Lambda function URL fronts the handler instead, with its own
/// CORS settings; here every origin may read answers (they go only to
/// holders of a join token when the directory verifies tokens).
pub async fn serve_local(
    directory: Directory,
    listener: tokio::net::TcpListener,
) -> anyhow::Result<()> {
    let directory = std::sync::Arc::new(directory);
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let directory = directory.clone();
        async move {
            let (parts, _body) = request.into_parts();
            let response = directory
                .handle(Request::from_parts(parts, Body::Empty))
                .await;
            let (mut parts, body) = response.into_parts();
            parts.headers.insert(
                http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
                http::HeaderValue::from_static("*"),
            );
            let bytes = match body {
                Body::Text(text) => text.into_bytes(),
                Body::Binary(bytes) => bytes,
                _ => Vec::new(),
            };
            axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
        }
    });
    axum::serve(listener, app)
        .await
        .map_err(|err| anyhow::anyhow!("serving the directory: {err}"))
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer_token(request: &Request) -> Option<String> {
    let value = request.headers().get(http::header::AUTHORIZATION)?;
    let value = value.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

fn query_param(request: &Request, key: &str) -> Option<String> {
    let query = request.uri().query()?;
    form_urlencoded_pairs(query)
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// `application/x-www-form-urlencoded` pairs of a query string.
fn form_urlencoded_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    url::form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned()))
}

fn json(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    // Answers depend on relay health and on who asks: never cache.
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}

fn error(status: StatusCode, message: &str) -> Response<Body> {
    json(status, &serde_json::json!({ "error": message }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::tests::record;

    #[test]
    fn a_room_always_maps_to_the_same_relay_whatever_the_list_order() {
        let relays: Vec<_> = (0..5).map(|i| record(&format!("r{i}"), 1)).collect();
        let mut reversed = relays.clone();
        reversed.reverse();
        for room in ["a", "standup", "room-42"] {
            assert_eq!(
                choose(room, &relays).map(|r| &r.id),
                choose(room, &reversed).map(|r| &r.id)
            );
        }
        assert!(choose("a", &[]).is_none());
    }

    #[test]
    fn removing_a_relay_moves_only_its_own_rooms() {
        let relays: Vec<_> = (0..4).map(|i| record(&format!("r{i}"), 1)).collect();
        let without_r2: Vec<_> = relays.iter().filter(|r| r.id != "r2").cloned().collect();
        for i in 0..500 {
            let room = format!("room-{i}");
            let before = &choose(&room, &relays).unwrap().id;
            let after = &choose(&room, &without_r2).unwrap().id;
            if before != "r2" {
                assert_eq!(before, after, "{room} moved off a surviving relay");
            }
        }
    }

    #[test]
    fn rooms_spread_roughly_evenly_over_relays() {
        let relays: Vec<_> = (0..4).map(|i| record(&format!("r{i}"), 1)).collect();
        let mut counts = std::collections::HashMap::new();
        for i in 0..4000 {
            *counts
                .entry(choose(&format!("room-{i}"), &relays).unwrap().id.clone())
                .or_insert(0u32) += 1;
        }
        for relay in &relays {
            let n = counts.get(&relay.id).copied().unwrap_or(0);
            assert!((800..1200).contains(&n), "{}: {n} of 4000 rooms", relay.id);
        }
    }

    #[test]
    fn weights_are_pinned_so_hash_changes_are_deliberate() {
        // Relays and directory instances of different builds must agree,
        // or one room's clients would be split across relays.
        assert_eq!(
            rendezvous_weight("standup", "i-0abc"),
            15_968_641_645_776_393_983
        );
        assert_ne!(
            rendezvous_weight("standup", "i-0abc"),
            rendezvous_weight("standup", "i-0abd")
        );
    }
}
