//! Broadcasts with acknowledgements between servers, the part both Redis adapters share whatever
//! their wire format: the requester's side ([`RemoteTally`], [`gather_acks`]: every other server's
//! client count, then one acknowledgement per client) and the answering side
//! ([`answer_broadcast`]: deliver to this server's selected sockets, say how many, then pass on
//! each reply). The classic adapter carries them as BROADCAST (7) / BROADCAST_CLIENT_COUNT (8) /
//! BROADCAST_ACK (9) requests and responses, the sharded one as `ClusterAdapter` messages 3, 11
//! and 12; each maps its own messages onto these.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::adapter::acks::{ask_members, split_event, AckReplies, AckReply};
use crate::adapter::local::LocalAdapter;
use crate::adapter::redis::response::Response;
use crate::adapter::redis::wire::{Targets, WirePacket};
use crate::adapter::{Adapter, BoxFuture};
use crate::payload::Payload;
use crate::room::Member;

/// What the other servers answered so far to a broadcast with acknowledgements: pure, so the
/// rule for "every reply arrived" is tested on its own.
#[derive(Debug, Default)]
pub struct RemoteTally {
    /// How many other servers must say how many clients they have; `None` until known.
    pub servers: Option<usize>,
    /// Servers that said so far.
    pub counted: usize,
    /// Their clients, summed.
    pub clients: usize,
    /// The acknowledgements so far.
    pub replies: Vec<AckReply>,
}

impl RemoteTally {
    /// Takes one classic response: a client count or an acknowledgement; anything else is
    /// ignored.
    pub fn add(&mut self, response: Response) {
        match response {
            Response::ClientCount { client_count, .. } => self.count(client_count),
            Response::BroadcastAck { packet, binary, .. } => self.ack(packet, binary),
            _ => {}
        }
    }

    /// One server said it has `clients` recipients.
    pub fn count(&mut self, clients: u64) {
        self.counted += 1;
        let count = usize::try_from(clients).unwrap_or(usize::MAX);
        self.clients = self.clients.saturating_add(count);
    }

    /// One client of another server acknowledged with `packet` (its first argument, whose
    /// placeholders name `binary`). An acknowledgement beyond the clients counted so far is
    /// dropped (a server publishes its count before its acks, so only a misbehaving peer sends
    /// one), which bounds what a request holds.
    pub fn ack(&mut self, packet: Value, binary: Vec<Bytes>) {
        if self.replies.len() >= self.clients {
            tracing::debug!("cluster: dropped an acknowledgement beyond the clients counted");
            return;
        }
        self.replies.push(AckReply {
            socket: None,
            payload: Payload {
                args: vec![packet],
                binary,
            },
        });
    }

    /// Whether every other server said how many clients it has and each of them replied.
    pub fn complete(&self) -> bool {
        self.servers.is_some_and(|s| self.counted >= s) && self.replies.len() >= self.clients
    }

    /// The whole collection: this server's `own` replies, then the others'.
    pub fn finish(self, own: AckReplies) -> AckReplies {
        let timed_out = own.timed_out || !self.complete();
        let mut replies = own.replies;
        replies.extend(self.replies);
        AckReplies {
            expected: own.expected + self.clients,
            replies,
            timed_out,
        }
    }
}

/// Collects a published broadcast with acknowledgements: `local` (this server's own
/// recipients), `others` (how many other servers must answer), and the `answers` to the request,
/// each taken into the tally by `add`, until everything arrived or `timeout` passed (this
/// server's own sockets time out on their own by then: they are waited for).
pub async fn gather_acks<R>(
    local: BoxFuture<AckReplies>,
    others: impl Future<Output = usize>,
    answers: &mut mpsc::Receiver<R>,
    add: impl Fn(&mut RemoteTally, R),
    timeout: Duration,
) -> AckReplies {
    let mut tally = RemoteTally::default();
    let mut own: Option<AckReplies> = None;
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(local, others, deadline);
    while own.is_none() || !tally.complete() {
        tokio::select! {
            replies = &mut local, if own.is_none() => own = Some(replies),
            n = &mut others, if tally.servers.is_none() => tally.servers = Some(n),
            answer = answers.recv() => match answer {
                Some(a) => add(&mut tally, a),
                None => break,
            },
            () = &mut deadline => break,
        }
    }
    let own = match own {
        Some(own) => own,
        None => local.await,
    };
    tally.finish(own)
}

/// What a server answering a broadcast with acknowledgements publishes: first its recipient
/// count (even 0), then one acknowledgement per reply.
#[derive(Debug, Clone, PartialEq)]
pub enum AckAnswer {
    /// How many of this server's sockets were asked.
    Count(u64),
    /// One socket's reply: its first argument, and the binaries its placeholders name.
    Ack(Value, Vec<Bytes>),
}

/// Delivers another server's broadcast (`packet` to `targets`) to the selected sockets of
/// `local`, each asked for an acknowledgement within `timeout`; hands `send` their count at
/// once (even 0), then each reply as it comes. Ends when every socket replied or timed out.
pub async fn answer_broadcast<M: Member>(
    local: Arc<LocalAdapter<M>>,
    (packet, targets): (WirePacket, Targets),
    timeout: Duration,
    send: impl Fn(AckAnswer),
) {
    let members = local.local_sockets(Arc::new(targets.selector())).await;
    drop(local);
    let named = split_event(packet.packet.data.as_ref(), &packet.binary);
    let (count, replies) = match &named {
        Some((event, payload)) => {
            let (n, rx) = ask_members(&members, event, payload, timeout);
            (n, Some(rx))
        }
        None => (0, None),
    };
    drop(members);
    send(AckAnswer::Count(count as u64));
    let Some(mut replies) = replies else { return };
    while let Some(reply) = replies.recv().await {
        let mut args = reply.payload.args.into_iter();
        let first = args.next().unwrap_or(Value::Null);
        send(AckAnswer::Ack(first, reply.payload.binary));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::local::ArbiterPool;
    use crate::metrics::Metrics;
    use crate::room::test_member::TestMember;
    use parking_lot::Mutex;
    use serde_json::json;

    #[test]
    fn a_count_and_acks_make_a_complete_tally() {
        let mut tally = RemoteTally {
            servers: Some(1),
            ..RemoteTally::default()
        };
        tally.ack(json!("early"), Vec::new());
        assert!(tally.replies.is_empty(), "no client counted yet");
        tally.count(1);
        assert!(!tally.complete());
        tally.ack(json!("a"), vec![Bytes::from_static(b"x")]);
        assert!(tally.complete());
        assert_eq!(tally.replies[0].payload.binary.len(), 1);
    }

    #[test]
    fn an_answer_is_the_count_then_each_reply() {
        actix_rt::System::new().block_on(async {
            let pool = ArbiterPool::new(1);
            let metrics = Arc::new(Metrics::new());
            let local = Arc::new(LocalAdapter::new(&pool.handles(), &metrics));
            let member = TestMember::new(4);
            member.answer_with(Payload::new().arg("pong").arg("dropped"));
            local.add_socket(member.clone());
            let sent = Arc::new(Mutex::new(Vec::new()));
            let log = sent.clone();
            let packet = WirePacket::event("/", json!(["ping", 1]), Vec::new());
            let job = (packet, Targets::default());
            let timeout = Duration::from_millis(200);
            answer_broadcast(local, job, timeout, move |a| log.lock().push(a)).await;
            let expected = vec![
                AckAnswer::Count(1),
                AckAnswer::Ack(json!("pong"), Vec::new()),
            ];
            assert_eq!(*sent.lock(), expected, "the first argument only");
            assert_eq!(member.asked()[0].1.args, vec![json!(1)]);
            // A packet without an event name asks nobody, and still says so.
            let local = Arc::new(LocalAdapter::new(&pool.handles(), &metrics));
            local.add_socket(TestMember::new(4));
            let log = sent.clone();
            let nameless = WirePacket::event("/", json!([]), Vec::new());
            let job = (nameless, Targets::default());
            answer_broadcast(local, job, timeout, move |a| log.lock().push(a)).await;
            assert_eq!(sent.lock().last(), Some(&AckAnswer::Count(0)));
            pool.stop();
        });
    }
}
