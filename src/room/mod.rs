//! Room supervisors: each owns the rooms index of the sockets of one worker thread in one namespace
//! and fans broadcasts out to them.

pub mod index;
pub mod supervisor;

pub use index::{Room, RoomIndex, Selector};
pub use supervisor::RoomShard;
