//! The Engine.IO layer: one session actor per client connection (heartbeat, upgrade, inbound packets),
//! the shared outbound queue its transports drain, the registry of live sessions, and the
//! [`Handler`] seam through which whole messages go to the layer above (which this layer never
//! names).

pub mod conn;
pub mod handler;
pub mod registry;
pub mod session;
pub mod shared;
pub mod state;
pub mod take;

pub use conn::{Conn, PushOutcome, QueueBounds};
pub use handler::{Handler, HandlerFactory, Message, SessionIo};
pub use registry::Registry;
pub use session::EngineSession;
pub use shared::{Engine, EngineOptions};
pub use state::EngineState;

pub use crate::protocol::engineio::CloseReason;
