//! The admin API's view of the cluster: the listings and bulk operations ask every node through
//! the namespaces' adapters, or only this node with `?local=true` (the adapter's
//! [`Adapter::node_local`] part). Alone (the local adapter), both are the same.
//!
//! A cluster call fails at once with 503 `cluster_unavailable` while the link to the other nodes
//! is down, before acting on anything; `?local=true` still answers. Peers that do not answer
//! within the request timeout are left out, as Node's `fetchSockets` leaves them out.
//!
//! Stats count the other nodes' sockets and rooms from their SOCKETS and ALL_ROOMS answers (ids
//! and names, no descriptions); the Engine.IO connections counted are this node's.
//!
//! Room sizes across nodes: Node's ALL_ROOMS request carries room names only, so the other nodes'
//! rooms are counted from their sockets' descriptions (REMOTE_FETCH), as the socket listing
//! fetches them; this node's rooms come from its room supervisors.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::adapter::{Adapter, ClusterError, NodeSocket};
use crate::admin::dto::ApiError;
use crate::broadcast::BroadcastOperator;
use crate::room::{Room, Selector};
use crate::socket::Socket;

/// A bulk operation on the selected sockets.
pub(super) enum Bulk {
    /// They join these rooms.
    Join(Vec<Room>),
    /// They leave these rooms.
    Leave(Vec<Room>),
    /// They are disconnected (their connections closed too when `true`).
    Disconnect(bool),
}

fn unavailable(e: ClusterError) -> ApiError {
    ApiError::cluster_unavailable(format!("{e}; add ?local=true to ask this node alone"))
}

/// The adapter that answers: the namespace's, or its node-local part with `local`.
fn scoped(adapter: &Arc<dyn Adapter<Socket>>, local: bool) -> &dyn Adapter<Socket> {
    match adapter.node_local() {
        Some(node_local) if local => node_local,
        _ => &**adapter,
    }
}

/// How many servers serve the namespaces of `op` (the most of any of them; 1 with `local`).
/// Every server, Node's or roomcast's, subscribes a namespace's request channel once it uses it.
pub(super) async fn servers(op: &BroadcastOperator, local: bool) -> Result<usize, ApiError> {
    let mut most = 1;
    if !local {
        for ns in op.parts().0 {
            most = most.max(ns.adapter().server_count().await.map_err(unavailable)?);
        }
    }
    Ok(most)
}

/// How many sockets the namespaces of `op` hold and how many named rooms they have, on every
/// node unless `local` (from the other nodes' SOCKETS and ALL_ROOMS answers).
pub(super) async fn summary(
    op: &BroadcastOperator,
    local: bool,
) -> Result<(usize, usize), ApiError> {
    let (namespaces, _) = op.parts();
    let (mut sockets, mut rooms) = (0, BTreeSet::new());
    for ns in namespaces {
        let adapter = ns.adapter();
        if !local {
            let remote = adapter.remote_summary().await.map_err(unavailable)?;
            sockets += remote.sockets;
            rooms.extend(remote.rooms);
        }
        sockets += ns.socket_count();
        let mine = scoped(adapter, true).rooms().await;
        rooms.extend(mine.into_iter().map(|(room, _)| room.to_string()));
    }
    Ok((sockets, rooms.len()))
}

/// The selected sockets of this node (held by `this_node`) and, unless `local`, of the others.
pub(super) async fn sockets(
    op: &BroadcastOperator,
    local: bool,
    this_node: &str,
) -> Result<Vec<NodeSocket>, ApiError> {
    let (namespaces, selector) = op.parts();
    let mut found = Vec::new();
    for ns in namespaces {
        let adapter = ns.adapter();
        if !local {
            found.extend(
                adapter
                    .remote_sockets(selector.clone())
                    .await
                    .map_err(unavailable)?,
            );
        }
        let mine = scoped(adapter, true).fetch_sockets(selector.clone()).await;
        found.extend(mine.into_iter().map(|socket| NodeSocket {
            socket,
            node: Some(this_node.to_owned()),
        }));
    }
    Ok(found)
}

/// Named rooms and their sizes, summed over the nodes unless `local`.
pub(super) async fn rooms(
    op: &BroadcastOperator,
    local: bool,
) -> Result<Vec<(String, usize)>, ApiError> {
    let (namespaces, _) = op.parts();
    let mut sizes: BTreeMap<String, usize> = BTreeMap::new();
    for ns in namespaces {
        let adapter = ns.adapter();
        if !local {
            let everyone = Arc::new(Selector::default());
            let remote = adapter
                .remote_sockets(everyone)
                .await
                .map_err(unavailable)?;
            for room in remote.iter().flat_map(|s| s.socket.rooms.iter()) {
                *sizes.entry(room.clone()).or_default() += 1;
            }
        }
        for (room, n) in scoped(adapter, true).rooms().await {
            *sizes.entry(room.to_string()).or_default() += n;
        }
    }
    Ok(sizes.into_iter().collect())
}

/// Applies `bulk` to the selected sockets (of this node alone with `local`) and returns how many
/// were selected: this node's, plus the other nodes' that answered a fetch of the same selection
/// made first (a cluster operation is not acknowledged by Node's adapter, so this is the count
/// that can be known).
pub(super) async fn bulk(
    op: &BroadcastOperator,
    local: bool,
    bulk: Bulk,
) -> Result<usize, ApiError> {
    let (namespaces, selector) = op.parts();
    let mut affected = 0;
    for ns in namespaces {
        let adapter = scoped(ns.adapter(), local);
        if !local {
            affected += adapter
                .remote_sockets(selector.clone())
                .await
                .map_err(unavailable)?
                .len();
        }
        let sel = selector.clone();
        affected += match &bulk {
            Bulk::Join(rooms) => adapter.sockets_join(sel, rooms.clone()).await,
            Bulk::Leave(rooms) => adapter.sockets_leave(sel, rooms.clone()).await,
            Bulk::Disconnect(close) => adapter.disconnect_sockets(sel, *close).await,
        };
    }
    Ok(affected)
}
