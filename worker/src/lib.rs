//! The edgecall Worker: routes requests, checks join tokens, and hands each
//! meeting's WebSockets to its `Room` Durable Object. It holds no room
//! logic; the web client is served from static assets by the platform.

mod api;
mod errors;

use worker::{event, Context, Env, Request, Response, Result};

/// Re-exported so the Durable Object class is part of this Worker's module.
pub use edgecall_durable_room::Room;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    api::route(req, env).await
}
