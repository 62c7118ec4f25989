//! A connection's sockets by namespace: a short list rather than a hash map. A connection has one
//! socket most of the time (a few at most), so a lookup is one string comparison; a map cost about
//! 150 bytes per connection and a SipHash per packet.

use super::Socket;

/// The sockets of one connection, one per namespace name.
#[derive(Default)]
pub(crate) struct SocketsByNsp(Vec<(String, Socket)>);

impl SocketsByNsp {
    /// The socket of namespace `nsp`.
    pub(crate) fn get(&self, nsp: &str) -> Option<&Socket> {
        self.0.iter().find(|(n, _)| n == nsp).map(|(_, s)| s)
    }

    /// Whether namespace `nsp` has a socket.
    pub(crate) fn contains_key(&self, nsp: &str) -> bool {
        self.get(nsp).is_some()
    }

    /// Sets the socket of `nsp` (replacing one there was).
    pub(crate) fn insert(&mut self, nsp: String, socket: Socket) {
        match self.0.iter_mut().find(|(n, _)| *n == nsp) {
            Some(entry) => entry.1 = socket,
            None => {
                self.0.reserve_exact(1);
                self.0.push((nsp, socket));
            }
        }
    }

    /// Removes and returns the socket of `nsp`.
    pub(crate) fn remove(&mut self, nsp: &str) -> Option<Socket> {
        let i = self.0.iter().position(|(n, _)| n == nsp)?;
        Some(self.0.swap_remove(i).1)
    }

    /// Removes every socket, with its namespace.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = (String, Socket)> + '_ {
        self.0.drain(..)
    }

    /// The sockets.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Socket> {
        self.0.iter().map(|(_, s)| s)
    }

    /// How many sockets.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}
