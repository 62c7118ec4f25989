//! Broadcasts whose recipients acknowledge, and events between servers: the values the
//! [`super::Adapter`] seam hands back for them, and the one way a node asks its own sockets
//! ([`ask_members`]). A cluster adapter adds the other nodes' replies (reference section 4.2,
//! request types 6 to 9).

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::payload::Payload;
use crate::protocol::ids::Sid;
use crate::room::Member;

/// One recipient's acknowledgement of a broadcast.
#[derive(Debug, Clone, PartialEq)]
pub struct AckReply {
    /// The socket that answered, when known: always for this node's sockets, never for another
    /// node's (the wire does not say).
    pub socket: Option<Sid>,
    /// Its arguments: all of them from this node's sockets, the first only from other nodes (the
    /// wire carries the first, as Node's `io.timeout(ms).emit` keeps only the first).
    pub payload: Payload,
}

/// What a broadcast with acknowledgements collected when it ended: every expected reply
/// arrived, or the timeout passed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AckReplies {
    /// Recipients on every node that said how many it had (this node's included).
    pub expected: usize,
    /// The acknowledgements that arrived in time.
    pub replies: Vec<AckReply>,
    /// True when the timeout ended it: a reply, or a node's recipient count, was missing.
    pub timed_out: bool,
}

impl AckReplies {
    /// Adds up the collections of several namespaces.
    pub fn merge(mut self, other: AckReplies) -> Self {
        self.expected += other.expected;
        self.replies.extend(other.replies);
        self.timed_out |= other.timed_out;
        self
    }
}

/// What an event to the other servers with acknowledgements collected.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerReplies {
    /// The other servers (`PUBSUB NUMSUB` minus this one).
    pub expected: usize,
    /// Their replies that arrived in time (`null` for a reply without a value).
    pub replies: Vec<Value>,
}

impl ServerReplies {
    /// True when a server did not reply in time.
    pub fn timed_out(&self) -> bool {
        self.replies.len() < self.expected
    }
}

type AckFn = Box<dyn FnOnce(Option<Value>) + Send>;

/// The reply to an event from another server that asked for one; the first
/// [`ServerAck::send`] of any clone answers, the others do nothing.
#[derive(Clone)]
pub struct ServerAck(Arc<Mutex<Option<AckFn>>>);

impl ServerAck {
    /// The reply that calls `send` once.
    pub fn new(send: impl FnOnce(Option<Value>) + Send + 'static) -> Self {
        ServerAck(Arc::new(Mutex::new(Some(Box::new(send)))))
    }

    /// Replies with `value`.
    pub fn send(&self, value: Value) {
        self.reply(Some(value));
    }

    /// Replies without a value (Node's `callback()`).
    pub fn send_empty(&self) {
        self.reply(None);
    }

    fn reply(&self, value: Option<Value>) {
        let send = self.0.lock().take();
        if let Some(send) = send {
            send(value);
        }
    }

    /// Whether a reply was sent.
    pub fn is_sent(&self) -> bool {
        self.0.lock().is_none()
    }
}

impl std::fmt::Debug for ServerAck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerAck")
            .field("sent", &self.is_sent())
            .finish()
    }
}

/// An event another server sent to this one (`serverSideEmit`).
#[derive(Debug, Clone)]
pub struct ServerEvent {
    /// Its name.
    pub event: String,
    /// Its arguments (JSON: binary does not cross between servers this way).
    pub args: Vec<Value>,
    /// The reply, when the sender waits for one.
    pub ack: Option<ServerAck>,
}

/// Called with each event other servers send to a namespace.
pub type ServerEventHandler = Arc<dyn Fn(ServerEvent) + Send + Sync>;

/// The event name and arguments of a broadcast's data (`[name, ...args]`), its placeholders
/// naming `binary`; `None` when the data has no name.
pub fn split_event(data: Option<&Value>, binary: &[bytes::Bytes]) -> Option<(String, Payload)> {
    let items = data?.as_array()?;
    let event = items.first()?.as_str()?.to_owned();
    let payload = Payload {
        args: items[1..].to_vec(),
        binary: binary.to_vec(),
    };
    Some((event, payload))
}

/// Emits `event` to each of `members` expecting an acknowledgement within `timeout`. Returns
/// how many were asked and the receiver of their replies, which ends once every one of them
/// answered, timed out or went away (so it ends by `timeout` at the latest).
pub fn ask_members<M: Member>(
    members: &[M],
    event: &str,
    payload: &Payload,
    timeout: Duration,
) -> (usize, mpsc::Receiver<AckReply>) {
    // One slot per member: a reply never finds the channel full.
    let (tx, rx) = mpsc::channel(members.len().max(1));
    let mut asked = 0;
    for member in members {
        let (tx, socket) = (tx.clone(), member.id());
        let callback = Box::new(move |reply: Option<Payload>| {
            if let Some(payload) = reply {
                let _ = tx.try_send(AckReply {
                    socket: Some(socket),
                    payload,
                });
            }
        });
        asked += usize::from(member.deliver_with_ack(event, payload.clone(), timeout, callback));
    }
    (asked, rx)
}

/// [`ask_members`], collected: every reply that arrives within `timeout`.
pub async fn collect_members<M: Member>(
    members: Vec<M>,
    event: String,
    payload: Payload,
    timeout: Duration,
) -> AckReplies {
    let (expected, mut rx) = ask_members(&members, &event, &payload, timeout);
    drop(members);
    let mut replies = Vec::with_capacity(expected);
    // Bounded twice: each callback fires once (or is dropped with its socket), and the deadline.
    let deadline = tokio::time::sleep(timeout + Duration::from_millis(50));
    tokio::pin!(deadline);
    while replies.len() < expected {
        tokio::select! {
            reply = rx.recv() => match reply {
                Some(r) => replies.push(r),
                None => break,
            },
            () = &mut deadline => break,
        }
    }
    AckReplies {
        expected,
        timed_out: replies.len() < expected,
        replies,
    }
}

#[cfg(test)]
#[path = "acks_tests.rs"]
mod tests;
