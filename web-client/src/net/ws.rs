//! WebSocket transport.

use std::cell::Cell;
use std::rc::Rc;

use futures::channel::oneshot;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

use super::{Inbound, Sink};
use crate::js;

/// How long the socket may take to open.
const OPEN_TIMEOUT_MS: u32 = 10_000;
/// Video is dropped (not queued) while this much is waiting to be sent.
const MAX_BUFFERED_BYTES: u32 = 512 * 1024;

/// An open WebSocket.
pub struct WsConn {
    socket: WebSocket,
    closing: Rc<Cell<bool>>,
}

impl WsConn {
    /// Dials `url` and waits until the socket is open.
    pub async fn open(url: &str, sink: Sink) -> Result<Self, String> {
        let socket = WebSocket::new(url).map_err(|e| js::describe(&e))?;
        socket.set_binary_type(BinaryType::Arraybuffer);
        let (opened_tx, opened_rx) = oneshot::channel::<Result<(), String>>();
        let opened_tx = Rc::new(Cell::new(Some(opened_tx)));
        let closing = Rc::new(Cell::new(false));

        let tx = opened_tx.clone();
        socket.set_onopen(Some(&js::callback0(move || {
            if let Some(tx) = tx.take() {
                let _ = tx.send(Ok(()));
            }
        })));
        let on_message_sink = sink.clone();
        socket.set_onmessage(Some(&js::callback(move |event: MessageEvent| {
            let data = event.data();
            if data.is_instance_of::<js_sys::ArrayBuffer>() {
                on_message_sink(Inbound::Message(js::bytes(&data)));
            } else if data.as_string().as_deref() == Some(edgecall_proto::KEEPALIVE_PONG) {
                on_message_sink(Inbound::KeepaliveAnswer);
            }
        })));
        let tx = opened_tx.clone();
        let closed_by_us = closing.clone();
        socket.set_onclose(Some(&js::callback(move |event: CloseEvent| {
            let reason = if event.reason().is_empty() {
                format!("the WebSocket closed (code {})", event.code())
            } else {
                format!(
                    "the WebSocket closed: {} (code {})",
                    event.reason(),
                    event.code()
                )
            };
            match tx.take() {
                Some(tx) => {
                    let _ = tx.send(Err(reason));
                }
                None if !closed_by_us.get() => sink(Inbound::Closed(reason)),
                None => {}
            }
        })));

        let opened = async { opened_rx.await.unwrap_or_else(|_| Err("cancelled".into())) };
        let result = js::timeout(
            OPEN_TIMEOUT_MS,
            "timed out opening the WebSocket".to_owned(),
            opened,
        )
        .await;
        match result {
            Ok(()) => Ok(Self { socket, closing }),
            Err(err) => {
                closing.set(true);
                let _ = socket.close();
                Err(err)
            }
        }
    }

    /// Sends one binary message.
    pub fn send(&self, data: &[u8]) {
        if let Err(err) = self.socket.send_with_u8_array(data) {
            js::warn(&format!(
                "edgecall: WebSocket send failed: {}",
                js::describe(&err)
            ));
        }
    }

    /// Sends one text message.
    pub fn send_text(&self, text: &str) {
        if let Err(err) = self.socket.send_with_str(text) {
            js::warn(&format!(
                "edgecall: WebSocket send failed: {}",
                js::describe(&err)
            ));
        }
    }

    /// Sends media unless video would queue behind a backlog.
    pub fn send_media(&self, data: &[u8], audio: bool) -> bool {
        if !audio && self.socket.buffered_amount() > MAX_BUFFERED_BYTES {
            return false;
        }
        self.send(data);
        true
    }

    /// Closes with 1000.
    pub fn close(&self) {
        self.closing.set(true);
        let _ = self.socket.close_with_code_and_reason(1000, "left");
    }
}

impl Drop for WsConn {
    fn drop(&mut self) {
        self.socket.set_onmessage(None);
    }
}
