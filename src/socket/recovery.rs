//! The socket side of connection state recovery: who a connecting socket is (a recovered one when
//! its client presents a session the adapter gives back), which disconnect reasons keep a session,
//! and what is kept.

use serde_json::Value;

use crate::adapter::recovery::store::{Restored, SessionState};
use crate::engine::CloseReason;
use crate::namespace::Namespace;
use crate::protocol::ids::Sid;
use crate::socket::{DisconnectReason, Identity, Socket};

/// Who a connecting socket is, and the session it recovers if any.
pub(crate) type Identified = (Identity, Option<Restored>);

/// The identity of a socket connecting to `ns` with CONNECT payload `auth`: recovered when the
/// namespace's adapter keeps sessions and gives back the one `auth.pid` names (its client had
/// the packet at `auth.offset`); otherwise fresh (with a private session id when the adapter
/// keeps sessions). `Err`: the adapter has to ask elsewhere (Redis); the future resolves to it.
pub(crate) fn identity(
    ns: &Namespace,
    auth: &Value,
) -> Result<Identified, crate::adapter::BoxFuture<Identified>> {
    use futures_util::FutureExt;
    let adapter = ns.adapter();
    if !adapter.keeps_sessions() {
        let identity = Identity {
            id: Sid::new(),
            pid: None,
            recovered: false,
        };
        return Ok((identity, None));
    }
    let claim = match (auth.get("pid"), auth.get("offset")) {
        (Some(Value::String(pid)), Some(Value::String(offset))) => Some((pid, offset)),
        _ => None,
    };
    let Some((pid, offset)) = claim else {
        return Ok(identified(None));
    };
    let restoring = adapter.restore_session(pid, offset);
    let mut restoring = restoring.map(identified);
    match (&mut restoring).now_or_never() {
        Some(done) => Ok(done),
        None => Err(Box::pin(restoring)),
    }
}

/// The identity of a socket with recovery on: the restored session's, or a fresh one.
fn identified(restored: Option<Restored>) -> Identified {
    match restored {
        Some(restored) => {
            let identity = Identity {
                id: restored.session.sid,
                pid: Some(restored.session.pid),
                recovered: true,
            };
            (identity, Some(restored))
        }
        None => {
            let identity = Identity {
                id: Sid::new(),
                pid: Some(Sid::new()),
                recovered: false,
            };
            (identity, None)
        }
    }
}

/// Whether a socket that left for `reason` keeps its session: the reasons Socket.IO lists (the
/// connection was lost or closed by the server, not a namespace disconnect or a parse error).
pub(crate) fn recoverable(reason: DisconnectReason) -> bool {
    matches!(
        reason,
        DisconnectReason::Engine(
            CloseReason::TransportClose
                | CloseReason::TransportError
                | CloseReason::PingTimeout
                | CloseReason::ForcedClose
                | CloseReason::ForcedServerClose
                | CloseReason::ServerShuttingDown
        )
    )
}

/// What a socket leaving for `reason` keeps, if anything (its rooms are still recorded).
pub(crate) fn session_of(socket: &Socket, reason: DisconnectReason) -> Option<SessionState> {
    let pid = socket.pid()?;
    if !recoverable(reason) {
        return None;
    }
    Some(SessionState {
        sid: socket.id(),
        pid,
        nsp: socket.ns().to_owned(),
        rooms: socket.named_rooms(),
        data: socket.data(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_lost_or_server_closed_connection_keeps_a_session() {
        use CloseReason::*;
        for r in [
            TransportClose,
            TransportError,
            PingTimeout,
            ForcedClose,
            ForcedServerClose,
        ] {
            assert!(recoverable(DisconnectReason::Engine(r)), "{r}");
        }
        assert!(recoverable(DisconnectReason::Engine(ServerShuttingDown)));
        for r in [ParseError, SlowConsumer] {
            assert!(!recoverable(DisconnectReason::Engine(r)), "{r}");
        }
        assert!(!recoverable(DisconnectReason::ClientNamespaceDisconnect));
        assert!(!recoverable(DisconnectReason::ServerNamespaceDisconnect));
    }
}

#[cfg(test)]
#[path = "recovery_tests.rs"]
mod session_tests;
