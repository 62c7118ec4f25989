//! The handlers a namespace runs, shared by a pattern and the namespaces it created: connection
//! middlewares, connection handlers, namespace-wide event handlers, and the handlers of the
//! events other servers of the cluster send.

use std::collections::HashMap;

use parking_lot::RwLock;

use super::{AsyncMiddleware, ConnectionHandler, Middleware};
use crate::adapter::{ServerEvent, ServerEventHandler};
use crate::socket::EventHandler;

/// Middlewares, connection handlers and namespace-wide event handlers, shared by a pattern and the
/// namespaces it created.
#[derive(Default)]
pub struct NsHandlers {
    pub(super) middlewares: RwLock<Vec<Middleware>>,
    pub(super) async_middlewares: RwLock<Vec<AsyncMiddleware>>,
    pub(super) connection: RwLock<Vec<ConnectionHandler>>,
    events: RwLock<HashMap<String, EventHandler>>,
    fallback: RwLock<Option<EventHandler>>,
    server_events: RwLock<Vec<ServerEventHandler>>,
}

impl NsHandlers {
    /// Adds a middleware (they run in order).
    pub fn add_middleware(&self, m: Middleware) {
        self.middlewares.write().push(m);
    }

    /// Adds an asynchronous middleware (they run in order, after the synchronous ones).
    pub fn add_async_middleware(&self, m: AsyncMiddleware) {
        self.async_middlewares.write().push(m);
    }

    /// Adds a connection handler.
    pub fn add_connection(&self, h: ConnectionHandler) {
        self.connection.write().push(h);
    }

    /// Sets the handler of `event` for every socket (a socket's own handler wins).
    pub fn add_event(&self, event: String, h: EventHandler) {
        self.events.write().insert(event, h);
    }

    /// Sets the handler of events no other handler takes, for every socket.
    pub fn set_fallback(&self, h: EventHandler) {
        *self.fallback.write() = Some(h);
    }

    /// Adds a handler of the events other servers of the cluster send (they run in order).
    pub fn add_server_event(&self, h: ServerEventHandler) {
        self.server_events.write().push(h);
    }

    /// Runs the handlers of an event from another server.
    pub(crate) fn server_event(&self, event: ServerEvent) {
        let hs = self.server_events.read().clone();
        for h in hs {
            h(event.clone());
        }
    }

    /// The namespace-wide handler of `event` (`true`: the fallback, which wants the name).
    pub(crate) fn event(&self, event: &str) -> Option<(EventHandler, bool)> {
        if let Some(h) = self.events.read().get(event) {
            return Some((h.clone(), false));
        }
        self.fallback.read().clone().map(|h| (h, true))
    }
}
