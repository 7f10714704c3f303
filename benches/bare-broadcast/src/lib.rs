//! The baseline the edge's engine is measured against: one Durable Object
//! per room, hibernatable WebSockets, and every binary message sent as is
//! to every other socket in the room. No protocol, no policy, no limits.

use worker::{
    durable_object, event, Context, DurableObject, Env, Request, Response, Result, State,
    WebSocket, WebSocketIncomingMessage, WebSocketPair,
};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let path = req.path();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["healthz"] => Response::ok("ok"),
        ["api", "rooms", room, "ws"] => {
            let stub = env
                .durable_object("ROOMS")?
                .id_from_name(room)?
                .get_stub()?;
            stub.fetch_with_request(req).await
        }
        _ => Response::error("not found", 404),
    }
}

/// A room that only broadcasts.
#[durable_object]
pub struct BareRoom {
    state: State,
}

impl DurableObject for BareRoom {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, _req: Request) -> Result<Response> {
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        Response::from_websocket(pair.client)
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> Result<()> {
        if let WebSocketIncomingMessage::Binary(data) = message {
            for other in self.state.get_websockets() {
                if other != ws {
                    let _ = other.send_with_bytes(&data);
                }
            }
        }
        Ok(())
    }

    async fn websocket_close(
        &self,
        _ws: WebSocket,
        _code: usize,
        _reason: String,
        _was_clean: bool,
    ) -> Result<()> {
        Ok(())
    }

    async fn websocket_error(&self, _ws: WebSocket, _error: worker::Error) -> Result<()> {
        Ok(())
    }

    async fn alarm(&self) -> Result<Response> {
        Response::ok("no alarms")
    }
}
