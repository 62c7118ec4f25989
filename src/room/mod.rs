//! Room supervisors: each owns the rooms index of a share of a namespace's sockets and fans
//! broadcasts out to them. The sockets are [`Member`]s here: this layer never names the socket
//! layer above it.

pub mod backlog;
pub mod index;
pub mod member;
pub mod supervisor;
#[cfg(test)]
pub(crate) mod test_member;

pub use backlog::{Backlog, BacklogTicket, BACKLOG_HIGH, BACKLOG_LOW};
pub use index::{Room, RoomIndex, Selector};
pub use member::{AckCallback, Member, SocketDescription};
pub use supervisor::{RoomSupervisor, RoomWatcher};
