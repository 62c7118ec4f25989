//! The subscriber of the sharded adapter: one task holding the `SSUBSCRIBE`d channels of every
//! namespace on a RESP3 connection, to one Redis server or to a Redis Cluster.
//!
//! * One server: a multiplexed connection. `SSUBSCRIBE`/`SUNSUBSCRIBE` are sent as commands, one
//!   channel each (`SUNSUBSCRIBE` with a `PING`, see the `unsubscribe` function). A lost
//!   connection is a new connection, after backoff, subscribed to the whole set again.
//! * A cluster: the `redis` crate's cluster connection ([`super::shard_cluster`] says why), whose
//!   `ssubscribe` sends each channel to the master owning its slot. The crate resubscribes a node
//!   it reconnects to and follows slot moves, so a lost node does not cost the others their
//!   subscriptions. When a node's connection drops, every channel is subscribed again as well
//!   (see the end of `subscription`), and so is a channel a node drops because its slot moved
//!   (`moved_away`); a (un)subscription that fails (its master is down, or not
//!   ready) is retried after backoff while the other channels keep flowing.
//!
//! The `smessage` pushes arrive through a bounded queue (past [`PUSH_QUEUE`] waiting messages,
//! more are dropped and counted in `roomcast_cluster_receive_dropped_total`).

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use metrics::Counter;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, Msg, PushInfo, PushKind, RedisResult};
use tokio::sync::{mpsc, Notify};

use crate::adapter::redis::link::{Backoff, Health};
use crate::adapter::redis::shard_link::Subscriptions;

/// Messages received and not yet dispatched; past this, messages are dropped and counted.
pub const PUSH_QUEUE: usize = 4096;
/// How long the subscriber waits for Redis to confirm a subscription before giving up on it.
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// The first wait before retrying a failed cluster (un)subscription; doubles up to `RETRY_MAX`.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// Where the subscriber connects (both with RESP3).
pub(crate) enum Target {
    /// One Redis server.
    Server(redis::Client),
    /// A Redis Cluster.
    Cluster(Box<ClusterClient>),
}

enum Conn {
    Server(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl Conn {
    async fn subscribe(&mut self, channel: &str) -> RedisResult<()> {
        match self {
            Conn::Server(conn) => {
                let mut command = redis::cmd("SSUBSCRIBE");
                command.arg(channel);
                command.query_async::<redis::Value>(conn).await.map(drop)
            }
            Conn::Cluster(conn) => conn.ssubscribe(channel).await,
        }
    }

    async fn unsubscribe(&mut self, channel: &str) -> RedisResult<()> {
        match self {
            Conn::Server(conn) => unsubscribe(conn, channel).await,
            Conn::Cluster(conn) => conn.sunsubscribe(channel).await,
        }
    }
}

/// Subscribes and dispatches for as long as the link lives, reconnecting with backoff.
pub(crate) async fn subscriber(
    target: Target,
    subscriptions: Arc<Subscriptions>,
    dropped: Counter,
    health: Arc<Health>,
) {
    let mut backoff = Backoff::new();
    loop {
        let e = subscription(&target, &subscriptions, &dropped, &mut backoff, &health).await;
        health.subscriber(false);
        tracing::warn!(error = %e, "cluster: Redis sharded subscription lost; reconnecting");
        backoff.wait().await;
    }
}

fn lost(what: &'static str) -> redis::RedisError {
    redis::RedisError::from((redis::ErrorKind::Io, what))
}

/// Connects with a push sender feeding a bounded queue; `closed` is told when the connection (to
/// one server), or the connection to one node of a cluster, drops.
async fn connect(
    target: &Target,
    dropped: &Counter,
    closed: &Arc<Notify>,
) -> RedisResult<(Conn, mpsc::Receiver<PushInfo>)> {
    let (tx, rx) = mpsc::channel::<PushInfo>(PUSH_QUEUE);
    let (on_close, dropped) = (closed.clone(), dropped.clone());
    let push = move |info: PushInfo| -> Result<(), ()> {
        if info.kind == PushKind::Disconnection {
            on_close.notify_one();
            return Ok(());
        }
        match tx.try_send(info) {
            Err(mpsc::error::TrySendError::Full(_)) => dropped.increment(1),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(()),
            Ok(()) => {}
        }
        Ok(())
    };
    // A (un)subscription may wait behind a busy Redis longer than the client's 500 ms default;
    // giving up on it costs a reconnection and a full resubscription.
    let conn = match target {
        Target::Server(client) => {
            let config = AsyncConnectionConfig::new()
                .set_push_sender(push)
                .set_response_timeout(Some(COMMAND_TIMEOUT));
            let conn = client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            Conn::Server(conn)
        }
        Target::Cluster(client) => {
            let config = redis::cluster::ClusterConfig::new()
                .set_push_sender(push)
                .set_response_timeout(COMMAND_TIMEOUT);
            Conn::Cluster(client.get_async_connection_with_config(config).await?)
        }
    };
    Ok((conn, rx))
}

/// Connects, subscribes to every wanted channel, then dispatches messages and follows changes
/// until the connection fails.
async fn subscription(
    target: &Target,
    subscriptions: &Subscriptions,
    dropped: &Counter,
    backoff: &mut Backoff,
    health: &Health,
) -> redis::RedisError {
    let closed = Arc::new(Notify::new());
    let (mut conn, mut rx) = match connect(target, dropped, &closed).await {
        Ok(connected) => connected,
        Err(e) => return e,
    };
    let mut subscribed = HashSet::new();
    subscriptions.mark_all_changed();
    tracing::info!("cluster: Redis sharded subscriber connected");
    health.subscriber(true);
    backoff.reset();
    let server = matches!(conn, Conn::Server(_));
    let (mut align_now, mut delay) = (true, RETRY_FIRST);
    let mut retry: Option<Pin<Box<tokio::time::Sleep>>> = None;
    loop {
        if std::mem::take(&mut align_now) {
            match align(&mut conn, subscriptions, &mut subscribed).await {
                Ok(()) => delay = RETRY_FIRST,
                Err(e) if server => return e,
                Err(e) => {
                    tracing::warn!(error = %e, "cluster: a sharded (un)subscription failed; retrying");
                    retry = Some(Box::pin(tokio::time::sleep(delay)));
                    delay = (delay * 2).min(RETRY_MAX);
                }
            }
        }
        tokio::select! {
            info = rx.recv() => match info {
                Some(info) if !server && info.kind == PushKind::SUnsubscribe => {
                    if let Some(channel) = moved_away(subscriptions, &info) {
                        subscribed.remove(&channel);
                        subscriptions.mark_changed(vec![channel]);
                        align_now = true;
                    }
                }
                Some(info) => dispatch(subscriptions, info),
                None => return lost("sharded pub/sub connection closed"),
            },
            () = subscriptions.changed.notified(), if retry.is_none() => align_now = true,
            () = async { if let Some(r) = retry.as_mut() { r.await } }, if retry.is_some() => {
                retry = None;
                align_now = true;
            }
            () = closed.notified() => {
                if server {
                    return lost("sharded pub/sub connection closed");
                }
                // The crate resubscribes a node it reconnects to, but once only and without
                // looking at the answer; with a master killed and restarted on its port, it
                // reconnected within 50 ms and yet the channels were not subscribed there
                // afterwards (every time, in the restart test). So every wanted channel is
                // subscribed again here (a no-op on the nodes that stayed up), retried until the
                // node takes it.
                subscribed.retain(|channel| !subscriptions.wants(channel));
                subscriptions.mark_all_changed();
                align_now = true;
            }
        }
    }
}

/// The channel of a `sunsubscribe` push when it is still wanted: not the confirmation of our
/// own `SUNSUBSCRIBE` but a cluster node dropping the channel because its slot moved to another
/// master. Subscribing again finds the new master (the old one answers `MOVED`, and the crate
/// reads the slot map again).
fn moved_away(subscriptions: &Subscriptions, info: &PushInfo) -> Option<String> {
    let channel: String = redis::from_redis_value_ref(info.data.first()?).ok()?;
    subscriptions.wants(&channel).then_some(channel)
}

/// Hands a received message to the handler of its channel, if one still listens.
fn dispatch(subscriptions: &Subscriptions, info: PushInfo) {
    let Some(msg) = Msg::from_push_info(info) else {
        return; // a confirmation, already seen as a command's reply
    };
    let channel = msg.get_channel_name();
    if let Some(handler) = subscriptions.handler(channel) {
        handler(channel, Bytes::copy_from_slice(msg.get_payload_bytes()));
    }
}

/// Subscribes to the changed channels that are wanted and not subscribed yet, and unsubscribes
/// from the changed ones no longer wanted. On an error, the channels not brought in line yet
/// stay marked as changed.
async fn align(
    conn: &mut Conn,
    subscriptions: &Subscriptions,
    subscribed: &mut HashSet<String>,
) -> RedisResult<()> {
    let mut changed: Vec<String> = subscriptions.take_changed();
    while let Some(channel) = changed.pop() {
        let want = subscriptions.wants(&channel);
        let done = match (want, subscribed.contains(&channel)) {
            (true, false) => conn.subscribe(&channel).await,
            (false, true) => conn.unsubscribe(&channel).await,
            _ => continue,
        };
        if let Err(e) = done {
            changed.push(channel);
            subscriptions.mark_changed(changed);
            return Err(e);
        }
        if want {
            subscribed.insert(channel);
        } else {
            subscribed.remove(&channel);
        }
    }
    Ok(())
}

/// `SUNSUBSCRIBE channel`. The `redis` crate (1.8) does not take a raw `SUNSUBSCRIBE`'s
/// confirmation for its reply (a cluster node also sends one unasked when a slot moves; see
/// redis-rs issue 2533), so the command would wait forever: it goes in a pipeline with a `PING`,
/// whose `PONG` is the one reply waited for, the confirmation passing by as a push.
async fn unsubscribe(conn: &mut MultiplexedConnection, channel: &str) -> RedisResult<()> {
    let mut pipe = redis::pipe();
    pipe.cmd("SUNSUBSCRIBE").arg(channel).cmd("PING");
    let replies = conn.req_packed_commands(&pipe, 0, 1).await?;
    match replies.as_slice() {
        [redis::Value::SimpleString(pong)] if pong == "PONG" => Ok(()),
        // An error in place of the confirmation: the replies are out of step; start afresh.
        _ => Err(lost("unexpected reply to SUNSUBSCRIBE")),
    }
}
