//! This server's requests to the others of the classic adapter (reference section 4.2):
//! [`Requests::tell`] (no answer expected), [`Requests::ask`] (SOCKETS, ALL_ROOMS, REMOTE_FETCH,
//! SERVER_SIDE_EMIT with acknowledgements) and [`Requests::broadcast_with_ack`] (BROADCAST, then
//! each server's BROADCAST_CLIENT_COUNT and one BROADCAST_ACK per client). The answers to the
//! other servers' requests are in [`super::answers`].
//!
//! Asking counts the servers with `PUBSUB NUMSUB <key>-request#<nsp>#` (every server, Node's and
//! roomcast's, `SUBSCRIBE`s it), publishes the request and collects responses until every other
//! server has answered or the request timeout (`request_timeout`, Node's `requestsTimeout`) has
//! passed; then it returns what arrived, as Node's adapter does. While the link to Redis is down
//! nothing is asked: [`Requests::try_ask`] fails at once with [`ClusterError::Unavailable`] (and
//! [`Requests::ask`] returns no responses) rather than waiting for the timeout.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use rand::distr::{Alphanumeric, SampleString};
use tokio::sync::mpsc;

use crate::adapter::acks::AckReplies;
use crate::adapter::redis::ack_exchange::gather_acks;
pub use crate::adapter::redis::ack_exchange::RemoteTally;
use crate::adapter::redis::channel::request_channel;
use crate::adapter::redis::link::{Handler, RedisLink};
use crate::adapter::redis::options::RedisAdapterOptions;
use crate::adapter::redis::request::{Request, RequestType};
use crate::adapter::redis::response::Response;
use crate::adapter::{BoxFuture, ClusterError};
use crate::room::Room;

/// Responses queued for one request, at most; past this they are dropped (and logged): the
/// request reads them as they come, so only a flood fills it.
pub const RESPONSE_QUEUE: usize = 4096;

struct Pending {
    kind: RequestType,
    answers: mpsc::Sender<Response>,
}

/// The requests of one namespace's adapter that wait for responses.
pub struct Requests {
    link: Arc<RedisLink>,
    channel: String,
    pending: Mutex<HashMap<String, Pending>>,
    timeout: Duration,
}

/// A request waiting for its responses; forgotten when dropped.
pub struct Open {
    /// Its request id.
    pub id: String,
    /// Its responses as they arrive.
    pub answers: mpsc::Receiver<Response>,
    requests: Weak<Requests>,
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(requests) = self.requests.upgrade() {
            requests.pending.lock().remove(&self.id);
        }
    }
}

impl Requests {
    /// The requests of namespace `nsp` over `link`, with `options`' key and timeout.
    pub fn new(link: Arc<RedisLink>, options: &RedisAdapterOptions, nsp: &str) -> Self {
        Requests {
            link,
            channel: request_channel(&options.key, nsp),
            pending: Mutex::default(),
            timeout: options.request_timeout,
        }
    }

    /// How long a request waits for the other servers.
    pub fn timeout(&self) -> Duration {
        self.timeout
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
                        if p.answers.try_send(response).is_err() {
                            tracing::debug!(%channel, "cluster: dropped a response (queue full)");
                        }
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::debug!(%channel, error = %e, "cluster: ignored a response"),
            }
        })
    }

    /// Registers a request of type `kind` under a fresh id, before it is published.
    pub fn open(self: &Arc<Self>, kind: RequestType) -> Open {
        let id = Alphanumeric.sample_string(&mut rand::rng(), 12);
        let (answers, rx) = mpsc::channel(RESPONSE_QUEUE);
        self.pending
            .lock()
            .insert(id.clone(), Pending { kind, answers });
        Open {
            id,
            answers: rx,
            requests: Arc::downgrade(self),
        }
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

    /// How many other servers there are: [`Requests::servers`] minus this server's own
    /// subscription; 0 when the cluster cannot be reached.
    pub async fn others(&self) -> usize {
        self.servers().await.map_or(0, |n| n.saturating_sub(1))
    }

    /// Publishes `request`, expecting no response.
    pub fn tell(&self, request: &Request) {
        self.link.publish(self.channel.clone(), request.encode());
    }

    /// Asks every other server with the request `make` builds from a fresh request id, and
    /// returns how many servers were asked and their responses: all of them, or those that
    /// arrived within the timeout. No other server (or no answer from `PUBSUB NUMSUB`): no
    /// request, no responses.
    pub async fn ask(
        self: &Arc<Self>,
        kind: RequestType,
        make: impl FnOnce(String) -> Request,
    ) -> (usize, Vec<Response>) {
        self.ask_within(kind, make, self.timeout).await
    }

    /// [`Requests::ask`] waiting `timeout` instead of the request timeout.
    pub async fn ask_within(
        self: &Arc<Self>,
        kind: RequestType,
        make: impl FnOnce(String) -> Request,
        timeout: Duration,
    ) -> (usize, Vec<Response>) {
        let expected = self.others().await;
        (expected, self.collect(kind, make, timeout, expected).await)
    }

    /// [`Requests::ask`], failing at once when the link to Redis is down (or Redis does not
    /// answer the server count) instead of answering with no responses.
    pub async fn try_ask(
        self: &Arc<Self>,
        kind: RequestType,
        make: impl FnOnce(String) -> Request,
    ) -> Result<Vec<Response>, ClusterError> {
        // This server's own subscription is one of them.
        let expected = self.servers().await?.saturating_sub(1);
        Ok(self.collect(kind, make, self.timeout, expected).await)
    }

    /// Publishes the request `make` builds and collects the responses of `expected` servers, or
    /// those that arrived within `timeout`; nothing is published when `expected` is 0.
    async fn collect(
        self: &Arc<Self>,
        kind: RequestType,
        make: impl FnOnce(String) -> Request,
        timeout: Duration,
        expected: usize,
    ) -> Vec<Response> {
        if expected == 0 {
            return Vec::new();
        }
        let mut open = self.open(kind);
        self.link
            .publish(self.channel.clone(), make(open.id.clone()).encode());
        let mut responses = Vec::with_capacity(expected);
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        while responses.len() < expected {
            tokio::select! {
                response = open.answers.recv() => match response {
                    Some(r) => responses.push(r),
                    None => break,
                },
                () = &mut deadline => {
                    tracing::debug!(?kind, expected, got = responses.len(), "cluster: request timed out");
                    break;
                }
            }
        }
        responses
    }

    /// The ids of the other servers' sockets in any of `rooms` (all of them for none), by a
    /// SOCKETS request from server `uid`.
    pub async fn socket_ids(self: &Arc<Self>, uid: &str, rooms: Vec<Room>) -> HashSet<String> {
        let uid = uid.to_owned();
        let request = |request_id| Request::Sockets {
            uid,
            request_id,
            rooms,
        };
        let (_, responses) = self.ask(RequestType::Sockets, request).await;
        let mut ids = HashSet::new();
        for response in responses {
            if let Response::Sockets { sockets, .. } = response {
                ids.extend(sockets);
            }
        }
        ids
    }

    /// Publishes the broadcast with acknowledgements `make` builds from a fresh request id, and
    /// collects: `local` (this server's own recipients), every other server's client count and
    /// each of their clients' acknowledgements, until all arrived or `timeout` passed.
    pub async fn broadcast_with_ack(
        self: &Arc<Self>,
        make: impl FnOnce(String) -> Request,
        local: BoxFuture<AckReplies>,
        timeout: Duration,
    ) -> AckReplies {
        let mut open = self.open(RequestType::Broadcast);
        self.link
            .publish(self.channel.clone(), make(open.id.clone()).encode());
        let others = self.others();
        gather_acks(local, others, &mut open.answers, RemoteTally::add, timeout).await
    }
}

#[cfg(test)]
#[path = "requests_tests.rs"]
mod tests;

/// The error of a cluster request made while the link to Redis is down.
pub fn unavailable() -> ClusterError {
    ClusterError::Unavailable("Redis is unreachable (this node keeps reconnecting)".to_owned())
}
