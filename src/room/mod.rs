//! Room supervisors: each owns the rooms index of a share of a namespace's sockets and fans
//! broadcasts out to them.

pub mod backlog;
pub mod index;
pub mod supervisor;

pub use backlog::{Backlog, BacklogTicket, BACKLOG_HIGH, BACKLOG_LOW};
pub use index::{Room, RoomIndex, Selector};
pub use supervisor::RoomSupervisor;
