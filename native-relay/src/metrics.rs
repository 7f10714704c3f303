//! Prometheus metrics: rooms, participants, frames and bytes in/out,
//! drops by reason and send-queue depth, rendered as text for
//! `GET /metrics`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use edgecall_proto::metrics::Exposition;
use edgecall_proto::room::RoomStats;

/// Why the relay dropped something it was asked to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// A receiver's media queue was over its bound.
    QueueFull,
    /// A video frame's stream missed its deadline and was reset.
    Stale,
    /// A datagram could not be sent (too large or session gone).
    Datagram,
    /// A receiver stopped reading control messages and was closed.
    ControlOverflow,
    /// A cluster message could not be queued for NATS.
    Cluster,
    /// A message for the edge could not be queued on the trunk.
    Trunk,
}

impl DropReason {
    const ALL: [DropReason; 6] = [
        DropReason::QueueFull,
        DropReason::Stale,
        DropReason::Datagram,
        DropReason::ControlOverflow,
        DropReason::Cluster,
        DropReason::Trunk,
    ];

    fn label(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::Stale => "stale",
            DropReason::Datagram => "datagram",
            DropReason::ControlOverflow => "control_overflow",
            DropReason::Cluster => "cluster",
            DropReason::Trunk => "trunk",
        }
    }
}

/// A client transport, for the counters of what was read from clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// QUIC WebTransport sessions (control stream, datagrams, media streams).
    WebTransport,
    /// WebSocket connections (binary and text messages).
    WebSocket,
}

impl Transport {
    const ALL: [Transport; 2] = [Transport::WebTransport, Transport::WebSocket];

    fn label(self) -> &'static str {
        match self {
            Transport::WebTransport => "webtransport",
            Transport::WebSocket => "websocket",
        }
    }
}

/// Why a connection was turned away before it became a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turnaway {
    /// Its address opened sessions faster than `--session-rate-per-ip`.
    SessionRate,
    /// A QUIC connection sent no WebTransport CONNECT in time.
    ConnectTimeout,
    /// An HTTP client did not send its request header in time.
    HeaderTimeout,
}

impl Turnaway {
    const ALL: [Turnaway; 3] = [
        Turnaway::SessionRate,
        Turnaway::ConnectTimeout,
        Turnaway::HeaderTimeout,
    ];

    fn label(self) -> &'static str {
        match self {
            Turnaway::SessionRate => "session_rate",
            Turnaway::ConnectTimeout => "connect_timeout",
            Turnaway::HeaderTimeout => "header_timeout",
        }
    }
}

/// What one room reports each interval.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoomSnapshot {
    /// Participants (local and remote).
    pub participants: usize,
    /// Local connections.
    pub connections: usize,
    /// Bytes queued to this room's receivers.
    pub queued_bytes: u64,
    /// The engine's counters.
    pub stats: RoomStats,
    /// Whether the room's trunk to the edge is connected.
    pub trunk_up: bool,
}

/// Process-wide metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    drops: [AtomicU64; 6],
    read_messages: [AtomicU64; 2],
    read_bytes: [AtomicU64; 2],
    turned_away: [AtomicU64; 3],
    rejected: AtomicU64,
    trunk_connects: AtomicU64,
    trunk_failures: AtomicU64,
    rooms: Mutex<HashMap<String, RoomSnapshot>>,
    retired: Mutex<RoomStats>,
}

impl Metrics {
    /// Counts one drop.
    pub fn dropped(&self, reason: DropReason) {
        self.drops[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Drops so far for `reason`.
    pub fn drops(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize].load(Ordering::Relaxed)
    }

    /// Counts one message of `bytes` read from a client over `transport`
    /// (before the engine judges it).
    pub fn read(&self, transport: Transport, bytes: usize) {
        self.read_messages[transport as usize].fetch_add(1, Ordering::Relaxed);
        self.read_bytes[transport as usize].fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Counts one connection turned away for `why`.
    pub fn turned_away(&self, why: Turnaway) {
        self.turned_away[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one refused join (bad token, wrong path).
    pub fn rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one trunk connection established.
    pub fn trunk_connected(&self) {
        self.trunk_connects.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one trunk connection refused, failed or lost.
    pub fn trunk_failed(&self) {
        self.trunk_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a room's latest snapshot.
    pub fn report(&self, room: &str, snapshot: RoomSnapshot) {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        rooms.insert(room.to_owned(), snapshot);
    }

    /// A room ended: its counters move into the totals.
    pub fn retire(&self, room: &str, stats: RoomStats) {
        self.rooms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(room);
        let mut retired = self.retired.lock().unwrap_or_else(|e| e.into_inner());
        retired.add(&stats);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut totals = *self.retired.lock().unwrap_or_else(|e| e.into_inner());
        let mut participants = 0;
        let mut connections = 0;
        let mut queued = 0;
        let mut max_queued = 0;
        let mut trunks = 0;
        for snapshot in rooms.values() {
            trunks += u64::from(snapshot.trunk_up);
            totals.add(&snapshot.stats);
            participants += snapshot.participants;
            connections += snapshot.connections;
            queued += snapshot.queued_bytes;
            max_queued = max_queued.max(snapshot.queued_bytes);
        }
        let mut exposition = Exposition::new(&[]);
        exposition.gauge(
            "edgecall_rooms",
            "Rooms open on this relay.",
            rooms.len() as u64,
        );
        exposition.gauge(
            "edgecall_participants",
            "Participants in those rooms, local and remote.",
            participants as u64,
        );
        exposition.gauge(
            "edgecall_connections",
            "Client connections on this relay.",
            connections as u64,
        );
        exposition.counter(
            "edgecall_joins_rejected_total",
            "Joins refused (token, path, room id).",
            self.rejected.load(Ordering::Relaxed),
        );
        exposition.gauge(
            "edgecall_send_queue_bytes",
            "Bytes queued to receivers, all rooms.",
            queued,
        );
        exposition.gauge(
            "edgecall_send_queue_max_room_bytes",
            "Bytes queued to receivers in the busiest room.",
            max_queued,
        );
        exposition.gauge(
            "edgecall_trunks",
            "Rooms whose trunk to the edge is connected from this relay.",
            trunks,
        );
        exposition.counter(
            "edgecall_trunk_connects_total",
            "Trunk connections to the edge established.",
            self.trunk_connects.load(Ordering::Relaxed),
        );
        exposition.counter(
            "edgecall_trunk_failures_total",
            "Trunk connections to the edge refused, failed or lost.",
            self.trunk_failures.load(Ordering::Relaxed),
        );
        // The engine's counters, named and described in one place.
        totals.export(&mut exposition);
        let mut out = exposition.finish();
        let _ = writeln!(out, "# HELP edgecall_read_messages_total Messages read from clients, by transport.\n# TYPE edgecall_read_messages_total counter");
        for transport in Transport::ALL {
            let _ = writeln!(
                out,
                "edgecall_read_messages_total{{transport=\"{}\"}} {}",
                transport.label(),
                self.read_messages[transport as usize].load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(out, "# HELP edgecall_read_bytes_total Message bytes read from clients, by transport.\n# TYPE edgecall_read_bytes_total counter");
        for transport in Transport::ALL {
            let _ = writeln!(
                out,
                "edgecall_read_bytes_total{{transport=\"{}\"}} {}",
                transport.label(),
                self.read_bytes[transport as usize].load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(out, "# HELP edgecall_turned_away_total Connections turned away before becoming a session, by reason.\n# TYPE edgecall_turned_away_total counter");
        for why in Turnaway::ALL {
            let _ = writeln!(
                out,
                "edgecall_turned_away_total{{reason=\"{}\"}} {}",
                why.label(),
                self.turned_away[why as usize].load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(out, "# HELP edgecall_drops_total Messages the relay dropped, by reason.\n# TYPE edgecall_drops_total counter");
        for reason in DropReason::ALL {
            let _ = writeln!(
                out,
                "edgecall_drops_total{{reason=\"{}\"}} {}",
                reason.label(),
                self.drops(reason)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_survive_rooms_ending() {
        let metrics = Metrics::default();
        let stats = RoomStats {
            frames_in: 3,
            ..RoomStats::default()
        };
        metrics.report(
            "a",
            RoomSnapshot {
                participants: 2,
                connections: 2,
                queued_bytes: 10,
                stats,
                trunk_up: true,
            },
        );
        metrics.dropped(DropReason::Stale);
        let text = metrics.render();
        assert!(text.contains("edgecall_rooms 1"), "{text}");
        assert!(text.contains("edgecall_participants 2"), "{text}");
        assert!(text.contains("edgecall_trunks 1"), "{text}");
        assert!(
            text.contains("edgecall_drops_total{reason=\"stale\"} 1"),
            "{text}"
        );
        metrics.retire("a", stats);
        let text = metrics.render();
        assert!(text.contains("edgecall_rooms 0"), "{text}");
        assert!(text.contains("edgecall_frames_in_total 3"), "{text}");
    }
}
