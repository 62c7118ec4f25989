//! The admin route handlers.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use crate::adapter::{LinkState, NodeSocket};
use crate::admin::cluster::{self, Bulk};
use crate::admin::dto::{
    rfc3339, ApiError, EmitRequest, ListQuery, LocalQuery, NamespaceQuery, SocketDto,
    SocketsRequest,
};
use crate::admin::emit;
use crate::admin::AdminState;
use crate::broadcast::BroadcastOperator;
use crate::protocol::socketio::is_reserved_event;
use crate::server::NamespaceRef;

type State = web::Data<AdminState>;
type ApiResult = Result<HttpResponse, ApiError>;

fn namespace(state: &AdminState, name: &str) -> Result<NamespaceRef, ApiError> {
    state
        .server
        .existing(name)
        .ok_or_else(|| ApiError::not_found(format!("no namespace {name:?}")))
}

fn dto(NodeSocket { socket, node }: NodeSocket) -> SocketDto {
    SocketDto {
        id: socket.id.to_string(),
        namespace: socket.nsp,
        rooms: socket.rooms,
        transport: socket.transport,
        address: socket.handshake.address(),
        connected_at: rfc3339(UNIX_EPOCH + Duration::from_millis(socket.connected_at)),
        data: socket.data,
        node,
    }
}

fn page<T>(items: Vec<T>, offset: usize, limit: usize) -> Vec<T> {
    items.into_iter().skip(offset).take(limit).collect()
}

/// 200 whatever the cluster link: a node whose Redis is down still serves its own clients, so a
/// load balancer must keep sending it traffic; `degraded` tells monitoring (and `/metrics`'
/// `roomcast_cluster_redis_connected`) that nothing crosses nodes meanwhile.
pub(super) async fn health(state: State) -> HttpResponse {
    let node_id = &state.node_id;
    HttpResponse::Ok().json(match state.server.link_state() {
        LinkState::Alone => json!({ "status": "ok" }),
        LinkState::Connected => json!({
            "status": "ok",
            "cluster": { "redis": "connected", "node_id": node_id },
        }),
        LinkState::Disconnected => json!({
            "status": "degraded",
            "cluster": { "redis": "disconnected", "node_id": node_id },
        }),
    })
}

pub(super) async fn ready(state: State) -> HttpResponse {
    if state.server.is_draining() {
        HttpResponse::ServiceUnavailable().json(json!({ "status": "draining" }))
    } else {
        HttpResponse::Ok().json(json!({ "status": "ready" }))
    }
}

pub(super) async fn not_found() -> ApiResult {
    Err(ApiError::not_found("no such route"))
}

/// The OpenAPI document, with `info.version` set to this build's version.
pub(super) async fn openapi() -> HttpResponse {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let doc = DOC.get_or_init(|| {
        // The document is part of the source and checked by a unit test.
        let mut doc: Value =
            serde_json::from_str(include_str!("openapi.json")).expect("openapi.json is JSON");
        doc["info"]["version"] = json!(env!("CARGO_PKG_VERSION"));
        doc.to_string()
    });
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.as_str())
}

pub(super) async fn metrics(state: State) -> HttpResponse {
    let server = &state.server;
    let m = server.metrics();
    // Per namespace, with a pattern's namespaces summed under the pattern: the series follow the
    // configuration, not the names clients choose, and go when their namespaces go. The slow part
    // (asking the room supervisors) first, the instant reads right before rendering.
    let mut rooms: BTreeMap<String, f64> = BTreeMap::new();
    for (name, pattern, _) in server.namespace_patterns() {
        if let Some(ns) = server.existing(&name) {
            let n = ns.rooms().await.len() as f64;
            *rooms.entry(pattern.unwrap_or(name)).or_default() += n;
        }
    }
    let mut sockets: BTreeMap<String, f64> = BTreeMap::new();
    for (name, pattern, n) in server.namespace_patterns() {
        *sockets.entry(pattern.unwrap_or(name)).or_default() += n as f64;
    }
    m.gauge("roomcast_memberships", &[])
        .set(m.memberships.load(std::sync::atomic::Ordering::Relaxed) as f64);
    m.gauge("roomcast_dynamic_namespaces", &[])
        .set(server.dynamic_namespace_count() as f64);
    if server.options().recovery.enabled {
        let kinds = ["packets", "packet_bytes", "sessions", "session_bytes"];
        for (kind, held) in kinds.iter().zip(&m.recovery_held) {
            let n = held.load(std::sync::atomic::Ordering::Relaxed) as f64;
            m.gauge("roomcast_recovery_held", &[("kind", (*kind).to_owned())])
                .set(n);
        }
    }
    let (polling, websocket) = server.connections_by_transport();
    for (transport, n) in [("polling", polling), ("websocket", websocket)] {
        m.gauge(
            "roomcast_connections",
            &[("transport", transport.to_owned())],
        )
        .set(n as f64);
    }
    let mut text = m.render();
    crate::metrics::render_gauge(
        &mut text,
        "roomcast_sockets",
        "Connected sockets, by namespace (a pattern's namespaces summed under the pattern)",
        "namespace",
        &sockets,
    );
    crate::metrics::render_gauge(
        &mut text,
        "roomcast_rooms",
        "Named rooms, by namespace (a pattern's namespaces summed under the pattern)",
        "namespace",
        &rooms,
    );
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text)
}

pub(super) async fn stats(state: State, q: web::Query<LocalQuery>) -> ApiResult {
    let server = &state.server;
    let mut namespaces = Vec::new();
    let (mut total, mut nodes) = (0, 1);
    let mut names = server.namespaces();
    names.sort();
    for (name, sockets) in names {
        let (sockets, rooms) = match server.existing(&name) {
            Some(ns) => {
                let op = ns.broadcast();
                nodes = nodes.max(cluster::servers(&op, q.local).await?);
                cluster::summary(&op, q.local).await?
            }
            None => (sockets, 0),
        };
        total += sockets;
        namespaces.push(json!({ "name": name, "sockets": sockets, "rooms": rooms }));
    }
    Ok(HttpResponse::Ok().json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "node_id": state.node_id,
        "nodes": nodes,
        "uptime_s": server.uptime().as_secs(),
        // this node's: Engine.IO connections are not shared between nodes
        "connections": server.connection_count(),
        "sockets": total,
        "namespaces": namespaces,
    })))
}

pub(super) async fn rooms(state: State, q: web::Query<ListQuery>) -> ApiResult {
    let (offset, limit) = q.page()?;
    let ns = namespace(&state, &q.namespace)?;
    let rooms = cluster::rooms(&ns.broadcast(), q.local).await?;
    let total = rooms.len();
    let rooms: Vec<Value> = page(rooms, offset, limit)
        .into_iter()
        .map(|(name, sockets)| json!({ "name": name, "sockets": sockets }))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "rooms": rooms, "total": total })))
}

pub(super) async fn sockets(state: State, q: web::Query<ListQuery>) -> ApiResult {
    let (offset, limit) = q.page()?;
    let ns = namespace(&state, &q.namespace)?;
    let node = &state.node_id;
    let mut found = match &q.room {
        Some(room) if !room.is_empty() => {
            cluster::sockets(&ns.to([room.as_str()]), q.local, node).await?
        }
        Some(_) => Vec::new(),
        None => cluster::sockets(&ns.broadcast(), q.local, node).await?,
    };
    found.sort_by_key(|s| s.socket.id);
    let total = found.len();
    let sockets: Vec<SocketDto> = page(found, offset, limit).into_iter().map(dto).collect();
    Ok(HttpResponse::Ok().json(json!({ "sockets": sockets, "total": total })))
}

pub(super) async fn socket(
    state: State,
    id: web::Path<String>,
    q: web::Query<NamespaceQuery>,
) -> ApiResult {
    let ns = namespace(&state, &q.namespace)?;
    let found = match crate::Sid::parse(&id) {
        Some(sid) => {
            let op = ns.to([sid.as_str()]);
            let is_it = |s: &NodeSocket| s.socket.id == sid;
            // Ids are unique in the cluster: one of this node's needs no question to the others.
            let mine = cluster::sockets(&op, true, &state.node_id).await?;
            match mine.into_iter().find(is_it) {
                Some(found) => Some(found),
                None if q.local => None,
                None => cluster::sockets(&op, false, &state.node_id)
                    .await?
                    .into_iter()
                    .find(is_it),
            }
        }
        None => None,
    };
    let socket = found.ok_or_else(|| ApiError::not_found(format!("no socket {:?}", *id)))?;
    Ok(HttpResponse::Ok().json(dto(socket)))
}

fn targets(ns: &NamespaceRef, rooms: &[String], except: &[String]) -> BroadcastOperator {
    ns.to(rooms.iter().map(String::as_str))
        .except(except.iter().map(String::as_str))
}

pub(super) async fn emit(
    state: State,
    q: web::Query<LocalQuery>,
    body: web::Json<EmitRequest>,
) -> ApiResult {
    let body = body.into_inner();
    if body.event.is_empty() || is_reserved_event(&body.event) {
        return Err(ApiError::bad_request(format!(
            "{:?} is not an event name clients can receive (empty or reserved)",
            body.event
        )));
    }
    let ns = namespace(&state, &body.namespace)?;
    let mut op = targets(&ns, &body.rooms, &body.except);
    if body.volatile {
        op = op.volatile();
    }
    if q.local {
        op = op.local();
    }
    match body.ack_timeout_ms {
        None => emit::emit_counted(&op, &body.event, body.args).await,
        Some(ms) => {
            let timeout = emit::ack_timeout(ms)?;
            emit::emit_with_acks(&op, &body.event, body.args, timeout).await
        }
    }
}

fn selection(state: &AdminState, body: &SocketsRequest) -> Result<BroadcastOperator, ApiError> {
    let ns = namespace(state, &body.namespace)?;
    let mut rooms = body.rooms.clone();
    rooms.extend(body.sockets.iter().cloned());
    Ok(targets(&ns, &rooms, &[]))
}

fn non_empty(rooms: &[String], key: &str) -> Result<(), ApiError> {
    if rooms.is_empty() || rooms.iter().any(|r| r.is_empty() || r.len() > 256) {
        return Err(ApiError::bad_request(format!(
            "{key} must list room names of 1 to 256 bytes"
        )));
    }
    Ok(())
}

pub(super) async fn sockets_join(
    state: State,
    q: web::Query<LocalQuery>,
    body: web::Json<SocketsRequest>,
) -> ApiResult {
    non_empty(&body.add, "add")?;
    let bulk = Bulk::Join(body.add.iter().map(|r| r.as_str().into()).collect());
    let affected = cluster::bulk(&selection(&state, &body)?, q.local, bulk).await?;
    Ok(HttpResponse::Ok().json(json!({ "ok": true, "affected": affected })))
}

pub(super) async fn sockets_leave(
    state: State,
    q: web::Query<LocalQuery>,
    body: web::Json<SocketsRequest>,
) -> ApiResult {
    non_empty(&body.remove, "remove")?;
    let bulk = Bulk::Leave(body.remove.iter().map(|r| r.as_str().into()).collect());
    let affected = cluster::bulk(&selection(&state, &body)?, q.local, bulk).await?;
    Ok(HttpResponse::Ok().json(json!({ "ok": true, "affected": affected })))
}

pub(super) async fn sockets_disconnect(
    state: State,
    q: web::Query<LocalQuery>,
    body: web::Json<SocketsRequest>,
) -> ApiResult {
    let bulk = Bulk::Disconnect(body.close);
    let affected = cluster::bulk(&selection(&state, &body)?, q.local, bulk).await?;
    Ok(HttpResponse::Ok().json(json!({ "ok": true, "affected": affected })))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_openapi_document_is_json_with_this_version() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("openapi.json")).expect("openapi.json is JSON");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    }
}
