//! WebTransport transport (Chromium), pinned to a self-signed relay
//! certificate through `serverCertificateHashes` when a hash is known.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::WritableStreamDefaultWriter;

use super::{Inbound, Sink, MAX_MESSAGE_BYTES};
use crate::config::{hash_bytes, CertHash};
use crate::ffi::{WebTransport, WebTransportBidi};
use crate::framing::{self, Deframer};
use crate::js;

/// How long the session may take to become ready.
const READY_TIMEOUT_MS: u32 = 10_000;

/// An open WebTransport session.
pub struct WtConn {
    transport: WebTransport,
    control: WritableStreamDefaultWriter,
    datagrams: WritableStreamDefaultWriter,
    /// We closed the session (its end is not news to the page).
    closing: Rc<Cell<bool>>,
    /// The session is over, whoever ended it: nothing more is written to
    /// it or its streams, and it is not closed again. (Writing into, or
    /// closing, a session the server has just closed is the one thing the
    /// page did when Chromium's renderer crashed during a relay drain.)
    ended: Rc<Cell<bool>>,
}

async fn certificate_hash(cert_hash: &CertHash) -> Result<Option<Vec<u8>>, String> {
    let hex = match cert_hash {
        CertHash::Known(hex) => hex.clone(),
        CertHash::Trusted => return Ok(None),
        CertHash::Fetch(url) => match js::fetch_text(url).await {
            Ok((200, body)) => body.trim().to_owned(),
            Ok((status, _)) => {
                return Err(format!(
                    "the relay's certificate hash at {url} answered HTTP {status}"
                ))
            }
            Err(err) => {
                return Err(format!(
                    "cannot fetch the relay's certificate hash from {url}: {err}"
                ))
            }
        },
    };
    hash_bytes(&hex).map(Some).map_err(|e| e.to_string())
}

async fn with_timeout<T>(
    ms: u32,
    what: &str,
    future: impl std::future::Future<Output = Result<T, JsValue>>,
) -> Result<T, String> {
    let work = async { future.await.map_err(|e| js::describe(&e)) };
    js::timeout(ms, format!("timed out waiting for {what}"), work).await
}

impl WtConn {
    /// Opens a session to `url` and its control stream.
    pub async fn open(url: &str, cert_hash: &CertHash, sink: Sink) -> Result<Self, String> {
        let hash = certificate_hash(cert_hash).await?;
        let mut options = vec![("congestionControl", JsValue::from_str("low-latency"))];
        if let Some(hash) = hash {
            let entry = js::obj(&[
                ("algorithm", JsValue::from_str("sha-256")),
                ("value", Uint8Array::from(hash.as_slice()).into()),
            ]);
            options.push(("serverCertificateHashes", Array::of1(&entry).into()));
        }
        let transport = WebTransport::new(url, &js::obj(&options)).map_err(|e| js::describe(&e))?;
        // An unobserved rejection of `closed` would be reported as uncaught.
        let closed = transport.closed();
        let ready = with_timeout(READY_TIMEOUT_MS, "the WebTransport session", async {
            JsFuture::from(transport.ready()).await
        })
        .await;
        if let Err(err) = ready {
            let _ = transport.close(&js::obj(&[]));
            let _ = JsFuture::from(closed).await;
            return Err(format!("WebTransport to {url} failed: {err}"));
        }
        let bidi: WebTransportBidi = with_timeout(READY_TIMEOUT_MS, "the control stream", async {
            JsFuture::from(transport.create_bidirectional_stream()).await
        })
        .await?
        .unchecked_into();
        let control = bidi.writable().get_writer().map_err(|e| js::describe(&e))?;
        let datagrams = transport
            .datagrams()
            .writable()
            .get_writer()
            .map_err(|e| js::describe(&e))?;
        let closing = Rc::new(Cell::new(false));

        spawn_control_reader(bidi.readable(), sink.clone());
        spawn_datagram_reader(transport.datagrams().readable(), sink.clone());
        spawn_stream_acceptor(transport.incoming_unidirectional_streams(), sink.clone());
        let closing_flag = closing.clone();
        let ended = Rc::new(Cell::new(false));
        let ended_flag = ended.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let outcome = JsFuture::from(closed).await;
            ended_flag.set(true);
            let reason = match outcome {
                Ok(info) => {
                    let reason = js::get(&info, "reason").as_string().unwrap_or_default();
                    let code = js::get(&info, "closeCode").as_f64().unwrap_or(0.0);
                    format!("the WebTransport session closed (code {code}) {reason}")
                }
                Err(err) => format!("the WebTransport session failed: {}", js::describe(&err)),
            };
            if !closing_flag.get() {
                sink(Inbound::Closed(reason));
            }
        });
        Ok(Self {
            transport,
            control,
            datagrams,
            closing,
            ended,
        })
    }

    /// Writes one length-prefixed control message.
    pub fn send_control(&self, data: &[u8]) {
        if self.writable() {
            write_ignoring(&self.control, &framing::encode(data));
        }
    }

    /// Sends one datagram (may be lost).
    pub fn send_datagram(&self, data: &[u8]) {
        if self.writable() {
            write_ignoring(&self.datagrams, data);
        }
    }

    /// Whether the session still takes writes.
    fn writable(&self) -> bool {
        !self.closing.get() && !self.ended.get()
    }

    /// Sends one message on its own unidirectional stream.
    pub fn send_stream(&self, data: &[u8]) {
        if !self.writable() {
            return;
        }
        let transport = self.transport.clone();
        let chunk = Uint8Array::from(data);
        js::spawn("sending a video frame", async move {
            let stream: web_sys::WritableStream =
                JsFuture::from(transport.create_unidirectional_stream())
                    .await?
                    .unchecked_into();
            let writer = stream.get_writer()?;
            let write = writer.write_with_chunk(&chunk);
            let close = writer.close();
            JsFuture::from(write).await?;
            JsFuture::from(close).await?;
            Ok(())
        });
    }

    /// Closes the session.
    pub fn close(&self) {
        let already_over = self.ended.get() || self.closing.get();
        self.closing.set(true);
        if already_over {
            return;
        }
        let _ = self.transport.close(&js::obj(&[
            ("closeCode", JsValue::from_f64(0.0)),
            ("reason", JsValue::from_str("left")),
        ]));
    }
}

fn write_ignoring(writer: &WritableStreamDefaultWriter, data: &[u8]) {
    let promise = writer.write_with_chunk(&Uint8Array::from(data));
    wasm_bindgen_futures::spawn_local(async move {
        let _ = JsFuture::from(promise).await;
    });
}

fn spawn_control_reader(stream: web_sys::ReadableStream, sink: Sink) {
    wasm_bindgen_futures::spawn_local(async move {
        let reader = js::reader(&stream);
        let mut deframer = Deframer::default();
        while let Ok(Some(chunk)) = js::read(&reader).await {
            deframer.extend(&js::bytes(&chunk));
            loop {
                match deframer.next_message(MAX_MESSAGE_BYTES) {
                    Ok(Some(message)) => sink(Inbound::Message(message)),
                    Ok(None) => break,
                    Err(err) => {
                        sink(Inbound::Closed(err.to_string()));
                        return;
                    }
                }
            }
        }
    });
}

fn spawn_datagram_reader(stream: web_sys::ReadableStream, sink: Sink) {
    wasm_bindgen_futures::spawn_local(async move {
        let reader = js::reader(&stream);
        while let Ok(Some(datagram)) = js::read(&reader).await {
            sink(Inbound::Message(js::bytes(&datagram)));
        }
    });
}

fn spawn_stream_acceptor(streams: web_sys::ReadableStream, sink: Sink) {
    wasm_bindgen_futures::spawn_local(async move {
        let reader = js::reader(&streams);
        while let Ok(Some(stream)) = js::read(&reader).await {
            let stream: web_sys::ReadableStream = stream.unchecked_into();
            let sink = sink.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let reader = js::reader(&stream);
                let mut message = Vec::new();
                loop {
                    match js::read(&reader).await {
                        Ok(Some(chunk)) => {
                            message.extend_from_slice(&js::bytes(&chunk));
                            if message.len() > MAX_MESSAGE_BYTES {
                                let _ = reader.cancel();
                                return;
                            }
                        }
                        Ok(None) => break,
                        // Reset mid-frame: the frame is lost.
                        Err(_) => return,
                    }
                }
                sink(Inbound::Message(message));
            });
        }
    });
}
