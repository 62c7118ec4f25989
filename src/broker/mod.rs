//! The broker: what `roomcast` runs for users who write no Rust. Each configured namespace gets
//! an optional JWT middleware and the client room API (`join`, `leave`, `publish`) under its
//! policy; every other event is answered "unknown event". Events from other servers of a cluster
//! (`serverSideEmit`) are counted in `roomcast_cluster_server_side_events_total`, and those that
//! wait for replies answered `{"ok": true, "server": "roomcast"}`.

pub mod jwt;
pub mod rooms_api;

use std::sync::Arc;

use serde_json::json;

use crate::namespace::ConnectError;
use crate::server::Server;

/// Who may publish to which rooms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishPolicy {
    /// Clients may not publish.
    None,
    /// Only to rooms the client is in.
    Joined,
    /// To any room.
    Any,
}

/// The policy of one configured namespace (or pattern, when `name` ends with `*`).
#[derive(Debug, Clone)]
pub struct NamespacePolicy {
    /// Namespace name or pattern.
    pub name: String,
    /// HS256 secret: when set, a valid JWT is required to connect.
    pub jwt_secret: Option<String>,
    /// Whether clients may join and leave rooms themselves.
    pub client_join: bool,
    /// Who may publish where.
    pub client_publish: PublishPolicy,
}

/// Installs the broker behaviour for `policy` on `server` (refused if the JWT secret is unusable).
pub fn install(server: &Server, policy: NamespacePolicy) -> Result<(), String> {
    let policy = Arc::new(policy);
    let mut ns = server.of(&policy.name);
    if let Some(secret) = policy.jwt_secret.clone() {
        let verifier = jwt::Verifier::new(secret.as_bytes())?;
        let refused: Vec<_> = jwt::JwtError::KINDS
            .iter()
            .map(|kind| {
                let counter = server.metrics().labelled_counter(
                    "roomcast_auth_failures_total",
                    "reason",
                    kind,
                );
                (*kind, counter)
            })
            .collect();
        ns = ns.use_middleware(move |socket| {
            let claims = verifier
                .verify(socket.handshake().auth.get("token"))
                .map_err(|e| {
                    if let Some((_, counter)) = refused.iter().find(|(k, _)| *k == e.kind()) {
                        counter.increment(1);
                    }
                    tracing::warn!(
                        namespace = %socket.ns(),
                        sid = %socket.id(),
                        address = %socket.handshake().conn.address(),
                        reason = %e,
                        "login refused"
                    );
                    ConnectError::new("unauthorized").with_data(json!({ "reason": e.to_string() }))
                })?;
            socket.set_data(json!({ "sub": claims.sub }));
            socket.set_extension(Arc::new(claims));
            Ok(())
        });
    }
    // The counter is made on the first event, not here: a pattern's series appears only once
    // some server sent it an event (no zero series for namespaces that never hear of the cluster).
    let (metrics, name) = (server.shared_metrics(), policy.name.clone());
    let ns = ns.on_server_event(move |event| {
        metrics
            .labelled_counter(
                "roomcast_cluster_server_side_events_total",
                "namespace",
                &name,
            )
            .increment(1);
        tracing::debug!(event = %event.event, "cluster: event from another server");
        // No handler of its own: it says it received the event, so a sender waiting for
        // every server's reply does not time out.
        if let Some(ack) = event.ack {
            ack.send(json!({ "ok": true, "server": "roomcast" }));
        }
    });
    rooms_api::attach(ns, policy);
    Ok(())
}
