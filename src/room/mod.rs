//! Room supervisors: each owns the rooms index of a share of a namespace's sockets and fans
//! broadcasts out to them.

pub mod index;
pub mod supervisor;

pub use index::{Room, RoomIndex, Selector};
pub use supervisor::RoomSupervisor;
