//! Which QUIC connection attempts a listener takes on: address validation
//! (Retry) under load, a cap on connections, and a cap per client address.
//!
//! The decision ([`decide`]) is a pure function of the load; [`Admission`]
//! keeps the counts and hands out a [`Ticket`] per accepted attempt that
//! gives its share back when the connection ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use mirrorgate_core::metrics::Limit;

use crate::settings::{Http3Settings, RetryPolicy};

/// How a connection attempt that does not get its handshake is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TurnAway {
    /// Answer with a Retry packet; `limit` is the one that caused it
    /// (`None` for `retry = "always"`).
    Retry {
        /// The limit reached, if one was.
        limit: Option<Limit>,
    },
    /// Refuse (`CONNECTION_REFUSED`); the limit that was reached.
    Refuse(Limit),
}

/// The load a decision is taken under.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Load {
    /// Connections of this listener, handshaking or open.
    pub connections: usize,
    /// Handshakes in progress.
    pub handshaking: usize,
    /// Connections counted for the attempt's address.
    pub from_address: usize,
}

/// The attempt itself, as quinn describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Attempt {
    /// The client came back with a Retry token: its address is proven.
    pub validated: bool,
    /// A Retry may be sent (not after one already was).
    pub may_retry: bool,
}

/// The decision for `attempt` under `load`: `Ok` starts the handshake.
/// Caps come first (a refusal is one small packet, never an amplifier);
/// then an unvalidated attempt gets a Retry if the policy asks for one.
pub(crate) fn decide(
    settings: &Http3Settings,
    load: Load,
    attempt: Attempt,
) -> Result<(), TurnAway> {
    if load.connections >= settings.max_connections {
        return Err(TurnAway::Refuse(Limit::QuicMaxConnections));
    }
    if load.from_address >= settings.max_connections_per_ip {
        return Err(TurnAway::Refuse(Limit::QuicMaxConnectionsPerIp));
    }
    if attempt.validated || !attempt.may_retry {
        return Ok(());
    }
    match settings.retry {
        RetryPolicy::Always => Err(TurnAway::Retry { limit: None }),
        RetryPolicy::UnderLoad if load.handshaking >= settings.retry_above_handshakes => {
            Err(TurnAway::Retry {
                limit: Some(Limit::QuicRetryAboveHandshakes),
            })
        }
        RetryPolicy::UnderLoad | RetryPolicy::Never => Ok(()),
    }
}

#[derive(Debug, Default)]
struct Counts {
    connections: usize,
    handshaking: usize,
    /// Proven addresses only; an entry goes when its count reaches 0, so
    /// the map holds at most one entry per open connection.
    per_address: HashMap<IpAddr, usize>,
}

impl Counts {
    fn add_address(&mut self, ip: IpAddr) {
        *self.per_address.entry(ip).or_default() += 1;
    }

    fn remove_address(&mut self, ip: IpAddr) {
        if let Some(n) = self.per_address.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.per_address.remove(&ip);
            }
        }
    }
}

/// One listener's connection counts.
#[derive(Debug)]
pub(crate) struct Admission {
    settings: Arc<Http3Settings>,
    counts: Mutex<Counts>,
}

impl Admission {
    /// No connections yet.
    pub(crate) fn new(settings: Arc<Http3Settings>) -> Arc<Self> {
        Arc::new(Admission {
            settings,
            counts: Mutex::new(Counts::default()),
        })
    }

    /// Decides on an attempt from `ip`; if it is admitted, counts it (as
    /// handshaking, and for its address if that is proven) until the
    /// returned ticket drops.
    pub(crate) fn admit(
        self: &Arc<Self>,
        ip: IpAddr,
        attempt: Attempt,
    ) -> Result<Ticket, TurnAway> {
        let mut counts = self.counts.lock().expect("admission lock");
        let load = Load {
            connections: counts.connections,
            handshaking: counts.handshaking,
            from_address: counts.per_address.get(&ip).copied().unwrap_or(0),
        };
        decide(&self.settings, load, attempt)?;
        counts.connections += 1;
        counts.handshaking += 1;
        if attempt.validated {
            counts.add_address(ip);
        }
        Ok(Ticket {
            admission: self.clone(),
            ip,
            handshaking: true,
            counted_for_address: attempt.validated,
        })
    }

    #[cfg(test)]
    fn load(&self, ip: IpAddr) -> Load {
        let counts = self.counts.lock().unwrap();
        Load {
            connections: counts.connections,
            handshaking: counts.handshaking,
            from_address: counts.per_address.get(&ip).copied().unwrap_or(0),
        }
    }
}

/// An accepted attempt's place in the counts, given back on drop.
#[derive(Debug)]
pub(crate) struct Ticket {
    admission: Arc<Admission>,
    ip: IpAddr,
    handshaking: bool,
    counted_for_address: bool,
}

impl Ticket {
    /// The handshake completed: the address is proven now. Counts it for
    /// its address unless that address already has its share, in which
    /// case the connection must be closed: `Err` is the limit.
    pub(crate) fn established(&mut self) -> Result<(), Limit> {
        let mut counts = self.admission.counts.lock().expect("admission lock");
        if self.handshaking {
            self.handshaking = false;
            counts.handshaking -= 1;
        }
        if self.counted_for_address {
            return Ok(());
        }
        let from_address = counts.per_address.get(&self.ip).copied().unwrap_or(0);
        if from_address >= self.admission.settings.max_connections_per_ip {
            return Err(Limit::QuicMaxConnectionsPerIp);
        }
        counts.add_address(self.ip);
        self.counted_for_address = true;
        Ok(())
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut counts = self.admission.counts.lock().expect("admission lock");
        counts.connections -= 1;
        if self.handshaking {
            counts.handshaking -= 1;
        }
        if self.counted_for_address {
            counts.remove_address(self.ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNVALIDATED: Attempt = Attempt {
        validated: false,
        may_retry: true,
    };
    const VALIDATED: Attempt = Attempt {
        validated: true,
        may_retry: false,
    };

    fn settings(retry: RetryPolicy) -> Http3Settings {
        Http3Settings {
            retry,
            retry_above_handshakes: 2,
            max_connections: 10,
            max_connections_per_ip: 3,
            ..Default::default()
        }
    }

    fn load(connections: usize, handshaking: usize, from_address: usize) -> Load {
        Load {
            connections,
            handshaking,
            from_address,
        }
    }

    #[test]
    fn under_load_retries_only_unvalidated_attempts_past_the_threshold() {
        let s = settings(RetryPolicy::UnderLoad);
        assert_eq!(decide(&s, load(1, 1, 0), UNVALIDATED), Ok(()));
        let retry = Err(TurnAway::Retry {
            limit: Some(Limit::QuicRetryAboveHandshakes),
        });
        assert_eq!(decide(&s, load(2, 2, 0), UNVALIDATED), retry);
        assert_eq!(decide(&s, load(2, 2, 0), VALIDATED), Ok(()));
    }

    #[test]
    fn always_and_never_ignore_the_load() {
        let always = settings(RetryPolicy::Always);
        assert_eq!(
            decide(&always, load(0, 0, 0), UNVALIDATED),
            Err(TurnAway::Retry { limit: None })
        );
        assert_eq!(decide(&always, load(0, 0, 0), VALIDATED), Ok(()));
        let never = settings(RetryPolicy::Never);
        assert_eq!(decide(&never, load(5, 5, 0), UNVALIDATED), Ok(()));
    }

    #[test]
    fn caps_refuse_before_anything_else() {
        let s = settings(RetryPolicy::Always);
        assert_eq!(
            decide(&s, load(10, 0, 0), VALIDATED),
            Err(TurnAway::Refuse(Limit::QuicMaxConnections))
        );
        assert_eq!(
            decide(&s, load(3, 0, 3), UNVALIDATED),
            Err(TurnAway::Refuse(Limit::QuicMaxConnectionsPerIp))
        );
    }

    #[test]
    fn unproven_handshakes_do_not_use_up_an_address_share() {
        let admission = Admission::new(Arc::new(settings(RetryPolicy::Never)));
        let ip: IpAddr = [192, 0, 2, 1].into();
        // Spoofed Initials: accepted, but not counted for the address.
        let spoofed: Vec<_> = (0..5)
            .map(|_| admission.admit(ip, UNVALIDATED).unwrap())
            .collect();
        assert_eq!(admission.load(ip), load(5, 5, 0));
        // The real client proves its address and gets its share.
        let mut real: Vec<_> = (0..3)
            .map(|_| admission.admit(ip, VALIDATED).unwrap())
            .collect();
        for ticket in &mut real {
            ticket.established().unwrap();
        }
        assert_eq!(admission.load(ip), load(8, 5, 3));
        assert_eq!(
            admission.admit(ip, VALIDATED).unwrap_err(),
            TurnAway::Refuse(Limit::QuicMaxConnectionsPerIp)
        );
        drop(spoofed);
        drop(real);
        assert_eq!(admission.load(ip), load(0, 0, 0));
        assert!(admission.counts.lock().unwrap().per_address.is_empty());
    }

    #[test]
    fn a_handshake_completing_over_the_address_share_is_turned_away() {
        let admission = Admission::new(Arc::new(settings(RetryPolicy::Never)));
        let ip: IpAddr = [192, 0, 2, 2].into();
        let mut racing: Vec<_> = (0..4)
            .map(|_| admission.admit(ip, UNVALIDATED).unwrap())
            .collect();
        let results: Vec<_> = racing.iter_mut().map(Ticket::established).collect();
        assert_eq!(
            results,
            [Ok(()), Ok(()), Ok(()), Err(Limit::QuicMaxConnectionsPerIp)]
        );
        assert_eq!(admission.load(ip), load(4, 0, 3));
        drop(racing);
        assert_eq!(admission.load(ip), load(0, 0, 0));
    }
}
