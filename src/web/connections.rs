//! A cap on the HTTP connections clients may hold open at once, so that thousands of idle or
//! slow sockets (slowloris) cannot use up the file descriptors the checks need, nor memory
//! (each connection may buffer up to the server's 64 KiB header limit).
//!
//! Connections that have not yet sent a complete request are the cheap ones for an attacker to
//! hold, so when the cap is reached the oldest of those is closed to make room; scrapers send
//! their request at once and are not evicted by a flood that opened earlier. Only when every
//! open connection has sent a request is a new connection refused (closed at once). Connections
//! that sent a request and then sit idle are closed by the header-read timeout.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// The most connections held at once when the file-descriptor limit allows it.
pub const MAX_CONNECTIONS: usize = 1024;

/// How often, at most, the limit being reached is logged.
const WARNING_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct ConnectionLimit {
    max: usize,
    open: AtomicUsize,
    next_id: AtomicU64,
    /// Connections that have sent no complete request yet, oldest first, with the means to close them.
    waiting: Mutex<BTreeMap<u64, oneshot::Sender<()>>>,
    evicted: AtomicU64,
    refused: AtomicU64,
    /// Set when the cap was reached; cleared when the last connection closes, which then hands
    /// the flood's freed buffers back to the kernel.
    flooded: AtomicBool,
    last_warning: Mutex<Option<Instant>>,
}

/// What the accept loop does with a new connection.
#[derive(Debug)]
pub enum Admission {
    /// Serve it until it ends or `closed` fires (it was evicted to make room).
    Admitted { ticket: Arc<Ticket>, closed: oneshot::Receiver<()> },
    /// Every slot is held by a connection that sent a request: close this one at once.
    Refused,
}

/// One admitted connection's slot, released when the last clone is dropped.
#[derive(Debug)]
pub struct Ticket {
    limit: Arc<ConnectionLimit>,
    id: u64,
    sent_request: AtomicBool,
}

impl ConnectionLimit {
    /// A limit of `max` connections, at least one.
    pub fn new(max: usize) -> Arc<ConnectionLimit> {
        Arc::new(ConnectionLimit {
            max: max.max(1),
            open: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            waiting: Mutex::new(BTreeMap::new()),
            evicted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            flooded: AtomicBool::new(false),
            last_warning: Mutex::new(None),
        })
    }

    /// The limit for this process: [`MAX_CONNECTIONS`], or half the open-files limit when that is
    /// lower, leaving the other half to the checks, the config and the logs. The soft limit is
    /// raised to the hard one first, as Go programs such as node_exporter do at start.
    pub fn for_this_process() -> Arc<ConnectionLimit> {
        let max = match raise_open_files_limit() {
            Some(files) => MAX_CONNECTIONS.min(usize::try_from(files / 2).unwrap_or(MAX_CONNECTIONS)),
            None => MAX_CONNECTIONS,
        };
        tracing::debug!(max_connections = max, "connection limit");
        ConnectionLimit::new(max)
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// Connections admitted and not yet ended.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    pub fn admit(self: &Arc<Self>) -> Admission {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if self.open.load(Ordering::Relaxed) >= self.max {
            self.flooded.store(true, Ordering::Relaxed);
            // The evicted connection's task drops it and frees its slot as soon as it runs;
            // the slot is counted as taken until then, so the cap holds within a few connections.
            match waiting.pop_first() {
                Some((_, close)) => {
                    let _ = close.send(());
                    self.evicted.fetch_add(1, Ordering::Relaxed);
                }
                None => {
                    drop(waiting);
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    self.warn_at_most_every(WARNING_EVERY);
                    return Admission::Refused;
                }
            }
            self.warn_at_most_every(WARNING_EVERY);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (close, closed) = oneshot::channel();
        waiting.insert(id, close);
        self.open.fetch_add(1, Ordering::Relaxed);
        Admission::Admitted {
            ticket: Arc::new(Ticket { limit: self.clone(), id, sent_request: AtomicBool::new(false) }),
            closed,
        }
    }

    fn forget_waiting(&self, id: u64) {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    }

    fn warn_at_most_every(&self, every: Duration) {
        let mut last = self.last_warning.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|at| at.elapsed() < every) {
            return;
        }
        *last = Some(Instant::now());
        tracing::warn!(
            max_connections = self.max,
            evicted_total = self.evicted.load(Ordering::Relaxed),
            refused_total = self.refused.load(Ordering::Relaxed),
            "HTTP connection limit reached: closing the oldest connections that sent no request, \
             refusing new ones when every connection has sent one"
        );
    }
}

impl Ticket {
    /// Marks the connection as one that sent a request, so it is no longer evicted for room.
    pub fn sent_request(&self) {
        if !self.sent_request.swap(true, Ordering::Relaxed) {
            self.limit.forget_waiting(self.id);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.sent_request.load(Ordering::Relaxed) {
            self.limit.forget_waiting(self.id);
        }
        let was_open = self.limit.open.fetch_sub(1, Ordering::Relaxed);
        // After a flood, glibc keeps the freed connection buffers (tens of MiB for a thousand
        // connections) in its heap for good; give them back once the flood is over.
        if was_open == 1 && self.limit.flooded.swap(false, Ordering::Relaxed) {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn_blocking(crate::support::memory::release_freed_memory);
            }
        }
    }
}

/// Raises the soft open-files limit to the hard limit and returns the soft limit in force.
fn raise_open_files_limit() -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed by pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    Some(limit.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admitted(admission: Admission) -> (Arc<Ticket>, oneshot::Receiver<()>) {
        match admission {
            Admission::Admitted { ticket, closed } => (ticket, closed),
            Admission::Refused => panic!("the connection was refused"),
        }
    }

    #[test]
    fn at_the_cap_the_oldest_connection_without_a_request_is_closed_for_the_new_one() {
        let limit = ConnectionLimit::new(2);
        let (_first, mut first_closed) = admitted(limit.admit());
        let (_second, mut second_closed) = admitted(limit.admit());
        let (_third, _) = admitted(limit.admit());
        assert!(first_closed.try_recv().is_ok(), "the oldest idle connection is told to close");
        assert!(second_closed.try_recv().is_err(), "only one connection is evicted per new one");
    }

    #[test]
    fn connections_that_sent_a_request_are_kept_and_new_ones_refused_when_all_have() {
        let limit = ConnectionLimit::new(2);
        let (first, mut first_closed) = admitted(limit.admit());
        let (second, _) = admitted(limit.admit());
        first.sent_request();
        second.sent_request();
        assert!(matches!(limit.admit(), Admission::Refused));
        assert!(first_closed.try_recv().is_err());
        assert_eq!(limit.open(), 2);
    }

    #[test]
    fn a_dropped_connection_frees_its_slot() {
        let limit = ConnectionLimit::new(1);
        let (ticket, _) = admitted(limit.admit());
        ticket.sent_request();
        drop(ticket);
        assert_eq!(limit.open(), 0);
        let (_again, mut closed) = admitted(limit.admit());
        assert!(closed.try_recv().is_err(), "nothing had to be evicted");
    }
}
