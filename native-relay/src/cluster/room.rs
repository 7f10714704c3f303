//! One room's share of the cluster: its links to peer relays, and the NATS
//! worker that publishes and subscribes for it in order.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use edgecall_proto::room::{ConnId, Delivery, LinkKind, Room};
use edgecall_proto::wire::{self, link_message, LinkMessage, Track};
use futures::StreamExt;
use prost::Message;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{subjects, Cluster, ClusterEvent};
use crate::host::{HostCtx, RoomEvent};
use crate::metrics::DropReason;

/// Commands queued to the room's NATS worker.
const WORKER_QUEUE: usize = 16_384;

#[derive(Debug, Clone, Copy)]
enum SubKind {
    Presence,
    Control,
    Media,
}

enum Cmd {
    Publish(String, Bytes),
    Subscribe(String, SubKind),
    Unsubscribe(String),
    Stop(String, Bytes),
}

struct Peer {
    conn: ConnId,
    epoch: u64,
    last_seen: Instant,
    media: HashSet<String>,
    /// Whether its last heartbeat claimed the room's trunk to the edge.
    claims_trunk: bool,
}

/// The cluster side of one room task.
pub struct ClusterRoom {
    cluster: Arc<Cluster>,
    room: String,
    worker: mpsc::Sender<Cmd>,
    peers: HashMap<String, Peer>,
    links: HashMap<ConnId, String>,
    started: Instant,
}

impl ClusterRoom {
    /// Joins the room's presence and control subjects.
    pub fn start(cluster: Arc<Cluster>, room: &str, events: mpsc::Sender<RoomEvent>) -> Self {
        let (worker, rx) = mpsc::channel(WORKER_QUEUE);
        tokio::spawn(run_worker(
            cluster.client.clone(),
            room.to_owned(),
            rx,
            events,
        ));
        let this = Self {
            room: room.to_owned(),
            worker,
            peers: HashMap::new(),
            links: HashMap::new(),
            started: Instant::now(),
            cluster,
        };
        this.command(Cmd::Subscribe(subjects::presence(room), SubKind::Presence));
        this.command(Cmd::Subscribe(
            subjects::control_inbox(room, &this.cluster.relay_id),
            SubKind::Control,
        ));
        this
    }

    /// How often [`ClusterRoom::heartbeat`] should run.
    pub fn heartbeat_interval(&self) -> Duration {
        self.cluster.heartbeat
    }

    /// Fires after NATS reconnected.
    pub fn resync_signal(&self) -> broadcast::Receiver<()> {
        self.cluster.resync.subscribe()
    }

    fn command(&self, cmd: Cmd) {
        if self.worker.try_send(cmd).is_err() {
            tracing::warn!(room = %self.room, "NATS worker queue full; dropping a cluster message");
        }
    }

    fn publish(&self, subject: String, data: Bytes, ctx_drop: &mut bool) {
        if self.worker.try_send(Cmd::Publish(subject, data)).is_err() {
            *ctx_drop = true;
        }
    }

    /// Whether this relay should hold the room's trunk to the edge (see
    /// [`crate::trunk::election`]); `claiming` says whether it does now.
    /// Undecided (`false`) until the peers have had two heartbeats to be
    /// heard, so a room just opened does not trunk next to a holder.
    pub fn elects_me_for_trunk(&self, claiming: bool) -> bool {
        if !claiming && self.started.elapsed() < self.cluster.heartbeat * 2 {
            return false;
        }
        let peers = self
            .peers
            .iter()
            .map(|(id, peer)| (id.as_str(), peer.claims_trunk));
        crate::trunk::election::holds_trunk(&self.cluster.relay_id, claiming, peers)
    }

    /// Announces this relay (and whether it holds the room's trunk) and
    /// forgets peers that went silent.
    pub fn heartbeat(&mut self, room: &mut Room, holds_trunk: bool, now_ms: u64) {
        let mut line = format!("alive {} {}", self.cluster.relay_id, self.cluster.epoch());
        if holds_trunk {
            line.push_str(" trunk");
        }
        self.command(Cmd::Publish(subjects::presence(&self.room), line.into()));
        let timeout = self.cluster.timeout;
        let dead: Vec<String> = self
            .peers
            .iter()
            .filter(|(_, peer)| peer.last_seen.elapsed() > timeout)
            .map(|(id, _)| id.clone())
            .collect();
        for relay in dead {
            tracing::warn!(room = %self.room, %relay, "peer relay went silent; its participants leave");
            self.drop_peer(&relay, room, now_ms);
        }
    }

    /// NATS reconnected: rebuild every link under the new epoch (and let
    /// the peers be heard again before electing a trunk holder).
    pub fn resync(&mut self, room: &mut Room, now_ms: u64) {
        let peers: Vec<String> = self.peers.keys().cloned().collect();
        for relay in peers {
            self.drop_peer(&relay, room, now_ms);
        }
        self.started = Instant::now();
        self.heartbeat(room, false, now_ms);
    }

    /// Handles one message from NATS.
    pub fn on_event(&mut self, event: ClusterEvent, room: &mut Room, ctx: &HostCtx, now_ms: u64) {
        match event {
            ClusterEvent::Presence {
                relay,
                epoch,
                alive,
                trunk,
            } => {
                if relay == self.cluster.relay_id {
                    return;
                }
                if !alive {
                    tracing::info!(room = %self.room, %relay, "peer relay left the room");
                    self.drop_peer(&relay, room, now_ms);
                } else if let Some(conn) = self.ensure_peer(&relay, epoch, room, ctx, now_ms) {
                    if let Some(peer) = self.peers.get_mut(&relay) {
                        peer.claims_trunk = trunk;
                    }
                    room.heard(conn, now_ms);
                }
            }
            ClusterEvent::Control { from, epoch, data } => {
                if let Some(conn) = self.ensure_peer(&from, epoch, room, ctx, now_ms) {
                    room.message(conn, data, now_ms);
                }
            }
            ClusterEvent::Media { from, data } => {
                tracing::trace!(%from, known = self.peers.contains_key(&from), "media from a peer");
                if let Some(peer) = self.peers.get(&from) {
                    room.message(peer.conn, data, now_ms);
                }
            }
        }
    }

    /// The link conn for `relay` in `epoch`, opening it on first contact.
    fn ensure_peer(
        &mut self,
        relay: &str,
        epoch: u64,
        room: &mut Room,
        ctx: &HostCtx,
        now_ms: u64,
    ) -> Option<ConnId> {
        if relay == self.cluster.relay_id {
            return None;
        }
        if let Some(peer) = self.peers.get_mut(relay) {
            if peer.epoch == epoch {
                peer.last_seen = Instant::now();
                return Some(peer.conn);
            }
            if epoch < peer.epoch {
                return None;
            }
            tracing::info!(room = %self.room, %relay, epoch, "peer relay started a new epoch");
            self.drop_peer(relay, room, now_ms);
        }
        let conn = ctx.next_conn();
        tracing::info!(room = %self.room, %relay, conn = conn.0, "linking to peer relay");
        self.peers.insert(
            relay.to_owned(),
            Peer {
                conn,
                epoch,
                last_seen: Instant::now(),
                media: HashSet::new(),
                claims_trunk: false,
            },
        );
        self.links.insert(conn, relay.to_owned());
        let audio = subjects::media_audio(&self.room, relay, Track::Audio as i32);
        self.set_media_subscriptions(relay, HashSet::from([audio]));
        // Every relay of a room links to every other: a full mesh.
        room.join_link(conn, &self.cluster.relay_id, LinkKind::Mesh, now_ms);
        Some(conn)
    }

    fn drop_peer(&mut self, relay: &str, room: &mut Room, now_ms: u64) {
        self.set_media_subscriptions(relay, HashSet::new());
        if let Some(peer) = self.peers.remove(relay) {
            self.links.remove(&peer.conn);
            room.closed(peer.conn, now_ms);
        }
    }

    /// The engine closed a link (it broke a rule): forget the peer until
    /// it is heard again.
    pub fn link_closed(&mut self, conn: ConnId) {
        if let Some(relay) = self.links.remove(&conn) {
            self.set_media_subscriptions(&relay, HashSet::new());
            self.peers.remove(&relay);
        }
    }

    fn set_media_subscriptions(&mut self, relay: &str, wanted: HashSet<String>) {
        let Some(peer) = self.peers.get_mut(relay) else {
            return;
        };
        let gone: Vec<String> = peer.media.difference(&wanted).cloned().collect();
        let new: Vec<String> = wanted.difference(&peer.media).cloned().collect();
        peer.media = wanted;
        for subject in gone {
            self.command(Cmd::Unsubscribe(subject));
        }
        for subject in new {
            self.command(Cmd::Subscribe(subject, SubKind::Media));
        }
    }

    /// Sends what the engine queued for link conns `links`: media once on
    /// its subject, control to each peer's inbox.
    pub fn deliver(&mut self, links: &[ConnId], data: Bytes, delivery: Delivery, ctx: &HostCtx) {
        let mut dropped = false;
        let me = self.cluster.relay_id.clone();
        let epoch = self.cluster.epoch();
        match delivery {
            Delivery::Reliable => {
                let wants = match LinkMessage::decode(data.clone()) {
                    Ok(LinkMessage {
                        msg: Some(link_message::Msg::Wants(wants)),
                    }) => Some(wants),
                    _ => None,
                };
                for conn in links {
                    let Some(relay) = self.links.get(conn).cloned() else {
                        continue;
                    };
                    if let Some(wants) = &wants {
                        self.follow_wants(&relay, wants);
                    }
                    let subject = subjects::control(&self.room, &relay, &me, epoch);
                    self.publish(subject, data.clone(), &mut dropped);
                }
            }
            Delivery::Datagram | Delivery::Stream { .. } => {
                if let Ok(LinkMessage {
                    msg: Some(link_message::Msg::Media(frame)),
                }) = LinkMessage::decode(data.clone())
                {
                    let subject =
                        subjects::media(&self.room, &me, frame.sender, frame.track, frame.layer);
                    tracing::trace!(%subject, "publishing media");
                    self.publish(subject, data, &mut dropped);
                }
            }
        }
        if dropped {
            ctx.metrics.dropped(DropReason::Cluster);
        }
    }

    /// Subscribes to the video `wants` asks of `relay`. A want is a mask
    /// of layer *caps*: the origin forwards the best published layer at or
    /// below the cap, so every layer up to the highest cap is subscribed.
    fn follow_wants(&mut self, relay: &str, wants: &wire::LinkWants) {
        let room = self.room.as_str();
        let mut wanted: HashSet<String> = wants
            .wants
            .iter()
            .flat_map(|w| {
                let top = (0..3u32).rev().find(|l| w.layer_mask & (1 << l) != 0);
                top.into_iter().flat_map(move |top| {
                    (0..=top).map(move |layer| {
                        subjects::media(room, relay, w.participant, w.track, layer)
                    })
                })
            })
            .collect();
        wanted.insert(subjects::media_audio(room, relay, Track::Audio as i32));
        self.set_media_subscriptions(relay, wanted);
    }

    /// Says goodbye and stops the worker.
    pub fn stop(self) {
        let line = format!("bye {} {}", self.cluster.relay_id, self.cluster.epoch());
        self.command(Cmd::Stop(subjects::presence(&self.room), line.into()));
    }
}

/// Publishes and subscribes in the order the room asked, so a
/// subscription is in place before the message that provokes traffic on it.
async fn run_worker(
    client: async_nats::Client,
    room: String,
    mut rx: mpsc::Receiver<Cmd>,
    events: mpsc::Sender<RoomEvent>,
) {
    let mut subscriptions: HashMap<String, JoinHandle<()>> = HashMap::new();
    while let Some(cmd) = rx.recv().await {
        match cmd {
            Cmd::Publish(subject, data) => {
                if let Err(err) = client.publish(subject, data).await {
                    tracing::debug!(%err, "NATS publish failed");
                }
            }
            Cmd::Subscribe(subject, kind) => match client.subscribe(subject.clone()).await {
                Ok(subscriber) => {
                    let task =
                        tokio::spawn(forward(subscriber, kind, room.clone(), events.clone()));
                    if let Some(old) = subscriptions.insert(subject, task) {
                        old.abort();
                    }
                }
                Err(err) => tracing::warn!(%err, %subject, "NATS subscribe failed"),
            },
            Cmd::Unsubscribe(subject) => {
                if let Some(task) = subscriptions.remove(&subject) {
                    task.abort();
                }
            }
            Cmd::Stop(subject, data) => {
                let _ = client.publish(subject, data).await;
                let _ = client.flush().await;
                break;
            }
        }
    }
    for task in subscriptions.into_values() {
        task.abort();
    }
}

async fn forward(
    mut subscriber: async_nats::Subscriber,
    kind: SubKind,
    room: String,
    events: mpsc::Sender<RoomEvent>,
) {
    while let Some(message) = subscriber.next().await {
        let Some(event) = parse(kind, &room, &message.subject, message.payload) else {
            continue;
        };
        if events.send(RoomEvent::Cluster(event)).await.is_err() {
            return;
        }
    }
}

fn parse(kind: SubKind, room: &str, subject: &str, payload: Bytes) -> Option<ClusterEvent> {
    match kind {
        SubKind::Presence => {
            let text = std::str::from_utf8(&payload).ok()?;
            let mut parts = text.split(' ');
            let alive = match parts.next()? {
                "alive" => true,
                "bye" => false,
                _ => return None,
            };
            let relay = parts.next()?.to_owned();
            let epoch = parts.next()?.parse().ok()?;
            let trunk = parts.next() == Some("trunk");
            Some(ClusterEvent::Presence {
                relay,
                epoch,
                alive,
                trunk,
            })
        }
        SubKind::Control => match subjects::tail(subject, room)?.as_slice() {
            ["ctl", _to, from, epoch] => Some(ClusterEvent::Control {
                from: (*from).to_owned(),
                epoch: epoch.parse().ok()?,
                data: payload,
            }),
            _ => None,
        },
        SubKind::Media => match subjects::tail(subject, room)?.as_slice() {
            ["media", from, ..] => Some(ClusterEvent::Media {
                from: (*from).to_owned(),
                data: payload,
            }),
            _ => None,
        },
    }
}
