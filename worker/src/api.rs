//! HTTP routes:
//! - `GET /api/rooms/<room>/ws` — WebSocket into the room (`?token=` when a
//!   secret is set; `?name=` in open mode), checked before any Durable
//!   Object is touched: 426 without Upgrade, 400 on a bad room id or name,
//!   401 on a bad, expired or wrong-room token, 429 when the client's
//!   address opened too many connections lately (the `JOIN_LIMITER` rate
//!   limit binding, per `CF-Connecting-IP`);
//! - `GET /api/rooms/<room>` — `{room, participants, …}` from the room,
//!   for the operator only (Bearer `API_KEY`; 403 without one configured);
//! - `GET /api/rooms/<room>/metrics` — the room's metrics in the Prometheus
//!   text format, for the operator only (same check);
//! - `GET /api/rooms/<room>/trunk?host=<relay-id>` — a relay's trunk
//!   (WebSocket, `Authorization: Bearer <TRUNK_SECRET>`), a link that carries
//!   the relay's participants of the room; 401 without the right secret;
//!   403 when this edge verifies join tokens and the relay does not prove
//!   (header `x-edgecall-token-proof`) that it verifies them with the same
//!   secret;
//! - `POST /api/token` — mint a join token (Bearer `API_KEY`);
//! - `GET /healthz` — `ok` when the Room namespace answers (a probe
//!   object's `/health`), else 503 and the reason.

use std::sync::atomic::{AtomicBool, Ordering};

use edgecall_durable_room::{MEMBER_HEADER, ROOM_HEADER, TRUNK_HOST_HEADER};
use edgecall_proto::json::{JsonError, JsonObject, JsonWriter};
use edgecall_proto::room::{validate_name, validate_room_id, Member, RoomConfig};
use edgecall_proto::token::{self, JoinClaims, TokenVerifier, TRUNK_TOKEN_PROOF_HEADER};
use subtle::ConstantTimeEq;
use worker::{web_sys, Env, Headers, Method, Request, Response, Result};

use edgecall_durable_room::http::json_response;

use crate::errors::json_error;

/// Durable Object namespace binding (wrangler.toml).
const ROOMS_BINDING: &str = "ROOMS";
/// Rate limit binding for new room connections per client address
/// (wrangler.toml `[[ratelimits]]`).
const JOIN_LIMITER_BINDING: &str = "JOIN_LIMITER";
/// Comma-separated client addresses the join limit does not apply to
/// (e.g. a monitoring probe).
const JOIN_LIMIT_EXEMPT_VAR: &str = "JOIN_LIMIT_EXEMPT_IPS";
/// The object `/healthz` asks: not a valid room id, so no meeting has it.
const HEALTH_PROBE_OBJECT: &str = "healthz:probe";
/// Default and longest lifetime of a minted token.
const DEFAULT_TOKEN_TTL_SECS: u64 = 3_600;
const MAX_TOKEN_TTL_SECS: u64 = 7 * 24 * 3_600;

static OPEN_MODE_ANNOUNCED: AtomicBool = AtomicBool::new(false);
static NO_JOIN_LIMITER_ANNOUNCED: AtomicBool = AtomicBool::new(false);

pub(crate) async fn route(req: Request, env: Env) -> Result<Response> {
    let path = req.path();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (req.method(), segments.as_slice()) {
        (Method::Get, ["healthz"]) => health(&env).await,
        (Method::Get, ["api", "rooms", room, "ws"]) => join(req, &env, room).await,
        (Method::Get, ["api", "rooms", room, "trunk"]) => trunk(req, &env, room).await,
        (Method::Get, ["api", "rooms", room]) => {
            operator_fetch(&req, &env, room, "https://room.internal/info").await
        }
        (Method::Get, ["api", "rooms", room, "metrics"]) => {
            operator_fetch(&req, &env, room, "https://room.internal/metrics").await
        }
        (Method::Post, ["api", "token"]) => mint_token(req, &env).await,
        (Method::Get, ["client-config.json"]) => client_config(&env),
        (_, ["api", ..]) | (_, ["healthz"]) => json_error(404, "no such endpoint"),
        _ => json_error(404, "not found"),
    }
}

/// The web client's page configuration: with `RELAY_DIRECTORY_URL` set,
/// the client asks that directory for a relay (WebTransport) before falling
/// back to this edge; without it, `{}` leaves the client on its defaults
/// (WebSocket to this edge).
fn client_config(env: &Env) -> Result<Response> {
    let directory_url = secret(env, "RELAY_DIRECTORY_URL");
    json_response(
        JsonWriter::new()
            .string_if("directory_url", directory_url.as_deref())
            .finish(),
        200,
    )
}

fn secret(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()
        .filter(|s| !s.is_empty())
}

fn verifier(env: &Env) -> Result<TokenVerifier> {
    let secret = secret(env, "JOIN_TOKEN_SECRET");
    if secret.is_none() && !OPEN_MODE_ANNOUNCED.swap(true, Ordering::Relaxed) {
        worker::console_warn!(
            "JOIN_TOKEN_SECRET is not set: rooms are OPEN, anyone can join under any name (dev mode)"
        );
    }
    TokenVerifier::new(secret.as_deref().map(str::as_bytes))
        .map_err(|e| worker::Error::RustError(e.to_string()))
}

fn now_secs() -> u64 {
    worker::Date::now().as_millis() / 1_000
}

async fn join(req: Request, env: &Env, room: &str) -> Result<Response> {
    let upgrade = req.headers().get("Upgrade")?.unwrap_or_default();
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return json_error(426, "this endpoint needs a WebSocket upgrade");
    }
    if !within_join_limit(&req, env).await? {
        return json_error(
            429,
            "too many new connections from your address; wait a few seconds and retry",
        );
    }
    if let Err(err) = validate_room_id(room) {
        return json_error(400, &err.to_string());
    }
    // The raw URL, split by hand: parsing it with `url` would add its IDNA
    // tables to the Worker.
    let raw_url = req.inner().url();
    let query_string = raw_url.split_once('?').map_or("", |(_, q)| q);
    let query_string = query_string
        .split_once('#')
        .map_or(query_string, |(q, _)| q);
    let query = |key: &str| {
        form_urlencoded::parse(query_string.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    let token = query("token");
    let name = query("name").unwrap_or_default();
    let authorized = match verifier(env)?.authorize(token.as_deref(), room, &name, now_secs()) {
        Ok(authorized) => authorized,
        Err(err) => return json_error(401, &err.to_string()),
    };
    let member = Member::from(&authorized);
    if let Err(err) = validate_name(&member.name, RoomConfig::default().max_name_chars) {
        return json_error(400, &err.to_string());
    }
    let headers = Headers::new();
    headers.set("Upgrade", "websocket")?;
    headers.set(ROOM_HEADER, room)?;
    headers.set(MEMBER_HEADER, &member.to_header())?;
    room_stub(env, room)?
        .fetch_with_request(internal_request("https://room.internal/ws", &headers)?)
        .await
}

/// Charges one new connection to the client's address. Checked before the
/// token, so a flood of joins costs no signature checks and never reaches
/// a Durable Object.
async fn within_join_limit(req: &Request, env: &Env) -> Result<bool> {
    let Ok(limiter) = env.rate_limiter(JOIN_LIMITER_BINDING) else {
        if !NO_JOIN_LIMITER_ANNOUNCED.swap(true, Ordering::Relaxed) {
            worker::console_warn!(
                "no {JOIN_LIMITER_BINDING} rate limit binding: new connections are not limited per address"
            );
        }
        return Ok(true);
    };
    let address = req
        .headers()
        .get("CF-Connecting-IP")?
        .unwrap_or_else(|| "unknown".to_owned());
    let exempt = secret(env, JOIN_LIMIT_EXEMPT_VAR).is_some_and(|list| {
        list.split(',')
            .any(|entry| entry.trim() == address.as_str())
    });
    if exempt {
        return Ok(true);
    }
    limit(limiter, &address).await
}

/// `limiter.limit({key})`'s `success`, read from the JS answer directly:
/// `RateLimiter::limit` would deserialise it with serde-wasm-bindgen, the
/// Worker's last use of it for reading (see `edgecall_proto::json`).
async fn limit(limiter: worker::RateLimiter, key: &str) -> Result<bool> {
    use worker::js_sys::{Object, Reflect};
    use worker::wasm_bindgen::{JsCast, JsValue};
    let raw: worker::worker_sys::RateLimiter = JsValue::from(limiter).unchecked_into();
    let options = Object::new();
    Reflect::set(&options, &JsValue::from_str("key"), &JsValue::from_str(key))?;
    let outcome = worker::wasm_bindgen_futures::JsFuture::from(raw.limit(options)?).await?;
    Reflect::get(&outcome, &JsValue::from_str("success"))?
        .as_bool()
        .ok_or_else(|| {
            worker::Error::RustError("the rate limiter answered without `success`".into())
        })
}

/// The bearer token of a request, if any.
fn bearer(req: &Request) -> Result<String> {
    Ok(req
        .headers()
        .get("Authorization")?
        .unwrap_or_default()
        .strip_prefix("Bearer ")
        .map(str::to_owned)
        .unwrap_or_default())
}

/// Constant-time comparison of a presented secret with the configured one.
fn secret_matches(presented: &str, expected: &str) -> bool {
    bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

async fn trunk(req: Request, env: &Env, room: &str) -> Result<Response> {
    let upgrade = req.headers().get("Upgrade")?.unwrap_or_default();
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return json_error(426, "this endpoint needs a WebSocket upgrade");
    }
    if let Err(err) = validate_room_id(room) {
        return json_error(400, &err.to_string());
    }
    let Some(trunk_secret) = secret(env, "TRUNK_SECRET") else {
        return json_error(401, "trunks are disabled: set the TRUNK_SECRET secret");
    };
    if !secret_matches(&bearer(&req)?, &trunk_secret) {
        return json_error(
            401,
            "missing or wrong trunk secret (Authorization: Bearer <TRUNK_SECRET>)",
        );
    }
    // A relay that admits anyone (or checks other tokens) must not carry
    // its participants into a room this edge guards with join tokens.
    let proof = req.headers().get(TRUNK_TOKEN_PROOF_HEADER)?;
    if let Err(refusal) = verifier(env)?.admit_trunk(room, proof.as_deref()) {
        return json_error(403, &refusal.to_string());
    }
    let raw_url = req.inner().url();
    let query = raw_url.split_once('?').map_or("", |(_, q)| q);
    let peer = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "host")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if let Err(err) = validate_room_id(&peer) {
        return json_error(400, &format!("bad relay host id: {err}"));
    }
    let headers = Headers::new();
    headers.set("Upgrade", "websocket")?;
    headers.set(ROOM_HEADER, room)?;
    headers.set(TRUNK_HOST_HEADER, &peer)?;
    room_stub(env, room)?
        .fetch_with_request(internal_request("https://room.internal/trunk", &headers)?)
        .await
}

/// Operator-only: asks the room object for `url` (its info or metrics).
/// The key is checked before the Durable Object is touched, so anonymous
/// callers cannot instantiate objects by asking about made-up rooms.
async fn operator_fetch(req: &Request, env: &Env, room: &str, url: &str) -> Result<Response> {
    let Some(api_key) = secret(env, "API_KEY") else {
        return json_error(
            403,
            "room info and metrics are for the operator: set the API_KEY secret and send Authorization: Bearer <API_KEY>",
        );
    };
    if !secret_matches(&bearer(req)?, &api_key) {
        return json_error(
            401,
            "missing or wrong API key (Authorization: Bearer <API_KEY>)",
        );
    }
    if let Err(err) = validate_room_id(room) {
        return json_error(400, &err.to_string());
    }
    let headers = Headers::new();
    headers.set(ROOM_HEADER, room)?;
    room_stub(env, room)?
        .fetch_with_request(internal_request(url, &headers)?)
        .await
}

/// `ok` when a probe object of the Room namespace answers; 503 with the
/// reason otherwise (no binding, the object fails or answers an error).
async fn health(env: &Env) -> Result<Response> {
    let probe = async {
        let headers = Headers::new();
        room_stub(env, HEALTH_PROBE_OBJECT)?
            .fetch_with_request(internal_request("https://room.internal/health", &headers)?)
            .await
    };
    match probe.await {
        Ok(resp) if resp.status_code() == 200 => Response::ok("ok"),
        Ok(resp) => Response::error(
            format!(
                "unhealthy: the Room namespace's probe object answered {}",
                resp.status_code()
            ),
            503,
        ),
        Err(err) => Response::error(
            format!("unhealthy: the Room namespace does not answer: {err}"),
            503,
        ),
    }
}

/// A GET request to the room object. Built with the platform's own
/// `Request` constructor: `worker::RequestInit` would pull float formatting
/// and `cf` property code into the Worker.
fn internal_request(url: &str, headers: &Headers) -> Result<Request> {
    let init = web_sys::RequestInit::new();
    init.set_headers(&headers.0);
    let req = web_sys::Request::new_with_str_and_init(url, &init)?;
    Ok(Request::from(req))
}

fn room_stub(env: &Env, room: &str) -> Result<worker::Stub> {
    env.durable_object(ROOMS_BINDING)?
        .id_from_name(room)?
        .get_stub()
}

/// Body of `POST /api/token`.
struct TokenRequest {
    room: String,
    name: String,
    ttl_secs: Option<u64>,
    publish: Option<bool>,
    subscribe: Option<bool>,
    role: token::Role,
}

impl TokenRequest {
    fn parse(body: &str) -> std::result::Result<Self, JsonError> {
        let object = JsonObject::parse(body.as_bytes())?;
        Ok(Self {
            room: object.required_string("room")?,
            name: object.required_string("name")?,
            ttl_secs: object.uint("ttl_secs")?,
            publish: object.boolean("publish")?,
            subscribe: object.boolean("subscribe")?,
            role: token::Role::parse(object.string("role")?.as_deref())?,
        })
    }
}

async fn mint_token(mut req: Request, env: &Env) -> Result<Response> {
    let (Some(api_key), Some(join_secret)) =
        (secret(env, "API_KEY"), secret(env, "JOIN_TOKEN_SECRET"))
    else {
        return json_error(
            503,
            "token minting is disabled: set the API_KEY and JOIN_TOKEN_SECRET secrets",
        );
    };
    if !secret_matches(&bearer(&req)?, &api_key) {
        return json_error(
            401,
            "missing or wrong API key (Authorization: Bearer <API_KEY>)",
        );
    }
    let body = req.text().await?;
    let body = match TokenRequest::parse(&body) {
        Ok(body) => body,
        Err(err) => {
            return json_error(
                400,
                &format!(
                    "expected JSON {{room, name, ttl_secs?, publish?, subscribe?, role?}}: {err}"
                ),
            )
        }
    };
    if let Err(err) = validate_room_id(&body.room) {
        return json_error(400, &err.to_string());
    }
    if let Err(err) = validate_name(&body.name, RoomConfig::default().max_name_chars) {
        return json_error(400, &err.to_string());
    }
    let ttl = body.ttl_secs.unwrap_or(DEFAULT_TOKEN_TTL_SECS);
    if ttl == 0 || ttl > MAX_TOKEN_TTL_SECS {
        return json_error(400, &format!("ttl_secs must be 1..={MAX_TOKEN_TTL_SECS}"));
    }
    let now = now_secs();
    let mut claims = JoinClaims::new(body.room, body.name, now + ttl);
    claims.iat = Some(now);
    claims.publish = body.publish.unwrap_or(true);
    claims.subscribe = body.subscribe.unwrap_or(true);
    claims.role = body.role;
    match token::mint(join_secret.as_bytes(), &claims) {
        Ok(token) => json_response(
            JsonWriter::new()
                .string("token", &token)
                .uint("expires_at", claims.exp)
                .finish(),
            200,
        ),
        Err(err) => json_error(500, &err.to_string()),
    }
}
