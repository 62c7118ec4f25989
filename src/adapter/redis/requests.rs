//! Requests between servers of the classic adapter (reference section 4.2), both ways: this
//! server's questions ([`Requests::ask`], [`Requests::tell`]) and its answers to the others'
//! ([`request_handler`]).
//!
//! Asking counts the servers with `PUBSUB NUMSUB <key>-request#<nsp>#` (every server, Node's and
//! roomcast's, `SUBSCRIBE`s it), publishes the request and collects responses until every other
//! server has answered or [`REQUEST_TIMEOUT`] has passed; then it returns what arrived, as Node's
//! adapter does for `fetchSockets` and `allRooms`. While the link to Redis is down nothing is
//! asked: [`Requests::try_ask`] fails at once with [`ClusterError::Unavailable`] (and
//! [`Requests::ask`] returns no responses) rather than waiting for the timeout.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use rand::distr::{Alphanumeric, SampleString};
use tokio::sync::mpsc;

use crate::adapter::local::LocalAdapter;
use crate::adapter::redis::channel::{request_channel, response_channel};
use crate::adapter::redis::link::{Handler, RedisLink};
use crate::adapter::redis::node_socket::to_node;
use crate::adapter::redis::request::{LegacyOp, Request, RequestType};
use crate::adapter::redis::response::Response;
use crate::adapter::{Adapter, ClusterError};
use crate::room::{Member, Room, Selector};

/// How long a request waits for the other servers' responses (Node's `requestsTimeout`).
pub const REQUEST_TIMEOUT: Duration = Duration::from_millis(5000);

struct Pending {
    kind: RequestType,
    answers: mpsc::UnboundedSender<Response>,
}

/// The requests of one namespace's adapter that wait for responses.
pub struct Requests {
    link: Arc<RedisLink>,
    channel: String,
    pending: Mutex<HashMap<String, Pending>>,
    timeout: Duration,
}

impl Requests {
    /// The requests of namespace `nsp` under `key`, over `link`.
    pub fn new(link: Arc<RedisLink>, key: &str, nsp: &str) -> Self {
        Requests {
            link,
            channel: request_channel(key, nsp),
            pending: Mutex::default(),
            timeout: REQUEST_TIMEOUT,
        }
    }

    /// What to do with a message on this server's response channels: hand it to the request it
    /// answers, if that one still waits.
    pub fn response_handler(self: &Arc<Self>) -> Handler {
        let weak: Weak<Requests> = Arc::downgrade(self);
        Arc::new(move |channel: &str, payload: Bytes| {
            let Some(requests) = weak.upgrade() else {
                return;
            };
            let kind = |id: &str| requests.pending.lock().get(id).map(|p| p.kind);
            match Response::decode(&payload, kind) {
                Ok(Some(response)) => {
                    if let Some(p) = requests.pending.lock().get(response.request_id()) {
                        let _ = p.answers.send(response);
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::debug!(%channel, error = %e, "cluster: ignored a response"),
            }
        })
    }

    /// Publishes `request`, expecting no response.
    pub fn tell(&self, request: &Request) {
        self.link.publish(self.channel.clone(), request.encode());
    }

    /// How many servers serve the namespace (`PUBSUB NUMSUB` of its request channel), this one
    /// included; fails at once while the link is down, or when Redis does not answer.
    pub async fn servers(&self) -> Result<usize, ClusterError> {
        if !self.link.is_connected() {
            return Err(unavailable());
        }
        self.link
            .numsub(&self.channel)
            .await
            .ok_or_else(unavailable)
    }

    /// [`Requests::try_ask`], with no responses when the cluster cannot be reached.
    pub async fn ask(
        &self,
        kind: RequestType,
        make: impl FnOnce(String) -> Request,
    ) -> Vec<Response> {
        self.try_ask(kind, make).await.unwrap_or_default()
    }

    /// Asks every other server with the request `make` builds from a fresh request id, and
    /// returns their responses: all of them, or those that arrived within the timeout. No other
    /// server: no request, no responses. Fails at once when the link to Redis is down.
    pub async fn try_ask(
        &self,
        kind: RequestType,
        make: impl FnOnce(String) -> Request,
    ) -> Result<Vec<Response>, ClusterError> {
        // This server's own subscription is one of them.
        let expected = self.servers().await?.saturating_sub(1);
        if expected == 0 {
            return Ok(Vec::new());
        }
        let id = Alphanumeric.sample_string(&mut rand::rng(), 12);
        let (answers, mut rx) = mpsc::unbounded_channel();
        self.pending
            .lock()
            .insert(id.clone(), Pending { kind, answers });
        self.link
            .publish(self.channel.clone(), make(id.clone()).encode());
        let mut responses = Vec::with_capacity(expected);
        let deadline = tokio::time::sleep(self.timeout);
        tokio::pin!(deadline);
        while responses.len() < expected {
            tokio::select! {
                response = rx.recv() => match response {
                    Some(r) => responses.push(r),
                    None => break,
                },
                () = &mut deadline => {
                    tracing::debug!(?kind, expected, got = responses.len(), "cluster: request timed out");
                    break;
                }
            }
        }
        self.pending.lock().remove(&id);
        Ok(responses)
    }
}

fn unavailable() -> ClusterError {
    ClusterError::Unavailable("Redis is unreachable (this node keeps reconnecting)".to_owned())
}

/// What to do with a message on the request channel of namespace `nsp`: answer another
/// server's request from `local` (never this server's own, `uid`), publishing the response on
/// `<key>-response#<nsp>#`.
pub fn request_handler<M: Member>(
    local: Weak<LocalAdapter<M>>,
    link: Weak<RedisLink>,
    key: &str,
    nsp: &str,
    uid: &str,
) -> Handler {
    let (responses, uid) = (response_channel(key, nsp), uid.to_owned());
    Arc::new(move |channel: &str, payload: Bytes| {
        let request = match Request::decode(&payload) {
            Ok(request) => request,
            Err(e) => {
                tracing::debug!(%channel, error = %e, "cluster: ignored a request");
                return;
            }
        };
        if sender(&request) == Some(uid.as_str()) {
            return;
        }
        let (Some(local), Some(link)) = (local.upgrade(), link.upgrade()) else {
            return;
        };
        let responses = responses.clone();
        actix_rt::spawn(async move {
            if let Some(mut response) = answer(&*local, request).await {
                stamp_node(&mut response, link.node_id());
                link.publish(responses, response.encode());
            }
        });
    })
}

/// Adds `"node": node` to each socket of a REMOTE_FETCH response, so a roomcast node asking knows
/// where each socket is (Node.js servers read the fields they know and ignore this one).
fn stamp_node(response: &mut Response, node: &str) {
    if let Response::Fetch { sockets, .. } = response {
        for socket in sockets
            .iter_mut()
            .filter_map(serde_json::Value::as_object_mut)
        {
            socket.insert("node".to_owned(), node.into());
        }
    }
}

/// The uid of the server that sent `request`, if it says.
fn sender(request: &Request) -> Option<&str> {
    match request {
        Request::Sockets { uid, .. }
        | Request::AllRooms { uid, .. }
        | Request::Legacy { uid, .. }
        | Request::Fetch { uid, .. }
        | Request::ServerSideEmit { uid, .. }
        | Request::Broadcast { uid, .. } => Some(uid),
        Request::Rooms { uid, .. } | Request::Disconnect { uid, .. } => uid.as_deref(),
        Request::Ignored { .. } => None,
    }
}

/// Carries out `request` on this server's sockets and returns the response it calls for.
pub async fn answer<M: Member>(local: &LocalAdapter<M>, request: Request) -> Option<Response> {
    match request {
        Request::Sockets {
            request_id, rooms, ..
        } => {
            let selector = Selector {
                rooms,
                except: Vec::new(),
                except_sid: None,
            };
            let found = local.fetch_sockets(Arc::new(selector)).await;
            let sockets = found.iter().map(|s| s.id.to_string()).collect();
            Some(Response::Sockets {
                request_id,
                sockets,
            })
        }
        Request::AllRooms { request_id, .. } => {
            let rooms = local.rooms().await;
            let rooms = rooms.into_iter().map(|(r, _)| r.to_string()).collect();
            Some(Response::AllRooms { request_id, rooms })
        }
        Request::Rooms {
            join,
            targets,
            rooms,
            ..
        } => {
            let selector = Arc::new(targets.selector());
            if join {
                local.sockets_join(selector, rooms).await;
            } else {
                local.sockets_leave(selector, rooms).await;
            }
            None
        }
        Request::Disconnect { targets, close, .. } => {
            local
                .disconnect_sockets(Arc::new(targets.selector()), close)
                .await;
            None
        }
        Request::Legacy {
            request_id,
            op,
            sid,
            ..
        } => legacy(local, request_id, op, sid).await,
        Request::Fetch {
            request_id,
            targets,
            ..
        } => {
            let found = local.fetch_sockets(Arc::new(targets.selector())).await;
            let sockets = found.iter().map(to_node).collect();
            Some(Response::Fetch {
                request_id,
                sockets,
            })
        }
        // Server-side emits and broadcasts with acknowledgements: not answered yet.
        Request::ServerSideEmit { .. } | Request::Broadcast { .. } | Request::Ignored { .. } => {
            None
        }
    }
}

/// A pre-v4 one-socket request: only the server holding socket `sid` acts and answers.
async fn legacy<M: Member>(
    local: &LocalAdapter<M>,
    request_id: String,
    op: LegacyOp,
    sid: String,
) -> Option<Response> {
    let selector = Arc::new(Selector {
        rooms: vec![Room::from(sid.as_str())],
        except: Vec::new(),
        except_sid: None,
    });
    let done = match op {
        LegacyOp::Join(room) => local.sockets_join(selector, vec![Room::from(room)]).await,
        LegacyOp::Leave(room) => local.sockets_leave(selector, vec![Room::from(room)]).await,
        LegacyOp::Disconnect(close) => local.disconnect_sockets(selector, close).await,
    };
    (done > 0).then_some(Response::Done { request_id })
}
