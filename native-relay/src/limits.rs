//! Transport limits against hostile clients, enforced by the hosts before
//! anything reaches the engine: how long a client may take over its HTTP
//! headers and its WebTransport `CONNECT`, and how many new sessions one
//! client address may open per second ([`SessionLimiter`]).

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Default `--header-read-timeout-ms`.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `--webtransport-connect-timeout-ms`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `--session-rate-per-ip`: new sessions per second per address.
pub const DEFAULT_SESSION_RATE: u32 = 10;
/// Default `--session-burst-per-ip`: sessions an address may open at once.
pub const DEFAULT_SESSION_BURST: u32 = 50;
/// How often addresses whose bucket is full again are forgotten.
const FORGET_INTERVAL: Duration = Duration::from_secs(60);

/// The transport limits in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// An HTTP client must send a request's complete header this soon
    /// (also bounds idle keep-alive connections), on both TCP listeners.
    pub header_read_timeout: Duration,
    /// A QUIC client must complete the handshake and send its WebTransport
    /// `CONNECT` this soon after its first packet.
    pub connect_timeout: Duration,
    /// New WebSocket and WebTransport sessions per client address;
    /// `None` disables the limit.
    pub session_rate: Option<SessionRate>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            session_rate: SessionRate::new(DEFAULT_SESSION_RATE, DEFAULT_SESSION_BURST),
        }
    }
}

/// A token bucket: `per_second` new sessions per second, up to `burst` at
/// once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRate {
    /// Sustained sessions per second.
    pub per_second: NonZeroU32,
    /// Bucket size.
    pub burst: NonZeroU32,
}

impl SessionRate {
    /// `None` when `per_second` is 0 (no limit); a burst of 0 is taken as 1.
    pub fn new(per_second: u32, burst: u32) -> Option<Self> {
        let per_second = NonZeroU32::new(per_second)?;
        Some(Self {
            per_second,
            burst: NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN),
        })
    }
}

/// A session refused by [`SessionLimiter::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many new sessions from your address (at most {per_second} a second, {burst} at once); retry in {} ms", retry_after.as_millis())]
pub struct TooManySessions {
    /// When the address may try again.
    pub retry_after: Duration,
    /// The sustained rate in force.
    pub per_second: u32,
    /// The burst in force.
    pub burst: u32,
}

/// Per-address limit on new sessions, shared by the WebSocket and
/// WebTransport listeners (a GCRA token bucket per address, from
/// `governor`). IPv4-mapped IPv6 addresses count as their IPv4 address and
/// IPv6 clients are keyed by their /64, the smallest block a host is
/// usually given.
pub struct SessionLimiter {
    rate: Option<(SessionRate, DefaultKeyedRateLimiter<IpAddr>)>,
}

impl SessionLimiter {
    /// A limiter for `rate` (`None`: admit everyone). Addresses whose bucket
    /// has refilled are forgotten every minute, so the table stays as
    /// small as the set of recent clients.
    pub fn new(rate: Option<SessionRate>) -> Arc<Self> {
        let limiter = Arc::new(Self {
            rate: rate.map(|rate| {
                let quota = Quota::per_second(rate.per_second).allow_burst(rate.burst);
                (rate, RateLimiter::keyed(quota))
            }),
        });
        if limiter.rate.is_some() {
            let weak = Arc::downgrade(&limiter);
            tokio::spawn(async move {
                let mut every = tokio::time::interval(FORGET_INTERVAL);
                every.tick().await;
                loop {
                    every.tick().await;
                    let Some(limiter) = weak.upgrade() else {
                        return;
                    };
                    if let Some((_, buckets)) = &limiter.rate {
                        buckets.retain_recent();
                        buckets.shrink_to_fit();
                    }
                }
            });
        }
        limiter
    }

    /// Takes one session from `ip`'s bucket.
    pub fn check(&self, ip: IpAddr) -> Result<(), TooManySessions> {
        let Some((rate, buckets)) = &self.rate else {
            return Ok(());
        };
        buckets.check_key(&client_key(ip)).map_err(|not_until| {
            let retry_after = not_until.wait_time_from(buckets.clock().now());
            TooManySessions {
                retry_after,
                per_second: rate.per_second.get(),
                burst: rate.burst.get(),
            }
        })
    }
}

/// The bucket an address counts against.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_address_gets_its_burst_then_is_refused_while_others_are_not() {
        let limiter = SessionLimiter::new(SessionRate::new(1, 3));
        let ada: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            limiter.check(ada).unwrap();
        }
        let refused = limiter.check(ada).unwrap_err();
        assert!(refused.retry_after <= Duration::from_secs(1), "{refused}");
        assert!(refused.to_string().contains("retry in"), "{refused}");
        limiter.check("192.0.2.2".parse().unwrap()).unwrap();
    }

    #[tokio::test]
    async fn a_zero_rate_admits_everyone() {
        let limiter = SessionLimiter::new(SessionRate::new(0, 1));
        for _ in 0..1_000 {
            limiter.check("192.0.2.1".parse().unwrap()).unwrap();
        }
    }

    #[test]
    fn mapped_addresses_and_one_slash_64_share_a_bucket() {
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(client_key(mapped), "192.0.2.1".parse::<IpAddr>().unwrap());
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(other));
    }
}
